"""What the UI and the command line use: numpy in, numpy out, seeded, serialised."""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import torch

from .. import runtime
from ..errors import UserError
from ..families import CheckpointEngine
from ..pictures import to_uint8
from . import sampling
from .model import FAMILY, Config, VQVAE, class_tokens, perplexity

MAX_SAMPLES = 64     # images one request may sample


@dataclass
class Frame:
    """One streamed step of the prior: the grid so far and what it decodes to."""

    position: int                        # raster index just sampled (-1: before the first)
    tokens: np.ndarray                   # (N, h, w) int; -1 where not sampled yet
    images: np.ndarray                   # uint8 (N, H, W, C): the grid decoded, blanks as the blank code
    candidates: list[tuple[int, float]]  # image 0's most likely codes for this position (code, probability)
    chosen: int                          # the code image 0 got (-1 before the first)
    seconds: float                       # since the request began
    done: bool = False


class Engine(CheckpointEngine):
    FAMILY = FAMILY
    config: Config
    model: VQVAE

    # --- what the model is ------------------------------------------------------------------
    @property
    def side(self) -> int:
        return self.config.side

    @property
    def codebook_size(self) -> int:
        return self.config.codebook_size

    @property
    def num_classes(self) -> int:
        return self.config.num_classes or 0

    def blank_code(self) -> int:
        """The code drawn where a grid has no token yet: the most used one (MNIST: black background)."""
        usage = self.aux.get("usage")
        return int(usage.argmax()) if usage is not None else 0

    # --- checks -----------------------------------------------------------------------------
    def _images(self, images: np.ndarray) -> torch.Tensor:
        """uint8 (N, H, W, C), (H, W, C) or grey (H, W) -> float (N, C, H, W) on the device."""
        arr = np.asarray(images)
        if arr.ndim == 2:
            arr = arr[:, :, None]
        if arr.ndim == 3:
            arr = arr[None]
        c = self.config
        if arr.ndim != 4 or arr.shape[1:] != (c.image_size, c.image_size, c.channels):
            raise UserError("vq_image", channels=c.channels, size=c.image_size, shape=list(arr.shape))
        return torch.from_numpy(np.ascontiguousarray(arr)).to(self.device).permute(0, 3, 1, 2).float().div(255)

    def _tokens(self, tokens) -> torch.Tensor:
        """A token grid (h, w) or (N, h, w) of codes 0..K-1 -> long (N, h, w) on the device."""
        arr = np.asarray(tokens)
        if arr.ndim == 2:
            arr = arr[None]
        s = self.side
        if arr.ndim != 3 or arr.shape[1:] != (s, s):
            raise UserError("vq_grid", side=s, shape=list(arr.shape))
        if not np.issubdtype(arr.dtype, np.integer):
            if not np.isfinite(arr.astype(np.float64)).all() or (arr != np.round(arr)).any():
                raise UserError("vq_token", value="non-integer", high=self.codebook_size - 1)
        bad = arr[(arr < 0) | (arr >= self.codebook_size)]
        if bad.size:
            raise UserError("vq_token", value=int(bad.flat[0]) if np.isfinite(bad.flat[0]) else "NaN",
                            high=self.codebook_size - 1)
        return torch.from_numpy(arr.astype(np.int64)).to(self.device)

    def _label(self, label) -> int | None:
        """None / -1: no class; else a class index of the model's."""
        if label is None:
            return None
        try:
            value = int(label)
        except (TypeError, ValueError, OverflowError):
            value = None
        if value == -1:
            return None
        if value is None or value != label or not 0 <= value < self.num_classes:
            raise UserError("vq_label", value=label, high=max(0, self.num_classes - 1))
        return value

    def _count(self, n) -> int:
        if not isinstance(n, (int, np.integer)) or not 1 <= n <= MAX_SAMPLES:
            raise UserError("value_out_of_range", what="n", low=1, high=MAX_SAMPLES, value=n)
        return int(n)

    def _begin(self, n: int, label: int | None) -> torch.Tensor:
        labels = None if label is None else torch.full((n,), label, dtype=torch.long)
        return class_tokens(self.config, labels, n, self.device)

    # --- the autoencoder ----------------------------------------------------------------------
    def encode(self, images: np.ndarray) -> np.ndarray:
        """uint8 images -> token grids (N, h, w) int64."""
        x = self._images(images)
        with runtime.compute():
            return self.model.codes(x).cpu().numpy()

    def decode(self, tokens) -> np.ndarray:
        """Token grids (N, h, w) or (h, w) -> uint8 (N, H, W, C)."""
        t = self._tokens(tokens)
        with runtime.compute():
            return to_uint8(self.model.decode_tokens(t))

    def reconstruct(self, image: np.ndarray) -> dict:
        """One image -> its tokens (h, w), the decoded reconstruction, its MSE on [0, 1] pixels."""
        x = self._images(image)[:1]
        with runtime.compute():
            tokens = self.model.codes(x)
            recon = self.model.decode_tokens(tokens)
            mse = float((recon - x).pow(2).mean())
        return {"tokens": tokens[0].cpu().numpy(), "recon": to_uint8(recon)[0], "mse": mse}

    def swap(self, tokens, row: int, col: int, code: int) -> tuple[np.ndarray, np.ndarray]:
        """The grid with token (row, col) set to `code` -> (new grid (h, w), its decoded image)."""
        grid = self._tokens(tokens)[0].cpu().numpy().copy()
        s = self.side
        if not (isinstance(row, (int, np.integer)) and isinstance(col, (int, np.integer))
                and 0 <= row < s and 0 <= col < s):
            raise UserError("vq_cell", row=row, col=col, side=s)
        if not isinstance(code, (int, np.integer)) or not 0 <= code < self.codebook_size:
            raise UserError("vq_token", value=code, high=self.codebook_size - 1)
        grid[row, col] = int(code)
        return grid, self.decode(grid)[0]

    def codebook_images(self, margin: int = 1) -> np.ndarray:
        """Every code decoded alone: a grid holding only that code, its middle 1 + 2 * margin tokens
        a side cropped (the edges see the decoder's zero padding) -> uint8 (K, P, P, C)."""
        c, s, k = self.config, self.side, self.codebook_size
        grids = torch.arange(k, device=self.device)[:, None, None].expand(k, s, s)
        with runtime.compute():
            images = self.model.decode_tokens(grids)
        px, mid = c.image_size // s, s // 2
        lo, hi = max(0, (mid - margin) * px), min(c.image_size, (mid + 1 + margin) * px)
        return to_uint8(images[:, :, lo:hi, lo:hi])

    def usage(self) -> dict:
        """Code usage over the held-out images the checkpoint carries: counts (K,), perplexity, dead codes."""
        counts = self.aux.get("usage")
        if counts is None:
            counts = torch.zeros(self.codebook_size)
        counts = counts.float()
        dead = (counts == 0).nonzero().flatten().tolist()
        return {"counts": counts.numpy(), "perplexity": perplexity(counts) if counts.sum() > 0 else 0.0,
                "dead": dead, "images": int(self.card.get("usage_images") or 0)}

    def examples(self) -> tuple[np.ndarray, np.ndarray | None]:
        """Held-out example images (uint8 (N, H, W, C)) and their labels, shipped with the model."""
        ex = self.aux.get("examples")
        c = self.config
        if ex is None:
            return np.zeros((0, c.image_size, c.image_size, c.channels), np.uint8), None
        labels = self.aux.get("example_labels")
        return ex.permute(0, 2, 3, 1).numpy(), (labels.numpy() if labels is not None else None)

    # --- the prior ------------------------------------------------------------------------------
    def sample_tokens(self, n: int, seed: int, *, label=None, temperature: float = 1.0, top_k: int = 0,
                      top_p: float = 1.0, cache: bool = True) -> np.ndarray:
        """n token grids from the prior (N, h, w), reproducible by seed."""
        n = self._count(n)
        settings = sampling.Settings(temperature, top_k, top_p).checked(self.codebook_size)
        label = self._label(label)
        gen = runtime.generator(seed, self.device)
        with runtime.compute():
            tokens = sampling.sample(self.model.prior, self.codebook_size, self._begin(n, label),
                                     self.config.tokens, settings, gen, cache=cache)
        return tokens.view(n, self.side, self.side).cpu().numpy()

    def sample(self, n: int, seed: int, *, label=None, temperature: float = 1.0, top_k: int = 0,
               top_p: float = 1.0, cache: bool = True) -> tuple[np.ndarray, np.ndarray | None]:
        """n images from the prior, decoded -> (uint8 (N, H, W, C), labels or None)."""
        tokens = self.sample_tokens(n, seed, label=label, temperature=temperature, top_k=top_k, top_p=top_p,
                                    cache=cache)
        label = self._label(label)
        labels = None if label is None else np.full(len(tokens), label, np.int64)
        return self.decode(tokens), labels

    def stream(self, n: int, seed: int, *, label=None, temperature: float = 1.0, top_k: int = 0,
               top_p: float = 1.0, tokens=None, mask=None, top: int = 8, every: float = 0.0) -> Iterator[Frame]:
        """The prior's sampling step by step: a Frame after every sampled token (the first before
        any), or with `every` > 0 at most one a that many seconds (the tokens between are sampled
        but not decoded; the blank grid's, the first token's and the last frame always come).
        With `tokens` (h, w) and `mask` (h, w) bool: resample the masked tokens of that grid (n
        copies of it), keeping the others. Each next() is one unit of work."""
        n = self._count(n)
        settings = sampling.Settings(temperature, top_k, top_p).checked(self.codebook_size)
        label = self._label(label)
        keep, resample = self._region(tokens, mask, n)
        gen = runtime.generator(seed, self.device)
        start = time.perf_counter()
        length = self.config.tokens
        first = torch.full((n, length), -1, dtype=torch.long)
        if keep is not None:
            first = torch.where(resample[None], -1, keep.cpu())
        first = first.numpy()
        yield self._frame(-1, first, [], -1, start)
        with runtime.compute():
            it = sampling.steps(self.model.prior, self.codebook_size, self._begin(n, label), length, settings, gen,
                                keep=keep, resample=resample, top=top)
        last, shown = first, 0.0  # the first token's frame always comes: the grid starts filling at once
        while True:
            with runtime.compute():
                step = next(it, None)
            if step is None:
                break
            last = step.tokens.cpu().numpy()
            if time.perf_counter() - shown >= every:
                yield self._frame(step.position, last, step.candidates, step.chosen, start)
                shown = time.perf_counter()
        frame = self._frame(-1, last, [], -1, start)
        frame.done = True
        yield frame

    def resample(self, tokens, mask, seed: int, *, n: int = 1, label=None, temperature: float = 1.0,
                 top_k: int = 0, top_p: float = 1.0) -> tuple[np.ndarray, np.ndarray]:
        """The masked tokens of `tokens` (h, w) sampled again, the others kept -> (grids (N, h, w), images)."""
        n = self._count(n)
        settings = sampling.Settings(temperature, top_k, top_p).checked(self.codebook_size)
        label = self._label(label)
        keep, resample = self._region(tokens, mask, n)
        if keep is None:
            raise UserError("vq_mask_empty")
        gen = runtime.generator(seed, self.device)
        with runtime.compute():
            out = sampling.sample(self.model.prior, self.codebook_size, self._begin(n, label), self.config.tokens,
                                  settings, gen, keep=keep, resample=resample)
        grids = out.view(n, self.side, self.side).cpu().numpy()
        return grids, self.decode(grids)

    def _region(self, tokens, mask, n: int):
        """(keep (N, L), resample (L,)) for a region, or (None, None) to sample the whole grid."""
        if tokens is None and mask is None:
            return None, None
        if tokens is None or mask is None:
            raise UserError("vq_mask_empty")
        grid = self._tokens(tokens)[:1]
        m = np.asarray(mask)
        s = self.side
        if m.shape != (s, s):
            raise UserError("vq_grid", side=s, shape=list(m.shape))
        m = torch.from_numpy(m.astype(bool)).flatten()
        if not m.any():
            raise UserError("vq_mask_empty")
        return grid.flatten(1).expand(n, -1).contiguous(), m

    def _frame(self, position, tokens: np.ndarray, candidates, chosen, start) -> Frame:
        grids = tokens.reshape(-1, self.side, self.side)
        shown = np.where(grids < 0, self.blank_code(), grids)
        with runtime.compute():
            images = to_uint8(self.model.decode_tokens(torch.from_numpy(shown).to(self.device)))
        return Frame(position, grids, images, candidates, chosen, time.perf_counter() - start)

    def speed(self, n: int = 16, seed: int = 0, repeats: int = 3) -> dict:
        """Seconds to sample n images (tokens and decoding) with and without the key-value cache:
        the best of `repeats` after one warm-up."""
        out = {}
        for cache in (True, False):
            self.sample(n, seed, cache=cache)
            times = []
            for _ in range(repeats):
                t = time.perf_counter()
                self.sample(n, seed, cache=cache)
                times.append(time.perf_counter() - t)
            out["cache" if cache else "no_cache"] = round(min(times), 4)
        return out
