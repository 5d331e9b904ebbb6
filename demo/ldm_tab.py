"""The latent diffusion tab: text to image as Stable Diffusion does it, small (issue 20).

Generate: a prompt (the vocabulary shown, never-seen words flagged as it is typed), guidance, DDIM
steps, seed; the run streams the pipeline diagram (demo/ldm_plots.py), each box holding its real
output: the prompt's tokens, the latent at the step (cheap linear decode) and the clean latent
predicted from it, the decoder's image. A step scrubber replays any step of the run, with each
word's cross-attention map at that step. Compare: the same prompt and seed through the latent
model, a pixel-space DDPM and CLIP guidance, with seconds and multiply-adds per image measured
live and what the scenes judge sees in each image. Handlers take (lang, v) and return {name: value}
(demo/forms.py); the engine (engines.ldm) checks every input and raises bilingual UserErrors.
"""

from __future__ import annotations

import time
from functools import lru_cache
from types import SimpleNamespace

import gradio as gr
import numpy as np

from engines.errors import UserError

from . import i18n_ldm  # noqa: F401  (adds the strings to demo.i18n.STRINGS)
from . import ldm_plots, links
from .common import COMPUTE, LONG, PRIVATE, QUIET, AppContext, Models, add_upload, card_table, display, model_row, strip
from .forms import Form, widget
from .i18n import LATEX_DELIMITERS, t
from .words_note import ldm_note

FAMILY = "ldm"
DEFAULT_MODEL = "scenes-ldm"
PIXEL_MODEL = "shapes-ddpm"       # the pixel-space DDPM the comparison runs (no pixel model of the scenes world)
SHOW_EVERY_S = 0.15               # a streamed run hands the page a diagram at most this often
MAX_PROMPT_CHARS = 300
DEFAULT_STEPS, MAX_STEPS_UI = 50, 200
DEFAULT_CLIP_STEPS = 20
OBJECT_WORDS = ("color", "shape")


class Run:
    """A session's last run: its frames (for the scrubber) and a stop flag (Gradio deep-copies a new state)."""

    def __init__(self):
        self.stop = False
        self.frames: list = []
        self.prompt = ""
        self.tokens: list[str] = []
        self.model = None


@lru_cache(maxsize=1)
def example_prompts() -> tuple[str, ...]:
    """Captions of a few single-object scenes from the TRAINING caption sampler, English then Chinese."""
    from engines.scenes import captions, world

    scenes = [s for s in world.sample_scenes(40, stream="train") if len(s["objects"]) == 1][:4]
    return tuple(captions.caption(s, lang, rng=i, split="train").text for lang in ("en", "zh")
                 for i, s in enumerate(scenes))


@lru_cache(maxsize=1)
def _judge():
    from engines.scenes.judge import load_judge

    return load_judge()


def judge_text(images: np.ndarray, lang: str) -> list[str]:
    """What the scenes judge sees in each image (uint8 (N, s, s, 3), resized to 64): "red circle (top left)"."""
    from engines.scenes.judge import judge_images

    if images.shape[1] != 64:
        k = 64 // images.shape[1]
        images = images.repeat(k, 1).repeat(k, 2)
    out = []
    for seen in judge_images(_judge(), images):
        objs = [f"{o['size']} {o['color']} {o['shape']} ({o['position']})" for o in seen["objects"]]
        out.append("; ".join(objs) or t("ldm.compare.nothing", lang))
    return out


def _format_card(engine, lang: str) -> str:
    c, card = engine.config, engine.card
    judged = card.get("heldout_judged")
    quality = t("card.none", lang)
    if isinstance(judged, dict):
        quality = ", ".join(f"{k} {v:.0%}" for k, v in judged.items() if isinstance(v, (int, float)))
    return card_table(engine, lang, [
        ("ldm.card.config", f"autoencoder {tuple(c.ae_widths)} → {c.latent_channels}×{c.latent_side}×{c.latent_side}; "
                            f"U-Net width {c.width} × {tuple(c.mult)}; BERT {c.text_layers} layer(s) × {c.text_width}"),
        ("ldm.card.heldout", quality),
    ])


def _vocabulary(engine, lang: str) -> str:
    tokens = list(engine.vocab.tokens)
    special = [w for w in tokens if w.startswith("[")]
    en = [w for w in tokens if w.isascii() and w not in special]
    zh = [w for w in tokens if not w.isascii()]
    return t("ldm.vocab.body", lang, n=len(tokens), en=" ".join(en), zh=" ".join(zh), special=" ".join(special))


def _box_labels(lang: str, frame) -> dict[str, str]:
    k = 0 if frame is None else frame.index + 1
    count = 0 if frame is None else frame.count
    return {"tokens": t("ldm.box.tokens", lang), "x0": t("ldm.box.x0", lang), "final": t("ldm.box.final", lang),
            "latent": t("ldm.box.latent", lang, k=k, count=count, t="-" if frame is None else frame.t)}


def _pictures(engine, run: Run, step: int, image: int, lang: str) -> dict:
    """The diagram and the word maps of one image at one step of a finished (or running) run."""
    frame = run.frames[step]
    image = min(max(0, image), len(frame.preview) - 1)
    final = run.frames[-1].images
    diagram = ldm_plots.pipeline(run.tokens, frame.latent[image], frame.preview[image],
                                 None if final is None else final[image], _box_labels(lang, frame))
    maps = engine.word_maps(run.frames, run.prompt, step, image) if frame.attention.shape[1] else []
    words = ldm_plots.word_maps(maps, None if final is None else final[image])
    return {"pipeline": diagram, "attention": words}


def _prompt(value) -> str:
    text = "" if value is None else value if isinstance(value, str) else None
    if text is None:
        raise UserError("ldm_prompt_not_text", value=repr(value)[:40])
    if len(text) > MAX_PROMPT_CHARS:
        raise UserError("ldm_prompt_chars", n=len(text), max=MAX_PROMPT_CHARS)
    return text


def _whole(value, default: int) -> object:
    """A widget's number as an int where it is one (the engine checks bounds, NaN and the rest)."""
    if value is None:
        return default
    try:
        return int(value) if float(value) == int(value) else value
    except (TypeError, ValueError, OverflowError):
        return value


class LdmHandlers:
    """Event handlers: (lang, v) -> {name: value} (demo/forms.py)."""

    def __init__(self, models: Models, pixel_models: Models):
        self.models = models
        self.pixel_models = pixel_models

    def _engine(self, uploads, model):
        if not self.models.shipped and not (uploads or {}).get(FAMILY):
            raise UserError("ldm_no_model")
        return self.models.engine(model, uploads)

    # --- model, words ----------------------------------------------------------------------------

    def opened(self, lang, v):
        """The card, the vocabulary and the prompt's note (the tab's first refresh, a model change)."""
        try:
            eng = self._engine(v.uploads, v.model)
        except UserError as err:
            return {"card": err.localized(lang), "vocab": "", "note": ""}
        return {"card": _format_card(eng, lang), "vocab": _vocabulary(eng, lang),
                "note": ldm_note(eng, v.prompt, lang)}

    def note(self, lang, v):
        """Never-seen words, before generating (follows the prompt box as it is typed)."""
        try:
            eng = self._engine(v.uploads, v.model)
        except UserError:
            eng = None
        return {"note": ldm_note(eng, v.prompt, lang)}

    def upload(self, lang, v):
        try:
            name, _, uploads = add_upload(v.files, v.uploads, FAMILY)
        except UserError as err:
            gr.Warning(err.localized(lang), title=t("error.title", lang))
            return {"status": "⚠️ " + err.localized(lang), "files": None}
        return {"uploads": uploads, "model": gr.update(choices=self.models.choices(uploads, lang),
                                                       value="upload:" + name),
                "status": t("model.upload.done", lang, name=name, family=FAMILY, latent="4×16×16"), "files": None}

    def relabel_models(self, lang, v):
        return {"model": gr.update(choices=self.models.choices(v.uploads, lang), value=v.model)}

    # --- generate --------------------------------------------------------------------------------

    def generate(self, lang, v):
        """Stream the run: the diagram and word maps of the newest step, then the final images."""
        eng = self._engine(v.uploads, v.model)
        prompt = _prompt(v.prompt)
        run = v.run if isinstance(v.run, Run) else Run()
        run.stop, run.frames, run.prompt, run.model = False, [], prompt, v.model
        frames = eng.sample(prompt, _whole(v.n, 1), _whole(v.seed, 0), _whole(v.steps, DEFAULT_STEPS),
                            v.guidance)   # every input checked here, before the first step
        run.tokens = eng.tokens(prompt)
        started, shown, first = time.perf_counter(), -1.0, None
        for frame in frames:
            run.frames.append(frame)
            now = time.perf_counter()
            first = now - started if first is None else first
            last = frame.index == frame.count - 1
            if run.stop or last or now - shown >= SHOW_EVERY_S:
                shown = now
                status = t("ldm.status.running", lang, k=frame.index + 1, count=frame.count, s=now - started)
                yield {"run": run, "status": status, **_pictures(eng, run, frame.index, 0, lang)}
            if run.stop:
                frames.close()
                yield {"run": run, "status": t("ldm.status.stopped", lang, k=frame.index + 1, count=frame.count),
                       "scrub": gr.update(maximum=max(1, len(run.frames) - 1), value=len(run.frames) - 1)}
                return
        images = run.frames[-1].images
        g = eng.default_guidance if v.guidance is None else float(v.guidance)
        yield {"run": run, "images": display(strip(images), side=160 * len(images)),
               "scrub": gr.update(maximum=max(1, len(run.frames) - 1), value=len(run.frames) - 1),
               "image_pick": gr.update(maximum=max(1, len(images) - 1), value=0),
               "status": t("ldm.status.done", lang, n=len(images), count=len(run.frames), g=g,
                           s=time.perf_counter() - started, first=first or 0.0)}

    def scrub(self, lang, v):
        """The diagram and the word maps at another step of the last run (no model call but the map's)."""
        run = v.run
        if not isinstance(run, Run) or not run.frames:
            return {"status": t("ldm.no_run", lang)}
        step = _whole(v.step, 0)
        if not isinstance(step, int) or not 0 <= step < len(run.frames):
            raise UserError("ldm_step_index", value=v.step, high=len(run.frames) - 1, max=len(run.frames) - 1)
        image = _whole(v.image, 0)
        image = image if isinstance(image, int) else 0
        return _pictures(self._engine(v.uploads, run.model), run, step, image, lang)

    @staticmethod
    def stop(run):
        if isinstance(run, Run):
            run.stop = True

    # --- compare ---------------------------------------------------------------------------------

    def compare(self, lang, v):
        """The same prompt and seed three ways, streamed as each finishes: a table and the images."""
        from engines.ldm import compare

        eng = self._engine(v.uploads, v.model)
        prompt = _prompt(v.prompt)
        steps, seed = _whole(v.steps, DEFAULT_STEPS), _whole(v.seed, 0)
        eng.sample(prompt, 1, seed, steps, v.guidance).close()      # checks every input first
        clip_steps = _whole(v.clip_steps, DEFAULT_CLIP_STEPS)
        if not isinstance(clip_steps, int) or not 1 <= clip_steps <= 100:
            raise UserError("ldm_steps", value=v.clip_steps, max=100)
        g = eng.default_guidance if v.guidance is None else float(v.guidance)
        rows, pictures = [], []
        yield {"status": t("ldm.compare.running", lang, what="LDM")}
        latent = compare.ldm_run(eng, prompt, seed, steps, v.guidance)
        rows.append(("LDM", t("ldm.compare.ldm", lang, steps=steps, g=g), latent))
        pictures.append(latent.images)
        yield self._table(lang, rows, pictures, None)
        try:
            if self.pixel_models is None:
                raise UserError("model_unknown", name=PIXEL_MODEL, available="none")
            ddpm = self.pixel_models.engine(PIXEL_MODEL, None)
        except UserError as err:
            rows.append(("DDPM", t("ldm.compare.skipped", lang, reason=err.localized(lang)), None))
            yield self._table(lang, rows, pictures, None)
            return
        yield {"status": t("ldm.compare.running", lang, what="DDPM")}
        pixel = compare.pixel_run(ddpm, seed, steps)
        side = ddpm.config.image_size
        rows.append(("DDPM", t("ldm.compare.pixel", lang, name=PIXEL_MODEL, side=side, steps=steps), pixel))
        pictures.append(pixel.images)
        note = t("ldm.compare.note", lang, side=side, ratio=2 * (64 / side) ** 2)
        yield self._table(lang, rows, pictures, note)
        yield {"status": t("ldm.compare.running", lang, what="CLIP")}
        try:
            guided = compare.clip_run(prompt, str(self.pixel_models.path(PIXEL_MODEL, None)), seed, clip_steps)
        except UserError as err:   # e.g. a prompt the byte-level CLIP refuses
            rows.append(("CLIP", t("ldm.compare.skipped", lang, reason=err.localized(lang)), None))
        else:
            rows.append(("CLIP", t("ldm.compare.clip", lang, name=PIXEL_MODEL, steps=clip_steps), guided))
            pictures.append(guided.images)
        yield self._table(lang, rows, pictures, note)

    @staticmethod
    def _table(lang, rows, pictures, note) -> dict:
        seen = judge_text(np.concatenate([_at64(p) for p in pictures]), lang) if pictures else []
        lines = [t("ldm.compare.head", lang), "|---|---|---|---|---|"]
        k = 0
        for name, what, m in rows:
            if m is None:
                lines.append(f"| {name} | {what} | – | – | – |")
                continue
            lines.append(f"| {name} | {what} | {m.seconds:.2f} | {m.macs / 1e6:,.1f} M | {seen[k]} |")
            k += 1
        table = "\n".join(lines) + ("\n\n" + note if note else "")
        images = display(strip(np.concatenate([_at64(p) for p in pictures])), side=160 * len(pictures))
        return {"table": table, "images": images, "status": ""}


def _at64(images: np.ndarray) -> np.ndarray:
    """(N, s, s, C) -> (N, 64, 64, 3): grey repeated, a smaller side upscaled (nearest)."""
    if images.shape[-1] == 1:
        images = np.repeat(images, 3, -1)
    k = max(1, 64 // images.shape[1])
    return images.repeat(k, 1).repeat(k, 2) if k > 1 else images


def _pixel_models(assets_dir) -> Models | None:
    """The shipped models of PIXEL_MODEL's family (read from its config: no family named here), or None."""
    import json
    from pathlib import Path

    from engines import checkpoint

    config = Path(assets_dir or checkpoint.ASSETS_DIR) / PIXEL_MODEL / "config.json"
    try:
        family = json.loads(config.read_text())["family"]
        return Models(family, assets_dir)
    except (OSError, ValueError, KeyError, TypeError):
        return None


# --- layout: one function per sub-tab ----------------------------------------------------------------

_OUT = {"interactive": False, "format": "png", "buttons": []}


def _settings(reg, ui, prefix: str):
    with gr.Row():
        ui.guidance = widget(reg, gr.Slider, minimum=0, maximum=20, value=3.0, step=0.5, label="ldm.guidance",
                             info="ldm.guidance.info", elem_id=f"{prefix}-guidance")
        ui.steps = widget(reg, gr.Slider, minimum=1, maximum=MAX_STEPS_UI, value=DEFAULT_STEPS, step=1,
                          label="ldm.steps", elem_id=f"{prefix}-steps")
    with gr.Row():
        ui.seed = widget(reg, gr.Number, value=0, precision=0, minimum=0, maximum=2**32 - 1, label="ldm.seed",
                         elem_id=f"{prefix}-seed")
        ui.n = widget(reg, gr.Slider, minimum=1, maximum=4, value=4, step=1, label="ldm.n", elem_id=f"{prefix}-n")


def _generate_tab(reg):
    with widget(reg, gr.Tab, label="ldm.sub.generate", id="ldm-generate", elem_id="ldm-tab-generate"):
        ui = SimpleNamespace(run=gr.State(None))
        with gr.Row(equal_height=False):
            with gr.Column(scale=2, min_width=320):
                ui.prompt = widget(reg, gr.Textbox, label="ldm.prompt", info="ldm.prompt.info", lines=2, max_lines=4,
                                   placeholder="ldm.prompt.placeholder", value=example_prompts()[0],
                                   max_length=MAX_PROMPT_CHARS, elem_id="ldm-prompt")
                ui.note = gr.Markdown(elem_id="ldm-note")
                ui.examples = widget(reg, gr.Dataset, components=[ui.prompt], label="ldm.examples",
                                     samples=[[p] for p in example_prompts()], type="index",
                                     elem_id="ldm-examples")
                with widget(reg, gr.Accordion, label="ldm.vocab", open=False, elem_id="ldm-vocab-box"):
                    ui.vocab = gr.Markdown(elem_id="ldm-vocab")
                _settings(reg, ui, "ldm")
                with gr.Row():
                    ui.go = widget(reg, gr.Button, text="ldm.run", variant="primary", elem_id="ldm-run")
                    ui.stop = widget(reg, gr.Button, text="ldm.stop", variant="stop", elem_id="ldm-stop")
                ui.status = widget(reg, gr.Markdown, text="ldm.status.idle", elem_id="ldm-status")
            with gr.Column(scale=3, min_width=480):
                ui.pipeline = widget(reg, gr.Image, label="ldm.pipeline", elem_id="ldm-pipeline", **_OUT)
                with gr.Row():
                    ui.scrub = widget(reg, gr.Slider, minimum=0, maximum=DEFAULT_STEPS - 1, value=0, step=1,
                                      label="ldm.scrub", elem_id="ldm-scrub", scale=3)
                    ui.image_pick = widget(reg, gr.Slider, minimum=0, maximum=3, value=0, step=1,
                                           label="ldm.image_pick", elem_id="ldm-image-pick", scale=1)
                ui.attention = widget(reg, gr.Image, label="ldm.attention", elem_id="ldm-attention", **_OUT)
                ui.images = widget(reg, gr.Image, label="ldm.images", elem_id="ldm-images", height=180, **_OUT)
    return ui


def _compare_tab(reg):
    with widget(reg, gr.Tab, label="ldm.sub.compare", id="ldm-compare", elem_id="ldm-tab-compare"):
        widget(reg, gr.Markdown, text="ldm.compare.help")
        ui = SimpleNamespace()
        with gr.Row():
            ui.clip_steps = widget(reg, gr.Slider, minimum=1, maximum=100, value=DEFAULT_CLIP_STEPS, step=1,
                                   label="ldm.compare.clip_steps", elem_id="ldm-compare-clip-steps")
            ui.go = widget(reg, gr.Button, text="ldm.compare.run", variant="primary", elem_id="ldm-compare-run")
        ui.status = gr.Markdown(elem_id="ldm-compare-status")
        ui.images = widget(reg, gr.Image, label="ldm.compare.images", elem_id="ldm-compare-images", height=180, **_OUT)
        ui.table = gr.Markdown(elem_id="ldm-compare-table")
    return ui


def _explain_tab(reg):
    with widget(reg, gr.Tab, label="ldm.sub.explain", id="ldm-explain", elem_id="ldm-tab-explain"):
        widget(reg, gr.Markdown, text="ldm.explain.body", latex_delimiters=LATEX_DELIMITERS, elem_id="ldm-explain")


# --- wiring ----------------------------------------------------------------------------------------------

def _wire_generate(form, h, top, gen):
    inputs = {"model": top.model, "run": gen.run, "prompt": gen.prompt, "guidance": gen.guidance,
              "steps": gen.steps, "seed": gen.seed, "n": gen.n}
    outputs = {"run": gen.run, "status": gen.status, "pipeline": gen.pipeline, "attention": gen.attention,
               "images": gen.images, "scrub": gen.scrub, "image_pick": gen.image_pick}
    gr.on([gen.go.click, gen.prompt.submit], *form(h.generate, inputs, outputs), api_name="ldm_generate",
          show_progress="hidden", **LONG)
    gen.stop.click(h.stop, gen.run, None, api_name="ldm_stop", queue=False, show_progress="hidden")
    scrub = form(h.scrub, {"run": gen.run, "step": gen.scrub, "image": gen.image_pick},
                 {"pipeline": gen.pipeline, "attention": gen.attention, "status": gen.status})
    gr.on([gen.scrub.change, gen.image_pick.change], *scrub, api_name="ldm_scrub", trigger_mode="always_last",
          show_progress="hidden", **COMPUTE)
    note = form(h.note, {"model": top.model, "prompt": gen.prompt}, {"note": gen.note})
    gen.prompt.change(*note, api_name="ldm_note", trigger_mode="always_last", show_progress="hidden", **COMPUTE)
    gen.examples.click(lambda i: example_prompts()[int(i)] if isinstance(i, int) else gr.skip(), gen.examples,
                       gen.prompt, queue=False, show_progress="hidden", **PRIVATE)


def _wire_compare(form, h, top, gen, cmp):
    inputs = {"model": top.model, "prompt": gen.prompt, "guidance": gen.guidance, "steps": gen.steps,
              "seed": gen.seed, "clip_steps": cmp.clip_steps}
    cmp.go.click(*form(h.compare, inputs, {"status": cmp.status, "table": cmp.table, "images": cmp.images}),
                 api_name="ldm_compare", show_progress="hidden", **LONG)


def _wire_session(ctx, form, h, top, gen):
    ev = form(h.opened, {"model": top.model, "prompt": gen.prompt},
              {"card": top.card, "vocab": gen.vocab, "note": gen.note})
    top.model.change(*ev, api_name="ldm_model", **QUIET)
    ctx.opening.event(*ev, **QUIET, **PRIVATE)
    top.upload_files.upload(*form(h.upload, {"files": top.upload_files}, {
        "uploads": ctx.uploads, "model": top.model, "status": top.upload_status, "files": top.upload_files}),
        api_name="ldm_upload", **QUIET)
    relabel = form(h.relabel_models, {"model": top.model}, {"model": top.model})
    ctx.uploads.change(*relabel, **QUIET, **PRIVATE)
    ctx.after_lang(tuple(ev))
    ctx.after_lang(tuple(relabel), always=True)


def build(ctx: AppContext) -> None:
    """Lay out the latent diffusion tab inside the current gr.Tabs and wire every event."""
    reg = ctx.reg
    models = Models(FAMILY, ctx.assets_dir)
    h = LdmHandlers(models, _pixel_models(ctx.assets_dir))
    top = SimpleNamespace()
    with widget(reg, gr.Tab, label="ldm.tab", id="ldm", elem_id="ldm-tab") as tab:
        ctx.open_tab(tab)
        widget(reg, gr.Markdown, text="ldm.intro", elem_id="ldm-intro")
        row = model_row(reg, "ldm", models.choices({}, reg.lang), models.default(DEFAULT_MODEL))
        top.model, top.card, top.upload_files, top.upload_status = row
        links.copy_row(reg, "ldm")  # a link that opens this view (demo/links.py)
        with gr.Tabs(elem_id="ldm-subtabs"), ctx.sub_tabs():
            gen = _generate_tab(reg)
            cmp = _compare_tab(reg)
            _explain_tab(reg)
    form = Form(ctx.lang, uploads=ctx.uploads)
    _wire_generate(form, h, top, gen)
    _wire_compare(form, h, top, gen, cmp)
    _wire_session(ctx, form, h, top, gen)
