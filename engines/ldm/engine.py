"""The latent diffusion engine: prompts in, a stream of DDIM steps out (numpy), and what the words did.

    engine = Engine.load("assets/scenes-ldm")
    engine.tokens("a red circle")                 -> ["[CLS]", "a", "red", "circle", "[SEP]"]
    engine.never_seen("a cat on a sofa")          -> ["cat", "on", "sofa"]
    for frame in engine.sample("a red circle", n=4, seed=0, steps=50, guidance=3.0): ...
    images, frames = engine.generate("a red circle", n=4, seed=0)

Each `Frame` holds the step's cheap preview (the fitted linear latent -> RGB map on the predicted
clean latent and on the current latent, 16x16 shown at 64x64), the cross-attention maps of that
step per token (averaged over heads and over the layers at the 16x16 latent side; each pixel's
weights sum to 1 over the prompt's tokens) and, on the last frame, the decoded images.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Iterator

import numpy as np
import torch
import torch.nn.functional as F

from .. import runtime
from ..errors import UserError
from ..families import CheckpointEngine
from ..pictures import to_uint8
from . import FAMILY, make_process
from .model import Conditioned

MAX_N = 16             # images per call
MAX_STEPS = 1000       # DDIM steps (never above the model's timesteps)
MAX_GUIDANCE = 20.0
DEFAULT_STEPS = 50
DEFAULT_GUIDANCE = 3.0


@dataclass
class Frame:
    index: int                    # 0..count-1
    count: int                    # steps in this run
    t: int                        # timestep of the latent entering the step
    preview: np.ndarray           # uint8 (n, 64, 64, 3): the linear decode of the predicted clean latent
    latent: np.ndarray            # uint8 (n, 64, 64, 3): the linear decode of the latent leaving the step
    attention: np.ndarray         # float32 (n, T, 16, 16): each token's weight at each latent pixel
    images: np.ndarray | None = None   # uint8 (n, 64, 64, 3): the decoder's output, last frame only


class Engine(CheckpointEngine):
    FAMILY = FAMILY

    def __init__(self, ckpt, device=None):
        super().__init__(ckpt, device)
        from ..scenes.text import Vocabulary

        tokens = self.card.get("vocabulary")
        if not isinstance(tokens, list) or len(tokens) != self.config.vocab_size:
            raise UserError("checkpoint_bad_config", family=FAMILY, reason="the card's vocabulary does not fit "
                                                                          "the text encoder's vocab_size")
        self.vocab = Vocabulary(tuple(str(t) for t in tokens))
        self.process = make_process(self.config)

    # -- words ------------------------------------------------------------------------------------

    def never_seen(self, prompt: str) -> list[str]:
        """The prompt's words this model's vocabulary lacks, each once, in order."""
        from ..scenes.text import split_words

        ids = self.vocab.ids
        return list(dict.fromkeys(w for w, known in split_words(str(prompt)) if not known or w not in ids))

    def tokens(self, prompt: str) -> list[str]:
        """What the text encoder reads: [CLS], the words (unknown ones as [UNK]), [SEP]."""
        return [self.vocab.tokens[i] for i in self.vocab.encode(str(prompt), self.config.max_tokens)]

    def check_prompts(self, prompts, n) -> list[str]:
        """One prompt or one per image -> n prompts; bilingual UserErrors for what cannot be drawn."""
        from ..scenes.text import split_words

        n = _check_int(n, 1, MAX_N, "ldm_n")
        prompts = [prompts] if isinstance(prompts, str) else list(prompts or [])
        if len(prompts) not in (1, n):
            raise UserError("ldm_prompts_count", count=len(prompts), n=n)
        for p in prompts:
            if not isinstance(p, str):
                raise UserError("ldm_prompt_not_text", value=repr(p)[:40])
            words = split_words(p)
            if not words:
                raise UserError("ldm_prompt_empty")
            limit = self.config.max_tokens - 2
            if len(words) > limit:
                raise UserError("ldm_prompt_too_long", words=len(words), max=limit, tokens=self.config.max_tokens)
            unknown = self.never_seen(p)
            if unknown:
                raise UserError("ldm_never_seen", words=", ".join(unknown[:10]))
        return prompts * n if len(prompts) == 1 else prompts

    # -- sampling ---------------------------------------------------------------------------------

    def check_setting(self, steps, guidance) -> tuple[int, float]:
        steps = _check_int(steps, 1, min(MAX_STEPS, self.config.timesteps), "ldm_steps")
        try:
            g = float(guidance)
        except (TypeError, ValueError):
            g = math.nan
        if not (math.isfinite(g) and 0.0 <= g <= MAX_GUIDANCE):
            raise UserError("ldm_guidance", max=MAX_GUIDANCE, value=guidance)
        return steps, g

    @torch.no_grad()
    def condition(self, prompts: list[str], record: bool = False) -> Conditioned:
        """The UNet with the prompts' token embeddings (and the empty prompt's, last) as its labels."""
        ids, mask = self.vocab.batch(list(prompts) + [""], self.config.max_tokens)
        ids, mask = ids.to(self.device), mask.to(self.device)
        return Conditioned(self.model.unet, self.model.encode_text(ids, mask), mask, record=record)

    def sample(self, prompts, n: int = 1, seed: int = 0, steps: int = DEFAULT_STEPS,
               guidance: float | None = None) -> Iterator[Frame]:
        """DDIM (eta 0) with classifier-free guidance, one `Frame` per step. Inputs are checked
        before the first step."""
        prompts = self.check_prompts(prompts, n)
        steps, g = self.check_setting(steps, self.default_guidance if guidance is None else guidance)
        seed = runtime.check_seed(seed)
        return self._frames(prompts, seed, steps, g)

    @property
    def default_guidance(self) -> float:
        return float(self.card.get("default_guidance", DEFAULT_GUIDANCE))

    def _frames(self, prompts, seed, steps, g) -> Iterator[Frame]:
        # The compute context (its lock, inference mode) is entered for each step, never held across
        # a yield: a reader that stops early would leave its thread locked and in inference mode.
        n, c = len(prompts), self.config
        with runtime.compute():
            cond = self.condition(prompts, record=True)
        gen = runtime.generator(seed, self.device)
        shape = (n, c.latent_channels, c.latent_side, c.latent_side)
        run = self.process.ddim(cond, shape, gen=gen, steps=steps, y=torch.arange(n, device=self.device),
                                guidance=g)
        while True:
            with runtime.compute():
                step = next(run, None)
                frame = None if step is None else self._frame(step, _attention(cond.maps, n, c.latent_side))
            if frame is None:
                return
            yield frame

    @torch.no_grad()
    def _frame(self, step, maps) -> Frame:
        def rgb(z):
            return to_uint8(F.interpolate(self.model.preview(z), size=64, mode="nearest"))

        images = None
        if step.t_prev < 0:
            images = to_uint8(self.model.decode_latents(step.x_prev))
        return Frame(step.index, step.count, step.t, rgb(step.x0_pred), rgb(step.x_prev), maps, images)

    def generate(self, prompts, n: int = 1, seed: int = 0, steps: int = DEFAULT_STEPS,
                 guidance: float | None = None) -> tuple[np.ndarray, list[Frame]]:
        """Run `sample` to its end -> (uint8 (n, 64, 64, 3) images, every frame)."""
        frames = list(self.sample(prompts, n, seed, steps, guidance))
        return frames[-1].images, frames

    def word_maps(self, frames: list[Frame], prompt: str, step: int, image: int = 0) -> list[tuple[str, np.ndarray]]:
        """[(word, (16, 16) map)] of one image at one step: the prompt's words, [CLS] and [SEP] left out."""
        step = _check_int(step, 0, len(frames) - 1, "ldm_step_index")
        maps = frames[step].attention[image]
        toks = self.tokens(prompt)
        return [(w, maps[i]) for i, w in enumerate(toks) if w not in ("[CLS]", "[SEP]")]


def _attention(maps: list, n: int, side: int) -> np.ndarray:
    """A step's cross-attention weights at the latent's side, the first n rows (the conditional
    half of a guided batch), averaged over layers -> float32 (n, T, side, side)."""
    at_side = [w[:n] for w in maps if w.shape[-1] == side]
    if not at_side:
        return np.zeros((n, 0, side, side), np.float32)
    return torch.stack(at_side).mean(0).float().cpu().numpy()


def _check_int(value, low: int, high: int, key: str) -> int:
    try:
        v = float(value)
    except (TypeError, ValueError):
        v = math.nan
    if isinstance(value, bool) or not math.isfinite(v) or v != int(v) or not low <= v <= high:
        raise UserError(key, value=value, max=high, high=high)
    return int(v)
