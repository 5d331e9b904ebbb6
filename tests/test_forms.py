"""The UI form layer (demo/forms.py) and the shape of the tabs converted to it.

A widget names its string key once; a handler reads named values and returns named outputs, which
reach Gradio in output order; the API keeps its parameter names; no function of a converted tab
module runs over 60 lines.
"""

from __future__ import annotations

import ast
import inspect
from pathlib import Path

import gradio as gr
import pytest

from demo import forms
from demo.i18n import Registry, t

DEMO = Path(__file__).resolve().parents[1] / "demo"
# Modules whose widgets are built with forms.widget (each string key written once).
KEYS_ONCE = ("vae_tab.py", "gan_tab.py", "image_inputs.py", "diffusion_tab.py", "clip_tab.py", "playground_tab.py",
             "train_tab.py", "common.py")
# Modules with no function over 60 lines: the tabs on the form layer (named handlers: vae, gan),
# the tabs whose build() is split per sub-tab, and the shared modules.
SPLIT = KEYS_ONCE + ("forms.py", "plots_common.py")
MAX_LINES = 60


def _functions(path: Path):
    tree = ast.parse(path.read_text(encoding="utf-8"))
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            yield node.name, node.end_lineno - node.lineno + 1


@pytest.mark.parametrize("name", SPLIT)
def test_no_function_of_a_converted_tab_is_over_60_lines(name):
    long = {f: n for f, n in _functions(DEMO / name) if n > MAX_LINES}
    assert long == {}, f"{name}: {long}"


def test_the_length_check_can_fail(tmp_path):
    body = "\n".join(f"    x{i} = {i}" for i in range(MAX_LINES))
    path = tmp_path / "long.py"
    path.write_text(f"def long():\n{body}\n", encoding="utf-8")
    assert dict(_functions(path)) == {"long": MAX_LINES + 1}


def _twice_named(path: Path) -> list[str]:
    """Widgets that name a string key twice: `reg(gr.X(... reg.text("k") ...), label="k")`."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found = []
    for node in ast.walk(tree):
        if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "reg"):
            continue
        inner = [n for n in ast.walk(node) if isinstance(n, ast.Call) and isinstance(n.func, ast.Attribute)
                 and n.func.attr in ("text", "choices")]
        if inner:
            found.append(f"line {node.lineno}")
    return found


@pytest.mark.parametrize("name", KEYS_ONCE)
def test_each_widget_names_its_key_once(name):
    assert _twice_named(DEMO / name) == []


def test_the_key_check_can_fail(tmp_path):
    path = tmp_path / "old.py"
    path.write_text('x = reg(gr.Slider(label=reg.text("interp.t")), label="interp.t")\n', encoding="utf-8")
    assert _twice_named(path) == ["line 1"]


def test_no_plot_module_imports_another_tabs_private_helpers():
    for path in DEMO.glob("*_plots.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and (node.module or "").endswith("_plots"):
                private = [a.name for a in node.names if a.name.startswith("_")]
                assert private == [], f"{path.name} imports {private} from {node.module}"


# --- widget ---------------------------------------------------------------------------------------


def test_widget_builds_in_the_build_language_and_registers_the_keys():
    reg = Registry("zh")
    with gr.Blocks():
        slider = forms.widget(reg, gr.Slider, minimum=0, maximum=1, value=0.5, label="interp.t",
                              info="interp.t.info")
        title = forms.widget(reg, gr.Markdown, text=("interp.a", "#### {}"))
        radio = forms.widget(reg, gr.Radio, choice_keys=[("interp.linear", "linear")], value="linear",
                             label="interp.mode")
    assert slider.label == t("interp.t", "zh") and slider.info == t("interp.t.info", "zh")
    assert slider.value == 0.5  # a plain value is not a key
    assert title.value == "#### " + t("interp.a", "zh")
    assert radio.choices == [(t("interp.linear", "zh"), "linear")]
    assert reg.components == [slider, title, radio]
    en = reg.updates("en")
    assert en[0]["label"] == t("interp.t", "en") and en[0]["info"] == t("interp.t.info", "en")
    assert en[1]["value"] == "#### " + t("interp.a", "en")
    assert en[2]["choices"] == [(t("interp.linear", "en"), "linear")]


# --- named handlers -------------------------------------------------------------------------------


def _components():
    with gr.Blocks():
        return (gr.State(), gr.Number(), gr.Number(), [gr.Slider() for _ in range(3)], gr.Image(), gr.Markdown())


def test_named_inputs_and_outputs_keep_gradios_order():
    lang, a, b, group, image, text = _components()
    seen = {}

    def fn(lang, v):
        seen.update(lang=lang, a=v.a, b=v.b, group=v.group)
        return {"text": f"{v.a + v.b}", "image": "picture"}  # any order; Gradio gets output order

    ev = forms.event(fn, lang, {"a": a, "b": b, "group": group}, {"image": image, "text": text})
    assert ev.inputs == [lang, a, b, *group] and ev.outputs == [image, text]
    assert ev.fn("en", 1, 2, 7, 8, 9) == ("picture", "3")
    assert seen == {"lang": "en", "a": 1, "b": 2, "group": [7, 8, 9]}


def test_a_name_left_out_is_skipped_and_groups_come_back_in_place():
    lang, a, b, group, image, text = _components()
    ev = forms.event(lambda lang, v: {"group": [1, 2, 3]}, lang, {"a": a}, {"image": image, "group": group,
                                                                           "text": text})
    out = ev.fn("en", 0)
    assert out[1:4] == (1, 2, 3)
    assert out[0] == gr.skip() and out[4] == gr.skip()
    assert forms.event(lambda lang, v: {}, lang, {"a": a}, {"image": image, "text": text}).fn("en", 0) == \
        (gr.skip(), gr.skip())


def test_an_unknown_output_name_is_refused():
    lang, a, b, group, image, text = _components()
    ev = forms.event(lambda lang, v: {"imag": 1}, lang, {"a": a}, {"image": image}, compute=False)
    with pytest.raises(gr.Error):  # common.handler turns the KeyError into the generic message
        ev.fn("en", 0)


def test_one_output_may_be_returned_plainly():
    lang, a, b, group, image, text = _components()
    ev = forms.event(lambda lang, v: v.a * 2, lang, {"a": a}, image)
    assert ev.fn("en", 4) == 8 and ev.outputs == [image]


def test_the_api_keeps_the_input_names_and_a_last_group_is_varargs():
    lang, a, b, group, image, text = _components()
    params = inspect.signature(forms.named(lambda lang, v: None, {"a": a, "group": group})).parameters
    assert list(params) == ["lang", "a", "group"]
    assert params["group"].kind is inspect.Parameter.VAR_POSITIONAL
    params = inspect.signature(forms.named(lambda lang, v: None, {"group": group, "b": b})).parameters
    assert list(params) == ["lang", "group_0", "group_1", "group_2", "b"]


def test_gradios_injected_arguments_pass_through():
    lang, a, b, group, image, text = _components()

    def clicked(lang, v, evt: gr.SelectData):
        return {"text": f"{v.a} at {evt.index}"}

    fn = forms.named(clicked, {"a": a}, {"text": text})
    params = inspect.signature(fn).parameters
    assert list(params) == ["lang", "a", "evt"] and fn.__annotations__["evt"] is gr.SelectData
    assert fn("en", 3, type("E", (), {"index": [1, 2]})()) == "3 at [1, 2]"


def test_a_streaming_handler_streams_named_outputs():
    lang, a, b, group, image, text = _components()

    def run(lang, v):
        for i in range(v.a):
            yield {"text": str(i)}

    fn = forms.named(run, {"a": a}, {"image": image, "text": text})
    assert inspect.isgeneratorfunction(fn)
    assert list(fn("en", 2)) == [(gr.skip(), "0"), (gr.skip(), "1")]


def test_the_vae_api_keeps_its_parameter_names():
    """The names gradio_client users see come from the event's input names (tests/test_app_client.py
    checks them over HTTP; this is the in-process check)."""
    import app

    demo = app.build_app()
    fns = {fn.api_name: fn for fn in demo.fns.values() if fn.api_name}

    def names(api):
        return [p for p in inspect.signature(fns[api].fn).parameters if p not in ("lang", "uploads", "za", "zb")]

    assert names("vae_interpolate") == ["model", "t_value", "mode"]
    assert names("vae_endpoint_a") == ["model", "source", "example", "seed", "upload", "sketch"]
    assert names("vae_map_decode") == ["map_model", "n", "span", "z1", "z2"]
    assert names("gan_noise_image") == ["model", "seed", "psi", "where", "strength", "draw", "per_layer"]
    assert names("gan_preset") == ["model", "group", "seeds_a", "seeds_b", "psi"]


def test_a_named_group_arrives_as_a_namespace_and_is_the_apis_varargs():
    lang, a, b, group, image, text = _components()
    seen = {}

    def fn(lang, v):
        seen.update(a=v.a, x=v.values.x, z=v.values.z)
        return {"text": "ok"}

    fn_named = forms.named(fn, {"a": a, "values": dict(zip("xyz", group))}, {"text": text})
    assert list(inspect.signature(fn_named).parameters) == ["lang", "a", "values"]
    assert fn_named("en", 1, 7, 8, 9) == "ok" and seen == {"a": 1, "x": 7, "z": 9}


def test_a_plain_event_takes_no_language():
    lang, a, b, group, image, text = _components()
    ev = forms.plain(lambda v: {"text": v.a + 1}, {"a": a}, {"image": image, "text": text})
    assert ev.inputs == [a] and ev.outputs == [image, text]
    assert ev.fn(1) == (gr.skip(), 2)
