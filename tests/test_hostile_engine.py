"""Hostile input, engine side (issue 17): every bad upload, config or request is refused with a
bilingual message, quickly, before it costs memory or time. Each bad input is built here.

The `make_*` builders take a folder and return the path of one hostile input; the measurement
script (scripts/hostile_engine_measure.py) reuses them to time each refusal in a subprocess."""

from __future__ import annotations

import io
import json
import struct
import threading
import time
import zipfile
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from safetensors.torch import save_file

from engines import checkpoint, downloads, families, runtime, studio
from engines.data import check_animation, decode_image, load_folder, set_pil_limits, zip_directory
from engines.errors import UserError
from tests.test_checkpoint import refused  # a UserError with this key, in English and Chinese

ASSETS = Path(__file__).resolve().parent.parent / "assets"
VAE_CONFIG = {"family": "vae", "image_size": 28, "channels": 1, "latent_dim": 16, "widths": [32, 64],
              "hidden": 512, "beta": 1.0, "likelihood": "bernoulli"}
CARD = {"family": "vae", "name": "hostile"}


# --- builders ------------------------------------------------------------------------------------


def _zip(path: Path, files: dict[str, bytes], method=zipfile.ZIP_DEFLATED) -> Path:
    with zipfile.ZipFile(path, "w", method) as zf:
        for name, data in files.items():
            zf.writestr(name, data)
    return path


def _empty_safetensors() -> bytes:
    header = b"{}"
    return struct.pack("<Q", len(header)) + header


def make_huge_hidden_zip(folder: Path, hidden: int = 20_000_000) -> Path:
    """The issue's 637-byte zip: a VAE config asking for 250 GB, and weights with no tensors."""
    return _zip(folder / "huge-hidden.zip", {"config.json": json.dumps({**VAE_CONFIG, "hidden": hidden}).encode(),
                                             "model.safetensors": _empty_safetensors(),
                                             "card.json": json.dumps(CARD).encode()})


def make_ddpm_1024_zip(folder: Path) -> Path:
    """The shipped MNIST DDPM's weights with image_size 1024 in its config."""
    src = ASSETS / "mnist-ddpm"
    config = json.loads((src / "config.json").read_text())
    config["image_size"] = 1024
    return _zip(folder / "ddpm-1024.zip", {"config.json": json.dumps(config).encode(),
                                           "model.safetensors": (src / "model.safetensors").read_bytes(),
                                           "card.json": (src / "card.json").read_bytes()}, zipfile.ZIP_STORED)


def make_big_config_zip(folder: Path) -> Path:
    """A config.json of 2 MB (padding inside a JSON string)."""
    config = {**VAE_CONFIG, "padding": "x" * 2_000_000}
    return _zip(folder / "big-config.zip", {"config.json": json.dumps(config).encode(),
                                            "model.safetensors": _empty_safetensors(),
                                            "card.json": json.dumps(CARD).encode()})


def make_header_bomb_folder(folder: Path) -> Path:
    """model.safetensors whose 8-byte header length claims a terabyte."""
    out = folder / "header-bomb"
    out.mkdir()
    (out / "config.json").write_text(json.dumps(VAE_CONFIG))
    (out / "card.json").write_text(json.dumps(CARD))
    (out / "model.safetensors").write_bytes(struct.pack("<Q", 2**40) + b"{" * 100)
    return out


def make_many_entries_zip(folder: Path, entries: int = 10_000_000) -> Path:
    """A tiny file whose ZIP64 end-of-central-directory record declares millions of entries."""
    path = folder / "many-entries.zip"
    zip64 = struct.pack("<4sQHHIIQQQQ", b"PK\x06\x06", 44, 45, 45, 0, 0, entries, entries, entries * 46, 0)
    locator = struct.pack("<4sIQI", b"PK\x06\x07", 0, 0, 1)
    eocd = struct.pack("<4sHHHHIIH", b"PK\x05\x06", 0, 0, 0xFFFF, 0xFFFF, 0xFFFFFFFF, 0xFFFFFFFF, 0)
    path.write_bytes(zip64 + locator + eocd)
    return path


def make_weights_bomb_zip(folder: Path, mb: int = 64) -> Path:
    """A checkpoint zip whose model.safetensors is 64 MB of zeros deflated to ~64 KB."""
    return _zip(folder / "weights-bomb.zip", {"config.json": json.dumps(VAE_CONFIG).encode(),
                                              "model.safetensors": bytes(mb * 2**20),
                                              "card.json": json.dumps(CARD).encode()})


def make_gigabyte_bomb_zip(folder: Path, gb: int = 2) -> Path:
    """A checkpoint zip whose model.safetensors unpacks to `gb` GB of zeros (~2 MB compressed)."""
    path = folder / "gigabyte-bomb.zip"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("config.json", json.dumps(VAE_CONFIG))
        zf.writestr("card.json", json.dumps(CARD))
        with zf.open("model.safetensors", "w", force_zip64=True) as f:
            block = bytes(2**24)
            for _ in range(gb * 64):
                f.write(block)
    return path


def make_nested_zip(folder: Path, tiny: Path) -> Path:
    inner = _zip(folder / "inner.zip", {n: (tiny / n).read_bytes() for n in ("config.json", "model.safetensors", "card.json")})
    return _zip(folder / "nested.zip", {"inner.zip": inner.read_bytes()})


def make_traversal_zip(folder: Path, tiny: Path) -> Path:
    return _zip(folder / "traversal.zip", {f"../../evil/{n}": (tiny / n).read_bytes()
                                           for n in ("config.json", "model.safetensors", "card.json")})


def make_corrupt_member_zip(folder: Path, tiny: Path) -> Path:
    """A checkpoint zip whose config.json's compressed bytes were damaged in transit."""
    path = _zip(folder / "corrupt.zip", {n: (tiny / n).read_bytes() for n in ("config.json", "model.safetensors", "card.json")})
    data = bytearray(path.read_bytes())
    with zipfile.ZipFile(path) as zf:
        info = zf.getinfo("config.json")
    start = info.header_offset + 30 + len(info.filename) + len(info.extra)
    for i in range(start + 2, start + min(info.compress_size, 40)):
        data[i] ^= 0x5A
    path.write_bytes(bytes(data))
    return path


def make_many_images_zip(folder: Path, n: int = 40, side: int = 1000) -> Path:
    """Images that each pass the per-image limit but add up (n x side^2 pixels)."""
    buf = io.BytesIO()
    Image.new("RGB", (side, side), (200, 30, 30)).save(buf, "PNG")
    return _zip(folder / "many-images.zip", {f"img{i}.png": buf.getvalue() for i in range(n)}, zipfile.ZIP_STORED)


# --- model size from the config ------------------------------------------------------------------


@pytest.mark.parametrize("hidden", [20_000_000, 300_000])
def test_a_config_asking_for_a_huge_model_is_refused_before_any_allocation(tmp_path, hidden):
    z = make_huge_hidden_zip(tmp_path, hidden)
    start = time.perf_counter()
    err = refused("checkpoint_bad_config", checkpoint.load, z)
    assert time.perf_counter() - start < 2.0
    assert "hidden" in str(err) and "8192" in str(err)


def test_a_model_within_the_field_bounds_but_too_big_is_refused_on_the_meta_device(tmp_path):
    from engines import vae

    config = vae.Config(image_size=128, channels=3, latent_dim=16, widths=(1024,) * 6, hidden=8192)
    start = time.perf_counter()
    refused("checkpoint_too_big", checkpoint.expected_state, vae, config)
    assert time.perf_counter() - start < 2.0


def test_weights_that_do_not_fit_are_found_from_the_header_without_reading_tensors(tmp_path, monkeypatch):
    z = make_huge_hidden_zip(tmp_path, hidden=4096)  # a valid config (26M parameters), no tensors at all
    monkeypatch.setattr(checkpoint, "load_file", lambda *a, **k: pytest.fail("tensors were read"))
    err = refused("checkpoint_shape_mismatch", checkpoint.load, z)
    assert "missing" in str(err)


def test_a_weight_of_the_wrong_dtype_is_refused(tmp_path, tiny_checkpoint):
    from safetensors.torch import load_file

    tensors = load_file(str(tiny_checkpoint / "model.safetensors"))
    tensors["log_sigma"] = tensors["log_sigma"].to(torch.int64)
    save_file(tensors, str(tiny_checkpoint / "model.safetensors"))
    refused("checkpoint_shape_mismatch", checkpoint.load, tiny_checkpoint)


def test_ddpm_weights_with_image_size_1024_are_refused(tmp_path):
    err = refused("checkpoint_bad_config", checkpoint.load, make_ddpm_1024_zip(tmp_path))
    assert "image_size" in str(err) and "128" in str(err)


@pytest.mark.parametrize("family,field,value", [
    ("ddpm", "timesteps", 5000), ("ddpm", "width", 100_000), ("ddpm", "channel_mult", [1] * 40),
    ("ddpm", "attention_resolutions", [64]), ("ddpm", "blocks_per_level", 1000),
    ("vae", "widths", [32, 10**6]), ("vae", "latent_dim", 10**6), ("vae", "image_size", 4096),
    ("stylegan", "mapping_layers", 10_000), ("stylegan", "channel_max", 10**6), ("stylegan", "z_dim", 10**7),
    ("clip", "text_layers", 1000), ("clip", "vision_width", 10**6), ("clip", "context_length", 10**6),
    ("clip", "image_size", 4096),
    ("vae", "hidden", "512"), ("vae", "hidden", 512.5), ("vae", "beta", float("nan")), ("vae", "widths", "abc"),
    ("ddpm", "num_classes", True), ("ddpm", "schedule", ["linear"]),
])
def test_every_family_bounds_and_type_checks_its_config(family, field, value):
    module = checkpoint.family_module(family)
    config = {k: v for k, v in json.loads((ASSETS / {"ddpm": "mnist-ddpm", "vae": "mnist-vae-z2",
                                                      "stylegan": "mnist-stylegan", "clip": "genlab-clip"}[family]
                                                     / "config.json").read_text()).items() if k != "family"}
    module.Config.from_dict(config)  # the shipped config passes
    with pytest.raises(ValueError, match=field.split("_")[0][:5]):
        module.Config.from_dict({**config, field: value})


def test_shipped_checkpoints_still_load_and_build():
    for name, folder in checkpoint.list_assets().items():
        ckpt = checkpoint.load(folder)
        config, model = ckpt.build()
        assert sum(p.numel() for p in model.parameters()) < checkpoint.MAX_PARAMS, name


# --- files ---------------------------------------------------------------------------------------


def test_oversized_config_is_refused_before_parsing(tmp_path, tiny_checkpoint, monkeypatch):
    z = make_big_config_zip(tmp_path)
    refused("checkpoint_json_too_big", checkpoint.load, z)
    (tiny_checkpoint / "card.json").write_text(json.dumps({"family": "vae", "pad": "x" * 300_000}))
    err = refused("checkpoint_json_too_big", checkpoint.load, tiny_checkpoint)
    assert "card.json" in str(err)
    (tiny_checkpoint / "config.json").write_text(json.dumps({"family": "vae", "pad": [[[]]] * 100_000}))
    monkeypatch.setattr(checkpoint.json, "loads", lambda *a, **k: pytest.fail("parsed"))
    refused("checkpoint_json_too_big", checkpoint.load, tiny_checkpoint)


@pytest.mark.parametrize("field,value", [("name", ["a", "list"]), ("steps", "many"), ("metrics", [1, 2]),
                                         ("lr", float("inf")), ("dataset", {"a": 1}), ("studio", "x")])
def test_card_fields_of_the_wrong_type_are_refused(tiny_checkpoint, field, value):
    card = json.loads((tiny_checkpoint / "card.json").read_text())
    (tiny_checkpoint / "card.json").write_text(json.dumps({**card, field: value}))
    err = refused("checkpoint_bad_card", checkpoint.load, tiny_checkpoint)
    assert field in str(err)


def test_family_that_is_not_a_string_is_refused(tiny_checkpoint):
    (tiny_checkpoint / "card.json").write_text(json.dumps({"family": ["vae"]}))
    (tiny_checkpoint / "config.json").write_text(json.dumps({"widths": [4]}))
    refused("checkpoint_unknown_family", checkpoint.load, tiny_checkpoint)


def test_safetensors_header_length_is_bounded_before_reading(tmp_path):
    start = time.perf_counter()
    refused("checkpoint_corrupt", checkpoint.load, make_header_bomb_folder(tmp_path))
    assert time.perf_counter() - start < 1.0


def test_deeply_nested_safetensors_header_is_refused(tiny_checkpoint):
    header = b"[" * 200_000 + b"]" * 200_000  # json raises RecursionError, not JSONDecodeError
    (tiny_checkpoint / "model.safetensors").write_bytes(struct.pack("<Q", len(header)) + header)
    refused("checkpoint_corrupt", checkpoint.load, tiny_checkpoint)


@pytest.mark.parametrize("name,tensor,why", [
    ("secret_payload", torch.zeros(4), "carries only"),
    ("examples", torch.zeros(2, 1, 8, 8), "float values"),                 # uint8 expected
    ("examples", torch.zeros(2, 3, 8, 8, dtype=torch.uint8), "shape"),     # the model is grey
    ("encoded_mu", torch.zeros(20_000, 2), "shape"),                       # too many rows
    ("trainer/../../x", torch.zeros(2), "trainer"),
])
def test_aux_tensors_are_checked_against_the_schema(tmp_path, tiny_vae_config, make_checkpoint, name, tensor, why):
    out = make_checkpoint(tmp_path / "aux", tiny_vae_config, aux={name: tensor})
    err = refused("checkpoint_bad_aux", checkpoint.load, out)
    assert why in str(err)


def test_aux_total_size_is_bounded(tmp_path, tiny_vae_config, make_checkpoint):
    out = make_checkpoint(tmp_path / "aux", tiny_vae_config, aux={"trainer/opt.0.0.exp_avg": torch.zeros(2_000_000)})
    refused("checkpoint_bad_aux", checkpoint.load, out)


# --- archives ------------------------------------------------------------------------------------


def test_a_zip_declaring_millions_of_entries_is_refused_from_its_end_record(tmp_path, monkeypatch):
    z = make_many_entries_zip(tmp_path)
    assert zip_directory(z)[0] == 10_000_000
    monkeypatch.setattr(zipfile, "ZipFile", lambda *a, **k: pytest.fail("zipfile parsed it"))
    start = time.perf_counter()
    err = refused("archive_unsafe", checkpoint.load, z)
    assert "10,000,000 entries" in str(err) and time.perf_counter() - start < 1.0
    refused("archive_unsafe", load_folder, z)


def test_a_real_zip64_directory_is_read_right(tmp_path):
    z = _zip(tmp_path / "z.zip", {f"{i}.txt": b"" for i in range(70_000)}, zipfile.ZIP_STORED)
    entries, size = zip_directory(z)
    assert entries == 70_000 and size > 70_000 * 46


def test_a_compressed_weights_bomb_in_a_checkpoint_zip_is_refused(tmp_path):
    z = make_weights_bomb_zip(tmp_path)
    dest = tmp_path / "dest"
    start = time.perf_counter()
    err = refused("archive_unsafe", checkpoint.unpack_upload, z, dest)
    assert "zip bomb" in str(err) and time.perf_counter() - start < 2.0
    assert not any(dest.iterdir())


def test_a_corrupt_member_gives_the_archive_message(tmp_path, tiny_checkpoint):
    err = refused("archive_unsafe", checkpoint.load, make_corrupt_member_zip(tmp_path, tiny_checkpoint))
    assert "config.json" in str(err)


# --- images --------------------------------------------------------------------------------------


def test_set_pil_limits_sets_pillows_bomb_limit():
    before = Image.MAX_IMAGE_PIXELS
    try:
        set_pil_limits(1_000_000)
        assert Image.MAX_IMAGE_PIXELS == 1_000_000
        buf = io.BytesIO()
        Image.new("L", (1500, 1500)).save(buf, "PNG")
        with pytest.raises(Image.DecompressionBombError):
            Image.open(io.BytesIO(buf.getvalue())).load()  # Pillow's own refusal, over twice the limit
    finally:
        Image.MAX_IMAGE_PIXELS = before


def test_formats_we_do_not_read_are_refused_unopened():
    for fmt in ("TIFF", "ICO", "PPM"):
        buf = io.BytesIO()
        Image.new("RGB", (16, 16)).save(buf, fmt)
        refused("image_unreadable", decode_image, buf.getvalue())


@pytest.mark.parametrize("src", [np.zeros((0, 0, 3), np.uint8), np.zeros((1, 1, 3), np.uint8), "png1x1"])
def test_tiny_images_get_a_clear_message(src):
    if isinstance(src, str):
        buf = io.BytesIO()
        Image.new("RGB", (1, 1)).save(buf, "PNG")
        src = buf.getvalue()
    err = refused("image_too_small", decode_image, src)
    assert "at least 8" in str(err)


def test_an_image_set_has_a_total_pixel_budget(tmp_path):
    z = make_many_images_zip(tmp_path, n=6, side=400)
    images, _ = load_folder(z, size=16)
    assert len(images) == 6
    err = refused("images_total_pixels", load_folder, z, size=16, max_total_pixels=500_000)
    assert "0.5" in str(err)


def test_animation_exports_are_bounded():
    check_animation(60, 492, 264)
    refused("export_too_big", check_animation, 10_000, 1000, 1000)


# --- work budgets --------------------------------------------------------------------------------


def test_ddpm_requests_have_a_bounded_cost():
    from engines.diffusion import Engine
    from engines.diffusion.engine import MAX_WORK, Setting

    eng = Engine.load(ASSETS / "mnist-ddpm", torch.device("cpu"))
    start = time.perf_counter()
    err = refused("diffusion_work", eng.sample, 256, 0, label=3)  # 256 guided digits in one step
    assert f"{MAX_WORK:,}" in str(err) and time.perf_counter() - start < 1.0
    eng.check_work(64, 1000, guided=True)  # the tab's largest run, DDPM-1000, fits
    eng.run(64, 0, Setting(sampler="ddpm", label=3, guidance=3.0))  # checked, not run
    refused("diffusion_work", eng.check_work, 64, 1500, guided=True)
    refused("diffusion_work", eng.check_work, 100, 1, guided=True)  # one step over the unit


def test_clip_guidance_has_a_budget_far_lower_for_a_pretrained_clip():
    import importlib

    guide = importlib.import_module("engines.clip.guide")  # engines.clip.guide is also the function

    class Fake:
        def __init__(self, kind, side):
            self.kind, self.image_size = kind, side

    default = guide.check_setting(guide.GuideSetting(prompt="a red square"))
    guide.check_work(Fake("genlab", 64), default, 64)
    guide.check_work(Fake("pretrained", 224), default, 64)  # the default pixels run fits a ViT too
    ddpm = guide.check_setting(guide.GuideSetting(prompt="a red square", candidates=8, augment=4))
    repeats = families.get("ddpm").guide_repeats  # a guided DDPM step sends its views through CLIP this often
    guide.check_work(Fake("genlab", 64), ddpm, 32, repeats=repeats)
    refused("clip_work", guide.check_work, Fake("pretrained", 224), ddpm, 32, repeats=repeats)
    most = guide.check_setting(guide.GuideSetting(prompt="a", candidates=16, augment=16, steps=1000, size=256))
    refused("clip_work", guide.check_work, Fake("genlab", 64), most, 256)


# --- memory and training state -------------------------------------------------------------------


def test_a_training_plan_keeps_its_images_as_uint8():
    plan = studio.prepare(studio.Recipe(family="vae", dataset="shapes", n_images=64, batch_size=8, steps=1))
    assert plan.images.dtype == torch.uint8
    batch = plan.make_trainer(threading.Event())._next_batch()["x"]
    assert batch.dtype == torch.float32 and 0 <= float(batch.min()) and float(batch.max()) <= 1


def _state(**group):
    return {"version": 1, "step": 3, "warmup_steps": 0, "seed": 0, "generator_device": "cpu", "ema": False,
            "phases": [{"name": "", "param_groups": [{"params": [0, 1], "lr": 1e-3, "betas": [0.9, 0.99],
                                                     "eps": 1e-8, "weight_decay": 0.0, **group}]}],
            "scalars": {"0.0.step": 3.0}}


@pytest.mark.parametrize("group,key", [({"lr": 1e9}, "studio_state_value"), ({"lr": float("nan")}, "studio_state_value"),
                                       ({"betas": [0.9, 1.5]}, "studio_state_value"), ({"eps": 0}, "studio_state_value"),
                                       ({"maximize": True}, "train_state_mismatch"), ({"params": "all"}, "train_state_mismatch")])
def test_an_uploaded_training_state_cannot_leave_the_recipes_bounds(group, key):
    studio.check_state({"order": torch.arange(4)}, _state())
    refused(key, studio.check_state, {"order": torch.arange(4)}, _state(**group))


# --- the network ---------------------------------------------------------------------------------


def test_a_failed_download_is_remembered_and_never_holds_the_compute_thread():
    downloads.forget()
    calls = []

    def failing():
        calls.append(1)
        raise OSError("no route to host")

    with pytest.raises(downloads.DownloadFailed):
        downloads.fetch("test:fail", failing, what="a test file", wait_s=5)
    start = time.perf_counter()
    err = refused("download_failed_recently", downloads.fetch, "test:fail", failing, what="a test file")
    assert "no route to host" in str(err) and time.perf_counter() - start < 0.1 and len(calls) == 1

    gate = threading.Event()
    start = time.perf_counter()
    err = refused("download_in_progress", runtime.call, downloads.fetch, "test:slow", gate.wait, what="a test file")
    assert time.perf_counter() - start < 0.5  # the compute thread did not wait for it
    gate.set()
    time.sleep(0.05)
    assert downloads.fetch("test:slow", gate.wait, what="a test file") is True
    downloads.forget()


def test_a_download_given_up_as_stalled_that_then_ends_well_is_used(monkeypatch):
    downloads.forget()
    gate = threading.Event()
    monkeypatch.setattr(downloads, "MAX_S", 0.05)
    refused("download_in_progress", downloads.fetch, "test:late", gate.wait, what="a test file", wait_s=0.01)
    time.sleep(0.1)
    refused("download_failed_recently", downloads.fetch, "test:late", gate.wait, what="a test file", wait_s=0.01)
    gate.set()
    deadline = time.monotonic() + 10  # the download's thread ends soon after the gate opens (a busy CPU: later)
    while True:
        try:
            assert downloads.fetch("test:late", gate.wait, what="a test file", wait_s=1) is True
            break
        except UserError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.02)
    downloads.forget()


def test_a_pretrained_clip_download_never_runs_under_the_compute_lock(monkeypatch):
    from engines.clip import backends

    pytest.importorskip("open_clip")
    downloads.forget()
    seen = {}

    def fake_download(cfg):
        free = runtime.COMPUTE_LOCK.acquire(blocking=False)  # runs in the download's own thread
        if free:
            runtime.COMPUTE_LOCK.release()
        seen["locked"] = not free
        seen["compute_thread"] = runtime.on_compute_thread()
        raise OSError("offline in the test")

    import open_clip

    monkeypatch.setattr(open_clip, "download_pretrained", fake_download)
    refused("clip_pretrained_failed", backends._download, open_clip, "ViT-B-32", "laion2b_s34b_b79k")
    assert seen == {"locked": False, "compute_thread": False}
    refused("download_failed_recently", backends._download, open_clip, "ViT-B-32", "laion2b_s34b_b79k")
    downloads.forget()


def test_text_embedding_cache_is_bounded(monkeypatch):
    """Anyone may send new prompts: a backend keeps at most MAX_CACHED_TEXTS embeddings, the newest."""
    from engines.clip import backends

    backend = backends.load_backend("genlab")
    monkeypatch.setattr(backends, "MAX_CACHED_TEXTS", 5)
    first = backend.encode_texts(["a red circle"]).clone()
    backend.encode_texts([f"prompt number {i}" for i in range(8)])
    assert len(backend._texts) == 5 and "a red circle" not in backend._texts
    again = backend.encode_texts(["a red circle"])  # encoded anew, the same embedding
    torch.testing.assert_close(again, first, atol=1e-5, rtol=0)
    assert len(backend._texts) == 5 and list(backend._texts)[-1] == "a red circle"
