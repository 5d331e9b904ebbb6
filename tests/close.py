"""Comparing pictures that float arithmetic made.

Two runs of the same network on the same input agree exactly only when they run the same kernels
on the same batch shape with the same threads. A different batch (one image against a batch of
four), another CPU (AVX2 against AVX-512: torch picks other kernels) or another thread count can
move a float by its last bit, and a uint8 pixel rounded from it by 1. A real bug (a wrong layer, a
wrong image, a shifted crop) moves many pixels by much more, so both the size and the number of
differences are bounded.
"""

from __future__ import annotations

import numpy as np


def assert_images_close(actual, desired, *, max_diff: int = 2, max_fraction: float = 0.01, err_msg: str = ""):
    """uint8 images (any shape) equal up to rounding: no value more than `max_diff` grey levels
    apart, and at most `max_fraction` of the values differ at all."""
    a, b = np.asarray(actual), np.asarray(desired)
    assert a.shape == b.shape, f"shapes differ: {a.shape} vs {b.shape} {err_msg}"
    diff = np.abs(a.astype(np.int64) - b.astype(np.int64))
    worst, differing = int(diff.max(initial=0)), int((diff > 0).sum())
    assert worst <= max_diff and differing <= max_fraction * diff.size, (
        f"{differing} of {diff.size} values differ, by up to {worst} (allowed: {max_diff}, "
        f"{max_fraction:.1%} of values) {err_msg}")
