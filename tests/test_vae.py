"""engines.vae: the ELBO's terms against their closed forms, interpolation, and the Engine API."""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest
import torch
from torch.distributions import Bernoulli, Independent, Normal

from engines import checkpoint, runtime, vae
from engines.errors import UserError
from tests.close import assert_images_close


# --- the loss: closed forms ------------------------------------------------------------------


def test_kl_to_prior_matches_closed_form():
    gen = torch.Generator().manual_seed(1)
    mu = torch.randn(4, 3, generator=gen, dtype=torch.float64)
    logvar = torch.randn(4, 3, generator=gen, dtype=torch.float64)
    got = vae.kl_to_prior(mu, logvar)
    assert got.shape == (4,)
    # KL(N(m, s^2) || N(0, 1)) = log(1/s) + (s^2 + m^2)/2 - 1/2, summed over dimensions.
    for b in range(4):
        want = 0.0
        for j in range(3):
            m, s = float(mu[b, j]), math.exp(0.5 * float(logvar[b, j]))
            want += -math.log(s) + (s * s + m * m) / 2 - 0.5
        assert float(got[b]) == pytest.approx(want, rel=1e-12, abs=1e-12)
    # torch's own closed form for two Normals, as a second, independent reference.
    q, p = Normal(mu, (0.5 * logvar).exp()), Normal(torch.zeros_like(mu), torch.ones_like(mu))
    torch.testing.assert_close(got, torch.distributions.kl_divergence(q, p).sum(1))


def test_kl_to_prior_matches_monte_carlo():
    mu = torch.tensor([[0.5, -1.0, 0.0], [1.5, 0.3, -0.2]], dtype=torch.float64)
    logvar = torch.tensor([[0.0, -1.0, 0.7], [-0.5, 0.2, 1.0]], dtype=torch.float64)
    q = Independent(Normal(mu, (0.5 * logvar).exp()), 1)
    p = Independent(Normal(torch.zeros_like(mu), torch.ones_like(mu)), 1)
    torch.manual_seed(0)
    z = q.sample((200_000,))  # (S, B, D)
    mc = (q.log_prob(z) - p.log_prob(z)).mean(0)  # E_q[log q - log p], (B,)
    exact = vae.kl_to_prior(mu, logvar)
    # Standard error of the estimate is below 0.01 nats here; 0.03 is about 3 sigma.
    torch.testing.assert_close(mc, exact, atol=0.03, rtol=0)


def _model(likelihood="bernoulli", channels=1):
    return vae.build(vae.Config(image_size=8, channels=channels, latent_dim=2, widths=(4,), hidden=16,
                                likelihood=likelihood))


def test_bernoulli_recon_nll_is_cross_entropy():
    model = _model("bernoulli")
    gen = torch.Generator().manual_seed(2)
    logits = torch.randn(3, 1, 8, 8, generator=gen) * 3
    x = torch.rand(3, 1, 8, 8, generator=gen)  # grey targets: the expected NLL of a binarisation
    got = vae.recon_nll(model, logits, x)
    p, xd = torch.sigmoid(logits.double()), x.double()
    want = -(xd * p.log() + (1 - xd) * (1 - p).log()).flatten(1).sum(1)
    assert got.shape == (3,)
    torch.testing.assert_close(got.double(), want, rtol=1e-5, atol=1e-4)
    # On binary targets it is exactly the Bernoulli log-likelihood.
    xb = (x > 0.5).float()
    want_b = -Independent(Bernoulli(logits=logits), 3).log_prob(xb)
    torch.testing.assert_close(vae.recon_nll(model, logits, xb), want_b, rtol=1e-5, atol=1e-4)


def test_gaussian_recon_nll_is_normal_log_prob():
    model = _model("gaussian", channels=3)
    with torch.no_grad():
        model.log_sigma.copy_(torch.tensor([math.log(0.1), math.log(0.3), math.log(0.7)]))
    gen = torch.Generator().manual_seed(3)
    logits = torch.randn(2, 3, 8, 8, generator=gen)
    x = torch.rand(2, 3, 8, 8, generator=gen)
    got = vae.recon_nll(model, logits, x)
    sigma = torch.tensor([0.1, 0.3, 0.7]).view(1, 3, 1, 1)
    want = -Normal(torch.sigmoid(logits), sigma).log_prob(x).flatten(1).sum(1)
    torch.testing.assert_close(got, want, rtol=1e-5, atol=1e-3)


def test_elbo_terms_one_reparameterised_sample():
    model = _model("bernoulli")
    x = torch.rand(5, 1, 8, 8, generator=torch.Generator().manual_seed(4))
    with torch.no_grad():
        t = vae.elbo_terms(model, x, runtime.generator(7))
        assert torch.equal(t["neg_elbo"], t["recon"] + t["kl"])
        mu, logvar = model.encode(x)
        eps = torch.randn(mu.shape, generator=runtime.generator(7))
        z = mu + (0.5 * logvar).exp() * eps
        torch.testing.assert_close(t["recon"], vae.recon_nll(model, model.decode_logits(z), x))
        torch.testing.assert_close(t["kl"], vae.kl_to_prior(mu, logvar))
        assert t["recon"].shape == t["kl"].shape == (5,)
        assert bool((t["kl"] >= 0).all())


def test_make_loss_weights_kl_by_beta_and_warmup():
    config = vae.Config(image_size=8, channels=1, latent_dim=2, widths=(4,), hidden=16, beta=4.0)
    model = vae.build(config)
    x = torch.rand(6, 1, 8, 8, generator=torch.Generator().manual_seed(5))
    loss_fn = vae.make_loss(config, binarize=False, kl_warmup_steps=4)
    with torch.no_grad():
        loss, logs = loss_fn(model, {"x": x}, runtime.generator(1), 1)  # ramp (1 + 1) / 4 = 0.5
        t = vae.elbo_terms(model, x, runtime.generator(1))
    want = t["recon"].mean() + 4.0 * 0.5 * t["kl"].mean()
    assert float(loss) == pytest.approx(float(want), rel=1e-6)
    assert logs["neg_elbo"] == pytest.approx(logs["recon"] + logs["kl"], rel=1e-6)


# --- interpolation ---------------------------------------------------------------------------


@pytest.mark.parametrize("fn", [vae.lerp, vae.slerp])
def test_interpolation_endpoints_are_exact(fn):
    rng = np.random.default_rng(0)
    for _ in range(20):
        za, zb = rng.standard_normal(7).astype(np.float32), rng.standard_normal(7).astype(np.float32)
        path = fn(za, zb, np.array([0.0, 0.25, 1.0]))
        assert path.shape == (3, 7) and path.dtype == np.float32
        assert np.array_equal(path[0], za)
        assert np.array_equal(path[-1], zb)


def test_slerp_keeps_the_norm_and_halves_the_angle():
    rng = np.random.default_rng(1)
    za = rng.standard_normal(6).astype(np.float32)
    zb = rng.standard_normal(6).astype(np.float32)
    zb = (zb / np.linalg.norm(zb) * np.linalg.norm(za)).astype(np.float32)
    path = vae.slerp(za, zb, np.linspace(0, 1, 9))
    np.testing.assert_allclose(np.linalg.norm(path, axis=1), np.linalg.norm(za), rtol=1e-5)
    mid = path[4]
    cos = lambda a, b: np.dot(a, b) / np.linalg.norm(a) / np.linalg.norm(b)  # noqa: E731
    assert cos(mid, za) == pytest.approx(cos(mid, zb), abs=1e-5)
    # Linear interpolation, by contrast, cuts through the ball: its midpoint is shorter.
    assert np.linalg.norm(vae.lerp(za, zb, np.array([0.5]))[0]) < np.linalg.norm(za) * 0.999


def test_slerp_falls_back_to_lerp_for_parallel_or_zero_vectors():
    za = np.array([1.0, 2.0, 3.0], np.float32)
    t = np.array([0.0, 0.3, 1.0])
    np.testing.assert_allclose(vae.slerp(za, 2 * za, t), vae.lerp(za, 2 * za, t), rtol=1e-6)
    np.testing.assert_allclose(vae.slerp(za, za, t), np.tile(za, (3, 1)), rtol=1e-6)
    np.testing.assert_array_equal(vae.slerp(np.zeros(3, np.float32), za, t), vae.lerp(np.zeros(3, np.float32), za, t))


# --- Config ----------------------------------------------------------------------------------


def test_config_from_dict_round_trip(tiny_vae_config):
    d = dataclasses.asdict(tiny_vae_config)
    d["widths"] = list(d["widths"])  # as JSON gives it back
    assert vae.Config.from_dict(d) == tiny_vae_config


@pytest.mark.parametrize("bad", [
    {"bogus": 1},
    {"widths": []},
    {"widths": [4, 4, 4, 4]},      # 8 is not divisible by 2**4
    {"widths": ["wide"]},
    {"channels": 2},
    {"latent_dim": 0},
    {"likelihood": "poisson"},
    {"beta": float("nan")},
])
def test_config_from_dict_rejects(tiny_vae_config, bad):
    d = {**dataclasses.asdict(tiny_vae_config), **bad}
    with pytest.raises(ValueError):
        vae.Config.from_dict(d)


def test_model_shapes(tiny_vae_config):
    model = vae.build(tiny_vae_config)
    x = torch.rand(3, 1, 8, 8)
    mu, logvar = model.encode(x)
    assert mu.shape == logvar.shape == (3, 2)
    out = model.decode(mu)
    assert out.shape == (3, 1, 8, 8)
    assert bool(((out >= 0) & (out <= 1)).all())


# --- Engine ----------------------------------------------------------------------------------


@pytest.fixture
def engine(tiny_checkpoint):
    return vae.Engine.load(tiny_checkpoint)


def test_engine_decode_is_deterministic_uint8_nhwc(engine):
    z = np.array([[0.0, 0.0], [1.0, -2.0], [3.0, 0.5]], np.float32)
    a, b = engine.decode(z), engine.decode(z)
    assert a.shape == (3, 8, 8, 1) and a.dtype == np.uint8
    assert np.array_equal(a, b)
    # It is the model's mean image, rounded to 8 bits.
    with torch.no_grad():
        want = (engine.model.decode(torch.from_numpy(z)) * 255).round().to(torch.uint8)
    assert np.array_equal(a, want.permute(0, 2, 3, 1).numpy())
    assert engine.decode(z[1]).shape == (1, 8, 8, 1)


def test_engine_prior_sample_is_seeded(engine):
    a, b, c = engine.prior_sample(5, 3), engine.prior_sample(5, 3), engine.prior_sample(5, 4)
    assert a.shape == (5, 2)
    assert np.array_equal(a, b)
    assert not np.array_equal(a, c)
    images, labels = engine.sample(4, seed=3)
    assert images.shape == (4, 8, 8, 1) and images.dtype == np.uint8 and labels is None
    assert np.array_equal(images, engine.decode(a[:4]))


def test_engine_rejects_non_finite_z_and_t(engine):
    with pytest.raises(UserError) as err:
        engine.decode(np.array([[np.nan, 0.0]], np.float32))
    assert err.value.key == "value_not_finite"
    with pytest.raises(UserError) as err:
        engine.decode(np.array([[np.inf, 0.0]], np.float32))
    assert err.value.key == "value_not_finite"
    za, zb = np.zeros(2, np.float32), np.ones(2, np.float32)
    with pytest.raises(UserError) as err:
        engine.interpolate(za, zb, [0.0, float("nan")])
    assert err.value.key == "value_not_finite"


def test_engine_interpolate_decodes_the_path(engine):
    za, zb = np.array([1.0, 0.0], np.float32), np.array([0.0, 1.0], np.float32)
    ts = [0.0, 0.5, 1.0]
    for mode, fn in (("linear", vae.lerp), ("spherical", vae.slerp)):
        frames = engine.interpolate(za, zb, ts, mode=mode)
        assert np.array_equal(frames, engine.decode(fn(za, zb, np.array(ts))))
        assert_images_close(frames[0], engine.decode(za)[0])  # a batch of 3 against 1: rounding only
        assert_images_close(frames[-1], engine.decode(zb)[0])


def test_engine_encode_and_reconstruct(engine):
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, (3, 8, 8, 1), dtype=np.uint8)
    mu, logvar = engine.encode(images)
    assert mu.shape == logvar.shape == (3, 2) and mu.dtype == np.float32
    with torch.no_grad():
        want_mu, want_logvar = engine.model.encode(torch.from_numpy(images).permute(0, 3, 1, 2).float() / 255)
    np.testing.assert_array_equal(mu, want_mu.numpy())
    np.testing.assert_array_equal(logvar, want_logvar.numpy())
    # One image, (H, W, C) or grey (H, W): the same answer (up to batch-size-dependent rounding).
    one = engine.encode(images[1])[0]
    assert one.shape == (1, 2)
    np.testing.assert_allclose(one, mu[1:2], rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(engine.encode(images[1, :, :, 0])[0], one, rtol=1e-5, atol=1e-7)

    r = engine.reconstruct(images[0], seed=0)
    assert r["recon"].shape == (8, 8, 1) and r["recon"].dtype == np.uint8
    assert np.array_equal(r["recon"], engine.decode(r["mu"])[0])  # decoded from the mean
    assert r["neg_elbo"] == pytest.approx(r["recon_nll"] + r["kl"], rel=1e-6)
    np.testing.assert_allclose(r["mu"], mu[0], rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(r["sigma"], np.exp(0.5 * logvar[0]), rtol=1e-5)
    assert engine.reconstruct(images[0], seed=0)["recon_nll"] == r["recon_nll"]

    with pytest.raises(UserError) as err:
        engine.encode(np.zeros((1, 9, 9, 1), np.uint8))
    assert err.value.key == "image_channels"


def test_engine_manifold_on_a_2d_model(engine):
    grid, coords = engine.manifold(n=3, span=2.0)
    assert grid.shape == (3 * 8, 3 * 8, 1) and grid.dtype == np.uint8
    assert coords.shape == (3, 3, 2)
    # Row 0 is the top (z_2 largest); column 0 the left (z_1 smallest).
    np.testing.assert_array_equal(coords[0, 0], [-2.0, 2.0])
    np.testing.assert_array_equal(coords[2, 2], [2.0, -2.0])
    for r in range(3):
        for c in range(3):
            tile = grid[r * 8:(r + 1) * 8, c * 8:(c + 1) * 8]
            assert_images_close(tile, engine.decode(coords[r, c])[0])  # a batch of 9 against 1


def test_engine_manifold_needs_a_2d_model(tmp_path, tiny_vae_config, make_checkpoint):
    path = make_checkpoint(tmp_path / "z16", dataclasses.replace(tiny_vae_config, latent_dim=16))
    engine = vae.Engine.load(path)
    with pytest.raises(UserError) as err:
        engine.manifold(n=3)
    assert err.value.key == "model_needs_2d"
    assert "16" in str(err.value) and "16" in err.value.localized("zh")


def test_latent_axes_identity_for_small_latents(engine):
    basis, origin, kind = engine.latent_axes(k=16)
    assert kind == "axes"
    np.testing.assert_array_equal(basis, np.eye(2, dtype=np.float32))
    np.testing.assert_array_equal(origin, np.zeros(2, np.float32))


def test_latent_axes_are_scaled_principal_directions(tmp_path, tiny_vae_config, make_checkpoint):
    config = dataclasses.replace(tiny_vae_config, latent_dim=6)
    torch.manual_seed(0)
    model = vae.build(config).eval()
    held_out = torch.rand(40, 1, 8, 8, generator=torch.Generator().manual_seed(6))
    labels = torch.arange(40) % 4
    aux = vae.build_aux(model, held_out, labels, n_examples_per_class=2)
    ckpt_dir = checkpoint.save(tmp_path / "z6", family="vae", config=config, model=model,
                               card={"dataset": "test"}, aux=aux)
    engine = vae.Engine.load(ckpt_dir)

    basis, origin, kind = engine.latent_axes(k=3)
    assert kind == "pca" and basis.shape == (3, 6) and origin.shape == (6,)
    std = np.linalg.norm(basis, axis=1)
    unit = basis / std[:, None]
    np.testing.assert_allclose(unit @ unit.T, np.eye(3), atol=1e-5)  # orthonormal before scaling
    # Each direction is an eigenvector of the encoded means' covariance, with variance std^2,
    # in decreasing order.
    with torch.no_grad():
        mus = model.encode(held_out)[0].double().numpy()
    np.testing.assert_allclose(origin, mus.mean(0), atol=1e-5)
    cov = np.cov(mus, rowvar=False)
    eigvals = np.linalg.eigvalsh(cov)[::-1]
    np.testing.assert_allclose(std**2, eigvals[:3], rtol=1e-3)
    for v, s in zip(unit, std):
        np.testing.assert_allclose(cov @ v, s**2 * v, atol=1e-4 * eigvals[0])

    # Shipped examples and encoded points come back at the engine boundary's formats.
    examples, ex_labels = engine.examples()
    assert examples.shape == (8, 8, 8, 1) and examples.dtype == np.uint8
    picked = [0, 1, 2, 3, 4, 5, 6, 7]  # the first two of each class, in data order
    np.testing.assert_array_equal(ex_labels, labels[picked].numpy())
    np.testing.assert_array_equal(examples[..., 0], (held_out[picked, 0] * 255).round().to(torch.uint8).numpy())
    points, point_labels = engine.encoded_points()
    np.testing.assert_allclose(points, mus, atol=1e-5)
    np.testing.assert_array_equal(point_labels, labels.numpy())

    # Without shipped PCA the first k axes are used.
    plain = vae.Engine.load(make_checkpoint(tmp_path / "plain", config))
    basis, origin, kind = plain.latent_axes(k=3)
    assert kind == "axes"
    np.testing.assert_array_equal(basis, np.eye(6, dtype=np.float32)[:3])


def test_evaluate_is_seeded_and_consistent(tiny_vae_config):
    torch.manual_seed(0)
    model = vae.build(tiny_vae_config)
    images = torch.rand(10, 1, 8, 8, generator=torch.Generator().manual_seed(8))
    a = vae.evaluate(model, images, seed=0, batch_size=4)
    assert a == vae.evaluate(model, images, seed=0, batch_size=4)
    assert a["neg_elbo"] == pytest.approx(a["recon"] + a["kl"], rel=1e-6)
    with torch.no_grad():
        t = vae.elbo_terms(model, images, runtime.generator(0))
    # One batch: the same draws as a single elbo_terms call.
    b = vae.evaluate(model, images, seed=0, batch_size=100)
    assert b["neg_elbo"] == pytest.approx(float(t["neg_elbo"].mean()), rel=1e-5)
