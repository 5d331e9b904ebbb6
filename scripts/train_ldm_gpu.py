"""Train the latent diffusion model that ships (assets/scenes-ldm) in one go: about 10 minutes on an H100.

    python scripts/train_ldm_gpu.py                      # on a GPU: both phases, float16 weights, a sample grid
    python scripts/train_ldm_gpu.py --quick --out /tmp/x  # the same steps at the tiny preset, seconds on a CPU

Everything goes through the generic command line (`python -m engines train ldm`, then `compact`):
phase 1, the autoencoder (--ae-steps); phase 2, the latent UNet and the text encoder (--steps), on
20,000 scenes of the training stream with 2 captions per image and language from the training
caption sampler. Each phase also stops at --max-seconds, so the run fits its GPU slot whatever the
card. The card records the command, the hardware, both phases' steps and the held-out numbers
(the `eval` stream, measured once at the end; nothing is selected on them). Then the weights are
stored as float16 (under the 10 MiB a Space push allows) and a grid of samples for a few training
prompts is written beside the checkpoint (samples.png), to look at before shipping.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

FULL = ["--preset", "base", "--n-train", "20000", "--n-test", "500", "--ae-steps", "4000", "--steps", "16000",
        "--batch-size", "128", "--lr", "5e-4", "--ae-lr", "1e-3", "--ema", "0.999", "--max-seconds", "270",
        "--log-every", "100"]
QUICK = ["--preset", "tiny", "--n-train", "32", "--n-test", "8", "--ae-steps", "2", "--steps", "2",
         "--batch-size", "8", "--log-every", "1"]
PROMPTS = ["a red circle left of a blue square", "two green stars", "一个黄色的三角形在左上角",
           "a small white cross in the bottom right corner"]


def main(argv=None) -> int:
    import torch

    from engines import cli

    p = argparse.ArgumentParser()
    p.add_argument("--quick", action="store_true", help="the tiny preset, 2 steps a phase (a test of the script)")
    p.add_argument("--out", default=str(ROOT / "assets" / "scenes-ldm"))
    args = p.parse_args(argv)
    if not args.quick and not torch.cuda.is_available():
        print("no GPU: run with --quick to test the script on a CPU", file=sys.stderr)
        return 1
    out, t0 = Path(args.out), time.perf_counter()
    steps = QUICK if args.quick else FULL
    code = cli.main(["train", "ldm", "--dataset", "scenes", *steps, "--name", out.name, "--out", str(out)])
    if code == 0:
        code = cli.main(["compact", "--model", str(out)])
    if code == 0:
        code = write_samples(out, steps=5 if args.quick else 50)
    print(json.dumps({"out": str(out), "seconds": round(time.perf_counter() - t0, 1), "ok": code == 0}))
    return code


def write_samples(folder: Path, steps: int) -> int:
    """Four samples of each of PROMPTS (seed 0, DDIM, the card's guidance) -> folder / samples.png."""
    import numpy as np
    from PIL import Image

    from engines.ldm.engine import Engine
    from engines.pictures import image_grid

    engine = Engine.load(folder)
    rows = [engine.generate(p, 4, 0, steps)[0] for p in PROMPTS]
    Image.fromarray(image_grid(np.concatenate(rows), nrow=4)).save(folder / "samples.png")
    return 0


if __name__ == "__main__":
    sys.exit(main())
