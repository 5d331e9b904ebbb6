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
