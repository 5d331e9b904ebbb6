"""engines.toy2d: the 2-D data sets, the distances against their closed forms, the losses, and the
playground's models learning (tiny seeded runs, one thread)."""

from __future__ import annotations

import math
import re

import numpy as np
import pytest
import torch

from engines import toy2d
from engines.errors import UserError
from engines.runtime import generator
from engines.toy2d import models
from engines.toy2d.playground import HEAT_SIDE, Playground, Settings, _cell_area, _grid

CJK = re.compile(r"[\u4e00-\u9fff]")


# --- data ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", [d for d in toy2d.DISTRIBUTIONS if d != "drawn"])
def test_every_distribution_is_seeded_and_inside_the_view(name):
    a = toy2d.sample(name, 2000, generator(3))
    b = toy2d.sample(name, 2000, generator(3))
    assert a.shape == (2000, 2) and a.dtype == torch.float32 and torch.equal(a, b)
    assert (a.abs() <= toy2d.EXTENT).float().mean() > 0.999
    assert not torch.equal(a, toy2d.sample(name, 2000, generator(4)))


def test_the_shapes_are_the_ones_named():
    ring = toy2d.sample("ring", 4000, generator(0)).norm(dim=1)
    assert abs(float(ring.mean()) - 1.5) < 0.02 and float(ring.std()) < 0.1
    g8 = toy2d.sample("gaussians8", 4000, generator(0))
    angles = torch.atan2(g8[:, 1], g8[:, 0]) / (math.pi / 4)
    assert float((angles - angles.round()).abs().max()) < 0.25  # every point near one of 8 directions
    cb = toy2d.sample("checkerboard", 4000, generator(0))
    cells = torch.floor(cb + 2).long()
    assert bool(((cells[:, 0] + cells[:, 1]) % 2 == 0).all())   # only the "black" squares


def test_drawn_points_and_their_errors():
    with pytest.raises(UserError) as err:
        toy2d.check_points([[0.1, 0.2]] * 20)  # 20 copies of one point: 1 distinct point
    assert err.value.key == "toy2d_too_few_points" and CJK.search(err.value.localized("zh"))
    pts = toy2d.check_points(np.random.default_rng(0).uniform(-1, 1, (50, 2)))
    x = toy2d.sample("drawn", 500, generator(0), pts)
    nearest = torch.cdist(x, pts).min(dim=1).values
    assert float(nearest.max()) < 0.3  # each sample is a small bump around a drawn point
    with pytest.raises(UserError):
        toy2d.sample("drawn", 10, generator(0), None)
    with pytest.raises(UserError) as err:
        toy2d.sample("nowhere", 10, generator(0))
    assert err.value.key == "toy2d_choice"


def test_clicks_and_strokes_become_points():
    near = toy2d.points_near((1.0, -2.45), 400, 0.1, generator(0))
    assert near.shape == (400, 2) and np.abs(near).max() <= toy2d.EXTENT   # kept inside the view
    assert np.allclose(near[:, 0].mean(), 1.0, atol=0.02) and 0.08 < near[:, 0].std() < 0.12
    assert np.array_equal(near, toy2d.points_near((1.0, -2.45), 400, 0.1, generator(0)))
    # An L of length 3, sampled densely on one leg and sparsely on the other: points every 0.1 all along.
    path = [(0, 0), (0.5, 0), (1, 0), (2, 0), (2, 0.25), (2, 1)]
    line = toy2d.points_along(path, 0.1)
    assert len(line) == 31 and np.allclose(line[0], (0, 0)) and np.allclose(line[-1], (2, 1))
    gaps = np.linalg.norm(np.diff(line, axis=0), axis=1)
    assert np.allclose(gaps[:20], 0.1, atol=1e-5) and np.allclose(gaps[21:], 0.1, atol=1e-5)
    assert toy2d.points_along([(0.3, 0.4)], 0.1).shape == (1, 2)


def test_slots_admit_first_come_first_served_and_turn_away_beyond_the_waiting_list():
    slots = toy2d.Slots(capacity=2, waiting=2)
    a, b, c, d = (slots.join() for _ in range(4))
    assert a.admitted and b.admitted and not c.admitted and not d.admitted
    assert (c.ahead(), d.ahead()) == (0, 1) and slots.join() is None and slots.counts() == (2, 2)
    assert not d.wait(0.01)
    a.leave()
    assert c.wait(0) and d.ahead() == 0 and not d.wait(0.01)
    d.leave()   # leaving the waiting list frees its place there
    e = slots.join()
    assert not e.admitted and e.ahead() == 0
    b.leave()
    b.leave()   # idempotent: one place freed, not two
    assert e.wait(1.0) and slots.counts() == (2, 0)
    with pytest.raises(ValueError):
        toy2d.Slots(capacity=0, waiting=1)


# --- distances --------------------------------------------------------------------------------------


def test_kl_and_js_against_closed_forms():
    p, q = np.array([0.5, 0.5]), np.array([0.25, 0.75])
    assert toy2d.kl_divergence(p, q) == pytest.approx(0.5 * math.log(2) + 0.5 * math.log(2 / 3))
    # JS(p, q) with p = [1, 0], q = [1/2, 1/2]: m = [3/4, 1/4]
    js = 0.5 * math.log(4 / 3) + 0.5 * (0.5 * math.log(2 / 3) + 0.5 * math.log(2))
    assert toy2d.js_divergence([1, 0], [0.5, 0.5]) == pytest.approx(js)
    assert toy2d.js_divergence([1, 0, 0], [0, 0, 1]) == pytest.approx(math.log(2))   # disjoint: the maximum
    assert toy2d.js_divergence([3, 1], [6, 2]) == pytest.approx(0.0, abs=1e-12)      # counts are normalised
    assert toy2d.js_divergence(p, q) == pytest.approx(toy2d.js_divergence(q, p))
    assert math.isinf(toy2d.kl_divergence([0.5, 0.5], [1.0, 0.0]))
    smoothed = toy2d.kl_divergence([0.5, 0.5], [1.0, 0.0], smoothing=1e-4)
    q_s = (np.array([1.0, 0.0]) + 1e-4) / (1 + 2e-4)
    assert smoothed == pytest.approx(0.5 * math.log(0.5 / q_s[0]) + 0.5 * math.log(0.5 / q_s[1]))
    with pytest.raises(ValueError):
        toy2d.js_divergence([-1, 2], [1, 1])


def test_histogram_bins():
    e = toy2d.EXTENT
    h = toy2d.histogram(np.array([[-e + 0.01, -e + 0.01], [e - 0.01, -e + 0.01], [e - 0.01, -e + 0.01], [9, 9]]),
                        bins=4)
    assert h.sum() == pytest.approx(1.0)
    assert h[0, 0] == pytest.approx(1 / 3) and h[3, 0] == pytest.approx(2 / 3)  # [x bin, y bin]; (9, 9) dropped


# --- losses ---------------------------------------------------------------------------------------------


def test_gradient_penalty_matches_its_definition():
    real, fake = torch.randn(64, 2, generator=generator(1)), torch.randn(64, 2, generator=generator(2))
    # A linear critic D(x) = w.x + b has gradient w everywhere: the penalty is (|w| - 1)^2.
    D = torch.nn.Linear(2, 1)
    with torch.no_grad():
        D.weight.copy_(torch.tensor([[3.0, 4.0]]))
    gp = models.gradient_penalty(D, real, fake, generator(5))
    assert float(gp.detach()) == pytest.approx((5.0 - 1.0) ** 2, rel=1e-6)

    # D(x) = |x|^2 / 2 has gradient x: the penalty is the mean of (|x_hat| - 1)^2 at the same mixing e.
    class Half(torch.nn.Module):
        def forward(self, x):
            return 0.5 * (x**2).sum(1, keepdim=True)

    gp = models.gradient_penalty(Half(), real, fake, generator(5))
    e = torch.rand(64, 1, generator=generator(5))
    x_hat = e * real + (1 - e) * fake
    assert float(gp.detach()) == pytest.approx(float(((x_hat.norm(dim=1) - 1) ** 2).mean()), rel=1e-5)
    assert gp.grad_fn is not None  # differentiable, for the critic's update


def test_gan_losses_are_the_textbook_ones():
    d_real, d_fake = torch.tensor([2.0, -1.0]), torch.tensor([0.5, -3.0])
    sig = torch.sigmoid
    ns_d = -(torch.log(sig(d_real)).mean() + torch.log(1 - sig(d_fake)).mean())
    assert float(models.d_loss("ns", d_real, d_fake)) == pytest.approx(float(ns_d), rel=1e-6)
    assert float(models.g_loss("ns", d_fake)) == pytest.approx(float(-torch.log(sig(d_fake)).mean()), rel=1e-6)
    assert float(models.d_loss("ls", d_real, d_fake)) == pytest.approx(0.5 * (1 + 4) / 2 + 0.5 * (0.25 + 9) / 2)
    assert float(models.d_loss("wgan-gp", d_real, d_fake)) == pytest.approx(-1.25 - 0.5)
    assert float(models.g_loss("wgan-gp", d_fake)) == pytest.approx(1.25)


def test_cell_area_shoelace():
    v = _grid(3, 1.0).numpy()   # a 2 x 2 grid of unit squares
    assert np.allclose(_cell_area(v), 1.0)
    assert np.allclose(_cell_area(v * 2), 4.0)


# --- the playground --------------------------------------------------------------------------------------


def test_gan_heat_map_is_ds_output_on_the_grid():
    for loss in ("ns", "ls", "wgan-gp"):
        pg = Playground(Settings(model="gan", loss=loss, batch=64))
        pg.train(5)
        frame = pg.frame()
        grid = _grid(HEAT_SIDE, toy2d.EXTENT).reshape(-1, 2)
        with torch.no_grad():
            raw = pg.net.D(grid)[:, 0]
        expected = (torch.sigmoid(raw) if loss == "ns" else raw).reshape(HEAT_SIDE, HEAT_SIDE).numpy()
        assert frame.heat.shape == (HEAT_SIDE, HEAT_SIDE)
        np.testing.assert_allclose(frame.heat, expected, rtol=1e-5, atol=1e-6)
        # Row 0 is the top of the view: heat[0, 0] is D at (-EXTENT, +EXTENT).
        with torch.no_grad():
            corner = pg.net.D(torch.tensor([[-toy2d.EXTENT, toy2d.EXTENT]]))[0, 0]
        corner = torch.sigmoid(corner) if loss == "ns" else corner
        assert frame.heat[0, 0] == pytest.approx(float(corner), rel=1e-5, abs=1e-6)


def test_gan_arrows_are_minus_the_generator_loss_gradient():
    pg = Playground(Settings(model="gan", loss="ns", batch=64))
    pg.train(3)
    frame = pg.frame()
    x = torch.as_tensor(frame.fake[:4]).requires_grad_(True)
    loss = models.g_loss("ns", pg.net.D(x)[:, 0]) * x.shape[0]  # the sum: each point's own gradient
    (grad,) = torch.autograd.grad(loss, x)
    np.testing.assert_allclose(frame.arrows[:4], -grad.numpy(), rtol=1e-4, atol=1e-6)


def test_step_d_only_and_g_only_move_one_player():
    pg = Playground(Settings(model="gan", batch=64))
    g0 = [p.clone() for p in pg.net.G.parameters()]
    d0 = [p.clone() for p in pg.net.D.parameters()]
    pg.train(1, which="D")
    assert all(torch.equal(a, b) for a, b in zip(g0, pg.net.G.parameters()))
    assert not all(torch.equal(a, b) for a, b in zip(d0, pg.net.D.parameters()))
    d1 = [p.clone() for p in pg.net.D.parameters()]
    pg.train(1, which="G")
    assert all(torch.equal(a, b) for a, b in zip(d1, pg.net.D.parameters()))
    assert not all(torch.equal(a, b) for a, b in zip(g0, pg.net.G.parameters()))
    with pytest.raises(UserError):
        Playground(Settings(model="vae")).train(1, which="D")


def _falls(values: list[float], head: int = 20) -> tuple[float, float]:
    return float(np.mean(values[:head])), float(np.mean(values[-head:]))


def test_gan_distance_falls():
    pg = Playground(Settings(model="gan", data="gaussians8", loss="ns", lr=3e-3))
    start = pg.frame().distance["js"]
    pg.train(500)
    end = pg.frame().distance["js"]
    assert end < start - 0.2, (start, end)


def test_diffusion_loss_and_distance_fall():
    pg = Playground(Settings(model="diffusion", data="moons", lr=3e-3))
    start = pg.frame().distance["js"]
    losses = [pg.train(1)["loss"] for _ in range(500)]
    first, last = _falls(losses, 50)
    assert last < 0.8 * first, (first, last)
    frame = pg.frame()
    assert frame.distance["js"] < start - 0.12, (start, frame.distance["js"])
    T = pg.settings.timesteps
    assert frame.trajectories.shape == (T + 1, 28, 2)
    np.testing.assert_allclose(frame.trajectories[0], pg.z_view[:28].numpy())  # paths start at the noise
    np.testing.assert_allclose(frame.trajectories[-1], frame.fake[:28])         # and end at the samples
    assert frame.field_vec.shape == frame.field_pos.shape


def test_vae_elbo_falls_and_latents_are_shown():
    pg = Playground(Settings(model="vae", data="ring", lr=3e-3, batch=128))
    losses = [pg.train(1)["-ELBO"] for _ in range(200)]
    first, last = _falls(losses)
    assert last < first - 1.0, (first, last)
    frame = pg.frame()
    assert frame.latent_real.shape == (512, 2) and frame.manifold.shape[-1] == 2
    assert np.isfinite(frame.density).all() and (frame.density > 0).all()
    # The VAE's KL term is a loss; the KL between data and samples is the distance: kept apart.
    assert frame.history["kl"][-1] == frame.distance["kl"] and len(frame.history["kl"]) == 1
    assert frame.losses["kl"] == pg.loss_history["kl"] and frame.losses["-ELBO"][-1] == losses[-1]
    assert len(frame.losses["step"]) == 200


def test_same_seed_same_run():
    a, b = Playground(Settings(model="gan", seed=7, batch=64)), Playground(Settings(model="gan", seed=7, batch=64))
    a.train(10)
    b.train(10)
    np.testing.assert_array_equal(a.frame().fake, b.frame().fake)
    c = Playground(Settings(model="gan", seed=8, batch=64))
    c.train(10)
    assert not np.array_equal(a.frame().fake, c.frame().fake)


def test_nan_is_caught_and_the_last_good_weights_come_back():
    pg = Playground(Settings(model="gan", batch=64))
    pg.train(5)
    good = {k: v.clone() for k, v in pg.net.state_dict().items()}
    with torch.no_grad():
        pg.net.D[0].weight[0, 0] = float("nan")   # poison D after the last good step
    with pytest.raises(UserError) as err:
        pg.train(3)
    assert err.value.key == "toy2d_nan" and err.value.params["good"] == 5 and pg.step == 5
    assert CJK.search(err.value.localized("zh"))
    for k, v in pg.net.state_dict().items():
        assert torch.equal(v, good[k]), k
    pg.train(2)   # and it trains on from there
    assert pg.step == 7


def test_an_absurd_learning_rate_diverges_and_is_reported():
    pg = Playground(Settings(model="vae", lr=1000.0, batch=64))
    with pytest.raises(UserError) as err:
        for _ in range(50):
            pg.train(5)
    assert err.value.key == "toy2d_nan"
    assert all(torch.isfinite(p).all() for p in pg.net.parameters())
    assert max(p.abs().max().item() for p in pg.net.parameters()) < 1e4


@pytest.mark.parametrize("bad", [{"lr": -1.0}, {"lr": math.nan}, {"lr": 1e9}, {"batch": 3}, {"hidden": 10_000},
                                 {"d_steps": 0}, {"beta": -1.0}, {"model": "flow"}, {"data": "moon"},
                                 {"loss": "hinge"}, {"seed": -1}, {"batch": 12.5}])
def test_bad_settings_are_refused_in_both_languages(bad):
    with pytest.raises(UserError) as err:
        Settings(**bad).checked()
    assert err.value.key in ("toy2d_setting", "toy2d_choice", "value_out_of_range")
    assert CJK.search(err.value.localized("zh")), err.value.localized("zh")


def test_live_settings_apply_without_a_rebuild():
    pg = Playground(Settings(model="gan", batch=64))
    pg.train(2)
    assert not pg.needs_rebuild(Settings(model="gan", loss="wgan-gp", lr=0.01, batch=64))
    pg.apply(Settings(model="gan", loss="wgan-gp", lr=0.01, batch=64))
    assert pg.settings.loss == "wgan-gp" and pg.opts["D"].param_groups[0]["lr"] == 0.01
    logs = pg.train(1)
    assert "GP" in logs and pg.step == 3
    assert pg.needs_rebuild(Settings(model="gan", data="ring"))
    assert pg.needs_rebuild(Settings(model="vae"))


def test_new_drawn_points_are_taken_live():
    pts = np.random.default_rng(0).normal(0, 0.1, (40, 2)) + [1, 1]
    pg = Playground(Settings(model="diffusion", data="drawn", batch=64), pts)
    pg.train(3)
    before = {k: v.clone() for k, v in pg.net.state_dict().items()}
    more = np.concatenate([pts, pts - [2, 2]])
    assert not pg.needs_rebuild(Settings(model="diffusion", data="drawn", batch=64))
    assert pg.set_points(more) and not pg.set_points(more)   # the second time nothing changed
    assert pg.step == 3 and all(torch.equal(v, before[k]) for k, v in pg.net.state_dict().items())
    assert (pg.real[:, 0] < 0).any() and (pg.real[:, 0] > 0).any()   # the shown data has both clusters now
    hist = pg.data_hist.copy()
    with pytest.raises(UserError) as err:
        pg.set_points(pts[:3])
    assert err.value.key == "toy2d_too_few_points" and np.array_equal(pg.data_hist, hist)   # nothing changed
    pg.train(2)
    assert pg.step == 5
