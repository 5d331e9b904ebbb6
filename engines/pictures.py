"""Tensors to pictures: what every family's sampler and preview hands across the engine boundary.

Small on purpose: a sampler process imports this, not the trainer.
"""

from __future__ import annotations

import math

import numpy as np
import torch


def image_grid(images: np.ndarray, nrow: int | None = None, pad: int = 2, pad_value: int = 40) -> np.ndarray:
    """(N, H, W, C) uint8 -> one (H', W', C) uint8 grid image, row-major."""
    n, h, w, c = images.shape
    nrow = nrow or math.ceil(math.sqrt(n))
    ncol_rows = math.ceil(n / nrow)
    grid = np.full((ncol_rows * (h + pad) + pad, nrow * (w + pad) + pad, c), pad_value, np.uint8)
    for i in range(n):
        r, col = divmod(i, nrow)
        y, x = pad + r * (h + pad), pad + col * (w + pad)
        grid[y:y + h, x:x + w] = images[i]
    return grid


def to_uint8(x: torch.Tensor) -> np.ndarray:
    """float (B, C, H, W) in [0, 1] -> uint8 (B, H, W, C) numpy."""
    x = x.detach().float().clamp(0, 1).mul(255).round().to(torch.uint8)
    return x.permute(0, 2, 3, 1).cpu().numpy()
