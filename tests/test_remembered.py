"""common.Remembered: a live slider's event sends only itself; its other inputs come from the
events that recorded them, per session."""

from __future__ import annotations

import asyncio

import gradio as gr

from demo.common import Remembered


def _two_output_app():
    with gr.Blocks() as demo:
        mem = Remembered()
        seed = gr.Number(value=1)
        slider = gr.Slider(0, 1, value=0.5)
        a, b = gr.Textbox(), gr.Textbox()

        def draw(seed_value, t):
            return f"a {seed_value} {t}", f"b {seed_value} {t}"

        seed.submit(*mem.record(draw, [seed, slider]), [a, b])
        slider.input(*mem.live(draw, [seed, slider], slider), [a, b])
    return demo, mem


def test_live_slider_before_any_record_skips_every_output():
    demo, *_ = _two_output_app()
    live_fn = demo.fns[1]
    out = live_fn.fn({}, 0.25)
    assert out == gr.skip()
    # Gradio turns the one skip into a skip for each of the two outputs.
    shown = asyncio.run(demo.postprocess_data(live_fn, out, None))
    assert len(shown) == 2 and all(v == gr.skip() for v in shown)


def test_live_slider_after_a_record_calls_with_the_stored_inputs():
    demo, *_ = _two_output_app()
    record_fn, live_fn = demo.fns[0], demo.fns[1]
    box = {}
    assert record_fn.fn(7, 0.5, box) == ("a 7 0.5", "b 7 0.5")
    assert live_fn.fn(box, 0.75) == ("a 7 0.75", "b 7 0.75")


def test_record_stores_outputs_returned_as_a_list():
    with gr.Blocks():
        mem = Remembered()
        seed, slider = gr.Number(value=1), gr.Slider(0, 1, value=0.5)
        fn, _ = mem.record(lambda s: [s + 1, 0.25], [seed], [seed, slider])  # Gradio takes a list too
    box = {}
    fn(3, box)
    assert box == {seed._id: 4, slider._id: 0.25}  # the value it set, after the one it was called with
