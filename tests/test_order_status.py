"""A transaction log's column of order status: rows whose status says the sale did not
happen are left out by rfm and baskets alike, said, and can be turned off."""

import numpy as np
import pandas as pd
import pytest

from fastseg import baskets, rfm
from fastseg._order_status import status_column, voids_sale
from fastseg.cli import main


@pytest.mark.parametrize("value, void", [
    ("canceled", True), ("Cancelled", True), ("CANCELLED BY CUSTOMER", True), ("cancellation", True),
    ("unavailable", True), ("Refunded", True), ("Returned", True), ("Payment failed", True), ("declined", True),
    ("Voided", True), ("rejected", True), ("chargeback", True), ("abandoned", True),
    # a sale that stands, or is under way
    ("delivered", False), ("shipped", False), ("invoiced", False), ("processing", False), ("Completed", False),
    ("Partially refunded", False), ("partial return", False), ("", False), ("returnable", False),
    # Shopify's Financial Status, words joined by "_"
    ("refunded", True), ("voided", True), ("partially_refunded", False), ("payment_failed", True), ("paid", False),
    ("pending", False), ("authorized", False),
])
def test_which_statuses_void_the_sale(value, void):
    assert voids_sale(value) is void


@pytest.mark.parametrize("columns, want", [
    (["order_id", "order_status", "payment_value"], "order_status"),
    (["Invoice", "Status", "Amount"], "Status"),
    (["Invoice", "Payment Status", "Amount"], "Payment Status"),
    (["Order ID", "State", "Sales"], None),  # a US state
    (["Order ID", "status_code", "Sales"], None),
    (["Name", "Email", "Financial Status", "Fulfillment Status", "Total"], "Financial Status"),  # Shopify
])
def test_the_status_column_is_read_off_its_name(columns, want):
    assert status_column(columns) == want


def _log():
    """Five orders of three customers; c3's only order was canceled, one of c1's refunded."""
    return pd.DataFrame({
        "order_id": ["o1", "o2", "o3", "o4", "o5"],
        "customer_id": ["c1", "c1", "c2", "c3", "c1"],
        "order_date": pd.to_datetime(["2024-01-01", "2024-01-10", "2024-01-05", "2024-01-20", "2024-01-15"]),
        "order_status": ["delivered", "Refunded", "shipped", "canceled", None],
        "Country": ["UK", "UK", "FR", "DE", "UK"],
        "sales": [10.0, 20.0, 30.0, 40.0, 50.0]})


def test_rfm_leaves_out_the_rows_of_no_sale_and_says_which():
    log = _log()
    table = rfm(log)
    # c1: o1 and o5 (o2 refunded), last on the 15th, the day before the snapshot (the last sale + 1 day);
    # c2: o3; c3 had no sale
    assert list(table.index) == ["c1", "c2"]
    assert table.loc["c1", ["frequency", "monetary", "recency"]].tolist() == [2, 60.0, 1]
    assert table.attrs["cleaning"]["status of no sale"] == 2
    assert table.attrs["status"] == {"column": "order_status", "dropped": {"Refunded": 1, "canceled": 1},
                                     "kind": "status"}
    assert "order_status" not in table.columns and "Country" in table.columns  # a purchase's, not a customer's
    # turned off, every row is a purchase; given by name, the same as found
    kept = rfm(log, status=None)
    assert kept.loc["c1", "frequency"] == 3 and "c3" in kept.index and kept.attrs["status"] is None
    pd.testing.assert_frame_equal(rfm(log, status="order_status"), table)
    assert "status of no sale" not in rfm(log.drop(columns="order_status")).attrs["cleaning"]


def test_a_status_argument_that_cannot_be_is_named():
    log = _log()
    with pytest.raises(ValueError, match=r"column\(s\) 'state' not found in the transactions; available: 'order_id'"):
        rfm(log, status="state")
    with pytest.raises(ValueError, match=r"status column 'order_id' is already used for RFM"):
        rfm(log, status="order_id")


def test_baskets_leave_out_the_same_rows_as_rfm():
    log = _log().assign(product=["a", "b", "a", "c", "b"])
    b = baskets(log, item="product")
    assert list(b.customers) == list(rfm(log).index)
    assert b.matrix.toarray().tolist() == [[10.0, 50.0], [30.0, 0.0]]  # c1's refunded "b" not counted
    assert b.matrix.shape[1] == 2  # "c" was only ever canceled
    assert baskets(log, item="product", status=None).matrix.sum() == 150.0


def test_the_command_says_what_status_left_out(tmp_path, capsys):
    rng = np.random.default_rng(0)
    n = 400
    log = pd.DataFrame({"order_id": [f"o{i}" for i in range(n)], "customer_id": rng.integers(0, 120, n),
                        "order_purchase_timestamp": pd.Timestamp("2024-01-01")
                        + pd.to_timedelta(rng.integers(0, 300, n), unit="D"),
                        "order_status": rng.choice(["delivered", "canceled"], n, p=[0.9, 0.1]),
                        "payment_value": rng.lognormal(4, 1, n).round(2)})
    src = tmp_path / "orders.csv"
    log.to_csv(src, index=False)
    out, rep = tmp_path / "labels.csv", tmp_path / "r.html"
    assert main(["segment", str(src), "--rfm", "--k", "3", "--out", str(out), "--report", str(rep)]) == 0
    err = capsys.readouterr().err
    dropped = int((log["order_status"] == "canceled").sum())
    assert (f"Left out as no purchase, by their order_status: canceled on {dropped} rows (set with --status COLUMN, "
            "or --status none).") in err
    want = rfm(log)
    assert len(pd.read_csv(out)) == len(want)
    assert f"Left out as no purchase, by their order_status: canceled on {dropped} rows." in rep.read_text()
    # the same with every role named (only the columns used are read: the status column among them)
    assert main(["segment", str(src), "--rfm", "--customer", "customer_id", "--date", "order_purchase_timestamp",
                 "--invoice", "order_id", "--amount", "payment_value", "--k", "3", "--out", str(out)]) == 0
    assert f"canceled on {dropped} rows" in capsys.readouterr().err and len(pd.read_csv(out)) == len(want)
    assert main(["segment", str(src), "--rfm", "--status", "none", "--k", "3", "--out", str(out)]) == 0
    assert "Left out as no purchase" not in capsys.readouterr().err
    assert len(pd.read_csv(out)) == log["customer_id"].nunique()
    # a customer table has no status rule to turn off
    table = tmp_path / "customers.csv"
    want.reset_index()[["customer_id", "recency", "frequency", "monetary"]].to_csv(table, index=False)
    assert main(["segment", str(table), "--status", "none", "--out", str(tmp_path / "x.csv")]) == 2
    assert "--status goes with --rfm" in capsys.readouterr().err


def test_predict_leaves_out_the_rows_the_fit_left_out(tmp_path, capsys):
    rng = np.random.default_rng(1)
    n = 300
    log = pd.DataFrame({"order_id": [f"o{i}" for i in range(n)], "customer_id": rng.integers(0, 90, n),
                        "order_date": pd.Timestamp("2024-01-01") + pd.to_timedelta(rng.integers(0, 200, n), unit="D"),
                        "Status": rng.choice(["Completed", "Cancelled"], n, p=[0.85, 0.15]),
                        "sales": rng.lognormal(3, 1, n).round(2)})
    src, model = tmp_path / "log.csv", tmp_path / "m.pkl"
    log.to_csv(src, index=False)
    assert main(["segment", str(src), "--rfm", "--k", "3", "--save", str(model), "--out", str(tmp_path / "a.csv")]) == 0
    capsys.readouterr()
    out = tmp_path / "p.csv"
    assert main(["predict", str(src), "--rfm", "--model", str(model), "--out", str(out)]) == 0
    cancelled = int((log["Status"] == "Cancelled").sum())
    assert f"Cancelled on {cancelled} rows" in capsys.readouterr().err
    assert len(pd.read_csv(out)) == len(rfm(log))
    # the fit's rule, or none: predict computes RFM as the fit did
    assert main(["predict", str(src), "--rfm", "--model", str(model), "--status", "none", "--out", str(out)]) == 2
    assert (f"--status none: {model}'s RFM was found with --status Status, and predict computes it the same way; "
            "leave --status out.") in capsys.readouterr().err
    # a newer log with no status column: every row a purchase
    newer = tmp_path / "newer.csv"
    log.drop(columns="Status").to_csv(newer, index=False)
    assert main(["predict", str(newer), "--rfm", "--model", str(model), "--out", str(out)]) == 0
    assert len(pd.read_csv(out)) == log["customer_id"].nunique()
