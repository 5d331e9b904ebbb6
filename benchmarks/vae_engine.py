"""VAE engine speed and quality: decode latency, and negative ELBO of the shipped MNIST models.

    python -m benchmarks.vae_engine           # prints JSON

Targets (issue 2, on the 2-core CPU): decoding one image <= 5 ms p95; the shipped MNIST z=16
VAE's negative ELBO on the 2,000 held-out digits <= 100 nats.
"""

from __future__ import annotations

import numpy as np

from benchmarks.common import data_dir, emit, percentiles, timed
from engines import checkpoint, runtime, vae


def main() -> dict:
    result = {"benchmark": "vae_engine", "hardware": runtime.hardware_summary(), "models": {}}
    mnist = data_dir()
    test = None
    if mnist:
        from engines.data import load_dataset
        test = load_dataset("mnist", "test", data_dir=mnist)
    for name, path in checkpoint.list_assets("vae").items():
        engine = vae.Engine.load(path)
        z = engine.prior_sample(1, seed=0)
        rng = np.random.default_rng(0)
        zs = rng.standard_normal((200, engine.latent_dim)).astype(np.float32)
        i = iter(range(10**9))
        entry = {
            "decode_one": percentiles(timed(lambda: engine.decode(zs[next(i) % 200]), n=200)),
            "decode_64": percentiles(timed(lambda: engine.decode(np.repeat(z, 64, 0)), n=30)),
        }
        if test is not None and engine.card.get("dataset") == "mnist":
            metrics = vae.evaluate(engine.model, test.float().to(engine.device), seed=0)
            entry["heldout"] = {"images": len(test), "split": test.split_note,
                                **{k + "_nats": round(v, 2) for k, v in metrics.items()}}
        result["models"][name] = entry
    z16 = result["models"].get("mnist-vae-z16", {})
    result["targets"] = {
        "decode_one_p95_ms<=5": all(m["decode_one"]["p95_ms"] <= 5 for m in result["models"].values()),
        "mnist_z16_heldout_neg_elbo<=100": (z16["heldout"]["neg_elbo_nats"] <= 100) if "heldout" in z16 else None,
    }
    return result


if __name__ == "__main__":
    emit(main())
