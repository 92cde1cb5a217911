"""Sparse (SciPy) input: the same answers as dense input and as scikit-learn on CSR."""

import warnings

import numpy as np
import pytest
import scipy.sparse as sp
from sklearn import cluster as skc
from sklearn.datasets import load_digits
from sklearn.metrics import calinski_harabasz_score, davies_bouldin_score, silhouette_score

from fastseg import KMeans, kmeans_plusplus, sweep
from fastseg.backend import get_backend
from fastseg.backend.cpu_sparse import SparseBackend
from fastseg.metrics import score_labels

RTOL = {np.float64: 1e-9, np.float32: 1e-5}


def baskets(n, d, groups, dtype=np.float64, seed=0, density=0.05):
    """Customers × products purchase counts: each group buys mostly from its own
    products; about one customer in fifty bought nothing (an all-zero row)."""
    rng = np.random.default_rng(seed)
    group = rng.integers(0, groups, n)
    own = rng.integers(0, d, (groups, max(1, d // (2 * groups))))
    rows, cols = [], []
    for i in range(n):
        if rng.random() < 0.02:
            continue
        m = 1 + rng.poisson(density * d)
        picks = np.where(rng.random(m) < 0.8, rng.choice(own[group[i]], m), rng.integers(0, d, m))
        rows.extend([i] * len(set(picks.tolist())))
        cols.extend(sorted(set(picks.tolist())))
    vals = 1 + rng.poisson(2.0, len(rows))
    return sp.csr_matrix((vals.astype(dtype), (rows, cols)), shape=(n, d)), group


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("n,d,k", [(4999, 37, 13), (1, 5, 1), (257, 1, 3), (3001, 300, 4), (20011, 50, 7)])
def test_same_answer_as_dense_and_sklearn(n, d, k, dtype):
    X, _ = baskets(n, d, max(k, 2), dtype, seed=n)
    init = np.unique(X.toarray(), axis=0)[:k]
    if len(init) < k:  # one row: a single centre of it
        init = X[:k].toarray()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ours = KMeans(k, init=init, n_init=1, device="cpu").fit(X)
        dense = KMeans(k, init=init, n_init=1, device="cpu").fit(X.toarray())
        ref = skc.KMeans(k, init=init, n_init=1).fit(X)
    np.testing.assert_array_equal(ours.labels_, dense.labels_)
    np.testing.assert_array_equal(ours.labels_, ref.labels_)
    assert ours.n_iter_ == dense.n_iter_ == ref.n_iter_
    assert ours.inertia_ == pytest.approx(dense.inertia_, rel=RTOL[dtype], abs=1e-9)
    assert ours.inertia_ == pytest.approx(ref.inertia_, rel=max(RTOL[dtype], 1e-6), abs=1e-6)
    assert ours.cluster_centers_.dtype == dtype
    np.testing.assert_allclose(ours.cluster_centers_, dense.cluster_centers_, rtol=RTOL[dtype], atol=RTOL[dtype])
    np.testing.assert_array_equal(ours.predict(X), dense.predict(X.toarray()))
    np.testing.assert_allclose(ours.transform(X), dense.transform(X.toarray()), rtol=1e-4, atol=1e-4)
    assert ours.score(X) == pytest.approx(dense.score(X.toarray()), rel=RTOL[dtype], abs=1e-9)


@pytest.mark.parametrize("k", [3, 8, 10])
def test_digits_as_csr_match_sklearn(k):
    X = sp.csr_matrix(load_digits().data)  # about half the pixels are zero
    init = X[np.random.default_rng(k).choice(X.shape[0], k, replace=False)].toarray()
    ours = KMeans(k, init=init, n_init=1, device="cpu").fit(X)
    ref = skc.KMeans(k, init=init, n_init=1).fit(X)
    np.testing.assert_array_equal(ours.labels_, ref.labels_)
    assert ours.n_iter_ == ref.n_iter_
    assert ours.inertia_ == pytest.approx(ref.inertia_, rel=1e-9)
    np.testing.assert_allclose(ours.cluster_centers_, ref.cluster_centers_, rtol=1e-9, atol=1e-9)


def test_kmeanspp_draws_the_rows_dense_input_draws():
    X, _ = baskets(3000, 60, 6)
    for seed in range(4):
        c_sp, i_sp = kmeans_plusplus(X, 12, random_state=seed, device="cpu")
        c_de, i_de = kmeans_plusplus(X.toarray(), 12, random_state=seed, device="cpu")
        np.testing.assert_array_equal(i_sp, i_de)
        np.testing.assert_allclose(c_sp, c_de)


def test_seeded_restarts_equal_dense_fit():
    X, _ = baskets(6000, 80, 5, seed=3)
    ours = KMeans(5, n_init=4, random_state=7, device="cpu").fit(X)
    dense = KMeans(5, n_init=4, random_state=7, device="cpu").fit(X.toarray())
    np.testing.assert_array_equal(ours.labels_, dense.labels_)
    assert ours.inertia_ == pytest.approx(dense.inertia_, rel=1e-9)
    # as good as scikit-learn's restarts on the same CSR data
    ref = skc.KMeans(5, n_init=4, random_state=7).fit(X)
    assert ours.inertia_ <= 1.02 * ref.inertia_


def test_weights_equal_repeated_rows():
    X, _ = baskets(800, 30, 4, seed=5)
    w = np.random.default_rng(0).integers(1, 4, X.shape[0])
    X_dup = X[np.repeat(np.arange(X.shape[0]), w)]
    init = np.unique(X.toarray(), axis=0)[[0, 100, 200, 300]]
    a = KMeans(4, init=init, tol=0, device="cpu").fit(X, sample_weight=w.astype(float))
    b = KMeans(4, init=init, tol=0, device="cpu").fit(X_dup)
    np.testing.assert_allclose(a.cluster_centers_, b.cluster_centers_, rtol=1e-9, atol=1e-12)
    assert a.inertia_ == pytest.approx(b.inertia_, rel=1e-9)


def test_every_sparse_format_and_input_untouched():
    X, _ = baskets(500, 20, 3, seed=2)
    before = (X.data.copy(), X.indices.copy(), X.indptr.copy())
    init = X[[1, 2, 3]].toarray()
    want = KMeans(3, init=init, device="cpu").fit(X)
    for other in (X.tocsc(), X.tocoo(), X.tolil(), sp.csr_array(X), X.astype(np.int64)):
        got = KMeans(3, init=init, device="cpu").fit(other)
        np.testing.assert_array_equal(got.labels_, want.labels_)
        assert got.inertia_ == pytest.approx(want.inertia_, rel=1e-12)
    for a, b in zip(before, (X.data, X.indices, X.indptr)):
        np.testing.assert_array_equal(a, b)


def test_duplicate_entries_are_summed_not_counted_twice():
    X, _ = baskets(400, 15, 3, seed=4)
    coo = X.tocoo()
    # every entry split into two halves: the same matrix, not in canonical form
    split = sp.csr_matrix((np.concatenate([coo.data / 2, coo.data / 2]),
                           (np.concatenate([coo.row, coo.row]), np.concatenate([coo.col, coo.col]))),
                          shape=X.shape)
    split.has_canonical_format = False
    init = X[[0, 5, 9]].toarray()
    a = KMeans(3, init=init, device="cpu").fit(X)
    b = KMeans(3, init=init, device="cpu").fit(split)
    np.testing.assert_array_equal(a.labels_, b.labels_)
    assert a.inertia_ == pytest.approx(b.inertia_, rel=1e-12)


def test_many_threads_and_one_agree():
    X, _ = baskets(30000, 40, 6, seed=8)  # several blocks
    init = X[:6].toarray()
    runs = []
    for threads in (1, 3):
        km = KMeans(6, init=init, device=SparseBackend(n_threads=threads)).fit(X)
        runs.append(km)
    np.testing.assert_array_equal(runs[0].labels_, runs[1].labels_)
    assert runs[0].n_iter_ == runs[1].n_iter_
    assert runs[0].inertia_ == pytest.approx(runs[1].inertia_, rel=1e-12)


def test_empty_clusters_relocated_as_dense():
    # few distinct rows: clusters fall empty and take the farthest rows, as on dense data
    rng = np.random.default_rng(1)
    base = sp.random(6, 12, density=0.4, random_state=1, format="csr") * 10
    X = base[rng.integers(0, 6, 300)]
    init = np.vstack([base[:1].toarray()] * 4)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        a = KMeans(4, init=init, device="cpu").fit(X)
        b = KMeans(4, init=init, device="cpu").fit(X.toarray())
        ref = skc.KMeans(4, init=init, n_init=1).fit(X)
    np.testing.assert_array_equal(a.labels_, b.labels_)
    np.testing.assert_array_equal(a.labels_, ref.labels_)
    assert a.inertia_ == pytest.approx(b.inertia_, rel=1e-9, abs=1e-9)


def test_sweep_on_sparse_equals_dense():
    X, _ = baskets(4000, 50, 5, seed=6)
    kw = dict(k=range(2, 9), random_state=0, device="cpu")
    a = sweep(X, **kw)
    b = sweep(X.toarray(), **kw)
    for k in range(2, 9):
        assert a.inertia[k] == pytest.approx(b.inertia[k], rel=1e-9)
        np.testing.assert_array_equal(a.labels[k], b.labels[k])
        for m in ("calinski_harabasz", "davies_bouldin", "silhouette"):
            assert a.metrics[m][k] == pytest.approx(b.metrics[m][k], rel=1e-9)
    assert a.best_k == b.best_k
    np.testing.assert_array_equal(a.kmeans(4).predict(X), a.labels[4])  # a model of one k, used on CSR rows
    # a sweep fitted on a sample of the rows, then refined on all of them
    c = sweep(X, sample=1000, **kw)
    e = sweep(X.toarray(), sample=1000, **kw)
    for k in range(2, 9):
        assert c.inertia[k] == pytest.approx(e.inertia[k], rel=1e-9)


def test_metrics_on_sparse_match_sklearn():
    X, group = baskets(1500, 40, 4, seed=9)
    got = score_labels(X, group, device="cpu")
    dense = X.toarray()
    assert got["calinski_harabasz"] == pytest.approx(calinski_harabasz_score(dense, group), rel=1e-6)
    assert got["davies_bouldin"] == pytest.approx(davies_bouldin_score(dense, group), rel=1e-6)
    assert got["silhouette"] == pytest.approx(silhouette_score(dense, group), rel=1e-6)


def test_nan_in_sparse_names_the_rows():
    X, _ = baskets(100, 10, 2, seed=1)
    X = X.copy()
    X.data[[3, 4]] = np.nan
    rows = np.unique(np.repeat(np.arange(100), np.diff(X.indptr))[[3, 4]])
    with pytest.raises(ValueError, match=f"NaN or infinity in {rows.size} of 100 rows .first at row {rows[0]}"):
        KMeans(2, device="cpu").fit(X)


def test_sparse_on_gpu_says_what_to_do():
    X, _ = baskets(50, 8, 2)
    with pytest.raises(ValueError, match=r"sparse input .* CPU engine only.*toarray\(\)"):
        KMeans(2, device="gpu").fit(X)
    with pytest.raises(ValueError, match="CPU engine only"):
        get_backend("cuda:0", sparse=True)


def test_auto_and_cpu_pick_the_sparse_engine():
    assert get_backend("auto", sparse=True).sparse
    assert get_backend("cpu", sparse=True).sparse
    assert not get_backend("cpu").sparse
    from fastseg.backend import NumPyBackend

    mine = get_backend(NumPyBackend(n_threads=2), sparse=True)
    assert mine.sparse and mine.n_threads == 2


def test_a_dataframe_of_sparse_columns_keeps_its_names():
    pd = pytest.importorskip("pandas")
    X, _ = baskets(300, 6, 2, seed=3)
    df = pd.DataFrame.sparse.from_spmatrix(X, columns=[f"product {i}" for i in range(6)])
    init = np.unique(X.toarray(), axis=0)[[0, -1]]
    a = KMeans(2, init=init, device="cpu").fit(df)
    b = KMeans(2, init=init, device="cpu").fit(X)
    np.testing.assert_array_equal(a.labels_, b.labels_)
    assert list(a.feature_names_in_) == list(df.columns)


def test_dask_array_of_sparse_chunks_says_what_to_do():
    da = pytest.importorskip("dask.array")
    X, _ = baskets(300, 6, 2)
    dX = da.from_array(X, chunks=(100, 6), asarray=False)
    with pytest.raises(ValueError, match=r"sparse chunks \(csr_matrix\).*X\.compute\(\).*toarray"):
        KMeans(2, device="cpu").fit(dX)


def test_sampled_silhouette_keeps_the_sample_sparse():
    from fastseg.metrics import silhouette

    X, group = baskets(9000, 400, 5, seed=12)  # past the default sample: a float32 estimate
    lab = group.astype(np.int32)
    be = get_backend("cpu", sparse=True)
    data = be.prepare(X, np.ones(X.shape[0]))
    rows = be.sample_rows(data, np.arange(10))
    assert sp.issparse(rows) and rows.shape == (10, 400)
    got = silhouette(be, data, lab, 5, random_state=3)
    dense_be = get_backend("cpu")
    want = silhouette(dense_be, dense_be.prepare(X.toarray(), np.ones(X.shape[0]), center=False), lab, 5,
                      random_state=3)
    assert got[1] == want[1] == 4000
    assert got[0] == pytest.approx(want[0], rel=1e-5)
