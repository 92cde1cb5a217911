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

import warnings

import numpy as np
import pandas as pd
import scipy.sparse as sp
from sklearn.exceptions import ConvergenceWarning

from .kmeans import KMeans

__all__ = ["segment_stability", "k_stability", "stable_pick", "STABLE", "DISSOLVED"]

STABLE = 0.75  # Hennig's reading: a mean Jaccard from here up is a stable cluster
DISSOLVED = 0.5  # a resample's Jaccard below this: the segment was not found


def segment_stability(X, labels, n_clusters, *, n_resamples=10, fraction=0.8, max_rows=100_000, n_init=3,
                      random_state=0, device="auto"):
    """How stable each segment of ``labels`` is under refits on subsets of ``X``.

    Parameters
    ----------
    X : ndarray or SciPy sparse matrix of shape (n_samples, n_features)
        The matrix the segments were found in (scaled features, or basket rows).
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
    X = X if sp.issparse(X) else np.asarray(X)
    k = int(n_clusters)
    _check(X.shape[0], labels, k, n_resamples, fraction, max_rows)
    scores = np.full((n_resamples, k), np.nan)
    for b, (idx, seed) in enumerate(_resamples(X.shape[0], k, n_resamples, fraction, max_rows, random_state)):
        with warnings.catch_warnings():
            # a subset with fewer distinct customers than k: the segments it cannot hold score
            # low below, which is the finding; the warning would only repeat it to the user
            warnings.simplefilter("ignore", ConvergenceWarning)
            refit = np.asarray(KMeans(k, n_init=n_init, random_state=seed, device=device).fit(X[idx]).labels_)
        scores[b] = best_jaccard(labels[idx], refit, k)
    return _summary(scores, pd.RangeIndex(k, name="segment"))


def k_stability(X, result, *, n_resamples=10, fraction=0.8, max_rows=100_000, n_init=1, random_state=0,
                device="auto"):
    """Segment stability for every k of a sweep: evidence for the number of segments.

    Each resample is one :func:`fastseg.sweep` over all the k of ``result`` (one batch,
    so it costs about one fit), compared k by k with ``result``'s labels as in
    :func:`segment_stability`.

    Parameters
    ----------
    X : ndarray or SciPy sparse matrix of shape (n_samples, n_features)
        The matrix ``result`` was swept on (NumPy or SciPy).
    result : SweepResult
    n_resamples, fraction, max_rows, random_state, device
        As in :func:`segment_stability`.
    n_init : int, default=1
        Restarts per k of each resample's sweep.

    Returns
    -------
    pandas.DataFrame
        Indexed by k: ``stability`` (mean over the k segments of their stability),
        ``least_stable`` (the lowest segment's) and ``stable_segments`` (how many
        reach 0.75).
    """
    return k_and_segment_stability(X, result, n_resamples=n_resamples, fraction=fraction, max_rows=max_rows,
                                   n_init=n_init, random_state=random_state, device=device)[0]


def k_and_segment_stability(X, result, *, n_resamples=10, fraction=0.8, max_rows=100_000, n_init=1,
                            random_state=0, device="auto"):
    """:func:`k_stability`, and for each k the :func:`segment_stability` table of its
    segments (numbered as ``result.labels[k]``) that the same refits give: a segmenter
    that chose k on them reports its segments' stability from them too, so the two
    agree and the refits are not run twice.

    Returns
    -------
    (pandas.DataFrame, dict of int to pandas.DataFrame)
    """
    from .sweep import sweep

    X = X if sp.issparse(X) else np.asarray(X)
    ks = list(result.ks)
    full = {k: np.asarray(result.labels[k]) for k in ks}
    for k in ks:
        _check(X.shape[0], full[k], k, n_resamples, fraction, max_rows)
    scores = {k: np.full((n_resamples, k), np.nan) for k in ks}
    for b, (idx, seed) in enumerate(_resamples(X.shape[0], max(ks), n_resamples, fraction, max_rows, random_state)):
        refit = sweep(X[idx], k=ks, n_init=n_init, metrics=("inertia",), random_state=seed, device=device)
        for k in ks:
            scores[k][b] = best_jaccard(full[k][idx], np.asarray(refit.labels[k]), k)
    segments = {k: _summary(scores[k], pd.RangeIndex(k, name="segment")) for k in ks}
    rows = {k: segments[k]["stability"] for k in ks}
    table = pd.DataFrame({"stability": [rows[k].mean() for k in ks],
                          "least_stable": [rows[k].min() for k in ks],
                          "stable_segments": [int((rows[k] >= STABLE).sum()) for k in ks]},
                         index=pd.Index(ks, name="k"))
    return table, segments


def stable_pick(result, stability, threshold=STABLE):
    """The number of segments chosen with the stability as evidence: the largest of the k
    that the sweep's methods pick (the knee, silhouette, Calinski–Harabasz,
    Davies–Bouldin) at which every segment is stable.

    Each method proposes a k, and most lean one way (silhouette and Davies–Bouldin to
    few segments, the knee to more). A segment that does not come back in refits on
    subsets is a cut k-means had to make, not a group in the data, so the most detailed
    proposal with no such segment is taken. On 184 data sets with a known number of
    groups (``bench/k_choice.py``: 168 make_blobs draws, iris, wine, breast cancer,
    digits, the mall customers at three sizes, the shipped retail log's RFM at four) it
    found that number in 107 (the vote of the same methods, :attr:`SweepResult.best_k`,
    in 91; the best single method, Calinski–Harabasz, in 105), and in 14 of the 16 real
    sets (the vote 7, Calinski–Harabasz 6).

    Parameters
    ----------
    result : SweepResult
    stability : pandas.DataFrame
        :func:`k_stability` of ``result``.
    threshold : float, default=STABLE (0.75)
        The mean Jaccard from which a segment counts as stable (Hennig's reading).

    Returns
    -------
    k : int or None
        None when no method's pick has every segment stable (or none could pick).
    reason : str
        Which methods picked it and its least stable segment's score, and what the
        other methods said.
    """
    from .sweep import _METHOD_NAME, methods_picking

    picks = result.evidence.get("picks", {})
    least = stability["least_stable"]

    def pick(v):  # "knee and Davies–Bouldin pick 5"
        names = methods_picking(result.evidence, v)
        who = names[0] if len(names) == 1 else f"{', '.join(names[:-1])} and {names[-1]}"
        return f"{who} pick{'s' if len(names) == 1 else ''} {v}"

    ok = [k for k in picks.values() if k in least.index and least[k] >= threshold]
    if not ok:
        said = ", ".join(f"{_METHOD_NAME.get(m, m)} {k} ({least.get(k, np.nan):.2f})" for m, k in picks.items())
        return None, f"no method's pick has every segment stable, >= {threshold} (least stable segment: {said})"
    k = max(ok)
    reason = (f"{pick(k)}, the largest pick whose segments are all stable (least stable {least[k]:.2f} in refits "
              "on subsets)")
    return k, reason + "".join(f"; {pick(v)} ({least[v]:.2f})" for v in dict.fromkeys(picks.values()) if v != k)


def _check(n, labels, k, n_resamples, fraction, max_rows):
    if not isinstance(n_resamples, (int, np.integer)) or n_resamples < 1:
        raise ValueError(f"n_resamples must be an int >= 1; got {n_resamples!r}.")
    if not 0 < fraction <= 1:
        raise ValueError(f"fraction must be in (0, 1]; got {fraction!r}.")
    if not isinstance(max_rows, (int, np.integer)) or max_rows < 1:
        raise ValueError(f"max_rows must be an int >= 1; got {max_rows!r}.")
    if len(labels) != n:
        raise ValueError(f"labels has {len(labels)} entries for {n} rows.")
    if n and (labels.min() < 0 or labels.max() >= k):
        raise ValueError(f"labels must be segment numbers 0 to {k - 1} (n_clusters={k}); they run from "
                         f"{labels.min()} to {labels.max()}.")


def _resamples(n, k, n_resamples, fraction, max_rows, random_state):
    """(sorted row numbers, seed of the refit) for each resample."""
    rows = min(max(int(fraction * n), k), max_rows, n)
    rng = np.random.default_rng(random_state)
    for _ in range(n_resamples):
        idx = np.sort(rng.choice(n, rows, replace=False))
        yield idx, int(rng.integers(2**31 - 1))


def _summary(scores, index):
    """Per segment: the mean of its resamples' scores, and the share below DISSOLVED (a
    segment with no row in a resample is left out of that one's count)."""
    drawn = ~np.isnan(scores)
    times = drawn.sum(axis=0)
    mean = np.where(times > 0, np.where(drawn, scores, 0.0).sum(axis=0) / np.maximum(times, 1), np.nan)
    return pd.DataFrame({"stability": mean, "dissolved": ((scores < DISSOLVED) & drawn).sum(axis=0) / np.maximum(times, 1)},
                        index=index)


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
