"""Two-dimensional data sets for the playground: ring, 8 Gaussians, two moons, spiral,
checkerboard, and points a user draws.

Every set lies inside the square [-EXTENT, EXTENT]^2 that the playground shows. Samples are
float32 tensors (N, 2) drawn from a seeded torch.Generator, so the same seed gives the same points.
"""

from __future__ import annotations

import math

import numpy as np
import torch

from ..errors import UserError

EXTENT = 2.5          # the view (and every histogram) covers [-EXTENT, EXTENT]^2
DISTRIBUTIONS = ("ring", "gaussians8", "moons", "spiral", "checkerboard", "drawn")
MIN_DRAWN = 8         # distinct drawn points needed before a model can learn them
MAX_DRAWN = 2000      # more are thinned evenly
DRAWN_STD = 0.05      # each drawn point is a small Gaussian bump of this width


def _ring(n: int, gen: torch.Generator) -> torch.Tensor:
    angle = torch.rand(n, generator=gen) * 2 * math.pi
    radius = 1.5 + 0.06 * torch.randn(n, generator=gen)
    return torch.stack([radius * angle.cos(), radius * angle.sin()], 1)


def _gaussians8(n: int, gen: torch.Generator) -> torch.Tensor:
    k = torch.randint(0, 8, (n,), generator=gen).float()
    centres = 1.6 * torch.stack([(k * math.pi / 4).cos(), (k * math.pi / 4).sin()], 1)
    return centres + 0.08 * torch.randn(n, 2, generator=gen)


def _moons(n: int, gen: torch.Generator) -> torch.Tensor:
    upper = torch.rand(n, generator=gen) < 0.5
    theta = torch.rand(n, generator=gen) * math.pi
    x = torch.where(upper, theta.cos(), 1 - theta.cos())
    y = torch.where(upper, theta.sin(), 0.5 - theta.sin())
    points = torch.stack([x - 0.5, y - 0.25], 1) * 1.4  # centred, about 2.8 wide
    return points + 0.06 * torch.randn(n, 2, generator=gen)


def _spiral(n: int, gen: torch.Generator) -> torch.Tensor:
    # Uniform along the arc length of r = 2 * theta / (3 pi), theta in [0.3 pi, 3 pi].
    u = torch.rand(n, generator=gen)
    theta = math.pi * torch.sqrt(0.09 + u * (9 - 0.09))
    radius = 2.0 * theta / (3 * math.pi)
    points = torch.stack([radius * theta.cos(), radius * theta.sin()], 1)
    return points + 0.05 * torch.randn(n, 2, generator=gen)


def _checkerboard(n: int, gen: torch.Generator) -> torch.Tensor:
    # A 4x4 board over [-2, 2]^2; the 8 cells with (column + row) even hold the data.
    col = torch.randint(0, 4, (n,), generator=gen)
    row = 2 * torch.randint(0, 2, (n,), generator=gen) + col % 2
    corner = torch.stack([col, row], 1).float() - 2.0
    return corner + torch.rand(n, 2, generator=gen)


_SAMPLERS = {"ring": _ring, "gaussians8": _gaussians8, "moons": _moons, "spiral": _spiral,
             "checkerboard": _checkerboard}


def check_points(points) -> torch.Tensor:
    """Drawn points, (K, 2) in data coordinates -> float32 tensor; too few -> UserError."""
    arr = np.asarray(points if points is not None else np.zeros((0, 2)), dtype=np.float64).reshape(-1, 2)
    arr = arr[np.isfinite(arr).all(1)]
    arr = arr[(np.abs(arr) <= EXTENT).all(1)]
    count = len(np.unique(np.round(arr, 3), axis=0))
    if count < MIN_DRAWN:
        raise UserError("toy2d_too_few_points", count=count, min=MIN_DRAWN)
    if len(arr) > MAX_DRAWN:
        arr = arr[np.linspace(0, len(arr) - 1, MAX_DRAWN).round().astype(int)]
    return torch.as_tensor(arr, dtype=torch.float32)


def sample(name: str, n: int, gen: torch.Generator, points: torch.Tensor | None = None) -> torch.Tensor:
    """n points (n, 2) of the data set `name`; "drawn" needs `points` from check_points."""
    if name == "drawn":
        if points is None:
            raise UserError("toy2d_too_few_points", count=0, min=MIN_DRAWN)
        idx = torch.randint(0, len(points), (n,), generator=gen)
        return points[idx] + DRAWN_STD * torch.randn(n, 2, generator=gen)
    if name not in _SAMPLERS:
        raise UserError("toy2d_choice", what="data set", what_zh="数据分布", value=name,
                        available=", ".join(DISTRIBUTIONS))
    return _SAMPLERS[name](n, gen)


def points_from_ink(ink: np.ndarray, *, max_points: int = 600) -> np.ndarray:
    """A drawing's ink, (H, W) floats in [0, 1] covering the view, -> points (K, 2) in data
    coordinates (y up), one per inked pixel, thinned evenly to at most `max_points`."""
    ink = np.asarray(ink, dtype=np.float32)
    if ink.ndim != 2 or ink.size == 0:
        return np.zeros((0, 2), np.float32)
    rows, cols = np.nonzero(ink > 0.3)
    h, w = ink.shape
    x = (cols + 0.5) / w * 2 * EXTENT - EXTENT
    y = EXTENT - (rows + 0.5) / h * 2 * EXTENT
    pts = np.stack([x, y], 1).astype(np.float32)
    if len(pts) > max_points:
        pts = pts[np.linspace(0, len(pts) - 1, max_points).round().astype(int)]
    return pts
