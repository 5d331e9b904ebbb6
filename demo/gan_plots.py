"""Pictures for the GAN tab, composed server-side as uint8 RGB arrays.

The mixing grid and the strips are plain numpy + PIL (fast: they follow every checkbox);
the noise heat map and the "what each layer controls" chart are matplotlib figures (object
API, one lock, as in the other tabs' plots; Chinese labels use a CJK font where there is one).
"""

from __future__ import annotations

import threading

import numpy as np
from PIL import Image, ImageDraw

from .plots_common import latin_font, render
from .fonts import configure

_LOCK = threading.Lock()
CELL = 128           # display pixels per image in the mixing grid
GAP = 4              # pixels between cells
HEADER_GAP = 14      # pixels between the headers (A row, B column) and the mixed cells
BACKGROUND = 255
A_COLOUR = (21, 101, 192)    # frame of the source images A (top row)
B_COLOUR = (230, 81, 0)      # frame of the style images B (left column)
FRAME = 4


def _rgb(images: np.ndarray) -> np.ndarray:
    """(..., H, W, C) uint8 with C = 1 or 3 -> (..., H, W, 3)."""
    images = np.asarray(images, np.uint8)
    return np.repeat(images, 3, axis=-1) if images.shape[-1] == 1 else images


def _cell(image: np.ndarray, side: int = CELL) -> np.ndarray:
    """(H, W, 3) -> nearest-neighbour upscaled to about `side` (an integer factor)."""
    k = max(1, round(side / image.shape[0]))
    return image.repeat(k, axis=0).repeat(k, axis=1)


def _framed(image: np.ndarray, colour) -> np.ndarray:
    out = image.copy()
    out[:FRAME], out[-FRAME:], out[:, :FRAME], out[:, -FRAME:] = colour, colour, colour, colour
    return out


def _tag(canvas: Image.Image, x: int, y: int, text: str, colour) -> None:
    """A small label in the top-left corner of a cell: white text on the header's colour."""
    draw = ImageDraw.Draw(canvas)
    font = latin_font(15)
    left, top, right, bottom = draw.textbbox((0, 0), text, font=font)
    draw.rectangle([x, y, x + right - left + 10, y + bottom - top + 8], fill=colour)
    draw.text((x + 5 - left, y + 4 - top), text, fill=(255, 255, 255), font=font)


def mixing_grid(grid: np.ndarray, images_a: np.ndarray, images_b: np.ndarray, seeds_a, seeds_b) -> np.ndarray:
    """The StyleGAN paper's figure: A images along the top, B images down the left, and cell
    (row j, column i) = A_i with the chosen layers' styles from B_j.

    grid: uint8 (len(A), len(B), H, W, C) as `Engine.mix` returns it (rows are A); images_a
    (len(A), H, W, C), images_b (len(B), H, W, C). Returns one uint8 (H', W', 3) picture.
    """
    grid, images_a, images_b = _rgb(grid), _rgb(images_a), _rgb(images_b)
    n_a, n_b = grid.shape[:2]
    side = _cell(grid[0, 0]).shape[0]
    step = side + GAP
    width = side + HEADER_GAP + n_a * step - GAP
    height = side + HEADER_GAP + n_b * step - GAP
    out = np.full((height, width, 3), BACKGROUND, np.uint8)
    x0 = y0 = side + HEADER_GAP
    for i in range(n_a):
        x = x0 + i * step
        out[:side, x:x + side] = _framed(_cell(images_a[i]), A_COLOUR)
        for j in range(n_b):
            y = y0 + j * step
            out[y:y + side, x:x + side] = _cell(grid[i, j])
    for j in range(n_b):
        y = y0 + j * step
        out[y:y + side, :side] = _framed(_cell(images_b[j]), B_COLOUR)
    canvas = Image.fromarray(out)
    for i, s in enumerate(seeds_a):
        _tag(canvas, x0 + i * step + FRAME, FRAME, f"A {s}", A_COLOUR)
    for j, s in enumerate(seeds_b):
        _tag(canvas, FRAME, y0 + j * step + FRAME, f"B {s}", B_COLOUR)
    # The corner says how to read the grid without words: A goes across, B goes down.
    draw = ImageDraw.Draw(canvas)
    font = latin_font(22)
    mid = side // 2
    draw.text((mid + 6, mid - 30), "A", fill=A_COLOUR, font=font)
    draw.line([mid + 26, mid - 18, side - 10, mid - 18], fill=A_COLOUR, width=3)
    draw.polygon([(side - 6, mid - 18), (side - 16, mid - 24), (side - 16, mid - 12)], fill=A_COLOUR)
    draw.text((mid - 30, mid + 6), "B", fill=B_COLOUR, font=font)
    draw.line([mid - 22, mid + 34, mid - 22, side - 10], fill=B_COLOUR, width=3)
    draw.polygon([(mid - 22, side - 6), (mid - 28, side - 16), (mid - 16, side - 16)], fill=B_COLOUR)
    return np.asarray(canvas)


def row(images: np.ndarray, side: int = CELL, gap: int = GAP) -> np.ndarray:
    """(N, H, W, C) -> one uint8 (side, N * side + gaps, 3) strip, left to right, white gaps."""
    images = _rgb(images)
    cells = [_cell(im, side) for im in images]
    s = cells[0].shape[0]
    out = np.full((s, len(cells) * (s + gap) - gap, 3), BACKGROUND, np.uint8)
    for i, c in enumerate(cells):
        out[:, i * (s + gap): i * (s + gap) + s] = c
    return out


def labelled_row(images: np.ndarray, labels, side: int = CELL) -> np.ndarray:
    """A strip with a small language-neutral tag on each image (numbers such as psi values)."""
    strip = row(images, side)
    s = strip.shape[0]
    canvas = Image.fromarray(strip)
    for i, text in enumerate(labels):
        _tag(canvas, i * (s + GAP), 0, str(text), (60, 60, 60))
    return np.asarray(canvas)


def std_heatmap(std: np.ndarray, title: str, lang: str, side: int = 4) -> np.ndarray:
    """Per-pixel standard deviation (H, W) over noise draws (grey levels), as a heat map with a colour bar.
    The colour scale starts at 1 grey level so that a model without noise shows black, not speckle."""
    from matplotlib.figure import Figure

    configure()
    with _LOCK:
        fig = Figure(figsize=(3.4, 2.9), dpi=100)
        ax = fig.add_axes([0.04, 0.04, 0.72, 0.82])
        im = ax.imshow(std, cmap="inferno", vmin=0, vmax=max(1.0, float(np.max(std))), interpolation="nearest")
        ax.set_xticks([])
        ax.set_yticks([])
        ax.set_title(title, fontsize=9.5)
        cax = fig.add_axes([0.8, 0.08, 0.05, 0.74])
        cb = fig.colorbar(im, cax=cax)
        cb.ax.tick_params(labelsize=8)
        return render(fig)


def effects_chart(effect: np.ndarray, per_layer: np.ndarray, group_labels, layer_labels, attr_labels,
                  titles: tuple[str, str], lang: str) -> np.ndarray:
    """Two heat maps sharing the attribute axis: layer groups x attributes (top) and single layers
    x attributes (bottom); each cell is how much that attribute moves, 0 .. 1, written in it."""
    import matplotlib
    from matplotlib.figure import Figure

    configure()
    n_g, n_a = effect.shape
    n_l = per_layer.shape[0]
    rows = n_g + n_l
    with _LOCK:
        fig = Figure(figsize=(0.85 * n_a + 2.6, 0.42 * rows + 2.4), dpi=100)
        gs = fig.add_gridspec(2, 2, height_ratios=[n_g, n_l], width_ratios=[40, 1], hspace=0.28, wspace=0.04,
                              left=1.1 / (0.85 * n_a + 2.6), right=0.94, top=1 - 0.75 / (0.42 * rows + 2.4),
                              bottom=1.25 / (0.42 * rows + 2.4))
        axes = [fig.add_subplot(gs[0, 0]), fig.add_subplot(gs[1, 0])]
        im = None
        for ax, data, labels, title in ((axes[0], effect, group_labels, titles[0]),
                                        (axes[1], per_layer, layer_labels, titles[1])):
            cmap = matplotlib.colormaps["viridis"].with_extremes(bad="#e0e0e0")
            im = ax.imshow(np.ma.masked_invalid(data), cmap=cmap, vmin=0, vmax=1, aspect="auto")
            ax.set_yticks(range(len(labels)))
            ax.set_yticklabels(labels, fontsize=9)
            ax.set_title(title, loc="left", fontsize=10.5)
            for (r, c), v in np.ndenumerate(data):
                if not np.isfinite(v):
                    continue
                ax.text(c, r, f"{v:.2f}", ha="center", va="center", fontsize=8,
                        color="white" if v < 0.6 else "black")
            ax.set_xticks(range(n_a))
            ax.tick_params(length=0)
        axes[0].set_xticklabels([])
        axes[1].set_xticklabels(attr_labels, rotation=35, ha="right", fontsize=9)
        cax = fig.add_subplot(gs[:, 1])
        cb = fig.colorbar(im, cax=cax)
        cb.ax.tick_params(labelsize=8)
        return render(fig)
