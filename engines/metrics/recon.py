"""Reconstruction quality of an autoencoder (a VAE, a VQ-VAE): PSNR and SSIM, torchmetrics' maths,
each image against its reconstruction, averaged over the images."""

from __future__ import annotations

import numpy as np
import torch

from .. import runtime
from .features import as_float

CHUNK = 250  # images per encode / decode call


def reconstruct(engine, images: np.ndarray) -> np.ndarray:
    """uint8 (N, H, W, C) -> their reconstructions, uint8: encode, then decode the code. A VAE's
    encoder gives (mean, log-variance): the mean is decoded (no sampling), so the result is fixed."""
    parts = []
    for i in range(0, len(images), CHUNK):
        code = engine.encode(images[i:i + CHUNK])
        parts.append(engine.decode(code[0] if isinstance(code, tuple) else code))
    return np.concatenate(parts)


def psnr_ssim(real, recon) -> dict:
    """Per-image PSNR (dB, pixels in [0, 1]) and SSIM (Gaussian window 11, sigma 1.5) of `recon`
    against `real`, both uint8 (N, H, W[, C]) -> their means and standard deviations over images."""
    with runtime.HEAVY_IMPORTS:  # never beside the warm-up thread's import of the same package
        from torchmetrics.functional.image import peak_signal_noise_ratio, structural_similarity_index_measure

    a, b = as_float(real), as_float(recon)
    assert a.shape == b.shape, (a.shape, b.shape)
    psnr = peak_signal_noise_ratio(b, a, data_range=1.0, reduction="none", dim=(1, 2, 3))
    ssim = structural_similarity_index_measure(b, a, data_range=1.0, reduction="none")
    return {"n": len(a), "psnr_db": round(float(psnr.mean()), 3), "psnr_std": round(float(psnr.std()), 3),
            "ssim": round(float(ssim.mean()), 4), "ssim_std": round(float(ssim.std()), 4)}


def reconstruction_scores(engine, images: np.ndarray) -> dict:
    """PSNR and SSIM of the engine's reconstructions of `images` (uint8 (N, H, W, C))."""
    with torch.inference_mode():
        return psnr_ssim(images, reconstruct(engine, images))
