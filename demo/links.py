"""Links that open a view: `/?tab=diffusion&sub=reverse&lang=zh&steps=50` (and `?lesson=NAME`, demo/lessons.py).

One table per tab (`VIEWS`): its sub-tabs by link name, and each link parameter's widget by elem_id.
A value is checked against that widget's own bounds (the same check demo/guard.py makes for every
event); anything unknown, out of range or malformed is dropped and named in a small notice, never
an error page. Adding a tab to links is one `View` entry; its Copy link button is `copy_row`.

How a link lands (app.py wires it after the page reports its language, before the first tab's first
refresh): one event returns the tab and sub-tab selections, the opened tabs' flags (so their first
refresh runs, see common.Opening), the widget values, a lesson's shown / hidden / locked controls
and panel, and the notice. Values a tab's first refresh resets from its model (the DDIM steps, the
guidance) are `late`: kept per session and set again once that refresh has run (ctx.refreshed).
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass, field

import gradio as gr

from engines.errors import UserError

from . import guard, i18n_links  # noqa: F401 - the strings
from .forms import widget
from .i18n import LANGS, t

MAX_PARAMS = 40      # query parameters read at most; the rest are ignored
MAX_VALUE = 300      # characters of one value (a prompt is the longest)
MAX_NAME = 24        # characters of a parameter name
SHOWN_NAMES = 6      # ignored names quoted in the notice
RESERVED = ("tab", "sub", "lang", "lesson")


@dataclass(frozen=True)
class View:
    """A tab that links can open: `elem_id` its element id, `<tab>-tab` (its flag is `<elem_id>-opened`;
    `tab`, its id in #genlab-tabs and the link's tab=), `subtabs` the elem_id of its gr.Tabs, `sub` link
    name -> sub-tab elem_id (the first listed starts with the tab), `params` link name -> widget elem_id,
    `late` the parameters its first refresh resets (set again after it, then its pictures redrawn),
    `within` a nested sub-tab's elem_id -> (the elem_id of the gr.Tabs holding it, the sub-tab holding that)."""

    elem_id: str
    subtabs: str | None = None
    sub: dict = field(default_factory=dict)
    params: dict = field(default_factory=dict)
    late: tuple = ()
    within: dict = field(default_factory=dict)

    def path(self, name: str) -> list:
        """A sub-tab's link name -> [(gr.Tabs elem_id, the sub-tab elem_id to select there)], outermost last."""
        eid, path = self.sub[name], []
        while eid in self.within:
            tabs, parent = self.within[eid]
            path.append((tabs, eid))
            eid = parent
        return path + [(self.subtabs, eid)]

    @property
    def tab(self) -> str:
        return self.elem_id.removesuffix("-tab")


VIEWS: dict[str, View] = {v.tab: v for v in (
    View("overview-tab", None, {}, {}),
    View("vae-tab", "vae-subtabs",
         {"interp": "vae-tab-interp", "sliders": "vae-tab-sliders", "map": "vae-tab-map", "recon": "vae-tab-recon",
          "explain": "vae-tab-explain", "ae": "vae-tab-ae"},
         {"model": "vae-model", "t": "vae-interp-t", "mode": "vae-interp-mode", "frames": "vae-interp-frames",
          "seed": "vae-slider-seed", "map_model": "vae-map-model", "map_n": "vae-map-n", "span": "vae-map-span",
          "beta_seed": "vae-beta-seed"}),
    View("gan-tab", "gan-subtabs",
         {"mix": "gan-tab-mix", "trunc": "gan-tab-trunc", "interp": "gan-tab-interp", "noise": "gan-tab-noise",
          "layers": "gan-tab-layers", "latent": "gan-tab-latent", "explain": "gan-tab-explain"},
         {"model": "gan-model", "seeds_a": "gan-seeds-a", "seeds_b": "gan-seeds-b", "psi": "gan-mix-psi",
          "trunc_psi": "gan-trunc-psi", "trunc_seeds": "gan-trunc-seeds", "seed_a": "gan-interp-a",
          "seed_b": "gan-interp-b", "t": "gan-interp-t", "frames": "gan-interp-frames",
          "interp_psi": "gan-interp-psi", "noise": "gan-noise-strength"}),
    View("diffusion-tab", "diffusion-subtabs",
         {"forward": "diffusion-tab-forward", "reverse": "diffusion-tab-reverse", "fork": "diffusion-tab-fork",
          "explain": "diffusion-tab-explain"},
         {"model": "diffusion-model", "fwd_seed": "diffusion-fwd-seed", "t": "diffusion-fwd-t",
          "batch": "diffusion-batch", "seed": "diffusion-seed", "sampler": "diffusion-sampler",
          "steps": "diffusion-steps", "eta": "diffusion-eta", "guidance": "diffusion-guidance"},
         late=("t", "steps", "guidance")),
    View("ar-tab", "ar-subtabs",
         {"pixelcnn": "pixelcnn-part", "vq": "vq-part",
          **{n: f"pixelcnn-tab-{n}" for n in ("sample", "complete", "field", "likelihood")},
          **{n: f"vq-tab-{n}" for n in ("tokens", "codebook", "prior")}},
         {"model": "pixelcnn-model", "n": "pixelcnn-n", "seed": "pixelcnn-seed", "label": "pixelcnn-label",
          "temperature": "pixelcnn-temperature", "top_k": "pixelcnn-top-k", "top_p": "pixelcnn-top-p",
          "rows": "pixelcnn-complete-rows", "row": "pixelcnn-field-row", "col": "pixelcnn-field-col",
          "vq_model": "vq-model", "vq_class": "vq-class", "vq_temperature": "vq-temperature", "vq_top_k": "vq-top-k",
          "vq_top_p": "vq-top-p", "vq_seed": "vq-seed", "vq_n": "vq-n"},
         within={**{f"pixelcnn-tab-{n}": ("pixelcnn-subtabs", "pixelcnn-part")
                    for n in ("sample", "complete", "field", "likelihood")},
                 **{f"vq-tab-{n}": ("vq-subtabs", "vq-part") for n in ("tokens", "codebook", "prior")}}),
    View("clip-tab", "clip-subtabs",
         {"generate": "clip-tab-generate", "sees": "clip-tab-sees", "explain": "clip-tab-explain"},
         {"backend": "clip-backend", "prompt": "clip-prompt", "negative": "clip-negative",
          "generator": "clip-generator", "label": "clip-label", "size": "clip-size", "per_layer": "clip-per-layer",
          "candidates": "clip-candidates", "steps": "clip-steps", "strength": "clip-strength",
          "augment": "clip-augment", "seed": "clip-seed"}),
    View("ldm-tab", "ldm-subtabs",
         {"generate": "ldm-tab-generate", "compare": "ldm-tab-compare", "explain": "ldm-tab-explain"},
         {"model": "ldm-model", "prompt": "ldm-prompt", "guidance": "ldm-guidance", "steps": "ldm-steps",
          "seed": "ldm-seed", "n": "ldm-n", "clip_steps": "ldm-compare-clip-steps"}),
    View("train-tab", None, {},
         {"family": "train-family", "dataset": "train-dataset", "size": "train-size", "fast": "train-fast"}),
    View("playground-tab", None, {},
         {"model": "playground-model", "data": "playground-data", "loss": "playground-loss",
          "d_steps": "playground-d-steps", "beta": "playground-beta", "lr": "playground-lr", "seed": "playground-seed",
          "batch": "playground-batch"}),
    View("metrics-tab", "metrics-subtabs",
         {n: f"metrics-tab-{n}" for n in ("scores", "curve", "pitfall", "trilemma", "explain")},
         {"dataset": "metrics-dataset", "features": "metrics-features", "n": "metrics-n", "seed": "metrics-seed",
          "steps": "metrics-steps", "curve_model": "metrics-curve-model", "curve_n": "metrics-curve-n",
          "pitfall_model": "metrics-pitfall-model", "pitfall_n": "metrics-pitfall-n", "tri_model": "metrics-tri-model",
          "tri_n": "metrics-tri-n"}),
)}


@dataclass
class Link:
    """What a query asks for, checked: the view, its sub-tab, the language and widget values."""

    view: View | None = None
    sub: str | None = None
    lang: str | None = None
    lesson: str | None = None
    values: dict = field(default_factory=dict)   # link name -> checked value
    ignored: list = field(default_factory=list)  # parameter names that were dropped


def _clean(name: str) -> str:
    """A parameter name as the notice may quote it: letters, digits, _ and - only, short."""
    return re.sub(r"[^A-Za-z0-9_.-]", "?", name)[:MAX_NAME] or "?"


def parse(items, blocks: dict) -> Link:
    """Query (name, value) pairs -> a checked Link. `blocks`: elem_id -> the app's widget."""
    link, pairs, cut = Link(), [], False
    for i, (name, value) in enumerate(items):
        if i >= MAX_PARAMS:
            cut = True
            break
        if not isinstance(name, str) or not isinstance(value, str) or len(value) > MAX_VALUE \
                or len(name) > MAX_NAME or any(name == n for n, _ in pairs):
            link.ignored.append(_clean(str(name)))
            continue
        pairs.append((name, value))
    head = dict(p for p in pairs if p[0] in RESERVED)
    link.lang = head.get("lang") if head.get("lang") in LANGS else None
    link.lesson = head.get("lesson") or None
    link.view = VIEWS.get(head.get("tab", ""))
    if link.view is not None and head.get("sub") in link.view.sub:
        link.sub = head["sub"]
    for name in ("tab", "sub", "lang"):
        if name in head and not ((name == "tab" and link.view) or (name == "sub" and link.sub)
                                 or (name == "lang" and link.lang)):
            link.ignored.append(_clean(name))
    for name, raw in pairs:
        if name in RESERVED:
            continue
        value = _checked(link.view, name, raw, blocks)
        if value is _BAD:
            link.ignored.append(_clean(name))
        else:
            link.values[name] = value
    if cut:
        link.ignored.append("…")  # the notice says there were more
    return link


_BAD = object()


def _checked(view: View | None, name: str, raw: str, blocks: dict):
    """One link value, typed and checked against its widget -> the value, or _BAD."""
    block = blocks.get(view.params.get(name, "")) if view is not None else None
    if block is None:
        return _BAD
    try:
        value = coerce(block, raw)
        guard.check_value(block, value)
    except (UserError, ValueError, OverflowError):
        return _BAD
    return value


def coerce(block, raw: str):
    """A query string as the value `block` takes (ValueError if it cannot be one)."""
    if isinstance(block, (gr.Slider, gr.Number)):
        value = float(raw)
        if not math.isfinite(value):
            raise ValueError(raw)
        step = getattr(block, "step", None)
        if isinstance(block, gr.Slider) and step:
            lo = block.minimum or 0
            value = lo + round((value - lo) / step) * step
            value = round(value, 6)
        if (isinstance(block, gr.Number) and block.precision == 0) or (step and float(step).is_integer()):
            if not float(value).is_integer():
                raise ValueError(raw)
            return int(value)
        return value
    if isinstance(block, gr.Checkbox):
        if raw.lower() not in ("1", "0", "true", "false"):
            raise ValueError(raw)
        return raw.lower() in ("1", "true")
    if isinstance(block, (gr.Radio, gr.Dropdown)):
        for choice in guard._choice_values(block):
            if str(choice) == raw:
                return choice
        raise ValueError(raw)
    if isinstance(block, gr.Textbox):
        return raw
    raise ValueError(raw)


def notice(ignored: list, lang: str) -> str:
    """The small bilingual note naming what a link could not use ("" when nothing)."""
    if not ignored:
        return ""
    names = ", ".join(f"`{n}`" for n in ignored[:SHOWN_NAMES]) + (", …" if len(ignored) > SHOWN_NAMES else "")
    return t("links.ignored", lang, names=names)


# --- the Copy link button ---------------------------------------------------------------------------

def copy_row(reg, prefix: str) -> None:
    """The Copy link button and the box showing the link (ids `<prefix>-copy-link`, `<prefix>-link`);
    `install` wires them from the tab's `View`."""
    with gr.Row(equal_height=True, elem_classes=["copy-link-row"], elem_id=f"{prefix}-copy-row"):
        widget(reg, gr.Button, text="links.copy", elem_id=f"{prefix}-copy-link", size="sm", scale=0, min_width=120)
        widget(reg, gr.Textbox, label="links.box", placeholder="links.box.info", elem_id=f"{prefix}-link",
               interactive=False, buttons=["copy"], show_label=False, container=False, scale=4, max_lines=1)


def copy_js(view: View, blocks: dict) -> str:
    """The button's browser code: (lang, lesson, *values) -> the link, also put on the clipboard.
    A value equal to the widget's starting value is left out, so links stay short."""
    names = [n for n, eid in view.params.items() if eid in blocks]
    defaults = [blocks[view.params[n]].value for n in names]
    subs = {eid: name for name, eid in view.sub.items()}
    # the innermost sub-tab shown: the last selected button of the view's that is on screen
    return f"""(lang, lesson, ...values) => {{
  const names = {json.dumps(names)}, defaults = {json.dumps(defaults, default=str)};
  const subs = {json.dumps(subs)};
  const q = new URLSearchParams();
  if (lesson) q.set('lesson', lesson);
  q.set('tab', {json.dumps(view.tab)});
  const on = [...document.querySelectorAll('#{view.subtabs or "-none-"} [role=tab][aria-selected=true]')]
    .filter(b => b.offsetParent !== null && subs[(b.id || '').replace(/-button$/, '')]);
  const sub = on.length ? subs[on[on.length - 1].id.replace(/-button$/, '')] : null;
  if (sub) q.set('sub', sub);
  if (lang) q.set('lang', lang);
  values.forEach((v, i) => {{
    if (v === null || v === undefined || String(v) === String(defaults[i])) return;
    q.set(names[i], Array.isArray(v) ? v.join(',') : String(v));
  }});
  const url = location.origin + location.pathname + '?' + q.toString();
  try {{ navigator.clipboard.writeText(url).catch(() => {{}}); }} catch (e) {{}}
  return url;
}}"""
