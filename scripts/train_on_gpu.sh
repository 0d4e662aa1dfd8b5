#!/usr/bin/env bash
# Trains the shipped default model and the three ablation models side by side on one GPU.
# Usage: scripts/train_on_gpu.sh MINUTES OUTDIR   (data prepared by scripts/prepare_data.py into .cache/data)
# Each run stops after MINUTES of training; every checkpoint is then compacted (fp16, no optimizer state).
set -u
minutes=${1:-6}; out=${2:-runs}
mkdir -p "$out/work"
common=(.cache/data/train --minutes "$minutes" --steps 1000000 --batch-size 64 --crop 192 --device cuda
        --cache-dir .cache/train-cache)
python3 -m vidcolor train "${common[@]}" -o "$out/work/vidcolor-base.pt" --name vidcolor-base >"$out/base.log" 2>&1 &
python3 -m vidcolor train "${common[@]}" -o "$out/work/ablation-regression.pt" --name ablation-regression \
    --head regression >"$out/regression.log" 2>&1 &
python3 -m vidcolor train "${common[@]}" -o "$out/work/ablation-no-rebalance.pt" --name ablation-no-rebalance \
    --rebalance-lambda -1 >"$out/no-rebalance.log" 2>&1 &
python3 -m vidcolor train "${common[@]}" -o "$out/work/ablation-no-global.pt" --name ablation-no-global \
    --no-global >"$out/no-global.log" 2>&1 &
wait
for f in "$out"/work/*.pt; do
    python3 -c "import sys; from vidcolor.model.checkpoint import compact_checkpoint as c; print(c(sys.argv[1], sys.argv[2]))" \
        "$f" "$out/$(basename "$f")"
done
rm -rf "$out/work"
