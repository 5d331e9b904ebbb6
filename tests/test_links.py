"""Links that open a view and lessons (demo/links.py, demo/lessons.py, demo/classroom.py), in-process:
parsing and checking hostile query values, the lesson schema, and the link event's updates."""

from __future__ import annotations

import json

import gradio as gr
import pytest
from starlette.datastructures import QueryParams

from demo import classroom, lessons, links


@pytest.fixture(scope="module")
def app():
    import app as app_module

    return app_module.build_app(lang="auto")


@pytest.fixture(scope="module")
def blocks(app):
    return classroom.blocks_by_id(app)


@pytest.fixture(scope="module")
def opener(app):
    found = [f.fn.opener for f in app.fns.values() if isinstance(getattr(f.fn, "opener", None), classroom.Opener)]
    assert len(found) == 1
    return found[0]


def _open(opener, query: str, lang="en"):
    request = type("R", (), {"query_params": QueryParams(query)})()
    return opener(lang, request)


def _by_id(out: dict) -> dict:
    return {getattr(c, "elem_id", None) or id(c): u for c, u in out.items()}


def test_a_link_selects_tab_sub_tab_and_values(blocks):
    link = links.parse(QueryParams("tab=diffusion&sub=reverse&lang=zh&steps=50&eta=0.5&t=20").multi_items(), blocks)
    assert link.view.tab == "diffusion" and link.sub == "reverse" and link.lang == "zh"
    assert link.values == {"steps": 50, "eta": 0.5, "t": 20}
    assert isinstance(link.values["steps"], int)
    assert link.ignored == []


@pytest.mark.parametrize("query, ignored", [
    ("tab=diffusion&steps=NaN", ["steps"]),
    ("tab=diffusion&steps=inf", ["steps"]),
    ("tab=diffusion&steps=-Infinity", ["steps"]),
    ("tab=diffusion&steps=1e308", ["steps"]),
    ("tab=diffusion&steps=0", ["steps"]),          # below the slider's minimum
    ("tab=diffusion&seed=2.5", ["seed"]),          # a whole-number box takes whole numbers only
    ("tab=diffusion&seed=-1", ["seed"]),
    ("tab=diffusion&steps=abc", ["steps"]),
    ("tab=diffusion&sampler=euler", ["sampler"]),  # not one of the choices
    ("tab=diffusion&model=../../etc/passwd", ["model"]),
    ("tab=diffusion&nonsense=1", ["nonsense"]),
    ("tab=nowhere&steps=5", ["tab", "steps"]),     # no tab: its parameters mean nothing
    ("tab=diffusion&sub=nowhere", ["sub"]),
    ("lang=fr", ["lang"]),
    ("tab=gan&seeds_a=" + "1," * 400, ["seeds_a"]),  # over MAX_VALUE characters
])
def test_hostile_values_are_dropped_and_named(blocks, query, ignored):
    link = links.parse(QueryParams(query).multi_items(), blocks)
    assert sorted(link.ignored) == sorted(ignored)
    assert not set(link.values) & set(ignored)


def test_many_and_repeated_parameters_are_cut(blocks):
    items = [("tab", "diffusion"), ("steps", "10"), ("steps", "999")] + [(f"p{i}", "1") for i in range(500)]
    link = links.parse(items, blocks)
    assert link.values == {"steps": 10}  # the first of a repeated name
    assert link.ignored[-1] == "…" and len(link.ignored) <= links.MAX_PARAMS + 1
    # A name the notice quotes is cleaned of markup.
    link = links.parse([("<script>alert(1)</script>", "1")], blocks)
    assert "<" not in link.ignored[0] and len(link.ignored[0]) <= links.MAX_NAME


def test_slider_values_snap_to_the_widgets_step(blocks):
    link = links.parse([("tab", "gan"), ("psi", "0.73"), ("t", "0.257")], blocks)
    assert link.values["psi"] == pytest.approx(0.75) and link.values["t"] == pytest.approx(0.26)
    link = links.parse([("tab", "diffusion"), ("steps", "24.9")], blocks)
    assert link.values["steps"] == 25 and isinstance(link.values["steps"], int)


def test_every_table_entry_names_an_existing_widget(blocks):
    for view in links.VIEWS.values():
        assert view.elem_id in blocks, view.elem_id
        for eid in (*view.params.values(), *view.sub.values()):
            assert eid in blocks, eid
        if view.subtabs:
            assert isinstance(blocks[view.subtabs], gr.Tabs)
        for tabs, parent in view.within.values():
            assert isinstance(blocks[tabs], gr.Tabs) and parent in view.sub.values(), (tabs, parent)
        assert set(view.late) <= set(view.params)


def test_the_link_event_returns_the_views_updates(opener, blocks):
    out = _by_id(_open(opener, "tab=diffusion&sub=reverse&steps=40&seed=7&bogus=1", lang="zh"))
    assert out["genlab-tabs"]["selected"] == "diffusion"
    assert out["diffusion-subtabs"]["selected"] == "diffusion-reverse"
    assert out["diffusion-tab-opened"]["value"] == 1  # its first refresh runs (its sub-tabs start with it)
    assert "gan-tab-opened" not in out and "vae-tab-opened" not in out
    assert out["diffusion-steps"]["value"] == 40 and out["diffusion-seed"]["value"] == 7
    assert out["link-ready"] == 1
    assert "bogus" in out["link-notice"]["value"] and "已忽略" in out["link-notice"]["value"]
    pending = next(v for c, v in _open(opener, "tab=diffusion&steps=40").items() if isinstance(c, gr.State))
    assert pending == {"diffusion": {"steps": 40}}


def test_a_plain_page_changes_nothing_but_starts_the_first_tab(opener):
    assert _by_id(_open(opener, "")) == {"link-ready": 1}
    assert _by_id(_open(opener, "lang=zh&__theme=dark")) == {"link-ready": 1}  # only its language: no link
    out = _by_id(_open(opener, "lang=fr"))
    assert out["link-ready"] == 1 and "lang" in out["link-notice"]["value"]


def _request(query: str = "", accept: str | None = None):
    headers = {} if accept is None else {"accept-language": accept}
    return type("R", (), {"query_params": QueryParams(query), "headers": headers})()


@pytest.mark.parametrize("query, accept, follow, app_lang, expected", [
    ("lang=zh", "en-US,en;q=0.9", True, "en", "zh"),          # a link's lang= first
    ("lang=en", "zh-CN,zh;q=0.9", True, "en", "en"),
    ("lang=EN", None, False, "zh", "en"),
    ("lang=fr", "zh-CN", True, "en", "zh"),                   # not a language of the app: the header
    ("", "zh-CN,zh;q=0.9,en;q=0.8", True, "en", "zh"),
    ("", "en-US,en;q=0.9,zh-TW;q=0.5", True, "en", "zh"),     # any Chinese listed, as the browser's check
    ("", "en-US,en;q=0.9,zh;q=0", True, "en", "en"),          # q=0: not wanted
    ("", "en-US,en;q=0.9", True, "en", "en"),
    ("", "de-DE", True, "en", "en"),
    ("", "zh-CN", False, "en", "en"),                         # an app built in one language ignores the header
    ("", "en-US", False, "zh", "zh"),
    ("", None, True, "en", None),                             # no header: ask the browser
    ("", "", True, "en", None),
    ("", "*", True, "en", None),
    ("", "zh;q=abc,,;;", True, "en", "zh"),                   # malformed weights do not raise
])
def test_the_server_decides_the_page_language(query, accept, follow, app_lang, expected):
    import app as app_module

    assert app_module.request_language(_request(query, accept), app_lang, follow) == expected
    assert app_module.request_language(None, app_lang, follow) == (None if follow else app_lang)


def _page_open(app):
    return next(f for f in app.fns.values() if getattr(f.fn, "opener", None) is not None)


def test_the_page_load_is_one_event_that_starts_the_first_tab(app, blocks):
    """An English page: the session's language and the flag only (no #lang-detected, so no page-wide
    translation); a Chinese one: #lang-detected too; no header: the browser is asked. Its progress
    shows on one hidden box (Gradio's page then keeps one loading status, not one per output)."""
    block_fn = _page_open(app)
    dep = next(d for d in app.config["dependencies"] if d["id"] == block_fn._id)
    assert dep["show_progress_on"] == [blocks["link-ready"]._id] and dep["queue"] is False
    lang_state = block_fn.outputs[0]
    assert isinstance(lang_state, gr.State)
    en = _by_id(block_fn.fn(_request("", "en-US,en;q=0.9")))
    assert en.pop("link-ready") == 1 and list(en.values()) == ["en"]  # the State only
    zh = _by_id(block_fn.fn(_request("", "zh-CN")))
    assert zh["lang-detected"] == "zh" and zh["link-ready"] == 1 and "zh" in zh.values()
    asked = _by_id(block_fn.fn(_request("", None)))
    assert asked["lang-asked"] == 1 and "lang-detected" not in asked
    linked = _by_id(block_fn.fn(_request("tab=gan&lang=zh", "en-US")))
    assert linked["genlab-tabs"]["selected"] == "gan" and linked["lang-detected"] == "zh"
    # The first tab (the Overview) asks the server for nothing; a linked tab's first refresh starts
    # on its flag, which the load sets, not on the load itself.
    vae = _by_id(block_fn.fn(_request("tab=vae", "en-US")))
    assert vae["genlab-tabs"]["selected"] == "vae" and vae["vae-tab-opened"]
    flag = blocks["vae-tab-opened"]._id
    assert any([flag, "change"] in map(list, d["targets"]) and d["backend_fn"] and d["queue"] is not False
               for d in app.config["dependencies"])


def test_events_that_set_many_components_show_progress_on_one(app):
    """Every event with more than 40 outputs shows its progress on at most one component."""
    for dep in app.config["dependencies"]:
        if len(dep["outputs"]) > 40:
            assert dep["show_progress_on"] and len(dep["show_progress_on"]) == 1, (dep["id"], dep["targets"])


def test_shipped_lessons_follow_the_schema_and_open(opener):
    names = lessons.available()
    assert {"autoencoder-to-vae", "how-a-gan-learns", "diffusion-step-by-step", "autoregressive-step-by-step",
            "text-to-image"} <= set(names)
    for name in names:
        lesson = lessons.load(name)
        assert lesson.steps and lesson.questions
        out = _by_id(_open(opener, f"lesson={name}"))
        assert out["lesson-name"] == name and "link-notice" in out and not out["link-notice"]["visible"], name
        assert out["genlab-tabs"]["selected"] == lesson.start["tab"]
        assert out["lesson-text"].startswith("## " + lesson.title["en"])


def test_a_lesson_hides_tabs_and_locks_controls(opener):
    out = _by_id(_open(opener, "lesson=diffusion-step-by-step", lang="zh"))
    hidden = out["lesson-hidden"].split(",")
    assert "vae-tab" in hidden and "diffusion-tab-fork" in hidden and "diffusion-tab" not in hidden
    assert out["diffusion-model"]["interactive"] is False
    assert out["diffusion-eta"]["visible"] is False
    assert out["diffusion-fwd-t"]["value"] == 100
    assert "一步一步" in out["lesson-text"]


@pytest.mark.parametrize("name", ["../README", "..%2Fapp", "/etc/passwd", "nope", "a" * 300, "LESSON", ""])
def test_lesson_names_are_only_files_of_the_folder(opener, name):
    out = _by_id(_open(opener, "lesson=" + name))
    assert "lesson-name" not in out
    if name:
        assert out["link-notice"]["visible"] is True


def _write(tmp_path, name, data):
    (tmp_path / f"{name}.json").write_text(data if isinstance(data, str) else json.dumps(data), encoding="utf-8")


GOOD = {"title": {"en": "T", "zh": "题"}, "tabs": ["vae"], "start": {"tab": "vae", "t": 0.2},
        "steps": [{"en": "a", "zh": "甲"}]}


@pytest.mark.parametrize("data, words", [
    ("{not json", "not valid JSON"),
    ([1, 2], "one JSON object"),
    ({**GOOD, "colour": 1}, "unknown key 'colour'"),
    ({**GOOD, "title": {"en": "T"}}, "title must be"),
    ({**GOOD, "tabs": ["nowhere"]}, "tabs must be"),
    ({**GOOD, "start": {"tab": "gan"}}, "start.tab must name"),
    ({**GOOD, "start": {"tab": "vae", "psi": 1}}, "'psi' is not a parameter"),
    ({**GOOD, "lock": ["vae.nothing"]}, "is not a control"),
    ({**GOOD, "steps": [{"en": "a", "zh": ""}]}, "steps[0] must be"),
    ({**GOOD, "subtabs": {"vae": ["nowhere"]}}, "subtabs must map"),
])
def test_a_bad_lesson_file_gets_a_clear_message(tmp_path, data, words):
    _write(tmp_path, "bad", data)
    with pytest.raises(lessons.LessonError, match=words.replace("[", r"\[").replace("]", r"\]")):
        lessons.load("bad", tmp_path)


def test_a_bad_lesson_opens_the_app_with_a_notice(opener, tmp_path):
    _write(tmp_path, "bad", {**GOOD, "tabs": "vae"})
    _write(tmp_path, "good", GOOD)
    opener = classroom.Opener(opener.blocks, opener.tabs, opener.pg, tmp_path)
    out = _by_id(_open(opener, "lesson=bad"))
    assert "tabs must be" in out["link-notice"]["value"] and "lesson-name" not in out
    out = _by_id(_open(opener, "lesson=good&t=0.4"))
    assert out["lesson-name"] == "good" and out["vae-interp-t"]["value"] == pytest.approx(0.4)  # the link's wins
    assert "gan-tab" in out["lesson-hidden"].split(",")


def test_copy_link_code_names_each_parameter_and_its_default(blocks):
    js = links.copy_js(links.VIEWS["diffusion"], blocks)
    assert '"steps"' in js and """q.set('tab', "diffusion")""" in js and "navigator.clipboard" in js


def test_the_readmes_lesson_example_follows_the_schema():
    import re
    from pathlib import Path

    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text(encoding="utf-8")
    block = re.search(r"## Classroom links and lessons.*?```json\n(.*?)```", readme, re.S).group(1)
    assert lessons.check(json.loads(block)).lock == ("diffusion.model",)


def test_an_autoregressive_link_selects_the_part_and_its_sub_tab(opener):
    out = _by_id(_open(opener, "tab=ar&sub=prior&vq_seed=5&vq_temperature=9&vq_top_p=0.5", lang="zh"))
    assert out["genlab-tabs"]["selected"] == "ar" and out["ar-tab-opened"]["value"] == 1
    assert out["ar-subtabs"]["selected"] == "vq" and out["vq-subtabs"]["selected"] == "vq-prior"
    assert out["vq-part-opened"]["value"] == 1  # the VQ part starts when selected: its first refresh runs
    assert out["vq-seed"]["value"] == 5 and out["vq-top-p"]["value"] == 0.5
    assert "vq-temperature" not in out  # above its slider's maximum (3)
    assert "vq_temperature" in out["link-notice"]["value"] and "已忽略" in out["link-notice"]["value"]
    out = _by_id(_open(opener, "tab=ar&sub=complete&rows=20&temperature=0.5&top_k=300"))
    assert out["ar-subtabs"]["selected"] == "pixelcnn" and out["pixelcnn-subtabs"]["selected"] == "pixelcnn-complete"
    assert "vq-part-opened" not in out  # the PixelCNN part starts with the tab
    assert out["pixelcnn-complete-rows"]["value"] == 20 and out["pixelcnn-temperature"]["value"] == 0.5
    assert "pixelcnn-top-k" not in out and "top_k" in out["link-notice"]["value"]


def test_a_clip_link_sets_its_prompt_and_checks_each_value(opener):
    out = _by_id(_open(opener, "tab=clip&sub=sees&prompt=a+red+circle&steps=5000&per_layer=true&size=64"
                               "&generator=nope&seed=7"))
    assert out["genlab-tabs"]["selected"] == "clip" and out["clip-subtabs"]["selected"] == "clip-sees"
    assert out["clip-prompt"]["value"] == "a red circle" and out["clip-per-layer"]["value"] is True
    assert out["clip-size"]["value"] == 64 and out["clip-seed"]["value"] == 7
    assert "clip-steps" not in out and "clip-generator" not in out
    assert "steps" in out["link-notice"]["value"] and "generator" in out["link-notice"]["value"]
    long = _by_id(_open(opener, "tab=clip&prompt=" + "a" * (links.MAX_VALUE + 1)))
    assert "clip-prompt" not in long and "prompt" in long["link-notice"]["value"]


def test_a_metrics_link_checks_n_against_its_box(opener):
    out = _by_id(_open(opener, "tab=metrics&sub=curve&curve_n=10&curve_model=vae/mnist-vae-z2&dataset=shapes"
                               "&features=inception&n=500&tri_n=6000"))
    assert out["genlab-tabs"]["selected"] == "metrics" and out["metrics-subtabs"]["selected"] == "metrics-curve"
    assert out["metrics-curve-model"]["value"] == "vae/mnist-vae-z2" and out["metrics-dataset"]["value"] == "shapes"
    assert out["metrics-features"]["value"] == "inception" and out["metrics-n"]["value"] == 500
    assert "metrics-curve-n" not in out and "metrics-tri-n" not in out  # below 20, above 5000
    assert "curve_n" in out["link-notice"]["value"] and "tri_n" in out["link-notice"]["value"]


def test_a_train_link_picks_family_data_and_size(opener):
    out = _by_id(_open(opener, "tab=train&family=ddpm&dataset=shapes&size=huge&fast=1&steps=10", lang="zh"))
    assert out["genlab-tabs"]["selected"] == "train" and out["train-tab-opened"]["value"] == 1
    assert out["train-family"]["value"] == "ddpm" and out["train-dataset"]["value"] == "shapes"
    assert out["train-fast"]["value"] is True and "train-size" not in out
    assert "size" in out["link-notice"]["value"] and "steps" in out["link-notice"]["value"]  # not a train parameter


def test_copy_link_code_of_nested_sub_tabs_names_the_innermost(blocks):
    code = links.copy_js(links.VIEWS["ar"], blocks)
    assert '"vq-tab-prior": "prior"' in code and '"pixelcnn-part": "pixelcnn"' in code
    assert "on[on.length - 1]" in code  # the last selected button on screen: the innermost
    assert links.VIEWS["ar"].path("prior") == [("vq-subtabs", "vq-tab-prior"), ("ar-subtabs", "vq-part")]
    assert links.VIEWS["ar"].path("vq") == [("ar-subtabs", "vq-part")]


def test_late_values_without_a_link_change_nothing(app):
    """The event after the diffusion tab's first refresh: a session without late values gets one skip
    (an empty dict was read as a single value for its three sliders: an error on every plain page)."""
    import asyncio

    from gradio.state_holder import SessionState

    late = next(f for f in app.fns.values() if getattr(f.fn, "__name__", "") == "late")
    out = asyncio.run(app.process_api(block_fn=late, inputs=[None], state=SessionState(app)))
    assert all(v == {"__type__": "update"} for v in out["data"]), out["data"]
    got = late.fn({"diffusion": {"steps": 40}})  # a State's value comes from the session, not the request
    assert [(w.elem_id, v) for w, v in got.items()] == [("diffusion-steps", 40), ("diffusion-late-set", 1)]
