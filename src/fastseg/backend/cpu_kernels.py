"""The compiled CPU kernel (``kernels/cpu_nearest.c``): built at first use, cached, optional.

The NumPy engine finds each row's nearest centre with a GEMM and a few whole-tile
ufuncs. With the few features customer data has, that GEMM is limited by packing,
not arithmetic, so a small C kernel that keeps rows in vector registers does the same
job up to four times faster (bench/RESULTS.md), with Lloyd's incremental update and
k-means++'s candidate potentials in the same pass. It is compiled once per machine
with the C compiler Python was built with (``CC`` overrides it), ``-O3
-march=native``, into a cache folder, and loaded with ctypes, which releases the GIL
so the engine's threads run it side by side. Where no compiler works, or with
``FASTSEG_CPU_KERNEL=0``, :func:`load` returns None and the NumPy path runs instead:
the same labels (both take the first minimum) up to rounding at near-ties.
"""

from __future__ import annotations

import ctypes
import hashlib
import os
import platform
import shlex
import shutil
import subprocess
import sys
import sysconfig
import tempfile
import threading
from pathlib import Path

import numpy as np

from .kernels import kernel_dir

SOURCE = "cpu_nearest.c"
ABI = 6  # fastseg_cpu_abi() of the source this module speaks to
# Order matters: the first set that compiles wins (-march=native is not on every compiler).
_FLAG_SETS = (
    ["-O3", "-march=native", "-ffp-contract=fast"],
    ["-O3", "-ffp-contract=fast"],
    ["-O3"],
)
_BASE_FLAGS = ["-std=c11", "-shared", "-fPIC", "-Wno-psabi"]

_lock = threading.Lock()
_loaded: dict = {}
reason: str | None = None  # why the kernel is not available (None while it is, or untried)


class Kernel:
    """The loaded library: :meth:`nearest` and :meth:`potentials`, float32 and float64.

    Attributes
    ----------
    dmax : int
        The most features per row the kernel takes.
    kpad : int
        Centre sets are padded to a multiple of this many rows.
    path : pathlib.Path
        The shared library.
    """

    def __init__(self, lib, path):
        self.path = Path(path)
        self.dmax = int(lib.fastseg_cpu_dmax())
        self.kpad = int(lib.fastseg_cpu_kpad())
        i64, ptr = ctypes.c_int64, ctypes.c_void_p
        self._fn = {}
        for dtype, name in ((np.float32, "nearest_f32"), (np.float64, "nearest_f64")):
            fn = getattr(lib, name)
            fn.argtypes = [ptr, i64, i64, i64, ptr, ptr, i64, i64, ptr, ptr, ptr, ptr, ptr, ptr, ptr, ptr]
            fn.restype = ctypes.c_int
            self._fn[np.dtype(dtype)] = fn
        self._pot, self._lanes = {}, {}
        for dtype, name in ((np.float32, "potentials_f32"), (np.float64, "potentials_f64")):
            self._lanes[np.dtype(dtype)] = int(getattr(lib, f"fastseg_cpu_lanes_{name[-3:]}")())
            fn = getattr(lib, name)
            fn.argtypes = [ptr, i64, i64, i64, ptr, ptr, i64, i64, ptr, ptr, ptr, ptr, i64, ptr]
            fn.restype = ctypes.c_int
            self._pot[np.dtype(dtype)] = fn

    def pack(self, centers):
        """``(−2C, ‖c‖², k)``, the first two padded to a multiple of :attr:`kpad` rows
        (zeros, +inf)."""
        C = np.asarray(centers)
        k, d = C.shape
        kp = -(-k // self.kpad) * self.kpad
        C2 = np.zeros((kp, d), C.dtype)
        np.multiply(C, -2, out=C2[:k])
        cn = np.full(kp, np.inf, C.dtype)
        np.einsum("ij,ij->i", C, C, out=cn[:k])
        return C2, cn, k

    @staticmethod
    def _row_stride(X):
        n, d = X.shape
        if X.strides[1] != X.itemsize or (n > 1 and X.strides[0] % X.itemsize):
            raise ValueError("the CPU kernel needs rows with contiguous features")
        return X.strides[0] // X.itemsize if n > 1 else d

    def potentials(self, X, packed, t, x_sq, closest, weights, out):
        """k-means++: ``out[j] = min(closest, ‖x − c_j‖²)`` for the first ``t`` packed
        candidates; returns ``Σ weights · out[j]`` per candidate (float64, a fixed order).

        ``out`` is (t, n) with contiguous rows (a column slice of a wider array is fine);
        the 1-D arrays are contiguous, of X's dtype.
        """
        C2, cn, _ = packed
        n, d = X.shape
        for name, a in (("x_sq", x_sq), ("closest", closest), ("weights", weights)):
            if a.dtype != X.dtype or not a.flags.c_contiguous or a.shape != (n,):
                raise ValueError(f"{name} must be a contiguous ({n},) array of {X.dtype}")
        if out.dtype != X.dtype or out.shape != (t, n) or (n > 1 and out.strides[1] != out.itemsize):
            raise ValueError("out must be (t, n) of X's dtype with contiguous rows")
        ldo = out.strides[0] // out.itemsize if t > 1 else n
        lanes = np.zeros((t, self._lanes[X.dtype]))
        rc = self._pot[X.dtype](X.ctypes.data, n, d, self._row_stride(X), C2.ctypes.data, cn.ctypes.data,
                                C2.shape[0], t, x_sq.ctypes.data, closest.ctypes.data, weights.ctypes.data,
                                out.ctypes.data, ldo, lanes.ctypes.data)
        if rc != 0:
            raise ValueError(f"the CPU kernel does not take d={d}, t={t} candidates (at most d={self.dmax})")
        return lanes.sum(axis=1)

    def nearest(self, X, packed, labels, mins=None, weights=None, sums=None, counts=None, grid=None):
        """Labels and ``min_c(‖c‖² − 2 x·c)`` of the rows of X (rows contiguous).

        With ``sums`` (k, d) and ``counts`` (k,), both float64 and C-contiguous, ``labels``
        also holds the previous labels (−1: none) on the way in: each row whose label
        changes moves its ``weights``-weighted values from the old centre's totals to the
        new one's, in the same pass, and the number of such rows is returned. With a
        ``grid`` of unit weights (:class:`fastseg._exact.Grid`), the totals are its two
        exact levels, ``sums`` (2, k, d) and ``counts`` (2, k), as
        :func:`fastseg._exact.split` makes them (``weights`` is not read).
        """
        C2, cn, k = packed
        n, d = X.shape
        if labels.dtype != np.int32 or not labels.flags.c_contiguous or labels.shape != (len(X),):
            raise ValueError("labels must be a C-contiguous int32 array with one entry per row")
        acc = sums is not None
        changed = ctypes.c_int64(0)
        lead = () if grid is None else (2,)
        if acc and not (sums.dtype == counts.dtype == np.float64 and sums.flags.c_contiguous
                        and counts.flags.c_contiguous and sums.shape == lead + (k, d) and counts.shape == lead + (k,)
                        and weights.dtype == X.dtype and weights.flags.c_contiguous and weights.shape == (n,)):
            raise ValueError("sums (k, d) and counts (k,) (with a grid: (2, k, d) and (2, k)) must be C-contiguous "
                             "float64, weights (n,) of X's dtype")
        if grid is not None and not (acc and grid.unit):
            raise ValueError("a grid takes sums and counts, and unit weights only")
        s1 = s2 = None
        if grid is not None:
            s1, s2 = (np.ascontiguousarray(a, dtype=np.float64) for a in (grid.s1, grid.s2))
            if s1.shape != (d,) or s2.shape != (d,):
                raise ValueError(f"the grid's splitters must have {d} values")
        ldx = self._row_stride(X)
        rc = self._fn[X.dtype](X.ctypes.data, n, d, ldx, C2.ctypes.data, cn.ctypes.data, C2.shape[0], k,
                               labels.ctypes.data, None if mins is None else mins.ctypes.data,
                               weights.ctypes.data if acc else None, sums.ctypes.data if acc else None,
                               counts.ctypes.data if acc else None, ctypes.addressof(changed) if acc else None,
                               None if s1 is None else s1.ctypes.data, None if s2 is None else s2.ctypes.data)
        if rc != 0:
            raise ValueError(f"the CPU kernel does not take d={d}, k={C2.shape[0]} (at most d={self.dmax})")
        return changed.value if acc else None


def _compiler():
    """``CC`` if set (and only it), else Python's own compiler, else cc, gcc or clang."""
    env = os.environ.get("CC")
    options = [env] if env else [sysconfig.get_config_var("CC"), "cc", "gcc", "clang"]
    for cc in options:
        cmd = shlex.split(cc or "")
        if cmd and shutil.which(cmd[0]):
            return cmd
    return None


def _cpu_id() -> str:
    """What -march=native depends on: the CPU's model and flags where Linux tells them."""
    try:
        info = Path("/proc/cpuinfo").read_text()
        keep = [ln for ln in info.splitlines() if ln.startswith(("model name", "flags", "Features", "CPU part"))]
        return "\n".join(sorted(set(keep)))
    except OSError:
        return platform.processor() + platform.machine()


def cache_dir() -> Path:
    """``FASTSEG_CACHE_DIR``, else ``$XDG_CACHE_HOME/fastseg``, else ``~/.cache/fastseg``."""
    env = os.environ.get("FASTSEG_CACHE_DIR")
    if env:
        return Path(env)
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "fastseg"


def _build(src: Path, cc, out_dir: Path) -> Path:
    text = src.read_bytes()
    errors = []
    for flags in _FLAG_SETS:
        cmd = cc + flags + _BASE_FLAGS
        key = hashlib.sha256(text + repr(cmd).encode() + _cpu_id().encode()).hexdigest()[:20]
        lib = out_dir / f"cpu_nearest-{key}{'.dll' if sys.platform == 'win32' else '.so'}"
        if lib.exists():
            return lib
        out_dir.mkdir(parents=True, exist_ok=True)
        # compile beside the target, then rename: processes racing here (Dask workers)
        # never load a half-written file
        fd, tmp = tempfile.mkstemp(dir=out_dir, suffix=".so.tmp")
        os.close(fd)
        try:
            res = subprocess.run(cmd + ["-o", tmp, str(src)], capture_output=True, text=True, timeout=120)
            if res.returncode == 0:
                os.replace(tmp, lib)
                return lib
            errors.append(f"{' '.join(cmd)}: {res.stderr.strip()[-500:]}")
        finally:
            if os.path.exists(tmp):
                os.unlink(tmp)
    raise RuntimeError("the C compiler failed: " + " | ".join(errors))


def load() -> Kernel | None:
    """The compiled kernel, built on first call; None where it cannot be (see :data:`reason`)."""
    global reason
    if os.environ.get("FASTSEG_CPU_KERNEL", "1").strip().lower() in ("0", "false", "no", "off"):
        reason = "disabled by FASTSEG_CPU_KERNEL"
        return None
    key = (os.environ.get("CC"), os.environ.get("FASTSEG_CACHE_DIR"))
    with _lock:
        if key in _loaded:
            return _loaded[key]
        kernel = None
        try:
            cc = _compiler()
            if cc is None:
                raise RuntimeError("no C compiler found (set CC to one)")
            src = kernel_dir() / SOURCE
            try:
                out_dir = cache_dir()
                lib_path = _build(src, cc, out_dir)
            except OSError:  # cache folder not writable: a private temporary one
                out_dir = Path(tempfile.gettempdir()) / f"fastseg-{os.getuid() if hasattr(os, 'getuid') else 'user'}"
                lib_path = _build(src, cc, out_dir)
            try:
                lib = ctypes.CDLL(str(lib_path))
            except OSError:  # a damaged file in the cache: build it again, once
                lib_path.unlink(missing_ok=True)
                lib = ctypes.CDLL(str(_build(src, cc, out_dir)))
            if lib.fastseg_cpu_abi() != ABI:
                raise RuntimeError(f"{lib_path} speaks ABI {lib.fastseg_cpu_abi()}, not {ABI}")
            kernel = Kernel(lib, lib_path)
            reason = None
        except Exception as exc:  # any failure: the NumPy path does the job
            reason = str(exc)
        _loaded[key] = kernel
        return kernel
