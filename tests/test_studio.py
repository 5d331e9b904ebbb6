"""engines.studio: recipes per family, checks, user zips, previews, NaN, save / continue / resume."""

from __future__ import annotations

import dataclasses
import io
import threading
import zipfile

import numpy as np
import pytest
import torch
from PIL import Image

from engines import checkpoint, studio
from engines.errors import UserError
from engines.jobs import JobManager

WAIT = 30.0


def tiny(family: str, **kw) -> studio.Recipe:
    """A seeded recipe on 64 procedural images that runs in a second or two on a CPU."""
    base = {"family": family, "dataset": "shapes", "size": "tiny", "steps": 30, "batch_size": 16,
            "n_images": 64, "preview_every": 0, "seed": 0,
            "lr": {"vae": 3e-3, "ddpm": 2e-3, "stylegan": 2e-3, "clip": 3e-3, "pixelcnn": 3e-3, "vqvae": 2e-3}[family]}
    return studio.Recipe(**{**base, **kw})


def run(plan: studio.Plan, stop: threading.Event | None = None):
    trainer = plan.make_trainer(stop or threading.Event())
    events = list(trainer.run())
    return trainer, events


def mean_of(history, key, sl):
    values = [h[key] for h in history[sl]]
    return sum(values) / len(values)


@pytest.fixture(autouse=True)
def _one_thread():
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


# --- each family learns -------------------------------------------------------------------------

@pytest.mark.parametrize("family", ["vae", "ddpm"])
def test_each_familys_loss_falls_over_a_short_seeded_run(family):
    trainer, events = run(studio.prepare(tiny(family)))
    assert events[-1].kind == "done" and trainer.step == 30
    first, last = mean_of(trainer.history, "loss", slice(0, 3)), mean_of(trainer.history, "loss", slice(-3, None))
    assert last < first - 0.2 * abs(first), (first, last)


def test_the_gan_discriminator_learns_and_the_generator_answers():
    trainer, events = run(studio.prepare(tiny("stylegan", steps=30)))
    assert events[-1].kind == "done"
    h = trainer.history
    # D's logistic loss starts at chance, 2 ln 2, and falls as D learns to tell real from fake;
    # G's loss rises from ln 2 as its fakes are spotted (it is what G then minimises).
    assert abs(h[0]["D_loss"] - 2 * np.log(2)) < 0.05
    assert mean_of(h, "D_loss", slice(-5, None)) < 2 * np.log(2) - 0.1
    assert mean_of(h, "G_loss", slice(-5, None)) > np.log(2)


def test_the_clip_learns_which_caption_is_whose(mnist_dir):
    plan = studio.prepare(tiny("clip", dataset="mnist", steps=80, batch_size=32, n_images=256), data_dir=mnist_dir)
    trainer, events = run(plan)
    assert events[-1].kind == "done"
    # InfoNCE over 32 captions starts near ln 32 (every caption equally likely) and falls as
    # images and their true captions move together.
    assert abs(mean_of(trainer.history, "loss", slice(1, 4)) - np.log(32)) < 0.2
    assert mean_of(trainer.history, "loss", slice(-5, None)) < np.log(32) - 0.15
    assert mean_of(trainer.history, "i2t_acc", slice(-5, None)) > 0.15   # chance: about 1 in 10 digits


def test_the_clip_still_learns_digits_with_hard_negatives_on(mnist_dir, monkeypatch):
    # Hard negatives are made for shapes images only; on digits alone they must change nothing.
    # (When their random draws came from the trainer's generator, this run stayed at chance.)
    import functools

    from engines.clip import train as ct

    monkeypatch.setattr(ct, "make_loss", functools.partial(ct.make_loss, negatives=True))
    plan = studio.prepare(tiny("clip", dataset="mnist", steps=80, batch_size=32, n_images=256), data_dir=mnist_dir)
    trainer, _ = run(plan)
    assert mean_of(trainer.history, "loss", slice(-5, None)) < np.log(32) - 0.15


def test_same_recipe_same_run():
    # To float rounding: on a CPU the micro-batches are sized by measured time, and sums in another
    # grouping round differently (engines.train); the random numbers and batches are the same.
    a, _ = run(studio.prepare(tiny("vae", steps=5)))
    b, _ = run(studio.prepare(tiny("vae", steps=5)))
    np.testing.assert_allclose([h["loss"] for h in a.history], [h["loss"] for h in b.history], rtol=1e-5)


# --- previews ----------------------------------------------------------------------------------

@pytest.mark.parametrize("family", studio.FAMILIES)
def test_previews_draw_from_fixed_seeds(family):
    plan = studio.prepare(tiny(family, steps=2, preview_every=1))
    trainer, events = run(plan)
    grids = [e.preview for e in events if e.preview is not None]
    assert len(grids) == 3 and all(g.dtype == np.uint8 and g.ndim == 3 for g in grids)
    again = plan.make_preview(None)
    with torch.no_grad():
        first, second = again(trainer.final_model()), again(trainer.final_model())
    np.testing.assert_array_equal(first, second)      # same weights, same seeds: the same grid
    assert not np.array_equal(grids[0], grids[1])     # a step later the same seeds look different


def test_a_diffusion_preview_gives_up_when_stopped():
    plan = studio.prepare(tiny("ddpm", steps=1))
    stop = threading.Event()
    stop.set()
    assert plan.make_preview(stop)(plan.model.eval()) is None


# --- checks and data ---------------------------------------------------------------------------

@pytest.mark.parametrize("field, value, key", [
    ("lr", 1e9, "studio_value"), ("lr", 0.0, "studio_value"), ("lr", float("nan"), "studio_value"),
    ("steps", -5, "studio_value"), ("steps", 2.5, "studio_integer"), ("batch_size", 0, "studio_value"),
    ("batch_size", 100_000, "studio_value"), ("p_uncond", 1.5, "studio_value"), ("beta", -1, "studio_value"),
    ("r1_gamma", float("inf"), "studio_value"), ("n_images", 10**9, "studio_value"), ("seed", -1, "studio_value"),
    ("lr", "fast", "studio_value"), ("family", "gpt", "studio_choice"), ("dataset", "imagenet", "studio_choice"),
    ("size", "huge", "studio_choice"), ("dataset", "toy2d", "studio_toy2d"),
])
def test_absurd_settings_are_refused_in_both_languages(field, value, key):
    with pytest.raises(UserError) as err:
        studio.check(dataclasses.replace(tiny("vae"), **{field: value}))
    assert err.value.key == key
    en, zh = str(err.value), err.value.localized("zh")
    assert en != zh and "{" not in en + zh
    if key == "studio_value":
        assert err.value.params["what_zh"] in zh and err.value.params["what_en"] in en


def test_defaults_fit_the_device_and_pass_their_own_check():
    for family in studio.FAMILIES:
        r = studio.defaults(family, torch.device("cpu"))
        assert studio.check(r) == r and r.size == "tiny"
        g = studio.defaults(family, torch.device("cuda"))
        assert g.batch_size > r.batch_size and g.steps > r.steps


def _zip(path, files: dict[str, bytes]):
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        for name, data in files.items():
            z.writestr(name, data)
    return path


def _png(colour) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (20, 20), colour).save(buf, "PNG")
    return buf.getvalue()


def test_a_zip_of_non_images_says_so(tmp_path):
    path = _zip(tmp_path / "notes.zip", {"a.txt": b"hello", "b.csv": b"1,2"})
    with pytest.raises(UserError) as err:
        studio.prepare(tiny("vae", dataset="zip"), zip_path=path)
    assert err.value.key == "folder_empty" and "a.txt" in str(err.value)
    assert err.value.localized("zh") != str(err.value)


def test_a_bomb_sized_zip_is_refused_before_it_is_read(tmp_path):
    path = tmp_path / "bomb.zip"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("big.png", b"\0" * (210 * 2**20))   # 210 MB of zeros compress to about 200 KB
    with pytest.raises(UserError) as err:
        studio.prepare(tiny("vae", dataset="zip"), zip_path=path)
    assert err.value.key == "archive_unsafe" and "200 MB" in str(err.value)


def test_no_zip_or_not_a_zip(tmp_path):
    with pytest.raises(UserError) as err:
        studio.prepare(tiny("vae", dataset="zip"))
    assert err.value.key == "studio_zip_missing"
    (tmp_path / "x.pt").write_bytes(b"\x80\x04")
    with pytest.raises(UserError) as err:
        studio.prepare(tiny("vae", dataset="zip"), zip_path=tmp_path / "x.pt")
    assert err.value.key == "upload_unsupported"


def test_the_clip_needs_captioned_data(tmp_path):
    for dataset in ("faces", "zip"):
        with pytest.raises(UserError) as err:
            studio.check(tiny("clip", dataset=dataset))
        assert err.value.key == "studio_clip_data" and "mnist, shapes" in err.value.localized("zh")


@pytest.mark.parametrize("family", ["vae", "stylegan", "ddpm"])
def test_a_data_set_of_one_image_trains(tmp_path, family):
    path = _zip(tmp_path / "one.zip", {"only.png": _png((200, 40, 40))})
    plan = studio.prepare(tiny(family, dataset="zip", steps=3), zip_path=path)
    assert plan.images.shape == (1, 3, 32, 32)
    trainer, events = run(plan)
    assert events[-1].kind == "done" and trainer.step == 3


def test_mnist_needs_its_files(monkeypatch, tmp_path):
    monkeypatch.delenv("GENLAB_DATA_DIR", raising=False)
    with pytest.raises(UserError) as err:
        studio.prepare(tiny("vae", dataset="mnist"), data_dir=tmp_path)
    assert err.value.key == "mnist_missing"


# --- NaN, save, continue, resume ---------------------------------------------------------------

def test_a_nan_loss_stops_the_run_with_the_last_good_weights():
    plan = studio.prepare(tiny("vae", steps=50))
    good = plan.loss
    kept = {}

    def poisoned(model, batch, gen, step):
        if step == 4:
            kept.update({k: v.detach().clone() for k, v in model.state_dict().items()})
            loss, logs = good(model, batch, gen, step)
            return loss * float("nan"), logs
        return good(model, batch, gen, step)

    plan.loss = poisoned
    jobs = JobManager(max_running=1, max_queued=0)
    try:
        job = jobs.submit("s", "nan", plan.make_trainer)
        assert job.wait(WAIT)
        assert job.status == "nan" and job.message.key == "training_nan" and job.message.params["step"] == 4
        for k, v in job.result.state_dict().items():
            assert torch.equal(v, kept[k]), k
    finally:
        jobs.shutdown()


@pytest.mark.parametrize("family", studio.FAMILIES)
def test_a_saved_model_opens_in_its_family_engine_and_continues(tmp_path, family):
    plan = studio.prepare(tiny(family, steps=4))
    run(plan)
    folder = studio.save(plan, tmp_path / "m", name=f"my-{family}", wall_time_s=1.0)
    ckpt = checkpoint.load(folder, expect_family=family)
    assert ckpt.card["steps"] == 4 and ckpt.card["studio"]["family"] == family
    if family == "clip":  # the CLIP tab's loader
        from engines.clip.backends import load_backend

        emb = load_backend(folder).encode_texts(["a red circle", "数字七"])
        assert tuple(emb.shape) == (2, plan.config.embed_dim)
    else:
        engine = checkpoint.family_module(family).Engine(ckpt)
        images, _ = engine.sample(2, 0) if family != "stylegan" else (engine.generate([0, 1], 1.0), None)
        assert images.dtype == np.uint8 and images.shape[0] == 2
    # Continue: the recipe comes back from the card, the weights from the file.
    recipe = studio.recipe_from_card(ckpt)
    assert recipe == plan.recipe
    again = studio.prepare(dataclasses.replace(recipe, steps=2), init=ckpt)
    for k, v in again.model.state_dict().items():
        assert torch.equal(v, plan.model.state_dict()[k].cpu()), k
    trainer, events = run(again)
    assert (again.steps_before, trainer.step, events[-1].kind) == (4, 6, "done")


def test_a_checkpoint_on_other_data_is_refused(tmp_path):
    plan = studio.prepare(tiny("vae", steps=1))
    ckpt = checkpoint.load(studio.save(plan, tmp_path / "m", name="m"))
    with pytest.raises(UserError) as err:
        studio.prepare(tiny("vae", dataset="faces", size="base"), init=ckpt)
    assert err.value.key == "studio_data_mismatch"


def test_resume_goes_on_with_the_same_weights_and_optimiser_state():
    plan = studio.prepare(tiny("vae", steps=5))
    first, _ = run(plan)
    moments = first.opts[0].state_dict()["state"][0]["exp_avg"].clone()
    studio.resume(plan, dataclasses.replace(plan.recipe, steps=3, lr=1e-3))
    second, events = run(plan)
    assert second is not first and second.model is first.model
    assert second.step == 8 and events[0].step == 6
    assert second.opts[0].param_groups[0]["lr"] == pytest.approx(1e-3)
    # Adam's moments went on from the first run's (not from zero).
    state = second.opts[0].state_dict()["state"][0]
    assert int(state["step"]) == 8 and not torch.equal(state["exp_avg"], moments)
    with pytest.raises(UserError) as err:
        studio.resume(plan, dataclasses.replace(plan.recipe, dataset="faces"))
    assert err.value.key == "studio_resume_changed" and "dataset" in str(err.value)


# --- micro-batches and the downloaded trainer state ---------------------------------------------

def train_copy(plan: studio.Plan, model: torch.nn.Module, chunk, steps: int, loss=None, first: int = 0):
    """Steps `first` .. `steps` - 1 of the plan's loss on a copy of its model, whole (chunk None) or
    in micro-batches of about `chunk` s of work (1e-9: the smallest the split allows)."""
    from engines.train import Trainer

    config = dataclasses.replace(plan.train_config(steps=steps, seed=3, warmup=False), chunk_seconds=chunk)
    torch.manual_seed(7)  # dropout masks come from torch's global generator
    trainer = Trainer(model, loss or plan.loss, plan.images, config, labels=plan.labels,
                      split=studio.split_for(plan.family, model), cached=studio.CACHED.get(plan.family, ()),
                      device=torch.device("cpu"))
    trainer.step = first
    assert list(trainer.run())[-1].kind == "done"
    return trainer


@pytest.mark.parametrize("family, size, batch, augment, first, steps", [
    ("vae", "tiny", 12, None, 0, 3), ("ddpm", "tiny", 12, None, 0, 3),
    ("ddpm", "small", 6, None, 0, 2),                                   # small: dropout
    ("stylegan", "tiny", 12, None, 0, 1),                               # step 0: with lazy R1
    ("stylegan", "tiny", 12, None, 1, 2),                               # step 1: without
    ("stylegan", "tiny", 10, None, 0, 1),                               # 10: groups of 2
    ("stylegan", "tiny", 12, "translation,cutout", 0, 1)])              # DiffAugment's draws
def test_micro_batches_give_each_familys_step(family, size, batch, augment, first, steps):
    # Each family's loss (means over the batch, StyleGAN's lazy R1 and its w_avg running mean, its
    # D then G phases, the minibatch stddev groups, DiffAugment's per-image draws): a step in
    # micro-batches is the step on the whole batch, to float rounding: the same gradients (Adam's
    # first moments, relative to their largest), losses, buffers. (StyleGAN's weights are not
    # compared: Adam's first steps move every weight by about lr whatever the size of its gradient,
    # and the mapping network has gradients near zero whose sign is rounding.)
    import copy

    from engines import stylegan

    plan = studio.prepare(tiny(family, size=size, batch_size=batch, n_images=40))
    loss = None
    if augment:
        loss = stylegan.make_phases(dataclasses.replace(plan.config, augment=augment), lr=2e-3)
    start = copy.deepcopy(plan.model)
    whole = train_copy(plan, copy.deepcopy(start), None, steps, loss=loss, first=first)
    split = train_copy(plan, copy.deepcopy(start), 1e-9, steps, loss=loss, first=first)
    assert whole.chunk_counts == [1] * len(whole.phases)
    assert min(split.chunk_counts) >= 3 and not split._whole
    a, b, s0 = whole.model.state_dict(), split.model.state_dict(), start.state_dict()
    for k in a:
        if family != "stylegan" or not k.endswith(("weight", "bias", "const")):
            torch.testing.assert_close(a[k], b[k], atol=1e-5, rtol=1e-4, msg=k)
    assert max(float((a[k] - s0[k]).abs().max()) for k in a if a[k].is_floating_point()) > 1e-3  # they moved
    for opt_a, opt_b in zip(whole.opts, split.opts):
        for sa, sb in zip(opt_a.state_dict()["state"].values(), opt_b.state_dict()["state"].values()):
            scale = float(sa["exp_avg"].abs().max()) + 1e-12
            torch.testing.assert_close(sa["exp_avg"] / scale, sb["exp_avg"] / scale, atol=1e-4, rtol=1e-4)
    if family == "stylegan":
        assert not torch.equal(a["G.mapping.w_avg"], s0["G.mapping.w_avg"])
        assert ("D_r1" in whole.history[-1]) == (first == 0) == ("D_r1" in split.history[-1])
        assert whole.history[-1]["D_loss"] == pytest.approx(split.history[-1]["D_loss"], rel=1e-5)


def test_stylegan_micro_batches_keep_the_discriminators_groups():
    plan = studio.prepare(tiny("stylegan", batch_size=24))
    D = plan.model.D.eval()
    split = studio.split_for("stylegan", plan.model)
    x = plan.images[:24].float() / 255 * 2 - 1  # the plan keeps uint8 images
    with torch.no_grad():
        whole = D(x)
        start, seen = 0, []
        while start is not None:
            idx, start = split(24, start, 8)
            assert len(idx) == 8
            torch.testing.assert_close(D(x[idx]), whole[idx])
            seen += idx.tolist()
    assert sorted(seen) == list(range(24))
    assert studio.split_for("clip", None) is None   # InfoNCE: whole steps


def test_the_clips_gradient_cache_gives_its_step():
    # InfoNCE is over the whole batch: its step runs as a gradient cache (embeddings without
    # gradients, the loss's gradient with respect to them, then the towers again in micro-batches of
    # rows). The same gradients as the whole step, the temperature's included.
    import copy

    plan = studio.prepare(tiny("clip", batch_size=12, n_images=40))
    assert studio.split_for("clip", plan.model) is None
    start = copy.deepcopy(plan.model)
    whole = train_copy(plan, copy.deepcopy(start), None, 2)
    split = train_copy(plan, copy.deepcopy(start), 1e-9, 2)
    assert whole.chunk_counts == [1] and split.chunk_counts[0] >= 12
    # Adam's moments, against the largest (the attention's key bias has a gradient of exactly zero
    # in theory, rounding in practice, which Adam turns into an lr-sized move: weights not compared).
    ma, mb = (torch.cat([st["exp_avg"].flatten() for st in t.opts[0].state_dict()["state"].values()])
              for t in (whole, split))
    torch.testing.assert_close(ma / ma.abs().max(), mb / ma.abs().max(), atol=1e-4, rtol=1e-4)
    np.testing.assert_allclose([h["loss"] for h in whole.history], [h["loss"] for h in split.history], rtol=1e-5)
    assert whole.model.logit_scale.item() == pytest.approx(split.model.logit_scale.item(), rel=1e-5)
    assert not any("encode_image" in vars(m) for m in (plan.model, split.model))


def test_a_resnet_clips_gradient_cache_gives_its_step(tmp_path):
    # A CLIP with open_clip's ModifiedResNet tower (the shipped one has it), continued in the studio:
    # its BatchNorm layers keep their running statistics, so the gradient cache is exact here too.
    import copy

    from engines import clip

    config = clip.Config(vision="resnet", vision_width=8, vision_layers=1, text_width=32, text_layers=1,
                         embed_dim=32)
    torch.manual_seed(0)
    model = clip.build(config)
    folder = tmp_path / "rn"
    checkpoint.save(folder, model=model, config=config, family="clip", card={"name": "rn", "steps": 0})
    plan = studio.prepare(tiny("clip", batch_size=12, n_images=40), init=checkpoint.load(folder))
    assert plan.config.vision == "resnet" and plan.model.genlab_frozen_norms
    assert not any(m.training for m in plan.model.modules() if isinstance(m, torch.nn.BatchNorm2d))
    start = copy.deepcopy(plan.model)
    whole = train_copy(plan, copy.deepcopy(start), None, 2)
    split = train_copy(plan, copy.deepcopy(start), 1e-9, 2)
    assert split.chunk_counts[0] >= 12
    ma, mb = (torch.cat([st["exp_avg"].flatten() for st in t.opts[0].state_dict()["state"].values()])
              for t in (whole, split))
    torch.testing.assert_close(ma / ma.abs().max(), mb / ma.abs().max(), atol=1e-4, rtol=1e-4)
    sd = whole.model.state_dict()
    assert all(torch.equal(v, sd[k]) for k, v in start.state_dict().items() if "running_" in k)


@pytest.mark.parametrize("family", ["vae", "stylegan"])
def test_a_downloaded_checkpoint_resumes_exactly(tmp_path, family, monkeypatch):
    # N steps, the tab's download (trainer state in the safetensors file and the card), upload,
    # Resume for M: the same weights and Adam moments as N + M steps in one go, bit for bit. (Whole
    # steps: micro-batches sized by measured time would group the sums differently in each run, and
    # Adam turns such rounding into lr-sized moves within a few GAN steps; micro-batches are tested
    # against whole steps above.)
    monkeypatch.setattr(studio, "CHUNK_S", None)
    n, m = 3, 3
    one_go = studio.prepare(tiny(family, steps=n + m))
    run(one_go)
    first = studio.prepare(tiny(family, steps=n))
    run(first)
    folder = studio.save(first, tmp_path / "dl", name="dl", trainer_state=True)
    ckpt = checkpoint.load(folder)
    assert ckpt.card["trainer"]["step"] == n and any(k.startswith("trainer/opt.") for k in ckpt.aux)
    assert {p.name for p in folder.iterdir()} == {"config.json", "model.safetensors", "card.json"}
    again = studio.prepare(studio.recipe_from_card(ckpt), init=ckpt)
    studio.resume(again, dataclasses.replace(again.recipe, steps=m))
    trainer, events = run(again)
    assert events[-1].kind == "done" and trainer.step == n + m
    assert not trainer.micro_batching
    for k, v in one_go.model.state_dict().items():
        assert torch.equal(again.model.state_dict()[k], v), k
    for opt_a, opt_b in zip(one_go.trainer.opts, trainer.opts):
        sta, stb = opt_a.state_dict()["state"], opt_b.state_dict()["state"]
        assert sta.keys() == stb.keys()
        for key in sta:
            sa, sb = sta[key], stb[key]
            assert int(sa["step"]) == int(sb["step"]) == n + m
            assert torch.equal(sa["exp_avg"], sb["exp_avg"]) and torch.equal(sa["exp_avg_sq"], sb["exp_avg_sq"])
    # Without the state (a plain save) it still continues, from fresh moments.
    plain = checkpoint.load(studio.save(first, tmp_path / "plain", name="plain"))
    assert "trainer" not in plain.card and studio.prepare(studio.recipe_from_card(plain), init=plain).trainer_state is None
