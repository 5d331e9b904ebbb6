"""Training throughput of the training tab's recipes: images per second for each family and size
preset, through the real `engines.studio` plan and `engines.train.Trainer`.

    python -m benchmarks.train_speed                       # CPU or GPU, whichever the runtime picks
    python -m benchmarks.train_speed --sizes tiny small --steps 40 --busy "other agents share the CPU"
    python -m benchmarks.train_speed --whole      # on a CPU: also whole steps, for what micro-batches cost

On a GPU every recipe is measured twice in the same run: the plain eager loop, and the engine's fast
path (data already on the device, as always; torch.compile with CUDA graphs; for the base preset
also bf16 autocast and channels_last), with the ratio. On a CPU only the eager loop is measured
(torch.compile's CPU code is not what the studio runs). Prints one JSON object.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import sys
import threading
import time

import torch

from benchmarks.common import data_dir, emit
from engines import runtime, studio
from engines.train import Trainer

DATASET = {"vae": "mnist", "ddpm": "mnist", "stylegan": "shapes", "clip": "mnist"}


def _sync(dev: torch.device) -> None:
    if dev.type == "cuda":
        torch.cuda.synchronize(dev)


def measure(plan: studio.Plan, *, batch: int, warmup: int, steps: int, fast: dict | None = None,
            whole: bool = False) -> dict:
    """Images/s over `steps` optimiser steps after `warmup` ones (compilation happens there). As the
    studio runs them (on a CPU: micro-batches of about studio.CHUNK_S s), or `whole` steps."""
    dev = runtime.device()
    base = plan.train_config(steps=warmup + steps, seed=0, warmup=False)
    config = dataclasses.replace(base, batch_size=batch, log_every=warmup, preview_every=0, **(fast or {}))
    if whole:
        config = dataclasses.replace(config, chunk_seconds=None)
    torch.manual_seed(0)
    model = studio._module(plan.family).build(plan.config)
    trainer = Trainer(model, plan.loss, plan.images, config, labels=plan.labels, stop=threading.Event(), device=dev,
                      split=studio.split_for(plan.family, model), cached=studio.CACHED.get(plan.family, ()))
    chunks = []
    t0 = time.perf_counter()
    start = None
    for ev in trainer.run():
        if ev.kind == "step" and ev.step == warmup:
            _sync(dev)
            start = time.perf_counter()
            warm_s = start - t0
            trainer.unit_seconds.clear()
        if start is not None:
            chunks.append(trainer.chunk_counts)
    _sync(dev)
    elapsed = time.perf_counter() - start
    out = {"images_per_s": round(steps * batch / elapsed, 1), "step_ms": round(1000 * elapsed / steps, 2),
           "warmup_s": round(warm_s, 2)}
    if trainer.micro_batching:
        out["micro_batches_per_phase"] = [round(sum(c[i] for c in chunks) / len(chunks), 1)
                                          for i in range(len(trainer.phases))]
    # How long one unit of work held the compute thread: what a slider of another session waits.
    units = sorted(trainer.unit_seconds)
    if units:
        out["unit_ms"] = {"p50": round(1000 * units[len(units) // 2], 1),
                          "p95": round(1000 * units[int(len(units) * 0.95)], 1), "max": round(1000 * units[-1], 1)}
    return out


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--families", nargs="+", default=list(studio.FAMILIES))
    parser.add_argument("--sizes", nargs="+", default=None, help="presets (default: tiny small on a CPU, all on a GPU)")
    parser.add_argument("--batch", type=int, default=None, help="images per step (default: the device's recipe default)")
    parser.add_argument("--warmup", type=int, default=5)
    parser.add_argument("--steps", type=int, default=30)
    parser.add_argument("--busy", default="", help="a note on what else was running (a busy CPU makes numbers low)")
    parser.add_argument("--whole", action="store_true",
                        help="on a CPU, also measure whole steps (no micro-batches) for the ratio")
    args = parser.parse_args(argv)

    dev = runtime.device()
    gpu = dev.type == "cuda"
    sizes = args.sizes or (list(studio.SIZES) if gpu else ["tiny", "small"])
    rows = []
    for family in args.families:
        for size in sizes:
            recipe = studio.defaults(family)
            dataset = DATASET[family] if DATASET[family] != "mnist" or data_dir() else "shapes"
            recipe = dataclasses.replace(recipe, dataset=dataset, size=size, n_images=2000)
            plan = studio.prepare(recipe, data_dir=data_dir())
            batch = args.batch or recipe.batch_size
            row = {"family": family, "size": size, "dataset": dataset, "batch": batch,
                   "image": "x".join(str(d) for d in plan.images.shape[2:]) + f"x{plan.images.shape[1]}",
                   "params": plan.parameters}
            row["eager"] = measure(plan, batch=batch, warmup=args.warmup, steps=args.steps)
            if not gpu and args.whole:  # what micro-batches (Stop within a second, turns with others) cost
                row["whole_steps"] = measure(plan, batch=batch, warmup=args.warmup, steps=args.steps, whole=True)
                row["micro_over_whole"] = round(row["eager"]["images_per_s"] / row["whole_steps"]["images_per_s"], 2)
            if gpu:
                fast = {"compile": True}
                if size == "base":
                    fast.update(amp="bf16", channels_last=True)
                try:
                    row["fast"] = {"settings": fast, **measure(plan, batch=batch, warmup=max(args.warmup, 20),
                                                               steps=args.steps, fast=fast)}
                    row["fast_over_eager"] = round(row["fast"]["images_per_s"] / row["eager"]["images_per_s"], 2)
                except Exception as exc:  # noqa: BLE001 - a family the compiler cannot take is reported, not fatal
                    row["fast"] = {"settings": fast, "error": f"{type(exc).__name__}: {str(exc)[:300]}"}
            rows.append(row)
            print(f"# {family} {size}: {row['eager']['images_per_s']} img/s eager"
                  + (f", {row.get('fast_over_eager')}x fast" if gpu else ""), file=sys.stderr, flush=True)
    return {
        "benchmark": "train_speed",
        "hardware": runtime.hardware_summary(dev),
        "device": dev.type,
        "torch_threads": torch.get_num_threads(),
        "omp_num_threads": os.environ.get("OMP_NUM_THREADS"),
        "busy": args.busy or None,
        "steps": args.steps, "warmup_steps": args.warmup,
        "note": "images/s of the training tab's recipes through engines.studio and engines.train.Trainer; "
                "StyleGAN counts real images per step (each step runs D then G, lazy R1 every 16th D step); "
                "on a CPU 'eager' is as the studio runs it, in micro-batches of about "
                f"{studio.CHUNK_S} s of work, 'whole_steps' without them",
        "results": rows,
        "date": time.strftime("%Y-%m-%d"),
    }


if __name__ == "__main__":
    emit(main())
