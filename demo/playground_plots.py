"""The 2-D playground's pictures, drawn straight into numpy / PIL images (no matplotlib).

One frame is one RGB image: two square panels side by side (what each shows depends on the
model) above a strip of two small charts (the distance between model and data, and the losses,
against training steps). Drawing with PIL is what keeps play above 10 frames a second on a
small CPU: benchmarks/playground_fps.py measures it against a matplotlib frame.
"""

from __future__ import annotations

import functools
import math

import numpy as np
from PIL import Image, ImageDraw

from engines.toy2d import EXTENT, MIN_DRAWN

from . import i18n_playground  # noqa: F401 (registers the strings)
from .fonts import pil_font, plot_lang
from .i18n import t

PANEL = 360            # pixels per square panel
GAP = 12               # pixels between the panels
TITLE = 26             # pixels above each panel for its title
CHART_H = 150          # pixels of the chart strip
WIDTH = 2 * PANEL + GAP
HEIGHT = TITLE + PANEL + 8 + CHART_H
LATENT_EXTENT = 3.5    # the VAE's latent panel covers z in [-LATENT_EXTENT, LATENT_EXTENT]^2

REAL = (46, 160, 67)          # data points (green, as in GAN Lab)
FAKE = (142, 68, 173)         # model samples (purple)
ARROW = (90, 30, 120)
TRAJ = (230, 126, 34)         # diffusion paths
FIELD = (21, 101, 192)        # score arrows
GRID_LINE = (225, 225, 225)
AXIS = (120, 120, 120)
TEXT = (40, 40, 40)
HEAT_LOW = np.array((205, 170, 235), np.float32)   # D says "fake"
HEAT_MID = np.array((250, 250, 250), np.float32)
HEAT_HIGH = np.array((160, 220, 170), np.float32)  # D says "real"
CURVES = [(21, 101, 192), (230, 81, 0), (46, 160, 67), (142, 68, 173), (120, 120, 120)]

def font(size: int):
    """Pillow has no per-glyph fallback: the CJK face (it has Latin letters too) draws all text where
    the machine has one, else DejaVu Sans; without it the frame's labels are English (render's plot_lang)."""
    return pil_font(size)


# --- coordinates ---------------------------------------------------------------------------------


def to_px(points: np.ndarray, extent: float = EXTENT, side: int = PANEL) -> np.ndarray:
    """Data coordinates (..., 2), y up -> pixel coordinates (..., 2) in a side x side panel, y down."""
    p = np.asarray(points, np.float32)
    x = (p[..., 0] + extent) / (2 * extent) * side
    y = (extent - p[..., 1]) / (2 * extent) * side
    return np.stack([x, y], -1)


def from_px(px: np.ndarray, extent: float = EXTENT, side: int = PANEL) -> np.ndarray:
    """The inverse of to_px: pixel coordinates (..., 2) in a panel, y down -> data coordinates, y up.
    Pixels are continuous: (0, 0) is the panel's top-left corner, (side, side) its bottom-right one."""
    p = np.asarray(px, np.float64)
    x = p[..., 0] / side * 2 * extent - extent
    y = extent - p[..., 1] / side * 2 * extent
    return np.stack([x, y], -1)


# Which panels of a model's frame show data space (the VAE's right panel is its latent space).
DATA_PANELS = {"gan": (0, 1), "diffusion": (0, 1), "vae": (0,)}


def panel_at(x: float, y: float) -> int | None:
    """The panel (0 left, 1 right) under the frame pixel (x, y), or None (titles, gap, charts, outside)."""
    for k in (0, 1):
        left = k * (PANEL + GAP)
        if left <= x <= left + PANEL and TITLE <= y <= TITLE + PANEL:
            return k
    return None


def data_at(model: str, positions, panel: int | None = None) -> tuple[int | None, np.ndarray]:
    """Frame pixels (P, 2) -> (the panel, data coordinates (K, 2)) for a model's frame.

    The panel is the one under the first position (or `panel`), if it shows data space; positions
    outside it are dropped (a stroke that runs off its panel keeps its inside part). Nothing on a
    data panel: (None, empty)."""
    pos = np.asarray(positions, np.float64).reshape(-1, 2)
    if panel is None:
        panel = panel_at(*pos[0]) if len(pos) else None
    if panel not in DATA_PANELS.get(model, ()):
        return None, np.zeros((0, 2))
    local = pos - np.array([panel * (PANEL + GAP), TITLE])
    inside = ((local >= 0) & (local <= PANEL)).all(1)
    return panel, from_px(local[inside])


def hue_colours(points: np.ndarray) -> np.ndarray:
    """A colour per point from its angle around the origin (N, 3) uint8: the same point keeps its
    colour in data space and in the VAE's latent space, so the mapping can be followed."""
    p = np.asarray(points, np.float32)
    h = (np.arctan2(p[:, 1], p[:, 0]) / (2 * math.pi)) % 1.0
    k = (np.array([5.0, 3.0, 1.0])[None] + h[:, None] * 6) % 6
    rgb = 1 - 0.75 * np.clip(np.minimum(k, 4 - k), 0, 1)  # HSV with s = 0.75, v = 1
    return (rgb * 215).astype(np.uint8)


# --- drawing primitives ----------------------------------------------------------------------------


def _blank(colour=(255, 255, 255)) -> Image.Image:
    return Image.new("RGB", (PANEL, PANEL), colour)


def _axes(draw: ImageDraw.ImageDraw, extent: float) -> None:
    """Light grid lines at the whole numbers, darker axes through 0."""
    for v in range(-int(extent), int(extent) + 1):
        (x, y), = to_px(np.array([[v, v]], np.float32), extent)
        colour = (200, 200, 200) if v == 0 else GRID_LINE
        draw.line([(x, 0), (x, PANEL)], fill=colour)
        draw.line([(0, y), (PANEL, y)], fill=colour)


@functools.lru_cache(maxsize=2)
def _axes_panel(extent: float) -> Image.Image:
    """A white panel with its grid lines, drawn once: callers draw on a copy."""
    img = _blank()
    _axes(ImageDraw.Draw(img), extent)
    return img


def _dots(draw: ImageDraw.ImageDraw, px: np.ndarray, colour, r: float = 2.2, colours: np.ndarray | None = None,
          outline=None) -> None:
    inside = np.isfinite(px).all(1) & (px > -r).all(1) & (px < PANEL + r).all(1)
    # Python lists: PIL takes them as they are, numpy scalars it converts one by one (2-3x slower).
    fills = map(tuple, colours[inside].tolist()) if colours is not None else [colour] * int(inside.sum())
    for (x, y), fill in zip(px[inside].tolist(), fills):
        draw.ellipse([x - r, y - r, x + r, y + r], fill=fill, outline=outline)


def _arrows(draw: ImageDraw.ImageDraw, start: np.ndarray, vec: np.ndarray, colour, width: int = 1,
            head: float = 4.0) -> None:
    """Arrows from start (N, 2) along vec (N, 2), both in pixels."""
    for (x0, y0), (dx, dy) in zip(np.asarray(start).tolist(), np.asarray(vec).tolist()):
        length = math.hypot(dx, dy)
        if not (math.isfinite(length) and length > 0.5):
            continue
        x1, y1 = x0 + dx, y0 + dy
        draw.line([(x0, y0), (x1, y1)], fill=colour, width=width)
        ux, uy = dx / length, dy / length
        h = min(head, length * 0.5)
        draw.polygon([(x1, y1), (x1 - h * ux + 0.6 * h * uy, y1 - h * uy - 0.6 * h * ux),
                      (x1 - h * ux - 0.6 * h * uy, y1 - h * uy + 0.6 * h * ux)], fill=colour)


def _scaled(vec: np.ndarray, longest_px: float) -> np.ndarray:
    """Vectors rescaled so that the longest is `longest_px` pixels (directions and ratios kept)."""
    v = np.nan_to_num(np.asarray(vec, np.float32))
    top = float(np.linalg.norm(v, axis=1).max()) if len(v) else 0.0
    if top <= 0:
        return v * 0
    return v / top * longest_px * np.array([1, -1], np.float32)  # y up in data, down in pixels


def heat_colours(values: np.ndarray, low: float, high: float) -> np.ndarray:
    """(S, S) values -> (S, S, 3) uint8: purple (low, "fake") through white to green (high, "real")."""
    span = high - low if high > low else 1.0
    u = np.clip((np.asarray(values, np.float32) - low) / span, 0, 1)[..., None]
    rgb = np.where(u < 0.5, HEAT_LOW + (HEAT_MID - HEAT_LOW) * (u * 2), HEAT_MID + (HEAT_HIGH - HEAT_MID) * (u * 2 - 1))
    return rgb.astype(np.uint8)


def _warped_grid(img: Image.Image, grid_px: np.ndarray, density: np.ndarray | None, colour=FAKE,
                 line=(150, 120, 175)) -> Image.Image:
    """A warped grid (M, M, 2 pixels): cells shaded by density (probability / area), edges drawn."""
    overlay = Image.new("RGBA", img.size, (0, 0, 0, 0))
    od = ImageDraw.Draw(overlay)
    g = grid_px.tolist()   # (M, M, 2) as lists: PIL reads them far faster than numpy scalars
    if density is not None:
        # A fixed scale, so that frames compare: density 1 per unit area (one mode of 8 Gaussians
        # holds ~1/8 of the mass on ~0.13 units^2) is mid-tone, 10 and more the darkest.
        d = np.nan_to_num(np.asarray(density, np.float64), nan=0.0, posinf=1e9)
        alpha = (np.clip(np.log1p(4 * d) / math.log1p(40), 0, 1) * 150).astype(int).tolist()
        for i, row in enumerate(alpha):
            for j, a in enumerate(row):
                if a < 4:
                    continue
                quad = [tuple(g[i][j]), tuple(g[i][j + 1]), tuple(g[i + 1][j + 1]), tuple(g[i + 1][j])]
                od.polygon(quad, fill=(*colour, a))
    for row in g:
        od.line([tuple(p) for p in row], fill=(*line, 170), width=1)
    for col in zip(*g):
        od.line([tuple(p) for p in col], fill=(*line, 170), width=1)
    return Image.alpha_composite(img.convert("RGBA"), overlay).convert("RGB")


def _legend(draw: ImageDraw.ImageDraw, items: list[tuple[str, tuple]], y: int = 4) -> None:
    x = 6
    f = font(12)
    width = sum(22 + int(draw.textlength(text, font=f)) for text, _ in items)
    draw.rectangle([2, y - 1, min(PANEL - 2, x + width), y + 16], fill=(255, 255, 255), outline=(225, 225, 225))
    for text, colour in items:
        draw.ellipse([x, y + 4, x + 8, y + 12], fill=colour)
        draw.text((x + 12, y), text, fill=TEXT, font=f)
        x += 22 + int(draw.textlength(text, font=f))


# --- panels ---------------------------------------------------------------------------------------


def gan_panels(frame, lang: str, show: set[str]) -> tuple[Image.Image, Image.Image]:
    """(D's heat map with real and fake points and G's gradient arrows, G's warped noise grid)."""
    lo, hi = frame.heat_range
    if "heat" in show:
        heat = Image.fromarray(heat_colours(frame.heat, lo, hi)).resize((PANEL, PANEL), Image.Resampling.BILINEAR)
        _axes(ImageDraw.Draw(heat), EXTENT)
    else:
        heat = _axes_panel(EXTENT).copy()
    draw = ImageDraw.Draw(heat)
    real, fake = to_px(frame.real), to_px(frame.fake)
    if "real" in show:
        _dots(draw, real, REAL)
    if "fake" in show:
        _dots(draw, fake, FAKE)
    if "arrows" in show and frame.arrows is not None:
        _arrows(draw, fake[: len(frame.arrows)], _scaled(frame.arrows, 28), ARROW)
    _legend(draw, [(t("pg.legend.real", lang), REAL), (t("pg.legend.fake", lang), FAKE)])

    manifold = _warped_grid(_axes_panel(EXTENT), to_px(frame.manifold), frame.density)
    draw = ImageDraw.Draw(manifold)
    if "real" in show:
        _dots(draw, real, REAL, r=1.6)
    _legend(draw, [(t("pg.legend.real", lang), REAL), (t("pg.legend.manifold", lang), FAKE)])
    return heat, manifold


def diffusion_panels(frame, lang: str, show: set[str]) -> tuple[Image.Image, Image.Image]:
    """(sample paths from noise to data, the learned score field at t)."""
    left = _axes_panel(EXTENT).copy()
    draw = ImageDraw.Draw(left)
    if "real" in show:
        _dots(draw, to_px(frame.real), (170, 215, 180), r=1.8)
    if "trajectories" in show and frame.trajectories is not None:
        paths = to_px(frame.trajectories)  # (T + 1, K, 2)
        for k in range(paths.shape[1]):
            draw.line([tuple(p) for p in paths[:, k].tolist()], fill=(245, 190, 140), width=1)
        _dots(draw, paths[0], (160, 160, 160), r=2.0)
    if "fake" in show:
        _dots(draw, to_px(frame.fake), TRAJ, r=2.0)
    _legend(draw, [(t("pg.legend.real", lang), REAL), (t("pg.legend.noise", lang), (160, 160, 160)),
                   (t("pg.legend.samples", lang), TRAJ)])

    right = _axes_panel(EXTENT).copy()
    draw = ImageDraw.Draw(right)
    _dots(draw, to_px(frame.noisy), (200, 200, 200), r=1.6)
    start = to_px(frame.field_pos)
    _arrows(draw, start, _scaled(frame.field_vec, 16), FIELD)
    _legend(draw, [(t("pg.legend.noisy", lang, t=frame.t_view), (200, 200, 200)),
                   (t("pg.legend.score", lang), FIELD)])
    return left, right


def vae_panels(frame, lang: str, show: set[str]) -> tuple[Image.Image, Image.Image]:
    """(data space: the decoder's image of the latent grid, data and samples; latent space: the
    encoded data on the prior's circles)."""
    colours = hue_colours(frame.real)
    left = _warped_grid(_axes_panel(EXTENT), to_px(frame.manifold), frame.density, colour=(21, 101, 192),
                        line=(120, 160, 210))
    draw = ImageDraw.Draw(left)
    if "fake" in show:
        _dots(draw, to_px(frame.fake), (60, 60, 60), r=1.5)
    if "real" in show:
        _dots(draw, to_px(frame.real), REAL, r=2.2, colours=colours)
    _legend(draw, [(t("pg.legend.real", lang), REAL),
                   (t("pg.legend.decoded", lang), (60, 60, 60))])

    right = _axes_panel(LATENT_EXTENT).copy()
    draw = ImageDraw.Draw(right)
    centre = PANEL / 2
    for k in (1, 2, 3):
        r = k / (2 * LATENT_EXTENT) * PANEL
        draw.ellipse([centre - r, centre - r, centre + r, centre + r], outline=(170, 170, 170))
    grid = to_px(frame.latent_grid, LATENT_EXTENT)
    for line in (*grid.tolist(), *grid.transpose(1, 0, 2).tolist()):
        draw.line([tuple(p) for p in line], fill=(200, 215, 235))
    _dots(draw, to_px(frame.latent_real, LATENT_EXTENT), REAL, r=2.2, colours=colours)
    _legend(draw, [(t("pg.legend.encoded", lang), REAL),
                   (t("pg.legend.prior", lang), (170, 170, 170))])
    return left, right


# --- charts ----------------------------------------------------------------------------------------


def _chart(draw: ImageDraw.ImageDraw, box: tuple[int, int, int, int], title: str,
           series: list[tuple[str, list, list]], *, ymin: float | None = None, recent: bool = False) -> None:
    """A small line chart in box (x0, y0, x1, y1): series of (name, steps, values).
    recent: the y range is that of the newer half of the steps (see below)."""
    x0, y0, x1, y1 = box
    f = font(12)
    draw.text((x0, y0), title, fill=TEXT, font=font(13))
    px0, py0, px1, py1 = x0 + 44, y0 + 20, x1 - 6, y1 - 16
    draw.rectangle([px0, py0, px1, py1], outline=(200, 200, 200))
    values = [v for _, _, vs in series for v in vs if v is not None and math.isfinite(v)]
    steps = [s for _, ss, _ in series for s in ss]
    if not values or not steps:
        return
    ranged = values
    if recent:  # a loss's first steps can be 100x the rest, which would flatten every later line:
        # take the range of the newer half (older points outside it are drawn on the box's edge)
        newer = []
        for _, ss, vs in series:  # the midpoint once per series (in the filter it made a frame O(steps^2))
            mid = (min(ss) + max(ss)) / 2 if ss else 0.0
            newer += [v for s, v in zip(ss, vs) if v is not None and math.isfinite(v) and s >= mid]
        ranged = newer if len(newer) > 4 else values
    lo, hi = min(ranged), max(ranged)
    lo = lo if ymin is None else min(ymin, lo)
    if hi - lo < 1e-9:
        hi, lo = hi + 0.5, lo - 0.5
    s_lo, s_hi = min(steps), max(max(steps), min(steps) + 1)
    draw.text((x0, py0 - 2), f"{hi:.3g}", fill=AXIS, font=f)
    draw.text((x0, py1 - 12), f"{lo:.3g}", fill=AXIS, font=f)
    draw.text((px0, py1 + 1), f"{s_lo}", fill=AXIS, font=f)
    end = f"{s_hi}"
    draw.text((px1 - draw.textlength(end, font=f), py1 + 1), end, fill=AXIS, font=f)
    lx = px0 + 60
    for k, (name, ss, vs) in enumerate(series):
        colour = CURVES[k % len(CURVES)]
        pts = [(px0 + (s - s_lo) / (s_hi - s_lo) * (px1 - px0),
                py1 - min(max((v - lo) / (hi - lo), 0.0), 1.0) * (py1 - py0))
               for s, v in zip(ss, vs) if v is not None and math.isfinite(v)]
        if len(pts) > 1:
            draw.line(pts, fill=colour, width=2)
        elif pts:
            draw.ellipse([pts[0][0] - 2, pts[0][1] - 2, pts[0][0] + 2, pts[0][1] + 2], fill=colour)
        if len(series) > 1:
            draw.text((lx, py1 + 1), name, fill=colour, font=f)
            lx += draw.textlength(name, font=f) + 12


def charts(frame, metric: str, lang: str) -> Image.Image:
    img = Image.new("RGB", (WIDTH, CHART_H), (255, 255, 255))
    draw = ImageDraw.Draw(img)
    h = frame.history
    name = t(f"pg.metric.{metric}", lang)
    title = t("pg.chart.distance", lang, metric=name, value=frame.distance[metric], step=frame.step)
    _chart(draw, (0, 0, PANEL, CHART_H), title, [(name, h["step"], h[metric])], ymin=0.0)
    losses = frame.losses
    _chart(draw, (PANEL + GAP, 0, WIDTH, CHART_H), t("pg.chart.loss", lang),
           [(k, losses["step"], v) for k, v in losses.items() if k != "step"], recent=True)
    return img


# --- the canvas: drawn data before there is a model -------------------------------------------------


def _centred(draw: ImageDraw.ImageDraw, box: tuple[int, int, int, int], lines: list[str], size: int = 14) -> None:
    f = font(size)
    x0, y0, x1, y1 = box
    top = (y0 + y1) / 2 - len(lines) * (size + 6) / 2
    for k, line in enumerate(lines):
        w = draw.textlength(line, font=f)
        draw.text(((x0 + x1 - w) / 2, top + k * (size + 6)), line, fill=(110, 110, 110), font=f)


def render_canvas(points, model: str, lang: str = "en") -> np.ndarray:
    """The frame of a model on drawn data that has too few points to learn yet: the data panels
    (where a click adds points) with the points so far, in the same places as a model's frame, so a
    click lands at the same data coordinates before and after the model appears."""
    lang = plot_lang(lang)
    pts = np.zeros((0, 2)) if points is None else np.asarray(points, np.float32).reshape(-1, 2)
    out = Image.new("RGB", (WIDTH, HEIGHT), (255, 255, 255))
    draw = ImageDraw.Draw(out)
    for k in (0, 1):
        x = k * (PANEL + GAP)
        if k in DATA_PANELS[model]:
            panel = _axes_panel(EXTENT).copy()
            pd = ImageDraw.Draw(panel)
            _dots(pd, to_px(pts), REAL)
            if len(pts) < 40:
                _centred(pd, (0, PANEL // 2, PANEL, PANEL), [t("pg.canvas.click", lang), t("pg.canvas.drag", lang)])
            title = t("pg.panel.canvas", lang)
        else:
            panel = _blank((248, 248, 248))
            _centred(ImageDraw.Draw(panel), (0, 0, PANEL, PANEL), [t("pg.canvas.later", lang)], size=13)
            title = t(f"pg.panel.{model}.right", lang)
        out.paste(panel, (x, TITLE))
        draw.rectangle([x, TITLE, x + PANEL - 1, TITLE + PANEL - 1], outline=(190, 190, 190))
        draw.text((x + 2, 4), title, fill=TEXT, font=font(14))
    _centred(draw, (0, TITLE + PANEL + 8, WIDTH, HEIGHT),
             [t("pg.canvas.count", lang, count=len(pts), min=MIN_DRAWN)], size=14)
    return np.asarray(out)


# --- the whole frame --------------------------------------------------------------------------------


PANELS = {"gan": gan_panels, "diffusion": diffusion_panels, "vae": vae_panels}


def render(frame, lang: str = "en", metric: str = "js", show=("heat", "real", "fake", "arrows", "trajectories")
           ) -> np.ndarray:
    """A Frame -> one uint8 (HEIGHT, WIDTH, 3) picture: two titled panels above the charts."""
    lang = plot_lang(lang)
    show = set(show or ())
    left, right = PANELS[frame.model](frame, lang, show)
    out = Image.new("RGB", (WIDTH, HEIGHT), (255, 255, 255))
    draw = ImageDraw.Draw(out)
    titles = (t(f"pg.panel.{frame.model}.left", lang), t(f"pg.panel.{frame.model}.right", lang))
    for k, (panel, title) in enumerate(zip((left, right), titles)):
        x = k * (PANEL + GAP)
        out.paste(panel, (x, TITLE))
        draw.rectangle([x, TITLE, x + PANEL - 1, TITLE + PANEL - 1], outline=(190, 190, 190))
        draw.text((x + 2, 4), title, fill=TEXT, font=font(14))
    out.paste(charts(frame, metric, lang), (0, TITLE + PANEL + 8))
    return np.asarray(out)
