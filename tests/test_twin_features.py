"""Features that move together are named: k-means would weigh what they share twice."""

import numpy as np
import pytest

from fastseg import Segmenter, rfm
from fastseg._twin_features import TWIN_R, twin_features
from fastseg.datasets import mall_customers, online_retail

INCOME, SCORE = "Annual Income (k$)", "Spending Score (1-100)"


def test_pairs_at_or_above_the_threshold_strongest_first():
    rs = np.random.default_rng(0)
    a, b, c = rs.normal(size=(3, 2000))
    Z = np.c_[a, a + 0.05 * b, -a + 0.2 * c, c]
    names = ["a", "a2", "mirror", "c"]
    twins = twin_features(Z, names)
    r = np.corrcoef(Z, rowvar=False)
    assert {(x, y) for x, y, _ in twins} == {("a", "a2"), ("a2", "mirror"), ("a", "mirror")}
    for x, y, rxy in twins:
        assert rxy == pytest.approx(r[names.index(x), names.index(y)])
    assert [abs(t[2]) for t in twins] == sorted((abs(t[2]) for t in twins), reverse=True)
    assert all(abs(t[2]) >= TWIN_R for t in twins) and twins[-1][2] < 0  # a mirror counts
    assert twin_features(Z[:, [0, 3]], ["a", "c"]) == [] and twin_features(Z[:, :1], ["a"]) == []


def test_a_copy_of_income_in_other_units_is_named():
    df = mall_customers(400)
    rs = np.random.default_rng(1)
    df["income_usd"] = df[INCOME] * 1270 + rs.normal(0, 500, len(df))  # k£ to $: the same thing
    seg = Segmenter(random_state=0, stability=0, k=5).fit(df)
    assert [(a, b) for a, b, _ in seg.twins] == [(INCOME, "income_usd")] and seg.twins[0][2] > 0.99
    assert f"Features that move together (correlation {TWIN_R} or more in size): {INCOME} and income_usd (+" \
        in seg.summary()
    from fastseg.report import render

    assert "Features that move together" in render(seg, images=[])
    assert Segmenter(random_state=0, stability=0, k=5).fit(df.drop(columns="income_usd")).twins == []


def test_no_twins_in_the_shipped_data():
    """Frequency and monetary go together (0.85 after log1p) but are not one thing."""
    seg = Segmenter(random_state=0, stability=0, k=5).fit(rfm(online_retail()))
    assert seg.twins == [] and "move together" not in seg.summary()


def test_a_segmentation_saved_before_twins_loads_with_none():
    seg = Segmenter(random_state=0, stability=0, k=3).fit(mall_customers(200))
    state = dict(seg.__dict__)
    del state["twins"]
    old = object.__new__(type(seg))
    old.__setstate__(state)
    assert old.twins == [] and "move together" not in old.summary()


def test_sweep_command_names_them(tmp_path, capsys):
    df = mall_customers(300)
    df["income_usd"] = df[INCOME] * 1270
    src = tmp_path / "mall.csv"
    df.to_csv(src, index=False)
    from fastseg.cli import main

    assert main(["sweep", str(src), "--k-range", "2-4"]) == 0
    assert f"Features that move together (correlation {TWIN_R} or more in size): {INCOME} and income_usd (+1.00)" \
        in capsys.readouterr().err
