"""The autoregressive tab: a shell whose sub-tabs are the autoregressive families' own modules.

Each part (`demo/pixelcnn_tab.py`, `demo/vq_tab.py`) has a `build(ctx)` that lays out its own
sub-tabs inside the gr.Tabs opened here and wires its own events; this module only lists them.
"""

from __future__ import annotations

import gradio as gr

from . import links
from . import i18n_ar  # noqa: F401  (adds the tab's strings to demo.i18n.STRINGS)
from . import pixelcnn_tab, vq_tab
from .common import AppContext
from .forms import widget

# One line per autoregressive family's tab module.
PARTS: tuple = (pixelcnn_tab.build, vq_tab.build)


def build(ctx: AppContext) -> None:
    """Lay out the autoregressive tab inside the current gr.Tabs; each part wires its own events."""
    with widget(ctx.reg, gr.Tab, label="ar.tab", id="ar", elem_id="ar-tab") as tab:
        ctx.open_tab(tab)  # the first part starts when this tab opens, the others when selected
        widget(ctx.reg, gr.Markdown, text="ar.intro", elem_id="ar-intro")
        links.copy_row(ctx.reg, "ar")  # a link that opens this view (demo/links.py)
        with gr.Tabs(elem_id="ar-subtabs"), ctx.sub_tabs():
            for build_part in PARTS:
                build_part(ctx)
