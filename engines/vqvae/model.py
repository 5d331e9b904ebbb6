"""VQ-VAE (van den Oord et al. 2017, "Neural Discrete Representation Learning") and its prior.

An encoder maps x (B, C, H, W) to z_e (B, D, h, w), h = H / 2**len(widths). Each of the h*w
vectors is replaced by its nearest codebook entry e_k (K entries of dimension D): the token grid
is the k's. The decoder maps z_q back to pixels. The loss (eq. 3 of the paper):

    L = ||x - dec(z_q)||^2 + ||sg[z_e] - e||^2 + beta * ||z_e - sg[e]||^2

(reconstruction, codebook, commitment; sg = stop-gradient). Quantisation has no gradient, so the
decoder's gradient at z_q is copied to z_e: the straight-through estimator, z_q = z_e + sg[e - z_e].
Here the codebook term is replaced by exponential moving averages (the paper's appendix A.1):

    N_k <- g N_k + (1 - g) n_k / T,     m_k <- g m_k + (1 - g) sum_{z_e -> k} z_e / T,     e_k = m_k / N_k

with n_k the batch's count of vectors assigned to k out of T. The batch statistics are divided by
T, so they are means over the batch (what engines.train's batch-weighted buffers assume), and
e_k stays m_k / N_k. A code that no vector picks for a while (N_k below `dead_fraction / K`) is
restarted at a random encoder output of the batch.

The prior is a GPT-2 (the `transformers` package's GPT2LMHeadModel, configured here, nothing
downloaded) over [class token, t_0, ..., t_{hw-1}], the grid in raster order: token ids 0..K-1 are
codes, K + c is class c, K + num_classes "no class" (10% of training rows drop their class, so the
prior also samples unconditionally). Its logits are read only over the K codes: a class token is
never sampled.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from .. import runtime
from ..configs import FamilyConfig, check_range

FAMILY = "vqvae"
MAX_TOKENS = 256        # a grid side of 16 at most: the prior's sequence length
DROP_CLASS = 0.1        # training rows whose class token is "no class"


@dataclass(frozen=True)
class Config(FamilyConfig):
    image_size: int = 28                   # input height = width, pixels
    channels: int = 1                      # 1 (grey) or 3 (RGB)
    widths: tuple[int, ...] = (32, 64)     # conv channels per stride-2 level, encoder order
    codebook_size: int = 64                # K: codes in the codebook
    code_dim: int = 32                     # D: dimensions of a code
    commitment: float = 0.25               # beta: weight of the commitment loss
    ema_decay: float = 0.99                # g: decay of the codebook's moving averages
    dead_fraction: float = 0.03            # a code is dead below this fraction of a fair share (1/K)
    num_classes: int | None = None         # class tokens of the prior (None: unconditional)
    prior_width: int = 128                 # GPT-2 n_embd
    prior_layers: int = 4                  # GPT-2 n_layer
    prior_heads: int = 4                   # GPT-2 n_head
    prior_dropout: float = 0.1             # GPT-2 residual, embedding and attention dropout

    def validate(self) -> None:
        if self.channels not in (1, 3):
            raise ValueError(f"channels must be 1 or 3, not {self.channels}")
        check_range("image_size", self.image_size, 8, 128)
        check_range("number of widths", len(self.widths), 1, 4)
        for w in self.widths:
            check_range("widths", w, 1, 512)
        if self.image_size % 2 ** len(self.widths):
            raise ValueError(f"image_size {self.image_size} must be divisible by 2**len(widths)")
        check_range("tokens", self.tokens, 1, MAX_TOKENS)
        check_range("codebook_size", self.codebook_size, 2, 4096)
        check_range("code_dim", self.code_dim, 1, 512)
        check_range("commitment", self.commitment, 0.0, 100.0)
        check_range("ema_decay", self.ema_decay, 0.0, 0.9999)
        check_range("dead_fraction", self.dead_fraction, 0.0, 1.0)
        if self.num_classes is not None:
            check_range("num_classes", self.num_classes, 1, 1000)
        check_range("prior_width", self.prior_width, 8, 1024)
        check_range("prior_layers", self.prior_layers, 1, 24)
        check_range("prior_heads", self.prior_heads, 1, 32)
        if self.prior_width % self.prior_heads:
            raise ValueError(f"prior_width {self.prior_width} must be divisible by prior_heads {self.prior_heads}")
        check_range("prior_dropout", self.prior_dropout, 0.0, 0.9)

    @property
    def side(self) -> int:
        """The token grid's side."""
        return self.image_size // 2 ** len(self.widths)

    @property
    def tokens(self) -> int:
        return self.side ** 2

    @property
    def null_token(self) -> int:
        """The "no class" token id."""
        return self.codebook_size + (self.num_classes or 0)

    @property
    def vocab(self) -> int:
        return self.null_token + 1


class ResBlock(nn.Module):
    def __init__(self, ch: int):
        super().__init__()
        self.body = nn.Sequential(nn.ReLU(), nn.Conv2d(ch, ch, 3, 1, 1), nn.ReLU(), nn.Conv2d(ch, ch, 1))

    def forward(self, x):
        return x + self.body(x)


class Codebook(nn.Module):
    """K codes of dimension D kept as moving averages (buffers, no gradient): e_k = m_k / N_k."""

    def __init__(self, size: int, dim: int, *, decay: float, dead_fraction: float, eps: float = 1e-6):
        super().__init__()
        self.size, self.dim, self.decay, self.dead_fraction, self.eps = size, dim, decay, dead_fraction, eps
        # N_k: the moving average of the fraction of vectors assigned to k. Zero at first: every code
        # is dead, so the first training batch restarts them all at its own encodings.
        self.register_buffer("usage", torch.zeros(size))
        self.register_buffer("embed_avg", torch.randn(size, dim) * 0.01)  # m_k (K, D)

    @property
    def embed(self) -> torch.Tensor:
        """The codes e_k = m_k / N_k (K, D); N_k Laplace-smoothed so an unused code stays finite."""
        n = self.usage
        smoothed = (n + self.eps) / (n.sum() + self.size * self.eps) * n.sum().clamp_min(self.eps)
        return self.embed_avg / smoothed.clamp_min(self.eps)[:, None]

    def nearest(self, flat: torch.Tensor) -> torch.Tensor:
        """flat (T, D) -> index of the nearest code (T,): argmin_k ||z - e_k||^2."""
        e = self.embed
        d = flat.pow(2).sum(1, keepdim=True) - 2 * flat @ e.t() + e.pow(2).sum(1)[None]
        return d.argmin(1)

    @torch.no_grad()
    def ema_update(self, flat: torch.Tensor, idx: torch.Tensor) -> None:
        """One moving-average step from the batch's vectors flat (T, D) and their codes idx (T,)."""
        onehot = F.one_hot(idx, self.size).to(flat.dtype)               # (T, K)
        t = flat.shape[0]
        self.usage.mul_(self.decay).add_(onehot.sum(0) / t, alpha=1 - self.decay)
        self.embed_avg.mul_(self.decay).add_(onehot.t() @ flat / t, alpha=1 - self.decay)

    def dead(self) -> torch.Tensor:
        """Codes whose usage fell below dead_fraction of a fair share (K,) bool."""
        return self.usage < self.dead_fraction / self.size

    @torch.no_grad()
    def restart(self, flat: torch.Tensor, gen: torch.Generator | None = None) -> int:
        """Move every dead code to a random vector of the batch (flat (T, D)), with a little usage,
        so it is not dead again at once -> how many were restarted."""
        dead = self.dead().nonzero().flatten()
        if len(dead) == 0:
            return 0
        pick = torch.randint(0, flat.shape[0], (len(dead),), generator=gen, device=flat.device)
        # Four times the dead line: a restarted code nobody picks is dead again after
        # log(4) / -log(decay) steps (138 at 0.99), not after a fair share's 349.
        share = 4 * self.dead_fraction / self.size
        self.embed_avg[dead] = flat[pick] * share
        self.usage[dead] = share
        return len(dead)


class VQVAE(nn.Module):
    """Encoder, codebook, decoder, and the GPT-2 prior over the token grid (`prior`)."""

    def __init__(self, config: Config):
        super().__init__()
        c = self.config = config
        enc, ch = [], c.channels
        for w in c.widths:
            enc += [nn.Conv2d(ch, w, 4, 2, 1), nn.ReLU()]
            ch = w
        self.encoder = nn.Sequential(*enc, ResBlock(ch), nn.ReLU(), nn.Conv2d(ch, c.code_dim, 1))
        self.codebook = Codebook(c.codebook_size, c.code_dim, decay=c.ema_decay, dead_fraction=c.dead_fraction)
        rev = list(reversed(c.widths))
        dec = [nn.Conv2d(c.code_dim, rev[0], 3, 1, 1), ResBlock(rev[0]), nn.ReLU()]
        for w, w_next in zip(rev, rev[1:]):
            dec += [nn.ConvTranspose2d(w, w_next, 4, 2, 1), nn.ReLU()]
        dec.append(nn.ConvTranspose2d(rev[-1], c.channels, 4, 2, 1))
        self.decoder = nn.Sequential(*dec)
        self.prior = build_prior(c)

    # --- the autoencoder ------------------------------------------------------------------------
    def encode(self, x: torch.Tensor) -> torch.Tensor:
        """x (B, C, H, W) in [0, 1] -> z_e (B, D, h, w)."""
        return self.encoder(x * 2 - 1)

    def codes(self, x: torch.Tensor) -> torch.Tensor:
        """x (B, C, H, W) -> the token grid (B, h, w), long; never moves the codebook."""
        z = self.encode(x)
        b, d, h, w = z.shape
        return self.codebook.nearest(z.permute(0, 2, 3, 1).reshape(-1, d)).view(b, h, w)

    def lookup(self, tokens: torch.Tensor) -> torch.Tensor:
        """tokens (B, h, w) -> z_q (B, D, h, w)."""
        return self.codebook.embed[tokens].permute(0, 3, 1, 2)

    def decode(self, z_q: torch.Tensor) -> torch.Tensor:
        """z_q (B, D, h, w) -> x (B, C, H, W) in [0, 1]."""
        return torch.sigmoid(self.decoder(z_q))

    def decode_tokens(self, tokens: torch.Tensor) -> torch.Tensor:
        return self.decode(self.lookup(tokens))

    def quantize(self, z_e: torch.Tensor, *, update: bool = False, gen: torch.Generator | None = None) -> dict:
        """z_e (B, D, h, w) -> z_q with the straight-through gradient, the tokens, the two VQ losses;
        with `update`, dead codes are restarted and the codebook takes one moving-average step."""
        b, d, h, w = z_e.shape
        flat = z_e.permute(0, 2, 3, 1).reshape(-1, d)                  # (T, D), T = B h w
        if update:
            self.codebook.restart(flat.detach(), gen)
        idx = self.codebook.nearest(flat.detach())
        e = self.codebook.embed[idx]                                    # (T, D)
        if update:
            self.codebook.ema_update(flat.detach(), idx)
        losses = vq_losses(flat, e)
        z_q = straight_through(flat, e).view(b, h, w, d).permute(0, 3, 1, 2)
        return {"z_q": z_q, "tokens": idx.view(b, h, w), **losses}


def vq_losses(z_e: torch.Tensor, e: torch.Tensor) -> dict[str, torch.Tensor]:
    """The codebook loss ||sg[z_e] - e||^2 (moves the codes; with moving averages it only reports)
    and the commitment loss ||z_e - sg[e]||^2 (moves the encoder), each a mean over elements."""
    return {"codebook_loss": F.mse_loss(e, z_e.detach()), "commitment_loss": F.mse_loss(z_e, e.detach())}


def straight_through(z_e: torch.Tensor, e: torch.Tensor) -> torch.Tensor:
    """The value of e, the gradient of z_e: d z_q / d z_e = I (the straight-through estimator)."""
    return z_e + (e - z_e).detach()


def build_prior(config: Config) -> nn.Module:
    """The GPT-2 prior, configured from scratch (transformers imported only here: nothing at import)."""
    with runtime.HEAVY_IMPORTS:
        from transformers import GPT2Config, GPT2LMHeadModel

    c = config
    gpt = GPT2Config(
        vocab_size=c.vocab, n_positions=c.tokens + 1, n_embd=c.prior_width, n_layer=c.prior_layers,
        n_head=c.prior_heads, n_inner=4 * c.prior_width, resid_pdrop=c.prior_dropout,
        embd_pdrop=c.prior_dropout, attn_pdrop=c.prior_dropout, bos_token_id=c.null_token,
        eos_token_id=c.null_token,
        # Separate output weights: safetensors stores no shared tensors.
        tie_word_embeddings=False,
    )
    return GPT2LMHeadModel(gpt)


def build(config: Config) -> VQVAE:
    return VQVAE(config)


def class_tokens(config: Config, labels: torch.Tensor | None, batch: int, device) -> torch.Tensor:
    """The begin token of each row (B,): K + label, or "no class" where labels is None or -1."""
    if labels is None or config.num_classes is None:
        return torch.full((batch,), config.null_token, dtype=torch.long, device=device)
    labels = labels.to(device=device, dtype=torch.long)
    return torch.where(labels >= 0, config.codebook_size + labels, torch.full_like(labels, config.null_token))


def prior_loss(model: VQVAE, tokens: torch.Tensor, begin: torch.Tensor) -> torch.Tensor:
    """Cross-entropy of the prior over the raster-ordered grid: tokens (B, h, w), begin (B,) ->
    mean nats per token. Only the K code logits are read."""
    seq = torch.cat([begin[:, None], tokens.flatten(1)], 1)            # (B, 1 + hw)
    logits = model.prior(input_ids=seq[:, :-1]).logits[..., :model.config.codebook_size]
    return F.cross_entropy(logits.reshape(-1, logits.shape[-1]), seq[:, 1:].reshape(-1))


def perplexity(counts: torch.Tensor) -> float:
    """exp(entropy) of the code usage counts (K,): how many codes are in use, effectively."""
    p = counts.float() / counts.sum().clamp_min(1)
    return float(torch.exp(-(p * torch.log(p.clamp_min(1e-12))).sum()))


def psnr(mse: float) -> float:
    """Peak signal-to-noise ratio (dB) of a mean squared error on [0, 1] pixels."""
    return 10 * math.log10(1.0 / max(mse, 1e-12))
