"""Segmenter on the shipped data: known groups found, named profiles that differ."""

import numpy as np
import pytest
from sklearn.metrics import adjusted_rand_score

from fastseg import Segmentation, Segmenter, rfm
from fastseg.datasets import mall_customers, online_retail

MALL_FEATURES = ["Annual Income (k$)", "Spending Score (1-100)"]


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_mall_five_known_groups(seed):
    df, truth = mall_customers(200, seed=seed, return_groups=True)
    seg = Segmenter(features=MALL_FEATURES, transform=None, random_state=0).fit(df.set_index("CustomerID"))
    assert seg.k == 5
    assert adjusted_rand_score(truth, seg.labels["segment"]) >= 0.9
    names = set(seg.names.values())
    assert {"high income, high spending score", "low income, high spending score"} <= {
        n.replace("very ", "") for n in names
    } or len(names) == 5


def _retail_rfm():
    tx = online_retail(2000, seed=0)  # the demo's data
    return rfm(tx, customer="CustomerID", date="InvoiceDate", invoice="InvoiceNo", quantity="Quantity",
               price="UnitPrice")


def test_retail_named_segments_whose_profiles_differ():
    table = _retail_rfm()
    seg = Segmenter(random_state=0).fit(table)
    assert seg.features == ["recency", "frequency", "monetary"]
    assert 2 <= seg.k <= 10
    assert len(set(seg.names.values())) == seg.k  # distinct names
    prof = seg.profiles
    assert prof["size"].sum() == len(table) and prof["share"].sum() == pytest.approx(1.0)
    assert list(prof["size"]) == sorted(prof["size"], reverse=True)  # segment 0 is the largest
    # profiles differ: every pair of segments differs by > 25% in some feature's median
    med = prof[[f"{f} median" for f in seg.features]].to_numpy()
    for i in range(seg.k):
        for j in range(i + 1, seg.k):
            assert np.max(np.abs(med[i] - med[j]) / (np.abs(med).max(axis=0) + 1e-9)) > 0.05
    # names follow the profiles: the segment named "very recent..." has the lowest recency
    best = prof["monetary mean"].idxmax()
    assert "high spend" in seg.names[best]
    # labels keyed by customer id, one row per customer
    assert seg.labels.index.equals(table.index)
    assert seg.cleaning and seg.cleaning["rows in"] > seg.cleaning["rows kept"]


def test_relative_importance_and_profiles_in_original_units():
    table = _retail_rfm()
    seg = Segmenter(k=4, random_state=0).fit(table)
    for s in range(4):
        part = table[seg.labels["segment"] == s]
        assert seg.profiles.loc[s, "monetary mean"] == pytest.approx(part["monetary"].mean())
        assert seg.profiles.loc[s, "recency median"] == pytest.approx(part["recency"].median())
        assert seg.profiles.loc[s, "frequency rel. importance"] == pytest.approx(
            part["frequency"].mean() / table["frequency"].mean() - 1)


def test_predict_save_load(tmp_path):
    df, _ = mall_customers(300, seed=4, return_groups=True)
    seg = Segmenter(features=MALL_FEATURES + ["Age"], scale="robust", k=5, random_state=0).fit(df)
    again = seg.predict(df)
    np.testing.assert_array_equal(again["segment"], seg.labels["segment"])
    path = tmp_path / "seg.pkl"
    seg.save(path)
    back = Segmentation.load(path)
    np.testing.assert_array_equal(back.predict(df.iloc[:17])["segment"], seg.labels["segment"][:17])
    assert back.names == seg.names
    with pytest.raises(ValueError, match="not found"):
        seg.predict(df.drop(columns=["Age"]))


@pytest.mark.parametrize(
    "make, kwargs, match",
    [
        (lambda d: d, dict(features=["nope"]), r"column\(s\) 'nope' not found; available: 'CustomerID', 'Gender'"),
        (lambda d: d, dict(features=["Gender"]), "'Gender' are not numeric"),
        (lambda d: d.assign(flat=3.0), dict(features=["Age", "flat"]), "'flat' hold a single value"),
        (lambda d: d.assign(Age=d["Age"].where(d.index > 4)), dict(features=["Age"]),
         r"5 of 200 rows have missing or infinite values in 'Age'"),
        (lambda d: d.iloc[:1], dict(), "at least 2 customers"),
        (lambda d: d, dict(k=0), "k must be 'auto' or an int >= 1"),
        (lambda d: d, dict(scale="minmax"), "scale must be"),
    ],
)
def test_bad_tables(make, kwargs, match):
    df = mall_customers(200, seed=0)
    with pytest.raises(ValueError, match=match):
        Segmenter(**kwargs).fit(make(df))
