"""Where and how models run: device choice, the one compute lock, seeded generators.

Nothing here touches CUDA at import time, so a ZeroGPU Space can wrap GPU functions with
`spaces.GPU` before the first call asks for a device.
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import contextvars
import functools
import os
import platform
import threading
import time
from collections.abc import Callable, Iterator
from typing import TypeVar

import torch

from .errors import UserError

# Every forward pass and training step on the accelerator holds this lock, so a slider drag and
# a training run interleave step by step instead of fighting for the device's memory. Reentrant,
# so an engine call may nest another.
COMPUTE_LOCK = threading.RLock()

MAX_SEED = 2**32 - 1

T = TypeVar("T")


@functools.lru_cache(maxsize=None)
def device() -> torch.device:
    """cuda, then mps, then cpu; the environment variable GENLAB_DEVICE overrides."""
    forced = os.environ.get("GENLAB_DEVICE", "").strip()
    if forced:
        return torch.device(forced)
    if torch.cuda.is_available():
        return torch.device("cuda")
    if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
        return torch.device("mps")
    return torch.device("cpu")


@contextlib.contextmanager
def compute():
    """Hold the compute lock and disable autograd: the context of every inference call."""
    with COMPUTE_LOCK, torch.inference_mode():
        yield


def check_seed(seed) -> int:
    try:
        value = int(seed)
    except (TypeError, ValueError, OverflowError):
        raise UserError("value_out_of_range", what="seed", low=0, high=MAX_SEED, value=seed) from None
    if not 0 <= value <= MAX_SEED or value != seed and not isinstance(seed, str):
        raise UserError("value_out_of_range", what="seed", low=0, high=MAX_SEED, value=seed)
    return value


def generator(seed: int, dev: torch.device | str | None = None) -> torch.Generator:
    """A fresh generator for one request: same seed, same picture, whatever else is running."""
    gen = torch.Generator(device=torch.device(dev) if dev is not None else "cpu")
    gen.manual_seed(check_seed(seed))
    return gen


def hardware_summary(dev: torch.device | None = None) -> str:
    """One line naming the hardware, for model cards and benchmark reports."""
    dev = dev or device()
    if dev.type == "cuda":
        return f"{torch.cuda.get_device_name(dev)} (torch {torch.__version__})"
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    return f"{cpu}, {os.cpu_count()} cores, {torch.get_num_threads()} torch threads (torch {torch.__version__})"


# --------------------------------------------------------------------------------------------
# The compute thread
# --------------------------------------------------------------------------------------------
# A web server runs each request (and each resumption of a streaming handler) on whichever pool
# thread is free. Torch's CPU kernels start an OpenMP thread team per calling thread, and once
# several threads have teams every parallel region gets slower: on the quiet 2-core dev CPU,
# DDIM-50 of 16 MNIST images takes 1.1 s when one thread has ever run torch and 2.0 s on any
# thread once a second one has. So long runs step on one dedicated thread.

_EXECUTOR: concurrent.futures.ThreadPoolExecutor | None = None
_EXECUTOR_LOCK = threading.Lock()


def _executor() -> concurrent.futures.ThreadPoolExecutor:
    global _EXECUTOR
    with _EXECUTOR_LOCK:
        if _EXECUTOR is None:
            _EXECUTOR = concurrent.futures.ThreadPoolExecutor(max_workers=1, thread_name_prefix="genlab-compute")
        return _EXECUTOR


def on_compute_thread() -> bool:
    return threading.current_thread().name.startswith("genlab-compute")


def call(fn: Callable[..., T], /, *args, **kwargs) -> T:
    """Run fn on the compute thread and wait for it (directly when already on it). fn sees the
    caller's context variables (a web framework's request context, progress bars, warnings)."""
    if on_compute_thread():
        return fn(*args, **kwargs)
    return _executor().submit(contextvars.copy_context().run, fn, *args, **kwargs).result()


_END = object()


def stepped(iterator: Iterator[T], every: float = 0.0, stop: Callable[[], bool] | None = None) -> Iterator[T]:
    """Step `iterator` on the compute thread, each step when the reader asks for the next item, so
    showing a frame and computing the next never overlap (letting the steps run ahead while the
    server sends a frame was measured 1.3x slower on a quiet 2-core CPU and 2.5x on a busy one).
    Each step is its own task, so the runs of several users take turns. The newest item is handed
    over at most every `every` s (the gap at least as long as the reader took with the previous
    one), the first and the last always; `stop()` is asked before every step. Closing this
    generator closes `iterator` on the compute thread.
    """
    try:
        next_at, item, pending = 0.0, _END, False
        while not (stop is not None and stop()):
            step = call(next, iterator, _END)
            if step is _END:
                break
            item, pending = step, True
            handed = time.perf_counter()
            if handed >= next_at:
                pending = False
                yield item
                back = time.perf_counter()
                next_at = back + max(every, back - handed) if every > 0 else 0.0
        if pending:
            yield item
    finally:
        close = getattr(iterator, "close", None)
        if close is not None:
            call(close)
