"""The latent diffusion tab in headless Chromium, on the shipped model: a never-seen word is flagged as it is
typed, Generate streams the pipeline diagram to its end, the word maps show. Saves docs/ldm-tab.png
(overwritten on each run) for a person to look at.

Debian's /usr/bin/chromium through Playwright (never `playwright install`).
"""

from __future__ import annotations

import pytest

from tests.launch import CHROMIUM, CHROMIUM_ARGS, ROOT, VIEWPORT, chromium_or_skip, launched_app

pytestmark = pytest.mark.browser

WATCH = """() => {
    window.ldmSrcs = new Set();
    const grab = () => {
        const im = document.querySelector('#ldm-pipeline img');
        if (im && im.src) window.ldmSrcs.add(im.src);
    };
    new MutationObserver(grab).observe(document.body, {subtree: true, childList: true, attributes: true,
                                                      attributeFilter: ['src']});
}"""


@pytest.fixture(scope="module")
def page():
    if not (ROOT / "assets" / "scenes-ldm" / "model.safetensors").is_file():
        pytest.skip("no shipped latent diffusion model")
    sync_api = chromium_or_skip()
    with launched_app("--lang", "en", env={"OMP_NUM_THREADS": "1"}) as (url, _, _), sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            pg = browser.new_context(viewport={**VIEWPORT, "height": 1500}, locale="en-US").new_page()
            pg.set_default_timeout(60_000)
            pg.goto(url)
            pg.click("#ldm-tab-button")
            pg.wait_for_selector("#ldm-prompt textarea", state="visible")
            yield pg
        finally:
            browser.close()


def test_never_seen_words_then_generate_and_watch_the_pipeline(page):
    box = page.locator("#ldm-prompt textarea")
    box.fill("a cat sitting on a sofa")
    page.wait_for_function("() => document.querySelector('#ldm-note').innerText.includes('never seen: cat')")
    assert "sofa" in page.inner_text("#ldm-note")
    box.fill("a red circle in the top left corner")
    page.wait_for_function("() => document.querySelector('#ldm-note').innerText.includes('every word')")
    page.evaluate(WATCH)
    steps = page.locator("#ldm-steps input[type=number]")
    steps.fill("30")
    steps.press("Enter")
    page.click("#ldm-run")
    page.wait_for_function("() => document.querySelector('#ldm-status').innerText.includes('Done')",
                           timeout=240_000)
    assert "30 DDIM steps" in page.inner_text("#ldm-status")
    assert page.evaluate("() => window.ldmSrcs.size") >= 2   # the diagram changed while the run streamed
    page.wait_for_selector("#ldm-attention img")
    page.wait_for_selector("#ldm-images img")
    assert page.locator(".toast-body.error").count() == 0
    (ROOT / "docs").mkdir(exist_ok=True)
    page.locator("#ldm-tab").screenshot(path=str(ROOT / "docs" / "ldm-tab.png"))
