"""The shipped VQ-VAEs and their priors: reconstruction, codebook use, samples, speed (one JSON object).

    python -m benchmarks.vq                    # the full run (MNIST's 2,000 held-out digits, shapes' test split)
    python -m benchmarks.vq --quick            # fewer images and samples, for development

- reconstruction: MSE per pixel on [0, 1] and PSNR of the decoded tokens on the held-out images;
- codebook: perplexity exp(H) of the held-out code usage and the dead codes (no held-out vector picks them);
- samples (MNIST): --samples images from the prior, an even spread over the ten classes, judged by the
  project's MNIST classifier (benchmarks/classifier.py): confidently classified, read as the class asked
  for, the class histogram, and the Frechet distance to the held-out digits beside its real-vs-real floor;
- samples (shapes): as many, an even spread over the eight shapes, read by the shapes attribute judge
  (assets/shapes-classifier): sure of colour, shape, position, of all three, and the shape asked
  for; beside it the same judge on held-out images and on their reconstructions (the ceiling);
- speed: 16 images from the prior (tokens and decoding), with and without the key-value cache, the best
  of 3 after a warm-up, at the torch thread count the run has and on one thread (the sampler itself
  runs each step on one thread: engines.vqvae.sampling.one_thread).
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch

from benchmarks.common import ROOT, data_dir, emit
from engines import runtime
from engines.data import load_dataset
from engines.pictures import to_uint8
from engines.vqvae import Engine
from engines.vqvae.family import evaluate, sample

MODELS = {"mnist": ROOT / "assets" / "mnist-vqvae", "shapes": ROOT / "assets" / "shapes-vqvae"}


def quality(engine: Engine, dataset: str, folder, n: int | None) -> dict:
    test = load_dataset(dataset, "test", data_dir=folder, n=n)
    labels = test.labels if engine.config.num_classes else None
    with runtime.compute():
        metrics = evaluate(engine.model, test.float().to(engine.device),
                           labels=None if labels is None else labels.to(engine.device))
    return {"images": len(test), "split": test.split_note, "mse": round(metrics["mse"], 5),
            "psnr_db": round(metrics["psnr"], 2), "perplexity": round(metrics["perplexity"], 2),
            "codebook_size": engine.codebook_size, "dead_codes": int(metrics["dead_codes"]),
            "prior_nll_nats_per_token": round(metrics.get("prior_nll", float("nan")), 4)}


def judged(engine: Engine, n: int, folder, settings: dict) -> dict:
    from benchmarks.classifier import score_samples

    images, labels = [], []
    started = time.perf_counter()
    for seed in range(0, n, 50):  # 50 at a time: five of each class
        im, lab = sample(engine, min(50, n - seed), seed, {"label": "all", **settings})
        images.append(im)
        labels.append(lab)
    seconds = time.perf_counter() - started
    images, labels = np.concatenate(images), np.concatenate(labels)
    out = score_samples(images, data_dir=folder, labels=labels)
    out["classes_present"] = int(sum(1 for c in out["class_histogram"] if c > 0))
    out["settings"] = settings or "temperature 1, no top-k, no top-p"
    out["seconds"] = round(seconds, 2)
    return out


def attributes_read(images: np.ndarray, asked: np.ndarray | None = None) -> dict:
    """The shapes attribute judge (assets/shapes-classifier, engines/metrics/shapes_classifier.py; trained by
    benchmarks/shapes_attributes.py on the renderer's own
    factors) on uint8 (N, 32, 32, 3) images: how often it is sure (top probability > 0.9) of each
    factor and of all three, and with `asked` how often it reads the shape asked for."""
    from engines.metrics import shapes_classifier

    model = shapes_classifier.default()
    x = torch.from_numpy(np.ascontiguousarray(images)).permute(0, 3, 1, 2).float().div(255)
    with runtime.compute():
        out = model(x)
    sure = {k: v.softmax(1).max(1).values > 0.9 for k, v in out.items()}
    result = {"n": len(images), "sure": {k: round(float(v.float().mean()), 3) for k, v in sure.items()},
              "sure_of_all_three": round(float(torch.stack(list(sure.values())).all(0).float().mean()), 3)}
    if asked is not None:
        result["shape_asked"] = round(float((out["shape"].argmax(1).numpy() == asked).mean()), 3)
    return result


def judged_shapes(engine: Engine, n: int, settings: dict) -> dict:
    """--samples prior samples, an even spread over the eight shapes, read by the attribute judge."""
    images, labels = [], []
    started = time.perf_counter()
    for seed in range(0, n, 40):  # 40 at a time: five of each shape
        im, lab = sample(engine, min(40, n - seed), seed, {"label": "all", **settings})
        images.append(im)
        labels.append(lab)
    seconds = time.perf_counter() - started
    out = attributes_read(np.concatenate(images), np.concatenate(labels))
    return {**out, "settings": settings or "temperature 1, no top-k, no top-p", "seconds": round(seconds, 2)}


def shapes_ceiling(engine: Engine, n: int) -> dict:
    """The judge on held-out shapes and on their VQ-VAE reconstructions: what a perfect prior could score."""
    test = load_dataset("shapes", "test", n=n)
    real = test.numpy_hwc()
    with runtime.compute():
        model = engine.model
        recon = to_uint8(model.decode_tokens(model.codes(test.float().to(engine.device))))
    shapes = np.asarray([a["shape_id"] for a in test.attrs])
    return {"real": attributes_read(real, shapes), "reconstructed": attributes_read(recon, shapes)}


def speed(engine: Engine, threads: int) -> dict:
    before = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        return {"threads": threads, **{f"{k}_s": v for k, v in engine.speed(16, 0, repeats=3).items()}}
    finally:
        torch.set_num_threads(before)


def main(argv=None) -> dict:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true")
    p.add_argument("--samples", type=int, default=1000, help="MNIST prior samples the classifier judges")
    p.add_argument("--note", default="busy CPU: other jobs running")
    args = p.parse_args(argv)
    folder = data_dir()
    n_test = 200 if args.quick else None
    n_samples = 100 if args.quick else args.samples
    result = {"benchmark": "vq", "hardware": runtime.hardware_summary(), "note": args.note,
              "quick": args.quick, "torch_threads": torch.get_num_threads()}
    for dataset, path in MODELS.items():
        if dataset == "mnist" and folder is None:
            result[dataset] = {"skipped": "MNIST not found (GENLAB_DATA_DIR)"}
            continue
        engine = Engine.load(path)
        entry = {"model": path.name, "reconstruction": quality(engine, dataset, folder, n_test)}
        if dataset == "mnist":
            entry["samples"] = judged(engine, n_samples, folder, {})
            entry["samples_top_k"] = judged(engine, n_samples, folder, {"top_k": 10})
        else:
            entry["judge"] = "benchmarks/shapes_attributes.py (colour, shape, position heads; 'sure': top p > 0.9)"
            entry["ceiling"] = shapes_ceiling(engine, n_test or 2000)
            entry["samples"] = judged_shapes(engine, n_samples, {})
            entry["samples_top_k"] = judged_shapes(engine, n_samples, {"top_k": 10})
        entry["speed_16"] = [speed(engine, torch.get_num_threads())]
        if torch.get_num_threads() != 1:
            entry["speed_16"].append(speed(engine, 1))
        result[dataset] = entry
    emit(result)
    return result


if __name__ == "__main__":
    main()
