"""The compiled CPU kernel (kernels/cpu_nearest.c) against the NumPy path and direct distances.

Where a C compiler is found the kernel must build (in CI this fails rather than skips,
so a kernel that does not compile cannot land); without one the engine falls back to
NumPy, which is tested here too.
"""

import os
import shutil
import subprocess

import numpy as np
import pytest
from sklearn.datasets import load_breast_cancer, load_digits, load_iris, load_wine
from sklearn.preprocessing import StandardScaler

import fastseg
from fastseg.backend import NumPyBackend, cpu_kernels
from fastseg.backend.kernels import kernel_dir

KERNEL = cpu_kernels.load()
needs_kernel = pytest.mark.skipif(KERNEL is None, reason=f"compiled CPU kernel unavailable: {cpu_kernels.reason}")


def _cc():
    return cpu_kernels._compiler()


def test_kernel_builds_where_a_compiler_is():
    if _cc() is None:
        if os.environ.get("CI"):
            pytest.fail("no C compiler on the CI machine; the CPU kernel must be built in CI")
        pytest.skip("no C compiler")
    assert KERNEL is not None, cpu_kernels.reason
    assert KERNEL.path.exists()


def test_kernel_source_compiles_with_warnings_as_errors(tmp_path):
    cc = _cc()
    if cc is None:
        pytest.skip("no C compiler")
    out = subprocess.run(cc + ["-std=c11", "-O2", "-Wall", "-Wextra", "-Werror", "-Wno-psabi", "-c",
                               "-o", str(tmp_path / "k.o"), str(kernel_dir() / cpu_kernels.SOURCE)],
                         capture_output=True, text=True)
    assert out.returncode == 0, out.stderr


def _direct(X, C):
    """‖c‖² − 2 x·c in float64, the quantity the kernel minimises."""
    X64, C64 = X.astype(np.float64), C.astype(np.float64)
    return (C64 * C64).sum(1)[None, :] - 2 * X64 @ C64.T


def _check(X, C, labels, mins, dtype):
    D = _direct(X, C)
    rows = np.arange(len(X))
    best = D.min(axis=1)
    # the chosen centre is the nearest, up to the rounding of the distances
    scale = (X.astype(np.float64) ** 2).sum(1) + (C.astype(np.float64) ** 2).sum(1).max()
    eps = 64 * np.finfo(dtype).eps * scale
    assert np.all(D[rows, labels] <= best + eps)
    np.testing.assert_array_less(np.abs(mins - D[rows, labels]), eps + 1e-30)


def _rows_and_weights(rng, n, d, dtype):
    return rng.standard_normal((n, d)).astype(dtype), rng.uniform(0.1, 2, n).astype(dtype)


SHAPES = [  # (n, k, d): row groups are 16 (float32) or 8 (float64) rows; centre steps 6 and 2
    (1, 1, 1),
    (2, 1, 3),
    (15, 2, 2),
    (16, 3, 16),
    (17, 7, 5),
    (97, 8, 3),
    (1031, 13, 32),
    (4099, 64, 16),
    (2003, 257, 7),
    (500, 1000, 4),
    (300, 5, 64),  # the kernel's own limit
]


@needs_kernel
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("n,k,d", SHAPES)
def test_kernel_finds_the_nearest_centre(rng, n, k, d, dtype):
    X = rng.standard_normal((n, d)).astype(dtype)
    C = (rng.standard_normal((k, d)) * 1.2).astype(dtype)
    labels = np.full(n, -7, np.int32)  # poisoned: every row must be written
    mins = np.full(n, np.nan, dtype)
    KERNEL.nearest(X, KERNEL.pack(C), labels, mins)
    assert labels.min() >= 0 and labels.max() < k
    _check(X, C, labels, mins, dtype)


@needs_kernel
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_kernel_agrees_with_the_numpy_path(rng, dtype):
    n, d = 20011, 16
    X = (rng.standard_normal((n, d)) * rng.uniform(0.5, 3, d)).astype(dtype)
    for k in (1, 8, 33, 64, 130):
        C = X[rng.choice(n, k, replace=False)] + rng.normal(0, 0.1, (k, d)).astype(dtype)
        fast, slow = NumPyBackend(1, compiled=True), NumPyBackend(1, compiled=False)
        lab_f, lab_s = np.full(n, -1, np.int32), np.full(n, -1, np.int32)
        min_f, min_s = np.empty(n, dtype), np.empty(n, dtype)
        fast._nearest(X, fast._prep_centers(C), lab_f, min_f)
        slow._nearest(X, slow._prep_centers(C), lab_s, min_s)
        differ = np.flatnonzero(lab_f != lab_s)
        # only near-ties may go either way, and only a handful of them
        assert differ.size <= max(2, n // 5000)
        D = _direct(X[differ], C)
        gap = np.abs(D[np.arange(differ.size), lab_f[differ]] - D[np.arange(differ.size), lab_s[differ]])
        scale = np.abs(_direct(X[:200], C)).max()
        assert np.all(gap <= (1e-5 if dtype == np.float32 else 1e-12) * scale)
        np.testing.assert_allclose(min_f, min_s, rtol=1e-5 if dtype == np.float32 else 1e-12,
                                   atol=1e-5 * np.abs(min_s).max())


@needs_kernel
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_ties_go_to_the_first_centre(rng, dtype):
    C = rng.standard_normal((9, 4)).astype(dtype)
    C = np.vstack([C, C, C])  # every centre three times: 0..8, 9..17, 18..26
    X = np.vstack([C, rng.standard_normal((40, 4)).astype(dtype)])
    labels = np.empty(len(X), np.int32)
    KERNEL.nearest(X, KERNEL.pack(C), labels)
    assert labels.max() < 9
    np.testing.assert_array_equal(labels[:27], np.tile(np.arange(9), 3))


@needs_kernel
def test_rows_with_a_stride(rng):
    wide = rng.standard_normal((333, 10)).astype(np.float32)
    X = wide[:, :6]  # rows 10 apart, 6 features used
    C = rng.standard_normal((11, 6)).astype(np.float32)
    a, b = np.empty(333, np.int32), np.empty(333, np.int32)
    KERNEL.nearest(X, KERNEL.pack(C), a)
    KERNEL.nearest(np.ascontiguousarray(X), KERNEL.pack(C), b)
    np.testing.assert_array_equal(a, b)
    with pytest.raises(ValueError, match="contiguous"):
        KERNEL.nearest(np.asfortranarray(wide), KERNEL.pack(rng.standard_normal((3, 10)).astype(np.float32)), a)


@needs_kernel
def test_too_many_features_is_refused_not_misread(rng):
    d = KERNEL.dmax + 1
    X = rng.standard_normal((20, d))
    with pytest.raises(ValueError, match=f"d={d}"):
        KERNEL.nearest(X, KERNEL.pack(rng.standard_normal((3, d))), np.empty(20, np.int32))
    # the engine never hands it such data: the GEMM path takes over
    be = NumPyBackend(1, compiled=True)
    assert be._prep_centers(rng.standard_normal((3, 60))).packed is None
    assert be._prep_centers(rng.standard_normal((3, 8))).packed is not None


@needs_kernel
@pytest.mark.parametrize("loader", [load_iris, load_wine, load_breast_cancer, load_digits])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_fits_agree_with_and_without_the_kernel(loader, dtype):
    X = StandardScaler().fit_transform(loader().data).astype(dtype)
    init = X[np.random.default_rng(3).choice(len(X), 8, replace=False)]
    fits = [fastseg.KMeans(8, init=init, n_init=1, device=NumPyBackend(2, compiled=c)).fit(X) for c in (True, False)]
    np.testing.assert_array_equal(fits[0].labels_, fits[1].labels_)
    np.testing.assert_allclose(fits[0].inertia_, fits[1].inertia_, rtol=1e-5 if dtype == np.float32 else 1e-12)
    assert fits[0].n_iter_ == fits[1].n_iter_


def test_without_a_compiler_the_numpy_path_runs(tmp_path, monkeypatch, rng):
    monkeypatch.setenv("CC", str(tmp_path / "no-such-compiler"))
    monkeypatch.setenv("FASTSEG_CACHE_DIR", str(tmp_path / "cache"))
    assert cpu_kernels.load() is None
    assert "no C compiler" in cpu_kernels.reason
    with pytest.raises(RuntimeError, match="not available.*no C compiler"):
        NumPyBackend(1, compiled=True)
    X = rng.standard_normal((500, 3))
    km = fastseg.KMeans(4, random_state=0, n_init=1, device=NumPyBackend(1)).fit(X)
    assert km.labels_.shape == (500,)
    assert not (tmp_path / "cache").exists() or not any((tmp_path / "cache").iterdir())


def test_a_failing_compiler_leaves_no_file(tmp_path, monkeypatch):
    false = shutil.which("false")
    if false is None:
        pytest.skip("no `false` command")
    monkeypatch.setenv("CC", false)
    monkeypatch.setenv("FASTSEG_CACHE_DIR", str(tmp_path / "cache"))
    assert cpu_kernels.load() is None
    assert "compiler failed" in cpu_kernels.reason
    assert list((tmp_path / "cache").iterdir()) == []  # no half-written library left behind


def test_can_be_switched_off(monkeypatch):
    monkeypatch.setenv("FASTSEG_CPU_KERNEL", "0")
    assert cpu_kernels.load() is None
    assert "FASTSEG_CPU_KERNEL" in cpu_kernels.reason
    assert NumPyBackend(1)._prep_centers(np.ones((2, 3))).packed is None


@needs_kernel
def test_built_once_then_loaded_from_the_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("FASTSEG_CACHE_DIR", str(tmp_path / "c"))
    first = cpu_kernels.load()
    files = list((tmp_path / "c").iterdir())
    assert len(files) == 1 and first.path == files[0]
    mtime = files[0].stat().st_mtime_ns
    monkeypatch.setattr(cpu_kernels, "_loaded", {})  # as a new process would
    second = cpu_kernels.load()
    assert second.path == first.path and second.path.stat().st_mtime_ns == mtime


def test_backend_pickles_its_choice():
    import pickle

    be = pickle.loads(pickle.dumps(NumPyBackend(2, compiled=False)))
    assert be.compiled is False and be.n_threads == 2
    assert be._prep_centers(np.ones((2, 3))).packed is None


@needs_kernel
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("n,k,d", [(1, 1, 1), (17, 3, 5), (4099, 64, 16), (1031, 13, 32)])
def test_kernel_adds_rows_to_their_centres(rng, n, k, d, dtype):
    X, w = _rows_and_weights(rng, n, d, dtype)
    C = rng.standard_normal((k, d)).astype(dtype)
    sums, counts = np.full((k, d), 0.5), np.full(k, 0.25)  # added to, not overwritten
    labels = np.full(n, -1, np.int32)  # no previous labels: every row is added
    assert KERNEL.nearest(X, KERNEL.pack(C), labels, None, w, sums, counts) == n
    ref_s, ref_c = np.full((k, d), 0.5), np.full(k, 0.25)
    np.add.at(ref_s, labels, X.astype(np.float64) * w[:, None].astype(np.float64))
    np.add.at(ref_c, labels, w.astype(np.float64))
    np.testing.assert_allclose(sums, ref_s, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(counts, ref_c, rtol=1e-12)
    plain = np.empty(n, np.int32)
    KERNEL.nearest(X, KERNEL.pack(C), plain)
    np.testing.assert_array_equal(labels, plain)
    with pytest.raises(ValueError, match="float64"):
        KERNEL.nearest(X, KERNEL.pack(C), labels, None, w, sums.astype(np.float32), counts)


@needs_kernel
def test_a_damaged_cached_library_is_rebuilt(tmp_path, monkeypatch):
    monkeypatch.setenv("FASTSEG_CACHE_DIR", str(tmp_path / "c"))
    monkeypatch.setattr(cpu_kernels, "_loaded", {})
    # built but never loaded here (rewriting a library this process has mapped would crash it)
    path = cpu_kernels._build(kernel_dir() / cpu_kernels.SOURCE, _cc(), tmp_path / "c")
    path.write_bytes(b"not a shared library")
    kernel = cpu_kernels.load()
    assert kernel is not None and kernel.path == path and path.stat().st_size > 1000


@needs_kernel
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("n,t,d", [(1, 1, 1), (17, 3, 5), (4099, 7, 16), (1031, 2, 48)])
def test_kernel_potentials(rng, n, t, d, dtype):
    X, w = _rows_and_weights(rng, n, d, dtype)
    cand = X[rng.choice(n, t)] + rng.normal(0, 0.5, (t, d)).astype(dtype)
    if n > 1:
        cand[0] = X[1]  # a candidate that is a row: its distance must clamp at 0, not go below
    closest = (rng.uniform(0, 3 * d, n)).astype(dtype)
    x_sq = np.einsum("ij,ij->i", X, X)
    wide = np.full((t, n + 5), np.nan, dtype)
    out = wide[:, 2:n + 2]  # rows n + 5 apart
    tot = KERNEL.potentials(X, KERNEL.pack(cand), t, x_sq, closest, w, out)
    ref = np.minimum(((X[None, :, :].astype(np.float64) - cand[:, None, :]) ** 2).sum(-1), closest)
    tol = 1e-4 if dtype == np.float32 else 1e-10
    np.testing.assert_allclose(out, ref, rtol=tol, atol=tol * d)
    assert np.all(out >= 0)
    assert np.isnan(wide[:, :2]).all() and np.isnan(wide[:, n + 2:]).all()  # nothing outside
    np.testing.assert_allclose(tot, out.astype(np.float64) @ w.astype(np.float64), rtol=1e-12)


@needs_kernel
@pytest.mark.parametrize("loader", [load_iris, load_digits])
def test_kmeans_plusplus_same_seeds_with_and_without_the_kernel(loader):
    X = StandardScaler().fit_transform(loader().data)  # float64: the kernel takes up to 48 features
    if X.shape[1] > 48:
        X = X[:, :40]  # digits has 64
    assert NumPyBackend(1, compiled=True)._prep_centers(X[:4]).packed is not None
    seeds = [fastseg.kmeans_plusplus(X, 10, random_state=5, device=NumPyBackend(2, compiled=c))[1]
             for c in (True, False)]
    np.testing.assert_array_equal(*seeds)


@needs_kernel
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_kernel_moves_rows_that_change_label(rng, dtype):
    n, k, d = 3001, 9, 6
    X, w = _rows_and_weights(rng, n, d, dtype)
    C_old = rng.standard_normal((k, d)).astype(dtype)
    C_new = C_old + rng.normal(0, 0.3, (k, d)).astype(dtype)
    old = np.full(n, -1, np.int32)
    sums, counts = np.zeros((k, d)), np.zeros(k)
    KERNEL.nearest(X, KERNEL.pack(C_old), old, None, w, sums, counts)
    labels = old.copy()
    moved = KERNEL.nearest(X, KERNEL.pack(C_new), labels, None, w, sums, counts)
    assert moved == np.count_nonzero(labels != old) and 0 < moved < n
    # the totals are now those of the new labels, as if summed afresh
    ref_s, ref_c = np.zeros((k, d)), np.zeros(k)
    np.add.at(ref_s, labels, X.astype(np.float64) * w[:, None].astype(np.float64))
    np.add.at(ref_c, labels, w.astype(np.float64))
    np.testing.assert_allclose(sums, ref_s, rtol=1e-10, atol=1e-10)
    np.testing.assert_allclose(counts, ref_c, rtol=1e-10, atol=1e-10)
    # same centres again: nothing moves, nothing changes
    before = sums.copy()
    assert KERNEL.nearest(X, KERNEL.pack(C_new), labels, None, w, sums, counts) == 0
    np.testing.assert_array_equal(sums, before)


@needs_kernel
@pytest.mark.parametrize("n,k,d", [(1, 1, 1), (17, 3, 5), (4099, 64, 16), (1031, 13, 33)])
def test_kernel_moves_rows_between_exact_levels(rng, n, k, d):
    # Unit-weight float64 rows: the kernel adds each moving row's two grid levels, as
    # fastseg._exact.split makes them, to its new centre and takes them from its old one.
    # Level sums are exact, so they equal, bit for bit, the NumPy route's in any order.
    from fastseg._exact import make_grid, split

    X = rng.standard_normal((n, d)) * rng.uniform(0.1, 100, d) + rng.uniform(-50, 50, d)
    X[rng.random((n, d)) < 0.2] *= 1e-13  # values whose low bits lie below the second level: dropped
    grid = make_grid(X.max(axis=0), X.min(axis=0), np.zeros(d), 1.0, n, unit=True)
    C = X[rng.integers(0, n, k)] + rng.standard_normal((k, d))
    old = rng.integers(-1, k, n).astype(np.int32)  # some rows had no centre yet
    labels = old.copy()
    sums, counts = np.zeros((2, k, d)), np.zeros((2, k))
    moved = KERNEL.nearest(X, KERNEL.pack(C), labels, None, np.ones(n), sums, counts, grid=grid)
    plain = np.empty(n, np.int32)
    KERNEL.nearest(X, KERNEL.pack(C), plain)
    np.testing.assert_array_equal(labels, plain)
    m = labels != old
    assert moved == m.sum()
    q = split(X[m], grid.s1, grid.s2, (np.empty((m.sum(), d)), np.empty((m.sum(), d))))
    had = old[m] >= 0
    ref_s, ref_c = np.zeros((2, k, d)), np.zeros((2, k))
    for lev in range(2):
        np.add.at(ref_s[lev], labels[m], q[lev])
        np.subtract.at(ref_s[lev], old[m][had], q[lev][had])
    np.add.at(ref_c[0], labels[m], 1.0)
    np.subtract.at(ref_c[0], old[m][had], 1.0)
    np.testing.assert_array_equal(sums, ref_s)
    np.testing.assert_array_equal(counts, ref_c)
    if d <= KERNEL.dmax:
        with pytest.raises(ValueError, match="unit weights"):
            KERNEL.nearest(X, KERNEL.pack(C), labels, None, np.ones(n), sums, counts,
                           grid=grid._replace(unit=False))


@needs_kernel
@pytest.mark.parametrize("weighted", [False, True])
def test_float64_fit_is_the_same_with_or_without_the_kernel(rng, weighted):
    # Exact totals: the kernel's route (unit weights) and NumPy's give the same bits.
    from fastseg import KMeans

    centres = rng.uniform(-20, 20, (7, 5))
    X = centres[rng.integers(0, 7, 20011)] + rng.standard_normal((20011, 5)) + 300.0
    w = rng.uniform(0.5, 2.0, len(X)) if weighted else None
    init = X[:7] + 1.0
    a = KMeans(7, init=init, tol=0, device=NumPyBackend(2, compiled=True)).fit(X, sample_weight=w)
    b = KMeans(7, init=init, tol=0, device=NumPyBackend(2, compiled=False)).fit(X, sample_weight=w)
    np.testing.assert_array_equal(a.labels_, b.labels_)
    np.testing.assert_array_equal(a.cluster_centers_, b.cluster_centers_)
    assert a.inertia_ == b.inertia_ and a.n_iter_ == b.n_iter_
