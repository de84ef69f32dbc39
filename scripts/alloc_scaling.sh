#!/usr/bin/env bash
# pkmalloc's thread scaling on a machine with many cores (the GPU machine has 16), where its
# split locks meet more threads at once than a 2-core VM runs:
#
#   scripts/alloc_scaling.sh OUTDIR
#
# Builds native/ and runs three drivers (thread_churn, larson_like, thread_generations) at
# 4, 8 and 16 threads under glibc and pkmalloc, in turns, three rounds each, into
# OUTDIR/allocators.log: one line a run, the allocator and round, then the driver's JSON.
# Time-boxed to 120 s. Exit status: 0 when every run finished, 1 otherwise.
set -uo pipefail

out=${1:?usage: scripts/alloc_scaling.sh OUTDIR}
mkdir -p "$out"
cd "$(dirname "$0")/.."
build="$PWD/native/build"

runs() {
    make -s -C native BUILD="$build" || return 1
    for threads in 4 8 16; do
        for pattern in thread_churn larson_like thread_generations; do
            for round in 1 2 3; do
                for allocator in glibc pkmalloc; do
                    local preload=""
                    [ "$allocator" = pkmalloc ] && preload="$build/libpkmalloc.so"
                    printf '%s round %s: ' "$allocator" "$round"
                    LD_PRELOAD=$preload "$build/bench/$pattern" --threads "$threads" || return 1
                done
            done
        done
    done
}

export -f runs
export build
timeout 120 bash -c runs >"$out/allocators.log" 2>&1
