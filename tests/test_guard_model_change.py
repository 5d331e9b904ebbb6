"""A model change keeps a slider's value, clamped by its handler: its input may come from a page that
has not yet seen an earlier event narrow that slider (an upload sets the model, then its list again;
seen in CI as an error toast "must be between 0 and 20; the request sent 300")."""

from __future__ import annotations

import gradio as gr
import pytest

from demo import guard
from engines.errors import UserError


@pytest.fixture(scope="module")
def demo():
    import app

    return app.build_app(lang="en")


def test_the_diffusion_model_change_takes_a_stale_t_and_clamps_it(demo):
    block_fn = next(f for f in demo.fns.values() if f.api_name == "diffusion_model")
    assert getattr(block_fn.fn, "clamps_ranges", False)
    t = next(b for b in demo.blocks.values() if getattr(b, "elem_id", None) == "diffusion-fwd-t")
    narrowed = gr.Slider(minimum=0, maximum=20, value=20, step=1, label=t.label)
    narrowed._id = t._id
    values = [None] * len(block_fn.inputs)
    index = next(i for i, b in enumerate(block_fn.inputs) if b is t)
    values[index] = 300
    state = {t._id: narrowed}
    guard.check_inputs(block_fn, values, state)  # a stale value: the handler clamps it
    for bad in (float("nan"), float("inf"), "300"):
        values[index] = bad
        with pytest.raises(UserError):
            guard.check_inputs(block_fn, values, state)
    # Any other event still checks the range.
    other = next(f for f in demo.fns.values() if f.api_name == "diffusion_forward")
    values = [None] * len(other.inputs)
    values[next(i for i, b in enumerate(other.inputs) if b is t)] = 300
    with pytest.raises(UserError):
        guard.check_inputs(other, values, state)


def test_a_links_gated_redraw_takes_a_stale_t(demo):
    """The redraw a link's late values start (it skips without a link) reads the forward t when sent:
    after an upload's model change it may exceed the narrowed slider; its numbers need only be finite."""
    t = next(b for b in demo.blocks.values() if getattr(b, "elem_id", None) == "diffusion-fwd-t")
    gated = [f for f in demo.fns.values() if getattr(f.fn, "clamps_ranges", False) and t in f.inputs
             and f.api_name != "diffusion_model"]
    assert gated
    narrowed = gr.Slider(minimum=0, maximum=20, value=20, step=1, label=t.label)
    narrowed._id = t._id
    for block_fn in gated:
        values = [None] * len(block_fn.inputs)
        values[block_fn.inputs.index(t)] = 300
        guard.check_inputs(block_fn, values, {t._id: narrowed})
        assert block_fn.fn(None, *values[1:]) is not None  # no link: one skip, nothing computed
