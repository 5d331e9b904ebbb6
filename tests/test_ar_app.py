"""The autoregressive tab in the launched app (python app.py, offline, shipped models): through
gradio_client as an API user or an attacker would call it, and one flow in headless Chromium.
One server for the module."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from tests.launch import launched_app

CJK = re.compile(r"[\u4e00-\u9fff]")
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run"]
PIXELCNN = dict(model="mnist-pixelcnn", n=4, seed=3, label="all", temperature=1.0, top_k=0, top_p=1.0)
PRIOR = dict(model="mnist-vqvae", label="7", temperature=1.0, top_k=0, top_p=1.0, seed=5, n=4)


@pytest.fixture(scope="module")
def server():
    with launched_app("--lang", "en", env={"HF_HUB_OFFLINE": "1"}) as (url, proc, _):
        yield {"url": url, "proc": proc}


@pytest.fixture
def client(server):
    from gradio_client import Client

    return Client(server["url"], verbose=False)


def pixels(value) -> np.ndarray:
    path = value["path"] if isinstance(value, dict) else value
    assert isinstance(path, str) and Path(path).is_file(), value
    with Image.open(path) as im:
        return np.asarray(im.convert("RGB"))


def images_and_status(result) -> tuple[np.ndarray, str]:
    """The sample events' outputs: the first picture (the images grid) and the texts, found by kind."""
    def is_picture(v):
        return isinstance(v, dict) and "path" in v or isinstance(v, str) and Path(v).is_file()

    def text(v):
        v = v.get("value") if isinstance(v, dict) and v.get("__type__") == "update" else v
        return v if isinstance(v, str) and not Path(v).is_file() else ""

    pictures = [pixels(v) for v in result if is_picture(v)]
    return pictures[0], " ".join(text(v) for v in result)


@pytest.mark.app
def test_pixelcnn_samples_through_the_api_the_same_for_the_same_seed(client):
    first, status = images_and_status(client.predict(**PIXELCNN, api_name="/pixelcnn_sample"))
    again, _ = images_and_status(client.predict(**PIXELCNN, api_name="/pixelcnn_sample"))
    other, _ = images_and_status(client.predict(**{**PIXELCNN, "seed": 4}, api_name="/pixelcnn_sample"))
    assert "4" in status and first.shape[0] >= 56 and first.std() > 10  # digits drawn, not a blank grid
    assert np.array_equal(first, again) and not np.array_equal(first, other)


@pytest.mark.app
def test_the_vq_prior_samples_through_the_api(client):
    grid, status = images_and_status(client.predict(**PRIOR, api_name="/vq_sample"))
    assert "49" in status and grid.std() > 10


@pytest.mark.app
@pytest.mark.parametrize("api, settings, field, value", [
    ("/pixelcnn_sample", PIXELCNN, "temperature", 0.0),  # NaN cannot travel as JSON: tests/test_hostile_app.py sends it raw
    ("/pixelcnn_sample", PIXELCNN, "top_p", 1.5),
    ("/pixelcnn_sample", PIXELCNN, "n", 10_000),
    ("/vq_sample", PRIOR, "top_p", 0.0),
    ("/vq_sample", PRIOR, "temperature", 0.0),
    ("/vq_sample", PRIOR, "label", "11"),
])
def test_hostile_sampling_settings_get_a_clear_message(client, api, settings, field, value):
    from gradio_client.exceptions import AppError

    with pytest.raises(AppError) as err:
        client.predict(**{**settings, field: value}, api_name=api)
    message = str(err.value)
    assert len(message) > 20 and "Traceback" not in message and "went wrong" not in message
    # The app is still there for the next request.
    assert images_and_status(client.predict(**settings, api_name=api))[0].std() > 10


@pytest.mark.browser
def test_a_chinese_student_samples_a_digit_pixel_by_pixel_in_chromium(server):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            page.goto(server["url"])
            page.locator("#lang-switch label", has_text="中文").click(timeout=60_000)
            page.wait_for_function("() => (document.querySelector('#ar-tab-button') || {}).innerText === '自回归模型'",
                                   timeout=30_000)
            page.click("#ar-tab-button", timeout=60_000)
            page.click("#pixelcnn-part-button")
            page.wait_for_selector("#pixelcnn-tab-sample", state="visible")
            page.click("#pixelcnn-run")
            page.wait_for_function(
                "() => /784/.test((document.querySelector('#pixelcnn-status') || {}).innerText || '')", timeout=120_000)
            status = page.inner_text("#pixelcnn-status")
            assert CJK.search(status), status  # the session's language
            assert page.locator("#pixelcnn-images img").count() == 1
        finally:
            browser.close()


@pytest.mark.browser
def test_a_region_is_chosen_by_clicking_two_corners_and_resampled_in_chromium(server):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            page.goto(server["url"])
            page.click("#ar-tab-button", timeout=60_000)
            page.click("#vq-part-button")
            page.click("#vq-tab-prior-button", timeout=60_000)
            picture = page.locator("#vq-region-grid img")
            picture.wait_for(timeout=120_000)   # the Tokens tab's encoded example, decoded under its grid
            picture.scroll_into_view_if_needed()
            page.wait_for_timeout(500)
            box = picture.bounding_box()
            for row, col, says in ((5, 4, "Corner at row 5, column 4"), (2, 1, "rows 2–5")):  # 7x7 tokens
                page.mouse.click(box["x"] + box["width"] * (col + 0.5) / 7, box["y"] + box["height"] * (row + 0.5) / 7)
                page.wait_for_function("(s) => document.querySelector('#vq-region-info').innerText.includes(s)",
                                       arg=says, timeout=30_000)
            page.wait_for_function(
                "() => /rows 2–5, columns 1–4 \\(16 tokens\\)/.test(document.querySelector('#vq-region-info').innerText)",
                timeout=30_000)
            sliders = [page.locator(f"#vq-region-{i} input[type=number]").input_value() for i in range(4)]
            assert sliders == ["2", "5", "1", "4"]   # the keyboard way shows the same region
            page.click("#vq-resample")
            page.wait_for_function("() => /Done: 16 tokens/.test(document.querySelector('#vq-status').innerText)",
                                   timeout=120_000)
        finally:
            browser.close()
