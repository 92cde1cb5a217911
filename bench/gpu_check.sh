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
# the real GPU only: the CPU stand-in of the same tests runs in CI
python3 -m pytest -q -p no:cacheprovider -k "not cupy_on_numpy" tests/test_gpu.py tests/test_kernels_compile.py 2>&1 | tail -25
python3 bench/gpu_bench.py "$@"
