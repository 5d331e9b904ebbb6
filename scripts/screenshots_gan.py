"""Full-page screenshots of every GAN sub-tab, in English and Chinese.

    python scripts/screenshots_gan.py [--out docs] [--assets-dir FOLDER]

Launches `python app.py` (offline) on a free port and drives Debian's /usr/bin/chromium through
Playwright, as scripts/screenshots.py does. Writes, at a 1400x1100 viewport:
    gan-mix.png gan-trunc.png gan-interp.png gan-noise.png gan-layers.png gan-explain.png
    zh-gan-mix.png ... zh-gan-explain.png
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

# sub-tab id -> what must have rendered before the picture is taken
SUBTABS = {
    "mix": ["#gan-grid img"],
    "trunc": ["#gan-trunc-row img", "#gan-trunc-avg img", "#gan-trunc-sweep img"],
    "interp": ["#gan-interp-z-image img", "#gan-interp-w-image img", "#gan-interp-z-strip img"],
    "noise": ["#gan-noise-image img", "#gan-noise-std img", "#gan-noise-cmp-coarse img"],
    "layers": ["#gan-effects-message"],
    "explain": ["#gan-explain .katex"],
}
ZH_TAB_TEXT = "风格混合"


def _open_gan(browser, url: str, lang: str):
    page = _open(browser, url, lang)
    page.click("#gan-tab-button")
    page.wait_for_selector("#gan-tab-mix", state="visible")
    if lang == "zh":
        page.wait_for_function("t => document.querySelector('#gan-tab-mix-button').innerText.trim() === t",
                               arg=ZH_TAB_TEXT)
    page.wait_for_selector("#gan-grid img")
    return page


def shoot(browser, url: str, out: Path, lang: str) -> list[Path]:
    page = _open_gan(browser, url, lang)
    prefix = "zh-" if lang == "zh" else ""
    written = []
    for tab, selectors in SUBTABS.items():
        page.click(f"#gan-tab-{tab}-button")
        page.wait_for_selector(f"#gan-tab-{tab}", state="visible")
        if tab == "layers":  # measured when the sub-tab opens (seconds): a chart, or a message saying why not
            page.wait_for_function("""() => { const im = document.querySelector('#gan-effects-chart img');
                const msg = (document.querySelector('#gan-effects-message') || {}).innerText || '';
                return (im && im.complete && im.naturalWidth > 0) || msg.includes('⚠'); }""", timeout=300_000)
            selectors = ["#gan-effects-message"]
        _settle(page, selectors, timeout_ms=120_000, pause_s=0.6)
        path = out / f"{prefix}gan-{tab}.png"
        page.screenshot(path=str(path), full_page=True)
        written.append(path)
    page.close()
    return written


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=str(ROOT / "docs"))
    parser.add_argument("--assets-dir", default=None)
    args = parser.parse_args(argv)
    from playwright.sync_api import sync_playwright

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    extra = ["--lang", "en"] + (["--assets-dir", args.assets_dir] if args.assets_dir else [])
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
