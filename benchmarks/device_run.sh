#!/usr/bin/env bash
# Run one part of the GPU benchmark on a CUDA machine from the repository root:
#   bash benchmarks/device_run.sh flux [--fp8 ...]     bash benchmarks/device_run.sh ltx [--fp8 ...]
# Wheels the machine lacks (diffusers 0.42.1, torchao, pydantic-settings, ...) may sit in .whl/ (docs/gpu.md).
set -o pipefail
part="$1"; shift
OUT="${OUT:-bench-out}"; mkdir -p "$OUT"
if [ -d .whl ]; then
  python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl || exit 1
  export PYTHONPATH=/tmp/site
fi
export PYTHONUNBUFFERED=1
nvidia-smi --query-gpu=name,memory.total,driver_version,clocks.sm --format=csv | tee "$OUT/nvidia-smi-$part.txt"
timeout -k 5 "${BENCH_TIMEOUT:-3600}" python3 benchmarks/gpu_benchmark.py --part "$part" --out "$OUT" "$@" 2>&1 \
  | grep --line-buffered -v -E "timesteps. were passed|requires torchvision|Attention backends are" | tee -a "$OUT/$part.log"
