"""Where the money is: each segment's share of the customers' spend beside its share of
the customers, checked by hand, with the spend column read off its name."""

import html

import numpy as np
import pandas as pd
import pytest

from fastseg import Segmenter, rfm
from fastseg.cli import main
from fastseg.datasets import mall_customers, online_retail
from fastseg.features import RFM_ACTIONS, RFM_SEGMENTS, looks_like_spend, spend_column
from fastseg._value_share import percent, value_table


@pytest.mark.parametrize("name", ["monetary", "Total Spend", "total_spend", "Sales", "Revenue", "MntWines",
                                  "customer_ltv", "amount_spent", "TotalAmount", "GMV"])
def test_names_of_spend(name):
    assert looks_like_spend(name)


@pytest.mark.parametrize("name", ["Spending Score (1-100)", "avg_spend", "spend_per_visit", "Annual Income (k$)",
                                  "Age", "NumWebPurchases", "frequency", "recency", "sales_rank", "AverageSales",
                                  "spend_growth", "credit_limit", "Revenue %"])
def test_names_not_of_a_total_spend(name):
    assert not looks_like_spend(name)


def test_spend_column_choice():
    rng = np.random.default_rng(0)
    spend = rng.gamma(2.0, 50.0, 100)
    assert spend_column(pd.DataFrame({"total_spend": spend, "monetary": spend, "Age": spend})) == "monetary"
    assert spend_column(pd.DataFrame({"Age": spend, "Sales": spend})) == "Sales"
    # several named like spend: the total of them, else none
    both = pd.DataFrame({"online_spend": spend, "store_spend": spend, "total_spend": 2 * spend})
    assert spend_column(both) == "total_spend"
    assert spend_column(both.drop(columns="total_spend")) is None
    # not amounts that add up: values below zero, a flag, text, nothing named like spend
    assert spend_column(pd.DataFrame({"Sales": spend - 100})) is None
    assert spend_column(pd.DataFrame({"Sales": (spend > 100).astype(int)})) is None
    assert spend_column(pd.DataFrame({"Sales": spend.astype(str)})) is None
    assert spend_column(mall_customers(200, seed=0)) is None  # "Spending Score (1-100)" is a score


def test_value_table_by_hand():
    values = pd.Series([10.0, 30.0, np.nan, 0.0, 60.0], name="spend")
    seg = np.array([0, 0, 1, 1, 2])
    tab = value_table(values, seg, 3, {0: "a", 1: "b", 2: "c"})
    assert list(tab["customers"]) == [2, 2, 1]
    np.testing.assert_allclose(tab["total"], [40, 0, 60])  # a missing value counts as none
    np.testing.assert_allclose(tab["share of total"], [0.4, 0.0, 0.6])
    np.testing.assert_allclose(tab["share of customers"], [0.4, 0.4, 0.2])
    np.testing.assert_allclose(tab["per customer"], [20, 0, 60])
    np.testing.assert_allclose(tab["index"], [1.0, 0.0, 3.0])
    assert list(tab["name"]) == ["a", "b", "c"]
    # an empty segment (predict-time k) gets zeros, not a division by zero
    tab = value_table(values, seg, 4, dict(enumerate("abcd")))
    assert tab.loc[3, "customers"] == 0 and tab.loc[3, "index"] == 0
    with pytest.raises(ValueError, match="'spend' adds up to 0 .* needs a total above zero"):
        value_table(pd.Series([0.0, 0.0], name="spend"), np.array([0, 1]), 2, {0: "a", 1: "b"})
    assert percent(0.004) == "<1%" and percent(0.0) == "0%" and percent(0.584) == "58%"


def _retail_rfm():
    return rfm(online_retail(2000, seed=0), customer="CustomerID", date="InvoiceDate", invoice="InvoiceNo",
               quantity="Quantity", price="UnitPrice")


def test_rfm_segments_share_of_monetary_matches_the_labels():
    table = _retail_rfm()
    seg = Segmenter(random_state=0, stability=0, rules=False).fit(table)
    assert seg.value_column == "monetary"
    by_hand = table["monetary"].groupby(seg.labels["segment"]).sum()
    np.testing.assert_allclose(seg.value["total"], by_hand.reindex(range(seg.k)))
    assert seg.value["share of total"].sum() == pytest.approx(1.0)
    np.testing.assert_allclose(seg.value["share of customers"], seg.profiles["share"])
    # the segment named for high spend brings more than its share of the money
    top = seg.value["index"].idxmax()
    assert "high spend" in seg.names[top] and seg.value.loc[top, "index"] > 1
    for s in range(seg.k):
        assert f"{percent(seg.value.loc[s, 'share of total'])} of monetary" in seg.summary().splitlines()[
            [i for i, line in enumerate(seg.summary().splitlines()) if line.startswith(f"  {s}: ")][0]]
    renamed = seg.rename({top: "VIPs"})
    assert renamed.value.loc[top, "name"] == "VIPs" and seg.value.loc[top, "name"] != "VIPs"
    none = Segmenter(random_state=0, stability=0, rules=False, value=None).fit(table)
    assert none.value is None and none.value_column is None and "of monetary" not in none.summary()


def test_a_value_column_that_is_not_a_feature_is_added_up_per_segment():
    df = mall_customers(200, seed=1)
    rng = np.random.default_rng(1)
    df["Total Spend"] = rng.gamma(2.0, 100.0, len(df)).round(2)
    seg = Segmenter(features=["Annual Income (k$)", "Spending Score (1-100)"], k=5, random_state=0,
                    stability=0, rules=False).fit(df)
    assert seg.value_column == "Total Spend"  # found by its name, not a feature
    by_hand = df.set_index("CustomerID")["Total Spend"].groupby(seg.labels["segment"]).sum()
    np.testing.assert_allclose(seg.value["total"], by_hand.reindex(range(5)))
    named = Segmenter(features=["Annual Income (k$)", "Spending Score (1-100)"], k=5, random_state=0,
                      stability=0, rules=False, value="Age").fit(df)
    assert named.value_column == "Age"
    assert named.value["total"].sum() == pytest.approx(df["Age"].sum())


@pytest.mark.parametrize("value, match", [
    ("Nope", r"column\(s\) 'Nope' not found; available: 'CustomerID', 'Gender'"),
    ("Gender", "value column 'Gender' is not numeric"),
    (3.5, "value must be 'auto', a column name or None"),
    (3, r"column\(s\) '3' not found; available: 'CustomerID'"),  # a whole number names a column, as a pivot's 2024
])
def test_value_errors_come_before_the_sweep(value, match, monkeypatch):
    import fastseg.segment as segment

    monkeypatch.setattr(segment, "sweep", lambda *a, **k: pytest.fail("swept before the error"))
    with pytest.raises(ValueError, match=match):
        Segmenter(value=value).fit(mall_customers(100, seed=0))


def test_report_and_plot_show_where_the_money_is(tmp_path):
    import matplotlib

    matplotlib.use("Agg")
    from fastseg import plots, report
    from fastseg.report import figures

    seg = Segmenter(random_state=0, stability=0, rules=False).fit(_retail_rfm())
    fig = plots.value_share(seg)
    ax = fig.axes[0]
    widths = sorted(round(p.get_width(), 9) for p in ax.patches)
    expected = sorted(round(v, 9) for v in [*seg.value["share of customers"], *seg.value["share of total"]])
    assert widths == expected
    assert "value" in [name for name, _, _ in figures(seg)]
    path = tmp_path / "r.html"
    report(seg, path)
    text = path.read_text()
    assert "Where the money is</h2>" in text and "of monetary)" in text
    with pytest.raises(ValueError, match="no value column"):
        plots.value_share(Segmenter(random_state=0, stability=0, rules=False, value=None).fit(_retail_rfm()))


def test_cli_value_option(tmp_path, capsys):
    df = mall_customers(120, seed=0)
    df["Sales"] = np.arange(len(df), dtype=float)
    path = tmp_path / "mall.csv"
    df.to_csv(path, index=False)
    args = ["segment", str(path), "--k", "3", "--stability", "0"]
    assert main(args) == 0
    assert "of Sales" in capsys.readouterr().out
    assert main(args + ["--value", "none"]) == 0
    assert "of Sales" not in capsys.readouterr().out
    assert main(args + ["--value", "Age"]) == 0
    assert "of Age" in capsys.readouterr().out
    assert main(args + ["--value", "Nope", "--out", str(tmp_path / "labels.csv")]) == 2
    assert "'Nope' not found" in capsys.readouterr().err
    assert not (tmp_path / "labels.csv").exists()


def test_overview_one_row_per_segment_from_the_segmentation():
    seg = Segmenter(random_state=0, stability=3).fit(_retail_rfm())
    ov = seg.overview()
    assert list(ov.index) == list(range(seg.k))
    assert list(ov.columns) == ["name", "description", "customers", "share", "share of monetary",
                                "monetary per customer", "recency median", "frequency median", "monetary median",
                                "RFM grid", "suggested action", "stands out", "rule", "coverage", "precision",
                                "stability"]
    assert (ov["customers"] == seg.labels["segment"].value_counts().sort_index()).all()
    np.testing.assert_allclose(ov["share of monetary"], seg.value["share of total"])
    for s in range(seg.k):
        part = seg.data[seg.labels["segment"] == s]
        assert ov.loc[s, "frequency median"] == part["frequency"].median()
        top = seg.rfm_mix.loc[s].idxmax()
        assert ov.loc[s, "RFM grid"] == f"{top} ({seg.rfm_mix.loc[s, top]:.0%})"
        assert ov.loc[s, "suggested action"] == RFM_ACTIONS[top]
    assert ov["suggested action"].nunique() == ov["RFM grid"].str.split(" [(]").str[0].nunique()
    from fastseg.report import render

    page = render(seg, images=[])
    for s in range(seg.k):
        top = seg.rfm_mix.loc[s].idxmax()
        assert html.escape(f"the usual play: {RFM_ACTIONS[top]}.") in page
    assert (ov["rule"] == seg.rules["rule"]).all() and (ov["stability"] == seg.stability["stability"]).all()
    renamed = seg.rename({0: "Sleepers"}).overview()
    assert renamed.loc[0, "name"] == "Sleepers" and renamed.loc[0, "description"] == ov.loc[0, "description"]
    # what a segmentation has not got, the overview leaves out
    df = mall_customers(200, seed=0)
    bare = Segmenter(features=["Annual Income (k$)", "Spending Score (1-100)"], k=5, random_state=0, stability=0,
                     rules=False, describe=["Gender"]).fit(df).overview()
    assert list(bare.columns) == ["name", "description", "customers", "share", "Annual Income (k$) median",
                                  "Spending Score (1-100) median", "stands out"]
    assert bare["stands out"].str.contains("Gender: ").any() or (bare["stands out"] == "").all()


def test_cli_segments_option(tmp_path, capsys):
    df = mall_customers(150, seed=0)
    path, table = tmp_path / "mall.csv", tmp_path / "segments.csv"
    df.to_csv(path, index=False)
    assert main(["segment", str(path), "--k", "4", "--stability", "0", "--segments", str(table)]) == 0
    got = pd.read_csv(table, index_col="segment")
    assert len(got) == 4 and got["customers"].sum() == len(df) and f"segments: {table}" in capsys.readouterr().out
    assert main(["segment", str(path), "--k", "4", "--segments", str(table), "--out", str(table)]) == 2
    assert "both name" in capsys.readouterr().err


def test_every_rfm_grid_segment_has_a_suggested_action():
    assert set(RFM_ACTIONS) == {name for name, _, _ in RFM_SEGMENTS}
    assert all(len(a) > 20 and not a.endswith(".") for a in RFM_ACTIONS.values())  # a clause the report ends
