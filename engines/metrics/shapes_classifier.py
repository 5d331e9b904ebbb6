"""GenLab's shapes classifier: a small CNN that reads a `shapes` image's colour, shape and position.

Shipped at assets/shapes-classifier (safetensors + config.json + card.json; the card has no family,
so it is no model of the app's lists). Trained on the data set's own labels (the factors the
renderer drew) by `python -m benchmarks.shapes_attributes --train`; held out: colour 100%, shape
98.95%, position 100% on the 2,000 test-stream images. Two uses:

- the judge of generated shapes (the CLIP benchmark, the VQ prior's samples): `predict`;
- the metrics' shapes feature space: its 128-d penultimate layer (`features`) for FID / KID /
  precision / recall, and the shape head's posterior (8 classes) for the Inception Score.
"""

from __future__ import annotations

import functools
import itertools
import json
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ..checkpoint import CONFIG, PICKLE_SUFFIXES, WEIGHTS
from ..configs import FamilyConfig
from ..data import COLORS, POSITIONS, SHAPES
from ..errors import UserError

CLASSIFIER_DIR = Path(__file__).resolve().parents[2] / "assets" / "shapes-classifier"
HEADS = {"color": tuple(COLORS), "shape": SHAPES, "position": POSITIONS}
IS_HEAD = "shape"  # the head whose posterior the Inception Score reads (8 classes)


@dataclass(frozen=True)
class Config(FamilyConfig):  # from_dict: config.json back to the dataclass
    image_size: int = 32                       # input side (RGB)
    widths: tuple[int, int, int] = (32, 64, 96)  # 3x3 conv widths, each followed by a 2x2 max-pool
    features: int = 128                        # penultimate width: the metrics' feature space


class AttributeNet(nn.Module):
    """conv-pool x3 -> linear -> ReLU (features) -> one softmax head per factor (colour 8, shape 8, position 9)."""

    def __init__(self, config: Config):
        super().__init__()
        self.config = c = config
        chans = (3, *c.widths)
        self.convs = nn.ModuleList(nn.Conv2d(a, b, 3, padding=1) for a, b in itertools.pairwise(chans))
        side = c.image_size // 8
        self.fc = nn.Linear(c.widths[-1] * side * side, c.features)
        self.heads = nn.ModuleDict({k: nn.Linear(c.features, len(v)) for k, v in HEADS.items()})

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """float (B, 3, 32, 32) in [0, 1] -> the penultimate activations (B, 128), after the ReLU."""
        h = x
        for conv in self.convs:
            h = F.max_pool2d(F.relu(conv(h)), 2)  # 32 -> 16 -> 8 -> 4
        return F.relu(self.fc(h.flatten(1)))

    def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        """float (B, 3, 32, 32) in [0, 1] -> {factor: logits (B, K)}."""
        h = self.features(x)
        return {k: head(h) for k, head in self.heads.items()}


@torch.no_grad()
def predict(model: AttributeNet, images) -> dict[str, np.ndarray]:
    """uint8 (N, H, W, 3) -> {factor: predicted names (N,)}; images are resized to the net's side."""
    from .. import runtime

    x = torch.from_numpy(np.ascontiguousarray(images)).permute(0, 3, 1, 2).float().div(255)
    if x.shape[1] == 1:
        x = x.expand(-1, 3, -1, -1)
    side = model.config.image_size
    if x.shape[-1] != side:
        x = F.interpolate(x, size=(side, side), mode="bilinear", antialias=True, align_corners=False)
    dev = next(model.parameters()).device
    with runtime.compute():
        out = {k: torch.cat([model(x[i:i + 500].to(dev))[k].argmax(1).cpu() for i in range(0, len(x), 500)])
               for k in HEADS}
    return {k: np.asarray(HEADS[k])[v.numpy()] for k, v in out.items()}


def load(path: str | os.PathLike = CLASSIFIER_DIR) -> AttributeNet:
    """The classifier in eval mode on the CPU, from config.json + model.safetensors (never a pickle)."""
    from safetensors.torch import load_file

    path = Path(path)
    if path.suffix.lower() in PICKLE_SUFFIXES:
        raise UserError("checkpoint_pickle", name=path.name)
    for name in (CONFIG, WEIGHTS):
        if not (path / name).is_file():
            raise UserError("checkpoint_missing_file", path=str(path), file=name)
    model = AttributeNet(Config.from_dict(json.loads((path / CONFIG).read_text(encoding="utf-8"))))
    model.load_state_dict(load_file(str(path / WEIGHTS), device="cpu"), strict=True)
    return model.eval()


@functools.lru_cache(maxsize=1)
def default() -> AttributeNet:
    return load(CLASSIFIER_DIR)
