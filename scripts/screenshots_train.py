"""Screenshots of the training tab, in English and Chinese.

    python scripts/screenshots_train.py [--out docs] [--data-dir ../shared/data] [--steps 300]

Launches `python app.py` (offline, one run at a time so the queue shows) on a free port and drives
Debian's /usr/bin/chromium through Playwright, as scripts/screenshots.py does. Writes, at a
1400x1100 viewport, for each language (Chinese ones prefixed zh-):
    train-running.png   a VAE learning MNIST (or shapes without --data-dir): curves, samples, speed
    train-queue.png     a second session pressing Start meanwhile: "1 run ahead of you"
    train-done.png      the finished run, kept with "Use this model"
    train-vae-tab.png   the VAE tab with that model selected, for this session only
    train-bad-lr.png    a learning rate of 50 refused with a clear message
    train-clip.png      the GenLab CLIP after a short run: images against their captions
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

from scripts.screenshots import CHROMIUM, CHROMIUM_ARGS, IMAGES_READY, VIEWPORT
from tests.browse_tabs import open_vae
from tests.launch import launched_app

STATUS = "() => document.querySelector('#train-status').innerText"
ZH_TAB = "训练工作室"


def _open(browser, url: str, lang: str):
    page = browser.new_page(viewport=VIEWPORT)
    page.set_default_timeout(60_000)
    page.goto(url)
    open_vae(page)
    if lang == "zh":
        page.locator("#lang-switch label", has_text="中文").click()
        page.wait_for_function("t => document.querySelector('#train-tab-button').innerText.trim() === t", arg=ZH_TAB)
    page.click("#train-tab-button")
    page.wait_for_selector("#train-start", state="visible")
    if lang == "zh":  # the language chain ends with this tab's texts (after every other tab's)
        page.wait_for_function("() => document.querySelector('#train-device').innerText.includes('运行在')",
                               timeout=180_000)
    time.sleep(0.5)
    return page


def _set(page, elem_id: str, value) -> None:
    box = page.locator(f"#{elem_id} :is(input, textarea)").first
    box.fill(str(value))
    box.press("Tab")


def _wait_status(page, *words: str, timeout_ms: int = 300_000) -> None:
    page.wait_for_function(f"(ws) => ws.some(w => ({STATUS})().includes(w))", arg=list(words), timeout=timeout_ms)


def _step(page) -> int:
    import re

    found = re.search(r"([\d,]+)\s*/\s*[\d,]+", page.inner_text("#train-stats"))
    return int(found.group(1).replace(",", "")) if found else 0


def shoot(browser, url: str, out: Path, lang: str, steps: int) -> list[Path]:
    prefix = "zh-" if lang == "zh" else ""
    written = []

    def snap(page, name: str) -> None:
        page.wait_for_function(IMAGES_READY, arg=[])
        time.sleep(0.6)
        path = out / f"{prefix}train-{name}.png"
        page.screenshot(path=str(path), full_page=True)
        written.append(path)

    a = _open(browser, url, lang)
    b = _open(browser, url, lang)  # a second session, ready before the first starts
    _set(a, "train-steps", steps)
    a.click("#train-start")
    _wait_status(a, "Training", "正在训练")

    # The second session meanwhile: the host allows one run, so it waits and says how many are ahead.
    b.click("#train-start")
    _wait_status(b, "ahead of you", "前面还有", timeout_ms=30_000)
    snap(b, "queue")
    b.click("#train-stop")
    b.close()

    end = time.time() + 600
    while _step(a) < steps // 3 and time.time() < end:
        time.sleep(0.5)
    a.wait_for_selector("#train-preview img")
    snap(a, "running")

    _wait_status(a, "finished", "已完成", timeout_ms=600_000)
    _set(a, "train-name", "my-mnist-vae")
    a.click("#train-use")
    a.wait_for_function("() => document.querySelector('#train-use-note').innerText.includes('my-mnist-vae')")
    time.sleep(1.5)  # the next tick redraws the final sample grid
    snap(a, "done")

    a.click("#vae-tab-button")
    a.click("#vae-model input")
    a.locator("ul[role=listbox] li", has_text="my-mnist-vae").click()
    time.sleep(4.0)  # the model-change chain redraws the tab's pictures
    a.evaluate("window.scrollTo(0, 0)")
    snap(a, "vae-tab")

    a.click("#train-tab-button")
    _set(a, "train-lr", 50)
    a.click("#train-start")
    a.wait_for_selector(".toast-body", timeout=30_000)
    time.sleep(0.5)
    a.evaluate("window.scrollTo(0, 0)")
    path = out / f"{prefix}train-bad-lr.png"
    a.screenshot(path=str(path))
    written.append(path)
    a.close()
    return written


def shoot_clip(browser, url: str, out: Path, lang: str, steps: int) -> list[Path]:
    """The GenLab CLIP learning MNIST captions: the image-caption map's diagonal lights up."""
    prefix = "zh-" if lang == "zh" else ""
    page = _open(browser, url, lang)
    page.locator("#train-family label", has_text="CLIP").click()
    page.wait_for_function("() => document.querySelector('#train-lr input').value === '0.002'")
    _set(page, "train-steps", steps)
    page.click("#train-start")
    _wait_status(page, "finished", "已完成", timeout_ms=900_000)
    time.sleep(1.5)
    page.wait_for_function(IMAGES_READY, arg=["#train-preview img"])
    path = out / f"{prefix}train-clip.png"
    page.screenshot(path=str(path), full_page=True)
    page.close()
    return [path]


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=str(ROOT / "docs"))
    parser.add_argument("--data-dir", default=os.environ.get("GENLAB_DATA_DIR") or str(ROOT.parent / "shared" / "data"))
    parser.add_argument("--steps", type=int, default=900)
    parser.add_argument("--lang", choices=("en", "zh", "both"), default="both")
    parser.add_argument("--scenes", choices=("all", "vae", "clip"), default="all",
                        help="vae: the run, queue, done, VAE tab and bad-input pictures; clip: train-clip.png")
    parser.add_argument("--clip-steps", type=int, default=300)
    args = parser.parse_args(argv)
    from playwright.sync_api import sync_playwright

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    extra = ["--lang", "en"] + (["--data-dir", args.data_dir] if args.data_dir and Path(args.data_dir).is_dir() else [])
    env = {"OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS", "1"), "GENLAB_MAX_JOBS": "1"}
    with launched_app(*extra, env=env) as (url, _, _), sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            for lang in (("en", "zh") if args.lang == "both" else (args.lang,)):
                if args.scenes in ("all", "vae"):
                    for path in shoot(browser, url, out, lang, args.steps):
                        print(path)
                if args.scenes in ("all", "clip"):
                    for path in shoot_clip(browser, url, out, lang, args.clip_steps):
                        print(path)
        finally:
            browser.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
