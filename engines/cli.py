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

from .errors import UserError


def _datasets(args):
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


def _train_config(args, *, warmup: int):
    from .train import TrainConfig

    return TrainConfig(steps=args.steps, batch_size=args.batch_size, lr=args.lr, seed=args.seed,
                       warmup_steps=min(warmup, args.steps // 10), lr_min_ratio=0.05,
                       ema_decay=args.ema or None, grad_clip=args.grad_clip, log_every=args.log_every,
                       max_seconds=args.max_seconds, amp="bf16" if args.bf16 else None,
                       channels_last=args.bf16, compile=args.fast)


def _run(trainer, args, heldout_metric, on_step=None) -> tuple[object, list, float]:
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


def _init_from(args, family: str, config, build):
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


def _card(args, train, test, last, curve, **fields) -> dict:
    return {
        "name": args.name or Path(args.out).name,
        "dataset": args.dataset,
        "split": {"train": train.split_note, "held_out": test.split_note},
        **fields,
        "heldout_curve": curve or None,
        "stopped": last.kind if last is not None and last.kind != "done" else None,
        "command": "python -m engines " + " ".join(shlex.quote(a) for a in args.argv),
    }


def _train_vae(args) -> Path:
    import torch

    from . import vae
    from .train import Trainer

    train, test = _datasets(args)
    _, channels, size, _ = train.images.shape
    grey = channels == 1
    config = vae.Config(
        image_size=size, channels=channels, latent_dim=args.latent_dim, beta=args.beta,
        widths=tuple(int(w) for w in args.widths.split(",")) if args.widths else ((32, 64) if size % 8 else (32, 64, 128)),
        hidden=args.hidden, likelihood="bernoulli" if grey else "gaussian",
    )
    torch.manual_seed(args.seed)
    config, model, init_card = _init_from(args, "vae", config, vae.build)
    loss = vae.make_loss(config, binarize=grey, kl_warmup_steps=args.kl_warmup)
    trainer = Trainer(model, loss, train.float(), _train_config(args, warmup=500), labels=train.labels)
    held_out = test.float().to(trainer.device)
    last, curve, wall = _run(trainer, args, lambda m: vae.evaluate(m, held_out)["neg_elbo"])
    final, dev = trainer.final_model(), trainer.device
    metrics = {f"heldout_{k}": round(v, 3) for k, v in vae.evaluate(final, held_out).items()}
    metrics.update({f"train_{k}": round(v, 3) for k, v in vae.evaluate(final, train.float()[:2000].to(dev)).items()})
    aux = vae.build_aux(final, held_out, test.labels.to(dev) if test.labels is not None else None)
    card = _card(args, train, test, last, curve, metrics=metrics, **init_card, metrics_note=(
        "nats per image, one z sample per image; Bernoulli likelihood on grey values = expected "
        "NLL under dynamic binarisation" if grey else
        "nats per image, one z sample; Gaussian likelihood with learned per-channel sigma on [0, 1] pixels"))
    return trainer.save(args.out, family="vae", config=config, card=card, aux=aux, elapsed_s=wall)


def _train_ddpm(args) -> Path:
    import torch

    from . import diffusion
    from .train import Trainer

    train, test = _datasets(args)
    _, channels, size, _ = train.images.shape
    conditional = args.conditional and train.labels is not None
    config = diffusion.Config(
        image_size=size, channels=channels, width=args.width,
        channel_mult=tuple(int(m) for m in args.channel_mult.split(",")),
        blocks_per_level=args.blocks, attention_resolutions=tuple(int(r) for r in args.attention.split(",") if r),
        num_classes=len(train.class_names) if conditional else None, dropout=args.dropout,
        timesteps=args.timesteps, schedule=args.schedule, patch_size=args.patch_size,
    )
    torch.manual_seed(args.seed)
    config, model, init_card = _init_from(args, "ddpm", config, diffusion.build)
    process = diffusion.make_process(config)
    loss = diffusion.make_loss(process, p_uncond=args.p_uncond)
    trainer = Trainer(model, loss, train.float(), _train_config(args, warmup=200),
                      labels=train.labels if conditional else None)
    held_x = test.float()[:1000].to(trainer.device)
    held_y = test.labels[:1000].to(trainer.device) if conditional else None
    last, curve, wall = _run(trainer, args, lambda m: diffusion.heldout_loss(process, m, held_x, held_y))
    metrics = {"heldout_l_simple": round(diffusion.heldout_loss(process, trainer.final_model(), held_x, held_y), 5)}
    card = _card(args, train, test, last, curve, metrics=metrics, default_guidance=args.default_guidance, **init_card,
                 metrics_note="mean squared error of the predicted noise (L_simple) on up to 1,000 held-out images, "
                              "uniform t, seed 0, no label dropout")
    return trainer.save(args.out, family="ddpm", config=config, card=card, elapsed_s=wall)


def _train_stylegan(args) -> Path:
    import torch

    from . import stylegan
    from .train import Trainer

    train, test = _datasets(args)
    _, channels, size, _ = train.images.shape
    config = stylegan.Config(
        image_size=size, channels=channels, z_dim=args.z_dim, w_dim=args.w_dim, mapping_layers=args.mapping_layers,
        channel_base=args.channel_base, channel_max=args.channel_max, r1_gamma=args.r1_gamma,
        r1_every=args.r1_every, style_mixing_prob=args.style_mixing, mapping_lr_mul=args.mapping_lr_mul,
        augment=args.augment,
    )
    torch.manual_seed(args.seed)
    config, model, init_card = _init_from(args, "stylegan", config, stylegan.build)
    betas = tuple(float(b) for b in args.gan_betas.split(","))
    phases = stylegan.make_phases(config, lr=args.lr, betas=betas)
    trainer = Trainer(model, phases, train.float(), _train_config(args, warmup=0))

    def save(out, last, wall):
        losses = {k: round(float(v), 4) for k, v in (trainer.history[-1] if trainer.history else {}).items()
                  if k != "step"}
        card = _card(args, train, test, last, None, metrics={"final_losses": losses}, **init_card,
                     metrics_note="the last step's losses; sample quality is measured by benchmarks/stylegan_quality.py")
        return trainer.save(out, family="stylegan", config=config, card=card, elapsed_s=wall)

    def snapshot(ev):  # --snapshot-every: the model so far (the EMA copy) to OUT-stepN, to watch a long run
        if args.snapshot_every and ev.step % args.snapshot_every == 0:
            save(f"{args.out}-step{ev.step}", ev, ev.elapsed_s)

    last, _, wall = _run(trainer, args, lambda m: float("nan"), on_step=snapshot)
    return save(args.out, last, wall)


def _train_clip(args) -> Path:
    """The GenLab CLIP on captioned MNIST digits and/or shapes (--clip-data), English and Chinese."""
    import dataclasses

    import torch

    from . import clip
    from .clip import train as ct
    from .data import load_dataset
    from .train import Trainer

    sources = [s.strip() for s in args.clip_data.split(",") if s.strip()]
    if not sources or set(sources) - {"mnist", "shapes"}:
        raise UserError("clip_data_unknown", value=args.clip_data)
    mnist = shapes = mnist_test = shapes_test = None
    if "mnist" in sources:
        mnist = load_dataset("mnist", "train", data_dir=args.data_dir)
        mnist_test = load_dataset("mnist", "test", data_dir=args.data_dir, n=args.n_test)
    if "shapes" in sources:
        shapes = load_dataset("shapes", "train", n=args.n_train, seed=args.data_seed)
        shapes_test = load_dataset("shapes", "test", n=args.n_test or 1000, seed=args.data_seed)
    resnet = args.clip_vision == "resnet"
    config = clip.Config(vision=args.clip_vision, text_width=args.clip_width, embed_dim=args.clip_width,
                         vision_width=args.clip_vision_width or (16 if resnet else args.clip_width),
                         vision_layers=1 if resnet else args.clip_layers, text_layers=args.clip_layers,
                         mlp_ratio=args.clip_mlp_ratio, patch_size=args.clip_patch,
                         image_size=args.clip_image_size or 32)
    torch.manual_seed(args.seed)
    config, model, init_card = _init_from(args, "clip", config, clip.build)
    if not 0 <= args.clip_reword <= 1:
        raise UserError("value_out_of_range", what="--clip-reword", low=0, high=1, value=args.clip_reword)
    texts, reqs, attrs = ct.caption_bank(mnist, shapes, reword=args.clip_reword, seed=args.data_seed)
    images = ct.training_images(mnist, shapes, 32)  # the tower resizes (a ResNet may see 64x64)
    x0_from = None
    if args.clip_x0_ddpm:
        from .clip.guide import load_generator

        family, x0_from = load_generator(args.clip_x0_ddpm)
        if family != "ddpm":
            raise UserError("checkpoint_wrong_family", family=family, expected="ddpm")
    loss = ct.make_loss(config, texts, reqs, attrs, negatives=args.clip_negatives, noise=args.clip_noise,
                        reword=args.clip_reword, blur=args.clip_blur, x0_from=x0_from)
    train_config = dataclasses.replace(_train_config(args, warmup=200), weight_decay=args.weight_decay)
    trainer = Trainer(model, loss, images.float().div_(255), train_config,
                      labels=torch.arange(len(images)))
    probe = mnist_test.subset(slice(0, 500)) if mnist_test is not None else None
    last, curve, wall = _run(trainer, args, lambda m: ct.zero_shot(m, config, probe, None).get("digits", {}).get("en", float("nan")))
    final = trainer.final_model()
    zero_shot = ct.zero_shot(final, config, mnist_test, shapes_test)
    splits = {"train": "; ".join(s.split_note for s in (mnist, shapes) if s is not None),
              "held_out": "; ".join(s.split_note for s in (mnist_test, shapes_test) if s is not None)}
    args.dataset = "+".join(sources)
    card = _card(args, mnist or shapes, mnist_test or shapes_test, last, curve, metrics={"zero_shot": zero_shot},
                 **init_card, tokenizer=ct.TOKENIZER_NOTE, captions=ct.CAPTIONS_NOTE, metrics_note=ct.ZERO_SHOT_NOTE)
    card["split"] = splits
    return trainer.save(args.out, family="clip", config=config, card=card, elapsed_s=wall)


TRAINERS = {"vae": _train_vae, "ddpm": _train_ddpm, "stylegan": _train_stylegan, "clip": _train_clip}


def _compact(args) -> Path:
    """Re-store a checkpoint's weights as float16. A VAE's or DDPM's held-out metrics (a CLIP's
    zero-shot accuracy) are re-measured on the rounded weights first, so its card describes the
    model that ships."""
    import torch

    from . import checkpoint
    from .data import load_dataset

    ckpt = checkpoint.load(args.model)
    config, model = ckpt.build("cpu")
    model.half().float()  # in place: exactly the weights float16 storage will hold
    card = {k: v for k, v in ckpt.card.items() if k != "storage_dtype"}
    card["compacted_by"] = "python -m engines " + " ".join(shlex.quote(a) for a in args.argv)
    dataset = card.get("dataset")
    measured = {}
    held_out_at_hand = dataset == "shapes" or dataset == "mnist" and args.data_dir
    if ckpt.family == "vae" and held_out_at_hand:
        from . import vae

        test = load_dataset(dataset, "test", data_dir=args.data_dir, seed=0)
        measured = {f"heldout_{k}": round(v, 3) for k, v in vae.evaluate(model, test.float()).items()}
    elif ckpt.family == "ddpm" and held_out_at_hand:
        from . import diffusion

        test = load_dataset(dataset, "test", data_dir=args.data_dir, seed=0, n=1000 if dataset == "shapes" else None)
        labels = test.labels[:1000] if config.num_classes is not None else None
        loss = diffusion.heldout_loss(diffusion.make_process(config), model, test.float()[:1000], labels)
        measured = {"heldout_l_simple": round(loss, 5)}
    elif ckpt.family == "clip":  # on the card's held-out sets
        from .clip import train as clip_train

        sources = dataset.split("+") if dataset else []
        mnist = load_dataset("mnist", "test", data_dir=args.data_dir) if "mnist" in sources else None
        shapes = load_dataset("shapes", "test", n=1000) if "shapes" in sources else None
        measured = {"zero_shot": clip_train.zero_shot(model, config, mnist, shapes)}
    if measured:
        card["metrics"] = {**(card.get("metrics") or {}), **measured}
    return checkpoint.save(args.out or args.model, family=ckpt.family, config=config, model=model,
                           card=card, aux=ckpt.aux, storage_dtype=torch.float16)


def _sample(args) -> Path:
    from . import checkpoint
    from .train import image_grid

    ckpt = checkpoint.load(args.model)
    module = checkpoint.family_module(ckpt.family)
    engine = module.Engine(ckpt)
    supported = {"ddpm": ("label", "guidance", "sampler", "steps", "eta"), "stylegan": ("psi", "mix_seed", "mix_layers")}
    given = {k: getattr(args, k) for k in ("label", "guidance", "sampler", "steps", "eta", "psi", "mix_seed", "mix_layers")
             if getattr(args, k) is not None}
    wrong = [k for k in given if k not in supported.get(ckpt.family, ())]
    if wrong:
        raise UserError("sample_option_unsupported", family=ckpt.family,
                        options=", ".join("--" + k.replace("_", "-") for k in wrong))
    mix = {k: given.pop(k) for k in ("mix_seed", "mix_layers") if k in given}
    if mix:
        # Style mixing: image i is seed + i with the --mix-layers styles taken from --mix-seed.
        if set(mix) != {"mix_seed", "mix_layers"}:
            raise UserError("sample_mix_pair")
        layers = [int(v) if v.strip().isdigit() else v.strip() for v in str(mix["mix_layers"]).split(",") if v.strip()]
        from . import runtime

        seed = runtime.check_seed(args.seed)
        runtime.check_seed(seed + args.n - 1)
        grid = engine.mix(list(range(seed, seed + args.n)), [mix["mix_seed"]], layers, given.get("psi", 1.0))
        images, labels = grid[:, 0], None
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
    from .train import image_grid

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
    t.add_argument("--fast", action="store_true",
                   help="torch.compile the model (CUDA graphs on a GPU: 2.8x for the small UNets, see benchmarks)")
    t.add_argument("--bf16", action="store_true", help="bf16 autocast and channels_last (pays off only for large models)")
    t.add_argument("--init", default=None, help="continue training from this checkpoint (its config is kept)")
    t.add_argument("--size", type=int, default=None, help="resize the data set's images to this side")
    g = t.add_argument_group("vae")
    g.add_argument("--latent-dim", type=int, default=16)
    g.add_argument("--beta", type=float, default=1.0)
    g.add_argument("--widths", default=None, help="comma-separated conv widths, e.g. 32,64")
    g.add_argument("--hidden", type=int, default=512)
    g.add_argument("--kl-warmup", type=int, default=0, help="steps over which beta ramps up from 0")
    t.add_argument("--grad-clip", type=float, default=10.0, help="max global gradient norm")
    d = t.add_argument_group("ddpm")
    d.add_argument("--width", type=int, default=32, help="UNet channels at full resolution")
    d.add_argument("--channel-mult", default="1,2,2", help="UNet width multipliers per level")
    d.add_argument("--blocks", type=int, default=2, help="residual blocks per level")
    d.add_argument("--attention", default="7", help="feature-map sides with self-attention, comma-separated")
    d.add_argument("--patch-size", type=int, default=1, help="fold p x p pixel patches into channels first (1, 2, 4)")
    d.add_argument("--dropout", type=float, default=0.1)
    d.add_argument("--timesteps", type=int, default=1000, help="T")
    d.add_argument("--schedule", choices=("linear", "cosine"), default="linear")
    d.add_argument("--conditional", action="store_true", help="class-conditional on the data set's labels")
    d.add_argument("--p-uncond", type=float, default=0.1, help="label dropout for classifier-free guidance")
    d.add_argument("--default-guidance", type=float, default=3.0, help="guidance scale the card suggests")

    g = t.add_argument_group("stylegan")
    g.add_argument("--z-dim", type=int, default=128)
    g.add_argument("--w-dim", type=int, default=128)
    g.add_argument("--mapping-layers", type=int, default=4)
    g.add_argument("--channel-base", type=int, default=2048, help="feature maps at side r: min(base / r, max)")
    g.add_argument("--channel-max", type=int, default=128)
    g.add_argument("--r1-gamma", type=float, default=1.0)
    g.add_argument("--style-mixing", type=float, default=0.9, help="style-mixing regularisation probability")
    g.add_argument("--r1-every", type=int, default=16, help="lazy R1: apply it every this many D steps")
    g.add_argument("--mapping-lr-mul", type=float, default=0.01, help="learning-rate multiplier of the mapping network")
    g.add_argument("--augment", default="", help="DiffAugment before D: translation, cutout, or both comma-separated")
    g.add_argument("--gan-betas", default="0,0.99", help="Adam betas of G and D, e.g. 0,0.99")
    g.add_argument("--snapshot-every", type=int, default=0, help="also save the model to OUT-stepN every N steps")
    g = t.add_argument_group("clip")
    g.add_argument("--clip-data", default="mnist,shapes", help="captioned data: mnist, shapes or both (comma-separated)")
    g.add_argument("--clip-width", type=int, default=96, help="width of both towers and of the shared embedding")
    g.add_argument("--clip-layers", type=int, default=2,
                   help="transformer blocks in each tower (a ResNet image tower has one bottleneck per stage)")
    g.add_argument("--clip-mlp-ratio", type=float, default=2.0, help="transformer MLP width / model width")
    g.add_argument("--clip-patch", type=int, default=4, help="ViT patch side in pixels (the image tower sees 32x32)")
    g.add_argument("--clip-vision", choices=("vit", "resnet"), default="vit",
                   help="image tower: a ViT, or open_clip's ModifiedResNet (one bottleneck per stage)")
    g.add_argument("--clip-vision-width", type=int, default=0,
                   help="image tower width (default: --clip-width for a ViT, 16 for a ResNet)")
    g.add_argument("--clip-image-size", type=int, default=0,
                   help="side the image tower sees (default 32; a ResNet needs a multiple of 32)")
    g.add_argument("--clip-negatives", action="store_true",
                   help="add hard-negative captions (false of a shapes image in one factor) to every batch")
    g.add_argument("--clip-noise", type=float, default=0.08, help="largest pixel-noise sigma on half the images")
    g.add_argument("--clip-blur", type=float, default=0.0,
                   help="largest Gaussian-blur sigma (pixels at 32x32) on half the images (0: off)")
    g.add_argument("--clip-reword", type=float, default=0.5,
                   help="share of shapes captions that say the position another way ('in the top left', '左上方')")
    g.add_argument("--clip-x0-ddpm", default="",
                   help="a shapes DDPM folder: half the shapes images become its predicted x0 from a noised copy")
    g.add_argument("--weight-decay", type=float, default=0.0, help="AdamW weight decay (clip)")

    s = sub.add_parser("sample", help="sample images from a checkpoint")
    s.add_argument("--model", required=True)
    s.add_argument("--n", type=int, default=64)
    s.add_argument("--seed", type=int, default=0)
    s.add_argument("--out", required=True, help=".png for a grid, .npz for raw uint8 (N, H, W, C) images")
    g = s.add_argument_group("ddpm")
    g.add_argument("--label", default=None, help="class to generate: one label, or 'all' for an even spread")
    g.add_argument("--guidance", type=float, default=None, help="classifier-free guidance scale (default: the card's)")
    g.add_argument("--sampler", choices=("ddpm", "ddim"), default=None, help="ddpm: all T steps; ddim: --steps steps")
    g.add_argument("--steps", type=int, default=None, help="DDIM steps (default 50)")
    g.add_argument("--eta", type=float, default=None, help="DDIM noise level, 0 (deterministic) to 1")
    g = s.add_argument_group("stylegan")
    g.add_argument("--psi", type=float, default=None, help="truncation: w = w_avg + psi (w - w_avg); 1 = none")
    g.add_argument("--mix-seed", type=int, default=None, help="take some layers' styles from this seed's w")
    g.add_argument("--mix-layers", default=None, help="layers for --mix-seed: coarse, middle, fine or indices, e.g. 0,1,2")

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
        elif args.command == "guide":
            print(json.dumps(_guide(args), ensure_ascii=False))
        elif args.command == "eval":
            print(json.dumps(_eval(args), indent=2))
    except UserError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0
