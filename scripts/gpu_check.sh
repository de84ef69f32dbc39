#!/usr/bin/env bash
# perfkit's GPU checks in one command, on a machine with an NVIDIA GPU:
#
#   scripts/gpu_check.sh OUTDIR [core] [torch] [profile] [sweep]
#
# Parts (default: core and torch). `core` is steps 1-3, time-boxed (90 + 150 + 330 s) to
# stay inside 10 minutes on an H100; `torch` is step 4 (at most 495 s), for a second call;
# `profile` is step 5 (at most 150 s); `sweep` is step 6 (at most 400 s).
#
# 1. device.log: the card, driver, package versions, then `perfkit calibrate` (the copy
#    bandwidth and cuBLAS GEMM ceilings every result's % of roof is taken against);
# 2. tests.log: the `gpu` tests (every GPU port against its checker with poisoned outputs,
#    event timing, the NVML monitor, the ceilings) and the nvcc build checks;
# 3. <workload>.json and compare.log: `perfkit compare` of the four array workloads with
#    every GPU backend at H100-sized problems. Reports are made from the records elsewhere
#    (`perfkit report OUTDIR/*.json`): the GPU machine needs no plotly.
# 4. torch-<workload>.json and torch.log: PyTorch on `cuda`, eager and each compile mode
#    (compile times from a cold Inductor cache per case): the four array workloads (matmul
#    also in tf32 and bf16), and the training workloads on their GPU-sized synthetic sets:
#    `mlp_train` at batch 256 and width 1024 beside the CuPy from-scratch MLP
#    (`torch_compile:step-reduce-overhead` is the whole step compiled and replayed as a
#    CUDA graph), `cnn_classify` and `rnn_classify`.
# 5. profiles/: `perfkit profile --profiler gpu,torch` of matmul on cupy_raw, cupy and
#    torch_eager at n=4096 (kernel names, launches, time, grid, block; registers, shared
#    memory and occupancy of the cupy_raw kernels), and the `gpu` profiler's tests.
# 6. kernels.tsv and sweep-<workload>.json: every kernel's registers, local memory, shared
#    memory and launch bound as the driver compiles it, for its shipped geometry and each
#    configuration of the tuning sweep (scripts/kernel_sweep.py); then the sweep measured:
#    matmul's tile sizes and the reduce_sum and softmax block sizes, each configuration a
#    `cupy_raw` port checked and timed beside the shipped ones and CuPy's own (cuBLAS,
#    CUB) in the same run (one process a case).
#
# Runs from a source tree (PYTHONPATH=src, no install). PYTHON picks the interpreter.
# Exit status: 0 when every step passed, 1 when one failed (the others still ran).
set -uo pipefail

out=${1:?usage: scripts/gpu_check.sh OUTDIR [core] [torch] [profile] [sweep]}
shift
parts=" ${*:-core torch} "
mkdir -p "$out"
cd "$(dirname "$0")/.."
export PYTHONPATH="$PWD/src${PYTHONPATH:+:$PYTHONPATH}" PYTHONUNBUFFERED=1
py=${PYTHON:-python3}
status=0

run() {  # run SECONDS WORKLOAD "BACKEND..." [--param ...]; LOG and PREFIX name the files
    local seconds=$1 name=$2 backends=$3 log=${LOG:-compare} prefix=${PREFIX:-}
    shift 3
    echo "== perfkit compare --workload $name --backends $backends $*" >>"$out/$log.log"
    # Two processes a case, 2 s of sampling each: every part stays inside its box.
    # shellcheck disable=SC2086 # the backends are words
    timeout "$seconds" "$py" -m perfkit compare --workload "$name" --backends $backends \
        --budget 2 --extra-processes 0 --no-report -o "$out/$prefix$name.json" "$@" \
        >>"$out/$log.log" 2>&1 || status=1
}

if [[ $parts == *" core "* ]]; then
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

# (The resource table's test would compile every swept kernel here: the sweep part does.)
timeout 150 "$py" -m pytest -q -p no:cacheprovider tests/test_gpu.py tests/test_kernels.py \
    -k "not resource_table" >"$out/tests.log" 2>&1 || status=1

run 70 vector_add "cupy cupy_raw numba_cuda" -p n=268435456
run 70 reduce_sum "cupy cupy_raw numba_cuda" -p n=268435456
run 70 softmax "cupy_raw numba_cuda" -p rows=65536 -p cols=1024,2048
run 120 matmul "cupy cupy_raw numba_cuda" -p n=4096 -p dtype=float32 -p shape=square
fi

if [[ $parts == *" torch "* ]]; then
    # max-autotune benchmarks Triton GEMM configurations while it compiles: seconds a case
    export LOG=torch PREFIX=torch-
    torch="torch_eager torch_compile"
    run 45 vector_add "$torch" --device cuda -p n=268435456
    run 45 reduce_sum "$torch" --device cuda -p n=268435456
    run 45 softmax "$torch" --device cuda -p rows=65536 -p cols=1024
    run 120 matmul "$torch" --device cuda -p n=4096 -p dtype=float32 -p shape=square
    run 120 mlp_train "$torch cupy" --device cuda -p dataset=synthetic -p batch=256 -p width=1024
    run 60 cnn_classify "$torch" --device cuda -p dataset=synthetic -p batch=256 -p channels=64
    run 60 rnn_classify "$torch" --device cuda -p batch=256 -p length=128 -p hidden=256
    unset LOG PREFIX
fi

if [[ $parts == *" profile "* ]]; then
    # Each profile its own worker: CUPTI, a CUDA context and the kernels' compile a time.
    timeout 120 "$py" -m perfkit profile -w matmul -b cupy_raw,cupy,torch_eager --device cuda \
        -p n=4096 -p dtype=float32 -p shape=square --profiler gpu,torch --duration 2 \
        --no-report -o "$out/profiles" >"$out/profile.log" 2>&1 || status=1
    timeout 30 "$py" -m pytest -q -p no:cacheprovider tests/test_profilers.py \
        >>"$out/profile.log" 2>&1 || status=1
fi

if [[ $parts == *" sweep "* ]]; then
    timeout 60 "$py" scripts/kernel_resources.py >"$out/kernels.tsv" 2>"$out/sweep.log" || status=1
    export LOG=sweep PREFIX=sweep-
    sweep=(--plugin scripts/kernel_sweep.py --processes 1 --budget 1)
    run 180 matmul "cupy cupy_raw" -p n=4096 -p dtype=float32 -p shape=square "${sweep[@]}"
    run 80 reduce_sum "cupy cupy_raw" -p n=268435456 "${sweep[@]}"
    run 80 softmax cupy_raw -p rows=65536 -p cols=1024 "${sweep[@]}"
    unset LOG PREFIX
fi

echo "gpu_check:${parts% } exit $status" | tee -a "$out/summary.log"
exit $status
