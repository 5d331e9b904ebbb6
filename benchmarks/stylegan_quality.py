"""Quality of the shipped StyleGANs, and what each layer of the faces model controls.

    python -m benchmarks.stylegan_quality              # prints JSON (about 5 min on 2 CPU cores)
    python -m benchmarks.stylegan_quality --quick      # fewer samples, noisier

(a) assets/mnist-stylegan, 10,000 samples at psi 1, read by the benchmark classifier
    (benchmarks/classifier.py; samples resized 32 -> 28 as the data set was resized 28 -> 32):
    the fraction confidently classified, the class histogram and its distance from uniform
    (chi-square statistic and total variation), the Frechet distance in classifier features
    against the 2,000 held-out digits, at 10,000 and at 2,000 samples, beside the real-vs-real
    floor (2,000 vs 2,000; FD grows as the sample shrinks, so compare the 2,000 numbers).
(b) assets/faces-stylegan, 2,000 samples at psi 1, read by the attribute regressor
    (assets/faces-attributes), against the true attributes of 2,000 held-out faces: total
    variation per categorical attribute, mean and std per continuous one (in the attribute's
    units). The regressor's own held-out accuracy / MAE comes with it, and the distances of its
    predictions on the real faces from their truth (the floor this instrument can show).
(c) engines.stylegan.attributes.layer_effects on the faces model (n pairs, psi 1): groups x
    attributes, and for each attribute whether its strongest group is its data-set group.
Targets (issue 4): MNIST >= 90% confidently classified and the histogram close to uniform.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import torch

from benchmarks.common import ROOT, data_dir, emit
from engines import runtime, stylegan
from engines.data import FACE_ATTRIBUTES, attribute_targets, load_dataset
from engines.data.imageset import resize_batch
from engines.stylegan import attributes as fa

MNIST_MODEL = ROOT / "assets" / "mnist-stylegan"
FACES_MODEL = ROOT / "assets" / "faces-stylegan"


def _generate(engine, n: int, seed: int, psi: float = 1.0) -> tuple[np.ndarray, float]:
    """Seeds seed .. seed + n - 1 -> (uint8 (n, H, W, C), seconds)."""
    t0 = time.perf_counter()
    out = [engine.generate(range(s, min(s + 250, seed + n)), psi) for s in range(seed, seed + n, 250)]
    return np.concatenate(out), time.perf_counter() - t0


def mnist_report(n: int, model=MNIST_MODEL, *, fd: bool = True, device: torch.device | None = None) -> dict:
    """(a) for the StyleGAN in folder `model`; fd=False skips the Frechet distances. The samples
    are generated on `device` (default the CPU); the classifier reads them on the CPU."""
    from benchmarks.classifier import (
        CONFIDENT,
        classify,
        fd_against_heldout,
        real_vs_real_floor,
    )

    engine = stylegan.Engine.load(model, device=device or torch.device("cpu"))
    images, secs = _generate(engine, n, seed=0)
    x28 = resize_batch(torch.from_numpy(images).permute(0, 3, 1, 2), 28)  # (n, 1, 28, 28) uint8
    pred, prob = classify(x28)
    hist = np.bincount(pred, minlength=10)
    expected = n / 10
    out = {
        "model": _shown(model), "n": n, "psi": 1.0, "seeds": f"0..{n - 1}",
        "generate_seconds": round(secs, 1),
        "confident_threshold": CONFIDENT,
        "confident_fraction": round(float((prob >= CONFIDENT).mean()), 4),
        "class_histogram": hist.tolist(),
        "class_histogram_confident_only": np.bincount(pred[prob >= CONFIDENT], minlength=10).tolist(),
        "chi_square_vs_uniform": round(float(((hist - expected) ** 2 / expected).sum()), 1),
        "chi_square_dof": 9,
        "total_variation_vs_uniform": round(float(0.5 * np.abs(hist / n - 0.1).sum()), 4),
        "max_over_min_class": round(float(hist.max() / max(hist.min(), 1)), 2),
    }
    found = data_dir()
    out["data_dir_found"] = bool(found)
    if found and fd:
        out["fd_all_samples"] = round(fd_against_heldout(x28, found), 3)
        out["fd_2000_samples"] = round(fd_against_heldout(x28[:2000], found), 3)
        out["fd_floor_real_vs_real_2000"] = round(real_vs_real_floor(found), 3)
    out["targets"] = {"confident_fraction>=0.9": bool(out["confident_fraction"] >= 0.9),
                      "histogram_tv<=0.05": bool(out["total_variation_vs_uniform"] <= 0.05)}
    return out


def _shown(path) -> str:
    path = Path(path).resolve()
    return str(path.relative_to(ROOT)) if path.is_relative_to(ROOT) else str(path)


def _distribution_distances(pred: dict[str, np.ndarray], true: dict[str, np.ndarray]) -> dict:
    """Per attribute: TV between class frequencies (categorical), or means and stds in the
    attribute's units (continuous)."""
    out = {}
    for name, spec in FACE_ATTRIBUTES.items():
        if spec["kind"] == "categorical":
            k = len(spec["values"])
            p = np.bincount(pred[name], minlength=k) / len(pred[name])
            q = np.bincount(true[name], minlength=k) / len(true[name])
            out[name] = {"tv": round(float(0.5 * np.abs(p - q).sum()), 4),
                         "freq": dict(zip(spec["values"], np.round(p, 3).tolist())),
                         "freq_true": dict(zip(spec["values"], np.round(q, 3).tolist()))}
        else:
            low, high = spec["values"]
            a, b = pred[name] * (high - low) + low, true[name] * (high - low) + low
            out[name] = {"mean": round(float(a.mean()), 4), "mean_true": round(float(b.mean()), 4),
                         "std": round(float(a.std()), 4), "std_true": round(float(b.std()), 4),
                         "mean_diff_over_range": round(float((a.mean() - b.mean()) / (high - low)), 4),
                         "std_diff_over_range": round(float((a.std() - b.std()) / (high - low)), 4)}
    return out


def faces_report(n: int, n_pairs: int, reg, model=FACES_MODEL) -> dict:
    engine = stylegan.Engine.load(model, device=torch.device("cpu"))
    test = load_dataset("faces", "test", n=n, seed=0, size=engine.config.image_size)
    true = attribute_targets(test.attrs)
    pred_real = reg.predict(test.images.permute(0, 2, 3, 1).numpy())
    images, secs = _generate(engine, n, seed=0)
    pred_fake = reg.predict(images)
    samples = _distribution_distances(pred_fake, true)
    floor = _distribution_distances(pred_real, true)
    out = {
        "model": _shown(model), "n_samples": n, "psi": 1.0, "generate_seconds": round(secs, 1),
        "regressor": str(fa.DEFAULT_DIR.relative_to(ROOT)),
        "regressor_heldout": reg.card.get("metrics"),
        "true_distribution": f"{test.split_note}: the data set's own attribute labels",
        "samples_vs_true": samples,
        "regressor_on_real_vs_true": {k: ({"tv": v["tv"]} if "tv" in v else
                                          {"mean_diff_over_range": v["mean_diff_over_range"],
                                           "std_diff_over_range": v["std_diff_over_range"]})
                                      for k, v in floor.items()},
    }
    cat = [k for k in samples if "tv" in samples[k]]
    out["summary"] = {
        "mean_tv_categorical": round(float(np.mean([samples[k]["tv"] for k in cat])), 4),
        "mean_tv_categorical_regressor_floor": round(float(np.mean([floor[k]["tv"] for k in cat])), 4),
        "tv_categorical": {k: samples[k]["tv"] for k in cat},
        "abs_mean_diff_over_range_continuous": {k: abs(v["mean_diff_over_range"]) for k, v in samples.items()
                                               if "mean_diff_over_range" in v},
    }

    t0 = time.perf_counter()
    eff = fa.layer_effects(engine, reg, n=n_pairs, seed=0, psi=1.0, cached=False)
    eff_secs = time.perf_counter() - t0
    stored = fa._precomputed(engine, reg, n=n_pairs, seed=0, group_layers=eff["group_layers"], psi=1.0,
                             per_layer=True)
    t0 = time.perf_counter()
    fa.layer_effects(engine, reg, n=64, seed=0, psi=1.0, per_layer=False, cached=False)
    groups_only_64_secs = time.perf_counter() - t0
    strongest = fa.strongest_groups(eff)
    table = []
    for j, name in enumerate(eff["attributes"]):
        row = {"attribute": name, "data_group": eff["attribute_groups"][j],
               **{g: round(float(eff["effect"][i, j]), 3) for i, g in enumerate(eff["groups"])},
               "strongest": strongest[name], "matches": strongest[name] == eff["attribute_groups"][j]}
        table.append(row)
    out["layer_effects"] = {
        "n_pairs": n_pairs, "seed": 0, "psi": 1.0, "seconds": round(eff_secs, 1),
        "seconds_n64_groups_only": round(groups_only_64_secs, 1),
        "stored_result": ("absent" if stored is None else
                          "equal to this run" if np.array_equal(stored["effect"], eff["effect"], equal_nan=True)
                          and np.array_equal(stored["per_layer"], eff["per_layer"], equal_nan=True)
                          else f"differs from this run by up to "
                               f"{float(np.nanmax(np.abs(stored['effect'] - eff['effect']))):.3f}"),
        "definition": "categorical: fraction of pairs with A, B classes differing where the mix has B's class; "
                      "continuous: mean |mix - A| / mean |B - A| (capped at 1)",
        "groups": eff["groups"], "group_layers": eff["group_layers"],
        "table": table,
        "per_layer": {name: [round(float(v), 3) for v in eff["per_layer"][:, j]]
                      for j, name in enumerate(eff["attributes"])},
        "pairs_differing": eff["pairs_differing"],
        "matches": f"{sum(r['matches'] for r in table)}/{len(table)}",
    }
    return out


def main(argv: list[str] | None = None) -> dict:
    p = argparse.ArgumentParser()
    p.add_argument("--n-mnist", type=int, default=10_000)
    p.add_argument("--n-faces", type=int, default=2_000)
    p.add_argument("--n-pairs", type=int, default=256)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--quick", action="store_true", help="1,000 / 500 / 64")
    p.add_argument("--mnist-model", default=str(MNIST_MODEL), help="the MNIST StyleGAN to measure")
    p.add_argument("--faces-model", default=str(FACES_MODEL), help="the faces StyleGAN to measure")
    p.add_argument("--mnist-only", action="store_true", help="skip (b) and (c), the faces model")
    p.add_argument("--faces-only", action="store_true", help="skip (a), the MNIST model")
    p.add_argument("--no-fd", action="store_true", help="skip the Frechet distances (faster)")
    args = p.parse_args(argv)
    if args.quick:
        args.n_mnist, args.n_faces, args.n_pairs = 1000, 500, 64
    torch.set_num_threads(args.threads)
    t0 = time.perf_counter()
    out = {"benchmark": "stylegan_quality", "hardware": runtime.hardware_summary(torch.device("cpu")),
           "threads": args.threads}
    out["mnist"] = ({"skipped": "--faces-only"} if args.faces_only else
                    mnist_report(args.n_mnist, args.mnist_model, fd=not args.no_fd))
    reg = None if args.mnist_only else fa.load_default()
    out["faces"] = faces_report(args.n_faces, args.n_pairs, reg, args.faces_model) if reg is not None else {
        "skipped": "--mnist-only" if args.mnist_only else "no regressor in assets/faces-attributes"}
    out["seconds"] = round(time.perf_counter() - t0, 1)
    emit(out)
    return out


if __name__ == "__main__":
    main()
