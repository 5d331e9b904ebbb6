"""engines.data: MNIST IDX reading, procedural shapes, user images, folders and zips, sketches."""

from __future__ import annotations

import gzip
import io
import re
import struct
import time
import zipfile
import zlib
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from engines import data
from engines.errors import UserError

REAL_MNIST = Path(__file__).resolve().parents[2] / "shared" / "data"


@pytest.fixture(autouse=True)
def offline(monkeypatch, tmp_path):
    # No test may reach the network, find a real data folder by accident, or use a download cache.
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.delenv("GENLAB_DATA_DIR", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.chdir(tmp_path)


# --- MNIST -----------------------------------------------------------------------------------


def write_idx(folder: Path, images: np.ndarray, labels: np.ndarray, *, gz: bool, image_magic=2051) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    img = struct.pack(">4I", image_magic, len(images), 28, 28) + images.astype(np.uint8).tobytes()
    lab = struct.pack(">2I", 2049, len(labels)) + labels.astype(np.uint8).tobytes()
    for name, raw in (("t10k-images-idx3-ubyte", img), ("t10k-labels-idx1-ubyte", lab)):
        if gz:
            (folder / (name + ".gz")).write_bytes(gzip.compress(raw))
        else:
            (folder / name).write_bytes(raw)


def tiny_mnist(n=10):
    images = np.arange(n * 28 * 28, dtype=np.int64).reshape(n, 28, 28) % 256
    return images.astype(np.uint8), (np.arange(n) % 10).astype(np.uint8)


@pytest.mark.parametrize("gz, layout", [(True, ""), (False, ""), (True, "mnist"), (False, "MNIST/raw")])
def test_mnist_reads_synthetic_idx(tmp_path, gz, layout):
    images, labels = tiny_mnist(10)
    write_idx(tmp_path / "d" / layout, images, labels, gz=gz)
    train = data.load_dataset("mnist", "train", data_dir=tmp_path / "d")
    test = data.load_dataset("mnist", "test", data_dir=tmp_path / "d")
    everything = data.load_dataset("mnist", "all", data_dir=tmp_path / "d")
    assert (len(train), len(test), len(everything)) == (8, 2, 10)
    assert train.images.shape == (8, 1, 28, 28) and train.images.dtype == torch.uint8
    assert torch.equal(everything.images[:, 0], torch.from_numpy(images))
    assert torch.equal(test.labels, torch.tensor([8, 9]))
    assert train.labels.dtype == torch.long and train.class_names == [str(d) for d in range(10)]
    assert test.split_note == "MNIST t10k images 8-9 (GenLab test split)"


def test_mnist_env_dir_and_n(tmp_path, monkeypatch):
    write_idx(tmp_path / "env", *tiny_mnist(10), gz=True)
    monkeypatch.setenv("GENLAB_DATA_DIR", str(tmp_path / "env"))
    first = data.load_dataset("mnist", n=3, size=14)
    assert first.images.shape == (3, 1, 14, 14)
    assert "images 0-2" in first.split_note
    with pytest.raises(UserError) as err:
        data.load_dataset("mnist", "train", n=9)
    assert err.value.key == "value_out_of_range"


@pytest.mark.parametrize("damage", ["magic", "truncated", "short_header", "not_gzip"])
def test_mnist_corrupt(tmp_path, damage):
    images, labels = tiny_mnist(4)
    write_idx(tmp_path, images, labels, gz=False, image_magic=2049 if damage == "magic" else 2051)
    path = tmp_path / "t10k-images-idx3-ubyte"
    raw = path.read_bytes()
    if damage == "truncated":
        path.write_bytes(raw[:-5])
    elif damage == "short_header":
        path.write_bytes(raw[:6])
    elif damage == "not_gzip":
        path.unlink()
        (tmp_path / "t10k-images-idx3-ubyte.gz").write_bytes(b"\x1f\x8b" + b"garbage" * 10)
    with pytest.raises(UserError) as err:
        data.load_dataset("mnist", data_dir=tmp_path)
    assert err.value.key == "mnist_corrupt"
    assert "t10k-images" in str(err.value) and err.value.localized("zh").startswith("MNIST 文件")


@pytest.mark.skipif(not (REAL_MNIST / "mnist" / "t10k-images-idx3-ubyte.gz").exists(), reason="no real MNIST here")
@pytest.mark.parametrize("where", [REAL_MNIST, REAL_MNIST / "mnist"])
def test_real_mnist_split(where):
    train = data.load_dataset("mnist", "train", data_dir=where)
    test = data.load_dataset("mnist", "test", data_dir=where)
    assert len(train) == 8000 and len(test) == 2000
    assert train.split_note == "MNIST t10k images 0-7999 (GenLab train split)"
    for part in (train, test):
        assert part.images.shape[1:] == (1, 28, 28)
        assert 0 <= int(part.labels.min()) and int(part.labels.max()) == 9
        assert len(torch.unique(part.labels)) == 10


def test_mnist_missing_is_fast_and_helpful(tmp_path):
    started = time.perf_counter()
    with pytest.raises(UserError) as err:
        data.load_dataset("mnist", data_dir=tmp_path / "nowhere")
    assert time.perf_counter() - started < 2.0
    message = str(err.value)
    assert err.value.key == "mnist_missing"
    assert "--data-dir" in message and "GENLAB_DATA_DIR" in message and "download" in message
    assert str(tmp_path / "nowhere") in message


def test_unknown_dataset_and_split():
    with pytest.raises(UserError) as err:
        data.load_dataset("cifar")
    assert err.value.key == "dataset_unknown" and "mnist" in str(err.value)
    with pytest.raises(UserError) as err:
        data.load_dataset("shapes", "validation")
    assert err.value.key == "split_unknown"
    assert set(data.DATASETS) == {"mnist", "shapes", "faces", "folder"}
    assert all({"en", "zh", "channels", "image_size", "has_labels"} <= set(d) for d in data.DATASETS.values())


# --- ImageSet --------------------------------------------------------------------------------


def test_imageset_views():
    s = data.load_dataset("shapes", n=6, seed=3)
    x = s.float()
    assert x.dtype == torch.float32 and x.shape == (6, 3, 32, 32) and 0 <= x.min() and x.max() <= 1
    sub = s.subset([4, 1])
    assert len(sub) == 2 and sub.attrs[0] == s.attrs[4] and sub.captions["zh"][1] == s.captions["zh"][1]
    assert torch.equal(sub.labels, s.labels[[4, 1]])
    hwc = s.numpy_hwc([-1])
    assert hwc.shape == (1, 32, 32, 3) and hwc.dtype == np.uint8
    assert np.array_equal(hwc[0], s.images[5].permute(1, 2, 0).numpy())
    assert len(s.subset(torch.tensor([True, False] * 3))) == 3


# --- shapes ----------------------------------------------------------------------------------


def test_shapes_deterministic_and_independent_of_n():
    a = data.load_dataset("shapes", n=12, seed=7)
    b = data.load_dataset("shapes", n=12, seed=7)
    longer = data.load_dataset("shapes", n=20, seed=7)
    other = data.load_dataset("shapes", n=12, seed=8)
    test = data.load_dataset("shapes", "test", n=12, seed=7)
    assert torch.equal(a.images, b.images) and a.captions == b.captions
    assert torch.equal(a.images, longer.images[:12]) and a.attrs == longer.attrs[:12]
    assert not torch.equal(a.images, other.images)
    assert not torch.equal(a.images, test.images)
    assert a.images.shape == (12, 3, 32, 32) and a.class_names == list(data.SHAPES)
    assert a.labels.tolist() == [at["shape_id"] for at in a.attrs]


def test_render_shape_reproduces_dataset_images():
    s = data.load_dataset("shapes", n=5, seed=1)
    for i in range(5):
        assert np.array_equal(data.render_shape(s.attrs[i]), s.numpy_hwc(i)[0])
    plain = data.render_shape({"shape": "star", "color": "red", "size": "large", "position": "centre",
                               "background": "black"}, size=48)
    assert plain.shape == (48, 48, 3) and plain.dtype == np.uint8
    assert tuple(plain[24, 24]) == data.COLORS["red"] and tuple(plain[0, 0]) == (0, 0, 0)
    with pytest.raises(UserError) as err:
        data.render_shape({"shape": "hexagon", "color": "red", "size": "large", "position": "centre",
                           "background": "black"})
    assert err.value.key == "shape_attr_unknown"


def _strip(text: str, phrase: str) -> str:
    return text.replace(phrase, " ")


def test_captions_state_the_truth_in_both_languages():
    s = data.load_dataset("shapes", n=300, seed=11)
    zh = data.FACTOR_ZH
    templates = set()
    for a, en, cn in zip(s.attrs, s.captions["en"], s.captions["zh"]):
        templates.add(re.sub(r"\w+", "", en))
        assert a["background"] != a["color"]
        # English: the named shape, colour, position; the background and size only if truthful.
        assert re.search(rf"\b{a['color']} {a['shape']}\b", en), en
        assert data.shapes._POSITION_EN[a["position"]] in en
        for other in data.POSITIONS:
            if other != a["position"]:
                assert data.shapes._POSITION_EN[other] not in en, en
        rest = _strip(en, f"{a['background']} background")
        assert "background" not in rest, en
        assert not any(re.search(rf"\b{c}\b", rest) for c in data.COLORS if c != a["color"]), en
        assert not any(re.search(rf"\b{k}\b", rest) for k in data.SHAPES if k != a["shape"]), en
        assert not any(re.search(rf"\b{z}\b", en) for z in data.SIZES if z != a["size"]), en
        # Chinese, the same checks.
        assert zh["color"][a["color"]] in cn and zh["shape"][a["shape"]] in cn, cn
        assert zh["position"][a["position"]] in cn, cn
        assert not any(zh["position"][p] in cn for p in data.POSITIONS if p != a["position"]), cn
        rest = _strip(cn, zh["background"][a["background"]] + "背景")
        assert "背景" not in rest, cn
        assert not any(zh["color"][c] in rest for c in data.COLORS if c != a["color"]), cn
        assert not any(zh["shape"][k] in rest for k in data.SHAPES if k != a["shape"]), cn
        marked = cn.replace("中等大小的", "<medium>")  # "中等大小的" contains "小的"
        sizes_zh = [z for z, word in (("small", "小的"), ("medium", "<medium>"), ("large", "大的")) if word in marked]
        assert sizes_zh in ([], [a["size"]]), cn
        assert (a["size"] in en) == bool(sizes_zh), (en, cn)  # both languages say the same
    assert len(templates) >= 4  # varied wording


def test_shapes_are_drawn_where_and_how_the_attrs_say():
    s = data.load_dataset("shapes", "test", n=120, seed=5)
    images = s.numpy_hwc().astype(np.int32)  # (N, 32, 32, 3)
    areas = {z: [] for z in data.SIZES}
    for a, img in zip(s.attrs, images):
        bg = np.array(a["render"]["bg_rgb"])
        mask = np.abs(img - bg).sum(-1) > 60  # (32, 32) shape pixels
        ys, xs = np.nonzero(mask)
        row, col = divmod(a["position_id"], 3)
        assert int(ys.mean() // (32 / 3)) == row and int(xs.mean() // (32 / 3)) == col, a
        # The fully covered pixels are the named colour: nearest palette entry.
        solid = img[np.abs(img - np.array(a["render"]["rgb"])).sum(-1) < 40]
        mean = solid.mean(0)
        nearest = min(data.COLORS, key=lambda c: np.abs(np.array(data.COLORS[c]) - mean).sum())
        assert nearest == a["color"], a
        areas[a["size"]].append(mask.sum())
    small, medium, large = (np.mean(areas[z]) for z in data.SIZES)
    assert small < medium < large


# --- decode_image ----------------------------------------------------------------------------


def png_bytes(w, h, color=(200, 30, 30), mode="RGB") -> bytes:
    buf = io.BytesIO()
    Image.new(mode, (w, h), color).save(buf, "PNG")
    return buf.getvalue()


def claim_size(png: bytes, width: int, height: int) -> bytes:
    """The same PNG with its IHDR claiming another size (and a valid CRC)."""
    assert png[12:16] == b"IHDR"
    ihdr = png[16:29]
    ihdr = struct.pack(">II", width, height) + ihdr[8:]
    crc = struct.pack(">I", zlib.crc32(b"IHDR" + ihdr) & 0xFFFFFFFF)
    return png[:16] + ihdr + crc + png[33:]


@pytest.mark.parametrize("width, height, max_pixels", [(20000, 20000, 40_000_000), (30000, 1000, 1_000_000)])
def test_decode_refuses_huge_header_without_decoding(tmp_path, width, height, max_pixels):
    path = tmp_path / "huge.png"
    path.write_bytes(claim_size(png_bytes(8, 8), width, height))
    started = time.perf_counter()
    with pytest.raises(UserError) as err:
        data.decode_image(path, max_pixels=max_pixels)
    assert time.perf_counter() - started < 1.0
    assert err.value.key == "image_too_large"
    assert (err.value.params["width"], err.value.params["height"]) == (width, height)


def test_decode_image_sources_and_errors(tmp_path):
    rgba = np.zeros((10, 12, 4), np.uint8)
    rgba[..., 0] = 255
    rgba[:, :6, 3] = 255  # left half opaque red, right half transparent
    out = data.decode_image(rgba)
    assert out.shape == (10, 12, 3) and tuple(out[0, 0]) == (255, 0, 0) and tuple(out[0, 11]) == (255, 255, 255)
    assert data.decode_image(np.full((9, 9), 0.5)).max() == 128  # float [0, 1], HW
    assert data.decode_image(np.full((9, 9, 1), 200.0))[0, 0, 0] == 200  # float [0, 255]
    assert data.decode_image(png_bytes(9, 9))[0, 0].tolist() == [200, 30, 30]
    assert data.decode_image(Image.new("L", (9, 9), 77))[0, 0].tolist() == [77, 77, 77]
    (tmp_path / "notes.txt").write_text("not an image")
    cases = [(None, "image_missing"), (tmp_path / "notes.txt", "image_unreadable"),
             (png_bytes(40, 40)[:60], "image_unreadable"), (png_bytes(4, 30), "image_too_small"),
             (np.zeros((2, 3, 5, 5)), "image_unreadable")]
    for src, key in cases:
        with pytest.raises(UserError) as err:
            data.decode_image(src)
        assert err.value.key == key, src
    with pytest.raises(UserError) as err:
        data.decode_image(tmp_path / "notes.txt")
    assert "notes.txt" in str(err.value)


def test_to_model_input():
    wide = np.zeros((40, 80, 3), np.uint8)
    wide[:, 20:60] = 255  # white middle half: survives the centre crop
    out = data.to_model_input(wide, size=16, channels=1)
    assert out.shape == (16, 16, 1) and out.dtype == np.uint8 and out.min() > 200
    assert data.to_model_input(wide, size=32, channels=3).shape == (32, 32, 3)
    # A dark digit-like bar photographed on light paper, off-centre.
    photo = np.full((100, 60), 230, np.uint8)
    photo[10:50, 5:15] = 20
    digit = data.to_model_input(photo, size=28, channels=1, mnist_style=True)[:, :, 0]
    assert digit.shape == (28, 28) and digit[0].max() == 0 and digit.max() == 255
    ys, xs = np.nonzero(digit > 25)
    assert ys.max() - ys.min() + 1 == 20  # longer side scaled to 20 px
    with pytest.raises(UserError) as err:
        data.to_model_input(np.full((30, 30), 240, np.uint8), size=28, channels=1, mnist_style=True)
    assert err.value.key == "image_blank"


# --- sketches --------------------------------------------------------------------------------


def centre_of_mass(img: np.ndarray) -> tuple[float, float]:
    w = img.astype(np.float64)
    ys, xs = np.indices(w.shape)
    return (ys * w).sum() / w.sum(), (xs * w).sum() / w.sum()


def test_sketch_empty():
    blank = np.zeros((64, 64, 4), np.uint8)
    for value in ({"background": None, "layers": [blank], "composite": blank}, np.full((64, 64, 3), 255, np.uint8),
                  {"background": None, "layers": [], "composite": None}, None):
        with pytest.raises(UserError) as err:
            data.sketch_to_digit(value)
        assert err.value.key == "sketch_empty"


@pytest.mark.parametrize("canvas", ["transparent", "white", "black", "layers"])
def test_sketch_stroke_is_centred(canvas):
    stroke = np.zeros((120, 120), bool)
    stroke[15:70, 80:92] = True  # a thick "1" in the top right
    stroke[15:25, 70:92] = True
    if canvas == "transparent":
        value = np.zeros((120, 120, 4), np.uint8)
        value[stroke] = (0, 0, 0, 255)
        value = {"background": None, "layers": [value], "composite": value}
    elif canvas == "white":
        value = np.full((120, 120, 3), 255, np.uint8)
        value[stroke] = 0
    elif canvas == "black":
        value = np.zeros((120, 120, 3), np.uint8)
        value[stroke] = 255
    else:
        layer = np.zeros((120, 120, 4), np.uint8)
        layer[stroke] = (0, 0, 0, 255)
        value = {"background": np.full((120, 120, 4), 255, np.uint8), "layers": [layer], "composite": None}
    digit = data.sketch_to_digit(value)
    assert digit.shape == (28, 28, 1) and digit.dtype == np.uint8
    cy, cx = centre_of_mass(digit[:, :, 0])
    assert abs(cy - 14) <= 1 and abs(cx - 14) <= 1
    assert digit[:, :, 0][[0, -1]].max() == 0 and digit.max() == 255


# --- folders and zips ------------------------------------------------------------------------


def jpeg_bytes(w, h) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(np.random.default_rng(0).integers(0, 255, (h, w, 3), dtype=np.uint8)).save(buf, "JPEG")
    return buf.getvalue()


def make_zip(path: Path, entries: dict[str, bytes]) -> Path:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, raw in entries.items():
            zf.writestr(name, raw)
    return path


def test_folder_zip_loads_good_images_and_explains_the_rest(tmp_path):
    inner = make_zip(tmp_path / "inner.zip", {"a.png": png_bytes(20, 20)}).read_bytes()
    archive = make_zip(tmp_path / "mine.zip", {
        "pics/good.png": png_bytes(40, 30, (10, 200, 10)),
        "pics/photo.jpg": jpeg_bytes(48, 64),
        "pics/notes.txt": b"hello",
        "pics/inner.zip": inner,
        "pics/broken.png": png_bytes(40, 40)[:50],
        "pics/dot.png": png_bytes(1, 1),
        "__MACOSX/pics/._good.png": b"\x00" * 10,
        "pics/bomb.png": b"\x00" * 3_000_000,
        "pics/huge.png": claim_size(png_bytes(8, 8), 20000, 20000),
    })
    images, skipped = data.load_folder(archive, size=16)
    reasons = dict(skipped)
    assert images.images.shape == (2, 3, 16, 16) and images.images.dtype == torch.uint8
    assert images.images[0, :, 8, 8].tolist() == [10, 200, 10]  # good.png comes first by name
    assert set(reasons) == {"pics/notes.txt", "pics/inner.zip", "pics/broken.png", "pics/dot.png",
                            "__MACOSX/pics/._good.png", "pics/bomb.png", "pics/huge.png"}
    assert "not an image" in reasons["pics/notes.txt"] and "archive" in reasons["pics/inner.zip"]
    assert "unreadable" in reasons["pics/broken.png"] and "1x1" in reasons["pics/dot.png"]
    assert "bomb" in reasons["pics/bomb.png"] and "20000x20000" in reasons["pics/huge.png"]
    assert "2 images from 'mine.zip'" in images.split_note
    same = data.load_dataset("folder", data_dir=archive, size=16)
    assert torch.equal(same.images, images.images)
    grey, _ = data.load_folder(archive, size=8, channels=1, max_files=1)
    assert grey.images.shape == (1, 1, 8, 8)


def test_folder_directory_and_limits(tmp_path):
    folder = tmp_path / "imgs"
    (folder / "sub").mkdir(parents=True)
    (folder / "sub" / "a.png").write_bytes(png_bytes(12, 12))
    (folder / ".hidden.png").write_bytes(png_bytes(12, 12))
    (folder / "b.png").write_bytes(png_bytes(12, 20))
    images, skipped = data.load_folder(folder, size=8, max_files=1)
    assert len(images) == 1
    assert [n for n, _ in skipped] == [".hidden.png", "sub/a.png"]  # the second image: over max_files

    many = make_zip(tmp_path / "many.zip", {f"{i}.png": b"x" for i in range(25)})
    with pytest.raises(UserError) as err:
        data.load_folder(many, max_files=2)
    assert err.value.key == "archive_unsafe" and "25 entries" in str(err.value)
    big = make_zip(tmp_path / "big.zip", {"big.png": b"\x00" * 2_000_000})
    with pytest.raises(UserError) as err:
        data.load_folder(big, max_bytes=1_000_000)
    assert err.value.key == "archive_unsafe"
    useless = make_zip(tmp_path / "useless.zip", {"readme.md": b"# hi"})
    with pytest.raises(UserError) as err:
        data.load_folder(useless)
    assert err.value.key == "folder_empty" and "readme.md" in str(err.value)
    with pytest.raises(UserError) as err:
        data.load_dataset("folder", data_dir=tmp_path / "absent")
    assert err.value.key == "folder_missing"


def test_engine_never_imports_gradio():
    for path in Path(data.__file__).parent.glob("*.py"):
        source = path.read_text()
        assert "gradio" not in re.sub(r'""".*?"""|#.*', "", source, flags=re.S), path.name


def test_the_pixel_budget_pass_reads_only_each_files_head(tmp_path):
    import io as _io
    import zipfile as _zipfile

    from PIL import Image as _Image

    from engines.data import folder

    buf = _io.BytesIO()
    _Image.fromarray(np.random.default_rng(0).integers(0, 255, (300, 400, 3), np.uint8)).save(buf, "PNG")
    png = buf.getvalue()
    assert len(png) > 4096
    with _zipfile.ZipFile(tmp_path / "set.zip", "w", _zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("a.png", png)
    (tmp_path / "dir").mkdir()
    (tmp_path / "dir" / "a.png").write_bytes(png)
    for entries in (folder._zip_entries(tmp_path / "set.zip", max_files=10, max_bytes=2**30, skipped=[], head=4096),
                    folder._folder_entries(tmp_path / "dir", max_files=10, max_bytes=2**30, skipped=[], head=4096)):
        ((name, head),) = list(entries)
        assert head == png[:4096]
        assert folder._header_pixels(head, 10**9) == 300 * 400  # the size is in the head
