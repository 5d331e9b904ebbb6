"""demo/ae_compare.py: the VAE tab's "Autoencoder vs VAE" part, its handlers called in-process on
the shipped 2-D autoencoder and VAE, and its wiring in the built app."""

from __future__ import annotations

import re
from types import SimpleNamespace

import numpy as np
import pytest

from demo import ae_compare, ae_plots
from demo.common import Models
from demo.i18n import t
from engines import checkpoint

SIDES = tuple(ae_compare.MODELS)
OUTPUTS = {f"{side}_{part}" for side in SIDES for part in ("samples", "score", "map", "grid")}


@pytest.fixture(scope="module")
def handlers():
    return ae_compare.AeCompareHandlers(Models("vae"))


def _mean(text: str) -> int:
    return int(re.search(r"(\d+)%", text).group(1))


def test_the_same_draws_go_through_both_decoders(handlers):
    out = handlers.compare("en", SimpleNamespace(seed=0))
    assert set(out) == OUTPUTS
    for side in SIDES:
        assert out[f"{side}_samples"].ndim == 2 and out[f"{side}_samples"].shape[0] >= 4 * 28
        assert out[f"{side}_map"].shape == (500, 500, 3) and out[f"{side}_grid"].ndim == 2
        assert "16" in out[f"{side}_score"]
    # Each line is the classifier's verdict on the 16 draws decoded by that model.
    z = handlers._engines()["variational"].prior_sample(16, 0)
    for side, eng in handlers._engines().items():
        k, p = ae_compare.confidence(eng.decode(z))
        assert out[f"{side}_score"] == t("ae.score", "en", classes=len(set(k.tolist())), mean=float(p.mean()),
                                         sure=int((p >= 0.9).sum()), n=16)
    assert _mean(out["variational_score"]) > _mean(out["plain_score"]), (out["plain_score"], out["variational_score"])
    again = handlers.compare("en", SimpleNamespace(seed=0))
    assert all(np.array_equal(out[k], again[k]) for k in OUTPUTS if not k.endswith("score"))  # same seed, same pictures


def test_resample_moves_to_the_next_seed_and_new_draws(handlers):
    first = handlers.compare("en", SimpleNamespace(seed=7))
    out = handlers.resample("en", SimpleNamespace(seed=7))
    assert out["seed"] == 8
    assert not np.array_equal(out["variational_samples"], first["variational_samples"])
    assert np.array_equal(out["variational_samples"], handlers.compare("en", SimpleNamespace(seed=8))["variational_samples"])
    # The draws are marked on the cached map: the pictures differ only where the crosses are.
    diff = np.any(out["plain_map"] != first["plain_map"], axis=2)
    assert 0 < diff.mean() < 0.05


def test_the_score_follows_the_language(handlers):
    zh = handlers.compare("zh", SimpleNamespace(seed=0))
    assert "分类器" in zh["plain_score"] and "classifier" in handlers.compare("en", SimpleNamespace(seed=0))["plain_score"]


def test_each_map_spans_its_codes_and_the_prior():
    assert ae_plots.map_limit(np.zeros((0, 2))) == 3.5
    assert ae_plots.map_limit(np.random.default_rng(0).normal(size=(500, 2))) == 3.5
    far = np.tile([[12.2, -3.0]], (100, 1))
    assert ae_plots.map_limit(far) == 12.5
    picture, geom = ae_plots.latent_map(far, np.zeros(100, int), 12.5, "t")
    x, y = geom.to_px(0.0, 0.0)
    assert abs(x - (geom.left + geom.right) / 2) < 1 and abs(y - (geom.top + geom.bottom) / 2) < 1
    marked = ae_plots.mark_samples(picture, geom, np.array([[0.0, 0.0], [99.0, 0.0]]))  # the second is off the map
    changed = np.argwhere(np.any(marked != picture, axis=2))
    assert len(changed) and np.abs(changed[:, 1] - x).max() <= 8 and np.abs(changed[:, 0] - y).max() <= 8


def test_confidence_is_high_on_real_digits_and_low_on_blank_ones():
    engine = Models("vae").engine("mnist-vae-z2", None)
    digits, labels = engine.examples()
    k, p = ae_compare.confidence(digits)
    assert (k == labels).mean() > 0.9 and p.mean() > 0.9
    _, p_blank = ae_compare.confidence(np.zeros((4, 28, 28, 1), np.uint8))
    assert p_blank.mean() < 0.9


def test_the_part_is_a_vae_sub_tab_that_starts_when_first_selected():
    import gradio as gr

    import app
    from tests.tab_fixtures import api_lookup

    demo = app.build_app(lang="en")
    fns = api_lookup(demo).fns
    assert {"vae_ae_compare", "vae_ae_resample"} <= set(fns)
    blocks = {b.elem_id: b for b in demo.blocks.values() if getattr(b, "elem_id", None)}
    sub = blocks["vae-tab-ae"]
    assert isinstance(sub, gr.Tab) and blocks["vae-subtabs"] is not None
    flag = blocks["vae-tab-ae-opened"]  # its own opening flag: nothing runs for it at page load
    starts = [d for d in demo.fns.values() if (flag._id, "change") in [tuple(t) for t in d.targets]]
    assert len(starts) == 1 and starts[0].fn.__name__ == "compare"
    assert "mnist-ae-z2" in checkpoint.list_assets("vae")
