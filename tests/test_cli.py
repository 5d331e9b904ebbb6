"""python -m engines: train, sample and eval, run in-process on tiny settings."""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from engines import checkpoint, cli, vae
from tests.close import assert_images_close

ROOT = Path(__file__).resolve().parents[1]

TRAIN_ARGS = ["train", "vae", "--dataset", "shapes", "--n-train", "64", "--n-test", "32", "--steps", "3",
              "--batch-size", "16", "--latent-dim", "2", "--widths", "8", "--hidden", "16"]


@pytest.fixture(scope="module")
def trained(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("cli") / "shapes vae"  # a space: the command must quote it
    assert cli.main([*TRAIN_ARGS, "--out", str(out)]) == 0
    return out


def test_train_vae_continues_from_init(trained, tmp_path):
    """--init trains the checkpoint on (its config wins over the architecture flags)."""
    more = tmp_path / "more"
    assert cli.main([*TRAIN_ARGS, "--latent-dim", "4", "--init", str(trained), "--out", str(more)]) == 0
    before, after = checkpoint.load(trained), checkpoint.load(more)
    assert after.config == before.config and after.card["continued_from"]["steps"] == 3
    assert any(not torch.equal(before.state[k], after.state[k]) for k in before.state)


def test_train_writes_a_loadable_checkpoint_with_its_command(trained):
    ckpt = checkpoint.load(trained, expect_family="vae")
    config, model = ckpt.build()
    assert (config.image_size, config.channels, config.latent_dim, config.widths, config.hidden) == (32, 3, 2, (8,), 16)
    assert config.likelihood == "gaussian"  # colour images
    card = ckpt.card
    assert card["command"] == "python -m engines " + shlex.join([*TRAIN_ARGS, "--out", str(trained)])
    assert shlex.split(card["command"])[3:] == [*TRAIN_ARGS, "--out", str(trained)]
    assert card["steps"] == 3 and card["dataset"] == "shapes" and card["stopped"] is None
    assert card["name"] == "shapes vae"
    for key in ("heldout_neg_elbo", "heldout_recon", "heldout_kl", "train_neg_elbo"):
        assert np.isfinite(card["metrics"][key])
    assert set(card["split"]) == {"train", "held_out"}
    assert card["hardware"] and card["wall_time_s"] >= 0
    # The aux data for the UI travels with it.
    assert ckpt.aux["examples"].shape[1:] == (3, 32, 32) and len(ckpt.aux["encoded_mu"]) == 32


def test_train_is_reproducible(trained, tmp_path):
    again = tmp_path / "again"
    assert cli.main([*TRAIN_ARGS, "--out", str(again)]) == 0
    a, b = checkpoint.load(trained), checkpoint.load(again)
    assert a.state.keys() == b.state.keys()
    assert all(np.array_equal(a.state[k].numpy(), b.state[k].numpy()) for k in a.state)


def test_sample_png_grid(trained, tmp_path, capsys):
    out = tmp_path / "grid.png"
    assert cli.main(["sample", "--model", str(trained), "--n", "6", "--seed", "1", "--out", str(out)]) == 0
    assert "wrote" in capsys.readouterr().out
    with Image.open(out) as im:
        assert im.format == "PNG" and im.mode == "RGB"
        # ceil(sqrt(6)) = 3 per row, 2 rows, 32 px tiles, 2 px padding.
        assert im.size == (3 * (32 + 2) + 2, 2 * (32 + 2) + 2)


def test_sample_npz_is_seeded(trained, tmp_path):
    paths = {}
    for name, seed in (("a", 3), ("b", 3), ("c", 4)):
        paths[name] = tmp_path / f"{name}.npz"
        assert cli.main(["sample", "--model", str(trained), "--n", "5", "--seed", str(seed),
                         "--out", str(paths[name])]) == 0
    arrays = {k: np.load(p)["images"] for k, p in paths.items()}
    assert arrays["a"].shape == (5, 32, 32, 3) and arrays["a"].dtype == np.uint8
    assert np.array_equal(arrays["a"], arrays["b"])
    assert not np.array_equal(arrays["a"], arrays["c"])
    engine = vae.Engine.load(trained)
    assert np.array_equal(arrays["a"], engine.sample(5, 3)[0])


def test_eval_prints_json(trained, capsys):
    assert cli.main(["eval", "--model", str(trained)]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["dataset"] == "shapes" and report["images"] == 2000
    assert report["neg_elbo"] == pytest.approx(report["recon"] + report["kl"], abs=2e-3)
    assert np.isfinite(report["neg_elbo"])


@pytest.mark.parametrize("command", [
    ["sample", "--n", "2", "--out", "x.png"],
    ["eval"],
])
def test_bad_model_path_exits_2_with_a_message(tmp_path, capsys, command):
    missing = tmp_path / "no-such-model"
    code = cli.main([*command[:1], "--model", str(missing), *command[1:]])
    err = capsys.readouterr().err
    assert code == 2
    assert err.startswith("error: ") and "config.json" in err and "Traceback" not in err


def test_pickle_model_exits_2(tmp_path, capsys):
    evil = tmp_path / "model.pt"
    evil.write_bytes(b"\x80\x04not read")
    assert cli.main(["sample", "--model", str(evil), "--out", str(tmp_path / "x.png")]) == 2
    assert "pickle" in capsys.readouterr().err


def test_bad_model_path_from_the_shell(tmp_path):
    env = {**os.environ, "GENLAB_DEVICE": "cpu", "HF_HUB_OFFLINE": "1"}
    result = subprocess.run([sys.executable, "-m", "engines", "eval", "--model", str(tmp_path / "nope")],
                            cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode == 2, result.stderr
    assert result.stderr.startswith("error: ") and "Traceback" not in result.stderr
    assert result.stdout == ""


def test_mnist_train_two_steps(mnist_dir, tmp_path):
    out = tmp_path / "mnist"
    args = ["train", "vae", "--dataset", "mnist", "--data-dir", str(mnist_dir), "--n-train", "64",
            "--n-test", "32", "--steps", "2", "--batch-size", "16", "--latent-dim", "2", "--widths", "8",
            "--hidden", "16", "--out", str(out)]
    assert cli.main(args) == 0
    ckpt = checkpoint.load(out)
    config, _ = ckpt.build()
    assert (config.image_size, config.channels, config.likelihood) == (28, 1, "bernoulli")
    assert ckpt.card["command"] == "python -m engines " + " ".join(args)
    assert ckpt.card["split"]["train"].startswith("MNIST t10k images 0-63")
    assert ckpt.card["split"]["held_out"].startswith("MNIST t10k images 8000-8031")
    assert sorted(set(ckpt.aux["example_labels"].tolist())) == sorted(set(ckpt.aux["encoded_labels"].tolist()))


def test_train_on_a_folder_holds_out_its_last_tenth(tmp_path):
    folder = tmp_path / "imgs"
    folder.mkdir()
    rng = np.random.default_rng(0)
    for i in range(20):
        Image.fromarray((rng.random((40, 50, 3)) * 255).astype(np.uint8)).save(folder / f"{i:02d}.png")
    out = tmp_path / "folder-vae"
    code = cli.main(["train", "vae", "--dataset", "folder", "--data-dir", str(folder), "--steps", "2",
                     "--batch-size", "8", "--widths", "8", "--hidden", "16", "--latent-dim", "2", "--out", str(out)])
    assert code == 0
    card = checkpoint.load(out).card
    assert card["split"]["train"] == "the first 18 of the folder's images"
    assert card["split"]["held_out"] == "the last 2 of the folder's images (held out)"
    assert np.isfinite(card["metrics"]["heldout_neg_elbo"])


def test_compact_stores_float16_and_keeps_the_model(trained, tmp_path):
    before = checkpoint.load(trained)
    out = tmp_path / "compact"
    assert cli.main(["compact", "--model", str(trained), "--out", str(out)]) == 0
    after = checkpoint.load(out)
    assert all(t.dtype == torch.float16 for t in after.state.values() if t.is_floating_point())
    assert after.card["storage_dtype"] == "float16" and after.card["compacted_by"].startswith("python -m engines compact")
    def weight_bytes(ck):
        return sum(t.numel() * t.element_size() for t in ck.state.values())
    assert weight_bytes(after) * 2 == weight_bytes(before)
    assert all(torch.equal(after.aux[k], v) for k, v in before.aux.items())  # aux data untouched
    z = np.random.default_rng(0).standard_normal((4, before.config["latent_dim"])).astype(np.float32)
    full, half = vae.Engine(before).decode(z).astype(int), vae.Engine(after).decode(z).astype(int)
    assert np.abs(full - half).max() <= 2  # uint8 levels


DDPM_ARGS = ["train", "ddpm", "--steps", "3", "--batch-size", "8", "--width", "8", "--channel-mult", "1,2",
             "--blocks", "1", "--attention", "", "--timesteps", "20", "--log-every", "1", "--eval-every", "1"]


@pytest.fixture(scope="module")
def ddpm_shapes(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("ddpm") / "shapes-ddpm"
    assert cli.main([*DDPM_ARGS, "--dataset", "shapes", "--n-train", "32", "--n-test", "16", "--out", str(out)]) == 0
    return out


def test_train_ddpm_writes_a_checkpoint_with_its_held_out_curve(ddpm_shapes):
    ck = checkpoint.load(ddpm_shapes, expect_family="ddpm")
    assert ck.config["num_classes"] is None and ck.config["timesteps"] == 20
    assert [s for s, _ in ck.card["heldout_curve"]] == [1, 2, 3]
    assert ck.card["metrics"]["heldout_l_simple"] == pytest.approx(ck.card["heldout_curve"][-1][1], abs=1e-4)
    assert ck.card["metrics"]["heldout_l_simple"] > 0
    assert ck.card["command"].startswith("python -m engines train ddpm")


def test_sample_ddpm_is_seeded_and_takes_the_sampler_options(ddpm_shapes, tmp_path):
    a, b = tmp_path / "a.npz", tmp_path / "b.npz"
    for out in (a, b):
        assert cli.main(["sample", "--model", str(ddpm_shapes), "--n", "3", "--seed", "5", "--steps", "4",
                         "--eta", "0.5", "--out", str(out)]) == 0
    ia, ib = np.load(a), np.load(b)
    assert ia["images"].shape == (3, 32, 32, 3) and "labels" not in ia
    assert np.array_equal(ia["images"], ib["images"])
    assert cli.main(["sample", "--model", str(ddpm_shapes), "--n", "2", "--sampler", "ddpm",
                     "--out", str(tmp_path / "full.png")]) == 0


@pytest.mark.parametrize("model, extra, message", [
    ("ddpm", ["--label", "3"], "trained without class labels"),
    ("vae", ["--guidance", "2"], "does not take --guidance"),
])
def test_sample_refuses_options_the_model_cannot_use(model, extra, message, ddpm_shapes, trained, tmp_path, capsys):
    path = ddpm_shapes if model == "ddpm" else trained
    code = cli.main(["sample", "--model", str(path), "--n", "2", *extra, "--out", str(tmp_path / "x.png")])
    assert code == 2 and message in capsys.readouterr().err


def test_class_conditional_ddpm_on_mnist_samples_the_asked_labels(mnist_dir, tmp_path, capsys):
    out = tmp_path / "mnist-ddpm"
    assert cli.main([*DDPM_ARGS, "--dataset", "mnist", "--data-dir", str(mnist_dir), "--n-train", "64",
                     "--conditional", "--out", str(out)]) == 0
    ck = checkpoint.load(out)
    assert ck.config["num_classes"] == 10 and ck.card["default_guidance"] == 3.0
    npz = tmp_path / "s.npz"
    assert cli.main(["sample", "--model", str(out), "--n", "12", "--label", "all", "--steps", "3", "--out", str(npz)]) == 0
    assert np.load(npz)["labels"].tolist() == [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 0, 1]
    assert cli.main(["sample", "--model", str(out), "--n", "2", "--label", "10", "--out", str(tmp_path / "y.png")]) == 2
    assert "labels 0 to 9" in capsys.readouterr().err


def test_train_ddpm_with_patches_and_continue_from_it(ddpm_shapes, tmp_path):
    out = tmp_path / "patched"
    assert cli.main([*DDPM_ARGS, "--dataset", "shapes", "--n-train", "32", "--n-test", "16", "--patch-size", "2",
                     "--out", str(out)]) == 0
    ck = checkpoint.load(out)
    assert ck.config["patch_size"] == 2
    more = tmp_path / "more"
    # --init keeps the checkpoint's config, whatever the architecture flags say.
    assert cli.main([*DDPM_ARGS, "--dataset", "shapes", "--n-train", "32", "--n-test", "16", "--width", "16",
                     "--init", str(out), "--out", str(more)]) == 0
    again = checkpoint.load(more)
    assert again.config == ck.config
    assert again.card["continued_from"]["steps"] == 3 and again.card["steps"] == 3
    assert any(not torch.equal(ck.state[k], again.state[k]) for k in ck.state)  # it trained on
    assert cli.main([*DDPM_ARGS, "--dataset", "shapes", "--init", str(ddpm_shapes.parent / "missing"),
                     "--out", str(tmp_path / "x")]) == 2


SG_ARGS = ["train", "stylegan", "--dataset", "shapes", "--size", "16", "--n-train", "32", "--n-test", "8",
           "--steps", "4", "--batch-size", "8", "--lr", "2e-3", "--z-dim", "16", "--w-dim", "16",
           "--mapping-layers", "2", "--channel-base", "128", "--channel-max", "16", "--log-every", "2"]


@pytest.fixture(scope="module")
def stylegan_shapes(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("sg") / "shapes-sg"
    assert cli.main([*SG_ARGS, "--out", str(out)]) == 0
    return out


def test_train_stylegan_writes_both_players_and_their_losses(stylegan_shapes):
    ck = checkpoint.load(stylegan_shapes, expect_family="stylegan")
    assert ck.config["image_size"] == 16 and ck.config["channels"] == 3
    assert any(k.startswith("G.") for k in ck.state) and any(k.startswith("D.") for k in ck.state)
    losses = ck.card["metrics"]["final_losses"]
    assert {"D_loss", "G_loss"} <= set(losses) and all(np.isfinite(v) for v in losses.values())
    assert ck.card["steps"] == 4


def test_sample_stylegan_psi_and_mixing(stylegan_shapes, tmp_path, capsys):
    def sample(*extra) -> np.ndarray:
        out = tmp_path / "s.npz"
        assert cli.main(["sample", "--model", str(stylegan_shapes), "--n", "3", "--seed", "7", *extra,
                         "--out", str(out)]) == 0
        return np.load(out)["images"]

    plain, again = sample(), sample()
    assert plain.shape == (3, 16, 16, 3) and np.array_equal(plain, again)
    assert not np.array_equal(sample("--psi", "0.3"), plain)
    # All layers from the mix seed: every image becomes that seed's image.
    everything = sample("--mix-seed", "40", "--mix-layers", ",".join(str(i) for i in range(6)))
    out = tmp_path / "t.npz"
    assert cli.main(["sample", "--model", str(stylegan_shapes), "--n", "1", "--seed", "40", "--out", str(out)]) == 0
    target = np.load(out)["images"][0]
    for img in everything:  # a batch of 3 against 1: equal up to rounding
        assert_images_close(img, target)
    coarse = sample("--mix-seed", "40", "--mix-layers", "coarse")
    assert not np.array_equal(coarse, plain) and not all(np.array_equal(img, target) for img in coarse)
    assert cli.main(["sample", "--model", str(stylegan_shapes), "--n", "2", "--mix-seed", "3",
                     "--out", str(tmp_path / "x.png")]) == 2
    assert "--mix-layers" in capsys.readouterr().err
    assert cli.main(["sample", "--model", str(stylegan_shapes), "--n", "2", "--guidance", "2",
                     "--out", str(tmp_path / "x.png")]) == 2
    assert "does not take --guidance" in capsys.readouterr().err
