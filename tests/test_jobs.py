"""engines.jobs: per-session training jobs, the bounded queue, stop/forget, host limits."""

from __future__ import annotations

import gc
import threading
import time
import weakref

import numpy as np
import pytest
import torch

from engines import vae
from engines.errors import UserError
from engines.jobs import JobManager
from engines.train import TrainConfig, Trainer, TrainEvent

WAIT = 5.0   # s; generous upper bound for a job that should end, so a failure is a failure, not a hang


class FakeTrainer:
    """The Trainer interface without torch work: one event per step, honouring `stop`.

    `gate` (an Event) holds every step until set; `fail_at` raises at that step.
    """

    def __init__(self, stop, *, steps=10, loss=1.0, step_s=0.002, gate=None, fail_at=None,
                 preview_every=0):
        self.stop, self.steps, self.loss, self.step_s = stop, steps, loss, step_s
        self.gate, self.fail_at, self.preview_every = gate, fail_at, preview_every
        self.model = torch.nn.Linear(1, 1)
        self.step = 0

    def run(self):
        while self.step < self.steps:
            if self.stop.is_set():
                yield TrainEvent("stopped", self.step)
                return
            if self.gate is not None:
                self.gate.wait(0.01)
                if not self.gate.is_set():
                    continue
            time.sleep(self.step_s)
            if self.fail_at == self.step + 1:
                raise RuntimeError("boom")
            self.step += 1
            yield TrainEvent("step", self.step, {"loss": self.loss})
            if self.preview_every and self.step % self.preview_every == 0:
                grid = np.full((2, 2, 1), self.step, np.uint8)
                yield TrainEvent("preview", self.step, {"loss": self.loss}, preview=grid)
        yield TrainEvent("done", self.step, {"loss": self.loss})

    def final_model(self):
        return self.model


def fake(**kwargs):
    made = []

    def make(stop):
        made.append(FakeTrainer(stop, **kwargs))
        return made[-1]

    make.made = made
    return make


def wait_for(cond, timeout=WAIT):
    end = time.perf_counter() + timeout
    while not cond():
        if time.perf_counter() > end:
            raise AssertionError("condition not reached in time")
        time.sleep(0.005)


@pytest.fixture
def manager():
    made = []

    def build(**kwargs):
        made.append(JobManager(**{"max_running": 1, "max_queued": 8, **kwargs}))
        return made[-1]

    yield build
    for m in made:
        m.shutdown()


@pytest.fixture
def tiny_images() -> torch.Tensor:
    x = torch.zeros(8, 1, 8, 8)
    for i in range(8):
        r, c = divmod(i, 4)
        x[i, 0, r * 2:r * 2 + 3, c * 2:c * 2 + 3] = 1.0
    return x


def vae_maker(config, images, *, loss_fn=None, made=None, **train_kwargs):
    """make_trainer for a real Trainer on a tiny VAE; appends each trainer to `made`."""
    def make(stop):
        torch.manual_seed(0)
        model = vae.build(config)
        tcfg = TrainConfig(**{"steps": 100_000, "batch_size": len(images), "lr": 1e-2,
                              "log_every": 1, **train_kwargs})
        loss = loss_fn or vae.make_loss(config, binarize=False)
        trainer = Trainer(model, loss, images, tcfg, stop=stop, device=torch.device("cpu"))
        if made is not None:
            made.append(trainer)
        return trainer
    return make


def state_of(model):
    return {k: v.detach().clone() for k, v in model.state_dict().items()}


# ---------------------------------------------------------------------------------------------

def test_sessions_see_only_their_own_jobs(manager):
    m = manager(max_running=2)
    a = m.submit("alice", "a-run", fake(steps=5, loss=1.0))
    b = m.submit("bob", "b-run", fake(steps=7, loss=2.0))
    assert a.wait(WAIT) and b.wait(WAIT)
    assert (a.status, b.status) == ("done", "done")
    events_a, next_a = a.events_since(0)
    events_b, next_b = b.events_since(0)
    assert [e.step for e in events_a] == [1, 2, 3, 4, 5, 5] and next_a == 6
    assert {e.losses["loss"] for e in events_a} == {1.0}
    assert {e.losses["loss"] for e in events_b} == {2.0} and next_b == 8
    assert a.result is not b.result and isinstance(a.result, torch.nn.Linear)
    assert m.jobs_for("alice") == [a] and m.jobs_for("bob") == [b]
    assert m.job("alice") is a and m.job("carol") is None and m.jobs_for("carol") == []
    assert m.stop("carol") is None and a.status == "done"
    assert a.latest()["step"] == 5 and a.latest()["status"] == "done"


def test_a_session_cannot_submit_twice_while_active(manager):
    m = manager()
    gate = threading.Event()
    first = m.submit("alice", "one", fake(steps=3, gate=gate))
    with pytest.raises(UserError) as err:
        m.submit("alice", "two", fake(steps=3))
    assert err.value.key == "job_already_running" and "one" in str(err.value)
    assert err.value.localized("zh") != str(err.value)
    gate.set()
    assert first.wait(WAIT) and first.status == "done"
    again = m.submit("alice", "two", fake(steps=3))
    assert again.wait(WAIT) and again.status == "done"
    assert m.jobs_for("alice") == [first, again]


def test_a_full_queue_refuses_at_once(manager):
    m = manager(max_running=1, max_queued=1)
    gate = threading.Event()
    running = m.submit("a", "run", fake(gate=gate))
    queued = m.submit("b", "wait", fake())
    t0 = time.perf_counter()
    with pytest.raises(UserError) as err:
        m.submit("c", "refused", fake())
    assert time.perf_counter() - t0 < 0.1
    assert err.value.key == "jobs_busy" and err.value.params["ahead"] == 2
    assert (running.status, queued.status, queued.position()) == ("running", "queued", 1)
    assert m.jobs_for("c") == []
    assert {k: m.snapshot()[k] for k in ("running", "queued")} == {"running": 1, "queued": 1}
    gate.set()


def test_queued_jobs_start_in_order_when_a_slot_frees(manager):
    m = manager(max_running=1, max_queued=3)
    started = []
    gates = {s: threading.Event() for s in "abc"}

    def maker(s):
        def make(stop):
            started.append(s)
            return FakeTrainer(stop, steps=2, gate=gates[s])
        return make

    jobs = {s: m.submit(s, s, maker(s)) for s in "abc"}
    assert [jobs[s].status for s in "abc"] == ["running", "queued", "queued"]
    assert [jobs[s].position() for s in "abc"] == [None, 1, 2]
    assert jobs["c"].latest()["position"] == 2
    gates["a"].set()
    assert jobs["a"].wait(WAIT)
    wait_for(lambda: jobs["b"].status == "running")
    assert jobs["c"].position() == 1 and jobs["c"].status == "queued"
    gates["b"].set()
    gates["c"].set()
    assert jobs["c"].wait(WAIT)
    assert started == ["a", "b", "c"]
    assert [jobs[s].status for s in "abc"] == ["done"] * 3
    assert m.snapshot()["running"] == 0 and m.snapshot()["queued"] == 0


def test_stop_ends_a_running_training_within_a_second_and_keeps_its_model(
        manager, tiny_vae_config, tiny_images):
    m = manager()
    made = []
    job = m.submit("alice", "vae", vae_maker(tiny_vae_config, tiny_images, made=made))
    wait_for(lambda: job.events_since(0)[1] >= 3)
    t0 = time.perf_counter()
    assert m.stop("alice") is job
    assert job.wait(1.0), "job did not end within 1 s of stop"
    assert time.perf_counter() - t0 < 1.0
    assert job.status == "stopped" and job.message.key == "training_stopped"
    trainer = made[0]
    assert job.result is trainer.final_model() and trainer.step >= 3
    torch.manual_seed(0)
    init = state_of(vae.build(tiny_vae_config))
    assert any(not torch.equal(v, job.result.state_dict()[k]) for k, v in init.items())
    assert job.events_since(0)[0][-1].kind == "stopped"


def test_stop_on_a_queued_job_removes_it_from_the_queue(manager):
    m = manager(max_running=1)
    gate = threading.Event()
    m.submit("a", "run", fake(gate=gate))
    never = fake()
    queued = m.submit("b", "wait", never)
    assert m.snapshot()["queued"] == 1
    assert m.stop("b") is queued
    assert queued.status == "stopped" and queued.finished and queued.position() is None
    assert m.snapshot()["queued"] == 0 and queued.result is None
    gate.set()
    wait_for(lambda: m.snapshot()["running"] == 0)
    assert never.made == []
    # The stopped session may submit again.
    assert m.submit("b", "again", fake(steps=2)).wait(WAIT)


def test_step_limit_caps_a_trainer_config_and_ends_done(manager, tiny_vae_config, tiny_images):
    m = manager(max_steps=4)
    made = []
    job = m.submit("alice", "vae", vae_maker(tiny_vae_config, tiny_images, made=made))
    assert job.wait(WAIT)
    assert job.status == "done" and made[0].step == 4
    assert made[0].config.steps == 4 and made[0].config.max_seconds <= 600
    assert job.message.key == "job_step_limit" and job.message.params["max_steps"] == 4
    assert [e.kind for e in job.events_since(0)[0]][-1] == "done"


def test_step_limit_stops_a_trainer_without_config(manager):
    m = manager(max_steps=5)
    make = fake(steps=1000)
    job = m.submit("alice", "fake", make)
    assert job.wait(WAIT)
    assert job.status == "done" and job.message.key == "job_step_limit"
    assert 5 <= make.made[0].step <= 6 and job.result is make.made[0].model


def test_time_limit_ends_as_timeout(manager):
    m = manager(max_seconds=0.3)
    make = fake(steps=10**9)
    t0 = time.perf_counter()
    job = m.submit("alice", "slow", make)
    assert job.wait(WAIT)
    assert 0.25 < time.perf_counter() - t0 < 1.5
    assert job.status == "timeout" and job.message.key == "job_timeout"
    assert job.result is make.made[0].model and make.made[0].step > 0


def test_time_limit_reaches_a_trainer_config(manager, tiny_vae_config, tiny_images):
    m = manager(max_seconds=0.3)
    made = []
    job = m.submit("alice", "vae", vae_maker(tiny_vae_config, tiny_images, made=made))
    assert job.wait(WAIT)
    assert job.status == "timeout" and made[0].config.max_seconds <= 0.3
    assert job.result is made[0].final_model()


def test_an_exception_in_a_job_fails_it_and_the_manager_goes_on(manager, caplog):
    m = manager()
    job = m.submit("alice", "broken", fake(steps=10, fail_at=3))
    assert job.wait(WAIT)
    assert job.status == "failed" and job.result is None
    assert job.message.key == "job_failed" and "boom" in str(job.message)
    assert "RuntimeError" in caplog.text
    assert [e.step for e in job.events_since(0)[0]] == [1, 2]

    def refuse(stop):
        raise UserError("dataset_unknown", name="nope", available="mnist")

    bad = m.submit("alice", "bad data", refuse)
    assert bad.wait(WAIT) and bad.status == "failed" and bad.message.key == "dataset_unknown"
    ok = m.submit("alice", "fine", fake(steps=3))
    assert ok.wait(WAIT) and ok.status == "done"
    assert m.snapshot()["running"] == 0


def test_a_nan_loss_ends_as_nan_with_the_last_good_weights(manager, tiny_vae_config, tiny_images):
    m = manager()
    base = vae.make_loss(tiny_vae_config, binarize=False)
    good = {}

    def loss_fn(model, batch, gen, step):
        loss, logs = base(model, batch, gen, step)
        if step == 3:
            good.update(state_of(model))
            return loss * float("nan"), logs
        return loss, logs

    job = m.submit("alice", "nan", vae_maker(tiny_vae_config, tiny_images, loss_fn=loss_fn))
    assert job.wait(WAIT)
    assert job.status == "nan" and job.message.key == "training_nan"
    assert job.message.params["step"] == 3
    result = job.result.state_dict()
    assert good and all(torch.equal(v, result[k]) for k, v in good.items())


def test_forget_stops_and_frees_a_session(manager):
    m = manager(max_running=1)
    done = m.submit("alice", "first", fake(steps=2))
    assert done.wait(WAIT)
    refs = []

    def make(stop):
        trainer = FakeTrainer(stop, steps=10**9, preview_every=1)
        refs.append(weakref.ref(trainer.model))
        return trainer

    running = m.submit("alice", "second", make)
    queued = m.submit("bob", "waiting", fake())
    wait_for(lambda: running.latest()["preview"] is not None)
    finished_model = weakref.ref(done.result)
    assert m.forget("alice") == 2
    assert m.jobs_for("alice") == [] and m.job("alice") is None
    assert running.wait(1.0) and running.status == "stopped"
    assert running.result is None and done.result is None
    assert running.events_since(0)[0] == [] and running.latest()["preview"] is None
    gc.collect()
    assert refs[0]() is None and finished_model() is None
    wait_for(lambda: queued.status == "running")   # alice's slot went to bob
    assert m.snapshot()["sessions"] == 1
    assert m.forget("alice") == 0


def test_event_buffer_is_bounded_and_keeps_only_the_latest_preview(manager):
    m = manager(max_events=5)
    job = m.submit("alice", "long", fake(steps=20, preview_every=4))
    assert job.wait(WAIT)
    events, nxt = job.events_since(0)
    assert nxt == 21 and [e.step for e in events] == [17, 18, 19, 20, 20]
    assert all(e.kind != "preview" and e.preview is None for e in events)
    assert job.events_since(19)[0] == events[-2:] and job.events_since(21) == ([], 21)
    latest = job.latest()
    assert latest["preview_step"] == 20 and int(latest["preview"][0, 0, 0]) == 20


def test_finished_jobs_per_session_are_bounded(manager):
    m = manager(keep_finished=2)
    jobs = []
    for i in range(4):
        jobs.append(m.submit("alice", f"run{i}", fake(steps=1)))
        assert jobs[-1].wait(WAIT)
    assert m.jobs_for("alice") == jobs[2:]
    assert jobs[0].result is None and jobs[3].result is not None


def test_limits_come_from_arguments_then_environment(monkeypatch):
    monkeypatch.setenv("GENLAB_MAX_JOBS", "3")
    monkeypatch.setenv("GENLAB_MAX_QUEUE", "0")
    monkeypatch.setenv("GENLAB_JOB_SECONDS", "12.5")
    monkeypatch.setenv("GENLAB_JOB_STEPS", "77")
    limits = JobManager().limits
    assert (limits.max_running, limits.max_queued, limits.max_seconds, limits.max_steps) == (3, 0, 12.5, 77)
    assert JobManager(max_running=1, max_steps=5).limits.max_running == 1
    monkeypatch.setenv("GENLAB_MAX_JOBS", "many")
    with pytest.raises(ValueError, match="GENLAB_MAX_JOBS"):
        JobManager()
    monkeypatch.delenv("GENLAB_MAX_JOBS")
    monkeypatch.delenv("GENLAB_MAX_QUEUE")
    limits = JobManager().limits
    assert limits.max_running == 1 and limits.max_queued == 8   # the CPU defaults


def test_queued_jobs_say_how_many_are_ahead_and_check_refuses_like_submit(manager):
    m = manager(max_running=1, max_queued=2)
    gate = threading.Event()
    running = m.submit("a", "run", fake(gate=gate))
    second = m.submit("b", "wait", fake())
    third = m.submit("c", "wait", fake())
    assert (running.ahead(), second.ahead(), third.ahead()) == (None, 1, 2)
    assert third.latest()["ahead"] == 2
    with pytest.raises(UserError) as err:
        m.check("a")
    assert err.value.key == "job_already_running"
    with pytest.raises(UserError) as err:
        m.check("d")
    assert err.value.key == "jobs_busy" and err.value.params["ahead"] == 3
    assert "3" in err.value.localized("zh")
    gate.set()
    assert third.wait(WAIT) and third.ahead() is None
    m.check("d")  # room again: no error


def test_the_step_limit_counts_a_continued_runs_own_steps(manager, tiny_vae_config, tiny_images):
    m = manager(max_steps=3)
    made = []
    first = m.submit("alice", "vae", vae_maker(tiny_vae_config, tiny_images, made=made))
    assert first.wait(WAIT) and made[0].step == 3

    def go_on(stop):
        trainer = vae_maker(tiny_vae_config, tiny_images, made=made)(stop)
        trainer.step = 10   # continues an earlier run that ended at step 10
        return trainer

    again = m.submit("alice", "vae", go_on)
    assert again.wait(WAIT)
    assert made[1].step == 13 and made[1].config.steps == 13
    assert again.message.key == "job_step_limit"



def test_other_requests_wait_for_a_micro_batch_not_a_step(manager):
    # A step of 48 images that takes about 0.5 s (10 ms an image, slept in the loss on the compute
    # thread), cut into micro-batches of about 50 ms: a request on the compute thread, as a slider's
    # is, waits for one micro-batch, not a step; Stop in the middle of a step ends it at once.
    from engines import runtime
    from engines.train import contiguous_split

    threads = set()

    def loss(m, batch, gen, step):
        threads.add((threading.current_thread().name.split("_")[0], runtime.COMPUTE_LOCK._is_owned()))
        time.sleep(0.01 * len(batch["x"]))
        return m(batch["x"].flatten(1)).square().mean(), {}

    made = []

    def make(stop):
        torch.manual_seed(0)
        made.append(Trainer(torch.nn.Linear(4, 1), loss, torch.rand(48, 1, 2, 2),
                            TrainConfig(steps=10**6, batch_size=48, log_every=1, chunk_seconds=0.05),
                            stop=stop, device=torch.device("cpu"), split=contiguous_split))
        return made[-1]

    m = manager()
    job = m.submit("a", "slow", make)
    wait_for(lambda: job.events_since(0)[1] >= 1)
    waits = []
    for _ in range(12):
        t0 = time.perf_counter()
        runtime.call(lambda: None)
        waits.append(time.perf_counter() - t0)
        time.sleep(0.02)
    assert max(waits) < 0.3, waits                     # a whole step would be 0.5 s
    assert min(made[0].chunk_counts) >= 5
    before = {k: v.clone() for k, v in made[0].model.state_dict().items()}
    step = made[0].step
    t0 = time.perf_counter()
    m.stop("a")
    assert job.wait(1.0) and time.perf_counter() - t0 < 0.3 and job.status == "stopped"
    # Each micro-batch ran on the compute thread holding the lock; the job's own thread never did.
    assert threads == {("genlab-compute", True)}
    assert made[0].step in (step, step + 1)
    if made[0].step == step:  # stopped mid-step: the weights of the last completed step
        assert all(torch.equal(v, made[0].model.state_dict()[k]) for k, v in before.items())
