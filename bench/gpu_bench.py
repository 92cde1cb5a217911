"""GPU benchmark for the lent H100/H200: the two ceilings, then fastseg against a plain
CuPy implementation, fast-pytorch-kmeans (where its wheel was carried: see
bench/fetch_gpu_wheels.sh) and scikit-learn, ms per Lloyd iteration and ratio to the floor.

    FASTSEG_EXPERIMENTAL_GPU=1 PYTHONPATH=src python bench/gpu_bench.py [--n 10000000]

floor = max(4·n·d bytes / copy bandwidth, 2·n·k·d FLOP / matmul rate), both measured here.
Times: CUDA events around each step after a warm-up, median of the iterations. GPU
memory of a fit: the peak of CuPy's allocations during it (a memory hook), beside the
issue's budget (data + 5% + 256 MiB). Every size is an option, so that
tests/test_gpu_bench_smoke.py runs this script end to end on the CPU stand-in for CuPy.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from datetime import date

import numpy as np


def _events_ms(cp, fn, reps):
    start, stop = cp.cuda.Event(), cp.cuda.Event()
    fn()
    ts = []
    for _ in range(reps):
        start.record()
        fn()
        stop.record()
        stop.synchronize()
        ts.append(cp.cuda.get_elapsed_time(start, stop))
    return statistics.median(ts)


def _peak_bytes(cp, fn):
    """``(peak bytes CuPy allocated during fn(), fn's result)``, beyond what was held before."""

    class Peak(cp.cuda.MemoryHook):
        name = "fastseg_peak"

        def __init__(self):
            self.live = self.peak = 0

        def malloc_postprocess(self, **kw):
            self.live += kw["mem_size"]
            self.peak = max(self.peak, self.live)

        def free_postprocess(self, **kw):
            self.live -= kw["mem_size"]

    hook = Peak()
    with hook:
        out = fn()
    return hook.peak, out


def _timed(cp, fn):
    cp.cuda.Device().synchronize()
    t = time.perf_counter()
    out = fn()
    cp.cuda.Device().synchronize()
    return time.perf_counter() - t, out


def _ms(v):
    return "–" if v is None else f"{v:.2f}"


def _failed(section):
    """Print the failure of ``section`` with the last frames of its traceback (the first
    run on a real GPU has to say where it broke) and return its one-line summary."""
    import sys
    import traceback

    err = sys.exc_info()[1]
    print(f"--- {section} FAILED; the last frames:\n{traceback.format_exc(limit=-4)}---", flush=True)
    return f"{section}: FAILED {type(err).__name__}: {err}"


def _fast_pytorch_kmeans_ms(X, C0, iters):
    """fast-pytorch-kmeans (the PyTorch peer in DESIGN.md): ms per Lloyd iteration from the
    same centres, on the same device memory (DLPack); None where it or a CUDA torch is missing."""
    try:
        import torch
        from fast_pytorch_kmeans import KMeans as FastPytorchKMeans
    except ImportError:
        return None
    if not torch.cuda.is_available():
        return None
    Xt, Ct = torch.from_dlpack(X), torch.from_dlpack(C0)

    def fit(m):
        km = FastPytorchKMeans(C0.shape[0], max_iter=m, tol=-1.0)  # tol < 0: never stops early
        torch.cuda.synchronize()
        t = time.perf_counter()
        km.fit_predict(Xt, centroids=Ct.clone())
        torch.cuda.synchronize()
        return time.perf_counter() - t

    fit(2)  # warm-up
    m = max(2, iters // 4)
    per = [(fit(2 * m) - fit(m)) / m for _ in range(3)]  # setup cancels out
    torch.cuda.empty_cache()
    return statistics.median(per) * 1e3


def _sweeps_and_dask(cp, X, args):
    """Issue #4's GPU sweeps, issue #5's segmentation engine part and issue #6's Dask path
    with CuPy chunks; each section reports its own failure and the benchmark goes on."""
    from fastseg import KMeans, sweep

    lines = []
    try:
        rng = np.random.default_rng(1)
        m = args.sweep_n
        centres = rng.standard_normal((6, 8)) * 6
        X8 = cp.asarray((centres[rng.integers(0, 6, m)] + rng.standard_normal((m, 8))).astype(np.float32))
        sweep(X8[: max(100, m // 10)], k=range(2, 5), random_state=0, device="gpu")  # warm-up: kernels built
        for metrics in (("inertia",), ("inertia", "calinski_harabasz", "davies_bouldin", "silhouette")):
            s, res = _timed(cp, lambda: sweep(X8, k=range(2, 21), random_state=0, device="gpu", metrics=metrics))
            lines.append(f"sweep k=2..20, {m:,} x 8, metrics={len(metrics)}: {s:.3f} s (target <= 0.25 s at "
                         f"1,000,000), best_k={res.best_k}")
        for kw in (dict(sample=min(50_000, m // 4)), dict(sample=min(5_120, m // 8), refine=False)):
            s, res = _timed(cp, lambda: sweep(X8, k=range(2, 21), random_state=0, device="gpu",
                                              metrics=("inertia",), **kw))
            how = "refined on every row" if kw.get("refine", True) else "every row labelled only"
            lines.append(f"sweep k=2..20, {m:,} x 8, fitted on a sample of {kw['sample']:,} rows, {how}: "
                         f"{s:.3f} s, best_k={res.best_k}")
        s, _ = _timed(cp, lambda: sweep(X, k=range(2, 33), random_state=0, device="gpu", metrics=("inertia",)))
        lines.append(f"sweep k=2..32, {X.shape[0]:,} x {X.shape[1]}, inertia only: {s:.3f} s (target <= 2 s)")
        sub = min(100_000, X.shape[0] // 4)
        s, _ = _timed(cp, lambda: sweep(X, k=range(2, 33), random_state=0, device="gpu", metrics=("inertia",),
                                        sample=sub))
        lines.append(f"the same, fitted on a sample of {sub:,} rows, then refined on every row: {s:.3f} s")
    except Exception:  # noqa: BLE001 - a benchmark reports, it does not stop
        lines.append(_failed("sweep"))
    try:  # issue #5: the engine part of `fastseg segment --rfm` on 1,000,000 customers
        import fastseg
        from fastseg.datasets import online_retail

        tx = online_retail(args.rfm_customers, n_rows=10 * args.rfm_customers, seed=0)
        table = fastseg.rfm(tx, customer="CustomerID", date="InvoiceDate", invoice="InvoiceNo",
                            quantity="Quantity", price="UnitPrice")
        del tx
        fastseg.Segmenter(random_state=0, device="gpu").fit(table.iloc[: max(500, len(table) // 20)])  # warm-up
        # the engine part: choosing k and fitting; the rules (CPU trees) and the stability refits apart
        s, seg = _timed(cp, lambda: fastseg.Segmenter(random_state=0, device="gpu", stability=0, rules=False).fit(table))
        lines.append(f"Segmenter.fit (k auto over 2..10) on {len(table):,} RFM customers: {s:.3f} s "
                     f"(target <= 2 s), k={seg.k}")
        sub = min(100_000, len(table) // 4)
        s, seg = _timed(cp, lambda: fastseg.Segmenter(random_state=0, device="gpu", stability=0, rules=False,
                                                      sample=sub).fit(table))
        lines.append(f"the same, k chosen on a sample of {sub:,} customers: {s:.3f} s, k={seg.k}")
        s, seg = _timed(cp, lambda: fastseg.Segmenter(random_state=0, device="gpu").fit(table))
        lines.append(f"Segmenter.fit as above with its defaults (+ rules, + 10 stability refits): {s:.3f} s")
    except Exception:  # noqa: BLE001
        lines.append(_failed("segmentation engine part"))
    try:
        import dask
        import dask.array as da

        rows = min(X.shape[0], 5_000_000)
        Xd = da.from_array(X[:rows], chunks=(-(-rows // 4), X.shape[1]), asarray=False)
        C = cp.asnumpy(X[:32])
        with dask.config.set(scheduler="threads"):
            KMeans(32, init=C, tol=0, max_iter=2).fit(Xd)  # warm-up
            t5, _ = _timed(cp, lambda: KMeans(32, init=C, tol=0, max_iter=5).fit(Xd))
            t15, _ = _timed(cp, lambda: KMeans(32, init=C, tol=0, max_iter=15).fit(Xd))
        lines.append(f"dask + CuPy chunks, {rows:,} x {X.shape[1]}, k=32, 4 chunks, threads scheduler: "
                     f"{(t15 - t5) / 10 * 1e3:.2f} ms per iteration")
    except ImportError:
        lines.append("dask + CuPy chunks: skipped (dask not installed here; bench/gpu_check.sh installs .whl/)")
    except Exception:  # noqa: BLE001
        lines.append(_failed("dask + CuPy chunks"))
    return lines


def _big_fit(cp, big_n, d):
    """Issue #3: n = 100,000,000 × 16 float32 fits on the GPU; time per iteration."""
    from fastseg import KMeans

    try:
        X = cp.empty((big_n, d), dtype=cp.float32)
        step = 10_000_000
        rng = np.random.default_rng(3)
        for a in range(0, big_n, step):  # generated a slice at a time on the host
            b = min(a + step, big_n)
            X[a:b] = cp.asarray(rng.standard_normal((b - a, d), dtype=np.float32))
        C = cp.asnumpy(X[:8])
        t3, _ = _timed(cp, lambda: KMeans(8, init=C, tol=0, max_iter=3, device="gpu").fit(X))
        t8, km = _timed(cp, lambda: KMeans(8, init=C, tol=0, max_iter=8, device="gpu").fit(X))
        return (f"{big_n:,} x {d} float32 (data {X.nbytes / 2**30:.1f} GiB): {(t8 - t3) / 5 * 1e3:.2f} ms per "
                f"Lloyd iteration (k=8), whole 8-iteration fit {t8:.2f} s")
    except Exception:  # noqa: BLE001 - a benchmark reports, it does not stop
        return _failed(f"{big_n:,} x {d} fit")


def main(argv=None):
    import cupy as cp

    os.environ.setdefault("FASTSEG_EXPERIMENTAL_GPU", "1")
    from fastseg import kmeans_plusplus
    from fastseg._lloyd import Run
    from fastseg.backend import get_backend

    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=10_000_000)
    ap.add_argument("--d", type=int, default=16)
    ap.add_argument("--ks", type=int, nargs="+", default=[8, 64, 256])
    ap.add_argument("--iters", type=int, default=20)
    ap.add_argument("--sklearn-n", type=int, default=1_000_000)
    ap.add_argument("--sweep-n", type=int, default=1_000_000)
    ap.add_argument("--rfm-customers", type=int, default=1_000_000)
    ap.add_argument("--big-n", type=int, default=100_000_000, help="rows of the large fit (0: skip)")
    ap.add_argument("--copy-mib", type=int, default=2048)
    ap.add_argument("--matmul-n", type=int, default=8192)
    args = ap.parse_args(argv)
    n, d = args.n, args.d

    # ceilings
    buf = cp.zeros(args.copy_mib * 2**20 // 4, dtype=cp.float32)
    dst = cp.empty_like(buf)
    copy_ms = _events_ms(cp, lambda: dst.__setitem__(Ellipsis, buf), 10)
    bw = 2 * buf.nbytes / (copy_ms / 1e3)  # bytes read + written per second
    del buf, dst
    mn = args.matmul_n
    A = cp.asarray(np.random.default_rng(2).standard_normal((mn, mn), dtype=np.float32))
    mm_ms = _events_ms(cp, lambda: A @ A, 10)
    rate = 2 * mn**3 / (mm_ms / 1e3)
    del A

    rng = np.random.default_rng(0)
    X = cp.asarray(rng.standard_normal((n, d), dtype=np.float32))
    gpu = get_backend("gpu")
    data = gpu.prepare(X, cp.ones(n, dtype=cp.float32))
    rows = []
    for k in args.ks:
        C0 = X[cp.asarray(rng.choice(n, k, replace=False))]
        # a whole Lloyd iteration as a fit runs it: labels and totals, the centre update,
        # the host's one small copy; iterations follow one another from C0
        try:
            run = Run(gpu, data, C0 - data.shift)
            fs = _events_ms(cp, lambda: gpu.lloyd_iteration_multi(data, [run]), args.iters)
        except Exception:  # noqa: BLE001 - the first run on a GPU must report every section
            _failed(f"fastseg Lloyd iteration k={k}")
            fs = None

        def plain():
            D = X @ C0.T
            D *= -2
            D += (C0 * C0).sum(axis=1)
            lab = D.argmin(axis=1)
            sums = cp.zeros((k, d), dtype=cp.float32)
            cp.add.at(sums, lab, X)
            return cp.bincount(lab, minlength=k)

        pl = _events_ms(cp, plain, max(3, args.iters // 4))
        try:
            fp = _fast_pytorch_kmeans_ms(X, C0, args.iters)
        except Exception as e:  # noqa: BLE001 - a peer that fails is reported, not fatal
            print(f"fast-pytorch-kmeans k={k}: FAILED {type(e).__name__}: {e}")
            fp = None
        floor = max(4 * n * d / bw, 2 * n * k * d / rate) * 1e3
        rows.append((k, floor, fs, pl, fp))
        print(f"k={k}: floor {floor:.2f} ms, fastseg {_ms(fs)} ms, plain CuPy {pl:.2f} ms, "
              f"fast-pytorch-kmeans {_ms(fp)} ms")  # as it comes: a later failure cannot hide it

    from sklearn.cluster import KMeans as SK

    Xs = cp.asnumpy(X[: args.sklearn_n])
    sk = {}
    for k in args.ks:
        init = Xs[:k]
        t = time.perf_counter()
        km = SK(k, init=init, n_init=1, max_iter=5, tol=0).fit(Xs)
        sk[k] = (time.perf_counter() - t) / km.n_iter_ * 1e3 * n / args.sklearn_n

    try:
        kmeans_plusplus(X[: max(1000, n // 100)], 8, random_state=0, device="gpu")  # warm-up: kernel built
        seed_s, _ = _timed(cp, lambda: kmeans_plusplus(X, 256, random_state=0, device="gpu"))
        seed_line = f"k-means++ seeding k=256 on {n:,} x {d}: {seed_s:.3f} s (target <= 0.25 s)"
    except Exception:  # noqa: BLE001
        seed_line = _failed("k-means++ seeding k=256")
    print(seed_line)

    # GPU memory of a whole fit (seeding, Lloyd, the closing pass) on data already there
    from fastseg import KMeans

    del data
    cp.get_default_memory_pool().free_all_blocks()
    try:
        peak, km = _peak_bytes(cp, lambda: KMeans(8, random_state=0, max_iter=5, device="gpu").fit(X))
        budget = 0.05 * X.nbytes + 256 * 2**20
        mem_line = (f"GPU memory of KMeans(8).fit on {n:,} x {d} (data {X.nbytes / 2**20:.0f} MiB, on the device): "
                    f"{peak / 2**20:.0f} MiB beyond the data ({peak / X.nbytes:.1%} of it; budget 5% + 256 MiB = "
                    f"{budget / 2**20:.0f} MiB; labels alone are {4 * n / 2**20:.0f} MiB)")
    except Exception:  # noqa: BLE001
        mem_line = _failed("GPU memory of KMeans(8).fit")
    print(mem_line)
    extras = [mem_line] + _sweeps_and_dask(cp, X, args)
    if args.big_n:
        extras.append(_big_fit(cp, args.big_n, d))

    for line in extras:
        print(line)
    dev = cp.cuda.runtime.getDeviceProperties(0)["name"].decode()
    print(f"# {date.today()} · {dev} · copy {bw / 1e12:.2f} TB/s · fp32 matmul {rate / 1e12:.1f} TFLOP/s · "
          f"n={n:,} d={d} float32")
    print("| k | floor ms | fastseg ms | ×floor | plain CuPy ms | ×floor | fast-pytorch-kmeans ms | ×floor | "
          "sklearn (scaled) ms |")
    print("|---|---|---|---|---|---|---|---|---|")
    for k, floor, fs, pl, fp in rows:
        ours = "FAILED | –" if fs is None else f"{fs:.2f} | {fs / floor:.1f}"
        peer = "– | –" if fp is None else f"{fp:.2f} | {fp / floor:.1f}"
        print(f"| {k} | {floor:.2f} | {ours} | {pl:.2f} | {pl / floor:.1f} | {peer} | {sk[k]:.0f} |")
    print(seed_line)


if __name__ == "__main__":
    main()
