#!/usr/bin/env bash
# Full-budget AGE benchmark on one GPU: the thesis' CelebA settings at 64² (M = 64, batch 64, width 64, λ = 1000,
# μ = 10, 2 G steps per E step; the plain game: no warm-up, μ_G = 0, w = 1, no EMA — the CPU benchmark's departures
# are for its short budget), the DCGAN reference with the same width and batch, the colourisation AGE, FID/KID on 300
# images.  On an H200 with the three trainings at once (2026-11-27): AGE 3.8 min, DCGAN 3.0 min, the colourisation
# run at 1360 of 2000 iterations after 4.2 min.  Results: benchmarks/results/age_gpu.{md,json} and
# benchmarks/results/age_gpu_*.png; work files in benchmarks/out/age-gpu.
#   bash benchmarks/gpu_age.sh                 # on the GPU machine
#   AGE_SCALE=0.002 FACES=100 FID_IMAGES=8 DEVICE=cpu AGE_WORK=/tmp/age-smoke bash benchmarks/gpu_age.sh  # CPU smoke
# FINAL_PARTS= stops after training, for a GPU machine that lacks the Inception weights (87 MB, more than a device
# call carries): bring the work folder back and run `benchmarks/age.py --parts fid,report` with the same arguments.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-.venv/bin/python}
DEVICE=${DEVICE:-cuda}
export AGE_WORK=${AGE_WORK:-benchmarks/out/age-gpu}
export PYTHONPATH=$PWD/src${PYTHONPATH:+:$PYTHONPATH}
common=(--device "$DEVICE" --name "${NAME:-age_gpu}" --batch 64 --width 64 --fid-images "${FID_IMAGES:-300}"
        --faces "${FACES:-3000}" --warmup-fraction 0 --generator-pixel-weight 0 --real-weight 1 --ema 0 --upsample transposed
        --latent-weight 1000
        --machine "one GPU ($DEVICE), see the run log")
$PY benchmarks/age.py --parts data "${common[@]}"
$PY benchmarks/age.py --parts age --age-iters 3000 "${common[@]}" & a=$!
$PY benchmarks/age.py --parts dcgan --dcgan-iters 3000 "${common[@]}" & d=$!
$PY benchmarks/age.py --parts colorize --colorize-iters 2000 --colorize-width 32 --colorize-batch 64 "${common[@]}" & c=$!
wait $a; wait $d; wait $c
final=${FINAL_PARTS-fid,report}
[ -z "$final" ] || $PY benchmarks/age.py --parts "$final" "${common[@]}"
