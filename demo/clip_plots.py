"""Pictures for the CLIP tab, rendered server-side to uint8 RGB arrays: the zero-shot similarity bars.

matplotlib's object API (no pyplot) under one lock; fonts come from demo.fonts, the canvas helper from
the diffusion plots. (The score curve of a run is a gr.LinePlot drawn in the browser, which is cheap
enough to stream.)
"""

from __future__ import annotations

import threading

import numpy as np

from . import i18n_clip  # noqa: F401  (adds the CLIP strings this module draws)
from .plots_common import plot_label, render
from .fonts import configure

_LOCK = threading.Lock()
BAR, TOP = "#90a4ae", "#2e7d32"


def similarity_bars(captions: list[str], probs: np.ndarray, cosine: np.ndarray, lang: str) -> np.ndarray:
    """One horizontal bar per caption: its softmax probability, the cosine written beside it."""
    from matplotlib.figure import Figure

    configure()  # a Chinese caption draws in the CJK face even in the English UI
    probs = np.asarray(probs, dtype=np.float64).reshape(-1)
    cosine = np.asarray(cosine, dtype=np.float64).reshape(-1)
    k = len(captions)
    top = int(np.argmax(probs)) if k else -1
    shown = [c if len(c) <= 30 else c[:29] + "…" for c in captions]
    with _LOCK:
        height = 0.85 + 0.36 * k  # inches: 0.6 below the bars for the axis label, 0.25 above
        fig = Figure(figsize=(5.6, height), dpi=100)
        ax = fig.add_axes((0.4, 0.6 / height, 0.56, 0.36 * k / height))
        ys = np.arange(k)
        ax.barh(ys, probs, color=[TOP if i == top else BAR for i in range(k)], height=0.7)
        for i in range(k):
            text = f"{probs[i]:.0%}  cos {cosine[i]:.3f}"
            if probs[i] > 0.6:  # inside a long bar, so it never runs off the figure
                ax.text(probs[i] - 0.01, i, text, va="center", ha="right", fontsize=8.5, color="white")
            else:
                ax.text(probs[i] + 0.01, i, text, va="center", fontsize=8.5, color="#37474f")
        ax.set_yticks(ys)
        ax.set_yticklabels([])
        for i, text in enumerate(shown):
            ax.text(-0.02, i, text, ha="right", va="center", transform=ax.get_yaxis_transform(), fontsize=10,
                    fontweight="bold" if i == top else "normal")
        ax.set_ylim(k - 0.5, -0.5)
        ax.set_xlim(0, 1.3)
        ax.set_xticks([0, 0.25, 0.5, 0.75, 1.0])
        ax.set_xticklabels(["0", "25%", "50%", "75%", "100%"], fontsize=8)
        ax.set_xlabel(plot_label("clip.sees.bars.x", lang), fontsize=8.5)
        ax.spines["bottom"].set_bounds(0, 1)
        for side in ("top", "right"):
            ax.spines[side].set_visible(False)
        return render(fig)
