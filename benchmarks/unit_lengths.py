"""How long a slider waits behind long work, at the largest request the budgets allow.

    python -m benchmarks.unit_lengths [--note "..."]

Long work (DDPM sampling, CLIP guidance) steps on the one compute thread in the background lane,
as the app runs it (`runtime.stepped`, one task per step), and an interactive event waits for at
most the unit in flight (engines.runtime). The work budgets (`diffusion.engine.MAX_STEP_PIXELS`,
`clip.guide.MAX_STEP_WORK`) bound a unit. Here each kind of long work runs at the largest request
a budget allows while a probe makes an interactive no-op call every 20 ms: the probe's waits are
what a slider waits. Runs: a DDIM run of each shipped DDPM at the most images a run or a step may
hold (MNIST guided, which runs the UNet twice), CLIP guidance of raw pixels at the whole step budget,
and a CLIP-guided shapes DDPM at the tab's defaults (8 samples, 5 views, each step taken
engines.diffusion.guided.RECURRENCE times). Target (issue 17): about 0.5 s or less. Prints one JSON object.
"""

from __future__ import annotations

import argparse
import os
import threading
import time

from benchmarks.common import ROOT, emit, percentiles
from engines import clip, runtime
from engines.diffusion.engine import MAX_RUN_BATCH, MAX_STEP_PIXELS, Setting
from engines.diffusion.engine import Engine as DiffusionEngine

PROBE_EVERY_S = 0.02


def probed(make_steps, what: dict) -> dict:
    """Step make_steps() in the background lane while probing; -> what + the probe's waits."""
    waits, done = [], threading.Event()

    def probe():
        while not done.is_set():
            t0 = time.perf_counter()
            runtime.call(lambda: None)
            waits.append(time.perf_counter() - t0)
            time.sleep(PROBE_EVERY_S)

    steps = runtime.call(make_steps)  # checks and set-up, before the probe starts
    th = threading.Thread(target=probe, daemon=True)
    t0 = time.perf_counter()
    th.start()
    n = sum(1 for _ in runtime.stepped(steps, priority="background", owner="bench"))
    wall = time.perf_counter() - t0
    done.set()
    th.join(10)
    return {**what, "items": n, "wall_s": round(wall, 2), "slider_wait_ms": percentiles(waits)}


def ddpm_run(name: str, steps: int = 5) -> dict:
    eng = DiffusionEngine.load(ROOT / "assets" / name)
    side = eng.config.image_size
    guided = eng.num_classes is not None
    n = min(MAX_RUN_BATCH, MAX_STEP_PIXELS // (side * side * (2 if guided else 1)))  # the tab's largest run
    setting = Setting(sampler="ddim", steps=steps, label="all" if guided else None, guidance=2.0 if guided else None)
    return probed(lambda: eng.run(n, 0, setting),
                  {"run": f"{name} DDIM-{steps}", "images": n, "guided": guided})


def guide_run(generator: str, candidates: int, augment: int, steps: int = 5) -> dict:
    backend = clip.load_backend("genlab")
    target = generator if generator == "pixels" else str(ROOT / "assets" / generator)
    setting = clip.GuideSetting(prompt="a red circle in the centre", generator=target, steps=steps, seed=0,
                                augment=augment, candidates=candidates)
    return probed(lambda: clip.guide(backend, setting),
                  {"run": f"CLIP guidance, {generator}, {steps} steps", "candidates": candidates, "views": 1 + augment})


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--note", default="")
    args = parser.parse_args(argv)
    runs = [ddpm_run("mnist-ddpm"), ddpm_run("shapes-ddpm"),
            # Raw pixels at 64x64: 16 images x 8 views x 64^2 is the GenLab CLIP's whole step budget.
            guide_run("pixels", 16, 7),
            guide_run("shapes-ddpm", clip.DEFAULT_CANDIDATES["ddpm"], 4)]
    worst = max(r["slider_wait_ms"]["max_ms"] for r in runs)
    return {"benchmark": "unit_lengths", "hardware": runtime.hardware_summary(), "note": args.note,
            "load_average_1_5_15": [round(x, 2) for x in os.getloadavg()], "runs": runs,
            "longest_wait_ms": worst, "target_ms": 500, "met": worst <= 500}


if __name__ == "__main__":
    emit(main())
