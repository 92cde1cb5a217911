"""Segments that are no more than a feature's few values are named, with the way out."""

import numpy as np
import pandas as pd
import pytest

from fastseg import Segmenter
from fastseg._value_splits import FOLLOWS, LEADS, MAX_VALUES, _lambda, few_values_lead, value_splits
from fastseg.cli import main
from fastseg.datasets import mall_customers
from fastseg.report import render

INCOME, SCORE = "Annual Income (k$)", "Spending Score (1-100)"


def _households(n=1500, seed=0):
    """Customers with no groups in their spend, and a count of children at home (0, 1, 2)."""
    rs = np.random.default_rng(seed)
    return pd.DataFrame({"CustomerID": np.arange(1, n + 1), "Kidhome": rs.choice(3, n, p=[0.58, 0.40, 0.02]),
                         "Income": rs.normal(52_000, 15_000, n).round(0), "Recency": rs.integers(0, 100, n),
                         "Wine": rs.gamma(4.0, 60.0, n).round(0), "Meat": rs.gamma(4.0, 40.0, n).round(0)})


def test_lambda_by_hand():
    # values (rows) by segments (columns)
    table = np.array([[30, 0], [10, 10], [0, 50]])
    # segment from value: guessing segment 1 for all errs 40 times; knowing the value, 10 times
    assert _lambda(table, 0) == pytest.approx((40 - 10) / 40)
    # value from segment: guessing value 2 for all errs 50 times; knowing the segment, 20 times
    assert _lambda(table, 1) == pytest.approx((50 - 20) / 50)
    assert _lambda(np.array([[5, 0], [7, 0]]), 0) == 0.0  # one segment: nothing to guess


def test_segments_that_are_groups_of_a_features_values():
    df = _households()
    seg = Segmenter(k=2, random_state=0, stability=0).fit(df)
    assert "Kidhome" in seg.features
    (f, held, share), = seg.value_splits
    kids = df.set_index("CustomerID").loc[seg.labels.index, "Kidhome"].to_numpy()
    labels = seg.labels["segment"].to_numpy()
    assert f == "Kidhome" and sorted(v for vs in held.values() for v in vs) == [0, 1, 2]
    owner = {v: s for s, vs in held.items() for v in vs}
    assert share == pytest.approx(np.mean([owner[v] == s for v, s in zip(kids, labels)])) and share >= 0.99
    assert all(isinstance(v, int) for vs in held.values() for v in vs)  # 2, not 2.0
    text = seg.summary()
    assert "The segments follow the few values of Kidhome (" in text and "--describe Kidhome" in text
    assert "The segments follow the few values of Kidhome" in render(seg, images=[])


def test_described_instead_it_is_no_feature_and_no_longer_named():
    seg = Segmenter(k=2, random_state=0, stability=0, describe=["Kidhome"]).fit(_households())
    assert "Kidhome" not in seg.features and seg.described == ["Kidhome"]
    assert seg.value_splits == [] and "Kidhome" in seg.profiles.columns.str.split().str[0].tolist()
    # with the features named, a described feature is still an error that says so
    with pytest.raises(ValueError, match="are features already"):
        Segmenter(features=["Kidhome", "Income"], describe=["Kidhome"], k=2, stability=0).fit(_households())


def test_segments_that_each_hold_one_value():
    rs = np.random.default_rng(2)
    n = 1200
    df = pd.DataFrame({"online": rs.integers(0, 2, n), "member": rs.integers(0, 2, n), "spend": rs.normal(0, 1, n)})
    seg = Segmenter(features=["online", "member", "spend"], transform=None, k=4, random_state=0, stability=0).fit(df)
    found = {f: held for f, held, _ in seg.value_splits}
    assert set(found) == {"online", "member"}  # the four segments: the four pairs of the two flags
    for f, held in found.items():
        assert sorted(held) == [0, 1, 2, 3] and all(len(v) == 1 for v in held.values())
        x = df.loc[seg.labels.index, f].to_numpy()
        assert all((x[seg.labels["segment"].to_numpy() == s] == v[0]).all() for s, v in held.items())
    assert "The segments follow the few values of online (" in seg.summary()


def test_features_of_many_values_or_none_that_lead_are_not_named():
    mall = mall_customers(400, seed=0)
    assert Segmenter(k=5, random_state=0, stability=0).fit(mall).value_splits == []
    rs = np.random.default_rng(3)
    mall["visits"] = rs.integers(1, 9, len(mall))  # 8 values, close together: the groups still lead
    mall["complained"] = (rs.random(len(mall)) < 0.01).astype(int)  # nearly everyone 0: no segment of it
    seg = Segmenter(features=["Age", INCOME, SCORE, "visits"], k=5, random_state=0, stability=0).fit(mall)
    assert seg.value_splits == []
    x = np.c_[mall[["Age", INCOME]].to_numpy(float), mall["complained"]]
    labels = np.asarray(seg.labels["segment"])
    assert value_splits(pd.DataFrame(x, columns=["Age", INCOME, "complained"]), labels, 5) == []


def test_only_features_of_two_to_max_values_and_two_features_or_more():
    x = np.repeat(np.arange(MAX_VALUES + 1), 20).astype(float)
    seg = (x >= 5).astype(int)
    other = np.random.default_rng(0).normal(size=len(x))
    assert value_splits(pd.DataFrame({"x": x, "o": other}), seg, 2) == []  # 11 values: thresholds, not clumps
    few = np.minimum(x, MAX_VALUES - 1)
    (f, held, share), = value_splits(pd.DataFrame({"x": few, "o": other}), seg, 2)
    assert f == "x" and held == {0: [0, 1, 2, 3, 4], 1: list(range(5, MAX_VALUES))} and share == 1.0
    assert value_splits(pd.DataFrame({"x": few}), seg, 2) == []  # the only feature: segments are its ranges
    assert value_splits(pd.DataFrame({"x": few, "o": other}), np.zeros(len(x), int), 1) == []
    # a few customers astray still count, down to the threshold
    astray = seg.copy()
    astray[:4] = 1  # 4 of the 100 customers at x < 5 in the other segment
    (_, _, share), = value_splits(pd.DataFrame({"x": few, "o": other}), astray, 2)
    assert share == pytest.approx(1 - 4 / len(x)) and 1 - 4 / 100 >= FOLLOWS


def test_the_command_names_it_and_describe_takes_it_out(tmp_path, capsys):
    path = tmp_path / "households.csv"
    _households().to_csv(path, index=False)
    assert main(["segment", str(path), "--k", "2", "--stability", "0"]) == 0
    out = capsys.readouterr().out
    assert "The segments follow the few values of Kidhome (" in out and "--describe Kidhome;" in out
    assert main(["segment", str(path), "--k", "2", "--stability", "0", "--describe", "Kidhome"]) == 0
    out = capsys.readouterr().out
    assert "The segments follow" not in out and "Described by segment, not clustered on: Kidhome." in out
    assert "Features: Income, Recency, Wine, Meat" in out


def test_features_of_few_values_that_lead_together_are_named():
    rs = np.random.default_rng(0)
    n = 2000
    df = pd.DataFrame({"Income": rs.normal(52_000, 15_000, n).round(), "Wine": rs.gamma(4.0, 60.0, n).round(),
                       "Meat": rs.gamma(4.0, 40.0, n).round(),  # no groups in these ...
                       "Kidhome": rs.integers(0, 3, n), "Teenhome": rs.integers(0, 3, n)})  # ... and two even counts
    seg = Segmenter(k=2, random_state=0, stability=0).fit(df)
    assert seg.value_splits == []  # no one of them alone ...
    few, share = seg.few_values_lead  # ... but the two together hold nearly all the spread between segments
    C, n_s = seg.model.cluster_centers_, seg.profiles["size"].to_numpy()
    between = n_s @ (C - n_s @ C / n_s.sum()) ** 2
    j = [seg.features.index(f) for f in ("Kidhome", "Teenhome")]
    assert few == ["Kidhome", "Teenhome"] and share == pytest.approx(between[j].sum() / between.sum())
    assert share >= LEADS
    text = seg.summary()
    assert "Kidhome and Teenhome, features of 10 values or fewer, hold " in text
    assert "--describe Kidhome,Teenhome;" in text and "Kidhome and Teenhome, features" in render(seg, images=[])
    described = Segmenter(k=2, random_state=0, stability=0, describe=["Kidhome", "Teenhome"]).fit(df)
    assert described.few_values_lead is None and described.value_splits == []


def test_no_lead_without_other_features_or_below_the_share():
    data = pd.DataFrame({"a": [0, 1, 2, 0, 1, 2.0] * 2, "b": [1, 1, 0, 0, 1, 0.0] * 2})
    C, sizes = np.array([[-1.0, 0.5], [1.0, -0.5]]), np.array([6, 6])
    assert few_values_lead(data, C, sizes) is None  # every feature of few values: nothing else to weigh
    data["c"] = np.linspace(0, 1, 12)  # 12 values
    assert few_values_lead(data, np.c_[C, [0.2, -0.2]], sizes) == (["a", "b"], pytest.approx(1.25 / 1.29))
    assert few_values_lead(data, np.c_[C, [0.6, -0.6]], sizes) is None  # c holds 22% of the spread
    assert few_values_lead(data, np.c_[C, [0.2, -0.2]][:1], sizes[:1]) is None  # one segment
    mall = mall_customers(400, seed=0)
    assert Segmenter(k=5, random_state=0, stability=0).fit(mall).few_values_lead is None
