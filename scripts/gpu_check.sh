#!/usr/bin/env bash
# perfkit's GPU checks in one command, on a machine with an NVIDIA GPU (fits in 8 minutes
# on an H100):
#
#   scripts/gpu_check.sh OUTDIR
#
# Steps are time-boxed (90 + 150 + 330 s) so the whole stays inside 10 minutes.
#
# 1. device.log: the card, driver, package versions, then `perfkit calibrate` (the copy
#    bandwidth and cuBLAS GEMM ceilings every result's % of roof is taken against);
# 2. tests.log: the `gpu` tests (every GPU port against its checker with poisoned outputs,
#    event timing, the NVML monitor, the ceilings) and the nvcc build checks;
# 3. <workload>.json and compare.log: `perfkit compare` of the four array workloads with
#    every GPU backend at H100-sized problems. Reports are made from the records elsewhere
#    (`perfkit report OUTDIR/*.json`): the GPU machine needs no plotly.
#
# Runs from a source tree (PYTHONPATH=src, no install). PYTHON picks the interpreter.
# Exit status: 0 when every step passed, 1 when one failed (the others still ran).
set -uo pipefail

out=${1:?usage: scripts/gpu_check.sh OUTDIR}
mkdir -p "$out"
cd "$(dirname "$0")/.."
export PYTHONPATH="$PWD/src${PYTHONPATH:+:$PYTHONPATH}" PYTHONUNBUFFERED=1
py=${PYTHON:-python3}
status=0

{
    date -u +%FT%TZ
    nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.max.sm,power.limit --format=csv
    "$py" - <<'PY'
import importlib.metadata as m
for name in ("numpy", "cupy-cuda12x", "cupy-cuda13x", "numba", "numba-cuda", "nvidia-ml-py", "torch"):
    try:
        print(name, m.version(name))
    except m.PackageNotFoundError:
        print(name, "not installed")
PY
    "$py" -m perfkit env
    timeout 90 "$py" -m perfkit calibrate
} >"$out/device.log" 2>&1 || status=1

timeout 150 "$py" -m pytest -q -p no:cacheprovider \
    tests/test_gpu.py tests/test_kernels.py >"$out/tests.log" 2>&1 || status=1

run() {  # run SECONDS WORKLOAD "BACKEND..." [--param ...]
    local seconds=$1 name=$2 backends=$3
    shift 3
    echo "== perfkit compare --workload $name --backends $backends $*" >>"$out/compare.log"
    # Two processes a case, 1 s of sampling each: the whole script stays inside 9 minutes.
    # shellcheck disable=SC2086 # the backends are words
    timeout "$seconds" "$py" -m perfkit compare --workload "$name" --backends $backends \
        --budget 2 --extra-processes 0 --no-report -o "$out/$name.json" "$@" \
        >>"$out/compare.log" 2>&1 || status=1
}
run 70 vector_add "cupy cupy_raw numba_cuda" -p n=268435456
run 70 reduce_sum "cupy cupy_raw numba_cuda" -p n=268435456
run 70 softmax "cupy_raw numba_cuda" -p rows=65536 -p cols=1024,2048
run 120 matmul "cupy cupy_raw numba_cuda" -p n=4096 -p dtype=float32 -p shape=square

echo "gpu_check: exit $status" >>"$out/compare.log"
exit $status
