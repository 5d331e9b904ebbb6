"""The noise-prediction network eps = model(x_t, t, y), a U-Net (Ronneberger et al. 2015).

The layout follows Ho et al. 2020 (appendix B): a sinusoidal embedding of the timestep and an
MLP, residual blocks (GroupNorm, SiLU, 3x3 conv) that add the embedding after their first
conv, stride-2 convs down and nearest-neighbour upsampling with skip connections, and
self-attention at the low resolutions. An optional class label is embedded and added to the
timestep embedding; label index `num_classes` is the learned "null" label, the unconditional
model of classifier-free guidance (Ho & Salimans 2022).

The network knows nothing of the noise schedule: t is just an integer it embeds.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn


def timestep_embedding(t: torch.Tensor, dim: int, *, max_period: float = 10000.0) -> torch.Tensor:
    """t (B,) -> (B, dim): sin and cos of t at geometric frequencies (Vaswani et al. 2017, sec. 3.5)."""
    half = dim // 2
    freqs = torch.exp(-math.log(max_period) * torch.arange(half, device=t.device, dtype=torch.float32) / half)
    args = t.float()[:, None] * freqs[None]  # (B, half)
    emb = torch.cat([torch.sin(args), torch.cos(args)], dim=1)
    return F.pad(emb, (0, dim % 2))


def _zero(module: nn.Module) -> nn.Module:
    # Last layers of residual branches start at zero, so each block starts as the identity and the
    # untrained network predicts eps = 0 (as in the DDPM reference code).
    for p in module.parameters():
        nn.init.zeros_(p)
    return module


class ResBlock(nn.Module):
    """x (B, in_ch, H, W), emb (B, E) -> (B, out_ch, H, W)."""

    def __init__(self, in_ch: int, out_ch: int, *, emb_dim: int, groups: int, dropout: float):
        super().__init__()
        self.norm1 = nn.GroupNorm(groups, in_ch)
        self.conv1 = nn.Conv2d(in_ch, out_ch, 3, padding=1)
        self.emb = nn.Linear(emb_dim, out_ch)
        self.norm2 = nn.GroupNorm(groups, out_ch)
        self.dropout = nn.Dropout(dropout)
        self.conv2 = _zero(nn.Conv2d(out_ch, out_ch, 3, padding=1))
        self.skip = nn.Conv2d(in_ch, out_ch, 1) if in_ch != out_ch else nn.Identity()

    def forward(self, x: torch.Tensor, emb: torch.Tensor) -> torch.Tensor:
        h = self.conv1(F.silu(self.norm1(x)))
        h = h + self.emb(F.silu(emb))[:, :, None, None]  # the timestep (and label) enter here
        h = self.conv2(self.dropout(F.silu(self.norm2(h))))
        return self.skip(x) + h


class SelfAttention(nn.Module):
    """Multi-head self-attention over the H*W positions, residual: (B, C, H, W) -> same."""

    def __init__(self, ch: int, *, heads: int, groups: int):
        super().__init__()
        self.heads = heads
        self.norm = nn.GroupNorm(groups, ch)
        self.qkv = nn.Conv2d(ch, 3 * ch, 1)
        self.proj = _zero(nn.Conv2d(ch, ch, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        B, C, H, W = x.shape
        qkv = self.qkv(self.norm(x)).reshape(B, 3, self.heads, C // self.heads, H * W)
        q, k, v = qkv.transpose(-1, -2).unbind(1)  # each (B, nh, HW, hs)
        h = F.scaled_dot_product_attention(q, k, v)  # softmax(q k^T / sqrt(hs)) v, (B, nh, HW, hs)
        h = h.transpose(-1, -2).reshape(B, C, H, W)
        return x + self.proj(h)


class Block(nn.Module):
    """A residual block, then self-attention if this resolution has it."""

    def __init__(self, in_ch: int, out_ch: int, *, attention: bool, emb_dim: int, groups: int,
                 heads: int, dropout: float):
        super().__init__()
        self.res = ResBlock(in_ch, out_ch, emb_dim=emb_dim, groups=groups, dropout=dropout)
        self.attn = SelfAttention(out_ch, heads=heads, groups=groups) if attention else None

    def forward(self, x: torch.Tensor, emb: torch.Tensor) -> torch.Tensor:
        h = self.res(x, emb)
        return self.attn(h) if self.attn is not None else h


class Level(nn.Module):
    """The blocks at one resolution, then a change of resolution (None at the end of the path)."""

    def __init__(self, blocks: list[Block], resample: nn.Module | None):
        super().__init__()
        self.blocks = nn.ModuleList(blocks)
        self.resample = resample


class Upsample(nn.Module):
    """(B, C, H, W) -> (B, C, 2H, 2W): nearest neighbour, then a 3x3 conv."""

    def __init__(self, ch: int):
        super().__init__()
        self.conv = nn.Conv2d(ch, ch, 3, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv(F.interpolate(x, scale_factor=2, mode="nearest"))


def _down_path(side: int, skips: list[int], *, width, channel_mult, blocks_per_level, attention_resolutions, kw):
    """The encoder levels, high resolution first; appends each saved activation's channels to
    `skips` -> (levels, channels at the bottom, side at the bottom)."""
    levels, ch = nn.ModuleList(), width
    for i, mult in enumerate(channel_mult):
        blocks = []
        for _ in range(blocks_per_level):
            blocks.append(Block(ch, width * mult, attention=side in attention_resolutions, **kw))
            ch = width * mult
            skips.append(ch)
        last = i == len(channel_mult) - 1
        down = None if last else nn.Conv2d(ch, ch, 3, stride=2, padding=1)
        if not last:
            skips.append(ch)
            side //= 2
        levels.append(Level(blocks, down))
    return levels, ch, side


def _up_path(ch: int, side: int, skips: list[int], *, width, channel_mult, blocks_per_level, attention_resolutions,
             kw):
    """The decoder levels, low resolution first; each block takes one skip from `skips`
    -> (levels, channels at the top, side at the top)."""
    levels = nn.ModuleList()
    for i, mult in reversed(list(enumerate(channel_mult))):
        blocks = []
        for _ in range(blocks_per_level + 1):  # one more: it takes the skip saved before the level
            blocks.append(Block(ch + skips.pop(), width * mult, attention=side in attention_resolutions, **kw))
            ch = width * mult
        up = Upsample(ch) if i > 0 else None
        if i > 0:
            side *= 2
        levels.append(Level(blocks, up))
    return levels, ch, side


class UNet(nn.Module):
    """eps = model(x, t, y): x (B, C, H, W), t (B,) integer timesteps, y (B,) labels or None -> (B, C, H, W).

    y = None on a class-conditional model means the null label (the unconditional prediction).
    """

    def __init__(
        self,
        *,
        image_size: int,                           # input height = width, pixels
        channels: int,                             # image channels, 1 (grey) or 3 (RGB)
        width: int,                                # channels at the first level; the embedding has 4x
        channel_mult: tuple[int, ...],             # width multiplier per level, high resolution first
        blocks_per_level: int,                     # residual blocks per level on the way down (+1 up)
        attention_resolutions: tuple[int, ...],    # feature-map sides (pixels) with self-attention
        num_classes: int | None,                   # class labels 0..num_classes-1 (+ null), or None
        dropout: float,                            # dropout rate inside residual blocks
        norm_groups: int,                          # GroupNorm groups
        attention_heads: int,                      # heads of each self-attention layer
        patch_size: int = 1,                       # pixels per side folded into channels first (1: none)
    ):
        super().__init__()
        self.image_size = image_size
        self.channels = channels
        self.patch_size = patch_size
        self.num_classes = num_classes
        self.levels = len(channel_mult)
        emb_dim = 4 * width
        self.width = width
        self.time_mlp = nn.Sequential(nn.Linear(width, emb_dim), nn.SiLU(), nn.Linear(emb_dim, emb_dim))
        # Index num_classes is the null label, trained by label dropout (classifier-free guidance).
        self.label_emb = nn.Embedding(num_classes + 1, emb_dim) if num_classes is not None else None
        kw = dict(emb_dim=emb_dim, groups=norm_groups, heads=attention_heads, dropout=dropout)

        # patch_size p > 1 folds each p x p patch into channels (pixel unshuffle) so every level
        # works at 1/p the side: p = 2 costs about a quarter of the compute, which is what lets a
        # 2-core CPU sample at interactive speed. The output is unfolded the same way.
        folded = channels * patch_size**2
        self.conv_in = nn.Conv2d(folded, width, 3, padding=1)
        skips = [width]  # channels of every saved activation
        levels = dict(width=width, channel_mult=channel_mult, blocks_per_level=blocks_per_level,
                      attention_resolutions=attention_resolutions, kw=kw)
        self.down, ch, side = _down_path(image_size // patch_size, skips, **levels)

        # The bottleneck: residual block, self-attention, residual block (as in Ho et al.).
        self.mid = nn.ModuleList([Block(ch, ch, attention=True, **kw), Block(ch, ch, attention=False, **kw)])

        self.up, ch, side = _up_path(ch, side, skips, **levels)
        assert not skips and side == image_size // patch_size

        self.out = nn.Sequential(nn.GroupNorm(norm_groups, ch), nn.SiLU(), _zero(nn.Conv2d(ch, folded, 3, padding=1)))

    def forward(self, x: torch.Tensor, t: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        B, C, H, W = x.shape
        factor = 2 ** (self.levels - 1) * self.patch_size
        assert C == self.channels and H % factor == 0 and W % factor == 0, (x.shape, self.channels, factor)
        t = torch.as_tensor(t, device=x.device)
        if t.ndim == 0:
            t = t.expand(B)
        assert t.shape == (B,), t.shape
        emb = self.time_mlp(timestep_embedding(t, self.width))  # (B, 4 * width)
        if self.label_emb is not None:
            if y is None:
                y = torch.full((B,), self.num_classes, dtype=torch.long, device=x.device)
            assert y.shape == (B,), y.shape
            emb = emb + self.label_emb(y)
        elif y is not None:
            raise ValueError("this model has no class labels (num_classes is None); pass y=None")

        if self.patch_size > 1:
            x = F.pixel_unshuffle(x, self.patch_size)
        h = self.conv_in(x)
        hs = [h]
        for level in self.down:
            for block in level.blocks:
                h = block(h, emb)
                hs.append(h)
            if level.resample is not None:
                h = level.resample(h)
                hs.append(h)
        for block in self.mid:
            h = block(h, emb)
        for level in self.up:
            for block in level.blocks:
                h = block(torch.cat([h, hs.pop()], dim=1), emb)
            if level.resample is not None:
                h = level.resample(h)
        out = self.out(h)
        return F.pixel_shuffle(out, self.patch_size) if self.patch_size > 1 else out
