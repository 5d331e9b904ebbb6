"""Latent diffusion (engines.ldm): shapes through both phases, cross-attention maps, guidance, streaming,
checkpoints, bilingual refusals, and the command line. Tiny models, CPU, fixed seeds."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from engines import checkpoint, cli, families
from engines.errors import UserError
from engines.ldm import build, family, make_process
from engines.ldm.engine import Engine
from engines.ldm.model import Conditioned

PROMPT = "a red circle left of a blue square"


def tiny_config():
    return family.family_config({k.name: k.default for k in family.KNOBS} | family.presets("tiny"))


@pytest.fixture(scope="module")
def ckpt_dir(tmp_path_factory):
    out = tmp_path_factory.mktemp("ldm") / "m"
    assert cli.main(["train", "ldm", "--dataset", "scenes", "--preset", "tiny", "--steps", "2", "--n-train", "32",
                     "--n-test", "8", "--batch-size", "8", "--ema", "0.5", "--out", str(out)]) == 0
    return out


@pytest.fixture(scope="module")
def engine(ckpt_dir):
    eng = Engine.load(ckpt_dir, device=torch.device("cpu"))
    torch.manual_seed(1)
    with torch.no_grad():  # random outputs: the zero-initialised last layers would give eps = 0
        for p in eng.model.unet.parameters():
            p.add_(0.05 * torch.randn_like(p))
    return eng


def test_the_family_is_registered_on_the_spec_and_kept_out_of_the_studio():
    from engines import studio

    spec = families.get("ldm")
    assert spec.trainable and spec.datasets == ("scenes",) and "ldm" not in studio.FAMILIES
    for knob in spec.knobs:  # every numeric knob is bounded, and its check says so bilingually
        if knob.kind in (int, float):
            assert knob.check(knob.default if knob.default is not None else knob.low) is not None
            with pytest.raises(UserError) as err:
                knob.check(knob.high + 1)
            assert err.value.key == "studio_value" and err.value.localized("zh") != str(err.value)


def test_shapes_through_both_phases():
    config = tiny_config()
    torch.manual_seed(0)
    model = build(config)
    x = torch.rand(2, 3, 64, 64)
    loss, logs = family.ae_loss(model, {"x": x}, torch.Generator().manual_seed(0), 0)
    assert loss.ndim == 0 and set(logs) == {"rec", "kl"}
    z = family.fit_latents(model, (x * 255).to(torch.uint8))
    assert z.shape == (2, 4, 16, 16) and abs(float(z.std()) - 1) < 0.2
    assert model.decode_latents(z).shape == (2, 3, 64, 64) and model.preview(z).shape == (2, 3, 16, 16)
    from engines.scenes import world

    ids = family.caption_ids(world.sample_scenes(2, seed=0), 1, config.max_tokens)
    assert ids.shape == (2, 2, config.max_tokens)
    loss_fn = family.unet_loss(config, ids, 0.5)
    loss, _ = loss_fn(model.train(), {"x": z, "y": torch.arange(2)}, torch.Generator().manual_seed(0), 0)
    loss.backward()
    assert loss.ndim == 0 and model.text.embeddings.word_embeddings.weight.grad is not None


def test_guidance_one_is_the_conditional_prediction_and_the_mix_is_closed_form(engine):
    cond = engine.condition([PROMPT, "两个绿色的星星"])
    process = engine.process
    x = torch.randn(2, 4, 16, 16, generator=torch.Generator().manual_seed(0))
    y = torch.arange(2)
    with torch.no_grad():
        c = cond(x, torch.full((2,), 500), y)
        u = cond(x, torch.full((2,), 500), None)
        assert torch.equal(process.eps(cond, x, 500, y, guidance=1.0), c)
        assert torch.allclose(process.eps(cond, x, 500, y, guidance=3.0), u + 3 * (c - u), atol=1e-5)
    assert not torch.allclose(c, u, atol=1e-4)   # the prompt matters to this network


def test_streamed_frames_one_per_step_and_attention_sums_to_one(engine):
    frames = list(engine.sample(PROMPT, n=2, seed=3, steps=4, guidance=2.0))
    assert len(frames) == 4 and [f.index for f in frames] == [0, 1, 2, 3]
    assert all(f.images is None for f in frames[:-1]) and frames[-1].images.shape == (2, 64, 64, 3)
    assert frames[0].preview.shape == (2, 64, 64, 3) and frames[0].preview.dtype == np.uint8
    tokens = engine.tokens(PROMPT)
    assert tokens[0] == "[CLS]" and tokens[-1] == "[SEP]" and "red" in tokens
    for f in frames:
        assert f.attention.shape == (2, len(tokens), 16, 16)
        np.testing.assert_allclose(f.attention.sum(1), 1.0, atol=1e-5)
    words = engine.word_maps(frames, PROMPT, step=2)
    assert [w for w, _ in words] == tokens[1:-1] and words[0][1].shape == (16, 16)


def test_the_same_seed_gives_the_same_images_and_a_checkpoint_round_trip_keeps_them(engine, tmp_path):
    a, _ = engine.generate(PROMPT, 2, 7, 3, 2.0)
    b, _ = engine.generate(PROMPT, 2, 7, 3, 2.0)
    c, _ = engine.generate(PROMPT, 2, 8, 3, 2.0)
    assert np.array_equal(a, b) and not np.array_equal(a, c)
    out = checkpoint.save(tmp_path / "rt", family="ldm", config=engine.config, model=engine.model, card=engine.card)
    again = Engine.load(out, device=torch.device("cpu"))
    assert np.array_equal(again.generate(PROMPT, 2, 7, 3, 2.0)[0], a)
    assert set(p.name for p in out.iterdir()) == {"config.json", "card.json", "model.safetensors"}


@pytest.mark.parametrize("prompt, kw, key", [
    ("", {}, "ldm_prompt_empty"),
    ("  ,  ", {}, "ldm_prompt_empty"),
    (PROMPT, {"guidance": float("nan")}, "ldm_guidance"),
    (PROMPT, {"guidance": -1}, "ldm_guidance"),
    (PROMPT, {"steps": 0}, "ldm_steps"),
    (PROMPT, {"steps": 10**9}, "ldm_steps"),
    (PROMPT, {"steps": 2.5}, "ldm_steps"),
    (PROMPT, {"n": 0}, "ldm_n"),
    (" ".join(["red"] * 40), {}, "ldm_prompt_too_long"),
    ("a cat sitting on a sofa", {}, "ldm_never_seen"),
    ([PROMPT, PROMPT, PROMPT], {"n": 2}, "ldm_prompts_count"),
    ([3], {}, "ldm_prompt_not_text"),
])
def test_bad_input_is_refused_in_both_languages_before_any_step(engine, prompt, kw, key):
    with pytest.raises(UserError) as err:
        engine.sample(prompt, **{"n": 1, "seed": 0, "steps": 2, "guidance": 2.0, **kw})
    assert err.value.key == key
    assert err.value.localized("zh") != str(err.value) and str(err.value)


def test_never_seen_names_the_words_and_chinese_prompts_tokenise(engine):
    assert set(engine.never_seen("a cat sitting on a sofa")) >= {"cat", "sofa"}
    assert engine.never_seen(PROMPT) == []
    assert "[UNK]" not in engine.tokens("两颗绿色的星星")


def test_the_command_line_trains_and_samples(ckpt_dir, tmp_path, capsys):
    ckpt = checkpoint.load(ckpt_dir)
    assert ckpt.family == "ldm" and len(ckpt.card["vocabulary"]) == ckpt.config["vocab_size"]
    assert ckpt.card["phase_steps"] == {"ae": 2, "unet": 2} and "heldout_l_simple" in ckpt.card["metrics"]
    # Phase 2 trained the UNet after phase 1's EMA copy (its last layer starts at zero) and the text encoder.
    assert ckpt.state["unet.out.2.weight"].abs().sum() > 0 and float(ckpt.state["latent_scale"]) != 1.0
    out = tmp_path / "s.npz"
    assert cli.main(["sample", "--model", str(ckpt_dir), "--prompt", PROMPT, "--n", "2", "--seed", "1",
                     "--steps", "3", "--guidance", "2", "--out", str(out)]) == 0
    assert np.load(out)["images"].shape == (2, 64, 64, 3)
    assert cli.main(["sample", "--model", str(ckpt_dir), "--prompt", "a cat", "--n", "1", "--out", str(out)]) == 2
    assert "never seen" in capsys.readouterr().err
    assert cli.main(["train", "ldm", "--dataset", "shapes", "--steps", "1", "--out", str(tmp_path / "x")]) == 2


def test_the_gpu_training_script_runs_end_to_end_at_its_quick_setting(tmp_path):
    import importlib.util
    from pathlib import Path

    path = Path(__file__).resolve().parents[1] / "scripts" / "train_ldm_gpu.py"
    spec = importlib.util.spec_from_file_location("train_ldm_gpu", path)
    script = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(script)
    out = tmp_path / "scenes-ldm"
    assert script.main(["--quick", "--out", str(out)]) == 0
    ckpt = checkpoint.load(out)
    assert ckpt.card["storage_dtype"] == "float16" and ckpt.card["phase_steps"] == {"ae": 2, "unet": 2}
    assert (out / "samples.png").stat().st_size > 0
    assert "--preset base" in " ".join(script.FULL) and "--max-seconds" in script.FULL


def test_two_runs_stepped_in_turn_keep_their_own_maps(engine):
    alone = list(engine.sample(PROMPT, n=1, seed=5, steps=3, guidance=2.0))
    a = engine.sample(PROMPT, n=1, seed=5, steps=3, guidance=2.0)
    b = engine.sample("两颗绿色的星星", n=1, seed=6, steps=3, guidance=2.0)
    mixed = [fa for fa, _ in zip(a, b)]
    for x, y in zip(alone, mixed):
        np.testing.assert_array_equal(x.attention, y.attention)
        np.testing.assert_array_equal(x.preview, y.preview)


def test_a_run_read_part_way_leaves_its_thread_unlocked_and_out_of_inference_mode(engine):
    """A reader that stops after the first frame (a closed page) must not leave the thread in
    inference mode (a model trained there next would get inference tensors) or holding the lock."""
    import threading

    from engines import runtime
    frames = engine.sample(["a red circle"], n=1, seed=0, steps=4, guidance=2.0)
    next(frames)
    assert not torch.is_inference_mode_enabled()
    took = []

    def other():
        got = runtime.COMPUTE_LOCK.acquire(timeout=2)
        took.append(got)
        if got:
            runtime.COMPUTE_LOCK.release()

    thread = threading.Thread(target=other)
    thread.start()
    thread.join()
    assert took == [True]
    frames.close()
