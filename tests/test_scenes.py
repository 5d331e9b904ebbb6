"""engines.scenes: the world, its captions in both languages, the held-out split, the vocabulary and
text encoder, and the shipped attribute judge."""

from __future__ import annotations

import json
import re
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
import torch

from engines.data.shapes import BACKGROUNDS, COLORS, POSITIONS, SHAPES
from engines.scenes import captions, grammar, heldout, judge, text, world

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def train_scenes():
    return world.sample_scenes(1500, seed=7, stream="train")


@pytest.fixture(scope="module")
def eval_scenes():
    return world.sample_scenes(1500, seed=7, stream="eval")


# ------------------------------------------------------------------------------------------------
# The world
# ------------------------------------------------------------------------------------------------
def test_scenes_are_deterministic_and_independent_of_n_and_start():
    a = world.sample_scenes(20, seed=3)
    assert a == world.sample_scenes(20, seed=3)
    assert a[5:] == world.sample_scenes(15, seed=3, start=5)
    assert a != world.sample_scenes(20, seed=4)
    assert world.sample_scenes(5, seed=3, stream="eval") != a[:5]
    assert np.array_equal(world.render(a), world.render(world.sample_scenes(20, seed=3)))
    assert np.array_equal(world.render(a)[7], world.render(a[7:8])[0])   # an image does not depend on its batch


def test_attributes_stay_in_their_ranges(train_scenes):
    n_objects = Counter(len(s["objects"]) for s in train_scenes)
    assert set(n_objects) == {1, 2, 3} and all(c > 200 for c in n_objects.values())
    for s in train_scenes:
        cells = [o["cell"] for o in s["objects"]]
        assert cells == sorted(set(cells))                     # distinct cells, reading order
        assert s["background"] in BACKGROUNDS and abs(s["gradient"]) <= 0.12
        for o in s["objects"]:
            assert o["shape"] in SHAPES and o["color"] in COLORS and o["size"] in world.SIZES
            assert o["position"] == POSITIONS[o["cell"]]
            r = o["render"]
            row, col = divmod(o["cell"], 3)
            assert abs(r["cx"] - (col + 0.5) / 3) <= 0.0151 and abs(r["cy"] - (row + 0.5) / 3) <= 0.0151
            assert abs(r["radius"] / world.SIZE_RADIUS[o["size"]] - 1) <= 0.0501 and abs(r["angle"]) <= 8
            assert np.linalg.norm(np.subtract(COLORS[o["color"]], BACKGROUNDS[s["background"]])) >= 100


def test_relations_and_counts_follow_the_cells(train_scenes):
    for s in train_scenes[:300]:
        objs = s["objects"]
        for r in s["relations"]:
            (ra, ca), (rb, cb) = divmod(objs[r["a"]]["cell"], 3), divmod(objs[r["b"]]["cell"], 3)
            assert {"left of": ca < cb, "right of": ca > cb, "above": ra < rb, "below": ra > rb}[r["relation"]]
        pairs = [(i, j) for i in range(len(objs)) for j in range(i + 1, len(objs))]
        assert {(r["a"], r["b"]) for r in s["relations"]} == set(pairs)   # every pair differs on some axis
        assert s["counts"]["total"] == len(objs) and sum(s["counts"]["shape"].values()) == len(objs)
    counted = [s for s in train_scenes if max(s["counts"]["shape"].values()) >= 2]
    assert len(counted) > 0.2 * len(train_scenes)   # something to count ("two stars")


def test_images_show_their_objects():
    scenes = world.sample_scenes(200, seed=11, stream="judge")
    images = world.render(scenes)
    assert images.shape == (200, 64, 64, 3) and images.dtype == np.uint8
    for img, s in zip(images, scenes):
        for o in s["objects"]:
            r = o["render"]
            y, x = int(r["cy"] * 64), int(r["cx"] * 64)
            want = s["bg_rgb"] if o["shape"] == "ring" else r["rgb"]      # a ring's hole shows the background
            assert np.abs(img[y, x].astype(int) - want).max() <= 40, (o, img[y, x])
        corner = [c for c in (0, 2, 6, 8) if c not in {o["cell"] for o in s["objects"]}]
        if corner:   # an empty corner is background (its brightness ramped by at most 12%)
            row, col = divmod(corner[0], 3)
            px = img[row * 21 + 10, col * 21 + 10].astype(int)
            assert np.abs(px - s["bg_rgb"]).max() <= 0.13 * max(s["bg_rgb"]) + 2


# ------------------------------------------------------------------------------------------------
# The held-out split
# ------------------------------------------------------------------------------------------------
def test_held_out_pairs_cover_each_colour_and_shape_once():
    assert len(heldout.HELD_OUT_PAIRS) == 8
    assert {c for c, _ in heldout.HELD_OUT_PAIRS} == set(COLORS) and {s for _, s in heldout.HELD_OUT_PAIRS} == set(SHAPES)


def test_training_scenes_never_hold_a_held_out_pair_and_eval_scenes_always_do(train_scenes, eval_scenes):
    assert not any(heldout.scene_is_held_out(s) for s in train_scenes)
    assert all(heldout.scene_is_held_out(s) for s in eval_scenes)
    seen = {(o["color"], o["shape"]) for s in train_scenes for o in s["objects"]}
    possible = {(c, s) for c in COLORS for s in SHAPES} - heldout.HELD_OUT_PAIRS
    assert seen == possible   # every other pair is trained
    assert {(o["color"], o["shape"]) for s in eval_scenes for o in s["objects"]} >= heldout.HELD_OUT_PAIRS


@pytest.mark.parametrize("lang", grammar.LANGS)
def test_training_captions_never_use_a_held_out_phrasing(train_scenes, lang):
    caps = captions.scene_captions(train_scenes, lang, seed=2)
    assert not [c.text for c in caps if heldout.caption_is_held_out(c)]
    assert not [c.text for c in caps if heldout.text_is_held_out(c.text, lang)]
    digits = [captions.digit_caption(k % 10, lang, k) for k in range(300)]
    assert not [c.text for c in digits if heldout.caption_is_held_out(c) or heldout.text_is_held_out(c.text, lang)]


@pytest.mark.parametrize("lang", grammar.LANGS)
def test_eval_captions_use_every_held_out_phrasing_and_the_text_check_finds_them(eval_scenes, lang):
    caps = captions.scene_captions(eval_scenes, lang, seed=2, split="eval")
    caps += [captions.digit_caption(k % 10, lang, k, split="eval") for k in range(200)]
    used = {t for c in caps for t in c.templates} | {p for c in caps for p in c.phrases}
    wanted = {t for t in heldout.HELD_OUT_TEMPLATES if t.startswith(lang)} | heldout.HELD_OUT_PHRASES[lang]
    assert wanted <= used
    assert all(heldout.text_is_held_out(c.text, lang) for c in caps[:len(eval_scenes)])   # each names a held-out pair
    for c in caps:   # the text alone tells a held-out phrasing, exactly when the sampler drew one
        found = captions.parse(c.text, lang)
        assert bool(found["templates"] & heldout.HELD_OUT_TEMPLATES or found["phrases"] & heldout.HELD_OUT_PHRASES[lang]) \
            == heldout.caption_is_held_out(c), c


@pytest.mark.parametrize("lang", grammar.LANGS)
def test_held_out_phrasings_use_only_words_the_training_captions_use(train_scenes, eval_scenes, lang):
    trained = {w for c in captions.scene_captions(train_scenes, lang, seed=4) for w in c.words}
    trained |= {w for k in range(400) for w in captions.digit_caption(k % 10, lang, k).words}
    held = [c for c in captions.scene_captions(eval_scenes, lang, seed=4, split="eval") if heldout.caption_is_held_out(c)]
    held += [captions.digit_caption(k % 10, lang, k, split="eval") for k in range(200)]
    assert len(held) > 300
    assert {w for c in held for w in c.words} <= trained


# ------------------------------------------------------------------------------------------------
# Captions
# ------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("lang", grammar.LANGS)
def test_captions_are_true_of_their_scene(train_scenes, lang):
    for s, c in zip(train_scenes, captions.scene_captions(train_scenes, lang, seed=5)):
        found = captions.parse(c.text, lang)
        assert found["pairs"] <= {(o["color"], o["shape"]) for o in s["objects"]}, (c.text, s["objects"])
        said_shapes = {v for ws, (kind, v, _) in captions._tags(lang).items() if kind == "shape"
                       and any(tuple(c.words[i:i + len(ws)]) == ws for i in range(len(c.words)))}
        assert said_shapes <= {o["shape"] for o in s["objects"]} | {"circle"}, c.text  # "hollow circle" says circle
        if lang == "en":
            positions = {t[2][1] for t in captions._tag(list(c.words), "en") if t[2][0] == "position"}
            assert positions <= {o["position"] for o in s["objects"]}, c.text


def test_caption_draws_are_deterministic_and_varied(train_scenes):
    s = train_scenes[0]
    assert captions.caption(s, "en", 5) == captions.caption(s, "en", 5)
    assert len({captions.caption(s, "en", k).text for k in range(30)}) > 5
    assert len({captions.caption(s, "zh", k).text for k in range(30)}) > 5


def test_english_has_synonyms_word_order_numbers_and_relations():
    scene = {"objects": [{"shape": "star", "color": "red", "size": "small", "position": "top left", "cell": 0},
                         {"shape": "star", "color": "red", "size": "large", "position": "centre", "cell": 4}],
             "background": "black"}
    scene["relations"], scene["counts"] = world.describe(scene["objects"])
    texts = {captions.caption(scene, "en", k).text for k in range(400)}
    joined = " | ".join(texts)
    for piece in ("top left", "upper left", "in the top-left corner", "two red stars", "2 red stars",
                  "to the left of", "above"):
        assert piece in joined, piece
    single = {"objects": [scene["objects"][0]], "background": "grey"}
    single["relations"], single["counts"] = world.describe(single["objects"])
    texts = {captions.caption(single, "en", k).text for k in range(200)}
    assert any(t.startswith("a ") for t in texts) and any(t.startswith("in the") for t in texts)   # free word order


def test_chinese_reads_as_chinese():
    scenes = world.sample_scenes(600, seed=9)
    caps = captions.scene_captions(scenes, "zh", seed=9)
    for c in caps:
        assert not re.search(r"[A-Za-z ]", c.text), c.text
        assert "的的" not in c.text and "二个" not in c.text and "二颗" not in c.text, c.text
        assert not re.search(r"[个颗]星星", c.text.replace("颗星星", "")), c.text    # 一颗星星, never 一个星星
        assert not c.text.startswith("，") and not c.text.endswith("，")
    joined = " | ".join(c.text for c in caps)
    for piece in ("红色的", "左边", "两颗星星", "个", "背景"):
        assert piece in joined, piece
    rel = {"objects": [{"shape": "circle", "color": "red", "size": "small", "position": "left", "cell": 3},
                       {"shape": "square", "color": "blue", "size": "small", "position": "centre", "cell": 4}],
           "background": "black"}
    rel["relations"], rel["counts"] = world.describe(rel["objects"])
    texts = {captions.caption(rel, "zh", k).text for k in range(300)}
    assert any("在蓝色正方形的左" in t for t in texts), texts


def test_digit_captions_say_the_digit_in_every_way_the_issue_asks():
    en = {captions.digit_caption(7, "en", k).text for k in range(200)}
    zh = {captions.digit_caption(7, "zh", k).text for k in range(200)}
    assert {"7", "seven", "the digit seven"} <= en and {"七", "数字7"} <= zh
    assert "the number seven" not in en and "the number seven" in {captions.digit_caption(7, "en", k, split="eval").text
                                                                    for k in range(200)}
    with pytest.raises(ValueError):
        captions.digit_caption(10)


# ------------------------------------------------------------------------------------------------
# Vocabulary and text encoder
# ------------------------------------------------------------------------------------------------
def test_never_seen_names_the_unknown_words():
    assert text.never_seen("a cat sitting on a sofa") == ["cat", "sitting", "sofa"]
    assert text.never_seen_note("a cat sitting on a sofa") == "never seen: cat, sitting, sofa"
    assert text.never_seen("two red stars in the upper-left corner, 2 blue squares") == []
    assert text.never_seen("红色的圆形在蓝色正方形的左边") == []
    assert text.never_seen("一只猫坐在沙发上") == ["只猫坐", "沙发"]   # runs between the grammar's words
    assert text.never_seen_note("红色的猫", "zh") == "从未见过：猫"
    assert text.never_seen("数字7") == [] and text.never_seen("the digit seven") == []


def test_every_caption_word_is_in_the_vocabulary(train_scenes):
    vocab = text.build_vocabulary()
    for lang in grammar.LANGS:
        for c in captions.scene_captions(train_scenes[:500], lang, seed=1):
            assert text.never_seen(c.text) == [], c.text
            ids = vocab.encode(c.text, max_len=64)
            assert text.UNK not in ids and ids[0] == text.CLS and ids[-1] == text.SEP
            assert [vocab.tokens[i] for i in ids[1:-1]] == list(c.words)   # the grammar's own segmentation


def test_vocabulary_encodes_and_pads():
    vocab = text.build_vocabulary()
    assert len(vocab) == len(set(vocab.tokens)) < 400
    ids, mask = vocab.batch(["a red cat", "一个红色的圆形在左上角"])
    assert ids.shape == mask.shape and ids.shape[0] == 2
    assert ids[0, 3].item() == text.UNK and mask[0].tolist() == [1] * 5 + [0] * (ids.shape[1] - 5)
    assert len(vocab.encode("red " * 100, max_len=16)) == 16


def test_text_encoder_runs_from_a_config():
    pytest.importorskip("transformers")
    vocab = text.build_vocabulary()
    torch.manual_seed(0)
    model = text.build_text_encoder(vocab, hidden=32, layers=2, heads=2).eval()
    ids, mask = vocab.batch(["a red circle to the left of a blue square", "两颗星星"])
    with torch.no_grad():
        out = model(input_ids=ids, attention_mask=mask).last_hidden_state
    assert out.shape == (2, ids.shape[1], 32) and torch.isfinite(out).all()
    with torch.no_grad():   # padding does not change a prompt's token embeddings
        alone = model(*vocab.batch(["两颗星星"])).last_hidden_state
    n = alone.shape[1]
    assert torch.allclose(out[1, :n], alone[0], atol=1e-5)
    assert sum(p.numel() for p in model.parameters()) < 200_000


# ------------------------------------------------------------------------------------------------
# The judge
# ------------------------------------------------------------------------------------------------
def _perfect_logits(scenes):
    t = judge.targets(scenes)
    out = {"present": t["present"] * 20 - 10, "background": torch.nn.functional.one_hot(t["background"], 5).float()}
    for k, n in (("shape", len(SHAPES)), ("color", len(COLORS)), ("size", 3)):
        out[k] = torch.nn.functional.one_hot(t[k].clamp(min=0), n).float()
    return out


def test_judge_scores_perfect_reads_as_perfect_and_mistakes_as_mistakes():
    scenes = world.sample_scenes(50, seed=1, stream="judge-test")
    logits = _perfect_logits(scenes)
    assert all(v == 1.0 for v in judge.score(judge.read(logits), scenes).values())
    logits["color"] = logits["color"].roll(1, dims=-1)          # every colour wrong
    logits["present"][:, 4] = 10.0                               # an object always seen in the centre
    got = judge.score(judge.read(logits), scenes)
    assert got["color"] == 0.0 and got["shape"] == 1.0 and got["scene"] == 0.0
    assert got["count"] < 1.0 and got["position"] == 1.0


def test_judge_forward_and_loss_shapes():
    torch.manual_seed(0)
    model = judge.Judge()
    scenes = world.sample_scenes(4, seed=0, stream="judge")
    out = model(judge.as_input(world.render(scenes)))
    assert out["present"].shape == (4, 9) and out["shape"].shape == (4, 9, 8) and out["size"].shape == (4, 9, 3)
    loss = judge.loss_fn(out, judge.targets(scenes))
    loss.backward()
    assert torch.isfinite(loss) and model.cell[0].weight.grad is not None


JUDGE_CARD = ROOT / "assets" / "scenes-judge" / "card.json"


def test_the_shipped_judge_card_reports_its_held_out_accuracy():
    card = json.loads(JUDGE_CARD.read_text(encoding="utf-8"))
    assert "family" not in card   # not a generator: list_assets skips it
    from engines.checkpoint import list_assets
    assert "scenes-judge" not in list_assets()
    for split in ("judge-test", "eval"):
        acc = card["accuracy"][split]
        assert set(acc) >= set(judge.ATTRIBUTES)
        assert acc["position"] >= 0.95 and acc["color"] >= 0.9 and acc["count"] >= 0.9, acc
        assert acc["shape"] >= 0.7 and acc["size"] >= 0.7, acc


def test_the_shipped_judge_reads_fresh_scenes_as_its_card_says():
    card = json.loads(JUDGE_CARD.read_text(encoding="utf-8"))
    model = judge.load_judge()
    scenes = world.sample_scenes(200, seed=123, stream="judge-test")
    got = judge.score(judge.judge_images(model, world.render(scenes)), scenes)
    for k in ("color", "shape", "size", "position", "count"):
        assert got[k] >= card["accuracy"]["judge-test"][k] - 0.06, (k, got, card["accuracy"])


def test_load_scenes_gives_an_image_set_with_both_languages():
    from engines.scenes.dataset import load_scenes

    s = load_scenes("train", n=12, seed=3)
    assert s.images.shape == (12, 3, 64, 64) and s.images.dtype == torch.uint8 and len(s.attrs) == 12
    assert len(s.captions["en"]) == len(s.captions["zh"]) == 12
    assert torch.equal(s.images[:8], load_scenes("train", n=8, seed=3).images)
    e = load_scenes("eval", n=40, seed=3)
    assert all(heldout.scene_is_held_out(a) for a in e.attrs)
    assert any(heldout.text_is_held_out(t, "en") for t in e.captions["en"])
