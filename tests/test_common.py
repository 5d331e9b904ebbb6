"""demo.common.handler: where handlers run and how their errors read."""

from __future__ import annotations

import threading
import warnings

import gradio as gr
import pytest

from demo.common import handler
from engines.errors import UserError


def _thread(lang):
    return threading.current_thread().name


def _stream(lang, n):
    for _ in range(n):
        yield threading.current_thread().name


def test_handlers_run_on_the_compute_thread_unless_told_not_to():
    assert handler(_thread)("en").startswith("genlab-compute")
    assert handler(_thread, compute=False)("en") == threading.current_thread().name
    assert handler(compute=False)(_thread)("en") == threading.current_thread().name


def test_a_streaming_handler_steps_on_the_compute_thread_item_by_item():
    names = list(handler(_stream)("en", 3))
    assert len(names) == 3 and all(n.startswith("genlab-compute") for n in names)
    assert set(handler(_stream, compute=False)("en", 2)) == {threading.current_thread().name}


def _fails(lang, kind):
    if kind == "user":
        raise UserError("value_out_of_range", what="seed", low=0, high=9, value=12)
    raise RuntimeError("boom")


def _fails_streaming(lang, kind):
    yield 1
    _fails(lang, kind)


@pytest.mark.parametrize("fn", [_fails, _fails_streaming])
@pytest.mark.parametrize("compute", [True, False])
def test_errors_read_in_the_session_language_wherever_it_ran(fn, compute):
    def run(lang, kind):
        out = handler(fn, compute=compute)(lang, kind)
        return list(out) if fn is _fails_streaming else out

    with pytest.raises(gr.Error) as err:
        run("zh", "user")
    assert err.value.message == UserError("value_out_of_range", what="seed", low=0, high=9, value=12).localized("zh")
    with pytest.raises(gr.Error) as err:
        run("en", "other")
    assert "boom" not in str(err.value.message)  # a generic message, the details in the log


def test_gradio_warnings_still_reach_the_user_from_the_compute_thread():
    def warns(lang):
        gr.Warning("careful")
        return threading.current_thread().name

    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        name = handler(warns)("en")
    assert name.startswith("genlab-compute") and any("careful" in str(w.message) for w in seen)


def test_a_live_slider_reads_the_sessions_states_fresh_and_the_rest_as_recorded():
    # The page switched to Chinese (lang is a State the switch sets, recording nothing) after the
    # load chain recorded English: the next move must draw in Chinese, with the recorded seed.
    from demo.common import Remembered

    with gr.Blocks():
        lang, seed, t = gr.State("en"), gr.Number(0), gr.Slider(0, 10)
        mem = Remembered()
    seen = []
    record, _ = mem.record(lambda lang_value, seed_value, t_value: None, [lang, seed, t])
    box = {}
    record("en", 7, 1, box)  # what the load chain recorded
    moved, inputs = mem.live(lambda *values: seen.append(values) or "picture", [lang, seed, t], t)
    assert inputs == [mem.state, lang, t]  # the session's State travels; the seed box does not
    assert moved(box, "zh", 4) == "picture"
    assert seen == [("zh", 7, 4)]


@pytest.mark.parametrize("value, expected", [("abc", 2), ("inf", 2), ("0", 1), ("3", 3)])
def test_a_hosts_long_runs_setting_never_stops_the_import(value, expected):
    import os
    import subprocess
    import sys

    env = {**os.environ, "GENLAB_LONG_RUNS": value}
    out = subprocess.run([sys.executable, "-c", "import demo.common as c; print(c.LONG['concurrency_limit'])"],
                         env=env, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-500:]
    assert out.stdout.strip() == str(expected)


# --- how tabs start in a session (AppContext.open_tab) ---------------------------------------------


def _context(demo):
    from demo.common import AppContext
    from demo.i18n import Registry
    return AppContext(demo=demo, reg=Registry("en"), lang=gr.State("en"), uploads=gr.State({}))


def test_the_first_tab_starts_with_the_page_and_the_others_when_first_selected():
    with gr.Blocks() as demo:
        ctx = _context(demo)
        with gr.Tabs():
            with gr.Tab("a") as a:
                first = ctx.open_tab(a)
            with gr.Tab("b") as b:
                second = ctx.open_tab(b)
                with gr.Tabs(), ctx.sub_tabs():
                    with gr.Tab("b1") as b1:
                        inner_first = ctx.open_tab(b1)
                    with gr.Tab("b2") as b2:
                        inner_second = ctx.open_tab(b2)
    assert first.flag is None  # the page load
    assert isinstance(second.flag, gr.Number) and not second.flag.visible
    assert inner_first is second  # a row's first tab starts with its parent
    assert inner_second.flag is not None and inner_second.flag is not second.flag
    # Each later tab's selection sets its flag through the gate, which sets it once only.
    from demo.common import _first_open
    assert _first_open(0) == 1
    assert _first_open(1) == gr.skip()
    selects = [d for d in demo.fns.values() if d.fn is _first_open]
    assert len(selects) == 2 and {d.targets[0][0] for d in selects} == {b._id, b2._id}


def test_a_gated_event_runs_only_once_its_tab_is_open():
    from demo.common import gated
    with gr.Blocks():
        flag, box = gr.Number(0), gr.Textbox()
    calls = []

    def texts(lang, value):
        calls.append((lang, value))
        return value.upper()

    fn, inputs = gated(texts, flag, [box, box])
    assert inputs == [flag, box, box]
    assert list(__import__("inspect").signature(fn).parameters) == ["gate", "lang", "value"]
    assert fn(0, "zh", "x") == gr.skip() and calls == []
    assert fn(1, "zh", "x") == "X" and calls == [("zh", "x")]
    # Another test of the gate's value (the page's language differs from the app's).
    fn, _ = gated(texts, box, [box], test=lambda v: v == "zh")
    assert fn("en", "en", "y") == gr.skip() and fn("zh", "zh", "y") == "Y"


def test_combined_events_run_in_turn_as_one():
    from demo.common import combined
    with gr.Blocks():
        a, b, c, d = gr.Textbox(), gr.Textbox(), gr.Textbox(), gr.Textbox()
    fn, inputs, outputs = combined([
        (lambda x: x + "1", [a], b),                  # one output
        (lambda x, y: gr.skip(), [a, b], [c, d]),     # one skip for both of its outputs
        (lambda x: None, [d], None),                  # records only: no output
        (lambda x: x + "!", [c], [a]),
    ])
    assert inputs == [a, a, b, d, c] and outputs == [b, c, d, a]
    assert fn("p", "q", "r", "s", "t") == ("p1", gr.skip(), gr.skip(), "t!")
    with pytest.raises(ValueError):
        combined([(lambda x: x, [a], b), (lambda x: x, [a], [b])])
