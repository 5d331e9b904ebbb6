"""Issue 19's list of bad input, sent straight to the launched app's API (gradio_client, and raw
HTTP for NaN, which gradio_client's JSON will not send): an image of the wrong size or channels,
top-p of 0 or 1.5, a temperature of 0 or NaN, a token index beyond the codebook. Each gets a clear
message in the session's language (English, then Chinese after /set_language), and the app still
answers the next request. One server for the module."""

from __future__ import annotations

import re

import numpy as np
import pytest
from PIL import Image

from benchmarks import hostile
from tests.launch import launched_app

pytestmark = pytest.mark.app

CJK = re.compile(r"[\u4e00-\u9fff]")
PRIOR = dict(model="mnist-vqvae", label="7", temperature=1.0, top_k=0, top_p=1.0, seed=5, n=2)
PIXELCNN = dict(model="mnist-pixelcnn", n=2, seed=3, label="all", temperature=1.0, top_k=0, top_p=1.0)
# (api, settings, field, value, words the English message must hold)
SETTINGS = [
    ("/vq_sample", PRIOR, "top_p", 0.0, "between 0.05 and 1"),
    ("/vq_sample", PRIOR, "top_p", 1.5, "between 0.05 and 1"),
    ("/vq_sample", PRIOR, "temperature", 0.0, "between 0.1 and 3"),
    ("/pixelcnn_sample", PIXELCNN, "top_p", 0.0, "top-p"),
    ("/pixelcnn_sample", PIXELCNN, "top_p", 1.5, "top-p"),
    ("/pixelcnn_sample", PIXELCNN, "temperature", 0.0, "emperature"),
]


@pytest.fixture(scope="module")
def server():
    with launched_app("--lang", "en", env={"HF_HUB_OFFLINE": "1"}) as (url, proc, _):
        yield url


def client_for(url, lang):
    from gradio_client import Client

    client = Client(url, verbose=False)
    if lang == "zh":
        client.predict("zh", api_name="/set_language")
    return client


def refused(client, *args, api_name, **kwargs) -> str:
    from gradio_client.exceptions import AppError

    with pytest.raises(AppError) as err:
        client.predict(*args, api_name=api_name, **kwargs)
    message = str(err.value)
    assert len(message) > 15 and "Traceback" not in message and hostile.UNEXPECTED not in message, message
    return message


def png(path, array) -> str:
    Image.fromarray(array).save(path)
    return str(path)


def encode(client, model, path):
    from gradio_client import handle_file

    return client.predict(model=model, source="upload", example=0, upload=handle_file(path), sketch=None,
                          api_name="/vq_encode")


@pytest.mark.parametrize("lang", ["en", "zh"])
@pytest.mark.parametrize("api, settings, field, value, words", SETTINGS)
def test_sampling_settings_outside_their_range_are_refused_clearly(server, lang, api, settings, field, value, words):
    client = client_for(server, lang)
    message = refused(client, **{**settings, field: value}, api_name=api)
    assert CJK.search(message) if lang == "zh" else words.lower() in message.lower(), message
    client.predict(**settings, api_name=api)   # still serving


@pytest.mark.parametrize("api, data, field", [
    ("vq_sample", ["mnist-vqvae", "7", float("nan"), 0, 1.0, 5, 2], "Temperature"),
    ("pixelcnn_sample", ["mnist-pixelcnn", 2, 3, "all", float("nan"), 0, 1.0], "emperature"),
])
def test_a_nan_temperature_is_refused_clearly(server, api, data, field):
    answer = hostile.call(server, api, data)
    assert answer.refused and "finite" in answer.message and field in answer.message, answer
    assert hostile.UNEXPECTED not in answer.message


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_a_token_index_beyond_the_codebook_is_refused_clearly(server, lang):
    client = client_for(server, lang)
    client.predict("mnist-vqvae", "example", 0, None, None, api_name="/vq_encode")
    for code in (64, 10_000, -1):  # K = 64: codes 0-63
        message = refused(client, "mnist-vqvae", 3, 3, code, api_name="/vq_replace")
        assert CJK.search(message) if lang == "zh" else "between 0 and 63" in message, message
    out = client.predict("mnist-vqvae", 3, 3, 63, api_name="/vq_replace")   # the last code is fine
    assert "63" in " ".join(o for o in out if isinstance(o, str))


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_an_image_of_another_size_or_colour_is_fitted_and_said_so(server, tmp_path, lang):
    client = client_for(server, lang)
    photo = np.zeros((60, 100, 3), np.uint8)
    photo[20:40, 30:70] = (255, 200, 0)                     # a 100x60 colour picture for a 28x28 grey model
    out = encode(client, "mnist-vqvae", png(tmp_path / "photo.png", photo))
    info = " ".join(o for o in out if isinstance(o, str))
    assert ("100×60" in info and "28×28 grey" in info) if lang == "en" else "28×28 灰度" in info, info
    grey = np.full((32, 32), 128, np.uint8)                 # a grey one for the 32x32 colour shapes model
    info = " ".join(o for o in encode(client, "shapes-vqvae", png(tmp_path / "grey.png", grey)) if isinstance(o, str))
    assert "8×8 = 64" in info, info   # encoded: a grey picture is a colour one with equal channels
    from gradio_client import handle_file

    out = client.predict(model="mnist-pixelcnn", source="upload", example=0, upload=handle_file(str(tmp_path / "photo.png")),
                         sketch=None, rows=14, **{k: PIXELCNN[k] for k in ("n", "seed", "label", "temperature", "top_k",
                                                                           "top_p")}, api_name="/pixelcnn_complete")
    status = " ".join(o for o in out if isinstance(o, str))
    assert ("100×60" in status and "28×28 grey" in status) if lang == "en" else "28×28 灰度" in status, status


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_an_image_too_small_or_not_an_image_is_refused_clearly(server, tmp_path, lang):
    from gradio_client import handle_file

    client = client_for(server, lang)
    tiny = png(tmp_path / "tiny.png", np.zeros((4, 4, 3), np.uint8))
    message = refused(client, model="mnist-vqvae", source="upload", example=0, upload=handle_file(tiny),
                      sketch=None, api_name="/vq_encode")
    assert CJK.search(message) if lang == "zh" else "at least 8 pixels" in message, message
    fake = tmp_path / "notes.png"
    fake.write_text("not a picture")
    message = refused(client, model="mnist-vqvae", source="upload", example=0, upload=handle_file(str(fake)),
                      sketch=None, api_name="/vq_encode")
    assert CJK.search(message) if lang == "zh" else "not an image" in message, message
    message = refused(client, model="mnist-pixelcnn", source="upload", example=0, upload=handle_file(tiny),
                      sketch=None, rows=14,
                      **{k: PIXELCNN[k] for k in ("n", "seed", "label", "temperature", "top_k", "top_p")},
                      api_name="/pixelcnn_complete")
    assert CJK.search(message) if lang == "zh" else "at least 8 pixels" in message, message
