"""A family added the way DEVELOPERS.md says (one module, one registry line): a plain autoencoder
(the AE of the AE-vs-VAE lesson), used by tests/test_families.py to show that the command line,
checkpoints and the studio pick it up with nothing else changed. Not registered in the app."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from engines import vae
from engines.families import Family, Knob

FAMILY = "probe_ae"
Config = vae.Config   # the VAE's network, read deterministically: z = mu
build = vae.build

KNOBS = (Knob("bottleneck", 8, 1, 64, int, key="train.bottleneck", en="Bottleneck", zh="瓶颈维度", fixed=True,
              help="dimensions of the code"),)


def presets(size: str, side: int) -> dict:
    return {}


def family_config(values: dict, side: int, channels: int, num_classes=None) -> Config:
    return Config(image_size=side, channels=channels, latent_dim=values["bottleneck"], widths=(8, 16), hidden=32,
                  beta=0.0, likelihood="bernoulli" if channels == 1 else "gaussian")


def family_loss(config: Config, values: dict):
    def loss_fn(model, batch, gen, step):
        x = batch["x"]
        recon = F.mse_loss(model.decode(model.encode(x)[0]), x)  # no sampling, no KL: an autoencoder
        return recon, {"recon": recon.detach()}

    return loss_fn


def train_cli(args, kit):
    from engines.train import Trainer

    train, test = kit.datasets(args)
    _, channels, side, _ = train.images.shape
    values = kit.values(args, side)
    torch.manual_seed(args.seed)
    config, model, init_card = kit.init_from(args, FAMILY, family_config(values, side, channels), build)
    trainer = Trainer(model, family_loss(config, values), train.float(), kit.train_config(args, warmup=0))
    last, curve, wall = kit.run(trainer, args, lambda m: float("nan"))
    card = kit.card(args, train, test, last, curve, class_names=train.class_names, **init_card)
    return trainer.save(args.out, family=FAMILY, config=config, card=card, elapsed_s=wall)


SPEC = Family(
    name=FAMILY, title_en="Autoencoder", title_zh="自编码器", module=__name__, knobs=KNOBS,
    datasets=("mnist", "shapes"), studio_defaults={"dataset": "shapes"}, presets=presets, config=family_config,
    loss=family_loss, preview=vae.studio_preview, curves=("loss", "recon"), train_cli=train_cli,
)
