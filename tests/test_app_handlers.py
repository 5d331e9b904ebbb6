"""The VAE tab's event handlers, called in-process as the built app wires them (no server).

Handlers are looked up in the built Blocks by their api_name, so the wiring (which function,
which inputs in which order, the gr.Error wrapper) is what is tested, not a re-implementation.
Every handler takes (lang, uploads, *widget values); `uploads` is the session's {family: {...}}.
"""

from __future__ import annotations

import io
import math
import pickle
import re
import struct
import zipfile
import zlib
from pathlib import Path

import gradio as gr
import numpy as np
import pytest
from PIL import Image

from engines import checkpoint, data, vae
from engines.errors import UserError
from tests.tab_fixtures import api_lookup

MODEL = "mnist-vae-z16"
MAP_MODEL = "mnist-vae-z2"
FILES = (checkpoint.CONFIG, checkpoint.WEIGHTS, checkpoint.CARD)
CJK = re.compile(r"[\u4e00-\u9fff]")

API_NAMES = ("vae_interpolate", "vae_endpoint_a", "vae_endpoint_b", "vae_interp_all", "vae_interp_strip",
             "vae_interp_gif", "vae_slider", "vae_slider_plot", "vae_slider_reset", "vae_slider_random",
             "vae_slider_from_input", "vae_map", "vae_map_decode", "vae_reconstruct", "vae_beta_compare",
             "vae_upload", "vae_model", "set_language")


# --- the app, built once ---------------------------------------------------------------------


@pytest.fixture(scope="module")
def demo():
    import app

    return app.build_app()


@pytest.fixture(scope="module")
def api(demo):
    """api_name -> the wrapped handler the app calls (UserError -> gr.Error)."""
    return api_lookup(demo)


@pytest.fixture(scope="module")
def engine():
    from demo import common

    return common.ENGINES.get("vae", checkpoint.ASSETS_DIR / MODEL)


def _examples(eng):
    """Two example indices with different labels."""
    _, labels = eng.examples()
    a = 0
    b = next(i for i in range(len(labels)) if labels[i] != labels[a])
    return a, b


def _error_message(excinfo) -> str:
    err = excinfo.value
    assert isinstance(err, gr.Error), type(err)
    return err.message


def _refusal(fn, *args) -> UserError:
    """The engine's own UserError for this input (the reference the UI must show)."""
    with pytest.raises(UserError) as ei:
        fn(*args)
    return ei.value


# --- building --------------------------------------------------------------------------------


def test_build_app_offline_has_the_documented_events(demo, api, monkeypatch):
    import app

    # Built with HF_HUB_OFFLINE=1 (conftest); every documented API name exists.
    missing = [n for n in API_NAMES if n not in api.fns]
    assert not missing, missing
    # Hidden states are the first two inputs of every VAE handler, then the widgets in order.
    ids = [c.elem_id for c in api.fns["vae_interpolate"].inputs]
    assert ids[-3:] == ["vae-model", "vae-interp-t", "vae-interp-mode"]
    assert [c.elem_id for c in api.fns["vae_slider"].inputs][-16:] == [f"vae-slider-{i}" for i in range(16)]
    # The Chinese build works; an unknown language is refused.
    app.build_app(lang="zh")
    with pytest.raises(ValueError):
        app.build_app(lang="fr")


# --- interpolation ---------------------------------------------------------------------------


@pytest.mark.parametrize("mode", ["linear", "spherical"])
def test_interpolation_ends_are_the_decoded_endpoints(api, engine, mode):
    a, b = _examples(engine)
    za, img_a = api("vae_endpoint_a")("en", {}, MODEL, "example", a, 0, None, None)
    zb, img_b = api("vae_endpoint_b")("en", {}, MODEL, "example", b, 0, None, None)
    assert len(za) == engine.latent_dim and za != zb
    assert not np.array_equal(img_a, img_b)
    interp = api("vae_interpolate")
    at0 = interp("en", {}, za, zb, MODEL, 0.0, mode)
    at1 = interp("en", {}, za, zb, MODEL, 1.0, mode)
    mid = interp("en", {}, za, zb, MODEL, 0.5, mode)
    assert at0.dtype == np.uint8 and at0.shape == img_a.shape
    np.testing.assert_array_equal(at0, img_a)
    np.testing.assert_array_equal(at1, img_b)
    assert not np.array_equal(mid, img_a) and not np.array_equal(mid, img_b)
    # The endpoint image is the decoded posterior mean, upscaled like every displayed image.
    from demo.common import display

    mu, _ = engine.encode(engine.examples()[0][a])
    np.testing.assert_array_equal(img_a, display(engine.decode(mu)[0]))
    assert img_a.shape[0] >= 200  # 28 px upscaled for the browser


def test_interpolation_with_a_seed_endpoint_and_the_strip(api, engine):
    za, _ = api("vae_endpoint_a")("en", {}, MODEL, "example", 0, 0, None, None)
    zb, img_b = api("vae_endpoint_b")("en", {}, MODEL, "seed", None, 7, None, None)
    np.testing.assert_allclose(zb, engine.prior_sample(1, 7)[0])
    np.testing.assert_array_equal(api("vae_interpolate")("en", {}, za, zb, MODEL, 1.0, "linear"), img_b)
    image, strip_img = api("vae_interp_all")("en", {}, za, zb, MODEL, 0.25, "linear", 5)
    assert image.ndim == 2 and strip_img.shape[1] > 4 * strip_img.shape[0]  # five frames side by side
    # Out-of-range t is refused in the session language.
    with pytest.raises(gr.Error) as ei:
        api("vae_interpolate")("zh", {}, za, zb, MODEL, 1.5, "linear")
    assert _error_message(ei) == UserError("value_out_of_range", what="t", low=0, high=1, value=1.5).localized("zh")


# --- sliders ---------------------------------------------------------------------------------


def test_slider_image_is_the_decoded_slider_vector(api, engine):
    from demo.common import display

    assert engine.latent_dim == 16  # one slider per dimension: z is the slider vector itself
    slider = api("vae_slider")
    values = [0.0] * 16
    base = slider("en", {}, MODEL, *values)
    np.testing.assert_array_equal(base, display(engine.decode(np.zeros(16, np.float32))[0]))
    values[3] = 2.5
    values[10] = -1.75
    moved = slider("en", {}, MODEL, *values)
    assert not np.array_equal(moved, base)
    np.testing.assert_array_equal(moved, display(engine.decode(np.asarray(values, np.float32))[0]))
    assert moved.shape == base.shape and moved.shape[0] >= 200


def test_slider_reset_random_and_from_input(api, engine):
    out = api("vae_slider_reset")("en", {}, MODEL)
    assert list(out[:16]) == [0.0] * 16
    np.testing.assert_array_equal(out[16], api("vae_slider")("en", {}, MODEL, *[0.0] * 16))
    rnd = api("vae_slider_random")("en", {}, MODEL, 3)
    assert any(v != 0 for v in rnd[:16]) and all(-3 <= v <= 3 for v in rnd[:16])
    # The picture is what the (rounded) slider values encode.
    np.testing.assert_array_equal(rnd[16], api("vae_slider")("en", {}, MODEL, *rnd[:16]))
    enc = api("vae_slider_from_input")("en", {}, MODEL, "example", 0, None, None)
    mu, _ = engine.encode(engine.examples()[0][0])
    np.testing.assert_allclose(enc[:16], np.clip(mu[0], -3, 3), atol=0.026)


# --- reconstruction --------------------------------------------------------------------------

_NUM = r"(-?\d+(?:\.\d+)?)"


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_reconstruction_metrics_are_recon_plus_kl(api, engine, lang):
    x_img, recon_img, metrics, sigma = api("vae_reconstruct")(lang, {}, MODEL, "example", 4, None, None)
    assert isinstance(metrics, str)
    nums = [float(v) for v in re.findall(r"\|\s*\**" + _NUM + r"\**\s*\|", metrics)]
    assert len(nums) == 3, metrics
    recon, kl, neg_elbo = nums
    assert recon > 0 and kl > 0
    assert abs(recon + kl - neg_elbo) <= 0.11  # three numbers rounded to 0.1
    r = engine.reconstruct(engine.examples()[0][4], seed=0)
    assert recon == pytest.approx(r["recon_nll"], abs=0.051)
    assert kl == pytest.approx(r["kl"], abs=0.051)
    assert neg_elbo == pytest.approx(r["neg_elbo"], abs=0.051)
    assert r["neg_elbo"] == pytest.approx(r["recon_nll"] + r["kl"], rel=1e-5)
    assert ("ELBO" in metrics) and (bool(CJK.search(metrics)) == (lang == "zh"))
    from demo.common import display

    np.testing.assert_array_equal(recon_img, display(r["recon"]))
    np.testing.assert_array_equal(x_img, display(engine.examples()[0][4]))
    assert sigma.ndim == 3 and sigma.shape[2] == 3


# --- bad inputs: image pickers ---------------------------------------------------------------


def _png_bytes(w=16, h=16) -> bytes:
    buf = io.BytesIO()
    Image.new("L", (w, h), 255).save(buf, "PNG")
    return buf.getvalue()


def _huge_png(path: Path, side: int = 20000) -> Path:
    """A real 16x16 PNG whose IHDR claims side x side (CRC recomputed, so the header is valid)."""
    png = bytearray(_png_bytes())
    assert png[12:16] == b"IHDR"
    png[16:24] = struct.pack(">II", side, side)
    png[29:33] = struct.pack(">I", zlib.crc32(bytes(png[12:29])) & 0xFFFFFFFF)
    path.write_bytes(bytes(png))
    return path


def _reconstruct_ok(api):
    out = api("vae_reconstruct")("en", {}, MODEL, "example", 1, None, None)
    assert out[1].dtype == np.uint8 and "ELBO" in out[2]


def _image_cases(tmp_path):
    text = tmp_path / "notes.png.txt"
    text.write_text("this is not an image\n" * 10)
    huge = _huge_png(tmp_path / "huge.png")
    blank = {"background": None, "layers": [], "composite": np.zeros((280, 280, 4), np.uint8)}
    white = {"background": np.full((280, 280, 4), 255, np.uint8), "layers": [], "composite": None}
    return {
        "text file": (("upload", None, str(text), None), lambda: data.decode_image(str(text)), "image_unreadable"),
        "20000x20000 png": (("upload", None, str(huge), None), lambda: data.decode_image(str(huge)),
                            "image_too_large"),
        "empty sketch": (("sketch", None, None, blank), lambda: data.sketch_to_digit(blank), "sketch_empty"),
        "white sketch": (("sketch", None, None, white), lambda: data.sketch_to_digit(white), "sketch_empty"),
    }


@pytest.mark.parametrize("case", ["text file", "20000x20000 png", "empty sketch", "white sketch"])
@pytest.mark.parametrize("lang", ["en", "zh"])
def test_bad_images_give_the_engine_message(api, tmp_path, case, lang):
    picker, reference, key = _image_cases(tmp_path)[case]
    want = _refusal(reference)
    assert want.key == key
    if key == "image_too_large":
        assert "20000x20000" in str(want)
    source, example, upload, sketch = picker
    calls = [
        ("vae_reconstruct", (MODEL, source, example, upload, sketch)),
        ("vae_slider_from_input", (MODEL, source, example, upload, sketch)),
        ("vae_endpoint_a", (MODEL, source, example, 0, upload, sketch)),
    ]
    for name, args in calls:
        with pytest.raises(gr.Error) as ei:
            api(name)(lang, {}, *args)
        message = _error_message(ei)
        assert message == want.localized(lang), (name, message)
        assert bool(CJK.search(message)) == (lang == "zh")
        assert ei.value.title == ("出错了" if lang == "zh" else "Error")
        _reconstruct_ok(api)


def test_a_missing_picture_is_skipped_or_explained(api):
    # Nothing chosen yet (no file, a sketchpad never touched): the live events wait quietly ...
    empty = {"background": None, "layers": [], "composite": None}
    out = api("vae_reconstruct")("en", {}, MODEL, "sketch", None, None, empty)
    assert out == (gr.skip(),) * 4
    # ... and the button that needs one says so.
    with pytest.raises(gr.Error) as ei:
        api("vae_slider_from_input")("zh", {}, MODEL, "upload", None, None, None)
    assert _error_message(ei) == UserError("image_missing").localized("zh")


# --- bad inputs: checkpoint uploads ----------------------------------------------------------


def _tiny(out_dir: Path, *, latent_dim=2, card=None) -> Path:
    from tests.conftest import save_tiny_checkpoint

    cfg = vae.Config(image_size=8, channels=1, latent_dim=latent_dim, widths=(4,), hidden=16)
    return save_tiny_checkpoint(out_dir, cfg, card=card)


def _zip(folder: Path, z: Path, extra=()) -> Path:
    with zipfile.ZipFile(z, "w") as zf:
        for name in FILES:
            zf.write(folder / name, name)
        for name, payload in extra:
            zf.writestr(name, payload)
    return z


def _upload_cases(tmp_path: Path) -> dict:
    """name -> (uploaded file paths, expected UserError key)."""
    good = _tiny(tmp_path / "good")
    cases = {}

    pt = tmp_path / "model.pt"
    pt.write_bytes(pickle.dumps({"weights": [1, 2, 3]}))
    cases["pickle"] = ([pt], "checkpoint_pickle")

    trunc = tmp_path / "trunc"
    trunc.mkdir()
    for name in FILES:
        (trunc / name).write_bytes((good / name).read_bytes())
    w = (good / checkpoint.WEIGHTS).read_bytes()
    (trunc / checkpoint.WEIGHTS).write_bytes(w[: len(w) // 2])
    cases["truncated safetensors"] = ([trunc / n for n in FILES], "checkpoint_corrupt")

    ddpm = _tiny(tmp_path / "ddpm", card={"family": "ddpm"})
    cases["wrong family"] = ([_zip(ddpm, tmp_path / "ddpm.zip")], "checkpoint_wrong_family")

    shapes = _tiny(tmp_path / "shapes")
    import json

    cfg = json.loads((shapes / checkpoint.CONFIG).read_text())
    cfg["latent_dim"] = 3
    (shapes / checkpoint.CONFIG).write_text(json.dumps(cfg))
    cases["mismatched shapes"] = ([_zip(shapes, tmp_path / "shapes.zip")], "checkpoint_shape_mismatch")

    for bad, label in ((float("nan"), "nan"), (float("inf"), "inf")):
        folder = _tiny(tmp_path / label)
        from safetensors.torch import load_file, save_file

        tensors = load_file(str(folder / checkpoint.WEIGHTS))
        key = next(k for k, v in tensors.items() if v.is_floating_point() and not k.startswith("aux/"))
        tensors[key].view(-1)[0] = bad
        save_file(tensors, str(folder / checkpoint.WEIGHTS))
        cases[f"{label} weights"] = ([_zip(folder, tmp_path / f"{label}.zip")], "checkpoint_nonfinite")

    many = [(f"junk/{i}.txt", b"") for i in range(3000)]
    cases["thousands of files"] = ([_zip(good, tmp_path / "many.zip", many)], "archive_unsafe")

    inner = _zip(good, tmp_path / "inner.zip")
    nested = tmp_path / "nested.zip"
    with zipfile.ZipFile(nested, "w") as zf:
        zf.write(inner, "inner.zip")
    cases["nested archive"] = ([nested], "archive_unsafe")
    return cases


UPLOAD_CASES = ("pickle", "truncated safetensors", "wrong family", "mismatched shapes", "nan weights",
                "inf weights", "thousands of files", "nested archive")


@pytest.fixture(scope="module")
def upload_cases(tmp_path_factory):
    return _upload_cases(tmp_path_factory.mktemp("uploads"))


def _upload_dirs() -> set:
    import tempfile

    return set(Path(tempfile.gettempdir()).glob("genlab-upload-*"))


def _engine_refusal(paths) -> UserError:
    """What the engine says about these files: unpack, load, build."""
    def go():
        folder = checkpoint.unpack_upload([str(p) for p in paths])
        vae.Engine.load(folder)
    return _refusal(go)


@pytest.mark.parametrize("case", UPLOAD_CASES)
@pytest.mark.parametrize("lang", ["en", "zh"])
def test_bad_checkpoint_uploads_are_explained(api, upload_cases, case, lang):
    paths, key = upload_cases[case]
    want = _engine_refusal(paths)
    assert want.key == key, (case, str(want))
    upload = api("vae_upload")
    uploads = {"vae": {}}
    before = _upload_dirs()
    with pytest.warns(UserWarning) as record:  # gr.Warning outside a request is a Python warning
        out = upload(lang, uploads, [str(p) for p in paths], MODEL, MODEL, MAP_MODEL)
    message = want.localized(lang)
    assert any(str(r.message) == message for r in record), [str(r.message) for r in record]
    status = out[5]
    assert status == "⚠️ " + message
    assert bool(CJK.search(status)) == (lang == "zh")
    assert "/tmp/" not in status  # no server paths in what the user reads
    assert out[6] is None  # the file box is cleared
    assert out[:5] == (gr.skip(),) * 5  # no model added, no dropdown changed
    assert uploads == {"vae": {}}  # the session's state is untouched
    assert _upload_dirs() <= before  # nothing of a refused upload stays on disk
    _reconstruct_ok(api)


def test_a_good_upload_after_bad_ones(api, upload_cases, tmp_path):
    upload = api("vae_upload")
    bad, _ = upload_cases["pickle"]
    with pytest.warns(UserWarning):
        upload("en", {}, [str(p) for p in bad], MODEL, MODEL, MAP_MODEL)
    good = _zip(_tiny(tmp_path / "my-vae"), tmp_path / "my-vae.zip")
    new_uploads, model_upd, left, right, map_upd, status, files = upload("en", {}, [str(good)], MODEL, MODEL, MAP_MODEL)
    assert list(new_uploads["vae"]) == ["my-vae"]
    assert model_upd["value"] == "upload:my-vae"
    assert ("my-vae (uploaded)", "upload:my-vae") in model_upd["choices"]
    assert left["value"] == MODEL and map_upd["value"] == MAP_MODEL
    assert "my-vae" in status and files is None
    # The uploaded 2-D model works everywhere a model is used, in this session only.
    z, decoded_seed = api("vae_endpoint_a")("en", new_uploads, "upload:my-vae", "seed", None, 5, None, None)
    assert len(z) == 2 and decoded_seed.dtype == np.uint8
    img = api("vae_slider")("en", new_uploads, "upload:my-vae", 1.0, -1.0, *[0.0] * 14)
    assert img.dtype == np.uint8
    grid, scatter, decoded, msg, z1, z2 = api("vae_map")("en", new_uploads, "upload:my-vae", 5, 2)
    assert decoded is not None and (z1, z2) == (0.0, 0.0)
    with pytest.raises(gr.Error) as ei:
        api("vae_slider")("en", {}, "upload:my-vae", *[0.0] * 16)
    assert "upload:my-vae" in _error_message(ei)
    from demo import common

    common.delete_uploads(new_uploads)
    assert not Path(new_uploads["vae"]["my-vae"]).exists()


# --- map ---------------------------------------------------------------------------------


def test_map_decode_follows_z(api):
    m = api("vae_map")("en", {}, MAP_MODEL, 9, 3)
    grid, scatter, decoded, message, z1, z2 = m
    assert (z1, z2) == (0.0, 0.0) and grid.shape[0] >= 400 and scatter.ndim == 3
    at0 = api("vae_map_decode")("en", {}, MAP_MODEL, 9, 3, 0.0, 0.0)
    at2 = api("vae_map_decode")("en", {}, MAP_MODEL, 9, 3, 2.0, 2.0)
    np.testing.assert_array_equal(at0[2], decoded)
    assert not np.array_equal(at0[2], at2[2]) and at2[3:] == (2.0, 2.0)
    assert not np.array_equal(at0[1], at2[1])  # the crosshair moved
    # A 16-D model has no map: a message instead of an error.
    grid, scatter, decoded, message, *_ = api("vae_map")("zh", {}, MODEL, 9, 3)
    assert grid is None and message["visible"] is True and CJK.search(message["value"])
    with pytest.raises(gr.Error):
        api("vae_map_decode")("en", {}, MAP_MODEL, 9, 3, math.nan, 0.0)


def test_language_switch_updates_every_registered_text(api):
    en = api("set_language")("en")
    zh = api("set_language")("zh")
    assert en[0] == "en" and zh[0] == "zh" and len(en) == len(zh) > 50
    labels = [u.get("label") for u in zh[1:] if isinstance(u, dict)]
    assert "模型" in labels and "t（0 = A，1 = B）" in labels
    assert api("set_language")("fr")[0] == "en"


def test_host_and_port_default_to_local_and_follow_spaces_variables(monkeypatch):
    import app

    monkeypatch.delenv("GRADIO_SERVER_NAME", raising=False)
    monkeypatch.delenv("GRADIO_SERVER_PORT", raising=False)
    args = app.build_parser().parse_args([])
    assert (args.host, args.port) == ("127.0.0.1", 7860)
    monkeypatch.setenv("GRADIO_SERVER_NAME", "0.0.0.0")  # what a Hugging Face Space sets
    monkeypatch.setenv("GRADIO_SERVER_PORT", "7861")
    args = app.build_parser().parse_args([])
    assert (args.host, args.port) == ("0.0.0.0", 7861)
    args = app.build_parser().parse_args(["--host", "127.0.0.2", "--port", "9000"])
    assert (args.host, args.port) == ("127.0.0.2", 9000)
