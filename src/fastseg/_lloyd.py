"""Lloyd runs on any backend, one or many advancing together.

Prior validation of data is assumed. The loop follows scikit-learn's ``_kmeans_single_lloyd``
step for step (same stopping rules, same empty-cluster relocation) so that, from the
same initial centres, both give the same labels.
"""

from __future__ import annotations

import numpy as np


def tolerance(backend, data, tol):
    """Absolute tolerance: ``tol`` times the mean per-feature variance of X.

    ``data.mean_sq``, the mean of ``‖x − shift‖²``, is the sum of the variances plus
    ``‖mean − shift‖²``.
    """
    if tol == 0:
        return 0.0
    mean = data.mean - backend.to_numpy(data.shift).astype(np.float64)
    total_var = max(data.mean_sq - float(mean @ mean), 0.0)
    return total_var / data.n_features * tol


def _relocate_empty(backend, data, centers_old, labels, sums, counts):
    """Give each empty cluster one of the points farthest from its centre.

    sums : (k, d) float64 IN/OUT; counts : (k,) float64 IN/OUT (host copies).
    """
    empty = np.flatnonzero(counts == 0)
    if empty.size == 0:
        return
    dist = backend.to_numpy(backend.sq_dist_to_assigned(data, centers_old, labels))
    w = backend.to_numpy(data.weights)
    dist = np.where(w > 0, dist, -1.0)  # a zero-weight point cannot carry a cluster
    n_empty = empty.size
    far = np.argpartition(dist, -n_empty)[: -n_empty - 1 : -1]
    lab = backend.to_numpy(labels)
    for new_id, idx in zip(empty, far):
        xw = backend.to_numpy(backend.take_rows(data, np.array([idx]))[0]).astype(np.float64) * w[idx]
        old_id = lab[idx]
        sums[old_id] -= xw
        counts[old_id] -= w[idx]
        sums[new_id] = xw
        counts[new_id] = w[idx]


def combine_levels(sums, counts):
    """Per-cluster totals as float64 host arrays (k, d) and (k,), from their levels.

    sums : (L, k, d) or (k, d); counts : (L, k) or (k,). Grid levels are exact, so
    adding them rounds once: the nearest float64 to the exact total.
    """
    sums = np.asarray(sums, dtype=np.float64)
    counts = np.asarray(counts, dtype=np.float64)
    if sums.ndim == 3:
        sums, counts = sums.sum(axis=0), counts.sum(axis=0)
    return np.array(sums), np.array(counts)


def cluster_means(xp, sums, counts, old):
    """Each cluster's mean, float64; a cluster with no weight keeps its ``old`` centre.

    sums (k, d), counts (k,), old (k, d) float64, all in the array module ``xp``.
    """
    has = counts > 0
    return xp.where(has[:, None], sums / xp.where(has, counts, 1.0)[:, None], old)


def update_centers(backend, data, centers_old, labels, sums, counts):
    """New centres from the accumulated sums (any levels); empty clusters relocated.

    Returns
    -------
    array of shape (k, d) in X's dtype, on the backend.
    """
    sums, counts = combine_levels(backend.to_numpy(sums), backend.to_numpy(counts))
    _relocate_empty(backend, data, centers_old, labels, sums, counts)
    new = cluster_means(np, sums, counts, backend.to_numpy(centers_old).astype(np.float64))
    return backend.asarray(new, dtype=data.dtype)


class Run:
    """State of one Lloyd run inside a batch (see :func:`lloyd_multi`)."""

    def __init__(self, backend, data, centers):
        xp = backend.xp
        self.centers = backend.asarray(centers, dtype=data.dtype).copy()
        k, d = self.centers.shape
        self.labels = xp.full(data.n_samples, -1, dtype=xp.int32)
        L = data.levels
        self.sums = xp.zeros((L, k, d), dtype=xp.float64)  # totals for the current labels
        self.counts = xp.zeros((L, k), dtype=xp.float64)
        self.n_iter = 0
        self.strict = False
        self.inertia = None
        self.seconds = 0.0

    @property
    def k(self):
        return int(self.centers.shape[0])


def lloyd_multi(backend, data, centers_list, *, max_iter=300, tol=0.0, verbose=False, progress=None):
    """Run Lloyd's algorithm from each initial centre set, all advancing together.

    Each iteration reads X once for every run still going; a run that has converged
    drops out of the batch. Every run follows scikit-learn's rules exactly, and the
    batch gives each run the result it would get alone.

    Parameters
    ----------
    backend : Backend                    # IN
    data : Dataset                       # IN
    centers_list : sequence of arrays    # IN, (k_r, d) shifted coordinates, not modified
    max_iter : int                       # IN, >= 1
    tol : float                          # IN, absolute (see :func:`tolerance`)
    verbose : bool                       # IN
    progress : callable or None          # IN, called after each iteration with a dict
        ``iteration``, ``active``, ``converged``, ``total``.

    Returns
    -------
    list of Run
        With ``labels``, ``inertia`` (exact), ``centers`` (shifted), ``n_iter``,
        ``seconds`` (wall time until the run converged).
    """
    import time

    t0 = time.perf_counter()
    runs = [Run(backend, data, c) for c in centers_list]
    active = list(runs)
    for i in range(max_iter):
        results = backend.lloyd_iteration_multi(data, active, with_inertia=verbose)
        still = []
        for run, (n_changed, inertia, shift) in zip(active, results):
            run.n_iter = i + 1
            tag = f"[k={run.k}] " if len(runs) > 1 else ""
            if verbose:
                print(f"{tag}Iteration {i}, inertia {inertia:.6g}.")
            if n_changed == 0:
                run.strict = True
                if verbose:
                    print(f"{tag}Converged at iteration {i}: strict convergence.")
            elif shift <= tol:
                if verbose:
                    print(f"{tag}Converged at iteration {i}: center shift {shift:.3g} within tolerance {tol:.3g}.")
            else:
                still.append(run)
                continue
            run.seconds = time.perf_counter() - t0
        active = still
        if progress is not None:
            progress(dict(iteration=i + 1, active=len(active), converged=len(runs) - len(active), total=len(runs)))
        if not active:
            break
    for run in active:
        run.seconds = time.perf_counter() - t0
    # Labels must match the final centres (a run stopped by tol or max_iter has
    # labels from the centres before); exact inertia in the same pass.
    for run, inertia in zip(runs, backend.finish_multi(data, runs, [not r.strict for r in runs])):
        run.inertia = inertia
    return runs

