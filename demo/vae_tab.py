"""The VAE tab: interpolation, latent sliders, the 2-D latent map, reconstruction and beta.

`build(ctx)` lays out one sub-tab per function, then wires each sub-tab's events; the handlers
live on `VaeHandlers`, each taking the session language and the event's named values and
returning its outputs by name (demo/forms.py).
"""

from __future__ import annotations

import math
import os
import tempfile
import time
import uuid
from types import SimpleNamespace

import gradio as gr
import numpy as np
from PIL import Image

from engines import latent_file
from engines.errors import UserError

from . import ae_compare, i18n_teach, vae_plots  # noqa: F401  (i18n_teach adds the hover and latent-file strings)
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
    model_row,
    strip,
)
from . import links
from .forms import Event, Form, widget
from .i18n import LATEX_DELIMITERS, t
from .image_inputs import (
    Choice,
    build_picker,
    choice_of,
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
_HOVERS = SmallCache(8192)  # decoded hover points by (model, i, j): z = (i, j) * HOVER_STEP
HOVER_STEP = 0.02  # z units: about 1.5 pixels of the 480-px decoded grid at span 3


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
    """Event handlers. Each takes (lang, v): v holds the event's named values (v.uploads, v.model,
    ...), and returns display-ready values by output name (see demo/forms.py)."""

    def __init__(self, models: Models):
        self.models = models

    def _engine(self, uploads, model):
        return self.models.engine(model, uploads)

    # --- model -----------------------------------------------------------------------------------

    def model_changed(self, lang, v):
        """Card, example lists, and the sliders' shape for the newly selected model."""
        eng = self._engine(v.uploads, v.model)
        choices = example_choices(eng)
        a, b = default_examples(eng)
        basis, _, kind = eng.latent_axes(N_SLIDERS)
        prefix = "PC" if kind == "pca" else "z"
        return {
            "card": _format_card(eng, lang),
            "examples": [gr.update(choices=choices, value=x) for x in (a, b, a, a)],  # A, B, sliders, recon
            "slider_help": self._slider_help(eng, lang),
            "sliders": [gr.update(visible=i < len(basis), label=f"{prefix}{i + 1}") for i in range(N_SLIDERS)],
        }

    def texts(self, lang, v):
        """The model-dependent texts, re-rendered when the language changes."""
        eng = self._engine(v.uploads, v.model)
        return {"card": _format_card(eng, lang), "slider_help": self._slider_help(eng, lang)}

    @staticmethod
    def _slider_help(eng, lang):
        _, _, kind = eng.latent_axes(N_SLIDERS)
        if kind == "pca":
            return t("sliders.help.pca", lang, latent=eng.latent_dim)
        return t("sliders.help.axes", lang)

    def upload(self, lang, v):
        """A checkpoint upload; a refused one is explained next to the upload box, not as an error
        state on the model dropdowns."""
        try:
            name, eng, uploads = add_upload(v.files, v.uploads, FAMILY)
        except UserError as err:
            gr.Warning(err.localized(lang), title=t("error.title", lang))
            return {"status": "⚠️ " + err.localized(lang), "files": None}
        choices = self.models.choices(uploads, lang)
        return {
            "uploads": uploads,
            "models": [gr.update(choices=choices, value=x)
                       for x in ("upload:" + name, v.beta_left, v.beta_right, v.map_model)],
            "status": t("model.upload.done", lang, name=name, family=FAMILY, latent=eng.latent_dim),
            "files": None,
        }

    def relabel_models(self, lang, v):
        choices = self.models.choices(v.uploads, lang)
        return {"models": [gr.update(choices=choices, value=x) for x in (v.model, v.beta_left, v.beta_right,
                                                                           v.map_model)]}

    # --- interpolation ---------------------------------------------------------------------------

    def endpoint(self, lang, v):
        """One endpoint -> (its z, its decoded picture); skipped while an upload or sketch is missing."""
        if not_given(v.source, v.upload, v.sketch):
            return {}
        eng = self._engine(v.uploads, v.model)
        z = endpoint(eng, choice_of(v))
        return {"z": z.tolist(), "image": display(eng.decode(z)[0])}

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

    def interpolate(self, lang, v):
        """The decoded image at t on the path A -> B."""
        eng = self._engine(v.uploads, v.model)
        t_value = v.t_value
        if t_value is None or not math.isfinite(float(t_value)):
            raise UserError("value_not_finite", what="t", value=t_value)
        if not 0.0 <= float(t_value) <= 1.0:
            raise UserError("value_out_of_range", what="t", low=0, high=1, value=t_value)
        za, zb = self._endpoints(eng, v.za, v.zb)
        return {"image": display(eng.interpolate(za, zb, [float(t_value)], v.mode)[0])}

    def interp_strip(self, lang, v):
        eng = self._engine(v.uploads, v.model)
        frames = int(v.frames or 8)
        if not 2 <= frames <= 64:
            raise UserError("value_out_of_range", what="frames", low=2, high=64, value=frames)
        za, zb = self._endpoints(eng, v.za, v.zb)
        images = eng.interpolate(za, zb, np.linspace(0, 1, frames), v.mode)
        return {"strip": display(strip(images), side=110 * frames)}

    def interp_all(self, lang, v):
        return {**self.interpolate(lang, v), **self.interp_strip(lang, v)}

    def export_gif(self, lang, v):
        eng = self._engine(v.uploads, v.model)
        za, zb = self._endpoints(eng, v.za, v.zb)
        images = eng.interpolate(za, zb, np.linspace(0, 1, GIF_FRAMES), v.mode)  # (T, H, W, C)
        images = images.repeat(GIF_SCALE, axis=1).repeat(GIF_SCALE, axis=2)
        frames = [Image.fromarray(im[:, :, 0] if im.shape[2] == 1 else im) for im in images]
        frames = frames + frames[-2:0:-1]  # A -> B -> back, without repeating the ends
        path = _gif_path()
        frames[0].save(path, save_all=True, append_images=frames[1:], duration=70, loop=0)
        return {"file": gr.update(value=path, visible=True)}

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

    def slider_image(self, lang, v):
        eng = self._engine(v.uploads, v.model)
        return {"image": display(eng.decode(self._z_from_sliders(eng, v.sliders))[0])}

    def slider_plot(self, lang, v):
        eng = self._engine(v.uploads, v.model)
        return {"plot": vae_plots.prior_plot(self._z_from_sliders(eng, v.sliders))}

    def _set_sliders(self, eng, z):
        values = self._sliders_from_z(eng, np.asarray(z, np.float32))
        z_shown = self._z_from_sliders(eng, values)  # what the (rounded, clipped) sliders encode
        return {"sliders": values, "image": display(eng.decode(z_shown)[0]), "plot": vae_plots.prior_plot(z_shown)}

    def slider_reset(self, lang, v):
        eng = self._engine(v.uploads, v.model)
        return self._set_sliders(eng, np.zeros(eng.latent_dim, np.float32))

    def slider_random(self, lang, v):
        eng = self._engine(v.uploads, v.model)
        return self._set_sliders(eng, eng.prior_sample(1, 0 if v.seed is None else v.seed)[0])

    def slider_from_input(self, lang, v):
        if not_given(v.source, v.upload, v.sketch):
            raise UserError("image_missing")
        eng = self._engine(v.uploads, v.model)
        mu, _ = eng.encode(model_input(eng, choice_of(v)))
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

    def latent_map(self, lang, v):
        """Grid + scatter for a 2-D model, or a clear message (and empty pictures) otherwise."""
        eng = self._engine(v.uploads, v.map_model)
        try:
            self._map_pictures(eng, v.n, v.span)
        except UserError as err:
            if err.key != "model_needs_2d":
                raise
            return {"grid": None, "scatter": None, "decoded": None, "z1": None, "z2": None,
                    "message": gr.update(value="⚠️ " + err.localized(lang), visible=True)}
        return {**self._decode_at(eng, v.n, v.span, 0.0, 0.0), "message": gr.update(value="", visible=False)}

    def _decode_at(self, eng, n, span, z1, z2):
        grid, picture, geom = self._map_pictures(eng, n, span)
        image = display(eng.decode(np.array([z1, z2], np.float32))[0])
        return {"grid": vae_plots.mark_grid(grid, int(n), float(span), z1, z2),
                "scatter": vae_plots.mark(picture, geom, z1, z2), "decoded": image,
                "z1": round(z1, 3), "z2": round(z2, 3)}

    def map_click(self, lang, v, evt: gr.SelectData):
        """A click on the scatter: pixel (x, y) of the picture -> z through the axes' extent."""
        eng = self._engine(v.uploads, v.map_model)
        _, _, geom = self._map_pictures(eng, v.n, v.span)
        x, y = evt.index
        z = geom.to_z(float(x), float(y))
        if z is None:
            return {}
        return self._decode_at(eng, v.n, v.span, *z)

    def map_grid_click(self, lang, v, evt: gr.SelectData):
        """A click on the decoded grid: its picture covers [-lim, lim]^2 edge to edge."""
        eng = self._engine(v.uploads, v.map_model)
        grid, _, geom = self._map_pictures(eng, v.n, v.span)
        x, y = evt.index
        h, w = grid.shape[:2]
        lim = geom.lim
        return self._decode_at(eng, v.n, v.span, -lim + 2 * lim * float(x) / w, lim - 2 * lim * float(y) / h)

    def map_decode(self, lang, v):
        eng = self._engine(v.uploads, v.map_model)
        z1, z2 = v.z1, v.z2
        if z1 is None or z2 is None or not (math.isfinite(float(z1)) and math.isfinite(float(z2))):
            raise UserError("value_not_finite", what="z", value=f"({z1}, {z2})")
        return self._decode_at(eng, v.n, v.span, float(z1), float(z2))

    def _hover_z(self, eng, n, span, pos, picture: str):
        """A hidden hover slider's value (1000 x + y, thousandths of the picture) -> z or None."""
        grid, scatter, geom = self._map_pictures(eng, n, span)
        pos = int(pos)
        fx, fy = (pos // 1000 + 0.5) / 1000, (pos % 1000 + 0.5) / 1000
        if picture == "grid":
            return -geom.lim + 2 * geom.lim * fx, geom.lim - 2 * geom.lim * fy
        h, w = scatter.shape[:2]
        return geom.to_z(fx * w, fy * h)

    def _hover(self, v, picture):
        """The pointer over a map picture: its decoded image and z, nothing redrawn on the map."""
        eng = self._engine(v.uploads, v.map_model)
        if v.pos is None or not 0 <= int(v.pos) < 1_000_000:
            raise UserError("value_out_of_range", what="position", low=0, high=999_999, value=v.pos)
        z = self._hover_z(eng, v.n, v.span, v.pos, picture)
        if z is None:  # outside the scatter's axes
            return {}
        # z on a HOVER_STEP grid, decoded once for every session: a class sweeping the same map meets
        # the same points (a decode is ~50 ms on a busy 2-core CPU, a kept one ~2 ms).
        i, j = (round(float(c) / HOVER_STEP) for c in z)
        z1, z2 = round(i * HOVER_STEP, 3), round(j * HOVER_STEP, 3)
        small = _HOVERS.get((str(eng.path), i, j), lambda: eng.decode(np.array([z1, z2], np.float32))[0])
        return {"decoded": display(small), "z1": z1, "z2": z2}

    def map_hover_grid(self, lang, v):
        return self._hover(v, "grid")

    def map_hover_scatter(self, lang, v):
        return self._hover(v, "scatter")

    # --- latent files ----------------------------------------------------------------------------

    def latent_save(self, lang, v):
        """The sliders' z as a .npy file (float32, shape (latent_dim,))."""
        eng = self._engine(v.uploads, v.model)
        z = self._z_from_sliders(eng, v.sliders)
        path = latent_file.write(latent_file.fresh_path(f"z-{eng.name}"), z)
        return {"file": gr.update(value=path, visible=True), "note": t("latent.z.saved", lang, d=z.shape[0])}

    def latent_load(self, lang, v):
        """A .npy file's z onto the sliders (refused unless it is one finite vector of this model's size)."""
        eng = self._engine(v.uploads, v.model)
        path = v.file if isinstance(v.file, str) or v.file is None else getattr(v.file, "name", None)
        d = eng.latent_dim
        z = latent_file.read(path, [(d,), (1, d)]).reshape(d)
        out = self._set_sliders(eng, z)
        notes = [t("latent.z.loaded", lang, name=os.path.basename(path)[:80], d=d)]
        basis, _, kind = eng.latent_axes(N_SLIDERS)
        if kind == "pca":
            notes.append(t("latent.z.projected", lang, d=d, k=len(basis)))
        elif float(np.abs(z).max()) > SLIDER_RANGE:
            notes.append(t("latent.z.clipped", lang, r=f"{SLIDER_RANGE:g}"))
        return {**out, "note": " ".join(notes)}

    # --- reconstruction and beta -----------------------------------------------------------------

    def reconstruct(self, lang, v):
        if not_given(v.source, v.upload, v.sketch):
            return {}
        eng = self._engine(v.uploads, v.model)
        x = model_input(eng, choice_of(v))
        r = eng.reconstruct(x, seed=0)
        metrics = t("recon.table", lang, recon=r["recon_nll"], kl=r["kl"], neg_elbo=r["neg_elbo"])
        return {"input": display(x), "output": display(r["recon"]), "metrics": metrics,
                "sigma": vae_plots.sigma_bars(r["sigma"])}

    def beta_compare(self, lang, v):
        if not_given(v.source, v.upload, v.sketch):
            return {}
        base = model_input(self._engine(v.uploads, v.model), choice_of(v))
        out = {}
        for side, value in (("left", v.left), ("right", v.right)):
            eng = self._engine(v.uploads, value)
            r = eng.reconstruct(fit(eng, base), seed=0)
            samples, _ = eng.sample(8, 0 if v.seed is None else v.seed)
            out[side] = [display(r["recon"], side=160), display(strip(samples), side=8 * 64),
                         t("beta.row", lang, name=eng.name, beta=eng.config.beta, recon=r["recon_nll"], kl=r["kl"])]
        return out


# --- layout: one function per sub-tab, each returning the components its events need ---------------

_OUT = {"interactive": False, "format": "png", "elem_classes": ["out-image"]}  # a picture the model made


def _image(reg, key, elem_id, buttons=(), **kwargs):
    return widget(reg, gr.Image, label=key, elem_id=elem_id, buttons=list(buttons), **_OUT, **kwargs)


def _interp_tab(reg):
    with widget(reg, gr.Tab, label="vae.sub.interp", id="vae-interp", elem_id="vae-tab-interp"):
        widget(reg, gr.Markdown, text="interp.help")
        ui = SimpleNamespace(za=gr.State(None), zb=gr.State(None))
        with gr.Row(equal_height=False):
            with gr.Column(scale=1, min_width=220):
                widget(reg, gr.Markdown, text=("interp.a", "#### {}"))
                ui.pick_a = build_picker(reg, "vae-a", with_seed=True)
                ui.img_a = _image(reg, "interp.a.image", "vae-a-image", height=180)
            with gr.Column(scale=2, min_width=300):
                ui.image = _image(reg, "interp.image", "vae-interp-image", ["download"], height=280)
                ui.t = widget(reg, gr.Slider, minimum=0, maximum=1, value=0.5, step=0.01, label="interp.t",
                              info="interp.t.info", elem_id="vae-interp-t")
                ui.mode = widget(reg, gr.Radio, choice_keys=[("interp.linear", "linear"),
                                                             ("interp.spherical", "spherical")],
                                 value="linear", label="interp.mode", info="interp.mode.info",
                                 elem_id="vae-interp-mode")
            with gr.Column(scale=1, min_width=220):
                widget(reg, gr.Markdown, text=("interp.b", "#### {}"))
                ui.pick_b = build_picker(reg, "vae-b", with_seed=True)
                ui.img_b = _image(reg, "interp.b.image", "vae-b-image", height=180)
        ui.strip = _image(reg, "interp.strip", "vae-interp-strip", ["download"], height=150)
        with gr.Row(equal_height=False):
            ui.frames = widget(reg, gr.Slider, minimum=3, maximum=16, value=9, step=1, label="interp.frames",
                               elem_id="vae-interp-frames", scale=2)
            with gr.Column(scale=2):
                ui.gif_btn = widget(reg, gr.Button, text="interp.gif", elem_id="vae-interp-gif-btn", size="md")
                ui.gif_file = widget(reg, gr.File, label="interp.gif.file", elem_id="vae-interp-gif",
                                     interactive=False, visible=False)
    return ui


def _slider_column():
    """N_SLIDERS latent sliders in two columns, returned in index order."""
    sliders = []
    with gr.Row():
        for col in range(2):
            with gr.Column(min_width=170):
                for i in range(col * N_SLIDERS // 2, (col + 1) * N_SLIDERS // 2):
                    sliders.append(gr.Slider(-SLIDER_RANGE, SLIDER_RANGE, value=0.0, step=0.05, label=f"z{i + 1}",
                                             elem_id=f"vae-slider-{i}", elem_classes=["latent-slider"]))
    return sliders


def _sliders_tab(reg):
    with widget(reg, gr.Tab, label="vae.sub.sliders", id="vae-sliders", elem_id="vae-tab-sliders"):
        ui = SimpleNamespace(help=gr.Markdown(elem_id="vae-slider-help"))
        ui.mem = Remembered()  # the live sliders' other inputs, per session
        with gr.Row(equal_height=False):
            with gr.Column(scale=3, min_width=360):
                ui.sliders = _slider_column()
                with gr.Row():
                    ui.reset = widget(reg, gr.Button, text="sliders.reset", elem_id="vae-slider-reset")
                    ui.seed = widget(reg, gr.Number, value=0, precision=0, minimum=0, maximum=2**32 - 1,
                                     label="sliders.seed", elem_id="vae-slider-seed", min_width=100)
                    ui.random = widget(reg, gr.Button, text="sliders.random", elem_id="vae-slider-random")
                with widget(reg, gr.Accordion, label="sliders.from_input", open=False,
                            elem_id="vae-slider-input-box"):
                    widget(reg, gr.Markdown, text="sliders.from_input.help")
                    ui.pick = build_picker(reg, "vae-slider", with_seed=False)
                    ui.from_btn = widget(reg, gr.Button, text="sliders.from_input", variant="primary",
                                         elem_id="vae-slider-from-input")
                _latent_file_rows(reg, ui)
            with gr.Column(scale=2, min_width=300):
                ui.image = _image(reg, "sliders.image", "vae-slider-image", height=260)
                widget(reg, gr.Markdown, text=("sliders.plot", "**{}**"))
                ui.plot = gr.Image(show_label=False, elem_id="vae-slider-prior-plot", interactive=False,
                                   format="png", buttons=[], container=False)
                widget(reg, gr.Markdown, text="sliders.plot.note", elem_classes=["small-note"])
    return ui


def _latent_file_rows(reg, ui):
    """Save the sliders' z as .npy; load one back onto them."""
    with widget(reg, gr.Accordion, label="latent.z.title", open=False, elem_id="vae-latent-box"):
        with gr.Row():
            ui.z_save = widget(reg, gr.Button, text="latent.z.save", elem_id="vae-latent-save", min_width=140)
            ui.z_upload = widget(reg, gr.UploadButton, label="latent.z.load", file_types=[".npy"], file_count="single",
                                 elem_id="vae-latent-load", min_width=140)
        ui.z_file = widget(reg, gr.File, label="latent.z.file", elem_id="vae-latent-file", interactive=False,
                           visible=False)
        ui.z_note = gr.Markdown(elem_id="vae-latent-note", elem_classes=["small-note"])


def _hover_sliders(reg):
    """Hidden live sliders the page moves while the pointer is over the map's pictures (demo/live.js)."""
    widget(reg, gr.Markdown, text="map.hover.note", elem_classes=["small-note"], elem_id="vae-map-hover-note")
    return {name: gr.Slider(0, 999_999, value=0, step=1, label=f"hover {name}", elem_id=f"vae-map-hover-{name}",
                            elem_classes=["genlab-hidden"], container=False)
            for name in ("grid", "scatter")}


def _map_tab(reg, choices, default):
    with widget(reg, gr.Tab, label="vae.sub.map", id="vae-map", elem_id="vae-tab-map"):
        widget(reg, gr.Markdown, text="map.help")
        ui = SimpleNamespace()
        with gr.Row(equal_height=True):
            ui.model = widget(reg, gr.Dropdown, choices=choices, value=default, label="map.model",
                              elem_id="vae-map-model", scale=2)
            ui.n = widget(reg, gr.Slider, minimum=5, maximum=25, value=15, step=1, label="map.n", elem_id="vae-map-n")
            ui.span = widget(reg, gr.Slider, minimum=1, maximum=5, value=3, step=0.5, label="map.span",
                             elem_id="vae-map-span")
        ui.message = gr.Markdown(visible=False, elem_id="vae-map-message")
        with gr.Row(equal_height=False):
            ui.grid = _image(reg, "map.grid", "vae-map-grid", height=470)
            ui.scatter = _image(reg, "map.scatter", "vae-map-scatter", height=470)
            with gr.Column(min_width=200, scale=0):
                ui.decoded = _image(reg, "map.decoded", "vae-map-decoded", height=200)
                ui.z1 = widget(reg, gr.Number, label="map.z1", info="map.z.info", elem_id="vae-map-z1")
                ui.z2 = widget(reg, gr.Number, label="map.z2", elem_id="vae-map-z2")
        ui.hover = _hover_sliders(reg)
    return ui


def _recon_tab(reg, choices, models):
    with widget(reg, gr.Tab, label="vae.sub.recon", id="vae-recon", elem_id="vae-tab-recon"):
        widget(reg, gr.Markdown, text="recon.help")
        ui = SimpleNamespace()
        with gr.Row(equal_height=False):
            with gr.Column(scale=1, min_width=240):
                ui.pick = build_picker(reg, "vae-recon", with_seed=False)
            ui.input = _image(reg, "recon.input", "vae-recon-input", height=220, scale=1)
            ui.output = _image(reg, "recon.output", "vae-recon-output", height=220, scale=1)
            with gr.Column(scale=2, min_width=320):
                ui.metrics = gr.Markdown(elem_id="vae-recon-metrics")
                ui.sigma = _image(reg, "recon.sigma", "vae-recon-sigma")
                widget(reg, gr.Markdown, text="recon.sigma.note", elem_classes=["small-note"])
        _beta_rows(reg, ui, choices, models)
    return ui


def _beta_rows(reg, ui, choices, models):
    widget(reg, gr.Markdown, text=("beta.title", "### {}"))
    widget(reg, gr.Markdown, text="beta.explain")
    with gr.Row(equal_height=True):
        ui.beta_left = widget(reg, gr.Dropdown, choices=choices, value=models.default(DEFAULT_BETA[0]),
                              label="beta.left", elem_id="vae-beta-left")
        ui.beta_right = widget(reg, gr.Dropdown, choices=choices, value=models.default(DEFAULT_BETA[1]),
                               label="beta.right", elem_id="vae-beta-right")
        ui.beta_seed = widget(reg, gr.Number, value=0, precision=0, minimum=0, maximum=2**32 - 1,
                              label="beta.seed", elem_id="vae-beta-seed")
    ui.beta_out = {}
    with gr.Row(equal_height=False):
        for side in ("left", "right"):
            with gr.Column():
                text = gr.Markdown(elem_id=f"vae-beta-{side}-text")
                with gr.Row(equal_height=False):
                    rec = _image(reg, "beta.recon", f"vae-beta-{side}-recon", height=170, scale=1, min_width=120)
                    smp = _image(reg, "beta.samples", f"vae-beta-{side}-samples", height=170, scale=3)
                ui.beta_out[side] = [rec, smp, text]


def _explain_tab(reg):
    with widget(reg, gr.Tab, label="vae.sub.explain", id="vae-explain", elem_id="vae-tab-explain"):
        widget(reg, gr.Markdown, text="explain.body", latex_delimiters=LATEX_DELIMITERS, elem_id="vae-explain")


# --- wiring: one function per sub-tab --------------------------------------------------------------


class _Events:
    """The events several sub-tabs chain: named once, from the laid-out components."""

    def __init__(self, form, h, top, ip, sl, mp, rc):
        model = top.model
        self.endpoint_a = form(h.endpoint, {"model": model, **ip.pick_a.named}, {"z": ip.za, "image": ip.img_a})
        self.endpoint_b = form(h.endpoint, {"model": model, **ip.pick_b.named}, {"z": ip.zb, "image": ip.img_b})
        ends = {"za": ip.za, "zb": ip.zb, "model": model}
        self.interp_all = form(h.interp_all, {**ends, "t_value": ip.t, "mode": ip.mode, "frames": ip.frames},
                               {"image": ip.image, "strip": ip.strip})
        self.set_sliders = {"sliders": sl.sliders, "image": sl.image, "plot": sl.plot}
        self.from_input = form(h.slider_from_input, {"model": model, **sl.pick.named}, self.set_sliders)
        self.reconstruct = form(h.reconstruct, {"model": model, **rc.pick.named},
                                {"input": rc.input, "output": rc.output, "metrics": rc.metrics, "sigma": rc.sigma})
        self.beta = form(h.beta_compare, {"model": model, **rc.pick.named, "left": rc.beta_left,
                                          "right": rc.beta_right, "seed": rc.beta_seed}, rc.beta_out)
        self.map = form(h.latent_map, {"map_model": mp.model, "n": mp.n, "span": mp.span},
                        {"grid": mp.grid, "scatter": mp.scatter, "decoded": mp.decoded, "message": mp.message,
                         "z1": mp.z1, "z2": mp.z2})
        self.model = form(h.model_changed, {"model": model}, {
            "card": top.card, "examples": [ip.pick_a.example, ip.pick_b.example, sl.pick.example, rc.pick.example],
            "slider_help": sl.help, "sliders": sl.sliders})
        models = {"model": model, "beta_left": rc.beta_left, "beta_right": rc.beta_right, "map_model": mp.model}
        self.relabel = form(h.relabel_models, models, {"models": list(models.values())})
        self.texts = form(h.texts, {"model": model}, {"card": top.card, "slider_help": sl.help})


def _model_chain(dep, ev: _Events, mem: Remembered):
    """Everything that depends on the main model, refreshed in order after `dep`."""
    interp_all = mem.record(*ev.interp_all)
    from_input = mem.record(*ev.from_input)
    return (
        dep.then(*ev.endpoint_a, **QUIET, **PRIVATE)
        .then(*ev.endpoint_b, **QUIET, **PRIVATE)
        .then(*interp_all, ev.interp_all.outputs, **QUIET, **PRIVATE)
        .then(*from_input, ev.from_input.outputs, **QUIET, **PRIVATE)
        .then(*ev.reconstruct, **QUIET, **PRIVATE)
    )


def _wire_interp(form, h, ev, ip, model, mem):
    """Endpoints, the live t slider, the strip and the GIF."""
    interp_all = mem.record(*ev.interp_all)
    for pick, ep, name in ((ip.pick_a, ev.endpoint_a, "vae_endpoint_a"), (ip.pick_b, ev.endpoint_b, "vae_endpoint_b")):
        triggers = [pick.source.input, pick.example.input, pick.seed.submit, pick.seed.input,
                    pick.upload.upload, pick.sketch.change]
        gr.on(triggers, *ep, api_name=name, **LIVE).then(*interp_all, ev.interp_all.outputs, **LIVE, **PRIVATE)
    ends = {"za": ip.za, "zb": ip.zb, "model": model}
    at_t = form(h.interpolate, {**ends, "t_value": ip.t, "mode": ip.mode}, {"image": ip.image})
    mem.fast(at_t.fn, at_t.inputs, ip.t, at_t.outputs)
    gr.on([], *at_t, api_name="vae_interpolate", **LIVE)  # the API's
    gr.on([ip.mode.input], *interp_all, ev.interp_all.outputs, **LIVE, **PRIVATE)
    gr.on([], *ev.interp_all, api_name="vae_interp_all", **LIVE)
    strip_ev = form(h.interp_strip, {**ends, "mode": ip.mode, "frames": ip.frames}, {"strip": ip.strip})
    gr.on([ip.frames.release, ip.frames.input], *mem.record(strip_ev.fn, strip_ev.inputs), strip_ev.outputs,
          api_name="vae_interp_strip", **LIVE)
    ip.gif_btn.click(*form(h.export_gif, {**ends, "mode": ip.mode}, {"file": ip.gif_file}),
                     api_name="vae_interp_gif", **QUIET)


def _wire_sliders(form, h, ev, sl, model):
    """The image follows every move; the prior plot updates on release. Each slider has its own
    events, which send that slider alone; the API keeps one event with all 16."""
    mem = sl.mem
    image = form(h.slider_image, {"model": model, "sliders": sl.sliders}, {"image": sl.image})
    plot = form(h.slider_plot, {"model": model, "sliders": sl.sliders}, {"plot": sl.plot})
    for s in sl.sliders:
        mem.fast(image.fn, image.inputs, s, image.outputs)
        s.release(*mem.live(plot.fn, plot.inputs, s), plot.outputs, **LIVE, **PRIVATE)
    gr.on([], *image, api_name="vae_slider", **LIVE)
    gr.on([], *plot, api_name="vae_slider_plot", **LIVE)
    outputs = ev.from_input.outputs
    reset = form(h.slider_reset, {"model": model}, ev.set_sliders)
    sl.reset.click(*mem.record(*reset), outputs, api_name="vae_slider_reset", **QUIET)
    random = mem.record(*form(h.slider_random, {"model": model, "seed": sl.seed}, ev.set_sliders))
    sl.random.click(*random, outputs, api_name="vae_slider_random", **QUIET)
    sl.seed.submit(*random, outputs, **QUIET, **PRIVATE)
    sl.from_btn.click(*mem.record(*ev.from_input), outputs, api_name="vae_slider_from_input", **QUIET)


def _wire_map(form, h, ev, mp):
    gr.on([mp.model.change, mp.n.release, mp.span.release], *ev.map, api_name="vae_map", **COMPUTE,
          show_progress="minimal")
    where = {"map_model": mp.model, "n": mp.n, "span": mp.span}
    decoded = {"grid": mp.grid, "scatter": mp.scatter, "decoded": mp.decoded, "z1": mp.z1, "z2": mp.z2}
    mp.scatter.select(*form(h.map_click, where, decoded), api_name="vae_map_click", **LIVE)
    mp.grid.select(*form(h.map_grid_click, where, decoded), api_name="vae_map_grid_click", **LIVE)
    gr.on([mp.z1.submit, mp.z2.submit], *form(h.map_decode, {**where, "z1": mp.z1, "z2": mp.z2}, decoded),
          api_name="vae_map_decode", **LIVE)


def _wire_hover(form, h, mp, mem):
    """The pointer over the map decodes where it is: each hidden slider is a live one (demo/live.py),
    its other inputs (model, n, span) remembered from the map's own events."""
    where = {"map_model": mp.model, "n": mp.n, "span": mp.span}
    shown = {"decoded": mp.decoded, "z1": mp.z1, "z2": mp.z2}
    for name, fn in (("grid", h.map_hover_grid), ("scatter", h.map_hover_scatter)):
        hover = form(fn, {**where, "pos": mp.hover[name]}, shown)
        mem.fast(hover.fn, hover.inputs, mp.hover[name], hover.outputs)


def _wire_latent_file(form, h, sl, model):
    """Save writes the sliders' z; a loaded file sets the sliders (and is remembered for them)."""
    mem = sl.mem
    sl.z_save.click(*form(h.latent_save, {"model": model, "sliders": sl.sliders},
                          {"file": sl.z_file, "note": sl.z_note}), api_name="vae_latent_save", **QUIET)
    outputs = {"sliders": sl.sliders, "image": sl.image, "plot": sl.plot, "note": sl.z_note}
    load = form(h.latent_load, {"model": model, "file": sl.z_upload}, outputs)
    sl.z_upload.upload(*mem.record(*load), load.outputs, api_name="vae_latent_load", **QUIET)


def _wire_recon(ev, rc):
    """Reconstruction and the beta comparison share the input picker."""
    pick = rc.pick
    gr.on([pick.source.input, pick.example.input, pick.upload.upload, pick.sketch.change], *ev.reconstruct,
          api_name="vae_reconstruct", **LIVE).then(*ev.beta, **LIVE, **PRIVATE)
    gr.on([rc.beta_left.change, rc.beta_right.change, rc.beta_seed.submit], *ev.beta,
          api_name="vae_beta_compare", **LIVE)


def _wire_session(ctx, form, h, ev, top, rc, mp, mem):
    """Uploads, the first load, models trained in the training tab, and language switches."""
    models = {"beta_left": rc.beta_left, "beta_right": rc.beta_right, "map_model": mp.model}
    top.upload_files.upload(*form(h.upload, {"files": top.upload_files, **models}, {
        "uploads": ctx.uploads, "models": [top.model, *models.values()], "status": top.upload_status,
        "files": top.upload_files}), api_name="vae_upload", **QUIET)
    # First load: the same refresh as a model change, plus the map and the beta comparison.
    dep = ctx.opening.event(*ev.model, **QUIET, **PRIVATE)
    _model_chain(dep, ev, mem).then(*ev.map, **QUIET, **PRIVATE).then(*ev.beta, **QUIET, **PRIVATE)
    ctx.uploads.change(*ev.relabel, **QUIET, **PRIVATE)
    # After a language switch: the texts built in Python.
    ctx.after_lang((*mem.record(*ev.texts), ev.texts.outputs), tuple(ev.reconstruct), tuple(ev.beta))
    ctx.after_lang(tuple(ev.relabel), always=True)


def build(ctx: AppContext) -> None:
    """Lay out the VAE tab inside the current gr.Tabs and wire every event."""
    reg = ctx.reg
    models = Models(FAMILY, ctx.assets_dir)
    h = VaeHandlers(models)
    choices = models.choices({}, reg.lang)
    with widget(reg, gr.Tab, label="vae.tab", id="vae", elem_id="vae-tab") as tab:
        ctx.open_tab(tab)
        widget(reg, gr.Markdown, text="vae.intro", elem_id="vae-intro")
        top = SimpleNamespace(**dict(zip(("model", "card", "upload_files", "upload_status"),
                                         model_row(reg, "vae", choices, models.default(DEFAULT_MODEL)))))
        links.copy_row(reg, "vae")  # a link that opens this view (demo/links.py)
        with gr.Tabs(elem_id="vae-subtabs"):
            ip = _interp_tab(reg)
            sl = _sliders_tab(reg)
            mp = _map_tab(reg, choices, models.default(DEFAULT_MAP_MODEL))
            ae_compare.build(ctx, models)  # the autoencoder's holes beside the VAE (demo/ae_compare.py)
            rc = _recon_tab(reg, choices, models)
            _explain_tab(reg)
    form = Form(ctx.lang, uploads=ctx.uploads)
    ev = _Events(form, h, top, ip, sl, mp, rc)
    mem = sl.mem  # live sliders send only themselves: their other inputs are remembered per session
    dep = top.model.change(*ev.model, api_name="vae_model", **QUIET)
    _model_chain(dep, ev, mem).then(*ev.beta, **QUIET, **PRIVATE)
    _wire_interp(form, h, ev, ip, top.model, mem)
    _wire_sliders(form, h, ev, sl, top.model)
    ev.map = Event(*mem.record(ev.map.fn, ev.map.inputs), ev.map.outputs)  # the hover's model, n, span
    _wire_map(form, h, ev, mp)
    _wire_hover(form, h, mp, mem)
    _wire_latent_file(form, h, sl, top.model)
    _wire_recon(ev, rc)
    _wire_session(ctx, form, h, ev, top, rc, mp, mem)
