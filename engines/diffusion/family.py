"""The DDPM family's spec (engines.families): training settings, presets, studio and command line."""

from __future__ import annotations

import torch

from .. import runtime
from ..families import Family, Knob, held_out_at_hand, stepwise_preview
from ..pictures import image_grid, to_uint8
from . import FAMILY, Config, build, guided, heldout_loss, make_loss, make_process
from .engine import Engine

KNOBS = (
    Knob("p_uncond", 0.1, 0.0, 1.0, float, key="train.p_uncond", info="train.p_uncond.info", en="Label dropout",
         zh="标签丢弃率", help="label dropout for classifier-free guidance"),
    Knob("width", 32, kind=int, help="UNet channels at full resolution"),
    Knob("channel_mult", (1, 2, 2), kind=tuple, help="UNet width multipliers per level, e.g. 1,2,2"),
    Knob("blocks", 2, kind=int, help="residual blocks per level"),
    Knob("attention", None, kind=tuple,
         help="feature-map sides with self-attention, comma-separated (default: the lowest side; '' for none)"),
    Knob("patch_size", 1, kind=int, help="fold p x p pixel patches into channels first (1, 2, 4)"),
    Knob("dropout", 0.1, kind=float, help="dropout rate in residual blocks"),
    Knob("timesteps", 1000, kind=int, help="T"),
    Knob("schedule", "linear", kind=str, choices=("linear", "cosine"), help="beta schedule"),
    Knob("conditional", False, kind=bool, help="class-conditional on the data set's labels"),
    Knob("default_guidance", 3.0, kind=float, help="guidance scale the card suggests"),
)

# `python -m engines sample` on a DDPM checkpoint.
SAMPLE_KNOBS = (
    Knob("label", None, kind=str, help="class to generate: one label, or 'all' for an even spread"),
    Knob("guidance", None, kind=float, help="classifier-free guidance scale (default: the card's)"),
    Knob("sampler", None, kind=str, choices=("ddpm", "ddim"), help="ddpm: all T steps; ddim: --steps steps"),
    Knob("steps", None, kind=int, help="DDIM steps (default 50)"),
    Knob("eta", None, kind=float, help="DDIM noise level, 0 (deterministic) to 1"),
)


def presets(size: str, side: int) -> dict:
    """The studio's model sizes. 2x2 patches are folded into channels where the sides allow it
    (4x cheaper, as the shipped UNets); self-attention only in the base preset, at the lowest side."""
    width, mult, blocks, dropout = {"tiny": (16, (1, 2), 1, 0.0), "small": (32, (1, 2, 2), 1, 0.1),
                                    "base": (64, (1, 2, 2), 2, 0.1)}[size]
    patch = next(p for p in (2, 1) if side % (p * 2 ** (len(mult) - 1)) == 0 and side // p >= 8)
    return {"width": width, "channel_mult": mult, "blocks": blocks, "dropout": dropout, "patch_size": patch,
            "attention": None if size == "base" else ()}


def family_config(values: dict, side: int, channels: int, num_classes: int | None = None) -> Config:
    """The UNet for these settings; attention defaults to the lowest feature-map side of this data
    (28 -> 7 for MNIST, 32 -> 8 for shapes), so the defaults fit every data set."""
    mult, patch = tuple(values["channel_mult"]), values["patch_size"]
    attention = values["attention"]
    if attention is None:
        attention = (side // patch // 2 ** (len(mult) - 1),)
    return Config(image_size=side, channels=channels, width=values["width"], channel_mult=mult,
                  blocks_per_level=values["blocks"], attention_resolutions=tuple(attention),
                  num_classes=num_classes, dropout=values["dropout"], timesteps=values["timesteps"],
                  schedule=values["schedule"], patch_size=patch)


def family_loss(config: Config, values: dict):
    return make_loss(make_process(config), p_uncond=values["p_uncond"])


def studio_preview(config: Config, loss, stop=None, n: int = 16, seed: int = 1234, steps: int = 20):
    """DDIM from the same noise every time (labels 0, 1, 2, ... when conditional) -> uint8 grid.
    Gives up (None) as soon as `stop` is set, so Stop never waits for a whole preview; its
    `steps(model)` generator lets the trainer run it one DDIM step per unit of work (a base
    preset's preview takes tens of seconds on a CPU)."""
    from .process import to_unit

    process = make_process(config)

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

    return stepwise_preview(stepwise, stop)


def studio_aux(model, config: Config, images: torch.Tensor, labels: torch.Tensor | None) -> dict:
    """32 example images (with labels when conditional): the diffusion tab's forward process."""
    aux = {"examples": (images[:32] * 255).round().to(torch.uint8)}
    if labels is not None and config.num_classes:
        aux["example_labels"] = labels[:32].to(torch.int64)
    return aux


AUX_SCHEMA = {
    "examples": ("uint8", lambda c: (None, c.channels, c.image_size, c.image_size)),
    "example_labels": ("int", lambda c: (None,)),
}


def train_cli(args, kit):
    """`python -m engines train ddpm`: L_simple, with label dropout when conditional."""
    from ..train import Trainer

    train, test = kit.datasets(args)
    _, channels, size, _ = train.images.shape
    values = kit.values(args, size)
    conditional = values["conditional"] and train.labels is not None
    config = family_config(values, size, channels, len(train.class_names) if conditional else None)
    torch.manual_seed(args.seed)
    config, model, init_card = kit.init_from(args, FAMILY, config, build)
    process = make_process(config)
    loss = make_loss(process, p_uncond=values["p_uncond"])
    trainer = Trainer(model, loss, train.float(), kit.train_config(args, warmup=200),
                      labels=train.labels if conditional else None)
    held_x = test.float()[:1000].to(trainer.device)
    held_y = test.labels[:1000].to(trainer.device) if conditional else None
    last, curve, wall = kit.run(trainer, args, lambda m: heldout_loss(process, m, held_x, held_y))
    metrics = {"heldout_l_simple": round(heldout_loss(process, trainer.final_model(), held_x, held_y), 5)}
    card = kit.card(args, train, test, last, curve, metrics=metrics, default_guidance=values["default_guidance"],
                    class_names=train.class_names if conditional else None, **init_card,
                    metrics_note="mean squared error of the predicted noise (L_simple) on up to 1,000 held-out "
                                 "images, uniform t, seed 0, no label dropout")
    return trainer.save(args.out, family=FAMILY, config=config, card=card, elapsed_s=wall)


def compact_metrics(model, config: Config, dataset: str, data_dir) -> dict:
    """L_simple on the held-out images, re-measured on the float16-rounded weights."""
    from ..data import load_dataset

    if not held_out_at_hand(dataset, data_dir):
        return {}
    test = load_dataset(dataset, "test", data_dir=data_dir, seed=0, n=1000 if dataset == "shapes" else None)
    labels = test.labels[:1000] if config.num_classes is not None else None
    return {"heldout_l_simple": round(heldout_loss(make_process(config), model, test.float()[:1000], labels), 5)}


SPEC = Family(
    name=FAMILY, title_en="Diffusion (DDPM)", title_zh="扩散模型（DDPM）", module="engines.diffusion",
    engine=lambda: Engine, tab="diffusion.tab", knobs=KNOBS, datasets=("mnist", "shapes", "faces", "zip"),
    studio_defaults={"dataset": "mnist", "steps": 400, "lr": 1e-3, "preview_every": 100},
    studio_gpu={"steps": 5000, "preview_every": 500},
    presets=presets, config=family_config, conditional=True, loss=family_loss, preview=studio_preview,
    curves=("loss",), aux=studio_aux, aux_schema=AUX_SCHEMA,
    card=lambda config: {"default_guidance": 1.0} if config.num_classes else {},
    train_cli=train_cli, sample_knobs=SAMPLE_KNOBS, compact=compact_metrics,
    guide_candidates=8, guide_run=guided.run, guide_repeats=guided.RECURRENCE,
)
