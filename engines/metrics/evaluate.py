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
EXTRACT_CHUNK = 200  # images a feature-extraction step (500 took 1.3-2.5 s on the busy CPU, load 12)
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


def extract_steps(images, features: str = "classifier", dataset: str = "mnist", chunk: int = EXTRACT_CHUNK,
                  how: str = "as_is"):
    """`extract` in steps of `chunk` images (each image's features are its own, so the same numbers),
    after a `round_trip` of each chunk unless how is "as_is": yields None after each chunk, then the
    Extracted."""
    parts = []
    for i in range(0, len(images), chunk):
        part = images[i:i + chunk]
        parts.append(extract(part if how == "as_is" else round_trip(part, how), features, dataset))
        yield None
    yield Extracted(torch.cat([e.features for e in parts]), torch.cat([e.logits for e in parts]), parts[0].space)


def _steps(steps, stage: str | None):
    """Run a *_steps generator inside compare_steps' stream: yields (stage, None) after each of its
    steps (stage None: the step's own name, when it yields one) -> its last value, the result."""
    out = None
    for out in steps:
        if out is None or isinstance(out, str):
            yield (stage or out), None
    return out


def compare_steps(real, fake, *, features: str = "classifier", k: int = 3, rounds: int = 10, seed: int = 0,
                  real_features: Extracted | None = None, dataset: str = "mnist"):
    """`compare` in steps, each short (a block of images, of kernel or distance rows, a KID subset): yields
    (stage, None) after each ("features", "fid", "kid", "precision_recall", "bootstrap 3/10", ...),
    then ("done", the result). Stopping between steps leaves nothing changed (torch's thread count and
    global generator are restored inside each step)."""
    started = time.perf_counter()
    r = real_features
    if r is None:
        r = yield from _steps(extract_steps(real, features, dataset), "features")
    f = yield from _steps(extract_steps(fake, features, dataset), "features")
    extract_s = time.perf_counter() - started
    fid = scores.fid(r.features, f.features)
    yield "fid", None
    kid_mean, kid_std = yield from _steps(scores.kid_steps(r.features, f.features, seed=seed), "kid")
    precision, recall = yield from _steps(scores.precision_recall_steps(r.features, f.features, k=k), "precision_recall")
    is_mean, is_std = scores.inception_score(f.logits, seed=seed)
    out = {
        "features": f.space,
        "n": len(f.features), "n_real": len(r.features),
        "fid": _round(fid), "kid": {"mean": _round(kid_mean, 6), "std": _round(kid_std, 6)},
        "precision": _round(precision), "recall": _round(recall), "k": k,
        "is": {"mean": _round(is_mean), "std": _round(is_std), "note": IS_NOTES[f.space.split(" ")[0]]},
    }
    yield "is", None
    if rounds:
        std = yield from _steps(_bootstrap_steps(r.features, f.features, k=k, rounds=rounds, seed=seed), None)
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


def _bootstrap_steps(real: torch.Tensor, fake: torch.Tensor, *, k: int, rounds: int, seed: int):
    """The bootstrap of (FID, precision, recall) in short steps: the resamples of scores.bootstrap_values,
    each round's FID and precision / recall blocks one step each. Yields the stage name ("bootstrap 3/10")
    after each step, then the std over rounds (3,)."""
    gen = torch.Generator().manual_seed(seed)  # the draws scores.bootstrap_values makes
    values = []
    for i in range(rounds):
        a = real[torch.randint(len(real), (len(real),), generator=gen)]
        b = fake[torch.randint(len(fake), (len(fake),), generator=gen)]
        stage = f"bootstrap {i + 1}/{rounds}"
        fid = scores.fid(a, b)
        yield stage
        pr = None
        for pr in scores.precision_recall_steps(a, b, k=k):
            yield stage
        values.append(np.asarray((fid, *pr), np.float64))
    yield np.std(np.stack(values), axis=0, ddof=1)


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
    r = real_features
    if r is None:
        r = yield from _steps(extract_steps(real, features, dataset), "features")
    f = yield from _steps(extract_steps(fake, features, dataset), "features")
    out = None
    for out in scores.fid_vs_n_steps(r.features, f.features, ns, repeats=repeats, seed=seed):
        yield f"fid {out['n'][-1]}", None
    kid = {}  # one set of kernels for every N (scores.kid_curve_steps)
    for step in scores.kid_curve_steps(r.features, f.features, out["n"], subsets=20, seed=seed):
        if step is not None:
            kid[step[0]] = _round(step[1][0], 6)
        yield ("kid" if step is None else f"kid {step[0]}"), None
    out["kid"] = [kid[n] for n in out["n"]]
    out["inverse_n"] = [1.0 / n for n in out["n"]]
    out["features"] = f.space
    out["seconds"] = round(time.perf_counter() - started, 3)
    yield "done", out


def real_floor(images, *, features: str = "classifier", seed: int = 0, dataset: str = "mnist") -> dict:
    """The real-vs-real floor: the metrics between two disjoint halves of the same real images
    (even and odd indices), what a perfect generator scores at this N."""
    out = None
    for _, out in real_floor_steps(images, features=features, seed=seed, dataset=dataset):
        pass
    return out


def real_floor_steps(images, *, features: str = "classifier", seed: int = 0, dataset: str = "mnist"):
    """`real_floor` in the short steps of compare_steps: yields (stage, None), then ("done", the floor)."""
    images = images if torch.is_tensor(images) else np.asarray(images)
    half = None
    for stage, half in compare_steps(images[0::2], images[1::2], features=features, rounds=0, seed=seed,
                                     dataset=dataset):
        if stage != "done":
            yield f"floor: {stage}", None
    half["definition"] = "the same metrics between the even- and odd-indexed halves of the real images"
    yield "done", half


@functools.lru_cache(maxsize=4)
def heldout(data_dir: str | None = None, dataset: str = "mnist") -> np.ndarray:
    """The held-out split as uint8 (N, H, W, C) (see REAL): MNIST's last 2,000 digits; shapes' test
    stream, 2,000 images at 32 x 32, the models' side (data_dir unused)."""
    from ..data import load_dataset
    from .features import check_dataset

    check_dataset(dataset)
    test = load_dataset(dataset, "test", data_dir=data_dir if dataset == "mnist" else None)
    return (test.float() * 255).round().clamp(0, 255).to(torch.uint8).permute(0, 2, 3, 1).numpy()


_HELD: dict[tuple, Extracted] = {}  # (data dir, feature space, data set) -> the held-out features


def heldout_features(data_dir: str | None = None, features: str = "classifier", dataset: str = "mnist") -> Extracted:
    """The held-out images' features, extracted once per feature space and data set."""
    out = None
    for out in heldout_features_steps(data_dir, features, dataset):
        pass
    return out


def heldout_features_steps(data_dir: str | None = None, features: str = "classifier", dataset: str = "mnist"):
    """`heldout_features` in steps of EXTRACT_CHUNK images the first time: yields None after each,
    then the Extracted (at once when it is known)."""
    key = (data_dir, features, dataset)
    if key not in _HELD:
        got = None
        for got in extract_steps(heldout(data_dir, dataset), features, dataset):
            if got is None:
                yield None
        while len(_HELD) >= 4:
            _HELD.pop(next(iter(_HELD)))
        _HELD[key] = got
    yield _HELD[key]


def forget_heldout() -> None:
    """Drop the cached held-out features (tests that stand in a small held-out set)."""
    _HELD.clear()


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
