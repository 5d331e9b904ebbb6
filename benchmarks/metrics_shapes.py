"""FID, KID, precision and recall of the shipped shapes models, with the real-vs-real floor.

    python -m benchmarks.metrics_shapes            # 2,000 samples a model (the busy 2-core CPU)
    python -m benchmarks.metrics_shapes --quick    # 200 samples a model (development)

Every score is in GenLab's shapes classifier's feature space (assets/shapes-classifier, its 128-d
penultimate layer; the Inception Score from its shape head, 8 shapes), against the 2,000 held-out
images of the shapes test stream (seed 0, 32 x 32; no shapes model saw them). Not comparable with
the MNIST numbers (another classifier, another space) nor with published Inception FIDs. The same
numbers as `python -m engines metrics --model assets/<model> --n 2000 --seed 0`, which reads the
data set from the model's card. Result: benchmarks/results/metrics_shapes-cpu-<date>.json.
"""

from __future__ import annotations

import argparse
import datetime as _dt
import time

from benchmarks.common import ROOT, emit

# (row label, asset, sampler options): what the Metrics tab samples by default (DDIM-10 for the DDPM)
MODELS = (
    ("shapes-vae-z16", "shapes-vae-z16", {}),
    ("shapes-ddpm DDIM-10", "shapes-ddpm", {"sampler": "ddim", "steps": 10}),
    ("shapes-vqvae prior", "shapes-vqvae", {}),
)


def row(label: str, asset: str, options: dict, n: int, seed: int) -> dict:
    from engines.metrics import evaluate

    r = evaluate.evaluate_model(ROOT / "assets" / asset, n, seed, options=dict(options), rounds=10)
    b = r["bootstrap"]
    return {"label": label, "model": asset, "family": r["sampling"]["family"], "sampler_options": options, "n": n,
            "fid": r["fid"], "fid_std": b["fid_std"], "kid": r["kid"], "precision": r["precision"],
            "precision_std": b["precision_std"], "recall": r["recall"], "recall_std": b["recall_std"],
            "is": r["is"]["mean"], "ms_per_image": r["sampling"]["ms_per_image"], "eval_s": r["eval_s"]}


def run(n: int, quick: bool, seed: int = 0) -> dict:
    from engines import runtime
    from engines.metrics import evaluate

    started = time.perf_counter()
    rows = []
    for label, asset, options in MODELS:
        rows.append(row(label, asset, options, n, seed))
        print({k: rows[-1][k] for k in ("label", "fid", "precision", "recall")}, flush=True)
    floor = evaluate.real_floor(evaluate.heldout(None, "shapes"), seed=seed, dataset="shapes")
    return {
        "benchmark": "metrics_shapes", "date": _dt.date.today().isoformat(),
        "hardware": runtime.hardware_summary(),
        "note": "busy CPU: other jobs running (four or five engineers share the 2 cores)",
        "command": f"python -m benchmarks.metrics_shapes{' --quick' if quick else ''}",
        "features": floor["features"], "is_note": evaluate.IS_NOTES["shapes-classifier"],
        "real": evaluate.REAL["shapes"], "n": n, "seed": seed, "rows": rows,
        "floor": {"what": "real vs real: the held-out shapes' even half against their odd half (1,000 each)",
                  "fid": floor["fid"], "kid": floor["kid"], "precision": floor["precision"],
                  "recall": floor["recall"], "is": floor["is"]["mean"]},
        "seconds": round(time.perf_counter() - started, 1),
    }


def main(argv=None) -> None:
    p = argparse.ArgumentParser(prog="python -m benchmarks.metrics_shapes", description=__doc__.split("\n")[0])
    p.add_argument("--quick", action="store_true", help="200 samples a model (development)")
    p.add_argument("--n", type=int, default=None, help="samples a model (default 2,000; quick 200)")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--out", default=None, help="also write the JSON here")
    args = p.parse_args(argv)
    import torch

    torch.set_num_threads(args.threads)
    result = run(args.n or (200 if args.quick else 2000), args.quick)
    emit(result, args.out)


if __name__ == "__main__":
    main()
