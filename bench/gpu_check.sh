#!/usr/bin/env bash
# One call on the lent GPU machine: GPU tests, then the GPU benchmark; the table last.
#   run from the repository root:  bash bench/gpu_check.sh
# Wheels the device lacks (dask and its needs, fetched by bench/fetch_gpu_wheels.sh into
# .whl/, carried with the call) are installed into /tmp/site first when present.
set -uo pipefail
export PYTHONPATH=src FASTSEG_EXPERIMENTAL_GPU=1 PYTHONUNBUFFERED=1
if ls .whl/*.whl >/dev/null 2>&1; then
  python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl \
    && export PYTHONPATH=src:/tmp/site
fi
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader || true
# Whole logs go to $OUT (the device tool brings its files back); the reply's tail shows the
# last lines. Each stage has a time limit, so the benchmark keeps its share of the call's 600 s.
LOGS=${OUT:-/tmp}
# the real GPU only: the CPU stand-in of the same tests runs in CI
timeout 240 python3 -m pytest -q -p no:cacheprovider -rfE -k "not cupy_on_numpy" tests/test_gpu.py \
  tests/test_kernels_compile.py > "$LOGS/gpu_tests.log" 2>&1
echo "GPU tests: exit $? (124: stopped at 240 s); full log gpu_tests.log"
tail -30 "$LOGS/gpu_tests.log"
timeout 330 python3 bench/gpu_bench.py "$@" 2>&1 | tee "$LOGS/gpu_bench.log"
