"""What every tab shares: the model registry and engine cache, uploads, error handling, display.

Shipped models are read-only, so one loaded engine per checkpoint folder serves every session
(a small LRU cache keyed by path). A session's uploads live in that session's state only: a
dict {name: folder} that no other session can see, whose folders are deleted when it ends.
"""

from __future__ import annotations

import atexit
import contextlib
import functools
import inspect
import logging
import math
import os
import shutil
import tempfile
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass, field
from pathlib import Path

import gradio as gr
import numpy as np

from engines import checkpoint, runtime
from engines.errors import UserError

from .i18n import Registry, t

log = logging.getLogger("genlab.demo")


def _env_number(var: str, default: float, low: float) -> float:
    """$var as a number of at least `low`; `default` when unset or not a finite number ("inf" would
    stop int() at import, round() in app.build_app and time.sleep in the sweeper)."""
    try:
        value = float(os.environ.get(var, default))
    except ValueError:
        return default
    return max(low, value) if math.isfinite(value) else default


# Gradio's queue, sized for a class of ~30 on one app (see DEVELOPERS.md, "Scheduling"). Every
# interactive model event shares the group GPU. The engine runs all compute on its one thread
# anyway, interactive tasks ahead of long work, so this limit only decides how many events may
# be in flight at once (their pre- and post-processing, PNG encoding included, overlaps the
# compute of others): high enough that sliders of 30 sessions never queue behind one another
# in Gradio's own queue, and, with the LONG group and the other tabs' groups, under Gradio's
# 40 worker threads.
GPU = "gpu"
INTERACTIVE_CONCURRENCY = 16
COMPUTE = {"concurrency_id": GPU, "concurrency_limit": INTERACTIVE_CONCURRENCY}
# Long runs (DDPM / CLIP generation, branches, forks) have their own group, so runs waiting for a
# turn never hold the slots sliders need. GENLAB_LONG_RUNS (default 2) run at once, app-wide;
# more wait in Gradio's queue and the page shows their place in it. One per session at a time.
LONG_ID = "long"
LONG = {"concurrency_id": LONG_ID, "concurrency_limit": int(_env_number("GENLAB_LONG_RUNS", 2, 1))}
# Event options the family tabs share: model events without a spinner, sliders that skip to the
# newest value, and events kept out of the public API.
QUIET = {"show_progress": "hidden", **COMPUTE}
LIVE = {"trigger_mode": "always_last", **QUIET}
PRIVATE = {"api_visibility": "private"}
DISPLAY_SIDE = 224  # pixels: small model images are upscaled (nearest) to about this size


@dataclass
class AppContext:
    """What a tab's build(ctx) gets from the app shell."""

    demo: gr.Blocks
    reg: Registry  # register every translatable component here
    lang: gr.State  # the session's language, "en" or "zh"
    uploads: gr.State  # the session's uploaded checkpoints, {family: {name: folder}}
    assets_dir: Path | None = None
    data_dir: Path | None = None
    # (fn, inputs, outputs, flag) to run after a language switch; flag: see Opening
    on_lang: list = field(default_factory=list)
    opening: Opening | None = None  # how the tab being built now starts (see open_tab)
    start: object = None  # what the first tab's first refresh follows: an event, a flag's change, or (None) the page load
    # tab id -> (the last event of its first refresh, the events that redraw after a link's late values)
    refreshed: dict = field(default_factory=dict)
    _scopes: list = field(default_factory=list)

    def open_tab(self, tab: gr.Tab) -> Opening:
        """Register `tab` (call it inside the tab's block) and -> how it starts in a session: the first tab of a row
        of tabs starts with its parent (the app's first tab with the page load), any other one
        when it is first selected. A class opening the page then runs the first tab's refresh
        only, not every tab's (about 20 model events per student, most for tabs never opened)."""
        if not self._scopes:
            self._scopes.append([Opening(self.demo, None, self.start), False])
        scope = self._scopes[-1]
        self.opening = scope[0] if not scope[1] else Opening.on_select(self.demo, tab)
        scope[1] = True
        return self.opening

    @contextlib.contextmanager
    def sub_tabs(self):
        """Tabs registered inside start with the tab being built (its first) or when selected."""
        self._scopes.append([self.opening, False])
        try:
            yield
        finally:
            self._scopes.pop()

    def after_lang(self, *events, always: bool = False) -> None:
        """(fn, inputs, outputs) events to run after a language switch, for the tab being built.
        By default they run only once the tab has been opened in this session: its first refresh
        renders them in the session's language anyway. always=True: cheap texts that first refresh
        does not make (the model list's labels), run whether the tab is open or not."""
        flag = ALWAYS if always else self.opening.flag if self.opening is not None else None
        self.on_lang += [(*ev, flag) for ev in events]


ALWAYS = "always"  # AppContext.on_lang's flag for texts no first refresh draws


def _first_open(opened):
    """The tab's flag turns 1 on its first selection; later selections change nothing."""
    return gr.skip() if opened else 1


class Opening:
    """How a tab starts in a session. `event(fn, inputs, outputs, **kw)` wires its first refresh
    like demo.load does: on the page load (flag None), after the event `after` (the page's
    language known), or on the change of a hidden per-session flag the tab's first selection sets."""

    def __init__(self, demo: gr.Blocks, flag: gr.Number | None, after=None):
        self.demo, self.flag, self.after = demo, flag, after

    @classmethod
    def on_select(cls, demo: gr.Blocks, tab: gr.Tab) -> Opening:
        flag = gr.Number(0, visible=False, elem_id=f"{tab.elem_id or tab.id}-opened")  # inside the tab
        tab.select(_first_open, flag, flag, queue=False, show_progress="hidden", api_visibility="private")
        return cls(demo, flag)

    def event(self, fn, inputs=None, outputs=None, **kw):
        """The first refresh's dependency (chain more with .then)."""
        after = self.after
        trigger = (self.flag.change if self.flag is not None else after.change if isinstance(after, gr.components.Component)
                   else after.then if after is not None else self.demo.load)
        return trigger(fn, inputs, outputs, **kw)


def combined(events: list) -> tuple:
    """Several (fn, inputs, outputs) events -> one (fn, inputs, outputs) that runs them in turn:
    one queue event instead of many, for texts that need no picture in between. Their outputs
    must not overlap; none may take Gradio-injected arguments."""
    events = [(fn, list(inputs), list(outputs) if isinstance(outputs, (list, tuple)) else [] if outputs is None
               else [outputs]) for fn, inputs, outputs in events]
    outs = [o for *_, outputs in events for o in outputs]
    if len({id(o) for o in outs}) != len(outs):
        raise ValueError("combined events must set different components")

    def run(*values):
        result, i = [], 0
        for fn, inputs, outputs in events:
            got = fn(*values[i:i + len(inputs)])
            i += len(inputs)
            if not outputs:
                continue
            if len(outputs) == 1:
                got = [got]
            elif isinstance(got, dict) and got.get("__type__") == "update":  # one skip for all
                got = [got] * len(outputs)
            result += list(got)
        return tuple(result) if len(result) != 1 else result[0]

    run.__name__ = "texts_" + "_".join(getattr(fn, "__name__", "fn") for fn, *_ in events)[:60]
    return run, [c for _, inputs, _ in events for c in inputs], outs


def gated(fn, gate, inputs: list, test=bool) -> tuple:
    """(fn', [gate, *inputs]): fn run only when test(the gate component's value) holds, else one
    gr.skip() (by default: once the tab whose flag is the gate has been opened)."""
    params = list(inspect.signature(fn).parameters.values())
    name = "gate"
    while any(p.name == name for p in params):
        name += "_"

    def run(value, *args, **kwargs):
        return fn(*args, **kwargs) if test(value) else gr.skip()

    run.__signature__ = inspect.Signature(
        [inspect.Parameter(name, inspect.Parameter.POSITIONAL_OR_KEYWORD), *params])
    run.__name__ = getattr(fn, "__name__", "gated")
    return run, [gate, *inputs]


# --- engines -------------------------------------------------------------------------------------


class SmallCache:
    """A tiny thread-safe LRU of derived values (w's, pictures, maps) shared by sessions."""

    def __init__(self, maxsize: int):
        self.items: OrderedDict = OrderedDict()
        self.maxsize = maxsize
        self.lock = threading.Lock()

    def get(self, key, make):
        """The value under key; made (outside the lock) and kept when it is not there yet."""
        with self.lock:
            if key in self.items:
                self.items.move_to_end(key)
                return self.items[key]
        value = make()
        with self.lock:
            self.items[key] = value
            while len(self.items) > self.maxsize:
                self.items.popitem(last=False)
        return value


class EngineCache:
    """Loaded engines by checkpoint folder, least recently used evicted first; thread-safe.

    Only session models (uploaded or trained here) are evicted, at most `maxsize` of them kept:
    the shipped models, a fixed handful every session uses, stay pinned."""

    def __init__(self, maxsize: int = 8):
        self.maxsize = maxsize
        self._items: OrderedDict[tuple[str, str], object] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, family: str, path: str | Path):
        key = (family, str(Path(path).resolve()))
        with self._lock:
            if key in self._items:
                self._items.move_to_end(key)
                return self._items[key]
        engine = _engine_class(family).load(key[1])  # outside the lock: loading takes a moment
        with self._lock:
            self._items[key] = engine
            self._items.move_to_end(key)
            session_keys = [k for k in self._items if _is_session_dir(k[1])]
            for old in session_keys[:max(0, len(session_keys) - self.maxsize)]:
                del self._items[old]
        return engine

    def forget(self, path: str | Path) -> None:
        resolved = str(Path(path).resolve())
        with self._lock:
            for key in [k for k in self._items if k[1] == resolved]:
                del self._items[key]


ENGINES = EngineCache()


def _engine_class(family: str):
    """The family's engine class (anything with .load(folder)), from its spec in engines.families."""
    from engines import families

    if family not in families.NAMES:
        raise ValueError(f"no engine for family {family!r}")
    return families.get(family).engine_class()


class Models:
    """The models a tab can offer: shipped ones (shared) plus a session's uploads (its state)."""

    def __init__(self, family: str, assets_dir: str | Path | None = None):
        self.family = family
        self.assets_dir = assets_dir
        root = Path(assets_dir) if assets_dir is not None else checkpoint.ASSETS_DIR
        self.shipped: dict[str, Path] = checkpoint.list_assets(family, root=root)

    def default(self, preferred: str) -> str | None:
        if preferred in self.shipped:
            return preferred
        return next(iter(self.shipped), None)

    def choices(self, uploads: dict | None, lang: str) -> list[tuple[str, str]]:
        """Dropdown (label, value) pairs; an upload's value is 'upload:<name>'."""
        out = [(name, name) for name in self.shipped]
        for name, folder in (uploads or {}).get(self.family, {}).items():
            out.append((session_label(name, folder, lang), "upload:" + name))
        return out

    def path(self, value: str | None, uploads: dict | None) -> Path:
        if value and value.startswith("upload:"):
            found = (uploads or {}).get(self.family, {}).get(value[len("upload:"):])
        else:
            found = self.shipped.get(value or "")
        if found is None:
            available = ", ".join(self.shipped) or "none"
            raise UserError("model_unknown", name=value, available=available)
        return Path(found)

    def engine(self, value: str | None, uploads: dict | None):
        return ENGINES.get(self.family, self.path(value, uploads))


# --- uploads -------------------------------------------------------------------------------------

_UPLOAD_DIRS: set[str] = set()  # every folder this process unpacked, removed at exit at the latest
_TRAINED_DIRS: set[str] = set()  # ... of those, the ones the training tab wrote
_UPLOAD_LOCK = threading.Lock()


def _is_session_dir(folder: str) -> bool:
    """Whether a checkpoint folder is a session's (unpacked upload or trained here), by its name."""
    return Path(folder).name.startswith(("genlab-upload-", "genlab-trained-"))


def is_trained(folder) -> bool:
    """Whether a session model's folder holds a model trained in the training tab (not uploaded)."""
    with _UPLOAD_LOCK:
        return str(folder) in _TRAINED_DIRS


def session_label(name: str, folder, lang: str) -> str:
    """A session model's name in a list: marked as uploaded, or as trained in the training tab."""
    return name + t("model.trained_suffix" if is_trained(folder) else "model.uploaded_suffix", lang)


def _remove_upload_dir(folder: str) -> None:
    ENGINES.forget(folder)
    shutil.rmtree(folder, ignore_errors=True)
    with _UPLOAD_LOCK:
        _UPLOAD_DIRS.discard(folder)
        _TRAINED_DIRS.discard(folder)


@atexit.register
def _remove_all_uploads() -> None:
    for folder in list(_UPLOAD_DIRS):
        shutil.rmtree(folder, ignore_errors=True)


def delete_uploads(uploads: dict | None) -> None:
    """gr.State delete_callback: the session ended, so its unpacked checkpoints go."""
    for by_name in (uploads or {}).values():
        for folder in by_name.values():
            _remove_upload_dir(str(folder))


def uploads_state() -> gr.State:
    """{family: {name: folder}} for this session only, cleaned up when the session ends."""
    return gr.State({}, delete_callback=delete_uploads)


def upload_paths(files) -> list[str]:
    """A gr.File value (paths or file objects) as paths; UserError when nothing was uploaded."""
    paths = [f if isinstance(f, str) else getattr(f, "name", f) for f in (files or [])]
    if not paths:
        raise UserError("upload_unsupported", name="(nothing)")
    return paths


def add_upload(files, uploads: dict | None, family: str):
    """Unpack and validate an uploaded checkpoint -> (name, engine, new uploads dict).

    Pickles are refused by unpack_upload before anything is read; a checkpoint that fails any
    check is deleted at once, so only usable models stay in the session.
    """
    with _one_upload(_session_hash()):
        check_upload_room(uploads, family)
        folder = checkpoint.unpack_upload(upload_paths(files))
        with _UPLOAD_LOCK:
            _UPLOAD_DIRS.add(str(folder))
        try:
            # The engine's load validates everything (family included) and builds the network, so a
            # shape mismatch is caught now; the cache keeps it for this session's first request.
            engine = ENGINES.get(family, folder)
        except BaseException:
            _remove_upload_dir(str(folder))
            raise
        name, uploads = _offer(uploads, family, engine.name, folder)
        return name, engine, uploads


_UPLOADING: set[str] = set()  # sessions with an upload being checked now


@contextlib.contextmanager
def _one_upload(session: str | None):
    """One upload at a time per session. Two at once would both read the session's uploads as they
    were before either (a State is read when its event starts): both would pass the cap, and the
    one that finished first would vanish from the session (its folder then kept until exit)."""
    if session is None:
        yield
        return
    with _UPLOAD_LOCK:
        if session in _UPLOADING:
            raise UserError("upload_busy")
        _UPLOADING.add(session)
    try:
        yield
    finally:
        with _UPLOAD_LOCK:
            _UPLOADING.discard(session)


def _offer(uploads: dict | None, family: str, name, folder) -> tuple[str, dict]:
    """A new uploads dict with `folder` added under `name` (-2, -3 ... if the session has it)."""
    uploads = {fam: dict(by_name) for fam, by_name in (uploads or {}).items()}
    by_name = uploads.setdefault(family, {})
    base = name = str(name)[:60]
    k = 2
    while name in by_name:
        name, k = f"{base}-{k}", k + 1
    by_name[name] = str(folder)
    return name, uploads


def add_trained(uploads: dict | None, family: str, name: str, write) -> tuple[str, dict]:
    """Offer a model the session trained in its family's tabs -> (name, new uploads).

    `write(folder)` saves it into a new folder that belongs to the session from now on (removed
    with its uploads, at exit at the latest); if `write` raises, the folder goes at once. The name
    gets -2, -3 ... if the session already has it."""
    folder = tempfile.mkdtemp(prefix="genlab-trained-")
    with _UPLOAD_LOCK:
        _UPLOAD_DIRS.add(folder)
    try:
        write(Path(folder))
    except BaseException:
        _remove_upload_dir(folder)
        raise
    with _UPLOAD_LOCK:
        _TRAINED_DIRS.add(folder)
    return _offer(uploads, family, name, folder)


# --- handlers ------------------------------------------------------------------------------------


def handler(fn=None, *, compute: bool = True, priority: str | None = None, long: bool | None = None):
    """Wrap an event handler whose first argument is the session language.

    UserError -> gr.Error in that language; any other exception is logged and shown as a
    generic message, so no input can break the app. A generator handler (one that streams) stays
    a generator, and what it raises while streaming is translated the same way.

    The handler runs on the engine's compute thread (engines.runtime.call; a streaming one steps
    there item by item), so every model call of every session runs on one thread: on a CPU,
    torch is measurably slower once several threads have run it. `compute=False` keeps a handler
    on the server's thread: one that sleeps or waits for other work (a frame-rate cap, a training
    job) must, or it would hold up every other session.

    priority: the compute thread's lane (engines.runtime): "interactive" goes ahead of
    "background". Default: a streaming handler (a long run) is background, each run taking turns
    with the other runs and training jobs; any other handler is interactive. A streaming handler
    with compute=False still sends the model work it asks for (runtime.call) in its lane.

    long: one such run per session at a time; a second one while the first streams is refused
    with "long_run_busy" (the first keeps going: its Stop button ends it). Default: streaming
    handlers that run on the compute thread (DDPM / CLIP generation, branch, fork).
    """
    if fn is None:
        return functools.partial(handler, compute=compute, priority=priority, long=long)
    if inspect.isgeneratorfunction(fn):
        return _streamed(fn, compute=compute, lane=priority or runtime.BACKGROUND,
                         one_per_session=compute if long is None else long)
    return _called(fn, compute=compute, lane=priority or runtime.INTERACTIVE)


def _translate(fn, lang, exc) -> gr.Error:
    """What a handler raised -> the gr.Error the page shows, in the session language."""
    if isinstance(exc, gr.Error):
        return exc
    if isinstance(exc, UserError):
        return gr.Error(exc.localized(lang), title=t("error.title", lang), print_exception=False)
    log.error("handler %s failed", fn.__name__, exc_info=exc)
    return gr.Error(t("error.unexpected", lang), title=t("error.title", lang), print_exception=False)


def _streamed(fn, *, compute: bool, lane: str, one_per_session: bool):
    """A streaming handler, stepped item by item in its lane (see `handler`)."""
    @functools.wraps(fn)
    def streamed(lang, *args, **kwargs):
        session = _session_hash() if one_per_session else None
        try:
            with _long_run(session):
                items = fn(lang, *args, **kwargs)
                if compute:
                    yield from runtime.stepped(items, priority=lane)
                else:
                    yield from _in_lane(items, lane)
        except Exception as exc:  # GeneratorExit (a cancelled event) is not an Exception
            raise _translate(fn, lang, exc) from None

    return streamed


def _called(fn, *, compute: bool, lane: str):
    """A plain handler, run on the compute thread in its lane (or where it was called: compute=False)."""
    @functools.wraps(fn)
    def wrapped(lang, *args, **kwargs):
        try:
            if not compute:
                return fn(lang, *args, **kwargs)
            if lane == runtime.BACKGROUND:
                with runtime.background():
                    return runtime.call(fn, lang, *args, **kwargs)
            return runtime.call(fn, lang, *args, **kwargs)
        except Exception as exc:
            raise _translate(fn, lang, exc) from None

    return wrapped


_LONG_RUNS: set[str] = set()  # sessions with a long run streaming now
_LONG_RUNS_LOCK = threading.Lock()


def _session_hash() -> str | None:
    """The browser session of the event being handled (Gradio keeps its request in a context
    variable while a handler runs); None outside an event, e.g. a handler called in a test."""
    from gradio.context import LocalContext

    request = LocalContext.request.get(None)
    return getattr(request, "session_hash", None) if request is not None else None


@contextlib.contextmanager
def _long_run(session: str | None):
    """Hold the session's one long-run place while the run streams; UserError if it is taken."""
    if session is None:
        yield
        return
    with _LONG_RUNS_LOCK:
        if session in _LONG_RUNS:
            raise UserError("long_run_busy")
        _LONG_RUNS.add(session)
    try:
        yield
    finally:
        with _LONG_RUNS_LOCK:
            _LONG_RUNS.discard(session)


def _in_lane(items, lane: str):
    """Iterate `items` here, each resumption's runtime.call work in `lane` (one owner per run:
    context variables set inside a generator do not survive to its next resumption)."""
    owner = object()
    try:
        while True:
            with runtime.background(owner) if lane == runtime.BACKGROUND else runtime.interactive():
                try:
                    item = next(items)
                except StopIteration:
                    return
            yield item
    finally:
        items.close()


# --- display -------------------------------------------------------------------------------------


def card_split(card: dict) -> str | None:
    """A model card's data split as one line: {"train": ..., "held_out": ...} -> "train: ...; held_out: ..."."""
    split = card.get("split")
    if isinstance(split, dict):
        split = "; ".join(f"{k}: {v}" for k, v in split.items())
    return split


def card_table(engine, lang: str, extra_rows) -> str:
    """A model card as the family tabs show it: what it was trained on, then the family's own
    `extra_rows` ((string key, value) pairs), as a Markdown table under the model's name."""
    card, none = engine.card, t("card.none", lang)
    wall = card.get("wall_time_s")
    rows = [
        ("card.dataset", card.get("dataset") or none),
        ("card.split", card_split(card) or none),
        ("card.steps", card.get("steps", none)),
        ("card.wall", f"{wall / 60:.1f} min" if isinstance(wall, (int, float)) else none),
        ("card.hardware", card.get("hardware") or none),
        *extra_rows,
    ]
    body = "\n".join(f"| {t(k, lang)} | {str(v).replace('|', '/')} |" for k, v in rows)
    return f"**{engine.name}**\n\n| | |\n|---|---|\n{body}"


def warn(err: UserError, lang: str) -> str:
    """Show a UserError as a warning toast in the session's language; the same text, marked, for a
    status line."""
    message = err.localized(lang)
    gr.Warning(message, title=t("error.title", lang))
    return "⚠️ " + message


def model_row(reg: Registry, prefix: str, choices, default):
    """The row every family tab opens with: the model dropdown, the model card and the upload box.
    -> (model, card, upload_files, upload_status); element ids are `{prefix}-model` etc."""
    from .forms import widget  # (demo.forms imports this module)

    with gr.Row(equal_height=False):
        model = widget(reg, gr.Dropdown, choices=choices, value=default, label="model.label", info="model.info",
                       elem_id=f"{prefix}-model", scale=2)
        with widget(reg, gr.Accordion, label="model.card", open=False, elem_id=f"{prefix}-card-box"):
            card = gr.Markdown(elem_id=f"{prefix}-card")
        with widget(reg, gr.Accordion, label="model.upload", open=False, elem_id=f"{prefix}-upload-box"):
            upload_files = widget(reg, gr.File, file_count="multiple", label="model.upload.file",
                                  elem_id=f"{prefix}-upload")
            widget(reg, gr.Markdown, text="model.upload.note")
            upload_status = gr.Markdown(elem_id=f"{prefix}-upload-status")
    return model, card, upload_files, upload_status


def display(image: np.ndarray | None, side: int = DISPLAY_SIDE) -> np.ndarray | None:
    """uint8 (H, W[, C]) -> upscaled by an integer factor (nearest neighbour) to about `side`.

    Small model outputs stay crisp in the browser; grey (H, W, 1) becomes (H, W).
    """
    if image is None:
        return None
    arr = np.asarray(image)
    if arr.ndim == 3 and arr.shape[2] == 1:
        arr = arr[:, :, 0]
    k = max(1, round(side / max(arr.shape[:2])))
    if k > 1:
        arr = arr.repeat(k, axis=0).repeat(k, axis=1)
    return arr


def strip(images: np.ndarray, gap: int = 2, value: int = 255) -> np.ndarray:
    """(N, H, W, C) uint8 -> one (H, N * W + gaps, C) image, left to right."""
    n, h, w, c = images.shape
    out = np.full((h, n * w + (n - 1) * gap, c), value, np.uint8)
    for i in range(n):
        out[:, i * (w + gap): i * (w + gap) + w] = images[i]
    return out


# --- limits: uploads, memory, sessions (issue 17) -----------------------------------------------
# Host settings, read once at import: GENLAB_MAX_UPLOAD_MB (one uploaded file), GENLAB_MAX_UPLOADS
# (models a session may upload per family), GENLAB_MAX_RSS_MB (the process's memory above which
# new uploads and training runs are refused; default half the machine's memory),
# GENLAB_SESSION_TTL_S (a session unused this long is freed, with its uploads and its cached
# files, browser or not) and GENLAB_SWEEP_S (how often the sweeper looks).


def _default_rss_mb() -> int:
    import psutil

    return int(psutil.virtual_memory().total / 2**20 / 2)


MAX_UPLOAD_MB = int(_env_number("GENLAB_MAX_UPLOAD_MB", 50, 1))
MAX_UPLOADS = int(_env_number("GENLAB_MAX_UPLOADS", 4, 1))
MAX_RSS_MB = int(_env_number("GENLAB_MAX_RSS_MB", _default_rss_mb(), 256))
SESSION_TTL_S = _env_number("GENLAB_SESSION_TTL_S", 3600, 1)
CLOSED_TTL_S = min(SESSION_TTL_S, 600)  # a closed tab's session (Gradio keeps it an hour)
SWEEP_S = _env_number("GENLAB_SWEEP_S", 60, 0.2)


def rss_mb() -> int:
    import psutil

    return int(psutil.Process().memory_info().rss / 2**20)


def check_memory() -> None:
    """UserError("app_full") when the process already uses more than GENLAB_MAX_RSS_MB."""
    used = rss_mb()
    if used > MAX_RSS_MB:
        raise UserError("app_full", used_mb=used, limit_mb=MAX_RSS_MB)


def check_upload_room(uploads: dict | None, family: str) -> None:
    """UserError when the session already holds MAX_UPLOADS uploaded models of `family` (models it
    trained here do not count), or when the app is full."""
    held = [f for f in (uploads or {}).get(family, {}).values() if not is_trained(f)]
    if len(held) >= MAX_UPLOADS:
        raise UserError("uploads_full", count=len(held), family=family)
    check_memory()


def _release_memory() -> None:
    """Give freed heap pages back to the system (glibc keeps them otherwise), so RSS falls again."""
    import ctypes
    import ctypes.util

    name = ctypes.util.find_library("c")
    if name:
        try:
            ctypes.CDLL(name).malloc_trim(0)
        except (OSError, AttributeError):
            pass


def sweep_sessions(demo: gr.Blocks, now: float | None = None) -> int:
    """Free every session unused for SESSION_TTL_S (CLOSED_TTL_S once its tab closed): its gr.State
    delete_callbacks run (uploads, training runs) and Gradio forgets it. API clients have no
    heartbeat, so without this their sessions would live until 10,000 newer ones pushed them out.
    -> how many sessions were freed."""
    import datetime

    holder = getattr(demo, "state_holder", None)
    if holder is None:
        return 0
    now_dt = datetime.datetime.fromtimestamp(now) if now is not None else datetime.datetime.now()
    freed = 0
    for sid in list(holder.session_data):
        # Checked and forgotten under the holder's lock, so a session used again meanwhile stays;
        # a request after this gets a new session. Its callbacks (uploads, runs) run outside it.
        with holder.lock:
            session = holder.session_data.get(sid)
            last = holder.time_last_used.get(sid)
            if session is None or last is None:
                continue
            ttl = CLOSED_TTL_S if session.is_closed else SESSION_TTL_S
            if (now_dt - last).total_seconds() <= ttl:
                continue
            holder.session_data.pop(sid, None)
            holder.time_last_used.pop(sid, None)
        for component, value, _ in list(session.state_components):
            try:
                component.delete_callback(value)
            except Exception:
                log.exception("freeing session %s", sid)
        session.state_data.clear()
        freed += 1
    if freed:
        _release_memory()
    return freed


def gradio_cache_dir() -> Path:
    return Path(os.environ.get("GRADIO_TEMP_DIR") or Path(tempfile.gettempdir()) / "gradio")


def sweep_upload_leftovers(now: float | None = None) -> int:
    """Remove Gradio's upload staging files (tmp* at the top of its cache folder) older than
    SESSION_TTL_S: an upload refused for its size leaves its empty staging file behind (Gradio
    6.31 closes it but never deletes it). Gradio's cached files themselves live in hashed
    sub-folders, which `delete_cache` empties. -> files removed."""
    now = time.time() if now is None else now
    removed = 0
    try:
        entries = list(gradio_cache_dir().glob("tmp*"))
    except OSError:
        return 0
    for path in entries:
        try:
            if path.is_file() and not path.is_symlink() and now - path.stat().st_mtime > SESSION_TTL_S:
                path.unlink()
                removed += 1
        except OSError:
            continue
    return removed


def start_sweeper(demo: gr.Blocks) -> threading.Thread:
    """A daemon thread that calls sweep_sessions (and sweep_upload_leftovers) every SWEEP_S seconds."""

    def loop():
        while True:
            time.sleep(SWEEP_S)
            try:
                sweep_sessions(demo)
                sweep_upload_leftovers()
            except Exception:
                log.exception("session sweeper")

    thread = threading.Thread(target=loop, name="genlab-sweeper", daemon=True)
    thread.start()
    return thread


# --- Gradio's cached pictures --------------------------------------------------------------------


def write_cached_pictures_once() -> None:
    """Gradio 6.31 names a cached picture by its content's hash and rewrites that file in place
    (truncate, then write) whenever any session makes the same picture again. A class opening the
    page together makes the same pictures together, and a browser reading one meanwhile got it cut
    off (uvicorn: "Too little data for declared Content-Length", seen in benchmarks/class_burst.py's
    app log). Here each picture is written once, atomically (a temporary file, then a rename); a
    file already there has the same bytes (same hash) and is left as it is, but touched: Gradio's
    `delete_cache` removes a file whose ctime is older than its age, and a picture first made an
    hour ago (or by an earlier run of the app: the cache folder outlives it) would be removed while
    a session that was just given it fetches it (a 403 seen in class_burst). Call once at start."""
    import uuid

    from gradio import processing_utils as pu

    if getattr(pu.save_pil_to_cache, "_genlab", False):
        return

    def save_pil_to_cache(img, cache_dir: str, name: str = "image", format: str = "webp") -> str:
        data = pu.encode_pil_to_bytes(img, format)
        folder = Path(cache_dir) / pu.hash_bytes(data)
        folder.mkdir(exist_ok=True, parents=True)
        path = (folder / f"{name}.{format}").resolve()
        if path.is_file() and path.stat().st_size == len(data):
            try:  # its age starts again: delete_cache ages a file by its ctime, and a session has just been given it
                os.utime(path)
                return str(path)
            except FileNotFoundError:  # delete_cache took it meanwhile: write it again
                pass
        part = path.with_name(f".{path.name}.{uuid.uuid4().hex}.part")
        part.write_bytes(data)
        os.replace(part, path)
        return str(path)

    save_pil_to_cache._genlab = True
    pu.save_pil_to_cache = save_pil_to_cache


# --- live sliders --------------------------------------------------------------------------------


class Remembered:
    """A session's last values of a live slider's other inputs, kept on the server, so that moving
    the slider sends only itself (and this State).

    The page collects every input of an event and updates every output one by one, each through a
    search of the whole component tree: an event with 19 inputs answered a key press in about 3x
    Gradio's floor. The events that already take those inputs (model changes, seed boxes, the load
    chain, language switches) are wrapped with `record`, which writes their input values (and the
    plain values they set) into a per-session dict held by a gr.State; `live` builds the slider's
    handler call from that dict with the slider's new value. Values are stored by component, so
    events with different input lists share one store.
    """

    def __init__(self):
        self.state = gr.State({})  # gr.State copies this per session; it is then changed in place

    def record(self, fn, inputs, outputs=()):
        """(fn, inputs) for an event that also stores its input values and the values it sets."""
        inputs, outputs = list(inputs), list(outputs)

        def store(box, components, values):
            for comp, value in zip(components, values):
                if isinstance(value, dict) and value.get("__type__") == "update":  # gr.update / gr.skip
                    if "value" not in value:
                        continue
                    value = value["value"]
                box[comp._id] = value

        def recorded(*args):
            box = args[-1] if len(args) == len(inputs) + 1 else None  # called directly (tests): no store
            args = args[:len(inputs)]
            if isinstance(box, dict):
                store(box, inputs, args)
            result = fn(*args)
            if isinstance(box, dict) and outputs:
                store(box, outputs, result if isinstance(result, (tuple, list)) and len(outputs) > 1 else (result,))
            return result

        # Gradio reads parameter names (the API's) and the number of inputs from the signature.
        kinds = (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)
        params = list(inspect.signature(fn).parameters.values())
        if all(p.kind in kinds for p in params):
            box = inspect.Parameter("remembered", inspect.Parameter.POSITIONAL_OR_KEYWORD)
            recorded.__signature__ = inspect.Signature([*params, box])
        recorded.__name__ = getattr(fn, "__name__", "recorded")
        return recorded, [*inputs, self.state]

    def remember(self, inputs):
        """(fn, inputs) for an event that only records `inputs` (outputs: None)."""
        return self.record(lambda *values: None, inputs)

    def live(self, fn, inputs, slider):
        """(fn, [state, *session states, slider]): calls fn with the stored values of `inputs`, the
        slider's new one in place. The session's own gr.States among `inputs` (its language, its
        uploads, its runs) are passed fresh with every move: they change through events that
        record nothing (a language switch, an upload), and they live on the server, so they cost
        the page nothing to send."""
        compose, inputs = self.composer(inputs, slider)

        def moved(box, *values):
            args = compose(box, *values)
            if args is None:  # before the first recorded event: nothing to show yet
                return gr.skip()  # Gradio skips every output on one skip()
            return fn(*args)

        return moved, inputs

    def composer(self, inputs, slider):
        """(compose, [state, *session states, slider]): compose(box, *fresh, value) stores the fresh
        values and the slider's in the session's box and -> the handler's arguments, or None before
        the first recorded event."""
        inputs = list(inputs)
        fresh = [c for c in inputs if isinstance(c, gr.State)]

        def compose(box, *values):
            if not isinstance(box, dict):
                box = {}
            *current, value = values
            for comp, v in zip(fresh, current):
                box[comp._id] = v
            box[slider._id] = value
            if any(c._id not in box for c in inputs):
                return None
            return tuple(box[c._id] for c in inputs)

        return compose, [self.state, *fresh, slider]

    def fast(self, fn, inputs, slider, outputs, triggers=None) -> None:
        """Wire `slider` live off Gradio's queue (demo/live.py): each move is one small request to
        /genlab/live, answered with `fn`'s outputs for the stored `inputs` and the slider's value."""
        from . import live

        compose, live_inputs = self.composer(inputs, slider)
        live.wire(slider, fn, compose, live_inputs, outputs, triggers)
