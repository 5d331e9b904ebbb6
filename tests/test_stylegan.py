"""engines.stylegan: modulation against its equations, truncation, mixing, noise, losses against
their closed forms, a short training run through the shared trainer, checkpoints, bad input."""

from __future__ import annotations

import dataclasses
import math
import string

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from engines import checkpoint, runtime, stylegan
from engines.errors import MESSAGES, UserError
from engines.stylegan import Config
from engines.stylegan import networks as nets
from engines.train import TrainConfig, Trainer
from tests.close import assert_images_close


def tiny_config(**kw) -> Config:
    # 16x16 (num_ws = 6), widths 16 / 8 / 4 at 4x4 / 8x8 / 16x16, 16-d z and w.
    base = {"image_size": 16, "channels": 3, "z_dim": 16, "w_dim": 16, "mapping_layers": 2,
            "channel_base": 64, "channel_max": 16, "r1_gamma": 1.0, "r1_every": 4}
    return Config(**{**base, **kw})


def tiny_gan(config: Config | None = None, seed: int = 0) -> stylegan.GAN:
    """A built GAN whose noise strengths and w_avg are non-zero, so noise and truncation show."""
    torch.manual_seed(seed)
    model = stylegan.build(config or tiny_config()).eval()
    with torch.no_grad():
        for conv in model.G.synthesis.convs:
            conv.noise_strength.fill_(0.7)
        model.G.mapping.w_avg.copy_(torch.randn(model.G.w_dim))
    return model


@pytest.fixture(scope="module")
def engine(tmp_path_factory):
    out = tmp_path_factory.mktemp("sg") / "tiny-stylegan"
    config = tiny_config()
    checkpoint.save(out, family="stylegan", config=config, model=tiny_gan(config), card={"name": "tiny"})
    return stylegan.Engine.load(out, device=torch.device("cpu"))


# --- the layer table -----------------------------------------------------------------------------


def test_layer_table_for_32_and_64():
    assert [(layer.index, layer.resolution, layer.group) for layer in stylegan.layers(32)] == [
        (0, 4, "coarse"), (1, 8, "coarse"), (2, 8, "coarse"), (3, 16, "middle"), (4, 16, "middle"),
        (5, 32, "fine"), (6, 32, "fine"), (7, 32, "fine")]
    assert stylegan.layers(32)[1].name == "8x8 conv (up) + 4x4 toRGB"
    assert stylegan.layers(32)[7].name == "32x32 toRGB"
    assert stylegan.layer_groups(32) == {"coarse": [0, 1, 2], "middle": [3, 4], "fine": [5, 6, 7]}
    assert stylegan.layer_groups(64) == {"coarse": [0, 1, 2], "middle": [3, 4, 5, 6], "fine": [7, 8, 9]}
    for size, num_ws in ((16, 6), (32, 8), (64, 10)):
        config = tiny_config(image_size=size, channel_base=256)
        assert config.num_ws == num_ws == len(stylegan.layers(size)) == stylegan.build(config).G.num_ws


def test_shapes():
    model = tiny_gan()
    G, D = model.G, model.D
    z = torch.randn(5, 16)
    w = G.mapping(z)
    assert w.shape == (5, 16)
    ws = G.broadcast(w)
    assert ws.shape == (5, 6, 16)
    img = G.synthesis(ws, noise_mode="random", gen=runtime.generator(0))
    assert img.shape == (5, 3, 16, 16)
    assert D(img).shape == (5,)
    assert [n.shape for n in G.synthesis.make_noise(2)] == [(2, 1, r, r) for r in (4, 8, 8, 16, 16)]
    with pytest.raises(AssertionError):
        G.synthesis(ws[:, :5])
    # The minibatch-stddev layer adds one channel: the mean std over each group of images.
    x = torch.randn(8, 3, 4, 4)
    y = nets.minibatch_stddev(x, 4)
    assert y.shape == (8, 4, 4, 4)
    groups = x.reshape(4, 2, 3, 4, 4)
    expected = groups.var(0, unbiased=False).add(1e-8).sqrt().mean(dim=(1, 2, 3))
    torch.testing.assert_close(y[:2, 3, 0, 0], expected)
    torch.testing.assert_close(y[2:4, 3, 0, 0], expected)


# --- modulation and demodulation -----------------------------------------------------------------


def test_demodulated_weight_the_conv_uses_has_unit_norm_per_output_channel(monkeypatch):
    torch.manual_seed(0)
    layer = nets.SynthesisLayer(6, 5, w_dim=8, resolution=4, up=False)
    layer.fused = True
    seen = []
    conv2d = F.conv2d

    def spy(x, weight, *args, **kw):
        seen.append(weight.detach().clone())
        return conv2d(x, weight, *args, **kw)

    monkeypatch.setattr(nets.F, "conv2d", spy)
    B = 3
    layer(torch.randn(B, 6, 4, 4), torch.randn(B, 8) * 3, None)
    (weight,) = seen
    assert weight.shape == (B * 5, 6, 3, 3)  # one grouped conv: each image's own weights
    norms = weight.reshape(B, 5, -1).norm(dim=2)
    torch.testing.assert_close(norms, torch.ones(B, 5), rtol=0, atol=1e-5)


def test_modulated_weight_is_eq_1_and_3():
    torch.manual_seed(1)
    weight, styles = torch.randn(4, 3, 3, 3), torch.randn(2, 3)
    w = nets.modulated_weight(weight, styles)
    for b in range(2):
        for j in range(4):
            mod = weight[j] * styles[b].view(3, 1, 1)                  # w'_ijk = s_i w_ijk
            torch.testing.assert_close(w[b, j], mod / (mod.square().sum() + 1e-8).sqrt())
    plain = nets.modulated_weight(weight, styles, demodulate=False)
    torch.testing.assert_close(plain, weight[None] * styles[:, None, :, None, None])


def test_upsampling_conv_is_nearest_upsample_then_conv():
    torch.manual_seed(2)
    x, w = torch.randn(2, 3, 5, 5), torch.randn(4, 3, 3, 3)
    ref = F.conv2d(F.interpolate(x, scale_factor=2, mode="nearest"), w, padding=1)
    out = F.conv_transpose2d(x, nets.fold_upsample(w), stride=2, padding=1)
    torch.testing.assert_close(out, ref, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("up", [False, True])
@pytest.mark.parametrize("demodulate", [False, True])
def test_fused_and_unfused_modulated_conv_agree(up, demodulate):
    torch.manual_seed(3)
    x, weight, styles = torch.randn(3, 6, 4, 4), torch.randn(5, 6, 3, 3), torch.randn(3, 6)
    a = nets.modulated_conv2d(x, weight, styles, demodulate=demodulate, up=up, fused=True)
    b = nets.modulated_conv2d(x, weight, styles, demodulate=demodulate, up=up, fused=False)
    assert a.shape == (3, 5, 8 if up else 4, 8 if up else 4)
    torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-4)


# --- mapping and truncation ----------------------------------------------------------------------


def test_discriminator_downsampling_conv_is_conv_then_average_pool():
    torch.manual_seed(0)
    conv = nets.EqualConv2d(5, 7, 3, down=True)
    x = torch.randn(3, 5, 16, 16)
    expected = nets.lrelu(F.avg_pool2d(F.conv2d(x, conv.weight * conv.weight_gain, conv.bias, padding=1), 2))
    got = conv(x)
    assert got.shape == (3, 7, 8, 8)
    torch.testing.assert_close(got, expected, atol=1e-5, rtol=1e-5)


def test_truncation_psi_1_keeps_w_and_psi_0_gives_w_avg():
    G = tiny_gan().G
    w = G.mapping(torch.randn(4, 16))
    assert G.mapping.truncate(w, 1.0) is w
    torch.testing.assert_close(G.mapping.truncate(w, 0.0), G.mapping.w_avg.expand(4, -1), rtol=0, atol=0)
    torch.testing.assert_close(G.mapping.truncate(w, 0.5), (w + G.mapping.w_avg) / 2)


def test_engine_truncation(engine):
    w1 = engine.mapping([1, 2, 3], psi=1.0)
    assert w1.shape == (3, engine.w_dim) and w1.dtype == np.float32
    np.testing.assert_array_equal(engine.mapping(engine.z_from_seeds([1, 2, 3])), w1)
    np.testing.assert_array_equal(engine.mapping([1, 2, 3], psi=0.0), np.tile(engine.w_avg, (3, 1)))
    np.testing.assert_allclose(engine.mapping([1, 2, 3], psi=0.5), (w1 + engine.w_avg) / 2, atol=1e-6)


def test_w_avg_tracks_the_mean_w_during_training():
    config = tiny_config(w_avg_beta=0.9)
    torch.manual_seed(0)
    model = stylegan.build(config)
    _, g_loss = stylegan.make_losses(config)
    gen = runtime.generator(5)
    state = gen.get_state()
    g_loss(model, {"x": torch.rand(6, 3, 16, 16)}, gen, 0)
    gen.set_state(state)
    z = torch.randn(6, 16, generator=gen)
    with torch.no_grad():
        expected = 0.1 * model.G.mapping(z).mean(0)  # from zeros: (1 - beta) * mean(w)
    torch.testing.assert_close(model.G.mapping.w_avg, expected)


# --- mixing --------------------------------------------------------------------------------------


def test_mixing_with_all_layers_from_b_is_b_and_with_none_is_a():
    G = tiny_gan().G
    with torch.no_grad():
        ws_a = G.broadcast(G.mapping(torch.randn(3, 16))).numpy()
        ws_b = G.broadcast(G.mapping(torch.randn(3, 16))).numpy()
        synth = lambda ws: G.synthesis(torch.from_numpy(ws), noise_mode="const")
        image_a, image_b = synth(ws_a), synth(ws_b)
        assert torch.equal(synth(stylegan.mix_styles(ws_a, ws_b, range(G.num_ws))), image_b)
        assert torch.equal(synth(stylegan.mix_styles(ws_a, ws_b, [])), image_a)
        coarse = synth(stylegan.mix_styles(ws_a, ws_b, [0, 1, 2]))
    assert not torch.equal(coarse, image_a) and not torch.equal(coarse, image_b)


def test_engine_mix_grid(engine):
    a, b = [1, 2], [7, 8, 9]
    grid = engine.mix(a, b, list(range(engine.num_ws)))
    assert grid.shape == (2, 3, 16, 16, 3) and grid.dtype == np.uint8
    images_b = engine.generate(b)
    for i in range(2):
        # Batches of different sizes may round differently: at most one grey level apart.
        assert np.abs(grid[i].astype(int) - images_b.astype(int)).max() <= 1
    coarse = engine.mix(a, b, ["coarse"])
    assert np.abs(coarse[:, 0].astype(int) - engine.generate(a).astype(int)).max() > 1  # B's coarse styles show
    np.testing.assert_array_equal(engine.mix(a, b, ["coarse"]), coarse)  # same seeds, same grid


def test_style_mixing_regularisation():
    G = tiny_gan().G
    z = torch.randn(4, 16)
    with torch.no_grad():
        plain = G.broadcast(G.mapping(z))
        assert torch.equal(stylegan.mixed_ws(G, z, runtime.generator(0), 0.0), plain)
        cutoffs = set()
        for seed in range(12):
            ws = stylegan.mixed_ws(G, z, runtime.generator(seed), 1.0)
            same = [torch.equal(ws[:, i], plain[:, i]) for i in range(G.num_ws)]
            cutoff = same.index(False)
            assert all(same[:cutoff]) and not any(same[cutoff:]) and 1 <= cutoff < G.num_ws
            cutoffs.add(cutoff)
    assert len(cutoffs) > 2


# --- noise ---------------------------------------------------------------------------------------


def test_same_seed_same_image(engine):
    a, _ = engine.sample(3, seed=11)
    b, labels = engine.sample(3, seed=11)
    assert labels is None and a.shape == (3, 16, 16, 3) and a.dtype == np.uint8
    np.testing.assert_array_equal(a, b)
    assert_images_close(engine.generate([12]), a[1:2])  # a seed names one image (a batch of 1 against 3)
    r1 = engine.generate([1, 2], noise_mode="random", noise_seed=5)
    np.testing.assert_array_equal(r1, engine.generate([1, 2], noise_mode="random", noise_seed=5))
    assert not np.array_equal(r1, engine.generate([1, 2], noise_mode="random", noise_seed=6))


def test_noise_off_is_deterministic_and_strength_zero_is_off(engine):
    ws = engine.broadcast(engine.mapping([3, 4]))
    off = engine.synthesize(ws, noise_mode="none", noise_seed=1)
    np.testing.assert_array_equal(off, engine.synthesize(ws, noise_mode="none", noise_seed=2))
    np.testing.assert_array_equal(off, engine.synthesize(ws, noise_mode="random", noise_seed=3, noise_strength=0.0))
    np.testing.assert_array_equal(off, engine.synthesize(ws, noise_mode="const", noise_strength=[0] * engine.num_ws))
    assert not np.array_equal(off, engine.synthesize(ws, noise_mode="random", noise_seed=3))
    # Noise in one layer only: differs from no noise, and from noise everywhere.
    only_fine = [1.0 if i in engine.layer_groups["fine"] else 0.0 for i in range(engine.num_ws)]
    fine = engine.synthesize(ws, noise_mode="random", noise_seed=3, noise_strength=only_fine)
    assert not np.array_equal(fine, off)
    assert not np.array_equal(fine, engine.synthesize(ws, noise_mode="random", noise_seed=3))


def test_explicit_noise_per_layer():
    S = tiny_gan().G.synthesis
    ws = torch.randn(2, S.num_ws, S.w_dim)
    with torch.no_grad():
        noise = S.make_noise(2, runtime.generator(4))
        random = S(ws, noise_mode="random", gen=runtime.generator(4))
        torch.testing.assert_close(S(ws, noise=noise), random)  # the same draws, layer by layer
        off = S(ws, noise_mode="none")
        assert torch.equal(S(ws, noise_mode="none", noise=[None] * S.num_noise), off)
        one = S(ws, noise_mode="none", noise=[noise[0]] + [None] * (S.num_noise - 1))
        assert not torch.equal(one, off)
        doubled = S(ws, noise=[2 * n for n in noise])
        torch.testing.assert_close(S(ws, noise=noise, noise_strength=2.0), doubled)


# --- losses --------------------------------------------------------------------------------------


def test_logistic_losses_closed_form():
    zero = torch.zeros(4)
    assert float(stylegan.d_logistic(zero, zero)) == pytest.approx(2 * math.log(2))
    assert float(stylegan.g_nonsaturating(zero)) == pytest.approx(math.log(2))
    real, fake = torch.tensor([2.0, -1.0]), torch.tensor([0.5, -3.0])
    sig = torch.sigmoid
    expected = -(torch.log(1 - sig(fake)).mean() + torch.log(sig(real)).mean())
    torch.testing.assert_close(stylegan.d_logistic(real, fake), expected)
    torch.testing.assert_close(stylegan.g_nonsaturating(fake), -torch.log(sig(fake)).mean())


class QuadraticD(nn.Module):
    """l(x) = sum(a x) + 1/2 sum(b x^2), so grad_x l = a + b x: R1 by hand."""

    def __init__(self, shape):
        super().__init__()
        gen = torch.Generator().manual_seed(9)
        self.a = nn.Parameter(torch.randn(shape, generator=gen))
        self.b = nn.Parameter(torch.randn(shape, generator=gen))

    def forward(self, x):
        return (self.a * x + 0.5 * self.b * x**2).flatten(1).sum(1)


def test_r1_penalty_matches_hand_computation():
    D = QuadraticD((1, 4, 4))
    x = torch.randn(3, 1, 4, 4).requires_grad_(True)
    penalty = stylegan.r1_penalty(D(x), x)
    by_hand = (D.a + D.b * x).detach().square().flatten(1).sum(1)
    torch.testing.assert_close(penalty, by_hand)
    penalty.sum().backward()  # differentiable: d/db of sum (a + b x)^2 = sum 2 (a + b x) x
    torch.testing.assert_close(D.b.grad, (2 * (D.a + D.b * x) * x).detach().sum(0))

    # In the D loss: + gamma / 2 * mean R1 * r1_every, on steps 0, r1_every, ... only.
    config = tiny_config(channels=1, image_size=16, r1_gamma=0.3, r1_every=4)
    model = stylegan.build(config)
    model.D = QuadraticD((1, 16, 16))
    d_loss, _ = stylegan.make_losses(config)
    batch = {"x": torch.rand(3, 1, 16, 16)}
    loss0, logs0 = d_loss(model, batch, runtime.generator(0), 0)
    loss1, logs1 = d_loss(model, batch, runtime.generator(0), 1)
    real = stylegan.to_signed(batch["x"])
    r1 = (model.D.a + model.D.b * real).detach().square().flatten(1).sum(1).mean()
    torch.testing.assert_close(logs0["r1"], r1)
    torch.testing.assert_close(loss0, logs0["logistic"] + 0.3 / 2 * r1 * 4)
    assert "r1" not in logs1 and torch.equal(loss1, logs1["logistic"])


# --- training ------------------------------------------------------------------------------------


def blobs(n: int, size: int = 16, seed: int = 0) -> torch.Tensor:
    """Grey images of one bright disc at a random place: (n, 1, size, size) in [0, 1]."""
    gen = torch.Generator().manual_seed(seed)
    c = torch.rand(n, 2, generator=gen) * (size - 6) + 3
    yy, xx = torch.meshgrid(torch.arange(size), torch.arange(size), indexing="ij")
    d2 = (yy[None] - c[:, 0, None, None]) ** 2 + (xx[None] - c[:, 1, None, None]) ** 2
    return (d2 < 9).float()[:, None]


def test_short_training_run_moves_the_losses(tmp_path):
    config = tiny_config(channels=1, r1_every=4, r1_gamma=0.1)
    torch.manual_seed(0)
    steps = 60
    trainer = Trainer(stylegan.build(config), stylegan.make_phases(config, lr=2e-3), blobs(256),
                      TrainConfig(steps=steps, batch_size=16, lr=2e-3, betas=(0.0, 0.99), ema_decay=0.9,
                                  seed=0, log_every=20), preview_fn=stylegan.preview_fn(config, n=4),
                      device=torch.device("cpu"))
    events = list(trainer.run())
    assert events[-1].kind == "done" and events[-1].preview.shape[2] == 1
    h = trainer.history
    assert len(h) == steps
    # An untrained D says l = 0 for every image: D loss 2 ln 2, G loss ln 2. D then learns to tell
    # the discs from the fakes (its loss falls), so G's loss rises above ln 2.
    assert h[0]["D_logistic"] == pytest.approx(2 * math.log(2), abs=1e-6)
    assert np.mean([r["D_logistic"] for r in h[-20:]]) < 2 * math.log(2) - 0.02
    assert np.mean([r["G_loss"] for r in h[-20:]]) > math.log(2) + 0.01
    # Lazy R1: logged (and applied) on the D steps 0, 4, 8, ... only.
    assert [r["step"] - 1 for r in h if "D_r1" in r] == list(range(0, steps, 4))
    r1_rows = [r for r in h if "D_r1" in r]
    assert r1_rows[0]["D_r1"] == 0 and all(r["D_r1"] > 0 for r in r1_rows[1:])  # D starts flat (l = 0)
    for r in r1_rows:
        assert r["D_loss"] == pytest.approx(r["D_logistic"] + 0.1 / 2 * r["D_r1"] * 4, rel=1e-5)
    assert all(r["D_loss"] == r["D_logistic"] for r in h if "D_r1" not in r)
    assert float(trainer.model.G.mapping.w_avg.abs().sum()) > 0
    # The EMA copy is what gets saved and sampled; its buffers (w_avg) follow the model.
    final = trainer.final_model()
    assert torch.equal(final.G.mapping.w_avg, trainer.model.G.mapping.w_avg)
    out = trainer.save(tmp_path / "trained", family="stylegan", config=config, card={"name": "t"})
    images, labels = stylegan.Engine.load(out, device=torch.device("cpu")).sample(4, 0)
    assert images.shape == (4, 16, 16, 1) and labels is None


# --- differentiable augmentation -----------------------------------------------------------------


def test_translation_shifts_each_image_by_whole_pixels_and_extends_the_border():
    x = torch.rand(6, 2, 16, 16)
    y = stylegan.augment(x, "translation", runtime.generator(3))
    assert y.shape == x.shape
    shifts = set()
    for i in range(len(x)):
        # Some shift (dy, dx) in -2 .. 2 (1/8 of 16) maps the image onto its translate: y[r, c] =
        # x[clamp(r - dy), clamp(c - dx)], both channels alike.
        found = [(dy, dx) for dy in range(-2, 3) for dx in range(-2, 3)
                 if torch.equal(y[i], x[i][:, (torch.arange(16) - dy).clamp(0, 15)][:, :, (torch.arange(16) - dx).clamp(0, 15)])]
        assert len(found) == 1
        shifts.add(found[0])
    assert len(shifts) > 1  # each image its own draw
    assert torch.equal(stylegan.augment(x, "translation", runtime.generator(3)), y)  # seeded


def test_cutout_blanks_one_square_per_image():
    x = torch.ones(64, 1, 16, 16)
    y = stylegan.augment(x, "cutout", runtime.generator(0))
    blanked = (y == 0).sum(dim=(1, 2, 3))
    assert blanked.max() == 64 and blanked.min() > 0  # an 8x8 square, clipped at the edges
    assert set(y.unique().tolist()) == {0.0, 1.0}
    for img in y[:, 0]:
        rows, cols = (img == 0).nonzero(as_tuple=True)
        assert (rows.max() - rows.min() + 1) * (cols.max() - cols.min() + 1) == len(rows)  # a rectangle


def test_augmentation_is_differentiable_and_reaches_the_losses():
    x = torch.randn(4, 1, 16, 16, requires_grad=True)
    stylegan.augment(x, "translation,cutout", runtime.generator(0)).sum().backward()
    assert x.grad is not None and x.grad.abs().sum() > 0
    assert torch.equal(stylegan.augment(x, "", None), x)
    with pytest.raises(ValueError):
        stylegan.augment(x, "flip", None)
    # With augmentation D sees other images, so its logits on the same batch change.
    plain, aug = tiny_config(channels=1), tiny_config(channels=1, augment="translation,cutout")
    model = tiny_gan(plain)
    with torch.no_grad():
        model.D.out.weight.normal_()  # a D whose answer depends on the image
    batch = {"x": blobs(8)}
    logs = [stylegan.make_losses(c)[0](model, batch, runtime.generator(1), 1)[1] for c in (plain, aug)]
    assert logs[0]["real_logit"] != logs[1]["real_logit"]


# --- checkpoints ---------------------------------------------------------------------------------


def test_checkpoint_round_trip(tmp_path):
    config = tiny_config(channels=1, image_size=32, channel_base=128)
    model = tiny_gan(config)
    out = checkpoint.save(tmp_path / "sg", family="stylegan", config=config, model=model, card={"name": "sg"})
    ckpt = checkpoint.load(out, expect_family="stylegan")
    assert ckpt.family == "stylegan" and Config.from_dict(ckpt.config) == config
    state = model.state_dict()
    assert set(ckpt.state) == set(state) and "G.mapping.w_avg" in state and "G.synthesis.convs.0.noise_const" in state
    assert all(torch.equal(ckpt.state[k], v) for k, v in state.items())
    engine = stylegan.Engine(ckpt, device=torch.device("cpu"))
    np.testing.assert_array_equal(engine.w_avg, model.G.mapping.w_avg.numpy())
    with torch.no_grad():
        z = torch.from_numpy(engine.z_from_seeds([4]))
        expected = stylegan.to_unit(model.G(z, noise_mode="const"))
    got = engine.generate([4]).astype(np.float32) / 255
    assert np.abs(got - expected.permute(0, 2, 3, 1).numpy()).max() <= 0.5 / 255 + 1e-6
    with pytest.raises(UserError) as err:
        checkpoint.load(out, expect_family="vae")
    assert err.value.key == "checkpoint_wrong_family"


def test_config_validation():
    assert Config.from_dict(dataclasses.asdict(tiny_config())) == tiny_config()
    for bad in ({"image_size": 48}, {"channels": 2}, {"style_mixing_prob": 1.5}, {"r1_gamma": -1},
                {"mapping_lr_mul": 0}, {"channel_base": 8}, {"r1_every": 0}, {"w_avg_beta": 1.0},
                {"augment": "flip"}, {"augment": 3}):
        with pytest.raises(ValueError):
            Config.from_dict({**dataclasses.asdict(tiny_config()), **bad})


# --- bad input -----------------------------------------------------------------------------------


@pytest.mark.parametrize("call, key", [
    (lambda e: e.mapping([1], psi=float("nan")), "stylegan_psi"),
    (lambda e: e.sample(2, 0, psi=3.0), "stylegan_psi"),
    (lambda e: e.mix([1], [2], [], psi=0.5), "stylegan_no_layers"),
    (lambda e: e.mix([1], [2], ["middle"]), "stylegan_no_layers"),  # 16x16 has no middle layers
    (lambda e: e.mix([1], [2], [6]), "stylegan_layer"),
    (lambda e: e.mix([1], [2], ["tiny"]), "stylegan_layer"),
    (lambda e: e.generate([-1]), "value_out_of_range"),
    (lambda e: e.generate([2**32]), "value_out_of_range"),
    (lambda e: e.sample(2, 2**32 - 1), "value_out_of_range"),
    (lambda e: e.sample(0, 0), "value_out_of_range"),
    (lambda e: e.generate([]), "value_out_of_range"),
    (lambda e: e.interpolate(1, 2, [0, 0.5], space="x"), "stylegan_space"),
    (lambda e: e.interpolate(1, 2, [0, float("nan")]), "value_not_finite"),
    (lambda e: e.generate([1], noise_mode="loud"), "stylegan_noise_mode"),
    (lambda e: e.generate([1], noise_strength=[1, 1]), "stylegan_noise_count"),
    (lambda e: e.generate([1], noise_strength=float("inf")), "value_not_finite"),
    (lambda e: e.generate([1], noise_strength=-1), "value_out_of_range"),
    (lambda e: e.synthesize(np.zeros((1, 3, 16))), "stylegan_shape"),
    (lambda e: e.mapping(np.zeros((1, 5))), "stylegan_shape"),
])
def test_bad_input_raises_user_errors(engine, call, key):
    with pytest.raises(UserError) as err:
        call(engine)
    assert err.value.key == key
    assert err.value.localized("zh") and err.value.localized("zh") != str(err.value)


def test_interpolation(engine):
    ts = [0.0, 0.5, 1.0]
    for space in ("z", "w"):
        path = engine.interpolate(3, 9, ts, space=space, psi=0.7)
        assert path.shape == (3, 16, 16, 3)
        ends = engine.generate([3, 9], psi=0.7)
        assert np.abs(path[[0, 2]].astype(int) - ends.astype(int)).max() <= 1
    assert not np.array_equal(engine.interpolate(3, 9, ts, space="z")[1], engine.interpolate(3, 9, ts, space="w")[1])


def test_stylegan_messages_have_the_same_fields_in_both_languages():
    keys = [k for k in MESSAGES if k.startswith("stylegan_")]
    assert len(keys) >= 7
    for key in keys:
        fields = [{f[1] for f in string.Formatter().parse(MESSAGES[key][lang]) if f[1]} for lang in ("en", "zh")]
        assert fields[0] == fields[1], key


def test_weight_derived_kernels_are_kept_for_inference_and_never_stale():
    import torch

    from engines.stylegan import networks as N

    torch.manual_seed(0)
    weight = torch.nn.Parameter(torch.randn(8, 4, 3, 3))
    x, styles = torch.randn(3, 4, 5, 5), torch.randn(3, 4)
    with torch.no_grad():  # the reference: everything derived afresh
        fresh = N.modulated_conv2d(x, weight, styles, up=True, fused=False)
    with torch.inference_mode():
        first = N.modulated_conv2d(x, weight, styles, up=True, fused=False)
        kept = N.modulated_conv2d(x, weight, styles, up=True, fused=False)
    torch.testing.assert_close(first, fresh)
    torch.testing.assert_close(kept, fresh)
    assert len(weight.__dict__["_genlab_derived"]) == 2  # the folded kernel and the squared norms
    with torch.no_grad():
        weight.add_(torch.randn_like(weight))  # an optimiser step changes the weight in place
        changed = N.modulated_conv2d(x, weight, styles, up=True, fused=False)
    with torch.inference_mode():
        torch.testing.assert_close(N.modulated_conv2d(x, weight, styles, up=True, fused=False), changed)
    assert (changed - fresh).abs().max() > 0.1  # the change shows (demodulation undoes only a scale)
    # Training still differentiates through them.
    out = N.modulated_conv2d(x, weight, styles, up=True, fused=False)
    out.square().sum().backward()
    assert weight.grad is not None and torch.isfinite(weight.grad).all() and weight.grad.abs().sum() > 0
