"""What float64 bit-exactness costs: the same fits with exact grid totals and with
ordinary float64 sums, interleaved in one run (python bench/exact_cost.py).

The ordinary-sum variant is made by switching the grid off inside this script only; it is
what the engine did before totals were exact, and is not an option of fastseg.
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np

import fastseg.backend.cpu as cpu
from fastseg import KMeans


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--n", type=int, default=1_000_000)
    ap.add_argument("--d", type=int, default=16)
    ap.add_argument("--rounds", type=int, default=7)
    ap.add_argument("--iters", type=int, default=20)
    args = ap.parse_args()
    rng = np.random.default_rng(0)
    X = rng.normal(size=(args.n, args.d)) + rng.normal(0, 3, (args.n, 1))
    exact_grid = cpu.make_grid
    print(f"n={args.n} d={args.d} float64, {args.iters} iterations from the same centres, "
          f"medians of {args.rounds} (s)")
    print("| k | ordinary sums | exact totals | ratio | same inertia to 1e-12 |")
    print("|---|---|---|---|---|")
    for k in (8, 64):
        C = X[rng.choice(args.n, k, replace=False)]
        times = {"exact": [], "ordinary": []}
        inertia = {}
        for _ in range(args.rounds):
            for mode in ("ordinary", "exact"):
                cpu.make_grid = exact_grid if mode == "exact" else (lambda *a, **kw: None)
                t = time.perf_counter()
                km = KMeans(k, init=C, n_init=1, max_iter=args.iters, tol=0, device="cpu").fit(X)
                times[mode].append(time.perf_counter() - t)
                inertia[mode] = km.inertia_
        cpu.make_grid = exact_grid
        o, e = statistics.median(times["ordinary"]), statistics.median(times["exact"])
        same = abs(inertia["exact"] - inertia["ordinary"]) <= 1e-12 * inertia["ordinary"]
        print(f"| {k} | {o:.3f} | {e:.3f} | {e / o:.2f} | {same} |")


if __name__ == "__main__":
    main()
