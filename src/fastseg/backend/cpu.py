"""NumPy engine: chunked BLAS GEMM, argmin and accumulation, in parallel threads.

Rows are cut into blocks that threads take in turn; BLAS is limited to one thread
inside them so blocks run side by side (scikit-learn's ``_k_means_lloyd.pyx`` does the
same with OpenMP). Within a block, rows are shifted into a thread-local buffer, and
sub-chunks of it meet the centres in one GEMM (``−2 X Cᵀ + ‖C‖²``) whose argmin gives
labels; the block's weighted sums come from one sparse (one-hot) product, O(rows · d)
whatever k is. No n × k matrix is ever formed. Partial results are combined in block
order, so results do not depend on thread timing.

With few features (see :func:`_kernel_pays`), a compiled kernel (:mod:`.cpu_kernels`)
replaces the GEMM and argmin where a C compiler is available: up to four times faster.
"""

from __future__ import annotations

import math
import os
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import NamedTuple

import numpy as np
import scipy.sparse as sp

from .._exact import (block_extremes, block_grid_sum, fsum_partials, grid_mean, make_grid, mean_splitter,
                      merge_extremes, partials, split, split_rows)
from . import cpu_kernels
from ._base import Backend, Dataset, needs_centering

_BLOCK_ROWS = 65536  # rows per thread task: big enough to amortise the sparse product
# Rows a block has at least: each block costs tens of microseconds of Python per run it
# serves (a sweep of 27 runs over 2,000 rows in 256-row blocks spent 16 ms an iteration
# on it), so small data runs in few blocks, and under 4096 rows in one, with no threads.
_MIN_BLOCK_ROWS = 4096
_GEMM_ELEMS = 524288  # sub-chunk rows × k: few, large numpy calls (each releases the GIL)
_TILE_MAX_K = 64  # up to here whole-tile ufuncs beat numpy's row-wise argmin (≤ 127: int8 codes)
_FEW_MOVED = 256  # up to this many moved rows, exact deltas by np.add.at, not a sparse product


def _kernel_pays(k: int, d: int, dtype) -> bool:
    """Where the compiled kernel beats the GEMM path (``python bench/cpu_kernel.py``,
    2026-11-23): float64 up to 48 features; float32 up to 16, and up to 32 from 24
    centres (with fewer centres, or more features, BLAS's float32 GEMM is as fast)."""
    if dtype == np.float64:
        return d <= 48
    return d <= 16 or (d <= 32 and k >= 24)


class _Centres(NamedTuple):
    """A centre set in the forms the GEMMs take: −2Cᵀ (d, k), ‖c‖² (k,), the operand
    of :meth:`NumPyBackend._nearest`, and for its transposed tile the int8 column
    ``k − i`` (None past ``_TILE_MAX_K``); with the compiled kernel, its packed
    operands (else None); see :meth:`NumPyBackend._prep_centers`."""

    C2T: np.ndarray
    cn: np.ndarray
    gemm: np.ndarray
    rev: np.ndarray | None
    packed: tuple | None = None


def _cpu_threads() -> int:
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return max(1, os.cpu_count() or 1)


class NumPyBackend(Backend):
    """Engine ops on the host with NumPy and SciPy.

    Parameters
    ----------
    n_threads : int or None
        Worker threads; None uses every core this process may run on.
    compiled : bool or None
        Use the compiled nearest-centre kernel (:mod:`fastseg.backend.cpu_kernels`) for
        data with few features, where it is the faster path: None where it builds, True
        to insist (an error says why it cannot), False for the NumPy path alone.
    """

    name = "cpu"
    xp = np
    #: The compiled kernel this engine runs (a key of ``cpu_kernels._LIBRARIES``), what it
    #: is called in messages, and what runs without it.
    _library, _kernel_name, _engine, _fallback = "dense", "CPU kernel", "CPU engine", "NumPy"

    def __init__(self, n_threads: int | None = None, compiled: bool | None = None):
        self.n_threads = n_threads or _cpu_threads()
        self.compiled = compiled
        self._kernel_state = None  # (kernel or None,) once looked up: built at first use, not here
        if compiled:
            self._get_kernel()
        self._pool = None
        self._local = threading.local()
        self._controller = None

    def __repr__(self) -> str:
        return f"{type(self).__name__}(n_threads={self.n_threads}, compiled={self.compiled})"

    def describe(self) -> str:
        """Threads and whether the compiled kernel runs (and if not, why)."""
        kernel = self._get_kernel()
        if kernel is not None:
            how = f"compiled kernel on ({kernel.path})"
        elif self.compiled is False:
            how = "compiled kernel off (compiled=False)"
        else:
            how = f"compiled kernel off: {cpu_kernels.reasons.get(self._library)}; the {self._fallback} path runs"
        return f"{self._engine}, {self.n_threads} threads, {how}"

    def _get_kernel(self):
        """The compiled kernel, or None (``compiled=False``, or it cannot be built)."""
        if self._kernel_state is None:
            kernel = None if self.compiled is False else cpu_kernels.load_library(self._library)
            if self.compiled and kernel is None:
                raise RuntimeError(f"the compiled {self._kernel_name} is not available: "
                                   f"{cpu_kernels.reasons.get(self._library)}. "
                                   f"Pass compiled=None to fall back to {self._fallback}.")
            self._kernel_state = (kernel,)
        return self._kernel_state[0]

    def __getstate__(self):  # picklable (Dask ships it to workers): drop threads and scratch
        return {"n_threads": self.n_threads, "compiled": self.compiled}

    def __setstate__(self, state):
        self.__init__(state["n_threads"], state.get("compiled"))

    # -- transfers -------------------------------------------------------
    def asarray(self, a, dtype=None):
        return np.ascontiguousarray(a, dtype=dtype)

    def to_numpy(self, a):
        return np.asarray(a)

    def prepare(self, X, weights, *, center=True) -> Dataset:
        X = np.ascontiguousarray(X)
        n, d = X.shape
        weights = np.ascontiguousarray(weights, dtype=X.dtype)
        data = Dataset(X=X, weights=weights, shift=np.zeros(d, dtype=X.dtype), x_sq=None)
        exact = X.dtype == np.float64  # float64 totals on the grid (see fastseg._exact)
        ones = np.ones(max((e - s for s, e in self._blocks(n)), default=0), X.dtype)

        def moments(s, e, extremes=False):
            xc = self._rows(data, s, e)
            # column sums by BLAS (no float64 copy of the block); blocks add in float64
            col = (ones[: e - s] @ xc).astype(np.float64)
            flat = xc.reshape(-1)
            return col, float(np.dot(flat, flat)), block_extremes(xc) if extremes else None

        def summarise(extremes=False):
            parts = self._run(n, lambda s, e: moments(s, e, extremes))
            return sum(p[0] for p in parts) / n, sum(p[1] for p in parts) / n, [p[2] for p in parts]

        data.mean, data.mean_sq, ext = summarise(extremes=exact)
        if exact:
            col_max, col_min = merge_extremes(ext)  # of the rows before any shift
        if center and needs_centering(data.mean, data.mean_sq):
            if exact:
                # a shift with the same bits for any blocking (and in Dask): every value
                # in every row moves by it
                spl = mean_splitter(col_max, col_min, n)
                if spl is not None:
                    data.mean = grid_mean(self._run(n, lambda s, e: block_grid_sum(X[s:e], spl)), n)
            data.shift = data.mean.astype(X.dtype)
            data.centered = True
            data.mean_sq = summarise()[1]  # recomputed: subtracting would cancel badly
        if exact:
            w_max = float(weights.max()) if n else 0.0
            unit = bool(n) and w_max == 1.0 and float(weights.min()) == 1.0
            data.grid = make_grid(col_max, col_min, data.shift, w_max, n, unit)
        return data

    def _x_sq(self, data):
        """``‖x − shift‖²`` per row, computed on first use (Lloyd iterations never need it)."""
        if data.x_sq is None:
            x_sq = np.empty(data.n_samples, data.dtype)

            def norms(s, e):
                xc = self._rows(data, s, e)
                np.einsum("ij,ij->i", xc, xc, out=x_sq[s:e])

            self._run(data.n_samples, norms)
            data.x_sq = x_sq
        return data.x_sq

    # -- scheduling ------------------------------------------------------
    def _blocks(self, n):
        size = max(_MIN_BLOCK_ROWS, min(_BLOCK_ROWS, -(-n // (4 * self.n_threads))))
        return [(s, min(s + size, n)) for s in range(0, n, size)]

    def _run(self, n, fn):
        """Call ``fn(start, stop)`` for every block; results in block order."""
        return self._map(self._blocks(n), fn)

    def _map(self, blocks, fn):
        """Call ``fn(start, stop)`` for each of ``blocks`` in the threads; results in order."""
        if len(blocks) <= 1:  # small data: no threads, no BLAS limits, no overhead
            return [fn(s, e) for s, e in blocks]
        if self._controller is None:
            from threadpoolctl import ThreadpoolController

            self._controller = ThreadpoolController()
        # One BLAS thread per block: our threads already fill the cores, and BLAS's
        # own threads only add overhead on these small products.
        with self._controller.limit(limits=1, user_api="blas"):
            if self.n_threads == 1:
                return [fn(s, e) for s, e in blocks]
            if self._pool is None:
                self._pool = ThreadPoolExecutor(self.n_threads, thread_name_prefix="fastseg")
            return list(self._pool.map(lambda b: fn(*b), blocks))

    def _buffer(self, name, shape, dtype):
        """A thread-local scratch array, reused across calls (no page faults)."""
        key = (name, dtype)
        cache = self._local.__dict__
        buf = cache.get(key)
        need = math.prod(shape)
        if buf is None or buf.size < need:
            buf = np.empty(max(need, 1), dtype=dtype)
            cache[key] = buf
        return buf[:need].reshape(shape)

    def _indptr(self, m):
        """0..m as int32, cached: a one-hot CSC matrix's column pointers."""
        ptr = self._local.__dict__.get("indptr")
        if ptr is None or ptr.size < m + 1:
            ptr = np.arange(max(m, _BLOCK_ROWS) + 1, dtype=np.int32)
            self._local.__dict__["indptr"] = ptr
        return ptr[: m + 1]

    def _rows(self, data, s, e):
        """Rows ``s:e`` of X in shifted coordinates (a view when X is not shifted)."""
        if not data.centered:
            return data.X[s:e]
        out = self._buffer("x", (e - s, data.n_features), data.dtype)
        np.subtract(data.X[s:e], data.shift, out=out)
        return out

    @staticmethod
    def _sub_rows(k):
        return int(min(65536, max(128, _GEMM_ELEMS // max(k, 1))))

    def _augment(self, xc):
        """``[xc | 1]``: with ‖c‖² appended to −2Cᵀ as a last row, one GEMM gives
        ‖c‖² − 2 x·c. Copying the (m, d) rows costs less than adding to the (m, k) tile."""
        m, d = xc.shape
        xa = self._buffer("xa", (m, d + 1), xc.dtype)
        xa[:, :d] = xc
        xa[:, d] = 1
        return xa

    def _nearest(self, xc, cents, labels, min_d, xa=None):
        """Labels and ``min_c(‖c‖² − 2 x·c)`` for the rows of ``xc``.

        xc : (m, d) IN; cents : _Centres IN (from :meth:`_prep_centers`);
        labels : (m,) int32 OUT; min_d : (m,) OUT, or None to skip it;
        xa : (m, d + 1) IN, ``[xc | 1]`` when the caller has it already.
        """
        m, k = xc.shape[0], cents.cn.shape[0]
        if cents.packed is not None:
            self._get_kernel().nearest(xc, cents.packed, labels, min_d)
            return
        if k <= _TILE_MAX_K:
            # the transposed (k, w) tile: the bias is added to it (k·w values, fewer
            # than the rows' (d+1)·w) and the first minimum of each column is found
            # with a few whole-tile ufuncs (see _first_min)
            cnT = cents.cn[:, None]
            step = min(m, self._sub_rows(k))
            for a in range(0, m, step):
                b = min(a + step, m)
                vals = self._buffer("d", (k, b - a), xc.dtype)
                np.matmul(cents.gemm, xc[a:b].T, out=vals)
                vals += cnT
                self._first_min(vals, cents.rev, labels[a:b], None if min_d is None else min_d[a:b])
            return
        if xa is None:
            xa = self._augment(xc)
        step = self._sub_rows(k)
        for a in range(0, m, step):
            b = min(a + step, m)
            D = self._buffer("d", (b - a, k), xc.dtype)
            np.matmul(xa[a:b], cents.gemm, out=D)
            lab = D.argmin(axis=1)
            labels[a:b] = lab
            if min_d is not None:
                min_d[a:b] = D[np.arange(b - a), lab]

    def _first_min(self, vals, rev, labels, mins=None):
        """Index and value of the first minimum of each column of a (k, w) tile.

        numpy's row-wise argmin pays a fixed cost per row that dominates when rows
        hold a few dozen values. Here four whole-tile ufuncs do it: the column minima,
        a mask of the entries equal to them, the mask times ``k − i`` (int8), and its
        column maximum, ``k − (first index)`` — the first minimum, as argmin's.

        vals : (k, w) IN, k ≤ 127; rev : (k, 1) int8 IN, ``k − i``;
        labels : (w,) int32 OUT; mins : (w,) OUT or None.
        """
        k, w = vals.shape
        mn = self._buffer("mn", (w,), vals.dtype) if mins is None else mins
        np.min(vals, axis=0, out=mn)
        eq = self._buffer("eq", (k, w), np.bool_)
        np.equal(vals, mn, out=eq)
        code = self._buffer("code", (k, w), np.int8)
        np.multiply(eq, rev, out=code)
        best = self._buffer("best", (w,), np.int8)
        np.max(code, axis=0, out=best)
        np.subtract(k, best, out=labels, casting="unsafe")

    def _prep_centers(self, centers):
        """Everything the GEMMs (or the compiled kernel) need from a centre set, derived once per op."""
        C = np.ascontiguousarray(centers)
        C2T = np.ascontiguousarray(-2 * C.T)
        cn = np.einsum("ij,ij->i", C, C)
        k = C.shape[0]
        if k <= _TILE_MAX_K:
            gemm = np.ascontiguousarray(C2T.T)  # (k, d): the transposed tile of _nearest
            rev = (k - np.arange(k)).astype(np.int8)[:, None]
        else:
            gemm = np.vstack([C2T, cn[None, :].astype(C2T.dtype)])  # (d + 1, k): ‖c‖² in the product
            rev = None
        kernel = self._get_kernel() if _kernel_pays(*C.shape, C.dtype) else None
        packed = kernel.pack(C) if kernel is not None and C.shape[1] <= kernel.dmax else None
        return _Centres(C2T, cn, gemm, rev, packed)

    # -- engine ops ------------------------------------------------------
    def lloyd_step_multi(self, data, runs, with_inertia=False):
        # All runs meet each block of X while it is in cache, each with its own GEMM
        # and argmin (tiles sized by its k: numpy's per-call cost, not arithmetic,
        # is what a shared tile would save, and it would not).
        # Incremental update: only rows whose label changed move weight between
        # clusters, so late iterations (few changes) skip most of the accumulation.
        R = len(runs)
        prep = [self._prep_centers(r.centers) for r in runs]
        x_sq = self._x_sq(data) if with_inertia else None

        def block(s, e):
            xc = self._rows(data, s, e)
            # [xc | 1] for runs past _TILE_MAX_K, built once for all of them
            xa = self._augment(xc) if any(p.packed is None and r.centers.shape[0] > _TILE_MAX_K
                                          for p, r in zip(prep, runs)) else None
            m = e - s
            w = data.weights[s:e]
            mins = self._buffer("mins", (m,), data.dtype) if with_inertia else None
            out = []
            grid = data.grid
            for r, p in zip(runs, prep):  # each run in turn, while the block is in cache
                lab, k = r.labels[s:e], r.centers.shape[0]
                if p.packed is not None and (grid is None or grid.unit):
                    # the kernel moves rows that change label between the totals in the
                    # same pass (float64; with unit weights also the grid's exact levels);
                    # weighted exact totals take the NumPy route
                    sums, counts = np.zeros((data.levels, k, data.n_features)), np.zeros((data.levels, k))
                    totals = (sums, counts) if grid is not None else (sums[0], counts[0])
                    ch = self._get_kernel().nearest(xc, p.packed, lab, mins, w, *totals, grid=grid)
                    delta = (sums, counts, ch) if ch else (None, None, 0)
                else:
                    old = self._buffer("old", (m,), np.int32)
                    old[...] = lab
                    self._nearest(xc, p, lab, mins, xa=xa)
                    delta = self._delta(xc, w, lab, old, k, data.grid)
                inertia = 0.0
                if with_inertia:
                    mins += x_sq[s:e]
                    np.maximum(mins, 0, out=mins)
                    inertia = float(np.dot(mins, w))
                out.append(delta + (inertia,))
            return out

        changed = [0] * R
        inertia = [0.0] * R
        for parts in self._run(data.n_samples, block):  # block order: deterministic
            for j, (d_sums, d_counts, ch, i_) in enumerate(parts):
                if d_sums is not None:
                    runs[j].sums += d_sums
                    runs[j].counts += d_counts
                changed[j] += ch
                inertia[j] += i_
        return [(c, i if with_inertia else None) for c, i in zip(changed, inertia)]

    def finish_multi(self, data, runs, reassign):
        # One pass for every run: final labels where asked, then exact inertia.
        prep = [self._prep_centers(r.centers) if again else None for r, again in zip(runs, reassign)]
        cs = [np.ascontiguousarray(r.centers, dtype=data.dtype) for r in runs]

        exact = data.grid is not None

        def block(s, e):
            xc = self._rows(data, s, e)
            d2 = self._buffer("fin", (e - s,), data.dtype)
            w = data.weights[s:e].astype(np.float64)
            out = []
            for r, p, c in zip(runs, prep, cs):
                lab = r.labels[s:e]
                if p is not None:
                    self._nearest(xc, p, lab, None)
                self._exact_sq(xc, c, lab, d2)
                out.append(partials((d2 * w)[:, None]).ravel() if exact else float(d2 @ w))
            return out

        parts = self._run(data.n_samples, block)
        if exact:  # exact per block, rounded once: the same whatever the blocks
            return [fsum_partials(np.concatenate([p[j] for p in parts])) for j in range(len(runs))]
        return [float(sum(p[j] for p in parts)) for j in range(len(runs))]

    def accumulate(self, data, labels, k):
        parts = self._run(data.n_samples, lambda s, e: self._label_totals(data, labels, k, s, e))
        sums = np.zeros((k, data.n_features))
        counts = np.zeros(k)
        for s_, c_ in parts:
            sums += s_
            counts += c_
        return sums, counts

    def _label_totals(self, data, labels, k, s, e):
        """Per-label weighted sums (k, d) and weights (k,) of rows ``s:e``, float64."""
        xc = self._rows(data, s, e)
        lab, w = labels[s:e], data.weights[s:e]
        return self._onehot_sum(lab, w, xc, k), np.bincount(lab, weights=w, minlength=k)

    def _delta(self, xc, w, lab, old, k, grid=None):
        """Change of per-label sums and weights, shapes (L, k, d) and (L, k), when labels
        go from ``old`` to ``lab`` (L = 2 grid levels with a grid, else 1)."""
        moved = np.flatnonzero(lab != old)
        if moved.size == 0:
            return None, None, 0
        if moved.size == lab.size:
            xm, wm, new_l, old_l = xc, w, lab, old
        else:
            xm, wm, new_l, old_l = xc[moved], w[moved], lab[moved], old[moved]
        had = old_l >= 0  # -1: no label before the first step
        if grid is not None:
            return self._delta_exact(xm, wm, new_l, old_l, had, k, grid) + (int(moved.size),)
        d_sums = self._onehot_sum(new_l, wm, xm, k)
        d_counts = np.bincount(new_l, weights=wm, minlength=k)
        if had.any():
            if not had.all():
                xm, wm, old_l = xm[had], wm[had], old_l[had]
            d_sums -= self._onehot_sum(old_l, wm, xm, k)
            d_counts -= np.bincount(old_l, weights=wm, minlength=k)
        return d_sums[None], d_counts[None], int(moved.size)

    def _delta_exact(self, xm, wm, new_l, old_l, had, k, grid):
        """:meth:`_delta` on the grid: every sum here is exact, so the totals do not
        depend on which rows moved when, on the blocks, or on their order."""
        m, d = xm.shape
        q = self._buffer("q", (2, m, d), np.float64)  # the two levels, each contiguous
        v = xm if grid.unit else np.multiply(xm, wm[:, None], out=self._buffer("v", (m, d), np.float64))
        split_rows(v, grid.s1, grid.s2, q, tiles=self._grid_tiles(grid))
        wq = self._buffer("wq", (m, 2), np.float64)
        if grid.unit:
            wq[:, 0], wq[:, 1] = 1.0, 0.0
        else:
            split(wm, grid.w1, grid.w2, (wq[:, 0], wq[:, 1]))
        if m <= _FEW_MOVED:  # few rows: index-wise adds cost less than building a sparse matrix
            sums, counts = np.zeros((2, k, d)), np.zeros((2, k))
            gone = old_l[had]
            for lev in range(2):  # exact sums, so the order of the adds does not matter
                np.add.at(sums[lev], new_l, q[lev])
                np.add.at(counts[lev], new_l, wq[:, lev])
                np.subtract.at(sums[lev], gone, q[lev][had])
                np.subtract.at(counts[lev], gone, wq[had, lev])
            return sums, counts
        # one signed matrix for the moves: +1 at the new label, −1 at the old (0 for none)
        idx = self._buffer("idx", (m, 2), np.int32)
        idx[:, 0] = new_l
        np.maximum(old_l, 0, out=idx[:, 1])
        sign = self._buffer("sign", (m, 2), np.float64)
        sign[:, 0] = 1.0
        np.negative(had, out=sign[:, 1], dtype=np.float64)
        move = sp.csc_matrix((sign.reshape(-1), idx.reshape(-1), 2 * self._indptr(m)), shape=(k, m))
        sums = np.stack([move @ q[0], move @ q[1]])
        counts = np.asarray(move @ wq).T
        return sums, counts

    def _grid_tiles(self, grid, rows=1024):
        """The grid's splitters tiled to ``rows`` rows (see :func:`split_rows`), kept per thread."""
        cache = self._local.__dict__
        key = ("tiles", grid.s1.tobytes(), grid.s2.tobytes())
        tiles = cache.get(key)
        if tiles is None:
            for old in [kk for kk in cache if isinstance(kk, tuple) and kk and kk[0] == "tiles"]:
                del cache[old]  # one grid at a time: the data's
            tiles = cache[key] = (np.tile(grid.s1, (rows, 1)), np.tile(grid.s2, (rows, 1)))
        return tiles

    def _onehot_sum(self, lab, w, x, k):
        """Per-label weighted sums of the rows of ``x`` (one sparse product), float64."""
        m = lab.shape[0]
        onehot = sp.csc_matrix((w, lab, self._indptr(m)), shape=(k, m))
        return np.asarray(onehot @ x, dtype=np.float64)

    def assign(self, data, centers, labels, min_sq=None, exact=False):
        cents = self._prep_centers(centers)
        x_sq = None if (min_sq is None or exact) else self._x_sq(data)
        C = np.ascontiguousarray(centers, dtype=data.dtype)

        def block(s, e):
            xc = self._rows(data, s, e)
            lab = labels[s:e]
            out = None if (min_sq is None or exact) else min_sq[s:e]
            self._nearest(xc, cents, lab, out)
            if out is not None:
                out += x_sq[s:e]
                np.maximum(out, 0, out=out)
            elif min_sq is not None:  # exact: direct differences while the block is warm
                self._exact_sq(xc, C, lab, min_sq[s:e])

        self._run(data.n_samples, block)

    def _exact_sq(self, xc, C, lab, out):
        diff = self._buffer("diff", xc.shape, xc.dtype)
        np.take(C, lab, axis=0, out=diff)  # into scratch: fancy indexing would allocate
        np.subtract(xc, diff, out=diff)
        np.einsum("ij,ij->i", diff, diff, out=out)

    def sq_dist_to_assigned(self, data, centers, labels):
        out = np.empty(data.n_samples, data.dtype)
        C = np.ascontiguousarray(centers, dtype=data.dtype)
        self._run(data.n_samples, lambda s, e: self._exact_sq(self._rows(data, s, e), C, labels[s:e], out[s:e]))
        return out

    def distances(self, data, centers):
        x_sq = self._x_sq(data)
        k = centers.shape[0]
        out = np.empty((data.n_samples, k), data.dtype)
        C2T, cn = self._prep_centers(np.asarray(centers, dtype=data.dtype))[:2]

        def block(s, e):
            xc = self._rows(data, s, e)
            D = out[s:e]
            np.matmul(xc, C2T, out=D)
            D += cn
            D += x_sq[s:e, None]
            np.maximum(D, 0, out=D)
            np.sqrt(D, out=D)

        self._run(data.n_samples, block)
        return out

    def kpp_add_center(self, data, center, closest):
        x_sq = self._x_sq(data)
        c = np.asarray(center, dtype=data.dtype)
        c2 = -2 * c
        cn = float(c @ c)

        def block(s, e):
            xc = self._rows(data, s, e)
            d = self._buffer("m", (e - s,), data.dtype)
            np.matmul(xc, c2, out=d)
            d += x_sq[s:e]
            d += cn
            np.maximum(d, 0, out=d)
            np.minimum(closest[s:e], d, out=closest[s:e])
            return float(np.dot(closest[s:e], data.weights[s:e]))

        return float(sum(self._run(data.n_samples, block)))

    def kpp_sample(self, data, closest, targets):
        # Two levels instead of one cumulative sum over all n rows: block totals
        # locate each target's block, and only that block is summed row by row.
        blocks = self._blocks(data.n_samples)
        w = data.weights
        totals = np.array(self._run(data.n_samples, lambda s, e: float(np.dot(closest[s:e], w[s:e]))))
        starts = np.cumsum(totals) - totals
        out = np.empty(len(targets), dtype=np.int64)
        for j, t in enumerate(np.asarray(targets, dtype=np.float64)):
            b = int(np.searchsorted(starts + totals, t, side="right"))
            if b >= len(blocks):
                out[j] = data.n_samples - 1
                continue
            s, e = blocks[b]
            cdf = np.cumsum(closest[s:e] * w[s:e], dtype=np.float64)
            # side="right": a row whose increment is zero (weight 0, or already a
            # centre) can never be drawn.
            i = int(np.searchsorted(cdf, t - starts[b], side="right"))
            out[j] = s + min(i, e - s - 1)
        return out

    def kpp_potentials(self, data, candidates, closest, out):
        x_sq = self._x_sq(data)
        cand = np.ascontiguousarray(candidates, dtype=data.dtype)
        prep = self._prep_centers(cand)
        C2 = np.ascontiguousarray(prep.C2T.T)
        cnT = prep.cn[:, None]
        t = cand.shape[0]
        w = data.weights

        def block(s, e):
            D = out[:, s:e]
            if prep.packed is not None:  # one pass: distances, minimum, weighted sums
                return self._get_kernel().potentials(self._rows(data, s, e), prep.packed, t, x_sq[s:e],
                                                     closest[s:e], w[s:e], D)
            np.matmul(C2, self._rows(data, s, e).T, out=D)
            D += cnT
            D += x_sq[s:e]
            np.maximum(D, 0, out=D)  # rounding can leave −ε where a row is a candidate
            np.minimum(D, closest[s:e], out=D)
            return (D @ w[s:e]).astype(np.float64)

        return np.sum(self._run(data.n_samples, block), axis=0)
