"""The launched app, measured as a user feels it: start-up, memory, slider round trips.

    python -m benchmarks.vae_app            # prints JSON

Targets (issue 2, on the 2-core CPU): `python app.py` serving within 15 s; a latent-slider move
round trip through gradio_client <= 100 ms p95; resident memory <= 1.5 GB.
"""

from __future__ import annotations

import time

import numpy as np

from benchmarks.common import emit, percentiles
from engines import runtime
from tests.launch import launched_app, rss_bytes


def main(n_moves: int = 100) -> dict:
    from gradio_client import Client

    result = {"benchmark": "vae_app", "hardware": runtime.hardware_summary()}
    with launched_app() as (url, proc, start_s):
        result["serving_after_s"] = round(start_s, 2)
        client = Client(url, verbose=False)
        rng = np.random.default_rng(0)
        model = "mnist-vae-z16"
        values = [0.0] * 16
        client.predict(model, *values, api_name="/vae_slider")  # first call loads the model
        for name, api in (("slider", "/vae_slider"),):
            samples = []
            for i in range(n_moves):
                values[i % 16] = float(np.round(rng.uniform(-3, 3), 2))  # one slider moved a step
                t0 = time.perf_counter()
                client.predict(model, *values, api_name=api)
                samples.append(time.perf_counter() - t0)
            result[f"{name}_round_trip"] = percentiles(samples)
        samples = []
        for i in range(n_moves // 2):
            t0 = time.perf_counter()
            client.predict(model, float(i % 11) / 10, "linear", api_name="/vae_interpolate")
            samples.append(time.perf_counter() - t0)
        result["interpolation_t_round_trip"] = percentiles(samples)
        result["rss_mb_after_use"] = round(rss_bytes(proc.pid) / 2**20, 1)
        client.close() if hasattr(client, "close") else None
    result["targets"] = {
        "serving_within_15_s": result["serving_after_s"] <= 15,
        "slider_p95_ms<=100": result["slider_round_trip"]["p95_ms"] <= 100,
        "rss<=1.5GB": result["rss_mb_after_use"] <= 1536,
    }
    return result


if __name__ == "__main__":
    emit(main())
