"""What crosses to a ZeroGPU worker per GPU call, and what the crossing costs on this CPU.

    python -m benchmarks.zerogpu_payload [--quick] [--note "..."]

On ZeroGPU (engines.gpu) each call carries its work's state in and out by pickle: a training
chunk the model, its data set, the optimisers' state and the EMA; a sampler chunk the UNet, x_t
and the generator, and brings each step's x_t, eps and x_0 back. Measured here without a GPU:
the bytes of each payload and result, the time to write and read them (torch.save / torch.load
with engines.gpu's pickler), and the wall time of the shipped MNIST DDPM's DDIM run of 16 images
through the stand-in `spaces` of the tests (each call a forked process) against the plain run.
Prints one JSON object.
"""

from __future__ import annotations

import argparse
import os
import sys
import time

import torch

from benchmarks.common import ROOT, emit
from engines import gpu, runtime


def timed(fn, *args, repeat: int = 3, **kwargs):
    best, out = float("inf"), None
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = fn(*args, **kwargs)
        best = min(best, time.perf_counter() - t0)
    return out, best


def crossing(obj, *, to_worker: bool) -> dict:
    data, write_s = timed(gpu._dumps, obj, to_worker=to_worker)
    _, read_s = timed(gpu._loads, data, "cpu")
    return {"mb": round(len(data) / 2**20, 2), "write_ms": round(1000 * write_s, 1), "read_ms": round(1000 * read_s, 1)}


def sampler_payloads(steps: int) -> dict:
    from engines.diffusion.engine import Engine

    engine = Engine.load(ROOT / "assets" / "mnist-ddpm")
    process, model, c = engine.process, engine.model, engine.config
    n = 16
    gen = runtime.generator(0)
    x = torch.randn((n, c.channels, c.image_size, c.image_size), generator=gen)
    ts = process.spaced_timesteps(steps)
    args = (process._ddim_loop, (model, x, 0.0, None, 1.0, None, False, 1), ts, 0, len(ts), gen, None)
    payload = crossing((gpu._sample_chunk, args, {}), to_worker=True)
    with torch.inference_mode():
        result = gpu._sample_chunk(*args)
    per_step = crossing(result, to_worker=False)
    return {"model": "mnist-ddpm", "images": n, "steps_in_call": len(ts),
            "payload_in": payload, "result_out": per_step,
            "result_mb_per_step": round(per_step["mb"] / len(ts), 3),
            "most_steps_per_call_by_bytes": max(1, gpu.RESULT_BYTES // ((3 * x[0].numel() * 4 + 6000) * n))}


def training_payload(n_images: int | None) -> dict:
    from engines import data, vae
    from engines.train import Trainer, TrainConfig

    data_dir = os.environ.get("GENLAB_DATA_DIR")
    name = "mnist" if data_dir and data.mnist_available(data_dir) else "shapes"
    ds = data.load_dataset(name, "train", data_dir=data_dir, n=n_images) if name == "mnist" else \
        data.load_dataset(name, "train", n=n_images or 8000)
    cfg = vae.Config() if hasattr(vae, "Config") else None
    model = vae.build(cfg)
    loss = vae.make_loss(cfg, binarize=False)
    trainer = Trainer(model, loss, ds.images, TrainConfig(steps=10, batch_size=128, ema_decay=0.999))
    recipe = {"model": trainer.model, "phases": trainer.phases, "images": trainer.images, "labels": trainer.labels,
              "config": trainer.config, "split": None, "cached": ()}
    return {"dataset": name, "images": len(ds.images), "image_dtype": str(ds.images.dtype),
            "model_params": sum(p.numel() for p in model.parameters()),
            "payload_in": crossing((gpu._train_chunk, (recipe, trainer.state_dict(), 10), {}), to_worker=True)}


def stand_in_run(steps: int) -> dict:
    """DDIM through the tests' stand-in spaces (a fork per call) against the plain run, on this CPU."""
    from engines.diffusion.engine import Engine
    from tests.zerogpu_fixtures import FakeSpaces

    engine = Engine.load(ROOT / "assets" / "mnist-ddpm")
    c = engine.config

    def run():
        gen = runtime.generator(0)
        with torch.inference_mode():
            t0 = time.perf_counter()
            last = None
            for last in engine.process.ddim(engine.model, (16, c.channels, c.image_size, c.image_size), gen=gen,
                                            steps=steps):
                pass
            return time.perf_counter() - t0, last.x_prev

    run()  # warm-up: the first run pays for lazy initialisation
    plain_s, plain_x = run()
    fake = FakeSpaces()
    sys.modules["spaces"] = fake
    os.environ["SPACES_ZERO_GPU"] = "true"
    try:
        chunked_s, chunked_x = run()
    finally:
        del os.environ["SPACES_ZERO_GPU"]
        del sys.modules["spaces"]
        gpu._entry = None
    return {"steps": steps, "images": 16, "plain_s": round(plain_s, 2), "in_calls_s": round(chunked_s, 2),
            "calls": len(fake.durations), "asked_s": fake.durations,
            "max_abs_diff": float((plain_x - chunked_x).abs().max())}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="fewer steps and images, for development")
    ap.add_argument("--note", default="", help="recorded in the JSON (e.g. that the CPU was shared)")
    args = ap.parse_args()
    torch.set_grad_enabled(False)
    steps = 20 if args.quick else 100
    result = {
        "benchmark": "zerogpu_payload",
        "hardware": runtime.hardware_summary(),
        "note": args.note,
        "settings": {"FILL": gpu.FILL, "FIRST": gpu.FIRST, "GROWTH": gpu.GROWTH, "TRAIN_SECONDS": gpu.TRAIN_SECONDS,
                     "SAMPLE_SECONDS": gpu.SAMPLE_SECONDS, "RESULT_BYTES": gpu.RESULT_BYTES},
        "sampler": sampler_payloads(steps),
        "training": training_payload(2000 if args.quick else None),
        "stand_in_ddim": stand_in_run(steps),
    }
    emit(result)


if __name__ == "__main__":
    main()
