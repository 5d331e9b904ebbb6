"""Where and how models run: device choice, the one compute lock, seeded generators.

Nothing here touches CUDA at import time, so a ZeroGPU Space can wrap GPU functions with
`spaces.GPU` before the first call asks for a device.
"""

from __future__ import annotations

import collections
import concurrent.futures
import contextlib
import contextvars
import functools
import math
import os
import platform
import sys
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
    """Hold the compute lock and disable autograd: the context of every inference call. On the
    CPU the interactive thread takes no lock (it exists to run beside the compute thread's
    training step or sampler step, which holds it; the lock is there for an accelerator's memory)."""
    beside = threading.current_thread().name == _THREAD_NAME + "-interactive" and device().type == "cpu"
    with contextlib.nullcontext() if beside else COMPUTE_LOCK, torch.inference_mode():
        yield


# Heavy optional packages (open_clip, which imports transformers; transformers' GPT-2) are imported on
# first use, from the compute thread or the app's warm-up thread. Two threads importing the same
# package at once can see it half initialised ("cannot import name 'GPT2Config' from
# 'transformers'", seen under load): every such import holds this lock.
HEAVY_IMPORTS = threading.RLock()


_WARMING: set[str] = set()


def warm_imports(names, delay_s: float = 0.0) -> None:
    """Import `names` in a daemon thread, each once per process and under HEAVY_IMPORTS, so the
    compute thread finds them imported (a first import there holds every slider up for seconds).
    A missing optional package is skipped here: it is imported, and reported, where it is used."""
    todo = [n for n in names if n not in _WARMING]
    if not todo:
        return
    _WARMING.update(todo)

    def run():
        import importlib

        time.sleep(delay_s)
        for name in todo:
            try:
                with HEAVY_IMPORTS:
                    importlib.import_module(name)
            except Exception:  # noqa: BLE001
                pass

    threading.Thread(target=run, name="genlab-warm-imports", daemon=True).start()


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
# thread once a second one has. So all model work runs on one dedicated thread.
#
# That thread takes tasks in two lanes. Interactive tasks (a slider, a click: the default) go
# ahead of background ones (training units, the steps of a long sampling run, previews), so an
# interactive task waits for at most the one unit in progress. Background tasks take turns by
# owner (a training job, a run), the one that has had the least of the thread first, so five
# trainers and two long runs share its time evenly whatever the length of their units.
# Interactive traffic cannot starve them: once background work has made no progress for
# BACKGROUND_WAIT_S, one background task goes first.
#
# A background task that steps something nested (a long run's handler stepping its sampler
# through `stepped` or `call` on the compute thread) lets waiting interactive tasks run first at
# each nested call: that is how a run that hands over a frame every 0.15 s still gives way after
# every single sampler step.
#
# Units cannot be cut finer than a step (a CLIP-guided step takes 200-300 ms on the 2-core CPU),
# so a second, interactive-only thread takes interactive tasks while the compute thread is busy:
# a class's slider moves never wait for a unit to end. It runs torch with one OpenMP thread (its
# own team; OpenMP's thread count is per calling thread), so the compute thread keeps its team
# of two. GENLAB_INTERACTIVE_THREAD=0 turns it off (one thread, as before).
#
# While sliders move, the two threads' teams would want three cores of a 2-core Space, and a
# slider's task waits for a core behind the trainer's team. So for as long as interactive tasks
# keep arriving (any in the last YIELD_CORE_S), the compute thread's background work runs with
# one OpenMP thread fewer, set at each unit's start and at each `give_way` inside a unit: the
# trainers slow down while a class drags sliders and get their cores back a moment after.
# GENLAB_YIELD_CORE=0 turns that off.

INTERACTIVE, BACKGROUND = "interactive", "background"
LINGER_S = 0.005  # s the thread waits for the least served background owner's next task
BACKGROUND_WAIT_S = 1.0  # s: interactive tasks go first until background work has waited this long

_LANE: contextvars.ContextVar[tuple[str, object] | None] = contextvars.ContextVar("genlab_lane", default=None)
_THREAD_NAME = "genlab-compute"
INTERACTIVE_THREAD = os.environ.get("GENLAB_INTERACTIVE_THREAD", "1").strip() != "0"
YIELD_CORE = os.environ.get("GENLAB_YIELD_CORE", "1").strip() != "0"
YIELD_CORE_S = 0.5  # s after the last interactive task during which background work leaves a core free


@contextlib.contextmanager
def background(owner: object = None):
    """Mark this thread's (and context's) compute work as background, taking turns with other
    owners' work; `owner` names whose work it is (a job, a run; default: this thread)."""
    token = _LANE.set((BACKGROUND, owner if owner is not None else threading.get_ident()))
    try:
        yield
    finally:
        _LANE.reset(token)


@contextlib.contextmanager
def interactive():
    """Mark this context's compute work as interactive again (inside a `background` block)."""
    token = _LANE.set((INTERACTIVE, None))
    try:
        yield
    finally:
        _LANE.reset(token)


def lane() -> tuple[str, object]:
    """(priority, owner) that a `call` from here would get."""
    return _LANE.get() or (INTERACTIVE, None)


class _Task:
    __slots__ = ("fn", "args", "kwargs", "context", "future", "priority", "owner", "queued", "started", "ended")

    def __init__(self, fn, args, kwargs, priority, owner):
        self.fn, self.args, self.kwargs = fn, args, kwargs
        self.context = contextvars.copy_context()
        self.future: concurrent.futures.Future = concurrent.futures.Future()
        self.priority, self.owner = priority, owner
        self.queued = self.started = self.ended = time.perf_counter()

    def run(self) -> None:
        if not self.future.set_running_or_notify_cancel():
            return
        self.started = time.perf_counter()
        try:
            result = self.context.run(self.fn, *self.args, **self.kwargs)
        except BaseException as exc:  # noqa: BLE001 - handed to the caller, who re-raises it
            self.ended = time.perf_counter()
            self.future.set_exception(exc)
        else:
            self.ended = time.perf_counter()
            self.future.set_result(result)


class _Scheduler:
    """The compute thread and its two lanes (see above). One per process."""

    def __init__(self, wait_s: float = BACKGROUND_WAIT_S, helper: bool = INTERACTIVE_THREAD,
                 yield_core: bool = YIELD_CORE, threads: int | None = None):
        self.wait_s = wait_s
        self.last_interactive = -math.inf  # monotonic time of the last interactive task submitted
        self.threads = threads  # the compute thread's own OpenMP team (default: read on that thread)
        self.yield_core = yield_core and helper
        self.cond = threading.Condition()
        self.interactive: collections.deque[_Task] = collections.deque()
        self.background: dict[object, collections.deque[_Task]] = {}  # owner -> its tasks, in arrival order
        self.used: dict[object, float] = {}  # owner -> seconds of the thread it has had
        self.vtime = 0.0  # the share of the owner picked last
        self.inline_s = 0.0  # s of interactive work run inside the background task in progress
        self.progress = time.monotonic()   # when background work last moved (or began to wait)
        self.current: _Task | None = None  # the task the compute thread is running
        self.helping: _Task | None = None  # the task the interactive thread is running
        self.counts = {INTERACTIVE: 0, BACKGROUND: 0, "inline": 0, "helper": 0}
        self.thread = threading.Thread(target=self._main, name=_THREAD_NAME, daemon=True)
        self.thread.start()
        self.helper = None
        if helper:
            self.helper = threading.Thread(target=self._help, name=_THREAD_NAME + "-interactive", daemon=True)
            self.helper.start()

    def submit(self, task: _Task) -> None:
        with self.cond:
            if task.priority == BACKGROUND:
                if not self.background and (self.current is None or self.current.priority != BACKGROUND):
                    self.progress = time.monotonic()
                self.background.setdefault(task.owner, collections.deque()).append(task)
            else:
                self.interactive.append(task)
                self.last_interactive = time.monotonic()
            self.cond.notify_all()  # the compute thread, or the interactive one while it is busy

    def _starved(self) -> bool:
        return bool(self.background) and time.monotonic() - self.progress >= self.wait_s

    def _next_locked(self) -> _Task:
        if self.interactive and not self._starved():
            return self.interactive.popleft()
        if self.background:
            # Fair by time: the owner that has had the least of the thread goes next, so a run of
            # 40 ms sampler steps keeps pace with a trainer of 0.25 s micro-batches. A new owner
            # starts level with the least served one waiting (no credit for the time it was away).
            floor = min((self.used[o] for o in self.background if o in self.used), default=self.vtime)
            for o in self.background:
                self.used.setdefault(o, floor)
            owner = min(self.background, key=self.used.__getitem__)
            tasks = self.background[owner]
            task = tasks.popleft()
            if not tasks:
                del self.background[owner]
            self.vtime = self.used[owner]
            if len(self.used) > 1024:  # forget owners long gone
                for old in [o for o in self.used if o not in self.background][:512]:
                    del self.used[old]
            self.progress = time.monotonic()
            return task
        return self.interactive.popleft()

    def fit_threads(self) -> int:
        """On the compute thread: its OpenMP team for the background work about to run, one
        thread fewer while interactive tasks keep arriving (see above) -> the team size set."""
        if self.threads is None:
            self.threads = torch.get_num_threads()
        want = self.threads
        if self.yield_core and self.threads > 1 and self.helper is not None and \
                time.monotonic() - self.last_interactive < YIELD_CORE_S:
            want = self.threads - 1
        if torch.get_num_threads() != want:
            torch.set_num_threads(want)
        return want

    def _main(self) -> None:
        if self.threads is None:
            self.threads = torch.get_num_threads()
        else:
            torch.set_num_threads(self.threads)
        while True:
            with self.cond:
                while not self.interactive and not self.background:
                    self.cond.wait()
                task = self._next_locked()
                self.current = task
                if self.interactive:
                    self.cond.notify_all()  # the interactive thread may take those now
            t0, self.inline_s = time.monotonic(), 0.0
            self.fit_threads() if task.priority == BACKGROUND else self.full_team()
            task.run()
            with self.cond:
                self.current = None
                self.counts[task.priority] += 1
                if task.priority == BACKGROUND:
                    self.progress = time.monotonic()
                    if task.owner in self.used:
                        self.used[task.owner] += self.progress - t0 - self.inline_s
                        self._linger_locked(task.owner)

    def full_team(self) -> None:
        """On the compute thread: its whole OpenMP team again (an interactive task is running)."""
        if self.threads is not None and torch.get_num_threads() != self.threads:
            torch.set_num_threads(self.threads)

    def _help(self) -> None:
        """The interactive thread: interactive tasks that arrive while the compute thread is busy."""
        torch.set_num_threads(1)
        while True:
            with self.cond:
                self.cond.wait_for(lambda: self.interactive and self.current is not None)
                task = self.interactive.popleft()
                self.helping = task
            task.run()
            with self.cond:
                self.helping = None
                self.counts[INTERACTIVE] += 1
                self.counts["helper"] += 1

    def _linger_locked(self, owner) -> None:
        """An owner that steps one task at a time re-queues its next a moment after the last one
        ended, and would always find another owner's task ahead: when it is still the least
        served, wait up to LINGER_S for it (not while interactive work waits)."""
        mine = self.used[owner]
        if self.interactive or owner in self.background or any(
                self.used.get(o, mine) < mine for o in self.background):
            return
        self.cond.wait_for(lambda: self.interactive or owner in self.background, LINGER_S)

    def yield_to_interactive(self) -> None:
        """On the compute thread, inside a background task: run the interactive tasks waiting now
        (within the background share), then carry on with the background task."""
        outer = self.current
        began = time.monotonic()
        while True:
            with self.cond:
                # _starved() sees only queued background work, not the task waiting here: without
                # the bound of its own, a flood of interactive tasks would hold a lone run here for good.
                if not self.interactive or self._starved() or time.monotonic() - began >= self.wait_s:
                    self.progress = time.monotonic()
                    self.current = outer
                    return
                task = self.interactive.popleft()
                self.current = task
            # A clean torch state, as on an idle compute thread: the background task may be inside
            # inference_mode or no_grad, and a trainer replays its random draws through a torch
            # function mode that must not see (and refuse) a slider's own draws.
            t0 = time.monotonic()
            self.full_team()
            with torch.inference_mode(False), torch.enable_grad(), _no_torch_function_modes():
                task.run()
            self.inline_s += time.monotonic() - t0
            with self.cond:
                self.counts[INTERACTIVE] += 1
                self.counts["inline"] += 1


@contextlib.contextmanager
def _no_torch_function_modes():
    """Set aside this thread's torch function modes (a trainer's `_Replay`) for the block."""
    modes = []
    while torch._C._len_torch_function_stack() > 0:
        modes.append(torch._C._pop_torch_function_stack())
    try:
        yield
    finally:
        for mode in reversed(modes):
            torch._C._push_on_torch_function_stack(mode)


_SCHEDULER: _Scheduler | None = None
_SCHEDULER_LOCK = threading.Lock()


def _scheduler() -> _Scheduler:
    global _SCHEDULER
    with _SCHEDULER_LOCK:
        if _SCHEDULER is None:
            _SCHEDULER = _Scheduler()
        return _SCHEDULER


def on_compute_thread() -> bool:
    return threading.current_thread().name.startswith(_THREAD_NAME)


def give_way() -> None:
    """Inside a background task on the compute thread, let the interactive tasks waiting now run
    first (within the background share); anywhere else, nothing. Long work calls it between the
    parts of one unit that would otherwise hold the thread too long (a CLIP-guided DDPM step taken
    several times); every nested `call` does it too."""
    if not on_compute_thread():
        return
    sched = _scheduler()
    if threading.current_thread() is sched.thread:  # not the interactive thread: it runs no background
        current = sched.current
        if current is not None and current.priority == BACKGROUND:
            sched.yield_to_interactive()
            sched.fit_threads()


# How long a thread that wants the GIL waits before asking its holder to let go (Python's default
# 5 ms). Every torch op lets go of the GIL and takes it back; while the server's event loop
# runs Python (30 students' requests), each take-back can wait the whole interval, so a 1.3 ms
# VAE decode took 116 ms beside one busy Python thread at 5 ms, 12 ms at 0.5 ms (a 2-core AMD
# EPYC; measured in-process).
SWITCH_INTERVAL_S = 0.0005


def share_the_gil(interval_s: float | None = None) -> float:
    """Set Python's thread switch interval for a server whose model thread must not wait behind its
    web threads (GENLAB_SWITCH_INTERVAL_MS overrides; 5 is Python's default) -> the interval set."""
    if interval_s is None:
        try:
            interval_s = float(os.environ.get("GENLAB_SWITCH_INTERVAL_MS", "")) / 1e3
        except ValueError:
            interval_s = SWITCH_INTERVAL_S
    interval_s = min(max(interval_s, 1e-5), 0.1) if math.isfinite(interval_s) else SWITCH_INTERVAL_S
    sys.setswitchinterval(interval_s)
    return interval_s


_TIMING = threading.local()  # per calling thread: [s waited for the compute thread, s run there]


def call(fn: Callable[..., T], /, *args, **kwargs) -> T:
    """Run fn on the compute thread and wait for it (directly when already on it). fn sees the
    caller's context variables (a web framework's request context, progress bars, warnings).
    Interactive unless the caller is inside `background(owner)`."""
    if on_compute_thread():
        give_way()
        return fn(*args, **kwargs)
    priority, owner = lane()
    task = _Task(fn, args, kwargs, priority, owner)
    _scheduler().submit(task)
    try:
        return task.future.result()
    finally:
        spent = getattr(_TIMING, "spent", None)
        if spent is not None and task.future.done():
            spent[0] += task.started - task.queued
            spent[1] += task.ended - task.started


@contextlib.contextmanager
def timed_calls() -> Iterator[list[float]]:
    """Add up, for the `call`s this thread makes inside the block, the seconds their tasks waited
    for the compute thread and the seconds they ran there: -> [waited_s, ran_s] (the live
    sliders' Server-Timing header, so a benchmark can tell a queue from slow work)."""
    outer = getattr(_TIMING, "spent", None)
    _TIMING.spent = spent = [0.0, 0.0]
    try:
        yield spent
    finally:
        _TIMING.spent = outer
        if outer is not None:
            outer[0] += spent[0]
            outer[1] += spent[1]


def idle() -> bool:
    """Whether the compute thread has nothing to do now: no task running, none waiting."""
    sched = _scheduler()
    with sched.cond:
        return sched.current is None and sched.helping is None and not sched.interactive and not sched.background


def stats() -> dict:
    """Tasks run so far per lane ("inline": interactive tasks run inside a background one's
    nested call) and tasks waiting now: for benchmarks and monitoring."""
    sched = _scheduler()
    with sched.cond:
        return {**sched.counts, "waiting_interactive": len(sched.interactive),
                "waiting_background": sum(len(q) for q in sched.background.values()),
                "background_owners": len(sched.background)}


_END = object()


def stepped(iterator: Iterator[T], every: float = 0.0, stop: Callable[[], bool] | None = None, *,
            priority: str | None = None, owner: object = None) -> Iterator[T]:
    """Step `iterator` on the compute thread, each step when the reader asks for the next item, so
    showing a frame and computing the next never overlap (letting the steps run ahead while the
    server sends a frame was measured 1.3x slower on a quiet 2-core CPU and 2.5x on a busy one).
    Each step is its own task, so the runs of several users take turns. The newest item is handed
    over at most every `every` s (the gap at least as long as the reader took with the previous
    one), the first and the last always; `stop()` is asked before every step. Closing this
    generator closes `iterator` on the compute thread.

    priority: BACKGROUND steps in the background lane as `owner` (default: this run), INTERACTIVE
    in the interactive one; None (default) takes the caller's lane (see `background`).
    """
    if priority == BACKGROUND:
        key = owner if owner is not None else object()
        lane_cm = lambda: background(key)  # noqa: E731
    elif priority == INTERACTIVE:
        lane_cm = interactive
    elif priority is None:
        lane_cm = contextlib.nullcontext
    else:
        raise ValueError(f"priority must be {INTERACTIVE!r}, {BACKGROUND!r} or None, not {priority!r}")

    def step(fn, *args):
        with lane_cm():
            return call(fn, *args)

    try:
        next_at, item, pending = 0.0, _END, False
        while not (stop is not None and stop()):
            got = step(next, iterator, _END)
            if got is _END:
                break
            item, pending = got, True
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
            step(close)
