"""One trainer for every family. A family brings a model and a pure loss function.

The trainer knows nothing of VAEs or GANs: it draws seeded batches, steps AdamW, keeps an
optional EMA of the weights, stops promptly when asked, refuses to apply a non-finite loss,
and streams `TrainEvent`s (losses, throughput, ETA, preview grids) to whoever iterates it.

A family with adversarial players (a GAN) gives a list of `Phase`s instead of one loss: each
step runs them in order, each phase with its own optimiser over its own parameters.

All model work runs on the engine's compute thread (`runtime.call`), one unit at a time, each
unit holding the compute lock: a run's steps take turns with every other request there.

Micro-batches (`TrainConfig.chunk_seconds` with a `split`): on a CPU one step of a larger model
takes seconds, too long for Stop or for other people's sliders to wait. Each phase of a step is
then cut into micro-batches sized from the measured time per image, so that each is about
`chunk_seconds` of work, and their gradients are accumulated, each micro-batch's mean loss
weighted by its share of the batch. The step is the same step (to float rounding):
  - every random draw of the loss whose first dimension is the micro-batch is drawn once, for the
    whole batch, in the order the whole step draws it, and each micro-batch gets its rows
    (`_Replay`); draws of other shapes (a GAN's style-mixing cutoff) are drawn once and shared;
  - floating-point buffers the loss updates (a running mean of w) end as the batch-weighted mean
    of each micro-batch's update from the same start, which is the whole batch's update for any
    running mean;
  - `split` keeps together what the loss computes over several images (a discriminator's
    minibatch standard deviation groups).
A loss over the batch as a whole (a contrastive loss: every image against every caption) cannot be
cut so; it names instead the model's methods that embed each row on its own (`cached`, e.g.
("encode_image", "encode_text")), and its step runs in two passes (the gradient cache of Gao et
al. 2021, "Scaling Deep Contrastive Learning Batch Size under Memory Limited Setup"): the loss
once with the embeddings computed without gradients and made leaves, which gives the loss's
gradient with respect to every embedding (and any weight the loss uses directly, as CLIP's
temperature); then each method again, in micro-batches of rows, backpropagating that gradient
slice. The same gradient, at about a third more work; the first pass is one unit.
Stop is asked between micro-batches and phases, and inside them on a CPU (hooks on every module and
parameter); a stopped step is undone whole: gradients dropped, earlier phases' weights and
optimiser moments, buffers, the batch order and the generator put back, so the weights are
those of the last completed step and a resumed run draws what this step would have drawn.

The fast path (for a GPU): `TrainConfig(amp="bf16", channels_last=True, compile=True)`.
Losses are then read back from the device only every `log_every` steps, and the non-finite
guard works on that window: the weights go back to the last checked good state.

`state_dict()` / `load_state_dict()` carry the optimisers' moments and step counts, the EMA, the
step, the batch order and the generator as tensors plus JSON, so a run saved and continued draws
and moves exactly as one that never stopped.
"""

from __future__ import annotations

import collections
import copy
import math
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Literal, Protocol

import numpy as np
import torch
import torch.nn.functional as F
from torch.overrides import TorchFunctionMode

from . import gpu, runtime
from .errors import UserError
from .pictures import image_grid, to_uint8  # noqa: F401  (their old home; engines.pictures now)


class LossFn(Protocol):
    def __call__(self, model: torch.nn.Module, batch: dict, gen: torch.Generator, step: int
                 ) -> tuple[torch.Tensor, dict[str, float]]: ...


# split(batch_size, start, want) -> (indices of the next micro-batch, where the one after starts,
# or None after the last). `start` is 0 for the first; `want` is the size the time budget allows.
Split = Callable[[int, int, int], tuple[torch.Tensor, int | None]]


def contiguous_split(batch_size: int, start: int, want: int) -> tuple[torch.Tensor, int | None]:
    """Micro-batches of consecutive images: for losses that are a mean over independent images."""
    end = min(batch_size, start + max(1, want))
    return torch.arange(start, end), (end if end < batch_size else None)


@dataclass(frozen=True)
class TrainConfig:
    steps: int = 1000              # optimiser steps
    batch_size: int = 128          # images per step
    lr: float = 1e-3               # AdamW learning rate
    weight_decay: float = 0.0      # AdamW decoupled weight decay
    betas: tuple[float, float] = (0.9, 0.999)
    warmup_steps: int = 0          # linear learning-rate warm-up, then cosine decay to lr_min_ratio
    lr_min_ratio: float = 1.0      # final lr as a fraction of lr (1.0: constant after warm-up)
    ema_decay: float | None = None # EMA of the weights (e.g. 0.999); None for no EMA
    grad_clip: float | None = None # max global gradient norm
    seed: int = 0                  # one seed fixes init (when the caller seeds), batches and noise
    log_every: int = 10            # steps between "step" events
    preview_every: int = 0         # steps between preview grids (0: none)
    max_seconds: float | None = None  # wall-clock limit; the run ends cleanly when it is reached
    amp: Literal["bf16"] | None = None  # autocast the loss in bfloat16 (CUDA only; ignored on CPU)
    channels_last: bool = False    # NHWC memory layout for conv nets (faster on tensor cores)
    compile: bool = False          # torch.compile the model's forward (the loss calls the compiled one);
                                   # on CUDA with CUDA graphs ("reduce-overhead"): small models are
                                   # launch-bound, and graphs cut the launches (2.8x on an H100, see
                                   # benchmarks/results/diffusion_train-gpu-*.json)
    chunk_seconds: float | None = None  # micro-batches of about this much work (with a Trainer `split`;
                                        # CPU, eager only); None: whole steps


@dataclass(frozen=True)
class Phase:
    """One player's update in a multi-phase step: `loss_fn` is minimised over `params(model)`."""

    name: str                                                # "D", "G": prefixes its logs
    loss_fn: LossFn                                          # (model, batch, gen, step) -> (loss, logs)
    params: Callable[[torch.nn.Module], Iterable[torch.nn.Parameter]]  # which weights this phase moves
    lr: float | None = None                                  # default: TrainConfig.lr
    betas: tuple[float, float] | None = None                 # default: TrainConfig.betas


@dataclass
class TrainEvent:
    kind: str                      # "step" | "preview" | "done" | "stopped" | "nan" | "timeout"
    step: int
    losses: dict[str, float] = field(default_factory=dict)
    images_per_s: float = 0.0
    eta_s: float = 0.0
    elapsed_s: float = 0.0
    preview: np.ndarray | None = None   # uint8 HWC grid


# --------------------------------------------------------------------------------------------
# Micro-batches: the same random numbers as the whole step
# --------------------------------------------------------------------------------------------

class _Stopped(Exception):
    """The stop event was seen inside or between units of work."""


class _NotReplayable(Exception):
    """The loss draws random numbers in a way `_Replay` cannot split: run this phase whole."""


_FACTORIES = {torch.randn, torch.rand, torch.randint}
_LIKE = {torch.randn_like, torch.rand_like, torch.randint_like}
_IN_PLACE = {torch.Tensor.uniform_, torch.Tensor.normal_, torch.Tensor.bernoulli_, torch.Tensor.random_,
             torch.Tensor.exponential_}
_UNSPLITTABLE = {torch.bernoulli, torch.normal, torch.multinomial, torch.poisson, torch.randperm,
                 torch.Tensor.cauchy_, torch.Tensor.log_normal_, torch.Tensor.geometric_,
                 F.dropout1d, F.dropout2d, F.dropout3d, F.alpha_dropout, F.feature_alpha_dropout, F.rrelu}


def _factory_size(func, args, kwargs) -> tuple[tuple[int, ...], Callable]:
    """(size, rebuild(size) -> (args, kwargs)) of a torch.randn / rand / randint call."""
    if "size" in kwargs:
        return tuple(kwargs["size"]), lambda size: (args, {**kwargs, "size": size})
    if func is torch.randint:
        return tuple(args[-1]), lambda size: ((*args[:-1], size), kwargs)
    size = tuple(args[0]) if len(args) == 1 and isinstance(args[0], (tuple, list, torch.Size)) else tuple(args)
    return size, lambda size: ((size,), kwargs)


class _Replay(TorchFunctionMode):
    """Within one phase of one step: the k-th random draw of every micro-batch is cut from the k-th
    draw of the first, made for the whole batch. A draw is per image when its first dimension is
    the micro-batch's size; any other draw is made once and shared. Anything that does not replay
    the same way in every micro-batch raises `_NotReplayable` (the trainer then runs that phase
    whole)."""

    def __init__(self, batch_size: int):
        super().__init__()
        self.batch_size = batch_size
        self.draws: list[tuple[object, bool, torch.Tensor]] = []   # (func, per image, whole draw)
        self.idx = torch.arange(0)
        self.first = True
        self.k = 0

    def chunk(self, idx: torch.Tensor, first: bool) -> _Replay:
        self.idx, self.first, self.k = idx, first, 0
        return self

    def _take(self, func, shape: tuple[int, ...], draw: Callable[[tuple[int, ...]], torch.Tensor]) -> torch.Tensor:
        b = len(self.idx)
        if self.first:
            per_image = len(shape) > 0 and shape[0] == b
            whole = draw((self.batch_size, *shape[1:]) if per_image else shape)
            self.draws.append((func, per_image, whole))
        else:
            if self.k >= len(self.draws):
                raise _NotReplayable(f"{getattr(func, '__name__', func)}: more draws than the first micro-batch")
            recorded, per_image, whole = self.draws[self.k]
            ok = recorded is func and (tuple(shape) == (b, *whole.shape[1:]) if per_image
                                       else tuple(shape) == tuple(whole.shape))
            if not ok:
                raise _NotReplayable(f"{getattr(func, '__name__', func)}: not drawn as in the first micro-batch")
        self.k += 1
        _, per_image, whole = self.draws[self.k - 1]
        return whole[self.idx.to(whole.device)] if per_image else whole.clone()

    def __torch_function__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        if func in _FACTORIES:
            shape, rebuild = _factory_size(func, args, kwargs)

            def draw(size):
                a, kw = rebuild(size)
                return func(*a, **kw)

            return self._take(func, shape, draw)
        if func in _LIKE:
            x = args[0]
            return self._take(func, tuple(x.shape), lambda size: func(
                torch.empty(size, dtype=x.dtype, device=x.device), *args[1:], **kwargs))
        if func in _IN_PLACE:
            x = args[0]
            if any(torch.is_tensor(a) for a in (*args[1:], *kwargs.values())):
                raise _NotReplayable(f"{func.__name__} with tensor arguments")
            out = self._take(func, tuple(x.shape), lambda size: func(
                torch.empty(size, dtype=x.dtype, device=x.device), *args[1:], **kwargs))
            with torch.no_grad():
                return x.copy_(out)
        if func is F.dropout:
            return self._dropout(*args, **kwargs)
        if func in _UNSPLITTABLE:
            raise _NotReplayable(getattr(func, "__name__", str(func)))
        return func(*args, **kwargs)

    def _dropout(self, x: torch.Tensor, p: float = 0.5, training: bool = True, inplace: bool = False):
        if not training or p == 0:
            return x
        if p == 1:
            return x.mul_(0) if inplace else x * 0
        # What torch's own CPU dropout does: a Bernoulli(1 - p) mask scaled by 1 / (1 - p), here
        # drawn for the whole batch at once.
        noise = self._take(F.dropout, tuple(x.shape), lambda size: torch.empty(
            size, dtype=x.dtype, device=x.device).bernoulli_(1 - p).div_(1 - p))
        return x.mul_(noise) if inplace else x * noise


_END = object()


def _float_buffers(model: torch.nn.Module) -> list[torch.Tensor]:
    return [b for b in model.buffers() if b.is_floating_point()]


# Optimiser settings a saved trainer state carries back (not how the optimiser runs: fused, foreach).
_HYPER = ("lr", "betas", "eps", "weight_decay", "amsgrad", "maximize")
STATE_VERSION = 1


def _mismatch(reason: str) -> UserError:
    """A saved trainer state that does not fit this trainer."""
    return UserError("train_state_mismatch", reason=reason)


class Trainer:
    """Train `model` on `images` (float (N, C, H, W) in [0, 1]) with `loss_fn`.

    Iterate `run()` for events. Set `stop` (a threading.Event) from any thread to end the run;
    the step in progress is undone whole (it stops within one module's work), the final event is
    "stopped" and the weights are those of the last completed step.
    `final_model()` is the EMA copy when EMA is on, else the model itself.
    `split` (e.g. `contiguous_split`) lets `config.chunk_seconds` cut steps into micro-batches;
    give it only for a loss that is a mean over images; `cached` (the model's per-row embedding
    methods) for a loss over the whole batch (see the module's docstring).
    """

    def __init__(
        self,
        model: torch.nn.Module,
        loss_fn: LossFn | list[Phase],
        images: torch.Tensor,
        config: TrainConfig,
        *,
        labels: torch.Tensor | None = None,
        preview_fn: Callable[[torch.nn.Module], np.ndarray] | None = None,
        stop: threading.Event | None = None,
        device: torch.device | None = None,
        split: Split | None = None,
        cached: tuple[str, ...] = (),
    ):
        self.config = config
        self.device = device or runtime.device()
        self.cuda = self.device.type == "cuda"
        fmt = torch.channels_last if config.channels_last else torch.contiguous_format
        self.model = model.to(self.device, memory_format=fmt)
        self.phases = loss_fn if isinstance(loss_fn, list) else [Phase("", loss_fn, lambda m: m.parameters())]
        # Small data sets live on the device whole: no loader, no host-to-device copy per step.
        self.images = images.to(self.device).contiguous(memory_format=fmt)
        self.labels = labels.to(self.device) if labels is not None else None
        self.preview_fn = preview_fn
        self.stop = stop or threading.Event()
        self.split = split
        self.cached = tuple(cached)
        self.ema = copy.deepcopy(self.model).eval().requires_grad_(False) if config.ema_decay else None
        self._params = [list(ph.params(self.model)) for ph in self.phases]
        self.opts = [torch.optim.AdamW(params, lr=config.lr if ph.lr is None else ph.lr,
                                       betas=ph.betas or config.betas,
                                       weight_decay=config.weight_decay, fused=self.cuda or None)
                     for ph, params in zip(self.phases, self._params)]
        # The module the loss calls: compiled for speed on request; it shares the weights.
        # Losses checked after the fact, against a snapshot of the last good weights: on a GPU (a
        # read-back per step would stall it) and with several phases (a later phase's bad loss
        # comes after an earlier phase has already stepped).
        self.deferred_check = self.cuda or len(self.phases) > 1
        self.forward_model = (torch.compile(self.model, mode="reduce-overhead" if self.cuda else None)
                              if config.compile else self.model)
        self._started: float | None = None  # perf_counter at the start of run()
        self.pause_at: int | None = None     # run() ends quietly after this step (a ZeroGPU chunk)
        self.step = 0
        self.history: list[dict[str, float]] = []
        self._gen = runtime.generator(config.seed, self.device)
        self._order = torch.empty(0, dtype=torch.long, device=self.device)
        self._per_image: dict[int, float] = {}   # phase -> s of work per image, as last measured
        self._whole: set[int] = set()            # phases whose random draws cannot be split
        self.chunk_counts: list[int] = []        # micro-batches per phase in the latest step
        self.unit_seconds: collections.deque[float] = collections.deque(maxlen=4096)  # s each unit took

    @property
    def micro_batching(self) -> bool:
        """Whether steps are cut into micro-batches (a split, a time budget, eager on a CPU)."""
        c = self.config
        return bool((self.split is not None or self.cached) and c.chunk_seconds and not self.cuda and not c.compile)

    def _lr_scale(self, step: int) -> float:
        """Learning rate at `step` as a fraction of the base: linear warm-up, then cosine decay.

        With a wall-clock limit, progress is the larger of the step and time fractions, so a run
        cut short by `max_seconds` still ends with its learning rate decayed."""
        c = self.config
        if c.warmup_steps and step < c.warmup_steps:
            return (step + 1) / c.warmup_steps
        span = max(1, c.steps - c.warmup_steps)
        progress = min(1.0, (step - c.warmup_steps) / span)
        if c.max_seconds and self._started is not None:
            progress = max(progress, min(1.0, (time.perf_counter() - self._started) / c.max_seconds))
        return c.lr_min_ratio + (1 - c.lr_min_ratio) * 0.5 * (1 + math.cos(math.pi * progress))

    def _lr_at(self, step: int) -> float:
        return self.config.lr * self._lr_scale(step)

    def _next_batch(self) -> dict:
        # Epochs of a seeded permutation: every image once per epoch, same order for a seed.
        b = min(self.config.batch_size, len(self.images))
        if len(self._order) < b:
            perm = torch.randperm(len(self.images), generator=self._gen, device=self.device)
            self._order = torch.cat([self._order, perm])
        idx, self._order = self._order[:b], self._order[b:]
        x = self.images[idx]
        batch = {"x": x.float().div_(255.0) if x.dtype == torch.uint8 else x}  # uint8 data: [0, 1] per batch
        if self.labels is not None:
            batch["y"] = self.labels[idx]
        return batch

    @torch.no_grad()
    def _update_ema(self) -> None:
        # Warm-up: early on, a fixed decay would keep the random initial weights in the average
        # for thousands of steps; (1 + n) / (10 + n) lets the average follow the model at first.
        d = min(self.config.ema_decay, (1 + self.step) / (10 + self.step))
        torch._foreach_lerp_(list(self.ema.parameters()), list(self.model.parameters()), 1 - d)
        for be, bm in zip(self.ema.buffers(), self.model.buffers()):
            be.copy_(bm)

    def final_model(self) -> torch.nn.Module:
        return (self.ema if self.ema is not None else self.model).eval()

    def save(self, out_dir, *, family: str, config, card: dict, aux: dict | None = None,
             elapsed_s: float | None = None):
        """Write `final_model()` as a checkpoint whose card also records how it was trained."""
        from . import checkpoint

        c = self.config
        trained = {"steps": self.step, "batch_size": c.batch_size, "lr": c.lr, "seed": c.seed,
                   "ema_decay": c.ema_decay, "hardware": runtime.hardware_summary(self.device)}
        if elapsed_s is not None:
            trained["wall_time_s"] = round(elapsed_s, 1)
        return checkpoint.save(out_dir, family=family, config=config, model=self.final_model(),
                               card={**trained, **card}, aux=aux)

    # --- where the work runs ------------------------------------------------------------------
    def _on_compute(self, fn: Callable, *args):
        """fn(*args) on the compute thread, holding the compute lock there (never on the calling
        thread, which would deadlock a caller that waits for the compute thread). How long each
        unit held the thread goes to `unit_seconds`."""
        def locked():
            t0 = time.perf_counter()
            try:
                with runtime.COMPUTE_LOCK:
                    return fn(*args)
            finally:
                self.unit_seconds.append(time.perf_counter() - t0)
        return runtime.call(locked)

    def _unit(self, fn: Callable, *args):
        """One unit of a step's work on the compute thread; `_Stopped` instead when stop is set."""
        if self.stop.is_set():
            raise _Stopped
        return self._on_compute(fn, *args)

    def _check_stop(self, *_) -> None:
        if self.stop.is_set():
            raise _Stopped

    def _arm(self) -> list:
        """Hooks that end a unit of work as soon as stop is set: before each module's forward and
        as each parameter's gradient arrives in backward. Before each module's forward, the
        interactive tasks waiting now (a slider's picture) run first (runtime.give_way), so a
        micro-batch holds them up for its backward at most, not for the whole micro-batch."""
        check = self._check_stop

        def before(mod, args) -> None:  # a forward pre-hook that returns None leaves the input as it is
            check()
            runtime.give_way()

        hooks = [m.register_forward_pre_hook(before) for m in self.model.modules()]
        hooks += [p.register_hook(lambda grad: check()) for p in self.model.parameters() if p.requires_grad]
        return hooks

    def _preview(self) -> np.ndarray | None:
        """The preview grid, drawn on the compute thread. A preview_fn with a `steps(model)`
        generator (a sampler's steps, its last item the grid) is stepped one item per unit of
        work, so a long preview takes turns with other requests and Stop ends it between items."""
        if self.preview_fn is None:
            return None
        steps = getattr(self.preview_fn, "steps", None)

        def draw():
            with torch.inference_mode():
                return (steps or self.preview_fn)(self.final_model())

        def advance(items):
            with torch.inference_mode():
                return next(items, _END)
        try:
            out = self._on_compute(draw)
            if steps is None:
                return out
            grid = None
            try:
                while (item := self._unit(advance, out)) is not _END:
                    grid = item
            finally:
                self._on_compute(out.close)
            return grid
        except _Stopped:  # stopped while drawing: no grid
            return None

    # --- one step -----------------------------------------------------------------------------
    def _train_step(self) -> tuple[int, torch.Tensor, dict[str, torch.Tensor | float]]:
        """One optimiser step of every phase -> (images used, sum of losses, logs); values stay on
        the device. On CPU a non-finite loss is caught before any weight moves (-> its loss).
        Raises `_Stopped` when stop is set before the step completes, with the step undone."""
        saved = self._unit(self._step_start)
        undo: list = []
        try:
            batch = saved["batch"]
            scale = self._lr_scale(self.step)
            total, logs = 0.0, {}
            counts = []
            last = len(self.phases) - 1
            for k, phase in enumerate(self.phases):
                loss, phase_logs, n_chunks = self._phase_step(k, phase, batch, scale, undo if k < last else None)
                counts.append(n_chunks)
                if loss is None or phase_logs is None:  # a non-finite loss: nothing was applied
                    self._on_compute(self._undo, saved, undo)
                    return len(batch["x"]), loss if loss is not None else torch.tensor(math.nan), {}
                prefix = f"{phase.name}_" if phase.name else ""
                logs.update({(prefix + k2 if prefix and k2 != "loss" else k2): v for k2, v in phase_logs.items()})
                if prefix:
                    logs[prefix + "loss"] = loss
                total = total + loss
            self._on_compute(self._step_end)
            self.chunk_counts = counts
            return len(batch["x"]), total, logs
        except _Stopped:
            self._on_compute(self._undo, saved, undo)
            raise

    def _step_start(self) -> dict:
        """What undoing this step needs (the generator, the batch order, the buffers), and its batch."""
        saved = {"gen": self._gen.get_state(), "order": self._order.clone(),
                 "buffers": [b.clone() for b in _float_buffers(self.model)]}
        saved["batch"] = self._next_batch()
        return saved

    def _step_end(self) -> None:
        if len(self.phases) > 1:
            self.model.requires_grad_(True)
        if self.ema is not None:
            self._update_ema()

    @torch.no_grad()
    def _undo(self, saved: dict, undo: list) -> None:
        """Back to the start of the step: no gradients, earlier phases' weights and moments, the
        buffers, the batch order and the generator as they were."""
        for opt in self.opts:
            opt.zero_grad(set_to_none=True)
        for k, params, state in reversed(undo):
            for p, v in zip(params, self._params[k]):
                v.copy_(p)
            opt = self.opts[k]
            for p in self._params[k]:
                if id(p) in state:
                    opt.state[p] = state[id(p)]
                else:
                    opt.state.pop(p, None)
        for b, v in zip(_float_buffers(self.model), saved["buffers"]):
            b.copy_(v)
        self._gen.set_state(saved["gen"])
        self._order = saved["order"]
        if len(self.phases) > 1:
            self.model.requires_grad_(True)

    def _phase_step(self, k: int, phase: Phase, batch: dict, scale: float, undo: list | None):
        """Gradients of one phase over the batch, then its optimiser step -> (loss, logs, micro-
        batches), or (loss, None, n) when a loss was not finite and nothing was applied. With
        `undo` (a later phase follows), the phase's weights and moments are kept there first."""
        params, opt = self._params[k], self.opts[k]

        def start():
            for group in opt.param_groups:
                group["lr"] = (self.config.lr if phase.lr is None else phase.lr) * scale
            if len(self.phases) > 1:  # only this phase's weights need gradients
                self.model.requires_grad_(False)
                for p in params:
                    p.requires_grad_(True)
            opt.zero_grad(set_to_none=True)
            return self._gen.get_state(), [b.clone() for b in _float_buffers(self.model)]

        gen_state, buffers = self._unit(start)
        try:
            loss, logs, n = self._gradients(k, phase, batch, buffers)
        except _NotReplayable:
            # Run this phase whole from now on, starting again from the same random numbers.
            self._whole.add(k)

            def again():
                opt.zero_grad(set_to_none=True)
                self._gen.set_state(gen_state)
                for b, v in zip(_float_buffers(self.model), buffers):
                    b.copy_(v)
            self._on_compute(again)
            loss, logs, n = self._gradients(k, phase, batch, buffers)
        if logs is None:
            return loss, None, n

        def finish():
            if self.config.grad_clip:
                torch.nn.utils.clip_grad_norm_(params, self.config.grad_clip)
            if undo is not None:
                undo.append((k, [p.detach().clone() for p in params],
                             {id(p): {name: v.clone() if torch.is_tensor(v) else v for name, v in opt.state[p].items()}
                              for p in params if p in opt.state}))
            opt.step()
        # Not interrupted here: the gradients are complete, applying them costs little.
        self._on_compute(finish)
        return loss, logs, n

    def _gradients(self, k: int, phase: Phase, batch: dict, buffers: list[torch.Tensor]):
        """Accumulate the phase's gradients over the batch, whole or in micro-batches -> (loss,
        logs, micro-batches); logs None when a loss was not finite (gradients and buffers then
        put back)."""
        size = len(batch["x"])
        chunked = self.micro_batching and k not in self._whole
        if chunked and self.split is None:
            return self._cached_gradients(k, phase, batch)
        want = self._want(k, size) if chunked else size
        idx, nxt = self.split(size, 0, want) if chunked else (None, None)
        if nxt is None:  # the whole batch at once: the step as it always was
            loss, logs = self._unit(self._pass, k, phase, batch, None, 1.0, None, buffers, None)
            return loss, logs, 1
        replay = _Replay(size)
        sums: dict[int, torch.Tensor] = {}
        total, logs, done, n = 0.0, {}, 0.0, 0
        start: int | None = 0
        while start is not None:
            if n:
                idx, nxt = self.split(size, start, self._want(k, size))
            w = len(idx) / size
            loss, chunk_logs = self._unit(self._pass, k, phase, batch, idx, w, replay.chunk(idx, n == 0),
                                          buffers, (sums, done))
            if chunk_logs is None:
                return loss, None, n + 1
            total = total + w * loss
            for key, v in chunk_logs.items():
                logs[key] = logs.get(key, 0.0) + w * v
            done, n, start = done + w, n + 1, nxt

        def settle():  # each buffer the loss moved: the batch-weighted mean of its micro-batch updates
            for i, b in enumerate(_float_buffers(self.model)):
                if i in sums:
                    b.copy_(sums[i])
        self._on_compute(settle)
        return total, logs, n

    def _cached_gradients(self, k: int, phase: Phase, batch: dict):
        """The gradient-cache step: the loss once on embeddings made without gradients (one unit),
        then each embedding call again in micro-batches of rows -> (loss, logs, units)."""
        records: list[list] = []
        loss, logs = self._unit(self._cached_loss, k, phase, batch, records)
        if logs is None:
            return loss, None, 1
        n = 1
        for i, (method, x, args, kwargs, grad) in enumerate(records):
            if grad is None:  # an embedding the loss did not use
                continue
            start, rows = 0, len(x)
            while start < rows:
                end = min(rows, start + self._want((k, i), rows))
                self._unit(self._cached_rows, (k, i), method, x, args, kwargs, grad, start, end)
                start, n = end, n + 1
        return loss, logs, n

    def _cached_loss(self, k: int, phase: Phase, batch: dict, records: list):
        def recorder(method):
            def embed(x, *args, **kwargs):
                with torch.no_grad():
                    out = method(x, *args, **kwargs)
                leaf = out.detach().requires_grad_(True)
                records.append([method, x, args, kwargs, leaf])
                return leaf
            return embed

        for name in self.cached:  # an instance attribute, for this pass only
            setattr(self.model, name, recorder(getattr(self.model, name)))
        try:
            loss, logs = phase.loss_fn(self.forward_model, batch, self._gen, self.step)
        finally:
            for name in self.cached:
                self.model.__dict__.pop(name, None)
        if not self.deferred_check and not torch.isfinite(loss):
            self.opts[k].zero_grad(set_to_none=True)
            return loss.detach(), None
        loss.backward()
        for r in records:
            r[-1] = r[-1].grad
        return loss.detach(), logs

    def _cached_rows(self, key, method, x, args, kwargs, grad, start: int, end: int) -> None:
        t0 = time.perf_counter()
        method(x[start:end], *args, **kwargs).backward(grad[start:end])
        self._measured(key, (time.perf_counter() - t0) / (end - start))

    def _measured(self, key, per_image: float) -> None:
        # Smoothed: one micro-batch slowed by another process should not halve the next ones.
        # Sizing each from the last one's time per image converges to micro-batches of the budget
        # even with a fixed cost per micro-batch (n <- n T / (a + b n) has its fixed point at T).
        old = self._per_image.get(key)
        self._per_image[key] = per_image if old is None else 0.5 * old + 0.5 * per_image

    def _want(self, k, size: int) -> int:
        """Images per micro-batch that fit the time budget, from the phase's measurements (a small
        probe before the first)."""
        per = self._per_image.get(k)
        if per is None:
            return min(size, 4)
        return max(1, min(size, round(self.config.chunk_seconds / max(per, 1e-9))))

    def _pass(self, k: int, phase: Phase, batch: dict, idx: torch.Tensor | None, weight: float,
              replay: _Replay | None, buffers: list[torch.Tensor], acc):
        """Forward and backward of the phase's loss on batch[idx] (all of it for None), its gradient
        scaled by `weight` (the micro-batch's share) -> (loss, logs); logs None for a non-finite
        loss, whose gradient is not kept."""
        t0 = time.perf_counter()
        sub = batch if idx is None else {key: v[idx.to(v.device)] for key, v in batch.items()}
        with torch.autocast("cuda", dtype=torch.bfloat16, enabled=self.cuda and self.config.amp == "bf16"):
            if replay is None:
                loss, logs = phase.loss_fn(self.forward_model, sub, self._gen, self.step)
            else:
                with replay:
                    loss, logs = phase.loss_fn(self.forward_model, sub, self._gen, self.step)
        if not self.deferred_check and not torch.isfinite(loss):
            self.opts[k].zero_grad(set_to_none=True)
            with torch.no_grad():
                for b, v in zip(_float_buffers(self.model), buffers):
                    b.copy_(v)
            return loss.detach(), None
        (loss * weight if weight != 1.0 else loss).backward()
        if acc is not None:
            sums, done = acc
            with torch.no_grad():
                for i, (b, v) in enumerate(zip(_float_buffers(self.model), buffers)):
                    if i in sums or not torch.equal(b, v):
                        # Micro-batches before the first that moved it left it where it was.
                        sums[i] = sums.get(i, v * done) + b * weight
                        b.copy_(v)
        self._measured(k, (time.perf_counter() - t0) / len(sub["x"]))
        return loss.detach(), logs

    # --- the run ------------------------------------------------------------------------------
    def _snapshot(self) -> list[torch.Tensor]:
        mods = [self.model] + ([self.ema] if self.ema is not None else [])
        return [t.detach().clone() for m in mods for t in m.state_dict().values()]

    @torch.no_grad()
    def _restore(self, snap: list[torch.Tensor]) -> None:
        mods = [self.model] + ([self.ema] if self.ema is not None else [])
        for t, s in zip((t for m in mods for t in m.state_dict().values()), snap):
            t.copy_(s)

    def _read_back(self, values: list) -> list[float]:
        return torch.stack([torch.as_tensor(v, dtype=torch.float32, device=self.device).reshape(())
                            for v in values]).cpu().tolist()

    def run(self) -> Iterator[TrainEvent]:
        if gpu.active() and not self.cuda:  # on ZeroGPU: chunks of steps in GPU calls
            yield from gpu.train(self)
            return
        c = self.config
        start = self._started = time.perf_counter()
        window_t, window_n = start, 0
        ips = 0.0
        self.model.train()
        # Compiled graphs and hooks do not mix, and a GPU's steps are short: those stop between
        # units of work.
        hooks = [] if c.compile or self.cuda else self._arm()
        try:
            yield from self._run(start, window_t, window_n, ips)
        finally:
            for h in hooks:
                h.remove()

    def _run(self, start: float, window_t: float, window_n: int, ips: float) -> Iterator[TrainEvent]:
        c = self.config
        # On a GPU, reading a loss back each step would stall the queue of kernels: losses are
        # kept on the device and checked once per window; a bad window rolls back to `good`.
        pending: list[tuple[int, torch.Tensor, dict]] = []
        good = (self.step, self._on_compute(self._snapshot)) if self.deferred_check else None
        while self.step < c.steps:
            if self.pause_at is not None and self.step >= self.pause_at:
                return
            if self.stop.is_set():
                yield TrainEvent("stopped", self.step, elapsed_s=time.perf_counter() - start)
                return
            if c.max_seconds is not None and time.perf_counter() - start > c.max_seconds:
                yield TrainEvent("timeout", self.step, elapsed_s=time.perf_counter() - start)
                return
            try:
                n, loss, logs = self._train_step()
            except _Stopped:
                yield TrainEvent("stopped", self.step, elapsed_s=time.perf_counter() - start)
                return
            if not self.deferred_check and not torch.isfinite(loss):
                # The weights are still those of the last good step: keep them, stop here.
                yield TrainEvent("nan", self.step, {"loss": float(loss)}, elapsed_s=time.perf_counter() - start)
                return
            self.step += 1
            window_n += n
            pending.append((self.step, loss, logs))
            report = self.step % c.log_every == 0 or self.step in (c.steps, self.pause_at)
            preview = c.preview_every and self.step % c.preview_every == 0
            if not (report or preview or not self.deferred_check):
                continue
            rolled_back = self._settle(pending, good, start)
            if rolled_back is not None:
                yield rolled_back
                return
            pending = []
            if self.deferred_check:
                good = (self.step, self._on_compute(self._snapshot))
            logs = {k: v for k, v in self.history[-1].items() if k != "step"}
            if report:
                now = time.perf_counter()
                ips = window_n / max(now - window_t, 1e-9)
                window_t, window_n = now, 0
                left = (c.steps - self.step) * n / max(ips, 1e-9)
                yield TrainEvent("step", self.step, logs, ips, left, now - start)
            if preview:
                self.model.eval()
                yield TrainEvent("preview", self.step, logs, ips, 0.0,
                                 time.perf_counter() - start, self._preview())
                self.model.train()
        self.model.eval()
        yield TrainEvent("done", self.step, self.history[-1] if self.history else {}, ips, 0.0,
                         time.perf_counter() - start, self._preview())

    def _settle(self, pending: list[tuple[int, torch.Tensor, dict]], good, start: float) -> TrainEvent | None:
        """Read a window's losses back (one sync on a GPU) into the history; a non-finite one rolls the
        weights back to `good` (step, snapshot) -> the "nan" event, else None."""
        losses = self._on_compute(self._read_back, [p[1] for p in pending])
        if self.deferred_check and not all(math.isfinite(v) for v in losses):
            bad = next(i for i, v in enumerate(losses) if not math.isfinite(v))
            self._on_compute(self._restore, good[1])
            self.step = good[0]
            return TrainEvent("nan", pending[bad][0] - 1, {"loss": losses[bad]}, elapsed_s=time.perf_counter() - start)
        for (step, _, step_logs), value in zip(pending, losses):
            self.history.append({"step": step, "loss": value, **{k: float(v) for k, v in step_logs.items()}})
        return None

    # --- saving and continuing ----------------------------------------------------------------
    def state_dict(self) -> tuple[dict[str, torch.Tensor], dict]:
        """Everything but the model's weights that an exact continuation needs -> (tensors, meta):
        tensors `opt.<phase>.<param>.<name>` (Adam's moments and step counts), `ema.<name>`,
        `generator`, `order`; meta (plain JSON) the step, warm-up, seed and each phase's
        optimiser hyperparameters. Safetensors and JSON hold both: no pickle."""
        tensors: dict[str, torch.Tensor] = {}
        phases, scalars = [], {}
        for k, (phase, opt) in enumerate(zip(self.phases, self.opts)):
            sd = opt.state_dict()
            for pid, st in sd["state"].items():
                for name, v in st.items():
                    if torch.is_tensor(v):
                        tensors[f"opt.{k}.{pid}.{name}"] = v.detach().cpu().clone().contiguous()
                    else:
                        scalars[f"{k}.{pid}.{name}"] = v
            groups = [{"params": list(g["params"]), **{h: g[h] for h in _HYPER if h in g}} for g in sd["param_groups"]]
            phases.append({"name": phase.name, "param_groups": groups})
        if self.ema is not None:
            for name, v in self.ema.state_dict().items():
                tensors[f"ema.{name}"] = v.detach().cpu().clone().contiguous()
        tensors["generator"] = self._gen.get_state().clone()
        tensors["order"] = self._order.detach().cpu().clone()
        meta = {"version": STATE_VERSION, "step": self.step, "warmup_steps": self.config.warmup_steps,
                "seed": self.config.seed, "generator_device": self.device.type, "phases": phases,
                "scalars": scalars, "ema": self.ema is not None}
        return tensors, meta

    def load_state_dict(self, tensors: dict[str, torch.Tensor], meta: dict) -> None:
        """Continue from `state_dict()`'s output (from a file: checked here, UserError if it does
        not fit this trainer's model and phases)."""
        if not isinstance(meta, dict) or meta.get("version") != STATE_VERSION:
            raise _mismatch("unknown format")
        phases = meta.get("phases")
        if not isinstance(phases, list) or len(phases) != len(self.opts):
            raise _mismatch(f"{len(phases) if isinstance(phases, list) else 0} optimisers for {len(self.opts)} phases")
        scalars = meta.get("scalars") or {}
        loaded = [self._optimiser_state(k, opt, info, tensors, scalars)
                  for k, (opt, info) in enumerate(zip(self.opts, phases))]
        if self.ema is not None:
            ema = {name[4:]: v for name, v in tensors.items() if name.startswith("ema.")}
            if ema:
                try:
                    self.ema.load_state_dict(ema)
                except RuntimeError as exc:
                    raise _mismatch(f"EMA: {str(exc)[:200]}") from None
        for opt, sd in zip(self.opts, loaded):
            opt.load_state_dict(sd)
        self.step = int(meta.get("step") or 0)
        gen = tensors.get("generator")
        if gen is not None and meta.get("generator_device") == self.device.type:
            try:
                self._gen.set_state(gen.to(torch.uint8).cpu())
            except (RuntimeError, ValueError) as exc:
                raise _mismatch(f"generator: {str(exc)[:200]}") from None
        order = tensors.get("order")
        if order is not None and order.dim() == 1 and (len(order) == 0 or (
                int(order.min()) >= 0 and int(order.max()) < len(self.images))):
            self._order = order.to(self.device, torch.long)

    def _optimiser_state(self, k: int, opt, info, tensors: dict, scalars: dict) -> dict:
        """Phase k's optimiser state from a saved state (its hyperparameters, Adam's moments and step
        counts), checked against this trainer's parameters -> what `opt.load_state_dict` takes."""
        mine = opt.state_dict()["param_groups"]
        groups = info.get("param_groups") if isinstance(info, dict) else None
        if not isinstance(groups, list) or len(groups) != len(mine):
            raise _mismatch(f"phase {k}: parameter groups differ")
        new_groups = []
        for g, m in zip(groups, mine):
            if len(g.get("params", ())) != len(m["params"]):
                raise _mismatch(f"phase {k}: {len(g.get('params', ()))} parameters for {len(m['params'])}")
            hyper = {h: (tuple(g[h]) if h == "betas" else g[h]) for h in _HYPER if g.get(h) is not None}
            new_groups.append({**m, **hyper})
        shapes = {pid: p.shape for pid, p in enumerate(self._params[k])}
        state: dict[int, dict] = {}
        prefix = f"opt.{k}."
        for key, v in tensors.items():
            if key.startswith(prefix):
                pid, _, name = key[len(prefix):].partition(".")
                state.setdefault(int(pid), {})[name] = v
        for key, v in scalars.items():
            pk, pid, name = key.split(".", 2)
            if int(pk) == k:
                state.setdefault(int(pid), {})[name] = v
        for pid, st in state.items():
            if pid not in shapes:
                raise _mismatch(f"phase {k}: no parameter {pid}")
            for name in ("exp_avg", "exp_avg_sq"):
                if name in st and tuple(st[name].shape) != tuple(shapes[pid]):
                    raise _mismatch(f"phase {k}, parameter {pid}: {name} {tuple(st[name].shape)} "
                                    f"for {tuple(shapes[pid])}")
        return {"state": state, "param_groups": new_groups}
