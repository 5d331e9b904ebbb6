"""Helpers for the tab tests that call a built app's handlers in-process (no server)."""

from __future__ import annotations


class NoProgress:
    """Stands in for gr.Progress when a streaming handler is called directly."""

    def __call__(self, *args, **kwargs):
        pass


def api_lookup(demo):
    """api_name -> the wrapped handler the app calls (UserError -> gr.Error), as the app wires it.

    The returned function also carries `.fns` (api_name -> Gradio's BlockFunction)."""
    fns = {fn.api_name: fn for fn in demo.fns.values() if fn.api_name}

    def get(name):
        assert name in fns, f"no event with api_name {name!r}"
        return fns[name].fn

    get.fns = fns
    return get
