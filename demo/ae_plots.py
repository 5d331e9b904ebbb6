"""Figures for the VAE tab's "Autoencoder vs VAE" part, rendered server-side to uint8 RGB arrays.

The latent map is the VAE tab's scatter (same figure size and axes box, so vae_plots.MapGeometry
maps z to pixels) with the prior's 1, 2 and 3 standard deviation circles on top: where z ~ N(0, I)
lands. The 16 sampled z are drawn onto the cached picture with PIL, so a re-sample redraws no plot.
"""

from __future__ import annotations

import numpy as np
from PIL import Image, ImageDraw

from . import vae_plots

CIRCLE_COLOUR = "#d62728"  # red: visible even where the map spans +-60 and the circles are small
SAMPLE_COLOUR = (0, 0, 0)
SAMPLE_HALO = (255, 255, 255)


def latent_map(points: np.ndarray, labels: np.ndarray | None, lim: float, title: str):
    """Encoded means (N, 2) coloured by digit on [-lim, lim]^2, with the prior's circles
    |z| = 1, 2, 3 -> (picture, vae_plots.MapGeometry)."""
    return vae_plots.scatter(points, labels, lim, circles=CIRCLE_COLOUR, title=title)


def mark_samples(picture: np.ndarray, geom, z: np.ndarray) -> np.ndarray:
    """The picture with each z (N, 2) inside the axes drawn as a black cross on a white halo."""
    im = Image.fromarray(picture)
    draw = ImageDraw.Draw(im)
    for z1, z2 in np.asarray(z, np.float64):
        if max(abs(z1), abs(z2)) > geom.lim:
            continue
        x, y = geom.to_px(float(z1), float(z2))
        for colour, width in ((SAMPLE_HALO, 5), (SAMPLE_COLOUR, 2)):
            draw.line((x - 5, y - 5, x + 5, y + 5), fill=colour, width=width)
            draw.line((x - 5, y + 5, x + 5, y - 5), fill=colour, width=width)
    return np.asarray(im)


def map_limit(points: np.ndarray, low: float = 3.5, quantile: float = 0.99) -> float:
    """A map's half-width: at least `low` (the prior's 3-sigma circle fits), else what holds
    `quantile` of the encoded means (N, 2), rounded up to a half."""
    extent = low
    if len(points):
        extent = max(extent, float(np.quantile(np.abs(points).max(1), quantile)))
    return float(np.ceil(extent * 2) / 2)
