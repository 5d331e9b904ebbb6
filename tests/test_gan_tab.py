"""The GAN tab's handlers, called in-process as the built app wires them (no server), on tiny
seeded StyleGAN checkpoints (32x32, so all three layer groups exist).

Handlers are looked up by api_name, so the wiring (which function, which inputs in which order,
the gr.Error wrapper) is what is tested. Every handler takes the session language first.
"""

from __future__ import annotations

import re
import zipfile
from pathlib import Path

import gradio as gr
import numpy as np
import pytest
import torch

from demo import gan_plots, gan_tab
from demo.i18n import STRINGS, t
from tests.close import assert_images_close
from tests.tab_fixtures import api_lookup

FACES, GREY = "tiny-faces", "tiny-grey"
CJK = re.compile(r"[\u4e00-\u9fff]")
API_NAMES = ("gan_model", "gan_upload", "gan_mix", "gan_mix_layers", "gan_preset", "gan_random_seeds",
             "gan_truncation", "gan_truncation_psi", "gan_interp_t", "gan_interpolate", "gan_noise", "gan_noise_image", "gan_noise_std",
             "gan_noise_resample", "gan_noise_saved", "gan_effects")
PL = [1.0] * gan_tab.MAX_NOISE_LAYERS  # the per-layer noise sliders at rest


def tiny_stylegan(out_dir: Path, *, seed: int = 0, channels: int = 3, card: dict | None = None) -> Path:
    """A seeded 32x32 StyleGAN (num_ws = 8) with visible noise and a non-zero w_avg."""
    from engines import checkpoint, stylegan

    config = stylegan.Config(image_size=32, channels=channels, z_dim=16, w_dim=16, mapping_layers=2,
                             channel_base=128, channel_max=16)
    torch.manual_seed(seed)
    model = stylegan.build(config).eval()
    with torch.no_grad():
        for conv in model.G.synthesis.convs:
            conv.noise_strength.fill_(0.5)
        model.G.mapping.w_avg.copy_(torch.randn(model.G.w_dim))
    card = {"name": Path(out_dir).name, "dataset": "test", **(card or {})}
    return checkpoint.save(out_dir, family="stylegan", config=config, model=model, card=card)


def zip_folder(folder: Path, z: Path) -> Path:
    with zipfile.ZipFile(z, "w") as zf:
        for name in ("config.json", "model.safetensors", "card.json"):
            zf.write(folder / name, name)
    return z


@pytest.fixture(scope="module")
def assets(tmp_path_factory):
    root = tmp_path_factory.mktemp("assets")
    tiny_stylegan(root / FACES, card={"dataset": "faces"})
    tiny_stylegan(root / GREY, seed=1, channels=1, card={"quality_note": "weak"})
    return root


@pytest.fixture(scope="module")
def api(assets):
    import app

    demo = app.build_app(assets_dir=assets)
    return api_lookup(demo)


@pytest.fixture(scope="module")
def engine(assets):
    from demo import common

    return common.ENGINES.get("stylegan", assets / FACES)


def _message(excinfo) -> str:
    assert isinstance(excinfo.value, gr.Error), type(excinfo.value)
    return excinfo.value.message


def _cells(picture: np.ndarray, n_a: int, n_b: int) -> np.ndarray:
    """The mixed cells back out of the composed grid: (n_b, n_a, side, side, 3)."""
    side = (picture.shape[1] - gan_plots.HEADER_GAP - (n_a - 1) * gan_plots.GAP) // (n_a + 1)
    x0 = side + gan_plots.HEADER_GAP
    step = side + gan_plots.GAP
    return np.stack([np.stack([picture[x0 + j * step: x0 + j * step + side, x0 + i * step: x0 + i * step + side]
                               for i in range(n_a)]) for j in range(n_b)])


def _small(engine, images) -> np.ndarray:
    """Engine images (N, 32, 32, 3) upscaled as the grid's cells are."""
    return np.stack([gan_plots._cell(im) for im in gan_plots._rgb(images)])


# --- building and the model ---------------------------------------------------------------------


def test_the_tab_has_its_documented_events_and_inputs(api):
    missing = [n for n in API_NAMES if n not in api.fns]
    assert not missing, missing
    ids = [c.elem_id for c in api.fns["gan_mix_layers"].inputs]
    assert ids[2:] == ["gan-model", "gan-seeds-a", "gan-seeds-b", "gan-layers", "gan-mix-psi"]
    for name in API_NAMES[2:]:  # every model event shares the compute group
        assert api.fns[name].concurrency_id == "gpu", name


def test_model_change_sets_layers_card_and_quality_note(api, monkeypatch):
    card, quality, layers, preset, *sliders = api("gan_model")("en", {}, FACES)
    assert "tiny-faces" in card and "32×32×3" in card
    assert quality["visible"] is False
    assert layers["value"] == [0, 1, 2] and preset == "coarse"
    assert [label for label, _ in layers["choices"]] == ["0: 4×4", "1: 8×8", "2: 8×8", "3: 16×16", "4: 16×16",
                                                         "5: 32×32", "6: 32×32", "7: 32×32"]
    assert "middle: 3–4 (16×16)" in layers["info"]
    assert sum(s["visible"] for s in sliders) == 7  # one per conv: num_ws - 1
    # A shipped model whose card says it is weak, with the warning translated: the tab says so, in
    # the session's language (no shipped model needs one now).
    monkeypatch.setitem(gan_tab.STRINGS, "gan.quality.weak-model", ("an early model", "早期模型"))
    note = gan_tab._quality(type("E", (), {"name": "weak-model", "card": {"quality_note": "x"}})(), "zh")
    assert note["visible"] and CJK.search(note["value"])


# --- style mixing -------------------------------------------------------------------------------


def test_mixing_all_layers_gives_b_and_none_is_refused(api, engine):
    mix = api("gan_mix")
    everything = list(range(engine.num_ws))
    picture = mix("en", {}, FACES, "1, 2, 3", "7, 8", everything, 1.0)
    cells = _cells(picture, 3, 2)
    b = _small(engine, engine.generate([7, 8]))
    for j in range(2):
        for i in range(3):
            assert_images_close(cells[j, i], b[j])  # a batch of 6 against a batch of 2: rounding only
    # One layer less than all: A shows through somewhere.
    partial = _cells(mix("en", {}, FACES, "1, 2, 3", "7, 8", everything[1:], 1.0), 3, 2)
    assert not np.array_equal(partial, cells)
    with pytest.raises(gr.Error) as ei:
        mix("zh", {}, FACES, "1, 2, 3", "7, 8", [], 1.0)
    assert CJK.search(_message(ei)) and "层" in _message(ei)


def test_headers_and_coarse_cells(api, engine):
    """The top row is A itself; the coarse mix equals Engine.mix, which the engine tests check (up to
    rounding: the grid's batch differs from these, and on another CPU a pixel may move by 1)."""
    picture = api("gan_mix")("en", {}, FACES, "1, 2", "5", [0, 1, 2], 1.0)
    cells = _cells(picture, 2, 1)
    expected = engine.mix([1, 2], [5], "coarse")  # (rows = A, cols = B, H, W, C)
    for i in range(2):
        assert_images_close(cells[0, i], _small(engine, expected[i, 0][None])[0])
    side = cells.shape[2]
    a1 = picture[:side, side + gan_plots.HEADER_GAP: 2 * side + gan_plots.HEADER_GAP]
    inner = slice(30, side - 4)  # below the tag, inside the frame
    assert_images_close(a1[inner, inner], _small(engine, engine.generate([1]))[0][inner, inner])


def test_presets_and_toggles_agree(api):
    layers, picture = api("gan_preset")("en", {}, FACES, "fine", "1, 2", "3, 4", 1.0)
    assert layers == [5, 6, 7] and picture.ndim == 3
    grid, preset = api("gan_mix_layers")("en", {}, FACES, "1, 2", "3, 4", [3, 4], 1.0)
    assert preset == "middle"
    grid2, preset2 = api("gan_mix_layers")("en", {}, FACES, "1, 2", "3, 4", [3], 1.0)
    assert preset2 is None and not np.array_equal(grid, grid2)


@pytest.mark.parametrize("seeds", ["", "a, b", "1, -2", "1, 2, 3, 4, 5, 6, 7", "1.5", str(2**40)])
def test_bad_seed_lists_are_explained(api, seeds):
    for lang in ("en", "zh"):
        with pytest.raises(gr.Error) as ei:
            api("gan_mix")(lang, {}, FACES, seeds, "1", [0], 1.0)
        msg = _message(ei)
        assert ("seed" in msg) if lang == "en" else CJK.search(msg), msg


@pytest.mark.parametrize("psi", [5, -3, float("nan"), None, "x"])
def test_bad_psi_is_explained(api, psi):
    with pytest.raises(gr.Error) as ei:
        api("gan_mix")("en", {}, FACES, "1", "2", [0], psi)
    assert "psi" in _message(ei)
    with pytest.raises(gr.Error) as ei:
        api("gan_truncation")("zh", {}, FACES, "1", psi)
    assert "截断系数" in _message(ei)


def test_seeds_accept_chinese_commas():
    assert gan_tab.parse_seeds("1，2、 3") == [1, 2, 3]


# --- truncation and interpolation ---------------------------------------------------------------


def test_psi_zero_gives_the_average_image_for_every_seed(api, engine):
    row, avg, sweep = api("gan_truncation")("en", {}, FACES, "1, 2, 3", 0.0)
    expected = engine.synthesize(engine.w_avg[None])
    cells = row.reshape(row.shape[0], -1, 3)
    side = row.shape[0]
    for i in range(3):
        x = i * (side + gan_plots.GAP)
        assert_images_close(row[:, x:x + side], gan_plots._cell(expected[0]))  # batch of 3 against 1
    assert avg.shape[0] >= 180 and sweep.shape[1] > 5 * sweep.shape[0] and cells.size
    np.testing.assert_array_equal(api("gan_truncation_psi")("en", {}, FACES, "1, 2, 3", 0.0), row)


def test_interpolation_ends_are_the_seeds(api, engine):
    z0, w0 = api("gan_interp_t")("en", {}, FACES, 2, 9, 0.0, 1.0)
    _z1, w1 = api("gan_interp_t")("en", {}, FACES, 2, 9, 1.0, 1.0)
    from demo.common import display

    a, b = engine.generate([2, 9])
    # lerp at t = 0 and 1 is w_a and w_b up to float rounding: at most one grey level anywhere.
    assert np.abs(w0.astype(int) - display(a, side=192).astype(int)).max() <= 1
    assert np.abs(w1.astype(int) - display(b, side=192).astype(int)).max() <= 1
    assert np.abs(z0.astype(int) - w0.astype(int)).max() <= 2  # slerp at t = 0 is z_a up to float error
    zs, ws = api("gan_interpolate")("en", {}, FACES, 2, 9, 0.5, 5, 1.0)[2:]
    assert zs.shape == ws.shape and not np.array_equal(zs, ws)  # the two paths differ in between
    with pytest.raises(gr.Error):
        api("gan_interp_t")("en", {}, FACES, 2, 9, 1.5, 1.0)
    with pytest.raises(gr.Error) as ei:
        api("gan_interp_t")("en", {}, FACES, -1, 9, 0.5, 1.0)
    assert "seed" in _message(ei)


# --- noise --------------------------------------------------------------------------------------


def test_noise_changes_details_only_where_asked(api):
    image = api("gan_noise_image")
    none, _ = image("en", {}, FACES, 4, 1.0, "none", 1.0, None, *PL)
    zero, _ = image("en", {}, FACES, 4, 1.0, "all", 0.0, None, *PL)
    np.testing.assert_array_equal(none, zero)  # strength 0 everywhere is no noise
    saved, caption = image("en", {}, FACES, 4, 1.0, "all", 1.0, None, *PL)
    assert "saved" in caption and not np.array_equal(saved, none)
    # Per-layer sliders at 0 equal "none".
    off, _ = image("en", {}, FACES, 4, 1.0, "all", 1.0, None, *([0.0] * len(PL)))
    np.testing.assert_array_equal(off, none)
    # Resampling only the noise: same w, another draw, a different picture; draws count up.
    draw, img1, cap1 = api("gan_noise_resample")("en", {}, FACES, 4, 1.0, "all", 1.0, None, *PL)
    draw2, img2, _ = api("gan_noise_resample")("en", {}, FACES, 4, 1.0, "all", 1.0, draw, *PL)
    assert (draw, draw2) == (0, 1) and "#1" in cap1 and not np.array_equal(img1, img2)
    back, img3, _ = api("gan_noise_saved")("en", {}, FACES, 4, 1.0, "all", 1.0, draw2, *PL)
    assert back is None
    np.testing.assert_array_equal(img3, saved)
    with pytest.raises(gr.Error):
        image("en", {}, FACES, 4, 1.0, "all", 11.0, None, *PL)


def test_noise_std_map_and_the_papers_comparison(api):
    picture, note = api("gan_noise_std")("en", {}, FACES, 4, 1.0, "all", 1.0, *PL)
    assert picture.ndim == 3 and note == ""  # this fixture's noise is visible
    _, quiet = api("gan_noise_std")("zh", {}, FACES, 4, 1.0, "none", 1.0, *PL)
    assert CJK.search(quiet)  # no noise: the map is flat, and the note says why
    out = api("gan_noise")("en", {}, FACES, 4, 1.0, "all", 1.0, None, *PL)
    all_, none, fine, coarse = out[4:]
    assert not np.array_equal(all_, none) and not np.array_equal(fine, coarse)


# --- what each layer controls -------------------------------------------------------------------


class FakeRegressor:
    """Reads two 'attributes' off an image: mean brightness (continuous) and which half is brighter."""

    def __init__(self):
        self.kinds = {"brightness": "continuous", "top_brighter": "categorical"}

    def predict(self, images):
        x = np.asarray(images, np.float64).mean(axis=-1)
        h = x.shape[1] // 2
        return {"brightness": x.mean(axis=(1, 2)) / 255,
                "top_brighter": (x[:, :h].mean(axis=(1, 2)) > x[:, h:].mean(axis=(1, 2))).astype(int)}


def test_layer_effects_chart_with_a_regressor(api, monkeypatch):
    from engines.stylegan import attributes

    monkeypatch.setattr(attributes, "load_default", lambda assets_dir=None: FakeRegressor())
    monkeypatch.setattr(gan_tab, "EFFECTS_N", 8)
    attributes._EFFECTS_CACHE.clear()
    chart, table = api("gan_effects")("en", {}, FACES)
    assert chart.ndim == 3 and chart.shape[0] > 300
    assert "8 pairs" in table and "brightness" in table
    _, zh = api("gan_effects")("zh", {}, FACES)
    assert "基础层" in zh or "细调层" in zh or "中间层" in zh
    attributes._EFFECTS_CACHE.clear()


def test_layer_effects_message_without_a_regressor(api, monkeypatch):
    from engines.stylegan import attributes

    chart, msg = api("gan_effects")("zh", {}, GREY)  # not a faces model
    assert chart is None and GREY in msg and CJK.search(msg)
    monkeypatch.setattr(attributes, "load_default", lambda assets_dir=None: None)
    chart, msg = api("gan_effects")("en", {}, FACES)
    assert chart is None and "not installed" in msg
    assert api.fns["gan_effects"].fn("en", {}, FACES)[0] is None


# --- uploads and languages ----------------------------------------------------------------------


def test_upload_a_stylegan_and_refuse_a_vae(api, tmp_path):
    folder = tiny_stylegan(tmp_path / "mine", seed=3)
    uploads, model, status, files = api("gan_upload")("en", {}, [str(zip_folder(folder, tmp_path / "mine.zip"))])
    assert model["value"] == "upload:mine" and "mine" in status and files is None
    picture = api("gan_mix")("en", uploads, "upload:mine", "1", "2", [0], 1.0)
    assert picture.ndim == 3

    from engines import vae
    from tests.conftest import save_tiny_checkpoint

    vae_folder = save_tiny_checkpoint(tmp_path / "a-vae", vae.Config(image_size=8, channels=1, latent_dim=2,
                                                                     widths=(4,), hidden=16))
    out = api("gan_upload")("zh", uploads, [str(zip_folder(vae_folder, tmp_path / "a-vae.zip"))])
    assert out[0] == gr.skip() and out[2].startswith("⚠️") and CJK.search(out[2]) and "vae" in out[2]


def test_every_string_has_both_languages():
    from demo import i18n_gan

    for key in i18n_gan.GAN_STRINGS:
        en, zh = STRINGS[key]
        assert en.strip() and zh.strip(), key
        if key not in ("gan.interp.t",):
            assert CJK.search(zh) or not re.search(r"[A-Za-z]{4,}", en.replace("StyleGAN", "")), key
    # Strings the language switch re-renders carry no placeholders; their numbers are the tab's constants.
    for key in ("gan.noise.help", "gan.seeds.info", "gan.layers.help"):
        assert "{" not in STRINGS[key][0] + STRINGS[key][1], key
    assert f"{gan_tab.NOISE_DRAWS} noise draws" in t("gan.noise.help")
    assert f"1 to {gan_tab.MAX_SEEDS}" in t("gan.seeds.info")
    assert f"{gan_tab.EFFECTS_N} random pairs" in t("gan.layers.help")
    assert "映射网络" in t("gan.explain.body", "zh") and "$$" in t("gan.explain.body", "en")
