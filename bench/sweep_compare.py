"""Elbow sweep k = 2..20: one fastseg.sweep against a loop of scikit-learn fits.

The loop is what yellowbrick's KElbowVisualizer does: one KMeans fit per k (k-means++
seeding each time, n_init=1, default tol). Both run in this process on the same data
and threads. Two comparisons:

* sklearn loop with its own k-means++ seeding per k (what users run today);
* sklearn loop started from fastseg's seeds (same starting points: inertia per k must
  match, so the time ratio compares the engines alone).

    python bench/sweep_compare.py                 # n = 1,000,000, d = 8
    python bench/sweep_compare.py --n 100000      # quick
"""

from __future__ import annotations

import argparse
import json
import os
import time
from datetime import date

import numpy as np
import sklearn
from sklearn import cluster as skc

import fastseg


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=1_000_000)
    ap.add_argument("--d", type=int, default=8)
    ap.add_argument("--kmax", type=int, default=20)
    ap.add_argument("--json")
    args = ap.parse_args(argv)

    rng = np.random.default_rng(0)
    means = rng.normal(0, 3, (10, args.d))
    X = (means[rng.integers(0, 10, args.n)] + rng.normal(0, 1, (args.n, args.d))).astype(np.float32)
    ks = list(range(2, args.kmax + 1))

    fastseg.sweep(X[:20000], k=ks, random_state=0, metrics=("inertia",), device="cpu")  # warm-up
    t = time.perf_counter()
    res = fastseg.sweep(X, k=ks, random_state=0, metrics=("inertia",), device="cpu")
    t_fs = time.perf_counter() - t

    t = time.perf_counter()
    full = fastseg.sweep(X, k=ks, random_state=0, device="cpu")
    t_full = time.perf_counter() - t

    t = time.perf_counter()
    sk_own = {k: skc.KMeans(k, n_init=1, random_state=0).fit(X).inertia_ for k in ks}
    t_sk_own = time.perf_counter() - t

    t = time.perf_counter()
    sk_same = {k: skc.KMeans(k, init=res.init_centers[k], n_init=1).fit(X).inertia_ for k in ks}
    t_sk_same = time.perf_counter() - t

    same_ratio = max(abs(res.inertia[k] / sk_same[k] - 1) for k in ks)
    own_ratio = float(np.mean([res.inertia[k] / sk_own[k] for k in ks]))
    print(
        f"# {date.today()} · {os.cpu_count()} cores · n={args.n:,} d={args.d} float32 · k=2..{args.kmax} · "
        f"fastseg {fastseg.__version__}, scikit-learn {sklearn.__version__}"
    )
    print("| run | seconds | ratio fastseg/sklearn | inertia |")
    print("|---|---|---|---|")
    print(f"| fastseg.sweep, inertia only | {t_fs:.2f} | | |")
    print(f"| fastseg.sweep, + CH, DB, silhouette (n={full.silhouette_n[ks[0]]}) | {t_full:.2f} | | |")
    print(f"| sklearn loop, own k-means++ per k | {t_sk_own:.2f} | {t_fs / t_sk_own:.3f} | fastseg/sklearn mean {own_ratio:.4f} |")
    print(f"| sklearn loop, fastseg's seeds | {t_sk_same:.2f} | {t_fs / t_sk_same:.3f} | max rel. diff {same_ratio:.1e} |")
    print(f"best_k={res.best_k} ({res.best_method}); with metrics: best_k={full.best_k} ({full.best_method})")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(dict(fastseg=t_fs, fastseg_full=t_full, sklearn_own=t_sk_own, sklearn_same=t_sk_same,
                           same_ratio=same_ratio, own_ratio=own_ratio), f, indent=1)


if __name__ == "__main__":
    main()
