"""One Lloyd run on any backend.

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
        xw = (backend.to_numpy(data.X[int(idx)] - data.shift)).astype(np.float64) * w[idx]
        old_id = lab[idx]
        sums[old_id] -= xw
        counts[old_id] -= w[idx]
        sums[new_id] = xw
        counts[new_id] = w[idx]


def update_centers(backend, data, centers_old, labels, sums, counts):
    """New centres from the accumulated sums; empty clusters relocated.

    Returns
    -------
    array of shape (k, d) in X's dtype, on the backend.
    """
    sums = np.array(backend.to_numpy(sums), dtype=np.float64)
    counts = np.array(backend.to_numpy(counts), dtype=np.float64)
    _relocate_empty(backend, data, centers_old, labels, sums, counts)
    old = backend.to_numpy(centers_old).astype(np.float64)
    has = counts > 0
    new = np.where(has[:, None], sums / np.where(has, counts, 1.0)[:, None], old)
    return backend.asarray(new, dtype=data.dtype)


def lloyd(backend, data, centers_init, *, max_iter=300, tol=0.0, verbose=False):
    """Run Lloyd's algorithm from ``centers_init``.

    Parameters
    ----------
    backend : Backend                    # IN
    data : Dataset                       # IN
    centers_init : array (k, d)          # IN, shifted coordinates, not modified
    max_iter : int                       # IN, >= 1
    tol : float                          # IN, absolute (see :func:`tolerance`)
    verbose : bool                       # IN

    Returns
    -------
    labels : int32 array (n,)
    inertia : float
        Exact weighted sum of squared distances to the final centres.
    centers : array (k, d), shifted coordinates
    n_iter : int
    """
    xp = backend.xp
    n = data.n_samples
    centers = backend.asarray(centers_init, dtype=data.dtype).copy()
    labels = xp.full(n, -1, dtype=xp.int32)
    k, d = centers.shape
    sums = xp.zeros((k, d), dtype=xp.float64)  # totals for the current labels
    counts = xp.zeros(k, dtype=xp.float64)
    strict = False
    for i in range(max_iter):
        n_changed, inertia = backend.lloyd_step(data, centers, labels, sums, counts, with_inertia=verbose)
        new = update_centers(backend, data, centers, labels, sums, counts)
        shift = float(backend.to_numpy(((new - centers) ** 2).sum()))
        centers = new
        if verbose:
            print(f"Iteration {i}, inertia {inertia:.6g}.")
        if n_changed == 0:
            strict = True
            if verbose:
                print(f"Converged at iteration {i}: strict convergence.")
            break
        if shift <= tol:
            if verbose:
                print(f"Converged at iteration {i}: center shift {shift:.3g} within tolerance {tol:.3g}.")
            break
    if strict:
        d2 = backend.sq_dist_to_assigned(data, centers, labels)
    else:
        d2 = xp.empty(n, dtype=data.dtype)
        # Labels must match the final centres; exact distances in the same pass.
        backend.assign(data, centers, labels, d2, exact=True)
    inertia = float(backend.to_numpy(xp.dot(d2.astype(xp.float64), data.weights.astype(xp.float64))))
    return labels, inertia, centers, i + 1
