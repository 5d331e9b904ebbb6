"""The denoising diffusion family ("ddpm").

Forward process (Ho et al. 2020, eq. 4): x_t = sqrt(abar_t) x_0 + sqrt(1 - abar_t) eps, eps ~ N(0, I).
A network learns eps from (x_t, t) by least squares (L_simple, eq. 14); sampling runs the process
backwards, x_T ~ N(0, I) -> x_0, with DDPM's ancestral steps or DDIM's (Song et al. 2021).

Three pieces, kept apart so one network serves every sampler and every kind of guidance:
  unet     `UNet`: eps = model(x, t, y); knows nothing of the schedule.
  process  `GaussianDiffusion(betas)`: q(x_t | x_0), the posterior, the loss, the samplers
           (generators yielding a `Step` per step), classifier-free guidance, `cond_fn` hooks.
  here     `Config` (network + schedule, saved with the weights), `build`, `make_process`.

Data convention: the process works on x in [-1, 1]; images at the engine boundary are [0, 1]
floats or uint8. `to_signed` / `to_unit` / `to_images` convert (see `process`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

import torch

from .. import runtime
from ..configs import FamilyConfig, check_range
from .process import (CondFn, GaussianDiffusion, Step, check_guidance, make_loss, make_schedule, to_images,
                      to_signed, to_unit)
from .unet import UNet, timestep_embedding
from .engine import Engine

FAMILY = "ddpm"
# Upper bounds of a config, far above what ships (28 / 32 px, width 32, 1000 steps) yet small enough
# that no config.json asks for a model or a sampling step beyond what the app can afford.
MAX_IMAGE_SIZE = 128        # pixels a side
MAX_ATTENTION_SIDE = 32     # self-attention over side^2 tokens costs side^4
MAX_TIMESTEPS = 2000

__all__ = ["FAMILY", "Config", "Engine", "build", "heldout_loss", "make_process", "UNet", "GaussianDiffusion", "Step", "CondFn",
           "make_schedule", "make_loss", "check_guidance", "to_signed", "to_unit", "to_images",
           "timestep_embedding"]


@dataclass(frozen=True)
class Config(FamilyConfig):
    # The network.
    image_size: int = 28                            # input height = width, pixels
    channels: int = 1                               # 1 (grey) or 3 (RGB)
    width: int = 32                                 # channels at the first level
    channel_mult: tuple[int, ...] = (1, 2, 2)       # width multiplier per level (28 -> 14 -> 7)
    blocks_per_level: int = 2                       # residual blocks per level
    attention_resolutions: tuple[int, ...] = (7,)   # feature-map sides (pixels) with self-attention
    num_classes: int | None = None                  # class-conditional on labels 0..num_classes-1, or None
    dropout: float = 0.1                            # dropout rate in residual blocks
    norm_groups: int = 8                            # GroupNorm groups (must divide every level's width)
    attention_heads: int = 1                        # heads per self-attention layer
    patch_size: int = 1                             # p x p pixel patches folded into channels first
    # The process.
    timesteps: int = 1000                           # T, diffusion steps
    schedule: Literal["linear", "cosine"] = "linear"  # beta schedule (see process.make_schedule)

    def level_sides(self) -> list[int]:
        """Feature-map side at each level, high resolution first."""
        return [self.image_size // self.patch_size // 2**i for i in range(len(self.channel_mult))]

    def validate(self) -> None:
        if self.channels not in (1, 3):
            raise ValueError(f"channels must be 1 or 3, not {self.channels}")
        check_range("image_size", self.image_size, 1, MAX_IMAGE_SIZE)
        check_range("width", self.width, 1, 512)
        check_range("number of levels (channel_mult)", len(self.channel_mult), 1, 6)
        for m in self.channel_mult:
            check_range("channel_mult", m, 1, 8)
        check_range("blocks_per_level", self.blocks_per_level, 1, 8)
        check_range("number of attention_resolutions", len(self.attention_resolutions), 0, 6)
        for side in self.attention_resolutions:
            check_range("attention_resolutions", side, 1, MAX_ATTENTION_SIDE)
        check_range("norm_groups", self.norm_groups, 1, 128)
        check_range("attention_heads", self.attention_heads, 1, 32)
        if self.num_classes is not None:
            check_range("num_classes", self.num_classes, 1, 1000)
        check_range("timesteps", self.timesteps, 2, MAX_TIMESTEPS)
        if self.patch_size not in (1, 2, 4):
            raise ValueError(f"patch_size must be 1, 2 or 4, not {self.patch_size}")
        factor = 2 ** (len(self.channel_mult) - 1) * self.patch_size
        if self.image_size % factor:
            raise ValueError(f"image_size {self.image_size} must be divisible by patch_size * 2**(len(channel_mult) - 1) = {factor}")
        for m in self.channel_mult:
            if (self.width * m) % self.norm_groups or (self.width * m) % self.attention_heads:
                raise ValueError(f"level width {self.width * m} must be divisible by norm_groups "
                                 f"({self.norm_groups}) and attention_heads ({self.attention_heads})")
        missing = set(self.attention_resolutions) - set(self.level_sides())
        if missing:
            raise ValueError(f"attention_resolutions {sorted(missing)} are not feature-map sides; "
                             f"the levels are {self.level_sides()}")
        if self.num_classes is not None and not (isinstance(self.num_classes, int) and self.num_classes >= 1):
            raise ValueError(f"num_classes must be None or a positive int, not {self.num_classes!r}")
        if not (0.0 <= self.dropout < 1.0 and math.isfinite(self.dropout)):
            raise ValueError(f"dropout must be in [0, 1), not {self.dropout}")
        if self.schedule not in ("linear", "cosine"):
            raise ValueError(f"schedule must be 'linear' or 'cosine', not {self.schedule!r}")


def build(config: Config) -> UNet:
    """The network for `config` (freshly initialised; load weights with load_state_dict)."""
    return UNet(
        image_size=config.image_size, channels=config.channels, width=config.width,
        channel_mult=tuple(config.channel_mult), blocks_per_level=config.blocks_per_level,
        attention_resolutions=tuple(config.attention_resolutions), num_classes=config.num_classes,
        dropout=config.dropout, norm_groups=config.norm_groups, attention_heads=config.attention_heads,
        patch_size=config.patch_size,
    )


@torch.no_grad()
def heldout_loss(process: GaussianDiffusion, model, images: torch.Tensor, labels: torch.Tensor | None = None,
                 *, seed: int = 0, batch_size: int = 250) -> float:
    """Mean L_simple over `images` ((N, C, H, W) in [0, 1]) with fixed t and noise (seeded) and no
    label dropout: a held-out number comparable between checkpoints and over training."""
    was_training = model.training
    model.eval()
    gen = runtime.generator(seed, images.device)
    total = 0.0
    for i in range(0, len(images), batch_size):
        x = to_signed(images[i:i + batch_size])
        y = None if labels is None else labels[i:i + batch_size]
        total += float(process.loss(model, x, gen, y, p_uncond=0.0)) * len(x)
    model.train(was_training)
    return total / len(images)


def make_process(config: Config) -> GaussianDiffusion:
    """The diffusion process (schedule and samplers) that goes with `config`'s network."""
    return GaussianDiffusion(make_schedule(config.schedule, config.timesteps))
