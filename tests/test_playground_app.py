"""The 2-D playground in the launched app (python app.py, offline) through gradio_client: set up,
play (streamed frames), pause within a second, step, points added by clicks (in frame pixels), the
host's cap on sessions playing at once (here 1 playing, 1 waiting: "busy, N ahead of you", then
"full"), bad input in the session's language."""

from __future__ import annotations

import re
import time

import numpy as np
import pytest

from tests.launch import launched_app

pytestmark = pytest.mark.app

CJK = re.compile(r"[\u4e00-\u9fff]")
CONTROLS = ["gan", "gaussians8", "ns", "0.003", 1, 1.0, 1.0, 256, 0, 0]
VIEW = ["js", ["heat", "real", "fake", "arrows"], 12, 3]
IMG = re.compile(r'src="data:image/png;base64,([^"]+)"')


@pytest.fixture(scope="module")
def server():
    # A small cap, as a host would set it: one session plays, one waits, the next hears "full".
    env = {"GENLAB_PLAYGROUND_PLAYERS": "1", "GENLAB_PLAYGROUND_WAITING": "1"}
    with launched_app("--lang", "en", env=env) as (url, _proc, _):
        yield url


@pytest.fixture
def client(server):
    from gradio_client import Client

    return Client(server, verbose=False)


def test_setup_play_pause(client):
    html, status = client.predict(*CONTROLS, *VIEW, api_name="/playground_setup")
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

    client.predict(*CONTROLS, *VIEW, api_name="/playground_setup")
    client.predict(*CONTROLS, *VIEW, api_name="/playground_step")
    _, status = client.predict(*CONTROLS, *VIEW, api_name="/playground_step")
    assert "Step 2" in status
    other = Client(server, verbose=False)
    other.predict(*CONTROLS, *VIEW, api_name="/playground_setup")
    _, status = other.predict(*CONTROLS, *VIEW, api_name="/playground_step")
    assert "Step 1" in status   # its own model, not the first client's


def test_bad_input_in_the_session_language(client):
    from gradio_client.exceptions import AppError

    bad = list(CONTROLS)
    bad[3] = "very fast"
    with pytest.raises(AppError, match="learning rate"):
        client.predict(*bad, *VIEW, api_name="/playground_setup")
    client.predict("zh", api_name="/set_language")
    with pytest.raises(AppError) as err:
        client.predict(*bad, *VIEW, api_name="/playground_setup")
    assert CJK.search(str(err.value))
    # A learning rate far too large: reported, paused, the last good weights kept.
    diverge = ["vae", "gaussians8", "ns", "1000", 1, 1.0, 1.0, 256, 0, 0]
    client.predict(*diverge, *VIEW, api_name="/playground_setup")
    job = client.submit(*diverge, *VIEW, api_name="/playground_play")
    job.result(timeout=60)
    last = job.outputs()[-1]
    assert "⚠" in last[1] and "发散" in last[1] and IMG.search(last[0])


def _statuses(job) -> list[str]:
    return [o[1] for o in job.outputs() if isinstance(o[1], str)]


def _wait_status(job, text, timeout=60.0) -> str:
    t0 = time.perf_counter()
    while time.perf_counter() - t0 < timeout:
        found = [s for s in _statuses(job) if text in s]
        if found:
            return found[-1]
        time.sleep(0.05)
    raise AssertionError(f"no status with {text!r}: {_statuses(job)[-3:]}")


def test_busy_then_full_then_the_turn_comes(server):
    from gradio_client import Client

    a, b, c = (Client(server, verbose=False) for _ in range(3))
    for client in (a, b, c):
        client.predict(*CONTROLS, *VIEW, api_name="/playground_setup")
    b.predict("zh", api_name="/set_language")
    play_a = a.submit(*CONTROLS, *VIEW, api_name="/playground_play")
    _wait_status(play_a, "▶ step")
    play_b = b.submit(*CONTROLS, *VIEW, api_name="/playground_play")
    assert "下一个就轮到你" in _wait_status(play_b, "正忙")    # busy: nobody else waits, so B is next
    t0 = time.perf_counter()
    play_c = c.submit(*CONTROLS, *VIEW, api_name="/playground_play")
    play_c.result(timeout=30)
    assert time.perf_counter() - t0 < 10 and "queue is full" in _statuses(play_c)[-1]   # an answer, not a hang
    a.predict(api_name="/playground_pause")
    play_a.result(timeout=10)
    _wait_status(play_b, "▶ 第")                          # B's turn came: it plays by itself
    b.predict(api_name="/playground_pause")
    play_b.result(timeout=10)


def test_clicks_add_points_at_the_data_coordinates_under_them(client):
    drawn = list(CONTROLS)
    drawn[1] = "drawn"
    html, status = client.predict(*drawn, *VIEW, api_name="/playground_setup")
    assert "0 points" in status and IMG.search(html)
    # Frame pixel of data (1, -0.5) on the left panel: 26 px of title, 360 px for 5 data units.
    x, y = (1 + 2.5) * 72, 26 + (2.5 + 0.5) * 72
    html, status = client.predict([[x, y]], *drawn, *VIEW, api_name="/playground_add_points")
    assert "(1.00, -0.50)" in status and "16 points in all" in status
    html2, status = client.predict(np.array([[100, 100], [200, 150], [300, 300]]).tolist(), *drawn, *VIEW,
                                   api_name="/playground_add_points")
    assert "line of" in status and IMG.search(html2).group(1) != IMG.search(html).group(1)
    _, status = client.predict(*drawn, *VIEW, api_name="/playground_undo")
    assert "16 points in all" in status
    _, status = client.predict(*drawn, *VIEW, api_name="/playground_step")
    assert "Step 1" in status and "16 points" in status
    _, status = client.predict(*drawn, *VIEW, api_name="/playground_clear")
    assert "0 points" in status
