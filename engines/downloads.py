"""Downloads (a pretrained CLIP's weights, MNIST): never on the compute thread, bounded in time, and
a failure remembered.

A download runs in its own daemon thread. A caller off the compute thread waits for it up to
`wait_s`; a caller on the compute thread (a UI handler) does not wait at all, so every other
session's requests go on, and is told to try again shortly. A download that fails is remembered
for REMEMBER_S: asking again within that time fails at once with the same reason, rather than
each request paying for another timeout. One that runs longer than MAX_S counts as failed.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from typing import Any, Callable

from . import runtime
from .errors import UserError

REMEMBER_S = 600.0   # a failure is answered from memory for this long (10 minutes)
MAX_S = 900.0        # a download still running after this long has failed (a stalled connection)


class DownloadFailed(Exception):
    """The first failure of a download; the caller turns it into its own message."""


@dataclass
class _Job:
    started: float
    done: threading.Event = field(default_factory=threading.Event)
    result: Any = None
    error: str | None = None
    finished: float | None = None


_JOBS: dict[str, _Job] = {}
_LOCK = threading.Lock()


def _start(key: str, fn: Callable[[], Any]) -> _Job:
    job = _Job(started=time.monotonic())

    def run():
        try:
            job.result = fn()
            job.error = None  # a download given up after MAX_S that ends well after all counts
        except BaseException as exc:  # noqa: BLE001 -- any failure is the download's failure
            job.error = " ".join(str(exc).split())[:200] or type(exc).__name__
        job.finished = time.monotonic()
        job.done.set()

    threading.Thread(target=run, daemon=True, name=f"genlab-download-{key[:40]}").start()
    return job


def fetch(key: str, fn: Callable[[], Any], *, what: str, wait_s: float = 120.0) -> Any:
    """fn()'s result (a downloaded file's path, say), fetched once per key in a thread of its own.

    UserError download_failed_recently: it failed less than REMEMBER_S ago. UserError
    download_in_progress: still running after `wait_s` (at once on the compute thread).
    DownloadFailed(reason): it failed just now."""
    now = time.monotonic()
    with _LOCK:
        job = _JOBS.get(key)
        if job is not None and not job.done.is_set() and now - job.started > MAX_S:
            job.error, job.finished = f"no answer within {MAX_S:.0f} s", now
            job.done.set()
        if job is not None and job.error is not None and now - job.finished >= REMEMBER_S:
            job = None  # an old failure: try again
        started_here = job is None
        if started_here:
            job = _JOBS[key] = _start(key, fn)
        elif job.error is not None:
            raise UserError("download_failed_recently", what=what, ago=round(now - job.finished),
                            minutes=round(REMEMBER_S / 60), reason=job.error)
        fresh = started_here or job.finished is None  # this call saw it run: its failure is news
    if not job.done.wait(0 if runtime.on_compute_thread() else wait_s):
        raise UserError("download_in_progress", what=what, elapsed=round(time.monotonic() - job.started))
    if job.error is not None:
        if fresh:
            raise DownloadFailed(job.error)
        raise UserError("download_failed_recently", what=what, ago=round(time.monotonic() - job.finished),
                        minutes=round(REMEMBER_S / 60), reason=job.error)
    return job.result


def forget(key: str | None = None) -> None:
    """Drop what is remembered about one download (or all): for tests, and after a fix by hand."""
    with _LOCK:
        if key is None:
            _JOBS.clear()
        else:
            _JOBS.pop(key, None)
