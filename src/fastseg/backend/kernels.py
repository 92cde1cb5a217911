"""Finding, compiling and caching the CUDA kernels (CuPy imported only when asked).

The sources live in the repository's ``kernels/`` folder and ship inside the wheel as
``fastseg/kernels/``; both a source checkout (or editable install) and an installed
wheel find them. Modules are built once per device and kept.
"""

from __future__ import annotations

import re
from pathlib import Path

_HERE = Path(__file__).resolve()

# Every kernel's parameter list, once: ``T`` stands for the element type of templated
# kernels (instantiated for float and double). From it come the template instances
# the runtime fetches by name, the instantiations the nvcc test compiles, and the
# argument checks of the CPU emulation in tests/.
KERNEL_SIGNATURES = {
    "kmeans.cu": {
        "assign_nearest": "const T*, const T*, const T*, const T*, long long, int, int, int, int*, T*, "
                          "unsigned long long*",
        "accumulate_partitions": "const T*, const T*, const T*, const int*, long long, int, int, int, "
                                 "double*, double*",
        "reduce_partials": "const double*, int, long long, double*",
        "sq_dist_assigned": "const T*, const T*, const T*, const int*, long long, int, T*",
        "kpp_potentials": "const T*, const T*, const T*, int, const T*, long long, int, T*, int, double*",
        "lloyd_fused": "const T*, const T*, const T*, const T*, const T*, long long, int, int, int, int, int*, "
                       "unsigned long long*, double*, double*",
    },
}

# C++ element type → NumPy dtype name
ELEMENT_TYPES = {"float": "float32", "double": "float64"}


def instances(name: str):
    """``(name_expression, parameter list)`` of every kernel in source ``name``.

    Templated kernels come once per element type (``assign_nearest<float>``), plain ones
    by their name.
    """
    out = []
    for kernel, params in KERNEL_SIGNATURES.get(name, {}).items():
        if re.search(r"\bT\b", params):
            out.extend((f"{kernel}<{t}>", re.sub(r"\bT\b", t, params)) for t in ELEMENT_TYPES)
        else:
            out.append((kernel, params))
    return out


# Template instances the nvcc test instantiates explicitly.
KERNEL_INSTANTIATIONS = {
    name: [f"{expr}({params})" for expr, params in instances(name) if "<" in expr] for name in KERNEL_SIGNATURES
}

NAME_EXPRESSIONS = {name: [expr for expr, _ in instances(name)] for name in KERNEL_SIGNATURES}


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
