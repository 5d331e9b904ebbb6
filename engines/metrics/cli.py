"""`python -m engines metrics`: sample a checkpoint and score it against the held-out digits.

    python -m engines metrics --model assets/mnist-vae-z16 --n 2000 --seed 0 --out vae.json
"""

from __future__ import annotations

import json
from pathlib import Path


def add_parser(sub) -> None:
    m = sub.add_parser("metrics", help="FID, KID, IS, precision and recall of a checkpoint's samples")
    m.add_argument("--model", required=True, help="checkpoint folder (shipped or your own)")
    m.add_argument("--n", type=int, default=2000, help="images to sample (FID is biased under about 2,000)")
    m.add_argument("--seed", type=int, default=0)
    m.add_argument("--features", choices=("classifier", "inception"), default="classifier",
                   help="feature space: the shipped MNIST classifier, or Inception-v3 (downloads its weights)")
    m.add_argument("--data", choices=("mnist",), default="mnist", help="real images: the held-out split")
    m.add_argument("--data-dir", default=None, help="folder with the MNIST IDX files (or GENLAB_DATA_DIR)")
    m.add_argument("--rounds", type=int, default=10, help="bootstrap resamples for the error bars (0: none)")
    m.add_argument("--curve", action="store_true", help="also FID against N and 1/N, extrapolated to infinite N")
    m.add_argument("--sampler-options", type=json.loads, default={},
                   help='JSON of the family\'s sampler options, e.g. \'{"sampler": "ddim", "steps": 10}\'')
    m.add_argument("--out", default=None, help="JSON file to write")


def run(args) -> dict:
    from . import evaluate

    options = args.sampler_options
    if args.curve:
        images, sampled = evaluate.sample_model(args.model, args.n, args.seed, options)
        real = evaluate.heldout_features(args.data_dir, args.features, args.data)
        result = {"model": str(args.model), "seed": args.seed, "sampling": sampled,
                  **evaluate.compare(None, images, features=args.features, rounds=args.rounds, seed=args.seed,
                                     real_features=real)}
        result["timings"] = {"sample_s": sampled["sample_s"], "eval_s": result["eval_s"]}
        result["fid_curve"] = evaluate.fid_curve(None, images, features=args.features, seed=args.seed,
                                                 real_features=real)
    else:
        result = evaluate.evaluate_model(args.model, args.n, args.seed, features=args.features,
                                         data_dir=args.data_dir, options=options, rounds=args.rounds)
    if args.out:
        out = Path(args.out)
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    return result
