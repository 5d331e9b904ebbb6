"""The Inception-v3 feature space end to end without the network: randomly initialised weights of the
right architecture are put where torch-fidelity's loader looks for its downloaded file (torch hub's
checkpoints folder under TORCH_HOME), and everything that runs online runs unchanged: the offline
check, engines.downloads, torch hub's cache lookup, torch-fidelity's load_state_dict, the two-output
forward, and `python -m engines metrics --features inception` (sampling, real features, every metric,
every metric). Only the held-out set is made small (Inception is 5.7 GFLOP an image)."""

from __future__ import annotations

import json
import math
import os
from pathlib import Path
from urllib.parse import urlparse

import numpy as np
import pytest
import torch

from engines import metrics

KEY = "metrics-inception-v3"  # engines.metrics.features' download key


def random_weights(tfi) -> dict:
    """A state dict of torch-fidelity's Inception-v3, randomly initialised (seeded): the module built
    with its own download and loading switched off for the moment. He-initialised, so that the
    activations keep their scale through the 94 layers (torch's default init shrinks them to 1e-8,
    and every FID would round to 0)."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(tfi, "load_state_dict_from_url", lambda *a, **k: {})
        mp.setattr(tfi.FeatureExtractorInceptionV3, "load_state_dict", lambda self, *a, **k: None)
        torch.manual_seed(0)
        net = tfi.FeatureExtractorInceptionV3("inception-v3-compat", ["2048", "logits_unbiased"])
    for m in net.modules():
        if isinstance(m, (torch.nn.Conv2d, torch.nn.Linear)):
            torch.nn.init.kaiming_normal_(m.weight, nonlinearity="relu")
    return {k: v.clone() for k, v in net.state_dict().items()}


@pytest.fixture(scope="module")
def weights():
    return random_weights(pytest.importorskip("torch_fidelity.feature_extractor_inceptionv3"))


@pytest.fixture
def local_inception(weights, monkeypatch, tmp_path):
    """Online as far as GenLab can tell, the weights file already in torch hub's cache, and any
    download an error. Yields the weights written there."""
    tfi = pytest.importorskip("torch_fidelity.feature_extractor_inceptionv3")
    from engines import downloads
    from engines.metrics import evaluate, features

    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    cached = Path(torch.hub.get_dir()) / "checkpoints" / os.path.basename(urlparse(tfi.URL_INCEPTION_V3).path)
    cached.parent.mkdir(parents=True)
    torch.save(weights, cached)

    def no_download(url, *a, **k):
        raise AssertionError(f"tried to download {url}")

    monkeypatch.setattr(torch.hub, "download_url_to_file", no_download)
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.delenv("GENLAB_OFFLINE", raising=False)

    def forget():
        features._inception.cache_clear()
        evaluate.forget_heldout()
        downloads.forget(KEY)

    forget()
    try:
        yield weights
    finally:
        forget()  # neither the random network nor the small held-out set may stay cached


@pytest.mark.slow  # one FID in 2,048 dimensions: eigenvalues of a 2048 x 2048 matrix (15-90 s on the 2-core CPU)
def test_the_cli_scores_a_model_in_inception_features_with_local_weights(local_inception, monkeypatch, tmp_path):
    from engines import cli
    from engines.metrics import evaluate, features

    small = np.random.default_rng(1).integers(0, 256, (4, 28, 28, 1), dtype=np.uint8)  # a stand-in held-out set
    monkeypatch.setattr(evaluate, "heldout", lambda data_dir=None, dataset="mnist": small)
    out = tmp_path / "inception.json"
    assert cli.main(["metrics", "--model", "assets/mnist-vae-z2", "--n", "4", "--seed", "0",
                     "--features", "inception", "--rounds", "0", "--out", str(out)]) == 0
    result = json.loads(out.read_text())

    net = features._inception()  # what the CLI used, cached: the file's weights, loaded by torch-fidelity
    state = net.state_dict()
    assert set(state) == set(local_inception)
    assert all(torch.equal(state[k], v) for k, v in local_inception.items())
    assert result["features"] == "inception-v3 (pool3, 2048 dims)" and result["dataset"] == "mnist"
    assert result["n"] == 4 and result["n_real"] == 4 and "warning" in result
    assert result["is"]["note"] == "Inception Score from Inception-v3's logits"
    for value in (result["fid"], result["kid"]["mean"], result["precision"], result["recall"], result["is"]["mean"]):
        assert math.isfinite(value)
    assert result["fid"] > 0 and 1 <= result["is"]["mean"] <= 1008


def test_inception_features_are_the_networks_two_outputs(local_inception):
    from engines.metrics import features

    digits = np.random.default_rng(0).integers(0, 256, (2, 28, 28, 1), dtype=np.uint8)
    got = metrics.extract(digits, "inception")
    assert got.features.shape == (2, 2048) and got.logits.shape == (2, 1008)
    assert got.features.dtype == torch.float64 and torch.isfinite(got.features).all()
    x = torch.from_numpy(digits).permute(0, 3, 1, 2).expand(-1, 3, -1, -1).contiguous()
    with torch.inference_mode():
        pool, logits = features._inception()._torch_fidelity_forward(x)  # grey as RGB, uint8, resized inside
    torch.testing.assert_close(got.features, pool.double().reshape(2, -1))
    torch.testing.assert_close(got.logits, logits.double().reshape(2, -1))
    assert (got.features[0] - got.features[1]).abs().max() > 1e-6  # two images, two points (weights not dead)


def test_offline_inception_is_refused_at_once_before_any_network_is_built(local_inception, monkeypatch):
    import time

    from engines.errors import UserError
    from engines.metrics import features

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setattr(features, "_build_inception", lambda: pytest.fail("built Inception while offline"))
    started = time.perf_counter()
    with pytest.raises(UserError) as err:
        metrics.evaluate_model("assets/mnist-vae-z2", 4, features="inception")  # refused before sampling
    assert time.perf_counter() - started < 1.0
    assert err.value.key == "metrics_inception_offline" and "HF_HUB_OFFLINE" in str(err.value)
