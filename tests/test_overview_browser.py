"""The launched app in headless Chromium opens on the Overview tab, and a row's button opens its tab:
the VAE's, then the VAE tab's "Autoencoder vs VAE" part."""

from __future__ import annotations

import time

import pytest

from tests.launch import CHROMIUM, CHROMIUM_ARGS, VIEWPORT, chromium_or_skip, launched_app

pytestmark = pytest.mark.browser

SELECTED = "s => document.querySelector(s)?.getAttribute('aria-selected') === 'true'"


def test_the_app_opens_on_the_overview_and_a_rows_button_opens_its_tab():
    sync_api = chromium_or_skip()
    with launched_app("--lang", "en") as (url, _, _), sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = browser.new_context(viewport=VIEWPORT, locale="en-US").new_page()
            page.set_default_timeout(60_000)
            errors = []
            page.on("pageerror", lambda exc: errors.append(str(exc)))
            page.goto(url)
            page.wait_for_selector("#overview-intro", state="visible")
            page.wait_for_function(SELECTED, arg="#overview-tab-button")
            assert "Start here" in page.inner_text("#overview-intro")
            assert page.locator("#overview-open-vae").is_visible()
            time.sleep(1.5)
            assert page.query_selector("#vae-interp-image img") is None  # the VAE tab has not started
            page.click("#overview-open-vae")
            page.wait_for_function(SELECTED, arg="#vae-tab-button")
            page.wait_for_selector("#vae-interp-image img")  # its first refresh ran on the selection
            assert page.locator("#overview-intro").is_hidden()
            # Back to the Overview: the autoencoder's row opens the VAE tab's comparison part.
            page.click("#overview-tab-button")
            page.click("#overview-open-ae")
            page.wait_for_selector("#vae-tab-ae", state="visible")
            page.wait_for_function(SELECTED, arg="#vae-tab-ae-button")
            for side in ("plain", "variational"):
                page.wait_for_selector(f"#vae-ae-{side}-samples img")
                page.wait_for_selector(f"#vae-ae-{side}-map img")
            page.wait_for_function("() => document.querySelector('#vae-ae-plain-score').innerText.includes('%')")
            assert page.locator(".toast-body.error").count() == 0
            assert errors == []
        finally:
            browser.close()
