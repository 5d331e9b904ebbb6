"""A small CNN that reads a `shapes` image's colour, shape and position: the judge of CLIP guidance.

    python -m benchmarks.shapes_attributes --train --steps 1500     # writes assets/shapes-classifier
    python -m benchmarks.shapes_attributes                          # prints its held-out accuracy (JSON)

The CLIP benchmark asks the GenLab CLIP to steer images toward "a red circle in the top left
corner" and must not let that same CLIP say whether it worked. This regressor is trained on the
data set's own labels (the procedural factors the renderer drew), with the shared Trainer, and is
tested on the held-out stream. Same storage as benchmarks/classifier.py: safetensors + config.json
+ card.json, never a pickle. The network (and `load`, `default`, `predict`) lives in
engines/metrics/shapes_classifier.py: the app ships it as the metrics' shapes feature space.
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime as _dt
import json
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from benchmarks.common import emit
from engines import runtime
from engines.checkpoint import CARD, CONFIG, WEIGHTS
from engines.metrics.shapes_classifier import (  # noqa: F401  (the network lives in the engine; re-exported)
    CLASSIFIER_DIR, HEADS, AttributeNet, Config, default, load, predict,
)

DEFAULT_PATH = CLASSIFIER_DIR  # assets/shapes-classifier: shipped with the app (the metrics' shapes feature space)


def targets(attrs: list[dict]) -> torch.Tensor:
    """(N, 3) long: colour, shape, position ids."""
    return torch.tensor([[a["color_id"], a["shape_id"], a["position_id"]] for a in attrs], dtype=torch.long)


def _loss(model, batch: dict, gen: torch.Generator, step: int):
    x, y = batch["x"], batch["y"]  # (B, 3, H, W), (B, 3)
    # Light pixel noise: generated images are never as clean as the renderer's.
    x = (x + 0.04 * torch.rand(len(x), 1, 1, 1, generator=gen) * torch.randn(x.shape, generator=gen)).clamp(0, 1)
    out = model(x)
    losses = [F.cross_entropy(out[k], y[:, i]) for i, k in enumerate(HEADS)]
    acc = {f"{k}_acc": (out[k].argmax(1) == y[:, i]).float().mean() for i, k in enumerate(HEADS)}
    return sum(losses), acc


def evaluate(model: AttributeNet, shapes) -> dict[str, float]:
    pred = predict(model, shapes.numpy_hwc())
    return {k: round(float(np.mean(pred[k] == np.asarray([a[k] for a in shapes.attrs]))), 4) for k in HEADS}


def train(out: Path = DEFAULT_PATH, *, steps: int = 1500, n_train: int = 20_000, seed: int = 0) -> dict:
    from engines.data import load_dataset
    from engines.train import TrainConfig, Trainer

    train_set = load_dataset("shapes", "train", n=n_train, seed=seed)
    test_set = load_dataset("shapes", "test", n=2000, seed=seed)
    torch.manual_seed(seed)
    config = Config()
    model = AttributeNet(config)
    trainer = Trainer(model, _loss, train_set.float(), TrainConfig(steps=steps, batch_size=128, lr=2e-3, seed=seed,
                      warmup_steps=50, lr_min_ratio=0.05, log_every=100), labels=targets(train_set.attrs))
    started = time.perf_counter()
    for ev in trainer.run():
        if ev.kind == "step" and ev.step % 500 == 0:
            print(json.dumps({"step": ev.step, **{k: round(v, 3) for k, v in ev.losses.items()}}), flush=True)
    model = trainer.final_model()
    card = {"name": "shapes-classifier", "dataset": "shapes", "date": _dt.date.today().isoformat(),
            "split": {"train": train_set.split_note, "held_out": test_set.split_note},
            "steps": trainer.step, "wall_time_s": round(time.perf_counter() - started, 1),
            "hardware": runtime.hardware_summary(), "metrics": {"heldout_accuracy": evaluate(model, test_set)},
            "command": "python -m benchmarks.shapes_attributes --train --steps " + str(steps)}
    from safetensors.torch import save_file

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    save_file({k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}, str(out / WEIGHTS))
    (out / CONFIG).write_text(json.dumps(dataclasses.asdict(config), indent=2) + "\n", encoding="utf-8")
    (out / CARD).write_text(json.dumps(card, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    return card


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--train", action="store_true")
    p.add_argument("--steps", type=int, default=1500)
    args = p.parse_args(argv)
    torch.set_num_threads(1)
    if args.train:
        emit(train(steps=args.steps))
        return
    from engines.data import load_dataset

    emit({"heldout_accuracy": evaluate(default(), load_dataset("shapes", "test", n=2000))})


if __name__ == "__main__":
    main()
