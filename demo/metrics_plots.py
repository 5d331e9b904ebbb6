"""The Metrics tab's charts: FID against N and 1/N with KID beside it, and the trilemma (speed,
quality, diversity). Matplotlib's object API (no pyplot), drawn to pixels by plots_common.render."""

from __future__ import annotations

import threading

import numpy as np

from .fonts import configure
from .plots_common import plot_label, render

_LOCK = threading.Lock()  # one figure at a time (font set-up and Agg's caches are shared)
BLUE, RED, GREY = "#3b6fb6", "#c0392b", "#888888"


def _tidy(ax, title: str, xlabel: str, ylabel: str | None = None) -> None:
    ax.set_title(title, fontsize=10)
    ax.set_xlabel(xlabel, fontsize=9)
    if ylabel:
        ax.set_ylabel(ylabel, fontsize=9)
    ax.tick_params(labelsize=8)
    ax.grid(True, lw=0.4, alpha=0.4)
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)


def curve_chart(curve: dict, lang: str) -> np.ndarray:
    """A `fid_curve` dict -> three panels: FID against N (log), FID against 1/N with the fitted line
    to 1/N = 0, KID against N."""
    from matplotlib.figure import Figure

    configure()
    ns = np.asarray(curve["n"], np.float64)
    fid, std = np.asarray(curve["fid"]), np.asarray(curve["fid_std"])
    with _LOCK:
        fig = Figure(figsize=(11, 3.3), dpi=100)
        axes = [fig.add_axes((0.06 + i * 0.33, 0.17, 0.26, 0.7)) for i in range(3)]
        axes[0].errorbar(ns, fid, yerr=std, color=BLUE, marker="o", ms=4, capsize=3)
        axes[0].set_xscale("log")
        _tidy(axes[0], plot_label("metrics.plot.fid_vs_n", lang), plot_label("metrics.plot.n", lang), "FID")
        axes[1].errorbar(1 / ns, fid, yerr=std, color=BLUE, marker="o", ms=4, capsize=3, ls="none")
        if curve.get("fid_infinity") is not None:
            xs = np.linspace(0, float((1 / ns).max()), 50)
            axes[1].plot(xs, curve["fid_infinity"] + curve["slope"] * xs, color=RED, lw=1.2, ls="--")
            axes[1].plot([0], [curve["fid_infinity"]], marker="*", ms=12, color=RED)
            axes[1].annotate(f"{plot_label('metrics.plot.infinity', lang)}: {curve['fid_infinity']:.1f}",
                             (0, curve["fid_infinity"]), xytext=(8, -14), textcoords="offset points", fontsize=8,
                             color=RED)
            lo = min(curve["fid_infinity"], float((fid - std).min()))
            hi = float((fid + std).max())
            axes[1].set_ylim(lo - 0.15 * (hi - lo), hi + 0.05 * (hi - lo))  # room for the label under the star
        axes[1].set_xlim(left=-0.0005)
        _tidy(axes[1], plot_label("metrics.plot.fid_vs_inv", lang), plot_label("metrics.plot.inv_n", lang))
        axes[2].plot(ns, curve["kid"], color=GREY, marker="s", ms=4)
        axes[2].axhline(0, color="black", lw=0.6)
        axes[2].set_xscale("log")
        _tidy(axes[2], plot_label("metrics.plot.kid_vs_n", lang), plot_label("metrics.plot.n", lang), "KID")
        return render(fig)


def trilemma_chart(rows: list[dict], lang: str) -> np.ndarray:
    """Rows with label, ms_per_image, fid, recall (a "live" flag for points computed now) -> one scatter:
    speed (log x) against FID, coloured by recall."""
    from matplotlib.figure import Figure

    configure()
    with _LOCK:
        fig = Figure(figsize=(8.2, 4.4), dpi=100)
        ax = fig.add_axes((0.09, 0.12, 0.72, 0.78))
        cax = fig.add_axes((0.86, 0.12, 0.03, 0.78))
        xs = [max(float(r["ms_per_image"]), 1e-3) for r in rows]
        ys = [float(r["fid"]) for r in rows]
        cs = [float(r["recall"]) for r in rows]
        edge = ["black" if r.get("live") else "white" for r in rows]
        points = ax.scatter(xs, ys, c=cs, cmap="viridis", vmin=0, vmax=1, s=90, edgecolors=edge, linewidths=1.2)
        for x, y, r in zip(xs, ys, rows):
            ax.annotate(r["label"], (x, y), xytext=(6, 4), textcoords="offset points", fontsize=7.5)
        ax.set_xscale("log")
        if xs:
            ax.set_xlim(min(xs) / 2, max(xs) * 4)
        _tidy(ax, plot_label("metrics.tri.plot.title", lang), plot_label("metrics.tri.plot.speed", lang),
              plot_label("metrics.tri.plot.fid", lang))
        bar = fig.colorbar(points, cax=cax)
        bar.set_label(plot_label("metrics.tri.plot.recall", lang), fontsize=9)
        bar.ax.tick_params(labelsize=8)
        return render(fig)
