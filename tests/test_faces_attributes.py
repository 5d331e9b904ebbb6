"""The faces attribute regressor and `layer_effects` (engines.stylegan.attributes)."""

from __future__ import annotations

import math
from typing import ClassVar

import numpy as np
import pytest
import torch

from engines import checkpoint, stylegan
from engines.data import FACE_ATTRIBUTES, attribute_targets, load_dataset
from engines.stylegan import attributes as fa
from engines.train import TrainConfig, Trainer


def tiny_config(**kw) -> fa.Config:
    return fa.Config(**{"image_size": 16, "widths": (4, 6), "hidden": 8, **kw})


def tiny_net(seed: int = 0, **kw) -> fa.AttributeNet:
    torch.manual_seed(seed)
    return fa.build(tiny_config(**kw)).eval()


# --- names ---------------------------------------------------------------------------------------


def test_names_and_descriptions():
    assert fa.ATTRIBUTE_NAMES == tuple(FACE_ATTRIBUTES)
    assert fa.describe("head_shape", "zh") == "脸型" and fa.describe("head_shape", "en") == "head shape"
    assert all(fa.describe(n, "zh") == FACE_ATTRIBUTES[n]["zh"] for n in fa.ATTRIBUTE_NAMES)
    assert fa.describe("grain") == "grain" and fa.describe_group("fine", "zh") == "细调层（精细层）"


# --- the regressor -------------------------------------------------------------------------------


def test_targets_matrix_matches_attribute_targets():
    attrs = load_dataset("faces", "test", n=8, size=16).attrs
    y, t = fa.targets_matrix(attrs), attribute_targets(attrs)
    assert y.shape == (8, len(fa.ATTRIBUTE_NAMES)) and y.dtype == torch.float32
    for j, name in enumerate(fa.ATTRIBUTE_NAMES):
        np.testing.assert_array_equal(y[:, j].numpy(), t[name].astype(np.float32))


def test_loss_against_a_hand_computation():
    config = tiny_config(regression_weight=3.0)
    model = tiny_net().train()
    gen = torch.Generator().manual_seed(1)
    x = torch.randint(0, 256, (3, 3, 16, 16), dtype=torch.uint8, generator=gen)
    attrs = load_dataset("faces", "test", n=3, size=16).attrs
    y = fa.targets_matrix(attrs)
    loss, logs = fa.make_loss(config)(model, {"x": x, "y": y}, gen, 0)

    logits = model(x.float() / 255).detach().double()
    expected, offset = 0.0, 0
    for j, name in enumerate(fa.ATTRIBUTE_NAMES):
        spec = FACE_ATTRIBUTES[name]
        if spec["kind"] == "categorical":
            k = len(spec["values"])
            block = logits[:, offset:offset + k]
            ce = [math.log(sum(math.exp(v) for v in row)) - row[int(c)] for row, c in
                  zip(block.tolist(), y[:, j].tolist())]
            term = sum(ce) / len(ce)
            offset += k
        else:
            p = [1 / (1 + math.exp(-v)) for v in logits[:, offset].tolist()]
            term = 3.0 * sum((a - b) ** 2 for a, b in zip(p, y[:, j].tolist())) / len(p)
            offset += 1
        assert logs[name].item() == pytest.approx(term / (3.0 if spec["kind"] == "continuous" else 1.0), rel=1e-4)
        expected += term
    assert offset == logits.shape[1]
    assert loss.item() == pytest.approx(expected, rel=1e-5)


def test_predict_shapes_and_kinds():
    model = tiny_net()
    images = np.random.default_rng(0).integers(0, 256, (5, 16, 16, 3), dtype=np.uint8)
    pred = model.predict(images, batch=2)
    assert list(pred) == list(fa.ATTRIBUTE_NAMES)
    for name, value in pred.items():
        assert value.shape == (5,)
        if FACE_ATTRIBUTES[name]["kind"] == "categorical":
            assert value.dtype == np.int64 and 0 <= value.min() and value.max() < len(FACE_ATTRIBUTES[name]["values"])
        else:
            assert 0 <= value.min() and value.max() <= 1
    again = model.predict(images)
    assert all(np.array_equal(again[k], pred[k]) for k in pred)


def test_checkpoint_round_trip(tmp_path):
    model = tiny_net(seed=3)
    out = checkpoint.save(tmp_path / "fa", family=fa.FAMILY, config=model.config, model=model, card={"name": "fa"})
    loaded = fa.load(out)
    assert loaded.config == model.config
    images = np.random.default_rng(1).integers(0, 256, (4, 16, 16, 3), dtype=np.uint8)
    a, b = model.predict(images), loaded.predict(images)
    assert all(np.allclose(a[k], b[k]) for k in a)


def test_config_from_dict_and_validation():
    assert fa.Config.from_dict({"widths": [8, 16], "image_size": 32}) == fa.Config(widths=(8, 16), image_size=32)
    with pytest.raises(ValueError):
        fa.Config(image_size=16, widths=(4, 4, 4, 4, 4)).validate()


def test_a_short_training_run_lowers_the_loss():
    data = load_dataset("faces", "train", n=64, size=16)
    model = tiny_net(seed=0)
    trainer = Trainer(model, fa.make_loss(model.config), data.images, TrainConfig(steps=30, batch_size=32, lr=1e-2, log_every=1),
                      labels=fa.targets_matrix(data.attrs), device=torch.device("cpu"))
    events = list(trainer.run())
    assert events[-1].kind == "done"
    losses = [h["loss"] for h in trainer.history]
    assert np.mean(losses[-5:]) < 0.8 * np.mean(losses[:3])


def test_shipped_regressor_if_present():
    reg = fa.load_default()
    if reg is None:
        pytest.skip("assets/faces-attributes not trained yet")
    assert (fa.DEFAULT_DIR / "model.safetensors").stat().st_size < 2 * 2**20
    card = reg.card
    assert card["family"] == fa.FAMILY and card["storage_dtype"] == "float16"
    for key in ("dataset", "split", "steps", "wall_time_s", "hardware", "metrics", "command"):
        assert key in card
    assert set(card["metrics"]["accuracy"]) == {n for n in fa.ATTRIBUTE_NAMES if fa.KINDS[n] == "categorical"}
    assert set(card["metrics"]["mae"]) == {n for n in fa.ATTRIBUTE_NAMES if fa.KINDS[n] == "continuous"}
    assert fa.load_default() is reg


# --- transfer and layer_effects ------------------------------------------------------------------


def test_transfer_by_hand():
    a, b = np.array([0, 1, 2, 3]), np.array([0, 2, 2, 0])
    # pairs 1 and 3 differ; the mix has B's class in both, then in one of them
    assert fa.transfer("categorical", a, b, np.array([1, 2, 0, 0])) == 1.0
    assert fa.transfer("categorical", a, b, np.array([1, 2, 0, 3])) == 0.5
    assert math.isnan(fa.transfer("categorical", a, a, b))
    a, b = np.array([0.0, 0.0]), np.array([1.0, 2.0])
    assert fa.transfer("continuous", a, b, np.array([0.5, 0.5])) == pytest.approx(1 / 3)
    assert fa.transfer("continuous", a, b, np.array([3.0, 3.0])) == 1.0  # overshoot is capped
    assert math.isnan(fa.transfer("continuous", a, a, b))


class FakeEngine:
    """Layer k < 3 paints channel k from its w's first number; layer 3 paints nothing."""

    num_ws, w_dim = 4, 2
    layer_groups: ClassVar[dict] = {"coarse": [0], "middle": [1, 2], "fine": [3]}

    def mapping(self, seeds, psi=1.0):
        return np.stack([np.random.default_rng(int(s)).normal(size=self.w_dim) for s in seeds]).astype(np.float32)

    def synthesize(self, ws, noise_mode="const"):
        ws = np.asarray(ws)
        img = np.clip(128 + 60 * ws[:, :3, 0], 0, 255).round().astype(np.uint8)   # (N, 3)
        return np.broadcast_to(img[:, None, None, :], (len(ws), 2, 2, 3)).copy()


class FakeRegressor:
    """Attributes that are known functions of the image."""

    kinds: ClassVar[dict] = {"red": "continuous", "green_high": "categorical", "blue": "continuous", "always": "categorical"}

    def predict(self, images):
        mean = images.reshape(len(images), -1, 3).mean(1) / 255   # (N, 3)
        return {"red": mean[:, 0], "green_high": (mean[:, 1] > 0.5).astype(np.int64), "blue": mean[:, 2],
                "always": np.zeros(len(images), np.int64)}


def test_layer_effects_with_known_functions():
    result = fa.layer_effects(FakeEngine(), FakeRegressor(), n=32, seed=5)
    assert result["groups"] == ["coarse", "middle", "fine"] and result["attributes"] == list(FakeRegressor.kinds)
    assert result["group_layers"] == FakeEngine.layer_groups
    assert result["attribute_groups"] == [None] * 4 and result["n"] == 32 and result["seed"] == 5
    nan = np.nan
    np.testing.assert_array_equal(result["effect"], [[1, 0, 0, nan], [0, 1, 1, nan], [0, 0, 0, nan]])
    np.testing.assert_array_equal(result["per_layer"], [[1, 0, 0, nan], [0, 1, 0, nan], [0, 0, 1, nan], [0, 0, 0, nan]])
    assert 0 < result["pairs_differing"]["green_high"] < 32 and result["pairs_differing"]["always"] == 0
    again = fa.layer_effects(FakeEngine(), FakeRegressor(), n=32, seed=5, groups=["middle"], per_layer=False)
    np.testing.assert_array_equal(again["effect"], result["effect"][1:2])
    assert again["per_layer"] is None
    other = fa.layer_effects(FakeEngine(), FakeRegressor(), n=32, seed=6)
    assert other["pairs_differing"] != result["pairs_differing"] or not np.array_equal(other["effect"], result["effect"])


@pytest.fixture(scope="module")
def tiny_stylegan(tmp_path_factory):
    out = tmp_path_factory.mktemp("sg") / "tiny-stylegan"
    config = stylegan.Config(image_size=16, channels=3, z_dim=16, w_dim=16, mapping_layers=2, channel_base=64,
                             channel_max=16)
    torch.manual_seed(0)
    checkpoint.save(out, family="stylegan", config=config, model=stylegan.build(config).eval(), card={"name": "tiny"})
    return stylegan.Engine.load(out, device=torch.device("cpu"))


class ColourRegressor:
    """Mean colour classes and values of a real generator's images."""

    kinds: ClassVar[dict] = {"red_high": "categorical", "green": "continuous", "dark": "categorical"}

    def predict(self, images):
        mean = images.reshape(len(images), -1, images.shape[-1]).mean(1) / 255
        return {"red_high": (mean[:, 0] * 8).astype(np.int64), "green": mean[:, 1], "dark": (mean.mean(1) * 6).astype(np.int64)}


def test_all_layers_from_b_is_one_and_none_is_zero(tiny_stylegan):
    engine = tiny_stylegan
    groups = {"all": list(range(engine.num_ws)), "none": [], "coarse": engine.layer_groups["coarse"]}
    result = fa.layer_effects(engine, ColourRegressor(), n=24, seed=0, groups=groups)
    effect = result["effect"]
    assert effect.shape == (3, 3) and result["per_layer"].shape == (engine.num_ws, 3)
    differ = [k for k, v in result["pairs_differing"].items() if v > 0] + ["green"]
    cols = [result["attributes"].index(k) for k in differ]
    np.testing.assert_array_equal(effect[0, cols], 1.0)
    np.testing.assert_array_equal(effect[1, cols], 0.0)
    finite = effect[np.isfinite(effect)]
    assert ((0 <= finite) & (finite <= 1)).all()


def test_layer_effects_mixes_like_the_engine(tiny_stylegan):
    engine = tiny_stylegan
    w = engine.mapping([3, 4])
    ws_a, ws_b = engine.broadcast(w[:1]), engine.broadcast(w[1:])
    got = fa._mix_images(engine, ws_a, ws_b, engine.layer_groups["fine"])
    np.testing.assert_array_equal(got[0], engine.mix([3], [4], ["fine"])[0, 0])


def test_layer_effects_checks_its_arguments(tiny_stylegan):
    with pytest.raises(ValueError):
        fa.layer_effects(tiny_stylegan, ColourRegressor(), n=0)
    with pytest.raises(ValueError):
        fa.layer_effects(tiny_stylegan, ColourRegressor(), n=4, groups={"bad": [99]})
    with pytest.raises(ValueError):
        fa.layer_effects(tiny_stylegan, ColourRegressor(), n=4, groups=["coarse", "everything"])


def test_results_are_cached_and_stored_results_match(tiny_stylegan, tmp_path, monkeypatch):
    engine = tiny_stylegan
    out = checkpoint.save(tmp_path / "fa", family=fa.FAMILY, config=tiny_config(), model=tiny_net(seed=2),
                          card={"name": "fa"})
    reg = fa.load(out)
    live = fa.layer_effects(engine, reg, n=6, seed=1, cached=False)
    first = fa.layer_effects(engine, reg, n=6, seed=1)
    first["effect"][:] = -1   # a caller's changes do not reach the cache
    again = fa.layer_effects(engine, reg, n=6, seed=1)
    np.testing.assert_array_equal(again["effect"], live["effect"])
    monkeypatch.setattr(fa, "PRECOMPUTED", tmp_path / "effects.json")
    fa.precompute(engine, reg, [{"n": 6, "seed": 1}], out=fa.PRECOMPUTED)
    stored = fa._precomputed(engine, reg, n=6, seed=1, group_layers=live["group_layers"], psi=1.0, per_layer=True)
    assert stored is not None and stored["groups"] == live["groups"]
    np.testing.assert_array_equal(stored["effect"], live["effect"])
    np.testing.assert_array_equal(stored["per_layer"], live["per_layer"])
    assert fa._precomputed(engine, reg, n=7, seed=1, group_layers=live["group_layers"], psi=1.0, per_layer=True) is None
    assert fa._precomputed(engine, tiny_net(), n=6, seed=1, group_layers=live["group_layers"], psi=1.0,
                           per_layer=True) is None  # a regressor without a file: never a stored result


def test_stored_results_travel_in_the_generators_card(tiny_stylegan, tmp_path, monkeypatch):
    """precompute writes into the generator's card.json; a copy of the two checkpoints elsewhere
    (another --assets-dir, an upload) finds the stored result without any other file."""
    import shutil

    monkeypatch.setattr(fa, "PRECOMPUTED", tmp_path / "absent.json")
    assets = tmp_path / "assets"
    shutil.copytree(tiny_stylegan.path, assets / "gen")
    checkpoint.save(assets / "reg", family=fa.FAMILY, config=tiny_config(), model=tiny_net(seed=2), card={"name": "r"})
    engine = stylegan.Engine.load(assets / "gen", device=torch.device("cpu"))
    reg = fa.load_default(assets)
    assert reg is not None and reg.path == assets / "reg"
    args = dict(n=6, seed=1, group_layers={g: list(v) for g, v in engine.layer_groups.items()}, psi=1.0,
                per_layer=True)
    assert fa._precomputed(engine, reg, **args) is None
    assert fa.precompute(engine, reg, [{"n": 6, "seed": 1}]) == assets / "gen" / "card.json"
    moved = tmp_path / "elsewhere"
    shutil.copytree(assets, moved)
    again = stylegan.Engine.load(moved / "gen", device=torch.device("cpu"))   # checkpoint.load accepts the card
    stored = fa._precomputed(again, fa.load(moved / "reg"), **args)
    assert stored is not None
    np.testing.assert_array_equal(stored["effect"], fa.layer_effects(engine, reg, n=6, seed=1, cached=False)["effect"])


def test_stored_results_follow_an_upload_and_no_file_sits_at_a_fixed_path(tiny_stylegan, tmp_path):
    """An uploaded generator (the zip the GAN tab's upload box takes) brings its stored result; the
    regressor is found among the assets folder given (the app's --assets-dir), else the shipped assets."""
    import shutil

    from tests.diffusion_fixtures import zip_checkpoint

    assert fa.PRECOMPUTED is None  # nothing is read from a fixed path beside the shipped regressor
    assert fa.find() == checkpoint.list_assets(fa.FAMILY).get("faces-attributes")
    assets = tmp_path / "assets"
    shutil.copytree(tiny_stylegan.path, assets / "gen")
    checkpoint.save(assets / "reg", family=fa.FAMILY, config=tiny_config(), model=tiny_net(seed=2), card={"name": "r"})
    engine = stylegan.Engine.load(assets / "gen", device=torch.device("cpu"))
    reg = fa.load_default(assets)
    fa.precompute(engine, reg, [{"n": 6, "seed": 1}])
    folder = checkpoint.unpack_upload([zip_checkpoint(assets / "gen", tmp_path / "gen.zip")], tmp_path / "upload")
    uploaded = stylegan.Engine.load(folder, device=torch.device("cpu"))
    args = dict(n=6, seed=1, group_layers={g: list(v) for g, v in uploaded.layer_groups.items()}, psi=1.0,
                per_layer=True)
    stored = fa._precomputed(uploaded, reg, **args)
    assert stored is not None
    np.testing.assert_array_equal(stored["effect"], fa.layer_effects(engine, reg, n=6, seed=1, cached=False)["effect"])
