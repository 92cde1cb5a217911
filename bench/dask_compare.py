"""A Dask fit on a LocalCluster against the in-memory fit, same data and initial centres.

    python bench/dask_compare.py            # n = 5,000,000, d = 16, k = 32 (the issue's sizes)
    python bench/dask_compare.py --threads  # one in-process worker, a thread per core

Prints ms per Lloyd iteration for both and the overhead ratio (target < 1.5 on the
2-core machine).
"""

from __future__ import annotations

import argparse
import os
import statistics
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
    ap.add_argument("--chunk", type=int, default=1_250_000)  # 80 MB chunks: Dask advises ~100 MB
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--threads", action="store_true",
                    help="one worker process with a thread per core (processes=False) instead of a "
                         "single-threaded worker process per core (LocalCluster's default here)")
    args = ap.parse_args(argv)
    rng = np.random.default_rng(0)
    init = rng.standard_normal((args.k, args.d)).astype(np.float32)

    def timed(fit, iters):
        t = time.perf_counter()
        km = fit(iters)
        return time.perf_counter() - t, km

    # per iteration = (fit with 2·iters − fit with iters) / iters: setup cancels out
    mem_fit = lambda it: fastseg.KMeans(args.k, init=init, max_iter=it, tol=0, device="cpu").fit(X)  # noqa: E731

    cores = os.cpu_count()
    layout = dict(n_workers=1, threads_per_worker=cores, processes=False) if args.threads else \
        dict(n_workers=cores, threads_per_worker=1, processes=True)
    with LocalCluster(**layout, dashboard_address=":0") as cluster, Client(cluster):
        Xd = da.random.default_rng(0).standard_normal((args.n, args.d), chunks=(args.chunk, args.d),
                                                      dtype=np.float32)
        Xd = (Xd + 0).persist()  # generated on the workers, as data loaded there would be
        X = Xd.compute()
        dk_fit = lambda it: fastseg.KMeans(args.k, init=init, max_iter=it, tol=0).fit(Xd)  # noqa: E731
        mem_fit(2), dk_fit(2)  # warm-up: threads, worker imports, the compiled kernel's first load
        t_mem, t_dask = [], []
        for _ in range(args.rounds):  # interleaved, so drifting load hits both alike
            (m1, _), (m2, mem) = timed(mem_fit, args.iters), timed(mem_fit, 2 * args.iters)
            (d1, _), (d2, dk) = timed(dk_fit, args.iters), timed(dk_fit, 2 * args.iters)
            t_mem.append((m2 - m1) / args.iters)
            t_dask.append((d2 - d1) / args.iters)
        t_mem, t_dask = statistics.median(t_mem), statistics.median(t_dask)
    print(f"# {date.today()} · {os.cpu_count()} cores · n={args.n:,} d={args.d} k={args.k} float32 · "
          f"chunks of {args.chunk:,} rows · {args.iters} iterations from the same centres · "
          f"medians of {args.rounds} rounds")
    print(f"setup+{2 * args.iters} iterations (last round): in memory {m2:.1f} s, dask {d2:.1f} s")
    print("| fit | ms per iteration |")
    print("|---|---|")
    print(f"| in memory (NumPy engine, all cores) | {t_mem * 1e3:.0f} |")
    where = f"1 in-process worker × {cores} threads" if args.threads else f"{cores} worker processes × 1 thread"
    print(f"| Dask LocalCluster ({where}) | {t_dask * 1e3:.0f} |")
    print(f"overhead ratio dask/in-memory: {t_dask / t_mem:.2f} (inertia ratio {dk.inertia_ / mem.inertia_:.6f})")


if __name__ == "__main__":
    main()
