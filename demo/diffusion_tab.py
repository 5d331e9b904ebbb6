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
    handler,
    model_row,
    warn,
)
from .diffusion_inputs import example_choices, examples_for, model_input
from .i18n import LATEX_DELIMITERS, t
from .vae_inputs import Choice, build_picker, not_given

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


def _pictures(frame: dict, side: int = GRID_SIDE) -> tuple:
    return plots.grid(frame["x_t"], side), plots.grid(frame["eps"], side), plots.grid(frame["x0"], side)


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
    names = None
    if engine.card.get("dataset") == "shapes":
        from engines.data import SHAPES

        names = SHAPES
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

    def model_changed(self, lang, uploads, model, fwd_t):
        """Card, examples, slider ranges and the class/guidance controls for the selected model."""
        if not model:  # no diffusion model shipped or uploaded yet: nothing to set up
            return (gr.skip(),) * 16
        eng = self._engine(uploads, model)
        c = eng.config
        images, labels = self._examples(eng)
        choices = example_choices(images, labels, eng.card.get("dataset"))
        conditional = eng.num_classes is not None
        default_g = float(eng.card.get("default_guidance", 3.0))
        T = c.timesteps
        fwd_t = DEFAULT_T if fwd_t is None else min(int(fwd_t), T)

        # A fresh update for each widget: Gradio consumes an update's value while applying it.
        def labels():
            return gr.update(choices=_label_choices(eng, lang), value="all", visible=conditional)

        def guidance():
            return gr.update(visible=conditional, value=default_g)

        return (
            _format_card(eng, lang),
            gr.update(choices=choices, value=choices[0][1] if choices else None),
            gr.update(value="example" if choices else "sketch"),
            gr.update(maximum=T, value=fwd_t),
            gr.update(value=c.schedule),
            gr.update(maximum=T, value=min(DEFAULT_STEPS, T)), gr.update(maximum=T, value=min(DEFAULT_STEPS, T)),
            gr.update(maximum=T, value=T), gr.update(maximum=T, value=min(20, T)),
            labels(), labels(), labels(),
            guidance(), guidance(), guidance(), guidance(),
        )

    def texts(self, lang, uploads, model, label, branch_label, fork_label):
        """After a language switch: the card, the model list and the class lists."""
        if not model:
            return (gr.skip(),) * 5
        eng = self._engine(uploads, model)
        choices = self.models.choices(uploads, lang)
        labels = _label_choices(eng, lang)
        return (_format_card(eng, lang), gr.update(choices=choices, value=model),
                *(gr.update(choices=labels, value=v) for v in (label, branch_label, fork_label)))

    def upload(self, lang, uploads, files):
        try:
            name, eng, uploads = add_upload(files, uploads, FAMILY)
        except UserError as err:
            return gr.skip(), gr.skip(), warn(err, lang), None
        value = "upload:" + name
        status = t("diffusion.upload.done", lang, name=name, T=eng.config.timesteps,
                   kind=t("diffusion.card.classes", lang, k=eng.num_classes) if eng.num_classes
                   else t("diffusion.card.uncond", lang))
        return uploads, gr.update(choices=self.models.choices(uploads, lang), value=value), status, None

    # --- forward process -------------------------------------------------------------------------

    def forward(self, lang, uploads, model, source, example, upload, sketch, seed, t_value, schedule):
        """x_0, the noise, x_t at t, the histogram of x_t and the schedules with t marked."""
        if not model or not_given(source, upload, sketch):
            return (gr.skip(),) * 6
        eng, out, caption = self._forward(lang, uploads, model, source, example, upload, sketch, seed, t_value,
                                          schedule)
        side = 200
        return (display(out["x0"], side), display(out["noise"], side), display(out["xt"], side),
                *self._forward_plots(eng, out, lang), caption)

    @staticmethod
    def _forward_plots(eng, out, lang):
        sched = plots.mark_schedules(plots.schedule_picture(eng.schedules(), eng.config.schedule, lang), out["t"])
        return plots.histogram(out["values"], out["t"], lang, start=out["x0"].astype(np.float32) / 127.5 - 1), sched

    def _forward(self, lang, uploads, model, source, example, upload, sketch, seed, t_value, schedule):
        eng = self._engine(uploads, model)
        image, converted = model_input(eng, Choice(source, example=example, upload=upload, sketch=sketch),
                                       self._examples(eng))
        out = eng.forward(image, t_value, 0 if seed is None else seed, schedule or eng.config.schedule)
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

    def generate(self, lang, uploads, runs, model, n, seed, sampler, steps, eta, label, guidance,
                 progress=gr.Progress()):  # noqa: B008 (how Gradio asks for a progress bar)
        """Stream x_t, the predicted noise and the predicted x_0 while sampling; then open the scrubber."""
        eng = self._engine(uploads, model)
        run = eng.run(n, 0 if seed is None else seed, self._setting(eng, sampler, steps, eta, label, guidance))
        runs = runs if isinstance(runs, Runs) else Runs()
        runs.branch = None  # a branch belongs to the run it came from
        runs.stop["main"] = False
        with contextlib.closing(_stream(run, lambda: runs.stop["main"])) as frames:
            for traj in frames:
                runs.main = traj
                if traj.done or runs.stop["main"]:
                    break
                progress((traj.done_steps, traj.count), desc=t("diffusion.progress", lang), unit="steps")
                yield (runs, _status(traj, lang, running=True), *_pictures(_latest(traj)),
                       gr.update(interactive=False), gr.skip(), gr.skip(), gr.skip(), gr.skip(), gr.skip())
        yield self._after_run(lang, runs)

    def _after_run(self, lang, runs):
        """Everything the reverse sub-tab shows once a run has ended (finished or stopped)."""
        traj = runs.main
        last = traj.num_frames - 1
        frame = traj.frame(last)
        ts = self._default_strip(traj)
        return (runs, _status(traj, lang, running=False), *_pictures(frame),
                gr.update(minimum=0, maximum=max(last, 1), value=last, step=1, interactive=last > 0),
                _caption(traj, frame, lang), gr.update(maximum=traj.n, value=1), ts,
                self._strip_picture(traj, 1, ts), gr.update(visible=True))

    @staticmethod
    def stop(runs, which: str = "main"):
        """A Stop button: the running handler ends its run after the step in progress."""
        if isinstance(runs, Runs):
            runs.stop[which] = True

    def stop_branch(self, runs):
        self.stop(runs, "branch")

    def stop_fork(self, runs):
        self.stop(runs, "fork")

    def scrub(self, lang, runs, k):
        """A stored step of the run: x_t, the predicted noise and the predicted x_0 (no recomputation)."""
        traj = self._main(runs)
        frame = traj.frame(0 if k is None else k)
        return (*_pictures(frame), _caption(traj, frame, lang))

    def run_texts(self, lang, runs, k):
        """After a language switch: the status and caption of the stored run."""
        if not isinstance(runs, Runs) or runs.main is None or runs.main.num_frames == 0:
            return gr.skip(), gr.skip()
        traj = runs.main
        return _status(traj, lang, running=False), _caption(traj, traj.frame(0 if k is None else k), lang)

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

    def strip(self, lang, runs, image_no, text):
        """The chosen image at the chosen timesteps: x_t, the predicted noise and x_0, top to bottom."""
        return self._strip_picture(self._main(runs), image_no, text)

    def export(self, lang, runs):
        """The run as an animated GIF (and an MP4 where imageio-ffmpeg is installed)."""
        traj = self._main(runs)
        frames = plots.animation_frames(traj)
        gif = plots.write_gif(frames, plots.export_path(".gif"))
        if plots.mp4_available():
            mp4 = plots.write_mp4(frames, plots.export_path(".mp4"))
            note = t("diffusion.export.both", lang, frames=len(frames))
            return gr.update(value=gif, visible=True), gr.update(value=mp4, visible=True), note
        note = t("diffusion.export.gif_only", lang, frames=len(frames))
        return gr.update(value=gif, visible=True), gr.update(value=None, visible=False), note

    # --- branch ----------------------------------------------------------------------------------

    def branch(self, lang, uploads, runs, model, k, sampler, steps, eta, label, guidance, progress=gr.Progress()):  # noqa: B008 (how Gradio asks for a progress bar)
        """Continue the stored run from the step shown by the scrubber with another setting."""
        traj = self._main(runs)
        eng = self._engine(uploads, model)
        steps_list = traj.frame_steps()
        k = min(max(int(0 if k is None else k), 0), len(steps_list) - 1)
        step = steps_list[k]
        run = eng.branch(traj, step, self._setting(eng, sampler, steps, eta, label, guidance))
        start = traj.frame(k)
        original = plots.grid(traj.final, FORK_GRID_SIDE) if traj.done else None
        runs.stop["branch"] = False
        with contextlib.closing(_stream(run, lambda: runs.stop["branch"])) as frames:
            for b in frames:
                runs.branch = b
                if b.done or runs.stop["branch"]:
                    break
                progress((b.done_steps, b.count), desc=t("diffusion.progress", lang), unit="steps")
                yield (runs, self._branch_status(b, lang, running=True), plots.grid(start["x_t"], FORK_GRID_SIDE),
                       original, plots.grid(_latest(b)["x0"], FORK_GRID_SIDE))
        yield (runs, self._branch_status(runs.branch, lang, running=False), plots.grid(start["x_t"], FORK_GRID_SIDE),
               original, plots.grid(runs.branch.final if runs.branch.done else _latest(runs.branch)["x0"],
                                    FORK_GRID_SIDE))

    @staticmethod
    def _branch_status(b, lang, *, running: bool) -> str:
        parent_setting, step, t_branch = b.parent
        conditional = b.labels is not None or parent_setting.label is not None
        head = t("diffusion.branch.from", lang, step=step, t=t_branch,
                 old=_describe(parent_setting, lang, conditional), new=_describe(b.setting, lang, conditional))
        return head + "\n\n" + _status(b, lang, running=running)

    # --- fork ------------------------------------------------------------------------------------

    def fork_preset(self, lang, uploads, model, preset):
        """A preset -> the widgets of settings A and B."""
        eng = self._engine(uploads, model)
        default_g = float(eng.card.get("default_guidance", 3.0))
        out = []
        for side in FORK_PRESETS.get(preset, FORK_PRESETS["samplers"]):
            steps = min(side["steps"], eng.config.timesteps)
            g = default_g if side["guidance"] is None else side["guidance"]
            out += [side["sampler"], steps, side["eta"], g]
        return tuple(out)

    def fork(self, lang, uploads, runs, model, n, seed, label, a_sampler, a_steps, a_eta, a_guidance,
             b_sampler, b_steps, b_eta, b_guidance, progress=gr.Progress()):  # noqa: B008 (how Gradio asks for a progress bar)
        """Sample with settings A and B from the same seed (the same x_T), one after the other."""
        eng = self._engine(uploads, model)
        seed = 0 if seed is None else seed
        settings = [self._setting(eng, a_sampler, a_steps, a_eta, label, a_guidance),
                    self._setting(eng, b_sampler, b_steps, b_eta, label, b_guidance)]
        for s in settings:  # both are checked before anything runs
            eng.check_setting(s)
        runs = runs if isinstance(runs, Runs) else Runs()
        runs.fork = [None, None]
        runs.stop["fork"] = False
        skip4 = (gr.skip(),) * 4
        for side, setting in enumerate(settings):
            if runs.stop["fork"]:
                break
            with contextlib.closing(_stream(eng.run(n, seed, setting), lambda: runs.stop["fork"])) as frames:
                for traj in frames:
                    runs.fork[side] = traj
                    if traj.done or runs.stop["fork"]:
                        break
                    progress((traj.done_steps, traj.count), desc=t("diffusion.fork.progress", lang,
                                                                   side="AB"[side]), unit="steps")
                    frame = _latest(traj)
                    pics = (t("diffusion.fork.side_running", lang, side="AB"[side], step=traj.done_steps,
                              count=traj.count), plots.grid(frame["x_t"], FORK_GRID_SIDE),
                            plots.grid(frame["x0"], FORK_GRID_SIDE))
                    shown = (*pics, *skip4[:3]) if side == 0 else (*skip4[:3], *pics)
                    yield (runs, gr.update(interactive=False), *shown, gr.skip())
        yield (runs, gr.update(value=100, interactive=True), *self._fork_view(runs, 100, lang))

    def fork_scrub(self, lang, runs, pct):
        """Both runs at the same fraction of their way (0 = x_T, 100 = the samples)."""
        if not isinstance(runs, Runs) or runs.fork[0] is None:
            raise UserError("diffusion_no_run")
        return self._fork_view(runs, 100 if pct is None else pct, lang)

    def fork_texts(self, lang, runs, pct):
        if not isinstance(runs, Runs) or runs.fork[0] is None:
            return (gr.skip(),) * 7
        return self._fork_view(runs, 100 if pct is None else pct, lang)

    def _fork_view(self, runs, pct, lang):
        out = []
        for side, traj in enumerate(runs.fork):
            if traj is None or traj.num_frames == 0:
                out += [t("diffusion.fork.side_empty", lang, side="AB"[side]), None, None]
                continue
            frame = traj.frame_at(float(pct) / 100)
            desc = _describe(traj.setting, lang, traj.labels is not None)
            where = (t("diffusion.caption.final", lang, count=traj.count) if frame["step"] == traj.count
                     else t("diffusion.caption.step", lang, step=frame["step"], count=traj.count, t=frame["t"]))
            head = f"**{'AB'[side]}: {desc}** · " + t("diffusion.fork.time", lang, s=traj.elapsed_s)
            if not traj.done:
                head += " · " + t("diffusion.fork.unfinished", lang, step=traj.done_steps, count=traj.count)
            out += [head + "\n\n" + where, plots.grid(frame["x_t"], FORK_GRID_SIDE),
                    plots.grid(frame["x0"], FORK_GRID_SIDE)]
        return (*out, self._fork_compare(runs, lang))

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
        return {} if compact else {"info": reg.text(key)}

    def info_key(key):
        return {} if compact else {"info": key}

    samplers = [("diffusion.sampler.ddpm", "ddpm"), ("diffusion.sampler.ddim", "ddim")]
    s = reg(gr.Radio(reg.choices(samplers), value=sampler, label=reg.text("diffusion.sampler"),
                     elem_id=f"{prefix}-sampler", **({"min_width": 260, "scale": 3} if compact else {})),
            label="diffusion.sampler", choices=samplers)
    n = reg(gr.Slider(1, 1000, value=steps, step=1, label=reg.text("diffusion.steps"), elem_id=f"{prefix}-steps",
                      interactive=sampler == "ddim", **info("diffusion.steps.info"), **size),
            label="diffusion.steps", **info_key("diffusion.steps.info"))
    e = reg(gr.Slider(0, 1, value=eta, step=0.05, label=reg.text("diffusion.eta"), elem_id=f"{prefix}-eta",
                      interactive=sampler == "ddim", **info("diffusion.eta.info"), **size),
            label="diffusion.eta", **info_key("diffusion.eta.info"))
    label = None
    if with_label:
        label = reg(gr.Dropdown([], value="all", label=reg.text("diffusion.label"), elem_id=f"{prefix}-label",
                                allow_custom_value=True, visible=False, **size), label="diffusion.label")
    g = reg(gr.Slider(0, 10, value=3, step=0.5, label=reg.text("diffusion.guidance"), elem_id=f"{prefix}-guidance",
                      visible=False, **info("diffusion.guidance.info"), **size),
            label="diffusion.guidance", **info_key("diffusion.guidance.info"))

    def toggle(value):
        return gr.update(interactive=value == "ddim"), gr.update(interactive=value == "ddim")

    s.change(toggle, s, [n, e], queue=False, show_progress="hidden", **PRIVATE)
    return s, n, e, label, g


def build(ctx: AppContext) -> None:
    """Lay out the diffusion tab inside the current gr.Tabs and wire every event."""
    reg, lang_state, uploads = ctx.reg, ctx.lang, ctx.uploads
    models = Models(FAMILY, ctx.assets_dir)
    h = DiffusionHandlers(models, ctx.assets_dir, ctx.data_dir)
    default = models.default(DEFAULT_MODEL)
    choices = models.choices({}, reg.lang)
    LU = [lang_state, uploads]

    with reg(gr.Tab(reg.text("diffusion.tab"), id="diffusion", elem_id="diffusion-tab"), label="diffusion.tab"):
        # This session's Runs: a fresh one per session (Gradio calls a callable value), so a Stop pressed
        # before the first frame still reaches the run. Inside the Tab: a bare child of gr.Tabs shows as a tab.
        runs = gr.State(Runs, time_to_live=RUNS_TTL_S)
        mem = Remembered()  # the live sliders' other inputs, per session
        LUR = [lang_state, uploads, runs]
        LR = [lang_state, runs]
        reg(gr.Markdown(reg.text("diffusion.intro"), elem_id="diffusion-intro"), value="diffusion.intro")
        if default is None:
            reg(gr.Markdown(reg.text("diffusion.no_models"), elem_id="diffusion-no-models"), value="diffusion.no_models")
        model, card, upload_files, upload_status = model_row(reg, "diffusion", choices, default)

        with gr.Tabs(elem_id="diffusion-subtabs"):
            # --- 1. forward process --------------------------------------------------------------
            with reg(gr.Tab(reg.text("diffusion.sub.forward"), id="diffusion-forward", elem_id="diffusion-tab-forward"),
                     label="diffusion.sub.forward"):
                reg(gr.Markdown(reg.text("diffusion.fwd.help")), value="diffusion.fwd.help")
                with gr.Row(equal_height=False):
                    with gr.Column(scale=1, min_width=250):
                        pick = build_picker(reg, "diffusion-fwd", with_seed=False)
                        fwd_seed = reg(gr.Number(value=0, precision=0, minimum=0, maximum=2**32 - 1,
                                                 label=reg.text("diffusion.fwd.seed"), elem_id="diffusion-fwd-seed"),
                                       label="diffusion.fwd.seed")
                        schedules = [("diffusion.plot.linear", "linear"), ("diffusion.plot.cosine", "cosine")]
                        fwd_schedule = reg(gr.Radio(reg.choices(schedules), value="linear",
                                                    label=reg.text("diffusion.fwd.schedule"),
                                                    info=reg.text("diffusion.fwd.schedule.info"),
                                                    elem_id="diffusion-fwd-schedule"),
                                           label="diffusion.fwd.schedule", info="diffusion.fwd.schedule.info",
                                           choices=schedules)
                    with gr.Column(scale=3, min_width=480):
                        with gr.Row(equal_height=True):
                            fwd_x0 = reg(gr.Image(label=reg.text("diffusion.fwd.x0"), elem_id="diffusion-fwd-x0",
                                                  height=230, interactive=False, format="png", buttons=[],
                                                  elem_classes=["out-image", "pixelated"]), label="diffusion.fwd.x0")
                            fwd_noise = reg(gr.Image(label=reg.text("diffusion.fwd.noise"), elem_id="diffusion-fwd-noise",
                                                     height=230, interactive=False, format="png", buttons=[],
                                                     elem_classes=["out-image", "pixelated"]), label="diffusion.fwd.noise")
                            fwd_xt = reg(gr.Image(label=reg.text("diffusion.fwd.xt"), elem_id="diffusion-fwd-xt",
                                                  height=230, interactive=False, format="png", buttons=["download"],
                                                  elem_classes=["out-image", "pixelated"]), label="diffusion.fwd.xt")
                        fwd_t = reg(gr.Slider(0, 1000, value=DEFAULT_T, step=1, label=reg.text("diffusion.fwd.t"),
                                              info=reg.text("diffusion.fwd.t.info"), elem_id="diffusion-fwd-t"),
                                    label="diffusion.fwd.t", info="diffusion.fwd.t.info")
                        fwd_caption = gr.Markdown(elem_id="diffusion-fwd-caption", latex_delimiters=LATEX_DELIMITERS)
                with gr.Row(equal_height=False):
                    fwd_hist = reg(gr.Image(label=reg.text("diffusion.fwd.hist"), elem_id="diffusion-fwd-hist",
                                            interactive=False, format="png", buttons=[], scale=2, min_width=300,
                                            elem_classes=["out-image", "plot-image"]), label="diffusion.fwd.hist")
                    fwd_sched = reg(gr.Image(label=reg.text("diffusion.fwd.schedules"), elem_id="diffusion-fwd-schedules",
                                             interactive=False, format="png", buttons=[], scale=5, min_width=500,
                                             elem_classes=["out-image", "plot-image"]), label="diffusion.fwd.schedules")
                reg(gr.Markdown(reg.text("diffusion.fwd.note"), elem_classes=["small-note"]), value="diffusion.fwd.note")

            # --- 2. reverse process --------------------------------------------------------------
            with reg(gr.Tab(reg.text("diffusion.sub.reverse"), id="diffusion-reverse", elem_id="diffusion-tab-reverse"),
                     label="diffusion.sub.reverse"):
                reg(gr.Markdown(reg.text("diffusion.rev.help")), value="diffusion.rev.help")
                with gr.Row(equal_height=False):
                    with gr.Column(scale=1, min_width=270):
                        batch = reg(gr.Slider(1, MAX_RUN_BATCH, value=DEFAULT_BATCH, step=1,
                                              label=reg.text("diffusion.batch"), elem_id="diffusion-batch"),
                                    label="diffusion.batch")
                        seed = reg(gr.Number(value=0, precision=0, minimum=0, maximum=2**32 - 1,
                                             label=reg.text("diffusion.seed"), elem_id="diffusion-seed"),
                                   label="diffusion.seed")
                        sampler, steps, eta, label, guidance = _setting_controls(reg, "diffusion")
                        with gr.Row():
                            gen_btn = reg(gr.Button(reg.text("diffusion.generate"), variant="primary",
                                                    elem_id="diffusion-generate"), value="diffusion.generate")
                            stop_btn = reg(gr.Button(reg.text("diffusion.stop"), variant="stop",
                                                     elem_id="diffusion-stop"), value="diffusion.stop")
                    with gr.Column(scale=3, min_width=520):
                        status = reg(gr.Markdown(reg.text("diffusion.status.idle"), elem_id="diffusion-status"),
                                     value="diffusion.status.idle")
                        with gr.Row(equal_height=True):
                            img_xt = reg(gr.Image(label=reg.text("diffusion.xt"), elem_id="diffusion-xt", height=330,
                                                  interactive=False, format="png", buttons=["download"],
                                                  elem_classes=["out-image", "pixelated"]), label="diffusion.xt")
                            img_eps = reg(gr.Image(label=reg.text("diffusion.eps"), elem_id="diffusion-eps", height=330,
                                                   interactive=False, format="png", buttons=[],
                                                   elem_classes=["out-image", "pixelated"]), label="diffusion.eps")
                            img_x0 = reg(gr.Image(label=reg.text("diffusion.x0"), elem_id="diffusion-x0", height=330,
                                                  interactive=False, format="png", buttons=["download"],
                                                  elem_classes=["out-image", "pixelated"]), label="diffusion.x0")
                        scrub = reg(gr.Slider(0, 1, value=0, step=1, label=reg.text("diffusion.scrub"),
                                              info=reg.text("diffusion.scrub.info"), elem_id="diffusion-scrub",
                                              interactive=False), label="diffusion.scrub", info="diffusion.scrub.info")
                        caption = gr.Markdown(elem_id="diffusion-scrub-caption")
                # What a finished (or stopped) run offers, shown once there is one.
                with gr.Column(visible=False, elem_id="diffusion-after-run") as after_run:
                    reg(gr.Markdown(f"### {reg.text('diffusion.strip.title')}"), value=("diffusion.strip.title", "### {}"))
                    with gr.Row(equal_height=True):
                        strip_no = reg(gr.Number(value=1, precision=0, minimum=1, maximum=DEFAULT_BATCH,
                                                 label=reg.text("diffusion.strip.image"), elem_id="diffusion-strip-image",
                                                 scale=1, min_width=140), label="diffusion.strip.image")
                        strip_ts = reg(gr.Textbox(label=reg.text("diffusion.strip.ts"),
                                                  info=reg.text("diffusion.strip.ts.info"), elem_id="diffusion-strip-ts",
                                                  scale=4), label="diffusion.strip.ts", info="diffusion.strip.ts.info")
                    strip_img = reg(gr.Image(label=reg.text("diffusion.strip"), elem_id="diffusion-strip",
                                             interactive=False, format="png", buttons=["download"],
                                             elem_classes=["out-image", "pixelated"]), label="diffusion.strip")
                    with gr.Row(equal_height=False):
                        with gr.Column(scale=1, min_width=220):
                            export_btn = reg(gr.Button(reg.text("diffusion.export"), elem_id="diffusion-export-btn"),
                                             value="diffusion.export")
                            export_note = gr.Markdown(elem_id="diffusion-export-note", elem_classes=["small-note"])
                        export_gif = reg(gr.File(label=reg.text("diffusion.export.gif"), elem_id="diffusion-export-gif",
                                                 interactive=False, visible=False, scale=2), label="diffusion.export.gif")
                        export_mp4 = reg(gr.File(label=reg.text("diffusion.export.mp4"), elem_id="diffusion-export-mp4",
                                                 interactive=False, visible=False, scale=2), label="diffusion.export.mp4")
                    reg(gr.Markdown(f"### {reg.text('diffusion.branch.title')}"), value=("diffusion.branch.title", "### {}"))
                    reg(gr.Markdown(reg.text("diffusion.branch.help")), value="diffusion.branch.help")
                    with gr.Row(equal_height=False, elem_id="diffusion-branch-box"):
                        b_sampler, b_steps, b_eta, b_label, b_guidance = _setting_controls(
                            reg, "diffusion-branch", steps=50, sampler="ddim", compact=True)
                    with gr.Row():
                        branch_btn = reg(gr.Button(reg.text("diffusion.branch.run"), variant="primary",
                                                   elem_id="diffusion-branch"), value="diffusion.branch.run")
                        branch_stop = reg(gr.Button(reg.text("diffusion.stop"), variant="stop",
                                                    elem_id="diffusion-branch-stop"), value="diffusion.stop")
                    branch_status = gr.Markdown(elem_id="diffusion-branch-status")
                    with gr.Row(equal_height=True):
                        br_start = reg(gr.Image(label=reg.text("diffusion.branch.start"), elem_id="diffusion-branch-start",
                                                height=260, interactive=False, format="png", buttons=[],
                                                elem_classes=["out-image", "pixelated"]), label="diffusion.branch.start")
                        br_orig = reg(gr.Image(label=reg.text("diffusion.branch.original"),
                                               elem_id="diffusion-branch-original", height=260, interactive=False,
                                               format="png", buttons=[], elem_classes=["out-image", "pixelated"]),
                                      label="diffusion.branch.original")
                        br_result = reg(gr.Image(label=reg.text("diffusion.branch.result"), elem_id="diffusion-branch-result",
                                                 height=260, interactive=False, format="png", buttons=["download"],
                                                 elem_classes=["out-image", "pixelated"]), label="diffusion.branch.result")

            # --- 3. fork: two settings, one seed ---------------------------------------------------
            with reg(gr.Tab(reg.text("diffusion.sub.fork"), id="diffusion-fork", elem_id="diffusion-tab-fork"),
                     label="diffusion.sub.fork"):
                reg(gr.Markdown(reg.text("diffusion.fork.help")), value="diffusion.fork.help")
                with gr.Row(equal_height=True):
                    presets = [("diffusion.fork.preset.samplers", "samplers"),
                               ("diffusion.fork.preset.guidance", "guidance"),
                               ("diffusion.fork.preset.eta", "eta"), ("diffusion.fork.preset.steps", "steps")]
                    preset = reg(gr.Dropdown(reg.choices(presets), value="samplers", label=reg.text("diffusion.fork.preset"),
                                             elem_id="diffusion-fork-preset", scale=3),
                                 label="diffusion.fork.preset", choices=presets)
                    f_batch = reg(gr.Slider(1, 16, value=FORK_DEFAULT_BATCH, step=1, label=reg.text("diffusion.batch"),
                                            elem_id="diffusion-fork-batch", scale=2), label="diffusion.batch")
                    f_seed = reg(gr.Number(value=0, precision=0, minimum=0, maximum=2**32 - 1,
                                           label=reg.text("diffusion.seed"), elem_id="diffusion-fork-seed", scale=1,
                                           min_width=120), label="diffusion.seed")
                    f_label = reg(gr.Dropdown([], value="all", label=reg.text("diffusion.label"),
                                              elem_id="diffusion-fork-label", allow_custom_value=True, visible=False,
                                              scale=2), label="diffusion.label")
                sides = {}
                with gr.Row(equal_height=False):
                    for side, (samp, n_steps) in (("a", ("ddpm", 1000)), ("b", ("ddim", 20))):
                        with gr.Column(min_width=300):
                            reg(gr.Markdown(f"#### {reg.text('diffusion.fork.' + side)}"),
                                value=("diffusion.fork." + side, "#### {}"))
                            s, n, e, _, g = _setting_controls(reg, f"diffusion-fork-{side}", steps=n_steps, sampler=samp,
                                                              with_label=False)
                            sides[side] = (s, n, e, g)
                with gr.Row():
                    fork_btn = reg(gr.Button(reg.text("diffusion.fork.run"), variant="primary", elem_id="diffusion-fork-run"),
                                   value="diffusion.fork.run")
                    fork_stop = reg(gr.Button(reg.text("diffusion.stop"), variant="stop", elem_id="diffusion-fork-stop"),
                                    value="diffusion.stop")
                fork_pct = reg(gr.Slider(0, 100, value=100, step=1, label=reg.text("diffusion.fork.progress_slider"),
                                         info=reg.text("diffusion.fork.progress_slider.info"),
                                         elem_id="diffusion-fork-progress", interactive=False),
                               label="diffusion.fork.progress_slider", info="diffusion.fork.progress_slider.info")
                fork_out = []
                with gr.Row(equal_height=False):
                    for side in ("a", "b"):
                        with gr.Column(min_width=300):
                            cap = gr.Markdown(elem_id=f"diffusion-fork-{side}-caption")
                            with gr.Row(equal_height=True):
                                xt = reg(gr.Image(label=reg.text("diffusion.xt"), elem_id=f"diffusion-fork-{side}-xt",
                                                  height=250, interactive=False, format="png", buttons=[],
                                                  elem_classes=["out-image", "pixelated"]), label="diffusion.xt")
                                x0 = reg(gr.Image(label=reg.text("diffusion.x0"), elem_id=f"diffusion-fork-{side}-x0",
                                                  height=250, interactive=False, format="png", buttons=["download"],
                                                  elem_classes=["out-image", "pixelated"]), label="diffusion.x0")
                            fork_out += [cap, xt, x0]
                fork_compare = gr.Markdown(elem_id="diffusion-fork-compare")

            # --- 4. explanation ----------------------------------------------------------------------
            with reg(gr.Tab(reg.text("diffusion.sub.explain"), id="diffusion-explain", elem_id="diffusion-tab-explain"),
                     label="diffusion.sub.explain"):
                reg(gr.Markdown(reg.text("diffusion.explain.body"), latex_delimiters=LATEX_DELIMITERS,
                                elem_id="diffusion-explain"), value="diffusion.explain.body")

    # --- wiring -------------------------------------------------------------------------------------
    fwd_inputs = [*LU, model, *pick.inputs, fwd_seed, fwd_t, fwd_schedule]
    fwd_outputs = [fwd_x0, fwd_noise, fwd_xt, fwd_hist, fwd_sched, fwd_caption]
    model_outputs = [card, pick.example, pick.source, fwd_t, fwd_schedule, steps, b_steps, sides["a"][1], sides["b"][1],
                     label, b_label, f_label, guidance, b_guidance, sides["a"][3], sides["b"][3]]

    # Live sliders send only themselves: the other inputs of their events are remembered per session
    # from the events that take them (see common.Remembered).
    forward = mem.record(handler(h.forward), fwd_inputs)

    def model_chain(dep):
        return dep.then(*forward, fwd_outputs, **QUIET, **PRIVATE)

    model_chain(model.change(handler(h.model_changed), [*LU, model, fwd_t], model_outputs, api_name="diffusion_model",
                             **QUIET))
    upload_files.upload(handler(h.upload), [*LU, upload_files], [uploads, model, upload_status, upload_files],
                        api_name="diffusion_upload", **QUIET)

    # Forward process: every input redraws x_t, the histogram and the marked schedules (t's .input
    # already delivers the value a drag ends on, so a .release would only draw it again).
    fwd_triggers = [pick.source.input, pick.example.input, pick.upload.upload, pick.sketch.change, fwd_seed.submit,
                    fwd_seed.input, fwd_schedule.input]
    gr.on(fwd_triggers, *forward, fwd_outputs, **LIVE, **PRIVATE)
    gr.on([], handler(h.forward), fwd_inputs, fwd_outputs, api_name="diffusion_forward", **LIVE)
    # One event for all six outputs: a second one for the plots, chained, delayed the picture (measured).
    mem.fast(handler(h.forward), fwd_inputs, fwd_t, fwd_outputs)

    # Reverse process: Generate streams, Stop cancels and keeps what was computed, the slider scrubs.
    run_outputs = [runs, status, img_xt, img_eps, img_x0, scrub, caption, strip_no, strip_ts, strip_img, after_run]
    # preprocess=False: these inputs are plain JSON values, and the engine checks every one itself, so
    # 0 or 100000 steps or a guidance of 1e9 sent through the API get its message in the session's
    # language instead of Gradio's English bounds check.
    RAW = {"preprocess": False}
    stream = {"show_progress": "full", "show_progress_on": [scrub], **LONG, **RAW}
    # The events that set `runs` (preprocess=False hands them None, so they may make a new one) are
    # followed by one that remembers it for the scrubber's live event.
    fn, inputs = mem.remember(LR)
    remember_runs = {"fn": fn, "inputs": inputs, "outputs": None, "queue": False, "show_progress": "hidden", **PRIVATE}
    gen_btn.click(handler(h.generate), [*LUR, model, batch, seed, sampler, steps, eta, label, guidance],
                  run_outputs, api_name="diffusion_generate", **stream).then(**remember_runs)
    branch_inputs = [*LUR, model, scrub, b_sampler, b_steps, b_eta, b_label, b_guidance]
    branch_outputs = [runs, branch_status, br_start, br_orig, br_result]
    branch_btn.click(handler(h.branch), branch_inputs, branch_outputs, api_name="diffusion_branch",
                     show_progress="full", show_progress_on=[br_result], **LONG, **RAW).then(**remember_runs)
    stop_btn.click(h.stop, runs, None, api_name="diffusion_stop", queue=False, show_progress="hidden")
    branch_stop.click(h.stop_branch, runs, None, api_name="diffusion_branch_stop", queue=False, show_progress="hidden")
    scrub_out = [img_xt, img_eps, img_x0, caption]
    mem.fast(handler(h.scrub), [*LR, scrub], scrub, scrub_out, triggers=[scrub.input, scrub.release])
    gr.on([], handler(h.scrub), [*LR, scrub], scrub_out, api_name="diffusion_scrub", **INSTANT)
    gr.on([strip_no.submit, strip_no.input, strip_ts.submit], handler(h.strip), [*LR, strip_no, strip_ts], strip_img,
          api_name="diffusion_strip", **INSTANT)
    export_btn.click(handler(h.export), [*LR], [export_gif, export_mp4, export_note], api_name="diffusion_export",
                     show_progress="minimal", concurrency_limit=2)

    # Fork: a preset fills both settings; Run streams A then B; the slider compares them at any point.
    fork_controls = [w for side in ("a", "b") for w in sides[side]]
    preset.input(handler(h.fork_preset), [*LU, model, preset], fork_controls, **QUIET, **PRIVATE)
    fork_outputs = [runs, fork_pct, *fork_out, fork_compare]
    fork_btn.click(handler(h.fork), [*LUR, model, f_batch, f_seed, f_label, *fork_controls], fork_outputs,
                   api_name="diffusion_fork", show_progress="full", show_progress_on=[fork_pct], **LONG,
                   **RAW).then(**remember_runs)
    fork_stop.click(h.stop_fork, runs, None, api_name="diffusion_fork_stop", queue=False, show_progress="hidden")
    gr.on([fork_pct.input, fork_pct.release], handler(h.fork_scrub), [*LR, fork_pct], [*fork_out, fork_compare],
          api_name="diffusion_fork_scrub", **INSTANT)

    # The scrubber's session values (language, runs), for its live event.
    ctx.demo.load(*mem.remember(LR), None, queue=False, show_progress="hidden", **PRIVATE)

    # First load: the model's settings, then the forward process.
    model_chain(ctx.demo.load(handler(h.model_changed), [*LU, model, fwd_t], model_outputs, **QUIET, **PRIVATE))

    # A model trained in the training tab joins this session's dropdown.
    uploads.change(handler(h.texts), [*LU, model, label, b_label, f_label], [card, model, label, b_label, f_label],
                   **QUIET, **PRIVATE)

    # After a language switch: the texts built in Python.
    ctx.on_lang += [
        (handler(h.texts), [*LU, model, label, b_label, f_label], [card, model, label, b_label, f_label]),
        (*forward, fwd_outputs),
        (*mem.remember(LR), None),
        (handler(h.run_texts), [*LR, scrub], [status, caption]),
        (handler(h.fork_texts), [*LR, fork_pct], [*fork_out, fork_compare]),
    ]
