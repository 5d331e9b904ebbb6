"""The caption grammar's words: what each attribute value, relation, number and template may be called.

English phrases are written as they appear; Chinese ones as their words separated by spaces (the
grammar's own segmentation: a caption's text joins them, its `words` keep them apart). The first
phrase of each value is its plain name. Templates are `str.format` strings over named slots; a
template's name says its language and kind (`en.one.*`: one object, `rel`: a relation, `list`:
objects with their positions, `count`: objects of one shape counted, `digit`: an MNIST label).

Which of these the training sampler may draw is decided in `heldout` (all of them but the held-out
phrases and templates); every word of a held-out phrasing also occurs in some training phrasing, so
a held-out prompt tests new combinations of known words, never unknown words.
"""

from __future__ import annotations

from ..data.shapes import BACKGROUNDS, COLORS, POSITIONS, SHAPES
from .world import SIZES

LANGS = ("en", "zh")

EN = {
    "shape": {"circle": ("circle", "disc"), "square": ("square",), "triangle": ("triangle",),
              "diamond": ("diamond", "rhombus"), "star": ("star", "five-pointed star"), "cross": ("cross", "plus sign"),
              "heart": ("heart",), "ring": ("ring", "hollow circle")},
    "color": {"red": ("red",), "green": ("green",), "blue": ("blue",), "yellow": ("yellow",),
              "purple": ("purple", "violet"), "orange": ("orange",), "cyan": ("cyan", "turquoise"), "white": ("white",)},
    "size": {"small": ("small", "little", "tiny"), "medium": ("medium-sized", "mid-sized"), "large": ("large", "big")},
    "position": {
        "top left": ("in the top left", "in the top-left corner", "in the upper left", "at the top left",
                     "in the upper-left corner"),
        "top": ("at the top", "at the top centre", "in the top middle"),
        "top right": ("in the top right", "in the top-right corner", "in the upper right", "at the top right",
                      "in the upper-right corner"),
        "left": ("on the left", "on the left side", "at the left edge"),
        "centre": ("in the centre", "in the center", "in the middle"),
        "right": ("on the right", "on the right side", "at the right edge"),
        "bottom left": ("in the bottom left", "in the bottom-left corner", "in the lower left", "at the bottom left",
                        "in the lower-left corner"),
        "bottom": ("at the bottom", "at the bottom centre", "in the bottom middle"),
        "bottom right": ("in the bottom right", "in the bottom-right corner", "in the lower right",
                         "at the bottom right", "in the lower-right corner"),
    },
    # Bare position words, after a comma: "a red circle, top left".
    "where": {"top left": ("top left", "upper left"), "top": ("top", "top centre"), "top right": ("top right", "upper right"),
              "left": ("left", "left side"), "centre": ("centre", "center"), "right": ("right", "right side"),
              "bottom left": ("bottom left", "lower left"), "bottom": ("bottom", "bottom centre"),
              "bottom right": ("bottom right", "lower right")},
    "relation": {"left of": ("to the left of", "left of", "on the left of"),
                 "right of": ("to the right of", "right of", "on the right of"),
                 "above": ("above", "over"), "below": ("below", "under", "beneath")},
    "background": {"black": ("black",), "grey": ("grey", "gray"), "dark blue": ("dark blue", "navy"),
                   "dark green": ("dark green",), "white": ("white",)},
    "on_bg": ("on a {bg} background", "against a {bg} background", ", {bg} background"),
    "number": {1: ("one", "1"), 2: ("two", "2"), 3: ("three", "3")},
    "digit": ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"),
}

ZH = {
    "shape": {"circle": ("圆形",), "square": ("正方形",), "triangle": ("三角形",), "diamond": ("菱形",),
              "star": ("五角星", "星星"), "cross": ("十字", "十字形"), "heart": ("爱心", "心形"), "ring": ("圆环", "圆圈")},
    "color": {"red": ("红色",), "green": ("绿色",), "blue": ("蓝色",), "yellow": ("黄色",), "purple": ("紫色",),
              "orange": ("橙色", "橘色"), "cyan": ("青色",), "white": ("白色",)},
    "size": {"small": ("小",), "medium": ("中等大小 的",), "large": ("大",)},
    "position": {"top left": ("左上角", "左上方"), "top": ("上方", "上面", "顶部"), "top right": ("右上角", "右上方"),
                 "left": ("左侧", "左边"), "centre": ("中央", "中间", "正中间"), "right": ("右侧", "右边"),
                 "bottom left": ("左下角", "左下方"), "bottom": ("下方", "下面", "底部"),
                 "bottom right": ("右下角", "右下方")},
    "relation": {"left of": ("左边", "左侧"), "right of": ("右边", "右侧"), "above": ("上面", "上方"), "below": ("下面", "下方")},
    "background": {"black": ("黑色",), "grey": ("灰色",), "dark blue": ("深蓝色",), "dark green": ("深绿色",), "white": ("白色",)},
    "on_bg": ("{bg} 背景 上 ， {caption}", "{caption} ， 背景 是 {bg} 的", "在 {bg} 背景 上 ， {caption}"),
    "number": {1: ("一",), 2: ("两", "2"), 3: ("三", "3")},
    "digit": ("零", "一", "二", "三", "四", "五", "六", "七", "八", "九"),
}
ZH_MEASURE = {"星星": "颗", "爱心": "颗"}   # every other shape word takes 个

LEXICON = {"en": EN, "zh": ZH}


def en_plural(noun: str) -> str:
    """"star" -> "stars", "cross" -> "crosses", "five-pointed star" -> "five-pointed stars"."""
    return noun + ("es" if noun.endswith(("s", "x")) else "s")

TEMPLATES = {
    "en.one.after": "{np} {pp}",
    "en.one.there_is": "there is {np} {pp}",
    "en.one.pp_there_is": "{pp} there is {np}",
    "en.one.comma": "{np}, {where}",
    "en.one.pp_first": "{pp}, {np}",
    "en.rel.plain": "{np1} {rel} {np2}",
    "en.rel.is": "{np1} is {rel} {np2}",
    "en.rel.there_is": "there is {np1} {rel} {np2}",
    "en.rel.inverted": "{rel} {np2} is {np1}",
    "en.list": "{items}",
    "en.count.plain": "{count}",
    "en.count.there_are": "there are {count}",
    "en.count.each": "{count}, {each}",
    "en.count.and": "{count} and {np}",
    "zh.one.you": "{pos} 有 {np}",
    "zh.one.huamian": "画面 {pos} 有 {np}",
    "zh.one.zai": "{np} 在 {pos}",
    "zh.one.shi": "{pos} 是 {np}",
    "zh.one.de": "{pos} 的 {npb}",
    "zh.one.weiyu": "{np} 位于 {pos}",
    "zh.rel.zai": "{np1} 在 {np2b} 的 {rel}",
    "zh.rel.you": "{np2b} 的 {rel} 有 {np1}",
    "zh.rel.weiyu": "{np1b} 位于 {np2b} {rel}",
    "zh.rel.shi": "{np2b} 的 {rel} 是 {np1}",
    "zh.list": "{items}",
    "zh.count.plain": "{count}",
    "zh.count.you": "画面 里 有 {count}",
    "zh.count.each": "{count} ， {each}",
    "zh.count.and": "{count} 和 {np}",
    "en.digit.numeral": "{n}",
    "en.digit.word": "{word}",
    "en.digit.the_digit_word": "the digit {word}",
    "en.digit.the_digit": "the digit {n}",
    "en.digit.number": "number {n}",
    "en.digit.handwritten": "a handwritten {word}",
    "en.digit.the_number_word": "the number {word}",
    "zh.digit.hanzi": "{zh}",
    "zh.digit.numeral": "{n}",
    "zh.digit.shuzi": "数字 {n}",
    "zh.digit.shuzi_hanzi": "数字 {zh}",
    "zh.digit.handwritten": "手写 的 {n}",
    "zh.digit.handwritten_hanzi": "手写 的 {zh}",
}

# Each language's lexicon must name every value the world has.
for _lex in (EN, ZH):
    assert set(_lex["shape"]) == set(SHAPES) and set(_lex["color"]) == set(COLORS)
    assert set(_lex["size"]) == set(SIZES) and set(_lex["position"]) == set(POSITIONS)
    assert set(_lex["background"]) == set(BACKGROUNDS)
