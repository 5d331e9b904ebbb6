"""The training tab's handlers: sessions apart, Stop within a second, the queue answers, keeping models."""

from __future__ import annotations

import time
import types

import gradio as gr
import pytest
import torch

from demo import train_tab as T
from demo.common import Models, delete_uploads, is_trained
from engines import checkpoint, studio
from engines.errors import UserError
from engines.jobs import JobManager

WAIT = 30.0


def req(sid: str):
    return types.SimpleNamespace(session_hash=sid)


def values(**kw) -> dict:
    """The recipe widgets' values by name, as the handlers receive them (Gradio's inputs_kwargs)."""
    base = {"family": "vae", "dataset": "shapes", "size": "tiny", "steps": 20, "batch_size": 16, "n_images": 64,
            "preview_every": 5, "lr": 3e-3}
    return {f: getattr(studio.Recipe(**{**base, **kw}), f) for f in T.RECIPE_FIELDS}


def wait_for(cond, timeout=WAIT):
    end = time.perf_counter() + timeout
    while not cond():
        assert time.perf_counter() < end, "not reached in time"
        time.sleep(0.02)


@pytest.fixture
def tab():
    torch.set_num_threads(1)
    jobs = JobManager(max_running=2, max_queued=1)
    yield T.positional(T.TrainHandlers(jobs))  # outputs in the order Gradio shows them
    jobs.shutdown(5)


def test_two_sessions_train_different_models_without_seeing_each_other(tab):
    a = tab.start("en", None, None, req("alice"), **values(family="vae"))[0]
    b = tab.start("zh", None, None, req("bob"), **values(family="ddpm", steps=15))[0]
    assert a is not b and a.job is not b.job
    assert a.job.wait(WAIT) and b.job.wait(WAIT)
    status_a, stats_a, plot_a, preview_a, timer = tab.tick("en", a, request=req("alice"))
    status_b, _, plot_b, _, _ = tab.tick("zh", b, request=req("bob"))
    assert "vae-shapes" in status_a and "20" in stats_a and "ddpm-shapes" in status_b and "完成" in status_b
    frame_a, frame_b = plot_a["value"], plot_b["value"]
    assert set(frame_a["term"]) == {"loss", "recon", "kl"} and set(frame_b["term"]) == {"loss"}
    assert frame_a["step"].max() == 20 and frame_b["step"].max() == 15
    # The y range leaves out the run's first tenth (a VAE's loss starts far above where it goes).
    later = frame_a["value"][frame_a["step"] >= 2]
    assert plot_a["y_lim"][0] <= later.min() and plot_a["y_lim"][1] >= later.max()
    assert preview_a["value"] is not None and timer.active is False
    # A session's state handed to another session's request is not that session's.
    assert tab.session(a, req("bob")) is b
    assert [j.name for j in tab.jobs.jobs_for("alice")] == ["vae-shapes"]
    # Each keeps its own model, in its own uploads.
    up_a, note = tab.use("en", a, {}, "mine", request=req("alice"))
    up_b, _ = tab.use("zh", b, {}, "mine", request=req("bob"))
    assert list(up_a) == ["vae"] and list(up_b) == ["ddpm"] and "VAE" in note
    folder = up_a["vae"]["mine"]
    assert is_trained(folder) and checkpoint.load(folder).card["studio"]["family"] == "vae"
    assert ("mine (trained here)", "upload:mine") in Models("vae").choices(up_a, "en")
    assert Models("vae").choices(up_b, "en") == Models("vae").choices({}, "en")
    delete_uploads(up_a)
    delete_uploads(up_b)


def test_stop_takes_effect_within_a_second_and_keeps_the_weights(tab):
    sess = tab.start("en", None, None, req("s"), **values(steps=100_000, preview_every=0))[0]
    wait_for(lambda: sess.plan.trainer is not None and sess.plan.trainer.step >= 3)
    before = {k: v.clone() for k, v in sess.plan.model.state_dict().items()}
    taken_at = sess.plan.trainer.step
    wait_for(lambda: sess.plan.trainer.step > taken_at + 1)  # a whole step since the copy
    t0 = time.perf_counter()
    status, *_, timer = tab.stop("en", sess, request=req("s"))  # answers once the run has ended
    assert time.perf_counter() - t0 < 1.0 and sess.job.finished
    assert sess.job.status == "stopped" and "stopped" in status and timer.active is False
    assert any(not torch.equal(v, before[k]) for k, v in sess.plan.model.state_dict().items())
    assert sess.job.result is sess.plan.model and sess.plan.step >= 3
    # ... and Resume goes on from there.
    step = sess.plan.step
    tab.resume("en", sess, None, req("s"), **values(steps=4, preview_every=0))
    assert sess.job.wait(WAIT) and sess.plan.step == step + 4


def test_the_queue_answers_at_once_instead_of_hanging():
    jobs = JobManager(max_running=1, max_queued=1)
    tab = T.positional(T.TrainHandlers(jobs))
    try:
        first = tab.start("en", None, None, req("a"), **values(steps=100_000))[0]
        second = tab.start("en", None, None, req("b"), **values(steps=3))[0]
        status, *_ = tab.tick("en", second, request=req("b"))
        assert "**1** run(s) ahead of you" in status
        assert "前面还有 **1**" in tab.tick("zh", second, request=req("b"))[0]
        t0 = time.perf_counter()
        with pytest.raises(UserError) as err:
            tab.start("en", None, None, req("c"), **values())
        assert time.perf_counter() - t0 < 0.5 and err.value.key == "jobs_busy"
        assert err.value.params["ahead"] == 2
        with pytest.raises(UserError) as err:   # one run per session
            tab.start("en", first, None, req("a"), **values())
        assert err.value.key == "job_already_running"
        tab.stop("en", first, request=req("a"))
        assert second.job.wait(WAIT) and second.job.status == "done"
    finally:
        jobs.shutdown(5)


def test_closing_the_tab_stops_the_run_and_frees_the_model(tab):
    sess = tab.start("en", None, None, req("gone"), **values(steps=100_000))[0]
    job = sess.job
    wait_for(lambda: job.status == "running")
    tab.unload(req("gone"))
    assert job.wait(2.0) and job.result is None
    assert sess.plan is None and tab.jobs.jobs_for("gone") == []
    T._close_state(sess)  # the state's own delete_callback later: harmless


def test_keeping_a_model_needs_a_finished_run(tab, tmp_path):
    with pytest.raises(UserError) as err:
        tab.use("en", None, {}, "x")
    assert err.value.key == "studio_no_model"
    sess = tab.start("en", None, None, req("k"), **values(steps=100_000))[0]
    with pytest.raises(UserError) as err:
        tab.download("en", sess, "x", request=req("k"))
    assert err.value.key == "studio_busy_resume"
    tab.stop("en", sess, request=req("k"))
    assert sess.job.wait(WAIT)
    path = tab.download("en", sess, "my run!", request=req("k"))["value"]
    assert path.endswith("my-run.zip")
    # The zip continues in a new session: settings back, Resume goes on from its steps.
    out = tab.continue_from("en", None, [path], None, request=req("k2"))
    other = out["sess"]  # named updates: {name: update}
    assert other.plan.steps_before == sess.plan.step and "Resume" in out["status"]
    assert out["family"]["value"] == "vae" and out["dataset"]["value"] == "shapes"
    tab.resume("en", other, None, req("k2"), **values(steps=2))
    assert other.job.wait(WAIT) and other.plan.step == sess.plan.step + 2
    # A pickle is refused before anything is read.
    pickle = tmp_path / "model.pt"
    pickle.write_bytes(b"\x80\x04K\x01.")
    with pytest.raises(UserError) as err:
        tab.continue_from("en", None, [str(pickle)], None, request=req("k3"))
    assert err.value.key == "checkpoint_pickle"


def test_bad_settings_answer_in_the_sessions_language(tab):
    start = T.handler(tab.start)
    with pytest.raises(gr.Error) as err:
        start("zh", None, None, req("z"), **values(lr=50.0))
    assert "学习率" in str(err.value)
    with pytest.raises(gr.Error) as err:
        start("en", None, None, req("z"), **values(dataset="toy2d"))
    assert "playground" in str(err.value)
    assert tab.jobs.jobs_for("z") == []


def test_a_family_switch_sets_its_defaults_and_settings():
    out = T.TrainHandlers(JobManager(max_running=1)).family_changed("en", "stylegan")
    fields = out  # {name: update}
    assert fields["dataset"]["value"] == "shapes" and fields["r1_gamma"]["visible"] is True
    assert fields["beta"]["visible"] is False and fields["p_uncond"]["visible"] is False
    assert out["zip_file"]["visible"] is False  # the zip box


def test_the_loss_plot_is_not_flattened_by_the_first_steps():
    rows = [(s, "loss", 1000.0 if s <= 5 else 2.0 - s / 100) for s in range(1, 101)]
    update = T.loss_plot(rows)
    low, high = update["y_lim"]
    assert 0.9 < low < 1.0 and 1.9 < high < 2.1
    many = [(s, term, 1.0) for s in range(5000) for term in ("D_loss", "G_loss")]
    frame = T.loss_plot(many)["value"]
    assert set(frame["term"]) == {"D_loss", "G_loss"} and len(frame) <= 2 * (T.MAX_POINTS + 1)
    assert frame["step"].max() == 4999
    empty = T.loss_plot([])["value"]
    assert list(empty.columns) == ["step", "value", "term"] and empty["term"].dtype == object


def test_a_clip_trains_and_joins_the_clip_list(tab):
    sess = tab.start("en", None, None, req("c"), **values(family="clip", steps=4, batch_size=16, preview_every=2))[0]
    assert sess.job.wait(WAIT) and sess.job.status == "done"
    status, _, plot, preview, _ = tab.tick("en", sess, request=req("c"))
    assert "clip-shapes" in status and "finished after 4 steps" in status
    assert set(plot["value"]["term"]) == {"loss", "i2t_acc"} and "rows are images" in preview["label"]
    uploads, note = tab.use("zh", sess, {}, "my-clip", request=req("c"))
    assert list(uploads) == ["clip"] and "my-clip" in note
    delete_uploads(uploads)


def test_the_settings_are_the_family_specs_knobs():
    """Every family's own settings come from its spec: a switch shows exactly that family's."""
    from engines import families

    handlers = T.TrainHandlers(JobManager(max_running=1))
    for spec in [s for s in families.trainable() if s.in_studio]:  # ldm: the command line's only
        out = handlers.family_changed("en", spec.name)
        assert set(out) == {*T.RECIPE_FIELDS, "data_note", "zip_file"} - set(T.KEPT_ON_SWITCH)
        own = {k.name for k in spec.knobs if k.studio}
        updates = {name: u for name, u in out.items() if isinstance(u, dict) and name != "zip_file"}
        shown = {name for name, update in updates.items() if update.get("visible") is True}
        hidden = {name for name, update in updates.items() if update.get("visible") is False}
        assert shown == own and not hidden & own and hidden  # some other family's settings are hidden
