"""The autoregressive tab's streamed sampling as a user of the launched app sees it (one JSON object).

    python -m benchmarks.ar_app            # 5 runs of each
    python -m benchmarks.ar_app --quick    # 2 runs of each

Launches `python app.py` (offline, shipped models) and calls /pixelcnn_sample (16 digits, pixel by
pixel) and /vq_sample (16 images, token by token) through gradio_client, as the page does: the
time from submitting to the first streamed frame (issue 19: first pixels within 0.3 s) and to the
last (16 digits within 3 s; 16 prior images within 1 s, which the engine meets: benchmarks/vq.py).
Times include Gradio's queue, the PNG of each frame and the local HTTP; the first call of each is a
warm-up and not counted.
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from benchmarks.common import emit
from engines import runtime

CALLS = {
    "pixelcnn_16_digits": ("/pixelcnn_sample", dict(model="mnist-pixelcnn", n=16, seed=0, label="all",
                                                      temperature=1.0, top_k=0, top_p=1.0), 3.0),
    "vq_prior_16_images": ("/vq_sample", dict(model="mnist-vqvae", label="-1", temperature=1.0, top_k=0,
                                               top_p=1.0, seed=0, n=16), 1.0),
}


def one_run(client, api: str, kwargs: dict) -> tuple[float, float, int]:
    """-> (seconds to the first streamed frame, seconds to the end, frames received)."""
    started = time.perf_counter()
    job = client.submit(**kwargs, api_name=api)
    first, frames = None, 0
    for _ in job:
        frames += 1
        if first is None:
            first = time.perf_counter() - started
    job.result()
    return first if first is not None else float("nan"), time.perf_counter() - started, frames


def measure(url: str, runs: int) -> dict:
    from gradio_client import Client

    client = Client(url, verbose=False, download_files=False)
    out = {}
    for name, (api, kwargs, target_s) in CALLS.items():
        one_run(client, api, kwargs)  # warm-up: the model loads, the thread pools start
        got = [one_run(client, api, {**kwargs, "seed": seed}) for seed in range(1, runs + 1)]
        firsts, totals = [g[0] for g in got], [g[1] for g in got]
        out[name] = {"api": api, "runs": runs, "first_frame_s": [round(x, 3) for x in firsts],
                     "first_frame_median_s": round(float(np.median(firsts)), 3),
                     "total_s": [round(x, 3) for x in totals], "total_median_s": round(float(np.median(totals)), 3),
                     "frames": [g[2] for g in got], "targets": {"first_frame_s": 0.3, "total_s": target_s}}
    client.close()
    return out


def main(argv=None) -> dict:
    from tests.launch import launched_app

    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true")
    p.add_argument("--note", default="busy CPU: other jobs running")
    args = p.parse_args(argv)
    result = {"benchmark": "ar_app", "hardware": runtime.hardware_summary(), "note": args.note, "quick": args.quick}
    with launched_app("--lang", "en", env={"HF_HUB_OFFLINE": "1"}) as (url, _, started_s):
        result["app_start_s"] = round(started_s, 1)
        result.update(measure(url, 2 if args.quick else 5))
    emit(result)
    return result


if __name__ == "__main__":
    main()
