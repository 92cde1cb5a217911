"""The compiled sparse kernel (kernels/cpu_sparse.c) against NumPy on dense copies, and
the sparse engine with and without it."""

import os
import subprocess
import warnings

import numpy as np
import pytest
import scipy.sparse as sp

import fastseg
from fastseg.backend import cpu_kernels
from fastseg.backend.cpu_sparse import SparseBackend
from fastseg.backend.kernels import kernel_dir

KERNEL = cpu_kernels.load_sparse()
needs_kernel = pytest.mark.skipif(KERNEL is None, reason=f"sparse CPU kernel unavailable: "
                                                         f"{cpu_kernels.reasons.get('sparse')}")
TOL = {np.float32: 1e-5, np.float64: 1e-12}


def test_kernel_builds_where_a_compiler_is():
    if cpu_kernels._compiler() is None:
        if os.environ.get("CI"):
            pytest.fail("no C compiler on the CI machine; the sparse CPU kernel must be built in CI")
        pytest.skip("no C compiler")
    assert KERNEL is not None, cpu_kernels.reasons.get("sparse")
    assert KERNEL.path.exists() and KERNEL.path.name.startswith("cpu_sparse-")


def test_kernel_source_compiles_with_warnings_as_errors(tmp_path):
    cc = cpu_kernels._compiler()
    if cc is None:
        pytest.skip("no C compiler")
    out = subprocess.run(cc + ["-std=c11", "-O2", "-Wall", "-Wextra", "-Werror", "-c", "-o", str(tmp_path / "k.o"),
                               str(kernel_dir() / "cpu_sparse.c")], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr


def _rows(rng, m, d, dtype, lead=0):
    """CSR rows (some empty) whose buffers start ``lead`` entries in, as a block of a larger
    matrix does: indptr does not start at 0."""
    X = sp.random(m + lead, d, density=min(1.0, 3.0 / d + 0.05), random_state=rng, format="csr", dtype=dtype)
    X.data = (X.data * 10 - 3).astype(dtype)
    keep = np.ones(m + lead)
    keep[rng.choice(m + lead, max(1, (m + lead) // 7), replace=False)] = 0  # empty rows
    X = (sp.diags(keep.astype(dtype)) @ X).tocsr()
    X.eliminate_zeros()
    X.sort_indices()
    indptr = X.indptr.astype(np.int64)[lead:]
    return X[lead:].toarray(), indptr, X.indices.astype(np.int32), X.data.astype(dtype)


@needs_kernel
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("m,d,ks", [(1, 1, [1]), (97, 5, [3]), (1009, 13, [2, 7, 1]), (257, 300, [40, 300])])
def test_lloyd_kernel_matches_dense_arithmetic(m, d, ks, dtype):
    rng = np.random.default_rng(m + d)
    Xd, indptr, indices, vals = _rows(rng, m, d, dtype, lead=5)
    w = rng.uniform(0.5, 2.0, m).astype(dtype)
    Cs = [rng.normal(0, 2, (k, d)).astype(dtype) for k in ks]
    C = np.concatenate(Cs)
    C64 = C.astype(np.float64)
    CT, cn = np.ascontiguousarray(C.T), (C64 * C64).sum(1)
    off = np.concatenate([[0], np.cumsum(ks)]).astype(np.int64)
    K = int(off[-1])
    previous = [rng.integers(-1, k, m).astype(np.int32) for k in ks]
    labels = [p.copy() for p in previous]
    x_sq = (Xd.astype(np.float64) ** 2).sum(1)
    inertia = np.full(len(ks), 0.5)  # added to
    mins = np.full(m, np.nan)  # poisoned: every entry must be written
    sums, counts = np.full((K, d), 0.25), np.full(K, 0.125)
    changed = KERNEL.lloyd(indptr, indices, vals, d, CT, cn, off, labels, w, x_sq=x_sq, inertia=inertia,
                           mins=mins, sums=sums, counts=counts)
    D = cn[None, :] - 2 * Xd.astype(np.float64) @ C64.T
    ref_s, ref_c = np.full((K, d), 0.25), np.full(K, 0.125)
    for r, k in enumerate(ks):
        Dr = D[:, off[r]:off[r + 1]]
        best = Dr.min(axis=1)
        # nearest up to rounding of the float64 dot products
        np.testing.assert_allclose(Dr[np.arange(m), labels[r]], best, rtol=1e-12, atol=1e-9)
        assert changed[r] == np.count_nonzero(labels[r] != previous[r])
        e = np.maximum(x_sq + Dr[np.arange(m), labels[r]], 0)
        assert inertia[r] == pytest.approx(0.5 + e @ w.astype(np.float64), rel=1e-12)
        if r == 0:
            np.testing.assert_allclose(mins, e, rtol=1e-12, atol=1e-9)
        np.add.at(ref_s, off[r] + labels[r], Xd.astype(np.float64) * w[:, None].astype(np.float64))
        np.add.at(ref_c, off[r] + labels[r], w.astype(np.float64))
    np.testing.assert_allclose(sums, ref_s, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(counts, ref_c, rtol=1e-12)


@needs_kernel
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_moments_and_direct_distances(dtype):
    rng = np.random.default_rng(5)
    m, d, k = 523, 31, 6
    Xd, indptr, indices, vals = _rows(rng, m, d, dtype, lead=3)
    x_sq, col = np.full(m, np.nan), np.full(d, 1.0)
    KERNEL.moments(indptr, indices, vals, d, x_sq, col)
    X64 = Xd.astype(np.float64)
    np.testing.assert_allclose(x_sq, (X64 ** 2).sum(1), rtol=1e-12)
    np.testing.assert_allclose(col, 1.0 + X64.sum(0), rtol=1e-12, atol=1e-12)
    C = rng.normal(0, 2, (k, d)).astype(dtype)
    C64 = C.astype(np.float64)
    lab = rng.integers(0, k, m).astype(np.int32)
    out = np.full(m, np.nan)
    KERNEL.dist(indptr, indices, vals, d, C, (C64 ** 2).sum(1), lab, out)
    np.testing.assert_allclose(out, ((X64 - C64[lab]) ** 2).sum(1), rtol=1e-10, atol=1e-10)
    with pytest.raises(ValueError, match=r"labels must lie in \[0, 6\)"):
        KERNEL.dist(indptr, indices, vals, d, C, (C64 ** 2).sum(1), np.full(m, 6, np.int32), out)


@needs_kernel
def test_wrong_arrays_are_refused_before_the_call():
    rng = np.random.default_rng(0)
    _, indptr, indices, vals = _rows(rng, 10, 4, np.float64)
    CT, cn, off = np.zeros((4, 2)), np.zeros(2), np.array([0, 2], np.int64)
    with pytest.raises(ValueError, match="int32 indices"):
        KERNEL.lloyd(indptr, indices.astype(np.int64), vals, 4, CT, cn, off, [np.zeros(10, np.int32)])
    with pytest.raises(ValueError, match="float64 array of shape \\(2,\\)"):
        KERNEL.lloyd(indptr, indices, vals, 4, CT, cn.astype(np.float32), off, [np.zeros(10, np.int32)])
    with pytest.raises(ValueError, match="one label array per centre set"):
        KERNEL.lloyd(indptr, indices, vals, 4, CT, cn, off, [])
    with pytest.raises(ValueError, match="need weights"):
        KERNEL.lloyd(indptr, indices, vals, 4, CT, cn, off, [np.zeros(10, np.int32)], sums=np.zeros((2, 4)),
                     counts=np.zeros(2))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_engine_with_and_without_the_kernel(dtype):
    rng = np.random.default_rng(11)
    X = sp.random(20011, 60, density=0.08, random_state=rng, format="csr", dtype=dtype) * 5
    init = X[:9].toarray()
    fits = []
    for compiled in (None, False):
        be = SparseBackend(2, compiled=compiled)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            fits.append(fastseg.KMeans(9, init=init, device=be).fit(X))
    np.testing.assert_array_equal(fits[0].labels_, fits[1].labels_)
    assert fits[0].n_iter_ == fits[1].n_iter_
    assert fits[0].inertia_ == pytest.approx(fits[1].inertia_, rel=TOL[dtype])
    np.testing.assert_allclose(fits[0].cluster_centers_, fits[1].cluster_centers_, rtol=TOL[dtype], atol=TOL[dtype])
    be = SparseBackend(2, compiled=False)
    assert "compiled kernel off (compiled=False)" in be.describe()
    s0 = fastseg.sweep(X, k=range(2, 6), random_state=0, device=SparseBackend(2))
    s1 = fastseg.sweep(X, k=range(2, 6), random_state=0, device=be)
    for k in range(2, 6):
        np.testing.assert_array_equal(s0.labels[k], s1.labels[k])


def test_switched_off_the_scipy_path_runs(monkeypatch):
    monkeypatch.setenv("FASTSEG_CPU_KERNEL", "0")
    be = SparseBackend(1)
    assert "FASTSEG_CPU_KERNEL" in be.describe()
    with pytest.raises(RuntimeError, match="not available.*FASTSEG_CPU_KERNEL"):
        SparseBackend(1, compiled=True)
    X = sp.random(300, 10, density=0.3, random_state=0, format="csr") * 4
    km = fastseg.KMeans(3, random_state=0, device=be).fit(X)
    assert km.labels_.shape == (300,)


def test_backend_pickles_its_choice():
    import pickle

    be = pickle.loads(pickle.dumps(SparseBackend(3, compiled=False)))
    assert be.compiled is False and be.n_threads == 3 and be.sparse
