"""Saving and loading a latent vector (.npy) in the VAE and StyleGAN tabs, and the VAE map's hover.

Uploads are hostile: every bad file below must end as a bilingual UserError (a gr.Error through
the handlers), never a crash and never a pickle read. Handlers are called as the built app wires
them (tests.tab_fixtures.api_lookup); one bad file goes through a launched app with gradio_client.
"""

from __future__ import annotations

import pickle
import re
import zipfile
from types import SimpleNamespace

import gradio as gr
import numpy as np
import pytest

from engines import checkpoint, latent_file
from engines.errors import UserError
from tests.tab_fixtures import api_lookup

VAE = "mnist-vae-z16"
MAP_MODEL = "mnist-vae-z2"
GAN = "faces-stylegan"
CJK = re.compile(r"[\u4e00-\u9fff]")


@pytest.fixture(scope="module")
def api():
    import app

    return api_lookup(app.build_app())


def _save(path, array, **kw):
    np.save(path, array, **kw)
    return str(path)


# --- engines.latent_file: every bad file, one key each -------------------------------------------


def _bad_files(tmp_path):
    """name -> (path, the error key it must get) for a model whose z has 16 numbers."""
    p = tmp_path
    big = p / "big.npy"
    big.write_bytes(b"\x93NUMPY" + b"\0" * (latent_file.MAX_BYTES + 1))
    (p / "text.npy").write_text("0.1 0.2 0.3")
    (p / "pickle.npy").write_bytes(pickle.dumps(np.zeros(16)))
    with zipfile.ZipFile(p / "archive.npy", "w") as z:  # an .npz under another name
        z.writestr("z.npy", b"")
    obj = np.empty(16, dtype=object)
    obj[:] = [0.0] * 16
    truncated = p / "truncated.npy"
    truncated.write_bytes(open(_save(p / "full.npy", np.zeros(16, np.float32)), "rb").read()[:-8])
    nan, inf, huge = (np.zeros(16, np.float32) for _ in range(3))
    nan[3], inf[5], huge[0] = np.nan, -np.inf, 1e6
    return {
        "missing": (str(p / "nothing-here.npy"), "latent_file_missing"),
        "none": (None, "latent_file_missing"),
        "too big": (str(big), "latent_file_too_big"),
        "text": (str(p / "text.npy"), "latent_file_not_npy"),
        "pickle": (str(p / "pickle.npy"), "latent_file_not_npy"),
        "npz": (str(p / "archive.npy"), "latent_file_not_npy"),
        "truncated": (str(truncated), "latent_file_not_npy"),
        "object": (_save(p / "object.npy", obj, allow_pickle=True), "latent_file_dtype"),
        "complex": (_save(p / "complex.npy", np.zeros(16, np.complex64)), "latent_file_dtype"),
        "strings": (_save(p / "strings.npy", np.array(["a"] * 16)), "latent_file_dtype"),
        "struct": (_save(p / "struct.npy", np.zeros(16, [("a", "f4")])), "latent_file_dtype"),
        "wrong length": (_save(p / "short.npy", np.zeros(15, np.float32)), "latent_file_shape"),
        "wrong rank": (_save(p / "matrix.npy", np.zeros((4, 4), np.float32)), "latent_file_shape"),
        "scalar": (_save(p / "scalar.npy", np.float32(1.0)), "latent_file_shape"),
        "nan": (_save(p / "nan.npy", nan), "latent_file_not_finite"),
        "inf": (_save(p / "inf.npy", inf), "latent_file_not_finite"),
        "huge": (_save(p / "huge.npy", huge), "latent_file_values"),
    }


def test_each_bad_file_is_refused_with_its_own_message(tmp_path):
    for name, (path, key) in _bad_files(tmp_path).items():
        with pytest.raises(UserError) as err:
            latent_file.read(path, [(16,), (1, 16)])
        assert err.value.key == key, name
        assert CJK.search(err.value.localized("zh")), name


def test_a_pickle_is_never_unpickled(tmp_path, monkeypatch):
    """A pickle with a .npy header's magic is still refused, and pickle.loads is never called."""
    monkeypatch.setattr(pickle, "loads", lambda *a, **k: pytest.fail("unpickled"))
    obj = np.empty(16, dtype=object)
    obj[:] = [1.0] * 16
    with pytest.raises(UserError):
        latent_file.read(_save(tmp_path / "o.npy", obj, allow_pickle=True), [(16,)])


def test_good_files_round_trip(tmp_path):
    z = np.linspace(-2, 2, 16).astype(np.float32)
    back = latent_file.read(latent_file.write(tmp_path / "z.npy", z), [(16,)])
    np.testing.assert_array_equal(back, z)
    assert back.dtype == np.float32
    # float64, int and big-endian files are numbers too; (1, D) is accepted where asked for.
    np.testing.assert_array_equal(latent_file.read(_save(tmp_path / "a.npy", z.astype(">f8")[None]), [(16,), (1, 16)]),
                                  z[None])
    np.testing.assert_array_equal(latent_file.read(_save(tmp_path / "i.npy", np.arange(16)), [(16,)]),
                                  np.arange(16, dtype=np.float32))


# --- the VAE tab ---------------------------------------------------------------------------------


def test_vae_save_then_load_restores_the_sliders(api, tmp_path):
    values = [round(0.05 * k - 0.4, 2) for k in range(16)]
    _, note = api("vae_latent_save")("en", {}, VAE, *values)
    path = _file_path(_)
    z = np.load(path)
    assert z.shape == (16,) and z.dtype == np.float32
    assert "16" in note
    out = api("vae_latent_load")("en", {}, VAE, path)
    np.testing.assert_allclose(out[:16], values, atol=1e-6)
    np.testing.assert_array_equal(out[16], api("vae_slider")("en", {}, VAE, *values))
    assert "z-" in path and path.endswith(".npy")


def _file_path(update) -> str:
    value = update["value"] if isinstance(update, dict) else update
    return value if isinstance(value, str) else value.path


def test_vae_load_clips_to_the_sliders_and_says_so(api, tmp_path):
    z = np.zeros(16, np.float32)
    z[2] = 7.5
    out = api("vae_latent_load")("zh", {}, VAE, _save(tmp_path / "far.npy", z))
    assert out[2] == pytest.approx(3.0)
    assert CJK.search(out[-1]) and "3" in out[-1]


@pytest.mark.parametrize("bad", ["wrong length", "nan", "huge", "pickle", "object", "too big"])
def test_vae_load_refuses_bad_files_in_the_session_language(api, tmp_path, bad):
    path, key = _bad_files(tmp_path)[bad]
    for lang in ("en", "zh"):
        with pytest.raises(gr.Error) as err:
            api("vae_latent_load")(lang, {}, VAE, path)
        message = str(err.value.message)
        assert bool(CJK.search(message)) == (lang == "zh"), (bad, message)


def test_vae_load_refuses_the_other_models_size(api, tmp_path):
    """A z of the 2-D model does not fit the 16-D one: the message names both shapes."""
    with pytest.raises(gr.Error, match=r"\(2,\).*\(16,\)"):
        api("vae_latent_load")("en", {}, VAE, _save(tmp_path / "z2.npy", np.zeros(2, np.float32)))


def test_map_hover_decodes_where_the_pointer_is():
    from demo import vae_tab
    from demo.common import Models
    from demo.vae_tab import VaeHandlers

    h = VaeHandlers(Models("vae", checkpoint.ASSETS_DIR))
    v = SimpleNamespace(uploads={}, map_model=MAP_MODEL, n=15, span=3.0)
    left = h.map_hover_grid("en", SimpleNamespace(**vars(v), pos=100 * 1000 + 500))  # x 0.1005, y 0.5005
    right = h.map_hover_grid("en", SimpleNamespace(**vars(v), pos=900 * 1000 + 500))
    lim = 3.0 + 3.0 / 14
    step = vae_tab.HOVER_STEP  # z is put on this grid (decodes shared by every session)
    assert left["z1"] == pytest.approx(-lim + 2 * lim * 0.1005, abs=step / 2 + 1e-6)
    assert right["z1"] == pytest.approx(-lim + 2 * lim * 0.9005, abs=step / 2 + 1e-6)
    assert left["z2"] == pytest.approx(lim - 2 * lim * 0.5005, abs=step / 2 + 1e-6)
    assert round(left["z1"] / step, 6).is_integer()
    assert not np.array_equal(left["decoded"], right["decoded"])
    # The scatter's pixels go through its axes; a point in its margin decodes nothing.
    assert h.map_hover_scatter("en", SimpleNamespace(**vars(v), pos=0)) == {}
    middle = h.map_hover_scatter("en", SimpleNamespace(**vars(v), pos=500 * 1000 + 500))
    assert abs(middle["z1"]) < 1 and abs(middle["z2"]) < 1
    with pytest.raises(UserError):
        h.map_hover_grid("en", SimpleNamespace(**vars(v), pos=1_000_000))


# --- the StyleGAN tab ----------------------------------------------------------------------------


def test_gan_save_then_load_gives_the_same_picture(api, tmp_path):
    w_list, image, note = api("gan_latent_seed")("en", {}, GAN, 7, 0.7)
    file_update, _ = api("gan_latent_save")("en", {}, GAN, w_list, 7, 0.7)
    path = _file_path(file_update)
    w = np.load(path)
    assert w.shape == (len(w_list),) and w.dtype == np.float32
    w_back, image_back, note_back = api("gan_latent_load")("en", {}, GAN, path)
    np.testing.assert_array_equal(np.asarray(w_back, np.float32), w)
    np.testing.assert_array_equal(image_back, image)
    # One w per layer (a style-mixed w+) is taken as it is.
    ws = np.repeat(w[None], 1, axis=0)
    assert api("gan_latent_load")("en", {}, GAN, _save(tmp_path / "w1.npy", ws))[0] == w_back


@pytest.mark.parametrize("bad", ["wrong length", "inf", "strings"])
def test_gan_load_refuses_bad_files(api, tmp_path, bad):
    path, _ = _bad_files(tmp_path)[bad]
    with pytest.raises(gr.Error):
        api("gan_latent_load")("zh", {}, GAN, path)


# --- through HTTP ----------------------------------------------------------------------------------


@pytest.mark.slow
def test_a_bad_file_through_gradio_client_gets_the_message(tmp_path):
    from gradio_client import Client, handle_file

    from tests.launch import launched_app

    nan = np.zeros(16, np.float32)
    nan[0] = np.nan
    with launched_app("--lang", "en") as (url, _, _):
        client = Client(url, verbose=False)
        with pytest.raises(Exception, match="NaN or infinite"):
            client.predict(VAE, handle_file(_save(tmp_path / "nan.npy", nan)), api_name="/vae_latent_load")
        good = np.full(16, 0.5, np.float32)
        out = client.predict(VAE, handle_file(_save(tmp_path / "good.npy", good)), api_name="/vae_latent_load")
        assert list(out[:16]) == [0.5] * 16
