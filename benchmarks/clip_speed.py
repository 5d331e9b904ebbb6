"""Speed of CLIP guidance on this machine (issue 5's targets).

    python -m benchmarks.clip_speed [--out benchmarks/results/clip-speed-cpu-DATE.json]

Target on the 2-core CPU: 100 guidance steps with the GenLab CLIP <= 10 s (measured for pixels at
64x64, and for the MNIST and shapes VAEs' z and the MNIST StyleGAN's w with 4 images side by side and
with one; 4 augmented crops per step, the tab's defaults); the
DDPMs run 50 DDIM steps (the shapes DDPM with 8 candidates side by side, the tab's default, and with 4).
ViT-B-32: seconds per guidance step on this CPU. Its weights cannot be downloaded here, so the
model is built with random weights: the same architecture and arithmetic, hence the same time,
but its images mean nothing. On a GPU (when one is at hand) the same run reports steps per second.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import torch

from benchmarks.common import ROOT, emit
from engines import clip, runtime
from engines.clip.backends import load_pretrained

PROMPT = "a red circle in the centre"


def _time_guide(backend, setting: clip.GuideSetting) -> dict:
    started = time.perf_counter()
    last = clip.run_to_end(backend, setting)
    total = time.perf_counter() - started
    return {"steps": setting.steps, "total_s": round(total, 2), "s_per_step": round(total / setting.steps, 4),
            "first_score": round(last.scores[0], 4), "final_score": round(last.score, 4)}


def main(argv=None) -> dict:
    p = argparse.ArgumentParser()
    p.add_argument("--out", default=None)
    p.add_argument("--vit-steps", type=int, default=5)
    p.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's own choice)")
    args = p.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    dev = runtime.device()
    out = {"benchmark": "clip_speed", "hardware": runtime.hardware_summary(dev),
           "note": "measured while other jobs shared the 2-core CPU (busy CPU): times are upper bounds", "runs": {}}
    genlab = clip.load_backend("genlab", dev)
    latent_k = clip.DEFAULT_CANDIDATES["vae"]
    runs = {"genlab/pixels-64": clip.GuideSetting(prompt=PROMPT, steps=100, size=64, seed=0),
            # the VAEs and the StyleGAN with the tab's default of several images side by side, and with one
            **{f"genlab/{name} ({n} candidates)": clip.GuideSetting(
                prompt=prompt, steps=100, seed=0, candidates=n, generator=str(ROOT / "assets" / name))
               for name, prompt in (("shapes-vae-z16", PROMPT), ("mnist-vae-z16", "the digit 7"),
                                    ("mnist-stylegan", "the digit 7")) for n in (latent_k, 1)},
            "genlab/mnist-ddpm (DDIM 50)": clip.GuideSetting(prompt="the digit 7", steps=50, seed=0,
                                                             generator=str(ROOT / "assets" / "mnist-ddpm")),
            # the shapes suite's set-up and the tab's default for a DDPM: 8 guided samples in one batch
            **{f"genlab/shapes-ddpm (DDIM 50, {k} candidates)": clip.GuideSetting(
                prompt=PROMPT, steps=50, seed=0, candidates=k, generator=str(ROOT / "assets" / "shapes-ddpm"))
               for k in (clip.DEFAULT_CANDIDATES["ddpm"], 4)}}
    clip.run_to_end(genlab, clip.GuideSetting(prompt=PROMPT, steps=3))  # warm-up
    for name, setting in runs.items():
        out["runs"][name] = _time_guide(genlab, setting)
    target = {k: v["total_s"] <= 10.0 for k, v in out["runs"].items() if v["steps"] == 100}
    out["targets"] = {"100 steps <= 10 s (GenLab CLIP)": target}

    vit = load_pretrained("ViT-B-32", "", dev, weights=False)
    setting = clip.GuideSetting(prompt=PROMPT, steps=args.vit_steps, size=64, seed=0)
    clip.run_to_end(vit, clip.GuideSetting(prompt=PROMPT, steps=1, size=64))  # warm-up
    entry = _time_guide(vit, setting)
    entry["note"] = ("ViT-B-32 architecture with random weights (nothing can be downloaded here): the time per step "
                     "is the real model's; the scores are meaningless")
    entry["params"] = sum(p.numel() for p in vit.model.parameters())
    if dev.type == "cuda":
        entry["steps_per_s"] = round(1 / entry["s_per_step"], 2)
    out["runs"]["ViT-B-32 (random weights)/pixels-64"] = entry
    if args.out:
        Path(args.out).write_text(json.dumps(out, indent=2, ensure_ascii=False) + "\n")
    return out


if __name__ == "__main__":
    emit(main())
