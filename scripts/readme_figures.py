"""The README's generated tables of quality and speed, written from benchmarks/results/*.json.

    python scripts/readme_figures.py           # rewrite the blocks between the markers in README.md
    python scripts/readme_figures.py --check   # exit 1 when README.md differs from what they generate

Each block sits between two marker comments,

    <!-- figures:NAME from benchmarks/results/FILE.json (scripts/readme_figures.py) -->
    ...
    <!-- /figures:NAME -->

and is regenerated whole from its result file; nothing outside the markers is touched. A block's
every number comes from its file (tests/test_readme_figures.py checks both: the text and that
each figure in a table has a value in the file behind it).
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
RESULTS = ROOT / "benchmarks" / "results"
BLOCK = re.compile(r"(<!-- figures:(?P<name>[\w-]+) from (?P<file>\S+) \(scripts/readme_figures.py\) -->\n)"
                   r"(?P<body>.*?)(<!-- /figures:(?P=name) -->)", re.S)


def _pm(value, std, digits: int = 1) -> str:
    return f"{value:.{digits}f}" + ("" if std is None else f" ± {std:.{digits}f}")


def metrics_scores(data: dict) -> str:
    """The shipped MNIST models scored by `benchmarks/metrics_speed.py` (its table and floor)."""
    lines = ["| model | ms / image | FID ± bootstrap std | precision | recall |", "| --- | --- | --- | --- | --- |"]
    for row in sorted(data["table"], key=lambda r: r["fid"]):
        opts = row.get("sampler_options") or {}
        label = f"`{row['model']}`" + (f", DDIM-{opts['steps']}" if opts.get("steps") else "")
        lines.append(f"| {label} | {row['ms_per_image']:.1f} | {_pm(row['fid'], row['fid_std'])} | "
                     f"{row['precision']:.3f} | {row['recall']:.3f} |")
    floor = data["real_vs_real_floor_1000_vs_1000"]
    lines.append(f"| held-out vs held-out (1,000 vs 1,000) | – | {floor['fid']:.1f} | {floor['precision']:.3f} | "
                 f"{floor['recall']:.3f} |")
    return "\n".join(lines) + "\n"


def metrics_speed(data: dict) -> str:
    """How long scoring took (`benchmarks/metrics_speed.py`), against the issue's targets."""
    s = data["seconds"]
    return "\n".join([
        "| what | seconds | target |", "| --- | --- | --- |",
        f"| features of the {data['n']:,} held-out digits (once; cached after) | {s['real_features_once']:.1f} | |",
        f"| FID, KID, IS, precision and recall of {data['n']:,} samples | {s['evaluate_fid_kid_pr_is']:.1f} | ≤ 20 |",
        f"| the same with 10 bootstrap rounds for the error bars | {s['evaluate_with_bootstrap_10']:.1f} | ≤ 20 |",
        f"| FID against N (and KID) for one model | {s['fid_vs_n_curve']:.1f} | ≤ 60 |",
        f"| sampling {data['n']:,} digits from `mnist-vae-z16` (not counted above) | {s['sampling_vae_z16']:.1f} | |",
    ]) + "\n"


def trilemma(data: dict) -> str:
    """Quality, diversity and speed of every family's MNIST models, and the reconstructions
    (`benchmarks/trilemma.py`)."""
    lines = [f"| model (N = {data['n']:,}) | ms / image | FID ± bootstrap std | recall | precision |",
             "| --- | --- | --- | --- | --- |"]
    for row in data["rows"]:
        lines.append(f"| `{row['label']}` | {row['ms_per_image']:.1f} | {_pm(row['fid'], row['fid_std'])} | "
                     f"{_pm(row['recall'], row['recall_std'], 3)} | {_pm(row['precision'], row['precision_std'], 3)} |")
    floor = data["floor"]
    lines.append(f"| held-out vs held-out (1,000 vs 1,000) | – | {floor['fid']:.1f} | {floor['recall']:.3f} | "
                 f"{floor['precision']:.3f} |")
    lines += ["", "| reconstruction of the held-out digits | PSNR (dB) | SSIM |", "| --- | --- | --- |"]
    lines += [f"| `{r['model']}` | {_pm(r['psnr_db'], r['psnr_std'], 2)} | {_pm(r['ssim'], r['ssim_std'], 3)} |"
              for r in data["reconstructions"]]
    return "\n".join(lines) + "\n"


def metrics_shapes(data: dict) -> str:
    """The shipped shapes models in the shapes classifier's space (`benchmarks/metrics_shapes.py`).
    Its README block (<!-- figures:metrics-shapes from benchmarks/results/metrics_shapes-cpu-....json
    ... -->) comes with the README's shapes paragraph; MAKERS lists it then."""
    lines = [f"| model (N = {data['n']:,}) | FID ± bootstrap std | KID | precision | recall | IS, shape head |",
             "| --- | --- | --- | --- | --- | --- |"]
    for row in sorted(data["rows"], key=lambda r: r["fid"]):
        lines.append(f"| `{row['label']}` | {_pm(row['fid'], row['fid_std'])} | {row['kid']['mean']:.0f} | "
                     f"{_pm(row['precision'], row['precision_std'], 3)} | {_pm(row['recall'], row['recall_std'], 3)} | "
                     f"{row['is']:.2f} |")
    floor = data["floor"]
    lines.append(f"| held-out vs held-out (1,000 vs 1,000) | {floor['fid']:.1f} | {floor['kid']['mean']:.0f} | "
                 f"{floor['precision']:.3f} | {floor['recall']:.3f} | {floor['is']:.2f} |")
    return "\n".join(lines) + "\n"


MAKERS = {"metrics-scores": metrics_scores, "metrics-speed": metrics_speed, "trilemma": trilemma,
          "metrics-shapes": metrics_shapes}


def render(text: str, root: Path = ROOT) -> str:
    """README text with every marked block regenerated from the result file its marker names."""
    def one(m: re.Match) -> str:
        name, file = m["name"], m["file"]
        if name not in MAKERS:
            raise KeyError(f"README block '{name}': no generator in scripts/readme_figures.py")
        path = root / file
        if not path.is_file():
            raise FileNotFoundError(f"README block '{name}': its result file {file} is missing")
        body = MAKERS[name](json.loads(path.read_text(encoding="utf-8")))
        return m.group(1) + body + m.group(5)

    return BLOCK.sub(one, text)


def blocks(text: str) -> list[tuple[str, str, str]]:
    """(name, result file, body) of every marked block."""
    return [(m["name"], m["file"], m["body"]) for m in BLOCK.finditer(text)]


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--check", action="store_true", help="exit 1 if README.md differs from the generated blocks")
    args = p.parse_args(argv)
    text = README.read_text(encoding="utf-8")
    new = render(text)
    if args.check:
        if new != text:
            print("README.md's generated figures are out of date: run python scripts/readme_figures.py")
            return 1
        return 0
    README.write_text(new, encoding="utf-8")
    print(f"{len(blocks(new))} blocks written")
    return 0


if __name__ == "__main__":
    sys.exit(main())
