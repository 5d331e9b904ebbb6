"""Gradio's own English messages in the page (a file over the upload limit, refused before it is
sent; a full queue) get their Chinese in a Chinese session (demo/toasts.js)."""

from __future__ import annotations

import pytest

from tests.browse_tabs import open_vae
from tests.launch import CHROMIUM, CHROMIUM_ARGS, VIEWPORT, chromium_or_skip, launched_app

pytestmark = pytest.mark.browser


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_a_file_over_the_upload_limit_is_refused_in_the_sessions_language(tmp_path, lang):
    sync_api = chromium_or_skip()
    big = tmp_path / "big-checkpoint.zip"
    with open(big, "wb") as f:
        f.truncate(2 * 2**20)  # sparse: 2 MB over a 1 MB limit
    with launched_app("--lang", lang, env={"GENLAB_MAX_UPLOAD_MB": "1"}) as (url, _, _), \
            sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = browser.new_context(viewport=VIEWPORT).new_page()
            page.set_default_timeout(60_000)
            page.goto(url)
            open_vae(page)
            page.click("#vae-upload-box")
            page.locator("#vae-upload input[type=file]").set_input_files(str(big))
            message = page.locator(".toast-message-text").first
            message.wait_for()
            page.wait_for_timeout(300)
            text = message.inner_text()
        finally:
            browser.close()
    assert "exceed the maximum allowed size" in text and "big-checkpoint.zip" in text, text
    if lang == "zh":
        assert "文件超过允许的最大大小 1.0 Mb" in text and text.count("big-checkpoint.zip") == 2, text
    else:
        assert "文件" not in text, text
