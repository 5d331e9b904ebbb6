"""engines.metrics: FID, KID, IS and precision / recall against direct computations, and the
`python -m engines metrics` command on a shipped model."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import scipy.linalg
import torch

from engines import metrics
from engines.errors import UserError


def gaussians(n: int, m: int, d: int, shift: float = 0.5, seed: int = 0):
    g = torch.Generator().manual_seed(seed)
    real = torch.randn(n, d, generator=g, dtype=torch.float64)
    fake = torch.randn(m, d, generator=g, dtype=torch.float64) * 1.3 + shift
    return real, fake


def test_fid_matches_a_scipy_sqrtm_reference():
    real, fake = gaussians(300, 200, 8)
    r, f = real.numpy(), fake.numpy()
    mu1, mu2 = r.mean(0), f.mean(0)
    s1, s2 = np.cov(r, rowvar=False), np.cov(f, rowvar=False)
    covmean = scipy.linalg.sqrtm(s1 @ s2).real
    expected = float(((mu1 - mu2) ** 2).sum() + np.trace(s1 + s2 - 2 * covmean))
    assert metrics.fid(real, fake) == pytest.approx(expected, rel=1e-6, abs=1e-8)
    assert expected > 1.0  # the shift and the scale are seen


def test_kid_is_the_unbiased_cubic_mmd():
    real, fake = gaussians(60, 60, 5)
    d = real.shape[1]

    def k(a, b):  # (a.b / D + 1)^3
        return (a @ b.T / d + 1) ** 3

    def off_diagonal_mean(m):
        n = len(m)
        return (m.sum() - m.diagonal().sum()) / (n * (n - 1))

    expected = float(off_diagonal_mean(k(real, real)) + off_diagonal_mean(k(fake, fake)) - 2 * k(real, fake).mean())
    mean, std = metrics.kid(real, fake, subsets=3, subset_size=60)  # the whole sets, permuted: one value
    assert mean == pytest.approx(expected, rel=1e-9, abs=1e-9)
    assert std == pytest.approx(0.0, abs=1e-9)
    same = metrics.kid(real[:30], real[30:], subsets=5, subset_size=30)[0]
    assert abs(same) < expected / 5  # unbiased: near 0 between two halves of one sample


def test_precision_recall_match_a_brute_force_count():
    real, fake = gaussians(40, 30, 3, shift=0.8, seed=1)
    k = 3

    def radius(x, i):  # distance to the k-th nearest other point, by sorting
        return sorted(float(torch.dist(x[i], x[j])) for j in range(len(x)) if j != i)[k - 1]

    def inside(points, centres):
        radii = [radius(centres, i) for i in range(len(centres))]
        return np.mean([any(float(torch.dist(p, c)) <= r for c, r in zip(centres, radii)) for p in points])

    precision, recall = metrics.precision_recall(real, fake, k=k)
    assert precision == pytest.approx(inside(fake, real), abs=1e-9)
    assert recall == pytest.approx(inside(real, fake), abs=1e-9)
    assert 0 < precision < 1 and 0 < recall < 1  # the shift makes both partial
    assert metrics.precision_recall(real, real + 1e-9, k=k) == pytest.approx((1.0, 1.0))


def test_inception_score_closed_forms():
    uniform = torch.zeros(100, 10, dtype=torch.float64)
    assert metrics.inception_score(uniform, splits=2)[0] == pytest.approx(1.0, abs=1e-6)
    sure = torch.full((100, 10), -50.0, dtype=torch.float64)
    sure[torch.arange(100), torch.arange(100) % 10] = 50.0  # confident, every class equally often
    assert metrics.inception_score(sure, splits=1)[0] == pytest.approx(10.0, rel=1e-4)
    assert metrics.inception_score(sure, splits=2)[0] < 10.0  # a split's class marginal is not quite uniform


def test_fid_vs_n_extrapolates_toward_the_infinite_sample_value():
    real, fake = gaussians(2000, 2000, 16, shift=0.0, seed=2)  # same distribution: FID_inf ~ 0
    fake = fake / 1.3
    curve = metrics.fid_vs_n(real, fake, [50, 100, 200, 500, 1000, 2000], repeats=2)
    assert curve["fid"][0] > curve["fid"][-1] > 0  # the bias shrinks with N
    assert abs(curve["fid_infinity"]) < curve["fid"][-1] / 2
    assert curve["slope"] > 0


def test_bootstrap_is_seeded_and_positive():
    real, fake = gaussians(100, 100, 4)
    a = metrics.bootstrap(metrics.fid, real, fake, rounds=5, seed=3)
    assert a[0] > 0 and np.array_equal(a, metrics.bootstrap(metrics.fid, real, fake, rounds=5, seed=3))


def test_inception_offline_fails_at_once_in_both_languages(monkeypatch):
    from engines.metrics import features

    features._inception.cache_clear()
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(UserError) as err:
        metrics.extract(np.zeros((2, 28, 28), np.uint8), "inception")
    assert err.value.key == "metrics_inception_offline" and "Inception" in str(err.value)
    assert "分类器" in err.value.localized("zh")
    with pytest.raises(UserError):
        metrics.extract(np.zeros((2, 28, 28), np.uint8), "clip")


def test_classifier_ranks_real_digits_above_a_vae_and_the_cli_writes_json(mnist_dir, tmp_path):
    from engines import cli

    real = metrics.heldout(str(mnist_dir))
    assert real.shape == (2000, 28, 28, 1) and real.dtype == np.uint8
    floor = metrics.real_floor(real[:600])
    out = tmp_path / "m.json"
    assert cli.main(["metrics", "--model", "assets/mnist-vae-z2", "--n", "300", "--seed", "0", "--rounds", "2",
                     "--data-dir", str(mnist_dir), "--out", str(out)]) == 0
    result = json.loads(out.read_text())
    assert result["features"] == "mnist-classifier (penultimate layer, 128 dims)" == floor["features"]
    assert result["n"] == 300 and result["n_real"] == 2000 and "warning" in result
    for key in ("fid", "precision", "recall"):
        assert math.isfinite(result[key])
    assert result["fid"] > 2 * floor["fid"]  # a 2-d latent VAE's blurry digits are far from real ones
    assert floor["precision"] > result["precision"]
    assert set(result["kid"]) == {"mean", "std"} and set(result["timings"]) == {"sample_s", "eval_s"}
    assert 1 < result["is"]["mean"] <= 10 and result["bootstrap"]["fid_std"] > 0


def test_the_shipped_classifier_is_no_model_in_the_asset_list():
    from engines import checkpoint
    from engines.metrics.features import CLASSIFIER_DIR

    assert CLASSIFIER_DIR.parent == checkpoint.ASSETS_DIR and (CLASSIFIER_DIR / "model.safetensors").is_file()
    assert CLASSIFIER_DIR.name not in checkpoint.list_assets() and "mnist-vae-z16" in checkpoint.list_assets()


def test_the_benchmark_classifier_features_are_the_engines():
    from benchmarks import classifier as clf

    digits = np.random.default_rng(0).integers(0, 256, (8, 28, 28), dtype=np.uint8)
    np.testing.assert_allclose(clf.features(digits, model=clf.load_classifier(device=torch.device("cpu"))),
                               metrics.extract(digits).features.numpy(), rtol=1e-5, atol=1e-5)


def test_inception_features_shapes_with_stub_weights(monkeypatch):
    """The online path without the network: torch-fidelity's Inception-v3 with its download and
    weight loading stubbed (random weights), read for its two outputs."""
    pytest.importorskip("torch_fidelity")
    import torch_fidelity.feature_extractor_inceptionv3 as tfi

    from engines import downloads
    from engines.metrics import features

    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.delenv("GENLAB_OFFLINE", raising=False)
    monkeypatch.setattr(tfi, "load_state_dict_from_url", lambda *a, **k: {})
    monkeypatch.setattr(tfi.FeatureExtractorInceptionV3, "load_state_dict", lambda self, *a, **k: None)
    features._inception.cache_clear()
    try:
        torch.manual_seed(0)
        got = metrics.extract(np.random.default_rng(0).integers(0, 256, (3, 28, 28, 1), dtype=np.uint8), "inception")
    finally:
        features._inception.cache_clear()
        downloads.forget("metrics-inception-v3")  # the stub must not stay as the downloaded network
    assert got.features.shape == (3, 2048) and got.logits.shape == (3, 1008)
    assert got.space == "inception-v3 (pool3, 2048 dims)" and torch.isfinite(got.features).all()


def test_a_shapes_model_is_scored_in_the_shapes_classifier_against_held_out_shapes(tmp_path):
    """The CLI reads the data set from the model's card: the shapes VAE against the shapes test
    stream, in the shapes classifier's features, IS from its shape head (at most 8)."""
    from engines import cli
    from engines.data import load_dataset

    real = metrics.heldout(None, "shapes")
    test = load_dataset("shapes", "test", n=4)
    assert real.shape == (2000, 32, 32, 3) and np.array_equal(real[:4], test.numpy_hwc())  # held out, not train
    assert not np.array_equal(real[:4], load_dataset("shapes", "train", n=4).numpy_hwc())
    out = tmp_path / "s.json"
    assert cli.main(["metrics", "--model", "assets/shapes-vae-z16", "--n", "120", "--seed", "0", "--rounds", "0",
                     "--out", str(out)]) == 0
    result = json.loads(out.read_text())
    assert result["dataset"] == "shapes" and result["features"] == "shapes-classifier (penultimate layer, 128 dims)"
    assert result["n"] == 120 and result["n_real"] == 2000 and "test stream" in result["real"]
    assert 1 < result["is"]["mean"] <= 8 and "shape head" in result["is"]["note"]
    floor = metrics.real_floor(real[:240], dataset="shapes")
    assert floor["features"] == result["features"] and result["fid"] > 3 * floor["fid"]  # blurry VAE shapes
    images = metrics.sample_model("assets/shapes-vae-z16", 120, 0)[0]
    again = metrics.compare(None, images, rounds=0, dataset="shapes",
                            real_features=metrics.heldout_features(None, "classifier", "shapes"))
    assert again["fid"] == pytest.approx(result["fid"], rel=1e-6)  # fixed seed: the same number


def test_a_model_is_scored_only_on_its_own_data_set(capsys):
    from engines import cli

    # refused before any sampling, with a message and exit status 2
    assert cli.main(["metrics", "--model", "assets/shapes-vae-z16", "--data", "mnist", "--n", "20"]) == 2
    said = capsys.readouterr()
    assert "'assets/shapes-vae-z16' was trained on 'shapes', not 'mnist'" in said.out + said.err
    with pytest.raises(UserError) as err:
        metrics.evaluate_model("assets/faces-stylegan", 20)
    assert err.value.key == "metrics_dataset_unknown" and "mnist, shapes" in str(err.value)
    assert "数据集" in err.value.localized("zh")


def test_the_shapes_classifier_ships_with_the_app_and_the_benchmarks_use_it():
    from benchmarks import shapes_attributes
    from engines import checkpoint
    from engines.metrics import shapes_classifier

    folder = shapes_classifier.CLASSIFIER_DIR
    assert folder.parent == checkpoint.ASSETS_DIR and (folder / "model.safetensors").is_file()
    assert folder.name not in checkpoint.list_assets() and shapes_attributes.default is shapes_classifier.default
    model = shapes_classifier.default()
    x = torch.from_numpy(metrics.heldout(None, "shapes")[:16]).permute(0, 3, 1, 2).float() / 255
    got = metrics.extract(metrics.heldout(None, "shapes")[:16], dataset="shapes")
    with torch.no_grad():
        shape_logits = model(x)["shape"].double()
    torch.testing.assert_close(got.logits, shape_logits, rtol=1e-5, atol=1e-4)  # IS reads the shape head
    assert got.features.shape == (16, 128) and (got.features >= 0).all()
