"""MNIST from its IDX files, or torchvision's download when online; GenLab's fixed split."""

from __future__ import annotations

import functools
import gzip
import math
import os
import socket
import struct
import threading
import zlib
from pathlib import Path

import numpy as np
import torch

from ..errors import UserError
from .imageset import SPLITS, ImageSet, _check_count, _check_split, resize_batch


# ------------------------------------------------------------------------------------------------
# MNIST from IDX files
# ------------------------------------------------------------------------------------------------

MNIST_FILES = ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")
IDX_IMAGES_MAGIC, IDX_LABELS_MAGIC = 2051, 2049  # 0x0803: uint8, 3 dims; 0x0801: uint8, 1 dim
MNIST_TRAIN_FRACTION = 0.8  # 10,000 test digits -> 8,000 train + 2,000 held out
# The host torchvision downloads MNIST from first; reaching it is our "are we online" test.
MNIST_MIRROR = ("ossci-datasets.s3.amazonaws.com", 443)
DOWNLOAD_WAIT_S = 120.0  # how long a caller off the compute thread waits for the download (11 MB)


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
    from .. import downloads

    def download():
        from torchvision.datasets import MNIST  # lazy: only needed for this one download

        MNIST(root=str(_cache_dir()), train=False, download=True)
        return True

    # In a thread of its own, never on the compute thread; a failure is remembered for 10 minutes.
    try:
        return downloads.fetch("mnist", download, what="MNIST", wait_s=DOWNLOAD_WAIT_S)
    except downloads.DownloadFailed:  # network errors, checksum failures, a missing torchvision
        return False


def mnist_available(data_dir=None) -> bool:
    """Whether the MNIST files are at hand (in the folders load_dataset searches), without
    reading them or going online."""
    return _find_mnist(_mnist_roots(data_dir)) is not None


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


