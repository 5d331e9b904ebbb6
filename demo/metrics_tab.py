"""The Metrics tab: FID, KID, IS, precision and recall of the models of one data set, MNIST or shapes
(shipped, uploaded, trained in the Train tab), each measured in that data set's own classifier (named
on screen) or Inception-v3, FID against N with its extrapolation, the resize / JPEG pitfall, the
trilemma (MNIST only: from its committed benchmark result, one model recomputable live) and how it works.

Every computing event streams (common.handler): sampling and scoring advance in short steps on the
engine's compute thread, in the background lane, each step its own task, so sliders of other
sessions go first and Stop (or a closed page) ends a run between two steps. The handlers live on
`MetricsHandlers`, each taking the session language and the event's named values (demo/forms.py).
"""

from __future__ import annotations

import json
import math
import time
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace

import gradio as gr
import numpy as np

from engines import checkpoint, families, runtime
from engines.errors import UserError
from engines.metrics import evaluate, features as feature_spaces

from . import links
from . import i18n_metrics  # noqa: F401  (adds the strings to demo.i18n.STRINGS)
from .common import LONG, PRIVATE, QUIET, AppContext, Models, SmallCache, display, session_label, warn
from .forms import Form, widget
from .i18n import LATEX_DELIMITERS, t
from .metrics_plots import curve_chart, trilemma_chart

# Imported in the background when a session first opens the tab (runtime.warm_imports): 7 s on the
# compute thread otherwise, at the first FID.
METRICS_IMPORTS = ("torchmetrics.image.fid", "torchmetrics.image.kid", "torchmetrics.image.inception")

DATASETS = feature_spaces.DATASETS  # each with its own classifier; the data set radio's values
TRILEMMA_DATASET = "mnist"          # the trilemma is measured on MNIST's models only
N_LOW, N_HIGH, N_DEFAULT = 20, 5000, 2000   # samples per model; FID is biased under about evaluate.FEW
SEED_HIGH = 2**32 - 1
STEPS_LOW, STEPS_HIGH, STEPS_DEFAULT = 1, 100, 10
MAX_MODELS = 4
CHUNK = 16            # images a sampling step: one short unit of the compute thread for every family
ROUNDS = 10           # bootstrap resamples for the error bars
SHOW = 12             # samples shown per model
RESULTS = Path(__file__).resolve().parent.parent / "benchmarks" / "results"
TRILEMMA_GLOB = "trilemma-cpu-*.json"
SINGLE = ("model", "pit_model", "tri_model")  # the single-model dropdowns (FID vs N, pitfall, trilemma)
_FLOORS: dict = {}    # (data dir, feature space, data set) -> the real-vs-real floor
_SHOWN = SmallCache(4)  # (language, result file, its mtime) -> the committed trilemma's chart and table


# --- checks: every number an API caller sends ------------------------------------------------------

def whole(value, key: str, low: int, high: int) -> int:
    """A whole number in [low, high] (a float such as 2000.0 too) -> int; UserError(key) for anything
    else: None, text, NaN, infinities, fractions, booleans, out of range."""
    bad = UserError(key, low=low, high=high, value=str(value)[:40])
    if isinstance(value, bool):
        raise bad
    try:
        x = float(value)
    except (TypeError, ValueError, OverflowError):
        raise bad from None
    if not math.isfinite(x) or x != int(x) or not low <= x <= high:
        raise bad
    return int(x)


def data_set(name) -> str:
    """A data set with a classifier of its own (mnist, shapes), or UserError("metrics_dataset_unknown")."""
    return feature_spaces.check_dataset(name)


def feature_space(name) -> str:
    """A known feature space's name; Inception is refused at once offline (before any sampling)."""
    if name not in feature_spaces.FEATURES:
        raise UserError("metrics_features_unknown", name=str(name)[:40], available=", ".join(feature_spaces.FEATURES))
    if name == "inception":
        feature_spaces.check_inception()  # offline: UserError("metrics_inception_offline") at once
    return name


# --- the models: every family that samples, on one data set --------------------------------------

def _card_dataset(folder: Path) -> str | None:
    try:
        return json.loads((folder / checkpoint.CARD).read_text(encoding="utf-8")).get("dataset")
    except (OSError, ValueError, AttributeError):
        return None


def _samples(family: str) -> bool:
    spec = families.get(family)
    return spec.engine is not None and (spec.sample is not None or hasattr(spec.engine_class(), "sample"))


@dataclass
class Picked:
    """A model chosen for a run: its shown name, family, loaded engine and sampler."""
    label: str
    family: str
    engine: object
    sample: object     # the family spec's sampler, or None (engine.sample)
    options: dict


class Catalogue:
    """Each sampling family's models on MNIST and on shapes: shipped ones whose card says so, the
    session's uploads and the models it trained (by their card's data set). A value is
    "<family>/<name>" ("<family>/upload:<name>")."""

    def __init__(self, assets_dir=None):
        self.models: dict[str, Models] = {}
        self.dataset: dict[str, str] = {}  # "<family>/<name>" of a shipped model -> its data set
        for family in families.NAMES:
            if not _samples(family):
                continue
            models = Models(family, assets_dir)
            found = {k: _card_dataset(Path(p)) for k, p in models.shipped.items()}
            models.shipped = {k: p for k, p in models.shipped.items() if found[k] in DATASETS}
            self.dataset.update({f"{family}/{k}": found[k] for k in models.shipped})
            self.models[family] = models

    def choices(self, uploads, lang: str, dataset: str = "mnist") -> list[tuple[str, str]]:
        out = []
        for family, models in self.models.items():
            out += [(name, f"{family}/{name}") for name in models.shipped
                    if self.dataset[f"{family}/{name}"] == dataset]
            for name, folder in (uploads or {}).get(family, {}).items():
                if _card_dataset(Path(folder)) == dataset:
                    out.append((session_label(name, folder, lang), f"{family}/upload:{name}"))
        return out

    def default(self, count: int, dataset: str = "mnist") -> list[str]:
        """The first shipped model of each of the first `count` families on `dataset`."""
        firsts = [next((f"{f}/{k}" for k in m.shipped if self.dataset[f"{f}/{k}"] == dataset), None)
                  for f, m in self.models.items()]
        return [v for v in firsts if v][:count]

    def pick(self, value, uploads, steps: int, dataset: str = "mnist") -> Picked:
        family, _, name = str(value).partition("/")
        if family not in self.models:
            raise UserError("model_unknown", name=str(value)[:60], available=", ".join(self.models))
        models = self.models[family]
        engine = models.engine(name, uploads)
        trained_on = (getattr(engine, "card", None) or {}).get("dataset")
        if trained_on != dataset:
            raise UserError("metrics_dataset_mismatch", name=str(value)[:60], dataset=trained_on, asked=dataset)
        spec = families.get(family)
        knobs = {k.name for k in spec.sample_knobs}
        options = {"sampler": "ddim", "steps": steps} if {"sampler", "steps"} <= knobs else {}
        label = name[len("upload:"):] if name.startswith("upload:") else name
        if options:
            label += f" DDIM-{steps}"
        return Picked(label, family, engine, spec.sample, options)


# --- results as text ------------------------------------------------------------------------------

def _pm(value, std, digits: int = 1) -> str:
    if value is None:
        return "–"
    return f"{value:.{digits}f}" + (f" ± {std:.{digits}f}" if std is not None else "")


def score_row(label: str, r: dict, ms: float | None) -> str:
    b = r.get("bootstrap") or {}
    kid = r["kid"]
    return (f"| {label} | {_pm(r['fid'], b.get('fid_std'))} | {_pm(kid['mean'], kid['std'])} | "
            f"{_pm(r['is']['mean'], r['is']['std'], 2)} | {_pm(r['precision'], b.get('precision_std'), 3)} | "
            f"{_pm(r['recall'], b.get('recall_std'), 3)} | {'–' if ms is None else f'{ms:.1f}'} |")


def scores_text(lang: str, rows: list, floor: dict, n: int, dataset: str = "mnist") -> str:
    first = rows[0][1]
    lines = [t("metrics.scores.space", lang, space=first["features"], real=first["n_real"], n=n,
               images=t(f"metrics.real.{dataset}", lang)), "",
             t("metrics.scores.head", lang), "|---|---|---|---|---|---|---|"]
    lines += [score_row(label, r, ms) for label, r, ms in rows]
    lines.append(score_row(t("metrics.scores.floor", lang), floor, None))
    if n < evaluate.FEW:
        lines += ["", t("metrics.scores.few", lang, n=n)]
    return "\n".join(lines)


def latest_trilemma(folder: Path = RESULTS) -> tuple[Path, dict] | None:
    """The newest committed trilemma result (by name: the date is in it), or None."""
    found = sorted(folder.glob(TRILEMMA_GLOB))
    if not found:
        return None
    return found[-1], json.loads(found[-1].read_text(encoding="utf-8"))


def trilemma_text(lang: str, result: tuple[Path, dict] | None, live: list[dict]) -> str:
    if result is None and not live:
        return t("metrics.tri.none", lang)
    lines = []
    rows = list(live)
    if result is not None:
        path, data = result
        lines += [t("metrics.tri.source", lang, file=f"benchmarks/results/{path.name}", n=data["n"],
                    hardware=data["hardware"], note=data.get("note", "")), ""]
        rows = data["rows"] + rows
    lines += [t("metrics.tri.head", lang), "|---|---|---|---|---|"]
    lines += [f"| {r['label']} | {r['ms_per_image']:.1f} | {_pm(r['fid'], r.get('fid_std'))} | "
              f"{_pm(r['recall'], r.get('recall_std'), 3)} | {_pm(r['precision'], r.get('precision_std'), 3)} |"
              for r in rows]
    if result is not None and result[1].get("reconstructions"):
        lines += ["", f"**{t('metrics.tri.recon', lang)}**", "", t("metrics.tri.recon.head", lang), "|---|---|---|"]
        lines += [f"| {r['model']} | {_pm(r['psnr_db'], r['psnr_std'], 2)} | {_pm(r['ssim'], r['ssim_std'], 3)} |"
                  for r in result[1]["reconstructions"]]
    return "\n".join(lines)


def pitfall_text(lang: str, fids: dict, n: int, n_real: int, space: str, dataset: str = "mnist") -> str:
    lines = [t("metrics.pitfall.head", lang), "|---|---|---|---|"]
    for label, row in fids.items():
        base = row["as_is"]
        cells = [f"{base:.1f}"] + [f"{row[k]:.1f} ({row[k] - base:+.1f})" for k in ("resize", "jpeg")]
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    return "\n".join(lines + ["", t("metrics.pitfall.note", lang, space=space, n=n, real=n_real,
                                     images=t(f"metrics.real.{dataset}", lang))])


def sample_rows(strips: list[np.ndarray]) -> np.ndarray:
    """Each model's first SHOW samples, one row a model, grey or colour -> one RGB picture."""
    rows = []
    side = max(28, *(images.shape[1] for images in strips))
    for images in strips:
        images = images[:SHOW]
        if images.shape[-1] == 1:
            images = np.repeat(images, 3, axis=-1)
        if images.shape[1] != side:
            from PIL import Image

            images = np.stack([np.asarray(Image.fromarray(im).resize((side, side), Image.BILINEAR)) for im in images])
        pad = np.full((SHOW - len(images), side, side, 3), 255, np.uint8)
        row = np.concatenate([images, pad])
        rows.append(np.concatenate([np.pad(im, ((1, 1), (1, 1), (0, 0)), constant_values=255) for im in row], 1))
    return np.concatenate(rows, 0)


# --- handlers -------------------------------------------------------------------------------------

class MetricsHandlers:
    """Event handlers: (lang, v) -> {name: value} (demo/forms.py); the computing ones stream."""

    def __init__(self, catalogue: Catalogue, data_dir=None):
        self.catalogue = catalogue
        self.data_dir = None if data_dir is None else str(data_dir)

    def relabel(self, lang, v):
        """The model lists of the chosen data set (the trilemma's: MNIST's), and the feature space named."""
        dataset = v.dataset if v.dataset in DATASETS else "mnist"
        out = {}
        for name in ("models", *SINGLE):
            data = TRILEMMA_DATASET if name == "tri_model" else dataset
            choices = self.catalogue.choices(v.uploads, lang, data)
            known = {value for _, value in choices}
            if name == "models":
                kept = [m for m in (v.models or []) if m in known]
                out[name] = gr.update(choices=choices, value=kept or self.catalogue.default(2, data))
            else:
                value = getattr(v, name)
                out[name] = gr.update(choices=choices, value=value if value in known else
                                      (choices[0][1] if choices else None))
        return {**out, **self.features_changed(lang, v)}

    def features_changed(self, lang, v):
        """The feature space named (the chosen data set's classifier, or Inception); Inception offline
        is said at once, when it is chosen (not after sampling)."""
        try:
            space = feature_space(v.features)
            dataset = data_set(v.dataset)
        except UserError as err:
            return {"space": warn(err, lang)}
        return {"space": t("metrics.space.inception" if space == "inception" else f"metrics.space.{dataset}", lang)}

    def _settings(self, v, models: list) -> SimpleNamespace:
        """Every number checked before anything runs (the page's bounds do not bind an API caller)."""
        if not isinstance(models, list) or not 1 <= len(models) <= MAX_MODELS:
            raise UserError("metrics_models_count", low=1, high=MAX_MODELS, n=len(models) if isinstance(models, list) else 0)
        n = whole(v.n, "metrics_n_invalid", N_LOW, N_HIGH)
        seed = whole(v.seed, "metrics_seed_invalid", 0, SEED_HIGH)
        steps = whole(v.steps, "metrics_steps_invalid", STEPS_LOW, STEPS_HIGH)
        space = feature_space(getattr(v, "features", "classifier"))
        dataset = data_set(getattr(v, "dataset", "mnist"))
        picked = [self.catalogue.pick(m, v.uploads, steps, dataset) for m in models]
        return SimpleNamespace(n=n, seed=seed, features=space, dataset=dataset, picked=picked,
                               started=time.perf_counter())

    def _real(self, lang, job, out: dict):
        """The held-out features (extracted in steps the first time); yields status updates; leaves them in out."""
        for got in evaluate.heldout_features_steps(self.data_dir, job.features, job.dataset):
            out["real"] = got
            yield {"status": t("metrics.status.real", lang)}

    def _extract(self, lang, job, label: str, how: str, images, out: dict):
        """Features of images (after a round trip, unless how is "as_is") in steps; yields status
        updates; leaves the Extracted in out."""
        for got in evaluate.extract_steps(images, job.features, job.dataset, how=how):
            out["features"] = got
            yield {"status": t("metrics.status.scoring", lang, model=label, stage=how,
                               s=time.perf_counter() - job.started)}

    def _sample(self, lang, job, m: Picked, out: dict):
        """Sample m in steps of CHUNK images; yields status updates; leaves the images in out."""
        began = time.perf_counter()
        for done, images in evaluate.sample_steps(m.engine, m.sample, job.n, job.seed, m.options, chunk=CHUNK):
            out["images"] = images
            yield {"status": t("metrics.status.sampling", lang, model=m.label, done=done, n=job.n,
                               s=time.perf_counter() - job.started)}
        out["ms"] = 1000 * (time.perf_counter() - began) / job.n

    def _score(self, lang, job, label: str, images, real, out: dict, rounds: int | None = None):
        rounds = ROUNDS if rounds is None else rounds
        for stage, result in evaluate.compare_steps(None, images, features=job.features, rounds=rounds,
                                                    seed=job.seed, real_features=real, dataset=job.dataset):
            out["result"] = result
            yield {"status": t("metrics.status.scoring", lang, model=label, stage=stage,
                               s=time.perf_counter() - job.started)}

    def scores(self, lang, v):
        """Sample every chosen model, score each against the held-out images, then the floor."""
        job = self._settings(v, v.models)
        held: dict = {}
        yield from self._real(lang, job, held)
        real = held["real"]
        rows, strips = [], []
        for m in job.picked:
            got: dict = {}
            yield from self._sample(lang, job, m, got)
            yield from self._score(lang, job, m.label, got["images"], real, got)
            rows.append((m.label, got["result"], got["ms"]))
            strips.append(got["images"])
        floor = yield from self._floor(lang, job)
        yield {"status": t("metrics.status.done", lang, s=time.perf_counter() - job.started),
               "table": scores_text(lang, rows, floor, job.n, job.dataset),
               "samples": display(sample_rows(strips), side=700)}

    def _floor(self, lang, job):
        """The real-vs-real floor, once per feature space and data set, in steps (on the compute thread,
        so no race); yields status updates -> the floor."""
        key = (self.data_dir, job.features, job.dataset)
        if key not in _FLOORS:
            floor = None
            for stage, floor in evaluate.real_floor_steps(evaluate.heldout(self.data_dir, job.dataset),
                                                          features=job.features, seed=0, dataset=job.dataset):
                yield {"status": t("metrics.status.scoring", lang, model=t("metrics.scores.floor", lang), stage=stage,
                                   s=time.perf_counter() - job.started)}
            _FLOORS[key] = floor
        return _FLOORS[key]

    def curve(self, lang, v):
        """FID at N = 100 ... all the samples, against N and 1/N, and KID beside it."""
        job = self._settings(v, [v.model])
        m = job.picked[0]
        got: dict = {}
        yield from self._real(lang, job, got)
        real = got["real"]
        yield from self._sample(lang, job, m, got)
        curve = None
        for stage, curve in evaluate.fid_curve_steps(None, got["images"], features=job.features, seed=job.seed,
                                                     real_features=real, dataset=job.dataset):
            yield {"status": t("metrics.status.scoring", lang, model=m.label, stage=stage,
                               s=time.perf_counter() - job.started)}
        kid = [k for k in curve["kid"] if k is not None]
        summary = t("metrics.curve.summary", lang, n=curve["n"][-1], fid=curve["fid"][-1],
                    inf=curve["fid_infinity"] if curve["fid_infinity"] is not None else float("nan"),
                    slope=curve["slope"] or 0.0, kid_lo=min(kid), kid_hi=max(kid), space=curve["features"])
        yield {"status": t("metrics.status.done", lang, s=time.perf_counter() - job.started),
               "summary": summary, "plot": curve_chart(curve, lang)}

    def pitfall(self, lang, v):
        """The same samples (and the same real images) as they are, resized there and back, JPEG'd."""
        job = self._settings(v, [v.pit_model])
        m = job.picked[0]
        got: dict = {}
        yield from self._real(lang, job, got)
        real = got["real"]
        yield from self._sample(lang, job, m, got)
        digits = evaluate.heldout(self.data_dir, job.dataset)
        even: dict = {}
        yield from self._extract(lang, job, t("metrics.pitfall.real", lang), "as_is", digits[0::2], even)
        sets = {m.label: (got["images"], real), t("metrics.pitfall.real", lang): (digits[1::2], even["features"])}
        fids = {}
        for label, (images, against) in sets.items():
            fids[label] = {}
            for how in ("as_is", "resize", "jpeg"):
                fake: dict = {}
                yield from self._extract(lang, job, label, how, images, fake)
                fids[label][how] = evaluate.scores.fid(against.features, fake["features"].features)
        yield {"status": t("metrics.status.done", lang, s=time.perf_counter() - job.started),
               "table": pitfall_text(lang, fids, job.n, len(real.features), real.space, job.dataset)}

    def trilemma(self, lang, v):
        """The committed result's chart and table (and this session's live points). Without live
        points every session opening the page gets the same picture: drawn once per language."""
        runtime.warm_imports(METRICS_IMPORTS)  # the tab is open: its first FID will need them
        result = latest_trilemma()
        live = list(v.live or [])
        rows = (result[1]["rows"] if result else []) + live
        if not rows:
            return {"chart": None, "table": trilemma_text(lang, result, live)}
        if live:
            return {"chart": trilemma_chart(rows, lang), "table": trilemma_text(lang, result, live)}
        key = (lang, str(result[0]), result[0].stat().st_mtime)
        return _SHOWN.get(key, lambda: {"chart": trilemma_chart(rows, lang), "table": trilemma_text(lang, result, [])})

    def trilemma_live(self, lang, v):
        """One MNIST model scored now, at N (classifier features, no bootstrap), added to the chart."""
        fixed = {"features": "classifier", "dataset": TRILEMMA_DATASET}
        job = self._settings(SimpleNamespace(**{**vars(v), **fixed}), [v.tri_model])
        m = job.picked[0]
        got: dict = {}
        yield from self._real(lang, job, got)
        real = got["real"]
        yield from self._sample(lang, job, m, got)
        yield from self._score(lang, job, m.label, got["images"], real, got, rounds=0)
        r = got["result"]
        point = {"label": f"{m.label} ({t('metrics.tri.live', lang, n=job.n)})", "ms_per_image": got["ms"],
                 "fid": r["fid"], "recall": r["recall"], "precision": r["precision"], "live": True}
        live = [p for p in (v.live or []) if p["label"] != point["label"]][-5:] + [point]
        shown = self.trilemma(lang, SimpleNamespace(live=live))
        yield {"status": t("metrics.status.done", lang, s=time.perf_counter() - job.started), "live": live, **shown}


# --- layout: one function per sub-tab ----------------------------------------------------------------

_OUT = {"interactive": False, "format": "png", "buttons": []}


def _numbers(reg, prefix: str, ui, n_value: int = N_DEFAULT):
    with gr.Row():
        ui.n = widget(reg, gr.Number, value=n_value, precision=0, minimum=N_LOW, maximum=N_HIGH, label="metrics.n",
                      info="metrics.n.info", elem_id=f"{prefix}-n")
        ui.seed = widget(reg, gr.Number, value=0, precision=0, minimum=0, maximum=SEED_HIGH, label="metrics.seed",
                         elem_id=f"{prefix}-seed")
        ui.steps = widget(reg, gr.Slider, minimum=STEPS_LOW, maximum=STEPS_HIGH, value=STEPS_DEFAULT, step=1,
                          label="metrics.steps", elem_id=f"{prefix}-steps")


def _run_row(reg, prefix: str, ui, run_key: str = "metrics.run"):
    with gr.Row():
        ui.go = widget(reg, gr.Button, text=run_key, variant="primary", elem_id=f"{prefix}-run")
        ui.stop = widget(reg, gr.Button, text="metrics.stop", variant="stop", elem_id=f"{prefix}-stop")
    ui.status = gr.Markdown(elem_id=f"{prefix}-status")


def _features(reg):
    """The data set and the feature space every computing sub-tab measures in (the trilemma's: MNIST,
    the classifier's); the line under them names the classifier of the chosen data set."""
    ui = SimpleNamespace()
    with gr.Row():
        ui.dataset = widget(reg, gr.Radio, choice_keys=[("metrics.data.mnist", "mnist"),
                                                        ("metrics.data.shapes", "shapes")],
                            value="mnist", label="metrics.data", info="metrics.data.info", elem_id="metrics-dataset")
        ui.features = widget(reg, gr.Radio, choice_keys=[("metrics.features.classifier", "classifier"),
                                                         ("metrics.features.inception", "inception")],
                             value="classifier", label="metrics.features", elem_id="metrics-features")
    ui.space = gr.Markdown(t("metrics.space.mnist", reg.lang), elem_id="metrics-space")
    return ui


def _scores_tab(reg, catalogue: Catalogue):
    with widget(reg, gr.Tab, label="metrics.sub.scores", id="metrics-scores", elem_id="metrics-tab-scores"):
        widget(reg, gr.Markdown, text="metrics.scores.help")
        ui = SimpleNamespace()
        ui.models = widget(reg, gr.Dropdown, choices=catalogue.choices({}, reg.lang), value=catalogue.default(2),
                           multiselect=True, max_choices=MAX_MODELS, label="metrics.models", info="metrics.models.info",
                           elem_id="metrics-models")
        _numbers(reg, "metrics", ui)
        _run_row(reg, "metrics", ui)
        ui.table = gr.Markdown(elem_id="metrics-table")
        ui.samples = widget(reg, gr.Image, label="metrics.samples", elem_id="metrics-samples", height=260, **_OUT)
    return ui


def _curve_tab(reg, catalogue: Catalogue):
    with widget(reg, gr.Tab, label="metrics.sub.curve", id="metrics-curve", elem_id="metrics-tab-curve"):
        widget(reg, gr.Markdown, text="metrics.curve.help")
        ui = SimpleNamespace()
        ui.model = widget(reg, gr.Dropdown, choices=catalogue.choices({}, reg.lang),
                          value=(catalogue.default(1) or [None])[0], label="metrics.model", elem_id="metrics-curve-model")
        _numbers(reg, "metrics-curve", ui)
        _run_row(reg, "metrics-curve", ui, "metrics.curve.run")
        ui.summary = gr.Markdown(elem_id="metrics-curve-summary")
        ui.plot = gr.Image(show_label=False, elem_id="metrics-curve-plot", height=330, **_OUT)
    return ui


def _pitfall_tab(reg, catalogue: Catalogue):
    with widget(reg, gr.Tab, label="metrics.sub.pitfall", id="metrics-pitfall", elem_id="metrics-tab-pitfall"):
        widget(reg, gr.Markdown, text="metrics.pitfall.help")
        ui = SimpleNamespace()
        ui.pit_model = widget(reg, gr.Dropdown, choices=catalogue.choices({}, reg.lang),
                              value=(catalogue.default(1) or [None])[0], label="metrics.model",
                              elem_id="metrics-pitfall-model")
        _numbers(reg, "metrics-pitfall", ui)
        _run_row(reg, "metrics-pitfall", ui, "metrics.pitfall.run")
        ui.table = gr.Markdown(elem_id="metrics-pitfall-table")
    return ui


def _trilemma_tab(reg, catalogue: Catalogue):
    with widget(reg, gr.Tab, label="metrics.sub.trilemma", id="metrics-trilemma", elem_id="metrics-tab-trilemma"):
        widget(reg, gr.Markdown, text="metrics.tri.help")
        ui = SimpleNamespace(live=gr.State([]))
        with widget(reg, gr.Accordion, label="metrics.tri.run", open=False, elem_id="metrics-tri-live-box"):
            ui.tri_model = widget(reg, gr.Dropdown, choices=catalogue.choices({}, reg.lang),
                                  value=(catalogue.default(1) or [None])[0], label="metrics.model",
                                  elem_id="metrics-tri-model")
            _numbers(reg, "metrics-tri", ui, n_value=500)
            _run_row(reg, "metrics-tri", ui, "metrics.tri.run")
        with gr.Row(equal_height=False):
            ui.chart = gr.Image(show_label=False, elem_id="metrics-tri-chart", height=440, scale=5, min_width=480,
                                **_OUT)
            with gr.Column(scale=4, min_width=440):
                ui.table = gr.Markdown(elem_id="metrics-tri-table")
    return ui


def _explain_tab(reg):
    with widget(reg, gr.Tab, label="metrics.sub.explain", id="metrics-explain", elem_id="metrics-tab-explain"):
        widget(reg, gr.Markdown, text="metrics.explain.body", latex_delimiters=LATEX_DELIMITERS,
               elem_id="metrics-explain")


# --- wiring -----------------------------------------------------------------------------------------

def _numbers_in(ui) -> dict:
    return {"n": ui.n, "seed": ui.seed, "steps": ui.steps}


def _wire_runs(form, h, fs, sc, cv, pf, tr):
    """The four computing events: streamed, one long run per session, Stop cancels between steps."""
    runs = (
        (sc, h.scores, {"models": sc.models, **_numbers_in(sc), "features": fs.features, "dataset": fs.dataset},
         {"status": sc.status, "table": sc.table, "samples": sc.samples}, "metrics_scores"),
        (cv, h.curve, {"model": cv.model, **_numbers_in(cv), "features": fs.features, "dataset": fs.dataset},
         {"status": cv.status, "summary": cv.summary, "plot": cv.plot}, "metrics_curve"),
        (pf, h.pitfall, {"pit_model": pf.pit_model, **_numbers_in(pf), "features": fs.features,
                         "dataset": fs.dataset},
         {"status": pf.status, "table": pf.table}, "metrics_pitfall"),
        (tr, h.trilemma_live, {"tri_model": tr.tri_model, **_numbers_in(tr), "live": tr.live},
         {"status": tr.status, "live": tr.live, "chart": tr.chart, "table": tr.table}, "metrics_trilemma_live"),
    )
    for ui, fn, inputs, outputs, api_name in runs:
        event = ui.go.click(*form(fn, inputs, outputs), api_name=api_name, show_progress="minimal", **LONG)
        ui.stop.click(None, None, None, cancels=[event], queue=False, **PRIVATE)


def _wire_session(ctx, form, h, fs, sc, cv, pf, tr):
    """Model lists follow the data set, uploads and trained models; the feature space is named (Inception
    offline said at once); the trilemma chart on load and in the new language."""
    lists = {"models": sc.models, "model": cv.model, "pit_model": pf.pit_model, "tri_model": tr.tri_model}
    chosen = {"features": fs.features, "dataset": fs.dataset}
    relabel = form(h.relabel, {**lists, **chosen}, {**lists, "space": fs.space})
    ctx.uploads.change(*relabel, **QUIET, **PRIVATE)
    fs.dataset.change(*relabel, api_name="metrics_dataset", **QUIET)
    fs.features.change(*form(h.features_changed, chosen, {"space": fs.space}, compute=False),
                       api_name="metrics_features", **QUIET)
    shown = form(h.trilemma, {"live": tr.live}, {"chart": tr.chart, "table": tr.table})
    ctx.opening.event(*shown, **QUIET, **PRIVATE)
    ctx.after_lang(tuple(shown))
    ctx.after_lang(tuple(relabel), always=True)


def build(ctx: AppContext) -> None:
    """Lay out the Metrics tab inside the current gr.Tabs and wire it."""
    reg = ctx.reg
    catalogue = Catalogue(ctx.assets_dir)
    h = MetricsHandlers(catalogue, ctx.data_dir)
    with widget(reg, gr.Tab, label="metrics.tab", id="metrics", elem_id="metrics-tab") as tab:
        ctx.open_tab(tab)
        widget(reg, gr.Markdown, text="metrics.intro", elem_id="metrics-intro")
        fs = _features(reg)
        links.copy_row(reg, "metrics")  # a link that opens this view (demo/links.py)
        with gr.Tabs(elem_id="metrics-subtabs"):
            sc = _scores_tab(reg, catalogue)
            cv = _curve_tab(reg, catalogue)
            pf = _pitfall_tab(reg, catalogue)
            tr = _trilemma_tab(reg, catalogue)
            _explain_tab(reg)
    form = Form(ctx.lang, uploads=ctx.uploads)
    _wire_runs(form, h, fs, sc, cv, pf, tr)
    _wire_session(ctx, form, h, fs, sc, cv, pf, tr)
