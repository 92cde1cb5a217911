"""GPU memory the GPU backend holds per row, counted on the CuPy stand-in.

tests/cupy_on_numpy counts every device allocation, so the backend's memory can be
measured without a GPU. With the pieces of per-row temporaries cut small, the growth
of the peak between two sizes of X is what the backend keeps per row; the fixed part
(pieces, partial sums) is bounded by module constants. On a GPU, bench/gpu_bench.py
reads the real peak.
"""

import sys

import numpy as np
import pytest

import cuda_on_cpu

if cuda_on_cpu.available() is not None:
    pytest.skip(cuda_on_cpu.available(), allow_module_level=True)

D = 16  # a row is 64 bytes in float32


@pytest.fixture
def stand_in(monkeypatch):
    import cupy_on_numpy

    from fastseg.backend import gpu

    monkeypatch.setenv("FASTSEG_EXPERIMENTAL_GPU", "1")
    cupy_on_numpy.configure()
    monkeypatch.setitem(sys.modules, "cupy", cupy_on_numpy)
    monkeypatch.setattr(gpu, "function", cupy_on_numpy.kernel_function)
    monkeypatch.setattr(gpu, "_PIECE_BYTES", 1 << 18)
    monkeypatch.setattr(gpu, "_PARTIAL_BUDGET", 1 << 20)
    return cupy_on_numpy


def _per_row(stand_in, job, on_device=True, sizes=(100_000, 200_000)):
    peaks = []
    for n in sizes:
        X = np.random.default_rng(n).standard_normal((n, D)).astype(np.float32)
        Xin = stand_in.asarray(X) if on_device else X
        with stand_in.memory.measure() as m:
            job(Xin)
        peaks.append(m["peak"])
    per_row = (peaks[1] - peaks[0]) / (sizes[1] - sizes[0])
    fixed = peaks[0] - per_row * sizes[0]
    return per_row, fixed


def test_fit_keeps_a_few_bytes_per_row_beyond_the_data(stand_in):
    from fastseg import KMeans

    per_row, fixed = _per_row(stand_in, lambda X: KMeans(8, random_state=0, device="gpu", max_iter=4).fit(X))
    # the weights, then k-means++'s closest distances or Lloyd's labels: 8 bytes
    assert per_row <= 8.5, per_row
    assert fixed <= 8 * 2**20
    host, _ = _per_row(stand_in, lambda X: KMeans(8, random_state=0, device="gpu", max_iter=4).fit(X),
                       on_device=False)
    assert host <= 4 * D + 8.5  # host X is copied over once


@pytest.mark.parametrize("k", [4, 64])
def test_kmeans_plusplus_memory_does_not_grow_with_trials(stand_in, k):
    from fastseg import kmeans_plusplus

    per_row, _ = _per_row(stand_in, lambda X: kmeans_plusplus(X, k, random_state=0, device="gpu"))
    assert per_row <= 8.5, per_row  # weights and closest: no ‖x‖², no (2 + ln k) candidate arrays


def test_sweep_adds_only_each_runs_labels(stand_in):
    from fastseg import sweep

    per_row, _ = _per_row(stand_in, lambda X: sweep(X, k=range(2, 8), random_state=0, device="gpu", max_iter=3,
                                                   metrics=("inertia",)))
    assert per_row <= 8.5 + 4 * 6, per_row


@pytest.mark.parametrize("n_runs", [1, 5])
def test_one_small_copy_to_the_host_per_iteration(stand_in, n_runs):
    # issue #3: convergence is decided on the device; label changes, centre shifts and
    # empty-cluster counts of every run in the batch come back together
    from fastseg import sweep

    X = stand_in.asarray(np.random.default_rng(0).standard_normal((3000, 4)).astype(np.float32))
    ks = range(6, 6 + n_runs)
    copies = []
    for iters in (3, 7):
        stand_in.to_host["copies"] = 0
        res = sweep(X, k=ks, random_state=0, device="gpu", max_iter=iters, tol=0, metrics=("inertia",))
        assert all(res.n_iter[k] == iters for k in ks)  # nobody converged early
        copies.append(stand_in.to_host["copies"])
    assert (copies[1] - copies[0]) / 4 == 1
