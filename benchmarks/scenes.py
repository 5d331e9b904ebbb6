"""The scenes world: generation speed, caption speed, and the shipped judge's accuracy per attribute.

    python -m benchmarks.scenes                  # prints JSON (about a minute on 2 busy CPU cores)
    python -m benchmarks.scenes --quick          # fewer images, for development
    python -m benchmarks.scenes --out benchmarks/results/scenes-cpu-2026-12-07.json

(a) Speed on this CPU, one process: scenes drawn per second (the structured descriptions), images
    rendered per second (numpy, batches of 256), both together, and captions drawn per second in
    each language. Best of 3 runs.
(b) The judge (assets/scenes-judge) on fresh seeds its card never used: per attribute on the
    "eval" stream (every scene holds a held-out colour+shape pair), on the "judge-test" stream, and
    on the held-out-pair objects alone, on softened copies of the eval images (blurred, or halved
    and brought back up: what a generator's output may look like); and its speed. Position: an object found in its cell;
    colour / shape / size: found and right; count, background, scene: per image.
"""

from __future__ import annotations

import argparse
import json
import time

import torch

from benchmarks.common import emit
from engines import runtime
from engines.scenes import captions, heldout, judge, world

SEED = 1000   # the card measured seed 0; these scenes are new to it


def _best(fn, runs: int = 3) -> float:
    best = float("inf")
    for _ in range(runs):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best


def speed(n: int) -> dict:
    world.templates()   # built once per process (~0.1 s), not counted
    scenes = world.sample_scenes(n, seed=SEED)
    t_sample = _best(lambda: world.sample_scenes(n, seed=SEED))
    t_render = _best(lambda: world.render(scenes))
    t_en = _best(lambda: captions.scene_captions(scenes, "en", seed=SEED))
    t_zh = _best(lambda: captions.scene_captions(scenes, "zh", seed=SEED))
    return {"n": n, "scenes_per_s": round(n / t_sample), "images_rendered_per_s": round(n / t_render),
            "images_with_descriptions_per_s": round(n / (t_sample + t_render)),
            "captions_per_s": {"en": round(n / t_en), "zh": round(n / t_zh)}}


def held_out_objects(seen: list[dict], scenes: list[dict]) -> dict:
    """Colour and shape right on the held-out-pair objects alone (found in their cell)."""
    n = right_c = right_s = both = 0
    for got, truth in zip(seen, scenes):
        by_cell = {o["cell"]: o for o in got["objects"]}
        for o in truth["objects"]:
            if (o["color"], o["shape"]) in heldout.HELD_OUT_PAIRS:
                g = by_cell.get(o["cell"], {})
                n += 1
                right_c += g.get("color") == o["color"]
                right_s += g.get("shape") == o["shape"]
                both += g.get("color") == o["color"] and g.get("shape") == o["shape"]
    return {"objects": n, "color": round(right_c / n, 4), "shape": round(right_s / n, 4), "pair": round(both / n, 4)}


def degraded(images, how: str):
    """Softer images, as a generator might make them: "blur" (a 3x3 Gaussian, sigma 1 px) or "half"
    (down to 32x32 and bilinearly back up)."""
    x = judge.as_input(images)
    if how == "blur":
        k = torch.exp(-torch.tensor([1.0, 0.0, 1.0]) / 2)
        k = (k[:, None] * k[None, :] / k.sum() ** 2).expand(3, 1, 3, 3)
        x = torch.nn.functional.conv2d(torch.nn.functional.pad(x, (1, 1, 1, 1), mode="replicate"), k, groups=3)
    else:
        x = torch.nn.functional.interpolate(torch.nn.functional.avg_pool2d(x, 2), scale_factor=2, mode="bilinear")
    return (x.clamp(0, 1) * 255).round().byte().permute(0, 2, 3, 1).numpy()


def accuracy(model, n: int) -> dict:
    out = {}
    for stream in ("eval", "judge-test"):
        scenes = world.sample_scenes(n, seed=SEED, stream=stream)
        images = world.render(scenes)
        t0 = time.perf_counter()
        seen = judge.judge_images(model, images)
        out[stream] = {"n": n, **judge.score(seen, scenes), "judge_images_per_s": round(n / (time.perf_counter() - t0))}
        if stream == "eval":
            out[stream]["held_out_pair_objects"] = held_out_objects(seen, scenes)
            for how in ("blur", "half"):
                out[f"eval_{how}"] = {"n": n, **judge.score(judge.judge_images(model, degraded(images, how)), scenes)}
    return out


def main(argv=None) -> dict:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true")
    p.add_argument("--note", default="busy CPU: other jobs running")
    p.add_argument("--out", default=None)
    a = p.parse_args(argv)
    n_speed, n_judge = (500, 300) if a.quick else (2000, 2000)
    model = judge.load_judge()
    card = json.loads((judge.JUDGE_DIR / "card.json").read_text(encoding="utf-8"))
    result = {"benchmark": "scenes", "hardware": runtime.hardware_summary(), "note": a.note, "quick": a.quick,
              "torch_threads": torch.get_num_threads(), "seed": SEED,
              "speed": speed(n_speed), "judge": accuracy(model, n_judge),
              "judge_card": {"steps": card.get("steps"), "images_seen": card.get("images_seen"),
                             "wall_time_s": card.get("wall_time_s")}}
    emit(result, a.out)
    return result


if __name__ == "__main__":
    main()
