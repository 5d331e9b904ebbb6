"""What every tab's plots share: a Matplotlib figure to pixels, and labels in the plot's language.

The plot modules (vae_plots, diffusion_plots, gan_plots, clip_plots) draw with these, so none
imports another tab's private helpers.
"""

from __future__ import annotations

import numpy as np

from .fonts import mixed_text, pil_font, plot_lang
from .i18n import t


def render(fig) -> np.ndarray:
    """A Matplotlib Figure -> uint8 (H, W, 3) pixels, drawn with the Agg backend (no pyplot)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    canvas = FigureCanvasAgg(fig)
    canvas.draw()
    return np.asarray(canvas.buffer_rgba())[:, :, :3].copy()


def plot_label(key: str, lang: str) -> str:
    """A plot label in the plot's language (English where no CJK font exists: fonts.plot_lang)."""
    return mixed_text(t(key, plot_lang(lang)))


def latin_font(size: int):
    """The Latin-only captions drawn into pictures (x_t, t = ..., seeds, psi)."""
    return pil_font(size, cjk=False)
