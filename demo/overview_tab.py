"""The Overview tab, the app's first: generative vs discriminative models, explicit vs implicit
densities, the families side by side (each row's button opens its tab) and the trilemma.

Everything here is text registered with the language switch; the few numbers come from committed
benchmark results (benchmarks/results/), formatted once when the tab is built, so opening the
page costs no model event. A row's button selects its tab in the page (a click on the tab's
button, in the browser), which starts that tab as a student's own click would.
"""

from __future__ import annotations

import json
from pathlib import Path

import gradio as gr

from . import i18n_overview
from .common import AppContext
from .forms import widget
from .i18n import STRINGS

RESULTS = Path(__file__).resolve().parent.parent / "benchmarks" / "results"
TRILEMMA_GLOB = "trilemma-cpu-*.json"
HOLES_GLOB = "ae_holes-cpu-*.json"
COLUMNS = ("likelihood", "speed.shown", "latent", "stability")


def open_tab_js(path: tuple[str, ...]) -> str:
    """Browser code that clicks each tab button of `path` in turn (a sub-tab's button exists once its
    parent is shown, so it waits up to 2 s for each), then scrolls the tab bar into view."""
    return f"""() => {{
    const ids = {json.dumps([f"{p}-button" for p in path])};
    let tries = 0;
    const step = () => {{
        const button = document.getElementById(ids[0]);
        if (!button) {{ if (tries++ < 40) setTimeout(step, 50); return; }}
        button.click();
        ids.shift();
        tries = 0;
        if (ids.length) setTimeout(step, 50);
        else document.getElementById('genlab-tabs')?.scrollIntoView({{block: 'start'}});
    }};
    step();
}}"""


def newest(glob: str, folder: Path = RESULTS) -> tuple[str, dict] | None:
    """(file name, JSON) of the newest committed result matching glob (the date is in the name), or None."""
    found = sorted(folder.glob(glob))
    if not found:
        return None
    try:
        return found[-1].name, json.loads(found[-1].read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def _cell(reg, key: str, elem_id: str | None = None, **kwargs):
    return widget(reg, gr.Markdown, text=key, elem_id=elem_id, elem_classes=["overview-cell"], **kwargs)


def _table(reg) -> dict[str, gr.Button]:
    """The families' rows: a name, four properties and a button opening the family's tab."""
    widget(reg, gr.Markdown, text=("overview.table.title", "### {}"))
    with gr.Row(equal_height=True, elem_classes=["overview-head"]):
        _cell(reg, ("overview.col.family", "**{}**"))
        for col in ("likelihood", "speed", "latent", "stability"):
            _cell(reg, (f"overview.col.{col}", "**{}**"))
        gr.HTML("", min_width=110, scale=0, elem_classes=["overview-open"])
    buttons = {}
    for row in i18n_overview.ROWS:
        with gr.Row(equal_height=False, elem_id=f"overview-row-{row}", elem_classes=["overview-row"]):
            _cell(reg, f"overview.{row}.name")
            for col in COLUMNS:
                _cell(reg, f"overview.{row}.{col}", elem_id=f"overview-{row}-{col.split('.')[0]}")
            buttons[row] = widget(reg, gr.Button, text="overview.open", size="sm", min_width=110, scale=0,
                                  elem_id=f"overview-open-{row}", elem_classes=["overview-open"])
    widget(reg, gr.Markdown, text="overview.table.shown", elem_id="overview-table-note",
           elem_classes=["small-note"])
    return buttons


def _layout(reg) -> dict[str, gr.Button]:
    widget(reg, gr.Markdown, text="overview.intro", elem_id="overview-intro")
    with gr.Row(equal_height=False):
        with gr.Column(min_width=300):
            widget(reg, gr.Markdown, text=("overview.kinds.title", "### {}"))
            widget(reg, gr.Markdown, text="overview.kinds", elem_id="overview-kinds")
        with gr.Column(min_width=300):
            widget(reg, gr.Markdown, text=("overview.density.title", "### {}"))
            widget(reg, gr.Markdown, text="overview.density", elem_id="overview-density")
    buttons = _table(reg)
    with gr.Row(equal_height=False):
        with gr.Column(scale=3, min_width=300):
            widget(reg, gr.Markdown, text=("overview.trilemma.title", "### {}"))
            widget(reg, gr.Markdown, text="overview.trilemma", elem_id="overview-trilemma")
            widget(reg, gr.Markdown, text="overview.trilemma.shown", elem_id="overview-trilemma-table")
            widget(reg, gr.Markdown, text="overview.holes.shown", elem_id="overview-holes")
            buttons["metrics"] = widget(reg, gr.Button, text="overview.open.metrics", size="sm",
                                        elem_id="overview-open-metrics")
        with gr.Column(scale=2, min_width=280):
            widget(reg, gr.Markdown, text=("overview.next.title", "### {}"))
            widget(reg, gr.Markdown, text="overview.next", elem_id="overview-next")
    return buttons


def build(ctx: AppContext) -> None:
    """Lay out the Overview tab inside the current gr.Tabs; its buttons select other tabs."""
    STRINGS.update(i18n_overview.measured(newest(TRILEMMA_GLOB), newest(HOLES_GLOB)))
    with widget(ctx.reg, gr.Tab, label="overview.tab", id="overview", elem_id="overview-tab") as tab:
        ctx.open_tab(tab)  # the app's first tab: it has no first refresh, so the page load costs no model event
        buttons = _layout(ctx.reg)
    for row, button in buttons.items():
        button.click(None, None, None, js=open_tab_js(i18n_overview.TARGETS[row]), api_visibility="private")
