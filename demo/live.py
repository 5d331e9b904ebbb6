"""Live sliders off Gradio's queue: each move is one small HTTP request answered with its pictures.

A Gradio event costs the server about 50 ms of CPU whatever its handler does (the session's
state and config, the queue, the server-sent event stream, a file per picture), and a class of 30
dragging sliders sends about 90 of them a second: more than a 2-core Space has, so every slider
waited seconds (benchmarks/class_burst.py). A picture for a slider's new value needs none of that.

How a move travels:
1. The page runs a JavaScript-only Gradio event on the slider's input (`Remembered.fast` wires
   it; no queue, no server event). Its function POSTs {session, slider, value} to /genlab/live,
   at most one request per slider in flight, the newest value winning (like trigger_mode
   "always_last"), and returns the outputs' new values, which the page applies as it applies any
   event's result: Gradio's own state stays right, and its later events overwrite them as usual.
2. `LiveRoute` (ASGI middleware in front of Gradio) answers it: it finds the session's Gradio
   state (`demo.state_holder`, never creating one), checks the value against the session's own
   copy of the slider (demo.guard's checks), builds the handler's call from the values the
   session's other events remembered (`common.Remembered`), runs it on the compute thread's
   interactive lane, and sends pictures back as PNG data URLs and text as text. Answers are kept
   for every session (`Answers`): a class moving the same sliders over the same models and seeds
   is mostly served from there.
3. An error comes back in the session's language and the page shows it in a toast (live.js).

The API keeps its full-input events (`gr.on([], ..., api_name=...)` in each tab).
"""

from __future__ import annotations

import base64
import io
import json
import logging
import math
import os
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass

import gradio as gr
import numpy as np
from PIL import Image

from engines import runtime
from engines.errors import UserError

from . import guard
from .i18n import t

log = logging.getLogger("genlab.live")

PATH = "/genlab/live"
BODY_MAX = 4096            # bytes: {session, slider, value} is under 100
IN_FLIGHT = 16             # moves computed at once, app-wide (they queue on the one compute thread anyway)
WAITING_MAX = 120          # moves waiting for one of those places; beyond it: 503 busy
PER_SESSION = 4            # moves in flight per session (the page sends one per slider at a time)
PNG_LEVEL = 1              # zlib level: the pictures are small, nearest-upscaled and compress well anyway
ANSWERS_MB = 64            # encoded answers kept for every session (Answers)


@dataclass
class Entry:
    """One live slider: its handler, how its arguments are made, and what it reads and writes."""

    slider: gr.components.Component
    fn: object                          # the tab's handler (wrapped by common.handler)
    compose: object                     # compose(box, *fresh, value) -> fn's arguments or None
    box: gr.State                       # the session's Remembered store
    fresh: list                         # the session's gr.States passed fresh with every move
    outputs: list


class Answers:
    """Encoded answers shared by every session, least recently used dropped first, bounded in bytes.

    A class opens the same page: the same shipped models, seeds and examples, sliders on the same
    grid of values, so one student's picture for psi = 0.45 is the next one's. Only answers whose
    arguments are plain values (text, numbers, None, lists and dicts of them) are kept: a session's
    own objects (a diffusion run) change in place. An uploaded model's arguments carry its session's
    own folder, so its answers serve that session alone."""

    def __init__(self, max_bytes: int):
        self.max_bytes, self.bytes = max_bytes, 0
        self.items: OrderedDict[str, tuple[list, int]] = OrderedDict()
        self.lock = threading.Lock()
        self.hits = self.misses = 0

    @staticmethod
    def key(slider_key: str, args) -> str | None:
        try:
            return slider_key + json.dumps(args, allow_nan=False, separators=(",", ":"), sort_keys=True)
        except (TypeError, ValueError):
            return None

    def get(self, key: str | None, count: bool = True):
        if key is None:
            return None
        with self.lock:
            item = self.items.get(key)
            if item is None:
                self.misses += count
                return None
            self.items.move_to_end(key)
            self.hits += count
            return item[0]

    def put(self, key: str | None, outputs: list) -> None:
        if key is None:
            return
        size = len(key) + sum(len(o["url"]) if isinstance(o, dict) and "url" in o else len(str(o)) for o in outputs)
        if size > self.max_bytes // 8:
            return
        with self.lock:
            if key in self.items:
                return
            self.items[key] = (outputs, size)
            self.bytes += size
            while self.bytes > self.max_bytes:
                _, (_, dropped) = self.items.popitem(last=False)
                self.bytes -= dropped


ANSWERS = Answers(ANSWERS_MB * 2**20)


class Prefetch:
    """The next value of a slider being moved, computed while the compute thread has nothing else
    to do, so that the next step of a drag (or an arrow key) is a kept answer.

    A slider moved from a to b is likely to go to b + (b - a) next: that value (within the slider's
    range, on its step grid, written as the page's JSON writes numbers) is computed once the answer
    for b has been sent, if the compute thread is idle and no other guess is being computed, and
    only for answers `Answers` may keep (plain arguments). It runs as any move does, so a move that
    arrives meanwhile waits for at most this one handler call. GENLAB_LIVE_PREFETCH=0 turns it off."""

    REMEMBERED = 4096  # (session, slider) pairs whose last value is kept, least recent dropped first

    def __init__(self, enabled: bool = True):
        self.enabled = enabled
        self.last: OrderedDict[tuple[str, str], float] = OrderedDict()
        self.busy = False
        self.lock = threading.Lock()
        self.done = 0

    def guess(self, session: str, slider_key: str, block, value) -> float | int | None:
        """Remember `value` as the slider's newest -> the value after it, or None."""
        with self.lock:
            prev = self.last.pop((session, slider_key), None)
            self.last[(session, slider_key)] = value
            while len(self.last) > self.REMEMBERED:
                self.last.popitem(last=False)
        if not self.enabled or not isinstance(block, gr.Slider) or prev is None or prev == value:
            return None
        lo, hi, step = block.minimum, block.maximum, block.step or 0
        nxt = min(max(value + (value - prev), lo), hi)
        if step > 0:
            nxt = lo + round((nxt - lo) / step) * step
        nxt = round(nxt, 9)
        if not lo <= nxt <= hi or nxt == value:
            return None
        return int(nxt) if float(nxt).is_integer() else nxt  # as JSON.stringify writes it

    def claim(self) -> bool:
        with self.lock:
            if self.busy or not self.enabled or not runtime.idle():
                return False
            self.busy = True
            return True

    def release(self) -> None:
        with self.lock:
            self.busy = False
            self.done += 1


PREFETCH = Prefetch(enabled=os.environ.get("GENLAB_LIVE_PREFETCH", "1").strip() != "0")


def registry(demo: gr.Blocks) -> dict[str, Entry]:
    """The live sliders wired in `demo`, by key."""
    if not hasattr(demo, "_genlab_live"):
        demo._genlab_live = {}
    return demo._genlab_live


def key(slider) -> str:
    return str(slider._id)


SCRIPT = """async (value) => window.genlabLive(%s, value, %d)"""


def wire(slider, fn, compose, inputs: list, outputs: list, triggers=None) -> None:
    """Register a live slider in the Blocks being built and wire its page-side event.

    compose, inputs: from `Remembered.composer` (inputs = [store, *fresh States, slider])."""
    demo = gr.context.Context.root_block
    store, *fresh, _ = inputs
    registry(demo)[key(slider)] = Entry(slider, fn, compose, store, fresh, list(outputs))
    gr.on(triggers or [slider.input], None, [slider], list(outputs), js=SCRIPT % (json.dumps(key(slider)), len(outputs)),
          queue=False, show_progress="hidden", api_visibility="private")


# --- the answer ----------------------------------------------------------------------------------


class Refused(Exception):
    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status, self.message = status, message


def both(key_: str, **kw) -> str:
    return t(key_, "en", **kw) + " / " + t(key_, "zh", **kw)


def _session(demo: gr.Blocks, session_hash):
    holder = getattr(demo, "state_holder", None)
    if holder is None or not isinstance(session_hash, str) or len(session_hash) > 64:
        return None
    session = holder.session_data.get(session_hash)
    if session is not None:
        import datetime

        holder.time_last_used[session_hash] = datetime.datetime.now()  # a dragging student is not idle
    return session


def _lang(demo, session) -> str | None:
    lang_state = getattr(demo, "_genlab_lang_state", None)
    if lang_state is None:
        return None
    lang = session.state_data.get(lang_state._id, lang_state.value)
    return lang if lang in ("en", "zh") else None


def answer(demo: gr.Blocks, request: dict) -> dict:
    """The outputs for one move: {"outputs": [...]} (each a {"url": data URL}, a string, None, or
    {"skip": true} for an output left as it is), or {"skip": true} for all of them."""
    ready = prepare(demo, request)
    return ready if isinstance(ready, dict) else compute(*ready)


def prepare(demo: gr.Blocks, request: dict):
    """Everything but the handler (cheap, no thread needed): the answer when it is known already
    (kept, or nothing to show yet), else (entry, args, cache key) for `compute`."""
    if not isinstance(request, dict):
        raise Refused(400, both("live.bad_request"))
    entry = registry(demo).get(str(request.get("slider")))
    if entry is None:
        raise Refused(404, both("live.unknown_slider"))
    session = _session(demo, request.get("session"))
    if session is None:
        raise Refused(410, both("live.no_session"))
    lang = _lang(demo, session)
    value = request.get("value")
    try:
        guard.check_value(session[entry.slider._id], value)
    except UserError as err:
        raise Refused(400, err.localized(lang) if lang else err.localized("en") + " / " + err.localized("zh")) from None
    box = session[entry.box._id]
    fresh = [session[c._id] for c in entry.fresh]
    args = entry.compose(box, *fresh, value)
    if args is None:  # before the session's first recorded event: nothing to show yet
        return {"skip": True}
    cache_key = Answers.key(key(entry.slider), args)
    outputs = ANSWERS.get(cache_key)
    if outputs is not None:
        return {"outputs": outputs}
    return entry, args, cache_key


def next_move(demo: gr.Blocks, request: dict):
    """After a move was answered: (entry, args, cache key) of the slider's likely next value when it
    is worth computing now (Prefetch), else None. Never raises."""
    try:
        entry = registry(demo).get(str(request.get("slider")))
        session = _session(demo, request.get("session"))
        if entry is None or session is None:
            return None
        block = session[entry.slider._id]
        value = PREFETCH.guess(request["session"], key(entry.slider), block, request.get("value"))
        if value is None:
            return None
        guard.check_value(block, value)
        box = session[entry.box._id]
        # A copy: compose stores the values it is given as the session's own, and a guess is not a move.
        box = dict(box) if isinstance(box, dict) else {}
        args = entry.compose(box, *[session[c._id] for c in entry.fresh], value)
        cache_key = Answers.key(key(entry.slider), args) if args is not None else None
        if cache_key is None or ANSWERS.get(cache_key, count=False) is not None:
            return None
        return entry, args, cache_key
    except Exception:  # noqa: BLE001 - a guess that cannot be made is simply not made
        log.debug("no prefetch", exc_info=True)
        return None


def compute(entry: Entry, args: tuple, cache_key: str | None, timing: dict | None = None) -> dict:
    """Run the handler (on the compute thread, through common.handler) and encode its outputs.
    timing, when given, gets the milliseconds spent waiting for the compute thread ("queue"),
    running there ("run") and encoding the pictures ("encode")."""
    began = time.perf_counter()
    try:
        with runtime.timed_calls() as spent:
            result = entry.fn(*args)
        encoding = time.perf_counter()
        outputs = encode(result, len(entry.outputs))
    except gr.Error as err:
        raise Refused(422, str(err.message)) from None
    if timing is not None:
        timing.update(thread=(began - timing.pop("_sent", began)) * 1e3, queue=spent[0] * 1e3, run=spent[1] * 1e3,
                      encode=(time.perf_counter() - encoding) * 1e3)
    if not any(isinstance(o, dict) and o.get("skip") for o in outputs):
        ANSWERS.put(cache_key, outputs)
    return {"outputs": outputs}


def server_timing(timing: dict) -> bytes:
    """{"queue": 12.5, ...} (ms) -> a Server-Timing header value (the browser's devtools show it)."""
    return ", ".join(f"{name};dur={value:.1f}" for name, value in timing.items()).encode()


def _skipped(value) -> bool:
    return isinstance(value, dict) and value.get("__type__") == "update" and "value" not in value


def encode(result, n: int):
    """A handler's result for n outputs -> JSON-ready values the page's components take."""
    if _skipped(result):
        return [{"skip": True}] * n
    values = list(result) if n > 1 else [result]
    return [_one(v) for v in values]


def _one(value):
    if _skipped(value):
        return {"skip": True}
    if isinstance(value, dict) and value.get("__type__") == "update":
        value = value["value"]
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, (int, float)) and math.isfinite(value):
        return value
    if isinstance(value, Image.Image):
        value = np.asarray(value)
    if isinstance(value, np.ndarray):
        return {"url": png_data_url(value)}
    raise TypeError(f"a live output of type {type(value).__name__}")


def png_data_url(image: np.ndarray) -> str:
    array = np.asarray(image)
    if array.dtype != np.uint8:
        array = np.clip(array, 0, 255).astype(np.uint8)
    buf = io.BytesIO()
    Image.fromarray(array).save(buf, format="PNG", compress_level=PNG_LEVEL)
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


# --- the route -----------------------------------------------------------------------------------


class LiveRoute:
    """ASGI middleware: POST /genlab/live is answered here; every other request goes on to Gradio."""

    def __init__(self, app, *, demo: gr.Blocks):
        import anyio

        self.app, self.demo = app, demo
        self.limiter = anyio.CapacityLimiter(IN_FLIGHT)
        self.waiting = 0
        self.sessions: dict[str, int] = {}
        self.lock = threading.Lock()
        self.tasks: set = set()  # prefetches running (a reference, so none is collected mid-run)

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http" or not scope.get("path", "").endswith(PATH):
            return await self.app(scope, receive, send)
        if scope.get("method") != "POST":
            return await _send(send, 405, {"error": both("live.bad_request")})
        try:
            request = json.loads(await _body(receive))
        except (ValueError, UnicodeDecodeError):
            return await _send(send, 400, {"error": both("live.bad_request")})
        session = request.get("session") if isinstance(request, dict) else None
        session = session if isinstance(session, str) else ""
        with self.lock:
            if self.waiting >= WAITING_MAX or self.sessions.get(session, 0) >= PER_SESSION:
                busy = True
            else:
                busy = False
                self.waiting += 1
                self.sessions[session] = self.sessions.get(session, 0) + 1
        if busy:
            return await _send(send, 503, {"error": both("live.busy")})
        arrived, timing = time.perf_counter(), {}
        try:
            import anyio

            ready = prepare(self.demo, request)  # a kept answer needs no thread
            timing["prepare"] = (time.perf_counter() - arrived) * 1e3
            if not isinstance(ready, dict):
                timing["_sent"] = time.perf_counter()
                ready = await anyio.to_thread.run_sync(compute, *ready, timing, limiter=self.limiter)
            status, body = 200, ready
        except Refused as err:
            status, body = err.status, {"error": err.message}
        except Exception:
            log.exception("live slider")
            status, body = 500, {"error": both("error.unexpected")}
        finally:
            with self.lock:
                self.waiting -= 1
                left = self.sessions.get(session, 1) - 1
                if left > 0:
                    self.sessions[session] = left
                else:
                    self.sessions.pop(session, None)
        timing.pop("_sent", None)
        timing["total"] = (time.perf_counter() - arrived) * 1e3
        await _send(send, status, body, server_timing(timing))
        if status == 200 and isinstance(request, dict):
            await self._prefetch(request)

    async def _prefetch(self, request: dict) -> None:
        ready = next_move(self.demo, request)  # the slider's newest value is noted either way
        if ready is None or not PREFETCH.claim():
            return
        import asyncio

        import anyio

        async def run():
            try:
                await anyio.to_thread.run_sync(compute, *ready, limiter=self.limiter)
            except Exception:  # noqa: BLE001 - a guess that fails is forgotten; the real move reports
                log.debug("prefetch failed", exc_info=True)
            finally:
                PREFETCH.release()

        task = asyncio.get_running_loop().create_task(run())
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)


async def _body(receive) -> bytes:
    chunks, size = [], 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            break
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > BODY_MAX:
            raise ValueError("body too large")
        chunks.append(chunk)
        if not message.get("more_body"):
            break
    return b"".join(chunks)


async def _send(send, status: int, body: dict, timing: bytes = b"") -> None:
    data = json.dumps(body, allow_nan=False).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(data)).encode()),
               (b"cache-control", b"no-store")]
    if timing:
        headers.append((b"server-timing", timing))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": data})


def install(demo: gr.Blocks, lang_state: gr.State) -> gr.Blocks:
    """Remember the session language's State (for errors); -> demo."""
    demo._genlab_lang_state = lang_state
    return demo
