"""`folder`: a user's folder or zip of images, read safely in memory."""

from __future__ import annotations

import io
import os
import struct
import warnings
import zipfile
import zlib
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from ..errors import UserError
from .imageset import ImageSet
from .images import ARCHIVE_SUFFIXES, FORMATS, IMAGE_SUFFIXES, _short, decode_image, to_model_input


# ------------------------------------------------------------------------------------------------
# A user's folder or zip of images
# ------------------------------------------------------------------------------------------------

MAX_COMPRESSION_RATIO = 200  # real images barely compress; far above this is a zip bomb
MAX_TOTAL_PIXELS = 250_000_000  # decoded pixels in one data set (about 6 s of decoding on the 2-core CPU)


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


CENTRAL_ENTRY_BYTES = 1024  # a central-directory record with a name of up to ~1 KB (the fixed part is 46)


def zip_directory(path: Path) -> tuple[int, int]:
    """(entries, central directory bytes) read from a zip's end-of-central-directory record (and its
    ZIP64 form), at the file's end, without parsing the directory: what `zipfile` would go on to
    read, told in at most 64 KB of I/O. BadZipFile when there is no such record."""
    size = path.stat().st_size
    with open(path, "rb") as f:
        tail_len = min(size, 22 + 65535)  # the record is 22 bytes plus a comment of up to 64 KB
        f.seek(size - tail_len)
        tail = f.read(tail_len)
        at = tail.rfind(b"PK\x05\x06")
        if at < 0 or len(tail) - at < 22:
            raise zipfile.BadZipFile("no end-of-central-directory record")
        entries, cd_size = struct.unpack("<HI", tail[at + 10: at + 16])  # total entries, directory bytes
        if entries == 0xFFFF or cd_size == 0xFFFFFFFF:  # ZIP64: a locator right before the record
            loc = size - tail_len + at - 20
            if loc < 0:
                raise zipfile.BadZipFile("a ZIP64 record without its locator")
            f.seek(loc)
            locator = f.read(20)
            if locator[:4] != b"PK\x06\x07":
                raise zipfile.BadZipFile("a ZIP64 record without its locator")
            (offset,) = struct.unpack("<Q", locator[8:16])
            if offset > size - 56:
                raise zipfile.BadZipFile("the ZIP64 record lies outside the file")
            f.seek(offset)
            record = f.read(56)
            if record[:4] != b"PK\x06\x06":
                raise zipfile.BadZipFile("a bad ZIP64 end-of-central-directory record")
            entries, cd_size = struct.unpack("<QQ", record[32:48])
    return entries, cd_size


def open_zip(path: Path, *, max_entries: int, max_bytes: int) -> zipfile.ZipFile:
    """Open a user's zip, refusing (archive_unsafe) an unreadable one, one with more than
    `max_entries` entries, or one whose declared contents exceed `max_bytes`. Reads headers only;
    the entry count and directory size come from the end of the file first, so a zip of millions
    of entries is refused before `zipfile` parses any."""
    path = Path(path)
    try:
        entries, cd_size = zip_directory(path)
    except (zipfile.BadZipFile, OSError, struct.error) as exc:
        raise UserError("archive_unsafe", name=path.name, reason=f"not a readable zip ({_short(exc)})") from None
    if entries > max_entries:
        raise UserError("archive_unsafe", name=path.name,
                        reason=f"it holds {entries:,} entries; the limit is {max_entries:,}")
    if cd_size > max_entries * CENTRAL_ENTRY_BYTES or cd_size > path.stat().st_size:
        raise UserError("archive_unsafe", name=path.name,
                        reason=f"its directory is {cd_size:,} bytes, far more than {max_entries:,} entries need")
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


def _zip_entries(path: Path, *, max_files: int, max_bytes: int, skipped: list, head: int | None = None):
    """Yield (name, bytes) of a zip's candidate images, in name order, read in memory only; with
    `head`, only each one's first `head` bytes (its header: only that much is decompressed)."""
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
                    data = f.read(min(head, info.file_size + 1) if head else info.file_size + 1)  # never more than declared
            except (zipfile.BadZipFile, zlib.error, OSError, NotImplementedError, RuntimeError, EOFError) as exc:
                skipped.append((name, f"could not be unpacked ({_short(exc)})"))
                continue
            if head is None and len(data) != info.file_size:
                skipped.append((name, "its size does not match the archive's directory"))
                continue
            yield name, data


def _folder_entries(root: Path, *, max_files: int, max_bytes: int, skipped: list, head: int | None = None):
    """Yield (relative name, bytes) of a folder's candidate images, in name order; links not followed;
    with `head`, only each one's first `head` bytes."""
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
            if head:
                with path.open("rb") as f:
                    yield name, f.read(head)
            else:
                yield name, path.read_bytes()
        except OSError as exc:
            skipped.append((name, f"could not be read ({exc.strerror or _short(exc)})"))


HEADER_BYTES = 256 * 1024  # an image's size is in its first bytes (a JPEG's after its APPn segments, 64 KB each)


def _header_pixels(data: bytes, max_pixels: int) -> int:
    """Width x height from an image's header (0 for what will be skipped anyway: unreadable or over
    the per-image limit); nothing is decoded."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            with Image.open(io.BytesIO(data), formats=FORMATS) as im:
                pixels = im.size[0] * im.size[1]
    except Exception:  # noqa: BLE001 -- a bad image is judged (and explained) when it is decoded
        return 0
    return pixels if pixels <= max_pixels else 0


def _check_pixel_budget(root: Path, *, max_files: int, max_bytes: int, max_pixels: int, max_total_pixels: int) -> None:
    """UserError images_total_pixels when a folder's or zip's images add up to more pixels than the
    budget, judged from their headers (nothing decoded): a set over it is refused in the time it
    takes to read the heads, not after decoding 250 MP of it. Only each file's first HEADER_BYTES
    are read (decompressed); the decoding pass counts decoded pixels again, so an image whose size
    lies further in is still bounded."""
    kw = {"max_files": max_files, "max_bytes": max_bytes, "skipped": [], "head": HEADER_BYTES}
    heads = _folder_entries(root, **kw) if root.is_dir() else _zip_entries(root, **kw)
    total, count = 0, 0
    try:
        for _, data in heads:
            total += _header_pixels(data, max_pixels)
            count += 1
            if total > max_total_pixels:
                raise UserError("images_total_pixels", count=count, max_mpx=max_total_pixels / 1e6)
            if count == max_files:
                break
    finally:
        heads.close()


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
    max_total_pixels: int = MAX_TOTAL_PIXELS,  # refuse a set whose images add up to more pixels
) -> tuple[ImageSet, list[tuple[str, str]]]:
    """A folder, a .zip or one image file -> (ImageSet, [(file, why it was skipped), ...]).

    Zips are read in memory, never extracted. Refused outright (UserError archive_unsafe): a zip
    with more than 10 * max_files entries or more than max_bytes declared. Skipped with a reason:
    folders, hidden files, nested archives, non-images, bomb-like entries, unreadable, oversized
    or tiny images, and everything after the first max_files images. Refused (images_total_pixels):
    images adding up to more than max_total_pixels decoded pixels, so a set of many large photos
    costs a bounded time however it is packed.
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

    if root.is_dir() or zipfile.is_zipfile(root):
        _check_pixel_budget(root, max_files=max_files, max_bytes=max_bytes, max_pixels=max_pixels,
                            max_total_pixels=max_total_pixels)

    images, decoded = [], 0
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
            decoded += rgb.shape[0] * rgb.shape[1]
            if decoded > max_total_pixels:
                raise UserError("images_total_pixels", count=len(images) + 1, max_mpx=max_total_pixels / 1e6)
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
