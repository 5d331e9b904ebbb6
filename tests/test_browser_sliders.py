"""Every live slider, moved by one key press in headless Chromium, changes its picture (not timed:
benchmarks/slider_browser.py times them).

Live sliders send only themselves; the rest of their handler's inputs are remembered per session
(demo.common.Remembered). The last test checks that what the page shows after moving two latent
sliders is what the full API event draws for the same 16 values.
"""

from __future__ import annotations

import io
import urllib.request

import numpy as np
import pytest
from PIL import Image

from benchmarks.slider_browser import SLIDERS, generate
from tests.browse_tabs import open_vae
from tests.launch import CHROMIUM, CHROMIUM_ARGS, VIEWPORT, chromium_or_skip, launched_app

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def served():
    """(page, url): the launched app (English) in one headless Chromium page, every tab loaded."""
    sync_api = chromium_or_skip()
    with launched_app("--lang", "en") as (url, _, _), sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_context(viewport=VIEWPORT, locale="en-US").new_page()
        page.set_default_timeout(60_000)
        page.js_errors = []
        page.on("pageerror", lambda exc: page.js_errors.append(str(exc)))
        page.goto(url)
        open_vae(page)
        try:
            yield page, url
        finally:
            browser.close()


def _srcs(page, images):
    return page.evaluate("sels => sels.map(s => { const el = document.querySelector(s); return el && el.src; })",
                         images)


def _press_and_wait(page, slider_id, images, key):
    """Focus the slider's range input, press `key` once; -> (value before, value after)."""
    rng = page.locator(f"#{slider_id} input[type=range]")
    rng.scroll_into_view_if_needed()
    for sel in images:
        page.wait_for_selector(sel, state="attached")
    before_value, before = float(rng.input_value()), _srcs(page, images)
    rng.focus()
    page.keyboard.press(key)
    page.wait_for_function("""([sels, old]) => sels.every((s, i) => {
        const el = document.querySelector(s); return el && el.src && el.src !== old[i]; })""",
                           arg=[images, before], timeout=30_000)
    return before_value, float(rng.input_value())


@pytest.mark.parametrize("name", list(SLIDERS))
def test_a_key_press_on_a_live_slider_changes_its_picture(served, name):
    page, _ = served
    tabs, slider_id, images, key, setup = SLIDERS[name]
    for tab in tabs:
        page.click(tab)
    if setup == "generate":
        generate(page)
    before, after = _press_and_wait(page, slider_id, images, key)
    assert after != before, (name, before, after)
    assert page.locator(".toast-body.error").count() == 0
    assert page.js_errors == []


def _pixels(src: str) -> np.ndarray:
    with urllib.request.urlopen(src, timeout=10) as r:
        return np.asarray(Image.open(io.BytesIO(r.read())).convert("L"))


def test_two_moved_latent_sliders_show_the_full_events_picture(served):
    from gradio_client import Client

    page, url = served
    page.click("#vae-tab-button")
    page.click("#vae-tab-sliders-button")
    images = ["#vae-slider-image img"]
    start, _ = _press_and_wait(page, "vae-slider-0", images, "ArrowRight")
    _press_and_wait(page, "vae-slider-0", images, "ArrowRight")
    start_1, _ = _press_and_wait(page, "vae-slider-1", images, "ArrowLeft")
    values = [float(page.locator(f"#vae-slider-{i} input[type=range]").input_value()) for i in range(16)]
    assert values[0] == pytest.approx(start + 0.1) and values[1] == pytest.approx(start_1 - 0.05)
    shown = _pixels(_srcs(page, images)[0])
    model = page.locator("#vae-model input").input_value()
    client = Client(url, verbose=False)
    expected = client.predict(model, *values, api_name="/vae_slider")
    expected = np.asarray(Image.open(expected).convert("L"))
    np.testing.assert_array_equal(shown, expected)


def test_a_live_slider_speaks_the_language_switched_to_after_it_was_recorded(served):
    # The live event keeps the slider's other inputs per session, but the session's language (a
    # State changed by the switch, which records nothing) must be read fresh with every move.
    page, _ = served
    for tab in ("#diffusion-tab-button", "#diffusion-tab-forward-button"):
        page.click(tab)
    _press_and_wait(page, "diffusion-fwd-t", ["#diffusion-fwd-xt img"], "ArrowRight")
    page.get_by_label("中文").check()
    page.wait_for_function("document.querySelector('#diffusion-fwd-caption').innerText.includes('时')")
    _press_and_wait(page, "diffusion-fwd-t", ["#diffusion-fwd-xt img"], "ArrowRight")
    page.wait_for_timeout(300)
    caption = page.locator("#diffusion-fwd-caption").inner_text()
    page.get_by_label("English").check()
    assert "At t" not in caption and "时" in caption, caption


def test_a_move_is_answered_by_the_live_route(served):
    page, _ = served
    page.click("#vae-tab-button")
    page.click("#vae-tab-sliders-button")
    seen = []
    listener = lambda r: seen.append(r.url)  # noqa: E731
    page.on("request", listener)
    try:
        _press_and_wait(page, "vae-slider-2", ["#vae-slider-image img"], "ArrowRight")
        page.wait_for_timeout(200)
    finally:
        page.remove_listener("request", listener)
    assert sum(u.endswith("/genlab/live") for u in seen) == 1, seen
    # The picture is the route's answer (Gradio's events answer with files under /gradio_api/file=);
    # the queue joins seen are the release's prior plot.
    assert _srcs(page, ["#vae-slider-image img"])[0].startswith("data:image/png;base64,")


def test_a_refused_move_shows_its_message_and_keeps_the_picture(served):
    page, _ = served
    page.click("#vae-tab-button")
    page.click("#vae-tab-sliders-button")
    before = _srcs(page, ["#vae-slider-image img"])
    real = page.evaluate("window.__gradio_session_hash__")
    page.evaluate("window.__gradio_session_hash__ = 'a-session-the-server-never-had'")
    try:
        rng = page.locator("#vae-slider-4 input[type=range]")
        rng.focus()
        page.keyboard.press("ArrowRight")
        toast = page.locator("#genlab-live-toast.shown")
        toast.wait_for(state="visible", timeout=10_000)
        text = toast.inner_text()
        assert "Reload" in text and "刷新" in text, text
        assert _srcs(page, ["#vae-slider-image img"]) == before
    finally:
        page.evaluate(f"window.__gradio_session_hash__ = {real!r}")
    _press_and_wait(page, "vae-slider-4", ["#vae-slider-image img"], "ArrowRight")  # and on it goes
