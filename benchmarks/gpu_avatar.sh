#!/usr/bin/env bash
# Textured avatars vs Direct at the thesis' network size (17 M parameters: width 32, 256 channels, 8 residual
# blocks), batch 16, 300 pre-training + 1200 iterations (Direct 1500), on one GPU; ≤ 3 min on an H200 (estimate:
# data ~45 s on the CPU, 4 runs two at a time, Inception FID on the GPU).  Writes benchmarks/results/avatar_gpu.{md,json}
# and avatar_gpu_novel_views.png / avatar_gpu_textures.png.
# CPU check of the pipeline: AVATAR_SCALE=tiny AVATAR_DEVICE=cpu bash benchmarks/gpu_avatar.sh
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-.venv/bin/python}
export AVATAR_SCALE=${AVATAR_SCALE:-gpu} AVATAR_DEVICE=${AVATAR_DEVICE:-cuda}
$PY benchmarks/avatar.py --jobs 2 --threads 2 --workers 3
