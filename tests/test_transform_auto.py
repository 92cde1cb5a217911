"""transform="auto": log1p where it evens out a long right tail, not on every non-negative feature."""

import numpy as np
import pandas as pd
import pytest
from scipy.stats import skew
from sklearn.metrics import adjusted_rand_score

from fastseg import Segmenter, rfm
from fastseg._feature_pipeline import _skew, log1p_evens_out
from fastseg.datasets import mall_customers, online_retail
from fastseg.report import render

INCOME, SCORE = "Annual Income (k$)", "Spending Score (1-100)"


def test_skewness_is_scipys():
    rs = np.random.default_rng(0)
    for x in (rs.gamma(0.8, 200.0, 999), rs.uniform(18, 70, 1000), rs.normal(size=7)):
        assert _skew(x) == pytest.approx(skew(x), rel=1e-12)
    assert _skew(np.full(5, 3.0)) == 0.0


@pytest.mark.parametrize("make, evens", [
    (lambda rs: rs.gamma(0.8, 200.0, 5000).round(), True),  # spend: a long right tail
    (lambda rs: rs.poisson(2.0, 5000) + rs.geometric(0.05, 5000), True),  # counts of purchases
    (lambda rs: rs.exponential(60.0, 5000).round(), True),  # recency in days
    (lambda rs: rs.integers(0, 700, 5000), False),  # days since sign-up, spread evenly
    (lambda rs: rs.integers(1, 101, 5000), False),  # a 1-100 score
    (lambda rs: rs.normal(45, 12, 5000).clip(18, 90).round(), False),  # an age
])
def test_log1p_where_it_evens_out_a_tail(make, evens):
    x = make(np.random.default_rng(1)).astype(float)
    assert log1p_evens_out(x) is evens
    assert bool(abs(skew(np.log1p(x))) < abs(skew(x))) is evens


def test_the_mall_scores_and_incomes_keep_their_units_and_the_groups_come_back_sharper():
    df, truth = mall_customers(2000, seed=0, return_groups=True)
    auto = Segmenter(features=[INCOME, SCORE], k=5, random_state=0, stability=0).fit(df)
    every = Segmenter(features=[INCOME, SCORE], k=5, transform="log1p", random_state=0, stability=0).fit(df)
    assert auto.prep.logged == [] and every.prep.logged == [INCOME, SCORE]
    got = {name: adjusted_rand_score(truth, s.labels["segment"]) for name, s in (("auto", auto), ("log1p", every))}
    assert got["auto"] >= 0.95 and got["auto"] > got["log1p"]  # 0.98 and 0.94 here
    text = render(auto, images=[])
    assert "log1p of none (Annual Income (k$), Spending Score (1-100) kept as is: not made more symmetric " \
           "by log1p)" in text
    np.testing.assert_array_equal(auto.predict(df)["segment"], auto.labels["segment"])


def test_rfm_features_all_get_log1p():
    table = rfm(online_retail(), customer="CustomerID", date="InvoiceDate", invoice="InvoiceNo",
                quantity="Quantity", price="UnitPrice")
    seg = Segmenter(k=4, random_state=0, stability=0).fit(table)
    assert seg.prep.logged == ["recency", "frequency", "monetary"]
    same = Segmenter(k=4, transform="log1p", random_state=0, stability=0).fit(table)
    np.testing.assert_array_equal(seg.labels["segment"], same.labels["segment"])


def test_evenly_spread_days_since_sign_up_make_no_cluster_of_the_newest():
    rs = np.random.default_rng(2)
    n = 3000
    df = pd.DataFrame({"signup": pd.Timestamp("2024-01-01") + pd.to_timedelta(rs.integers(0, 700, n), "D"),
                       "spend": rs.gamma(2.0, 300.0, n).round(2)})
    seg = Segmenter(features=["signup", "spend"], k=3, random_state=0, stability=0).fit(df)
    assert seg.prep.logged == ["spend"]
    days = seg.data["days since signup"].to_numpy()
    Z = (days - seg.prep.center[0]) / seg.prep.scale[0]
    assert skew(Z) == pytest.approx(skew(days))  # scaled, not bent: log1p would skew it to the left
    assert abs(skew(np.log1p(days))) > 2 * abs(skew(days))


def test_mixed_signs_and_the_report_text():
    rs = np.random.default_rng(3)
    n = 800
    df = pd.DataFrame({"spend": rs.gamma(0.8, 200.0, n).round(2), "balance": rs.normal(0, 500, n).round(2),
                       "score": rs.integers(1, 101, n)})
    seg = Segmenter(k=3, random_state=0, stability=0).fit(df)
    assert seg.prep.logged == ["spend"]
    assert ("log1p of spend (score kept as is: not made more symmetric by log1p; balance kept as is: "
            "negative values)") in render(seg, images=[])
    assert "log1p of" not in render(Segmenter(k=3, transform=None, random_state=0, stability=0).fit(df), images=[])
