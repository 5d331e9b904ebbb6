"""A stand-in for the `spaces` package that behaves as ZeroGPU does where engines.gpu depends on
it: `spaces.GPU(duration=...)` runs the function in a forked process, its arguments and its result
cross by pickle (so changes made in place stay in the child), and a call may be refused the way a
visitor's used-up quota is."""

from __future__ import annotations

import multiprocessing
import pickle
import sys
import types

import pytest

from engines import gpu

QUOTA = "You have exceeded your GPU quota (60s requested vs. 12s left). Try again in 3:10:04"


class FakeSpaces(types.ModuleType):
    """`spaces` as far as engines.gpu and Gradio use it: GPU(duration=...), the auto-wrap switch."""

    limit_s = 60.0  # a worker that has not answered by then is ended

    def __init__(self, fork: bool = True):
        super().__init__("spaces")
        self.fork = fork
        self.decorated, self.durations, self.wrapped = [], [], []
        self.auto_wrap = True
        self.refuse_after: int | None = None  # refuse every call after this many, as a used-up quota
        self.quota_s: float | None = None     # a visitor's seconds left: a call asking more is refused

    def disable_gradio_auto_wrap(self):
        self.auto_wrap = False

    def gradio_auto_wrap(self, task):
        if not self.auto_wrap or not callable(task):
            return task
        self.wrapped.append(task)
        return self.GPU(task)

    def GPU(self, task=None, *, duration=None, size=None):  # noqa: N802 (the package's name)
        def decorate(fn):
            self.decorated.append(fn)

            def on_gpu(*args, **kwargs):
                seconds = duration(*args, **kwargs) if callable(duration) else (duration or 60)
                if self.refuse_after is not None and len(self.durations) >= self.refuse_after:
                    raise RuntimeError(QUOTA)  # what spaces raises (a gr.Error) before any work
                if self.quota_s is not None:
                    if seconds > self.quota_s:
                        raise RuntimeError(f"You have exceeded your GPU quota ({self.quota_s:g}s left vs. "
                                           f"{seconds:g}s requested). Try again in 1:02:03")
                    self.quota_s -= seconds
                self.durations.append(seconds)
                return self._forked(fn, args, kwargs) if self.fork else fn(*args, **kwargs)

            return on_gpu

        return decorate if task is None else decorate(task)

    @staticmethod
    def _forked(fn, args, kwargs):
        payload = pickle.dumps((args, kwargs))  # what ZeroGPU's queue does
        ctx = multiprocessing.get_context("fork")
        reader, writer = ctx.Pipe(duplex=False)

        def child():
            try:
                a, kw = pickle.loads(payload)
                writer.send(("ok", fn(*a, **kw)))
            except BaseException as exc:  # noqa: BLE001 - the parent re-raises it, as spaces does
                writer.send(("error", exc))

        proc = ctx.Process(target=child)
        proc.start()
        writer.close()
        try:
            if not reader.poll(FakeSpaces.limit_s):  # past its duration: ZeroGPU ends the task
                proc.kill()
                raise RuntimeError("GPU task aborted")
            kind, value = reader.recv()
        except EOFError:
            raise RuntimeError("GPU task aborted") from None
        finally:
            proc.join(30)
        if kind == "error":
            raise value
        return value


@pytest.fixture
def zero(monkeypatch):
    """A ZeroGPU host: SPACES_ZERO_GPU=true and the stand-in package importable."""
    fake = FakeSpaces()
    monkeypatch.setitem(sys.modules, "spaces", fake)
    monkeypatch.setenv("SPACES_ZERO_GPU", "true")
    monkeypatch.setenv("GENLAB_DEVICE", "unset")  # so that what setup() sets is undone after the test
    monkeypatch.delenv("GENLAB_DEVICE")
    monkeypatch.setattr(gpu, "_entry", None)
    return fake


@pytest.fixture
def plain(monkeypatch):
    """Not ZeroGPU, with the stand-in installed: nothing may reach it, nothing may be pickled."""
    fake = FakeSpaces()
    monkeypatch.setitem(sys.modules, "spaces", fake)
    monkeypatch.delenv("SPACES_ZERO_GPU", raising=False)
    monkeypatch.setattr(gpu, "_entry", None)
    monkeypatch.setattr(gpu, "stats", {"calls": 0, "pickled": 0})
    monkeypatch.setattr(gpu, "_dumps", _refuse)
    return fake


def _refuse(obj):
    raise AssertionError("pickled off ZeroGPU")
