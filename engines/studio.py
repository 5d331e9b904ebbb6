"""The training studio: a recipe per family, so that a class can watch a model learn.

A `Recipe` is what a person picks: family, data set, a size preset and the main
hyperparameters. `prepare(recipe, ...)` checks it, loads the data and builds the model (every
mistake is a bilingual `UserError` before anything trains) and returns a `Plan`, whose
`make_trainer(stop)` is what `engines.jobs.JobManager.submit` takes. `resume(plan, steps)`
continues a finished run with the same weights and optimiser state; `save(plan, folder)`
writes a safetensors checkpoint whose card records the recipe, so an uploaded checkpoint
(`recipe_from_card`) continues where it ended; `save(..., trainer_state=True)` (the tab's
download) adds the trainer's state (Adam's moments and step counts, the batch order, the
generator: tensors among the checkpoint's aux tensors, hyperparameters as JSON in its card), so
that the upload continues exactly as a run that never stopped.

On a CPU, steps are cut into micro-batches of about `CHUNK_S` seconds of work (see
engines.train), which keep together the images a StyleGAN discriminator's minibatch standard
deviation groups; the CLIP's contrastive loss is over the batch as a whole, so its steps run as a
gradient cache (its embeddings once without gradients, then again in micro-batches of rows).

Every family's preview draws its sample grid from fixed seeds, so a grid shows the same noise
becoming a picture as training goes on.

    family    model (engines.*)             loss                      preview
    vae       vae.VAE                        recon + beta * KL         decode 16 fixed z ~ N(0, I)
    stylegan  stylegan.GAN (G and D)         D then G phases, lazy R1  G on 16 fixed z, const noise
    ddpm      diffusion.UNet (+ process)     L_simple, label dropout   DDIM-20 from fixed noise
    clip      clip (open_clip towers)        InfoNCE over true captions 8 fixed images x their captions:
                                                                       similarity map, a bright diagonal when
                                                                       it has learned
"""

from __future__ import annotations

import dataclasses
import math
import re
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from . import runtime
from .errors import UserError
from .train import (
    Phase,
    Split,
    TrainConfig,
    Trainer,
    contiguous_split,
    image_grid,
    to_uint8,
)

FAMILIES = ("vae", "stylegan", "ddpm", "clip")
CAPTIONED = ("mnist", "shapes")  # the data sets the GenLab CLIP has true captions for
DATASETS = ("mnist", "shapes", "faces", "zip", "toy2d")
SIZES = ("tiny", "small", "base")
NATIVE_SIDE = {"mnist": 28, "shapes": 32, "faces": 64, "zip": 32}
PREVIEW_N = 16          # images in a preview grid
PREVIEW_SEED = 1234     # the fixed seed every preview draws from
DDIM_PREVIEW_STEPS = 20
HELD_OUT_N = 500        # held-out images for a saved model's card and aux data
# On a CPU a step is cut into micro-batches of about this much work, so Stop and other people's
# requests never wait long (engines.train: the same step, to float rounding).
CHUNK_S = 0.25
STATE_PREFIX = "trainer/"  # aux tensors of a downloaded checkpoint's trainer state (Trainer.state_dict)


@dataclass(frozen=True)
class Recipe:
    """A training run as a person sets it up; every field is checked by `check`."""

    family: str = "vae"         # "vae" | "stylegan" | "ddpm" | "clip"
    dataset: str = "shapes"     # "mnist" | "shapes" | "faces" | "zip" (the user's images) | "toy2d"
    size: str = "tiny"          # model size preset: "tiny" | "small" | "base"
    steps: int = 300            # optimiser steps
    batch_size: int = 32        # images per step
    lr: float = 2e-3            # AdamW learning rate (StyleGAN: G's; D's is scaled for lazy R1)
    beta: float = 1.0           # VAE: weight of the KL term
    latent_dim: int = 16        # VAE: dimensions of z (2 gives the VAE tab's 2-D map)
    p_uncond: float = 0.1       # DDPM: label dropout, what classifier-free guidance needs
    r1_gamma: float = 1.0       # StyleGAN: R1 penalty weight gamma
    n_images: int = 2000        # training images (procedural sets: how many to draw; mnist: the first n)
    seed: int = 0               # initial weights, batch order and noise
    preview_every: int = 50     # steps between sample grids (0: only at the end)
    fast: bool = False          # torch.compile the model (CUDA graphs on a GPU); ignored on a CPU


# What a person may set: field -> (low, high, English name, Chinese name). Outside: "studio_value".
BOUNDS: dict[str, tuple[float, float, str, str]] = {
    "steps": (1, 1_000_000, "Steps", "训练步数"),
    "batch_size": (1, 1024, "Batch size", "批大小"),
    "lr": (1e-6, 1.0, "Learning rate", "学习率"),
    "beta": (0.0, 1000.0, "β (KL weight)", "β（KL 权重）"),
    "latent_dim": (1, 256, "Latent dimensions", "潜在维度"),
    "p_uncond": (0.0, 1.0, "Label dropout", "标签丢弃率"),
    "r1_gamma": (0.0, 1000.0, "R1 γ", "R1 γ"),
    "n_images": (1, 60_000, "Training images", "训练图像数"),
    "seed": (0, runtime.MAX_SEED, "Seed", "随机种子"),
    "preview_every": (0, 1_000_000, "Preview every", "预览间隔"),
}
INTEGER_FIELDS = {"steps", "batch_size", "latent_dim", "n_images", "seed", "preview_every"}


def on_gpu(device: torch.device | None = None) -> bool:
    return (device or runtime.device()).type == "cuda"


def defaults(family: str, device: torch.device | None = None) -> Recipe:
    """A recipe that shows learning within a few minutes on this device (a CPU: tiny models)."""
    if family not in FAMILIES:
        raise UserError("studio_choice", what_en="Family", what_zh="模型类别", value=family,
                        choices=", ".join(FAMILIES))
    gpu = on_gpu(device)
    common = {"family": family, "size": "small" if gpu else "tiny", "batch_size": 128 if gpu else 32,
              "n_images": 10_000 if gpu else 2000, "preview_every": 200 if gpu else 50}
    per_family = {
        "clip": {"dataset": "mnist", "steps": 3000 if gpu else 300, "lr": 2e-3, "batch_size": 256 if gpu else 64,
                 "preview_every": 200 if gpu else 25},
        "vae": {"dataset": "mnist", "steps": 3000 if gpu else 400, "lr": 2e-3},
        "ddpm": {"dataset": "mnist", "steps": 5000 if gpu else 400, "lr": 1e-3,
                 "preview_every": 500 if gpu else 100},
        "stylegan": {"dataset": "shapes", "steps": 5000 if gpu else 300, "lr": 2e-3},
    }[family]
    return Recipe(**{**common, **per_family})


def check(recipe: Recipe) -> Recipe:
    """The recipe with its numbers coerced, or a bilingual UserError naming the bad value."""
    if recipe.family not in FAMILIES:
        raise UserError("studio_choice", what_en="Family", what_zh="模型类别", value=recipe.family,
                        choices=", ".join(FAMILIES))
    if recipe.dataset == "toy2d":
        raise UserError("studio_toy2d")
    if recipe.dataset not in DATASETS:
        raise UserError("studio_choice", what_en="Data set", what_zh="数据集", value=recipe.dataset,
                        choices=", ".join(d for d in DATASETS if d != "toy2d"))
    if recipe.family == "clip" and recipe.dataset not in CAPTIONED:
        raise UserError("studio_clip_data", dataset=recipe.dataset, choices=", ".join(CAPTIONED))
    if recipe.size not in SIZES:
        raise UserError("studio_choice", what_en="Model size", what_zh="模型规模", value=recipe.size,
                        choices=", ".join(SIZES))
    values = {}
    for name, (low, high, en, zh) in BOUNDS.items():
        raw = getattr(recipe, name)
        try:
            value = float(raw)
        except (TypeError, ValueError):
            value = math.nan
        if not math.isfinite(value):
            raise UserError("studio_value", what_en=en, what_zh=zh, low=_fmt(low), high=_fmt(high), value=raw)
        if name in INTEGER_FIELDS:
            if value != int(value):
                raise UserError("studio_integer", what_en=en, what_zh=zh, value=raw)
            value = int(value)
        if not low <= value <= high:
            raise UserError("studio_value", what_en=en, what_zh=zh, low=_fmt(low), high=_fmt(high), value=raw)
        values[name] = value
    return dataclasses.replace(recipe, **values, fast=bool(recipe.fast))


def _fmt(x: float) -> str:
    return f"{x:g}" if isinstance(x, float) and not float(x).is_integer() else f"{int(x):,}"


# ------------------------------------------------------------------------------------------------
# Data
# ------------------------------------------------------------------------------------------------

def image_side(recipe: Recipe) -> int:
    """The side the model trains at: the data set's own, 32 for faces below the base preset (a CPU
    trains 64x64 slowly), and the next power of two for StyleGAN (28 -> 32)."""
    side = NATIVE_SIDE[recipe.dataset]
    if recipe.size != "base":
        side = min(side, 32)
    if recipe.family == "stylegan":
        side = 2 ** math.ceil(math.log2(side))
    if recipe.family == "clip":
        side = 32  # the image tower's input (engines.clip.Config.image_size)
    return side


def load_data(recipe: Recipe, *, data_dir=None, zip_path=None, split: str = "train"):
    """The recipe's images as an ImageSet at `image_side(recipe)`; `split="test"` for held-out ones."""
    from .data import load_dataset

    side = image_side(recipe)
    if recipe.dataset == "zip":
        if not zip_path:
            raise UserError("studio_zip_missing")
        path = Path(zip_path)
        if path.suffix.lower() != ".zip":
            raise UserError("upload_unsupported", name=path.name)
        return load_dataset("folder", "train", data_dir=path, size=side, n=min(recipe.n_images, 5000))
    n = recipe.n_images if split == "train" else HELD_OUT_N
    if recipe.dataset == "mnist":  # data_dir None: engines.data looks in $GENLAB_DATA_DIR and the cache
        return load_dataset("mnist", split, data_dir=data_dir, n=min(n, 8000 if split == "train" else 2000),
                            size=None if side == 28 else side)
    return load_dataset(recipe.dataset, split, n=n, seed=recipe.seed if split == "train" else recipe.seed + 1,
                        size=side)


# ------------------------------------------------------------------------------------------------
# Models, losses and previews per family
# ------------------------------------------------------------------------------------------------

def _vae_config(recipe: Recipe, side: int, channels: int):
    from . import vae

    widths = {"tiny": (16, 32), "small": (32, 64),
              "base": (32, 64, 128) if side % 8 == 0 else (32, 64)}[recipe.size]
    hidden = {"tiny": 128, "small": 256, "base": 512}[recipe.size]
    return vae.Config(image_size=side, channels=channels, latent_dim=recipe.latent_dim, widths=widths,
                      hidden=hidden, beta=recipe.beta, likelihood="bernoulli" if channels == 1 else "gaussian")


def _ddpm_config(recipe: Recipe, side: int, channels: int, num_classes: int | None):
    from . import diffusion

    width, mult, blocks, dropout = {"tiny": (16, (1, 2), 1, 0.0), "small": (32, (1, 2, 2), 1, 0.1),
                                    "base": (64, (1, 2, 2), 2, 0.1)}[recipe.size]
    # Fold 2x2 patches into channels where the sides allow it: 4x cheaper, as the shipped UNets.
    patch = next(p for p in (2, 1) if side % (p * 2 ** (len(mult) - 1)) == 0 and side // p >= 8)
    lowest = side // patch // 2 ** (len(mult) - 1)
    return diffusion.Config(image_size=side, channels=channels, width=width, channel_mult=mult,
                            blocks_per_level=blocks, attention_resolutions=(lowest,) if recipe.size == "base" else (),
                            num_classes=num_classes, dropout=dropout, patch_size=patch)


def _stylegan_config(recipe: Recipe, side: int, channels: int):
    from . import stylegan

    z, maps, base, cap = {"tiny": (32, 2, 512, 32), "small": (64, 2, 1024, 64),
                          "base": (128, 4, 2048, 128)}[recipe.size]
    return stylegan.Config(image_size=side, channels=channels, z_dim=z, w_dim=z, mapping_layers=maps,
                           channel_base=base, channel_max=cap, r1_gamma=recipe.r1_gamma)


def _clip_config(recipe: Recipe):
    from . import clip

    width, layers = {"tiny": (64, 1), "small": (96, 2), "base": (128, 4)}[recipe.size]
    return clip.Config(vision_width=width, text_width=width, embed_dim=width, vision_layers=layers,
                       text_layers=layers)


def _clip_probe(data, texts: list[list[str]], n: int = 8) -> tuple[torch.Tensor, list[str]]:
    """n training images with different first captions (one per digit for MNIST), and those captions."""
    picked, seen = [], set()
    for i, bank in enumerate(texts):
        if bank[0] not in seen:
            seen.add(bank[0])
            picked.append(i)
        if len(picked) == n:
            break
    if data.labels is not None and data.name == "mnist":
        picked.sort(key=lambda i: int(data.labels[i]))
    return data.images[picked].float().div_(255.0), [texts[i][0] for i in picked]


def clip_preview(config, images: torch.Tensor, captions: list[str], cell: int = 32):
    """Row i: image i; column j: the caption of image j; colour: how much of image i's softmax over
    the captions goes to caption j (dark blue 0 -> yellow 1). A trained CLIP lights the diagonal.
    -> uint8 (H, W, 3): the images down the left, the (n, n) map beside them."""
    from .clip import tokenizer
    from .clip.model import MAX_LOGIT_SCALE, to_tower_input

    ids = tokenizer.tokenize(captions, config.context_length)
    low, high = torch.tensor([20.0, 24.0, 70.0]), torch.tensor([250.0, 220.0, 60.0])

    def preview(model) -> np.ndarray:
        device = next(model.parameters()).device
        img = model.encode_image(to_tower_input(images.to(device), config.image_size), normalize=True)
        txt = model.encode_text(ids.to(device), normalize=True)
        scale = model.logit_scale.clamp(max=math.log(MAX_LOGIT_SCALE)).exp()
        prob = (scale * img @ txt.t()).softmax(dim=1).float().cpu()          # (n, n)
        n = len(captions)
        colours = low + prob[..., None] * (high - low)                       # (n, n, 3)
        heat = colours.repeat_interleave(cell, 0).repeat_interleave(cell, 1)  # (n * cell, n * cell, 3)
        thumbs = torch.nn.functional.interpolate(images, size=(cell, cell), mode="nearest")
        left = thumbs.mul(255).permute(0, 2, 3, 1).reshape(n * cell, cell, -1).expand(-1, -1, 3)
        gap = torch.full((n * cell, 4, 3), 255.0)
        return torch.cat([left, gap, heat], dim=1).round().clamp(0, 255).to(torch.uint8).numpy()

    return preview


def vae_preview(config, stop: threading.Event | None = None, n: int = PREVIEW_N, seed: int = PREVIEW_SEED):
    """Decode the same n z ~ N(0, I) every time -> uint8 grid."""
    z = torch.randn(n, config.latent_dim, generator=runtime.generator(seed))

    def preview(model) -> np.ndarray:
        device = next(model.parameters()).device
        return image_grid(to_uint8(model.decode(z.to(device))))  # the mean of p(x|z)

    return preview


def ddpm_preview(config, process, stop: threading.Event | None = None, n: int = PREVIEW_N,
                 seed: int = PREVIEW_SEED, steps: int = DDIM_PREVIEW_STEPS):
    """DDIM from the same noise every time (labels 0, 1, 2, ... when conditional) -> uint8 grid.
    Gives up (None) as soon as `stop` is set, so Stop never waits for a whole preview; its
    `steps(model)` generator lets the trainer run it one DDIM step per unit of work (a base
    preset's preview takes tens of seconds on a CPU)."""
    from .diffusion.process import to_unit

    def stepwise(model):
        """None after each DDIM step, then the grid: the trainer runs one item per unit of work."""
        device = next(model.parameters()).device
        gen = runtime.generator(seed, device)
        y = (torch.arange(n, device=device) % config.num_classes) if config.num_classes else None
        shape = (n, config.channels, config.image_size, config.image_size)
        x = None
        for step in process.ddim(model, shape, gen=gen, steps=steps, y=y):
            if stop is not None and stop.is_set():
                return
            x = step.x_prev
            yield None
        yield image_grid(to_uint8(to_unit(x)))

    def preview(model) -> np.ndarray | None:
        out = None
        for out in stepwise(model):
            if stop is not None and stop.is_set():
                return None
        return out

    preview.steps = stepwise
    return preview


def mbstd_groups(batch: int, group_size: int) -> int:
    """How many images engines.stylegan's minibatch_stddev puts in a group for a batch."""
    g = min(group_size, batch)
    while batch % g:
        g -= 1
    return g


def mbstd_split(group_size: int) -> Split:
    """Micro-batches of whole minibatch-stddev groups for StyleGAN's D. Images i and i + B/G of a
    batch of B share a group; a micro-batch takes whole groups, ordered so that the discriminator
    groups them again exactly so (the group size of each micro-batch is checked to be G)."""

    def split(batch: int, start: int, want: int):
        g = mbstd_groups(batch, group_size)
        m = batch // g                                  # groups in the batch
        k = max(1, min(m - start, round(want / g)))    # groups in this micro-batch
        while k > 1 and mbstd_groups(g * k, group_size) != g:
            k -= 1
        cols = torch.arange(start, start + k)
        idx = (cols[None, :] + m * torch.arange(g)[:, None]).flatten()
        return idx, (start + k if start + k < m else None)

    return split


# A family whose loss is over the batch as a whole names the model's per-row embedding methods: its
# steps run as a gradient cache (engines.train), the same gradient in units of rows.
CACHED = {"clip": ("encode_image", "encode_text")}


def split_for(family: str, model: torch.nn.Module) -> Split | None:
    """How a family's step may be cut into micro-batches (None: it may not)."""
    if family == "clip":  # InfoNCE compares every image with every caption of the batch
        return None
    if family == "stylegan":
        return mbstd_split(model.D.mbstd_group)
    return contiguous_split


@dataclass
class Plan:
    """A checked recipe with its data and model, ready to train (or to continue training)."""

    recipe: Recipe
    config: object                         # the family's frozen Config
    model: torch.nn.Module
    loss: object                           # a loss function or a list of Phases
    images: torch.Tensor                   # uint8 (N, C, H, W); the trainer makes each batch float in [0, 1]
                                           # (60k 64x64 RGB images: 0.7 GB as uint8, 2.9 GB as float32)
    labels: torch.Tensor | None
    data_note: str                         # which images, for the model card
    make_preview: Callable[[threading.Event | None], Callable]
    data_dir: object = None                # where MNIST is, for the held-out images `save` records
    trainer: Trainer | None = None         # the latest trainer (set by make_trainer)
    continued_from: dict | None = None     # what an uploaded checkpoint said about its training
    steps_before: int = 0                  # steps the weights had when this plan started
    trainer_state: tuple[dict, dict] | None = None  # an upload's saved trainer state (tensors, meta)

    @property
    def family(self) -> str:
        return self.recipe.family

    @property
    def parameters(self) -> int:
        return sum(p.numel() for p in self.model.parameters())

    def train_config(self, *, steps: int, seed: int, warmup: bool | int) -> TrainConfig:
        """warmup: True for a fresh run's warm-up (a tenth of the run, at most 50 steps), or the
        number of warm-up steps a continued run goes on with."""
        r = self.recipe
        gpu = on_gpu()
        if warmup is True:
            warmup = min(50, max(0, (steps - self.steps_before) // 10))
        return TrainConfig(
            steps=steps, batch_size=r.batch_size, lr=r.lr, seed=seed,
            warmup_steps=int(warmup or 0),
            lr_min_ratio=1.0,  # constant after warm-up, so Resume goes on at the same rate
            grad_clip=None if r.family == "stylegan" else 1.0,
            # On a CPU an event every step: the job hands the compute lock to waiting requests
            # between events (engines.jobs.YIELD_S). On a GPU a read-back per step would stall it.
            log_every=(10 if r.steps <= 2000 else 25) if gpu else 1,
            preview_every=r.preview_every, compile=bool(r.fast) and gpu,
            chunk_seconds=None if gpu else CHUNK_S,
        )

    def make_trainer(self, stop: threading.Event) -> Trainer:
        """What JobManager.submit takes: a fresh Trainer on this plan's model, or, after a run (or
        from an upload's saved state), one that goes on from its weights, optimiser state, step
        count, batch order and generator. Built on the compute thread."""
        return runtime.call(self._build_trainer, stop)

    def _build_trainer(self, stop: threading.Event) -> Trainer:
        with runtime.COMPUTE_LOCK:
            prev = self.trainer
            state = prev.state_dict() if prev is not None else self.trainer_state
            start = prev.step if prev is not None else self.steps_before
            warmup = True if state is None and self.steps_before == 0 else (
                int(state[1].get("warmup_steps") or 0) if state is not None else 0)
            config = self.train_config(steps=start + self.recipe.steps, seed=self.recipe.seed + start, warmup=warmup)
            trainer = Trainer(self.model, self.loss, self.images, config, labels=self.labels,
                              preview_fn=self.make_preview(stop), stop=stop, split=split_for(self.family, self.model),
                              cached=CACHED.get(self.family, ()))
            if state is not None:
                trainer.load_state_dict(*state)
                check_optimisers(trainer)
            trainer.step = start
            if prev is not None:
                trainer.history = prev.history
            self.trainer = trainer
            return trainer

    @property
    def step(self) -> int:
        return self.trainer.step if self.trainer is not None else self.steps_before


def prepare(recipe: Recipe, *, data_dir=None, zip_path=None, init=None) -> Plan:
    """Check the recipe, load its data and build its model (from `init`, a loaded Checkpoint, to
    continue one). Raises UserError for anything a person can fix."""
    recipe = check(recipe)
    data = load_data(recipe, data_dir=data_dir, zip_path=zip_path)
    if recipe.family == "clip":
        return _prepare_clip(recipe, data, data_dir=data_dir, init=init)
    _, channels, side, _ = data.images.shape
    num_classes = None
    if recipe.family == "ddpm" and data.labels is not None and data.class_names and len(data.class_names) <= 20:
        num_classes = len(data.class_names)
    config = {"vae": lambda: _vae_config(recipe, side, channels),
              "ddpm": lambda: _ddpm_config(recipe, side, channels, num_classes),
              "stylegan": lambda: _stylegan_config(recipe, side, channels)}[recipe.family]()
    config, model, steps_before, continued = _initial_model(recipe, config, init)
    if (config.image_size, config.channels) != (side, channels):  # only a loaded checkpoint can differ
        raise UserError("studio_data_mismatch", size=config.image_size, channels=config.channels,
                        data_size=side, data_channels=channels, dataset=recipe.dataset)
    config = _retuned(recipe, config, model)
    loss, make_preview = _loss_and_preview(recipe, config)
    labels = data.labels if recipe.family == "ddpm" and config.num_classes is not None else None
    return Plan(recipe=recipe, config=config, model=model, loss=loss, images=data.images, labels=labels,
                data_note=data.split_note, make_preview=make_preview, data_dir=data_dir,
                continued_from=continued, steps_before=steps_before, trainer_state=saved_state(init))


def _initial_model(recipe: Recipe, config, init):
    """A fresh model from `config` (seeded by the recipe), or `init`'s config and weights to continue
    it -> (config, model in train mode, steps it has had, what its card says about its training)."""
    if init is None:
        config.validate()
        torch.manual_seed(recipe.seed)
        return config, _module(recipe.family).build(config), 0, None
    if init.family != recipe.family:
        raise UserError("checkpoint_wrong_family", family=init.family, expected=recipe.family)
    config, model = init.build("cpu")
    continued = {k: init.card.get(k) for k in ("name", "steps", "wall_time_s", "hardware")}
    return config, model.train(), int(init.card.get("steps") or 0), continued


def saved_state(ckpt) -> tuple[dict, dict] | None:
    """The trainer state a downloaded checkpoint carries (`save(..., trainer_state=True)`): its
    tensors from the checkpoint's aux (read by engines.checkpoint from safetensors) and its meta
    from the card; None when it has none or its step is not the checkpoint's."""
    if ckpt is None:
        return None
    meta = ckpt.card.get("trainer")
    tensors = {k[len(STATE_PREFIX):]: v for k, v in ckpt.aux.items() if k.startswith(STATE_PREFIX)}
    if not isinstance(meta, dict) or not tensors:
        return None
    if meta.get("step") != int(ckpt.card.get("steps") or 0):
        raise UserError("train_state_mismatch", reason=f"state of step {meta.get('step')} with weights of step "
                                                       f"{ckpt.card.get('steps')}")
    check_state(tensors, meta)
    return tensors, meta


# What an uploaded trainer state may set: hyperparameter -> (low, high, English, Chinese). The
# learning rate is the recipe's own bound; a state cannot ask for more than a person could set.
STATE_BOUNDS: dict[str, tuple[float, float, str, str]] = {
    "lr": (0.0, BOUNDS["lr"][1], "the learning rate", "学习率"),
    "betas": (0.0, 0.9999, "Adam's betas", "Adam 的 beta 参数"),
    "eps": (1e-12, 1e-2, "Adam's epsilon", "Adam 的 epsilon"),
    "weight_decay": (0.0, 1.0, "the weight decay", "权重衰减"),
    "step": (0, BOUNDS["steps"][1] * 10, "the step", "步数"),
    "warmup_steps": (0, BOUNDS["steps"][1], "the warm-up steps", "预热步数"),
}


def _bounded(name: str, value) -> None:
    low, high, en, zh = STATE_BOUNDS[name]
    ok = not isinstance(value, bool) and isinstance(value, (int, float)) and math.isfinite(value) and low <= value <= high
    if not ok:
        raise UserError("studio_state_value", what_en=en, what_zh=zh, value=str(value)[:40], low=_fmt(low), high=_fmt(high))


def check_state(tensors: dict, meta: dict) -> None:
    """A trainer state from a file (an uploaded checkpoint's `trainer/*` and card `trainer`), checked
    before the Trainer sees it: its structure, and every hyperparameter within the bounds a recipe
    has (`STATE_BOUNDS`), so an upload cannot train with a learning rate of 1e9, betas of 1 or more,
    or Adam maximising the loss. UserError studio_state_value / train_state_mismatch."""
    def bad(reason: str):
        return UserError("train_state_mismatch", reason=reason)

    _bounded("step", meta.get("step"))
    _bounded("warmup_steps", meta.get("warmup_steps") or 0)
    phases = meta.get("phases")
    if not isinstance(phases, list) or not 1 <= len(phases) <= 4:
        raise bad("its optimisers are not a list of 1 to 4 phases")
    for info in phases:
        groups = info.get("param_groups") if isinstance(info, dict) else None
        if not isinstance(groups, list) or not 1 <= len(groups) <= 16:
            raise bad("a phase's parameter groups are not a list of 1 to 16")
        for g in groups:
            if not isinstance(g, dict) or not isinstance(g.get("params"), list) or len(g["params"]) > 100_000 \
                    or not all(isinstance(p, int) and not isinstance(p, bool) for p in g["params"]):
                raise bad("a parameter group is not a list of parameter numbers")
            for h in ("lr", "eps", "weight_decay"):
                if g.get(h) is not None:
                    _bounded(h, g[h])
            betas = g.get("betas")
            if betas is not None:
                if not isinstance(betas, list) or len(betas) != 2:
                    raise bad("Adam's betas are not a pair")
                for b in betas:
                    _bounded("betas", b)
            if g.get("maximize") or g.get("amsgrad") not in (None, False):
                raise bad("an optimiser that maximises the loss or uses AMSGrad")
    scalars = meta.get("scalars") or {}
    if not isinstance(scalars, dict) or len(scalars) > 100_000:
        raise bad("its scalars are not a table")
    for key, value in scalars.items():
        if not (isinstance(key, str) and re.fullmatch(r"\d{1,2}\.\d{1,5}\.[a-z_]{1,20}", key)) or isinstance(value, bool) \
                or not isinstance(value, (int, float)) or not math.isfinite(value) or abs(value) > 1e12:
            raise bad(f"a bad optimiser scalar {str(key)[:40]}")
    for key, value in tensors.items():
        if value.is_floating_point() and not bool(torch.isfinite(value).all()):
            raise bad(f"'{key}' holds NaN or infinite values")
    gen, order = tensors.get("generator"), tensors.get("order")
    if gen is not None and (gen.dtype != torch.uint8 or gen.dim() != 1 or gen.numel() > 100_000):
        raise bad("its random generator state is not a byte string")
    if order is not None and (order.is_floating_point() or order.dim() != 1):
        raise bad("its batch order is not a list of image numbers")


def check_optimisers(trainer: Trainer) -> None:
    """After a state was loaded: every optimiser's hyperparameters still within STATE_BOUNDS."""
    for opt in trainer.opts:
        for g in opt.param_groups:
            _bounded("lr", float(g["lr"]) if not torch.is_tensor(g["lr"]) else float(g["lr"].item()))
            for b in g.get("betas", ()):
                _bounded("betas", float(b))
            _bounded("eps", float(g.get("eps", 1e-8)))
            _bounded("weight_decay", float(g.get("weight_decay", 0.0)))
            if g.get("maximize"):
                raise UserError("train_state_mismatch", reason="an optimiser that maximises the loss")


def _retuned(recipe: Recipe, config, model):
    """The config with the VAE beta set now, which wins over a loaded or earlier run's (R1 gamma
    likewise, in _loss_and_preview)."""
    if recipe.family == "vae" and config.beta != recipe.beta:
        config = dataclasses.replace(config, beta=recipe.beta)
        model.config = config
    return config


def _prepare_clip(recipe: Recipe, data, *, data_dir, init) -> Plan:
    """The GenLab CLIP on one captioned data set: each image's bank of true captions (English and
    Chinese), the contrastive loss that knows which captions are true of which images."""
    from .clip import train as ct
    from .clip.model import freeze_norms

    mnist, shapes = (data, None) if recipe.dataset == "mnist" else (None, data)
    texts, reqs, attrs = ct.caption_bank(mnist, shapes)
    config, model, steps_before, continued = _initial_model(recipe, _clip_config(recipe), init)
    freeze_norms(model)  # a ResNet tower's statistics stay put: a step here may be a gradient cache
    images = ct.training_images(mnist, shapes, 32)  # uint8; the tower resizes to its own side
    probe, captions = _clip_probe(data, texts)
    return Plan(recipe=recipe, config=config, model=model, loss=ct.make_loss(config, texts, reqs, attrs),
                images=images, labels=torch.arange(len(images)), data_note=data.split_note,
                make_preview=lambda stop: clip_preview(config, probe, captions), data_dir=data_dir,
                continued_from=continued, steps_before=steps_before, trainer_state=saved_state(init))


def _module(family: str):
    from . import checkpoint

    return checkpoint.family_module(family)


def _loss_and_preview(recipe: Recipe, config):
    if recipe.family == "vae":
        from . import vae

        loss = vae.make_loss(config, binarize=config.channels == 1)
        return loss, lambda stop: vae_preview(config, stop)
    if recipe.family == "ddpm":
        from . import diffusion

        process = diffusion.make_process(config)
        loss = diffusion.make_loss(process, p_uncond=recipe.p_uncond)
        return loss, lambda stop: ddpm_preview(config, process, stop)
    from . import stylegan

    # The R1 gamma the person set now, whatever the checkpoint was trained with.
    config = dataclasses.replace(config, r1_gamma=recipe.r1_gamma)
    phases: list[Phase] = stylegan.make_phases(config, lr=recipe.lr)
    return phases, lambda stop: stylegan.preview_fn(config, n=PREVIEW_N, seed=PREVIEW_SEED)


def resume(plan: Plan, recipe: Recipe | None = None) -> Plan:
    """The same model (and, after a run, its optimiser state) for `recipe.steps` more steps; the
    other settings that may change between runs: lr, batch, preview interval, beta, dropout, R1."""
    if recipe is None:
        return plan
    recipe = check(recipe)
    keep = ("family", "dataset", "size", "latent_dim", "n_images", "seed")
    changed = [f for f in keep if getattr(recipe, f) != getattr(plan.recipe, f)]
    if changed:
        raise UserError("studio_resume_changed", fields=", ".join(changed))
    plan.config = _retuned(recipe, plan.config, plan.model)
    if recipe.family == "clip":  # its loss and preview depend only on the data, which stays
        plan.recipe = recipe
        return plan
    loss, make_preview = _loss_and_preview(recipe, plan.config)
    plan.recipe, plan.loss, plan.make_preview = recipe, loss, make_preview
    return plan


# ------------------------------------------------------------------------------------------------
# Saving, and continuing from a checkpoint
# ------------------------------------------------------------------------------------------------

def save(plan: Plan, out_dir, *, name: str, wall_time_s: float | None = None, stopped: str | None = None,
         trainer_state: bool = False) -> Path:
    """Write the plan's model as a checkpoint folder with the aux data its family's tab needs, and
    the recipe in the card so it can be continued; with `trainer_state`, also the trainer's state
    for an exact continuation (about twice the weights again: Adam's two moments)."""
    from . import checkpoint

    model = plan.model.eval()
    r = plan.recipe
    aux = _aux(plan, model)
    meta = None
    if trainer_state:
        state = plan.trainer.state_dict() if plan.trainer is not None else plan.trainer_state
        if state is not None:
            tensors, meta = state
            aux.update({STATE_PREFIX + k: v for k, v in tensors.items()})
    card = {
        "name": name, "dataset": r.dataset if r.dataset != "zip" else "folder",
        "split": {"train": plan.data_note},
        "steps": plan.step, "batch_size": r.batch_size, "lr": r.lr, "seed": r.seed,
        "hardware": runtime.hardware_summary(),
        "studio": dataclasses.asdict(r),
        "stopped": stopped,
        "trained_in": "GenLab training studio",
    }
    if wall_time_s is not None:
        card["wall_time_s"] = round(wall_time_s, 1)
    if plan.continued_from:
        card["continued_from"] = plan.continued_from
    if meta is not None:
        card["trainer"] = meta
    if r.family == "ddpm" and plan.config.num_classes:
        card["default_guidance"] = 1.0
    return checkpoint.save(out_dir, family=r.family, config=plan.config, model=model, card=card, aux=aux)


def _held_out(plan: Plan):
    """(images float, labels) the card's aux data is made from: the held-out split where the data
    set has one, else the first training images."""
    r = plan.recipe
    if r.dataset != "zip":
        try:
            data = load_data(r, data_dir=plan.data_dir, split="test")
            return data.float()[:HELD_OUT_N], data.labels[:HELD_OUT_N] if data.labels is not None else None
        except UserError:
            pass
    return plan.images[:HELD_OUT_N].float().div_(255.0), plan.labels[:HELD_OUT_N] if plan.labels is not None else None


def _aux(plan: Plan, model: torch.nn.Module) -> dict:
    family = plan.recipe.family
    if family in ("stylegan", "clip"):
        return {}
    images, labels = _held_out(plan)
    device = next(model.parameters()).device
    if family == "vae":
        from . import vae

        with runtime.compute():
            aux = vae.build_aux(model, images.to(device), None if labels is None else labels.to(device))
        return {k: v.cpu() for k, v in aux.items()}
    aux = {"examples": (images[:32] * 255).round().to(torch.uint8)}
    if labels is not None and plan.config.num_classes:
        aux["example_labels"] = labels[:32].to(torch.int64)
    return aux


def recipe_from_card(ckpt) -> Recipe:
    """The recipe a checkpoint was trained with (the studio's card field), else one that fits its
    family and data set, for continuing an uploaded checkpoint."""
    if ckpt.family not in FAMILIES:
        raise UserError("studio_family_unsupported", family=ckpt.family, families=", ".join(FAMILIES))
    known = {f.name for f in dataclasses.fields(Recipe)}
    saved = ckpt.card.get("studio")
    if isinstance(saved, dict):
        recipe = Recipe(**{k: v for k, v in saved.items() if k in known})
    else:
        recipe = defaults(ckpt.family)
        dataset = ckpt.card.get("dataset")
        if dataset in NATIVE_SIDE:
            recipe = dataclasses.replace(recipe, dataset=dataset)
        elif dataset == "folder":
            recipe = dataclasses.replace(recipe, dataset="zip")
        side = int(ckpt.config.get("image_size", 0))
        if recipe.dataset in NATIVE_SIDE and side > 32:
            recipe = dataclasses.replace(recipe, size="base")
    config = ckpt.config
    if ckpt.family == "vae":
        recipe = dataclasses.replace(recipe, latent_dim=int(config.get("latent_dim", recipe.latent_dim)),
                                     beta=float(config.get("beta", recipe.beta)))
    if ckpt.family == "stylegan":
        recipe = dataclasses.replace(recipe, r1_gamma=float(config.get("r1_gamma", recipe.r1_gamma)))
    return recipe
