"""Screenshots of the 2-D playground, in English and Chinese, each after a few seconds of real play.

    python scripts/screenshots_playground.py [--out docs] [--only en|zh]

Launches `python app.py` (offline) on a free port and drives Debian's /usr/bin/chromium through
Playwright, as scripts/screenshots.py does. Writes, at a 1400x1100 viewport:
    playground-gan.png         GAN, non-saturating loss, 8 Gaussians
    playground-wgan.png        GAN, Wasserstein + gradient penalty, 8 Gaussians
    playground-diffusion.png   diffusion on two moons (sample paths, score field)
    playground-vae.png         VAE on the ring (latent space beside data space)
    playground-drawn.png       a GAN on points drawn on the canvas
    playground-diverged.png    a learning rate of 300: the divergence message, the last good weights kept
    playground-explain.png     the explanation
and each again in Chinese as zh-playground-*.png.
"""

from __future__ import annotations

import argparse
import math
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from scripts.screenshots import CHROMIUM, CHROMIUM_ARGS, VIEWPORT
from tests.launch import launched_app

FRAME = "#playground-frame img"
ZH_PLAY = "▶ 播放"


def _src(page) -> str:
    return page.evaluate("s => (document.querySelector(s) || {}).src || ''", FRAME)


def open_playground(browser, url: str, lang: str):
    page = browser.new_page(viewport=VIEWPORT)
    page.set_default_timeout(180_000)
    page.goto(url)
    page.wait_for_selector("#lang-switch")
    if lang == "zh":
        page.locator("#lang-switch label", has_text="中文").click()
    page.click("#playground-tab-button")
    page.wait_for_selector(FRAME)
    if lang == "zh":
        page.wait_for_function("t => document.querySelector('#playground-play').innerText.trim() === t", arg=ZH_PLAY)
    return page


def choose(page, elem: str, value: str) -> None:
    """Pick a radio's choice by its value, and wait for the frame that follows."""
    before = _src(page)
    page.locator(f"#{elem} input[value='{value}']").check()
    page.wait_for_function("([s, old]) => { const el = document.querySelector(s); return el && el.src !== old; }",
                           arg=[FRAME, before])


def pick(page, elem: str, label: str) -> None:
    """Pick a dropdown's choice by its (shown) label."""
    page.click(f"#{elem} input")
    page.locator("ul[role=listbox] li", has_text=label).first.click()


def press(page, elem: str) -> None:
    """Click a button from inside the page: on a busy CPU the page redraws slowly while playing, and
    Playwright's wait for a still element would time out."""
    page.evaluate("s => document.querySelector(s).click()", f"#{elem}")


def play_for(page, seconds: float) -> None:
    press(page, "playground-play")
    page.wait_for_function("t => document.querySelector('#playground-status').innerText.includes(t)", arg="▶")
    time.sleep(seconds)
    press(page, "playground-pause")
    page.wait_for_function("() => !document.querySelector('#playground-status').innerText.includes('▶')")
    time.sleep(0.5)


def snap(page, out: Path, name: str, lang: str) -> Path:
    path = out / (("zh-" if lang == "zh" else "") + f"playground-{name}.png")
    page.evaluate("window.scrollTo(0, 0)")
    page.screenshot(path=str(path), full_page=True)
    return path


def draw_strokes(page) -> None:
    """Two strokes on the canvas: a wave and a short bar."""
    canvas = page.locator("#playground-sketch canvas").first
    canvas.scroll_into_view_if_needed()
    box = canvas.bounding_box()
    x0, y0, w, h = box["x"], box["y"], box["width"], box["height"]
    page.mouse.move(x0 + 0.15 * w, y0 + 0.5 * h)
    page.mouse.down()
    for i in range(1, 41):
        u = i / 40
        page.mouse.move(x0 + (0.15 + 0.7 * u) * w, y0 + (0.5 - 0.2 * math.sin(u * 2 * math.pi)) * h)
    page.mouse.up()
    page.mouse.move(x0 + 0.3 * w, y0 + 0.82 * h)
    page.mouse.down()
    for i in range(1, 21):
        page.mouse.move(x0 + (0.3 + 0.4 * i / 20) * w, y0 + 0.82 * h)
    page.mouse.up()


def shoot(browser, url: str, out: Path, lang: str) -> list[Path]:
    zh = lang == "zh"
    page = open_playground(browser, url, lang)
    written = []
    # GAN, non-saturating, 8 Gaussians (the default)
    play_for(page, 12)
    written.append(snap(page, out, "gan", lang))
    # The cure: Wasserstein + gradient penalty, from the same start
    choose(page, "playground-loss", "wgan-gp")
    press(page, "playground-reset")
    time.sleep(1.0)
    play_for(page, 12)
    written.append(snap(page, out, "wgan", lang))
    # Diffusion on two moons
    choose(page, "playground-model", "diffusion")
    pick(page, "playground-data", "双月牙" if zh else "Two moons")
    time.sleep(1.5)
    play_for(page, 12)
    written.append(snap(page, out, "diffusion", lang))
    # VAE on the ring
    choose(page, "playground-model", "vae")
    pick(page, "playground-data", "圆环" if zh else "Ring")
    time.sleep(1.5)
    play_for(page, 10)
    written.append(snap(page, out, "vae", lang))
    # Drawn points, GAN (Wasserstein)
    choose(page, "playground-model", "gan")
    pick(page, "playground-data", "自己画" if zh else "Draw your own")
    page.wait_for_selector("#playground-sketch canvas", state="visible")
    time.sleep(0.5)
    draw_strokes(page)
    before = _src(page)
    press(page, "playground-use-drawing")
    page.wait_for_function("([s, old]) => document.querySelector(s).src !== old", arg=[FRAME, before])
    play_for(page, 10)
    written.append(snap(page, out, "drawn", lang))
    # A learning rate far too large: the run pauses with the last good weights
    choose(page, "playground-model", "vae")
    pick(page, "playground-data", "8 个高斯分布" if zh else "8 Gaussians")
    time.sleep(1.0)
    lr = page.locator("#playground-lr input")
    lr.fill("300")
    lr.press("Enter")
    time.sleep(1.5)
    press(page, "playground-play")
    page.wait_for_function("() => document.querySelector('#playground-status').innerText.includes('⚠')")
    time.sleep(0.8)
    written.append(snap(page, out, "diverged", lang))
    # The explanation
    page.click("#playground-explain-box button, #playground-explain-box .label-wrap")
    page.wait_for_selector("#playground-explain .katex")
    time.sleep(0.5)
    page.locator("#playground-explain").scroll_into_view_if_needed()
    path = out / (("zh-" if zh else "") + "playground-explain.png")
    page.screenshot(path=str(path), full_page=False)
    written.append(path)
    page.close()
    return written


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=str(ROOT / "docs"))
    parser.add_argument("--only", choices=("en", "zh"), default=None)
    args = parser.parse_args(argv)
    from playwright.sync_api import sync_playwright

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    langs = (args.only,) if args.only else ("en", "zh")
    with launched_app("--lang", "en", env={"OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS", "1")}) as (url, _, _), \
            sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            for lang in langs:
                for path in shoot(browser, url, out, lang):
                    print(path, flush=True)
        finally:
            browser.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
