"""The training tab in headless Chromium: Start a run, watch the loss plot update, Stop it, and find
the trained model in the VAE tab's list. Debian's /usr/bin/chromium through Playwright."""

from __future__ import annotations

import re
import time

import pytest

from tests.browse_tabs import open_vae
from tests.launch import (
    CHROMIUM,
    CHROMIUM_ARGS,
    VIEWPORT,
    chromium_or_skip,
    launched_app,
)

pytestmark = pytest.mark.browser



@pytest.fixture(scope="module")
def page():
    sync_api = chromium_or_skip()
    with launched_app("--lang", "en", env={"OMP_NUM_THREADS": "1"}) as (url, _proc, _), \
            sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            pg = browser.new_page(viewport=VIEWPORT)
            pg.set_default_timeout(30_000)
            pg.js_errors = []
            pg.on("pageerror", lambda exc: pg.js_errors.append(str(exc)))
            pg.goto(url)
            open_vae(pg)
            yield pg
        finally:
            browser.close()


def step_shown(page) -> int:
    text = page.inner_text("#train-stats")
    found = re.search(r"([\d,]+)\s*/\s*[\d,]+", text)
    return int(found.group(1).replace(",", "")) if found else -1


def plot_marks(page) -> int:
    """How many points the loss plot has drawn (Vega's line marks, as SVG paths or canvas items)."""
    return page.evaluate("""() => {
        const el = document.querySelector('#train-loss');
        if (!el) return -1;
        const view = el.querySelector('.vega-embed');
        const paths = el.querySelectorAll('path[aria-roledescription="line mark"], g.mark-line path');
        let n = 0; paths.forEach(p => { n += ((p.getAttribute('d') || '').match(/L/g) || []).length; });
        return n || (view ? view.querySelectorAll('canvas').length : 0) * 0;
    }""")


def test_start_watch_the_loss_plot_stop_and_use_the_model(page):
    page.click("#train-tab-button")
    page.wait_for_selector("#train-start", state="visible")
    page.fill("#train-steps input", "100000")
    page.locator("#train-steps input").press("Tab")
    page.click("#train-start")
    page.wait_for_function("() => document.querySelector('#train-status').innerText.includes('Training')",
                           timeout=60_000)
    first_step, first_marks = step_shown(page), plot_marks(page)
    deadline = time.time() + 30
    while time.time() < deadline and (step_shown(page) <= first_step + 4 or plot_marks(page) <= first_marks):
        time.sleep(0.5)
    later_step, later_marks = step_shown(page), plot_marks(page)
    assert later_step > first_step and later_marks > first_marks, (first_step, later_step, first_marks, later_marks)
    page.wait_for_selector("#train-preview img")  # the sample grid from fixed seeds

    # Timed in the page, from the click to the status saying so (Playwright's own click first waits
    # for the page to settle, seconds on a busy CPU, which no person waits for).
    shown = page.evaluate("""() => new Promise(done => {
        const status = document.querySelector('#train-status');
        const t0 = performance.now();
        const seen = new MutationObserver(() => {
            if (status.innerText.includes('stopped')) { seen.disconnect(); done((performance.now() - t0) / 1000); }
        });
        seen.observe(status, {subtree: true, childList: true, characterData: true});
        document.querySelector('#train-stop').click();
    })""")
    print(f"Stop click -> 'stopped' shown: {shown:.3f} s")
    assert shown < 1.0   # Stop answers once the run has ended
    stopped_at = step_shown(page)
    time.sleep(1.5)
    assert step_shown(page) == stopped_at

    page.fill("#train-name :is(input, textarea)", "browser-vae")
    page.click("#train-use")
    page.wait_for_function("() => document.querySelector('#train-use-note').innerText.includes('browser-vae')")
    page.click("#vae-tab-button")
    page.click("#vae-model input")
    option = page.locator("ul[role=listbox] li", has_text="browser-vae (trained here)")
    option.wait_for(timeout=10_000)
    assert page.js_errors == []
