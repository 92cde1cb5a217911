"""fastseg's CPU engine against scikit-learn, side by side in one run.

Same machine, same threads, same data, same initial centres; runs interleaved
(sklearn, fastseg, sklearn, ...) so drifting machine load hits both alike. Prints a
table of medians and fastseg/sklearn ratios (below 1.0: fastseg faster).

    python bench/cpu_compare.py            # n = 1,000,000, d = 16 (the issue's sizes)
    python bench/cpu_compare.py --n 200000 --rounds 3   # quick
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import time
import tracemalloc
from datetime import date

import numpy as np
import sklearn
from sklearn import cluster as skc
from threadpoolctl import threadpool_info

import fastseg


def _timed(fn):
    t = time.perf_counter()
    out = fn()
    return time.perf_counter() - t, out


def _peak_extra_bytes(fn):
    """Peak bytes allocated during ``fn`` (NumPy reports its buffers to tracemalloc)."""
    tracemalloc.start()
    tracemalloc.reset_peak()
    base = tracemalloc.get_traced_memory()[0]
    fn()
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return peak - base


def _assign_inertia(X, centers):
    km = fastseg.KMeans(len(centers), device="cpu")
    km.cluster_centers_ = np.asarray(centers, dtype=X.dtype)
    km.n_features_in_ = X.shape[1]
    km._n_features_out = len(centers)
    return -km.score(X)


def _row(task, times, mem, quality):
    """One table row: medians, their ratio, peak extra memory, the quality ratio."""
    sk, fs = statistics.median(times["sklearn"]), statistics.median(times["fastseg"])
    return dict(task=task, sklearn_ms=sk * 1e3, fastseg_ms=fs * 1e3, ratio=fs / sk,
                sklearn_extra_mb=mem["sklearn"], fastseg_extra_mb=mem["fastseg"], quality=quality)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=1_000_000)
    ap.add_argument("--d", type=int, default=16)
    ap.add_argument("--ks", type=int, nargs="+", default=[8, 64])
    ap.add_argument("--iters", type=int, default=20)
    ap.add_argument("--seed-k", type=int, default=64)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--json", help="also write the results here")
    args = ap.parse_args(argv)

    rng = np.random.default_rng(0)
    # Gaussian blobs: a clustered data set, as customer features are.
    true_k = 32
    means = rng.normal(0, 4, (true_k, args.d))
    X = (means[rng.integers(0, true_k, args.n)] + rng.normal(0, 1, (args.n, args.d))).astype(np.float32)
    data_mb = X.nbytes / 2**20
    rows = []

    for k in args.ks:
        init = X[rng.choice(args.n, k, replace=False)]
        fits = {
            "sklearn": lambda: skc.KMeans(k, init=init, n_init=1, max_iter=args.iters, tol=0).fit(X),
            "fastseg": lambda: fastseg.KMeans(k, init=init, n_init=1, max_iter=args.iters, tol=0, device="cpu").fit(X),
        }
        times = {name: [] for name in fits}
        inertia = {}
        for name, fit in fits.items():  # warm-up (thread pools, BLAS)
            fit()
        for _ in range(args.rounds):
            for name, fit in fits.items():
                t, km = _timed(fit)
                times[name].append(t / km.n_iter_)
                inertia[name] = km.inertia_
        mem = {name: _peak_extra_bytes(fit) / 2**20 for name, fit in fits.items()}
        rows.append(_row(f"Lloyd iteration, k={k}", times, mem, inertia["fastseg"] / inertia["sklearn"]))

    k = args.seed_k
    times = {"sklearn": [], "fastseg": []}
    quality = {"sklearn": [], "fastseg": []}
    seeders = {
        "sklearn": lambda s: skc.kmeans_plusplus(X, k, random_state=s)[0],
        "fastseg": lambda s: fastseg.kmeans_plusplus(X, k, random_state=s, device="cpu")[0],
    }
    for r in range(args.rounds):
        for name, seed in seeders.items():
            t, centers = _timed(lambda: seed(r))
            times[name].append(t)
            quality[name].append(_assign_inertia(X, centers))
    mem = {name: _peak_extra_bytes(lambda: seed(0)) / 2**20 for name, seed in seeders.items()}
    rows.append(_row(f"k-means++ seeding, k={k}", times, mem, np.mean(quality["fastseg"]) / np.mean(quality["sklearn"])))

    blas = threadpool_info()
    print(
        f"# {date.today()} · {platform.processor() or platform.machine()} · {os.cpu_count()} cores · "
        f"n={args.n:,} d={args.d} float32 ({data_mb:.0f} MiB) · {args.rounds} rounds, medians · "
        f"fastseg {fastseg.__version__}, scikit-learn {sklearn.__version__}, "
        f"BLAS {next((b['internal_api'] for b in blas if b['user_api'] == 'blas'), '?')} · python {sys.version.split()[0]}"
    )
    print("| task | scikit-learn ms | fastseg ms | ratio fastseg/sklearn | inertia ratio | sklearn extra MiB | fastseg extra MiB |")
    print("|---|---|---|---|---|---|---|")
    for r in rows:
        print(
            f"| {r['task']} | {r['sklearn_ms']:.1f} | {r['fastseg_ms']:.1f} | {r['ratio']:.2f} | "
            f"{r['quality']:.4f} | {r['sklearn_extra_mb']:.0f} | {r['fastseg_extra_mb']:.0f} |"
        )
    budget = 0.10 * data_mb + 64
    print(f"memory budget for fastseg (10% of data + 64 MiB, beyond the data): {budget:.0f} MiB")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(dict(n=args.n, d=args.d, rows=rows, budget_mb=budget), f, indent=1)


if __name__ == "__main__":
    main()
