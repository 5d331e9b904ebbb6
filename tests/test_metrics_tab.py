"""The Metrics tab through its handlers, as the built app wires them (no server): the shipped 2-d
VAE (the fastest sampler), tiny N, fixed seeds; hostile numbers; a stopped run; two runs at once."""

from __future__ import annotations

import math
import re
from pathlib import Path

import gradio as gr
import numpy as np
import pytest

import app
from demo import metrics_tab
from demo.i18n_metrics import METRICS_STRINGS
from engines import metrics
from engines.errors import UserError
from tests.tab_fixtures import api_lookup

CJK = re.compile(r"[\u4e00-\u9fff]")
VAE = "vae/mnist-vae-z2"
FID = re.compile(r"\| mnist-vae-z2 \| ([0-9.]+) ± ([0-9.]+) \|")


@pytest.fixture(scope="module")
def api():
    from tests.conftest import ROOT, _has_mnist

    data = next((p for p in (ROOT.parent / "shared" / "data", Path("/work/shared/data")) if _has_mnist(p)), None)
    if data is None:
        pytest.skip("MNIST files not found")
    rounds, metrics_tab.ROUNDS = metrics_tab.ROUNDS, 3  # error bars from 3 bootstrap rounds: faster, still spread
    yield api_lookup(app.build_app(data_dir=data)), str(data)
    metrics_tab.ROUNDS = rounds


@pytest.fixture(scope="module")
def tables(api):
    """The seed-0 and seed-1 runs' final outputs, computed once."""
    return {seed: last(scores(api, seed=seed)) for seed in (0, 1)}


def numbers(table: str) -> list[str]:
    """The table without its timing column (ms / image differs from run to run)."""
    return [re.sub(r"\| [0-9.]+ \|$", "|", line) for line in table.splitlines()]


def last(gen):
    out = None
    for out in gen:
        pass
    return out


def scores(api, models=(VAE,), n=40, seed=0, steps=10, features="classifier", lang="en", dataset="mnist"):
    get, _ = api
    return get("metrics_scores")(lang, {}, list(models), n, seed, steps, features, dataset)


def test_whole_numbers_only():
    assert metrics_tab.whole(2000.0, "metrics_n_invalid", 20, 5000) == 2000
    for bad in (float("nan"), float("inf"), -5, 19, 5001, 1e300, 20.5, True, None, "2000x", [3]):
        with pytest.raises(UserError) as err:
            metrics_tab.whole(bad, "metrics_n_invalid", 20, 5000)
        assert "20" in str(err.value) and CJK.search(err.value.localized("zh"))


def test_scores_are_labelled_warned_and_repeatable(api, tables):
    status, table, samples = tables[0]
    assert "mnist-classifier (penultimate layer, 128 dims)" in table and "⚠️" in table  # 40 < 2,000
    assert "real vs real" in table and samples.shape[0] >= 28 and samples.std() > 10
    fid, std = map(float, FID.search(table).groups())
    assert math.isfinite(fid) and fid > 100 and std > 0  # blurry 2-d VAE digits are far from real ones
    other = float(FID.search(tables[1][1]).group(1))
    assert other != fid and abs(other - fid) < 0.5 * fid


def test_the_tab_scores_what_the_engine_scores(api, tables):
    _, data = api
    engine = metrics_tab.Catalogue().pick(VAE, {}, 10)
    images = None
    for _, images in metrics.sample_steps(engine.engine, engine.sample, 40, 0, {}, chunk=metrics_tab.CHUNK):
        pass
    direct = metrics.compare(None, images, rounds=0, real_features=metrics.heldout_features(data))
    assert float(FID.search(tables[0][1]).group(1)) == pytest.approx(direct["fid"], abs=0.11)


@pytest.mark.parametrize("field, value", [
    ("n", float("nan")), ("n", -5), ("n", 10**9), ("n", 20.5), ("seed", -1), ("seed", float("inf")),
    ("steps", 0), ("models", []), ("models", [VAE] * 5), ("models", ["vae/no-such-model"]),
    ("features", "clip"), ("features", "inception"), ("dataset", "shapes"), ("dataset", "faces"),
])
def test_hostile_inputs_get_a_message_in_both_languages(api, field, value):
    settings = {"models": [VAE], "n": 40, "seed": 0, "steps": 10, "features": "classifier", "dataset": "mnist",
                field: value}
    for lang in ("en", "zh"):
        with pytest.raises(gr.Error) as err:
            last(scores(api, **settings, lang=lang))
        message = str(err.value.message)
        assert len(message) > 15 and "went wrong" not in message and "出错" not in message
        assert bool(CJK.search(message)) == (lang == "zh")


def test_a_stopped_run_and_two_runs_at_once_break_nothing(api, tables):
    first = scores(api)
    for _ in range(3):
        next(first)
    first.close()  # Stop, or a closed page: between two steps
    runs, finals = {"a": scores(api), "b": scores(api, seed=1)}, {}
    while runs:  # two sessions' runs stepped in turn on the one compute thread
        for name, gen in list(runs.items()):
            try:
                finals[name] = next(gen)
            except StopIteration:
                del runs[name]
    assert numbers(finals["a"][1]) == numbers(tables[0][1]) and numbers(finals["b"][1]) == numbers(tables[1][1])


def test_fid_against_n_extrapolates_and_the_pitfall_moves_fid(api):
    get, _ = api
    status, summary, plot = last(get("metrics_curve")("en", {}, VAE, 200, 0, 10, "classifier", "mnist"))
    assert plot.ndim == 3 and plot.shape[1] > 800 and "infinite N" in summary
    status, table = last(get("metrics_pitfall")("zh", {}, VAE, 40, 0, 10, "classifier", "mnist"))
    deltas = [float(x) for x in re.findall(r"\(([+-][0-9.]+)\)", table)]
    assert len(deltas) == 4 and any(abs(x) > 0.05 for x in deltas) and CJK.search(table)


def test_the_trilemma_shows_the_committed_result(api):
    from types import SimpleNamespace

    found = metrics_tab.latest_trilemma()
    if found is None:
        pytest.skip("no committed trilemma result")
    path, data = found
    shown = metrics_tab.MetricsHandlers(metrics_tab.Catalogue()).trilemma("en", SimpleNamespace(live=[]))
    assert shown["chart"].ndim == 3 and path.name in shown["table"]
    for row in data["rows"]:
        assert row["label"] in shown["table"]
    assert "PSNR" in shown["table"]


def test_every_string_has_chinese_and_the_tab_is_in_the_app(api):
    get, _ = api
    for key, (en, zh) in METRICS_STRINGS.items():
        assert en and zh and (CJK.search(zh) or key.startswith("metrics.plot.") or en == zh), key
    for name in ("metrics_scores", "metrics_curve", "metrics_pitfall", "metrics_trilemma_live", "metrics_features",
                 "metrics_dataset"):
        assert name in get.fns, name
    assert app.TABS[-1] is metrics_tab.build


def test_choosing_inception_offline_says_so_at_once(api, monkeypatch):
    get, _ = api
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    said = get("metrics_features")("zh", {}, "inception", "mnist")
    assert said.startswith("⚠️") and "Inception" in said and CJK.search(said)
    assert "MNIST classifier (128 dims)" in get("metrics_features")("en", {}, "classifier", "mnist")


def test_the_data_set_switches_the_models_the_classifier_and_the_real_images(api):
    """Shapes chosen: the lists offer shapes models (the trilemma's stays MNIST), the shapes classifier
    is named in both languages, and a shapes model is scored against held-out shapes."""
    get, _ = api
    switched = get("metrics_dataset")("en", {}, [VAE], VAE, VAE, VAE, "classifier", "shapes")
    models, model, pit_model, tri_model, space = switched
    offered = {value for _, value in models["choices"]}
    assert "vae/shapes-vae-z16" in offered and "ddpm/shapes-ddpm" in offered and VAE not in offered
    assert models["value"] and set(models["value"]) <= offered and model["value"] in offered
    assert VAE in {value for _, value in tri_model["choices"]} and tri_model["value"] == VAE
    assert "shapes classifier (128 dims)" in space and "8 shapes" in space
    assert "shapes 分类器" in get("metrics_dataset")("zh", {}, [], None, None, None, "classifier", "shapes")[-1]
    back = get("metrics_dataset")("en", {}, models["value"], None, None, None, "classifier", "mnist")
    assert VAE in {value for _, value in back[0]["choices"]} and "MNIST classifier" in back[-1]
    status, table, samples = last(scores(api, models=("vae/shapes-vae-z16",), n=40, dataset="shapes"))
    assert "shapes-classifier (penultimate layer, 128 dims)" in table and "held-out shapes images" in table
    fid = float(re.search(r"\| shapes-vae-z16 \| ([0-9.]+) ± [0-9.]+ \|", table).group(1))
    floor = float(re.search(r"\| real vs real \(1,000 vs 1,000\) \| ([0-9.]+) \|", table).group(1))
    assert fid > 3 * floor and samples.std() > 10
