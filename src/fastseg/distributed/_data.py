"""Dask collections in: detection, conversion, and the persisted data every pass maps over."""

from __future__ import annotations

import sys
import uuid

import numpy as np

from .._exact import grid_mean, make_grid, mean_splitter, merge_extremes
from ..backend._base import needs_centering
from ._chunks import (_add_multi, _chunk_stats_multi, _combine_moments, _fold, _grid_sum, _is_cupy, _labels_block,
                      _moments, _to_device)
from ._placement import distributed_client, spread_blocks

def is_dask_collection(X) -> bool:
    """True for a dask Array or DataFrame (checked without importing dask)."""
    mod = type(X).__module__
    return "dask" in sys.modules and (mod.startswith("dask.") or mod.startswith("dask_"))


def _require_dask():
    try:
        import dask  # noqa: F401
        import dask.array  # noqa: F401
    except ImportError:
        raise ImportError(
            "fastseg got a dask collection but dask is not installed: pip install 'fastseg[dask]'."
        ) from None


def as_dask_array(X):
    """A row-chunked 2-D float dask array (one chunk across the columns)."""
    _require_dask()
    import dask.array as da
    import dask.dataframe as dd

    if isinstance(X, dd.DataFrame):
        bad = [c for c, t in X.dtypes.items() if not np.issubdtype(t, np.number)]
        if bad:
            raise ValueError(f"X has non-numeric column(s) {bad}; k-means needs numbers.")
        X = X.to_dask_array(lengths=True)
    if not isinstance(X, da.Array):
        raise TypeError(f"expected a dask Array or DataFrame; got {type(X).__name__}.")
    meta = getattr(X, "_meta", None)
    if meta is not None and type(meta).__module__.split(".")[0] in ("scipy", "sparse", "cupyx"):
        raise ValueError(
            f"X is a dask array of sparse chunks ({type(meta).__name__}), which the Dask path does not take. "
            "Fit the sparse matrix in memory (KMeans().fit(X.compute()): the CPU's sparse engine), or densify "
            "the chunks first (X.map_blocks(lambda b: b.toarray()))."
        )
    if X.ndim != 2:
        raise ValueError(f"Expected 2D array, got {X.ndim}D array instead.")
    if X.dtype not in (np.float32, np.float64):
        X = X.astype(np.float64)
    if len(X.chunks[1]) != 1:
        X = X.rechunk({1: -1})
    if any(np.isnan(c) for c in X.chunks[0]):
        X = X.compute_chunk_sizes()
    return X



def _meta(X, dtype):
    """An empty 1-D array of ``dtype`` of the kind X's chunks are (NumPy or CuPy)."""
    if _is_cupy(getattr(X, "_meta", None)):
        import cupy

        return cupy.empty((0,), dtype=dtype)
    return np.empty((0,), dtype=dtype)


def _rowwise(X, fn, *args, dtype):
    """``fn(chunk, *args)`` over the row chunks of X: one value per row, in the chunks' array type."""
    return X.map_blocks(fn, *args, drop_axis=1, dtype=dtype, meta=_meta(X, dtype))


_FAN_IN = 8  # parts per combining task: fewer hops than pairs (each costs a transfer)


class _Reduction:
    """A lazy reduction in a fixed order: groups of up to ``_FAN_IN`` parts folded left
    to right on the cluster, then groups of those, until at most ``_FAN_IN`` remain;
    :meth:`compute` computes those in one call and folds them on the driver (their
    results are small, and one more task would be one more hop of latency per
    iteration). Depth log8(chunks), graph size linear in chunks."""

    def __init__(self, parts, combine):
        from dask import delayed

        parts = list(parts)
        while len(parts) > _FAN_IN:
            parts = [delayed(_fold)(combine, *parts[i:i + _FAN_IN]) if len(parts[i:i + _FAN_IN]) > 1 else parts[i]
                     for i in range(0, len(parts), _FAN_IN)]
        self.parts, self.combine = parts, combine

    def compute(self):
        import dask

        return _fold(self.combine, *dask.compute(*self.parts))


def _weights_for(X, sample_weight):
    """``sample_weight`` as a dask array chunked as X's rows, in X's dtype and array type
    (ones where None); a dask Series stays lazy, never gathered to the driver."""
    import dask.array as da

    if is_dask_collection(sample_weight) and not isinstance(sample_weight, da.Array):
        sample_weight = sample_weight.to_dask_array(lengths=True)
    if sample_weight is None:
        w = da.ones(X.shape[0], dtype=X.dtype, chunks=(X.chunks[0],))
    else:
        w = sample_weight if isinstance(sample_weight, da.Array) else da.from_array(
            np.asarray(sample_weight, dtype=X.dtype), chunks=(X.chunks[0],))
        if w.shape != (X.shape[0],):
            raise ValueError(f"sample_weight.shape == {w.shape}, expected ({X.shape[0]},).")
        w = w.astype(X.dtype).rechunk((X.chunks[0],))
    if _is_cupy(X._meta) and not _is_cupy(w._meta):  # weights beside their rows, on the GPU
        w = w.map_blocks(_to_device, dtype=X.dtype, meta=_meta(X, X.dtype))
    return w


class _Deferred:
    """A value produced only when ``compute()`` is called (no dask graph until then)."""

    def __init__(self, fn):
        self._fn = fn

    def compute(self):
        return self._fn()


class DaskData:
    """X and weights as persisted dask arrays plus what every chunk task needs.

    ``xb`` and ``wb`` are the per-chunk handles every pass maps over: the arrays' own
    blocks, or on a ``distributed`` cluster whose chunks sit unevenly, the chunks spread
    over the workers by rows (:func:`._placement.spread_blocks`).
    """

    def __init__(self, X, sample_weight):
        import dask

        X = as_dask_array(X)
        self.X, self.w = dask.persist(X, _weights_for(X, sample_weight))  # persisted once; every pass reuses it
        client = distributed_client(self.X)
        spread = spread_blocks(client, self.X, self.w) if client is not None else None
        # every pass below maps over these, never over X itself: the spread chunks
        self.xb, self.wb = spread or (self.X.to_delayed().ravel(), self.w.to_delayed().ravel())
        col, sq, n, bad, ext = _Reduction([dask.delayed(_moments)(b) for b in self.xb], _combine_moments).compute()
        if bad:
            raise ValueError(f"Input X contains NaN or infinity in {bad} of {n} rows; drop or impute them.")
        wmin, wmax = (float(v) for v in dask.compute(self.w.min(), self.w.max()))
        self.wmin = wmin
        if wmin < 0:
            raise ValueError("sample_weight contains negative values; weights must be >= 0.")
        self.n, self.d = int(n), int(X.shape[1])
        self.dtype = X.dtype
        self.mean, self.mean_sq = col / n, sq / n
        self.centered = needs_centering(self.mean, self.mean_sq)
        self.shift = np.zeros(self.d)
        col_max, col_min = merge_extremes(ext)
        if self.centered:
            # float64: the in-memory fit's shift, bit for bit, from sums on a fixed grid
            spl = mean_splitter(col_max, col_min, n) if self.dtype == np.float64 else None
            if spl is not None:
                self.mean = grid_mean(dask.compute(*[dask.delayed(_grid_sum)(b, spl) for b in self.xb]), n)
            self.shift = self.mean.copy()
            # recomputed from the shifted rows: subtracting would cancel badly
            self.mean_sq = _Reduction([dask.delayed(_moments)(b, self.shift, False) for b in self.xb],
                                 _combine_moments).compute()[1] / n
        unit = wmin == wmax == 1.0
        self.grid = make_grid(col_max, col_min, self.shift, wmax, n, unit) if self.dtype == np.float64 else None

    @staticmethod
    def new_token():
        """A name for one run's chunk states (:class:`_ChunkStates`): one per restart."""
        return uuid.uuid4().hex

    def iteration_graph(self, centers_list, token=None, run_ids=None):
        """The lazy per-run (sums, counts) of one Lloyd iteration for every centre set: a
        map and a tree. With a ``token`` each chunk continues from its labels and totals of
        the step before (runs named by ``run_ids``)."""
        from dask import delayed

        parts = [delayed(_chunk_stats_multi)(x, w, centers_list, self.shift, self.centered, self.grid, token, q,
                                             run_ids)
                 for q, (x, w) in enumerate(zip(self.xb, self.wb))]
        return _Reduction(parts, _add_multi)

    @property
    def weights(self):
        return self.w

    def labels(self, centers):
        """Labels for ``centers``, built and computed only if a cluster must be relocated."""
        C = np.asarray(centers)
        return _Deferred(lambda: _rowwise(self.X, _labels_block, C, self.shift, self.centered,
                                          dtype=np.int32).compute())

