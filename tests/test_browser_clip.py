"""The CLIP tab in headless Chromium: type a prompt, press Generate, watch frames stream, then Stop.

Debian's /usr/bin/chromium through Playwright (never `playwright install`). Saves
docs/clip-browser.png (overwritten on each run) for a person to look at.
"""

from __future__ import annotations

import pytest

from tests.launch import (
    CHROMIUM,
    CHROMIUM_ARGS,
    ROOT,
    VIEWPORT,
    chromium_or_skip,
    launched_app,
)

pytestmark = pytest.mark.browser


# Collects every distinct src the streamed image gets, and how often the score plot is redrawn.
WATCH = """() => {
    window.clipSrcs = {image: new Set(), plot: 0};
    const grab = (records) => {
        const im = document.querySelector('#clip-image img');
        if (im && im.src) window.clipSrcs.image.add(im.src);
        if (records.some(r => r.target.closest && r.target.closest('#clip-plot'))) window.clipSrcs.plot += 1;
    };
    new MutationObserver(grab).observe(document.body, {subtree: true, childList: true, attributes: true,
                                                      attributeFilter: ['src']});
}"""


@pytest.fixture(scope="module")
def page():
    sync_api = chromium_or_skip()
    with launched_app("--lang", "en", env={"OMP_NUM_THREADS": "1"}) as (url, _, _), sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            pg = browser.new_context(viewport=VIEWPORT, locale="en-US").new_page()
            pg.set_default_timeout(30_000)
            pg.js_errors = []
            pg.on("pageerror", lambda exc: pg.js_errors.append(str(exc)))
            pg.goto(url)
            pg.click("#clip-tab-button")
            pg.wait_for_selector("#clip-prompt textarea", state="visible")
            yield pg
        finally:
            browser.close()


def _no_error_toast(page) -> None:
    errors = page.locator(".toast-body.error")
    assert errors.count() == 0, errors.first.inner_text()


def _set_number(page, elem_id: str, value) -> None:
    box = page.locator(f"#{elem_id} input[type=number]")
    box.fill(str(value))
    box.press("Enter")


def test_type_a_prompt_and_watch_frames_stream(page):
    page.evaluate(WATCH)
    page.locator("#clip-prompt textarea").fill("a yellow star")
    _set_number(page, "clip-steps", 80)
    page.click("#clip-generate")
    page.wait_for_function("() => document.querySelector('#clip-status').innerText.includes('Done')",
                           timeout=240_000)
    counts = page.evaluate("() => [window.clipSrcs.image.size, window.clipSrcs.plot]")
    assert counts[0] >= 3 and counts[1] >= 3, counts  # several frames arrived before the last one
    assert "80 steps" in page.inner_text("#clip-status")
    page.wait_for_function("() => document.querySelectorAll('#clip-gallery img').length >= 3")
    # The run's best image goes straight to "What CLIP sees".
    page.click("#clip-tab-sees-button")
    page.wait_for_function("() => document.querySelector('#clip-sees-text').innerText.includes('picks')",
                           timeout=60_000)
    page.wait_for_selector("#clip-sees-bars img")
    _no_error_toast(page)
    page.click("#clip-tab-generate-button")
    page.screenshot(path=str(ROOT / "docs" / "clip-browser.png"), full_page=True)
    assert page.js_errors == []


def test_stop_mid_run_keeps_the_best_image(page):
    _set_number(page, "clip-steps", 1000)
    page.click("#clip-generate")
    page.wait_for_function("() => document.querySelector('#clip-status').innerText.startsWith('Step')",
                           timeout=120_000)
    page.click("#clip-stop")
    page.wait_for_function("() => document.querySelector('#clip-status').innerText.includes('Stopped')",
                           timeout=90_000)  # within a step; generous for a machine shared with other work
    assert page.query_selector("#clip-best img") is not None
    _no_error_toast(page)


def test_empty_prompt_shows_a_message_in_chinese(page):
    page.locator("#lang-switch label", has_text="中文").click()
    page.wait_for_function("() => document.querySelector('#clip-tab-generate-button').innerText.trim() === '文本生成图像'")
    page.locator("#clip-prompt textarea").fill("")
    page.click("#clip-generate")
    page.wait_for_selector(".toast-body.error", timeout=60_000)
    assert "提示词" in page.inner_text(".toast-body.error") or "文本" in page.inner_text(".toast-body.error")
