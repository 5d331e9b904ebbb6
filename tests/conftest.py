"""Shared test setup: offline, CPU only, seeded, one torch thread, tiny models."""

from __future__ import annotations

import os
import sys
from pathlib import Path

# Before anything imports engines or huggingface: no network, no accelerator.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("GENLAB_DEVICE", "cpu")

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402

# Tiny models; other work shares the machine's two cores.
torch.set_num_threads(1)

MNIST_FILES = ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")


@pytest.fixture(autouse=True)
def _seeded():
    torch.manual_seed(0)
    np.random.seed(0)


@pytest.fixture
def tiny_vae_config():
    from engines import vae

    # 8x8 grey images, one stride-2 level (bottom 4x4), a 2-D latent.
    return vae.Config(image_size=8, channels=1, latent_dim=2, widths=(4,), hidden=16)


def save_tiny_checkpoint(out_dir, config, *, seed: int = 0, aux=None, card=None) -> Path:
    """A freshly initialised (seeded) VAE for `config`, saved with engines.checkpoint.save."""
    from engines import checkpoint, vae

    torch.manual_seed(seed)
    model = vae.build(config)
    card = {"name": Path(out_dir).name, "dataset": "test", **(card or {})}
    return checkpoint.save(out_dir, family="vae", config=config, model=model, card=card, aux=aux)


@pytest.fixture
def make_checkpoint():
    """save_tiny_checkpoint(out_dir, config, *, seed=0, aux=None, card=None) -> folder."""
    return save_tiny_checkpoint


@pytest.fixture
def tiny_checkpoint(tmp_path, tiny_vae_config) -> Path:
    """Folder of a tiny 2-D VAE checkpoint (config.json, model.safetensors, card.json)."""
    return save_tiny_checkpoint(tmp_path / "tiny-vae", tiny_vae_config)


def _has_mnist(folder: Path) -> bool:
    for sub in (folder, folder / "mnist", folder / "MNIST" / "raw"):
        if all((sub / f).is_file() or (sub / (f + ".gz")).is_file() for f in MNIST_FILES):
            return True
    return False


@pytest.fixture
def mnist_dir() -> Path:
    """A folder holding the MNIST IDX files ($GENLAB_DATA_DIR or ../shared/data), else skip."""
    candidates = [os.environ.get("GENLAB_DATA_DIR"), ROOT.parent / "shared" / "data", "/work/shared/data"]
    for c in candidates:
        if c and _has_mnist(Path(c)):
            return Path(c)
    pytest.skip("MNIST files not found (set GENLAB_DATA_DIR)")
