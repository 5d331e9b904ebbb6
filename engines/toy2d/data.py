"""Two-dimensional data sets for the playground: ring, 8 Gaussians, two moons, spiral,
checkerboard, and points a user draws (clicks and strokes on the playground's plot).

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


def points_near(centre, n: int, spread: float, gen: torch.Generator) -> np.ndarray:
    """A click: n points (n, 2) from a Gaussian of std `spread` around `centre` (x, y), kept inside the view."""
    c = torch.as_tensor(np.asarray(centre, np.float32).reshape(2))
    pts = c + spread * torch.randn(int(n), 2, generator=gen)
    return pts.clamp(-EXTENT, EXTENT).numpy()


def points_along(path, spacing: float) -> np.ndarray:
    """A stroke: points every `spacing` along the polyline `path` (P, 2), both ends included -> (K, 2).
    Even spacing, however fast the pointer moved (a browser reports a slow drag densely, a fast one sparsely)."""
    p = np.asarray(path, np.float64).reshape(-1, 2)
    if len(p) < 2:
        return p.astype(np.float32)
    seg = np.linalg.norm(np.diff(p, axis=0), axis=1)
    arc = np.concatenate([[0.0], np.cumsum(seg)])
    at = np.linspace(0.0, arc[-1], max(2, int(np.ceil(arc[-1] / spacing)) + 1))
    out = np.stack([np.interp(at, arc, p[:, 0]), np.interp(at, arc, p[:, 1])], 1)
    return np.clip(out, -EXTENT, EXTENT).astype(np.float32)
