"""Small figures for the VAE tab, rendered server-side to uint8 RGB arrays.

matplotlib's object API (Figure + Agg canvas) only: no pyplot, no global backend. One lock,
since matplotlib's font cache is not thread-safe. The scatter's axes sit at a fixed place in a
fixed-size figure (no tight bbox), so a click's pixel maps back to z exactly.
"""

from __future__ import annotations

import math
import threading
from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageDraw

from .plots_common import render

_LOCK = threading.Lock()
LOG_2PI = math.log(2 * math.pi)
BAND_COLOURS = ("#cfe8cf", "#fbe3b6", "#f6c7c1")  # within 1, 2, 3 standard deviations
DOT_COLOURS = ("#2e7d32", "#e08a00", "#c62828", "#6a1b9a")  # |z| < 1, < 2, < 3, beyond


def log_prior(z: np.ndarray) -> float:
    """log N(z; 0, I) in nats: -D/2 log 2 pi - |z|^2 / 2."""
    z = np.asarray(z, dtype=np.float64)
    return float(-0.5 * z.size * LOG_2PI - 0.5 * np.dot(z, z))


def prior_plot(z: np.ndarray, max_dims: int = 32) -> np.ndarray:
    """Each coordinate z_j as a dot on its row, over the N(0, 1) density and +-1/2/3 sigma bands."""
    from matplotlib.figure import Figure

    z = np.asarray(z, dtype=np.float64).reshape(-1)
    shown = z[:max_dims]
    d = len(shown)
    lim = max(3.6, min(6.0, float(np.abs(shown).max(initial=0)) + 0.4))
    with _LOCK:
        height = 1.2 + 0.19 * d  # inches: 0.7 below the axes for the x label, 0.5 above for the title
        fig = Figure(figsize=(4.6, height), dpi=100)
        ax = fig.add_axes((0.13, 0.7 / height, 0.84, 0.19 * d / height))
        for k in (3, 2, 1):
            ax.axvspan(-k, k, color=BAND_COLOURS[k - 1], lw=0)
        xs = np.linspace(-lim, lim, 200)
        density = np.exp(-0.5 * xs**2)  # N(0, 1) up to scale, drawn across all rows
        ax.fill_between(xs, d - 0.5, d - 0.5 - density * d * 0.9, color="#9e9e9e", alpha=0.25, lw=0)
        band = np.minimum(np.floor(np.abs(shown)), 3).astype(int)
        ys = np.arange(d)
        ax.hlines(ys, -lim, lim, colors="#ffffff", lw=0.6)
        ax.scatter(shown, ys, s=28, c=[DOT_COLOURS[b] for b in band], zorder=3, edgecolors="white", linewidths=0.5)
        ax.set_xlim(-lim, lim)
        ax.set_ylim(d - 0.5, -0.5)
        ax.set_yticks(ys, [f"z{j + 1}" for j in ys], fontsize=7)
        ax.set_xticks([-3, -2, -1, 0, 1, 2, 3])
        ax.tick_params(axis="x", labelsize=8)
        ax.set_xlabel("$z_j$   ( $p(z_j) = \\mathcal{N}(0, 1)$ )", fontsize=8)
        lp = log_prior(z)
        top = -0.5 * z.size * LOG_2PI
        ax.set_title(f"$\\log p(z)$ = {lp:.1f}   ($\\max$ = {top:.1f}, $z = 0$)", fontsize=9)
        for side in ("top", "right"):
            ax.spines[side].set_visible(False)
        return render(fig)


@dataclass(frozen=True)
class MapGeometry:
    """Where the scatter's axes lie in its picture: pixels <-> z."""

    width: int  # picture width, pixels
    height: int
    left: float  # axes box in pixels, from the picture's top-left corner
    top: float
    right: float
    bottom: float
    lim: float  # both axes span [-lim, lim]

    def to_z(self, px: float, py: float) -> tuple[float, float] | None:
        if not (self.left <= px <= self.right and self.top <= py <= self.bottom):
            return None
        z1 = -self.lim + (px - self.left) / (self.right - self.left) * 2 * self.lim
        z2 = self.lim - (py - self.top) / (self.bottom - self.top) * 2 * self.lim
        return z1, z2

    def to_px(self, z1: float, z2: float) -> tuple[float, float]:
        px = self.left + (z1 + self.lim) / (2 * self.lim) * (self.right - self.left)
        py = self.top + (self.lim - z2) / (2 * self.lim) * (self.bottom - self.top)
        return px, py


SCATTER_SIZE = (5.0, 5.0)  # inches
SCATTER_DPI = 100
SCATTER_BOX = (0.12, 0.10, 0.85, 0.85)  # axes (left, bottom, width, height), figure fraction


def scatter(points: np.ndarray, labels: np.ndarray | None, lim: float, *, circles: str | None = None,
            title: str | None = None) -> tuple[np.ndarray, MapGeometry]:
    """Encoded means (N, 2) coloured by label on [-lim, lim]^2 -> (picture, geometry). circles: a
    colour to draw the prior's |z| = 1, 2, 3 circles in (the Autoencoder vs VAE maps)."""
    from matplotlib.figure import Figure
    from matplotlib.patches import Circle

    with _LOCK:
        fig = Figure(figsize=SCATTER_SIZE, dpi=SCATTER_DPI)
        ax = fig.add_axes(SCATTER_BOX)
        if len(points):
            colours = labels if labels is not None else "#1f77b4"
            sc = ax.scatter(points[:, 0], points[:, 1], c=colours, cmap="tab10", vmin=-0.5, vmax=9.5,
                            s=7, alpha=0.75, linewidths=0)
            if labels is not None:
                for digit in np.unique(labels):
                    ax.scatter([], [], color=sc.cmap(sc.norm(digit)), s=20, label=str(int(digit)))
                ax.legend(loc="upper right", fontsize=6.5, ncol=5, handletextpad=0.1, columnspacing=0.6,
                          framealpha=0.8, borderpad=0.3)
        for r, style in ((1, "-"), (2, "--"), (3, ":")) if circles else ():
            ax.add_patch(Circle((0, 0), r, fill=False, ec=circles, lw=1.4, ls=style, zorder=3))
        ax.set_xlim(-lim, lim)
        ax.set_ylim(-lim, lim)
        ax.set_xlabel("z₁", fontsize=9)
        ax.set_ylabel("z₂", fontsize=9)
        if title:
            ax.set_title(title, fontsize=9)
        ax.tick_params(labelsize=8)
        ax.grid(True, lw=0.4, alpha=0.4)
        picture = render(fig)
    h, w = picture.shape[:2]
    left, bottom, bw, bh = SCATTER_BOX
    geom = MapGeometry(width=w, height=h, left=left * w, top=(1 - bottom - bh) * h,
                       right=(left + bw) * w, bottom=(1 - bottom) * h, lim=lim)
    return picture, geom


def mark(picture: np.ndarray, geom: MapGeometry, z1: float, z2: float, radius: int = 7) -> np.ndarray:
    """A copy of the scatter with a crosshair at z (cheap: no re-render)."""
    im = Image.fromarray(picture)
    draw = ImageDraw.Draw(im)
    px, py = geom.to_px(z1, z2)
    px = min(max(px, geom.left), geom.right)
    py = min(max(py, geom.top), geom.bottom)
    draw.ellipse((px - radius, py - radius, px + radius, py + radius), outline=(0, 0, 0), width=3)
    draw.ellipse((px - radius + 2, py - radius + 2, px + radius - 2, py + radius - 2), outline=(255, 255, 255), width=1)
    draw.line((px - 2 * radius, py, px - radius, py), fill=(0, 0, 0), width=2)
    draw.line((px + radius, py, px + 2 * radius, py), fill=(0, 0, 0), width=2)
    draw.line((px, py - 2 * radius, px, py - radius), fill=(0, 0, 0), width=2)
    draw.line((px, py + radius, px, py + 2 * radius), fill=(0, 0, 0), width=2)
    return np.asarray(im)


def mark_grid(grid: np.ndarray, n: int, span: float, z1: float, z2: float) -> np.ndarray:
    """A copy of the decoded grid picture with a red ring at z (grid cells centred on linspace)."""
    h, w = grid.shape[:2]
    cell = w / n
    half = span / (n - 1) if n > 1 else span
    lim = span + half
    px = (z1 + lim) / (2 * lim) * w
    py = (lim - z2) / (2 * lim) * h
    im = Image.fromarray(grid if grid.ndim == 3 else np.stack([grid] * 3, -1)).convert("RGB")
    draw = ImageDraw.Draw(im)
    r = max(4, cell * 0.45)
    draw.ellipse((px - r, py - r, px + r, py + r), outline=(230, 40, 40), width=max(2, int(cell // 14)))
    return np.asarray(im)


def sigma_bars(sigma: np.ndarray) -> np.ndarray:
    """Posterior sigma per dimension as bars, with the prior's sigma = 1 as a line."""
    from matplotlib.figure import Figure

    sigma = np.asarray(sigma, dtype=np.float64).reshape(-1)[:64]
    d = len(sigma)
    with _LOCK:
        fig = Figure(figsize=(4.6, 2.2), dpi=100)
        ax = fig.add_axes((0.11, 0.2, 0.86, 0.72))
        colours = ["#9e9e9e" if s > 0.8 else "#1565c0" for s in sigma]
        ax.bar(np.arange(1, d + 1), sigma, color=colours, width=0.75)
        ax.axhline(1.0, color="#c62828", lw=1, ls="--")
        ax.text(d + 0.4, 1.0, "σ = 1: p(z)", color="#c62828", fontsize=7, va="bottom", ha="right")
        ax.set_ylim(0, max(1.15, float(sigma.max(initial=0)) * 1.1))
        ax.set_xlim(0.4, d + 0.6)
        step = 1 if d <= 16 else max(1, d // 16)
        ax.set_xticks(np.arange(1, d + 1, step), [f"z{j}" for j in range(1, d + 1, step)], fontsize=6.5)
        ax.tick_params(axis="y", labelsize=7)
        ax.set_ylabel("σ", fontsize=8)
        for side in ("top", "right"):
            ax.spines[side].set_visible(False)
        return render(fig)
