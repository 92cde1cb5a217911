"""Elbow sweep k = 2..20: one fastseg.sweep against a loop of scikit-learn fits.

The loop is what yellowbrick's KElbowVisualizer does: one KMeans fit per k (k-means++
seeding each time, n_init=1, default tol). Both run in this process on the same data
and threads. Two comparisons:

* sklearn loop with its own k-means++ seeding per k (what users run today);
* sklearn loop started from fastseg's seeds (same starting points: inertia per k must
  match, so the time ratio compares the engines alone).

Where FAISS imports (``pip install faiss-cpu``, or ``make bench``), two loops of its fits
join: with its defaults (random initial centres, 25 iterations, trained on at most 256
rows per centre: fast, approximate; its inertia is then counted on every row), and from
fastseg's seeds on every row for as many iterations as fastseg took per k (the same work).
fastseg's own sampled sweeps (``sample=``) sit beside them: on FAISS's sample size with every
row labelled by the sample's centres, and on a 5% sample refined on every row.

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
from cpu_compare import _assign_inertia as _inertia  # bench/ is on the path when run as a script

try:
    import faiss
except ImportError:
    faiss = None


def _faiss_loop(X, ks, seeds=None, n_iter=None, label=False):
    """Centres per k from a loop of FAISS fits: its defaults, or from ``seeds[k]`` on every
    row for ``n_iter[k]`` iterations; ``label``: also every row's nearest centre (FAISS's
    search), as an elbow on every row needs."""
    n, d = X.shape
    out = {}
    for k in ks:
        if seeds is None:
            km = faiss.Kmeans(d, k, seed=0, verbose=False)
            km.train(X)
        else:
            km = faiss.Kmeans(d, k, niter=max(n_iter[k], 1), max_points_per_centroid=n, min_points_per_centroid=1,
                              verbose=False)
            km.train(X, init_centroids=np.ascontiguousarray(seeds[k], dtype=np.float32))
        out[k] = km.centroids.copy()
        if label:
            km.index.search(X, 1)
    return out



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

    # sampled sweeps: FAISS's sample size (256 rows per centre of the largest k), labels only;
    # and a 5% sample, refined on every row
    sampled = {}
    for m, refine in ((256 * args.kmax, False), (args.n // 20, True)):
        t = time.perf_counter()
        r = fastseg.sweep(X, k=ks, random_state=0, metrics=("inertia",), device="cpu", sample=m, refine=refine)
        sampled[(m, refine)] = (time.perf_counter() - t, r)

    t = time.perf_counter()
    sk_own = {k: skc.KMeans(k, n_init=1, random_state=0).fit(X).inertia_ for k in ks}
    t_sk_own = time.perf_counter() - t

    t = time.perf_counter()
    sk_same = {k: skc.KMeans(k, init=res.init_centers[k], n_init=1).fit(X).inertia_ for k in ks}
    t_sk_same = time.perf_counter() - t

    faiss_rows, faiss_json = [], {}
    if faiss is not None:
        faiss.omp_set_num_threads(os.cpu_count())
        t = time.perf_counter()
        fa_own = _faiss_loop(X, ks)
        t_fa_own = time.perf_counter() - t
        t = time.perf_counter()
        _faiss_loop(X, ks, label=True)
        t_fa_label = time.perf_counter() - t
        t = time.perf_counter()
        fa_same = _faiss_loop(X, ks, res.init_centers, res.n_iter)
        t_fa_same = time.perf_counter() - t
        own = float(np.mean([res.inertia[k] / _inertia(X, fa_own[k]) for k in ks]))
        same = max(abs(res.inertia[k] / _inertia(X, fa_same[k]) - 1) for k in ks)
        faiss_json = dict(faiss_own=t_fa_own, faiss_own_labelled=t_fa_label, faiss_same=t_fa_same, faiss_own_ratio=own, faiss_same_ratio=same)
        faiss_rows = [
            f"| FAISS loop, its defaults (≤ 256 rows per centre, random init, 25 iterations) | {t_fa_own:.2f} | "
            f"{t_fs / t_fa_own:.3f} | fastseg/FAISS mean {own:.4f} (FAISS's counted on every row) |",
            f"| the same, + every row labelled by each k's centres (its `index.search`) | {t_fa_label:.2f} | "
            f"{t_fs / t_fa_label:.3f} | |",
            f"| FAISS loop, fastseg's seeds, every row, fastseg's iterations per k | {t_fa_same:.2f} | "
            f"{t_fs / t_fa_same:.3f} | max rel. diff {same:.1e} |",
        ]

    same_ratio = max(abs(res.inertia[k] / sk_same[k] - 1) for k in ks)
    own_ratio = float(np.mean([res.inertia[k] / sk_own[k] for k in ks]))
    print(
        f"# {date.today()} · {os.cpu_count()} cores · n={args.n:,} d={args.d} float32 · k=2..{args.kmax} · "
        f"fastseg {fastseg.__version__}, scikit-learn {sklearn.__version__}"
        + (f", faiss-cpu {faiss.__version__}" if faiss is not None else " (faiss-cpu not installed: no FAISS rows)")
    )
    print("| run | seconds | ratio fastseg/peer | inertia |")
    print("|---|---|---|---|")
    print(f"| fastseg.sweep, inertia only | {t_fs:.2f} | | |")
    print(f"| fastseg.sweep, + CH, DB, silhouette (n={full.silhouette_n[ks[0]]}) | {t_full:.2f} | | |")
    for (m, refine), (t_s, r) in sampled.items():
        rel = [r.inertia[k] / res.inertia[k] for k in ks]
        print(f"| fastseg.sweep, sample={m:,}, {'refined on every row' if refine else 'not refined'} | {t_s:.2f} | | "
              f"/ whole-data sweep: mean {np.mean(rel):.4f}, max {max(rel):.4f}; best_k={r.best_k} |")
    print(f"| sklearn loop, own k-means++ per k | {t_sk_own:.2f} | {t_fs / t_sk_own:.3f} | fastseg/sklearn mean {own_ratio:.4f} |")
    print(f"| sklearn loop, fastseg's seeds | {t_sk_same:.2f} | {t_fs / t_sk_same:.3f} | max rel. diff {same_ratio:.1e} |")
    for line in faiss_rows:
        print(line)
    print(f"best_k={res.best_k} ({res.best_method}); with metrics: best_k={full.best_k} ({full.best_method})")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(dict(fastseg=t_fs, fastseg_full=t_full, sklearn_own=t_sk_own, sklearn_same=t_sk_same,
                           same_ratio=same_ratio, own_ratio=own_ratio, **faiss_json,
                           sampled=[dict(rows=m, refined=rf, seconds=t_s, inertia={k: r.inertia[k] for k in ks})
                                    for (m, rf), (t_s, r) in sampled.items()]), f, indent=1)


if __name__ == "__main__":
    main()
