#!/usr/bin/env bash
# GPU session 2 (device tool; carry .data and runs/gpu1): the two shipped StyleGANs, and the
# shapes DDPM continued from session 1's checkpoint, trained side by side on one GPU.
set -u
export PYTHONUNBUFFERED=1 GENLAB_DATA_DIR="$PWD/.data" HF_HUB_OFFLINE=1
OUT="${OUT:-/tmp/out}"; mkdir -p "$OUT"
TRAIN_S="${TRAIN_S:-420}"
CK=/tmp/ck; mkdir -p "$CK"
gan=(--steps 500000 --max-seconds "$TRAIN_S" --lr 2.5e-3 --ema 0.998 --grad-clip 0 --log-every 100
     --batch-size 64 --z-dim 128 --w-dim 128 --mapping-layers 4 --channel-base 2048 --channel-max 128)
python3 -m engines train stylegan --dataset mnist --size 32 --r1-gamma 0.01 --name mnist-stylegan \
    --out "$CK/mnist-stylegan" "${gan[@]}" > "$CK/mnist-stylegan.log" 2>&1 &
python3 -m engines train stylegan --dataset faces --size 64 --n-train 30000 --n-test 2000 --r1-gamma 0.05 \
    --name faces-stylegan --out "$CK/faces-stylegan" "${gan[@]}" > "$CK/faces-stylegan.log" 2>&1 &
python3 -m engines train ddpm --dataset shapes --n-train 50000 --n-test 2000 --init runs/gpu1/shapes-ddpm \
    --fast --steps 200000 --max-seconds "$TRAIN_S" --batch-size 256 --lr 4e-4 --ema 0.9995 --grad-clip 1.0 \
    --log-every 100 --eval-every 2000 --name shapes-ddpm --out "$CK/shapes-ddpm" > "$CK/shapes-ddpm.log" 2>&1 &
wait
for m in mnist-stylegan faces-stylegan shapes-ddpm; do
    echo "== $m"; tail -n 4 "$CK/$m.log"
    timeout 30 python3 -m engines sample --model "$CK/$m" --n 64 --seed 0 --out "$CK/$m/sample.png"
    cp "$CK/$m.log" "$CK/$m/train.log"
    tar -C "$CK" -cf "$OUT/$m.tar" "$m"
done
ls -la "$OUT"
