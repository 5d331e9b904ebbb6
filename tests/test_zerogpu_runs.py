"""Training and long sampling runs on ZeroGPU (the stand-in `spaces`: each call in a forked
process, arguments and results by pickle) give what the plain path gives, with the state carried
across several calls; a refused call stops the run with its message and keeps what it had."""

from __future__ import annotations

import threading

import pytest
import torch

from engines import gpu
from engines.train import Trainer, TrainConfig

from .diffusion_fixtures import tiny_ddpm_config
from .zerogpu_fixtures import plain, zero  # noqa: F401 (fixtures)


@pytest.fixture
def small_chunks(monkeypatch):
    """Chunks of 3 steps, so that a tiny run takes several calls."""
    monkeypatch.setattr(gpu, "FIRST", 3)
    monkeypatch.setattr(gpu, "GROWTH", 1)


def ddpm_trainer(steps: int = 12, stop: threading.Event | None = None) -> Trainer:
    from engines import diffusion
    from engines.diffusion.process import GaussianDiffusion, make_loss, make_schedule

    cfg = tiny_ddpm_config(num_classes=None)
    torch.manual_seed(0)
    model = diffusion.build(cfg)
    images = torch.rand(24, 1, 8, 8, generator=torch.Generator().manual_seed(1))
    process = GaussianDiffusion(make_schedule("linear", cfg.timesteps))
    config = TrainConfig(steps=steps, batch_size=8, lr=2e-3, ema_decay=0.9, log_every=4, seed=3, warmup_steps=2,
                         lr_min_ratio=0.1)
    return Trainer(model, make_loss(process), images, config, stop=stop)  # the loss is a closure


def weights(module: torch.nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.detach().clone() for k, v in module.state_dict().items()}


def assert_close(a: dict, b: dict, atol=1e-5):
    assert a.keys() == b.keys()
    for k in a:
        torch.testing.assert_close(a[k], b[k], atol=atol, rtol=1e-4, msg=k)


def test_training_in_gpu_calls_matches_the_plain_run(zero, small_chunks, monkeypatch):
    monkeypatch.delenv("SPACES_ZERO_GPU")
    ref = ddpm_trainer()
    ref_events = list(ref.run())
    monkeypatch.setenv("SPACES_ZERO_GPU", "true")
    tr = ddpm_trainer()
    events = list(tr.run())
    assert len(zero.durations) == 4  # 12 steps, 3 a call: the state crossed three times
    assert tr.step == ref.step == 12
    assert [(e.kind, e.step) for e in events] == [(e.kind, e.step) for e in ref_events]
    for e, r in zip(events, ref_events):
        for key in r.losses:
            assert e.losses[key] == pytest.approx(r.losses[key], rel=1e-4, abs=1e-6)
    assert_close(weights(tr.model), weights(ref.model))
    assert_close(weights(tr.final_model()), weights(ref.final_model()))  # the EMA
    # The trainer on this side holds the truth: Adam's moments and the batch order came back.
    mine, theirs = tr.state_dict()[0], ref.state_dict()[0]
    assert_close({k: v for k, v in mine.items() if k != "generator"},
                 {k: v for k, v in theirs.items() if k != "generator"})


def test_training_off_zerogpu_never_pickles(plain):
    tr = ddpm_trainer(steps=3)
    assert [e.kind for e in tr.run()][-1] == "done"
    assert gpu.stats == {"calls": 0, "pickled": 0} and plain.durations == []


def test_a_refused_call_stops_the_job_with_its_message_keeping_the_weights(zero, small_chunks, monkeypatch):
    from engines.jobs import JobManager

    monkeypatch.delenv("SPACES_ZERO_GPU")
    ref = ddpm_trainer(steps=12)
    ref.pause_at = 6  # where two calls of 3 steps reach
    list(ref.run())
    monkeypatch.setenv("SPACES_ZERO_GPU", "true")
    zero.refuse_after = 2  # the third call finds the quota used up
    manager = JobManager(max_running=1, max_queued=0, max_seconds=120, max_steps=1000)
    job = manager.submit("s1", "tiny ddpm", lambda stop: ddpm_trainer(steps=12, stop=stop))
    assert job.wait(120)
    assert job.status == "stopped" and job.message.key == "gpu_quota"
    assert "GPU" in job.message.localized("zh") and "quota" in str(job.message)
    assert job.latest()["step"] == 4  # the last step event (every 4 steps) before the refusal
    assert job.result is not None
    assert_close(weights(job.result), weights(ref.final_model()))


def tiny_sampler():
    from engines import diffusion
    from engines.diffusion.process import GaussianDiffusion, make_schedule

    cfg = tiny_ddpm_config(num_classes=3)
    torch.manual_seed(0)
    model = diffusion.build(cfg).eval()
    with torch.no_grad():
        for p in model.parameters():
            p.add_(torch.randn(p.shape, generator=torch.Generator().manual_seed(2)) * 0.2)
    return model, GaussianDiffusion(make_schedule("linear", cfg.timesteps))


def ddpm_run(model, process):
    gen = torch.Generator().manual_seed(5)
    steps = list(process.ddpm(model, (3, 1, 8, 8), gen=gen, y=[0, 1, 2], guidance=2.0))
    return steps, gen


def test_ddpm_in_gpu_calls_matches_the_plain_run(zero, small_chunks, monkeypatch):
    model, process = tiny_sampler()
    monkeypatch.delenv("SPACES_ZERO_GPU")
    ref, ref_gen = ddpm_run(model, process)
    monkeypatch.setenv("SPACES_ZERO_GPU", "true")
    got, gen = ddpm_run(model, process)
    assert len(zero.durations) == 7  # 20 steps, 3 a call
    assert [(s.index, s.count, s.t, s.t_prev) for s in got] == [(s.index, s.count, s.t, s.t_prev) for s in ref]
    for a, b in zip(got, ref):
        for name in ("x_t", "eps", "x0_pred", "x_prev"):
            torch.testing.assert_close(getattr(a, name), getattr(b, name), atol=1e-5, rtol=1e-4)
    assert torch.equal(gen.get_state(), ref_gen.get_state())  # the noise stream went on across calls


def test_sampling_off_zerogpu_never_pickles(plain):
    model, process = tiny_sampler()
    steps, _ = ddpm_run(model, process)
    assert len(steps) == 20 and gpu.stats == {"calls": 0, "pickled": 0}


def test_a_guided_ddim_run_brings_back_what_its_cond_fn_changes(zero, small_chunks, monkeypatch):
    """A cond_fn that writes scores for its caller to read after each step and draws from its
    own generator (as the CLIP guidance does): the caller sees each step's values, as in a plain run."""
    model, process = tiny_sampler()

    def run():
        scores, aug = [0.0], torch.Generator().manual_seed(9)
        seen = []

        def cond_fn(x, t):
            jitter = torch.rand(x.shape, generator=aug)
            scores[0] = float(x.detach().mean())
            return -(x - 0.3 * jitter)

        gen = torch.Generator().manual_seed(4)
        for st in process.ddim(model, (2, 1, 8, 8), gen=gen, steps=10, eta=0.5, cond_fn=cond_fn, recurrence=2):
            seen.append((st.index, scores[0], st.x_prev.clone()))
        return seen, aug.get_state()

    monkeypatch.delenv("SPACES_ZERO_GPU")
    ref, ref_aug = run()
    monkeypatch.setenv("SPACES_ZERO_GPU", "true")
    got, aug = run()
    assert len(zero.durations) == 4
    assert [i for i, _, _ in got] == list(range(10))
    for (_, s, x), (_, rs, rx) in zip(got, ref):
        assert s == pytest.approx(rs, abs=1e-6)
        torch.testing.assert_close(x, rx, atol=1e-5, rtol=1e-4)
    assert torch.equal(aug, ref_aug)


def test_clip_guided_ddpm_in_gpu_calls_matches_the_plain_run(zero, monkeypatch):
    """The shipped CLIP steering the shipped shapes DDPM, a few steps."""
    from engines import checkpoint, clip
    from engines.clip.guide import GuideSetting, guide

    monkeypatch.setattr(gpu, "FIRST", 2)
    monkeypatch.setattr(gpu, "GROWTH", 1)
    backend = clip.load_backend("genlab")
    setting = GuideSetting(prompt="a red circle", generator=str(checkpoint.ASSETS_DIR / "shapes-ddpm"), steps=5, seed=1, augment=1,
                           candidates=2, strength=1.0)
    monkeypatch.delenv("SPACES_ZERO_GPU")
    ref = list(guide(backend, setting))
    monkeypatch.setenv("SPACES_ZERO_GPU", "true")
    got = list(guide(backend, setting))
    assert len(zero.durations) == 3  # 5 steps, 2 a call
    assert len(got) == len(ref) and got[-1].done and got[-1].step == ref[-1].step
    assert got[-1].scores == pytest.approx(ref[-1].scores, abs=1e-4)
    assert abs(got[-1].image.astype(int) - ref[-1].image.astype(int)).max() <= 2
