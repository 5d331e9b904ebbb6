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

Nothing here knows a family: each one's spec (engines.families) gives its settings (`Knob`s, which
become Recipe fields and their bounds), size presets, config, loss or phases, preview, how a step
may be cut, and the aux data its checkpoint ships.
"""

from __future__ import annotations

import dataclasses
import math
import re
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import torch

from . import families, runtime
from .errors import UserError
from .families import Knob
from .train import Split, TrainConfig, Trainer, contiguous_split

FAMILIES = tuple(f.name for f in families.trainable() if f.in_studio)
DATASETS = ("mnist", "shapes", "faces", "zip", "toy2d")
SIZES = families.SIZES
NATIVE_SIDE = {"mnist": 28, "shapes": 32, "faces": 64, "zip": 32}
PREVIEW_N = 16          # images in a preview grid
PREVIEW_SEED = 1234     # the fixed seed every preview draws from
HELD_OUT_N = 500        # held-out images for a saved model's card and aux data
# On a CPU a step is cut into micro-batches of about this much work, so Stop and other people's
# requests never wait long (engines.train: the same step, to float rounding).
CHUNK_S = 0.25
STATE_PREFIX = "trainer/"  # aux tensors of a downloaded checkpoint's trainer state (Trainer.state_dict)

# The settings every family shares, before and after each family's own (the training tab shows
# them in this order: the head in the first row, the rest under "more").
HEAD = (
    Knob("steps", 300, 1, 1_000_000, int, key="train.steps", en="Steps", zh="训练步数"),
    Knob("batch_size", 32, 1, 1024, int, key="train.batch", en="Batch size", zh="批大小"),
    Knob("lr", 2e-3, 1e-6, 1.0, float, key="train.lr", en="Learning rate", zh="学习率"),
)
TAIL = (
    Knob("n_images", 2000, 1, 60_000, int, key="train.n_images", en="Training images", zh="训练图像数"),
    Knob("seed", 0, 0, runtime.MAX_SEED, int, key="train.seed", en="Seed", zh="随机种子"),
    Knob("preview_every", 50, 0, 1_000_000, int, key="train.preview_every", en="Preview every", zh="预览间隔"),
    Knob("fast", False, kind=bool, key="train.fast", en="Compile", zh="编译"),
)


def family_knobs() -> tuple[Knob, ...]:
    """Every trainable family's studio settings, in registry order (a name two families share is
    one setting: it must be declared alike)."""
    out: dict[str, Knob] = {}
    for spec in families.trainable():
        for knob in spec.knobs:
            if knob.studio:
                assert out.setdefault(knob.name, knob) == knob, f"{knob.name} declared twice, differently"
    return tuple(out.values())


FAMILY_KNOBS = family_knobs()
# A training run as a person sets it up: family, data set, size preset, then every knob. The fields
# come in this order, which is also the order of the training tab's API parameters: a new
# family's settings are appended, so no earlier parameter moves. Every field is checked by `check`.
KNOBS = HEAD + TAIL + FAMILY_KNOBS
Recipe = dataclasses.make_dataclass(
    "Recipe", [("family", str, FAMILIES[0]), ("dataset", str, "shapes"), ("size", str, "tiny")]
    + [(k.name, k.kind, k.default) for k in KNOBS], frozen=True)
Recipe.__module__ = __name__
Recipe.__doc__ = "A training run as a person sets it up (fields: RECIPE_FIELDS); checked by `check`."
RECIPE_FIELDS = tuple(f.name for f in dataclasses.fields(Recipe))

# What a person may set: field -> (low, high, English name, Chinese name). Outside: "studio_value".
BOUNDS: dict[str, tuple[float, float, str, str]] = {
    k.name: (k.low, k.high, k.en, k.zh) for k in KNOBS if k.kind in (int, float)}
INTEGER_FIELDS = {k.name for k in KNOBS if k.kind is int}


def owner(field: str) -> str | None:
    """The family whose own setting `field` is (None: every family's)."""
    return next((f.name for f in families.trainable() for k in f.knobs if k.name == field and k.studio), None)


def on_gpu(device: torch.device | None = None) -> bool:
    return (device or runtime.device()).type == "cuda"


def _spec(family: str) -> families.Family:
    if family not in FAMILIES:
        raise UserError("studio_choice", what_en="Family", what_zh="模型类别", value=family,
                        choices=", ".join(FAMILIES))
    return families.get(family)


def defaults(family: str, device: torch.device | None = None) -> Recipe:
    """A recipe that shows learning within a few minutes on this device (a CPU: tiny models)."""
    spec = _spec(family)
    gpu = on_gpu(device)
    common = {"family": family, "size": "small" if gpu else "tiny", "batch_size": 128 if gpu else 32,
              "n_images": 10_000 if gpu else 2000, "preview_every": 200 if gpu else 50}
    own = {k.name: k.default_on(gpu) for k in spec.knobs if k.studio}
    return Recipe(**{**common, **own, **spec.studio_defaults, **(spec.studio_gpu if gpu else {})})


def check(recipe: Recipe) -> Recipe:
    """The recipe with its numbers coerced, or a bilingual UserError naming the bad value."""
    spec = _spec(recipe.family)
    if recipe.dataset == "toy2d":
        raise UserError("studio_toy2d")
    if recipe.dataset not in DATASETS:
        raise UserError("studio_choice", what_en="Data set", what_zh="数据集", value=recipe.dataset,
                        choices=", ".join(d for d in DATASETS if d != "toy2d"))
    if recipe.dataset not in spec.datasets:
        raise UserError(spec.data_error, dataset=recipe.dataset, choices=", ".join(spec.datasets),
                        family_en=spec.title_en, family_zh=spec.title_zh)
    if recipe.size not in SIZES:
        raise UserError("studio_choice", what_en="Model size", what_zh="模型规模", value=recipe.size,
                        choices=", ".join(SIZES))
    return dataclasses.replace(recipe, **{k.name: k.check(getattr(recipe, k.name)) for k in KNOBS})


def _fmt(x: float) -> str:
    return families._fmt(x)


# ------------------------------------------------------------------------------------------------
# Data
# ------------------------------------------------------------------------------------------------

def image_side(recipe: Recipe) -> int:
    """The side the model trains at: the data set's own, 32 for faces below the base preset (a CPU
    trains 64x64 slowly), then what the family makes of it (StyleGAN: the next power of two)."""
    side = NATIVE_SIDE[recipe.dataset]
    if recipe.size != "base":
        side = min(side, 32)
    fit = families.get(recipe.family).side
    return fit(side) if fit is not None else side


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
# A family's settings, and how its steps may be cut
# ------------------------------------------------------------------------------------------------

def knob_values(recipe: Recipe, side: int) -> dict:
    """Everything the family's spec reads: its knobs' defaults, its size preset at this side, then
    the recipe's fields (its own settings, and the shared ones such as lr and dataset)."""
    spec = families.get(recipe.family)
    values = {k.name: k.default for k in spec.knobs}
    values.update(spec.presets(recipe.size, side))
    values.update(dataclasses.asdict(recipe))
    return values


# A family whose loss is over the batch as a whole names the model's per-row embedding methods: its
# steps run as a gradient cache (engines.train), the same gradient in units of rows.
CACHED = {f.name: f.cached for f in families.trainable() if f.cached}


def split_for(family: str, model: torch.nn.Module) -> Split | None:
    """How a family's step may be cut into micro-batches (None: it may not)."""
    spec = families.get(family)
    if spec.whole_steps:  # e.g. InfoNCE compares every image with every caption of the batch
        return None
    return spec.split(model) if spec.split is not None else contiguous_split


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
    class_names: list[str] | None = None   # the data set's label names, for the card

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
            grad_clip=families.get(r.family).grad_clip,
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
    spec = families.get(recipe.family)
    data = load_data(recipe, data_dir=data_dir, zip_path=zip_path)
    _, channels, side, _ = data.images.shape
    values = knob_values(recipe, side)
    num_classes = None
    if spec.conditional and data.labels is not None and data.class_names and len(data.class_names) <= 20:
        num_classes = len(data.class_names)
    config = spec.config(values, side, channels, num_classes)
    config, model, steps_before, continued = _initial_model(recipe, config, init)
    common = dict(recipe=recipe, data_note=data.split_note, data_dir=data_dir, continued_from=continued,
                  steps_before=steps_before, trainer_state=saved_state(init),
                  class_names=list(data.class_names) if data.class_names else None)
    if spec.prepare is not None:  # a family that trains on something else than labelled images
        loss, images, labels, make_preview = spec.prepare(config, model, data, values)
        return Plan(config=config, model=model, loss=loss, images=images, labels=labels,
                    make_preview=make_preview, **common)
    if (config.image_size, config.channels) != (side, channels):  # only a loaded checkpoint can differ
        raise UserError("studio_data_mismatch", size=config.image_size, channels=config.channels,
                        data_size=side, data_channels=channels, dataset=recipe.dataset)
    config = _retuned(spec, config, model, values)
    loss, make_preview = _loss_and_preview(spec, config, values)
    labels = data.labels if spec.conditional and getattr(config, "num_classes", None) is not None else None
    return Plan(config=config, model=model, loss=loss, images=data.images, labels=labels, make_preview=make_preview,
                **common)


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


def _retuned(spec: families.Family, config, model, values: dict):
    """The config with the settings a run may change set now (a VAE's beta), which win over a
    loaded or earlier run's (R1 gamma likewise, in the family's loss)."""
    if spec.retune is None:
        return config
    new = spec.retune(config, values)
    if new != config:
        model.config = new
    return new


def _module(family: str):
    return families.get(family).load_module()


def _loss_and_preview(spec: families.Family, config, values: dict):
    loss = spec.loss(config, values)
    return loss, lambda stop: spec.preview(config, loss, stop, n=PREVIEW_N, seed=PREVIEW_SEED)


def resume(plan: Plan, recipe: Recipe | None = None) -> Plan:
    """The same model (and, after a run, its optimiser state) for `recipe.steps` more steps; the
    other settings that may change between runs: lr, batch, preview interval, beta, dropout, R1."""
    if recipe is None:
        return plan
    recipe = check(recipe)
    spec = families.get(recipe.family)
    keep = ("family", "dataset", "size", *(k.name for k in KNOBS if k.fixed), "n_images", "seed")
    changed = [f for f in keep if getattr(recipe, f) != getattr(plan.recipe, f)]
    if changed:
        raise UserError("studio_resume_changed", fields=", ".join(changed))
    if spec.prepare is not None:  # its loss and preview depend only on the data, which stays
        plan.recipe = recipe
        return plan
    values = knob_values(recipe, plan.config.image_size)
    plan.config = _retuned(spec, plan.config, plan.model, values)
    loss, make_preview = _loss_and_preview(spec, plan.config, values)
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
    if plan.class_names:
        card["class_names"] = plan.class_names
    spec = families.get(r.family)
    if spec.card is not None:
        card.update(spec.card(plan.config))
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
    """The aux data the family's tab reads (its spec's `aux`), made from held-out images."""
    make = families.get(plan.recipe.family).aux
    if make is None:
        return {}
    images, labels = _held_out(plan)
    return make(model, plan.config, images, labels)


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
    # The family's own settings its config records (a VAE's latent_dim and beta, a StyleGAN's R1 gamma).
    recorded = {k.name: k.kind(ckpt.config[k.name]) for k in families.get(ckpt.family).knobs
                if k.studio and k.name in ckpt.config}
    return dataclasses.replace(recipe, **recorded)
