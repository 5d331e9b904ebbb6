"""Data sets and user images: everything that turns pixels from outside into model input.

Three data sets, all returned as an `ImageSet` by `load_dataset(name, split, ...)`:

- `mnist`: the 10,000 MNIST test digits read from their IDX files (the only MNIST GenLab has).
  GenLab's fixed split: the first 8,000 for training, the last 2,000 held out.
- `shapes`: procedural coloured shapes on plain backgrounds, unlimited and deterministic. Every
  image comes with its factors (shape, colour, size, position, background) and with true
  captions in English and Chinese, so the same set serves VAEs, GANs, diffusion and CLIP.
- `folder`: a user's folder or zip of images, read safely in memory.

User images (uploads, photos, sketches) go through `decode_image`, then `to_model_input` or
`sketch_to_digit`. Images leave this module as numpy uint8 HWC, or as uint8 `(N, C, H, W)`
tensors inside an `ImageSet`; `ImageSet.float()` gives the `[0, 1]` floats models train on.
"""

from __future__ import annotations

import functools
import gzip
import io
import math
import os
import socket
import struct
import threading
import warnings
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageDraw, ImageOps

from .errors import UserError
from .runtime import check_seed

SPLITS = ("train", "test", "all")

DATASETS: dict[str, dict] = {
    "mnist": {
        "en": "MNIST handwritten digits: the 10,000 test images (8,000 train / 2,000 held out), 28x28 grey, labels 0-9.",
        "zh": "MNIST 手写数字：10,000 张测试集图像（8,000 张训练 / 2,000 张留出），28x28 灰度，标签 0-9。",
        "channels": 1,
        "image_size": 28,
        "has_labels": True,
    },
    "shapes": {
        "en": "Coloured shapes: procedural 32x32 colour images with known shape, colour, size, position and background, and true captions.",
        "zh": "彩色形状：程序生成的 32x32 彩色图像，形状、颜色、大小、位置和背景均已知，并附有准确的描述文本。",
        "channels": 3,
        "image_size": 32,
        "has_labels": True,
    },
    "folder": {
        "en": "Your images: a folder or .zip of PNG/JPEG/BMP/GIF/WebP files, resized and centre-cropped.",
        "zh": "你的图像：一个包含 PNG/JPEG/BMP/GIF/WebP 文件的文件夹或 .zip，自动缩放并居中裁剪。",
        "channels": 3,
        "image_size": 32,
        "has_labels": False,
    },
}


def _check_split(name: str, split: str, allowed: tuple[str, ...]) -> None:
    if split not in allowed:
        raise UserError("split_unknown", name=name, split=split, available=", ".join(allowed))


def _check_count(what: str, value, low: int, high: int) -> int:
    if not isinstance(value, (int, np.integer)) or isinstance(value, bool) or not low <= value <= high:
        raise UserError("value_out_of_range", what=what, low=low, high=high, value=value)
    return int(value)


# ------------------------------------------------------------------------------------------------
# ImageSet
# ------------------------------------------------------------------------------------------------


@dataclass
class ImageSet:
    """A batch of images with whatever annotations the data set has.

    `images` stays uint8 so 10,000 RGB images cost 30 MB, not 120 MB; models get `float()`.
    """

    name: str
    images: torch.Tensor  # uint8 (N, C, H, W)
    labels: torch.Tensor | None = None  # long (N,): digit, or shape index for `shapes`
    attrs: list[dict] | None = None  # one dict of generating factors per image
    captions: dict[str, list[str]] | None = None  # {"en": [N strings], "zh": [N strings]}
    split_note: str = ""  # which images these are, in words, for model cards
    class_names: list[str] | None = None  # label i -> name

    def __post_init__(self):
        if self.images.dtype != torch.uint8 or self.images.ndim != 4:
            raise ValueError(f"ImageSet.images must be uint8 (N, C, H, W); got {self.images.dtype} {tuple(self.images.shape)}")
        n = len(self.images)
        if self.labels is not None and self.labels.shape != (n,):
            raise ValueError(f"ImageSet.labels must have shape ({n},); got {tuple(self.labels.shape)}")
        if self.attrs is not None and len(self.attrs) != n:
            raise ValueError(f"ImageSet.attrs has {len(self.attrs)} entries for {n} images")
        for lang, caps in (self.captions or {}).items():
            if len(caps) != n:
                raise ValueError(f"ImageSet.captions['{lang}'] has {len(caps)} entries for {n} images")

    def __len__(self) -> int:
        return len(self.images)

    def float(self) -> torch.Tensor:
        """float32 (N, C, H, W) in [0, 1]."""
        return self.images.float().div_(255.0)

    def _index(self, idx) -> torch.Tensor:
        # Any of int, slice, sequence, numpy/torch integer or boolean index -> long (K,),
        # with negative indices resolved and bounds checked by torch.
        if isinstance(idx, slice):
            return torch.arange(len(self))[idx]
        index = torch.as_tensor([int(idx)] if isinstance(idx, (int, np.integer)) else idx)
        if index.dtype != torch.bool:
            index = index.long()  # also makes an empty list a valid (empty) index
        return torch.arange(len(self))[index]

    def subset(self, idx) -> ImageSet:
        """The images at `idx` (int, slice, index list/array/tensor or boolean mask), with their annotations."""
        index = self._index(idx)
        pick = index.tolist()
        return ImageSet(
            name=self.name,
            images=self.images[index],
            labels=self.labels[index] if self.labels is not None else None,
            attrs=[self.attrs[i] for i in pick] if self.attrs is not None else None,
            captions={lang: [caps[i] for i in pick] for lang, caps in self.captions.items()} if self.captions else None,
            split_note=f"{self.split_note}; a subset of {len(pick)}",
            class_names=self.class_names,
        )

    def numpy_hwc(self, idx=None) -> np.ndarray:
        """uint8 (N, H, W, C) numpy, the engine's boundary format; all images or those at `idx`."""
        images = self.images if idx is None else self.images[self._index(idx)]
        return images.permute(0, 2, 3, 1).contiguous().numpy()


def load_dataset(
    name: str,
    split: str = "train",
    *,
    data_dir: str | os.PathLike | None = None,  # mnist: where the IDX files are; folder: the folder or zip
    n: int | None = None,  # number of images: mnist the first n of the split; shapes any count
    seed: int = 0,  # shapes: which procedural stream (same seed, same images)
    size: int | None = None,  # output side in pixels; None is the data set's own (28 / 32 / 32)
) -> ImageSet:
    """Load a registered data set (see `DATASETS`) as an `ImageSet`."""
    if name not in DATASETS:
        raise UserError("dataset_unknown", name=name, available=", ".join(DATASETS))
    if size is not None:
        size = _check_count("image size", size, 8, 512)
    if name == "mnist":
        return _load_mnist(split, data_dir=data_dir, n=n, size=size)
    if name == "shapes":
        _check_split(name, split, ("train", "test"))
        seed = check_seed(seed)
        count = SHAPES_DEFAULT_N[split] if n is None else _check_count("number of images", n, 1, 1_000_000)
        return load_shapes(split, n=count, seed=seed, size=size or 32)
    _check_split(name, split, ("train", "all"))  # a user's folder has no held-out part
    if data_dir is None:
        raise UserError("folder_missing", path="(none given)")
    max_files = 5000 if n is None else _check_count("number of images", n, 1, 100_000)
    images, _skipped = load_folder(data_dir, size=size or 32, max_files=max_files)
    return images


# ------------------------------------------------------------------------------------------------
# MNIST from IDX files
# ------------------------------------------------------------------------------------------------

MNIST_FILES = ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")
IDX_IMAGES_MAGIC, IDX_LABELS_MAGIC = 2051, 2049  # 0x0803: uint8, 3 dims; 0x0801: uint8, 1 dim
MNIST_TRAIN_FRACTION = 0.8  # 10,000 test digits -> 8,000 train + 2,000 held out
# The host torchvision downloads MNIST from first; reaching it is our "are we online" test.
MNIST_MIRROR = ("ossci-datasets.s3.amazonaws.com", 443)


def _env_flag(name: str) -> bool:
    return os.environ.get(name, "").strip().lower() in ("1", "true", "yes", "on")


def _cache_dir() -> Path:
    return Path.home() / ".cache" / "genlab"


def _mnist_roots(data_dir) -> list[Path]:
    """Folders to search, in order: the argument, $GENLAB_DATA_DIR, ./data, the download cache."""
    roots = [data_dir, os.environ.get("GENLAB_DATA_DIR") or None, "data", _cache_dir()]
    seen: list[Path] = []
    for root in roots:
        if root is not None and Path(root).expanduser().absolute() not in seen:
            seen.append(Path(root).expanduser().absolute())
    return seen


def _find_mnist(roots: list[Path]) -> tuple[Path, Path] | None:
    # Inside each root: the files themselves, a mnist/ folder, or torchvision's MNIST/raw/.
    for root in roots:
        for folder in (root, root / "mnist", root / "MNIST" / "raw", root / "mnist" / "MNIST" / "raw"):
            found = []
            for stem in MNIST_FILES:
                # The uncompressed file first: torchvision leaves both, and it reads faster.
                hit = next((folder / f for f in (stem, stem + ".gz") if (folder / f).is_file()), None)
                found.append(hit)
            if all(found):
                return found[0], found[1]
    return None


def _read_idx(path: Path, magic: int, ndim: int) -> np.ndarray:
    """An IDX file as uint8 numpy of its declared shape: big-endian uint32 magic, ndim sizes, data."""

    def corrupt(reason: str) -> UserError:
        return UserError("mnist_corrupt", path=str(path), reason=reason)

    try:
        with open(path, "rb") as f:
            raw = f.read()
        if raw[:2] == b"\x1f\x8b":  # gzip, whatever the file is called
            raw = gzip.decompress(raw)
    except (OSError, EOFError, zlib.error) as exc:
        raise corrupt(f"cannot be read or unpacked ({exc})") from None
    header = 4 * (1 + ndim)
    if len(raw) < header:
        raise corrupt(f"it is only {len(raw)} bytes long, shorter than the {header}-byte header")
    (got,) = struct.unpack(">I", raw[:4])
    if got != magic:
        raise corrupt(f"its magic number is {got}, expected {magic}")
    dims = struct.unpack(f">{ndim}I", raw[4:header])
    expected = math.prod(dims)
    if len(raw) - header != expected:
        raise corrupt(f"the header promises {expected} bytes of data for shape {dims}, but {len(raw) - header} follow")
    return np.frombuffer(raw, dtype=np.uint8, offset=header).reshape(dims)


@functools.lru_cache(maxsize=4)
def _read_mnist(images_path: str, labels_path: str, _stamp: tuple) -> tuple[np.ndarray, np.ndarray]:
    """(images uint8 (N, 28, 28), labels uint8 (N,)), read-only; cached per resolved paths + mtimes."""
    images = _read_idx(Path(images_path), IDX_IMAGES_MAGIC, 3)
    labels = _read_idx(Path(labels_path), IDX_LABELS_MAGIC, 1)
    if images.shape[1:] != (28, 28):
        raise UserError("mnist_corrupt", path=images_path, reason=f"images are {images.shape[1]}x{images.shape[2]}, not 28x28")
    if len(images) != len(labels):
        raise UserError("mnist_corrupt", path=labels_path, reason=f"{len(labels)} labels for {len(images)} images")
    if len(labels) and labels.max() > 9:
        raise UserError("mnist_corrupt", path=labels_path, reason=f"label {labels.max()} is not a digit 0-9")
    return images, labels


def _host_reachable(host: str, port: int, timeout: float) -> bool:
    """Whether a TCP connection opens within `timeout` seconds, DNS included.

    `socket.create_connection`'s timeout does not cover name resolution, which can stall for
    much longer offline, so the probe runs in a daemon thread that we stop waiting for.
    """
    reached = threading.Event()

    def probe():
        try:
            socket.create_connection((host, port), timeout=timeout).close()
            reached.set()
        except OSError:
            pass

    threading.Thread(target=probe, daemon=True, name="genlab-net-probe").start()
    return reached.wait(timeout)


def _download_mnist() -> bool:
    """Fetch the MNIST test split into the cache through torchvision; False if offline or it fails."""
    if _env_flag("HF_HUB_OFFLINE") or _env_flag("GENLAB_OFFLINE"):
        return False
    if not _host_reachable(*MNIST_MIRROR, timeout=1.5):
        return False
    try:
        from torchvision.datasets import MNIST  # lazy: only needed for this one download

        MNIST(root=str(_cache_dir()), train=False, download=True)
    except Exception:  # network errors, checksum failures, a missing torchvision: all "not downloaded"
        return False
    return True


def load_mnist_arrays(data_dir=None) -> tuple[np.ndarray, np.ndarray, Path]:
    """(images uint8 (10000, 28, 28), labels uint8 (10000,), folder) of the MNIST test split."""
    roots = _mnist_roots(data_dir)
    found = _find_mnist(roots)
    if found is None and _download_mnist():
        found = _find_mnist(roots)
    if found is None:
        raise UserError("mnist_missing", searched=", ".join(str(r) for r in roots))
    paths = [p.resolve() for p in found]
    stamp = tuple((p.stat().st_size, p.stat().st_mtime_ns) for p in paths)
    images, labels = _read_mnist(str(paths[0]), str(paths[1]), stamp)
    return images, labels, paths[0].parent


def _load_mnist(split: str, *, data_dir, n: int | None, size: int | None) -> ImageSet:
    _check_split("mnist", split, SPLITS)
    images, labels, _folder = load_mnist_arrays(data_dir)
    total = len(images)
    n_train = int(total * MNIST_TRAIN_FRACTION)
    lo, hi = {"train": (0, n_train), "test": (n_train, total), "all": (0, total)}[split]
    note = f"GenLab {split} split" if split != "all" else "all of them"
    if n is not None:
        n = _check_count("number of images", n, 1, hi - lo)
        note = f"the first {n} of the GenLab {split} split" if split != "all" else f"the first {n}"
        hi = lo + n
    x = torch.from_numpy(images[lo:hi].copy()).unsqueeze(1)  # uint8 (N, 1, 28, 28)
    if size is not None and size != 28:
        x = resize_batch(x, size)
    return ImageSet(
        name="mnist",
        images=x,
        labels=torch.from_numpy(labels[lo:hi].astype(np.int64)),
        split_note=f"MNIST t10k images {lo}-{hi - 1} ({note})",
        class_names=[str(d) for d in range(10)],
    )


def resize_batch(images: torch.Tensor, size: int) -> torch.Tensor:
    """uint8 (N, C, H, W) -> uint8 (N, C, size, size), antialiased bilinear (images assumed square)."""
    x = torch.nn.functional.interpolate(images.float(), size=(size, size), mode="bilinear",
                                        antialias=True, align_corners=False)
    return x.round_().clamp_(0, 255).to(torch.uint8)


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


# ------------------------------------------------------------------------------------------------
# Decoding user images
# ------------------------------------------------------------------------------------------------

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp", ".tif", ".tiff")
ARCHIVE_SUFFIXES = (".zip", ".tar", ".gz", ".tgz", ".bz2", ".xz", ".7z", ".rar")


def _short(exc: BaseException) -> str:
    text = str(exc) or type(exc).__name__
    return text if len(text) <= 120 else text[:117] + "..."


def _mpx(max_pixels: int) -> str:
    return f"{max_pixels / 1e6:g}"


def _check_pixels(width: int, height: int, max_pixels: int) -> None:
    if width * height > max_pixels:
        raise UserError("image_too_large", width=width, height=height, max_mpx=_mpx(max_pixels))


def _header_size(fp) -> tuple[int, int] | None:
    """(width, height) from an image header, bypassing Pillow's own decompression-bomb refusal.

    `Image.open` refuses images over 2 * MAX_IMAGE_PIXELS before we can read their size; asking
    each format plugin directly gives the size for an honest message. Nothing is decoded.
    """
    Image.init()
    fp.seek(0)
    prefix = fp.read(16)
    for factory, accept in Image.OPEN.values():
        try:
            if accept is None or accept(prefix) is True:
                fp.seek(0)
                return factory(fp, "").size
        except Exception:
            continue
    return None


def _open_checked(fp, name: str, max_pixels: int) -> Image.Image:
    """Open lazily (header only), refuse oversized images before any pixel is decoded."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)  # we apply our own, lower limit
            im = Image.open(fp)
    except Image.DecompressionBombError:
        size = _header_size(fp) or ("?", "?")
        raise UserError("image_too_large", width=size[0], height=size[1], max_mpx=_mpx(max_pixels)) from None
    except Image.UnidentifiedImageError:
        # Pillow's message names the temporary file object; the user needs only the verdict.
        raise UserError("image_unreadable", name=name, reason="not a recognised image format") from None
    except (OSError, SyntaxError, ValueError, EOFError, struct.error) as exc:
        raise UserError("image_unreadable", name=name, reason=_short(exc)) from None
    _check_pixels(*im.size, max_pixels)
    return im


def _decode_file(fp, name: str, max_pixels: int) -> np.ndarray:
    """Encoded image in a binary file object -> uint8 (H, W, 3); the size is checked before decoding."""
    return _pil_to_rgb_checked(_open_checked(fp, name, max_pixels), name)


def _pil_to_rgb(im: Image.Image) -> np.ndarray:
    """Any PIL image -> uint8 (H, W, 3): EXIF rotation applied, transparency composited on white."""
    im = ImageOps.exif_transpose(im)
    if im.mode in ("I", "I;16", "I;16B", "I;16L", "F"):  # 16-bit and float greys
        grey = np.asarray(im, dtype=np.float32)
        peak = grey.max() if grey.size else 0
        grey = grey * (255.0 / 65535.0) if peak > 255 else grey
        im = Image.fromarray(np.clip(grey, 0, 255).round().astype(np.uint8), "L")
    if im.mode in ("RGBA", "LA", "PA") or (im.mode == "P" and "transparency" in im.info):
        rgba = im.convert("RGBA")
        white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        im = Image.alpha_composite(white, rgba)
    return np.asarray(im.convert("RGB"))


def _pil_to_rgb_checked(im: Image.Image, name: str) -> np.ndarray:
    """`_pil_to_rgb`, with decoding failures (truncated or corrupt data) as image_unreadable."""
    try:
        return _pil_to_rgb(im)
    except (OSError, SyntaxError, ValueError, EOFError, struct.error, zlib.error) as exc:
        raise UserError("image_unreadable", name=name, reason=_short(exc)) from None


def _array_to_uint8(arr: np.ndarray, name: str = "array") -> np.ndarray:
    """numpy HW or HWC (C in 1, 3, 4), uint8 or float in [0, 1] or [0, 255] -> uint8 (H, W, C)."""
    arr = np.asarray(arr)
    if arr.ndim == 2:
        arr = arr[:, :, None]
    if arr.ndim != 3 or arr.shape[2] not in (1, 3, 4) or 0 in arr.shape:
        raise UserError("image_unreadable", name=name, reason=f"an array of shape {arr.shape} is not an HW or HWC image")
    if arr.dtype == np.uint8:
        return arr
    if arr.dtype == np.bool_:
        return arr.astype(np.uint8) * 255
    if np.issubdtype(arr.dtype, np.floating):
        arr = np.nan_to_num(arr.astype(np.float32), nan=0.0, posinf=255.0, neginf=0.0)
        scale = 255.0 if arr.max() <= 1.0 else 1.0  # [0, 1] floats vs [0, 255] floats
        return np.clip(arr * scale, 0, 255).round().astype(np.uint8)
    if np.issubdtype(arr.dtype, np.integer):
        arr = arr.astype(np.int64)
        if arr.max() > 255:  # 16-bit
            arr = arr * 255 // 65535
        return np.clip(arr, 0, 255).astype(np.uint8)
    raise UserError("image_unreadable", name=name, reason=f"pixels of type {arr.dtype} are not supported")


def _hwc_to_rgb(arr: np.ndarray) -> np.ndarray:
    """uint8 (H, W, 1|3|4) -> uint8 (H, W, 3); alpha is composited on white."""
    if arr.shape[2] == 1:
        return np.repeat(arr, 3, axis=2)
    if arr.shape[2] == 4:
        alpha = arr[:, :, 3:].astype(np.float32) / 255.0
        return (arr[:, :, :3] * alpha + 255.0 * (1 - alpha)).round().astype(np.uint8)
    return arr


def decode_image(
    src,
    *,
    max_pixels: int = 40_000_000,  # refuse images with more pixels (checked from the header)
    min_side: int = 8,  # refuse images narrower or shorter than this, in pixels
    name: str | None = None,  # what to call `src` in messages (default: the file name)
) -> np.ndarray:
    """A file path, bytes, PIL image or numpy array -> uint8 (H, W, 3) RGB.

    Transparent pixels are composited on white; EXIF rotation is applied. Raises `UserError`
    image_missing / image_unreadable / image_too_large / image_too_small.
    """
    if src is None:
        raise UserError("image_missing")
    if isinstance(src, np.ndarray):
        if src.ndim >= 2:
            _check_pixels(src.shape[1], src.shape[0], max_pixels)
        rgb = _hwc_to_rgb(_array_to_uint8(src, name or "array"))
    elif isinstance(src, Image.Image):
        _check_pixels(*src.size, max_pixels)
        rgb = _pil_to_rgb_checked(src, name or "image")
    elif isinstance(src, (bytes, bytearray, memoryview)):
        rgb = _decode_file(io.BytesIO(bytes(src)), name or "image", max_pixels)
    elif isinstance(src, (str, os.PathLike)):
        name = name or Path(src).name
        try:
            with open(src, "rb") as fp:  # Pillow reads the header first, the pixels only if allowed
                rgb = _decode_file(fp, name, max_pixels)
        except OSError as exc:
            raise UserError("image_unreadable", name=name, reason=exc.strerror or _short(exc)) from None
    else:
        raise UserError("image_unreadable", name=name or type(src).__name__,
                        reason=f"a {type(src).__name__} is not a file, bytes, PIL image or array")
    h, w = rgb.shape[:2]
    if min(h, w) < min_side:
        raise UserError("image_too_small", width=w, height=h, min_side=min_side)
    return rgb


# ------------------------------------------------------------------------------------------------
# Fitting images to a model
# ------------------------------------------------------------------------------------------------

MNIST_BOX = 20  # MNIST digits were scaled to fit a 20x20 box ...
MNIST_CANVAS = 28  # ... and centred by their centre of mass in 28x28.


def _grey(arr: np.ndarray) -> np.ndarray:
    """uint8 (H, W, C) -> float32 (H, W) luminance in [0, 1] (ITU-R 601 weights, as PIL's "L")."""
    if arr.shape[2] == 1:
        return arr[:, :, 0].astype(np.float32) / 255.0
    rgb = _hwc_to_rgb(arr).astype(np.float32) / 255.0
    return rgb @ np.array([0.299, 0.587, 0.114], dtype=np.float32)


def _ink_from_grey(grey: np.ndarray) -> np.ndarray:
    """float (H, W) -> ink (H, W) in [0, 1], background 0: dark-on-light is inverted first."""
    border = np.concatenate([grey[0], grey[-1], grey[:, 0], grey[:, -1]])
    background = float(np.median(border))
    if background > 0.5:
        grey, background = 1.0 - grey, 1.0 - background
    return np.clip(grey - background, 0.0, 1.0)  # paper or canvas tone -> 0


def centre_like_mnist(ink: np.ndarray, canvas: int = MNIST_CANVAS) -> np.ndarray | None:
    """Ink (H, W) float, background 0 -> uint8 (canvas, canvas) prepared the way MNIST was.

    Crop to the bounding box of ink (pixels above 10% of the peak), scale the longer side to
    20/28 of the canvas keeping the aspect ratio, and paste so the centre of mass lands on the
    canvas centre. None when there is no ink.
    """
    peak = float(ink.max()) if ink.size else 0.0
    if peak <= 0.02:
        return None
    ink = ink / peak
    rows, cols = np.nonzero(ink > 0.1)
    patch = ink[rows.min(): rows.max() + 1, cols.min(): cols.max() + 1]  # (h, w)
    h, w = patch.shape
    box = max(1, round(MNIST_BOX * canvas / MNIST_CANVAS))
    scale = box / max(h, w)
    new_w, new_h = max(1, round(w * scale)), max(1, round(h * scale))
    small = Image.fromarray((patch * 255).round().astype(np.uint8), "L").resize((new_w, new_h), Image.Resampling.LANCZOS)
    patch = np.asarray(small, dtype=np.float32)  # (new_h, new_w)
    mass = patch.sum()
    if mass <= 0:
        return None
    cy = (patch.sum(1) * np.arange(new_h)).sum() / mass  # centre of mass, in patch pixel indices
    cx = (patch.sum(0) * np.arange(new_w)).sum() / mass
    centre = (canvas - 1) / 2  # 13.5 for 28: the middle between the two central pixels
    top = int(np.clip(round(centre - cy), 0, canvas - new_h))  # clamped so no ink falls off
    left = int(np.clip(round(centre - cx), 0, canvas - new_w))
    out = np.zeros((canvas, canvas), dtype=np.uint8)
    out[top: top + new_h, left: left + new_w] = patch.round().astype(np.uint8)
    return out


def to_model_input(
    img: np.ndarray,
    *,
    size: int,  # the model's image side in pixels
    channels: int,  # 1 (grey) or 3 (RGB)
    mnist_style: bool = False,  # treat as a digit: invert if dark-on-light, centre by mass in a 20/28 box
) -> np.ndarray:
    """uint8 HW or HWC image -> uint8 (size, size, channels) ready for the model.

    By default: scale the shorter side to `size` and centre-crop. With `mnist_style`, prepare
    the image the way the MNIST digits were (see `centre_like_mnist`).
    """
    if channels not in (1, 3):
        raise ValueError(f"channels must be 1 or 3, got {channels}")
    arr = _array_to_uint8(img, "image")  # (H, W, C)
    if mnist_style:
        digit = centre_like_mnist(_ink_from_grey(_grey(arr)), canvas=size)
        if digit is None:
            raise UserError("image_blank")
        return np.repeat(digit[:, :, None], channels, axis=2)
    im = Image.fromarray(_hwc_to_rgb(arr))
    scale = size / min(im.size)
    w, h = max(size, round(im.width * scale)), max(size, round(im.height * scale))
    im = im.resize((w, h), Image.Resampling.LANCZOS)
    left, top = (w - size) // 2, (h - size) // 2
    im = im.crop((left, top, left + size, top + size))
    if channels == 1:
        return np.asarray(im.convert("L"))[:, :, None]
    return np.asarray(im)


def _flatten_layers(value: dict) -> np.ndarray | None:
    """A Sketchpad dict without a composite: background and layers alpha-composited, RGBA (H, W, 4)."""
    parts = [value.get("background"), *(value.get("layers") or [])]
    parts = [_array_to_uint8(p, "sketch") for p in parts if p is not None]
    if not parts:
        return None
    h, w = parts[0].shape[:2]
    out = Image.new("RGBA", (w, h), (0, 0, 0, 0))
    for p in parts:
        rgba = p if p.shape[2] == 4 else np.concatenate([_hwc_to_rgb(p), np.full((*p.shape[:2], 1), 255, np.uint8)], 2)
        layer = Image.fromarray(rgba, "RGBA")
        if layer.size != out.size:
            layer = layer.resize(out.size)
        out = Image.alpha_composite(out, layer)
    return np.asarray(out)


def sketch_to_digit(editor_value) -> np.ndarray:
    """A drawing (a Gradio Sketchpad value or an image array) -> uint8 (28, 28, 1), MNIST-style.

    Accepts {"background", "layers", "composite"} (each an RGB(A) array or None) or a plain
    array. Ink is the alpha channel when the canvas is transparent, otherwise darkness on a
    light canvas or brightness on a dark one.
    """
    if isinstance(editor_value, dict):
        image = editor_value.get("composite")
        image = _flatten_layers(editor_value) if image is None else image
    else:
        image = editor_value
    if image is None:
        raise UserError("sketch_empty")
    arr = _array_to_uint8(image, "sketch")  # (H, W, C)
    if arr.shape[2] == 4 and arr[:, :, 3].min() < 255:
        ink = arr[:, :, 3].astype(np.float32) / 255.0  # strokes on a transparent canvas
    else:
        ink = _ink_from_grey(_grey(arr))
    digit = centre_like_mnist(ink)
    if digit is None:
        raise UserError("sketch_empty")
    return digit[:, :, None]


# ------------------------------------------------------------------------------------------------
# A user's folder or zip of images
# ------------------------------------------------------------------------------------------------

MAX_COMPRESSION_RATIO = 200  # real images barely compress; far above this is a zip bomb


def _skip_reason_by_name(name: str) -> str | None:
    """Why a file is skipped from its name alone, or None if it may be an image."""
    parts = [p for p in name.replace("\\", "/").split("/") if p]
    if any(p.startswith(".") or p == "__MACOSX" for p in parts):
        return "hidden or system file"
    suffix = Path(name).suffix.lower()
    if suffix in ARCHIVE_SUFFIXES:
        return "archive inside the archive (not opened)"
    if suffix not in IMAGE_SUFFIXES:
        return f"not an image file ({suffix or 'no extension'})"
    return None


def open_zip(path: Path, *, max_entries: int, max_bytes: int) -> zipfile.ZipFile:
    """Open a user's zip, refusing (archive_unsafe) an unreadable one, one with more than
    `max_entries` entries, or one whose declared contents exceed `max_bytes`. Reads headers only."""
    try:
        zf = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError) as exc:
        raise UserError("archive_unsafe", name=path.name, reason=f"not a readable zip ({_short(exc)})") from None
    infos = zf.infolist()
    if len(infos) > max_entries:
        zf.close()
        raise UserError("archive_unsafe", name=path.name,
                        reason=f"it holds {len(infos)} entries; the limit is {max_entries}")
    declared = sum(i.file_size for i in infos)
    if declared > max_bytes:
        zf.close()
        raise UserError("archive_unsafe", name=path.name,
                        reason=f"it would unpack to {declared / 2**20:.0f} MB; the limit is {max_bytes / 2**20:.0f} MB")
    return zf


def _zip_entries(path: Path, *, max_files: int, max_bytes: int, skipped: list):
    """Yield (name, bytes) of a zip's candidate images, in name order, read in memory only."""
    with open_zip(path, max_entries=10 * max_files, max_bytes=max_bytes) as zf:
        for info in sorted(zf.infolist(), key=lambda i: i.filename):
            name = info.filename
            if info.is_dir():
                skipped.append((name, "folder"))
                continue
            reason = _skip_reason_by_name(name)
            if reason is None and info.flag_bits & 0x1:
                reason = "password-protected"
            if reason is None and info.file_size > MAX_COMPRESSION_RATIO * max(info.compress_size, 1):
                reason = f"compresses {info.file_size // max(info.compress_size, 1)}:1, which looks like a zip bomb"
            if reason is not None:
                skipped.append((name, reason))
                continue
            try:
                with zf.open(info) as f:
                    data = f.read(info.file_size + 1)  # never more than the header declared
            except (zipfile.BadZipFile, zlib.error, OSError, NotImplementedError, RuntimeError, EOFError) as exc:
                skipped.append((name, f"could not be unpacked ({_short(exc)})"))
                continue
            if len(data) != info.file_size:
                skipped.append((name, "its size does not match the archive's directory"))
                continue
            yield name, data


def _folder_entries(root: Path, *, max_files: int, max_bytes: int, skipped: list):
    """Yield (relative name, bytes) of a folder's candidate images, in name order; links not followed."""
    names = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames.sort()
        for fn in sorted(filenames):
            names.append(Path(dirpath, fn))
        if len(names) > 10 * max_files:
            skipped.append((str(root.name), f"more than {10 * max_files} files; the rest were not looked at"))
            break
    total = 0
    for path in names:
        name = path.relative_to(root).as_posix()
        reason = _skip_reason_by_name(name)
        if reason is None and path.is_symlink():
            reason = "link (not followed)"
        if reason is None:
            total += path.stat().st_size
            if total > max_bytes:
                skipped.append((name, f"over the {max_bytes / 2**20:.0f} MB total; the rest were not read"))
                return
        if reason is not None:
            skipped.append((name, reason))
            continue
        try:
            yield name, path.read_bytes()
        except OSError as exc:
            skipped.append((name, f"could not be read ({exc.strerror or _short(exc)})"))


_SHORT_REASON = {
    "image_unreadable": lambda p: f"unreadable image ({p['reason']})",
    "image_too_large": lambda p: f"{p['width']}x{p['height']} pixels is over the {p['max_mpx']} megapixel limit",
    "image_too_small": lambda p: f"only {p['width']}x{p['height']} pixels; at least {p['min_side']} a side needed",
}


def load_folder(
    path: str | os.PathLike,
    *,
    size: int = 32,  # output side in pixels: shorter side scaled to this, then centre-cropped
    channels: int = 3,  # 3 for RGB, 1 for grey
    max_files: int = 5000,  # stop after this many images
    max_bytes: int = 200 * 2**20,  # refuse archives (or stop folders) beyond this many bytes unpacked
    max_pixels: int = 40_000_000,  # skip images with more pixels than this (checked from the header)
) -> tuple[ImageSet, list[tuple[str, str]]]:
    """A folder, a .zip or one image file -> (ImageSet, [(file, why it was skipped), ...]).

    Zips are read in memory, never extracted. Refused outright (UserError archive_unsafe): a zip
    with more than 10 * max_files entries or more than max_bytes declared. Skipped with a reason:
    folders, hidden files, nested archives, non-images, bomb-like entries, unreadable, oversized
    or tiny images, and everything after the first max_files images.
    """
    root = Path(path)
    skipped: list[tuple[str, str]] = []
    if root.is_dir():
        entries = _folder_entries(root, max_files=max_files, max_bytes=max_bytes, skipped=skipped)
    elif root.is_file() and zipfile.is_zipfile(root):
        entries = _zip_entries(root, max_files=max_files, max_bytes=max_bytes, skipped=skipped)
    elif root.is_file() and root.suffix.lower() not in ARCHIVE_SUFFIXES:  # a single image
        entries = iter([(root.name, root.read_bytes())])
    else:
        raise UserError("folder_missing", path=str(path))

    images = []
    try:
        for name, data in entries:
            if len(images) == max_files:
                skipped.append((name, f"GenLab stopped after {max_files} images; this file and any after it were not read"))
                break
            try:
                rgb = decode_image(data, max_pixels=max_pixels, min_side=8, name=name)
            except UserError as err:
                skipped.append((name, _SHORT_REASON[err.key](err.params)))
                continue
            images.append(to_model_input(rgb, size=size, channels=channels))  # (size, size, channels)
    finally:
        if hasattr(entries, "close"):
            entries.close()  # closes the zip when we stop early
    if not images:
        listed = "; ".join(f"{n} ({r})" for n, r in skipped[:8]) + ("; ..." if len(skipped) > 8 else "")
        raise UserError("folder_empty", count=len(skipped), skipped=listed or "nothing found")
    batch = torch.from_numpy(np.stack(images)).permute(0, 3, 1, 2).contiguous()  # (N, C, size, size)
    note = f"{len(images)} images from '{root.name}', resized to {size}x{size}"
    if skipped:
        note += f"; {len(skipped)} files skipped"
    return ImageSet(name="folder", images=batch, split_note=note), skipped
