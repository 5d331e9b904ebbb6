"""Captions of scenes (and MNIST digits) drawn from the grammar, in English and Chinese.

`caption(scene, lang, rng, split)` draws one phrasing of a scene's structured description: one
object with its position, a relation between two ("a red circle to the left of a blue square",
红色的圆形在蓝色正方形的左边), objects listed with their positions, or a count ("two stars",
"2 stars", 两颗星星), sometimes with the background. `split="train"` never draws a held-out
phrasing (`heldout`); `split="eval"` draws one whenever the scene's kind has one, half the time.
Every caption is true of its scene; a partial one (a relation among three objects) names the
third object with its position.
"""

from __future__ import annotations

import re
from functools import lru_cache
from dataclasses import dataclass

import numpy as np

from .grammar import EN, LANGS, TEMPLATES, ZH, ZH_MEASURE, en_plural
from .heldout import HELD_OUT_PHRASES, HELD_OUT_TEMPLATES
from .text import en_words, grammar_words, zh_segment

SIZE_P = 0.4          # how often an object's size is said
BACKGROUND_P = 0.3    # how often the background is said
COLOR_COUNT_P = 0.7   # how often a count of one colour says the colour ("two red stars")
EVAL_HELD_OUT_P = 0.5  # how often the evaluation sampler takes a held-out phrasing where one fits
SPLITS = ("train", "eval")
_CAPTION_STREAM = {"en": 10, "zh": 11}


@dataclass(frozen=True)
class Caption:
    text: str
    lang: str
    templates: tuple[str, ...]   # the sentence template first, then any construction used inside it
    phrases: tuple[str, ...]     # the lexicon phrases drawn
    words: tuple[str, ...]       # the grammar's words, in order (Chinese segmented by the grammar)


class _Draw:
    """One caption's random draws, restricted to what `split` may use, and a record of what was used."""

    def __init__(self, rng: np.random.Generator, lang: str, split: str):
        if lang not in LANGS or split not in SPLITS:
            raise ValueError(f"lang must be one of {LANGS} and split one of {SPLITS}")
        self.rng, self.lang, self.split = rng, lang, split
        self.templates: list[str] = []
        self.phrases: list[str] = []
        self.memo: dict[tuple, str] = {}
        self.noun = ""   # the shape word of the count being said (its measure word in Chinese)

    def chance(self, p: float) -> bool:
        return bool(self.rng.random() < p)

    def _pick(self, options, held_out) -> str:
        allowed = [o for o in options if o not in held_out] if self.split == "train" else list(options)
        held = [o for o in allowed if o in held_out]
        if held and len(held) < len(allowed) and self.split == "eval":
            allowed = held if self.chance(EVAL_HELD_OUT_P) else [o for o in allowed if o not in held_out]
        return allowed[int(self.rng.integers(len(allowed)))]

    def phrase(self, options) -> str:
        """One of `options`; the same one again within a caption (one word per thing: never "a cross
        right of a plus sign")."""
        options = tuple(options)
        if options not in self.memo:
            self.memo[options] = self._pick(options, HELD_OUT_PHRASES[self.lang])
        self.phrases.append(self.memo[options])
        return self.memo[options]

    def template(self, names) -> str:
        name = self._pick(tuple(names), HELD_OUT_TEMPLATES)
        self.templates.append(name)
        return name


def _templates(prefix: str) -> tuple[str, ...]:
    return tuple(k for k in TEMPLATES if k.startswith(prefix))


# ------------------------------------------------------------------------------------------------
# Noun phrases
# ------------------------------------------------------------------------------------------------
def _article(text: str) -> str:
    return ("an " if text[0] in "aeiou" else "a ") + text


def en_np(d: _Draw, obj: dict, det: bool = True) -> str:
    words = [d.phrase(EN["size"][obj["size"]])] if d.chance(SIZE_P) else []
    words += [d.phrase(EN["color"][obj["color"]]), d.phrase(EN["shape"][obj["shape"]])]
    text = " ".join(words)
    return _article(text) if det else text


def zh_np(d: _Draw, obj: dict, det: bool = True, bare: bool = False) -> str:
    """一 个 红色 的 圆形; `bare`: no 的 between colour and shape (蓝色 正方形, inside 的-phrases)."""
    color, shape = d.phrase(ZH["color"][obj["color"]]), d.phrase(ZH["shape"][obj["shape"]])
    if not d.chance(SIZE_P):
        core = f"{color} {shape}" if bare or d.chance(0.5) else f"{color} 的 {shape}"
    elif obj["size"] == "medium":
        core = f"{d.phrase(ZH['size']['medium'])} {color} {shape}"
    else:
        size = d.phrase(ZH["size"][obj["size"]])
        if bare:   # inside a 的-phrase: 蓝色小正方形的左边 (小的蓝色正方形的左边 would stack 的)
            core = f"{color} {size} {shape}"
        elif d.template(("zh.np.colour_first", "zh.np.size_first")) == "zh.np.size_first":
            core = f"{size} 的 {color} {shape}"
        else:
            core = f"{color} 的 {size} {shape}"
    return f"一 {ZH_MEASURE.get(shape, '个')} {core}" if det else core


def _np(d: _Draw, obj: dict, **kw) -> str:
    return en_np(d, obj, det=kw.get("det", True)) if d.lang == "en" else zh_np(d, obj, **kw)


def _pos(d: _Draw, obj: dict) -> str:
    return d.phrase((EN if d.lang == "en" else ZH)["position"][obj["position"]])


# ------------------------------------------------------------------------------------------------
# Sentences
# ------------------------------------------------------------------------------------------------
def _one(d: _Draw, obj: dict) -> str:
    name = d.template(_templates(f"{d.lang}.one."))
    slots = {"np": lambda: _np(d, obj), "npb": lambda: _np(d, obj, det=False, bare=True), "pp": lambda: _pos(d, obj),
             "pos": lambda: _pos(d, obj), "where": lambda: d.phrase(EN["where"][obj["position"]])}
    return _fill(TEMPLATES[name], slots)


def _fill(template: str, slots: dict) -> str:
    """Format `template`, drawing each slot it names (in order of appearance) once."""
    names = re.findall(r"{(\w+)}", template)
    return template.format(**{k: slots[k]() for k in dict.fromkeys(names)})


def _relation(d: _Draw, scene: dict) -> str:
    r = scene["relations"][int(d.rng.integers(len(scene["relations"])))]
    a, rel, b = r["a"], r["relation"], r["b"]
    if d.chance(0.5):
        a, b, rel = b, a, {"left of": "right of", "right of": "left of", "above": "below", "below": "above"}[rel]
    objs = scene["objects"]
    name = d.template(_templates(f"{d.lang}.rel."))
    lex = EN if d.lang == "en" else ZH
    slots = {"np1": lambda: _np(d, objs[a]), "np2": lambda: _np(d, objs[b]), "rel": lambda: d.phrase(lex["relation"][rel]),
             "np1b": lambda: _np(d, objs[a], det=False, bare=True), "np2b": lambda: _np(d, objs[b], det=False, bare=True)}
    text = _fill(TEMPLATES[name], slots)
    rest = [o for k, o in enumerate(objs) if k not in (a, b)]
    if rest:
        text += f", and {_np(d, rest[0])} {_pos(d, rest[0])}" if d.lang == "en" else f" ， {_pos(d, rest[0])} 有 {_np(d, rest[0])}"
    return text


def _list(d: _Draw, objs: list[dict]) -> str:
    d.template((f"{d.lang}.list",))
    if d.lang == "zh":
        return " ， ".join(f"{_pos(d, o)} 有 {_np(d, o)}" for o in objs)
    items = [f"{_np(d, o)} {_pos(d, o)}" for o in objs]
    return ", ".join(items[:-1]) + " and " + items[-1]


def _count_phrase(d: _Draw, group: list[dict]) -> str:
    """'two red stars' / '2 stars' / 两 颗 红色 的 星星 / 2 个 圆形."""
    n, shape = len(group), group[0]["shape"]
    one_colour = len({o["color"] for o in group}) == 1 and (d.split == "eval" or d.chance(COLOR_COUNT_P))
    lex = EN if d.lang == "en" else ZH
    num, noun = d.phrase(lex["number"][n]), d.phrase(lex["shape"][shape])
    d.noun = noun
    colour = d.phrase(lex["color"][group[0]["color"]]) if one_colour else ""
    if d.lang == "en":
        return " ".join(w for w in (num, colour, en_plural(noun)) if w)
    return " ".join(w for w in (num, ZH_MEASURE.get(noun, "个"), colour, "的" if colour and d.chance(0.5) else "", noun) if w)


def _count(d: _Draw, objs: list[dict]) -> str:
    shapes = [o["shape"] for o in objs]
    common = max(set(shapes), key=shapes.count)
    group, rest = [o for o in objs if o["shape"] == common], [o for o in objs if o["shape"] != common]
    choices = _templates(f"{d.lang}.count.")
    choices = [c for c in choices if c.endswith(".and")] if rest else [c for c in choices if not c.endswith(".and")]
    name = d.template(choices)
    slots = {"count": lambda: _count_phrase(d, group), "np": lambda: _np(d, rest[0]), "each": lambda: _each(d, group)}
    return _fill(TEMPLATES[name], slots)


def _each(d: _Draw, group: list[dict]) -> str:
    """'one in the top left and one in the centre' / 一 颗 在 左上角 ， 一 颗 在 中央."""
    if d.lang == "zh":
        m = ZH_MEASURE.get(d.noun, "个")   # the counted shape's word, drawn by _count_phrase
        return " ， ".join(f"一 {m} 在 {_pos(d, o)}" for o in group)
    items = [f"one {_pos(d, o)}" for o in group]
    return ", ".join(items[:-1]) + " and " + items[-1]


def _with_background(d: _Draw, scene: dict, text: str) -> str:
    lex = EN if d.lang == "en" else ZH
    listed = d.lang == "en" and ("," in text or " and " in text)   # after a list, "on a ... background" would
    form = d.phrase(lex["on_bg"][-1:] if listed else lex["on_bg"])  # read as the last item's: ", grey background"
    bg = d.phrase(lex["background"][scene["background"]])
    return f"{text} {form.format(bg=bg)}" if d.lang == "en" else form.format(bg=bg, caption=text)


# ------------------------------------------------------------------------------------------------
# Entry points
# ------------------------------------------------------------------------------------------------
def _as_rng(rng) -> np.random.Generator:
    return rng if isinstance(rng, np.random.Generator) else np.random.default_rng(rng)


def _finish(d: _Draw, text: str) -> Caption:
    if d.lang == "en":
        text = re.sub(r"\s+,", ",", " ".join(text.split()))
        words = tuple(en_words(text))
    else:
        words = tuple(text.split())
        text = "".join(words)
    return Caption(text=text, lang=d.lang, templates=tuple(d.templates), phrases=tuple(d.phrases), words=words)


def _countable(objs: list[dict], split: str) -> bool:
    """Whether some shape occurs twice; for "eval", also that a count names every held-out pair it counts
    (a count of one colour, which the evaluation sampler always says: "two red triangles")."""
    shapes = [o["shape"] for o in objs]
    common = max(set(shapes), key=shapes.count)
    if shapes.count(common) < 2:
        return False
    return split == "train" or len({o["color"] for o in objs if o["shape"] == common}) == 1


def caption(scene: dict, lang: str = "en", rng=0, split: str = "train") -> Caption:
    """One phrasing of `scene` in `lang`, drawn with `rng` (a numpy Generator or a seed)."""
    d = _Draw(_as_rng(rng), lang, split)
    objs = scene["objects"]
    kinds = ["one"] if len(objs) == 1 else ["rel", "list"] + (["count"] if _countable(objs, split) else [])
    kind = kinds[int(d.rng.integers(len(kinds)))]
    if kind == "count":
        text = _count(d, objs)
    elif kind == "rel":
        text = _relation(d, scene)
    else:
        text = _one(d, objs[0]) if kind == "one" else _list(d, objs)
    if d.chance(BACKGROUND_P):   # ("a red circle, top left" counts as a list: a comma)
        text = _with_background(d, scene, text)
    return _finish(d, text)


def scene_captions(scenes: list[dict], lang: str, *, seed: int = 0, split: str = "train", start: int = 0) -> list[Caption]:
    """One caption per scene; caption i depends only on (seed, lang, start + i) and its scene."""
    return [caption(s, lang, np.random.default_rng([seed, _CAPTION_STREAM[lang], start + i]), split)
            for i, s in enumerate(scenes)]


def digit_caption(label: int, lang: str = "en", rng=0, split: str = "train") -> Caption:
    """An MNIST label said one way: "7", "seven", "the digit seven", "七", "数字7", ..."""
    if not 0 <= int(label) <= 9:
        raise ValueError(f"a digit is 0-9, not {label}")
    d = _Draw(_as_rng(rng), lang, split)
    name = d.template(_templates(f"{lang}.digit."))
    lex = EN if lang == "en" else ZH
    text = TEMPLATES[name].format(n=str(int(label)), word=lex["digit"][int(label)], zh=ZH["digit"][int(label)])
    return _finish(d, text)


# ------------------------------------------------------------------------------------------------
# Reading a caption back (for typed prompts: is it held out?)
# ------------------------------------------------------------------------------------------------
_TAGGED = ("shape", "color", "size", "position", "relation")


@lru_cache(maxsize=2)
def _tags(lang: str) -> dict[tuple[str, ...], tuple[str, str, str]]:
    """The grammar's phrases as word tuples -> (kind, value, phrase)."""
    lex = EN if lang == "en" else ZH
    split = en_words if lang == "en" else str.split
    table = {tuple(split(p)): (kind, value, p) for kind in _TAGGED for value, ps in lex[kind].items() for p in ps}
    if lang == "en":   # counted shapes: "two red stars"
        table.update({tuple(en_words(en_plural(p))): ("shape", v, p) for v, ps in EN["shape"].items() for p in ps})
    return table


def _tag(words: list[str], lang: str) -> list[tuple[int, int, tuple[str, str, str]]]:
    """[(start, end, (kind, value, phrase))], longest phrase first, left to right."""
    table, longest = _tags(lang), 5
    out, i = [], 0
    while i < len(words):
        for k in range(min(longest, len(words) - i), 0, -1):
            if tuple(words[i:i + k]) in table:
                out.append((i, i + k, table[tuple(words[i:i + k])]))
                i += k
                break
        else:
            i += 1
    return out


def _pairs(tags, words: list[str], skip: set[str]) -> set[tuple[str, str]]:
    """(colour, shape) of each shape word whose noun phrase names a colour."""
    found, by_end = set(), {end: t for _, end, t in tags}
    for start, _, (kind, value, _) in tags:
        j = start
        while j > 0 and (words[j - 1] in skip or by_end.get(j, ("",))[0] == "size"):
            j -= 1
        if kind == "shape" and by_end.get(j, ("",))[0] == "color":
            found.add((by_end[j][1], value))
    return found


def parse(text: str, lang: str) -> dict[str, set]:
    """What the grammar recognises in `text`: the held-out-relevant templates, every phrase, and the
    colour+shape pairs named ({"templates", "phrases", "pairs"})."""
    if lang == "en":
        words = en_words(text)
    else:
        words = [w for w, _ in zh_segment("".join(text.split()), grammar_words()["zh"])]
    tags = _tag(words, lang)
    templates = set()
    kinds = [t[2][0] for t in tags]
    if lang == "en":
        if tags and tags[0][0] == 0 and kinds[0] == "position" and "," in text \
                and en_words(text.split(",")[0]) == words[:tags[0][1]]:   # "in the top left, a ..."
            templates.add("en.one.pp_first")
        if tags and tags[0][0] == 0 and kinds[0] == "relation":
            templates.add("en.rel.inverted")
        if len(words) == 3 and words[:2] == ["the", "number"] and words[2] in EN["digit"]:
            templates.add("en.digit.the_number_word")
    else:
        templates |= _zh_templates(words)
    return {"templates": templates, "phrases": {t[2][2] for t in tags},
            "pairs": _pairs(tags, words, {"的"} if lang == "zh" else set())}


def _zh_templates(words: list[str]) -> set[str]:
    out = set()
    positions = {p for ps in ZH["position"].values() for p in ps}
    rel_words = {p for ps in ZH["relation"].values() for p in ps}
    colours = {p for ps in ZH["color"].values() for p in ps}
    for i, w in enumerate(words):
        nxt = words[i + 1] if i + 1 < len(words) else ""
        if w == "位于" and nxt in positions:   # 位于 a place, not 位于 an object's side (trained)
            out.add("zh.one.weiyu")
        if w == "的" and nxt in rel_words and words[i + 2:i + 3] == ["是"]:
            out.add("zh.rel.shi")
        if w in ("小", "大") and nxt == "的" and words[i + 2:i + 3] and words[i + 2] in colours:
            out.add("zh.np.size_first")
    if len(words) == 3 and words[:2] == ["手写", "的"] and words[2] in ZH["digit"]:
        out.add("zh.digit.handwritten_hanzi")
    return out
