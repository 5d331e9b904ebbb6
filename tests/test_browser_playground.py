"""The 2-D playground in headless Chromium: press Play, see the frame change while it trains,
press Pause, and see it stop (Debian's /usr/bin/chromium through Playwright)."""

from __future__ import annotations

import time

import pytest

from tests.launch import (
    CHROMIUM,
    CHROMIUM_ARGS,
    VIEWPORT,
    chromium_or_skip,
    launched_app,
)

pytestmark = pytest.mark.browser

FRAME = "#playground-frame img"
STATUS = "#playground-status"


@pytest.fixture(scope="module")
def page():
    sync_api = chromium_or_skip()
    with launched_app("--lang", "en") as (url, _, _), sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            pg = browser.new_page(viewport=VIEWPORT)
            pg.set_default_timeout(30_000)
            pg.js_errors = []
            pg.on("pageerror", lambda exc: pg.js_errors.append(str(exc)))
            pg.goto(url)
            pg.click("#playground-tab-button")
            pg.wait_for_selector(FRAME)
            yield pg
        finally:
            browser.close()


def _src(page) -> str:
    return page.evaluate("s => document.querySelector(s).src", FRAME)


def _status(page) -> str:
    return page.inner_text(STATUS)


def test_play_changes_the_frame_and_pause_stops_it(page):
    first = _src(page)
    assert first.startswith("data:image/png;base64,") and "Ready" in _status(page)
    page.click("#playground-play")
    page.wait_for_function("s => document.querySelector(s).innerText.includes('▶')", arg=STATUS)
    seen = {first}
    deadline = time.time() + 30
    while len(seen) < 4 and time.time() < deadline:   # three new frames streamed in
        page.wait_for_function("([s, old]) => document.querySelector(s).src !== old", arg=[FRAME, _src(page)])
        seen.add(_src(page))
    assert len(seen) >= 4
    # Pause: a real click on the button (force: the page is busy redrawing, don't wait for stillness).
    clicked = time.perf_counter()
    page.locator("#playground-pause").click(force=True)
    page.wait_for_function("s => { const t = document.querySelector(s).innerText; return t.includes('Paused'); }",
                           arg=STATUS, timeout=5_000)
    assert time.perf_counter() - clicked < 2.0
    stopped = _src(page)
    time.sleep(1.5)
    assert _src(page) == stopped, "no frame arrives after Pause"
    step = int(_status(page).split("step ")[1].split(" ")[0])
    assert step > 0
    # One more step moves it by exactly one.
    page.click("#playground-step")
    page.wait_for_function("([s, t]) => document.querySelector(s).innerText.includes(t)", arg=[STATUS, f"Step {step + 1}"])
    assert _src(page) != stopped
    errors = page.locator(".toast-body.error")
    assert errors.count() == 0
    assert not page.js_errors, page.js_errors
