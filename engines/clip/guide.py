"""CLIP guidance: steer an image toward a prompt by the gradient of CLIP's similarity.

Each step embeds the current image (and `augment` randomly cropped, noised copies of it), takes
the cosine similarity to the prompt's embedding (minus half the similarity to a negative
prompt), and moves the generator's free variables up that gradient with Adam:

  pixels    a multi-scale image: the sum of upsampled 4x4, 8x8, ... full-size grids through a
            sigmoid; coarse levels move whole regions at once, so the picture forms from the
            large scale down instead of as high-frequency noise (the classic "CLIP art" set-up).
  vae       the latent z of a VAE decoder (a light pull toward the prior keeps z typical).
  stylegan  w of a StyleGAN (one w for every layer, or one per layer with per_layer=True),
            starting from the seed's w; a light pull toward w_avg.
  ddpm      CLIP-guided diffusion: DDIM with a cond_fn whose gradient is CLIP's gradient at the
            predicted x_0 (x_0 = (x_t - sqrt(1 - abar) eps) / sqrt(abar), eps held fixed), so CLIP
            always judges a clean-looking image rather than noise.

Random crops matter: without them the cheapest way up the gradient is an adversarial texture
that only this CLIP likes; averaging over crops asks for something that looks right from several
views. Same seed, same images: every random number comes from `runtime.generator(seed)`.
"""

from __future__ import annotations

import functools
import math
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from .. import families, runtime
from ..errors import UserError
from ..pictures import to_uint8
from .backends import Backend, check_text



class _Registry(Sequence):
    """A tuple read from the family registry on first use (engines.families: a family whose spec
    has `guide_candidates` is one CLIP guidance can steer); lazy, as the specs import this package."""

    def __init__(self, make):
        self._make, self._items = make, None

    def _all(self):
        if self._items is None:
            self._items = self._make()
        return self._items

    def __getitem__(self, i):
        return self._all()[i]

    def __len__(self) -> int:
        return len(self._all())

    def __eq__(self, other) -> bool:
        return tuple(self._all()) == tuple(other)

    def __hash__(self) -> int:
        return hash(tuple(self._all()))

    def __repr__(self) -> str:
        return repr(self._all())


class _Candidates(Mapping):
    def __getitem__(self, kind: str) -> int:
        return 1 if kind == "pixels" else families.get(kind).guide_candidates

    def __iter__(self):
        return iter(GENERATOR_KINDS)

    def __len__(self) -> int:
        return len(GENERATOR_KINDS)


# "pixels", then every family CLIP guidance can steer, in registry order ("vae", "stylegan", "ddpm").
GENERATOR_KINDS = _Registry(lambda: ("pixels", *(f.name for f in families.guidable())))
MAX_STEPS = 1000
MAX_STRENGTH = 100.0
MAX_AUGMENT = 16
MAX_CANDIDATES = 16
# Images steered side by side by default, the one CLIP ranks best kept (the tab's and the
# benchmarks' defaults; measured in benchmarks/clip_quality.py, see _optimise and _diffuse).
# Raw pixels: 1, a pixel image is the costly part of a step.
DEFAULT_CANDIDATES = _Candidates()  # pixels 1; each family's spec says its own (VAE / StyleGAN 4, DDPM 8)
PIXEL_SIZES = (16, 256)           # smallest and largest side for "pixels"
NEGATIVE_WEIGHT = 0.5             # how hard the negative prompt pushes, relative to the prompt
CROP_SCALE = (0.85, 1.0)          # side of a random crop, as a fraction of the image
AUG_NOISE = 0.03                  # pixel noise sigma on the augmented copies
# Adam learning rates at strength 1 (strength scales them), and the pull toward the prior.
# vae: 0.3 with the ResNet CLIP ("the digit N" through the MNIST VAE, n = 30: lr 0.05 / 0.1 / 0.2 / 0.3 gave
# 80 / 87 / 90 / 93%); stylegan: 0.1 for the MNIST StyleGAN of GPU session 4 (0.04 / 0.1 / 0.2 gave
# 53 / 80 / 57%; the StyleGAN before it: 0.04 gave 87%, 0.08 67%). Both tuned on the benchmark's own seeds.
# The noise-aware CLIP of session 7 kept these rates untuned: VAE 93%, StyleGAN 90%.
LR = {"pixels": 0.05, "vae": 0.3, "stylegan": 0.1}
PRIOR_WEIGHT = {"vae": 0.02, "stylegan": 0.02}
CONTRAST_SAME = 0.9               # contrast captions closer than this to the prompt are not its rivals
DDPM_X0_STEP = 1.5                # DDPM: how far one step's CLIP guidance moves the predicted x_0 (at t = T)
DDPM_GRAD_BLUR = 2.0              # DDPM: Gaussian blur of CLIP's gradient, in pixels of a 32x32 image, at t = T
# Work budgets in view-pixels: every step sends candidates x (1 + augment) views of an image through
# CLIP and back, each costing about max(image side, the tower's side)^2 (a DDPM step does it
# DDPM_RECURRENCE times). One step is one unit on the compute thread. The GenLab CLIP sees 64x64;
# a pretrained ViT 224x224 through a network ~100x bigger, so its budget is far lower: about 8 views
# a step and 100 such steps. On the 2-core CPU (busy with other jobs) 8 candidates x 5 views at 64
# px took 0.68 s a step with the GenLab CLIP.
MAX_STEP_WORK = {"genlab": 512 * 1024, "pretrained": 8 * 224 * 224}
MAX_RUN_STEPS_AT_MAX = {"genlab": 200, "pretrained": 100}  # whole run: this many steps at the step budget
DDPM_RECURRENCE = 3               # DDPM: each guided step taken this many times (noised back in between)
DDPM_FADE = 0.5                   # DDPM: the step fades as (1 - abar_t) ** DDPM_FADE toward the end
# (session-6 CLIP, 8 chains, 48 English prompts, seeds 5i: 0.25 / 0.5 / 0.75 gave 33 / 73 / 77% all right;
# 0.25 scratches rings into every shape; 0.5 against 0.75 is within this suite's noise)


@dataclass(frozen=True)
class GuideSetting:
    prompt: str
    negative: str = ""            # optional negative prompt (pushed away from)
    generator: str = "pixels"     # "pixels" or a checkpoint folder of a vae / stylegan / ddpm
    steps: int = 100              # 1..1000 optimiser (or DDIM) steps
    strength: float = 1.0         # guidance strength / learning-rate scale; finite, > 0
    seed: int = 0
    augment: int = 4              # random crops/augmentations per step (0 = none)
    size: int = 64                # output side for "pixels"; a generator's own size otherwise
    label: int | None = None      # optional class for a class-conditional ddpm
    per_layer: bool = False       # stylegan: one w per layer instead of one shared w
    candidates: int = 1           # images steered side by side (one batch); keeps the one CLIP scores best


@dataclass
class GuideFrame:
    step: int                     # 0..total
    total: int
    image: np.ndarray             # uint8 (H, W, C), the current image
    score: float                  # cosine similarity of the image to the prompt (the backend's)
    scores: list[float]           # the score at every step so far
    best_image: np.ndarray        # uint8, the best-scoring image so far
    best_score: float
    done: bool
    stopped: bool = False         # the run ended early because `stop` was set
    warning: UserError | None = None  # why a run ended early on its own (a non-finite score)
    elapsed_s: float = 0.0
    seconds_per_step: float = 0.0


def _number(value, what: str, low, high, *, integer: bool):
    try:
        v = float(value)
    except (TypeError, ValueError, OverflowError):
        raise UserError("value_out_of_range", what=what, low=low, high=high, value=value) from None
    if not math.isfinite(v):
        raise UserError("value_not_finite", what=what, value=value)
    if integer and v != int(v) or not low <= v <= high:
        raise UserError("value_out_of_range", what=what, low=low, high=high, value=value)
    return int(v) if integer else v


def check_setting(s: GuideSetting) -> GuideSetting:
    """Validate a setting -> the same setting with clean values; UserError on bad input."""
    prompt = check_text(s.prompt)
    negative = str(s.negative or "").strip()
    if negative:
        negative = check_text(negative)
    gen = str(s.generator or "").strip() or "pixels"
    if gen != "pixels" and not Path(gen).expanduser().is_dir():
        raise UserError("clip_generator_unknown", value=gen)
    steps = _number(s.steps, "steps", 1, MAX_STEPS, integer=True)
    strength = _number(s.strength, "strength", 0, MAX_STRENGTH, integer=False)
    if strength <= 0:
        raise UserError("value_out_of_range", what="strength", low="> 0", high=MAX_STRENGTH, value=s.strength)
    seed = runtime.check_seed(s.seed)
    augment = _number(s.augment, "augmentations", 0, MAX_AUGMENT, integer=True)
    size = _number(s.size, "size", *PIXEL_SIZES, integer=True)
    label = None if s.label is None or s.label == "" else _number(s.label, "label", 0, 999, integer=True)
    candidates = _number(s.candidates, "candidates", 1, MAX_CANDIDATES, integer=True)
    return replace(s, prompt=prompt, negative=negative, generator=gen, steps=steps, strength=strength, seed=seed,
                   augment=augment, size=size, label=label, per_layer=bool(s.per_layer), candidates=candidates)


# ------------------------------------------------------------------------------------------------
# Generators: free variables -> an image (1, C, H, W) in [0, 1]
# ------------------------------------------------------------------------------------------------


class PixelImage(torch.nn.Module):
    """k multi-scale images: sigmoid(sum over levels of the bilinear upsampling of a r x r grid)."""

    kind = "pixels"

    def __init__(self, size: int, gen: torch.Generator, device, k: int = 1):
        super().__init__()
        self.size = size
        sides = [r for r in (4, 8, 16, 32, 64, 128, 256) if r < size] + [size]
        draws = [[0.1 * torch.randn(1, 3, r, r, generator=gen) for r in sides] for _ in range(k)]  # image by image
        self.levels = torch.nn.ParameterList(
            [torch.nn.Parameter(torch.cat([d[i] for d in draws]).to(device)) for i in range(len(sides))])

    def params(self):
        return list(self.levels)

    def image(self) -> torch.Tensor:
        x = sum(F.interpolate(p, size=(self.size, self.size), mode="bilinear", align_corners=False)
                if p.shape[-1] != self.size else p for p in self.levels)
        return torch.sigmoid(x)

    def penalty(self) -> torch.Tensor:
        return torch.zeros(())


# k images side by side climb as each would alone: image i's start is the seed's i-th draw (the
# first is the image a run of one draws), the penalty is a sum of per-image terms, and Adam's
# steps are per element (only the random crops of augment > 0 differ from a run of one's).
class VAELatent(torch.nn.Module):
    kind = "vae"

    def __init__(self, engine, gen: torch.Generator, k: int = 1):
        super().__init__()
        self.engine = engine
        z = torch.cat([torch.randn(1, engine.latent_dim, generator=gen) for _ in range(k)])  # image by image
        self.z = torch.nn.Parameter(z.to(engine.device))

    def params(self):
        return [self.z]

    def image(self) -> torch.Tensor:
        return self.engine.model.decode(self.z)

    def penalty(self) -> torch.Tensor:
        # -log N(z; 0, I) up to a constant, per dimension
        return PRIOR_WEIGHT["vae"] * 0.5 * self.z.pow(2).mean(1).sum()


class StyleGANLatent(torch.nn.Module):
    kind = "stylegan"
    psi = 0.7  # the starting w is the seed's, truncated toward w_avg

    def __init__(self, engine, gen: torch.Generator, per_layer: bool, k: int = 1):
        super().__init__()
        self.engine = engine
        G = engine.G
        z = torch.cat([torch.randn(1, engine.z_dim, generator=gen) for _ in range(k)])  # image by image
        with torch.no_grad():
            w = G.mapping.truncate(G.mapping(z.to(engine.device)), self.psi)  # (k, w_dim)
        if per_layer:
            w = w[:, None].repeat(1, engine.num_ws, 1)  # (k, num_ws, w_dim)
        self.per_layer = per_layer
        self.w = torch.nn.Parameter(w.detach().clone())
        self.register_buffer("w_avg", G.mapping.w_avg.detach().clone())

    def params(self):
        return [self.w]

    def image(self) -> torch.Tensor:
        from ..stylegan import to_unit

        ws = self.w if self.per_layer else self.w[:, None].expand(-1, self.engine.num_ws, -1)
        return to_unit(self.engine.G.synthesis(ws, noise_mode="const"))

    def penalty(self) -> torch.Tensor:
        return PRIOR_WEIGHT["stylegan"] * (self.w - self.w_avg).pow(2).flatten(1).mean(1).sum()


@functools.lru_cache(maxsize=8)
def _engine(folder: str):
    """A generator's engine, loaded once per folder -> (family, engine)."""
    from .. import checkpoint

    ckpt = checkpoint.load(folder)
    if ckpt.family not in GENERATOR_KINDS[1:]:
        raise UserError("clip_generator_family", family=ckpt.family, value=folder)
    module = checkpoint.family_module(ckpt.family)
    engine = module.Engine(ckpt)
    # This engine is guidance's own copy: gradients flow through it to z / w / x, never into it.
    for m in (getattr(engine, "model", None), getattr(engine, "G", None)):
        if m is not None:
            m.requires_grad_(False)
    return ckpt.family, engine


def load_generator(folder: str):
    """(family, engine) for a vae / stylegan / ddpm checkpoint folder; cached."""
    return _engine(str(Path(folder).expanduser().resolve()))


def generator_choices(assets_dir=None) -> list[tuple[str, str]]:
    """(label, value) pairs: pixels, then every shipped vae / stylegan / ddpm checkpoint."""
    from ..checkpoint import ASSETS_DIR, list_assets

    root = Path(assets_dir) if assets_dir is not None else ASSETS_DIR
    out = [("pixels", "pixels")]
    for family in GENERATOR_KINDS[1:]:
        out += [(name, str(path)) for name, path in list_assets(family, root=root).items()]
    return out


# ------------------------------------------------------------------------------------------------
# The guidance loop
# ------------------------------------------------------------------------------------------------


def augment_views(x: torch.Tensor, n: int, gen: torch.Generator) -> torch.Tensor:
    """x (B, C, H, W) -> (B (1 + n), C, H, W): for each image, itself, then n random square crops
    of it (side CROP_SCALE of the image, anywhere inside it) resized back, with a little pixel
    noise. The views of image b are rows b (1 + n) .. b (1 + n) + n."""
    if n == 0:
        return x
    b = x.shape[0]
    scale = CROP_SCALE[0] + (CROP_SCALE[1] - CROP_SCALE[0]) * torch.rand(b * n, generator=gen)
    shift = (torch.rand(b * n, 2, generator=gen) * 2 - 1) * (1 - scale)[:, None]  # crop centre, in [-1, 1] units
    theta = torch.zeros(b * n, 2, 3)
    theta[:, 0, 0] = theta[:, 1, 1] = scale
    theta[:, :, 2] = shift
    theta = theta.to(x.device, x.dtype)
    grid = F.affine_grid(theta, (b * n, *x.shape[1:]), align_corners=False)
    views = F.grid_sample(x.repeat_interleave(n, dim=0), grid, mode="bilinear", padding_mode="reflection",
                          align_corners=False)
    noise = AUG_NOISE * torch.randn(views.shape, generator=gen).to(x.device, x.dtype)
    views = (views + noise).clamp(0, 1).view(b, n, *x.shape[1:])
    return torch.cat([x[:, None], views], dim=1).flatten(0, 1)


class _Tracker:
    """Scores, the best image so far, timing: what every frame reports."""

    def __init__(self, total: int, every: int):
        self.total, self.every = total, max(1, int(every))
        self.scores: list[float] = []
        self.best_score, self.best_image = -math.inf, None
        self.started = time.perf_counter()

    def add(self, image: np.ndarray, score: float) -> None:
        self.scores.append(score)
        if score > self.best_score or self.best_image is None:
            self.best_score, self.best_image = score, image

    def frame(self, step: int, image: np.ndarray, score: float, *, done: bool = False, stopped: bool = False,
              warning: UserError | None = None) -> GuideFrame:
        elapsed = time.perf_counter() - self.started
        best = self.best_image if self.best_image is not None else image
        return GuideFrame(step=step, total=self.total, image=image, score=score, scores=list(self.scores),
                          best_image=best, best_score=self.best_score if self.scores else score, done=done,
                          stopped=stopped, warning=warning, elapsed_s=elapsed,
                          seconds_per_step=elapsed / max(1, step))

    def wants(self, step: int) -> bool:
        return step % self.every == 0


def _blur(x: torch.Tensor, sigma: float) -> torch.Tensor:
    """Gaussian blur of (B, C, H, W) with reflection at the edges (sigma in pixels)."""
    if sigma < 0.3:
        return x
    r = max(1, min(int(3 * sigma), x.shape[-1] // 2 - 1))
    k = torch.exp(-0.5 * (torch.arange(-r, r + 1, dtype=x.dtype, device=x.device) / sigma) ** 2)
    k = k / k.sum()
    c = x.shape[1]
    x = F.conv2d(F.pad(x, (r, r, 0, 0), mode="reflect"), k.view(1, 1, 1, -1).expand(c, 1, 1, -1), groups=c)
    return F.conv2d(F.pad(x, (0, 0, r, r), mode="reflect"), k.view(1, 1, -1, 1).expand(c, 1, -1, 1), groups=c)


def _one(x: torch.Tensor) -> np.ndarray:
    return to_uint8(x[:1])[0]


def guide(backend: Backend, setting: GuideSetting, *, stop: threading.Event | None = None,
          every: int = 1) -> Iterator[GuideFrame]:
    """Steer an image toward `setting.prompt`; yields a frame every `every` steps and always a
    last one with done=True (also when `stop` is set, within a step, keeping the best image)."""
    s = check_setting(setting)
    if s.generator == "pixels":
        check_work(backend, s, s.size)  # before the prompt is embedded
    stop = stop or threading.Event()
    pos = backend.encode_texts([s.prompt])[0]  # (D,)
    neg = backend.encode_texts([s.negative])[0] if s.negative else None
    contrast = Objective(backend, pos, neg, contrast=True)  # the DDPM climbs it; the others rank with it
    if s.generator == "pixels":
        return _optimise(backend, s, Objective(backend, pos, neg), None, stop, every, contrast)
    family, engine = load_generator(s.generator)
    check_work(backend, s, engine.config.image_size, ddpm=family == "ddpm")
    if family == "ddpm":
        return _diffuse(backend, s, contrast, engine, stop, every)
    return _optimise(backend, s, Objective(backend, pos, neg), (family, engine), stop, every, contrast)


def check_work(backend: Backend, s: GuideSetting, side: int, *, ddpm: bool = False) -> None:
    """UserError clip_work unless a run of setting `s` (checked) on images of `side` pixels fits the
    backend's budgets: MAX_STEP_WORK per step and MAX_RUN_STEPS_AT_MAX such steps in all."""
    kind = "genlab" if backend.kind == "genlab" else "pretrained"
    views = s.candidates * (1 + s.augment)
    per_step = views * max(side, backend.image_size) ** 2 * (DDPM_RECURRENCE if ddpm else 1)
    steps = s.steps
    most = MAX_STEP_WORK[kind] * MAX_RUN_STEPS_AT_MAX[kind]
    if per_step > MAX_STEP_WORK[kind] or per_step * steps > most:
        raise UserError("clip_work", candidates=s.candidates, views=1 + s.augment, steps=steps,
                        work=per_step * steps, max_work=most, step_work=per_step, max_step=MAX_STEP_WORK[kind])


class Objective:
    """What guidance climbs, for one prompt (and optional negative prompt).

    contrast=True (the DDPM uses it) and a list of contrast captions (the GenLab CLIP has one:
    `Backend.contrast`): the log-probability
    of the prompt in a softmax over the prompt, the negative prompt and those captions, at the CLIP's
    own logit scale: CLIP as a zero-shot classifier, and guidance as classifier guidance. Its gradient
    goes to what still tells the image apart from its closest rivals ("a red square ..." for a red
    circle) and fades for what is already right, where the plain cosine's goes mostly to whatever
    moves it most (a colour). Captions nearly the same as the prompt (cosine above CONTRAST_SAME: the
    same words in the other language) are left out: they are not rivals. Otherwise (a pretrained
    CLIP has no list), the cosine similarity to the prompt, minus NEGATIVE_WEIGHT x the negative's.
    The score shown is always the cosine to the prompt. Measured with the shipped CLIP: on the
    shapes DDPM the log-probability beat the cosine; through the MNIST VAE it lost ("the digit N"
    classified as N: 77% against 93% with the older CLIP, 80% against 87% with this one), so
    the optimised generators (pixels, VAE z, StyleGAN w) climb the cosine."""

    def __init__(self, backend: Backend, pos: torch.Tensor, neg: torch.Tensor | None, *, contrast: bool = False):
        self.backend, self.pos, self.neg = backend, pos, neg
        bank = backend.contrast() if contrast else None
        self.texts = None
        if bank is not None:
            bank = bank[bank @ pos < CONTRAST_SAME]
            head = [pos[None]] + ([neg[None]] if neg is not None else [])
            self.texts = torch.cat(head + [bank])  # (T, D): prompt, negative?, rivals
            self.scale = backend.logit_scale

    def per_image(self, views: torch.Tensor, images: int):
        """views (V, C, H, W) of `images` images, V / images views each (as augment_views lays
        them out), embedded in one batch -> (each image's objective, the mean over its views;
        the cosine of each image's first view to the prompt), both (images,)."""
        emb = self.backend.encode_images(views)  # (V, D)
        each = self._each(emb).view(images, -1).mean(1)
        return each, emb.view(images, -1, emb.shape[-1])[:, 0] @ self.pos

    def _each(self, emb: torch.Tensor) -> torch.Tensor:
        """(V, D) image embeddings -> (V,) the objective of each."""
        if self.texts is None:
            out = emb @ self.pos
            return out - NEGATIVE_WEIGHT * (emb @ self.neg) if self.neg is not None else out
        logp = (self.scale * emb @ self.texts.t()).log_softmax(-1)  # (V, T)
        return logp[:, 0] - NEGATIVE_WEIGHT * logp[:, 1] if self.neg is not None else logp[:, 0]

    def rank(self, images: torch.Tensor) -> tuple[list[float], list[float]]:
        """(N, C, H, W) finished images -> (the objective of each, the cosine of each to the prompt)."""
        emb = self.backend.encode_images(images)
        return self._each(emb).tolist(), (emb @ self.pos).tolist()


def _optimise(backend, s: GuideSetting, objective_of: Objective, loaded, stop, every,
              ranker: Objective) -> Iterator[GuideFrame]:
    """Adam on a generator's free variables (pixels, z or w) for `s.candidates` images side by
    side, in one batch; frames show the one with the highest score at that step. Each image's
    best-scoring state is kept, and a finished run of several keeps the one `ranker` values most.

    Why a ranker: the cosine is the better thing to climb through a VAE or StyleGAN (see
    `Objective`) but a poor judge of which of several results is right. "The digit N", 4 images
    each, 30 prompts, the shipped CLIP, judged by the MNIST classifier: one image alone right 81%
    (VAE, Chinese prompts) / 73% (StyleGAN, English); the one with the best cosine, 77% / 67%; the
    best log-probability among the CLIP's captions (ranker = Objective(contrast=True)), 87% / 97%."""
    dev = backend.device
    gen = runtime.generator(s.seed)
    k = s.candidates
    if loaded is None:
        target = PixelImage(s.size, gen, dev, k)
    elif loaded[0] == "vae":
        target = VAELatent(loaded[1], gen, k)
    else:
        target = StyleGANLatent(loaded[1], gen, s.per_layer, k)
    opt = torch.optim.Adam(target.params(), lr=LR[target.kind] * s.strength)
    track = _Tracker(s.steps, every)
    image, score = None, float("nan")
    tops = [-math.inf] * k  # each image's best score so far, and that state
    kept = None  # (k, C, H, W)

    def finish(step: int, stopped: bool) -> GuideFrame:
        if k > 1:
            with runtime.compute():
                values, _ = ranker.rank(kept)
            best = int(np.argmax(values))
            track.best_score, track.best_image = tops[best], _one(kept[best:best + 1])
            track.scores[-1] = tops[best]
            return track.frame(step, track.best_image, tops[best], done=True, stopped=stopped)
        return track.frame(step, image, score, done=True, stopped=stopped)

    for step in range(s.steps + 1):
        if stop.is_set() and image is not None:
            yield finish(step - 1, True)
            return
        with runtime.COMPUTE_LOCK, torch.enable_grad():
            x = target.image()  # (k, C, H, W)
            last = step == s.steps
            views = augment_views(x, 0 if last else s.augment, gen)
            objective, scores = objective_of.per_image(views, k)  # (k,), (k,)
            loss = -objective.sum() + target.penalty()
            values = scores.detach().tolist()
            finite = all(math.isfinite(v) for v in values)
            best = int(np.argmax(values)) if finite else 0
            score = values[best]
            image = _one(x[best:best + 1])
            if not (finite and math.isfinite(float(loss.detach()))):
                yield track.frame(step, image, float("nan"), done=True,
                                  warning=UserError("clip_guide_nonfinite", step=step))
                return
            track.add(image, score)
            better = torch.tensor([v > t for v, t in zip(values, tops)], device=x.device)
            kept = x.detach().clone() if kept is None else torch.where(better[:, None, None, None], x.detach(), kept)
            tops = [max(v, t) for v, t in zip(values, tops)]
            if not last:
                opt.zero_grad(set_to_none=True)
                runtime.give_way()  # between the step's forward and its backward: sliders first
                loss.backward()
                opt.step()
        if last:
            yield finish(step, False)
            return
        if track.wants(step):
            yield track.frame(step, image, score)


def _diffuse(backend, s: GuideSetting, objective_of: Objective, engine, stop, every) -> Iterator[GuideFrame]:
    """CLIP-guided DDIM over `s.candidates` chains in one batch; frames show the chain CLIP
    scores best at that step, and a finished run keeps the best-scoring final sample.

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
    from ..diffusion.process import to_unit

    process, model, c = engine.process, engine.model, engine.config
    steps = min(s.steps, process.T)
    k = s.candidates
    gen = runtime.generator(s.seed, engine.device)
    aug_gen = runtime.generator(s.seed)
    y = None
    if s.label is not None:
        y = engine.labels_for(k, s.label).to(engine.device)
    guidance = float(engine.card.get("default_guidance", 1.0)) if y is not None else 1.0
    last_scores = [[float("nan")] * k]
    track = _Tracker(steps, every)

    def cond_fn(x: torch.Tensor, t: torch.Tensor, eps: torch.Tensor) -> torch.Tensor:
        # CLIP judges each chain's predicted x_0 (x_t and the sampler's eps held fixed), never the
        # noisy x_t. Its gradient, given unit RMS per pixel for each chain, moves that x_0 by
        # DDPM_X0_STEP x strength x sqrt(1 - abar) (in [-1, 1] units): strongly while x_t is
        # mostly noise (the layout is being decided), fading to nothing at the end, so the model
        # itself cleans up what the gradient scratched in. The gradient is blurred first, by a
        # Gaussian of DDPM_GRAD_BLUR x (1 - abar) pixels (at 32x32): while the sampler is deciding
        # the layout, a pixel-sharp gradient only scratches in the texture a small CLIP likes.
        # Each step is taken DDPM_RECURRENCE times (process.ddim's recurrence). On the shapes
        # suite (48 English prompts, 4 samples, the shipped CLIP), all three attributes right:
        # blur 2 x sqrt(1 - abar) with the step doubled to 1.0, 48%; blur 2 x (1 - abar), 56%;
        # and recurrence 2, 73% (3: 75%). A half-trained checkpoint of this CLIP: 17% without
        # the blur, 40% with it. With the leaner shapes DDPM of GPU session 4 (half the UNet's
        # time per step), recurrence 2 and step 1.0 fell to 56%; step 1.5, 67%; recurrence 3,
        # 69%; both, 75%.
        # DDIM turns a returned g into a shift of x_0 by (1 - abar) / sqrt(abar) g, so a shift d
        # is returned as d sqrt(abar) / (1 - abar).
        ab = process.abar(t, x)  # (B, 1, 1, 1)
        img = to_unit(process.predict_x0(x, t, eps))  # differentiable in x
        # Every chain's views go through CLIP in one batch (twice as fast on a CPU as one call per chain).
        objective, score = objective_of.per_image(augment_views(img, s.augment, aug_gen), len(img))
        last_scores[0] = score.detach().tolist()
        grad = torch.autograd.grad(objective.sum(), x)[0]
        grad = _blur(grad, DDPM_GRAD_BLUR * float((1 - ab).max()) * grad.shape[-1] / 32)
        rms = grad.pow(2).mean((1, 2, 3), keepdim=True).sqrt().clamp_min(1e-12)  # per chain
        shift = grad / rms * DDPM_X0_STEP * s.strength * (1 - ab) ** DDPM_FADE
        return shift * ab.sqrt() / (1 - ab)

    shape = (k, c.channels, c.image_size, c.image_size)
    image, score, step = None, float("nan"), 0
    with torch.inference_mode(False):
        run = process.ddim(model, shape, gen=gen, steps=steps, eta=0.0, y=y, guidance=guidance, cond_fn=cond_fn,
                           recurrence=DDPM_RECURRENCE)
        for st in run:
            step = st.index + 1
            best = int(np.argmax(last_scores[0]))
            image, score = _one(to_unit(st.x0_pred[best:best + 1])), last_scores[0][best]
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
    with runtime.compute():
        values, finals = objective_of.rank(final)
    best = int(np.argmax(values))  # the sample guidance's own objective likes best
    score, image = float(finals[best]), _one(final[best:best + 1])
    track.scores[-1] = score
    # A finished run keeps its best sample, whatever the guesses along the way scored: the x_0
    # predictions before it are not samples, and the one CLIP liked most is often one that the
    # gradient scratched into.
    track.best_score, track.best_image = score, image
    yield track.frame(steps, image, score, done=True)


def run_to_end(backend: Backend, setting: GuideSetting, stop: threading.Event | None = None) -> GuideFrame:
    """The last frame of a guidance run (the command line and benchmarks)."""
    last = None
    for last in guide(backend, setting, stop=stop, every=max(1, setting.steps if isinstance(setting.steps, int) else 1)):
        pass
    return last


__all__ = [
    "GENERATOR_KINDS",
    "GuideFrame",
    "GuideSetting",
    "augment_views",
    "check_setting",
    "generator_choices",
    "guide",
    "load_generator",
    "run_to_end",
]
