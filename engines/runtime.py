"""Where and how models run: device choice, the one compute lock, seeded generators.

Nothing here touches CUDA at import time, so a ZeroGPU Space can wrap GPU functions with
`spaces.GPU` before the first call asks for a device.
"""

from __future__ import annotations

import contextlib
import functools
import os
import platform
import threading

import torch

from .errors import UserError

# Every forward pass and training step on the accelerator holds this lock, so a slider drag and
# a training run interleave step by step instead of fighting for the device's memory. Reentrant,
# so an engine call may nest another.
COMPUTE_LOCK = threading.RLock()

MAX_SEED = 2**32 - 1


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
