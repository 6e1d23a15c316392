#!/usr/bin/env bash
# The GPU numbers on a CUDA machine, from the repository root (or a copy of it):
#   bash benchmarks/device_run.sh bench        # FLUX part, LTX part, LTX compile with a warm cache, film summary
#   bash benchmarks/device_run.sh flux [...]   # one part and its warm-cache compile (extra arguments go to gpu_benchmark.py)
#   bash benchmarks/device_run.sh film [...]   # the whole film on random full-size weights (gpu_film.py)
#   bash benchmarks/device_run.sh ltx2 [...]   # LTX-2 19B against LTX-Video 0.9.5 per clip, eager/compiled/FP8, peaks
#   bash benchmarks/device_run.sh memory40 [--qc dinov2]  # FLUX + Redux + QC peak under a 40 GiB cap
# Wheels the machine lacks (diffusers 0.42.1, pydantic-settings, imageio-ffmpeg, ...) may sit in $WHEELS
# (default: .whl/ beside benchmarks/). Results go to $OUT (default bench-out/), one log: $OUT/run.log.
set -o pipefail
part="$1"; shift
root="$(cd "$(dirname "$0")/.." && pwd)"
OUT="${OUT:-bench-out}"; mkdir -p "$OUT"
wheels="${WHEELS:-$root/.whl}"
export PYTHONPATH="$root"
if [ -d "$wheels" ]; then
  python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site "$wheels"/*.whl || exit 1
  export PYTHONPATH="$root:/tmp/site"
fi
export PYTHONUNBUFFERED=1
started=$(date +%s)
left() { echo $(( ${BUDGET_S:-570} - ($(date +%s) - started) )); }
nvidia-smi --query-gpu=name,memory.total,driver_version,clocks.sm,clocks.max.sm --format=csv | tee "$OUT/nvidia-smi.txt"
run() {  # run SECONDS SCRIPT ARGS...: one process, killed at its time limit
  local limit="$1" script="$2"; shift 2
  timeout -k 5 "$limit" python3 "$root/benchmarks/$script" "$@" 2>&1 \
    | grep --line-buffered -v -E "timesteps. were passed|requires torchvision|Attention backends are|truncated because" \
    | tee -a "$OUT/run.log"
}
case "$part" in
  flux|ltx)  # one part, then its compile again in a new process with the Inductor/Triton cache warm
    run $(( $(left) - 5 )) gpu_benchmark.py --part "$part" --out "$OUT" --deadline $(( $(left) - 75 )) "$@"
    if [ "${WARM_CACHE:-1}" = 1 ] && [ "$(left)" -gt 45 ]; then
      run $(( $(left) - 5 )) gpu_benchmark.py --part "$part" --only-compiled --out "$OUT"
    fi ;;
  bench)
    run 280 gpu_benchmark.py --part flux --out "$OUT" --deadline 262 "$@"
    run $(( $(left) - 10 )) gpu_benchmark.py --part ltx --out "$OUT" --deadline $(( $(left) - 28 )) "$@"
    if [ "$(left)" -gt 50 ]; then  # compile again in a new process, the Inductor/Triton cache now warm
      run $(( $(left) - 5 )) gpu_benchmark.py --part ltx --only-compiled --out "$OUT"
    fi
    python3 "$root/benchmarks/gpu_benchmark.py" --part film --out "$OUT" | tee -a "$OUT/run.log" ;;
  film) run "${BENCH_TIMEOUT:-580}" gpu_film.py --out "$OUT" "$@" ;;
  ltx2|memory40) run $(( $(left) - 5 )) gpu_benchmark.py --part "$part" --out "$OUT" --deadline $(( $(left) - 60 )) "$@" ;;
  *) echo "usage: bash benchmarks/device_run.sh bench|flux|ltx|film|ltx2|memory40 [arguments]"; exit 2 ;;
esac
