"""engines.vqvae: the codebook's moving averages, the straight-through gradient, dead codes, the prior's
sampler (cache or not, begin token, top-k / top-p, a region again), the engine's checks, the CLI."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from engines import checkpoint, cli
from engines.errors import UserError
from engines.vqvae import Codebook, Config, Engine, build, perplexity, straight_through, vq_losses
from engines.vqvae import sampling
from engines.vqvae.family import build_aux, phases
from engines.vqvae.model import class_tokens


def tiny_config(**kw) -> Config:
    base = dict(image_size=8, channels=1, widths=(4,), codebook_size=6, code_dim=2, num_classes=3,
                prior_width=16, prior_layers=1, prior_heads=2, prior_dropout=0.0)
    return Config(**{**base, **kw})


# --- the codebook ------------------------------------------------------------------------------

def test_the_moving_averages_follow_the_papers_update_by_hand():
    cb = Codebook(3, 2, decay=0.5, dead_fraction=0.0)
    cb.usage.copy_(torch.tensor([0.5, 0.25, 0.25]))
    cb.embed_avg.copy_(torch.tensor([[0.5, 0.0], [0.0, 0.25], [0.25, 0.25]]))
    flat = torch.tensor([[1.0, 0.0], [3.0, 0.0], [0.0, 2.0], [0.0, 0.0]])
    idx = torch.tensor([0, 0, 1, 2])
    cb.ema_update(flat, idx)
    # N_k = 0.5 N_k + 0.5 n_k / T with n = (2, 1, 1), T = 4; m_k = 0.5 m_k + 0.5 sum / T
    torch.testing.assert_close(cb.usage, torch.tensor([0.5, 0.25, 0.25]))
    torch.testing.assert_close(cb.embed_avg, torch.tensor([[0.25 + 0.5, 0.0], [0.0, 0.125 + 0.25], [0.125, 0.125]]))
    # e_k = m_k / N_k (the smoothing changes it by about eps)
    torch.testing.assert_close(cb.embed, torch.tensor([[1.5, 0.0], [0.0, 1.5], [0.5, 0.5]]), atol=1e-4, rtol=1e-4)
    assert cb.nearest(torch.tensor([[1.4, 0.1], [0.4, 0.6]])).tolist() == [0, 2]


def test_the_straight_through_gradient_and_the_two_losses_by_hand():
    z = torch.tensor([[1.0, 2.0], [0.0, -1.0]], requires_grad=True)
    e = torch.tensor([[1.5, 2.0], [0.0, 0.0]], requires_grad=True)
    zq = straight_through(z, e)
    torch.testing.assert_close(zq, e.detach())            # the value of e ...
    w = torch.tensor([[1.0, -2.0], [3.0, 4.0]])
    (zq * w).sum().backward()
    torch.testing.assert_close(z.grad, w)                 # ... the gradient straight to z_e
    assert e.grad is None or float(e.grad.abs().sum()) == 0.0
    losses = vq_losses(z, e)
    # both are mean((z - e)^2) = (0.25 + 0 + 0 + 1) / 4; each moves only its own side
    assert float(losses["codebook_loss"].detach()) == pytest.approx(0.3125)
    assert float(losses["commitment_loss"].detach()) == pytest.approx(0.3125)
    z.grad = None
    losses["commitment_loss"].backward()
    torch.testing.assert_close(z.grad, 2 * (z - e).detach() / 4)


def test_dead_codes_restart_at_batch_vectors_and_live_ones_stay():
    cb = Codebook(4, 2, decay=0.99, dead_fraction=0.5)
    cb.usage.copy_(torch.tensor([0.5, 0.01, 0.49, 0.0]))   # codes 1 and 3 are under 0.5 / 4
    before = cb.embed_avg.clone()
    flat = torch.tensor([[7.0, 7.0], [8.0, 8.0], [9.0, 9.0]])
    assert cb.dead().tolist() == [False, True, False, True]
    assert cb.restart(flat, torch.Generator().manual_seed(0)) == 2
    for k in (1, 3):
        assert any(torch.allclose(cb.embed[k], v, atol=1e-3) for v in flat), cb.embed[k]
    torch.testing.assert_close(cb.embed_avg[[0, 2]], before[[0, 2]])
    assert not cb.dead().any()
    assert cb.restart(flat) == 0


def test_training_moves_the_codebook_only_by_its_averages_and_restarts_at_first():
    torch.manual_seed(0)
    c = tiny_config()
    model = build(c).train()
    x = torch.rand(8, 1, 8, 8)
    ph = phases(c, {})
    loss, logs = ph[0].loss_fn(model, {"x": x}, torch.Generator().manual_seed(0), 0)
    assert float(model.codebook.usage.min()) > 0          # every code restarted on the first batch
    loss.backward()
    assert all(p.grad is not None for p in model.encoder.parameters())
    assert all(p.grad is None for p in model.prior.parameters())
    assert not any(b.requires_grad for b in model.codebook.buffers())
    # The codebook's health while training, as shares of K for the training tab's one-axis plot.
    assert logs["codes_in_use"] == pytest.approx(logs["perplexity"] / c.codebook_size)
    assert 0 < logs["codes_in_use"] <= 1 and logs["dead_codes"] == pytest.approx(logs["dead"] / c.codebook_size)
    from engines.vqvae.family import SPEC
    assert {"vq_codes_in_use", "vq_dead_codes"} <= set(SPEC.curves)
    ploss, _ = ph[1].loss_fn(model, {"x": x, "y": torch.tensor([0, 1, 2, 0, 1, 2, 0, 1])},
                             torch.Generator().manual_seed(0), 0)
    assert math.isfinite(float(ploss)) and ploss.requires_grad


def test_perplexity():
    assert perplexity(torch.tensor([5.0, 5.0, 5.0, 5.0])) == pytest.approx(4.0)
    assert perplexity(torch.tensor([9.0, 0.0, 0.0])) == pytest.approx(1.0)


# --- the sampler -------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def tiny_model():
    torch.manual_seed(0)
    c = tiny_config()
    model = build(c).eval()
    with torch.no_grad():
        model.codebook.usage.fill_(1 / c.codebook_size)
        model.codebook.embed_avg.copy_(torch.randn(c.codebook_size, c.code_dim) / c.codebook_size)
    return c, model


def test_the_cache_gives_the_same_tokens_as_feeding_the_whole_sequence(tiny_model):
    c, model = tiny_model
    begin = class_tokens(c, torch.tensor([0, 1, 2, -1]), 4, "cpu")
    s = sampling.Settings(temperature=1.3)
    with torch.no_grad():
        a = sampling.sample(model.prior, c.codebook_size, begin, c.tokens, s, torch.Generator().manual_seed(5))
        b = sampling.sample(model.prior, c.codebook_size, begin, c.tokens, s, torch.Generator().manual_seed(5),
                            cache=False)
        other = sampling.sample(model.prior, c.codebook_size, begin, c.tokens, s, torch.Generator().manual_seed(6))
    assert torch.equal(a, b) and not torch.equal(a, other)
    assert a.shape == (4, c.tokens)


def test_the_begin_token_is_never_sampled(tiny_model):
    c, model = tiny_model
    prior = build(c).prior.eval()
    with torch.no_grad():  # make the class and "no class" tokens by far the likeliest outputs
        prior.lm_head.weight.zero_()
        prior.lm_head.weight[c.codebook_size:] = 0
        prior.transformer.ln_f.bias.fill_(1.0)
        prior.lm_head.weight[c.codebook_size:, :] = 50.0
        begin = torch.full((3,), c.null_token)
        steps = list(sampling.steps(prior, c.codebook_size, begin, c.tokens, sampling.Settings(),
                                    torch.Generator().manual_seed(0), top=4))
    tokens = steps[-1].tokens
    assert len(steps) == c.tokens and tokens.shape == (3, c.tokens)
    assert int(tokens.min()) >= 0 and int(tokens.max()) < c.codebook_size
    assert all(code < c.codebook_size for st in steps for code, _ in st.candidates)


def test_top_k_and_top_p_by_hand():
    logits = torch.log(torch.tensor([[0.5, 0.3, 0.15, 0.05]]))
    torch.testing.assert_close(sampling.filtered_probs(logits, sampling.Settings(top_k=2)),
                               torch.tensor([[0.625, 0.375, 0.0, 0.0]]))
    # top-p 0.7: 0.5 < 0.7, then 0.5 + 0.3 reaches it: the first two
    torch.testing.assert_close(sampling.filtered_probs(logits, sampling.Settings(top_p=0.7)),
                               torch.tensor([[0.625, 0.375, 0.0, 0.0]]))
    torch.testing.assert_close(sampling.filtered_probs(logits, sampling.Settings(top_p=0.1)),
                               torch.tensor([[1.0, 0.0, 0.0, 0.0]]))
    # temperature 2: p ~ sqrt(p)
    t2 = sampling.filtered_probs(logits, sampling.Settings(temperature=2.0))
    want = torch.tensor([[0.5, 0.3, 0.15, 0.05]]).sqrt()
    torch.testing.assert_close(t2, want / want.sum())


def test_a_region_resamples_and_the_rest_stays(tiny_model):
    c, model = tiny_model
    keep = torch.randint(0, c.codebook_size, (5, c.tokens), generator=torch.Generator().manual_seed(1))
    keep[:] = keep[0]
    mask = torch.zeros(c.tokens, dtype=torch.bool)
    mask[[3, 4, 9, 15]] = True
    begin = class_tokens(c, None, 5, "cpu")
    with torch.no_grad():
        out = sampling.sample(model.prior, c.codebook_size, begin, c.tokens, sampling.Settings(temperature=3.0),
                              torch.Generator().manual_seed(0), keep=keep, resample=mask)
        nocache = sampling.sample(model.prior, c.codebook_size, begin, c.tokens, sampling.Settings(temperature=3.0),
                                  torch.Generator().manual_seed(0), keep=keep, resample=mask, cache=False)
    assert torch.equal(out[:, ~mask], keep[:, ~mask]) and torch.equal(out, nocache)
    assert not torch.equal(out[:, mask], keep[:, mask])     # 5 rows x 4 tokens at temperature 3


@pytest.mark.parametrize("kw, key", [
    ({"top_p": 0}, "vq_top_p"), ({"top_p": 1.5}, "vq_top_p"), ({"top_p": float("nan")}, "vq_top_p"),
    ({"temperature": 0}, "vq_temperature"), ({"temperature": float("nan")}, "vq_temperature"),
    ({"temperature": -1}, "vq_temperature"), ({"temperature": "hot"}, "vq_temperature"),
    ({"top_k": 7}, "vq_top_k"), ({"top_k": -1}, "vq_top_k"), ({"top_k": 2.5}, "vq_top_k"),
])
def test_hostile_settings_are_refused_in_both_languages(kw, key):
    with pytest.raises(UserError) as err:
        sampling.Settings(**kw).checked(6)
    assert err.value.key == key
    en, zh = str(err.value), err.value.localized("zh")
    assert en != zh and "{" not in en + zh


# --- the engine ----------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def tiny_engine(tmp_path_factory, tiny_model):
    c, model = tiny_model
    images = torch.rand(12, 1, 8, 8)
    aux = build_aux(model, images, torch.tensor([0, 1, 2] * 4))
    folder = checkpoint.save(tmp_path_factory.mktemp("vq") / "m", family="vqvae", config=c, model=model,
                             card={"name": "tiny", "class_names": ["a", "b", "c"]}, aux=aux)
    return Engine.load(folder)


def test_the_engine_samples_streams_and_swaps(tiny_engine):
    e = tiny_engine
    images, labels = e.sample(3, 4, label=1, top_k=3)
    assert images.shape == (3, 8, 8, 1) and images.dtype == np.uint8 and labels.tolist() == [1, 1, 1]
    tokens = e.sample_tokens(3, 4, label=1, top_k=3)
    frames = list(e.stream(3, 4, label=1, top_k=3, top=3))
    assert len(frames) == e.config.tokens + 2 and frames[-1].done
    assert (frames[0].tokens == -1).all() and frames[0].images.shape == (3, 8, 8, 1)
    assert (frames[1].tokens.reshape(3, -1)[:, 1:] == -1).all() and frames[1].position == 0
    np.testing.assert_array_equal(frames[-1].tokens, tokens)   # streaming draws what sampling draws
    assert 1 <= len(frames[1].candidates) <= 3 and frames[1].chosen in [k for k, _ in frames[1].candidates]
    grid, image = e.swap(tokens[0], 1, 2, 5)
    assert grid[1, 2] == 5 and image.shape == (8, 8, 1)
    rec = e.reconstruct(np.zeros((8, 8), np.uint8))
    assert rec["tokens"].shape == (4, 4) and rec["recon"].shape == (8, 8, 1)
    assert e.codebook_images().shape[0] == 6
    use = e.usage()
    assert use["counts"].sum() == 12 * 16 and use["perplexity"] > 0


def test_the_engine_resamples_a_region(tiny_engine):
    e = tiny_engine
    tokens = e.sample_tokens(1, 0)[0]
    mask = np.zeros((4, 4), bool)
    mask[2:, :2] = True
    grids, images = e.resample(tokens, mask, seed=3, n=4, temperature=4.0)
    assert (grids[:, ~mask] == tokens[~mask]).all() and images.shape == (4, 8, 8, 1)
    frames = list(e.stream(2, 3, tokens=tokens, mask=mask))
    assert (frames[0].tokens[:, ~mask] == tokens[~mask]).all() and (frames[0].tokens[:, mask] == -1).all()
    assert len(frames) == int(mask.sum()) + 2


def test_a_frame_rate_skips_decoding_but_not_tokens(tiny_engine):
    all_frames = list(tiny_engine.stream(2, 5, label=0))
    few = list(tiny_engine.stream(2, 5, label=0, every=3600.0))   # the blank, the first token, the last
    assert len(few) == 3 and (few[0].tokens == -1).all() and few[1].position == 0 and few[-1].done
    np.testing.assert_array_equal(few[-1].tokens, all_frames[-1].tokens)   # the same draw
    np.testing.assert_array_equal(few[-1].images, all_frames[-1].images)


@pytest.mark.parametrize("call, key", [
    (lambda e: e.decode(np.full((4, 4), 6)), "vq_token"),
    (lambda e: e.decode(np.full((4, 4), -1)), "vq_token"),
    (lambda e: e.decode(np.full((4, 4), np.nan)), "vq_token"),
    (lambda e: e.decode(np.zeros((5, 4), int)), "vq_grid"),
    (lambda e: e.swap(np.zeros((4, 4), int), 0, 0, 99), "vq_token"),
    (lambda e: e.swap(np.zeros((4, 4), int), 4, 0, 1), "vq_cell"),
    (lambda e: e.encode(np.zeros((9, 8), np.uint8)), "vq_image"),
    (lambda e: e.encode(np.zeros((8, 8, 3), np.uint8)), "vq_image"),
    (lambda e: e.sample(2, 0, label=3), "vq_label"),
    (lambda e: e.sample(2, 0, top_p=0), "vq_top_p"),
    (lambda e: e.sample(2, 0, temperature=float("nan")), "vq_temperature"),
    (lambda e: e.sample(0, 0), "value_out_of_range"),
    (lambda e: e.sample(1000, 0), "value_out_of_range"),
    (lambda e: e.resample(np.zeros((4, 4), int), np.zeros((4, 4), bool), 0), "vq_mask_empty"),
])
def test_hostile_engine_input_is_a_user_error(tiny_engine, call, key):
    with pytest.raises(UserError) as err:
        call(tiny_engine)
    assert err.value.key == key and err.value.localized("zh") != str(err.value)


# --- the command line ------------------------------------------------------------------------------

def test_train_and_sample_from_the_command_line(tmp_path):
    out = tmp_path / "vq"
    assert cli.main(["train", "vqvae", "--dataset", "shapes", "--n-train", "64", "--n-test", "32", "--steps", "3",
                     "--prior-steps", "2", "--batch-size", "16", "--preset", "tiny", "--codebook-size", "8",
                     "--prior-layers", "1", "--out", str(out)]) == 0
    ckpt = checkpoint.load(out, expect_family="vqvae")
    assert ckpt.card["steps"] == 5 and "then the prior 2 steps" in ckpt.card["phases"]
    assert set(ckpt.card["metrics"]) >= {"heldout_mse", "heldout_psnr", "heldout_perplexity", "heldout_prior_nll"}
    assert cli.main(["sample", "--model", str(out), "--n", "5", "--seed", "1", "--label", "all", "--temperature",
                     "0.9", "--top-k", "4", "--top-p", "0.8", "--out", str(tmp_path / "s.npz")]) == 0
    data = np.load(tmp_path / "s.npz")
    assert data["images"].shape == (5, 32, 32, 3) and data["images"].dtype == np.uint8
    assert data["labels"].tolist() == [0, 1, 2, 3, 4]
    assert cli.main(["sample", "--model", str(out), "--n", "4", "--out", str(tmp_path / "s.png")]) == 0
    assert (tmp_path / "s.png").stat().st_size > 0
    assert cli.main(["sample", "--model", str(out), "--n", "4", "--top-p", "1.5", "--out",
                     str(tmp_path / "t.png")]) == 2
