"""The scenes judge: an attribute classifier that says what a 64x64 scene image shows.

For each of the 9 grid cells it predicts whether an object is there and, if so, its shape, colour
and size; for the image, the background. Position and count follow from the cells found; relations
from the positions. One small conv net (64 -> 8x8 features), resampled to 9x9 so each cell is a 3x3
block, and one head shared by all cells (an object looks the same in every cell).

It is trained on its own streams of the world ("judge"; tested on "judge-test"), every colour+shape
pair included, never on the "eval" scenes that held-out prompts are judged on. Images are lightly
blurred and noised in training so generated (softer) images are read too. Shipped in
assets/scenes-judge (config.json, model.safetensors, card.json without a family: no generator).
"""

from __future__ import annotations

import dataclasses
import json
import math
import time
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from ..data.shapes import BACKGROUNDS, COLORS, SHAPES
from . import world

JUDGE_DIR = Path(__file__).resolve().parents[2] / "assets" / "scenes-judge"
COLOR_NAMES, BG_NAMES = tuple(COLORS), tuple(BACKGROUNDS)
ATTRIBUTES = ("color", "shape", "size", "position", "count", "background")
_HEAD = (1, len(SHAPES), len(COLOR_NAMES), len(world.SIZES))   # presence, shape, colour, size logits


@dataclass(frozen=True)
class Config:
    image_size: int = 64                              # input side, pixels (RGB)
    widths: tuple[int, int, int] = (16, 32, 48)       # channels at 64x64 / 32x32 / 16x16 and 8x8
    hidden: int = 128                                 # the cell head's hidden width

    @classmethod
    def from_dict(cls, d: dict) -> Config:
        unknown = set(d) - {f.name for f in dataclasses.fields(cls)}
        if unknown:
            raise ValueError(f"unknown judge config keys: {sorted(unknown)}")
        c = cls(**{k: tuple(v) if isinstance(v, list) else v for k, v in d.items()})
        if c.image_size != world.SIDE or len(c.widths) != 3 or not all(8 <= w <= 256 for w in (*c.widths, c.hidden)):
            raise ValueError(f"judge config out of bounds: {c}")
        return c

    def to_dict(self) -> dict:
        return {k: list(v) if isinstance(v, tuple) else v for k, v in dataclasses.asdict(self).items()}


def _block(cin: int, cout: int, stride: int) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(cin, cout, 3, stride, 1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(inplace=True))


class Judge(nn.Module):
    def __init__(self, config: Config = Config()):
        super().__init__()
        self.config = c = config
        w1, w2, w3 = c.widths
        self.body = nn.Sequential(_block(3, w1, 1), _block(w1, w2, 2), _block(w2, w3, 2), _block(w3, w3, 1),
                                  _block(w3, w3, 2))                                # 64 -> 32 -> 16 -> 8
        self.cell = nn.Sequential(nn.Linear(w3 * 9, c.hidden), nn.ReLU(inplace=True), nn.Linear(c.hidden, sum(_HEAD)))
        self.background = nn.Linear(w3, len(BG_NAMES))

    def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        """float (B, 3, 64, 64) in [0, 1] -> logits: present (B, 9), shape (B, 9, 8), color (B, 9, 8),
        size (B, 9, 3), background (B, 5)."""
        assert x.ndim == 4 and x.shape[1:] == (3, world.SIDE, world.SIDE), x.shape
        h = self.body(x * 2 - 1)                                                  # (B, C, 8, 8)
        cells = F.interpolate(h, size=(9, 9), mode="bilinear", align_corners=False)   # each cell a 3x3 block
        b, c = h.shape[:2]
        cells = cells.view(b, c, 3, 3, 3, 3).permute(0, 2, 4, 1, 3, 5).reshape(b, 9, c * 9)  # (B, 9 cells, C*9)
        present, shape, color, size = self.cell(cells).split(_HEAD, dim=-1)
        return {"present": present.squeeze(-1), "shape": shape, "color": color, "size": size,
                "background": self.background(h.mean((2, 3)))}


def targets(scenes: list[dict]) -> dict[str, torch.Tensor]:
    """Per-cell labels (-100 where no object) and the background index of each scene."""
    n = len(scenes)
    out = {k: torch.full((n, 9), -100, dtype=torch.long) for k in ("shape", "color", "size")}
    out["present"] = torch.zeros(n, 9)
    for i, s in enumerate(scenes):
        for o in s["objects"]:
            out["present"][i, o["cell"]] = 1.0
            out["shape"][i, o["cell"]] = SHAPES.index(o["shape"])
            out["color"][i, o["cell"]] = COLOR_NAMES.index(o["color"])
            out["size"][i, o["cell"]] = world.SIZES.index(o["size"])
    out["background"] = torch.tensor([BG_NAMES.index(s["background"]) for s in scenes])
    return out


def loss_fn(logits: dict, target: dict) -> torch.Tensor:
    loss = F.binary_cross_entropy_with_logits(logits["present"], target["present"])
    for k in ("shape", "color", "size"):
        loss = loss + F.cross_entropy(logits[k].flatten(0, 1), target[k].flatten(), ignore_index=-100)
    return loss + F.cross_entropy(logits["background"], target["background"])


def as_input(images) -> torch.Tensor:
    """uint8 (N, 64, 64, 3) numpy / tensor -> float (N, 3, 64, 64) in [0, 1]."""
    x = torch.as_tensor(images)
    return x.permute(0, 3, 1, 2).float().div(255)


def read(logits: dict, threshold: float = 0.5) -> list[dict]:
    """What the judge sees in each image: {"objects": [{shape, color, size, position, cell}], "count",
    "background"}, objects in reading order."""
    present = torch.sigmoid(logits["present"]) > threshold
    shape, color, size = (logits[k].argmax(-1) for k in ("shape", "color", "size"))
    bg = logits["background"].argmax(-1)
    out = []
    for i in range(present.shape[0]):
        objs = [{"shape": SHAPES[shape[i, c]], "color": COLOR_NAMES[color[i, c]], "size": world.SIZES[size[i, c]],
                 "position": world.POSITIONS[c], "cell": c} for c in range(9) if present[i, c]]
        out.append({"objects": objs, "count": len(objs), "background": BG_NAMES[bg[i]]})
    return out


@torch.no_grad()
def judge_images(model: Judge, images, batch: int = 256) -> list[dict]:
    """uint8 (N, 64, 64, 3) -> `read` of each image."""
    model.eval()
    x = as_input(images)
    return [r for k in range(0, len(x), batch) for r in read(model(x[k:k + batch]))]


def score(seen: list[dict], scenes: list[dict]) -> dict[str, float]:
    """Per attribute, how often the judge agrees with the truth. Per object of the truth: position (an
    object found in its cell), and colour / shape / size where found; per image: count, background,
    and `scene` (every object and nothing else exactly right)."""
    hits = {k: 0 for k in ATTRIBUTES + ("scene",)}
    n_obj = 0
    for got, truth in zip(seen, scenes):
        by_cell = {o["cell"]: o for o in got["objects"]}
        exact = got["count"] == len(truth["objects"])
        for o in truth["objects"]:
            n_obj += 1
            g = by_cell.get(o["cell"])
            hits["position"] += g is not None
            for k in ("color", "shape", "size"):
                right = g is not None and g[k] == o[k]
                hits[k] += right
                exact &= right
        hits["count"] += got["count"] == len(truth["objects"])
        hits["background"] += got["background"] == truth["background"]
        hits["scene"] += exact
    per_image = ("count", "background", "scene")
    return {k: round(v / (len(scenes) if k in per_image else n_obj), 4) for k, v in hits.items()}


def load_judge(path: str | Path = JUDGE_DIR) -> Judge:
    """The judge in eval mode on the CPU, from config.json + model.safetensors."""
    from safetensors.torch import load_file

    folder = Path(path)
    model = Judge(Config.from_dict(json.loads((folder / "config.json").read_text(encoding="utf-8"))))
    model.load_state_dict(load_file(str(folder / "model.safetensors"), device="cpu"), strict=True)
    return model.eval()


def save_judge(folder: str | Path, model: Judge, card: dict) -> Path:
    from safetensors.torch import save_file

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    save_file({k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}, str(folder / "model.safetensors"))
    (folder / "config.json").write_text(json.dumps(model.config.to_dict(), indent=2) + "\n", encoding="utf-8")
    (folder / "card.json").write_text(json.dumps(card, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    return folder


# ------------------------------------------------------------------------------------------------
# Training (a fresh batch of the "judge" stream every step: no image is seen twice)
# ------------------------------------------------------------------------------------------------
BLUR_P, NOISE_P, NOISE_STD = 0.3, 0.3, 0.04


def augment(x: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
    """Blur a random 30% of the images (a 3x3 Gaussian of random strength) and noise another 30%."""
    b = x.shape[0]
    sigma = 0.4 + 0.8 * torch.rand(b, generator=gen)
    k = torch.exp(-torch.tensor([1.0, 0.0, 1.0])[None] / (2 * sigma[:, None] ** 2))   # (B, 3)
    k = k / k.sum(1, keepdim=True)
    kernel = (k[:, :, None] * k[:, None, :]).repeat_interleave(3, 0)[:, None]       # (B*3, 1, 3, 3)
    blurred = F.conv2d(F.pad(x.reshape(1, b * 3, *x.shape[2:]), (1, 1, 1, 1), mode="replicate"), kernel,
                       groups=b * 3).view_as(x)
    pick = torch.rand(b, generator=gen)
    x = torch.where((pick < BLUR_P)[:, None, None, None], blurred, x)
    noisy = (x + NOISE_STD * torch.rand(b, 1, 1, 1, generator=gen) * torch.randn(x.shape, generator=gen)).clamp(0, 1)
    return torch.where((pick > 1 - NOISE_P)[:, None, None, None], noisy, x)


def train_judge(*, steps: int, batch: int = 64, lr: float = 2e-3, seed: int = 0, max_seconds: float = 1e9,
                config: Config = Config(), log=print) -> tuple[Judge, dict]:
    """AdamW with a cosine schedule (on the larger of step and time progress); (model, training facts)."""
    torch.manual_seed(seed)
    model = Judge(config).train()
    opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=1e-4)
    gen = torch.Generator().manual_seed(seed)
    t0, step = time.perf_counter(), 0
    while step < steps and time.perf_counter() - t0 < max_seconds:
        progress = max(step / steps, (time.perf_counter() - t0) / max_seconds)
        for g in opt.param_groups:   # 100 warm-up steps, then cosine to 5% of lr
            g["lr"] = lr * min(1.0, (step + 1) / 100) * (0.05 + 0.95 * 0.5 * (1 + math.cos(math.pi * min(progress, 1.0))))
        scenes = world.sample_scenes(batch, seed=seed, stream="judge", start=step * batch)
        x = augment(as_input(world.render(scenes)), gen)
        loss = loss_fn(model(x), targets(scenes))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        step += 1
        if step % 100 == 0:
            log(f"step {step}  loss {loss.item():.4f}  {step * batch / (time.perf_counter() - t0):.0f} img/s")
    return model.eval(), {"steps": step, "batch_size": batch, "lr": lr, "seed": seed, "images_seen": step * batch,
                          "wall_time_s": round(time.perf_counter() - t0, 1)}
