"""The held-out split: what no model is trained, tuned or selected on, only evaluated on.

- Colour+shape pairs (`HELD_OUT_PAIRS`, 8 of the 64: each colour once and each shape once):
  never in a scene of the "train" stream, in at least one object of every "eval" scene.
- Phrasings (`HELD_OUT_TEMPLATES`, `HELD_OUT_PHRASES`): drawn only by the evaluation caption
  sampler (`captions.caption(..., split="eval")`), never by the training one. Each is a new
  arrangement of words the training phrasings use, so a held-out prompt has no unknown word:
    English: "in the top left, a red circle" (position first, no "there is"); "to the left of a
    blue square is a red circle" (relation inverted); "in the upper-left corner" (and the other
    three corners: "upper left" and "top-left corner" are trained); "in the middle" (the centre;
    "top middle" is trained); "the number seven" ("number 7" is trained).
    Chinese: 一个红色的圆形位于左上角 (位于 is trained in relations); 蓝色正方形的左边是一个红色的圆形;
    小的红色圆形 (size first; 红色的小圆形 is trained); 手写的七 (手写的7 is trained).
"""

from __future__ import annotations

from .world import HELD_OUT_PAIRS

HELD_OUT_TEMPLATES = frozenset({
    "en.one.pp_first", "en.rel.inverted", "en.digit.the_number_word",
    "zh.one.weiyu", "zh.rel.shi", "zh.np.size_first", "zh.digit.handwritten_hanzi",
})
HELD_OUT_PHRASES = {
    "en": frozenset({"in the upper-left corner", "in the upper-right corner", "in the lower-left corner",
                     "in the lower-right corner", "in the middle"}),
    "zh": frozenset(),
}
__all__ = ["HELD_OUT_PAIRS", "HELD_OUT_TEMPLATES", "HELD_OUT_PHRASES", "scene_is_held_out", "caption_is_held_out",
           "text_is_held_out"]


def scene_is_held_out(scene: dict) -> bool:
    """Whether any object of the scene is a held-out colour+shape pair."""
    return any((o["color"], o["shape"]) in HELD_OUT_PAIRS for o in scene["objects"])


def caption_is_held_out(caption) -> bool:
    """Whether a sampled `Caption` used a held-out template, construction or phrase."""
    return bool(set(caption.templates) & HELD_OUT_TEMPLATES) or bool(set(caption.phrases) & HELD_OUT_PHRASES[caption.lang])


def text_is_held_out(text: str, lang: str) -> bool:
    """Whether a caption's text alone (typed, not sampled) uses a held-out phrasing or names a held-out
    colour+shape pair: the grammar parses it back (`captions.parse`)."""
    from .captions import parse

    found = parse(text, lang)
    return bool(found["templates"] & HELD_OUT_TEMPLATES or found["phrases"] & HELD_OUT_PHRASES[lang]
                or found["pairs"] & HELD_OUT_PAIRS)
