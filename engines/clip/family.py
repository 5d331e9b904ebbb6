"""The CLIP family's spec (engines.families): training settings, presets, studio and command line."""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import torch

from ..errors import UserError
from ..families import Family, Knob
from . import FAMILY, Config, build

CAPTIONED = ("mnist", "shapes")  # the data sets the GenLab CLIP has true captions for

KNOBS = (
    Knob("clip_data", "mnist,shapes", kind=str, help="captioned data: mnist, shapes or both (comma-separated)"),
    Knob("clip_width", 96, kind=int, help="width of both towers and of the shared embedding"),
    Knob("clip_layers", 2, kind=int,
         help="transformer blocks in each tower (a ResNet image tower has one bottleneck per stage)"),
    Knob("clip_mlp_ratio", 2.0, kind=float, help="transformer MLP width / model width"),
    Knob("clip_patch", 4, kind=int, help="ViT patch side in pixels (the image tower sees 32x32)"),
    Knob("clip_vision", "vit", kind=str, choices=("vit", "resnet"),
         help="image tower: a ViT, or open_clip's ModifiedResNet (one bottleneck per stage)"),
    Knob("clip_vision_width", 0, kind=int, help="image tower width (default: --clip-width for a ViT, 16 for a ResNet)"),
    Knob("clip_image_size", 0, kind=int, help="side the image tower sees (default 32; a ResNet needs a multiple of 32)"),
    Knob("clip_negatives", False, kind=bool,
         help="add hard-negative captions (false of a shapes image in one factor) to every batch"),
    Knob("clip_noise", 0.08, kind=float, help="largest pixel-noise sigma on half the images"),
    Knob("clip_blur", 0.0, kind=float, help="largest Gaussian-blur sigma (pixels at 32x32) on half the images (0: off)"),
    Knob("clip_reword", 0.5, kind=float,
         help="share of shapes captions that say the position another way ('in the top left', '左上方')"),
    Knob("clip_x0_ddpm", "", kind=str,
         help="a shapes DDPM folder: half the shapes images become its predicted x0 from a noised copy"),
    Knob("weight_decay", 0.0, kind=float, help="AdamW weight decay"),
)


def presets(size: str, side: int) -> dict:
    width, layers = {"tiny": (64, 1), "small": (96, 2), "base": (128, 4)}[size]
    return {"clip_width": width, "clip_layers": layers}


def family_config(values: dict, side: int = 32, channels: int = 3, num_classes: int | None = None) -> Config:
    """Both towers from the settings; the image tower sees 32x32 (any data is resized to it)."""
    resnet = values["clip_vision"] == "resnet"
    width, layers = values["clip_width"], values["clip_layers"]
    return Config(vision=values["clip_vision"], text_width=width, embed_dim=width,
                  vision_width=values["clip_vision_width"] or (16 if resnet else width),
                  vision_layers=1 if resnet else layers, text_layers=layers, mlp_ratio=values["clip_mlp_ratio"],
                  patch_size=values["clip_patch"], image_size=values["clip_image_size"] or 32)


def probe(data, texts: list[list[str]], n: int = 8) -> tuple[torch.Tensor, list[str]]:
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


def similarity_preview(config, images: torch.Tensor, captions: list[str], cell: int = 32):
    """Row i: image i; column j: the caption of image j; colour: how much of image i's softmax over
    the captions goes to caption j (dark blue 0 -> yellow 1). A trained CLIP lights the diagonal.
    -> uint8 (H, W, 3): the images down the left, the (n, n) map beside them."""
    from . import tokenizer
    from .model import MAX_LOGIT_SCALE, to_tower_input

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


def studio_prepare(config, model, data, values: dict):
    """The GenLab CLIP on one captioned data set: each image's bank of true captions (English and
    Chinese), the contrastive loss that knows which captions are true of which images
    -> (loss, uint8 images, labels: each image its own row, make_preview(stop))."""
    from . import train as ct
    from .model import freeze_norms

    mnist, shapes = (data, None) if values["dataset"] == "mnist" else (None, data)
    texts, reqs, attrs = ct.caption_bank(mnist, shapes)
    freeze_norms(model)  # a ResNet tower's statistics stay put: a step here may be a gradient cache
    images = ct.training_images(mnist, shapes, 32)  # uint8; the tower resizes to its own side
    shown, captions = probe(data, texts)
    return (ct.make_loss(config, texts, reqs, attrs), images, torch.arange(len(images)),
            lambda stop: similarity_preview(config, shown, captions))


def _sources(args, values: dict):
    from ..data import load_dataset

    sources = [s.strip() for s in values["clip_data"].split(",") if s.strip()]
    if not sources or set(sources) - set(CAPTIONED):
        raise UserError("clip_data_unknown", value=values["clip_data"])
    mnist = shapes = mnist_test = shapes_test = None
    if "mnist" in sources:
        mnist = load_dataset("mnist", "train", data_dir=args.data_dir)
        mnist_test = load_dataset("mnist", "test", data_dir=args.data_dir, n=args.n_test)
    if "shapes" in sources:
        shapes = load_dataset("shapes", "train", n=args.n_train, seed=args.data_seed)
        shapes_test = load_dataset("shapes", "test", n=args.n_test or 1000, seed=args.data_seed)
    return sources, (mnist, shapes), (mnist_test, shapes_test)


def _x0_from(folder: str):
    if not folder:
        return None
    from ..diffusion import FAMILY as DDPM
    from .guide import load_generator

    family, engine = load_generator(folder)
    if family != DDPM:
        raise UserError("checkpoint_wrong_family", family=family, expected=DDPM)
    return engine


def train_cli(args, kit):
    """`python -m engines train clip`: captioned MNIST digits and/or shapes (--clip-data), English
    and Chinese."""
    from . import train as ct
    from ..train import Trainer

    values = kit.values(args, 32)
    sources, (mnist, shapes), (mnist_test, shapes_test) = _sources(args, values)
    torch.manual_seed(args.seed)
    config, model, init_card = kit.init_from(args, FAMILY, family_config(values), build)
    if not 0 <= values["clip_reword"] <= 1:
        raise UserError("value_out_of_range", what="--clip-reword", low=0, high=1, value=values["clip_reword"])
    texts, reqs, attrs = ct.caption_bank(mnist, shapes, reword=values["clip_reword"], seed=args.data_seed)
    images = ct.training_images(mnist, shapes, 32)  # the tower resizes (a ResNet may see 64x64)
    loss = ct.make_loss(config, texts, reqs, attrs, negatives=values["clip_negatives"], noise=values["clip_noise"],
                        reword=values["clip_reword"], blur=values["clip_blur"], x0_from=_x0_from(values["clip_x0_ddpm"]))
    train_config = dataclasses.replace(kit.train_config(args, warmup=200), weight_decay=values["weight_decay"])
    trainer = Trainer(model, loss, images.float().div_(255), train_config, labels=torch.arange(len(images)))
    probe_set = mnist_test.subset(slice(0, 500)) if mnist_test is not None else None
    last, curve, wall = kit.run(
        trainer, args, lambda m: ct.zero_shot(m, config, probe_set, None).get("digits", {}).get("en", float("nan")))
    zero_shot = ct.zero_shot(trainer.final_model(), config, mnist_test, shapes_test)
    args.dataset = "+".join(sources)
    card = kit.card(args, mnist or shapes, mnist_test or shapes_test, last, curve, metrics={"zero_shot": zero_shot},
                    **init_card, tokenizer=ct.TOKENIZER_NOTE, captions=ct.CAPTIONS_NOTE, metrics_note=ct.ZERO_SHOT_NOTE)
    card["split"] = {"train": "; ".join(s.split_note for s in (mnist, shapes) if s is not None),
                     "held_out": "; ".join(s.split_note for s in (mnist_test, shapes_test) if s is not None)}
    return trainer.save(args.out, family=FAMILY, config=config, card=card, elapsed_s=wall)


def compact_metrics(model, config, dataset: str | None, data_dir) -> dict:
    """Zero-shot accuracy on the card's held-out sets, re-measured on the float16-rounded weights."""
    from ..data import load_dataset
    from . import train as ct

    sources = dataset.split("+") if dataset else []
    mnist = load_dataset("mnist", "test", data_dir=data_dir) if "mnist" in sources else None
    shapes = load_dataset("shapes", "test", n=1000) if "shapes" in sources else None
    return {"zero_shot": ct.zero_shot(model, config, mnist, shapes)}


def _engine():
    """A CLIP's "engine" is its Backend: load_backend(folder) checks the family and builds it."""
    from types import SimpleNamespace

    from . import load_backend
    return SimpleNamespace(load=load_backend)


SPEC = Family(
    name=FAMILY, title_en="CLIP", title_zh="CLIP", module="engines.clip", engine=_engine, tab="clip.tab",
    knobs=KNOBS, datasets=CAPTIONED, data_error="studio_clip_data",
    studio_defaults={"dataset": "mnist", "steps": 300, "lr": 2e-3, "batch_size": 64, "preview_every": 25},
    studio_gpu={"steps": 3000, "batch_size": 256, "preview_every": 200},
    presets=presets, config=family_config, side=lambda side: 32, prepare=studio_prepare,
    curves=("loss", "i2t_acc"), whole_steps=True, cached=("encode_image", "encode_text"),
    train_cli=train_cli, compact=compact_metrics,
)
