"""The PixelCNN Engine: what the tab and the command line use (numpy in, numpy out, seeded)."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator

import numpy as np
import torch

from .. import runtime
from ..errors import UserError
from ..families import CheckpointEngine
from . import FAMILY, Config, build, evaluate, quantize
from .model import PixelCNN, nll
from .sampler import Frame, check_knobs, stream

MAX_SAMPLES = 64       # images one request may draw
MAX_COMPLETIONS = 8    # completions of one image
STEP_S = 0.02          # seconds of pixels per step of a streamed run (see _inference)


class Engine(CheckpointEngine):
    FAMILY = FAMILY

    @property
    def conditional(self) -> bool:
        return bool(self.config.num_classes)

    # --------------------------------------------------------------------------------------------
    # Checking a person's values
    # --------------------------------------------------------------------------------------------

    def check_count(self, n, high: int = MAX_SAMPLES) -> int:
        try:
            value = float(n)
        except (TypeError, ValueError):
            value = float("nan")
        if not (np.isfinite(value) and value == int(value) and 1 <= value <= high):
            raise UserError("value_out_of_range", what="n", low=1, high=high, value=n)
        return int(value)

    def labels_for(self, n: int, label) -> torch.Tensor | None:
        """Labels for n images: None for an unconditional model; label None / "all": 0, 1, 2, ...
        (an even spread); else that one class, by index or by name."""
        if not self.conditional:
            if label not in (None, "", "all"):
                raise UserError("pixelcnn_unconditional")
            return None
        k = self.config.num_classes
        if label in (None, "", "all"):
            return torch.arange(n, device=self.device) % k
        names = self.class_names or []
        if isinstance(label, str) and label in names:
            index = names.index(label)
        else:
            try:
                index = float(label)
            except (TypeError, ValueError):
                index = float("nan")
            if not (np.isfinite(index) and index == int(index) and 0 <= index < k):
                raise UserError("pixelcnn_label", value=label, high=k - 1)
        return torch.full((n,), int(index), dtype=torch.long, device=self.device)

    def to_values(self, image: np.ndarray) -> torch.Tensor:
        """uint8 (H, W), (H, W, C) or (N, H, W, C) -> integer values (N, C, H, W) in [0, levels);
        UserError pixelcnn_image for another size or channel count."""
        arr = np.asarray(image)
        if arr.ndim == 2:
            arr = arr[:, :, None]
        if arr.ndim == 3:
            arr = arr[None]
        c = self.config
        if arr.ndim != 4 or arr.shape[1:] != (c.image_size, c.image_size, c.channels) or arr.dtype != np.uint8:
            raise UserError("pixelcnn_image", size=c.image_size, channels=c.channels,
                            got="x".join(str(s) for s in arr.shape[1:]) if arr.ndim == 4 else str(arr.shape))
        x = torch.from_numpy(np.ascontiguousarray(arr)).permute(0, 3, 1, 2).float().div(255)
        return quantize(x, c.levels).to(self.device)

    # --------------------------------------------------------------------------------------------
    # Sampling
    # --------------------------------------------------------------------------------------------

    def stream(self, n: int, seed: int, *, label=None, temperature=1.0, top_k=0, top_p=1.0) -> Iterator[Frame]:
        """n images drawn pixel by pixel, a Frame after each pixel (see sampler.stream)."""
        n = self.check_count(n)
        knobs = check_knobs(temperature, top_k, top_p)
        labels = self.labels_for(n, label)
        gen = runtime.generator(runtime.check_seed(seed))
        return _inference(stream(self.model, n, gen, knobs, labels=labels))

    def sample(self, n: int, seed: int, label=None, temperature=1.0, top_k=0, top_p=1.0):
        """-> (uint8 images (n, H, W, C), labels (n,) or None)."""
        frame = None
        for frame in self.stream(n, seed, label=label, temperature=temperature, top_k=top_k, top_p=top_p):
            pass
        labels = self.labels_for(n, label)
        return frame.images.copy(), (labels.cpu().numpy() if labels is not None else None)

    def complete(self, image: np.ndarray, *, rows: int, n: int, seed: int, label=None, temperature=1.0,
                 top_k=0, top_p=1.0) -> Iterator[Frame]:
        """Keep the image's first `rows` rows, draw the rest: n completions, streamed."""
        n = self.check_count(n, MAX_COMPLETIONS)
        size = self.config.image_size
        try:
            rows_f = float(rows)
        except (TypeError, ValueError):
            rows_f = float("nan")
        if not (np.isfinite(rows_f) and rows_f == int(rows_f) and 1 <= rows_f <= size - 1):
            raise UserError("value_out_of_range", what="rows", low=1, high=size - 1, value=rows)
        given = self.to_values(image).expand(n, -1, -1, -1)
        known = torch.zeros(size, size, dtype=torch.bool)
        known[: int(rows_f)] = True
        knobs = check_knobs(temperature, top_k, top_p)
        labels = self.labels_for(n, label)
        gen = runtime.generator(runtime.check_seed(seed))
        return _inference(stream(self.model, n, gen, knobs, labels=labels, given=given, known=known))

    # --------------------------------------------------------------------------------------------
    # Likelihood and the receptive field
    # --------------------------------------------------------------------------------------------

    def nll(self, images: np.ndarray, labels=None) -> np.ndarray:
        """Exact -log p(x) in nats of each uint8 image (N,) (given their labels if conditional)."""
        x = self.to_values(images)
        y = None
        if self.conditional:
            y = torch.as_tensor(np.asarray(labels), dtype=torch.long, device=self.device) if labels is not None \
                else None
            if y is None or y.shape != (len(x),) or not ((0 <= y) & (y < self.config.num_classes)).all():
                raise UserError("pixelcnn_label", value="?", high=self.config.num_classes - 1)
        with runtime.compute():
            return nll(self.model, x, y).cpu().numpy()

    def evaluate(self, images: np.ndarray, labels=None) -> dict[str, float]:
        """Nats per image and bits per dimension of uint8 images (N, H, W, C)."""
        x = torch.from_numpy(np.asarray(images)).permute(0, 3, 1, 2).float().div(255)
        y = torch.as_tensor(np.asarray(labels)) if labels is not None else None
        with runtime.compute():
            return evaluate(self.model, x.to(self.device), labels=y)

    def examples(self) -> tuple[np.ndarray, np.ndarray | None]:
        """Held-out images shipped with the model (uint8 (N, H, W, C)) and their labels."""
        ex = self.aux.get("examples")
        if ex is None:
            c = self.config
            return np.zeros((0, c.image_size, c.image_size, c.channels), np.uint8), None
        labels = self.aux.get("example_labels")
        return ex.permute(0, 2, 3, 1).numpy(), (labels.numpy() if labels is not None else None)


@contextlib.contextmanager
def one_thread():
    """The compute lock and inference mode, with torch on one thread while they are held.

    A pixel step is a few convolutions of a single pixel: on a busy 2-core CPU two OpenMP threads
    spend more time waiting for each other than computing (16 digits: 0.95 s on one thread, 5.7 s
    on two, measured while other jobs ran). Holding the lock, the thread count can be set and
    restored (as engines.toy2d.playground does)."""
    with runtime.COMPUTE_LOCK, torch.inference_mode():
        threads = torch.get_num_threads()
        if threads != 1:
            torch.set_num_threads(1)
        try:
            yield
        finally:
            if threads != 1:
                torch.set_num_threads(threads)


def _inference(frames: Iterator[Frame], chunk_s: float = STEP_S) -> Iterator[Frame]:
    """Step a sampler generator on one thread, pixels for up to `chunk_s` seconds per step (each
    step may be its own task on the compute thread), yielding the newest frame of each step."""
    while True:
        frame = None
        with one_thread():
            end = time.perf_counter() + chunk_s
            for frame in frames:
                if frame.done or time.perf_counter() >= end:
                    break
        if frame is None:
            return
        yield frame
        if frame.done:
            return


def receptive_field(model: PixelCNN, row: int, col: int, label: int | None = None) -> np.ndarray:
    """Which input pixels the logits at (row, col) depend on, found by the gradient of their sum
    with respect to a random input (not by a formula): bool (H, W), True where the gradient is not 0.

    The input is continuous here (the encoded image), so the gradient exists at every pixel; a
    dependency the architecture allows has a non-zero gradient for almost every input."""
    cfg = model.config
    size = cfg.image_size
    if not (0 <= row < size and 0 <= col < size):
        raise UserError("value_out_of_range", what="pixel", low=0, high=size - 1, value=f"({row}, {col})")
    gen = runtime.generator(0)
    device = next(model.parameters()).device
    x_in = (torch.rand(1, cfg.channels, size, size, generator=gen) * 2 - 1).to(device).requires_grad_(True)
    y = torch.tensor([label or 0], device=device) if cfg.num_classes else None
    with runtime.COMPUTE_LOCK, torch.enable_grad():
        logits = model.head(model.features(x_in, y), x_in.detach())   # the pixel's own channels excluded
        logits[0, :, :, row, col].sum().backward()
    return (x_in.grad[0].abs().amax(0) > 0).cpu().numpy()


def plain_twin(config: Config, seed: int = 0) -> PixelCNN:
    """The plain masked stack with the same depth and kernels (random weights: the dependencies
    are the architecture's, whatever the weights), for the receptive-field comparison."""
    import dataclasses

    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return build(dataclasses.replace(config, arch="masked")).eval()
