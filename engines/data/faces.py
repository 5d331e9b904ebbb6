"""`faces`: procedural cartoon faces whose factors sit at coarse, middle and fine scales.

Made for the StyleGAN family: head shape, position, size and tilt change the whole picture
(coarse layers), eyes, mouth and hair style change parts a quarter of the image wide (middle
layers), and colours, the background pattern, freckles and film grain change pixels without
moving any edge (fine layers). Every image comes with its attributes (`FACE_ATTRIBUTES`) and
with true captions in English and Chinese.

Rendering is vectorised numpy: each part of a face is a signed distance on the pixel grid
(in head-radius units, negative inside), turned into coverage by a one-pixel linear ramp, and
composited back to front over a chunk of images at once. Sizes below 64 are drawn at 64 or more
and area-averaged down (size 32: drawn at 64, each output pixel the mean of a 2x2 block), so a
32x32 face is the 64x64 face made smaller, not a different drawing.
"""

from __future__ import annotations

import math
import os
from concurrent.futures import ThreadPoolExecutor
from functools import lru_cache

import numpy as np
import torch

from ..errors import UserError
from .imageset import ImageSet, _check_count

# ------------------------------------------------------------------------------------------------
# Attributes
# ------------------------------------------------------------------------------------------------
# English names are the canonical values stored in `attrs`; FACE_VALUE_ZH gives the Chinese.

HEAD_SHAPES = ("round", "oval", "square", "heart")
EYES = ("dots", "round", "wide", "sleepy", "closed")
MOUTHS = ("smile", "grin", "open", "flat", "frown")
HAIR_STYLES = ("bald", "short", "long", "bangs", "spiky", "curly")
SKIN_TONES: dict[str, tuple[int, int, int]] = {
    "pale": (255, 228, 212),
    "light": (245, 200, 160),
    "tan": (222, 166, 116),
    "golden": (194, 138, 82),
    "brown": (146, 96, 62),
    "dark": (96, 62, 44),
}
HAIR_COLORS: dict[str, tuple[int, int, int]] = {
    "black": (40, 36, 44),
    "brown": (116, 70, 36),
    "blonde": (240, 206, 98),
    "red": (200, 64, 34),
    "white": (238, 238, 242),
    "blue": (58, 104, 228),
}
FACE_BACKGROUNDS: dict[str, tuple[int, int, int]] = {
    "sky blue": (138, 196, 240),
    "mint green": (146, 222, 172),
    "lavender": (196, 176, 238),
    "coral": (242, 128, 110),
    "grey": (158, 158, 166),
    "navy": (34, 46, 102),
}
PATTERNS = ("plain", "dots", "stripes", "checks")
FRECKLES = ("no", "yes")

# name -> group (which StyleGAN layers should own it), kind, values (categorical) or (low, high)
# (continuous), Chinese name, and for continuous ones the unit.
FACE_ATTRIBUTES: dict[str, dict] = {
    "head_shape": {"group": "coarse", "kind": "categorical", "values": HEAD_SHAPES, "zh": "脸型"},
    "head_x": {"group": "coarse", "kind": "continuous", "values": (-0.07, 0.07), "zh": "头部水平位置",
               "unit": "head centre offset, fraction of the image width, + is right"},
    "head_y": {"group": "coarse", "kind": "continuous", "values": (-0.05, 0.05), "zh": "头部垂直位置",
               "unit": "head centre offset, fraction of the image height, + is down"},
    "head_size": {"group": "coarse", "kind": "continuous", "values": (0.24, 0.3), "zh": "头部大小",
                  "unit": "head radius, fraction of the image side"},
    "tilt": {"group": "coarse", "kind": "continuous", "values": (-12.0, 12.0), "zh": "头部倾斜",
             "unit": "degrees, + is clockwise"},
    "eyes": {"group": "middle", "kind": "categorical", "values": EYES, "zh": "眼睛"},
    "eye_size": {"group": "middle", "kind": "continuous", "values": (0.8, 1.25), "zh": "眼睛大小",
                 "unit": "relative to the standard eye"},
    "mouth": {"group": "middle", "kind": "categorical", "values": MOUTHS, "zh": "嘴巴"},
    "hair_style": {"group": "middle", "kind": "categorical", "values": HAIR_STYLES, "zh": "发型"},
    "skin": {"group": "fine", "kind": "categorical", "values": tuple(SKIN_TONES), "zh": "肤色"},
    "hair_color": {"group": "fine", "kind": "categorical", "values": tuple(HAIR_COLORS), "zh": "发色"},
    "background": {"group": "fine", "kind": "categorical", "values": tuple(FACE_BACKGROUNDS), "zh": "背景颜色"},
    "pattern": {"group": "fine", "kind": "categorical", "values": PATTERNS, "zh": "背景图案"},
    "freckles": {"group": "fine", "kind": "categorical", "values": FRECKLES, "zh": "雀斑"},
    "grain": {"group": "fine", "kind": "continuous", "values": (0.0, 1.0), "zh": "颗粒噪声",
              "unit": "film grain strength; 1 is +-12 grey levels of pixel noise"},
}
FACE_VALUE_ZH: dict[str, dict[str, str]] = {
    "head_shape": dict(zip(HEAD_SHAPES, ("圆形", "椭圆形", "方形", "心形"))),
    "eyes": dict(zip(EYES, ("豆豆眼", "圆眼睛", "大眼睛", "困倦的眼睛", "闭着的眼睛"))),
    "mouth": dict(zip(MOUTHS, ("微笑", "咧嘴大笑", "张嘴", "抿嘴", "撇嘴"))),
    "hair_style": dict(zip(HAIR_STYLES, ("光头", "短发", "长发", "齐刘海", "刺猬头", "卷发"))),
    "skin": dict(zip(SKIN_TONES, ("白皙", "浅色", "小麦色", "蜜色", "棕色", "深棕色"))),
    "hair_color": dict(zip(HAIR_COLORS, ("黑色", "棕色", "金色", "红色", "白色", "蓝色"))),
    "background": dict(zip(FACE_BACKGROUNDS, ("天蓝色", "薄荷绿", "淡紫色", "珊瑚色", "灰色", "藏青色"))),
    "pattern": dict(zip(PATTERNS, ("纯色", "圆点", "条纹", "格子"))),
    "freckles": dict(zip(FRECKLES, ("无", "有"))),
}
FACE_GROUPS_ZH = {"coarse": "基础层（粗糙层）", "middle": "中间层", "fine": "细调层（精细层）"}
# What render_face draws for an attribute it is not given: a plain, centred, upright face.
FACE_DEFAULTS: dict[str, object] = {
    "head_shape": "round", "head_x": 0.0, "head_y": 0.0, "head_size": 0.27, "tilt": 0.0,
    "eyes": "round", "eye_size": 1.0, "mouth": "smile", "hair_style": "short",
    "skin": "light", "hair_color": "brown", "background": "sky blue", "pattern": "plain",
    "freckles": "no", "grain": 0.0,
}

FACES_DEFAULT_N = {"train": 20_000, "test": 2_000}
_SPLIT_STREAM = {"train": 0, "test": 1}  # third word of the rng seed: disjoint streams per split
_STREAM_TAG = 0xFACE5  # last word of the rng seed: faces never share a stream with shapes
_BLOCK = 1024  # images drawn from one rng; image i depends on (seed, split, i), never on n

_SKIN_JITTER, _HAIR_JITTER, _BG_JITTER = 10, 12, 10  # +- per channel, uniform integers
_GRAIN_LEVELS = 12.0  # grain 1.0 adds uniform noise in +-12 grey levels, the same in R, G, B
_BASE_SIDE = 64  # smaller sizes are drawn at >= 64 and area-averaged down
_CHUNK_PIXELS = 1 << 17  # images per rendering chunk = this / side^2: 0.5 MB float32 planes stay in cache
_MAX_THREADS = 8  # rendering threads at most (and at most one per CPU)
_WINDOW = 9 / 16  # side of the square window the face parts are drawn in, fraction of the image side


def _value(attrs: dict, name: str):
    """The attribute `name` of `attrs` (or its default), checked against FACE_ATTRIBUTES."""
    spec = FACE_ATTRIBUTES[name]
    value = attrs.get(name, FACE_DEFAULTS[name])
    if spec["kind"] == "categorical":
        if value not in spec["values"]:
            raise UserError("face_attr_unknown", factor=name, value=value, available=", ".join(spec["values"]))
        return value
    low, high = spec["values"]
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise UserError("value_not_finite", what=name, value=value) from None
    if not math.isfinite(number):
        raise UserError("value_not_finite", what=name, value=value)
    if not low <= number <= high:
        raise UserError("value_out_of_range", what=name, low=low, high=high, value=value)
    return number


def attribute_targets(attrs: list[dict]) -> dict[str, np.ndarray]:
    """Attribute dicts -> regression/classification targets, one array (N,) per attribute.

    Categorical attributes become int64 class indices into their `values`; continuous ones
    become float32 in [0, 1] ((value - low) / (high - low)).
    """
    out = {}
    for name, spec in FACE_ATTRIBUTES.items():
        values = [_value(a, name) for a in attrs]
        if spec["kind"] == "categorical":
            out[name] = np.array([spec["values"].index(x) for x in values], dtype=np.int64)
        else:
            low, high = spec["values"]
            out[name] = ((np.array(values, dtype=np.float64) - low) / (high - low)).astype(np.float32)
    return out


# ------------------------------------------------------------------------------------------------
# Drawing: signed distances in head-local units
# ------------------------------------------------------------------------------------------------
# Local coordinates (u, v): origin at the head centre, x right and y down after undoing the
# tilt, one unit = the head radius. Every part below is a signed distance in these units
# (< 0 inside); multiplying by k = radius in pixels gives pixels, so one pixel of anti-aliasing
# costs one clip. All arrays are float32 (B, S, S) unless said otherwise.

_FAR = np.float32(1e3)  # "nothing here" distance
_OUTLINE = 0.085  # outline width of head, ears, hair and eyes (about 1.4 px at 64x64)
_LINE = 0.085  # half-thickness of line mouths and closed eyes
_EAR_Y = 0.06
_EYE_X, _EYE_Y, _EYE_R = 0.36, -0.04, 0.165  # eye centres (+-x, y) and radius at eye_size 1
_MOUTH_Y = 0.5
_NOSE = (0.0, 0.22, 0.075, 0.06)  # centre x, y, half-width, half-height
_FRECKLES = ((0.42, 0.24), (0.54, 0.3), (0.38, 0.36), (0.5, 0.42))  # right cheek; mirrored
_FRECKLE_R = 0.042
_HEAD_HALF_WIDTH = {"round": 1.0, "oval": 0.84, "square": 0.94, "heart": 1.0}  # at the ears

_INK = np.array([38, 28, 34], np.float32).reshape(3, 1, 1)  # pupils, line mouths
_EYE_WHITE = np.array([252, 252, 252], np.float32).reshape(3, 1, 1)
_MOUTH_RED = np.array([150, 40, 52], np.float32).reshape(3, 1, 1)
_TEETH = np.array([255, 255, 255], np.float32).reshape(3, 1, 1)


def _circle(u, v, x, y, r):
    return np.sqrt((u - x) ** 2 + (v - y) ** 2) - r


def _ellipse(u, v, a, b):
    # Inigo Quilez's cheap ellipse distance: k0 (k0 - 1) / k1, exact on the boundary.
    k0 = np.sqrt((u / a) ** 2 + (v / b) ** 2)
    k1 = np.sqrt((u / (a * a)) ** 2 + (v / (b * b)) ** 2)
    return k0 * (k0 - 1) / np.maximum(k1, 1e-6)


def _box(u, v, hx, hy, r=0.0):
    """Rounded box with half-sizes (hx, hy) and corner radius r, centred at the origin."""
    qx, qy = np.abs(u) - (hx - r), np.abs(v) - (hy - r)
    return np.sqrt(np.maximum(qx, 0) ** 2 + np.maximum(qy, 0) ** 2) + np.minimum(np.maximum(qx, qy), 0) - r


def _head(shape: str, u, v):
    if shape == "round":
        return np.sqrt(u * u + v * v) - 1.0
    if shape == "oval":
        return _ellipse(u, v, 0.84, 1.1)
    if shape == "square":
        return _box(u, v, 0.94, 1.0, 0.36)
    # heart: a circle whose width narrows towards a pointed chin
    return _ellipse(u / (1.0 - 0.36 * np.clip(v, 0, 1)), v, 1.0, 1.06)


def _tri(x):
    """Triangle wave: 1 at integers, 0 half-way between."""
    return 1 - 2 * np.abs(x - np.round(x))


# The afro of `curly` hair: bumps on a ring around the crown (angles in degrees, 0 = right,
# 90 = down), over a disc.
_CURL_CENTRE, _CURL_RING, _CURL_R = -0.2, 1.02, 0.36
_CURLS = tuple((math.cos(math.radians(a)) * _CURL_RING, _CURL_CENTRE + math.sin(math.radians(a)) * _CURL_RING)
               for a in range(-210, 31, 30))


def _hair_back(style: str, u, v, head):
    """Hair behind the head (long, bob, curly); None for styles that have none."""
    if style == "long":  # the head grown, falling past the chin and flaring a little
        fall = _box(u / (1 + 0.12 * np.clip(v, 0, 1.5)), v - 0.6, 1.16, 0.85, 0.3)
        return np.minimum(head - 0.17, fall)
    if style == "bangs":  # a bob down to the jaw
        return np.minimum(head - 0.15, _box(u, v - 0.25, 1.17, 0.45, 0.2))
    if style == "curly":
        d = np.sqrt(u * u + (v - _CURL_CENTRE) ** 2) - _CURL_RING
        for x, y in _CURLS:
            d = np.minimum(d, _circle(u, v, x, y, _CURL_R))
        return d
    return None


def _hair_front(style: str, u, v, head):
    """Hair over the head: the head grown by a little, above a hairline v = h(u)."""
    if style == "bald":
        return None
    cap = head - 0.09
    if style == "short":  # swept to one side
        return np.maximum(cap, v - (-0.44 + 0.34 * u * u - 0.16 * u))
    if style == "long":
        return np.maximum(cap, v - (-0.7 + 0.62 * np.abs(u)))  # centre parting
    if style == "bangs":  # a straight fringe, the sides down over the cheeks
        return np.maximum(cap, np.minimum(v + 0.27, np.maximum(0.76 - np.abs(u), v - 0.62)))
    if style == "spiky":
        spikes = np.maximum(np.maximum(-(v + 1.0 + 0.42 * _tri(u / 0.36)), v + 0.4), np.abs(u) - 0.92)
        return np.minimum(np.maximum(cap, v - (-0.5 + 0.4 * u * u)), spikes)
    # curly: a scalloped hairline
    return np.maximum(cap, v - (-0.5 + 0.3 * u * u + 0.12 * _tri(u / 0.3)))


def _eye(kind: str, u, v, r):
    """(white, pupil) distances of both eyes (mirror |u|); white None for eyes without one."""
    x = np.abs(u)
    if kind == "dots":
        return None, _circle(x, v, _EYE_X, _EYE_Y, 0.75 * r)
    if kind == "round":
        return _circle(x, v, _EYE_X, _EYE_Y, r), _circle(x, v, _EYE_X, _EYE_Y + 0.12 * r, 0.55 * r)
    if kind == "wide":
        white = _ellipse(x - _EYE_X, v - _EYE_Y, 1.1 * r, 1.45 * r)
        return white, _circle(x, v, _EYE_X, _EYE_Y, 0.45 * r)
    if kind == "sleepy":  # a heavy lid hides the upper half
        white = np.maximum(_circle(x, v, _EYE_X, _EYE_Y, r), _EYE_Y - 0.05 * r - v)
        return white, np.maximum(_circle(x, v, _EYE_X, _EYE_Y + 0.3 * r, 0.55 * r), white)
    # closed: an upper arc, like ^ ^
    arc = np.abs(_circle(x, v, _EYE_X, _EYE_Y + 0.45 * r, 0.95 * r)) - _LINE * 0.8
    return None, np.maximum(arc, v - (_EYE_Y + 0.15 * r))


def _mouth(kind: str, u, v):
    """(fill, line, teeth) distances; fill has an outline, line is ink, teeth white; None if absent."""
    y = _MOUTH_Y
    if kind == "smile":  # lower arc
        arc = np.abs(_circle(u, v, 0, y - 0.26, 0.34)) - _LINE
        return None, np.maximum(arc, (y - 0.26 + 0.14) - v), None
    if kind == "frown":  # upper arc
        arc = np.abs(_circle(u, v, 0, y + 0.34, 0.3)) - _LINE
        return None, np.maximum(arc, v - (y + 0.34 - 0.12)), None
    if kind == "flat":
        return None, _box(u, v - y - 0.02, 0.24, _LINE, _LINE), None
    if kind == "open":
        return _ellipse(u, v - y - 0.02, 0.13, 0.16), None, None
    # grin: a D lying on its back, teeth along the top
    d = np.maximum(_circle(u, v, 0, y - 0.1, 0.32), (y - 0.1) - v)
    return d, None, np.maximum(d + 0.03, v - (y - 0.1 + 0.09))


@lru_cache(maxsize=8)
def _patterns(side: int) -> np.ndarray:
    """Background pattern coverage, float32 (len(PATTERNS), side, side); fixed to the image."""
    g = (np.arange(side, dtype=np.float64) + 0.5) / side * 8  # 8 cells across the image
    x, y = g[None, :], g[:, None]
    cell = side / 8  # pixels per cell
    fx, fy = x - np.floor(x) - 0.5, y - np.floor(y) - 0.5
    dots = np.clip(0.5 - (np.sqrt(fx * fx + fy * fy) - 0.2) * cell, 0, 1)
    w = (x + y) / 2  # diagonal stripes, two cells apart
    stripes = np.clip(0.5 - (np.abs(w - np.round(w)) * 2 - 0.34) * cell / math.sqrt(2), 0, 1)
    checks = ((np.floor(x) + np.floor(y)) % 2).astype(np.float64)
    out = np.stack([np.zeros_like(dots), dots, stripes, checks]).astype(np.float32)
    out.flags.writeable = False
    return out


def _grain(seeds: np.ndarray, size: int) -> np.ndarray:
    """Per-image pixel noise, uniform in [-0.5, 0.5): float32 (B, 1, size, size).

    An integer hash of (seed, pixel) (Wellons' lowbias32), so it is exact and cheap.
    """
    x = seeds.astype(np.uint32)[:, None] * np.uint32(0x9E3779B1) ^ np.arange(size * size, dtype=np.uint32)[None]
    x ^= x >> np.uint32(16)
    x *= np.uint32(0x7FEB352D)
    x ^= x >> np.uint32(15)
    x *= np.uint32(0x846CA68B)
    x ^= x >> np.uint32(16)
    noise = (x >> np.uint32(8)).astype(np.float32) * np.float32(2.0**-24) - np.float32(0.5)
    return noise.reshape(-1, 1, size, size)


def _paint(img, d, k, rgb):
    """Composite colour `rgb` ((B, 3, 1, 1) or (3, 1, 1)) where d < 0, one-pixel ramp; in place."""
    alpha = np.clip(np.float32(0.5) - d * k, 0, 1)[:, None]  # (B, 1, S, S)
    img += alpha * (rgb - img)


def _by_value(codes: np.ndarray, names: tuple[str, ...], part, *arrays) -> list[np.ndarray]:
    """Distances of one part for a batch whose images differ in its kind: a list of (B, H, W).

    `codes` (B,) indexes `names`; `part(name, *arrays[idx])` draws the images of one kind (every
    array is per image, (B, ...)) and returns a distance, a tuple of them, or None where that
    kind has no such part; those pixels stay at _FAR.
    """
    out = None
    for i, name in enumerate(names):
        idx = np.flatnonzero(codes == i)
        if idx.size == 0:
            continue
        got = part(name, *(a[idx] for a in arrays))
        got = got if isinstance(got, tuple) else (got,)
        if out is None:
            out = [np.full((len(codes),) + arrays[0].shape[1:], _FAR, np.float32) for _ in got]
        for o, g in zip(out, got):
            if g is not None:
                o[idx] = g
    return out


def _col(a):  # (B,) -> (B, 1, 1)
    return np.asarray(a, np.float32).reshape(-1, 1, 1)


def _rgb(a):  # (B, 3) -> (B, 3, 1, 1)
    return np.asarray(a, np.float32).reshape(-1, 3, 1, 1)


class _Heads:
    """Where each face's head sits in a side x side picture: pixel centres `g` (S,) as fractions of the
    side, the centre (cx, cy), the tilt's cos / sin and the radius, each (B, 1, 1); `k` (B, 1, 1) pixels
    per head radius."""

    def __init__(self, p: dict[str, np.ndarray], side: int):
        self.g = (np.arange(side, dtype=np.float32) + np.float32(0.5)) / np.float32(side)
        self.cx, self.cy = np.float32(0.5) + _col(p["head_x"]), np.float32(0.5) + _col(p["head_y"])
        # cos/sin per image in Python floats: exact whatever the batch size (numpy's SIMD may differ)
        self.cos = _col([math.cos(math.radians(t)) for t in p["tilt"].tolist()])
        self.sin = _col([math.sin(math.radians(t)) for t in p["tilt"].tolist()])
        self.radius = _col(p["head_size"])
        self.k = self.radius * np.float32(side)

    def local(self, xs, ys):  # pixel centres (B, 1, W) and (B, H, 1) -> head-local (u, v), each (B, H, W)
        dx, dy = xs - self.cx, ys - self.cy
        return (dx * self.cos + dy * self.sin) / self.radius, (dy * self.cos - dx * self.sin) / self.radius


def _render_chunk(p: dict[str, np.ndarray], size: int) -> np.ndarray:
    """Draw B faces from parameter arrays (see `_params`): uint8 (B, 3, size, size)."""
    ss = max(1, -(-_BASE_SIDE // size))  # supersampling factor
    side = size * ss
    heads = _Heads(p, side)
    u, v = heads.local(heads.g[None, None, :], heads.g[None, :, None])  # of the whole image, (B, S, S)
    skin, hair = _rgb(p["skin_rgb"]), _rgb(p["hair_rgb"])
    # Outlines: a darker shade of the fill; pale hair is shaded down to a brightest channel of 90.
    hair_line = hair * np.minimum(np.float32(0.5), np.float32(90) / np.maximum(hair.max(1, keepdims=True), 1))
    img = _background(p, side)
    head = _paint_coarse(img, p, u, v, heads.k, skin, hair, hair_line)
    _paint_face_window(img, p, heads, skin)
    # Middle: hair over the head.
    front = _by_value(p["hair_style"], HAIR_STYLES, _hair_front, u, v, head)[0]
    _paint(img, front - _OUTLINE, heads.k, hair_line)
    _paint(img, front, heads.k, hair)
    return _to_size(img, p, size, ss)


def _background(p, side: int) -> np.ndarray:
    """Fine: the background and its pattern, a lighter tint on dark colours, a darker shade on light
    ones -> float32 (B, 3, S, S)."""
    bg = _rgb(p["bg_rgb"])
    lum = (0.3 * bg[:, 0] + 0.59 * bg[:, 1] + 0.11 * bg[:, 2])[:, None]  # (B, 1, 1, 1)
    tint = np.where(lum < 110, bg + np.float32(0.22) * (255 - bg), bg * np.float32(0.87)).astype(np.float32)
    img = np.broadcast_to(bg, (len(p["head_shape"]), 3, side, side)).copy()  # (B, 3, S, S)
    img += _patterns(side)[p["pattern"]][:, None] * (tint - bg)
    return img


def _paint_coarse(img, p, u, v, k, skin, hair, hair_line) -> np.ndarray:
    """Coarse: hair behind the head, ears, the head, onto img in place -> the head's distance field."""
    skin_line = skin * np.float32(0.45)
    head = _by_value(p["head_shape"], HEAD_SHAPES, _head, u, v)[0]
    back = _by_value(p["hair_style"], HAIR_STYLES, _hair_back, u, v, head)[0]
    _paint(img, back - _OUTLINE, k, hair_line)
    _paint(img, back, k, hair)
    half_width = _col([_HEAD_HALF_WIDTH[HEAD_SHAPES[i]] for i in p["head_shape"].tolist()])
    ears = _ellipse(np.abs(u) - half_width, v - _EAR_Y, 0.18, 0.24)
    ears[np.isin(p["hair_style"], [HAIR_STYLES.index(s) for s in ("long", "bangs", "curly")])] = _FAR
    _paint(img, ears - _OUTLINE, k, skin_line)
    _paint(img, ears, k, skin)
    _paint(img, head - _OUTLINE, k, skin_line)
    _paint(img, head, k, skin)
    return head


def _paint_face_window(img, p, heads: _Heads, skin) -> None:
    """Middle (and freckles): drawn in a window around the face, about a third of the pixels.
    Every part lies within |u| < 0.7, -0.45 < v < 0.82; tilted and at the largest head that
    is x in +-0.26, y in -0.18 ... +0.29 of the side around the head centre."""
    side = img.shape[-1]
    g = heads.g
    win = int(side * _WINDOW)
    x0 = np.clip(np.floor(heads.cx.ravel() * side - win / 2 + 0.5).astype(np.int64), 0, side - win)
    y0 = np.clip(np.floor((heads.cy.ravel() + np.float32(0.055)) * side - win / 2 + 0.5).astype(np.int64), 0,
                 side - win)
    crop = np.stack([img[i, :, y:y + win, x:x + win] for i, (x, y) in enumerate(zip(x0.tolist(), y0.tolist()))])
    steps = np.arange(win)
    wu, wv = heads.local(g[x0[:, None] + steps][:, None, :], g[y0[:, None] + steps][:, :, None])  # (B, win, win)
    _face_parts(crop, p, wu, wv, heads.k, skin)
    for i, (x, y) in enumerate(zip(x0.tolist(), y0.tolist())):
        img[i, :, y:y + win, x:x + win] = crop[i]


def _to_size(img, p, size: int, ss: int) -> np.ndarray:
    """Down to the output size (mean of ss x ss blocks), then grain at output resolution -> uint8."""
    if ss > 1:
        small = np.zeros((len(img), 3, size, size), np.float32)
        for oy in range(ss):
            for ox in range(ss):
                small += img[:, :, oy::ss, ox::ss]
        img = small * np.float32(1.0 / (ss * ss))
    img += _grain(p["noise_seed"], size) * (_col(p["grain"])[:, None] * np.float32(2 * _GRAIN_LEVELS))
    return np.clip(np.rint(img), 0, 255).astype(np.uint8)


def _face_parts(img, p, u, v, k, skin) -> None:
    """Freckles, nose, eyes and mouth onto img (B, 3, H, W) in place; u, v (B, H, W)."""
    freckled = np.flatnonzero(p["freckles"] == FRECKLES.index("yes"))
    if freckled.size:
        fu, fv = np.abs(u[freckled]), v[freckled]
        d = np.full(fu.shape, _FAR, np.float32)
        for x, y in _FRECKLES:
            d = np.minimum(d, _circle(fu, fv, x, y, _FRECKLE_R))
        sub = img[freckled]
        _paint(sub, d, k[freckled], skin[freckled] * np.float32(0.62))
        img[freckled] = sub
    _paint(img, _ellipse(u - _NOSE[0], v - _NOSE[1], _NOSE[2], _NOSE[3]), k, skin * np.float32(0.75))

    eye_r = np.asarray(p["eye_size"] * _EYE_R, np.float32).reshape(-1, 1, 1)
    white, pupil = _by_value(p["eyes"], EYES, _eye, u, v, eye_r)
    _paint(img, white - _OUTLINE, k, _INK)
    _paint(img, white, k, _EYE_WHITE)
    _paint(img, pupil, k, _INK)
    fill, line, teeth = _by_value(p["mouth"], MOUTHS, _mouth, u, v)
    _paint(img, fill - _OUTLINE, k, _INK)
    _paint(img, fill, k, _MOUTH_RED)
    _paint(img, teeth, k, _TEETH)
    _paint(img, line, k, _INK)


def _render(p: dict[str, np.ndarray], size: int) -> np.ndarray:
    """uint8 (B, 3, size, size), drawn a chunk at a time so memory stays bounded.

    numpy releases the GIL inside its loops, so a few threads draw chunks side by side; each
    chunk depends only on its own parameters, so the result is the same with any number.
    """
    n = len(p["head_shape"])
    out = np.empty((n, 3, size, size), np.uint8)
    side = size * max(1, -(-_BASE_SIDE // size))
    step = max(1, _CHUNK_PIXELS // (side * side))

    def draw(start: int) -> None:
        out[start:start + step] = _render_chunk({key: a[start:start + step] for key, a in p.items()}, size)

    starts = range(0, n, step)
    workers = min(_MAX_THREADS, os.cpu_count() or 1, len(starts))
    if workers <= 1:
        for start in starts:
            draw(start)
    else:
        with ThreadPoolExecutor(workers) as pool:
            list(pool.map(draw, starts))
    return out


# ------------------------------------------------------------------------------------------------
# Sampling, parameters, captions
# ------------------------------------------------------------------------------------------------

_PALETTES = {"skin": SKIN_TONES, "hair_color": HAIR_COLORS, "background": FACE_BACKGROUNDS}
_RGB_KEYS = {"skin": "skin_rgb", "hair_color": "hair_rgb", "background": "bg_rgb"}


def _sample_block(seed: int, split: str, block: int) -> dict[str, np.ndarray]:
    """Parameters of images block*_BLOCK ... (block+1)*_BLOCK - 1, as arrays (_BLOCK, ...)."""
    rng = np.random.default_rng([seed, _SPLIT_STREAM[split], block, _STREAM_TAG])
    p: dict[str, np.ndarray] = {}
    for name, spec in FACE_ATTRIBUTES.items():  # a fixed order of draws
        if spec["kind"] == "categorical":
            p[name] = rng.integers(len(spec["values"]), size=_BLOCK)
        else:
            p[name] = np.round(rng.uniform(*spec["values"], size=_BLOCK), 4)  # as stored in attrs
    for name, jitter in (("skin", _SKIN_JITTER), ("hair_color", _HAIR_JITTER), ("background", _BG_JITTER)):
        base = np.array(list(_PALETTES[name].values()), np.int64)[p[name]]  # (_BLOCK, 3)
        p[_RGB_KEYS[name]] = np.clip(base + rng.integers(-jitter, jitter + 1, size=(_BLOCK, 3)), 0, 255)
    p["noise_seed"] = rng.integers(0, 2**32, size=_BLOCK, dtype=np.uint64)
    p["template"] = rng.integers(len(_CAPTIONS_EN), size=_BLOCK)
    return p


def _params(attrs_list: list[dict]) -> dict[str, np.ndarray]:
    """Attribute dicts (checked, defaults filled in) -> the parameter arrays `_render` takes."""
    p: dict[str, list] = {key: [] for key in (*FACE_ATTRIBUTES, *_RGB_KEYS.values(), "noise_seed")}
    for attrs in attrs_list:
        geo = attrs.get("render") or {}
        for name, spec in FACE_ATTRIBUTES.items():
            value = _value(attrs, name)
            p[name].append(spec["values"].index(value) if spec["kind"] == "categorical" else value)
        for name, key in _RGB_KEYS.items():
            p[key].append(geo.get(key, _PALETTES[name][attrs.get(name, FACE_DEFAULTS[name])]))
        p["noise_seed"].append(int(geo.get("noise_seed", 0)))
    return {key: np.array(values, dtype=np.uint64 if key == "noise_seed" else None) for key, values in p.items()}


def render_face(attrs: dict, size: int = 64) -> np.ndarray:
    """Draw one face: uint8 (size, size, 3).

    `attrs` names the attributes (see FACE_ATTRIBUTES); missing ones take FACE_DEFAULTS. The exact
    colours and grain under attrs["render"] ({"skin_rgb", "hair_rgb", "bg_rgb", "noise_seed"},
    as stored by the `faces` data set) reproduce a data set image exactly; without them the
    palette colours are used.
    """
    size = _check_count("image size", size, 8, 512)
    return _render(_params([attrs]), size)[0].transpose(1, 2, 0).copy()


# Captions: every template is true; template k in English and Chinese says the same thing.
_SHAPE_EN = {"round": "a round", "oval": "an oval", "square": "a square", "heart": "a heart-shaped"}
_EYES_EN = {"dots": "dot eyes", "round": "round eyes", "wide": "wide eyes", "sleepy": "sleepy eyes",
            "closed": "closed eyes"}
_MOUTH_EN = {"smile": "smiling", "grin": "grinning", "open": "with an open mouth", "flat": "with a straight mouth",
             "frown": "frowning"}
_HAIR_EN = {"bald": "no hair", "short": "short {c} hair", "long": "long {c} hair", "bangs": "{c} hair with bangs",
            "spiky": "spiky {c} hair", "curly": "curly {c} hair"}
_HAIR_ZH = {"bald": "光头", "short": "{c}短发", "long": "{c}长发", "bangs": "{c}齐刘海", "spiky": "{c}刺猬头",
            "curly": "{c}卷发"}
_PATTERN_EN = {"plain": "", "dots": "polka-dot ", "stripes": "striped ", "checks": "checked "}
_CAPTIONS_EN = (
    "{shape} face with {hair}, {mouth}, on {a_bg} background",
    "a cartoon face with {eyes} and {hair}, {mouth}",
    "{shape} face with {skin} skin{freckles} and {eyes}, on {a_bg} background",
    "{shape} face, {hair}, {eyes}, {mouth}, {skin} skin{freckles}, {bg} background",
)
_CAPTIONS_ZH = (
    "{bg}背景上的一张{shape}脸，{hair}，{mouth}",
    "一张卡通脸，{eyes}，{hair}，{mouth}",
    "{bg}背景上的一张{shape}脸，{skin}皮肤{freckles}，{eyes}",
    "{shape}脸，{hair}，{eyes}，{mouth}，{skin}皮肤{freckles}，{bg}背景",
)


def face_caption(attrs: dict, template: int = 0) -> dict[str, str]:
    """The caption of an attribute combination in both languages: {"en": ..., "zh": ...}."""
    a = {name: _value(attrs, name) for name, spec in FACE_ATTRIBUTES.items() if spec["kind"] == "categorical"}
    zh = {name: FACE_VALUE_ZH[name][value] for name, value in a.items()}
    bg_en = f"{_PATTERN_EN[a['pattern']]}{a['background']}"
    en = _CAPTIONS_EN[template].format(
        shape=_SHAPE_EN[a["head_shape"]], hair=_HAIR_EN[a["hair_style"]].format(c=a["hair_color"]),
        eyes=_EYES_EN[a["eyes"]], mouth=_MOUTH_EN[a["mouth"]], skin=a["skin"],
        freckles=" with freckles" if a["freckles"] == "yes" else "",
        bg=bg_en, a_bg=("an " if bg_en[0] in "aeiou" else "a ") + bg_en)
    zh_text = _CAPTIONS_ZH[template].format(
        shape=zh["head_shape"], hair=_HAIR_ZH[a["hair_style"]].format(c=zh["hair_color"]), eyes=zh["eyes"],
        mouth=zh["mouth"], skin=zh["skin"], freckles="，有雀斑" if a["freckles"] == "yes" else "",
        bg=zh["background"] + ("" if a["pattern"] == "plain" else zh["pattern"]))
    return {"en": en, "zh": zh_text}


def load_faces(split: str = "train", *, n: int = 20_000, seed: int = 0, size: int = 64) -> ImageSet:
    """`n` procedural faces. Image i depends only on (seed, split, i, size), never on n.

    Labels are the head-shape index (class_names = HEAD_SHAPES); all attributes are in `attrs`.
    """
    blocks = [_sample_block(seed, split, b) for b in range(-(-n // _BLOCK))]
    p = {key: np.concatenate([b[key] for b in blocks])[:n] for key in blocks[0]}
    images = _render(p, size)  # (N, 3, size, size)

    columns = {}
    for name, spec in FACE_ATTRIBUTES.items():
        values = p[name].tolist()
        columns[name] = [spec["values"][i] for i in values] if spec["kind"] == "categorical" else values
    rgbs = {key: p[key].tolist() for key in _RGB_KEYS.values()}
    seeds = p["noise_seed"].tolist()
    attrs_list, en, zh = [], [], []
    for i, template in enumerate(p["template"].tolist()):
        attrs = {name: column[i] for name, column in columns.items()}
        attrs["render"] = {key: column[i] for key, column in rgbs.items()} | {"noise_seed": seeds[i]}
        caption = face_caption(attrs, template)
        attrs_list.append(attrs)
        en.append(caption["en"])
        zh.append(caption["zh"])
    return ImageSet(
        name="faces",
        images=torch.from_numpy(images),
        labels=torch.from_numpy(p["head_shape"].astype(np.int64)),
        attrs=attrs_list,
        captions={"en": en, "zh": zh},
        split_note=f"GenLab faces, seed {seed}, {split} stream, images 0-{n - 1}, {size}x{size}",
        class_names=list(HEAD_SHAPES),
    )
