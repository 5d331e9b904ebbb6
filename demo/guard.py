"""Every value a request sends is checked against its widget before any handler sees it.

A browser only sends what its widgets allow, but anyone can call `/gradio_api/call/<name>` with
any JSON: NaN (Python's json module reads `NaN` and `Infinity`), 1e308, a string where a number
goes, a list, a choice that is not offered, a megabyte of text. Gradio 6.31 checks a Slider's or
Number's bounds in `preprocess` with `<` and `>`, which NaN passes, and an event with
`preprocess=False` is not checked at all; a wrong type ends as a generic processing error.

`install(demo, lang_state)` hooks `Blocks.preprocess_data`, the one place every event's raw
values pass on their way in (queued or not, browser or API, `preprocess` on or off), where the
session's own copy of each widget (its updated choices, maximum, label) and its state are at
hand. Each value is checked against that copy (for an event with `preprocess=False`, whose
handler takes raw values and checks them against the model's own bounds, a number's range is left
to the handler: it need only be a finite number); a bad one ends the request with a `gr.Error` in
the session's language (both languages when the event does not carry the language state), before
anything is decoded or computed. Handlers keep their own checks: this is the first line, not the
only one.
"""

from __future__ import annotations

import math
from numbers import Real

import gradio as gr

from engines.errors import UserError

from .i18n import t

TEXT_MAX = 2_000        # characters in a one- or two-line text box (a prompt, seeds, a name)
LONG_TEXT_MAX = 10_000  # ... in a taller one (the CLIP tab's captions, one per line)
CUSTOM_MAX = 200        # characters in a dropdown value typed by hand (allow_custom_value)
NUMBER_MAX = 1e12       # |value| of a number box without bounds of its own (the Train tab's settings)
SHOWN = 60              # characters of a refused value quoted back


def _shown(value) -> str:
    text = repr(value)
    return text if len(text) <= SHOWN else text[:SHOWN] + "…"


def _label(block) -> str:
    label = getattr(block, "label", None)
    return str(label) if label else type(block).__name__


def _choice_values(block) -> list:
    return [c[1] if isinstance(c, (tuple, list)) else c for c in (getattr(block, "choices", None) or [])]


def _is_number(value) -> bool:
    return isinstance(value, Real) and not isinstance(value, bool)


def check_value(block, value, *, ranges: bool = True) -> None:
    """Raise UserError when `value` is not something `block` (the session's copy) could send.

    ranges=False (an event with preprocess=False, whose handler checks its numbers against the
    model's own bounds, such as a DDPM's T): a number need only be finite and within ±NUMBER_MAX."""
    name = _label(block)
    if isinstance(block, (gr.Slider, gr.Number)):
        if value is None and isinstance(block, gr.Number):
            return  # an empty number box; the handler decides what that means
        if not _is_number(value):
            raise UserError("input_not_number", label=name, value=_shown(value))
        if not math.isfinite(value):
            raise UserError("input_not_finite", label=name, value=_shown(value))
        lo, hi = (block.minimum, block.maximum) if ranges else (None, None)
        lo = -NUMBER_MAX if lo is None else lo
        hi = NUMBER_MAX if hi is None else hi
        if not lo <= value <= hi:
            raise UserError("input_out_of_range", label=name, value=_shown(value), lo=f"{lo:g}", hi=f"{hi:g}")
    elif isinstance(block, gr.Checkbox):
        if not isinstance(value, bool):
            raise UserError("input_not_bool", label=name, value=_shown(value))
    elif isinstance(block, gr.CheckboxGroup):
        allowed = _choice_values(block)
        if not isinstance(value, list) or any(v not in allowed for v in value):
            raise UserError("input_not_choice", label=name, value=_shown(value),
                            available=", ".join(map(str, allowed)))
    elif isinstance(block, (gr.Dropdown, gr.Radio)):
        _check_choice(block, name, value)
    elif isinstance(block, gr.Textbox):
        if value is None:
            return
        if not isinstance(value, str):
            raise UserError("input_not_text", label=name, value=_shown(value))
        most = block.max_length or (LONG_TEXT_MAX if (block.lines or 1) > 2 else TEXT_MAX)
        if len(value) > most:
            raise UserError("input_too_long", label=name, length=len(value), most=most)


def _check_choice(block, name: str, value) -> None:
    if value is None:
        return
    multi = isinstance(block, gr.Dropdown) and block.multiselect
    values = value if multi and isinstance(value, list) else [value]
    allowed = _choice_values(block)
    for v in values:
        if isinstance(v, (list, dict, tuple)) or (isinstance(v, float) and not math.isfinite(v)):
            raise UserError("input_not_choice", label=name, value=_shown(v), available=_few(allowed))
        if v in allowed:
            continue
        if isinstance(block, gr.Dropdown) and block.allow_custom_value:
            if isinstance(v, str) and len(v) <= CUSTOM_MAX or _is_number(v) and math.isfinite(v):
                continue
            if isinstance(v, str):
                raise UserError("input_too_long", label=name, length=len(v), most=CUSTOM_MAX)
        raise UserError("input_not_choice", label=name, value=_shown(v), available=_few(allowed))


def _few(values, most: int = 12) -> str:
    shown = ", ".join(map(str, values[:most]))
    return shown + (", …" if len(values) > most else "")


def check_inputs(block_fn, inputs: list, state) -> None:
    """Check every raw input of one event against the session's widgets (UserError if not)."""
    for i, block in enumerate(block_fn.inputs):
        if i >= len(inputs) or getattr(block, "stateful", False):
            continue
        if i in getattr(block_fn, "component_prop_inputs", ()):  # a {"value": ..., props} dict
            value = inputs[i].get("value") if isinstance(inputs[i], dict) else inputs[i]
        else:
            value = inputs[i]
        if state is not None and block._id in state:
            block = state[block._id]
        check_value(block, value, ranges=block_fn.preprocess)


def message(err: UserError, lang: str | None) -> gr.Error:
    if lang in ("en", "zh"):
        return gr.Error(err.localized(lang), title=t("error.title", lang), print_exception=False)
    both = err.localized("en") + "\n\n" + err.localized("zh")
    return gr.Error(both, title=t("error.title", "en") + " / " + t("error.title", "zh"), print_exception=False)


def _session_lang(block_fn, state, lang_state) -> str | None:
    if lang_state is None or state is None or all(b._id != lang_state._id for b in block_fn.inputs):
        return None
    lang = state[lang_state._id]
    return lang if lang in ("en", "zh") else None


# Events that load a model or start training: refused while the app is over its memory budget.
HEAVY = ("_upload", "train_start", "train_resume", "train_continue")


def is_heavy(block_fn) -> bool:
    name = getattr(block_fn, "api_name", None) or ""
    return any(name.endswith(h) if h.startswith("_") else name == h for h in HEAVY)


def install(demo: gr.Blocks, lang_state: gr.State | None = None) -> gr.Blocks:
    """Check every event's values before Gradio preprocesses them, and refuse heavy events while
    the app is full; -> demo. Call once, after every event is wired."""
    from . import common

    if getattr(demo, "_genlab_guarded", False):
        return demo
    original = demo.preprocess_data

    async def preprocess_data(block_fn, inputs, state, explicit_call: bool = False):
        try:
            check_inputs(block_fn, inputs, state)
            if is_heavy(block_fn):
                common.check_memory()
        except UserError as err:
            raise message(err, _session_lang(block_fn, state, lang_state)) from None
        return await original(block_fn, inputs, state, explicit_call)

    demo.preprocess_data = preprocess_data
    demo._genlab_guarded = True
    return demo


# --- request bodies ------------------------------------------------------------------------------


class BodyLimit:
    """ASGI middleware: a request body larger than its bound gets 413 before it is all read.

    Gradio's own JSON routes (/gradio_api/queue/join, /gradio_api/call/NAME, /gradio_api/run/...)
    read a whole body into memory and parse it, whatever its size; uploads are bounded per file by
    launch(max_file_size=...) and here in all (a few files at once).
    """

    def __init__(self, app, *, max_bytes: int, max_upload_bytes: int):
        self.app = app
        self.max_bytes = max_bytes
        self.max_upload_bytes = max_upload_bytes

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        limit = self.max_upload_bytes if scope.get("path", "").rstrip("/").endswith("/upload") else self.max_bytes
        declared = dict(scope.get("headers") or []).get(b"content-length")
        if declared is not None:
            try:
                size = int(declared)
            except ValueError:
                size = 0
            if size > limit:
                return await self._refuse(send, size, limit)
        seen = 0
        started = refused = False

        async def counted():
            nonlocal seen, refused
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > limit:
                    if not started and not refused:  # answer now: the route may swallow the exception
                        refused = True
                        await self._refuse(send, seen, limit, more=True)
                    raise _TooLarge(seen)
            return message

        async def tracked(message):
            nonlocal started
            if refused:
                return  # the 413 went already; whatever the route answers to its cut body is dropped
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, counted, tracked)
        except _TooLarge:
            pass

    @staticmethod
    async def _refuse(send, size: int, limit: int, more: bool = False):
        """413 with the message in both languages; `more`: the body was cut at `size` bytes."""
        import json

        err = UserError("request_too_large_cut" if more else "request_too_large", size_mb=size / 2**20,
                        max_mb=round(limit / 2**20, 1))
        body = json.dumps({"error": err.localized("en"), "error_zh": err.localized("zh")},
                          ensure_ascii=False).encode()
        await send({"type": "http.response.start", "status": 413,
                    "headers": [(b"content-type", b"application/json; charset=utf-8"),
                                (b"content-length", str(len(body)).encode()), (b"connection", b"close")]})
        await send({"type": "http.response.body", "body": body})


class _TooLarge(Exception):
    def __init__(self, size: int):
        super().__init__(size)
        self.size = size
