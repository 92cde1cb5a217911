"""fastseg's CPU engine against scikit-learn and FAISS, side by side in one run.

Same machine, same threads, same data, same initial centres; runs interleaved
(sklearn, fastseg, faiss, sklearn, ...) so drifting machine load hits all alike. Prints a
table of medians and fastseg/peer ratios (below 1.0: fastseg faster).

FAISS (``pip install faiss-cpu``, or ``make bench``) joins where it imports. It is told to
use every row (by default it trains on at most 256 rows per centre), so each of its
iterations does the same work as the others'; it has no k-means++, so it sits out the
seeding row.

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

try:
    import faiss
except ImportError:
    faiss = None


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


def _faiss_fit(X, init, iters):
    """FAISS's k-means from ``init`` on every row (no subsampling), ``iters`` iterations."""
    n, d = X.shape
    km = faiss.Kmeans(d, len(init), niter=iters, max_points_per_centroid=n, min_points_per_centroid=1,
                      verbose=False)
    km.train(X, init_centroids=np.ascontiguousarray(init, dtype=np.float32))
    return km


def _row(task, times, mem, quality):
    """One table row: medians, fastseg's ratio to each peer, peak extra memory, quality ratios."""
    ms = {name: statistics.median(t) * 1e3 for name, t in times.items()}
    row = dict(task=task, sklearn_ms=ms["sklearn"], fastseg_ms=ms["fastseg"], ratio=ms["fastseg"] / ms["sklearn"],
               sklearn_extra_mb=mem["sklearn"], fastseg_extra_mb=mem["fastseg"], quality=quality["sklearn"])
    if "faiss" in ms:
        row.update(faiss_ms=ms["faiss"], faiss_ratio=ms["fastseg"] / ms["faiss"], faiss_quality=quality["faiss"])
    return row


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=1_000_000)
    ap.add_argument("--d", type=int, default=16)
    ap.add_argument("--ks", type=int, nargs="+", default=[8, 64])
    ap.add_argument("--iters", type=int, default=20)
    ap.add_argument("--seed-k", type=int, default=64)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--json", help="also write the results here")
    ap.add_argument("--no-faiss", action="store_true", help="leave FAISS out even where it imports")
    args = ap.parse_args(argv)
    use_faiss = faiss is not None and not args.no_faiss
    if use_faiss:
        faiss.omp_set_num_threads(os.cpu_count())  # the same threads as NumPy's BLAS and fastseg

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
        if use_faiss:
            fits["faiss"] = lambda: _faiss_fit(X, init, args.iters)
        times = {name: [] for name in fits}
        inertia = {}
        for name, fit in fits.items():  # warm-up (thread pools, BLAS)
            fit()
        for _ in range(args.rounds):
            for name, fit in fits.items():
                t, km = _timed(fit)
                if name == "faiss":
                    times[name].append(t / args.iters)
                    inertia[name] = _assign_inertia(X, km.centroids)  # its obj is the last step's, before the update
                else:
                    times[name].append(t / km.n_iter_)
                    inertia[name] = km.inertia_
        # FAISS allocates in C++, out of tracemalloc's sight: no memory figure for it
        mem = {name: _peak_extra_bytes(fits[name]) / 2**20 for name in ("sklearn", "fastseg")}
        quality = {name: inertia["fastseg"] / inertia[name] for name in fits}
        rows.append(_row(f"Lloyd iteration, k={k}", times, mem, quality))

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
    rows.append(_row(f"k-means++ seeding, k={k}", times, mem,
                     {"sklearn": np.mean(quality["fastseg"]) / np.mean(quality["sklearn"])}))

    blas = threadpool_info()
    print(
        f"# {date.today()} · {platform.processor() or platform.machine()} · {os.cpu_count()} cores · "
        f"n={args.n:,} d={args.d} float32 ({data_mb:.0f} MiB) · {args.rounds} rounds, medians · "
        f"fastseg {fastseg.__version__}, scikit-learn {sklearn.__version__}, "
        + (f"faiss-cpu {faiss.__version__}, " if use_faiss else "")
        + f"BLAS {next((b['internal_api'] for b in blas if b['user_api'] == 'blas'), '?')} · python {sys.version.split()[0]}"
    )
    head = "| task | scikit-learn ms | fastseg ms | ratio fastseg/sklearn | inertia ratio | sklearn extra MiB | fastseg extra MiB |"
    if use_faiss:
        head += " FAISS ms | ratio fastseg/FAISS | inertia ratio fastseg/FAISS |"
    print(head)
    print("|---" * head.count(" | ") + "|---|")
    for r in rows:
        line = (f"| {r['task']} | {r['sklearn_ms']:.1f} | {r['fastseg_ms']:.1f} | {r['ratio']:.2f} | "
                f"{r['quality']:.4f} | {r['sklearn_extra_mb']:.0f} | {r['fastseg_extra_mb']:.0f} |")
        if use_faiss:
            line += (f" {r['faiss_ms']:.1f} | {r['faiss_ratio']:.2f} | {r['faiss_quality']:.4f} |" if "faiss_ms" in r
                     else " – (no k-means++) | – | – |")
        print(line)
    if faiss is None and not args.no_faiss:
        print("FAISS left out: faiss-cpu is not installed (pip install faiss-cpu)")
    budget = 0.10 * data_mb + 64
    print(f"memory budget for fastseg (10% of data + 64 MiB, beyond the data): {budget:.0f} MiB")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(dict(n=args.n, d=args.d, rows=rows, budget_mb=budget), f, indent=1)


if __name__ == "__main__":
    main()
