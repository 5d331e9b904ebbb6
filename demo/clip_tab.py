"""The CLIP tab: an image steered toward a text prompt by CLIP's gradient, streamed step by step with
its CLIP score; zero-shot similarity bars of any image against captions the user edits ("What CLIP
sees"); and an explanation.

`build(ctx)` lays the widgets out and wires them; the handlers live on `ClipHandlers`. Each takes the
session language first, then (where it needs them) the session's uploads (CLIP checkpoints it uploaded,
as {"clip": {name: folder}}) and its `Runs` (a gr.State: this browser session's runs, never shared), then
widget values. Building the app loads no model: engines.clip imports open_clip only when it builds one.
"""

from __future__ import annotations

import json
import math
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace

import gradio as gr
import numpy as np
import pandas as pd

from engines import checkpoint, clip, families, runtime
from engines.clip.backends import BACKEND_CHOICES, parse_pretrained
from engines.clip.guide import (
    GENERATOR_KINDS,
    MAX_AUGMENT,
    MAX_CANDIDATES,
    MAX_STEPS,
    PIXEL_SIZES,
)
from engines.errors import UserError

from . import links
from . import clip_plots as plots
from . import i18n_clip
from .common import (
    COMPUTE,
    LONG,
    PRIVATE,
    QUIET,
    AppContext,
    add_upload,
    card_split,
    display,
    session_label,
    warn,
)
from .forms import Form, widget
from .i18n import LATEX_DELIMITERS, t
from .words_note import clip_note

FAMILY = "clip"
GENERATOR_FAMILIES = GENERATOR_KINDS[1:]  # every family CLIP guidance can steer (engines.families)
DEFAULT_STEPS = 100
DEFAULT_STRENGTH = 1.0
DEFAULT_AUGMENT = 4
DEFAULT_SIZE = 64           # side of a raw-pixel image (a generator has its own)
CANDIDATES = clip.DEFAULT_CANDIDATES  # images steered side by side, the best kept: each generator's default
MAX_PROMPT_CHARS = 300      # longer prompts are refused; CLIP reads only its first tokens anyway
MIN_CAPTIONS, MAX_CAPTIONS, MAX_CAPTION_CHARS = 2, 16, 120
STREAM_EVERY_S = 0.25       # at most ~4 streamed frames a second (two images and a plot each)
MAX_POINTS = 300            # per series in the score plot
SNAPSHOTS = 8               # evenly spaced steps kept for the gallery
IMAGE_SIDE = 256
SNAPSHOT_SIDE = 128
RUNS_TTL_S = 3600
SEES_SOURCES = (("clip.sees.source.run", "run"), ("clip.sees.source.current", "current"),
                ("clip.sees.source.upload", "upload"))


def _pretrained_name() -> str:
    """The open_clip model "pretrained" stands for (the default or $GENLAB_CLIP_PRETRAINED)."""
    arch, tag = parse_pretrained("pretrained")
    return f"{arch} ({tag})" if tag else arch


# --- generators ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Generator:
    """Something CLIP can steer: raw pixels or a checkpoint of a family whose spec can be guided."""

    name: str                       # the dropdown value: "pixels", a shipped folder's name, or "upload:FAMILY:NAME"
    family: str                     # "pixels" or the family's name
    folder: Path | None = None
    dataset: str = "pixels"         # what it was trained on: picks the default captions
    num_classes: int | None = None  # a class-conditional generator's classes (its spec is `conditional`)
    per_layer: bool = False         # its guidance target reads GuideSetting.per_layer (a StyleGAN's w per layer)
    sampler: bool = False           # guided through its own sampler (spec.guide_run): scores are of the predicted x_0

    @property
    def spec(self) -> str:
        """What engines.clip.GuideSetting.generator takes."""
        return "pixels" if self.folder is None else str(self.folder)

    def label(self, lang: str) -> str:
        if self.family == "pixels":
            return t("clip.gen.pixels", lang)
        name = self.name
        if name.startswith("upload:"):  # a model this session uploaded or trained, for the VAE, GAN or diffusion tab
            name = session_label(name.split(":", 2)[2], self.folder, lang)
        return t(f"clip.gen.{self.family}", lang, name=name)


def _read_json(path: Path) -> dict:
    try:
        value = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return value if isinstance(value, dict) else {}


def _generator(name: str, family: str, folder: Path) -> Generator:
    card, config = _read_json(folder / "card.json"), _read_json(folder / "config.json")
    spec = families.get(family)
    classes = config.get("num_classes") if spec.conditional else None
    return Generator(name, family, Path(folder), str(card.get("dataset") or "pixels"),
                     classes if isinstance(classes, int) and classes > 0 else None,
                     per_layer="per_layer" in getattr(spec.guide_target, "options", ()),
                     sampler=spec.guide_run is not None)


def find_generators(assets_dir: str | Path | None = None) -> dict[str, Generator]:
    """Raw pixels, then every shipped VAE, StyleGAN and DDPM, by name."""
    root = Path(assets_dir) if assets_dir is not None else checkpoint.ASSETS_DIR
    found = {"pixels": Generator("pixels", "pixels")}
    for family in GENERATOR_FAMILIES:
        for name, folder in checkpoint.list_assets(family, root=root).items():
            found[name] = _generator(name, family, Path(folder))
    return found


def uploaded_generators(uploads) -> dict[str, Generator]:
    """The VAEs, StyleGANs and DDPMs this session uploaded (in their own tabs), as "upload:FAMILY:NAME"."""
    found = {}
    for family in GENERATOR_FAMILIES:
        for name, folder in (uploads or {}).get(family, {}).items():
            key = f"upload:{family}:{name}"
            found[key] = _generator(key, family, Path(folder))
    return found


# --- session state -------------------------------------------------------------------------------


class Runs:
    """One session's CLIP runs (kept in its gr.State): the last run's frames and snapshots.

    Stop sets the run's `threading.Event`; the engine sees it within a step and yields its last frame,
    keeping the best image. (Gradio's `cancels` would kill the handler before it could show that frame.)
    Plain attributes only until a run starts, since Gradio deep-copies a session's first state.
    """

    def __init__(self):
        self.frame = None            # the last GuideFrame of the last run
        self.snapshots: list[tuple[int, np.ndarray, float]] = []  # (step, image, score)
        self.setting = None          # its GuideSetting
        self.backend_name = ""
        self.elapsed_s = 0.0
        self.stopped = False
        self.stop_event: threading.Event | None = None
        self.generator: Generator | None = None  # what the last run steered

    def __deepcopy__(self, memo):
        return Runs()


# --- small helpers -------------------------------------------------------------------------------


def _whole(value):
    """A float that is a whole number -> int; anything else unchanged (the engine checks it)."""
    if isinstance(value, float) and math.isfinite(value) and value.is_integer():
        return int(value)
    return value


def _number(value):
    """A JSON number (or a numeric string) -> float; anything else unchanged (the engine checks it)."""
    if isinstance(value, str):
        try:
            return float(value.strip())
        except ValueError:
            return value
    return value


def _prompt(text, *, required: bool) -> str:
    text = "" if text is None else str(text).strip()
    if len(text) > MAX_PROMPT_CHARS:
        raise UserError("clip_tab_prompt_too_long", n=len(text), max=MAX_PROMPT_CHARS)
    if required and not text:
        raise UserError("clip_prompt_empty")
    return text


def parse_captions(text) -> list[str]:
    """One caption per line (blank lines dropped) -> a list; a clear UserError when unusable."""
    lines = [line.strip() for line in str(text or "").splitlines()]
    lines = [line for line in lines if line]
    if not MIN_CAPTIONS <= len(lines) <= MAX_CAPTIONS or any(len(line) > MAX_CAPTION_CHARS for line in lines):
        longest = max((len(line) for line in lines), default=0)
        raise UserError("clip_tab_captions", count=len(lines), min=MIN_CAPTIONS, max=MAX_CAPTIONS,
                        chars=MAX_CAPTION_CHARS, longest=longest)
    return lines


def _short(text: str, n: int = 60) -> str:
    return text if len(text) <= n else text[: n - 1] + "…"


def _snapshot_steps(total: int) -> set[int]:
    return {int(s) for s in np.unique(np.round(np.linspace(0, total, min(SNAPSHOTS, total + 1))))}


# --- handlers ------------------------------------------------------------------------------------


class ClipHandlers:
    """Event handlers; each returns display-ready values."""

    def __init__(self, generators: dict[str, Generator], assets_dir=None):
        self.generators = generators
        self.assets_dir = Path(assets_dir) if assets_dir is not None else None
        # The prompt Textbox: a Dataset of examples made inside an event needs a built component
        # (a component named by string cannot be created there).
        self.prompt_box = None

    # --- lookups ---------------------------------------------------------------------------------

    def all_generators(self, uploads=None) -> dict[str, Generator]:
        return {**self.generators, **uploaded_generators(uploads)}

    def generator(self, name, uploads=None) -> Generator:
        found = self.all_generators(uploads).get(str(name or ""))
        if found is None:
            raise UserError("clip_tab_generator_unknown", name=name, available=", ".join(self.all_generators(uploads)))
        return found

    def backend_spec(self, value, uploads=None) -> str:
        """A backend radio value -> what engines.clip.load_backend takes; "upload:NAME" is a CLIP
        checkpoint this session uploaded."""
        value = str(value or "")
        if value.startswith("upload:"):
            folder = (uploads or {}).get(FAMILY, {}).get(value[len("upload:"):])
            if folder is not None:
                return str(folder)
        elif value in BACKEND_CHOICES:
            if value == "genlab" and self.assets_dir is not None and (self.assets_dir / "genlab-clip").is_dir():
                return str(self.assets_dir / "genlab-clip")  # an app started with --assets-dir uses its CLIP
            return value
        available = ", ".join(v for _, v in self.backend_choices("en", uploads))
        raise UserError("clip_tab_backend_unknown", value=value, available=available)

    def backend(self, value, uploads=None):
        return clip.load_backend(self.backend_spec(value, uploads))

    @staticmethod
    def backend_choices(lang: str, uploads=None) -> list[tuple[str, str]]:
        out = [(t("clip.backend.genlab", lang), "genlab"), (t("clip.backend.pretrained", lang), "pretrained")]
        for name, folder in (uploads or {}).get(FAMILY, {}).items():
            out.append((session_label(name, folder, lang), "upload:" + name))
        return out

    def generator_choices(self, lang: str, uploads=None) -> list[tuple[str, str]]:
        return [(g.label(lang), name) for name, g in self.all_generators(uploads).items()]

    def examples(self, lang: str) -> list[tuple[str, str]]:
        return [(p, g) for p, g in i18n_clip.EXAMPLES["zh" if lang == "zh" else "en"] if g in self.generators]

    def default_captions(self, lang: str, generator, uploads=None) -> str:
        g = self.all_generators(uploads).get(str(generator or ""))
        by_lang = i18n_clip.CAPTIONS.get(g.dataset if g is not None else "pixels", i18n_clip.CAPTIONS["pixels"])
        return "\n".join(by_lang["zh" if lang == "zh" else "en"])

    @staticmethod
    def _is_default(captions) -> bool:
        """True for an empty box or any untouched default list (any data set, any language)."""
        lines = [line.strip() for line in str(captions or "").splitlines() if line.strip()]
        return not lines or any(lines == by_lang[lang] for by_lang in i18n_clip.CAPTIONS.values() for lang in by_lang)

    @staticmethod
    def label_choices(g: Generator, lang: str) -> list[tuple[str, str]]:
        return [(t("clip.label.none", lang), "none"), *((str(k), str(k)) for k in range(g.num_classes or 0))]

    # --- backend card ----------------------------------------------------------------------------

    def card(self, lang, v):
        """The selected CLIP's model card. The pretrained model is not loaded for this."""
        if v.backend == "pretrained":
            return t("clip.card.pretrained", lang, name=_pretrained_name())
        return format_card(self.backend(v.backend, v.uploads), lang)

    def upload(self, lang, v):
        """A CLIP checkpoint (e.g. one retrained in the training tab) for this session only."""
        try:
            name, b, uploads = add_upload(v.files, v.uploads, FAMILY)
        except UserError as err:
            return {"status": warn(err, lang), "files": None}
        return {"uploads": uploads,
                "backend": gr.update(choices=self.backend_choices(lang, uploads), value="upload:" + name),
                "status": t("clip.upload.done", lang, name=name, side=b.image_size), "files": None}

    # --- generation ------------------------------------------------------------------------------

    def setting(self, v) -> clip.GuideSetting:
        """The generate event's named values -> a checked engines.clip.GuideSetting (check_setting checks
        the numbers; no candidates: the generator's default)."""
        g = self.generator(v.generator, v.uploads)
        label = None if v.label in (None, "", "none") or g.num_classes is None else _whole(_number(v.label))
        if label is not None and (not isinstance(label, int) or not 0 <= label < g.num_classes):
            raise UserError("clip_tab_label", value=label, high=g.num_classes - 1)
        size = DEFAULT_SIZE if v.size is None else v.size
        s = clip.GuideSetting(prompt=_prompt(v.prompt, required=True), negative=_prompt(v.negative, required=False),
                              generator=g.spec, steps=v.steps, strength=v.strength, seed=_number(v.seed),
                              augment=v.augment, label=label, size=size if g.family == "pixels" else DEFAULT_SIZE,
                              per_layer=bool(v.per_layer) and g.per_layer,
                              candidates=CANDIDATES[g.family] if v.candidates is None else _number(v.candidates))
        return clip.check_setting(s)

    @staticmethod
    def describe(setting, g: Generator | None, backend_name: str, lang: str) -> str:
        text = t("clip.setting", lang, prompt=_short(setting.prompt, 50), backend=backend_name, seed=setting.seed,
                 generator=g.label(lang) if g is not None else setting.generator)
        if setting.negative:
            text += " · " + t("clip.setting.negative", lang, negative=_short(setting.negative, 40))
        if setting.candidates > 1:
            text += " · " + t("clip.setting.candidates", lang, k=setting.candidates)
        return text

    def generate(self, lang, v, progress=gr.Progress()):  # noqa: B008 (Gradio's progress bar)
        """Stream the image, the best image so far and the CLIP score plot; then the snapshots."""
        setting = self.setting(v)
        runs = v.runs if isinstance(v.runs, Runs) else Runs()
        b = yield from self._load_backend(lang, v)
        self._warn_prompt(b, setting, lang)
        stop = threading.Event()
        runs.stop_event, runs.stopped = stop, False
        runs.frame, runs.snapshots, runs.setting, runs.backend_name = None, [], setting, b.name
        runs.generator = self.generator(v.generator, v.uploads)
        yield from self._stream(lang, runs, clip.guide(b, setting, stop=stop), progress)
        frame = runs.frame
        if frame is None:  # the engine yields at least one frame; keep the screen as it is otherwise
            return
        runs.stopped = frame.stopped or frame.step < frame.total
        if frame.warning is not None:  # the run ended early on its own (e.g. a non-finite score)
            gr.Warning(frame.warning.localized(lang), title=t("error.title", lang))
        if not runs.snapshots or runs.snapshots[-1][0] != frame.step:
            runs.snapshots.append((frame.step, frame.image, frame.score))
        yield {**self._frame_view(runs, lang, running=False), "gallery": self._gallery(runs, lang)}

    def _load_backend(self, lang, v):
        """The CLIP to steer with (a generator: it yields the status while a large one loads)."""
        if v.backend == "pretrained":  # the first load of a large CLIP can take a while: say so
            yield {"status": t("clip.status.loading", lang, backend=_pretrained_name())}
        try:
            return self.backend(v.backend, v.uploads)
        except UserError as err:  # e.g. the pretrained CLIP offline: the status says so too, not "Loading"
            yield {"status": "⚠️ " + err.localized(lang)}
            raise

    def _stream(self, lang, runs, guide, progress):
        """The run's frames, stepped on the engine's compute thread (one OpenMP team, whichever pool
        thread resumes us), shown every STREAM_EVERY_S; snapshots kept in `runs`."""
        keep = _snapshot_steps(runs.setting.steps)
        t0, last, shown = time.perf_counter(), 0.0, False
        frames = runtime.stepped(guide)
        try:
            for frame in frames:
                runs.frame = frame
                runs.elapsed_s = time.perf_counter() - t0
                if frame.step in keep and not frame.done:
                    runs.snapshots.append((frame.step, frame.image, frame.score))
                if frame.done:
                    break
                now = time.perf_counter()
                if frame.step <= 1 or now - last >= STREAM_EVERY_S:
                    last = now
                    progress((frame.step, frame.total), desc=t("clip.progress", lang), unit="steps")
                    # the first frame clears the last run's snapshots; later ones leave the gallery alone
                    yield {**self._frame_view(runs, lang, running=True), **({} if shown else {"gallery": None})}
                    shown = True
        finally:
            frames.close()

    def _frame_view(self, runs: Runs, lang: str, *, running: bool) -> dict:
        f = runs.frame
        return {"runs": runs, "status": self._status(runs, lang, running=running),
                "image": display(f.image, IMAGE_SIDE), "best": display(f.best_image, IMAGE_SIDE),
                "plot": score_frame(f.scores, f.total, lang)}

    @staticmethod
    def _warn_prompt(b, setting, lang: str) -> None:
        """A warning (not an error) where CLIP will read less than the prompt says."""
        for text in (setting.prompt, setting.negative):
            if text and b.truncated(text):
                gr.Warning(t("clip.status.truncated", lang, tokens=b.context_length))
        if b.kind == "pretrained" and any("\u4e00" <= ch <= "\u9fff" for ch in setting.prompt):
            gr.Warning(t("clip.warn.pretrained_zh", lang))

    @staticmethod
    def stop(runs):
        """The Stop button: the running handler ends its run; the engine keeps the best image."""
        if isinstance(runs, Runs) and runs.stop_event is not None:
            runs.stop_event.set()

    def _status(self, runs: Runs, lang: str, *, running: bool) -> str:
        f = runs.frame
        desc = self.describe(runs.setting, runs.generator, runs.backend_name, lang)
        s = runs.elapsed_s
        if running:
            text = t("clip.status.running", lang, step=f.step, total=f.total, score=f.score, best=f.best_score,
                     s=s, setting=desc)
            x0 = runs.generator is not None and runs.generator.sampler
            return text + (" · " + t("clip.status.x0", lang) if x0 else "")
        best_step = _best_step(f)
        if runs.stopped:
            return t("clip.status.stopped", lang, step=f.step, total=f.total, s=s, best=f.best_score,
                     best_step=best_step, setting=desc)
        first = f.scores[0] if f.scores else f.score
        return t("clip.status.done", lang, total=f.total, s=s, sps=f.total / s if s > 0 else 0.0, first=first,
                 best=f.best_score, best_step=best_step, setting=desc)

    @staticmethod
    def _gallery(runs: Runs, lang: str) -> list[tuple[np.ndarray, str]]:
        f = runs.frame
        out = [(display(img, SNAPSHOT_SIDE), t("clip.gallery.caption", lang, step=step, score=score))
               for step, img, score in runs.snapshots]
        out.append((display(f.best_image, SNAPSHOT_SIDE),
                    t("clip.gallery.best", lang, step=_best_step(f), score=f.best_score)))
        return out

    def run_texts(self, lang, v):
        """After a language switch: the status, the plot and the gallery captions of the stored run."""
        runs = v.runs
        if not isinstance(runs, Runs) or runs.frame is None or not runs.frame.done:
            return {}
        f = runs.frame
        return {"status": self._status(runs, lang, running=False), "plot": score_frame(f.scores, f.total, lang),
                "gallery": self._gallery(runs, lang)}

    # --- what CLIP sees --------------------------------------------------------------------------

    def sees(self, lang, v):
        """Zero-shot bars of the run's best (or current) image, or an uploaded one, against the captions."""
        from engines import data

        texts = parse_captions(v.captions)
        if v.source == "upload":
            if not v.upload:
                raise UserError("image_missing")
            image = data.decode_image(v.upload)
        else:
            if not isinstance(v.runs, Runs) or v.runs.frame is None:
                raise UserError("clip_tab_no_run")
            image = v.runs.frame.image if v.source == "current" else v.runs.frame.best_image
        b = self.backend(v.backend, v.uploads)
        out = b.similarity(image[None], texts)
        cos, probs = np.asarray(out["cosine"])[0], np.asarray(out["probs"])[0]
        top = int(np.argmax(probs))
        summary = t("clip.sees.summary", lang, backend=b.name, caption=texts[top], p=float(probs[top]),
                    cos=float(cos[top]))
        h, w = image.shape[:2]
        if (h, w) != (b.image_size, b.image_size):
            summary += "\n\n" + t("clip.sees.converted", lang, w=w, h=h, side=b.image_size)
        return {"image": display(image, IMAGE_SIDE), "bars": plots.similarity_bars(texts, probs, cos, lang),
                "text": summary}

    def sees_after_run(self, lang, v):
        """After a run: the bars for its best (or current) image, unless the user looks at an upload."""
        if v.source == "upload" or not isinstance(v.runs, Runs) or v.runs.frame is None:
            return {}
        try:
            return self.sees(lang, v)
        except UserError:  # e.g. captions being edited: the Compare button reports it
            return {}

    # --- widgets that follow each other ----------------------------------------------------------

    def generator_changed(self, lang, v):
        """A class dropdown for a class-conditional DDPM, the size for pixels, per-layer w for a StyleGAN;
        captions that fit the generator's data (if the user has not edited them)."""
        g = self.generator(v.generator, v.uploads)
        out = {"label": gr.update(choices=self.label_choices(g, lang), value="none", visible=g.num_classes is not None),
               "size": gr.update(visible=g.family == "pixels"), "per_layer": gr.update(visible=g.per_layer),
               "candidates": gr.update(value=CANDIDATES[g.family])}
        if self._is_default(v.captions):
            out["captions"] = self.default_captions(lang, g.name, v.uploads)
        return out

    def example(self, lang, v):
        """An example prompt clicked: the prompt and the generator that fits it."""
        examples = self.examples(lang)
        try:
            prompt, generator = examples[int(v.index)]
        except (TypeError, ValueError, IndexError):
            return {}
        return {"prompt": prompt, "generator": generator}

    def reset_captions(self, lang, v):
        return self.default_captions(lang, v.generator, v.uploads)

    def refresh_generators(self, lang, v):
        """Opening the tab: the generators now include what this session uploaded in the other tabs."""
        return self._generator_list(lang, v.uploads, v.generator)

    def _generator_list(self, lang, uploads, generator):
        choices = self.generator_choices(lang, uploads)
        value = generator if any(c == generator for _, c in choices) else "pixels"
        return gr.update(choices=choices, value=value)

    def refresh_lists(self, lang, v):
        """The session's models changed (an upload here or in another tab, a model kept in the Train
        tab): redraw the CLIP and generator lists, keeping the choices that still exist."""
        backends = self.backend_choices(lang, v.uploads)
        backend = v.backend if any(c == v.backend for _, c in backends) else "genlab"
        return {"backend": gr.update(choices=backends, value=backend),
                "generator": self._generator_list(lang, v.uploads, v.generator)}

    def texts(self, lang, v):
        """After a language switch: CLIP and generator names, class names, examples, untouched captions."""
        g = self.all_generators(v.uploads).get(str(v.generator or ""))
        out = {"backend": gr.update(choices=self.backend_choices(lang, v.uploads), value=v.backend),
               "generator": gr.update(choices=self.generator_choices(lang, v.uploads), value=v.generator)}
        if g is not None:
            out["label"] = gr.update(choices=self.label_choices(g, lang), value=v.label)
        if self.prompt_box is not None:
            out["examples"] = gr.Dataset(components=[self.prompt_box], samples=[[p] for p, _ in self.examples(lang)])
        captions_fit = self._is_default(v.captions)  # the user's own captions stay
        out["captions"] = self.default_captions(lang, v.generator, v.uploads) if captions_fit else gr.skip()
        return out


def score_rows(scores: list[float], lang: str) -> pd.DataFrame:
    """The score plot's data: the CLIP score at every step and the best so far, at most MAX_POINTS each."""
    ys = np.asarray(scores, dtype=np.float64)
    stride = max(1, math.ceil(len(ys) / MAX_POINTS))
    steps = np.arange(len(ys))[::stride]
    if len(ys) and steps[-1] != len(ys) - 1:
        steps = np.append(steps, len(ys) - 1)
    finite = np.where(np.isfinite(ys), ys, -np.inf)
    best = np.maximum.accumulate(finite) if len(ys) else finite
    rows = pd.DataFrame({
        "step": np.concatenate([steps, steps]).astype(np.int64),
        "score": np.concatenate([ys[steps], best[steps]]),
        "series": [t("clip.plot.score", lang)] * len(steps) + [t("clip.plot.best", lang)] * len(steps),
    })
    return rows[np.isfinite(rows["score"])].reset_index(drop=True)


def score_frame(scores: list[float], total: int, lang: str):
    """The score plot's update: its rows, the x axis spanning the whole run."""
    return gr.update(value=score_rows(scores, lang), x_lim=[0, max(int(total), 1)])


def _best_step(frame) -> int:
    """The step the best image is from. A finished diffusion run keeps its final sample."""
    scores = np.asarray(frame.scores, dtype=np.float64)
    if not len(scores) or not np.isfinite(scores).any() or frame.done and frame.best_score == frame.score:
        return frame.step
    first = frame.step + 1 - len(scores)  # scores[0] is step 0, or step 1 for diffusion (no step-0 image)
    return first + int(np.nanargmax(np.where(np.isfinite(scores), scores, -np.inf)))


def format_card(b, lang: str) -> str:
    """A GenLab CLIP's card as a small table: data, training, zero-shot accuracy."""
    card = b.card or {}
    none = t("card.none", lang)
    split = card_split(card)
    wall = card.get("total_wall_time_s", card.get("wall_time_s"))  # all runs, when it continued earlier ones
    rows = [
        (t("card.dataset", lang), card.get("dataset") or none),
        (t("card.split", lang), split or none),
        (t("card.steps", lang), card.get("total_steps", card.get("steps", none))),
        (t("card.wall", lang), f"{wall / 60:.1f} min" if isinstance(wall, (int, float)) else none),
        (t("card.hardware", lang), card.get("hardware") or none),
        (t("clip.card.image_size", lang), f"{b.image_size}×{b.image_size}"),
    ]
    metrics = card.get("zero_shot") or (card.get("metrics") or {}).get("zero_shot") or {}
    for group, value in (metrics.items() if isinstance(metrics, dict) else ()):
        rows.append((t("clip.card.zeroshot", lang, group=group), _metric_text(value)))
    body = "\n".join(f"| {k} | {str(v).replace('|', '/')} |" for k, v in rows)
    return f"**{b.name}**\n\n| | |\n|---|---|\n{body}"


def _metric_text(value, depth: int = 0) -> str:
    """{"en": {"color": 0.13, "shape": 0.2}, "zh": ...} -> 'en: color 13%, shape 20% · zh: ...'."""
    if isinstance(value, dict):
        sep = " · " if depth == 0 else ", "
        return sep.join(f"{k}: {_metric_text(v, depth + 1)}" if isinstance(v, dict) else f"{k} {_metric_text(v, depth + 1)}"
                        for k, v in value.items())
    if isinstance(value, float) and 0 <= value <= 1:
        return f"{value:.0%}"
    return str(value)


# --- layout --------------------------------------------------------------------------------------


# --- layout: one function per sub-tab, each returning the components its events need ---------------

_PIXELS = {"interactive": False, "format": "png", "elem_classes": ["out-image", "pixelated"]}


def _slider(reg, key, elem_id, low, high, value, step, **kwargs):
    return widget(reg, gr.Slider, minimum=low, maximum=high, value=value, step=step, label=key, info=key + ".info",
                  elem_id=elem_id, **kwargs)


def _header(reg, h, lang):
    """The backend choice, its card and the upload box."""
    ui = SimpleNamespace()
    with gr.Row(equal_height=False):
        # choices are translated by h.texts (they include this session's uploads), not the Registry
        ui.backend = widget(reg, gr.Radio, choices=h.backend_choices(lang), value="genlab", label="clip.backend",
                            info="clip.backend.info", elem_id="clip-backend", scale=3)
        with gr.Column(scale=2, min_width=280):
            with widget(reg, gr.Accordion, label="clip.card.title", open=False, elem_id="clip-card-box"):
                ui.card = gr.Markdown(elem_id="clip-card")
            with widget(reg, gr.Accordion, label="clip.upload", open=False, elem_id="clip-upload-box"):
                ui.upload_files = widget(reg, gr.File, file_count="multiple", label="model.upload.file",
                                         elem_id="clip-upload")
                widget(reg, gr.Markdown, text="clip.upload.note")
                ui.upload_status = gr.Markdown(elem_id="clip-upload-status")
    return ui


def _prompt_controls(reg, h, lang, ui, default_gen):
    ui.prompt = widget(reg, gr.Textbox, label="clip.prompt", info="clip.prompt.info",
                       placeholder="clip.prompt.placeholder", lines=2, max_lines=4, elem_id="clip-prompt")
    ui.negative = widget(reg, gr.Textbox, label="clip.negative", info="clip.negative.info", lines=1, max_lines=2,
                         elem_id="clip-negative")
    ui.words = gr.Markdown(clip_note("", "genlab", default_gen, lang), elem_id="clip-words-note")  # issue 20
    h.prompt_box = ui.prompt
    ui.examples = widget(reg, gr.Dataset, components=[ui.prompt], samples=[[p] for p, _ in h.examples(lang)],
                         type="index", label="clip.examples", elem_id="clip-examples", samples_per_page=12)
    ui.generator = widget(reg, gr.Dropdown, choices=h.generator_choices(lang), value=default_gen,
                          label="clip.generator", info="clip.generator.info", elem_id="clip-generator")
    ui.label = widget(reg, gr.Dropdown, choices=h.label_choices(h.generators[default_gen], lang), value="none",
                      label="clip.label", elem_id="clip-label", visible=False)
    ui.size = _slider(reg, "clip.size", "clip-size", *PIXEL_SIZES, DEFAULT_SIZE, 8)
    ui.per_layer = widget(reg, gr.Checkbox, value=False, label="clip.per_layer", info="clip.per_layer.info",
                          elem_id="clip-per-layer", visible=False)
    first_k = CANDIDATES[h.generators[default_gen].family]
    ui.candidates = _slider(reg, "clip.candidates", "clip-candidates", 1, MAX_CANDIDATES, first_k, 1)
    ui.steps = _slider(reg, "clip.steps", "clip-steps", 1, MAX_STEPS, DEFAULT_STEPS, 1)
    ui.strength = _slider(reg, "clip.strength", "clip-strength", 0.1, 10, DEFAULT_STRENGTH, 0.1)
    with gr.Row():
        ui.augment = _slider(reg, "clip.augment", "clip-augment", 0, MAX_AUGMENT, DEFAULT_AUGMENT, 1, scale=3,
                             min_width=200)
        ui.seed = widget(reg, gr.Number, value=0, precision=0, minimum=0, maximum=2**32 - 1, label="clip.seed",
                         elem_id="clip-seed", scale=1, min_width=110)
    with gr.Row():
        ui.generate = widget(reg, gr.Button, text="clip.generate", variant="primary", elem_id="clip-generate")
        ui.stop = widget(reg, gr.Button, text="clip.stop", variant="stop", elem_id="clip-stop")


def _generate_tab(reg, h, lang, default_gen):
    with widget(reg, gr.Tab, label="clip.sub.generate", id="clip-generate", elem_id="clip-tab-generate"):
        ui = SimpleNamespace()
        with gr.Row(equal_height=False):
            with gr.Column(scale=2, min_width=320):
                _prompt_controls(reg, h, lang, ui, default_gen)
            with gr.Column(scale=3, min_width=480):
                ui.status = widget(reg, gr.Markdown, text="clip.status.idle", elem_id="clip-status")
                with gr.Row(equal_height=True):
                    ui.image = widget(reg, gr.Image, label="clip.image", elem_id="clip-image", height=290,
                                      buttons=["download"], **_PIXELS)
                    ui.best = widget(reg, gr.Image, label="clip.best", elem_id="clip-best", height=290,
                                     buttons=["download"], **_PIXELS)
                # drawn in the browser from (step, score) rows: cheap to stream several times a second.
                # No initial rows: a LinePlot that starts from an empty DataFrame draws no lines later.
                ui.plot = widget(reg, gr.LinePlot, value=None, x="step", y="score", color="series",
                                 x_title="clip.plot.x", y_title="clip.plot.y", color_title="clip.plot.series",
                                 label="clip.plot", elem_id="clip-plot")  # no height: a fixed one clips the legend
        ui.gallery = widget(reg, gr.Gallery, label="clip.gallery", elem_id="clip-gallery", columns=9, height="auto",
                            object_fit="contain", format="png", interactive=False, elem_classes=["pixelated"])
    return ui


def _sees_tab(reg, h, lang, default_gen):
    with widget(reg, gr.Tab, label="clip.sub.sees", id="clip-sees", elem_id="clip-tab-sees"):
        widget(reg, gr.Markdown, text="clip.sees.help")
        ui = SimpleNamespace()
        with gr.Row(equal_height=False):
            with gr.Column(scale=2, min_width=300):
                ui.source = widget(reg, gr.Radio, choice_keys=list(SEES_SOURCES), value="run",
                                   label="clip.sees.source", elem_id="clip-sees-source")
                # gr.File, not gr.Image: the engine decodes the file itself, so a text file or a
                # broken image gets its clear message instead of a failed upload.
                ui.upload = widget(reg, gr.File, file_count="single", type="filepath", height=90,
                                   label="clip.sees.upload", elem_id="clip-sees-upload", visible=False)
                ui.captions = widget(reg, gr.Textbox, value=h.default_captions(lang, default_gen), lines=8,
                                     max_lines=16, label="clip.sees.captions", info="clip.sees.captions.info",
                                     elem_id="clip-captions")
                with gr.Row():
                    ui.defaults = widget(reg, gr.Button, text="clip.sees.defaults", elem_id="clip-captions-reset",
                                         size="sm")
                    ui.run = widget(reg, gr.Button, text="clip.sees.run", variant="primary", elem_id="clip-sees-run")
            with gr.Column(scale=3, min_width=480):
                with gr.Row(equal_height=False):
                    ui.image = widget(reg, gr.Image, label="clip.sees.image", elem_id="clip-sees-image", height=250,
                                      buttons=[], scale=1, min_width=200, **_PIXELS)
                    ui.bars = widget(reg, gr.Image, label="clip.sees.bars", elem_id="clip-sees-bars",
                                     interactive=False, format="png", buttons=["download"], scale=2, min_width=360,
                                     elem_classes=["out-image", "plot-image"])
                ui.text = gr.Markdown(elem_id="clip-sees-text")
    return ui


def _explain_tab(reg):
    with widget(reg, gr.Tab, label="clip.sub.explain", id="clip-explain", elem_id="clip-tab-explain"):
        widget(reg, gr.Markdown, text="clip.explain.body", latex_delimiters=LATEX_DELIMITERS, elem_id="clip-explain")


# --- wiring ---------------------------------------------------------------------------------------


def _wire_models(ctx, form, h, top, tab, gen, sees):
    """The card, uploads, the generator list and the examples."""
    card = form(h.card, {"backend": top.backend}, top.card)
    ctx.opening.event(*card, **QUIET, **PRIVATE)
    top.backend.change(*card, api_name="clip_card", **QUIET)
    top.upload_files.upload(*form(h.upload, {"files": top.upload_files}, {
        "uploads": ctx.uploads, "backend": top.backend, "status": top.upload_status, "files": top.upload_files}),
        api_name="clip_upload", **QUIET)
    quick = {"queue": False, "show_progress": "hidden"}
    tab.select(*form(h.refresh_generators, {"generator": gen.generator}, gen.generator), **quick, **PRIVATE)
    ctx.uploads.change(*form(h.refresh_lists, {"backend": top.backend, "generator": gen.generator},
                             {"backend": top.backend, "generator": gen.generator}), **quick, **PRIVATE)
    gen.generator.change(*form(h.generator_changed, {"generator": gen.generator, "captions": sees.captions}, {
        "label": gen.label, "size": gen.size, "per_layer": gen.per_layer, "candidates": gen.candidates,
        "captions": sees.captions}), api_name="clip_generator", **quick)
    gen.examples.click(*Form(ctx.lang)(h.example, {"index": gen.examples},
                                       {"prompt": gen.prompt, "generator": gen.generator}),
                       api_name="clip_example", **quick)


def _wire_runs(form, h, runs, top, gen, sees):
    """Generate streams; Stop ends the run after the step in progress and keeps the best image.
    preprocess=False: plain JSON values, checked by the handler and the engine, so NaN or 10^6 steps
    sent through the API get a message in the session's language instead of Gradio's English
    bounds check. What CLIP sees follows each run, or its own button."""
    sees_in = {"runs": runs, "backend": top.backend, "source": sees.source, "upload": sees.upload,
               "captions": sees.captions}
    sees_out = {"image": sees.image, "bars": sees.bars, "text": sees.text}
    generate = form(h.generate, {"runs": runs, "prompt": gen.prompt, "negative": gen.negative, "backend": top.backend,
                                 "generator": gen.generator, "steps": gen.steps, "strength": gen.strength,
                                 "seed": gen.seed, "augment": gen.augment, "label": gen.label, "size": gen.size,
                                 "per_layer": gen.per_layer, "candidates": gen.candidates},
                    {"runs": runs, "status": gen.status, "image": gen.image, "best": gen.best, "plot": gen.plot,
                     "gallery": gen.gallery})
    run = gr.on([gen.generate.click, gen.prompt.submit], *generate, api_name="clip_generate", show_progress="full",
                show_progress_on=[gen.plot], preprocess=False, **LONG)
    run.success(*form(h.sees_after_run, sees_in, sees_out), **QUIET, **PRIVATE)
    gen.stop.click(h.stop, runs, None, api_name="clip_stop", queue=False, show_progress="hidden")

    sees.source.change(lambda s: gr.update(visible=s == "upload"), sees.source, sees.upload, queue=False,
                       show_progress="hidden", **PRIVATE)
    gr.on([sees.run.click, sees.upload.upload], *form(h.sees, sees_in, sees_out), api_name="clip_sees",
          show_progress="minimal", **COMPUTE)
    sees.defaults.click(*form(h.reset_captions, {"generator": gen.generator}, sees.captions),
                        api_name="clip_captions", queue=False, show_progress="hidden")


def build(ctx: AppContext) -> None:
    """Lay out the CLIP tab inside the current gr.Tabs and wire every event."""
    reg = ctx.reg
    h = ClipHandlers(find_generators(ctx.assets_dir), ctx.assets_dir)
    lang = reg.lang
    default_gen = "pixels"
    with widget(reg, gr.Tab, label="clip.tab", id="clip", elem_id="clip-tab") as tab:
        ctx.open_tab(tab)
        runs = gr.State(Runs, time_to_live=RUNS_TTL_S)
        widget(reg, gr.Markdown, text="clip.intro", elem_id="clip-intro")
        top = _header(reg, h, lang)
        links.copy_row(reg, "clip")  # a link that opens this view (demo/links.py)
        with gr.Tabs(elem_id="clip-subtabs"):
            gen = _generate_tab(reg, h, lang, default_gen)
            sees = _sees_tab(reg, h, lang, default_gen)
            _explain_tab(reg)
    form = Form(ctx.lang, uploads=ctx.uploads)
    _wire_models(ctx, form, h, top, tab, gen, sees)
    _wire_runs(form, h, runs, top, gen, sees)
    words = form(lambda lang, v: {"words": clip_note(v.prompt, v.backend, v.generator, lang)},  # never-seen words
                 {"prompt": gen.prompt, "backend": top.backend, "generator": gen.generator}, {"words": gen.words})
    gr.on([gen.prompt.change, top.backend.change, gen.generator.change], *words, queue=False, show_progress="hidden",
          **PRIVATE)
    ctx.after_lang(tuple(form(h.card, {"backend": top.backend}, top.card)))
    ctx.after_lang(
        tuple(form(h.texts, {"backend": top.backend, "generator": gen.generator, "label": gen.label,
                             "captions": sees.captions},
                   {"backend": top.backend, "generator": gen.generator, "label": gen.label, "examples": gen.examples,
                    "captions": sees.captions})),
        tuple(words),
        tuple(Form(ctx.lang)(h.run_texts, {"runs": runs}, {"status": gen.status, "plot": gen.plot,
                                                            "gallery": gen.gallery})),
        always=True)
