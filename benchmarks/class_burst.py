"""A class at once: 30 gradio_client sessions moving sliders and 5 training, against one launched app.

    python -m benchmarks.class_burst [--sliders 30] [--trainers 5] [--moves 10] [--busy "note"]

Each slider session is its own `gradio_client.Client` (its own Gradio session) and, after a
random pause of up to 2 s, moves a slider `--moves` times with a short think time between moves:
the GAN tab's truncation psi (/gan_truncation_psi) or the VAE tab's latent sliders (/vae_slider),
alternately. Each training session starts a short VAE or DDPM run in the training tab and polls
it once a second, as the browser's timer does, until it ends. The host's limits are the app's
defaults (one run at a time on a CPU, eight waiting), so four of the five runs queue and say how
many are ahead of them. Reports every error, the sliders' latency percentiles, and for the runs
the queue wait, the run time and the images/s they reported. Prints one JSON object.
"""

from __future__ import annotations

import argparse
import os
import random
import threading
import time

import numpy as np

from benchmarks.common import data_dir, emit, percentiles
from engines import runtime
from tests.launch import launched_app, rss_bytes

GAN_MODEL, VAE_MODEL = "faces-stylegan", "mnist-vae-z16"
# family, dataset, size, steps, batch, lr, beta, latent, p_uncond, r1, n_images, seed, preview_every, fast
RUNS = [["vae", "mnist", "tiny", 150, 32, 0.002, 1.0, 16, 0.1, 1.0, 2000, 0, 50, False],
        ["ddpm", "mnist", "tiny", 60, 32, 0.001, 1.0, 16, 0.1, 1.0, 2000, 0, 30, False]]


def client(url: str):
    """A gradio_client session; a long read timeout, as a browser waits for a busy server."""
    from gradio_client import Client

    return Client(url, verbose=False, httpx_kwargs={"timeout": 180})


def slider_session(c, i: int, moves: int, lat: list, errors: list, rng: random.Random) -> None:
    try:
        time.sleep(rng.uniform(0, 2))
        values = [0.0] * 16
        for k in range(moves):
            t0 = time.perf_counter()
            if i % 2 == 0:
                c.predict(GAN_MODEL, "1, 2, 3, 4, 5, 6", round(rng.uniform(-1, 1.5), 2), api_name="/gan_truncation_psi")
                kind = "gan_truncation_psi"
            else:
                values[k % 16] = round(rng.uniform(-3, 3), 2)
                c.predict(VAE_MODEL, *values, api_name="/vae_slider")
                kind = "vae_slider"
            lat.append((kind, time.perf_counter() - t0))
            time.sleep(rng.uniform(0.1, 0.4))  # a person dragging: the next move comes soon after
    except Exception as exc:  # noqa: BLE001 - every failure is counted and reported
        errors.append(f"slider session {i}: {type(exc).__name__}: {str(exc)[:200]}")


def trainer_session(c, i: int, runs: list, errors: list) -> None:
    settings = list(RUNS[i % len(RUNS)])
    settings[11] = i  # seed
    if not data_dir():
        settings[1] = "shapes"
    try:
        t0 = time.perf_counter()
        status = c.predict(None, *settings, api_name="/train_start")[0]
        queued_said = "ahead of you" in status
        started = None
        while True:
            status, stats, *_ = c.predict(api_name="/train_poll")
            if started is None and "Training" in status:
                started = time.perf_counter()
            if "ahead of you" in status:
                queued_said = True
            if any(w in status for w in ("finished", "stopped", "limit", "failed", "⚠")):
                break
            if time.perf_counter() - t0 > 900:
                errors.append(f"trainer {i}: not finished after 900 s: {status}")
                return
            time.sleep(1.0)
        end = time.perf_counter()
        if "finished" not in status:
            errors.append(f"trainer {i}: {status}")
        ips = stats.split("\n")[-1].split("|")[2].strip() if "|" in stats else None
        runs.append({"session": i, "family": settings[0], "steps": settings[3], "said_queued": queued_said,
                     "queue_wait_s": round((started or end) - t0, 1), "run_s": round(end - (started or end), 1),
                     "images_per_s_reported": ips})
    except Exception as exc:  # noqa: BLE001
        errors.append(f"trainer {i}: {type(exc).__name__}: {str(exc)[:200]}")


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sliders", type=int, default=30)
    parser.add_argument("--trainers", type=int, default=5)
    parser.add_argument("--moves", type=int, default=10)
    parser.add_argument("--busy", default="", help="a note on what else was running on the machine")
    args = parser.parse_args(argv)

    extra = ["--lang", "en"] + (["--data-dir", data_dir()] if data_dir() else [])
    lat, errors, runs = [], [], []
    with launched_app(*extra, timeout=180) as (url, proc, serving_s):
        # One warm-up call per model, so the burst measures serving, not the first model load.
        warm = client(url)
        warm.predict(GAN_MODEL, "1, 2, 3, 4, 5, 6", 0.7, api_name="/gan_truncation_psi")
        warm.predict(VAE_MODEL, *([0.0] * 16), api_name="/vae_slider")
        # Every session opens its page first (a class loading the app), then the burst starts.
        t_setup = time.perf_counter()
        trainers = [client(url) for _ in range(args.trainers)]
        sliders = [client(url) for _ in range(args.sliders)]
        setup_s = time.perf_counter() - t_setup
        rss_before = rss_bytes(proc.pid)
        rng = random.Random(0)
        threads = [threading.Thread(target=trainer_session, args=(c, i, runs, errors)) for i, c in enumerate(trainers)]
        threads += [threading.Thread(target=slider_session, args=(c, i, args.moves, lat, errors,
                                                                 random.Random(rng.random())))
                    for i, c in enumerate(sliders)]
        t0 = time.perf_counter()
        for th in threads:
            th.start()
        for th in threads[args.trainers:]:
            th.join()
        sliders_done_s = time.perf_counter() - t0
        for th in threads[:args.trainers]:
            th.join()
        total_s = time.perf_counter() - t0
        rss_after = rss_bytes(proc.pid)

    by_kind = {}
    for kind, s in lat:
        by_kind.setdefault(kind, []).append(s)
    return {
        "benchmark": "class_burst",
        "hardware": runtime.hardware_summary(),
        "busy": args.busy or None,
        "omp_num_threads": os.environ.get("OMP_NUM_THREADS"),
        "sessions": {"sliders": args.sliders, "trainers": args.trainers, "moves_per_slider_session": args.moves},
        "errors": errors,
        "slider_latency_all": percentiles([s for _, s in lat]) if lat else None,
        "slider_latency_by_endpoint": {k: percentiles(v) for k, v in by_kind.items()},
        "slider_moves_done": len(lat),
        "runs": sorted(runs, key=lambda r: r["session"]),
        "sliders_done_after_s": round(sliders_done_s, 1),
        "all_done_after_s": round(total_s, 1),
        "app_serving_after_s": round(serving_s, 1),
        "sessions_opened_in_s": round(setup_s, 1),
        "app_rss_mb": {"before": round(rss_before / 2**20), "after": round(rss_after / 2**20)},
        "note": "30 + 5 gradio_client sessions in threads of this process, against python app.py on the same "
                "machine; latencies are whole gradio_client round trips (queue, compute, file download)",
        "date": time.strftime("%Y-%m-%d"),
        "p95_target_note": "no target set in the issue; reported as measured",
        "slider_latency_mean_ms": round(1000 * float(np.mean([s for _, s in lat])), 1) if lat else None,
    }


if __name__ == "__main__":
    emit(main())
