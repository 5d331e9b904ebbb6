"""engines.train: the generic trainer (learning, determinism, stop, NaN, EMA, previews) and grids."""

from __future__ import annotations

import copy
import threading
import time

import numpy as np
import pytest
import torch

from engines import vae
from engines.train import TrainConfig, Trainer, image_grid, to_uint8


@pytest.fixture
def tiny_images() -> torch.Tensor:
    # 16 grey 8x8 images: bright squares at different places on black, float in [0, 1].
    x = torch.zeros(16, 1, 8, 8)
    for i in range(16):
        r, c = divmod(i, 4)
        x[i, 0, r * 2:r * 2 + 3, c * 2:c * 2 + 3] = 1.0
    return x


def make_trainer(config, images, *, seed=0, **train_kwargs):
    torch.manual_seed(seed)
    model = vae.build(config)
    tcfg = TrainConfig(**{"steps": 2, "batch_size": len(images), "lr": 1e-2, "seed": seed,
                          "log_every": 1, **train_kwargs})
    loss = vae.make_loss(config, binarize=False)
    return Trainer(model, loss, images, tcfg, device=torch.device("cpu"))


def state_of(model) -> dict[str, torch.Tensor]:
    return {k: v.detach().clone() for k, v in model.state_dict().items()}


def assert_same_state(a: dict, b: dict) -> None:
    assert a.keys() == b.keys()
    for k in a:
        assert torch.equal(a[k], b[k]), k


def test_two_steps_lower_the_loss_on_a_fixed_batch(tiny_vae_config, tiny_images):
    trainer = make_trainer(tiny_vae_config, tiny_images, steps=2)
    before = vae.evaluate(trainer.model, tiny_images, seed=123)
    events = list(trainer.run())
    after = vae.evaluate(trainer.model, tiny_images, seed=123)
    assert [e.kind for e in events] == ["step", "step", "done"]
    assert [e.step for e in events] == [1, 2, 2]
    assert trainer.step == 2 and len(trainer.history) == 2
    assert after["neg_elbo"] < before["neg_elbo"] - 1.0, (before, after)
    assert all(np.isfinite(list(e.losses.values())).all() for e in events)
    assert events[-1].losses == trainer.history[-1]


def test_trainer_is_deterministic_for_a_seed(tiny_vae_config, tiny_images):
    runs = []
    for _ in range(2):
        trainer = make_trainer(tiny_vae_config, tiny_images, steps=3, batch_size=6, seed=5)
        losses = [e.losses["loss"] for e in trainer.run() if e.kind == "step"]
        runs.append((losses, state_of(trainer.model)))
    assert runs[0][0] == runs[1][0]
    assert_same_state(runs[0][1], runs[1][1])
    # A different seed gives different batches and weights.
    other = make_trainer(tiny_vae_config, tiny_images, steps=3, batch_size=6, seed=6)
    list(other.run())
    assert any(not torch.equal(v, other.model.state_dict()[k]) for k, v in runs[0][1].items())


def test_batches_are_seeded_epochs(tiny_vae_config, tiny_images):
    # Every image once per epoch: two epochs of batch 4 over 16 images cover each image twice.
    trainer = make_trainer(tiny_vae_config, tiny_images, steps=8, batch_size=4)
    seen = torch.cat([trainer._next_batch()["x"] for _ in range(8)])
    flat_seen = sorted(tuple(v.tolist()) for v in seen.flatten(1))
    flat_all = [tuple(v.tolist()) for v in tiny_images.flatten(1)]
    assert flat_seen == sorted(flat_all * 2)


def test_stop_before_running(tiny_vae_config, tiny_images):
    trainer = make_trainer(tiny_vae_config, tiny_images, steps=5)
    before = state_of(trainer.model)
    trainer.stop.set()
    events = list(trainer.run())
    assert [(e.kind, e.step) for e in events] == [("stopped", 0)]
    assert_same_state(before, state_of(trainer.model))


def test_stop_from_another_thread_is_prompt(tiny_vae_config, tiny_images):
    stop = threading.Event()
    torch.manual_seed(0)
    model = vae.build(tiny_vae_config)
    trainer = Trainer(model, vae.make_loss(tiny_vae_config, binarize=False), tiny_images,
                      TrainConfig(steps=10**9, batch_size=4, log_every=1), stop=stop,
                      device=torch.device("cpu"))
    events: list[tuple[float, object]] = []

    def consume():
        for ev in trainer.run():
            events.append((time.perf_counter(), ev))

    worker = threading.Thread(target=consume, daemon=True)
    worker.start()
    deadline = time.perf_counter() + 30
    while trainer.step < 3 and worker.is_alive() and time.perf_counter() < deadline:
        time.sleep(0.01)
    assert trainer.step >= 3, "the trainer did not start"
    t_set = time.perf_counter()
    stop.set()
    worker.join(timeout=5)
    assert not worker.is_alive(), "the trainer did not stop"
    t_last, last = events[-1]
    assert last.kind == "stopped"
    assert t_last - t_set < 1.0
    assert last.step == trainer.step and last.step < 10**9


def test_max_seconds_ends_with_timeout(tiny_vae_config, tiny_images):
    trainer = make_trainer(tiny_vae_config, tiny_images, steps=10**9, max_seconds=0.2)
    t0 = time.perf_counter()
    events = list(trainer.run())
    assert events[-1].kind == "timeout" and time.perf_counter() - t0 < 5
    assert events[-1].step == trainer.step > 0


def test_nan_loss_stops_and_keeps_the_last_good_weights(tiny_vae_config, tiny_images):
    torch.manual_seed(0)
    model = vae.build(tiny_vae_config)
    good = vae.make_loss(tiny_vae_config, binarize=False)
    snapshot = {}

    def loss_fn(m, batch, gen, step):
        loss, logs = good(m, batch, gen, step)
        if step == 2:
            snapshot.update(state_of(m))  # the weights after the last good step
            return loss * float("nan"), logs
        return loss, logs

    trainer = Trainer(model, loss_fn, tiny_images, TrainConfig(steps=5, batch_size=16, lr=1e-2, log_every=1),
                      device=torch.device("cpu"))
    start = state_of(model)
    events = list(trainer.run())
    assert [e.kind for e in events] == ["step", "step", "nan"]
    assert events[-1].step == 2 and np.isnan(events[-1].losses["loss"])
    assert trainer.step == 2
    assert_same_state(snapshot, state_of(model))
    assert any(not torch.equal(start[k], v) for k, v in snapshot.items())  # two good steps did move them
    assert all(torch.isfinite(v).all() for v in state_of(model).values())


@pytest.mark.parametrize("bad", [float("inf"), float("-inf")])
def test_infinite_loss_is_refused_too(tiny_vae_config, tiny_images, bad):
    torch.manual_seed(0)
    model = vae.build(tiny_vae_config)
    start = state_of(model)
    good = vae.make_loss(tiny_vae_config, binarize=False)
    trainer = Trainer(model, lambda m, b, g, s: (good(m, b, g, s)[0] * bad, {}), tiny_images,
                      TrainConfig(steps=3), device=torch.device("cpu"))
    events = list(trainer.run())
    assert [(e.kind, e.step) for e in events] == [("nan", 0)]
    assert_same_state(start, state_of(model))


@pytest.mark.parametrize("decay", [0.9, 0.05])
def test_ema_is_the_hand_computed_lerp(tiny_vae_config, tiny_images, decay):
    torch.manual_seed(0)
    model = vae.build(tiny_vae_config)
    good = vae.make_loss(tiny_vae_config, binarize=False)
    raw_after = [{k: v.detach().clone() for k, v in model.named_parameters()}]  # p_0, p_1, ...

    def loss_fn(m, batch, gen, step):
        if step > 0:
            raw_after.append({k: v.detach().clone() for k, v in m.named_parameters()})
        return good(m, batch, gen, step)

    trainer = Trainer(model, loss_fn, tiny_images, TrainConfig(steps=2, batch_size=16, lr=1e-2, ema_decay=decay),
                      device=torch.device("cpu"))
    list(trainer.run())
    raw_after.append({k: v.detach().clone() for k, v in model.named_parameters()})
    final = trainer.final_model()
    assert final is trainer.ema and final is not trainer.model
    assert not any(p.requires_grad for p in final.parameters())

    # e_0 = p_0; e_{n+1} = d_n e_n + (1 - d_n) p_{n+1}, with the warm-up d_n = min(decay, (1 + n) / (10 + n)).
    want = dict(raw_after[0])
    for n in range(2):
        d = min(decay, (1 + n) / (10 + n))
        want = {k: torch.lerp(e, raw_after[n + 1][k], 1 - d) for k, e in want.items()}
        if n == 0 and decay == 0.05:
            assert d == decay  # below the warm-up value, the decay itself applies
    ema = dict(final.named_parameters())
    moved = 0
    for k, w in want.items():
        assert torch.equal(ema[k], w), k
        moved += not torch.equal(ema[k], raw_after[-1][k])
    assert moved > 0  # the EMA differs from the raw model


def test_without_ema_the_final_model_is_the_model(tiny_vae_config, tiny_images):
    trainer = make_trainer(tiny_vae_config, tiny_images, steps=1)
    list(trainer.run())
    assert trainer.final_model() is trainer.model and trainer.ema is None


def test_learning_rate_schedule():
    trainer = Trainer(torch.nn.Linear(1, 1), lambda *a: None, torch.zeros(1, 1, 1, 1),
                      TrainConfig(steps=110, lr=1.0, warmup_steps=10, lr_min_ratio=0.1),
                      device=torch.device("cpu"))
    assert trainer._lr_at(0) == pytest.approx(0.1)
    assert trainer._lr_at(9) == pytest.approx(1.0)
    assert trainer._lr_at(10) == pytest.approx(1.0)
    assert trainer._lr_at(60) == pytest.approx(0.1 + 0.9 * 0.5)  # half way down the cosine
    assert trainer._lr_at(110) == pytest.approx(0.1)


def test_preview_events_carry_uint8_grids(tiny_vae_config, tiny_images):
    torch.manual_seed(0)
    model = vae.build(tiny_vae_config)
    trainer = Trainer(model, vae.make_loss(tiny_vae_config, binarize=False), tiny_images,
                      TrainConfig(steps=2, batch_size=8, preview_every=1, log_every=1),
                      preview_fn=vae.preview_fn(tiny_vae_config, n=4), device=torch.device("cpu"))
    events = list(trainer.run())
    previews = [e for e in events if e.kind == "preview"]
    assert [e.step for e in previews] == [1, 2]
    for e in previews + [events[-1]]:
        assert e.preview.dtype == np.uint8
        assert e.preview.shape == (2 * (8 + 2) + 2, 2 * (8 + 2) + 2, 1)  # 2x2 grid, pad 2
    assert events[-1].kind == "done"
    assert np.array_equal(events[-1].preview, previews[-1].preview)  # same fixed z, same weights
    assert not model.training


def test_image_grid_layout_is_exact():
    images = np.stack([np.full((2, 3, 1), v, np.uint8) for v in (10, 20, 30)])  # (3, 2, 3, 1)
    grid = image_grid(images, nrow=2, pad=1, pad_value=0)
    want = np.array([
        [0, 0, 0, 0, 0, 0, 0, 0, 0],
        [0, 10, 10, 10, 0, 20, 20, 20, 0],
        [0, 10, 10, 10, 0, 20, 20, 20, 0],
        [0, 0, 0, 0, 0, 0, 0, 0, 0],
        [0, 30, 30, 30, 0, 0, 0, 0, 0],
        [0, 30, 30, 30, 0, 0, 0, 0, 0],
        [0, 0, 0, 0, 0, 0, 0, 0, 0],
    ], np.uint8)[..., None]
    assert grid.dtype == np.uint8
    np.testing.assert_array_equal(grid, want)
    # Default: a square-ish grid, ceil(sqrt(n)) per row.
    rgb = np.zeros((5, 4, 4, 3), np.uint8)
    assert image_grid(rgb).shape == (2 * 6 + 2, 3 * 6 + 2, 3)
    assert image_grid(rgb, pad=0).shape == (8, 12, 3)


def test_to_uint8_rounds_clamps_and_moves_channels_last():
    x = torch.tensor([0.0, 0.5, 1.0, 1.5, -0.2, 0.2]).view(1, 3, 1, 2)
    out = to_uint8(x)
    assert out.dtype == np.uint8 and out.shape == (1, 1, 2, 3)
    np.testing.assert_array_equal(out[0, 0], [[0, 255, 0], [128, 255, 51]])


def test_save_writes_the_final_model_with_how_it_was_trained(tiny_vae_config, tiny_images, tmp_path):
    from engines import checkpoint

    trainer = make_trainer(tiny_vae_config, tiny_images, steps=3, batch_size=4, ema_decay=0.9)
    for _ in trainer.run():
        pass
    out = trainer.save(tmp_path / "ck", family="vae", config=tiny_vae_config,
                       card={"dataset": "tiny"}, elapsed_s=1.234)
    ck = checkpoint.load(out)
    assert ck.card["steps"] == 3 and ck.card["batch_size"] == 4 and ck.card["ema_decay"] == 0.9
    assert ck.card["wall_time_s"] == 1.2 and ck.card["dataset"] == "tiny" and ck.card["hardware"]
    ema_state = trainer.final_model().state_dict()
    assert all(torch.equal(ck.state[k], v) for k, v in ema_state.items())
    assert not all(torch.equal(ck.state[k], v) for k, v in trainer.model.state_dict().items())


def test_two_phases_step_their_own_weights_and_a_late_nan_rolls_back():
    from engines.train import Phase

    torch.manual_seed(0)
    model = torch.nn.ModuleDict({"a": torch.nn.Linear(4, 1), "b": torch.nn.Linear(4, 1)})
    images = torch.rand(8, 1, 2, 2)
    seen = {}

    def loss_for(name):
        def loss_fn(m, batch, gen, step):
            x = batch["x"].flatten(1)
            out = (m["a"](x) + m["b"](x)).square().mean()
            if name == "b" and step == 3:
                seen.update(state_of(m))  # phase "a" of step 3 has stepped already
                return out * float("nan"), {}
            return out, {"out": out.detach()}
        return loss_fn

    phases = [Phase("a", loss_for("a"), lambda m: m["a"].parameters()),
              Phase("b", loss_for("b"), lambda m: m["b"].parameters(), lr=0.0)]
    before = state_of(model)
    trainer = Trainer(model, phases, images, TrainConfig(steps=6, batch_size=8, lr=0.1, log_every=2),
                      device=torch.device("cpu"))
    events = list(trainer.run())
    assert [e.kind for e in events] == ["step", "nan"]
    assert events[0].step == 2 and {"a_loss", "b_loss", "a_out", "b_out"} <= set(events[0].losses)
    after = state_of(model)
    # "b" has lr 0: only "a" moved. The rollback undid step 3's "a" update: back to step 2's weights.
    assert torch.equal(after["b.weight"], before["b.weight"])
    assert not torch.equal(after["a.weight"], before["a.weight"])
    assert not torch.equal(after["a.weight"], seen["a.weight"])
    assert trainer.step == 2 and [h["step"] for h in trainer.history] == [1, 2]
