"""Estimator behaviour beyond scikit-learn's generic checks."""

import warnings

import numpy as np
import pandas as pd
import pytest
from sklearn.exceptions import ConvergenceWarning

from fastseg import KMeans, kmeans_plusplus


def test_convergence_warning_with_duplicate_points():
    X = np.repeat([[0.0, 0.0], [1.0, 1.0]], 5, axis=0)
    with pytest.warns(ConvergenceWarning, match=r"distinct clusters \(2\) found smaller than n_clusters \(3\)"):
        KMeans(3, random_state=0).fit(X)


def test_explicit_init_with_n_init_warns_and_runs_once():
    X = np.random.default_rng(0).normal(size=(30, 2))
    with pytest.warns(RuntimeWarning, match="performing only one init"):
        KMeans(2, init=X[:2], n_init=5).fit(X)


def test_n_init_auto():
    X = np.random.default_rng(0).normal(size=(300, 2))
    calls = []

    def init(X, k, random_state):
        calls.append(1)
        return X[:k]

    KMeans(2, init=init).fit(X)
    assert len(calls) == 10  # a callable, as "random": 10 seedings (scikit-learn's rule)
    # "random" with n_init="auto" tries 10 seedings and keeps the best
    best = KMeans(4, init="random", random_state=1).fit(X).inertia_
    single = [KMeans(4, init="random", n_init=1, random_state=s).fit(X).inertia_ for s in range(3)]
    assert best <= min(single) * 1.05


def test_tol_stops_earlier_and_is_unit_free():
    rng = np.random.default_rng(2)
    X = rng.normal(size=(2000, 3))
    init = X[:20]
    tight = KMeans(20, init=init, tol=0).fit(X)
    loose = KMeans(20, init=init, tol=1e-1).fit(X)
    assert loose.n_iter_ < tight.n_iter_
    scaled = KMeans(20, init=init * 1000, tol=1e-1).fit(X * 1000)
    assert scaled.n_iter_ == loose.n_iter_


def test_max_iter_caps_iterations_and_labels_match_centres():
    X = np.random.default_rng(3).normal(size=(500, 2))
    km = KMeans(10, init=X[:10], max_iter=2, tol=0).fit(X)
    assert km.n_iter_ == 2
    np.testing.assert_array_equal(km.labels_, km.predict(X))


def test_verbose_prints_iterations(capsys):
    X = np.random.default_rng(4).normal(size=(200, 2))
    KMeans(3, random_state=0, verbose=1).fit(X)
    out = capsys.readouterr().out
    assert "Initialization complete" in out and "Iteration 0, inertia" in out and "Converged" in out


def test_empty_cluster_relocated_to_far_point():
    X = np.array([[0.0], [0.1], [0.2], [10.0]])
    init = np.array([[0.1], [100.0]])  # the second centre owns nothing
    km = KMeans(2, init=init, max_iter=1, tol=0).fit(X)
    assert sorted(np.bincount(km.labels_).tolist()) == [1, 3]
    assert km.cluster_centers_[:, 0].max() == 10.0


def test_set_output_pandas_and_feature_names_out():
    df = pd.DataFrame(np.random.default_rng(5).normal(size=(50, 3)), columns=list("abc"))
    km = KMeans(4, random_state=0).set_output(transform="pandas")
    out = km.fit_transform(df)
    assert list(out.columns) == [f"kmeans{i}" for i in range(4)]
    assert list(km.get_feature_names_out()) == [f"kmeans{i}" for i in range(4)]


def test_float32_preserved():
    X = np.random.default_rng(6).normal(size=(100, 4)).astype(np.float32)
    km = KMeans(3, random_state=0).fit(X)
    assert km.cluster_centers_.dtype == np.float32
    assert km.transform(X).dtype == np.float32
    assert km.labels_.dtype == np.int32


def test_random_state_reproducible():
    X = np.random.default_rng(7).normal(size=(400, 3))
    a = KMeans(5, random_state=42).fit(X)
    b = KMeans(5, random_state=42).fit(X)
    np.testing.assert_array_equal(a.cluster_centers_, b.cluster_centers_)


def test_kmeans_plusplus_returns_rows_of_x():
    X = np.random.default_rng(8).normal(size=(300, 3))
    centers, idx = kmeans_plusplus(X, 7, random_state=0)
    assert centers.shape == (7, 3) and idx.shape == (7,)
    assert len(set(idx.tolist())) == 7
    np.testing.assert_allclose(centers, X[idx], atol=1e-12)


def test_kmeans_plusplus_respects_zero_weights():
    X = np.random.default_rng(9).normal(size=(100, 2))
    w = np.zeros(100)
    w[::10] = 1.0
    _, idx = kmeans_plusplus(X, 5, sample_weight=w, random_state=0)
    assert all(i % 10 == 0 for i in idx)


def test_elkan_accepted_as_lloyd():
    X = np.random.default_rng(10).normal(size=(100, 2))
    a = KMeans(3, init=X[:3], algorithm="elkan").fit(X)
    b = KMeans(3, init=X[:3]).fit(X)
    np.testing.assert_array_equal(a.labels_, b.labels_)


def test_k_equals_n_and_k_one():
    X = np.random.default_rng(11).normal(size=(6, 2))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        km = KMeans(6, random_state=0).fit(X)
    assert km.inertia_ == pytest.approx(0.0, abs=1e-12)
    one = KMeans(1).fit(X)
    np.testing.assert_allclose(one.cluster_centers_[0], X.mean(axis=0))


def test_callable_init_runs_once_per_restart_as_in_scikit_learn():
    """Only explicit centres force n_init=1 (with a warning); a callable seeds each restart,
    and the best of the restarts is kept."""
    from sklearn.cluster import KMeans as SKKMeans

    X = np.random.default_rng(3).standard_normal((300, 2))
    calls = []

    def init(X, k, random_state):
        calls.append(1)
        return X[random_state.choice(len(X), k, replace=False)]

    fits = {}
    for est in (KMeans, SKKMeans):
        calls.clear()
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            fits[est] = est(4, init=init, n_init=3, random_state=0).fit(X)
        assert len(calls) == 3, est
        calls.clear()
        est(4, init=init, random_state=0).fit(X)  # n_init="auto": 10 for a callable, in both
        assert len(calls) == 10, est
    rs = np.random.RandomState(0)  # the three restarts' seeds, one by one
    alone = [KMeans(4, init=init(X, 4, rs), n_init=1).fit(X).inertia_ for _ in range(3)]
    assert fits[KMeans].inertia_ == min(alone)
