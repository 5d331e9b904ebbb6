"""PixelCNN networks: the gated PixelCNN (van den Oord et al. 2016, "Conditional Image Generation
with PixelCNN Decoders") and the plain masked-convolution stack it replaced (PixelRNN paper, 2016).

Both model p(x) = prod_i p(x_i | x_<i) in raster order, each pixel a softmax over `levels` values.

Gated: a vertical stack whose features at row i see only rows < i (its input is shifted down one
row, then every convolution reaches only upward), and a horizontal stack whose features at (i, j)
see row i left of j (input shifted right one column, convolutions reach only leftward) plus the
vertical stack's features at (i, j). Together they cover every earlier pixel within reach: no
blind spot. Each layer is y = tanh(W_f * x + V_f h) * sigmoid(W_g * x + V_g h) (eq. 4), h a class
embedding.

Masked: a k0 x k0 convolution with mask A (rows above, and the current row left of the centre),
then k x k convolutions with mask B (the centre too). Stacking them leaves a blind spot: pixels
up and to the right that no chain of masked kernels reaches.

Colour (channels = 3) follows R, then G, then B within a pixel: the network's features at a pixel
see only earlier pixels, and channel c's output head adds a 1x1 projection of the pixel's own
channels < c (R for G; R and G for B), so p(x_ij) = p(R) p(G | R) p(B | R, G).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


def encode(x: torch.Tensor, levels: int) -> torch.Tensor:
    """Integer pixel values in [0, levels) -> floats in [-1, 1], the network's input."""
    return x.float() * (2.0 / (levels - 1)) - 1.0


def gate(a: torch.Tensor) -> torch.Tensor:
    """tanh(first half) * sigmoid(second half) along channels (eq. 4 of the gated PixelCNN paper)."""
    f, g = a.chunk(2, dim=1)
    return torch.tanh(f) * torch.sigmoid(g)


class GatedLayer(nn.Module):
    """One gated layer: a vertical (kh x k, upward) and a horizontal (1 x kw, leftward) convolution,
    the vertical pre-activation fed to the horizontal stack by a 1x1, a residual on the horizontal
    stack (not on the first layer, whose input is the image)."""

    def __init__(self, c_in: int, width: int, kernel: int, num_classes: int | None, first: bool):
        super().__init__()
        self.kh = kernel // 2 + 1   # rows the vertical kernel spans: the current (shifted) row and above
        self.kw = kernel // 2 + 1   # columns the horizontal kernel spans: the current (shifted) one and left
        self.pad = kernel // 2      # columns the vertical kernel reaches either side
        self.first = first
        self.v = nn.Conv2d(c_in, 2 * width, (self.kh, kernel))
        self.h = nn.Conv2d(c_in, 2 * width, (1, self.kw))
        self.v2h = nn.Conv2d(2 * width, 2 * width, 1)
        self.h_out = nn.Conv2d(width, width, 1)
        self.embed = nn.Embedding(num_classes, 4 * width) if num_classes else None

    def class_bias(self, y: torch.Tensor | None, like: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(vertical, horizontal) biases, (B, 2w, 1, 1) each, from the labels (zeros without)."""
        if self.embed is None or y is None:
            return like.new_zeros(()), like.new_zeros(())
        bv, bh = self.embed(y)[:, :, None, None].chunk(2, dim=1)
        return bv, bh

    def forward(self, v_in, h_in, bias):
        # v_in, h_in: (B, c_in, H, W); v_in row i sees image rows < i, h_in (i, j) row i left of j.
        bv, bh = bias
        v_pre = self.v(F.pad(v_in, (self.pad, self.pad, self.kh - 1, 0)))     # (B, 2w, H, W)
        h_pre = self.h(F.pad(h_in, (self.kw - 1, 0, 0, 0))) + self.v2h(v_pre) + bh
        h = self.h_out(gate(h_pre))
        return gate(v_pre + bv), h if self.first else h_in + h


class MaskedConv(nn.Conv2d):
    """A k x k convolution whose kernel sees the rows above and the current row left of the centre,
    plus the centre itself for mask B (type "B") but not for mask A (the first layer)."""

    def __init__(self, c_in: int, c_out: int, kernel: int, mask_type: str):
        super().__init__(c_in, c_out, kernel, padding=kernel // 2)
        mask = torch.zeros(kernel, kernel)
        mask[: kernel // 2] = 1
        mask[kernel // 2, : kernel // 2 + (mask_type == "B")] = 1
        self.register_buffer("mask", mask[None, None], persistent=False)

    def forward(self, x):
        return F.conv2d(x, self.weight * self.mask, self.bias, padding=self.padding)


class OutputHead(nn.Module):
    """Features (B, w, H, W) -> logits (B, levels, C, H, W); channel c also reads the pixel's own
    channels < c (the colour order R, G, B)."""

    def __init__(self, width: int, head: int, channels: int, levels: int):
        super().__init__()
        self.hidden = nn.Conv2d(width, head, 1)
        self.cond = nn.ModuleList([nn.Conv2d(c, head, 1, bias=False) for c in range(1, channels)])
        self.out = nn.ModuleList([nn.Conv2d(head, levels, 1) for _ in range(channels)])

    def forward(self, h: torch.Tensor, x_in: torch.Tensor) -> torch.Tensor:
        hidden = self.hidden(F.relu(h))
        return torch.stack([self.channel(hidden, x_in, c) for c in range(len(self.out))], dim=2)

    def channel(self, hidden: torch.Tensor, x_in: torch.Tensor, c: int) -> torch.Tensor:
        """Logits (B, levels, H, W) of channel c, given the hidden features and the encoded image."""
        z = hidden if c == 0 else hidden + self.cond[c - 1](x_in[:, :c])
        return self.out[c](F.relu(z))


class PixelCNN(nn.Module):
    """x: integer pixels (B, C, H, W) in [0, levels), y: labels (B,) or None -> logits (B, levels, C, H, W)."""

    def __init__(self, config):
        super().__init__()
        c = self.config = config
        self.gated = c.arch == "gated"
        kernels = [c.first_kernel] + [c.kernel] * (c.layers - 1)
        if self.gated:
            self.layers = nn.ModuleList([
                GatedLayer(c.channels if i == 0 else c.width, c.width, k, c.num_classes, first=i == 0)
                for i, k in enumerate(kernels)])
        else:
            self.layers = nn.ModuleList([
                MaskedConv(c.channels if i == 0 else c.width, c.width, k, "A" if i == 0 else "B")
                for i, k in enumerate(kernels)])
            self.embed = nn.Embedding(c.num_classes, c.width * c.layers) if c.num_classes else None
        self.head = OutputHead(c.width, c.head, c.channels, c.levels)

    def features(self, x_in: torch.Tensor, y: torch.Tensor | None) -> torch.Tensor:
        """The last layer's features (B, w, H, W) at every pixel, from the encoded image x_in."""
        if self.gated:
            v = F.pad(x_in, (0, 0, 1, 0))[:, :, :-1]   # shifted down: row i holds row i - 1
            h = F.pad(x_in, (1, 0, 0, 0))[:, :, :, :-1]  # shifted right: column j holds column j - 1
            for layer in self.layers:
                v, h = layer(v, h, layer.class_bias(y, x_in))
            return h
        bias = None
        if self.embed is not None and y is not None:
            bias = self.embed(y)[:, :, None, None].chunk(len(self.layers), dim=1)
        h = x_in
        for i, layer in enumerate(self.layers):
            out = layer(h if i == 0 else F.relu(h))
            if bias is not None:
                out = out + bias[i]
            h = out if i == 0 else h + out
        return h

    def forward(self, x: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        x_in = encode(x, self.config.levels)
        return self.head(self.features(x_in, y), x_in)

    def reach(self) -> tuple[int, int]:
        """(rows, columns): how far up the vertical stack and how far left the horizontal stack see."""
        rows = sum(layer.kh - 1 for layer in self.layers) + 1 if self.gated else 0
        cols = sum(layer.kw - 1 for layer in self.layers) + 1 if self.gated else 0
        return rows, cols


def nll(model: PixelCNN, x: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
    """-log p(x) in nats per image (B,): the sum of each pixel's (and channel's) cross-entropy."""
    logits = model(x, y)
    return F.cross_entropy(logits, x.long(), reduction="none").flatten(1).sum(1)
