"""The 2-D playground tab: a tiny GAN, diffusion model or VAE learning a 2-D distribution live.

Each browser session owns one `Session` (in a gr.State): its `engines.toy2d.Playground`, the
drawn points, what to show, and the play / pause flags. Nothing is shared between sessions.

Play is a generator handler: it trains a few steps, renders a frame with demo.playground_plots
(numpy + PIL), and yields it as an inline PNG in a gr.HTML, so streaming writes no files to
Gradio's cache. Pause sets a flag that the loop reads before every frame (well under a second).
At most `PLAYERS` sessions play at once (the host sets it with GENLAB_PLAYGROUND_PLAYERS); the
next ones wait their turn, told how many are ahead (GENLAB_PLAYGROUND_WAITING of them at most).

With the data "Draw your own", a click on the frame adds a small cluster of points and a drag
adds points along the stroke, mapped exactly through the panel's axes; the model learns them live.
"""

from __future__ import annotations

import base64
import collections
import io
import math
import os
import threading
import time
from pathlib import Path
from types import SimpleNamespace

import gradio as gr
import numpy as np
from PIL import Image

from engines import runtime, toy2d
from engines.errors import UserError

from . import i18n_playground  # noqa: F401 (registers the strings)
from . import playground_plots as plots
from . import forms
from .common import PRIVATE, AppContext
from . import links
from .forms import Form, widget
from .i18n import LATEX_DELIMITERS, t

MAX_FPS = 15            # frames a second at most while playing (leaves CPU for the rest of the app)
RESAMPLE_S = 0.25       # while playing, diffusion samples (T network calls) are redrawn this often, not every frame
MAX_PLAY_S = 600        # one press of Play runs at most this long, then pauses
PLAYERS = 4             # sessions playing at once, app-wide (GENLAB_PLAYGROUND_PLAYERS)
WAITING = 8             # sessions that may wait for a place; more are asked to try again (GENLAB_PLAYGROUND_WAITING)
PLAYERS_ENV, WAITING_ENV = "GENLAB_PLAYGROUND_PLAYERS", "GENLAB_PLAYGROUND_WAITING"
QUEUE_POLL_S = 0.25     # a waiting Play checks Pause and its place in the queue this often
IDLE_S = 0.1            # a Play with no data yet (drawn, too few points) looks for new points this often
DEFAULT_SPF = 5         # training steps per frame
TIMESTEPS = 50          # the diffusion model's T in this tab
CLICK_POINTS = 16       # a click adds this many points ...
CLICK_SPREAD = 0.08     # ... from a Gaussian this wide around it (data units; the view is 5 wide): one mode
CLICK_MOVE_PX = 4.0     # a press that moves less than this (frame pixels) is a click, not a stroke
STROKE_SPACING = 0.04   # a stroke adds a point every this far along it (data units)
MAX_STROKE = 5000       # positions in one stroke at most
MAX_POINTS = 20_000     # drawn points a session keeps at most (the model trains on 2,000, thinned evenly)
LR_CHOICES = ["0.0001", "0.0003", "0.001", "0.003", "0.01", "0.03", "0.1"]
SHOW_DEFAULT = ["heat", "real", "fake", "arrows", "trajectories"]
PNG_LEVEL = 1           # zlib level: 1 encodes a frame in a few ms (level 6: 3x slower, 20% smaller)
QUIET = {"show_progress": "hidden", "concurrency_id": "playground-ui", "concurrency_limit": 2}


class Session:
    """One browser session's playground; lives in its gr.State."""

    def __init__(self):
        self.pg: toy2d.Playground | None = None
        self.settings: toy2d.Settings | None = None   # the last settings applied (the canvas's model without pg)
        self.strokes: list[np.ndarray] = []             # drawn points, one (K, 2) array per click or stroke
        self.view = {"metric": "js", "show": list(SHOW_DEFAULT), "t_view": TIMESTEPS // 4, "spf": DEFAULT_SPF}
        # The language of the last switch: newer than the language an event carries when it was queued
        # before the switch (a page that switches to Chinese while its first frame is being drawn).
        self.lang: str | None = None
        self.playing = False     # a Play is running: waiting for its turn, or streaming
        self.streaming = False   # ... and drawing frames (other events leave the picture to it)
        self.pause = False       # plain flags (a gr.State value is deep-copied once, at session start)
        self.closed = False

    @property
    def points(self) -> np.ndarray | None:
        """Every drawn point (K, 2), data coordinates; None before the first."""
        return np.concatenate(self.strokes) if self.strokes else None

    @property
    def count(self) -> int:
        return sum(len(s) for s in self.strokes)

    @property
    def drawing(self) -> bool:
        """The data is the user's drawn points (so the frame takes clicks)."""
        return self.settings is not None and self.settings.data == "drawn"

    def close(self) -> None:
        self.closed = self.pause = True
        self.pg = None


# Drawn points change under this lock (a click, Undo and a setting may arrive together).
_POINTS = threading.Lock()


def _close(session) -> None:
    """gr.State delete_callback: the tab was closed; a playing loop ends and the memory goes."""
    if isinstance(session, Session):
        session.close()


# --- conversions ---------------------------------------------------------------------------------


def _lr(value) -> float:
    try:
        lr = float(str(value).strip())
    except (TypeError, ValueError):
        lr = math.nan
    low, high = toy2d.playground.LIMITS["lr"][:2]
    if not (math.isfinite(lr) and low <= lr <= high):
        raise UserError("toy2d_setting", what="The learning rate", what_zh="学习率", low=low, high=high, value=value)
    return lr


def _int(value, default: int = 0):
    """A widget's number -> int when it is one (Settings.checked reports anything else)."""
    if value is None or value == "":
        return default
    try:
        number = float(value)
    except (TypeError, ValueError):
        return value
    return int(number) if math.isfinite(number) and number == int(number) else value


def settings_from(s) -> toy2d.Settings:
    """The setting widgets' named values (s.model, s.data, ...) -> checked toy2d.Settings."""
    return toy2d.Settings(model=s.model, data=s.data, loss=s.loss, lr=_lr(s.lr), d_steps=_int(s.d_steps, 1),
                          gp_weight=s.gp_weight, beta=s.beta, batch=_int(s.batch, 256), hidden=_int(s.hidden),
                          timesteps=TIMESTEPS, seed=_int(s.seed)).checked()


def frame_html(image: np.ndarray, alt: str, *, drawing: bool = False) -> str:
    """A rendered frame as an inline PNG: nothing is written to disk, whatever the frame rate.
    drawing: the picture takes clicks and strokes (a crosshair cursor; no scrolling when a finger drags)."""
    buf = io.BytesIO()
    Image.fromarray(image).save(buf, "png", compress_level=PNG_LEVEL)
    data = base64.b64encode(buf.getvalue()).decode("ascii")
    pointer = "cursor:crosshair;touch-action:none;" if drawing else ""
    # A box of fixed proportions: a new frame never changes the page's layout (nothing below reflows).
    return (f'<div style="width:100%;max-width:{plots.WIDTH}px;aspect-ratio:{plots.WIDTH}/{plots.HEIGHT};'
            f'position:relative"><img src="data:image/png;base64,{data}" alt="{alt}" draggable="false" '
            f'style="width:100%;height:100%;display:block;{pointer}"></div>')


# Runs in the browser, once, on the frame's container: strokes on the picture become "select"
# events (demo/playground_frame.js).
FRAME_JS = (Path(__file__).resolve().parent / "playground_frame.js").read_text(encoding="utf-8")


def stroke_positions(stroke) -> np.ndarray:
    """A stroke as the frame sends it, [[x, y], ...] in the picture's pixels (or one [x, y]) -> (P, 2)."""
    try:
        pos = np.asarray(stroke, dtype=np.float64)
        if pos.ndim == 1:
            pos = pos.reshape(1, -1)
        ok = pos.ndim == 2 and pos.shape[1] == 2 and 1 <= len(pos) <= MAX_STROKE and np.isfinite(pos).all()
    except (TypeError, ValueError):
        ok = False
    if not ok:
        raise UserError("toy2d_stroke", value=str(stroke)[:80], most=MAX_STROKE)
    return pos


def slots_from_env(environ=None) -> toy2d.Slots:
    """The host's cap on sessions playing at once and on the waiting list, from GENLAB_PLAYGROUND_PLAYERS
    and GENLAB_PLAYGROUND_WAITING (defaults PLAYERS, WAITING)."""
    environ = os.environ if environ is None else environ
    values = {}
    for name, default, low in ((PLAYERS_ENV, PLAYERS, 1), (WAITING_ENV, WAITING, 0)):
        raw = environ.get(name, "").strip()
        try:
            values[name] = int(raw) if raw else default
        except ValueError:
            values[name] = None
        if values[name] is None or values[name] < low:
            raise ValueError(f"{name} must be a whole number >= {low}, not {raw!r}")
    return toy2d.Slots(values[PLAYERS_ENV], values[WAITING_ENV])


# --- handlers ------------------------------------------------------------------------------------


class PlaygroundHandlers:
    """Event handlers; each takes the session language and the Session first.

    `slots` caps the sessions that play at once across the app (each Play waits its turn in it)."""

    def __init__(self, slots: toy2d.Slots | None = None):
        self.slots = slots if slots is not None else toy2d.Slots(PLAYERS, WAITING)

    @staticmethod
    def _session(session) -> Session:
        return session if isinstance(session, Session) else Session()

    @staticmethod
    def _set_view(sess: Session, s) -> None:
        """The view widgets' named values (s.metric, s.show, s.t_view, s.spf) -> the session's view."""
        metric, show, t_view, spf = s.metric, s.show, s.t_view, s.spf
        steps = _int(spf, DEFAULT_SPF)
        if not isinstance(steps, int) or not 1 <= steps <= 100:
            raise UserError("toy2d_setting", what="Steps per frame", what_zh="每帧训练步数", low=1, high=100, value=spf)
        tv = _int(t_view, TIMESTEPS // 4)
        if not isinstance(tv, int) or not 1 <= tv <= TIMESTEPS:
            raise UserError("toy2d_setting", what="The timestep t", what_zh="时间步 t", low=1, high=TIMESTEPS,
                            value=t_view)
        sess.view = {"metric": metric if metric in toy2d.METRICS else "js", "show": list(show or []), "t_view": tv,
                     "spf": steps}

    @staticmethod
    def _render(sess: Session, frame, lang: str) -> str:
        v = sess.view
        image = plots.render(frame, lang, v["metric"], v["show"])
        return frame_html(image, t("pg.frame", lang), drawing=sess.drawing)

    def _picture(self, sess: Session, lang: str, fresh: bool = True) -> str:
        """The model's frame; before a model on drawn data has enough points, the canvas with the points so far."""
        if sess.pg is None:
            image = plots.render_canvas(sess.points, sess.settings.model if sess.settings else "gan", lang)
            return frame_html(image, t("pg.panel.canvas", lang), drawing=True)
        return self._render(sess, sess.pg.frame(t_view=sess.view["t_view"], fresh=fresh), lang)

    @staticmethod
    def _metric_value(sess: Session, lang: str) -> tuple[str, float]:
        metric = sess.view["metric"]
        history = sess.pg.history[metric]
        return t(f"pg.metric.{metric}", lang), (history[-1] if history else math.nan)

    @staticmethod
    def _counted(sess: Session, lang: str, text: str) -> str:
        """A status line, with the number of drawn points when the data is drawn."""
        return text + t("pg.status.points", lang, count=sess.count) if sess.drawing else text

    @staticmethod
    def _ensure(sess: Session, settings: toy2d.Settings, *, rebuild: bool = False) -> bool:
        """The session's model for these settings: rebuilt when a structural setting changed, else the
        live settings (and new drawn points) taken as it trains. -> False when drawn data has too few
        points yet (the session then has no model, and shows the canvas)."""
        sess.settings = settings
        points = sess.points if settings.data == "drawn" else None
        pg = sess.pg
        try:
            if rebuild or pg is None or pg.needs_rebuild(settings):
                sess.pg = None
                sess.pg = toy2d.Playground(settings, points)
            else:
                pg.apply(settings)
                if settings.data == "drawn":
                    pg.set_points(points)
        except UserError as err:
            if err.key != "toy2d_too_few_points":
                raise
            sess.pg = None
        return sess.pg is not None

    def _ready(self, sess: Session, lang: str) -> str:
        s = sess.pg.settings
        params = sum(p.numel() for p in sess.pg.net.parameters())
        return self._counted(sess, lang, t("pg.status.ready", lang, model=t(f"pg.model.{s.model}", lang),
                                           data=t(f"pg.data.{s.data}", lang), params=f"{params:,}"))

    def _idle_status(self, sess: Session, lang: str) -> str:
        """The status line of a session that is not playing."""
        if sess.pg is None:
            return t("pg.status.draw", lang, count=sess.count, min=toy2d.MIN_DRAWN)
        if sess.pg.step:
            name, value = self._metric_value(sess, lang)
            return self._counted(sess, lang, t("pg.status.paused", lang, step=sess.pg.step, metric=name, value=value))
        return self._ready(sess, lang)

    def setup(self, lang, v):
        """Build (or update) the session's model for these settings and draw it.
        -> {session, frame, status}."""
        return self._setup(lang, v, rebuild=False)

    def _setup(self, lang, v, *, rebuild: bool):
        sess = self._session(v.session)
        lang = sess.lang or lang
        self._set_view(sess, v)
        settings = settings_from(v)
        with _POINTS:
            self._ensure(sess, settings, rebuild=rebuild)
        if sess.streaming:  # the running loop draws the next frame itself
            return {"session": sess}
        html, status = self._picture(sess, lang), self._idle_status(sess, lang)
        if sess.lang and sess.lang != lang:  # the language switched while this was being drawn
            lang = sess.lang
            html, status = self._picture(sess, lang), self._idle_status(sess, lang)
        return {"session": sess, "frame": html, "status": status}

    def reset(self, lang, v):
        return self._setup(lang, SimpleNamespace(session=v.session, **vars(v.values)), rebuild=True)

    def redraw(self, lang, v):
        """A display option changed: draw the current model again (the play loop picks it up itself)."""
        sess = self._session(v.session)
        lang = sess.lang or lang
        self._set_view(sess, v)
        if sess.settings is None or sess.streaming:
            return {}
        return {"frame": self._picture(sess, lang)}

    def texts(self, lang, v):
        """After a language switch: the frame and the status line in the new language."""
        sess = self._session(v.session)
        sess.lang = lang
        if sess.settings is None or sess.playing:  # a playing (or waiting) loop switches at its next message
            return {}
        return {"frame": self._picture(sess, lang), "status": self._idle_status(sess, lang)}

    def _read(self, sess: Session, values) -> toy2d.Settings:
        """The widgets' named values (settings and view): the view is set on the session; -> the settings."""
        self._set_view(sess, values)
        return settings_from(values)

    def _prepare(self, sess: Session, values) -> bool:
        """Step / Play / a stroke: the view and the model for these widgets' named values.
        -> False when there is nothing to train yet (drawn data with too few points)."""
        settings = self._read(sess, values)
        with _POINTS:
            return self._ensure(sess, settings)

    def _step(self, lang, v, which):
        sess = self._session(v.session)
        lang = sess.lang or lang
        if not self._prepare(sess, v.values):
            return {"session": sess, "frame": self._picture(sess, lang), "status": self._idle_status(sess, lang)}
        try:
            sess.pg.train(1, which=which)
        except UserError as err:
            if err.key != "toy2d_nan":
                raise
            gr.Warning(err.localized(lang), title=t("error.title", lang))
            return {"session": sess, "frame": self._picture(sess, lang), "status": "⚠️ " + err.localized(lang)}
        html = self._picture(sess, lang)
        name, value = self._metric_value(sess, lang)
        return {"session": sess, "frame": html, "status": self._counted(sess, lang, t(
            "pg.status.stepped", lang, step=sess.pg.step, which=t(f"pg.which.{which}", lang), metric=name,
            value=value))}

    def step(self, lang, v):
        return self._step(lang, v, "both")

    def step_d(self, lang, v):
        return self._step(lang, v, "D")

    def step_g(self, lang, v):
        return self._step(lang, v, "G")

    # --- drawing on the plot ----------------------------------------------------------------------

    def add(self, lang, v):
        """The Add button (the API's): v.stroke, in the picture's pixels; see `_add`."""
        return self._add(lang, v, v.stroke)

    def _add(self, lang, v, stroke):
        """A click or a stroke on the frame, in the picture's pixels ([[x, y], ...]): a click adds a small
        cluster of points around it, a stroke points along it; the model takes them at once (and keeps
        its weights). -> {session, frame, status}."""
        sess = self._session(v.session)
        lang = sess.lang or lang
        positions = stroke_positions(stroke)
        settings = self._read(sess, v.values)
        if settings.data != "drawn":
            return {"session": sess, "status": t("pg.status.choose_drawn", lang)}
        panel, path = plots.data_at(settings.model, positions)
        if panel is None or not len(path):
            return {"session": sess, "status": t(f"pg.status.off_panel.{settings.model}", lang)}
        moved = float(np.linalg.norm(np.diff(positions, axis=0), axis=1).sum()) if len(positions) > 1 else 0.0
        with _POINTS:
            if moved < CLICK_MOVE_PX:
                seed = (settings.seed + 1 + len(sess.strokes)) % (runtime.MAX_SEED + 1)
                new = toy2d.points_near(path[0], CLICK_POINTS, CLICK_SPREAD, runtime.generator(seed))
                what = t("pg.status.added_click", lang, n=len(new), x=float(path[0][0]), y=float(path[0][1]))
            else:
                new = toy2d.points_along(path, STROKE_SPACING)
                what = t("pg.status.added_stroke", lang, n=len(new))
            if sess.count + len(new) > MAX_POINTS:
                raise UserError("toy2d_points_full", count=sess.count, most=MAX_POINTS)
            sess.strokes.append(new)
            self._ensure(sess, settings)
        return self._after_points(sess, lang, what)

    def clicked(self, lang, v, evt: gr.SelectData):
        """The frame's select event (a click or a stroke on the picture): see `add`."""
        return self._add(lang, v, evt.index)

    def undo(self, lang, v):
        """Take back the last click or stroke."""
        sess = self._session(v.session)
        lang = sess.lang or lang
        settings = self._read(sess, v.values)
        with _POINTS:
            if not sess.strokes:
                what = t("pg.status.nothing_to_undo", lang)
            else:
                what = t("pg.status.undone", lang, n=len(sess.strokes.pop()))
            self._ensure(sess, settings)
        return self._after_points(sess, lang, what)

    def clear(self, lang, v):
        """Remove every drawn point; the next points start a fresh model."""
        sess = self._session(v.session)
        lang = sess.lang or lang
        settings = self._read(sess, v.values)
        with _POINTS:
            sess.strokes.clear()
            sess.pg = None
            self._ensure(sess, settings)
        return self._after_points(sess, lang, t("pg.status.cleared", lang))

    def _after_points(self, sess: Session, lang: str, what: str):
        if sess.streaming:   # the play loop draws the new points with its next frame, and counts them
            return {"session": sess}
        if sess.pg is None:
            total = t("pg.status.draw", lang, count=sess.count, min=toy2d.MIN_DRAWN)
        else:
            total = t("pg.status.points_total", lang, count=sess.count)
        return {"session": sess, "frame": self._picture(sess, lang), "status": what + " " + total}

    # --- play -------------------------------------------------------------------------------------

    def _busy(self, lang: str, ahead: int) -> str:
        if ahead == 0:
            return t("pg.status.next", lang, cap=self.slots.capacity)
        return t("pg.status.busy", lang, ahead=ahead, cap=self.slots.capacity)

    def play(self, lang, v):
        """Wait for a place among the sessions that play (saying how many are ahead), then train and stream
        frames until Pause, a divergence, or MAX_PLAY_S. Yields {session, frame, status}."""
        sess = self._session(v.session)
        lang = sess.lang or lang
        if sess.playing:  # already playing (or waiting) in this session (a second click): that loop goes on
            yield {"session": sess}
            return
        runtime.call(self._prepare, sess, v.values)   # no model yet (drawn data, too few points): it waits for points
        sess.playing, sess.pause = True, False
        ticket = self.slots.join()
        try:
            if ticket is None:
                playing, waiting = self.slots.counts()
                yield {"session": sess, "status": t("pg.status.full", lang, playing=playing, waiting=waiting)}
                return
            said = None
            while not ticket.wait(QUEUE_POLL_S):
                if sess.pause or sess.closed:
                    yield {"session": sess, "status": t("pg.status.left_queue", sess.lang or lang)}
                    return
                lang = sess.lang or lang
                ahead = ticket.ahead()
                if (ahead, lang) != said:
                    said = (ahead, lang)
                    yield {"session": sess, "status": self._busy(lang, ahead)}
            yield from self._stream(sess, lang)
        finally:
            sess.playing = False
            if ticket is not None:
                ticket.leave()

    @staticmethod
    def _advance(pg: toy2d.Playground, steps: int, t_view: int, fresh: bool):
        """One frame's compute (on the compute thread): train, then describe the model."""
        pg.train(steps)
        return pg.frame(t_view=t_view, fresh=fresh)

    def _stream(self, sess: Session, lang: str):
        start = time.perf_counter()
        stamps = collections.deque(maxlen=20)
        sampled, shown = 0.0, None
        sess.streaming = True
        try:
            while not sess.pause and not sess.closed:
                pg, tick = sess.pg, time.perf_counter()
                lang = sess.lang or lang   # a language switch while playing takes effect at the next frame
                if time.perf_counter() - start > MAX_PLAY_S:
                    yield {"session": sess, "status": t("pg.status.limit", lang, minutes=MAX_PLAY_S // 60)}
                    return
                if pg is None:   # drawn data with too few points: show them as they come
                    if sess.settings is None or sess.settings.data != "drawn":
                        break
                    seen = (sess.count, lang, sess.settings.model)
                    if seen != shown:
                        shown = seen
                        yield {"session": sess, "frame": self._picture(sess, lang),
                               "status": t("pg.status.draw_playing", lang, count=sess.count, min=toy2d.MIN_DRAWN)}
                    time.sleep(IDLE_S)
                    continue
                shown = None
                fresh = pg.settings.model != "diffusion" or time.perf_counter() - sampled >= RESAMPLE_S
                sampled = time.perf_counter() if fresh else sampled
                try:
                    frame = runtime.call(self._advance, pg, sess.view["spf"], sess.view["t_view"], fresh)
                except UserError as err:
                    if err.key != "toy2d_nan":
                        raise
                    gr.Warning(err.localized(lang), title=t("error.title", lang))
                    yield {"session": sess, "frame": runtime.call(self._picture, sess, lang),
                           "status": "⚠️ " + err.localized(lang)}
                    return
                html = self._render(sess, frame, lang)
                stamps.append(time.perf_counter())
                fps = (len(stamps) - 1) / (stamps[-1] - stamps[0]) if len(stamps) > 1 else 0.0
                name, value = self._metric_value(sess, lang)
                yield {"session": sess, "frame": html, "status": self._counted(sess, lang, t(
                    "pg.status.playing", lang, step=pg.step, fps=fps, sps=fps * sess.view["spf"], metric=name,
                    value=value))}
                time.sleep(max(0.0, 1 / MAX_FPS - (time.perf_counter() - tick)))
            if sess.settings is not None and not sess.closed:
                yield {"session": sess, "status": self._idle_status(sess, sess.lang or lang)}
        finally:
            sess.streaming = False

    @staticmethod
    def pause(session):
        """Pause: the playing loop sees the flag before its next frame (a waiting one leaves the queue)."""
        if isinstance(session, Session):
            session.pause = True

    @staticmethod
    def loss_defaults(v):
        """A new GAN loss brings its usual D steps (the WGAN-GP paper's 5 critic steps; 1 otherwise)
        and unlocks the penalty weight for WGAN-GP only."""
        wgan = v.loss == "wgan-gp"
        return {"d_steps": gr.update(value=5 if wgan else 1), "gp_weight": gr.update(interactive=wgan)}

    @staticmethod
    def visibility(v):
        """Which controls the chosen model has."""
        gan, diffusion, vae = v.model == "gan", v.model == "diffusion", v.model == "vae"
        return {"gan_box": gr.update(visible=gan), "vae_box": gr.update(visible=vae),
                "diffusion_box": gr.update(visible=diffusion), "step_d": gr.update(visible=gan),
                "step_g": gr.update(visible=gan), "draw_box": gr.update(visible=v.data == "drawn"),
                "helps": [gr.update(visible=gan), gr.update(visible=diffusion), gr.update(visible=vae)]}


# --- layout ---------------------------------------------------------------------------------------


# --- layout ---------------------------------------------------------------------------------------


def _radio(reg, key, pairs, value, elem_id, **kwargs):
    return widget(reg, gr.Radio, choice_keys=pairs, value=value, label=key, elem_id=elem_id, **kwargs)


def _model_boxes(reg, ui):
    """The drawing tools and each model's own settings, one box per model (shown by h.visibility)."""
    with gr.Column(visible=False, elem_id="playground-draw-box") as ui.draw_box:
        widget(reg, gr.Markdown, text="pg.draw.help", elem_classes=["small-note"])
        with gr.Row():
            ui.undo = widget(reg, gr.Button, text="pg.draw.undo", size="sm", elem_id="playground-undo")
            ui.clear = widget(reg, gr.Button, text="pg.draw.clear", size="sm", elem_id="playground-clear")
    with gr.Column(visible=True, elem_id="playground-gan-box") as ui.gan_box:
        ui.loss = _radio(reg, "pg.loss", [(f"pg.loss.{k}", k) for k in toy2d.GAN_LOSSES], "ns", "playground-loss",
                         info="pg.loss.info")
        ui.d_steps = widget(reg, gr.Slider, minimum=1, maximum=5, value=1, step=1, label="pg.d_steps",
                            elem_id="playground-d-steps")
        ui.gp_weight = widget(reg, gr.Slider, minimum=0, maximum=20, value=1.0, step=0.1, label="pg.gp",
                              interactive=False, elem_id="playground-gp")
    with gr.Column(visible=False, elem_id="playground-vae-box") as ui.vae_box:
        ui.beta = widget(reg, gr.Slider, minimum=0, maximum=5, value=1.0, step=0.05, label="pg.beta",
                         info="pg.beta.info", elem_id="playground-beta")
    with gr.Column(visible=False, elem_id="playground-diffusion-box") as ui.diffusion_box:
        ui.t_view = widget(reg, gr.Slider, minimum=1, maximum=TIMESTEPS, value=TIMESTEPS // 4, step=1,
                           label="pg.t_view", info="pg.t_view.info", elem_id="playground-t")


def _more_settings(reg, ui):
    with widget(reg, gr.Accordion, label="pg.more", open=False, elem_id="playground-more"):
        ui.spf = widget(reg, gr.Slider, minimum=1, maximum=50, value=DEFAULT_SPF, step=1, label="pg.spf",
                        elem_id="playground-spf")
        ui.batch = widget(reg, gr.Slider, minimum=16, maximum=1024, value=256, step=16, label="pg.batch",
                          elem_id="playground-batch")
        ui.hidden = widget(reg, gr.Slider, minimum=0, maximum=256, value=0, step=8, label="pg.hidden",
                           elem_id="playground-hidden")
        ui.seed = widget(reg, gr.Number, value=0, precision=0, minimum=0, maximum=2**32 - 1, label="pg.seed",
                         elem_id="playground-seed")
        ui.show = widget(reg, gr.CheckboxGroup, choice_keys=[(f"pg.show.{k}", k) for k in SHOW_DEFAULT],
                         value=list(SHOW_DEFAULT), label="pg.show", elem_id="playground-show")


def _settings(reg, ui):
    ui.model = _radio(reg, "pg.model", [(f"pg.model.{m}", m) for m in toy2d.MODELS], "gan", "playground-model")
    ui.data = widget(reg, gr.Dropdown, choice_keys=[(f"pg.data.{d}", d) for d in toy2d.DISTRIBUTIONS],
                     value="gaussians8", label="pg.data", elem_id="playground-data")
    _model_boxes(reg, ui)
    ui.lr = widget(reg, gr.Dropdown, choices=LR_CHOICES, value="0.003", allow_custom_value=True, label="pg.lr",
                   info="pg.lr.info", elem_id="playground-lr")
    ui.metric = _radio(reg, "pg.metric", [(f"pg.metric.{m}", m) for m in toy2d.METRICS], "js", "playground-metric",
                       info="pg.metric.info")
    _more_settings(reg, ui)


def _stage(reg, ui):
    """The buttons, the streamed frame and the help text of the model on screen."""
    with gr.Row():
        ui.play = widget(reg, gr.Button, text="pg.play", variant="primary", elem_id="playground-play")
        ui.pause = widget(reg, gr.Button, text="pg.pause", variant="stop", elem_id="playground-pause")
        ui.step = widget(reg, gr.Button, text="pg.step", elem_id="playground-step")
        ui.step_d = widget(reg, gr.Button, text="pg.step_d", elem_id="playground-step-d")
        ui.step_g = widget(reg, gr.Button, text="pg.step_g", elem_id="playground-step-g")
        ui.reset = widget(reg, gr.Button, text="pg.reset", elem_id="playground-reset")
    ui.status = gr.Markdown(elem_id="playground-status")
    ui.frame = gr.HTML(elem_id="playground-frame", min_height=plots.HEIGHT // 2, js_on_load=FRAME_JS)
    # For API clients: a click or stroke given as frame pixels (the page sends the frame's select event).
    ui.stroke = gr.JSON(visible=False)
    ui.add = gr.Button(visible=False)
    # What is on screen, one text per model (static, so the Registry translates them).
    ui.helps = [widget(reg, gr.Markdown, text=f"pg.help.{m}", visible=m == "gan", elem_id=f"playground-help-{m}",
                       elem_classes=["small-note"]) for m in toy2d.MODELS]


# --- wiring ---------------------------------------------------------------------------------------


def _wire_settings(ev, ui):
    """Every setting: rebuild the model when it must (model, data, size, seed), else apply it live."""
    gr.on([ui.model.change, ui.data.change], *ev.visibility, queue=False, show_progress="hidden", **PRIVATE)
    triggers = [ui.model.change, ui.data.change, ui.lr.change, ui.d_steps.release, ui.gp_weight.release,
                ui.beta.release, ui.batch.release, ui.hidden.release, ui.seed.submit]
    gr.on(triggers, *ev.setup, api_name="playground_setup", trigger_mode="always_last", **QUIET)
    # A new loss: its D steps first, then the model takes both (chained, so setup reads the new value).
    ui.loss.input(*ev.loss_defaults, queue=False, show_progress="hidden", **PRIVATE).then(*ev.setup, **QUIET,
                                                                                            **PRIVATE)
    ui.reset.click(*ev.reset, api_name="playground_reset", **QUIET)
    gr.on([ui.metric.change, ui.show.change, ui.t_view.release, ui.spf.release], *ev.redraw,
          api_name="playground_view", trigger_mode="always_last", **QUIET)


def _wire_training(h, ev, ui, session):
    """Steps, drawing, Play and Pause."""
    ui.step.click(*ev.step, api_name="playground_step", **QUIET)
    ui.step_d.click(*ev.step_d, api_name="playground_step_d", **QUIET)
    ui.step_g.click(*ev.step_g, api_name="playground_step_g", **QUIET)
    # Drawing: every click counts (trigger_mode "multiple"), in order (the session's points are locked).
    ui.frame.select(*ev.clicked, trigger_mode="multiple", **QUIET, **PRIVATE)
    ui.add.click(*ev.add, api_name="playground_add_points", **QUIET)
    ui.undo.click(*ev.undo, api_name="playground_undo", **QUIET)
    ui.clear.click(*ev.clear, api_name="playground_clear", **QUIET)
    # Play sleeps (the frame-rate cap, its turn in the queue), so it stays off the compute thread; its
    # training runs there frame by frame. Gradio lets every admitted or waiting Play in (and a few more,
    # which hear at once that the queue is full); h.slots decides who plays.
    ui.play.click(*ev.play, api_name="playground_play", show_progress="hidden", concurrency_id="playground-play",
                  concurrency_limit=h.slots.capacity + h.slots.waiting + 2)
    ui.pause.click(h.pause, session, None, api_name="playground_pause", queue=False, show_progress="hidden")


# The handlers' inputs (after the language) and outputs, by name. "values" is every setting, then the
# view, as one named group (the API's *values); build() maps the names to widgets, `positional` to
# plain arguments.
SETTINGS = ("model", "data", "loss", "lr", "d_steps", "gp_weight", "beta", "batch", "hidden", "seed")
VIEW = ("metric", "show", "t_view", "spf")
OUTPUTS = ("session", "frame", "status")
EVENTS = {
    "setup": (("session", *SETTINGS, *VIEW), OUTPUTS),
    "reset": (("session", "values"), OUTPUTS),
    "redraw": (("session", *VIEW), ("frame",)),
    "texts": (("session",), ("frame", "status")),
    **{name: (("session", "values"), OUTPUTS) for name in ("step", "step_d", "step_g", "clicked", "undo", "clear",
                                                            "play")},
    "add": (("session", "stroke", "values"), OUTPUTS),
}


def _named(components: dict, names) -> dict:
    return {name: components[name] for name in names}


def _events(lang, h, ui, session) -> SimpleNamespace:
    """Every event of the tab as (fn, inputs, outputs), from EVENTS."""
    comps = {"session": session, "stroke": ui.stroke, "frame": ui.frame, "status": ui.status,
             **{name: getattr(ui, name) for name in SETTINGS + VIEW}}
    comps["values"] = _named(comps, SETTINGS + VIEW)
    form = Form(lang)
    ev = SimpleNamespace(**{
        name: form(getattr(h, name), _named(comps, ins), _named(comps, outs), **({"compute": False}
                                                                               if name == "play" else {}))
        for name, (ins, outs) in EVENTS.items()})
    ev.visibility = forms.plain(h.visibility, {"model": ui.model, "data": ui.data, "loss": ui.loss}, {
        "gan_box": ui.gan_box, "vae_box": ui.vae_box, "diffusion_box": ui.diffusion_box, "step_d": ui.step_d,
        "step_g": ui.step_g, "draw_box": ui.draw_box, "helps": list(ui.helps)})
    ev.loss_defaults = forms.plain(h.loss_defaults, {"loss": ui.loss}, {"d_steps": ui.d_steps,
                                                                       "gp_weight": ui.gp_weight})
    return ev


def positional(h: PlaygroundHandlers) -> SimpleNamespace:
    """The handlers as Gradio calls them: (lang, *values in EVENTS' order) -> outputs in order (for tests
    and benchmarks that call them in-process); `pause` and `slots` as they are."""
    out = SimpleNamespace(pause=h.pause, slots=h.slots, handlers=h)
    for name, (ins, outs) in EVENTS.items():
        inputs = {n: dict.fromkeys(SETTINGS + VIEW) if n == "values" else None for n in ins}
        setattr(out, name, forms.named(getattr(h, name), inputs, dict.fromkeys(outs)))
    return out


def build(ctx: AppContext) -> None:
    """Lay out the playground tab inside the current gr.Tabs and wire every event."""
    reg = ctx.reg
    h = PlaygroundHandlers(slots_from_env())
    ui = SimpleNamespace()
    with widget(reg, gr.Tab, label="pg.tab", id="playground", elem_id="playground-tab") as tab:
        ctx.open_tab(tab)
        # Inside the Tab: a State made directly in gr.Tabs shows up as a second tab button.
        session = gr.State(Session, delete_callback=_close)
        widget(reg, gr.Markdown, text="pg.intro", elem_id="playground-intro")
        links.copy_row(reg, "playground")  # a link that opens this view (demo/links.py)
        with gr.Row(equal_height=False):
            with gr.Column(scale=1, min_width=300):
                _settings(reg, ui)
            with gr.Column(scale=2, min_width=480):
                _stage(reg, ui)
        with widget(reg, gr.Accordion, label="pg.explain.title", open=False, elem_id="playground-explain-box"):
            widget(reg, gr.Markdown, text="pg.explain.body", latex_delimiters=LATEX_DELIMITERS,
                   elem_id="playground-explain")
    ev = _events(ctx.lang, h, ui, session)
    _wire_settings(ev, ui)
    _wire_training(h, ev, ui, session)
    ctx.opening.event(*ev.setup, show_progress="hidden", **PRIVATE)
    ctx.after_lang(tuple(ev.texts))
