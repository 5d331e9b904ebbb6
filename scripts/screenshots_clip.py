"""Full-page screenshots of every part of the CLIP tab, in English and Chinese.

    python scripts/screenshots_clip.py [--out docs] [--assets-dir FOLDER]

Launches `python app.py` (offline) on a free port and drives Debian's /usr/bin/chromium through
Playwright, as scripts/screenshots.py does. Writes, at a 1400x1100 viewport:
    clip-generate.png   an example prompt clicked and run on raw pixels (frames, score plot, gallery)
    clip-generator.png  "the digit 7" steered through an MNIST VAE's latent z
    clip-diffusion.png  "the digit 2": CLIP guidance inside the MNIST DDPM's sampler
    clip-shapes.png     "a blue square in the top left corner": the unconditional shapes DDPM steered
    clip-sees.png       What CLIP sees: the last run's best image (the shapes one) against shape captions
    clip-offline.png    the pretrained ViT-B-32 chosen offline: its message
    clip-explain.png    the explanation
and the same in Chinese as zh-clip-*.png (Chinese prompts and captions).
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

from scripts.screenshots import CHROMIUM, CHROMIUM_ARGS, _open, _set_number, _settle
from tests.launch import launched_app

DONE = {"en": "Done", "zh": "完成"}
PICKS = {"en": "picks", "zh": "选择了"}
ZH_TAB_TEXT = "文本生成图像"


def _run(page, lang: str, steps: int) -> None:
    _set_number(page, "#clip-steps", steps)
    prompt = page.input_value("#clip-prompt textarea")
    page.click("#clip-generate")
    # this run's end: its status names the prompt (an earlier run's "Done" may still be showing)
    page.wait_for_function("""([done, prompt, steps]) => { const s = document.querySelector('#clip-status').innerText;
        return s.includes(done) && s.includes(prompt) && s.includes(String(steps)); }""",
                           arg=[DONE[lang], prompt, steps], timeout=300_000)
    page.wait_for_function("() => document.querySelectorAll('#clip-gallery img').length >= 3")
    _settle(page, ["#clip-image img", "#clip-best img", "#clip-plot canvas, #clip-plot svg"], timeout_ms=120_000,
            pause_s=0.6)


def _example(page, index: int) -> None:
    page.locator("#clip-examples button").nth(index).click()
    time.sleep(0.8)  # the prompt and the generator follow (and the captions with the generator)


def shoot(browser, url: str, out: Path, lang: str) -> list[Path]:
    page = _open(browser, url, lang)
    page.click("#clip-tab-button")
    page.wait_for_selector("#clip-tab-generate", state="visible")
    if lang == "zh":
        page.wait_for_function("t => document.querySelector('#clip-tab-generate-button').innerText.trim() === t",
                               arg=ZH_TAB_TEXT)
    prefix = "zh-" if lang == "zh" else ""
    written = []

    def snap(name: str) -> None:
        path = out / f"{prefix}clip-{name}.png"
        page.screenshot(path=str(path), full_page=True)
        written.append(path)

    # 1. an example on raw pixels
    _example(page, 1)
    _run(page, lang, 150)
    snap("generate")
    # 2. a digit through the MNIST VAE
    _example(page, 2)
    _run(page, lang, 100)
    snap("generator")
    # 3. CLIP-guided sampling of the class-conditional MNIST DDPM (no class given: CLIP alone steers)
    _example(page, 6)
    _run(page, lang, 50)
    snap("diffusion")
    # 3b. a shape prompt through the unconditional shapes DDPM (8 samples to choose from, its default)
    _example(page, 5)
    _run(page, lang, 50)
    snap("shapes")
    # 4. what CLIP sees in the last run's best image
    page.click("#clip-tab-sees-button")
    page.wait_for_function("t => document.querySelector('#clip-sees-text').innerText.includes(t)", arg=PICKS[lang],
                           timeout=120_000)
    _settle(page, ["#clip-sees-image img", "#clip-sees-bars img"], timeout_ms=120_000, pause_s=0.6)
    snap("sees")
    # 5. the pretrained CLIP offline: its message, at once
    page.click("#clip-tab-generate-button")
    page.locator("#clip-backend input[value=pretrained]").check()
    page.click("#clip-generate")
    page.wait_for_selector(".toast-body.error", timeout=30_000)
    page.evaluate("window.scrollTo(0, 0)")  # the backend choice and the message (a toast, top right) together
    time.sleep(0.5)
    page.screenshot(path=str(out / f"{prefix}clip-offline.png"), full_page=False)
    written.append(out / f"{prefix}clip-offline.png")
    page.locator("#clip-backend input[value=genlab]").check()
    for close in page.locator(".toast-close").all():
        close.click()
    # 6. the explanation
    page.click("#clip-tab-explain-button")
    page.wait_for_selector("#clip-explain .katex")
    time.sleep(0.6)
    snap("explain")
    page.close()
    return written


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=str(ROOT / "docs"))
    parser.add_argument("--assets-dir", default=None)
    parser.add_argument("--lang", choices=("en", "zh", "both"), default="both")
    args = parser.parse_args(argv)
    from playwright.sync_api import sync_playwright

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    extra = ["--lang", "en"] + (["--assets-dir", args.assets_dir] if args.assets_dir else [])
    langs = ("en", "zh") if args.lang == "both" else (args.lang,)
    with launched_app(*extra, env={"OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS", "1")}) as (url, _, _), \
            sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            for lang in langs:
                for path in shoot(browser, url, out, lang):
                    print(path)
        finally:
            browser.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
