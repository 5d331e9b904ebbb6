"""The generative trilemma, measured: quality (FID), diversity (recall) and speed (ms per image on
this machine) of every family's shipped MNIST models, and the autoencoders' reconstructions.

    python -m benchmarks.trilemma            # 2,000 samples a model (about 15 min on the busy 2-core CPU)
    python -m benchmarks.trilemma --quick    # 200 samples a model, DDIM-5 only (development)

Every score is in the shipped classifier's feature space (assets/mnist-classifier, 128 dims),
against the 2,000 held-out MNIST digits; not comparable with published Inception FIDs. Speed:
sampling only, batches of 64 after one warm-up batch, on the compute thread's settings (2 torch
threads). Reconstructions: PSNR and SSIM of encode -> decode (a VAE decodes its mean) on the same
held-out digits. Result: benchmarks/results/trilemma-cpu-<date>.json, which the Metrics tab shows.
"""

from __future__ import annotations

import argparse
import datetime as _dt
import time

from benchmarks.common import ROOT, data_dir as default_data_dir, emit

# (row label, asset, sampler options); the DDPM at several DDIM step counts.
MODELS = (
    ("mnist-vae-z2", "mnist-vae-z2", {}),
    ("mnist-vae-z16", "mnist-vae-z16", {}),
    ("mnist-stylegan", "mnist-stylegan", {}),
    ("mnist-ddpm DDIM-5", "mnist-ddpm", {"sampler": "ddim", "steps": 5}),
    ("mnist-ddpm DDIM-10", "mnist-ddpm", {"sampler": "ddim", "steps": 10}),
    ("mnist-ddpm DDIM-25", "mnist-ddpm", {"sampler": "ddim", "steps": 25}),
    ("mnist-pixelcnn", "mnist-pixelcnn", {}),
    ("mnist-vqvae prior", "mnist-vqvae", {}),
)
AUTOENCODERS = ("mnist-vae-z2", "mnist-vae-z16", "mnist-vqvae")
WARMUP = 8  # images sampled once before timing (first-call allocations, lazy set-up)


def row(label: str, asset: str, options: dict, n: int, real, seed: int) -> dict:
    from engines.metrics import evaluate

    evaluate.sample_model(ROOT / "assets" / asset, WARMUP, seed + 10**6, dict(options))
    images, sampled = evaluate.sample_model(ROOT / "assets" / asset, n, seed, dict(options))
    r = evaluate.compare(None, images, real_features=real, rounds=10, seed=seed)
    b = r["bootstrap"]
    return {"label": label, "model": asset, "family": sampled["family"], "sampler_options": options, "n": n,
            "ms_per_image": sampled["ms_per_image"], "fid": r["fid"], "fid_std": b["fid_std"], "kid": r["kid"],
            "precision": r["precision"], "precision_std": b["precision_std"], "recall": r["recall"],
            "recall_std": b["recall_std"], "is": r["is"]["mean"], "eval_s": r["eval_s"]}


def reconstructions(data: str | None) -> list[dict]:
    from engines import checkpoint, families
    from engines.metrics import evaluate, recon

    digits = evaluate.heldout(data)
    out = []
    for asset in AUTOENCODERS:
        ckpt = checkpoint.load(ROOT / "assets" / asset)
        engine = families.get(ckpt.family).load_module().Engine(ckpt)
        out.append({"model": asset, "family": ckpt.family, **recon.reconstruction_scores(engine, digits)})
        print(out[-1], flush=True)
    return out


def run(n: int, data: str | None, quick: bool, seed: int = 0) -> dict:
    from engines import runtime
    from engines.metrics import evaluate

    started = time.perf_counter()
    real = evaluate.heldout_features(data, "classifier")
    models = [m for m in MODELS if not quick or "DDIM-10" not in m[0] and "DDIM-25" not in m[0]]
    rows = []
    for label, asset, options in models:
        rows.append(row(label, asset, options, n, real, seed))
        print({k: rows[-1][k] for k in ("label", "ms_per_image", "fid", "recall")}, flush=True)
    floor = evaluate.real_floor(evaluate.heldout(data), seed=seed)
    return {
        "benchmark": "trilemma", "date": _dt.date.today().isoformat(),
        "hardware": runtime.hardware_summary(),
        "note": "busy CPU: other jobs running (four or five engineers share the 2 cores)",
        "command": f"python -m benchmarks.trilemma{' --quick' if quick else ''}",
        "features": real.space, "real": "MNIST held-out split (last 2,000 test digits)", "n": n, "seed": seed,
        "speed": "sampling only, ms per image in batches of 64 after a warm-up batch",
        "rows": rows, "reconstructions": reconstructions(data),
        "floor": {"what": "real vs real: the held-out digits' even half against their odd half (1,000 each)",
                  "fid": floor["fid"], "kid": floor["kid"], "precision": floor["precision"],
                  "recall": floor["recall"]},
        "seconds": round(time.perf_counter() - started, 1),
    }


def main(argv=None) -> None:
    p = argparse.ArgumentParser(prog="python -m benchmarks.trilemma", description=__doc__.split("\n")[0])
    p.add_argument("--quick", action="store_true", help="200 samples a model, DDIM-5 only (development)")
    p.add_argument("--n", type=int, default=None, help="samples a model (default 2,000; quick 200)")
    p.add_argument("--data-dir", default=None)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--out", default=None, help="also write the JSON here")
    args = p.parse_args(argv)
    import torch

    torch.set_num_threads(args.threads)
    n = args.n or (200 if args.quick else 2000)
    result = run(n, args.data_dir or default_data_dir(), args.quick)
    emit(result, args.out)


if __name__ == "__main__":
    main()
