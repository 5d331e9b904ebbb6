"""benchmarks.classifier: the Frechet distance against its closed forms, and the shipped classifier."""

from __future__ import annotations

import pickle

import numpy as np
import pytest
import torch

from benchmarks import classifier as clf
from engines.errors import UserError


def random_cov(rng, d: int) -> np.ndarray:
    a = rng.standard_normal((d, d))
    return a @ a.T / d + 0.1 * np.eye(d)


def test_fd_is_zero_for_identical_gaussians():
    rng = np.random.default_rng(0)
    mu, s = rng.standard_normal(6), random_cov(rng, 6)
    assert clf.frechet_distance(mu, s, mu, s) == pytest.approx(0.0, abs=1e-9)


def test_fd_is_the_squared_mean_gap_for_equal_covariances():
    rng = np.random.default_rng(1)
    mu1, mu2, s = rng.standard_normal(5), rng.standard_normal(5), random_cov(rng, 5)
    assert clf.frechet_distance(mu1, s, mu2, s) == pytest.approx(float(((mu1 - mu2) ** 2).sum()), abs=1e-9)


def test_fd_matches_the_1d_closed_form():
    # N(m1, s1^2) vs N(m2, s2^2): (m1 - m2)^2 + (s1 - s2)^2
    m1, s1, m2, s2 = 0.5, 2.0, -1.0, 0.5
    assert clf.frechet_distance([m1], [[s1**2]], [m2], [[s2**2]]) == pytest.approx((m1 - m2) ** 2 + (s1 - s2) ** 2)
    assert clf.frechet_distance(m1, s1**2, m2, s2**2) == pytest.approx((m1 - m2) ** 2 + (s1 - s2) ** 2)


def test_fd_matches_the_diagonal_closed_form():
    a, b = np.array([1.0, 4.0, 0.25, 9.0]), np.array([4.0, 1.0, 0.25, 0.0])  # variances; one is singular
    mu1, mu2 = np.array([0.0, 1.0, 2.0, 3.0]), np.array([1.0, 1.0, 0.0, 3.0])
    expected = ((mu1 - mu2) ** 2).sum() + ((np.sqrt(a) - np.sqrt(b)) ** 2).sum()
    assert clf.frechet_distance(mu1, np.diag(a), mu2, np.diag(b)) == pytest.approx(expected)


def test_fd_is_symmetric_and_matches_sqrtm_for_full_covariances():
    rng = np.random.default_rng(2)
    mu1, mu2 = rng.standard_normal(8), rng.standard_normal(8)
    s1, s2 = random_cov(rng, 8), random_cov(rng, 8)
    d12, d21 = clf.frechet_distance(mu1, s1, mu2, s2), clf.frechet_distance(mu2, s2, mu1, s1)
    assert d12 == pytest.approx(d21, rel=1e-9)
    linalg = pytest.importorskip("scipy.linalg")
    covmean = linalg.sqrtm(s1 @ s2).real
    expected = ((mu1 - mu2) ** 2).sum() + np.trace(s1 + s2 - 2 * covmean)
    assert d12 == pytest.approx(expected, rel=1e-7)


def test_feature_stats_are_mean_and_unbiased_covariance():
    f = np.array([[0.0, 1.0], [2.0, 1.0], [4.0, 4.0]])
    mu, sigma = clf.feature_stats(f)
    np.testing.assert_allclose(mu, [2.0, 2.0])
    np.testing.assert_allclose(sigma, [[4.0, 3.0], [3.0, 3.0]])


def test_classify_shapes_for_uint8_hwc_and_float_input():
    model = clf.Classifier(clf.Config()).eval()
    images = np.random.default_rng(0).integers(0, 256, (5, 28, 28, 1), dtype=np.uint8)
    for batch in (images, images[..., 0], torch.from_numpy(images).permute(0, 3, 1, 2).float() / 255):
        pred, prob = clf.classify(batch, model=model)
        assert pred.shape == (5,) and prob.shape == (5,)
        assert pred.dtype == np.int64 and ((pred >= 0) & (pred <= 9)).all()
        assert ((prob >= 0.1 - 1e-6) & (prob <= 1)).all()  # the max of 10 probabilities is >= 1/10
    assert clf.features(images, model=model).shape == (5, 128)


def test_shipped_classifier_reads_real_heldout_digits(mnist_dir):
    from engines.data import load_dataset

    test = load_dataset("mnist", "test", data_dir=mnist_dir, n=32)
    model = clf.load_classifier()
    pred, prob = clf.classify(test.numpy_hwc(), model=model)
    assert (pred == test.labels.numpy()).mean() >= 30 / 32
    assert np.median(prob) > 0.9


def test_load_refuses_pickles_without_opening_them(tmp_path, monkeypatch):
    path = tmp_path / "model.pt"
    torch.save({"w": torch.zeros(1)}, path)

    def refuse(*args, **kwargs):
        raise AssertionError("a pickle was opened")

    monkeypatch.setattr(torch, "load", refuse)
    monkeypatch.setattr(pickle, "load", refuse)
    with pytest.raises(UserError) as info:
        clf.load_classifier(path)
    assert info.value.key == "checkpoint_pickle"
    # A folder with a pickle but no model.safetensors is missing its weights.
    folder = tmp_path / "ckpt"
    folder.mkdir()
    (folder / "config.json").write_text("{}")
    path.rename(folder / "model.pt")
    with pytest.raises(UserError) as info:
        clf.load_classifier(folder)
    assert info.value.key == "checkpoint_missing_file"


def test_save_and_load_round_trip(tmp_path):
    config = clf.Config(widths=(4, 8), features=16)
    torch.manual_seed(0)
    model = clf.Classifier(config).eval()
    clf.save_classifier(tmp_path / "c", model, config, {"name": "tiny"})
    loaded = clf.load_classifier(tmp_path / "c", device=torch.device("cpu"))
    x = torch.rand(3, 1, 28, 28)
    with torch.no_grad():
        torch.testing.assert_close(loaded(x), model(x))
    assert loaded.features(x).shape == (3, 16)


def test_fd_floor_is_small_next_to_noise(mnist_dir):
    floor = clf.real_vs_real_floor(mnist_dir)
    noise = np.random.default_rng(0).integers(0, 256, (500, 28, 28), dtype=np.uint8)
    assert 0 < floor < 0.2 * clf.fd_against_heldout(noise, mnist_dir)
    assert len(clf.score_samples(noise[:10])["class_histogram"]) == 10
