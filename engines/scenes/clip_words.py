"""What the GenLab CLIP's text encoder has read: every word of its training captions (issue 20).

The GenLab CLIP (engines.clip) reads UTF-8 bytes, so it will encode any text; but it was trained
only on the caption banks of `engines.clip.train` (MNIST digits, the shapes world, their position
rewordings and partial captions), so a word outside them is noise to it: "a cat sitting on a sofa"
gets a score, and the score means nothing. `clip_never_seen(prompt)` names those words before
generating ("never seen: cat, sitting, sofa"). English is split into words; Chinese, which the
CLIP reads as characters, into runs of characters none of its captions contain.
"""

from __future__ import annotations

from functools import lru_cache

from .text import _CJK, en_words


@lru_cache(maxsize=1)
def clip_corpus() -> tuple[str, ...]:
    """Every caption the GenLab CLIP's training could draw, up to the choice of attribute values
    (each factor's every value appears in every template)."""
    from ..clip import train
    from ..data.shapes import FACTORS, _CAPTIONS_EN, shape_caption

    first = {f: values[0] for f, values in FACTORS.items()}
    texts = list(train.contrast_captions())
    texts += [train.digit_caption(d, t) for d in range(10)
              for t in train.DIGIT_TEMPLATES_EN + train.DIGIT_TEMPLATES_ZH]
    for factor, values in FACTORS.items():
        for value in values:
            attrs = {**first, factor: value}
            for k in range(len(_CAPTIONS_EN)):
                texts += list(shape_caption(attrs, k).values())
            texts += [text for text, _ in train._shape_partials(attrs)]
    for lang in ("en", "zh"):
        for wordings in train.POSITION_WORDINGS[lang].values():
            texts += list(wordings)
    return tuple(texts)


@lru_cache(maxsize=1)
def clip_known() -> tuple[frozenset, frozenset]:
    """(English words, Chinese characters) of `clip_corpus`."""
    en, zh = set(), set()
    for text in clip_corpus():
        en.update(en_words(text))
        for run in _CJK.findall(text):
            zh.update(run)
    return frozenset(en), frozenset(zh)


def clip_never_seen(prompt: str) -> list[str]:
    """The prompt's words (English) and character runs (Chinese) no GenLab CLIP caption contains,
    each once, in order."""
    en, zh = clip_known()
    out, pos, text = [], 0, str(prompt)
    for m in _CJK.finditer(text):
        out += [w for w in en_words(text[pos:m.start()]) if w not in en]
        out += _unknown_runs(m.group(), zh)
        pos = m.end()
    out += [w for w in en_words(text[pos:]) if w not in en]
    return list(dict.fromkeys(out))


def _unknown_runs(text: str, known) -> list[str]:
    """Runs of characters of `text` not in `known` (CJK punctuation never counts)."""
    runs, run = [], ""
    for ch in text:
        if ch in known or "\u3000" <= ch <= "\u303f" or "\uff00" <= ch <= "\uffef":
            runs, run = runs + [run] * bool(run), ""
        else:
            run += ch
    return runs + [run] * bool(run)
