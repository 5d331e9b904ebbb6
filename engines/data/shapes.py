"""`shapes`: procedural coloured shapes with exact English and Chinese captions."""

from __future__ import annotations

import math

import numpy as np
import torch
from PIL import Image, ImageDraw

from ..errors import UserError
from .imageset import ImageSet


# ------------------------------------------------------------------------------------------------
# Procedural shapes
# ------------------------------------------------------------------------------------------------
# The factor vocabularies. English names are the canonical values stored in `attrs`; FACTOR_ZH
# gives the Chinese word for each. Prompts (e.g. for CLIP) can be built from these directly.

SHAPES = ("circle", "square", "triangle", "diamond", "star", "cross", "heart", "ring")
COLORS: dict[str, tuple[int, int, int]] = {
    "red": (220, 40, 40),
    "green": (40, 185, 60),
    "blue": (50, 90, 235),
    "yellow": (240, 220, 40),
    "purple": (150, 60, 205),
    "orange": (250, 140, 30),
    "cyan": (40, 210, 220),
    "white": (245, 245, 245),
}
SIZES = ("small", "medium", "large")
POSITIONS = ("top left", "top", "top right", "left", "centre", "right", "bottom left", "bottom", "bottom right")
BACKGROUNDS: dict[str, tuple[int, int, int]] = {
    "black": (0, 0, 0),
    "grey": (110, 110, 110),
    "dark blue": (20, 28, 85),
    "dark green": (18, 62, 32),
    "white": (250, 250, 250),
}
FACTORS: dict[str, tuple[str, ...]] = {
    "shape": SHAPES,
    "color": tuple(COLORS),
    "size": SIZES,
    "position": POSITIONS,
    "background": tuple(BACKGROUNDS),
}
FACTOR_ZH: dict[str, dict[str, str]] = {
    "shape": dict(zip(SHAPES, ("圆形", "正方形", "三角形", "菱形", "五角星", "十字", "爱心", "圆环"))),
    "color": dict(zip(COLORS, ("红色", "绿色", "蓝色", "黄色", "紫色", "橙色", "青色", "白色"))),
    "size": dict(zip(SIZES, ("小", "中等", "大"))),
    "position": dict(zip(POSITIONS, ("左上角", "上方", "右上角", "左侧", "中央", "右侧", "左下角", "下方", "右下角"))),
    "background": dict(zip(BACKGROUNDS, ("黑色", "灰色", "深蓝色", "深绿色", "白色"))),
}

SHAPES_DEFAULT_N = {"train": 10_000, "test": 2_000}
_SPLIT_STREAM = {"train": 0, "test": 1}  # second word of the rng seed: disjoint streams per split

# Geometry, as fractions of the image side. A shape of "radius" r fills the box centre +- r.
SIZE_RADIUS = {"small": 0.11, "medium": 0.16, "large": 0.21}
_GRID = (0.22, 0.5, 0.78)  # centres of the 3x3 positions, rows top->bottom, columns left->right
_POS_JITTER = 0.03  # +- uniform shift of the centre; keeps it inside its third of the image
_RADIUS_JITTER = 0.05  # +- relative; sizes stay well apart (0.11 / 0.16 / 0.21)
_ANGLE_JITTER = 8.0  # +- degrees; small enough that a square never reads as a diamond
_RGB_JITTER, _BG_JITTER = 12, 6  # +- per channel
_SUPERSAMPLE = 4  # draw at 4x and box-filter down: anti-aliased edges
_MIN_CONTRAST = 100.0  # Euclidean RGB distance between a colour and the backgrounds it may appear on

# Backgrounds each colour may sit on: never its own colour, never too close to it.
_BACKGROUNDS_FOR: dict[str, tuple[str, ...]] = {
    color: tuple(b for b, brgb in BACKGROUNDS.items() if math.dist(rgb, brgb) >= _MIN_CONTRAST)
    for color, rgb in COLORS.items()
}


def _normalised(points) -> np.ndarray:
    """Polygon (K, 2) centred on its bounding box and scaled so its longer half-extent is 1."""
    p = np.asarray(points, dtype=np.float64)
    lo, hi = p.min(0), p.max(0)
    return (p - (lo + hi) / 2) / ((hi - lo).max() / 2)


def _star(points: int = 5, inner: float = 0.42) -> np.ndarray:
    a = -np.pi / 2 + np.arange(2 * points) * np.pi / points
    r = np.where(np.arange(2 * points) % 2 == 0, 1.0, inner)
    return np.stack([r * np.cos(a), r * np.sin(a)], 1)


def _heart(k: int = 72) -> np.ndarray:
    # The classic heart curve x = 16 sin^3 t, y = 13 cos t - 5 cos 2t - 2 cos 3t - cos 4t
    # (y up), flipped to image coordinates (y down).
    t = np.linspace(0, 2 * np.pi, k, endpoint=False)
    return np.stack([16 * np.sin(t) ** 3, -(13 * np.cos(t) - 5 * np.cos(2 * t) - 2 * np.cos(3 * t) - np.cos(4 * t))], 1)


_W = 0.32  # half-width of the cross's arms
_OUTLINES: dict[str, np.ndarray] = {  # unit polygons (K, 2), x right, y down
    "square": _normalised([(-1, -1), (1, -1), (1, 1), (-1, 1)]),
    "triangle": _normalised([(np.cos(a), np.sin(a)) for a in np.radians([-90, 30, 150])]),
    "diamond": _normalised([(0, -1), (0.75, 0), (0, 1), (-0.75, 0)]),
    "star": _normalised(_star()),
    "cross": _normalised([(-_W, -1), (_W, -1), (_W, -_W), (1, -_W), (1, _W), (_W, _W), (_W, 1), (-_W, 1),
                          (-_W, _W), (-1, _W), (-1, -_W), (-_W, -_W)]),
    "heart": _normalised(_heart()),
}
_RING_INNER = 0.55  # inner radius of the ring, relative to the outer


def _factor(attrs: dict, factor: str) -> str:
    value = attrs.get(factor)
    if value not in FACTORS[factor]:
        raise UserError("shape_attr_unknown", factor=factor, value=value, available=", ".join(FACTORS[factor]))
    return value


def render_shape(attrs: dict, size: int = 32) -> np.ndarray:
    """Draw one shape image: uint8 (size, size, 3).

    `attrs` names the factors ({"shape", "color", "size", "position", "background"}). Optional
    exact geometry and colours under attrs["render"] ({"cx", "cy", "radius", "angle", "rgb",
    "bg_rgb"}, as stored by the `shapes` data set) reproduce a data set image exactly; without
    them the shape is drawn at its canonical place, size and colour.
    """
    shape, color, size_name, position, background = (_factor(attrs, f) for f in FACTORS)
    geo = attrs.get("render") or {}
    row, col = divmod(POSITIONS.index(position), 3)
    radius = float(geo.get("radius", SIZE_RADIUS[size_name]))
    # Rotated polygons reach up to sqrt(2) r at the corners; keep the whole shape on the canvas.
    reach = radius * (1.0 if shape in ("circle", "ring") else 1.15) + 0.01
    cx = float(np.clip(geo.get("cx", _GRID[col]), reach, 1 - reach))
    cy = float(np.clip(geo.get("cy", _GRID[row]), reach, 1 - reach))
    fg = tuple(int(v) for v in geo.get("rgb", COLORS[color]))
    bg = tuple(int(v) for v in geo.get("bg_rgb", BACKGROUNDS[background]))

    side = size * _SUPERSAMPLE
    canvas = Image.new("RGB", (side, side), bg)
    draw = ImageDraw.Draw(canvas)
    x, y, r = cx * side, cy * side, radius * side
    if shape in ("circle", "ring"):
        draw.ellipse([x - r, y - r, x + r, y + r], fill=fg)
        if shape == "ring":
            ri = r * _RING_INNER
            draw.ellipse([x - ri, y - ri, x + ri, y + ri], fill=bg)
    else:
        a = math.radians(float(geo.get("angle", 0.0)))
        rot = np.array([[math.cos(a), -math.sin(a)], [math.sin(a), math.cos(a)]])
        pts = _OUTLINES[shape] @ rot.T * r + (x, y)  # (K, 2) canvas pixels
        draw.polygon([tuple(p) for p in pts], fill=fg)
    return np.asarray(canvas.resize((size, size), Image.Resampling.BOX))


def _sample_shape_attrs(rng: np.random.Generator) -> tuple[dict, int]:
    """Draw one image's factors and jitter; (attrs, caption template index)."""
    ids = {f: int(rng.integers(len(FACTORS[f]))) for f in ("shape", "color", "size", "position")}
    attrs = {f: FACTORS[f][i] for f, i in ids.items()}
    allowed = _BACKGROUNDS_FOR[attrs["color"]]
    attrs["background"] = allowed[int(rng.integers(len(allowed)))]
    ids["background"] = FACTORS["background"].index(attrs["background"])
    for f, i in ids.items():
        attrs[f"{f}_id"] = i

    row, col = divmod(ids["position"], 3)
    jitter = rng.uniform(-1, 1, size=4)  # (dx, dy, radius, angle) in [-1, 1]
    rgb = np.clip(np.array(COLORS[attrs["color"]]) + rng.integers(-_RGB_JITTER, _RGB_JITTER + 1, 3), 0, 255)
    bg_rgb = np.clip(np.array(BACKGROUNDS[attrs["background"]]) + rng.integers(-_BG_JITTER, _BG_JITTER + 1, 3), 0, 255)
    radius = SIZE_RADIUS[attrs["size"]] * (1 + _RADIUS_JITTER * jitter[2])
    reach = radius * (1.0 if attrs["shape"] in ("circle", "ring") else 1.15) + 0.01
    attrs["render"] = {
        "cx": round(float(np.clip(_GRID[col] + _POS_JITTER * jitter[0], reach, 1 - reach)), 4),
        "cy": round(float(np.clip(_GRID[row] + _POS_JITTER * jitter[1], reach, 1 - reach)), 4),
        "radius": round(float(radius), 4),
        "angle": round(float(_ANGLE_JITTER * jitter[3]), 2),
        "rgb": [int(v) for v in rgb],
        "bg_rgb": [int(v) for v in bg_rgb],
    }
    return attrs, int(rng.integers(len(_CAPTIONS_EN)))


# Captions. Every template names the shape, its colour and its position; some add the size,
# some the background. Template k in English and in Chinese say the same thing.
_POSITION_EN = {
    "top left": "in the top left corner", "top": "at the top", "top right": "in the top right corner",
    "left": "on the left", "centre": "in the centre", "right": "on the right",
    "bottom left": "in the bottom left corner", "bottom": "at the bottom", "bottom right": "in the bottom right corner",
}
_SIZE_EN = {"small": "small", "medium": "medium-sized", "large": "large"}
_SIZE_ZH = {"small": "小的", "medium": "中等大小的", "large": "大的"}
_CAPTIONS_EN = (
    "{a_full} {pos}",  # a small red circle in the top left corner
    "{a_plain} {pos} on {a_bg} background",  # a red circle in the top left corner on a black background
    "{a_full} on {a_bg} background, {pos}",
    "there is {a_full} {pos}",
    "{a_plain} {pos}",
    "{a_full} {pos}, {bg} background",
)
_CAPTIONS_ZH = (
    "{pos}有一个{full}",  # 左上角有一个小的红色圆形
    "{bg}背景上，{pos}有一个{plain}",  # 黑色背景上，左上角有一个红色圆形
    "{bg}背景上的一个{full}，位于{pos}",
    "画面{pos}有一个{full}",
    "{pos}的{plain}",
    "一个{full}，位于{pos}，{bg}背景",
)


def _a(phrase: str) -> str:
    return ("an " if phrase[0] in "aeiou" else "a ") + phrase


def shape_caption(attrs: dict, template: int = 0) -> dict[str, str]:
    """The caption of an attribute combination in both languages: {"en": ..., "zh": ...}."""
    shape, color, size_name, position, background = (_factor(attrs, f) for f in FACTORS)
    full, plain = f"{_SIZE_EN[size_name]} {color} {shape}", f"{color} {shape}"
    en = _CAPTIONS_EN[template].format(a_full=_a(full), a_plain=_a(plain), pos=_POSITION_EN[position],
                                       a_bg=_a(background), bg=background)
    zh_shape, zh_color = FACTOR_ZH["shape"][shape], FACTOR_ZH["color"][color]
    zh = _CAPTIONS_ZH[template].format(full=f"{_SIZE_ZH[size_name]}{zh_color}{zh_shape}", plain=f"{zh_color}{zh_shape}",
                                       pos=FACTOR_ZH["position"][position], bg=FACTOR_ZH["background"][background])
    return {"en": en, "zh": zh}


def load_shapes(split: str = "train", *, n: int = 10_000, seed: int = 0, size: int = 32) -> ImageSet:
    """`n` procedural shape images. Image i depends only on (seed, split, i), never on n."""
    images = np.empty((n, size, size, 3), dtype=np.uint8)  # (N, H, W, 3)
    attrs_list, en, zh = [], [], []
    for i in range(n):
        attrs, template = _sample_shape_attrs(np.random.default_rng([seed, _SPLIT_STREAM[split], i]))
        images[i] = render_shape(attrs, size)
        caption = shape_caption(attrs, template)
        attrs_list.append(attrs)
        en.append(caption["en"])
        zh.append(caption["zh"])
    return ImageSet(
        name="shapes",
        images=torch.from_numpy(images).permute(0, 3, 1, 2).contiguous(),  # (N, 3, size, size)
        labels=torch.tensor([a["shape_id"] for a in attrs_list], dtype=torch.long),
        attrs=attrs_list,
        captions={"en": en, "zh": zh},
        split_note=f"GenLab shapes, seed {seed}, {split} stream, images 0-{n - 1}, {size}x{size}",
        class_names=list(SHAPES),
    )


