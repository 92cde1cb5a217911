"""Tables joined to a transaction log's rows before RFM (``join_log``, ``--join``): a
lookup keeps the log's rows, a table of parts repeats them, and nothing is counted twice."""

import numpy as np
import pandas as pd
import pytest

from fastseg import baskets, join_log, rfm
from fastseg.cli import main
from fastseg.log_join import join_text


def olist():
    """Olist's three files, small: orders keyed by a customer id new on every order, the
    customers table mapping it to the lasting id, the payments (o1 paid in two parts,
    o3 not paid), and the items of each order."""
    orders = pd.DataFrame({
        "order_id": ["o1", "o2", "o3", "o4", "o5", "o6"],
        "customer_id": ["c1", "c2", "c3", "c4", "c5", "c6"],
        "order_status": ["delivered", "delivered", "delivered", "canceled", "delivered", "delivered"],
        "order_purchase_timestamp": ["2018-01-01 10:00:00", "2018-01-05 09:00:00", "2018-02-01 12:00:00",
                                     "2018-02-10 08:00:00", "2018-03-01 18:00:00", "2018-03-09 11:00:00"],
        "order_delivered_customer_date": ["2018-01-09 10:00:00", "2018-01-12 09:00:00", None, None,
                                          "2018-03-08 18:00:00", "2018-03-15 11:00:00"]})
    customers = pd.DataFrame({  # not in the orders' order
        "customer_id": ["c6", "c5", "c4", "c3", "c2", "c1"],
        "customer_unique_id": ["u3", "u1", "u2", "u2", "u2", "u1"],
        "customer_state": ["MG", "SP", "RJ", "RJ", "RJ", "SP"]})
    payments = pd.DataFrame({
        "order_id": ["o1", "o1", "o2", "o4", "o5", "o6"],
        "payment_sequential": [1, 2, 1, 1, 1, 1],
        "payment_type": ["credit_card", "voucher", "boleto", "credit_card", "credit_card", "boleto"],
        "payment_value": [30.0, 10.0, 25.0, 99.0, 12.5, 60.0]})
    items = pd.DataFrame({
        "order_id": ["o1", "o1", "o2", "o3", "o4", "o5", "o6", "o6"],
        "order_item_id": [1, 2, 1, 1, 1, 1, 1, 2],
        "product_id": ["p1", "p2", "p1", "p3", "p1", "p2", "p3", "p3"],
        "price": [20.0, 15.0, 20.0, 8.0, 90.0, 10.0, 25.0, 25.0],
        "freight_value": [5.0, 0.0, 5.0, 2.0, 9.0, 2.5, 5.0, 5.0]})
    return orders, customers, payments, items


def test_olist_three_files_give_the_rfm_of_each_lasting_customer():
    orders, customers, payments, _ = olist()
    log = join_log(join_log(orders, customers, name="customers"), payments, name="payments")
    # the lookup kept the orders' rows; the payments gave o1 two rows, o3 (not paid) one with none
    assert log["order_id"].tolist() == ["o1", "o1", "o2", "o3", "o4", "o5", "o6"]
    assert log["customer_unique_id"].tolist() == ["u1", "u1", "u2", "u2", "u2", "u1", "u3"]
    assert log["payment_value"].isna().tolist() == [False, False, False, True, False, False, False]
    assert str(log["payment_sequential"].dtype) == "Int64"  # whole numbers beside an empty value
    first, second = log.attrs["joined"]
    assert first == {"table": "customers", "on": "customer_id", "key": "customer_id",
                     "columns": ["customer_unique_id", "customer_state"],
                     "same": [], "parts": False, "repeated": [], "rows in": 6, "rows out": 6, "unmatched": 0}
    assert second["parts"] and second["rows in"] == 6 and second["rows out"] == 7 and second["unmatched"] == 1
    assert second["repeated"] == ["customer_id", "order_status", "order_purchase_timestamp",
                                  "order_delivered_customer_date", "customer_unique_id", "customer_state"]
    table = rfm(log)  # every column read off its name
    assert table.attrs["columns"] == dict(customer="customer_unique_id", date="order_purchase_timestamp",
                                          invoice="order_id", amount="payment_value")
    # by hand: u1 bought o1 (30 + 10) and o5 (12.5); u2 o2 (25), o3 unpaid, o4 canceled; u3 o6 (60)
    assert table["frequency"].to_dict() == {"u1": 2, "u2": 1, "u3": 1}
    assert table["monetary"].to_dict() == {"u1": 52.5, "u2": 25.0, "u3": 60.0}
    assert table["recency"].to_dict() == {"u1": 8, "u2": 64, "u3": 1}  # whole days to 2018-03-10 11:00
    assert table["customer_state"].to_dict() == {"u1": "SP", "u2": "RJ", "u3": "MG"}
    assert table.attrs["status"]["dropped"] == {"canceled": 1}
    assert [j["table"] for j in table.attrs["joined"]] == ["customers", "payments"]


def test_items_as_the_parts_and_what_each_customer_bought():
    orders, customers, _, items = olist()
    log = join_log(join_log(orders, customers, name="customers"), items, name="items")
    table = rfm(log)
    assert table.attrs["columns"]["amount"] == "price"  # a price per row and no quantity: one item a row
    assert table["monetary"].to_dict() == {"u1": 45.0, "u2": 28.0, "u3": 50.0}  # o4 canceled
    b = baskets(log)
    assert b.attrs["columns"]["item"] == "product_id"
    spend = pd.DataFrame(b.matrix.toarray(), index=b.customers, columns=b.items)
    assert spend.loc["u3", "p3"] == 50.0 and spend.loc["u1", "p1"] == 20.0 and spend.loc["u2", "p1"] == 20.0


def test_the_join_matches_a_pandas_merge_on_random_logs():
    rng = np.random.default_rng(5)
    n = 3001  # orders; a prime
    orders = pd.DataFrame({"order_id": rng.permutation(n) + 10_000, "buyer": rng.integers(0, 400, n),
                           "date": pd.Timestamp("2023-01-01") + pd.to_timedelta(rng.integers(0, 365, n), "D")})
    parts = rng.integers(0, 4, n)  # 0: an order with no payment
    pay = pd.DataFrame({"order_id": np.repeat(orders["order_id"].to_numpy(), parts).astype(str),  # text ids
                        "amount": np.round(rng.gamma(2.0, 20.0, parts.sum()), 2)}).sample(frac=1, random_state=1)
    log = join_log(orders, pay, name="payments")
    expected = orders.merge(pay.assign(order_id=pay["order_id"].astype(np.int64)), on="order_id", how="left")
    assert len(log) == len(expected) == parts.sum() + (parts == 0).sum()
    assert log.attrs["joined"][0]["unmatched"] == (parts == 0).sum()
    got = rfm(log, customer="buyer", date="date", invoice="order_id", amount="amount")
    ref = rfm(expected, customer="buyer", date="date", invoice="order_id", amount="amount")
    pd.testing.assert_frame_equal(got.drop(columns=[]), ref, check_exact=False, rtol=1e-12)
    # by hand: Monetary is each buyer's payments, Frequency the orders paid
    paid = expected.dropna(subset=["amount"])
    assert np.allclose(got["monetary"], paid.groupby("buyer")["amount"].sum().reindex(got.index))
    assert (got["frequency"] == paid.groupby("buyer")["order_id"].nunique().reindex(got.index)).all()


@pytest.mark.parametrize("log_ids, table_ids", [
    ([12346, 12347, 12348], ["12346", " 12347", "12348 "]),  # numbers beside text of digits
    ([12346.0, 12347.0, np.nan], [12346, 12347, 12348]),  # ids held as floats where some are missing
    (["A-1", "A-2", "A-3"], [" A-1", "A-2", "A-3"]),  # text, spaces around it aside
    ([1234567890123456789, 2, 3], [1234567890123456789, 2, 3]),  # 19 digits, not rounded through a float
])
def test_keys_match_across_the_types_each_file_read(log_ids, table_ids):
    log = pd.DataFrame({"key": log_ids, "v": [1, 2, 3]})
    table = pd.DataFrame({"key": table_ids, "label": ["x", "y", "z"]})
    out = join_log(log, table)
    want = ["x", "y", "z"] if not pd.isna(log_ids[-1]) else ["x", "y", None]
    assert [None if pd.isna(v) else v for v in out["label"]] == want


def test_nineteen_digit_ids_that_differ_in_the_last_digit_stay_apart():
    log = pd.DataFrame({"key": [1234567890123456789, 1234567890123456788], "v": [1, 2]})
    table = pd.DataFrame({"key": [1234567890123456788], "label": ["b"]})
    assert join_log(log, table)["label"].isna().tolist() == [True, False]


def test_a_lookup_with_a_row_repeated_whole_reads_it_once():
    log = pd.DataFrame({"customer_id": ["c1", "c1", "c2"], "amount": [1.0, 2.0, 3.0]})
    table = pd.DataFrame({"customer_id": ["c1", "c1", "c2"], "customer_unique_id": ["u1", "u1", "u2"]})
    out = join_log(log, table)
    assert out["customer_unique_id"].tolist() == ["u1", "u1", "u2"] and not out.attrs["joined"][0]["parts"]


def test_a_key_on_several_rows_of_both_is_refused():
    log = pd.DataFrame({"order_id": ["o1", "o1", "o2"], "sku": ["a", "b", "a"], "price": [1.0, 2.0, 3.0]})
    pay = pd.DataFrame({"order_id": ["o1", "o1", "o2"], "payment_value": [1.0, 2.0, 3.0]})
    with pytest.raises(ValueError, match=r"both the log and payments.csv have several rows per 'order_id' \(e.g. "
                                         r"'o1': 2 rows of the log, 2 of payments.csv\): joined, each row of one would "
                                         r"pair with each of the other"):
        join_log(log, pay, name="payments.csv")


def test_what_a_table_of_parts_repeats_is_not_summed():
    orders = pd.DataFrame({"order_id": ["o1", "o2"], "cust": ["a", "b"], "day": ["2024-01-01", "2024-01-02"],
                           "order_total": [40.0, 25.0]})
    pay = pd.DataFrame({"order_id": ["o1", "o1", "o2"], "payment_value": [30.0, 10.0, 25.0]})
    log = join_log(orders, pay, name="payments.csv")
    with pytest.raises(ValueError, match=r"the amount column 'order_total' is the log's own, repeated on each of "
                                         r"payments.csv's rows per 'order_id': summed, it would count several times"):
        rfm(log, customer="cust", date="day", invoice="order_id", amount="order_total")
    with pytest.raises(ValueError, match=r"payments.csv has several rows per 'order_id' and the log no invoice "
                                         r"column: Frequency would count payments.csv's rows; give "
                                         r"invoice='order_id' \(--invoice order_id\)"):
        rfm(log, customer="cust", date="day", amount="payment_value")
    table = rfm(log, customer="cust", date="day", invoice="order_id", amount="payment_value")
    assert table["monetary"].tolist() == [40.0, 25.0] and table["frequency"].tolist() == [1, 1]
    # an item of the log repeated on each payment would count each purchase several times
    lines = pd.DataFrame({"order_id": ["o1", "o2"], "cust": ["a", "b"], "day": ["2024-01-01", "2024-01-02"],
                          "sku": ["x", "y"]})
    with pytest.raises(ValueError, match=r"the item column 'sku' is the log's own, repeated"):
        baskets(join_log(lines, pay, name="payments.csv"), customer="cust", date="day", invoice="order_id",
                amount="payment_value", item="sku")


def test_join_errors_name_the_problem_and_the_fix():
    log = pd.DataFrame({"order_id": ["o1", "o2"], "day": ["2024-01-01", "2024-01-02"]})
    with pytest.raises(ValueError, match=r"the log and pay have no column named alike to join by; name it with on= "
                                         r"\(--join FILE:COLUMN\); the log has 'order_id', 'day', pay 'ref', 'value'"):
        join_log(log, pd.DataFrame({"ref": ["o1"], "value": [1.0]}), name="pay")
    with pytest.raises(ValueError, match=r"share several columns \('order_id', 'day'\); name the one that holds the "
                                         r"key with on="):
        join_log(log, pd.DataFrame({"order_id": ["o1"], "day": ["x"], "value": [1.0]}))
    with pytest.raises(ValueError, match=r"join column 'order_no' is not in the log; did you mean 'order_id' for "
                                         r"'order_no'\? available: 'order_id', 'day'"):
        join_log(log, pd.DataFrame({"order_no": ["o1"], "value": [1.0]}), on="order_no")
    with pytest.raises(ValueError, match=r"no row of the log has its key in pay: the log's 'order_id' reads 'o1', "
                                         r"'o2', pay's 'order_id' 'x9'"):
        join_log(log, pd.DataFrame({"order_id": ["x9"], "value": [1.0]}), name="pay")
    with pytest.raises(ValueError, match=r"pay has no column the log lacks but 'order_id' \(its 'day' the log has "
                                         r"already\)"):
        join_log(log, pd.DataFrame({"order_id": ["o1"], "day": ["2024-01-01"]}), on="order_id", name="pay")
    # named alike, case and _ aside; a column the log has already is kept as the log's
    out = join_log(log, pd.DataFrame({"OrderID": ["o2", "o1"], "day": ["x", "y"], "value": [2.0, 1.0]}), on="OrderID")
    assert out["value"].tolist() == [1.0, 2.0] and out["day"].tolist() == ["2024-01-01", "2024-01-02"]
    j = out.attrs["joined"][0]
    assert j["on"] == "order_id/OrderID" and j["same"] == ["day"]
    assert join_text(j) == "Joined table by 'order_id/OrderID': value (one row per 'order_id/OrderID'; the log's " \
                           "own 'day' kept)"


def _write_olist(tmp_path):
    paths = [tmp_path / f"{name}.csv" for name in ("orders", "customers", "payments", "items")]
    for frame, path in zip(olist(), paths):
        frame.to_csv(path, index=False)
    return paths


def test_cli_joins_olist_files_and_predict_asks_for_them(tmp_path, capsys):
    orders, customers, payments, _ = _write_olist(tmp_path)
    out, model, pred = tmp_path / "labels.csv", tmp_path / "seg.pkl", tmp_path / "pred.csv"
    assert main(["segment", str(orders), "--rfm", "--join", str(customers), "--join", f"{payments}:order_id",
                 "--features", "recency,monetary", "--k", "2", "--stability", "0", "--out", str(out),
                 "--save", str(model)]) == 0
    err = capsys.readouterr().err
    assert "Joined customers.csv by 'customer_id': customer_unique_id, customer_state (one row per 'customer_id')" \
        in err
    assert "Joined payments.csv by 'order_id': payment_sequential, payment_type, payment_value (several rows per " \
           "'order_id': 6 rows became 7; 1 of 6 log rows without a match, these columns empty there)" in err
    assert "customer 'customer_unique_id', date 'order_purchase_timestamp', invoice 'order_id', amount " \
           "'payment_value'" in err
    labels = pd.read_csv(out, index_col=0)
    assert sorted(labels.index) == ["u1", "u2", "u3"] and labels.loc["u1", "monetary"] == 52.5
    # predict on the orders alone: the model read two of its columns from the joined tables
    rc = main(["predict", str(orders), "--rfm", "--model", str(model), "--out", str(pred)])
    err = capsys.readouterr().err
    assert rc == 2 and not pred.exists()
    assert "seg.pkl's RFM read 'customer_unique_id', 'payment_value' from tables joined to its log: customers.csv " \
           "(by 'customer_id') and payments.csv (by 'order_id'); give the newer ones with --join FILE" in err
    assert main(["predict", str(orders), "--rfm", "--model", str(model), "--join", str(customers), "--join",
                 str(payments), "--out", str(pred), "-q"]) == 0
    assert pd.read_csv(pred, index_col=0)["segment"].to_dict() == labels["segment"].to_dict()


def test_cli_join_errors_are_one_line_and_write_nothing(tmp_path, capsys):
    orders, customers, payments, items = _write_olist(tmp_path)
    out = tmp_path / "labels.csv"
    before = payments.read_bytes()
    cases = [
        (["--join", str(payments)], "--join joins a table to the rows of a transaction log before its RFM: it goes "
                                    "with --rfm"),
        (["--rfm", "--join", str(tmp_path / "nope.csv")], "nope.csv' does not exist; give a CSV, Parquet or Excel "
                                                          "file"),
        (["--rfm", "--join", str(payments), "--join", str(items)], "both the log and items.csv have several rows per "
                                                                   "'order_id'"),
        (["--rfm", "--join", f"{payments}:payment_type"], "join column 'payment_type' is not in the log"),
        (["--rfm"], "Where the amounts are in another file (an order's payments or items, as Olist keeps them), join "
                    "it to the log first (fastseg.join_log, --join FILE)"),
        (["--rfm", "--join", str(payments)], "give the customer's lasting id with customer= (--customer), joining the "
                                             "table that maps one to the other first (fastseg.join_log, --join FILE)"),
    ]
    for extra, message in cases:
        rc = main(["segment", str(orders), *extra, "--out", str(out), "--k", "2", "-q"])
        err = capsys.readouterr().err
        assert rc == 2 and message in err and len(err.strip().splitlines()) == 1, err
        assert not out.exists()
    rc = main(["segment", str(orders), "--rfm", "--join", str(customers), "--join", str(payments), "--out",
               str(payments), "-q"])
    assert rc == 2 and "is the input file" in capsys.readouterr().err and payments.read_bytes() == before


def test_the_join_benchmark_runs_and_prints_its_table():
    import os
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    env = {**os.environ, "PYTHONPATH": str(root / "src")}
    done = subprocess.run([sys.executable, str(root / "bench" / "log_join.py"), "--rows", "2000", "--customers", "300",
                           "--rounds", "1"], capture_output=True, text=True, env=env, timeout=300)
    assert done.returncode == 0, done.stderr
    rows = [line for line in done.stdout.splitlines() if line.startswith("| lookup") or line.startswith("| parts")]
    assert len(rows) == 2 and all(line.count(" s |") == 2 for line in rows)
