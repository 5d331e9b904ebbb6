"""docs/scenes-world.png: sample scenes of the world with one English and one Chinese caption each.

    python scripts/scenes_figure.py [--out docs/scenes-world.png]

The first two rows are training scenes with training captions; the last row held-out scenes (a
held-out colour+shape pair in each) with evaluation captions, marked in red.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from PIL import Image, ImageDraw  # noqa: E402

from demo.fonts import pil_font  # noqa: E402
from engines.scenes import captions, heldout, world  # noqa: E402

COLS, SCALE, TEXT_H, PAD = 4, 4, 178, 8


def _wrap(draw, text: str, font, width: int) -> list[str]:
    lines, line = [], ""
    tokens = text.split(" ") if " " in text else list(text)
    sep = " " if " " in text else ""
    for tok in tokens:
        trial = (line + sep + tok) if line else tok
        if draw.textlength(trial, font=font) > width and line:
            lines.append(line)
            line = tok
        else:
            line = trial
    return lines + [line]


def tile(image, en: str, zh: str, held: bool) -> Image.Image:
    side = 64 * SCALE
    out = Image.new("RGB", (side + 2 * PAD, side + TEXT_H + 2 * PAD), "white")
    out.paste(Image.fromarray(image).resize((side, side), Image.Resampling.NEAREST), (PAD, PAD))
    draw, font = ImageDraw.Draw(out), pil_font(15)
    y = side + PAD + 4
    for text, colour in ((en, "black"), (zh, "#1f4e9c")):
        for line in _wrap(draw, text, font, side):
            draw.text((PAD, y), line, fill="#b00020" if held else colour, font=font)
            y += 18
        y += 4
    return out


def main(argv=None) -> Path:
    p = argparse.ArgumentParser()
    p.add_argument("--out", default="docs/scenes-world.png")
    a = p.parse_args(argv)
    rows = [(world.sample_scenes(2 * COLS, seed=2026, stream="train"), "train"),
            (world.sample_scenes(COLS, seed=2026, stream="eval"), "eval")]
    tiles = []
    for scenes, split in rows:
        images = world.render(scenes)
        en = captions.scene_captions(scenes, "en", seed=2026, split=split)
        zh = captions.scene_captions(scenes, "zh", seed=2026, split=split)
        tiles += [tile(im, e.text, z.text, heldout.scene_is_held_out(s)) for im, e, z, s in zip(images, en, zh, scenes)]
    w, h = tiles[0].size
    sheet = Image.new("RGB", (COLS * w, -(-len(tiles) // COLS) * h), "white")
    for k, t in enumerate(tiles):
        sheet.paste(t, ((k % COLS) * w, (k // COLS) * h))
    sheet.save(a.out, optimize=True)
    return Path(a.out)


if __name__ == "__main__":
    print(main())
