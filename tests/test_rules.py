"""A threshold rule per segment: exact on box-shaped segments, honest numbers on any."""

import re

import numpy as np
import pandas as pd
import pytest

from fastseg import Segmenter
from fastseg.datasets import mall_customers
from fastseg.rules import segment_rules

MALL_FEATURES = ["Annual Income (k$)", "Spending Score (1-100)"]


def _scored_by_query(data, labels, rules):
    """coverage, precision and selects recomputed with pandas' own query engine."""
    out = []
    for s, row in rules.iterrows():
        picked = data.index.isin(data.query(row["query"]).index)
        inside = labels == s
        hit = (picked & inside).sum()
        out.append((picked.sum(), hit / inside.sum(), hit / max(picked.sum(), 1)))
    return out


def _boxes(n, seed):
    """Four segments that are exactly the quadrants of the unit square split at 0.5, with
    no point within 0.02 of the split (so a rounded threshold still separates them)."""
    rng = np.random.default_rng(seed)
    xy = rng.uniform(0, 1, (n, 2))
    xy = np.where(np.abs(xy - 0.5) < 0.02, xy + 0.05, xy)
    labels = (xy[:, 0] > 0.5) * 2 + (xy[:, 1] > 0.5)
    return pd.DataFrame(xy, columns=["x", "y"]), labels


@pytest.mark.parametrize("n", [97, 1000, 5003])
def test_box_shaped_segments_get_exact_rules(n):
    data, labels = _boxes(n, n)
    rules = segment_rules(data, labels)
    assert (rules["coverage"] == 1).all() and (rules["precision"] == 1).all()
    assert rules.loc[0, "rule"] == "x <= 0.5 and y <= 0.5"
    assert rules.loc[3, "rule"] == "x > 0.5 and y > 0.5"
    assert list(rules["selects"]) == list(np.bincount(labels, minlength=4))


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_reported_numbers_are_those_of_the_query(seed):
    # blobs that overlap: the rules are imperfect and their numbers must still be true
    rng = np.random.default_rng(seed)
    n, k = 2_000 + seed, 5
    labels = rng.integers(0, k, n)
    X = rng.normal(labels[:, None] * 1.2, 1.0, (n, 3)) * [1.0, 100.0, 0.01]
    data = pd.DataFrame(X, columns=["a b", "spend ($)", "rate"])
    rules = segment_rules(data, labels, max_conditions=3)
    assert (rules["precision"] < 1).any()  # not all exact, so the check below means something
    for (selects, coverage, precision), (_, row) in zip(_scored_by_query(data, labels, rules), rules.iterrows()):
        assert row["selects"] == selects
        assert row["coverage"] == pytest.approx(coverage)
        assert row["precision"] == pytest.approx(precision)


@pytest.mark.parametrize("most", [1, 2, 3])
def test_rules_have_at_most_max_conditions(most):
    rng = np.random.default_rng(most)
    labels = rng.integers(0, 6, 3_000)
    data = pd.DataFrame(rng.normal(labels[:, None], 1.0, (3_000, 4)), columns=list("abcd"))
    rules = segment_rules(data, labels, max_conditions=most)
    for q in rules["query"]:
        assert 1 <= len(re.findall(r"<=|>=|>", q)) <= most


def test_whole_number_features_get_whole_number_thresholds():
    rng = np.random.default_rng(0)
    freq = rng.integers(1, 20, 4_000)
    days = rng.integers(0, 365, 4_000)
    labels = (freq >= 8).astype(int) + 2 * (days >= 100)
    data = pd.DataFrame({"frequency": freq, "recency": days})
    rules = segment_rules(data, labels)
    assert rules.loc[3, "rule"] == "frequency >= 8 and recency >= 100"
    assert rules.loc[0, "rule"] == "frequency <= 7 and recency <= 99"
    assert rules.loc[3, "query"] == "`frequency` >= 8 and `recency` >= 100"
    assert (rules["precision"] == 1).all() and (rules["coverage"] == 1).all()


def test_an_interval_reads_as_one_and_large_numbers_get_separators():
    rng = np.random.default_rng(1)
    spend = rng.uniform(0, 30_000, 6_000)
    labels = np.digitize(spend, [10_000, 20_000])  # the middle segment is an interval
    rules = segment_rules(pd.DataFrame({"monetary": spend}), labels)
    assert re.fullmatch(r"1\d,\d{3} < monetary <= 2\d,\d{3}", rules.loc[1, "rule"]), rules.loc[1, "rule"]
    assert rules.loc[1, "coverage"] > 0.99 and rules.loc[1, "precision"] > 0.99


def test_one_segment_is_everyone():
    data = pd.DataFrame({"x": np.arange(10.0)})
    rules = segment_rules(data, np.zeros(10, dtype=int), names={0: "all"})
    assert rules.loc[0, ["name", "rule", "selects", "coverage", "precision"]].tolist() == ["all", "everyone", 10, 1.0, 1.0]
    assert len(data.query(rules.loc[0, "query"])) == 10


def test_a_small_sample_learns_but_every_customer_scores():
    data, labels = _boxes(20_000, 7)
    rules = segment_rules(data, labels, sample=60)
    # learnt from 120 customers per segment, counted on all 20,000
    assert rules["selects"].sum() > 19_000 and (rules["selects"] <= np.bincount(labels) * 1.05).all()
    assert (rules["coverage"] > 0.97).all() and (rules["precision"] > 0.97).all()
    again = segment_rules(data, labels, sample=60)
    pd.testing.assert_frame_equal(rules, again)  # the draw is seeded


@pytest.mark.parametrize("kwargs, match", [
    (dict(max_conditions=0), "max_conditions must be an int >= 1"),
    (dict(sample=0), "sample must be an int >= 1"),
    (dict(digits=0), "digits must be an int >= 1 or None"),
])
def test_bad_parameters(kwargs, match):
    with pytest.raises(ValueError, match=match):
        segment_rules(pd.DataFrame({"x": [1.0, 2.0]}), [0, 1], **kwargs)


@pytest.mark.parametrize("data, match", [
    (pd.DataFrame({"x": [1.0, 2.0], "g": ["a", "b"]}), "'g' is not numeric: leave it out"),
    (pd.DataFrame({"x": [1.0, np.nan]}), r"column\(s\) 'x' have missing or infinite values"),
    (pd.DataFrame({"x": [1.0, np.inf]}), "drop or fill those rows first"),
])
def test_bad_data(data, match):
    with pytest.raises(ValueError, match=match):
        segment_rules(data, [0, 1])


def test_labels_of_another_length():
    with pytest.raises(ValueError, match="labels has 3 entries for 2 customers"):
        segment_rules(pd.DataFrame({"x": [1.0, 2.0]}), [0, 1, 1])


@pytest.mark.parametrize("seed", [0, 1])
def test_mall_groups_are_found_by_simple_rules(seed):
    # the mall's five groups are regions of income and spending score: each has a rule
    df, truth = mall_customers(200, seed=seed, return_groups=True)
    seg = Segmenter(features=MALL_FEATURES, transform=None, random_state=0, k=5).fit(df)
    rules = seg.rules
    assert list(rules.index) == list(range(5)) and list(rules["name"]) == [seg.names[s] for s in range(5)]
    assert (rules["coverage"] >= 0.85).all() and (rules["precision"] >= 0.85).all(), rules
    # the query runs on the customer table as given (names with spaces and brackets)
    labels = seg.labels["segment"].to_numpy()
    for (selects, coverage, precision), (_, row) in zip(_scored_by_query(seg.data, labels, rules), rules.iterrows()):
        assert (row["selects"], row["coverage"], row["precision"]) == pytest.approx((selects, coverage, precision))
    picked = df.query(rules.loc[0, "query"])
    assert len(picked) == rules.loc[0, "selects"]


def test_summary_lists_the_rules_and_old_segmentations_lack_them():
    df = mall_customers(200, seed=0)
    seg = Segmenter(features=MALL_FEATURES, transform=None, random_state=0, k=5).fit(df)
    text = seg.summary()
    assert "A rule to select each segment" in text
    for s, row in seg.rules.iterrows():
        assert f"  {s}: {row['rule']} — {row['coverage']:.0%} of it, {row['precision']:.0%} precise" in text
    off = Segmenter(features=MALL_FEATURES, transform=None, random_state=0, k=5, rules=False).fit(df)
    assert off.rules is None and "A rule to select" not in off.summary()
    assert (off.labels["segment"] == seg.labels["segment"]).all()
    with pytest.raises(ValueError, match="rules must be True or False; got 'yes'"):
        Segmenter(rules="yes").fit(df)
    state = dict(seg.__dict__)
    del state["rules"]  # as pickled before rules existed
    old = type(seg).__new__(type(seg))
    old.__setstate__(state)
    assert old.rules is None and "A rule to select" not in old.summary()


@pytest.mark.parametrize("lo, hi, whole, want", [
    (0.4795, 0.53, False, 0.5), (0.0, 1.0, False, 0.0), (-0.7, 0.2, False, 0.0), (-5.25, -5.15, False, -5.2),
    (1234.5, 1240.0, False, 1235.0), (0.0012, 0.00125, False, 0.0012), (97, 103, True, 100), (4, 5, True, 4),
    (-12, -3, True, -10),
])
def test_shortest_number_in_a_gap(lo, hi, whole, want):
    from fastseg.rules import _shortest

    got = _shortest(lo, hi, whole=whole)
    assert got == want and lo <= got < hi and (isinstance(got, int) if whole else True)


@pytest.mark.parametrize("seed", range(5))
def test_readable_rules_select_exactly_the_rows_of_the_raw_ones(seed):
    from fastseg.rules import _readable, _select

    rng = np.random.default_rng(seed)
    n = 500
    X = np.column_stack([rng.integers(0, 30, n), rng.normal(0, 1, n).round(2), rng.lognormal(5, 2, n),
                         rng.uniform(-1e-3, 1e-3, n)]).astype(float)
    whole = [True, False, False, False]
    for _ in range(200):
        cols = rng.choice(4, rng.integers(1, 4), replace=False)
        conds = []
        for f in cols:
            a, b = np.sort(rng.choice(X[:, f], 2))
            conds += [(int(f), ">", float(a))] if rng.random() < 0.4 else []
            conds += [(int(f), "<=", float(b))] if rng.random() < 0.7 or not conds else []
        easy = _readable(X, conds, whole)
        assert np.array_equal(_select(X, easy), _select(X, conds)), (conds, easy)
        assert len(easy) <= len(conds)
        if not _select(X, conds).any():
            assert easy == conds  # nothing to read: left as it is
            continue
        for f, op, v in easy:
            assert op != ">" or not whole[f]
            assert isinstance(v, int) if whole[f] else isinstance(v, float)


def test_dense_decimals_get_few_figures_unless_asked_for_exact_thresholds():
    # 50,000 customers with spend to the cent: the gap at a split is a cent wide
    rng = np.random.default_rng(3)
    spend = rng.lognormal(6, 1.0, 50_000).round(2)
    labels = np.digitize(np.log(spend) + rng.normal(0, 0.3, spend.size), [5.5, 6.5])
    data = pd.DataFrame({"monetary": spend})
    short, exact = segment_rules(data, labels), segment_rules(data, labels, digits=None)
    thresholds = [float(v) for q in short["query"] for v in re.findall(r"[<>]=? (\S+)", q)]
    assert thresholds and all(len(f"{v:.15g}".replace(".", "").strip("0")) <= 3 for v in thresholds), short["query"]
    assert (short["query"] != exact["query"]).any()  # the exact thresholds need more figures
    # the scores follow each rule as written, and rounding costs little
    for rules in (short, exact):
        for (selects, coverage, precision), (_, row) in zip(_scored_by_query(data, labels, rules), rules.iterrows()):
            assert (row["selects"], row["coverage"], row["precision"]) == pytest.approx((selects, coverage, precision))
    assert np.allclose(short["coverage"], exact["coverage"], atol=0.01)


def test_values_beyond_float32_still_separate(recwarn):
    """The tree works in float32; a feature of 1e300 (far past its range) split a
    segment with an overflow warning from inside scikit-learn and an infinite threshold."""
    data = pd.DataFrame({"x": np.r_[np.ones(50), np.full(50, 1e300)], "y": np.arange(100.0)})
    labels = (data["x"] > 1).to_numpy().astype(int)
    rules = segment_rules(data, labels)
    assert not [w for w in recwarn if issubclass(w.category, RuntimeWarning)]
    assert rules["coverage"].tolist() == [1.0, 1.0] and rules["precision"].tolist() == [1.0, 1.0]
    assert [r for r in _scored_by_query(data, labels, rules)] == [(50, 1.0, 1.0), (50, 1.0, 1.0)]
