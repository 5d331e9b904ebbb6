"""Screenshots of the Metrics tab: the scores of two shipped models at N = 2,000, FID against N and
the trilemma, in English (and Chinese with --langs en,zh).

    python scripts/screenshots_metrics.py [--out docs] [--langs en]

Launches `python app.py` (offline) on a free port and drives Debian's /usr/bin/chromium through
Playwright, as scripts/screenshots.py does. Writes metrics-tab.png (scores), metrics-curve.png,
metrics-trilemma.png (zh-metrics-*.png in Chinese).
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from scripts.screenshots import CHROMIUM, CHROMIUM_ARGS, _open, _settle
from tests.launch import launched_app

DONE = """(s) => { const t = (document.querySelector(s) || {}).innerText || '';
    return t.includes('Done in') || t.includes('完成'); }"""


def _run(page, button: str, status: str, selectors: list[str]) -> None:
    page.click(button)
    page.wait_for_function(DONE, arg=status, timeout=600_000)
    _settle(page, selectors, timeout_ms=60_000, pause_s=1.0)


def shoot(browser, url: str, out: Path, lang: str) -> list[Path]:
    page = _open(browser, url, lang)
    page.click("#metrics-tab-button")
    page.wait_for_selector("#metrics-tab-scores", state="visible")
    prefix = "zh-" if lang == "zh" else ""
    written = []

    def snap(name):
        path = out / f"{prefix}metrics-{name}.png"
        page.screenshot(path=str(path), full_page=True)
        written.append(path)

    _run(page, "#metrics-run", "#metrics-status", ["#metrics-samples img"])
    snap("tab")
    page.click("#metrics-tab-curve-button")
    page.wait_for_selector("#metrics-tab-curve", state="visible")
    _run(page, "#metrics-curve-run", "#metrics-curve-status", ["#metrics-curve-plot img"])
    snap("curve")
    page.click("#metrics-tab-trilemma-button")
    page.wait_for_selector("#metrics-tab-trilemma", state="visible")
    _settle(page, ["#metrics-tri-chart img"], timeout_ms=60_000)
    snap("trilemma")
    page.close()
    return written


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=str(ROOT / "docs"))
    parser.add_argument("--data-dir", default=os.environ.get("GENLAB_DATA_DIR", str(ROOT.parent / "shared" / "data")))
    parser.add_argument("--langs", default="en")
    args = parser.parse_args(argv)
    from playwright.sync_api import sync_playwright

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    with launched_app("--lang", "en", "--data-dir", args.data_dir, timeout=180,
                      env={"OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS", "1")}) as (url, _, _), \
            sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            for lang in args.langs.split(","):
                for path in shoot(browser, url, out, lang):
                    print(path)
        finally:
            browser.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
