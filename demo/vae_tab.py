"""The VAE tab: interpolation, latent sliders, the 2-D latent map, reconstruction and beta.

`build(ctx)` lays the widgets out and wires them; the handlers live on `VaeHandlers`, each
taking the session language and uploads first, then widget values, and returning images.
"""

from __future__ import annotations

import math
import os
import tempfile
import time
import uuid

import gradio as gr
import numpy as np
from PIL import Image

from engines.errors import UserError

from . import vae_plots
from .common import (
    COMPUTE,
    LIVE,
    PRIVATE,
    QUIET,
    AppContext,
    Models,
    Remembered,
    SmallCache,
    add_upload,
    card_table,
    display,
    handler,
    model_row,
    strip,
)
from .i18n import LATEX_DELIMITERS, t
from .vae_inputs import (
    Choice,
    build_picker,
    default_examples,
    endpoint,
    example_choices,
    fit,
    model_input,
    not_given,
)

FAMILY = "vae"
DEFAULT_MODEL = "mnist-vae-z16"
DEFAULT_MAP_MODEL = "mnist-vae-z2"
DEFAULT_BETA = ("mnist-vae-z16", "mnist-vae-z16-beta4")
N_SLIDERS = 16
SLIDER_RANGE = 3.0  # sliders span [-3, 3]: prior standard deviations (or PCA standard deviations)
GIF_FRAMES = 24  # frames A -> B in an exported GIF; it then plays back B -> A
GIF_SCALE = 4
# Output components of an event that fails show an error badge unless its progress is hidden;
# the message itself always arrives as a toast, so every event here hides its progress.

_GIF_DIR = tempfile.mkdtemp(prefix="genlab-gif-")


_MAPS = SmallCache(24).get  # decoded latent maps by (model, grid, span)


def _format_card(engine, lang: str) -> str:
    c, m = engine.config, engine.card.get("metrics") or {}
    none = t("card.none", lang)

    def num(v, fmt="{:.1f}"):
        return fmt.format(v) if isinstance(v, (int, float)) else none

    elbo = none
    if isinstance(m.get("heldout_neg_elbo"), (int, float)):
        elbo = f"{m['heldout_neg_elbo']:.1f} " + t("card.nats", lang, recon=num(m.get("heldout_recon")),
                                                   kl=num(m.get("heldout_kl")))
    return card_table(engine, lang, [
        ("card.elbo", elbo),
        ("card.config", f"{c.image_size}×{c.image_size}×{c.channels}, z ∈ ℝ^{c.latent_dim}, "
                        f"β = {c.beta:g}, p(x|z): {c.likelihood}"),
    ])


def _gif_path() -> str:
    cutoff = time.time() - 600
    for name in os.listdir(_GIF_DIR):  # exports older than 10 minutes were served long ago
        path = os.path.join(_GIF_DIR, name)
        try:
            if os.path.getmtime(path) < cutoff:
                os.remove(path)
        except OSError:
            pass
    return os.path.join(_GIF_DIR, f"interpolation-{uuid.uuid4().hex[:8]}.gif")


class VaeHandlers:
    """Event handlers. Each takes (lang, uploads, model, ...) and returns display-ready values."""

    def __init__(self, models: Models):
        self.models = models

    def _engine(self, uploads, model):
        return self.models.engine(model, uploads)

    # --- model -----------------------------------------------------------------------------------

    def model_changed(self, lang, uploads, model):
        """Card, example lists, and the sliders' shape for the newly selected model."""
        eng = self._engine(uploads, model)
        choices = example_choices(eng)
        a, b = default_examples(eng)
        basis, _, kind = eng.latent_axes(N_SLIDERS)
        n = len(basis)
        prefix = "PC" if kind == "pca" else "z"
        sliders = [gr.update(visible=i < n, label=f"{prefix}{i + 1}") for i in range(N_SLIDERS)]
        return (
            _format_card(eng, lang),
            gr.update(choices=choices, value=a), gr.update(choices=choices, value=b),
            gr.update(choices=choices, value=a), gr.update(choices=choices, value=a),
            self._slider_help(eng, lang),
            *sliders,
        )

    def texts(self, lang, uploads, model):
        """The model-dependent texts, re-rendered when the language changes."""
        eng = self._engine(uploads, model)
        return _format_card(eng, lang), self._slider_help(eng, lang)

    @staticmethod
    def _slider_help(eng, lang):
        _, _, kind = eng.latent_axes(N_SLIDERS)
        if kind == "pca":
            return t("sliders.help.pca", lang, latent=eng.latent_dim)
        return t("sliders.help.axes", lang)

    def upload(self, lang, uploads, files, beta_left, beta_right, map_model):
        """A checkpoint upload; a refused one is explained next to the upload box, not as an error
        state on the model dropdowns."""
        try:
            name, eng, uploads = add_upload(files, uploads, FAMILY)
        except UserError as err:
            gr.Warning(err.localized(lang), title=t("error.title", lang))
            return (*(gr.skip(),) * 5, "⚠️ " + err.localized(lang), None)
        value = "upload:" + name
        choices = self.models.choices(uploads, lang)
        status = t("model.upload.done", lang, name=name, family=FAMILY, latent=eng.latent_dim)
        return (uploads, gr.update(choices=choices, value=value), gr.update(choices=choices, value=beta_left),
                gr.update(choices=choices, value=beta_right), gr.update(choices=choices, value=map_model),
                status, None)

    def relabel_models(self, lang, uploads, model, beta_left, beta_right, map_model):
        choices = self.models.choices(uploads, lang)
        return tuple(gr.update(choices=choices, value=v) for v in (model, beta_left, beta_right, map_model))

    # --- interpolation ---------------------------------------------------------------------------

    def endpoint(self, lang, uploads, model, source, example, seed, upload, sketch):
        """One endpoint -> (its z, its decoded picture); skipped while an upload or sketch is missing."""
        choice = Choice(source=source, example=example, seed=seed, upload=upload, sketch=sketch)
        if not_given(source, upload, sketch):
            return gr.skip(), gr.skip()
        eng = self._engine(uploads, model)
        z = endpoint(eng, choice)
        return z.tolist(), display(eng.decode(z)[0])

    def _endpoints(self, eng, za, zb):
        """The stored endpoints; each one missing or from another model becomes its default example."""
        d = eng.latent_dim
        ends = [za, zb]
        missing = [i for i, z in enumerate(ends) if z is None or len(z) != d]
        if missing:
            examples = default_examples(eng)
            prior = eng.prior_sample(2, 0) if examples[0] is None else None
            for i in missing:  # encode only the default that is needed
                ends[i] = prior[i] if prior is not None else endpoint(eng, Choice("example", example=examples[i]))
        return np.asarray(ends[0], np.float32), np.asarray(ends[1], np.float32)

    def interpolate(self, lang, uploads, za, zb, model, t_value, mode):
        """The decoded image at t on the path A -> B."""
        eng = self._engine(uploads, model)
        if t_value is None or not math.isfinite(float(t_value)):
            raise UserError("value_not_finite", what="t", value=t_value)
        if not 0.0 <= float(t_value) <= 1.0:
            raise UserError("value_out_of_range", what="t", low=0, high=1, value=t_value)
        za, zb = self._endpoints(eng, za, zb)
        return display(eng.interpolate(za, zb, [float(t_value)], mode)[0])

    def interp_strip(self, lang, uploads, za, zb, model, mode, frames):
        eng = self._engine(uploads, model)
        frames = int(frames or 8)
        if not 2 <= frames <= 64:
            raise UserError("value_out_of_range", what="frames", low=2, high=64, value=frames)
        za, zb = self._endpoints(eng, za, zb)
        images = eng.interpolate(za, zb, np.linspace(0, 1, frames), mode)
        return display(strip(images), side=110 * frames)

    def interp_all(self, lang, uploads, za, zb, model, t_value, mode, frames):
        return (self.interpolate(lang, uploads, za, zb, model, t_value, mode),
                self.interp_strip(lang, uploads, za, zb, model, mode, frames))

    def export_gif(self, lang, uploads, za, zb, model, mode):
        eng = self._engine(uploads, model)
        za, zb = self._endpoints(eng, za, zb)
        images = eng.interpolate(za, zb, np.linspace(0, 1, GIF_FRAMES), mode)  # (T, H, W, C)
        images = images.repeat(GIF_SCALE, axis=1).repeat(GIF_SCALE, axis=2)
        frames = [Image.fromarray(im[:, :, 0] if im.shape[2] == 1 else im) for im in images]
        frames = frames + frames[-2:0:-1]  # A -> B -> back, without repeating the ends
        path = _gif_path()
        frames[0].save(path, save_all=True, append_images=frames[1:], duration=70, loop=0)
        return gr.update(value=path, visible=True)

    # --- latent sliders --------------------------------------------------------------------------

    @staticmethod
    def _z_from_sliders(eng, values) -> np.ndarray:
        basis, origin, _ = eng.latent_axes(N_SLIDERS)  # (k, D), (D,)
        coeffs = np.asarray([0.0 if v is None else v for v in values[:len(basis)]], np.float64)
        if not np.isfinite(coeffs).all():
            raise UserError("value_not_finite", what="z", value="NaN")
        return (origin + coeffs @ basis).astype(np.float32)

    @staticmethod
    def _sliders_from_z(eng, z) -> list[float]:
        basis, origin, _ = eng.latent_axes(N_SLIDERS)
        coeffs, *_ = np.linalg.lstsq(basis.T.astype(np.float64), (z - origin).astype(np.float64), rcond=None)
        coeffs = np.clip(np.round(coeffs / 0.05) * 0.05, -SLIDER_RANGE, SLIDER_RANGE)
        values = [round(float(c), 2) for c in coeffs] + [0.0] * (N_SLIDERS - len(coeffs))
        return values

    def slider_image(self, lang, uploads, model, *values):
        eng = self._engine(uploads, model)
        return display(eng.decode(self._z_from_sliders(eng, values))[0])

    def slider_plot(self, lang, uploads, model, *values):
        eng = self._engine(uploads, model)
        return vae_plots.prior_plot(self._z_from_sliders(eng, values))

    def _set_sliders(self, eng, z):
        values = self._sliders_from_z(eng, np.asarray(z, np.float32))
        z_shown = self._z_from_sliders(eng, values)  # what the (rounded, clipped) sliders encode
        return (*values, display(eng.decode(z_shown)[0]), vae_plots.prior_plot(z_shown))

    def slider_reset(self, lang, uploads, model):
        eng = self._engine(uploads, model)
        return self._set_sliders(eng, np.zeros(eng.latent_dim, np.float32))

    def slider_random(self, lang, uploads, model, seed):
        eng = self._engine(uploads, model)
        return self._set_sliders(eng, eng.prior_sample(1, 0 if seed is None else seed)[0])

    def slider_from_input(self, lang, uploads, model, source, example, upload, sketch):
        if not_given(source, upload, sketch):
            raise UserError("image_missing")
        eng = self._engine(uploads, model)
        mu, _ = eng.encode(model_input(eng, Choice(source, example=example, upload=upload, sketch=sketch)))
        return self._set_sliders(eng, mu[0])

    # --- 2-D latent map --------------------------------------------------------------------------

    def _map_pictures(self, eng, n: int, span: float):
        """(grid picture, scatter picture, scatter geometry), cached per model, n and span."""
        n, span = int(n), float(span)
        if not 3 <= n <= 30:
            raise UserError("value_out_of_range", what="n", low=3, high=30, value=n)
        if not (math.isfinite(span) and 0.5 <= span <= 6):
            raise UserError("value_out_of_range", what="span", low=0.5, high=6, value=span)

        def make():
            grid, _ = eng.manifold(n, span)
            grid_big = display(grid, side=480)
            lim = span + span / (n - 1)  # grid cells are centred on linspace(-span, span, n)
            points, labels = eng.encoded_points()
            picture, geom = vae_plots.scatter(points, labels, lim)
            return grid_big, picture, geom

        return _MAPS((str(eng.path), n, span), make)

    def latent_map(self, lang, uploads, map_model, n, span):
        """Grid + scatter for a 2-D model, or a clear message (and empty pictures) otherwise."""
        eng = self._engine(uploads, map_model)
        try:
            grid, picture, _ = self._map_pictures(eng, n, span)
        except UserError as err:
            if err.key != "model_needs_2d":
                raise
            return None, None, None, gr.update(value="⚠️ " + err.localized(lang), visible=True), None, None
        marked_grid, marked, image, z1, z2 = self._decode_at(eng, n, span, 0.0, 0.0)
        return marked_grid, marked, image, gr.update(value="", visible=False), z1, z2

    def _decode_at(self, eng, n, span, z1, z2):
        grid, picture, geom = self._map_pictures(eng, n, span)
        image = display(eng.decode(np.array([z1, z2], np.float32))[0])
        return (vae_plots.mark_grid(grid, int(n), float(span), z1, z2), vae_plots.mark(picture, geom, z1, z2),
                image, round(z1, 3), round(z2, 3))

    def map_click(self, lang, uploads, map_model, n, span, evt: gr.SelectData):
        """A click on the scatter: pixel (x, y) of the picture -> z through the axes' extent."""
        eng = self._engine(uploads, map_model)
        _, _, geom = self._map_pictures(eng, n, span)
        x, y = evt.index
        z = geom.to_z(float(x), float(y))
        if z is None:
            return gr.skip(), gr.skip(), gr.skip(), gr.skip(), gr.skip()
        return self._decode_at(eng, n, span, *z)

    def map_grid_click(self, lang, uploads, map_model, n, span, evt: gr.SelectData):
        """A click on the decoded grid: its picture covers [-lim, lim]^2 edge to edge."""
        eng = self._engine(uploads, map_model)
        grid, _, geom = self._map_pictures(eng, n, span)
        x, y = evt.index
        h, w = grid.shape[:2]
        lim = geom.lim
        return self._decode_at(eng, n, span, -lim + 2 * lim * float(x) / w, lim - 2 * lim * float(y) / h)

    def map_decode(self, lang, uploads, map_model, n, span, z1, z2):
        eng = self._engine(uploads, map_model)
        if z1 is None or z2 is None or not (math.isfinite(float(z1)) and math.isfinite(float(z2))):
            raise UserError("value_not_finite", what="z", value=f"({z1}, {z2})")
        return self._decode_at(eng, n, span, float(z1), float(z2))

    # --- reconstruction and beta -----------------------------------------------------------------

    def reconstruct(self, lang, uploads, model, source, example, upload, sketch):
        if not_given(source, upload, sketch):
            return gr.skip(), gr.skip(), gr.skip(), gr.skip()
        eng = self._engine(uploads, model)
        x = model_input(eng, Choice(source, example=example, upload=upload, sketch=sketch))
        r = eng.reconstruct(x, seed=0)
        metrics = t("recon.table", lang, recon=r["recon_nll"], kl=r["kl"], neg_elbo=r["neg_elbo"])
        return display(x), display(r["recon"]), metrics, vae_plots.sigma_bars(r["sigma"])

    def beta_compare(self, lang, uploads, model, source, example, upload, sketch, left, right, seed):
        if not_given(source, upload, sketch):
            return (gr.skip(),) * 6
        base = model_input(self._engine(uploads, model), Choice(source, example=example, upload=upload, sketch=sketch))
        out = []
        for value in (left, right):
            eng = self._engine(uploads, value)
            r = eng.reconstruct(fit(eng, base), seed=0)
            samples, _ = eng.sample(8, 0 if seed is None else seed)
            row = t("beta.row", lang, name=eng.name, beta=eng.config.beta, recon=r["recon_nll"], kl=r["kl"])
            out += [display(r["recon"], side=160), display(strip(samples), side=8 * 64), row]
        return tuple(out)


def build(ctx: AppContext) -> None:
    """Lay out the VAE tab inside the current gr.Tabs and wire every event."""
    reg, lang_state, uploads = ctx.reg, ctx.lang, ctx.uploads
    models = Models(FAMILY, ctx.assets_dir)
    h = VaeHandlers(models)
    lang = reg.lang
    default = models.default(DEFAULT_MODEL)
    choices = models.choices({}, lang)
    S = [lang_state, uploads]  # every handler's first two inputs

    with reg(gr.Tab(reg.text("vae.tab"), id="vae", elem_id="vae-tab"), label="vae.tab"):
        reg(gr.Markdown(reg.text("vae.intro"), elem_id="vae-intro"), value="vae.intro")
        model, card, upload_files, upload_status = model_row(reg, "vae", choices, default)

        with gr.Tabs(elem_id="vae-subtabs"):
            # --- 1. interpolation --------------------------------------------------------------------
            with reg(gr.Tab(reg.text("vae.sub.interp"), id="vae-interp", elem_id="vae-tab-interp"),
                     label="vae.sub.interp"):
                reg(gr.Markdown(reg.text("interp.help")), value="interp.help")
                za, zb = gr.State(None), gr.State(None)
                with gr.Row(equal_height=False):
                    with gr.Column(scale=1, min_width=220):
                        reg(gr.Markdown(f"#### {reg.text('interp.a')}"), value=("interp.a", "#### {}"))
                        pick_a = build_picker(reg, "vae-a", with_seed=True)
                        img_a = reg(gr.Image(label=reg.text("interp.a.image"), elem_id="vae-a-image", height=180,
                                             interactive=False, format="png", elem_classes=["out-image"], buttons=[]), label="interp.a.image")
                    with gr.Column(scale=2, min_width=300):
                        interp_img = reg(gr.Image(label=reg.text("interp.image"), elem_id="vae-interp-image",
                                                  height=280, interactive=False, format="png", elem_classes=["out-image"], buttons=["download"]),
                                         label="interp.image")
                        t_slider = reg(gr.Slider(0, 1, value=0.5, step=0.01, label=reg.text("interp.t"),
                                                 info=reg.text("interp.t.info"), elem_id="vae-interp-t"),
                                       label="interp.t", info="interp.t.info")
                        modes = [("interp.linear", "linear"), ("interp.spherical", "spherical")]
                        mode = reg(gr.Radio(reg.choices(modes), value="linear", label=reg.text("interp.mode"),
                                            info=reg.text("interp.mode.info"), elem_id="vae-interp-mode"),
                                   label="interp.mode", info="interp.mode.info", choices=modes)
                    with gr.Column(scale=1, min_width=220):
                        reg(gr.Markdown(f"#### {reg.text('interp.b')}"), value=("interp.b", "#### {}"))
                        pick_b = build_picker(reg, "vae-b", with_seed=True)
                        img_b = reg(gr.Image(label=reg.text("interp.b.image"), elem_id="vae-b-image", height=180,
                                             interactive=False, format="png", elem_classes=["out-image"], buttons=[]), label="interp.b.image")
                strip_img = reg(gr.Image(label=reg.text("interp.strip"), elem_id="vae-interp-strip", height=150,
                                         interactive=False, format="png", elem_classes=["out-image"], buttons=["download"]),
                                label="interp.strip")
                with gr.Row(equal_height=False):
                    frames = reg(gr.Slider(3, 16, value=9, step=1, label=reg.text("interp.frames"),
                                           elem_id="vae-interp-frames", scale=2), label="interp.frames")
                    with gr.Column(scale=2):
                        gif_btn = reg(gr.Button(reg.text("interp.gif"), elem_id="vae-interp-gif-btn", size="md"),
                                      value="interp.gif")
                        gif_file = reg(gr.File(label=reg.text("interp.gif.file"), elem_id="vae-interp-gif",
                                               interactive=False, visible=False), label="interp.gif.file")

            # --- 2. latent sliders -------------------------------------------------------------------
            with reg(gr.Tab(reg.text("vae.sub.sliders"), id="vae-sliders", elem_id="vae-tab-sliders"),
                     label="vae.sub.sliders"):
                slider_help = gr.Markdown(elem_id="vae-slider-help")
                mem = Remembered()  # the live sliders' other inputs, per session
                sliders = []
                with gr.Row(equal_height=False):
                    with gr.Column(scale=3, min_width=360):
                        with gr.Row():
                            for col in range(2):
                                with gr.Column(min_width=170):
                                    for i in range(col * N_SLIDERS // 2, (col + 1) * N_SLIDERS // 2):
                                        sliders.append(gr.Slider(-SLIDER_RANGE, SLIDER_RANGE, value=0.0, step=0.05,
                                                                 label=f"z{i + 1}", elem_id=f"vae-slider-{i}",
                                                                 elem_classes=["latent-slider"]))
                        sliders.sort(key=lambda s: int(s.elem_id.rsplit("-", 1)[1]))
                        with gr.Row():
                            reset_btn = reg(gr.Button(reg.text("sliders.reset"), elem_id="vae-slider-reset"),
                                            value="sliders.reset")
                            slider_seed = reg(gr.Number(value=0, precision=0, minimum=0, maximum=2**32 - 1,
                                                        label=reg.text("sliders.seed"), elem_id="vae-slider-seed",
                                                        min_width=100), label="sliders.seed")
                            random_btn = reg(gr.Button(reg.text("sliders.random"), elem_id="vae-slider-random"),
                                             value="sliders.random")
                        with reg(gr.Accordion(reg.text("sliders.from_input"), open=False,
                                              elem_id="vae-slider-input-box"), label="sliders.from_input"):
                            reg(gr.Markdown(reg.text("sliders.from_input.help")), value="sliders.from_input.help")
                            pick_s = build_picker(reg, "vae-slider", with_seed=False)
                            from_btn = reg(gr.Button(reg.text("sliders.from_input"), variant="primary",
                                                     elem_id="vae-slider-from-input"), value="sliders.from_input")
                    with gr.Column(scale=2, min_width=300):
                        slider_img = reg(gr.Image(label=reg.text("sliders.image"), elem_id="vae-slider-image",
                                                  height=260, interactive=False, format="png", elem_classes=["out-image"], buttons=[]),
                                         label="sliders.image")
                        reg(gr.Markdown(f"**{reg.text('sliders.plot')}**"), value=("sliders.plot", "**{}**"))
                        prior_plot = gr.Image(show_label=False, elem_id="vae-slider-prior-plot", interactive=False,
                                              format="png", buttons=[], container=False)
                        reg(gr.Markdown(reg.text("sliders.plot.note"), elem_classes=["small-note"]),
                            value="sliders.plot.note")

            # --- 3. 2-D latent map -------------------------------------------------------------------
            with reg(gr.Tab(reg.text("vae.sub.map"), id="vae-map", elem_id="vae-tab-map"), label="vae.sub.map"):
                reg(gr.Markdown(reg.text("map.help")), value="map.help")
                with gr.Row(equal_height=True):
                    map_model = reg(gr.Dropdown(choices, value=models.default(DEFAULT_MAP_MODEL),
                                                label=reg.text("map.model"), elem_id="vae-map-model", scale=2),
                                    label="map.model")
                    map_n = reg(gr.Slider(5, 25, value=15, step=1, label=reg.text("map.n"), elem_id="vae-map-n"),
                                label="map.n")
                    map_span = reg(gr.Slider(1, 5, value=3, step=0.5, label=reg.text("map.span"),
                                             elem_id="vae-map-span"), label="map.span")
                map_msg = gr.Markdown(visible=False, elem_id="vae-map-message")
                with gr.Row(equal_height=False):
                    map_grid = reg(gr.Image(label=reg.text("map.grid"), elem_id="vae-map-grid", height=470,
                                            interactive=False, format="png", elem_classes=["out-image"], buttons=[]), label="map.grid")
                    map_scatter = reg(gr.Image(label=reg.text("map.scatter"), elem_id="vae-map-scatter", height=470,
                                               interactive=False, format="png", elem_classes=["out-image"], buttons=[]),
                                      label="map.scatter")
                    with gr.Column(min_width=200, scale=0):
                        map_decoded = reg(gr.Image(label=reg.text("map.decoded"), elem_id="vae-map-decoded",
                                                   height=200, interactive=False, format="png", elem_classes=["out-image"], buttons=[]),
                                          label="map.decoded")
                        map_z1 = reg(gr.Number(label=reg.text("map.z1"), info=reg.text("map.z.info"),
                                               elem_id="vae-map-z1"), label="map.z1", info="map.z.info")
                        map_z2 = reg(gr.Number(label=reg.text("map.z2"), elem_id="vae-map-z2"), label="map.z2")

            # --- 4. reconstruction and beta ----------------------------------------------------------
            with reg(gr.Tab(reg.text("vae.sub.recon"), id="vae-recon", elem_id="vae-tab-recon"),
                     label="vae.sub.recon"):
                reg(gr.Markdown(reg.text("recon.help")), value="recon.help")
                with gr.Row(equal_height=False):
                    with gr.Column(scale=1, min_width=240):
                        pick_r = build_picker(reg, "vae-recon", with_seed=False)
                    recon_in = reg(gr.Image(label=reg.text("recon.input"), elem_id="vae-recon-input", height=220,
                                            interactive=False, format="png", elem_classes=["out-image"], buttons=[], scale=1),
                                   label="recon.input")
                    recon_out = reg(gr.Image(label=reg.text("recon.output"), elem_id="vae-recon-output", height=220,
                                             interactive=False, format="png", elem_classes=["out-image"], buttons=[], scale=1),
                                    label="recon.output")
                    with gr.Column(scale=2, min_width=320):
                        recon_metrics = gr.Markdown(elem_id="vae-recon-metrics")
                        recon_sigma = reg(gr.Image(label=reg.text("recon.sigma"), elem_id="vae-recon-sigma",
                                                   interactive=False, format="png", elem_classes=["out-image"], buttons=[]), label="recon.sigma")
                        reg(gr.Markdown(reg.text("recon.sigma.note"), elem_classes=["small-note"]),
                            value="recon.sigma.note")
                reg(gr.Markdown(f"### {reg.text('beta.title')}"), value=("beta.title", "### {}"))
                reg(gr.Markdown(reg.text("beta.explain")), value="beta.explain")
                with gr.Row(equal_height=True):
                    beta_left = reg(gr.Dropdown(choices, value=models.default(DEFAULT_BETA[0]),
                                                label=reg.text("beta.left"), elem_id="vae-beta-left"),
                                    label="beta.left")
                    beta_right = reg(gr.Dropdown(choices, value=models.default(DEFAULT_BETA[1]),
                                                 label=reg.text("beta.right"), elem_id="vae-beta-right"),
                                     label="beta.right")
                    beta_seed = reg(gr.Number(value=0, precision=0, minimum=0, maximum=2**32 - 1,
                                              label=reg.text("beta.seed"), elem_id="vae-beta-seed"),
                                    label="beta.seed")
                beta_out = []
                with gr.Row(equal_height=False):
                    for side in ("left", "right"):
                        with gr.Column():
                            text = gr.Markdown(elem_id=f"vae-beta-{side}-text")
                            with gr.Row(equal_height=False):
                                rec = reg(gr.Image(label=reg.text("beta.recon"), elem_id=f"vae-beta-{side}-recon",
                                                   height=170, interactive=False, format="png", elem_classes=["out-image"], buttons=[],
                                                   scale=1, min_width=120), label="beta.recon")
                                smp = reg(gr.Image(label=reg.text("beta.samples"),
                                                   elem_id=f"vae-beta-{side}-samples", height=170,
                                                   interactive=False, format="png", elem_classes=["out-image"], buttons=[], scale=3),
                                          label="beta.samples")
                            beta_out += [rec, smp, text]

            # --- 5. explanation ----------------------------------------------------------------------
            with reg(gr.Tab(reg.text("vae.sub.explain"), id="vae-explain", elem_id="vae-tab-explain"),
                     label="vae.sub.explain"):
                reg(gr.Markdown(reg.text("explain.body"), latex_delimiters=LATEX_DELIMITERS,
                                elem_id="vae-explain"), value="explain.body")

    # --- wiring -------------------------------------------------------------------------------------
    ex_dropdowns = [pick_a.example, pick_b.example, pick_s.example, pick_r.example]
    ep_a = [model, *pick_a.inputs]
    ep_b = [model, *pick_b.inputs]
    interp_inputs = [*S, za, zb, model, t_slider, mode, frames]
    slider_pick = [model, *pick_s.inputs]
    recon_inputs = [*S, model, *pick_r.inputs]
    beta_inputs = [*S, model, *pick_r.inputs, beta_left, beta_right, beta_seed]
    map_inputs = [*S, map_model, map_n, map_span]
    map_outputs = [map_grid, map_scatter, map_decoded, map_z1, map_z2]

    # Live sliders send only themselves: the other inputs of their events are remembered per session
    # from the events that take them (see common.Remembered).
    interp_all = mem.record(handler(h.interp_all), interp_inputs)
    set_outputs = [*sliders, slider_img, prior_plot]
    from_input = mem.record(handler(h.slider_from_input), [*S, *slider_pick], set_outputs)

    def model_chain(dep):
        """Everything that depends on the main model, refreshed in order after `dep`."""
        return (
            dep.then(handler(h.endpoint), [*S, *ep_a], [za, img_a], **QUIET, **PRIVATE)
            .then(handler(h.endpoint), [*S, *ep_b], [zb, img_b], **QUIET, **PRIVATE)
            .then(*interp_all, [interp_img, strip_img], **QUIET, **PRIVATE)
            .then(*from_input, set_outputs, **QUIET, **PRIVATE)
            .then(handler(h.reconstruct), recon_inputs, [recon_in, recon_out, recon_metrics, recon_sigma],
                  **QUIET, **PRIVATE)
        )

    model_outputs = [card, *ex_dropdowns, slider_help, *sliders]
    dep = model.change(handler(h.model_changed), [*S, model], model_outputs, api_name="vae_model", **QUIET)
    model_chain(dep).then(handler(h.beta_compare), beta_inputs, beta_out, **QUIET, **PRIVATE)

    # Interpolation: endpoints, the live t slider, the strip and the GIF.
    for pick, ep, z_state, img, name in ((pick_a, ep_a, za, img_a, "vae_endpoint_a"),
                                         (pick_b, ep_b, zb, img_b, "vae_endpoint_b")):
        triggers = [pick.source.input, pick.example.input, pick.seed.submit, pick.seed.input,
                    pick.upload.upload, pick.sketch.change]
        gr.on(triggers, handler(h.endpoint), [*S, *ep], [z_state, img], api_name=name, **LIVE).then(
            *interp_all, [interp_img, strip_img], **LIVE, **PRIVATE)
    interp_t = [*S, za, zb, model, t_slider, mode]
    mem.fast(handler(h.interpolate), interp_t, t_slider, [interp_img])
    gr.on([], handler(h.interpolate), interp_t, interp_img, api_name="vae_interpolate", **LIVE)  # the API's
    gr.on([mode.input], *interp_all, [interp_img, strip_img], **LIVE, **PRIVATE)
    gr.on([], handler(h.interp_all), interp_inputs, [interp_img, strip_img], api_name="vae_interp_all", **LIVE)
    gr.on([frames.release, frames.input], *mem.record(handler(h.interp_strip), [*S, za, zb, model, mode, frames]),
          strip_img, api_name="vae_interp_strip", **LIVE)
    gif_btn.click(handler(h.export_gif), [*S, za, zb, model, mode], gif_file, api_name="vae_interp_gif", **QUIET)

    # Latent sliders: the image follows every move; the prior plot updates on release. Each slider
    # has its own events, which send that slider alone; the API keeps one event with all 16.
    slider_values = [*S, model, *sliders]
    for s in sliders:
        mem.fast(handler(h.slider_image), slider_values, s, [slider_img])
        s.release(*mem.live(handler(h.slider_plot), slider_values, s), prior_plot, **LIVE, **PRIVATE)
    gr.on([], handler(h.slider_image), slider_values, slider_img, api_name="vae_slider", **LIVE)
    gr.on([], handler(h.slider_plot), slider_values, prior_plot, api_name="vae_slider_plot", **LIVE)
    reset_btn.click(*mem.record(handler(h.slider_reset), [*S, model], set_outputs), set_outputs,
                    api_name="vae_slider_reset", **QUIET)
    random = mem.record(handler(h.slider_random), [*S, model, slider_seed], set_outputs)
    random_btn.click(*random, set_outputs, api_name="vae_slider_random", **QUIET)
    slider_seed.submit(*random, set_outputs, **QUIET, **PRIVATE)
    from_btn.click(*from_input, set_outputs, api_name="vae_slider_from_input", **QUIET)

    # 2-D map.
    map_refresh = [map_grid, map_scatter, map_decoded, map_msg, map_z1, map_z2]
    gr.on([map_model.change, map_n.release, map_span.release], handler(h.latent_map), map_inputs, map_refresh,
          api_name="vae_map", **COMPUTE, show_progress="minimal")
    map_scatter.select(handler(h.map_click), map_inputs, map_outputs, api_name="vae_map_click", **LIVE)
    map_grid.select(handler(h.map_grid_click), map_inputs, map_outputs, api_name="vae_map_grid_click", **LIVE)
    gr.on([map_z1.submit, map_z2.submit], handler(h.map_decode), [*map_inputs, map_z1, map_z2], map_outputs,
          api_name="vae_map_decode", **LIVE)

    # Reconstruction and beta comparison share the input picker.
    recon_triggers = [pick_r.source.input, pick_r.example.input, pick_r.upload.upload, pick_r.sketch.change]
    gr.on(recon_triggers, handler(h.reconstruct), recon_inputs, [recon_in, recon_out, recon_metrics, recon_sigma],
          api_name="vae_reconstruct", **LIVE).then(
        handler(h.beta_compare), beta_inputs, beta_out, **LIVE, **PRIVATE)
    gr.on([beta_left.change, beta_right.change, beta_seed.submit], handler(h.beta_compare), beta_inputs, beta_out,
          api_name="vae_beta_compare", **LIVE)

    # Uploads: the new model joins this session's dropdowns and becomes the selection.
    upload_files.upload(handler(h.upload), [*S, upload_files, beta_left, beta_right, map_model],
                        [uploads, model, beta_left, beta_right, map_model, upload_status, upload_files],
                        api_name="vae_upload", **QUIET)

    # First load: the same refresh as a model change, plus the map and the beta comparison.
    dep = ctx.demo.load(handler(h.model_changed), [*S, model], model_outputs, **QUIET, **PRIVATE)
    (model_chain(dep)
     .then(handler(h.latent_map), map_inputs, map_refresh, **QUIET, **PRIVATE)
     .then(handler(h.beta_compare), beta_inputs, beta_out, **QUIET, **PRIVATE))

    # A model trained in the training tab joins this session's dropdowns.
    uploads.change(handler(h.relabel_models), [*S, model, beta_left, beta_right, map_model],
                   [model, beta_left, beta_right, map_model], **QUIET, **PRIVATE)

    # After a language switch: the texts built in Python.
    ctx.on_lang += [
        (*mem.record(handler(h.texts), [*S, model]), [card, slider_help]),
        (handler(h.relabel_models), [*S, model, beta_left, beta_right, map_model],
         [model, beta_left, beta_right, map_model]),
        (handler(h.reconstruct), recon_inputs, [recon_in, recon_out, recon_metrics, recon_sigma]),
        (handler(h.beta_compare), beta_inputs, beta_out),
    ]
