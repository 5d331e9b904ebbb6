"""engines.checkpoint: exact round trips, and every way a bad checkpoint or upload is refused."""

from __future__ import annotations

import builtins
import dataclasses
import io
import json
import pickle
import zipfile
from pathlib import Path

import pytest
import torch

from engines import checkpoint, vae
from engines.errors import UserError

FILES = ("config.json", "model.safetensors", "card.json")


def refused(key: str, fn, *args, **kwargs) -> UserError:
    with pytest.raises(UserError) as err:
        fn(*args, **kwargs)
    assert err.value.key == key, f"expected {key}, got {err.value.key}: {err.value}"
    assert str(err.value) and err.value.localized("zh") != str(err.value)
    return err.value


# --- round trip ------------------------------------------------------------------------------


def test_save_load_round_trip_is_exact(tmp_path, tiny_vae_config):
    torch.manual_seed(0)
    model = vae.build(tiny_vae_config)
    aux = {"examples": torch.arange(2 * 64, dtype=torch.uint8).view(2, 1, 8, 8),
           "pca_mean": torch.tensor([0.25, -1.5])}
    card = {"name": "tiny", "dataset": "shapes", "metrics": {"a": 1.5, "bad": float("nan")}, "note": "中文"}
    out = checkpoint.save(tmp_path / "a" / "ckpt", family="vae", config=tiny_vae_config, model=model,
                          card=card, aux=aux)
    assert sorted(p.name for p in out.iterdir()) == sorted(FILES)
    assert not [p for p in out.parent.iterdir() if p.name.startswith(".tmp-")]  # temp folder gone

    ckpt = checkpoint.load(out)
    assert ckpt.family == "vae" and ckpt.path == out and ckpt.name == "tiny"
    want_config = dataclasses.asdict(tiny_vae_config)
    want_config["widths"] = list(want_config["widths"])
    assert ckpt.config == want_config
    assert ckpt.card["family"] == "vae" and len(ckpt.card["date"]) == 10
    assert {k: v for k, v in ckpt.card.items() if k not in ("family", "date")} == {
        **card, "metrics": {"a": 1.5, "bad": None}}  # non-finite floats become null in JSON
    state = model.state_dict()
    assert ckpt.state.keys() == state.keys()
    for k, v in state.items():
        assert ckpt.state[k].dtype == v.dtype and torch.equal(ckpt.state[k], v), k
    assert ckpt.aux.keys() == aux.keys()
    for k, v in aux.items():
        assert ckpt.aux[k].dtype == v.dtype and torch.equal(ckpt.aux[k], v), k

    config, rebuilt = ckpt.build()
    assert config == tiny_vae_config and not rebuilt.training
    x = torch.rand(2, 1, 8, 8)
    with torch.no_grad():
        assert torch.equal(rebuilt.decode(rebuilt.encode(x)[0]), model.decode(model.encode(x)[0]))

    # Saving again over the folder replaces it whole.
    checkpoint.save(out, family="vae", config=tiny_vae_config, model=model, card={"name": "again"})
    again = checkpoint.load(out)
    assert again.name == "again" and again.aux == {}


def test_save_refuses_an_unknown_family(tmp_path, tiny_vae_config):
    with pytest.raises(ValueError):
        checkpoint.save(tmp_path / "x", family="gan", config=tiny_vae_config,
                        model=vae.build(tiny_vae_config), card={})
    assert not (tmp_path / "x").exists()


# --- refusals --------------------------------------------------------------------------------


class _Payload:
    """Unpickling this creates `marker`: proof that a loader ran code from the file."""

    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return (Path.touch, (self.marker,))


@pytest.mark.parametrize("suffix", [".pt", ".pth", ".ckpt", ".pkl"])
def test_pickle_files_are_refused_unopened(tmp_path, suffix, monkeypatch):
    # The payload works: unpickling a copy does create its marker.
    probe = tmp_path / "probe-marker"
    pickle.loads(pickle.dumps(_Payload(probe)))
    assert probe.exists()

    marker = tmp_path / "marker"
    evil = tmp_path / f"model{suffix}"
    evil.write_bytes(pickle.dumps(_Payload(marker)))
    # Nothing may read it: not open(), not pickle, not torch.load.
    opened = []

    def spy_open(file, *args, **kwargs):
        opened.append(str(file))
        return real_open(file, *args, **kwargs)

    def forbidden(*args, **kwargs):
        raise AssertionError("a pickle loader was called")

    real_open = io.open
    monkeypatch.setattr(io, "open", spy_open)
    monkeypatch.setattr(builtins, "open", spy_open)
    monkeypatch.setattr(pickle, "load", forbidden)
    monkeypatch.setattr(pickle, "loads", forbidden)
    monkeypatch.setattr(torch, "load", forbidden)
    err = refused("checkpoint_pickle", checkpoint.load, evil)
    refused("checkpoint_pickle", checkpoint.unpack_upload, [evil], tmp_path / "dest")
    monkeypatch.undo()
    assert evil.name in str(err)
    assert not marker.exists()
    assert str(evil) not in opened


def test_zip_holding_a_pickle_is_refused(tmp_path, tiny_checkpoint):
    marker = tmp_path / "marker"
    z = tmp_path / "upload.zip"
    with zipfile.ZipFile(z, "w") as zf:
        for name in FILES:
            zf.write(tiny_checkpoint / name, f"ckpt/{name}")
        zf.writestr("ckpt/model.pt", pickle.dumps(_Payload(marker)))
    refused("checkpoint_pickle", checkpoint.load, z)
    assert not marker.exists()


def test_truncated_weights_are_refused(tiny_checkpoint):
    w = tiny_checkpoint / "model.safetensors"
    raw = w.read_bytes()
    w.write_bytes(raw[: len(raw) // 2])
    err = refused("checkpoint_corrupt", checkpoint.load, tiny_checkpoint)
    assert "model.safetensors" in str(err)


def test_garbage_weights_are_refused(tiny_checkpoint):
    (tiny_checkpoint / "model.safetensors").write_bytes(b"\x00" * 7)
    refused("checkpoint_corrupt", checkpoint.load, tiny_checkpoint)


@pytest.mark.parametrize("missing", FILES)
def test_missing_file_is_refused(tiny_checkpoint, missing):
    (tiny_checkpoint / missing).unlink()
    err = refused("checkpoint_missing_file", checkpoint.load, tiny_checkpoint)
    assert missing in str(err)


@pytest.mark.parametrize("name, text", [
    ("card.json", "{not json"),
    ("config.json", '{"family": "vae", '),
    ("config.json", "[1, 2, 3]"),
    ("card.json", "\udcff"),
])
def test_invalid_json_is_refused(tiny_checkpoint, name, text):
    (tiny_checkpoint / name).write_bytes(text.encode("utf-8", "surrogateescape"))
    err = refused("checkpoint_bad_json", checkpoint.load, tiny_checkpoint)
    assert name in str(err)


def _edit_json(path: Path, **changes):
    data = json.loads(path.read_text())
    data.update(changes)
    path.write_text(json.dumps(data))


def test_unknown_family_is_refused(tiny_checkpoint):
    _edit_json(tiny_checkpoint / "card.json", family="gan")
    _edit_json(tiny_checkpoint / "config.json", family="gan")
    err = refused("checkpoint_unknown_family", checkpoint.load, tiny_checkpoint)
    assert "gan" in str(err)
    refused("checkpoint_unknown_family", checkpoint.family_module, "gan")


def test_wrong_family_is_refused(tiny_checkpoint):
    assert checkpoint.load(tiny_checkpoint, expect_family="vae").family == "vae"
    err = refused("checkpoint_wrong_family", checkpoint.load, tiny_checkpoint, expect_family="ddpm")
    assert "ddpm" in str(err) and "vae" in str(err)


def test_shape_mismatch_is_refused_at_load_and_build(tiny_checkpoint):
    ckpt = checkpoint.load(tiny_checkpoint)
    _edit_json(tiny_checkpoint / "config.json", latent_dim=3)  # the weights are for latent 2
    # Found from the safetensors header, before any tensor is read or any model allocated.
    refused("checkpoint_shape_mismatch", checkpoint.load, tiny_checkpoint)
    ckpt.config["latent_dim"] = 3  # a Checkpoint made by hand is checked again at build
    refused("checkpoint_shape_mismatch", ckpt.build)


def test_bad_config_is_refused_at_load(tiny_checkpoint):
    _edit_json(tiny_checkpoint / "config.json", widths=[4, 4, 4, 4])
    refused("checkpoint_bad_config", checkpoint.load, tiny_checkpoint)
    _edit_json(tiny_checkpoint / "config.json", widths=[4], extra_key=1)
    refused("checkpoint_bad_config", checkpoint.load, tiny_checkpoint)


@pytest.mark.parametrize("bad", [float("nan"), float("inf"), float("-inf")])
def test_non_finite_weights_are_refused(tmp_path, tiny_vae_config, bad):
    model = vae.build(tiny_vae_config)
    with torch.no_grad():
        model.to_stats[0].weight[3, 5] = bad
    out = checkpoint.save(tmp_path / "nan", family="vae", config=tiny_vae_config, model=model, card={})
    err = refused("checkpoint_nonfinite", checkpoint.load, out)
    assert "to_stats.0.weight" in str(err)


def test_other_files_are_refused(tmp_path):
    f = tmp_path / "weights.txt"
    f.write_text("hello")
    refused("upload_unsupported", checkpoint.load, f)
    refused("upload_unsupported", checkpoint.unpack_upload, [f], tmp_path / "dest")
    bad_zip = tmp_path / "broken.zip"
    bad_zip.write_bytes(b"PK\x03\x04 not really a zip")
    refused("archive_unsafe", checkpoint.load, bad_zip)


# --- uploads ---------------------------------------------------------------------------------


def _zip_folder(folder: Path, z: Path, prefix: str) -> Path:
    with zipfile.ZipFile(z, "w") as zf:
        for name in FILES:
            zf.write(folder / name, prefix + name)
    return z


@pytest.mark.parametrize("prefix", ["", "tiny-vae/", "outer/inner/tiny-vae/"])
def test_upload_of_a_zip(tmp_path, tiny_checkpoint, prefix):
    z = _zip_folder(tiny_checkpoint, tmp_path / "upload.zip", prefix)
    folder = checkpoint.unpack_upload(z, tmp_path / "dest")
    assert folder == tmp_path / "dest"
    for name in FILES:
        assert (folder / name).read_bytes() == (tiny_checkpoint / name).read_bytes()
    # load() takes the zip directly, too.
    ckpt = checkpoint.load(z)
    original = checkpoint.load(tiny_checkpoint)
    assert ckpt.config == original.config and ckpt.card == original.card
    assert all(torch.equal(ckpt.state[k], v) for k, v in original.state.items())
    ckpt.build()


def test_upload_of_the_three_loose_files(tmp_path, tiny_checkpoint):
    folder = checkpoint.unpack_upload([tiny_checkpoint / n for n in FILES], tmp_path / "dest")
    for name in FILES:
        assert (folder / name).read_bytes() == (tiny_checkpoint / name).read_bytes()
    checkpoint.load(folder).build()
    # Without a destination it makes a fresh temporary folder.
    fresh = checkpoint.unpack_upload([tiny_checkpoint / n for n in FILES])
    assert fresh.is_dir() and fresh != folder
    checkpoint.load(fresh).build()


def test_zip_path_traversal_writes_nothing_outside(tmp_path, tiny_checkpoint):
    base = tmp_path / "sandbox"
    dest = base / "a" / "b" / "dest"
    z = tmp_path / "evil.zip"
    with zipfile.ZipFile(z, "w") as zf:
        for name in FILES:
            zf.write(tiny_checkpoint / name, f"../../evil/{name}")
        zf.writestr("../../../escaped.txt", "x")
        zf.writestr("/abs/evil.txt", "x")
    before = set(tmp_path.rglob("*"))
    folder = checkpoint.unpack_upload(z, dest)
    created = set(tmp_path.rglob("*")) - before
    assert all(p == dest or dest in p.parents or p in dest.parents for p in created), created
    assert sorted(p.name for p in folder.iterdir()) == sorted(FILES)
    assert not (base / "a" / "evil").exists() and not (tmp_path / "evil").exists()


def test_zip_with_thousands_of_entries_is_refused(tmp_path, tiny_checkpoint):
    z = tmp_path / "bomb.zip"
    with zipfile.ZipFile(z, "w") as zf:
        for name in FILES:
            zf.write(tiny_checkpoint / name, name)
        for i in range(3000):
            zf.writestr(f"junk/{i}.txt", "")
    dest = tmp_path / "dest"
    refused("archive_unsafe", checkpoint.unpack_upload, z, dest)
    assert not any(dest.iterdir())


def test_oversized_zip_contents_are_refused(tmp_path, monkeypatch, tiny_checkpoint):
    monkeypatch.setattr(checkpoint, "MAX_UPLOAD_BYTES", 4096)
    z = tmp_path / "big.zip"
    with zipfile.ZipFile(z, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("config.json", b" " * 100_000)  # compresses to far below the limit
    refused("archive_unsafe", checkpoint.unpack_upload, z, tmp_path / "dest")


# --- shipped assets --------------------------------------------------------------------------

CARD_FIELDS = ("family", "dataset", "split", "steps", "wall_time_s", "hardware", "metrics", "date", "command")


def test_list_assets_on_a_folder(tmp_path, tiny_vae_config, make_checkpoint):
    make_checkpoint(tmp_path / "b-model", tiny_vae_config)
    make_checkpoint(tmp_path / "a-model", tiny_vae_config)
    (tmp_path / "not-a-model").mkdir()
    (tmp_path / "broken").mkdir()
    (tmp_path / "broken" / "card.json").write_text("{oops")
    assert list(checkpoint.list_assets(root=tmp_path)) == ["a-model", "b-model"]
    assert checkpoint.list_assets("vae", root=tmp_path) == {"a-model": tmp_path / "a-model",
                                                            "b-model": tmp_path / "b-model"}
    assert checkpoint.list_assets("ddpm", root=tmp_path) == {}
    assert checkpoint.list_assets(root=tmp_path / "nowhere") == {}


SHIPPED = checkpoint.list_assets()


def test_shipped_assets_are_found():
    assert SHIPPED, f"no models under {checkpoint.ASSETS_DIR}"
    assert all(p.parent == checkpoint.ASSETS_DIR for p in SHIPPED.values())


@pytest.mark.parametrize("name", sorted(SHIPPED))
def test_shipped_asset_loads_builds_and_has_a_full_card(name):
    ckpt = checkpoint.load(SHIPPED[name])
    missing = [f for f in CARD_FIELDS if f not in ckpt.card]
    assert not missing, f"{name}: card lacks {missing}"
    assert ckpt.card["family"] == ckpt.family
    assert ckpt.card["command"].startswith(("python -m engines train ", "python -m engines.stylegan.attributes --train ",
                                            "python scripts/train_ldm_cpu.py ", "python scripts/train_ldm_gpu.py"))
    assert isinstance(ckpt.card["metrics"], dict) and ckpt.card["metrics"]
    config, model = ckpt.build()
    assert sum(p.numel() for p in model.parameters()) > 0
    if ckpt.family in ("vae", "ddpm", "stylegan"):
        engine = checkpoint.family_module(ckpt.family).Engine(ckpt)
        kw = {"steps": 2} if ckpt.family == "ddpm" else {}
        images, _ = engine.sample(2, seed=0, **kw)
        assert images.shape == (2, config.image_size, config.image_size, config.channels)
