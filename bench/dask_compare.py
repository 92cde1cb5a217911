"""A Dask fit on a LocalCluster against the in-memory fit, same data and initial centres.

    python bench/dask_compare.py            # n = 5,000,000, d = 16, k = 32 (the issue's sizes)
    python bench/dask_compare.py --threads  # one in-process worker, a thread per core
    python bench/dask_compare.py --sweep    # k = 2..20 sweeps, whole-data and sampled
    python bench/dask_compare.py --seeding  # k-means++ on a sample against k-means||
    python bench/dask_compare.py --left     # also timed with the chunks left where Dask put them

Prints ms per Lloyd iteration for both and the overhead ratio (target < 1.5 on the
2-core machine). With ``--sweep``: seconds for ``fastseg.sweep`` over the Dask array and
in memory, whole-data (k-means|| seeding on Dask) and with ``sample`` (refined and not),
on eight blobs (n = 2,000,000 × 8 by default). With ``--seeding``: seconds to seed
k = 8, 32, 128 on the Dask array both ways, and the inertia Lloyd ends at from each
(fitted in memory, the same data), against whole-data k-means++ in memory.
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
    from fastseg.distributed import _data

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
    ap.add_argument("--sweep", action="store_true", help="time k = 2..20 sweeps instead of Lloyd iterations")
    ap.add_argument("--sample", type=int, default=50_000, help="rows for the sampled sweeps (--sweep)")
    ap.add_argument("--seeding", action="store_true", help="time Dask seedings instead of Lloyd iterations")
    ap.add_argument("--left", action="store_true",
                    help="also time the Dask fit without spreading the chunks over the workers by rows")
    args = ap.parse_args(argv)
    if args.sweep:
        return sweeps(args)
    if args.seeding:
        return seedings(args)
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
    with LocalCluster(**layout, dashboard_address=":0") as cluster, Client(cluster) as client:
        Xd = da.random.default_rng(0).standard_normal((args.n, args.d), chunks=(args.chunk, args.d),
                                                      dtype=np.float32)
        Xd = (Xd + 0).persist()  # generated on the workers, as data loaded there would be
        X = Xd.compute()
        dk_fit = lambda it: fastseg.KMeans(args.k, init=init, max_iter=it, tol=0).fit(Xd)  # noqa: E731

        def left_fit(it):  # the chunks where Dask put them (fastseg spreads them by rows)
            keep = _data.spread_blocks
            _data.spread_blocks = lambda *a: None
            try:
                return dk_fit(it)
            finally:
                _data.spread_blocks = keep

        held = [sum(w in ws for ws in client.who_has(Xd).values()) for w in sorted(client.nthreads())]
        mem_fit(2), dk_fit(2)  # warm-up: threads, worker imports, the compiled kernel's first load
        t_mem, t_dask, t_left = [], [], []
        for _ in range(args.rounds):  # interleaved, so drifting load hits both alike
            (m1, _), (m2, mem) = timed(mem_fit, args.iters), timed(mem_fit, 2 * args.iters)
            (d1, _), (d2, dk) = timed(dk_fit, args.iters), timed(dk_fit, 2 * args.iters)
            t_mem.append((m2 - m1) / args.iters)
            t_dask.append((d2 - d1) / args.iters)
            if args.left:
                (l1, _), (l2, _) = timed(left_fit, args.iters), timed(left_fit, 2 * args.iters)
                t_left.append((l2 - l1) / args.iters)
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
    if t_left:
        print(f"| the same, chunks left where Dask put them ({' + '.join(map(str, held))} per worker) | "
              f"{statistics.median(t_left) * 1e3:.0f} |")
    print(f"overhead ratio dask/in-memory: {t_dask / t_mem:.2f} (inertia ratio {dk.inertia_ / mem.inertia_:.6f})")


def seedings(args):
    """k-means++ on a sample (init="k-means++") against k-means|| (init="k-means||") on Dask:
    seeding seconds, and where Lloyd ends from each. Medians and means of ``--rounds`` seeds."""
    import dask.array as da
    from distributed import Client, LocalCluster

    import fastseg
    from fastseg.distributed import DaskData, _seeding

    n, d = args.n, args.d
    cores = os.cpu_count()
    rows = []
    with LocalCluster(n_workers=cores, threads_per_worker=1, processes=True, dashboard_address=":0") as cluster, \
            Client(cluster):
        rng = da.random.default_rng(0)
        centres = np.random.default_rng(1).normal(0, 3, (32, d)).astype(np.float32)  # 32 groups
        onehot = (rng.integers(0, 32, (n, 1), chunks=(args.chunk, 1)) == np.arange(32)).astype(np.float32)
        Xd = (rng.standard_normal((n, d), chunks=(args.chunk, d), dtype=np.float32) + onehot @ centres).persist()
        X = Xd.compute()
        data = DaskData(Xd, None)
        _seeding.seeds_from_sample(data, 2, np.random.RandomState(0))  # warm-up
        for k in (8, 32, 128):
            t = {"k-means++": [], "k-means||": []}
            end = {"k-means++": [], "k-means||": [], "memory": []}
            for r in range(args.rounds):
                for init in t:
                    t0 = time.perf_counter()
                    C = _seeding._seeds(data, k, np.random.RandomState(r), init)
                    t[init].append(time.perf_counter() - t0)
                    C = (C + data.shift).astype(np.float32)
                    end[init].append(fastseg.KMeans(k, init=C, device="cpu").fit(X).inertia_)
                end["memory"].append(fastseg.KMeans(k, random_state=r, device="cpu").fit(X).inertia_)
            ref = float(np.mean(end["memory"]))
            rows.append((k, statistics.median(t["k-means++"]), statistics.median(t["k-means||"]),
                         np.mean(end["k-means++"]) / ref, np.mean(end["k-means||"]) / ref))
    print(f"# {date.today()} · {cores} cores · n={n:,} d={d} float32, 32 groups · chunks of {args.chunk:,} rows · "
          f"Dask: {cores} worker processes × 1 thread · medians (times) and means (inertia) of {args.rounds} seeds")
    print("| k | k-means++ on 256·k rows s | k-means|| s | Lloyd's end from it / from in-memory k-means++ | "
          "the same for k-means|| |")
    print("|---|---|---|---|---|")
    for k, tp, tpar, ip, ipar in rows:
        print(f"| {k} | {tp:.2f} | {tpar:.2f} | {ip:.3f} | {ipar:.3f} |")


def sweeps(args):
    """k = 2..20 on eight blobs: Dask against in memory, whole-data and sampled. Metrics
    as ``Segmenter`` uses them (inertia, Calinski-Harabasz, Davies-Bouldin)."""
    import dask.array as da
    from distributed import Client, LocalCluster

    import fastseg

    n = args.n if args.n != 5_000_000 else 2_000_000
    d = args.d if args.d != 16 else 8
    ks = range(2, 21)
    runs = [("whole data", {}), (f"sample={args.sample:,}, refined", dict(sample=args.sample)),
            (f"sample={args.sample:,}, refine=False", dict(sample=args.sample, refine=False))]
    metrics = ("inertia", "calinski_harabasz", "davies_bouldin")
    cores = os.cpu_count()
    with LocalCluster(n_workers=cores, threads_per_worker=1, processes=True, dashboard_address=":0") as cluster, \
            Client(cluster):
        rng = da.random.default_rng(0)
        centres = np.random.default_rng(1).normal(0, 4, (8, d)).astype(np.float32)
        onehot = (rng.integers(0, 8, (n, 1), chunks=(args.chunk, 1)) == np.arange(8)).astype(np.float32)
        Xd = (rng.standard_normal((n, d), chunks=(args.chunk, d), dtype=np.float32) + onehot @ centres).persist()
        X = Xd.compute()
        fastseg.sweep(X[:50_000], k=range(2, 4), device="cpu")  # warm-up: imports, threads
        fastseg.sweep(Xd[:50_000], k=range(2, 4))
        rows = []
        for name, kw in runs:
            t = time.perf_counter()
            mem = fastseg.sweep(X, k=ks, random_state=0, metrics=metrics, device="cpu", **kw)
            t_mem = time.perf_counter() - t
            t = time.perf_counter()
            dk = fastseg.sweep(Xd, k=ks, random_state=0, metrics=metrics, **kw)
            t_dask = time.perf_counter() - t
            rel = max(abs(dk.inertia[k] / mem.inertia[k] - 1) for k in ks)
            passes = 0 if kw.get("refine") is False else max(dk.n_iter.values())  # runs share each pass
            rows.append((name, t_mem, t_dask, passes, f"{mem.best_k} / {dk.best_k}", rel))
    print(f"# {date.today()} · {cores} cores · n={n:,} d={d} float32, eight blobs · k = 2..20 · "
          f"chunks of {args.chunk:,} rows · Dask: {cores} worker processes × 1 thread")
    print("| sweep | in memory s | Dask s | Lloyd passes over the chunks | best k, memory / Dask | max inertia diff Dask vs memory |")
    print("|---|---|---|---|---|---|")
    for name, t_mem, t_dask, iters, best, rel in rows:
        print(f"| {name} | {t_mem:.2f} | {t_dask:.2f} | {iters} | {best} | {rel:.1e} |")


if __name__ == "__main__":
    main()
