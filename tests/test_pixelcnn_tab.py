"""The PixelCNN part of the autoregressive tab: its handlers called in-process as the built app wires
them (no server), on a tiny seeded 28x28 PixelCNN and a tiny VAE to compare with."""

from __future__ import annotations

import re
from pathlib import Path

import gradio as gr
import numpy as np
import pytest
import torch

import app
from demo import pixelcnn_tab
from demo.i18n import STRINGS
from demo.i18n_pixelcnn import PIXELCNN_STRINGS
from engines import checkpoint, pixelcnn, vae
from tests.tab_fixtures import api_lookup

MODEL = "tiny-pixelcnn"
CJK = re.compile(r"[\u4e00-\u9fff]")
EXAMPLES = torch.randint(0, 256, (6, 1, 28, 28), generator=torch.Generator().manual_seed(0)).to(torch.uint8)
KNOBS = {"n": 2, "seed": 0, "label": "all", "temperature": 1.0, "top_k": 0, "top_p": 1.0}


def tiny_assets(root: Path) -> Path:
    torch.manual_seed(0)
    config = pixelcnn.Config(image_size=28, width=8, layers=3, head=8, first_kernel=3, num_classes=10)
    model = pixelcnn.build(config).eval()
    digits = EXAMPLES
    card = {"name": MODEL, "dataset": "mnist", "class_names": [str(d) for d in range(10)],
            "metrics": {"heldout_nll_nats": 700.0, "heldout_bits_per_dim": 1.29}}
    checkpoint.save(root / MODEL, family="pixelcnn", config=config, model=model, card=card,
                    aux={"examples": digits, "example_labels": torch.arange(6)})
    vconfig = vae.Config(image_size=28, latent_dim=2, widths=(8, 8), hidden=16)
    checkpoint.save(root / "mnist-vae-z16", family="vae", config=vconfig, model=vae.build(vconfig).eval(),
                    card={"name": "mnist-vae-z16", "dataset": "mnist"})
    return root


@pytest.fixture(scope="module")
def api(tmp_path_factory):
    demo = app.build_app(assets_dir=tiny_assets(tmp_path_factory.mktemp("assets")))
    return api_lookup(demo)


def last(gen):
    out = None
    for out in gen:
        pass
    return out


def test_the_tab_has_its_events(api):
    for name in ("pixelcnn_model", "pixelcnn_sample", "pixelcnn_stop", "pixelcnn_complete", "pixelcnn_field",
                 "pixelcnn_likelihood", "pixelcnn_upload"):
        assert name in api.fns, name


def test_model_change_fills_the_card_and_the_class_lists(api):
    card, sample_label, complete_label, example = api("pixelcnn_model")("zh", {}, MODEL)
    assert MODEL in card and "1.29" in card
    assert sample_label["choices"][0][1] == "all" and len(sample_label["choices"]) == 11
    assert CJK.search(sample_label["choices"][0][0])
    assert example["value"] == 0


def test_sampling_streams_pixels_then_says_done(api):
    outs = list(api("pixelcnn_sample")("en", {}, MODEL, None, *KNOBS.values()))
    assert len(outs) >= 2
    run, images, dist, conf, status = outs[0]
    assert images.dtype == np.uint8 and dist.shape == (150, 360, 3) and conf.ndim == 3
    assert "Pixel" in status
    assert "2 images" in outs[-1][-1]
    again = list(api("pixelcnn_sample")("en", {}, MODEL, None, *KNOBS.values()))
    np.testing.assert_array_equal([o for o in outs if o[1] is not None][-1][1],
                                  [o for o in again if o[1] is not None][-1][1])   # seeded


@pytest.mark.parametrize("change, word", [({"temperature": 0.0}, "emperature"), ({"top_p": 1.5}, "op-p"),
                                          ({"top_p": 0.0}, "op-p"), ({"temperature": float("nan")}, "emperature"),
                                          ({"n": 0}, "n"), ({"label": "7; rm -rf"}, "class")])
def test_bad_values_are_explained(api, change, word):
    values = {**KNOBS, **change}
    with pytest.raises(gr.Error) as err:
        list(api("pixelcnn_sample")("en", {}, MODEL, None, *values.values()))
    assert word in str(err.value)


def test_completion_keeps_the_top_rows(api):
    picker = ("example", 2, None, None)
    outs = list(api("pixelcnn_complete")("en", {}, MODEL, None, *picker, 14, 3, 0, "all", 1.0, 0, 1.0))
    final = [o for o in outs if isinstance(o[2], np.ndarray)][-1]
    _, given, completions, _ = final
    assert "3 images" in outs[-1][-1]
    example = EXAMPLES[2, 0].numpy()
    k = given.shape[0] // 28
    np.testing.assert_array_equal(given[::k, ::k][:14], example[:14])           # kept as it is
    assert (given[::k, ::k][14:] != example[14:]).any()                         # hidden rows shaded
    k = completions.shape[0] // 28
    strip = completions[::k, ::k]
    tops = [strip[:14, i * 30: i * 30 + 28] for i in range(3)]
    for top in tops:
        np.testing.assert_array_equal(top, example[:14])
    bottoms = {strip[14:, i * 30: i * 30 + 28].tobytes() for i in range(3)}
    assert len(bottoms) == 3                                                     # three different completions


def test_the_receptive_field_from_a_click_and_from_numbers(api):
    plain, gated, result = api("pixelcnn_field")("en", {}, MODEL, 10, 10)
    assert plain.shape == gated.shape == (280, 280, 3)
    numbers = [int(n) for n in re.findall(r"\*\*(\d+)\*\*", result)]
    assert numbers[0] < numbers[1] and numbers[2] > 0          # the plain stack sees less: a blind spot
    assert "(0 and 0)" in result                                # nothing later, either network
    with pytest.raises(gr.Error):
        api("pixelcnn_field")("en", {}, MODEL, 99, 0)


def test_likelihood_beside_the_vaes_bound(api):
    summary, table, digits = api("pixelcnn_likelihood")("en", {}, MODEL, "mnist-vae-z16", 4)
    assert table.count("\n| #") == 4 and "–" not in table.split("\n", 2)[2]
    assert "bits/dim" in summary and "700.0 nats" in summary
    nats = [float(row.split("|")[3]) for row in table.splitlines()[2:]]
    assert all(n > 0 for n in nats)


def test_every_string_has_both_languages():
    for key, (en, zh) in PIXELCNN_STRINGS.items():
        assert en and zh and (CJK.search(zh) or en == zh), key
        assert STRINGS[key] == (en, zh)
    assert "train.family.pixelcnn" in STRINGS and pixelcnn_tab.FAMILY == "pixelcnn"
