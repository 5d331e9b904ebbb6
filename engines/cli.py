"""Command line: train, sample and evaluate models, for scripts and reproducibility.

    python -m engines train vae --dataset mnist --data-dir ../shared/data --steps 20000 --out assets/x
    python -m engines sample --model assets/x --n 64 --seed 0 --out grid.png   (or .npz)
    python -m engines eval --model assets/x --data-dir ../shared/data
    python -m engines guide --prompt "the digit 7" --clip genlab --generator assets/mnist-vae-z16 --out 7.png
"""

from __future__ import annotations

import argparse
import json
import shlex
import sys
import time
from pathlib import Path

import numpy as np

from . import families
from .errors import UserError


# ------------------------------------------------------------------------------------------------
# The kit every family's `train_cli` uses (engines.families.Family.train_cli(args, kit))
# ------------------------------------------------------------------------------------------------

def values(args, side: int) -> dict:
    """The family's knob values for a run at this image side: each knob's default, then the
    --preset's (a size the studio also uses), then what the command line gave."""
    spec = families.get(args.family)
    out = {k.name: k.default for k in spec.knobs}
    if args.preset:
        out.update(spec.presets(args.preset, side))
    for knob in spec.knobs:
        given = getattr(args, knob.name, None)
        if given is not None:
            out[knob.name] = knob.parse(given) if knob.kind is tuple else given
    return out


def datasets(args):
    """(train, held-out) ImageSets for a training run; a user's folder keeps its last tenth aside."""
    from .data import load_dataset

    size = getattr(args, "size", None)
    train = load_dataset(args.dataset, "train", data_dir=args.data_dir, n=args.n_train, seed=args.data_seed, size=size)
    if args.dataset == "folder":
        cut = max(1, len(train) - max(1, len(train) // 10))
        train, test = train.subset(slice(0, cut)), train.subset(slice(cut, len(train)))
        test.split_note = f"the last {len(test)} of the folder's images (held out)"
        train.split_note = f"the first {len(train)} of the folder's images"
    else:
        test = load_dataset(args.dataset, "test", data_dir=args.data_dir, n=args.n_test, seed=args.data_seed, size=size)
    return train, test


def train_config(args, *, warmup: int):
    from .train import TrainConfig

    return TrainConfig(steps=args.steps, batch_size=args.batch_size, lr=args.lr, seed=args.seed,
                       warmup_steps=min(warmup, args.steps // 10), lr_min_ratio=0.05,
                       ema_decay=args.ema or None, grad_clip=args.grad_clip, log_every=args.log_every,
                       max_seconds=args.max_seconds, amp="bf16" if args.bf16 else None,
                       channels_last=args.bf16, compile=args.fast)


def run(trainer, args, heldout_metric, on_step=None) -> tuple[object, list, float]:
    """Iterate a trainer, printing a JSON line now and then and `heldout_metric(model)` every
    --eval-every steps -> (last event, held-out curve [[step, value]], wall seconds).
    `on_step(event)`, if given, sees every "step" event."""
    curve, last = [], None
    started = time.perf_counter()
    for ev in trainer.run():
        last = ev
        evaluate = ev.kind == "step" and args.eval_every and ev.step % args.eval_every == 0
        if evaluate or ev.kind == "step" and (ev.step % (args.log_every * 10) == 0 or ev.step == trainer.config.steps):
            line = {"step": ev.step, **{k: round(v, 4) for k, v in ev.losses.items()},
                    "images_per_s": round(ev.images_per_s, 1), "eta_s": round(ev.eta_s)}
            if evaluate:
                line["heldout"] = round(heldout_metric(trainer.final_model()), 4)
                curve.append([ev.step, line["heldout"]])
                trainer.model.train()
            print(json.dumps(line), flush=True)
        if on_step is not None and ev.kind == "step":
            on_step(ev)
        if ev.kind == "nan":
            raise UserError("training_nan", step=ev.step, value=ev.losses.get("loss"))
    return last, curve, time.perf_counter() - started


def init_from(args, family: str, config, build):
    """--init DIR: continue from a checkpoint of the same family; its config wins over the flags.
    Else a fresh `build(config)`. -> (config, model, card fields saying what the run continued from)."""
    if not args.init:
        config.validate()
        return config, build(config), {}
    from . import checkpoint

    ckpt = checkpoint.load(args.init, expect_family=family)
    config, model = ckpt.build("cpu")
    before = {k: ckpt.card.get(k) for k in ("steps", "wall_time_s", "hardware", "command", "continued_from")}
    return config, model.train(), {"continued_from": before}


def card(args, train, test, last, curve, **fields) -> dict:
    return {
        "name": args.name or Path(args.out).name,
        "dataset": args.dataset,
        "split": {"train": train.split_note, "held_out": test.split_note},
        **{k: v for k, v in fields.items() if v is not None},
        "heldout_curve": curve or None,
        "stopped": last.kind if last is not None and last.kind != "done" else None,
        "command": "python -m engines " + " ".join(shlex.quote(a) for a in args.argv),
    }


def _train(args) -> Path:
    """`python -m engines train FAMILY ...`: the family's own run (its spec's train_cli) with this kit."""
    return families.get(args.family).train_cli(args, sys.modules[__name__])


def _compact(args) -> Path:
    """Re-store a checkpoint's weights as float16. Its held-out metrics (a VAE's ELBO, a DDPM's
    L_simple, a CLIP's zero-shot accuracy) are re-measured on the rounded weights first, so its
    card describes the model that ships."""
    import torch

    from . import checkpoint

    ckpt = checkpoint.load(args.model)
    config, model = ckpt.build("cpu")
    model.half().float()  # in place: exactly the weights float16 storage will hold
    card = {k: v for k, v in ckpt.card.items() if k != "storage_dtype"}
    card["compacted_by"] = "python -m engines " + " ".join(shlex.quote(a) for a in args.argv)
    remeasure = families.get(ckpt.family).compact
    measured = remeasure(model, config, card.get("dataset"), args.data_dir) if remeasure else {}
    if measured:
        card["metrics"] = {**(card.get("metrics") or {}), **measured}
    return checkpoint.save(args.out or args.model, family=ckpt.family, config=config, model=model,
                           card=card, aux=ckpt.aux, storage_dtype=torch.float16)


def _sample(args) -> Path:
    """Images from a checkpoint, with the sampler options its family's spec declares."""
    from . import checkpoint
    from .pictures import image_grid

    ckpt = checkpoint.load(args.model)
    spec = families.get(ckpt.family)
    if not _samples(spec):
        raise UserError("sample_family_unsupported", family=ckpt.family,
                        families=", ".join(f.name for f in families.all_families() if _samples(f)))
    engine = spec.load_module().Engine(ckpt)
    given = {k: getattr(args, k) for k in _sample_option_names() if getattr(args, k) is not None}
    own = {k.name for k in spec.sample_knobs}
    wrong = [k for k in given if k not in own]
    if wrong:
        raise UserError("sample_option_unsupported", family=ckpt.family,
                        options=", ".join("--" + k.replace("_", "-") for k in wrong))
    if spec.sample is not None:
        images, labels = spec.sample(engine, args.n, args.seed, given)
    else:
        images, labels = engine.sample(args.n, args.seed, **given)
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


def _guide(args) -> dict:
    """CLIP guidance from the command line: --n images (seeds seed .. seed + n - 1), each the
    best-scoring image of its run, to a .png grid or an .npz of raw uint8 (N, H, W, C) images."""
    from . import clip, runtime
    from .pictures import image_grid

    out = Path(args.out)
    if out.suffix.lower() not in (".png", ".npz"):
        raise UserError("clip_guide_output", name=out.name)
    if not 1 <= args.n <= 64:
        raise UserError("value_out_of_range", what="n", low=1, high=64, value=args.n)
    backend = clip.load_backend(args.clip)
    seed = runtime.check_seed(args.seed)
    runtime.check_seed(seed + args.n - 1)
    candidates = args.candidates
    if candidates is None:  # the generator's default, as in the tab (a missing folder: check_setting says so)
        from .clip.guide import load_generator

        folder = Path(args.generator).expanduser()
        family = load_generator(str(folder))[0] if args.generator != "pixels" and folder.is_dir() else "pixels"
        candidates = clip.DEFAULT_CANDIDATES[family]
    images, scores, started = [], [], time.perf_counter()
    for i in range(args.n):
        setting = clip.GuideSetting(prompt=args.prompt, negative=args.negative or "", generator=args.generator,
                                    steps=args.steps, strength=args.strength, seed=seed + i, augment=args.augment,
                                    size=args.size, label=args.label, per_layer=args.per_layer,
                                    candidates=candidates)
        frame = clip.run_to_end(backend, setting)
        if frame.warning is not None:
            print(f"warning: {frame.warning}", file=sys.stderr)
        images.append(frame.best_image)
        scores.append(round(frame.best_score, 4))
    out.parent.mkdir(parents=True, exist_ok=True)
    batch = np.stack(images)
    if out.suffix.lower() == ".npz":
        np.savez_compressed(out, images=batch, scores=np.asarray(scores, np.float32))
    else:
        from PIL import Image

        grid = batch[0] if len(batch) == 1 else image_grid(batch)
        Image.fromarray(grid[..., 0] if grid.shape[-1] == 1 else grid).save(out)
    return {"out": str(out), "clip": backend.name, "generator": args.generator, "prompt": args.prompt,
            "scores": scores, "seconds": round(time.perf_counter() - started, 2)}


def _eval(args) -> dict:
    """A checkpoint's held-out metrics, by its family's spec (`evaluate`: a VAE's negative ELBO)."""
    from . import checkpoint, runtime
    from .data import load_dataset

    ckpt = checkpoint.load(args.model)
    spec = families.get(ckpt.family)
    if spec.evaluate is None:
        raise UserError("checkpoint_wrong_family", family=ckpt.family,
                        expected=", ".join(f.name for f in families.all_families() if f.evaluate is not None))
    config, model = ckpt.build(runtime.device())
    dataset = ckpt.card.get("dataset", "mnist")
    test = load_dataset(dataset, args.split, data_dir=args.data_dir)
    with runtime.compute():
        metrics = spec.evaluate(model, test.float().to(runtime.device()), seed=args.seed)
    return {"model": str(args.model), "dataset": dataset, "split": test.split_note,
            "images": len(test), "hardware": runtime.hardware_summary(runtime.device()),
            **{k: round(v, 3) for k, v in metrics.items()}}


def _samples(spec: families.Family) -> bool:
    """Whether the family's Engine draws images (`Engine(ckpt).sample(n, seed)`)."""
    return callable(getattr(getattr(spec.load_module(), "Engine", None), "sample", None))


def _sample_option_names() -> list[str]:
    return [k.name for spec in families.all_families() for k in spec.sample_knobs]


def _train_options(t: argparse.ArgumentParser) -> None:
    """What every family's training run takes (the family's own knobs come after)."""
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
    t.add_argument("--fast", action="store_true",
                   help="torch.compile the model (CUDA graphs on a GPU: 2.8x for the small UNets, see benchmarks)")
    t.add_argument("--bf16", action="store_true", help="bf16 autocast and channels_last (pays off only for large models)")
    t.add_argument("--init", default=None, help="continue training from this checkpoint (its config is kept)")
    t.add_argument("--size", type=int, default=None, help="resize the data set's images to this side")
    t.add_argument("--grad-clip", type=float, default=10.0, help="max global gradient norm")
    t.add_argument("--preset", choices=families.SIZES, default=None,
                   help="the model size the training studio calls so; options given here win over it")


def _knob_option(group, knob: families.Knob) -> None:
    """One family setting as an option; its default is applied later (`values`), after --preset."""
    shown = "" if knob.default is None else f" (default {knob.default if knob.kind is not tuple else ','.join(map(str, knob.default))})"
    if knob.kind is bool:
        group.add_argument(knob.option, dest=knob.name, action="store_true", default=None, help=knob.help)
    else:
        group.add_argument(knob.option, dest=knob.name, default=None, help=knob.help + shown,
                           type=str if knob.kind is tuple else knob.kind, choices=knob.choices or None)


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m engines", description="GenLab engine: train, sample, evaluate.")
    sub = p.add_subparsers(dest="command", required=True)

    t = sub.add_parser("train", help="train a model and save a checkpoint folder")
    by_family = t.add_subparsers(dest="family", required=True, metavar="FAMILY")
    for spec in families.trainable():
        f = by_family.add_parser(spec.name, help=spec.title_en)
        _train_options(f)
        group = f.add_argument_group(spec.name)
        for knob in spec.knobs:
            _knob_option(group, knob)

    s = sub.add_parser("sample", help="sample images from a checkpoint")
    s.add_argument("--model", required=True)
    s.add_argument("--n", type=int, default=64)
    s.add_argument("--seed", type=int, default=0)
    s.add_argument("--out", required=True, help=".png for a grid, .npz for raw uint8 (N, H, W, C) images")
    seen: set[str] = set()  # an option two families share (--label) is declared once, by the first
    for spec in families.all_families():  # each family's sampler options, in a group of its own
        own = [k for k in spec.sample_knobs if k.option not in seen]
        if own:
            group = s.add_argument_group(spec.name)
            for knob in own:
                _knob_option(group, knob)
                seen.add(knob.option)

    g = sub.add_parser("guide", help="steer an image toward a text prompt with CLIP's gradient")
    g.add_argument("--prompt", required=True, help="what the image should show (any language the CLIP reads)")
    g.add_argument("--negative", default="", help="what it should not show")
    g.add_argument("--clip", default="genlab", help="genlab, pretrained[:ARCH:TAG] or a CLIP checkpoint folder")
    g.add_argument("--generator", default="pixels", help="pixels, or a vae / stylegan / ddpm checkpoint folder")
    g.add_argument("--steps", type=int, default=100)
    g.add_argument("--strength", type=float, default=1.0, help="guidance strength (scales the step size)")
    g.add_argument("--seed", type=int, default=0)
    g.add_argument("--n", type=int, default=1, help="images, one run each, seeds seed .. seed + n - 1")
    g.add_argument("--augment", type=int, default=4, help="random crops per step")
    g.add_argument("--size", type=int, default=64, help="image side for --generator pixels")
    g.add_argument("--label", type=int, default=None, help="class for a class-conditional ddpm")
    g.add_argument("--per-layer", action="store_true", help="stylegan: steer one w per layer")
    g.add_argument("--candidates", type=int, default=None,
                   help="images steered side by side per run, the one CLIP ranks best kept "
                        "(default: the generator's, as in the tab: pixels 1, vae / stylegan 4, ddpm 8)")
    g.add_argument("--out", required=True, help=".png (a grid when --n > 1) or .npz (raw uint8 images and scores)")

    c = sub.add_parser("compact", help="store a checkpoint's weights as float16 (re-measures VAE metrics)")
    c.add_argument("--model", required=True)
    c.add_argument("--out", default=None, help="folder to write (default: rewrite --model in place)")
    c.add_argument("--data-dir", default=None, help="MNIST folder, to re-measure held-out metrics")

    e = sub.add_parser("eval", help="a checkpoint's held-out metrics (a VAE's negative ELBO)")
    e.add_argument("--model", required=True)
    e.add_argument("--data-dir", default=None)
    e.add_argument("--split", default="test")
    e.add_argument("--seed", type=int, default=0)

    from .metrics import cli as metrics_cli  # argparse only; the metrics load on use
    metrics_cli.add_parser(sub)
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    args.argv = list(sys.argv[1:] if argv is None else argv)  # for the card's reproducing command
    try:
        if args.command == "train":
            print(f"saved {_train(args)}")
        elif args.command == "sample":
            print(f"wrote {_sample(args)}")
        elif args.command == "compact":
            print(f"compacted {_compact(args)}")
        elif args.command == "guide":
            print(json.dumps(_guide(args), ensure_ascii=False))
        elif args.command == "eval":
            print(json.dumps(_eval(args), indent=2))
        elif args.command == "metrics":
            from .metrics import cli as metrics_cli
            print(json.dumps(metrics_cli.run(args), indent=2))
    except UserError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0
