"""A log with no spend (Taobao's UserBehavior, Retail Rocket's events, a gym's visits):
``rfm(monetary=False)`` and ``--amount none`` give Recency and Frequency alone, and
the segmenter, baskets, report and predict follow."""

import numpy as np
import pandas as pd
import pytest

from fastseg import Segmenter, baskets, rfm
from fastseg.cli import main
from fastseg.report import render


def _visits():
    """Four customers' visits: c1 three (one on a blank 'fee'), c2 one, c3 two; c4's only row has no date."""
    return pd.DataFrame({
        "member_id": ["c1", "c1", "c2", "c3", "c1", "c3", "c4"],
        "visit_date": ["2024-03-01", "2024-03-05", "2024-03-02", "2024-02-20", "2024-03-09", "2024-03-03", None],
        "fee": [5.0, 0.0, 5.0, np.nan, 5.0, 5.0, 5.0]})


def test_recency_and_frequency_alone_match_a_hand_count():
    table = rfm(_visits(), monetary=False)
    # snapshot: the last visit (Mar 9) + 1 day; no spend rule, so the 0 and blank fees count
    assert list(table.columns[:2]) == ["recency", "frequency"]
    assert "monetary" not in table.columns and "M" not in table.columns
    assert table.loc[["c1", "c2", "c3"], "recency"].tolist() == [1, 8, 7]
    assert table.loc[["c1", "c2", "c3"], "frequency"].tolist() == [3, 1, 2]
    assert (table["RFM"] == table["R"].astype(str) + table["F"].astype(str)).all()
    assert (table["score"] == table["R"] + table["F"]).all()
    assert table.attrs["columns"] == {"customer": "member_id", "date": "visit_date"}
    assert not any("amount" in k or "price" in k for k in table.attrs["cleaning"])
    assert table.attrs["cleaning"]["missing or unreadable date"] == 1


def test_they_equal_the_full_rfm_where_every_row_has_a_spend():
    rng = np.random.default_rng(3)
    n = 2000
    log = pd.DataFrame({"customer_id": rng.integers(0, 150, n), "order_id": rng.integers(0, 700, n),
                        "order_date": pd.Timestamp("2023-01-01") + pd.to_timedelta(rng.integers(0, 365, n), "D"),
                        "amount": rng.uniform(1, 90, n)})
    full, alone = rfm(log), rfm(log.drop(columns="amount"), monetary=False)
    pd.testing.assert_frame_equal(full[["recency", "frequency", "R", "F", "rfm_segment", "tenure"]],
                                  alone[["recency", "frequency", "R", "F", "rfm_segment", "tenure"]])


@pytest.mark.parametrize("kwargs, message", [
    (dict(monetary="no"), r"monetary must be True or False; got 'no'"),
    (dict(amount="fee"), r"monetary=False \(--amount none\) reads no spend, but amount='fee' needs one"),
    (dict(mix="fee", returns="net"), r"but mix='fee', returns='net' needs one; leave them out"),
])
def test_arguments_that_need_a_spend_are_refused(kwargs, message):
    with pytest.raises(ValueError, match=message):
        rfm(_visits(), **{"monetary": False, **kwargs})


def test_a_column_of_currencies_is_no_matter_without_a_spend():
    log = _visits().assign(currency=["GBP", "EUR", "GBP", "USD", "EUR", "GBP", "GBP"])
    with pytest.raises(ValueError, match="currenc"):
        rfm(log, amount="fee")  # pounds beside euros in Monetary: refused
    table = rfm(log, monetary=False)
    assert table["frequency"].sum() == 6 and "currency" not in table.attrs
    with pytest.raises(ValueError, match=r"but currency='GBP' needs one"):
        rfm(log, monetary=False, currency="GBP")


def test_a_log_without_spend_names_the_way_out():
    with pytest.raises(ValueError, match=r"no column is named like the spend.*monetary=False \(--amount none\)"):
        rfm(_visits().drop(columns="fee"))


def test_the_segmenter_clusters_on_recency_and_frequency():
    rng = np.random.default_rng(0)
    n = 4000
    who = rng.integers(0, 400, n)
    log = pd.DataFrame({"user_id": who, "timestamp": 1_700_000_000 + rng.integers(0, 200 * 86400, n) * (who % 3 + 1)})
    table = rfm(log, monetary=False)
    seg = Segmenter(k=3, random_state=0, stability=0, rules=False).fit(table)
    assert seg.features == ["recency", "frequency"]
    assert seg.value_column is None  # no spend to share out
    html = render(seg, images=[])
    assert "Recency and Frequency (no spend: no Monetary) from the transaction log&#x27;s columns" in html
    # the one-value error offers the feature left
    once = rfm(log.drop_duplicates("user_id"), monetary=False)
    with pytest.raises(ValueError, match=r"frequency is 1 for every customer.*features=\['recency'\]"):
        Segmenter(k=2, random_state=0).fit(once)


def test_baskets_without_spend_count_the_purchases():
    log = _visits().assign(item=["a", "b", "a", "a", "a", "c", "b"])
    b = baskets(log, item="item", monetary=False, values="lines")
    assert list(b.customers) == list(rfm(log, monetary=False).index)
    assert b.matrix[b.customers.get_loc("c1"), b.items.get_loc("a")] == 2
    with pytest.raises(ValueError, match=r"values='spend' adds up the spend, and monetary=False reads no spend"):
        baskets(log, item="item", monetary=False)


def _taobao(path, n=6000, seed=2):
    rng = np.random.default_rng(seed)
    users = rng.integers(1, 500, n)
    log = pd.DataFrame({"user_id": users, "item_id": rng.integers(1, 60, n), "category_id": rng.integers(1, 9, n),
                        "behavior_type": rng.choice(["pv", "cart", "fav", "buy"], n, p=[0.7, 0.1, 0.05, 0.15]),
                        "timestamp": 1511539200 + rng.integers(0, 60 * 86400, n) * (users % 2 + 1) // 2})
    log.to_csv(path, index=False)
    return log


def test_the_command_segments_a_log_without_spend(tmp_path, capsys):
    src = tmp_path / "UserBehavior.csv"
    log = _taobao(src)
    assert main(["segment", str(src), "--rfm", "--out", str(tmp_path / "x.csv")]) == 2
    assert "--amount none" in capsys.readouterr().err
    assert not (tmp_path / "x.csv").exists()
    out, model = tmp_path / "labels.csv", tmp_path / "m.fastseg"
    assert main(["segment", str(src), "--rfm", "--amount", "none", "--k", "3", "--out", str(out), "--save",
                 str(model), "--report", str(tmp_path / "r.html")]) == 0
    err = capsys.readouterr().err
    assert "RFM columns read off their names: customer 'user_id', date 'timestamp' (" in err
    assert "by their behavior_type" in err and "What each segment buys, from item 'item_id'" in err
    labels = pd.read_csv(out)
    assert set(labels["user_id"]) == set(log.loc[log["behavior_type"] == "buy", "user_id"])
    assert "monetary" not in labels.columns
    # predict computes RFM as the fit did, with no --amount none needed
    pred = tmp_path / "pred.csv"
    assert main(["predict", str(src), "--rfm", "--model", str(model), "--out", str(pred)]) == 0
    assert pd.read_csv(pred)["segment"].tolist() == labels["segment"].tolist()
    assert main(["predict", str(src), "--rfm", "--model", str(model), "--amount", "item_id", "--out",
                 str(tmp_path / "p2.csv")]) == 2
    assert "found on Recency and Frequency alone (--amount none)" in capsys.readouterr().err
    # a model with Monetary does not predict without it
    priced = tmp_path / "priced.csv"
    log.assign(price=np.arange(len(log)) % 7 + 1.0).to_csv(priced, index=False)
    assert main(["segment", str(priced), "--rfm", "--k", "3", "--item", "none", "--save", str(model), "--out",
                 str(tmp_path / "l2.csv")]) == 0
    capsys.readouterr()
    assert main(["predict", str(priced), "--rfm", "--amount", "none", "--model", str(model), "--out",
                 str(tmp_path / "p3.csv")]) == 2
    assert "found on Monetary too, from the spend column 'price'" in capsys.readouterr().err
    assert not (tmp_path / "p2.csv").exists() and not (tmp_path / "p3.csv").exists()
