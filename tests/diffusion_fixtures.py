"""Tiny diffusion checkpoints for the diffusion tab's tests: seeded, randomised (so the noise
prediction depends on x, t and the label), and saved with engines.checkpoint.save."""

from __future__ import annotations

import zipfile
from pathlib import Path

import torch

T_TINY = 20  # timesteps of the tiny models


def tiny_ddpm_config(*, channels: int = 1, num_classes: int | None = 3, timesteps: int = T_TINY,
                     schedule: str = "linear"):
    from engines import diffusion

    # 8x8 images, two levels (8 -> 4), attention at 4x4.
    return diffusion.Config(image_size=8, channels=channels, width=8, channel_mult=(1, 2), blocks_per_level=1,
                            attention_resolutions=(4,), num_classes=num_classes, dropout=0.0, norm_groups=4,
                            attention_heads=2, timesteps=timesteps, schedule=schedule)


def save_tiny_ddpm(out_dir, *, seed: int = 0, examples: bool = True, card: dict | None = None, **config) -> Path:
    """A randomised tiny UNet checkpoint; with `examples`, 6 held-out 8x8 examples and labels ship in aux."""
    from engines import checkpoint, diffusion

    cfg = tiny_ddpm_config(**config)
    torch.manual_seed(seed)
    model = diffusion.build(cfg)
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in model.parameters():
            p.add_(torch.randn(p.shape, generator=gen) * 0.2)
    aux = None
    if examples:
        ex = torch.zeros(6, cfg.channels, 8, 8, dtype=torch.uint8)
        for i in range(6):  # a bright square at a different place in each
            ex[i, :, 1 + i % 3:4 + i % 3, 1 + i // 3 * 3:5 + i // 3 * 3] = 255
        aux = {"examples": ex, "example_labels": torch.arange(6) % 3}
    card = {"name": Path(out_dir).name, "dataset": "test", "default_guidance": 2.0, **(card or {})}
    return checkpoint.save(out_dir, family="ddpm", config=cfg, model=model, card=card, aux=aux)


def zip_checkpoint(folder: Path, z: Path) -> Path:
    with zipfile.ZipFile(z, "w") as zf:
        for name in ("config.json", "model.safetensors", "card.json"):
            zf.write(Path(folder) / name, name)
    return z
