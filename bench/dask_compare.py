"""A Dask fit on a LocalCluster against the in-memory fit, same data and initial centres.

    python bench/dask_compare.py            # n = 5,000,000, d = 16, k = 32 (the issue's sizes)

Prints ms per Lloyd iteration for both and the overhead ratio (target < 1.5 on the
2-core machine).
"""

from __future__ import annotations

import argparse
import os
import time
from datetime import date

import numpy as np


def main(argv=None):
    import dask.array as da
    from distributed import Client, LocalCluster

    import fastseg

    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=5_000_000)
    ap.add_argument("--d", type=int, default=16)
    ap.add_argument("--k", type=int, default=32)
    ap.add_argument("--iters", type=int, default=10)
    ap.add_argument("--chunk", type=int, default=500_000)
    args = ap.parse_args(argv)
    rng = np.random.default_rng(0)
    means = rng.normal(0, 4, (64, args.d))
    X = (means[rng.integers(0, 64, args.n)] + rng.normal(0, 1, (args.n, args.d))).astype(np.float32)
    init = X[rng.choice(args.n, args.k, replace=False)]

    t = time.perf_counter()
    mem = fastseg.KMeans(args.k, init=init, max_iter=args.iters, tol=0, device="cpu").fit(X)
    t_mem = (time.perf_counter() - t) / mem.n_iter_

    with LocalCluster(n_workers=os.cpu_count(), threads_per_worker=1, dashboard_address=None) as cluster, \
            Client(cluster):
        Xd = da.from_array(X, chunks=(args.chunk, args.d)).persist()
        t = time.perf_counter()
        dk = fastseg.KMeans(args.k, init=init, max_iter=args.iters, tol=0).fit(Xd)
        t_dask = (time.perf_counter() - t) / dk.n_iter_
    print(f"# {date.today()} · {os.cpu_count()} cores · n={args.n:,} d={args.d} k={args.k} float32 · "
          f"chunks of {args.chunk:,} rows · {args.iters} iterations from the same centres")
    print("| fit | ms per iteration |")
    print("|---|---|")
    print(f"| in memory (NumPy engine, all cores) | {t_mem * 1e3:.0f} |")
    print(f"| Dask LocalCluster ({os.cpu_count()} workers × 1 thread) | {t_dask * 1e3:.0f} |")
    print(f"overhead ratio dask/in-memory: {t_dask / t_mem:.2f} (inertia ratio {dk.inertia_ / mem.inertia_:.6f})")


if __name__ == "__main__":
    main()
