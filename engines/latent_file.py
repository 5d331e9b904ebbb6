"""A latent vector (a VAE's z, a StyleGAN's w) as a .npy file: written by GenLab, read from anyone.

An uploaded file is hostile until shown otherwise. `read` looks at the file's size, then at the
.npy header alone (magic string, dtype, shape: numpy's own header parser, a literal dict, never
pickle), and only then reads the numbers, with `allow_pickle=False`; NaN, infinities and values
no latent takes are refused. Every refusal is a `UserError` (both languages).
"""

from __future__ import annotations

import os
import tempfile
import time
import uuid

import numpy as np

from .errors import UserError

MAX_BYTES = 256 * 1024  # a (14, 512) float64 w+ is 57 KB; anything far larger is not a latent
MAX_ABS = 100.0         # |value|: a N(0, I) latent past 100 standard deviations decodes to nothing useful
HEADER_MAX = 4096       # bytes of .npy header numpy may parse (its own default allows 10,000)
KINDS = "fiu"           # float, signed and unsigned integer; no complex, bool, object, string, struct
KEEP_S = 600            # a saved file is served at once; older ones are removed when the next is made

_FOLDER: list[str] = []


def _shape_text(shapes) -> str:
    return " or ".join("(" + ", ".join(map(str, s)) + (",)" if len(s) == 1 else ")") for s in shapes)


def _name(path) -> str:
    return os.path.basename(str(path))[:80]


def _header(f, name: str):
    """(shape, fortran_order, dtype) from the header alone; UserError for anything not a plain .npy."""
    fmt = np.lib.format
    try:
        version = fmt.read_magic(f)
        if version == (1, 0):
            return fmt.read_array_header_1_0(f, max_header_size=HEADER_MAX)
        if version in ((2, 0), (3, 0)):
            return fmt.read_array_header_2_0(f, max_header_size=HEADER_MAX)
    except (ValueError, OSError, EOFError, SyntaxError, TypeError):
        pass
    raise UserError("latent_file_not_npy", name=name)


def read(path, shapes: list[tuple[int, ...]]) -> np.ndarray:
    """The array in `path` as float32 if its shape is one of `shapes` -> else a UserError."""
    if path is None or not isinstance(path, (str, os.PathLike)) or not os.path.isfile(path):
        raise UserError("latent_file_missing")
    name = _name(path)
    size = os.path.getsize(path)
    if size > MAX_BYTES:
        raise UserError("latent_file_too_big", name=name, size_kb=size / 1024, max_kb=MAX_BYTES // 1024)
    with open(path, "rb") as f:
        shape, _, dtype = _header(f, name)
        if dtype.hasobject or dtype.names is not None or dtype.subdtype is not None or dtype.kind not in KINDS:
            raise UserError("latent_file_dtype", name=name, dtype=str(dtype)[:40])
        if tuple(shape) not in {tuple(s) for s in shapes}:
            raise UserError("latent_file_shape", name=name, shape=_shape_text([tuple(shape)])[:60],
                            expected=_shape_text(shapes))
        f.seek(0)
        try:
            array = np.load(f, allow_pickle=False)
        except (ValueError, OSError, EOFError):  # a header that promises more numbers than the file holds
            raise UserError("latent_file_not_npy", name=name) from None
    values = np.asarray(array, np.float64)
    if not np.isfinite(values).all():
        raise UserError("latent_file_not_finite", name=name)
    biggest = float(np.abs(values).max()) if values.size else 0.0
    if biggest > MAX_ABS:
        raise UserError("latent_file_values", name=name, value=f"{biggest:.3g}", max=f"{MAX_ABS:g}")
    return values.astype(np.float32)


def write(path, array) -> str:
    """Save `array` as float32 .npy at `path` -> path."""
    np.save(path, np.ascontiguousarray(array, np.float32), allow_pickle=False)
    return str(path)


def fresh_path(stem: str) -> str:
    """A new .npy path in this process's folder of saved latents (files older than KEEP_S removed)."""
    if not _FOLDER:
        _FOLDER.append(tempfile.mkdtemp(prefix="genlab-latents-"))
    folder, cutoff = _FOLDER[0], time.time() - KEEP_S
    for name in os.listdir(folder):
        try:
            if os.path.getmtime(os.path.join(folder, name)) < cutoff:
                os.remove(os.path.join(folder, name))
        except OSError:
            pass
    safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in stem)[:60]
    return os.path.join(folder, f"{safe}-{uuid.uuid4().hex[:6]}.npy")
