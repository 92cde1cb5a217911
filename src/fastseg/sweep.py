"""Elbow sweeps: every k and every restart advance together.

``sweep(X, k=range(2, 21))`` fits k-means for each k (and ``n_init`` restarts of each)
as one batch: each Lloyd iteration reads every chunk of X once for all runs still
going, and a run that has converged drops out. One k-means++ sequence up to max(k)
seeds every smaller k (k-means++ is prefix-consistent: the first k centres of a
sequence are a k-means++ seeding for k). Each k's result is the one a separate
``KMeans`` fit from the same seeds gives: the sweep is an optimisation, not an
approximation.

On data too large to seed and iterate over many times, ``sample=m`` seeds and fits
every k on m random rows first, then finishes each on every row from there
(``refine=True``: still a fixed point of Lloyd on all the data, in fewer passes) or only
labels every row with the sample's centres (``refine=False``: one pass, the fastest
elbow, an approximation like FAISS's training on a sample).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from numbers import Integral

import numpy as np
from sklearn.utils import check_random_state

from ._init import kmeans_plusplus_core, random_rows_core
from ._lloyd import Run, lloyd_multi, tolerance
from ._validation import (InvalidParameterError, check_dask_only_init, check_int, check_options, check_real,
                          check_sample_weight)
from .kmeans import KMeans, _follows_device, _validate_X, backend_for
from .metrics import DEFAULT_SILHOUETTE_SAMPLE, _score

METRICS = ("inertia", "calinski_harabasz", "davies_bouldin", "silhouette")
# direction of "better" for each metric that votes on k
_BEST = {"silhouette": "max", "calinski_harabasz": "max", "davies_bouldin": "min"}


@dataclass
class Knee:
    """Kneedle's answer on a decreasing, convex curve.

    Attributes
    ----------
    k : int or None
        The knee, or None when the curve has none.
    reason : str
        Why this k (or why none).
    strength : float
        Largest gap between the normalised curve and its chord (0 = a straight line).
    """

    k: int | None
    reason: str
    strength: float


def find_knee(ks, values, sensitivity=1.0) -> Knee:
    """Kneedle (Satopää et al., 2011) for a decreasing, convex curve such as inertia.

    Both axes are scaled to [0, 1]; the knee is the point farthest below the chord
    from the first to the last point, accepted when that gap exceeds
    ``sensitivity`` times the mean step in x (Kneedle's threshold).
    """
    ks = np.asarray(ks, dtype=float)
    y = np.asarray(values, dtype=float)
    if ks.size < 3:
        return Knee(None, f"a knee needs at least 3 values of k; got {ks.size}", 0.0)
    if not np.all(np.isfinite(y)):
        return Knee(None, "the curve has missing values", 0.0)
    span = y.max() - y.min()
    if span <= 0:
        return Knee(None, "the curve is flat", 0.0)
    x_n = (ks - ks.min()) / (ks.max() - ks.min())
    y_n = (y - y.min()) / span
    gap = (1.0 - x_n) - y_n  # below the chord from (0, 1) to (1, 0)
    i = int(np.argmax(gap))
    threshold = sensitivity * float(np.mean(np.diff(x_n)))
    if gap[i] <= threshold:
        return Knee(
            None,
            f"no point lies clearly below the chord (largest gap {gap[i]:.3f} <= threshold "
            f"{threshold:.3f}): the curve bends nowhere in particular",
            float(gap[i]),
        )
    return Knee(int(ks[i]), f"farthest below the chord (gap {gap[i]:.3f} > threshold {threshold:.3f})", float(gap[i]))


@dataclass
class SweepResult:
    """The outcome of :func:`sweep`.

    Attributes
    ----------
    ks : list of int
    inertia, n_iter, seconds : dict k → value
        ``seconds`` is the wall time from the start of the batch to that k's
        convergence (the runs share the work, so they are not additive).
    metrics : dict metric name → dict k → value
    silhouette_n : dict k → rows the silhouette used (all of them when exact)
    sample : dict or None
        With ``sample=m``: ``rows`` (m), ``refined`` (bool) and ``n_iter`` (dict k →
        iterations on the sample). ``n_iter`` above counts iterations on every row
        when refined, else it is the sample's.
    centers : dict k → (k, n_features) ndarray, in the units of X
    init_centers : dict k → the seeds that k's best run started from (NumPy)
    labels : dict k → (n_samples,) int32 ndarray
        ``centers`` and ``labels`` follow the input, as :class:`KMeans`'s attributes do:
        CuPy arrays where X was on the GPU and the GPU engine ran, else NumPy.
    knee : Knee
    best_k : int or None
    best_method : str
    evidence : dict
        Each method's pick and the methods that agree with ``best_k``.
    total_seconds : float
    """

    ks: list
    inertia: dict
    n_iter: dict
    seconds: dict
    metrics: dict
    silhouette_n: dict
    centers: dict
    init_centers: dict
    labels: dict
    knee: Knee
    best_k: int | None
    best_method: str
    evidence: dict
    total_seconds: float
    n_features_in_: int = 0
    feature_names_in_: np.ndarray | None = None
    params: dict = field(default_factory=dict)
    sample: dict | None = None

    def to_frame(self):
        """One row per k: inertia, iterations, seconds and every metric (pandas)."""
        import pandas as pd

        df = pd.DataFrame(
            {
                "inertia": [self.inertia[k] for k in self.ks],
                "n_iter": [self.n_iter[k] for k in self.ks],
                "seconds": [self.seconds[k] for k in self.ks],
            },
            index=pd.Index(self.ks, name="k"),
        )
        for name, vals in self.metrics.items():
            df[name] = [vals[k] for k in self.ks]
        if self.silhouette_n:
            df["silhouette_n"] = [self.silhouette_n[k] for k in self.ks]
        return df

    def kmeans(self, k):
        """A fitted :class:`fastseg.KMeans` for one of the swept k."""
        if k not in self.inertia:
            raise ValueError(f"k={k} was not swept; available: {self.ks}.")
        km = KMeans(n_clusters=k, init=self.init_centers[k], n_init=1, **self.params)
        km.cluster_centers_ = self.centers[k]
        km.labels_ = self.labels[k]
        km.inertia_ = self.inertia[k]
        km.n_iter_ = self.n_iter[k]
        km.n_features_in_ = self.n_features_in_
        if self.feature_names_in_ is not None:
            km.feature_names_in_ = self.feature_names_in_
        km._n_features_out = k
        return km

    def plot(self, ax=None, metric="auto", stability=None):
        """Elbow plot: inertia by k with the knee marked, ``metric`` on a second axis,
        and with ``stability`` (:func:`fastseg.stability.k_stability`) the stable pick
        marked as chosen (:func:`fastseg.plots.elbow`).

        Returns
        -------
        matplotlib.figure.Figure
        """
        from .plots import elbow

        return elbow(self, ax=ax, metric=metric, stability=stability)

    def __repr__(self):
        return (
            f"SweepResult(ks={self.ks[0]}..{self.ks[-1]}, best_k={self.best_k} "
            f"({self.best_method}), knee={self.knee.k}, {self.total_seconds:.2f} s)"
        )


def _check_ks(k, n_samples):
    if isinstance(k, Integral):
        k = [k]
    try:
        ks = sorted({int(v) for v in k})
    except (TypeError, ValueError):
        raise InvalidParameterError(f"The 'k' parameter of sweep must be an iterable of ints; got {k!r}.") from None
    if not ks:
        raise InvalidParameterError("The 'k' parameter of sweep is empty; give at least one number of clusters.")
    if ks[0] < 1:
        raise InvalidParameterError(f"The 'k' parameter of sweep must hold ints >= 1; got {ks[0]}.")
    if ks[-1] > n_samples:
        raise ValueError(f"n_samples={n_samples} should be >= the largest k={ks[-1]}.")
    return ks


_METHOD_NAME = {"knee": "knee", "silhouette": "silhouette", "calinski_harabasz": "Calinski–Harabasz",
                "davies_bouldin": "Davies–Bouldin"}  # as an analyst reads them


def methods_picking(evidence, k):
    """The methods (as an analyst reads them) whose pick in a sweep's ``evidence`` is ``k``."""
    return [_METHOD_NAME.get(m, m) for m, v in evidence.get("picks", {}).items() if v == k]


def metric_label(m, short=False):
    """A metric as a reader knows it: "Davies–Bouldin (lower is better)", or with
    ``short`` "Davies–Bouldin ↓"; other names unchanged."""
    if m not in _BEST:
        return m
    lower = _BEST[m] == "min"
    return f"{_METHOD_NAME[m]} {'↓' if lower else '↑'}" if short else \
        f"{_METHOD_NAME[m]} ({'lower' if lower else 'higher'} is better)"


# column headers of a sweep's table for a reader (the keys stay in to_frame() and files)
_READABLE = {"n_iter": "iterations", "silhouette_n": "silhouette on", "least_stable": "least stable",
             "stable_segments": "stable segments", **{m: metric_label(m, short=True) for m in _BEST}}


def readable_columns(frame):
    """A sweep's table (:meth:`SweepResult.to_frame`) with headers a reader knows:
    "Calinski–Harabasz ↑" (higher is better), "Davies–Bouldin ↓", "iterations"."""
    return frame.rename(columns=_READABLE)


def choose_k(ks, inertia, metrics, knee):
    """Vote among the knee and the metrics; ties go to the knee, then silhouette.

    Returns
    -------
    best_k, method, evidence
    """
    picks = {}
    if knee.k is not None:
        picks["knee"] = knee.k
    for name, direction in _BEST.items():
        vals = metrics.get(name)
        if not vals:
            continue
        cand = [(k, v) for k, v in vals.items() if np.isfinite(v)]
        if cand:
            pick = max(cand, key=lambda kv: kv[1]) if direction == "max" else min(cand, key=lambda kv: kv[1])
            picks[name] = pick[0]
    evidence = {"picks": dict(picks)}
    if not picks:
        evidence["agree"] = []
        return None, f"no method could choose: {knee.reason}", evidence
    votes = {}
    for k in picks.values():
        votes[k] = votes.get(k, 0) + 1
    top = max(votes.values())
    order = ["knee", "silhouette", "calinski_harabasz", "davies_bouldin"]
    best = next(picks[m] for m in order if m in picks and votes[picks[m]] == top)
    agree = [m for m in order if picks.get(m) == best]
    evidence["agree"] = agree
    if len(picks) == 1:  # too few customers or k for the others: no vote to count
        method = f"{_METHOD_NAME[agree[0]]}, the only method with an answer"
    else:
        method = f"{len(agree)} of {len(picks)} methods agree ({', '.join(_METHOD_NAME[m] for m in agree)})"
    others = [m for m in order if m in picks and picks[m] != best]
    if others:  # the analyst sees the other candidates for k, not only the count of dissent
        method += "; " + ", ".join(f"{'the knee' if m == 'knee' else _METHOD_NAME[m]} says k = {picks[m]}"
                                   for m in others)
    return best, method, evidence


def sweep(
    X,
    k=range(2, 21),
    *,
    n_init=1,
    init="k-means++",
    max_iter=300,
    tol=1e-4,
    random_state=None,
    sample_weight=None,
    metrics=METRICS,
    silhouette_sample_size=DEFAULT_SILHOUETTE_SAMPLE,
    independent_seeds=False,
    sample=None,
    refine=True,
    progress=None,
    device="auto",
):
    """Fit k-means for every k in ``k`` as one batch and gather the evidence for k.

    Parameters
    ----------
    X : array-like, SciPy sparse matrix or dask array of shape (n_samples, n_features)
    k : iterable of int or int, default=range(2, 21)
    n_init : int, default=1
        Restarts per k; the lowest inertia is kept.
    init : {"k-means++", "random", "k-means||"}, default="k-means++"
        As in :class:`KMeans` ("k-means||": Dask input only).
    max_iter : int, default=300
    tol : float, default=1e-4
        As in :class:`KMeans` (relative to the mean per-feature variance).
    random_state : int, RandomState instance or None
    sample_weight : array-like of shape (n_samples,), default=None
        As in :meth:`KMeans.fit` (with dask X, also a dask array or Series).
    metrics : iterable, default=("inertia", "calinski_harabasz", "davies_bouldin", "silhouette")
        Which metrics to compute for each k (inertia always is).
    silhouette_sample_size : int, default=4000
        Silhouette is exact up to this many rows; beyond, it uses a sample of this
        size stratified by cluster (the size is reported beside the score).
    independent_seeds : bool, default=False
        Seed each k with its own k-means++ sequence instead of prefixes of one.
    sample : int or None, default=None
        Seed and fit every k (all restarts, the best kept) on this many rows drawn at
        random without replacement from those of positive weight (weights travel with
        their rows; all such rows where there are no more), then go on from
        those centres on every row. None, or a number of rows >= n_samples: no sample.
        Must be at least the largest k. On Dask input the sampled rows are gathered to
        this process and fitted in memory (on ``device``); the rest runs over the chunks.
    refine : bool, default=True
        With ``sample``: run Lloyd on every row from the sample's centres to convergence
        (each k's result is then what ``KMeans(init=result.init_centers[k])`` gives on X),
        or, False, only label every row with them (one pass for all k; the centres are
        the sample's, the inertia and metrics count every row).
    progress : callable, default=None
        Called after every iteration with a dict: ``iteration``, ``active``,
        ``converged``, ``total`` (runs); with ``sample``, also ``stage``
        ("sample", then "every row" when refined).
    device : {"auto", "cpu", "gpu"}

    Returns
    -------
    SweepResult
    """
    t_start = time.perf_counter()
    X_in = X
    from .distributed import as_dask_array, is_dask_collection

    on_dask = is_dask_collection(X)
    X = as_dask_array(X) if on_dask else _validate_X(X)
    n = X.shape[0]
    ks = _check_ks(k, n)
    n_init = check_int("sweep", "n_init", n_init, 1)
    max_iter = check_int("sweep", "max_iter", max_iter, 1)
    tol = check_real("sweep", "tol", tol, 0.0)
    check_dask_only_init("sweep", init, on_dask)
    check_options("sweep", "init", init, ("k-means++", "random", "k-means||") if on_dask else ("k-means++", "random"))
    check_int("sweep", "silhouette_sample_size", silhouette_sample_size, 2)
    metrics = tuple(metrics)
    unknown = [m for m in metrics if m not in METRICS]
    if unknown:
        raise InvalidParameterError(
            f"Unknown metric(s) {unknown} for sweep; choose from {', '.join(METRICS)}."
        )
    if progress is not None and not callable(progress):
        raise InvalidParameterError("The 'progress' parameter of sweep must be a callable or None.")
    if sample is not None:
        check_int("sweep", "sample", sample, 1)
        if sample < ks[-1]:
            raise InvalidParameterError(
                f"The 'sample' parameter of sweep ({sample} rows) must be at least the largest k ({ks[-1]}); "
                "raise sample or lower k.")
        if sample >= n:
            sample = None
    if not isinstance(refine, (bool, np.bool_)):
        raise InvalidParameterError(f"The 'refine' parameter of sweep must be True or False. Got {refine!r} instead.")
    rs = check_random_state(random_state)
    if on_dask:
        return _sweep_result_dask(X_in, X, ks, n_init, init, max_iter, tol, rs, sample_weight, metrics,
                                  silhouette_sample_size, progress, device, t_start, sample, refine,
                                  independent_seeds)
    w = check_sample_weight(sample_weight, n, X.dtype)
    backend = backend_for(device, X)
    data = backend.prepare(X, w)
    abs_tol = tolerance(backend, data, tol)

    if sample is not None:
        pool = None if w.min() > 0 else np.flatnonzero(w > 0)
        ordinals = draw_sample(rs, n if pool is None else len(pool), sample, ks[-1])
        if ordinals is None:
            sample = None
        else:
            idx = ordinals if pool is None else pool[ordinals]
            sample = len(idx)
    if sample is None:
        best = _fit_all(backend, data, ks, n_init, init, independent_seeds, max_iter, abs_tol, rs, progress)
        sample_info = None
    else:
        # the sample's rows in data's shifted coordinates; their own Dataset shifts them again
        starts, fitted = fit_sample(backend, backend.take_rows(data, idx), w[idx], ks, n_init, init,
                                    independent_seeds, max_iter, tol, rs, progress)
        starts = [backend.asarray(c, dtype=data.dtype) for c in starts]
        if refine:
            runs = lloyd_multi(backend, data, starts, max_iter=max_iter, tol=abs_tol,
                               progress=_staged(progress, "every row"))
        else:
            runs = [Run(backend, data, c) for c in starts]
            for run, inertia in zip(runs, backend.finish_multi(data, runs, [True] * len(runs))):
                run.inertia, run.n_iter, run.seconds = inertia, fitted[run.k][1].n_iter, fitted[run.k][1].seconds
        best = {kk: (c, run) for kk, c, run in zip(ks, starts, runs)}
        sample_info = dict(rows=int(sample), refined=bool(refine), n_iter={kk: fitted[kk][1].n_iter for kk in ks})

    shift = backend.to_numpy(data.shift)
    to_host = backend.to_numpy
    # labels and centres follow the input, as KMeans's do: GPU arrays in, CuPy out (k
    # label arrays of n rows are not worth a trip to the host nobody asked for)
    on_device = _follows_device(X, backend)
    result_metrics = {m: {} for m in metrics if m != "inertia"}
    sil_n = {}
    for kk in ks:
        c0, run = best[kk]
        scores = _score(backend, data, run.labels, kk, metrics, silhouette_sample_size, random_state=kk)
        for m in result_metrics:
            result_metrics[m][kk] = scores[m]
        if "silhouette" in scores:
            sil_n[kk] = scores["silhouette_n"]

    parts = dict(
        inertia={kk: best[kk][1].inertia for kk in ks},
        n_iter={kk: best[kk][1].n_iter for kk in ks},
        seconds={kk: best[kk][1].seconds for kk in ks},
        metrics=result_metrics,
        silhouette_n=sil_n,
        centers={kk: _follow(backend, on_device, (to_host(best[kk][1].centers) + shift).astype(X.dtype))
                 for kk in ks},
        init_centers={kk: (to_host(best[kk][0]) + shift).astype(X.dtype) for kk in ks},
        labels={kk: best[kk][1].labels if on_device else to_host(best[kk][1].labels) for kk in ks},
        n_features=X.shape[1],
        sample=sample_info,
    )
    return _assemble(X_in, ks, parts, max_iter, tol, device, t_start)


def sample_indices(rs, n, m):
    """``m`` distinct row indices drawn uniformly from ``range(n)``, sorted.

    The first ``m`` distinct values of uniform draws with replacement: memory and time
    in O(m) where ``RandomState.choice(n, m, replace=False)`` permutes all n (5.7 s and
    800 MB for n = 100,000,000). Above half the rows a permutation costs no more.
    """
    if 2 * m > n:
        return np.sort(rs.choice(n, m, replace=False))
    chosen = np.empty(0, dtype=np.int64)
    while len(chosen) < m:
        draws = np.concatenate([chosen, rs.randint(0, n, size=(m - len(chosen)) * 11 // 10 + 16, dtype=np.int64)])
        _, first = np.unique(draws, return_index=True)
        chosen = draws[np.sort(first)]  # first occurrences, in the order drawn
    return np.sort(chosen[:m])


def draw_sample(rs, n_pool, m, k_max):
    """Which of the ``n_pool`` rows with positive weight to sample (sorted ordinals among
    them), or None for no sample: too few such rows to seed the largest k, where the
    whole-data fit is the answer. At most ``m``; all of them when there are no more.
    Rows of zero weight are never drawn: they would add nothing to the sample's fit.
    """
    if n_pool < k_max:
        return None
    return np.arange(n_pool) if n_pool <= m else sample_indices(rs, n_pool, m)


def fit_sample(backend, rows, weights, ks, n_init, init, independent_seeds, max_iter, tol, rs, progress):
    """Seed and fit every k on sampled rows (given in the caller's shifted coordinates).

    Returns the best run's centres per k as host arrays in the caller's coordinates, and
    the sample fit (k → (seeds, run)).
    """
    sub = backend.prepare(rows, weights)
    fitted = _fit_all(backend, sub, ks, n_init, init, independent_seeds, max_iter,
                      tolerance(backend, sub, tol), rs, _staged(progress, "sample"))
    sub_shift = backend.to_numpy(sub.shift)
    return [backend.to_numpy(fitted[kk][1].centers) + sub_shift for kk in ks], fitted


def _staged(progress, stage):
    """``progress`` with the stage of a sampled sweep added to what it is told."""
    return None if progress is None else (lambda info: progress({**info, "stage": stage}))


def _fit_all(backend, data, ks, n_init, init, independent_seeds, max_iter, abs_tol, rs, progress):
    """Seed every (k, restart) and run them as one batch; k → (seeds, best run)."""
    seeds = []  # (k, centres in shifted coordinates)
    for _ in range(n_init):
        if init == "k-means++" and not independent_seeds:
            full, _ = kmeans_plusplus_core(backend, data, ks[-1], rs)
            seeds.extend((kk, full[:kk]) for kk in ks)
        elif init == "k-means++":
            seeds.extend((kk, kmeans_plusplus_core(backend, data, kk, rs)[0]) for kk in ks)
        else:
            seeds.extend((kk, random_rows_core(backend, data, kk, rs)[0]) for kk in ks)
    runs = lloyd_multi(backend, data, [c for _, c in seeds], max_iter=max_iter, tol=abs_tol, progress=progress)
    best = {}
    for (kk, c0), run in zip(seeds, runs):
        if kk not in best or run.inertia < best[kk][1].inertia:
            best[kk] = (c0, run)
    return best


def _follow(backend, on_device, host):
    return backend.asarray(host) if on_device else host


def _assemble(X_in, ks, r, max_iter, tol, device, t_start):
    """The SweepResult from one path's per-k pieces: knee, vote, evidence."""
    knee = find_knee(ks, [r["inertia"][k] for k in ks])
    best_k, method, evidence = choose_k(ks, r["inertia"], r["metrics"], knee)
    evidence["knee"] = knee.reason
    return SweepResult(
        ks=ks, inertia=r["inertia"], n_iter=r["n_iter"], seconds=r["seconds"], metrics=r["metrics"],
        silhouette_n=r["silhouette_n"], centers=r["centers"], init_centers=r["init_centers"],
        labels=r["labels"], knee=knee, best_k=best_k, best_method=method, evidence=evidence,
        total_seconds=time.perf_counter() - t_start, n_features_in_=r["n_features"],
        feature_names_in_=np.asarray(X_in.columns, dtype=object) if hasattr(X_in, "columns") else None,
        params=dict(max_iter=max_iter, tol=tol, device=device), sample=r.get("sample"),
    )


def _sweep_result_dask(X_in, X, ks, n_init, init, max_iter, tol, rs, sample_weight, metrics, sample_size,
                       progress, device, t_start, sample, refine, independent_seeds):
    from .distributed import sweep_dask

    r = sweep_dask(X, ks, n_init=n_init, init=init, max_iter=max_iter, tol=tol, rs=rs,
                   sample_weight=sample_weight, metrics=metrics, sample_size=sample_size, progress=progress,
                   sample=sample, refine=refine, independent_seeds=independent_seeds, device=device)
    return _assemble(X_in, ks, r, max_iter, tol, device, t_start)
