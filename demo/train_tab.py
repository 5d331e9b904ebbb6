"""The training tab: start, watch, stop and resume a training run; keep the model.

`build(ctx)` lays the tab out and wires it; the handlers live on `TrainHandlers`. A run is an
`engines.studio.Plan` trained by the process-wide `engines.jobs.JobManager`, which owns the
queue and the host's limits; this module only reads a job's events on a 1 s `gr.Timer`, so no
request waits on a training run. Each browser session (Gradio's session hash) has its own
`StudioSession` in a gr.State: its plan, its job and the curve so far. Closing the tab stops
the session's run and drops its model at once (`demo.unload`), and the state's delete_callback
does the same if the unload never came.
"""

from __future__ import annotations

import dataclasses
import functools
import math
import os
import shutil
import tempfile
import threading
import weakref
from pathlib import Path
from types import SimpleNamespace

import gradio as gr
import pandas as pd

from engines import families, runtime, studio
from engines.data import mnist_available
from engines.errors import UserError
from engines.jobs import JobManager

from . import links
from . import i18n_train  # noqa: F401  (adds the tab's strings to demo.i18n.STRINGS)
from .common import PRIVATE, AppContext, add_trained, display, upload_paths
from .common import handler as _handler
from .forms import widget
from .i18n import t

# Off the compute thread: they wait on training jobs, whose steps run on the compute thread.
handler = functools.partial(_handler, compute=False)

TICK_S = 1.0             # how often a watching browser reads its job
STOP_WAIT_S = 3.0        # Stop answers once the run has ended (well within a second), or after this
MAX_POINTS = 300         # per loss curve sent to the browser
PREVIEW_SIDE = 420       # pixels the sample grid is shown at
# The recipe's fields, by name: the widgets and the handlers' keyword values (engines.studio makes
# them from every family's spec).
RECIPE_FIELDS = studio.RECIPE_FIELDS
KEPT_ON_SWITCH = ("family", "seed", "fast")  # what a family switch leaves as the person set it
QUIET = {"show_progress": "hidden"}

_MANAGER: JobManager | None = None
_MANAGER_LOCK = threading.Lock()


def manager() -> JobManager:
    """The process's one JobManager, made on first use with the host's limits (GENLAB_MAX_JOBS,
    GENLAB_MAX_QUEUE, GENLAB_JOB_SECONDS, GENLAB_JOB_STEPS)."""
    global _MANAGER
    with _MANAGER_LOCK:
        if _MANAGER is None:
            _MANAGER = JobManager()
        return _MANAGER


# --------------------------------------------------------------------------------------------
# One session
# --------------------------------------------------------------------------------------------

class StudioSession:
    """One browser session's training: its plan (model and data), its job and the curves so far."""

    def __init__(self, sid: str):
        self.sid = sid
        self.plan: studio.Plan | None = None
        self.job = None
        self.cursor = 0                                  # next job event to read
        self.rows: list[tuple[int, str, float]] = []     # (step, term, value) for the loss plot
        self.plotted = -1                                # len(rows) the browser's plot already shows
        self.shown_preview = -1                          # preview step the browser already has
        self.files_dir: str | None = None                # downloads made for this session
        self.eta = 0.0                                   # s, as of the latest step event
        self.first_step = 0                              # the step the current job started from
        self.lock = threading.Lock()                     # a tick and a Stop may read the job at once

    def reset_curves(self) -> None:
        self.rows, self.cursor, self.shown_preview, self.plotted = [], 0, -1, -1

    def close(self, jobs: JobManager | None) -> None:
        """The tab closed: stop and drop the run, free the model, remove downloads."""
        if jobs is not None:
            jobs.forget(self.sid)
        self.plan, self.job, self.rows = None, None, []
        if self.files_dir:
            shutil.rmtree(self.files_dir, ignore_errors=True)
            self.files_dir = None


_SESSIONS: weakref.WeakValueDictionary[str, StudioSession] = weakref.WeakValueDictionary()


def _close_state(session: StudioSession | None) -> None:
    """gr.State delete_callback."""
    if isinstance(session, StudioSession):
        session.close(_MANAGER)


def _sid(request) -> str:
    sid = getattr(request, "session_hash", None)
    return sid or "local"


# --------------------------------------------------------------------------------------------
# Display helpers
# --------------------------------------------------------------------------------------------

def _duration(seconds: float) -> str:
    if not math.isfinite(seconds) or seconds <= 0:
        return "–"
    seconds = round(seconds)
    return f"{seconds // 60}:{seconds % 60:02d}" if seconds < 3600 else f"{seconds // 3600}h{seconds % 3600 // 60:02d}"


def _memory() -> str:
    """The server process's memory (and the GPU's, on one)."""
    import psutil

    text = f"{psutil.Process().memory_info().rss / 2**20:,.0f} MB RAM"
    if runtime.device().type == "cuda":
        import torch

        text += f", {torch.cuda.memory_allocated() / 2**20:,.0f} MB GPU"
    return text


def _params(n: int) -> str:
    return f"{n / 1e6:.2f} M" if n >= 1e5 else f"{n / 1e3:.0f} k"


def loss_frame(rows: list[tuple[int, str, float]]) -> pd.DataFrame:
    """The loss plot's data: columns step, value, term; at most MAX_POINTS per term."""
    if not rows:
        return pd.DataFrame({"step": pd.Series(dtype="int64"), "value": pd.Series(dtype="float64"),
                             "term": pd.Series(dtype="object")})
    by_term: dict[str, list[tuple[int, float]]] = {}
    for step, term, value in rows:
        by_term.setdefault(term, []).append((step, value))
    out = []
    for term, points in by_term.items():
        stride = max(1, math.ceil(len(points) / MAX_POINTS))
        kept = points[::stride]
        if kept[-1] is not points[-1]:
            kept.append(points[-1])
        out += [(s, v, term) for s, v in kept]
    return pd.DataFrame(out, columns=["step", "value", "term"])


def loss_plot(rows: list[tuple[int, str, float]]):
    """The plot's update: the data, with a y range that leaves out the first tenth of the run, whose
    early losses (a VAE starts thousands of nats above where it ends) would flatten the rest."""
    frame = loss_frame(rows)
    if len(frame) < 10:
        return gr.update(value=frame, y_lim=None)
    later = frame[frame["step"] >= frame["step"].max() * 0.1]["value"]
    lo, hi = float(later.min()), float(later.max())
    pad = 0.05 * (hi - lo) or 0.05 * abs(hi) or 0.1
    return gr.update(value=frame, y_lim=[lo - pad, hi + pad])


def _device_note(lang: str, jobs: JobManager) -> str:
    dev = runtime.device()
    lim = jobs.limits
    name = runtime.hardware_summary(dev) if dev.type == "cuda" else t("train.device.cpu_name", lang, n=os.cpu_count())
    return t("train.device", lang, device=name,
             gpu=t("train.device.gpu" if dev.type == "cuda" else "train.device.cpu", lang),
             running=lim.max_running, queued=lim.max_queued, seconds=lim.max_seconds, steps=lim.max_steps)


def _data_note(lang: str, dataset: str) -> str:
    from engines.data import DATASETS

    if dataset == "toy2d":
        return t("train.data.toy2d", lang)
    if dataset == "zip":
        return t("train.data.zip", lang)
    info = DATASETS.get(dataset)
    return info.get(lang, info["en"]) if info else ""


def _recipe_updates(recipe: studio.Recipe, fields=RECIPE_FIELDS) -> dict:
    """{field: update} for the recipe's widgets: its value, and for a family's own settings, whether
    shown (only with their family)."""
    out = {}
    for f in fields:
        family = studio.owner(f)
        out[f] = gr.update(value=getattr(recipe, f)) if family is None else \
            gr.update(value=getattr(recipe, f), visible=family == recipe.family)
    return out


# --------------------------------------------------------------------------------------------
# Handlers
# --------------------------------------------------------------------------------------------

class TrainHandlers:
    """Event handlers; each takes the session language first (see common.handler)."""

    def __init__(self, jobs: JobManager | None = None, data_dir=None):
        self._jobs = jobs
        self.data_dir = data_dir

    @property
    def jobs(self) -> JobManager:
        return self._jobs if self._jobs is not None else manager()

    def session(self, sess, request) -> StudioSession:
        sid = _sid(request)
        if not isinstance(sess, StudioSession) or sess.sid != sid:
            sess = _SESSIONS.get(sid) or StudioSession(sid)
            _SESSIONS[sid] = sess
        return sess

    # --- settings ---------------------------------------------------------------------------
    def family_changed(self, lang, family) -> dict:
        """A family's defaults for this device, and which of its settings to show -> {name: update}."""
        r = studio.defaults(family)
        return {**_recipe_updates(r, [f for f in RECIPE_FIELDS if f not in KEPT_ON_SWITCH]),
                "data_note": _data_note(lang, r.dataset), "zip_file": gr.update(visible=r.dataset == "zip")}

    def dataset_changed(self, lang, dataset):
        return _data_note(lang, dataset), gr.update(visible=dataset == "zip")

    @staticmethod
    def recipe(values: dict) -> studio.Recipe:
        return studio.Recipe(**{f: values[f] for f in RECIPE_FIELDS})

    # --- runs -------------------------------------------------------------------------------
    def start(self, lang, sess, zip_file, request: gr.Request, **values):
        """Check, load and queue a new run -> {sess, status, stats, plot, preview, timer}."""
        sess = self.session(sess, request)
        recipe = studio.check(self.recipe(values))
        self.jobs.check(sess.sid)  # answer "busy" before loading anything
        plan = runtime.call(studio.prepare, recipe, data_dir=self.data_dir, zip_path=_path(zip_file))
        name = f"{recipe.family}-{recipe.dataset}"
        sess.job = self.jobs.submit(sess.sid, name, plan.make_trainer)
        sess.plan = plan
        sess.reset_curves()
        sess.first_step = 0
        return {"sess": sess, **self._view(lang, sess), "timer": gr.Timer(active=True)}

    def resume(self, lang, sess, zip_file, request: gr.Request, **values):
        """Go on from the session's model (after a run, or a checkpoint upload) with these settings."""
        sess = self.session(sess, request)
        if sess.plan is None:
            raise UserError("studio_nothing_to_resume")
        self.jobs.check(sess.sid)
        plan = studio.resume(sess.plan, self.recipe(values))
        name = f"{plan.recipe.family}-{plan.recipe.dataset}"
        sess.first_step = plan.step
        sess.job = self.jobs.submit(sess.sid, name, plan.make_trainer)
        sess.cursor, sess.shown_preview = 0, -1
        return {"sess": sess, **self._view(lang, sess), "timer": gr.Timer(active=True)}

    def stop(self, lang, sess, request: gr.Request = None):
        """Stop the session's run and answer once it has ended -> {status, stats, plot, preview,
        timer}. The step in progress is undone (engines.train), so the run ends well within a
        second, keeping the weights of its last completed step."""
        sess = self.session(sess, request)
        job = self.jobs.stop(sess.sid)
        if job is not None:
            job.wait(STOP_WAIT_S)
        finished = sess.job is None or sess.job.finished
        return {**self._view(lang, sess), "timer": gr.Timer(active=not finished)}

    def tick(self, lang, sess, request: gr.Request = None):
        """Read the job's new events -> {status, stats, plot, preview, timer}."""
        sess = self.session(sess, request)
        # Finished before reading: a job that ends between the two would lose its last events.
        finished = sess.job is None or sess.job.finished
        return {**self._view(lang, sess), "timer": gr.Timer(active=not finished)}

    def _view(self, lang, sess: StudioSession, *, replot: bool = False) -> dict:
        """{status, stats, plot, preview} from the session's job; the plot and the preview only when
        they changed (or `replot`), so a tick without new events rebuilds and sends neither."""
        with sess.lock:
            return self._view_locked(lang, sess, replot=replot)

    def _view_locked(self, lang, sess: StudioSession, *, replot: bool):
        job, plan = sess.job, sess.plan
        if plan is None:
            return {"status": t("train.status.idle", lang), "stats": "", "plot": loss_plot([]), "preview": None}
        if job is not None:
            events, sess.cursor = job.events_since(sess.cursor)
            terms = families.get(plan.family).curves
            for ev in events:
                if ev.kind == "step":
                    sess.eta = ev.eta_s
                    sess.rows += [(ev.step, term, float(ev.losses[term])) for term in terms
                                  if term in ev.losses and math.isfinite(ev.losses[term])]
        info = job.latest() if job is not None else None
        status = self._status(lang, sess, info)
        stats = self._stats(lang, sess, info)
        preview = gr.skip()
        if info is not None and info["preview"] is not None and info["preview_step"] != sess.shown_preview:
            sess.shown_preview = info["preview_step"]
            key = "train.preview.clip" if plan.family == "clip" else "train.preview.step"
            preview = gr.update(value=display(info["preview"], side=PREVIEW_SIDE),
                                label=t(key, lang, step=info["preview_step"]))
        plot = gr.skip()
        if replot or len(sess.rows) != sess.plotted:
            sess.plotted = len(sess.rows)
            plot = loss_plot(sess.rows)
        return {"status": status, "stats": stats, "plot": plot, "preview": preview}

    def _steps(self, sess: StudioSession) -> int:
        plan = sess.plan
        if plan.trainer is not None and sess.job is not None and sess.job.status != "queued":
            return plan.trainer.config.steps
        return plan.step + plan.recipe.steps

    def _status(self, lang, sess: StudioSession, info) -> str:
        name = sess.job.name if sess.job is not None else (sess.plan.continued_from or {}).get("name", "model")
        if info is None:
            return t("train.status.ready", lang, name=name, step=sess.plan.step)
        status, message = info["status"], info["message"]
        if status == "queued":
            return t("train.status.queued", lang, ahead=info["ahead"] or 0)
        if status == "running":
            if sess.plan.trainer is None:
                return t("train.status.starting", lang, name=name)
            return t("train.status.running", lang, name=name, step=info["step"], steps=self._steps(sess))
        icon = {"stopped": "■ ", "nan": "⚠ ", "timeout": "■ ", "failed": "⚠ "}.get(status, "")
        if status == "done":
            text = t("train.status.done", lang, name=name, step=sess.plan.step)
            return text + ("\n\n" + message.localized(lang) if message is not None else "")
        return icon + (message.localized(lang) if message is not None else status)

    def _stats(self, lang, sess: StudioSession, info) -> str:
        plan = sess.plan
        step = info["step"] if info is not None and info["step"] else plan.step
        running = info is not None and info["status"] == "running"
        ips = info["images_per_s"] if info is not None else 0.0
        if info is not None and not running and info["elapsed_s"] > 0:
            # A finished run: its average speed, not that of its last few steps.
            ips = (step - sess.first_step) * min(plan.recipe.batch_size, len(plan.images)) / info["elapsed_s"]
        return t("train.stats", lang, step=step, steps=self._steps(sess), ips=ips,
                 eta=_duration(sess.eta) if running else "–",
                 elapsed=_duration(info["elapsed_s"]) if info is not None else "–",
                 device=runtime.device().type.upper(), memory=_memory(), params=_params(plan.parameters))

    # --- keeping the model ------------------------------------------------------------------
    def _finished_plan(self, sess) -> studio.Plan:
        if not isinstance(sess, StudioSession) or sess.plan is None:
            raise UserError("studio_no_model")
        if sess.job is not None and not sess.job.finished:
            raise UserError("studio_busy_resume")
        return sess.plan

    def _save(self, plan: studio.Plan, sess: StudioSession, folder, name: str, *, trainer_state: bool = False
              ) -> Path:
        job = sess.job
        wall = (job.ended_at - job.started_at) if job is not None and job.started_at and job.ended_at else None
        stopped = job.status if job is not None and job.status not in ("done",) else None
        return runtime.call(studio.save, plan, folder, name=name, wall_time_s=wall, stopped=stopped,
                            trainer_state=trainer_state)

    def use(self, lang, sess, uploads, name, request: gr.Request = None):
        """Save the model and offer it in its family's tab -> (uploads, note)."""
        sess = self.session(sess, request) if request is not None else sess
        plan = self._finished_plan(sess)
        name = _clean_name(name) or _default_name(plan)
        name, uploads = add_trained(uploads, plan.family, name, lambda folder: self._save(plan, sess, folder, name))
        key = families.get(plan.family).tab
        try:
            tab = t(key, lang) if key else plan.family
        except KeyError:  # that family's tab is not part of this app
            tab = plan.family
        return uploads, "✓ " + t("train.used", lang, name=name, tab=tab)

    def download(self, lang, sess, name, request: gr.Request = None):
        """The model as a checkpoint zip (config.json, model.safetensors, card.json in a folder),
        with the trainer's state (Adam's moments, step, batch order), so an upload of it resumes
        exactly where this run ended."""
        sess = self.session(sess, request) if request is not None else sess
        plan = self._finished_plan(sess)
        name = _clean_name(name) or _default_name(plan)
        if sess.files_dir is None:
            sess.files_dir = tempfile.mkdtemp(prefix="genlab-download-")
        work = Path(tempfile.mkdtemp(dir=sess.files_dir))
        self._save(plan, sess, work / name, name, trainer_state=True)
        return gr.update(value=shutil.make_archive(str(work / name), "zip", root_dir=work, base_dir=name), visible=True)

    def continue_from(self, lang, sess, files, zip_file, request: gr.Request = None) -> dict:
        """An uploaded checkpoint becomes the session's model; its recipe fills the settings
        -> {name: update}."""
        from engines import checkpoint

        sess = self.session(sess, request)
        if sess.job is not None and not sess.job.finished:
            raise UserError("studio_busy_resume")
        folder = checkpoint.unpack_upload(upload_paths(files))
        try:
            ckpt = checkpoint.load(folder)  # safetensors and JSON only: no pickle is ever read
            recipe = studio.recipe_from_card(ckpt)
            plan = runtime.call(studio.prepare, recipe, data_dir=self.data_dir, zip_path=_path(zip_file), init=ckpt)
        finally:
            shutil.rmtree(folder, ignore_errors=True)
        sess.plan, sess.job = plan, None
        sess.reset_curves()
        view = self._view(lang, sess)
        r = plan.recipe
        return {"sess": sess, "status": view["status"], "stats": view["stats"], "plot": view["plot"],
                **_recipe_updates(r),
                "data_note": _data_note(lang, r.dataset), "zip_file": gr.update(visible=r.dataset == "zip"),
                "continue_file": None}

    def texts(self, lang, sess, dataset, request: gr.Request = None):
        """After a language switch: the texts built here."""
        sess = self.session(sess, request)
        view = self._view(lang, sess, replot=True)
        return view["status"], view["stats"], view["plot"], _device_note(lang, self.jobs), _data_note(lang, dataset)

    def unload(self, request: gr.Request):
        """The tab closed: stop its run and free its model now (the state lives on for an hour)."""
        sid = _sid(request)
        sess = _SESSIONS.pop(sid, None)
        if sess is not None:
            sess.close(self.jobs)
        else:
            self.jobs.forget(sid)


def _path(file) -> str | None:
    if file is None:
        return None
    return file if isinstance(file, str) else getattr(file, "name", None)


def _clean_name(name) -> str:
    keep = "".join(c if c.isalnum() or c in "-_." else "-" for c in str(name or "").strip())
    return keep.strip("-.")[:60]


def _default_name(plan: studio.Plan) -> str:
    r = plan.recipe
    return f"{r.family}-{r.dataset}-{plan.step}steps"


# --------------------------------------------------------------------------------------------
# Layout and wiring
# --------------------------------------------------------------------------------------------

def _knob_widget(reg, knob, value, *, visible: bool = True, min_width: int | None = None):
    """A recipe setting's widget, from its knob (engines.families.Knob): its string key named once."""
    elem_id = knob.key.replace(".", "-").replace("_", "-")
    extra = {"min_width": min_width} if min_width else {}
    texts = {"label": knob.key, **({"info": knob.info} if knob.info else {})}
    if knob.kind is bool:
        return widget(reg, gr.Checkbox, value=value, elem_id=elem_id, visible=visible, **texts, **extra)
    return widget(reg, gr.Number, value=value, precision=0 if knob.kind is int else None, elem_id=elem_id,
                  visible=visible, **texts, **extra)


def _settings(reg, r: studio.Recipe, jobs) -> dict:
    """The left column: family, data set, size, then every knob -> {name: component}."""
    gpu = runtime.device().type == "cuda"
    form = {}
    form["family"] = widget(reg, gr.Radio, choice_keys=[(f"train.family.{f}", f) for f in studio.FAMILIES],
                            value=r.family, label="train.family", elem_id="train-family")
    form["dataset"] = widget(reg, gr.Radio, choice_keys=[(f"train.dataset.{d}", d) for d in studio.DATASETS],
                             value=r.dataset, label="train.dataset", elem_id="train-dataset")
    form["zip_file"] = widget(reg, gr.File, label="train.zip", file_types=[".zip"], visible=False,
                              elem_id="train-zip")
    form["data_note"] = gr.Markdown(_data_note(reg.lang, r.dataset), elem_id="train-data-note",
                                    elem_classes=["small-note"])
    form["size"] = widget(reg, gr.Radio, choice_keys=[(f"train.size.{s}", s) for s in studio.SIZES], value=r.size,
                          label="train.size", info="train.size.info", elem_id="train-size")
    with gr.Row():
        for knob in studio.HEAD:
            form[knob.name] = _knob_widget(reg, knob, getattr(r, knob.name), min_width=90)
    with widget(reg, gr.Accordion, label="train.more", open=False, elem_id="train-more"):
        for knob in studio.FAMILY_KNOBS + studio.TAIL:
            owner = studio.owner(knob.name)
            visible = (owner is None or owner == r.family) and (knob.name != "fast" or gpu)
            form[knob.name] = _knob_widget(reg, knob, getattr(r, knob.name), visible=visible)
    with gr.Row():
        for name, variant in (("start", "primary"), ("stop", "stop"), ("resume", "secondary")):
            form[name] = widget(reg, gr.Button, text=f"train.{name}", variant=variant, elem_id=f"train-{name}")
    form["device_note"] = gr.Markdown(_device_note(reg.lang, jobs), elem_id="train-device",
                                      elem_classes=["small-note"])
    return form


def _watch(reg) -> dict:
    """The right column: status, the loss plot, the sample grid, keeping and continuing a model."""
    form = {"status": gr.Markdown(t("train.status.idle", reg.lang), elem_id="train-status"),
            "stats": gr.Markdown(elem_id="train-stats")}
    # No fixed height: Gradio's LinePlot then cuts off the legend.
    form["plot"] = widget(reg, gr.LinePlot, value=loss_frame([]), x="step", y="value", color="term",
                          x_title="train.loss.step", y_title="train.loss.value", color_title="train.loss.series",
                          label="train.loss", elem_id="train-loss")
    form["preview"] = widget(reg, gr.Image, label="train.preview", elem_id="train-preview", interactive=False,
                             format="png", height=PREVIEW_SIDE, buttons=["download"],
                             elem_classes=["out-image", "pixelated"])
    with widget(reg, gr.Accordion, label="train.keep", open=True, elem_id="train-keep"):
        with gr.Row(equal_height=True):
            form["name"] = widget(reg, gr.Textbox, value="", label="train.name", elem_id="train-name", scale=2)
            form["use"] = widget(reg, gr.Button, text="train.use", elem_id="train-use", scale=1)
            form["download"] = widget(reg, gr.Button, text="train.download", elem_id="train-download", scale=1)
        form["use_note"] = gr.Markdown(elem_id="train-use-note")
        form["download_file"] = widget(reg, gr.File, label="train.file", interactive=False, visible=False,
                                       elem_id="train-file")
    with widget(reg, gr.Accordion, label="train.continue", open=False, elem_id="train-continue-box"):
        widget(reg, gr.Markdown, text="train.continue.note")
        form["continue_file"] = widget(reg, gr.File, file_count="multiple", label="train.continue.file",
                                       elem_id="train-continue")
    return form


def named(fn, form: dict):
    """A handler that returns {name: update} -> one that returns {component: update}, as Gradio wants."""
    @functools.wraps(fn)
    def call(*args, **kwargs):
        return {form[name]: value for name, value in fn(*args, **kwargs).items()}

    return call


# The run handlers' outputs by name, in the order Gradio lists them (and `positional` returns them).
VIEW = ("status", "stats", "plot", "preview")
OUTPUTS = {"start": ("sess", *VIEW, "timer"), "resume": ("sess", *VIEW, "timer"), "stop": (*VIEW, "timer"),
           "tick": (*VIEW, "timer")}


def positional(h: TrainHandlers) -> SimpleNamespace:
    """The handlers with the run handlers' named outputs as a tuple in OUTPUTS' order, as Gradio shows them
    (for callers in-process: tests); every other attribute as it is."""
    def ordered(fn, names):
        @functools.wraps(fn)
        def call(*args, **kwargs):
            out = fn(*args, **kwargs)
            return tuple(out.get(name, gr.skip()) for name in names)

        return call

    plain = {name: getattr(h, name) for name in dir(h) if not name.startswith("__")}
    return SimpleNamespace(**{**plain, **{name: ordered(plain[name], names) for name, names in OUTPUTS.items()}})


def build(ctx: AppContext) -> None:
    """Lay out the training tab inside the current gr.Tabs and wire every event."""
    h = TrainHandlers(data_dir=ctx.data_dir)
    r = studio.defaults(studio.FAMILIES[0])
    if not mnist_available(ctx.data_dir):  # a file check: nothing is read or downloaded at start-up
        r = dataclasses.replace(r, dataset="shapes")
    with widget(ctx.reg, gr.Tab, label="train.tab", id="train", elem_id="train-tab") as tab:
        ctx.open_tab(tab)
        # Inside the tab: a component made directly in gr.Tabs would count as one of its tabs.
        form = {"sess": gr.State(None, delete_callback=_close_state)}
        widget(ctx.reg, gr.Markdown, text="train.intro", elem_id="train-intro")
        links.copy_row(ctx.reg, "train")  # a link that opens this view (demo/links.py)
        with gr.Row(equal_height=False):
            with gr.Column(scale=2, min_width=320):
                form.update(_settings(ctx.reg, r, h.jobs))
            with gr.Column(scale=3, min_width=420):
                form.update(_watch(ctx.reg))
        form["timer"] = gr.Timer(TICK_S, active=False)
    _wire(ctx, h, form)


def _wire(ctx: AppContext, h: TrainHandlers, form: dict) -> None:
    f, lang = form, ctx.lang
    recipe = {name: f[name] for name in RECIPE_FIELDS}   # the handlers' keyword values

    def run(name):  # a run handler returning {name: update}, its outputs from OUTPUTS
        return handler(named(getattr(h, name), f)), [f[n] for n in OUTPUTS[name]]

    switched = [f[n] for n in RECIPE_FIELDS if n not in KEPT_ON_SWITCH] + [f["data_note"], f["zip_file"]]
    f["family"].input(handler(named(h.family_changed, f)), [lang, f["family"]], switched, api_name="train_family",
                      **QUIET)
    f["dataset"].change(handler(h.dataset_changed), [lang, f["dataset"]], [f["data_note"], f["zip_file"]], **QUIET,
                        **PRIVATE)
    # Start and Resume only check, load and queue: they return at once, the timer shows the rest.
    for name in ("start", "resume"):
        fn, outputs = run(name)
        f[name].click(fn, [lang, f["sess"], f["zip_file"]], outputs, inputs_kwargs=recipe, api_name=f"train_{name}",
                      show_progress="minimal", concurrency_id="train-submit", concurrency_limit=4)
    # Off the queue, so Stop is never behind anything; it answers once the run has ended.
    fn, outputs = run("stop")
    f["stop"].click(fn, [lang, f["sess"]], outputs, api_name="train_stop", queue=False, **QUIET)
    # Ticks only read a job's buffer: many sessions may tick at once.
    fn, outputs = run("tick")
    f["timer"].tick(fn, [lang, f["sess"]], outputs, api_name="train_poll", concurrency_limit=None, **QUIET)
    f["use"].click(handler(h.use), [lang, f["sess"], ctx.uploads, f["name"]], [ctx.uploads, f["use_note"]],
                   api_name="train_use", **QUIET)
    f["download"].click(handler(h.download), [lang, f["sess"], f["name"]], f["download_file"],
                        api_name="train_download", show_progress="minimal")
    continued = ["sess", "status", "stats", "plot", *RECIPE_FIELDS, "data_note", "zip_file", "continue_file"]
    f["continue_file"].upload(handler(named(h.continue_from, f)), [lang, f["sess"], f["continue_file"], f["zip_file"]],
                              [f[n] for n in continued], api_name="train_continue", show_progress="minimal")
    ctx.demo.unload(h.unload)
    ctx.after_lang((handler(h.texts), [lang, f["sess"], f["dataset"]],
                    [f["status"], f["stats"], f["plot"], f["device_note"], f["data_note"]]), always=True)
