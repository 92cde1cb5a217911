"""The compiled CPU kernels: built at first use, cached, optional.

``kernels/cpu_nearest.c`` (:func:`load`): the NumPy engine finds each row's nearest
centre with a GEMM and a few whole-tile ufuncs. With the few features customer data
has, that GEMM is limited by packing, not arithmetic, so a small C kernel that keeps
rows in vector registers does the same job up to four times faster (bench/RESULTS.md),
with Lloyd's incremental update and k-means++'s candidate potentials in the same pass.

``kernels/cpu_sparse.c`` (:func:`load_sparse`): the sparse engine's fused assignment
and per-centre totals on CSR rows, which SciPy can only do as two products, the
second a slow sparse × sparse one.

Each is compiled once per machine with the C compiler Python was built with (``CC``
overrides it), ``-O3 -march=native``, into a cache folder, and loaded with ctypes,
which releases the GIL so the engine's threads run it side by side. Where no compiler
works, or with ``FASTSEG_CPU_KERNEL=0``, the loaders return None and the NumPy (SciPy)
path runs instead: the same labels up to rounding at near-ties.
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
        lib = out_dir / f"{src.stem}-{key}{'.dll' if sys.platform == 'win32' else '.so'}"
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


class SparseKernel:
    """The loaded sparse library (``kernels/cpu_sparse.c``): :meth:`lloyd`, float32 and float64.

    Attributes
    ----------
    path : pathlib.Path
        The shared library.
    """

    def __init__(self, lib, path):
        self.path = Path(path)
        i64, ptr = ctypes.c_int64, ctypes.c_void_p
        self._fn = {}
        for dtype, name in ((np.float32, "sparse_lloyd_f32"), (np.float64, "sparse_lloyd_f64")):
            fn = getattr(lib, name)
            fn.argtypes = [ptr, ptr, ptr, i64, i64, ptr, ptr, i64, ptr, i64, ptr, ptr, ptr, ptr, ptr, ptr, ptr, ptr,
                           ptr]
            fn.restype = ctypes.c_int
            self._fn[np.dtype(dtype)] = fn
        self._moments, self._dist = {}, {}
        for dtype, tag in ((np.float32, "f32"), (np.float64, "f64")):
            fn = getattr(lib, f"sparse_moments_{tag}")
            fn.argtypes = [ptr, ptr, ptr, i64, ptr, ptr]
            fn.restype = ctypes.c_int
            self._moments[np.dtype(dtype)] = fn
            fn = getattr(lib, f"sparse_dist_{tag}")
            fn.argtypes = [ptr, ptr, ptr, i64, i64, ptr, ptr, ptr, ptr]
            fn.restype = ctypes.c_int
            self._dist[np.dtype(dtype)] = fn

    @staticmethod
    def _check(arrays, indices=None, vals=None):
        if indices is not None and (indices.dtype != np.int32 or vals.dtype not in (np.float32, np.float64)
                                    or not (indices.flags.c_contiguous and vals.flags.c_contiguous)):
            raise ValueError("the sparse CPU kernel takes contiguous int32 indices and float32/float64 values")
        for a, want, shape in arrays:
            if a.dtype != want or a.shape != shape or not a.flags.c_contiguous:
                raise ValueError(f"the sparse CPU kernel takes a C-contiguous {np.dtype(want)} array of shape "
                                 f"{shape}; got {a.dtype} {a.shape}")

    def moments(self, indptr, indices, vals, d, x_sq, colsum):
        """Each row's ``‖x‖²`` into ``x_sq`` (float64, (m,)) and the column totals of the
        stored values added to ``colsum`` (float64, (d,))."""
        m = len(indptr) - 1
        self._check([(indptr, np.int64, (m + 1,)), (x_sq, np.float64, (m,)), (colsum, np.float64, (d,))],
                    indices, vals)
        self._moments[np.dtype(vals.dtype)](indptr.ctypes.data, indices.ctypes.data, vals.ctypes.data, m,
                                            x_sq.ctypes.data, colsum.ctypes.data)

    def dist(self, indptr, indices, vals, d, C, cn, labels, out):
        """Exact ``‖x − C[label]‖²`` of each row into ``out`` (float64, (m,)), from
        direct differences; C (k, d) of vals' dtype, cn float64 (k,), labels int32 (m,)."""
        m = len(indptr) - 1
        k = C.shape[0]
        self._check([(indptr, np.int64, (m + 1,)), (C, vals.dtype, (k, d)), (cn, np.float64, (k,)),
                     (labels, np.int32, (m,)), (out, np.float64, (m,))], indices, vals)
        if m and (labels.min() < 0 or labels.max() >= k):
            raise ValueError(f"labels must lie in [0, {k})")
        self._dist[np.dtype(vals.dtype)](indptr.ctypes.data, indices.ctypes.data, vals.ctypes.data, m, d,
                                         C.ctypes.data, cn.ctypes.data, labels.ctypes.data, out.ctypes.data)

    def lloyd(self, indptr, indices, vals, d, CT, cn, off, labels, weights=None, x_sq=None, inertia=None,
              mins=None, sums=None, counts=None):
        """Nearest centre of each CSR row for every centre set, totals in the same pass.

        Parameters
        ----------
        indptr : int64 (m + 1,); indices : int32 (nnz,); vals : (nnz,) float32 or float64
            The rows (``indptr`` may start anywhere in ``indices`` and ``vals``).
        d : int
        CT : (d, K) of vals' dtype, C-contiguous        # every set's centres, transposed
        cn : float64 (K,)                               # ‖c‖²
        off : int64 (R + 1,)                            # set r owns centres off[r]:off[r + 1]
        labels : list of R int32 (m,) arrays            # IN/OUT: previous labels (−1: none), replaced
        weights : (m,) of vals' dtype, or None          # read with sums or inertia
        x_sq : float64 (m,) or None                     # with it, inertia and mins
        inertia : float64 (R,) or None                  # IN/OUT, Σ w·‖x − c‖² added
        mins : float64 (m,) or None                     # OUT, set 0's squared distances
        sums : float64 (K, d) or None; counts : float64 (K,)   # IN/OUT, added to

        Returns
        -------
        int64 array (R,): rows whose label changed, per set.
        """
        m = len(indptr) - 1
        dt = np.dtype(vals.dtype)
        R = len(off) - 1
        K = int(CT.shape[1])
        checks = [(indptr, np.int64, (m + 1,)), (off, np.int64, (R + 1,)), (CT, dt, (d, K)), (cn, np.float64, (K,))]
        checks += [(a, np.int32, (m,)) for a in labels]
        checks += [(a, dt, (m,)) for a in (weights,) if a is not None]
        checks += [(a, np.float64, shape) for a, shape in ((x_sq, (m,)), (inertia, (R,)), (mins, (m,)),
                                                           (sums, (K, d)), (counts, (K,))) if a is not None]
        self._check(checks, indices, vals)
        if len(labels) != R:
            raise ValueError(f"the sparse CPU kernel takes one label array per centre set ({R}); got {len(labels)}")
        if (sums is None) != (counts is None) or ((sums is not None or inertia is not None) and weights is None):
            raise ValueError("sums and counts go together, and with inertia need weights")
        changed = np.zeros(R, np.int64)
        dots = np.empty(K)
        ptrs = (ctypes.c_void_p * R)(*[a.ctypes.data for a in labels])

        def addr(a):
            return None if a is None else a.ctypes.data

        self._fn[dt](indptr.ctypes.data, indices.ctypes.data, vals.ctypes.data, m, d, CT.ctypes.data,
                     cn.ctypes.data, K, off.ctypes.data, R, ptrs, addr(weights), addr(x_sq), addr(inertia),
                     addr(mins), addr(sums), addr(counts), changed.ctypes.data, dots.ctypes.data)
        return changed


#: The compiled libraries: source, ABI function and number, wrapper.
_LIBRARIES = {
    "dense": (SOURCE, "fastseg_cpu_abi", ABI, Kernel),
    "sparse": ("cpu_sparse.c", "fastseg_sparse_abi", 2, SparseKernel),
}
reasons: dict = {}  # library → why it is not available


def _open(which):
    """Build (or find in the cache) and load one of :data:`_LIBRARIES`; errors raise."""
    source, abi_fn, abi, wrap = _LIBRARIES[which]
    cc = _compiler()
    if cc is None:
        raise RuntimeError("no C compiler found (set CC to one)")
    src = kernel_dir() / source
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
    if getattr(lib, abi_fn)() != abi:
        raise RuntimeError(f"{lib_path} speaks ABI {getattr(lib, abi_fn)()}, not {abi}")
    return wrap(lib, lib_path)


def load_library(which):
    """The wrapped library, built on first call; None where it cannot be (see :data:`reasons`)."""
    kernel = _load_library(which)
    if which == "dense":
        global reason
        reason = reasons.get("dense")
    return kernel


def _load_library(which):
    if os.environ.get("FASTSEG_CPU_KERNEL", "1").strip().lower() in ("0", "false", "no", "off"):
        reasons[which] = "disabled by FASTSEG_CPU_KERNEL"
        return None
    key = (which, os.environ.get("CC"), os.environ.get("FASTSEG_CACHE_DIR"))
    with _lock:
        if key in _loaded:
            return _loaded[key]
        kernel = None
        try:
            kernel = _open(which)
            reasons[which] = None
        except Exception as exc:  # any failure: the NumPy/SciPy path does the job
            reasons[which] = str(exc)
        _loaded[key] = kernel
        return kernel


def load() -> Kernel | None:
    """The compiled dense kernel, built on first call; None where it cannot be (see :data:`reason`)."""
    return load_library("dense")


def load_sparse() -> SparseKernel | None:
    """The compiled sparse kernel, built on first call; None where it cannot be
    (``reasons["sparse"]`` says why)."""
    return load_library("sparse")
