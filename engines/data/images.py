"""User images (uploads, photos, sketches) -> checked numpy uint8 HWC, and into model input."""

from __future__ import annotations

import io
import os
import struct
import warnings
import zlib
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps

from ..errors import UserError


# ------------------------------------------------------------------------------------------------
# Decoding user images
# ------------------------------------------------------------------------------------------------

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp")
ARCHIVE_SUFFIXES = (".zip", ".tar", ".gz", ".tgz", ".bz2", ".xz", ".7z", ".rar")
# The formats Pillow may use for a user's image (what the messages promise); every other plugin
# (TIFF, PSD, EPS, ICNS, ...) stays unused, whatever a file's first bytes claim.
FORMATS = ("PNG", "JPEG", "BMP", "GIF", "WEBP")
MAX_PIXELS = 40_000_000  # pixels in one image, checked from its header before decoding


def set_pil_limits(max_pixels: int = MAX_PIXELS) -> None:
    """Pillow's own decompression-bomb limit for every image this process decodes, the ones Gradio
    decodes before GenLab sees them (a sketch, an uploaded picture) included: Pillow warns above
    `max_pixels` and refuses above twice that. The app calls this once at start; GenLab's own
    decoding checks the (lower or equal) `max_pixels` of `decode_image` from the header."""
    Image.MAX_IMAGE_PIXELS = int(max_pixels)


def _short(exc: BaseException) -> str:
    text = str(exc) or type(exc).__name__
    return text if len(text) <= 120 else text[:117] + "..."


MAX_ANIMATION_PIXELS = 100_000_000  # frames x width x height of one exported GIF / MP4


def check_animation(frames: int, width: int, height: int, max_pixels: int = MAX_ANIMATION_PIXELS) -> None:
    """UserError export_too_big unless an animation of `frames` frames of width x height pixels
    stays within `max_pixels` in all (what encoding it costs in time and memory). The exports
    (the diffusion tab's run, the VAE's interpolation) call this before building their frames."""
    if frames < 1 or width < 1 or height < 1 or frames * width * height > max_pixels:
        raise UserError("export_too_big", frames=frames, width=width, height=height, max_mpx=max_pixels / 1e6)


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
    for factory, accept in (Image.OPEN[f] for f in FORMATS if f in Image.OPEN):
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
            im = Image.open(fp, formats=FORMATS)
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
    max_pixels: int = MAX_PIXELS,  # refuse images with more pixels (checked from the header)
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
        if src.ndim in (2, 3) and 0 in src.shape[:2]:
            raise UserError("image_too_small", width=src.shape[1], height=src.shape[0], min_side=min_side)
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


