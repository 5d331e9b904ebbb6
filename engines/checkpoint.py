"""Checkpoints: a folder of config.json + model.safetensors + card.json.

The config travels with the weights, so loading needs no flags repeated by hand. Only
safetensors are ever read; a pickle (.pt/.pth/.ckpt/.pkl) is refused by name, never opened.
Tensors whose names start with "aux/" are data that travels with the model (example images,
encoded data for plots, principal directions) and are not part of the network's state.
"""

from __future__ import annotations

import dataclasses
import datetime as _dt
import json
import math
import os
import re
import shutil
import struct
import tempfile
import zipfile
import zlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

from . import families
from .data import ARCHIVE_SUFFIXES, MAX_COMPRESSION_RATIO, open_zip  # the zip rules user images follow
from .errors import UserError

CONFIG, WEIGHTS, CARD = "config.json", "model.safetensors", "card.json"
AUX_PREFIX = "aux/"
PICKLE_SUFFIXES = (".pt", ".pth", ".ckpt", ".pkl", ".pickle", ".bin")
MAX_UPLOAD_BYTES = 512 * 2**20
MAX_JSON_BYTES = 256 * 2**10        # config.json / card.json: the shipped ones are under 8 KB
MAX_HEADER_BYTES = 8 * 2**20        # a safetensors header (JSON: a name, dtype, shape per tensor)
MAX_TENSORS = 20_000                # tensors in one file (a ResNet CLIP with its trainer state: ~700)
MAX_PARAMS = 50_000_000             # the largest shipped model has 3.4M parameters
MAX_AUX_ELEMENTS = 4_000_000        # aux data beside the weights and trainer state (shipped: 0.2M)



class _FamilyModules(Mapping):
    """Family name -> module that implements it, read from the registry (engines.families). Each
    module offers `Config.from_dict(dict)` and `build(config) -> nn.Module`. Families are imported
    only when a checkpoint needs them."""

    def __getitem__(self, name: str) -> str:
        if name not in families.REGISTRY:
            raise KeyError(name)
        return families.get(name).module

    def __iter__(self):
        return iter(families.NAMES)

    def __len__(self) -> int:
        return len(families.NAMES)


FAMILY_MODULES = _FamilyModules()

ASSETS_DIR = Path(__file__).resolve().parent.parent / "assets"


@dataclass
class Checkpoint:
    family: str
    config: dict
    state: dict[str, torch.Tensor]
    card: dict
    path: Path
    aux: dict[str, torch.Tensor] = field(default_factory=dict)

    @property
    def name(self) -> str:
        return self.card.get("name") or self.path.name

    def build(self, device: torch.device | str = "cpu"):
        """(config, model) with the weights loaded, in eval mode, on `device`.

        The model is first built on the meta device (no memory) and its every tensor compared with
        the weights; only a model that fits them is allocated, so a config cannot ask for more
        memory than its weights file already holds."""
        module = family_module(self.family)
        config = _config(module, self.family, self.config)
        expected = expected_state(module, config)
        _check_shapes(expected, {k: (tuple(v.shape), v.dtype) for k, v in self.state.items()})
        model = module.build(config)
        try:
            model.load_state_dict(self.state, strict=True)
        except RuntimeError as exc:
            reason = " ".join(str(exc).split())
            raise UserError("checkpoint_shape_mismatch", reason=reason[:400]) from None
        return config, model.to(device).eval()


def family_module(family: str):
    return families.get(family).load_module()


def _config(module, family: str, config: dict):
    try:
        return module.Config.from_dict(config)
    except (TypeError, ValueError) as exc:
        raise UserError("checkpoint_bad_config", family=family, reason=str(exc)[:300]) from None


def expected_state(module, config) -> dict[str, tuple[tuple[int, ...], torch.dtype]]:
    """{name: (shape, dtype)} of the state dict `module.build(config)` would have, found on the meta
    device (nothing allocated); UserError checkpoint_too_big over MAX_PARAMS parameters."""
    with torch.device("meta"):
        model = module.build(config)
    count = sum(p.numel() for p in model.parameters())
    if count > MAX_PARAMS:
        raise UserError("checkpoint_too_big", params=count, max_params=MAX_PARAMS)
    return {k: (tuple(v.shape), v.dtype) for k, v in model.state_dict().items()}


def _check_shapes(expected: dict, found: dict) -> None:
    """Every tensor the model has, of its shape, none it lacks; floating-point weights may be stored
    in any float dtype (the shipped ones are float16), integer buffers in their own."""
    missing, unexpected = sorted(set(expected) - set(found)), sorted(set(found) - set(expected))
    if missing or unexpected:
        parts = ([f"missing {', '.join(missing[:5])}" + (" ..." if len(missing) > 5 else "")] if missing else []) + \
                ([f"unexpected {', '.join(unexpected[:5])}" + (" ..." if len(unexpected) > 5 else "")] if unexpected else [])
        raise UserError("checkpoint_shape_mismatch", reason="; ".join(parts)[:400])
    for name, (shape, dtype) in expected.items():
        got_shape, got_dtype = found[name]
        if tuple(got_shape) != tuple(shape):
            raise UserError("checkpoint_shape_mismatch",
                            reason=f"{name} is {list(got_shape)} in the weights, {list(shape)} in the model")
        if dtype.is_floating_point != got_dtype.is_floating_point or (
                not dtype.is_floating_point and dtype != got_dtype):
            raise UserError("checkpoint_shape_mismatch",
                            reason=f"{name} is {str(got_dtype).removeprefix('torch.')} in the weights, "
                                   f"{str(dtype).removeprefix('torch.')} in the model")


_DTYPES = {"F64": torch.float64, "F32": torch.float32, "F16": torch.float16, "BF16": torch.bfloat16,
           "I64": torch.int64, "I32": torch.int32, "I16": torch.int16, "I8": torch.int8, "U8": torch.uint8,
           "BOOL": torch.bool}


def read_header(path: Path) -> dict[str, tuple[tuple[int, ...], torch.dtype]]:
    """{name: (shape, dtype)} from a safetensors file's header alone (8-byte length, then JSON),
    its length bounded before it is read and every tensor's extent checked against the file."""
    def corrupt(reason: str):
        return UserError("checkpoint_corrupt", file=WEIGHTS, reason=reason)

    size = path.stat().st_size
    with open(path, "rb") as f:
        head = f.read(8)
        if len(head) < 8:
            raise corrupt("the file is too short to be safetensors")
        (n,) = struct.unpack("<Q", head)
        if n > MAX_HEADER_BYTES or n > size - 8:
            raise corrupt(f"its header claims {n:,} bytes (the limit is {MAX_HEADER_BYTES:,} and the file has {size:,})")
        try:
            header = json.loads(f.read(n).decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as exc:  # nesting 100,000 deep
            raise corrupt(f"its header is not JSON ({str(exc)[:80]})") from None
    if not isinstance(header, dict):
        raise corrupt("its header is not a JSON object")
    header.pop("__metadata__", None)
    if len(header) > MAX_TENSORS:
        raise corrupt(f"it holds {len(header):,} tensors; the limit is {MAX_TENSORS:,}")
    out, data = {}, size - 8 - n
    for name, info in header.items():
        try:
            dtype = _DTYPES[info["dtype"]]
            shape = tuple(int(d) for d in info["shape"])
            start, end = (int(o) for o in info["data_offsets"])
        except (KeyError, TypeError, ValueError):
            raise corrupt(f"tensor '{str(name)[:60]}' has an unknown dtype or a bad shape") from None
        if len(shape) > 8 or min(shape, default=0) < 0 or not 0 <= start <= end <= data:
            raise corrupt(f"tensor '{str(name)[:60]}' has a bad shape or lies outside the file")
        if math.prod(shape) * dtype.itemsize != end - start:
            raise corrupt(f"tensor '{str(name)[:60]}' has {end - start} bytes for shape {list(shape)}")
        out[name] = (shape, dtype)
    return out


# Aux data each family's tabs read: its spec's `aux_schema`, name -> (dtype kind, shape rule). A
# rule is a function of the config giving the expected shape, None standing for any length up to
# AUX_MAX_ROWS.
AUX_MAX_ROWS = 10_000
TRAINER_AUX = re.compile(r"(opt\.\d{1,2}\.\d{1,5}\.(exp_avg|exp_avg_sq|step)|ema\..+|generator|order)")


def _kind(dtype: torch.dtype) -> str:
    return "uint8" if dtype == torch.uint8 else "float" if dtype.is_floating_point else "int"


def check_aux(family: str, config, aux: dict, params: int) -> None:
    """Aux tensors against their family's schema: known names, dtype, shape and a total size.
    A trainer state (`trainer/*`, engines.studio) may hold Adam's moments and an EMA: a few times
    the weights."""
    schema = families.get(family).aux_schema
    total, trainer = 0, 0
    for name, (shape, dtype) in aux.items():
        n = math.prod(shape)
        if name.startswith("trainer/"):
            if not TRAINER_AUX.fullmatch(name[len("trainer/"):]):
                raise UserError("checkpoint_bad_aux", name=name[:80], reason="not a trainer state tensor")
            trainer += n
            continue
        if name not in schema:
            raise UserError("checkpoint_bad_aux", name=name[:80],
                            reason=f"a {family} checkpoint carries only {', '.join(schema) or 'no aux data'}")
        kind, rule = schema[name]
        want = rule(config)
        if _kind(dtype) != kind:
            raise UserError("checkpoint_bad_aux", name=name, reason=f"{_kind(dtype)} values where {kind} ones belong")
        if len(shape) != len(want) or any(w is not None and s != w for s, w in zip(shape, want)) or (
                shape and shape[0] > AUX_MAX_ROWS):
            shown = ["N" if w is None else w for w in want]
            raise UserError("checkpoint_bad_aux", name=name,
                            reason=f"shape {list(shape)} where {shown} belongs (N at most {AUX_MAX_ROWS:,})")
        total += n
    if total > MAX_AUX_ELEMENTS or trainer > 4 * params + 1_000_000:
        raise UserError("checkpoint_bad_aux", name="aux/*",
                        reason=f"{total + trainer:,} values, more than a model of {params:,} parameters carries")


# Card fields the tabs read, and the type each must have (others are kept as they are).
CARD_TYPES = {
    "name": str, "family": str, "date": str, "dataset": str, "hardware": str, "command": str, "stopped": str,
    "storage_dtype": str, "metrics_note": str, "steps": int, "batch_size": int, "seed": int, "lr": (int, float),
    "wall_time_s": (int, float), "default_guidance": (int, float), "ema_decay": (int, float),
    "metrics": dict, "split": dict, "class_names": list, "layer_effects": dict, "studio": dict, "trainer": dict, "continued_from": dict, "heldout_curve": list,
}


def _check_card(card: dict) -> None:
    for key, want in CARD_TYPES.items():
        value = card.get(key)
        if value is None:
            continue
        if isinstance(value, bool) or not isinstance(value, want) or (
                isinstance(value, float) and not math.isfinite(value)):
            names = want.__name__ if isinstance(want, type) else "number"
            raise UserError("checkpoint_bad_card", field=key, expected=names, got=type(value).__name__)


def _read_json(path: Path) -> dict:
    size = path.stat().st_size
    if size > MAX_JSON_BYTES:
        raise UserError("checkpoint_json_too_big", file=path.name, size_kb=size // 1024, max_kb=MAX_JSON_BYTES // 1024)
    try:
        value = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as exc:
        raise UserError("checkpoint_bad_json", file=path.name, reason=str(exc)[:200]) from None
    if not isinstance(value, dict):
        raise UserError("checkpoint_bad_json", file=path.name, reason="expected a JSON object")
    return value


def load(path: str | os.PathLike, *, expect_family: str | None = None) -> Checkpoint:
    """Read and validate a checkpoint folder (or an uploaded zip / file list, via `unpack_upload`)."""
    path = Path(path)
    if path.is_file():
        if path.suffix.lower() in PICKLE_SUFFIXES:
            raise UserError("checkpoint_pickle", name=path.name)
        if path.suffix.lower() != ".zip":
            raise UserError("upload_unsupported", name=path.name)
        path = unpack_upload([path])
    for name in (CONFIG, WEIGHTS, CARD):
        if not (path / name).is_file():
            raise UserError("checkpoint_missing_file", path=str(path), file=name)
    config, card = _read_json(path / CONFIG), _read_json(path / CARD)
    family = card.get("family") or config.get("family")
    if not isinstance(family, str):
        raise UserError("checkpoint_unknown_family", family=str(family)[:40], known=families.known())
    if family in families.NAMES and expect_family is not None and family != expect_family:
        raise UserError("checkpoint_wrong_family", family=family, expected=expect_family)
    if family not in families.NAMES:
        raise UserError("checkpoint_unknown_family", family=family[:40], known=families.known())
    _check_card(card)
    # Everything is checked from the config and the safetensors header before a tensor is read:
    # the model's shapes (on the meta device), every weight's shape and dtype, the aux schema.
    module = family_module(family)
    family_config = _config(module, family, {k: v for k, v in config.items() if k != "family"})
    expected = expected_state(module, family_config)
    header = read_header(path / WEIGHTS)
    _check_shapes(expected, {k: v for k, v in header.items() if not k.startswith(AUX_PREFIX)})
    params = sum(math.prod(shape) for shape, _ in expected.values())
    check_aux(family, family_config, {k[len(AUX_PREFIX):]: v for k, v in header.items() if k.startswith(AUX_PREFIX)},
              params)
    try:
        tensors = load_file(str(path / WEIGHTS), device="cpu")
    except (SafetensorError, OSError, ValueError, RuntimeError) as exc:
        raise UserError("checkpoint_corrupt", file=WEIGHTS, reason=str(exc)[:300]) from None
    state, aux = {}, {}
    for key, tensor in tensors.items():
        if tensor.is_floating_point() and not bool(torch.isfinite(tensor).all()):
            raise UserError("checkpoint_nonfinite", tensor=key)
        if key.startswith(AUX_PREFIX):
            aux[key[len(AUX_PREFIX):]] = tensor
        else:
            state[key] = tensor
    config = {k: v for k, v in config.items() if k != "family"}
    return Checkpoint(family=family, config=config, state=state, card=card, path=path, aux=aux)


def save(
    out_dir: str | os.PathLike,
    *,
    family: str,
    config,
    model: torch.nn.Module,
    card: dict,
    aux: dict[str, torch.Tensor] | None = None,
    storage_dtype: torch.dtype | None = None,
) -> Path:
    """Write the three files, atomically: a reader never sees a half-written checkpoint.

    storage_dtype: store the network's floating-point weights in this dtype (e.g. float16, to
    keep shipped files under the 10 MiB that a plain git push to a Hugging Face Space allows);
    loading casts them back into the model's own parameters.
    """
    if family not in families.NAMES:  # as load refuses it: a name without a spec exists nowhere
        raise UserError("checkpoint_unknown_family", family=str(family)[:40], known=families.known())
    out_dir = Path(out_dir)
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    config_dict = dataclasses.asdict(config) if dataclasses.is_dataclass(config) else dict(config)
    tensors = {k: v.detach().to("cpu").contiguous() for k, v in model.state_dict().items()}
    if storage_dtype is not None:
        tensors = {k: v.to(storage_dtype) if v.is_floating_point() else v for k, v in tensors.items()}
        card = {**card, "storage_dtype": str(storage_dtype).removeprefix("torch.")}
    for key, value in (aux or {}).items():
        tensors[AUX_PREFIX + key] = value.detach().to("cpu").contiguous()
    card = {"family": family, "date": _dt.date.today().isoformat(), **card}
    tmp = Path(tempfile.mkdtemp(prefix=".tmp-", dir=out_dir.parent))
    try:
        (tmp / CONFIG).write_text(json.dumps({"family": family, **config_dict}, indent=2) + "\n")
        (tmp / CARD).write_text(json.dumps(_jsonable(card), indent=2, ensure_ascii=False) + "\n")
        save_file(tensors, str(tmp / WEIGHTS))
        # mkdtemp makes a private (0700) folder; a checkpoint is meant to be shared and served.
        tmp.chmod(0o755)
        for f in tmp.iterdir():
            f.chmod(0o644)
        if out_dir.exists():
            shutil.rmtree(out_dir)
        tmp.rename(out_dir)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return out_dir


def _jsonable(value):
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    return value


def unpack_upload(paths, dest: str | os.PathLike | None = None) -> Path:
    """Turn what a user uploaded (a zip of a checkpoint folder, or its three files) into a folder.

    Pickles are refused by name before anything is read. Zip members are read into memory one
    at a time, never extracted by path, so names like '../../x' cannot escape the folder.
    """
    paths = [Path(p) for p in (paths if isinstance(paths, (list, tuple)) else [paths])]
    made = dest is None  # a temporary folder of ours: removed again if the upload is refused
    dest = Path(dest) if dest is not None else Path(tempfile.mkdtemp(prefix="genlab-upload-"))
    dest.mkdir(parents=True, exist_ok=True)
    wanted = {CONFIG, WEIGHTS, CARD}
    try:
        for p in paths:
            lower = p.name.lower()
            if lower.endswith(PICKLE_SUFFIXES):
                raise UserError("checkpoint_pickle", name=p.name)
            if p.stat().st_size > MAX_UPLOAD_BYTES:
                raise UserError("file_too_large", name=p.name, size_mb=p.stat().st_size / 2**20,
                                max_mb=MAX_UPLOAD_BYTES // 2**20)
            if lower.endswith(".zip"):
                _unzip_checkpoint(p, dest, wanted)
            elif p.name in wanted:
                shutil.copyfile(p, dest / p.name)
            else:
                raise UserError("upload_unsupported", name=p.name)
    except BaseException:
        if made:
            shutil.rmtree(dest, ignore_errors=True)
        raise
    return dest


def _unzip_checkpoint(path: Path, dest: Path, wanted: set[str]) -> None:
    # A checkpoint zip holds three files (and perhaps a folder entry or two): 64 entries is generous.
    with open_zip(path, max_entries=64, max_bytes=MAX_UPLOAD_BYTES) as archive:
        members = [m for m in archive.infolist() if not m.is_dir()]
        for m in members:
            base = m.filename.rsplit("/", 1)[-1]
            if base.lower().endswith(PICKLE_SUFFIXES):
                raise UserError("checkpoint_pickle", name=m.filename)
            if base.lower().endswith(ARCHIVE_SUFFIXES):
                raise UserError("archive_unsafe", name=path.name,
                                reason=f"it holds another archive ('{m.filename}'); zip the checkpoint folder itself")
        chosen = [m for m in members if m.filename.rsplit("/", 1)[-1] in wanted and "__MACOSX" not in m.filename]
        for m in chosen:  # every member is checked before any is written
            base = m.filename.rsplit("/", 1)[-1]
            if base != WEIGHTS and m.file_size > MAX_JSON_BYTES:
                raise UserError("checkpoint_json_too_big", file=base, size_kb=m.file_size // 1024,
                                max_kb=MAX_JSON_BYTES // 1024)
            if m.file_size > 2**20 and m.file_size > MAX_COMPRESSION_RATIO * max(m.compress_size, 1):
                raise UserError("archive_unsafe", name=path.name,
                                reason=f"'{base}' compresses {m.file_size // max(m.compress_size, 1)}:1, which looks like a zip bomb")
        written = []
        try:
            for m in chosen:
                out = dest / m.filename.rsplit("/", 1)[-1]
                written.append(out)
                _copy_member(archive, m, out, path.name)
        except UserError:
            for out in written:
                out.unlink(missing_ok=True)
            raise


def _copy_member(archive: zipfile.ZipFile, member: zipfile.ZipInfo, out: Path, zip_name: str) -> None:
    """One member into `out`, never more bytes than the directory declared; a damaged member (bad
    CRC, bad deflate data, an unsupported method or a password) is the archive's fault."""
    left = member.file_size
    try:
        with archive.open(member) as src, open(out, "wb") as dst:
            while True:
                chunk = src.read(min(2**20, left + 1))
                if not chunk:
                    break
                left -= len(chunk)
                if left < 0:
                    raise zipfile.BadZipFile("more data than the directory declares")
                dst.write(chunk)
    except (zipfile.BadZipFile, zlib.error, EOFError, NotImplementedError, RuntimeError, ValueError, OSError) as exc:
        reason = " ".join(str(exc).split())[:120] or type(exc).__name__
        raise UserError("archive_unsafe", name=zip_name,
                        reason=f"'{member.filename[:80]}' could not be unpacked ({reason})") from None


def list_assets(family: str | None = None, root: Path = ASSETS_DIR) -> dict[str, Path]:
    """Shipped checkpoints by folder name, optionally of one family, in a stable order."""
    found = {}
    if not root.is_dir():
        return found
    for d in sorted(root.iterdir()):
        if not (d / CARD).is_file():
            continue
        try:
            fam = json.loads((d / CARD).read_text()).get("family")
        except (OSError, json.JSONDecodeError):
            continue
        if fam and (family is None or fam == family):  # a card without a family (the metrics' classifier) is no model
            found[d.name] = d
    return found
