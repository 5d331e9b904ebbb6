#!/usr/bin/env bash
# GPU session 1 (run through the device tool, with .data and .whl carried): the diffusion
# training-throughput benchmark on a quiet GPU, then the two shipped DDPMs trained side by side.
set -u
export PYTHONUNBUFFERED=1 GENLAB_DATA_DIR="$PWD/.data" HF_HUB_OFFLINE=1
OUT="${OUT:-/tmp/out}"; mkdir -p "$OUT"
python3 -m pip install -q --no-index --no-deps --no-compile --target /tmp/site .whl/*.whl && export PYTHONPATH=/tmp/site
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv | tee "$OUT/gpu.txt"
python3 -c "import torch, diffusers; print(torch.__version__, diffusers.__version__, torch.cuda.get_device_name())"

timeout "${BENCH_S:-150}" python3 -m benchmarks.diffusion_train --steps 200 --warmup 30 > "$OUT/diffusion_train-gpu.json" 2> "$OUT/bench.err"
tail -3 "$OUT/bench.err"; cat "$OUT/diffusion_train-gpu.json"

TRAIN_S="${TRAIN_S:-380}"
common=(--fast --steps 200000 --max-seconds "$TRAIN_S" --batch-size 256 --lr 6e-4 --ema 0.9995 --grad-clip 1.0
        --log-every 100 --dropout 0.1 --blocks 2 --patch-size 2)
python3 -m engines train ddpm --dataset mnist --conditional --width 32 --channel-mult 1,2 --attention 7 \
    --eval-every 2000 --default-guidance 2.0 --name mnist-ddpm --out /tmp/ck/mnist-ddpm "${common[@]}" \
    > "$OUT/mnist-ddpm.log" 2>&1 &
python3 -m engines train ddpm --dataset shapes --n-train 50000 --n-test 2000 --width 40 --channel-mult 1,2,2 \
    --attention 8 --eval-every 2000 --name shapes-ddpm --out /tmp/ck/shapes-ddpm "${common[@]}" \
    > "$OUT/shapes-ddpm.log" 2>&1 &
wait
for f in "$OUT"/*.log; do echo "== $f"; tail -n 5 "$f"; done
tar -C /tmp/ck -cf "$OUT/mnist-ddpm.tar" mnist-ddpm
tar -C /tmp/ck -cf "$OUT/shapes-ddpm.tar" shapes-ddpm
ls -la "$OUT"
