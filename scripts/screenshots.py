"""Full-page screenshots of every VAE sub-tab, in English and Chinese, plus a refused upload.

    python scripts/screenshots.py [--out docs]

Launches `python app.py` (offline) on a free port and drives Debian's /usr/bin/chromium through
Playwright (no `playwright install`). Writes, at a 1400x1100 viewport:
    vae-interp.png vae-sliders.png vae-map.png vae-recon.png vae-explain.png
    zh-vae-interp.png ... zh-vae-explain.png
    vae-bad-upload.png, zh-vae-bad-upload.png  (a .pt checkpoint refused, message shown)
Chinese text needs a CJK font for Chromium (Debian: apt-get install fonts-wqy-microhei).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from tests.launch import launched_app  # noqa: E402

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run"]
VIEWPORT = {"width": 1400, "height": 1100}

# sub-tab -> images that must have arrived before the picture is taken
SUBTABS = {
    "interp": ["#vae-interp-image img", "#vae-a-image img", "#vae-b-image img", "#vae-interp-strip img"],
    "sliders": ["#vae-slider-image img", "#vae-slider-prior-plot img"],
    "map": ["#vae-map-grid img", "#vae-map-scatter img", "#vae-map-decoded img"],
    "recon": ["#vae-recon-input img", "#vae-recon-output img", "#vae-recon-sigma img",
              "#vae-beta-left-samples img", "#vae-beta-right-samples img"],
    "explain": ["#vae-explain .katex"],
}
ZH_TAB_TEXT = "潜在空间插值"  # the interpolation sub-tab's label once the page is in Chinese

IMAGES_READY = """(sels) => sels.every(s => { const el = document.querySelector(s);
    return el && (el.tagName !== 'IMG' || (el.complete && el.naturalWidth > 0)); })
    && [...document.querySelectorAll('img')].every(im => !im.offsetParent || (im.complete && im.naturalWidth > 0))"""


def _has_cjk_font() -> bool:
    try:
        out = subprocess.run(["fc-list", ":lang=zh"], capture_output=True, text=True, timeout=10).stdout
    except (OSError, subprocess.SubprocessError):
        return False
    return bool(out.strip())


def _open(browser, url: str, lang: str):
    page = browser.new_page(viewport=VIEWPORT)
    page.set_default_timeout(30_000)
    page.goto(url)
    page.wait_for_selector("#vae-interp-image img")  # the first-load chain has run
    if lang == "zh":
        page.locator("#lang-switch label", has_text="中文").click()
        page.wait_for_function("t => document.querySelector('#vae-tab-interp-button').innerText.trim() === t",
                               arg=ZH_TAB_TEXT)
        time.sleep(0.5)  # the language chain re-renders the model card and the metrics
    return page


def _settle(page, selectors: list[str]) -> None:
    page.wait_for_function(IMAGES_READY, arg=selectors)
    time.sleep(0.4)  # layout settles (Gradio keeps a connection open, so there is no network idle)


def shoot_tabs(browser, url: str, out: Path, lang: str) -> list[Path]:
    page = _open(browser, url, lang)
    prefix = "zh-" if lang == "zh" else ""
    written = []
    for tab, selectors in SUBTABS.items():
        page.click(f"#vae-tab-{tab}-button")
        page.wait_for_selector(f"#vae-tab-{tab}", state="visible")
        _settle(page, selectors)
        path = out / f"{prefix}vae-{tab}.png"
        page.screenshot(path=str(path), full_page=True)
        written.append(path)
    page.close()
    return written


def shoot_bad_upload(browser, url: str, out: Path, lang: str) -> Path:
    page = _open(browser, url, lang)
    page.click("#vae-upload-box button:first-child, #vae-upload-box .label-wrap")  # open the accordion
    page.wait_for_selector("#vae-upload input[type=file]", state="attached")
    with tempfile.TemporaryDirectory() as tmp:
        pt = Path(tmp) / "my-model.pt"
        pt.write_bytes(b"\x80\x04\x95\x05\x00\x00\x00\x00\x00\x00\x00K\x01.")  # a pickle; never loaded
        page.set_input_files("#vae-upload input[type=file]", str(pt))
        page.wait_for_function("() => document.querySelector('#vae-upload-status').innerText.includes('my-model.pt')")
    page.wait_for_selector(".toast-body", state="visible")
    time.sleep(0.4)
    path = out / f"{'zh-' if lang == 'zh' else ''}vae-bad-upload.png"
    page.screenshot(path=str(path), full_page=True)
    page.close()
    return path


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=str(ROOT / "docs"), help="folder for the PNGs (default: docs/)")
    args = parser.parse_args(argv)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    if not os.access(CHROMIUM, os.X_OK):
        print(f"{CHROMIUM} is missing: apt-get install chromium", file=sys.stderr)
        return 2
    if not _has_cjk_font():
        print("warning: no CJK font found (fc-list :lang=zh); Chinese text will show as boxes. "
              "Install fonts-wqy-microhei.", file=sys.stderr)
    from playwright.sync_api import sync_playwright

    t0 = time.perf_counter()
    written = []
    with launched_app() as (url, _, startup_s), sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            for lang in ("en", "zh"):
                written += shoot_tabs(browser, url, out, lang)
                written.append(shoot_bad_upload(browser, url, out, lang))
        finally:
            browser.close()
    for path in written:
        print(path)
    print(f"{len(written)} screenshots in {time.perf_counter() - t0:.1f} s (app served after {startup_s:.1f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
