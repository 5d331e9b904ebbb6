"""What the UI and the command line use to sample a diffusion checkpoint: numpy out, seeded."""

from __future__ import annotations

import numpy as np
import torch

from .. import runtime
from ..errors import UserError
from ..train import to_uint8
from .process import check_labels

FAMILY = "ddpm"
MAX_BATCH = 256


class Engine:
    def __init__(self, ckpt, device: torch.device | None = None):
        from . import Config, make_process  # the package imports this module

        self.device = device or runtime.device()
        self.config, self.model = ckpt.build(self.device)
        assert isinstance(self.config, Config)
        self.process = make_process(self.config)
        self.card = ckpt.card
        self.name = ckpt.name
        self.path = ckpt.path

    @classmethod
    def load(cls, path, device: torch.device | None = None) -> "Engine":
        from .. import checkpoint

        return cls(checkpoint.load(path, expect_family=FAMILY), device)

    @property
    def num_classes(self) -> int | None:
        return self.config.num_classes

    def labels_for(self, n: int, label) -> torch.Tensor | None:
        """None -> unconditional; "all" -> an even spread 0, 1, ..., K-1, 0, ...; an int -> that class."""
        if label is None:
            return None
        if self.num_classes is None:
            raise UserError("diffusion_unconditional")
        if label == "all":
            return torch.arange(n) % self.num_classes
        try:
            value = int(label)
        except (TypeError, ValueError):
            raise UserError("diffusion_label", value=label, high=self.num_classes - 1) from None
        return check_labels(self.model, value, n, "cpu")

    def sample(self, n: int, seed: int, *, label=None, guidance: float | None = None,
               sampler: str = "ddim", steps: int | None = 50, eta: float = 0.0
               ) -> tuple[np.ndarray, np.ndarray | None]:
        """n images, uint8 (n, H, W, C), and their labels (or None), reproducible by seed.

        guidance: classifier-free guidance scale (default: the card's `default_guidance`, else 1,
        the plain conditional model); sampler "ddpm" takes all T steps, "ddim" takes `steps`.
        """
        if not 1 <= int(n) <= MAX_BATCH:
            raise UserError("value_out_of_range", what="n", low=1, high=MAX_BATCH, value=n)
        c = self.config
        y = self.labels_for(int(n), label)
        if guidance is None:
            guidance = float(self.card.get("default_guidance", 1.0)) if y is not None else 1.0
        gen = runtime.generator(seed, self.device)
        # The samplers take the compute lock per step, so other requests interleave with a long run.
        with torch.inference_mode():
            x = self.process.sample(
                self.model, (int(n), c.channels, c.image_size, c.image_size), gen=gen, method=sampler,
                steps=None if sampler == "ddpm" else steps, eta=eta, guidance=guidance,
                y=None if y is None else y.to(self.device))
        return to_uint8(x), (None if y is None else y.numpy())
