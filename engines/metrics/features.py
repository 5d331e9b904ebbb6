"""Feature spaces the metrics are measured in, each with the name every result carries.

- "classifier": the data set's own classifier, shipped with the app.
  MNIST: assets/mnist-classifier (99.15% on the held-out digits; trained by `python -m
  benchmarks.classifier --train`): its 128-d penultimate layer for FID / KID / precision / recall,
  its softmax (10 digits) for the Inception Score.
  shapes: assets/shapes-classifier (engines/metrics/shapes_classifier.py; colour 100%, shape 98.95%,
  position 100% held out): its 128-d penultimate layer, and for the Inception Score the posterior
  of its shape head (8 shapes).
- "inception": Inception-v3 (pool3, 2048-d; logits for IS) through torchmetrics / torch-fidelity,
  whose weights are downloaded on first use. Offline it is refused at once (`metrics_inception_offline`).

Numbers from different feature spaces are not comparable; hence the name on every result.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from .. import runtime
from ..errors import UserError

CLASSIFIER_DIR = Path(__file__).resolve().parents[2] / "assets" / "mnist-classifier"
BATCH = 500  # images per inference batch
FEATURES = ("classifier", "inception")
DATASETS = ("mnist", "shapes")  # the data sets with a classifier of their own (their feature space)


@dataclass(frozen=True)
class Config:
    image_size: int = 28                 # input height = width, pixels (grey, one channel)
    widths: tuple[int, int] = (32, 64)   # channels of the two 3x3 conv layers, each followed by a 2x2 max-pool
    features: int = 128                  # width of the penultimate layer: the metrics' feature space
    classes: int = 10                    # digits 0-9
    dropout: float = 0.3                 # dropout on the features before the logits, training only

    @classmethod
    def from_dict(cls, d: dict) -> Config:
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = set(d) - names
        if unknown:
            raise ValueError(f"unknown classifier config keys: {sorted(unknown)}")
        return cls(**{k: tuple(v) if isinstance(v, list) else v for k, v in d.items()})

    def to_dict(self) -> dict:
        return {k: list(v) if isinstance(v, tuple) else v for k, v in dataclasses.asdict(self).items()}


class Classifier(nn.Module):
    """conv 3x3 -> ReLU -> pool -> conv 3x3 -> ReLU -> pool -> linear -> ReLU (features) -> dropout -> logits."""

    def __init__(self, config: Config):
        super().__init__()
        self.config = c = config
        w1, w2 = c.widths
        self.conv1 = nn.Conv2d(1, w1, 3, padding=1)
        self.conv2 = nn.Conv2d(w1, w2, 3, padding=1)
        side = c.image_size // 4  # two 2x2 pools: 28 -> 14 -> 7
        self.fc = nn.Linear(w2 * side * side, c.features)
        self.drop = nn.Dropout(c.dropout)
        self.head = nn.Linear(c.features, c.classes)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """float (B, 1, 28, 28) in [0, 1] -> the penultimate activations (B, 128), after the ReLU."""
        assert x.ndim == 4 and x.shape[1:] == (1, self.config.image_size, self.config.image_size), x.shape
        h = F.max_pool2d(F.relu(self.conv1(x)), 2)  # (B, 32, 14, 14)
        h = F.max_pool2d(F.relu(self.conv2(h)), 2)  # (B, 64, 7, 7)
        return F.relu(self.fc(h.flatten(1)))        # (B, 128)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """float (B, 1, 28, 28) in [0, 1] -> logits (B, 10)."""
        return self.head(self.drop(self.features(x)))


@functools.lru_cache(maxsize=2)
def load_classifier(path: str = str(CLASSIFIER_DIR)) -> Classifier:
    """The classifier in eval mode on the CPU, from config.json + model.safetensors."""
    from safetensors.torch import load_file

    from ..checkpoint import CONFIG, WEIGHTS

    folder = Path(path)
    for name in (CONFIG, WEIGHTS):
        if not (folder / name).is_file():
            raise UserError("checkpoint_missing_file", path=str(folder), file=name)
    model = Classifier(Config.from_dict(json.loads((folder / CONFIG).read_text(encoding="utf-8"))))
    model.load_state_dict(load_file(str(folder / WEIGHTS), device="cpu"), strict=True)
    return model.eval()


def as_float(images, side: int | None = None) -> torch.Tensor:
    """uint8 (N, H, W[, C]) numpy / tensor, or float (N, C, H, W) in [0, 1] -> float (N, C, H, W)
    in [0, 1], resized (bilinear, antialiased) to `side` when given and different."""
    x = images.detach().cpu() if torch.is_tensor(images) else torch.as_tensor(np.asarray(images))
    if x.ndim == 3:
        x = x.unsqueeze(1)  # (N, H, W) -> (N, 1, H, W)
    elif x.ndim == 4 and x.shape[-1] in (1, 3) and x.shape[1] not in (1, 3):
        x = x.permute(0, 3, 1, 2)  # NHWC -> NCHW
    if x.ndim != 4:
        raise ValueError(f"expected images (N, H, W[, C]) or (N, C, H, W); got {tuple(x.shape)}")
    x = x.float() / 255 if x.dtype == torch.uint8 else x.float()
    if side is not None and x.shape[-1] != side:
        x = F.interpolate(x, size=(side, side), mode="bilinear", antialias=True, align_corners=False)
    return x


@dataclass
class Extracted:
    """What one feature space makes of a set of images."""
    features: torch.Tensor   # float64 (N, D): FID, KID, precision / recall
    logits: torch.Tensor     # float64 (N, K): the Inception Score's class posterior
    space: str               # "mnist-classifier (penultimate layer, 128 dims)" etc.


def _batched(net, head, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """net(x) -> (features, logits) batch by batch, in float64."""
    feats, logits = [], []
    with torch.inference_mode():
        for i in range(0, len(x), BATCH):
            f = net(x[i:i + BATCH])
            feats.append(f)
            logits.append(head(f))
    return torch.cat(feats).double(), torch.cat(logits).double()


def shapes_features(images) -> Extracted:
    """The shapes classifier's 128-d penultimate layer; the Inception Score's posterior is its shape head's."""
    from . import shapes_classifier

    model = shapes_classifier.default()
    x = as_float(images, model.config.image_size)
    if x.shape[1] == 1:
        x = x.expand(-1, 3, -1, -1)  # grey -> RGB, as the classifier only read colour shapes
    feats, logits = _batched(model.features, model.heads[shapes_classifier.IS_HEAD], x)
    return Extracted(feats, logits, f"shapes-classifier (penultimate layer, {model.config.features} dims)")


def classifier_features(images, path: str = str(CLASSIFIER_DIR)) -> Extracted:
    model = load_classifier(path)
    c = model.config
    x = as_float(images, c.image_size)
    if x.shape[1] == 3:
        x = x.mean(1, keepdim=True)  # colour -> grey, as the classifier only read grey digits
    feats, logits = _batched(model.features, model.head, x)
    return Extracted(feats, logits, f"mnist-classifier (penultimate layer, {c.features} dims)")


def offline() -> bool:
    return any(os.environ.get(k, "").lower() in ("1", "true", "yes") for k in ("HF_HUB_OFFLINE", "GENLAB_OFFLINE"))


def _build_inception():
    with runtime.HEAVY_IMPORTS:  # never beside the warm-up thread's import of the same package
        from torchmetrics.image.fid import NoTrainInceptionV3

    return NoTrainInceptionV3(name="inception-v3-compat", features_list=["2048", "logits_unbiased"]).eval()


def check_inception() -> None:
    """What can be known at once, without a download: offline (HF_HUB_OFFLINE / GENLAB_OFFLINE) or
    no torch-fidelity -> UserError("metrics_inception_offline")."""
    if offline():
        raise UserError("metrics_inception_offline", reason="HF_HUB_OFFLINE / GENLAB_OFFLINE is set")
    import importlib.util

    if importlib.util.find_spec("torch_fidelity") is None:
        raise UserError("metrics_inception_offline", reason="torch-fidelity is not installed")


@functools.lru_cache(maxsize=1)
def _inception():
    """torch-fidelity's Inception-v3 (the FID reference network), as torchmetrics uses it. Its weights
    download in a thread of their own (engines.downloads): on the compute thread a first request is
    told to try again shortly, and a failure is remembered for a while."""
    from ..downloads import DownloadFailed, fetch

    check_inception()
    try:
        return fetch("metrics-inception-v3", _build_inception, what="Inception-v3", wait_s=300)
    except DownloadFailed as exc:  # no network: one message says why
        reason = " ".join(str(exc).split())[:160] or type(exc).__name__
        raise UserError("metrics_inception_offline", reason=reason) from None


def inception_features(images) -> Extracted:
    net = _inception()
    x = as_float(images)
    if x.shape[1] == 1:
        x = x.expand(-1, 3, -1, -1)
    feats, logits = [], []
    with torch.inference_mode():
        for i in range(0, len(x), 100):
            # both outputs (forward() returns only the first); it resizes to 299 itself
            f, lg = net._torch_fidelity_forward((x[i:i + 100] * 255).round().to(torch.uint8))
            feats.append(f.reshape(len(f), -1))
            logits.append(lg.reshape(len(lg), -1))
    return Extracted(torch.cat(feats).double(), torch.cat(logits).double(), "inception-v3 (pool3, 2048 dims)")


def check_dataset(dataset) -> str:
    """A data set with a classifier of its own, or UserError("metrics_dataset_unknown")."""
    if dataset not in DATASETS:
        raise UserError("metrics_dataset_unknown", name=str(dataset)[:40], available=", ".join(DATASETS))
    return dataset


def extract(images, features: str = "classifier", dataset: str = "mnist") -> Extracted:
    """The named feature space's view of `images` (uint8 (N, H, W[, C]) or float (N, C, H, W));
    "classifier" is the classifier of `dataset` (its images' data set); Inception is the same for all."""
    if features == "classifier":
        return shapes_features(images) if check_dataset(dataset) == "shapes" else classifier_features(images)
    if features == "inception":
        return inception_features(images)
    raise UserError("metrics_features_unknown", name=features, available=", ".join(FEATURES))
