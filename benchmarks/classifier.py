"""GenLab's own small MNIST classifier, the yardstick for generated digits.

    python -m benchmarks.classifier                      # prints JSON: accuracy, FD floor, VAE baseline
    python -m benchmarks.classifier --train --data-dir ../shared/data --steps 3000

A sample of generated digits is scored by what this classifier makes of it:
- the fraction classified as the digit that was asked for (conditional models),
- the fraction classified confidently (max softmax probability >= CONFIDENT),
- the class histogram (does the model cover all ten digits?),
- the Frechet distance between Gaussians fitted to the classifier's 128-d features of the
  samples and of the 2,000 held-out digits, read against the real-vs-real floor.

The floor (`real_vs_real_floor`) is the FD between every 4th digit of the GenLab train split
(2,000 real training digits) and the 2,000 held-out digits: the score of a "generator" that
returns real training digits, with the same sample sizes as the benchmark (2,000 generated vs
2,000 held out), so the finite-sample bias of the FD is the same on both sides. Every 4th, not
the first 2,000: MNIST's test digits 0-4,999 and 5,000-9,999 come from different writers, so the
train split is a 5:3 mix of the two while the held-out digits are all from the second group; the
first 2,000 alone would inflate the floor (80 instead of 47 for the shipped classifier).

The classifier trains on the GenLab train split only (the first 8,000 MNIST test digits) with the
shared `engines.train.Trainer`, and is tested on the 2,000 held-out digits. Its weights live in
assets/mnist-classifier/ (model.safetensors + config.json + card.json).
"""

from __future__ import annotations

import argparse
import datetime as _dt
import functools
import json
import math
import os
import sys
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from benchmarks.common import ROOT, data_dir as default_data_dir, emit
from engines import runtime
from engines.checkpoint import CARD, CONFIG, PICKLE_SUFFIXES, WEIGHTS
from engines.errors import UserError
from engines.metrics.features import CLASSIFIER_DIR, Classifier, Config  # the network lives in the engine

DEFAULT_PATH = CLASSIFIER_DIR  # assets/mnist-classifier: shipped with the app for the metrics (engines.metrics)
CONFIDENT = 0.9  # a sample counts as confidently classified when its max softmax probability is >= this
TRAIN_STRIDE = 4  # the floor's real side: train split digits 0, 4, 8, ... (2,000 of 8,000)
BATCH = 500  # images per inference batch


# ------------------------------------------------------------------------------------------------
# Training
# ------------------------------------------------------------------------------------------------


def augment(x: torch.Tensor, gen: torch.Generator, *, max_shift: float = 2.0, max_degrees: float = 10.0,
            max_scale: float = 0.1) -> torch.Tensor:
    """Random affine jitter per image: shifts up to `max_shift` px, rotations up to `max_degrees`,
    zoom by up to +-`max_scale`. float (B, 1, H, W) -> float (B, 1, H, W), black outside."""
    b, _, h, _ = x.shape

    def uniform(bound: float) -> torch.Tensor:  # (B,) in [-bound, bound]
        return (torch.rand(b, generator=gen, device=x.device) * 2 - 1) * bound

    angle = uniform(math.radians(max_degrees))
    scale = 1 + uniform(max_scale)
    shift = torch.stack([uniform(max_shift), uniform(max_shift)], 1) * (2 / h)  # px -> [-1, 1] units
    cos, sin = torch.cos(angle) / scale, torch.sin(angle) / scale
    # theta maps output coordinates to input coordinates: (B, 2, 3).
    theta = torch.stack([torch.stack([cos, -sin, shift[:, 0]], 1), torch.stack([sin, cos, shift[:, 1]], 1)], 1)
    grid = F.affine_grid(theta, list(x.shape), align_corners=False)
    return F.grid_sample(x, grid, mode="bilinear", padding_mode="zeros", align_corners=False)


def classifier_loss(model: nn.Module, batch: dict, gen: torch.Generator, step: int):
    """Cross-entropy on augmented digits; the pure loss function the shared Trainer calls."""
    logits = model(augment(batch["x"], gen))
    loss = F.cross_entropy(logits, batch["y"])
    acc = (logits.argmax(1) == batch["y"]).float().mean()
    return loss, {"train_acc": float(acc)}


def train_classifier(
    data_dir: str | os.PathLike | None,
    out_dir: str | os.PathLike = DEFAULT_PATH,
    steps: int = 3000,
    seed: int = 0,
    *,
    batch_size: int = 128,   # images per optimiser step
    lr: float = 2e-3,        # AdamW peak learning rate, cosine decay to 5% of it
    config: Config = Config(),
    log=lambda line: print(line, file=sys.stderr),
) -> dict:
    """Train on the GenLab train split, test on the held-out 2,000, write the three files; the card."""
    from engines.data import load_dataset
    from engines.train import TrainConfig, Trainer

    train = load_dataset("mnist", "train", data_dir=data_dir)
    test = load_dataset("mnist", "test", data_dir=data_dir)
    torch.manual_seed(seed)  # the initial weights
    model = Classifier(config)
    tcfg = TrainConfig(steps=steps, batch_size=batch_size, lr=lr, weight_decay=1e-4, warmup_steps=min(100, steps // 10),
                       lr_min_ratio=0.05, seed=seed, log_every=100)
    trainer = Trainer(model, classifier_loss, train.float(), tcfg, labels=train.labels)
    t0 = time.perf_counter()
    for event in trainer.run():
        if event.kind == "step":
            log(f"step {event.step}/{steps}  loss {event.losses['loss']:.4f}  "
                f"train_acc {event.losses['train_acc']:.3f}  {event.images_per_s:.0f} img/s")
        elif event.kind != "done":
            raise RuntimeError(f"training ended early: {event.kind} at step {event.step}")
    wall = time.perf_counter() - t0
    model = trainer.final_model().cpu()
    pred, _ = classify(test.float(), model=model)
    accuracy = float((torch.from_numpy(pred) == test.labels).float().mean())
    card = {
        "name": "mnist-classifier",
        "purpose": "scoring generated MNIST digits: asked-for class, confidence, class histogram, "
                   "Frechet distance in its 128-d features",
        "dataset": "mnist",
        "train_split": train.split_note,
        "heldout_split": test.split_note,
        "augmentation": "random shifts <= 2 px, rotations <= 10 degrees, zoom +-10%",
        "steps": trainer.step, "batch_size": batch_size, "lr": lr, "seed": seed,
        "params": sum(p.numel() for p in model.parameters()),
        "wall_time_s": round(wall, 1),
        "hardware": runtime.hardware_summary(trainer.device),
        "heldout_accuracy": round(accuracy, 4),
        "heldout_errors": int(round((1 - accuracy) * len(test))),
        "command": f"python -m benchmarks.classifier --train --data-dir ../shared/data --steps {steps} --seed {seed}",
        "date": _dt.date.today().isoformat(),
    }
    save_classifier(out_dir, model, config, card)
    return card


def save_classifier(out_dir, model: Classifier, config: Config, card: dict) -> Path:
    from safetensors.torch import save_file

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    state = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    save_file(state, str(out_dir / WEIGHTS))
    (out_dir / CONFIG).write_text(json.dumps(config.to_dict(), indent=2) + "\n", encoding="utf-8")
    (out_dir / CARD).write_text(json.dumps(card, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    return out_dir


# ------------------------------------------------------------------------------------------------
# Loading and classifying
# ------------------------------------------------------------------------------------------------


def load_classifier(path: str | os.PathLike = DEFAULT_PATH, device: torch.device | None = None) -> Classifier:
    """The classifier in eval mode, from a folder with config.json + model.safetensors (or that
    model.safetensors itself). Only safetensors are read; a pickle is refused by name, never opened."""
    from safetensors.torch import load_file

    path = Path(path)
    if path.suffix.lower() in PICKLE_SUFFIXES:
        raise UserError("checkpoint_pickle", name=path.name)
    if path.is_file():
        if path.name != WEIGHTS:
            raise UserError("upload_unsupported", name=path.name)
        path = path.parent
    for name in (CONFIG, WEIGHTS):
        if not (path / name).is_file():
            raise UserError("checkpoint_missing_file", path=str(path), file=name)
    config = Config.from_dict(json.loads((path / CONFIG).read_text(encoding="utf-8")))
    model = Classifier(config)
    model.load_state_dict(load_file(str(path / WEIGHTS), device="cpu"), strict=True)
    return model.to(device or runtime.device()).eval()


@functools.lru_cache(maxsize=1)
def default_classifier() -> Classifier:
    return load_classifier(DEFAULT_PATH)


def as_batch(images) -> torch.Tensor:
    """uint8 (N, 28, 28) / (N, 28, 28, 1) numpy or tensor, or float (N, 1, 28, 28) in [0, 1]
    -> float (N, 1, 28, 28) in [0, 1] on the CPU."""
    x = torch.as_tensor(np.asarray(images)) if not torch.is_tensor(images) else images.detach().cpu()
    if x.ndim == 3:
        x = x.unsqueeze(1)  # (N, H, W) -> (N, 1, H, W)
    elif x.ndim == 4 and x.shape[-1] == 1 and x.shape[1] != 1:
        x = x.permute(0, 3, 1, 2)  # HWC -> CHW
    if x.ndim != 4 or x.shape[1] != 1:
        raise ValueError(f"expected grey digits (N, 28, 28[, 1]) or (N, 1, 28, 28); got {tuple(x.shape)}")
    return x.float() / 255 if x.dtype == torch.uint8 else x.float()


def _batched(model: Classifier, images, fn) -> torch.Tensor:
    x = as_batch(images)
    dev = next(model.parameters()).device
    with runtime.compute():
        return torch.cat([fn(x[i:i + BATCH].to(dev)).float().cpu() for i in range(0, len(x), BATCH)])


def classify(images, *, model: Classifier | None = None) -> tuple[np.ndarray, np.ndarray]:
    """-> (predicted digit int64 (N,), its softmax probability float32 (N,))."""
    model = model or default_classifier()
    probs = _batched(model, images, lambda x: model(x).softmax(1))  # (N, 10)
    p, pred = probs.max(1)
    return pred.numpy(), p.numpy()


def features(images, *, model: Classifier | None = None) -> np.ndarray:
    """The classifier's penultimate activations, float64 (N, 128)."""
    model = model or default_classifier()
    return _batched(model, images, model.features).double().numpy()


# ------------------------------------------------------------------------------------------------
# Frechet distance
# ------------------------------------------------------------------------------------------------


def feature_stats(feats) -> tuple[np.ndarray, np.ndarray]:
    """(N, D) -> (mean (D,), covariance (D, D)), float64, unbiased (N - 1) covariance."""
    f = np.asarray(feats, dtype=np.float64)
    return f.mean(0), np.cov(f, rowvar=False)


def _trace_sqrt_product(s1: np.ndarray, s2: np.ndarray) -> float:
    # Tr (S1 S2)^(1/2) = Tr (R S2 R)^(1/2) with R = S1^(1/2): S1 S2 = R (R S2) has the same
    # eigenvalues as (R S2) R, and R S2 R is symmetric PSD, so eigh gives them real and >= 0
    # (sqrtm of the non-symmetric S1 S2 can return complex parts from rounding alone).
    w, v = np.linalg.eigh(s1)
    r = (v * np.sqrt(np.clip(w, 0, None))) @ v.T
    m = r @ s2 @ r
    ev = np.linalg.eigvalsh((m + m.T) / 2)
    return float(np.sqrt(np.clip(ev, 0, None)).sum())


def frechet_distance(mu1, s1, mu2, s2, eps: float = 1e-6) -> float:
    """Frechet distance between N(mu1, S1) and N(mu2, S2) (Dowson & Landau 1982):

        ||mu1 - mu2||^2 + Tr(S1 + S2 - 2 (S1 S2)^(1/2))
    """
    mu1, mu2 = np.atleast_1d(np.asarray(mu1, np.float64)), np.atleast_1d(np.asarray(mu2, np.float64))
    s1, s2 = np.atleast_2d(np.asarray(s1, np.float64)), np.atleast_2d(np.asarray(s2, np.float64))
    if mu1.shape != mu2.shape or s1.shape != s2.shape or s1.shape != (len(mu1), len(mu1)):
        raise ValueError(f"shapes do not match: mu {mu1.shape}, {mu2.shape}; sigma {s1.shape}, {s2.shape}")
    diff = mu1 - mu2
    try:
        tr_covmean = _trace_sqrt_product(s1, s2)
    except np.linalg.LinAlgError:
        tr_covmean = float("nan")
    if not math.isfinite(tr_covmean):  # ill-conditioned: nudge both covariances off singular
        offset = eps * np.eye(len(s1))
        tr_covmean = _trace_sqrt_product(s1 + offset, s2 + offset)
    return float(diff @ diff + np.trace(s1) + np.trace(s2) - 2 * tr_covmean)


@functools.lru_cache(maxsize=4)
def _real_stats(data_dir: str | None, split: str) -> tuple[np.ndarray, np.ndarray]:
    """Feature mean and covariance under the shipped classifier: all 2,000 held-out digits
    ("test"), or every TRAIN_STRIDE-th digit of the train split ("train")."""
    from engines.data import load_dataset

    images = load_dataset("mnist", split, data_dir=data_dir).float()
    return feature_stats(features(images[::TRAIN_STRIDE] if split == "train" else images))


def _key(data_dir) -> str | None:
    return None if data_dir is None else str(Path(data_dir).resolve())


def fd_against_heldout(images, data_dir=None) -> float:
    """FD between the shipped classifier's features of `images` and of the 2,000 held-out digits."""
    mu, sigma = feature_stats(features(images))
    return frechet_distance(mu, sigma, *_real_stats(_key(data_dir), "test"))


def real_vs_real_floor(data_dir=None) -> float:
    """FD between every 4th train-split digit (2,000) and the 2,000 held-out digits: what a model
    that reproduced its training digits would score against the same held-out set."""
    key = _key(data_dir)
    return frechet_distance(*_real_stats(key, "train"), *_real_stats(key, "test"))


def score_samples(images, data_dir=None, labels=None) -> dict:
    """Everything the benchmarks report for a sample of generated digits, as a plain dict.
    `labels`: the digit asked for per image (conditional models), else None."""
    pred, prob = classify(images)
    out = {
        "n": int(len(pred)),
        "confident_fraction": round(float((prob >= CONFIDENT).mean()), 4),
        "class_histogram": np.bincount(pred, minlength=10).tolist(),
    }
    if labels is not None:
        out["asked_digit_fraction"] = round(float((pred == np.asarray(labels)).mean()), 4)
    if data_dir is not None:
        out["fd"] = round(fd_against_heldout(images, data_dir), 3)
        out["fd_floor"] = round(real_vs_real_floor(data_dir), 3)
    return out


# ------------------------------------------------------------------------------------------------
# Command line
# ------------------------------------------------------------------------------------------------


def report(data_dir) -> dict:
    from engines import vae
    from engines.data import load_dataset

    card = json.loads((DEFAULT_PATH / CARD).read_text(encoding="utf-8"))
    test = load_dataset("mnist", "test", data_dir=data_dir)
    pred, prob = classify(test.float())
    heldout = test.float()
    halves = [feature_stats(features(heldout[i::2])) for i in (0, 1)]  # even / odd indices, 1,000 each
    engine = vae.Engine.load(ROOT / "assets" / "mnist-vae-z16", device=torch.device("cpu"))
    samples, _ = engine.sample(2000, seed=0)
    return {
        "benchmark": "classifier",
        "hardware": runtime.hardware_summary(),
        "classifier": {"path": str(DEFAULT_PATH.relative_to(ROOT)), "trained_steps": card.get("steps"),
                       "params": card.get("params")},
        "heldout": {"images": len(test), "split": test.split_note,
                    "accuracy": round(float((torch.from_numpy(pred) == test.labels).float().mean()), 4),
                    "confident_fraction": round(float((prob >= CONFIDENT).mean()), 4)},
        "fd_floor": {"value": round(real_vs_real_floor(data_dir), 3),
                     "definition": "FD(every 4th digit of the GenLab train split (2,000), the 2,000 held-out digits)",
                     "heldout_halves_1000_vs_1000": round(frechet_distance(*halves[0], *halves[1]), 3)},
        "baseline_mnist_vae_z16": {"samples": "Engine.load('assets/mnist-vae-z16').sample(2000, seed=0)",
                                   **score_samples(samples, data_dir)},
        "targets": {"heldout_accuracy>=0.98": bool((pred == test.labels.numpy()).mean() >= 0.98)},
    }


def main(argv=None) -> None:
    p = argparse.ArgumentParser(prog="python -m benchmarks.classifier", description=__doc__.split("\n")[0])
    p.add_argument("--train", action="store_true", help="train and save the classifier instead of reporting")
    p.add_argument("--data-dir", default=None, help="folder with the MNIST IDX files (default: ../shared/data)")
    p.add_argument("--steps", type=int, default=3000, help="optimiser steps (batch 128)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", default=str(DEFAULT_PATH), help="output folder for --train")
    p.add_argument("--threads", type=int, default=1, help="torch CPU threads (the machine is shared)")
    args = p.parse_args(argv)
    torch.set_num_threads(args.threads)
    data = args.data_dir or default_data_dir()
    if args.train:
        emit(train_classifier(data, args.out, args.steps, args.seed))
    else:
        emit(report(data))


if __name__ == "__main__":
    main()
