"""Every live slider in a real headless browser, against Gradio's own floor measured in the same run.

    python -m benchmarks.slider_browser [--quick] [--presses N] [--only NAME,...]

One user. For each slider: focus its range input, press one arrow key, and time inside the page
(performance.now(), so Playwright's own round trips are not counted) from the keydown to the
moment every watched image has a new `src` ("src") and to the moment that picture has loaded
("shown"; the figures the targets use). For a slider answered by the live route (demo/live.py),
its request's time to first byte (Resource Timing) is the server's share. ~300 ms between presses. The floor is a trivial Gradio
app launched by this script: one slider -> one 224x224 PNG image (the VAE slider picture's size),
the same theme, css, queue and `.input` options as GenLab's live sliders.

Targets (issue 16, item 5): every slider's p50 <= 1.5x the floor's p50 and p95 <= 2x its p95.
The CPU is shared with other work here: the ratio to the floor of the same run is the figure.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from benchmarks.common import data_dir, emit, percentiles  # noqa: E402
from tests.browse_tabs import open_vae  # noqa: E402
from tests.launch import CHROMIUM, CHROMIUM_ARGS, VIEWPORT, launched_app  # noqa: E402

PAUSE_S = 0.3   # between presses, so each press is its own event
TIMEOUT_MS = 10_000
FLOOR_SIDE = 224  # the VAE slider picture: 28x28 upscaled 8x

# name -> (tab buttons to click, slider elem_id, images that must change, key, setup)
SLIDERS = {
    "vae_latent": (["#vae-tab-button", "#vae-tab-sliders-button"], "vae-slider-0", ["#vae-slider-image img"],
                   "ArrowRight", None),
    "vae_interp_t": (["#vae-tab-button", "#vae-tab-interp-button"], "vae-interp-t", ["#vae-interp-image img"],
                     "ArrowRight", None),
    "gan_psi": (["#gan-tab-button", "#gan-tab-trunc-button"], "gan-trunc-psi", ["#gan-trunc-row img"],
                "ArrowLeft", None),  # from 0.7 down: 16 steps up would reach its maximum
    "gan_interp_t": (["#gan-tab-button", "#gan-tab-interp-button"], "gan-interp-t",
                     ["#gan-interp-z-image img", "#gan-interp-w-image img"], "ArrowRight", None),
    "gan_noise_strength": (["#gan-tab-button", "#gan-tab-noise-button"], "gan-noise-strength",
                           ["#gan-noise-image img"], "ArrowRight", None),
    "diffusion_forward_t": (["#diffusion-tab-button", "#diffusion-tab-forward-button"], "diffusion-fwd-t",
                            ["#diffusion-fwd-xt img"], "ArrowRight", None),
    # The scrubber opens at a run's last step, so it steps back (x_t: the predicted noise of the last
    # two frames can be one picture).
    "diffusion_scrub": (["#diffusion-tab-button", "#diffusion-tab-reverse-button"], "diffusion-scrub",
                        ["#diffusion-xt img"], "ArrowLeft", "generate"),
}

# --- the floor app ------------------------------------------------------------------------------


def floor_app():
    """One slider -> one image: the least a Gradio slider event costs, same look and options as GenLab's."""
    import gradio as gr
    import numpy as np

    def picture(v):
        # A 28x28 grey picture that depends on v, upscaled like GenLab's display() to 224x224.
        # Every slider value gets its own picture (Gradio names cached files by their content).
        k = int(round((float(v or 0) + 3) / 0.05))  # 0 .. 120
        small = np.zeros((28, 28), np.uint8)
        small[:, : k * 28 // 121 + 1] = 255
        small[14, :8] = [255 * ((k >> b) & 1) for b in range(8)]
        return small.repeat(8, 0).repeat(8, 1)

    with gr.Blocks(title="floor") as demo:
        with gr.Row():
            s = gr.Slider(-3, 3, value=0, step=0.05, label="z1", elem_id="floor-slider")
            img = gr.Image(value=picture(0), height=260, interactive=False, format="png", buttons=[],
                           elem_id="floor-image")
        s.input(picture, s, img, trigger_mode="always_last", show_progress="hidden")
    demo.queue(default_concurrency_limit=2)
    return demo


def serve_floor(port: int) -> None:
    import app  # GenLab's launch settings: theme and css

    floor_app().launch(server_name="127.0.0.1", server_port=port, **app.launch_kwargs())


@contextlib.contextmanager
def launched_floor(timeout: float = 60.0):
    with launched_app(timeout=timeout, script=("-m", "benchmarks.slider_browser", "--serve-floor")) as (url, _, _):
        yield url


# --- in-page timing -----------------------------------------------------------------------------

# Arms one measurement: the next keydown starts the clock; it stops when every watched image
# has a src other than the one it had, and again when those pictures have loaded.
ARM = """(sels) => {
  const src = s => { const el = document.querySelector(s); return el ? el.src : null; };
  const before = sels.map(src);
  performance.clearResourceTimings();
  window.__slider = new Promise((resolve) => {
    let t0 = null, tSrc = null, done = false;
    document.addEventListener('keydown', () => { t0 = performance.now(); }, {capture: true, once: true});
    const check = () => {
      if (done || t0 === null) return;
      const els = sels.map(s => document.querySelector(s));
      if (!els.every((el, i) => el && el.src && el.src !== before[i])) return;
      done = true; tSrc = performance.now(); obs.disconnect();
      Promise.all(els.map(el => el.complete ? null : new Promise(r => {
        el.addEventListener('load', r, {once: true}); el.addEventListener('error', r, {once: true}); })))
        .then(() => {
          // The live route's request, when the picture came through it: its time to first byte
          // is the server's share (the model, the PNG, the queue for the compute thread).
          const live = performance.getEntriesByType('resource').filter(e => e.name.endsWith('/genlab/live'));
          const last = live[live.length - 1];
          resolve({src_ms: tSrc - t0, shown_ms: performance.now() - t0,
                   server_ms: last ? last.responseStart - last.requestStart : null});
        });
    };
    const obs = new MutationObserver(check);
    obs.observe(document.body, {subtree: true, childList: true, attributes: true, attributeFilter: ['src']});
    setTimeout(() => { if (!done) { obs.disconnect(); resolve(null); } }, %d);
  });
}""" % TIMEOUT_MS


def measure(page, slider_id: str, images: list[str], key: str, presses: int) -> dict:
    rng = page.locator(f"#{slider_id} input[type=range]")
    rng.scroll_into_view_if_needed()
    for sel in images:
        page.wait_for_selector(sel, state="attached", timeout=60_000)
    rng.focus()
    time.sleep(0.5)
    src, shown, server, missed = [], [], [], 0
    for _ in range(presses):
        page.evaluate(ARM, images)
        page.keyboard.press(key)
        r = page.evaluate("() => window.__slider")
        if r is None:
            missed += 1
        else:
            src.append(r["src_ms"] / 1000)
            shown.append(r["shown_ms"] / 1000)
            if r.get("server_ms") is not None:
                server.append(r["server_ms"] / 1000)
        time.sleep(PAUSE_S)
    return summary(shown, src, missed, server)


def summary(shown: list[float], src: list[float], missed: int, server: list[float] | None = None) -> dict:
    out = {"missed": missed, "raw_shown": shown, "raw_src": src}
    if shown:
        out["shown"], out["src"] = percentiles(shown), percentiles(src)
    if server:
        out["live_request_to_first_byte"] = percentiles(server)  # the server's share, in the page's clock
    return out


def open_page(browser, url: str, ready: str):
    pg = browser.new_context(viewport=VIEWPORT, locale="en-US").new_page()
    pg.set_default_timeout(60_000)
    pg.goto(url)
    pg.wait_for_selector(ready, state="attached")
    return pg


def generate(page) -> None:
    """A DDIM run on the shipped model, so the scrubber has steps to show."""
    page.click("#diffusion-generate")
    page.wait_for_selector("#diffusion-after-run", state="visible", timeout=120_000)
    page.wait_for_function("() => !document.querySelector('#diffusion-scrub input[type=range]').disabled")


def run_sliders(browser, urls: list[str], names: list[str], presses: int) -> list[dict]:
    """Each slider measured on every app in turn (app A, app B, next slider ...), so a change in
    the machine's load touches both alike."""
    pages = [open_page(browser, url, "#vae-tab-button") for url in urls]
    for page in pages:
        open_vae(page)  # the Overview is the first tab
    time.sleep(2)  # the load chain of every tab
    out = [{} for _ in urls]
    for name in names:
        tabs, slider_id, images, key, setup = SLIDERS[name]
        for page, res in zip(pages, out):
            for tab in tabs:
                page.click(tab)
            if setup == "generate":
                generate(page)
            res[name] = measure(page, slider_id, images, key, presses)
    for page in pages:
        page.context.close()
    return out


def run_floor(browser, url: str, presses: int) -> dict:
    page = open_page(browser, url, "#floor-image img")
    return measure(page, "floor-slider", ["#floor-image img"], "ArrowRight", presses)


def verdict(result: dict, floor: dict) -> dict:
    if "shown" not in result:
        return {"met": False}
    p50 = result["shown"]["p50_ms"] / floor["shown"]["p50_ms"]
    p95 = result["shown"]["p95_ms"] / floor["shown"]["p95_ms"]
    return {"p50_ratio": round(p50, 2), "p95_ratio": round(p95, 2),
            "met": p50 <= 1.5 and p95 <= 2.0 and result["missed"] == 0}


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="8 presses per slider (development)")
    parser.add_argument("--presses", type=int, default=30)
    parser.add_argument("--only", default="", help="comma-separated slider names")
    parser.add_argument("--serve-floor", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, default=7861, help=argparse.SUPPRESS)  # the floor app's
    parser.add_argument("--note", default="busy CPU: other jobs running")
    parser.add_argument("--baseline", default=None,
                        help="another checkout's folder (say, the commit before a change): its app measured too")
    args = parser.parse_args(argv)
    if args.serve_floor:
        serve_floor(args.port)
        return
    from playwright.sync_api import sync_playwright

    from engines import runtime

    presses = 8 if args.quick else args.presses
    names = [n for n in args.only.split(",") if n] or list(SLIDERS)
    app_args = ["--lang", "en"] + (["--data-dir", d] if (d := data_dir()) else [])
    baseline = None
    with launched_floor() as floor_url, sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        floor_before = run_floor(browser, floor_url, presses)
        with contextlib.ExitStack() as apps:
            urls = [apps.enter_context(launched_app(*app_args))[0]]
            if args.baseline:
                urls.append(apps.enter_context(launched_app(*app_args, root=Path(args.baseline)))[0])
            sliders, *rest = run_sliders(browser, urls, names, presses)
            baseline = rest[0] if rest else None
        floor_after = run_floor(browser, floor_url, presses)
        browser.close()
    # The floor is measured before and after the app's sliders; its figure pools both.
    floor = summary(floor_before["raw_shown"] + floor_after["raw_shown"],
                    floor_before["raw_src"] + floor_after["raw_src"], floor_before["missed"] + floor_after["missed"])
    floor["before_p50_ms"] = floor_before.get("shown", {}).get("p50_ms")
    floor["after_p50_ms"] = floor_after.get("shown", {}).get("p50_ms")
    for r in (floor, *sliders.values(), *(baseline or {}).values()):
        r.pop("raw_shown"), r.pop("raw_src")
    for r in (*sliders.values(), *(baseline or {}).values()):
        r.update(verdict(r, floor))
    emit({
        "benchmark": "slider_browser",
        "presses_per_slider": presses,
        "pause_s": PAUSE_S,
        "measure": "keydown -> every watched image has a new src and has loaded ('shown'), in-page clock",
        "floor": floor,
        "sliders": sliders,
        **({"baseline": {"root": args.baseline, "sliders": baseline}} if baseline else {}),
        "targets": {"p50_ratio_max": 1.5, "p95_ratio_max": 2.0},
        "all_met": all(r["met"] for r in sliders.values()),
        "hardware": runtime.hardware_summary(),
        "load_average": [round(x, 2) for x in os.getloadavg()],
        "note": args.note,
    })


if __name__ == "__main__":
    main()
