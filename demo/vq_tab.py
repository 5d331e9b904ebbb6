"""The VQ-VAE part of the autoregressive tab: tokens, the codebook, the prior, how it works.

`build(ctx)` lays out its sub-tabs inside the autoregressive tab's gr.Tabs (demo/ar_tab.py) and
wires them; the handlers live on `VqHandlers`, each taking the session language and the event's
named values and returning its outputs by name (demo/forms.py).
"""

from __future__ import annotations

from types import SimpleNamespace

import gradio as gr
import numpy as np

from engines.errors import UserError
from engines.pictures import image_grid
from engines.vqvae.model import psnr

from . import i18n_vq  # noqa: F401  (adds the part's strings to demo.i18n.STRINGS)
from . import vq_plots
from .ar_input import fitted_note, same_note
from .common import (
    LONG,
    PRIVATE,
    QUIET,
    AppContext,
    Models,
    add_upload,
    card_table,
    display,
    model_row,
)
from .forms import Form, widget
from .i18n import t
from .image_inputs import build_picker, choice_of, default_examples, example_choices, model_input, not_given

FAMILY = "vqvae"
DEFAULT_MODEL = "mnist-vqvae"
TOP = 8            # candidates shown for the next token
MAX_N = 16         # images one streamed sample draws
FRAME_S = 0.05     # at most one streamed frame this often (each decodes and sends every image)


def _format_card(engine, lang: str) -> str:
    c, m = engine.config, engine.card.get("metrics") or {}
    rows = [("vq.card.config", f"{c.image_size}×{c.image_size}×{c.channels} → {c.side}×{c.side} tokens, "
                               f"K = {c.codebook_size}, D = {c.code_dim}; GPT-2 {c.prior_layers}×{c.prior_width}")]
    if isinstance(m.get("heldout_mse"), (int, float)):
        nll = m.get("heldout_prior_nll")
        rows.append(("vq.card.metrics", t("vq.card.metrics.value", lang, mse=m["heldout_mse"], psnr=m["heldout_psnr"],
                                          ppl=m.get("heldout_perplexity", 0.0),
                                          nll=f"{nll:.3f}" if isinstance(nll, (int, float)) else "–")))
    return card_table(engine, lang, rows)


def _class_choices(engine, lang: str) -> list[tuple[str, int]]:
    names = engine.class_names or []
    return [(t("vq.class.none", lang), -1)] + [(names[i] if i < len(names) else str(i), i)
                                               for i in range(engine.num_classes)]


class VqHandlers:
    """Event handlers: (lang, v) -> {output name: value}."""

    def __init__(self, models: Models):
        self.models = models

    def _engine(self, uploads, model):
        return self.models.engine(model, uploads)

    # --- model ---------------------------------------------------------------------------------
    def model_changed(self, lang, v):
        eng = self._engine(v.uploads, v.model)
        first, _ = default_examples(eng)
        side, k = eng.side, eng.codebook_size
        return {**self.texts(lang, v), **self.codebook(lang, v), "label": self._first_class(lang, v),
                "example": gr.update(choices=example_choices(eng), value=first),
                "top_k": gr.update(maximum=k), "code": gr.update(maximum=k - 1, value=0),
                "region": [gr.update(maximum=side - 1, value=x) for x in (side // 2, side - 1, 0, side - 1)],
                "cell": [gr.update(maximum=side - 1, value=side // 2)] * 2}

    def texts(self, lang, v):
        eng = self._engine(v.uploads, v.model)
        return {"card": _format_card(eng, lang), "label": gr.update(choices=_class_choices(eng, lang)),
                "usage_info": self._usage_info(eng, lang)}

    def _first_class(self, lang, v):
        eng = self._engine(v.uploads, v.model)
        return gr.update(choices=_class_choices(eng, lang), value=0 if eng.num_classes else -1)

    def upload(self, lang, v):
        try:
            name, eng, uploads = add_upload(v.files, v.uploads, FAMILY)
        except UserError as err:
            gr.Warning(err.localized(lang), title=t("error.title", lang))
            return {"status": "⚠️ " + err.localized(lang), "files": None}
        return {"uploads": uploads, "model": gr.update(choices=self.models.choices(uploads, lang), value="upload:" + name),
                "status": t("vq.upload.done", lang, name=name, side=eng.side, k=eng.codebook_size), "files": None}

    def relabel(self, lang, v):
        return {"model": gr.update(choices=self.models.choices(v.uploads, lang), value=v.model)}

    # --- tokens --------------------------------------------------------------------------------
    def encode(self, lang, v):
        if not_given(v.source, v.upload, v.sketch):
            return {}
        eng = self._engine(v.uploads, v.model)
        x = model_input(eng, choice_of(v))
        r = eng.reconstruct(x)
        tokens = r["tokens"].tolist()
        info = same_note(fitted_note(lang, eng, choice_of(v)), t(
            "vq.recon.info", lang, side=eng.side, n=eng.side ** 2, k=eng.codebook_size, mse=r["mse"],
            psnr=psnr(r["mse"])))
        return {"input": display(x), "grid": vq_plots.token_grid(r["tokens"]), "recon": display(r["recon"]),
                "edited": display(r["recon"]), "tokens": tokens, "original": tokens,
                "info": info, "cell_info": t("vq.cell.none", lang)}

    def pick_cell(self, lang, v, evt: gr.SelectData):
        """A click on the token grid: that token is marked, the row / column sliders and the code follow."""
        eng = self._engine(v.uploads, v.model)
        if v.tokens is None:
            raise UserError("vq_no_image")
        at = vq_plots.cell_at(*evt.index, side=eng.side)
        return {} if at is None else {"cell": list(at), **self._marked(lang, eng, v.tokens, at)}

    def mark_cell(self, lang, v):
        """The row / column sliders moved (the keyboard way to pick a token)."""
        eng = self._engine(v.uploads, v.model)
        if v.tokens is None:
            raise UserError("vq_no_image")
        return self._marked(lang, eng, v.tokens, self._cell(eng, v.cell))

    @staticmethod
    def _cell(eng, cell) -> tuple[int, int]:
        row, col = (int(x) if isinstance(x, float) and x.is_integer() else x for x in cell)
        if not all(isinstance(x, int) and 0 <= x < eng.side for x in (row, col)):
            raise UserError("vq_cell", row=row, col=col, side=eng.side)
        return row, col

    @staticmethod
    def _marked(lang, eng, tokens, at) -> dict:
        tokens = np.asarray(tokens)
        if tokens.shape != (eng.side, eng.side):
            return {}
        marked = np.zeros_like(tokens, bool)
        marked[at] = True
        code = int(tokens[at])
        return {"code": code, "grid": vq_plots.token_grid(tokens, marked=marked),
                "cell_info": t("vq.cell", lang, row=at[0], col=at[1], code=code)}

    def replace(self, lang, v):
        eng = self._engine(v.uploads, v.model)
        if v.tokens is None:
            raise UserError("vq_no_image")
        code = v.code
        if isinstance(code, float) and code.is_integer():
            code = int(code)
        row, col = self._cell(eng, v.cell)
        grid, image = eng.swap(np.asarray(v.tokens), row, col, code)
        marked = np.zeros_like(grid, bool)
        marked[row, col] = True
        return {"tokens": grid.tolist(), "grid": vq_plots.token_grid(grid, marked=marked), "edited": display(image),
                "cell_info": t("vq.cell", lang, row=row, col=col, code=code)}

    def reset(self, lang, v):
        eng = self._engine(v.uploads, v.model)
        if v.original is None:
            raise UserError("vq_no_image")
        grid = np.asarray(v.original)
        return {"tokens": v.original, "grid": vq_plots.token_grid(grid), "edited": display(eng.decode(grid)[0]),
                "cell_info": t("vq.cell.none", lang)}

    # --- codebook ------------------------------------------------------------------------------
    def codebook(self, lang, v):
        eng = self._engine(v.uploads, v.model)
        use = eng.usage()
        return {"codes": vq_plots.codebook_sheet(eng.codebook_images(), use["counts"]),
                "usage": vq_plots.usage_bars(use["counts"]), "usage_info": self._usage_info(eng, lang)}

    @staticmethod
    def _usage_info(eng, lang) -> str:
        use = eng.usage()
        dead = ", ".join(map(str, use["dead"][:40])) + (" …" if len(use["dead"]) > 40 else "")
        return t("vq.usage.info", lang, ppl=use["perplexity"], k=eng.codebook_size,
                 dead=f"{len(use['dead'])} ({dead})" if use["dead"] else "0", images=use["images"])

    # --- prior ---------------------------------------------------------------------------------
    def _settings(self, v) -> dict:
        label = v.label
        if isinstance(label, str) and label.strip().lstrip("-").isdigit():  # an API caller's "7"
            label = int(label)
        label = None if label is None or label == -1 else label
        top_k = int(v.top_k) if isinstance(v.top_k, float) and v.top_k.is_integer() else v.top_k
        return {"label": label, "temperature": v.temperature, "top_k": top_k, "top_p": v.top_p}

    @staticmethod
    def _count(n) -> int:
        if n is None or not float(n).is_integer() or not 1 <= n <= MAX_N:
            raise UserError("value_out_of_range", what="n", low=1, high=MAX_N, value=n)
        return int(n)

    def _frames(self, lang, eng, frames, marked=None):
        total, candidates = None, None
        for f in frames:
            total = int((f.tokens[0] < 0).sum()) + (0 if f.position < 0 else 1) if total is None else total
            done = int((f.tokens[0] >= 0).sum()) - (eng.side ** 2 - total)
            if f.candidates:  # the last step's stay shown when the grid is done
                candidates = {t("vq.candidate", lang, code=k): p for k, p in f.candidates}
            status = (t("vq.status.done", lang, total=total, seconds=f.seconds) if f.done else
                      t("vq.status", lang, done=done, total=total, seconds=f.seconds))
            yield {"samples": display(image_grid(f.images, nrow=min(4, len(f.images))), side=448),
                   "prior_grid": vq_plots.token_grid(f.tokens[0], marked=marked,
                                                     current=None if f.done else f.position),
                   "candidates": candidates,
                   "status": status}

    def sample(self, lang, v):
        eng = self._engine(v.uploads, v.model)
        frames = eng.stream(self._count(v.n), v.seed, top=TOP, every=FRAME_S, **self._settings(v))
        yield from self._frames(lang, eng, frames)

    def resample(self, lang, v):
        eng = self._engine(v.uploads, v.model)
        if v.tokens is None:
            raise UserError("vq_no_image")
        tokens = np.asarray(v.tokens)
        mask = vq_plots.region_mask(v.region, eng.side)
        frames = eng.stream(self._count(v.n), v.seed, top=TOP, tokens=tokens, mask=mask, every=FRAME_S,
                            **self._settings(v))
        yield from self._frames(lang, eng, frames, marked=mask)

    # --- the region to resample, picked on the picture or with the sliders ---------------------
    def show_region(self, lang, v):
        """The Tokens tab's grid decoded, the sliders' region marked; a pending corner is dropped."""
        eng = self._engine(v.uploads, v.model)
        if v.tokens is None or np.asarray(v.tokens).shape != (eng.side, eng.side):
            return {"region_grid": None, "corner": None}
        mask = vq_plots.region_mask(v.region, eng.side)
        return {"region_grid": vq_plots.region_picture(eng.decode(np.asarray(v.tokens))[0], mask), "corner": None,
                "region_info": self._region_info(lang, mask, None)}

    def pick_corner(self, lang, v, evt: gr.SelectData):
        """A click on the region picture: the first click picks one token (a 1x1 region) and waits,
        the second makes the rectangle between the two; the sliders follow."""
        eng = self._engine(v.uploads, v.model)
        if v.tokens is None:
            raise UserError("vq_no_image")
        at = vq_plots.cell_at(*evt.index, side=eng.side)
        if at is None:
            return {}
        (r, c), first = at, v.corner
        if first is None:
            region, corner = [r, r, c, c], [r, c]
        else:
            region, corner = [min(first[0], r), max(first[0], r), min(first[1], c), max(first[1], c)], None
        mask = vq_plots.region_mask(region, eng.side)
        picture = vq_plots.region_picture(eng.decode(np.asarray(v.tokens))[0], mask, corner=corner)
        return {"region": region, "corner": corner, "region_grid": picture,
                "region_info": self._region_info(lang, mask, corner)}

    @staticmethod
    def _region_info(lang, mask, corner) -> str:
        rows, cols = np.nonzero(mask)
        key = "vq.region.info.waiting" if corner is not None else "vq.region.info"
        return t(key, lang, n=int(mask.sum()), r0=int(rows.min()), r1=int(rows.max()), c0=int(cols.min()),
                 c1=int(cols.max()))


# --- layout: one function per sub-tab -------------------------------------------------------------

_OUT = {"interactive": False, "format": "png", "elem_classes": ["out-image"]}


def _image(reg, key, elem_id, **kwargs):
    return widget(reg, gr.Image, label=key, elem_id=elem_id, buttons=["download"], **_OUT, **kwargs)


def _tokens_tab(reg):
    with widget(reg, gr.Tab, label="vq.sub.tokens", id="vq-tokens", elem_id="vq-tab-tokens"):
        widget(reg, gr.Markdown, text="vq.tokens.help")
        ui = SimpleNamespace(tokens=gr.State(None), original=gr.State(None))
        with gr.Row(equal_height=False):
            with gr.Column(scale=1, min_width=220):
                ui.pick = build_picker(reg, "vq-tok", with_seed=False)
                ui.input = _image(reg, "vq.input", "vq-input", height=200)
            with gr.Column(scale=2, min_width=300):
                ui.grid = widget(reg, gr.Image, label="vq.grid", elem_id="vq-grid", interactive=False,
                                 format="png", height=340, buttons=["download"])
                ui.info = gr.Markdown(elem_id="vq-recon-info")
            with gr.Column(scale=1, min_width=220):
                ui.recon = _image(reg, "vq.recon", "vq-recon", height=200)
                ui.edited = _image(reg, "vq.edited", "vq-edited", height=200)
        with gr.Row(equal_height=False):
            ui.cell_info = gr.Markdown(elem_id="vq-cell-info")
            ui.cell = [widget(reg, gr.Slider, minimum=0, maximum=6, value=3, step=1, label=key, elem_id=f"vq-cell-{i}")
                       for i, key in enumerate(("vq.row", "vq.col"))]
            ui.code = widget(reg, gr.Slider, minimum=0, maximum=63, value=0, step=1, label="vq.code",
                             elem_id="vq-code")
            ui.replace = widget(reg, gr.Button, text="vq.replace", elem_id="vq-replace", variant="primary")
            ui.reset = widget(reg, gr.Button, text="vq.reset", elem_id="vq-reset")
    return ui


def _codebook_tab(reg):
    with widget(reg, gr.Tab, label="vq.sub.codebook", id="vq-codebook", elem_id="vq-tab-codebook"):
        widget(reg, gr.Markdown, text="vq.codebook.help")
        ui = SimpleNamespace(usage_info=gr.Markdown(elem_id="vq-usage-info"))
        ui.codes = widget(reg, gr.Image, label="vq.codes", elem_id="vq-codes", interactive=False, format="png",
                          buttons=["download"])
        ui.usage = widget(reg, gr.Image, label="vq.usage", elem_id="vq-usage", interactive=False, format="png",
                          height=220)
    return ui


def _prior_tab(reg):
    with widget(reg, gr.Tab, label="vq.sub.prior", id="vq-prior", elem_id="vq-tab-prior"):
        widget(reg, gr.Markdown, text="vq.prior.help")
        ui = SimpleNamespace()
        with gr.Row(equal_height=False):
            with gr.Column(scale=1, min_width=240):
                ui.label = widget(reg, gr.Dropdown, choices=[], value=-1, label="vq.class", elem_id="vq-class",
                                  allow_custom_value=True)
                ui.temperature = widget(reg, gr.Slider, minimum=0.1, maximum=3.0, value=1.0, step=0.05,
                                        label="vq.temperature", info="vq.temperature.info", elem_id="vq-temperature")
                ui.top_k = widget(reg, gr.Slider, minimum=0, maximum=64, value=0, step=1, label="vq.top_k",
                                  elem_id="vq-top-k")
                ui.top_p = widget(reg, gr.Slider, minimum=0.05, maximum=1.0, value=1.0, step=0.01, label="vq.top_p",
                                  elem_id="vq-top-p")
                with gr.Row():
                    ui.seed = widget(reg, gr.Number, value=0, precision=0, minimum=0, maximum=2**32 - 1,
                                     label="vq.seed", elem_id="vq-seed")
                    ui.n = widget(reg, gr.Slider, minimum=1, maximum=MAX_N, value=8, step=1, label="vq.n",
                                  elem_id="vq-n")
                ui.sample = widget(reg, gr.Button, text="vq.sample", elem_id="vq-sample", variant="primary")
            with gr.Column(scale=2, min_width=320):
                ui.samples = _image(reg, "vq.samples", "vq-samples", height=360)
                ui.status = gr.Markdown(elem_id="vq-status")
            with gr.Column(scale=1, min_width=240):
                ui.prior_grid = widget(reg, gr.Image, label="vq.prior.grid", elem_id="vq-prior-grid",
                                       interactive=False, format="png", height=380)
                ui.candidates = widget(reg, gr.Label, label="vq.candidates", num_top_classes=TOP,
                                       elem_id="vq-candidates")
        _region_box(reg, ui)
    return ui


def _region_box(reg, ui):
    """Resample a region: click two corners on the picture, or set the four sliders (the keyboard way)."""
    with widget(reg, gr.Accordion, label="vq.region", open=True, elem_id="vq-region-box"):
        widget(reg, gr.Markdown, text="vq.region.help")
        ui.corner = gr.State(None)
        with gr.Row(equal_height=False):
            ui.region_grid = widget(reg, gr.Image, label="vq.region.grid", elem_id="vq-region-grid",
                                    interactive=False, format="png", height=300, buttons=["download"])
            with gr.Column(min_width=260):
                ui.region_info = gr.Markdown(elem_id="vq-region-info")
                ui.region = [widget(reg, gr.Slider, minimum=0, maximum=15, value=v, step=1, label=key,
                                    elem_id=f"vq-region-{i}")
                             for i, (key, v) in enumerate((("vq.rows", 3), ("vq.rows_to", 6), ("vq.cols", 0),
                                                           ("vq.cols_to", 6)))]
                ui.resample = widget(reg, gr.Button, text="vq.resample", elem_id="vq-resample", variant="primary")


def _explain_tab(reg):
    with widget(reg, gr.Tab, label="vq.sub.explain", id="vq-explain", elem_id="vq-tab-explain"):
        widget(reg, gr.Markdown, text="vq.explain", elem_id="vq-explain-text")


# --- wiring: one function per sub-tab -----------------------------------------------------------

def _wire_tokens(form, h, model, tk):
    pick = tk.pick
    encode = form(h.encode, {"model": model, **pick.named}, {
        "input": tk.input, "grid": tk.grid, "recon": tk.recon, "edited": tk.edited, "tokens": tk.tokens,
        "original": tk.original, "info": tk.info, "cell_info": tk.cell_info})
    gr.on([pick.source.input, pick.example.input, pick.upload.upload, pick.sketch.change], *encode,
          api_name="vq_encode", **QUIET)
    marked = {"code": tk.code, "grid": tk.grid, "cell_info": tk.cell_info}
    tk.grid.select(*form(h.pick_cell, {"model": model, "tokens": tk.tokens}, {"cell": tk.cell, **marked}),
                   api_name="vq_pick", **QUIET)
    gr.on([s.input for s in tk.cell], *form(h.mark_cell, {"model": model, "tokens": tk.tokens, "cell": tk.cell},
                                            marked), api_name="vq_mark", trigger_mode="always_last", **QUIET)
    swap = form(h.replace, {"model": model, "tokens": tk.tokens, "cell": tk.cell, "code": tk.code}, {
        "tokens": tk.tokens, "grid": tk.grid, "edited": tk.edited, "cell_info": tk.cell_info})
    tk.replace.click(*swap, api_name="vq_replace", **QUIET)
    tk.code.input(*swap, trigger_mode="always_last", **QUIET, **PRIVATE)  # moving the slider swaps at once
    tk.reset.click(*form(h.reset, {"model": model, "original": tk.original}, {
        "tokens": tk.tokens, "grid": tk.grid, "edited": tk.edited, "cell_info": tk.cell_info}),
        api_name="vq_reset", **QUIET)
    return encode


def _wire_prior(form, h, model, tk, pr):
    settings = {"model": model, "label": pr.label, "temperature": pr.temperature, "top_k": pr.top_k,
                "top_p": pr.top_p, "seed": pr.seed, "n": pr.n}
    shown = {"samples": pr.samples, "prior_grid": pr.prior_grid, "candidates": pr.candidates, "status": pr.status}
    stream = {"show_progress": "minimal", **LONG}
    pr.sample.click(*form(h.sample, settings, shown), api_name="vq_sample", **stream)
    pr.resample.click(*form(h.resample, {**settings, "tokens": tk.tokens, "region": pr.region}, shown),
                      api_name="vq_resample", **stream)
    marked = {"region_grid": pr.region_grid, "corner": pr.corner, "region_info": pr.region_info}
    region = form(h.show_region, {"model": model, "tokens": tk.tokens, "region": pr.region}, marked)
    gr.on([tk.tokens.change, *[s.input for s in pr.region]], *region, api_name="vq_region",
          trigger_mode="always_last", **QUIET)
    pr.region_grid.select(*form(h.pick_corner, {"model": model, "tokens": tk.tokens, "corner": pr.corner}, {
        **marked, "region": pr.region}), api_name="vq_region_pick", **QUIET)
    return region


def build(ctx: AppContext) -> None:
    """Lay out the VQ-VAE sub-tabs inside the autoregressive tab's gr.Tabs and wire them."""
    reg = ctx.reg
    models = Models(FAMILY, ctx.assets_dir)
    h = VqHandlers(models)
    with widget(reg, gr.Tab, label="vq.tab", id="vq", elem_id="vq-part") as tab:
        ctx.open_tab(tab)
        widget(reg, gr.Markdown, text="vq.intro", elem_id="vq-intro")
        model, card, files, status = model_row(reg, "vq", models.choices({}, reg.lang), models.default(DEFAULT_MODEL))
        with gr.Tabs(elem_id="vq-subtabs"):
            tk = _tokens_tab(reg)
            cb = _codebook_tab(reg)
            pr = _prior_tab(reg)
            _explain_tab(reg)
    form = Form(ctx.lang, uploads=ctx.uploads)
    encode = _wire_tokens(form, h, model, tk)
    region = _wire_prior(form, h, model, tk, pr)
    changed = form(h.model_changed, {"model": model}, {
        "card": card, "label": pr.label, "codes": cb.codes, "usage": cb.usage, "usage_info": cb.usage_info,
        "example": tk.pick.example, "top_k": pr.top_k, "code": tk.code, "region": pr.region, "cell": tk.cell})
    model.change(*changed, api_name="vq_model", **QUIET).then(*encode, **QUIET, **PRIVATE)
    ctx.opening.event(*changed, **QUIET, **PRIVATE).then(*encode, **QUIET, **PRIVATE)
    files.upload(*form(h.upload, {"files": files}, {"uploads": ctx.uploads, "model": model, "status": status,
                                                     "files": files}), api_name="vq_upload", **QUIET)
    relabel = form(h.relabel, {"model": model}, {"model": model})
    ctx.uploads.change(*relabel, **QUIET, **PRIVATE)
    texts = form(h.texts, {"model": model}, {"card": card, "label": pr.label, "usage_info": cb.usage_info})
    ctx.after_lang(tuple(texts), tuple(encode), tuple(region))
    ctx.after_lang(tuple(relabel), always=True)
