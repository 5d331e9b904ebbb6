"""Attribute regressors for `faces`, and what each StyleGAN layer controls ("faceattr" family).

A small CNN reads a 64x64 face and predicts all of its attributes at once (`FACE_ATTRIBUTES`):
one softmax head per categorical attribute (head shape, eyes, ...) and one sigmoid head per
continuous one (head_x, tilt, grain, ...) in the [0, 1] units of `attribute_targets`. It is the
measuring instrument of `layer_effects`: mix B's styles into A at some layers, and see which
attributes of A move to B's value.

  regressor   `Config`, `build`, `AttributeNet` (.predict: uint8 images -> {name: (N,)}),
              `make_loss` for the shared trainer, `evaluate` (held-out accuracy / MAE)
  effects     `layer_effects(engine, regressor, n=, seed=)` -> groups x attributes in [0, 1]
  shipped     `load_default(assets_dir)` (the first regressor among the assets: the app's --assets-dir,
              else assets/, or None), `ATTRIBUTE_NAMES`, `describe`; a generator's card.json
              ("layer_effects") holds its effects with that regressor (the shipped faces StyleGAN's:
              n 64 and 256, seed 0), returned at once when both weight files match, so the stored
              result travels with the generator (a copy, another --assets-dir, an upload)

Retrain the shipped regressor: python -m engines.stylegan.attributes --train --out assets/faces-attributes
Then store the shipped model's effects: python -m engines.stylegan.attributes --precompute assets/faces-stylegan
"""

from __future__ import annotations

import copy
import math
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from .. import runtime
from ..configs import FamilyConfig, check_range
from ..data.faces import FACE_ATTRIBUTES, FACE_GROUPS_ZH, attribute_targets
from ..families import Family
from .engine import MAX_BATCH, mix_styles

FAMILY = "faceattr"
DEFAULT_DIR = Path(__file__).resolve().parents[2] / "assets" / "faces-attributes"
TRAIN_COMMAND = "python -m engines.stylegan.attributes --train --out assets/faces-attributes"

ATTRIBUTE_NAMES: tuple[str, ...] = tuple(FACE_ATTRIBUTES)
KINDS: dict[str, str] = {name: spec["kind"] for name, spec in FACE_ATTRIBUTES.items()}
GROUPS: dict[str, str] = {name: spec["group"] for name, spec in FACE_ATTRIBUTES.items()}
_EN_NAMES = {"head_x": "head x position", "head_y": "head y position", "eye_size": "eye size",
             "head_size": "head size", "head_shape": "head shape", "hair_style": "hair style",
             "hair_color": "hair colour", "background": "background colour", "pattern": "background pattern"}


def describe(name: str, lang: str = "en") -> str:
    """Display name of an attribute: "head shape" / "脸型"."""
    if lang == "zh" and name in FACE_ATTRIBUTES:
        return FACE_ATTRIBUTES[name]["zh"]
    return _EN_NAMES.get(name, name.replace("_", " "))


def describe_group(group: str, lang: str = "en") -> str:
    """"coarse" / "基础层（粗糙层）"."""
    return FACE_GROUPS_ZH.get(group, group) if lang == "zh" else group


# ------------------------------------------------------------------------------------------------
# The regressor
# ------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Config(FamilyConfig):
    image_size: int = 64              # input height = width, pixels (faces: 64)
    channels: int = 3                 # RGB
    widths: tuple[int, ...] = (24, 48, 96, 128)  # feature maps after each stride-2 stage (64 -> 32 -> 16 -> 8 -> 4)
    hidden: int = 128                 # width of the shared fully connected layer before the heads
    regression_weight: float = 10.0   # weight of each continuous head's squared error against a categorical head's CE

    def heads(self) -> dict[str, int]:
        """Outputs per attribute: its number of classes, or 1 for a continuous one (in head order)."""
        return {name: len(spec["values"]) if spec["kind"] == "categorical" else 1
                for name, spec in FACE_ATTRIBUTES.items()}

    def validate(self) -> None:
        if self.image_size not in (16, 32, 64):
            raise ValueError(f"image_size must be 16, 32 or 64, not {self.image_size}")
        if self.channels not in (1, 3):
            raise ValueError(f"channels must be 1 or 3, not {self.channels}")
        if not self.widths or any(not isinstance(w, int) or w < 1 for w in self.widths):
            raise ValueError(f"widths must be positive ints, not {self.widths!r}")
        if self.image_size >> len(self.widths) < 1:
            raise ValueError(f"{len(self.widths)} stride-2 stages are too many for {self.image_size}x{self.image_size}")
        if not (isinstance(self.hidden, int) and self.hidden >= 1):
            raise ValueError(f"hidden must be a positive int, not {self.hidden!r}")
        for w in self.widths:
            check_range("widths", w, 1, 1024)
        check_range("hidden", self.hidden, 1, 8192)
        if not (self.regression_weight >= 0 and math.isfinite(self.regression_weight)):
            raise ValueError(f"regression_weight must be a finite number >= 0, not {self.regression_weight}")


class AttributeNet(nn.Module):
    """image (B, C, S, S) in [0, 1] -> logits (B, sum of heads): per stage a stride-2 4x4 conv
    and, after the first stage, a 3x3 conv (BatchNorm + SiLU; the first stage's 4x4 conv alone
    sees single pixels, enough for grain and freckles, at a fraction of a full-size 3x3's cost),
    then flatten (position matters: head_x, head_y) and one hidden layer shared by every head.
    `split` cuts the output into {name: (B, k)}."""

    def __init__(self, config: Config):
        super().__init__()
        self.config = config
        self.heads = config.heads()
        layers, c_in = [], config.channels
        for k, c in enumerate(config.widths):
            layers += [nn.Conv2d(c_in, c, 4, stride=2, padding=1, bias=False), nn.BatchNorm2d(c), nn.SiLU()]
            if k > 0:
                layers += [nn.Conv2d(c, c, 3, padding=1, bias=False), nn.BatchNorm2d(c), nn.SiLU()]
            c_in = c
        self.features = nn.Sequential(*layers)
        side = config.image_size >> len(config.widths)
        self.fc = nn.Sequential(nn.Flatten(), nn.Linear(c_in * side * side, config.hidden), nn.SiLU())
        self.out = nn.Linear(config.hidden, sum(self.heads.values()))

    @property
    def kinds(self) -> dict[str, str]:
        return dict(KINDS)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        c = self.config
        assert x.shape[1:] == (c.channels, c.image_size, c.image_size), x.shape
        return self.out(self.fc(self.features(x * 2 - 1)))

    def split(self, out: torch.Tensor) -> dict[str, torch.Tensor]:
        """(B, sum of heads) -> {name: (B, classes) logits or (B,) continuous logit}."""
        parts = torch.split(out, list(self.heads.values()), dim=1)
        return {name: (p if KINDS[name] == "categorical" else p[:, 0]) for name, p in zip(self.heads, parts)}

    @torch.no_grad()
    def predict(self, images: np.ndarray, batch: int = 256) -> dict[str, np.ndarray]:
        """uint8 (N, H, W, C) -> {name: (N,)}: class indices (int64) for categorical attributes,
        values in [0, 1] (the units of `attribute_targets`) for continuous ones."""
        images = np.asarray(images)
        if images.ndim == 3:
            images = images[..., None]
        device = next(self.parameters()).device
        outs: dict[str, list[np.ndarray]] = {name: [] for name in self.heads}
        with runtime.compute():
            self.eval()
            for start in range(0, len(images), batch):
                x = torch.from_numpy(np.ascontiguousarray(images[start:start + batch])).to(device)
                x = x.permute(0, 3, 1, 2).float() / 255
                for name, value in self.split(self(x)).items():
                    value = value.argmax(1) if KINDS[name] == "categorical" else torch.sigmoid(value)
                    outs[name].append(value.cpu().numpy())
        return {name: np.concatenate(v) for name, v in outs.items()}


def build(config: Config) -> AttributeNet:
    return AttributeNet(config)


def targets_matrix(attrs: list[dict]) -> torch.Tensor:
    """Attribute dicts -> float (N, A) in ATTRIBUTE_NAMES order: class indices (exact in float32)
    for categorical attributes, [0, 1] values for continuous ones."""
    t = attribute_targets(attrs)
    return torch.from_numpy(np.stack([t[name].astype(np.float32) for name in ATTRIBUTE_NAMES], axis=1))


def attribute_losses(model: AttributeNet, logits: torch.Tensor, y: torch.Tensor) -> dict[str, torch.Tensor]:
    """Per-attribute loss, each a scalar: cross-entropy (nats) for a categorical head, squared
    error of sigmoid(logit) against the [0, 1] target for a continuous one. y: (B, A)."""
    out = {}
    for j, (name, value) in enumerate(model.split(logits).items()):
        if KINDS[name] == "categorical":
            out[name] = F.cross_entropy(value.float(), y[:, j].round().long())
        else:
            out[name] = F.mse_loss(torch.sigmoid(value.float()), y[:, j].float())
    return out


def make_loss(config: Config):
    """loss = sum of categorical CEs + regression_weight * sum of continuous squared errors.
    batch["x"]: uint8 or float images (B, C, S, S); batch["y"]: (B, A) from `targets_matrix`."""

    def loss_fn(model, batch, gen, step):
        x = batch["x"]
        x = x.float() / 255 if x.dtype == torch.uint8 else x
        parts = attribute_losses(model, model(x), batch["y"])
        loss = sum(v if KINDS[k] == "categorical" else config.regression_weight * v for k, v in parts.items())
        return loss, {k: v.detach() for k, v in parts.items()}

    return loss_fn


def evaluate(model: AttributeNet, images: torch.Tensor, attrs: list[dict]) -> dict[str, dict]:
    """Held-out quality per attribute: {"accuracy": {name: fraction}, "mae": {name: in the
    attribute's own units}, "mae_unit": {name: [0, 1] units}} for uint8 images (N, C, S, S)."""
    pred = model.predict(images.permute(0, 2, 3, 1).numpy())
    true = attribute_targets(attrs)
    acc, mae, mae_unit = {}, {}, {}
    for name, spec in FACE_ATTRIBUTES.items():
        if spec["kind"] == "categorical":
            acc[name] = round(float((pred[name] == true[name]).mean()), 4)
        else:
            low, high = spec["values"]
            err = float(np.abs(pred[name] - true[name]).mean())
            mae_unit[name] = round(err, 4)
            mae[name] = round(err * (high - low), 5)
    # A bald head shows no hair: its hair colour cannot be read from the image (ceiling ~ 5/6 + 1/36).
    hair = true["hair_style"] != FACE_ATTRIBUTES["hair_style"]["values"].index("bald")
    acc_hair = round(float((pred["hair_color"][hair] == true["hair_color"][hair]).mean()), 4)
    return {"accuracy": acc, "mae": mae, "mae_unit": mae_unit, "accuracy_hair_color_not_bald": acc_hair}


# ------------------------------------------------------------------------------------------------
# Loading the shipped regressor
# ------------------------------------------------------------------------------------------------

_DEFAULT: dict[str, AttributeNet | None] = {}


def load(path: str | Path = DEFAULT_DIR, device: torch.device | None = None) -> AttributeNet:
    from .. import checkpoint

    ckpt = checkpoint.load(path, expect_family=FAMILY)
    _, model = ckpt.build(device or torch.device("cpu"))
    model.card, model.path = ckpt.card, ckpt.path
    return model


def find(assets_dir: str | Path | None = None) -> Path | None:
    """The regressor's checkpoint folder among the assets (the app's --assets-dir; None: the shipped
    assets/): the first of this family there, else None."""
    from .. import checkpoint

    root = Path(assets_dir) if assets_dir is not None else checkpoint.ASSETS_DIR
    return next(iter(checkpoint.list_assets(FAMILY, root=root).values()), None)


def load_default(assets_dir: str | Path | None = None) -> AttributeNet | None:
    """The regressor shipped among the assets (assets/faces-attributes, or the first one under
    `assets_dir`), loaded once, on the CPU; None when there is none."""
    folder = find(assets_dir)
    key = str(folder)
    if key not in _DEFAULT:
        _DEFAULT[key] = load(folder) if folder is not None else None
    return _DEFAULT[key]


# ------------------------------------------------------------------------------------------------
# What each layer controls
# ------------------------------------------------------------------------------------------------


def _kinds(regressor) -> dict[str, str]:
    return dict(getattr(regressor, "kinds", KINDS))


def _mix_images(engine, ws_a: np.ndarray, ws_b: np.ndarray, layers: Sequence[int]) -> np.ndarray:
    """A's styles with `layers` from B -> uint8 (N, H, W, C), constant noise, MAX_BATCH at a time."""
    mixed = mix_styles(ws_a, ws_b, list(layers))
    return np.concatenate([engine.synthesize(mixed[i:i + MAX_BATCH], noise_mode="const")
                           for i in range(0, len(mixed), MAX_BATCH)])


def transfer(kind: str, pred_a: np.ndarray, pred_b: np.ndarray, pred_mix: np.ndarray) -> float:
    """How far an attribute moved from A's value to B's, in [0, 1] (NaN when A and B agree).

    categorical: among pairs whose A and B classes differ, the fraction where the mix has B's.
    continuous: mean |mix - A| / mean |B - A|, capped at 1 (a mix can overshoot B)."""
    if kind == "categorical":
        differ = pred_a != pred_b
        return float((pred_mix[differ] == pred_b[differ]).mean()) if differ.any() else math.nan
    gap = float(np.abs(pred_b - pred_a).mean())
    if gap <= 1e-12:
        return math.nan
    return min(1.0, float(np.abs(pred_mix - pred_a).mean()) / gap)


_EFFECTS_CACHE: dict[tuple, dict] = {}
_EFFECTS_CACHE_SIZE = 16


def layer_effects(engine, regressor, *, n: int = 64, seed: int = 0,
                  groups: Sequence[str] | Mapping[str, Sequence[int]] | None = None,
                  psi: float = 1.0, per_layer: bool = True, cached: bool = True) -> dict:
    """Which attributes move when B's styles replace A's at each layer group and at each layer.

    For n pairs of seeds (A, B) drawn from `seed`, the image A with the layers of a group taking
    their w from B (constant noise, truncation psi) is read by `regressor` (anything with
    `predict(uint8 (N, H, W, C)) -> {name: (N,)}` and `kinds` {name: "categorical" |
    "continuous"}), and each attribute's transfer from A to B is measured (`transfer`).

    groups: None (the engine's coarse / middle / fine), a list of those names, or {label: [layer
    indices]} (an empty list mixes nothing). per_layer: also every single layer (num_ws more
    mixes; False skips them and returns per_layer None). cached: False always computes afresh
    (no memory cache, no stored result).

    Returns {"groups": [label], "group_layers": {label: [indices]}, "attributes": [name],
    "attribute_groups": [the data set's coarse / middle / fine per attribute, or None],
    "effect": (len(groups), len(attributes)), "per_layer": (num_ws, len(attributes)) or None,
    "n", "seed", "psi", "pairs_differing": {name: pairs whose A and B classes differ (categorical)}}.
    Effects are in [0, 1]; NaN where no pair's A and B differ in that attribute.

    Cost: 2n + n (groups + num_ws) images synthesised (960 for n = 64 on a 64x64 model, about
    15-20 s on 2 CPU cores; 320 with per_layer=False). Results are kept per (model, regressor,
    arguments): asking again returns at once.
    """
    if not (isinstance(n, (int, np.integer)) and 1 <= n <= 4096):
        raise ValueError(f"n must be an int in [1, 4096], not {n!r}")
    if groups is None:
        group_layers = {g: list(v) for g, v in engine.layer_groups.items()}
    elif isinstance(groups, Mapping):
        group_layers = {str(g): [int(i) for i in v] for g, v in groups.items()}
    else:
        unknown = [g for g in groups if g not in engine.layer_groups]
        if unknown:
            raise ValueError(f"unknown layer groups {unknown}; known: {list(engine.layer_groups)}")
        group_layers = {g: list(engine.layer_groups[g]) for g in groups}
    for label, idx in group_layers.items():
        if any(not 0 <= i < engine.num_ws for i in idx):
            raise ValueError(f"group {label!r}: layer indices must be in [0, {engine.num_ws - 1}], not {idx}")

    key = (id(engine), getattr(engine, "path", None), id(regressor), int(n), int(seed), float(psi), bool(per_layer),
           tuple((label, tuple(idx)) for label, idx in group_layers.items()))
    if not cached:
        return _layer_effects(engine, regressor, n=int(n), seed=int(seed), group_layers=group_layers, psi=psi,
                              per_layer=per_layer)
    if key in _EFFECTS_CACHE:
        return copy.deepcopy(_EFFECTS_CACHE[key])
    result = _precomputed(engine, regressor, n=int(n), seed=int(seed), group_layers=group_layers, psi=float(psi),
                          per_layer=per_layer)
    if result is None:
        result = _layer_effects(engine, regressor, n=int(n), seed=int(seed), group_layers=group_layers, psi=psi,
                                per_layer=per_layer)
    if len(_EFFECTS_CACHE) >= _EFFECTS_CACHE_SIZE:
        _EFFECTS_CACHE.pop(next(iter(_EFFECTS_CACHE)))
    _EFFECTS_CACHE[key] = result
    return copy.deepcopy(result)


def _layer_effects(engine, regressor, *, n: int, seed: int, group_layers: dict[str, list[int]], psi: float,
                   per_layer: bool) -> dict:
    # Pair i is (seeds[2i], seeds[2i + 1]), all drawn from one generator seeded with `seed`.
    seeds = torch.randint(0, runtime.MAX_SEED + 1, (2 * n,), generator=runtime.generator(seed)).tolist()
    w = np.concatenate([engine.mapping(seeds[i:i + MAX_BATCH], psi) for i in range(0, 2 * n, MAX_BATCH)])
    ws_a = np.repeat(w[0::2, None], engine.num_ws, axis=1)   # (n, num_ws, w_dim)
    ws_b = np.repeat(w[1::2, None], engine.num_ws, axis=1)

    kinds = _kinds(regressor)
    names = list(kinds)
    all_layers = list(range(engine.num_ws))
    pred_a = regressor.predict(_mix_images(engine, ws_a, ws_b, []))
    pred_b = regressor.predict(_mix_images(engine, ws_a, ws_b, all_layers))

    def row(layers: Sequence[int]) -> list[float]:
        if not layers:
            pred = pred_a
        elif list(layers) == all_layers:
            pred = pred_b
        else:
            pred = regressor.predict(_mix_images(engine, ws_a, ws_b, layers))
        return [transfer(kinds[k], pred_a[k], pred_b[k], pred[k]) for k in names]

    effect = np.array([row(idx) for idx in group_layers.values()], dtype=np.float64).reshape(-1, len(names))
    per_layer = (np.array([row([i]) for i in all_layers], dtype=np.float64).reshape(-1, len(names))
                 if per_layer else None)
    return {
        "groups": list(group_layers),
        "group_layers": group_layers,
        "attributes": names,
        "attribute_groups": [GROUPS.get(k) for k in names],
        "effect": effect,
        "per_layer": per_layer,
        "n": int(n),
        "seed": int(seed),
        "psi": float(psi),
        "pairs_differing": {k: int((pred_a[k] != pred_b[k]).sum()) for k in names if kinds[k] == "categorical"},
    }


# --- results shipped with the shipped models ----------------------------------------------------
# Synthesising 960 images takes seconds on a CPU; for a generator and regressor pair the result of
# the usual arguments is stored in the generator's own card (card.json, "layer_effects"), keyed by
# the sha256 of both weight files, and `layer_effects` returns it when everything matches. So the
# stored result travels with its checkpoint: another --assets-dir, a copy, an upload.

CARD_KEY = "layer_effects"
PRECOMPUTED: Path | None = None  # an extra file of stored results to read as well (precompute's `out`); none shipped
_SHA: dict[tuple, str] = {}


def _sha256(path: Path) -> str | None:
    import hashlib

    path = Path(path) / "model.safetensors"
    if not path.is_file():
        return None
    stat = path.stat()
    key = (str(path), stat.st_size, stat.st_mtime_ns)
    if key not in _SHA:
        _SHA[key] = hashlib.sha256(path.read_bytes()).hexdigest()
    return _SHA[key]


def _entry_key(engine, regressor, *, n, seed, group_layers, psi, per_layer) -> dict | None:
    engine_path, reg_path = getattr(engine, "path", None), getattr(regressor, "path", None)
    if engine_path is None or reg_path is None:
        return None
    g, r = _sha256(engine_path), _sha256(reg_path)
    if g is None or r is None:
        return None
    return {"generator_sha256": g, "regressor_sha256": r, "n": n, "seed": seed, "psi": psi,
            "per_layer": per_layer, "group_layers": group_layers}


def _stored_entries(engine) -> list:
    """Stored results: the generator card's, then those of the file PRECOMPUTED (if set)."""
    import json

    stored = (getattr(engine, "card", None) or {}).get(CARD_KEY)
    entries = list(stored.get("entries", [])) if isinstance(stored, dict) else []
    if PRECOMPUTED is not None and Path(PRECOMPUTED).is_file():
        entries += json.loads(PRECOMPUTED.read_text()).get("entries", [])
    return [e for e in entries if isinstance(e, dict) and isinstance(e.get("key"), dict)]


def _precomputed(engine, regressor, **args) -> dict | None:
    key = _entry_key(engine, regressor, **args)
    if key is None:
        return None
    for entry in _stored_entries(engine):
        if {k: entry["key"].get(k) for k in key} == key:
            result = dict(entry["result"])
            for name in ("effect", "per_layer"):
                if result.get(name) is not None:
                    result[name] = np.array(result[name], dtype=np.float64)
            return result
    return None


def precompute(engine, regressor, settings: Sequence[dict], out: Path | None = None) -> Path:
    """Store layer_effects(engine, regressor, **s) for each s in `settings`: in the generator's
    card.json (out None: it travels with the generator), or in the JSON file `out`."""
    import json

    entries = []
    for s in settings:
        result = layer_effects(engine, regressor, **s, cached=False)
        key = _entry_key(engine, regressor, n=result["n"], seed=result["seed"], group_layers=result["group_layers"],
                         psi=result["psi"], per_layer=result["per_layer"] is not None)
        as_json = {k: (v.tolist() if isinstance(v, np.ndarray) else v) for k, v in result.items()}
        entries.append({"key": key, "result": as_json})
    doc = {"note": "layer_effects results for this generator with the faces attribute regressor "
                   "(engines.stylegan.attributes); NaN is written as NaN",
           "hardware": runtime.hardware_summary(torch.device("cpu")), "entries": entries}
    if out is not None:
        Path(out).write_text(json.dumps(doc, indent=1) + "\n")
        return Path(out)
    card_path = Path(engine.path) / "card.json"
    card = json.loads(card_path.read_text())
    card[CARD_KEY] = doc
    card_path.write_text(json.dumps(card, indent=2, ensure_ascii=False) + "\n")
    engine.card = card
    return card_path


def strongest_groups(result: dict) -> dict[str, str | None]:
    """{attribute: the group whose mixing moves it most} from a `layer_effects` result."""
    out = {}
    for j, name in enumerate(result["attributes"]):
        column = result["effect"][:, j]
        out[name] = None if np.isnan(column).all() else result["groups"][int(np.nanargmax(column))]
    return out


# ------------------------------------------------------------------------------------------------
# Training (the shipped regressor)
# ------------------------------------------------------------------------------------------------


def train(out: str | Path, *, n_train: int = 20_000, n_test: int = 2_000, steps: int = 1500,
          batch_size: int = 128, lr: float = 2e-3, seed: int = 0, max_seconds: float | None = None,
          threads: int = 1, log=print) -> Path:
    """Train on `faces` (seed 0, train stream), measure on the test stream, save float16 weights."""
    from .. import checkpoint
    from ..data import load_dataset
    from ..train import TrainConfig, Trainer

    torch.set_num_threads(threads)
    config = Config()
    t0 = time.perf_counter()
    data = load_dataset("faces", "train", n=n_train, seed=0, size=config.image_size)
    test = load_dataset("faces", "test", n=n_test, seed=0, size=config.image_size)
    log(f"data: {n_train} + {n_test} faces rendered in {time.perf_counter() - t0:.1f} s")
    torch.manual_seed(seed)
    model = build(config)
    tc = TrainConfig(steps=steps, batch_size=batch_size, lr=lr, weight_decay=1e-4, warmup_steps=50,
                     lr_min_ratio=0.02, seed=seed, log_every=50, max_seconds=max_seconds)
    trainer = Trainer(model, make_loss(config), data.images, tc, labels=targets_matrix(data.attrs),
                      device=torch.device("cpu"))
    start = time.perf_counter()
    for event in trainer.run():
        if event.kind in ("step", "done", "stopped", "timeout", "nan"):
            log(f"{event.kind} {event.step}: loss {event.losses.get('loss', float('nan')):.4f}, "
                f"{event.images_per_s:.0f} img/s, {event.elapsed_s:.0f} s")
        if event.kind == "nan":
            raise RuntimeError("training diverged (non-finite loss)")
    elapsed = time.perf_counter() - start
    final = trainer.final_model()
    metrics = evaluate(final, test.images, test.attrs)
    log(f"held out: {metrics}")
    card = {
        "name": "faces-attributes", "dataset": "faces",
        "split": {"train": data.split_note, "held_out": test.split_note},
        "steps": trainer.step, "batch_size": batch_size, "lr": lr, "seed": seed,
        "wall_time_s": round(elapsed, 1), "hardware": runtime.hardware_summary(torch.device("cpu")),
        "threads": threads, "augmentation": "none",
        "metrics": {**metrics, "n_test": n_test},
        "metrics_note": "accuracy: fraction of held-out faces whose class is right; mae: mean absolute "
                        "error in the attribute's own units (mae_unit: in [0, 1] of its range)",
        "command": TRAIN_COMMAND,
        "purpose": "measures faces attributes for engines.stylegan.attributes.layer_effects and "
                   "benchmarks/stylegan_quality.py",
    }
    return checkpoint.save(out, family=FAMILY, config=config, model=final, card=card,
                           storage_dtype=torch.float16)


def main(argv: Sequence[str] | None = None) -> None:
    import argparse

    p = argparse.ArgumentParser(prog="python -m engines.stylegan.attributes", description=__doc__.split("\n")[0])
    p.add_argument("--train", action="store_true", help="train the faces attribute regressor")
    p.add_argument("--out", default=str(DEFAULT_DIR), help="checkpoint folder to write")
    p.add_argument("--n-train", type=int, default=20_000)
    p.add_argument("--n-test", type=int, default=2_000)
    p.add_argument("--steps", type=int, default=1500)
    p.add_argument("--batch-size", type=int, default=128)
    p.add_argument("--lr", type=float, default=2e-3)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--max-seconds", type=float, default=720.0, help="wall-clock limit (the shipped run: 720 s on a 2-core CPU)")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--precompute", metavar="STYLEGAN_DIR", default=None,
                   help="store layer_effects (n 64 and 256, seed 0) of this generator with the shipped regressor")
    args = p.parse_args(argv)
    if args.precompute:
        from .engine import Engine

        torch.set_num_threads(args.threads)
        engine = Engine.load(args.precompute, device=torch.device("cpu"))
        print(f"saved {precompute(engine, load(DEFAULT_DIR), [{'n': 64, 'seed': 0}, {'n': 256, 'seed': 0}])}")  # its card
        return
    if not args.train:
        p.error("nothing to do: pass --train or --precompute")
    out = train(args.out, n_train=args.n_train, n_test=args.n_test, steps=args.steps, batch_size=args.batch_size,
                lr=args.lr, seed=args.seed, max_seconds=args.max_seconds, threads=args.threads)
    print(f"saved {out}")


# A checkpoint family of its own (loaded by the StyleGAN tab), not trained in the studio.
SPEC = Family(name=FAMILY, title_en="Face attribute regressor", title_zh="人脸属性回归器", module=__name__)


if __name__ == "__main__":
    main()

