"""The latent diffusion family's spec (engines.families): knobs, presets, the two phases, the command line.

    python -m engines train ldm --dataset scenes --preset tiny --steps 200 --out runs/ldm
    python -m engines sample --model runs/ldm --prompt "a red circle" --n 4 --steps 50 --guidance 3 --out x.npz

Phase 1 ("ae", --ae-steps, default --steps) trains the KL autoencoder on the scenes images; then the
latent's scale (1 / its standard deviation) and the linear latent -> RGB preview map are fitted, and
every training image is encoded once. Phase 2 ("unet", --steps) trains the latent UNet and the text
encoder together on those latents, each row with one of its captions (English or Chinese, drawn
from the training caption sampler only, `split="train"`), replaced by the empty prompt with
probability --p-uncond (classifier-free guidance). Nothing is tuned or selected on held-out
prompts; the card's held-out numbers are measured once, at the end, on the `eval` stream.

Not in the training studio: the studio has no captioned data set (`in_studio=False`); its knobs
are bounded like every family's (Knob.check).
"""

from __future__ import annotations

import argparse

import torch
import torch.nn.functional as F

from ..errors import UserError
from ..families import Family, Knob
from ..train import Phase
from . import FAMILY, Config, build, make_process
from .engine import DEFAULT_GUIDANCE, Engine

KNOBS = (
    Knob("ae_steps", -1, -1, 1_000_000, int, en="Autoencoder steps", zh="自编码器训练步数",
         help="steps of phase 1, the autoencoder (-1: --steps; 0: none, with --init)"),
    Knob("ae_lr", 0.0, 0.0, 1.0, float, en="Autoencoder learning rate", zh="自编码器学习率",
         help="learning rate of phase 1 (0: --lr)"),
    Knob("p_uncond", 0.1, 0.0, 1.0, float, en="Caption dropout", zh="描述丢弃率",
         help="how often a caption is replaced by the empty prompt (classifier-free guidance)"),
    Knob("captions", 2, 1, 8, int, en="Captions per image", zh="每张图像的描述数",
         help="training captions drawn per image and language (more phrasings of the same scene)"),
    Knob("default_guidance", DEFAULT_GUIDANCE, 0.0, 20.0, float, en="Default guidance", zh="默认引导系数",
         help="guidance scale the card suggests"),
    Knob("ae_widths", None, kind=tuple, fixed=True, help="autoencoder widths, e.g. 32,64,128 (3: 16x16 latent)"),
    Knob("latent_channels", 4, 1, 16, int, fixed=True, en="Latent channels", zh="潜在通道数", help="z channels"),
    Knob("kl_weight", 1e-6, 0.0, 1.0, float, en="KL weight", zh="KL 权重", help="weight of the autoencoder's KL"),
    Knob("text_width", None, 8, 512, int, fixed=True, en="Text width", zh="文本宽度", help="text encoder width"),
    Knob("text_layers", None, 1, 12, int, fixed=True, en="Text layers", zh="文本层数", help="text encoder layers"),
    Knob("width", None, 8, 512, int, fixed=True, en="UNet width", zh="UNet 宽度", help="latent UNet channels"),
    Knob("mult", None, kind=tuple, fixed=True, help="latent UNet width multipliers per level, e.g. 1,2"),
    Knob("blocks", None, 1, 4, int, fixed=True, en="Blocks", zh="块数", help="residual blocks per level"),
    Knob("heads", None, 1, 16, int, fixed=True, en="Heads", zh="注意力头数", help="attention heads"),
    Knob("dropout", 0.0, 0.0, 0.9, float, en="Dropout", zh="丢弃率", help="dropout in residual blocks"),
    Knob("timesteps", 1000, 2, 2000, int, fixed=True, en="Timesteps", zh="时间步数", help="T"),
    Knob("schedule", "linear", kind=str, choices=("linear", "cosine"), fixed=True, help="beta schedule"),
)

SAMPLE_KNOBS = (
    Knob("prompt", None, kind=str, help="latent diffusion: what to draw (English or Chinese)"),
    Knob("guidance", None, kind=float, help="classifier-free guidance scale (default: the card's)"),
    Knob("steps", None, kind=int, help="DDIM steps (default 50)"),
)

_PRESETS = {  # ae_widths, width, mult, blocks, heads, text_width, text_layers
    "tiny": ((16, 32, 32), 32, (1, 2), 1, 2, 32, 1),
    "small": ((32, 64, 64), 32, (1, 2), 1, 2, 64, 2),
    "base": ((32, 64, 128), 32, (1, 2, 2), 1, 2, 128, 2),
}
# The UNet is sized by the CPU's budget (4 images, DDIM-50 with guidance: 400 UNet passes in about
# 3 s on 2 cores): width 32 over 16, 8 and 4 pixels is 68M multiply-adds a pass; width 64 was 266M
# (benchmarks/ldm.py). The autoencoder and the text encoder run once per image and matter less.


def presets(size: str, side: int = 64) -> dict:
    """The model sizes: tiny for tests, small for a CPU run, base for what ships (trained on a GPU)."""
    ae, width, mult, blocks, heads, tw, tl = _PRESETS[size]
    return {"ae_widths": ae, "width": width, "mult": mult, "blocks": blocks, "heads": heads,
            "text_width": tw, "text_layers": tl}


def family_config(values: dict, side: int = 64, channels: int = 3, num_classes=None) -> Config:
    from ..scenes.text import build_vocabulary

    v = {**presets("base"), **{k: x for k, x in values.items() if x is not None}}
    return Config(ae_widths=tuple(v["ae_widths"]), latent_channels=v["latent_channels"], kl_weight=v["kl_weight"],
                  vocab_size=len(build_vocabulary()), text_width=v["text_width"], text_layers=v["text_layers"],
                  text_heads=min(4, v["text_width"] // 8), width=v["width"], mult=tuple(v["mult"]),
                  blocks=v["blocks"], heads=v["heads"], dropout=v["dropout"], timesteps=v["timesteps"],
                  schedule=v["schedule"], p_uncond=v["p_uncond"])


# ------------------------------------------------------------------------------------------------
# The two phases
# ------------------------------------------------------------------------------------------------

def ae_loss(model, batch: dict, gen: torch.Generator, step: int):
    """Phase 1: MSE per pixel + kl_weight * KL (engines.scenes.autoencoder.loss_fn)."""
    from ..scenes.autoencoder import loss_fn

    loss, logs = loss_fn(model.autoencoder, batch["x"], gen)
    return loss, {"rec": logs["rec"], "kl": logs["kl"]}


def unet_loss(config: Config, ids: torch.Tensor, p_uncond: float):
    """Phase 2: L_simple on the latents (batch["x"]), each row conditioned on one of its captions
    (ids (N, K, T): K tokenised captions per image, batch["y"] the image's index), replaced by the
    empty prompt with probability p_uncond. Moves the UNet and the text encoder."""
    from ..scenes.text import CLS, SEP

    process = make_process(config)
    empty = torch.zeros(ids.shape[-1], dtype=torch.long)
    empty[:2] = torch.tensor([CLS, SEP])
    on_device: dict = {}   # the captions' ids copied to the training device once, not every step

    def loss_fn(model, batch: dict, gen: torch.Generator, step: int):
        z, rows = batch["x"], batch["y"]
        B, dev = len(z), z.device
        pick = torch.randint(0, ids.shape[1], (B,), generator=gen, device=dev)
        table = on_device.setdefault(str(dev), ids.to(dev))
        tok = table[rows, pick]
        drop = torch.rand(B, generator=gen, device=dev) < p_uncond
        tok = torch.where(drop[:, None], empty.to(dev), tok)
        mask = (tok != 0).long()
        t = torch.randint(0, process.T, (B,), generator=gen, device=dev)
        noise = torch.randn(z.shape, generator=gen, device=dev, dtype=z.dtype)
        context = model.encode_text(tok, mask)
        return F.mse_loss(model.unet(process.q_sample(z, t, noise), t, context, mask), noise), {}

    return loss_fn


def ae_params(model):
    return model.autoencoder.parameters()


def unet_params(model):
    return [*model.unet.parameters(), *model.text.parameters()]


def family_loss(config: Config, values: dict) -> list[Phase]:
    """The first phase (the studio's view of the family; the command line runs both, in turn)."""
    return [Phase("ae", ae_loss, ae_params, lr=values.get("ae_lr") or None)]


# ------------------------------------------------------------------------------------------------
# Data: images, captions (training sampler only), latents
# ------------------------------------------------------------------------------------------------

def caption_ids(scenes: list[dict], k: int, max_tokens: int, seed: int = 0) -> torch.Tensor:
    """k captions per scene and language from the training caption sampler, tokenised -> long
    (N, 2k, max_tokens) (English and Chinese mixed: a row draws any of its 2k)."""
    from ..scenes import captions
    from ..scenes.text import PAD, build_vocabulary

    vocab = build_vocabulary()
    out = torch.full((len(scenes), 2 * k, max_tokens), PAD, dtype=torch.long)
    for j in range(k):
        for li, lang in enumerate(("en", "zh")):
            caps = captions.scene_captions(scenes, lang, seed=seed + j, split="train")
            for i, c in enumerate(caps):
                row = vocab.encode(c.text, max_tokens)
                out[i, 2 * j + li, :len(row)] = torch.tensor(row)
    return out


@torch.no_grad()
def fit_latents(model, images: torch.Tensor, batch_size: int = 250) -> torch.Tensor:
    """After phase 1: set the latent's scale (1 / std of the encoder's means over `images`, uint8)
    and the linear preview map, then -> every image's scaled latent (N, z, s, s)."""
    from .model import fit_preview

    dev = next(model.parameters()).device
    model.eval()
    probe = images[:2000].to(dev).float() / 255
    model.latent_scale.fill_(1.0 / float(model.autoencoder.encode(probe)[0].std()))
    model.preview_weight.copy_(fit_preview(model, probe))
    return torch.cat([model.encode_images(images[i:i + batch_size].to(dev).float() / 255)
                      for i in range(0, len(images), batch_size)])


@torch.no_grad()
def evaluate(model, images: torch.Tensor, ids: torch.Tensor, *, seed: int = 0) -> dict[str, float]:
    """Held-out numbers: the autoencoder's reconstruction MSE (pixels in [0, 1]) and L_simple of the
    UNet on the images' latents with their first caption (fixed seed, no caption dropout)."""
    model.eval()
    dev = next(model.parameters()).device
    x = images.to(dev).float() / 255
    rec = float(F.mse_loss(model.decode_latents(model.encode_images(x)), x))
    z = model.encode_images(x)
    gen = torch.Generator(device=dev).manual_seed(seed)
    loss = unet_loss(model.config, ids[:, :1], 0.0)
    diff = float(loss(model, {"x": z, "y": torch.arange(len(z), device=dev)}, gen, 0)[0])
    return {"ae_mse": round(rec, 5), "l_simple": round(diff, 5)}


# ------------------------------------------------------------------------------------------------
# The command line
# ------------------------------------------------------------------------------------------------

def load_data(args):
    """(train, held-out) scenes: the `train` stream (--n-train, default 10,000) and the `eval`
    stream (held-out colour+shape pairs and phrasings; --n-test, default 500)."""
    from ..scenes.dataset import load_scenes

    if args.dataset != "scenes":
        raise UserError("ldm_dataset", dataset=str(args.dataset)[:40])
    train = load_scenes("train", n=args.n_train or 10_000, seed=args.data_seed)
    test = load_scenes("eval", n=args.n_test or 500, seed=args.data_seed)
    return train, test


def _stage(kit, args, model, phases, data, labels, steps, lr):
    """One phase as its own Trainer run -> (trainer, last event, wall seconds)."""
    from ..train import Trainer

    stage_args = argparse.Namespace(**{**vars(args), "steps": steps, "lr": lr})
    trainer = Trainer(model, phases, data, kit.train_config(stage_args, warmup=200), labels=labels)
    last, _, wall = kit.run(trainer, stage_args, lambda m: 0.0)
    return trainer, last, wall


def train_cli(args, kit):
    """`python -m engines train ldm`: the autoencoder, then the UNet and text encoder on its latents."""
    from ..scenes.text import build_vocabulary

    train, test = load_data(args)
    values = kit.values(args, 64)
    torch.manual_seed(args.seed)
    config, model, init_card = kit.init_from(args, FAMILY, family_config(values), build)
    ae_steps = args.steps if values["ae_steps"] < 0 else values["ae_steps"]
    wall, done = 0.0, {}
    if ae_steps:
        phase = [Phase("ae", ae_loss, ae_params)]
        trainer, _, w = _stage(kit, args, model, phase, train.images, None, ae_steps, values["ae_lr"] or args.lr)
        # The EMA copy when --ema (frozen, in eval mode): phase 2 trains its UNet and text encoder on.
        model, wall, done["ae"] = trainer.final_model().requires_grad_(True), wall + w, trainer.step
    latents = fit_latents(model, train.images).cpu()
    ids = caption_ids(train.attrs, values["captions"], config.max_tokens, seed=args.data_seed)
    phase = [Phase("unet", unet_loss(config, ids, config.p_uncond), unet_params)]
    trainer, last, w = _stage(kit, args, model.train(), phase, latents, torch.arange(len(latents)), args.steps,
                              args.lr)
    wall, done["unet"] = wall + w, trainer.step
    test_ids = caption_ids(test.attrs, 1, config.max_tokens, seed=args.data_seed)
    metrics = {f"heldout_{k}": v for k, v in evaluate(trainer.final_model(), test.images, test_ids).items()}
    card = kit.card(args, train, test, last, [], metrics=metrics, **init_card,
                    vocabulary=list(build_vocabulary().tokens), default_guidance=values["default_guidance"],
                    steps=sum(done.values()), phase_steps=done, captions_per_image=values["captions"],
                    text_encoder="a transformers BertModel built from a config, trained jointly with the UNet",
                    metrics_note="ae_mse: the autoencoder's reconstruction MSE per pixel on [0, 1]; l_simple: "
                                 "the UNet's noise-prediction MSE on the latents, first caption, seed 0; both on "
                                 "the eval stream (held-out colour+shape pairs and phrasings), measured once")
    return trainer.save(args.out, family=FAMILY, config=config, card=card, elapsed_s=wall)


def sample(engine: Engine, n: int, seed: int, options: dict):
    """`python -m engines sample --prompt TEXT [--steps K] [--guidance G]` -> (images, None)."""
    prompt = options.get("prompt")
    if prompt is None or not str(prompt).strip():
        raise UserError("ldm_prompt_empty")
    steps = options.get("steps")
    images, _ = engine.generate(prompt, n, seed, 50 if steps is None else steps, options.get("guidance"))
    return images, None


SPEC = Family(
    name=FAMILY, title_en="Latent diffusion (text to image)", title_zh="潜在扩散模型（文生图）",
    module="engines.ldm", engine=lambda: Engine, knobs=KNOBS, datasets=("scenes",), data_error="ldm_dataset",
    studio_defaults={"dataset": "scenes", "steps": 300, "lr": 1e-3}, presets=presets, config=family_config,
    loss=family_loss, whole_steps=True, train_cli=train_cli, sample_knobs=SAMPLE_KNOBS, sample=sample,
    in_studio=False,
)
