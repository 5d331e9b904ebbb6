"""Helpers shared by the benchmarks: timing, percentiles, JSON output."""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))
os.environ.setdefault("HF_HUB_OFFLINE", "1")


def percentiles(samples_s: list[float]) -> dict[str, float]:
    """Latency summary in milliseconds."""
    ms = np.asarray(samples_s) * 1000
    return {"n": int(len(ms)), "p50_ms": round(float(np.percentile(ms, 50)), 3),
            "p95_ms": round(float(np.percentile(ms, 95)), 3), "max_ms": round(float(ms.max()), 3)}


def timed(fn, n: int, warmup: int = 5) -> list[float]:
    for _ in range(warmup):
        fn()
    out = []
    for _ in range(n):
        t0 = time.perf_counter()
        fn()
        out.append(time.perf_counter() - t0)
    return out


def data_dir() -> str | None:
    for cand in (os.environ.get("GENLAB_DATA_DIR"), str(ROOT.parent / "shared" / "data")):
        if cand and Path(cand, "mnist").is_dir() or cand and Path(cand).is_dir() and any(Path(cand).glob("t10k-*")):
            return cand
    return None


def emit(result: dict, out: str | os.PathLike | None = None) -> None:
    """Print the result as JSON; with `out`, also write it there (its folder made)."""
    text = json.dumps(result, indent=2, ensure_ascii=False)
    print(text)
    if out:
        Path(out).parent.mkdir(parents=True, exist_ok=True)
        Path(out).write_text(text + "\n", encoding="utf-8")


def file_urls(value):
    """Every file URL in a (possibly diffed) output message of Gradio's queue."""
    if isinstance(value, dict):
        if isinstance(value.get("url"), str) and value["url"].startswith("http"):
            yield value["url"]
        for v in value.values():
            yield from file_urls(v)
    elif isinstance(value, list):
        for v in value:
            yield from file_urls(v)
