"""What the UI and the command line use to sample a diffusion checkpoint: numpy out, seeded."""

from __future__ import annotations

import math
import time
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import torch

from .. import runtime
from ..errors import UserError
from ..pictures import to_uint8
from .process import (
    GaussianDiffusion,
    Step,
    check_guidance,
    check_labels,
    make_schedule,
    to_images,
    to_signed,
)

FAMILY = "ddpm"
MAX_BATCH = 256
MAX_RUN_BATCH = 64               # images in one step-by-step run (the UI keeps every step's pictures)
TRAJECTORY_BYTES = 16 * 2**20    # memory one kept run may take: its pictures, plus a quarter for branch states
MAX_FRAMES = 250                 # steps kept as pictures; longer runs keep every k-th step
MAX_POINTS = 64                  # steps kept as exact states to branch from
# Work budgets, in pixels through the UNet (a classifier-free guided image counts twice). One
# sampler step is one unit on the compute thread: 64 guided 28x28 digits or 64 32x32 shapes
# (the tab's largest run) fit, and no config.json's image size can make a step longer. A whole
# request is at most that many pixels for 1000 steps (DDPM-1000 of the tab's largest run).
MAX_STEP_PIXELS = 2 * 64 * 32 * 32
MAX_WORK = MAX_STEP_PIXELS * 1000


class Engine:
    def __init__(self, ckpt, device: torch.device | None = None):
        from . import Config, make_process  # the package imports this module

        self.device = device or runtime.device()
        self.config, self.model = ckpt.build(self.device)
        assert isinstance(self.config, Config)
        # Weights in channels-last order: the convolutions then run channels-last throughout.
        # Measured on the 2-core CPU, 16 MNIST digits: DDPM-1000 21-22 s against 26-28 s, DDIM-50
        # 1.08 s against 1.23-1.44 s (the shapes model gains less, about 5%).
        self.model.to(memory_format=torch.channels_last)
        self.process = make_process(self.config)
        self.card = ckpt.card
        self.name = ckpt.name
        self.path = ckpt.path
        self._aux = {k: v.to("cpu") for k, v in ckpt.aux.items()}
        self._other_processes: dict[str, GaussianDiffusion] = {}  # the forward view's other schedule

    @classmethod
    def load(cls, path, device: torch.device | None = None) -> Engine:
        from .. import checkpoint

        return cls(checkpoint.load(path, expect_family=FAMILY), device)

    @property
    def class_names(self) -> list[str] | None:
        """Label i's name (the card's, engines.families.class_names), for the label choices."""
        from ..families import class_names

        return class_names(self.card)

    @property
    def num_classes(self) -> int | None:
        return self.config.num_classes

    def labels_for(self, n: int, label) -> torch.Tensor | None:
        """None -> unconditional; "all" -> an even spread 0, 1, ..., K-1, 0, ...; an int -> that class."""
        if label is None:
            return None
        if self.num_classes is None:
            raise UserError("diffusion_unconditional")
        if label == "all":
            return torch.arange(n) % self.num_classes
        try:
            value = int(label)
        except (TypeError, ValueError):
            raise UserError("diffusion_label", value=label, high=self.num_classes - 1) from None
        return check_labels(self.model, value, n, "cpu")

    def sample(self, n: int, seed: int, *, label=None, guidance: float | None = None,
               sampler: str = "ddim", steps: int | None = 50, eta: float = 0.0
               ) -> tuple[np.ndarray, np.ndarray | None]:
        """n images, uint8 (n, H, W, C), and their labels (or None), reproducible by seed.

        guidance: classifier-free guidance scale (default: the card's `default_guidance`, else 1,
        the plain conditional model); sampler "ddpm" takes all T steps, "ddim" takes `steps`.
        """
        if not 1 <= int(n) <= MAX_BATCH:
            raise UserError("value_out_of_range", what="n", low=1, high=MAX_BATCH, value=n)
        c = self.config
        y = self.labels_for(int(n), label)
        if guidance is None:
            guidance = float(self.card.get("default_guidance", 1.0)) if y is not None else 1.0
        self.check_work(int(n), c.timesteps if sampler == "ddpm" or steps is None else steps,
                        guided=y is not None and guidance != 1.0)
        gen = runtime.generator(seed, self.device)
        # The samplers take the compute lock per step, so other requests interleave with a long run.
        with torch.inference_mode():
            x = self.process.sample(
                self.model, (int(n), c.channels, c.image_size, c.image_size), gen=gen, method=sampler,
                steps=None if sampler == "ddpm" else steps, eta=eta, guidance=guidance,
                y=None if y is None else y.to(self.device))
        return to_uint8(x), (None if y is None else y.numpy())

    # --- what the diffusion tab needs ------------------------------------------------------------
    # Timesteps at this boundary are the paper's: t = 1..T for x_t, t = 0 for the clean image
    # (the process indexes them 0..T-1, so process index i is the paper's t = i + 1).

    @property
    def aux(self) -> dict:
        """Data shipped with the checkpoint (aux/ tensors: example images, their labels), on the CPU."""
        return self._aux

    def examples(self) -> tuple[np.ndarray, np.ndarray | None]:
        """Held-out example images shipped with the model (uint8 (N, H, W, C)) and labels, or none."""
        c = self.config
        ex = self.aux.get("examples")
        if ex is None:
            return np.zeros((0, c.image_size, c.image_size, c.channels), np.uint8), None
        labels = self.aux.get("example_labels")
        return ex.permute(0, 2, 3, 1).numpy(), (labels.numpy() if labels is not None else None)

    def schedules(self) -> dict[str, dict[str, np.ndarray]]:
        """beta_t, abar_t and SNR_t for t = 1..T under the linear and the cosine schedule at this
        model's T -> {"linear": {"beta", "abar", "snr"}, "cosine": {...}}, float64 arrays (T,)."""
        out = {}
        for name in ("linear", "cosine"):
            p = self._process_for(name)
            abar = p.alphas_cumprod.numpy()
            out[name] = {"beta": p.betas.numpy(), "abar": abar, "snr": abar / (1 - abar)}
        return out

    def _process_for(self, schedule: str | None) -> GaussianDiffusion:
        if schedule is None or schedule == self.config.schedule:
            return self.process
        if schedule not in ("linear", "cosine"):
            raise ValueError(f"schedule must be 'linear' or 'cosine', not {schedule!r}")
        if schedule not in self._other_processes:
            self._other_processes[schedule] = GaussianDiffusion(make_schedule(schedule, self.config.timesteps))
        return self._other_processes[schedule]

    def to_input(self, image: np.ndarray) -> torch.Tensor:
        """One uint8 image (H, W, C) or grey (H, W) of the model's size -> (1, C, H, W) in [-1, 1]."""
        c = self.config
        arr = np.asarray(image)
        if arr.ndim == 2:
            arr = arr[:, :, None]
        if arr.dtype != np.uint8 or arr.shape != (c.image_size, c.image_size, c.channels):
            raise UserError("image_channels", channels=c.channels, size=c.image_size)
        return to_signed(torch.from_numpy(arr.copy()).permute(2, 0, 1)[None].float().div(255))

    def forward(self, image: np.ndarray, t: int, seed: int, schedule: str | None = None) -> dict:
        """The forward process on one image: x_t = sqrt(abar_t) x_0 + sqrt(1 - abar_t) eps (eq. 4).

        image: uint8 (H, W, C) of the model's size; t: 0 (x_0 itself) .. T; the noise eps comes
        from `seed` and is the same for every t, so moving t walks one noising path. schedule:
        "linear" or "cosine" (default: the model's). Returns uint8 (H, W, C) pictures "x0",
        "noise", "xt" (each on the data scale: -1 black, +1 white, clipped), the raw x_t values
        (float32, flattened) for a histogram, and abar_t, beta_t and SNR_t (t = 0: 1, 0, inf).
        """
        p = self._process_for(schedule)
        t = check_timestep(t, p.T)
        x0 = self.to_input(image)
        noise = torch.randn(x0.shape, generator=runtime.generator(seed))
        if t == 0:
            xt, abar, beta = x0, 1.0, 0.0
        else:
            xt = p.q_sample(x0, t - 1, noise)
            abar, beta = float(p.alphas_cumprod[t - 1]), float(p.betas[t - 1])
        return {
            "x0": to_images(x0)[0], "noise": to_images(noise)[0], "xt": to_images(xt)[0],
            "values": xt.reshape(-1).numpy().astype(np.float32), "t": t, "abar": abar, "beta": beta,
            "snr": abar / (1 - abar) if abar < 1 else float("inf"),
        }

    def check_work(self, n: int, steps, *, guided: bool) -> None:
        """UserError diffusion_work unless n images at this model's size for `steps` sampler steps
        fit the budgets: MAX_STEP_PIXELS per step (one unit on the compute thread) and MAX_WORK in
        all. Steps that are not a positive whole number are left to the sampler's own check."""
        try:
            steps = int(steps) if steps is not None and float(steps) == int(steps) else None
        except (TypeError, ValueError, OverflowError):
            steps = None
        if steps is None or steps < 1:
            return
        side = self.config.image_size
        per_step = n * side * side * (2 if guided else 1)
        if per_step > MAX_STEP_PIXELS or per_step * steps > MAX_WORK:
            per_image = side * side * (2 if guided else 1)
            most = max(1, MAX_STEP_PIXELS // per_image)
            raise UserError("diffusion_work", n=n, size=side, steps=steps, max_work=MAX_WORK, most=most,
                            most_steps=max(1, MAX_WORK // (most * per_image)))

    def check_setting(self, setting: Setting) -> Setting:
        """A setting with every value checked and the guidance resolved (None -> the card's default
        for labelled runs, else 1), or a UserError naming what is wrong."""
        if setting.sampler not in ("ddpm", "ddim"):
            raise UserError("diffusion_sampler", value=setting.sampler)
        steps = self.config.timesteps if setting.sampler == "ddpm" else setting.steps
        self.process.spaced_timesteps(steps)  # raises diffusion_steps for 0, 100000, 2.5, NaN ...
        eta = setting.eta if setting.sampler == "ddim" else 1.0
        try:
            eta = float(eta)
        except (TypeError, ValueError):
            raise UserError("diffusion_eta", value=setting.eta) from None
        if not 0.0 <= eta <= 1.0:
            raise UserError("diffusion_eta", value=setting.eta)
        label = setting.label
        if label is not None and label != "all":
            self.labels_for(1, label)  # raises for a label the model does not know
        guidance = setting.guidance
        if guidance is None:
            guidance = float(self.card.get("default_guidance", 1.0)) if label is not None else 1.0
        guidance = check_guidance(guidance)
        return Setting(sampler=setting.sampler, steps=int(steps), eta=eta, label=label, guidance=guidance)

    def run(self, n: int, seed: int, setting: Setting, *, max_bytes: int = TRAJECTORY_BYTES
            ) -> Iterator[Trajectory]:
        """Sample n images step by step -> an iterator yielding the same, growing `Trajectory`
        after every step (stop iterating to cancel; what was computed stays in it).

        Everything is checked before this returns. The images are those of `sample(n, seed, ...)`
        with the same setting: x_T is drawn from `seed` first, then the sampler's noise.
        """
        n = check_batch(n)
        setting = self.check_setting(setting)
        self.check_work(n, setting.steps, guided=setting.label is not None and setting.guidance != 1.0)
        c = self.config
        y = self.labels_for(n, setting.label)
        gen = runtime.generator(seed, self.device)
        x_T = torch.randn((n, c.channels, c.image_size, c.image_size), generator=gen, device=gen.device)
        traj = Trajectory(model=str(self.path), n=n, seed=runtime.check_seed(seed), setting=setting,
                          labels=None if y is None else y.numpy(), ts=self._timesteps(setting, c.timesteps - 1),
                          max_bytes=max_bytes, frame_bytes=3 * x_T[0].numel() * n)
        return self._record(traj, setting, x_T, y, gen)

    def branch(self, traj: Trajectory, step: int, setting: Setting, *, max_bytes: int = TRAJECTORY_BYTES
               ) -> Iterator[Trajectory]:
        """Continue `traj` from its step `step` (0 = x_T) with another setting -> an iterator like run's.

        The run is rebuilt exactly up to `step` from its nearest stored state at or before it (x_t
        and the generator's state), then goes on with `setting` from that x_t and the same noise
        stream, so branching with the run's own setting reproduces the run.
        """
        if traj.model != str(self.path):
            raise UserError("diffusion_branch_model")
        try:
            step = int(step)
        except (TypeError, ValueError):
            raise UserError("diffusion_branch_step", value=step, high=traj.count - 1) from None
        if not 0 <= step < traj.count or not traj.points:
            raise UserError("diffusion_branch_step", value=step, high=traj.count - 1)
        setting = self.check_setting(setting)
        n = traj.n
        # The replay up to `step` and the new setting's steps after it, as one request.
        old_guided = traj.setting.label is not None and traj.setting.guidance != 1.0
        new_guided = setting.label is not None and setting.guidance != 1.0
        self.check_work(n, step + setting.steps, guided=old_guided or new_guided)
        y = self.labels_for(n, setting.label)
        start = max(i for i in traj.points if i <= step)
        x_np, state = traj.points[start]
        x = torch.from_numpy(x_np).to(self.device)
        gen = torch.Generator(device=self.device)
        gen.set_state(torch.from_numpy(state))
        if step > start:  # replay the original run from the stored state up to `step`
            old = traj.setting
            old_y = None if traj.labels is None else torch.from_numpy(traj.labels).to(self.device)
            replay = self._sampler(old, x, traj.ts[start], old_y, gen)
            for _ in range(step - start):
                x = next(replay).x_prev
            replay.close()
        t0 = traj.ts[step]
        branch = Trajectory(model=traj.model, n=n, seed=traj.seed, setting=setting,
                            labels=None if y is None else y.numpy(), ts=self._timesteps(setting, t0),
                            max_bytes=max_bytes, frame_bytes=traj.frame_bytes,
                            parent=(traj.setting, step, t0 + 1))
        return self._record(branch, setting, x, y, gen)

    def _timesteps(self, setting: Setting, t0: int) -> list[int]:
        """Process timesteps (0-based) the sampler visits from t0 down."""
        if setting.sampler == "ddpm":
            return list(range(t0, -1, -1))
        seq = self.process.spaced_timesteps(setting.steps)
        return [t0] + [t for t in seq if t < t0]

    def _sampler(self, setting: Setting, x: torch.Tensor, t0: int, y, gen) -> Iterator[Step]:
        common = {"gen": gen, "y": y, "guidance": setting.guidance, "start": (t0, x)}
        if setting.sampler == "ddpm":
            return self.process.ddpm(self.model, **common)
        return self.process.ddim(self.model, steps=setting.steps, eta=setting.eta, **common)

    def _record(self, traj: Trajectory, setting: Setting, x: torch.Tensor, y, gen) -> Iterator[Trajectory]:
        steps = self._sampler(setting, x, traj.ts[0], None if y is None else y.to(self.device), gen)
        traj.add_point(0, x, gen)

        def record():
            started = time.perf_counter()
            try:
                for step in steps:
                    traj.add(step)
                    if step.index + 1 < traj.count:
                        traj.add_point(step.index + 1, step.x_prev, gen)
                    traj.elapsed_s = time.perf_counter() - started
                    yield traj
            finally:
                steps.close()

        return record()


def check_timestep(t, T: int) -> int:
    """A forward-process timestep 0..T (the paper's t; 0 is the clean image), as an int."""
    try:
        value = int(t)
    except (TypeError, ValueError, OverflowError):
        raise UserError("diffusion_timestep", value=t, high=T) from None
    if value != t or not 0 <= value <= T:
        raise UserError("diffusion_timestep", value=t, high=T)
    return value


def check_batch(n) -> int:
    try:
        value = int(n)
    except (TypeError, ValueError, OverflowError):
        raise UserError("diffusion_batch", value=n, high=MAX_RUN_BATCH) from None
    if value != n or not 1 <= value <= MAX_RUN_BATCH:
        raise UserError("diffusion_batch", value=n, high=MAX_RUN_BATCH)
    return value


@dataclass(frozen=True)
class Setting:
    """How to run the reverse process."""

    sampler: str = "ddim"              # "ddpm": every one of the T steps; "ddim": `steps` spaced steps
    steps: int = 50                    # DDIM steps, 1..T (DDPM always takes T)
    eta: float = 0.0                   # DDIM noise: 0 deterministic, 1 as much as DDPM
    label: int | str | None = None     # a class, "all" (an even spread), or None (unconditional)
    guidance: float | None = None      # classifier-free guidance scale; None: the card's default

    def short(self) -> str:
        """'DDIM-50, eta 0' / 'DDPM-1000'; the label and guidance are added by the UI."""
        if self.sampler == "ddpm":
            return f"DDPM-{self.steps}"
        return f"DDIM-{self.steps}, η = {self.eta:g}"


class Trajectory:
    """One sampling run, kept for the UI in bounded memory.

    Pictures (uint8 (B, H, W, C) of x_t, the predicted noise and the predicted x_0) are kept for
    every step while the run has at most `max_frames()` steps, else for every k-th step and the
    last; together they take at most `max_bytes`. To branch from any step, x_t (float32) and the
    generator's state are kept at up to MAX_POINTS steps (at most max_bytes / 4 in all); a
    step between them is rebuilt by replaying from the one before. Only numpy arrays are held.
    """

    def __init__(self, *, model: str, n: int, seed: int, setting: Setting, labels: np.ndarray | None,
                 ts: list[int], max_bytes: int, frame_bytes: int, parent: tuple | None = None):
        self.model, self.n, self.seed, self.setting, self.labels = model, n, seed, setting, labels
        self.ts = list(ts)                      # process timestep (0-based) entering each step
        self.count = len(self.ts)               # steps in the run
        self.frame_bytes = frame_bytes          # bytes of one step's three uint8 pictures
        self.parent = parent                    # (setting, step, t) this run branched from, or None
        frames = max(2, min(MAX_FRAMES, max_bytes // max(1, frame_bytes)))
        self.stride = max(1, math.ceil(self.count / frames))
        x_bytes = frame_bytes // 3 * 4          # one float32 x_t
        points = max(1, min(MAX_POINTS, (max_bytes // 4) // max(1, x_bytes)))
        self.point_stride = max(1, math.ceil(self.count / points))
        self.kept: list[int] = []               # step indices with pictures
        self.x_t: list[np.ndarray] = []
        self.eps: list[np.ndarray] = []
        self.x0: list[np.ndarray] = []
        self.latest: tuple | None = None        # (step index, x_t, eps, x0) of the newest step
        self.final: np.ndarray | None = None    # the finished samples, uint8 (B, H, W, C)
        self.points: dict[int, tuple[np.ndarray, np.ndarray]] = {}  # step -> (x_t float32, generator state)
        self.done_steps = 0
        self.elapsed_s = 0.0

    @property
    def done(self) -> bool:
        return self.final is not None

    def nbytes(self) -> int:
        pictures = sum(a.nbytes for lst in (self.x_t, self.eps, self.x0) for a in lst)
        return pictures + sum(x.nbytes + s.nbytes for x, s in self.points.values()) + \
            (self.final.nbytes if self.final is not None else 0)

    def add_point(self, index: int, x: torch.Tensor, gen: torch.Generator) -> None:
        if index % self.point_stride == 0:
            self.points[index] = (x.detach().float().cpu().numpy().copy(), gen.get_state().numpy().copy())

    def add(self, step: Step) -> None:
        pictures = (to_images(step.x_t), to_images(step.eps), to_images(step.x0_pred))
        self.latest = (step.index, *pictures)
        if step.index % self.stride == 0 or step.index == self.count - 1:
            self.kept.append(step.index)
            for lst, pic in zip((self.x_t, self.eps, self.x0), pictures):
                lst.append(pic)
        self.done_steps = step.index + 1
        if step.t_prev < 0:
            self.final = to_images(step.x_prev)

    # Frames are what the UI scrubs: the kept steps, the newest step of an unfinished run, and
    # the finished samples last.

    def frame_steps(self) -> list[int]:
        """Step index of every frame; `count` stands for the finished samples."""
        steps = list(self.kept)
        if self.latest is not None and (not steps or steps[-1] != self.latest[0]):
            steps.append(self.latest[0])
        if self.done:
            steps.append(self.count)
        return steps

    @property
    def num_frames(self) -> int:
        return len(self.frame_steps())

    def frame(self, k: int) -> dict:
        """Frame k -> {"step", "t" (the paper's t of x_t), "x_t", "eps", "x0"} (uint8 (B, H, W, C))."""
        steps = self.frame_steps()
        if not steps:
            raise UserError("diffusion_no_run")
        k = min(max(int(k), 0), len(steps) - 1)
        step = steps[k]
        if step == self.count:
            eps = self.eps[-1]
            return {"step": step, "t": 0, "x_t": self.final, "eps": eps, "x0": self.final}
        if k < len(self.kept) and self.kept[k] == step:
            x_t, eps, x0 = self.x_t[k], self.eps[k], self.x0[k]
        else:
            _, x_t, eps, x0 = self.latest
        return {"step": step, "t": self.ts[step] + 1, "x_t": x_t, "eps": eps, "x0": x0}

    def frame_at(self, fraction: float) -> dict:
        """The frame nearest a fraction 0..1 of the way through the run (to compare two runs)."""
        frac = min(max(float(fraction), 0.0), 1.0) if math.isfinite(float(fraction)) else 1.0
        steps = self.frame_steps()
        if not steps:
            raise UserError("diffusion_no_run")
        target = frac * self.count
        k = min(range(len(steps)), key=lambda i: abs(steps[i] - target))
        return self.frame(k)
