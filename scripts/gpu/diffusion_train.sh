#!/usr/bin/env bash
# GenLab against diffusers on a GPU, like for like both ways (fp32 eager, bf16 eager, fp32 compiled with
# CUDA graphs for both), in one command. The device machine has no network: carry the wheels of the
# benchmark-only requirements (requirements-bench.txt: diffusers and its dependencies) in .whl/, e.g.
#   pip download -d .whl --no-deps diffusers==0.42.1 importlib_metadata zipp lazy-importer
# and carry .whl (and .data with the MNIST IDX files; without it the digits are uniform noise,
# which does not change throughput). Then, through the device tool:
#   bash scripts/gpu/diffusion_train.sh      # about 5 minutes on an H100 (two compiles of ~1 min each)
# The JSON comes back as $OUT/diffusion_train-gpu-<date>.json: commit it under benchmarks/results/ and
# point the README's diffusion-train-gpu block at it (python scripts/readme_figures.py).
set -u
export PYTHONUNBUFFERED=1 GENLAB_DATA_DIR="$PWD/.data" HF_HUB_OFFLINE=1
OUT="${OUT:-/tmp/out}"; mkdir -p "$OUT"
if ls .whl/*.whl >/dev/null 2>&1; then
    python3 -m pip install -q --no-index --no-deps --no-compile --target /tmp/site .whl/*.whl && export PYTHONPATH=/tmp/site
fi
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv | tee "$OUT/gpu.txt"
timeout "${BENCH_S:-540}" python3 -m benchmarks.diffusion_train --note "quiet GPU, one session" \
    --out "$OUT/diffusion_train-gpu-$(date -u +%F).json" 2> "$OUT/diffusion_train.err"
tail -3 "$OUT/diffusion_train.err"
