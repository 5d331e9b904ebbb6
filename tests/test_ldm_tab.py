"""The latent diffusion tab's handlers, called in-process as the built app wires them (no server), on a
tiny randomly initialised LDM and a tiny pixel DDPM in a temporary assets folder; the never-seen notes
of both text-to-image tabs."""

from __future__ import annotations

import re

import gradio as gr
import numpy as np
import pytest
import torch

from engines import checkpoint
from tests.diffusion_fixtures import save_tiny_ddpm
from tests.tab_fixtures import api_lookup

CJK = re.compile(r"[\u4e00-\u9fff]")
MODEL = "scenes-ldm"
PROMPT = "a red circle in the top left corner"
API_NAMES = ("ldm_generate", "ldm_stop", "ldm_scrub", "ldm_note", "ldm_compare", "ldm_model", "ldm_upload")


def save_tiny_ldm(out_dir):
    """The tiny preset with random weights (its zero-initialised last layers given something to compute)."""
    from engines.ldm import build, family
    from engines.scenes.text import build_vocabulary

    config = family.family_config({k.name: k.default for k in family.KNOBS} | family.presets("tiny"))
    torch.manual_seed(0)
    model = build(config)
    with torch.no_grad():
        for p in model.parameters():
            if not p.any():
                p.normal_(0, 0.05)
        model.preview_weight.normal_(0, 0.3)
    return checkpoint.save(out_dir, family="ldm", config=config, model=model,
                           card={"name": MODEL, "dataset": "scenes", "vocabulary": list(build_vocabulary().tokens),
                                 "heldout_judged": {"color": 0.5}})


@pytest.fixture(scope="module")
def assets(tmp_path_factory):
    root = tmp_path_factory.mktemp("ldm-assets")
    save_tiny_ldm(root / MODEL)
    save_tiny_ddpm(root / "shapes-ddpm", examples=False, card={"dataset": "shapes"})
    return root


@pytest.fixture(scope="module")
def demo(assets):
    import app

    return app.build_app(assets_dir=assets)


@pytest.fixture(scope="module")
def api(demo):
    return api_lookup(demo)


def generate(api, lang="en", prompt=PROMPT, guidance=3.0, steps=4, seed=0, n=2):
    return list(api("ldm_generate")(lang, {}, MODEL, None, prompt, guidance, steps, seed, n))


def test_the_tab_has_its_events(api):
    for name in API_NAMES:
        assert name in api.fns, name


def test_the_card_and_vocabulary_and_note_on_opening(api):
    card, vocab, note = api("ldm_model")("zh", {}, MODEL, "一只猫在左上角")
    assert MODEL in card and "50%" in card
    assert "red" in vocab and "红色" in vocab and "[UNK]" in vocab
    assert "从未见过" in note and "猫" in note


@pytest.mark.parametrize("lang, prompt, flagged, absent", [
    ("en", "a cat sitting on a sofa", ["cat", "sitting", "sofa"], ["on"]),
    ("zh", "沙发上的一只猫", ["沙发"], []),
    ("en", PROMPT, [], ["never seen"]),
])
def test_never_seen_words_are_flagged_before_generating(api, lang, prompt, flagged, absent):
    note = api("ldm_note")(lang, {}, MODEL, prompt)
    for word in flagged:
        assert word in note
    for word in absent:
        assert word not in note.split("**")[1] if "**" in note else word not in note
    if not flagged:
        assert "✓" in note


def test_generation_streams_the_pipeline_then_the_images(api):
    outs = generate(api)
    assert len(outs) >= 2
    run, status, pipeline, attention, images, scrub, pick = outs[-1]
    assert images.dtype == np.uint8 and images.shape[0] >= 64
    first = next(o for o in outs if o[2] is not None)
    assert first[2].dtype == np.uint8 and first[2].shape[2] == 3 and first[3].ndim == 3
    assert scrub["maximum"] == 3 and scrub["value"] == 3
    assert "4 DDIM steps" in status
    again = generate(api)
    np.testing.assert_array_equal(outs[-1][4], again[-1][4])   # seeded
    other = generate(api, seed=1)
    assert not np.array_equal(outs[-1][4], other[-1][4])


def test_the_scrubber_redraws_each_step_and_word_maps(api):
    run = generate(api)[-1][0]
    first = api("ldm_scrub")("en", {}, run, 0, 0)
    last = api("ldm_scrub")("en", {}, run, 3, 1)
    assert first[0].shape == last[0].shape and not np.array_equal(first[0], last[0])
    words = len(run.tokens) - 2          # [CLS] and [SEP] get no map of their own
    assert first[1].shape[1] > 112 * words   # the image and one map per word, side by side
    with pytest.raises(gr.Error):
        api("ldm_scrub")("zh", {}, run, 99, 0)
    pipeline, attention, status = api("ldm_scrub")("en", {}, None, 0, 0)
    assert "Generate first" in status


@pytest.mark.parametrize("change, en, zh", [
    ({"prompt": ""}, "empty", "为空"),
    ({"prompt": "   "}, "empty", "为空"),
    ({"prompt": "red " * 200}, "characters", "字符"),
    ({"prompt": "a red " * 40}, "words", "个词"),
    ({"prompt": "a cat on a sofa"}, "never seen", "从未见过"),
    ({"guidance": float("nan")}, "guidance", "引导系数"),
    ({"guidance": -1.0}, "guidance", "引导系数"),
    ({"steps": 10**6}, "steps", "步数"),
    ({"steps": 2.5}, "steps", "步数"),
    ({"n": 0}, "images", "图像数量"),
])
def test_bad_input_gets_a_bilingual_message(api, change, en, zh):
    kw = {"prompt": PROMPT, "guidance": 3.0, "steps": 4, "seed": 0, "n": 1, **change}
    with pytest.raises(gr.Error) as err:
        generate(api, "en", **kw)
    assert en in str(err.value)
    with pytest.raises(gr.Error) as err:
        generate(api, "zh", **kw)
    assert zh in str(err.value) and CJK.search(str(err.value))
    assert generate(api, steps=2, n=1)[-1][4] is not None   # nothing broke


def test_compare_measures_latent_and_pixel_diffusion(api, monkeypatch):
    from engines.ldm import compare

    def no_clip(*a, **k):   # the shipped GenLab CLIP is not part of this test's tiny assets
        from engines.errors import UserError
        raise UserError("ldm_prompt_empty")

    monkeypatch.setattr(compare, "clip_run", no_clip)
    outs = list(api("ldm_compare")("en", {}, MODEL, PROMPT, 3.0, 3, 0, 2))
    status, table, images = outs[-1]
    assert "LDM" in table and "DDPM" in table and " M |" in table and "shapes" in table
    assert images.dtype == np.uint8
    macs = [float(x.replace(',', '')) for x in re.findall(r"\| ([\d.,]+) M \|", table)]
    assert len(macs) == 2 and all(m > 0 for m in macs)


def test_the_clip_note_flags_words_and_raw_pixels():
    from demo.words_note import clip_note

    note = clip_note("a cat sitting on a sofa", "genlab", "pixels", "en")
    assert "cat" in note and "sofa" in note and "not a picture of the prompt" in note
    assert "cat" not in clip_note("a cat", "pretrained", "pixels", "en")   # a pretrained CLIP read the web
    zh = clip_note("一只猫", "genlab", "/x/shapes-ddpm", "zh")
    assert "从未见过" in zh and "猫" in zh and "原始像素" not in zh
    assert clip_note("a red circle in the top left corner", "genlab", "/x/ddpm", "en") == ""



def test_the_clip_tab_shows_the_note_as_the_prompt_is_typed(demo):
    wired = [f for f in demo.fns.values() if any(getattr(o, "elem_id", None) == "clip-words-note" for o in f.outputs)]
    assert wired, "no event writes the CLIP tab's never-seen note"
    note = wired[0].fn("en", {}, "a cat on a sofa", "genlab", "pixels")
    assert "never seen: cat, sofa" in str(note) and "not a picture of the prompt" in str(note)
    zh = wired[0].fn("zh", {}, "沙发上的猫", "genlab", "pixels")
    assert "从未见过" in str(zh) and "原始像素" in str(zh)
    assert "cat" not in str(wired[0].fn("en", {}, "a cat", "pretrained", "pixels"))
