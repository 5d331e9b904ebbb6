"""The PixelCNN family ("pixelcnn"): an autoregressive model of pixels.

    p(x) = prod_i p(x_i | x_1, ..., x_{i-1})        (raster order; colour: R, G, B within a pixel)

Each factor is a softmax over the pixel's `levels` values (256 grey levels, or 2 for binarised
images), so log p(x) is exact: training minimises the negative log-likelihood, and the test NLL is
reported in nats per image and bits per dimension (nats / (H * W * C * ln 2)).

`model` has the networks (gated and plain masked), `sampler` the fast cached sampler with
temperature / top-k / top-p, `engine` the Engine the tab and the command line use, `family` the
spec (engines.families).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

import torch

from ..configs import FamilyConfig, check_range
from .model import PixelCNN, nll

FAMILY = "pixelcnn"
MAX_IMAGE_SIZE = 64


@dataclass(frozen=True)
class Config(FamilyConfig):
    image_size: int = 28                        # height = width, pixels
    channels: int = 1                           # 1 (grey) or 3 (RGB, drawn R then G then B)
    levels: int = 256                           # values a pixel channel takes: 256, or 2 (binarised)
    arch: Literal["gated", "masked"] = "gated"  # gated PixelCNN, or the plain masked stack (blind spot)
    width: int = 48                             # feature channels of every layer
    layers: int = 8                             # convolution layers
    first_kernel: int = 7                       # the first layer's kernel side (odd)
    kernel: int = 3                             # the other layers' kernel side (odd)
    head: int = 128                             # hidden channels of the output head
    num_classes: int | None = None              # class-conditional on this many labels (None: not)

    def validate(self) -> None:
        if self.channels not in (1, 3):
            raise ValueError(f"channels must be 1 or 3, not {self.channels}")
        if self.levels not in (2, 256):
            raise ValueError(f"levels must be 2 or 256, not {self.levels}")
        if self.arch not in ("gated", "masked"):
            raise ValueError(f"arch must be 'gated' or 'masked', not {self.arch!r}")
        check_range("image_size", self.image_size, 4, MAX_IMAGE_SIZE)
        check_range("width", self.width, 4, 512)
        check_range("layers", self.layers, 1, 32)
        check_range("head", self.head, 4, 1024)
        for name in ("first_kernel", "kernel"):
            k = getattr(self, name)
            check_range(name, k, 1, 11)
            if k % 2 == 0:
                raise ValueError(f"{name} must be odd, not {k}")
        if self.num_classes is not None:
            check_range("num_classes", self.num_classes, 1, 1000)


def build(config: Config) -> PixelCNN:
    config.validate()
    return PixelCNN(config)


def quantize(x: torch.Tensor, levels: int) -> torch.Tensor:
    """Float images in [0, 1] -> integer values in [0, levels) (levels 2: a fixed threshold at 0.5)."""
    return (x * (levels - 1)).round().clamp(0, levels - 1).long()


def make_loss(config: Config):
    """The training loss: mean NLL per dimension in nats (and the same in bits per dimension)."""
    dims = config.channels * config.image_size ** 2

    def loss_fn(model, batch, gen, step):
        x = quantize(batch["x"], config.levels)
        per_image = nll(model, x, batch.get("y") if config.num_classes else None)
        loss = per_image.mean() / dims
        return loss, {"bits_per_dim": loss.detach() / math.log(2)}

    return loss_fn


def marginal_nll(model: PixelCNN, x: torch.Tensor) -> torch.Tensor:
    """-log p(x) of a class-conditional model without a label: p(x) = sum_y p(y) p(x | y) with
    p(y) uniform over its classes (one forward per class), nats per image (B,)."""
    k = model.config.num_classes
    per_class = torch.stack([nll(model, x, torch.full((len(x),), y, device=x.device)) for y in range(k)])
    return -(torch.logsumexp(-per_class, 0) - math.log(k))


@torch.no_grad()
def evaluate(model: PixelCNN, images: torch.Tensor, *, labels: torch.Tensor | None = None, seed: int = 0,
             batch_size: int = 250) -> dict[str, float]:
    """Exact held-out NLL of float images (N, C, H, W) in [0, 1]: nats per image and bits per dim.
    A class-conditional model is given `labels` (log p(x | y)); without them, log p(x) with the
    labels summed out (`marginal_nll`)."""
    cfg = model.config
    model.eval()
    total, n = 0.0, len(images)
    for s in range(0, n, batch_size):
        x = quantize(images[s: s + batch_size], cfg.levels)
        if cfg.num_classes and labels is None:
            total += float(marginal_nll(model, x).sum())
            continue
        y = labels[s: s + batch_size].to(x.device) if cfg.num_classes else None
        total += float(nll(model, x, y).sum())
    nats = total / n
    return {"nll_nats": nats, "bits_per_dim": nats / (cfg.channels * cfg.image_size ** 2 * math.log(2))}


from .engine import Engine  # noqa: E402  (after Config: engine.py imports it)

__all__ = ["Engine", "FAMILY", "Config", "PixelCNN", "build", "evaluate", "make_loss", "marginal_nll", "nll",
           "quantize"]
