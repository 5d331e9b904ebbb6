"""The CLIP tab's handlers, called in-process as the built app wires them (no server), with a tiny
randomly initialised GenLab CLIP and tiny generators in a temporary assets folder.

Handlers are looked up by api_name, so the wiring (which function, which inputs in which order,
the gr.Error wrapper) is what is tested. Every handler takes the session language first.
"""

from __future__ import annotations

import re
import time
from types import SimpleNamespace as NS

import gradio as gr
import numpy as np
import pytest
import torch
from PIL import Image

from tests.conftest import save_tiny_checkpoint
from tests.diffusion_fixtures import save_tiny_ddpm
from tests.tab_fixtures import NoProgress, api_lookup

CJK = re.compile(r"[\u4e00-\u9fff]")
API_NAMES = ("clip_card", "clip_upload", "clip_generator", "clip_example", "clip_generate", "clip_stop", "clip_sees",
             "clip_captions")
VAE, DDPM = "mnist-vae-z16", "mnist-ddpm"  # tiny stand-ins, named as the shipped ones so the examples resolve


def save_tiny_clip(out_dir):
    """A randomly initialised, very small GenLab CLIP (16x16 images, 2-layer towers)."""
    from engines import checkpoint, clip

    cfg = clip.Config(image_size=16, patch_size=4, vision_width=32, vision_layers=1, vision_head_width=16,
                      text_width=32, text_layers=1, text_heads=2, context_length=40, embed_dim=16)
    torch.manual_seed(0)
    model = clip.build(cfg)
    return checkpoint.save(out_dir, family="clip", config=cfg, model=model,
                           card={"name": "genlab-clip", "dataset": "test", "zero_shot": {"test": 0.5}})


@pytest.fixture(scope="module")
def assets(tmp_path_factory):
    from engines import vae

    root = tmp_path_factory.mktemp("clip-assets")
    save_tiny_clip(root / "genlab-clip")
    save_tiny_checkpoint(root / VAE, vae.Config(image_size=8, channels=1, latent_dim=2, widths=(4,), hidden=16),
                         card={"dataset": "mnist"})
    save_tiny_ddpm(root / DDPM, num_classes=3, examples=False, card={"dataset": "mnist"})
    return root


@pytest.fixture(scope="module")
def api(assets):
    import app

    return api_lookup(app.build_app(assets_dir=assets))


def generate(api, lang="en", runs=None, uploads=None, prompt="a red circle", negative="", backend="genlab", generator="pixels",
             steps=6, strength=1.0, seed=0, augment=1, label="none", size=32, per_layer=False, candidates=4):
    """The generate handler as a generator of its outputs (runs, status, image, best, plot, gallery)."""
    return api("clip_generate")(lang, uploads, runs, prompt, negative, backend, generator, steps, strength, seed, augment,
                                label, size, per_layer, candidates, progress=NoProgress())


def run_all(api, **kwargs) -> list[tuple]:
    return list(generate(api, **kwargs))


def message(excinfo) -> str:
    return str(excinfo.value.message if hasattr(excinfo.value, "message") else excinfo.value)


def test_every_event_is_wired(api):
    for name in API_NAMES:
        api(name)


def test_generate_streams_frames_then_a_gallery(api):
    from demo.clip_tab import Runs

    runs = Runs()
    outs = run_all(api, runs=runs, steps=6)
    assert len(outs) >= 2  # the first step is streamed at once, the last frame always
    first, last = outs[0], outs[-1]
    assert "Step" in first[1] and first[5] is None  # the first frame clears the last run's snapshots
    assert all(isinstance(out[5], type(gr.skip())) for out in outs[1:-1])
    runs_out, status, image, best, plot, gallery = last
    assert runs_out is runs and runs.frame.done and runs.frame.step == runs.frame.total == 6
    assert "Done" in status and "a red circle" in status
    assert image.dtype == np.uint8 and image.shape[0] >= 200 and best.shape == image.shape
    rows = plot["value"]  # the score and the best so far at every step, the x axis the whole run
    assert plot["x_lim"] == [0, 6] and list(rows.columns) == ["step", "score", "series"] and len(rows) == 14
    assert rows["score"].iloc[:7].tolist() == pytest.approx(runs.frame.scores)
    # snapshots at evenly spaced steps (0 .. 6), then the best image
    steps = [int(re.search(r"(\d+):", cap).group(1)) for _, cap in gallery]
    assert steps[0] == 0 and steps[-2] == 6 and gallery[-1][1].startswith("★")
    assert len(runs.frame.scores) == 7 and all(np.isfinite(runs.frame.scores))
    # same seed, same pictures
    again = run_all(api, steps=6)[-1]
    assert np.array_equal(again[2], image)


def test_generators_vae_and_class_conditional_diffusion(api):
    out = run_all(api, generator=VAE, steps=3, prompt="the digit 7")[-1]
    assert "Done" in out[1] and VAE in out[1] and "the best of 4 side by side" in out[1]
    out = run_all(api, generator=DDPM, steps=4, label="2", prompt="数字二")[-1]
    assert "Done" in out[1]
    label, _, _, candidates, captions = api("clip_generator")("en", {}, DDPM, "")
    assert label["visible"] is True and [v for _, v in label["choices"]] == ["none", "0", "1", "2"]
    assert candidates["value"] == 8  # several guided samples side by side, the best kept; each family its own
    assert api("clip_generator")("en", {}, VAE, "")[3]["value"] == 4
    assert captions.splitlines()[7] == "the digit 7"  # MNIST captions for an MNIST generator
    label, size, _, candidates, captions = api("clip_generator")("zh", {}, "pixels", "my own caption\nanother")
    assert label["visible"] is False and size["visible"] is True and candidates["value"] == 1
    assert isinstance(captions, type(gr.skip()))  # edited captions are kept


def test_stop_keeps_the_best_image(api):
    from demo.clip_tab import Runs

    runs = Runs()
    gen = generate(api, runs=runs, steps=400, augment=0)
    next(gen)  # the first streamed frame: the run is going
    t0 = time.perf_counter()
    api("clip_stop")(runs)
    outs = list(gen)
    assert time.perf_counter() - t0 < 10
    status, best, gallery = outs[-1][1], outs[-1][3], outs[-1][5]
    f = runs.frame
    assert "Stopped" in status and f.step < 400 and runs.stopped
    assert gallery[-1][1].startswith("★")
    assert f.best_score == pytest.approx(max(f.scores))
    assert best.shape[0] >= 200


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_bad_input_gets_a_clear_message(api, lang):
    cases = [
        ({"prompt": "   "}, r"prompt|提示词"),
        ({"prompt": "x" * 2000}, r"2000"),
        ({"strength": float("nan")}, r"nan|NaN|strength|强度"),
        ({"steps": 0}, r"step|步"),
        ({"generator": "no-such-model"}, r"no-such-model"),
        ({"backend": "other"}, r"other"),
        ({"seed": -1}, r"seed|种子"),
        ({"generator": DDPM, "label": "7"}, r"7"),  # the tiny DDPM has 3 classes
        ({"generator": DDPM, "label": "two"}, r"two"),
        ({"generator": DDPM, "candidates": 99}, r"99"),
    ]
    for kwargs, pattern in cases:
        with pytest.raises(gr.Error) as ei:
            run_all(api, lang=lang, **kwargs)
        text = message(ei)
        assert re.search(pattern, text), (kwargs, text)
        assert bool(CJK.search(text[:12])) == (lang == "zh"), (kwargs, text)  # (English may quote 数字七 later)
        assert "went wrong" not in text and "服务器出错" not in text, (kwargs, text)


def test_pretrained_offline_fails_fast_in_the_users_language(api, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    for lang in ("en", "zh"):
        t0 = time.perf_counter()
        outs = []
        with pytest.raises(gr.Error) as ei:
            outs.extend(generate(api, lang=lang, backend="pretrained", steps=2))
        assert time.perf_counter() - t0 < 5
        assert outs[-1][1].startswith("⚠️ ") and "GenLab" in outs[-1][1]  # the status says it too
        text = message(ei)
        assert "GenLab" in text and bool(CJK.search(text)) == (lang == "zh"), text
    card = api("clip_card")("en", {}, "pretrained")  # the card does not try to load it
    assert "ViT-B-32" in card


def test_what_clip_sees_run_and_upload(api, tmp_path):
    from demo.clip_tab import Runs

    runs = Runs()
    captions = "a red circle\na blue square\n数字七"
    with pytest.raises(gr.Error) as ei:  # nothing generated yet in this session
        api("clip_sees")("en", {}, runs, "genlab", "run", None, captions)
    assert "Generate" in message(ei)
    run_all(api, runs=runs, steps=3)
    image, bars, text = api("clip_sees")("en", {}, runs, "genlab", "run", None, captions)
    assert image.shape[0] >= 200 and bars.ndim == 3
    assert "picks" in text and any(c in text for c in ("a red circle", "a blue square", "数字七"))
    from demo.common import display

    current, _, _ = api("clip_sees")("en", {}, runs, "genlab", "current", None, captions)
    assert np.array_equal(current, display(runs.frame.image, 256))
    assert np.array_equal(image, display(runs.frame.best_image, 256))
    png = tmp_path / "pic.png"
    Image.fromarray(np.full((40, 30, 3), 200, np.uint8)).save(png)
    image, _, text = api("clip_sees")("zh", {}, runs, "genlab", "upload", str(png), captions)
    assert "选择了" in text and "40" in text  # the resize note names the upload's size
    bad = tmp_path / "notes.txt"
    bad.write_text("not an image")
    for lang in ("en", "zh"):
        with pytest.raises(gr.Error) as ei:
            api("clip_sees")(lang, {}, runs, "genlab", "upload", str(bad), captions)
        assert "notes.txt" in message(ei) and bool(CJK.search(message(ei))) == (lang == "zh")
    with pytest.raises(gr.Error) as ei:
        api("clip_sees")("en", {}, runs, "genlab", "run", None, "only one")
    assert "one per line" in message(ei)


def test_sessions_keep_their_own_runs(api):
    from demo.clip_tab import Runs

    a, b = Runs(), Runs()
    run_all(api, runs=a, steps=2)
    assert a.frame is not None and b.frame is None
    api("clip_stop")(b)  # stopping session b does not touch a's next run
    out = run_all(api, runs=a, steps=3)[-1]
    assert "Done" in out[1]


def test_examples_and_language_switch(api):
    prompt, generator = api("clip_example")("zh", 2)
    assert prompt == "数字七" and generator == VAE
    prompt, generator = api("clip_example")("en", 0)
    assert prompt == "a red circle" and generator == "pixels"
    en_caps = api("clip_captions")("en", {}, VAE)
    zh_caps = api("clip_captions")("zh", {}, VAE)
    assert en_caps.splitlines()[0] == "the digit 0" and zh_caps.splitlines()[0] == "数字零"


def test_language_switch_translates_python_made_texts(assets):
    from gradio.context import LocalContext

    from demo.clip_tab import ClipHandlers, find_generators

    h = ClipHandlers(find_generators(assets), assets)
    with gr.Blocks():
        h.prompt_box = gr.Textbox()
    token = LocalContext.in_event_listener.set(True)  # as inside an event, where components are updates
    try:
        out = h.texts("zh", NS(uploads={}, backend="genlab", generator=DDPM, label="1",
                               captions=h.default_captions("en", DDPM)))
        backend, gen, label, examples, captions = (out[k] for k in ("backend", "generator", "label", "examples",
                                                                    "captions"))
    finally:
        LocalContext.in_event_listener.reset(token)
    assert any("扩散模型" in name for name, _ in gen["choices"]) and gen["value"] == DDPM
    assert label["value"] == "1" and label["choices"][0][0] == "无：只用 CLIP"
    assert ["数字七"] in examples.samples and captions.splitlines()[0] == "数字零"
    assert backend["choices"][0] == ("GenLab CLIP（小模型，可离线）", "genlab") and backend["value"] == "genlab"
    kept = h.texts("en", NS(uploads={}, backend="genlab", generator=DDPM, label="none",
                            captions="a cat\na dog"))["captions"]
    assert isinstance(kept, type(gr.skip()))  # the user's own captions stay


def test_an_uploaded_clip_is_this_sessions_backend(api, assets, tmp_path):
    from tests.diffusion_fixtures import zip_checkpoint

    z = zip_checkpoint(assets / "genlab-clip", tmp_path / "my-clip.zip")
    uploads, backend, status, cleared = api("clip_upload")("en", {}, [str(z)])
    value = backend["value"]
    assert value.startswith("upload:") and "Loaded" in status and cleared is None
    assert (value, value) in [(v, v) for _, v in backend["choices"]] and len(backend["choices"]) == 3
    out = run_all(api, uploads=uploads, backend=value, steps=2)[-1]
    assert "Done" in out[1]
    card = api("clip_card")("zh", uploads, value)
    assert "零样本" in card
    with pytest.raises(gr.Error) as ei:  # another session has no such upload
        run_all(api, uploads={}, backend=value, steps=2)
    assert value in message(ei)
    # a checkpoint of another family is refused with a message, nothing is added
    vae_zip = zip_checkpoint(assets / VAE, tmp_path / "vae.zip")
    same, _, status, _ = api("clip_upload")("zh", uploads, [str(vae_zip)])
    assert isinstance(same, type(gr.skip())) and "⚠️" in status and CJK.search(status)


def test_every_clip_string_has_both_languages_and_formats():
    from demo import clip_tab, i18n_clip
    from demo.i18n import t

    for key, (en, zh) in i18n_clip.CLIP_STRINGS.items():
        assert en.strip() and zh.strip(), key
        if not key.endswith(".body"):  # (LaTeX braces are not parameters)
            assert sorted(re.findall(r"{(\w+)", en)) == sorted(re.findall(r"{(\w+)", zh)), key
    # texts the language switch re-renders (through the Registry, without parameters) must not carry any
    for key in ("clip.sees.captions.info", "clip.sees.help", "clip.intro", "clip.backend.info", "clip.size.info",
                "clip.augment.info", "clip.gallery", "clip.examples", "clip.upload.note"):
        assert "{" not in t(key, "en") and "{" not in t(key, "zh")
    info = t("clip.sees.captions.info", "en")
    assert f"{clip_tab.MIN_CAPTIONS} to {clip_tab.MAX_CAPTIONS}" in info


def test_generators_uploaded_in_other_tabs_can_be_steered(api, assets, tmp_path):
    from tests.diffusion_fixtures import zip_checkpoint

    z = zip_checkpoint(assets / VAE, tmp_path / "my-vae.zip")
    from demo.clip_tab import ClipHandlers, find_generators
    from demo.common import add_upload

    _, _, uploads = add_upload([str(z)], {}, "vae")  # what the VAE tab's upload box does

    h = ClipHandlers(find_generators(assets), assets)
    choices = h.refresh_generators("zh", NS(uploads=uploads, generator="pixels"))["choices"]
    value = next(v for _, v in choices if v.startswith("upload:vae:"))
    assert any("（已上传）" in name for name, _ in choices)
    out = run_all(api, uploads=uploads, generator=value, steps=2, prompt="the digit 3")[-1]
    assert "Done" in out[1] and "(uploaded)" in out[1]
    assert api("clip_captions")("en", uploads, value).splitlines()[0] == "the digit 0"  # its card says mnist
    with pytest.raises(gr.Error):  # not in another session
        run_all(api, uploads={}, generator=value, steps=2)


def test_the_lists_follow_the_sessions_models(assets):
    """A model kept in the Train tab (or uploaded elsewhere) joins the lists; a gone one drops out."""
    from demo.clip_tab import ClipHandlers, find_generators

    h = ClipHandlers(find_generators(assets), assets_dir=assets)
    uploads = {"clip": {"mine": str(assets / "genlab-clip")}}
    backend, generator = h.refresh_lists("en", NS(uploads=uploads, backend="upload:mine", generator="pixels")).values()
    assert "upload:mine" in [v for _, v in backend["choices"]] and backend["value"] == "upload:mine"
    backend, generator = h.refresh_lists("en", NS(uploads={}, backend="upload:mine", generator="pixels")).values()
    assert backend["value"] == "genlab" and generator["value"] == "pixels"


def test_best_step_of_pixel_and_diffusion_runs():
    from demo.clip_tab import _best_step
    from engines import clip

    img = np.zeros((2, 2, 3), np.uint8)

    def frame(step, scores, best, score, done=True):
        return clip.GuideFrame(step=step, total=3, image=img, score=score, scores=scores, best_image=img,
                               best_score=best, done=done)

    assert _best_step(frame(3, [0.1, 0.9, 0.3, 0.2], 0.9, 0.2)) == 1  # pixels: scores from step 0
    assert _best_step(frame(2, [0.1, 0.9], 0.9, 0.9, done=False)) == 2  # diffusion: from step 1 (no step-0 image)
    assert _best_step(frame(3, [0.1, 0.9, 0.4], 0.4, 0.4)) == 3  # a finished diffusion run keeps its sample
