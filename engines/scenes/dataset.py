"""Scenes as an `ImageSet` (images, structured descriptions, a caption per image in each language).

Not yet in `engines.data.DATASETS`: the latent diffusion family that trains on it will register it.
"""

from __future__ import annotations

import torch

from ..data.imageset import ImageSet
from . import captions, world

_SPLIT_OF = {"train": "train", "eval": "eval"}   # the caption sampler each stream's captions come from


def load_scenes(stream: str = "train", *, n: int = 10_000, seed: int = 0) -> ImageSet:
    """`n` scenes of a stream (`world.STREAMS`); image i depends only on (seed, stream, i), never on n.
    Captions of "eval" scenes come from the evaluation sampler (held-out phrasings), others from the
    training one."""
    if stream not in world.STREAMS:
        raise ValueError(f"stream must be one of {tuple(world.STREAMS)}")
    scenes = world.sample_scenes(n, seed=seed, stream=stream)
    split = _SPLIT_OF.get(stream, "train")
    caps = {lang: [c.text for c in captions.scene_captions(scenes, lang, seed=seed, split=split)] for lang in ("en", "zh")}
    images = torch.from_numpy(world.render(scenes)).permute(0, 3, 1, 2).contiguous()   # (N, 3, 64, 64) uint8
    return ImageSet(name="scenes", images=images, labels=None, attrs=scenes, captions=caps,
                    split_note=f"GenLab scenes, seed {seed}, {stream} stream, images 0-{n - 1}, 64x64",
                    class_names=None)
