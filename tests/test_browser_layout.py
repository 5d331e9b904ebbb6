"""Phones and projectors: every tab and sub-tab, opened in headless Chromium at 390 x 844 (a phone)
and 1280 x 720 (a projector), must not scroll sideways (document.documentElement.scrollWidth at
most the window's width) nor push anything past the window's right edge.

Tabs are found by their labels (tests/browse_tabs.py): at 390 px most tab buttons sit in Gradio's
"more tabs" menu, and an Overview tab may come first, so nothing here assumes the landing tab.
"""

from __future__ import annotations

import time

import pytest

from tests import browse_tabs
from tests.launch import CHROMIUM, CHROMIUM_ARGS, chromium_or_skip, launched_app

pytestmark = [pytest.mark.browser, pytest.mark.slow]

SIZES = {"phone": (390, 844), "projector": (1280, 720)}
MIN_VIEWS = 40       # tabs and sub-tabs walked (43 when written): fewer means the walk lost its way
SETTLE_S = 1.0       # after a click: the tab's first pictures arrive (checked again after the walk)
MIN_FONT_PX = 14     # body text on a projector
WALK_TIMEOUT_S = 900  # a walk opens every tab, each with its first refresh: minutes on a busy 2-core CPU


@pytest.fixture(scope="module")
def browser():
    sync_api = chromium_or_skip()
    with launched_app("--lang", "en") as (url, _, _), sync_api.sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        chromium.app_url = url
        try:
            yield chromium
        finally:
            chromium.close()


def _page(browser, size: str, locale: str = "en-US"):
    width, height = SIZES[size]
    page = browser.new_context(viewport={"width": width, "height": height}, locale=locale).new_page()
    page.set_default_timeout(60_000)
    page.js_errors = []
    page.on("pageerror", lambda exc: page.js_errors.append(str(exc)))
    page.goto(browser.app_url)
    page.wait_for_selector("#genlab-tabs")
    time.sleep(1.0)
    return page


def _walk(page) -> tuple[list[str], list[str]]:
    """-> (views visited, problems): each view's sideways scroll and what sticks out on the right."""
    problems = []

    def check(path):
        scroll = browse_tabs.overflow(page)
        widest = page.evaluate(browse_tabs.WIDEST)
        if scroll > 0 or widest:
            problems.append(f"{path}: scrolls {scroll} px; sticking out: {widest}")

    seen = browse_tabs.walk(page, check, settle_s=SETTLE_S)
    return seen, problems


@pytest.mark.timeout(WALK_TIMEOUT_S)
@pytest.mark.parametrize("size", list(SIZES))
def test_every_tab_and_sub_tab_fits_the_window(browser, size):
    page = _page(browser, size)
    seen, problems = _walk(page)
    assert len(seen) >= MIN_VIEWS, seen
    assert any("/" in s for s in seen)
    width = SIZES[size][0]
    assert page.evaluate("() => document.documentElement.scrollWidth") <= width
    assert problems == [], "\n".join(problems)
    assert page.js_errors == []
    page.context.close()


@pytest.mark.timeout(WALK_TIMEOUT_S)
def test_a_phone_in_chinese_fits_too(browser):
    """Chinese labels are shorter but the model cards and notes differ: the phone walk again."""
    page = _page(browser, "phone")
    page.locator("#lang-switch label", has_text="中文").click()
    page.wait_for_function("() => document.querySelector('#genlab-tabs .tab-container.visually-hidden')"
                           ".innerText.includes('扩散')")
    seen, problems = _walk(page)
    assert len(seen) >= MIN_VIEWS
    assert problems == [], "\n".join(problems)
    page.context.close()


def test_a_projector_shows_every_tab_and_readable_text(browser):
    """At 1280 x 720 every top-level tab has its own button (none hidden in the "more tabs" menu),
    the text is at least MIN_FONT_PX, and the page uses the width (no narrow column in the middle)."""
    page = _page(browser, "projector")
    labels = browse_tabs.labels(page, "genlab-tabs")
    shown = page.locator("#genlab-tabs > .tab-wrapper > [role=tablist] > button").all_inner_texts()
    assert [s.strip() for s in shown] == labels
    size = page.evaluate("() => parseFloat(getComputedStyle(document.querySelector('.prose') || document.body).fontSize)")
    assert size >= MIN_FONT_PX
    main = page.evaluate("() => document.querySelector('#genlab-tabs').getBoundingClientRect().width")
    assert main >= 0.85 * SIZES["projector"][0]
    page.context.close()


def test_the_phone_shows_the_scrubber_with_its_pictures(browser):
    """On a phone the reverse process's three pictures sit in one row above the scrubber, so moving
    it (or pressing Play) keeps them in view together."""
    page = _page(browser, "phone")
    browse_tabs.click_tab(page, "genlab-tabs", page.evaluate(
        "() => [...document.querySelectorAll('#genlab-tabs .tab-container.visually-hidden button')]"
        ".map(b => b.innerText.trim()).find(t => t.startsWith('Diffusion'))"))
    browse_tabs.click_tab(page, "diffusion-subtabs", "Reverse process")
    boxes = [page.locator(f"#{i}").bounding_box() for i in ("diffusion-xt", "diffusion-eps", "diffusion-x0")]
    assert len({round(b["y"]) for b in boxes}) == 1, boxes
    assert all(b["x"] + b["width"] <= SIZES["phone"][0] for b in boxes)
    scrub = page.locator("#diffusion-scrub").bounding_box()
    assert scrub["y"] - (boxes[0]["y"] + boxes[0]["height"]) < 40  # right below them
    page.context.close()
