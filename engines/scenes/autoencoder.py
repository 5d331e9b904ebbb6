"""A KL-regularised autoencoder to a spatial latent: the first stage of latent diffusion.

    x (B, 3, 64, 64) in [0, 1] -> encoder -> (mean, logvar), each (B, z, 64 / f, 64 / f) -> z ~ N(mean, var)
    -> decoder -> x_hat (B, 3, 64, 64)

f = 2^len(downs) is 4 (16x16 latent) or 8 (8x8). As in Stable Diffusion's first stage (Rombach et al.
2022, sec. 3 and appendix G), the KL term is weighted very lightly (`kl_weight`), so the latent stays
close to a unit Gaussian in scale while the reconstructions stay sharp; a diffusion model then works
on `scale_factor * z`. Not yet a checkpoint family: the latent diffusion family (issue 20) will be
built on it.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn


@dataclass(frozen=True)
class Config:
    image_size: int = 64                       # input side, pixels (RGB)
    widths: tuple[int, ...] = (32, 64, 128)    # channels at each resolution; len - 1 downsamplings
    latent_channels: int = 4                   # z channels
    kl_weight: float = 1e-6                    # weight of KL(q(z|x) || N(0, I)) per latent element vs MSE per pixel

    @property
    def factor(self) -> int:
        return 2 ** (len(self.widths) - 1)

    @property
    def latent_shape(self) -> tuple[int, int, int]:
        side = self.image_size // self.factor
        return (self.latent_channels, side, side)

    def validate(self) -> Config:
        if self.factor not in (4, 8) or self.image_size % self.factor or not 1 <= self.latent_channels <= 16:
            raise ValueError(f"autoencoder config out of bounds: {self}")
        return self

    @classmethod
    def from_dict(cls, d: dict) -> Config:
        unknown = set(d) - {f.name for f in dataclasses.fields(cls)}
        if unknown:
            raise ValueError(f"unknown autoencoder config keys: {sorted(unknown)}")
        return cls(**{k: tuple(v) if isinstance(v, list) else v for k, v in d.items()}).validate()


class _Res(nn.Module):
    def __init__(self, cin: int, cout: int):
        super().__init__()
        self.n1, self.c1 = nn.GroupNorm(8, cin), nn.Conv2d(cin, cout, 3, padding=1)
        self.n2, self.c2 = nn.GroupNorm(8, cout), nn.Conv2d(cout, cout, 3, padding=1)
        self.skip = nn.Conv2d(cin, cout, 1) if cin != cout else nn.Identity()

    def forward(self, x):
        h = self.c1(F.silu(self.n1(x)))
        return self.skip(x) + self.c2(F.silu(self.n2(h)))


class Autoencoder(nn.Module):
    def __init__(self, config: Config = Config()):
        super().__init__()
        self.config = c = config.validate()
        w = c.widths
        down = [nn.Conv2d(3, w[0], 3, padding=1)]
        for a, b in zip(w, w[1:]):
            down += [_Res(a, a), nn.Conv2d(a, b, 3, stride=2, padding=1)]
        self.encoder = nn.Sequential(*down, _Res(w[-1], w[-1]), nn.GroupNorm(8, w[-1]), nn.SiLU(),
                                     nn.Conv2d(w[-1], 2 * c.latent_channels, 3, padding=1))
        up = [nn.Conv2d(c.latent_channels, w[-1], 3, padding=1), _Res(w[-1], w[-1])]
        for a, b in zip(w[::-1], w[-2::-1]):
            up += [nn.Upsample(scale_factor=2, mode="nearest"), nn.Conv2d(a, b, 3, padding=1), _Res(b, b)]
        self.decoder = nn.Sequential(*up, nn.GroupNorm(8, w[0]), nn.SiLU(), nn.Conv2d(w[0], 3, 3, padding=1))

    def encode(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(B, 3, H, W) in [0, 1] -> mean, logvar: each (B, z, H / f, W / f)."""
        mean, logvar = self.encoder(x * 2 - 1).chunk(2, dim=1)
        return mean, logvar.clamp(-30.0, 20.0)

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        """(B, z, h, w) -> (B, 3, h f, w f), roughly in [0, 1] (clamp for pictures)."""
        return (self.decoder(z) + 1) / 2

    def forward(self, x: torch.Tensor, gen: torch.Generator | None = None):
        mean, logvar = self.encode(x)
        noise = torch.randn(mean.shape, generator=gen, device=mean.device, dtype=mean.dtype)
        z = mean + torch.exp(0.5 * logvar) * noise
        return self.decode(z), mean, logvar


def kl_loss(mean: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    """KL(N(mean, exp logvar) || N(0, I)), summed over a latent and averaged per element: (,)."""
    return 0.5 * (mean.pow(2) + logvar.exp() - 1 - logvar).mean()


def loss_fn(model: Autoencoder, x: torch.Tensor, gen: torch.Generator | None = None) -> tuple[torch.Tensor, dict]:
    """MSE per pixel + kl_weight * KL per latent element (both means, so the weight does not depend on size)."""
    x_hat, mean, logvar = model(x, gen)
    rec, kl = F.mse_loss(x_hat, x), kl_loss(mean, logvar)
    return rec + model.config.kl_weight * kl, {"rec": float(rec.detach()), "kl": float(kl.detach())}
