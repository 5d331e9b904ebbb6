"""The playground tab's handlers, called as Gradio calls them (no server): frames, play / pause,
single steps, divergence, drawn data, bad input in both languages, and separate sessions."""

from __future__ import annotations

import base64
import io
import re
import time

import gradio as gr
import numpy as np
import pytest
from PIL import Image

from demo import playground_plots as plots
from demo import playground_tab as pt
from demo.common import handler

CJK = re.compile(r"[\u4e00-\u9fff]")
VIEW = ["js", list(pt.SHOW_DEFAULT), 12, 3]


def controls(model="gan", data="gaussians8", loss="ns", lr="0.003", batch=64):
    return [model, data, loss, lr, 1, 1.0, 1.0, batch, 0, 0]


def decode(html: str) -> np.ndarray:
    m = re.search(r'src="data:image/png;base64,([^"]+)"', html)
    assert m, html[:200]
    with Image.open(io.BytesIO(base64.b64decode(m.group(1)))) as im:
        return np.asarray(im.convert("RGB"))


@pytest.fixture
def h():
    return pt.PlaygroundHandlers()


def test_setup_draws_a_frame_for_every_model(h):
    for model in ("gan", "diffusion", "vae"):
        sess, html, status = h.setup("en", None, *controls(model), None, *VIEW)
        assert isinstance(sess, pt.Session) and sess.pg.settings.model == model
        assert decode(html).shape == (plots.HEIGHT, plots.WIDTH, 3)
        assert "Ready" in status


def test_steps_and_which_player(h):
    sess = h.setup("en", None, *controls(), None, *VIEW)[0]
    sess, _, status = h.step_d("en", sess, *controls(), *VIEW)
    assert sess.pg.step == 1 and "D only" in status
    sess, _, status = h.step_g("zh", sess, *controls(), *VIEW)
    assert sess.pg.step == 2 and "只有生成器" in status
    sess, _html, status = h.step("en", sess, *controls(), *VIEW)
    assert sess.pg.step == 3 and "D and G" in status


def test_play_streams_changing_frames_and_pause_stops_within_a_second(h):
    sess = h.setup("en", None, *controls(), None, *VIEW)[0]
    frames, paused_at, ended_at = [], None, None
    for out in h.play("en", sess, *controls(), *VIEW):
        if isinstance(out[1], str):
            frames.append(out[1])
        if len(frames) == 4 and paused_at is None:
            paused_at = time.perf_counter()
            h.pause(sess)   # what the Pause button does (its own request, while this one streams)
    ended_at = time.perf_counter()
    assert len(frames) == 4, "the loop stops at the next frame after Pause"
    assert ended_at - paused_at < 1.0
    assert len({f for f in frames}) == 4   # every frame is a new picture
    assert not sess.playing and sess.pg.step == 4 * VIEW[3]
    assert "Paused" in out[2]


def test_step_and_play_build_the_model_they_need(h):
    # A fresh session (no setup yet), then Play after a structural change that no event applied.
    sess, html, status = h.step("en", None, *controls(), *VIEW)
    assert sess.pg.step == 1 and decode(html).shape == (plots.HEIGHT, plots.WIDTH, 3) and "Step 1" in status
    changed = controls(data="ring")
    for _ in h.play("en", sess, *changed, *VIEW):
        h.pause(sess)
    assert sess.pg.settings.data == "ring" and sess.pg.step == VIEW[3]
    sess, html, status = h.step("en", pt.Session(), *controls(data="drawn"), *VIEW)
    assert sess.pg is None and html == gr.skip() and "Draw" in status


def test_a_second_play_in_the_same_session_does_not_start_a_second_loop(h):
    sess = h.setup("en", None, *controls(), None, *VIEW)[0]
    sess.playing = True   # as if a loop were running
    outs = list(h.play("en", sess, *controls(), *VIEW))
    assert len(outs) == 1 and sess.pg.step == 0


def test_divergence_pauses_with_the_last_good_weights(h, monkeypatch):
    warnings = []
    monkeypatch.setattr(gr, "Warning", lambda msg, **kw: warnings.append(msg))
    sess = h.setup("en", None, *controls("vae", lr="1000"), None, *VIEW)[0]
    outs = list(h.play("en", sess, *controls("vae", lr="1000"), *VIEW))
    assert "diverged" in outs[-1][2] and warnings
    assert not sess.playing
    assert all(np.isfinite(p.detach().numpy()).all() for p in sess.pg.net.parameters())
    decode(outs[-1][1])  # the last good model is still drawn


def test_bad_settings_give_clear_messages_in_both_languages(h):
    wrapped = handler(h.setup)
    with pytest.raises(gr.Error) as err:
        wrapped("en", None, *controls(lr="fast"), None, *VIEW)
    assert "learning rate" in str(err.value.message)
    with pytest.raises(gr.Error) as err:
        wrapped("zh", None, *controls(lr="-1"), None, *VIEW)
    assert CJK.search(str(err.value.message)) and "学习率" in str(err.value.message)
    with pytest.raises(gr.Error) as err:
        wrapped("en", None, *controls(batch=2), None, *VIEW)
    assert "batch" in str(err.value.message).lower()
    with pytest.raises(gr.Error):
        handler(h.redraw)("en", None, "js", [], 12, 0)   # 0 steps per frame


def _sketch(strokes: bool) -> dict:
    canvas = pt.canvas_background()
    if strokes:
        canvas[140:146, 40:260] = 0      # a horizontal bar
        canvas[60:240, 200:204] = 0      # and a vertical one
    else:
        canvas[150:152, 150:152] = 0     # a dot: too few points
    return {"background": canvas, "layers": [], "composite": canvas}


def test_drawn_data(h):
    sess, html, status = h.setup("en", None, *controls(data="drawn"), None, *VIEW)
    assert sess.pg is None and html == gr.skip() and "Draw" in status
    sess, html, status = h.setup("zh", sess, *controls(data="drawn"), _sketch(False), *VIEW)
    assert sess.pg is None and "⚠" in status and CJK.search(status)
    sess, html, status = h.setup("en", sess, *controls(data="drawn"), _sketch(True), *VIEW)
    assert sess.pg is not None and sess.pg.settings.data == "drawn" and "Ready" in status
    pts = sess.pg.points.numpy()
    assert np.abs(pts[:, 1]).max() < 2.5 and len(pts) > 100
    # pixel rows 140-145 of 300 are y = 2.5 - 5 * 143 / 300 = 0.12; columns 200-203 are x = 0.86
    assert (np.abs(pts[:, 1] - 0.12) < 0.06).sum() > 100 and (np.abs(pts[:, 0] - 0.86) < 0.05).sum() > 50
    sess.pg.train(3)


def test_sessions_are_separate(h):
    a = h.setup("en", None, *controls(), None, *VIEW)[0]
    b = h.setup("en", None, *controls(), None, *VIEW)[0]
    before = {k: v.clone() for k, v in b.pg.net.state_dict().items()}
    h.step("en", a, *controls(), *VIEW)
    assert a.pg is not b.pg and a.pg.step == 1 and b.pg.step == 0
    assert all(np.array_equal(v, before[k]) for k, v in b.pg.net.state_dict().items())
    pt._close(a)   # the tab closed: its loop flag is set and its model dropped
    assert a.pause and a.pg is None and b.pg is not None


def test_live_change_keeps_training_and_language_switch(h):
    sess = h.setup("en", None, *controls(), None, *VIEW)[0]
    h.step("en", sess, *controls(), *VIEW)
    sess = h.setup("en", sess, *controls(loss="wgan-gp", lr="0.01"), None, *VIEW)[0]
    assert sess.pg.step == 1 and sess.pg.settings.loss == "wgan-gp"   # applied live, not rebuilt
    sess = h.setup("en", sess, *controls(data="ring"), None, *VIEW)[0]
    assert sess.pg.step == 0                                            # new data: a new model
    html, status = h.texts("zh", sess)
    assert CJK.search(status) and decode(html).shape[0] == plots.HEIGHT
    assert h.redraw("en", sess, "kl", ["real"], 12, 3).count("<img") == 1


def test_heat_colours_run_from_fake_to_real():
    c = plots.heat_colours(np.array([[0.0, 0.5, 1.0]]), 0.0, 1.0)[0]
    assert tuple(c[0]) == tuple(plots.HEAT_LOW.astype(np.uint8))
    assert tuple(c[2]) == tuple(plots.HEAT_HIGH.astype(np.uint8))
    assert c[2][1] > c[2][0] and c[0][2] > c[0][1]   # green for "real", purple for "fake"


def test_a_language_switch_wins_over_an_event_queued_before_it(h):
    # The page switches to Chinese while its first setup (queued in English) is still waiting.
    sess = pt.Session()
    h.texts("zh", sess)
    sess, _, status = h.setup("en", sess, *controls(), None, *VIEW)
    assert CJK.search(status)
    outs = []
    for out in h.play("en", sess, *controls(), *VIEW):
        outs.append(out)
        h.pause(sess)
    assert all(CJK.search(o[2]) for o in outs)
