"""Latent diffusion (engines.ldm): sampling speed on this CPU, and multiply-adds per image vs pixel-space DDPM.

    python -m benchmarks.ldm                 # the preset meant to ship (base), DDIM-50, best of 3
    python -m benchmarks.ldm --quick         # DDIM-10, one run, for development
    python -m benchmarks.ldm --out benchmarks/results/ldm-cpu-2026-12-07.json

(a) Seconds for 4 images of 64x64 with DDIM-50 and classifier-free guidance (each step runs the
    UNet on 8 rows: 4 conditional, 4 on the empty prompt), text encoding and the final decode
    included; and the seconds to the first streamed frame (its cheap preview). Random weights: the
    speed does not depend on them.
(b) Multiply-adds per image (torch.utils.flop_counter, FLOPs / 2; convolutions, linear layers and
    attention), per network pass and for a whole DDIM-50 run: the shipped pixel-space DDPM
    (assets/shapes-ddpm: 32x32, unconditional, one pass a step; and the same network at 64x64, as
    the scenes would need, with guidance's two passes a step) against the latent UNet (two passes a
    step with guidance) + the text encoder once + the decoder once.
"""

from __future__ import annotations

import argparse
import dataclasses
import tempfile
import time
from pathlib import Path

import torch
from torch.utils.flop_counter import FlopCounterMode

from benchmarks.common import ROOT, emit
from engines import checkpoint, runtime
from engines.ldm import build, family
from engines.ldm.engine import Engine

PROMPT = "a red circle left of a blue square"


def macs(fn) -> int:
    with FlopCounterMode(display=False) as counter:
        with torch.no_grad():
            fn()
    return counter.get_total_flops() // 2


def ldm_engine(size: str) -> Engine:
    """A random-weight model of this preset, saved and loaded as a checkpoint (the real path)."""
    values = {k.name: k.default for k in family.KNOBS} | family.presets(size)
    config = family.family_config(values)
    torch.manual_seed(0)
    model = build(config)
    with torch.no_grad():
        for p in model.parameters():
            if not p.any():   # the zero-initialised last layers: give the UNet something to compute
                p.normal_(0, 0.02)
    from engines.scenes.text import build_vocabulary

    folder = Path(tempfile.mkdtemp()) / "ldm"
    checkpoint.save(folder, family="ldm", config=config, model=model,
                    card={"vocabulary": list(build_vocabulary().tokens)})
    return Engine.load(folder, device=torch.device("cpu"))


def speed(engine: Engine, steps: int, runs: int) -> dict:
    engine.generate(PROMPT, 4, 0, 2, 3.0)   # warm-up
    best, first = float("inf"), float("inf")
    for r in range(runs):
        t0 = time.perf_counter()
        stream = engine.sample(PROMPT, 4, r, steps, 3.0)
        next(stream)
        first = min(first, time.perf_counter() - t0)
        for _ in stream:
            pass
        best = min(best, time.perf_counter() - t0)
    return {"images": 4, "side": 64, "ddim_steps": steps, "guidance": 3.0, "seconds": round(best, 3),
            "first_frame_s": round(first, 3), "runs": runs}


def ldm_macs(engine: Engine, steps: int) -> dict:
    m, c = engine.model, engine.config
    cond = engine.condition([PROMPT])
    z = torch.randn(1, c.latent_channels, c.latent_side, c.latent_side)
    unet = macs(lambda: cond(z, torch.tensor([500]), torch.tensor([0])))
    text = macs(lambda: engine.condition([PROMPT]))
    decoder = macs(lambda: m.decode_latents(z))
    return {"unet_pass": unet, "text_encoder_2_prompts": text, "decoder": decoder,
            "per_image_ddim": 2 * steps * unet + text + decoder,
            "params": {"unet": _count(m.unet), "text_encoder": _count(m.text), "autoencoder": _count(m.autoencoder)}}


def pixel_macs(steps: int) -> dict:
    ckpt = checkpoint.load(ROOT / "assets" / "shapes-ddpm")
    config, model = ckpt.build("cpu")
    big = dataclasses.replace(config, image_size=64, attention_resolutions=(16, 8))
    wide = __import__("engines.diffusion", fromlist=["build"]).build(big).eval()
    one = macs(lambda: model(torch.randn(1, 3, 32, 32), torch.tensor([500])))
    at64 = macs(lambda: wide(torch.randn(1, 3, 64, 64), torch.tensor([500])))
    return {"shipped_32px_pass": one, "shipped_32px_per_image_ddim_unguided": steps * one,
            "same_net_64px_pass": at64, "same_net_64px_per_image_ddim_guided": 2 * steps * at64,
            "params": _count(model)}


def _count(module) -> int:
    return sum(p.numel() for p in module.parameters())


def main(argv=None) -> dict:
    p = argparse.ArgumentParser()
    p.add_argument("--quick", action="store_true")
    p.add_argument("--size", default="base")
    p.add_argument("--out", default=None)
    args = p.parse_args(argv)
    steps, runs = (10, 1) if args.quick else (50, 3)
    engine = ldm_engine(args.size)
    latent, pixel = ldm_macs(engine, 50), pixel_macs(50)
    result = {"benchmark": "ldm", "preset": args.size, "config": dataclasses.asdict(engine.config),
              "speed": speed(engine, steps, runs), "macs_per_image_ddim50": {"ldm": latent, "pixel_ddpm": pixel},
              "ratio_pixel64_guided_over_ldm": round(pixel["same_net_64px_per_image_ddim_guided"]
                                                     / latent["per_image_ddim"], 2),
              "hardware": runtime.hardware_summary(torch.device("cpu")), "torch_threads": torch.get_num_threads(),
              "note": "busy CPU: other jobs running", "quick": args.quick}
    if args.out:
        Path(args.out).write_text(__import__("json").dumps(result, indent=2) + "\n")
    emit(result)
    return result


if __name__ == "__main__":
    main()
