"""Training runs for many browser sessions at once: per-session jobs, a bounded queue, host limits.

A `JobManager` takes `submit(session_id, name, make_trainer)` from any number of sessions. Each
session has at most one job queued or running; at most `max_running` jobs train at once (each in
its own thread) and at most `max_queued` wait. A submit that does not fit is refused at once with
a `UserError`, never left hanging. Every job obeys the host's step and time limits.

A job records its `TrainEvent`s into a bounded buffer; the UI reads them with
`job.events_since(index)` and `job.latest()` on its own schedule, so no global is polled and
nothing here knows about the UI. Every manager accessor takes the session id, and a session only
ever gets its own `Job` handles back.

`make_trainer(stop)` receives the job's stop `threading.Event` and returns a trainer-like object:
`run()` yields `TrainEvent`s (checking `stop` every step and ending with a final event when it is
set), `final_model()` returns the model to keep. An `engines.train.Trainer` fits; when the
trainer has a dataclass `config` with `steps` and `max_seconds` (as `TrainConfig` does), the host
limits are written into it, so the run ends cleanly with its final preview. For any other
trainer the job stops it from outside when a limit is passed.

A job's thread never touches the model: an `engines.train.Trainer` runs each unit of its work (a
micro-batch, an optimiser step, a preview) on the engine's compute thread (`runtime.call`), taking
the compute lock there, in the thread's background lane (`runtime.background`): other sessions'
interactive requests go ahead of its units, and the jobs and long runs take turns. The job thread
only waits, records events and enforces limits; it never holds the compute lock (it would
deadlock against a unit waiting for it).
"""

from __future__ import annotations

import collections
import contextvars
import dataclasses
import itertools
import logging
import math
import os
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any, Protocol

import torch

from . import gpu, runtime
from .errors import UserError
from .train import TrainEvent

log = logging.getLogger(__name__)

STATUSES = ("queued", "running", "done", "stopped", "failed", "nan", "timeout")
# A job pauses this long after each event. A Trainer's units queue on the compute thread behind
# whatever else is waiting there (first come, first served); a trainer-like object that takes the
# compute lock on the job's own thread instead meets Python's unfair locks, which may hand the lock
# straight back to the thread that released it: the pause gives waiting requests a window.
YIELD_S = 0.002
ACTIVE = ("queued", "running")


class TrainerLike(Protocol):
    def run(self) -> Iterator[TrainEvent]: ...
    def final_model(self) -> torch.nn.Module: ...


MakeTrainer = Callable[[threading.Event], TrainerLike]


# --------------------------------------------------------------------------------------------
# Host limits
# --------------------------------------------------------------------------------------------

def _from_env(var: str, cast: type, low: float):
    raw = os.environ.get(var, "").strip()
    if not raw:
        return None
    try:
        value = cast(raw)
    except ValueError:
        raise ValueError(f"{var}={raw!r} is not a valid {cast.__name__}") from None
    if not value >= low or (cast is float and not math.isfinite(value)):
        raise ValueError(f"{var}={raw!r} must be at least {low}")
    return value


@dataclasses.dataclass(frozen=True)
class Limits:
    """What the host allows. Each field: constructor argument, else its env var, else default."""

    max_running: int     # jobs training at once (GENLAB_MAX_JOBS; 1 on CPU, 2 on a GPU)
    max_queued: int      # jobs waiting for a slot (GENLAB_MAX_QUEUE; 8); beyond it, "jobs_busy"
    max_seconds: float   # wall-clock limit per job from its start, s (GENLAB_JOB_SECONDS; 600)
    max_steps: int       # optimiser steps per job (GENLAB_JOB_STEPS; 20000)

    @classmethod
    def resolve(cls, *, max_running=None, max_queued=None, max_seconds=None, max_steps=None
                ) -> Limits:
        def pick(name, given, var, cast, low, default):
            if given is None:
                given = _from_env(var, cast, low)
            if given is None:
                given = default() if callable(default) else default
            if not given >= low:
                raise ValueError(f"{name} must be at least {low}; got {given}")
            return cast(given)

        def default_running() -> int:
            # The compute lock interleaves steps, so a GPU can keep two runs moving; a CPU not. On
            # ZeroGPU the steps run in GPU calls, and a job's thread only waits for them.
            return 2 if runtime.device().type == "cuda" or gpu.active() else 1

        return cls(
            max_running=pick("max_running", max_running, "GENLAB_MAX_JOBS", int, 1, default_running),
            max_queued=pick("max_queued", max_queued, "GENLAB_MAX_QUEUE", int, 0, 8),
            max_seconds=pick("max_seconds", max_seconds, "GENLAB_JOB_SECONDS", float, 1e-3, 600.0),
            max_steps=pick("max_steps", max_steps, "GENLAB_JOB_STEPS", int, 1, 20000),
        )


# --------------------------------------------------------------------------------------------
# One job
# --------------------------------------------------------------------------------------------

class Job:
    """One training run of one session. Handed only to the session that submitted it.

    Read it from any thread: `status`, `message` (a `UserError` to show with `.localized(lang)`,
    or None), `result` (the final model once finished, else None), `position()` while queued,
    `events_since(index)`, `latest()`, `wait(timeout)`.
    """

    def __init__(self, manager: JobManager, job_id: int, session_id: str, name: str,
                 make_trainer: MakeTrainer, *, max_events: int):
        self.id = job_id
        self.session_id = session_id
        self.name = name
        self.created_at = time.time()          # s since the epoch
        self.started_at: float | None = None   # s since the epoch, when it left the queue
        self.ended_at: float | None = None
        self._manager = manager
        self._make_trainer: MakeTrainer | None = make_trainer
        # The submitting request's context: a ZeroGPU call made from the job's thread is then
        # counted against that visitor's quota (the `spaces` package reads Gradio's request there).
        self._context = contextvars.copy_context()
        self._stop = threading.Event()
        self._stop_reason: str | None = None   # first of "user" | "timeout" | "steps" | "forget"
        self._lock = threading.Lock()
        self._finished = threading.Event()
        self._status = "queued"
        self._message: UserError | None = None
        self._result: torch.nn.Module | None = None
        self._released = False
        # Step and final events without their images; previews only as the latest one.
        self._events: collections.deque[TrainEvent] = collections.deque(maxlen=max_events)
        self._n_events = 0                     # events recorded so far, dropped ones included
        self._last: TrainEvent | None = None
        self._preview = None                   # uint8 (H, W, C) grid, or None
        self._preview_step = 0

    def __repr__(self) -> str:
        return f"Job(id={self.id}, name={self.name!r}, status={self.status!r})"

    # --- reading ------------------------------------------------------------------------------
    @property
    def status(self) -> str:
        return self._status

    @property
    def message(self) -> UserError | None:
        return self._message

    @property
    def result(self) -> torch.nn.Module | None:
        return self._result

    @property
    def finished(self) -> bool:
        return self._finished.is_set()

    def position(self) -> int | None:
        """1 for the next job to start, 2 for the one after...; None once it has left the queue."""
        return self._manager._position(self)

    def ahead(self) -> int | None:
        """Jobs that will train before this queued one (running ones included); None once it runs."""
        return self._manager._ahead(self)

    def wait(self, timeout: float | None = None) -> bool:
        """Block until the job has finished (or `timeout` s passed); True if it has."""
        return self._finished.wait(timeout)

    def events_since(self, index: int = 0) -> tuple[list[TrainEvent], int]:
        """Events numbered `index` onwards still in the buffer, and the index to ask for next.

        Events are numbered from 0 in the order they happened. The buffer keeps the latest
        `max_events`; older ones are gone. "preview" events are not buffered and no buffered
        event carries an image: the latest preview is in `latest()`.
        """
        with self._lock:
            first = self._n_events - len(self._events)
            start = max(index, first)
            events = list(itertools.islice(self._events, start - first, None))
            return events, self._n_events

    def latest(self) -> dict[str, Any]:
        """A plain dict of where the job stands, for a UI refresh."""
        position, ahead = self.position(), self.ahead()
        with self._lock:
            last = self._last
            return {
                "name": self.name,
                "status": self._status,
                "position": position,
                "ahead": ahead,
                "step": last.step if last else 0,
                "losses": dict(last.losses) if last else {},
                "images_per_s": last.images_per_s if last else 0.0,
                "eta_s": last.eta_s if last else 0.0,
                "elapsed_s": last.elapsed_s if last else 0.0,
                "preview": self._preview,               # uint8 (H, W, C) or None
                "preview_step": self._preview_step,
                "message": self._message,
            }

    # --- changing (manager and job thread only) -----------------------------------------------
    def _mark_running(self) -> None:
        with self._lock:
            self._status = "running"
            self.started_at = time.time()

    def _request_stop(self, reason: str) -> None:
        with self._lock:
            if self._stop_reason is None:
                self._stop_reason = reason
        self._stop.set()

    def _record(self, event: TrainEvent) -> None:
        with self._lock:
            if self._released:
                return
            if event.preview is not None:
                self._preview, self._preview_step = event.preview, event.step
                event = dataclasses.replace(event, preview=None)
            self._last = event
            if event.kind != "preview":
                self._events.append(event)
                self._n_events += 1

    def _finish(self, status: str, message: UserError | None, result: torch.nn.Module | None
                ) -> None:
        with self._lock:
            self._status = status
            self._message = message
            self._result = None if self._released else result
            self.ended_at = time.time()
            self._make_trainer = None
            self._context = contextvars.Context()
        self._finished.set()

    def _release(self) -> None:
        """Drop everything heavy (model, events, preview) for good; the job stays readable."""
        with self._lock:
            self._released = True
            self._result = None
            self._make_trainer = None
            self._events.clear()
            self._last = None
            self._preview = None

    # --- running (the job's own thread) -------------------------------------------------------
    def _execute(self, limits: Limits) -> tuple[str, UserError | None, torch.nn.Module | None]:
        """Build the trainer and run it within `limits`: (status, message, result). Never raises."""
        make_trainer = self._make_trainer
        if make_trainer is None or self._stop.is_set():   # stopped or forgotten while starting
            return "stopped", UserError("training_stopped", step=0), None
        deadline = time.perf_counter() + limits.max_seconds
        timer = threading.Timer(limits.max_seconds, self._request_stop, args=("timeout",))
        timer.daemon = True
        timer.start()
        trainer = None
        try:
            trainer = make_trainer(self._stop)
            capped = _apply_limits(trainer, limits, deadline)
            last = self._drive(trainer, limits)
            status, message = self._outcome(last, limits, capped)
            return status, message, trainer.final_model()
        except gpu.CallFailed as err:
            # ZeroGPU refused or lost a call (the visitor's quota, an aborted GPU task): the run
            # stops with the weights of its last completed chunk.
            log.info("job %s (%s) of session %s: GPU call failed: %s", self.id, self.name, self.session_id, err)
            return "stopped", err, trainer.final_model() if trainer is not None else None
        except UserError as err:
            log.info("job %s (%s) of session %s refused: %s", self.id, self.name, self.session_id, err)
            return "failed", err, None
        except Exception as err:
            log.exception("job %s (%s) of session %s failed", self.id, self.name, self.session_id)
            reason = f"{type(err).__name__}: {err}"
            return "failed", UserError("job_failed", name=self.name, reason=reason), None
        finally:
            timer.cancel()

    def _drive(self, trainer: TrainerLike, limits: Limits) -> TrainEvent | None:
        """Iterate `trainer.run()`, recording events; returns the last one."""
        last = None
        first = _start_step(trainer)
        for event in trainer.run():
            self._record(event)
            last = event
            time.sleep(YIELD_S)
            if event.kind in ("step", "preview") and event.step - first >= limits.max_steps:
                self._request_stop("steps")   # a trainer whose config we could not cap
        return last

    def _outcome(self, last: TrainEvent | None, limits: Limits, capped: bool
                 ) -> tuple[str, UserError | None]:
        kind = last.kind if last is not None else "done"
        step = last.step if last is not None else 0
        reason = self._stop_reason
        if kind == "nan":
            return "nan", UserError("training_nan", step=step, value=last.losses.get("loss"))
        if kind == "timeout" or (kind == "stopped" and reason == "timeout"):
            return "timeout", UserError("job_timeout", seconds=limits.max_seconds, step=step)
        if kind == "stopped" and reason != "steps":
            return "stopped", UserError("training_stopped", step=step)
        if capped or reason == "steps":
            return "done", UserError("job_step_limit", step=step, max_steps=limits.max_steps)
        return "done", None


def _warm_imports() -> None:
    """Import here, on the job's thread, what a trainer's first optimiser imports (torch._dynamo:
    1-2 s on a quiet 2-core CPU, 6 s on a busy one) so that it does not hold the compute thread,
    where every other session's slider would wait for it."""
    import torch._dynamo  # noqa: F401


def _start_step(trainer: TrainerLike) -> int:
    """The step a trainer starts from: above 0 when it continues an earlier run."""
    step = getattr(trainer, "step", 0)
    return step if isinstance(step, int) and step > 0 else 0


def _apply_limits(trainer: TrainerLike, limits: Limits, deadline: float) -> bool:
    """Write the host limits into a `TrainConfig`-like `trainer.config`; True if steps were cut.

    The step limit counts this job's steps: a trainer that continues from step s may go on to
    s + max_steps."""
    config = getattr(trainer, "config", None)
    if not dataclasses.is_dataclass(config) or isinstance(config, type):
        return False
    names = {f.name for f in dataclasses.fields(config)}
    if not {"steps", "max_seconds"} <= names:
        return False
    left = max(0.0, deadline - time.perf_counter())
    seconds = left if config.max_seconds is None else min(config.max_seconds, left)
    most = _start_step(trainer) + limits.max_steps
    capped = config.steps > most
    trainer.config = dataclasses.replace(config, steps=min(config.steps, most), max_seconds=seconds)
    return capped


# --------------------------------------------------------------------------------------------
# The manager
# --------------------------------------------------------------------------------------------

class JobManager:
    """Per-session training jobs with a bounded queue; safe to share by all browser sessions."""

    def __init__(
        self,
        *,
        max_running: int | None = None,   # jobs training at once (None: $GENLAB_MAX_JOBS, else 1 CPU / 2 GPU)
        max_queued: int | None = None,    # jobs waiting for a slot (None: $GENLAB_MAX_QUEUE, else 8)
        max_seconds: float | None = None, # wall-clock limit per job, s (None: $GENLAB_JOB_SECONDS, else 600)
        max_steps: int | None = None,     # optimiser steps per job (None: $GENLAB_JOB_STEPS, else 20000)
        max_events: int = 2000,           # events each job keeps for events_since()
        keep_finished: int = 3,           # finished jobs (with their models) kept per session
    ):
        self.limits = Limits.resolve(max_running=max_running, max_queued=max_queued,
                                     max_seconds=max_seconds, max_steps=max_steps)
        self.max_events = max_events
        self.keep_finished = keep_finished
        self._lock = threading.Lock()
        self._queue: collections.deque[Job] = collections.deque()
        self._running: set[Job] = set()
        self._jobs: dict[str, list[Job]] = {}   # session id -> its jobs, oldest first
        self._ids = itertools.count(1)

    # --- sessions' side -----------------------------------------------------------------------
    def submit(self, session_id: str, name: str, make_trainer: MakeTrainer) -> Job:
        """Queue a run for `session_id`; it starts now if a slot is free, else when one frees.

        Raises UserError "job_already_running" if the session has a job queued or running, and
        "jobs_busy" (with how many are ahead) if the queue is full.
        """
        if not isinstance(session_id, str) or not session_id:
            raise ValueError("session_id must be a non-empty string")
        with self._lock:
            free = self._admit_locked(session_id)
            job = Job(self, next(self._ids), session_id, str(name), make_trainer,
                      max_events=self.max_events)
            self._jobs.setdefault(session_id, []).append(job)
            if free:
                self._start_locked(job)
            else:
                self._queue.append(job)
            self._prune_locked(session_id)
        return job

    def check(self, session_id: str) -> None:
        """Raise what `submit` would raise now (a session's active job, a full queue), so a caller
        can refuse before it does the work of preparing a run. `submit` checks again."""
        with self._lock:
            self._admit_locked(session_id)

    def stop(self, session_id: str) -> Job | None:
        """Stop the session's queued or running job; a running one keeps its weights so far."""
        with self._lock:
            job = self._active_locked(session_id)
            if job is None:
                return None
            job._request_stop("user")
            if job in self._queue:
                self._queue.remove(job)
                job._finish("stopped", UserError("training_stopped", step=0), None)
        return job

    def forget(self, session_id: str) -> int:
        """Stop and drop all of a session's jobs (its tab closed); returns how many were dropped."""
        with self._lock:
            jobs = self._jobs.pop(session_id, [])
            for job in jobs:
                job._request_stop("forget")
                job._release()
                if job in self._queue:
                    self._queue.remove(job)
                    job._finish("stopped", UserError("training_stopped", step=0), None)
        return len(jobs)

    def jobs_for(self, session_id: str) -> list[Job]:
        """The session's jobs, oldest first (its active one and the last few finished)."""
        with self._lock:
            return list(self._jobs.get(session_id, ()))

    def job(self, session_id: str) -> Job | None:
        """The session's most recent job, or None."""
        with self._lock:
            jobs = self._jobs.get(session_id)
            return jobs[-1] if jobs else None

    # --- host's side --------------------------------------------------------------------------
    def snapshot(self) -> dict[str, Any]:
        """Counts for monitoring; names no session."""
        with self._lock:
            return {"running": len(self._running), "queued": len(self._queue),
                    "sessions": len(self._jobs), **dataclasses.asdict(self.limits)}

    def shutdown(self, timeout: float = 2.0) -> None:
        """Stop every job, queued or running, and wait up to `timeout` s for them to end."""
        with self._lock:
            sessions = list(self._jobs)
            running = list(self._running)
        for session_id in sessions:
            self.stop(session_id)
        end = time.perf_counter() + timeout
        for job in running:
            job.wait(max(0.0, end - time.perf_counter()))

    # --- internals (callers hold self._lock where the name says so) ---------------------------
    def _active_locked(self, session_id: str) -> Job | None:
        for job in self._jobs.get(session_id, ()):
            if job.status in ACTIVE:
                return job
        return None

    def _admit_locked(self, session_id: str) -> bool:
        """Raise if the session may not submit now; True if a new job would start at once."""
        active = self._active_locked(session_id)
        if active is not None:
            raise UserError("job_already_running", name=active.name, status=active.status)
        free = len(self._running) < self.limits.max_running and not self._queue
        if not free and len(self._queue) >= self.limits.max_queued:
            raise UserError("jobs_busy", ahead=len(self._running) + len(self._queue))
        return free

    def _start_locked(self, job: Job) -> None:
        job._mark_running()
        self._running.add(job)
        threading.Thread(target=self._thread_main, args=(job,), daemon=True,
                         name=f"genlab-job-{job.id}").start()

    def _thread_main(self, job: Job) -> None:
        outcome = ("failed", UserError("job_failed", name=job.name, reason="interrupted"), None)
        try:
            # Its units run in the compute thread's background lane: after any waiting slider or
            # click, taking turns with the other jobs and long runs.
            _warm_imports()
            outcome = job._context.run(self._background, job)
        finally:
            # Free the slot before anyone waiting on the job hears that it finished.
            with self._lock:
                self._running.discard(job)
                job._finish(*outcome)
                while self._queue and len(self._running) < self.limits.max_running:
                    self._start_locked(self._queue.popleft())
                self._prune_locked(job.session_id)

    def _background(self, job: Job):
        with runtime.background(owner=("job", job.id)):
            return job._execute(self.limits)

    def _prune_locked(self, session_id: str) -> None:
        # Each finished job holds a model; keep only the session's last `keep_finished`.
        jobs = self._jobs.get(session_id)
        if not jobs:
            return
        finished = [j for j in jobs if j.status not in ACTIVE]
        for old in finished[:max(0, len(finished) - self.keep_finished)]:
            jobs.remove(old)
            old._release()

    def _position(self, job: Job) -> int | None:
        with self._lock:
            try:
                return self._queue.index(job) + 1
            except ValueError:
                return None

    def _ahead(self, job: Job) -> int | None:
        with self._lock:
            try:
                return len(self._running) + self._queue.index(job)
            except ValueError:
                return None
