#!/usr/bin/env bash
# The GPU checks (issue 14, point 5) on a machine with a CUDA GPU: the CUDA
# tests, the training benchmark (hand loop, fused hand loop, CUDA-graph hand
# loop, epochal eager and compile=True), a profile of the compiled steady
# state, fixed costs per fit call and inference. Run from the repository
# root; logs and JSON go to $OUT (default /tmp/gpu).
#
#     bash bench/gpu_check.sh                  # everything (about 10 minutes)
#     bash bench/gpu_check.sh tests bench_ab   # some parts
set -u
OUT=${OUT:-/tmp/gpu}
mkdir -p "$OUT"
export PYTHONPATH="$PWD/src:$PWD" PYTHONUNBUFFERED=1
PY=${PYTHON:-python3}
step() { # step SECONDS NAME COMMAND...: run with a time limit, log to $OUT/NAME.log
    local limit=$1 name=$2
    shift 2
    echo "== $name ($(date +%T), limit ${limit}s)"
    timeout "$limit" "$@" >"$OUT/$name.log" 2>&1
    echo "== $name: exit $? ($(date +%T))"
    tail -n "${TAIL:-25}" "$OUT/$name.log"
}
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader
$PY -c 'import torch; print("torch", torch.__version__, "cuda", torch.version.cuda, torch.cuda.get_device_name())'
for part in ${@:-tests bench_ab profile bench_cd fixed inference}; do
    case $part in
    tests) step 170 tests $PY -m pytest -q -p no:cacheprovider \
        -o addopts="-ra --import-mode=importlib" tests/test_cuda.py tests/bench -k cuda ;;
    bench_ab) step 140 bench_ab $PY bench/run.py --device cuda --compile --repeats 5 \
        --workloads a,b --json "$OUT/bench_ab.json" ;;
    profile) TAIL=45 step 40 profile $PY bench/profiling.py --workload a --compile \
        --device cuda --top 30 ;;
    bench_cd) step 140 bench_cd $PY bench/run.py --device cuda --compile --repeats 3 \
        --workloads c,d --json "$OUT/bench_cd.json" ;;
    fixed)
        TAIL=6 step 30 fixed_a $PY bench/fixed_costs.py --device cuda --workload a --calls 20 \
            --repeats 3
        TAIL=6 step 40 fixed_c $PY bench/fixed_costs.py --device cuda --workload c --calls 5 \
            --repeats 3 ;;
    inference) TAIL=8 step 45 inference $PY bench/inference.py --device cuda --repeats 5 \
        --workloads b,c,d ;;
    *) echo "unknown part: $part" ;;
    esac
done
