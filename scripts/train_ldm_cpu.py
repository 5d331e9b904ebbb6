"""Train a latent diffusion checkpoint on a shared CPU, one torch thread, stoppable at any time.

    nice -n 10 python scripts/train_ldm_cpu.py --out runs/ldm-cpu --minutes 85
    python scripts/train_ldm_cpu.py --out /tmp/x --quick          # seconds: a test of the script

What a GPU run (scripts/train_ldm_gpu.py) does in one go, cut to what one CPU core can learn in an
hour or so: the same two phases (the KL autoencoder, short; then the latent UNet and the text encoder
together), but on simpler scenes: the training stream's single-object scenes, plus a fraction
(--two-frac) of its two-object ones, each with --captions captions per language from the training
caption sampler. Every --save-minutes the EMA weights are written to OUT/ckpt-<step> (and OUT/last),
and judged (assets/scenes-judge) on a few TRAINING scenes' captions: that score, never a held-out
one, is what picks the checkpoint to ship (OUT/best). Touch OUT/STOP (or send SIGTERM) to end the
run after its current step with a last save. Held-out numbers are measured once, at the end, by
benchmarks/ldm_quality.py, and written into the shipped card there.
"""

from __future__ import annotations

import argparse
import copy
import json
import math
import signal
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))


def log(out: Path, **fields) -> None:
    line = json.dumps({"time": time.strftime("%H:%M:%S"), **fields})
    print(line, flush=True)
    with open(out / "log.jsonl", "a") as f:
        f.write(line + "\n")


def pick_scenes(n_pool: int, two_frac: float, seed: int):
    """Single-object scenes of the training stream, plus a fraction of its two-object ones."""
    import numpy as np

    from engines.scenes import world

    scenes = world.sample_scenes(n_pool, seed=seed, stream="train")
    rng = np.random.default_rng(seed)
    keep = [s for s in scenes if len(s["objects"]) == 1 or len(s["objects"]) == 2 and rng.random() < two_frac]
    return keep


def lr_at(step: int, base: float, warmup: int, total: int) -> float:
    if step < warmup:
        return base * (step + 1) / warmup
    p = min(1.0, (step - warmup) / max(1, total - warmup))
    return base * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * p)))


def ship(run: Path, pick: str, dest: Path) -> int:
    """Copy RUN/<pick> (chosen on training prompts only) to dest, store float16, write samples.png."""
    import shutil

    from engines import cli

    sys.path.insert(0, str(ROOT / "scripts"))
    from train_ldm_gpu import write_samples

    if dest.exists():
        shutil.rmtree(dest)
    shutil.copytree(run / pick, dest)
    code = cli.main(["compact", "--model", str(dest)])
    if code == 0:
        choose_start(dest)
    return code or write_samples(dest, steps=50)


START_CANDIDATES = (999, 850, 700, 550, 400)


def choose_start(folder: Path, n: int = 48, seed: int = 0) -> dict:
    """Pick the card's `sample_start_t` (engines.ldm.engine.Engine.start_t) on TRAINING prompts only:
    the first n single-object scenes of the training stream, their training-sampler captions (English
    and Chinese alternating), one image each, DDIM-30, judged; the rate of images with every asked
    attribute right decides. Written into the card with every candidate's rates."""
    import numpy as np

    from engines.ldm.engine import Engine
    from engines.scenes import captions, world
    from engines.scenes.judge import judge_images, load_judge, score

    scenes = [s for s in world.sample_scenes(8 * n, seed=seed, stream="train") if len(s["objects"]) == 1][:n]
    texts = [captions.caption(s, "en" if i % 2 == 0 else "zh", rng=i, split="train").text for i, s in enumerate(scenes)]
    card_path = folder / "card.json"
    rates = {}
    for start in START_CANDIDATES:
        card = json.loads(card_path.read_text())
        card_path.write_text(json.dumps({**card, "sample_start_t": start}, indent=2, ensure_ascii=False))
        engine = Engine.load(folder)
        images = np.concatenate([engine.generate(texts[k:k + 16], len(texts[k:k + 16]), k, 30)[0]
                                 for k in range(0, len(texts), 16)])
        rates[start] = score(judge_images(load_judge(), images), scenes)
        print(json.dumps({"start_t": start, **rates[start]}), flush=True)
    best = max(START_CANDIDATES, key=lambda s: (rates[s]["scene"], rates[s]["color"] + rates[s]["shape"]
                                                + rates[s]["position"]))
    card = json.loads(card_path.read_text())
    card.update(sample_start_t=best, sample_start_t_selection={
        "on": f"{n} single-object TRAINING scenes (train stream, seed {seed}) and their training captions, "
              "English and Chinese alternating, one image each, DDIM-30, judged by assets/scenes-judge",
        "rates": {str(k): v for k, v in rates.items()}})
    card_path.write_text(json.dumps(card, indent=2, ensure_ascii=False) + "\n")
    return rates


def main(argv=None) -> int:
    p = argparse.ArgumentParser()
    p.add_argument("--out", required=True)
    p.add_argument("--ship", default=None, metavar="PICK", help="ship OUT/PICK (best, last) to --dest and stop")
    p.add_argument("--dest", default=str(ROOT / "assets" / "scenes-ldm"))
    p.add_argument("--preset", default="tiny", choices=("tiny", "small", "base"))
    p.add_argument("--width", type=int, default=None, help="override the preset's UNet width")
    p.add_argument("--text-width", type=int, default=None)
    p.add_argument("--n-pool", type=int, default=30000, help="training-stream scenes to pick from")
    p.add_argument("--two-frac", type=float, default=0.25, help="fraction of two-object scenes kept")
    p.add_argument("--captions", type=int, default=2)
    p.add_argument("--ae-steps", type=int, default=600)
    p.add_argument("--ae-batch", type=int, default=32)
    p.add_argument("--ae-lr", type=float, default=1e-3)
    p.add_argument("--steps", type=int, default=100000, help="phase 2 steps (the lr schedule's length)")
    p.add_argument("--batch", type=int, default=64)
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--ema", type=float, default=0.999)
    p.add_argument("--minutes", type=float, default=85.0, help="wall-clock budget of both phases")
    p.add_argument("--save-minutes", type=float, default=10.0)
    p.add_argument("--judge-n", type=int, default=32, help="training scenes judged at each save")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--quick", action="store_true")
    args = p.parse_args(argv)
    if args.ship:
        import torch

        torch.set_num_threads(args.threads)   # one: two OpenMP threads on a busy 2-core CPU spin at every barrier
        return ship(Path(args.out), args.ship, Path(args.dest))
    if args.quick:
        args.n_pool, args.ae_steps, args.steps, args.batch, args.ae_batch = 200, 3, 4, 8, 8
        args.minutes, args.save_minutes, args.judge_n = 2.0, 0.0, 4

    import torch
    import torch.nn.functional as F

    from engines import checkpoint, runtime
    from engines.ldm import FAMILY, build
    from engines.ldm.family import caption_ids, family_config, fit_latents, presets, unet_loss
    from engines.scenes import world
    from engines.scenes.autoencoder import loss_fn as ae_loss
    from engines.scenes.text import build_vocabulary

    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "STOP").unlink(missing_ok=True)
    stop = {"now": False}
    signal.signal(signal.SIGTERM, lambda *_: stop.update(now=True))
    started = time.perf_counter()
    deadline = started + 60 * args.minutes

    def should_stop() -> bool:
        return stop["now"] or (out / "STOP").exists() or time.perf_counter() > deadline

    scenes = pick_scenes(args.n_pool, args.two_frac, args.seed)
    images = torch.from_numpy(world.render(scenes)).permute(0, 3, 1, 2).contiguous()
    values = {**presets(args.preset), "p_uncond": 0.1}
    if args.width:
        values["width"] = args.width
    if args.text_width:
        values["text_width"] = args.text_width
    defaults = {"latent_channels": 4, "kl_weight": 1e-6, "dropout": 0.0, "timesteps": 1000, "schedule": "linear"}
    config = family_config({**defaults, **values})
    config.validate()
    model = build(config)
    n_one = sum(len(s["objects"]) == 1 for s in scenes)
    log(out, event="data", scenes=len(scenes), single=n_one, two=len(scenes) - n_one, config=str(config),
        params=sum(p.numel() for p in model.parameters()))

    # Phase 1: the autoencoder.
    gen = torch.Generator().manual_seed(args.seed)
    opt = torch.optim.AdamW(model.autoencoder.parameters(), lr=args.ae_lr, weight_decay=0.0)
    model.train()
    t0 = time.perf_counter()
    ae_done = 0
    for step in range(args.ae_steps):
        if should_stop():
            break
        for g in opt.param_groups:
            g["lr"] = lr_at(step, args.ae_lr, 50, args.ae_steps)
        idx = torch.randint(0, len(images), (args.ae_batch,), generator=gen)
        loss, logs = ae_loss(model.autoencoder, images[idx].float() / 255, gen)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.autoencoder.parameters(), 10.0)
        opt.step()
        ae_done = step + 1
        if step % 100 == 0 or step == args.ae_steps - 1:
            log(out, phase="ae", step=step, rec=round(logs["rec"], 5), kl=round(logs["kl"], 2),
                s=round(time.perf_counter() - t0, 1))
    ae_seconds = time.perf_counter() - t0
    model.autoencoder.requires_grad_(False)
    latents = fit_latents(model, images).cpu()
    model.train()
    ids = caption_ids(scenes, args.captions, config.max_tokens, seed=args.seed)
    log(out, event="latents", shape=list(latents.shape), scale=float(model.latent_scale), ae_seconds=round(ae_seconds))

    # Phase 2: the latent UNet and the text encoder.
    loss_fn = unet_loss(config, ids, config.p_uncond)
    params = [*model.unet.parameters(), *model.text.parameters()]
    opt = torch.optim.AdamW(params, lr=args.lr, weight_decay=0.0)
    ema = copy.deepcopy(model).eval().requires_grad_(False)
    judge_scenes = scenes[: args.judge_n]
    best = {"score": -1.0, "step": 0}
    t1, last_save, step = time.perf_counter(), time.perf_counter(), 0

    def save(tag: str):
        unet_s = time.perf_counter() - t1
        card = {
            "name": "scenes-ldm", "dataset": "scenes",
            "split": {"train": f"GenLab scenes, seed {args.seed}, train stream, the single-object scenes of "
                               f"images 0-{args.n_pool - 1} and {args.two_frac:.0%} of the two-object ones "
                               f"({len(scenes)} images)",
                      "held_out": "the eval stream (held-out colour+shape pairs and phrasings), never used here"},
            "vocabulary": list(build_vocabulary().tokens), "default_guidance": 3.0,
            "steps": ae_done + step, "phase_steps": {"ae": ae_done, "unet": step},
            "batch_size": args.batch, "lr": args.lr, "ema_decay": args.ema, "seed": args.seed,
            "captions_per_image": args.captions,
            "wall_time_s": round(ae_seconds + unet_s, 1), "phase_seconds": {"ae": round(ae_seconds), "unet": round(unet_s)},
            "hardware": runtime.hardware_summary() + f", {args.threads} torch thread(s), nice -n 10, "
                                                    "the shared 2-core CPU (busy: other jobs running)",
            "text_encoder": "a transformers BertModel built from a config, trained jointly with the UNet",
            "command": "nice -n 10 python scripts/train_ldm_cpu.py " + " ".join(sys.argv[1:] if argv is None else argv),
        }
        folder = checkpoint.save(out / tag, family=FAMILY, config=config, model=ema, card=card)
        return folder

    def judge_now(folder) -> dict:
        from engines.ldm.engine import Engine
        from engines.scenes import captions
        from engines.scenes.judge import judge_images, load_judge, score

        engine = Engine.load(folder)
        caps = [c.text for c in captions.scene_captions(judge_scenes, "en", seed=args.seed, split="train")]
        imgs = []
        for i, c in enumerate(caps):
            imgs.append(engine.generate(c, 1, i, 20, 3.0)[0])
        import numpy as np

        return score(judge_images(load_judge(), np.concatenate(imgs)), judge_scenes)

    while True:
        if should_stop() or step >= args.steps:
            break
        for g in opt.param_groups:
            g["lr"] = lr_at(step, args.lr, 200, args.steps)
        idx = torch.randint(0, len(latents), (args.batch,), generator=gen)
        loss, _ = loss_fn(model, {"x": latents[idx], "y": idx}, gen, step)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        opt.step()
        step += 1
        with torch.no_grad():
            d = min(args.ema, (1 + step) / (10 + step))
            for e, m in zip(ema.parameters(), model.parameters()):
                e.lerp_(m, 1 - d)
            for e, m in zip(ema.buffers(), model.buffers()):
                e.copy_(m)
        if step % 100 == 0:
            log(out, phase="unet", step=step, loss=round(float(loss), 4), s=round(time.perf_counter() - t1, 1))
        if time.perf_counter() - last_save > 60 * args.save_minutes and args.save_minutes > 0:
            folder = save(f"ckpt-{step}")
            s = judge_now(folder)
            log(out, event="judged", step=step, train_prompts=s)
            if s["scene"] + s["color"] + s["shape"] + s["position"] > best["score"]:
                best = {"score": s["scene"] + s["color"] + s["shape"] + s["position"], "step": step}
                save("best")
            last_save = time.perf_counter()
    folder = save("last")
    s = judge_now(folder)
    log(out, event="judged", step=step, train_prompts=s, final=True)
    if s["scene"] + s["color"] + s["shape"] + s["position"] > best["score"]:
        save("best")
        best = {"score": s["scene"] + s["color"] + s["shape"] + s["position"], "step": step}
    log(out, event="done", best=best, seconds=round(time.perf_counter() - started))
    return 0


if __name__ == "__main__":
    sys.exit(main())
