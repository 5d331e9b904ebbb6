"""ImageSet, the one container every data set returns, and the checks the loaders share."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from ..errors import UserError


SPLITS = ("train", "test", "all")


def _check_split(name: str, split: str, allowed: tuple[str, ...]) -> None:
    if split not in allowed:
        raise UserError("split_unknown", name=name, split=split, available=", ".join(allowed))


def _check_count(what: str, value, low: int, high: int) -> int:
    if not isinstance(value, (int, np.integer)) or isinstance(value, bool) or not low <= value <= high:
        raise UserError("value_out_of_range", what=what, low=low, high=high, value=value)
    return int(value)


# ------------------------------------------------------------------------------------------------
# ImageSet
# ------------------------------------------------------------------------------------------------


@dataclass
class ImageSet:
    """A batch of images with whatever annotations the data set has.

    `images` stays uint8 so 10,000 RGB images cost 30 MB, not 120 MB; models get `float()`.
    """

    name: str
    images: torch.Tensor  # uint8 (N, C, H, W)
    labels: torch.Tensor | None = None  # long (N,): digit, or shape index for `shapes`
    attrs: list[dict] | None = None  # one dict of generating factors per image
    captions: dict[str, list[str]] | None = None  # {"en": [N strings], "zh": [N strings]}
    split_note: str = ""  # which images these are, in words, for model cards
    class_names: list[str] | None = None  # label i -> name

    def __post_init__(self):
        if self.images.dtype != torch.uint8 or self.images.ndim != 4:
            raise ValueError(f"ImageSet.images must be uint8 (N, C, H, W); got {self.images.dtype} {tuple(self.images.shape)}")
        n = len(self.images)
        if self.labels is not None and self.labels.shape != (n,):
            raise ValueError(f"ImageSet.labels must have shape ({n},); got {tuple(self.labels.shape)}")
        if self.attrs is not None and len(self.attrs) != n:
            raise ValueError(f"ImageSet.attrs has {len(self.attrs)} entries for {n} images")
        for lang, caps in (self.captions or {}).items():
            if len(caps) != n:
                raise ValueError(f"ImageSet.captions['{lang}'] has {len(caps)} entries for {n} images")

    def __len__(self) -> int:
        return len(self.images)

    def float(self) -> torch.Tensor:
        """float32 (N, C, H, W) in [0, 1]."""
        return self.images.float().div_(255.0)

    def _index(self, idx) -> torch.Tensor:
        # Any of int, slice, sequence, numpy/torch integer or boolean index -> long (K,),
        # with negative indices resolved and bounds checked by torch.
        if isinstance(idx, slice):
            return torch.arange(len(self))[idx]
        index = torch.as_tensor([int(idx)] if isinstance(idx, (int, np.integer)) else idx)
        if index.dtype != torch.bool:
            index = index.long()  # also makes an empty list a valid (empty) index
        return torch.arange(len(self))[index]

    def subset(self, idx) -> ImageSet:
        """The images at `idx` (int, slice, index list/array/tensor or boolean mask), with their annotations."""
        index = self._index(idx)
        pick = index.tolist()
        return ImageSet(
            name=self.name,
            images=self.images[index],
            labels=self.labels[index] if self.labels is not None else None,
            attrs=[self.attrs[i] for i in pick] if self.attrs is not None else None,
            captions={lang: [caps[i] for i in pick] for lang, caps in self.captions.items()} if self.captions else None,
            split_note=f"{self.split_note}; a subset of {len(pick)}",
            class_names=self.class_names,
        )

    def numpy_hwc(self, idx=None) -> np.ndarray:
        """uint8 (N, H, W, C) numpy, the engine's boundary format; all images or those at `idx`."""
        images = self.images if idx is None else self.images[self._index(idx)]
        return images.permute(0, 2, 3, 1).contiguous().numpy()



def resize_batch(images: torch.Tensor, size: int) -> torch.Tensor:
    """uint8 (N, C, H, W) -> uint8 (N, C, size, size), antialiased bilinear (images assumed square)."""
    x = torch.nn.functional.interpolate(images.float(), size=(size, size), mode="bilinear",
                                        antialias=True, align_corners=False)
    return x.round_().clamp_(0, 255).to(torch.uint8)


