"""The VQ-VAE family's spec (engines.families): one checkpoint holds the VQ-VAE and its GPT-2 prior.

Training has two phases (engines.train.Phase), each with its own optimiser: "vq" (encoder and
decoder; the codebook moves by its moving averages) and "prior" (the GPT-2, on the tokens the
current codebook gives, which it never moves). The studio runs both every step, so the prior
learns while the codes settle. The command line can instead run them one after the other
(`--prior-steps N`: --steps of the VQ-VAE, then N of the prior on the frozen codes), which is how
the shipped models were trained.
"""

from __future__ import annotations

import argparse

import numpy as np
import torch
import torch.nn.functional as F

from .. import runtime
from ..families import Family, Knob, held_out_at_hand
from ..pictures import image_grid, to_uint8
from ..train import Phase
from . import sampling
from .engine import Engine
from .model import DROP_CLASS, FAMILY, Config, VQVAE, build, class_tokens, perplexity, prior_loss, psnr

KNOBS = (
    Knob("codebook_size", 64, 4, 1024, int, key="train.vq_codebook", info="train.vq_codebook.info",
         en="Codebook size", zh="码本大小", fixed=True, help="K: codes in the codebook"),
    Knob("commitment", 0.25, 0.0, 10.0, float, key="train.vq_commitment", info="train.vq_commitment.info",
         en="Commitment weight β", zh="承诺损失权重 β", help="beta: weight of the commitment loss"),
    Knob("prior_layers", 4, 1, 12, int, key="train.vq_prior_layers", en="Prior layers", zh="先验层数", fixed=True,
         help="transformer blocks of the GPT-2 prior"),
    Knob("code_dim", 32, kind=int, help="D: dimensions of a code"),
    Knob("widths", None, kind=tuple, help="comma-separated conv widths, e.g. 32,64 (default: the base preset's)"),
    Knob("prior_width", 128, kind=int, help="GPT-2 n_embd"),
    Knob("prior_heads", 4, kind=int, help="GPT-2 n_head"),
    Knob("prior_dropout", 0.1, kind=float, help="GPT-2 dropout"),
    Knob("codebook_decay", 0.99, kind=float, help="decay of the codebook's moving averages"),
    Knob("prior_steps", 0, kind=int, help="0: both phases every step (as the studio); N: --steps of the "
                                          "VQ-VAE, then N steps of the prior on the frozen codes"),
    Knob("prior_lr", 0.0, kind=float, help="learning rate of the prior (0: --lr)"),
)

# `python -m engines sample` on a VQ-VAE checkpoint (--label is declared once for every family).
SAMPLE_KNOBS = (
    Knob("label", None, kind=str, help="class to generate: one label, or 'all' for an even spread"),
    Knob("temperature", None, kind=float, help="divides the logits: below 1 sharper, above 1 flatter"),
    Knob("top_k", None, kind=int, help="sample among the k most likely tokens (0: all)"),
    Knob("top_p", None, kind=float, help="sample among the smallest set of tokens whose probability reaches p"),
)


def presets(size: str, side: int) -> dict:
    """The studio's model sizes (the command line's defaults are the base one)."""
    return {"tiny": {"widths": (16, 32), "code_dim": 16, "prior_width": 64, "prior_heads": 4},
            "small": {"widths": (32, 64), "code_dim": 32, "prior_width": 96, "prior_heads": 4},
            "base": {"widths": (32, 64), "code_dim": 32, "prior_width": 128, "prior_heads": 4}}[size]


def family_config(values: dict, side: int, channels: int, num_classes: int | None = None) -> Config:
    widths = values.get("widths") or presets("base", side)["widths"]
    return Config(image_size=side, channels=channels, widths=tuple(widths), codebook_size=values["codebook_size"],
                  code_dim=values["code_dim"], commitment=values["commitment"],
                  ema_decay=values["codebook_decay"], num_classes=num_classes,
                  prior_width=values["prior_width"], prior_layers=values["prior_layers"],
                  prior_heads=values["prior_heads"], prior_dropout=values["prior_dropout"])


# ------------------------------------------------------------------------------------------------
# The two phases
# ------------------------------------------------------------------------------------------------

def vq_loss(config: Config):
    """Reconstruction (MSE on [0, 1] pixels) + beta * commitment; the codebook follows by moving averages."""

    def loss_fn(model: VQVAE, batch: dict, gen: torch.Generator, step: int):
        x = batch["x"]
        q = model.quantize(model.encode(x), update=model.training, gen=gen)
        recon = F.mse_loss(model.decode(q["z_q"]), x)
        loss = recon + config.commitment * q["commitment_loss"]
        counts = torch.bincount(q["tokens"].flatten(), minlength=config.codebook_size)
        ppl, dead = perplexity(counts), float(model.codebook.dead().sum())
        # The training tab plots every curve on one axis with the losses: the codebook's health as
        # shares of K (perplexity / K: the share in use; dead / K), which stay between 0 and 1.
        return loss, {"recon": recon.detach(), "commitment": q["commitment_loss"].detach(),
                      "perplexity": ppl, "dead": dead, "codes_in_use": ppl / config.codebook_size,
                      "dead_codes": dead / config.codebook_size}

    return loss_fn


def prior_phase_loss(config: Config):
    """The prior's cross-entropy (nats per token) on the batch's tokens; a tenth of the rows drop
    their class, so the prior also learns p(tokens) without one."""

    def loss_fn(model: VQVAE, batch: dict, gen: torch.Generator, step: int):
        x = batch["x"]
        with torch.no_grad():
            tokens = model.codes(x)
        labels = batch.get("y")
        if labels is not None and config.num_classes is not None:
            drop = torch.rand(labels.shape, generator=gen, device=labels.device) < DROP_CLASS
            labels = torch.where(drop, -1, labels)
        loss = prior_loss(model, tokens, class_tokens(config, labels, len(x), x.device))
        return loss, {}

    return loss_fn


def vq_params(model: VQVAE):
    return [p for name, p in model.named_parameters() if not name.startswith("prior.")]


def prior_params(model: VQVAE):
    return model.prior.parameters()


def phases(config: Config, values: dict, which: tuple[str, ...] = ("vq", "prior")) -> list[Phase]:
    lr = values.get("prior_lr") or None
    table = {"vq": Phase("vq", vq_loss(config), vq_params),
             "prior": Phase("prior", prior_phase_loss(config), prior_params, lr=lr)}
    return [table[w] for w in which]


def family_loss(config: Config, values: dict) -> list[Phase]:
    return phases(config, values)


# ------------------------------------------------------------------------------------------------
# Preview, aux data, metrics
# ------------------------------------------------------------------------------------------------

def studio_preview(config: Config, loss, stop=None, n: int = 16, seed: int = 1234):
    """n images from the prior (classes 0, 1, 2, ... in turn), the same seed every time."""

    def preview(model: VQVAE) -> np.ndarray:
        device = next(model.parameters()).device
        labels = torch.arange(n) % config.num_classes if config.num_classes else None
        begin = class_tokens(config, labels, n, device)
        tokens = sampling.sample(model.prior, config.codebook_size, begin, config.tokens, sampling.Settings(),
                                 runtime.generator(seed, device))
        return image_grid(to_uint8(model.decode_tokens(tokens.view(n, config.side, config.side))))

    return preview


@torch.no_grad()
def code_counts(model: VQVAE, images: torch.Tensor, batch_size: int = 500) -> torch.Tensor:
    """How often each code is picked over `images` (float, [0, 1]) -> (K,) float."""
    counts = torch.zeros(model.config.codebook_size)
    for i in range(0, len(images), batch_size):
        counts += torch.bincount(model.codes(images[i:i + batch_size]).flatten().cpu(),
                                 minlength=model.config.codebook_size).float()
    return counts


def build_aux(model: VQVAE, held_out: torch.Tensor, labels: torch.Tensor | None,
              n_examples_per_class: int = 10, n_examples: int = 100) -> dict:
    """Held-out examples (uint8 (N, C, H, W)) with labels to pick, and the code usage over held_out."""
    aux = {"usage": code_counts(model, held_out)}
    if labels is not None:
        picks = []
        for cls in labels.unique().tolist():
            picks += (labels == cls).nonzero().flatten()[:n_examples_per_class].tolist()
        idx = torch.tensor(sorted(picks))
        aux["example_labels"] = labels[idx].to(torch.int64).cpu()
    else:
        idx = torch.arange(min(n_examples, len(held_out)))
    aux["examples"] = (held_out[idx.to(held_out.device)] * 255).round().to(torch.uint8).cpu()
    return aux


def studio_aux(model: VQVAE, config: Config, images: torch.Tensor, labels: torch.Tensor | None) -> dict:
    device = next(model.parameters()).device
    with runtime.compute():
        return build_aux(model, images.to(device), None if labels is None else labels.to(device))


AUX_SCHEMA = {
    "examples": ("uint8", lambda c: (None, c.channels, c.image_size, c.image_size)),
    "example_labels": ("int", lambda c: (None,)),
    "usage": ("float", lambda c: (c.codebook_size,)),
}


@torch.no_grad()
def evaluate(model: VQVAE, images: torch.Tensor, *, seed: int = 0, labels: torch.Tensor | None = None,
             batch_size: int = 500) -> dict[str, float]:
    """Held-out reconstruction MSE (mean over pixels, [0, 1]) and PSNR, code perplexity, dead codes,
    and with labels the prior's cross-entropy (nats per token, class given)."""
    model.eval()
    sq, counts, nll = 0.0, torch.zeros(model.config.codebook_size), 0.0
    for i in range(0, len(images), batch_size):
        x = images[i:i + batch_size]
        tokens = model.codes(x)
        sq += float((model.decode_tokens(tokens) - x).pow(2).mean()) * len(x)
        counts += torch.bincount(tokens.flatten().cpu(), minlength=model.config.codebook_size).float()
        if labels is not None:
            begin = class_tokens(model.config, labels[i:i + batch_size], len(x), x.device)
            nll += float(prior_loss(model, tokens, begin)) * len(x)
    mse = sq / len(images)
    out = {"mse": mse, "psnr": psnr(mse), "perplexity": perplexity(counts), "dead_codes": float((counts == 0).sum())}
    if labels is not None:
        out["prior_nll"] = nll / len(images)
    return out


def sample(engine: Engine, n: int, seed: int, options: dict):
    """`python -m engines sample`: --label one class, or 'all' for an even spread (image i: class i mod C)."""
    label = options.pop("label", None)
    options = {k: v for k, v in options.items() if v is not None}
    if label != "all":
        if label is not None:
            try:
                label = int(label)
            except ValueError:
                label = str(label)[:20]
        return engine.sample(n, seed, label=label, **options)
    images, labels = [], []
    classes = max(1, engine.num_classes)
    for c in range(classes):
        k = len(range(c, n, classes))
        if k:
            im, _ = engine.sample(k, seed + c, label=c if engine.num_classes else None, **options)
            images.append(im)
            labels += [c] * k
    order = np.argsort(np.concatenate([np.arange(c, n, classes) for c in range(classes) if c < n]), kind="stable")
    return np.concatenate(images)[order], np.asarray(labels, np.int64)[order]


def train_cli(args, kit):
    """`python -m engines train vqvae`: both phases each step, or (--prior-steps N) the VQ-VAE then the prior."""
    from ..train import Trainer

    train, test = kit.datasets(args)
    _, channels, side, _ = train.images.shape
    values = kit.values(args, side)
    num_classes = len(train.class_names) if train.labels is not None and train.class_names else None
    torch.manual_seed(args.seed)
    config, model, init_card = kit.init_from(args, FAMILY, family_config(values, side, channels, num_classes), build)
    held_out = test.float()
    held_labels = test.labels if config.num_classes else None

    def metric(m):
        return evaluate(m, held_out.to(next(m.parameters()).device))["mse"]

    stages = [("vq", "prior")] if not values["prior_steps"] else [("vq",), ("prior",)]
    if values["prior_steps"] and args.steps == 0 and args.init:  # --init DIR --steps 0: more of the prior only
        stages = [("prior",)]
    total_steps, wall, curve, last, trainer, done = 0, 0.0, [], None, None, []
    for which in stages:
        stage_args = args
        if which == ("prior",):
            stage_args = argparse.Namespace(**{**vars(args), "steps": values["prior_steps"],
                                               "lr": values["prior_lr"] or args.lr})
        trainer = Trainer(model, phases(config, values, which), train.float(),
                          kit.train_config(stage_args, warmup=200), labels=train.labels)
        last, stage_curve, stage_wall = kit.run(trainer, stage_args, metric)
        model = trainer.model
        curve += [[total_steps + s, v] for s, v in stage_curve]
        total_steps += trainer.step
        done.append(trainer.step)  # the steps each stage ran (--max-seconds may cut it short)
        wall += stage_wall
    final = trainer.final_model()
    dev = next(final.parameters()).device
    with torch.no_grad():
        metrics = evaluate(final, held_out.to(dev), labels=None if held_labels is None else held_labels.to(dev))
    metrics = {f"heldout_{k}": round(v, 5) for k, v in metrics.items()}
    aux = build_aux(final, held_out.to(dev), test.labels.to(dev) if test.labels is not None else None)
    card = kit.card(args, train, test, last, curve, metrics=metrics, class_names=train.class_names, **init_card,
                    steps=total_steps, usage_images=len(held_out),
                    phases={("vq", "prior"): "both phases every step",
                            ("prior",): f"the prior alone, {done[0]} steps on the frozen codes"}.get(
                        stages[0], f"VQ-VAE {done[0]} steps, then the prior {done[-1]} steps on frozen codes"),
                    metrics_note="mse: mean squared error per pixel on [0, 1] of the decoded tokens; psnr in dB; "
                                 "perplexity: exp(entropy) of the held-out code usage; dead_codes: codes no "
                                 "held-out vector picks; prior_nll: the prior's nats per token, class given")
    return trainer.save(args.out, family=FAMILY, config=config, card=card, aux=aux, elapsed_s=wall)


def compact_metrics(model: VQVAE, config: Config, dataset: str, data_dir) -> dict:
    """Held-out metrics re-measured on the float16-rounded weights (`python -m engines compact`)."""
    from ..data import load_dataset

    if not held_out_at_hand(dataset, data_dir):
        return {}
    test = load_dataset(dataset, "test", data_dir=data_dir, seed=0)
    labels = test.labels if config.num_classes else None
    return {f"heldout_{k}": round(v, 5) for k, v in evaluate(model, test.float(), labels=labels).items()}


SPEC = Family(
    name=FAMILY, title_en="VQ-VAE + transformer prior", title_zh="VQ-VAE + Transformer 先验", module="engines.vqvae",
    engine=lambda: Engine, tab="vq.tab", knobs=KNOBS, datasets=("mnist", "shapes"),
    studio_defaults={"dataset": "mnist", "steps": 300, "lr": 2e-3}, studio_gpu={"steps": 3000},
    presets=presets, config=family_config,
    conditional=True, loss=family_loss, preview=studio_preview, curves=("loss", "vq_recon", "prior_loss", "vq_codes_in_use", "vq_dead_codes"),
    whole_steps=True, aux=studio_aux, aux_schema=AUX_SCHEMA, train_cli=train_cli, sample_knobs=SAMPLE_KNOBS,
    sample=sample, compact=compact_metrics, evaluate=evaluate,
)
