"""How long one unit of long work holds the compute thread, at the largest request the budgets allow.

    python -m benchmarks.unit_lengths [--note "..."]

Long work (DDPM sampling, CLIP guidance) steps on the one compute thread one unit at a time, and an
interactive event waits for at most the unit in flight (engines.runtime). The work budgets
(`diffusion.engine.MAX_STEP_PIXELS`, `clip.guide.MAX_STEP_WORK`) bound a unit; this measures
what that bound means in seconds on this machine: one DDIM step of each shipped DDPM at the most
images a step may hold, one CLIP guidance step of the raw-pixel generator at the step budget, and
one CLIP-guided DDPM step at the tab's defaults (8 samples side by side, each step taken
DDPM_RECURRENCE times). Target (issue 17): about 0.5 s or less. Prints one JSON object.
"""

from __future__ import annotations

import argparse
import os
import time

from benchmarks.common import ROOT, emit, percentiles
from engines import clip, runtime
from engines.diffusion.engine import MAX_STEP_PIXELS
from engines.diffusion.engine import Engine as DiffusionEngine

STEPS = 6  # DDIM steps per timed run; the first is dropped (warm-up)


def ddpm_step(name: str) -> dict:
    eng = DiffusionEngine.load(ROOT / "assets" / name)
    side = eng.config.image_size
    # A class-conditional model at a guidance other than 1 runs the UNet twice per image (the
    # budget counts it so); time that case, the dearer one.
    guided = getattr(eng.config, "num_classes", None) is not None
    n = MAX_STEP_PIXELS // (side * side * (2 if guided else 1))
    times = []
    for steps in (1, STEPS):  # the difference between two runs is STEPS - 1 steps without the set-up
        t0 = time.perf_counter()
        eng.sample(n, 0, sampler="ddim", steps=steps, guidance=2.0 if guided else None)
        times.append(time.perf_counter() - t0)
    per_step = (times[1] - times[0]) / (STEPS - 1)
    return {"model": name, "images_per_step": n, "guided": guided, "seconds_per_step": round(per_step, 3)}


def guide_step(generator: str, candidates: int, augment: int) -> dict:
    backend = clip.load_backend("genlab")
    target = generator if generator == "pixels" else str(ROOT / "assets" / generator)
    setting = clip.GuideSetting(prompt="a red circle in the centre", generator=target, steps=8, seed=0,
                                augment=augment, candidates=candidates)
    gaps, last = [], None
    for frame in clip.guide(backend, setting):
        now = time.perf_counter()
        if last is not None and not frame.done:
            gaps.append(now - last)
        last = now
    gaps = gaps[1:] or gaps  # the first step embeds the prompt and builds the objective
    return {"generator": generator, "candidates": candidates, "views": 1 + augment,
            "step_ms": percentiles(gaps) if gaps else None}


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--note", default="")
    args = parser.parse_args(argv)
    ddpm = [runtime.call(ddpm_step, name) for name in ("mnist-ddpm", "shapes-ddpm")]
    # Raw pixels at 64x64: 16 images x 8 views x 64^2 = the GenLab CLIP's whole step budget.
    guided = [runtime.call(guide_step, "pixels", 16, 7),
              runtime.call(guide_step, "shapes-ddpm", clip.DEFAULT_CANDIDATES["ddpm"], 4)]
    return {"benchmark": "unit_lengths", "hardware": runtime.hardware_summary(), "note": args.note,
            "load_average_1_5_15": [round(x, 2) for x in os.getloadavg()],
            "ddpm_step_at_max_images": ddpm, "clip_step": guided, "target_s": 0.5}


if __name__ == "__main__":
    emit(main())
