"""Finding, compiling and caching the CUDA kernels (CuPy imported only when asked).

The sources live in the repository's ``kernels/`` folder and ship inside the wheel as
``fastseg/kernels/``; both a source checkout (or editable install) and an installed
wheel find them. Modules are built once per device and kept.
"""

from __future__ import annotations

from pathlib import Path

_HERE = Path(__file__).resolve()

# Template instances the runtime fetches by name (and the nvcc test instantiates).
KERNEL_INSTANTIATIONS = {
    "kmeans.cu": [
        f"assign_nearest<{t}>(const {t}*, const {t}*, const {t}*, const {t}*, long long, int, int, int, "
        f"int*, {t}*, unsigned long long*)"
        for t in ("float", "double")
    ]
    + [
        f"accumulate_partitions<{t}>(const {t}*, const {t}*, const {t}*, const int*, long long, int, int, int, "
        f"double*, double*)"
        for t in ("float", "double")
    ]
    + [
        f"sq_dist_assigned<{t}>(const {t}*, const {t}*, const {t}*, const int*, long long, int, {t}*)"
        for t in ("float", "double")
    ],
}

NAME_EXPRESSIONS = {
    "kmeans.cu": [f"{k}<{t}>" for k in ("assign_nearest", "accumulate_partitions", "sq_dist_assigned")
                  for t in ("float", "double")] + ["reduce_partials"],
}


def kernel_dir() -> Path:
    """The folder holding the .cu sources: inside the installed package, else the repo's."""
    packaged = _HERE.parents[1] / "kernels"  # site-packages/fastseg/kernels (wheel)
    if packaged.is_dir() and any(packaged.glob("*.cu")):
        return packaged
    repo = _HERE.parents[3] / "kernels"  # <repo>/src/fastseg/backend/kernels.py -> <repo>/kernels
    if repo.is_dir():
        return repo
    raise FileNotFoundError(f"fastseg's CUDA sources were not found in {packaged} or {repo}; reinstall fastseg.")


def source(name: str) -> str:
    """Kernel source text with a #line directive, so compiler errors name the .cu file."""
    path = kernel_dir() / name
    return f'#line 1 "{path}"\n' + path.read_text()


_MODULES: dict = {}


def module(name: str):
    """The compiled ``cupy.RawModule`` for ``name`` on the current device (cached)."""
    import cupy

    dev = cupy.cuda.Device().id
    key = (name, dev)
    mod = _MODULES.get(key)
    if mod is None:
        mod = cupy.RawModule(code=source(name), options=("-std=c++17",),
                             name_expressions=NAME_EXPRESSIONS.get(name, []))
        mod.compile()
        _MODULES[key] = mod
    return mod


def function(name: str, kernel: str, dtype=None):
    """One kernel of a module; templated ones by dtype (float32/float64)."""
    import numpy as np

    if dtype is not None:
        t = {np.dtype(np.float32): "float", np.dtype(np.float64): "double"}[np.dtype(dtype)]
        kernel = f"{kernel}<{t}>"
    return module(name).get_function(kernel)
