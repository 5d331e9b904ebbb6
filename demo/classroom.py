"""Links and lessons wired into the app: `page(ctx)` before the tabs are built, `install(...)` after.

The page load's one event (app.py) decides the page's language on the server and calls the
`Opener` that `install` returns: it reads the query and returns every update a link or lesson asks
for, and turns `ready` to 1; the first tab's first refresh starts on that flag (ctx.start), so it
draws with the link's settings. A plain page gets `ready` alone. A tab the link opens gets its flag
set, so its own first refresh runs (common.Opening). See demo/links.py and demo/lessons.py.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import gradio as gr

from . import lessons, links
from .common import PRIVATE, QUIET
from .i18n import LANGS, t

HIDDEN = {"queue": False, "show_progress": "hidden", **PRIVATE}

# A lesson's hidden tabs: one style rule per tab button (`<elem_id>-button`), so re-rendered buttons stay hidden.
HIDE_TABS_JS = """(ids) => {
    let style = document.getElementById('lesson-style');
    if (!style) { style = document.createElement('style'); style.id = 'lesson-style'; document.head.appendChild(style); }
    style.textContent = (ids || '').split(',').filter(id => /^[A-Za-z0-9_-]+$/.test(id))
        .map(id => '#' + id + '-button { display: none !important; }').join('\\n');
}"""


@dataclass
class Page:
    """What links and lessons write outside the tabs."""

    notice: gr.Markdown     # what a link could not use
    ready: gr.Number        # 1 once a link is applied: the first tab's first refresh follows
    pending: gr.State       # {tab: {parameter: value}} set again after that tab's first refresh
    lesson: gr.Textbox      # the open lesson's name ("" when none)
    hidden: gr.Textbox      # elem_ids of the tabs a lesson does not show, comma-separated
    panel: gr.Sidebar       # the lesson's steps and questions
    panel_text: gr.Markdown


def page(ctx) -> Page:
    """Make the page's link components (call before the tabs) and set ctx.start."""
    notice = gr.Markdown("", visible=False, elem_id="link-notice", elem_classes=["small-note"])
    ready = gr.Number(0, visible=False, elem_id="link-ready")
    lesson = gr.Textbox("", visible=False, elem_id="lesson-name")
    with gr.Sidebar(open=True, visible=False, position="right", width=360, elem_id="lesson-panel") as panel:
        text = gr.Markdown(elem_id="lesson-text")
    hidden = gr.Textbox("", visible=False, elem_id="lesson-hidden")
    pg = Page(notice, ready, gr.State({}), lesson, hidden, panel, text)
    ctx.start = ready  # the first tab's first refresh starts when it turns 1 (common.Opening)
    return pg


def blocks_by_id(demo: gr.Blocks) -> dict:
    return {b.elem_id: b for b in demo.blocks.values() if getattr(b, "elem_id", None)}


def install(ctx, pg: Page, folder: Path | None = None):
    """Wire a link's late values, Copy link and the lesson panel; -> (the Opener, its outputs), for
    the page load's event (app.py), which shows its hidden progress on `pg.ready` only."""
    blocks = blocks_by_id(ctx.demo)
    tabs = [c for c in blocks["genlab-tabs"].children if isinstance(c, gr.Tab)]
    outputs = [blocks["genlab-tabs"], *tabs]
    for view in links.VIEWS.values():
        nested = [tabs for tabs, _ in view.within.values()]
        ids = [view.subtabs, *nested, *view.sub.values(), *(f"{e}-opened" for e in (view.elem_id, *view.sub.values())),
               *view.params.values()]
        outputs += [blocks[i] for i in ids if i in blocks and blocks[i] not in outputs]
    outputs += [pg.notice, pg.pending, pg.lesson, pg.hidden, pg.panel, pg.panel_text, pg.ready]
    opener = Opener(blocks, tabs, pg, folder)
    pg.hidden.change(None, pg.hidden, None, js=HIDE_TABS_JS, **HIDDEN)
    _wire_late(ctx, blocks, pg)
    _wire_copy(blocks, pg)
    # The panel follows a person's language switch at once (not at the end of the switch's chain of redraws).
    blocks["lang-switch"].input(opener.panel, [blocks["lang-switch"], pg.lesson], pg.panel_text, **HIDDEN)
    return opener, outputs


def link_query(request) -> list:
    """The query's (name, value) pairs a link may use (Gradio's own, like __theme, left out)."""
    query = list(request.query_params.multi_items())[:links.MAX_PARAMS + 1] if request is not None else []
    return [(k, v) for k, v in query if not str(k).startswith("__")]


class Opener:
    """The link's one event: (page language, request) -> {component: update}."""

    def __init__(self, blocks, tabs, pg, folder):
        self.blocks, self.tabs, self.pg, self.folder = blocks, tabs, pg, folder

    def __call__(self, lang: str, request: gr.Request):
        lang = lang if lang in LANGS else "en"
        query = link_query(request)
        if all(k == "lang" and v in LANGS for k, v in query):  # a plain page (or one naming only its language)
            return {self.pg.ready: 1}
        link = links.parse(query, self.blocks)
        lesson, problem = self._lesson(link.lesson, lang)
        if lesson is not None and link.view is None:  # the link's settings are for the lesson's tab
            link = links.parse([("tab", lesson.start["tab"]), *query], self.blocks)
        if lesson is not None:
            start = links.parse([(k, _text(v)) for k, v in lesson.start.items()], self.blocks)
            link = _merge(start, link)
        ups: dict = {}
        self._select(ups, link)
        pending = self._values(ups, link)
        hidden = self._shape(ups, lesson) if lesson is not None else ""
        text = " ".join(filter(None, [problem, links.notice(link.ignored, lang)]))
        out = {b: gr.update(**kw) for b, kw in ups.items()}
        out.update({self.pg.notice: gr.update(value=text, visible=bool(text)), self.pg.pending: pending,
                    self.pg.hidden: hidden, self.pg.ready: 1})
        if lesson is not None:
            out.update({self.pg.lesson: lesson.name, self.pg.panel: gr.Sidebar(visible=True, open=True),
                        self.pg.panel_text: lessons.render(lesson, lang)})
        return out

    def _lesson(self, name, lang):
        """-> (Lesson or None, a notice or None)."""
        if not name:
            return None, None
        shown = links._clean(name)
        try:
            return lessons.load(name, self.folder), None
        except lessons.LessonError as err:
            if str(err) == "unknown":
                return None, t("links.lesson.unknown", lang, name=f"`{shown}`")
            return None, t("links.lesson.bad", lang, name=f"`{shown}`", problem=str(err))

    def _select(self, ups, link):
        view = link.view
        if view is None:
            return
        ups.setdefault(self.blocks["genlab-tabs"], {})["selected"] = view.tab
        flags = [f"{view.elem_id}-opened"]
        if link.sub is not None:
            for tabs_id, tab_id in view.path(link.sub):
                sub = self.blocks.get(tab_id)
                if sub is not None and tabs_id in self.blocks:
                    ups.setdefault(self.blocks[tabs_id], {})["selected"] = sub.id
                    flags.append(f"{tab_id}-opened")
        for flag in flags:
            if flag in self.blocks:
                ups.setdefault(self.blocks[flag], {})["value"] = 1

    def _values(self, ups, link) -> dict:
        """Widget values; -> the late ones by tab, for after the tab's first refresh."""
        view, pending = link.view, {}
        for name, value in link.values.items():
            ups.setdefault(self.blocks[view.params[name]], {})["value"] = value
            if name in view.late:
                pending.setdefault(view.tab, {})[name] = value
        return pending

    def _shape(self, ups, lesson) -> str:
        """Controls hidden or locked; -> the elem_ids of the tabs and sub-tabs the lesson does not show
        (their buttons are hidden by a style rule: Gradio 6.31 leaves a Tab's button up on visible=False)."""
        hidden = [tab.elem_id for tab in self.tabs if lesson.tabs and tab.id not in lesson.tabs]
        for tab_id, shown in lesson.subtabs.items():
            hidden += [eid for name, eid in links.VIEWS[tab_id].sub.items() if name not in shown]
        for names, prop in ((lesson.hide, "visible"), (lesson.lock, "interactive")):
            for item in names:
                tab_id, _, param = item.partition(".")
                block = self.blocks.get(links.VIEWS[tab_id].params[param])
                if block is not None:
                    ups.setdefault(block, {})[prop] = False
        return ",".join(hidden)

    def panel(self, lang, name):
        """The lesson panel again after a language switch."""
        if not name:
            return gr.skip()
        try:
            return lessons.render(lessons.load(name, self.folder), lang if lang in LANGS else "en")
        except lessons.LessonError:
            return gr.skip()


def _text(value) -> str:
    return ("true" if value else "false") if isinstance(value, bool) else str(value)


def _merge(start: links.Link, link: links.Link) -> links.Link:
    """A lesson's starting settings under the link's own (the link's win; another tab's drop them)."""
    if link.view is not None and link.view is not start.view:
        return link
    return links.Link(view=start.view, sub=link.sub or start.sub, lang=link.lang, lesson=link.lesson,
                      values={**start.values, **link.values}, ignored=start.ignored + link.ignored)


def _wire_late(ctx, blocks, pg) -> None:
    """A tab's late values are set once its first refresh has run, then its pictures redrawn (only in
    a session whose link set some: the redraw follows a hidden flag that only a link's values raise,
    so a page without a link sends no redraw, whose inputs, read when sent, could be stale)."""
    for view in links.VIEWS.values():
        dep, redraw = ctx.refreshed.get(view.tab, (None, []))
        widgets = {n: blocks[view.params[n]] for n in view.late if view.params.get(n) in blocks}
        if dep is None or not widgets:
            continue
        flag = gr.Number(0, visible=False, elem_id=f"{view.tab}-late-set")

        def late(pending, view=view, widgets=widgets, flag=flag):
            mine = (pending or {}).get(view.tab, {})
            values = {w: mine[n] for n, w in widgets.items() if n in mine}
            return {**values, flag: 1} if values else gr.skip()  # (an empty dict would be read as one value)

        dep.then(late, pg.pending, [*widgets.values(), flag], **HIDDEN)
        chain = None
        for fn, inputs, outputs in redraw:
            chain = (flag.change if chain is None else chain.then)(fn, inputs, outputs, **QUIET, **PRIVATE)


def _wire_copy(blocks, pg) -> None:
    switch = blocks["lang-switch"]
    for view in links.VIEWS.values():
        button, box = blocks.get(f"{view.tab}-copy-link"), blocks.get(f"{view.tab}-link")
        if button is None or box is None:
            continue
        widgets = [blocks[e] for e in view.params.values() if e in blocks]
        button.click(None, [switch, pg.lesson, *widgets], box, js=links.copy_js(view, blocks), **HIDDEN)
