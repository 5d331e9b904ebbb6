"""What one answer of the classroom tools costs the server: a Play step of the diffusion scrubber
and a hover over the VAE's 2-D map, each as the live route answers it (the handler, then its
outputs encoded as PNG data URLs: demo.live.encode), and a latent file saved and read back.

    python -m benchmarks.classroom_tools [--quick] [--out FILE]

In-process, one thread, no HTTP: the share of a 2-core server a class's Play buttons and mice
take. A class of 30 playing at PLAY_FPS costs 30 x PLAY_FPS x (a step's time) CPU-seconds a second.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path
from types import SimpleNamespace

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from benchmarks.common import emit, percentiles, timed  # noqa: E402


def scrub_steps(n_steps: int, reps: int) -> dict:
    from demo import live
    from demo.common import Models
    from demo.diffusion_tab import DEFAULT_BATCH, PLAY_FPS, DiffusionHandlers, Runs
    from engines import checkpoint

    h = DiffusionHandlers(Models("ddpm", checkpoint.ASSETS_DIR))
    eng = h._engine({}, "mnist-ddpm")
    runs = Runs()
    t0 = time.perf_counter()
    for traj in eng.run(DEFAULT_BATCH, 0, h._setting(eng, "ddim", n_steps, 0.0, "all", 3.0)):
        runs.main = traj
    sample_s = time.perf_counter() - t0
    frames = runs.main.num_frames
    k = iter(range(10**9))

    def step():
        out = h.scrub("en", SimpleNamespace(runs=runs, k=next(k) % frames))
        live.encode((out["xt"], out["eps"], out["x0"], out["caption"]), 4)

    times = timed(step, reps, warmup=3)
    per = percentiles(times)
    return {"batch": DEFAULT_BATCH, "ddim_steps": n_steps, "frames": frames, "sample_s": round(sample_s, 2),
            "step": per, "play_fps": PLAY_FPS,
            "class_of_30_cpu_s_per_s": round(30 * PLAY_FPS * per["p50_ms"] / 1000, 2)}


def hover(reps: int) -> dict:
    """A hover answer with a fresh decode ("decoded": the first visit of a z cell) and with the
    decode kept ("kept": a cell any session visited before), for each picture."""
    from demo import live, vae_tab
    from demo.common import Models
    from demo.vae_tab import VaeHandlers
    from engines import checkpoint

    h = VaeHandlers(Models("vae", checkpoint.ASSETS_DIR))
    base = dict(uploads={}, map_model="mnist-vae-z2", n=15, span=3.0)
    h.latent_map("en", SimpleNamespace(**base))  # the map's pictures, made once per model and kept
    positions = iter(range(10**9))

    def move(picture, fresh):
        def once():
            i = next(positions) if fresh else next(positions) % 10  # kept: ten places visited again
            pos = (100 + 7 * i % 800) * 1000 + (100 + 13 * i % 800)
            if fresh:
                vae_tab._HOVERS.items.clear()
            out = getattr(h, f"map_hover_{picture}")("en", SimpleNamespace(**base, pos=pos))
            live.encode((out.get("decoded"), out.get("z1"), out.get("z2")), 3)
        return once

    return {f"{picture}_{kind}": percentiles(timed(move(picture, kind == "decoded"), reps, warmup=3))
            for picture in ("grid", "scatter") for kind in ("decoded", "kept")}


def latent_files(reps: int) -> dict:
    import numpy as np

    from engines import latent_file

    folder = Path(tempfile.mkdtemp(prefix="genlab-bench-"))
    w = np.random.default_rng(0).standard_normal(512).astype(np.float32)
    path = latent_file.write(folder / "w.npy", w)
    return {"read_512": percentiles(timed(lambda: latent_file.read(path, [(512,)]), reps)),
            "write_512": percentiles(timed(lambda: latent_file.write(folder / "w2.npy", w), reps))}


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer repetitions (development)")
    parser.add_argument("--out", default=None, help="also write the JSON here")
    parser.add_argument("--note", default="busy CPU: other jobs running")
    args = parser.parse_args(argv)
    from engines import runtime

    reps = 20 if args.quick else 200
    result = {"benchmark": "classroom_tools", "quick": args.quick, "note": args.note,
              "hardware": runtime.hardware_summary(),
              "play_step": scrub_steps(12 if args.quick else 50, reps), "hover": hover(reps),
              "latent_file": latent_files(reps)}
    emit(result, args.out)


if __name__ == "__main__":
    main()
