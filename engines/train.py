"""One trainer for every family. A family brings a model and a pure loss function.

The trainer knows nothing of VAEs or GANs: it draws seeded batches, steps AdamW, keeps an
optional EMA of the weights, stops promptly when asked, refuses to apply a non-finite loss,
and streams `TrainEvent`s (losses, throughput, ETA, preview grids) to whoever iterates it.
"""

from __future__ import annotations

import copy
import math
import threading
import time
from dataclasses import dataclass, field
from typing import Callable, Iterator, Protocol

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
        loss_fn: LossFn,
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
        self.model = model.to(self.device)
        self.loss_fn = loss_fn
        # Small data sets live on the device whole: no loader, no host-to-device copy per step.
        self.images = images.to(self.device)
        self.labels = labels.to(self.device) if labels is not None else None
        self.preview_fn = preview_fn
        self.stop = stop or threading.Event()
        self.ema = copy.deepcopy(model).eval().requires_grad_(False) if config.ema_decay else None
        self.opt = torch.optim.AdamW(model.parameters(), lr=config.lr, betas=config.betas,
                                     weight_decay=config.weight_decay)
        self.step = 0
        self.history: list[dict[str, float]] = []
        self._gen = runtime.generator(config.seed, self.device)
        self._order = torch.empty(0, dtype=torch.long, device=self.device)

    def _lr_at(self, step: int) -> float:
        c = self.config
        if c.warmup_steps and step < c.warmup_steps:
            return c.lr * (step + 1) / c.warmup_steps
        span = max(1, c.steps - c.warmup_steps)
        progress = min(1.0, (step - c.warmup_steps) / span)
        return c.lr * (c.lr_min_ratio + (1 - c.lr_min_ratio) * 0.5 * (1 + math.cos(math.pi * progress)))

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
        for pe, pm in zip(self.ema.parameters(), self.model.parameters()):
            pe.lerp_(pm, 1 - d)
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

    def run(self) -> Iterator[TrainEvent]:
        c = self.config
        start = time.perf_counter()
        window_t, window_n = start, 0
        ips = 0.0
        self.model.train()
        while self.step < c.steps:
            if self.stop.is_set():
                yield TrainEvent("stopped", self.step, elapsed_s=time.perf_counter() - start)
                return
            if c.max_seconds is not None and time.perf_counter() - start > c.max_seconds:
                yield TrainEvent("timeout", self.step, elapsed_s=time.perf_counter() - start)
                return
            for group in self.opt.param_groups:
                group["lr"] = self._lr_at(self.step)
            with runtime.COMPUTE_LOCK:
                batch = self._next_batch()
                loss, logs = self.loss_fn(self.model, batch, self._gen, self.step)
                if not torch.isfinite(loss):
                    # The weights are still those of the last good step: keep them, stop here.
                    yield TrainEvent("nan", self.step, {"loss": float(loss.detach())},
                                     elapsed_s=time.perf_counter() - start)
                    return
                self.opt.zero_grad(set_to_none=True)
                loss.backward()
                if c.grad_clip:
                    torch.nn.utils.clip_grad_norm_(self.model.parameters(), c.grad_clip)
                self.opt.step()
                if self.ema is not None:
                    self._update_ema()
            self.step += 1
            window_n += len(batch["x"])
            logs = {"loss": float(loss.detach()), **logs}
            self.history.append({"step": self.step, **logs})
            if self.step % c.log_every == 0 or self.step == c.steps:
                now = time.perf_counter()
                ips = window_n / max(now - window_t, 1e-9)
                window_t, window_n = now, 0
                left = (c.steps - self.step) * len(batch["x"]) / max(ips, 1e-9)
                yield TrainEvent("step", self.step, logs, ips, left, now - start)
            if c.preview_every and self.step % c.preview_every == 0:
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
