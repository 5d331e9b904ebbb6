"""The family registry (engines.families): one list of families, and every switchboard reads it."""

from __future__ import annotations

import ast
import json
from pathlib import Path

import pytest
import torch

import engines
from engines import checkpoint, cli, families, studio
from engines.errors import UserError

ROOT = Path(__file__).resolve().parents[1]
NAMED = ("vae", "ddpm", "stylegan")
# Where those names may be written as string literals: each family's own modules, the registry,
# and the bilingual string table.
OWN = {"vae": ("engines/vae.py",), "ddpm": ("engines/diffusion/",), "stylegan": ("engines/stylegan/",)}
SHARED = ("engines/families.py", "engines/errors.py")
# Not yet moved into the families' own modules (listed so that nothing new joins them):
# CLIP guidance's per-generator code (how to steer a z, a w or a sampler), and the 2-D playground,
# whose "vae" is a toy model of its own, not the registered family.
KNOWN = ("engines/clip/guide.py", "engines/toy2d/")


def literals(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    return {n.value for n in ast.walk(tree) if isinstance(n, ast.Constant) and n.value in NAMED}


def test_one_list_of_families_and_no_name_without_a_spec():
    assert engines.FAMILIES == families.NAMES == tuple(checkpoint.FAMILY_MODULES)
    for name in ("pixelrnn", "dalle"):
        assert name not in engines.FAMILIES
        with pytest.raises(UserError) as err:
            families.get(name)
        assert err.value.key == "checkpoint_unknown_family"
    for spec in families.all_families():
        assert spec.name in families.REGISTRY and spec.load_module().Config is not None
    assert list(studio.FAMILIES) == ["vae", "stylegan", "ddpm", "clip", "pixelcnn", "vqvae"]
    # Latent diffusion trains from the command line only: the studio has no captioned data set.
    assert [f.name for f in families.trainable()] == [*studio.FAMILIES, "ldm"]


def test_save_refuses_a_family_without_a_spec_as_load_does(tmp_path):
    model = torch.nn.Linear(2, 2)
    with pytest.raises(UserError) as err:
        checkpoint.save(tmp_path / "m", family="dalle", config={}, model=model, card={})
    assert err.value.key == "checkpoint_unknown_family" and not (tmp_path / "m").exists()
    # A folder claiming such a family is refused on load with the same key.
    folder = tmp_path / "x"
    folder.mkdir()
    (folder / "config.json").write_text(json.dumps({"family": "dalle"}))
    (folder / "card.json").write_text(json.dumps({"family": "dalle"}))
    (folder / "model.safetensors").write_bytes(b"")
    with pytest.raises(UserError) as err:
        checkpoint.load(folder)
    assert err.value.key == "checkpoint_unknown_family"


def test_every_knob_becomes_an_option_a_recipe_field_and_a_bound():
    parser = cli.build_parser()
    for spec in families.trainable():
        args = parser.parse_args(["train", spec.name, "--out", "x"])
        for knob in spec.knobs:
            assert hasattr(args, knob.name), (spec.name, knob.name)
            if knob.studio:
                assert knob.name in studio.RECIPE_FIELDS and studio.owner(knob.name) == spec.name
                if knob.kind in (int, float):
                    assert studio.BOUNDS[knob.name] == (knob.low, knob.high, knob.en, knob.zh)
    # Another family's option is not this one's.
    with pytest.raises(SystemExit):
        parser.parse_args(["train", "vae", "--patch-size", "2", "--out", "x"])


def test_a_knob_checks_its_bounds_and_type():
    latent = next(k for k in families.get("vae").knobs if k.name == "latent_dim")
    assert latent.check("4") == 4
    for bad, key in ((0, "studio_value"), (2.5, "studio_integer"), ("x", "studio_value"), (float("inf"), "studio_value")):
        with pytest.raises(UserError) as err:
            latent.check(bad)
        assert err.value.key == key


def test_ddpm_defaults_fit_the_data_set(tmp_path):
    """python -m engines train ddpm --dataset shapes once failed: attention at side 7, MNIST's."""
    out = tmp_path / "d"
    assert cli.main(["train", "ddpm", "--dataset", "shapes", "--steps", "1", "--n-train", "8", "--n-test", "4",
                     "--batch-size", "4", "--out", str(out)]) == 0
    ckpt = checkpoint.load(out)
    assert ckpt.config["image_size"] == 32 and ckpt.config["attention_resolutions"] == [8]


def test_a_preset_is_the_studios_size_and_the_command_line_wins(tmp_path):
    out = tmp_path / "v"
    assert cli.main(["train", "vae", "--dataset", "shapes", "--steps", "1", "--n-train", "8", "--n-test", "4",
                     "--batch-size", "4", "--preset", "tiny", "--hidden", "24", "--out", str(out)]) == 0
    from engines.data import SHAPES

    ckpt = checkpoint.load(out)
    assert ckpt.config["widths"] == [16, 32] and ckpt.config["hidden"] == 24
    assert ckpt.card["class_names"] == list(SHAPES)


def test_cards_carry_class_names_and_old_cards_get_their_data_sets():
    assert families.class_names({"class_names": ["a", "b"]}) == ["a", "b"]
    assert families.class_names({"dataset": "mnist"}) == [str(d) for d in range(10)]
    from engines.data import SHAPES

    assert families.class_names({"dataset": "shapes"}) == list(SHAPES)
    assert families.class_names({"dataset": "folder"}) is None


def test_family_names_are_written_only_in_their_own_modules():
    bad = []
    for path in sorted((ROOT / "engines").rglob("*.py")):
        rel = path.relative_to(ROOT).as_posix()
        if rel in SHARED or rel.startswith(KNOWN):
            continue
        for name in literals(path):
            if not rel.startswith(OWN[name]):
                bad.append(f"{rel}: '{name}'")
    assert bad == []


def test_the_literal_check_can_fail(tmp_path):
    probe = tmp_path / "x.py"
    probe.write_text("FAMILY = 'vae'\nx = 'a ddpm in a sentence'\n")
    assert literals(probe) == {"vae"}


def test_sample_refuses_a_family_that_draws_nothing(tmp_path, capsys):
    code = cli.main(["sample", "--model", str(ROOT / "assets" / "genlab-clip"), "--n", "1",
                     "--out", str(tmp_path / "x.png")])
    err = capsys.readouterr().err
    assert code == 2 and "does not draw images" in err and "vae, stylegan, ddpm" in err


def test_the_tabs_engine_lookup_reads_the_registry():
    from demo.common import _engine_class
    from engines import vae

    assert _engine_class("vae") is vae.Engine and callable(_engine_class("clip").load)
    with pytest.raises(ValueError):
        _engine_class("dalle")


def test_engines_name_their_classes_from_the_card():
    from engines import diffusion, vae
    from engines.data import SHAPES

    assert vae.Engine.load(ROOT / "assets" / "shapes-vae-z16").class_names == list(SHAPES)
    assert diffusion.Engine.load(ROOT / "assets" / "mnist-ddpm").class_names == [str(d) for d in range(10)]


PROBE = """
import sys
import engines.families as F
F.REGISTRY["probe_ae"] = "tests.family_probe"   # the one registry line
F.NAMES = tuple(F.REGISTRY)
import dataclasses, threading
from engines import checkpoint, cli, studio
out = sys.argv[1]
assert "probe_ae" in studio.FAMILIES and "bottleneck" in studio.RECIPE_FIELDS
assert cli.main(["train", "probe_ae", "--dataset", "shapes", "--steps", "2", "--n-train", "16", "--n-test", "8",
                 "--batch-size", "4", "--bottleneck", "3", "--out", out]) == 0
ckpt = checkpoint.load(out)
assert ckpt.family == "probe_ae" and ckpt.config["latent_dim"] == 3 and ckpt.card["class_names"]
recipe = dataclasses.replace(studio.defaults("probe_ae"), steps=2, batch_size=4, n_images=16, preview_every=1)
plan = studio.prepare(recipe)
events = [e.kind for e in plan.make_trainer(threading.Event()).run()]
assert events[-1] == "done", events
again = checkpoint.load(studio.save(plan, out + "-studio", name="p"))
assert studio.recipe_from_card(again).bottleneck == 8
print("ok")
"""


def test_a_new_family_is_one_module_and_one_registry_line(tmp_path):
    """tests/family_probe.py, registered by one line: the command line trains and saves it, checkpoint
    loading accepts it, the studio has its setting, trains it and continues it."""
    import os
    import subprocess
    import sys

    env = {**os.environ, "GENLAB_DEVICE": "cpu", "HF_HUB_OFFLINE": "1"}
    result = subprocess.run([sys.executable, "-c", PROBE, str(tmp_path / "ae")], cwd=ROOT, env=env,
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0 and result.stdout.strip().endswith("ok"), result.stderr[-3000:]
