"""benchmarks/diffusion_train.py: GenLab against diffusers like for like (tiny run, eager only; the
compiled pair is the same code with compile=True, too slow to compile in a test)."""

from __future__ import annotations

import pytest
import torch

from benchmarks import diffusion_train as dt


def test_the_pairs_are_like_for_like_and_the_ratio_is_theirs():
    pytest.importorskip("diffusers")
    gen = torch.Generator().manual_seed(0)
    images, labels = torch.rand(16, 1, 28, 28, generator=gen), torch.randint(0, 10, (16,), generator=gen)
    runs, pairs = dt.measure(images, labels, gpu=False, compile=False, batch=4, warmup=1, steps=1,
                             dev=torch.device("cpu"))
    assert [(p["mode"], p["precision"]) for p in pairs] == [("eager", "fp32")]
    p = pairs[0]
    g, d = runs[p["genlab"]], runs[p["diffusers"]]
    assert g["params"] == d["params"] == 1624577  # the same architecture, parameter for parameter
    assert p["genlab_over_diffusers"] == round(g["images_per_s"] / d["images_per_s"], 2)
    assert runs["genlab_shipped_arch"]["params"] < g["params"]
    assert dt.compile_mode(torch.device("cpu")) is None  # the Trainer's own choice on a CPU (default mode)


def test_the_interleaved_eager_pair_times_both_over_the_same_windows():
    pytest.importorskip("diffusers")
    gen = torch.Generator().manual_seed(0)
    images, labels = torch.rand(16, 1, 28, 28, generator=gen), torch.randint(0, 10, (16,), generator=gen)
    runs, pairs = dt.measure(images, labels, gpu=False, compile=False, interleave=1, batch=4, warmup=1, steps=2,
                             dev=torch.device("cpu"))
    assert pairs[0]["timing"] == "interleaved, windows of 1 steps" and len(pairs) == 1
    for name in ("genlab_eager", "diffusers_eager"):
        assert runs[name]["images_per_s"] == pytest.approx(2 * 4 / runs[name]["seconds"], rel=0.06)
