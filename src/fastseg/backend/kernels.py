"""Finding, compiling and caching the CUDA kernels (CuPy imported only when asked).

The sources live in the repository's ``kernels/`` folder and ship inside the wheel as
``fastseg/kernels/``; both a source checkout (or editable install) and an installed
wheel find them. Modules are built once per device and kept.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np

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
        "finish_iteration": "const double*, const double*, int, const T*, unsigned long long*, int, long long, int, "
                            "double*, double*, T*, double*",
        "sq_dist_assigned": "const T*, const T*, const T*, const int*, long long, int, T*",
        "row_norms": "const T*, long long, int, T*",
        "kpp_segment_totals": "const T*, const T*, long long, int, double*",
        "kpp_search": "const T*, const T*, long long, int, const double*, long long, const double*, long long*",
        "kpp_potentials": "const T*, const T*, const T*, int, const T*, long long, int, T*, int, double*",
        "lloyd_fused": "const T*, const T*, const T*, const T*, const T*, long long, int, int, int, int, int*, "
                       "unsigned long long*, double*, double*",
        "assign_multi": "const T*, const T*, const T*, const T*, const int*, int, long long, int, int, int* const*, "
                        "unsigned long long*",
        "accumulate_multi": "const T*, const T*, const T*, const int*, int, long long, int, int, int, "
                            "const int* const*, double*, double*",
    },
}

# C++ element type → NumPy dtype name
ELEMENT_TYPES = {"float": "float32", "double": "float64"}

# Kernels with a second template argument D, the register width of a row (see "Rows
# held in registers" in kmeans.cu): d rounded up to a multiple of 4, up to 32; D = 0 is
# the kernel's path for rows too wide for registers, where it has one.
MAX_REG_WIDTH = 32
REG_WIDTHS = tuple(range(4, MAX_REG_WIDTH + 1, 4))
KERNEL_WIDTHS = {
    "kmeans.cu": {"assign_nearest": (0,) + REG_WIDTHS, "lloyd_fused": REG_WIDTHS, "assign_multi": REG_WIDTHS},
}


def reg_width(d: int) -> int:
    """The width D of the register path for rows of ``d`` features; 0 beyond 32."""
    d = int(d)
    return 0 if d > MAX_REG_WIDTH else max(4, -(-d // 4) * 4)


def rows_per_thread(itemsize: int, width: int) -> int:
    """Rows a thread holds at width D (``rows_per_thread<T, D>()`` in kmeans.cu); 1 at D = 0."""
    words = int(width) * int(itemsize) // 4
    return 1 if width == 0 else (4 if words <= 16 else 2 if words <= 32 else 1)


def expression(kernel: str, dtype=None, width=None) -> str:
    """The name expression of one kernel instance: ``assign_nearest<float, 16>``."""
    if dtype is None:
        return kernel
    t = {np.dtype(np.float32): "float", np.dtype(np.float64): "double"}[np.dtype(dtype)]
    return f"{kernel}<{t}>" if width is None else f"{kernel}<{t}, {int(width)}>"


def instances(name: str):
    """``(name_expression, parameter list, width)`` of every kernel in source ``name``.

    Templated kernels come once per element type (``sq_dist_assigned<float>``), and
    those with a width once per width as well (``assign_nearest<float, 16>``); plain
    ones by their name. ``width`` is None for kernels without one.
    """
    out = []
    widths = KERNEL_WIDTHS.get(name, {})
    for kernel, params in KERNEL_SIGNATURES.get(name, {}).items():
        if not re.search(r"\bT\b", params):
            out.append((kernel, params, None))
            continue
        for t, dt in ELEMENT_TYPES.items():
            typed = re.sub(r"\bT\b", t, params)
            for w in widths.get(kernel, (None,)):
                out.append((expression(kernel, dt, w), typed, w))
    return out


# Template instances the nvcc test instantiates explicitly.
KERNEL_INSTANTIATIONS = {
    name: [f"{expr}({params})" for expr, params, _ in instances(name) if "<" in expr] for name in KERNEL_SIGNATURES
}

# The instances compiled together at run time, by width: a fit compiles the
# width-free kernels and those of its own width only (NVRTC's time grows with them).
NAME_EXPRESSIONS = {}
for _name in KERNEL_SIGNATURES:
    for _expr, _, _width in instances(_name):
        NAME_EXPRESSIONS.setdefault(_name, {}).setdefault(_width, []).append(_expr)


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


def module(name: str, width=None):
    """The compiled ``cupy.RawModule`` holding the instances of ``name`` of one width
    (None: the kernels without a width) on the current device (cached)."""
    import cupy

    dev = cupy.cuda.Device().id
    key = (name, width, dev)
    mod = _MODULES.get(key)
    if mod is None:
        mod = cupy.RawModule(code=source(name), options=("-std=c++17",),
                             name_expressions=NAME_EXPRESSIONS.get(name, {}).get(width, []))
        mod.compile()
        _MODULES[key] = mod
    return mod


def function(name: str, kernel: str, dtype=None, width=None):
    """One kernel of a module; templated ones by dtype (float32/float64) and, where the
    kernel has one, the register width (:func:`reg_width`)."""
    return module(name, width).get_function(expression(kernel, dtype, width))
