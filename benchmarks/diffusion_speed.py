"""Sampling speed of the shipped DDPMs on this machine (issue 3's CPU targets).

    python -m benchmarks.diffusion_speed         # prints JSON

Targets on the 2-core CPU: DDIM-50 for 16 images <= 2 s; the first streamed step <= 1 s after
the request; a full DDPM-1000 trajectory of 16 images <= 30 s. The MNIST model is measured at its
card's default guidance (two network evaluations per step: conditional and unconditional) and
at guidance 1 (one evaluation: the plain conditional model).
"""

from __future__ import annotations

import time

import torch

from benchmarks.common import ROOT, emit
from engines import diffusion, runtime


def _run(engine, n: int, *, sampler: str, steps: int | None, guidance: float | None, label) -> dict:
    """Time one sampling run through the progressive sampler: first step and total seconds."""
    c = engine.config
    y = engine.labels_for(n, label)
    gen = runtime.generator(0, engine.device)
    t0 = time.perf_counter()
    first = None
    with torch.inference_mode():
        method = engine.process.ddpm if sampler == "ddpm" else engine.process.ddim
        kw = {} if sampler == "ddpm" else {"steps": steps, "eta": 0.0}
        g = 1.0 if guidance is None else guidance
        for step in method(engine.model, (n, c.channels, c.image_size, c.image_size), gen=gen, y=y,
                           guidance=g, **kw):
            if first is None:
                first = time.perf_counter() - t0
    return {"first_step_s": round(first, 3), "total_s": round(time.perf_counter() - t0, 2), "steps": step.index + 1}


def main() -> dict:
    out = {"benchmark": "diffusion_speed", "hardware": runtime.hardware_summary(), "models": {}}
    for name in ("mnist-ddpm", "shapes-ddpm"):
        path = ROOT / "assets" / name
        if not path.is_dir():
            continue
        engine = diffusion.Engine.load(path, device=torch.device("cpu"))
        conditional = engine.num_classes is not None
        g0 = float(engine.card.get("default_guidance", 1.0)) if conditional else None
        label = "all" if conditional else None
        _run(engine, 16, sampler="ddim", steps=5, guidance=g0, label=label)  # warm-up
        entry = {"params": sum(p.numel() for p in engine.model.parameters()), "default_guidance": g0,
                 "ddim50_16": [_run(engine, 16, sampler="ddim", steps=50, guidance=g0, label=label) for _ in range(3)],
                 "ddpm1000_16": _run(engine, 16, sampler="ddpm", steps=None, guidance=g0, label=label)}
        if conditional:
            entry["ddim50_16_guidance1"] = _run(engine, 16, sampler="ddim", steps=50, guidance=1.0, label=label)
            entry["ddpm1000_16_guidance1"] = _run(engine, 16, sampler="ddpm", steps=None, guidance=1.0, label=label)
        out["models"][name] = entry
    out["targets"] = {}
    for name, m in out["models"].items():
        t = {"ddim50_16<=2s (best of 3)": min(r["total_s"] for r in m["ddim50_16"]) <= 2.0,
             "first_step<=1s": max(r["first_step_s"] for r in m["ddim50_16"]) <= 1.0,
             "ddpm1000_16<=30s": m["ddpm1000_16"]["total_s"] <= 30.0}
        if "ddpm1000_16_guidance1" in m:
            t["ddpm1000_16<=30s (guidance 1)"] = m["ddpm1000_16_guidance1"]["total_s"] <= 30.0
        out["targets"][name] = t
    return out


if __name__ == "__main__":
    emit(main())
