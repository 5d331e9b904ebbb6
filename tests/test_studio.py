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
            "lr": {"vae": 3e-3, "ddpm": 2e-3, "stylegan": 2e-3, "clip": 3e-3}[family]}
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


def test_same_recipe_same_run():
    a, _ = run(studio.prepare(tiny("vae", steps=5)))
    b, _ = run(studio.prepare(tiny("vae", steps=5)))
    assert [h["loss"] for h in a.history] == [h["loss"] for h in b.history]


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
