"""A shop's log of events (views, carts, purchases: REES46's event_type, Taobao's
behavior_type, Retail Rocket's event): only the purchases are sales, for rfm and
baskets alike, and a session's purchases are one order."""

import numpy as np
import pandas as pd
import pytest

from fastseg import baskets, rfm
from fastseg._log_columns import guess_rfm_columns
from fastseg._order_status import is_status_column, status_rule
from fastseg.cli import main


@pytest.mark.parametrize("values, events", [
    (["view", "cart", "remove_from_cart", "purchase"], True),  # REES46
    (["pv", "cart", "fav", "buy"], True),  # Taobao's UserBehavior
    (["view", "addtocart", "transaction"], True),  # Retail Rocket
    (["page_view", "add_to_cart", "begin_checkout", "purchase"], True),  # GA4's event_name
    (["Product Viewed", "Checkout Started", "Order Completed"], True),  # Segment's spec
    (["delivered", "shipped", "canceled"], False),  # an order's status
    (["Coldplay London", "Adele Paris"], False),  # a ticket shop's events: what was bought
])
def test_an_event_column_is_told_by_its_values(values, events):
    col = pd.Series(values * 3)
    assert is_status_column(col, "event_type") is events
    assert is_status_column(col, "kind") is (events and len(values) > 1)  # under another name: a buy and a browse


def test_a_status_column_that_names_a_purchase_is_still_read_as_statuses():
    # "purchased" beside "delivered": the order's progress, not a shop's events; only the refund is no sale
    values = pd.Series(["purchased", "delivered", "refunded", "delivered"])
    void, info = status_rule(values, np.ones(4, bool), "order_status")
    assert void.tolist() == [False, False, True, False]
    assert info["kind"] == "status"


def _events():
    """REES46's layout: u1 bought twice in session s1 and once in s3, u2 once; u3 only looked."""
    rows = [
        ("2019-10-01 08:00:00 UTC", "view", 10.0, "u1", "s1"),
        ("2019-10-01 08:01:00 UTC", "cart", 10.0, "u1", "s1"),
        ("2019-10-01 08:02:00 UTC", "purchase", 10.0, "u1", "s1"),
        ("2019-10-01 08:02:00 UTC", "purchase", 5.5, "u1", "s1"),
        ("2019-10-03 09:00:00 UTC", "view", 99.0, "u2", "s2"),
        ("2019-10-03 09:05:00 UTC", "purchase", 30.0, "u2", "s2"),
        ("2019-10-06 10:00:00 UTC", "purchase", 2.0, "u1", "s3"),
        ("2019-10-09 11:00:00 UTC", "view", 500.0, "u3", "s4"),
        ("2019-10-09 11:01:00 UTC", "remove_from_cart", 500.0, "u3", "s4"),
        ("2019-10-09 12:00:00 UTC", None, 7.0, "u2", "s5"),
    ]
    df = pd.DataFrame(rows, columns=["event_time", "event_type", "price", "user_id", "user_session"])
    df.insert(2, "product_id", np.arange(len(df)) % 3 + 100)
    return df


def test_rfm_of_an_event_log_counts_only_its_purchases():
    log = _events()
    assert guess_rfm_columns(log) == {"customer": "user_id", "date": "event_time", "invoice": "user_session",
                                      "amount": "price"}
    table = rfm(log)
    # snapshot: the last purchase (Oct 6) + 1 day; u1: sessions s1 and s3, 10 + 5.5 + 2; u2: s2; u3 bought nothing
    assert list(table.index) == ["u1", "u2"]
    assert table.loc["u1", ["recency", "frequency", "monetary"]].tolist() == [1, 2, 17.5]
    assert table.loc["u2", ["recency", "frequency", "monetary"]].tolist() == [4, 1, 30.0]
    assert table.attrs["cleaning"]["not a purchase event"] == 6
    assert "status of no sale" not in table.attrs["cleaning"]
    assert table.attrs["status"] == {"column": "event_type", "kind": "event", "kept": ["purchase"],
                                     "dropped": {"view": 3, "cart": 1, "remove_from_cart": 1, "(none)": 1}}
    # the same as rfm of the purchases alone
    bought = log[log["event_type"] == "purchase"]
    alone = rfm(bought, status=None)
    pd.testing.assert_frame_equal(table[["recency", "frequency", "monetary"]],
                                  alone[["recency", "frequency", "monetary"]])


def test_the_views_go_first_and_their_dates_are_never_read():
    # a view with a junk date is a view, not an unreadable date; a purchase with one is counted as such
    log = pd.concat([_events()] * 3, ignore_index=True)
    log.loc[0, "event_time"] = "garbage"  # a view
    log.loc[13, "event_time"] = "not a date"  # a purchase
    table = rfm(log)
    clean = table.attrs["cleaning"]
    assert list(clean)[:3] == ["rows in", "not a purchase event", "missing customer"]
    assert clean["not a purchase event"] == 18 and clean["missing or unreadable date"] == 1
    assert table.loc["u1", "monetary"] == 17.5 * 3 - 5.5  # row 13: the 5.5 purchase of the second copy


def test_status_none_counts_every_event():
    table = rfm(_events(), status=None)
    assert list(table.index) == ["u1", "u2", "u3"]
    assert table.loc["u3", "monetary"] == 1000.0
    assert table.attrs["status"] is None


def test_an_event_column_without_a_purchase_is_an_error_naming_its_events():
    log = _events()
    log = log[log["event_type"] != "purchase"]
    with pytest.raises(ValueError, match=r"'event_type' holds no purchase \(view, cart, remove_from_cart\).*"
                                         r"status=None"):
        rfm(log)


def test_a_column_named_event_that_holds_no_events_is_no_rule():
    # a ticket shop: "Event" is what was bought
    log = pd.DataFrame({"customer_id": ["a", "a", "b"], "order_date": ["2024-01-01", "2024-01-02", "2024-01-03"],
                        "Event": ["Coldplay London", "Adele Paris", "Coldplay London"], "amount": [50.0, 60.0, 70.0]})
    table = rfm(log)
    assert table.attrs["status"] is None
    assert table["frequency"].sum() == 3


def test_a_column_of_events_under_another_name_is_read_when_named():
    log = _events().rename(columns={"event_type": "kind"})
    assert rfm(log).attrs["status"] is None  # not named like events: not looked for
    table = rfm(log, status="kind", invoice="user_session")
    assert table.attrs["status"]["kind"] == "event"
    assert table.loc["u1", "monetary"] == 17.5


def test_taobao_and_retail_rocket_layouts():
    # Taobao's UserBehavior: behavior_type of pv, cart, fav, buy; Unix seconds
    log = pd.DataFrame({"user_id": [1, 1, 2, 2], "item_id": [7, 7, 8, 9], "behavior_type": ["pv", "buy", "fav", "buy"],
                        "timestamp": [1511544070, 1511544170, 1511600000, 1511700000], "price": [3.0, 3.0, 8.0, 9.0]})
    table = rfm(log)
    assert table["monetary"].tolist() == [3.0, 9.0]
    assert table.attrs["status"]["kept"] == ["buy"]
    # Retail Rocket's events: visitorid, event of view, addtocart, transaction, with its transactionid
    log = pd.DataFrame({"timestamp": [1433221332117, 1433224214164, 1433224314164, 1433230000000],
                        "visitorid": [257597, 257597, 992329, 257597], "event": ["view", "addtocart", "view",
                                                                                 "transaction"],
                        "itemid": [355908, 355908, 248676, 355908], "transactionid": [None, None, None, 4000],
                        "amount": [12.0, 12.0, 3.0, 12.0]})
    assert guess_rfm_columns(log)["customer"] == "visitorid"
    table = rfm(log)
    assert list(table.index) == [257597] and table["frequency"].tolist() == [1]


def test_baskets_hold_only_what_was_bought():
    log = _events()
    b = baskets(log, item="product_id")
    bought = log[log["event_type"] == "purchase"]
    assert b.customers.tolist() == ["u1", "u2"]
    want = bought.groupby(["user_id", "product_id"])["price"].sum()
    got = pd.Series(b.matrix.toarray()[[b.customers.get_loc(u) for u, _ in want.index],
                                       [b.items.get_loc(i) for _, i in want.index]], index=want.index)
    pd.testing.assert_series_equal(got, want, check_names=False)


def test_the_command_says_only_purchases_were_counted(tmp_path, capsys):
    rng = np.random.default_rng(5)
    n = 3000
    users = rng.integers(0, 300, n)
    log = pd.DataFrame({
        "event_time": (pd.Timestamp("2019-10-01") + pd.to_timedelta(rng.integers(0, 60 * 86400, n), "s"))
        .strftime("%Y-%m-%d %H:%M:%S UTC"),
        "event_type": rng.choice(["view", "cart", "purchase"], n, p=[0.6, 0.2, 0.2]),
        "product_id": rng.integers(1, 40, n), "price": np.round(rng.lognormal(3, 1, n), 2),
        "user_id": users, "user_session": [f"s{u}-{d}" for u, d in zip(users, rng.integers(0, 5, n))]})
    src = tmp_path / "events.csv"
    log.to_csv(src, index=False)
    out = tmp_path / "labels.csv"
    assert main(["segment", str(src), "--rfm", "--k", "3", "--out", str(out), "--item", "none",
                 "--save", str(tmp_path / "m.fastseg")]) == 0
    err = capsys.readouterr().err
    assert "invoice 'user_session'" in err
    views, carts = (log["event_type"] == "view").sum(), (log["event_type"] == "cart").sum()
    assert f"Only purchase events counted (purchase), by their event_type: left out view on {views:,} rows, " \
           f"cart on {carts:,} rows" in err
    labels = pd.read_csv(out)
    assert set(labels["user_id"]) == set(log.loc[log["event_type"] == "purchase", "user_id"])
    # predict reads the same rule from the model
    pred = tmp_path / "pred.csv"
    assert main(["predict", str(src), "--rfm", "--model", str(tmp_path / "m.fastseg"), "--out", str(pred)]) == 0
    assert pd.read_csv(pred).set_index("user_id")["segment"].equals(labels.set_index("user_id")["segment"])


def test_the_event_log_benchmark_runs_and_checks_its_answer():
    import os
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    env = {**os.environ, "PYTHONPATH": str(root / "src")}
    done = subprocess.run([sys.executable, str(root / "bench" / "event_log.py"), "--rows", "5000", "--rounds", "1"],
                          capture_output=True, text=True, env=env, timeout=300)
    assert done.returncode == 0, done.stderr
    rows = [line for line in done.stdout.splitlines() if line.startswith("| 5,000 rows")]
    assert len(rows) == 1 and rows[0].count(" s |") == 2


def test_ga4_export_layout():
    # GA4's BigQuery export, flattened: event_date (yyyymmdd) beside event_timestamp (Unix microseconds, UTC),
    # event_name, user_pseudo_id, ecommerce.transaction_id and ecommerce.purchase_revenue
    us = pd.to_datetime(["2020-11-01 10:00", "2020-11-01 10:05", "2020-11-03 09:00", "2020-11-04 12:00",
                         "2020-11-04 12:01"]).as_unit("us").asi8
    log = pd.DataFrame({"event_date": [20201101, 20201101, 20201103, 20201104, 20201104], "event_timestamp": us,
                        "event_name": ["page_view", "purchase", "add_to_cart", "purchase", "purchase"],
                        "user_pseudo_id": ["a.1", "a.1", "b.2", "b.2", "a.1"],
                        "ecommerce.transaction_id": [None, "T1", None, "T2", "T3"],
                        "ecommerce.purchase_revenue": [None, 20.0, None, 35.0, 5.0]})
    assert guess_rfm_columns(log) == {"customer": "user_pseudo_id", "date": "event_date",
                                      "invoice": "ecommerce.transaction_id", "amount": "ecommerce.purchase_revenue"}
    table = rfm(log)
    assert table.loc["a.1", ["recency", "frequency", "monetary"]].tolist() == [1, 2, 25.0]
    assert table.attrs["cleaning"]["not a purchase event"] == 2
    # the timestamps alone, in microseconds, read as such
    by_time = rfm(log.drop(columns="event_date"))
    assert by_time.attrs["dates from"] == "Unix microseconds"
    assert by_time["recency"].tolist() == table["recency"].tolist()
