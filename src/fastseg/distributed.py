"""k-means on Dask: the same engine ops per chunk, Dask for the scheduling.

``KMeans.fit`` calls :func:`fit_dask` when X is a ``dask.array.Array`` (row-chunked) or a
dask DataFrame of numeric columns. Each Lloyd iteration is one map over the chunks (the
NumPy backend's assign + accumulate + exact distances, on the worker holding the chunk)
and one binary-tree reduction of the per-chunk (sums, weights, inertia) in a fixed order,
computed once. X is persisted once. Seeding is k-means++ on a sample of 256 rows per
centre, gathered in one pass, or k-means|| (Bahmani et al. 2012) for many centres or on
request (``init="k-means||"``).

Dask is optional (``pip install fastseg[dask]``); this module imports it lazily.
"""

from __future__ import annotations

import collections
import functools
import operator
import sys
import threading
import uuid

import numpy as np

from ._exact import (block_extremes, block_grid_sum, fsum_partials, grid_mean, make_grid, mean_splitter,
                     merge_extremes, partials)
from ._placement import distributed_client, spread_blocks
from .backend import NumPyBackend
from .backend._base import Dataset, needs_centering

_ENGINE = NumPyBackend(n_threads=1)  # one thread per task: Dask's workers fill the cores


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
    if X.ndim != 2:
        raise ValueError(f"Expected 2D array, got {X.ndim}D array instead.")
    if X.dtype not in (np.float32, np.float64):
        X = X.astype(np.float64)
    if len(X.chunks[1]) != 1:
        X = X.rechunk({1: -1})
    if any(np.isnan(c) for c in X.chunks[0]):
        X = X.compute_chunk_sizes()
    return X


def _is_cupy(x) -> bool:
    return type(x).__module__.split(".")[0] == "cupy"


def _xp(x):
    """The array module of a chunk (NumPy, or CuPy without building a GPU engine)."""
    if _is_cupy(x):
        import cupy

        return cupy
    return np


def _host(a):
    """A NumPy array from a NumPy or CuPy value (chunk results travel on the host)."""
    return a.get() if _is_cupy(a) else np.asarray(a)


@functools.lru_cache(maxsize=None)
def _gpu_engine(device_id):
    from .backend import get_backend

    return get_backend(f"cuda:{device_id}")  # one per worker process and device


def _engine(x):
    """The engine for one chunk: NumPy's, or the GPU backend for a CuPy chunk (on a
    dask_cuda worker, the worker's GPU). Every chunk function below is written against
    the backend interface, so both run the same code around the engine ops."""
    return _gpu_engine(int(x.device.id)) if _is_cupy(x) else _ENGINE


def _dataset(engine, x, w, shift, centered, grid=None):
    x = engine.asarray(x)
    return Dataset(X=x, weights=engine.asarray(w, dtype=x.dtype), shift=engine.asarray(shift, dtype=x.dtype),
                   x_sq=None, centered=centered, grid=grid if engine is _ENGINE else None)


class _ChunkStates:
    """Each chunk's labels and totals kept between Lloyd iterations, in the process that
    ran the chunk's last step (a worker, or the driver under a local scheduler).

    With them a chunk's next step moves only the rows whose label changed, as the
    in-memory engine does, instead of summing every row again. The store is a cache,
    never a source of truth: a chunk whose state is missing (first step, a lost worker,
    a task run elsewhere) recomputes its totals from scratch. Float64 totals are exact,
    so the result has the same bits either way; float32 ones may differ in the last bits.
    A state is taken out while a step uses it, so a step that fails leaves none behind.
    Only the last few fits are kept, so an abandoned fit cannot hold memory for long.
    """

    def __init__(self, max_fits=4):
        self._fits = collections.OrderedDict()  # token -> {(chunk, run): state}
        self._lock = threading.Lock()
        self.max_fits = max_fits

    def take(self, token, key):
        with self._lock:
            fit = self._fits.get(token)
            return None if fit is None else fit.pop(key, None)

    def put(self, token, key, state):
        with self._lock:
            self._fits.setdefault(token, {})[key] = state
            self._fits.move_to_end(token)
            while len(self._fits) > self.max_fits:
                self._fits.popitem(last=False)

    def __len__(self):
        with self._lock:
            return sum(len(f) for f in self._fits.values())


_STATES = _ChunkStates()


def _chunk_stats_multi(x, w, centers_list, shift, centered, grid, token=None, chunk=0, run_ids=None, keep=True):
    """One chunk, one Lloyd step for every run: labels and per-cluster totals in one pass.

    ``token`` names the fit's chunk states (see :class:`_ChunkStates`): each run continues
    from its labels and totals of the step before where this process holds them, and
    keeps the new ones when ``keep``. With a grid (float64 on the CPU) the totals are
    exact levels: the tree adds them exactly, so the result is the in-memory fit's, bit
    for bit, whatever the chunking. Returns copies of every run's (sums, counts).
    """
    from types import SimpleNamespace

    eng = _engine(x)
    xp = eng.xp
    data = _dataset(eng, x, w, shift, centered, grid)
    L = data.levels
    run_ids = range(len(centers_list)) if run_ids is None else run_ids
    runs = []
    for C, j in zip(centers_list, run_ids):
        st = None if token is None else _STATES.take(token, (chunk, j))
        if st is None or st.labels.shape != (data.n_samples,) or st.sums.shape != (L,) + C.shape:
            st = SimpleNamespace(labels=xp.full(data.n_samples, -1, dtype=xp.int32),
                                 sums=xp.zeros((L,) + C.shape), counts=xp.zeros((L, C.shape[0])))
        st.centers = eng.asarray(C, dtype=data.dtype)
        runs.append(st)
    eng.lloyd_step_multi(data, runs)
    out = [(np.array(_host(r.sums)), np.array(_host(r.counts))) for r in runs]  # copies: the states live on
    if token is not None and keep:
        for r, j in zip(runs, run_ids):
            r.centers = None
            _STATES.put(token, (chunk, j), r)
    return out


def _chunk_stats(x, w, centers, shift, centered, grid, token=None, chunk=0):
    """:func:`_chunk_stats_multi` for one run: its (sums, counts)."""
    return _chunk_stats_multi(x, w, [centers], shift, centered, grid, token, chunk)[0]


def _labels_block(x, C, shift, centered):
    """Nearest-centre labels of one chunk (C in shifted coordinates), in the chunk's
    array type."""
    eng = _engine(x)
    d = _dataset(eng, x, np.ones(len(x)), shift, centered)
    lab = eng.xp.empty(len(x), dtype=eng.xp.int32)
    eng.assign(d, eng.asarray(C, dtype=d.dtype), lab)
    return lab


def _check_finite(x, start):
    """Raise, as in memory, if a chunk of new rows (its first row ``start`` of X) holds NaN
    or infinity: the error surfaces where the lazy result is computed."""
    xp = _xp(x)
    if bool(xp.isfinite(x.sum(dtype=xp.float64))):
        return
    bad = _host(xp.flatnonzero(~xp.isfinite(x).all(axis=1)))
    if bad.size:
        raise ValueError(f"Input X contains NaN or infinity in {bad.size} rows of the chunk starting at row "
                         f"{start} (first at row {start + int(bad[0])}). Drop or impute those rows.")


def _start(block_info):
    """First row of the chunk ``map_blocks`` is computing (0 while it infers metadata)."""
    return block_info[0]["array-location"][0][0] if block_info and 0 in block_info else 0


def _predict_block(x, C, block_info=None):
    _check_finite(x, _start(block_info))
    return _labels_block(x, C, np.zeros(x.shape[1]), False)


def _cost_block(x, cost, new, shift, centered):
    """k-means||: min(cost, squared distance to the new candidates) for one chunk."""
    m = _d2_block(x, new, shift, centered)
    return m if cost is None else _xp(x).minimum(cost, m)


def _weighted_cost(cost, w):
    """k-means||: one chunk's total weighted cost, float64 on the host."""
    return float(_host(cost).astype(np.float64) @ _host(w).astype(np.float64))


def _draw_block(x, w, c, seed, rnd, chunk, l, total, shift, d):
    """k-means||: rows of one chunk drawn with probability min(1, l·w·cost/total)."""
    g = np.random.default_rng([seed, rnd, chunk])
    p = np.minimum(1.0, l * _host(w).astype(np.float64) * _host(c) / total)
    pick = np.flatnonzero(g.random(len(x)) < p)
    rows = x[_index_like(x, pick)] if len(pick) else x[:0]
    return (_host(rows).astype(np.float64) - shift).reshape(-1, d)


def _index_like(x, idx):
    """``idx`` (host integers) in the array type of ``x``, to index it."""
    return _xp(x).asarray(idx)


def _owners_block(x, w, cands, shift, centered):
    """k-means||: total weight of the rows closest to each candidate, for one chunk."""
    lab = _host(_labels_block(x, cands, shift, centered))
    return np.bincount(lab, weights=_host(w).astype(np.float64), minlength=len(cands))


def _to_device(b):
    import cupy

    return cupy.asarray(b)


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


def _fold(combine, *parts):
    """``combine`` applied to the parts left to right (a fixed order)."""
    acc = parts[0]
    for p in parts[1:]:
        acc = combine(acc, p)
    return acc


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



_MOMENT_ROWS = 16384  # rows per float64 block: 2 MiB at d = 16, in cache


def _moments(x, shift=None, extremes=True):
    """One chunk's column sums and sum of squares (of ``x − shift``), row count,
    non-finite rows and column extremes (empty chunks, or ``extremes=False``: none). On
    the chunk's device; only the small results travel.

    Host chunks are summed a block at a time in float64 (no float64 copy of the chunk:
    on a Dask worker that cost four times as long). A non-finite value makes its column's sum
    non-finite, so the rows are counted only then."""
    xp = _xp(x)
    n, d = x.shape
    ext = []
    if xp is np:
        col, sq = np.zeros(d), 0.0
        # one buffer for every block: Dask's workers return freed memory to the system
        # at once (MALLOC_TRIM_THRESHOLD_), so a fresh array per block faults its pages in
        buf = np.empty((min(n, _MOMENT_ROWS), d))
        with np.errstate(over="ignore", invalid="ignore"):  # non-finite sums are checked below
            for s in range(0, n, _MOMENT_ROWS):
                b = buf[:min(_MOMENT_ROWS, n - s)]
                np.subtract(x[s:s + _MOMENT_ROWS], 0.0 if shift is None else shift, out=b, dtype=np.float64)
                col += b.sum(axis=0)
                flat = b.reshape(-1)
                sq += float(np.dot(flat, flat))
        bad = 0
        if not (np.isfinite(col).all() and np.isfinite(sq)):
            bad = int((~np.isfinite(x).all(axis=1)).sum())
        if n and extremes:
            ext = [block_extremes(x)]
        return col, sq, n, bad, ext
    x64 = x.astype(xp.float64) - (0.0 if shift is None else xp.asarray(shift))
    if n and extremes:
        ext = [(_host(x.max(axis=0)).astype(np.float64), _host(x.min(axis=0)).astype(np.float64))]
    return (_host(x64.sum(axis=0)), float((x64 * x64).sum()), n,
            int((~xp.isfinite(x).all(axis=1)).sum()), ext)


def _combine_moments(a, b):
    return a[0] + b[0], a[1] + b[1], a[2] + b[2], a[3] + b[3], a[4] + b[4]


def _grid_sum(x, s):
    if _is_cupy(x):  # the same fixed grid: on-grid values add exactly in any order
        sd = _xp(x).asarray(s)
        return _host(((x.astype(sd.dtype) + sd) - sd).sum(axis=0))
    return block_grid_sum(np.asarray(x, dtype=np.float64), s)


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


class DaskData:
    """X and weights as persisted dask arrays plus what every chunk task needs.

    ``xb`` and ``wb`` are the per-chunk handles every pass maps over: the arrays' own
    blocks, or on a ``distributed`` cluster whose chunks sit unevenly, the chunks spread
    over the workers by rows (:func:`fastseg._placement.spread_blocks`).
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


def _keyed_block(x, w, seed, chunk, m, shift):
    """One chunk's ``m`` best rows for weighted sampling without replacement (Efraimidis and
    Spirakis: the largest keys u^(1/w)), as (log-keys, tie-breaks, rows shifted). Rows of
    zero weight rank last, in random order. A generator per (seed, chunk)."""
    g = np.random.default_rng([seed, chunk])
    wh = _host(w).astype(np.float64)
    u = g.random(len(wh))
    with np.errstate(divide="ignore"):
        keys = np.where(wh > 0, np.log(u) / np.where(wh > 0, wh, 1.0), -np.inf)
    top = np.lexsort((u, -keys))[:m]
    rows = x[_index_like(x, top)] if len(top) else x[:0]
    return keys[top], u[top], _host(rows).astype(np.float64).reshape(-1, x.shape[1]) - shift


def weighted_rows(data, m, rs):
    """``m`` distinct rows drawn with probability proportional to weight, without replacement
    (zero-weight rows only where fewer rows have weight), in shifted coordinates: one compute,
    nothing of size n on the driver."""
    import dask

    seed = int(rs.randint(2**31 - 1))
    got = dask.compute(*[dask.delayed(_keyed_block)(x, w, seed, q, m, data.shift)
                         for q, (x, w) in enumerate(zip(data.xb, data.wb))])
    keys = np.concatenate([g[0] for g in got])
    ties = np.concatenate([g[1] for g in got])
    rows = np.vstack([g[2] for g in got])
    return rows[np.lexsort((ties, -keys))[:m]]


def _take_block(x, w, local, positive):
    if positive:  # ``local`` counts the chunk's rows of positive weight
        local = np.flatnonzero(_host(w) > 0)[local]
    return _host(x[_index_like(x, local)]), _host(w[_index_like(w, local)])


def _positive_count(w):
    return int((_host(w) > 0).sum())


def positive_rows(data):
    """Rows of positive weight in each chunk (None when every weight is positive)."""
    import dask

    if data.wmin > 0:
        return None
    return np.array(dask.compute(*[dask.delayed(_positive_count)(w) for w in data.wb]), dtype=np.int64)


def take_rows(data, idx, per_chunk=None):
    """Rows ``idx`` (sorted host integers) of X and their weights, as host arrays in X's own
    coordinates: one task per chunk that holds any, in one compute. With ``per_chunk`` (from
    :func:`positive_rows`) ``idx`` counts only the rows of positive weight."""
    import dask

    sizes = data.X.chunks[0] if per_chunk is None else per_chunk
    bounds = np.cumsum((0,) + tuple(int(c) for c in sizes))
    cuts = np.searchsorted(idx, bounds)
    tasks = [dask.delayed(_take_block)(x, w, idx[cuts[q]:cuts[q + 1]] - bounds[q], per_chunk is not None)
             for q, (x, w) in enumerate(zip(data.xb, data.wb)) if cuts[q + 1] > cuts[q]]
    got = dask.compute(*tasks)
    return np.concatenate([g[0] for g in got]), np.concatenate([g[1] for g in got])


# k-means++ on a sample: 256 rows per centre (FAISS's default training sample) seed as
# well as every row does (bench/RESULTS.md); beyond this many rows, k-means||
SEED_ROWS_PER_CENTRE = 256
SEED_SAMPLE_MAX = 1 << 18


def _seeds(data, k, rs, init, final="cluster"):
    """k seeds in shifted coordinates: "k-means++" on a sample where k is small enough
    (and enough rows have positive weight), else k-means|| (``final`` as there)."""
    if init == "k-means++" and SEED_ROWS_PER_CENTRE * k <= SEED_SAMPLE_MAX:
        C = seeds_from_sample(data, k, rs)
        if C is not None:
            return C
    return _kmeans_parallel(data, k, rs, final=final)


def seeds_from_sample(data, k, rs):
    """Greedy k-means++ (as in memory) on ``SEED_ROWS_PER_CENTRE · k`` rows of positive weight
    drawn at random (all of them where there are no more), in shifted coordinates: one pass
    to gather the rows instead of k-means||'s rounds. None when fewer than k rows have
    positive weight.
    """
    from .kmeans import kmeans_plusplus
    from .sweep import draw_sample

    per_chunk = positive_rows(data)
    n_pool = data.n if per_chunk is None else int(per_chunk.sum())
    ordinals = draw_sample(rs, n_pool, SEED_ROWS_PER_CENTRE * k, k)
    if ordinals is None:
        return None
    Xs, ws = take_rows(data, ordinals, per_chunk)
    C, _ = kmeans_plusplus(Xs, k, sample_weight=ws, random_state=rs, device="cpu")
    return C.astype(np.float64) - data.shift


def _kmeans_parallel(data, k, rs, rounds=5, oversampling=2.0, final="cluster"):
    """k-means|| seeding: a few rounds of oversampled D² sampling, then the weighted
    candidates clustered in memory.

    The cost array is updated incrementally and persisted; each chunk draws with its own
    generator seeded from (seed, round, chunk), so the draw does not depend on the
    schedule.
    """
    import dask

    cands = weighted_rows(data, 1, rs)  # the first centre: a row drawn by weight
    seed = int(rs.randint(2**31 - 1))

    def update(cost, new):  # per chunk, persisted beside it
        return dask.persist(*[dask.delayed(_cost_block)(x, c, new, data.shift, data.centered)
                              for x, c in zip(data.xb, cost)])

    cost = update([None] * len(data.xb), cands.copy())
    l = oversampling * k
    for r in range(rounds):
        total = _Reduction([dask.delayed(_weighted_cost)(c, w) for c, w in zip(cost, data.wb)],
                           operator.add).compute()
        if total <= 0:
            break
        picked = [dask.delayed(_draw_block)(x, w, c, seed, r, i, l, total, data.shift, data.d)
                  for i, (x, w, c) in enumerate(zip(data.xb, data.wb, cost))]
        new = np.vstack(dask.compute(*picked)) if picked else np.empty((0, data.d))
        if len(new) == 0:
            continue
        cands = np.vstack([cands, new])
        cost = update(cost, new)
    # weight of each candidate: the weight of the rows closest to it (one pass)
    cw = _Reduction([dask.delayed(_owners_block)(x, w, cands, data.shift, data.centered)
                for x, w in zip(data.xb, data.wb)], np.add).compute()
    if len(cands) <= k:
        return np.vstack([cands, weighted_rows(data, k - len(cands), rs)]) if len(cands) < k else cands
    if final == "sequence":  # a prefix-consistent k-means++ sequence over the candidates (sweeps)
        from .kmeans import kmeans_plusplus

        return kmeans_plusplus(cands, k, sample_weight=np.maximum(cw, 1e-12), random_state=rs, device="cpu")[0]
    # As Spark MLlib does: cluster the weighted candidates in memory (k-means++ and Lloyd,
    # several restarts) — they are few, and a single seeding of them can split a group.
    from .kmeans import KMeans

    local = KMeans(k, n_init=10, random_state=rs, device="cpu").fit(cands, sample_weight=np.maximum(cw, 1e-12))
    centers = local.cluster_centers_
    return centers


def _lloyd_dask(data, C, max_iter, tol, *, progress=None, verbose=False, t0=None):
    """Lloyd from each centre set in ``C`` (shifted coordinates) over the chunks, every run
    advancing together: one compute per iteration for all runs still going, and a run that
    has converged drops out (the rules of the in-memory engine, run by run).

    Returns (centres, n_iter, seconds, token): the chunk states stay under ``token`` for
    the pass after the loop, which releases them.
    """
    import time

    from ._lloyd import update_centers

    t0 = time.perf_counter() if t0 is None else t0
    C = list(C)
    n_iter = [0] * len(C)
    seconds = [0.0] * len(C)
    active = list(range(len(C)))
    token = data.new_token()
    for i in range(max_iter):
        if not active:
            break
        totals = data.iteration_graph([C[j] for j in active], token, active).compute()
        still = []
        for j, (sums, counts) in zip(active, totals):
            new = update_centers(_HOST, data, C[j], data.labels(C[j]), sums, counts)
            n_iter[j] = i + 1
            shift = float(((new.astype(np.float64) - C[j]) ** 2).sum())
            if verbose:
                print(f"{f'[run {j}] ' if len(C) > 1 else ''}Iteration {i}, centre shift {shift:.6g}.")
            if np.array_equal(new, C[j]):  # same labels as last time ⇔ same centres
                seconds[j] = time.perf_counter() - t0
                continue
            C[j] = new
            if shift <= tol:
                seconds[j] = time.perf_counter() - t0
                continue
            still.append(j)
        active = still
        if progress is not None:
            progress(dict(iteration=i + 1, active=len(active), converged=len(C) - len(active), total=len(C)))
    for j in active:
        seconds[j] = time.perf_counter() - t0
    return C, n_iter, seconds, token


def _inertia_multi(data, C, token):
    """Each run's exact inertia under its centres ``C``, in one pass that releases the
    chunk states of ``token``."""
    import dask

    parts = [dask.delayed(_chunk_spread_multi)(x, w, C, None, data.shift, data.centered, token, q)
             for q, (x, w) in enumerate(zip(data.xb, data.wb))]
    return [fsum_partials(s[2]) for s in _Reduction(parts, _add_spread).compute()[0]]


def fit_dask(estimator, X, sample_weight, init, n_init, random_state):
    """Fit ``estimator`` (a KMeans) on a dask collection; sets its fitted attributes.

    ``labels_`` is a lazy dask array; ``cluster_centers_`` a NumPy array.
    """
    data = DaskData(X, sample_weight)
    k = estimator.n_clusters
    if data.n < k:
        raise ValueError(f"n_samples={data.n} should be >= n_clusters={k}.")
    total_var = max(data.mean_sq - float((data.mean - data.shift) @ (data.mean - data.shift)), 0.0)
    tol = total_var / data.d * estimator.tol if estimator.tol else 0.0

    seeds = []
    for _ in range(n_init):
        if isinstance(init, str) and init in ("k-means++", "k-means||"):
            C = _seeds(data, k, random_state, init)
        elif isinstance(init, str) and init == "random":
            C = weighted_rows(data, k, random_state)
        else:
            C0 = init(X, k, random_state=random_state) if callable(init) else init
            C = np.asarray(C0, dtype=np.float64) - data.shift
        seeds.append(C.astype(data.dtype))
    # the restarts advance together, as in memory: one compute per iteration for all
    C, n_iter, _, token = _lloyd_dask(data, seeds, estimator.max_iter, tol, verbose=bool(estimator.verbose))
    inertia = _inertia_multi(data, C, token)  # labels from the final centres; the one pass after the loop
    j = int(np.argmin(inertia))  # first of equals, as a sequential loop
    C, inertia, n_iter = C[j], inertia[j], n_iter[j]
    centers = (C.astype(np.float64) + data.shift).astype(data.dtype)
    estimator.cluster_centers_ = centers
    estimator.inertia_ = float(inertia)
    estimator.n_iter_ = n_iter
    estimator.n_features_in_ = data.d
    estimator._n_features_out = k
    estimator.labels_ = _rowwise(data.X, _labels_block, C.copy(), data.shift, data.centered, dtype=np.int32)
    return estimator


def _checked_input(estimator, X):
    """X as a row-chunked dask array with the fitted number of features, and the fitted
    centres as float64 host arrays."""
    X = as_dask_array(X)
    if X.shape[1] != estimator.n_features_in_:
        raise ValueError(
            f"X has {X.shape[1]} features, but {type(estimator).__name__} is expecting "
            f"{estimator.n_features_in_} features as input."
        )
    return X, np.asarray(_host(estimator.cluster_centers_), dtype=np.float64)


def predict_dask(estimator, X):
    """Lazy labels of a dask collection against a fitted estimator's centres."""
    X, C = _checked_input(estimator, X)
    return _rowwise(X, _predict_block, C, dtype=np.int32)


def _distances_block(x, C, shift, block_info=None):
    """Euclidean distances of one chunk's rows to every centre (both shifted by ``shift``,
    the centres' mean: their common offset removed, as in memory, without a pass over X)."""
    _check_finite(x, _start(block_info))
    eng = _engine(x)
    d = _dataset(eng, x, np.ones(len(x)), shift, True)
    return eng.distances(d, eng.asarray(C - shift, dtype=d.dtype))


def transform_dask(estimator, X):
    """Lazy distances (n, k) of a dask collection to a fitted estimator's centres, chunked
    as X's rows."""
    X, C = _checked_input(estimator, X)
    meta = _meta(X, X.dtype).reshape(0, 0)
    return X.map_blocks(_distances_block, C, C.mean(axis=0), chunks=(X.chunks[0], (C.shape[0],)),
                        dtype=X.dtype, meta=meta)


def _score_block(x, w, C, shift, start):
    """One chunk's weighted sum of exact squared distances to the nearest centre, float64."""
    _check_finite(x, start)
    d2 = _d2_block(x, C - shift, shift, True)
    return float(_host(d2).astype(np.float64) @ _host(w).astype(np.float64))


def score_dask(estimator, X, sample_weight):
    """Opposite of the weighted inertia of a dask collection: one pass, a fixed-order sum."""
    import dask

    X, C = _checked_input(estimator, X)
    w = _weights_for(X, sample_weight)
    starts = np.cumsum((0,) + X.chunks[0][:-1])
    parts = [dask.delayed(_score_block)(x, v, C, C.mean(axis=0), int(s0))
             for x, v, s0 in zip(X.to_delayed().ravel(), w.to_delayed().ravel(), starts)]
    return -_Reduction(parts, operator.add).compute()


class _Deferred:
    """A value produced only when ``compute()`` is called (no dask graph until then)."""

    def __init__(self, fn):
        self._fn = fn

    def compute(self):
        return self._fn()


def _d2_block(x, C, shift, centered):
    """Exact squared distance of each row of one chunk to its nearest centre."""
    eng = _engine(x)
    xp = eng.xp
    d = _dataset(eng, x, np.ones(len(x)), shift, centered)
    lab = xp.empty(len(x), dtype=xp.int32)
    d2 = xp.empty(len(x), dtype=d.dtype)
    eng.assign(d, eng.asarray(C, dtype=d.dtype), lab, d2, exact=True)
    return d2


class _HostBackend(NumPyBackend):
    """The host side of a dask fit: centre updates on the driver.

    Relocating an empty cluster (rare) needs every row's distance to its centre and its
    label: they are computed lazily, per chunk, and only then brought to the driver.
    """

    def to_numpy(self, a):
        return _host(a.compute()) if hasattr(a, "compute") else _host(a)

    def sq_dist_to_assigned(self, data, centers, labels):
        return _rowwise(data.X, _d2_block, np.asarray(centers), data.shift, data.centered, dtype=data.dtype)


_HOST = _HostBackend(n_threads=1)


# -- sweeps -----------------------------------------------------------------------------


def _add_multi(a, b):
    return [(p[0] + q[0], p[1] + q[1]) for p, q in zip(a, b)]


def _chunk_spread_multi(x, w, centers_list, means_list, shift, centered, token=None, chunk=0, pick=None):
    """One chunk, every run: labels by the centres, then exact distances to the label means.

    Returns ``(spreads, picked)``: per run (weighted sum of squares to the means, weighted
    sum of distances per cluster, inertia partials, rows per cluster); with ``means_list``
    None the first two are zeros. ``token``: the fit's chunk states, dropped here (their
    last use). ``pick = (seed, rate)`` also draws the candidates of a silhouette sample
    stratified by cluster (see :func:`_stratified`): every row whose key (a uniform draw,
    a generator per (seed, chunk)) is below ``rate``, and each run's two smallest keys per
    cluster, returned as (rows shifted, weights, keys, labels per run); else None.
    """
    if token is not None:
        for j in range(len(centers_list)):
            _STATES.take(token, (chunk, j))
    eng = _engine(x)
    xp = eng.xp
    data = _dataset(eng, x, w, shift, centered)
    w64 = _host(data.weights).astype(np.float64)
    if pick is not None:
        keys = np.random.default_rng([pick[0], chunk]).random(data.n_samples)
        chosen = keys < pick[1]
        below = np.flatnonzero(chosen)
    out, labels = [], []
    for j, C in enumerate(centers_list):
        lab = xp.empty(data.n_samples, dtype=xp.int32)
        d2c = xp.empty(data.n_samples, dtype=data.dtype)
        eng.assign(data, eng.asarray(C, dtype=data.dtype), lab, d2c, exact=True)
        inertia = partials((_host(d2c).astype(np.float64) * w64)[:, None]).ravel()  # as in memory
        lab_h = _host(lab)
        rows = np.bincount(lab_h, minlength=len(C)).astype(np.float64)
        if pick is not None:
            labels.append(lab_h)
            # each cluster's two smallest keys: below the rate already, or (small clusters)
            # the smallest above it, found among those clusters' rows only
            have = np.minimum(np.bincount(lab_h[below], minlength=len(C)), 2)
            need = np.minimum(rows, 2).astype(np.int64) - have
            if need.any():
                above = np.flatnonzero((need > 0)[lab_h] & ~(keys < pick[1]))
                order = above[np.lexsort((keys[above], lab_h[above]))]
                first = np.searchsorted(lab_h[order], np.arange(len(C)))
                chosen[np.concatenate([order[f:f + t] for f, t in zip(first, need) if t > 0])] = True
        if means_list is None:
            out.append((0.0, np.zeros(len(C)), inertia, rows))
            continue
        d2 = _host(eng.sq_dist_to_assigned(data, eng.asarray(means_list[j], dtype=data.dtype), lab)).astype(np.float64)
        out.append((float(d2 @ w64), np.bincount(lab_h, weights=np.sqrt(d2) * w64, minlength=len(C)), inertia, rows))
    if pick is None:
        return out, None
    idx = np.flatnonzero(chosen)
    xs = _host(x[_index_like(x, idx)]).astype(np.float64) - shift
    return out, (xs, w64[idx], keys[idx], np.stack([lab[idx] for lab in labels]))


def _add_spread(a, b):
    spreads = [(p[0] + q[0], p[1] + q[1], np.concatenate([p[2], q[2]]), p[3] + q[3]) for p, q in zip(a[0], b[0])]
    if a[1] is None:
        return spreads, None
    (xa, wa, ka, la), (xb, wb, kb, lb) = a[1], b[1]
    return spreads, (np.concatenate([xa, xb]), np.concatenate([wa, wb]), np.concatenate([ka, kb]),
                     np.concatenate([la, lb], axis=1))


def _stratified(picked, run, counts, size):
    """Indices into the gathered candidates of a silhouette sample of about ``size`` rows,
    stratified by cluster as in memory (:func:`fastseg.metrics.stratum_sizes` rows of each,
    the smallest keys: a uniform draw without replacement within the cluster).

    The candidates hold every row with a key below the rate (``_SILHOUETTE_OVERDRAW``
    times the sampling fraction: a cluster falls short of its share only some four
    standard deviations below the mean) and each chunk's two smallest per cluster (so the
    two-row floor is exact); a cluster that still falls short keeps what it has.
    """
    from .metrics import stratum_sizes

    _, _, keys, labs = picked
    lab = labs[run]
    take = stratum_sizes(counts, size)
    order = np.lexsort((keys, lab))
    first = np.searchsorted(lab[order], np.arange(len(counts)))
    last = np.searchsorted(lab[order], np.arange(len(counts)), side="right")
    return np.sort(np.concatenate([order[f:min(f + t, e)] for f, e, t in zip(first, last, take)]))


_SILHOUETTE_OVERDRAW = 5.0


def sweep_dask(X, ks, *, n_init, init, max_iter, tol, rs, sample_weight, metrics, sample_size, progress,
               sample=None, refine=True, independent_seeds=False, device="auto"):
    """:func:`fastseg.sweep` on a dask collection: all runs share each pass over the chunks.

    Returns the pieces :class:`fastseg.SweepResult` is built from. The silhouette uses a
    sample of about ``sample_size`` rows stratified by cluster, as in memory, drawn in
    the pass that measures the clusters (every row where there are no more).
    With ``sample``, those rows are gathered to the driver (one task per chunk holding
    any) and every k is seeded and fitted there in memory (on ``device``), as the
    in-memory sweep does; Lloyd then goes on over the chunks (``refine``) or the final
    pass only labels every row.
    """
    import time

    import dask

    from ._lloyd import combine_levels
    from .backend import get_backend
    from .metrics import ClusterStats, calinski_harabasz, davies_bouldin, silhouette_values
    from .sweep import _staged, draw_sample, fit_sample

    t0 = time.perf_counter()
    data = DaskData(X, sample_weight)
    if data.n < ks[-1]:
        raise ValueError(f"n_samples={data.n} should be >= the largest k={ks[-1]}.")
    total_var = max(data.mean_sq - float((data.mean - data.shift) @ (data.mean - data.shift)), 0.0)
    abs_tol = total_var / data.d * tol if tol else 0.0

    sample_fit = None
    if sample is not None:
        per_chunk = positive_rows(data)
        ordinals = draw_sample(rs, data.n if per_chunk is None else int(per_chunk.sum()), sample, ks[-1])
        if ordinals is None:  # too few rows of positive weight to sample
            sample = None
    if sample is not None:
        Xs, ws = take_rows(data, ordinals, per_chunk)
        sample = len(Xs)
        starts, sample_fit = fit_sample(get_backend(device), Xs - data.shift.astype(data.dtype), ws, ks, n_init,
                                        init, independent_seeds, max_iter, tol, rs, progress)
        seeds = list(zip(ks, starts))
        progress = _staged(progress, "every row")
    else:
        seeds = []
        for _ in range(n_init):
            if init in ("k-means++", "k-means||"):
                # one k-means++ sequence (on a sample, or over k-means|| candidates) for the
                # largest k is prefix-consistent: its first k centres seed each k
                full = _seeds(data, ks[-1], rs, init, final="sequence")
                seeds.extend((k, full[:k]) for k in ks)
            else:
                seeds.extend((k, weighted_rows(data, k, rs)) for k in ks)
    C = [s[1].astype(data.dtype) for s in seeds]
    if sample_fit is not None and not refine:  # the sample's centres, only labelling every row
        n_iter = [sample_fit[k][1].n_iter for k in ks]
        seconds = [sample_fit[k][1].seconds for k in ks]
        token = data.new_token()
    else:
        C, n_iter, seconds, token = _lloyd_dask(data, C, max_iter, abs_tol, progress=progress, t0=t0)

    # Calinski-Harabasz and Davies-Bouldin need each cluster's mean: one pass for the
    # label totals under the final centres, then one for the spreads around those means
    # (with the inertia); without them, the inertia pass alone
    spread_of = [m for m in ("calinski_harabasz", "davies_bouldin") if m in metrics]
    means = None
    if spread_of:
        parts = [dask.delayed(_chunk_stats_multi)(x, w, C, data.shift, data.centered, data.grid, token, q,
                                                  None, False)  # the states' last use
                 for q, (x, w) in enumerate(zip(data.xb, data.wb))]
        totals = [combine_levels(s, c) for s, c in _Reduction(parts, _add_multi).compute()]
        means = [np.where(c[:, None] > 0, s / np.maximum(c, 1e-300)[:, None], 0.0) for s, c in totals]
    # the same pass draws the candidates of each k's silhouette sample (stratified by
    # cluster once the pass has counted the clusters' rows)
    pick = None
    if "silhouette" in metrics:
        pick = (int(rs.randint(2**31 - 1)), min(1.0, _SILHOUETTE_OVERDRAW * sample_size / data.n))
    parts = [dask.delayed(_chunk_spread_multi)(x, w, C, means, data.shift, data.centered,
                                               None if spread_of else token, q, pick)
             for q, (x, w) in enumerate(zip(data.xb, data.wb))]
    spreads, picked = _Reduction(parts, _add_spread).compute()
    inertia_all = [fsum_partials(s[2]) for s in spreads]

    best = {}
    for j, (k, c0) in enumerate(seeds):
        if k not in best or inertia_all[j] < inertia_all[best[k]]:
            best[k] = j
    res_metrics = {m: {} for m in metrics if m != "inertia"}
    sil_n = {}
    for k in ks:
        j = best[k]
        if spread_of:
            sums, counts = totals[j]
            within, dist_sum, _, _ = spreads[j]
            has = counts > 0
            stats = ClusterStats(counts=counts, means=means[j], within=within,
                                 mean_dist=np.where(has, dist_sum / np.maximum(counts, 1e-300), 0.0),
                                 grand_mean=sums.sum(axis=0) / counts.sum())
        if "calinski_harabasz" in res_metrics:
            res_metrics["calinski_harabasz"][k] = calinski_harabasz(stats)
        if "davies_bouldin" in res_metrics:
            res_metrics["davies_bouldin"][k] = davies_bouldin(stats)
        if "silhouette" in res_metrics:
            idx = _stratified(picked, j, spreads[j][3], sample_size)
            xs, ws = picked[0][idx], picked[1][idx]
            exact = len(idx) == data.n  # as in memory: float64 when exact, float32 on a sample
            vals = silhouette_values(xs if exact else xs.astype(np.float32), picked[3][j][idx], ws)
            res_metrics["silhouette"][k] = float("nan") if vals is None else float(np.average(vals, weights=ws))
            sil_n[k] = int(len(idx))

    def lazy_labels(Cj):
        return _rowwise(data.X, _labels_block, Cj.copy(), data.shift, data.centered, dtype=np.int32)

    return dict(
        inertia={k: inertia_all[best[k]] for k in ks},
        n_iter={k: n_iter[best[k]] for k in ks},
        seconds={k: seconds[best[k]] for k in ks},
        metrics=res_metrics,
        silhouette_n=sil_n,
        centers={k: (C[best[k]].astype(np.float64) + data.shift).astype(data.dtype) for k in ks},
        init_centers={k: (np.asarray(seeds[best[k]][1], dtype=np.float64) + data.shift).astype(data.dtype)
                      for k in ks},
        labels={k: lazy_labels(C[best[k]]) for k in ks},
        n_features=data.d,
        sample=None if sample_fit is None else dict(rows=int(sample), refined=bool(refine),
                                                    n_iter={k: sample_fit[k][1].n_iter for k in ks}),
    )
