"""Pictures for the VQ-VAE tab: a token grid coloured by code, the codebook sheet, usage bars.

Drawn with PIL (no plotting library): each is a plain uint8 picture, and a click on the token
grid maps back to its cell by integer division (`cell_at`).
"""

from __future__ import annotations

import colorsys

import numpy as np
from PIL import Image, ImageDraw

from .fonts import pil_font

CELL = 40           # pixels a token takes in the grid picture
UNKNOWN = (70, 70, 70)
MARK = (255, 60, 60)


def code_colour(code: int) -> tuple[int, int, int]:
    """A colour per code, far from its neighbours' (golden-ratio steps round the hue circle)."""
    h = (code * 0.618033988749895) % 1.0
    s = 0.45 + 0.4 * ((code * 7) % 5) / 4
    v = 0.65 + 0.3 * ((code * 3) % 4) / 3
    r, g, b = colorsys.hsv_to_rgb(h, s, v)
    return int(r * 255), int(g * 255), int(b * 255)


def token_grid(tokens: np.ndarray, *, marked=None, current: int | None = None, cell: int = CELL) -> np.ndarray:
    """tokens (h, w) (-1: not sampled yet) -> uint8 (h*cell, w*cell, 3): each cell its code's colour and
    number. marked: (h, w) bool cells outlined (a region to resample, a picked token); current: the
    raster index just sampled, outlined in white."""
    tokens = np.asarray(tokens)
    h, w = tokens.shape
    img = Image.new("RGB", (w * cell, h * cell), (20, 20, 20))
    draw = ImageDraw.Draw(img)
    font = pil_font(max(9, cell // 3))
    for r in range(h):
        for c in range(w):
            k = int(tokens[r, c])
            box = (c * cell + 1, r * cell + 1, (c + 1) * cell - 2, (r + 1) * cell - 2)
            colour = code_colour(k) if k >= 0 else UNKNOWN
            draw.rectangle(box, fill=colour)
            if k >= 0:
                ink = (0, 0, 0) if sum(colour) > 380 else (255, 255, 255)
                draw.text(((box[0] + box[2]) / 2, (box[1] + box[3]) / 2), str(k), fill=ink, font=font, anchor="mm")
            if marked is not None and marked[r, c]:
                draw.rectangle(box, outline=MARK, width=3)
            if current is not None and r * w + c == current:
                draw.rectangle(box, outline=(255, 255, 255), width=3)
    return np.asarray(img)


def cell_at(x: float, y: float, side: int, cell: int = CELL) -> tuple[int, int] | None:
    """A click at picture pixel (x, y) -> (row, col) of the token grid, or None outside it."""
    r, c = int(y // cell), int(x // cell)
    return (r, c) if 0 <= r < side and 0 <= c < side else None


def region_picture(image: np.ndarray, mask: np.ndarray, *, corner=None, cell: int = CELL) -> np.ndarray:
    """The decoded image (H, W[, C]) under its token grid (mask (h, w) bool: the region to resample),
    at `cell` pixels a token, so a click maps back by `cell_at`: outside the region dimmed, the
    region outlined, a first corner waiting for its second (corner (row, col)) outlined in white."""
    mask = np.asarray(mask, bool)
    h, w = mask.shape
    arr = np.asarray(image)
    arr = arr[..., 0] if arr.ndim == 3 and arr.shape[2] == 1 else arr
    img = Image.fromarray(arr).convert("RGB").resize((w * cell, h * cell), Image.NEAREST)
    shade = np.asarray(img).astype(np.float32)
    dim = np.repeat(np.repeat(~mask, cell, 0), cell, 1)
    shade[dim] = shade[dim] * 0.45 + 20
    img = Image.fromarray(shade.astype(np.uint8))
    draw = ImageDraw.Draw(img)
    for i in range(1, max(h, w)):
        draw.line((i * cell, 0, i * cell, h * cell), fill=(90, 90, 90))
        draw.line((0, i * cell, w * cell, i * cell), fill=(90, 90, 90))
    if mask.any():
        rows, cols = np.nonzero(mask)
        draw.rectangle((cols.min() * cell, rows.min() * cell, (cols.max() + 1) * cell - 1,
                        (rows.max() + 1) * cell - 1), outline=MARK, width=3)
    if corner is not None:
        r, c = corner
        draw.rectangle((c * cell + 3, r * cell + 3, (c + 1) * cell - 4, (r + 1) * cell - 4), outline=(255, 255, 255),
                       width=2)
    return np.asarray(img)


def region_mask(region, side: int) -> np.ndarray:
    """The four slider values (row from, row to, column from, column to; either order) -> (side, side) bool."""
    r0, r1, c0, c1 = (int(x) for x in region)
    mask = np.zeros((side, side), bool)
    mask[min(r0, r1):max(r0, r1) + 1, min(c0, c1):max(c0, c1) + 1] = True
    return mask


def codebook_sheet(patches: np.ndarray, counts: np.ndarray, *, per_row: int = 16, scale: int = 3) -> np.ndarray:
    """Every code's decoded patch (K, P, P, C), labelled with its index; dead codes crossed out."""
    k, p, _, ch = patches.shape
    tile = p * scale
    pad, label = 4, 14
    rows = -(-k // per_row)
    img = Image.new("RGB", (per_row * (tile + pad) + pad, rows * (tile + pad + label) + pad), (245, 245, 245))
    draw = ImageDraw.Draw(img)
    font = pil_font(11)
    for i in range(k):
        r, c = divmod(i, per_row)
        x, y = pad + c * (tile + pad), pad + r * (tile + pad + label)
        patch = patches[i][..., 0] if ch == 1 else patches[i]
        img.paste(Image.fromarray(patch).resize((tile, tile), Image.NEAREST).convert("RGB"), (x, y + label))
        draw.rectangle((x, y, x + tile - 1, y + label - 2), fill=code_colour(i))
        draw.text((x + 2, y), str(i), fill=(0, 0, 0), font=font)
        if counts[i] == 0:
            draw.line((x, y + label, x + tile, y + label + tile), fill=MARK, width=2)
    return np.asarray(img)


def usage_bars(counts: np.ndarray, width: int = 640, height: int = 180) -> np.ndarray:
    """How often each code was picked: one bar per code in its colour (log scale: a code used once shows)."""
    k = len(counts)
    img = Image.new("RGB", (width, height), (255, 255, 255))
    draw = ImageDraw.Draw(img)
    top = np.log1p(np.asarray(counts, np.float64))
    peak = max(float(top.max()), 1e-9)
    bar = (width - 20) / k
    for i, v in enumerate(top):
        x0 = 10 + i * bar
        y0 = height - 10 - (height - 20) * v / peak
        draw.rectangle((x0, y0, x0 + max(1.0, bar - 1), height - 10), fill=code_colour(i))
    draw.line((10, height - 10, width - 10, height - 10), fill=(0, 0, 0))
    return np.asarray(img)
