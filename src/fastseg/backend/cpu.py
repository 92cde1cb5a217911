"""NumPy engine: chunked BLAS GEMM, argmin and accumulation, in parallel threads.

Rows are cut into blocks that threads take in turn; BLAS is limited to one thread
inside them so blocks run side by side (scikit-learn's ``_k_means_lloyd.pyx`` does the
same with OpenMP). Within a block, rows are shifted into a thread-local buffer, and
sub-chunks of it meet the centres in one GEMM (``−2 X Cᵀ + ‖C‖²``) whose argmin gives
labels; the block's weighted sums come from one sparse (one-hot) product, O(rows · d)
whatever k is. No n × k matrix is ever formed. Partial results are combined in block
order, so results do not depend on thread timing.
"""

from __future__ import annotations

import math
import os
import threading
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import scipy.sparse as sp

from ._base import Backend, Dataset, needs_centering

_BLOCK_ROWS = 16384  # rows per thread task: big enough to amortise the sparse product
_GEMM_ELEMS = 131072  # sub-chunk rows × k: the distance tile stays in L2
_TOURNAMENT_MAX_K = 32  # up to here a knockout beats numpy's row-wise argmin


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
    """

    name = "cpu"
    xp = np

    def __init__(self, n_threads: int | None = None):
        self.n_threads = n_threads or _cpu_threads()
        self._pool = None
        self._local = threading.local()
        self._controller = None

    def __repr__(self) -> str:
        return f"NumPyBackend(n_threads={self.n_threads})"

    # -- transfers -------------------------------------------------------
    def asarray(self, a, dtype=None):
        return np.ascontiguousarray(a, dtype=dtype)

    def to_numpy(self, a):
        return np.asarray(a)

    def prepare(self, X, weights, *, center=True) -> Dataset:
        X = np.ascontiguousarray(X)
        weights = np.ascontiguousarray(weights, dtype=X.dtype)
        mean = X.mean(axis=0, dtype=np.float64)
        data = Dataset(
            X=X,
            weights=weights,
            shift=np.zeros(X.shape[1], dtype=X.dtype),
            x_sq=np.empty(X.shape[0], X.dtype),
        )

        def norms(s, e):
            xc = self._rows(data, s, e)
            np.einsum("ij,ij->i", xc, xc, out=data.x_sq[s:e])

        self._run(data.n_samples, norms)
        if center and needs_centering(mean, float(data.x_sq.mean(dtype=np.float64))):
            data.shift = mean.astype(X.dtype)
            data.centered = True
            self._run(data.n_samples, norms)
        return data

    # -- scheduling ------------------------------------------------------
    def _blocks(self, n):
        size = max(256, min(_BLOCK_ROWS, -(-n // (4 * self.n_threads))))
        return [(s, min(s + size, n)) for s in range(0, n, size)]

    def _run(self, n, fn):
        """Call ``fn(start, stop)`` for every block; results in block order."""
        blocks = self._blocks(n)
        if self._controller is None:
            from threadpoolctl import ThreadpoolController

            self._controller = ThreadpoolController()
        # One BLAS thread per block: our threads already fill the cores, and BLAS's
        # own threads only add overhead on these small products.
        with self._controller.limit(limits=1, user_api="blas"):
            if self.n_threads == 1 or len(blocks) == 1:
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

    def _rows(self, data, s, e):
        """Rows ``s:e`` of X in shifted coordinates (a view when X is not shifted)."""
        if not data.centered:
            return data.X[s:e]
        out = self._buffer("x", (e - s, data.n_features), data.dtype)
        np.subtract(data.X[s:e], data.shift, out=out)
        return out

    @staticmethod
    def _sub_rows(k):
        return int(min(4096, max(128, _GEMM_ELEMS // max(k, 1))))

    def _nearest(self, xc, C2T, cn, labels, min_d):
        """Labels and ``min_c(‖c‖² − 2 x·c)`` for the rows of ``xc``.

        xc : (m, d) IN; C2T : (d, k) IN, −2 Cᵀ; cn : (k,) IN, ‖c‖²;
        labels : (m,) int32 OUT; min_d : (m,) OUT, or None to skip it.
        """
        m, k = xc.shape[0], C2T.shape[1]
        if k <= _TOURNAMENT_MAX_K:
            return self._nearest_tournament(xc, C2T, cn, labels, min_d)
        step = self._sub_rows(k)
        for a in range(0, m, step):
            b = min(a + step, m)
            D = self._buffer("d", (b - a, k), xc.dtype)
            np.matmul(xc[a:b], C2T, out=D)
            D += cn
            lab = D.argmin(axis=1)
            labels[a:b] = lab
            if min_d is not None:
                min_d[a:b] = D[np.arange(b - a), lab]

    def _nearest_tournament(self, xc, C2T, cn, labels, min_d):
        """:meth:`_nearest` for small k, on the transposed (k, m) distance tile.

        numpy's row-wise argmin pays a fixed cost per row that dominates when rows
        hold a handful of values. Here neighbouring rows of the (k, m) tile play a
        knockout: each round halves the candidates with whole-vector ufuncs, and
        because each survivor stands for a contiguous range of centre indices and
        the left one wins ties, the winner is the first minimum, as argmin's.
        """
        m, k = xc.shape[0], C2T.shape[1]
        dt = xc.dtype
        step = min(m, 8192)
        cnT = cn[:, None]
        for a in range(0, m, step):
            b = min(a + step, m)
            w = b - a
            vals = self._buffer("d", (k, w), dt)
            np.matmul(C2T.T, xc[a:b].T, out=vals)
            vals += cnT
            idx = None  # row i of the first tile is centre i
            alt = self._buffer("d2", ((k + 1) // 2, w), dt)
            ibuf = (self._buffer("i1", ((k + 1) // 2, w), np.int32), self._buffer("i2", ((k + 1) // 2, w), np.int32))
            mask_all = self._buffer("mask", (k // 2, w), np.bool_)
            rnd = 0
            rows = k
            while rows > 1:
                h = rows // 2
                L, R = vals[0 : 2 * h : 2], vals[1 : 2 * h : 2]
                mask = mask_all[:h]
                np.less(R, L, out=mask)
                nv = alt[: h + rows % 2]
                np.minimum(L, R, out=nv[:h])
                ni = ibuf[rnd % 2][: h + rows % 2]
                if idx is None:
                    np.add(mask, np.arange(0, 2 * h, 2, dtype=np.int32)[:, None], out=ni[:h])
                else:
                    # ni = iL + mask · (iR − iL): arithmetic beats a masked copy.
                    np.subtract(idx[1 : 2 * h : 2], idx[0 : 2 * h : 2], out=ni[:h])
                    np.multiply(ni[:h], mask, out=ni[:h])
                    np.add(ni[:h], idx[0 : 2 * h : 2], out=ni[:h])
                if rows % 2:
                    nv[h] = vals[rows - 1]
                    ni[h] = rows - 1 if idx is None else idx[rows - 1]
                # ping-pong: the old tile becomes the next round's output
                vals, alt = nv, vals
                idx = ni
                rows = h + rows % 2
                rnd += 1
            if idx is None:  # k == 1
                labels[a:b] = 0
            else:
                labels[a:b] = idx[0]
            if min_d is not None:
                min_d[a:b] = vals[0]

    @staticmethod
    def _prep_centers(centers):
        C = np.ascontiguousarray(centers)
        return np.ascontiguousarray(-2 * C.T), np.einsum("ij,ij->i", C, C)

    # -- engine ops ------------------------------------------------------
    def lloyd_step(self, data, centers, labels, with_inertia=False):
        k, d = centers.shape
        C2T, cn = self._prep_centers(centers)

        def block(s, e):
            xc = self._rows(data, s, e)
            m = e - s
            lab = labels[s:e]
            min_d = self._buffer("m", (m,), data.dtype) if with_inertia else None
            self._nearest(xc, C2T, cn, lab, min_d)
            w = data.weights[s:e]
            inertia = 0.0
            if with_inertia:
                min_d += data.x_sq[s:e]
                np.maximum(min_d, 0, out=min_d)
                inertia = float(np.dot(min_d, w))
            onehot = sp.csc_matrix((w, lab, np.arange(m + 1)), shape=(k, m))
            sums = np.asarray(onehot @ xc, dtype=np.float64)
            counts = np.bincount(lab, weights=w, minlength=k)
            return sums, counts, inertia

        parts = self._run(data.n_samples, block)
        sums = np.zeros((k, d), np.float64)
        counts = np.zeros(k, np.float64)
        inertia = 0.0
        for s_, c_, i_ in parts:
            sums += s_
            counts += c_
            inertia += i_
        return sums, counts, (inertia if with_inertia else None)

    def assign(self, data, centers, labels, min_sq=None):
        C2T, cn = self._prep_centers(centers)

        def block(s, e):
            xc = self._rows(data, s, e)
            out = self._buffer("m", (e - s,), data.dtype) if min_sq is None else min_sq[s:e]
            self._nearest(xc, C2T, cn, labels[s:e], out)
            if min_sq is not None:
                out += data.x_sq[s:e]
                np.maximum(out, 0, out=out)

        self._run(data.n_samples, block)

    def sq_dist_to_assigned(self, data, centers, labels):
        out = np.empty(data.n_samples, data.dtype)
        C = np.ascontiguousarray(centers, dtype=data.dtype)

        def block(s, e):
            diff = self._buffer("diff", (e - s, data.n_features), data.dtype)
            np.subtract(self._rows(data, s, e), C[labels[s:e]], out=diff)
            np.einsum("ij,ij->i", diff, diff, out=out[s:e])

        self._run(data.n_samples, block)
        return out

    def distances(self, data, centers):
        k = centers.shape[0]
        out = np.empty((data.n_samples, k), data.dtype)
        C2T, cn = self._prep_centers(np.asarray(centers, dtype=data.dtype))

        def block(s, e):
            xc = self._rows(data, s, e)
            D = out[s:e]
            np.matmul(xc, C2T, out=D)
            D += cn
            D += data.x_sq[s:e, None]
            np.maximum(D, 0, out=D)
            np.sqrt(D, out=D)

        self._run(data.n_samples, block)
        return out

    def kpp_add_center(self, data, center, closest):
        c = np.asarray(center, dtype=data.dtype)
        c2 = -2 * c
        cn = float(c @ c)

        def block(s, e):
            xc = self._rows(data, s, e)
            d = self._buffer("m", (e - s,), data.dtype)
            np.matmul(xc, c2, out=d)
            d += data.x_sq[s:e]
            d += cn
            np.maximum(d, 0, out=d)
            np.minimum(closest[s:e], d, out=closest[s:e])
            return float(np.dot(closest[s:e], data.weights[s:e]))

        return float(sum(self._run(data.n_samples, block)))

    def kpp_sample(self, data, closest, targets):
        cdf = np.cumsum(closest * data.weights, dtype=np.float64)
        # side="right": a row whose increment is zero (weight 0, or already a centre)
        # can never be drawn.
        idx = np.searchsorted(cdf, targets, side="right")
        return np.minimum(idx, data.n_samples - 1)

    def kpp_potentials(self, data, candidates, closest):
        cand = np.ascontiguousarray(candidates, dtype=data.dtype)
        C2T, cn = self._prep_centers(cand)

        def block(s, e):
            xc = self._rows(data, s, e)
            D = self._buffer("d", (e - s, cand.shape[0]), data.dtype)
            np.matmul(xc, C2T, out=D)
            D += cn
            D += data.x_sq[s:e, None]
            np.maximum(D, 0, out=D)
            np.minimum(D, closest[s:e, None], out=D)
            return data.weights[s:e].astype(np.float64) @ D

        return np.sum(self._run(data.n_samples, block), axis=0)
