"""The 2-D playground in the launched app (python app.py, offline) through gradio_client: set up,
play (streamed frames), pause within a second, step, bad input in the session's language."""

from __future__ import annotations

import re
import time

import pytest

from tests.launch import launched_app

pytestmark = pytest.mark.app

CJK = re.compile(r"[\u4e00-\u9fff]")
CONTROLS = ["gan", "gaussians8", "ns", "0.003", 1, 1.0, 1.0, 256, 0, 0]
VIEW = ["js", ["heat", "real", "fake", "arrows"], 12, 3]
IMG = re.compile(r'src="data:image/png;base64,([^"]+)"')


@pytest.fixture(scope="module")
def server():
    with launched_app("--lang", "en") as (url, _proc, _):
        yield url


@pytest.fixture
def client(server):
    from gradio_client import Client

    return Client(server, verbose=False)


def test_setup_play_pause(client):
    html, status = client.predict(*CONTROLS, None, *VIEW, api_name="/playground_setup")
    assert IMG.search(html) and "Ready" in status
    job = client.submit(*CONTROLS, *VIEW, api_name="/playground_play")
    t0 = time.perf_counter()
    while len(job.outputs()) < 4 and time.perf_counter() - t0 < 60:
        time.sleep(0.05)
    outs = job.outputs()
    assert len(outs) >= 4, outs
    frames = [IMG.search(o[0]).group(1) for o in outs if isinstance(o[0], str) and IMG.search(o[0])]
    assert len(set(frames)) >= 3   # the picture changes while it trains
    assert "▶" in outs[-1][1]
    paused = time.perf_counter()
    client.predict(api_name="/playground_pause")
    job.result(timeout=10)
    assert time.perf_counter() - paused < 1.5   # pause reaches the loop within a second (+ the round trips)
    assert "Paused" in job.outputs()[-1][1]
    # Single steps go on from where play stopped, in the same session.
    step_from = int(re.search(r"step (\d+)", job.outputs()[-1][1]).group(1))
    html, status = client.predict(*CONTROLS, *VIEW, api_name="/playground_step_d")
    assert f"Step {step_from + 1} (D only)" in status and IMG.search(html)


def test_a_second_client_is_a_separate_session(server, client):
    from gradio_client import Client

    client.predict(*CONTROLS, None, *VIEW, api_name="/playground_setup")
    client.predict(*CONTROLS, *VIEW, api_name="/playground_step")
    _, status = client.predict(*CONTROLS, *VIEW, api_name="/playground_step")
    assert "Step 2" in status
    other = Client(server, verbose=False)
    other.predict(*CONTROLS, None, *VIEW, api_name="/playground_setup")
    _, status = other.predict(*CONTROLS, *VIEW, api_name="/playground_step")
    assert "Step 1" in status   # its own model, not the first client's


def test_bad_input_in_the_session_language(client):
    from gradio_client.exceptions import AppError

    bad = list(CONTROLS)
    bad[3] = "very fast"
    with pytest.raises(AppError, match="learning rate"):
        client.predict(*bad, None, *VIEW, api_name="/playground_setup")
    client.predict("zh", api_name="/set_language")
    with pytest.raises(AppError) as err:
        client.predict(*bad, None, *VIEW, api_name="/playground_setup")
    assert CJK.search(str(err.value))
    # A learning rate far too large: reported, paused, the last good weights kept.
    diverge = ["vae", "gaussians8", "ns", "1000", 1, 1.0, 1.0, 256, 0, 0]
    client.predict(*diverge, None, *VIEW, api_name="/playground_setup")
    job = client.submit(*diverge, *VIEW, api_name="/playground_play")
    job.result(timeout=60)
    last = job.outputs()[-1]
    assert "⚠" in last[1] and "发散" in last[1] and IMG.search(last[0])
