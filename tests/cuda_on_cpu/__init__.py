"""fastseg's CUDA kernels built for the CPU, so their logic is tested where no GPU is.

The .cu sources are compiled as host C++20 with ``cuda_on_cpu.hpp`` (block threads are
fibers run in turn between barriers, shared memory is poisoned per block) into a shared library, one C entry
point per kernel instance of :data:`fastseg.backend.kernels.KERNEL_SIGNATURES`. The
launch interface mirrors ``cupy.RawKernel``: ``kernel(grid, block, args, shared_mem=0)``,
and it checks each argument against the kernel's parameter list more strictly than CuPy
does (CuPy passes any array as any pointer, and a Python int as a 64-bit value): an
array's dtype must be the pointee's, it must be contiguous, and a value must be a NumPy
scalar of exactly the parameter's type. A launch CUDA would reject (block over 1024
threads, shared memory beyond 48 KiB without the kernel's opt-in attribute
``max_dynamic_shared_size_bytes``) fails here too.

What this does not test: speed, and anything of the GPU's memory model beyond barriers.
"""

from __future__ import annotations

import ctypes
import hashlib
import os
import re
import shutil
import subprocess
import tempfile
import threading
from pathlib import Path

import numpy as np

from fastseg.backend.kernels import instances, kernel_dir

HEADER = Path(__file__).with_name("cuda_on_cpu.hpp")
CXX = os.environ.get("CXX") or shutil.which("g++") or shutil.which("clang++")

# C parameter type → (NumPy dtype of a pointee / value, ctypes type of a value)
_POINTEE = {"float": np.float32, "double": np.float64, "int": np.int32, "long long": np.int64,
            "unsigned long long": np.uint64,
            "int*": np.uint64}  # an array of device addresses (pointers to int)
_VALUE = {"int": (np.int32, ctypes.c_int32), "long long": (np.int64, ctypes.c_int64),
          "unsigned": (np.uint32, ctypes.c_uint32), "float": (np.float32, ctypes.c_float),
          "double": (np.float64, ctypes.c_double)}
_STATUS = {1: "block size must be 1..1024 threads", 2: "grid size must be >= 1",
           3: "dynamic shared memory over the kernel's limit (48 KiB unless max_dynamic_shared_size_bytes "
              "was raised)",
           4: "deadlock: the block's threads wait at different barriers",
           5: "a vector load from an address not aligned to its size (a GPU faults)"}


SHARED_DEFAULT = 48 * 1024  # a block's dynamic shared memory without opting in
SHARED_OPTIN_MAX = 227 * 1024  # the most a block may opt in to (an H100; kSharedLimit)

# The emulator keeps one block's fibers in global state: launches from several Python
# threads (Dask's threaded scheduler) take turns, as kernels on one GPU stream would.
_LAUNCH_LOCK = threading.Lock()


class LaunchError(RuntimeError):
    """A launch the GPU would refuse, or arguments that do not match the kernel."""


def _symbol(expr):
    return "emu_" + re.sub(r"\W", "_", expr)


def _parse(params):
    """``[(kind, base)]``: kind ``"ptr"`` or ``"val"``, base the C type without const/*."""
    out = []
    for p in params.split(","):
        p = p.strip()
        kind = "ptr" if p.endswith("*") else "val"
        base = p.rstrip("*").replace("const", "").strip()
        out.append((kind, base))
    return out


def _wrapper_source(name):
    lines = [f'#include "{name}"', ""]
    for expr, params, _ in instances(name):
        types = [p.strip() for p in params.split(",")]
        decl = ", ".join(f"{t} a{i}" for i, t in enumerate(types))
        call = ", ".join(f"a{i}" for i in range(len(types)))
        lines.append(
            f'extern "C" int {_symbol(expr)}(unsigned grid, unsigned block, unsigned long long shared, '
            f'unsigned long long limit, {decl}) {{\n'
            f"    return cuda_on_cpu::launch(grid, block, shared, limit, [=] {{ {expr}({call}); }});\n}}\n"
        )
    return "\n".join(lines)


def available():
    """Why the emulation cannot be built here, or None when it can."""
    if CXX is None:
        return "no C++ compiler (g++ or clang++) on the PATH"
    return None


class Module:
    """The kernels of one .cu source, built for the CPU (cached by content)."""

    def __init__(self, name, cache_dir=None):
        self.name = name
        src = _wrapper_source(name)
        key = hashlib.sha256(
            (src + HEADER.read_text() + (kernel_dir() / name).read_text() + str(CXX)).encode()
        ).hexdigest()[:16]
        cache = Path(cache_dir or tempfile.gettempdir()) / "fastseg-cuda-on-cpu"
        cache.mkdir(parents=True, exist_ok=True)
        lib = cache / f"{Path(name).stem}-{key}.so"
        if not lib.exists():
            cpp = cache / f"{Path(name).stem}-{key}.cpp"
            cpp.write_text(src)
            tmp = lib.with_suffix(f".{os.getpid()}.tmp")
            cmd = [CXX, "-std=c++20", "-O2", "-g", "-fPIC", "-shared", "-Wall",
                   "-Wno-unknown-pragmas", "-include", str(HEADER), "-I", str(kernel_dir()), "-x", "c++",
                   str(cpp), "-o", str(tmp)]
            out = subprocess.run(cmd, capture_output=True, text=True)
            if out.returncode != 0:
                tmp.unlink(missing_ok=True)
                raise RuntimeError(f"building {name} for the CPU failed:\n{' '.join(cmd)}\n{out.stderr}")
            os.replace(tmp, lib)
        self._lib = ctypes.CDLL(str(lib))
        self._params = {expr: params for expr, params, _ in instances(name)}
        self.max_shared = {}  # opt-in limits set per kernel: they outlive one get_function handle, as in CUDA
        self.launches = []  # (kernel, grid, block, shared_mem) of every launch, for tests

    def get_function(self, expr):
        if expr not in self._params:
            raise KeyError(f"{self.name} has no kernel {expr!r}; it has {sorted(self._params)}")
        return Function(self, expr, self._params[expr])


class Function:
    """One kernel instance, called like ``cupy.RawKernel``."""

    def __init__(self, module, expr, params):
        self.module, self.expr = module, expr
        self.params = _parse(params)
        self._fn = getattr(module._lib, _symbol(expr))
        self._fn.restype = ctypes.c_int

    @property
    def max_dynamic_shared_size_bytes(self):
        """The kernel's dynamic shared memory limit (``cupy.RawKernel``'s attribute)."""
        return self.module.max_shared.get(self.expr, SHARED_DEFAULT)

    @max_dynamic_shared_size_bytes.setter
    def max_dynamic_shared_size_bytes(self, value):
        if not 0 <= int(value) <= SHARED_OPTIN_MAX:
            raise LaunchError(f"{self.expr}: max_dynamic_shared_size_bytes={value} is beyond the "
                              f"{SHARED_OPTIN_MAX} bytes a block may opt in to")
        self.module.max_shared[self.expr] = int(value)

    def __call__(self, grid, block, args, *, shared_mem=0):
        grid, block = _dim(grid, "grid"), _dim(block, "block")
        if len(args) != len(self.params):
            raise LaunchError(f"{self.expr} takes {len(self.params)} arguments; got {len(args)}")
        cargs = [ctypes.c_uint(grid), ctypes.c_uint(block), ctypes.c_ulonglong(int(shared_mem)),
                 ctypes.c_ulonglong(self.max_dynamic_shared_size_bytes)]
        keep = []
        for i, (a, (kind, base)) in enumerate(zip(args, self.params)):
            where = f"{self.expr} argument {i} ({base}{'*' if kind == 'ptr' else ''})"
            if kind == "ptr":
                if isinstance(a, np.uint64) and int(a) == 0:  # how the backend passes a null pointer
                    cargs.append(ctypes.c_void_p(None))
                    continue
                if not isinstance(a, np.ndarray):
                    raise LaunchError(f"{where}: expected an array, got {type(a).__name__}")
                if a.dtype != _POINTEE[base]:
                    raise LaunchError(f"{where}: expected {np.dtype(_POINTEE[base]).name}, got {a.dtype}")
                if not a.flags.c_contiguous:
                    raise LaunchError(f"{where}: array is not C-contiguous (a kernel sees only its pointer)")
                keep.append(a)
                cargs.append(ctypes.c_void_p(a.ctypes.data))
            else:
                dtype, ctype = _VALUE[base]
                if not isinstance(a, np.generic) or a.dtype != dtype:
                    raise LaunchError(f"{where}: expected a NumPy {np.dtype(dtype).name} scalar, got "
                                      f"{type(a).__name__} {getattr(a, 'dtype', '')}")
                cargs.append(ctype(a.item()))
        self.module.launches.append((self.expr, grid, block, int(shared_mem)))
        with _LAUNCH_LOCK:
            status = self._fn(*cargs)
        if status:
            raise LaunchError(f"{self.expr}<<<{grid}, {block}, {shared_mem}>>>: {_STATUS.get(status, status)}")


def _dim(v, what):
    v = tuple(v) if isinstance(v, (tuple, list)) else (v,)
    if len(v) != 1 or int(v[0]) != v[0]:
        raise LaunchError(f"{what} must be one integer (1-D); got {v}")
    return int(v[0])
