"""Live sliders off Gradio's queue (demo/live.py): the route's answers, checked as a page and as an
attacker would send them, and its encoding."""

from __future__ import annotations

import base64
import io
import json
import math
import urllib.error
import urllib.request

import numpy as np
import pytest
from PIL import Image

from demo import live
from tests.launch import launched_app

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


def post(url: str, body, *, method: str = "POST", raw: bytes | None = None):
    """-> (status, JSON answer) of /genlab/live."""
    data = raw if raw is not None else json.dumps(body).encode()
    req = urllib.request.Request(url + "genlab/live", data=data if method == "POST" else None, method=method,
                                 headers={"content-type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=30) as r:
            return r.status, json.loads(r.read())
    except urllib.error.HTTPError as err:
        return err.code, json.loads(err.read() or b"{}")


def decode(data_url: str) -> np.ndarray:
    head, b64 = data_url.split(",", 1)
    assert head == "data:image/png;base64"
    return np.asarray(Image.open(io.BytesIO(base64.b64decode(b64))))


@pytest.fixture(scope="module")
def app():
    from gradio_client import Client

    with launched_app("--lang", "en") as (url, _, _):
        config = json.loads(urllib.request.urlopen(url + "config", timeout=30).read())
        keys = {c["props"].get("elem_id"): str(c["id"]) for c in config["components"] if c.get("props", {}).get("elem_id")}
        client = Client(url, verbose=False, download_files=False)
        yield {"url": url, "keys": keys, "client": client}


def opened(app) -> str:
    """A session whose VAE sliders have been set (as the page's Reset does) -> its hash."""
    client = app["client"]
    client.predict("mnist-vae-z16", api_name="/vae_slider_reset")
    return client.session_hash


def test_a_move_answers_the_picture_the_full_event_gives(app):
    session = opened(app)
    status, answer = post(app["url"], {"session": session, "slider": app["keys"]["vae-slider-0"], "value": 1.5})
    assert status == 200, answer
    (picture,) = answer["outputs"]
    fast = decode(picture["url"])
    # The API's full-input event with the same values: the same model output.
    from gradio_client import handle_file  # noqa: F401  (imported for its side effect on older clients)

    values = [1.5] + [0.0] * 15
    path = app["client"].predict("mnist-vae-z16", *values, api_name="/vae_slider")
    full = np.asarray(Image.open(path["path"] if isinstance(path, dict) else path))
    assert fast.shape[:2] == full.shape[:2] == (224, 224)
    assert np.abs(fast.astype(int) - full[..., : fast.shape[-1]].astype(int) if fast.ndim == 3 else
                  fast.astype(int) - (full if full.ndim == 2 else full[..., 0]).astype(int)).max() <= 1
    # A different value is a different picture: the slider does something.
    _, other = post(app["url"], {"session": session, "slider": app["keys"]["vae-slider-0"], "value": -2.0})
    assert np.abs(decode(other["outputs"][0]["url"]).astype(int) - fast.astype(int)).max() > 20


def test_a_move_is_remembered_for_the_sessions_other_events(app):
    session = opened(app)
    key = app["keys"]["vae-slider-3"]
    _, first = post(app["url"], {"session": session, "slider": key, "value": 2.0})
    _, again = post(app["url"], {"session": session, "slider": app["keys"]["vae-slider-0"], "value": 0.0})
    # slider 0 at its old value, slider 3 still at 2.0: the same picture as the first answer.
    assert np.array_equal(decode(first["outputs"][0]["url"]), decode(again["outputs"][0]["url"]))


@pytest.mark.parametrize("body, status, both", [
    ({"session": "no-such-session", "slider": "KEY", "value": 0.5}, 410, True),
    ({"session": "SESSION", "slider": "99999", "value": 0.5}, 404, True),
    ({"session": ["x"] * 3, "slider": "KEY", "value": 0.5}, 410, True),
    ([1, 2, 3], 400, True),
    # The session is known: its own language (English here), as Gradio's events answer.
    ({"session": "SESSION", "slider": "KEY", "value": 1e308}, 400, False),
    ({"session": "SESSION", "slider": "KEY", "value": "abc"}, 400, False),
    ({"session": "SESSION", "slider": "KEY", "value": [1, 2]}, 400, False),
])
def test_bad_requests_get_a_clear_answer(app, body, status, both):
    session = opened(app)
    if isinstance(body, dict):
        body = {k: (session if v == "SESSION" else app["keys"]["vae-slider-0"] if v == "KEY" else v)
                for k, v in body.items()}
    code, answer = post(app["url"], body)
    assert code == status, answer
    chinese = any("\u4e00" <= ch <= "\u9fff" for ch in answer["error"])
    assert chinese == both, answer
    assert any(ch.isascii() and ch.isalpha() for ch in answer["error"]), answer


def test_nan_infinity_and_junk_bodies_are_refused(app):
    session = opened(app)
    key = app["keys"]["vae-slider-0"]
    for token in ("NaN", "Infinity", "-Infinity"):
        raw = ('{"session": "%s", "slider": "%s", "value": %s}' % (session, key, token)).encode()
        code, answer = post(app["url"], None, raw=raw)
        assert code == 400 and "finite" in answer["error"].lower(), (token, answer)
    assert post(app["url"], None, raw=b"{not json")[0] == 400
    assert post(app["url"], None, raw=b"x" * 10_000)[0] == 400  # over the route's 4 KB
    assert post(app["url"], None, method="GET")[0] == 405
    # The app is still fine afterwards.
    assert post(app["url"], {"session": session, "slider": key, "value": 0.25})[0] == 200


def test_a_session_that_never_opened_a_tab_gets_nothing_but_no_error():
    # moved() before the first recorded event: every output left as it is.
    assert live.encode({"__type__": "update"}, 2) == [{"skip": True}, {"skip": True}]


def test_encoding_of_each_output_kind():
    picture = (np.arange(24 * 32 * 3) % 251).astype(np.uint8).reshape(24, 32, 3)
    out = live.encode((picture, "caption", None), 3)
    assert np.array_equal(decode(out[0]["url"]), picture)
    assert out[1:] == ["caption", None]
    grey = np.full((5, 7), 200, np.uint8)
    assert np.array_equal(decode(live.encode(grey, 1)[0]["url"]), grey)
    assert live.encode({"__type__": "update", "value": "x"}, 1) == ["x"]
    with pytest.raises(TypeError):
        live.encode(object(), 1)
    assert math.isfinite(live.encode(0.5, 1)[0])


def test_every_live_slider_is_registered_with_its_outputs():
    import app as genlab

    demo = genlab.build_app()
    entries = live.registry(demo)
    ids = {e.slider.elem_id for e in entries.values()}
    for elem_id in ("vae-slider-0", "vae-slider-15", "vae-interp-t", "gan-trunc-psi", "gan-interp-t",
                    "gan-noise-strength", "diffusion-fwd-t", "diffusion-scrub"):
        assert elem_id in ids
    assert all(e.outputs for e in entries.values())
    # The page's side: every registered slider has a JavaScript-only event calling genlabLive with its key.
    config = demo.get_config_file()
    scripts = [d["js"] for d in config["dependencies"] if d.get("js") and "genlabLive" in d["js"]]
    assert {json.loads(s.split("genlabLive(")[1].split(",")[0]) for s in scripts} == set(entries)
    assert all(not d["backend_fn"] for d in config["dependencies"] if d.get("js") and "genlabLive" in d["js"])


def test_answers_are_shared_only_for_plain_arguments_and_bounded_in_bytes():
    answers = live.Answers(max_bytes=10_000)
    args = ("en", {}, "mnist-vae-z16", 0.5)
    k = live.Answers.key("7", args)
    assert answers.get(k) is None
    answers.put(k, [{"url": "data:image/png;base64," + "A" * 100}])
    assert answers.get(live.Answers.key("7", ("en", {}, "mnist-vae-z16", 0.5))) is not None  # another session, same move
    assert answers.get(live.Answers.key("8", args)) is None            # another slider
    assert answers.get(live.Answers.key("7", ("zh", {}, "mnist-vae-z16", 0.5))) is None  # another language
    # A session's own objects (a diffusion run) and NaN are never keys.
    assert live.Answers.key("7", ("en", object(), 0.5)) is None
    assert live.Answers.key("7", ("en", float("nan"))) is None
    # Bounded: old answers go first; an answer over an eighth of the budget is not kept.
    for i in range(20):
        answers.put(live.Answers.key("9", (i,)), ["x" * 1000])
    assert answers.bytes <= 10_000 and answers.get(live.Answers.key("9", (0,))) is None
    answers.put(live.Answers.key("9", ("big",)), ["x" * 5000])
    assert answers.get(live.Answers.key("9", ("big",))) is None


def test_two_sessions_moving_alike_get_the_same_answer(app):
    from gradio_client import Client

    first = opened(app)
    other = Client(app["url"], verbose=False, download_files=False)
    other.predict("mnist-vae-z16", api_name="/vae_slider_reset")
    body = {"slider": app["keys"]["vae-slider-5"], "value": -1.25}
    a = post(app["url"], {**body, "session": first})[1]
    b = post(app["url"], {**body, "session": other.session_hash})[1]
    assert a == b and a["outputs"][0]["url"].startswith("data:image/png")


def test_the_answer_says_where_its_time_went(app):
    """Server-Timing: a computed move names its wait for the compute thread, its run and its encoding;
    the same move again is a kept answer, which never reaches the compute thread."""
    session = opened(app)
    body = json.dumps({"session": session, "slider": app["keys"]["vae-slider-3"], "value": 0.875}).encode()

    def timing() -> dict:
        req = urllib.request.Request(app["url"] + "genlab/live", data=body, method="POST",
                                     headers={"content-type": "application/json"})
        with urllib.request.urlopen(req, timeout=30) as r:
            header = r.headers["server-timing"]
        parts = dict(p.strip().split(";dur=") for p in header.split(","))
        return {name: float(ms) for name, ms in parts.items()}

    first, again = timing(), timing()
    assert {"prepare", "thread", "queue", "run", "encode", "total"} <= set(first)
    assert all(ms >= 0 for ms in first.values())
    assert first["run"] > 0 and first["total"] >= first["queue"] + first["run"] + first["encode"]
    assert set(again) == {"prepare", "total"}


def test_prefetch_guesses_the_next_step_on_the_sliders_grid():
    import gradio as gr

    slider = gr.Slider(-1.0, 1.5, step=0.05, value=0.7)
    guess = live.Prefetch().guess
    assert guess("s", "k", slider, 0.7) is None                 # one value: no direction yet
    assert guess("s", "k", slider, 0.75) == 0.8                 # as JSON.stringify(0.8) gives it, not 0.8000000000000002
    assert guess("s", "k", slider, 0.65) == 0.55                # turned round: twice the step back down
    assert guess("s", "k", slider, 0.65) is None                # the same value again: no direction
    assert guess("s", "k", slider, 1.45) == 1.5 and guess("s", "k", slider, 1.5) is None  # never beyond the range
    assert guess("s", "k", slider, 0.0) == -1.0 and guess("s", "k", slider, 1) == 1.5     # a jump is clamped
    assert guess("t", "k", slider, 0.1) is None                 # another session has its own history
    whole = gr.Slider(0, 999, step=1, value=0)
    guess("s", "t", whole, 10)
    value = guess("s", "t", whole, 12)
    assert value == 14 and isinstance(value, int)               # JSON writes 14, never 14.0
    off = live.Prefetch(enabled=False)
    off.guess("s", "k", slider, 0.7)
    assert off.guess("s", "k", slider, 0.75) is None and not off.claim()
    small = live.Prefetch()
    small.REMEMBERED = 3
    for i in range(10):
        small.guess(f"s{i}", "k", slider, 0.5)
    assert len(small.last) == 3                                 # bounded, whatever the number of sessions


def test_the_next_step_of_a_drag_is_ready_before_it_is_asked_for(app):
    import time

    session = opened(app)
    slider = app["keys"]["vae-slider-7"]

    def move(value) -> set:
        req = urllib.request.Request(app["url"] + "genlab/live", method="POST",
                                     data=json.dumps({"session": session, "slider": slider, "value": value}).encode(),
                                     headers={"content-type": "application/json"})
        with urllib.request.urlopen(req, timeout=30) as r:
            assert r.status == 200
            return {p.strip().split(";")[0] for p in r.headers["server-timing"].split(",")}

    assert "run" in move(1.05) and "run" in move(1.1)   # computed: nothing was known of them
    time.sleep(1.0)                                     # the idle compute thread makes 1.15 meanwhile
    assert "run" not in move(1.15)                      # kept: answered without the compute thread
    assert "run" in move(-1.95)                         # a jump elsewhere could not be guessed


def test_a_guess_is_not_remembered_as_the_sessions_value(app):
    """The prefetch computes a slider's likely next value; the session must still hold the value it
    really sent, so that its other sliders' pictures use it (a browser test saw a neighbour's picture
    drawn with the guessed value)."""
    import time

    from gradio_client import Client

    session = opened(app)
    keys = app["keys"]
    for value in (0.35, 0.4):
        assert post(app["url"], {"session": session, "slider": keys["vae-slider-9"], "value": value})[0] == 200
    time.sleep(1.0)  # the guess, 0.45, is computed meanwhile
    status, answer = post(app["url"], {"session": session, "slider": keys["vae-slider-10"], "value": -0.5})
    assert status == 200, answer
    values = [0.0] * 16
    values[9], values[10] = 0.4, -0.5
    full = Client(app["url"], verbose=False, download_files=False).predict("mnist-vae-z16", *values,
                                                                            api_name="/vae_slider")
    full = np.asarray(Image.open(full["path"] if isinstance(full, dict) else full).convert("L"))
    shown = decode(answer["outputs"][0]["url"])
    shown = shown if shown.ndim == 2 else shown[..., 0]
    assert np.abs(shown.astype(int) - full.astype(int)).max() <= 1
