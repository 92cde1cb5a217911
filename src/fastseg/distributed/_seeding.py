"""Seeding on Dask: rows drawn by weight, rows gathered by index, k-means++ on a sample
and k-means|| (Bahmani et al. 2012), each pass one compute over the chunks."""

from __future__ import annotations

import operator

import numpy as np

from ._chunks import _d2_block, _host, _index_like, _labels_block, _xp
from ._data import _Reduction

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


def _owners_block(x, w, cands, shift, centered):
    """k-means||: total weight of the rows closest to each candidate, for one chunk."""
    lab = _host(_labels_block(x, cands, shift, centered))
    return np.bincount(lab, weights=_host(w).astype(np.float64), minlength=len(cands))


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
    from ..kmeans import kmeans_plusplus
    from ..sweep import draw_sample

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
        from ..kmeans import kmeans_plusplus

        return kmeans_plusplus(cands, k, sample_weight=np.maximum(cw, 1e-12), random_state=rs, device="cpu")[0]
    # As Spark MLlib does: cluster the weighted candidates in memory (k-means++ and Lloyd,
    # several restarts) — they are few, and a single seeding of them can split a group.
    from ..kmeans import KMeans

    local = KMeans(k, n_init=10, random_state=rs, device="cpu").fit(cands, sample_weight=np.maximum(cw, 1e-12))
    centers = local.cluster_centers_
    return centers

