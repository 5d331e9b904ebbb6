"""Sampling a gated PixelCNN pixel by pixel, fast: caches instead of a whole-image forward per pixel.

A whole-image forward for each of MNIST's 784 pixels costs 784 forwards per image. But the gated
network's parts depend on little: the vertical stack's features at row i depend only on rows < i,
and layer l's row i only on layer l - 1's rows i - kh + 1 .. i. So when a row starts, each layer
computes that one row from the few cached rows above it (`Cache.start_row`). The horizontal stack
at (i, j) depends on its own row left of j: each layer computes that one pixel from the kw cached
pixels to its left (`Cache.step`). Every pixel then costs a few 1-pixel convolutions per layer,
and the logits are those of the whole-image forward (tests/test_pixelcnn.py checks them at every
pixel to 1e-4).
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from ..errors import UserError
from .model import PixelCNN, encode, gate

MAX_TOP_K = 256


@dataclass(frozen=True)
class Knobs:
    """How to turn a pixel's logits into a draw."""

    temperature: float = 1.0   # logits / T: below 1 sharper, above 1 flatter
    top_k: int = 0             # keep the k likeliest values (0: all)
    top_p: float = 1.0         # keep the smallest set of values whose probability sums to >= p


def check_knobs(temperature=1.0, top_k=0, top_p=1.0) -> Knobs:
    """Knobs from a person's values, or UserError pixelcnn_temperature / pixelcnn_top_k / pixelcnn_top_p."""
    try:
        t = float(temperature)
    except (TypeError, ValueError):
        t = math.nan
    if not (math.isfinite(t) and 0.05 <= t <= 5.0):
        raise UserError("pixelcnn_temperature", value=temperature)
    try:
        k = float(top_k if top_k is not None else 0)
    except (TypeError, ValueError):
        k = math.nan
    if not (math.isfinite(k) and k == int(k) and 0 <= k <= MAX_TOP_K):
        raise UserError("pixelcnn_top_k", value=top_k, high=MAX_TOP_K)
    try:
        p = float(top_p if top_p is not None else 1.0)
    except (TypeError, ValueError):
        p = math.nan
    if not (math.isfinite(p) and 0 < p <= 1):
        raise UserError("pixelcnn_top_p", value=top_p)
    return Knobs(t, int(k), p)


def filtered_probs(logits: torch.Tensor, knobs: Knobs) -> torch.Tensor:
    """(B, levels) logits -> the probabilities a draw uses: tempered, then cut by top-k and top-p
    (Holtzman et al. 2020: the smallest set of likeliest values with mass >= p), renormalised."""
    logits = logits / knobs.temperature
    if 0 < knobs.top_k < logits.shape[-1]:
        kth = logits.topk(knobs.top_k, dim=-1).values[..., -1:]
        logits = logits.masked_fill(logits < kth, -math.inf)
    probs = logits.softmax(-1)
    if knobs.top_p < 1.0:
        sorted_p, order = probs.sort(-1, descending=True)
        before = sorted_p.cumsum(-1) - sorted_p   # mass of the values likelier than this one
        drop = torch.zeros_like(probs, dtype=torch.bool).scatter(-1, order, before >= knobs.top_p)
        probs = probs.masked_fill(drop, 0.0)
        probs = probs / probs.sum(-1, keepdim=True)
    return probs


def _matrix(conv: torch.nn.Conv2d) -> torch.Tensor:
    """A convolution's weight as a matrix (out, in * kh * kw): applied to one flattened window it
    is the convolution at one place (F.linear there is ~10x cheaper than conv2d on a 1-pixel input)."""
    return conv.weight.reshape(conv.weight.shape[0], -1)


def draw(probs: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
    """One value per row of probs (B, levels) by inverting the CDF at a uniform draw (on a busy CPU
    torch.multinomial took ~1 ms a call here, this ~0.05 ms)."""
    u = 1.0 - torch.rand(probs.shape[0], 1, generator=gen)  # in (0, 1]: a value of probability 0 is never drawn
    cdf = probs.cumsum(-1)
    return (cdf < u * cdf[:, -1:]).sum(-1).clamp_(max=probs.shape[-1] - 1)


class Cache:
    """The gated network's state while an image batch is filled in raster order.

    x: (B, C, H, W) long, the image so far (its later pixels are ignored); y: labels or None."""

    def __init__(self, model: PixelCNN, x: torch.Tensor, y: torch.Tensor | None):
        if not model.gated:
            raise ValueError("the cached sampler needs the gated PixelCNN")
        self.model, self.x, self.y = model, x, y
        B, C, H, W = x.shape
        self.W = W
        self.levels = model.config.levels
        dev = x.device
        width = model.config.width
        self.bias = [layer.class_bias(y, x.float()) for layer in model.layers]
        # Padded inputs of each layer: the vertical ones with kh - 1 zero rows on top and `pad`
        # columns each side, the horizontal ones (one row) with kw - 1 zero columns on the left.
        self.vbuf, self.hbuf, self.hv = [], [], []
        for i, layer in enumerate(model.layers):
            c_in = C if i == 0 else width
            self.vbuf.append(torch.zeros(B, c_in, H + layer.kh - 1, W + 2 * layer.pad, device=dev))
            self.hbuf.append(torch.zeros(B, c_in, W + layer.kw - 1, device=dev))
        self.mats = [(_matrix(layer.h), layer.h.bias, _matrix(layer.h_out), layer.h_out.bias)
                     for layer in model.layers]
        head = model.head
        self.head = (_matrix(head.hidden), head.hidden.bias, [_matrix(c) for c in head.cond],
                     [(_matrix(o), o.bias) for o in head.out])
        self.row = -1

    def start_row(self, i: int) -> None:
        """Compute every layer's vertical features of row i (rows < i of x must be final)."""
        layers = self.model.layers
        first = layers[0]
        if i > 0:  # the vertical input is the image shifted down a row
            self.vbuf[0][:, :, i + first.kh - 1, first.pad: first.pad + self.W] = encode(self.x[:, :, i - 1], self.levels)
        self.hv = []
        for l, layer in enumerate(layers):
            v_pre = layer.v(self.vbuf[l][:, :, i: i + layer.kh])                  # (B, 2w, 1, W)
            bv, bh = self.bias[l]
            self.hv.append((layer.v2h(v_pre) + bh)[:, :, 0])                     # (B, 2w, W)
            if l + 1 < len(layers):
                nxt = layers[l + 1]
                self.vbuf[l + 1][:, :, i + nxt.kh - 1, nxt.pad: nxt.pad + self.W] = gate(v_pre + bv)[:, :, 0]
        for buf in self.hbuf:
            buf.zero_()
        self.row = i

    def features(self, j: int) -> torch.Tensor:
        """The last layer's features (B, w) at (row, j); pixels left of j in the row must be final."""
        layers = self.model.layers
        first = layers[0]
        if j > 0:  # the horizontal input is the row shifted right a column
            self.hbuf[0][:, :, j + first.kw - 1] = encode(self.x[:, :, self.row, j - 1], self.levels)
        for l, layer in enumerate(layers):
            buf = self.hbuf[l]
            wh, bh, wo, bo = self.mats[l]
            h_pre = F.linear(buf[:, :, j: j + layer.kw].flatten(1), wh, bh) + self.hv[l][:, :, j]   # (B, 2w)
            h = F.linear(gate(h_pre), wo, bo)
            if not layer.first:
                h = h + buf[:, :, j + layer.kw - 1]
            if l + 1 < len(layers):
                self.hbuf[l + 1][:, :, j + layers[l + 1].kw - 1] = h
        return h

    def hidden(self, feats: torch.Tensor) -> torch.Tensor:
        """The output head's hidden features (B, head) from the last layer's (B, w)."""
        return F.linear(F.relu(feats), self.head[0], self.head[1])

    def channel_logits(self, hidden: torch.Tensor, j: int, c: int) -> torch.Tensor:
        """Logits (B, levels) of channel c at (row, j), given the head's hidden features there
        and the pixel's channels < c in x (the colour order, model.OutputHead)."""
        z = hidden
        if c > 0:
            z = z + F.linear(encode(self.x[:, :c, self.row, j], self.levels), self.head[2][c - 1])
        w, b = self.head[3][c]
        return F.linear(F.relu(z), w, b)


def cached_logits(model: PixelCNN, x: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
    """The logits (B, levels, C, H, W) computed pixel by pixel through the cache, x given (teacher
    forcing): equal to model(x, y) up to float rounding (what the test checks)."""
    B, C, H, W = x.shape
    cache = Cache(model, x, y)
    out = torch.empty(B, model.config.levels, C, H, W, device=x.device)
    for i in range(H):
        cache.start_row(i)
        for j in range(W):
            hidden = cache.hidden(cache.features(j))
            for c in range(C):
                out[:, :, c, i, j] = cache.channel_logits(hidden, j, c)
    return out


@dataclass
class Frame:
    """One step of a streamed sampling run: pixel (row, col) was just drawn in every image.

    images, confidence and known are the run's live buffers (later steps overwrite them): copy
    what you keep."""

    row: int
    col: int
    images: np.ndarray      # (N, H, W, C) uint8, pixels after (row, col) still 0
    probs: np.ndarray       # (N, C, levels) the distribution each channel of this pixel was drawn from
    confidence: np.ndarray  # (N, H, W) float: the largest probability of each drawn pixel's distribution
                            # (mean over channels); 1 where the pixel was given, 0 where not drawn yet
    done: bool              # the last pixel


def stream(model: PixelCNN, n: int, gen: torch.Generator, knobs: Knobs, *, labels: torch.Tensor | None = None,
           given: torch.Tensor | None = None, known: torch.Tensor | None = None) -> Iterator[Frame]:
    """Fill n images in raster order, yielding a Frame after every pixel drawn.

    given: (n, C, H, W) long values of the pixels that are fixed (a completion), known: (H, W)
    bool, which ones (the same for every image). Rows entirely known skip the horizontal stack."""
    cfg = model.config
    C, H, W, L = cfg.channels, cfg.image_size, cfg.image_size, cfg.levels
    device = next(model.parameters()).device
    x = torch.zeros(n, C, H, W, dtype=torch.long, device=device)
    conf = torch.zeros(n, H, W)
    if known is None:
        known = torch.zeros(H, W, dtype=torch.bool)
    else:
        x[:, :, known] = given.to(device)[:, :, known]
        conf[:, known] = 1.0
    known_list = known.tolist()
    scale = 255 // (L - 1)
    out = np.zeros((n, H, W, C), np.uint8)
    out_t = torch.from_numpy(out)
    out_t.copy_((x.permute(0, 2, 3, 1) * scale).to(torch.uint8).cpu())
    conf_np = conf.numpy()
    cache = Cache(model, x, labels)
    probs = torch.zeros(n, C, L)
    last = max(((i, j) for i in range(H) for j in range(W) if not known_list[i][j]), default=None)
    for i in range(H):
        cache.start_row(i)
        if all(known_list[i]):
            continue
        for j in range(W):
            feats = cache.features(j)
            if known_list[i][j]:
                continue
            hidden = cache.hidden(feats)
            for c in range(C):
                p = filtered_probs(cache.channel_logits(hidden, j, c), knobs).cpu()
                x[:, c, i, j] = draw(p, gen).to(device)
                probs[:, c] = p
            conf[:, i, j] = probs.max(-1).values.mean(-1)
            out_t[:, i, j] = (x[:, :, i, j] * scale).to(torch.uint8).cpu()
            yield Frame(i, j, out, probs.numpy(), conf_np, (i, j) == last)
