"""Speed of the metrics engine (engines.metrics) on the CPU, and the shipped MNIST models scored.

    python -m benchmarks.metrics_speed            # 2,000 samples, the FID-vs-N curve, the floor, the table
    python -m benchmarks.metrics_speed --quick    # 500 samples, no table

Targets (issue 21): 2,000 MNIST samples from a shipped model evaluated (FID, KID, precision,
recall) in <= 20 s on the 2-core CPU excluding sampling; the FID-vs-N curve for one model <= 60 s.
Every number is in the shipped classifier's feature space (assets/mnist-classifier, 128-d):
not comparable with published Inception FIDs.
"""

from __future__ import annotations

import argparse
import datetime as _dt
import time

from benchmarks.common import ROOT, data_dir as default_data_dir, emit

MODELS = {  # name -> sampler options (the DDPM with a fast DDIM setting)
    "mnist-vae-z16": {}, "mnist-vae-z2": {}, "mnist-stylegan": {},
    "mnist-ddpm": {"sampler": "ddim", "steps": 10},
}


def run(n: int, data: str | None, table: bool, seed: int = 0) -> dict:
    from engines import metrics, runtime
    from engines.metrics import evaluate

    t0 = time.perf_counter()
    import torchmetrics.image.fid, torchmetrics.image.inception, torchmetrics.image.kid  # noqa: F401,E401 (timed apart)
    import_s = time.perf_counter() - t0

    t0 = time.perf_counter()
    real = evaluate.heldout_features(data, "classifier")
    real_s = time.perf_counter() - t0

    model = ROOT / "assets" / "mnist-vae-z16"
    images, sampled = metrics.sample_model(model, n, seed)
    t0 = time.perf_counter()
    core = evaluate.compare(None, images, real_features=real, rounds=0, seed=seed)
    core_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    full = evaluate.compare(None, images, real_features=real, rounds=10, seed=seed)
    full_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    curve = evaluate.fid_curve(None, images, real_features=real, seed=seed)
    curve_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    floor = evaluate.real_floor(evaluate.heldout(data), seed=seed)
    floor_s = time.perf_counter() - t0

    out = {
        "benchmark": "metrics_speed",
        "date": _dt.date.today().isoformat(),
        "hardware": runtime.hardware_summary(),
        "note": "busy CPU: other jobs running (four engineers share the 2 cores)",
        "command": f"python -m benchmarks.metrics_speed{'' if table else ' --quick'}",
        "features": core["features"],
        "real": "MNIST held-out split (last 2,000 test digits)",
        "n": n,
        "seconds": {
            "torchmetrics_import": round(import_s, 2),
            "real_features_once": round(real_s, 2),
            "sampling_vae_z16": sampled["sample_s"],
            "evaluate_fid_kid_pr_is": round(core_s, 2),
            "evaluate_with_bootstrap_10": round(full_s, 2),
            "fid_vs_n_curve": round(curve_s, 2),
            "real_floor": round(floor_s, 2),
        },
        "targets": {"evaluate<=20s": core_s + real_s <= 20, "evaluate_with_bootstrap<=20s": full_s + real_s <= 20,
                    "curve<=60s": curve_s <= 60},
        "mnist_vae_z16": full,
        "fid_curve_mnist_vae_z16": curve,
        "real_vs_real_floor_1000_vs_1000": floor,
    }
    if table:
        rows = []
        for name, options in MODELS.items():
            imgs, s = metrics.sample_model(ROOT / "assets" / name, n, seed, options)
            r = evaluate.compare(None, imgs, real_features=real, rounds=10, seed=seed)
            rows.append({"model": name, "sampler_options": options, "ms_per_image": s["ms_per_image"],
                         "fid": r["fid"], "fid_std": r["bootstrap"]["fid_std"], "kid": r["kid"],
                         "precision": r["precision"], "recall": r["recall"], "is": r["is"]["mean"],
                         "eval_s": r["eval_s"]})
            print(rows[-1], flush=True)
        out["table_n"] = n
        out["table"] = rows
    return out


def main(argv=None) -> None:
    p = argparse.ArgumentParser(prog="python -m benchmarks.metrics_speed", description=__doc__.split("\n")[0])
    p.add_argument("--quick", action="store_true", help="500 samples and no table (development)")
    p.add_argument("--data-dir", default=None)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--out", default=None, help="also write the JSON here")
    args = p.parse_args(argv)

    import torch

    torch.set_num_threads(args.threads)
    result = run(500 if args.quick else 2000, args.data_dir or default_data_dir(), table=not args.quick)
    emit(result, args.out)


if __name__ == "__main__":
    main()
