"""The model families: one registry, and what each family says about itself (`Family`).

`REGISTRY` is the only list of families. Each entry names the module whose `SPEC` describes the
family; nothing is imported until a spec is asked for, so `import engines` stays light. Every
switchboard (checkpoint loading, the command line, the studio, the training tab, the tabs'
engine lookup, CLIP's generator list) reads these specs; a name without a spec exists nowhere.

A family's `Knob`s are its training settings, each declared once (name, default, bounds, type and
the training tab's string key): the command line's options, the studio's validation and the
training tab's widgets are generated from them.
"""

from __future__ import annotations

import importlib
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from .errors import UserError

# Family name -> the module whose SPEC describes it. Adding a family is one line here.
REGISTRY = {
    "vae": "engines.vae",
    "stylegan": "engines.stylegan.family",
    "ddpm": "engines.diffusion.family",
    "clip": "engines.clip.family",
    "faceattr": "engines.stylegan.attributes",
    "pixelcnn": "engines.pixelcnn.family",
    "vqvae": "engines.vqvae.family",
    "ldm": "engines.ldm.family",
}
NAMES = tuple(REGISTRY)
SIZES = ("tiny", "small", "base")   # size presets every trainable family has


@dataclass(frozen=True)
class Knob:
    """One training setting. `key` is the training tab's string key of its label; a knob without
    one is a command-line option only (an architecture choice the studio takes from its preset)."""

    name: str                       # field / argparse dest, e.g. "latent_dim"
    default: Any                    # on a CPU (and on the command line)
    low: float | None = None        # bounds of a number (inclusive)
    high: float | None = None
    kind: type = float              # int | float | bool | str | tuple (comma-separated integers)
    key: str | None = None          # the training tab's label key, e.g. "train.latent"
    info: str | None = None         # ... and of its explanation under the widget
    en: str = ""                    # its name in error messages, English and Chinese
    zh: str = ""
    help: str = ""                  # the command line's help
    gpu: Any = None                 # default on a GPU (None: the same)
    choices: tuple = ()             # allowed values of a str knob
    flag: str | None = None         # the command line's option (default --name-with-dashes)
    fixed: bool = False             # shapes the model: a resumed run cannot change it

    @property
    def option(self) -> str:
        return self.flag or "--" + self.name.replace("_", "-")

    @property
    def studio(self) -> bool:
        return self.key is not None

    def default_on(self, gpu: bool):
        return self.gpu if gpu and self.gpu is not None else self.default

    def parse(self, text: str):
        """The command line's string -> value (a tuple knob: "1,2,2" -> (1, 2, 2))."""
        if self.kind is tuple:
            return tuple(int(v) for v in str(text).split(",") if v.strip())
        return self.kind(text)

    def check(self, raw):
        """A person's value, coerced to the knob's type, or UserError studio_value / studio_integer."""
        if self.kind is bool:
            return bool(raw)
        if self.kind is str:
            if self.choices and raw not in self.choices:
                raise UserError("studio_choice", what_en=self.en, what_zh=self.zh, value=raw,
                                choices=", ".join(self.choices))
            return raw
        try:
            value = float(raw)
        except (TypeError, ValueError):
            value = math.nan
        bounds = dict(what_en=self.en, what_zh=self.zh, low=_fmt(self.low), high=_fmt(self.high), value=raw)
        if not math.isfinite(value):
            raise UserError("studio_value", **bounds)
        if self.kind is int:
            if value != int(value):
                raise UserError("studio_integer", what_en=self.en, what_zh=self.zh, value=raw)
            value = int(value)
        if not self.low <= value <= self.high:
            raise UserError("studio_value", **bounds)
        return value


def _fmt(x) -> str:
    if x is None:
        return ""
    return f"{x:g}" if isinstance(x, float) and not float(x).is_integer() else f"{int(x):,}"


@dataclass(frozen=True)
class Family:
    """What one model family says about itself. Only `name`, the titles and `module` are required:
    a family without `config` (the faces attribute regressor) loads from checkpoints but does not
    train in the studio or from the generic command line."""

    name: str
    title_en: str
    title_zh: str
    module: str                                   # has Config, build (and Engine): what checkpoints load
    engine: Callable[[], Any] | None = None       # -> a class with .load(folder) (the tabs' engine)
    tab: str | None = None                        # the string key of the family's tab
    knobs: tuple[Knob, ...] = ()                  # its own training settings (studio and command line)
    datasets: tuple[str, ...] = ()                # data sets it trains on in the studio
    data_error: str = "studio_family_data"        # the UserError key for another data set
    studio_defaults: dict = field(default_factory=dict)   # recipe fields on a CPU ...
    studio_gpu: dict = field(default_factory=dict)        # ... and what a GPU changes
    presets: Callable[[str, int], dict] | None = None     # (size, side) -> knob values of that size
    config: Callable[..., Any] | None = None      # (values, side, channels, num_classes) -> Config
    side: Callable[[int], int] | None = None      # data set's side -> the side the model trains at
    conditional: bool = False                     # learns p(x | label) from labelled data (the studio)
    loss: Callable[..., Any] | None = None        # (config, values) -> loss function or [Phase]
    retune: Callable[[Any, dict], Any] | None = None  # (config, values) -> config with the knobs a run may change
    preview: Callable[..., Any] | None = None     # (config, loss, stop) -> the preview while training
    curves: tuple[str, ...] = ("loss",)           # logged values the training tab plots
    grad_clip: float | None = 1.0                 # the studio's gradient-norm clip (None: off)
    split: Callable[[Any], Any] | None = None     # model -> how a step may be cut (None: whole steps)
    whole_steps: bool = False                     # its loss is over the batch: never cut a step
    cached: tuple[str, ...] = ()                  # per-row methods for a gradient cache (engines.train)
    aux: Callable[..., dict] | None = None        # (model, config, images, labels) -> aux tensors to ship
    aux_schema: dict = field(default_factory=dict)  # aux name -> (dtype kind, config -> shape)
    card: Callable[[Any], dict] | None = None     # config -> card fields the studio's checkpoint adds
    prepare: Callable[..., Any] | None = None     # a studio plan of its own (CLIP: captions, not labels)
    train_cli: Callable[..., Any] | None = None   # (args, values, kit) -> checkpoint folder
    sample_knobs: tuple[Knob, ...] = ()           # `python -m engines sample` options its sampler takes
    sample: Callable[..., Any] | None = None      # (engine, n, seed, options) -> (images, labels); default
                                                  # engine.sample(n, seed, **options)
    compact: Callable[..., dict] | None = None    # (model, config, dataset, data_dir) -> metrics re-measured
    evaluate: Callable[..., dict] | None = None   # (model, float images, seed=) -> held-out metrics (`eval`)
    guide_candidates: int | None = None           # CLIP guidance can steer it: default candidates
    guide_target: Callable[..., Any] | None = None  # (engine, gen, setting, k) -> what CLIP guidance's Adam moves
    guide_run: Callable[..., Any] | None = None   # or its own guided loop: (backend, setting, objective, engine,
    #                                               stop, every) -> GuideFrames (engines.clip.guide)
    guide_repeats: int = 1                        # CLIP passes per guided step (its work budget)
    in_studio: bool = True                        # the training studio offers it (False: command line only,
    #                                               e.g. latent diffusion, whose captioned data the studio lacks)

    @property
    def trainable(self) -> bool:
        return self.config is not None

    def title(self, lang: str) -> str:
        return self.title_zh if lang == "zh" else self.title_en

    def load_module(self):
        return importlib.import_module(self.module)

    def engine_class(self):
        if self.engine is None:
            raise ValueError(f"no engine for family {self.name!r}")
        return self.engine()


def known() -> str:
    return ", ".join(NAMES)


def get(name: str) -> Family:
    """The family's spec; UserError checkpoint_unknown_family for a name with none."""
    if not isinstance(name, str) or name not in REGISTRY:
        raise UserError("checkpoint_unknown_family", family=str(name)[:40], known=known())
    return importlib.import_module(REGISTRY[name]).SPEC


def all_families() -> list[Family]:
    return [get(n) for n in NAMES]


def trainable() -> list[Family]:
    """The families the studio and the generic command line train, in registry order."""
    return [f for f in all_families() if f.trainable]


def guidable() -> list[Family]:
    """The families CLIP guidance can steer, in registry order."""
    return [f for f in all_families() if f.guide_candidates is not None]


def held_out_at_hand(dataset: str | None, data_dir) -> bool:
    """Whether a card's held-out images can be had here: procedural shapes always, MNIST given its folder."""
    return dataset == "shapes" or (dataset == "mnist" and bool(data_dir))


def class_names(card: dict) -> list[str] | None:
    """Label i's name: the card's `class_names` (every card written since the family registry
    carries them), else, for an older card, those of the built-in data set it names."""
    names = card.get("class_names")
    if isinstance(names, list) and names and all(isinstance(n, str) for n in names):
        return list(names)
    from .data import SHAPES
    from .data.faces import HEAD_SHAPES

    built_in = {"mnist": [str(d) for d in range(10)], "shapes": list(SHAPES), "faces": list(HEAD_SHAPES)}
    return built_in.get(card.get("dataset"))


class CheckpointEngine:
    """What every family's Engine reads from its checkpoint: config and model built on the device,
    card, name, path and aux tensors (on the CPU). A subclass names its `FAMILY`; `load` refuses a
    checkpoint of another family."""

    FAMILY = ""

    def __init__(self, ckpt, device=None):
        from . import runtime

        self.device = device or runtime.device()
        self.config, self.model = ckpt.build(self.device)
        self.card = ckpt.card
        self.name = ckpt.name
        self.path = ckpt.path
        self.aux = {k: v.to("cpu") for k, v in ckpt.aux.items()}

    @classmethod
    def load(cls, path, device=None):
        from . import checkpoint

        return cls(checkpoint.load(path, expect_family=cls.FAMILY), device)

    @property
    def class_names(self) -> list[str] | None:
        """Label i's name (the card's, `class_names`)."""
        return class_names(self.card)


def stepwise_preview(stepwise: Callable, stop=None) -> Callable:
    """A preview that runs `stepwise(model)` (None while it works, then the picture) to its end;
    None if `stop` is set meanwhile. `preview.steps` is `stepwise`, for callers that step it."""

    def preview(model):
        out = None
        for out in stepwise(model):
            if stop is not None and stop.is_set():
                return None
        return out

    preview.steps = stepwise
    return preview
