"""Elbow sweeps on Dask: every (k, restart) run shares each pass over the chunks; the
metrics from one or two passes more, the silhouette on a sample stratified by cluster."""

from __future__ import annotations

import numpy as np

from .._exact import fsum_partials
from ._chunks import _add_multi, _add_spread, _chunk_spread_multi, _chunk_stats_multi, _labels_block
from ._data import DaskData, _Reduction, _rowwise
from ._estimator import _lloyd_dask
from ._seeding import _seeds, positive_rows, take_rows, weighted_rows

def _stratified(picked, run, counts, size):
    """Indices into the gathered candidates of a silhouette sample of about ``size`` rows,
    stratified by cluster as in memory (:func:`fastseg.metrics.stratum_sizes` rows of each,
    the smallest keys: a uniform draw without replacement within the cluster).

    The candidates hold every row with a key below the rate (``_SILHOUETTE_OVERDRAW``
    times the sampling fraction: a cluster falls short of its share only some four
    standard deviations below the mean) and each chunk's two smallest per cluster (so the
    two-row floor is exact); a cluster that still falls short keeps what it has.
    """
    from ..metrics import stratum_sizes

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

    from .._lloyd import combine_levels
    from ..backend import get_backend
    from ..metrics import ClusterStats, calinski_harabasz, davies_bouldin, silhouette_values
    from ..sweep import _staged, draw_sample, fit_sample

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

