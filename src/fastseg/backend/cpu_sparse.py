"""SciPy engine for sparse data: k-means on CSR rows without ever densifying X.

Customer × product baskets, one-hot tables and text features are mostly zeros;
scikit-learn's KMeans takes them as CSR and so does fastseg on the CPU. The ops follow
the dense engine (:mod:`.cpu`) with the same contract, changed where sparsity matters:

- X is never shifted: subtracting the column means would fill in every zero. The
  expansion ``‖x‖² − 2 x·c + ‖c‖²`` therefore runs on the rows as they are (as in
  scikit-learn); distances that must be exact (inertia, relocation of empty clusters)
  come from direct differences over each row's stored entries.
- Each row meets every run's centres at once (a sweep or ``n_init`` restarts read X
  once per iteration), and each run takes its own argmin. The compiled kernel
  (``kernels/cpu_sparse.c``) adds the row to the totals of the centres the runs chose
  in the same pass; without it, one SciPy product per block gives the dot products and
  one sparse product of a one-hot matrix with the block the totals.
- Per-cluster totals are recounted every iteration, not updated from the rows that
  moved: with few stored values per row the recount costs about what finding the
  moved rows would.

Blocks are combined in block order, so results do not depend on thread timing.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import scipy.sparse as sp

from ._base import Dataset
from .cpu import NumPyBackend

_PRODUCT_ELEMS = 1 << 20  # rows × centres of one block's product tile
_PARTIALS_BYTES = 1 << 28  # per-block float64 totals held at once (blocks run in waves beyond)


@dataclass
class CSRDataset(Dataset):
    """A :class:`Dataset` whose X is a canonical CSR matrix, with its row starts as
    int64 and its features as int32 for the compiled kernel (None without it)."""

    indptr: Any = None
    indices: Any = None


def as_csr(X):
    """``X`` as a canonical CSR matrix (sorted, no duplicate entries), copied only if needed."""
    X = X.tocsr() if not sp.isspmatrix_csr(X) and not isinstance(X, sp.csr_array) else X
    if not X.has_canonical_format:  # duplicates would count twice in ‖x‖²: sum them, on a copy
        X = X.copy()
        X.sum_duplicates()
    return X


class SparseBackend(NumPyBackend):
    """Engine ops on SciPy CSR matrices, on the host (see the module notes).

    Takes :class:`NumPyBackend`'s parameters; ``compiled`` is about the sparse kernel
    (``kernels/cpu_sparse.c``), and False leaves the work to SciPy products.
    """

    sparse = True
    # every op that touches X is overridden below: _get_kernel gives the sparse kernel,
    # never the dense one the inherited ops would expect
    _library, _kernel_name, _fallback = "sparse", "sparse CPU kernel", "SciPy"
    _engine = "CPU engine for sparse (CSR) data"

    # -- transfers -------------------------------------------------------
    def prepare(self, X, weights, *, center=True) -> Dataset:
        """CSR data (dense rows, such as a sweep's sample, are converted); ``center`` is
        ignored: sparse rows are never shifted."""
        X = as_csr(X) if sp.issparse(X) else sp.csr_matrix(np.asarray(X))
        n, d = X.shape
        weights = np.ascontiguousarray(weights, dtype=X.dtype)
        # ‖x‖² in float64 (it meets float64 products below), not X's dtype as on the dense engine
        data = CSRDataset(X=X, weights=weights, shift=np.zeros(d, dtype=X.dtype), x_sq=np.empty(n))
        kernel = self._get_kernel() if d < 2**31 else None
        if kernel is not None:
            data.indptr = np.ascontiguousarray(X.indptr, dtype=np.int64)
            data.indices = np.ascontiguousarray(X.indices, dtype=np.int32)

        def moments(s, e):
            col = np.zeros(d)
            if kernel is not None:
                kernel.moments(data.indptr[s:e + 1], data.indices, X.data, d, data.x_sq[s:e], col)
                return col
            Xb = self._slice(X, s, e)
            rows = np.repeat(np.arange(e - s), np.diff(Xb.indptr))
            vals = Xb.data.astype(np.float64)
            data.x_sq[s:e] = np.bincount(rows, weights=vals * vals, minlength=e - s)
            return np.bincount(Xb.indices, weights=vals, minlength=d)

        cols = self._run(n, moments)
        data.mean = np.sum(cols, axis=0) / max(n, 1) if cols else np.zeros(d)
        data.mean_sq = float(data.x_sq.sum()) / max(n, 1)
        return data

    def take_rows(self, data, idx):
        return data.X[np.asarray(idx)].toarray()

    def sample_rows(self, data, idx):
        return data.X[np.asarray(idx)]  # CSR: a silhouette sample of wide baskets stays small

    def _x_sq(self, data):
        return data.x_sq

    # -- blocks ------------------------------------------------------------
    @staticmethod
    def _slice(X, s, e):
        """Rows ``s:e`` of CSR ``X`` as a CSR matrix over the same buffers (no copy)."""
        a, b = X.indptr[s], X.indptr[e]
        return sp.csr_matrix((X.data[a:b], X.indices[a:b], X.indptr[s:e + 1] - a), shape=(e - s, X.shape[1]))

    def _tiles(self, data, s, e, k):
        """Sub-blocks of rows ``s:e`` whose product with k centres stays small."""
        step = int(max(64, _PRODUCT_ELEMS // max(k, 1)))
        for a in range(s, e, step):
            b = min(a + step, e)
            yield a, b, self._slice(data.X, a, b)

    @classmethod
    def _gram(cls, C, dtype):
        """``Cᵀ`` (d, k) in X's dtype and ``‖c‖²`` (k,) in float64, for ``X @ Cᵀ``."""
        C, cn = cls._centres(C, dtype)
        return np.ascontiguousarray(C.T), cn

    @staticmethod
    def _centres(C, dtype):
        """Centres for :meth:`_direct`: C-contiguous in X's dtype, with ``‖c‖²`` in float64."""
        C = np.ascontiguousarray(C, dtype=dtype)
        c64 = C.astype(np.float64)
        return C, np.einsum("ij,ij->i", c64, c64)

    def _direct(self, data, s, e, centres, lab):
        """Exact ``‖x − c[label]‖²`` of rows ``s:e``, float64, from direct differences:
        ``‖c‖²`` plus, over each row's stored entries, ``(x − c)² − c²`` (the kernel, or
        NumPy on the block). ``centres``: :meth:`_centres`, made once per call of an op."""
        C, cn = centres
        if data.indptr is not None:
            out = np.empty(e - s)
            self._get_kernel().dist(data.indptr[s:e + 1], data.indices, data.X.data, data.n_features, C, cn,
                                    lab, out)
            return out
        Xb = self._slice(data.X, s, e)
        rows = np.repeat(np.arange(e - s), np.diff(Xb.indptr))
        c = C[lab[rows], Xb.indices].astype(np.float64)
        x = Xb.data.astype(np.float64)
        return np.maximum(cn[lab] + np.bincount(rows, weights=(x - c) ** 2 - c * c, minlength=e - s), 0.0)

    def _onehot_sums(self, Xb, labels_and_offsets, w, K):
        """Per-label weighted sums (K, d) and weights (K,) of CSR rows ``Xb``, float64,
        for several label vectors at once (each shifted by its run's offset)."""
        m = Xb.shape[0]
        R = len(labels_and_offsets)
        cols = np.empty((m, R), dtype=np.int64)
        for j, (lab, off) in enumerate(labels_and_offsets):
            cols[:, j] = lab
            cols[:, j] += off
        onehot = sp.csr_matrix((np.repeat(w.astype(np.float64), R), cols.ravel(), np.arange(0, m * R + 1, R)),
                               shape=(m, K))
        sums = (onehot.T @ Xb).toarray()
        counts = np.bincount(cols.ravel(), weights=np.repeat(w.astype(np.float64), R), minlength=K)
        return sums, counts

    # -- engine ops ------------------------------------------------------
    def _waves(self, n, per_block_bytes):
        """The blocks in consecutive waves whose per-block partial totals fit in
        ``_PARTIALS_BYTES`` together (at least one thread's worth per wave)."""
        blocks = self._blocks(n)
        size = max(self.n_threads, _PARTIALS_BYTES // max(per_block_bytes, 1))
        return [blocks[i:i + size] for i in range(0, len(blocks), size)]

    def lloyd_step_multi(self, data, runs, with_inertia=False):
        ks = [int(r.centers.shape[0]) for r in runs]
        offs = np.concatenate([[0], np.cumsum(ks)]).astype(np.int64)
        K = int(offs[-1])
        CT, cn = self._gram(np.concatenate([np.asarray(r.centers) for r in runs]), data.dtype)
        kernel = self._get_kernel() if data.indptr is not None else None
        block = (self._step_kernel if kernel is not None else self._step_scipy)(data, runs, offs, CT, cn, with_inertia)
        for r in runs:
            r.sums[...] = 0.0
            r.counts[...] = 0.0
        changed = np.zeros(len(runs), np.int64)
        inertia = np.zeros(len(runs))
        for wave in self._waves(data.n_samples, K * (data.n_features + 1) * 8):
            for ch, ine, sums, counts in self._map(wave, block):  # block order: deterministic
                changed += ch
                inertia += ine
                for j, r in enumerate(runs):
                    r.sums[0] += sums[offs[j]:offs[j + 1]]
                    r.counts[0] += counts[offs[j]:offs[j + 1]]
        return [(int(c), float(i) if with_inertia else None) for c, i in zip(changed, inertia)]

    def _step_kernel(self, data, runs, offs, CT, cn, with_inertia):
        """One block of Lloyd's step in the compiled kernel: labels, totals, inertia."""
        kernel = self._get_kernel()
        K = CT.shape[1]

        def block(s, e):
            sums, counts = np.zeros((K, data.n_features)), np.zeros(K)
            inertia = np.zeros(len(runs))
            changed = kernel.lloyd(data.indptr[s:e + 1], data.indices, data.X.data, data.n_features, CT, cn, offs,
                                   [r.labels[s:e] for r in runs], data.weights[s:e],
                                   x_sq=data.x_sq[s:e] if with_inertia else None,
                                   inertia=inertia if with_inertia else None, sums=sums, counts=counts)
            return changed, inertia, sums, counts

        return block

    def _step_scipy(self, data, runs, offs, CT, cn, with_inertia):
        """One block of Lloyd's step with SciPy products (no compiler)."""
        K = CT.shape[1]

        def block(s, e):
            changed = np.zeros(len(runs), np.int64)
            inertia = np.zeros(len(runs))
            for a, b, Xb in self._tiles(data, s, e, K):
                G = np.asarray(Xb @ CT, dtype=np.float64)  # (m, K): x·c for every run's centres
                w = data.weights[a:b].astype(np.float64)
                for j, r in enumerate(runs):
                    D = cn[offs[j]:offs[j + 1]] - 2.0 * G[:, offs[j]:offs[j + 1]]
                    lab = np.argmin(D, axis=1).astype(np.int32)
                    changed[j] += np.count_nonzero(lab != r.labels[a:b])
                    r.labels[a:b] = lab
                    if with_inertia:
                        inertia[j] += float(np.maximum(D[np.arange(b - a), lab] + data.x_sq[a:b], 0.0) @ w)
            Xs = self._slice(data.X, s, e)
            sums, counts = self._onehot_sums(Xs, [(r.labels[s:e], offs[j]) for j, r in enumerate(runs)],
                                             data.weights[s:e], K)
            return changed, inertia, sums, counts

        return block

    def finish_multi(self, data, runs, reassign):
        for r, again in zip(runs, reassign):
            if again:
                self.assign(data, r.centers, r.labels)
        cs = [self._centres(r.centers, data.dtype) for r in runs]

        def block(s, e):
            w = data.weights[s:e].astype(np.float64)
            return [float(self._direct(data, s, e, c, r.labels[s:e]) @ w) for r, c in zip(runs, cs)]

        parts = self._run(data.n_samples, block)
        return [float(sum(p[j] for p in parts)) for j in range(len(runs))]

    def _label_totals(self, data, labels, k, s, e):  # accumulate's per-block work
        return self._onehot_sums(self._slice(data.X, s, e), [(labels[s:e], 0)], data.weights[s:e], k)

    def assign(self, data, centers, labels, min_sq=None, exact=False):
        C = np.asarray(centers, dtype=data.dtype)
        CT, cn = self._gram(C, data.dtype)
        centres = (np.ascontiguousarray(C), cn)  # for exact distances
        kernel = self._get_kernel() if data.indptr is not None else None
        off = np.array([0, C.shape[0]], np.int64)

        def block(s, e):
            if kernel is not None:
                mins = None if min_sq is None or exact else np.empty(e - s)
                kernel.lloyd(data.indptr[s:e + 1], data.indices, data.X.data, data.n_features, CT, cn, off,
                             [labels[s:e]], x_sq=None if mins is None else data.x_sq[s:e], mins=mins)
                if mins is not None:
                    min_sq[s:e] = mins
            else:
                for a, b, Xb in self._tiles(data, s, e, C.shape[0]):
                    D = cn - 2.0 * np.asarray(Xb @ CT, dtype=np.float64)
                    labels[a:b] = np.argmin(D, axis=1)
                    if min_sq is not None and not exact:
                        min_sq[a:b] = np.maximum(D[np.arange(b - a), labels[a:b]] + data.x_sq[a:b], 0.0)
            if min_sq is not None and exact:
                min_sq[s:e] = self._direct(data, s, e, centres, labels[s:e])

        self._run(data.n_samples, block)

    def sq_dist_to_assigned(self, data, centers, labels):
        out = np.empty(data.n_samples, data.dtype)
        centres = self._centres(centers, data.dtype)

        def block(s, e):
            out[s:e] = self._direct(data, s, e, centres, labels[s:e])

        self._run(data.n_samples, block)
        return out

    def distances(self, data, centers):
        C = np.asarray(centers, dtype=data.dtype)
        CT, cn = self._gram(C, data.dtype)
        out = np.empty((data.n_samples, C.shape[0]), data.dtype)

        def block(s, e):
            for a, b, Xb in self._tiles(data, s, e, C.shape[0]):
                D = cn - 2.0 * np.asarray(Xb @ CT, dtype=np.float64) + data.x_sq[a:b, None]
                out[a:b] = np.sqrt(np.maximum(D, 0.0))

        self._run(data.n_samples, block)
        return out

    def kpp_add_center(self, data, center, closest):
        c = np.asarray(center, dtype=data.dtype)
        cn = float(c.astype(np.float64) @ c.astype(np.float64))

        def block(s, e):
            g = np.asarray(self._slice(data.X, s, e) @ c, dtype=np.float64)
            d = np.maximum(data.x_sq[s:e] - 2.0 * g + cn, 0.0)
            np.minimum(closest[s:e], d, out=closest[s:e], casting="unsafe")
            return float(np.dot(closest[s:e].astype(np.float64), data.weights[s:e]))

        return float(sum(self._run(data.n_samples, block)))

    def kpp_potentials(self, data, candidates, closest, out):
        CT, cn = self._gram(candidates, data.dtype)
        t = CT.shape[1]

        def block(s, e):
            pots = np.zeros(t)
            for a, b, Xb in self._tiles(data, s, e, t):
                D = cn - 2.0 * np.asarray(Xb @ CT, dtype=np.float64) + data.x_sq[a:b, None]
                np.maximum(D, 0.0, out=D)
                np.minimum(D, closest[a:b, None], out=D)
                if out is not None:
                    out[:, a:b] = D.T
                pots += data.weights[a:b].astype(np.float64) @ D
            return pots

        return np.sum(self._run(data.n_samples, block), axis=0)
