"""One user's 2-D playground: a tiny model, its optimisers, its data and its history.

A `Playground` trains in small slices (`train(steps, which=...)`) and describes what it has
learned as a `Frame` of numpy arrays (points, D's heat map, the generator's warped grid, the
score field, trajectories, the latent space), which the UI draws. It lives in one session's
state; nothing here is shared between sessions.

A slice whose losses or weights stop being finite (or explode) is undone: the weights and the
optimiser go back to the last good state and `train` raises `UserError("toy2d_nan")`.
"""

from __future__ import annotations

import contextlib
import functools
import math
from dataclasses import dataclass, fields, replace

import numpy as np
import torch
from torch.nn.utils import parameters_to_vector

from .. import runtime
from ..errors import UserError
from . import data as toydata
from . import metrics
from .models import (
    GAN,
    GAN_LOSSES,
    VAE2D,
    Denoiser,
    d_display,
    d_loss,
    ddim_sample,
    diffusion_loss,
    g_loss,
    gradient_penalty,
    vae_loss,
)

MODELS = ("gan", "diffusion", "vae")
METRICS = ("js", "kl")
DEFAULT_HIDDEN = {"gan": 64, "diffusion": 128, "vae": 64}
DEFAULT_LR = {"gan": 3e-3, "diffusion": 3e-3, "vae": 3e-3}  # measured: all three learn fastest near here
HEAT_SIDE = 64          # D is evaluated on HEAT_SIDE x HEAT_SIDE grid points
MANIFOLD_SIDE = 21      # vertices per side of the noise / latent grid pushed through G or the decoder
NOISE_SPAN = 2.5        # that grid covers z in [-NOISE_SPAN, NOISE_SPAN]^2 (GAN noise and VAE prior are N(0, I))
FIELD_SIDE = 19         # arrows per side of the diffusion score field
N_VIEW = 512            # data points and model samples drawn in a frame
N_ARROWS = 160          # fakes that show their gradient arrow
N_TRAJ = 28             # diffusion sample paths drawn
N_EVAL_DATA = 20_000    # data points in the reference histogram
MAX_HISTORY = 4000      # history points kept (older ones are thinned)
WEIGHT_LIMIT = 1e4      # a weight beyond this counts as diverged (trained ones stay far below 100)
LIMITS = {              # setting: (low, high, English name, Chinese name)
    "lr": (1e-6, 1000.0, "The learning rate", "学习率"),
    "batch": (8, 4096, "The batch size", "批大小"),
    "d_steps": (1, 10, "D steps per G step", "每步判别器更新次数"),
    "gp_weight": (0.0, 100.0, "The gradient-penalty weight", "梯度惩罚系数"),
    "beta": (0.0, 20.0, "beta (the KL weight)", "β（KL 散度权重）"),
    "hidden": (4, 512, "Hidden units", "隐藏单元数"),
    "timesteps": (5, 1000, "Diffusion timesteps", "扩散时间步数"),
}


def _cloned(state):
    """A state dict (nested dicts and lists) with every tensor cloned: what copy.deepcopy does, in a
    sixth of the time (a snapshot is taken after every training slice)."""
    if isinstance(state, torch.Tensor):
        return state.detach().clone()
    if isinstance(state, dict):
        return {k: _cloned(v) for k, v in state.items()}
    if isinstance(state, list):
        return [_cloned(v) for v in state]
    return state


@contextlib.contextmanager
def _compute(grad: bool = True):
    """The engine's compute lock, with torch on one thread while it is held.

    These networks are tiny (at most 4096 x 256 activations): on one thread a GAN step takes about 3 ms,
    on two threads of a busy 2-core CPU it took 95-125 ms (the OpenMP threads wait for each other).
    Holding the lock means no other model runs meanwhile, so the thread count can be set and restored."""
    with runtime.COMPUTE_LOCK:
        threads = torch.get_num_threads()
        if threads != 1:
            torch.set_num_threads(1)
        try:
            with torch.inference_mode(not grad):
                yield
        finally:
            if threads != 1:
                torch.set_num_threads(threads)


@dataclass(frozen=True)
class Settings:
    model: str = "gan"          # "gan" | "diffusion" | "vae"
    data: str = "gaussians8"    # one of data.DISTRIBUTIONS
    loss: str = "ns"            # GAN loss: "ns" (non-saturating) | "ls" (least squares) | "wgan-gp"
    lr: float = 0.0             # Adam learning rate; 0: the model's default (DEFAULT_LR)
    batch: int = 256            # points per step
    d_steps: int = 1            # GAN: discriminator updates per generator update
    gp_weight: float = 1.0      # GAN, wgan-gp: lambda, the weight of the gradient penalty
    beta: float = 1.0           # VAE: the KL term's weight (1: the true ELBO)
    hidden: int = 0             # units per hidden layer; 0: the model's default (DEFAULT_HIDDEN)
    timesteps: int = 50         # diffusion: T
    seed: int = 0               # initial weights, batches and the fixed noise of the pictures

    # Changing one of these rebuilds the model; the others apply to a running model at once.
    STRUCTURAL = ("model", "data", "hidden", "timesteps", "seed")

    def checked(self) -> Settings:
        """The same settings with defaults filled in; a bad value raises UserError."""
        if self.model not in MODELS:
            raise UserError("toy2d_choice", what="model", what_zh="模型", value=self.model, available=", ".join(MODELS))
        if self.data not in toydata.DISTRIBUTIONS:
            raise UserError("toy2d_choice", what="data set", what_zh="数据分布", value=self.data,
                            available=", ".join(toydata.DISTRIBUTIONS))
        if self.loss not in GAN_LOSSES:
            raise UserError("toy2d_choice", what="GAN loss", what_zh="GAN 损失", value=self.loss,
                            available=", ".join(GAN_LOSSES))
        values = {"lr": self.lr or DEFAULT_LR[self.model], "hidden": self.hidden or DEFAULT_HIDDEN[self.model]}
        for name, (low, high, en, zh) in LIMITS.items():
            value = values.get(name, getattr(self, name))
            try:
                number = float(value)
            except (TypeError, ValueError):
                number = math.nan
            integral = name in ("batch", "d_steps", "hidden", "timesteps")
            if not (math.isfinite(number) and low <= number <= high) or integral and number != int(number):
                raise UserError("toy2d_setting", what=en, what_zh=zh, low=low, high=high, value=value)
            values[name] = int(number) if integral else number
        runtime.check_seed(self.seed)
        return replace(self, **values, seed=int(self.seed))


@dataclass
class Frame:
    """What the model looks like now, in data coordinates (float32 arrays)."""

    model: str
    step: int
    real: np.ndarray                        # (N, 2) data points
    fake: np.ndarray                        # (N, 2) model samples
    distance: dict[str, float]              # {"js": ..., "kl": ...} between data and samples
    history: dict[str, list]                # "step", "js", "kl": the distance after each frame
    losses: dict[str, list]                 # "step" and each loss's name: after each training slice
    loss: str = ""                          # GAN loss in use
    heat: np.ndarray | None = None          # GAN: (S, S) D's output on the grid, row 0 at the top (y = +EXTENT)
    heat_range: tuple[float, float] = (0.0, 1.0)  # values the colours span
    arrows: np.ndarray | None = None        # GAN: (A, 2) -dL_G/dx at fakes[:A]: where G's update moves them
    manifold: np.ndarray | None = None      # GAN/VAE: (M, M, 2) the noise / latent grid mapped into data space
    density: np.ndarray | None = None       # GAN/VAE: (M-1, M-1) probability mass / area of each warped cell
    latent_real: np.ndarray | None = None   # VAE: (N, 2) encoder means of the data points
    latent_grid: np.ndarray | None = None   # VAE: (M, M, 2) the latent grid itself
    field_pos: np.ndarray | None = None     # diffusion: (F, 2) where the arrows start
    field_vec: np.ndarray | None = None     # diffusion: (F, 2) the learned score at t_view
    noisy: np.ndarray | None = None         # diffusion: (N, 2) the data noised to t_view
    trajectories: np.ndarray | None = None  # diffusion: (T + 1, K, 2) sample paths, noise first
    t_view: int = 0                         # diffusion: the timestep shown (1..T)
    timesteps: int = 0


@functools.lru_cache(maxsize=8)
def _grid(side: int, span: float) -> torch.Tensor:
    """(side, side, 2) points; [i, j] = (x_j, y_i) with y falling from +span (row 0) to -span.
    Cached: every frame asks for the same few grids (read only)."""
    axis = torch.linspace(-span, span, side)
    ys, xs = torch.meshgrid(axis.flip(0), axis, indexing="ij")
    return torch.stack([xs, ys], -1)


@functools.lru_cache(maxsize=8)
def _cell_mass(side: int, span: float) -> np.ndarray:
    """N(0, I) probability of each cell of _grid(side, span): (side-1, side-1)."""
    edges = np.linspace(-span, span, side)
    cdf = 0.5 * (1 + np.vectorize(math.erf)(edges / math.sqrt(2)))
    mass = np.diff(cdf)
    return np.outer(mass[::-1], mass)  # rows run from +span down


def _cell_area(v: np.ndarray) -> np.ndarray:
    """Areas of the quads of a warped grid (M, M, 2) -> (M-1, M-1), by the shoelace formula."""
    a, b, c, d = v[:-1, :-1], v[:-1, 1:], v[1:, 1:], v[1:, :-1]
    quad = np.stack([a, b, c, d], 0)
    x, y = quad[..., 0], quad[..., 1]
    return 0.5 * np.abs((x * np.roll(y, -1, 0) - np.roll(x, -1, 0) * y).sum(0))


class Playground:
    def __init__(self, settings: Settings, points=None):
        self.settings = s = settings.checked()
        self.points = toydata.check_points(points) if s.data == "drawn" else None
        self.gen = runtime.generator(s.seed)
        view_gen = self._view_generator()
        # On one thread too: the 20,000 reference points are enough for a parallel region, which would
        # give the calling (web server) thread an OpenMP team of its own.
        with _compute(), torch.random.fork_rng(devices=[]):
            self.real = toydata.sample(s.data, N_VIEW, view_gen, self.points)
            reference = toydata.sample(s.data, N_EVAL_DATA, view_gen, self.points)
            self.z_view = torch.randn(N_VIEW, 2, generator=view_gen)      # fixed noise: samples move only as weights do
            self.eps_view = torch.randn(N_VIEW, 2, generator=view_gen)
            torch.manual_seed(s.seed)
            if s.model == "gan":
                self.net = GAN(hidden=s.hidden)
                self.opts = {"D": torch.optim.Adam(self.net.D.parameters(), lr=s.lr, betas=(0.5, 0.9)),
                             "G": torch.optim.Adam(self.net.G.parameters(), lr=s.lr, betas=(0.5, 0.9))}
            elif s.model == "diffusion":
                self.net = Denoiser(hidden=s.hidden, timesteps=s.timesteps)
                self.opts = {"net": torch.optim.Adam(self.net.parameters(), lr=s.lr)}
            else:
                self.net = VAE2D(hidden=s.hidden)
                self.opts = {"net": torch.optim.Adam(self.net.parameters(), lr=s.lr)}
        self.data_hist = metrics.histogram(reference.numpy())
        self.step = 0
        self.history: dict[str, list] = {"step": [], "js": [], "kl": []}
        self.loss_history: dict[str, list] = {"step": []}
        self._good = self._snapshot()
        self._good_step = 0
        self._samples: tuple[int, np.ndarray, np.ndarray | None] | None = None  # (step, samples, paths)

    # --- settings --------------------------------------------------------------------------------

    def _view_generator(self) -> torch.Generator:
        """The generator of the pictures' fixed points: the seed after the training seed."""
        seed = self.settings.seed
        return runtime.generator(seed + 1 if seed < runtime.MAX_SEED else 0)

    def needs_rebuild(self, settings: Settings) -> bool:
        """Whether these settings need a new model (a structural one changed); new drawn points do not
        (see set_points)."""
        s = settings.checked()
        return any(getattr(s, k) != getattr(self.settings, k) for k in Settings.STRUCTURAL)

    def set_points(self, points) -> bool:
        """New drawn points (K, 2) for a model on drawn data, taken live: the weights, optimisers and
        history stay, so the model goes on learning from where it is. -> whether the points changed.
        Too few points raise UserError("toy2d_too_few_points") and change nothing."""
        if self.settings.data != "drawn":
            raise UserError("toy2d_choice", what="data set", what_zh="数据分布", value=self.settings.data,
                            available="drawn")
        new = toydata.check_points(points)
        if self.points is not None and new.shape == self.points.shape and torch.equal(new, self.points):
            return False
        view_gen = self._view_generator()
        with _compute():   # a training slice or a frame on another thread sees the old data or the new, whole
            self.real = toydata.sample("drawn", N_VIEW, view_gen, new)
            reference = toydata.sample("drawn", N_EVAL_DATA, view_gen, new)
            self.data_hist = metrics.histogram(reference.numpy())
            self.points = new
        return True

    def apply(self, settings: Settings) -> None:
        """Take the live settings (lr, loss, batch, d_steps, gp_weight, beta) without a rebuild."""
        s = settings.checked()
        live = {f.name: getattr(s, f.name) for f in fields(Settings) if f.name not in Settings.STRUCTURAL}
        self.settings = replace(self.settings, **live)
        for opt in self.opts.values():
            for group in opt.param_groups:
                group["lr"] = self.settings.lr

    # --- training --------------------------------------------------------------------------------

    def _snapshot(self) -> dict:
        return _cloned({"net": self.net.state_dict(), "opts": {k: o.state_dict() for k, o in self.opts.items()}})

    def _restore(self, snap: dict) -> None:
        self.net.load_state_dict(snap["net"])
        for k, o in self.opts.items():
            o.load_state_dict(_cloned(snap["opts"][k]))  # the optimiser keeps the tensors it is given
            for group in o.param_groups:
                group["lr"] = self.settings.lr

    def _batch(self) -> torch.Tensor:
        return toydata.sample(self.settings.data, self.settings.batch, self.gen, self.points)

    def _gan_step(self, which: str) -> dict[str, float]:
        s, net, logs = self.settings, self.net, {}
        if which in ("both", "D"):
            for _ in range(s.d_steps):
                real = self._batch()
                with torch.no_grad():
                    fake = net.G(torch.randn(s.batch, 2, generator=self.gen))
                loss = d_loss(s.loss, net.D(real)[:, 0], net.D(fake)[:, 0])
                if s.loss == "wgan-gp":
                    gp = gradient_penalty(net.D, real, fake, self.gen)
                    logs["GP"] = gp.item()
                    loss = loss + s.gp_weight * gp
                self.opts["D"].zero_grad(set_to_none=True)
                loss.backward()
                self.opts["D"].step()
                logs["D"] = loss.item()
        if which in ("both", "G"):
            fake = net.G(torch.randn(s.batch, 2, generator=self.gen))
            loss = g_loss(s.loss, net.D(fake)[:, 0])
            self.opts["G"].zero_grad(set_to_none=True)
            loss.backward()
            self.opts["G"].step()
            net.D.zero_grad(set_to_none=True)
            logs["G"] = loss.item()
        return logs

    def _one_step(self, which: str) -> dict[str, float]:
        s = self.settings
        if s.model == "gan":
            return self._gan_step(which)
        opt = self.opts["net"]
        if s.model == "diffusion":
            loss = diffusion_loss(self.net, self._batch(), self.gen)
            logs = {"loss": loss.item()}
        else:
            loss, parts = vae_loss(self.net, self._batch(), self.gen, s.beta)
            logs = {"-ELBO": loss.item(), **parts}
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        return logs

    def _diverged(self, logs: dict[str, float]) -> tuple[str, float] | None:
        for name, value in logs.items():
            if not math.isfinite(value):
                return name, value
        with torch.no_grad():
            # One reduction for the usual case (NaN propagates through max); the loop names the culprit.
            if parameters_to_vector(self.net.parameters()).abs().max().item() <= WEIGHT_LIMIT:
                return None
            for name, p in self.net.named_parameters():
                if not torch.isfinite(p).all():
                    return name, math.nan
                top = p.abs().max().item()
                if top > WEIGHT_LIMIT:
                    return name, top
        return None

    def train(self, steps: int = 1, which: str = "both") -> dict[str, float]:
        """`steps` training steps; which: "both", or for a GAN "D" / "G" only. -> the last step's losses.

        A step that makes a loss or weight non-finite (or larger than WEIGHT_LIMIT) undoes the
        whole slice: the last good weights come back and UserError("toy2d_nan") is raised."""
        if which not in ("both", "D", "G") or which != "both" and self.settings.model != "gan":
            raise UserError("toy2d_choice", what="step", what_zh="更新方式", value=which, available="both, D, G")
        steps = int(steps)
        logs: dict[str, float] = {}
        with _compute():
            for _ in range(steps):
                logs = self._one_step(which)
                self.step += 1
                bad = self._diverged(logs)
                if bad is not None:
                    failed_at = self.step
                    self._restore(self._good)
                    self.step = self._good_step
                    self._samples = None
                    raise UserError("toy2d_nan", model=self.settings.model.upper(), step=failed_at, what=bad[0],
                                    value=f"{bad[1]:.3g}", good=self._good_step, lr=self.settings.lr)
            self._good = self._snapshot()
            self._good_step = self.step
        self._log(self.loss_history, {"step": self.step, **logs})
        return logs

    # --- what the model has learned --------------------------------------------------------------

    @staticmethod
    def _log(history: dict[str, list], row: dict) -> None:
        if history["step"] and history["step"][-1] == row["step"]:
            for values in history.values():
                values.pop()
        for k, v in row.items():
            history.setdefault(k, [math.nan] * (len(history["step"]) - (0 if k == "step" else 1)))
            history[k].append(v)
        for values in history.values():  # a name missing this time (e.g. GP after a loss change) gets NaN
            if len(values) < len(history["step"]):
                values.append(math.nan)
        if len(history["step"]) > MAX_HISTORY:  # keep every other old point, the newest half whole
            half = MAX_HISTORY // 2
            for values in history.values():
                values[:] = values[:half:2] + values[half:]

    def samples(self, fresh: bool = True) -> tuple[np.ndarray, np.ndarray | None]:
        """Model samples from the fixed noise (N_VIEW, 2), and for diffusion their paths (T + 1, N_VIEW, 2).

        fresh=False reuses the last samples even if the weights have moved since (diffusion sampling
        runs the network T times, so a playing UI refreshes them a few times a second, not every frame)."""
        if self._samples is not None and (self._samples[0] == self.step or not fresh):
            return self._samples[1], self._samples[2]
        paths = None
        with _compute(grad=False):
            if self.settings.model == "gan":
                x = self.net.G(self.z_view)
            elif self.settings.model == "vae":
                x = self.net.dec(self.z_view) + self.net.obs_std * self.eps_view
            else:
                path = ddim_sample(self.net, self.z_view)
                x, paths = path[-1], path.numpy()
        out = x.numpy().astype(np.float32)
        self._samples = (self.step, out, paths)
        return out, paths

    def distance(self) -> dict[str, float]:
        """JS and KL between the data's histogram and the current samples'."""
        fake, _ = self.samples(fresh=False)
        q = metrics.histogram(fake)
        return {"js": metrics.js_divergence(self.data_hist, q),
                "kl": metrics.kl_divergence(self.data_hist, q, smoothing=metrics.KL_SMOOTHING)}

    def heat(self) -> np.ndarray:
        """D's output (in its loss's sense: P(real) for "ns") on the HEAT_SIDE^2 grid, row 0 at the top."""
        grid = _grid(HEAT_SIDE, toydata.EXTENT)
        with _compute(grad=False):
            raw = self.net.D(grid.reshape(-1, 2))[:, 0]
            return d_display(self.settings.loss, raw).reshape(HEAT_SIDE, HEAT_SIDE).numpy()

    def gan_arrows(self, fake: np.ndarray) -> np.ndarray:
        """-dL_G/dx at the first N_ARROWS fakes: the direction G's next update pulls each one."""
        x = torch.as_tensor(fake[:N_ARROWS]).requires_grad_(True)
        with _compute():
            loss = g_loss(self.settings.loss, self.net.D(x)[:, 0]) * x.shape[0]
            (grad,) = torch.autograd.grad(loss, x)
        return (-grad).numpy()

    def _mapped_grid(self, fn) -> tuple[np.ndarray, np.ndarray]:
        z = _grid(MANIFOLD_SIDE, NOISE_SPAN)
        with _compute(grad=False):
            v = fn(z.reshape(-1, 2)).reshape(MANIFOLD_SIDE, MANIFOLD_SIDE, 2).numpy().astype(np.float64)
        density = _cell_mass(MANIFOLD_SIDE, NOISE_SPAN) / np.maximum(_cell_area(v), 1e-9)
        return v.astype(np.float32), density.astype(np.float32)

    def frame(self, t_view: int | None = None, *, fresh: bool = True) -> Frame:
        """Everything the pictures need; fresh samples also record the distance in the history.
        fresh=False: keep the last samples (and distance) if there are any; see `samples`."""
        with _compute():
            return self._frame(t_view, fresh or self._samples is None)

    def _frame(self, t_view: int | None, fresh: bool) -> Frame:
        s = self.settings
        fake, paths = self.samples(fresh)
        if fresh or not self.history["step"]:
            dist = self.distance()
            self._log(self.history, {"step": self.step, **dist})
        else:
            dist = {k: self.history[k][-1] for k in METRICS}
        out = Frame(model=s.model, step=self.step, real=self.real.numpy(), fake=fake, distance=dist,
                    history={k: list(v) for k, v in self.history.items()},
                    losses={k: list(v) for k, v in self.loss_history.items()}, loss=s.loss)
        if s.model == "gan":
            out.heat = self.heat()
            out.heat_range = (0.0, 1.0) if s.loss == "ns" else (float(out.heat.min()), float(out.heat.max()))
            out.arrows = self.gan_arrows(fake)
            out.manifold, out.density = self._mapped_grid(self.net.G)
        elif s.model == "vae":
            out.manifold, out.density = self._mapped_grid(self.net.dec)
            with _compute(grad=False):
                out.latent_real = self.net.encode(self.real)[0].numpy()
            out.latent_grid = _grid(MANIFOLD_SIDE, NOISE_SPAN).numpy()
        else:
            T = s.timesteps
            t_view = T // 4 if t_view is None else int(min(max(int(t_view), 1), T))
            abar = self.net.abar[t_view - 1]
            pos = _grid(FIELD_SIDE, toydata.EXTENT * 0.92).reshape(-1, 2)
            with _compute(grad=False):
                eps = self.net(pos, torch.full((pos.shape[0],), t_view - 1, dtype=torch.long))
            out.field_pos = pos.numpy()
            out.field_vec = (-eps / (1 - abar).sqrt()).numpy()   # score = grad log p_t(x) = -eps / sqrt(1 - abar_t)
            out.noisy = (abar.sqrt() * self.real + (1 - abar).sqrt() * self.eps_view).numpy()
            out.trajectories = paths[:, :N_TRAJ]
            out.t_view, out.timesteps = t_view, T
        return out


__all__ = ["METRICS", "MODELS", "Frame", "Playground", "Settings"]
