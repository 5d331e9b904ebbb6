"""The networks: mapping z -> w, synthesis ws -> image, the residual discriminator, and `GAN`.

Follows StyleGAN2 (Karras et al. 2020, "Analyzing and Improving the Image Quality of StyleGAN"),
config E/F without the FIR filters and without path-length regularisation: the synthesis
convs upsample by nearest neighbour (folded into a transposed conv, see `fold_upsample`), the
RGB skips bilinearly, and the discriminator downsamples by 2x2 average pooling.

Every layer uses the equalised learning rate (Karras et al. 2018, sec. 4.1): weights are stored
as N(0, 1) / lr_mul and scaled by lr_mul / sqrt(fan_in) at run time, so one Adam learning rate
suits every layer, and the mapping network learns lr_mul = 0.01 times as fast.

Layer counting (StyleGAN2's `num_ws`): a model of side R has n = log2(R) - 1 resolutions
4, 8, ..., R and num_ws = 2n styled layers. Conv i (0 <= i < num_ws - 1) takes ws[:, i]; the
toRGB of resolution 2**(k+2) takes ws[:, 2k+1], the same w as the next resolution's first conv,
and the last toRGB takes ws[:, num_ws - 1]. See `layers()` for the table.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from typing import NamedTuple

import torch
import torch.nn.functional as F
from torch import nn

SQRT2 = math.sqrt(2.0)
NOISE_MODES = ("random", "const", "none")


def lrelu(x: torch.Tensor) -> torch.Tensor:
    """Leaky ReLU (slope 0.2) with gain sqrt(2), which keeps activations near unit variance."""
    return F.leaky_relu(x, 0.2) * SQRT2


def to_signed(x: torch.Tensor) -> torch.Tensor:
    """Images in [0, 1] -> the networks' domain [-1, 1]."""
    return x * 2 - 1


def to_unit(x: torch.Tensor) -> torch.Tensor:
    """[-1, 1] -> images in [0, 1], clamped (G's output may stray outside)."""
    return ((x + 1) / 2).clamp(0, 1)


def channels_at(resolution: int, *, base: int, cap: int) -> int:
    """Feature maps at a resolution: base / resolution, at most `cap` (StyleGAN2's rule)."""
    return min(base // resolution, cap)


# --- the layer table -----------------------------------------------------------------------------


class Layer(NamedTuple):
    index: int        # position in ws (B, num_ws, w_dim)
    resolution: int   # side of the feature map the layer's style acts on
    name: str         # e.g. "8x8 conv (up) + 4x4 toRGB": what this w feeds
    group: str        # "coarse" | "middle" | "fine"


def resolutions(image_size: int) -> list[int]:
    return [2**k for k in range(2, int(math.log2(image_size)) + 1)]


def group_of(resolution: int, image_size: int) -> str:
    """coarse = 4x4-8x8; middle = 16x16 up to half the image side; fine = the image side."""
    if resolution <= 8:
        return "coarse"
    return "fine" if resolution >= image_size else "middle"


def layers(image_size: int) -> list[Layer]:
    """One entry per w of the synthesis network. For image_size 32 (num_ws = 8):

    0 4x4 conv | 1 8x8 conv (up) + 4x4 toRGB | 2 8x8 conv | 3 16x16 conv (up) + 8x8 toRGB |
    4 16x16 conv | 5 32x32 conv (up) + 16x16 toRGB | 6 32x32 conv | 7 32x32 toRGB;
    64 (num_ws = 10) continues 7 64x64 conv (up) + 32x32 toRGB | 8 64x64 conv | 9 64x64 toRGB.
    """
    res = resolutions(image_size)
    out = [Layer(0, 4, "4x4 conv", "coarse")]
    for k, r in enumerate(res[1:], start=1):
        out.append(Layer(2 * k - 1, r, f"{r}x{r} conv (up) + {r // 2}x{r // 2} toRGB", group_of(r, image_size)))
        out.append(Layer(2 * k, r, f"{r}x{r} conv", group_of(r, image_size)))
    r = res[-1]
    out.append(Layer(2 * len(res) - 1, r, f"{r}x{r} toRGB", group_of(r, image_size)))
    return out


def layer_groups(image_size: int) -> dict[str, list[int]]:
    """{"coarse": [...], "middle": [...], "fine": [...]}: w indices of each group."""
    groups: dict[str, list[int]] = {"coarse": [], "middle": [], "fine": []}
    for layer in layers(image_size):
        groups[layer.group].append(layer.index)
    return groups


# --- equalised-learning-rate layers --------------------------------------------------------------


class EqualLinear(nn.Module):
    """y = x W^T * (lr_mul / sqrt(in)) + b * lr_mul, with W ~ N(0, 1) / lr_mul: (B, in) -> (B, out)."""

    def __init__(self, in_features: int, out_features: int, *, bias_init: float = 0.0,
                 lr_mul: float = 1.0, activation: bool = False):
        super().__init__()
        self.weight = nn.Parameter(torch.randn(out_features, in_features) / lr_mul)
        self.bias = nn.Parameter(torch.full((out_features,), float(bias_init) / lr_mul))
        self.weight_gain = lr_mul / math.sqrt(in_features)
        self.bias_gain = lr_mul
        self.activation = activation

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.linear(x, self.weight * self.weight_gain, self.bias * self.bias_gain)
        return lrelu(x) if self.activation else x


def fold_downsample(weight: torch.Tensor) -> torch.Tensor:
    """3x3 kernels (O, I, 3, 3) -> the 4x4 kernels of "this conv, then 2x2 average pooling" as
    one stride-2 conv: K = (1/4) sum over the four offsets (a, b) in {0, 1}^2 of W placed at
    (a, b). Computed at the output's resolution, it costs 16/36 of convolving first."""
    k = weight.new_zeros(*weight.shape[:2], 4, 4)
    for a in (0, 1):
        for b in (0, 1):
            k[:, :, a:a + 3, b:b + 3] += weight
    return k * 0.25


class EqualConv2d(nn.Module):
    """k x k conv with the equalised learning rate, optional 2x average-pool after it, optional
    leaky ReLU: (B, in, H, W) -> (B, out, H, W), or (B, out, H/2, W/2) with down=True (a 3x3
    conv and the pool are then one stride-2 4x4 conv, the same function; see fold_downsample)."""

    def __init__(self, in_ch: int, out_ch: int, kernel: int, *, bias: bool = True,
                 activation: bool = True, down: bool = False):
        super().__init__()
        self.weight = nn.Parameter(torch.randn(out_ch, in_ch, kernel, kernel))
        self.bias = nn.Parameter(torch.zeros(out_ch)) if bias else None
        self.weight_gain = 1 / math.sqrt(in_ch * kernel * kernel)
        self.activation, self.down = activation, down

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        k = self.weight.shape[-1]
        if self.down and k == 3:
            x = F.conv2d(x, fold_downsample(self.weight * self.weight_gain), self.bias, stride=2, padding=1)
        else:
            x = F.conv2d(x, self.weight * self.weight_gain, self.bias, padding=k // 2)
            if self.down:
                x = F.avg_pool2d(x, 2)
        return lrelu(x) if self.activation else x


# --- mapping network -----------------------------------------------------------------------------


def normalize_2nd_moment(z: torch.Tensor, eps: float = 1e-8) -> torch.Tensor:
    """Pixel norm: z / sqrt(mean(z^2)) per row, so |z| = sqrt(z_dim) whatever the draw."""
    return z * (z.square().mean(dim=1, keepdim=True) + eps).rsqrt()


class MappingNetwork(nn.Module):
    """z (B, z_dim) -> w (B, w_dim): pixel norm, then `depth` leaky-ReLU layers (lr x lr_mul)."""

    def __init__(
        self,
        *,
        z_dim: int,         # dimensions of the input latent z ~ N(0, I)
        w_dim: int,         # dimensions of the intermediate latent w
        depth: int,         # fully connected layers
        lr_mul: float,      # learning-rate multiplier of these layers (0.01 in the paper)
        w_avg_beta: float,  # decay of the running mean of w, kept for truncation
    ):
        super().__init__()
        self.z_dim, self.w_dim, self.w_avg_beta = z_dim, w_dim, w_avg_beta
        dims = [z_dim] + [w_dim] * depth
        self.layers = nn.Sequential(*[EqualLinear(a, b, lr_mul=lr_mul, activation=True)
                                      for a, b in itertools.pairwise(dims)])
        self.register_buffer("w_avg", torch.zeros(w_dim))  # saved with the weights

    def forward(self, z: torch.Tensor, *, update_w_avg: bool = False) -> torch.Tensor:
        assert z.ndim == 2 and z.shape[1] == self.z_dim, z.shape
        w = self.layers(normalize_2nd_moment(z))
        if update_w_avg:
            # w_avg <- beta w_avg + (1 - beta) mean_batch(w): the centre for truncation.
            self.w_avg.copy_(self.w_avg.lerp(w.detach().float().mean(0), 1 - self.w_avg_beta))
        return w

    def truncate(self, w: torch.Tensor, psi: float) -> torch.Tensor:
        """The truncation trick: w' = w_avg + psi (w - w_avg). psi = 1 returns w itself."""
        if psi == 1:
            return w
        return self.w_avg + psi * (w - self.w_avg)


# --- synthesis network ---------------------------------------------------------------------------


def modulated_weight(weight: torch.Tensor, styles: torch.Tensor, *, demodulate: bool = True,
                     eps: float = 1e-8) -> torch.Tensor:
    """weight (O, I, k, k), styles (B, I) -> the per-sample conv weight (B, O, I, k, k).

    Modulation (StyleGAN2 eq. 1): w'_ijk = s_i w_ijk. Demodulation (eq. 3):
    w''_ijk = w'_ijk / sqrt(sum_{i,k} w'_ijk^2 + eps), so each output channel j has unit norm
    and, for unit-variance inputs, unit-variance outputs (eq. 2).
    """
    w = weight[None] * styles[:, None, :, None, None]
    if demodulate:
        w = w * (w.square().sum(dim=(2, 3, 4), keepdim=True) + eps).rsqrt()
    return w


# Nearest-neighbour 2x upsampling followed by a 3x3 conv equals one stride-2 transposed conv
# with a 4x4 kernel K = A W A^T: along each axis, even outputs see w[-1] x[i-1] + (w[0] + w[1]) x[i]
# and odd ones (w[-1] + w[0]) x[i] + w[1] x[i+1]. Computed at the input's resolution, it costs
# 16/36 of upsampling first.
_UP_FOLD = torch.tensor([[0.0, 0, 1], [0, 1, 1], [1, 1, 0], [1, 0, 0]])
_UP_FOLD_ON: dict[tuple[torch.device, torch.dtype], torch.Tensor] = {}


def fold_upsample(weight: torch.Tensor) -> torch.Tensor:
    """3x3 kernels (..., O, I, 3, 3) -> the transposed-conv kernels (..., I, O, 4, 4) of
    "nearest 2x upsample, then this conv"."""
    key = (weight.device, weight.dtype)
    if key not in _UP_FOLD_ON:  # one copy per device: no host-to-device transfer per forward
        _UP_FOLD_ON[key] = _UP_FOLD.to(*key)
    A = _UP_FOLD_ON[key]
    return torch.einsum("pi,...oaij,qj->...aopq", A, weight, A)


def modulated_conv2d(x: torch.Tensor, weight: torch.Tensor, styles: torch.Tensor, *,
                     demodulate: bool = True, up: bool = False, fused: bool = True) -> torch.Tensor:
    """x (B, I, H, W) convolved with each sample's own modulated weight -> (B, O, H, W), or
    (B, O, 2H, 2W) with `up` (nearest 2x upsampling before the conv, folded into it).

    fused: one grouped conv with the weight of `modulated_weight` (B groups). Unfused: scale the
    input by s, convolve with the shared weight, scale the output by the demodulation
    coefficients; the same numbers up to rounding (what StyleGAN2 trains with), and faster
    where a grouped conv is slow.
    """
    B, I, H, W = x.shape
    O, _, k, _ = weight.shape
    if fused:
        w = modulated_weight(weight, styles, demodulate=demodulate)  # (B, O, I, k, k)
        x = x.reshape(1, B * I, H, W)
        if up:
            out = F.conv_transpose2d(x, fold_upsample(w).reshape(B * I, O, k + 1, k + 1), stride=2,
                                     padding=1, groups=B)
        else:
            out = F.conv2d(x, w.reshape(B * O, I, k, k), padding=k // 2, groups=B)
        return out.reshape(B, O, *out.shape[2:])
    x = x * styles[:, :, None, None]
    if up:
        out = F.conv_transpose2d(x, _of_weight(weight, fold_upsample), stride=2, padding=1)
    else:
        out = F.conv2d(x, weight, padding=k // 2)
    if demodulate:
        # sum_{i,k} (s_i w_ijk)^2 = sum_i s_i^2 sum_k w_ijk^2: (B, O)
        dcoef = (styles.square() @ _of_weight(weight, _squared_norms) + 1e-8).rsqrt()
        out = out * dcoef[:, :, None, None]
    return out


def _squared_norms(weight: torch.Tensor) -> torch.Tensor:
    """(O, I, k, k) -> (I, O): sum over the kernel of w_oi^2."""
    return weight.square().sum(dim=(2, 3)).T


# What the unfused path derives from a weight alone (its folded upsampling kernel, its squared
# norms), kept on the weight itself while inference runs: a slider's picture needs them again
# unchanged. Checked against the weight's version, so an optimiser step (which changes the weight
# in place) is never served a stale value; computed afresh whenever autograd records, so training
# differentiates through them as before.
def _of_weight(weight: torch.Tensor, derive) -> torch.Tensor:
    if torch.is_grad_enabled() or not torch.is_inference_mode_enabled():
        return derive(weight)
    kept = weight.__dict__.setdefault("_genlab_derived", {})
    key = (derive, weight.device, weight.dtype)
    hit = kept.get(key)
    if hit is not None and hit[0] == weight._version:
        return hit[1]
    value = derive(weight)
    kept[key] = (weight._version, value)
    return value


class SynthesisLayer(nn.Module):
    """Modulated 3x3 conv (after a nearest 2x upsample when `up`), noise, bias, leaky ReLU:
    x (B, I, H, W), w (B, w_dim) -> (B, O, H', W')."""

    def __init__(self, in_ch: int, out_ch: int, *, w_dim: int, resolution: int, up: bool):
        super().__init__()
        self.up, self.resolution = up, resolution
        self.affine = EqualLinear(w_dim, in_ch, bias_init=1.0)  # w -> styles s (B, I)
        self.weight = nn.Parameter(torch.randn(out_ch, in_ch, 3, 3))
        self.bias = nn.Parameter(torch.zeros(out_ch))
        self.noise_strength = nn.Parameter(torch.zeros([]))  # learned; starts with no noise
        self.register_buffer("noise_const", torch.randn(1, 1, resolution, resolution))
        self.fused: bool | None = None  # None: fused for a single image, else unfused (faster on CPU)

    def forward(self, x: torch.Tensor, w: torch.Tensor, noise: torch.Tensor | None) -> torch.Tensor:
        """noise: (B or 1, 1, H', W'), already scaled by the caller's strength multiplier, or None."""
        fused = len(x) == 1 if self.fused is None else self.fused
        x = modulated_conv2d(x, self.weight, self.affine(w), demodulate=True, up=self.up, fused=fused)
        if noise is not None:
            x = x + noise * self.noise_strength
        return lrelu(x + self.bias[None, :, None, None])


class ToRGB(nn.Module):
    """Modulated 1x1 conv without demodulation: x (B, I, H, W), w (B, w_dim) -> (B, C, H, W)."""

    def __init__(self, in_ch: int, channels: int, *, w_dim: int):
        super().__init__()
        self.affine = EqualLinear(w_dim, in_ch, bias_init=1.0)
        self.weight = nn.Parameter(torch.randn(channels, in_ch, 1, 1))
        self.bias = nn.Parameter(torch.zeros(channels))
        self.weight_gain = 1 / math.sqrt(in_ch)  # no demodulation, so the equalised-lr scale stays

    def forward(self, x: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
        styles = self.affine(w) * self.weight_gain
        # A 1x1 conv: the grouped form buys nothing, so always the unfused one.
        x = modulated_conv2d(x, self.weight, styles, demodulate=False, fused=False)
        return x + self.bias[None, :, None, None]


class SynthesisNetwork(nn.Module):
    """ws (B, num_ws, w_dim) -> image (B, C, R, R) in about [-1, 1] (the training domain).

    A learned 4x4 constant, then per resolution its convs and a toRGB; the RGB outputs are
    upsampled and summed (the skip generator of StyleGAN2, fig. 7).
    """

    def __init__(self, *, w_dim: int, image_size: int, channels: int, widths: dict[int, int]):
        super().__init__()
        self.w_dim, self.image_size, self.channels = w_dim, image_size, channels
        self.resolutions = resolutions(image_size)
        self.num_ws = 2 * len(self.resolutions)
        self.const = nn.Parameter(torch.randn(widths[4], 4, 4))
        convs = [SynthesisLayer(widths[4], widths[4], w_dim=w_dim, resolution=4, up=False)]
        for r in self.resolutions[1:]:
            convs.append(SynthesisLayer(widths[r // 2], widths[r], w_dim=w_dim, resolution=r, up=True))
            convs.append(SynthesisLayer(widths[r], widths[r], w_dim=w_dim, resolution=r, up=False))
        self.convs = nn.ModuleList(convs)  # conv i takes ws[:, i]
        self.torgbs = nn.ModuleList([ToRGB(widths[r], channels, w_dim=w_dim) for r in self.resolutions])

    @property
    def num_noise(self) -> int:
        """Layers with a noise input: every conv, i.e. ws indices 0 .. num_ws - 2."""
        return len(self.convs)

    def set_fused(self, fused: bool | None) -> None:
        """True: grouped convs with per-image weights; False: modulate activations around shared
        weights; None (default): fused only for a batch of one."""
        for conv in self.convs:
            conv.fused = fused

    def make_noise(self, batch: int, gen: torch.Generator | None = None,
                   device: torch.device | None = None) -> list[torch.Tensor]:
        """Fresh N(0, 1) noise for every conv, [(batch, 1, r, r)], drawn layer by layer from `gen`."""
        device = device or self.const.device
        return [torch.randn(batch, 1, c.resolution, c.resolution, generator=gen, device=device)
                for c in self.convs]

    def forward(
        self,
        ws: torch.Tensor,
        *,
        noise_mode: str = "random",
        noise: Sequence[torch.Tensor | None] | None = None,
        noise_strength: float | Sequence[float] | None = None,
        gen: torch.Generator | None = None,
    ) -> torch.Tensor:
        """ws (B, num_ws, w_dim) -> (B, C, R, R).

        noise_mode: "random" (fresh N(0, 1) per image from `gen`), "const" (the fixed maps saved
        with the model) or "none". noise: explicit maps per conv, [(B or 1, 1, r, r) or None];
        an entry overrides noise_mode for its layer. noise_strength: a multiplier of each layer's
        learned strength (one number, or num_ws numbers of which the last, the final toRGB,
        has no noise and is ignored; 0 turns that layer's noise off); None means 1 everywhere.
        """
        B = ws.shape[0]
        assert ws.shape[1:] == (self.num_ws, self.w_dim), (ws.shape, self.num_ws, self.w_dim)
        if noise_mode not in NOISE_MODES:
            raise ValueError(f"noise_mode must be one of {NOISE_MODES}, not {noise_mode!r}")
        if noise_strength is None or isinstance(noise_strength, (int, float)):
            strengths = [1.0 if noise_strength is None else float(noise_strength)] * self.num_noise
        else:
            strengths = [float(s) for s in noise_strength][:self.num_noise]
            assert len(strengths) == self.num_noise, (len(strengths), self.num_noise)

        x = self.const[None].expand(B, -1, -1, -1).to(ws.dtype)
        img = None
        for k, r in enumerate(self.resolutions):
            for i in ([0] if k == 0 else [2 * k - 1, 2 * k]):
                n = noise[i] if noise is not None and i < len(noise) else None
                if n is None and noise_mode == "const":
                    n = self.convs[i].noise_const
                elif n is None and noise_mode == "random":
                    n = torch.randn(B, 1, r, r, generator=gen, device=ws.device, dtype=ws.dtype)
                if n is not None and strengths[i] == 0:
                    n = None
                elif n is not None and strengths[i] != 1:
                    n = n * strengths[i]
                x = self.convs[i](x, ws[:, i], n)
            y = self.torgbs[k](x, ws[:, 2 * k + 1])
            img = y if img is None else F.interpolate(img, scale_factor=2, mode="bilinear", align_corners=False) + y
        return img


class Generator(nn.Module):
    """mapping (z -> w) + synthesis (ws -> image); `forward` is z -> image with one w for all layers."""

    def __init__(self, *, z_dim: int, w_dim: int, mapping_layers: int, lr_mul: float,
                 w_avg_beta: float, image_size: int, channels: int, widths: dict[int, int]):
        super().__init__()
        self.mapping = MappingNetwork(z_dim=z_dim, w_dim=w_dim, depth=mapping_layers, lr_mul=lr_mul,
                                      w_avg_beta=w_avg_beta)
        self.synthesis = SynthesisNetwork(w_dim=w_dim, image_size=image_size, channels=channels, widths=widths)
        self.z_dim, self.w_dim, self.num_ws = z_dim, w_dim, self.synthesis.num_ws

    def broadcast(self, w: torch.Tensor) -> torch.Tensor:
        """w (B, w_dim) -> ws (B, num_ws, w_dim), the same w for every layer."""
        return w[:, None].expand(-1, self.num_ws, -1)

    def forward(self, z: torch.Tensor, *, psi: float = 1.0, **synthesis_kw) -> torch.Tensor:
        """z (B, z_dim) -> image (B, C, R, R) in about [-1, 1]."""
        w = self.mapping.truncate(self.mapping(z), psi)
        return self.synthesis(self.broadcast(w), **synthesis_kw)


# --- discriminator -------------------------------------------------------------------------------


def minibatch_stddev(x: torch.Tensor, group_size: int = 4) -> torch.Tensor:
    """(B, C, H, W) -> (B, C + 1, H, W): appends the mean standard deviation of the features over
    groups of images (Karras et al. 2018, sec. 3), so D can see a batch that lacks variety.
    Images i and i + B/G share a group, as in StyleGAN2."""
    B, C, H, W = x.shape
    G = min(group_size, B)
    while B % G:
        G -= 1
    y = x.reshape(G, -1, C, H, W)              # (G, M, C, H, W)
    y = (y - y.mean(0)).square().mean(0)       # variance over the group, (M, C, H, W)
    y = (y + 1e-8).sqrt().mean(dim=(1, 2, 3))  # (M,)
    y = y.reshape(-1, 1, 1, 1).repeat(G, 1, H, W)
    return torch.cat([x, y], dim=1)


class DiscriminatorBlock(nn.Module):
    """Residual: (B, I, r, r) -> (B, O, r/2, r/2), out = (conv(conv(x)) + skip(x)) / sqrt(2)."""

    def __init__(self, in_ch: int, out_ch: int):
        super().__init__()
        self.conv0 = EqualConv2d(in_ch, in_ch, 3)
        self.conv1 = EqualConv2d(in_ch, out_ch, 3, down=True)
        self.skip = EqualConv2d(in_ch, out_ch, 1, bias=False, activation=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        skip = self.skip(F.avg_pool2d(x, 2))
        return (self.conv1(self.conv0(x)) + skip) * math.sqrt(0.5)


class Discriminator(nn.Module):
    """image (B, C, R, R) in [-1, 1] -> realness logit (B,): fromRGB, residual blocks R -> 4,
    then minibatch stddev, a 3x3 conv and two fully connected layers (StyleGAN2's resnet D)."""

    def __init__(self, *, image_size: int, channels: int, widths: dict[int, int], mbstd_group: int):
        super().__init__()
        res = resolutions(image_size)
        self.image_size, self.channels, self.mbstd_group = image_size, channels, mbstd_group
        self.from_rgb = EqualConv2d(channels, widths[image_size], 1)
        self.blocks = nn.Sequential(*[DiscriminatorBlock(widths[r], widths[r // 2]) for r in reversed(res[1:])])
        c4 = widths[4]
        self.conv = EqualConv2d(c4 + 1, c4, 3)
        self.fc = EqualLinear(c4 * 16, c4, activation=True)
        self.out = EqualLinear(c4, 1)
        # Zero output weights: an untrained D says l = 0 ("can't tell") for every image, so the
        # D loss starts at exactly 2 ln 2 and the G loss at ln 2, the values a loss plot is read against.
        nn.init.zeros_(self.out.weight)

    def forward(self, img: torch.Tensor) -> torch.Tensor:
        assert img.shape[1:] == (self.channels, self.image_size, self.image_size), img.shape
        x = self.blocks(self.from_rgb(img))                       # (B, c4, 4, 4)
        x = self.conv(minibatch_stddev(x, self.mbstd_group))      # (B, c4, 4, 4)
        return self.out(self.fc(x.flatten(1))).squeeze(1)


class GAN(nn.Module):
    """The trained module: `.G` and `.D` together, so the trainer's EMA and a checkpoint hold
    both. Sample with `.G` of the EMA copy (`Trainer.final_model()`)."""

    def __init__(self, G: Generator, D: Discriminator):
        super().__init__()
        self.G, self.D = G, D
