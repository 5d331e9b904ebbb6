"""A small form layer: widgets registered with their string key once, handlers with named values.

`widget(reg, gr.Slider, label="interp.t", info="interp.t.info", minimum=0, ...)` builds the
component with the build language's strings and registers the same keys for the language switch
(demo/i18n.Registry), so a key is written once. `text="key"` is a Markdown's or Button's value;
`choice_keys=[("key", value), ...]` are a Radio's or Dropdown's choices with translated labels.
A key may also be ("key", "### {}"): the string put into a template.

`event(fn, {"model": model, "t_value": t_slider}, {"image": img})` wires a handler by name:
Gradio still sees one positional input per component (and the API keeps its parameter names and
order: they are the dict's keys), but `fn(lang, v)` reads `v.model`, `v.t_value`, and returns
`{"image": ...}`, which becomes the tuple in output order (a name it leaves out is skipped).
Adding a widget to an event then never shifts anything. A list of components under one name
(16 latent sliders) arrives as a list and is returned as a list; placed last, it is the API's
`*name`. A handler with one output may return its value plainly. A dict of components under one name (the
playground's settings) arrives as a namespace (`v.values.model`); placed last, it too is `*name`.

`plain(fn, inputs, outputs)` is the same for a widget-only event that needs no session language and
runs no model (a control that shows or hides others): `fn(v) -> {name: update}`.
"""

from __future__ import annotations

import inspect
import typing
from types import SimpleNamespace

import gradio as gr

from .common import handler

TEXT_PROPS = ("label", "info", "placeholder", "x_title", "y_title", "color_title")  # the props a key may fill


def widget(reg, cls, *, text=None, choice_keys=None, **kwargs):
    """cls(**kwargs) with its label / info / placeholder / text / choices given as string keys."""
    keys = {p: kwargs[p] for p in TEXT_PROPS if p in kwargs}
    if text is not None:
        keys["value"] = text
    built = {p: _in(reg, key) for p, key in keys.items()}
    if choice_keys is not None:
        keys["choices"] = choice_keys
        built["choices"] = reg.choices(choice_keys)
    return reg(cls(**{**kwargs, **built}), **keys)


def _in(reg, key):
    """A key (or ("key", template)) in the registry's build language."""
    return key[1].format(reg.text(key[0])) if isinstance(key, tuple) else reg.text(key)


class Event(typing.NamedTuple):
    """What gr.on / .click / .then / Remembered take: fn, inputs, outputs."""

    fn: typing.Callable
    inputs: list
    outputs: list


def _flat(named: dict) -> list:
    out = []
    for comp in named.values():
        out += list(comp.values()) if isinstance(comp, dict) else list(comp) if isinstance(comp, (list, tuple)) \
            else [comp]
    return out


def _size(comp) -> int | None:
    """A group's number of components (a list, or a dict of named ones); None for one component."""
    return len(comp) if isinstance(comp, (list, tuple, dict)) else None


def _specials(fn) -> list[inspect.Parameter]:
    """fn's Gradio-injected parameters after (lang, v): gr.SelectData, gr.Progress."""
    return list(inspect.signature(fn).parameters.values())[2:]


def named(fn, inputs: dict, outputs=None):
    """The positional function Gradio calls (lang, *input values) -> the ordered outputs."""
    names = list(inputs)
    sizes = [_size(c) for c in inputs.values()]
    groups = {name: list(c) for name, c in inputs.items() if isinstance(c, dict)}  # named groups
    out_names = list(outputs) if isinstance(outputs, dict) else None
    out_sizes = [_size(c) for c in outputs.values()] if out_names else []
    specials = _specials(fn)

    def values(args):
        v, i = {}, 0
        for name, size in zip(names, sizes):
            v[name] = args[i] if size is None else list(args[i:i + size])
            if name in groups:
                v[name] = SimpleNamespace(**dict(zip(groups[name], v[name])))
            i += 1 if size is None else size
        return SimpleNamespace(**v), args[i:]

    def ordered(result):
        if out_names is None or not isinstance(result, dict) or "__type__" in result:
            return result  # one output, or a whole-event gr.skip()
        unknown = set(result) - set(out_names)
        if unknown:  # a misspelt name would otherwise leave its output silently unchanged
            raise KeyError(f"{fn.__name__} returned names its event does not output: {sorted(unknown)}")
        out = []
        for name, size in zip(out_names, out_sizes):
            value = result.get(name, gr.skip() if size is None else [gr.skip()] * size)
            out += [value] if size is None else list(value)
        return out[0] if len(out) == 1 else tuple(out)

    # Gradio passes its injected arguments (gr.Progress) by position; a direct call may name them.
    if inspect.isgeneratorfunction(fn):
        def positional(lang, *args, **injected):
            v, extra = values(args)
            for item in fn(lang, v, *extra, **injected):
                yield ordered(item)
    else:
        def positional(lang, *args, **injected):
            v, extra = values(args)
            return ordered(fn(lang, v, *extra, **injected))

    # Gradio reads the API's parameter names and injected arguments from the signature.
    kind = inspect.Parameter.POSITIONAL_OR_KEYWORD
    params = [inspect.Parameter("lang", kind)]
    for i, (name, size) in enumerate(zip(names, sizes)):
        if size is None:
            params.append(inspect.Parameter(name, kind))
        elif i == len(names) - 1 and not specials:
            params.append(inspect.Parameter(name, inspect.Parameter.VAR_POSITIONAL))
        else:
            params += [inspect.Parameter(f"{name}_{j}", kind) for j in range(size)]
    hints = typing.get_type_hints(fn) if specials else {}
    params += [p.replace(annotation=hints.get(p.name, p.annotation)) for p in specials]
    positional.__signature__ = inspect.Signature(params)
    positional.__annotations__ = {p.name: hints[p.name] for p in specials if p.name in hints}
    positional.__name__ = positional.__qualname__ = fn.__name__
    return positional


def plain(fn, inputs: dict, outputs: dict) -> Event:
    """fn(v) -> {name: value} wired without the session language or common.handler (it runs no model)."""
    inner = named(lambda lang, v: fn(v), inputs, outputs)

    def call(*args):
        return inner(None, *args)

    call.__name__ = fn.__name__
    return Event(call, _flat(inputs), _flat(outputs))


def event(fn, lang, inputs: dict, outputs=None, **handler_kw) -> Event:
    """fn(lang, v) -> {name: value} wired as Gradio's (fn, [lang, *inputs], [*outputs]), wrapped by
    common.handler (errors in the session language, the compute thread)."""
    wrapped = handler(named(fn, inputs, outputs), **handler_kw)
    outs = _flat(outputs) if isinstance(outputs, dict) else ([] if outputs is None else outputs)
    return Event(wrapped, [lang, *_flat(inputs)], outs if isinstance(outs, list) else [outs])


class Form:
    """A tab's event maker: the session's states (its language first, then e.g. uploads) go into
    every event, so `form(fn, {"model": model}, {"image": img})` names only the widgets."""

    def __init__(self, lang, **session):
        self.lang, self.session = lang, session

    def __call__(self, fn, inputs: dict, outputs=None, **handler_kw) -> Event:
        return event(fn, self.lang, {**self.session, **inputs}, outputs, **handler_kw)
