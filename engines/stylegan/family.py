"""The StyleGAN family's spec (engines.families): training settings, presets, studio and command line."""

from __future__ import annotations

import dataclasses
import math

import torch

from .. import runtime
from ..errors import UserError
from ..families import Family, Knob
from ..train import Split
from . import FAMILY, Config, Engine, build, make_phases, preview_fn
from .guided import GuideLatent

KNOBS = (
    Knob("r1_gamma", 1.0, 0.0, 1000.0, float, key="train.r1", en="R1 γ", zh="R1 γ", help="R1 penalty weight gamma"),
    Knob("z_dim", 128, kind=int, help="dimensions of z"),
    Knob("w_dim", 128, kind=int, help="dimensions of w"),
    Knob("mapping_layers", 4, kind=int, help="depth of the mapping network"),
    Knob("channel_base", 2048, kind=int, help="feature maps at side r: min(base / r, max)"),
    Knob("channel_max", 128, kind=int, help="the most feature maps at any side"),
    Knob("style_mixing", 0.9, kind=float, help="style-mixing regularisation probability"),
    Knob("r1_every", 16, kind=int, help="lazy R1: apply it every this many D steps"),
    Knob("mapping_lr_mul", 0.01, kind=float, help="learning-rate multiplier of the mapping network"),
    Knob("augment", "", kind=str, help="DiffAugment before D: translation, cutout, or both comma-separated"),
    Knob("gan_betas", "0,0.99", kind=str, help="Adam betas of G and D, e.g. 0,0.99"),
    Knob("snapshot_every", 0, kind=int, help="also save the model to OUT-stepN every N steps"),
)

# `python -m engines sample` on a StyleGAN checkpoint.
SAMPLE_KNOBS = (
    Knob("psi", None, kind=float, help="truncation: w = w_avg + psi (w - w_avg); 1 = none"),
    Knob("mix_seed", None, kind=int, help="take some layers' styles from this seed's w"),
    Knob("mix_layers", None, kind=str, help="layers for --mix-seed: coarse, middle, fine or indices, e.g. 0,1,2"),
)


def sample(engine, n: int, seed: int, options: dict):
    """Images seed .. seed + n - 1; with --mix-seed and --mix-layers, image i is seed + i with those
    layers' styles taken from the mix seed's w (style mixing) -> (images, labels None)."""
    mix = {k: options.pop(k) for k in ("mix_seed", "mix_layers") if k in options}
    if not mix:
        return engine.sample(n, seed, **options)
    if set(mix) != {"mix_seed", "mix_layers"}:
        raise UserError("sample_mix_pair")
    layers = [int(v) if v.strip().isdigit() else v.strip() for v in str(mix["mix_layers"]).split(",") if v.strip()]
    seed = runtime.check_seed(seed)
    runtime.check_seed(seed + n - 1)
    grid = engine.mix(list(range(seed, seed + n)), [mix["mix_seed"]], layers, options.get("psi", 1.0))
    return grid[:, 0], None


def presets(size: str, side: int) -> dict:
    """The studio's model sizes (the command line's defaults are the base one)."""
    z, maps, base, cap = {"tiny": (32, 2, 512, 32), "small": (64, 2, 1024, 64), "base": (128, 4, 2048, 128)}[size]
    return {"z_dim": z, "w_dim": z, "mapping_layers": maps, "channel_base": base, "channel_max": cap}


def family_config(values: dict, side: int, channels: int, num_classes: int | None = None) -> Config:
    return Config(image_size=side, channels=channels, z_dim=values["z_dim"], w_dim=values["w_dim"],
                  mapping_layers=values["mapping_layers"], channel_base=values["channel_base"],
                  channel_max=values["channel_max"], r1_gamma=values["r1_gamma"], r1_every=values["r1_every"],
                  style_mixing_prob=values["style_mixing"], mapping_lr_mul=values["mapping_lr_mul"],
                  augment=values["augment"])


def family_loss(config: Config, values: dict) -> list:
    """D then G; the R1 gamma set now wins over the one a loaded checkpoint was trained with."""
    return make_phases(dataclasses.replace(config, r1_gamma=values["r1_gamma"]), lr=values["lr"])


def mbstd_groups(batch: int, group_size: int) -> int:
    """How many images the minibatch standard deviation puts in a group for a batch."""
    g = min(group_size, batch)
    while batch % g:
        g -= 1
    return g


def mbstd_split(group_size: int) -> Split:
    """Micro-batches of whole minibatch-stddev groups for D. Images i and i + B/G of a batch of B
    share a group; a micro-batch takes whole groups, ordered so that the discriminator groups them
    again exactly so (the group size of each micro-batch is checked to be G)."""

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


def train_cli(args, kit):
    """`python -m engines train stylegan`: the D and G phases; --snapshot-every saves OUT-stepN."""
    from ..train import Trainer

    train, test = kit.datasets(args)
    _, channels, size, _ = train.images.shape
    values = kit.values(args, size)
    torch.manual_seed(args.seed)
    config, model, init_card = kit.init_from(args, FAMILY, family_config(values, size, channels), build)
    betas = tuple(float(b) for b in values["gan_betas"].split(","))
    trainer = Trainer(model, make_phases(config, lr=args.lr, betas=betas), train.float(),
                      kit.train_config(args, warmup=0))

    def save(out, last, wall):
        losses = {k: round(float(v), 4) for k, v in (trainer.history[-1] if trainer.history else {}).items()
                  if k != "step"}
        card = kit.card(args, train, test, last, None, metrics={"final_losses": losses}, **init_card,
                        metrics_note="the last step's losses; sample quality is measured by "
                                     "benchmarks/stylegan_quality.py")
        return trainer.save(out, family=FAMILY, config=config, card=card, elapsed_s=wall)

    def snapshot(ev):  # the model so far (the EMA copy) to OUT-stepN, to watch a long run
        if values["snapshot_every"] and ev.step % values["snapshot_every"] == 0:
            save(f"{args.out}-step{ev.step}", ev, ev.elapsed_s)

    last, _, wall = kit.run(trainer, args, lambda m: float("nan"), on_step=snapshot)
    return save(args.out, last, wall)


SPEC = Family(
    name=FAMILY, title_en="StyleGAN", title_zh="StyleGAN", module="engines.stylegan",
    engine=lambda: Engine, tab="gan.tab", knobs=KNOBS, datasets=("mnist", "shapes", "faces", "zip"),
    studio_defaults={"dataset": "shapes", "steps": 300, "lr": 2e-3}, studio_gpu={"steps": 5000},
    presets=presets, config=family_config, side=lambda side: 2 ** math.ceil(math.log2(side)),
    loss=family_loss, preview=lambda config, loss, stop=None, n=16, seed=1234: preview_fn(config, n=n, seed=seed),
    curves=("D_loss", "G_loss"), grad_clip=None, split=lambda model: mbstd_split(model.D.mbstd_group),
    train_cli=train_cli, sample_knobs=SAMPLE_KNOBS, sample=sample, guide_candidates=4, guide_target=GuideLatent,
)
