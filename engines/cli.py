"""Command line: train, sample and evaluate models, for scripts and reproducibility.

    python -m engines train vae --dataset mnist --data-dir ../shared/data --steps 20000 --out assets/x
    python -m engines sample --model assets/x --n 64 --seed 0 --out grid.png   (or .npz)
    python -m engines eval --model assets/x --data-dir ../shared/data
"""

from __future__ import annotations

import argparse
import json
import shlex
import sys
import time
from pathlib import Path

import numpy as np

from .errors import UserError


def _train_vae(args) -> Path:
    import torch

    from . import checkpoint, runtime, vae
    from .data import load_dataset
    from .train import TrainConfig, Trainer

    train = load_dataset(args.dataset, "train", data_dir=args.data_dir, n=args.n_train, seed=args.data_seed)
    if args.dataset == "folder":
        # A user's folder has no held-out part of its own: keep its last tenth aside.
        cut = max(1, len(train) - max(1, len(train) // 10))
        train, test = train.subset(slice(0, cut)), train.subset(slice(cut, len(train)))
        test.split_note = f"the last {len(test)} of the folder's images (held out)"
        train.split_note = f"the first {len(train)} of the folder's images"
    else:
        test = load_dataset(args.dataset, "test", data_dir=args.data_dir, n=args.n_test, seed=args.data_seed)
    _, channels, size, _ = train.images.shape
    grey = channels == 1
    config = vae.Config(
        image_size=size, channels=channels, latent_dim=args.latent_dim, beta=args.beta,
        widths=tuple(int(w) for w in args.widths.split(",")) if args.widths else ((32, 64) if size % 8 else (32, 64, 128)),
        hidden=args.hidden, likelihood="bernoulli" if grey else "gaussian",
    )
    config.validate()
    torch.manual_seed(args.seed)
    model = vae.build(config)
    tcfg = TrainConfig(steps=args.steps, batch_size=args.batch_size, lr=args.lr, seed=args.seed,
                       warmup_steps=min(500, args.steps // 10), lr_min_ratio=0.05,
                       ema_decay=args.ema or None, grad_clip=10.0, log_every=args.log_every,
                       max_seconds=args.max_seconds)
    loss = vae.make_loss(config, binarize=grey, kl_warmup_steps=args.kl_warmup)
    trainer = Trainer(model, loss, train.float(), tcfg, labels=train.labels)
    held_out = test.float().to(trainer.device)
    curve = []
    started = time.perf_counter()
    last = None
    for ev in trainer.run():
        last = ev
        if ev.kind == "step" and (ev.step % (args.log_every * 10) == 0 or ev.step == tcfg.steps):
            line = {"step": ev.step, **{k: round(v, 3) for k, v in ev.losses.items()},
                    "images_per_s": round(ev.images_per_s, 1), "eta_s": round(ev.eta_s)}
            if args.eval_every and ev.step % args.eval_every == 0:
                line["heldout_neg_elbo"] = round(vae.evaluate(trainer.final_model(), held_out)["neg_elbo"], 3)
                curve.append([ev.step, line["heldout_neg_elbo"]])
                trainer.model.train()
            print(json.dumps(line), flush=True)
        if ev.kind == "nan":
            raise UserError("training_nan", step=ev.step, value=ev.losses.get("loss"))
    wall = time.perf_counter() - started
    final = trainer.final_model()
    dev = trainer.device
    metrics = {f"heldout_{k}": round(v, 3) for k, v in vae.evaluate(final, held_out).items()}
    metrics.update({f"train_{k}": round(v, 3) for k, v in vae.evaluate(final, train.float()[:2000].to(dev)).items()})
    aux = vae.build_aux(final, held_out, test.labels.to(dev) if test.labels is not None else None)
    card = {
        "name": args.name or Path(args.out).name,
        "dataset": args.dataset,
        "split": {"train": train.split_note, "held_out": test.split_note},
        "metrics": metrics,
        "heldout_curve": curve or None,
        "metrics_note": (
            "nats per image, one z sample per image; Bernoulli likelihood on grey values = expected "
            "NLL under dynamic binarisation" if grey else
            "nats per image, one z sample; Gaussian likelihood with learned per-channel sigma on [0, 1] pixels"),
        "stopped": last.kind if last is not None and last.kind != "done" else None,
        "command": "python -m engines " + " ".join(shlex.quote(a) for a in args.argv),
    }
    return trainer.save(args.out, family="vae", config=config, card=card, aux=aux, elapsed_s=wall)


TRAINERS = {"vae": _train_vae}


def _compact(args) -> Path:
    """Re-store a checkpoint's weights as float16 and, for VAEs, re-measure its held-out metrics."""
    import torch

    from . import checkpoint, vae

    ckpt = checkpoint.load(args.model)
    module = checkpoint.family_module(ckpt.family)
    config, model = ckpt.build("cpu")
    card = dict(ckpt.card)
    card.pop("storage_dtype", None)
    card["compacted_by"] = "python -m engines " + " ".join(shlex.quote(a) for a in args.argv)
    out = checkpoint.save(args.out or args.model, family=ckpt.family, config=config, model=model,
                          card=card, aux=ckpt.aux, storage_dtype=torch.float16)
    dataset = card.get("dataset")
    if ckpt.family == "vae" and (dataset == "shapes" or dataset == "mnist" and args.data_dir):
        from .data import load_dataset

        engine = module.Engine.load(out, device=torch.device("cpu"))
        test = load_dataset(card["dataset"], "test", data_dir=args.data_dir, seed=0)
        metrics = dict(card.get("metrics") or {})
        metrics.update({f"heldout_{k}": round(v, 3) for k, v in vae.evaluate(engine.model, test.float()).items()})
        card = {**checkpoint.load(out).card, "metrics": metrics}
        (out / checkpoint.CARD).write_text(json.dumps(card, indent=2, ensure_ascii=False) + "\n")
    return out


def _sample(args) -> Path:
    from . import checkpoint
    from .train import image_grid

    ckpt = checkpoint.load(args.model)
    module = checkpoint.family_module(ckpt.family)
    engine = module.Engine(ckpt)
    images, labels = engine.sample(args.n, args.seed)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    if out.suffix == ".npz":
        arrays = {"images": images}
        if labels is not None:
            arrays["labels"] = labels
        np.savez_compressed(out, **arrays)
    else:
        from PIL import Image

        grid = image_grid(images)
        Image.fromarray(grid[..., 0] if grid.shape[-1] == 1 else grid).save(out)
    return out


def _eval(args) -> dict:
    from . import checkpoint, runtime, vae
    from .data import load_dataset

    ckpt = checkpoint.load(args.model, expect_family="vae")
    engine = vae.Engine(ckpt)
    dataset = ckpt.card.get("dataset", "mnist")
    test = load_dataset(dataset, args.split, data_dir=args.data_dir)
    metrics = vae.evaluate(engine.model, test.float().to(engine.device), seed=args.seed)
    return {"model": str(args.model), "dataset": dataset, "split": test.split_note,
            "images": len(test), "hardware": runtime.hardware_summary(engine.device),
            **{k: round(v, 3) for k, v in metrics.items()}}


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m engines", description="GenLab engine: train, sample, evaluate.")
    sub = p.add_subparsers(dest="command", required=True)

    t = sub.add_parser("train", help="train a model and save a checkpoint folder")
    t.add_argument("family", choices=sorted(TRAINERS))
    t.add_argument("--dataset", default="mnist")
    t.add_argument("--data-dir", default=None, help="folder with the MNIST IDX files (or GENLAB_DATA_DIR)")
    t.add_argument("--steps", type=int, default=5000)
    t.add_argument("--out", required=True, help="checkpoint folder to write")
    t.add_argument("--name", default=None)
    t.add_argument("--seed", type=int, default=0)
    t.add_argument("--data-seed", type=int, default=0, help="seed of procedural data sets")
    t.add_argument("--n-train", type=int, default=None, help="images for procedural data sets")
    t.add_argument("--n-test", type=int, default=None)
    t.add_argument("--batch-size", type=int, default=128)
    t.add_argument("--lr", type=float, default=1e-3)
    t.add_argument("--ema", type=float, default=0.0, help="EMA decay of the weights (0: off)")
    t.add_argument("--max-seconds", type=float, default=None)
    t.add_argument("--log-every", type=int, default=50)
    t.add_argument("--eval-every", type=int, default=0, help="steps between held-out evaluations (0: only at the end)")
    g = t.add_argument_group("vae")
    g.add_argument("--latent-dim", type=int, default=16)
    g.add_argument("--beta", type=float, default=1.0)
    g.add_argument("--widths", default=None, help="comma-separated conv widths, e.g. 32,64")
    g.add_argument("--hidden", type=int, default=512)
    g.add_argument("--kl-warmup", type=int, default=0, help="steps over which beta ramps up from 0")

    s = sub.add_parser("sample", help="sample images from a checkpoint")
    s.add_argument("--model", required=True)
    s.add_argument("--n", type=int, default=64)
    s.add_argument("--seed", type=int, default=0)
    s.add_argument("--out", required=True, help=".png for a grid, .npz for raw uint8 (N, H, W, C) images")

    c = sub.add_parser("compact", help="store a checkpoint's weights as float16 (re-measures VAE metrics)")
    c.add_argument("--model", required=True)
    c.add_argument("--out", default=None, help="folder to write (default: rewrite --model in place)")
    c.add_argument("--data-dir", default=None, help="MNIST folder, to re-measure held-out metrics")

    e = sub.add_parser("eval", help="negative ELBO of a VAE on held-out data")
    e.add_argument("--model", required=True)
    e.add_argument("--data-dir", default=None)
    e.add_argument("--split", default="test")
    e.add_argument("--seed", type=int, default=0)
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    args.argv = list(sys.argv[1:] if argv is None else argv)  # for the card's reproducing command
    try:
        if args.command == "train":
            print(f"saved {TRAINERS[args.family](args)}")
        elif args.command == "sample":
            print(f"wrote {_sample(args)}")
        elif args.command == "compact":
            print(f"compacted {_compact(args)}")
        elif args.command == "eval":
            print(json.dumps(_eval(args), indent=2))
    except UserError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0
