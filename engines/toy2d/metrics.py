"""How far the model's samples are from the data: KL and JS divergences between histograms
on a grid over the view (as GAN Lab measures them), in nats."""

from __future__ import annotations

import numpy as np

from .data import EXTENT

BINS = 32            # histogram cells per axis
KL_SMOOTHING = 1e-4  # added to every cell of q before normalising, so KL(p || q) stays finite


def histogram(points: np.ndarray, bins: int = BINS, extent: float = EXTENT) -> np.ndarray:
    """(N, 2) points -> (bins, bins) probabilities summing to 1 (points outside the view are dropped)."""
    pts = np.asarray(points, dtype=np.float64).reshape(-1, 2)
    counts, _, _ = np.histogram2d(pts[:, 0], pts[:, 1], bins=bins, range=[[-extent, extent], [-extent, extent]])
    total = counts.sum()
    return counts / total if total > 0 else np.full((bins, bins), 1.0 / bins**2)


def _normalise(p) -> np.ndarray:
    p = np.asarray(p, dtype=np.float64).ravel()
    if (p < 0).any() or not np.isfinite(p).all() or p.sum() <= 0:
        raise ValueError("a histogram needs finite, non-negative counts with a positive sum")
    return p / p.sum()


def kl_divergence(p, q, smoothing: float = 0.0) -> float:
    """KL(p || q) = sum_i p_i log(p_i / q_i) in nats; q is smoothed by `smoothing` per cell first.

    Cells with p_i = 0 add nothing; a cell with p_i > 0 and q_i = 0 makes it infinite."""
    p, q = _normalise(p), _normalise(q)
    if smoothing > 0:
        q = (q + smoothing) / (1 + smoothing * q.size)
    on = p > 0
    with np.errstate(divide="ignore"):
        terms = p[on] * (np.log(p[on]) - np.log(q[on]))
    return float(terms.sum())


def js_divergence(p, q) -> float:
    """JS(p, q) = KL(p || m) / 2 + KL(q || m) / 2 with m = (p + q) / 2; in nats, between 0 and ln 2."""
    p, q = _normalise(p), _normalise(q)
    m = (p + q) / 2
    return 0.5 * kl_divergence(p, m) + 0.5 * kl_divergence(q, m)
