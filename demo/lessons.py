"""Lessons: small JSON files in lessons/ that a teacher hands out as `/?lesson=NAME`.

A lesson names the tabs (and sub-tabs) it shows, the controls it hides or locks, its starting
settings (the parameters of a link, demo/links.py) and a side panel of steps and questions in
English and Chinese. `check(data)` is the schema: a bad file gives a clear message (shown in the
page's notice) and never breaks the app. NAME is matched against the files in the folder, never
joined into a path.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

from .i18n import t
from .links import RESERVED, VIEWS

LESSONS_DIR = Path(__file__).resolve().parent.parent / "lessons"
NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,39}$")
MAX_BYTES = 64 * 1024   # a lesson file, read at most
MAX_ITEMS = 30          # steps or questions
MAX_TEXT = 1500         # characters of one text
KEYS = ("title", "tabs", "subtabs", "start", "hide", "lock", "steps", "questions")


class LessonError(ValueError):
    """A lesson file that does not follow the schema; str() says where and what."""


@dataclass(frozen=True)
class Lesson:
    name: str
    title: dict          # {"en": ..., "zh": ...}
    tabs: tuple          # tab ids shown (all when empty)
    subtabs: dict        # tab id -> sub-tab link names shown
    start: dict          # link parameters: tab, sub and the tab's settings
    hide: tuple          # "tab.param" controls hidden
    lock: tuple          # "tab.param" controls shown but locked
    steps: tuple         # bilingual texts
    questions: tuple


def available(folder: Path | None = None) -> dict[str, Path]:
    """Lesson name -> file, for the files whose names are valid lesson names."""
    folder = LESSONS_DIR if folder is None else Path(folder)
    if not folder.is_dir():
        return {}
    return {p.stem: p for p in sorted(folder.glob("*.json")) if NAME.match(p.stem) and p.is_file()}


def load(name: str, folder: Path | None = None) -> Lesson:
    """The lesson NAME (LessonError if it is unknown or its file is bad)."""
    files = available(folder)
    if not isinstance(name, str) or name not in files:
        raise LessonError("unknown")
    raw = files[name].read_bytes()[:MAX_BYTES + 1]
    if len(raw) > MAX_BYTES:
        raise LessonError(f"the file is over {MAX_BYTES // 1024} KB")
    try:
        data = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        raise LessonError(f"not valid JSON ({err})") from None
    return check(data, name)


def _text(value, where: str) -> dict:
    if not isinstance(value, dict) or set(value) != {"en", "zh"} or not all(
            isinstance(v, str) and 0 < len(v) <= MAX_TEXT for v in value.values()):
        raise LessonError(f"{where} must be {{\"en\": text, \"zh\": text}}, each 1-{MAX_TEXT} characters")
    return dict(value)


def _texts(value, where: str) -> tuple:
    if not isinstance(value, list) or len(value) > MAX_ITEMS:
        raise LessonError(f"{where} must be a list of at most {MAX_ITEMS} texts")
    return tuple(_text(v, f"{where}[{i}]") for i, v in enumerate(value))


def _controls(value, where: str) -> tuple:
    if not isinstance(value, list):
        raise LessonError(f"{where} must be a list of \"tab.parameter\" names")
    for item in value:
        tab, _, param = item.partition(".") if isinstance(item, str) else ("", "", "")
        if tab not in VIEWS or param not in VIEWS[tab].params:
            raise LessonError(f"{where}: {str(item)[:40]!r} is not a control links know (\"tab.parameter\")")
    return tuple(value)


def _start(value, tabs) -> dict:
    if not isinstance(value, dict):
        raise LessonError("start must be an object of link parameters")
    tab = value.get("tab")
    if tab not in VIEWS or (tabs and tab not in tabs):
        raise LessonError("start.tab must name one of the lesson's tabs")
    for name, v in value.items():
        if name not in (*RESERVED, *VIEWS[tab].params) or name == "lesson":
            raise LessonError(f"start: {str(name)[:40]!r} is not a parameter of the {tab} tab")
        if not isinstance(v, (str, int, float, bool)):
            raise LessonError(f"start.{name} must be a text or a number")
    return dict(value)


def check(data, name: str = "lesson") -> Lesson:
    """The schema: -> a Lesson, or LessonError naming the first problem."""
    if not isinstance(data, dict):
        raise LessonError("the file must hold one JSON object")
    unknown = [k for k in data if k not in KEYS]
    if unknown:
        raise LessonError(f"unknown key {str(unknown[0])[:40]!r} (known: {', '.join(KEYS)})")
    tabs = data.get("tabs", [])
    if not isinstance(tabs, list) or any(tab not in VIEWS for tab in tabs):
        raise LessonError(f"tabs must be a list of tab names ({', '.join(VIEWS)})")
    subtabs = data.get("subtabs", {})
    if not isinstance(subtabs, dict) or any(
            tab not in VIEWS or not isinstance(subs, list) or any(s not in VIEWS[tab].sub for s in subs)
            for tab, subs in subtabs.items()):
        raise LessonError("subtabs must map a tab name to a list of its sub-tab names")
    if "title" not in data or "start" not in data:
        raise LessonError("title and start are required")
    return Lesson(name=name, title=_text(data["title"], "title"), tabs=tuple(tabs),
                  subtabs={k: tuple(v) for k, v in subtabs.items()}, start=_start(data["start"], tabs),
                  hide=_controls(data.get("hide", []), "hide"), lock=_controls(data.get("lock", []), "lock"),
                  steps=_texts(data.get("steps", []), "steps"), questions=_texts(data.get("questions", []), "questions"))


def render(lesson: Lesson | None, lang: str) -> str:
    """The side panel's Markdown in `lang`."""
    if lesson is None:
        return ""
    lines = [f"## {lesson.title[lang]}"]
    if lesson.steps:
        lines += ["", f"### {t('links.lesson.steps', lang)}", ""]
        lines += [f"{i}. {s[lang]}" for i, s in enumerate(lesson.steps, 1)]
    if lesson.questions:
        lines += ["", f"### {t('links.lesson.questions', lang)}", ""]
        lines += [f"- {q[lang]}" for q in lesson.questions]
    if lesson.lock:
        lines += ["", f"*{t('links.lesson.locked', lang)}*"]
    return "\n".join(lines)
