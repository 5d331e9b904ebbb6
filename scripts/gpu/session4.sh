#!/usr/bin/env bash
# GPU session 4 (device tool; carry .data, .whl and .gpu): eight trainings side by side on one GPU,
# spread over two calls, since one call may run 10 minutes and the jobs need about 16.
#
#   bash scripts/gpu/session4.sh start    # call 1: launch the jobs (setsid: they outlive the call),
#                                         # watch them, return their logs and latest snapshots
#   bash scripts/gpu/session4.sh finish   # call 2, within 30 s of call 1: wait for the jobs, score
#                                         # the MNIST StyleGANs, time CLIP guidance, return the models
#   bash scripts/gpu/session4.sh more     # call 3, within 30 s of call 2: continue the two best MNIST
#                                         # StyleGANs (sgB, sgD) and the first lean DDPM (ddS1) for
#                                         # 460 s side by side, score, return them
#
# (Session 4 typed call 3 inline; `more` is the same commands. The shipped mnist-stylegan is
# sgB2's step-6000 snapshot, fetched by a fourth call: tar -C /tmp/ck -cf $OUT/x.tar sgB2-step6000.)
#
# The jobs: four MNIST StyleGANs (issue 4: from scratch with DiffAugment and R1 gamma 1, 2, 4, and
# the shipped run continued with augmentation), the faces StyleGAN continued, two lean shapes DDPMs
# (issue 3: about half the shipped UNet's CPU time per step), and the GenLab CLIP fine-tuned on
# blurred images as well (issue 5: the DDPM's early predicted x0 is blurry).
set -u
export PYTHONUNBUFFERED=1 GENLAB_DATA_DIR="$PWD/.data" HF_HUB_OFFLINE=1 OMP_NUM_THREADS=2
OUT="${OUT:-/tmp/out}"; mkdir -p "$OUT"
CK=/tmp/ck
TRAIN_S="${TRAIN_S:-900}"
CALL_S="${CALL_S:-560}"
t0=$(date +%s)
elapsed() { echo $(( $(date +%s) - t0 )); }

progress() {
    for f in "$CK"/*.log; do
        printf '%-10s %s\n' "$(basename "$f" .log)" "$(grep '^{' "$f" | tail -n 1 | cut -c1-230)"
    done
}

pack_logs() {
    tar -C "$CK" -cf "$OUT/logs.tar" $(cd "$CK" && ls *.log *.json *.png *.txt 2>/dev/null)
}

if [ "${1:-}" = start ]; then
    mkdir -p "$CK"
    python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --target /tmp/site .whl/*.whl
    nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv | tee "$CK/gpu.txt"
    export PYTHONPATH=/tmp/site
    python3 -c "import torch, open_clip; print(torch.__version__, open_clip.__version__, torch.cuda.get_device_name())"

    sg=(--dataset mnist --size 32 --steps 1000000 --max-seconds "$TRAIN_S" --ema 0.999 --grad-clip 0 --log-every 100
        --snapshot-every 2000 --z-dim 128 --w-dim 128 --mapping-layers 4 --channel-base 2048 --channel-max 128)
    dd=(--dataset shapes --n-train 50000 --n-test 2000 --fast --steps 1000000 --max-seconds "$TRAIN_S" --batch-size 256
        --lr 6e-4 --ema 0.9995 --grad-clip 1.0 --log-every 100 --eval-every 2000 --dropout 0.1 --name shapes-ddpm)
    job() { local name=$1; shift; setsid nohup python3 -m engines "$@" > "$CK/$name.log" 2>&1 < /dev/null & }
    job sgA train stylegan "${sg[@]}" --r1-gamma 1 --augment translation,cutout --lr 2e-3 --batch-size 64 \
        --name mnist-stylegan --out "$CK/sgA"
    job sgB train stylegan "${sg[@]}" --r1-gamma 4 --augment translation --lr 2e-3 --batch-size 64 \
        --name mnist-stylegan --out "$CK/sgB"
    job sgC train stylegan "${sg[@]}" --r1-gamma 2 --augment translation,cutout --lr 2.5e-3 --batch-size 128 \
        --name mnist-stylegan --out "$CK/sgC"
    # the shipped run's full checkpoint, its config edited to augment (translation, cutout)
    job sgD train stylegan "${sg[@]}" --init .gpu/init/mnist-sg --lr 1e-3 --batch-size 64 \
        --name mnist-stylegan --out "$CK/sgD"
    job faces train stylegan --dataset faces --size 64 --n-train 30000 --n-test 2000 --init assets/faces-stylegan \
        --steps 1000000 --max-seconds "$TRAIN_S" --lr 2e-3 --ema 0.998 --grad-clip 0 --log-every 100 \
        --snapshot-every 4000 --batch-size 64 --name faces-stylegan --out "$CK/faces"
    job ddS1 train ddpm "${dd[@]}" --width 32 --channel-mult 1,2,2 --blocks 1 --attention 8,4 --patch-size 2 \
        --out "$CK/ddS1"
    job ddS2 train ddpm "${dd[@]}" --width 48 --channel-mult 1,2 --blocks 2 --attention 8 --patch-size 4 \
        --out "$CK/ddS2"
    job clip train clip --init assets/genlab-clip --clip-negatives --clip-blur 2.0 --n-train 20000 \
        --steps 1000000 --max-seconds "$TRAIN_S" --batch-size 128 --lr 5e-4 --weight-decay 0.05 --log-every 100 \
        --eval-every 2000 --name genlab-clip --out "$CK/clip"
    while [ "$(elapsed)" -lt "$CALL_S" ]; do
        sleep 60; echo "--- $(elapsed) s"; progress
        nvidia-smi --query-gpu=utilization.gpu,memory.used --format=csv,noheader
    done
    for m in sgA sgB sgC sgD; do  # the latest snapshot of each MNIST run, in case the machine goes back
        s=$(ls -d "$CK/$m"-step* 2>/dev/null | sort -V | tail -n 1)
        [ -n "$s" ] && tar -C "$CK" -cf "$OUT/$m-snap.tar" "$(basename "$s")"
    done
    pack_logs; ls -la "$OUT"
    exit 0
fi

if [ "${1:-}" = finish ]; then
    export PYTHONPATH=/tmp/site
    [ -d "$CK" ] || { echo "no $CK: the machine was given back between the calls"; exit 1; }
    while pgrep -f "python3 -m engines train" > /dev/null && [ "$(elapsed)" -lt 420 ]; do
        sleep 15
    done
    echo "--- jobs done at $(elapsed) s"; progress
    for f in "$CK"/*.log; do echo "== $f"; tail -n 3 "$f" | cut -c1-400; done
    python3 scripts/gpu/sg_eval.py --n 5000 $(ls -d "$CK"/sg? "$CK"/sg?-step* 2>/dev/null) | tee "$CK/sg_eval.json"
    for m in sgA sgB sgC sgD faces ddS1 ddS2; do
        [ -d "$CK/$m" ] && timeout 60 python3 -m engines sample --model "$CK/$m" --n 64 --seed 0 --out "$CK/$m.png"
    done
    timeout 75 python3 -m benchmarks.clip_speed --vit-steps 20 --out "$CK/clip-speed-gpu.json" > /dev/null 2> "$CK/clip-speed.err"
    tail -n 2 "$CK/clip-speed.err"
    pack_logs
    # the models: the two best MNIST runs by confident fraction, and the rest
    best=$(python3 - "$CK/sg_eval.json" <<'EOF'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if l.startswith("{")]
rows = [r for r in rows if "confident_fraction" in r]
rows.sort(key=lambda r: r["confident_fraction"] - r["total_variation_vs_uniform"], reverse=True)
print(" ".join(r["model"].rsplit("/", 1)[1] for r in rows[:2]))
EOF
)
    echo "best: $best"
    for m in $best faces ddS1 ddS2 clip; do [ -d "$CK/$m" ] && tar -C "$CK" -cf "$OUT/$m.tar" "$m"; done
    ls -la "$OUT"
    exit 0
fi
if [ "${1:-}" = more ]; then
    export PYTHONPATH=/tmp/site OMP_NUM_THREADS=3
    T=460
    sg=(--dataset mnist --size 32 --steps 1000000 --max-seconds $T --ema 0.999 --grad-clip 0 --log-every 100
        --snapshot-every 2000 --batch-size 64 --name mnist-stylegan)
    python3 -m engines train stylegan "${sg[@]}" --init $CK/sgB --lr 2e-3 --out $CK/sgB2 > $CK/sgB2.log 2>&1 &
    python3 -m engines train stylegan "${sg[@]}" --init $CK/sgD --lr 1e-3 --out $CK/sgD2 > $CK/sgD2.log 2>&1 &
    python3 -m engines train ddpm --dataset shapes --n-train 50000 --n-test 2000 --init $CK/ddS1 --fast \
        --steps 1000000 --max-seconds $T --batch-size 256 --lr 4e-4 --ema 0.9995 --grad-clip 1.0 --log-every 100 \
        --eval-every 2000 --name shapes-ddpm --out $CK/ddS1b > $CK/ddS1b.log 2>&1 &
    wait
    python3 scripts/gpu/sg_eval.py --n 5000 $CK/sgB2 $CK/sgD2 $(ls -d $CK/sgB2-step* $CK/sgD2-step*) | tee $CK/sg_eval2.json
    for m in sgB2 sgD2 ddS1b; do
        timeout 40 python3 -m engines sample --model $CK/$m --n 64 --seed 0 --out $CK/$m.png
        tar -C $CK -cf $OUT/$m.tar $m
    done
    pack_logs; ls -la "$OUT"
    exit 0
fi
echo "usage: session4.sh start|finish|more"; exit 2
