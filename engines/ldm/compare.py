"""Latent diffusion beside the older ways, on one prompt: seconds and multiply-adds per image, measured now.

    ldm_run(engine, prompt, seed, steps, guidance)   -> Measured (latent diffusion, cross-attention)
    pixel_run(ddpm_engine, seed, steps)              -> Measured (a pixel-space DDPM, unconditional)
    clip_run(prompt, ddpm_folder, seed, steps)       -> Measured (the DDPM steered by the GenLab CLIP)

Multiply-adds are torch.utils.flop_counter's FLOPs / 2 (convolutions, linear layers, attention):
counted on one network pass (or, for CLIP guidance, on a 2-step run scaled to the steps asked for,
backward passes included) while the seconds are timed on the run itself, without the counter.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
import torch
from torch.utils.flop_counter import FlopCounterMode

from .. import runtime


@dataclass
class Measured:
    images: np.ndarray        # uint8 (1, s, s, 3)
    seconds: float            # wall time of the run (one image)
    macs: int                 # multiply-adds for that image
    side: int


def count_macs(fn) -> int:
    with FlopCounterMode(display=False) as counter, torch.no_grad():
        fn()
    return int(counter.get_total_flops() // 2)


def ldm_run(engine, prompt: str, seed: int, steps: int, guidance: float | None) -> Measured:
    """One image: the text encoder once, the UNet twice a step (guided), the decoder once."""
    t0 = time.perf_counter()
    images, _ = engine.generate(prompt, 1, seed, steps, guidance)
    seconds = time.perf_counter() - t0
    c, m = engine.config, engine.model
    with runtime.compute():
        cond = engine.condition([prompt])
        z = torch.zeros(1, c.latent_channels, c.latent_side, c.latent_side, device=engine.device)
        t = torch.tensor([500], device=engine.device)
        unet = count_macs(lambda: cond(z, t, torch.tensor([0], device=engine.device)))
        text = count_macs(lambda: engine.condition([prompt]))
        decoder = count_macs(lambda: m.decode_latents(z))
    g = engine.default_guidance if guidance is None else float(guidance)
    passes = 2 if g != 1.0 else 1
    return Measured(images, seconds, passes * steps * unet + text + decoder, 64)


def pixel_run(engine, seed: int, steps: int) -> Measured:
    """One unconditional image of a pixel-space DDPM (diffusion.Engine), DDIM-steps, one pass a step."""
    t0 = time.perf_counter()
    images, _ = engine.sample(1, seed, steps=steps)
    seconds = time.perf_counter() - t0
    c = engine.config
    with runtime.compute():
        x = torch.zeros(1, c.channels, c.image_size, c.image_size, device=engine.device)
        one = count_macs(lambda: engine.model(x, torch.tensor([500], device=engine.device)))
    return Measured(images, seconds, steps * one, c.image_size)


def clip_run(prompt: str, generator: str, seed: int, steps: int, stop=None) -> Measured:
    """CLIP guidance of `generator` (a checkpoint folder, or "pixels") by the GenLab CLIP, one candidate."""
    from ..clip import GuideSetting, guide, load_backend

    backend = load_backend("genlab")

    def run(k: int):
        setting = GuideSetting(prompt=prompt, generator=generator, steps=k, seed=seed, candidates=1)
        last = None
        for last in guide(backend, setting, stop=stop):
            pass
        return last

    t0 = time.perf_counter()
    frame = run(steps)
    seconds = time.perf_counter() - t0
    with FlopCounterMode(display=False) as counter:
        run(2)
    macs = int(counter.get_total_flops() // 2 * steps / 2)
    image = frame.best_image if frame.best_image.ndim == 3 else frame.best_image[..., None]
    if image.shape[-1] == 1:
        image = np.repeat(image, 3, -1)
    return Measured(image[None], seconds, macs, image.shape[0])
