"""demo/vq_tab.py: the VQ-VAE part's handlers called through their functions, on a tiny checkpoint."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest
import torch

from demo import ar_tab, vq_plots, vq_tab
from demo.common import Models
from engines import checkpoint
from engines.errors import UserError
from engines.vqvae import Config, build
from engines.vqvae.family import build_aux


@pytest.fixture(scope="module")
def handlers(tmp_path_factory):
    torch.manual_seed(0)
    c = Config(image_size=8, channels=1, widths=(4,), codebook_size=6, code_dim=2, num_classes=3,
               prior_width=16, prior_layers=1, prior_heads=2, prior_dropout=0.0)
    model = build(c).eval()
    with torch.no_grad():
        model.codebook.usage.fill_(1 / 6)
        model.codebook.embed_avg.copy_(torch.randn(6, 2) / 6)
    images = torch.rand(12, 1, 8, 8)
    root = tmp_path_factory.mktemp("assets")
    checkpoint.save(root / "tiny-vq", family="vqvae", config=c, model=model,
                    card={"name": "tiny-vq", "class_names": ["a", "b", "c"],
                          "metrics": {"heldout_mse": 0.01, "heldout_psnr": 20.0, "heldout_perplexity": 5.0}},
                    aux=build_aux(model, images, torch.tensor([0, 1, 2] * 4)))
    return vq_tab.VqHandlers(Models("vqvae", root))


def v(**kw):
    base = dict(uploads={}, model="tiny-vq", source="example", example=0, upload=None, sketch=None,
                label=-1, temperature=1.0, top_k=0, top_p=1.0, seed=0, n=2)
    return SimpleNamespace(**{**base, **kw})


def test_the_part_joins_the_autoregressive_tab_after_diffusion():
    import app

    assert vq_tab.build in ar_tab.PARTS
    tabs = list(app.TABS)
    assert tabs.index(ar_tab.build) == tabs.index(app.diffusion_tab.build) + 1


def test_model_change_fills_card_classes_and_codebook(handlers):
    out = handlers.model_changed("zh", v())
    assert "tiny-vq" in out["card"] and "困惑度" in out["card"]
    assert [c[1] for c in out["label"]["choices"]] == [-1, 0, 1, 2]
    assert out["codes"].ndim == 3 and out["usage"].shape == (180, 640, 3)
    assert "K = 6" in out["usage_info"] and "困惑度" in out["usage_info"]
    assert "Perplexity" in handlers.texts("en", v())["usage_info"]   # the language switch redraws it
    assert out["top_k"]["maximum"] == 6 and out["code"]["maximum"] == 5
    assert [r["maximum"] for r in out["region"]] == [3, 3, 3, 3]
    assert [r["maximum"] for r in out["cell"]] == [3, 3]


def test_encode_pick_replace_and_reset(handlers):
    enc = handlers.encode("en", v())
    tokens = np.asarray(enc["tokens"])
    assert tokens.shape == (4, 4) and enc["grid"].shape == (4 * vq_plots.CELL, 4 * vq_plots.CELL, 3)
    evt = SimpleNamespace(index=(2 * vq_plots.CELL + 5, 1 * vq_plots.CELL + 5))   # x, y -> row 1, col 2
    picked = handlers.pick_cell("en", v(tokens=enc["tokens"]), evt)
    assert picked["cell"] == [1, 2] and picked["code"] == tokens[1, 2] and "row 1, column 2" in picked["cell_info"]
    by_keys = handlers.mark_cell("en", v(tokens=enc["tokens"], cell=[1.0, 2.0]))   # the sliders: the keyboard way
    assert by_keys["code"] == picked["code"] and np.array_equal(by_keys["grid"], picked["grid"])
    new = (int(tokens[1, 2]) + 1) % 6
    out = handlers.replace("en", v(tokens=enc["tokens"], cell=[1.0, 2.0], code=float(new)))
    changed = np.asarray(out["tokens"])
    assert changed[1, 2] == new and (np.delete(changed.flatten(), 6) == np.delete(tokens.flatten(), 6)).all()
    back = handlers.reset("en", v(original=enc["original"]))
    assert back["tokens"] == enc["original"]
    with pytest.raises(UserError) as err:
        handlers.replace("en", v(tokens=enc["tokens"], cell=[1, 2], code=6))
    assert err.value.key == "vq_token"
    with pytest.raises(UserError) as err:
        handlers.mark_cell("en", v(tokens=enc["tokens"], cell=[4, 0]))
    assert err.value.key == "vq_cell"
    with pytest.raises(UserError):
        handlers.replace("en", v(tokens=None, cell=[1, 2], code=1))


def test_sampling_streams_frames_and_a_region_keeps_the_rest(handlers, monkeypatch):
    monkeypatch.setattr(vq_tab, "FRAME_S", 0.0)   # every token its frame (the tab shows at most 20 a second)
    frames = list(handlers.sample("en", v(n=2, label=1, top_k=3)))
    assert len(frames) == 16 + 2 and frames[-1]["status"].startswith("Done")
    assert len(frames[1]["candidates"]) <= 3
    tokens = np.asarray(handlers.encode("en", v())["tokens"])
    region = [2, 3, 0, 1]  # rows 2-3, columns 0-1
    frames = list(handlers.resample("en", v(tokens=tokens.tolist(), region=region, temperature=2.0)))
    assert len(frames) == 4 + 2 and "4 tokens" in frames[-1]["status"]


@pytest.mark.parametrize("kw, key", [
    ({"top_p": 0.0}, "vq_top_p"), ({"top_p": 1.5}, "vq_top_p"), ({"temperature": 0.0}, "vq_temperature"),
    ({"temperature": float("nan")}, "vq_temperature"), ({"label": 7}, "vq_label"), ({"n": 99}, "value_out_of_range"),
    ({"top_k": 99}, "vq_top_k"),
])
def test_hostile_prior_settings(handlers, kw, key):
    with pytest.raises(UserError) as err:
        list(handlers.sample("en", v(**kw)))
    assert err.value.key == key


def test_a_region_needs_an_encoded_image(handlers):
    with pytest.raises(UserError) as err:
        list(handlers.resample("en", v(tokens=None, region=[0, 1, 0, 1])))
    assert err.value.key == "vq_no_image"


def test_two_clicks_on_the_region_picture_choose_the_region_and_the_sliders_follow(handlers):
    tokens = handlers.encode("en", v())["tokens"]
    shown = handlers.show_region("en", v(tokens=tokens, region=[0, 1, 2, 3]))
    assert shown["region_grid"].shape == (4 * vq_plots.CELL, 4 * vq_plots.CELL, 3) and shown["corner"] is None
    assert "rows 0–1, columns 2–3 (4 tokens)" in shown["region_info"]

    def click(row, col):
        return SimpleNamespace(index=(col * vq_plots.CELL + 7, row * vq_plots.CELL + 7))

    first = handlers.pick_corner("zh", v(tokens=tokens, corner=None), click(3, 1))
    assert first["region"] == [3, 3, 1, 1] and first["corner"] == [3, 1] and "对角" in first["region_info"]
    second = handlers.pick_corner("en", v(tokens=tokens, corner=first["corner"]), click(1, 2))
    assert second["region"] == [1, 3, 1, 2] and second["corner"] is None and "6 tokens" in second["region_info"]
    # The region picked by clicks is the one resampled: 6 tokens drawn again, the rest kept.
    frames = list(handlers.resample("en", v(tokens=tokens, region=second["region"])))
    assert "6 tokens" in frames[-1]["status"]
    with pytest.raises(UserError):
        handlers.pick_corner("en", v(tokens=None, corner=None), click(0, 0))


def test_the_region_picture_dims_what_is_kept():
    image = np.full((8, 8), 200, np.uint8)
    mask = vq_plots.region_mask([2, 1, 0, 0], 4)   # either order: rows 1-2, column 0
    assert mask.sum() == 2 and mask[1, 0] and mask[2, 0]
    pic = vq_plots.region_picture(image, mask, cell=10).astype(int)
    assert pic[15, 5].sum() > pic[15, 25].sum() + 150    # inside bright, outside dimmed


@pytest.mark.parametrize("lang, words", [
    ("en", ["p(x) = \\prod", "masked convolution", "blind spot", "Gated PixelCNN", "commitment loss",
            "Straight-through", "VQ-VAE-2", "hierarchy", "adversarial loss", "perceptual loss", "DALL-E",
            "caption", "autoregressive model", "codebook"]),
    ("zh", ["p(x) = \\prod", "掩码卷积", "盲区", "门控 PixelCNN", "承诺损失", "直通", "VQ-VAE-2", "层级结构",
            "对抗损失", "感知损失", "DALL-E", "描述文字", "自回归模型", "码本", "矢量量化", "先验分布", "重构损失",
            "判别器"]),
])
def test_how_it_works_covers_what_issue_19_lists_in_both_languages(lang, words):
    from demo import i18n_pixelcnn  # noqa: F401
    from demo.i18n import t

    text = t("pixelcnn.explain.body", lang) + t("vq.explain", lang)
    assert [w for w in words if w not in text] == []


def test_an_upload_of_another_size_or_colour_is_said_to_be_fitted(tmp_path):
    from PIL import Image

    from demo.ar_input import fitted_note
    from demo.image_inputs import Choice

    def engine(size, channels):
        return SimpleNamespace(config=SimpleNamespace(image_size=size, channels=channels))

    photo = np.zeros((60, 100, 3), np.uint8)
    photo[10:20, 10:20] = (200, 30, 30)
    Image.fromarray(photo).save(tmp_path / "photo.png")
    Image.fromarray(np.full((28, 28), 90, np.uint8)).save(tmp_path / "digit.png")

    def upload(name):
        return Choice(source="upload", upload=str(tmp_path / name))

    assert fitted_note("en", engine(28, 1), upload("photo.png")) == \
        "Your 100×60 upload was fitted to the model's 28×28 grey input."
    assert "28×28 灰度" in fitted_note("zh", engine(28, 1), upload("photo.png"))
    assert fitted_note("en", engine(28, 1), upload("digit.png")) == ""      # already the model's input
    assert fitted_note("en", engine(28, 3), upload("digit.png")) == ""      # grey for colour: nothing lost
    assert fitted_note("en", engine(28, 1), Choice(source="example", example=0)) == ""
