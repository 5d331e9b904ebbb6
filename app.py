"""GenLab: a Gradio app that shows how image generative models work, one tab per model family.

    python app.py [--host 127.0.0.1] [--port 7860] [--data-dir MNIST_FOLDER] [--lang auto|en|zh]
                  [--assets-dir CHECKPOINTS_FOLDER]

`build_app()` only builds the Blocks; nothing is loaded or launched at import.
"""

from __future__ import annotations

import argparse
import os
import threading
import time
from pathlib import Path

# OpenMP threads spin a long while when they wait for work (GNU OpenMP: 300,000 turns), which on
# a busy shared CPU (a Space, a class of users) lets one forward pass stall for seconds. A short
# spin keeps a quiet machine's speed and removes the stalls. Measured on the 2-core dev CPU, one
# UNet forward (batch 32), median / p90: quiet 37 / 40 ms by default, 40 / 42 ms with 10,000
# turns (58 / 60 ms fully passive); beside two busy processes 204 / 2,752 ms by default,
# 255 / 259 ms with 10,000. Set before torch loads OpenMP; a value the host set wins.
os.environ.setdefault("GOMP_SPINCOUNT", "10000")
# Gradio reports usage to its makers unless told not to; a host that wants that sets it to True.
os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")

import gradio as gr  # noqa: E402

from demo import ar_tab, classroom, clip_tab, common, diffusion_tab, gan_tab, guard, i18n, ldm_tab, live, metrics_tab, overview_tab, playground_tab, train_tab, vae_tab  # noqa: E402
from engines import gpu, runtime  # noqa: E402
from engines.data import set_pil_limits  # noqa: E402

CSS_PATH = Path(__file__).resolve().parent / "demo" / "style.css"
TOASTS_JS = Path(__file__).resolve().parent / "demo" / "toasts.js"  # Chinese for Gradio's own English toasts
LIVE_JS = Path(__file__).resolve().parent / "demo" / "live.js"  # live sliders' requests (demo/live.py)
# Events of one handler in flight at once, for the handlers that name no group (the Train tab's,
# the language switch); the model events' groups are in demo/common.py.
DEFAULT_CONCURRENCY = 8
QUEUE_MAX = 100  # events waiting in Gradio's queue (GENLAB_QUEUE_MAX); beyond it the page says "busy"
MAX_REQUEST_MB = 4  # any request body but an upload's (values, a drawn stroke, captions)
UPLOAD_FILES = 4    # files one upload request may carry at most, each up to common.MAX_UPLOAD_MB

# A new family's tab is one import above and one line here.
TABS = (overview_tab.build, vae_tab.build, gan_tab.build, diffusion_tab.build, ar_tab.build, clip_tab.build, ldm_tab.build, train_tab.build, playground_tab.build, metrics_tab.build)


def build_app(*, assets_dir: str | os.PathLike | None = None, data_dir: str | os.PathLike | None = None,
              lang: str = "en") -> gr.Blocks:
    """The whole UI, built in `lang` ("en" or "zh"); each session can switch language live.

    lang="auto": built in English, and a browser whose preferred languages include Chinese
    starts in Chinese: the page reports its language before the first tab's first refresh, so
    that refresh is drawn in it once (not drawn in English, then again in Chinese).
    """
    follow_browser = lang == "auto"
    lang = "en" if follow_browser else lang
    if lang not in i18n.LANGS:
        raise ValueError(f"lang must be one of {(*i18n.LANGS, 'auto')}, not {lang!r}")
    reg = i18n.Registry(lang)
    # Gradio's cache (uploads, exported files) is emptied of files older than a session's lifetime.
    delete_cache = (max(1, round(common.SWEEP_S)), max(1, round(common.SESSION_TTL_S)))
    with gr.Blocks(title="GenLab", delete_cache=delete_cache) as demo:
        lang_state = gr.State(lang)
        ctx = common.AppContext(
            demo=demo, reg=reg, lang=lang_state, uploads=common.uploads_state(),
            assets_dir=Path(assets_dir) if assets_dir is not None else None,
            data_dir=Path(data_dir) if data_dir is not None else None,
        )
        switch = _header(reg, lang)
        page = classroom.page(ctx)  # a link's notice, lesson panel, and the flag the first tab starts on (ctx.start)
        with gr.Tabs(elem_id="genlab-tabs"):
            for build_tab in TABS:
                build_tab(ctx)
        detected, browser = _page_language(ctx, follow_browser, page)
        _wire_language(ctx, switch, detected, browser)
    demo.queue(default_concurrency_limit=DEFAULT_CONCURRENCY, max_size=queue_max())
    return guard.install(live.install(demo, lang_state), lang_state)


def _header(reg: i18n.Registry, lang: str) -> gr.Radio:
    """The title, the tagline and the language switch."""
    with gr.Row(elem_id="genlab-header", equal_height=True):
        with gr.Column(scale=4):
            gr.Markdown("# GenLab")
            reg(gr.Markdown(reg.text("app.tagline"), elem_id="genlab-tagline"), value="app.tagline")
        return reg(gr.Radio(i18n.LANG_CHOICES, value=lang, label=reg.text("app.lang"), elem_id="lang-switch",
                            scale=1, min_width=180), label="app.lang")


# Runs in the browser, only when the page's request named no language (no Accept-Language header):
# "zh" when the browser's preferred languages include Chinese.
BROWSER_LANG_JS = """() => (navigator.languages || [navigator.language])
    .some(l => (l || '').toLowerCase().startsWith('zh')) ? 'zh' : 'en'"""


def request_language(request: gr.Request | None, app_lang: str, follow_browser: bool) -> str | None:
    """The page's language, decided on the server when the page loads: a link's lang= first, else
    (an app following the browser) the request's Accept-Language (zh when it lists any Chinese, as
    BROWSER_LANG_JS does), else the app's. None: follow the browser but the request named no language."""
    query = getattr(request, "query_params", None) or {}
    asked = str(query.get("lang", "")).strip().lower()
    if asked in i18n.LANGS:
        return asked
    if not follow_browser:
        return app_lang
    header = (getattr(request, "headers", None) or {}).get("accept-language", "") or ""
    wanted = []
    for part in header.split(",")[:20]:
        tag, _, params = part.strip().partition(";")
        q = params.strip().removeprefix("q=")
        try:
            weight = float(q) if q else 1.0
        except ValueError:
            weight = 1.0
        if tag and weight > 0:
            wanted.append(tag.strip().lower())
    if not wanted or wanted == ["*"]:
        return None
    return "zh" if any(t.startswith("zh") for t in wanted) else "en"


def _page_language(ctx: common.AppContext, follow_browser: bool, page: classroom.Page):
    """The page load's one event: the server decides the page's language (request_language) and
    applies a link or lesson (demo/classroom.py), then sets the flag the first tab's first refresh
    starts on, so it draws once, in that language, with the link's settings.
    A page in another language than the app's gets its widgets' texts through #lang-detected (_wire_language);
    one in the app's language gets nothing more. The browser is asked (#lang-asked) only when the request named
    no language. -> (#lang-detected, #lang-browser)."""
    reg = ctx.reg
    detected = gr.Textbox("", visible=False, elem_id="lang-detected")  # set only to a language not the app's
    asked = gr.Number(0, visible=False, elem_id="lang-asked")
    browser = gr.Textbox("", visible=False, elem_id="lang-browser")   # what the browser said, when asked
    opener, outputs = classroom.install(ctx, page)  # /?tab=...&lang=... and /?lesson=NAME (demo/links.py)

    def page_open(request: gr.Request):
        lang = request_language(request, reg.lang, follow_browser)
        out = opener(lang or reg.lang, request)
        out[ctx.lang] = lang or reg.lang
        if lang is not None and lang != reg.lang:
            out[detected] = lang
        if lang is None:
            out[asked] = 1
        return out

    page_open.opener = opener  # tests call it directly
    ctx.demo.load(page_open, None, [ctx.lang, detected, asked, *outputs], queue=False, show_progress="hidden",
                  show_progress_on=[page.ready], api_visibility="private")
    asked.change(None, None, browser, js=BROWSER_LANG_JS, queue=False, show_progress="hidden", api_visibility="private")
    return detected, browser


def _wire_language(ctx: common.AppContext, switch: gr.Radio, detected: gr.Textbox, browser: gr.Textbox) -> None:
    """The switch (a person's click, or the set_language API) re-renders every text: the registered
    widgets at once, then each tab's texts made in Python (a tab not opened yet skips its own).
    A page the server opened in another language than the app's (#lang-detected) gets only the
    widgets' texts and the texts made in Python that its tabs' first refreshes do not draw (model
    list labels): those refreshes draw in the page's language already. A browser asked for its
    language (#lang-browser) that names another one than the session's gets what a switch gets;
    one that agrees gets nothing.

    Events that set many components show their (hidden) progress on one hidden box
    (show_progress_on): Gradio's page keeps a loading status for every component an event ever
    targeted and updates all of them on each later status message, so 465 targets made every
    streamed frame of the playground cost 465 updates (the page stopped answering after Play)."""
    reg = ctx.reg
    switch_index = reg.components.index(switch)
    translated = gr.Textbox("", visible=False, elem_id="lang-translated")
    quiet = {"show_progress": "hidden", "show_progress_on": [translated]}

    def switch_language(new_lang):
        new_lang = new_lang if new_lang in i18n.LANGS else "en"
        return new_lang, *reg.updates(new_lang)

    def translate_page(new_lang):
        if new_lang not in i18n.LANGS or new_lang == reg.lang:
            return gr.skip()
        updates = reg.updates(new_lang)
        updates[switch_index] = {**updates[switch_index], "value": new_lang}
        return new_lang, *updates

    def browser_language(said, session_lang):
        if said not in i18n.LANGS or said == session_lang:
            return gr.skip()
        updates = reg.updates(said)
        updates[switch_index] = {**updates[switch_index], "value": said}
        return said, *updates

    def differs(said):
        return said in i18n.LANGS and said != reg.lang

    # .input: a person's click or the API; the page's own language (below) sets the radio too.
    dep = switch.input(switch_language, switch, [ctx.lang, *reg.components], api_name="set_language",
                       queue=False, **quiet)
    told = browser.change(browser_language, [browser, ctx.lang], [ctx.lang, *reg.components], queue=False,
                          api_visibility="private", **quiet)
    for fn, inputs, outputs, flag in ctx.on_lang:  # a tab not opened yet skips its own at once
        fn, inputs = (fn, list(inputs)) if flag is None or flag is common.ALWAYS else common.gated(fn, flag, list(inputs))
        dep = dep.then(fn, inputs, outputs, api_visibility="private", concurrency_id=common.GPU, **quiet)
        told = told.then(*common.gated(fn, browser, inputs, test=differs), api_visibility="private",
                         concurrency_id=common.GPU, **quiet)
    # A page in another language than the app's: its widgets at once, then, in one event, the texts
    # made in Python that no first refresh draws. A page in the app's language: nothing at all.
    detected.change(translate_page, detected, [translated, *reg.components], queue=False, api_visibility="private",
                    **quiet)
    texts = common.combined([(fn, inputs, outputs) for fn, inputs, outputs, flag in ctx.on_lang
                             if flag is common.ALWAYS])
    translated.change(*texts, api_visibility="private", concurrency_id=common.GPU, **quiet)


def queue_max() -> int:
    """How many events may wait in Gradio's queue: $GENLAB_QUEUE_MAX, else QUEUE_MAX. A full queue
    answers the next event at once (HTTP 503; the page shows "This application is currently busy")
    instead of letting it wait behind more than a class's worth of work."""
    raw = os.environ.get("GENLAB_QUEUE_MAX", "").strip()
    try:
        value = int(raw) if raw else QUEUE_MAX
    except ValueError:
        raise ValueError(f"GENLAB_QUEUE_MAX={raw!r} is not a whole number") from None
    if value < 1:
        raise ValueError(f"GENLAB_QUEUE_MAX={raw!r} must be at least 1")
    return value


def launch_kwargs(demo: gr.Blocks | None = None) -> dict:
    """What launch() needs besides host and port: Gradio 6 takes css and theme here, and the HTTP
    layer's bounds: one uploaded file, any other request body, no /monitoring page. With `demo`
    (GenLab's own Blocks): its live sliders' route, /genlab/live (demo/live.py)."""
    from starlette.middleware import Middleware

    upload_bytes = common.MAX_UPLOAD_MB * 2**20
    body_limit = Middleware(guard.BodyLimit, max_bytes=MAX_REQUEST_MB * 2**20,
                            max_upload_bytes=UPLOAD_FILES * upload_bytes + 2**20)
    middleware = [body_limit] if demo is None else [body_limit, Middleware(live.LiveRoute, demo=demo)]
    scripts = "".join(f"<script>{path.read_text(encoding='utf-8')}</script>" for path in (TOASTS_JS, LIVE_JS))
    return {"css_paths": [CSS_PATH], "theme": gr.themes.Soft(), "max_file_size": upload_bytes, "head": scripts,
            "enable_monitoring": False, "app_kwargs": {"middleware": middleware}}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description="GenLab: how image generative models work")
    # Hugging Face Spaces (and Docker hosts) say where to listen through Gradio's own variables.
    parser.add_argument("--host", default=os.environ.get("GRADIO_SERVER_NAME", "127.0.0.1"),
                        help="address to serve on (default: $GRADIO_SERVER_NAME or 127.0.0.1)")
    parser.add_argument("--port", type=int, default=int(os.environ.get("GRADIO_SERVER_PORT", 7860)),
                        help="port (default: $GRADIO_SERVER_PORT or 7860)")
    parser.add_argument("--data-dir", default=os.environ.get("GENLAB_DATA_DIR"),
                        help="folder with the MNIST IDX files (default: $GENLAB_DATA_DIR)")
    parser.add_argument("--lang", choices=(*i18n.LANGS, "auto"), default="auto",
                        help="UI language at start; auto: Chinese for browsers that prefer it, else English")
    parser.add_argument("--assets-dir", default=os.environ.get("GENLAB_ASSETS_DIR"),
                        help="folder of shipped checkpoints (default: $GENLAB_ASSETS_DIR or assets/)")
    return parser


# Modules the first training run (torch._dynamo, through the optimiser), the first CLIP generation
# (open_clip) and the first VQ prior (transformers' GPT-2, 4.6 s) would otherwise import on the compute
# thread: 1-2 s each on a quiet 2-core CPU, 6 s on a busy one, while every session's slider waits.
# main() imports them in a daemon thread once the server is up (about 250 MB more resident memory).
# The Metrics tab's torchmetrics (7 s) is imported the same way when a session first opens that tab
# (demo/metrics_tab.py), not at start: an idle app stays under 1 GB.
WARM_IMPORTS = ("torch._dynamo", "open_clip", "transformers.models.gpt2.modeling_gpt2")


def main(argv=None) -> None:
    args = build_parser().parse_args(argv)
    runtime.share_the_gil()  # the model thread takes the GIL back promptly from the web threads
    gpu.setup()  # on a ZeroGPU Space: interactive work on the CPU, handlers not wrapped in GPU calls
    set_pil_limits()  # Pillow's bomb limit, also for the images Gradio decodes before GenLab sees them
    common.write_cached_pictures_once()  # no picture served while Gradio rewrites it
    demo = build_app(assets_dir=args.assets_dir, data_dir=args.data_dir, lang=args.lang)
    common.start_sweeper(demo)
    runtime.warm_imports(WARM_IMPORTS, delay_s=2.0)  # after the server has started
    demo.launch(server_name=args.host, server_port=args.port, **launch_kwargs(demo))


if __name__ == "__main__":
    main()
