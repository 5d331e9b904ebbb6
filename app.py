"""GenLab: a Gradio app that shows how image generative models work, one tab per model family.

    python app.py [--host 127.0.0.1] [--port 7860] [--data-dir MNIST_FOLDER] [--lang auto|en|zh]
                  [--assets-dir CHECKPOINTS_FOLDER]

`build_app()` only builds the Blocks; nothing is loaded or launched at import.
"""

from __future__ import annotations

import argparse
import os
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

from demo import clip_tab, common, diffusion_tab, gan_tab, guard, i18n, playground_tab, train_tab, vae_tab  # noqa: E402

CSS_PATH = Path(__file__).resolve().parent / "demo" / "style.css"
COMPUTE_CONCURRENCY = 2  # model events running at once (the engine's lock serialises compute anyway)
MAX_REQUEST_MB = 4  # any request body but an upload's (values, a drawn stroke, captions)
UPLOAD_FILES = 4    # files one upload request may carry at most, each up to common.MAX_UPLOAD_MB

# A new family's tab is one import above and one line here.
TABS = (vae_tab.build, gan_tab.build, diffusion_tab.build, clip_tab.build, train_tab.build, playground_tab.build)


def build_app(*, assets_dir: str | os.PathLike | None = None, data_dir: str | os.PathLike | None = None,
              lang: str = "en") -> gr.Blocks:
    """The whole UI, built in `lang` ("en" or "zh"); each session can switch language live.

    lang="auto": built in English, and a browser whose preferred languages include Chinese
    switches itself to Chinese when the page loads.
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
        with gr.Row(elem_id="genlab-header", equal_height=True):
            with gr.Column(scale=4):
                gr.Markdown("# GenLab")
                reg(gr.Markdown(reg.text("app.tagline"), elem_id="genlab-tagline"), value="app.tagline")
            switch = reg(gr.Radio(i18n.LANG_CHOICES, value=lang, label=reg.text("app.lang"), elem_id="lang-switch",
                                  scale=1, min_width=180), label="app.lang")
        with gr.Tabs(elem_id="genlab-tabs"):
            for build_tab in TABS:
                build_tab(ctx)

        def switch_language(new_lang):
            new_lang = new_lang if new_lang in i18n.LANGS else "en"
            return new_lang, *reg.updates(new_lang)

        # .change, not .input: the page-load script below sets the radio too, and that must switch.
        dep = switch.change(switch_language, switch, [lang_state, *reg.components], api_name="set_language",
                            queue=False, show_progress="hidden")
        for fn, inputs, outputs in ctx.on_lang:
            dep = dep.then(fn, inputs, outputs, show_progress="hidden", api_visibility="private",
                           concurrency_id=common.GPU)
        if follow_browser:
            # Runs in the browser: an English browser leaves the radio as it is, so nothing more runs.
            demo.load(None, None, switch, js="""() => (navigator.languages || [navigator.language])
                .some(l => (l || '').toLowerCase().startsWith('zh')) ? 'zh' : 'en'""")
    demo.queue(default_concurrency_limit=COMPUTE_CONCURRENCY)
    return guard.install(demo, lang_state)


def launch_kwargs() -> dict:
    """What launch() needs besides host and port: Gradio 6 takes css and theme here, and the HTTP
    layer's bounds: one uploaded file, any other request body, no /monitoring page."""
    from starlette.middleware import Middleware

    upload_bytes = common.MAX_UPLOAD_MB * 2**20
    body_limit = Middleware(guard.BodyLimit, max_bytes=MAX_REQUEST_MB * 2**20,
                            max_upload_bytes=UPLOAD_FILES * upload_bytes + 2**20)
    return {"css_paths": [CSS_PATH], "theme": gr.themes.Soft(), "max_file_size": upload_bytes,
            "enable_monitoring": False, "app_kwargs": {"middleware": [body_limit]}}


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


def main(argv=None) -> None:
    args = build_parser().parse_args(argv)
    demo = build_app(assets_dir=args.assets_dir, data_dir=args.data_dir, lang=args.lang)
    common.start_sweeper(demo)
    demo.launch(server_name=args.host, server_port=args.port, **launch_kwargs())


if __name__ == "__main__":
    main()
