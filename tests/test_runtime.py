"""engines.runtime: device choice, seeded generators, seed checks, nothing heavy at import."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from engines import runtime
from engines.errors import UserError

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def fresh_device(monkeypatch):
    runtime.device.cache_clear()
    yield monkeypatch
    runtime.device.cache_clear()


@pytest.mark.parametrize("forced, want", [("cpu", "cpu"), (" meta ", "meta")])
def test_device_override(fresh_device, forced, want):
    fresh_device.setenv("GENLAB_DEVICE", forced)
    assert runtime.device() == torch.device(want)


def test_device_without_override_is_available(fresh_device):
    fresh_device.delenv("GENLAB_DEVICE", raising=False)
    dev = runtime.device()
    assert dev.type in ("cuda", "mps", "cpu")
    if not torch.cuda.is_available() and not torch.backends.mps.is_available():
        assert dev == torch.device("cpu")


def test_generator_is_reproducible():
    a = torch.randn(8, generator=runtime.generator(42))
    b = torch.randn(8, generator=runtime.generator(42))
    c = torch.randn(8, generator=runtime.generator(43))
    assert torch.equal(a, b) and not torch.equal(a, c)
    assert runtime.generator(7).device == torch.device("cpu")
    # The global RNG plays no part.
    torch.manual_seed(1)
    d = torch.randn(8, generator=runtime.generator(42))
    assert torch.equal(a, d)


@pytest.mark.parametrize("seed, want", [(0, 0), (2**32 - 1, 2**32 - 1), ("12", 12), (5.0, 5)])
def test_good_seeds(seed, want):
    assert runtime.check_seed(seed) == want
    runtime.generator(seed)


@pytest.mark.parametrize("seed", [-1, 2**32, 2**40, "abc", "", None, float("nan"), float("inf"), 1.5, [3]])
def test_bad_seeds_raise_user_error(seed):
    with pytest.raises(UserError) as err:
        runtime.generator(seed)
    assert err.value.key == "value_out_of_range"
    assert "seed" in str(err.value)


def test_compute_holds_the_lock_without_autograd():
    w = torch.ones(2, requires_grad=True)
    with runtime.compute():
        assert torch.is_inference_mode_enabled()
        assert not (w * 2).requires_grad
        with runtime.compute():  # reentrant: an engine call may nest another
            pass
        acquired = []

        def other():
            acquired.append(runtime.COMPUTE_LOCK.acquire(timeout=0.05))

        import threading

        t = threading.Thread(target=other)
        t.start()
        t.join()
        assert acquired == [False]  # another thread waits while we compute
    assert runtime.COMPUTE_LOCK.acquire(timeout=1)
    runtime.COMPUTE_LOCK.release()


def test_hardware_summary_names_torch():
    assert torch.__version__ in runtime.hardware_summary(torch.device("cpu"))


def test_import_does_not_initialise_cuda():
    code = (
        "import engines, engines.vae, engines.train, engines.checkpoint, engines.data, engines.runtime, engines.cli\n"
        "import torch, sys\n"
        "print(torch.cuda.is_initialized())\n"
    )
    env = {k: v for k, v in os.environ.items() if k != "GENLAB_DEVICE"}
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1] == "False"


# --- the compute thread ------------------------------------------------------------------------

def _counting(n, record, delay=0.0):
    import threading
    import time

    try:
        for i in range(n):
            time.sleep(delay)
            record.append((i, threading.current_thread().name))
            yield i
    finally:
        record.append(("closed", threading.current_thread().name))


def test_two_runs_take_turns_step_by_step():
    import threading

    record = []
    done = []

    def read(it):
        done.append(list(runtime.stepped(it)))

    readers = [threading.Thread(target=read, args=(_counting(20, record, 0.001),)) for _ in range(2)]
    for r in readers:
        r.start()
    for r in readers:
        r.join()
    assert len(done) == 2 and all(d[-1] == 19 for d in done)
    # Interleaved: the second run's first step comes long before the first run's last.
    zeros = [i for i, (n, _) in enumerate(record) if n == 0]
    assert len(zeros) == 2 and zeros[1] < 10, record


def test_stepped_raises_the_iterators_error_in_the_reader():
    def failing():
        yield 1
        raise UserError("value_out_of_range", what="x", low=0, high=1, value=5)

    with pytest.raises(UserError):
        list(runtime.stepped(failing()))


def test_call_runs_on_the_compute_thread():
    import threading

    assert runtime.call(lambda: threading.current_thread().name).startswith("genlab-compute")
    assert runtime.call(runtime.call, runtime.on_compute_thread) is True  # nested: no deadlock


def test_stepped_runs_each_step_on_the_compute_thread_in_lockstep():
    record = []
    got = list(runtime.stepped(_counting(30, record, 0.002), every=0.02))
    assert got[0] == 0 and got[-1] == 29 and got == sorted(got) and len(got) < 30
    assert {name for _, name in record} == {record[0][1]} and record[0][1].startswith("genlab-compute")
    record.clear()
    gen = runtime.stepped(_counting(1000, record))
    assert next(gen) == 0
    gen.close()
    assert [n for n, _ in record] == [0, "closed"]  # nothing ran ahead of the reader
    flag = []
    got = list(runtime.stepped(_counting(100, record), stop=lambda: len(flag) > 0 or flag.append(1)))
    assert got == [0]  # stop() is asked before every step: True after the first


def test_call_carries_the_callers_context_variables():
    import contextvars

    var = contextvars.ContextVar("genlab_test_var", default="unset")
    token = var.set("request 7")
    try:
        assert runtime.call(var.get) == "request 7"
    finally:
        var.reset(token)
    assert runtime.call(var.get) == "unset"


def test_share_the_gil_sets_a_bounded_switch_interval(monkeypatch):
    import sys

    before = sys.getswitchinterval()
    try:
        monkeypatch.delenv("GENLAB_SWITCH_INTERVAL_MS", raising=False)
        assert runtime.share_the_gil() == runtime.SWITCH_INTERVAL_S == sys.getswitchinterval()
        monkeypatch.setenv("GENLAB_SWITCH_INTERVAL_MS", "5")
        assert runtime.share_the_gil() == pytest.approx(0.005) and sys.getswitchinterval() == pytest.approx(0.005)
        for junk in ("nan", "inf", "fast", ""):  # a host's typo never leaves Python's default or a 0
            monkeypatch.setenv("GENLAB_SWITCH_INTERVAL_MS", junk)
            assert runtime.share_the_gil() == runtime.SWITCH_INTERVAL_S
        monkeypatch.setenv("GENLAB_SWITCH_INTERVAL_MS", "1e9")
        assert runtime.share_the_gil() == 0.1
    finally:
        sys.setswitchinterval(before)
