"""engines.pixelcnn: masks and the blind spot, the cached sampler against the whole-image forward,
the exact likelihood, sampling knobs, completion, the command line."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
import torch

from engines import checkpoint, cli
from engines.errors import UserError
from engines.pixelcnn import Config, build, evaluate, marginal_nll, nll
from engines.pixelcnn.engine import Engine, receptive_field
from engines.pixelcnn.sampler import Knobs, cached_logits, check_knobs, filtered_probs, stream


@pytest.fixture(autouse=True)
def _one_thread():
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def tiny(**kw) -> Config:
    base = dict(image_size=8, channels=1, width=8, layers=4, head=8, first_kernel=3, kernel=3)
    return Config(**{**base, **kw})


def model_of(config: Config, seed: int = 0):
    torch.manual_seed(seed)
    return build(config).eval()


def earlier(size: int, row: int, col: int) -> np.ndarray:
    order = np.arange(size * size).reshape(size, size)
    return order < row * size + col


# --- masks and the blind spot ---------------------------------------------------------------------

def test_the_gated_pixelcnn_sees_every_earlier_pixel_in_reach_and_nothing_later():
    size = 6
    m = model_of(tiny(image_size=size, layers=6, first_kernel=5))  # reach: 3 + 5 rows up, 7 columns: all
    for row, col in [(0, 0), (0, 5), (3, 3), (4, 5), (5, 0), (5, 5)]:
        dep = receptive_field(m, row, col)
        np.testing.assert_array_equal(dep, earlier(size, row, col), err_msg=f"pixel {(row, col)}")


def test_the_plain_masked_stack_has_a_blind_spot_and_sees_nothing_later():
    size = 8
    m = model_of(tiny(image_size=size, layers=6, arch="masked"))
    row, col = 6, 2
    dep = receptive_field(m, row, col)
    before = earlier(size, row, col)
    assert not (dep & ~before).any()                  # causal
    missed = before & ~dep
    assert missed.any()                               # the blind spot ...
    assert missed[row - 1, col + 2]                   # ... up and to the right of the pixel
    assert dep[row - 1, col - 1] and dep[row, col - 1]


def test_the_dependency_check_can_fail():
    """A network that peeks at its own pixel would show up as a dependency on it."""
    m = model_of(tiny(arch="masked"))
    m.layers[0].mask[0, 0, 1, 1] = 1.0                 # mask A becomes mask B: the centre leaks
    assert receptive_field(m, 4, 4)[4, 4]


# --- the cached sampler is the whole-image forward ---------------------------------------------------

@pytest.mark.parametrize("channels, classes", [(1, None), (1, 3), (3, None)])
def test_cached_logits_equal_the_whole_image_forward(channels, classes):
    m = model_of(tiny(channels=channels, num_classes=classes, first_kernel=5))
    x = torch.randint(0, 256, (2, channels, 8, 8), generator=torch.Generator().manual_seed(1))
    y = torch.tensor([0, 2]) if classes else None
    with torch.no_grad():
        full, cached = m(x, y), cached_logits(m, x, y)
    assert full.shape == cached.shape == (2, 256, channels, 8, 8)
    torch.testing.assert_close(cached, full, atol=1e-4, rtol=1e-4)


def test_a_sampled_image_has_the_likelihood_of_its_draws():
    """Drawing with T = 1 and no cuts: log p(x) of the result equals the sum of log-probabilities of
    the values drawn (the streamed distributions are the model's own conditionals)."""
    m = model_of(tiny(image_size=6, channels=3, levels=2))
    total = torch.zeros(2)
    frames = stream(m, 2, torch.Generator().manual_seed(3), Knobs())
    with torch.no_grad():
        for f in frames:
            x = torch.from_numpy(f.images[:, f.row, f.col] // 255).long()           # (2, C) values drawn
            total += torch.log(torch.from_numpy(f.probs).gather(2, x[:, :, None])[:, :, 0]).sum(1)
        images = torch.from_numpy(f.images).permute(0, 3, 1, 2).long() // 255
        torch.testing.assert_close(-nll(m, images), total, atol=1e-4, rtol=1e-5)


# --- the exact likelihood -------------------------------------------------------------------------

def test_nll_matches_a_hand_computation():
    m = model_of(tiny(image_size=4, layers=2))
    x = torch.randint(0, 256, (3, 1, 4, 4), generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        logits = m(x)
        hand = torch.zeros(3)
        for b, i, j in itertools.product(range(3), range(4), range(4)):
            p = torch.softmax(logits[b, :, 0, i, j].double(), 0)
            hand[b] -= math.log(p[x[b, 0, i, j]])
        torch.testing.assert_close(nll(m, x), hand, atol=1e-3, rtol=1e-5)
        metrics = evaluate(m, x.float() / 255)
    assert metrics["nll_nats"] == pytest.approx(float(hand.mean()), rel=1e-5)
    assert metrics["bits_per_dim"] == pytest.approx(float(hand.mean()) / (16 * math.log(2)), rel=1e-5)


def test_a_binary_pixelcnn_is_a_distribution_over_all_images():
    """Summed over all 2^16 binary 4x4 images, p(x) = 1: the factors are proper conditionals."""
    m = model_of(tiny(image_size=4, levels=2, layers=3, width=4, head=4))
    codes = torch.arange(2 ** 16)
    x = ((codes[:, None] >> torch.arange(16)) & 1).reshape(-1, 1, 4, 4)
    with torch.no_grad():
        total = torch.logsumexp(-nll(m, x).double(), 0).exp()
    assert float(total) == pytest.approx(1.0, abs=1e-4)


# --- sampling knobs -------------------------------------------------------------------------------

def test_top_k_and_top_p_keep_what_they_say():
    logits = torch.log(torch.tensor([[0.5, 0.3, 0.15, 0.05]]))
    assert (filtered_probs(logits, Knobs(top_k=2)) > 0).sum() == 2
    p = filtered_probs(logits, Knobs(top_p=0.75))       # 0.5 + 0.3 reaches 0.75: two kept
    torch.testing.assert_close(p, torch.tensor([[0.625, 0.375, 0.0, 0.0]]))
    assert (filtered_probs(logits, Knobs(top_p=0.4)) > 0).sum() == 1   # the likeliest always stays
    sharp = filtered_probs(logits, Knobs(temperature=0.5))
    assert sharp[0, 0] > 0.5 and sharp.sum() == pytest.approx(1.0)


@pytest.mark.parametrize("kw, key", [
    ({"temperature": 0}, "pixelcnn_temperature"), ({"temperature": float("nan")}, "pixelcnn_temperature"),
    ({"temperature": "hot"}, "pixelcnn_temperature"), ({"top_p": 0}, "pixelcnn_top_p"),
    ({"top_p": 1.5}, "pixelcnn_top_p"), ({"top_p": float("inf")}, "pixelcnn_top_p"),
    ({"top_k": -1}, "pixelcnn_top_k"), ({"top_k": 2.5}, "pixelcnn_top_k"), ({"top_k": 10**9}, "pixelcnn_top_k"),
])
def test_bad_knobs_are_refused_in_both_languages(kw, key):
    with pytest.raises(UserError) as err:
        check_knobs(**kw)
    assert err.value.key == key
    en, zh = str(err.value), err.value.localized("zh")
    assert en != zh and "{" not in en + zh


# --- the engine and the command line ----------------------------------------------------------------

@pytest.fixture(scope="module")
def tiny_checkpoint(tmp_path_factory):
    """A tiny class-conditional MNIST-sized PixelCNN trained from the command line (shapes data)."""
    out = tmp_path_factory.mktemp("pc") / "tiny-pixelcnn"
    cli.main(["train", "pixelcnn", "--dataset", "shapes", "--n-train", "64", "--n-test", "16", "--size", "16",
              "--steps", "6", "--batch-size", "8", "--width", "8", "--head", "8", "--layers", "3",
              "--first-kernel", "3", "--out", str(out), "--log-every", "2"])
    return out


def test_cli_trains_and_samples_npz_and_png(tiny_checkpoint, tmp_path, capsys):
    ckpt = checkpoint.load(tiny_checkpoint, expect_family="pixelcnn")
    assert ckpt.card["metrics"]["heldout_bits_per_dim"] > 0 and ckpt.config["num_classes"] == len(ckpt.card["class_names"]) > 1
    assert ckpt.aux["examples"].shape[1:] == (3, 16, 16)
    npz = tmp_path / "s.npz"
    cli.main(["sample", "--model", str(tiny_checkpoint), "--n", "3", "--seed", "1", "--label", "2",
              "--temperature", "0.8", "--top-k", "20", "--top-p", "0.9", "--out", str(npz)])
    got = np.load(npz)
    assert got["images"].shape == (3, 16, 16, 3) and got["images"].dtype == np.uint8
    assert (got["labels"] == 2).all()
    png = tmp_path / "s.png"
    cli.main(["sample", "--model", str(tiny_checkpoint), "--n", "4", "--out", str(png)])
    assert png.stat().st_size > 0
    assert cli.main(["sample", "--model", str(tiny_checkpoint), "--n", "2", "--top-p", "1.5", "--out", str(npz)]) != 0
    assert "Top-p" in capsys.readouterr().err


def test_engine_same_seed_same_images_and_completion_keeps_the_top(tiny_checkpoint):
    eng = Engine.load(tiny_checkpoint)
    a, la = eng.sample(2, 5, label="all")
    b, _ = eng.sample(2, 5, label="all")
    np.testing.assert_array_equal(a, b)
    assert list(la) == [0, 1]
    image = eng.examples()[0][0]
    frames = list(eng.complete(image, rows=9, n=3, seed=0))
    out = frames[-1].images
    assert frames[-1].done and out.shape == (3, 16, 16, 3)
    np.testing.assert_array_equal(out[:, :9], np.broadcast_to(image[:9], (3, 9, 16, 3)))
    assert (frames[-1].confidence[:, :9] == 1).all()
    assert len({o[9:].tobytes() for o in out}) > 1      # completions differ


@pytest.mark.parametrize("image", [np.zeros((28, 28, 3), np.uint8), np.zeros((16, 16, 1), np.uint8),
                                   np.zeros((16, 16, 3), np.float32), np.zeros((5,), np.uint8)])
def test_wrong_images_are_refused(tiny_checkpoint, image):
    eng = Engine.load(tiny_checkpoint)
    with pytest.raises(UserError) as err:
        eng.complete(image, rows=8, n=2, seed=0)
    assert err.value.key == "pixelcnn_image" and "16x16" in str(err.value)


@pytest.mark.parametrize("kw, key", [
    ({"n": 0}, "value_out_of_range"), ({"n": 10**6}, "value_out_of_range"), ({"seed": -1}, "value_out_of_range"),
    ({"label": 99}, "pixelcnn_label"), ({"label": "zebra"}, "pixelcnn_label"),
    ({"temperature": 0.0}, "pixelcnn_temperature"), ({"top_p": 0.0}, "pixelcnn_top_p"),
])
def test_hostile_sampling_values(tiny_checkpoint, kw, key):
    eng = Engine.load(tiny_checkpoint)
    args = {"n": 2, "seed": 0, **kw}
    with pytest.raises(UserError) as err:
        eng.stream(args.pop("n"), args.pop("seed"), **args)
    assert err.value.key == key


def test_nll_of_images_is_per_image_and_finite(tiny_checkpoint):
    eng = Engine.load(tiny_checkpoint)
    images, labels = eng.examples()
    nats = eng.nll(images[:4], labels[:4])
    assert nats.shape == (4,) and np.isfinite(nats).all() and (nats > 0).all()
    with pytest.raises(UserError):
        eng.nll(images[:4], None)     # a conditional model needs the labels


def test_draw_never_picks_a_value_of_probability_zero_and_follows_the_rest():
    from engines.pixelcnn.sampler import draw

    probs = torch.tensor([[0.0, 0.25, 0.0, 0.75, 0.0]]).repeat(4000, 1)
    got = draw(probs, torch.Generator().manual_seed(0))
    counts = torch.bincount(got, minlength=5)
    assert counts[[0, 2, 4]].sum() == 0
    assert abs(counts[3].item() / 4000 - 0.75) < 0.03


def test_without_labels_a_conditional_model_sums_them_out():
    m = model_of(tiny(image_size=4, layers=2, num_classes=3))
    x = torch.randint(0, 256, (2, 1, 4, 4), generator=torch.Generator().manual_seed(2))
    with torch.no_grad():
        per = torch.stack([nll(m, x, torch.full((2,), y)) for y in range(3)])      # (3, 2) nats
        hand = -torch.log(torch.exp(-per.double()).mean(0))
        torch.testing.assert_close(marginal_nll(m, x).double(), hand, atol=1e-3, rtol=1e-6)
        assert (per.min(0).values <= marginal_nll(m, x) + 1e-4).all()
        assert evaluate(m, x.float() / 255)["nll_nats"] == pytest.approx(float(hand.mean()), rel=1e-5)
