"""Seeding: greedy k-means++ and random rows, on any backend.

Prior validation of data is assumed: these take a prepared
:class:`~fastseg.backend.Dataset` and return centres in its shifted coordinates.
"""

from __future__ import annotations

import numpy as np


def kmeans_plusplus_core(backend, data, n_clusters, random_state, n_local_trials=None):
    """Greedy k-means++ (Arthur & Vassilvitskii 2007, with local trials).

    Each new centre is the best of ``n_local_trials`` candidates drawn with
    probability proportional to ``w · D(x)²``, "best" meaning the lowest potential
    after adding it. Two passes over X per centre: candidate potentials, then the
    update of the closest-distance array.

    Parameters
    ----------
    backend : Backend                       # IN
    data : Dataset                          # IN
    n_clusters : int                        # IN, 1 <= n_clusters <= n_samples
    random_state : numpy.random.RandomState # IN/OUT, advanced
    n_local_trials : int or None            # IN, default 2 + floor(ln k)

    Returns
    -------
    centers : array of shape (n_clusters, n_features), shifted coordinates
    indices : ndarray of shape (n_clusters,), int64
        Row of X each centre was taken from.
    """
    xp = backend.xp
    n, d = data.n_samples, data.n_features
    if n_local_trials is None:
        n_local_trials = 2 + int(np.log(n_clusters))
    if backend.kpp_greedy_on_device(data):
        # the loop below, run by the backend: the same draws, in the same order
        first_u = random_state.uniform()
        trial_u = random_state.uniform(size=(n_clusters - 1, n_local_trials))
        return backend.kpp_greedy(data, n_clusters, first_u, trial_u)
    centers = xp.empty((n_clusters, d), dtype=data.dtype)
    indices = np.empty(n_clusters, dtype=np.int64)

    # First centre: probability proportional to weight (the CDF of w · 1); the buffer of
    # closest distances serves as the ones.
    closest = xp.ones(n, dtype=data.dtype)
    total = float(backend.to_numpy(xp.sum(data.weights, dtype=xp.float64)))
    first = int(backend.kpp_sample(data, closest, np.array([random_state.uniform() * total]))[0])
    indices[0] = first
    centers[0] = backend.take_rows(data, np.array([first]))[0]

    closest.fill(np.inf)
    potential = backend.kpp_add_center(data, centers[0], closest)
    # Keeping each candidate's distances spares a pass over X for the winner, at t·n
    # memory; a backend short of memory (the GPU) makes the pass instead.
    keep = backend.kpp_keeps_trials and n_clusters > 1
    trial_dist = xp.empty((n_local_trials, n), dtype=data.dtype) if keep else None
    for c in range(1, n_clusters):
        targets = random_state.uniform(size=n_local_trials) * potential
        cand = backend.to_numpy(backend.kpp_sample(data, closest, targets))
        cand_rows = backend.take_rows(data, cand)
        pots = backend.to_numpy(backend.kpp_potentials(data, cand_rows, closest, trial_dist))
        best = int(np.argmin(pots))
        indices[c] = cand[best]
        centers[c] = cand_rows[best]
        if keep:
            closest[...] = trial_dist[best]
            potential = float(pots[best])
        else:
            potential = backend.kpp_add_center(data, centers[c], closest)
    return centers, indices


def random_rows_core(backend, data, n_clusters, random_state):
    """Distinct rows drawn with probability proportional to weight.

    Returns
    -------
    centers : array of shape (n_clusters, n_features), shifted coordinates
    indices : ndarray of shape (n_clusters,)
    """
    w = backend.to_numpy(data.weights).astype(np.float64)
    p = w / w.sum()
    if np.count_nonzero(p) < n_clusters:
        # Not enough weighted rows to draw without replacement: allow zero-weight rows.
        p = None
    idx = random_state.choice(data.n_samples, size=n_clusters, replace=False, p=p)
    return backend.take_rows(data, idx), idx
