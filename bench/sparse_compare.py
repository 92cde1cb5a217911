"""Sparse data: fastseg's CPU engine against scikit-learn, both on the same CSR matrix.

A customer × product basket (how many of each product every customer bought) is the
sparse table of customer segmentation: most customers buy a few dozen of thousands of
products. Both libraries take it as SciPy CSR and never densify it. In this process,
on the same threads, rounds interleaved, medians reported:

* Lloyd iterations from the same explicit centres (``tol=0``): time per iteration
  (whole ``fit`` over ``n_iter_``, so validation and the final inertia count);
* k-means++ seeding (``2 + ln k`` local trials both), with the inertia of each seeding;
* an elbow sweep k = 2..20 (``fastseg.sweep``, inertia only) against a loop of
  scikit-learn fits started from the sweep's own seeds: the same starting points, so
  the inertia per k must match and the time ratio compares the engines.

    python bench/sparse_compare.py                       # 500,000 customers × 5,000 products
    python bench/sparse_compare.py --n 50000 --rounds 1  # quick
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time
from datetime import date

import numpy as np
import scipy.sparse as sp
import sklearn
from sklearn import cluster as skc

import fastseg
from fastseg.backend import get_backend


def baskets(n, d, per_customer, groups=12, seed=0):
    """Purchase counts: each customer belongs to a group that buys 80% from its own
    tenth of the catalogue; product popularity is skewed; float32 CSR."""
    rng = np.random.default_rng(seed)
    m = rng.poisson(per_customer, n) + 1
    rows = np.repeat(np.arange(n), m)
    group = rng.integers(0, groups, n)[rows]
    own = np.stack([rng.choice(d, max(1, d // 10), replace=False) for _ in range(groups)])
    popular = np.minimum((rng.pareto(1.2, rows.size) * own.shape[1] / 8).astype(np.int64), own.shape[1] - 1)
    cols = np.where(rng.random(rows.size) < 0.8, own[group, popular], rng.integers(0, d, rows.size))
    X = sp.csr_matrix((np.ones(rows.size, np.float32), (rows, cols)), shape=(n, d))
    X.sum_duplicates()
    return X


def _timed(fn):
    t = time.perf_counter()
    out = fn()
    return time.perf_counter() - t, out


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=500_000, help="customers (rows)")
    ap.add_argument("--d", type=int, default=5_000, help="products (columns)")
    ap.add_argument("--per-customer", type=float, default=20.0, help="mean distinct products per customer")
    ap.add_argument("--ks", type=int, nargs="+", default=[8, 64])
    ap.add_argument("--iters", type=int, default=20)
    ap.add_argument("--seed-k", type=int, default=64)
    ap.add_argument("--sweep", type=int, nargs=2, default=[2, 20], metavar=("KMIN", "KMAX"))
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--json", help="also write the results here")
    args = ap.parse_args(argv)

    X = baskets(args.n, args.d, args.per_customer)
    print(f"# {date.today()}  {X.shape[0]:,} × {X.shape[1]:,} CSR float32, {X.nnz:,} stored values "
          f"({X.nnz / X.shape[0]:.1f} per row)  scikit-learn {sklearn.__version__}  {os.cpu_count()} CPUs")
    print(f"# fastseg engine: {get_backend('cpu', sparse=True).describe()}")
    rng = np.random.default_rng(1)
    rows = []

    def compare(task, ours, theirs, quality, per=lambda out: 1):
        """Interleaved rounds; ``per(result)``: what a time is divided by (iterations)."""
        times = {"fastseg": [], "sklearn": []}
        out = {}
        for _ in range(args.rounds):
            for name, fn in (("sklearn", theirs), ("fastseg", ours)):
                t, out[name] = _timed(fn)
                times[name].append(t / per(out[name]))
        ms = {name: statistics.median(v) * 1e3 for name, v in times.items()}
        q = quality(out)
        rows.append(dict(task=task, sklearn_ms=ms["sklearn"], fastseg_ms=ms["fastseg"],
                         ratio=ms["fastseg"] / ms["sklearn"], quality=q))
        r = rows[-1]
        print(f"| {task} | {r['sklearn_ms']:.1f} | {r['fastseg_ms']:.1f} | {r['ratio']:.2f} | {q:.4f} |", flush=True)

    print("| task | scikit-learn ms | fastseg ms | ratio fastseg/sklearn | inertia ratio |")
    print("|---|---|---|---|---|")
    for k in args.ks:
        init = X[rng.choice(X.shape[0], k, replace=False)].toarray()

        def ours(k=k, init=init):
            return fastseg.KMeans(k, init=init, max_iter=args.iters, tol=0, device="cpu").fit(X)

        def theirs(k=k, init=init):
            return skc.KMeans(k, init=init, n_init=1, max_iter=args.iters, tol=0).fit(X)

        compare(f"Lloyd iteration, k={k}", ours, theirs, lambda out: out["fastseg"].inertia_ / out["sklearn"].inertia_,
                per=lambda fit: fit.n_iter_)

    def seeding_inertia(centers):
        """Inertia of every row against ``centers`` (a model given them, scored)."""
        km = fastseg.KMeans(len(centers), device="cpu")
        km.cluster_centers_ = np.asarray(centers, dtype=X.dtype)
        km.n_features_in_, km._n_features_out = X.shape[1], len(centers)
        return -km.score(X)

    kk = args.seed_k
    compare(f"k-means++ seeding, k={kk}",
            lambda: fastseg.kmeans_plusplus(X, kk, random_state=0, device="cpu")[0],
            lambda: skc.kmeans_plusplus(X, kk, random_state=0)[0],
            lambda out: seeding_inertia(out["fastseg"]) / seeding_inertia(out["sklearn"]))

    ks = range(args.sweep[0], args.sweep[1] + 1)
    seeds = fastseg.sweep(X, k=ks, random_state=0, metrics=("inertia",), device="cpu").init_centers

    def loop():
        return {k: skc.KMeans(k, init=seeds[k], n_init=1).fit(X).inertia_ for k in ks}

    def ours_sweep():
        r = fastseg.sweep(X, k=ks, random_state=0, metrics=("inertia",), device="cpu")
        return r.inertia

    compare(f"sweep k={ks[0]}..{ks[-1]} (same seeds)", ours_sweep, loop,
            lambda out: max(out["fastseg"][k] / out["sklearn"][k] for k in ks))
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(dict(date=str(date.today()), n=X.shape[0], d=X.shape[1], nnz=int(X.nnz), rows=rows), fh, indent=1)


if __name__ == "__main__":
    main()
