"""The diffusion tab's handlers, called in-process as the built app wires them (no server), on
tiny randomised checkpoints; and the engine methods the tab uses (forward, run, branch, Trajectory).

Handlers are looked up by api_name, so the wiring (which function, which inputs in which order,
the gr.Error wrapper) is what is tested. Every handler takes the session language first.
"""

from __future__ import annotations

import io
import math
import re
import time

import gradio as gr
import numpy as np
import pytest
import torch
from PIL import Image

from engines import runtime
from engines.diffusion import engine as dengine
from engines.diffusion.engine import Setting
from engines.errors import UserError
from tests.diffusion_fixtures import T_TINY, save_tiny_ddpm, zip_checkpoint
from tests.tab_fixtures import NoProgress, api_lookup

COND, UNCOND = "mnist-ddpm", "shapes-ddpm"
CJK = re.compile(r"[\u4e00-\u9fff]")
API_NAMES = ("diffusion_model", "diffusion_upload", "diffusion_forward", "diffusion_generate", "diffusion_stop",
             "diffusion_scrub", "diffusion_strip", "diffusion_export", "diffusion_branch", "diffusion_branch_stop",
             "diffusion_fork", "diffusion_fork_stop", "diffusion_fork_scrub")


@pytest.fixture(scope="module")
def assets(tmp_path_factory):
    root = tmp_path_factory.mktemp("assets")
    save_tiny_ddpm(root / COND, seed=0)
    save_tiny_ddpm(root / UNCOND, seed=1, channels=3, num_classes=None, schedule="cosine", examples=False)
    return root


@pytest.fixture(scope="module")
def demo(assets):
    import app

    return app.build_app(assets_dir=assets)


@pytest.fixture(scope="module")
def api(demo):
    return api_lookup(demo)


@pytest.fixture(scope="module")
def engine(assets):
    from demo import common

    return common.ENGINES.get("ddpm", assets / COND)


def _last(gen):
    out = None
    for out in gen:
        pass
    return out


def generate(api, lang="en", runs=None, model=COND, n=4, seed=0, sampler="ddim", steps=10, eta=0.0, label="all",
             guidance=2.0):
    return list(api("diffusion_generate")(lang, {}, runs, model, n, seed, sampler, steps, eta, label, guidance,
                                          NoProgress()))


def _message(excinfo) -> str:
    assert isinstance(excinfo.value, gr.Error), type(excinfo.value)
    return excinfo.value.message


# --- building and the model ---------------------------------------------------------------------


def test_the_tab_has_its_documented_events_and_inputs(api):
    missing = [n for n in API_NAMES if n not in api.fns]
    assert not missing, missing
    ids = [c.elem_id for c in api.fns["diffusion_generate"].inputs]
    assert ids[3:] == ["diffusion-model", "diffusion-batch", "diffusion-seed", "diffusion-sampler", "diffusion-steps",
                       "diffusion-eta", "diffusion-label", "diffusion-guidance"]
    assert [c.elem_id for c in api.fns["diffusion_scrub"].inputs][-1] == "diffusion-scrub"
    assert [c.elem_id for c in api.fns["diffusion_forward"].inputs][-3:] == [
        "diffusion-fwd-seed", "diffusion-fwd-t", "diffusion-fwd-schedule"]
    # Stop answers at once (no queue); the scrubber does not queue behind model work.
    assert api.fns["diffusion_stop"].queue is False and api.fns["diffusion_scrub"].queue is False
    assert api.fns["diffusion_generate"].concurrency_id == "long"  # long runs have their own group (common.LONG)
    assert api.fns["diffusion_forward"].concurrency_id == "gpu"


def test_the_default_model_and_its_controls(api, demo):
    model = next(b for b in demo.blocks.values() if getattr(b, "elem_id", None) == "diffusion-model")
    assert model.value == COND  # the conditional MNIST model when present
    out = api("diffusion_model")("en", {}, COND)
    card, examples, source, fwd_t, _schedule, *rest = out
    steps, labels, guidance = rest[:4], rest[4:7], rest[7:]
    assert "mnist-ddpm" in card and "3 classes" in card
    assert [v for _, v in examples["choices"]] == [0, 3, 1, 4, 2, 5]  # sorted by class
    assert source["value"] == "example"
    assert fwd_t["maximum"] == T_TINY and fwd_t["value"] == T_TINY  # the default t (300) clipped to T
    assert all(s["maximum"] == T_TINY for s in steps) and [s["value"] for s in steps] == [T_TINY] * 3 + [20]
    assert all(lbl["visible"] and [v for _, v in lbl["choices"]] == ["all", "none", "0", "1", "2"] for lbl in labels)
    assert all(g["visible"] for g in guidance) and guidance[0]["value"] == 2.0  # the card's default
    # An unconditional model hides the class and guidance controls; without examples it offers the sketchpad.
    out = api("diffusion_model")("zh", {}, UNCOND)
    assert out[2]["value"] == "sketch" and out[1]["choices"] == []
    assert out[4]["value"] == "cosine"
    assert not any(u["visible"] for u in out[9:])
    assert CJK.search(out[0]) and "无条件" in out[0]


# --- forward process ----------------------------------------------------------------------------


def test_forward_is_the_closed_form_with_one_fixed_noise(engine):
    image = engine.examples()[0][1]
    x0 = torch.from_numpy(image).permute(2, 0, 1)[None].float() / 255 * 2 - 1
    noise = torch.randn(x0.shape, generator=runtime.generator(7))
    abar = engine.process.alphas_cumprod
    for t in (1, 5, T_TINY):
        out = engine.forward(image, t, 7)
        xt = math.sqrt(abar[t - 1]) * x0 + math.sqrt(1 - abar[t - 1]) * noise
        np.testing.assert_allclose(out["values"], xt.reshape(-1).numpy(), atol=1e-5)
        assert out["abar"] == pytest.approx(float(abar[t - 1]))
        assert out["snr"] == pytest.approx(float(abar[t - 1] / (1 - abar[t - 1])))
        assert out["beta"] == pytest.approx(float(engine.process.betas[t - 1]))
    at0 = engine.forward(image, 0, 7)
    np.testing.assert_array_equal(at0["xt"], image)  # t = 0 is the image itself
    assert at0["snr"] == math.inf
    # The other schedule at the same T: cosine keeps more signal early on.
    assert engine.forward(image, 5, 7, "cosine")["abar"] > engine.forward(image, 5, 7, "linear")["abar"]
    sched = engine.schedules()
    assert set(sched) == {"linear", "cosine"} and len(sched["cosine"]["abar"]) == T_TINY
    np.testing.assert_allclose(sched["linear"]["abar"], abar.numpy())


def test_forward_handler_pictures_and_plots(api, engine):
    fwd = api("diffusion_forward")
    x0, noise, xt, hist, sched, caption = fwd("en", {}, COND, "example", 2, None, None, 3, 10, "linear")
    assert x0.shape == noise.shape == xt.shape and x0.shape[0] >= 190  # 8 px upscaled
    assert hist.ndim == 3 and sched.shape[1] > 2 * sched.shape[0]
    abar = float(engine.process.alphas_cumprod[9])
    assert "t = 10**" in caption and f"{abar:.4f}" in caption and f"{math.sqrt(abar):.3f}" in caption
    at0 = fwd("en", {}, COND, "example", 2, None, None, 3, 0, "linear")
    np.testing.assert_array_equal(at0[0], at0[2])
    assert not np.array_equal(at0[3], hist) and not np.array_equal(at0[4], sched)  # histogram and mark moved
    # Chinese captions; nothing to show yet for an upload that has not arrived.
    assert CJK.search(fwd("zh", {}, COND, "example", 2, None, None, 3, 10, "linear")[5])
    assert fwd("en", {}, COND, "upload", None, None, None, 3, 10, "linear") == (gr.skip(),) * 6


def test_forward_converts_an_image_of_another_size_and_mode(api, tmp_path):
    photo = tmp_path / "photo.png"
    rgb = np.zeros((30, 40, 3), np.uint8)
    rgb[8:22, 15:25] = (250, 40, 40)
    Image.fromarray(rgb).save(photo)
    out = api("diffusion_forward")("en", {}, COND, "upload", None, str(photo), None, 0, 5, "linear")
    assert "40×30 colour image was converted to the model's 8×8 grey input" in out[5]
    zh = api("diffusion_forward")("zh", {}, COND, "upload", None, str(photo), None, 0, 5, "linear")[5]
    assert "40×30" in zh and "转换" in zh


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_forward_bad_inputs_are_explained(api, tmp_path, lang):
    fwd = api("diffusion_forward")
    text = tmp_path / "digit.png"
    text.write_text("not an image")
    cases = [
        ((COND, "example", 0, None, None, 0, -1, "linear"), UserError("diffusion_timestep", value=-1, high=T_TINY)),
        ((COND, "example", 0, None, None, 0, T_TINY + 1, "linear"),
         UserError("diffusion_timestep", value=T_TINY + 1, high=T_TINY)),
        ((COND, "example", 0, None, None, 0, float("nan"), "linear"),
         UserError("diffusion_timestep", value=float("nan"), high=T_TINY)),
        ((COND, "upload", None, str(text), None, 0, 5, "linear"), None),
    ]
    for args, want in cases:
        with pytest.raises(gr.Error) as ei:
            fwd(lang, {}, *args)
        msg = _message(ei)
        if want is not None:
            assert msg == want.localized(lang)
        else:
            assert "digit.png" in msg
        assert bool(CJK.search(msg)) == (lang == "zh")


# --- reverse process ----------------------------------------------------------------------------


def test_generate_streams_then_opens_the_scrubber(api, engine):
    t0 = time.perf_counter()
    outs = generate(api, n=4, seed=3, steps=10)
    assert time.perf_counter() - t0 < 30
    first, final = outs[0], outs[-1]
    runs = final[0]
    traj = runs.main
    assert "step **1 / 10**" in first[1]  # the first step is streamed at once
    assert first[2].shape == first[3].shape == first[4].shape
    assert first[5] == gr.update(interactive=False)
    assert traj.done and traj.count == 10 and traj.num_frames == 11
    assert final[5]["maximum"] == 10 and final[5]["value"] == 10 and final[5]["interactive"]
    assert "The samples" in final[6] and "10 steps" in final[1]
    # The samples are exactly the engine's own sampler's with the same seed and setting.
    images, labels = engine.sample(4, 3, label="all", guidance=2.0, sampler="ddim", steps=10)
    np.testing.assert_array_equal(traj.final, images)
    np.testing.assert_array_equal(traj.labels, labels)
    # The strip defaults to evenly spaced timesteps from T to 0, and shows image 1.
    assert final[8].startswith(f"{T_TINY}, ") and final[8].endswith(", 0")
    assert final[7]["maximum"] == 4 and final[9].ndim == 3
    assert final[10]["visible"] and first[10] == gr.skip()  # the strip, export and branch appear


def test_scrubbing_shows_stored_steps_without_recomputing(api):
    runs = generate(api, n=2, seed=1, steps=8)[-1][0]
    traj = runs.main
    scrub = api("diffusion_scrub")
    from demo import diffusion_plots as plots

    times = []
    for k in range(traj.num_frames):
        t0 = time.perf_counter()
        xt, _eps, x0, caption = scrub("en", runs, k)
        times.append(time.perf_counter() - t0)
        f = traj.frame(k)
        np.testing.assert_array_equal(xt, plots.grid(f["x_t"]))
        np.testing.assert_array_equal(x0, plots.grid(f["x0"]))
        assert (f"t = {f['t']}" in caption) or "The samples" in caption
    assert max(times) < 0.1, times
    # Frame 0 is x_T, the last the samples; x_t of step k + 1 is x_prev of step k.
    assert traj.frame(0)["t"] == T_TINY and traj.frame(traj.num_frames - 1)["t"] == 0
    np.testing.assert_array_equal(traj.frame(traj.num_frames - 1)["x_t"], traj.final)
    with pytest.raises(gr.Error) as ei:
        scrub("zh", None, 0)
    assert _message(ei) == UserError("diffusion_no_run").localized("zh")


def test_ddpm_takes_every_step_and_the_class_steers_the_samples(api, engine):
    runs = generate(api, n=3, seed=0, sampler="ddpm", steps=1, label="1")[-1][0]
    assert runs.main.count == T_TINY and list(runs.main.labels) == [1, 1, 1]
    other = generate(api, n=3, seed=0, sampler="ddpm", label="2")[-1][0]
    assert not np.array_equal(runs.main.final, other.main.final)
    # The null label is the unconditional model: no labels, guidance unused.
    uncond = generate(api, n=3, seed=0, sampler="ddpm", label="none", guidance=7.0)[-1][0]
    assert uncond.main.labels is None and uncond.main.setting.guidance == 1.0
    # An unconditional model ignores the hidden class widgets.
    rgb = generate(api, model=UNCOND, n=2, label="1", guidance=9.0)[-1][0]
    assert rgb.main.labels is None and rgb.main.final.shape == (2, 8, 8, 3)


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_bad_sampling_settings_are_explained(api, lang):
    T = T_TINY
    cases = [
        ({"steps": 0}, UserError("diffusion_steps", max=T, value=0)),
        ({"steps": 100000}, UserError("diffusion_steps", max=T, value=100000)),
        ({"steps": float("nan")}, UserError("diffusion_steps", max=T, value=float("nan"))),
        ({"guidance": float("nan")}, UserError("diffusion_guidance", max=50.0, value=float("nan"))),
        ({"guidance": 1e9}, UserError("diffusion_guidance", max=50.0, value=1e9)),
        ({"eta": 2.0}, UserError("diffusion_eta", value=2.0)),
        ({"n": 0}, UserError("diffusion_batch", value=0, high=dengine.MAX_RUN_BATCH)),
        ({"n": 100000}, UserError("diffusion_batch", value=100000, high=dengine.MAX_RUN_BATCH)),
        ({"label": "7"}, UserError("diffusion_label", value=7, high=2)),
        ({"seed": -1}, UserError("value_out_of_range", what="seed", low=0, high=runtime.MAX_SEED, value=-1)),
        ({"sampler": "euler"}, UserError("diffusion_sampler", value="euler")),
    ]
    for kwargs, want in cases:
        with pytest.raises(gr.Error) as ei:
            generate(api, lang=lang, **kwargs)
        assert _message(ei) == want.localized(lang), kwargs
        assert ei.value.title == ("出错了" if lang == "zh" else "Error")
    # An unknown model (another session's upload) is refused clearly too.
    with pytest.raises(gr.Error) as ei:
        generate(api, lang=lang, model="upload:someone-else")
    assert "upload:someone-else" in _message(ei)


@pytest.fixture
def slow_steps(monkeypatch):
    """Steps of the tiny model take a few ms, so a Stop pressed after the first frame lands mid-run
    (the run steps ahead of the handler on the compute thread)."""
    from engines.diffusion.engine import Trajectory

    add = Trajectory.add

    def slow_add(self, step):
        time.sleep(0.01)
        add(self, step)

    monkeypatch.setattr(Trajectory, "add", slow_add)


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_stop_ends_the_run_and_keeps_what_was_computed(api, lang, slow_steps):
    gen = api("diffusion_generate")(lang, {}, None, COND, 2, 5, "ddpm", 1, 0.0, "all", 2.0, NoProgress())
    out = next(gen)
    runs = out[0]
    api("diffusion_stop")(runs)  # the Stop button, while the handler streams
    rest = list(gen)
    assert len(rest) == 1  # the next step was the last: the handler ends the run and shows it
    traj = runs.main
    done = traj.done_steps
    assert 0 < done < T_TINY and not traj.done
    status, scrub = rest[0][1], rest[0][5]
    if lang == "en":
        assert f"**Stopped** at step **{done} of {T_TINY}**" in status
    else:
        assert "停止" in status and f"{done} / {T_TINY}" in status
    assert scrub["maximum"] == max(traj.num_frames - 1, 1) and traj.num_frames == done
    _xt, _eps, _x0, caption = api("diffusion_scrub")(lang, runs, traj.num_frames - 1)
    assert f"{done - 1}" in caption
    # The next Generate is not stopped by the old press; Stop with no run does nothing.
    again = generate(api, runs=runs, n=2, steps=4)[-1][0]
    assert again.main.done
    assert api("diffusion_stop")(None) is None


def test_stop_ends_a_fork_and_a_branch(api, slow_steps):
    gen = api("diffusion_fork")("en", {}, None, COND, 2, 1, "all", "ddpm", 1, 0.0, 2.0, "ddim", 5, 0.0, 2.0,
                                NoProgress())
    runs = next(gen)[0]
    api("diffusion_fork_stop")(runs)
    final = list(gen)[-1]
    assert runs.fork[1] is None and not runs.fork[0].done
    assert "not run yet" in final[5]
    runs = generate(api, n=2, steps=10)[-1][0]
    gen = api("diffusion_branch")("en", {}, runs, COND, 1, "ddpm", 1, 0.0, "0", 2.0, NoProgress())
    next(gen)
    api("diffusion_branch_stop")(runs)
    status = list(gen)[-1][1]
    assert "**Stopped** at step" in status and not runs.branch.done


def test_a_long_run_is_stored_within_its_memory_bound(engine):
    n = 3
    frame_bytes = 3 * n * 8 * 8
    budget = frame_bytes * 6  # room for 6 frames of pictures
    traj = _last(engine.run(n, 0, Setting(sampler="ddpm"), max_bytes=budget))
    assert traj.done and traj.count == T_TINY
    assert traj.stride == math.ceil(T_TINY / 6) and traj.kept[0] == 0 and traj.kept[-1] == T_TINY - 1
    assert len(traj.kept) <= 7 and traj.num_frames == len(traj.kept) + 1
    pictures = sum(a.nbytes for lst in (traj.x_t, traj.eps, traj.x0) for a in lst)
    assert pictures <= budget + frame_bytes  # the last step is always kept
    assert sum(x.nbytes for x, _ in traj.points.values()) <= budget / 4 + 4 * n * 64
    assert all(a.dtype == np.uint8 for a in traj.x_t + traj.eps + traj.x0)
    # The default bound: 16 MiB of pictures, at most MAX_FRAMES frames.
    assert dengine.TRAJECTORY_BYTES == 16 * 2**20 and dengine.MAX_FRAMES == 250


@pytest.mark.parametrize("setting", [Setting(sampler="ddpm", label="all", guidance=2.0),
                                     Setting(sampler="ddim", steps=12, eta=0.5, label="all", guidance=2.0)])
def test_branching_with_the_same_setting_reproduces_the_run(engine, setting):
    # Few exact states (every 4th step), so most branch points are rebuilt by replaying.
    traj = _last(engine.run(3, 11, setting, max_bytes=4 * (3 * 64 * 4) * 5))  # 5 exact states
    assert traj.point_stride > 1
    for step in (0, 1, traj.point_stride + 1, traj.count - 1):
        b = _last(engine.branch(traj, step, setting))
        np.testing.assert_array_equal(b.final, traj.final)
        assert b.count == traj.count - step and b.parent[1] == step
    # Another setting from halfway starts where the run was and visits its own timesteps below there.
    half = traj.count // 2
    other = Setting(sampler="ddim", steps=5, label="0", guidance=5.0)
    b = _last(engine.branch(traj, half, other))
    np.testing.assert_array_equal(b.frame(0)["x_t"], traj.frame(half)["x_t"])
    assert b.ts[0] == traj.ts[half] and len(b.ts) == 1 + sum(t < traj.ts[half] for t in engine.process.spaced_timesteps(5))
    # Another class predicts another noise. (The tiny random network's samples blow up over the
    # steps, drowning the label, so this is compared at x_T.)
    b = _last(engine.branch(traj, 0, other))
    np.testing.assert_array_equal(b.frame(0)["x_t"], traj.frame(0)["x_t"])
    assert not np.array_equal(b.frame(0)["eps"], traj.frame(0)["eps"])
    with pytest.raises(UserError) as ei:
        engine.branch(traj, traj.count, setting)
    assert ei.value.key == "diffusion_branch_step"


def test_branch_handler(api):
    runs = generate(api, n=2, seed=4, steps=10)[-1][0]
    outs = list(api("diffusion_branch")("en", {}, runs, COND, 5, "ddpm", 1, 0.0, "0", 2.0, NoProgress()))
    status, start, original, result = outs[-1][1:]
    assert "Branched at step 5" in status and "DDPM-" in status and "class 0" in status
    assert runs.branch.done and runs.branch.count == runs.main.ts[5] + 1  # DDPM from there: every step
    assert start.shape == original.shape == result.shape
    from demo import diffusion_plots as plots

    np.testing.assert_array_equal(result, plots.grid(runs.branch.final, 220))
    np.testing.assert_array_equal(start, plots.grid(runs.main.frame(5)["x_t"], 220))
    # The last frame is the finished sample: nothing to continue.
    with pytest.raises(gr.Error) as ei:
        list(api("diffusion_branch")("zh", {}, runs, COND, 10, "ddim", 10, 0.0, "0", 2.0, NoProgress()))
    assert _message(ei) == UserError("diffusion_branch_step", value=10, high=9).localized("zh")
    # A run of another model cannot be branched with this one.
    with pytest.raises(gr.Error) as ei:
        list(api("diffusion_branch")("en", {}, runs, UNCOND, 2, "ddim", 10, 0.0, "0", 2.0, NoProgress()))
    assert _message(ei) == UserError("diffusion_branch_model").localized("en")


def test_strip_and_its_bad_inputs(api):
    runs = generate(api, n=3, seed=2, steps=10)[-1][0]
    strip = api("diffusion_strip")
    three = strip("en", runs, 2, f"{T_TINY}, 10, 0")
    five = strip("en", runs, 2, f"{T_TINY} 15，10、5 0")  # spaces and Chinese commas work too
    assert three.shape[0] == five.shape[0] and five.shape[1] > three.shape[1] * 1.5
    assert not np.array_equal(strip("en", runs, 1, "10"), strip("en", runs, 3, "10"))
    for lang in ("en", "zh"):
        for text in ("ten", "5, 99", ", ".join(["1"] * 13)):
            with pytest.raises(gr.Error) as ei:
                strip(lang, runs, 1, text)
            assert _message(ei) == UserError("diffusion_strip_timesteps", high=T_TINY, max=12,
                                             value=text[:60]).localized(lang)
        with pytest.raises(gr.Error) as ei:
            strip(lang, runs, 4, "")
        assert _message(ei) == UserError("diffusion_image_index", value=4, high=3).localized(lang)


def test_export_writes_a_gif_of_every_stored_frame(api):
    runs = generate(api, n=2, seed=2, steps=10)[-1][0]
    gif, mp4, note = api("diffusion_export")("en", runs)
    assert gif["visible"]
    with Image.open(gif["value"]) as im:
        assert im.format == "GIF" and im.n_frames == runs.main.num_frames
    from demo import diffusion_plots as plots

    if plots.mp4_available():
        assert mp4["visible"] and mp4["value"].endswith(".mp4")
    else:
        assert not mp4["visible"] and "imageio-ffmpeg" in note and "GIF" in note
        assert "imageio-ffmpeg" in api("diffusion_export")("zh", runs)[2]


def test_long_exports_are_subsampled(engine):
    from demo import diffusion_plots as plots

    traj = _last(engine.run(1, 0, Setting(sampler="ddpm")))
    old = plots.EXPORT_FRAMES
    plots.EXPORT_FRAMES = 5
    try:
        frames = plots.animation_frames(traj)
    finally:
        plots.EXPORT_FRAMES = old
    assert len(frames) == 5 and frames[0].shape == frames[-1].shape


# --- fork ---------------------------------------------------------------------------------------


def test_fork_runs_two_settings_from_one_seed(api):
    fork = api("diffusion_fork")
    outs = list(fork("en", {}, None, COND, 3, 9, "all", "ddpm", 1, 0.0, 2.0, "ddim", 5, 0.0, 0.0, NoProgress()))
    runs = outs[-1][0]
    a, b = runs.fork
    assert a.done and b.done and a.count == T_TINY and b.count == 5
    np.testing.assert_array_equal(a.frame(0)["x_t"], b.frame(0)["x_t"])  # the same x_T
    assert not np.array_equal(a.final, b.final)
    compare = outs[-1][-1]
    assert f"{T_TINY} steps" in compare and "5 steps" in compare and "grey levels" in compare
    # The progress slider shows both at the same fraction.
    _a_cap, a_xt, _a_x0, _b_cap, b_xt, _b_x0, _ = api("diffusion_fork_scrub")("en", runs, 0)
    np.testing.assert_array_equal(a_xt, b_xt)
    half = api("diffusion_fork_scrub")("en", runs, 50)
    assert f"Step 10 of {T_TINY}" in half[0] and "of 5" in half[3]
    # A bad setting on either side stops the fork before it starts.
    with pytest.raises(gr.Error) as ei:
        list(fork("zh", {}, None, COND, 3, 9, "all", "ddim", 5, 0.0, 2.0, "ddim", 0, 0.0, 0.0, NoProgress()))
    assert _message(ei) == UserError("diffusion_steps", max=T_TINY, value=0).localized("zh")


def test_fork_presets(demo):
    preset = next(f.fn for f in demo.fns.values() if getattr(f.fn, "__name__", "") == "fork_preset")
    assert preset("en", {}, COND, "samplers") == ("ddpm", T_TINY, 0.0, 2.0, "ddim", 20, 0.0, 2.0)
    assert preset("en", {}, COND, "guidance") == ("ddim", 20, 0.0, 0.0, "ddim", 20, 0.0, 3.0)


# --- uploads and languages ----------------------------------------------------------------------


def test_uploads_wrong_family_and_pickles_are_explained(api, tmp_path):
    from engines import vae
    from tests.conftest import save_tiny_checkpoint

    up = api("diffusion_upload")
    vae_dir = save_tiny_checkpoint(tmp_path / "a-vae", vae.Config(image_size=8, channels=1, latent_dim=2, widths=(4,),
                                                                 hidden=16))
    vae_zip = zip_checkpoint(vae_dir, tmp_path / "a-vae.zip")
    for lang in ("en", "zh"):
        out = up(lang, {}, [str(vae_zip)])
        want = UserError("checkpoint_wrong_family", family="vae", expected="ddpm").localized(lang)
        assert out[:2] == (gr.skip(), gr.skip()) and out[2] == "⚠️ " + want
    pt = tmp_path / "model.pt"
    pt.write_bytes(b"\x80\x04K\x01.")
    assert "pickle" in up("en", {}, [str(pt)])[2]
    # A good upload joins this session's list, is selected, and samples.
    good = zip_checkpoint(save_tiny_ddpm(tmp_path / "my-ddpm", seed=5), tmp_path / "my-ddpm.zip")
    uploads, model, status, files = up("en", {}, [str(good)])
    assert model["value"] == "upload:my-ddpm" and "my-ddpm" in status and files is None
    assert ("my-ddpm (uploaded)", "upload:my-ddpm") in model["choices"]
    runs = list(api("diffusion_generate")("en", uploads, None, "upload:my-ddpm", 2, 0, "ddim", 5, 0.0, "1", 2.0,
                                          NoProgress()))[-1][0]
    assert runs.main.done


def test_language_switch_updates_the_tab(api, demo):
    from demo import i18n

    outs = api("set_language")("zh")
    assert outs[0] == "zh"
    texts = [u.get("label") or u.get("value") for u in outs[1:] if isinstance(u, dict)]
    for key in ("diffusion.tab", "diffusion.sub.forward", "diffusion.generate", "diffusion.fwd.t", "diffusion.scrub"):
        assert i18n.t(key, "zh") in texts, key
    # Every diffusion string exists in both languages, with the same fields.
    import string

    fmt = string.Formatter()
    for key, (en, zh) in i18n.STRINGS.items():
        if key.startswith("diffusion.") and key != "diffusion.explain.body":
            assert {f for _, f, _, _ in fmt.parse(en) if f} == {f for _, f, _, _ in fmt.parse(zh) if f}, key
            assert CJK.search(zh) or not re.search(r"[A-Za-z]{4,}", zh.replace("DDPM", "").replace("DDIM", "")
                                                   .replace("imageio", "").replace("ffmpeg", "")), key


def test_sessions_keep_their_own_runs(api):
    a = generate(api, n=2, seed=1, steps=5)[-1][0]
    b = generate(api, n=2, seed=2, steps=5)[-1][0]
    assert a is not b and a.main is not b.main
    assert not np.array_equal(a.main.final, b.main.final)


def test_streamed_png_is_small(api):
    out = generate(api, n=16, seed=0, steps=3)[0]
    buf = io.BytesIO()
    Image.fromarray(out[2]).save(buf, "PNG")
    assert buf.tell() < 200_000


def test_forward_histogram_redraws_only_what_t_changes():
    from demo import diffusion_plots as plots

    rng = np.random.default_rng(0)
    x0 = np.where(rng.uniform(size=784) < 0.8, -1.0, 1.0)
    early, late = x0 + 0.05 * rng.normal(size=784), rng.normal(size=784)
    a = plots.histogram(early, 10, "en", start=x0)
    b = plots.histogram(late, 900, "en", start=x0)
    again = plots.histogram(early, 10, "en", start=x0)
    np.testing.assert_array_equal(a, again)  # nothing of the later draw is left behind
    assert a.shape == b.shape and np.abs(a.astype(int) - b.astype(int)).max() > 100
    # Another x_0 is another figure (its outline and y range); the cache keeps a few.
    other = plots.histogram(early, 10, "en", start=-x0)
    assert np.abs(other.astype(int) - a.astype(int)).max() > 50
    for k in range(plots._HISTOGRAMS_KEPT + 3):
        plots.histogram(late, 5, "en", start=x0 * (1 - k / 100))
    assert len(plots._HISTOGRAMS) <= plots._HISTOGRAMS_KEPT
