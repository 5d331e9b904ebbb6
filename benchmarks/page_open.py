"""Opening the page in a real headless browser: time to the first picture, and the model events it costs.

    python -m benchmarks.page_open [--repeats 3] [--quick] [--root OTHER_CHECKOUT] [--note TEXT] [--out FILE]

One launched app; for each browser language (English, Chinese) a fresh browser context opens the
page `repeats` times. Timed inside Playwright from `goto` to the moment the VAE tab's first
picture (the interpolation image) has loaded; counted: the queue events the page sent until then
and in the 3 s after (what the page open costs the server), and all its calls (queue events and
the unqueued ones, /gradio_api/run/predict) in that time. --quick: one open per language. The first open of the run also pays
the engines' first loads; the figures are the median and the maximum of the later opens. With
--root, the same is measured for another checkout (e.g. a worktree of an earlier commit) in the
same run, for a before / after on the same CPU.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from benchmarks.common import emit  # noqa: E402
from tests.browse_tabs import open_tab  # noqa: E402
from tests.launch import CHROMIUM, CHROMIUM_ARGS, VIEWPORT, launched_app  # noqa: E402

FIRST_PICTURE = "#vae-interp-image img"
AFTER_S = 3.0


def open_once(browser, url: str, locale: str) -> dict:
    context = browser.new_context(viewport=VIEWPORT, locale=locale)
    page = context.new_page()
    joins, calls = [], []
    page.on("request", lambda r: joins.append(time.perf_counter()) if "/queue/join" in r.url else None)
    page.on("request", lambda r: calls.append(r.url) if "/queue/join" in r.url or "/run/predict" in r.url else None)
    t0 = time.perf_counter()
    page.goto(url)
    open_tab(page, "vae-tab")  # the Overview is the first tab; the VAE tab starts when selected
    page.wait_for_function("s => { const el = document.querySelector(s); return el && el.complete && el.naturalWidth > 0; }",
                           arg=FIRST_PICTURE, timeout=120_000)
    shown = time.perf_counter() - t0
    time.sleep(AFTER_S)
    zh = page.evaluate("() => document.querySelector('#vae-tab-sliders-button').innerText.trim()") == "潜在变量滑块"
    context.close()
    return {"first_picture_s": round(shown, 2), "events_until_picture": sum(j - t0 <= shown for j in joins),
            "events_until_picture_plus_3s": len(joins), "calls_until_picture_plus_3s": len(calls),
            "page_in_chinese": zh}


def measure(root: Path | None, repeats: int) -> dict:
    from playwright.sync_api import sync_playwright

    out = {}
    with launched_app(root=root) as (url, _proc, serving_s), sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            first = open_once(browser, url, "en-US")  # the engines' first loads
            for locale in ("en-US", "zh-CN"):
                runs = [open_once(browser, url, locale) for _ in range(repeats)]
                times = [r["first_picture_s"] for r in runs]
                out[locale] = {"first_picture_s_median": round(statistics.median(times), 2),
                               "first_picture_s_max": max(times), "runs": runs}
        finally:
            browser.close()
    return {"serving_after_s": round(serving_s, 1), "first_open_of_the_app": first, **out}


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--root", type=Path, default=None, help="another checkout measured in the same run")
    parser.add_argument("--quick", action="store_true", help="one open per language (while developing)")
    parser.add_argument("--note", default="", help="what else was running on the machine")
    parser.add_argument("--out", default=None, help="also write the result to this file")
    args = parser.parse_args(argv)
    if args.quick:
        args.repeats = 1
    from engines.runtime import hardware_summary

    result = {"benchmark": "page_open", "hardware": hardware_summary(), "note": args.note,
              "this_checkout": measure(None, args.repeats)}
    if args.root is not None:
        result["other_checkout"] = {"root": str(args.root), **measure(args.root, args.repeats)}
    result["date"] = time.strftime("%Y-%m-%d")
    emit(result, args.out)


if __name__ == "__main__":
    main()
