"""The VQ-VAE family ("vqvae"): a VQ-VAE with an EMA codebook and a GPT-2 prior over its tokens.

model: Config, VQVAE (encoder, Codebook, decoder, prior), the losses; sampling: the prior's
token-by-token sampler (temperature, top-k, top-p, key-value cache, a region again); engine:
Engine (numpy in and out, what the tab and the command line use); family: the spec.
"""

from .engine import Engine, Frame
from .model import FAMILY, Codebook, Config, VQVAE, build, perplexity, straight_through, vq_losses

__all__ = ["FAMILY", "Codebook", "Config", "Engine", "Frame", "VQVAE", "build", "perplexity",
           "straight_through", "vq_losses"]
