"""The style-based GAN family ("stylegan"), after StyleGAN2 (Karras et al. 2020), small.

A mapping network turns z ~ N(0, I) into w; the synthesis network starts from a learned 4x4
constant and takes one w per layer, ws (B, num_ws, w_dim), through modulated and demodulated
convolutions, with per-layer noise and RGB outputs summed across resolutions. Because every
layer has its own w, any subset of layers can take its style from another image (style mixing).

  networks  `MappingNetwork`, `SynthesisNetwork`, `Generator`, `Discriminator`, `GAN` (.G, .D),
            `modulated_weight` (eq. 1-3), `layers()` / `layer_groups()` (the table below)
  losses    the logistic losses, lazy R1, style-mixing regularisation, differentiable
            augmentation (`augment`), `make_phases` for the shared trainer, `preview_fn`
  engine    `Engine`: what the UI and the command line use (numpy uint8 out, seeded)

Layers: index into ws, the resolution it acts on, what that w feeds, and its group
(`layers(image_size)` returns this table; `layer_groups` the groups):

  32x32, num_ws = 8                              64x64, num_ws = 10
  0  4    4x4 conv                    coarse     0  4    4x4 conv                    coarse
  1  8    8x8 conv (up) + 4x4 toRGB   coarse     1  8    8x8 conv (up) + 4x4 toRGB   coarse
  2  8    8x8 conv                    coarse     2  8    8x8 conv                    coarse
  3  16   16x16 conv (up) + 8x8 toRGB middle     3  16   16x16 conv (up) + 8x8 toRGB middle
  4  16   16x16 conv                  middle     4  16   16x16 conv                  middle
  5  32   32x32 conv (up) + 16x16 toRGB fine     5  32   32x32 conv (up) + 16x16 toRGB middle
  6  32   32x32 conv                  fine       6  32   32x32 conv                  middle
  7  32   32x32 toRGB                 fine       7  64   64x64 conv (up) + 32x32 toRGB fine
                                                 8  64   64x64 conv                  fine
                                                 9  64   64x64 toRGB                 fine

Groups: coarse = 4x4-8x8, fine = the image side, middle = between (none at 16x16). A toRGB
shares its w with the next resolution's first conv (StyleGAN2's counting). Noise enters every
conv (indices 0 .. num_ws - 2); the last index feeds only the final toRGB.

Data convention: G outputs and D reads images in [-1, 1]; images at the engine boundary are
[0, 1] floats or uint8. `to_signed` / `to_unit` convert.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from ..configs import FamilyConfig, check_range
from .engine import Engine, check_psi, mix_styles
from .losses import (
    AUGMENTS,
    augment,
    d_logistic,
    g_nonsaturating,
    make_losses,
    make_phases,
    mixed_ws,
    preview_fn,
    r1_penalty,
)
from .networks import (
    GAN,
    Discriminator,
    Generator,
    Layer,
    MappingNetwork,
    SynthesisNetwork,
    channels_at,
    layer_groups,
    layers,
    minibatch_stddev,
    modulated_conv2d,
    modulated_weight,
    to_signed,
    to_unit,
)

FAMILY = "stylegan"

__all__ = [
    "AUGMENTS",
    "FAMILY",
    "GAN",
    "Config",
    "Discriminator",
    "Engine",
    "Generator",
    "Layer",
    "MappingNetwork",
    "SynthesisNetwork",
    "augment",
    "build",
    "channels_at",
    "check_psi",
    "d_logistic",
    "g_nonsaturating",
    "layer_groups",
    "layers",
    "make_losses",
    "make_phases",
    "minibatch_stddev",
    "mix_styles",
    "mixed_ws",
    "modulated_conv2d",
    "modulated_weight",
    "preview_fn",
    "r1_penalty",
    "to_signed",
    "to_unit",
]


@dataclass(frozen=True)
class Config(FamilyConfig):
    # The generator.
    image_size: int = 32              # output height = width, pixels: 32 or 64 (16 for tests)
    channels: int = 1                 # 1 (grey) or 3 (RGB)
    z_dim: int = 128                  # dimensions of the input latent z ~ N(0, I)
    w_dim: int = 128                  # dimensions of the intermediate latent w (the style)
    mapping_layers: int = 4           # depth of the mapping MLP (8 in the paper)
    mapping_lr_mul: float = 0.01      # learning-rate multiplier of the mapping network (paper: 0.01)
    channel_base: int = 2048          # feature maps at resolution r: min(channel_base // r, channel_max)
    channel_max: int = 128            # ... for G and D alike
    # The discriminator.
    mbstd_group: int = 4              # images per minibatch-stddev group
    # Training (read by the losses; saved so a card says how the model was made).
    r1_gamma: float = 1.0             # R1 weight gamma: gamma / 2 * |grad D(x_real)|^2
    r1_every: int = 16                # lazy R1: applied every r1_every D steps, scaled by r1_every
    style_mixing_prob: float = 0.9    # chance a training batch mixes two w's at a random layer
    augment: str = ""                 # DiffAugment before D, real and fake: "translation", "cutout",
                                      # both comma-separated, or "" (none)
    w_avg_beta: float = 0.995         # decay of the tracked average w (the truncation centre)

    @property
    def num_ws(self) -> int:
        return 2 * (int(math.log2(self.image_size)) - 1)

    def widths(self) -> dict[int, int]:
        """Feature maps per resolution, {4: ..., 8: ..., ..., image_size: ...}."""
        return {2**k: channels_at(2**k, base=self.channel_base, cap=self.channel_max)
                for k in range(2, int(math.log2(self.image_size)) + 1)}

    def validate(self) -> None:
        if self.image_size not in (8, 16, 32, 64, 128):
            raise ValueError(f"image_size must be a power of two from 8 to 128 (32 or 64 shipped), not {self.image_size}")
        if self.channels not in (1, 3):
            raise ValueError(f"channels must be 1 or 3, not {self.channels}")
        for name in ("z_dim", "w_dim", "mapping_layers", "channel_base", "channel_max", "mbstd_group", "r1_every"):
            if not (isinstance(getattr(self, name), int) and getattr(self, name) >= 1):
                raise ValueError(f"{name} must be a positive int, not {getattr(self, name)!r}")
        # Upper bounds far above what ships (128 / 128 / 4 / 2048 / 128), so a config.json cannot
        # ask for a model of many gigabytes.
        for name, high in (("z_dim", 1024), ("w_dim", 1024), ("mapping_layers", 16), ("channel_base", 65536),
                           ("channel_max", 1024), ("mbstd_group", 64), ("r1_every", 1000)):
            check_range(name, getattr(self, name), 1, high)
        if min(self.widths().values()) < 1:
            raise ValueError(f"channel_base {self.channel_base} leaves no channels at {self.image_size}x{self.image_size}")
        if not (0 < self.mapping_lr_mul <= 1):
            raise ValueError(f"mapping_lr_mul must be in (0, 1], not {self.mapping_lr_mul}")
        if not (self.r1_gamma >= 0 and math.isfinite(self.r1_gamma)):
            raise ValueError(f"r1_gamma must be a finite number >= 0, not {self.r1_gamma}")
        if not 0 <= self.style_mixing_prob <= 1:
            raise ValueError(f"style_mixing_prob must be in [0, 1], not {self.style_mixing_prob}")
        if not isinstance(self.augment, str) or any(
                a.strip() and a.strip() not in AUGMENTS for a in self.augment.split(",")):
            raise ValueError(f"augment must name augmentations from {AUGMENTS}, comma-separated, not {self.augment!r}")
        if not 0 <= self.w_avg_beta < 1:
            raise ValueError(f"w_avg_beta must be in [0, 1), not {self.w_avg_beta}")


def build(config: Config) -> GAN:
    """G and D for `config`, freshly initialised (load weights with load_state_dict)."""
    widths = config.widths()
    G = Generator(z_dim=config.z_dim, w_dim=config.w_dim, mapping_layers=config.mapping_layers,
                  lr_mul=config.mapping_lr_mul, w_avg_beta=config.w_avg_beta, image_size=config.image_size,
                  channels=config.channels, widths=widths)
    D = Discriminator(image_size=config.image_size, channels=config.channels, widths=widths,
                      mbstd_group=config.mbstd_group)
    return GAN(G, D)

