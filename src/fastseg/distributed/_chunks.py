"""The worker side of k-means on Dask: what one task does to one chunk.

Every function here takes a chunk (a NumPy or CuPy array) and small host values, and
returns small host values or one value per row in the chunk's own array type; none
knows of Dask. Each is written against the backend
interface, so a CuPy chunk (on a ``dask_cuda`` worker) runs the same code around the
GPU engine's ops.
"""

from __future__ import annotations

import collections
import functools
import threading

import numpy as np

from .._exact import block_extremes, block_grid_sum, partials
from ..backend import NumPyBackend
from ..backend._base import Dataset

_ENGINE = NumPyBackend(n_threads=1)  # one thread per task: Dask's workers fill the cores


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
    from ..backend import get_backend

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


def _index_like(x, idx):
    """``idx`` (host integers) in the array type of ``x``, to index it."""
    return _xp(x).asarray(idx)


def _to_device(b):
    import cupy

    return cupy.asarray(b)


def _fold(combine, *parts):
    """``combine`` applied to the parts left to right (a fixed order)."""
    acc = parts[0]
    for p in parts[1:]:
        acc = combine(acc, p)
    return acc


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


def _distances_block(x, C, shift, block_info=None):
    """Euclidean distances of one chunk's rows to every centre (both shifted by ``shift``,
    the centres' mean: their common offset removed, as in memory, without a pass over X)."""
    _check_finite(x, _start(block_info))
    eng = _engine(x)
    d = _dataset(eng, x, np.ones(len(x)), shift, True)
    return eng.distances(d, eng.asarray(C - shift, dtype=d.dtype))


def _score_block(x, w, C, shift, start):
    """One chunk's weighted sum of exact squared distances to the nearest centre, float64."""
    _check_finite(x, start)
    d2 = _d2_block(x, C - shift, shift, True)
    return float(_host(d2).astype(np.float64) @ _host(w).astype(np.float64))


def _d2_block(x, C, shift, centered):
    """Exact squared distance of each row of one chunk to its nearest centre."""
    eng = _engine(x)
    xp = eng.xp
    d = _dataset(eng, x, np.ones(len(x)), shift, centered)
    lab = xp.empty(len(x), dtype=xp.int32)
    d2 = xp.empty(len(x), dtype=d.dtype)
    eng.assign(d, eng.asarray(C, dtype=d.dtype), lab, d2, exact=True)
    return d2


def _add_multi(a, b):
    return [(p[0] + q[0], p[1] + q[1]) for p, q in zip(a, b)]


def _chunk_spread_multi(x, w, centers_list, means_list, shift, centered, token=None, chunk=0, pick=None):
    """One chunk, every run: labels by the centres, then exact distances to the label means.

    Returns ``(spreads, picked)``: per run (weighted sum of squares to the means, weighted
    sum of distances per cluster, inertia partials, rows per cluster); with ``means_list``
    None the first two are zeros. ``token``: the fit's chunk states, dropped here (their
    last use). ``pick = (seed, rate)`` also draws the candidates of a silhouette sample
    stratified by cluster (see :func:`._sweep._stratified`): every row whose key (a uniform draw,
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
