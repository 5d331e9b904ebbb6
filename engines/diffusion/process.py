"""The Gaussian diffusion process: noise schedules, q(x_t | x_0), the posterior, the loss, samplers.

Notation (Ho et al. 2020, "DDPM"): beta_t is the noise added at step t, alpha_t = 1 - beta_t,
abar_t = prod_{s <= t} alpha_s. Timesteps are 0-based here: index t in 0..T-1 holds the paper's
beta_{t+1}, so x_t at index t is the paper's x_{t+1}, and index 0 is the last denoising step.

Data convention: the process works on x in [-1, 1]. Images cross the engine boundary as floats
in [0, 1] (or uint8); `to_signed` maps [0, 1] -> [-1, 1] (2x - 1) and `to_unit` maps back
((x + 1) / 2, clamped), `to_images` gives uint8 (B, H, W, C).

The process never owns the network: every method takes `model`, any module with
`eps = model(x, t, y)` and an attribute `num_classes` (None for an unconditional model; label
`num_classes` is then the null label of classifier-free guidance).
"""

from __future__ import annotations

import inspect
import math
from dataclasses import dataclass
from typing import Callable, Iterator, Literal

import numpy as np
import torch
import torch.nn.functional as F

from .. import gpu, runtime
from ..errors import UserError
from ..pictures import to_uint8

MAX_GUIDANCE = 50.0  # |guidance scale| above this is refused: far beyond anything useful
MAX_BETA = 0.999     # betas are clipped here, so no step destroys the signal entirely

# cond_fn(x_t (B, C, H, W), a leaf requiring grad; t (B,)[, eps=the sampler's noise prediction])
#   -> grad_x log p(c | x_t), (B, C, H, W)
CondFn = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


# --- the engine boundary's images <-> the process's data space --------------------------------


def to_signed(x: torch.Tensor) -> torch.Tensor:
    """Images in [0, 1] -> the process's data space [-1, 1]."""
    return x * 2 - 1


def to_unit(x: torch.Tensor) -> torch.Tensor:
    """[-1, 1] -> images in [0, 1], clamped (a sample may stray slightly outside)."""
    return ((x + 1) / 2).clamp(0, 1)


def to_images(x: torch.Tensor) -> np.ndarray:
    """(B, C, H, W) in [-1, 1] -> uint8 (B, H, W, C), what the UI shows."""
    return to_uint8(to_unit(x))


# --- schedules -----------------------------------------------------------------------------------


def make_schedule(name: Literal["linear", "cosine"], timesteps: int) -> torch.Tensor:
    """betas (T,), float64.

    linear: Ho et al. 2020, beta from 1e-4 to 0.02 over T = 1000, both ends scaled by 1000 / T
        so other T keep a similar total noise (Nichol & Dhariwal 2021, sec. 3.2).
    cosine: Nichol & Dhariwal 2021, eq. 17: abar(t) = f(t) / f(0), f(t) = cos^2((t/T + s)/(1 + s) * pi/2),
        s = 0.008; beta_t = 1 - abar(t) / abar(t-1).
    Both clipped at MAX_BETA.
    """
    T = int(timesteps)
    if T < 2:
        raise ValueError(f"timesteps must be >= 2, not {timesteps}")
    if name == "linear":
        scale = 1000 / T
        betas = torch.linspace(scale * 1e-4, scale * 0.02, T, dtype=torch.float64)
    elif name == "cosine":
        s = 0.008
        f = torch.cos((torch.arange(T + 1, dtype=torch.float64) / T + s) / (1 + s) * math.pi / 2) ** 2
        abar = f / f[0]
        betas = 1 - abar[1:] / abar[:-1]
    else:
        raise ValueError(f"schedule must be 'linear' or 'cosine', not {name!r}")
    return betas.clamp(max=MAX_BETA)


# --- checks ------------------------------------------------------------------------------------------


def check_guidance(guidance) -> float:
    try:
        s = float(guidance)
    except (TypeError, ValueError):
        raise UserError("diffusion_guidance", max=MAX_GUIDANCE, value=guidance) from None
    if not (math.isfinite(s) and abs(s) <= MAX_GUIDANCE):
        raise UserError("diffusion_guidance", max=MAX_GUIDANCE, value=guidance)
    return s


def check_p_uncond(p_uncond) -> float:
    p = float(p_uncond)
    if not 0.0 <= p <= 1.0:  # also refuses NaN
        raise UserError("diffusion_p_uncond", value=p_uncond)
    return p


def check_labels(model, y, n: int, device) -> torch.Tensor | None:
    """y: None, one label, or one per image -> long (n,) on `device`, each in 0..num_classes-1."""
    if y is None:
        return None
    num_classes = getattr(model, "num_classes", None)
    if num_classes is None:
        raise UserError("diffusion_unconditional")
    y = torch.as_tensor(y, device=device)
    if y.is_floating_point() and not bool((y == y.round()).all()):
        raise UserError("diffusion_label", value=y.tolist(), high=num_classes - 1)
    y = y.long()
    if y.ndim == 0 or y.numel() == 1:
        y = y.reshape(1).expand(n)
    if y.shape != (n,):
        raise UserError("diffusion_labels_count", count=y.numel(), n=n)
    bad = (y < 0) | (y >= num_classes)
    if bool(bad.any()):
        raise UserError("diffusion_label", value=int(y[bad][0]), high=num_classes - 1)
    return y


# --- the process ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Step:
    """One step of a sampler, what a UI streams and stores. Tensors are (B, C, H, W) in [-1, 1] space.

    Branch a run from here with start=(step.t, step.x_t) (redo this step) or
    start=(step.t_prev, step.x_prev) (go on after it; not after the last step).
    """

    index: int             # position in this run, 0..count-1
    count: int             # steps in this run
    t: int                 # timestep of x_t (0-based; 0 is the last step)
    t_prev: int            # timestep of x_prev; -1 when x_prev is the final sample
    x_t: torch.Tensor      # the sample entering this step
    eps: torch.Tensor      # the network's noise prediction at (x_t, t), after classifier-free guidance
    x0_pred: torch.Tensor  # the predicted x_0 this step moved towards (clamped to [-1, 1] if clip_x0)
    x_prev: torch.Tensor   # the sample leaving this step


class GaussianDiffusion:
    """The forward process q(x_t | x_0) for a beta schedule, and everything derived from it."""

    def __init__(self, betas: torch.Tensor):
        betas = torch.as_tensor(betas, dtype=torch.float64).cpu()
        if betas.ndim != 1 or len(betas) < 2 or not bool(((betas > 0) & (betas < 1)).all()):
            raise ValueError("betas must be a 1-D schedule of at least 2 values in (0, 1)")
        self.T = len(betas)
        self.betas = betas                                         # (T,)
        self.alphas = 1 - betas
        self.alphas_cumprod = torch.cumprod(self.alphas, 0)        # abar_t
        self.alphas_cumprod_prev = torch.cat([torch.ones(1, dtype=torch.float64), self.alphas_cumprod[:-1]])
        self.sqrt_alphas_cumprod = self.alphas_cumprod.sqrt()
        self.sqrt_one_minus_alphas_cumprod = (1 - self.alphas_cumprod).sqrt()
        self.sqrt_recip_alphas_cumprod = self.alphas_cumprod.rsqrt()
        self.sqrt_recipm1_alphas_cumprod = (1 / self.alphas_cumprod - 1).sqrt()
        # Posterior q(x_{t-1} | x_t, x_0) = N(mean, beta~_t), Ho et al. eq. 6-7:
        #   beta~_t = (1 - abar_{t-1}) / (1 - abar_t) * beta_t
        #   mean    = sqrt(abar_{t-1}) beta_t / (1 - abar_t) x_0 + sqrt(alpha_t) (1 - abar_{t-1}) / (1 - abar_t) x_t
        ab, ab_prev = self.alphas_cumprod, self.alphas_cumprod_prev
        self.posterior_variance = betas * (1 - ab_prev) / (1 - ab)
        # beta~_0 = 0: the log is clipped to beta~_1 there, as its value never matters but a -inf would.
        self.posterior_log_variance_clipped = torch.log(
            torch.cat([self.posterior_variance[1:2], self.posterior_variance[1:]]))
        self.posterior_mean_coef1 = betas * ab_prev.sqrt() / (1 - ab)
        self.posterior_mean_coef2 = (1 - ab_prev) * self.alphas.sqrt() / (1 - ab)

    def __repr__(self) -> str:
        return f"GaussianDiffusion(T={self.T})"

    # -- indexing ---------------------------------------------------------------------------------

    def _check_t(self, t) -> torch.Tensor:
        t = torch.as_tensor(t).long().cpu()
        if bool(((t < 0) | (t >= self.T)).any()):
            raise ValueError(f"timesteps must be in 0..{self.T - 1}, got {t.tolist()}")
        return t

    def _at(self, arr: torch.Tensor, t, x: torch.Tensor) -> torch.Tensor:
        """arr[t] as x's dtype and device, shaped to broadcast against x: (B, 1, 1, 1) or (1, 1, 1, 1)."""
        v = arr[self._check_t(t)].to(device=x.device, dtype=x.dtype)
        return v.reshape(v.shape + (1,) * (x.ndim - v.ndim)) if v.ndim else v.reshape((1,) * x.ndim)

    def abar(self, t, x: torch.Tensor) -> torch.Tensor:
        """abar_t for an int or (B,) timesteps (on any device), as x's dtype and device, shaped to
        broadcast against x."""
        return self._at(self.alphas_cumprod, t, x)

    def _batch_t(self, t, x: torch.Tensor) -> torch.Tensor:
        """An int or (B,) timesteps -> long (B,) on x's device, what the network takes."""
        t = self._check_t(t)
        return (t.expand(len(x)) if t.ndim == 0 else t).to(x.device)

    # -- the forward process ----------------------------------------------------------------------

    def q_mean_variance(self, x0: torch.Tensor, t) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """q(x_t | x_0) = N(sqrt(abar_t) x_0, (1 - abar_t) I) (eq. 4) -> mean, var, logvar, each x0's shape."""
        mean = self._at(self.sqrt_alphas_cumprod, t, x0) * x0
        var = self._at(1 - self.alphas_cumprod, t, x0).expand_as(x0)
        return mean, var, var.log()

    def q_sample(self, x0: torch.Tensor, t, noise: torch.Tensor) -> torch.Tensor:
        """x_t = sqrt(abar_t) x_0 + sqrt(1 - abar_t) eps, eps ~ N(0, I) given as `noise` (eq. 4)."""
        assert noise.shape == x0.shape, (noise.shape, x0.shape)
        return self._at(self.sqrt_alphas_cumprod, t, x0) * x0 + self._at(self.sqrt_one_minus_alphas_cumprod, t, x0) * noise

    def q_posterior(self, x0: torch.Tensor, xt: torch.Tensor, t) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """q(x_{t-1} | x_t, x_0) = N(mean, beta~_t I) (eq. 6-7) -> mean, var, logvar (clipped), each x_t's shape."""
        mean = self._at(self.posterior_mean_coef1, t, xt) * x0 + self._at(self.posterior_mean_coef2, t, xt) * xt
        var = self._at(self.posterior_variance, t, xt).expand_as(xt)
        logvar = self._at(self.posterior_log_variance_clipped, t, xt).expand_as(xt)
        return mean, var, logvar

    def predict_x0(self, xt: torch.Tensor, t, eps: torch.Tensor) -> torch.Tensor:
        """Eq. 4 solved for x_0: x_0 = (x_t - sqrt(1 - abar_t) eps) / sqrt(abar_t)."""
        return self._at(self.sqrt_recip_alphas_cumprod, t, xt) * xt - self._at(self.sqrt_recipm1_alphas_cumprod, t, xt) * eps

    def predict_eps(self, xt: torch.Tensor, t, x0: torch.Tensor) -> torch.Tensor:
        """Eq. 4 solved for eps: eps = (x_t - sqrt(abar_t) x_0) / sqrt(1 - abar_t)."""
        return (self._at(self.sqrt_recip_alphas_cumprod, t, xt) * xt - x0) / self._at(self.sqrt_recipm1_alphas_cumprod, t, xt)

    def snr(self, t) -> torch.Tensor:
        """Signal-to-noise ratio abar_t / (1 - abar_t) (Kingma et al. 2021), float64, t's shape."""
        ab = self.alphas_cumprod[self._check_t(t)]
        return ab / (1 - ab)

    # -- training ----------------------------------------------------------------------------------

    def loss(self, model, x0: torch.Tensor, gen: torch.Generator, y=None, *, p_uncond: float = 0.1) -> torch.Tensor:
        """L_simple (Ho et al. eq. 14): mean over pixels and batch of ||eps - model(x_t, t, y)||^2,
        t ~ Uniform{0..T-1}, eps ~ N(0, I), x_t from eq. 4.

        x0: (B, C, H, W) in [-1, 1]. On a class-conditional model each label is replaced by the
        null label with probability p_uncond (all of them when y is None), so one network learns
        both eps(x, t, y) and eps(x, t) for classifier-free guidance (Ho & Salimans 2022, Alg. 1).
        """
        p = check_p_uncond(p_uncond)
        B = len(x0)
        t = torch.randint(0, self.T, (B,), generator=gen, device=x0.device)
        noise = torch.randn(x0.shape, generator=gen, device=x0.device, dtype=x0.dtype)
        num_classes = getattr(model, "num_classes", None)
        y = check_labels(model, y, B, x0.device)
        if num_classes is not None and y is None:
            y = torch.full((B,), num_classes, dtype=torch.long, device=x0.device)
        elif num_classes is not None:
            drop = torch.rand(B, generator=gen, device=x0.device) < p
            y = torch.where(drop, torch.full_like(y, num_classes), y)
        return F.mse_loss(model(self.q_sample(x0, t, noise), t, y), noise)

    # -- the reverse process ---------------------------------------------------------------------

    def eps(self, model, x: torch.Tensor, t, y=None, *, guidance: float = 1.0) -> torch.Tensor:
        """The noise prediction at (x (B, C, H, W), t) with classifier-free guidance -> (B, C, H, W):

            eps = eps(x, t) + s * (eps(x, t, y) - eps(x, t))

        (Ho & Salimans 2022, eq. 6, with s = 1 + w). s = 0 is exactly the unconditional prediction,
        s = 1 exactly the conditional one (one network pass each); y = None is unconditional.
        """
        s = check_guidance(guidance)
        return self._eps(model, x, self._batch_t(t, x), check_labels(model, y, len(x), x.device), s)

    def _eps(self, model, x: torch.Tensor, t: torch.Tensor, y: torch.Tensor | None, s: float) -> torch.Tensor:
        if y is None or s == 1.0:
            return model(x, t, y)
        null = torch.full_like(y, model.num_classes)
        if s == 0.0:
            return model(x, t, null)
        cond, uncond = model(torch.cat([x, x]), torch.cat([t, t]), torch.cat([y, null])).chunk(2)
        return uncond + s * (cond - uncond)

    def spaced_timesteps(self, steps: int) -> list[int]:
        """`steps` timesteps evenly spaced from T-1 down to 0 (both included when steps >= 2), descending."""
        steps = self._check_steps(steps)
        if steps == 1:
            return [self.T - 1]
        return [int(math.floor(v + 0.5)) for v in np.linspace(self.T - 1, 0, steps)]

    def _check_steps(self, steps) -> int:
        try:
            n = int(steps)
        except (TypeError, ValueError, OverflowError):
            raise UserError("diffusion_steps", max=self.T, value=steps) from None
        if n != steps or not 1 <= n <= self.T:
            raise UserError("diffusion_steps", max=self.T, value=steps)
        return n

    def _start(self, model, shape, gen: torch.Generator, y, guidance, start):
        """Validate a sampler's inputs -> (x_T or the given x_t, its timestep, labels, guidance)."""
        s = check_guidance(guidance)
        if start is None:
            if shape is None:
                raise ValueError("give the sample shape (B, C, H, W) or start=(t, x_t)")
            x = torch.randn(tuple(shape), generator=gen, device=gen.device)
            t = self.T - 1
        else:
            t, x = start
            try:
                t = int(t)
            except (TypeError, ValueError):
                raise UserError("diffusion_start", value=t, high=self.T - 1) from None
            if not 0 <= t < self.T:
                raise UserError("diffusion_start", value=t, high=self.T - 1)
            x = torch.as_tensor(x).to(device=gen.device, dtype=torch.float32)
            if x.ndim != 4 or (shape is not None and tuple(shape) != tuple(x.shape)):
                raise ValueError(f"start x_t must be (B, C, H, W) matching shape {shape}, not {tuple(x.shape)}")
            if not bool(torch.isfinite(x).all()):
                raise UserError("value_not_finite", what="x_t", value="NaN/inf")
        return x, t, check_labels(model, y, len(x), x.device), s

    def _noise(self, x: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
        # Drawn where the generator is (the CPU one of a run whose steps a ZeroGPU worker takes).
        return torch.randn(x.shape, generator=gen, device=gen.device, dtype=x.dtype).to(x.device)

    def ddpm(self, model, shape=None, *, gen: torch.Generator, y=None, guidance: float = 1.0,
             cond_fn: CondFn | None = None, clip_x0: bool = False,
             start: tuple[int, torch.Tensor] | None = None) -> Iterator[Step]:
        """Ancestral sampling over every timestep (Ho et al. 2020, Algorithm 2), yielding each `Step`:

            x_{t-1} = mean(x_t, x0_pred) + sqrt(beta~_t) z,  z ~ N(0, I), no noise at the last step,

        with mean the posterior mean (eq. 7) at the predicted x_0 and beta~_t the posterior variance.
        shape: (B, C, H, W) of the samples, drawn as x_T ~ N(0, I) from `gen` (the device is gen's).
        cond_fn(x_t, t) -> grad log p(c | x_t) shifts the mean by beta~_t * grad (Dhariwal & Nichol
        2021, Algorithm 1); scale the gradient inside cond_fn. start=(t, x_t) begins at timestep t.
        Inputs are checked here, before the first step.
        """
        x, t0, y, s = self._start(model, shape, gen, y, guidance, start)
        # On ZeroGPU the steps run in GPU calls, a chunk each (engines.gpu); elsewhere the loop itself.
        return gpu.sampler(self._ddpm_loop, model, x, list(range(t0, -1, -1)), gen, y, s, cond_fn, clip_x0,
                           cond_fn=cond_fn)

    def _ddpm_loop(self, model, x, ts, gen, y, s, cond_fn, clip_x0) -> Iterator[Step]:
        for i, t in enumerate(ts):
            with runtime.COMPUTE_LOCK:
                tb = self._batch_t(t, x)
                with torch.no_grad():
                    eps = self._eps(model, x, tb, y, s)
                    x0 = self.predict_x0(x, t, eps)
                    if clip_x0:
                        x0 = x0.clamp(-1, 1)
                    mean, var, _ = self.q_posterior(x0, x, t)
                if cond_fn is not None:
                    mean = mean + var * _cond_grad(cond_fn, x, tb, eps)
                x_prev = mean + var.sqrt() * self._noise(x, gen) if t > 0 else mean
            yield Step(i, len(ts), t, t - 1, x, eps, x0, x_prev)
            x = x_prev

    def ddim(self, model, shape=None, *, gen: torch.Generator, steps: int, eta: float = 0.0, y=None,
             guidance: float = 1.0, cond_fn: CondFn | None = None, clip_x0: bool = False,
             start: tuple[int, torch.Tensor] | None = None, recurrence: int = 1) -> Iterator[Step]:
        """DDIM (Song et al. 2021, eq. 12) over `steps` evenly spaced timesteps, yielding each `Step`:

            x_prev = sqrt(abar_prev) x0_pred + sqrt(1 - abar_prev - sigma^2) eps + sigma z,
            sigma  = eta * sqrt((1 - abar_prev) / (1 - abar_t)) * sqrt(1 - abar_t / abar_prev)   (eq. 16)

        eta = 0 is deterministic given x_T; eta = 1 with steps = T is the DDPM sampler above.
        cond_fn(x_t, t) -> grad log p(c | x_t) changes the noise prediction to
        eps - sqrt(1 - abar_t) * grad (Dhariwal & Nichol 2021, Algorithm 2), which works at eta = 0.
        start=(t, x_t) begins at timestep t and goes on through the spaced timesteps below it.
        recurrence=k (with a cond_fn) takes each guided step k times: after each but the last, x_prev
        is noised back to t by q(x_t | x_prev) and stepped again, so guidance gets k tries at every
        noise level and the model repairs in between what the gradient disturbed ("self-recurrence",
        Bansal et al. 2023, Universal Guidance). Each Step is yielded once, for its last try.
        Inputs are checked here, before the first step.
        """
        seq = self.spaced_timesteps(steps)
        try:
            eta = float(eta)
        except (TypeError, ValueError):
            raise UserError("diffusion_eta", value=eta) from None
        if not 0.0 <= eta <= 1.0:
            raise UserError("diffusion_eta", value=eta)
        x, t0, y, s = self._start(model, shape, gen, y, guidance, start)
        ts = seq if start is None else [t0] + [t for t in seq if t < t0]
        recurrence = int(recurrence) if cond_fn is not None else 1
        if not 1 <= recurrence <= 16:
            raise ValueError("recurrence must be 1..16")
        return gpu.sampler(self._ddim_loop, model, x, ts, gen, eta, y, s, cond_fn, clip_x0, recurrence,
                           cond_fn=cond_fn)

    def _ddim_loop(self, model, x, ts, gen, eta, y, s, cond_fn, clip_x0, recurrence) -> Iterator[Step]:
        abar = self.alphas_cumprod
        for i, t in enumerate(ts):
            t_prev = ts[i + 1] if i + 1 < len(ts) else -1
            ab = float(abar[t])
            ab_prev = float(abar[t_prev]) if t_prev >= 0 else 1.0  # abar before the first forward step
            for _ in range(recurrence - 1):
                with runtime.COMPUTE_LOCK:
                    x_prev = self._ddim_step(model, x, t, ab, ab_prev, gen, eta, y, s, cond_fn, clip_x0)[-1]
                    with torch.no_grad():  # back to t: q(x_t | x_prev)
                        a = ab / ab_prev
                        x = math.sqrt(a) * x_prev + math.sqrt(1 - a) * self._noise(x, gen)
                # A CLIP-guided step at the tab's defaults (8 samples, 5 views each) is ~1 s taken
                # three times: sliders get the thread between the takes, not only between steps.
                runtime.give_way()
            with runtime.COMPUTE_LOCK:
                eps, x0, x_prev = self._ddim_step(model, x, t, ab, ab_prev, gen, eta, y, s, cond_fn, clip_x0)
            yield Step(i, len(ts), t, t_prev, x, eps, x0, x_prev)
            x = x_prev

    def _ddim_step(self, model, x, t, ab, ab_prev, gen, eta, y, s, cond_fn, clip_x0):
        """One DDIM update from x at t -> (the model's eps, the predicted x_0, x_prev)."""
        tb = self._batch_t(t, x)
        with torch.no_grad():
            eps = self._eps(model, x, tb, y, s)
        e = eps
        if cond_fn is not None:
            e = e - math.sqrt(1 - ab) * _cond_grad(cond_fn, x, tb, eps)
        with torch.no_grad():
            x0 = self.predict_x0(x, t, e)
            if clip_x0:
                x0 = x0.clamp(-1, 1)
                e = self.predict_eps(x, t, x0)
            sigma = eta * math.sqrt((1 - ab_prev) / (1 - ab) * (1 - ab / ab_prev))
            x_prev = math.sqrt(ab_prev) * x0 + math.sqrt(max(0.0, 1 - ab_prev - sigma**2)) * e
            if sigma > 0:
                x_prev = x_prev + sigma * self._noise(x, gen)
        return eps, x0, x_prev

    def sample(self, model, shape=None, *, gen: torch.Generator, method: Literal["ddpm", "ddim"] = "ddim",
               steps: int | None = None, eta: float = 0.0, y=None, guidance: float = 1.0,
               cond_fn: CondFn | None = None, clip_x0: bool = False,
               start: tuple[int, torch.Tensor] | None = None) -> torch.Tensor:
        """Run a sampler to the end -> the final samples, (B, C, H, W) in [0, 1].

        method "ddpm" takes all T steps; "ddim" takes `steps` (default T) with noise level `eta`.
        """
        common = dict(gen=gen, y=y, guidance=guidance, cond_fn=cond_fn, clip_x0=clip_x0, start=start)
        if method == "ddpm":
            run = self.ddpm(model, shape, **common)
        elif method == "ddim":
            run = self.ddim(model, shape, steps=self.T if steps is None else steps, eta=eta, **common)
        else:
            raise ValueError(f"method must be 'ddpm' or 'ddim', not {method!r}")
        last = None
        for last in run:
            pass
        return to_unit(last.x_prev)


def _cond_grad(cond_fn: CondFn, x: torch.Tensor, t: torch.Tensor, eps: torch.Tensor) -> torch.Tensor:
    """cond_fn's gradient at x. cond_fn gets a fresh leaf copy of x that requires grad, with
    autograd on even when the caller runs under no_grad or inference mode, so it may call
    torch.autograd.grad(log_p(x), x). A cond_fn with an `eps` parameter also gets the sampler's
    own noise prediction for this step (no gradient), so it need not run the model again."""
    extra = {"eps": eps} if "eps" in inspect.signature(cond_fn).parameters else {}
    with torch.inference_mode(False), torch.enable_grad():
        grad = cond_fn(x.detach().clone().requires_grad_(True), t, **extra)
    grad = torch.as_tensor(grad, device=x.device, dtype=x.dtype).detach()
    if grad.shape != x.shape:
        raise ValueError(f"cond_fn must return a gradient of x's shape {tuple(x.shape)}, not {tuple(grad.shape)}")
    return grad


def make_loss(process: GaussianDiffusion, *, p_uncond: float = 0.1):
    """The trainer's loss: L_simple on batch["x"] ([0, 1], mapped to [-1, 1]) with labels batch["y"]
    when the model is class-conditional (dropped to the null label with probability p_uncond).
    """
    p_uncond = check_p_uncond(p_uncond)

    def loss_fn(model, batch: dict, gen: torch.Generator, step: int):
        y = batch.get("y") if getattr(model, "num_classes", None) is not None else None
        loss = process.loss(model, to_signed(batch["x"]), gen, y, p_uncond=p_uncond)
        return loss, {}

    return loss_fn
