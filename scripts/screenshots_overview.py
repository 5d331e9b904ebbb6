"""Screenshots of the Overview tab (the page a student lands on) and the VAE tab's "Autoencoder vs
VAE" part, reached through the Overview's button, in English and Chinese.

    python scripts/screenshots_overview.py [--out docs] [--assets-dir FOLDER]

Launches `python app.py` (offline) on a free port and drives Debian's /usr/bin/chromium through
Playwright, as scripts/screenshots.py does. Writes, at a 1400x1100 viewport:
    overview.png ae-vs-vae.png zh-overview.png zh-ae-vs-vae.png
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from scripts.screenshots import CHROMIUM, CHROMIUM_ARGS, _settle
from tests.launch import VIEWPORT, launched_app

AE_PICTURES = [f"#vae-ae-{side}-{part} img" for side in ("plain", "variational") for part in ("samples", "map", "grid")]


def shoot(browser, url: str, out: Path, lang: str) -> list[Path]:
    page = browser.new_context(viewport=VIEWPORT, locale="zh-CN" if lang == "zh" else "en-US").new_page()
    page.set_default_timeout(60_000)
    page.goto(url)
    page.wait_for_selector("#overview-intro", state="visible")
    if lang == "zh":  # the page follows the browser's language
        page.wait_for_function("() => document.querySelector('#overview-tab-button').innerText.trim() === '总览'")
    page.wait_for_timeout(800)
    prefix = "zh-" if lang == "zh" else ""
    written = [out / f"{prefix}overview.png"]
    page.screenshot(path=str(written[-1]), full_page=True)
    page.click("#overview-open-ae")  # the row's button opens the VAE tab's part
    page.wait_for_selector("#vae-tab-ae", state="visible")
    _settle(page, AE_PICTURES, timeout_ms=120_000, pause_s=0.8)
    page.click("#vae-ae-how-box .label-wrap")  # open "How it works"
    page.wait_for_timeout(500)
    written.append(out / f"{prefix}ae-vs-vae.png")
    page.screenshot(path=str(written[-1]), full_page=True)
    page.context.close()
    return written


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=str(ROOT / "docs"))
    parser.add_argument("--assets-dir", default=None)
    args = parser.parse_args(argv)
    from playwright.sync_api import sync_playwright

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    extra = ["--lang", "auto"] + (["--assets-dir", args.assets_dir] if args.assets_dir else [])
    with launched_app(*extra, env={"OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS", "1")}) as (url, _, _), \
            sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            for lang in ("en", "zh"):
                for path in shoot(browser, url, out, lang):
                    print(path)
        finally:
            browser.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
