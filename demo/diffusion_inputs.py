"""Images for the forward process: held-out examples, an upload or a sketch, as the model's input.

The widgets are the shared image picker (`image_inputs.build_picker`, without the seed source). A
diffusion checkpoint may ship its own examples (aux/examples); when it does not, the held-out
examples of another shipped checkpoint trained on the same data set are used, and failing that
the data set's held-out split itself (`shapes` is procedural; MNIST needs --data-dir).
"""

from __future__ import annotations

import logging
import threading
from pathlib import Path

import numpy as np

from engines import checkpoint, data
from engines.errors import UserError

from .image_inputs import Choice, example_at, fit

log = logging.getLogger("genlab.demo")

N_EXAMPLES = 64  # held-out examples offered when they come from the data set itself
_CACHE: dict[tuple, tuple[np.ndarray, np.ndarray | None]] = {}
_LOCK = threading.Lock()


def examples_for(engine, assets_dir: Path | None = None, data_dir: Path | None = None
                 ) -> tuple[np.ndarray, np.ndarray | None]:
    """Held-out example images for `engine`'s data set: uint8 (N, H, W, C) and labels (or None)."""
    images, labels = engine.examples()
    if len(images):
        return images, labels
    c = engine.config
    dataset = engine.card.get("dataset")
    key = (str(engine.path), dataset, c.image_size, c.channels)
    with _LOCK:
        if key in _CACHE:
            return _CACHE[key]
    found = _from_other_assets(dataset, c, assets_dir) or _from_dataset(dataset, c, data_dir)
    if found is None:
        found = (np.zeros((0, c.image_size, c.image_size, c.channels), np.uint8), None)
    with _LOCK:
        _CACHE[key] = found
    return found


def _from_other_assets(dataset, c, assets_dir):
    """The examples another shipped checkpoint of the same data set and image shape carries."""
    if not dataset:
        return None
    root = Path(assets_dir) if assets_dir is not None else checkpoint.ASSETS_DIR
    for folder in checkpoint.list_assets(root=root).values():
        try:
            ck = checkpoint.load(folder)
        except UserError:
            continue
        ex = ck.aux.get("examples")
        if ck.card.get("dataset") != dataset or ex is None or tuple(ex.shape[1:]) != (c.channels, c.image_size, c.image_size):
            continue
        labels = ck.aux.get("example_labels")
        return ex.permute(0, 2, 3, 1).numpy(), (labels.numpy() if labels is not None else None)
    return None


def _from_dataset(dataset, c, data_dir):
    if dataset not in ("mnist", "shapes"):
        return None
    try:
        ims = data.load_dataset(dataset, "test", data_dir=data_dir, n=N_EXAMPLES if dataset == "shapes" else None)
    except UserError as err:  # e.g. MNIST not found offline: the picker then offers upload and sketch
        log.info("no %s examples for the diffusion tab: %s", dataset, err)
        return None
    images = ims.images[:N_EXAMPLES].permute(0, 2, 3, 1).numpy()
    if images.shape[1:] != (c.image_size, c.image_size, c.channels):
        return None
    labels = ims.labels[:N_EXAMPLES].numpy() if ims.labels is not None else None
    return images, labels


def example_choices(images: np.ndarray, labels: np.ndarray | None, dataset: str | None) -> list[tuple[str, int]]:
    """Dropdown (label, index) pairs: 'class · #index', sorted by class."""
    if labels is None:
        return [(f"#{i}", i) for i in range(len(images))]
    names = data.SHAPES if dataset == "shapes" else None

    def name(label: int) -> str:
        return names[label] if names is not None and 0 <= label < len(names) else str(label)

    order = np.argsort(labels, kind="stable")
    return [(f"{name(int(labels[i]))} · #{i}", int(i)) for i in order]


def model_input(engine, choice: Choice, examples: tuple[np.ndarray, np.ndarray | None]
                ) -> tuple[np.ndarray, tuple[int, int, int] | None]:
    """The chosen image as the model's uint8 (size, size, channels), and the original
    (height, width, channels) when an upload had to be converted (else None)."""
    if choice.source == "example":
        return example_at(examples[0], choice.example), None
    if choice.source == "upload":
        if not choice.upload:
            raise UserError("image_missing")
        raw = data.decode_image(choice.upload)
        image = fit(engine, raw)
        return image, (None if raw.shape == image.shape else (raw.shape[0], raw.shape[1], _mode_channels(raw)))
    if choice.source == "sketch":
        if choice.sketch is None:
            raise UserError("sketch_empty")
        return fit(engine, data.sketch_to_digit(choice.sketch)), None
    raise UserError("image_missing")


def _mode_channels(rgb: np.ndarray) -> int:
    """1 when a decoded (H, W, 3) image is really grey, else 3."""
    return 1 if rgb.ndim == 2 or (np.array_equal(rgb[..., 0], rgb[..., 1]) and np.array_equal(rgb[..., 1], rgb[..., 2])) else 3
