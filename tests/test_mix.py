"""Spend shares by kind of purchase (rfm(mix=...)): hand-computed tables, the Segmenter
clustering on them, save/predict with the same columns, the command's --mix."""

import re

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import adjusted_rand_score

from fastseg import Segmentation, Segmenter, rfm
from fastseg.cli import main
from fastseg.features import MIX_TOP
from fastseg.report import render

ROLES = dict(customer="cust", date="day", amount="amt")


def small_log():
    # customer 1: A 20 (one row cancelled, one of price 0: not counted), B 30, missing kind 50
    # customer 2: A only; customer 3: C only
    return pd.DataFrame({
        "inv": ["1", "1", "2", "C3", "4", "5", "6", "7"],
        "cust": [1, 1, 1, 1, 1, 2, 2, 3],
        "day": pd.to_datetime(["2024-01-01", "2024-01-01", "2024-01-02", "2024-01-03", "2024-01-04", "2024-01-01",
                               "2024-01-05", "2024-01-04"]),
        "amt": [20.0, 30.0, 50.0, 99.0, 0.0, 5.0, 5.0, 7.0],
        "cat": ["A", "B", None, "B", "B", "A", "A", "C"],
    })


def test_shares_by_hand_with_cleaning_missing_kinds_and_order_by_spend():
    t = rfm(small_log(), invoice="inv", mix="cat", **ROLES)
    # kinds ordered by spend over all customers: A 30 (20 + 5 + 5) and B 30 tie, first seen first; then C 7
    assert t.attrs["mix"] == {"column": "cat", "values": ["A", "B", "C"],
                              "columns": ["A share", "B share", "C share", "other share"], "kinds": 3,
                              "covered": pytest.approx(67 / 117)}
    expected = pd.DataFrame({"A share": [0.2, 1.0, 0.0], "B share": [0.3, 0.0, 0.0], "C share": [0.0, 0.0, 1.0],
                             "other share": [0.5, 0.0, 0.0]}, index=pd.Index([1, 2, 3], name="cust"))
    pd.testing.assert_frame_equal(t[expected.columns], expected)
    # R, F, M as without the mix
    plain = rfm(small_log(), invoice="inv", **ROLES)
    pd.testing.assert_frame_equal(t[plain.columns], plain)


def test_no_other_column_when_every_row_has_a_named_kind():
    log = small_log().dropna(subset=["cat"])
    t = rfm(log, invoice="inv", mix="cat", **ROLES)
    assert t.attrs["mix"]["columns"] == ["A share", "B share", "C share"]
    np.testing.assert_allclose(t.filter(like=" share").sum(axis=1), 1.0)


def test_numeric_kinds_are_named_with_their_column():
    log = small_log().assign(dept=[10, 20, 10, 20, 20, 10, 10, 30])
    t = rfm(log, invoice="inv", mix="dept", **ROLES)
    assert t.attrs["mix"]["columns"] == ["dept 10 share", "dept 20 share", "dept 30 share"]
    assert t.attrs["mix"]["values"] == [10, 20, 30] and all(type(v) is int for v in t.attrs["mix"]["values"])


def random_log(n_customers, n_kinds, seed):
    rng = np.random.default_rng(seed)
    rows = rng.integers(1, 12, n_customers)
    cust = np.repeat(np.arange(n_customers), rows)
    kinds = np.array([f"kind{j}" for j in range(n_kinds)], dtype=object)
    cat = kinds[np.minimum(rng.zipf(1.6, len(cust)) - 1, n_kinds - 1)]
    cat[rng.random(len(cust)) < 0.05] = None
    return pd.DataFrame({"cust": cust, "day": pd.Timestamp("2024-01-01") + pd.to_timedelta(rng.integers(0, 300,
                         len(cust)), "D"), "amt": rng.lognormal(2, 1, len(cust)), "cat": cat})


@pytest.mark.parametrize("n_kinds", [3, MIX_TOP, MIX_TOP + 5])
def test_shares_equal_a_pandas_pivot_on_random_logs(n_kinds):
    log = random_log(257, n_kinds, seed=n_kinds)
    t = rfm(log, mix="cat", **ROLES)
    spent = log.groupby("cat")["amt"].sum().sort_values(ascending=False, kind="stable")
    top = list(spent.index[:MIX_TOP])
    assert t.attrs["mix"]["values"] == top
    kind = log["cat"].where(log["cat"].isin(top), "(rest)")
    pivot = log.assign(kind=kind).pivot_table(index="cust", columns="kind", values="amt", aggfunc="sum",
                                              fill_value=0.0)
    pivot = pivot.div(pivot.sum(axis=1), axis=0)
    for v in top:
        np.testing.assert_allclose(t[f"{v} share"], pivot[v].reindex(t.index), rtol=1e-12)
    np.testing.assert_allclose(t["other share"], pivot["(rest)"].reindex(t.index), rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(t[t.attrs["mix"]["columns"]].sum(axis=1), 1.0)


def test_mix_values_fix_the_columns_an_absent_kind_is_zero_and_other_is_always_there():
    t = rfm(small_log(), invoice="inv", mix="cat", mix_values=["C", "Z"], **ROLES)
    assert t.attrs["mix"]["columns"] == ["C share", "Z share", "other share"]
    assert list(t["Z share"]) == [0.0, 0.0, 0.0]
    assert list(t["other share"]) == [1.0, 1.0, 0.0]


@pytest.mark.parametrize("kw, message", [
    (dict(mix="category"), "not found"),
    (dict(mix="amt"), "already used for RFM"),
    (dict(mix_values=["A"]), "give mix=<column> too"),
    (dict(mix="cat", mix_values=[]), "mix_values is empty"),
])
def test_bad_mix_arguments_are_named(kw, message):
    with pytest.raises(ValueError, match=message):
        rfm(small_log(), invoice="inv", **ROLES, **kw)


def test_a_kind_named_other_would_clash_and_says_so():
    log = small_log().assign(cat=["other", "B", "other", "B", "B", "other", "other", None])
    with pytest.raises(ValueError, match="share a column name"):
        rfm(log, invoice="inv", mix="cat", **ROLES)


def test_the_mix_column_is_not_carried_as_an_attribute():
    log = small_log().assign(cat=["A", "A", "A", "A", "A", "B", "B", "C"])  # one kind per customer
    assert "cat" in rfm(log, invoice="inv", **ROLES).columns  # auto: carried as the customer's attribute
    t = rfm(log, invoice="inv", mix="cat", **ROLES)
    assert "cat" not in t.columns and t.attrs["attributes"]["columns"] == []


def planted_log(seed=0, n=600):
    """Two groups alike in recency, frequency and spend; one spends mostly on Garden, the other on Kitchen."""
    rng = np.random.default_rng(seed)
    group = rng.integers(0, 2, n)
    cust = np.repeat(np.arange(n), rng.integers(3, 30, n))
    kinds = np.array(["Garden", "Kitchen", "Toys", "Books"])
    kind = np.where(rng.random(len(cust)) < 0.8, group[cust], rng.integers(2, 4, len(cust)))
    log = pd.DataFrame({"Customer ID": cust + 1000, "Order ID": rng.integers(0, 10**6, len(cust)),
                        "Order Date": pd.Timestamp("2024-01-01") + pd.to_timedelta(rng.integers(0, 365, len(cust)),
                                                                                   "D"),
                        "Sales": rng.lognormal(3, 1, len(cust)), "Category": kinds[kind]})
    return log, pd.Series(group, index=np.arange(n) + 1000)


def test_segmenter_clusters_on_the_shares_and_finds_what_rfm_cannot():
    log, truth = planted_log()
    plain = Segmenter(k=2, random_state=0, stability=0).fit(rfm(log))
    mixed = Segmenter(k=2, random_state=0, stability=0).fit(rfm(log, mix="Category"))
    assert mixed.features == ["recency", "frequency", "monetary", "Kitchen share", "Garden share", "Toys share",
                              "Books share"]
    assert adjusted_rand_score(truth.reindex(plain.labels.index), plain.labels["segment"]) < 0.1
    assert adjusted_rand_score(truth.reindex(mixed.labels.index), mixed.labels["segment"]) > 0.95
    assert any("Garden share" in name for name in mixed.names.values())
    assert mixed.source["mix"]["column"] == "Category"
    html = render(mixed, images=[])
    assert "share of spend by &#x27;Category&#x27; was segmented on" in html
    # features named without the shares: the report does not claim them
    rfm_only = Segmenter(features=["recency", "frequency", "monetary"], k=2, random_state=0,
                         stability=0).fit(rfm(log, mix="Category"))
    assert "was segmented on" not in render(rfm_only, images=[])


def test_a_share_no_customer_has_is_left_out_as_one_value():
    log, _ = planted_log(n=200)
    seg = Segmenter(k=2, random_state=0, stability=0).fit(rfm(log, mix="Category",
                                                               mix_values=["Garden", "Kitchen", "Tools"]))
    assert seg.features == ["recency", "frequency", "monetary", "Garden share", "Kitchen share", "other share"]
    assert seg.left_out == {"Tools share": "one value"}


def test_saved_segmentation_predicts_a_newer_log_through_its_mix_values(tmp_path):
    log, _ = planted_log()
    seg = Segmenter(k=2, random_state=0, stability=0).fit(rfm(log, mix="Category"))
    seg.save(tmp_path / "seg.pkl")
    back = Segmentation.load(tmp_path / "seg.pkl")
    newer = log[log["Category"] != "Books"]  # a kind gone from the newer log: its column stays, at zero
    table = rfm(newer, mix="Category", mix_values=back.source["mix"]["values"])
    assert table["Books share"].eq(0).all()
    labels = back.predict(table)
    assert labels.index.equals(table.index) and labels["segment"].notna().all()
    for made in (rfm(newer), rfm(newer, mix="Category")):  # without the kinds, or with the newer log's own
        for method in (back.predict, back.distances):
            with pytest.raises(ValueError, match=r"mix_values=seg.source\['mix'\]\['values'\]"):
                method(made)


def _err(argv, capsys):
    rc = main(argv)
    return rc, capsys.readouterr().err


def test_cli_mix_segments_saves_and_predicts_with_the_models_kinds(tmp_path, capsys):
    log, truth = planted_log()
    src, newer = tmp_path / "log.csv", tmp_path / "newer.csv"
    log.to_csv(src, index=False)
    log[log["Category"] != "Books"].to_csv(newer, index=False)
    model, out, pred = tmp_path / "seg.pkl", tmp_path / "labels.csv", tmp_path / "pred.csv"
    # roles named: the command reads only the columns it uses, the mix column among them
    assert main(["segment", str(src), "--rfm", "--customer", "Customer ID", "--date", "Order Date", "--invoice",
                 "Order ID", "--amount", "Sales", "--mix", "Category", "--k", "2", "--stability", "0", "--save",
                 str(model), "--out", str(out)]) == 0
    err = capsys.readouterr().err
    assert "Shares of spend by Category: Kitchen share, Garden share, Toys share, Books share" in err
    labels = pd.read_csv(out, index_col=0)
    assert adjusted_rand_score(truth.reindex(labels.index), labels["segment"]) > 0.95
    assert main(["predict", str(newer), "--rfm", "--model", str(model), "--out", str(pred)]) == 0
    got = pd.read_csv(pred, index_col=0)
    expected = Segmentation.load(model).predict(rfm(pd.read_csv(newer), mix="Category",
                                                    mix_values=["Kitchen", "Garden", "Toys", "Books"]))
    assert list(got["segment"]) == list(expected["segment"]) and (got["Books share"] == 0).all()


def test_cli_mix_of_a_product_column_says_it_covers_little_of_the_spend(tmp_path, capsys):
    log, _ = planted_log(n=200)
    log["Product"] = [f"P{i}" for i in np.random.default_rng(0).integers(0, 400, len(log))]
    src = tmp_path / "log.csv"
    log.to_csv(src, index=False)
    assert main(["segment", str(src), "--rfm", "--mix", "Product", "--k", "2", "--stability", "0", "-q"]) == 0
    assert capsys.readouterr().err == ""  # --quiet: no note
    assert main(["segment", str(src), "--rfm", "--mix", "Product", "--k", "2", "--stability", "0"]) == 0
    err = capsys.readouterr().err
    assert re.search(r"note: the 8 kinds named hold \d+% of the spend \(400 kinds in Product\)", err)
    assert "see --items" in err
    assert main(["segment", str(src), "--rfm", "--mix", "Category", "--k", "2", "--stability", "0"]) == 0
    assert "note: the" not in capsys.readouterr().err  # four categories: all of the spend


def test_cli_mix_errors_are_one_line_and_write_nothing(tmp_path, capsys):
    log, _ = planted_log(n=100)
    src = tmp_path / "log.csv"
    log.to_csv(src, index=False)
    out = tmp_path / "labels.csv"
    rc, err = _err(["segment", str(src), "--mix", "Category", "--out", str(out)], capsys)
    assert rc == 2 and "--mix goes with --rfm" in err
    rc, err = _err(["segment", str(src), "--rfm", "--mix", "Categ", "--out", str(out)], capsys)
    assert rc == 2 and "did you mean 'Category'" in err
    rc, err = _err(["segment", str(src), "--rfm", "--mix", "Sales", "--out", str(out)], capsys)
    assert rc == 2 and "already used for RFM" in err
    assert not out.exists()
    model = tmp_path / "seg.pkl"
    assert main(["segment", str(src), "--rfm", "--k", "2", "--stability", "0", "--save", str(model), "-q"]) == 0
    rc, err = _err(["predict", str(src), "--rfm", "--model", str(model), "--mix", "Category"], capsys)
    assert rc == 2 and "takes --mix from the model" in err
