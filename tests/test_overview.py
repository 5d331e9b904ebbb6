"""demo/overview_tab.py: the app's first tab. Its table's measured cells come from committed result
files (or say nothing measured), its buttons select tabs that exist, and it costs no server event."""

from __future__ import annotations

import json

import gradio as gr
import pytest

import app
from demo import i18n_overview, overview_tab
from demo.i18n import STRINGS, t


@pytest.fixture(scope="module")
def demo():
    return app.build_app(lang="en")


def test_the_overview_is_the_first_tab(demo):
    assert app.TABS[0] is overview_tab.build
    tabs = next(b for b in demo.blocks.values() if isinstance(b, gr.Tabs) and b.elem_id == "genlab-tabs")
    assert tabs.children[0].elem_id == "overview-tab"


def test_every_string_has_both_languages():
    keys = [k for k in STRINGS if k.startswith("overview.")]
    assert len(keys) > 40
    for key in keys:
        en, zh = STRINGS[key]
        assert (en == zh == "") or (en.strip() and zh.strip()), key
    for row in i18n_overview.ROWS:
        for col in ("name", "likelihood", "speed", "latent", "stability"):
            assert f"overview.{row}.{col}" in STRINGS


def test_measured_speeds_are_the_committed_results():
    trilemma = overview_tab.newest(overview_tab.TRILEMMA_GLOB)
    assert trilemma is not None, "the trilemma's result is committed (benchmarks/results/trilemma-cpu-*.json)"
    name, data = trilemma
    rows = {r["label"]: r for r in data["rows"]}
    cells = i18n_overview.measured(trilemma, None)
    en, zh = cells["overview.vae.speed.shown"]
    ms = rows["mnist-vae-z16"]["ms_per_image"]
    assert f"{ms:.1f}" in en and f"{ms:.1f}" in zh
    assert f"{rows['mnist-ddpm DDIM-25']['ms_per_image']:.0f}" in cells["overview.diffusion.speed.shown"][0]
    assert name in cells["overview.table.shown"][0] and name in cells["overview.table.shown"][1]
    table_en, table_zh = cells["overview.trilemma.shown"]
    assert f"{rows['mnist-stylegan']['fid']:.0f}" in table_en and f"{rows['mnist-stylegan']['recall']:.2f}" in table_zh
    assert cells["overview.holes.shown"] == ("", "")


def test_without_result_files_nothing_is_invented():
    cells = i18n_overview.measured(None, None)
    assert cells["overview.vae.speed.shown"] == STRINGS["overview.vae.speed"]
    assert cells["overview.table.shown"] == STRINGS["overview.table.none"]
    assert cells["overview.trilemma.shown"] == STRINGS["overview.trilemma.none"]
    for en, zh in cells.values():
        assert not any(ch.isdigit() for ch in en.replace("N(0, I)", "").replace("7×7", "")), en


def test_the_holes_sentence_is_the_committed_benchmark(tmp_path):
    holes = overview_tab.newest(overview_tab.HOLES_GLOB)
    assert holes is not None, "benchmarks/results/ae_holes-cpu-*.json is committed"
    en, zh = i18n_overview.measured(None, holes)["overview.holes.shown"]
    assert f"{holes[1]['ae']['sure_fraction']:.0%}" in en and f"{holes[1]['vae']['sure_fraction']:.0%}" in zh
    (tmp_path / "ae_holes-cpu-2099-01-01.json").write_text("not json")
    assert overview_tab.newest(overview_tab.HOLES_GLOB, tmp_path) is None  # a broken file is no figure
    (tmp_path / "ae_holes-cpu-2099-01-02.json").write_text(json.dumps({"n": 1}))
    assert overview_tab.newest(overview_tab.HOLES_GLOB, tmp_path)[0] == "ae_holes-cpu-2099-01-02.json"


def test_each_rows_button_selects_a_tab_that_exists_in_the_browser_only(demo):
    ids = {b.elem_id for b in demo.blocks.values() if isinstance(b, gr.Tab)}
    buttons = {b.elem_id: b for b in demo.blocks.values() if isinstance(b, gr.Button)
               and (b.elem_id or "").startswith("overview-open-")}
    assert set(buttons) == {f"overview-open-{row}" for row in (*i18n_overview.ROWS, "metrics")}
    for row, path in i18n_overview.TARGETS.items():
        assert set(path) <= ids, (row, path)
        deps = [d for d in demo.fns.values() if (buttons[f"overview-open-{row}"]._id, "click") in
                [tuple(x) for x in d.targets]]
        assert len(deps) == 1 and deps[0].fn is None  # JavaScript only: no server event
        js = deps[0].js
        assert all(f'"{p}-button"' in js for p in path)
        assert js.index(f'"{path[0]}-button"') <= js.index(f'"{path[-1]}-button"')
    assert t("overview.open", "zh") == "打开 →"


def test_the_page_load_runs_nothing_for_the_overview(demo):
    """The first tab has no first refresh: no server event reads or writes an overview component."""
    ours = {b._id for b in demo.blocks.values() if (getattr(b, "elem_id", None) or "").startswith("overview")}
    for d in demo.fns.values():
        if d.fn is None:
            continue
        touched = {getattr(c, "_id", c) for c in [*d.inputs, *d.outputs]}
        if d.name == "page_open":  # the page load may select or hide the Overview tab (a link, a lesson)
            touched -= {b._id for b in demo.blocks.values() if getattr(b, "elem_id", None) == "overview-tab"}
        assert not (touched & ours) or d.name in ("switch_language", "translate_page", "browser_language"), d.name
