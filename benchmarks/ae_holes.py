"""The autoencoder's holes, measured: z ~ N(0, I) decoded by the plain autoencoder and by the VAE
(assets/mnist-ae-z2 and assets/mnist-vae-z2: same networks, same data, 2-D latents), judged by
the shipped MNIST classifier (assets/mnist-classifier).

    python -m benchmarks.ae_holes            # 2,000 draws (about a minute on the busy 2-core CPU)
    python -m benchmarks.ae_holes --quick    # 200 draws (development)

Per model: the classifier's mean top probability on the decoded draws, the fraction it is at
least 90% sure of, and how its verdicts spread over the ten classes; the same for the held-out
digits themselves (the ceiling). Also each model's held-out reconstructions (decoding the mean,
no sampling): PSNR / SSIM, and -log p(x|z) in nats, and where its codes lie (the fraction of
held-out codes within the prior's 2-sigma circle). The VAE tab's "Autoencoder vs VAE" part and
the Overview tab read the result file (benchmarks/results/ae_holes-cpu-<date>.json).
"""

from __future__ import annotations

import argparse
import datetime as _dt
import time
from pathlib import Path

import numpy as np

from benchmarks.common import ROOT, data_dir as default_data_dir, emit

MODELS = {"ae": "mnist-ae-z2", "vae": "mnist-vae-z2"}
SURE = 0.9  # a verdict at least this probable counts as "looks like one digit"


def judged(images: np.ndarray) -> dict:
    """The classifier's verdicts on uint8 digits (N, 28, 28, 1)."""
    from engines.metrics.features import classifier_features

    probs = classifier_features(images).logits.softmax(1)
    p, labels = (t.numpy() for t in probs.max(1))
    counts = np.bincount(labels, minlength=10)
    share = counts / counts.sum()
    entropy = float(-(share[share > 0] * np.log(share[share > 0])).sum())
    return {"mean_confidence": round(float(p.mean()), 4), "sure_fraction": round(float((p >= SURE).mean()), 4),
            "class_counts": counts.tolist(), "class_entropy_nats": round(entropy, 4) + 0.0}


def reconstruction(engine, digits: np.ndarray) -> dict:
    """Held-out reconstructions from the encoder's mean: PSNR / SSIM, and -log p(x|z=mu) in nats."""
    import torch

    from engines import vae
    from engines.metrics import recon

    scores = recon.reconstruction_scores(engine, digits)
    x = torch.from_numpy(digits).permute(0, 3, 1, 2).float().div(255)
    with torch.inference_mode():
        mu, _ = engine.model.encode(x)
        nll = vae.recon_nll(engine.model, engine.model.decode_logits(mu), x)
    mu = mu.numpy()
    return {**scores, "recon_nats_at_mean": round(float(nll.mean()), 3),
            "codes_within_2_sigma": round(float((np.linalg.norm(mu, axis=1) <= 2).mean()), 4),
            "codes_abs_max": round(float(np.abs(mu).max()), 3)}


def run(n: int, data: str | None, quick: bool, seed: int = 0, assets=None) -> dict:
    from engines import checkpoint, runtime
    from engines.metrics import evaluate
    from engines.vae import Engine

    started = time.perf_counter()
    digits = evaluate.heldout(data)  # uint8 (2000, 28, 28, 1)
    assets = ROOT / "assets" if assets is None else assets
    engines = {side: Engine(checkpoint.load(assets / name)) for side, name in MODELS.items()}
    z = engines["vae"].prior_sample(n, seed)  # the same draws for both
    out = {"benchmark": "ae_holes", "date": _dt.date.today().isoformat(), "hardware": runtime.hardware_summary(),
           "note": "busy CPU: other jobs running", "command": f"python -m benchmarks.ae_holes{' --quick' if quick else ''}",
           "models": MODELS, "n": n, "seed": seed, "sure": SURE,
           "judge": "assets/mnist-classifier, top softmax probability",
           "real": {"what": "MNIST held-out split (last 2,000 test digits)", **judged(digits)}}
    for side, engine in engines.items():
        out[side] = {"prior_samples": judged(engine.decode(z)), "reconstruction": reconstruction(engine, digits)}
        out[side]["sure_fraction"] = out[side]["prior_samples"]["sure_fraction"]
        print(side, out[side], flush=True)
    out["seconds"] = round(time.perf_counter() - started, 1)
    return out


def main(argv=None) -> None:
    p = argparse.ArgumentParser(prog="python -m benchmarks.ae_holes", description=__doc__.split("\n")[0])
    p.add_argument("--quick", action="store_true", help="200 draws (development)")
    p.add_argument("--n", type=int, default=None, help="draws of z (default 2,000; quick 200)")
    p.add_argument("--data-dir", default=None)
    p.add_argument("--assets-dir", type=Path, default=None, help="where the two models are (default: assets/)")
    p.add_argument("--out", default=None, help="also write the JSON here")
    args = p.parse_args(argv)
    n = args.n or (200 if args.quick else 2000)
    emit(run(n, args.data_dir or default_data_dir(), args.quick, assets=args.assets_dir), out=args.out)


if __name__ == "__main__":
    main()
