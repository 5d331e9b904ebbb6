"""Optional ZeroGPU support: long GPU work in `spaces.GPU` calls on a ZeroGPU Space, nowhere else.

On ZeroGPU (the Hub sets SPACES_ZERO_GPU=true and installs the `spaces` package) the Space's
process has no GPU of its own. A function decorated with `spaces.GPU(duration=S)` gets one for
at most S seconds per call (60 by default), counted against the visitor's daily quota, and runs
in a forked worker process (kept for later calls while idle): its arguments and its result cross
by pickle, and whatever it changes in place stays in the worker. So what goes through here is a
function of its arguments, and long work is cut into calls that carry their state in and out.

What goes to the GPU, and only on ZeroGPU:
  - training (`train`, which `Trainer.run` hands its run to): a chunk of optimiser steps per
    call. The model, the optimisers' moments, the EMA, the generator and the batch order go in
    and come back as CPU tensors; the job's `Trainer` on the CPU holds the truth between calls.
  - the samplers' long runs (`sampler`, which `GaussianDiffusion.ddpm` / `ddim` hand their loop
    to: DDPM-1000, DDIM, CLIP-guided DDIM): a chunk of denoising steps per call, x_t, the step
    index and the generator's state in and out; the steps come back one by one, so frames still
    stream between calls.
Each call is sized from the time per step measured inside the previous one (`plan`).

A call's payload is written with `torch.save` and read in the worker with `map_location` its
GPU, so every tensor it reaches (a model's weights, a closure's tensors) lands there; functions
defined inside other functions (a family's loss, a sampler's cond_fn) cross by value
(`_Pickler`). The result comes back the same way onto the CPU.

Everywhere else (a laptop, a CPU Space, CI) `call`, `steps`, `train` and `sampler` are plain
calls, nothing is pickled and `spaces` is never imported. Interactive work (sliders, clicks)
never comes here: `setup()` keeps the process's own device on the CPU and turns off the `spaces`
package's wrapping of every Gradio handler, so dragging a slider spends no GPU quota. A call the
`spaces` package refuses or that fails (quota used up, GPU aborted) raises `CallFailed`, a
bilingual `UserError`; the work done before it is kept.
"""

from __future__ import annotations

import concurrent.futures
import contextvars
import dataclasses
import importlib
import io
import marshal
import math
import os
import pickle
import re
import threading
import time
import types
from collections.abc import Callable, Iterator
from typing import TypeVar

from .errors import UserError

ENV = "SPACES_ZERO_GPU"
DEFAULT_SECONDS = 60.0  # ZeroGPU's default duration of one call, s; the most this module asks for
FILL = 0.7              # share of a call's duration that a planned chunk fills (the rest is slack)
MIN_SECONDS = 5.0       # the least a call asks for: the worker's start and the transfers take some
FIRST = 8               # steps in the first call of a run, which measures the time per step
FIRST_SECONDS = 20.0    # duration asked for those: a step is bounded by the work budgets (about
                        # 1 s at the largest on a 2-core CPU), so 8 fit with room for the start
GROWTH = 8              # a chunk is at most this many times the last one (a rate measured on
                        # a few steps can be optimistic)
TRAIN_SECONDS = 30.0    # duration asked for a training chunk: Stop is seen between calls, so
                        # a chunk is about FILL x this (21 s) at most
SAMPLE_SECONDS = DEFAULT_SECONDS  # duration asked for a chunk of sampler steps
RESULT_BYTES = 64 * 2**20  # a sampler chunk returns at most this much of steps' tensors

S = TypeVar("S")
T = TypeVar("T")

_entry: Callable | None = None  # _run decorated by spaces.GPU, made once by setup()
_inside = False                 # True in a ZeroGPU worker while a call runs
_home = os.getpid()             # the app's process; a worker is a fork of it
stats = {"calls": 0, "pickled": 0}  # GPU calls made and payloads pickled (tests check the plain path)


class CallFailed(UserError):
    """A GPU call that the `spaces` package refused or that failed in the worker."""

    def __init__(self, exc: BaseException):
        reason = f"{type(exc).__name__}: {exc}"[:300]
        quota = any(w in str(exc).lower() for w in ("quota", "exceeded", "limit"))
        super().__init__("gpu_quota" if quota else "gpu_call_failed", reason=reason)
        # "You have exceeded your GPU quota (44s left vs. 60s requested)": what a smaller call may use
        left = re.search(r"(\d+(?:\.\d+)?)\s*s left", str(exc)) if quota else None
        self.left_s = float(left.group(1)) if left else None


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
    """On ZeroGPU with the `spaces` package importable (and not already inside a GPU call)."""
    return not _inside and requested() and _spaces() is not None


def setup() -> bool:
    """Call once before the UI is built (`python app.py` does). -> whether ZeroGPU is active.

    On ZeroGPU: the process's torch device is the CPU (GENLAB_DEVICE=cpu unless the host set
    another), Gradio handlers are not wrapped in GPU calls, and the one GPU entry point is
    registered (ZeroGPU wants one before launch). Elsewhere nothing happens.
    """
    global _entry
    if _inside or not requested():
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


# --------------------------------------------------------------------------------------------
# Crossing to the worker: tensors onto its device, local functions by value
# --------------------------------------------------------------------------------------------

_EMPTY = "<empty cell>"


def _function(code: bytes, module: str, name: str, defaults, kwdefaults, cells, attrs):
    """A function sent by value (`_Pickler`), rebuilt on the module's own globals."""
    fn = types.FunctionType(marshal.loads(code), importlib.import_module(module).__dict__, name, defaults,
                            None if cells is None else tuple(
                                types.CellType() if v == _EMPTY else types.CellType(v) for v in cells))
    fn.__kwdefaults__ = kwdefaults
    fn.__dict__.update(attrs)
    return fn


def _local_class(module: str, factory: str, name: str) -> type:
    cls = getattr(importlib.import_module(module), factory)()
    if not isinstance(cls, type) or cls.__name__ != name:
        raise TypeError(f"{module}.{factory}() does not make the class {name}")
    return cls


class _Pickler(pickle.Pickler):
    """pickle, plus functions that cannot be found by name (lambdas, functions defined inside
    others: a family's loss, a sampler's cond_fn): sent as their code and closure values. The
    worker is a fork of this process running the same Python, so code objects marshal across."""

    to_worker = False  # a payload on its way to the worker (not a result on its way back)

    def reducer_override(self, obj):
        import torch

        if isinstance(obj, types.FunctionType) and ("<locals>" in obj.__qualname__ or obj.__name__ == "<lambda>"):
            cells = None if obj.__closure__ is None else tuple(_cell(c) for c in obj.__closure__)
            return _function, (marshal.dumps(obj.__code__), obj.__module__, obj.__name__, obj.__defaults__,
                               obj.__kwdefaults__, cells, dict(obj.__dict__))
        if isinstance(obj, _LOCKS):  # a lock crosses as a new one, free (the worker's own)
            return threading.Lock, ()
        if self.to_worker and isinstance(obj, torch.device) and obj.type == "cpu":
            # An object's own record of its device (a CLIP backend's) goes where its tensors go.
            return device, ()
        if isinstance(obj, type) and ".<locals>." in obj.__qualname__:
            # A class made by a module-level factory of no arguments (a lazy import's subclass,
            # as engines.clip.model's): made again by that factory in the worker.
            factory = obj.__qualname__.split(".<locals>.")[0]
            if "." not in factory:
                return _local_class, (obj.__module__, factory, obj.__name__)
        return NotImplemented


def _cell(cell):
    try:
        return cell.cell_contents
    except ValueError:
        return _EMPTY


_PICKLE = types.SimpleNamespace(Pickler=_Pickler, Unpickler=pickle.Unpickler, load=pickle.load,
                                __name__="pickle")


class _ToWorker(_Pickler):
    to_worker = True


_LOCKS = (type(threading.Lock()), type(threading.RLock()))
_PICKLE_TO_WORKER = types.SimpleNamespace(Pickler=_ToWorker, Unpickler=pickle.Unpickler, load=pickle.load,
                                          __name__="pickle")


def _dumps(obj, *, to_worker: bool = False) -> bytes:
    import torch

    stats["pickled"] += 1
    buf = io.BytesIO()
    torch.save(obj, buf, pickle_module=_PICKLE_TO_WORKER if to_worker else _PICKLE)
    return buf.getvalue()


def _loads(data: bytes, device):
    import torch

    return torch.load(io.BytesIO(data), map_location=device, weights_only=False)


# --------------------------------------------------------------------------------------------
# One call
# --------------------------------------------------------------------------------------------

def _duration(payload, seconds) -> float:
    """ZeroGPU calls this with the call's own arguments to size the call."""
    return seconds


def _fresh_runtime() -> None:
    """In a worker (a fork of the app): the compute thread and its locks did not come along, and
    a lock held in the app at the fork would stay held here. Start them anew. And one CPU thread
    for torch: OpenMP's thread team does not survive a fork either, and the first parallel CPU op
    in a child of a process that used it can hang (seen here: benchmarks/zerogpu_payload.py's
    forked worker hung in its first UNet step until this line; a conv2d in a plain forked child,
    too), which is why torch's own DataLoader workers do the same."""
    global _home
    import torch

    from . import runtime

    if os.getpid() == _home:
        return
    torch.set_num_threads(1)
    runtime._SCHEDULER = None
    runtime._SCHEDULER_LOCK = threading.Lock()
    runtime.COMPUTE_LOCK = type(runtime.COMPUTE_LOCK)()
    _home = os.getpid()


def _run(payload: bytes, seconds):
    """What runs in the ZeroGPU worker: the payload's fn on the worker's device -> its result,
    pickled for the way back."""
    global _inside
    _fresh_runtime()
    _inside = True
    try:
        fn, args, kwargs = _loads(payload, device())
        try:
            return _dumps((True, fn(*args, **kwargs)))
        except UserError as err:  # a message for the user (pickled, a UserError would lose its key)
            return _dumps((False, (err.key, err.params)))
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
    """fn(*args, **kwargs), inside one GPU call of `seconds` on ZeroGPU, else directly (the same
    objects, nothing copied). On the engine's compute thread the wait lets interactive work
    (sliders, clicks) run meanwhile. Raises CallFailed when the GPU call fails."""
    seconds = _check(seconds)
    if not setup():
        return fn(*args, **kwargs)
    payload = _dumps((fn, args, kwargs), to_worker=True)
    stats["calls"] += 1
    try:
        result = _wait(_entry, payload, seconds)
    except UserError:
        raise
    except Exception as exc:  # the spaces package's quota error, "GPU task aborted", the worker's own
        raise CallFailed(exc) from exc
    ok, value = _loads(result, "cpu")
    if not ok:
        raise UserError(value[0], **value[1])
    return value


def _wait(fn, *args):
    """fn(*args); when on the compute thread, from a thread of its own, running the interactive
    tasks that arrive meanwhile (a GPU call lasts seconds; a slider should not wait for it)."""
    from . import runtime

    if not runtime.on_compute_thread():
        return fn(*args)
    future: concurrent.futures.Future = concurrent.futures.Future()
    context = contextvars.copy_context()  # the visitor's request: ZeroGPU counts their quota

    def work():
        try:
            future.set_result(context.run(fn, *args))
        except BaseException as exc:  # noqa: BLE001 - re-raised below
            future.set_exception(exc)

    threading.Thread(target=work, name="genlab-gpu-call", daemon=True).start()
    while True:
        try:
            return future.result(timeout=0.01)
        except concurrent.futures.TimeoutError:
            runtime.give_way()


# --------------------------------------------------------------------------------------------
# Long work in calls that fit
# --------------------------------------------------------------------------------------------

def plan(left: int, per_step: float | None, last: int | None, seconds: float) -> tuple[int, float]:
    """(steps in the next call, seconds to ask for it): FIRST steps to measure (asking for at most
    FIRST_SECONDS), then as many as fill FILL of `seconds` at the measured rate (at most GROWTH x
    the last chunk); the duration asked is what those steps need, so a visitor's quota is not
    asked for more than the work (ZeroGPU admits a call only when that much is left)."""
    if per_step is None:
        return min(left, FIRST), min(seconds, FIRST_SECONDS)
    k = max(1, min(left, int(FILL * seconds / max(per_step, 1e-9)), GROWTH * (last or 1)))
    return k, min(seconds, max(MIN_SECONDS, math.ceil(k * per_step / FILL)))


def _sized_call(fn: Callable, args_for: Callable[[int], tuple], k: int, ask: float, per_step: float | None):
    """call(fn, *args_for(k), seconds=ask) -> (k, result). When the visitor's quota has less left
    than `ask` (ZeroGPU refuses the call and says how much is left), once more with a chunk that
    fits what is left, so the last of a quota is used rather than refused."""
    try:
        return k, call(fn, *args_for(k), seconds=ask)
    except CallFailed as err:
        left = err.left_s
        if left is None or left < MIN_SECONDS or left >= ask:
            raise
        if per_step is not None:
            k = int(FILL * left / max(per_step, 1e-9))
            if k < 1:
                raise
        return k, call(fn, *args_for(k), seconds=left)


def _chunk(step: Callable[[S], S], state: S, count: int) -> tuple[S, float]:
    """`count` steps in one call -> (the state after them, seconds per step measured inside)."""
    t0 = time.perf_counter()
    for _ in range(count):
        state = step(state)
    return state, (time.perf_counter() - t0) / max(count, 1)


def steps(step: Callable[[S], S], state: S, count: int, *, seconds: float = DEFAULT_SECONDS) -> Iterator[S]:
    """state = step(state), `count` times, in as few calls as fit `seconds` each (see `plan`) ->
    the state after each call (the caller may stop iterating between calls). Off ZeroGPU: one
    plain loop over all `count` steps, yielding once.

    The state goes into each call and comes back, so the work survives ZeroGPU's worker
    process; a step must return it, not change it in place.
    """
    seconds = _check(seconds)
    if not active():
        yield _chunk(step, state, count)[0]
        return
    done, per_step, last = 0, None, None
    while done < count:
        k, ask = plan(count - done, per_step, last, seconds)
        k, (state, per_step) = _sized_call(_chunk, lambda n: (step, state, n), k, ask, per_step)
        done, last = done + k, k
        yield state


# --------------------------------------------------------------------------------------------
# Training: a chunk of steps per call
# --------------------------------------------------------------------------------------------

def _train_chunk(recipe: dict, carried, count: int) -> dict:
    """In the worker: a Trainer like the job's, on the GPU, continued from `carried` for `count`
    steps -> its weights and state (back on the CPU side by pickle) and what the steps logged."""
    from .train import Trainer

    trainer = Trainer(recipe["model"], recipe["phases"], recipe["images"], recipe["config"],
                      labels=recipe["labels"], device=device(), split=recipe["split"], cached=recipe["cached"])
    if carried is not None:
        trainer.load_state_dict(*carried)
    start = trainer.step
    trainer.pause_at = start + count
    t0 = time.perf_counter()
    nan = None
    for event in trainer.run():
        if event.kind == "nan":
            nan = (event.step, event.losses)
    took = time.perf_counter() - t0
    return {"model": trainer.model.state_dict(), "state": trainer.state_dict(),
            "history": [h for h in trainer.history if h["step"] > start], "nan": nan,
            "per_step": took / max(trainer.step - start, 1)}


def train(trainer) -> Iterator:
    """`trainer.run()` on ZeroGPU: chunks of steps in GPU calls, the trainer on this side holding
    the truth between them. Events as `run()` gives them (a step event every `log_every` steps,
    previews between calls, then done / stopped / timeout / nan); Stop and the time limit are
    seen between calls. A failed call raises CallFailed with the weights of the last chunk kept."""
    from .train import TrainEvent

    c = trainer.config
    worker_config = dataclasses.replace(c, max_seconds=None, preview_every=0, chunk_seconds=None, compile=False)
    start = trainer._started = time.perf_counter()
    carried = trainer.state_dict() if trainer.step > 0 else None
    per_step, last, window_t, window_n = None, None, start, 0
    ips, batch = 0.0, min(c.batch_size, len(trainer.images))

    def elapsed():
        return time.perf_counter() - start

    trainer.model.eval()
    while trainer.step < c.steps:
        if trainer.stop.is_set():
            yield TrainEvent("stopped", trainer.step, elapsed_s=elapsed())
            return
        if c.max_seconds is not None and elapsed() > c.max_seconds:
            yield TrainEvent("timeout", trainer.step, elapsed_s=elapsed())
            return
        left = c.steps - trainer.step
        if c.preview_every:
            left = min(left, c.preview_every - trainer.step % c.preview_every)
        k, ask = plan(left, per_step, last, TRAIN_SECONDS)
        recipe = {"model": trainer.model, "phases": trainer.phases, "images": trainer.images,
                  "labels": trainer.labels, "config": worker_config, "split": trainer.split,
                  "cached": trainer.cached}
        k, out = _sized_call(_train_chunk, lambda n: (recipe, carried, n), k, ask, per_step)
        before = trainer.step
        trainer.model.load_state_dict(out["model"])
        carried = out["state"]
        trainer.load_state_dict(*carried)     # moments, EMA, step, order (and the generator on a like device)
        per_step, last = out["per_step"], k
        trainer.history.extend(out["history"])
        window_n += (trainer.step - before) * batch
        if out["nan"] is not None:
            step, losses = out["nan"]
            yield TrainEvent("nan", step, losses, elapsed_s=elapsed())
            return
        now = time.perf_counter()
        ips = window_n / max(now - window_t, 1e-9)
        window_t, window_n = now, 0
        logs = {k2: v for k2, v in trainer.history[-1].items() if k2 != "step"} if trainer.history else {}
        for h in out["history"]:
            if h["step"] % c.log_every == 0 or h["step"] == c.steps:
                eta = (c.steps - h["step"]) * batch / max(ips, 1e-9)
                yield TrainEvent("step", h["step"], {k2: v for k2, v in h.items() if k2 != "step"},
                                 ips, eta, elapsed())
        if c.preview_every and trainer.step % c.preview_every == 0 and trainer.step < c.steps:
            yield TrainEvent("preview", trainer.step, logs, ips, 0.0, elapsed(), trainer._preview())
    yield TrainEvent("done", trainer.step, trainer.history[-1] if trainer.history else {}, ips, 0.0,
                     elapsed(), trainer._preview())


# --------------------------------------------------------------------------------------------
# Samplers: a chunk of denoising steps per call
# --------------------------------------------------------------------------------------------

def _mutables(fn) -> list[tuple[int, object]]:
    """What a cond_fn changes in place for its caller to read (a list of the latest scores, a
    generator of augmentations): (cell index, object) of its closure's lists, dicts and
    generators. A worker's changes to them are copied back after every step."""
    import torch

    cells = getattr(fn, "__closure__", None) or ()
    out = []
    for i, cell in enumerate(cells):
        v = _cell(cell)
        if isinstance(v, (list, dict, torch.Generator)):
            out.append((i, v))
    return out


def _snapshot(objs: list[tuple[int, object]]) -> list:
    import torch

    return [v.get_state() if isinstance(v, torch.Generator) else (list(v) if isinstance(v, list) else dict(v))
            for _, v in objs]


def _restore(objs: list[tuple[int, object]], values: list) -> None:
    import torch

    for (_, v), new in zip(objs, values):
        if isinstance(v, torch.Generator):
            v.set_state(new)
        elif isinstance(v, list):
            v[:] = new
        else:
            v.clear()
            v.update(new)


def _sample_chunk(loop: Callable, args: tuple, ts: list[int], lo: int, count: int, gen, cond_fn) -> dict:
    """In the worker: steps lo .. lo+count-1 of the run over timesteps `ts` -> each Step (its
    tensors, index in the whole run), the generator's state and the cond_fn's echo after each."""
    import torch

    model, x, rest = args[0], args[1], args[2:]
    x = x.to(device())
    mutable = _mutables(cond_fn)
    out = []
    run = loop(model, x, ts[lo:lo + count + 1], gen, *rest)
    t0 = time.perf_counter()
    try:
        for step in run:
            step = dataclasses.replace(step, index=lo + step.index, count=len(ts))
            out.append((step, gen.get_state(), _snapshot(mutable)))
            if len(out) == count:
                break
    finally:
        run.close()
    took = time.perf_counter() - t0
    del x
    return {"steps": out, "per_step": took / max(len(out), 1), "cuda": torch.cuda.is_available()}


def sampler(loop: Callable, model, x, ts: list[int], gen, *rest, cond_fn=None) -> Iterator:
    """loop(model, x, ts, gen, *rest): a sampler's loop of Steps. On ZeroGPU its steps run in GPU
    calls, a chunk per call, x_t, the step index and the generator's state carried between them,
    each Step handed on as the loop would; elsewhere the loop itself, untouched. `cond_fn` (also
    in `rest`) is named so that what it changes in place (scores its caller reads, a generator)
    follows each step back."""
    if not active():
        return loop(model, x, ts, gen, *rest)
    return _chunked_sampler(loop, model, x, ts, gen, rest, cond_fn)


def _chunked_sampler(loop, model, x, ts, gen, rest, cond_fn) -> Iterator:
    mutable = _mutables(cond_fn)
    per_image = 3 * x[0].numel() * x.element_size() + 6000  # x_prev, eps, x0 and a generator state
    most = max(1, RESULT_BYTES // (per_image * len(x)))
    lo, per_step, last = 0, None, None
    while lo < len(ts):
        k, ask = plan(min(len(ts) - lo, most), per_step, last, SAMPLE_SECONDS)
        k, out = _sized_call(_sample_chunk, lambda n: (loop, (model, x, *rest), ts, lo, n, gen, cond_fn),
                             k, ask, per_step)
        per_step, last = out["per_step"], k
        for step, state, echo in out["steps"]:
            gen.set_state(state)
            _restore(mutable, echo)
            x = step.x_prev
            yield step
        lo += len(out["steps"])
        if not out["steps"]:
            return
