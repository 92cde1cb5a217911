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
    monkeypatch.setattr(gpu, "_PARTIAL_BUDGET", 1 << 16)  # partial sums: bounded, not per row
    return cupy_on_numpy


def _per_row(stand_in, job, on_device=True, sizes=(100_000, 200_000), weighted=False):
    peaks = []
    for n in sizes:
        X = np.random.default_rng(n).standard_normal((n, D)).astype(np.float32)
        Xin = stand_in.asarray(X) if on_device else X
        w = np.random.default_rng(n + 1).uniform(0.5, 2.0, n).astype(np.float32) if weighted else None
        with stand_in.memory.measure() as m:
            job(Xin) if w is None else job(Xin, w)
        peaks.append(m["peak"])
    per_row = (peaks[1] - peaks[0]) / (sizes[1] - sizes[0])
    fixed = peaks[0] - per_row * sizes[0]
    return per_row, fixed


def test_fit_keeps_a_few_bytes_per_row_beyond_the_data(stand_in):
    from fastseg import KMeans

    per_row, fixed = _per_row(stand_in, lambda X: KMeans(8, random_state=0, device="gpu", max_iter=4).fit(X))
    # k-means++'s closest distances, then Lloyd's labels: 4 bytes (no array of unit weights)
    assert per_row <= 4.5, per_row
    assert fixed <= 8 * 2**20
    host, _ = _per_row(stand_in, lambda X: KMeans(8, random_state=0, device="gpu", max_iter=4).fit(X),
                       on_device=False)
    assert host <= 4 * D + 4.5  # host X is copied over once
    weighted, _ = _per_row(stand_in, lambda X, w: KMeans(8, random_state=0, device="gpu", max_iter=4)
                           .fit(X, sample_weight=w), weighted=True)
    assert weighted <= 8.5, weighted  # + the weights


@pytest.mark.parametrize("k", [4, 64])
def test_kmeans_plusplus_memory_does_not_grow_with_trials(stand_in, k):
    from fastseg import kmeans_plusplus

    per_row, _ = _per_row(stand_in, lambda X: kmeans_plusplus(X, k, random_state=0, device="gpu"))
    assert per_row <= 4.5, per_row  # closest: no weights, no ‖x‖², no (2 + ln k) candidate arrays


def test_sweep_adds_only_each_runs_labels(stand_in):
    from fastseg import sweep

    per_row, _ = _per_row(stand_in, lambda X: sweep(X, k=range(2, 8), random_state=0, device="gpu", max_iter=3,
                                                   metrics=("inertia",)))
    assert per_row <= 0.5 + 4 * 6, per_row


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


def test_array_operations_per_iteration_do_not_grow_with_the_runs(stand_in):
    # CuPy spends microseconds of host time on every array operation (kernel launch,
    # ufunc, view), comparable to a whole Lloyd iteration's kernels at k = 8 on an H100:
    # an iteration of resident X is the step's kernels and finish_iteration, with no
    # per-run operations, so a sweep of 19 runs costs the host what a sweep of 2 does.
    from fastseg import KMeans, sweep

    X = stand_in.asarray(np.random.default_rng(0).standard_normal((3000, 8)).astype(np.float32))
    C = np.random.default_rng(1).standard_normal((8, 8)).astype(np.float32)

    def per_iteration(job):
        ops = []
        for iters in (3, 7):
            stand_in.array_ops["count"] = 0
            job(iters)
            ops.append(stand_in.array_ops["count"])
        return (ops[1] - ops[0]) / 4

    one = per_iteration(lambda it: KMeans(8, init=C, n_init=1, max_iter=it, tol=0, device="gpu").fit(X))
    assert one <= 5, one  # row_norms, two partial buffers, lloyd_fused, finish_iteration
    few, many = (per_iteration(lambda it: sweep(X, k=ks, random_state=0, device="gpu", max_iter=it, tol=0,
                                                 metrics=("inertia",))) for ks in (range(2, 4), range(2, 21)))
    assert few == many <= 6, (few, many)  # and two kernels for every run at once instead of one


def test_kmeans_plusplus_makes_no_copy_to_the_host_per_centre(stand_in):
    # issue #3: "no host round trip per step beyond a scalar": here not even that; the
    # rows drawn come back once, at the end
    from fastseg import kmeans_plusplus

    X = stand_in.asarray(np.random.default_rng(0).standard_normal((3000, 8)).astype(np.float32))
    copies = []
    for k in (5, 25):
        stand_in.to_host["copies"] = 0
        kmeans_plusplus(X, k, random_state=0, device="gpu")
        copies.append(stand_in.to_host["copies"])
    assert copies[0] == copies[1], copies  # a few at the start (the data's moments) and the rows


def test_data_larger_than_free_gpu_memory_is_streamed(stand_in):
    # issue #3: host data that does not fit stays on the host and comes over in batches,
    # chosen by prepare() from the free memory, and the fit is the resident one
    from fastseg import KMeans
    from fastseg.backend.gpu import CuPyBackend, memory_needed

    rng = np.random.default_rng(5)
    X = (rng.standard_normal((60_000, D)) + rng.integers(0, 4, (60_000, 1)) * 3).astype(np.float32)
    C = X[:6].copy()
    resident = KMeans(6, init=C, tol=0, max_iter=15, device="gpu").fit(X)
    stand_in.configure(total_bytes=memory_needed(*X.shape, 4, x_on_device=False) - X.nbytes // 2)
    backend = CuPyBackend(0)
    data = backend.prepare(X, np.ones(len(X), np.float32))
    assert data.batches is not None and len(data.batches) >= 2  # decided from the free memory
    del data
    streamed = KMeans(6, init=C, tol=0, max_iter=15, device=backend).fit(X)
    np.testing.assert_array_equal(streamed.labels_, resident.labels_)
    np.testing.assert_allclose(streamed.cluster_centers_, resident.cluster_centers_, rtol=1e-5, atol=1e-5)


def test_out_of_memory_inside_an_op_is_a_clear_error(stand_in, monkeypatch):
    # a CUDA out-of-memory never escapes as a crash from deep inside: it says what to do
    from fastseg import KMeans
    from fastseg.backend import gpu

    X = stand_in.asarray(np.random.default_rng(6).standard_normal((50_000, D)).astype(np.float32))
    monkeypatch.setattr(gpu, "memory_needed", lambda *a, **k: 0)  # let prepare() through
    stand_in.configure(total_bytes=stand_in.memory.live + 300_000)  # then room for little
    with pytest.raises(MemoryError, match=r"GPU 0 ran out of memory in \w+ .*device='cpu'"):
        KMeans(8, random_state=0, device="gpu").fit(X)
