"""Time to refuse and peak RSS of each hostile input, through the engine (no app), each in a fresh
subprocess: python scripts/hostile_engine_measure.py [--quick]. Prints one JSON object.

The inputs are built by tests/test_hostile_engine.py's builders. The app-level measurement (raw
HTTP through the launched app) is benchmarks/hostile.py."""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

CASES = {
    # name: python statement run on the input `p` (a Path) in a fresh interpreter
    "vae hidden 20,000,000 (637-byte zip)": ("make_huge_hidden_zip(d)", "checkpoint.load(p)"),
    "vae hidden 300,000": ("make_huge_hidden_zip(d, 300_000)", "checkpoint.load(p)"),
    "vae hidden 4,096, no tensors": ("make_huge_hidden_zip(d, 4096)", "checkpoint.load(p)"),
    "mnist-ddpm with image_size 1024": ("make_ddpm_1024_zip(d)", "checkpoint.load(p)"),
    "config.json of 2 MB": ("make_big_config_zip(d)", "checkpoint.load(p)"),
    "safetensors header claiming 1 TB": ("make_header_bomb_folder(d)", "checkpoint.load(p)"),
    "zip declaring 10M entries (ZIP64)": ("make_many_entries_zip(d)", "checkpoint.load(p)"),
    "checkpoint zip with a 64 MB zeros weights bomb": ("make_weights_bomb_zip(d)", "checkpoint.load(p)"),
    "checkpoint zip bomb: 2 GB of zeros": ("make_gigabyte_bomb_zip(d)", "checkpoint.load(p)"),
    "nested zip": ("make_nested_zip(d, TINY)", "checkpoint.load(p)"),
    "path-traversal zip (accepted: nothing written outside)": ("make_traversal_zip(d, TINY)", "checkpoint.load(p)"),
    "damaged member": ("make_corrupt_member_zip(d, TINY)", "checkpoint.load(p)"),
    "pickle (.pt) named upload": ("d / 'model.pt'", "p.write_bytes(b'x'); checkpoint.load(p)"),
    "image zip: 40 PNGs of 1000x1000 (40 MP) vs 250 MP budget, accepted": (
        "make_many_images_zip(d, 40, 1000)", "load_folder(p, size=32)"),
    "image zip: 300 PNGs of 1000x1000 (300 MP)": ("make_many_images_zip(d, 300, 1000)", "load_folder(p, size=32)"),
    "DDPM sample 256 guided digits (engine loaded first)": (
        "Engine.load(ASSETS / 'mnist-ddpm', torch.device('cpu'))", "p.sample(256, 0, label=3)"),
}
QUICK = ("vae hidden 20,000,000 (637-byte zip)", "mnist-ddpm with image_size 1024", "zip declaring 10M entries (ZIP64)")

CHILD = r"""
import json, resource, sys, time
sys.path.insert(0, {root!r}); sys.path.insert(0, {root!r} + "/tests")
from pathlib import Path
import torch
from engines import checkpoint
from engines.data import load_folder
from engines.diffusion import Engine
from engines.errors import UserError
from test_hostile_engine import *
d = Path({tmp!r})
TINY = Path({root!r}) / "assets" / "mnist-vae-z2"
p = {build}
base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
t = time.perf_counter()
try:
    {run}
    outcome, key = "accepted", None
except UserError as e:
    outcome, key = "refused", e.key
except Exception as e:
    outcome, key = "crashed", type(e).__name__ + ": " + str(e)[:200]
dt = time.perf_counter() - t
print(json.dumps({{"outcome": outcome, "key": key, "seconds": round(dt, 3),
                  "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
                  "rss_before_mb": round(base / 1024, 1)}}))
"""


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true")
    args = ap.parse_args()
    from engines import runtime

    results = {}
    for name, (build, run) in CASES.items():
        if args.quick and name not in QUICK:
            continue
        with tempfile.TemporaryDirectory() as tmp:
            code = CHILD.format(root=str(ROOT), tmp=tmp, build=build, run=run)
            out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=600,
                                 env={"HF_HUB_OFFLINE": "1", "PATH": "/usr/bin:/bin"})
            line = out.stdout.strip().splitlines()[-1] if out.stdout.strip() else ""
            results[name] = json.loads(line) if line.startswith("{") else {"error": out.stderr[-500:]}
        print(name, results[name], file=sys.stderr, flush=True)
    print(json.dumps({"bench": "hostile_engine", "date": time.strftime("%Y-%m-%d"),
                      "note": "busy CPU: other jobs running", "hardware": runtime.hardware_summary(),
                      "rss": "peak RSS of the whole child process (Python, torch, the engine imported)",
                      "results": results}, indent=2))


if __name__ == "__main__":
    main()
