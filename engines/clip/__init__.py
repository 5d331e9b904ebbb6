"""The CLIP family ("clip"): a CLIP trained in GenLab, a pretrained open_clip, and CLIP guidance.

  tokenizer  UTF-8 bytes (256 symbols + start / end / padding): any language, tiny vocabulary
  model      `Config`, `build` (open_clip's `CLIP` class from a tiny config), `contrastive_loss`
             (symmetric InfoNCE with a learned temperature)
  train      captioned MNIST digits and shapes (English and Chinese), the trainer's loss,
             zero-shot accuracy
  backends   `Backend` (`encode_images`, `encode_texts`, `similarity`), `load_backend(spec)`:
             "genlab", a checkpoint folder, or "pretrained[:ARCH:TAG]" (open_clip, lazy, cached)
  guide      `GuideSetting`, `check_setting`, `guide` (yields `GuideFrame`s): steer pixels, a VAE's
             z, a StyleGAN's w or a DDPM's sampling toward a prompt

Nothing heavy happens at import: open_clip is imported when a model is built.
"""

from __future__ import annotations

from .backends import BACKEND_CHOICES, DEFAULT_PRETRAINED, Backend, load_backend
from .guide import (
           DEFAULT_CANDIDATES,
           GENERATOR_KINDS,
           GuideFrame,
           GuideSetting,
           check_setting,
           generator_choices,
           guide,
           run_to_end,
)
from .model import Config, build, contrastive_loss

FAMILY = "clip"

__all__ = ["BACKEND_CHOICES", "DEFAULT_CANDIDATES", "DEFAULT_PRETRAINED", "FAMILY", "GENERATOR_KINDS", "Backend", "Config", "GuideFrame",
           "GuideSetting", "build", "check_setting", "contrastive_loss", "generator_choices", "guide", "load_backend",
           "run_to_end"]
