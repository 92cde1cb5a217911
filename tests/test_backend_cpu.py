"""Engine ops of the NumPy backend against direct, unoptimised NumPy references.

Fresh random data at awkward sizes; outputs are poisoned before each call so an op
that forgets to write a row is caught.
"""

import numpy as np
import pytest

from fastseg._lloyd import combine_levels
from fastseg.backend import NumPyBackend, cpu_kernels, get_backend
from fastseg.backend._base import needs_centering

SIZES = [  # (n, k, d)
    (1, 1, 1),
    (2, 1, 3),
    (97, 5, 7),
    (1009, 13, 1),
    (4099, 8, 16),  # crosses a sub-chunk boundary
    (16411, 33, 5),  # crosses a block boundary
    (9001, 64, 3),  # the largest k of the transposed tile
    (9001, 65, 3),  # the smallest k of the row-wise argmin
    (3001, 1100, 4),  # k > 1024
    (257, 6, 300),  # wide rows
]
TOL = {np.float32: 1e-5, np.float64: 1e-12}


def _ref_sq_dist(X, C):
    X = X.astype(np.float64)
    C = C.astype(np.float64)
    return ((X[:, None, :] - C[None, :, :]) ** 2).sum(axis=2)


def _data(rng, n, k, d, dtype, offset=0.0):
    X = (rng.standard_normal((n, d)) * rng.uniform(0.5, 3.0, d) + offset).astype(dtype)
    w = rng.uniform(0.1, 2.0, n).astype(dtype)
    C = X[rng.choice(n, k, replace=k > n)] + rng.normal(0, 0.1, (k, d)).astype(dtype)
    return X, w, C.astype(dtype)


def _labels_ok(labels, D):
    """Labels must reach the minimum distance (ties may pick either centre)."""
    rows = np.arange(D.shape[0])
    best = D.min(axis=1)
    return np.all(D[rows, labels] <= best * (1 + 1e-4) + 1e-6 * (1 + np.abs(best)))


@pytest.fixture(params=[(1, False), (2, False), (1, True), (2, True)],
                ids=["1thread-numpy", "2threads-numpy", "1thread-compiled", "2threads-compiled"])
def backend(request):
    threads, compiled = request.param
    if compiled and cpu_kernels.load() is None:
        pytest.skip(f"compiled CPU kernel unavailable: {cpu_kernels.reason}")
    return NumPyBackend(n_threads=threads, compiled=compiled)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("n,k,d", SIZES)
def test_lloyd_step_matches_reference(backend, rng, n, k, d, dtype):
    if n * k > 2_000_000 and d > 4:
        pytest.skip("reference too large")
    X, w, C = _data(rng, n, k, d, dtype)
    data = backend.prepare(X, w)
    Cs = C - data.shift
    labels = np.full(n, -1, np.int32)  # no labels yet
    sums = np.zeros((data.levels, k, d))
    counts = np.zeros((data.levels, k))
    changed, inertia = backend.lloyd_step(data, Cs, labels, sums, counts, with_inertia=True)
    assert changed == n
    assert data.levels == (2 if dtype == np.float64 else 1)  # float64 totals are exact

    D = _ref_sq_dist(X, C)
    assert labels.dtype == np.int32 and labels.min() >= 0 and labels.max() < k
    assert _labels_ok(labels, D)
    ref_lab = D.argmin(axis=1)
    # identical except at (near-)ties
    assert np.mean(labels == ref_lab) >= 0.999 or n < 1000

    Xs = X.astype(np.float64) - data.shift.astype(np.float64)
    w64 = w.astype(np.float64)
    ref_sums = np.zeros((k, d))
    np.add.at(ref_sums, labels, Xs * w64[:, None])
    ref_counts = np.bincount(labels, weights=w64, minlength=k)
    ref_inertia = float((D[np.arange(n), labels] * w64).sum())
    tol = TOL[dtype]
    scale = np.abs(Xs).max() * w64.sum()
    np.testing.assert_allclose(combine_levels(sums, counts)[0], ref_sums, rtol=tol, atol=tol * scale)
    np.testing.assert_allclose(combine_levels(sums, counts)[1], ref_counts, rtol=tol)
    assert inertia == pytest.approx(ref_inertia, rel=max(tol, 1e-4 if dtype == np.float32 else tol), abs=1e-9)

    # A second step from moved centres updates the totals incrementally: they must
    # equal a fresh accumulation over the new labels.
    C2 = C + rng.normal(0, 0.5, C.shape).astype(dtype)
    old = labels.copy()
    changed, _ = backend.lloyd_step(data, C2 - data.shift, labels, sums, counts)
    assert changed == np.count_nonzero(labels != old)
    assert _labels_ok(labels, _ref_sq_dist(X, C2))
    ref_sums = np.zeros((k, d))
    np.add.at(ref_sums, labels, Xs * w64[:, None])
    ref_counts = np.bincount(labels, weights=w64, minlength=k)
    tot_sums, tot_counts = combine_levels(sums, counts)
    np.testing.assert_allclose(tot_sums, ref_sums, rtol=tol, atol=3 * tol * scale)
    np.testing.assert_allclose(tot_counts, ref_counts, rtol=tol, atol=tol * w64.sum())
    if data.grid is not None:
        # exact levels: the incremental totals have the bits of a fresh accumulation
        fresh = np.zeros_like(sums), np.zeros_like(counts)
        backend.lloyd_step(data, C2 - data.shift, np.full(n, -1, np.int32), *fresh)
        np.testing.assert_array_equal(sums, fresh[0])
        np.testing.assert_array_equal(counts, fresh[1])


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("n,k,d", SIZES)
def test_assign_and_distances(backend, rng, n, k, d, dtype):
    X, w, C = _data(rng, n, k, d, dtype, offset=50.0)  # far from the origin: shifted
    data = backend.prepare(X, w)
    assert data.centered
    Cs = C - data.shift
    labels = np.full(n, -7, np.int32)
    min_sq = np.full(n, np.nan, dtype)
    backend.assign(data, Cs, labels, min_sq)
    D = _ref_sq_dist(X, C)
    assert _labels_ok(labels, D)
    scale = D.max() + 1
    np.testing.assert_allclose(min_sq, D.min(axis=1), atol=10 * TOL[dtype] * scale)

    exact = backend.sq_dist_to_assigned(data, Cs, labels)
    np.testing.assert_allclose(exact, D[np.arange(n), labels], rtol=TOL[dtype] * 10, atol=TOL[dtype])

    dist = backend.distances(data, Cs)
    assert dist.shape == (n, k) and dist.dtype == dtype
    np.testing.assert_allclose(dist**2, D, atol=10 * TOL[dtype] * scale)


def test_labels_are_first_minimum_on_exact_ties(backend):
    # Two identical centres: argmin semantics give the lower index, in both strategies.
    X = np.arange(40, dtype=np.float64).reshape(20, 2)
    for k in (4, 64, 100):  # transposed tile (k ≤ 64) and row-wise argmin
        C = np.repeat(X[:2], k // 2, axis=0)
        data = backend.prepare(X, np.ones(20))
        labels = np.full(20, -1, np.int32)
        backend.assign(data, C - data.shift, labels)
        D = _ref_sq_dist(X, C)
        np.testing.assert_array_equal(labels, D.argmin(axis=1))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_kpp_ops(backend, rng, dtype):
    n, d = 5003, 6
    X, w, C = _data(rng, n, 4, d, dtype)
    data = backend.prepare(X, w)
    closest = np.full(n, np.inf, dtype)
    pot = backend.kpp_add_center(data, C[0] - data.shift, closest)
    ref = _ref_sq_dist(X, C[:1])[:, 0]
    np.testing.assert_allclose(closest, ref, rtol=1e-4, atol=1e-4)
    assert pot == pytest.approx(float(ref @ w.astype(np.float64)), rel=1e-5)

    out = np.full((3, n), np.nan, dtype)
    pots = backend.kpp_potentials(data, C[1:] - data.shift, closest, out)
    D = _ref_sq_dist(X, C[1:])
    ref_min = np.minimum(D, ref[:, None])
    ref_pots = (ref_min * w[:, None].astype(np.float64)).sum(axis=0)
    np.testing.assert_allclose(pots, ref_pots, rtol=1e-5)
    np.testing.assert_allclose(out, ref_min.T, rtol=1e-4, atol=1e-4)

    cdf = np.cumsum(closest.astype(np.float64) * w)
    targets = np.r_[0.0, np.sort(rng.uniform(0, cdf[-1], 50)), cdf[-1] * 2]
    idx = backend.kpp_sample(data, closest, targets)
    assert idx.min() >= 0 and idx.max() <= n - 1
    assert idx[-1] == n - 1  # beyond the total: clipped
    ref_idx = np.searchsorted(cdf, targets[:-1], side="right")
    # the same row as one global cumulative sum, up to rounding at a row boundary
    assert np.all(np.abs(idx[:-1] - ref_idx) <= 1)
    assert np.mean(idx[:-1] == ref_idx) >= 0.9


def test_kpp_sample_never_draws_zero_mass_rows():
    backend = get_backend("cpu")
    X = np.zeros((6, 1))
    w = np.array([0, 1, 0, 0, 1, 0], float)
    data = backend.prepare(X, w)
    ones = np.ones(6)
    idx = backend.kpp_sample(data, ones, np.array([0.0, 0.5, 1.0, 1.5]))
    assert set(idx.tolist()) <= {1, 4}


@pytest.mark.production_blocks
def test_small_data_is_not_cut_into_small_blocks():
    # A block costs Python time per run it serves: a sweep of 27 runs over 2,000 rows
    # took 16 ms an iteration in 256-row blocks. Small data runs in one block, no threads.
    from fastseg.backend import cpu

    be = NumPyBackend(n_threads=2)
    assert be._blocks(2000) == [(0, 2000)]
    assert [e - s for s, e in be._blocks(10_000)] == [4096, 4096, 1808]
    big = be._blocks(1_000_000)  # large data: as before, four blocks per thread at least
    assert len(big) >= 8 and max(e - s for s, e in big) <= cpu._BLOCK_ROWS
    calls = []
    be._run(2000, lambda s, e: calls.append((s, e)))
    assert calls == [(0, 2000)] and be._pool is None  # no thread pool started


def test_centering_decision():
    assert not needs_centering(np.zeros(3), 3.0)
    assert needs_centering(np.full(3, 10.0), 301.0)


def test_get_backend_errors():
    with pytest.raises(ValueError, match="device"):
        get_backend("tpu")
    with pytest.raises(ValueError, match="device"):
        get_backend(3)
    with pytest.raises(RuntimeError, match="GPU engine"):
        get_backend("gpu")
    assert get_backend("auto").name == "cpu"


def test_import_does_not_import_cupy():
    import subprocess
    import sys

    code = "import sys, fastseg; fastseg.KMeans(2, device='cpu').fit([[0.0],[1.0],[2.0]]); print('cupy' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_gpu_memory_estimate_and_message_without_a_gpu():
    # the GPU backend's out-of-memory advice is plain Python: checked here, where CI runs
    from fastseg.backend.gpu import memory_needed, out_of_memory_message

    n, d = 100_000_000, 16
    host = memory_needed(n, d, 4, x_on_device=False)
    dev = memory_needed(n, d, 4, x_on_device=True)
    assert host - dev == n * d * 4  # X is counted only when it must be copied over
    assert dev >= n * 16  # labels, norms, distances per row
    msg = out_of_memory_message(0, host, 40 * 2**30)
    assert "GPU 0" in msg and f"{host / 2**30:.2f} GiB" in msg and "40.00 GiB are free" in msg
    assert "device='cpu'" in msg and "dask" in msg
