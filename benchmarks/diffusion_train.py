"""Diffusion training throughput: GenLab's UNet and trainer against diffusers' UNet2DModel with
DDPMScheduler, at the same architecture, batch and hardware, measured side by side in one run.

    python -m benchmarks.diffusion_train                 # CPU or GPU, whichever the runtime picks
    python -m benchmarks.diffusion_train --batch 256 --steps 200

The shared architecture is Ho et al.'s layout at MNIST size: 28 -> 14 -> 7 with widths 32/64/64,
two residual blocks per level, self-attention at 7x7, ten classes plus a null label, dropout 0.1.
diffusers builds it as UNet2DModel(block_out_channels=(32, 64, 64), layers_per_block=2,
AttnDownBlock2D / AttnUpBlock2D at 7x7, num_class_embeds=11). Both train on L_simple with AdamW
on data that already sits on the device; only the implementations differ. GenLab runs through its
real Trainer (EMA off), eagerly and, on a GPU, on its fast paths: bf16 autocast + channels_last
(losses read back once per window), and torch.compile with CUDA graphs, which is what pays off
for a model this small (its steps are bound by kernel launches, not arithmetic). The shipped MNIST
model (patch_size 2, 14 -> 7) is measured too, for reference.

diffusers is a benchmark-only dependency (requirements-bench.txt). Prints one JSON object.
"""

from __future__ import annotations

import argparse
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


def genlab(arch: dict, images, labels, *, batch: int, warmup: int, steps: int, dev, **fast) -> dict:
    config = diffusion.Config(**arch)
    torch.manual_seed(0)
    model = diffusion.build(config)
    process = diffusion.make_process(config)
    tcfg = TrainConfig(steps=warmup + steps, batch_size=batch, lr=2e-4, log_every=warmup, seed=0, **fast)
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


def diffusers_unet(images, labels, *, batch: int, warmup: int, steps: int, dev, bf16: bool = False) -> dict:
    from diffusers import DDPMScheduler, UNet2DModel

    torch.manual_seed(0)
    model = UNet2DModel(
        sample_size=28, in_channels=1, out_channels=1, layers_per_block=2, block_out_channels=(32, 64, 64),
        down_block_types=("DownBlock2D", "DownBlock2D", "AttnDownBlock2D"),
        up_block_types=("AttnUpBlock2D", "UpBlock2D", "UpBlock2D"),
        norm_num_groups=8, num_class_embeds=11, dropout=0.1, attention_head_dim=64,
    ).to(dev).train()
    scheduler = DDPMScheduler(num_train_timesteps=1000, beta_schedule="linear")
    opt = torch.optim.AdamW(model.parameters(), lr=2e-4)
    x_all, y_all = images.to(dev), labels.to(dev)
    gen = torch.Generator(dev).manual_seed(0)

    def step() -> torch.Tensor:
        idx = torch.randint(0, len(x_all), (batch,), generator=gen, device=dev)
        x0, y = x_all[idx] * 2 - 1, y_all[idx]
        y = torch.where(torch.rand(batch, generator=gen, device=dev) < 0.1, torch.full_like(y, 10), y)
        noise = torch.randn(x0.shape, generator=gen, device=dev)
        t = torch.randint(0, 1000, (batch,), generator=gen, device=dev)
        noisy = scheduler.add_noise(x0, noise, t)
        with torch.autocast("cuda", dtype=torch.bfloat16, enabled=bf16 and dev.type == "cuda"):
            pred = model(noisy, t, class_labels=y).sample
        loss = F.mse_loss(pred.float(), noise)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 10.0)  # as GenLab's trainer does
        opt.step()
        return loss.detach()

    t0 = time.perf_counter()
    for _ in range(warmup):
        float(step())
    _sync(dev)
    start = time.perf_counter()
    for _ in range(steps):
        loss = step()
        float(loss)  # the usual loop logs each step's loss (a read-back per step)
    _sync(dev)
    elapsed = time.perf_counter() - start
    return {"images_per_s": round(steps * batch / elapsed, 1), "warmup_s": round(start - t0, 2),
            "params": sum(p.numel() for p in model.parameters()), "final_loss": round(float(loss), 4)}


def main(argv: list[str] | None = None) -> dict:
    dev = runtime.device()
    gpu = dev.type == "cuda"
    p = argparse.ArgumentParser()
    p.add_argument("--batch", type=int, default=256 if gpu else 64)
    p.add_argument("--steps", type=int, default=300 if gpu else 8)
    p.add_argument("--warmup", type=int, default=30 if gpu else 2)
    p.add_argument("--no-compile", action="store_true")
    args = p.parse_args(argv)
    if gpu:
        torch.backends.cudnn.benchmark = True
    images, labels = _images(dev)
    kw = dict(batch=args.batch, warmup=args.warmup, steps=args.steps, dev=dev)
    runs = {
        "diffusers_eager": diffusers_unet(images, labels, **kw),
        "genlab_eager": genlab(REFERENCE, images, labels, **kw),
    }
    if gpu:
        runs["diffusers_bf16"] = diffusers_unet(images, labels, bf16=True, **kw)
        runs["genlab_fast"] = genlab(REFERENCE, images, labels, amp="bf16", channels_last=True, **kw)
        if not args.no_compile:
            runs["genlab_compiled_cuda_graphs"] = genlab(REFERENCE, images, labels, compile=True, **kw)
    best = max((k for k in runs if k.startswith("genlab")), key=lambda k: runs[k]["images_per_s"])
    shipped_fast = dict(amp="bf16", channels_last=True) if gpu else {}
    runs["genlab_shipped_arch"] = genlab(SHIPPED, images, labels, **shipped_fast, **kw)
    base = runs["diffusers_eager"]["images_per_s"]
    import diffusers

    return {
        "benchmark": "diffusion_train", "hardware": runtime.hardware_summary(dev),
        "torch": torch.__version__, "diffusers": diffusers.__version__,
        "batch": args.batch, "timed_steps": args.steps, "warmup_steps": args.warmup,
        "architecture": "28->14->7, widths 32/64/64, 2 res blocks per level, attention at 7x7, 10 classes + null",
        "runs": runs,
        "ratios": {
            "genlab_eager_over_diffusers_eager": round(runs["genlab_eager"]["images_per_s"] / base, 2),
            f"{best}_over_diffusers_eager": round(runs[best]["images_per_s"] / base, 2),
            **({f"{best}_over_diffusers_bf16": round(runs[best]["images_per_s"] / runs["diffusers_bf16"]["images_per_s"], 2)}
               if gpu else {}),
        },
    }


if __name__ == "__main__":
    emit(main())
