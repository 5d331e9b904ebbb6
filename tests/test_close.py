"""tests.close.assert_images_close passes rounding differences and fails real ones."""

from __future__ import annotations

import numpy as np
import pytest

from tests.close import assert_images_close


def test_rounding_passes_and_real_differences_fail():
    rng = np.random.default_rng(0)
    image = rng.integers(1, 255, (128, 128, 3), dtype=np.uint8)  # 49,152 values, as in the GAN grid
    rounded = image.copy()
    rounded.reshape(-1)[rng.choice(image.size, 16, replace=False)] += 1  # what an Intel CPU gave
    assert_images_close(rounded, image)
    assert_images_close(image, image)
    off_by_three = image.copy()
    off_by_three[5, 5, 0] += 3
    with pytest.raises(AssertionError):
        assert_images_close(off_by_three, image)
    many = image.copy()
    many[:64] += 1  # half the picture one level brighter: not rounding
    with pytest.raises(AssertionError):
        assert_images_close(many, image)
    with pytest.raises(AssertionError):  # a picture shifted by one pixel
        assert_images_close(np.roll(image, 1, axis=1), image)
    with pytest.raises(AssertionError):
        assert_images_close(image[:-1], image)
