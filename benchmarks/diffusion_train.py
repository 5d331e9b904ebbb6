"""Diffusion training throughput: GenLab's UNet and trainer against diffusers' UNet2DModel with
DDPMScheduler, at the same architecture, batch and hardware, measured side by side in one run,
like for like both ways: eager against eager and compiled against compiled.

    python -m benchmarks.diffusion_train --out benchmarks/results/diffusion_train-cpu-DATE.json
    python -m benchmarks.diffusion_train --quick          # a smoke run (CPU: a few minutes)
    python -m benchmarks.diffusion_train --no-compile     # eager pairs only

On a GPU the same one command (defaults: batch 256, 300 timed steps) measures three pairs,
each library in the same precision and mode: fp32 eager, bf16 autocast eager (both with
channels_last), and fp32 torch.compile in the mode GenLab's trainer uses there ("reduce-overhead",
CUDA graphs); on a CPU fp32 eager and fp32 torch.compile (default mode, as the trainer uses).
`pairs` in the JSON lists them with GenLab / diffusers ratios; scripts/readme_figures.py writes
the README's rows from it.

The shared architecture is Ho et al.'s layout at MNIST size: 28 -> 14 -> 7 with widths 32/64/64,
two residual blocks per level, self-attention at 7x7, ten classes plus a null label, dropout 0.1.
diffusers builds it as UNet2DModel(block_out_channels=(32, 64, 64), layers_per_block=2,
AttnDownBlock2D / AttnUpBlock2D at 7x7, num_class_embeds=11). Both train on L_simple with AdamW
and the same gradient-norm clip on data that already sits on the device, and both read losses
back as GenLab's trainer does (every step on a CPU, once per log window on a GPU); only the
implementations differ. GenLab runs through its real Trainer (EMA off). torch.compile compiles
the module in both (the forward; its backward through AOTAutograd); the compile's time counts in
warmup_s, never in images_per_s. The shipped MNIST model (patch_size 2, 14 -> 7) is measured too,
for reference.

diffusers is a benchmark-only dependency (requirements-bench.txt). Prints one JSON object.
"""

from __future__ import annotations

import argparse
import os
import sys
import time

import torch
import torch.nn.functional as F

from benchmarks.common import data_dir, emit
from engines import diffusion, runtime
from engines.train import TrainConfig, Trainer

REFERENCE = dict(image_size=28, channels=1, width=32, channel_mult=(1, 2, 2), blocks_per_level=2,
                 attention_resolutions=(7,), num_classes=10, dropout=0.1, norm_groups=8)
SHIPPED = dict(REFERENCE, channel_mult=(1, 2), patch_size=2)


def _sync(dev: torch.device) -> None:
    if dev.type == "cuda":
        torch.cuda.synchronize(dev)


def _images(dev: torch.device, n: int = 8000) -> tuple[torch.Tensor, torch.Tensor]:
    found = data_dir()
    if found:
        from engines.data import load_dataset

        train = load_dataset("mnist", "train", data_dir=found)
        return train.float()[:n], train.labels[:n]
    gen = torch.Generator().manual_seed(0)  # no MNIST here: throughput does not depend on the digits
    return torch.rand(n, 1, 28, 28, generator=gen), torch.randint(0, 10, (n,), generator=gen)


GRAD_CLIP = 1.0  # the same global gradient-norm clip in both loops (the studio's)


def compile_mode(dev: torch.device) -> str | None:
    """The torch.compile mode GenLab's Trainer(compile=True) uses on this device (engines/train.py)."""
    return "reduce-overhead" if dev.type == "cuda" else None


def genlab(arch: dict, images, labels, *, batch: int, warmup: int, steps: int, dev, **fast) -> dict:
    config = diffusion.Config(**arch)
    torch.manual_seed(0)
    model = diffusion.build(config)
    process = diffusion.make_process(config)
    tcfg = TrainConfig(steps=warmup + steps, batch_size=batch, lr=2e-4, log_every=warmup, seed=0,
                       grad_clip=GRAD_CLIP, **fast)
    trainer = Trainer(model, diffusion.make_loss(process, p_uncond=0.1), images, tcfg, labels=labels, device=dev)
    start = None
    t0 = time.perf_counter()
    for ev in trainer.run():
        if ev.kind == "step" and ev.step == warmup:
            _sync(dev)
            start = time.perf_counter()
            warm_s = start - t0
    _sync(dev)
    elapsed = time.perf_counter() - start
    return {"images_per_s": round(steps * batch / elapsed, 1), "warmup_s": round(warm_s, 2),
            "params": sum(p.numel() for p in model.parameters()),
            "final_loss": round(trainer.history[-1]["loss"], 4)}


def diffusers_unet(images, labels, *, batch: int, warmup: int, steps: int, dev, **how) -> dict:
    step, model = diffusers_step(images, labels, batch=batch, dev=dev, **how)
    # Losses read back as GenLab's trainer reads them: each step on a CPU, once a window on a GPU.
    every = max(1, warmup) if dev.type == "cuda" else 1
    t0 = time.perf_counter()
    for _ in range(warmup):
        float(step())
    _sync(dev)
    start = time.perf_counter()
    for i in range(steps):
        loss = step()
        if (i + 1) % every == 0:
            float(loss)
    _sync(dev)
    elapsed = time.perf_counter() - start
    return {"images_per_s": round(steps * batch / elapsed, 1), "warmup_s": round(start - t0, 2),
            "params": sum(p.numel() for p in model.parameters()), "final_loss": round(float(loss), 4)}


def diffusers_step(images, labels, *, batch: int, dev, bf16: bool = False, channels_last: bool = False,
                   compile: bool = False):
    """diffusers' UNet2DModel, DDPMScheduler and AdamW -> (step() -> the loss tensor, the model)."""
    from diffusers import DDPMScheduler, UNet2DModel

    torch.manual_seed(0)
    model = UNet2DModel(
        sample_size=28, in_channels=1, out_channels=1, layers_per_block=2, block_out_channels=(32, 64, 64),
        down_block_types=("DownBlock2D", "DownBlock2D", "AttnDownBlock2D"),
        up_block_types=("AttnUpBlock2D", "UpBlock2D", "UpBlock2D"),
        norm_num_groups=8, num_class_embeds=11, dropout=0.1, attention_head_dim=64,
    ).to(dev).train()
    layout = torch.channels_last if channels_last else torch.contiguous_format
    model = model.to(memory_format=layout)
    forward = torch.compile(model, mode=compile_mode(dev)) if compile else model
    scheduler = DDPMScheduler(num_train_timesteps=1000, beta_schedule="linear")
    opt = torch.optim.AdamW(model.parameters(), lr=2e-4, fused=dev.type == "cuda" or None)
    x_all, y_all = images.to(dev), labels.to(dev)
    gen = torch.Generator(dev).manual_seed(0)

    def step() -> torch.Tensor:
        idx = torch.randint(0, len(x_all), (batch,), generator=gen, device=dev)
        x0, y = x_all[idx] * 2 - 1, y_all[idx]
        y = torch.where(torch.rand(batch, generator=gen, device=dev) < 0.1, torch.full_like(y, 10), y)
        noise = torch.randn(x0.shape, generator=gen, device=dev)
        t = torch.randint(0, 1000, (batch,), generator=gen, device=dev)
        noisy = scheduler.add_noise(x0, noise, t).contiguous(memory_format=layout)
        with torch.autocast("cuda", dtype=torch.bfloat16, enabled=bf16 and dev.type == "cuda"):
            pred = forward(noisy, t, class_labels=y).sample
        loss = F.mse_loss(pred.float(), noise)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), GRAD_CLIP)
        opt.step()
        return loss.detach()

    return step, model


def genlab_steps(arch: dict, images, labels, *, batch: int, total: int, dev):
    """GenLab's real Trainer (eager, a loss read back each step), advanced one step per next()."""
    config = diffusion.Config(**arch)
    torch.manual_seed(0)
    model = diffusion.build(config)
    tcfg = TrainConfig(steps=total, batch_size=batch, lr=2e-4, log_every=1, seed=0, grad_clip=GRAD_CLIP)
    trainer = Trainer(model, diffusion.make_loss(diffusion.make_process(config), p_uncond=0.1), images, tcfg,
                      labels=labels, device=dev)
    for ev in trainer.run():
        if ev.kind == "step":
            yield ev


def interleaved(images, labels, *, batch: int, warmup: int, steps: int, dev, window: int) -> dict:
    """The eager pair on a shared CPU: windows of `window` steps of each in turn (ABBA order), each
    library's time summed over its own windows, so a load that comes and goes falls on both alike."""
    ours = genlab_steps(REFERENCE, images, labels, batch=batch, total=warmup + steps, dev=dev)
    theirs, _ = diffusers_step(images, labels, batch=batch, dev=dev)
    run = {"genlab": lambda: next(ours), "diffusers": lambda: float(theirs())}
    for _ in range(warmup):
        run["genlab"](), run["diffusers"]()
    spent = {"genlab": 0.0, "diffusers": 0.0}
    rounds = steps // window
    for r in range(rounds):
        for name in (("genlab", "diffusers") if r % 2 == 0 else ("diffusers", "genlab")):
            t0 = time.perf_counter()
            for _ in range(window):
                run[name]()
            spent[name] += time.perf_counter() - t0
    return {name: {"images_per_s": round(rounds * window * batch / s, 1), "seconds": round(s, 2)}
            for name, s in spent.items()}


def measure(images, labels, *, gpu: bool, compile: bool, interleave: int = 0, **kw) -> tuple[dict, list[dict]]:
    """Every run and the like-for-like pairs: (mode, precision, genlab run, diffusers run). With
    `interleave`, the eager pair is timed in alternating windows of that many steps (a shared CPU)."""
    plan = [] if interleave else [("eager", "fp32", {}, {})]
    if gpu:
        plan.append(("eager", "bf16", dict(amp="bf16", channels_last=True), dict(bf16=True, channels_last=True)))
    if compile:
        plan.append(("compiled", "fp32", dict(compile=True), dict(compile=True)))
    runs, pairs = {}, []
    if interleave:
        both = interleaved(images, labels, window=interleave, **kw)
        runs["genlab_eager"], runs["diffusers_eager"] = both["genlab"], both["diffusers"]
        g, d = both["genlab"]["images_per_s"], both["diffusers"]["images_per_s"]
        pairs.append({"mode": "eager", "precision": "fp32", "genlab": "genlab_eager", "diffusers": "diffusers_eager",
                      "timing": f"interleaved, windows of {interleave} steps", "genlab_images_per_s": g,
                      "diffusers_images_per_s": d, "genlab_over_diffusers": round(g / d, 2)})
    for mode, precision, genlab_kw, diffusers_kw in plan:
        suffix = mode if precision == "fp32" else f"{mode}_{precision}"
        runs[f"diffusers_{suffix}"] = diffusers_unet(images, labels, **diffusers_kw, **kw)
        runs[f"genlab_{suffix}"] = genlab(REFERENCE, images, labels, **genlab_kw, **kw)
        g, d = runs[f"genlab_{suffix}"]["images_per_s"], runs[f"diffusers_{suffix}"]["images_per_s"]
        pairs.append({"mode": mode, "precision": precision, "genlab": f"genlab_{suffix}",
                      "diffusers": f"diffusers_{suffix}", "genlab_images_per_s": g, "diffusers_images_per_s": d,
                      "genlab_over_diffusers": round(g / d, 2)})
    shipped_fast = dict(amp="bf16", channels_last=True) if gpu else {}
    runs["genlab_shipped_arch"] = genlab(SHIPPED, images, labels, **shipped_fast, **kw)
    return runs, pairs


def main(argv: list[str] | None = None) -> dict:
    dev = runtime.device()
    gpu = dev.type == "cuda"
    p = argparse.ArgumentParser()
    p.add_argument("--batch", type=int, default=256 if gpu else 64)
    p.add_argument("--steps", type=int, default=300 if gpu else 12)
    p.add_argument("--warmup", type=int, default=30 if gpu else 3,
                   help="untimed steps first (the compile happens in them)")
    p.add_argument("--quick", action="store_true", help="a smoke run: 3 timed steps after 2 of warm-up")
    p.add_argument("--no-compile", action="store_true", help="the eager pairs only")
    p.add_argument("--interleave", type=int, default=0, metavar="K",
                   help="time the eager pair in alternating windows of K steps (a shared CPU)")
    p.add_argument("--note", default=None, help="recorded in the JSON (e.g. that the CPU was shared)")
    p.add_argument("--out", default=None, help="also write the JSON here")
    args = p.parse_args(argv)
    if args.quick:
        args.steps, args.warmup = 3, 2
    if gpu:
        torch.backends.cudnn.benchmark = True
    images, labels = _images(dev)
    load_before = os.getloadavg()
    runs, pairs = measure(images, labels, gpu=gpu, compile=not args.no_compile, interleave=args.interleave,
                          batch=args.batch, warmup=args.warmup, steps=args.steps, dev=dev)
    import diffusers

    result = {
        "benchmark": "diffusion_train", "hardware": runtime.hardware_summary(dev),
        "torch": torch.__version__, "diffusers": diffusers.__version__,
        "command": "python -m benchmarks.diffusion_train " + " ".join(argv if argv is not None else sys.argv[1:]),
        "batch": args.batch, "timed_steps": args.steps, "warmup_steps": args.warmup,
        "compile_mode": str(compile_mode(dev) or "default"), "grad_clip": GRAD_CLIP,
        "loss_readback": "once per log window" if gpu else "every step",
        "architecture": "28->14->7, widths 32/64/64, 2 res blocks per level, attention at 7x7, 10 classes + null",
        "load_average_before_after": [round(load_before[0], 2), round(os.getloadavg()[0], 2)],
        "runs": runs, "pairs": pairs,
    }
    if args.note:
        result["note"] = args.note
    emit(result, out=args.out)
    return result


if __name__ == "__main__":
    main()
