"""The GAN tab, measured: engine speed in-process, and slider round trips through the launched app.

    python -m benchmarks.gan_app            # prints JSON

Targets (issue 4, on the 2-core CPU): one 64x64 image <= 30 ms; a 4x4 mixing grid <= 0.5 s;
slider updates through the launched app <= 150 ms p95.

The app is launched twice: as `python app.py` runs by default (torch takes both cores), and with
OMP_NUM_THREADS=1; on a CPU that other work shares, two torch threads can wait on each other.
Round trips use the page's own protocol (benchmarks.vae_app.ProtocolClient) and gradio_client.
"""

from __future__ import annotations

import itertools
import os

import numpy as np
import torch

from benchmarks.common import emit, percentiles, timed
from benchmarks.vae_app import ProtocolClient
from engines import runtime
from tests.launch import launched_app

MODEL = "faces-stylegan"
SEEDS_A, SEEDS_B = "1, 2, 3, 4", "11, 12, 13, 14"
LAYER_CHOICES = ([0, 1, 2], [3, 4, 5, 6], [7, 8, 9], [0, 1], [5, 6, 7, 8, 9], [2, 3, 4])


def engine_speed(n: int = 30) -> dict:
    from engines.stylegan import Engine

    eng = Engine.load(f"assets/{MODEL}")
    seeds = itertools.count(100)
    out = {"torch_threads": torch.get_num_threads()}
    out["one_image_64"] = percentiles(timed(lambda: eng.generate([next(seeds)]), n))
    grid_a, grid_b = [1, 2, 3, 4], [11, 12, 13, 14]
    layers = itertools.cycle(LAYER_CHOICES)
    out["mix_grid_4x4_engine"] = percentiles(timed(lambda: eng.mix(grid_a, grid_b, next(layers)), n // 2))
    from demo.common import Models
    from demo.gan_tab import GanHandlers

    h = GanHandlers(Models("stylegan"))
    out["mix_grid_4x4_handler_composed"] = percentiles(timed(
        lambda: h.mix("en", {}, MODEL, SEEDS_A, SEEDS_B, next(layers), 1.0), n // 2))
    return out


def app_round_trips(env: dict, n: int = 60) -> dict:
    from gradio_client import Client

    rng = np.random.default_rng(0)
    out = {}
    with launched_app("--lang", "en", env=env) as (url, _proc, start_s):
        out["serving_after_s"] = round(start_s, 2)
        page = ProtocolClient(url)
        layers = itertools.cycle(LAYER_CHOICES)
        out["mix_toggle_browser_protocol"] = percentiles(timed(
            lambda: page.call("gan_mix_layers", MODEL, SEEDS_A, SEEDS_B, next(layers), 1.0), n))
        out["truncation_psi_browser_protocol"] = percentiles(timed(
            lambda: page.call("gan_truncation_psi", MODEL, "1, 2, 3, 4, 5, 6", float(np.round(rng.uniform(-1, 1.5), 2))), n))
        out["interp_t_browser_protocol"] = percentiles(timed(
            lambda: page.call("gan_interp_t", MODEL, 2, 4, float(np.round(rng.uniform(0, 1), 2)), 1.0), n))
        out["noise_strength_browser_protocol"] = percentiles(timed(
            lambda: page.call("gan_noise_image", MODEL, 4, 1.0, "all", float(np.round(rng.uniform(0, 3), 2)),
                              *([1.0] * 15)), n))
        client = Client(url, verbose=False)
        out["mix_toggle_gradio_client"] = percentiles(timed(
            lambda: client.predict(MODEL, SEEDS_A, SEEDS_B, next(layers), 1.0, api_name="/gan_mix_layers"), n // 2))
        out["interp_t_gradio_client"] = percentiles(timed(
            lambda: client.predict(MODEL, 2, 4, float(np.round(rng.uniform(0, 1), 2)), 1.0,
                                   api_name="/gan_interp_t"), n // 2))
    return out


def main() -> dict:
    result = {"benchmark": "gan_app", "hardware": runtime.hardware_summary()}
    try:
        result["load_average_1_5_15"] = [round(x, 2) for x in os.getloadavg()]
    except OSError:
        pass
    result["engine"] = engine_speed()
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    result["engine_one_thread"] = engine_speed()
    torch.set_num_threads(threads)
    result["app_default_threads"] = app_round_trips({})
    result["app_one_thread"] = app_round_trips({"OMP_NUM_THREADS": "1"})
    result["load_average_after"] = [round(x, 2) for x in os.getloadavg()]
    e, a1 = result["engine_one_thread"], result["app_one_thread"]
    result["targets"] = {
        "one_image_p50_ms<=30 (1 thread)": e["one_image_64"]["p50_ms"] <= 30,
        "mix_grid_4x4_p50_s<=0.5 (1 thread)": e["mix_grid_4x4_handler_composed"]["p50_ms"] <= 500,
        "slider_p95_ms<=150 (truncation psi, browser protocol, 1 thread)":
            a1["truncation_psi_browser_protocol"]["p95_ms"] <= 150,
        "slider_p95_ms<=150 (interpolation t, browser protocol, 1 thread)":
            a1["interp_t_browser_protocol"]["p95_ms"] <= 150,
        "slider_p95_ms<=150 (noise strength, browser protocol, 1 thread)":
            a1["noise_strength_browser_protocol"]["p95_ms"] <= 150,
    }
    return result


if __name__ == "__main__":
    emit(main())
