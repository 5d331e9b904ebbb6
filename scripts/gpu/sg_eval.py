"""Score MNIST StyleGAN checkpoints quickly, to choose among a GPU session's runs and snapshots.

    python3 scripts/gpu/sg_eval.py --n 5000 DIR [DIR ...]    # one JSON line per checkpoint

The same measures as benchmarks/stylegan_quality.py (a), without the Frechet distance: samples of
seeds 0 .. n-1 at psi 1, resized 32 -> 28, read by the benchmark classifier; the fraction
confidently classified and the class histogram's total variation from uniform. Generates on the
GPU when there is one.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from benchmarks.classifier import CONFIDENT, classify
from engines import stylegan
from engines.data.imageset import resize_batch


def score(path: str, n: int, device: torch.device) -> dict:
    engine = stylegan.Engine.load(path, device=device)
    images = np.concatenate([engine.generate(range(s, min(s + 250, n)), 1.0) for s in range(0, n, 250)])
    x28 = resize_batch(torch.from_numpy(images).permute(0, 3, 1, 2), 28)
    pred, prob = classify(x28)
    hist = np.bincount(pred, minlength=10)
    return {"model": path, "steps": engine.card.get("steps"), "n": n,
            "confident_fraction": round(float((prob >= CONFIDENT).mean()), 4),
            "total_variation_vs_uniform": round(float(0.5 * np.abs(hist / n - 0.1).sum()), 4),
            "class_histogram": hist.tolist()}


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("models", nargs="+")
    p.add_argument("--n", type=int, default=5000)
    args = p.parse_args()
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    for m in args.models:
        try:
            print(json.dumps(score(m, args.n, device)), flush=True)
        except Exception as e:  # noqa: BLE001 (a half-written snapshot must not stop the others)
            print(json.dumps({"model": m, "error": repr(e)}), flush=True)


if __name__ == "__main__":
    main()
