"""One trainer for every family. A family brings a model and a pure loss function.

The trainer knows nothing of VAEs or GANs: it draws seeded batches, steps AdamW, keeps an
optional EMA of the weights, stops promptly when asked, refuses to apply a non-finite loss,
and streams `TrainEvent`s (losses, throughput, ETA, preview grids) to whoever iterates it.

A family with adversarial players (a GAN) gives a list of `Phase`s instead of one loss: each
step runs them in order, each phase with its own optimiser over its own parameters.

The fast path (for a GPU): `TrainConfig(amp="bf16", channels_last=True, compile=True)`.
Losses are then read back from the device only every `log_every` steps, and the non-finite
guard works on that window: the weights go back to the last checked good state.
"""

from __future__ import annotations

import copy
import math
import threading
import time
from dataclasses import dataclass, field
from typing import Callable, Iterable, Iterator, Literal, Protocol

import numpy as np
import torch

from . import runtime


class LossFn(Protocol):
    def __call__(self, model: torch.nn.Module, batch: dict, gen: torch.Generator, step: int
                 ) -> tuple[torch.Tensor, dict[str, float]]: ...


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


class Trainer:
    """Train `model` on `images` (float (N, C, H, W) in [0, 1]) with `loss_fn`.

    Iterate `run()` for events. Set `stop` (a threading.Event) from any thread to end the run
    after the current step; the final event is then "stopped" and the weights are kept.
    `final_model()` is the EMA copy when EMA is on, else the model itself.
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
        self.step = 0
        self.history: list[dict[str, float]] = []
        self._gen = runtime.generator(config.seed, self.device)
        self._order = torch.empty(0, dtype=torch.long, device=self.device)

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
        batch = {"x": self.images[idx]}
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

    def _preview(self) -> np.ndarray | None:
        if self.preview_fn is None:
            return None
        with runtime.compute():
            return self.preview_fn(self.final_model())

    def _step(self) -> tuple[int, torch.Tensor, dict[str, torch.Tensor | float]]:
        """One optimiser step of every phase -> (images used, sum of losses, logs); values stay on
        the device. On CPU a non-finite loss is caught before any weight moves (-> None)."""
        batch = self._next_batch()
        total, logs = 0.0, {}
        scale = self._lr_scale(self.step)
        for phase, params, opt in zip(self.phases, self._params, self.opts):
            for group in opt.param_groups:
                group["lr"] = (self.config.lr if phase.lr is None else phase.lr) * scale
            if len(self.phases) > 1:  # only this phase's weights need gradients
                self.model.requires_grad_(False)
                for p in params:
                    p.requires_grad_(True)
            with torch.autocast("cuda", dtype=torch.bfloat16, enabled=self.cuda and self.config.amp == "bf16"):
                loss, phase_logs = phase.loss_fn(self.forward_model, batch, self._gen, self.step)
            if not self.deferred_check and not torch.isfinite(loss):
                return len(batch["x"]), loss.detach(), {}
            opt.zero_grad(set_to_none=True)
            loss.backward()
            if self.config.grad_clip:
                torch.nn.utils.clip_grad_norm_(params, self.config.grad_clip)
            opt.step()
            prefix = f"{phase.name}_" if phase.name else ""
            logs.update({(prefix + k if prefix and k != "loss" else k): v for k, v in phase_logs.items()})
            if prefix:
                logs[prefix + "loss"] = loss.detach()
            total = total + loss.detach()
        if len(self.phases) > 1:
            self.model.requires_grad_(True)
        if self.ema is not None:
            self._update_ema()
        return len(batch["x"]), total, logs

    def _snapshot(self) -> list[torch.Tensor]:
        mods = [self.model] + ([self.ema] if self.ema is not None else [])
        return [t.detach().clone() for m in mods for t in m.state_dict().values()]

    @torch.no_grad()
    def _restore(self, snap: list[torch.Tensor]) -> None:
        mods = [self.model] + ([self.ema] if self.ema is not None else [])
        for t, s in zip((t for m in mods for t in m.state_dict().values()), snap):
            t.copy_(s)

    def run(self) -> Iterator[TrainEvent]:
        c = self.config
        start = self._started = time.perf_counter()
        window_t, window_n = start, 0
        ips = 0.0
        self.model.train()
        # On a GPU, reading a loss back each step would stall the queue of kernels: losses are
        # kept on the device and checked once per window; a bad window rolls back to `good`.
        pending: list[tuple[int, torch.Tensor, dict]] = []
        good = (self.step, self._snapshot()) if self.deferred_check else None
        while self.step < c.steps:
            if self.stop.is_set():
                yield TrainEvent("stopped", self.step, elapsed_s=time.perf_counter() - start)
                return
            if c.max_seconds is not None and time.perf_counter() - start > c.max_seconds:
                yield TrainEvent("timeout", self.step, elapsed_s=time.perf_counter() - start)
                return
            with runtime.COMPUTE_LOCK:
                n, loss, logs = self._step()
            if not self.deferred_check and not torch.isfinite(loss):
                # The weights are still those of the last good step: keep them, stop here.
                yield TrainEvent("nan", self.step, {"loss": float(loss)}, elapsed_s=time.perf_counter() - start)
                return
            self.step += 1
            window_n += n
            pending.append((self.step, loss, logs))
            report = self.step % c.log_every == 0 or self.step == c.steps
            preview = c.preview_every and self.step % c.preview_every == 0
            if not (report or preview or not self.deferred_check):
                continue
            # Read the window's losses back (one sync on a GPU).
            losses = torch.stack([torch.as_tensor(p[1], dtype=torch.float32, device=self.device).reshape(())
                                  for p in pending]).cpu().tolist()
            if self.deferred_check and not all(math.isfinite(v) for v in losses):
                bad = next(i for i, v in enumerate(losses) if not math.isfinite(v))
                self._restore(good[1])
                self.step = good[0]
                yield TrainEvent("nan", pending[bad][0] - 1, {"loss": losses[bad]},
                                 elapsed_s=time.perf_counter() - start)
                return
            for (step, _, step_logs), value in zip(pending, losses):
                self.history.append({"step": step, "loss": value,
                                     **{k: float(v) for k, v in step_logs.items()}})
            pending = []
            if self.deferred_check:
                good = (self.step, self._snapshot())
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


def image_grid(images: np.ndarray, nrow: int | None = None, pad: int = 2, pad_value: int = 40) -> np.ndarray:
    """(N, H, W, C) uint8 -> one (H', W', C) uint8 grid image, row-major."""
    n, h, w, c = images.shape
    nrow = nrow or int(math.ceil(math.sqrt(n)))
    ncol_rows = int(math.ceil(n / nrow))
    grid = np.full((ncol_rows * (h + pad) + pad, nrow * (w + pad) + pad, c), pad_value, np.uint8)
    for i in range(n):
        r, col = divmod(i, nrow)
        y, x = pad + r * (h + pad), pad + col * (w + pad)
        grid[y:y + h, x:x + w] = images[i]
    return grid


def to_uint8(x: torch.Tensor) -> np.ndarray:
    """float (B, C, H, W) in [0, 1] -> uint8 (B, H, W, C) numpy."""
    x = x.detach().float().clamp(0, 1).mul(255).round().to(torch.uint8)
    return x.permute(0, 2, 3, 1).cpu().numpy()
