"""Where and how models run: device choice, the one compute lock, seeded generators.

Nothing here touches CUDA at import time, so a ZeroGPU Space can wrap GPU functions with
`spaces.GPU` before the first call asks for a device.
"""

from __future__ import annotations

import concurrent.futures
import contextlib
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
# thread is free. Torch's CPU kernels start an OpenMP thread team per calling thread, so model
# steps that hop between threads keep waking cold teams, and a streaming handler that computes
# between its yields leaves the model idle while the server encodes and sends each frame.
# Measured on the 2-core dev CPU, DDIM-50 of 16 MNIST images: 1.6 s with every step on one
# thread against 2.1-2.5 s with steps hopping between threads. So long runs step on one
# dedicated thread, ahead of the handler that shows them.

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
    """Run fn on the compute thread and wait for it (directly when already on it)."""
    if on_compute_thread():
        return fn(*args, **kwargs)
    return _executor().submit(fn, *args, **kwargs).result()


_END = object()


def stepped(iterator: Iterator[T], every: float = 0.0, stop: Callable[[], bool] | None = None) -> Iterator[T]:
    """Like `RunAhead(...).updates(every)`, but in lockstep: each step runs on the compute thread
    when the reader asks for it, so showing a frame and computing the next never overlap (on a
    2-core CPU they would fight over the cores). The newest item is handed over at most every
    `every` s (the gap at least as long as the reader took with the previous one); the first and
    the last always. Closing this generator closes `iterator` on the compute thread.
    """
    try:
        next_at, item, pending = 0.0, _END, False
        while not (stop is not None and stop()):
            step = call(next, iterator, _END)
            if step is _END:
                break
            item, pending = step, True
            if time.perf_counter() >= next_at:
                handed = time.perf_counter()
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


class RunAhead:
    """Steps an iterator on the compute thread, ahead of whoever reads it.

    Each step is its own task on the compute thread, queued behind whatever else is waiting
    there, so a long run and other users' requests take turns step by step. `stop()`, when given,
    is asked before each step (a Stop button's flag), so a run stops where it is. The reader asks
    `updates(every)` for the newest item at most every `every` seconds (and always the first and
    the last); `close()` (or leaving the `with`) stops stepping after the step in progress and
    waits for it, so nothing changes what was computed once it returns.
    """

    def __init__(self, iterator: Iterator[T], stop: Callable[[], bool] | None = None):
        self._it = iterator
        self._stop = stop        # asked before every step: True ends the run there
        self._cond = threading.Condition()
        self._latest = None
        self._count = 0          # items produced so far
        self._finished = False   # the iterator ended, failed, or was stopped
        self._error: BaseException | None = None
        self._cancel = threading.Event()
        _executor().submit(self._step)

    def _step(self) -> None:
        if self._cancel.is_set() or (self._stop is not None and self._stop()):
            return self._finish()
        try:
            item = next(self._it)
        except StopIteration:
            return self._finish()
        except BaseException as exc:  # noqa: BLE001 (handed to the reader, raised there)
            return self._finish(exc)
        with self._cond:
            self._latest, self._count = item, self._count + 1
            self._cond.notify_all()
        try:
            _executor().submit(self._step)
        except RuntimeError:  # the interpreter is shutting down
            self._finish()

    def _finish(self, error: BaseException | None = None) -> None:
        close = getattr(self._it, "close", None)
        if close is not None:
            try:
                close()
            except Exception as exc:  # noqa: BLE001 (kept for the reader unless one is already there)
                error = error or exc
        with self._cond:
            self._error, self._finished = error, True
            self._cond.notify_all()

    def updates(self, every: float = 0.0) -> Iterator[T]:
        """The newest item, the first one at once, then at most one per `every` s, and the last one.

        The gap is counted from when the reader comes back for more, and is at least as long as
        the reader took with the previous item: on a busy CPU, showing frames never takes more
        than about half the time, however slow each frame is to send.
        """
        seen, next_at = 0, 0.0
        while True:
            with self._cond:
                while self._count == seen and not self._finished:
                    self._cond.wait()
                while seen and not self._finished and time.perf_counter() < next_at:
                    self._cond.wait(next_at - time.perf_counter())
                if self._error is not None:
                    error, self._error = self._error, None
                    raise error
                if self._count == seen:  # finished, nothing new
                    return
                item, seen = self._latest, self._count
            handed = time.perf_counter()
            yield item
            back = time.perf_counter()
            next_at = back + max(every, back - handed) if every > 0 else 0.0

    def close(self, timeout: float = 5.0) -> None:
        """Stop stepping; return once the step in progress (if any) has ended."""
        self._cancel.set()
        if on_compute_thread():  # the pending step cannot run while this waits for it
            return
        with self._cond:
            self._cond.wait_for(lambda: self._finished, timeout)

    def __enter__(self) -> RunAhead:
        return self

    def __exit__(self, *exc) -> None:
        self.close()
