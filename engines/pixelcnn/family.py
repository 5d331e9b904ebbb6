"""The PixelCNN family's spec (engines.families): training settings, presets, studio and command line."""

from __future__ import annotations

import torch

from .. import runtime
from ..families import Family, Knob, held_out_at_hand, stepwise_preview
from ..pictures import image_grid
from . import FAMILY, Config, build, evaluate, make_loss

KNOBS = (
    Knob("layers", 8, 2, 16, int, key="train.pixelcnn.layers", info="train.pixelcnn.layers.info",
         en="Layers", zh="层数", fixed=True,
         help="gated layers: each reaches one more row up and one more column left"),
    Knob("width", 48, kind=int, help="feature channels of every layer (default: the base preset's)"),
    Knob("head", 128, kind=int, help="hidden channels of the output head"),
    Knob("first_kernel", 7, kind=int, help="the first layer's kernel side (odd)"),
    Knob("kernel", 3, kind=int, help="the other layers' kernel side (odd)"),
    Knob("binarize", False, kind=bool, help="model binarised pixels (2 levels) instead of 256 grey levels"),
    Knob("unconditional", False, kind=bool, help="ignore the data set's labels (default: class-conditional)"),
)

# `python -m engines sample` on a PixelCNN checkpoint (--label is shared with the DDPM's).
SAMPLE_KNOBS = (
    Knob("label", None, kind=str, help="class to generate: one label, or 'all' for an even spread"),
    Knob("temperature", None, kind=float, help="divide the logits by T (0.05 to 5; default 1)"),
    Knob("top_k", None, kind=int, help="keep the k likeliest values of each pixel (0: all)"),
    Knob("top_p", None, kind=float, help="keep the smallest set of values with probability >= p (1: all)"),
)

PREVIEW_LABELS = 16


def presets(size: str, side: int) -> dict:
    """The studio's model sizes (the command line's defaults are the base one)."""
    return {"tiny": {"width": 16, "head": 32}, "small": {"width": 32, "head": 64},
            "base": {"width": 48, "head": 128}}[size]


def family_config(values: dict, side: int, channels: int, num_classes: int | None = None) -> Config:
    return Config(image_size=side, channels=channels, levels=2 if values.get("binarize") else 256,
                  width=values["width"], layers=values["layers"], head=values["head"],
                  first_kernel=values["first_kernel"], kernel=values["kernel"], num_classes=num_classes)


def family_loss(config: Config, values: dict):
    return make_loss(config)


def studio_preview(config: Config, loss, stop=None, n: int = 16, seed: int = 1234):
    """n images drawn pixel by pixel (labels 0, 1, 2, ... when conditional) -> uint8 grid. Its
    `steps(model)` generator yields after every row, so the trainer runs one row per unit of work."""
    from .sampler import Knobs, stream

    def stepwise(model):
        was_training = model.training
        model.eval()
        device = next(model.parameters()).device
        labels = (torch.arange(n, device=device) % config.num_classes) if config.num_classes else None
        frames = stream(model, n, runtime.generator(seed), Knobs(), labels=labels)
        frame = None
        try:
            while True:
                with torch.inference_mode():
                    frame = next(frames, None)
                    for _ in range(config.image_size - 1):  # the rest of the row
                        if frame is None or frame.col == config.image_size - 1:
                            break
                        frame = next(frames, None)
                if frame is None or (stop is not None and stop.is_set()):
                    break
                if frame.done:
                    yield image_grid(frame.images.copy())
                    return
                yield None
        finally:
            model.train(was_training)

    return stepwise_preview(stepwise, stop)


def studio_aux(model, config: Config, images: torch.Tensor, labels: torch.Tensor | None) -> dict:
    """32 example images with their labels: the tab's completions start from them."""
    aux = {"examples": (images[:32] * 255).round().to(torch.uint8)}
    if labels is not None:
        aux["example_labels"] = labels[:32].to(torch.int64)
    return aux


AUX_SCHEMA = {
    "examples": ("uint8", lambda c: (None, c.channels, c.image_size, c.image_size)),
    "example_labels": ("int", lambda c: (None,)),
}


def card_fields(config: Config) -> dict:
    return {"likelihood": f"{config.levels}-way softmax per pixel channel (exact log-likelihood)"}


def train_cli(args, kit):
    """`python -m engines train pixelcnn`: the exact NLL, held-out bits per dimension."""
    from ..train import Trainer

    train, test = kit.datasets(args)
    _, channels, size, _ = train.images.shape
    values = kit.values(args, size)
    conditional = not values["unconditional"] and train.labels is not None
    config = family_config(values, size, channels, len(train.class_names) if conditional else None)
    torch.manual_seed(args.seed)
    config, model, init_card = kit.init_from(args, FAMILY, config, build)
    trainer = Trainer(model, make_loss(config), train.float(), kit.train_config(args, warmup=100),
                      labels=train.labels if conditional else None)
    held_x = test.float().to(trainer.device)
    held_y = test.labels.to(trainer.device) if conditional else None
    last, curve, wall = kit.run(trainer, args, lambda m: evaluate(m, held_x[:500], labels=held_y)["bits_per_dim"])
    final = trainer.final_model()
    metrics = {f"heldout_{k}": round(v, 4) for k, v in evaluate(final, held_x, labels=held_y).items()}
    metrics.update({f"train_{k}": round(v, 4) for k, v in
                    evaluate(final, train.float()[:2000].to(trainer.device),
                             labels=train.labels[:2000] if conditional else None).items()})
    aux = studio_aux(final, config, test.images[:32].float() / 255, test.labels if conditional else None)
    card = kit.card(args, train, test, last, curve, metrics=metrics, class_names=train.class_names,
                    metrics_note="exact negative log-likelihood of the held-out images: nats per image and "
                                 "bits per dimension (nats / (H W C ln 2))",
                    **card_fields(config), **init_card)
    return trainer.save(args.out, family=FAMILY, config=config, card=card, aux=aux, elapsed_s=wall)


def compact_metrics(model, config: Config, dataset: str, data_dir) -> dict:
    from ..data import load_dataset

    if not held_out_at_hand(dataset, data_dir):
        return {}
    test = load_dataset(dataset, "test", data_dir=data_dir, seed=0)
    labels = test.labels if config.num_classes else None
    return {f"heldout_{k}": round(v, 4) for k, v in evaluate(model, test.float(), labels=labels).items()}


def _engine():
    from .engine import Engine
    return Engine


SPEC = Family(
    name=FAMILY, title_en="PixelCNN", title_zh="PixelCNN", module="engines.pixelcnn", engine=_engine,
    tab="pixelcnn.tab", knobs=KNOBS, datasets=("mnist", "shapes", "faces", "zip"),
    studio_defaults={"dataset": "mnist", "steps": 300, "lr": 2e-3}, studio_gpu={"steps": 3000},
    presets=presets, config=family_config, conditional=True, loss=family_loss, preview=studio_preview,
    curves=("loss", "bits_per_dim"), aux=studio_aux, aux_schema=AUX_SCHEMA, card=card_fields,
    train_cli=train_cli, sample_knobs=SAMPLE_KNOBS, compact=compact_metrics, evaluate=evaluate,
)
