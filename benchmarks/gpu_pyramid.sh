#!/usr/bin/env bash
# Semantic Pyramid on one GPU (≤ 3 minutes on an H200): 128² at width 32, batch 32, 1500 iterations, the paper's
# Adam 1e-4 and α = 0.1, then FID per level on all held-out images of the default collection, diversity/fidelity,
# sample sheets -> benchmarks/results/pyramid_gpu.{md,json} and pyramid_gpu_*.png.
# Shrink it for a CPU check with PYRAMID_GPU_ITERS=3 PYRAMID_GPU_DEVICE=cpu PYRAMID_GPU_HELDOUT=16 PYRAMID_GPU_DIVREFS=4.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python}
exec "$PY" benchmarks/pyramid.py --name pyramid_gpu --device "${PYRAMID_GPU_DEVICE:-cuda}" \
  --iters "${PYRAMID_GPU_ITERS:-1500}" --resolution 128 --width 32 --batch 32 --lr 1e-4 --rec-weight 0.1 \
  --heldout-limit "${PYRAMID_GPU_HELDOUT:-0}" --div-refs "${PYRAMID_GPU_DIVREFS:-16}" --threads 4 \
  --machine "one NVIDIA H200 (lead's combined GPU script)"
