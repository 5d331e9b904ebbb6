"""The latent diffusion model: autoencoder + latent UNet with cross-attention + text encoder, one module.

    prompt -> Vocabulary ids (B, T) -> BERT -> context (B, T, D)        (the text encoder)
    image (B, 3, 64, 64) -> Autoencoder.encode -> z (B, 4, 16, 16) * latent_scale      (phase 1)
    eps = unet(z_t, t, context, mask): ResBlocks (the DDPM UNet's own) each followed by
          cross-attention: queries from the latent's pixels, keys and values from the tokens  (phase 2)

The text encoder is trained jointly with the UNet, by the denoising loss alone (phase 2). Why not a
frozen one trained first, as Stable Diffusion's CLIP or Imagen's T5: those are frozen because they
were pretrained on hundreds of millions of captions, which we do not have; a text tower trained first
here would need an objective of its own (contrastive, as CLIP) on the same small set of captions,
and it could only learn what that objective rewards. Trained jointly, a word's embedding learns
exactly what the denoiser needs of it (where "left of" puts an object, what "red" paints), and the
whole model trains in one pass on a GPU in minutes. The cost: the encoder knows nothing but these
captions, which the engine says (`never_seen`).

Classifier-free guidance: the caption is replaced by the empty prompt ("" -> [CLS] [SEP]) with
probability p_uncond while training, so the same network also predicts eps(z_t, t, "").

`Conditioned` lets engines.diffusion's process (its DDIM, its guidance) drive this text-conditional
UNet unchanged: the process speaks of class labels 0..num_classes-1 and a null label num_classes;
here label i is row i of a bank of encoded prompts and the null label is the empty prompt.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from .. import runtime
from ..diffusion.unet import ResBlock, SelfAttention, Upsample, _zero, timestep_embedding
from ..scenes.autoencoder import Autoencoder
from ..scenes.autoencoder import Config as AEConfig


class CrossAttention(nn.Module):
    """Pixels attend to tokens, residual: x (B, C, H, W), context (B, T, D), mask (B, T) -> (B, C, H, W).

    softmax over the tokens (padding masked out), so each pixel's weights sum to 1. While a
    `recorder` list is set (by `Conditioned`, record=True), the weights averaged over heads, (B, T, H, W),
    are appended to it."""

    def __init__(self, ch: int, context_dim: int, *, heads: int, groups: int):
        super().__init__()
        self.heads = heads
        self.norm = nn.GroupNorm(groups, ch)
        self.q = nn.Linear(ch, ch, bias=False)
        self.kv = nn.Linear(context_dim, 2 * ch, bias=False)
        self.proj = _zero(nn.Linear(ch, ch))
        self.recorder: list | None = None

    def forward(self, x: torch.Tensor, context: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        B, C, H, W = x.shape
        nh, T = self.heads, context.shape[1]
        q = self.q(self.norm(x).flatten(2).transpose(1, 2)).view(B, H * W, nh, C // nh).transpose(1, 2)
        k, v = self.kv(context).view(B, T, 2, nh, C // nh).permute(2, 0, 3, 1, 4)   # each (B, nh, T, hs)
        logits = q @ k.transpose(-1, -2) / (C // nh) ** 0.5                          # (B, nh, HW, T)
        logits = logits.masked_fill(~mask.bool()[:, None, None, :], float("-inf"))
        weights = logits.softmax(-1)
        if self.recorder is not None:
            self.recorder.append(weights.mean(1).transpose(1, 2).reshape(B, T, H, W).detach())
        h = (weights @ v).transpose(1, 2).reshape(B, H * W, C)
        return x + self.proj(h).transpose(1, 2).reshape(B, C, H, W)


class Block(nn.Module):
    """A residual block (time embedding in), then cross-attention to the prompt's tokens."""

    def __init__(self, cin: int, cout: int, *, emb_dim: int, context_dim: int, heads: int, groups: int,
                 dropout: float):
        super().__init__()
        self.res = ResBlock(cin, cout, emb_dim=emb_dim, groups=groups, dropout=dropout)
        self.cross = CrossAttention(cout, context_dim, heads=heads, groups=groups)

    def forward(self, x, emb, context, mask):
        return self.cross(self.res(x, emb), context, mask)


class LatentUNet(nn.Module):
    """eps = unet(z_t (B, z, s, s), t (B,), context (B, T, D), mask (B, T)) -> (B, z, s, s).

    len(mult) levels (s, s/2, ...), `blocks` blocks a level down and one more up (each with
    cross-attention), self-attention in the middle."""

    def __init__(self, *, channels: int, width: int, mult: tuple[int, ...], blocks: int, context_dim: int,
                 heads: int, groups: int = 8, dropout: float = 0.0):
        super().__init__()
        self.width, emb_dim = width, 4 * width
        kw = dict(emb_dim=emb_dim, context_dim=context_dim, heads=heads, groups=groups, dropout=dropout)
        self.time_mlp = nn.Sequential(nn.Linear(width, emb_dim), nn.SiLU(), nn.Linear(emb_dim, emb_dim))
        self.conv_in = nn.Conv2d(channels, width, 3, padding=1)
        self.down, self.downsample, skips, ch = nn.ModuleList(), nn.ModuleList(), [width], width
        for i, m in enumerate(mult):
            for _ in range(blocks):
                self.down.append(Block(ch, width * m, **kw))
                ch = width * m
                skips.append(ch)
            if i < len(mult) - 1:
                self.downsample.append(nn.Conv2d(ch, ch, 3, stride=2, padding=1))
                skips.append(ch)
        self.mid = nn.ModuleList([Block(ch, ch, **kw), Block(ch, ch, **kw)])
        self.mid_attn = SelfAttention(ch, heads=heads, groups=groups)
        self.up, self.upsample = nn.ModuleList(), nn.ModuleList()
        for i in reversed(range(len(mult))):
            for _ in range(blocks + 1):
                self.up.append(Block(ch + skips.pop(), width * mult[i], **kw))
                ch = width * mult[i]
            if i > 0:
                self.upsample.append(Upsample(ch))
        self.blocks, self.levels = blocks, len(mult)
        self.out = nn.Sequential(nn.GroupNorm(groups, ch), nn.SiLU(), _zero(nn.Conv2d(ch, channels, 3, padding=1)))

    def forward(self, x, t, context, mask):
        emb = self.time_mlp(timestep_embedding(t, self.width))
        h = self.conv_in(x)
        hs, down, up = [h], iter(self.down), iter(self.up)
        for i in range(self.levels):
            for _ in range(self.blocks):
                h = next(down)(h, emb, context, mask)
                hs.append(h)
            if i < self.levels - 1:
                h = self.downsample[i](h)
                hs.append(h)
        h = self.mid[1](self.mid_attn(self.mid[0](h, emb, context, mask)), emb, context, mask)
        for i in range(self.levels):
            for _ in range(self.blocks + 1):
                h = next(up)(torch.cat([h, hs.pop()], 1), emb, context, mask)
            if i < self.levels - 1:
                h = self.upsample[i](h)
        return self.out(h)

    def cross_attentions(self) -> list[CrossAttention]:
        return [m for m in self.modules() if isinstance(m, CrossAttention)]


class LatentDiffusion(nn.Module):
    """The three networks of one checkpoint, and the buffers phase 1 fits: the latent's scale (so the
    diffusion sees unit variance) and a linear latent -> RGB map (the sampler's cheap preview)."""

    def __init__(self, config):
        super().__init__()
        from ..scenes.text import text_encoder_config
        with runtime.HEAVY_IMPORTS:  # never beside the warm-up thread's import of the same package
            from transformers import BertModel

        self.config = config
        self.autoencoder = Autoencoder(AEConfig(image_size=64, widths=tuple(config.ae_widths),
                                                latent_channels=config.latent_channels, kl_weight=config.kl_weight))
        self.text = BertModel(text_encoder_config(config.vocab_size, hidden=config.text_width,
                                                  layers=config.text_layers, heads=config.text_heads,
                                                  max_len=config.max_tokens), add_pooling_layer=False)
        self.unet = LatentUNet(channels=config.latent_channels, width=config.width, mult=tuple(config.mult),
                               blocks=config.blocks, context_dim=config.text_width, heads=config.heads,
                               dropout=config.dropout)
        self.register_buffer("latent_scale", torch.ones(()))
        self.register_buffer("preview_weight", torch.zeros(3, config.latent_channels + 1))

    def encode_text(self, ids: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """(B, T) ids and attention mask -> token embeddings (B, T, text_width)."""
        return self.text(input_ids=ids, attention_mask=mask).last_hidden_state

    def encode_images(self, x: torch.Tensor) -> torch.Tensor:
        """(B, 3, 64, 64) in [0, 1] -> the diffusion's latent: the encoder's mean times latent_scale."""
        return self.autoencoder.encode(x)[0] * self.latent_scale

    def decode_latents(self, z: torch.Tensor) -> torch.Tensor:
        """The diffusion's latent -> (B, 3, 64, 64) in [0, 1]."""
        return self.autoencoder.decode(z / self.latent_scale).clamp(0, 1)

    def preview(self, z: torch.Tensor) -> torch.Tensor:
        """The cheap decode: the fitted linear map per latent pixel -> (B, 3, s, s) in [0, 1]."""
        w = self.preview_weight
        rgb = torch.einsum("cz,bzhw->bchw", w[:, :-1], z / self.latent_scale) + w[:, -1, None, None]
        return rgb.clamp(0, 1)


class Conditioned(nn.Module):
    """`model(x, t, y)` for engines.diffusion.process: label i is row i of `context`, label
    `num_classes` (= rows - 1) the empty prompt, the bank's last row.

    With `record=True` each call keeps its cross-attention weights at the latent's side in `maps`
    ([(B, T, H, W)], one per layer there): per call and per object, so two runs sharing one UNet
    (each pass under the process's compute lock) never mix their maps."""

    def __init__(self, unet: LatentUNet, context: torch.Tensor, mask: torch.Tensor, *, record: bool = False):
        super().__init__()
        self.unet, self.context, self.mask, self.record = unet, context, mask, record
        self.num_classes = len(context) - 1
        self.maps: list[torch.Tensor] = []

    def forward(self, x, t, y=None):
        if y is None:
            y = torch.full((len(x),), self.num_classes, dtype=torch.long, device=x.device)
        if not self.record:
            return self.unet(x, t, self.context[y], self.mask[y])
        layers, found = self.unet.cross_attentions(), []
        for layer in layers:
            layer.recorder = found
        try:
            out = self.unet(x, t, self.context[y], self.mask[y])
        finally:
            for layer in layers:
                layer.recorder = None
        self.maps = [w for w in found if w.shape[-1] == x.shape[-1]]
        return out


@torch.no_grad()
def fit_preview(model: LatentDiffusion, images: torch.Tensor) -> torch.Tensor:
    """Least squares of each latent pixel's RGB (the image average-pooled to the latent's side) on
    its latent channels and 1 -> (3, z + 1), what `LatentDiffusion.preview` applies."""
    z = model.autoencoder.encode(images)[0]
    rgb = F.adaptive_avg_pool2d(images, z.shape[-1])
    a = torch.cat([z, torch.ones_like(z[:, :1])], 1).permute(0, 2, 3, 1).reshape(-1, z.shape[1] + 1)
    b = rgb.permute(0, 2, 3, 1).reshape(-1, 3)
    return torch.linalg.lstsq(a.double(), b.double()).solution.T.float()
