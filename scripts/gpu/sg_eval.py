"""Score MNIST StyleGAN checkpoints quickly, to choose among a GPU session's runs and snapshots.

    python3 scripts/gpu/sg_eval.py --n 5000 DIR [DIR ...]    # one JSON line per checkpoint

benchmarks/stylegan_quality.py (a) without the Frechet distance: samples of seeds 0 .. n-1 at
psi 1, read by the benchmark classifier; the fraction confidently classified and the class
histogram's total variation from uniform. Generates on the GPU when there is one.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from benchmarks.stylegan_quality import mnist_report

KEEP = ("n", "confident_fraction", "total_variation_vs_uniform", "class_histogram")


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("models", nargs="+")
    p.add_argument("--n", type=int, default=5000)
    args = p.parse_args()
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    for m in args.models:
        try:
            report = mnist_report(args.n, m, fd=False, device=device)
            steps = json.loads((Path(m) / "card.json").read_text()).get("steps")
            print(json.dumps({"model": m, "steps": steps, **{k: report[k] for k in KEEP}}), flush=True)
        except Exception as e:  # noqa: BLE001 (a half-written snapshot must not stop the others)
            print(json.dumps({"model": m, "error": repr(e)}), flush=True)


if __name__ == "__main__":
    main()
