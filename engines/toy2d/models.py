"""Tiny MLPs for 2-D data and their losses, as small pure functions.

GAN: a generator G: z (2-D, N(0, I)) -> x and a discriminator (critic) D: x -> one number, with
three losses: non-saturating ("ns", Goodfellow et al. 2014), least squares ("ls", Mao et al. 2017)
and Wasserstein with gradient penalty ("wgan-gp", Gulrajani et al. 2017).
Diffusion: a DDPM (Ho et al. 2020) whose network predicts the noise eps(x_t, t).
VAE: an encoder x -> (mu, log sigma^2) over a 2-D latent z, and a decoder z -> mean of x.
"""

from __future__ import annotations

import math

import torch
from torch import nn
from torch.nn import functional as F

from ..stylegan.losses import d_logistic, g_nonsaturating

GAN_LOSSES = ("ns", "ls", "wgan-gp")
X0_CLIP = 3.0  # |x^_0| bound while sampling (the data lie within 2.5)


def mlp(inp: int, hidden: int, out: int, *, depth: int = 2, act: type[nn.Module] = nn.LeakyReLU) -> nn.Sequential:
    """inp -> [Linear(hidden) -> act] x depth -> Linear(out)."""
    layers: list[nn.Module] = []
    width = inp
    for _ in range(depth):
        layers += [nn.Linear(width, hidden), act()]
        width = hidden
    layers.append(nn.Linear(width, out))
    return nn.Sequential(*layers)


# --- GAN -------------------------------------------------------------------------------------------


class GAN(nn.Module):
    def __init__(self, *, hidden: int = 64):  # hidden: units in each of the two hidden layers
        super().__init__()
        self.G = mlp(2, hidden, 2)   # z (B, 2) -> x (B, 2)
        self.D = mlp(2, hidden, 1)   # x (B, 2) -> (B, 1): a logit ("ns"), a score ("ls"), a critic value ("wgan-gp")


def d_display(kind: str, raw: torch.Tensor) -> torch.Tensor:
    """What D outputs in the sense of its loss: sigmoid(logit) = P(real) for "ns", the raw value otherwise."""
    return torch.sigmoid(raw) if kind == "ns" else raw


def d_loss(kind: str, d_real: torch.Tensor, d_fake: torch.Tensor) -> torch.Tensor:
    """The discriminator's loss from its raw outputs on a real and a fake batch (B,), without any penalty."""
    if kind == "ns":   # -log D(x) - log(1 - D(G(z))), D = sigmoid(logit): StyleGAN's logistic loss
        return d_logistic(d_real, d_fake)
    if kind == "ls":   # targets 1 for real, 0 for fake
        return 0.5 * ((d_real - 1) ** 2).mean() + 0.5 * (d_fake**2).mean()
    if kind == "wgan-gp":  # the critic maximises E[D(real)] - E[D(fake)]
        return d_fake.mean() - d_real.mean()
    raise ValueError(kind)


def g_loss(kind: str, d_fake: torch.Tensor) -> torch.Tensor:
    """The generator's loss from D's raw outputs on fakes (B,)."""
    if kind == "ns":   # -log D(G(z)): strong gradients while D rejects the fakes
        return g_nonsaturating(d_fake)
    if kind == "ls":
        return 0.5 * ((d_fake - 1) ** 2).mean()
    if kind == "wgan-gp":
        return -d_fake.mean()
    raise ValueError(kind)


def gradient_penalty(D: nn.Module, real: torch.Tensor, fake: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
    """E[(||grad_x D(x_hat)||_2 - 1)^2] at x_hat = e * real + (1 - e) * fake, e ~ U(0, 1) per point
    (equation 3 of Gulrajani et al. 2017). real, fake: (B, 2)."""
    e = torch.rand(real.shape[0], 1, generator=gen)
    x_hat = (e * real + (1 - e) * fake).detach().requires_grad_(True)
    (grad,) = torch.autograd.grad(D(x_hat).sum(), x_hat, create_graph=True)
    return ((grad.norm(dim=1) - 1) ** 2).mean()


# --- diffusion -------------------------------------------------------------------------------------


def cosine_alpha_bar(timesteps: int, s: float = 0.008) -> torch.Tensor:
    """abar_t for t = 1..T from the cosine schedule (Nichol & Dhariwal 2021, eq. 17), betas clipped at 0.999."""
    steps = torch.arange(timesteps + 1, dtype=torch.float64) / timesteps
    f = torch.cos((steps + s) / (1 + s) * math.pi / 2) ** 2
    betas = (1 - f[1:] / f[:-1]).clamp(max=0.999)
    return torch.cumprod(1 - betas, 0).float()


class Denoiser(nn.Module):
    """eps_theta(x_t, t): x_t (B, 2) and t (B,) in 0..T-1 -> the predicted noise (B, 2)."""

    def __init__(self, *, hidden: int = 128, timesteps: int = 50, embed: int = 16):
        super().__init__()
        self.timesteps = timesteps
        self.embed = embed
        self.net = mlp(2 + embed, hidden, 2, depth=3, act=nn.SiLU)
        abar = cosine_alpha_bar(timesteps)
        self.register_buffer("abar", abar, persistent=False)                               # (T,)
        self.register_buffer("alpha", abar / torch.cat([abar.new_ones(1), abar[:-1]]), persistent=False)

    def time_embedding(self, t: torch.Tensor) -> torch.Tensor:
        half = self.embed // 2
        freqs = torch.exp(-math.log(1000.0) * torch.arange(half, dtype=torch.float32) / half)
        angles = (t.float() / self.timesteps * 1000.0)[:, None] * freqs[None] / 10.0
        return torch.cat([angles.sin(), angles.cos()], 1)  # (B, embed)

    def forward(self, x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        return self.net(torch.cat([x, self.time_embedding(t)], 1))


def diffusion_loss(model: Denoiser, x0: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
    """L_simple = E ||eps - eps_theta(sqrt(abar_t) x0 + sqrt(1 - abar_t) eps, t)||^2 (Ho et al., eq. 14)."""
    t = torch.randint(0, model.timesteps, (x0.shape[0],), generator=gen)
    eps = torch.randn(x0.shape, generator=gen)
    abar = model.abar[t][:, None]
    x_t = abar.sqrt() * x0 + (1 - abar).sqrt() * eps
    return F.mse_loss(model(x_t, t), eps)


@torch.no_grad()
def ddim_sample(model: Denoiser, x_T: torch.Tensor) -> torch.Tensor:
    """Deterministic DDIM sampling (eta = 0, Song et al. 2021, eq. 12) through all T steps from x_T (B, 2).
    -> the whole path (T + 1, B, 2): path[0] = x_T (pure noise), path[T] = x_0. Without fresh noise at
    each step the paths are smooth: they follow the learned field from noise to the data."""
    path = [x_T]
    x = x_T
    for t in range(model.timesteps - 1, -1, -1):
        eps = model(x, torch.full((x.shape[0],), t, dtype=torch.long))
        abar = model.abar[t]
        abar_prev = model.abar[t - 1] if t > 0 else abar.new_tensor(1.0)
        x0 = (x - (1 - abar).sqrt() * eps) / abar.sqrt()          # the predicted clean point x^_0
        x0 = x0.clamp(-X0_CLIP, X0_CLIP)  # at t near T, 1/sqrt(abar_t) is huge: keep x^_0 near the data
        x = abar_prev.sqrt() * x0 + (1 - abar_prev).sqrt() * eps
        path.append(x)
    return torch.stack(path)


# --- VAE -------------------------------------------------------------------------------------------


class VAE2D(nn.Module):
    def __init__(self, *, hidden: int = 64, obs_std: float = 0.1):
        super().__init__()
        self.obs_std = obs_std        # the decoder's fixed standard deviation: p(x | z) = N(dec(z), obs_std^2 I)
        self.enc = mlp(2, hidden, 4)  # x (B, 2) -> (mu, log sigma^2) of q(z | x), each (B, 2)
        self.dec = mlp(2, hidden, 2)  # z (B, 2) -> the mean of p(x | z) (B, 2)

    def encode(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        mu, logvar = self.enc(x).chunk(2, dim=1)
        return mu, logvar.clamp(-12, 6)


def vae_loss(model: VAE2D, x: torch.Tensor, gen: torch.Generator, beta: float = 1.0
             ) -> tuple[torch.Tensor, dict[str, float]]:
    """-ELBO per point (nats) with the KL weighted by beta: recon = -log N(x; dec(z), s^2 I),
    KL(N(mu, sigma^2) || N(0, I)) = 1/2 sum(mu^2 + sigma^2 - log sigma^2 - 1)."""
    mu, logvar = model.encode(x)
    z = mu + (0.5 * logvar).exp() * torch.randn(mu.shape, generator=gen)  # the reparameterisation trick
    s2 = model.obs_std**2
    recon = (((x - model.dec(z)) ** 2).sum(1) / (2 * s2) + math.log(2 * math.pi * s2)).mean()
    kl = 0.5 * (mu**2 + logvar.exp() - logvar - 1).sum(1).mean()
    return recon + beta * kl, {"recon": recon.item(), "kl": kl.item()}
