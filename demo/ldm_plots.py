"""Pictures of the latent diffusion tab: the pipeline diagram whose boxes hold real outputs, and the
cross-attention map of each word. Pillow and numpy only (no matplotlib: redrawn as the step
scrubber moves, so it must cost milliseconds).

    pipeline(tokens, latent, x0, final, step=(k, K, t), labels)   -> uint8 (H, W, 3)
    word_maps(maps [(word, (16, 16))], image (64, 64, 3))          -> uint8 (H, W, 3)
"""

from __future__ import annotations

import numpy as np
from PIL import Image, ImageDraw

from .fonts import pil_font

BOX = 136          # a picture box's side, pixels
GAP = 34           # room for an arrow between boxes
PAD = 10
TITLE = 36         # two lines of title above each box
TOP = 30           # room above everything for the Gradio label that sits over a picture's top left
BG, INK, EDGE, ARROW = (255, 255, 255), (30, 30, 30), (120, 130, 150), (90, 110, 200)
HOT = np.array([[0, 0, 4], [80, 18, 123], [183, 55, 121], [252, 137, 97], [252, 253, 191]], np.float64)
_LUT = np.stack([np.interp(np.linspace(0, 4, 256), np.arange(5), HOT[:, k]) for k in range(3)], 1).astype(np.uint8)


def _fit(image: np.ndarray | None, side: int) -> Image.Image:
    """uint8 (h, w, 3) -> a side x side picture (nearest neighbour: latent pixels stay visible)."""
    if image is None:
        return Image.new("RGB", (side, side), (235, 235, 240))
    return Image.fromarray(np.asarray(image, np.uint8)).resize((side, side), Image.NEAREST)


def _arrow(draw: ImageDraw.ImageDraw, x0: int, x1: int, y: int) -> None:
    draw.line([x0 + 4, y, x1 - 6, y], fill=ARROW, width=3)
    draw.polygon([(x1 - 4, y), (x1 - 12, y - 6), (x1 - 12, y + 6)], fill=ARROW)


def _fitting(draw: ImageDraw.ImageDraw, text: str, width: int, size: int):
    """The largest font (size down to 8) in which `text` fits `width` pixels."""
    for k in range(size, 8, -1):
        font = pil_font(k)
        if draw.textlength(text, font=font) <= width:
            return font
    return pil_font(8)


def _tokens_box(draw, x: int, y: int, tokens: list[str], font) -> None:
    """The prompt's tokens, one a line (as many as fit), in a box of BOX x BOX."""
    draw.rectangle([x, y, x + BOX, y + BOX], outline=EDGE, width=2)
    line = 15
    fit = (BOX - 8) // line
    shown = tokens if len(tokens) <= fit else tokens[:fit - 1] + [f"... (+{len(tokens) - fit + 1})"]
    for i, tok in enumerate(shown):
        colour = (200, 40, 40) if tok == "[UNK]" else (110, 110, 110) if tok.startswith("[") else INK
        draw.text((x + 6, y + 4 + i * line), tok, fill=colour, font=font)


def pipeline(tokens: list[str], latent: np.ndarray | None, x0: np.ndarray | None, final: np.ndarray | None,
             labels: dict[str, str]) -> np.ndarray:
    """The diagram: prompt tokens -> text encoder -> the latent at the chosen step (its cheap decode)
    and the clean latent predicted from it -> the decoder's image. `labels`: "tokens", "latent", "x0",
    "final" titles (two lines each, split at a newline), in the session's language."""
    boxes = ["tokens", "latent", "x0", "final"]
    width = PAD * 2 + len(boxes) * BOX + (len(boxes) - 1) * GAP
    height = TOP + PAD * 2 + TITLE + BOX
    img = Image.new("RGB", (width, height), BG)
    draw = ImageDraw.Draw(img)
    small = pil_font(12)
    pictures = {"latent": latent, "x0": x0, "final": final}
    for i, name in enumerate(boxes):
        x, y = PAD + i * (BOX + GAP), TOP + PAD + TITLE
        for k, part in enumerate(labels.get(name, name).split("\n")[:2]):
            room = BOX + (GAP if i < len(boxes) - 1 else PAD) - 6
            draw.text((x, TOP + PAD + k * 16), part, fill=INK, font=_fitting(draw, part, room, 13))
        if name == "tokens":
            _tokens_box(draw, x, y, tokens, small)
        else:
            img.paste(_fit(pictures[name], BOX), (x, y))
            draw.rectangle([x, y, x + BOX - 1, y + BOX - 1], outline=EDGE, width=1)
        if i < len(boxes) - 1:
            _arrow(draw, x + BOX, x + BOX + GAP, y + BOX // 2)
    return np.asarray(img)


def heat(m: np.ndarray) -> np.ndarray:
    """(h, w) weights -> RGB (h, w, 3), scaled to the map's own maximum (dark: none, bright: most)."""
    top = float(m.max()) if m.size and m.max() > 0 else 1.0
    return _LUT[np.clip(m / top * 255, 0, 255).astype(np.uint8)]


def word_maps(maps: list[tuple[str, np.ndarray]], image: np.ndarray | None, side: int = 112) -> np.ndarray:
    """The image, then each word's cross-attention map (its own colour scale, blended over the image
    in grey), its share of the attention written under it. -> uint8 (H, W, 3)."""
    cols = 1 + len(maps)
    width, height = PAD + cols * (side + PAD), TOP + PAD + side + 40
    img = Image.new("RGB", (width, height), BG)
    draw = ImageDraw.Draw(img)
    font = pil_font(14)
    img.paste(_fit(image, side), (PAD, TOP + PAD))
    grey = None if image is None else np.asarray(Image.fromarray(image).convert("L").resize((16, 16)), np.float64)
    for i, (word, m) in enumerate(maps):
        x = PAD + (i + 1) * (side + PAD)
        h = heat(m).astype(np.float64)
        if grey is not None and grey.shape == m.shape:
            h = 0.8 * h + 0.2 * grey[..., None]
        img.paste(_fit(h.astype(np.uint8), side), (x, TOP + PAD))
        draw.text((x, TOP + PAD + side + 4), word, fill=INK, font=font)
        draw.text((x, TOP + PAD + side + 21), f"{float(m.mean()):.0%}", fill=(110, 110, 110), font=pil_font(12))
    return np.asarray(img)
