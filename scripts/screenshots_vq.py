"""Full-page screenshots of the VQ-VAE part's sub-tabs (autoregressive tab), in English and Chinese.

    python scripts/screenshots_vq.py [--out docs] [--assets-dir FOLDER]

Launches `python app.py` (offline) on a free port and drives Debian's /usr/bin/chromium through
Playwright, as scripts/screenshots_gan.py does. Writes, at a 1400x1100 viewport:
    vq-tokens.png vq-codebook.png vq-prior.png vq-resample.png vq-explain.png, and zh-vq-*.png
The Tokens picture is taken after a token was clicked and replaced; the Prior picture after a
streamed sample has finished; the Resample picture after two corners of a region were clicked on
the region picture and the region sampled again.
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

SUBTABS = {
    "tokens": ["#vq-grid img", "#vq-recon img", "#vq-edited img"],
    "codebook": ["#vq-codes img", "#vq-usage img"],
    "prior": ["#vq-samples img", "#vq-prior-grid img"],
    "explain": ["#vq-explain-text"],
}


def background_code(assets: Path) -> int:
    """The code in the bottom-left corner of the first example's grid (black background): put on
    the digit's stroke, it makes a visible gap."""
    from engines.vqvae import Engine

    engine = Engine.load(assets / "mnist-vqvae")
    return int(engine.encode(engine.examples()[0][0])[0, -1, 0])


def shoot(browser, url: str, out: Path, lang: str, code: int) -> list[Path]:
    page = _open(browser, url, lang)
    page.click("#ar-tab-button")
    page.click("#vq-part-button")  # the autoregressive tab opens on its PixelCNN part
    page.wait_for_selector("#vq-part", state="visible")
    page.wait_for_selector("#vq-grid img", timeout=120_000)
    prefix = "zh-" if lang == "zh" else ""
    written = []
    for tab, selectors in SUBTABS.items():
        page.click(f"#vq-tab-{tab}-button")
        page.wait_for_selector(f"#vq-tab-{tab}", state="visible")
        if tab == "tokens":  # click a token on the digit's stroke (row 4, column 3), put background there
            if lang == "zh":  # the language switch encodes the image again: wait for it, then edit
                page.wait_for_function("() => (document.querySelector('#vq-recon-info') || {}).innerText"
                                       ".includes('个 token')")
            box = page.locator("#vq-grid img").bounding_box()
            page.mouse.click(box["x"] + box["width"] * 3.5 / 7, box["y"] + box["height"] * 4.5 / 7)
            page.wait_for_function("() => (document.querySelector('#vq-cell-info') || {}).innerText.includes('4')")
            page.locator("#vq-code input[type=number]").fill(str(code))
            page.locator("#vq-code input[type=number]").press("Enter")
            page.click("#vq-replace")
            page.wait_for_timeout(1500)
        if tab == "prior":
            page.click("#vq-sample")
            page.wait_for_function("() => /Done|完成/.test((document.querySelector('#vq-status') || {}).innerText || '')",
                                   timeout=120_000)
        _settle(page, selectors, timeout_ms=120_000, pause_s=0.6)
        path = out / f"{prefix}vq-{tab}.png"
        page.screenshot(path=str(path), full_page=True)
        written.append(path)
        if tab == "prior":
            written.append(resample(page, out / f"{prefix}vq-resample.png"))
    page.close()
    return written


def resample(page, path: Path) -> Path:
    """Click two corners of a region on the region picture (rows 3-5, columns 1-5), resample it, shoot."""
    picture = page.locator("#vq-region-grid img")
    picture.scroll_into_view_if_needed()
    page.wait_for_timeout(1500)  # after a language switch the picture is drawn again
    box = picture.bounding_box()
    for row, col, shown in ((3, 1, "Corner|已选一个角"), (5, 5, "3–5")):
        page.mouse.click(box["x"] + box["width"] * (col + 0.5) / 7, box["y"] + box["height"] * (row + 0.5) / 7)
        page.wait_for_function("(s) => new RegExp(s).test((document.querySelector('#vq-region-info') || {}).innerText)",
                               arg=shown, timeout=30_000)
    page.click("#vq-resample")
    page.wait_for_function("() => /Done: 15|完成：15/.test((document.querySelector('#vq-status') || {}).innerText || '')",
                           timeout=120_000)
    _settle(page, ["#vq-samples img", "#vq-region-grid img"], timeout_ms=120_000, pause_s=0.6)
    page.screenshot(path=str(path), full_page=True)
    return path


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
            code = background_code(Path(args.assets_dir or ROOT / "assets"))
            for lang in args.langs.split(","):
                for path in shoot(browser, url, out, lang, code):
                    print(path)
        finally:
            browser.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
