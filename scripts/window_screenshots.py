"""Screenshots of a few views on a phone (390 x 844) and a projector (1280 x 720), for the README.

    python scripts/window_screenshots.py [--out docs]

Launches the app (English), opens each view by its tab labels (tests/browse_tabs.py), and writes
docs/phone-<view>.png and docs/projector-<view>.png. The diffusion views run a short DDIM sample
first, so the scrubber, its pictures and Play are shown.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from tests import browse_tabs  # noqa: E402
from tests.launch import CHROMIUM, CHROMIUM_ARGS, launched_app  # noqa: E402

SIZES = {"phone": (390, 844), "projector": (1280, 720)}
# view -> (tab label, sub-tab label, element scrolled to the top, setup or a picture to wait for)
VIEWS = {
    "vae-map": ("VAE", "2-D latent map", "#vae-map-grid", "#vae-map-scatter img"),
    "diffusion-reverse": ("Diffusion", "Reverse process", "#diffusion-status", "generate"),
    "gan-mixing": ("StyleGAN", "Style mixing", "#gan-grid", "#gan-grid img"),
    "gan-latent": ("StyleGAN", "Save / load w", "#gan-latent-image", "#gan-latent-image img"),
}
SHOTS = {"phone": ["vae-map", "diffusion-reverse", "gan-latent"],
         "projector": ["vae-map", "diffusion-reverse", "gan-mixing"]}


def generate(page) -> None:
    page.fill("#diffusion-steps input[type=number]", "20")
    page.keyboard.press("Enter")
    page.click("#diffusion-generate")
    page.wait_for_selector("#diffusion-after-run", state="visible", timeout=180_000)
    page.wait_for_function("() => !document.querySelector('#diffusion-scrub input[type=range]').disabled")
    rng = page.locator("#diffusion-scrub input[type=range]")
    rng.focus()
    for _ in range(8):  # a step in the middle of the run: noise and digits both visible
        page.keyboard.press("ArrowLeft")
        time.sleep(0.15)
    time.sleep(2)


def shoot(browser, url: str, size: str, out: Path) -> list[Path]:
    width, height = SIZES[size]
    page = browser.new_context(viewport={"width": width, "height": height}, locale="en-US").new_page()
    page.set_default_timeout(120_000)
    page.goto(url)
    page.wait_for_selector("#genlab-tabs")
    written = []
    for view in SHOTS[size]:
        tab, sub, anchor, setup = VIEWS[view]
        browse_tabs.click_tab(page, "genlab-tabs", tab)
        browse_tabs.click_tab(page, browse_tabs.sub_bars(page, "genlab-tabs")[0], sub)
        if setup == "generate":
            generate(page)
        else:
            page.wait_for_selector(setup, state="attached")
            time.sleep(2)
        page.locator(anchor).first.scroll_into_view_if_needed()
        page.evaluate("a => { const el = document.querySelector(a); "
                      "window.scrollTo(0, el.getBoundingClientRect().top + window.scrollY - 70); }", anchor)
        time.sleep(1)
        path = out / f"{size}-{view}.png"
        page.screenshot(path=str(path))
        written.append(path)
    page.context.close()
    return written


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=str(ROOT / "docs"))
    args = parser.parse_args(argv)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    from playwright.sync_api import sync_playwright

    with launched_app("--lang", "en") as (url, _, _), sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        for size in SIZES:
            for path in shoot(browser, url, size, out):
                print(path)
        browser.close()


if __name__ == "__main__":
    main()
