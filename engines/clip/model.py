"""The GenLab CLIP: open_clip's own `CLIP` class built from a tiny config, and its loss.

Two towers map images and texts into one D-dimensional space where a matching pair points the
same way. The image tower is a ViT (32x32 input, 4x4 patches: 64 tokens plus a class token),
the text tower a causal transformer over UTF-8 bytes (see `tokenizer`). Both are open_clip's
`VisionTransformer` / text transformer, built by `open_clip.model.CLIP` from `CLIPVisionCfg`
and `CLIPTextCfg`; the only change is that a batch of texts is cut to its longest text rather
than always run at the full context (exact: the causal mask means padding after the end token
never reaches it), and the text's embedding may be the mean over its tokens rather than the end
token's (`Config.text_pool`): a tiny byte-level model learns words that way several times faster.

Loss: the symmetric InfoNCE of CLIP (Radford et al. 2021, fig. 3), with a learned temperature:
logits = exp(t) * I @ T^T, cross-entropy over texts for each image and over images for each
text, averaged.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from .. import runtime
from ..configs import FamilyConfig, check_range
from . import tokenizer

MAX_LOGIT_SCALE = 100.0  # CLIP clamps exp(t) at 100 (a temperature of 0.01)


@dataclass(frozen=True)
class Config(FamilyConfig):
    image_size: int = 32           # side the image tower sees; any input is resized to it
    vision: str = "vit"            # image tower: "vit" or "resnet" (open_clip's ModifiedResNet)
    patch_size: int = 4            # ViT patch side: (32 / 4)^2 = 64 patch tokens
    vision_width: int = 96         # ViT channels; ResNet: base width (stem width, 32x it at the attention pool)
    vision_layers: int = 2         # ViT blocks; ResNet: bottleneck blocks in each of its 4 stages
    vision_head_width: int = 32    # channels per attention head (heads = width / head_width)
    text_width: int = 96           # text transformer channels
    text_layers: int = 2           # text transformer blocks
    text_heads: int = 4            # text attention heads
    context_length: int = 88       # bytes + start/end tokens a text may use; longer is cut
    embed_dim: int = 96            # the shared embedding space
    mlp_ratio: float = 2.0         # transformer MLP width / model width
    init_temperature: float = 0.07 # initial softmax temperature (learned: logit_scale = log(1/T))
    text_pool: str = "mean"        # text embedding: "mean" over the text's tokens, or "argmax" (the end
                                   # token, open_clip's default); mean learns words from bytes faster

    def validate(self) -> None:
        if self.vision not in ("vit", "resnet"):
            raise ValueError("vision must be 'vit' or 'resnet'")
        # Upper bounds far above what ships (64 px, widths <= 128, 4 layers, context 88).
        check_range("image_size", self.image_size, 8, 256)
        check_range("patch_size", self.patch_size, 1, 64)
        if self.vision == "vit":
            check_range("patches per side", self.image_size // self.patch_size, 1, 32)
        check_range("vision_head_width", self.vision_head_width, 1, 1024)
        check_range("text_heads", self.text_heads, 1, 64)
        for name, high in (("vision_width", 1024), ("text_width", 1024), ("embed_dim", 1024),
                           ("vision_layers", 24), ("text_layers", 24)):
            check_range(name, getattr(self, name), 1, high)
        check_range("mlp_ratio", self.mlp_ratio, 0.25, 8.0)
        if self.vision == "vit" and self.image_size % self.patch_size:
            raise ValueError("image_size must be a multiple of patch_size")
        if self.vision == "resnet" and (self.image_size % 32 or self.vision_width % 2):
            raise ValueError("a ResNet image tower needs image_size a multiple of 32 and an even width")
        if (self.vision == "vit" and self.vision_width % self.vision_head_width) or self.text_width % self.text_heads:
            raise ValueError("widths must divide into heads")
        if not 8 <= self.context_length <= 512:
            raise ValueError("context_length must be 8..512")
        if min(self.vision_layers, self.text_layers, self.embed_dim) < 1:
            raise ValueError("layers and embed_dim must be positive")
        if not 0 < self.init_temperature < 1:
            raise ValueError("init_temperature must be in (0, 1)")
        if self.text_pool not in ("mean", "argmax"):
            raise ValueError("text_pool must be 'mean' or 'argmax'")


def _open_clip_cfgs(config: Config):
    with runtime.HEAVY_IMPORTS:
        from open_clip.model import CLIPTextCfg, CLIPVisionCfg

    if config.vision == "resnet":
        # A tuple of layers is what makes open_clip build its ModifiedResNet; its attention pool
        # has width * 32 channels and width / 2 heads of 64.
        vision = CLIPVisionCfg(layers=(config.vision_layers,) * 4, width=config.vision_width,
                               image_size=config.image_size)
    else:
        vision = CLIPVisionCfg(layers=config.vision_layers, width=config.vision_width,
                               head_width=config.vision_head_width, mlp_ratio=config.mlp_ratio,
                               patch_size=config.patch_size, image_size=config.image_size)
    text = CLIPTextCfg(context_length=config.context_length, vocab_size=tokenizer.VOCAB_SIZE,
                       width=config.text_width, heads=config.text_heads, layers=config.text_layers,
                       mlp_ratio=config.mlp_ratio, pad_id=tokenizer.PAD, eos_id=tokenizer.EOT,
                       pool_type="argmax")
    return vision, text


def _genlab_clip_class():
    with runtime.HEAVY_IMPORTS:
        from open_clip.model import CLIP
        from open_clip.transformer import text_global_pool

    class GenLabCLIP(CLIP):
        """open_clip's CLIP; texts run at their batch's length instead of the full context, and
        may be pooled by their mean (`Config.text_pool`)."""

        genlab_text_pool = "mean"
        genlab_frozen_norms = False  # keep BatchNorm layers (a ResNet tower's) in eval mode in training

        def train(self, mode: bool = True):
            super().train(mode)
            if mode and self.genlab_frozen_norms:
                for m in self.modules():
                    if isinstance(m, torch.nn.modules.batchnorm._BatchNorm):
                        m.eval()
            return self

        def encode_text(self, text: torch.Tensor, normalize: bool = False) -> torch.Tensor:
            # text: long (K, L) ids with L <= context_length -> (K, D)
            length = text.shape[1]
            x = self.token_embedding(text) + self.positional_embedding[:length]  # (K, L, W)
            x = self.transformer(x, attn_mask=self.attn_mask[:length, :length])
            x = self.ln_final(x)
            if self.genlab_text_pool == "mean":
                keep = (text != tokenizer.PAD).to(x.dtype)[..., None]  # (K, L, 1)
                x = (x * keep).sum(1) / keep.sum(1)
            else:
                x = text_global_pool(x, text, "argmax")  # the end token has the largest id
            x = x @ self.text_projection
            return F.normalize(x, dim=-1) if normalize else x

    return GenLabCLIP


def build(config: Config) -> torch.nn.Module:
    import math

    vision, text = _open_clip_cfgs(config)
    model = _genlab_clip_class()(config.embed_dim, vision, text,
                                 init_logit_scale=math.log(1 / config.init_temperature))
    model.genlab_text_pool = config.text_pool
    return model


def freeze_norms(model: torch.nn.Module) -> bool:
    """Keep a CLIP's BatchNorm layers (a ResNet image tower has them) on their running statistics
    in training too, as fine-tuning usually does -> whether it has any. A step run as a gradient
    cache (engines.train) embeds the batch in pieces, twice; with batch statistics each piece would
    be normalised by its own, and the running statistics would move twice a step."""
    has = any(isinstance(m, torch.nn.modules.batchnorm._BatchNorm) for m in model.modules())
    model.genlab_frozen_norms = has
    model.train(model.training)
    return has


def to_tower_input(x: torch.Tensor, size: int, mean=(0.5, 0.5, 0.5), std=(0.5, 0.5, 0.5)) -> torch.Tensor:
    """float (B, C, H, W) in [0, 1], C in {1, 3} -> (B, 3, size, size) normalised; differentiable."""
    if x.shape[1] == 1:
        x = x.expand(-1, 3, -1, -1)
    if x.shape[-2:] != (size, size):
        x = F.interpolate(x, size=(size, size), mode="bilinear", align_corners=False, antialias=True)
    m = torch.tensor(mean, device=x.device, dtype=x.dtype).view(1, 3, 1, 1)
    s = torch.tensor(std, device=x.device, dtype=x.dtype).view(1, 3, 1, 1)
    return (x - m) / s


def contrastive_loss(image_emb: torch.Tensor, text_emb: torch.Tensor, logit_scale: torch.Tensor,
                     positives: torch.Tensor | None = None) -> torch.Tensor:
    """Symmetric InfoNCE. image_emb (B, D), text_emb (T, D) with T >= B, L2-normalised: text i
    is image i's caption for i < B; texts B.. are extra (hard negatives: "a red square" for a red
    circle), candidates for every image. logit_scale: log of the inverse temperature (learned),
    clamped at log(100).

    positives: optional bool (T, B), [i, j] = text i is true of image j (the diagonal always is).
    Several true pairs share the target mass evenly: in a batch of digits, "the digit 7" is true
    of every 7, and pushing it away from the other sevens would teach the model nonsense. With
    None (and T = B) it is CLIP's loss: mean of CE(logits, arange) over rows and over columns.
    Image -> texts runs over all T texts; text -> images over the texts true of some image.
    """
    scale = logit_scale.clamp(max=math.log(MAX_LOGIT_SCALE)).exp()
    logits = scale * image_emb @ text_emb.t()  # (B images, T texts)
    b, t = logits.shape
    if positives is None and t == b:
        target = torch.arange(b, device=logits.device)
        return (F.cross_entropy(logits, target) + F.cross_entropy(logits.t(), target)) / 2
    pos = torch.zeros(t, b, device=logits.device) if positives is None else positives.float()
    pos = pos.clone()
    pos[:b] += torch.eye(b, device=logits.device)
    pos = pos.clamp(max=1)  # (T, B)
    # Text -> images: text i's targets are the images it is true of (row i); image -> texts: column.
    rows = pos.sum(1) > 0
    t2i_each = -(pos / pos.sum(1, keepdim=True).clamp_min(1) * F.log_softmax(logits.t(), dim=1)).sum(1)
    t2i = t2i_each[rows].mean()
    i2t = -(pos.t() / pos.t().sum(1, keepdim=True) * F.log_softmax(logits, dim=1)).sum(1).mean()
    return (i2t + t2i) / 2


def encode_images(model, x: torch.Tensor, config: Config) -> torch.Tensor:
    """float (B, C, H, W) in [0, 1] -> (B, D) L2-normalised."""
    return model.encode_image(to_tower_input(x, config.image_size), normalize=True)


def encode_texts(model, texts: list[str], config: Config, device=None) -> torch.Tensor:
    ids = tokenizer.tokenize(texts, config.context_length).to(device or next(model.parameters()).device)
    return model.encode_text(ids, normalize=True)
