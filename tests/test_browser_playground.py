"""The 2-D playground in headless Chromium: press Play, see the frame change while it trains,
press Pause, and see it stop; choose "Draw your own", click and drag on the plot, and see the points
land where clicked, the count grow and the model learn them while it plays (Debian's
/usr/bin/chromium through Playwright)."""

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


def _on_frame(page, x: float, y: float) -> tuple[float, float]:
    """The page position of the frame picture's pixel (x, y), however large the browser shows it."""
    box = page.locator(FRAME).bounding_box()
    size = page.evaluate("s => [document.querySelector(s).naturalWidth, document.querySelector(s).naturalHeight]",
                         FRAME)
    return box["x"] + x * box["width"] / size[0], box["y"] + y * box["height"] / size[1]


def _data_pixel(x: float, y: float) -> tuple[float, float]:
    """The frame pixel of data point (x, y) on the left panel (26 px of title; 360 px for 5 units)."""
    return (x + 2.5) * 72, 26 + (2.5 - y) * 72


def _wait_status(page, text: str, timeout: float = 30_000) -> str:
    try:
        page.wait_for_function("([s, t]) => document.querySelector(s).innerText.includes(t)", arg=[STATUS, text],
                               timeout=timeout)
    except Exception as err:  # say what the status said instead
        raise AssertionError(f"status never said {text!r}; it says {_status(page)!r}") from err
    return _status(page)


def test_click_and_drag_on_the_plot_draw_the_data(page):
    page.click("#playground-data input")
    page.locator("ul[role=listbox] li", has_text="Draw your own").first.click()
    _wait_status(page, "0 points so far")
    page.wait_for_selector("#playground-undo", state="visible")
    canvas = _src(page)
    # A click at data (1, -0.5): 16 points around exactly there, and a model appears on the frame.
    page.mouse.click(*_on_frame(page, *_data_pixel(1.0, -0.5)))
    status = _wait_status(page, "16 points in all")
    assert "(1.00, -0.50)" in status
    page.wait_for_function("([s, old]) => document.querySelector(s).src !== old", arg=[FRAME, canvas])
    # A drag across the panel: a line of points.
    page.mouse.move(*_on_frame(page, *_data_pixel(-2.0, 1.5)))
    page.mouse.down()
    for k in range(1, 21):
        page.mouse.move(*_on_frame(page, *_data_pixel(-2.0 + 3.0 * k / 20, 1.5)))
    page.mouse.up()
    status = _wait_status(page, "line of")
    total = int(status.split(" points in all")[0].split()[-1])
    assert total > 16 + 50   # 3 data units, a point every 0.04
    # Play, and click while it plays: the count in the playing status grows and the frames go on.
    page.click("#playground-play")
    _wait_status(page, "▶ step")
    page.mouse.click(*_on_frame(page, *_data_pixel(-1.0, -1.5)))
    _wait_status(page, f"✎ {total + 16} points")
    before = _src(page)
    page.wait_for_function("([s, old]) => document.querySelector(s).src !== old", arg=[FRAME, before])
    page.locator("#playground-pause").click(force=True)
    _wait_status(page, "Paused")
    # Undo takes the last click back; a click on the charts below adds nothing.
    page.click("#playground-undo")
    _wait_status(page, f"{total} points in all")
    page.mouse.click(*_on_frame(page, 100, 480))
    _wait_status(page, "square panels")
    assert page.locator(".toast-body.error").count() == 0
    assert not page.js_errors, page.js_errors
