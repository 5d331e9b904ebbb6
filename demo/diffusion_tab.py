"""The diffusion tab: the forward (noising) process, the reverse (denoising) process step by step,
two settings forked from one seed, and a run branched from any of its steps.

`build(ctx)` lays the widgets out and wires them; the handlers live on `DiffusionHandlers`. Each
takes the session language first, then the session's uploads and/or its runs (a `Runs` in a
gr.State: this session's sampling runs, never shared), then widget values.

Timesteps in the UI are the paper's: x_t for t = T (pure noise) down to t = 0 (the sample).
"""

from __future__ import annotations

import contextlib
import math
import re
from types import SimpleNamespace

import gradio as gr
import numpy as np

from engines import runtime
from engines.diffusion.engine import MAX_RUN_BATCH, Setting
from engines.errors import UserError

from . import diffusion_plots as plots
from .common import (
    LIVE,
    LONG,
    PRIVATE,
    QUIET,
    AppContext,
    Models,
    Remembered,
    add_upload,
    card_table,
    display,
    model_row,
    warn,
)
from .diffusion_inputs import example_choices, examples_for, model_input
from . import forms, i18n_teach  # noqa: F401  (i18n_teach adds the play / pause strings)
from . import links
from .forms import Form, widget
from .i18n import LATEX_DELIMITERS, t
from .image_inputs import build_picker, choice_of, not_given

FAMILY = "ddpm"
DEFAULT_MODEL = "mnist-ddpm"
DEFAULT_BATCH = 16
DEFAULT_STEPS = 50
DEFAULT_T = 300
STREAM_EVERY_S = 0.15  # at most ~7 streamed frames a second (each is 3 PNGs); the first step is sent at once
GRID_SIDE = 300        # pixels: a batch grid is upscaled (nearest) to about this width
FORK_GRID_SIDE = 220
STRIP_DEFAULT = 8      # timesteps in the strip after a run
STRIP_MAX = 12
# Showing stored pictures needs no model: such events skip the queue altogether (a plain request).
INSTANT = {"trigger_mode": "always_last", "show_progress": "hidden", "queue": False}

# Fork presets: (setting A, setting B) as widget values; guidance None is the model's default.
FORK_PRESETS = {
    "samplers": ({"sampler": "ddpm", "steps": 1000, "eta": 0.0, "guidance": None},
                 {"sampler": "ddim", "steps": 20, "eta": 0.0, "guidance": None}),
    "guidance": ({"sampler": "ddim", "steps": 50, "eta": 0.0, "guidance": 0.0},
                 {"sampler": "ddim", "steps": 50, "eta": 0.0, "guidance": 3.0}),
    "eta": ({"sampler": "ddim", "steps": 50, "eta": 0.0, "guidance": None},
            {"sampler": "ddim", "steps": 50, "eta": 1.0, "guidance": None}),
    "steps": ({"sampler": "ddim", "steps": 5, "eta": 0.0, "guidance": None},
              {"sampler": "ddim", "steps": 100, "eta": 0.0, "guidance": None}),
}
FORK_DEFAULT_BATCH = 8
PLAY_FPS = 5            # scrubber steps a second while playing (fewer where answers take longer)
RUNS_TTL_S = 3600  # a session's stored runs are dropped an hour after their last update


class Runs:
    """One session's sampling runs (kept in its gr.State): each a bounded `Trajectory`.

    Stop buttons set a flag here; the running handler sees it after the step in progress,
    ends the run and shows what it computed. (Gradio's `cancels` would kill the handler before
    it could say so, racing with the Stop event's own update.)
    """

    def __init__(self):
        self.main = None         # the Reverse sub-tab's run
        self.branch = None       # the main run continued from one of its steps with another setting
        self.fork = [None, None]  # two settings from one seed
        self.stop = {"main": False, "branch": False, "fork": False}  # plain flags: Gradio deep-copies a new state

    def nbytes(self) -> int:
        return sum(r.nbytes() for r in (self.main, self.branch, *self.fork) if r is not None)


# --- text helpers -------------------------------------------------------------------------------


def _label_value(value):
    """A label dropdown's value -> what the engine takes: None (unconditional), "all" or a class."""
    if value in (None, "", "none"):
        return None
    return value


def _describe(setting: Setting, lang: str, conditional: bool) -> str:
    text = setting.short()
    if not conditional:
        return text
    if setting.label is None:
        return text + " · " + t("diffusion.label.none", lang)
    label = t("diffusion.label.all", lang) if setting.label == "all" else t("diffusion.label.one", lang,
                                                                           label=setting.label)
    return text + " · " + label + " · " + t("diffusion.guidance.short", lang, g=setting.guidance)


def _conditional(traj) -> bool:
    return traj.labels is not None or (traj.parent is not None and traj.setting.label is not None)


def _status(traj, lang: str, *, running: bool) -> str:
    """One line about a run: progress while it runs, what was kept afterwards."""
    desc = _describe(traj.setting, lang, traj.labels is not None)
    if running:
        return t("diffusion.status.running", lang, step=traj.done_steps, count=traj.count,
                 t=traj.ts[max(traj.done_steps - 1, 0)] + 1, s=traj.elapsed_s, setting=desc)
    if traj.done:
        kept = t("diffusion.kept.all", lang) if traj.stride == 1 else t("diffusion.kept.every", lang, k=traj.stride)
        return t("diffusion.status.done", lang, count=traj.count, n=traj.n, s=traj.elapsed_s, setting=desc,
                 kept=kept, frames=traj.num_frames, mb=traj.nbytes() / 2**20)
    return t("diffusion.status.stopped", lang, step=traj.done_steps, count=traj.count, s=traj.elapsed_s,
             frames=traj.num_frames)


def _caption(traj, frame: dict, lang: str) -> str:
    if frame["step"] == traj.count:
        return t("diffusion.caption.final", lang, count=traj.count)
    return t("diffusion.caption.step", lang, step=frame["step"], count=traj.count, t=frame["t"])


def _pictures(frame: dict, side: int = GRID_SIDE) -> dict:
    """x_t, the predicted noise and the predicted x_0 as grids, by the reverse sub-tab's output names."""
    return {"xt": plots.grid(frame["x_t"], side), "eps": plots.grid(frame["eps"], side),
            "x0": plots.grid(frame["x0"], side)}


def _stream(run, stop):
    """A run's growing trajectory, stepped on the engine's compute thread (see
    engines.runtime.stepped) and handed over every STREAM_EVERY_S or so; stop() ends it."""
    return runtime.stepped(run, STREAM_EVERY_S, stop)


def _latest(traj) -> dict:
    _, x_t, eps, x0 = traj.latest
    return {"x_t": x_t, "eps": eps, "x0": x0}


def _parse_timesteps(text: str | None, T: int) -> list[int] | None:
    """'1000, 500 0' -> [1000, 500, 0]; empty -> None (evenly spaced); anything else -> UserError."""
    text = (text or "").strip()
    if not text:
        return None
    parts = [p for p in re.split(r"[\s,，、;；]+", text) if p]
    try:
        values = [int(p) for p in parts]
    except ValueError:
        values = None
    if not values or len(values) > STRIP_MAX or any(not 0 <= v <= T for v in values):
        raise UserError("diffusion_strip_timesteps", high=T, max=STRIP_MAX, value=text[:60])
    return values


def _format_card(engine, lang: str) -> str:
    card, c = engine.card, engine.config
    none = t("card.none", lang)
    loss = (card.get("metrics") or {}).get("heldout_l_simple")
    classes = t("diffusion.card.classes", lang, k=c.num_classes) if c.num_classes else t("diffusion.card.uncond", lang)
    return card_table(engine, lang, [
        ("diffusion.card.loss", f"{loss:.4f}" if isinstance(loss, (int, float)) else none),
        ("diffusion.card.guidance", card.get("default_guidance", none) if c.num_classes else "—"),
        ("card.config", f"{c.image_size}×{c.image_size}×{c.channels}, U-Net width {c.width}, "
                        f"mult {tuple(c.channel_mult)}, patch {c.patch_size}; T = {c.timesteps}, {c.schedule}; "
                        + classes),
    ])


def _label_choices(engine, lang: str) -> list[tuple[str, str]]:
    k = engine.num_classes or 0
    names = engine.class_names  # the card's (engines.families.class_names)
    classes = [(names[i] if names is not None and i < len(names) else str(i), str(i)) for i in range(k)]
    return [(t("diffusion.label.all", lang), "all"), (t("diffusion.label.none", lang), "none"), *classes]


class DiffusionHandlers:
    """Event handlers; each returns display-ready values."""

    def __init__(self, models: Models, assets_dir=None, data_dir=None):
        self.models = models
        self.assets_dir = assets_dir
        self.data_dir = data_dir

    def _engine(self, uploads, model):
        return self.models.engine(model, uploads)

    def _examples(self, eng):
        return examples_for(eng, self.assets_dir, self.data_dir)

    @staticmethod
    def _setting(eng, sampler, steps, eta, label, guidance) -> Setting:
        """Widget values -> a Setting; the label and guidance only count for a class-conditional model."""
        conditional = eng.num_classes is not None
        label = _label_value(label) if conditional else None
        return Setting(sampler=sampler, steps=steps, eta=eta, label=label,
                       guidance=guidance if conditional and label is not None else None)

    # --- model -----------------------------------------------------------------------------------

    def model_changed(self, lang, v):
        """Card, examples, slider ranges and the class/guidance controls for the selected model."""
        if not v.model:  # no diffusion model shipped or uploaded yet: nothing to set up
            return {}
        eng = self._engine(v.uploads, v.model)
        c = eng.config
        images, labels = self._examples(eng)
        choices = example_choices(images, labels, eng.card.get("dataset"))
        conditional = eng.num_classes is not None
        default_g = float(eng.card.get("default_guidance", 3.0))
        T = c.timesteps
        # t starts again at its default (or T): a model change never reads the page's t, which an
        # earlier model change of the same session may have made stale (300 sent to a T = 20 model).
        fwd_t = min(DEFAULT_T, T)
        # A fresh update for each widget: Gradio consumes an update's value while applying it.
        labels = [gr.update(choices=_label_choices(eng, lang), value="all", visible=conditional) for _ in range(3)]
        guidance = [gr.update(visible=conditional, value=default_g) for _ in range(4)]
        return {
            "card": _format_card(eng, lang),
            "example": gr.update(choices=choices, value=choices[0][1] if choices else None),
            "source": gr.update(value="example" if choices else "sketch"),
            "fwd_t": gr.update(maximum=T, value=fwd_t),
            "schedule": gr.update(value=c.schedule),
            "steps": [gr.update(maximum=T, value=min(DEFAULT_STEPS, T)),  # reverse, branch, fork A, fork B
                      gr.update(maximum=T, value=min(DEFAULT_STEPS, T)),
                      gr.update(maximum=T, value=T), gr.update(maximum=T, value=min(20, T))],
            "labels": labels,
            "guidance": guidance,
        }

    def texts(self, lang, v):
        """After a language switch: the card, the model list and the class lists."""
        if not v.model:
            return {}
        eng = self._engine(v.uploads, v.model)
        labels = _label_choices(eng, lang)
        return {"card": _format_card(eng, lang),
                "model": gr.update(choices=self.models.choices(v.uploads, lang), value=v.model),
                **{name: gr.update(choices=labels, value=getattr(v, name))
                   for name in ("label", "branch_label", "fork_label")}}

    def upload(self, lang, v):
        try:
            name, eng, uploads = add_upload(v.files, v.uploads, FAMILY)
        except UserError as err:
            return {"status": warn(err, lang), "files": None}
        status = t("diffusion.upload.done", lang, name=name, T=eng.config.timesteps,
                   kind=t("diffusion.card.classes", lang, k=eng.num_classes) if eng.num_classes
                   else t("diffusion.card.uncond", lang))
        choices = self.models.choices(uploads, lang)
        return {"uploads": uploads, "model": gr.update(choices=choices, value="upload:" + name), "status": status,
                "files": None}

    # --- forward process -------------------------------------------------------------------------

    def forward(self, lang, v):
        """x_0, the noise, x_t at t, the histogram of x_t and the schedules with t marked."""
        if not v.model or not_given(v.source, v.upload, v.sketch):
            return {}
        eng, out, caption = self._forward(lang, v)
        side = 200
        hist, sched = self._forward_plots(eng, out, lang)
        return {"x0": display(out["x0"], side), "noise": display(out["noise"], side), "xt": display(out["xt"], side),
                "hist": hist, "sched": sched, "caption": caption}

    @staticmethod
    def _forward_plots(eng, out, lang):
        sched = plots.mark_schedules(plots.schedule_picture(eng.schedules(), eng.config.schedule, lang), out["t"])
        return plots.histogram(out["values"], out["t"], lang, start=out["x0"].astype(np.float32) / 127.5 - 1), sched

    def _forward(self, lang, v):
        eng = self._engine(v.uploads, v.model)
        image, converted = model_input(eng, choice_of(v), self._examples(eng))
        out = eng.forward(image, v.t_value, 0 if v.seed is None else v.seed, v.schedule or eng.config.schedule)
        c = eng.config
        caption = t("diffusion.fwd.caption", lang, t=out["t"], abar=out["abar"], signal=math.sqrt(out["abar"]),
                    noise=math.sqrt(1 - out["abar"]),
                    snr="∞" if math.isinf(out["snr"]) else f"{out['snr']:.3g}")
        if converted is not None:
            h, w, ch = converted
            caption += "\n\n" + t("diffusion.fwd.converted", lang, w=w, h=h, mode=t(f"diffusion.mode.{ch}", lang),
                                  size=c.image_size, target=t(f"diffusion.mode.{c.channels}", lang))
        return eng, out, caption

    # --- reverse process -------------------------------------------------------------------------

    def generate(self, lang, v, progress=gr.Progress()):  # noqa: B008 (how Gradio asks for a progress bar)
        """Stream x_t, the predicted noise and the predicted x_0 while sampling; then open the scrubber."""
        eng = self._engine(v.uploads, v.model)
        run = eng.run(v.n, 0 if v.seed is None else v.seed,
                      self._setting(eng, v.sampler, v.steps, v.eta, v.label, v.guidance))
        runs = v.runs if isinstance(v.runs, Runs) else Runs()
        runs.branch = None  # a branch belongs to the run it came from
        runs.stop["main"] = False
        with contextlib.closing(_stream(run, lambda: runs.stop["main"])) as frames:
            for traj in frames:
                runs.main = traj
                if traj.done or runs.stop["main"]:
                    break
                progress((traj.done_steps, traj.count), desc=t("diffusion.progress", lang), unit="steps")
                yield {"runs": runs, "status": _status(traj, lang, running=True), **_pictures(_latest(traj)),
                       "scrub": gr.update(interactive=False)}
        yield self._after_run(lang, runs)

    def _after_run(self, lang, runs):
        """Everything the reverse sub-tab shows once a run has ended (finished or stopped)."""
        traj = runs.main
        last = traj.num_frames - 1
        frame = traj.frame(last)
        ts = self._default_strip(traj)
        return {"runs": runs, "status": _status(traj, lang, running=False), **_pictures(frame),
                "scrub": gr.update(minimum=0, maximum=max(last, 1), value=last, step=1, interactive=last > 0),
                "caption": _caption(traj, frame, lang), "strip_no": gr.update(maximum=traj.n, value=1),
                "strip_ts": ts, "strip": self._strip_picture(traj, 1, ts), "after_run": gr.update(visible=True)}

    @staticmethod
    def stop(runs, which: str = "main"):
        """A Stop button: the running handler ends its run after the step in progress."""
        if isinstance(runs, Runs):
            runs.stop[which] = True

    def stop_branch(self, runs):
        self.stop(runs, "branch")

    def stop_fork(self, runs):
        self.stop(runs, "fork")

    def scrub(self, lang, v):
        """A stored step of the run: x_t, the predicted noise and the predicted x_0 (no recomputation)."""
        traj = self._main(v.runs)
        frame = traj.frame(0 if v.k is None else v.k)
        return {**_pictures(frame), "caption": _caption(traj, frame, lang)}

    def run_texts(self, lang, v):
        """After a language switch: the status and caption of the stored run."""
        runs = v.runs
        if not isinstance(runs, Runs) or runs.main is None or runs.main.num_frames == 0:
            return {}
        traj = runs.main
        return {"status": _status(traj, lang, running=False),
                "caption": _caption(traj, traj.frame(0 if v.k is None else v.k), lang)}

    @staticmethod
    def _main(runs):
        if not isinstance(runs, Runs) or runs.main is None or runs.main.num_frames == 0:
            raise UserError("diffusion_no_run")
        return runs.main

    @staticmethod
    def _frame_ts(traj) -> list[int]:
        return [traj.frame(k)["t"] for k in range(traj.num_frames)]

    def _default_strip(self, traj) -> str:
        ts = self._frame_ts(traj)
        picks = np.unique(np.round(np.linspace(0, len(ts) - 1, min(STRIP_DEFAULT, len(ts)))).astype(int))
        return ", ".join(str(ts[k]) for k in picks)

    def _strip_picture(self, traj, image_no, text) -> np.ndarray:
        T = max(traj.ts) + 1 if traj.parent is None else traj.parent[2]
        wanted = _parse_timesteps(text, max(T, max(traj.ts) + 1))
        ts = self._frame_ts(traj)
        if wanted is None:
            wanted = [int(v) for v in self._default_strip(traj).split(", ")]
        try:
            i = int(image_no)
        except (TypeError, ValueError):
            raise UserError("diffusion_image_index", value=image_no, high=traj.n) from None
        if i != image_no or not 1 <= i <= traj.n:
            raise UserError("diffusion_image_index", value=image_no, high=traj.n)
        columns = []
        for want in wanted:
            k = min(range(len(ts)), key=lambda j: (abs(ts[j] - want), j))
            f = traj.frame(k)
            columns.append((f"t = {f['t']}", np.stack([f["x_t"][i - 1], f["eps"][i - 1], f["x0"][i - 1]])))
        h = traj.frame(0)["x_t"].shape[1]
        return plots.labelled_strip(columns, rows=["xₜ", "ε̂", "x̂₀"], scale=max(2, round(84 / h)))

    def strip(self, lang, v):
        """The chosen image at the chosen timesteps: x_t, the predicted noise and x_0, top to bottom."""
        return self._strip_picture(self._main(v.runs), v.image_no, v.text)

    def export(self, lang, v):
        """The run as an animated GIF (and an MP4 where imageio-ffmpeg is installed)."""
        traj = self._main(v.runs)
        frames = plots.animation_frames(traj)
        gif = plots.write_gif(frames, plots.export_path(".gif"))
        if plots.mp4_available():
            mp4 = plots.write_mp4(frames, plots.export_path(".mp4"))
            return {"gif": gr.update(value=gif, visible=True), "mp4": gr.update(value=mp4, visible=True),
                    "note": t("diffusion.export.both", lang, frames=len(frames))}
        return {"gif": gr.update(value=gif, visible=True), "mp4": gr.update(value=None, visible=False),
                "note": t("diffusion.export.gif_only", lang, frames=len(frames))}

    # --- branch ----------------------------------------------------------------------------------

    def branch(self, lang, v, progress=gr.Progress()):  # noqa: B008 (how Gradio asks for a progress bar)
        """Continue the stored run from the step shown by the scrubber with another setting."""
        runs = v.runs
        traj = self._main(runs)
        eng = self._engine(v.uploads, v.model)
        steps_list = traj.frame_steps()
        k = min(max(int(0 if v.k is None else v.k), 0), len(steps_list) - 1)
        run = eng.branch(traj, steps_list[k], self._setting(eng, v.sampler, v.steps, v.eta, v.label, v.guidance))
        shown = {"start": plots.grid(traj.frame(k)["x_t"], FORK_GRID_SIDE),
                 "original": plots.grid(traj.final, FORK_GRID_SIDE) if traj.done else None}
        runs.stop["branch"] = False
        with contextlib.closing(_stream(run, lambda: runs.stop["branch"])) as frames:
            for b in frames:
                runs.branch = b
                if b.done or runs.stop["branch"]:
                    break
                progress((b.done_steps, b.count), desc=t("diffusion.progress", lang), unit="steps")
                yield {"runs": runs, "status": self._branch_status(b, lang, running=True), **shown,
                       "result": plots.grid(_latest(b)["x0"], FORK_GRID_SIDE)}
        b = runs.branch
        yield {"runs": runs, "status": self._branch_status(b, lang, running=False), **shown,
               "result": plots.grid(b.final if b.done else _latest(b)["x0"], FORK_GRID_SIDE)}

    @staticmethod
    def _branch_status(b, lang, *, running: bool) -> str:
        parent_setting, step, t_branch = b.parent
        conditional = b.labels is not None or parent_setting.label is not None
        head = t("diffusion.branch.from", lang, step=step, t=t_branch,
                 old=_describe(parent_setting, lang, conditional), new=_describe(b.setting, lang, conditional))
        return head + "\n\n" + _status(b, lang, running=running)

    # --- fork ------------------------------------------------------------------------------------

    def fork_preset(self, lang, v):
        """A preset -> the widgets of settings A and B (sampler, steps, eta, guidance each)."""
        eng = self._engine(v.uploads, v.model)
        default_g = float(eng.card.get("default_guidance", 3.0))
        out = {}
        for name, side in zip("ab", FORK_PRESETS.get(v.preset, FORK_PRESETS["samplers"])):
            steps = min(side["steps"], eng.config.timesteps)
            g = default_g if side["guidance"] is None else side["guidance"]
            out[name] = [side["sampler"], steps, side["eta"], g]
        return out

    def fork(self, lang, v, progress=gr.Progress()):  # noqa: B008 (how Gradio asks for a progress bar)
        """Sample with settings A and B from the same seed (the same x_T), one after the other."""
        eng = self._engine(v.uploads, v.model)
        seed = 0 if v.seed is None else v.seed
        settings = [self._setting(eng, v.a_sampler, v.a_steps, v.a_eta, v.label, v.a_guidance),
                    self._setting(eng, v.b_sampler, v.b_steps, v.b_eta, v.label, v.b_guidance)]
        for s in settings:  # both are checked before anything runs
            eng.check_setting(s)
        runs = v.runs if isinstance(v.runs, Runs) else Runs()
        runs.fork = [None, None]
        runs.stop["fork"] = False
        for side, setting in enumerate(settings):
            if runs.stop["fork"]:
                break
            with contextlib.closing(_stream(eng.run(v.n, seed, setting), lambda: runs.stop["fork"])) as frames:
                for traj in frames:
                    runs.fork[side] = traj
                    if traj.done or runs.stop["fork"]:
                        break
                    progress((traj.done_steps, traj.count), desc=t("diffusion.fork.progress", lang,
                                                                   side="AB"[side]), unit="steps")
                    frame = _latest(traj)
                    yield {"runs": runs, "pct": gr.update(interactive=False), "ab"[side]: [
                        t("diffusion.fork.side_running", lang, side="AB"[side], step=traj.done_steps,
                          count=traj.count), plots.grid(frame["x_t"], FORK_GRID_SIDE),
                        plots.grid(frame["x0"], FORK_GRID_SIDE)]}
        yield {"runs": runs, "pct": gr.update(value=100, interactive=True), **self._fork_view(runs, 100, lang)}

    def fork_scrub(self, lang, v):
        """Both runs at the same fraction of their way (0 = x_T, 100 = the samples)."""
        if not isinstance(v.runs, Runs) or v.runs.fork[0] is None:
            raise UserError("diffusion_no_run")
        return self._fork_view(v.runs, 100 if v.pct is None else v.pct, lang)

    def fork_texts(self, lang, v):
        if not isinstance(v.runs, Runs) or v.runs.fork[0] is None:
            return {}
        return self._fork_view(v.runs, 100 if v.pct is None else v.pct, lang)

    def _fork_view(self, runs, pct, lang):
        """{"a": [caption, x_t, x_0], "b": [...], "compare": text} at pct of each run's way."""
        out = {}
        for side, traj in enumerate(runs.fork):
            if traj is None or traj.num_frames == 0:
                out["ab"[side]] = [t("diffusion.fork.side_empty", lang, side="AB"[side]), None, None]
                continue
            frame = traj.frame_at(float(pct) / 100)
            desc = _describe(traj.setting, lang, traj.labels is not None)
            where = (t("diffusion.caption.final", lang, count=traj.count) if frame["step"] == traj.count
                     else t("diffusion.caption.step", lang, step=frame["step"], count=traj.count, t=frame["t"]))
            head = f"**{'AB'[side]}: {desc}** · " + t("diffusion.fork.time", lang, s=traj.elapsed_s)
            if not traj.done:
                head += " · " + t("diffusion.fork.unfinished", lang, step=traj.done_steps, count=traj.count)
            out["ab"[side]] = [head + "\n\n" + where, plots.grid(frame["x_t"], FORK_GRID_SIDE),
                               plots.grid(frame["x0"], FORK_GRID_SIDE)]
        return {**out, "compare": self._fork_compare(runs, lang)}

    @staticmethod
    def _fork_compare(runs, lang) -> str:
        a, b = runs.fork
        if a is None or b is None or not (a.done and b.done):
            return t("diffusion.fork.compare_pending", lang)
        diff = float(np.abs(a.final.astype(np.int16) - b.final.astype(np.int16)).mean())
        speed = a.elapsed_s / b.elapsed_s if b.elapsed_s > 0 else float("inf")
        return t("diffusion.fork.compare", lang, a_steps=a.count, b_steps=b.count, a_s=a.elapsed_s, b_s=b.elapsed_s,
                 ratio=speed, diff=diff)


def _setting_controls(reg, prefix: str, *, steps: int = DEFAULT_STEPS, sampler: str = "ddim", eta: float = 0.0,
                      with_label: bool = True, compact: bool = False):
    """Sampler, DDIM steps, eta, (class label) and guidance widgets; ids `<prefix>-sampler` ...

    compact: side by side in the current Row, without the help lines.
    """
    size = {"min_width": 150, "scale": 2} if compact else {}

    def info(key):
        return {} if compact else {"info": key}

    samplers = [("diffusion.sampler.ddpm", "ddpm"), ("diffusion.sampler.ddim", "ddim")]
    s = widget(reg, gr.Radio, choice_keys=samplers, value=sampler, label="diffusion.sampler",
               elem_id=f"{prefix}-sampler", **({"min_width": 260, "scale": 3} if compact else {}))
    n = widget(reg, gr.Slider, minimum=1, maximum=1000, value=steps, step=1, label="diffusion.steps",
               elem_id=f"{prefix}-steps", interactive=sampler == "ddim", **info("diffusion.steps.info"), **size)
    e = widget(reg, gr.Slider, minimum=0, maximum=1, value=eta, step=0.05, label="diffusion.eta",
               elem_id=f"{prefix}-eta", interactive=sampler == "ddim", **info("diffusion.eta.info"), **size)
    label = None
    if with_label:
        label = widget(reg, gr.Dropdown, choices=[], value="all", label="diffusion.label", elem_id=f"{prefix}-label",
                       allow_custom_value=True, visible=False, **size)
    g = widget(reg, gr.Slider, minimum=0, maximum=10, value=3, step=0.5, label="diffusion.guidance",
               elem_id=f"{prefix}-guidance", visible=False, **info("diffusion.guidance.info"), **size)

    def toggle(value):
        return gr.update(interactive=value == "ddim"), gr.update(interactive=value == "ddim")

    s.change(toggle, s, [n, e], queue=False, show_progress="hidden", **PRIVATE)
    return s, n, e, label, g


# --- layout: one function per sub-tab, each returning the components its events need ---------------

_PIXELS = {"interactive": False, "format": "png", "elem_classes": ["out-image", "pixelated"]}
_PLOT = {"interactive": False, "format": "png", "buttons": [], "elem_classes": ["out-image", "plot-image"]}


def _image(reg, key, elem_id, buttons=(), **kwargs):
    return widget(reg, gr.Image, label=key, elem_id=elem_id, buttons=list(buttons), **{**_PIXELS, **kwargs})


def _seed(reg, elem_id, **kwargs):
    return widget(reg, gr.Number, value=0, precision=0, minimum=0, maximum=2**32 - 1, label="diffusion.seed",
                  elem_id=elem_id, **kwargs)


def _stop(reg, elem_id):
    return widget(reg, gr.Button, text="diffusion.stop", variant="stop", elem_id=elem_id)


def _forward_tab(reg):
    with widget(reg, gr.Tab, label="diffusion.sub.forward", id="diffusion-forward", elem_id="diffusion-tab-forward"):
        widget(reg, gr.Markdown, text="diffusion.fwd.help")
        ui = SimpleNamespace()
        with gr.Row(equal_height=False):
            with gr.Column(scale=1, min_width=250):
                ui.pick = build_picker(reg, "diffusion-fwd", with_seed=False)
                ui.seed = widget(reg, gr.Number, value=0, precision=0, minimum=0, maximum=2**32 - 1,
                                 label="diffusion.fwd.seed", elem_id="diffusion-fwd-seed")
                ui.schedule = widget(reg, gr.Radio, choice_keys=[("diffusion.plot.linear", "linear"),
                                                                 ("diffusion.plot.cosine", "cosine")],
                                     value="linear", label="diffusion.fwd.schedule",
                                     info="diffusion.fwd.schedule.info", elem_id="diffusion-fwd-schedule")
            with gr.Column(scale=3, min_width=480):
                with gr.Row(equal_height=True):
                    ui.x0 = _image(reg, "diffusion.fwd.x0", "diffusion-fwd-x0", height=230)
                    ui.noise = _image(reg, "diffusion.fwd.noise", "diffusion-fwd-noise", height=230)
                    ui.xt = _image(reg, "diffusion.fwd.xt", "diffusion-fwd-xt", ["download"], height=230)
                ui.t = widget(reg, gr.Slider, minimum=0, maximum=1000, value=DEFAULT_T, step=1, label="diffusion.fwd.t",
                              info="diffusion.fwd.t.info", elem_id="diffusion-fwd-t")
                ui.caption = gr.Markdown(elem_id="diffusion-fwd-caption", latex_delimiters=LATEX_DELIMITERS)
        with gr.Row(equal_height=False):
            ui.hist = widget(reg, gr.Image, label="diffusion.fwd.hist", elem_id="diffusion-fwd-hist", scale=2,
                             min_width=300, **_PLOT)
            ui.sched = widget(reg, gr.Image, label="diffusion.fwd.schedules", elem_id="diffusion-fwd-schedules",
                              scale=5, min_width=500, **_PLOT)
        widget(reg, gr.Markdown, text="diffusion.fwd.note", elem_classes=["small-note"])
    ui.outputs = {"x0": ui.x0, "noise": ui.noise, "xt": ui.xt, "hist": ui.hist, "sched": ui.sched,
                  "caption": ui.caption}
    return ui


def _reverse_tab(reg):
    with widget(reg, gr.Tab, label="diffusion.sub.reverse", id="diffusion-reverse", elem_id="diffusion-tab-reverse"):
        widget(reg, gr.Markdown, text="diffusion.rev.help")
        ui = SimpleNamespace()
        with gr.Row(equal_height=False):
            with gr.Column(scale=1, min_width=270):
                ui.batch = widget(reg, gr.Slider, minimum=1, maximum=MAX_RUN_BATCH, value=DEFAULT_BATCH, step=1,
                                  label="diffusion.batch", elem_id="diffusion-batch")
                ui.seed = _seed(reg, "diffusion-seed")
                ui.sampler, ui.steps, ui.eta, ui.label, ui.guidance = _setting_controls(reg, "diffusion")
                with gr.Row():
                    ui.generate = widget(reg, gr.Button, text="diffusion.generate", variant="primary",
                                         elem_id="diffusion-generate")
                    ui.stop = _stop(reg, "diffusion-stop")
            with gr.Column(scale=3, min_width=520):
                ui.status = widget(reg, gr.Markdown, text="diffusion.status.idle", elem_id="diffusion-status")
                with gr.Row(equal_height=True):
                    ui.xt = _image(reg, "diffusion.xt", "diffusion-xt", ["download"], height=330)
                    ui.eps = _image(reg, "diffusion.eps", "diffusion-eps", height=330)
                    ui.x0 = _image(reg, "diffusion.x0", "diffusion-x0", ["download"], height=330)
                ui.scrub = widget(reg, gr.Slider, minimum=0, maximum=1, value=0, step=1, label="diffusion.scrub",
                                  info="diffusion.scrub.info", elem_id="diffusion-scrub", interactive=False)
                ui.play, ui.pause = _play_buttons(reg)
                ui.caption = gr.Markdown(elem_id="diffusion-scrub-caption")
        # What a finished (or stopped) run offers, shown once there is one.
        with gr.Column(visible=False, elem_id="diffusion-after-run") as ui.after_run:
            _strip_and_export(reg, ui)
            _branch_rows(reg, ui)
    return ui


def _play_buttons(reg):
    """Play / Pause for the scrubber: the page moves it a step at a time (demo/live.js, genlabPlay);
    the stylesheet shows the one that applies."""
    with gr.Row(elem_id="diffusion-play-row"):
        play = widget(reg, gr.Button, text="diffusion.play", size="sm", elem_id="diffusion-play", min_width=100)
        pause = widget(reg, gr.Button, text="diffusion.pause", size="sm", elem_id="diffusion-pause", min_width=100)
    return play, pause


def _wire_play(rv):
    """Play steps the scrubber through the stored run in the browser, each step a live move (the
    same request as a drag, answered from the stored pictures), the next one sent once the last is
    shown, at most PLAY_FPS a second; Pause leaves it where it is."""
    from . import live

    play = f"() => window.genlabPlay('diffusion-scrub', {live.key(rv.scrub)!r}, {PLAY_FPS})"
    rv.play.click(None, None, None, js=play, queue=False, show_progress="hidden", api_visibility="private")
    rv.pause.click(None, None, None, js="() => window.genlabPause('diffusion-scrub')", queue=False,
                   show_progress="hidden", api_visibility="private")


def _strip_and_export(reg, ui):
    widget(reg, gr.Markdown, text=("diffusion.strip.title", "### {}"))
    with gr.Row(equal_height=True):
        ui.strip_no = widget(reg, gr.Number, value=1, precision=0, minimum=1, maximum=DEFAULT_BATCH,
                             label="diffusion.strip.image", elem_id="diffusion-strip-image", scale=1, min_width=140)
        ui.strip_ts = widget(reg, gr.Textbox, label="diffusion.strip.ts", info="diffusion.strip.ts.info",
                             elem_id="diffusion-strip-ts", scale=4)
    ui.strip = _image(reg, "diffusion.strip", "diffusion-strip", ["download"])
    with gr.Row(equal_height=False):
        with gr.Column(scale=1, min_width=220):
            ui.export = widget(reg, gr.Button, text="diffusion.export", elem_id="diffusion-export-btn")
            ui.export_note = gr.Markdown(elem_id="diffusion-export-note", elem_classes=["small-note"])
        ui.export_gif = widget(reg, gr.File, label="diffusion.export.gif", elem_id="diffusion-export-gif",
                               interactive=False, visible=False, scale=2)
        ui.export_mp4 = widget(reg, gr.File, label="diffusion.export.mp4", elem_id="diffusion-export-mp4",
                               interactive=False, visible=False, scale=2)


def _branch_rows(reg, ui):
    widget(reg, gr.Markdown, text=("diffusion.branch.title", "### {}"))
    widget(reg, gr.Markdown, text="diffusion.branch.help")
    with gr.Row(equal_height=False, elem_id="diffusion-branch-box"):
        ui.b_sampler, ui.b_steps, ui.b_eta, ui.b_label, ui.b_guidance = _setting_controls(
            reg, "diffusion-branch", steps=50, sampler="ddim", compact=True)
    with gr.Row():
        ui.branch = widget(reg, gr.Button, text="diffusion.branch.run", variant="primary", elem_id="diffusion-branch")
        ui.branch_stop = _stop(reg, "diffusion-branch-stop")
    ui.branch_status = gr.Markdown(elem_id="diffusion-branch-status")
    with gr.Row(equal_height=True):
        ui.br_start = _image(reg, "diffusion.branch.start", "diffusion-branch-start", height=260)
        ui.br_orig = _image(reg, "diffusion.branch.original", "diffusion-branch-original", height=260)
        ui.br_result = _image(reg, "diffusion.branch.result", "diffusion-branch-result", ["download"], height=260)


def _fork_tab(reg):
    with widget(reg, gr.Tab, label="diffusion.sub.fork", id="diffusion-fork", elem_id="diffusion-tab-fork"):
        widget(reg, gr.Markdown, text="diffusion.fork.help")
        ui = SimpleNamespace(sides={})
        with gr.Row(equal_height=True):
            ui.preset = widget(reg, gr.Dropdown, choice_keys=[(f"diffusion.fork.preset.{p}", p) for p in
                                                              ("samplers", "guidance", "eta", "steps")],
                               value="samplers", label="diffusion.fork.preset", elem_id="diffusion-fork-preset",
                               scale=3)
            ui.batch = widget(reg, gr.Slider, minimum=1, maximum=16, value=FORK_DEFAULT_BATCH, step=1,
                              label="diffusion.batch", elem_id="diffusion-fork-batch", scale=2)
            ui.seed = _seed(reg, "diffusion-fork-seed", scale=1, min_width=120)
            ui.label = widget(reg, gr.Dropdown, choices=[], value="all", label="diffusion.label",
                              elem_id="diffusion-fork-label", allow_custom_value=True, visible=False, scale=2)
        with gr.Row(equal_height=False):
            for side, (samp, n_steps) in (("a", ("ddpm", 1000)), ("b", ("ddim", 20))):
                with gr.Column(min_width=300):
                    widget(reg, gr.Markdown, text=("diffusion.fork." + side, "#### {}"))
                    s, n, e, _, g = _setting_controls(reg, f"diffusion-fork-{side}", steps=n_steps, sampler=samp,
                                                      with_label=False)
                    ui.sides[side] = (s, n, e, g)
        with gr.Row():
            ui.run = widget(reg, gr.Button, text="diffusion.fork.run", variant="primary", elem_id="diffusion-fork-run")
            ui.stop = _stop(reg, "diffusion-fork-stop")
        ui.pct = widget(reg, gr.Slider, minimum=0, maximum=100, value=100, step=1,
                        label="diffusion.fork.progress_slider", info="diffusion.fork.progress_slider.info",
                        elem_id="diffusion-fork-progress", interactive=False)
        ui.out = []
        with gr.Row(equal_height=False):
            for side in ("a", "b"):
                with gr.Column(min_width=300):
                    cap = gr.Markdown(elem_id=f"diffusion-fork-{side}-caption")
                    with gr.Row(equal_height=True):
                        xt = _image(reg, "diffusion.xt", f"diffusion-fork-{side}-xt", height=250)
                        x0 = _image(reg, "diffusion.x0", f"diffusion-fork-{side}-x0", ["download"], height=250)
                    ui.out += [cap, xt, x0]
        ui.compare = gr.Markdown(elem_id="diffusion-fork-compare")
    return ui


def _explain_tab(reg):
    with widget(reg, gr.Tab, label="diffusion.sub.explain", id="diffusion-explain", elem_id="diffusion-tab-explain"):
        widget(reg, gr.Markdown, text="diffusion.explain.body", latex_delimiters=LATEX_DELIMITERS,
               elem_id="diffusion-explain")


# --- wiring: one function per sub-tab --------------------------------------------------------------

# preprocess=False: these inputs are plain JSON values, and the engine checks every one itself, so
# 0 or 100000 steps or a guidance of 1e9 sent through the API get its message in the session's
# language instead of Gradio's English bounds check.
RAW = {"preprocess": False}


def _forward_event(form, top, h, fw):
    return form(h.forward, {"model": top.model, **fw.pick.named, "seed": fw.seed, "t_value": fw.t,
                            "schedule": fw.schedule}, fw.outputs)


def _wire_forward(fw, mem, fwd, forward):
    """Every input redraws x_t, the histogram and the marked schedules (t's .input already delivers
    the value a drag ends on, so a .release would only draw it again)."""
    pick = fw.pick
    fwd_triggers = [pick.source.input, pick.example.input, pick.upload.upload, pick.sketch.change, fw.seed.submit,
                    fw.seed.input, fw.schedule.input]
    gr.on(fwd_triggers, *forward, **LIVE, **PRIVATE)
    gr.on([], *fwd, api_name="diffusion_forward", **LIVE)
    # One event for all six outputs: a second one for the plots, chained, delayed the picture (measured).
    mem.fast(fwd.fn, fwd.inputs, fw.t, fwd.outputs)


def _reverse_events(form, h, S, top, rv) -> SimpleNamespace:
    """The reverse sub-tab's events: generate, branch, scrub, strip, export."""
    by_runs = Form(S.lang)
    setting = {"sampler": rv.sampler, "steps": rv.steps, "eta": rv.eta, "label": rv.label, "guidance": rv.guidance}
    branch_setting = {"sampler": rv.b_sampler, "steps": rv.b_steps, "eta": rv.b_eta, "label": rv.b_label,
                      "guidance": rv.b_guidance}
    return SimpleNamespace(
        generate=form(h.generate, {"runs": S.runs, "model": top.model, "n": rv.batch, "seed": rv.seed, **setting}, {
            "runs": S.runs, "status": rv.status, "xt": rv.xt, "eps": rv.eps, "x0": rv.x0, "scrub": rv.scrub,
            "caption": rv.caption, "strip_no": rv.strip_no, "strip_ts": rv.strip_ts, "strip": rv.strip,
            "after_run": rv.after_run}),
        branch=form(h.branch, {"runs": S.runs, "model": top.model, "k": rv.scrub, **branch_setting}, {
            "runs": S.runs, "status": rv.branch_status, "start": rv.br_start, "original": rv.br_orig,
            "result": rv.br_result}),
        scrub=by_runs(h.scrub, {"runs": S.runs, "k": rv.scrub},
                      {"xt": rv.xt, "eps": rv.eps, "x0": rv.x0, "caption": rv.caption}),
        strip=by_runs(h.strip, {"runs": S.runs, "image_no": rv.strip_no, "text": rv.strip_ts}, rv.strip),
        export=by_runs(h.export, {"runs": S.runs}, {"gif": rv.export_gif, "mp4": rv.export_mp4,
                                                   "note": rv.export_note}),
        run_texts=by_runs(h.run_texts, {"runs": S.runs, "k": rv.scrub}, {"status": rv.status, "caption": rv.caption}),
    )


def _wire_reverse(h, S, rv, ev, mem, remember_runs):
    """Generate streams, Stop cancels and keeps what was computed, the slider scrubs."""
    stream = {"show_progress": "full", "show_progress_on": [rv.scrub], **LONG, **RAW}
    rv.generate.click(*ev.generate, api_name="diffusion_generate", **stream).then(**remember_runs)
    rv.branch.click(*ev.branch, api_name="diffusion_branch", show_progress="full", show_progress_on=[rv.br_result],
                    **LONG, **RAW).then(**remember_runs)
    rv.stop.click(h.stop, S.runs, None, api_name="diffusion_stop", queue=False, show_progress="hidden")
    rv.branch_stop.click(h.stop_branch, S.runs, None, api_name="diffusion_branch_stop", queue=False,
                         show_progress="hidden")
    scrub = ev.scrub
    mem.fast(scrub.fn, scrub.inputs, rv.scrub, scrub.outputs, triggers=[rv.scrub.input, rv.scrub.release])
    gr.on([], *scrub, api_name="diffusion_scrub", **INSTANT)
    gr.on([rv.strip_no.submit, rv.strip_no.input, rv.strip_ts.submit], *ev.strip, api_name="diffusion_strip",
          **INSTANT)
    rv.export.click(*ev.export, api_name="diffusion_export", show_progress="minimal", concurrency_limit=2)
    _wire_play(rv)


def _fork_outputs(fk) -> dict:
    """The fork's outputs by name: each side's caption, x_t and x_0, and the comparison."""
    return {"a": fk.out[:3], "b": fk.out[3:], "compare": fk.compare}


def _wire_fork(form, h, S, top, fk, remember_runs):
    """A preset fills both settings; Run streams A then B; the slider compares them at any point."""
    sides = {f"{side}_{name}": widget for side in "ab"
             for name, widget in zip(("sampler", "steps", "eta", "guidance"), fk.sides[side])}
    fk.preset.input(*form(h.fork_preset, {"model": top.model, "preset": fk.preset},
                          {"a": list(fk.sides["a"]), "b": list(fk.sides["b"])}), **QUIET, **PRIVATE)
    fork = form(h.fork, {"runs": S.runs, "model": top.model, "n": fk.batch, "seed": fk.seed, "label": fk.label,
                         **sides}, {"runs": S.runs, "pct": fk.pct, **_fork_outputs(fk)})
    fk.run.click(*fork, api_name="diffusion_fork", show_progress="full", show_progress_on=[fk.pct], **LONG,
                 **RAW).then(**remember_runs)
    fk.stop.click(h.stop_fork, S.runs, None, api_name="diffusion_fork_stop", queue=False, show_progress="hidden")
    gr.on([fk.pct.input, fk.pct.release], *Form(S.lang)(h.fork_scrub, {"runs": S.runs, "pct": fk.pct},
                                                        _fork_outputs(fk)),
          api_name="diffusion_fork_scrub", **INSTANT)


def _model_events(form, h, top, fw, rv, fk) -> SimpleNamespace:
    """The model's events: a model change sets every sub-tab's ranges; texts after a language switch."""
    a, b = fk.sides["a"], fk.sides["b"]
    return SimpleNamespace(
        model=form(h.model_changed, {"model": top.model}, {
            "card": top.card, "example": fw.pick.example, "source": fw.pick.source, "fwd_t": fw.t,
            "schedule": fw.schedule, "steps": [rv.steps, rv.b_steps, a[1], b[1]],
            "labels": [rv.label, rv.b_label, fk.label], "guidance": [rv.guidance, rv.b_guidance, a[3], b[3]]}),
        texts=form(h.texts, {"model": top.model, "label": rv.label, "branch_label": rv.b_label,
                             "fork_label": fk.label},
                   {"card": top.card, "model": top.model, "label": rv.label, "branch_label": rv.b_label,
                    "fork_label": fk.label}),
        upload=form(h.upload, {"files": top.upload_files}, {"uploads": form.session["uploads"], "model": top.model,
                                                            "status": top.upload_status, "files": top.upload_files}),
    )


def _wire_model(top, ev, forward):
    """Model changes and uploads; -> the chain that follows a model change (the forward process)."""

    def model_chain(dep):
        return dep.then(*forward, **QUIET, **PRIVATE)

    model_chain(top.model.change(*ev.model, api_name="diffusion_model", **QUIET))
    top.upload_files.upload(*ev.upload, api_name="diffusion_upload", **QUIET)
    return model_chain


def _wire_session(ctx, h, S, fk, forward, mem, ev, rev, model_chain):
    """Session values for the scrubber, the first load, trained models, language switches."""
    # The scrubber's session values (language, runs), for its live event.
    ctx.demo.load(*mem.remember(S.LR), None, queue=False, show_progress="hidden", **PRIVATE)
    # First load: the model's settings, then the forward process.
    # (a link's late settings follow it, then the forward process again: demo/classroom.py)
    ctx.refreshed["diffusion"] = (model_chain(ctx.opening.event(*ev.model, **QUIET, **PRIVATE)), [forward])
    # A model trained in the training tab joins this session's dropdown.
    ctx.uploads.change(*ev.texts, **QUIET, **PRIVATE)
    # After a language switch: the texts built in Python.
    ctx.after_lang(tuple(forward))
    ctx.after_lang(tuple(ev.texts), (*mem.remember(S.LR), None), tuple(rev.run_texts),
                   tuple(Form(ctx.lang)(h.fork_texts, {"runs": S.runs, "pct": fk.pct}, _fork_outputs(fk))),
                   always=True)


def build(ctx: AppContext) -> None:
    """Lay out the diffusion tab inside the current gr.Tabs and wire every event."""
    reg = ctx.reg
    models = Models(FAMILY, ctx.assets_dir)
    h = DiffusionHandlers(models, ctx.assets_dir, ctx.data_dir)
    default = models.default(DEFAULT_MODEL)
    with widget(reg, gr.Tab, label="diffusion.tab", id="diffusion", elem_id="diffusion-tab") as tab:
        ctx.open_tab(tab)
        # This session's Runs: a fresh one per session (Gradio calls a callable value), so a Stop pressed
        # before the first frame still reaches the run. Inside the Tab: a bare child of gr.Tabs shows as a tab.
        runs = gr.State(Runs, time_to_live=RUNS_TTL_S)
        mem = Remembered()  # the live sliders' other inputs, per session
        widget(reg, gr.Markdown, text="diffusion.intro", elem_id="diffusion-intro")
        if default is None:
            widget(reg, gr.Markdown, text="diffusion.no_models", elem_id="diffusion-no-models")
        top = SimpleNamespace(**dict(zip(("model", "card", "upload_files", "upload_status"),
                                         model_row(reg, "diffusion", models.choices({}, reg.lang), default))))
        links.copy_row(reg, "diffusion")  # a link that opens this view (demo/links.py)
        with gr.Tabs(elem_id="diffusion-subtabs"):
            fw, rv, fk = _forward_tab(reg), _reverse_tab(reg), _fork_tab(reg)
            _explain_tab(reg)
    # The session's states: language, runs (the events' uploads come from the Form).
    S = SimpleNamespace(lang=ctx.lang, LR=[ctx.lang, runs], runs=runs)
    form = Form(ctx.lang, uploads=ctx.uploads)
    # Live sliders send only themselves: the other inputs of their events are remembered per session
    # from the events that take them (see common.Remembered).
    fwd = _forward_event(form, top, h, fw)
    forward = forms.Event(*mem.record(fwd.fn, fwd.inputs), fwd.outputs)
    ev = _model_events(form, h, top, fw, rv, fk)
    model_chain = _wire_model(top, ev, forward)
    _wire_forward(fw, mem, fwd, forward)
    # The events that set `runs` (preprocess=False hands them None, so they may make a new one) are
    # followed by one that remembers it for the scrubber's live event.
    fn, inputs = mem.remember(S.LR)
    remember_runs = {"fn": fn, "inputs": inputs, "outputs": None, "queue": False, "show_progress": "hidden", **PRIVATE}
    rev = _reverse_events(form, h, S, top, rv)
    _wire_reverse(h, S, rv, rev, mem, remember_runs)
    _wire_fork(form, h, S, top, fk, remember_runs)
    _wire_session(ctx, h, S, fk, forward, mem, ev, rev, model_chain)
