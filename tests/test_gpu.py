"""engines.gpu: ZeroGPU calls with a stand-in `spaces` package that behaves as ZeroGPU does
(the decorated function runs in a forked process; arguments and result cross by pickle)."""

from __future__ import annotations

import multiprocessing
import os
import pickle
import sys
import time
import types

import pytest

from engines import gpu


class FakeSpaces(types.ModuleType):
    """`spaces` as far as engines.gpu and Gradio use it: GPU(duration=...), the auto-wrap switch."""

    def __init__(self, fork: bool = True):
        super().__init__("spaces")
        self.fork = fork
        self.decorated, self.durations, self.wrapped = [], [], []
        self.auto_wrap = True

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
                self.durations.append(seconds)
                return self._forked(fn, args, kwargs) if self.fork else fn(*args, **kwargs)

            return on_gpu

        return decorate if task is None else decorate(task)

    @staticmethod
    def _forked(fn, args, kwargs):
        payload = pickle.dumps((args, kwargs))  # what ZeroGPU's queue does; a lambda fails here
        ctx = multiprocessing.get_context("fork")
        reader, writer = ctx.Pipe(duplex=False)

        def child():
            a, kw = pickle.loads(payload)
            writer.send(fn(*a, **kw))

        proc = ctx.Process(target=child)
        proc.start()
        result = reader.recv()
        proc.join(30)
        return result


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


def pid_and(value):
    return os.getpid(), value


def add_slowly(state):
    time.sleep(0.01)
    return state + 1


def append_to(items):
    items.append("changed in the worker")
    return len(items)


def test_off_zerogpu_everything_is_a_plain_call(monkeypatch):
    fake = FakeSpaces()
    monkeypatch.setitem(sys.modules, "spaces", fake)  # installed, but not a ZeroGPU host
    monkeypatch.delenv("SPACES_ZERO_GPU", raising=False)
    monkeypatch.setattr(gpu, "_entry", None)
    assert not gpu.setup() and not gpu.active()
    assert gpu.call(pid_and, 7) == (os.getpid(), 7)
    assert list(gpu.steps(add_slowly, 0, 5, seconds=1)) [-1] == 5
    assert fake.decorated == [] and fake.durations == [] and fake.auto_wrap


def test_without_the_package_zerogpu_is_not_active(monkeypatch):
    monkeypatch.setenv("SPACES_ZERO_GPU", "true")
    monkeypatch.setitem(sys.modules, "spaces", None)  # import spaces -> ImportError
    monkeypatch.setattr(gpu, "_entry", None)
    assert gpu.requested() and not gpu.active() and not gpu.setup()
    assert gpu.call(pid_and, 1) == (os.getpid(), 1)


def test_setup_keeps_interactive_work_on_the_cpu(zero):
    assert gpu.setup() and gpu.setup()
    assert os.environ["GENLAB_DEVICE"] == "cpu"
    assert not zero.auto_wrap  # Gradio handlers (sliders) are not wrapped in GPU calls
    assert len(zero.decorated) == 1  # one entry point, registered before launch, whatever runs


def test_a_host_device_setting_wins(zero, monkeypatch):
    monkeypatch.setenv("GENLAB_DEVICE", "cuda")
    gpu.setup()
    assert os.environ["GENLAB_DEVICE"] == "cuda"


def test_a_call_runs_in_the_worker_for_the_seconds_asked(zero):
    pid, value = gpu.call(pid_and, {"x": 3}, seconds=20)
    assert pid != os.getpid() and value == {"x": 3}
    assert zero.durations == [20.0]
    gpu.call(pid_and, 1)
    assert zero.durations == [20.0, gpu.DEFAULT_SECONDS]


def test_changes_in_place_do_not_come_back_results_do(zero):
    """Why `steps` carries its state in and out: the worker's changes stay in the worker."""
    items = ["a"]
    assert gpu.call(append_to, items) == 2
    assert items == ["a"]


def test_the_duration_is_checked(zero):
    for bad in (0, -1, gpu.DEFAULT_SECONDS + 1):
        with pytest.raises(ValueError):
            gpu.call(pid_and, 1, seconds=bad)
    assert zero.durations == []


def test_a_lambda_cannot_cross_to_the_worker(zero):
    with pytest.raises((pickle.PicklingError, AttributeError, TypeError)):
        gpu.call(lambda: 1)


def test_long_work_is_cut_into_calls_that_fit(zero):
    states = list(gpu.steps(add_slowly, 100, 60, seconds=1))
    assert states[-1] == 160 and states == sorted(states)
    assert states[0] == 101  # the first call times one step
    # 10 ms a step (plus fork noise): the next calls pack up to 0.7 s of steps each
    assert 2 <= len(zero.durations) <= 12, zero.durations
    assert set(zero.durations) == {1.0}


def test_a_caller_may_stop_between_calls(zero):
    it = gpu.steps(add_slowly, 0, 1000, seconds=0.5)
    first = next(it)
    it.close()
    assert first == 1 and len(zero.durations) == 1


def test_device_is_the_engines_outside_a_call():
    from engines import runtime

    assert gpu.device() == runtime.device()


@pytest.mark.slow
def test_built_app_handlers_are_not_gpu_wrapped_after_setup(zero, monkeypatch):
    """Gradio wraps every handler with spaces.GPU on a Space when auto-wrap is on; setup() turns
    it off, so no slider, click or dropdown asks for the GPU. Without setup() they would."""
    import gradio.block_function as block_function
    import gradio.utils

    import app

    zero.fork = False
    monkeypatch.setattr(block_function, "spaces", zero)
    monkeypatch.setattr(gradio.utils, "get_space", lambda: "someone/genlab")
    app.build_app()
    wrapped_without_setup = len(zero.wrapped)
    assert wrapped_without_setup > 20  # the control: every handler would go to the GPU
    zero.wrapped.clear()
    gpu.setup()
    demo = app.build_app()
    assert zero.wrapped == []
    assert any(fn.api_name == "vae_slider" or "slider" in str(fn.api_name) for fn in demo.fns.values())
