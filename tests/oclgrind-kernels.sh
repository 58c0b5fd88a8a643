#!/usr/bin/env bash
# Every kernel variant of tests/oclgrind-kernels.c under oclgrind, once per simulated device,
# failing on any mismatch with the reference and on any error oclgrind reports (out-of-bounds
# access, data race, uninitialised value, barrier divergence, API misuse), which oclgrind
# writes to its log without changing the exit status.
#
# Usage: tests/oclgrind-kernels.sh BUILD_DIR
#
# Two passes per device:
# - each variant in a process of its own, kernels built with -cl-opt-disable, under
#   --data-races --uninitialized: oclgrind 21.10's uninitialised-value plugin aborts on the
#   LLVM `freeze` instruction that optimisation creates; and in one process, its shadow
#   state reports reads after one plan's buffers are released and the next plan's allocated,
#   which scratch pre-filled with NaN shows to be false (the results stay exact);
# - all variants in one process, kernels optimised as usual, under --data-races.
set -euo pipefail

build=${1:?usage: $0 BUILD_DIR}
runner="$build/tests/oclgrind-kernels"
log=$(mktemp -d)
trap 'rm -rf "$log"' EXIT

# CLATTN_DEVICE_LIMITS per simulated device (oclgrind's own: a GPU with 32 KiB of CL_LOCAL
# memory, work-groups of 1024, float vectors of width 1).
devices=(
    "local-tiles=local_mem_type=local"
    "tiny-local-memory=local_mem_type=local,local_mem_size=1k,max_work_group_size=16"
    "register-blocks=type=cpu,local_mem_type=global,vector_width=4"
)

# clattn's own products on the naive path (CLBlast's kernels are not clattn's to check),
# and no on-disk program cache: every kernel is built from source under the simulator.
export CLATTN_NAIVE_GEMM=own CLATTN_CACHE_DIR=off

failed=0
check() { # NAME LOGFILE COMMAND...: runs it; fails on its status or on a non-empty log
    local name=$1 file=$2 status=0
    shift 2
    "$@" > "$file.out" 2>&1 || status=$?
    if [ "$status" -ne 0 ]; then
        echo "FAIL $name: exit status $status"
        cat "$file.out"
        failed=1
    fi
    if [ -s "$file" ]; then
        echo "FAIL $name: oclgrind reported:"
        head -n 40 "$file"
        failed=1
    fi
    if [ "$status" -eq 0 ] && [ ! -s "$file" ]; then
        echo "ok   $name"
    fi
}

mapfile -t variants < <("$runner" --list)
for device in "${devices[@]}"; do
    name=${device%%=*}
    export CLATTN_DEVICE_LIMITS=${device#*=}
    for variant in "${variants[@]}"; do
        check "$name $variant (unoptimised, races + uninitialised)" "$log/$name-$variant" \
            oclgrind --data-races --uninitialized --check-api --build-options -cl-opt-disable \
            --log "$log/$name-$variant" "$runner" "$variant"
    done
    check "$name all variants (optimised, races)" "$log/$name-all" \
        oclgrind --data-races --check-api --log "$log/$name-all" "$runner"
done
exit "$failed"
