"""benchmarks/ldm_quality.py's prompts and scoring: held-out prompts only, and the scorers say yes to the
world's own images of those prompts and no to another prompt's images (judged by assets/scenes-judge)."""

from __future__ import annotations

import pytest

from benchmarks import ldm_quality as q
from engines.scenes import heldout, world
from engines.scenes.judge import judge_images, load_judge


@pytest.mark.parametrize("kind", q.KINDS)
@pytest.mark.parametrize("lang", ["en", "zh"])
def test_prompts_are_held_out_and_of_their_kind(kind, lang):
    pairs = q.held_out_prompts(kind, lang, 6)
    assert len(pairs) == 6
    for scene, caption in pairs:
        assert heldout.scene_is_held_out(scene)                  # an eval-stream scene: a held-out pair in it
        assert caption.templates[0].split(".")[1] == {"single": "one", "relation": "rel", "count": "count"}[kind]


@pytest.mark.parametrize("kind", q.KINDS)
def test_the_true_image_passes_and_another_prompts_image_fails(kind):
    pairs = q.held_out_prompts(kind, "en", 8)
    seen = judge_images(load_judge(), world.render([s for s, _ in pairs]))
    scorer = q.SCORERS[kind]
    right = [scorer(s, scene, c) for s, (scene, c) in zip(seen, pairs)]
    for r in right:
        assert all(v for v in r.values() if v is not None), r
    shifted = [scorer(s, scene, c) for s, (scene, c) in zip(seen[1:] + seen[:1], pairs)]
    key = {"single": "all_asked", "relation": "relation", "count": "count"}[kind]
    assert sum(bool(r[key]) for r in shifted) < len(shifted) / 2 + 1


def test_tally_counts_only_what_was_asked():
    t = q.tally([{"size": None, "color": True}, {"size": True, "color": False}])
    assert t["size"] == {"right": 1, "of": 1, "rate": 1.0} and t["color"]["rate"] == 0.5
