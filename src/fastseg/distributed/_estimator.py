"""``KMeans`` on Dask: Lloyd over the chunks (every restart together), then lazy labels,
predictions, distances and scores."""

from __future__ import annotations

import operator

import numpy as np

from .._exact import fsum_partials
from ..backend import NumPyBackend
from ._chunks import (_add_spread, _chunk_spread_multi, _d2_block, _distances_block, _host, _labels_block,
                      _predict_block, _score_block)
from ._data import DaskData, _Reduction, _meta, _rowwise, _weights_for, as_dask_array
from ._seeding import _seeds, weighted_rows

def _lloyd_dask(data, C, max_iter, tol, *, progress=None, verbose=False, t0=None):
    """Lloyd from each centre set in ``C`` (shifted coordinates) over the chunks, every run
    advancing together: one compute per iteration for all runs still going, and a run that
    has converged drops out (the rules of the in-memory engine, run by run).

    Returns (centres, n_iter, seconds, token): the chunk states stay under ``token`` for
    the pass after the loop, which releases them.
    """
    import time

    from .._lloyd import update_centers

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


def transform_dask(estimator, X):
    """Lazy distances (n, k) of a dask collection to a fitted estimator's centres, chunked
    as X's rows."""
    X, C = _checked_input(estimator, X)
    meta = _meta(X, X.dtype).reshape(0, 0)
    return X.map_blocks(_distances_block, C, C.mean(axis=0), chunks=(X.chunks[0], (C.shape[0],)),
                        dtype=X.dtype, meta=meta)


def score_dask(estimator, X, sample_weight):
    """Opposite of the weighted inertia of a dask collection: one pass, a fixed-order sum."""
    import dask

    X, C = _checked_input(estimator, X)
    w = _weights_for(X, sample_weight)
    starts = np.cumsum((0,) + X.chunks[0][:-1])
    parts = [dask.delayed(_score_block)(x, v, C, C.mean(axis=0), int(s0))
             for x, v, s0 in zip(X.to_delayed().ravel(), w.to_delayed().ravel(), starts)]
    return -_Reduction(parts, operator.add).compute()


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

