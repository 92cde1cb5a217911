"""Bad input gets an error that names the problem and the fix."""

import numpy as np
import pandas as pd
import pytest

from fastseg import KMeans, kmeans_plusplus

X = np.random.default_rng(0).normal(size=(20, 3))


def test_nan_and_inf_report_row_count():
    Xb = X.copy()
    Xb[[2, 5, 7], 1] = np.nan
    Xb[9, 0] = np.inf
    with pytest.raises(ValueError, match=r"NaN or infinity in 4 of 20 rows \(first at row 2\)"):
        KMeans(2).fit(Xb)
    km = KMeans(2).fit(X)
    with pytest.raises(ValueError, match="NaN or infinity in 4 of 20 rows"):
        km.predict(Xb)


@pytest.mark.parametrize(
    "bad, match",
    [
        (np.empty((0, 3)), "0 sample"),
        (np.arange(5.0), "Expected 2D array"),
        (np.empty((5, 0)), "0 feature"),
    ],
)
def test_empty_and_1d_input(bad, match):
    with pytest.raises(ValueError, match=match):
        KMeans(2).fit(bad)


def test_non_numeric_columns_are_named():
    df = pd.DataFrame({"spend": [1.0, 2.0, 3.0], "city": ["a", "b", "c"], "tier": ["x", "y", "z"]})
    with pytest.raises(ValueError, match=r"2 non-numeric column\(s\): 'city', 'tier'"):
        KMeans(2).fit(df)


def test_an_object_column_of_numbers_is_numbers_as_scikit_learn_takes_it():
    from decimal import Decimal

    from sklearn.cluster import KMeans as SKKMeans

    rng = np.random.default_rng(4)
    df = pd.DataFrame(rng.normal(size=(97, 3)), columns=["a", "b", "c"])
    mixed = df.astype({"a": object}).assign(b=[Decimal(str(v)) for v in df["b"]])  # a database's NUMERIC
    ours = KMeans(3, random_state=0, n_init=1, device="cpu").fit(mixed)
    theirs = SKKMeans(3, random_state=0, n_init=1).fit(df)
    np.testing.assert_array_equal(ours.labels_, theirs.labels_)
    np.testing.assert_allclose(ours.inertia_, theirs.inertia_, rtol=1e-12)
    with pytest.raises(ValueError, match=r"1 non-numeric column\(s\): 'a'"):  # one text value among numbers
        KMeans(3).fit(mixed.assign(a=["x", *df["a"].iloc[1:]]))


def test_fewer_samples_than_clusters():
    with pytest.raises(ValueError, match="n_samples=20 should be >= n_clusters=25"):
        KMeans(25).fit(X)
    with pytest.raises(ValueError, match="n_samples=20 should be >= n_clusters=25"):
        kmeans_plusplus(X, 25)


def test_wrong_feature_count_at_predict():
    km = KMeans(2).fit(X)
    with pytest.raises(ValueError, match="X has 2 features, but KMeans is expecting 3 features"):
        km.predict(X[:, :2])


def test_feature_names_checked():
    df = pd.DataFrame(X, columns=["recency", "frequency", "monetary"])
    km = KMeans(2, random_state=0).fit(df)
    np.testing.assert_array_equal(km.feature_names_in_, ["recency", "frequency", "monetary"])
    with pytest.raises(ValueError, match="feature names"):
        km.predict(df[["frequency", "recency", "monetary"]])


@pytest.mark.parametrize(
    "weights, match",
    [
        (-np.ones(20), r"20 negative value\(s\)"),
        (np.r_[np.ones(19), np.nan], "NaN or infinity in 1 entries"),
        (np.ones(7), r"expected \(20,\)"),
        (np.zeros(20), "zero everywhere"),
        (np.array(["a"] * 20), "numeric"),
    ],
)
def test_bad_sample_weight(weights, match):
    with pytest.raises(ValueError, match=match):
        KMeans(2).fit(X, sample_weight=weights)


@pytest.mark.parametrize(
    "params, match",
    [
        ({"n_clusters": 0}, r"'n_clusters' parameter of KMeans must be an int in the range \[1, inf\). Got 0"),
        ({"n_clusters": 2.5}, "'n_clusters' parameter"),
        ({"max_iter": 0}, "'max_iter' parameter"),
        ({"tol": -1.0}, r"'tol' parameter of KMeans must be a float in the range \[0.0, inf\)"),
        ({"n_init": 0}, "'n_init' parameter"),
        ({"n_init": "many"}, "'n_init' parameter"),
        ({"init": "kmeans"}, "'init' parameter of KMeans must be one of 'k-means\\+\\+', 'random'"),
        ({"init": np.zeros((3, 3))}, r"initial centers \(3, 3\) does not match \(n_clusters, n_features\) = \(2, 3\)"),
        ({"init": np.full((2, 3), np.nan)}, "must be finite"),
        ({"algorithm": "fast"}, "'algorithm' parameter"),
        ({"verbose": -1}, "'verbose' parameter"),
        ({"copy_x": "yes"}, "'copy_x' parameter"),
        ({"device": "tpu"}, "'device' parameter must be 'auto', 'cpu', 'gpu' or 'cuda:N'"),
    ],
)
def test_bad_parameters(params, match):
    with pytest.raises(ValueError, match=match):
        KMeans(**{"n_clusters": 2, **params}).fit(X)


def test_bad_init_callable_shape():
    with pytest.raises(ValueError, match="init callable returned centers of shape"):
        KMeans(2, init=lambda X, k, random_state: X[:3]).fit(X)


def test_input_is_never_modified():
    Xc = (X + 100).astype(np.float32)
    before = Xc.copy()
    w = np.ones(20)
    KMeans(3, random_state=0, copy_x=False).fit(Xc, sample_weight=w)
    np.testing.assert_array_equal(Xc, before)
    np.testing.assert_array_equal(w, np.ones(20))
