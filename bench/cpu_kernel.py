"""The compiled nearest-centre kernel against the engine's NumPy path, one thread.

One block of rows (the engine's task size), the two paths interleaved, best of many
calls; prints a table of milliseconds per block and their ratio. This is what sets
``_kernel_pays`` in fastseg/backend/cpu.py (where the kernel is used).

    python bench/cpu_kernel.py
    python bench/cpu_kernel.py --ds 3 16 --ks 8 64 --dtype float64
"""

from __future__ import annotations

import argparse
import time
from datetime import date

import numpy as np

from fastseg.backend import NumPyBackend, cpu_kernels


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rows", type=int, default=65536)
    ap.add_argument("--ds", type=int, nargs="+", default=[3, 8, 16, 32, 48])
    ap.add_argument("--ks", type=int, nargs="+", default=[8, 64, 256])
    ap.add_argument("--dtype", default="float32", choices=["float32", "float64"])
    ap.add_argument("--repeats", type=int, default=25)
    args = ap.parse_args(argv)
    kernel = cpu_kernels.load()
    if kernel is None:
        raise SystemExit(f"the compiled kernel is not available: {cpu_kernels.reason}")
    rng = np.random.default_rng(0)
    dtype = np.dtype(args.dtype)
    slow = NumPyBackend(1, compiled=False)
    print(f"# {date.today()} · {args.rows:,} rows per block · {dtype} · one thread · best of {args.repeats}")
    print("| d | k | kernel ms | NumPy path ms | ratio |")
    print("|---|---|---|---|---|")
    for d in args.ds:
        X = rng.standard_normal((args.rows, d)).astype(dtype)
        for k in args.ks:
            C = rng.standard_normal((k, d)).astype(dtype)
            packed, prep = kernel.pack(C), slow._prep_centers(C)
            lab, mins = np.empty(args.rows, np.int32), np.empty(args.rows, dtype)
            calls = {"kernel": lambda: kernel.nearest(X, packed, lab, mins),
                     "numpy": lambda: slow._nearest(X, prep, lab, mins)}
            best = {name: float("inf") for name in calls}
            for _ in range(args.repeats):
                for name, fn in calls.items():
                    t = time.perf_counter()
                    fn()
                    best[name] = min(best[name], time.perf_counter() - t)
            print(f"| {d} | {k} | {best['kernel'] * 1e3:.2f} | {best['numpy'] * 1e3:.2f} | "
                  f"{best['kernel'] / best['numpy']:.2f} |")


if __name__ == "__main__":
    main()
