"""Latent diffusion on held-out prompts: per attribute, how often the image shows what was asked.

    python -m benchmarks.ldm_quality --model assets/scenes-ldm --out benchmarks/results/ldm_quality-cpu-2026-12-08.json
    python -m benchmarks.ldm_quality --model assets/scenes-ldm --quick       # 8 prompts a cell, for development

Prompts come only from the held-out side of the scenes world: scenes of the "eval" stream (every one
holds a colour+shape pair no training scene has) captioned by the evaluation sampler (held-out
phrasings half the time they fit), in English and in Chinese. Nothing here was used to train, tune or
select the model. Three kinds of prompt, each scored on what it asks:

- single: one object ("a red circle in the top left corner"): position (exactly one object found,
  in the asked cell), colour / shape (the object in that cell), size where the caption says one,
  all_asked (every one of those right);
- relation: two objects and a relation ("a red circle left of a blue square"): both objects found
  (colour and shape right) and their cells in that relation on the axis the caption names;
- count: "two green stars": exactly that many of that shape found (and nothing else of that shape).

The judge is assets/scenes-judge (its own streams, 100% on the eval stream's real images). CLIP
guidance runs on the single-object prompts of both languages as far as --clip allows (the GenLab CLIP
steering the shapes DDPM, 32x32 upscaled for the judge): the older way, on the same prompts, in the
same table. One image per prompt, seed = the prompt's index.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np

from benchmarks.common import ROOT, emit

KINDS = ("single", "relation", "count")
AXIS = {"left of": 1, "right of": 1, "above": 0, "below": 0}


def held_out_prompts(kind: str, lang: str, n: int, seed: int = 0) -> list[tuple[dict, object]]:
    """n (scene, Caption) pairs of one kind from the eval stream and the evaluation caption sampler."""
    from engines.scenes import captions, world

    out, start = [], 0
    want = {"single": "one", "relation": "rel", "count": "count"}[kind]
    while len(out) < n and start < 200 * n:
        scenes = world.sample_scenes(64, seed=seed, stream="eval", start=start)
        for i, s in enumerate(scenes):
            if kind == "single" and len(s["objects"]) != 1 or kind != "single" and len(s["objects"]) == 1:
                continue
            if kind == "relation" and len(s["objects"]) != 2:
                continue
            c = captions.caption(s, lang, np.random.default_rng([seed, 99, start + i]), split="eval")
            if c.templates and c.templates[0].split(".")[1] == want:
                out.append((s, c))
        start += 64
    return out[:n]


def _said(caption, table: dict, key) -> bool:
    return any(p in caption.phrases for p in table[key])


def score_single(seen: dict, scene: dict, caption) -> dict[str, bool | None]:
    from engines.scenes.grammar import EN, ZH

    o = scene["objects"][0]
    got = {g["cell"]: g for g in seen["objects"]}.get(o["cell"])
    lex = EN if caption.lang == "en" else ZH
    size_asked = _said(caption, lex["size"], o["size"])
    alone = got is not None and seen["count"] == 1   # one object asked: one object, in its cell
    return {"position": alone, "color": got is not None and got["color"] == o["color"],
            "shape": got is not None and got["shape"] == o["shape"],
            "size": (got is not None and got["size"] == o["size"]) if size_asked else None,
            "all_asked": alone and got["color"] == o["color"] and got["shape"] == o["shape"]
            and (not size_asked or got["size"] == o["size"])}


def score_relation(seen: dict, scene: dict, caption) -> dict[str, bool | None]:
    """Both objects found by colour and shape, in the truth's relation on the axis the caption names."""
    from engines.scenes.grammar import EN, ZH

    lex = EN if caption.lang == "en" else ZH
    said = [r for r in AXIS if _said(caption, lex["relation"], r)]
    a, b = scene["objects"]
    found = [[g["cell"] for g in seen["objects"] if g["color"] == o["color"] and g["shape"] == o["shape"]]
             for o in (a, b)]
    pairs = [(ca, cb) for ca in found[0] for cb in found[1] if ca != cb]
    both = bool(pairs)
    if not said or not both:
        return {"relation": False if said else None, "objects": both}
    axis = AXIS[said[0]]
    want = np.sign(divmod(a["cell"], 3)[axis] - divmod(b["cell"], 3)[axis])
    right = any(np.sign(divmod(ca, 3)[axis] - divmod(cb, 3)[axis]) == want for ca, cb in pairs)
    return {"relation": bool(right and want != 0), "objects": both}


def score_count(seen: dict, scene: dict, caption) -> dict[str, bool | None]:
    shapes = [o["shape"] for o in scene["objects"]]
    common = max(set(shapes), key=shapes.count)
    return {"count": sum(g["shape"] == common for g in seen["objects"]) == shapes.count(common)}


SCORERS = {"single": score_single, "relation": score_relation, "count": score_count}


def ldm_images(engine, prompts: list[str], steps: int, guidance: float | None, batch: int = 16) -> np.ndarray:
    out = []
    for k in range(0, len(prompts), batch):
        chunk = prompts[k:k + batch]
        # one seed per batch; each image its own noise: the batch's draws
        images, _ = engine.generate(chunk, len(chunk), k, steps, guidance)
        out.append(images)
    return np.concatenate(out)


def clip_images(prompts: list[str], steps: int) -> tuple[np.ndarray, list[str]]:
    from engines.ldm.compare import clip_run
    from engines.errors import UserError

    ddpm = str(ROOT / "assets" / "shapes-ddpm")
    out, errors = [], []
    for i, p in enumerate(prompts):
        try:
            img = clip_run(p, ddpm, i, steps).images
        except UserError as err:
            errors.append(str(err))
            img = np.zeros((1, 32, 32, 3), np.uint8)
        out.append(np.repeat(np.repeat(img, 2, 1), 2, 2) if img.shape[1] == 32 else img)
    return np.concatenate(out), errors


def tally(rows: list[dict]) -> dict:
    keys = sorted({k for r in rows for k in r})
    out = {}
    for k in keys:
        vals = [r[k] for r in rows if r.get(k) is not None]
        out[k] = {"right": int(sum(vals)), "of": len(vals), "rate": round(sum(vals) / len(vals), 3) if vals else None}
    return out


def run_cell(engine, kind: str, lang: str, n: int, steps: int, guidance) -> tuple[dict, list]:
    from engines.scenes.judge import judge_images, load_judge

    pairs = held_out_prompts(kind, lang, n)
    prompts = [c.text for _, c in pairs]
    t0 = time.perf_counter()
    images = ldm_images(engine, prompts, steps, guidance)
    seconds = time.perf_counter() - t0
    seen = judge_images(load_judge(), images)
    rows = [SCORERS[kind](s, scene, c) for s, (scene, c) in zip(seen, pairs)]
    examples = [{"prompt": p, "judge_sees": [f"{o['color']} {o['shape']} {o['position']}" for o in s["objects"]],
                 **{k: v for k, v in r.items()}} for p, s, r in list(zip(prompts, seen, rows))[:4]]
    return {"prompts": len(prompts), "seconds": round(seconds, 1), **tally(rows), "examples": examples}, images


def main(argv=None) -> dict:
    import torch

    from engines import runtime
    from engines.ldm.engine import Engine
    from engines.scenes.judge import judge_images, load_judge

    p = argparse.ArgumentParser()
    p.add_argument("--model", default=str(ROOT / "assets" / "scenes-ldm"))
    p.add_argument("--n", type=int, default=48, help="prompts per kind and language")
    p.add_argument("--steps", type=int, default=50)
    p.add_argument("--guidance", type=float, default=None)
    p.add_argument("--clip", type=int, default=8, help="single-object prompts per language for CLIP guidance")
    p.add_argument("--clip-steps", type=int, default=20)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--quick", action="store_true")
    p.add_argument("--out", default=None)
    p.add_argument("--write-card", action="store_true", help="put the headline rates into the model's card.json")
    args = p.parse_args(argv)
    if args.quick:
        args.n, args.clip, args.steps = 8, 1, 20
    torch.set_num_threads(args.threads)
    engine = Engine.load(args.model, device=torch.device("cpu"))
    table = {}
    for kind in KINDS:
        for lang in ("en", "zh"):
            table[f"{kind}/{lang}"], _ = run_cell(engine, kind, lang, args.n, args.steps, args.guidance)
    clip = {}
    for lang in ("en", "zh"):
        if args.clip <= 0:
            break
        pairs = held_out_prompts("single", lang, args.clip)
        t0 = time.perf_counter()
        images, errors = clip_images([c.text for _, c in pairs], args.clip_steps)
        seen = judge_images(load_judge(), images)
        rows = [score_single(s, scene, c) for s, (scene, c) in zip(seen, pairs)]
        clip[f"single/{lang}"] = {"prompts": len(pairs), "seconds": round(time.perf_counter() - t0, 1),
                                  **tally(rows), "refused": errors[:3]}
    result = {"benchmark": "ldm_quality", "model": str(Path(args.model).name), "card_steps": engine.card.get("steps"),
              "ddim_steps": args.steps, "guidance": engine.default_guidance if args.guidance is None else args.guidance,
              "prompts": "held out only: eval-stream scenes (held-out colour+shape pairs), evaluation caption sampler "
                         "(held-out phrasings half the time they fit); one image per prompt",
              "judge": "assets/scenes-judge", "ldm": table,
              "clip_guidance": {"what": f"GenLab CLIP steering assets/shapes-ddpm (32x32, upscaled 2x for the judge), "
                                        f"{args.clip_steps} steps, 1 candidate", **clip},
              "targets": {"single color": 0.9, "single position": 0.9, "single shape": 0.8, "relation": 0.6},
              "hardware": runtime.hardware_summary(torch.device("cpu")), "torch_threads": args.threads,
              "note": "busy CPU: other jobs running", "quick": args.quick}
    emit(result, args.out)
    if args.write_card:
        write_card(Path(args.model), result, args.out)
    return result


def headline(result: dict) -> dict[str, float]:
    """The card's held-out rates: single-object colour / shape / position, relation, count, per language."""
    out = {}
    for lang in ("en", "zh"):
        cells = result["ldm"]
        for kind, attr in (("single", "color"), ("single", "shape"), ("single", "position"), ("single", "all_asked"),
                           ("relation", "relation"), ("count", "count")):
            rate = cells[f"{kind}/{lang}"].get(attr, {}).get("rate")
            if rate is not None:
                out[f"{attr}_{lang}"] = rate
    return out


def write_card(folder: Path, result: dict, out) -> None:
    """Held-out numbers into the card, measured once (this run), with where the full table is."""
    import json

    path = folder / "card.json"
    card = json.loads(path.read_text(encoding="utf-8"))
    card["heldout_judged"] = headline(result)
    card["heldout_note"] = (f"held-out prompts only (eval-stream scenes, evaluation caption sampler), one image each, "
                            f"DDIM-{result['ddim_steps']}, guidance {result['guidance']}, judged by assets/scenes-judge; "
                            f"measured once after training, nothing selected on them; full table: "
                            f"{Path(out).name if out else 'benchmarks/ldm_quality.py'}")
    path.write_text(json.dumps(card, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
