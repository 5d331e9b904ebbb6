"""Generated images against real ones: every metric in one plain dict, the FID-vs-N curve, the
real-vs-real floor, and sampling a checkpoint through the family registry."""

from __future__ import annotations

import functools
import time

import numpy as np
import torch

from . import scores
from .features import Extracted, extract

CHUNK = 64  # images per sampler call: under every family's per-call cap and work budget
FEW = 2000  # under this many samples FID is visibly biased upward (and the covariance rank-deficient for Inception)
IS_NOTES = {  # what the Inception Score's class posterior is, by feature space
    "mnist-classifier": "Inception Score from the MNIST classifier's softmax (10 digits)",
    "shapes-classifier": ("Inception Score from the shapes classifier's shape head "
                          "(8 shapes; colour and position unread)"),
    "inception-v3": "Inception Score from Inception-v3's logits",
}
REAL = {  # the real images each data set is compared with: held out, never training images
    "mnist": "MNIST held-out split (last 2,000 test digits)",
    "shapes": "GenLab shapes, seed 0, test stream, images 0-1999, 32x32 (held out from every shapes model)",
}


def _round(x, digits: int = 4):
    return None if x is None else round(float(x), digits)


def compare(real, fake, *, features: str = "classifier", k: int = 3, rounds: int = 10, seed: int = 0,
            real_features: Extracted | None = None, dataset: str = "mnist") -> dict:
    """FID, KID, IS, precision and recall of `fake` images against `real` ones in one feature space,
    with bootstrap error bars (std over `rounds` resamples of the features; 0 turns them off).
    Images: uint8 (N, H, W[, C]) or float (N, C, H, W) in [0, 1]. `real_features`: already
    extracted real side (e.g. `heldout_features`), then `real` may be None. `dataset`: the images'
    data set, whose classifier "classifier" means (mnist, shapes)."""
    out = None
    for _, out in compare_steps(real, fake, features=features, k=k, rounds=rounds, seed=seed,
                                real_features=real_features, dataset=dataset):
        pass
    return out


def compare_steps(real, fake, *, features: str = "classifier", k: int = 3, rounds: int = 10, seed: int = 0,
                  real_features: Extracted | None = None, dataset: str = "mnist"):
    """`compare` in steps, each short: yields (stage, None) after the features, each metric and each
    bootstrap round ("bootstrap 3/10"), then ("done", the result). Stopping between steps leaves
    nothing changed (torch's thread count and global generator are restored inside each step)."""
    started = time.perf_counter()
    r = real_features if real_features is not None else extract(real, features, dataset)
    f = extract(fake, features, dataset)
    extract_s = time.perf_counter() - started
    yield "features", None
    fid = scores.fid(r.features, f.features)
    yield "fid", None
    kid_mean, kid_std = scores.kid(r.features, f.features, seed=seed)
    yield "kid", None
    precision, recall = scores.precision_recall(r.features, f.features, k=k)
    is_mean, is_std = scores.inception_score(f.logits, seed=seed)
    out = {
        "features": f.space,
        "n": len(f.features), "n_real": len(r.features),
        "fid": _round(fid), "kid": {"mean": _round(kid_mean, 6), "std": _round(kid_std, 6)},
        "precision": _round(precision), "recall": _round(recall), "k": k,
        "is": {"mean": _round(is_mean), "std": _round(is_std), "note": IS_NOTES[f.space.split(" ")[0]]},
    }
    yield "precision_recall", None
    if rounds:
        values = []
        both = lambda a, b: (scores.fid(a, b), *scores.precision_recall(a, b, k=k))  # noqa: E731
        for i, v in enumerate(scores.bootstrap_values(both, r.features, f.features, rounds=rounds, seed=seed)):
            values.append(v)
            yield f"bootstrap {i + 1}/{rounds}", None
        std = np.std(np.stack(values), axis=0, ddof=1)
        out["bootstrap"] = {
            "rounds": rounds, "what": "std over resamples of both feature sets with replacement",
            "fid_std": _round(std[0]), "precision_std": _round(std[1]), "recall_std": _round(std[2]),
        }
    if out["n"] < FEW:
        out["warning"] = (f"only {out['n']} samples: FID is biased upward below about {FEW}; "
                          "read KID, or fid_curve's extrapolation")
    out["eval_s"] = round(time.perf_counter() - started, 3)
    out["extract_s"] = round(extract_s, 3)
    yield "done", out


def fid_curve(real, fake, ns=None, *, features: str = "classifier", repeats: int = 3, seed: int = 0,
              real_features: Extracted | None = None, dataset: str = "mnist") -> dict:
    """FID against N and 1/N with the line to infinite N (Chong & Forsyth 2020), and KID at each N
    beside it (unbiased, so flat up to noise) -> a plain dict (see scores.fid_vs_n) + "kid"."""
    out = None
    for _, out in fid_curve_steps(real, fake, ns, features=features, repeats=repeats, seed=seed,
                                  real_features=real_features, dataset=dataset):
        pass
    return out


def fid_curve_steps(real, fake, ns=None, *, features: str = "classifier", repeats: int = 3, seed: int = 0,
                    real_features: Extracted | None = None, dataset: str = "mnist"):
    """`fid_curve` in short steps: yields ("fid N", None) after each N's FIDs, ("kid N", None) after
    each KID, then ("done", the curve)."""
    started = time.perf_counter()
    r = real_features if real_features is not None else extract(real, features, dataset)
    f = extract(fake, features, dataset)
    out = None
    for out in scores.fid_vs_n_steps(r.features, f.features, ns, repeats=repeats, seed=seed):
        yield f"fid {out['n'][-1]}", None
    out["kid"] = []
    for n in out["n"]:
        out["kid"].append(_round(scores.kid(r.features, f.features[:n], subsets=20, seed=seed)[0], 6))
        yield f"kid {n}", None
    out["inverse_n"] = [1.0 / n for n in out["n"]]
    out["features"] = f.space
    out["seconds"] = round(time.perf_counter() - started, 3)
    yield "done", out


def real_floor(images, *, features: str = "classifier", seed: int = 0, dataset: str = "mnist") -> dict:
    """The real-vs-real floor: the metrics between two disjoint halves of the same real images
    (even and odd indices), what a perfect generator scores at this N."""
    images = images if torch.is_tensor(images) else np.asarray(images)
    half = compare(images[0::2], images[1::2], features=features, rounds=0, seed=seed, dataset=dataset)
    half["definition"] = "the same metrics between the even- and odd-indexed halves of the real images"
    return half


@functools.lru_cache(maxsize=4)
def heldout(data_dir: str | None = None, dataset: str = "mnist") -> np.ndarray:
    """The held-out split as uint8 (N, H, W, C) (see REAL): MNIST's last 2,000 digits; shapes' test
    stream, 2,000 images at 32 x 32, the models' side (data_dir unused)."""
    from ..data import load_dataset
    from .features import check_dataset

    check_dataset(dataset)
    test = load_dataset(dataset, "test", data_dir=data_dir if dataset == "mnist" else None)
    return (test.float() * 255).round().clamp(0, 255).to(torch.uint8).permute(0, 2, 3, 1).numpy()


@functools.lru_cache(maxsize=4)
def heldout_features(data_dir: str | None = None, features: str = "classifier", dataset: str = "mnist") -> Extracted:
    return extract(heldout(data_dir, dataset), features, dataset)


def sample_steps(engine, sample, n: int, seed: int = 0, options: dict | None = None, chunk: int = CHUNK):
    """n images from a loaded engine in calls of `chunk` images with seeds seed, seed + chunk, ...,
    `sample` being the family spec's sampler (or None: engine.sample). Yields (done, images so far),
    uint8 (done, H, W, C), after each call."""
    parts, done = [], 0
    for start in range(0, n, chunk):
        m = min(chunk, n - start)
        images, _ = (sample(engine, m, seed + start, dict(options or {})) if sample is not None
                     else engine.sample(m, seed + start, **dict(options or {})))
        parts.append(images)
        done += m
        yield done, np.concatenate(parts) if len(parts) > 1 else parts[0]


def sample_model(path, n: int, seed: int = 0, options: dict | None = None) -> tuple[np.ndarray, dict]:
    """n images, uint8 (n, H, W, C), from a checkpoint folder through its family's spec (as
    `python -m engines sample`), in calls of CHUNK images with seeds seed, seed + CHUNK, ...
    -> (images, {"family", "dataset", "sample_s", "ms_per_image"})."""
    from .. import checkpoint, families, runtime

    ckpt = checkpoint.load(path)
    spec = families.get(ckpt.family)
    engine = spec.load_module().Engine(ckpt)
    options = dict(options or {})
    started = time.perf_counter()
    images = None
    for _, images in sample_steps(engine, spec.sample, n, seed, options):
        pass
    wall = time.perf_counter() - started
    return images, {"family": ckpt.family, "dataset": ckpt.card.get("dataset"),
                    "sample_s": round(wall, 3), "ms_per_image": round(1000 * wall / n, 3),
                    "sampler_options": options, "hardware": runtime.hardware_summary()}


def model_dataset(path) -> str:
    """The data set a checkpoint's card says it was trained on, if it has a classifier of its own
    (mnist, shapes); else UserError("metrics_dataset_unknown")."""
    import json
    from pathlib import Path

    from ..checkpoint import CARD
    from .features import check_dataset

    try:
        dataset = json.loads((Path(path) / CARD).read_text(encoding="utf-8")).get("dataset")
    except (OSError, ValueError, AttributeError):
        dataset = None
    return check_dataset(dataset)


def evaluate_model(path, n: int = 2000, seed: int = 0, *, features: str = "classifier", data_dir=None,
                   options: dict | None = None, rounds: int = 10) -> dict:
    """Sample n images from a checkpoint and compare them with the held-out images of the data set
    its card names (MNIST or shapes), in that data set's classifier (or Inception) -> plain dict."""
    from .features import extract as _extract

    dataset = model_dataset(path)  # before sampling, as is the check below
    if features == "inception":
        _extract(np.zeros((1, 28, 28, 1), np.uint8), "inception")  # offline: fail before sampling
    images, sampled = sample_model(path, n, seed, options)
    started = time.perf_counter()
    real = heldout_features(None if data_dir is None else str(data_dir), features, dataset)
    result = compare(None, images, features=features, rounds=rounds, seed=seed, real_features=real, dataset=dataset)
    result["eval_s"] = round(time.perf_counter() - started, 3)  # real features included (cached after once)
    return {"model": str(path), "seed": seed, "dataset": dataset, "real": REAL[dataset],
            **result, "timings": {"sample_s": sampled["sample_s"], "eval_s": result["eval_s"]},
            "sampling": sampled}


def round_trip(images: np.ndarray, how: str, *, side: int = 56, quality: int = 75) -> np.ndarray:
    """The same uint8 (N, H, W, C) images after a resize round trip ("resize": bicubic up to `side`
    pixels, bilinear back down, as a careless pipeline might) or a JPEG round trip ("jpeg": saved at
    `quality` and read back): what changes a FID without changing the model."""
    import io

    from PIL import Image

    out = np.empty_like(images)
    for i, im in enumerate(images):
        pic = Image.fromarray(im[:, :, 0] if im.shape[-1] == 1 else im)
        if how == "resize":
            h, w = pic.height, pic.width
            pic = pic.resize((side, side), Image.BICUBIC).resize((w, h), Image.BILINEAR)
        elif how == "jpeg":
            buf = io.BytesIO()
            pic.save(buf, format="JPEG", quality=quality)
            pic = Image.open(io.BytesIO(buf.getvalue()))
            pic.load()
        else:
            raise ValueError(f"unknown round trip {how!r}")
        arr = np.asarray(pic)
        out[i] = arr[:, :, None] if arr.ndim == 2 else arr
    return out
