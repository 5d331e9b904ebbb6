"""Data sets and user images: everything that turns pixels from outside into model input.

The package holds one module per source (`mnist`, `shapes`, `faces`, `folder`), `images` for user
images and `imageset` for the container. Four data sets, all returned as an `ImageSet` by `load_dataset(name, split, ...)`:

- `mnist`: the 10,000 MNIST test digits read from their IDX files (the only MNIST GenLab has).
  GenLab's fixed split: the first 8,000 for training, the last 2,000 held out.
- `shapes`: procedural coloured shapes on plain backgrounds, unlimited and deterministic. Every
  image comes with its factors (shape, colour, size, position, background) and with true
  captions in English and Chinese, so the same set serves VAEs, GANs, diffusion and CLIP.
- `faces`: procedural cartoon faces (64x64), made for StyleGAN: head shape, position, size and tilt
  are coarse factors, eyes, mouth and hair style middle ones, colours, background pattern, freckles
  and grain fine ones. Attributes (`FACE_ATTRIBUTES`, `attribute_targets`) and true captions.
- `folder`: a user's folder or zip of images, read safely in memory.

User images (uploads, photos, sketches) go through `decode_image`, then `to_model_input` or
`sketch_to_digit`. Images leave this module as numpy uint8 HWC, or as uint8 `(N, C, H, W)`
tensors inside an `ImageSet`; `ImageSet.float()` gives the `[0, 1]` floats models train on.
"""

from __future__ import annotations

import os

from ..errors import UserError
from ..runtime import check_seed
from .faces import (FACE_ATTRIBUTES, FACE_DEFAULTS, FACE_GROUPS_ZH, FACE_VALUE_ZH, FACES_DEFAULT_N, attribute_targets,
                    face_caption, load_faces, render_face)
from .folder import MAX_COMPRESSION_RATIO, MAX_TOTAL_PIXELS, load_folder, open_zip, zip_directory
from .images import (ARCHIVE_SUFFIXES, IMAGE_SUFFIXES, MNIST_BOX, MNIST_CANVAS, centre_like_mnist, check_animation, decode_image, set_pil_limits,
                     sketch_to_digit, to_model_input)
from .imageset import SPLITS, ImageSet, _check_count, _check_split, resize_batch
from .mnist import MNIST_FILES, MNIST_TRAIN_FRACTION, _load_mnist, load_mnist_arrays, mnist_available
from .shapes import (BACKGROUNDS, COLORS, FACTOR_ZH, FACTORS, POSITIONS, SHAPES, SHAPES_DEFAULT_N, SIZES,
                     load_shapes, render_shape, shape_caption)

__all__ = [
    "DATASETS", "SPLITS", "ImageSet", "load_dataset", "resize_batch",
    "MNIST_FILES", "MNIST_TRAIN_FRACTION", "load_mnist_arrays", "mnist_available",
    "SHAPES", "COLORS", "SIZES", "POSITIONS", "BACKGROUNDS", "FACTORS", "FACTOR_ZH", "SHAPES_DEFAULT_N",
    "load_shapes", "render_shape", "shape_caption",
    "FACE_ATTRIBUTES", "FACE_DEFAULTS", "FACE_GROUPS_ZH", "FACE_VALUE_ZH", "FACES_DEFAULT_N",
    "attribute_targets", "face_caption", "load_faces", "render_face",
    "IMAGE_SUFFIXES", "ARCHIVE_SUFFIXES", "MNIST_BOX", "MNIST_CANVAS",
    "check_animation", "decode_image", "set_pil_limits", "to_model_input", "centre_like_mnist", "sketch_to_digit",
    "MAX_COMPRESSION_RATIO", "MAX_TOTAL_PIXELS", "load_folder", "open_zip", "zip_directory",
]

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
    "faces": {
        "en": "Cartoon faces: procedural 64x64 colour faces whose head shape and pose (coarse), eyes, mouth and hair (middle), "
              "and colours and textures (fine) are known, with true captions. Made for StyleGAN's style mixing.",
        "zh": "卡通人脸：程序生成的 64x64 彩色人脸，脸型和姿态（粗糙层）、眼睛、嘴巴和发型（中间层）、颜色和纹理（精细层）"
              "均已知，并附有准确的描述文本。专为 StyleGAN 的风格混合设计。",
        "channels": 3,
        "image_size": 64,
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



def load_dataset(
    name: str,
    split: str = "train",
    *,
    data_dir: str | os.PathLike | None = None,  # mnist: where the IDX files are; folder: the folder or zip
    n: int | None = None,  # number of images: mnist the first n of the split; shapes, faces any count
    seed: int = 0,  # shapes, faces: which procedural stream (same seed, same images)
    size: int | None = None,  # output side in pixels; None is the data set's own (28 / 32 / 64 / 32)
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
    if name == "faces":
        _check_split(name, split, ("train", "test"))
        seed = check_seed(seed)
        count = FACES_DEFAULT_N[split] if n is None else _check_count("number of images", n, 1, 1_000_000)
        return load_faces(split, n=count, seed=seed, size=size or 64)
    _check_split(name, split, ("train", "all"))  # a user's folder has no held-out part
    if data_dir is None:
        raise UserError("folder_missing", path="(none given)")
    max_files = 5000 if n is None else _check_count("number of images", n, 1, 100_000)
    images, _skipped = load_folder(data_dir, size=size or 32, max_files=max_files)
    return images

