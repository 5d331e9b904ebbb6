"""The app shell: one tab per family, in order, and nothing else inside the tab bar."""

from __future__ import annotations

import gradio as gr

import app


def test_the_tab_bar_holds_only_the_tabs_in_order():
    demo = app.build_app(lang="en")
    tabs = next(b for b in demo.blocks.values() if isinstance(b, gr.Tabs) and b.elem_id == "genlab-tabs")
    # A component made directly inside gr.Tabs (a State, a Timer) is drawn as an extra tab button.
    assert all(isinstance(child, gr.Tab) for child in tabs.children), [type(c).__name__ for c in tabs.children]
    ids = [child.elem_id for child in tabs.children]
    assert len(ids) == len(app.TABS) == 8
    order = ["vae", "gan", "diffusion", "ar", "clip", "train", "playground", "metrics"]
    assert [next(k for k in order if k in (i or "")) for i in ids] == order, ids
