"""The playground tab's handlers, called as Gradio calls them (no server): frames, play / pause,
single steps, divergence, points drawn by clicking on the plot, the cap on sessions playing at once
(busy, N ahead of you; full), bad input in both languages, and separate sessions."""

from __future__ import annotations

import base64
import io
import re
import threading
import time

import gradio as gr
import numpy as np
import pytest
from PIL import Image

from demo import playground_plots as plots
from demo import playground_tab as pt
from demo.common import handler
from engines import toy2d

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
    return pt.positional(pt.PlaygroundHandlers())


def test_setup_draws_a_frame_for_every_model(h):
    for model in ("gan", "diffusion", "vae"):
        sess, html, status = h.setup("en", None, *controls(model), *VIEW)
        assert isinstance(sess, pt.Session) and sess.pg.settings.model == model
        assert decode(html).shape == (plots.HEIGHT, plots.WIDTH, 3)
        assert "Ready" in status


def test_steps_and_which_player(h):
    sess = h.setup("en", None, *controls(), *VIEW)[0]
    sess, _, status = h.step_d("en", sess, *controls(), *VIEW)
    assert sess.pg.step == 1 and "D only" in status
    sess, _, status = h.step_g("zh", sess, *controls(), *VIEW)
    assert sess.pg.step == 2 and "只有生成器" in status
    sess, _html, status = h.step("en", sess, *controls(), *VIEW)
    assert sess.pg.step == 3 and "D and G" in status


def test_play_streams_changing_frames_and_pause_stops_within_a_second(h):
    sess = h.setup("en", None, *controls(), *VIEW)[0]
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
    assert sess.pg is None and "0 points so far" in status
    assert decode(html).shape == (plots.HEIGHT, plots.WIDTH, 3)   # the empty canvas, to click on


def test_a_second_play_in_the_same_session_does_not_start_a_second_loop(h):
    sess = h.setup("en", None, *controls(), *VIEW)[0]
    sess.playing = True   # as if a loop were running
    outs = list(h.play("en", sess, *controls(), *VIEW))
    assert len(outs) == 1 and sess.pg.step == 0


def test_divergence_pauses_with_the_last_good_weights(h, monkeypatch):
    warnings = []
    monkeypatch.setattr(gr, "Warning", lambda msg, **kw: warnings.append(msg))
    sess = h.setup("en", None, *controls("vae", lr="1000"), *VIEW)[0]
    outs = list(h.play("en", sess, *controls("vae", lr="1000"), *VIEW))
    assert "diverged" in outs[-1][2] and warnings
    assert not sess.playing
    assert all(np.isfinite(p.detach().numpy()).all() for p in sess.pg.net.parameters())
    decode(outs[-1][1])  # the last good model is still drawn


def test_bad_settings_give_clear_messages_in_both_languages(h):
    wrapped = handler(h.setup)
    with pytest.raises(gr.Error) as err:
        wrapped("en", None, *controls(lr="fast"), *VIEW)
    assert "learning rate" in str(err.value.message)
    with pytest.raises(gr.Error) as err:
        wrapped("zh", None, *controls(lr="-1"), *VIEW)
    assert CJK.search(str(err.value.message)) and "学习率" in str(err.value.message)
    with pytest.raises(gr.Error) as err:
        wrapped("en", None, *controls(batch=2), *VIEW)
    assert "batch" in str(err.value.message).lower()
    with pytest.raises(gr.Error):
        handler(h.redraw)("en", None, "js", [], 12, 0)   # 0 steps per frame


def test_sessions_are_separate(h):
    a = h.setup("en", None, *controls(), *VIEW)[0]
    b = h.setup("en", None, *controls(), *VIEW)[0]
    before = {k: v.clone() for k, v in b.pg.net.state_dict().items()}
    h.step("en", a, *controls(), *VIEW)
    assert a.pg is not b.pg and a.pg.step == 1 and b.pg.step == 0
    assert all(np.array_equal(v, before[k]) for k, v in b.pg.net.state_dict().items())
    pt._close(a)   # the tab closed: its loop flag is set and its model dropped
    assert a.pause and a.pg is None and b.pg is not None


def test_live_change_keeps_training_and_language_switch(h):
    sess = h.setup("en", None, *controls(), *VIEW)[0]
    h.step("en", sess, *controls(), *VIEW)
    sess = h.setup("en", sess, *controls(loss="wgan-gp", lr="0.01"), *VIEW)[0]
    assert sess.pg.step == 1 and sess.pg.settings.loss == "wgan-gp"   # applied live, not rebuilt
    sess = h.setup("en", sess, *controls(data="ring"), *VIEW)[0]
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
    sess, _, status = h.setup("en", sess, *controls(), *VIEW)
    assert CJK.search(status)
    outs = []
    for out in h.play("en", sess, *controls(), *VIEW):
        outs.append(out)
        h.pause(sess)
    assert all(CJK.search(o[2]) for o in outs)


# --- drawing by clicking on the plot ------------------------------------------------------------------


def pixel(x: float, y: float, panel: int = 0) -> list[float]:
    """The frame pixel of data point (x, y) on a panel, worked out by hand: the panel spans
    [-2.5, 2.5] over PANEL pixels, starts TITLE pixels down and, the right one, PANEL + GAP across."""
    scale = plots.PANEL / 5.0
    return [panel * (plots.PANEL + plots.GAP) + (x + 2.5) * scale, plots.TITLE + (2.5 - y) * scale]


def test_a_click_maps_exactly_through_the_axes():
    corners = [pixel(-2.5, 2.5), pixel(2.5, -2.5, panel=1), pixel(0, 0), pixel(1.25, -0.5, panel=1)]
    assert corners[0] == [0.0, plots.TITLE] and corners[1] == [plots.WIDTH, plots.TITLE + plots.PANEL]
    for pos, want, panel in zip(corners, [(-2.5, 2.5), (2.5, -2.5), (0, 0), (1.25, -0.5)], [0, 1, 0, 1]):
        got_panel, xy = plots.data_at("gan", [pos])
        assert got_panel == panel and np.allclose(xy, [want], atol=1e-9)
    # ... and back: to_px of the mapped point is the pixel inside its panel
    _, xy = plots.data_at("diffusion", [[123.4, 200.7]])
    assert np.allclose(plots.to_px(xy)[0] + [0, plots.TITLE], [123.4, 200.7], atol=1e-4)
    # Titles, the gap, the charts and the VAE's latent panel are not data space.
    for model, pos in [("gan", [100, 10]), ("gan", [plots.PANEL + 5, 100]), ("gan", [100, plots.HEIGHT - 20]),
                       ("vae", pixel(0, 0, panel=1))]:
        assert plots.data_at(model, [pos])[0] is None


def test_clicks_add_clusters_where_clicked_and_the_model_learns_them_live(h):
    c = controls(data="drawn")
    sess, html, status = h.setup("en", None, *c, *VIEW)
    assert sess.pg is None and "0 points so far" in status
    canvas = decode(html)
    sess, html, status = h.add("en", sess, [pixel(1.0, -0.5)], *c, *VIEW)
    pts = sess.points
    assert len(pts) == pt.CLICK_POINTS and "(1.00, -0.50)" in status and "16 points in all" in status
    assert np.abs(pts.mean(0) - [1.0, -0.5]).max() < 0.08 and pts.std(0).max() < 0.2
    assert sess.pg is not None and not np.array_equal(decode(html), canvas)   # a model, drawn on its frame
    # The model trains; a new click is taken live: same weights and step, new data.
    sess = h.step("en", sess, *c, *VIEW)[0]
    pg, weights = sess.pg, {k: v.clone() for k, v in sess.pg.net.state_dict().items()}
    sess, html, status = h.add("zh", sess, [pixel(-1.5, 1.5, panel=1)], *c, *VIEW)
    assert sess.pg is pg and pg.step == 1 and CJK.search(status)
    assert all(np.array_equal(v, weights[k]) for k, v in pg.net.state_dict().items())
    assert np.abs(pg.real.numpy() - [-1.5, 1.5]).max(1).min() < 0.3   # the shown data includes the new cluster
    # A stroke: points evenly along it, inside the view.
    sess, html, status = h.add("en", sess, [pixel(-2, -2), pixel(0, -2), pixel(0, -1)], *c, *VIEW)
    line = sess.strokes[-1]
    assert 60 <= len(line) <= 90 and "line of" in status   # 3 data units long, a point every 0.04
    assert np.abs(line[:, 1] + 2).min() < 1e-6 and np.allclose(line[-1], [0, -1], atol=1e-5)
    # Undo takes the stroke back (the model stays); Clear removes everything (the canvas again).
    sess, html, status = h.undo("en", sess, *c, *VIEW)
    assert sess.count == 2 * pt.CLICK_POINTS and sess.pg is pg and "Took back" in status
    sess, html, status = h.clear("en", sess, *c, *VIEW)
    assert sess.count == 0 and sess.pg is None and decode(html).shape == canvas.shape
    assert "Nothing to undo" in h.undo("en", sess, *c, *VIEW)[2]


def test_clicks_that_cannot_add_points_say_why(h, monkeypatch):
    sess = h.setup("en", None, *controls(), *VIEW)[0]
    _, html, status = h.add("en", sess, [pixel(0, 0)], *controls(), *VIEW)
    assert html == gr.skip() and "Draw your own" in status and sess.count == 0
    vae = controls("vae", data="drawn")
    _, html, status = h.add("zh", sess, [pixel(0, 0, panel=1)], *vae, *VIEW)
    assert html == gr.skip() and "潜在空间" in status and sess.count == 0
    for bad in (None, "here", [[1, 2, 3]], [[np.nan, 5]], [[0, 0]] * (pt.MAX_STROKE + 1)):
        with pytest.raises(gr.Error) as err:
            handler(h.add)("zh", sess, bad, *vae, *VIEW)
        assert CJK.search(str(err.value.message))
    # A session keeps at most MAX_POINTS drawn points: the click past that is refused, nothing changes.
    monkeypatch.setattr(pt, "MAX_POINTS", 2 * pt.CLICK_POINTS)
    for _ in range(2):
        h.add("en", sess, [pixel(0, 0)], *vae, *VIEW)
    with pytest.raises(gr.Error) as err:
        handler(h.add)("en", sess, [pixel(1, 1)], *vae, *VIEW)
    assert "Undo or clear" in str(err.value.message) and sess.count == 2 * pt.CLICK_POINTS


def test_clicks_while_playing_go_into_the_running_model(h):
    c = controls(data="drawn")
    sess = h.add("en", None, [pixel(1, 1)], *c, *VIEW)[0]
    steps = []
    for k, out in enumerate(h.play("en", sess, *c, *VIEW)):
        steps.append(sess.pg.step)
        if k == 2:
            added = h.add("en", sess, [pixel(-1, -1)], *c, *VIEW)
            assert added[1] == gr.skip() and added[2] == gr.skip()   # the loop draws and counts them
        if k == 5:
            h.pause(sess)
    assert steps == sorted(steps) and steps[-1] > steps[2] > 0   # one model all along, never restarted
    assert sess.count == 2 * pt.CLICK_POINTS and "32 points" in out[2]


def test_play_on_drawn_data_waits_for_points_then_trains(h):
    c = controls(data="drawn")
    sess = h.setup("en", None, *c, *VIEW)[0]
    outs = []
    for out in h.play("en", sess, *c, *VIEW):
        outs.append(out)
        if len(outs) == 1:
            assert "Waiting for data" in out[2] and decode(out[1]).shape[0] == plots.HEIGHT
            h.add("en", sess, [pixel(0.5, 0.5)], *c, *VIEW)
        if sess.pg is not None and sess.pg.step >= 2 * VIEW[3]:
            h.pause(sess)
    assert sess.pg.step >= 2 * VIEW[3] and "Paused" in outs[-1][2]


# --- the cap on sessions playing at once ------------------------------------------------------------


class Player(threading.Thread):
    """Consumes one session's Play in the background, as the server does, keeping every status line."""

    def __init__(self, h, sess, lang="en"):
        super().__init__(daemon=True)
        self.h, self.sess, self.lang, self.statuses = h, sess, lang, []

    def run(self):
        for out in self.h.play(self.lang, self.sess, *controls(batch=32), *VIEW):
            if isinstance(out[2], str):
                self.statuses.append(out[2])

    def wait_for(self, text, timeout=20.0):
        deadline = time.perf_counter() + timeout
        while time.perf_counter() < deadline:
            if self.statuses and text in self.statuses[-1]:
                return self.statuses[-1]
            time.sleep(0.02)
        raise AssertionError(f"no status with {text!r}; got {self.statuses[-3:]}")


def test_busy_message_updates_as_the_queue_moves_and_the_turn_starts_by_itself():
    h = pt.positional(pt.PlaygroundHandlers(toy2d.Slots(capacity=1, waiting=2)))
    sessions = [h.setup("en", None, *controls(batch=32), *VIEW)[0] for _ in range(4)]
    a, b, c = Player(h, sessions[0]), Player(h, sessions[1], "zh"), Player(h, sessions[2])
    a.start()
    a.wait_for("▶ step")
    b.start()
    assert "下一个就轮到你" in b.wait_for("正忙")      # Chinese: "you are next"
    c.start()
    assert "**1** ahead of you" in c.wait_for("ahead")
    # A fourth session: the waiting list is full, so it hears so at once instead of hanging.
    t0 = time.perf_counter()
    outs = list(h.play("en", sessions[3], *controls(batch=32), *VIEW))
    assert time.perf_counter() - t0 < 1.0 and "full" in outs[-1][2] and "try" in outs[-1][2]
    assert not sessions[3].playing and sessions[3].pg.step == 0 and h.slots.counts() == (1, 2)
    # A pauses: B starts by itself, C moves up (its message says so), A's training stopped.
    h.pause(sessions[0])
    a.join(5)
    b.wait_for("▶ 第")
    assert "you are next" in c.wait_for("next")
    # C leaves the queue with Pause, within a second; then B pauses and nobody waits.
    paused = time.perf_counter()
    h.pause(sessions[2])
    c.join(5)
    assert time.perf_counter() - paused < 1.0 and "Left the queue" in c.statuses[-1]
    assert sessions[2].pg.step == 0
    h.pause(sessions[1])
    b.join(5)
    assert h.slots.counts() == (0, 0) and not any(s.playing for s in sessions)


def test_slots_from_the_hosts_environment():
    slots = pt.slots_from_env({"GENLAB_PLAYGROUND_PLAYERS": "2", "GENLAB_PLAYGROUND_WAITING": "0"})
    assert (slots.capacity, slots.waiting) == (2, 0)
    assert (pt.slots_from_env({}).capacity, pt.slots_from_env({}).waiting) == (pt.PLAYERS, pt.WAITING)
    for bad in ({"GENLAB_PLAYGROUND_PLAYERS": "0"}, {"GENLAB_PLAYGROUND_WAITING": "many"}):
        with pytest.raises(ValueError, match="GENLAB_PLAYGROUND"):
            pt.slots_from_env(bad)
