"""A look at a latent diffusion checkpoint: samples per prompt, autoencoder round trips, word maps.

    python scripts/ldm_figure.py --model /tmp/ldm-smoke/ckpt --out docs/ldm-smoke.png

Rows: for each prompt, 6 samples (seed 0, DDIM-50, the card's guidance); then 6 held-out scenes
(the eval stream) and their autoencoder reconstructions; then, for the first prompt's first
sample, the cross-attention map of each word at the middle step (bright: the word's weight there),
beside the final image. 64x64 tiles, upscaled 2x.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

PROMPTS = ["a red circle", "a blue square in the top left corner", "two green stars",
           "一个黄色的三角形", "a red circle left of a blue square"]


def _maps_row(engine, prompt: str, steps: int) -> np.ndarray:
    images, frames = engine.generate(prompt, 1, 0, steps)
    tiles = [images[0]]
    for _, m in engine.word_maps(frames, prompt, step=len(frames) // 2)[:5]:
        m = (m / max(float(m.max()), 1e-6) * 255).astype(np.uint8)
        tiles.append(np.repeat(np.repeat(m, 4, 0), 4, 1)[..., None].repeat(3, -1))
    return np.stack(tiles + [np.zeros_like(images[0])] * (6 - len(tiles)))[:6]


def main(argv=None) -> int:
    import torch
    from PIL import Image

    from engines.ldm.engine import Engine
    from engines.pictures import image_grid, to_uint8
    from engines.scenes.dataset import load_scenes

    p = argparse.ArgumentParser()
    p.add_argument("--model", required=True)
    p.add_argument("--out", required=True)
    p.add_argument("--steps", type=int, default=50)
    args = p.parse_args(argv)
    engine = Engine.load(args.model, device=torch.device("cpu"))
    rows = [engine.generate(prompt, 6, 0, args.steps)[0] for prompt in PROMPTS]
    held = load_scenes("eval", n=6, seed=0)
    with torch.no_grad():
        x = held.images.float() / 255
        rec = to_uint8(engine.model.decode_latents(engine.model.encode_images(x)))
    rows += [held.images.permute(0, 2, 3, 1).numpy(), rec, _maps_row(engine, PROMPTS[-1], args.steps)]
    grid = image_grid(np.concatenate(rows), nrow=6)
    Image.fromarray(grid).resize((grid.shape[1] * 2, grid.shape[0] * 2), Image.NEAREST).save(args.out)
    print("\n".join(f"row {i + 1}: {p}" for i, p in enumerate(PROMPTS)))
    print(f"words of the maps row: {engine.tokens(PROMPTS[-1])[1:-1][:5]}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
