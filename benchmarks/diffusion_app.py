"""The diffusion tab's Generate, measured through the launched app against the engine alone.

    python -m benchmarks.diffusion_app [--n 5] [--compare-root OTHER_CHECKOUT]   # prints JSON

Target (issue 3, on the 2-core CPU): DDIM-50 of 16 images <= 2 s, the first streamed frame
<= 1 s after the click. The app figure is click to last frame (its streamed frames included); the engine figure is `Engine.run` with the whole trajectory kept,
in this process. "click_to_done" is what the page sees (its queue protocol, each frame's images
loaded); gradio_client's figure is given beside it. `--compare-root` launches a second checkout's app.py in the same run, so two
versions are compared under the same load (runs alternate between them).
"""

from __future__ import annotations

import argparse
import itertools
import os
import time
from pathlib import Path

import torch

from benchmarks.common import emit, percentiles, timed
from benchmarks.vae_app import ProtocolClient
from engines import runtime
from tests.launch import launched_app

MODEL = "mnist-ddpm"
N_IMAGES, SEED, STEPS = 16, 0, 50


def engine_run(n: int, guidance: float) -> dict:
    from engines.diffusion import Engine
    from engines.diffusion.engine import Setting

    eng = Engine.load(f"assets/{MODEL}")
    setting = Setting(sampler="ddim", steps=STEPS, eta=0.0, label="all", guidance=guidance)
    seeds = itertools.count(SEED)  # the warm-up run takes SEED, the timed runs SEED + 1 ... SEED + n

    def one_run():
        for _traj in eng.run(N_IMAGES, next(seeds), setting):
            pass

    return percentiles(timed(one_run, n, warmup=1))


def page_generate(page, guidance: float) -> tuple[float, float, int]:
    """One Generate click as the page makes it (queue join, event stream, every frame's images)."""
    r = page.stream("diffusion_generate", MODEL, N_IMAGES, SEED, "ddim", STEPS, 0.0, "all", guidance)
    return r["first_s"], r["done_s"], r["frames"]


def use_other_tabs(url: str, rounds: int = 3) -> None:
    """What a page load and a few clicks do before Generate: the VAE's sliders and the GAN's mixing
    grid, several sessions at once, so the server has run the other tabs' models from several of
    its threads (on a 2-core CPU torch is slower once several threads of a process have run it)."""
    import concurrent.futures

    from benchmarks import gan_app, vae_app

    def session(k: int) -> None:
        page = ProtocolClient(url)
        for r in range(rounds):
            page.call("vae_slider", vae_app.MODEL, *[((k + r + i) % 7 - 3) / 2 for i in range(16)])
            page.call("gan_mix_layers", gan_app.MODEL, gan_app.SEEDS_A, gan_app.SEEDS_B,
                      gan_app.LAYER_CHOICES[(k + r) % len(gan_app.LAYER_CHOICES)], 1.0)

    with concurrent.futures.ThreadPoolExecutor(4) as pool:
        list(pool.map(session, range(4)))


def app_generate(client, guidance: float) -> tuple[float, float, int]:
    """One Generate click through gradio_client -> (s to the first streamed frame, s to the end,
    frames received). gradio_client downloads every frame's images in turn in this process, on
    the same CPU, so this is slower than what the page sees."""
    t0 = time.perf_counter()
    job = client.submit(MODEL, N_IMAGES, SEED, "ddim", STEPS, 0.0, "all", guidance, api_name="/diffusion_generate")
    first, frames = None, 0
    for _out in job:
        frames += 1
        if first is None:
            first = time.perf_counter() - t0
    job.result()
    return first, time.perf_counter() - t0, frames


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=5, help="timed runs per setting")
    parser.add_argument("--guidance", type=float, default=1.0, help="1 is the shipped model's default")
    parser.add_argument("--compare-root", default=None, help="another checkout whose app to time alongside")
    parser.add_argument("--fresh-page", dest="used_page", action="store_false",
                        help="time Generate in an app that has run nothing else (default: the VAE and GAN "
                             "tabs are used first, from several sessions at once, as in a class)")
    args = parser.parse_args(argv)
    from gradio_client import Client

    result = {"benchmark": "diffusion_app", "hardware": runtime.hardware_summary(),
              "setting": f"{MODEL}, DDIM-{STEPS}, {N_IMAGES} images, guidance {args.guidance}",
              "other_tabs_used_first": args.used_page,
              "load_average_1_5_15_before": [round(x, 2) for x in os.getloadavg()]}
    roots = {"this": (None, {})}
    if args.compare_root:
        roots["compare"] = (Path(args.compare_root).resolve(), {})
    apps, clients, pages = {}, {}, {}
    samples = {k: ([], [], []) for k in roots}
    client_samples = {k: ([], [], []) for k in roots}
    try:
        for key, (root, env) in roots.items():
            apps[key] = launched_app("--lang", "en", root=root, env=env)
            url, _proc, _start = apps[key].__enter__()
            clients[key] = Client(url, verbose=False)
            pages[key] = ProtocolClient(url)
            if args.used_page:
                use_other_tabs(url)
            page_generate(pages[key], args.guidance)  # warm up: load the model, start the threads
        for _ in range(args.n):
            for key in roots:
                for got, into in ((page_generate(pages[key], args.guidance), samples[key]),
                                  (app_generate(clients[key], args.guidance), client_samples[key])):
                    for value, lst in zip(got, into, strict=True):
                        lst.append(value)
    finally:
        for cm in apps.values():
            cm.__exit__(None, None, None)
    for key in roots:
        (first, total, frames), (c_first, c_total, _) = samples[key], client_samples[key]
        result[f"app_{key}"] = {"first_frame": percentiles(first), "click_to_done": percentiles(total),
                                "frames_streamed_mean": round(sum(frames) / len(frames), 1),
                                "gradio_client_first_frame": percentiles(c_first),
                                "gradio_client_click_to_done": percentiles(c_total),
                                "root": str(roots[key][0] or Path.cwd()), "env": roots[key][1]}
    result["engine_run_in_process"] = engine_run(args.n, args.guidance)
    result["engine_torch_threads"] = torch.get_num_threads()
    result["load_average_1_5_15_after"] = [round(x, 2) for x in os.getloadavg()]
    app = result["app_this"]
    result["targets"] = {"ddim50_x16_click_to_done_p50_s<=2": app["click_to_done"]["p50_ms"] <= 2000,
                         "first_frame_p50_s<=1": app["first_frame"]["p50_ms"] <= 1000}
    return result


if __name__ == "__main__":
    emit(main())
