"""Checkpoints: a folder of config.json + model.safetensors + card.json.

The config travels with the weights, so loading needs no flags repeated by hand. Only
safetensors are ever read; a pickle (.pt/.pth/.ckpt/.pkl) is refused by name, never opened.
Tensors whose names start with "aux/" are data that travels with the model (example images,
encoded data for plots, principal directions) and are not part of the network's state.
"""

from __future__ import annotations

import dataclasses
import datetime as _dt
import importlib
import json
import math
import os
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

from . import FAMILIES
from .data import open_zip
from .errors import UserError

CONFIG, WEIGHTS, CARD = "config.json", "model.safetensors", "card.json"
AUX_PREFIX = "aux/"
PICKLE_SUFFIXES = (".pt", ".pth", ".ckpt", ".pkl", ".pickle", ".bin")
ARCHIVE_SUFFIXES = (".zip", ".tar", ".gz", ".tgz", ".bz2", ".xz", ".7z", ".rar")
MAX_UPLOAD_BYTES = 512 * 2**20

# Family name -> module that implements it. Each module offers `Config.from_dict(dict)` and
# `build(config) -> nn.Module`. Families are imported only when a checkpoint needs them.
FAMILY_MODULES = {"vae": "engines.vae", "ddpm": "engines.diffusion", "stylegan": "engines.stylegan", "faceattr": "engines.stylegan.attributes", "clip": "engines.clip"}

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
        """(config, model) with the weights loaded, in eval mode, on `device`."""
        module = family_module(self.family)
        try:
            config = module.Config.from_dict(self.config)
        except (TypeError, ValueError) as exc:
            raise UserError("checkpoint_bad_config", family=self.family, reason=str(exc)) from None
        model = module.build(config)
        try:
            model.load_state_dict(self.state, strict=True)
        except RuntimeError as exc:
            reason = " ".join(str(exc).split())
            raise UserError("checkpoint_shape_mismatch", reason=reason[:400]) from None
        return config, model.to(device).eval()


def family_module(family: str):
    if family not in FAMILY_MODULES:
        raise UserError("checkpoint_unknown_family", family=family, known=", ".join(FAMILY_MODULES))
    return importlib.import_module(FAMILY_MODULES[family])


def _read_json(path: Path) -> dict:
    try:
        value = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise UserError("checkpoint_bad_json", file=path.name, reason=str(exc)) from None
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
    if family in FAMILIES and expect_family is not None and family != expect_family:
        raise UserError("checkpoint_wrong_family", family=family, expected=expect_family)
    if family not in FAMILIES or family not in FAMILY_MODULES:
        raise UserError("checkpoint_unknown_family", family=family, known=", ".join(FAMILY_MODULES))
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
    if family not in FAMILIES:
        raise ValueError(f"unknown family {family!r}")
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
        for m in members:
            base = m.filename.rsplit("/", 1)[-1]
            if base in wanted and "__MACOSX" not in m.filename:
                with archive.open(m) as src, open(dest / base, "wb") as dst:
                    shutil.copyfileobj(src, dst, length=2**20)


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
        if family is None or fam == family:
            found[d.name] = d
    return found
