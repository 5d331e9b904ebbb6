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
