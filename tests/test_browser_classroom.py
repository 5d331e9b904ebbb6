"""Classroom links and lessons in the launched app: the link event over raw HTTP, and in headless Chromium
a link that opens the diffusion tab in Chinese, a lesson (what is shown, hidden and locked), and Copy
link opened in a second browser context. Saves docs/classroom-*.png for a person to look at."""

from __future__ import annotations

import json
import re
import urllib.request

import pytest

from tests.launch import CHROMIUM, CHROMIUM_ARGS, ROOT, VIEWPORT, chromium_or_skip, launched_app

pytestmark = pytest.mark.browser

DOCS = ROOT / "docs"
WAIT_MS = 150_000  # a fresh app on a busy 2-core CPU loads its engines on the first picture
CJK = re.compile(r"[\u4e00-\u9fff]")
VALUE_IS = "s => { const el = document.querySelector(s); return !!el && el.value === 'V'; }"  # before it exists too


@pytest.fixture(scope="module")
def app_url():
    with launched_app(env={"HF_HUB_OFFLINE": "1"}) as (url, proc, _):
        yield url


@pytest.fixture(scope="module")
def browser(app_url):
    sync_api = chromium_or_skip()
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield b
        finally:
            b.close()


def _get(url):
    with urllib.request.urlopen(url, timeout=30) as r:
        return json.loads(r.read())


def _post(url, body):
    req = urllib.request.Request(url, json.dumps(body).encode(), {"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=60) as r:
        return json.loads(r.read())


def test_the_link_event_over_http_returns_the_views_updates(app_url):
    config = _get(app_url + "config")
    ids = {c["props"].get("elem_id"): c["id"] for c in config["components"] if c.get("props", {}).get("elem_id")}
    ready = ids["link-ready"]
    fn_index, dep = next((i, d) for i, d in enumerate(config["dependencies"]) if ready in d["outputs"])
    answer = _post(app_url + "gradio_api/run/predict?tab=diffusion&sub=reverse&steps=40&eta=NaN&lang=zh",
                   {"fn_index": dep.get("id", fn_index), "data": [], "session_hash": "classroom-http"})
    out = dict(zip(dep["outputs"], answer["data"]))
    assert out[ids["lang-detected"]] == "zh"  # the page's language, from the link, decided by the server
    assert out[ids["genlab-tabs"]]["selected"] == "diffusion"
    assert out[ids["diffusion-subtabs"]]["selected"] == "diffusion-reverse"
    assert out[ids["diffusion-steps"]]["value"] == 40
    assert out[ids["diffusion-tab-opened"]]["value"] == 1
    assert out[ready] == 1
    assert "eta" in out[ids["link-notice"]]["value"] and CJK.search(out[ids["link-notice"]]["value"])


def _page(browser, url, **options):
    pg = browser.new_context(viewport=VIEWPORT, **options).new_page()
    pg.js_errors = []
    pg.on("pageerror", lambda exc: pg.js_errors.append(str(exc)))
    pg.goto(url)
    return pg


def _selected(pg, selector) -> bool:
    return pg.get_attribute(selector, "aria-selected") == "true"


def _value(pg, elem_id) -> str:
    return pg.input_value(f"#{elem_id} input[type=number]")


def test_a_link_opens_the_diffusion_tab_in_chinese(browser, app_url):
    pg = _page(browser, app_url + "?tab=diffusion&lang=zh&t=250")
    pg.wait_for_selector("#diffusion-fwd-xt img", timeout=WAIT_MS)
    pg.wait_for_function("s => document.querySelector(s).innerText.includes('t = 250')",
                         arg="#diffusion-fwd-caption", timeout=WAIT_MS)
    assert _selected(pg, "#diffusion-tab-button")
    assert CJK.search(pg.inner_text("#diffusion-tab-button"))
    assert pg.locator("#lang-switch input[value=zh]").is_checked()
    assert _value(pg, "diffusion-fwd-t") == "250"
    assert pg.locator("#link-notice").is_hidden()
    pg.screenshot(path=str(DOCS / "classroom-link-zh.png"))
    assert pg.js_errors == []
    pg.context.close()


def test_a_lesson_shows_its_tabs_and_locks_its_controls(browser, app_url):
    pg = _page(browser, app_url + "?lesson=diffusion-step-by-step")
    pg.wait_for_selector("#diffusion-fwd-xt img", timeout=WAIT_MS)
    pg.wait_for_function("s => document.querySelector(s).innerText.includes('t = 100')",
                         arg="#diffusion-fwd-caption", timeout=WAIT_MS)
    assert pg.locator("#lesson-panel").is_visible()
    assert "Diffusion step by step" in pg.inner_text("#lesson-text")
    for hidden in ("vae-tab", "gan-tab", "playground-tab", "diffusion-tab-fork"):
        assert pg.locator(f"#{hidden}-button").is_hidden(), hidden
    for shown in ("diffusion-tab", "diffusion-tab-forward", "diffusion-tab-reverse"):
        assert pg.locator(f"#{shown}-button").is_visible(), shown
    assert pg.locator("#diffusion-model input").is_disabled()  # locked
    assert pg.query_selector("#diffusion-eta") is None or pg.locator("#diffusion-eta").is_hidden()
    pg.screenshot(path=str(DOCS / "classroom-lesson.png"))
    # The panel follows the language switch.
    pg.click("#lang-switch label:has-text('中文')")
    pg.wait_for_function("s => document.querySelector(s).innerText.includes('一步一步')", arg="#lesson-text")
    assert pg.js_errors == []
    pg.context.close()


def test_copy_link_opens_the_same_view_in_another_browser(browser, app_url):
    pg = _page(browser, app_url + "?tab=diffusion&sub=reverse&steps=40")
    pg.wait_for_selector("#diffusion-generate", state="visible", timeout=WAIT_MS)
    pg.wait_for_function(VALUE_IS.replace("V", "40"), arg="#diffusion-steps input[type=number]",
                         timeout=WAIT_MS)
    seed = pg.locator("#diffusion-seed input")
    seed.fill("123")
    seed.press("Enter")
    pg.click("#lang-switch label:has-text('中文')")
    pg.wait_for_function("s => document.querySelector(s).innerText.includes('复制链接')", arg="#diffusion-copy-link")
    pg.click("#diffusion-copy-link")
    pg.wait_for_function("s => document.querySelector(s).value.includes('seed=123')",
                         arg="#diffusion-link textarea, #diffusion-link input")
    link = pg.input_value("#diffusion-link textarea, #diffusion-link input")
    assert "tab=diffusion" in link and "sub=reverse" in link and "steps=40" in link and "lang=zh" in link
    pg.screenshot(path=str(DOCS / "classroom-copy-link.png"))
    other = _page(browser, link)  # a second context: another student's browser
    other.wait_for_function(VALUE_IS.replace("V", "123"), arg="#diffusion-seed input",
                            timeout=WAIT_MS)
    other.wait_for_function(VALUE_IS.replace("V", "40"),
                            arg="#diffusion-steps input[type=number]", timeout=WAIT_MS)
    assert _selected(other, "#diffusion-tab-button") and _selected(other, "#diffusion-tab-reverse-button")
    other.wait_for_selector("#lang-switch input[value=zh]:checked", timeout=30_000)  # its texts a moment after the load
    assert pg.js_errors == [] and other.js_errors == []
    other.context.close()
    pg.context.close()


@pytest.mark.parametrize("name", ["autoencoder-to-vae", "how-a-gan-learns", "text-to-image",
                                  "autoregressive-step-by-step"])
def test_each_shipped_lesson_opens_as_written(browser, app_url, name):
    from demo import lessons, links

    lesson = lessons.load(name)
    pg = _page(browser, app_url + f"?lesson={name}")
    pg.wait_for_function("([s, t]) => { const el = document.querySelector(s); return !!el && el.innerText.includes(t); }",
                         arg=["#lesson-text", lesson.title["en"]], timeout=WAIT_MS)
    start = links.VIEWS[lesson.start["tab"]]
    pg.wait_for_function("s => document.querySelector(s).getAttribute('aria-selected') === 'true'",
                         arg=f"#{start.elem_id}-button", timeout=WAIT_MS)
    for view in links.VIEWS.values():
        button = pg.locator(f"#{view.elem_id}-button")
        assert button.is_visible() == (view.tab in lesson.tabs), view.tab
    for item in lesson.lock:
        tab, _, param = item.partition(".")
        if tab == lesson.start["tab"]:
            inputs = pg.locator(f"#{links.VIEWS[tab].params[param]} input")
            assert inputs.count() and all(inputs.nth(i).is_disabled() for i in range(inputs.count())), item
    if name == "how-a-gan-learns":
        pg.wait_for_selector("#playground-frame img, #playground-frame canvas, #playground-frame svg",
                             timeout=WAIT_MS)
        pg.screenshot(path=str(DOCS / "classroom-lesson-gan.png"))
    assert pg.js_errors == []
    pg.context.close()


def test_a_link_into_a_nested_sub_tab_and_its_copy(browser, app_url):
    """/?tab=ar&sub=prior opens the autoregressive tab, its VQ part, and that part's Prior sub-tab;
    Copy link there names sub=prior again, and a CLIP link sets its prompt."""
    pg = _page(browser, app_url + "?tab=ar&sub=prior&vq_seed=5&vq_n=4")
    pg.wait_for_function(VALUE_IS.replace("V", "5"), arg="#vq-seed input", timeout=WAIT_MS)
    for button in ("#ar-tab-button", "#vq-part-button", "#vq-tab-prior-button"):
        pg.wait_for_function("s => document.querySelector(s)?.getAttribute('aria-selected') === 'true'",
                             arg=button, timeout=WAIT_MS)
    pg.wait_for_function(VALUE_IS.replace("V", "4"), arg="#vq-n input[type=number]", timeout=WAIT_MS)
    pg.wait_for_timeout(2_000)  # the part's first refresh has run: the values stay
    assert pg.input_value("#vq-seed input") == "5" and _value(pg, "vq-n") == "4"
    pg.click("#ar-copy-link")
    pg.wait_for_function("s => document.querySelector(s).value.includes('tab=ar')",
                         arg="#ar-link textarea, #ar-link input")
    link = pg.input_value("#ar-link textarea, #ar-link input")
    assert "sub=prior" in link and "vq_seed=5" in link and "vq_n=4" in link, link
    assert pg.js_errors == []
    pg.context.close()
    clip = _page(browser, app_url + "?tab=clip&sub=generate&prompt=a+red+circle&seed=7")
    clip.wait_for_function("s => { const el = document.querySelector(s); return !!el && el.value === 'a red circle'; }",
                           arg="#clip-prompt textarea", timeout=WAIT_MS)
    assert _selected(clip, "#clip-tab-button") and _selected(clip, "#clip-tab-generate-button")
    assert clip.input_value("#clip-seed input") == "7"
    assert clip.locator("#link-notice").is_hidden() and clip.js_errors == []
    clip.context.close()
