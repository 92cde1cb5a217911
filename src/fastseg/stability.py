"""Is each segment real? How often k-means finds it again on other samples of the customers.

A segment that reappears whenever k-means runs on a different subset of the customers is a
feature of the data; one that comes and goes is a cut k-means had to make somewhere (a
round group split in two, a boundary through a dense region), and next month's data may
cut it elsewhere. This is Hennig's clusterwise stability (Hennig, 2007, "Cluster-wise
assessment of cluster stability", by subsetting): for each resample, a segment's score
is its best Jaccard similarity with a cluster of the refit, on the customers drawn; the
mean over resamples is its stability (0.75 or more: stable; below 0.5: dissolved).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from .kmeans import KMeans

__all__ = ["segment_stability", "STABLE", "DISSOLVED"]

STABLE = 0.75  # Hennig's reading: a mean Jaccard from here up is a stable cluster
DISSOLVED = 0.5  # a resample's Jaccard below this: the segment was not found


def segment_stability(X, labels, n_clusters, *, n_resamples=10, fraction=0.8, max_rows=100_000, n_init=3,
                      random_state=0, device="auto"):
    """How stable each segment of ``labels`` is under refits on subsets of ``X``.

    Parameters
    ----------
    X : ndarray of shape (n_samples, n_features)
        The matrix the segments were found in (scaled features).
    labels : array-like of int, shape (n_samples,)
        Each row's segment, 0 to ``n_clusters`` - 1.
    n_clusters : int
    n_resamples : int, default=10
    fraction : float in (0, 1], default=0.8
        Share of the rows drawn (without replacement) for each refit ...
    max_rows : int, default=100,000
        ... and at most this many rows.
    n_init : int, default=3
        k-means restarts of each refit (k-means++ seeding).
    random_state : int, default=0
    device : {"auto", "cpu", "gpu"}, default="auto"

    Returns
    -------
    pandas.DataFrame
        Indexed by segment: ``stability`` (mean over resamples of the segment's best
        Jaccard similarity with a cluster of the refit, on the rows drawn) and
        ``dissolved`` (share of resamples where that similarity was below 0.5).
    """
    labels = np.asarray(labels)
    X = np.asarray(X)
    if not isinstance(n_resamples, (int, np.integer)) or n_resamples < 1:
        raise ValueError(f"n_resamples must be an int >= 1; got {n_resamples!r}.")
    if not 0 < fraction <= 1:
        raise ValueError(f"fraction must be in (0, 1]; got {fraction!r}.")
    if len(labels) != len(X):
        raise ValueError(f"labels has {len(labels)} entries for {len(X)} rows.")
    k = int(n_clusters)
    rows = min(max(int(fraction * len(X)), k), max_rows, len(X))
    rng = np.random.default_rng(random_state)
    scores = np.full((n_resamples, k), np.nan)
    for b in range(n_resamples):
        idx = np.sort(rng.choice(len(X), rows, replace=False))
        seed = int(rng.integers(2**31 - 1))
        if k == 1:
            refit = np.zeros(rows, dtype=np.int64)
        else:
            refit = np.asarray(KMeans(k, n_init=n_init, random_state=seed, device=device).fit(X[idx]).labels_)
        scores[b] = best_jaccard(labels[idx], refit, k)
    drawn = ~np.isnan(scores)  # a segment may have no row in a resample
    with np.errstate(invalid="ignore"):
        out = pd.DataFrame({"stability": np.nanmean(np.where(drawn, scores, np.nan), axis=0),
                            "dissolved": ((scores < DISSOLVED) & drawn).sum(axis=0) / np.maximum(drawn.sum(axis=0), 1)},
                           index=pd.RangeIndex(k, name="segment"))
    return out


def best_jaccard(labels, refit, k):
    """For each segment of ``labels``: the largest Jaccard similarity |A ∩ B| / |A ∪ B|
    between its rows and the rows of one cluster of ``refit`` (NaN for a segment with
    no row here)."""
    table = np.bincount(np.asarray(labels) * k + np.asarray(refit), minlength=k * k).reshape(k, k).astype(float)
    size_a, size_b = table.sum(axis=1), table.sum(axis=0)
    union = size_a[:, None] + size_b[None, :] - table
    with np.errstate(invalid="ignore", divide="ignore"):
        jac = np.where(union > 0, table / union, 0.0)
    return np.where(size_a > 0, jac.max(axis=1), np.nan)
