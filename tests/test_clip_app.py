"""The CLIP tab in the launched app (python app.py, offline, shipped models) through gradio_client.

One server for the module. Each gradio_client.Client is one browser session, with its own runs.
"""

from __future__ import annotations

import re
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from tests.launch import launched_app

pytestmark = pytest.mark.app
CJK = re.compile(r"[\u4e00-\u9fff]")
CAPTIONS = "a red circle\na blue square\na green triangle"


@pytest.fixture(scope="module")
def server():
    with launched_app("--lang", "en", env={"HF_HUB_OFFLINE": "1", "OMP_NUM_THREADS": "1"}) as (url, proc, _):
        yield {"url": url, "proc": proc}


def new_client(server):
    pytest.importorskip("gradio_client")
    from gradio_client import Client

    return Client(server["url"], verbose=False)


@pytest.fixture
def client(server):
    return new_client(server)


def pixels(path) -> np.ndarray:
    assert isinstance(path, str) and Path(path).is_file(), path
    with Image.open(path) as im:
        return np.asarray(im.convert("RGB"))


def generate_args(prompt="a red circle", negative="", backend="genlab", generator="pixels", steps=12,
                  strength=1.0, seed=0, augment=2, label="none", size=64, per_layer=False, candidates=4):
    return (prompt, negative, backend, generator, steps, strength, seed, augment, label, size, per_layer, candidates)


def test_generate_streams_and_ends_with_a_gallery(client):
    job = client.submit(*generate_args(), api_name="/clip_generate")
    final = job.result(timeout=120)
    outputs = job.outputs()
    assert len(outputs) >= 2, len(outputs)  # streamed frames, then the last one
    status, image, best, plot, gallery = final
    assert "Done" in status and "12 steps" in status
    assert pixels(image).shape[0] >= 200 and pixels(best).shape == pixels(image).shape
    data = plot["value"]["data"]  # (step, score, series) rows: the score and the best so far at every step
    assert plot["x_lim"] == [0, 12] and len(data) == 26 and data[-1][0] == 12
    assert data[-1][1] == pytest.approx(max(row[1] for row in data[:13]))
    assert len(gallery) >= 3 and gallery[-1]["caption"].startswith("★")
    # What CLIP sees, in the same session: the run's best image against the captions.
    seen, bars, text = client.predict("genlab", "run", None, CAPTIONS, api_name="/clip_sees")
    assert "picks" in text and pixels(bars).shape[0] > 100 and pixels(seen).shape[0] >= 200


def test_stop_keeps_the_best_image_and_sessions_are_separate(server):
    a, b = new_client(server), new_client(server)
    job = a.submit(*generate_args(steps=1000, augment=0), api_name="/clip_generate")
    t0 = time.perf_counter()
    while len(job.outputs()) < 1:
        assert time.perf_counter() - t0 < 60, "no frame streamed within a minute"
        time.sleep(0.1)
    b.predict(api_name="/clip_stop")  # another session's Stop does not stop this run
    time.sleep(1.0)
    assert not job.done()
    a.predict(api_name="/clip_stop")
    t_stop = time.perf_counter()
    status, _, best, _, gallery = job.result(timeout=30)
    assert time.perf_counter() - t_stop < 10
    assert "Stopped" in status and "best image so far" in status and pixels(best).shape[0] >= 200
    assert gallery[-1]["caption"].startswith("★")
    from gradio_client.exceptions import AppError

    with pytest.raises(AppError, match="Generate"):  # session b has generated nothing
        b.predict("genlab", "run", None, CAPTIONS, api_name="/clip_sees")


def test_bad_input_in_the_session_language(client, tmp_path):
    from gradio_client import handle_file
    from gradio_client.exceptions import AppError

    with pytest.raises(AppError, match="prompt"):
        client.predict(*generate_args(prompt="  "), api_name="/clip_generate")
    with pytest.raises(AppError, match="5000"):
        client.predict(*generate_args(prompt="y" * 5000), api_name="/clip_generate")
    client.predict("zh", api_name="/set_language")
    for bad in (generate_args(strength="nan"), generate_args(steps=0), generate_args(generator="nope")):
        with pytest.raises(AppError) as ei:
            client.predict(*bad, api_name="/clip_generate")
        assert CJK.search(str(ei.value)) and "服务器出错" not in str(ei.value), (bad, str(ei.value))
    t0 = time.perf_counter()
    with pytest.raises(AppError) as ei:
        client.predict(*generate_args(backend="pretrained"), api_name="/clip_generate")
    assert time.perf_counter() - t0 < 10 and "GenLab" in str(ei.value) and CJK.search(str(ei.value))
    txt = tmp_path / "words.txt"
    txt.write_text("not an image")
    with pytest.raises(AppError) as ei:
        client.predict("genlab", "upload", handle_file(str(txt)), CAPTIONS, api_name="/clip_sees")
    assert "words.txt" in str(ei.value) and CJK.search(str(ei.value))


def test_chinese_prompt_and_captions(client):
    client.predict("zh", api_name="/set_language")
    status, *_ = client.predict(*generate_args(prompt="红色圆形", steps=4), api_name="/clip_generate")
    assert "完成" in status and "红色圆形" in status
    _, _, text = client.predict("genlab", "run", None, "红色圆形\n蓝色正方形", api_name="/clip_sees")
    assert "选择了" in text
    captions = client.predict("mnist-vae-z16", api_name="/clip_captions")
    assert captions.splitlines()[7] == "数字七"
