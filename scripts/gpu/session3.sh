#!/usr/bin/env bash
# GPU session 3 (device tool; carry .data): the MNIST StyleGAN again, after session 2's run with
# R1 gamma 0.01 collapsed to one mode; two stronger R1 weights side by side.
set -u
export PYTHONUNBUFFERED=1 GENLAB_DATA_DIR="$PWD/.data" HF_HUB_OFFLINE=1
OUT="${OUT:-/tmp/out}"; mkdir -p "$OUT"
TRAIN_S="${TRAIN_S:-185}"
CK=/tmp/ck; mkdir -p "$CK"
gan=(--dataset mnist --size 32 --steps 500000 --max-seconds "$TRAIN_S" --lr 2e-3 --ema 0.998 --grad-clip 0
     --log-every 100 --batch-size 64 --z-dim 128 --w-dim 128 --mapping-layers 4 --channel-base 2048 --channel-max 128)
for g in 1 4; do
    python3 -m engines train stylegan --r1-gamma $g --name mnist-stylegan --out "$CK/mnist-stylegan-g$g" "${gan[@]}" \
        > "$CK/g$g.log" 2>&1 &
done
wait
for g in 1 4; do
    m=mnist-stylegan-g$g; echo "== $m"; tail -n 3 "$CK/g$g.log"
    timeout 20 python3 -m engines sample --model "$CK/$m" --n 64 --seed 0 --out "$CK/$m/sample.png"
    cp "$CK/g$g.log" "$CK/$m/train.log"; tar -C "$CK" -cf "$OUT/$m.tar" "$m"
done
