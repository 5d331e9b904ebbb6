"""engines.diffusion: the process against its closed forms, the samplers, guidance, the UNet, the loss."""

from __future__ import annotations

import dataclasses
import json
import math
import string

import pytest
import torch
from torch import nn

from engines import checkpoint, diffusion, runtime
from engines.diffusion import Config, GaussianDiffusion, make_schedule
from engines.errors import MESSAGES, UserError
from engines.train import TrainConfig, Trainer

T_SMALL = 10  # timesteps of the tiny UNet's process


def tiny_config(**kw) -> Config:
    # 8x8 grey images, two levels (8 -> 4), attention at 4x4, 3 classes (+ null), T = 10.
    base = dict(image_size=8, channels=1, width=8, channel_mult=(1, 2), blocks_per_level=1,
                attention_resolutions=(4,), num_classes=3, dropout=0.0, norm_groups=4,
                attention_heads=2, timesteps=T_SMALL, schedule="linear")
    return Config(**{**base, **kw})


def randomized(model: nn.Module, seed: int = 0, scale: float = 0.3) -> nn.Module:
    """A freshly built UNet predicts eps = 0 (zero-initialised outputs); perturb every weight so
    its output depends on x, t and y."""
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in model.parameters():
            p.add_(torch.randn(p.shape, generator=gen) * scale)
    return model.eval()


class GaussianEps(nn.Module):
    """The exact noise predictor when every pixel of x_0 is N(m, s^2), independently.

    x_t = sqrt(abar) x_0 + sqrt(1 - abar) eps is then N(sqrt(abar) m, abar s^2 + 1 - abar), and
    E[eps | x_t] = Cov(eps, x_t) / Var(x_t) * (x_t - E[x_t])
                 = sqrt(1 - abar) / (abar s^2 + 1 - abar) * (x_t - sqrt(abar) m).
    """

    num_classes = None

    def __init__(self, alphas_cumprod: torch.Tensor, m: float, s: float):
        super().__init__()
        self.abar = alphas_cumprod.clone()
        self.m, self.s = m, s

    def forward(self, x, t, y=None):
        ab = self.abar[t.cpu()].to(x).view(-1, 1, 1, 1)
        return (1 - ab).sqrt() / (ab * self.s**2 + 1 - ab) * (x - ab.sqrt() * self.m)


def final(run) -> torch.Tensor:
    """The sample a progressive sampler ends with, in [-1, 1] space (unclamped)."""
    last = None
    for last in run:
        pass
    return last.x_prev


def gen(seed: int) -> torch.Generator:
    return runtime.generator(seed)


# --- schedules -----------------------------------------------------------------------------------


def test_linear_schedule_is_ho_et_al_scaled_by_1000_over_T():
    b = make_schedule("linear", 1000)
    assert b.shape == (1000,) and b.dtype == torch.float64
    assert float(b[0]) == pytest.approx(1e-4, rel=1e-12) and float(b[-1]) == pytest.approx(0.02, rel=1e-12)
    diffs = b.diff()
    torch.testing.assert_close(diffs, torch.full_like(diffs, (0.02 - 1e-4) / 999))
    b50 = make_schedule("linear", 50)  # both ends x20
    assert float(b50[0]) == pytest.approx(2e-3) and float(b50[-1]) == pytest.approx(0.4)
    assert make_schedule("linear", 10).max() == pytest.approx(0.999)  # 0.02 * 100 clipped


@pytest.mark.parametrize("name", ["linear", "cosine"])
@pytest.mark.parametrize("T", [10, 1000])
def test_schedules_are_monotone_and_the_process_tables_have_shape_T(name, T):
    p = GaussianDiffusion(make_schedule(name, T))
    assert p.T == T
    for key in ("betas", "alphas", "alphas_cumprod", "alphas_cumprod_prev", "posterior_variance",
                "posterior_log_variance_clipped", "posterior_mean_coef1", "posterior_mean_coef2"):
        assert getattr(p, key).shape == (T,), key
    assert bool((p.betas > 0).all()) and bool((p.betas <= 0.999).all())
    assert bool((p.betas.diff() >= 0).all())               # more noise per step as t grows
    assert bool((p.alphas_cumprod.diff() < 0).all())       # abar falls from ~1 towards 0
    assert float(p.alphas_cumprod_prev[0]) == 1.0
    assert float(p.posterior_variance[0]) == 0.0           # the last step adds no noise
    assert float(p.posterior_log_variance_clipped[0]) == math.log(float(p.posterior_variance[1]))


def test_cosine_alpha_bar_is_nichol_dhariwal_eq_17():
    T, s = 1000, 0.008
    p = GaussianDiffusion(make_schedule("cosine", T))
    f = lambda t: math.cos((t / T + s) / (1 + s) * math.pi / 2) ** 2  # noqa: E731
    unclipped = int((p.betas < 0.999).sum())
    assert unclipped >= T - 2 and bool((p.betas[:unclipped] < 0.999).all())
    for t in [0, 1, 10, 250, 500, 900, unclipped - 1]:
        # index t holds the paper's t + 1
        assert float(p.alphas_cumprod[t]) == pytest.approx(f(t + 1) / f(0), rel=1e-9), t


# --- the forward process and the posterior --------------------------------------------------------


@pytest.mark.parametrize("t", [0, 99, 600])
def test_q_sample_has_the_closed_form_mean_and_variance(t):
    p = GaussianDiffusion(make_schedule("linear", 1000))
    n = 50_000
    x0 = torch.tensor([-0.8, 0.0, 0.5, 1.0]).view(1, 4, 1, 1).expand(n, 4, 1, 1)
    noise = torch.randn(x0.shape, generator=gen(1))
    xt = p.q_sample(x0, torch.full((n,), t), noise)
    ab = float(p.alphas_cumprod[t])
    mean, var = xt.mean(0).flatten(), xt.var(0).flatten()
    se = math.sqrt((1 - ab) / n)
    torch.testing.assert_close(mean, math.sqrt(ab) * x0[0].flatten(), atol=4 * se, rtol=0)
    # Standard error of a sample variance: var * sqrt(2 / n).
    torch.testing.assert_close(var, torch.full((4,), 1 - ab), atol=4 * (1 - ab) * math.sqrt(2 / n), rtol=0)
    m2, v2, lv2 = p.q_mean_variance(x0[:2], t)
    torch.testing.assert_close(m2, math.sqrt(ab) * x0[:2])
    torch.testing.assert_close(v2, torch.full_like(x0[:2], 1 - ab))
    torch.testing.assert_close(lv2, torch.full_like(x0[:2], math.log(1 - ab)))


@pytest.mark.parametrize("name,t", [("linear", 1), ("linear", 10), ("linear", 500), ("linear", 999),
                                    ("cosine", 3), ("cosine", 700)])
def test_posterior_matches_bayes_rule_on_a_grid(name, t):
    # q(x_{t-1} | x_t, x_0) is proportional to q(x_t | x_{t-1}) q(x_{t-1} | x_0): multiply the two
    # Gaussian densities on a fine grid of x_{t-1} and take the moments numerically.
    p = GaussianDiffusion(make_schedule(name, 1000))
    x0, xt = 0.7, -0.4
    alpha, beta = float(p.alphas[t]), float(p.betas[t])
    ab_prev = float(p.alphas_cumprod[t - 1])
    grid = torch.linspace(-3, 3, 600_001, dtype=torch.float64)
    log_lik = -(xt - math.sqrt(alpha) * grid) ** 2 / (2 * beta)            # q(x_t | x_{t-1})
    log_prior = -(grid - math.sqrt(ab_prev) * x0) ** 2 / (2 * (1 - ab_prev))  # q(x_{t-1} | x_0)
    w = torch.softmax(log_lik + log_prior, 0)
    want_mean = float((w * grid).sum())
    want_var = float((w * (grid - want_mean) ** 2).sum())
    shape = (1, 1, 1, 1)
    mean, var, logvar = p.q_posterior(torch.full(shape, x0, dtype=torch.float64),
                                      torch.full(shape, xt, dtype=torch.float64), t)
    assert float(mean) == pytest.approx(want_mean, rel=1e-6, abs=1e-9)
    assert float(var) == pytest.approx(want_var, rel=1e-5)
    assert float(logvar) == pytest.approx(math.log(want_var), abs=1e-5)


def test_predict_x0_and_predict_eps_invert_q_sample():
    p = GaussianDiffusion(make_schedule("cosine", 100))
    x0 = torch.rand(6, 1, 4, 4, generator=gen(2), dtype=torch.float64) * 2 - 1
    noise = torch.randn(x0.shape, generator=gen(3), dtype=torch.float64)
    t = torch.tensor([0, 1, 20, 50, 90, 99])
    xt = p.q_sample(x0, t, noise)
    torch.testing.assert_close(p.predict_x0(xt, t, noise), x0, rtol=0, atol=1e-8)
    torch.testing.assert_close(p.predict_eps(xt, t, x0), noise, rtol=0, atol=1e-8)


def test_snr_is_abar_over_one_minus_abar_and_falls():
    p = GaussianDiffusion(make_schedule("linear", 100))
    t = torch.arange(100)
    snr = p.snr(t)
    torch.testing.assert_close(snr, p.alphas_cumprod / (1 - p.alphas_cumprod))
    assert bool((snr.diff() < 0).all())
    assert float(p.snr(5)) == pytest.approx(float(snr[5]))


# --- classifier-free guidance ------------------------------------------------------------------


def test_guidance_zero_is_unconditional_and_one_is_conditional_exactly():
    config = tiny_config()
    model = randomized(diffusion.build(config))
    p = diffusion.make_process(config)
    x = torch.randn(4, 1, 8, 8, generator=gen(4))
    t = torch.tensor([0, 3, 6, 9])
    y = torch.tensor([0, 1, 2, 1])
    with torch.no_grad():
        cond, uncond = model(x, t, y), model(x, t, torch.full((4,), 3))
        assert not torch.allclose(cond, uncond)  # the label matters
        assert torch.equal(p.eps(model, x, t, y, guidance=0.0), uncond)
        assert torch.equal(p.eps(model, x, t, y, guidance=1.0), cond)
        assert torch.equal(p.eps(model, x, t, None, guidance=4.0), uncond)  # no label: unconditional
        # Any other scale: eps_uncond + s * (eps_cond - eps_uncond), from one doubled batch.
        for s in (3.0, -0.5):
            torch.testing.assert_close(p.eps(model, x, t, y, guidance=s), uncond + s * (cond - uncond),
                                       rtol=1e-5, atol=1e-5)
        # One label for the whole batch.
        assert torch.equal(p.eps(model, x, t, 2), model(x, t, torch.full((4,), 2)))


# --- samplers --------------------------------------------------------------------------------------


def test_samplers_yield_every_step_with_the_right_timesteps():
    config = tiny_config()
    model = randomized(diffusion.build(config))
    p = diffusion.make_process(config)
    steps = list(p.ddpm(model, (2, 1, 8, 8), gen=gen(0), y=1, guidance=2.0))
    assert [s.t for s in steps] == list(range(9, -1, -1))
    assert [s.t_prev for s in steps] == list(range(8, -2, -1))
    assert [s.index for s in steps] == list(range(10)) and {s.count for s in steps} == {10}
    for a, b in zip(steps, steps[1:]):
        assert a.x_prev is b.x_t
    for s in steps:
        assert s.x_t.shape == s.eps.shape == s.x0_pred.shape == s.x_prev.shape == (2, 1, 8, 8)

    ddim = list(p.ddim(model, (2, 1, 8, 8), gen=gen(0), steps=4, eta=0.5))
    assert [s.t for s in ddim] == [9, 6, 3, 0] and [s.t_prev for s in ddim] == [6, 3, 0, -1]
    assert len(list(p.ddim(model, (1, 1, 8, 8), gen=gen(0), steps=10))) == 10
    assert [s.t for s in p.ddim(model, (1, 1, 8, 8), gen=gen(0), steps=1)] == [9]
    assert p.spaced_timesteps(10) == list(range(9, -1, -1))
    assert p.spaced_timesteps(3) == [9, 5, 0]  # 4.5 rounds up (half up, not to even)
    # DDIM's last step lands on its predicted x_0.
    assert torch.equal(ddim[-1].x_prev, ddim[-1].x0_pred)


def test_same_seed_same_samples():
    config = tiny_config()
    model = randomized(diffusion.build(config))
    p = diffusion.make_process(config)
    for kw in (dict(method="ddpm"), dict(method="ddim", steps=4, eta=0.7)):
        a = p.sample(model, (3, 1, 8, 8), gen=gen(7), y=[0, 1, 2], guidance=1.5, **kw)
        b = p.sample(model, (3, 1, 8, 8), gen=gen(7), y=[0, 1, 2], guidance=1.5, **kw)
        c = p.sample(model, (3, 1, 8, 8), gen=gen(8), y=[0, 1, 2], guidance=1.5, **kw)
        assert torch.equal(a, b), kw
        assert not torch.equal(a, c), kw
        assert a.shape == (3, 1, 8, 8) and float(a.min()) >= 0 and float(a.max()) <= 1


def test_ddim_eta0_is_deterministic_given_x_T_and_branches_reproduce_the_run():
    config = tiny_config()
    model = randomized(diffusion.build(config))
    p = diffusion.make_process(config)
    x_T = torch.randn(2, 1, 8, 8, generator=gen(9))
    run = list(p.ddim(model, gen=gen(1), steps=5, start=(9, x_T)))
    other = final(p.ddim(model, gen=gen(2), steps=5, start=(9, x_T)))
    assert torch.equal(run[-1].x_prev, other)  # the generator is never used
    # Branch from the third step: the same timesteps follow, and the same end.
    branch = list(p.ddim(model, gen=gen(3), steps=5, start=(run[2].t, run[2].x_t)))
    assert [s.t for s in branch] == [s.t for s in run[2:]]
    torch.testing.assert_close(branch[-1].x_prev, run[-1].x_prev, rtol=0, atol=1e-6)
    # Branching DDPM at t runs t+1 steps down to 0.
    assert [s.t for s in p.ddpm(model, gen=gen(3), start=(4, x_T))] == [4, 3, 2, 1, 0]
    # eta > 0 is not deterministic.
    a = final(p.ddim(model, gen=gen(1), steps=5, eta=1.0, start=(9, x_T)))
    b = final(p.ddim(model, gen=gen(2), steps=5, eta=1.0, start=(9, x_T)))
    assert not torch.allclose(a, b)


def _exact_sampler_law(p: GaussianDiffusion, m: float, s: float) -> tuple[float, float]:
    """Mean and std of what the DDPM sampler produces from x_T ~ N(0, 1) with the exact
    GaussianEps predictor: each step is affine in x_t plus independent Gaussian noise,
    x_{t-1} = a x_t + b + sqrt(beta~_t) z, so the law stays Gaussian and follows in closed form.
    The coefficients are built from abar here, not from the process's tables."""
    ab = p.alphas_cumprod.tolist()
    mean, var = 0.0, 1.0
    for t in range(p.T - 1, -1, -1):
        abt, abp = ab[t], ab[t - 1] if t > 0 else 1.0
        beta = 1 - abt / abp
        k = math.sqrt(1 - abt) / (abt * s * s + 1 - abt)              # eps = k (x - sqrt(abt) m)
        x0_a, x0_b = (1 - math.sqrt(1 - abt) * k) / math.sqrt(abt), math.sqrt(1 - abt) * k * m
        c1 = math.sqrt(abp) * beta / (1 - abt)                        # eq. 7
        c2 = math.sqrt(1 - beta) * (1 - abp) / (1 - abt)
        a, b = c1 * x0_a + c2, c1 * x0_b
        mean, var = a * mean + b, a * a * var + beta * (1 - abp) / (1 - abt)
    return mean, math.sqrt(var)


def test_ddim_eta1_on_the_full_schedule_agrees_with_ddpm_in_distribution():
    m, s = 0.3, 0.5
    p = GaussianDiffusion(make_schedule("cosine", 50))
    model = GaussianEps(p.alphas_cumprod, m, s)
    shape = (5000, 1, 2, 2)  # 20,000 independent pixels
    a = final(p.ddpm(model, shape, gen=gen(11)))
    b = final(p.ddim(model, shape, gen=gen(12), steps=50, eta=1.0))
    n = a.numel()
    law_mean, law_std = _exact_sampler_law(p, m, s)
    assert law_mean == pytest.approx(m, abs=1e-6)  # the mean is exact; with 50 steps the fixed
    assert law_std == pytest.approx(s, rel=0.1)     # variance beta~_t shrinks the spread a little
    for x in (a, b):
        assert float(x.mean()) == pytest.approx(law_mean, abs=4 * law_std / math.sqrt(n))
        assert float(x.std()) == pytest.approx(law_std, abs=4 * law_std * math.sqrt(0.5 / n))
    assert float(a.mean()) == pytest.approx(float(b.mean()), abs=6 * law_std / math.sqrt(n))
    assert float(a.std()) == pytest.approx(float(b.std()), abs=6 * law_std * math.sqrt(0.5 / n))
    # More than in distribution: with the same noise the two samplers take the same path,
    # since eq. 12 with eq. 16's sigma at eta = 1 is the posterior step of eq. 7.
    c = final(p.ddim(model, shape, gen=gen(11), steps=50, eta=1.0))
    torch.testing.assert_close(c, a, rtol=0, atol=1e-4)


def _ddim_eta0_map(p: GaussianDiffusion, seq: list[int], m: float, s: float) -> tuple[float, float]:
    """DDIM at eta = 0 with the exact GaussianEps predictor is an affine map x_T -> A x_T + B:
    each step x_prev = sqrt(abar_prev) x0_pred + sqrt(1 - abar_prev) eps is affine in x_t."""
    ab = p.alphas_cumprod.tolist()
    A, B = 1.0, 0.0
    for i, t in enumerate(seq):
        abt, abp = ab[t], ab[seq[i + 1]] if i + 1 < len(seq) else 1.0
        k = math.sqrt(1 - abt) / (abt * s * s + 1 - abt)              # eps = k x - k sqrt(abt) m
        x0_a, x0_b = (1 - math.sqrt(1 - abt) * k) / math.sqrt(abt), math.sqrt(1 - abt) * k * m
        a = math.sqrt(abp) * x0_a + math.sqrt(1 - abp) * k
        b = math.sqrt(abp) * x0_b - math.sqrt(1 - abp) * k * math.sqrt(abt) * m
        A, B = a * A, a * B + b
    return A, B


def test_ddim_eta0_is_the_exact_map_and_approaches_the_data_as_steps_grow():
    m, s = -0.2, 0.4
    p = GaussianDiffusion(make_schedule("linear", 1000))
    model = GaussianEps(p.alphas_cumprod, m, s)
    x_T = torch.randn(1000, 1, 2, 2, generator=gen(13))
    gaps = []
    for steps in (10, 50, 1000):
        A, B = _ddim_eta0_map(p, p.spaced_timesteps(steps), m, s)
        x = final(p.ddim(model, gen=gen(0), steps=steps, start=(p.T - 1, x_T)))
        torch.testing.assert_close(x, A * x_T + B, rtol=0, atol=1e-4)
        # x_T ~ N(0, 1), so the samples are N(B, A^2): the mean is right at any step count, the
        # spread shrinks with few steps and reaches the data's s as the steps approach T.
        assert B == pytest.approx(m, abs=1e-3)
        gaps.append(abs(A - s))
    assert gaps[0] > gaps[1] > gaps[2] and gaps[2] < 0.01 * s, gaps
    assert gaps[0] > 0.1 * s  # 10 steps are visibly too few: the check can fail


def test_ddim_recurrence_against_its_closed_form():
    # recurrence=k: each step is taken, noised back to t by q(x_t | x_prev), and taken again, k
    # times. With the exact predictor for N(m, s^2) data every part is affine or adds Gaussian noise,
    # so the samples are Gaussian with a mean and variance that can be followed step by step.
    m, s, steps, n = 0.3, 0.5, 10, 4000
    p = GaussianDiffusion(make_schedule("linear", 1000))
    model = GaussianEps(p.alphas_cumprod, m, s)
    seq, ab = p.spaced_timesteps(steps), p.alphas_cumprod.tolist()
    calls = []

    def zero(x, t):  # recurrence applies to guided sampling; a guide that pulls nowhere
        calls.append(int(t[0]))
        return torch.zeros_like(x)

    def closed_form(k):
        mu, var = 0.0, 1.0
        for i, t in enumerate(seq):
            abp = ab[seq[i + 1]] if i + 1 < len(seq) else 1.0
            a, b = _one_step(ab[t], abp, m, s)
            for _ in range(k - 1):
                r = math.sqrt(ab[t] / abp)
                mu, var = r * (a * mu + b), r * r * a * a * var + 1 - r * r
            mu, var = a * mu + b, a * a * var
        return mu, var

    x_T = torch.randn(n, 1, 2, 2, generator=gen(3))
    for k in (1, 3):
        calls.clear()
        with runtime.compute():
            out = list(p.ddim(model, gen=gen(4), steps=steps, start=(p.T - 1, x_T), cond_fn=zero, recurrence=k))
        assert len(out) == steps and calls == [t for t in seq for _ in range(k)]
        x = out[-1].x_prev
        mu, var = closed_form(k)
        assert float(x.mean()) == pytest.approx(mu, abs=0.02)
        assert float(x.var()) == pytest.approx(var, rel=0.05), (k, float(x.var()), var)
    assert abs(closed_form(3)[1] - closed_form(1)[1]) > 0.15 * closed_form(1)[1]  # k changes the result


def _one_step(abt: float, abp: float, m: float, s: float) -> tuple[float, float]:
    """One DDIM step at eta = 0 with the exact N(m, s^2) predictor: x_prev = a x_t + b."""
    k = math.sqrt(1 - abt) / (abt * s * s + 1 - abt)
    x0_a, x0_b = (1 - math.sqrt(1 - abt) * k) / math.sqrt(abt), math.sqrt(1 - abt) * k * m
    return (math.sqrt(abp) * x0_a + math.sqrt(1 - abp) * k,
            math.sqrt(abp) * x0_b - math.sqrt(1 - abp) * k * math.sqrt(abt) * m)


@pytest.mark.parametrize("method", ["ddpm", "ddim"])
def test_cond_fn_shifts_samples_along_its_gradient(method):
    p = GaussianDiffusion(make_schedule("linear", 50))
    model = GaussianEps(p.alphas_cumprod, 0.0, 0.5)
    direction = torch.tensor([1.0, -1.0, 2.0, -0.5]).view(1, 1, 2, 2)
    seen = []

    def cond_fn(x, t):
        # log p(c | x) = sum(direction * x): its gradient is `direction`, taken by autograd.
        seen.append(x.requires_grad)
        return torch.autograd.grad((direction * x).sum(), x)[0]

    kw = dict(steps=10, eta=0.0) if method == "ddim" else {}
    run = p.ddim if method == "ddim" else p.ddpm
    with runtime.compute():  # inference mode, as the UI runs; cond_fn still gets autograd
        plain = final(run(model, (64, 1, 2, 2), gen=gen(5), **kw))
        guided = final(run(model, (64, 1, 2, 2), gen=gen(5), cond_fn=cond_fn, **kw))
    assert seen and all(seen)
    shift = guided - plain
    assert bool((torch.sign(shift) == torch.sign(direction)).all())
    assert float(shift.abs().min()) > 0.02
    # Larger gradients, larger shifts, in proportion to the gradient: the samplers are affine here.
    ratio = shift / direction
    torch.testing.assert_close(ratio, torch.full_like(ratio, float(ratio.mean())), rtol=1e-3, atol=1e-4)


@pytest.mark.parametrize("method", ["ddpm", "ddim"])
def test_cond_fn_may_take_the_samplers_own_noise_prediction(method):
    p = GaussianDiffusion(make_schedule("linear", 50))
    model = GaussianEps(p.alphas_cumprod, 0.0, 0.5)
    given = []

    def cond_fn(x, t, eps):
        given.append(eps.clone())
        return torch.zeros_like(x)

    kw = dict(steps=10, eta=0.0) if method == "ddim" else {}
    run = p.ddim if method == "ddim" else p.ddpm
    with runtime.compute():
        steps = list(run(model, (8, 1, 2, 2), gen=gen(5), cond_fn=cond_fn, **kw))
    assert len(given) == len(steps)
    for eps, step in zip(given, steps):
        torch.testing.assert_close(eps, step.eps)


def test_clip_x0_keeps_predictions_in_range():
    config = tiny_config()
    model = randomized(diffusion.build(config), scale=1.0)
    p = diffusion.make_process(config)
    for run in (p.ddpm(model, (2, 1, 8, 8), gen=gen(0), clip_x0=True),
                p.ddim(model, (2, 1, 8, 8), gen=gen(0), steps=5, clip_x0=True)):
        steps = list(run)
        assert all(float(s.x0_pred.abs().max()) <= 1.0 for s in steps)
    unclipped = list(p.ddpm(model, (2, 1, 8, 8), gen=gen(0)))
    assert max(float(s.x0_pred.abs().max()) for s in unclipped) > 1.0  # the check can fail
    # DDIM moves towards the clipped x_0 with the noise that x_t and that x_0 imply (eq. 12, eta = 0).
    clipped = list(p.ddim(model, (2, 1, 8, 8), gen=gen(0), steps=5, clip_x0=True))
    assert any(not torch.allclose(p.predict_x0(s.x_t, s.t, s.eps), s.x0_pred) for s in clipped)
    for s in clipped[:-1]:
        ab_prev = float(p.alphas_cumprod[s.t_prev])
        eps = p.predict_eps(s.x_t, s.t, s.x0_pred)
        want = math.sqrt(ab_prev) * s.x0_pred + math.sqrt(1 - ab_prev) * eps
        torch.testing.assert_close(s.x_prev, want, rtol=1e-5, atol=1e-5)


# --- the network ---------------------------------------------------------------------------------


def test_unet_output_shape_labels_and_null_label():
    config = tiny_config()
    model = randomized(diffusion.build(config))
    x = torch.randn(3, 1, 8, 8, generator=gen(0))
    t = torch.tensor([0, 5, 9])
    with torch.no_grad():
        out = model(x, t, torch.tensor([0, 1, 2]))
        assert out.shape == x.shape
        null = model(x, t, torch.full((3,), config.num_classes))
        assert torch.equal(model(x, t), null)  # y = None is the null label
        assert not torch.allclose(out, null)
        assert not torch.allclose(model(x, t + 0, torch.tensor([0, 1, 2])), model(x, 9 - t, torch.tensor([0, 1, 2])))
        assert model(x, 4, 1 + torch.zeros(3, dtype=torch.long)).shape == x.shape  # one t for the batch

    uncond = randomized(diffusion.build(tiny_config(num_classes=None, channels=3, image_size=16,
                                                    channel_mult=(1, 1, 2), attention_resolutions=(4, 8))))
    x3 = torch.randn(2, 3, 16, 16, generator=gen(1))
    with torch.no_grad():
        assert uncond(x3, torch.tensor([1, 2])).shape == x3.shape
        with pytest.raises(ValueError):
            uncond(x3, torch.tensor([1, 2]), torch.tensor([0, 0]))
    # A fresh network predicts eps = 0: its output layers start at zero.
    fresh = diffusion.build(config)
    assert torch.equal(fresh(x, t), torch.zeros_like(x))


def test_config_round_trip_and_checkpoint(tmp_path, monkeypatch):
    config = tiny_config(schedule="cosine")
    d = json.loads(json.dumps(dataclasses.asdict(config)))
    assert Config.from_dict(d) == config
    assert diffusion.FAMILY == "ddpm" and checkpoint.FAMILY_MODULES["ddpm"] == "engines.diffusion"
    # The family is registered: a ddpm checkpoint saves, loads and builds like any other.
    model = randomized(diffusion.build(config))
    folder = checkpoint.save(tmp_path / "tiny-ddpm", family="ddpm", config=config, model=model,
                             card={"name": "tiny-ddpm"})
    loaded_config, loaded = checkpoint.load(folder, expect_family="ddpm").build()
    assert loaded_config == config
    x, t = torch.randn(2, 1, 8, 8, generator=gen(0)), torch.tensor([1, 8])
    with torch.no_grad():
        assert torch.equal(loaded(x, t, torch.tensor([0, 2])), model(x, t, torch.tensor([0, 2])))


@pytest.mark.parametrize("bad", [
    dict(channels=2), dict(image_size=10, channel_mult=(1, 2, 2)), dict(attention_resolutions=(2,)),
    dict(schedule="quadratic"), dict(timesteps=1), dict(num_classes=0), dict(dropout=1.0),
    dict(width=6),  # not divisible by norm_groups = 4
])
def test_config_validation(bad):
    with pytest.raises(ValueError):
        Config.from_dict({**dataclasses.asdict(tiny_config()), **bad})
    with pytest.raises(ValueError):
        Config.from_dict({"widths": [8]})


# --- training -----------------------------------------------------------------------------------


def test_loss_label_dropout():
    config = tiny_config()
    model = randomized(diffusion.build(config))
    p = diffusion.make_process(config)
    x0 = torch.rand(8, 1, 8, 8, generator=gen(0)) * 2 - 1
    with torch.no_grad():
        def loss(y, p_uncond):
            return float(p.loss(model, x0, gen(5), torch.full((8,), y), p_uncond=p_uncond))
        assert loss(0, 1.0) == loss(2, 1.0)  # every label dropped: the labels cannot matter
        assert loss(0, 0.0) != loss(2, 1.0)
        assert loss(0, 0.0) != loss(2, 0.0)
        # y = None trains the null label only, which is every label dropped.
        assert float(p.loss(model, x0, gen(5), None, p_uncond=0.0)) == loss(1, 1.0)
        # The trainer's loss maps [0, 1] images to [-1, 1] and passes the labels.
        batch = {"x": (x0 + 1) / 2, "y": torch.full((8,), 2)}
        got, logs = diffusion.make_loss(p, p_uncond=0.0)(model, batch, gen(5), 0)
        assert float(got) == pytest.approx(loss(2, 0.0), rel=1e-6) and logs == {}
        # An unconditional model ignores the data set's labels.
        uncond = randomized(diffusion.build(tiny_config(num_classes=None)))
        got, _ = diffusion.make_loss(p)(uncond, batch, gen(5), 0)
        assert float(got) == pytest.approx(float(p.loss(uncond, x0, gen(5))), rel=1e-6)


def test_a_short_training_run_lowers_the_loss():
    config = tiny_config(timesteps=50)
    torch.manual_seed(0)
    model = diffusion.build(config)
    p = diffusion.make_process(config)
    # 16 images: a bright 4x4 square in one of the four quadrants, labelled by quadrant mod 3.
    x = torch.zeros(16, 1, 8, 8)
    labels = torch.arange(16) % 4 % 3
    for i in range(16):
        r, c = divmod(i % 4, 2)
        x[i, 0, r * 4:r * 4 + 4, c * 4:c * 4 + 4] = 1.0

    def held_loss():
        model.eval()
        with torch.no_grad():  # the same t, noise and dropout every time
            return float(p.loss(model, diffusion.to_signed(x.repeat(4, 1, 1, 1)), gen(123), labels.repeat(4)))

    before = held_loss()
    trainer = Trainer(model, diffusion.make_loss(p, p_uncond=0.2), x,
                      TrainConfig(steps=30, batch_size=16, lr=3e-3, log_every=10, seed=0),
                      labels=labels, device=torch.device("cpu"))
    events = list(trainer.run())
    after = held_loss()
    assert [e.kind for e in events] == ["step", "step", "step", "done"]
    assert before == pytest.approx(1.0, abs=0.1)  # eps = 0 at first: E[eps^2] = 1
    assert after < 0.6 * before, (before, after)


# --- bad inputs ----------------------------------------------------------------------------------


def test_bad_inputs_raise_user_errors():
    config = tiny_config()
    model = randomized(diffusion.build(config))
    uncond = diffusion.build(tiny_config(num_classes=None))
    p = diffusion.make_process(config)
    shape = (2, 1, 8, 8)
    x = torch.zeros(shape)
    cases = {
        "diffusion_steps": [lambda: p.ddim(model, shape, gen=gen(0), steps=0),
                            lambda: p.ddim(model, shape, gen=gen(0), steps=T_SMALL + 1),
                            lambda: p.ddim(model, shape, gen=gen(0), steps=2.5),
                            lambda: p.sample(model, shape, gen=gen(0), steps=-3)],
        "diffusion_guidance": [lambda: p.ddpm(model, shape, gen=gen(0), guidance=float("nan")),
                               lambda: p.ddim(model, shape, gen=gen(0), steps=2, guidance=float("inf")),
                               lambda: p.eps(model, x, 3, 1, guidance=51.0),
                               lambda: p.eps(model, x, 3, 1, guidance=-60),
                               lambda: p.eps(model, x, 3, 1, guidance="a lot")],
        "diffusion_label": [lambda: p.ddpm(model, shape, gen=gen(0), y=3),
                            lambda: p.ddim(model, shape, gen=gen(0), steps=2, y=[0, -1]),
                            lambda: p.eps(model, x, 3, [0, 1.5]),
                            lambda: p.loss(model, x, gen(0), torch.tensor([0, 7]))],
        "diffusion_labels_count": [lambda: p.ddpm(model, shape, gen=gen(0), y=[0, 1, 2])],
        "diffusion_unconditional": [lambda: p.ddpm(uncond, shape, gen=gen(0), y=1)],
        "diffusion_eta": [lambda: p.ddim(model, shape, gen=gen(0), steps=2, eta=-0.1),
                          lambda: p.ddim(model, shape, gen=gen(0), steps=2, eta=1.5)],
        "diffusion_start": [lambda: p.ddpm(model, gen=gen(0), start=(T_SMALL, x)),
                            lambda: p.ddim(model, gen=gen(0), steps=3, start=(-1, x))],
        "diffusion_p_uncond": [lambda: diffusion.make_loss(p, p_uncond=1.5),
                               lambda: p.loss(model, x, gen(0), p_uncond=float("nan"))],
        "value_not_finite": [lambda: p.ddpm(model, gen=gen(0), start=(3, torch.full(shape, float("nan"))))],
    }
    for key, calls in cases.items():
        for call in calls:
            with pytest.raises(UserError) as err:
                call()  # samplers check their inputs when called, before the first step
            assert err.value.key == key, (key, err.value)
            assert err.value.localized("zh") != str(err.value)


def test_new_messages_have_the_same_fields_in_both_languages():
    keys = [k for k in MESSAGES if k.startswith("diffusion_")]
    assert len(keys) >= 8
    for key in keys:
        fields = [{f[1] for f in string.Formatter().parse(MESSAGES[key][lang]) if f[1]} for lang in ("en", "zh")]
        assert fields[0] == fields[1], key
