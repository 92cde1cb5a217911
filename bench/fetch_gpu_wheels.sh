#!/usr/bin/env bash
# Fetch, here (with the package index), the pure-Python wheels the lent GPU machine lacks
# for the Dask-with-CuPy test and benchmark and for the fast-pytorch-kmeans peer (it needs
# torch, numpy and psutil, which the device has), into .whl/ (ignored by git). Then carry
# ".whl" in the device call that runs bench/gpu_check.sh.
set -euo pipefail
PY=${PYTHON:-python3}
rm -rf .whl && mkdir -p .whl
# the device image already has click, cloudpickle, fsspec, packaging, pyyaml and toolz
# (device tool, KINDS.md); dask at the version this project's .venv resolved, if any
DASK=$("$PY" -c "import dask; print(dask.__version__)" 2>/dev/null || echo 2026.8.0)
for spec in "dask==$DASK" "partd" "locket" "fast-pytorch-kmeans==0.2.2"; do
  "$PY" -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
    --platform manylinux2014_x86_64 --platform any -d .whl "$spec"
done
ls -1 .whl
