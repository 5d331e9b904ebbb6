"""How long a slider's model call takes while the server's web threads run Python, per GIL switch interval.

Every torch op lets go of Python's GIL and takes it back. While another thread runs Python (the
event loop answering 30 students), taking it back waits up to the switch interval (Python's
default: 5 ms), so a model call of a few dozen ops can take many times its own length.
`engines.runtime.share_the_gil` sets 0.5 ms in the app. This measures, for each interval, the
shipped VAE slider's decode and the StyleGAN truncation row (6 faces) through `runtime.call`,
alone and beside 1 or 2 busy Python threads, and how much Python work those threads got done
meanwhile (the price: more switches).

    python -m benchmarks.gil_switch [--quick] [--out FILE]
"""

from __future__ import annotations

import argparse
import json
import sys
import threading
import time
from types import SimpleNamespace

import numpy as np

from benchmarks.common import ROOT, percentiles

INTERVALS_MS = (5.0, 1.0, 0.5, 0.2)


def _workloads():
    from demo import gan_tab, vae_tab
    from demo.common import Models

    vae = vae_tab.VaeHandlers(Models("vae", str(ROOT / "assets")))
    gan = gan_tab.GanHandlers(Models("stylegan", str(ROOT / "assets")))
    rng = np.random.default_rng(0)

    def vae_move():
        v = SimpleNamespace(uploads={}, model="mnist-vae-z16", sliders=[float(rng.uniform(-2, 2))] + [0.0] * 15)
        return vae.slider_image("en", v)

    eng = gan.models.engine("faces-stylegan", {})

    def gan_row():
        from engines import runtime

        with runtime.compute():
            return eng.generate([1, 2, 3, 4, 5, 6], psi=float(rng.uniform(-1, 1.5)))

    return {"vae_slider_decode": vae_move, "stylegan_six_faces": gan_row}


def _busy(stop: threading.Event, counter: list, i: int) -> None:
    n = 0
    while not stop.is_set():
        for _ in range(1000):
            n += 1
        counter[i] = n


def measure(fn, busy_threads: int, moves: int) -> dict:
    from engines import runtime

    stop, counter = threading.Event(), [0] * busy_threads
    threads = [threading.Thread(target=_busy, args=(stop, counter, i), daemon=True) for i in range(busy_threads)]
    for th in threads:
        th.start()
    runtime.call(fn)
    began, times = time.perf_counter(), []
    for _ in range(moves):
        t0 = time.perf_counter()
        runtime.call(fn)
        times.append(time.perf_counter() - t0)
    wall = time.perf_counter() - began
    stop.set()
    for th in threads:
        th.join()
    out = percentiles(times)
    if busy_threads:
        out["python_loops_per_s_of_busy_threads"] = round(sum(counter) / wall)
    return out


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="10 moves per case")
    parser.add_argument("--moves", type=int, default=60)
    parser.add_argument("--note", default="")
    parser.add_argument("--out")
    args = parser.parse_args(argv)
    moves = 10 if args.quick else args.moves

    import torch

    from engines import runtime

    work = _workloads()
    before = sys.getswitchinterval()
    results = {}
    try:
        for name, fn in work.items():
            results[name] = {}
            for ms in INTERVALS_MS:
                sys.setswitchinterval(ms / 1e3)
                results[name][f"{ms:g}ms"] = {f"{b}_busy_python_threads": measure(fn, b, moves) for b in (0, 1, 2)}
    finally:
        sys.setswitchinterval(before)
    report = {
        "benchmark": "gil_switch",
        "hardware": runtime.hardware_summary(),
        "torch_threads": torch.get_num_threads(),
        "note": args.note or None,
        "moves_per_case": moves,
        "app_switch_interval_ms": runtime.SWITCH_INTERVAL_S * 1e3,
        "ms_per_call": results,
        "date": time.strftime("%Y-%m-%d"),
    }
    text = json.dumps(report, indent=2)
    print(text)
    if args.out:
        with open(args.out, "w") as f:
            f.write(text + "\n")
    return report


if __name__ == "__main__":
    main()
