"""Where a slider event's time goes: server stages (Gradio, wrapped in-process) beside the page's clock.

    python -m benchmarks.slider_profile [--slider vae_latent] [--presses 10] [--floor]

Serves GenLab (or the floor app) in this process with Gradio's queue stages timestamped (wall
clock), drives one slider in headless Chromium as benchmarks/slider_browser does, and prints per
press: keydown -> queue join sent (page), join received -> processing starts -> handler ->
postprocess -> message queued (server), -> image fetch starts / ends -> src set -> shown (page).
A development tool: the numbers carry this process's own overhead and the shared CPU.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from benchmarks.common import data_dir  # noqa: E402
from benchmarks.slider_browser import ARM, SLIDERS, floor_app, generate  # noqa: E402
from tests.launch import CHROMIUM, CHROMIUM_ARGS, VIEWPORT, free_port  # noqa: E402

MARKS: list[tuple[str, float]] = []
_LOCK = threading.Lock()


def mark(name: str) -> None:
    with _LOCK:
        MARKS.append((name, time.time() * 1000))


def instrument() -> None:
    """Wrap Gradio's queue and Blocks stages with wall-clock marks."""
    from gradio import blocks, queueing

    def wrap_async(cls, name):
        orig = getattr(cls, name)

        async def wrapped(*a, **k):
            mark(name + ">")
            try:
                return await orig(*a, **k)
            finally:
                mark(name + "<")

        setattr(cls, name, wrapped)

    for name in ("push", "process_events"):
        wrap_async(queueing.Queue, name)
    for name in ("call_function", "preprocess_data", "postprocess_data"):
        wrap_async(blocks.Blocks, name)
    orig_send = queueing.Queue.send_message

    def send(self, event, msg):
        mark("send:" + getattr(msg, "msg", type(msg).__name__))
        return orig_send(self, event, msg)

    queueing.Queue.send_message = send


HOOK = """() => {
  window.__marks = [];
  const t = () => performance.timeOrigin + performance.now();
  const of = window.fetch;
  window.fetch = function(input, init) {
    const u = String(input && input.url || input);
    if (u.includes('/queue/join')) window.__marks.push(['join_sent', t()]);
    return of.apply(this, arguments);
  };
  new PerformanceObserver(list => { for (const e of list.getEntries()) if (e.name.includes('/file=') || e.name.includes('/file/'))
    window.__marks.push(['img_fetch', performance.timeOrigin + e.startTime, performance.timeOrigin + e.responseEnd]); })
    .observe({type: 'resource', buffered: false});
  document.addEventListener('keydown', () => window.__marks.push(['keydown', t()]), true);
}"""


def cpu_top(profile: dict, n: int = 25) -> list:
    """Self time by function (ms) from a CDP CPU profile."""
    nodes = {nd["id"]: nd for nd in profile["nodes"]}
    dt = profile.get("timeDeltas", [])
    self_ms: dict = {}
    for sid, d in zip(profile.get("samples", []), dt):
        cf = nodes[sid]["callFrame"]
        key = f"{cf['functionName'] or '(anon)'} {cf['url'].rsplit('/', 1)[-1]}:{cf['lineNumber']}:{cf['columnNumber']}"
        self_ms[key] = self_ms.get(key, 0) + d / 1000
    return sorted(((round(v, 1), k) for k, v in self_ms.items()), reverse=True)[:n]


def main(argv=None) -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--slider", default="vae_latent")
    parser.add_argument("--presses", type=int, default=10)
    parser.add_argument("--floor", action="store_true")
    parser.add_argument("--cpuprofile", action="store_true", help="also the page's hottest JS functions (self time)")
    args = parser.parse_args(argv)
    instrument()
    import app
    from playwright.sync_api import sync_playwright

    demo = floor_app() if args.floor else app.build_app(data_dir=data_dir(), lang="en")
    port = free_port()
    demo.launch(server_name="127.0.0.1", server_port=port, prevent_thread_lock=True, **app.launch_kwargs())
    url = f"http://127.0.0.1:{port}/"
    rows = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_context(viewport=VIEWPORT, locale="en-US").new_page()
        page.set_default_timeout(60_000)
        page.goto(url)
        if args.floor:
            tabs, slider_id, images, key = [], "floor-slider", ["#floor-image img"], "ArrowRight"
            page.wait_for_selector("#floor-image img")
        else:
            tabs, slider_id, images, key, setup = SLIDERS[args.slider]
            page.wait_for_selector("#vae-interp-image img")
            time.sleep(3)
            for tab in tabs:
                page.click(tab)
            if setup == "generate":
                generate(page)
        page.evaluate(HOOK)
        rng = page.locator(f"#{slider_id} input[type=range]")
        rng.scroll_into_view_if_needed()
        rng.focus()
        time.sleep(1)
        if args.cpuprofile:
            cdp = page.context.new_cdp_session(page)
            cdp.send("Profiler.enable")
            cdp.send("Profiler.setSamplingInterval", {"interval": 200})
            cdp.send("Profiler.start")
        for _ in range(args.presses):
            page.evaluate("() => { window.__marks = []; }")
            with _LOCK:
                MARKS.clear()
            page.evaluate(ARM, images)
            page.keyboard.press(key)
            r = page.evaluate("() => window.__slider")
            time.sleep(0.3)
            pm = page.evaluate("() => window.__marks")
            with _LOCK:
                sm = list(MARKS)
            t0 = next((m[1] for m in pm if m[0] == "keydown"), None)
            if t0 is None or r is None:
                continue
            row = {"shown": round(r["shown_ms"], 1), "src": round(r["src_ms"], 1)}
            for m in pm:
                if m[0] == "join_sent":
                    row.setdefault("join_sent", round(m[1] - t0, 1))
                elif m[0] == "img_fetch":
                    row.setdefault("img_fetch_start", round(m[1] - t0, 1))
                    row.setdefault("img_fetch_end", round(m[2] - t0, 1))
            for name, ts in sm:
                row.setdefault(name, round(ts - t0, 1))
            rows.append(row)
        hot = cpu_top(cdp.send("Profiler.stop")["profile"]) if args.cpuprofile else None
        browser.close()
    if hot:
        print(json.dumps(hot, indent=1))
    keys = []
    for row in rows:
        keys += [k for k in row if k not in keys]
    med = {k: statistics.median([r[k] for r in rows if k in r]) for k in keys}
    print(json.dumps({"median_ms_after_keydown": dict(sorted(med.items(), key=lambda kv: kv[1])), "rows": rows[:3]},
                     indent=1))
    demo.close()


if __name__ == "__main__":
    main()
