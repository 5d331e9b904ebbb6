"""The 2-D playground tab: a tiny GAN, diffusion model or VAE learning a 2-D distribution live.

Each browser session owns one `Session` (in a gr.State): its `engines.toy2d.Playground`, the
drawn points, what to show, and the play / pause flags. Nothing is shared between sessions.

Play is a generator handler: it trains a few steps, renders a frame with demo.playground_plots
(numpy + PIL), and yields it as an inline PNG in a gr.HTML, so streaming writes no files to
Gradio's cache. Pause sets a flag that the loop reads before every frame (well under a second).
"""

from __future__ import annotations

import base64
import collections
import io
import math
import time

import gradio as gr
import numpy as np
from PIL import Image

from engines import toy2d
from engines.errors import UserError

from . import i18n_playground  # noqa: F401 (registers the strings)
from . import playground_plots as plots
from .common import PRIVATE, AppContext, handler
from .i18n import LATEX_DELIMITERS, t

MAX_FPS = 15            # frames a second at most while playing (leaves CPU for the rest of the app)
RESAMPLE_S = 0.25       # while playing, diffusion samples (T network calls) are redrawn this often, not every frame
MAX_PLAY_S = 600        # one press of Play runs at most this long, then pauses
PLAY_CONCURRENCY = 4    # sessions playing at once; more wait in the queue
DEFAULT_SPF = 5         # training steps per frame
TIMESTEPS = 50          # the diffusion model's T in this tab
SKETCH_SIDE = 300       # pixels of the drawing canvas, which covers the view [-EXTENT, EXTENT]^2
LR_CHOICES = ["0.0001", "0.0003", "0.001", "0.003", "0.01", "0.03", "0.1"]
SHOW_DEFAULT = ["heat", "real", "fake", "arrows", "trajectories"]
PNG_LEVEL = 1           # zlib level: 1 encodes a frame in a few ms (level 6: 3x slower, 20% smaller)
QUIET = {"show_progress": "hidden", "concurrency_id": "playground-ui", "concurrency_limit": 2}


class Session:
    """One browser session's playground; lives in its gr.State."""

    def __init__(self):
        self.pg: toy2d.Playground | None = None
        self.points: np.ndarray | None = None   # drawn points (K, 2), data coordinates
        self.view = {"metric": "js", "show": list(SHOW_DEFAULT), "t_view": TIMESTEPS // 4, "spf": DEFAULT_SPF}
        # The language of the last switch: newer than the language an event carries when it was queued
        # before the switch (a page that switches to Chinese while its first frame is being drawn).
        self.lang: str | None = None
        self.playing = False
        self.pause = False   # plain flag (a gr.State value is deep-copied once, at session start)

    def close(self) -> None:
        self.pause = True
        self.pg = None


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


def settings_from(model, data, loss, lr, d_steps, gp_weight, beta, batch, hidden, seed) -> toy2d.Settings:
    return toy2d.Settings(model=model, data=data, loss=loss, lr=_lr(lr), d_steps=_int(d_steps, 1),
                          gp_weight=gp_weight, beta=beta, batch=_int(batch, 256), hidden=_int(hidden),
                          timesteps=TIMESTEPS, seed=_int(seed)).checked()


def sketch_points(sketch) -> np.ndarray | None:
    """A Sketchpad value -> drawn points (K, 2) in data coordinates, or None when nothing is drawn."""
    if sketch is None:
        return None
    image = sketch.get("composite") if isinstance(sketch, dict) else sketch
    if image is None and isinstance(sketch, dict):
        layers = [x for x in sketch.get("layers") or [] if x is not None]
        image = layers[0] if layers else None
    if image is None:
        return None
    arr = np.asarray(image)
    if arr.ndim == 2:
        ink = 1 - arr.astype(np.float32) / 255
    elif arr.shape[2] == 4 and arr[..., 3].min() < 255:
        ink = arr[..., 3].astype(np.float32) / 255 * (1 - arr[..., :3].mean(2) / 255)  # dark strokes on transparency
    else:
        ink = 1 - arr[..., :3].astype(np.float32).mean(2) / 255
    return toy2d.points_from_ink(ink)


def canvas_background(side: int = SKETCH_SIDE) -> np.ndarray:
    """The drawing canvas: white, with the view's light grid, so strokes land where the data will be."""
    img = np.full((side, side, 3), 255, np.uint8)
    e = toy2d.EXTENT
    for v in range(-int(e), int(e) + 1):
        p = round((v + e) / (2 * e) * (side - 1))
        shade = 215 if v == 0 else 235
        img[:, p] = shade
        img[side - 1 - p, :] = shade
    return img


def frame_html(image: np.ndarray, alt: str) -> str:
    """A rendered frame as an inline PNG: nothing is written to disk, whatever the frame rate."""
    buf = io.BytesIO()
    Image.fromarray(image).save(buf, "png", compress_level=PNG_LEVEL)
    data = base64.b64encode(buf.getvalue()).decode("ascii")
    # A box of fixed proportions: a new frame never changes the page's layout (nothing below reflows).
    return (f'<div style="width:100%;max-width:{plots.WIDTH}px;aspect-ratio:{plots.WIDTH}/{plots.HEIGHT}">'
            f'<img src="data:image/png;base64,{data}" alt="{alt}" style="width:100%;height:100%;display:block"></div>')


# --- handlers ------------------------------------------------------------------------------------


class PlaygroundHandlers:
    """Event handlers; each takes the session language and the Session first."""

    @staticmethod
    def _session(session) -> Session:
        return session if isinstance(session, Session) else Session()

    @staticmethod
    def _set_view(sess: Session, metric, show, t_view, spf) -> None:
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
    def _picture(sess: Session, lang: str, fresh: bool = True) -> str:
        v = sess.view
        frame = sess.pg.frame(t_view=v["t_view"], fresh=fresh)
        image = plots.render(frame, lang, v["metric"], v["show"])
        return frame_html(image, t("pg.frame", lang))

    @staticmethod
    def _metric_value(sess: Session, lang: str) -> tuple[str, float]:
        metric = sess.view["metric"]
        history = sess.pg.history[metric]
        return t(f"pg.metric.{metric}", lang), (history[-1] if history else math.nan)

    def _ensure(self, sess: Session, settings: toy2d.Settings, *, rebuild: bool = False) -> None:
        points = sess.points if settings.data == "drawn" else None
        pg = sess.pg
        if rebuild or pg is None or pg.needs_rebuild(settings, points):
            sess.pg = toy2d.Playground(settings, points)
        else:
            pg.apply(settings)

    def _ready(self, sess: Session, lang: str) -> str:
        s = sess.pg.settings
        params = sum(p.numel() for p in sess.pg.net.parameters())
        return t("pg.status.ready", lang, model=t(f"pg.model.{s.model}", lang), data=t(f"pg.data.{s.data}", lang),
                 params=f"{params:,}")

    def setup(self, lang, session, model, data, loss, lr, d_steps, gp_weight, beta, batch, hidden, seed, sketch,
              metric, show, t_view, spf, rebuild=False):
        """Build (or update) the session's model for these settings and draw it.
        -> (session, frame, status)."""
        sess = self._session(session)
        lang = sess.lang or lang
        self._set_view(sess, metric, show, t_view, spf)
        settings = settings_from(model, data, loss, lr, d_steps, gp_weight, beta, batch, hidden, seed)
        if settings.data == "drawn":
            sess.points = sketch_points(sketch)
            try:
                self._ensure(sess, settings, rebuild=rebuild)
            except UserError as err:
                if err.key != "toy2d_too_few_points":
                    raise
                sess.pg = None
                message = t("pg.status.draw", lang) if sess.points is None or not len(sess.points) \
                    else "⚠️ " + err.localized(lang)
                return sess, gr.skip(), message
        else:
            self._ensure(sess, settings, rebuild=rebuild)
        if sess.playing:  # the running loop draws the next frame itself
            return sess, gr.skip(), gr.skip()
        html, status = self._picture(sess, lang), self._ready(sess, lang)
        if sess.lang and sess.lang != lang:  # the language switched while this was being drawn
            lang = sess.lang
            html, status = self._picture(sess, lang), self._ready(sess, lang)
        return sess, html, status

    def reset(self, lang, session, *values):
        return self.setup(lang, session, *values, rebuild=True)

    def redraw(self, lang, session, metric, show, t_view, spf):
        """A display option changed: draw the current model again (the play loop picks it up itself)."""
        sess = self._session(session)
        lang = sess.lang or lang
        self._set_view(sess, metric, show, t_view, spf)
        if sess.pg is None or sess.playing:
            return gr.skip()
        return self._picture(sess, lang)

    def texts(self, lang, session):
        """After a language switch: the frame and the status line in the new language."""
        sess = self._session(session)
        sess.lang = lang
        if sess.pg is None or sess.playing:  # a playing loop switches at its next frame
            return gr.skip(), gr.skip()
        name, value = self._metric_value(sess, lang)
        status = t("pg.status.paused", lang, step=sess.pg.step, metric=name, value=value) if sess.pg.step \
            else self._ready(sess, lang)
        return self._picture(sess, lang), status

    def _prepare(self, sess: Session, values) -> bool:
        """Step / Play: the view and the model for these widget values (controls, then view), with the
        points drawn last time. -> False when there is nothing to train yet (too few drawn points)."""
        self._set_view(sess, *values[-4:])
        try:
            self._ensure(sess, settings_from(*values[:10]))
        except UserError as err:
            if err.key != "toy2d_too_few_points":
                raise
            sess.pg = None
        return sess.pg is not None

    def _step(self, lang, session, which, *values):
        sess = self._session(session)
        lang = sess.lang or lang
        if not self._prepare(sess, values):
            return sess, gr.skip(), t("pg.status.draw", lang)
        try:
            sess.pg.train(1, which=which)
        except UserError as err:
            if err.key != "toy2d_nan":
                raise
            gr.Warning(err.localized(lang), title=t("error.title", lang))
            return sess, self._picture(sess, lang), "⚠️ " + err.localized(lang)
        html = self._picture(sess, lang)
        name, value = self._metric_value(sess, lang)
        return sess, html, t("pg.status.stepped", lang, step=sess.pg.step, which=t(f"pg.which.{which}", lang),
                             metric=name, value=value)

    def step(self, lang, session, *values):
        return self._step(lang, session, "both", *values)

    def step_d(self, lang, session, *values):
        return self._step(lang, session, "D", *values)

    def step_g(self, lang, session, *values):
        return self._step(lang, session, "G", *values)

    def play(self, lang, session, *values):
        """Train and stream frames until Pause, a divergence, or MAX_PLAY_S. Yields (session, frame, status)."""
        sess = self._session(session)
        lang = sess.lang or lang
        if sess.playing:  # already playing in this session (a second click): that loop goes on
            yield sess, gr.skip(), gr.skip()
            return
        if not self._prepare(sess, values):
            yield sess, gr.skip(), t("pg.status.draw", lang)
            return
        sess.playing, sess.pause = True, False
        start = time.perf_counter()
        stamps = collections.deque(maxlen=20)
        sampled = 0.0
        try:
            while not sess.pause and sess.pg is not None:
                pg, tick = sess.pg, time.perf_counter()
                lang = sess.lang or lang   # a language switch while playing takes effect at the next frame
                try:
                    pg.train(sess.view["spf"])
                except UserError as err:
                    if err.key != "toy2d_nan":
                        raise
                    gr.Warning(err.localized(lang), title=t("error.title", lang))
                    yield sess, self._picture(sess, lang), "⚠️ " + err.localized(lang)
                    return
                fresh = pg.settings.model != "diffusion" or time.perf_counter() - sampled >= RESAMPLE_S
                sampled = time.perf_counter() if fresh else sampled
                html = self._picture(sess, lang, fresh)
                stamps.append(time.perf_counter())
                fps = (len(stamps) - 1) / (stamps[-1] - stamps[0]) if len(stamps) > 1 else 0.0
                name, value = self._metric_value(sess, lang)
                yield sess, html, t("pg.status.playing", lang, step=pg.step, fps=fps, sps=fps * sess.view["spf"],
                                    metric=name, value=value)
                if time.perf_counter() - start > MAX_PLAY_S:
                    yield sess, gr.skip(), t("pg.status.limit", lang, minutes=MAX_PLAY_S // 60)
                    return
                time.sleep(max(0.0, 1 / MAX_FPS - (time.perf_counter() - tick)))
            if sess.pg is not None:
                lang = sess.lang or lang
                name, value = self._metric_value(sess, lang)
                yield sess, gr.skip(), t("pg.status.paused", lang, step=sess.pg.step, metric=name, value=value)
        finally:
            sess.playing = False

    @staticmethod
    def pause(session):
        """Pause: the playing loop sees the flag before its next frame."""
        if isinstance(session, Session):
            session.pause = True

    @staticmethod
    def loss_defaults(loss):
        """A new GAN loss brings its usual D steps (the WGAN-GP paper's 5 critic steps; 1 otherwise)
        and unlocks the penalty weight for WGAN-GP only."""
        wgan = loss == "wgan-gp"
        return gr.update(value=5 if wgan else 1), gr.update(interactive=wgan)

    @staticmethod
    def visibility(model, data, loss):
        """Which controls the chosen model has."""
        gan, diffusion, vae = model == "gan", model == "diffusion", model == "vae"
        return (gr.update(visible=gan), gr.update(visible=vae), gr.update(visible=diffusion),
                gr.update(visible=gan), gr.update(visible=gan), gr.update(visible=data == "drawn"),
                gr.update(visible=gan), gr.update(visible=diffusion), gr.update(visible=vae))


# --- layout ---------------------------------------------------------------------------------------


def build(ctx: AppContext) -> None:
    """Lay out the playground tab inside the current gr.Tabs and wire every event."""
    reg, lang_state = ctx.reg, ctx.lang
    h = PlaygroundHandlers()
    with reg(gr.Tab(reg.text("pg.tab"), id="playground", elem_id="playground-tab"), label="pg.tab"):
        # Inside the Tab: a State made directly in gr.Tabs shows up as a second tab button.
        session = gr.State(Session, delete_callback=_close)
        reg(gr.Markdown(reg.text("pg.intro"), elem_id="playground-intro"), value="pg.intro")
        with gr.Row(equal_height=False):
            with gr.Column(scale=1, min_width=300):
                models = [(f"pg.model.{m}", m) for m in toy2d.MODELS]
                model = reg(gr.Radio(reg.choices(models), value="gan", label=reg.text("pg.model"),
                                     elem_id="playground-model"), label="pg.model", choices=models)
                datas = [(f"pg.data.{d}", d) for d in toy2d.DISTRIBUTIONS]
                data = reg(gr.Dropdown(reg.choices(datas), value="gaussians8", label=reg.text("pg.data"),
                                       elem_id="playground-data"), label="pg.data", choices=datas)
                with gr.Column(visible=False, elem_id="playground-draw-box") as draw_box:
                    reg(gr.Markdown(reg.text("pg.draw.help"), elem_classes=["small-note"]), value="pg.draw.help")
                    sketch = reg(gr.Sketchpad(value={"background": canvas_background(), "layers": [], "composite": None},
                                              label=reg.text("pg.draw"), canvas_size=(SKETCH_SIDE, SKETCH_SIDE),
                                              fixed_canvas=True, layers=False, height=SKETCH_SIDE + 80,
                                              brush=gr.Brush(default_size=6, colors=["#000000"], color_mode="fixed"),
                                              type="numpy", image_mode="RGB", format="png",
                                              elem_id="playground-sketch"), label="pg.draw")
                    use_drawing = reg(gr.Button(reg.text("pg.draw.use"), elem_id="playground-use-drawing"),
                                      value="pg.draw.use")
                with gr.Column(visible=True, elem_id="playground-gan-box") as gan_box:
                    losses = [(f"pg.loss.{k}", k) for k in toy2d.GAN_LOSSES]
                    loss = reg(gr.Radio(reg.choices(losses), value="ns", label=reg.text("pg.loss"),
                                        info=reg.text("pg.loss.info"), elem_id="playground-loss"),
                               label="pg.loss", info="pg.loss.info", choices=losses)
                    d_steps = reg(gr.Slider(1, 5, value=1, step=1, label=reg.text("pg.d_steps"),
                                            elem_id="playground-d-steps"), label="pg.d_steps")
                    gp_weight = reg(gr.Slider(0, 20, value=1.0, step=0.1, label=reg.text("pg.gp"), interactive=False,
                                              elem_id="playground-gp"), label="pg.gp")
                with gr.Column(visible=False, elem_id="playground-vae-box") as vae_box:
                    beta = reg(gr.Slider(0, 5, value=1.0, step=0.05, label=reg.text("pg.beta"),
                                         info=reg.text("pg.beta.info"), elem_id="playground-beta"),
                               label="pg.beta", info="pg.beta.info")
                with gr.Column(visible=False, elem_id="playground-diffusion-box") as diffusion_box:
                    t_view = reg(gr.Slider(1, TIMESTEPS, value=TIMESTEPS // 4, step=1, label=reg.text("pg.t_view"),
                                           info=reg.text("pg.t_view.info"), elem_id="playground-t"),
                                 label="pg.t_view", info="pg.t_view.info")
                lr = reg(gr.Dropdown(LR_CHOICES, value="0.003", allow_custom_value=True, label=reg.text("pg.lr"),
                                     info=reg.text("pg.lr.info"), elem_id="playground-lr"),
                         label="pg.lr", info="pg.lr.info")
                metrics_ = [(f"pg.metric.{m}", m) for m in toy2d.METRICS]
                metric = reg(gr.Radio(reg.choices(metrics_), value="js", label=reg.text("pg.metric"),
                                      info=reg.text("pg.metric.info"), elem_id="playground-metric"),
                             label="pg.metric", info="pg.metric.info", choices=metrics_)
                with reg(gr.Accordion(reg.text("pg.more"), open=False, elem_id="playground-more"), label="pg.more"):
                    spf = reg(gr.Slider(1, 50, value=DEFAULT_SPF, step=1, label=reg.text("pg.spf"),
                                        elem_id="playground-spf"), label="pg.spf")
                    batch = reg(gr.Slider(16, 1024, value=256, step=16, label=reg.text("pg.batch"),
                                          elem_id="playground-batch"), label="pg.batch")
                    hidden = reg(gr.Slider(0, 256, value=0, step=8, label=reg.text("pg.hidden"),
                                           elem_id="playground-hidden"), label="pg.hidden")
                    seed = reg(gr.Number(0, precision=0, minimum=0, maximum=2**32 - 1, label=reg.text("pg.seed"),
                                         elem_id="playground-seed"), label="pg.seed")
                    shows = [(f"pg.show.{k}", k) for k in SHOW_DEFAULT]
                    show = reg(gr.CheckboxGroup(reg.choices(shows), value=list(SHOW_DEFAULT), label=reg.text("pg.show"),
                                                elem_id="playground-show"), label="pg.show", choices=shows)
            with gr.Column(scale=2, min_width=480):
                with gr.Row():
                    play_btn = reg(gr.Button(reg.text("pg.play"), variant="primary", elem_id="playground-play"),
                                   value="pg.play")
                    pause_btn = reg(gr.Button(reg.text("pg.pause"), variant="stop", elem_id="playground-pause"),
                                    value="pg.pause")
                    step_btn = reg(gr.Button(reg.text("pg.step"), elem_id="playground-step"), value="pg.step")
                    step_d_btn = reg(gr.Button(reg.text("pg.step_d"), elem_id="playground-step-d"), value="pg.step_d")
                    step_g_btn = reg(gr.Button(reg.text("pg.step_g"), elem_id="playground-step-g"), value="pg.step_g")
                    reset_btn = reg(gr.Button(reg.text("pg.reset"), elem_id="playground-reset"), value="pg.reset")
                status = gr.Markdown(elem_id="playground-status")
                frame = gr.HTML(elem_id="playground-frame", min_height=plots.HEIGHT // 2, js_on_load=None)
                # What is on screen, one text per model (static, so the Registry translates them).
                helps = [reg(gr.Markdown(reg.text(f"pg.help.{m}"), visible=m == "gan", elem_id=f"playground-help-{m}",
                                         elem_classes=["small-note"]), value=f"pg.help.{m}") for m in toy2d.MODELS]
        with reg(gr.Accordion(reg.text("pg.explain.title"), open=False, elem_id="playground-explain-box"),
                 label="pg.explain.title"):
            reg(gr.Markdown(reg.text("pg.explain.body"), latex_delimiters=LATEX_DELIMITERS,
                            elem_id="playground-explain"), value="pg.explain.body")

    # --- wiring -------------------------------------------------------------------------------------
    LS = [lang_state, session]
    controls = [model, data, loss, lr, d_steps, gp_weight, beta, batch, hidden, seed]
    view = [metric, show, t_view, spf]
    setup_in = [*LS, *controls, sketch, *view]
    setup_out = [session, frame, status]
    step_in = [*LS, *controls, *view]
    step_out = [session, frame, status]

    gr.on([model.change, data.change], h.visibility, [model, data, loss],
          [gan_box, vae_box, diffusion_box, step_d_btn, step_g_btn, draw_box, *helps],
          queue=False, show_progress="hidden", **PRIVATE)
    # Every setting: rebuild the model when it must (model, data, size, seed), else apply it live.
    triggers = [model.change, data.change, lr.change, d_steps.release, gp_weight.release, beta.release,
                batch.release, hidden.release, seed.submit, use_drawing.click]
    gr.on(triggers, handler(h.setup), setup_in, setup_out, api_name="playground_setup", trigger_mode="always_last",
          **QUIET)
    # A new loss: its D steps first, then the model takes both (chained, so setup reads the new value).
    loss.input(h.loss_defaults, loss, [d_steps, gp_weight], queue=False, show_progress="hidden", **PRIVATE).then(
        handler(h.setup), setup_in, setup_out, **QUIET, **PRIVATE)
    reset_btn.click(handler(h.reset), setup_in, setup_out, api_name="playground_reset", **QUIET)
    gr.on([metric.change, show.change, t_view.release, spf.release], handler(h.redraw), [*LS, *view], frame,
          api_name="playground_view", trigger_mode="always_last", **QUIET)
    step_btn.click(handler(h.step), step_in, step_out, api_name="playground_step", **QUIET)
    step_d_btn.click(handler(h.step_d), step_in, step_out, api_name="playground_step_d", **QUIET)
    step_g_btn.click(handler(h.step_g), step_in, step_out, api_name="playground_step_g", **QUIET)
    play_btn.click(handler(h.play), step_in, step_out, api_name="playground_play", show_progress="hidden",
                   concurrency_id="playground-play", concurrency_limit=PLAY_CONCURRENCY)
    pause_btn.click(h.pause, session, None, api_name="playground_pause", queue=False, show_progress="hidden")

    ctx.demo.load(handler(h.setup), setup_in, setup_out, show_progress="hidden", **PRIVATE)
    ctx.on_lang.append((handler(h.texts), LS, [frame, status]))
