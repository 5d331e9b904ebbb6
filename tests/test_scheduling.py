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


def test_nested_steps_of_a_background_task_give_way_to_interactive_calls():
    # A long run's handler is one background task that steps its sampler through nested calls
    # (runtime.stepped on the compute thread): each nested call lets waiting interactive work in.
    steps = []

    def long_run():
        for _ in range(20):
            runtime.call(time.sleep, 0.1)
            steps.append(time.perf_counter())
        return len(steps)

    def run_in_background():
        with runtime.background("run"):
            runtime.call(long_run)

    th = threading.Thread(target=run_in_background)
    th.start()
    time.sleep(0.35)
    t0 = time.perf_counter()
    grad = runtime.call(lambda: (torch.is_grad_enabled(), torch.is_inference_mode_enabled()))
    waited = time.perf_counter() - t0
    th.join(10)
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
    threads.append(_background_stream("trainer", stop, units, 0.1))
    threads.append(_background_stream("run", stop, units, 0.02))
    time.sleep(2.0)
    stop.set()
    for th in threads:
        th.join(10)
    trainer, run = units.count("trainer"), units.count("run")
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
