"""Optional ZeroGPU support: long GPU work in `spaces.GPU` calls on a ZeroGPU Space, nowhere else.

On ZeroGPU (the Hub sets SPACES_ZERO_GPU=true and installs the `spaces` package) the Space's
process has no GPU of its own. A function decorated with `spaces.GPU(duration=S)` gets one for
at most S seconds per call (60 by default), counted against the visitor's daily quota, and runs
in a forked worker process: its arguments and its result cross by pickle, and whatever it
changes in place stays in the worker. So what goes through here is a function of its arguments
(CPU tensors in, CPU tensors out), and long work is cut into calls that carry their state in and
out (`steps`). The function and its arguments must pickle: a module-level function or a method
of a picklable object, not a lambda.

Everywhere else (a laptop, a CPU Space, CI) `call` and `steps` are plain calls and `spaces` is
never imported. Interactive work (sliders, clicks) never comes here: `setup()` keeps the
process's own device on the CPU and turns off the `spaces` package's wrapping of every Gradio
handler, so dragging a slider spends no GPU quota.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator
from typing import TypeVar

ENV = "SPACES_ZERO_GPU"
DEFAULT_SECONDS = 60.0  # ZeroGPU's default duration of one call, s; the most this module asks for
FILL = 0.7              # share of a call's duration that `steps` plans to fill (the rest is slack)

S = TypeVar("S")
T = TypeVar("T")

_entry: Callable | None = None  # _run decorated by spaces.GPU, made once by setup()
_inside = False                 # True in a ZeroGPU worker while a call runs


def _spaces():
    try:
        import spaces  # noqa: PLC0415 (optional, and only on ZeroGPU)
    except Exception:  # missing, or refusing to import (it raises when CUDA started before it)
        return None
    return spaces


def requested() -> bool:
    """The host says this is ZeroGPU (SPACES_ZERO_GPU is 1 / t / true, as `spaces` reads it)."""
    return os.environ.get(ENV, "").strip().lower() in ("1", "t", "true")


def active() -> bool:
    """On ZeroGPU with the `spaces` package importable."""
    return requested() and _spaces() is not None


def setup() -> bool:
    """Call once before the UI is built (`python app.py` does). -> whether ZeroGPU is active.

    On ZeroGPU: the process's torch device is the CPU (GENLAB_DEVICE=cpu unless the host set
    another), Gradio handlers are not wrapped in GPU calls, and the one GPU entry point is
    registered (ZeroGPU wants one before launch). Elsewhere nothing happens.
    """
    global _entry
    if not requested():
        return False
    spaces = _spaces()
    if spaces is None:
        return False
    os.environ.setdefault("GENLAB_DEVICE", "cpu")
    disable = getattr(spaces, "disable_gradio_auto_wrap", None)
    if disable is not None:
        disable()
    if _entry is None:
        _entry = spaces.GPU(duration=_duration)(_run)
    return True


def _duration(fn, args, kwargs, seconds) -> float:
    """ZeroGPU calls this with the call's own arguments to size the call."""
    return seconds


def _run(fn, args, kwargs, seconds):
    """What runs in the ZeroGPU worker: fn, with `device()` answering the GPU."""
    global _inside
    _inside = True
    try:
        return fn(*args, **kwargs)
    finally:
        _inside = False


def device():
    """Where work inside `call` / `steps` should run: the GPU inside a ZeroGPU call, else the
    engine's usual device."""
    import torch

    if _inside and torch.cuda.is_available():
        return torch.device("cuda")
    from engines import runtime

    return runtime.device()


def _check(seconds: float) -> float:
    seconds = float(seconds)
    if not 0 < seconds <= DEFAULT_SECONDS:
        raise ValueError(f"a GPU call lasts more than 0 and at most {DEFAULT_SECONDS:g} s, not {seconds:g}")
    return seconds


def call(fn: Callable[..., T], /, *args, seconds: float = DEFAULT_SECONDS, **kwargs) -> T:
    """fn(*args, **kwargs), inside one GPU call of `seconds` on ZeroGPU, else directly."""
    seconds = _check(seconds)
    if not setup():
        return fn(*args, **kwargs)
    return _entry(fn, args, kwargs, seconds)


def _chunk(step: Callable[[S], S], state: S, count: int) -> tuple[S, float]:
    """`count` steps in one call -> (the state after them, seconds per step measured inside)."""
    t0 = time.perf_counter()
    for _ in range(count):
        state = step(state)
    return state, (time.perf_counter() - t0) / max(count, 1)


def steps(step: Callable[[S], S], state: S, count: int, *, seconds: float = DEFAULT_SECONDS) -> Iterator[S]:
    """state = step(state), `count` times, in as few calls as fit `seconds` each -> the state
    after each call (the caller may stop iterating between calls).

    The first call runs one step and times it; each later call runs as many as fill FILL of
    `seconds` at the slowest rate seen so far. The state goes into each call and comes back, so
    the work survives ZeroGPU's worker process; a step must return it, not change it in place.
    """
    seconds = _check(seconds)
    done, per_step = 0, None
    while done < count:
        k = 1 if per_step is None else max(1, min(count - done, int(FILL * seconds / max(per_step, 1e-9))))
        state, took = call(_chunk, step, state, k, seconds=seconds)
        per_step = took if per_step is None else max(per_step, took)
        done += k
        yield state
