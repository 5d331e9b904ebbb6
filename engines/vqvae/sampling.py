"""Sampling the prior token by token: temperature, top-k, top-p, a key-value cache, a region again.

p(t) = prod_i p(t_i | class, t_<i) over the raster-ordered grid. Each step reads the logits of the
next position over the K codes, divides them by the temperature, keeps the k most likely
(top-k, 0: all) and then the smallest set whose probability reaches p (top-p, nucleus sampling,
Holtzman et al. 2020), and draws from what is left with the request's generator.

With the cache (GPT-2's past_key_values) each step feeds only the new token: the keys and values
of earlier positions are kept, so a step costs one position's work, not the whole prefix's.
Without it each step feeds the whole sequence again; the tokens are the same (a test checks).

A region is resampled by walking the grid in raster order: a kept token is fed as it is, a masked
one is drawn afresh given everything before it. Runs of kept tokens go through in one call.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Iterator
from dataclasses import dataclass

import torch

from ..errors import UserError

MAX_TEMPERATURE = 10.0


@dataclass(frozen=True)
class Settings:
    temperature: float = 1.0   # > 0: divides the logits (below 1 sharper, above 1 flatter)
    top_k: int = 0             # keep the k most likely codes (0: all)
    top_p: float = 1.0         # keep the smallest set of codes whose probability reaches p (1: all)

    def checked(self, codebook_size: int) -> "Settings":
        """The settings with numbers of the right type, or UserError vq_temperature / vq_top_k / vq_top_p."""
        t = _number(self.temperature)
        if not (math.isfinite(t) and 0 < t <= MAX_TEMPERATURE):
            raise UserError("vq_temperature", value=self.temperature, high=MAX_TEMPERATURE)
        p = _number(self.top_p)
        if not (math.isfinite(p) and 0 < p <= 1):
            raise UserError("vq_top_p", value=self.top_p)
        k = _number(self.top_k)
        if not (math.isfinite(k) and k == int(k) and 0 <= k <= codebook_size):
            raise UserError("vq_top_k", value=self.top_k, high=codebook_size)
        return Settings(float(t), int(k), float(p))


def _number(x) -> float:
    try:
        return float(x)
    except (TypeError, ValueError, OverflowError):
        return math.nan


def filtered_probs(logits: torch.Tensor, s: Settings) -> torch.Tensor:
    """logits (B, K) -> the distribution sampled from (B, K): temperature, then top-k, then top-p."""
    logits = logits.float() / s.temperature
    if 0 < s.top_k < logits.shape[-1]:
        kth = logits.topk(s.top_k, dim=-1).values[:, -1:]
        logits = logits.masked_fill(logits < kth, -math.inf)
    probs = logits.softmax(-1)
    if s.top_p < 1:
        sorted_p, order = probs.sort(-1, descending=True)
        before = sorted_p.cumsum(-1) - sorted_p          # mass of the codes more likely than this one
        drop_sorted = before >= s.top_p                   # the most likely code is always kept
        drop = torch.zeros_like(drop_sorted).scatter(-1, order, drop_sorted)
        probs = probs.masked_fill(drop, 0.0)
        probs = probs / probs.sum(-1, keepdim=True)
    return probs


@contextlib.contextmanager
def one_thread():
    """torch on one thread for a step of the prior. Its matrices are tiny (16 x 128 by 128 x 384): on
    two threads of a busy 2-core CPU a step took 70-100 ms (the OpenMP threads wait for each other),
    on one 3 ms. Callers hold the compute lock, so no other model runs while the count is changed."""
    threads = torch.get_num_threads()
    if threads != 1:
        torch.set_num_threads(1)
    try:
        yield
    finally:
        if threads != 1:
            torch.set_num_threads(threads)


@dataclass
class Step:
    """One sampled position: the grid so far (-1 where not yet sampled) and image 0's candidates."""

    position: int                      # raster index just sampled
    tokens: torch.Tensor               # (B, L) long; -1 at positions not sampled yet
    candidates: list[tuple[int, float]]  # image 0's most likely next codes (code, probability), filtered
    chosen: int                        # the code image 0 got there


def steps(prior, codebook_size: int, begin: torch.Tensor, length: int, settings: Settings,
          gen: torch.Generator, *, keep: torch.Tensor | None = None, resample: torch.Tensor | None = None,
          cache: bool = True, top: int = 0) -> Iterator[Step]:
    """Sample tokens after `begin` (B,) -> yields a Step per sampled position.

    keep (B, L) and resample (L,) bool: positions where resample is False keep keep's token;
    without them every position is sampled. The begin token is never among the tokens.
    top: how many candidates of image 0 each Step lists.
    """
    b, device = begin.shape[0], begin.device
    sample_at = torch.ones(length, dtype=torch.bool) if resample is None else resample.cpu().bool()
    seq = torch.full((b, length + 1), -1, dtype=torch.long, device=device)   # [begin, t_0 .. t_{L-1}]
    seq[:, 0] = begin
    if keep is not None:  # kept tokens are in the grid from the start (the view shows them)
        seq[:, 1:] = torch.where(sample_at.to(device)[None], -1, keep)
    past, fed = None, 0                                                      # seq[:, :fed] is in the cache
    pos = 0
    while pos < length:
        nxt = pos
        while nxt < length and not sample_at[nxt]:  # a run of kept tokens: fed with the next call
            nxt += 1
        if nxt == length:
            break
        # logits for token nxt come from the input at sequence index nxt (the token before it)
        with one_thread():
            if cache:
                out = prior(input_ids=seq[:, fed:nxt + 1], past_key_values=past, use_cache=True)
                past, fed = out.past_key_values, nxt + 1
            else:
                out = prior(input_ids=seq[:, :nxt + 1], use_cache=False)
            probs = filtered_probs(out.logits[:, -1, :codebook_size], settings)
            token = torch.multinomial(probs, 1, generator=gen)[:, 0]
        seq[:, nxt + 1] = token
        candidates = []
        if top:
            p, k = probs[0].topk(min(top, codebook_size))
            candidates = [(int(ki), float(pi)) for ki, pi in zip(k, p) if pi > 0]
        yield Step(nxt, seq[:, 1:].clone(), candidates, int(token[0]))
        pos = nxt + 1


def sample(prior, codebook_size: int, begin: torch.Tensor, length: int, settings: Settings,
           gen: torch.Generator, **kwargs) -> torch.Tensor:
    """All of `steps` at once -> tokens (B, L) (kept tokens where a region is resampled)."""
    keep = kwargs.get("keep")
    tokens = keep.clone() if keep is not None else None
    for step in steps(prior, codebook_size, begin, length, settings, gen, **kwargs):
        tokens = step.tokens
    return tokens
