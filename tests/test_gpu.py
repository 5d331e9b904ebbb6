"""engines.gpu: ZeroGPU calls with a stand-in `spaces` package that behaves as ZeroGPU does
(the decorated function runs in a forked process; arguments and result cross by pickle)."""

from __future__ import annotations

import os
import sys
import time

import pytest

from engines import gpu
from engines.errors import UserError

from .zerogpu_fixtures import FakeSpaces, plain, zero  # noqa: F401 (fixtures)


def pid_and(value):
    return os.getpid(), value


def add_slowly(state):
    time.sleep(0.01)
    return state + 1


def divide(a, b):
    return a / b


def refuse():
    raise UserError("training_stopped", step=3)


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
    assert list(gpu.steps(add_slowly, 0, 5, seconds=1)) == [5]  # one plain loop
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


def test_local_functions_cross_by_value_with_their_closure(zero):
    """A family's loss or a sampler's cond_fn is defined inside another function: it crosses as
    its code and closure values, and runs in the worker."""
    base = 10

    def add(x):
        return pid_and(x + base)

    pid, value = gpu.call(add, 5)
    assert pid != os.getpid() and value == 15
    assert gpu.call(lambda v: v * 2, 4) == 8


def test_tensors_come_back_on_the_cpu_as_values(zero):
    import torch

    x = torch.arange(6.0)
    y = gpu.call(torch.mul, x, 2)
    assert torch.equal(y, x * 2) and y.device.type == "cpu"


def test_off_zerogpu_nothing_is_copied_or_pickled(plain):
    """The plain path passes the very objects: no pickling, no GPU call (`plain` makes any
    pickling fail)."""
    obj = {"big": list(range(1000))}
    assert gpu.call(lambda o: o, obj) is obj
    assert list(gpu.steps(add_slowly, 0, 3))[-1] == 3
    assert gpu.stats == {"calls": 0, "pickled": 0} and plain.durations == []


def test_a_refused_call_gives_the_bilingual_quota_message(zero):
    zero.refuse_after = 0
    with pytest.raises(gpu.CallFailed) as info:
        gpu.call(pid_and, 1)
    err = info.value
    assert isinstance(err, UserError) and err.key == "gpu_quota"
    assert "GPU time" in str(err) and "GPU quota" in str(err) and "GPU 时长" in err.localized("zh")


def test_an_error_in_the_worker_gives_the_call_failed_message(zero):
    with pytest.raises(gpu.CallFailed) as info:
        gpu.call(divide, 1, 0)
    assert info.value.key == "gpu_call_failed" and "ZeroDivisionError" in str(info.value)
    assert "GPU 调用失败" in info.value.localized("zh")


def test_a_user_error_in_the_worker_comes_back_as_itself(zero):
    with pytest.raises(UserError) as info:
        gpu.call(refuse)
    assert info.value.key == "training_stopped"


def test_long_work_is_cut_into_calls_that_fit(zero, monkeypatch):
    monkeypatch.setattr(gpu, "MIN_SECONDS", 0.1)
    states = list(gpu.steps(add_slowly, 100, 200, seconds=1))
    assert states[-1] == 300 and states == sorted(states)
    assert states[0] == 100 + gpu.FIRST  # the first call measures FIRST steps
    # 10 ms a step: the next calls pack about 0.7 s (70 steps) each, and ask for what they need
    assert 3 <= len(zero.durations) <= 8, zero.durations
    assert zero.durations[0] == 1.0 and all(0.1 <= d <= 1.0 for d in zero.durations)
    assert max(b - a for a, b in zip([100] + states, states)) <= 0.7 / 0.01 + 1


def test_plan_grows_from_the_measured_rate_and_asks_for_what_it_needs():
    assert gpu.plan(1000, None, None, 60) == (gpu.FIRST, gpu.FIRST_SECONDS)
    assert gpu.plan(1000, None, None, 10) == (gpu.FIRST, 10)
    k, ask = gpu.plan(1000, 0.1, 8, 60)   # 0.1 s a step: 420 fill 42 s, but at most 8 x 8
    assert (k, ask) == (64, 10)
    k, ask = gpu.plan(1000, 0.1, 100, 60)
    assert k == 420 and ask == 60
    k, ask = gpu.plan(10, 0.1, 100, 60)   # the last few: a short call
    assert k == 10 and ask == gpu.MIN_SECONDS


def test_a_caller_may_stop_between_calls(zero):
    it = gpu.steps(add_slowly, 0, 1000, seconds=0.5)
    first = next(it)
    it.close()
    assert first == gpu.FIRST and len(zero.durations) == 1


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


def sleep_then(seconds, value):
    time.sleep(seconds)
    return value


def test_a_gpu_call_on_the_compute_thread_lets_sliders_run_meanwhile(zero):
    """A long run steps its sampler on the engine's compute thread; while one of its GPU calls is
    out, an interactive task (a slider) still gets the thread."""
    import threading

    from engines import runtime

    zero.fork = False  # the call's length is what matters here, not the fork
    done = {}

    def long_run():
        with runtime.background(owner="run"):
            done["gpu"] = runtime.call(gpu.call, sleep_then, 1.5, "frame", seconds=5)
            done["gpu_at"] = time.perf_counter()

    t = threading.Thread(target=long_run)
    t.start()
    time.sleep(0.3)  # the GPU call is out now
    t0 = time.perf_counter()
    assert runtime.call(lambda: "slider") == "slider"
    slider_at = time.perf_counter()
    t.join(10)
    assert done["gpu"] == "frame"
    assert slider_at - t0 < 0.5 and slider_at < done["gpu_at"]


def test_the_last_of_a_quota_is_used_by_a_smaller_call(zero, monkeypatch):
    """ZeroGPU refuses a call that asks for more than the visitor has left and says how much is
    left: the chunk is cut to fit that once, and only then does the run stop with the message."""
    monkeypatch.setattr(gpu, "MIN_SECONDS", 0.1)
    zero.quota_s = 2.5
    got = []
    with pytest.raises(gpu.CallFailed) as info:
        for state in gpu.steps(add_slowly, 0, 10_000, seconds=1):
            got.append(state)
    assert info.value.key == "gpu_quota" and info.value.left_s is not None and info.value.left_s < 0.1
    asked = zero.durations
    assert asked[:2] == [1.0, 1.0] and 0.1 < asked[-1] < 1.0  # the last one fitted what was left
    assert sum(asked) == pytest.approx(2.5) and got == sorted(got) and len(got) == len(asked)

