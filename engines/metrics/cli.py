"""`python -m engines metrics`: sample a checkpoint and score it against the held-out images of the
data set its card names (MNIST digits or shapes), in that data set's classifier's feature space.

    python -m engines metrics --model assets/mnist-vae-z16 --n 2000 --seed 0 --out vae.json
    python -m engines metrics --model assets/shapes-vae-z16 --n 2000 --seed 0 --out shapes-vae.json
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
                   help="feature space: the shipped classifier of the model's data set (MNIST or shapes), "
                        "or Inception-v3 (downloads its weights)")
    m.add_argument("--data", choices=("mnist", "shapes"), default=None,
                   help="the model's data set, checked against its card (default: read from the card)")
    m.add_argument("--data-dir", default=None, help="folder with the MNIST IDX files (or GENLAB_DATA_DIR)")
    m.add_argument("--rounds", type=int, default=10, help="bootstrap resamples for the error bars (0: none)")
    m.add_argument("--curve", action="store_true", help="also FID against N and 1/N, extrapolated to infinite N")
    m.add_argument("--sampler-options", type=json.loads, default={},
                   help='JSON of the family\'s sampler options, e.g. \'{"sampler": "ddim", "steps": 10}\'')
    m.add_argument("--out", default=None, help="JSON file to write")


def run(args) -> dict:
    from . import evaluate

    from ..errors import UserError

    options = args.sampler_options
    dataset = evaluate.model_dataset(args.model)
    if args.data is not None and args.data != dataset:
        raise UserError("metrics_dataset_mismatch", name=str(args.model)[:60], dataset=dataset, asked=args.data)
    if args.curve:
        images, sampled = evaluate.sample_model(args.model, args.n, args.seed, options)
        real = evaluate.heldout_features(args.data_dir, args.features, dataset)
        result = {"model": str(args.model), "seed": args.seed, "dataset": dataset, "real": evaluate.REAL[dataset],
                  "sampling": sampled, **evaluate.compare(None, images, features=args.features, rounds=args.rounds,
                                                          seed=args.seed, real_features=real, dataset=dataset)}
        result["timings"] = {"sample_s": sampled["sample_s"], "eval_s": result["eval_s"]}
        result["fid_curve"] = evaluate.fid_curve(None, images, features=args.features, seed=args.seed,
                                                 real_features=real, dataset=dataset)
    else:
        result = evaluate.evaluate_model(args.model, args.n, args.seed, features=args.features,
                                         data_dir=args.data_dir, options=options, rounds=args.rounds)
    if args.out:
        out = Path(args.out)
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    return result
