"""CLIP guidance: steer an image toward a prompt by the gradient of CLIP's similarity.

Each step embeds the current image (and `augment` randomly cropped, noised copies of it), takes
the cosine similarity to the prompt's embedding (minus half the similarity to a negative
prompt), and moves the generator's free variables up that gradient with Adam:

  pixels    a multi-scale image: the sum of upsampled 4x4, 8x8, ... full-size grids through a
            sigmoid; coarse levels move whole regions at once, so the picture forms from the
            large scale down instead of as high-frequency noise (the classic "CLIP art" set-up).
  a family  whatever its spec's `guide_target(engine, gen, setting, k)` returns: a module with
            `lr` (Adam's rate at strength 1), `params()`, `image()` (k, C, H, W) in [0, 1] and
            `penalty()` (a VAE's latent z, a StyleGAN's w); or its spec's `guide_run`, a guided
            loop of its own (the DDPM's: DDIM with CLIP's gradient at the predicted x_0), which
            uses this module's `Objective`, `Tracker`, `augment_views` and `blur`.

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
CONTRAST_SAME = 0.9               # contrast captions closer than this to the prompt are not its rivals
# Work budgets in view-pixels: every step sends candidates x (1 + augment) views of an image through
# CLIP and back, each costing about max(image side, the tower's side)^2 (a family's guided loop does it
# its spec's guide_repeats times: the DDPM's recurrence). One step is one unit on the compute thread.
# The GenLab CLIP sees 64x64; a pretrained ViT 224x224 through a network ~100x bigger, so its budget
# is far lower: about 8 views a step and 100 such steps. On the 2-core CPU (busy with other jobs)
# 8 candidates x 5 views at 64 px took 0.68 s a step with the GenLab CLIP.
MAX_STEP_WORK = {"genlab": 512 * 1024, "pretrained": 8 * 224 * 224}
MAX_RUN_STEPS_AT_MAX = {"genlab": 200, "pretrained": 100}  # whole run: this many steps at the step budget


@dataclass(frozen=True)
class GuideSetting:
    prompt: str
    negative: str = ""            # optional negative prompt (pushed away from)
    generator: str = "pixels"     # "pixels" or a checkpoint folder of a family CLIP can steer
    steps: int = 100              # 1..1000 optimiser (or DDIM) steps
    strength: float = 1.0         # guidance strength / learning-rate scale; finite, > 0
    seed: int = 0
    augment: int = 4              # random crops/augmentations per step (0 = none)
    size: int = 64                # output side for "pixels"; a generator's own size otherwise
    label: int | None = None      # optional class for a class-conditional generator (a DDPM's)
    per_layer: bool = False       # a StyleGAN's: one w per layer instead of one shared w
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

    lr = 0.05  # Adam's rate at strength 1 (strength scales it)

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


# A family's target (its spec's guide_target) makes k images side by side climb as each would alone:
# image i's start is the seed's i-th draw (the first is the image a run of one draws), the penalty is a
# sum of per-image terms, and Adam's steps are per element (only the random crops of augment > 0 differ
# from a run of one's).


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
    """(family, engine) for a checkpoint folder of a family CLIP can steer; cached."""
    return _engine(str(Path(folder).expanduser().resolve()))


def generator_choices(assets_dir=None) -> list[tuple[str, str]]:
    """(label, value) pairs: pixels, then every shipped checkpoint of a family CLIP can steer."""
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


class Tracker:
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


def blur(x: torch.Tensor, sigma: float) -> torch.Tensor:
    """Gaussian blur of (B, C, H, W) with reflection at the edges (sigma in pixels)."""
    if sigma < 0.3:
        return x
    r = max(1, min(int(3 * sigma), x.shape[-1] // 2 - 1))
    k = torch.exp(-0.5 * (torch.arange(-r, r + 1, dtype=x.dtype, device=x.device) / sigma) ** 2)
    k = k / k.sum()
    c = x.shape[1]
    x = F.conv2d(F.pad(x, (r, r, 0, 0), mode="reflect"), k.view(1, 1, 1, -1).expand(c, 1, 1, -1), groups=c)
    return F.conv2d(F.pad(x, (0, 0, r, r), mode="reflect"), k.view(1, 1, -1, 1).expand(c, 1, -1, 1), groups=c)


def first_image(x: torch.Tensor) -> np.ndarray:
    """(B, C, H, W) in [0, 1] -> the first as uint8 (H, W, C)."""
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
        return _optimise(backend, s, Objective(backend, pos, neg), _pixels(s, backend.device), stop, every, contrast)
    family, engine = load_generator(s.generator)
    spec = families.get(family)
    check_work(backend, s, engine.config.image_size, repeats=spec.guide_repeats)
    if spec.guide_run is not None:  # a guided loop of its own (the DDPM's sampler)
        return spec.guide_run(backend, s, contrast, engine, stop, every)
    return _optimise(backend, s, Objective(backend, pos, neg), functools.partial(spec.guide_target, engine),
                     stop, every, contrast)


def _pixels(s: GuideSetting, device):
    """Raw pixels' target maker: (gen, setting, k) -> k multi-scale images of side s.size."""
    return lambda gen, setting, k: PixelImage(setting.size, gen, device, k)


def check_work(backend: Backend, s: GuideSetting, side: int, *, repeats: int = 1) -> None:
    """UserError clip_work unless a run of setting `s` (checked) on images of `side` pixels, each step
    sending its views through CLIP `repeats` times, fits the backend's budgets: MAX_STEP_WORK per step
    and MAX_RUN_STEPS_AT_MAX such steps in all."""
    kind = "genlab" if backend.kind == "genlab" else "pretrained"
    views = s.candidates * (1 + s.augment)
    per_step = views * max(side, backend.image_size) ** 2 * repeats
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


def _optimise(backend, s: GuideSetting, objective_of: Objective, make_target, stop, every,
              ranker: Objective) -> Iterator[GuideFrame]:
    """Adam on a generator's free variables (pixels, z or w: `make_target(gen, s, k)`) for
    `s.candidates` images side by side, in one batch; frames show the one with the highest score at
    that step. Each image's best-scoring state is kept, and a finished run of several keeps the one
    `ranker` values most.

    Why a ranker: the cosine is the better thing to climb through a VAE or StyleGAN (see
    `Objective`) but a poor judge of which of several results is right. "The digit N", 4 images
    each, 30 prompts, the shipped CLIP, judged by the MNIST classifier: one image alone right 81%
    (VAE, Chinese prompts) / 73% (StyleGAN, English); the one with the best cosine, 77% / 67%; the
    best log-probability among the CLIP's captions (ranker = Objective(contrast=True)), 87% / 97%."""
    gen = runtime.generator(s.seed)
    target = make_target(gen, s, s.candidates)
    opt = torch.optim.Adam(target.params(), lr=target.lr * s.strength)
    run = _Climb(s.candidates, Tracker(s.steps, every))
    for step in range(s.steps + 1):
        if stop.is_set() and run.image is not None:
            yield run.finish(step - 1, True, ranker)
            return
        last = step == s.steps
        with runtime.COMPUTE_LOCK, torch.enable_grad():  # never held across a yield
            x = target.image()  # (k, C, H, W)
            objective, scores = objective_of.per_image(augment_views(x, 0 if last else s.augment, gen), s.candidates)
            loss = -objective.sum() + target.penalty()
            finite = run.add(x, scores.detach().tolist(), loss)
            if finite and not last:
                opt.zero_grad(set_to_none=True)
                runtime.give_way()  # between the step's forward and its backward: sliders first
                loss.backward()
                opt.step()
        if not finite:
            yield run.track.frame(step, run.image, float("nan"), done=True,
                                  warning=UserError("clip_guide_nonfinite", step=step))
            return
        if last:
            yield run.finish(step, False, ranker)
            return
        if run.track.wants(step):
            yield run.track.frame(step, run.image, run.score)


class _Climb:
    """What `_optimise` keeps of k images climbing side by side: the one shown (the best this step),
    each image's best score so far and its state then (`kept`, (k, C, H, W))."""

    def __init__(self, k: int, track: Tracker):
        self.k, self.track = k, track
        self.image, self.score = None, float("nan")
        self.tops = [-math.inf] * k
        self.kept = None

    def add(self, x: torch.Tensor, values: list[float], loss: torch.Tensor) -> bool:
        """One step's images x and their scores; -> False (nothing kept) when a score or the loss is not finite."""
        finite = all(math.isfinite(v) for v in values)
        best = int(np.argmax(values)) if finite else 0
        self.score = values[best]
        self.image = first_image(x[best:best + 1])
        if not (finite and math.isfinite(float(loss.detach()))):
            return False
        self.track.add(self.image, self.score)
        better = torch.tensor([v > t for v, t in zip(values, self.tops)], device=x.device)
        self.kept = x.detach().clone() if self.kept is None else torch.where(better[:, None, None, None], x.detach(),
                                                                             self.kept)
        self.tops = [max(v, t) for v, t in zip(values, self.tops)]
        return True

    def finish(self, step: int, stopped: bool, ranker: Objective) -> GuideFrame:
        """The last frame: of several images, the one `ranker` values most (its best state)."""
        track = self.track
        if self.k > 1:
            with runtime.compute():
                values, _ = ranker.rank(self.kept)
            best = int(np.argmax(values))
            track.best_score, track.best_image = self.tops[best], first_image(self.kept[best:best + 1])
            track.scores[-1] = self.tops[best]
            return track.frame(step, track.best_image, self.tops[best], done=True, stopped=stopped)
        return track.frame(step, self.image, self.score, done=True, stopped=stopped)


def run_to_end(backend: Backend, setting: GuideSetting, stop: threading.Event | None = None) -> GuideFrame:
    """The last frame of a guidance run (the command line and benchmarks)."""
    last = None
    for last in guide(backend, setting, stop=stop, every=max(1, setting.steps if isinstance(setting.steps, int) else 1)):
        pass
    return last


__all__ = [
    "GENERATOR_KINDS",
    "Objective",
    "Tracker",
    "GuideFrame",
    "GuideSetting",
    "augment_views",
    "blur",
    "check_setting",
    "check_work",
    "first_image",
    "generator_choices",
    "guide",
    "load_generator",
    "run_to_end",
]
