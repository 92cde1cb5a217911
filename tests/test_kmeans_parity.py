"""Parity with scikit-learn's KMeans on the real data sets scikit-learn ships."""

import numpy as np
import pytest
from sklearn import cluster as skc
from sklearn.datasets import load_breast_cancer, load_digits, load_iris, load_wine
from sklearn.preprocessing import StandardScaler

from fastseg import KMeans, kmeans_plusplus

LOADERS = {
    "iris": load_iris,
    "wine": load_wine,
    "breast_cancer": load_breast_cancer,
    "digits": load_digits,
}
RTOL = {np.float64: 1e-6, np.float32: 1e-4}


def _standardised(name, dtype):
    X = StandardScaler().fit_transform(LOADERS[name]().data)
    return X.astype(dtype)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("k", [3, 8])
@pytest.mark.parametrize("name", list(LOADERS))
def test_same_initial_centres_same_answer(name, k, dtype):
    X = _standardised(name, dtype)
    init = X[np.random.default_rng(k).choice(len(X), k, replace=False)]
    ours = KMeans(k, init=init, n_init=1, device="cpu").fit(X)
    ref = skc.KMeans(k, init=init, n_init=1).fit(X)
    np.testing.assert_array_equal(ours.labels_, ref.labels_)
    assert ours.inertia_ == pytest.approx(ref.inertia_, rel=RTOL[dtype])
    assert ours.n_iter_ == ref.n_iter_
    np.testing.assert_allclose(ours.cluster_centers_, ref.cluster_centers_, rtol=RTOL[dtype], atol=RTOL[dtype])
    assert ours.cluster_centers_.dtype == dtype
    np.testing.assert_array_equal(ours.predict(X), ref.predict(X))
    np.testing.assert_allclose(ours.transform(X), ref.transform(X), rtol=RTOL[dtype], atol=RTOL[dtype])
    assert ours.score(X) == pytest.approx(ref.score(X), rel=RTOL[dtype])


@pytest.mark.parametrize("name", list(LOADERS))
def test_same_initial_centres_with_weights(name):
    X = _standardised(name, np.float64)
    w = np.random.default_rng(1).uniform(0.2, 3.0, len(X))
    init = X[:5]
    ours = KMeans(5, init=init, n_init=1, device="cpu").fit(X, sample_weight=w)
    ref = skc.KMeans(5, init=init, n_init=1).fit(X, sample_weight=w)
    np.testing.assert_array_equal(ours.labels_, ref.labels_)
    assert ours.inertia_ == pytest.approx(ref.inertia_, rel=1e-6)


@pytest.mark.parametrize("name", list(LOADERS))
@pytest.mark.parametrize("k", [3, 10])
def test_kmeanspp_n_init_10_as_good_as_sklearn(name, k):
    X = _standardised(name, np.float64)
    ours = KMeans(k, n_init=10, random_state=0, device="cpu").fit(X)
    ref = skc.KMeans(k, n_init=10, random_state=0).fit(X)
    assert ours.inertia_ <= 1.01 * ref.inertia_


@pytest.mark.parametrize("name", ["wine", "digits"])
def test_random_init_n_init_auto_as_good_as_sklearn(name):
    X = _standardised(name, np.float64)
    ours = KMeans(6, init="random", random_state=0, device="cpu").fit(X)
    ref = skc.KMeans(6, init="random", random_state=0).fit(X)
    assert ours.inertia_ <= 1.02 * ref.inertia_


@pytest.mark.parametrize("name", list(LOADERS))
def test_seeding_quality_matches_sklearn(name):
    """Inertia right after seeding, averaged over seeds, within 5% of scikit-learn's."""
    X = _standardised(name, np.float64)

    def seed_inertia(centers):
        return ((X[:, None, :] - centers[None]) ** 2).sum(axis=2).min(axis=1).sum()

    ours = np.mean([seed_inertia(kmeans_plusplus(X, 8, random_state=s)[0]) for s in range(10)])
    ref = np.mean([seed_inertia(skc.kmeans_plusplus(X, 8, random_state=s)[0]) for s in range(10)])
    assert ours <= 1.05 * ref


def test_uncentred_float32_data_keeps_precision():
    # Income-like columns far from zero: the shift keeps float32 labels exact.
    rng = np.random.default_rng(5)
    centers = np.array([[50_000, 30], [52_000, 60], [80_000, 45]], float)
    X = (centers[rng.integers(0, 3, 3000)] + rng.normal(0, [800, 5], (3000, 2))).astype(np.float32)
    init = X[:3]
    ours = KMeans(3, init=init, device="cpu").fit(X)
    ref = skc.KMeans(3, init=init, n_init=1).fit(X.astype(np.float64))
    assert np.mean(ours.labels_ == ref.labels_) == 1.0
    assert ours.inertia_ == pytest.approx(ref.inertia_, rel=1e-4)
