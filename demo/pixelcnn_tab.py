"""The PixelCNN part of the autoregressive tab: sample pixel by pixel, complete, receptive field,
likelihood against the VAE's bound, how it works.

`build(ctx)` lays out its sub-tabs inside the autoregressive tab's gr.Tabs (demo/ar_tab.py) and
wires their events; the handlers live on `PixelcnnHandlers`, each taking the session language and
the event's named values and returning its outputs by name (demo/forms.py).
"""

from __future__ import annotations

import contextlib
import time
from types import SimpleNamespace

import gradio as gr
import numpy as np
from PIL import Image, ImageDraw

from engines.errors import UserError
from engines.pictures import image_grid
from engines.pixelcnn.engine import plain_twin, receptive_field

from . import i18n_pixelcnn  # noqa: F401  (adds the strings to demo.i18n.STRINGS)
from .ar_input import fitted_note, same_note
from .common import LONG, PRIVATE, QUIET, AppContext, Models, add_upload, card_table, display, model_row, strip
from .forms import Form, widget
from .i18n import LATEX_DELIMITERS, t
from .image_inputs import build_picker, choice_of, default_examples, example_choices, model_input, not_given

FAMILY = "pixelcnn"
DEFAULT_MODEL = "mnist-pixelcnn"
DEFAULT_VAE = "mnist-vae-z16"
SHOW_EVERY_S = 0.12       # a streamed run hands the page a picture at most this often
BAR_SIZE = (360, 150)     # the distribution's bar chart, pixels
FIELD_SCALE = 10          # receptive-field pictures: pixels per model pixel


class Run:
    """A session's streamed run: a plain flag its Stop button sets (Gradio deep-copies a new state)."""

    def __init__(self):
        self.stop = False


def _format_card(engine, lang: str) -> str:
    c, m = engine.config, engine.card.get("metrics") or {}
    nll = t("card.none", lang)
    if isinstance(m.get("heldout_nll_nats"), (int, float)):
        nll = f"{m['heldout_nll_nats']:.1f} nats · {m.get('heldout_bits_per_dim', float('nan')):.3f} bits/dim"
    cond = f", {c.num_classes} classes" if c.num_classes else ""
    return card_table(engine, lang, [
        ("pixelcnn.card.nll", nll),
        ("pixelcnn.card.config", f"{c.arch}, {c.layers} layers × {c.width} channels, {c.image_size}×{c.image_size}"
                                 f"×{c.channels}, {c.levels} levels{cond}"),
    ])


# --- pictures -----------------------------------------------------------------------------------------

def bar_chart(probs: np.ndarray, chosen: int | None = None) -> np.ndarray:
    """A pixel's distribution (levels,) -> an RGB bar chart (BAR_SIZE), the drawn value in red."""
    w, h = BAR_SIZE
    img = Image.new("RGB", (w, h), "white")
    draw = ImageDraw.Draw(img)
    levels = len(probs)
    left, bottom, top = 30, h - 18, 8
    top_p = float(probs.max()) if probs.size else 1.0
    span = max(top_p, 1e-6)
    bar_w = (w - left - 6) / levels
    for v, p in enumerate(probs):
        if p <= 0:
            continue
        x0 = left + v * bar_w
        y0 = bottom - (bottom - top) * float(p) / span
        colour = (220, 40, 40) if v == chosen else (60, 90, 160)
        draw.rectangle([x0, y0, x0 + max(bar_w - 0.2, 1), bottom], fill=colour)
    draw.line([left, bottom, w - 4, bottom], fill="black")
    for v in (0, levels // 2, levels - 1):
        draw.text((left + v * bar_w - 6, bottom + 3), str(v), fill="black")
    draw.text((2, top - 4), f"{top_p:.2f}", fill="black")
    return np.asarray(img)


# A magma-like ramp (dark: unsure, bright: sure) from five anchor colours, without matplotlib.
_ANCHORS = np.array([[0, 0, 4], [80, 18, 123], [183, 55, 121], [252, 137, 97], [252, 253, 191]], np.float64)
_LUT = np.stack([np.interp(np.linspace(0, 4, 256), np.arange(5), _ANCHORS[:, k]) for k in range(3)], 1).astype(np.uint8)


def heat(conf: np.ndarray) -> np.ndarray:
    """(N, H, W) confidence in [0, 1] -> one RGB grid image."""
    return image_grid(_LUT[np.clip(conf * 255, 0, 255).astype(np.uint8)])


def field_picture(dep: np.ndarray, row: int, col: int, other: np.ndarray | None = None) -> np.ndarray:
    """Dependencies (H, W) bool -> RGB picture: dependencies blue, the pixel red, earlier pixels the
    other network sees and this one does not orange, later pixels shaded."""
    hgt, wid = dep.shape
    img = np.full((hgt, wid, 3), 235, np.uint8)
    order = np.arange(hgt * wid).reshape(hgt, wid)
    img[order > row * wid + col] = (200, 200, 200)
    if other is not None:
        img[other & ~dep] = (245, 150, 30)
    img[dep] = (50, 100, 210)
    img[row, col] = (220, 30, 30)
    return img.repeat(FIELD_SCALE, 0).repeat(FIELD_SCALE, 1)


def given_picture(image: np.ndarray, rows: int) -> np.ndarray:
    """The kept rows as they are, the hidden ones shaded."""
    out = image.copy()
    out[rows:] = (out[rows:].astype(np.int16) // 4 + 90).astype(np.uint8)
    return out


def _pictures(frame) -> dict:
    """A streamed frame -> the images grid, the first image's last distribution, the confidence map."""
    images = frame.images
    levels = frame.probs.shape[-1]
    chosen = int(images[0, frame.row, frame.col].mean()) * (levels - 1) // 255 if images.shape[-1] == 1 else None
    return {"images": display(image_grid(images), side=448), "dist": bar_chart(frame.probs[0].mean(0), chosen),
            "conf": display(heat(frame.confidence), side=448)}


def _throttled(lang, eng, frames, run):
    """(frame, status) at most every SHOW_EVERY_S (the first and the last always), until done or
    stopped; then (the last frame again, the closing status): an API caller's result is the last
    message, so it carries the pictures too."""
    size = eng.config.image_size
    total = size * size
    started, shown, frame = time.perf_counter(), -1.0, None
    with contextlib.closing(frames):
        for frame in frames:
            now = time.perf_counter()
            if run.stop or frame.done or now - shown >= SHOW_EVERY_S:
                shown = now
                done = frame.row * size + frame.col + 1
                yield frame, t("pixelcnn.status.running", lang, done=done, total=total, s=now - started)
            if run.stop:
                yield frame, t("pixelcnn.status.stopped", lang, done=frame.row * size + frame.col + 1, total=total)
                return
    if frame is not None:
        yield frame, t("pixelcnn.status.done", lang, n=len(frame.images), total=total, s=time.perf_counter() - started)


class PixelcnnHandlers:
    """Event handlers: (lang, v) -> {name: value} (demo/forms.py)."""

    def __init__(self, models: Models, vae_models: Models):
        self.models = models
        self.vae_models = vae_models
        self._twins: dict = {}

    def _engine(self, uploads, model):
        return self.models.engine(model, uploads)

    # --- model -----------------------------------------------------------------------------------

    def model_changed(self, lang, v):
        eng = self._engine(v.uploads, v.model)
        names = eng.class_names if eng.conditional else None
        labels = [(t("pixelcnn.label.all", lang), "all")] + [(n, str(i)) for i, n in enumerate(names or [])]
        a, _ = default_examples(eng)
        return {"card": _format_card(eng, lang), "labels": [gr.update(choices=labels, value="all")] * 2,
                "example": gr.update(choices=example_choices(eng), value=a)}

    def upload(self, lang, v):
        try:
            name, eng, uploads = add_upload(v.files, v.uploads, FAMILY)
        except UserError as err:
            gr.Warning(err.localized(lang), title=t("error.title", lang))
            return {"status": "⚠️ " + err.localized(lang), "files": None}
        return {"uploads": uploads, "model": gr.update(choices=self.models.choices(uploads, lang),
                                                       value="upload:" + name),
                "status": t("model.upload.done", lang, name=name, family=FAMILY, latent="-"), "files": None}

    def relabel_models(self, lang, v):
        return {"model": gr.update(choices=self.models.choices(v.uploads, lang), value=v.model)}

    def texts(self, lang, v):
        return {"card": _format_card(self._engine(v.uploads, v.model), lang)}

    # --- sample ----------------------------------------------------------------------------------

    def _label(self, eng, label):
        return None if not eng.conditional or label in (None, "", "all") else label

    def sample(self, lang, v):
        """Stream the images filling in, the last pixel's distribution and the confidence map."""
        eng = self._engine(v.uploads, v.model)
        run = v.run if isinstance(v.run, Run) else Run()
        run.stop = False
        frames = eng.stream(v.n, 0 if v.seed is None else v.seed, label=self._label(eng, v.label),
                            temperature=v.temperature, top_k=v.top_k, top_p=v.top_p)
        for frame, status in _throttled(lang, eng, frames, run):
            yield {"run": run, "status": status, **({} if frame is None else _pictures(frame))}

    @staticmethod
    def stop(run):
        if isinstance(run, Run):
            run.stop = True

    # --- complete --------------------------------------------------------------------------------

    def complete(self, lang, v):
        """The kept rows, and n completions of the rest filling in side by side."""
        if not_given(v.source, v.upload, v.sketch):
            return
        eng = self._engine(v.uploads, v.model)
        image = model_input(eng, choice_of(v))
        rows = eng.config.image_size // 2 if v.rows is None else v.rows
        run = v.run if isinstance(v.run, Run) else Run()
        run.stop = False
        frames = eng.complete(image, rows=rows, n=v.n, seed=0 if v.seed is None else v.seed,
                              label=self._label(eng, v.label), temperature=v.temperature, top_k=v.top_k,
                              top_p=v.top_p)
        given = display(given_picture(image, int(rows)), side=200)
        note = fitted_note(lang, eng, choice_of(v))   # an upload of another size or colour: say it was fitted
        for frame, status in _throttled(lang, eng, frames, run):
            out = {"run": run, "status": same_note(note, status), "given": given}
            if frame is not None:
                out["completions"] = display(strip(frame.images), side=200 * len(frame.images))
            yield out

    # --- receptive field -------------------------------------------------------------------------

    def _twin(self, eng):
        key = (str(eng.path), eng.config)
        if key not in self._twins:
            self._twins = {key: plain_twin(eng.config)}
        return self._twins[key]

    def field(self, lang, v):
        eng = self._engine(v.uploads, v.model)
        size = eng.config.image_size
        row, col = int(v.row), int(v.col)
        if not (0 <= row < size and 0 <= col < size):
            raise UserError("value_out_of_range", what="pixel", low=0, high=size - 1, value=f"({row}, {col})")
        gated = receptive_field(eng.model, row, col)
        plain = receptive_field(self._twin(eng), row, col)
        later = np.arange(size * size).reshape(size, size) > row * size + col
        return {"plain": field_picture(plain, row, col, gated), "gated": field_picture(gated, row, col),
                "result": t("pixelcnn.field.result", lang, row=row, col=col, plain=int(plain.sum()),
                            gated=int(gated.sum()), blind=int((gated & ~plain).sum()),
                            later_plain=int((plain & later).sum()), later_gated=int((gated & later).sum()))}

    def field_click(self, lang, v, evt: gr.SelectData):
        x, y = evt.index
        return self.field(lang, SimpleNamespace(uploads=v.uploads, model=v.model, row=int(y) // FIELD_SCALE,
                                                col=int(x) // FIELD_SCALE)) | {
            "row": int(y) // FIELD_SCALE, "col": int(x) // FIELD_SCALE}

    # --- likelihood ------------------------------------------------------------------------------

    def likelihood(self, lang, v):
        eng = self._engine(v.uploads, v.model)
        images, labels = eng.examples()
        n = eng.check_count(v.count, high=max(1, len(images)))
        images = images[:n]
        labels = labels[:n] if labels is not None else None
        nats = eng.nll(images, labels if eng.conditional else None)
        dims = images[0].size
        bpd = nats / (dims * np.log(2))
        elbo = self._vae_bounds(v.uploads, v.bound_model, images)
        rows = [t("pixelcnn.like.head", lang), "|---|---|---|---|---|"]
        for i in range(n):
            label = "" if labels is None else str(int(labels[i]))
            e = "–" if elbo is None else f"{elbo[i]:.1f}"
            rows.append(f"| #{i} | {label} | {nats[i]:.1f} | {bpd[i]:.3f} | {e} |")
        card = eng.card.get("metrics") or {}
        whole = (f"{card['heldout_nll_nats']:.1f} nats, {card['heldout_bits_per_dim']:.3f} bits/dim"
                 if isinstance(card.get("heldout_nll_nats"), (int, float)) else t("card.none", lang))
        summary = t("pixelcnn.like.summary", lang, n=n, nats=float(nats.mean()), bpd=float(bpd.mean()),
                    elbo=float(np.mean(elbo)) if elbo is not None else float("nan"), card=whole)
        return {"summary": summary, "table": "\n".join(rows),
                "digits": display(strip(images), side=56 * n)}

    def _vae_bounds(self, uploads, vae_name, images):
        """The VAE's -ELBO (nats, one z sample, seed 0) of each image, or None without a fitting VAE."""
        try:
            vae = self.vae_models.engine(vae_name, uploads)
        except UserError:
            return None
        c = vae.config
        if images.shape[1:] != (c.image_size, c.image_size, c.channels):
            return None
        return np.array([vae.reconstruct(im, seed=0)["neg_elbo"] for im in images])


# --- layout: one function per sub-tab ----------------------------------------------------------------

_OUT = {"interactive": False, "format": "png", "elem_classes": ["out-image"], "buttons": []}


def _knobs(reg, prefix, ui, n_max, n_value):
    with gr.Row():
        ui.n = widget(reg, gr.Slider, minimum=1, maximum=n_max, value=n_value, step=1, label="pixelcnn.n",
                      elem_id=f"{prefix}-n")
        ui.seed = widget(reg, gr.Number, value=0, precision=0, minimum=0, maximum=2**32 - 1, label="pixelcnn.seed",
                         elem_id=f"{prefix}-seed")
        ui.label = widget(reg, gr.Dropdown, choices=[("all", "all")], value="all", label="pixelcnn.label",
                          elem_id=f"{prefix}-label", allow_custom_value=True)
    ui.temperature = widget(reg, gr.Slider, minimum=0.05, maximum=2.0, value=1.0, step=0.05,
                            label="pixelcnn.temperature", info="pixelcnn.temperature.info",
                            elem_id=f"{prefix}-temperature")
    with gr.Row():
        ui.top_k = widget(reg, gr.Slider, minimum=0, maximum=256, value=0, step=1, label="pixelcnn.top_k",
                          info="pixelcnn.top_k.info", elem_id=f"{prefix}-top-k")
        ui.top_p = widget(reg, gr.Slider, minimum=0.05, maximum=1.0, value=1.0, step=0.01, label="pixelcnn.top_p",
                          info="pixelcnn.top_p.info", elem_id=f"{prefix}-top-p")


def _sample_tab(reg):
    with widget(reg, gr.Tab, label="pixelcnn.sub.sample", id="pixelcnn-sample", elem_id="pixelcnn-tab-sample"):
        widget(reg, gr.Markdown, text="pixelcnn.sample.help")
        ui = SimpleNamespace(run=gr.State(None))
        with gr.Row(equal_height=False):
            with gr.Column(scale=2, min_width=300):
                _knobs(reg, "pixelcnn", ui, 16, 16)
                with gr.Row():
                    ui.go = widget(reg, gr.Button, text="pixelcnn.run", variant="primary", elem_id="pixelcnn-run")
                    ui.stop = widget(reg, gr.Button, text="pixelcnn.stop", variant="stop", elem_id="pixelcnn-stop")
                ui.status = gr.Markdown(elem_id="pixelcnn-status")
                ui.dist = widget(reg, gr.Image, label="pixelcnn.dist", elem_id="pixelcnn-dist", height=170, **_OUT)
            ui.images = widget(reg, gr.Image, label="pixelcnn.images", elem_id="pixelcnn-images", height=340,
                               scale=2, **_OUT)
            ui.conf = widget(reg, gr.Image, label="pixelcnn.conf", elem_id="pixelcnn-conf", height=340, scale=2,
                             **_OUT)
    return ui


def _complete_tab(reg):
    with widget(reg, gr.Tab, label="pixelcnn.sub.complete", id="pixelcnn-complete", elem_id="pixelcnn-tab-complete"):
        widget(reg, gr.Markdown, text="pixelcnn.complete.help")
        ui = SimpleNamespace(run=gr.State(None))
        with gr.Row(equal_height=False):
            with gr.Column(scale=1, min_width=240):
                ui.pick = build_picker(reg, "pixelcnn-complete", with_seed=False)
                ui.rows = widget(reg, gr.Slider, minimum=1, maximum=27, value=14, step=1, label="pixelcnn.rows",
                                 elem_id="pixelcnn-complete-rows")
            with gr.Column(scale=2, min_width=320):
                _knobs(reg, "pixelcnn-complete", ui, 8, 4)
                with gr.Row():
                    ui.go = widget(reg, gr.Button, text="pixelcnn.complete.run", variant="primary",
                                   elem_id="pixelcnn-complete-run")
                    ui.stop = widget(reg, gr.Button, text="pixelcnn.stop", variant="stop",
                                     elem_id="pixelcnn-complete-stop")
                ui.status = gr.Markdown(elem_id="pixelcnn-complete-status")
        with gr.Row(equal_height=False):
            ui.given = widget(reg, gr.Image, label="pixelcnn.complete.given", elem_id="pixelcnn-complete-given",
                              height=200, scale=1, **_OUT)
            ui.completions = widget(reg, gr.Image, label="pixelcnn.complete.out", elem_id="pixelcnn-completions",
                                    height=200, scale=4, **_OUT)
    return ui


def _field_tab(reg):
    with widget(reg, gr.Tab, label="pixelcnn.sub.field", id="pixelcnn-field", elem_id="pixelcnn-tab-field"):
        widget(reg, gr.Markdown, text="pixelcnn.field.help")
        ui = SimpleNamespace()
        with gr.Row():
            ui.row = widget(reg, gr.Number, value=14, precision=0, minimum=0, maximum=63, label="pixelcnn.field.row",
                            elem_id="pixelcnn-field-row")
            ui.col = widget(reg, gr.Number, value=14, precision=0, minimum=0, maximum=63, label="pixelcnn.field.col",
                            elem_id="pixelcnn-field-col")
        ui.result = gr.Markdown(elem_id="pixelcnn-field-result")
        with gr.Row(equal_height=False):
            ui.plain = widget(reg, gr.Image, label="pixelcnn.field.plain", elem_id="pixelcnn-field-plain",
                              height=300, interactive=False, format="png", buttons=[])
            ui.gated = widget(reg, gr.Image, label="pixelcnn.field.gated", elem_id="pixelcnn-field-gated",
                              height=300, interactive=False, format="png", buttons=[])
    return ui


def _likelihood_tab(reg, vae_models: Models):
    with widget(reg, gr.Tab, label="pixelcnn.sub.likelihood", id="pixelcnn-likelihood",
                elem_id="pixelcnn-tab-likelihood"):
        widget(reg, gr.Markdown, text="pixelcnn.like.help")
        ui = SimpleNamespace()
        with gr.Row(equal_height=True):
            choices = vae_models.choices({}, reg.lang)
            ui.vae = widget(reg, gr.Dropdown, choices=choices, value=vae_models.default(DEFAULT_VAE),
                            label="pixelcnn.like.vae", elem_id="pixelcnn-like-vae")
            ui.count = widget(reg, gr.Slider, minimum=1, maximum=16, value=8, step=1, label="pixelcnn.like.count",
                              elem_id="pixelcnn-like-count")
            ui.go = widget(reg, gr.Button, text="pixelcnn.like.run", variant="primary", elem_id="pixelcnn-like-run")
        ui.digits = gr.Image(show_label=False, elem_id="pixelcnn-like-digits", height=70, **_OUT)
        ui.summary = gr.Markdown(elem_id="pixelcnn-like-summary")
        ui.table = gr.Markdown(elem_id="pixelcnn-like-table")
    return ui


def _explain_tab(reg):
    with widget(reg, gr.Tab, label="pixelcnn.sub.explain", id="pixelcnn-explain", elem_id="pixelcnn-tab-explain"):
        widget(reg, gr.Markdown, text="pixelcnn.explain.body", latex_delimiters=LATEX_DELIMITERS,
               elem_id="pixelcnn-explain")


# --- wiring: one function per sub-tab ----------------------------------------------------------------

def _sampling(ui) -> dict:
    return {"n": ui.n, "seed": ui.seed, "label": ui.label, "temperature": ui.temperature, "top_k": ui.top_k,
            "top_p": ui.top_p}


def _wire_sample(form, h, top, sp):
    ev = form(h.sample, {"model": top.model, "run": sp.run, **_sampling(sp)},
              {"run": sp.run, "images": sp.images, "dist": sp.dist, "conf": sp.conf, "status": sp.status})
    sp.go.click(*ev, api_name="pixelcnn_sample", show_progress="hidden", **LONG)
    sp.stop.click(h.stop, sp.run, None, api_name="pixelcnn_stop", queue=False, show_progress="hidden")


def _wire_complete(form, h, top, cp):
    ev = form(h.complete, {"model": top.model, "run": cp.run, **cp.pick.named, "rows": cp.rows, **_sampling(cp)},
              {"run": cp.run, "given": cp.given, "completions": cp.completions, "status": cp.status})
    cp.go.click(*ev, api_name="pixelcnn_complete", show_progress="hidden", **LONG)
    cp.stop.click(h.stop, cp.run, None, api_name="pixelcnn_complete_stop", queue=False, show_progress="hidden")


def _wire_field(form, h, top, fd):
    outputs = {"plain": fd.plain, "gated": fd.gated, "result": fd.result}
    ev = form(h.field, {"model": top.model, "row": fd.row, "col": fd.col}, outputs)
    gr.on([fd.row.submit, fd.col.submit], *ev, api_name="pixelcnn_field", **QUIET)
    click = form(h.field_click, {"model": top.model}, {**outputs, "row": fd.row, "col": fd.col})
    fd.plain.select(*click, **QUIET, **PRIVATE)
    fd.gated.select(*click, **QUIET, **PRIVATE)
    return ev


def _wire_likelihood(form, h, top, lk):
    ev = form(h.likelihood, {"model": top.model, "bound_model": lk.vae, "count": lk.count},
              {"summary": lk.summary, "table": lk.table, "digits": lk.digits})
    lk.go.click(*ev, api_name="pixelcnn_likelihood", **QUIET)


def _wire_session(ctx, form, h, top, sp, cp, field_ev):
    """The model row, uploads, models trained in the training tab, the first load, language switches."""
    ev = form(h.model_changed, {"model": top.model},
              {"card": top.card, "labels": [sp.label, cp.label], "example": cp.pick.example})
    top.model.change(*ev, api_name="pixelcnn_model", **QUIET).then(*field_ev, **QUIET, **PRIVATE)
    ctx.opening.event(*ev, **QUIET, **PRIVATE).then(*field_ev, **QUIET, **PRIVATE)
    top.upload_files.upload(*form(h.upload, {"files": top.upload_files}, {
        "uploads": ctx.uploads, "model": top.model, "status": top.upload_status, "files": top.upload_files}),
        api_name="pixelcnn_upload", **QUIET)
    relabel = form(h.relabel_models, {"model": top.model}, {"model": top.model})
    ctx.uploads.change(*relabel, **QUIET, **PRIVATE)
    texts = form(h.texts, {"model": top.model}, {"card": top.card})
    ctx.after_lang(tuple(texts), tuple(field_ev))
    ctx.after_lang(tuple(relabel), always=True)


def build(ctx: AppContext) -> None:
    """Lay out the PixelCNN part inside the autoregressive tab's gr.Tabs (its model row above its own
    sub-tabs, as the VQ-VAE part has) and wire it; every sub-tab uses the model chosen there."""
    reg = ctx.reg
    models = Models(FAMILY, ctx.assets_dir)
    vae_models = Models("vae", ctx.assets_dir)
    h = PixelcnnHandlers(models, vae_models)
    top = SimpleNamespace()
    with widget(reg, gr.Tab, label="pixelcnn.tab", id="pixelcnn", elem_id="pixelcnn-part") as tab:
        ctx.open_tab(tab)
        row = model_row(reg, "pixelcnn", models.choices({}, reg.lang), models.default(DEFAULT_MODEL))
        top.model, top.card, top.upload_files, top.upload_status = row
        with gr.Tabs(elem_id="pixelcnn-subtabs"):
            sp = _sample_tab(reg)
            cp = _complete_tab(reg)
            fd = _field_tab(reg)
            lk = _likelihood_tab(reg, vae_models)
            _explain_tab(reg)
    form = Form(ctx.lang, uploads=ctx.uploads)
    _wire_sample(form, h, top, sp)
    _wire_complete(form, h, top, cp)
    field_ev = _wire_field(form, h, top, fd)
    _wire_likelihood(form, h, top, lk)
    _wire_session(ctx, form, h, top, sp, cp, field_ev)
