"""Stop latency of the training tab, measured the way a person meets it: through the launched app
(python app.py) with gradio_client, from the Stop request to the answer that shows "stopped".

    python -m benchmarks.train_stop                                  # every family, tiny small base
    python -m benchmarks.train_stop --families stylegan --sizes base --repeats 3 --busy "5 agents"

For each family and size preset a fresh session starts a run (the device's default recipe, that
preset, 500 images, no previews), waits until its first step is done, then presses Stop at a
random moment inside a later step. Reported per run: the Stop round trip (client to "stopped"
shown, what the Stop button's answer carries), the step the status said before Stop and the step
kept, and the time of one step: the kept weights are those of the last completed step, so the
work a Stop throws away is less than one step. Prints one JSON object.
"""

from __future__ import annotations

import argparse
import os
import random
import re
import sys
import time

from benchmarks.common import ROOT, data_dir, emit
from engines import runtime, studio

DATASET = {"vae": "mnist", "ddpm": "mnist", "stylegan": "shapes", "clip": "mnist"}
from engines.studio import RECIPE_FIELDS as FIELDS  # noqa: E402  (train_start's order)


def _value(x):
    return x.get("value") if isinstance(x, dict) and "__type__" in x else x


def _steps(stats: str) -> tuple[int, float]:
    """(step, images/s over the latest steps) from the stats table."""
    cells = [c.strip() for c in stats.splitlines()[-1].strip("|").split("|")]
    return int(cells[0].split("/")[0].replace(",", "")), float(cells[1].replace(",", "") or 0)


def measure(client, family: str, size: str, *, mnist: bool, first_step_timeout: float) -> dict:
    recipe = studio.defaults(family)
    dataset = DATASET[family] if DATASET[family] != "mnist" or mnist else "shapes"
    settings = {**{f: getattr(recipe, f) for f in FIELDS}, "dataset": dataset, "size": size, "steps": 1_000_000,
                "n_images": 500, "preview_every": 0}
    t_start = time.perf_counter()
    client.predict(None, *[settings[f] for f in FIELDS], api_name="/train_start")
    # Until two steps are done: the first is slower (allocations), and we want a step time.
    seen: list[tuple[float, int]] = []
    end = time.perf_counter() + first_step_timeout
    while True:
        status, stats, *_ = client.predict(api_name="/train_poll")
        if "Training" in status and "|" in stats:
            step, ips = _steps(stats)
            seen.append((time.perf_counter(), step))
            if step >= 2:
                break
        if time.perf_counter() > end:
            client.predict(api_name="/train_stop")
            return {"family": family, "size": size, "error": f"no second step within {first_step_timeout:.0f} s"}
        time.sleep(0.2)
    first = next(t for t, s in seen if s >= 1)
    step_s = settings["batch_size"] / ips if ips > 0 else None  # the trainer's own images/s
    # Somewhere inside a step.
    time.sleep(random.uniform(0.1, 0.9) * min(step_s or 1.0, 3.0))
    before = _steps(client.predict(api_name="/train_poll")[1])[0]
    t0 = time.perf_counter()
    out = client.predict(api_name="/train_stop")
    latency = time.perf_counter() - t0
    status = out[0]
    kept = re.search(r"stopped at step ([\d,]+)", status)
    return {
        "family": family, "size": size, "dataset": dataset, "batch": settings["batch_size"],
        "stop_to_stopped_s": round(latency, 3),
        "stopped_shown": "stopped" in status,
        "step_before_stop": before,
        "kept_step": int(kept.group(1).replace(",", "")) if kept else None,
        "step_s": round(step_s, 2) if step_s else None,
        "first_step_s": round(first - t_start, 1),
    }


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--families", nargs="+", default=list(studio.FAMILIES))
    parser.add_argument("--sizes", nargs="+", default=list(studio.SIZES))
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument("--first-step-timeout", type=float, default=240.0)
    parser.add_argument("--busy", default="", help="a note on what else was running")
    args = parser.parse_args(argv)
    sys.path.insert(0, str(ROOT))
    from gradio_client import Client

    from tests.launch import launched_app

    random.seed(0)
    env = {"GENLAB_MAX_JOBS": "1", "GENLAB_JOB_SECONDS": "3600"}
    if data_dir():
        env["GENLAB_DATA_DIR"] = data_dir()
    rows = []
    with launched_app("--lang", "en", env=env, timeout=180) as (url, _proc, _):
        for family in args.families:
            for size in args.sizes:
                for _ in range(args.repeats):
                    row = measure(Client(url, verbose=False), family, size, mnist=data_dir() is not None,
                                  first_step_timeout=args.first_step_timeout)
                    rows.append(row)
                    print(f"# {row}", file=sys.stderr, flush=True)
    ok = [r["stop_to_stopped_s"] for r in rows if "stop_to_stopped_s" in r]
    return {
        "benchmark": "train_stop",
        "hardware": runtime.hardware_summary(),
        "omp_num_threads": os.environ.get("OMP_NUM_THREADS"),
        "busy": args.busy or None,
        "note": "Stop -> the answer showing 'stopped', through gradio_client against the launched app; the "
                "kept weights are those of the last completed step (the step in flight is undone); step_s = "
                "batch / the stats table's images/s, which it rounds to a whole image/s (coarse for the slow "
                "presets); first_step_s = Start to the first step shown (data, model, first step)",
        "max_stop_s": max(ok) if ok else None,
        "all_stopped": all(r.get("stopped_shown") for r in rows),
        "results": rows,
        "date": time.strftime("%Y-%m-%d"),
    }


if __name__ == "__main__":
    emit(main())
