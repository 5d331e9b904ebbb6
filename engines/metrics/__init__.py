"""Sample-quality metrics: FID, KID, Inception Score and k-NN precision / recall, each in a named
feature space (the data set's own shipped classifier, MNIST's or shapes', or Inception-v3 online).

    from engines import metrics
    result = metrics.compare(real_images, fake_images, features="classifier")   # a plain dict (MNIST)
    shapes = metrics.compare(real, fake, dataset="shapes")                       # the shapes classifier
    curve = metrics.fid_curve(real_images, fake_images)                          # FID vs N, vs 1/N
    floor = metrics.real_floor(heldout_images)                                   # two real halves

`evaluate_model(path, n, seed)` samples a checkpoint through its family's spec and compares with
the held-out images of the data set its card names (MNIST or shapes), as `python -m engines
metrics` does.
"""

from __future__ import annotations

import importlib

_WHERE = {
    "compare": "evaluate", "compare_steps": "evaluate", "fid_curve_steps": "evaluate", "round_trip": "evaluate", "sample_steps": "evaluate", "evaluate_model": "evaluate", "fid_curve": "evaluate", "heldout": "evaluate",
    "heldout_features": "evaluate", "real_floor": "evaluate", "sample_model": "evaluate",
    "model_dataset": "evaluate", "DATASETS": "features",
    "FEATURES": "features", "Extracted": "features", "extract": "features",
    "bootstrap": "scores", "fid": "scores", "fid_vs_n": "scores", "fid_vs_n_steps": "scores", "inception_score": "scores", "kid": "scores",
    "knn_radii": "scores", "precision_recall": "scores",
    "psnr_ssim": "recon", "reconstruct": "recon", "reconstruction_scores": "recon",
}
__all__ = sorted(_WHERE)


def __getattr__(name: str):
    """Nothing heavy at import (the CLI's parser imports this package): torch loads on first use."""
    if name not in _WHERE:
        raise AttributeError(f"module 'engines.metrics' has no attribute '{name}'")
    return getattr(importlib.import_module(f".{_WHERE[name]}", __name__), name)
