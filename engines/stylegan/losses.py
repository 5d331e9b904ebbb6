"""GAN losses as small pure functions, and the two phases the shared trainer runs each step.

With D's logit l(x) and sigma the logistic function (Goodfellow et al. 2014; StyleGAN2 sec. 2):
  D:  softplus(l(G(z))) + softplus(-l(x))   = -log(1 - sigma(l(G(z)))) - log sigma(l(x))
  G:  softplus(-l(G(z)))                    = -log sigma(l(G(z)))   (non-saturating)
  R1: gamma / 2 * E |grad_x l(x)|^2 on real x (Mescheder et al. 2018), lazily: every
      r1_every D steps, multiplied by r1_every so its average weight is unchanged (StyleGAN2 app. B).
An untrained D (l = 0) scores 2 ln 2 = 1.386 on the D loss and ln 2 on the G loss.

Differentiable augmentation (Zhao et al. 2020, "Differentiable Augmentation for Data-Efficient
GAN Training"): with `config.augment` set, every image D sees, real or generated, in the D and
the G phase alike, is first randomly translated and/or cut out. D then cannot memorise the
few thousand training images, and since the same transforms hit both sides and are
differentiable, G still learns the un-augmented distribution. R1 is taken with respect to the
un-augmented real images.
"""

from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F

from .. import runtime
from ..pictures import image_grid, to_uint8
from .networks import GAN, Generator, to_signed, to_unit


def d_logistic(real_logits: torch.Tensor, fake_logits: torch.Tensor) -> torch.Tensor:
    """The discriminator's logistic loss, mean over the batch: logits (B,) -> scalar."""
    return F.softplus(fake_logits).mean() + F.softplus(-real_logits).mean()


def g_nonsaturating(fake_logits: torch.Tensor) -> torch.Tensor:
    """The generator's non-saturating logistic loss: -log sigma(l(G(z))), mean: (B,) -> scalar."""
    return F.softplus(-fake_logits).mean()


def r1_penalty(real_logits: torch.Tensor, real: torch.Tensor) -> torch.Tensor:
    """|grad_x l(x)|^2 per image, (B,): `real` (B, C, H, W) must require grad and `real_logits`
    (B,) be D's output on it. The graph is kept, so the penalty itself can be differentiated."""
    (grad,) = torch.autograd.grad(real_logits.sum(), real, create_graph=True)
    return grad.square().sum(dim=(1, 2, 3))


AUGMENTS = ("translation", "cutout")


def translate(x: torch.Tensor, gen: torch.Generator | None, ratio: float = 0.125) -> torch.Tensor:
    """Shift each image (B, C, H, W) by its own random whole-pixel offset, up to ratio * side in
    each direction; the border pixels extend into the uncovered part (MNIST's black background
    stays black). Differentiable with respect to x."""
    B, _, H, W = x.shape
    sh, sw = max(1, round(H * ratio)), max(1, round(W * ratio))
    dy = torch.randint(-sh, sh + 1, (B, 1), generator=gen, device=x.device)
    dx = torch.randint(-sw, sw + 1, (B, 1), generator=gen, device=x.device)
    rows = (torch.arange(H, device=x.device)[None] - dy).clamp(0, H - 1)  # (B, H): source row
    cols = (torch.arange(W, device=x.device)[None] - dx).clamp(0, W - 1)  # (B, W)
    index = (rows[:, :, None] * W + cols[:, None, :]).reshape(B, 1, H * W).expand(-1, x.shape[1], -1)
    return x.flatten(2).gather(2, index).reshape(x.shape)


def cutout(x: torch.Tensor, gen: torch.Generator | None, ratio: float = 0.5) -> torch.Tensor:
    """Set a random (ratio * side)-square of each image (B, C, H, W) to 0 (mid-grey in [-1, 1]);
    the square may hang over the edge."""
    B, _, H, W = x.shape
    ch, cw = round(H * ratio), round(W * ratio)
    # Top-left corner: the square's centre is uniform over the image.
    y0 = torch.randint(0, H + 1, (B, 1, 1), generator=gen, device=x.device) - ch // 2
    x0 = torch.randint(0, W + 1, (B, 1, 1), generator=gen, device=x.device) - cw // 2
    ys = torch.arange(H, device=x.device)[None, :, None] - y0
    xs = torch.arange(W, device=x.device)[None, None, :] - x0
    inside = (ys >= 0) & (ys < ch) & (xs >= 0) & (xs < cw)  # (B, H, W)
    return x * (~inside)[:, None].to(x.dtype)


def augment(x: torch.Tensor, policy: str, gen: torch.Generator | None) -> torch.Tensor:
    """DiffAugment: the transforms named in `policy` ("translation,cutout", "" for none), in that
    order, each with fresh random draws per image from `gen`."""
    for name in (p.strip() for p in policy.split(",")):
        if name == "translation":
            x = translate(x, gen)
        elif name == "cutout":
            x = cutout(x, gen)
        elif name:
            raise ValueError(f"unknown augmentation {name!r}; known: {', '.join(AUGMENTS)}")
    return x


def mixed_ws(G: Generator, z: torch.Tensor, gen: torch.Generator | None, prob: float, *,
             update_w_avg: bool = False) -> torch.Tensor:
    """Style-mixing regularisation (StyleGAN sec. 3.1): z (B, z_dim) -> ws (B, num_ws, w_dim).

    With probability `prob` the batch takes layers [cutoff, num_ws) from a second z, with cutoff
    uniform in 1 .. num_ws - 1, so G cannot rely on neighbouring layers sharing one w. The
    random numbers are drawn whether or not the batch mixes (no host sync, same stream of draws).
    """
    ws = G.broadcast(G.mapping(z, update_w_avg=update_w_avg))
    if prob <= 0:
        return ws
    z2 = torch.randn(z.shape, generator=gen, device=z.device, dtype=z.dtype)
    cutoff = torch.randint(1, G.num_ws, (), generator=gen, device=z.device)
    mix = torch.rand((), generator=gen, device=z.device) < prob
    cutoff = torch.where(mix, cutoff, torch.full_like(cutoff, G.num_ws))
    take_second = (torch.arange(G.num_ws, device=z.device) >= cutoff)[None, :, None]  # (1, num_ws, 1)
    return torch.where(take_second, G.broadcast(G.mapping(z2)), ws)


def make_losses(config):
    """(d_loss, g_loss), each loss_fn(model: GAN, batch, gen, step) -> (loss, logs), for `Phase`s.

    Logs stay tensors on the device (the trainer reads them back once per window). The D phase
    logs `r1` (the mean squared gradient norm) only on the steps where R1 is applied.
    """

    def sample_z(G: Generator, batch: dict, gen: torch.Generator) -> torch.Tensor:
        x = batch["x"]
        return torch.randn(len(x), G.z_dim, generator=gen, device=x.device)

    policy = config.augment

    def D_of(D, x: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
        return D(augment(x, policy, gen) if policy else x)

    def d_loss(model: GAN, batch: dict, gen: torch.Generator, step: int):
        G, D = model.G, model.D
        with torch.no_grad():
            ws = mixed_ws(G, sample_z(G, batch, gen), gen, config.style_mixing_prob)
            fake = G.synthesis(ws, noise_mode="random", gen=gen)
        do_r1 = config.r1_gamma > 0 and step % config.r1_every == 0
        real = to_signed(batch["x"]).detach().requires_grad_(do_r1)
        real_logits, fake_logits = D_of(D, real, gen), D_of(D, fake, gen)
        loss = d_logistic(real_logits, fake_logits)
        logs = {"logistic": loss.detach(), "real_logit": real_logits.detach().mean(),
                "fake_logit": fake_logits.detach().mean()}
        if do_r1:
            r1 = r1_penalty(real_logits, real).mean()
            loss = loss + config.r1_gamma / 2 * r1 * config.r1_every
            logs["r1"] = r1.detach()
        return loss, logs

    def g_loss(model: GAN, batch: dict, gen: torch.Generator, step: int):
        G, D = model.G, model.D
        ws = mixed_ws(G, sample_z(G, batch, gen), gen, config.style_mixing_prob, update_w_avg=True)
        fake_logits = D_of(D, G.synthesis(ws, noise_mode="random", gen=gen), gen)
        return g_nonsaturating(fake_logits), {"fake_logit": fake_logits.detach().mean()}

    return d_loss, g_loss


def make_phases(config, lr: float, betas: tuple[float, float] = (0.0, 0.99)) -> list:
    """The trainer's phases, D then G, each with its own AdamW over its own player's weights.

    Lazy R1 makes a D step every r1_every-th one heavier; StyleGAN2 (app. B) compensates by
    scaling D's lr and betas by c = r1_every / (r1_every + 1).
    """
    from ..train import Phase  # the trainer is only needed for training

    c = config.r1_every / (config.r1_every + 1) if config.r1_gamma > 0 else 1.0
    d_loss, g_loss = make_losses(config)
    return [
        Phase("D", d_loss, lambda m: m.D.parameters(), lr=lr * c, betas=(betas[0] ** c, betas[1] ** c)),
        Phase("G", g_loss, lambda m: m.G.parameters(), lr=lr, betas=betas),
    ]


def preview_fn(config, n: int = 16, seed: int = 1234):
    """A preview callback for the trainer: fixed z, constant noise, psi = 1, so the grid shows
    progress rather than resampling."""
    z = torch.randn(n, config.z_dim, generator=runtime.generator(seed))

    def preview(model: GAN) -> np.ndarray:
        G = model.G
        x = G(z.to(G.synthesis.const.device), noise_mode="const")
        return image_grid(to_uint8(to_unit(x)), nrow=math.ceil(math.sqrt(n)))

    return preview
