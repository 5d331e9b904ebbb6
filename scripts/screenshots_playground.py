"""Screenshots of the 2-D playground, in English and Chinese, each after a few seconds of real play.

    python scripts/screenshots_playground.py [--out docs] [--only en|zh]

Launches `python app.py` (offline, GENLAB_PLAYGROUND_PLAYERS=1, GENLAB_PLAYGROUND_WAITING=3) on a free port and drives Debian's /usr/bin/chromium through
Playwright, as scripts/screenshots.py does. Writes, at a 1400x1100 viewport:
    playground-gan.png         GAN, non-saturating loss, 8 Gaussians
    playground-wgan.png        GAN, Wasserstein + gradient penalty, 8 Gaussians
    playground-diffusion.png   diffusion on two moons (sample paths, score field)
    playground-vae.png         VAE on the ring (latent space beside data space)
    playground-drawn.png       a GAN learning points drawn by clicking and dragging on the plot (one click
                               added while it plays)
    playground-busy.png        Play while the server's cap is taken (the app runs with 1 player and 3
                               waiting; two other sessions, through gradio_client, play and wait):
                               "busy, 1 ahead of you"
    playground-diverged.png    a learning rate of 300: the divergence message, the last good weights kept
    playground-explain.png     the explanation
and each again in Chinese as zh-playground-*.png.
"""

from __future__ import annotations

import argparse
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
    page.set_default_timeout(600_000)   # survives a paused process on a shared machine
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


def on_frame(page, x: float, y: float) -> tuple[float, float]:
    """The page position of data point (x, y) on the frame's left panel."""
    from demo import playground_plots as plots

    (px, py), = plots.to_px([[x, y]])
    x, y, w, h = page.evaluate("s => { const r = document.querySelector(s).getBoundingClientRect(); "
                               "return [r.x, r.y, r.width, r.height]; }", FRAME)
    return x + float(px) * w / plots.WIDTH, y + (float(py) + plots.TITLE) * h / plots.HEIGHT


def wait_status(page, text: str) -> None:
    page.wait_for_function("t => document.querySelector('#playground-status').innerText.includes(t)", arg=text)


def draw_face(page) -> None:
    """Clicks for two eyes and a nose, a drag for the mouth: four modes a GAN has to find."""
    page.evaluate("s => document.querySelector(s).scrollIntoView({block: 'center'})", FRAME)
    for k, (x, y) in enumerate([(-0.9, 1.0), (0.9, 1.0), (0.0, 0.1)]):
        page.mouse.click(*on_frame(page, x, y))
        wait_status(page, f"{16 * (k + 1)}")
    page.mouse.move(*on_frame(page, -1.4, -0.7))
    page.mouse.down()
    for i in range(1, 31):
        u = -1.4 + 2.8 * i / 30
        page.mouse.move(*on_frame(page, u, -1.3 + 0.3 * u * u))
    page.mouse.up()
    time.sleep(1.0)


def occupy(url: str):
    """Two other sessions through gradio_client: one plays (taking the only place), one waits. -> their jobs."""
    from gradio_client import Client

    controls = ["gan", "gaussians8", "ns", "0.003", 1, 1.0, 1.0, 256, 0, 0]
    view = ["js", ["heat", "real", "fake", "arrows"], 12, 5]
    clients, jobs = [], []
    for _ in range(2):
        client = Client(url, verbose=False)
        client.predict(*controls, *view, api_name="/playground_setup")
        jobs.append(client.submit(*controls, *view, api_name="/playground_play"))
        clients.append(client)
        time.sleep(1.5)
    return clients, jobs


def release(clients, jobs) -> None:
    for client, job in zip(clients, jobs):
        client.predict(api_name="/playground_pause")
        job.result(timeout=60)


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
    play_for(page, 25)   # diffusion needs ~1,000 steps for clean moons
    written.append(snap(page, out, "diffusion", lang))
    # VAE on the ring
    choose(page, "playground-model", "vae")
    pick(page, "playground-data", "圆环" if zh else "Ring")
    time.sleep(1.5)
    play_for(page, 10)
    written.append(snap(page, out, "vae", lang))
    # Points drawn on the plot, GAN (non-saturating): three clicks and a stroke, then one more click while it plays
    choose(page, "playground-model", "gan")
    choose(page, "playground-loss", "ns")
    pick(page, "playground-data", "自己画" if zh else "Draw your own")
    page.wait_for_selector("#playground-undo", state="visible")
    time.sleep(1.0)
    draw_face(page)
    press(page, "playground-play")
    wait_status(page, "▶")
    time.sleep(8)
    page.mouse.click(*on_frame(page, 1.7, 1.9))
    time.sleep(6)
    press(page, "playground-pause")
    page.wait_for_function("() => !document.querySelector('#playground-status').innerText.includes('▶')")
    time.sleep(0.5)
    written.append(snap(page, out, "drawn", lang))
    # Busy: the one place is taken and one session waits, so this one is second in the queue
    clients, jobs = occupy(url)
    try:
        press(page, "playground-play")
        wait_status(page, "正忙" if zh else "Busy")
        time.sleep(1.0)
        written.append(snap(page, out, "busy", lang))
    finally:
        press(page, "playground-pause")
        release(clients, jobs)
    time.sleep(1.0)
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
    # The explanation (the divergence warning closed first, so it covers nothing)
    page.evaluate("() => document.querySelectorAll('.toast-close').forEach(b => b.click())")
    time.sleep(0.8)
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
    env = {"OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS", "1"), "GENLAB_PLAYGROUND_PLAYERS": "1",
           "GENLAB_PLAYGROUND_WAITING": "3"}
    with launched_app("--lang", "en", env=env, timeout=300) as (url, _, _), \
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
