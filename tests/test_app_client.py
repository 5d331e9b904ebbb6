"""The launched app (python app.py, offline) driven by gradio_client, one server per module.

Each gradio_client.Client is its own session: hidden gr.State values (the endpoints' z, the
session's uploads, the language) live on the server per client, as they would per browser tab.
"""

from __future__ import annotations

import re
import time
import zipfile
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from tests.launch import launched_app

pytestmark = pytest.mark.app

MODEL = "mnist-vae-z16"
MAP_MODEL = "mnist-vae-z2"
BETA = ("mnist-vae-z16", "mnist-vae-z16-beta4")
CJK = re.compile(r"[\u4e00-\u9fff]")


@pytest.fixture(scope="module")
def server():
    pytest.importorskip("gradio_client")
    with launched_app(env={"HF_HUB_OFFLINE": "1"}) as (url, proc, startup_s):
        yield {"url": url, "proc": proc, "startup_s": startup_s}


def _client(server):
    from gradio_client import Client

    return Client(server["url"], verbose=False)


@pytest.fixture
def client(server):
    return _client(server)


def pixels(path) -> np.ndarray:
    assert isinstance(path, str) and Path(path).is_file(), path
    with Image.open(path) as im:
        return np.asarray(im.convert("L"))


def _app_error():
    from gradio_client.exceptions import AppError

    return AppError


def _checkpoint_zip(folder: Path, name: str, latent_dim: int = 2) -> Path:
    from engines import vae
    from tests.conftest import save_tiny_checkpoint

    cfg = vae.Config(image_size=8, channels=1, latent_dim=latent_dim, widths=(4,), hidden=16)
    ck = save_tiny_checkpoint(folder / name, cfg)
    z = folder / f"{name}.zip"
    with zipfile.ZipFile(z, "w") as zf:
        for f in ("config.json", "model.safetensors", "card.json"):
            zf.write(ck / f, f)
    return z


# --- start-up --------------------------------------------------------------------------------


def test_starts_offline_within_60_s(server):
    assert server["startup_s"] < 60, f"took {server['startup_s']:.1f} s to serve"
    assert server["proc"].poll() is None


def test_api_names(client):
    info = client.view_api(return_format="dict", print_info=False)
    named = info["named_endpoints"]
    for name in ("vae_interpolate", "vae_endpoint_a", "vae_endpoint_b", "vae_interp_all", "vae_interp_strip",
                 "vae_interp_gif", "vae_slider", "vae_slider_plot", "vae_slider_reset", "vae_slider_random",
                 "vae_slider_from_input", "vae_map", "vae_map_decode", "vae_reconstruct", "vae_beta_compare",
                 "vae_upload", "vae_model", "set_language"):
        assert "/" + name in named, name

    def params(name):
        return [p["parameter_name"] for p in named["/" + name]["parameters"]]

    # Hidden states (language, uploads, the endpoints' z) are not client inputs.
    assert params("vae_interpolate") == ["model", "t_value", "mode"]
    assert params("vae_endpoint_a") == ["model", "source", "example", "seed", "upload", "sketch"]
    assert params("vae_map_decode") == ["map_model", "n", "span", "z1", "z2"]
    assert params("vae_upload") == ["files", "beta_left", "beta_right", "map_model"]
    assert len(params("vae_slider")) == 17
    assert len(named["/vae_map"]["returns"]) == 6 and len(named["/vae_reconstruct"]["returns"]) == 4


# --- interpolation ---------------------------------------------------------------------------


def test_interpolation_follows_t_and_the_session_endpoints(client):
    img_a = pixels(client.predict(MODEL, "example", 0, 0, None, None, api_name="/vae_endpoint_a"))
    img_b = pixels(client.predict(MODEL, "seed", 0, 42, None, None, api_name="/vae_endpoint_b"))
    assert not np.array_equal(img_a, img_b)
    at = {t: pixels(client.predict(MODEL, t, "linear", api_name="/vae_interpolate")) for t in (0.0, 0.3, 0.8, 1.0)}
    np.testing.assert_array_equal(at[0.0], img_a)
    np.testing.assert_array_equal(at[1.0], img_b)
    assert not np.array_equal(at[0.3], at[0.8])
    # Another session has its own endpoints: its t = 0 is not this session's A.
    other = _client({"url": client.src})
    other.predict(MODEL, "example", 5, 0, None, None, api_name="/vae_endpoint_a")
    other.predict(MODEL, "example", 6, 0, None, None, api_name="/vae_endpoint_b")
    other_at0 = pixels(other.predict(MODEL, 0.0, "linear", api_name="/vae_interpolate"))
    assert not np.array_equal(other_at0, img_a)
    np.testing.assert_array_equal(pixels(client.predict(MODEL, 0.0, "linear", api_name="/vae_interpolate")), img_a)
    image, strip = client.predict(MODEL, 0.5, "spherical", 5, api_name="/vae_interp_all")
    assert pixels(strip).shape[1] > 4 * pixels(strip).shape[0]
    gif = client.predict(MODEL, "linear", api_name="/vae_interp_gif")
    gif = gif["value"] if isinstance(gif, dict) else gif
    with Image.open(gif) as im:
        assert im.format == "GIF" and im.n_frames > 10


def test_an_endpoint_set_alone_is_kept(client):
    fresh = _client({"url": client.src})  # a new session: no endpoints yet
    default_at0 = pixels(fresh.predict(MODEL, 0.0, "linear", api_name="/vae_interpolate"))
    img_b = pixels(fresh.predict(MODEL, "seed", 0, 7, None, None, api_name="/vae_endpoint_b"))
    np.testing.assert_array_equal(pixels(fresh.predict(MODEL, 1.0, "linear", api_name="/vae_interpolate")), img_b)
    np.testing.assert_array_equal(pixels(fresh.predict(MODEL, 0.0, "linear", api_name="/vae_interpolate")),
                                  default_at0)


# --- sliders ---------------------------------------------------------------------------------


def test_slider_moves_the_picture(client):
    zeros = [0.0] * 16
    base = pixels(client.predict(MODEL, *zeros, api_name="/vae_slider"))
    moved = pixels(client.predict(MODEL, 2.0, *zeros[1:], api_name="/vae_slider"))
    assert not np.array_equal(base, moved)
    reset = client.predict(MODEL, api_name="/vae_slider_reset")
    assert len(reset) == 18 and list(reset[:16]) == zeros
    np.testing.assert_array_equal(pixels(reset[16]), base)


# --- 2-D map ---------------------------------------------------------------------------------


def test_map_decode_at_two_points(client):
    grid, scatter, decoded, message, z1, z2 = client.predict(MAP_MODEL, 9, 3, api_name="/vae_map")
    assert (z1, z2) == (0.0, 0.0)
    assert pixels(grid).shape[0] >= 400 and pixels(scatter).shape[0] >= 400
    at0 = client.predict(MAP_MODEL, 9, 3, 0.0, 0.0, api_name="/vae_map_decode")
    at2 = client.predict(MAP_MODEL, 9, 3, 2.0, 2.0, api_name="/vae_map_decode")
    np.testing.assert_array_equal(pixels(at0[2]), pixels(decoded))
    assert not np.array_equal(pixels(at0[2]), pixels(at2[2]))
    assert tuple(at2[3:]) == (2.0, 2.0)
    # A 16-D model cannot be mapped: a visible message, not an error.
    out = client.predict(MODEL, 9, 3, api_name="/vae_map")
    assert out[0] is None and out[3]["visible"] is True and "2" in out[3]["value"]


# --- reconstruction --------------------------------------------------------------------------


def test_reconstruct_an_example(client):
    x, recon, metrics, sigma = client.predict(MODEL, "example", 3, None, None, api_name="/vae_reconstruct")
    nums = [float(v) for v in re.findall(r"\|\s*\**(-?\d+\.\d)\**\s*\|", metrics)]
    assert len(nums) == 3, metrics
    assert nums[0] > 0 and nums[1] > 0 and abs(nums[0] + nums[1] - nums[2]) <= 0.11
    assert not np.array_equal(pixels(x), pixels(recon))
    # The reconstruction decodes the posterior mean, which is endpoint A for the same example.
    a = client.predict(MODEL, "example", 3, 0, None, None, api_name="/vae_endpoint_a")
    np.testing.assert_array_equal(pixels(a), pixels(recon))


# --- uploads and sessions --------------------------------------------------------------------


def _upload(client, files):
    from gradio_client import handle_file

    return client.predict([handle_file(str(f)) for f in files], BETA[0], BETA[1], MAP_MODEL, api_name="/vae_upload")


def _choice_values(update) -> list:
    return [value for _, value in update["choices"]]


def test_uploads_stay_in_their_session(server, tmp_path):
    c1, c2 = _client(server), _client(server)
    out = _upload(c1, [_checkpoint_zip(tmp_path, "alice-vae")])
    model_upd, left_upd, right_upd, map_upd, status, files = out
    assert model_upd["value"] == "upload:alice-vae"
    assert "upload:alice-vae" in _choice_values(model_upd) and MODEL in _choice_values(model_upd)
    assert map_upd["value"] == MAP_MODEL and "alice-vae" in status and files is None
    # The uploaded (2-D) model works in its session, for the sliders and the map.
    img = pixels(c1.predict("upload:alice-vae", 1.0, -1.0, *[0.0] * 14, api_name="/vae_slider"))
    assert img.shape[0] >= 200
    assert c1.predict("upload:alice-vae", 5, 2, api_name="/vae_map")[2] is not None

    # The second session sees none of it: its own upload lists only its own model ...
    out2 = _upload(c2, [_checkpoint_zip(tmp_path, "bob-vae")])
    values2 = _choice_values(out2[0])
    assert "upload:bob-vae" in values2 and "upload:alice-vae" not in values2
    # ... and naming the first session's model fails cleanly.
    with pytest.raises(_app_error()) as ei:
        c2.predict("upload:alice-vae", *[0.0] * 16, api_name="/vae_slider")
    assert "upload:alice-vae" in str(ei.value)
    # Both sessions keep working.
    assert pixels(c2.predict("upload:bob-vae", *[0.0] * 16, api_name="/vae_slider")).shape[0] >= 200
    assert pixels(c1.predict("upload:alice-vae", *[0.0] * 16, api_name="/vae_slider")).shape[0] >= 200


def test_pickle_upload_is_refused_clearly(client, tmp_path):
    pt = tmp_path / "model.pt"
    pt.write_bytes(b"\x80\x04\x95\x05\x00\x00\x00\x00\x00\x00\x00K\x01.")  # pickle of 1
    out = _upload(client, [pt])
    assert all(u == {"__type__": "update"} for u in out[:4])  # no model added or selected
    assert out[4].startswith("⚠️") and "'model.pt' is a pickle checkpoint" in out[4]
    assert "safetensors" in out[4]
    # In a Chinese session the same refusal is in Chinese.
    client.predict("zh", api_name="/set_language")
    zh = _upload(client, [pt])[4]
    assert zh.startswith("⚠️") and CJK.search(zh) and "model.pt" in zh


def test_bad_image_error_in_the_session_language(client, tmp_path):
    from gradio_client import handle_file

    txt = tmp_path / "digit.txt"
    txt.write_text("not an image")
    with pytest.raises(_app_error()) as ei:
        client.predict(MODEL, "upload", None, handle_file(str(txt)), None, api_name="/vae_reconstruct")
    assert "digit.txt" in str(ei.value) and "not an image GenLab can read" in str(ei.value)
    client.predict("zh", api_name="/set_language")
    with pytest.raises(_app_error()) as ei:
        client.predict(MODEL, "upload", None, handle_file(str(txt)), None, api_name="/vae_reconstruct")
    assert "digit.txt" in str(ei.value) and CJK.search(str(ei.value))


def test_the_app_keeps_answering(server, client):
    assert server["proc"].poll() is None
    t0 = time.perf_counter()
    out = client.predict(MODEL, "example", 1, None, None, api_name="/vae_reconstruct")
    assert "ELBO" in out[2]
    assert pixels(client.predict(MODEL, 0.5, "linear", api_name="/vae_interpolate")).shape[0] >= 200
    assert time.perf_counter() - t0 < 30


# --- diffusion tab ---------------------------------------------------------------------------
# The launched app may ship no diffusion model yet, so each session uploads a tiny one.


def _ddpm_zip(folder: Path, name: str, **config) -> Path:
    from tests.diffusion_fixtures import save_tiny_ddpm, zip_checkpoint

    return zip_checkpoint(save_tiny_ddpm(folder / name, **config), folder / f"{name}.zip")


def _upload_ddpm(client, z: Path) -> str:
    from gradio_client import handle_file

    model, status, files = client.predict([handle_file(str(z))], api_name="/diffusion_upload")
    assert model["value"].startswith("upload:") and files is None, status
    return model["value"]


def test_diffusion_generate_streams_and_scrubs(server, tmp_path):
    from tests.diffusion_fixtures import T_TINY

    client = _client(server)
    model = _upload_ddpm(client, _ddpm_zip(tmp_path, "tiny-ddpm"))
    info = client.view_api(return_format="dict", print_info=False)["named_endpoints"]
    params = [p["parameter_name"] for p in info["/diffusion_generate"]["parameters"]]
    assert params == ["model", "n", "seed", "sampler", "steps", "eta", "label", "guidance"]
    for name in ("diffusion_forward", "diffusion_scrub", "diffusion_strip", "diffusion_export", "diffusion_branch",
                 "diffusion_fork", "diffusion_fork_scrub", "diffusion_stop", "diffusion_model"):
        assert "/" + name in info, name
    job = client.submit(model, 4, 0, "ddpm", 1, 0.0, "all", 2.0, api_name="/diffusion_generate")
    final = job.result(timeout=120)
    streamed = job.outputs()
    assert len(streamed) >= 2  # at least one streamed frame before the final one
    status, scrub, strip_ts = final[0], final[4], final[7]  # (the layout column is not returned)
    assert len(final) == 9 and pixels(final[1]).shape == pixels(final[3]).shape
    assert f"{T_TINY} steps" in status and scrub["maximum"] == T_TINY and strip_ts.endswith(", 0")
    # Scrubbing reads this session's stored run: x_T first, the samples last.
    first = client.predict(0, api_name="/diffusion_scrub")
    last = client.predict(T_TINY, api_name="/diffusion_scrub")
    assert f"t = {T_TINY}" in first[3] and "The samples" in last[3]
    assert not np.array_equal(pixels(first[0]), pixels(last[0]))
    np.testing.assert_array_equal(pixels(last[0]), pixels(last[2]))  # at t = 0, x_t is the sample
    strip = client.predict(2, f"{T_TINY}, 15, 10, 0", api_name="/diffusion_strip")  # four columns, three rows
    assert pixels(strip).shape[1] > pixels(strip).shape[0]
    gif = client.predict(api_name="/diffusion_export")[0]
    gif = gif["value"] if isinstance(gif, dict) else gif
    with Image.open(gif) as im:
        assert im.format == "GIF" and im.n_frames == T_TINY + 1
    # Another session has no run of its own to scrub, and cannot use this session's upload.
    other = _client(server)
    with pytest.raises(_app_error()) as ei:
        other.predict(0, api_name="/diffusion_scrub")
    assert "Generate" in str(ei.value)
    with pytest.raises(_app_error()) as ei:
        other.predict(model, 2, 0, "ddim", 5, 0.0, "all", 2.0, api_name="/diffusion_generate")
    assert model in str(ei.value)


def test_diffusion_stop_within_a_second_keeps_the_steps(server, tmp_path):
    client = _client(server)
    model = _upload_ddpm(client, _ddpm_zip(tmp_path, "long-ddpm", timesteps=2000))
    job = client.submit(model, 2, 0, "ddpm", 1, 0.0, "all", 2.0, api_name="/diffusion_generate")
    t0 = time.perf_counter()
    while len(job.outputs()) < 3:
        assert time.perf_counter() - t0 < 60 and not job.done()
        time.sleep(0.05)
    pressed = time.perf_counter()
    client.predict(api_name="/diffusion_stop")
    final = job.result(timeout=30)
    stopped_after = time.perf_counter() - pressed
    assert stopped_after < 1.0, stopped_after
    status, scrub = final[0], final[4]
    assert "Stopped" in status and "of 2000" in status
    kept = scrub["maximum"]
    assert 0 < kept < 2000
    # What was computed is kept and scrubbable.
    assert "Step" in client.predict(kept, api_name="/diffusion_scrub")[3]


def test_diffusion_bad_input_in_the_session_language(server, tmp_path):
    from tests.diffusion_fixtures import T_TINY

    client = _client(server)
    model = _upload_ddpm(client, _ddpm_zip(tmp_path, "tiny-ddpm"))
    for steps in (0, 100000):
        with pytest.raises(_app_error()) as ei:
            client.predict(model, 2, 0, "ddim", steps, 0.0, "all", 2.0, api_name="/diffusion_generate")
        assert f"from 1 to {T_TINY}" in str(ei.value) and str(steps) in str(ei.value)
    client.predict("zh", api_name="/set_language")
    with pytest.raises(_app_error()) as ei:
        client.predict(model, 2, 0, "ddim", 10, 0.0, "all", 1e9, api_name="/diffusion_generate")
    assert "引导系数" in str(ei.value) and "1000000000" in str(ei.value)  # (JSON cannot carry a NaN)
    # A VAE checkpoint is refused by the diffusion tab, with the reason, in Chinese.
    from gradio_client import handle_file

    out = client.predict([handle_file(str(_checkpoint_zip(tmp_path, "a-vae")))], api_name="/diffusion_upload")
    assert out[1].startswith("⚠️") and "vae" in out[1] and "ddpm" in out[1] and CJK.search(out[1])
