"""engines.train: the generic trainer (learning, determinism, stop, NaN, EMA, previews) and grids."""

from __future__ import annotations

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
    for k, v in a.items():
        assert torch.equal(v, b[k]), k


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


# --- micro-batches, units on the compute thread, stop mid-step, saved state ---------------------

class Noisy(torch.nn.Module):
    """A model whose loss draws the way the families' losses do: per-image noise (randn, an
    in-place uniform_, dropout), a draw shared by the batch, and a running mean in a buffer."""

    def __init__(self, dropout: float = 0.3):
        super().__init__()
        self.a = torch.nn.Linear(16, 8)
        self.b = torch.nn.Linear(8, 1)
        self.drop = torch.nn.Dropout(dropout)
        self.register_buffer("mean", torch.zeros(8))

    def forward(self, x):
        return self.drop(torch.tanh(self.a(x)))


def noisy_loss(m, batch, gen, step):
    x = batch["x"].flatten(1)
    x = x + 0.1 * torch.randn(x.shape, generator=gen)
    u = torch.empty(len(x), 1).uniform_(0, 1, generator=gen)
    shared = torch.rand((), generator=gen)                    # one draw for the whole batch
    h = m(x * u)
    with torch.no_grad():
        m.mean.copy_(m.mean.lerp(h.mean(0), 0.1))            # a running mean, like StyleGAN's w_avg
    out = m.b(h).squeeze(1)
    loss = (out - shared).square().mean()
    return loss, {"out": out.detach().mean()}


def noisy_trainer(chunk, *, steps=3, batch=12, stop=None, split=None, loss=noisy_loss, seed=0, phases=False,
                  dropout=0.3):
    from engines.train import Phase, contiguous_split

    torch.manual_seed(0)
    model = Noisy(dropout)
    images = torch.rand(40, 1, 4, 4, generator=torch.Generator().manual_seed(1))
    if phases:
        loss = [Phase("A", loss, lambda m: m.a.parameters()), Phase("B", loss, lambda m: m.b.parameters())]
    config = TrainConfig(steps=steps, batch_size=batch, lr=1e-2, log_every=1, seed=seed, chunk_seconds=chunk)
    return Trainer(model, loss, images, config, device=torch.device("cpu"), stop=stop,
                   split=split or contiguous_split)


def assert_close_state(a: dict, b: dict, atol=1e-6) -> None:
    assert a.keys() == b.keys()
    for k, v in a.items():
        torch.testing.assert_close(v, b[k], atol=atol, rtol=1e-5, msg=k)


def adam_state(trainer) -> dict:
    tensors, _ = trainer.state_dict()
    return {k: v for k, v in tensors.items() if k.startswith("opt.")}


@pytest.mark.parametrize("phases", [False, True])
def test_micro_batches_make_the_same_step_as_the_whole_batch(phases):
    # chunk_seconds ~0: one image per micro-batch. The same random numbers (per image, shared, the
    # dropout masks), the same running mean, the same gradients: the same weights and Adam moments.
    runs = []
    for chunk in (None, 1e-9):
        torch.manual_seed(7)  # dropout draws from torch's global generator
        trainer = noisy_trainer(chunk, phases=phases)
        events = list(trainer.run())
        assert events[-1].kind == "done"
        runs.append(trainer)
    whole, split = runs
    assert whole.chunk_counts == [1] * len(whole.phases) and split.chunk_counts == [12] * len(split.phases)
    assert not split._whole
    assert_close_state(state_of(whole.model), state_of(split.model))
    assert_close_state(adam_state(whole), adam_state(split))
    assert not torch.equal(whole.model.mean, torch.zeros(8))
    np.testing.assert_allclose([h["loss"] for h in whole.history], [h["loss"] for h in split.history], rtol=1e-5)


def test_a_draw_that_cannot_be_split_runs_that_phase_whole():
    def loss(m, batch, gen, step):
        x = batch["x"].flatten(1)
        keep = torch.bernoulli(torch.full_like(x, 0.5), generator=gen)  # per image, from a tensor
        return m.b(m(x * keep)).square().mean(), {}

    whole, split = noisy_trainer(None, loss=loss), noisy_trainer(1e-9, loss=loss)
    torch.manual_seed(7)
    list(whole.run())
    torch.manual_seed(7)
    list(split.run())
    assert split._whole == {0} and split.chunk_counts == [1]
    assert_same_state(state_of(whole.model), state_of(split.model))


def test_every_unit_of_work_runs_on_the_compute_thread_holding_the_lock():
    from engines import runtime

    seen = set()

    def loss(m, batch, gen, step):
        seen.add((threading.current_thread().name.startswith("genlab-compute"), runtime.COMPUTE_LOCK._is_owned()))
        return noisy_loss(m, batch, gen, step)

    trainer = noisy_trainer(1e-9, loss=loss)
    assert [e.kind for e in trainer.run()][-1] == "done"
    assert seen == {(True, True)}
    # The stop hooks are gone after the run, and a run driven from the compute thread itself works.
    assert not any(m._forward_pre_hooks for m in trainer.model.modules())
    again = noisy_trainer(1e-9, loss=loss)
    assert runtime.call(lambda: [e.kind for e in again.run()])[-1] == "done"


@pytest.mark.parametrize("where", ["between", "forward", "backward"])
def test_stop_in_the_middle_of_a_step_undoes_it_and_a_resume_goes_on_exactly(where):
    # Stop during the third step's second phase, after the first phase has stepped: the kept
    # weights, moments, buffer, batch order and generator are those after two steps, and going
    # on from there gives what three steps in one go give. (No dropout here: its masks come from
    # torch's global generator, which a stopped step does not rewind.)
    stop = threading.Event()
    calls = {"n": 0}

    def loss(m, batch, gen, step):
        out = noisy_loss(m, batch, gen, step)
        if step == 2 and torch.is_grad_enabled() and m.b.weight.requires_grad:  # phase B of step 3
            calls["n"] += 1
            if calls["n"] == 3:
                if where == "between":
                    stop.set()
                elif where == "forward":
                    stop.set()
                    m(batch["x"].flatten(1))  # the next module's forward sees it
                else:
                    out[0].register_hook(lambda g: stop.set())  # set while backward runs
        return out

    stopped = noisy_trainer(1e-9, steps=10, stop=stop, loss=loss, phases=True, dropout=0.0)
    events = list(stopped.run())
    assert events[-1].kind == "stopped" and stopped.step == 2 and calls["n"] == 3
    two = noisy_trainer(None, steps=2, phases=True, dropout=0.0)
    list(two.run())
    assert_close_state(state_of(two.model), state_of(stopped.model))
    assert_close_state(adam_state(two), adam_state(stopped))
    assert all(p.grad is None for p in stopped.model.parameters())
    three = noisy_trainer(None, steps=3, phases=True, dropout=0.0)
    list(three.run())
    resumed = noisy_trainer(None, steps=3, phases=True, dropout=0.0)
    resumed.model.load_state_dict(stopped.model.state_dict())
    resumed.load_state_dict(*stopped.state_dict())
    list(resumed.run())
    assert_close_state(state_of(three.model), state_of(resumed.model))


def test_saved_state_continues_exactly(tiny_vae_config, tiny_images, tmp_path):
    # 3 steps, saved through safetensors and JSON, then 3 more == 6 in one go: bit for bit (whole
    # steps), with the warm-up, the EMA, Adam's moments, the batch order and the generator.
    import json

    from safetensors.torch import load_file, save_file

    kw = {"batch_size": 6, "warmup_steps": 4, "ema_decay": 0.9, "log_every": 1}
    one_go = make_trainer(tiny_vae_config, tiny_images, steps=6, **kw)
    list(one_go.run())
    first = make_trainer(tiny_vae_config, tiny_images, steps=3, **kw)
    list(first.run())
    tensors, meta = first.state_dict()
    save_file({**tensors, **{"model." + k: v for k, v in first.model.state_dict().items()}}, tmp_path / "s.safetensors")
    (tmp_path / "s.json").write_text(json.dumps(meta))
    loaded = load_file(tmp_path / "s.safetensors")
    second = make_trainer(tiny_vae_config, tiny_images, steps=6, seed=99, **kw)  # another seed: the state wins
    second.model.load_state_dict({k[6:]: v for k, v in loaded.items() if k.startswith("model.")})
    second.load_state_dict({k: v for k, v in loaded.items() if not k.startswith("model.")},
                           json.loads((tmp_path / "s.json").read_text()))
    assert second.step == 3 and second.config.warmup_steps == 4
    events = list(second.run())
    assert [e.step for e in events if e.kind == "step"] == [4, 5, 6]
    assert_same_state(state_of(one_go.model), state_of(second.model))
    assert_same_state(state_of(one_go.ema), state_of(second.ema))
    assert [h["loss"] for h in one_go.history[3:]] == [h["loss"] for h in second.history]


def test_a_state_of_another_model_is_refused(tiny_vae_config, tiny_images):
    from engines.errors import UserError

    first = make_trainer(tiny_vae_config, tiny_images, steps=1)
    list(first.run())
    tensors, meta = first.state_dict()
    other = noisy_trainer(None)
    with pytest.raises(UserError) as err:
        other.load_state_dict(tensors, meta)
    assert err.value.key == "train_state_mismatch" and "训练状态" in err.value.localized("zh")
    with pytest.raises(UserError):
        first.load_state_dict(tensors, {**meta, "version": 99})
