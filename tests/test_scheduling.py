"""The compute thread's two lanes (engines.runtime) and the app's queue limits.

Interactive work (a slider) goes ahead of queued background work (training units, the steps of
long runs); background owners take turns; interactive traffic cannot starve background work; a
full queue answers "busy"; a session runs one long run at a time. Timings use real sleeps of
0.2 s units with generous bounds, so a busy CPU does not make them flaky: each bound sits between
what the scheduler promises and what a first-come-first-served thread would give.
"""

from __future__ import annotations

import threading
import time

import pytest
import torch

from engines import runtime

UNIT_S = 0.2


def _background_stream(owner, stop: threading.Event, units: list, unit_s: float = UNIT_S):
    """A thread that keeps one background task of `unit_s` queued or running until `stop`."""
    def work():
        time.sleep(unit_s)
        units.append(owner)

    def loop():
        with runtime.background(owner):
            while not stop.is_set():
                runtime.call(work)

    thread = threading.Thread(target=loop, daemon=True)
    thread.start()
    return thread


@pytest.fixture
def streams():
    stop, threads = threading.Event(), []
    yield stop, threads
    stop.set()
    for th in threads:
        th.join(10)


def test_interactive_call_waits_for_at_most_the_unit_in_progress(streams):
    stop, threads = streams
    units: list = []
    # Four trainers' units queued at once: first come, first served would put a slider behind
    # all of them (about 4 x 0.2 s); the interactive lane waits only for the one running.
    threads += [_background_stream(f"job{k}", stop, units) for k in range(4)]
    time.sleep(0.5)
    waits = []
    for _ in range(5):
        t0 = time.perf_counter()
        assert runtime.call(lambda: threading.current_thread().name).startswith("genlab-compute")
        waits.append(time.perf_counter() - t0)
        time.sleep(0.13)
    assert max(waits) < UNIT_S + 0.25, waits
    assert len(units) >= 3  # and the background kept going meanwhile


def _interactive_wait_behind(long_task, owner: str, after_s: float, probe=lambda: None):
    """Run `long_task` as one background task of `owner`; `after_s` later make one interactive call
    (`probe`) -> (seconds it waited, what it returned), once the background task has ended."""
    def run_in_background():
        with runtime.background(owner):
            runtime.call(long_task)

    th = threading.Thread(target=run_in_background)
    th.start()
    time.sleep(after_s)
    t0 = time.perf_counter()
    seen = runtime.call(probe)
    waited = time.perf_counter() - t0
    th.join(10)
    return waited, seen


def test_nested_steps_of_a_background_task_give_way_to_interactive_calls():
    # A long run's handler is one background task that steps its sampler through nested calls
    # (runtime.stepped on the compute thread): each nested call lets waiting interactive work in.
    steps = []

    def long_run():
        for _ in range(20):
            runtime.call(time.sleep, 0.1)
            steps.append(time.perf_counter())
        return len(steps)

    waited, grad = _interactive_wait_behind(
        long_run, "run", 0.35, lambda: (torch.is_grad_enabled(), torch.is_inference_mode_enabled()))
    assert waited < 0.45, waited  # without the nested yield: the rest of the 2 s run
    assert len(steps) == 20
    assert grad == (True, False)  # the interactive task saw a clean autograd state


def test_background_owners_take_turns_however_many_tasks_each_queues(streams):
    stop, threads = streams
    units: list = []
    # Owner "many" queues four tasks at a time (four threads), owner "one" a single task: first
    # come, first served would give "many" four turns in five; round-robin gives it one in two.
    threads += [_background_stream("many", stop, units, 0.05) for _ in range(4)]
    threads.append(_background_stream("one", stop, units, 0.05))
    time.sleep(2.0)
    stop.set()
    for th in threads:
        th.join(10)
    window = units[5:]
    share = window.count("one") / len(window)
    assert len(window) >= 15, units
    assert 0.35 <= share <= 0.65, (share, units)


def test_background_owners_share_the_threads_time_not_turns(streams):
    stop, threads = streams
    units: list = []
    # A trainer of 0.1 s units beside a run of 0.02 s steps: turn by turn the run would get a
    # sixth of the time; time-fair, about half (five steps per trainer unit on a quiet CPU).
    # Owners of their own: the scheduler remembers each owner's share across tests, and "run" has
    # had 2 s of the thread in the nested-steps test above.
    trainer_id, run_id = ("trainer", "time-fair"), ("run", "time-fair")
    threads.append(_background_stream(trainer_id, stop, units, 0.1))
    threads.append(_background_stream(run_id, stop, units, 0.02))
    time.sleep(2.0)
    stop.set()
    for th in threads:
        th.join(10)
    trainer, run = units.count(trainer_id), units.count(run_id)
    assert trainer >= 4 and run >= 2 * trainer, (trainer, run)  # turn by turn: run == trainer


def test_interactive_flood_does_not_starve_background(streams, monkeypatch):
    stop, threads = streams
    monkeypatch.setattr(runtime._scheduler(), "wait_s", 0.3)
    flood_done = []

    def flood():
        while not stop.is_set():
            runtime.call(time.sleep, 0.05)
            flood_done.append(1)

    # Three interactive callers keep the interactive lane busy without a gap.
    threads += [threading.Thread(target=flood, daemon=True) for _ in range(3)]
    for th in threads:
        th.start()
    time.sleep(0.2)
    units: list = []
    threads.append(_background_stream("trainer", stop, units, 0.05))
    time.sleep(2.5)
    stop.set()
    for th in threads:
        th.join(10)
    # One background unit about every 0.3 s (the wait) + 0.05 s: ~7 in 2.5 s; starved, none.
    assert len(units) >= 3, (len(units), len(flood_done))
    assert len(flood_done) > 5 * len(units)  # and interactive work still got most of the thread


def test_interactive_flood_does_not_starve_a_lone_run_giving_way_in_nested_calls(streams, monkeypatch):
    stop, threads = streams
    monkeypatch.setattr(runtime._scheduler(), "wait_s", 0.3)

    def flood():
        while not stop.is_set():
            runtime.call(time.sleep, 0.05)

    threads += [threading.Thread(target=flood, daemon=True) for _ in range(3)]
    for th in threads:
        th.start()
    time.sleep(0.2)
    steps: list = []

    def long_run():  # the only background work: its waiting task is the one running
        for _ in range(50):
            runtime.call(time.sleep, 0.01)
            steps.append(1)

    def run_in_background():
        with runtime.background("lone run"):
            runtime.call(long_run)

    run = threading.Thread(target=run_in_background, daemon=True)
    run.start()
    time.sleep(2.5)
    during = len(steps)
    stop.set()
    for th in threads:
        th.join(10)
    run.join(10)
    # One nested step about every 0.3 s (the wait) + 0.05 s: ~7 in 2.5 s; starved, none until the flood ends.
    assert during >= 3, during
    assert len(steps) == 50


def test_lanes_are_context_local_and_checked():
    assert runtime.lane() == (runtime.INTERACTIVE, None)
    with runtime.background("job-7"):
        assert runtime.lane() == (runtime.BACKGROUND, "job-7")
        assert runtime.call(runtime.lane) == (runtime.BACKGROUND, "job-7")  # the task sees its lane
        with runtime.interactive():
            assert runtime.lane()[0] == runtime.INTERACTIVE
    assert runtime.lane() == (runtime.INTERACTIVE, None)
    with pytest.raises(ValueError):
        list(runtime.stepped(iter([1]), priority="urgent"))
    assert list(runtime.stepped(iter([1, 2]), priority=runtime.BACKGROUND)) == [1, 2]


def test_training_jobs_run_their_units_in_the_background_lane():
    from engines.jobs import JobManager
    from engines.train import TrainEvent

    seen = []

    class Lanes:
        def run(self):
            for step in range(3):
                seen.append(runtime.call(runtime.lane))
                yield TrainEvent("step", step + 1)
            yield TrainEvent("done", 3)

        def final_model(self):
            return torch.nn.Linear(1, 1)

    jobs = JobManager(max_running=1, max_queued=1, max_seconds=30, max_steps=100)
    job = jobs.submit("session-a", "lanes", lambda stop: Lanes())
    assert job.wait(20) and job.status == "done"
    assert len(seen) == 3 and all(p == runtime.BACKGROUND for p, _ in seen)
    assert len({owner for _, owner in seen}) == 1


# --- the launched app: Gradio's queue ------------------------------------------------------------

class _Page:
    """One browser session speaking Gradio's queue protocol (join, then the event stream)."""

    def __init__(self, url: str):
        import uuid

        import httpx

        self.http = httpx.Client(timeout=60)
        config = self.http.get(url + "config").json()
        self.api = url.rstrip("/") + config.get("api_prefix", "/gradio_api")
        self.kinds = {c["id"]: c["type"] for c in config["components"]}
        self.deps = {d["api_name"]: d for d in config["dependencies"] if d.get("api_name")}
        self.session = uuid.uuid4().hex[:11]

    def join(self, api_name: str, *values):
        """-> the HTTP response of joining the queue with one event."""
        dep = self.deps[api_name]
        it = iter(values)
        data = [None if self.kinds[i] == "state" else next(it) for i in dep["inputs"]]
        return self.http.post(f"{self.api}/queue/join", json={
            "data": data, "event_data": None, "fn_index": dep["id"], "trigger_id": None,
            "session_hash": self.session})

    def until(self, want):
        """Read the session's event stream until `want(msg)` -> that message."""
        import json

        with self.http.stream("GET", f"{self.api}/queue/data", params={"session_hash": self.session}) as r:
            for line in r.iter_lines():
                if line.startswith("data:"):
                    msg = json.loads(line[5:])
                    if want(msg):
                        return msg
        raise AssertionError("the stream ended first")


LONG_DDPM = ("mnist-ddpm", 1, 0, "ddpm", 1000, 0.0, "all", 0.0)  # a DDPM-1000 of one image: ~10 s or more
SHORT_DDPM = ("mnist-ddpm", 1, 0, "ddim", 5, 0.0, "all", 0.0)


def test_a_full_queue_answers_busy_at_once():
    from tests.launch import launched_app

    env = {"GENLAB_QUEUE_MAX": "1", "GENLAB_LONG_RUNS": "1"}
    with launched_app("--lang", "en", timeout=180, env=env) as (url, _, _):
        first, second, third = _Page(url), _Page(url), _Page(url)
        assert first.join("diffusion_generate", *LONG_DDPM).status_code == 200
        first.until(lambda m: m.get("msg") in ("process_starts", "process_generating"))
        # The long group's one place is taken: the next long run waits in the queue, which is
        # then full, and any further event is refused at once rather than left hanging.
        assert second.join("diffusion_generate", *SHORT_DDPM).status_code == 200
        t0 = time.perf_counter()
        refused = third.join("vae_slider", "mnist-vae-z16", *([0.0] * 16))
        assert time.perf_counter() - t0 < 5
        assert refused.status_code == 503  # the page shows Gradio's "currently busy" message for it
        assert "Queue is full" in refused.text


def test_a_second_long_run_in_one_session_is_refused_with_a_clear_message():
    from tests.launch import launched_app

    with launched_app("--lang", "en", timeout=180, env={"GENLAB_LONG_RUNS": "3"}) as (url, _, _):
        page, other = _Page(url), _Page(url)
        assert page.join("diffusion_generate", *LONG_DDPM).status_code == 200
        page.until(lambda m: m.get("msg") == "process_generating")
        second = page.join("clip_generate", "a red circle", "", "genlab", "pixels", 5, 1.0, 0, 1, "none", 32,
                           False, 1).json()["event_id"]
        done = page.until(lambda m: m.get("msg") == "process_completed" and m.get("event_id") == second)
        assert not done["success"]
        assert "already have a long run going" in done["output"]["error"]
        # Another session's run is not affected.
        assert other.join("diffusion_generate", *SHORT_DDPM).status_code == 200
        ok = other.until(lambda m: m.get("msg") == "process_completed")
        assert ok["success"], ok


def test_give_way_inside_one_background_unit_lets_interactive_calls_in():
    # One background task that never makes a nested call, but gives way between its parts (as a
    # CLIP-guided DDPM step does between its recurrences): a slider waits for one part, not all.
    parts = []

    def long_unit():
        for _ in range(10):
            time.sleep(0.1)
            parts.append(time.perf_counter())
            runtime.give_way()

    waited, _ = _interactive_wait_behind(long_unit, "unit", 0.25)
    assert waited < 0.4, waited  # without give_way: the rest of the 1 s unit
    assert len(parts) == 10
    runtime.give_way()  # off the compute thread: nothing happens


def test_a_slider_run_inside_a_training_unit_does_not_see_the_trainers_torch_function_mode():
    """A trainer replays its random draws through a torch function mode (engines.train._Replay) and
    gives way to waiting sliders in the middle of its unit: the slider's own torch.randn must run as
    on an idle thread (it was refused with 'not drawn as in the first micro-batch' in class_burst),
    and the trainer's mode must be back when the unit goes on."""
    from torch.overrides import TorchFunctionMode

    class Refuse(TorchFunctionMode):
        def __torch_function__(self, func, types, args=(), kwargs=None):
            if func is torch.randn:
                raise RuntimeError("the trainer's mode saw a slider's draw")
            return func(*args, **(kwargs or {}))

    queued, results = threading.Event(), {}

    def unit():
        with Refuse():
            assert queued.wait(10)
            time.sleep(0.05)  # the slider's task is in the interactive queue now
            runtime.give_way()
            with pytest.raises(RuntimeError):
                torch.randn(2)  # the trainer's own mode is still there
            results["modes_after"] = torch._C._len_torch_function_stack()

    def slider():
        queued.set()
        results["slider"] = runtime.call(lambda: (torch._C._len_torch_function_stack(), torch.randn(3).shape))

    def train():
        with runtime.background("trainer-x"):
            runtime.call(unit)

    job = threading.Thread(target=train)
    job.start()
    time.sleep(0.05)
    other = threading.Thread(target=slider)
    other.start()
    job.join(10)
    other.join(10)
    assert results["slider"] == (0, torch.Size([3]))
    assert results["modes_after"] == 1
    assert runtime.stats()["inline"] >= 1  # the slider did run inside the unit


def test_an_interactive_task_runs_beside_a_background_unit_on_its_own_thread():
    """While the compute thread is inside a background unit, a slider's task runs at once on the
    interactive thread, with a one-thread OpenMP team of its own; the unit's thread keeps its own.
    With the interactive thread off, the same task waits for the unit to end."""
    for helper in (True, False):
        sched = runtime._Scheduler(helper=helper)
        inside, release = threading.Event(), threading.Event()

        def unit():
            inside.set()
            release.wait(10)
            return torch.get_num_threads()

        bg = runtime._Task(unit, (), {}, runtime.BACKGROUND, "job")
        sched.submit(bg)
        assert inside.wait(10)
        fg = runtime._Task(lambda: (threading.current_thread().name, torch.get_num_threads()), (), {},
                           runtime.INTERACTIVE, None)
        sched.submit(fg)
        if helper:
            name, threads = fg.future.result(5)  # the unit still holds the compute thread
            assert name == "genlab-compute-interactive" and threads == 1
            assert not bg.future.done()
            release.set()
            assert bg.future.result(5) == torch.get_num_threads()
            assert sched.counts["helper"] == 1
        else:
            time.sleep(0.3)
            assert not fg.future.done()
            release.set()
            assert fg.future.result(5)[0] == "genlab-compute"
            assert sched.counts["helper"] == 0
    # An idle compute thread takes interactive work itself (its full team).
    sched = runtime._Scheduler()
    fg = runtime._Task(lambda: threading.current_thread().name, (), {}, runtime.INTERACTIVE, None)
    sched.submit(fg)
    assert fg.future.result(5) == "genlab-compute"


def test_the_interactive_thread_decodes_while_a_training_step_holds_the_lock():
    """On the CPU, inference on the interactive thread (runtime.compute()) does not wait for the
    compute lock that a training or sampler step on the compute thread holds."""
    sched = runtime._Scheduler(helper=True)
    inside, release = threading.Event(), threading.Event()

    def step():
        with runtime.COMPUTE_LOCK:
            inside.set()
            release.wait(10)

    def decode():
        with runtime.compute():
            return torch.is_inference_mode_enabled()

    sched.submit(runtime._Task(step, (), {}, runtime.BACKGROUND, "job"))
    assert inside.wait(10)
    fg = runtime._Task(decode, (), {}, runtime.INTERACTIVE, None)
    sched.submit(fg)
    try:
        assert fg.future.result(5) is True  # not blocked behind the step
    finally:
        release.set()
