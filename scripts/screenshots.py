"""Full-page screenshots of every VAE and diffusion sub-tab, in English and Chinese, plus a refused upload.

    python scripts/screenshots.py [--out docs] [--assets-dir FOLDER] [--only vae|diffusion]

Launches `python app.py` (offline) on a free port and drives Debian's /usr/bin/chromium through
Playwright (no `playwright install`). Writes, at a 1400x1100 viewport:
    vae-interp.png vae-sliders.png vae-map.png vae-recon.png vae-explain.png
    zh-vae-interp.png ... zh-vae-explain.png
    vae-bad-upload.png, zh-vae-bad-upload.png  (a .pt checkpoint refused, message shown)
    diffusion-forward.png diffusion-reverse.png diffusion-branch.png diffusion-fork.png diffusion-explain.png
    diffusion-bad-upload.png (a VAE checkpoint refused), and each of these in Chinese: diffusion-*-zh.png
The diffusion pictures need a diffusion checkpoint (assets/mnist-ddpm, or --assets-dir); without one they are skipped.
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

from tests.browse_tabs import open_vae  # noqa: E402
from tests.launch import CHROMIUM, CHROMIUM_ARGS, VIEWPORT, launched_app  # noqa: E402

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
    open_vae(page)  # the VAE tab (the Overview is the first) and its first-load chain
    if lang == "zh":
        page.locator("#lang-switch label", has_text="中文").click()
        page.wait_for_function("t => document.querySelector('#vae-tab-interp-button').innerText.trim() === t",
                               arg=ZH_TAB_TEXT)
        time.sleep(0.5)  # the language chain re-renders the model card and the metrics
    return page


def _settle(page, selectors: list[str], *, timeout_ms: int = 30_000, pause_s: float = 0.4) -> None:
    page.wait_for_function(IMAGES_READY, arg=selectors, timeout=timeout_ms)
    time.sleep(pause_s)  # layout settles (Gradio keeps a connection open, so there is no network idle)


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


# --- diffusion ------------------------------------------------------------------------------------

DIFFUSION_ZH_TAB = "前向（加噪）过程"


def _open_diffusion(browser, url: str, lang: str):
    page = _open(browser, url, lang)
    page.click("#diffusion-tab-button")
    page.wait_for_selector("#diffusion-tab-forward", state="visible")
    if lang == "zh":
        page.wait_for_function("t => document.querySelector('#diffusion-tab-forward-button').innerText.trim() === t",
                               arg=DIFFUSION_ZH_TAB)
    return page


def _set_number(page, selector: str, value) -> None:
    box = page.locator(f"{selector} input[type=number]").first
    box.fill(str(value))
    box.press("Enter")


def _done(page, selector: str, timeout_ms: int = 300_000) -> None:
    """Wait until a streaming event has ended: its status no longer says it is sampling."""
    page.wait_for_function("""(s) => { const el = document.querySelector(s); const t = el ? el.innerText : '';
        return t.length > 0 && !t.includes('Sampling:') && !t.includes('采样中'); }""", arg=selector,
                           timeout=timeout_ms)


def shoot_diffusion(browser, url: str, out: Path, lang: str) -> list[Path]:
    suffix = "-zh" if lang == "zh" else ""
    written = []
    page = _open_diffusion(browser, url, lang)
    # Forward process at t = 250 on the default example.
    page.wait_for_selector("#diffusion-fwd-schedules img")
    _set_number(page, "#diffusion-fwd-t", 250)
    time.sleep(0.6)
    _settle(page, ["#diffusion-fwd-x0 img", "#diffusion-fwd-xt img", "#diffusion-fwd-hist img",
                   "#diffusion-fwd-schedules img"])
    written.append(out / f"diffusion-forward{suffix}.png")
    page.screenshot(path=str(written[-1]), full_page=True)
    # Reverse process: the default run (DDIM-50, 16 images), then the scrubber halfway.
    page.click("#diffusion-tab-reverse-button")
    page.wait_for_selector("#diffusion-generate", state="visible")
    page.click("#diffusion-generate")
    page.wait_for_selector("#diffusion-after-run", state="visible", timeout=300_000)
    _done(page, "#diffusion-status")
    _set_number(page, "#diffusion-scrub", 30)
    page.wait_for_function("() => document.querySelector('#diffusion-scrub-caption').innerText.includes('30')")
    _settle(page, ["#diffusion-xt img", "#diffusion-eps img", "#diffusion-x0 img", "#diffusion-strip img"])
    written.append(out / f"diffusion-reverse{suffix}.png")
    page.screenshot(path=str(written[-1]), full_page=True)
    # Branch from step 20 (t ~ 610) towards class 7 with more guidance.
    _set_number(page, "#diffusion-scrub", 20)
    time.sleep(0.4)
    page.locator("#diffusion-branch-label input").click()
    page.get_by_role("option", name="7", exact=True).click()
    _set_number(page, "#diffusion-branch-guidance", 4)
    page.click("#diffusion-branch")
    page.wait_for_function("() => document.querySelector('#diffusion-branch-status').innerText.length > 0")
    _done(page, "#diffusion-branch-status")
    _settle(page, ["#diffusion-branch-start img", "#diffusion-branch-original img", "#diffusion-branch-result img"])
    page.locator("#diffusion-branch-box").scroll_into_view_if_needed()
    written.append(out / f"diffusion-branch{suffix}.png")
    page.screenshot(path=str(written[-1]), full_page=True)
    # Fork: guidance 0 against 3 from one seed.
    page.click("#diffusion-tab-fork-button")
    page.wait_for_selector("#diffusion-fork-run", state="visible")
    page.locator("#diffusion-fork-preset input").click()
    page.get_by_role("option", name=("引导系数 0 对比 3" if lang == "zh" else "Guidance 0 vs 3")).click()
    time.sleep(0.8)
    page.click("#diffusion-fork-run")
    page.wait_for_function("() => document.querySelector('#diffusion-fork-compare').innerText.length > 0",
                           timeout=300_000)
    _set_number(page, "#diffusion-fork-progress", 60)  # both runs 60% of their way: x_t still noisy, x_0 forming
    page.wait_for_function("() => document.querySelector('#diffusion-fork-a-caption').innerText.includes('30')")
    _settle(page, ["#diffusion-fork-a-x0 img", "#diffusion-fork-b-x0 img"])
    written.append(out / f"diffusion-fork{suffix}.png")
    page.screenshot(path=str(written[-1]), full_page=True)
    # How it works.
    page.click("#diffusion-tab-explain-button")
    _settle(page, ["#diffusion-explain .katex"])
    written.append(out / f"diffusion-explain{suffix}.png")
    page.screenshot(path=str(written[-1]), full_page=True)
    # A VAE checkpoint uploaded to the diffusion tab: refused, in the session's language.
    vae = next(iter(sorted((ROOT / "assets").glob("*vae*"))), None)
    if vae is not None:
        page.click("#diffusion-upload-box .label-wrap")
        page.wait_for_selector("#diffusion-upload input[type=file]", state="attached")
        page.set_input_files("#diffusion-upload input[type=file]",
                             [str(vae / name) for name in ("config.json", "model.safetensors", "card.json")])
        page.wait_for_function("() => document.querySelector('#diffusion-upload-status').innerText.includes('ddpm')")
        page.wait_for_selector(".toast-body", state="visible")
        page.evaluate("() => window.scrollTo(0, 0)")
        time.sleep(0.5)
        written.append(out / f"diffusion-bad-upload{suffix}.png")
        page.screenshot(path=str(written[-1]), full_page=False)
    page.close()
    return written


def _has_diffusion_model(assets_dir: str | None) -> bool:
    from engines import checkpoint

    root = Path(assets_dir) if assets_dir else checkpoint.ASSETS_DIR
    return bool(checkpoint.list_assets("ddpm", root=root))


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=str(ROOT / "docs"), help="folder for the PNGs (default: docs/)")
    parser.add_argument("--assets-dir", default=None, help="checkpoints to serve (default: assets/)")
    parser.add_argument("--only", choices=("vae", "diffusion"), default=None, help="one tab's pictures only")
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
    app_args = ("--assets-dir", args.assets_dir) if args.assets_dir else ()
    diffusion = args.only != "vae" and _has_diffusion_model(args.assets_dir)
    if args.only != "vae" and not diffusion:
        print("no diffusion checkpoint (assets/mnist-ddpm or --assets-dir): diffusion pictures skipped", file=sys.stderr)
    with launched_app(*app_args) as (url, _, startup_s), sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            for lang in ("en", "zh"):
                if args.only != "diffusion":
                    written += shoot_tabs(browser, url, out, lang)
                    written.append(shoot_bad_upload(browser, url, out, lang))
                if diffusion:
                    written += shoot_diffusion(browser, url, out, lang)
        finally:
            browser.close()
    for path in written:
        print(path)
    print(f"{len(written)} screenshots in {time.perf_counter() - t0:.1f} s (app served after {startup_s:.1f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
