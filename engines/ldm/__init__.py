"""Latent diffusion with a text encoder (issue 20), on the `scenes` world.

One checkpoint holds the KL autoencoder (engines.scenes.autoencoder), the latent UNet with
cross-attention and the text encoder (a small transformers BERT from a config), with the
vocabulary in its card. Training has two phases (`family`): the autoencoder, then the UNet and
the text encoder together on the frozen autoencoder's latents. Sampling is engines.diffusion's
DDIM with classifier-free guidance (`model.Conditioned` adapts the text condition to it).

- `model`: `LatentDiffusion`, `LatentUNet`, `CrossAttention`, `Conditioned`, `fit_preview`.
- `engine`: `Engine` (`sample` streams `Frame`s: the step's cheap preview, the cross-attention
  maps per token; `generate` runs to the end), `check_prompts`.
- `family`: the spec (knobs, presets, the two phases, `python -m engines train ldm`).
"""

from __future__ import annotations

from dataclasses import dataclass

from ..configs import FamilyConfig, check_range

FAMILY = "ldm"
MAX_TIMESTEPS = 2000


@dataclass(frozen=True)
class Config(FamilyConfig):
    # The autoencoder (phase 1): 64x64 RGB -> (latent_channels, 64 / 2^(len(ae_widths) - 1), same).
    ae_widths: tuple[int, ...] = (32, 64, 128)
    latent_channels: int = 4
    kl_weight: float = 1e-6
    # The text encoder (BERT): vocabulary size (the card holds the tokens), width, depth.
    vocab_size: int = 182
    text_width: int = 128
    text_layers: int = 2
    text_heads: int = 4
    max_tokens: int = 32
    # The latent UNet (phase 2).
    width: int = 64
    mult: tuple[int, ...] = (1, 2)
    blocks: int = 1
    heads: int = 4
    dropout: float = 0.0
    # The process.
    timesteps: int = 1000
    schedule: str = "linear"
    p_uncond: float = 0.1

    @property
    def latent_side(self) -> int:
        return 64 // 2 ** (len(self.ae_widths) - 1)

    def validate(self) -> None:
        check_range("number of ae_widths", len(self.ae_widths), 3, 4)
        for w in (*self.ae_widths, self.width):
            check_range("a width", w, 8, 512)
            if w % 8:
                raise ValueError(f"widths must be multiples of 8, not {w}")
        check_range("latent_channels", self.latent_channels, 1, 16)
        check_range("kl_weight", self.kl_weight, 0.0, 1.0)
        check_range("vocab_size", self.vocab_size, 6, 10_000)
        check_range("text_width", self.text_width, 8, 512)
        check_range("text_layers", self.text_layers, 1, 12)
        check_range("text_heads", self.text_heads, 1, 16)
        check_range("max_tokens", self.max_tokens, 4, 128)
        if self.text_width % self.text_heads:
            raise ValueError("text_width must be divisible by text_heads")
        check_range("number of levels (mult)", len(self.mult), 1, 4)
        for m in self.mult:
            check_range("mult", m, 1, 8)
            if (self.width * m) % self.heads:
                raise ValueError("level widths must be divisible by heads")
        if self.latent_side % 2 ** (len(self.mult) - 1):
            raise ValueError(f"the latent side {self.latent_side} does not halve {len(self.mult) - 1} times")
        check_range("blocks", self.blocks, 1, 4)
        check_range("heads", self.heads, 1, 16)
        check_range("dropout", self.dropout, 0.0, 0.9)
        check_range("timesteps", self.timesteps, 2, MAX_TIMESTEPS)
        check_range("p_uncond", self.p_uncond, 0.0, 1.0)
        if self.schedule not in ("linear", "cosine"):
            raise ValueError(f"schedule must be 'linear' or 'cosine', not {self.schedule!r}")


def build(config: Config):
    """The whole model for `config`, freshly initialised."""
    from .model import LatentDiffusion

    return LatentDiffusion(config)


def make_process(config: Config):
    from ..diffusion.process import GaussianDiffusion, make_schedule

    return GaussianDiffusion(make_schedule(config.schedule, config.timesteps))


def __getattr__(name):  # the Engine loads torch and transformers: only when asked for
    if name == "Engine":
        from .engine import Engine

        return Engine
    raise AttributeError(name)
