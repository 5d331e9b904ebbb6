"""engines.data.faces: the procedural cartoon faces for StyleGAN, their attributes and captions."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from engines import data
from engines.data import faces
from engines.errors import UserError

ATTRS = data.FACE_ATTRIBUTES
CATEGORICAL = [name for name, spec in ATTRS.items() if spec["kind"] == "categorical"]
CONTINUOUS = [name for name, spec in ATTRS.items() if spec["kind"] == "continuous"]

# A plain centred face: no pattern, no grain, no tilt, so a region of the image is a region of the face.
PLAIN = dict(data.FACE_DEFAULTS, pattern="plain", grain=0.0, tilt=0.0, head_x=0.0, head_y=0.0, head_size=0.27)
R = 0.27 * 64  # head radius in pixels; the head centre is the image centre


@pytest.fixture(scope="module")
def sample():
    return data.load_dataset("faces", n=400, seed=11)


def face(**changes) -> np.ndarray:
    return data.render_face(dict(PLAIN, **changes)).astype(np.int32)  # (64, 64, 3)


def changed(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return np.abs(a - b).sum(-1) > 0  # (H, W) bool


def box(u0: float, u1: float, v0: float, v1: float) -> np.ndarray:
    """(64, 64) bool: the pixels whose centres lie in the head-local box u0 < u < u1, v0 < v < v1."""
    g = (np.arange(64) + 0.5 - 32) / R
    return (g[None, :] > u0) & (g[None, :] < u1) & (g[:, None] > v0) & (g[:, None] < v1)


CORNERS = np.zeros((64, 64), bool)  # the four 8x8 corners: outside every head and its hair
CORNERS[:8, :8] = CORNERS[:8, -8:] = CORNERS[-8:, :8] = CORNERS[-8:, -8:] = True
INNER_FACE = box(-0.6, 0.6, -0.05, 0.85)  # eyes, nose, mouth: never hair, never background


# --- data set ------------------------------------------------------------------------------


def test_faces_deterministic_and_independent_of_n():
    a = data.load_dataset("faces", n=12, seed=7)
    b = data.load_dataset("faces", n=12, seed=7)
    longer = data.load_dataset("faces", n=faces._BLOCK + 6, seed=7)  # crosses a block of the rng
    other = data.load_dataset("faces", n=12, seed=8)
    assert torch.equal(a.images, b.images) and a.attrs == b.attrs and a.captions == b.captions
    assert torch.equal(a.images, longer.images[:12]) and a.attrs == longer.attrs[:12]
    assert not torch.equal(a.images, other.images)
    tail = longer.numpy_hwc(range(faces._BLOCK - 2, faces._BLOCK + 6))
    assert len({img.tobytes() for img in tail}) == len(tail)  # the next block is a new stream
    small = data.load_dataset("faces", n=12, seed=7, size=32)
    assert [x["head_shape"] for x in small.attrs] == [x["head_shape"] for x in a.attrs]  # same faces, smaller


def test_splits_are_disjoint():
    train = data.load_dataset("faces", "train", n=300, seed=0)
    test = data.load_dataset("faces", "test", n=300, seed=0)
    seen = {img.tobytes() for img in train.numpy_hwc()}
    assert not any(img.tobytes() in seen for img in test.numpy_hwc())
    assert train.attrs[0] != test.attrs[0] and "test stream" in test.split_note


def test_faces_shapes_dtypes_and_labels(sample):
    assert sample.name == "faces" and len(sample) == 400
    assert sample.images.shape == (400, 3, 64, 64) and sample.images.dtype == torch.uint8
    assert sample.labels.dtype == torch.long and sample.class_names == list(faces.HEAD_SHAPES)
    assert sample.labels.tolist() == [faces.HEAD_SHAPES.index(a["head_shape"]) for a in sample.attrs]
    assert len(sample.captions["en"]) == len(sample.captions["zh"]) == 400
    assert sample.split_note == "GenLab faces, seed 11, train stream, images 0-399, 64x64"
    small = data.load_dataset("faces", "test", n=3, size=32)
    assert small.images.shape == (3, 3, 32, 32)
    assert data.DATASETS["faces"]["image_size"] == 64 and data.DATASETS["faces"]["channels"] == 3
    assert data.FACES_DEFAULT_N == {"train": 20_000, "test": 2_000}


def test_bad_requests_are_user_errors():
    for kwargs, key in (({"split": "validation"}, "split_unknown"), ({"n": 0}, "value_out_of_range"),
                        ({"seed": -1}, "value_out_of_range"), ({"size": 4}, "value_out_of_range")):
        split = kwargs.pop("split", "train")
        with pytest.raises(UserError) as err:
            data.load_dataset("faces", split, **kwargs)
        assert err.value.key == key
    with pytest.raises(UserError) as err:
        data.render_face({"hair_style": "mohawk"})
    assert err.value.key == "face_attr_unknown" and "spiky" in str(err.value) and "人脸" in err.value.localized("zh")
    with pytest.raises(UserError) as err:
        data.render_face({"tilt": 45.0})
    assert err.value.key == "value_out_of_range"
    with pytest.raises(UserError) as err:
        data.render_face({"grain": float("nan")})
    assert err.value.key == "value_not_finite"


# --- attributes ----------------------------------------------------------------------------


def test_attribute_table_is_complete():
    assert set(data.FACE_DEFAULTS) == set(ATTRS)
    assert {spec["group"] for spec in ATTRS.values()} == {"coarse", "middle", "fine"} == set(data.FACE_GROUPS_ZH)
    for name, spec in ATTRS.items():
        assert spec["kind"] in ("categorical", "continuous") and spec["zh"], name
        if spec["kind"] == "categorical":
            assert set(data.FACE_VALUE_ZH[name]) == set(spec["values"]), name
            assert len(set(data.FACE_VALUE_ZH[name].values())) == len(spec["values"]), name
        else:
            low, high = spec["values"]
            assert low < high and spec["unit"], name
    assert len(faces.SKIN_TONES) == len(faces.HAIR_COLORS) == len(faces.FACE_BACKGROUNDS) == 6


def test_attributes_in_range_and_every_value_occurs(sample):
    for a in sample.attrs:
        assert set(ATTRS) | {"render"} == set(a)
        for name in CATEGORICAL:
            assert a[name] in ATTRS[name]["values"], (name, a[name])
        for name in CONTINUOUS:
            low, high = ATTRS[name]["values"]
            assert isinstance(a[name], float) and low <= a[name] <= high, (name, a[name])
        assert set(a["render"]) == {"skin_rgb", "hair_rgb", "bg_rgb", "noise_seed"}
    for name in CATEGORICAL:
        counts = {value: sum(a[name] == value for a in sample.attrs) for value in ATTRS[name]["values"]}
        assert min(counts.values()) >= 20, (name, counts)  # about uniform: 400 / 6 ~ 67 each
    for name in CONTINUOUS:  # spread over the range, not stuck at one value
        low, high = ATTRS[name]["values"]
        values = np.array([a[name] for a in sample.attrs])
        assert values.min() < low + 0.1 * (high - low) and values.max() > high - 0.1 * (high - low), name


def test_attribute_targets_round_trip(sample):
    targets = data.attribute_targets(sample.attrs)
    assert set(targets) == set(ATTRS)
    for name in CATEGORICAL:
        t = targets[name]
        assert t.dtype == np.int64 and t.shape == (400,)
        assert [ATTRS[name]["values"][i] for i in t] == [a[name] for a in sample.attrs]
    for name in CONTINUOUS:
        t = targets[name]
        low, high = ATTRS[name]["values"]
        assert t.dtype == np.float32 and t.shape == (400,) and 0 <= t.min() and t.max() <= 1
        assert np.allclose(low + t * (high - low), [a[name] for a in sample.attrs], atol=1e-5)
    assert np.array_equal(targets["head_shape"], sample.labels.numpy())
    with pytest.raises(UserError):
        data.attribute_targets([{"eyes": "square"}])


# --- rendering -----------------------------------------------------------------------------


@pytest.mark.parametrize("size", [64, 32])
def test_render_face_reproduces_dataset_images(size):
    s = data.load_dataset("faces", "test", n=24, seed=2, size=size)
    for i in range(24):
        assert np.array_equal(data.render_face(s.attrs[i], size=size), s.numpy_hwc(i)[0])
    plain = data.render_face({})
    assert plain.shape == (64, 64, 3) and plain.dtype == np.uint8
    assert tuple(plain[0, 0]) == faces.FACE_BACKGROUNDS["sky blue"]  # palette colours without "render"


def test_size_32_is_the_64_face_area_averaged():
    for shape, style in (("round", "spiky"), ("heart", "curly"), ("square", "bangs")):
        a = dict(PLAIN, head_shape=shape, hair_style=style, eyes="wide", pattern="stripes", tilt=8.0)
        big = data.render_face(a, 64).astype(np.float64)
        small = data.render_face(a, 32).astype(np.float64)
        pooled = big.reshape(32, 2, 32, 2, 3).mean((1, 3))
        assert np.abs(small - pooled).max() <= 1.0  # each was rounded to uint8 once


def test_face_window_holds_every_part(monkeypatch):
    # Eyes, nose, mouth and freckles are drawn in a window around the head; at the extremes of
    # every continuous attribute the result must equal drawing them over the whole image.
    extremes = []
    for x in (-0.07, 0.07):
        for y in (-0.05, 0.05):
            for tilt in (-12.0, 12.0):
                for mouth, eyes in (("grin", "wide"), ("smile", "sleepy"), ("open", "closed")):
                    extremes.append(dict(PLAIN, head_x=x, head_y=y, tilt=tilt, head_size=0.3, eye_size=1.25,
                                         mouth=mouth, eyes=eyes, freckles="yes"))
    windowed = [data.render_face(a) for a in extremes]
    monkeypatch.setattr(faces, "_WINDOW", 1.0)
    for a, img in zip(extremes, windowed):
        assert np.array_equal(data.render_face(a), img), a


# --- each factor changes the pixels it should, and no others --------------------------------


@pytest.mark.parametrize("style", faces.HAIR_STYLES)
def test_background_and_pattern_change_corners_not_the_face(style):
    base = face(hair_style=style)
    for change in ({"background": "navy"}, {"pattern": "checks"}, {"pattern": "dots"}):
        other = face(hair_style=style, **change)
        diff = changed(base, other)
        assert not diff[INNER_FACE].any(), change
        if "background" in change:
            assert diff[CORNERS].all()
        else:
            assert diff[CORNERS].mean() > 0.1, change


@pytest.mark.parametrize("style", faces.HAIR_STYLES)
def test_hair_colour_changes_only_hair(style):
    a, b = face(hair_style=style, hair_color="black"), face(hair_style=style, hair_color="blonde")
    diff = changed(a, b)
    if style == "bald":
        assert not diff.any()
        return
    assert diff.sum() > 150  # a visible head of hair
    assert not diff[INNER_FACE].any() and not diff[CORNERS].any()
    # Fully covered hair pixels take the hair colour itself.
    blonde = np.array(faces.HAIR_COLORS["blonde"])
    assert (np.abs(b[diff] - blonde).sum(-1) < 5).mean() > 0.35  # the rest: outlines, edges


def test_skin_colour_changes_the_face_not_the_background_or_hair():
    a, b = face(skin="pale"), face(skin="dark")
    diff = changed(a, b)
    cheek = box(-0.6, -0.45, 0.35, 0.5)
    assert diff[cheek].all() and not diff[CORNERS].any()
    assert not diff[box(-0.3, 0.3, -1.0, -0.7)].any()  # the top of the (short) hair
    assert (np.abs(b[cheek] - np.array(faces.SKIN_TONES["dark"])).sum(-1) == 0).all()


def test_middle_factors_stay_in_their_part_of_the_face():
    eye_box = box(-0.7, 0.7, -0.5, 0.35)
    mouth_box = box(-0.5, 0.5, 0.15, 0.9)
    base = face(eyes="round", mouth="smile")
    for eyes in faces.EYES[:1] + faces.EYES[2:]:
        diff = changed(base, face(eyes=eyes, mouth="smile"))
        assert diff.any() and not diff[~eye_box].any() and diff.mean() < 0.05, eyes
    for mouth in faces.MOUTHS[1:]:
        diff = changed(base, face(eyes="round", mouth=mouth))
        assert diff.any() and not diff[~mouth_box].any() and diff.mean() < 0.04, mouth
    bigger = changed(base, face(eye_size=1.25))
    assert bigger.any() and not bigger[~eye_box].any()
    freckles = changed(base, face(freckles="yes"))
    assert 4 <= freckles.sum() <= 60 and not freckles[~box(-0.65, 0.65, 0.15, 0.5)].any()


def test_coarse_factors_move_the_whole_face():
    base = face()
    for change in ({"head_x": 0.07}, {"head_y": 0.05}, {"head_size": 0.3}, {"tilt": 12.0},
                   {"head_shape": "square"}):
        diff = changed(base, face(**change))
        assert diff.mean() > 0.04 and diff[box(-1.0, 1.0, -1.0, 1.0)].mean() > 0.04, change
    shifted = changed(base, face(head_x=0.07))
    assert shifted.mean() > 3 * changed(base, face(eyes="wide")).mean()


def test_grain_is_small_noise_everywhere():
    clean, grainy = face(grain=0.0), face(grain=1.0)
    diff = np.abs(grainy - clean)
    assert diff.max() <= faces._GRAIN_LEVELS + 1 and diff.mean() > 3
    assert changed(clean, grainy).mean() > 0.8
    inside = (clean.min(-1) > 20) & (clean.max(-1) < 235)  # no clipping at 0 or 255
    noise = grainy - clean
    assert np.abs(noise[..., 0] - noise[..., 2])[inside].max() <= 1  # grey noise, up to rounding
    seeded = data.render_face(dict(PLAIN, grain=1.0, render={"noise_seed": 5}))
    assert not np.array_equal(seeded, grainy)  # the noise follows the stored seed


# --- captions ------------------------------------------------------------------------------


def test_captions_are_true_in_both_languages(sample):
    zh = data.FACE_VALUE_ZH
    templates = set()
    for a, en, cn in zip(sample.attrs, sample.captions["en"], sample.captions["zh"]):
        matches = [t for t in range(len(faces._CAPTIONS_EN)) if data.face_caption(a, t) == {"en": en, "zh": cn}]
        assert matches, (a, en)
        templates.add(matches[0])
        hair_en = faces._HAIR_EN[a["hair_style"]].format(c=a["hair_color"])
        hair_zh = faces._HAIR_ZH[a["hair_style"]].format(c=zh["hair_color"][a["hair_color"]])
        assert (hair_en in en) == (hair_zh in cn) and (hair_en in en or "hair" not in en), (en, cn)
        if "background" in en:
            assert f"{a['background']} background" in en and zh["background"][a["background"]] + "背景" in cn.replace(
                zh["pattern"][a["pattern"]], "")
        assert ("background" in en) == ("背景" in cn)
        assert ("freckles" in en) == ("雀斑" in cn) and ("freckles" not in en or a["freckles"] == "yes")
        for name, words in (("eyes", faces._EYES_EN), ("mouth", faces._MOUTH_EN)):
            assert (words[a[name]] in en) == (zh[name][a[name]] in cn), (en, cn)
            assert not any(words[other] in en for other in words if other != a[name]), en
    assert templates == set(range(len(faces._CAPTIONS_EN)))
