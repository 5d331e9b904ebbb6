"""CLIP-guided diffusion: the DDPM spec's `guide_run` (engines.clip.guide calls it).

DDIM with a cond_fn whose gradient is CLIP's gradient at the predicted x_0 (x_0 = (x_t - sqrt(1 -
abar) eps) / sqrt(abar), eps held fixed), so CLIP always judges a clean-looking image rather than noise.
"""

from __future__ import annotations

import math
from collections.abc import Iterator

import numpy as np
import torch

from .. import runtime
from ..errors import UserError

X0_STEP = 1.5      # how far one step's CLIP guidance moves the predicted x_0 (at t = T)
GRAD_BLUR = 2.0    # Gaussian blur of CLIP's gradient, in pixels of a 32x32 image, at t = T
RECURRENCE = 3     # each guided step taken this many times (noised back in between): the spec's guide_repeats
FADE = 0.5         # the step fades as (1 - abar_t) ** FADE toward the end
# (session-6 CLIP, 8 chains, 48 English prompts, seeds 5i: 0.25 / 0.5 / 0.75 gave 33 / 73 / 77% all right;
# 0.25 scratches rings into every shape; 0.5 against 0.75 is within this suite's noise)


def run(backend, s, objective_of, engine, stop, every) -> Iterator:
    """CLIP-guided DDIM over `s.candidates` chains in one batch; frames (engines.clip.guide.GuideFrame)
    show the chain CLIP scores best at that step, and a finished run keeps the best-scoring final sample.

    Why several: with the session-6 CLIP one guided chain got colour, shape and position all
    right in 43% of the shapes suite's cases (48 English prompts, seeds 3i, 12 chains each, judged
    by the attribute CNN); the one CLIP ranked best of 2 / 4 / 6 / 8 / 12 chains, in 60 / 74 / 81 /
    85 / 88%, and at least one of the 12 was right in every case. Ranking by the cosine, over more
    crops, with a softer softmax or by a second CLIP did no better; nor did pruning 8 or 12 chains
    to 4 early on by their x_0 scores (those scores predict the end poorly). Its log-probabilities
    of the prompt sat near 0 for most chains, stars and diamonds alike: it could not tell this
    DDPM's blurry shapes apart. The noise-aware CLIP shipped since (trained on this DDPM's x_0
    guesses, train.make_loss(x0_from=)) gets 74% of single chains right on seeds 5i (the one
    before: 40%), 83% after choosing among 8. The tab's default is 8."""
    from ..clip.guide import Tracker, first_image
    from .process import to_unit

    process, c = engine.process, engine.config
    steps = min(s.steps, process.T)
    k = s.candidates
    gen = runtime.generator(s.seed, engine.device)
    y = engine.labels_for(k, s.label).to(engine.device) if s.label is not None else None
    guidance = float(engine.card.get("default_guidance", 1.0)) if y is not None else 1.0
    last_scores = [[float("nan")] * k]
    track = Tracker(steps, every)
    cond_fn = _cond_fn(process, s, objective_of, runtime.generator(s.seed), last_scores)
    with torch.inference_mode(False):
        sampler = process.ddim(engine.model, (k, c.channels, c.image_size, c.image_size), gen=gen, steps=steps,
                               eta=0.0, y=y, guidance=guidance, cond_fn=cond_fn, recurrence=RECURRENCE)
        for st in sampler:
            step = st.index + 1
            best = int(np.argmax(last_scores[0]))
            image, score = first_image(to_unit(st.x0_pred[best:best + 1])), last_scores[0][best]
            if not all(math.isfinite(v) for v in last_scores[0]):
                yield track.frame(step, image, score, done=True, warning=UserError("clip_guide_nonfinite", step=step))
                return
            track.add(image, score)
            if stop.is_set():
                yield track.frame(step, image, score, done=True, stopped=True)
                return
            if track.wants(step) and step < steps:
                yield track.frame(step, image, score)
        final = to_unit(st.x_prev)
    yield _final(objective_of, track, final, steps)


def _cond_fn(process, s, objective_of, aug_gen, last_scores):
    """The sampler's cond_fn(x, t, eps) -> CLIP's step for x_t (each chain's scores left in last_scores[0]).

    CLIP judges each chain's predicted x_0 (x_t and the sampler's eps held fixed), never the
    noisy x_t. Its gradient, given unit RMS per pixel for each chain, moves that x_0 by
    X0_STEP x strength x sqrt(1 - abar) (in [-1, 1] units): strongly while x_t is mostly noise
    (the layout is being decided), fading to nothing at the end, so the model itself cleans up
    what the gradient scratched in. The gradient is blurred first, by a Gaussian of GRAD_BLUR x
    (1 - abar) pixels (at 32x32): while the sampler is deciding the layout, a pixel-sharp gradient
    only scratches in the texture a small CLIP likes. Each step is taken RECURRENCE times
    (process.ddim's recurrence). On the shapes suite (48 English prompts, 4 samples, the shipped
    CLIP), all three attributes right: blur 2 x sqrt(1 - abar) with the step doubled to 1.0, 48%;
    blur 2 x (1 - abar), 56%; and recurrence 2, 73% (3: 75%). A half-trained checkpoint of this
    CLIP: 17% without the blur, 40% with it. With the leaner shapes DDPM of GPU session 4 (half the
    UNet's time per step), recurrence 2 and step 1.0 fell to 56%; step 1.5, 67%; recurrence 3,
    69%; both, 75%. DDIM turns a returned g into a shift of x_0 by (1 - abar) / sqrt(abar) g, so a
    shift d is returned as d sqrt(abar) / (1 - abar)."""
    from ..clip.guide import augment_views, blur
    from .process import to_unit

    def cond_fn(x: torch.Tensor, t: torch.Tensor, eps: torch.Tensor) -> torch.Tensor:
        ab = process.abar(t, x)  # (B, 1, 1, 1)
        img = to_unit(process.predict_x0(x, t, eps))  # differentiable in x
        # Every chain's views go through CLIP in one batch (twice as fast on a CPU as one call per chain).
        objective, score = objective_of.per_image(augment_views(img, s.augment, aug_gen), len(img))
        last_scores[0] = score.detach().tolist()
        grad = torch.autograd.grad(objective.sum(), x)[0]
        grad = blur(grad, GRAD_BLUR * float((1 - ab).max()) * grad.shape[-1] / 32)
        rms = grad.pow(2).mean((1, 2, 3), keepdim=True).sqrt().clamp_min(1e-12)  # per chain
        shift = grad / rms * X0_STEP * s.strength * (1 - ab) ** FADE
        return shift * ab.sqrt() / (1 - ab)

    return cond_fn


def _final(objective_of, track, final: torch.Tensor, steps: int):
    """The last frame: of the final samples (k, C, H, W), the one guidance's own objective likes best."""
    from ..clip.guide import first_image

    with runtime.compute():
        values, finals = objective_of.rank(final)
    best = int(np.argmax(values))
    score, image = float(finals[best]), first_image(final[best:best + 1])
    track.scores[-1] = score
    # A finished run keeps its best sample, whatever the guesses along the way scored: the x_0
    # predictions before it are not samples, and the one CLIP liked most is often one that the
    # gradient scratched into.
    track.best_score, track.best_image = score, image
    return track.frame(steps, image, score, done=True)
