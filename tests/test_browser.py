"""The launched app in headless Chromium: real mouse drags on the VAE tab's sliders, the language switch.

Debian's /usr/bin/chromium through Playwright (never `playwright install`). Saves
docs/browser-vae-sliders.png (overwritten on each run) for a person to look at.
"""

from __future__ import annotations

import time

import pytest

from tests.launch import (
    CHROMIUM,
    CHROMIUM_ARGS,
    ROOT,
    VIEWPORT,
    chromium_or_skip,
    launched_app,
)
from tests.browse_tabs import open_vae

pytestmark = pytest.mark.browser

DOCS = ROOT / "docs"


@pytest.fixture(scope="module")
def app_in_browser():
    """(browser, url): one launched app (default --lang auto) and one headless Chromium."""
    sync_api = chromium_or_skip()
    with launched_app() as (url, proc, _), sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield browser, url
        finally:
            browser.close()


def open_page(browser, url, **context_options):
    pg = browser.new_context(viewport=VIEWPORT, **context_options).new_page()
    pg.set_default_timeout(20_000)
    pg.js_errors = []
    pg.on("pageerror", lambda exc: pg.js_errors.append(str(exc)))
    pg.goto(url)
    # The VAE tab (the Overview is the first) has decoded its picture (a fresh app also loads its engines).
    open_vae(pg)
    return pg


@pytest.fixture(scope="module")
def page(app_in_browser):
    return open_page(*app_in_browser, locale="en-US")


def _src(page, selector: str) -> str | None:
    el = page.query_selector(selector)
    return el.get_attribute("src") if el else None


def _wait_src_change(page, selector: str, old: str | None, timeout_ms: int = 15_000) -> str:
    page.wait_for_function(
        "([sel, old]) => { const el = document.querySelector(sel); return el && el.src && el.src !== old; }",
        arg=[selector, old], timeout=timeout_ms)
    return _src(page, selector)


def drag_range(page, slider_id: str, from_frac: float, to_frac: float, steps: int = 8) -> None:
    """Press the mouse on a range input at from_frac of its width, move to to_frac, release."""
    rng = page.locator(f"#{slider_id} input[type=range]")
    rng.scroll_into_view_if_needed()
    box = rng.bounding_box()
    assert box and box["width"] > 50, box
    y = box["y"] + box["height"] / 2
    page.mouse.move(box["x"] + box["width"] * from_frac, y)
    page.mouse.down()
    for i in range(1, steps + 1):
        page.mouse.move(box["x"] + box["width"] * (from_frac + (to_frac - from_frac) * i / steps), y)
        time.sleep(0.03)
    page.mouse.up()


def _no_error_toast(page) -> None:
    errors = page.locator(".toast-body.error")
    assert errors.count() == 0, errors.first.inner_text()


def test_dragging_a_latent_slider_redraws_the_image(page):
    page.click("#vae-tab-sliders-button")
    page.wait_for_selector("#vae-slider-0 input[type=range]")
    img, plot = "#vae-slider-image img", "#vae-slider-prior-plot img"
    page.wait_for_selector(img)
    page.wait_for_selector(plot)
    before, plot_before = _src(page, img), _src(page, plot)
    value_before = float(page.input_value("#vae-slider-0 input[type=range]"))
    drag_range(page, "vae-slider-0", 0.5, 0.95)
    after = _wait_src_change(page, img, before)
    _wait_src_change(page, plot, plot_before)  # the prior plot redraws when the slider is released
    value_after = float(page.input_value("#vae-slider-0 input[type=range]"))
    assert value_after > 2.0 and value_after != value_before, (value_before, value_after)
    # The number box next to the slider shows the same value.
    assert float(page.input_value("#vae-slider-0 input[type=number]")) == pytest.approx(value_after)
    page.wait_for_function("s => document.querySelector(s).complete", arg=img)
    _no_error_toast(page)
    DOCS.mkdir(exist_ok=True)
    page.screenshot(path=str(DOCS / "browser-vae-sliders.png"), full_page=True)
    assert after != before


def test_dragging_t_redraws_the_interpolation(page):
    page.click("#vae-tab-interp-button")
    page.wait_for_selector("#vae-interp-t input[type=range]")
    img = "#vae-interp-image img"
    page.wait_for_selector(img)
    before = _src(page, img)
    drag_range(page, "vae-interp-t", 0.5, 0.05)
    after = _wait_src_change(page, img, before)
    assert float(page.input_value("#vae-interp-t input[type=range]")) < 0.2
    drag_range(page, "vae-interp-t", 0.05, 0.97)
    third = _wait_src_change(page, img, after)
    assert len({before, after, third}) == 3
    _no_error_toast(page)


def test_language_switch_to_chinese(page):
    tab = "#vae-tab-sliders-button"
    assert page.inner_text(tab).strip() == "Latent sliders"
    page.locator("#lang-switch label", has_text="中文").click()
    page.wait_for_function("s => document.querySelector(s).innerText.trim() === '潜在变量滑块'", arg=tab)
    page.wait_for_function(
        "() => document.querySelector('#vae-interp-t [data-testid=block-info]').innerText.includes('t（0 = A，1 = B）')")
    assert "语言" in page.inner_text("#lang-switch")
    _no_error_toast(page)
    page.screenshot(path=str(DOCS / "browser-vae-zh.png"), full_page=False)
    # A tab first opened after the switch (its texts were skipped then) draws in Chinese.
    assert page.query_selector("#gan-grid img") is None
    page.click("#gan-tab-button")
    page.wait_for_selector("#gan-grid img")
    page.click("#gan-card-box .label-wrap")
    page.wait_for_function("() => { const el = document.querySelector('#gan-card'); "
                           "return el && /[\\u4e00-\\u9fff]/.test(el.innerText); }")
    page.click("#vae-tab-button")
    assert page.js_errors == []


def test_a_chinese_browser_gets_the_chinese_ui(app_in_browser):
    pg = open_page(*app_in_browser, locale="zh-CN")
    pg.wait_for_function("s => document.querySelector(s).innerText.trim() === '潜在变量滑块'",
                         arg="#vae-tab-sliders-button")
    assert pg.locator("#lang-switch input[value=zh]").is_checked()
    # The first tab's texts made in Python are drawn in Chinese straight away.
    han = "s => { const el = document.querySelector(s); return el && /[\\u4e00-\\u9fff]/.test(el.innerText); }"
    pg.click("#vae-card-box .label-wrap")
    pg.wait_for_function(han, arg="#vae-card")
    # A tab draws nothing before a student opens it; opened, it draws in the page's language.
    assert pg.query_selector("#gan-grid img") is None
    pg.click("#gan-tab-button")
    pg.wait_for_selector("#gan-grid img")
    pg.click("#gan-card-box .label-wrap")
    pg.wait_for_function(han, arg="#gan-card")
    _no_error_toast(pg)
    assert pg.js_errors == []
    pg.context.close()


# --- diffusion tab ---------------------------------------------------------------------------


def test_diffusion_generate_then_scrub_the_steps(app_in_browser, tmp_path):
    """Upload a tiny diffusion checkpoint, sample (DDIM, 10 steps), watch it stream, drag the step slider."""
    from tests.diffusion_fixtures import T_TINY, save_tiny_ddpm, zip_checkpoint

    pg = open_page(*app_in_browser, locale="en-US")
    pg.click("#diffusion-tab-button")
    pg.wait_for_selector("#diffusion-tab-forward", state="visible")
    pg.click("#diffusion-upload-box .label-wrap")
    pg.wait_for_selector("#diffusion-upload input[type=file]", state="attached")
    z = zip_checkpoint(save_tiny_ddpm(tmp_path / "browser-ddpm"), tmp_path / "browser-ddpm.zip")
    pg.set_input_files("#diffusion-upload input[type=file]", str(z))
    pg.wait_for_function("() => document.querySelector('#diffusion-upload-status').innerText.includes('browser-ddpm')")
    # The model change sets the step slider's range to the model's T.
    pg.click("#diffusion-tab-reverse-button")
    pg.wait_for_function(f"""() => {{ const r = document.querySelector('#diffusion-steps input[type=range]');
        return r && r.max === '{T_TINY}'; }}""")
    pg.locator("#diffusion-steps input[type=number]").fill("10")
    pg.locator("#diffusion-steps input[type=number]").press("Enter")
    pg.click("#diffusion-generate")
    pg.wait_for_selector("#diffusion-xt img")  # a streamed frame (or the last) has arrived
    pg.wait_for_selector("#diffusion-after-run", state="visible", timeout=60_000)
    pg.wait_for_function("() => document.querySelector('#diffusion-status').innerText.includes('Done')")
    assert pg.locator("#diffusion-scrub input[type=range]").get_attribute("max") == "10"
    # The predicted noise differs at every step. (The tiny random network's x_t saturates early,
    # so its pictures of x_t can repeat.)
    img = "#diffusion-eps img"
    before = _src(pg, img)
    drag_range(pg, "diffusion-scrub", 0.98, 0.3)
    after = _wait_src_change(pg, img, before)
    value = float(pg.input_value("#diffusion-scrub input[type=range]"))
    assert 1 <= value <= 5, value
    pg.wait_for_function(f"() => document.querySelector('#diffusion-scrub-caption').innerText.includes('Step {int(value)} of 10')")
    drag_range(pg, "diffusion-scrub", 0.3, 0.0)
    _wait_src_change(pg, img, after)
    assert float(pg.input_value("#diffusion-scrub input[type=range]")) == 0
    pg.wait_for_function(f"() => document.querySelector('#diffusion-scrub-caption').innerText.includes('t = {T_TINY}')")
    _no_error_toast(pg)
    # The language switch reaches the diffusion tab, its Python-made texts included.
    pg.locator("#lang-switch label", has_text="中文").click()
    pg.wait_for_function("() => document.querySelector('#diffusion-tab-reverse-button').innerText.trim() === '反向（去噪）过程'")
    pg.wait_for_function("() => document.querySelector('#diffusion-status').innerText.includes('完成')")
    pg.wait_for_function("() => document.querySelector('#diffusion-scrub-caption').innerText.includes('第 0 / 10 步')")
    pg.screenshot(path=str(DOCS / "browser-diffusion.png"), full_page=True)
    assert pg.js_errors == []
    pg.context.close()
