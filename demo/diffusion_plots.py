"""Pictures for the diffusion tab, rendered server-side to uint8 RGB arrays.

The schedule plots (beta_t, abar_t, SNR_t for the linear and cosine schedules) are drawn once per
(T, schedule, language) and cached, together with where every point of every curve landed in
pixels; moving t then only draws a marker on a copy with PIL, so the slider stays live. Figures use
matplotlib's object API (no pyplot) under one lock, as in vae_plots.
"""

from __future__ import annotations

import math
import os
import tempfile
import threading
import time
import uuid
from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageDraw

from engines.train import image_grid

from .fonts import plot_lang
from .plots_common import latin_font, plot_label, render

_LOCK = threading.Lock()
COLOURS = {"linear": "#1565c0", "cosine": "#e65100"}


# --- schedules ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SchedulePicture:
    picture: np.ndarray                       # uint8 (H, W, 3)
    x_of_t: tuple[np.ndarray, ...]            # per panel: pixel x of t = 0..T
    curves: dict                              # (panel, schedule) -> pixel (x, y) of t = 1..T, (T, 2)
    top: tuple[float, ...]                    # per panel: pixel y of the axes' top and bottom
    bottom: tuple[float, ...]


PANELS = (("beta", r"$\beta_t$", "log"), ("abar", r"$\bar\alpha_t$", "linear"),
          ("snr", r"SNR$_t = \bar\alpha_t\,/\,(1-\bar\alpha_t)$", "log"))


_SCHEDULES: dict = {}
_SCHEDULES_LOCK = threading.Lock()


def schedule_picture(schedules: dict, model_schedule: str, lang: str) -> SchedulePicture:
    """beta_t, abar_t and SNR_t of both schedules over t = 1..T, the model's own in a heavier line."""
    lang = plot_lang(lang)
    T = len(schedules["linear"]["beta"])
    key = (T, model_schedule, lang)
    with _SCHEDULES_LOCK:
        if key in _SCHEDULES:
            return _SCHEDULES[key]
    pic = _draw_schedules(schedules, model_schedule, lang)
    with _SCHEDULES_LOCK:
        _SCHEDULES[key] = pic
        while len(_SCHEDULES) > 16:
            _SCHEDULES.pop(next(iter(_SCHEDULES)))
    return pic


def _draw_schedules(schedules: dict, model_schedule: str, lang: str) -> SchedulePicture:
    from matplotlib.figure import Figure

    T = len(schedules["linear"]["beta"])
    ts = np.arange(1, T + 1)
    with _LOCK:
        fig = Figure(figsize=(9.6, 2.75), dpi=100)
        axes = [fig.add_axes((0.06 + i * 0.33, 0.16, 0.265, 0.72)) for i in range(3)]
        handles, texts = [], []
        for ax, (name, title, scale) in zip(axes, PANELS):
            for sched in ("linear", "cosine"):
                values = schedules[sched][name]
                own = sched == model_schedule
                ln, = ax.plot(ts, np.clip(values, 1e-9, None) if scale == "log" else values, color=COLOURS[sched],
                              lw=2.2 if own else 1.4, ls="-" if own else "--")
                if name == "abar":
                    text = plot_label(f"diffusion.plot.{sched}", lang)
                    if own:
                        text += " " + plot_label("diffusion.plot.this_model", lang)
                    handles.append(ln)
                    texts.append(text)
            ax.set_yscale(scale)
            if scale == "log":
                lo = min(float(np.clip(schedules[s][name], 1e-9, None).min()) for s in schedules)
                hi = max(float(schedules[s][name].max()) for s in schedules)
                ax.set_ylim(max(lo, 1e-7) / 3, hi * 3)
            ax.set_xlim(0, T)
            ax.set_title(title, fontsize=9)
            ax.set_xlabel("t", fontsize=8, labelpad=1)
            ax.tick_params(labelsize=7)
            ax.grid(True, lw=0.4, alpha=0.4)
            for side in ("top", "right"):
                ax.spines[side].set_visible(False)
        axes[1].legend(handles, texts, loc="upper right", frameon=False, fontsize=8)
        picture = render(fig)
        h = picture.shape[0]
        x_of_t, top, bottom, curves = [], [], [], {}
        for i, (ax, (name, _, scale)) in enumerate(zip(axes, PANELS)):
            xs = ax.transData.transform(np.stack([np.arange(T + 1), np.ones(T + 1)], 1))[:, 0]
            x_of_t.append(xs)
            (_, y0), (_, y1) = ax.transAxes.transform([(0, 0), (1, 1)])
            top.append(h - y1)
            bottom.append(h - y0)
            for sched in ("linear", "cosine"):
                values = schedules[sched][name]
                if scale == "log":
                    values = np.clip(values, 1e-9, None)
                px = ax.transData.transform(np.stack([ts, values], 1))
                px[:, 1] = h - px[:, 1]
                lo, hi = top[-1], bottom[-1]
                px[:, 1] = np.clip(px[:, 1], lo, hi)
                curves[(i, sched)] = px
    return SchedulePicture(picture, tuple(x_of_t), curves, tuple(top), tuple(bottom))


def mark_schedules(pic: SchedulePicture, t: int) -> np.ndarray:
    """A copy of the schedule plots with t marked: a line in every panel and a dot on each curve."""
    im = Image.fromarray(pic.picture)
    draw = ImageDraw.Draw(im)
    for i, xs in enumerate(pic.x_of_t):
        x = float(xs[min(max(t, 0), len(xs) - 1)])
        draw.line((x, pic.top[i], x, pic.bottom[i]), fill=(198, 40, 40), width=2)
        if t >= 1:
            for sched in ("cosine", "linear"):
                px, py = pic.curves[(i, sched)][t - 1]
                r = 4.5
                draw.ellipse((px - r, py - r, px + r, py + r), fill=_rgb(COLOURS[sched]), outline=(255, 255, 255), width=1)
    return np.asarray(im)


def _rgb(hex_colour: str) -> tuple[int, int, int]:
    return tuple(int(hex_colour[i:i + 2], 16) for i in (1, 3, 5))


# --- histogram ------------------------------------------------------------------------------------

HIST_RANGE = 4.0
HIST_BINS = np.linspace(-HIST_RANGE, HIST_RANGE, 65)
_GAUSS_X = np.linspace(-HIST_RANGE, HIST_RANGE, 200)
_GAUSS_Y = np.exp(-0.5 * _GAUSS_X**2) / math.sqrt(2 * math.pi)


def _density(values) -> np.ndarray:
    clipped = np.clip(np.asarray(values, np.float64).reshape(-1), -HIST_RANGE + 1e-6, HIST_RANGE - 1e-6)
    return np.histogram(clipped, bins=HIST_BINS, density=True)[0]


@dataclass
class _Histogram:
    """One histogram figure kept drawn, for one x_0 and language: its background (axes, ticks,
    labels) rendered once; each move restores it and draws only what changes (blitting)."""

    canvas: object
    background: object
    fill: object      # x_t's filled steps
    moving: list      # the lines drawn over it, in order: x_0's outline, N(0, 1) (the legend, in the upper
                      # right where x_t's steps never reach, stays in the background)
    title: object


_HISTOGRAMS: dict = {}  # (x_0's histogram, language) -> _Histogram, newest last
_HISTOGRAMS_KEPT = 8


def histogram(values: np.ndarray, t: int, lang: str, start: np.ndarray | None = None) -> np.ndarray:
    """Density histogram of x_t's pixel values (data scale: -1 black, +1 white) against N(0, 1),
    with x_0's histogram (`start`, the same scale) as an outline to drift away from.

    With `start` (the forward-process slider), the figure for that x_0 is drawn once and each t only
    redraws x_t's steps, the lines over them and the title: a few ms instead of a full figure's
    tens. Its y range is x_0's (the histogram starts there and only spreads out as t grows)."""
    lang = plot_lang(lang)
    values = np.asarray(values, dtype=np.float64).reshape(-1)
    density = _density(values)
    title = plot_label("diffusion.plot.hist_title", lang).format(t=t, mean=values.mean(), std=values.std())
    if start is None:
        ylim = max(0.6, min(float(density.max(initial=0)) * 1.08, 4.0))
        with _LOCK:
            fig, _, _, title_artist = _histogram_figure(density, None, ylim, lang)
            title_artist.set_text(title)
            return render(fig)
    ref = _density(start)
    key = (ref.round(6).tobytes(), lang)
    with _LOCK:
        drawn = _HISTOGRAMS.pop(key, None) or _draw_histogram(ref, lang)
        _HISTOGRAMS[key] = drawn
        while len(_HISTOGRAMS) > _HISTOGRAMS_KEPT:
            _HISTOGRAMS.pop(next(iter(_HISTOGRAMS)))
        drawn.canvas.restore_region(drawn.background)
        drawn.fill.set_data(values=density)
        drawn.title.set_text(title)
        renderer = drawn.canvas.get_renderer()
        for artist in (drawn.fill, *drawn.moving, drawn.title):
            artist.draw(renderer)
        return np.asarray(drawn.canvas.buffer_rgba())[:, :, :3].copy()


def _histogram_figure(density, ref, ylim: float, lang: str):
    """-> (figure, x_t's fill, [x_0's outline, N(0, 1)], title): x_t drawn under the lines."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=(4.4, 2.75), dpi=100)
    ax = fig.add_axes((0.12, 0.17, 0.84, 0.66))
    # One filled step patch, not 64 bars: the same picture, a third less drawing on every t move.
    fill = ax.stairs(density, HIST_BINS, fill=True, color="#7e57c2", alpha=0.75, lw=0, label="$x_t$")
    moving = []
    if ref is not None:
        moving.append(ax.stairs(ref, HIST_BINS, color="#9e9e9e", lw=1.0, ls="--", label="$x_0$"))
    moving.append(ax.plot(_GAUSS_X, _GAUSS_Y, color="#212121", lw=1.6, label=r"$\mathcal{N}(0, 1)$")[0])
    ax.set_xlim(-HIST_RANGE, HIST_RANGE)
    ax.set_ylim(0, ylim)
    ax.set_xlabel(plot_label("diffusion.plot.pixel", lang), labelpad=1, fontsize=8)
    ax.tick_params(labelsize=7)
    handles = ax.get_legend_handles_labels()[0]
    ax.legend(handles=handles[1:] + handles[:1], fontsize=8, frameon=False, loc="upper right")
    title = ax.set_title(" ", fontsize=9)
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    return fig, fill, moving, title


def _draw_histogram(ref: np.ndarray, lang: str) -> _Histogram:
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    ylim = max(0.6, min(float(ref.max(initial=0)) * 1.08, 4.0))
    fig, fill, moving, title = _histogram_figure(ref, ref, ylim, lang)
    title.set_text("t = 0000, mean = -0.000, std = 0.000")  # the title's place, laid out once
    for artist in (fill, *moving, title):
        artist.set_animated(True)  # left out of the background
    canvas = FigureCanvasAgg(fig)
    canvas.draw()
    return _Histogram(canvas, canvas.copy_from_bbox(fig.bbox), fill, moving, title)


# --- batches of images ----------------------------------------------------------------------------


def grid(images: np.ndarray, side: int = 300) -> np.ndarray:
    """A batch (B, H, W, C) -> one picture, about `side` pixels wide, upscaled crisply (nearest)."""
    g = image_grid(images, pad=2, pad_value=255)
    k = max(1, round(side / g.shape[1]))
    g = g.repeat(k, axis=0).repeat(k, axis=1)
    return g[:, :, 0] if g.shape[2] == 1 else g


def labelled_strip(columns: list[tuple[str, np.ndarray]], rows: list[str] | None = None, *, scale: int = 4,
                   gap: int = 6) -> np.ndarray:
    """Columns of pictures (each (R, H, W, C) uint8 stacked rows) side by side, a caption above each.

    columns: [(caption, pictures (R, H, W, C))]; rows: an optional label left of each row.
    """
    font = latin_font(13)
    r, h, w, _ = columns[0][1].shape
    cell_w, cell_h = w * scale, h * scale
    left = 0
    if rows:
        left = max(int(font.getlength(text)) for text in rows) + 10
    head = 22
    width = left + len(columns) * (cell_w + gap) - gap
    height = head + r * (cell_h + gap) - gap
    im = Image.new("RGB", (width, height), (255, 255, 255))
    draw = ImageDraw.Draw(im)
    for j, (caption, pics) in enumerate(columns):
        x = left + j * (cell_w + gap)
        tw = font.getlength(caption)
        draw.text((x + (cell_w - tw) / 2, 3), caption, fill=(30, 30, 30), font=font)
        for i in range(r):
            pic = pics[i]
            pic = np.repeat(pic, 3, axis=2) if pic.shape[2] == 1 else pic
            pic = pic.repeat(scale, axis=0).repeat(scale, axis=1)
            im.paste(Image.fromarray(pic), (x, head + i * (cell_h + gap)))
    for i, text in enumerate(rows or []):
        y = head + i * (cell_h + gap) + cell_h / 2 - 8
        draw.text((2, y), text, fill=(30, 30, 30), font=font)
    return np.asarray(im)


# --- export ---------------------------------------------------------------------------------------

EXPORT_FRAMES = 120  # at most this many frames per animation; longer runs are subsampled evenly
_EXPORT_DIR = tempfile.mkdtemp(prefix="genlab-diffusion-")


def mp4_available() -> bool:
    """True when imageio with its ffmpeg plugin is installed (neither is a requirement of GenLab)."""
    try:
        import imageio.v2  # noqa: F401
        import imageio_ffmpeg  # noqa: F401
    except ImportError:
        return False
    return True


def export_path(suffix: str) -> str:
    cutoff = time.time() - 600
    for name in os.listdir(_EXPORT_DIR):  # exports older than 10 minutes were served long ago
        path = os.path.join(_EXPORT_DIR, name)
        try:
            if os.path.getmtime(path) < cutoff:
                os.remove(path)
        except OSError:
            pass
    return os.path.join(_EXPORT_DIR, f"trajectory-{uuid.uuid4().hex[:8]}{suffix}")


def animation_frames(traj, *, side: int = 240) -> list[np.ndarray]:
    """RGB frames of a run: x_t and the predicted x_0 of the whole batch side by side, t written above."""
    steps = traj.frame_steps()
    if len(steps) > EXPORT_FRAMES:
        keep = np.unique(np.round(np.linspace(0, len(steps) - 1, EXPORT_FRAMES)).astype(int))
    else:
        keep = np.arange(len(steps))
    font = latin_font(15)
    frames = []
    for k in keep:
        f = traj.frame(int(k))
        left, right = grid(f["x_t"], side), grid(f["x0"], side)
        left = np.stack([left] * 3, -1) if left.ndim == 2 else left
        right = np.stack([right] * 3, -1) if right.ndim == 2 else right
        h, w = left.shape[:2]
        head, gap = 24, 12
        im = Image.new("RGB", (2 * w + gap, h + head), (255, 255, 255))
        im.paste(Image.fromarray(left), (0, head))
        im.paste(Image.fromarray(right), (w + gap, head))
        draw = ImageDraw.Draw(im)
        draw.text((4, 3), f"x_t,  t = {f['t']}", fill=(20, 20, 20), font=font)
        draw.text((w + gap + 4, 3), "predicted x_0", fill=(20, 20, 20), font=font)
        frames.append(np.asarray(im))
    return frames


def write_gif(frames: list[np.ndarray], path: str, *, ms: int = 60, hold_ms: int = 1500) -> str:
    images = [Image.fromarray(f) for f in frames]
    durations = [ms] * (len(images) - 1) + [hold_ms]
    images[0].save(path, save_all=True, append_images=images[1:], duration=durations, loop=0, optimize=False)
    return path


def write_mp4(frames: list[np.ndarray], path: str, *, fps: int = 16, hold_s: float = 1.5) -> str:
    import imageio.v2 as imageio

    h, w = frames[0].shape[:2]
    h2, w2 = h + h % 2, w + w % 2  # H.264 wants even sides
    padded = [np.pad(f, ((0, h2 - h), (0, w2 - w), (0, 0)), constant_values=255) for f in frames]
    padded += [padded[-1]] * int(hold_s * fps)
    imageio.mimwrite(path, padded, fps=fps, codec="libx264", quality=8, macro_block_size=1)
    return path
