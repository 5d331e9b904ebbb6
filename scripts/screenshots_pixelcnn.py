"""Full-page screenshots of the PixelCNN sub-tabs of the autoregressive tab, in English and Chinese.

    python scripts/screenshots_pixelcnn.py [--out docs] [--assets-dir FOLDER]

Launches `python app.py` (offline) on a free port and drives Debian's /usr/bin/chromium through
Playwright, as scripts/screenshots.py does. Writes, at its viewport:
    pixelcnn-sample.png pixelcnn-complete.png pixelcnn-field.png pixelcnn-likelihood.png
    pixelcnn-explain.png, and zh-pixelcnn-*.png
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

ZH_TAB_TEXT = "采样"
DONE = """(s) => { const t = (document.querySelector(s) || {}).innerText || '';
    return t.includes('images') || t.includes('张图像') || t.includes('Stopped') || t.includes('停止'); }"""


def _run(page, button: str, status: str, selectors: list[str]) -> None:
    page.click(button)
    page.wait_for_function(DONE, arg=status, timeout=300_000)
    _settle(page, selectors, timeout_ms=60_000, pause_s=0.8)


def shoot(browser, url: str, out: Path, lang: str) -> list[Path]:
    page = _open(browser, url, lang)
    page.click("#ar-tab-button")
    page.click("#pixelcnn-part-button")
    page.wait_for_selector("#pixelcnn-tab-sample", state="visible")
    if lang == "zh":
        page.wait_for_function("t => document.querySelector('#pixelcnn-tab-sample-button').innerText.trim() === t",
                               arg=ZH_TAB_TEXT)
    prefix = "zh-" if lang == "zh" else ""
    written = []

    def snap(name):
        path = out / f"{prefix}pixelcnn-{name}.png"
        page.screenshot(path=str(path), full_page=True)
        written.append(path)

    _run(page, "#pixelcnn-run", "#pixelcnn-status", ["#pixelcnn-images img", "#pixelcnn-conf img", "#pixelcnn-dist img"])
    snap("sample")
    page.click("#pixelcnn-tab-complete-button")
    page.wait_for_selector("#pixelcnn-tab-complete", state="visible")
    _run(page, "#pixelcnn-complete-run", "#pixelcnn-complete-status",
         ["#pixelcnn-complete-given img", "#pixelcnn-completions img"])
    snap("complete")
    page.click("#pixelcnn-tab-field-button")
    page.wait_for_selector("#pixelcnn-tab-field", state="visible")
    _settle(page, ["#pixelcnn-field-plain img", "#pixelcnn-field-gated img"], timeout_ms=60_000)
    box = page.locator("#pixelcnn-field-gated img").first.bounding_box()
    page.mouse.click(box["x"] + box["width"] * 0.55, box["y"] + box["height"] * 0.62)   # about (17, 15)
    page.wait_for_timeout(2500)
    _settle(page, ["#pixelcnn-field-plain img", "#pixelcnn-field-gated img"], timeout_ms=60_000)
    snap("field")
    page.click("#pixelcnn-tab-likelihood-button")
    page.wait_for_selector("#pixelcnn-tab-likelihood", state="visible")
    page.click("#pixelcnn-like-run")
    page.wait_for_function("() => ((document.querySelector('#pixelcnn-like-table') || {}).innerText || '')"
                           ".includes('#7')", timeout=120_000)
    _settle(page, ["#pixelcnn-like-digits img"], timeout_ms=60_000)
    snap("likelihood")
    page.click("#pixelcnn-tab-explain-button")
    page.wait_for_selector("#pixelcnn-explain .katex", timeout=30_000)
    page.wait_for_timeout(600)
    snap("explain")
    page.close()
    return written


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=str(ROOT / "docs"))
    parser.add_argument("--assets-dir", default=None)
    parser.add_argument("--langs", default="en,zh")
    args = parser.parse_args(argv)
    from playwright.sync_api import sync_playwright

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    extra = ["--lang", "en"] + (["--assets-dir", args.assets_dir] if args.assets_dir else [])
    with launched_app(*extra, env={"OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS", "1")}) as (url, _, _), \
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
