"""The GAN tab in the launched app (python app.py, offline, shipped models): through gradio_client
(marker `app`) and in headless Chromium (marker `browser`), one server for the module."""

from __future__ import annotations

import os
import re
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from tests.launch import launched_app

MODEL = "faces-stylegan"
CJK = re.compile(r"[\u4e00-\u9fff]")
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run"]


@pytest.fixture(scope="module")
def server():
    with launched_app("--lang", "en", env={"HF_HUB_OFFLINE": "1"}) as (url, proc, _):
        yield {"url": url, "proc": proc}


@pytest.fixture
def client(server):
    pytest.importorskip("gradio_client")
    from gradio_client import Client

    return Client(server["url"], verbose=False)


def pixels(path) -> np.ndarray:
    assert isinstance(path, str) and Path(path).is_file(), path
    with Image.open(path) as im:
        return np.asarray(im.convert("RGB"))


# --- gradio_client ------------------------------------------------------------------------------


@pytest.mark.app
def test_mixing_grid_follows_the_layers(client):
    coarse, preset = client.predict(MODEL, "1, 2, 3, 4", "5, 6, 7, 8", [0, 1, 2], 1.0, api_name="/gan_mix_layers")
    fine, preset_fine = client.predict(MODEL, "1, 2, 3, 4", "5, 6, 7, 8", [7, 8, 9], 1.0,
                                       api_name="/gan_mix_layers")
    assert preset == "coarse" and preset_fine == "fine"
    a, b = pixels(coarse), pixels(fine)
    assert a.shape == b.shape and a.shape[0] > 600 and not np.array_equal(a, b)
    layers, grid = client.predict(MODEL, "middle", "1, 2", "3, 4", 1.0, api_name="/gan_preset")
    assert layers == [3, 4, 5, 6] and pixels(grid).shape[0] > 300


@pytest.mark.app
def test_truncation_interpolation_and_noise(client):
    row, _avg, _sweep = client.predict(MODEL, "1, 2, 3", 0.0, api_name="/gan_truncation")
    r = pixels(row)
    side = r.shape[0]
    assert np.array_equal(r[:, :side], r[:, side + 4: 2 * side + 4])  # psi = 0: every seed is the average
    z_img, w_img = client.predict(MODEL, 2, 4, 0.5, 1.0, api_name="/gan_interp_t")
    assert pixels(z_img).shape == pixels(w_img).shape
    image, caption = client.predict(MODEL, 4, 1.0, "all", 1.0, *([1.0] * 15), api_name="/gan_noise_image")
    assert "saved" in caption and pixels(image).shape[0] >= 256


@pytest.mark.app
def test_bad_input_in_the_session_language(client):
    from gradio_client.exceptions import AppError

    with pytest.raises(AppError, match="psi|maximum|between"):  # the app's guard checks the slider range first
        client.predict(MODEL, "1", "2", [0], 7.0, api_name="/gan_mix_layers")
    client.predict("zh", api_name="/set_language")
    with pytest.raises(AppError) as ei:
        client.predict(MODEL, "1", "2", [], 1.0, api_name="/gan_mix_layers")
    assert CJK.search(str(ei.value))
    with pytest.raises(AppError) as ei:
        client.predict(MODEL, "1, x", "2", [0], 1.0, api_name="/gan_mix_layers")
    assert "随机种子" in str(ei.value)


@pytest.mark.app
def test_effects_answer_for_both_models(client):
    _chart, msg = client.predict(MODEL, api_name="/gan_effects")
    assert msg  # a chart with its table, or a clear message where the regressor is not installed
    chart2, msg2 = client.predict("mnist-stylegan", api_name="/gan_effects")
    assert chart2 is None and "mnist-stylegan" in msg2


# --- headless browser ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def page(server):
    if not (os.path.isfile(CHROMIUM) and os.access(CHROMIUM, os.X_OK)):
        pytest.skip(f"{CHROMIUM} is missing: install Debian's chromium for browser tests")
    sync_api = pytest.importorskip("playwright.sync_api", reason="the playwright Python package is not installed")
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            pg = browser.new_context(viewport={"width": 1400, "height": 1100}).new_page()
            pg.set_default_timeout(30_000)
            pg.js_errors = []
            pg.on("pageerror", lambda exc: pg.js_errors.append(str(exc)))
            pg.goto(server["url"])
            pg.click("#gan-tab-button")
            pg.wait_for_selector("#gan-grid img")
            yield pg
        finally:
            browser.close()


def _src(page, selector):
    el = page.query_selector(selector)
    return el.get_attribute("src") if el else None


def _wait_src_change(page, selector, old, timeout_ms=20_000):
    page.wait_for_function(
        "([sel, old]) => { const el = document.querySelector(sel); return el && el.src && el.src !== old; }",
        arg=[selector, old], timeout=timeout_ms)
    return _src(page, selector)


@pytest.mark.browser
def test_toggling_a_layer_group_changes_the_grid(page):
    grid = "#gan-grid img"
    before = _src(page, grid)
    page.locator("#gan-preset label", has_text="Fine styles").click()
    after = _wait_src_change(page, grid, before)
    checked = page.eval_on_selector_all("#gan-layers input[type=checkbox]", "els => els.map(e => e.checked)")
    assert checked == [False] * 7 + [True] * 3
    # One more box by hand: the grid changes again and the preset no longer names a group.
    page.locator("#gan-layers label", has_text="0: 4×4").click()
    _wait_src_change(page, grid, after)
    time.sleep(0.3)
    assert page.eval_on_selector_all("#gan-preset input[type=radio]", "els => els.filter(e => e.checked).length") == 0
    assert not page.js_errors, page.js_errors
