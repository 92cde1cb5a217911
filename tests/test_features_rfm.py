"""rfm() against hand-computed tables."""

import re

import numpy as np
import pandas as pd
import pytest

from fastseg import Segmenter, rfm
from fastseg.datasets import online_retail
from fastseg._dates import as_datetime
from fastseg.features import rfm_segment

COLS = dict(customer="cust", date="day", invoice="inv", quantity="qty", price="price")


def _log(rows):
    return pd.DataFrame(rows, columns=["inv", "cust", "day", "qty", "price"])


def test_hand_computed_table_and_every_cleaning_rule():
    tx = _log(
        [
            ("1", "A", "2024-01-01", 2, 5.0),  # A: 10
            ("1", "A", "2024-01-01", 1, 3.0),  # A: same invoice, 3
            ("2", "A", "2024-01-10", 1, 7.0),  # A: 7 -> F=2, M=20, last 01-10
            ("3", "B", "2024-01-05", 4, 2.5),  # B: 10 -> F=1, M=10, last 01-05
            ("C4", "B", "2024-01-06", -4, 2.5),  # cancelled invoice
            ("5", None, "2024-01-07", 1, 1.0),  # missing customer
            ("6", "B", "not a date", 1, 1.0),  # unreadable date
            ("7", "B", "2024-01-08", 0, 9.0),  # non-positive quantity
            ("8", "B", "2024-01-08", 2, 0.0),  # non-positive price
            ("C9", "D", "2024-01-09", -1, 4.0),  # D has only a cancellation
            ("10", "E", "2024-01-11", 3, 1.0),  # E: 3 -> F=1, last 01-11 (the last date)
        ]
    )
    out = rfm(tx, **COLS)
    assert list(out.index) == ["A", "B", "E"]
    np.testing.assert_array_equal(out["recency"], [2, 7, 1])  # snapshot 2024-01-12
    np.testing.assert_array_equal(out["frequency"], [2, 1, 1])
    np.testing.assert_allclose(out["monetary"], [20.0, 10.0, 3.0])
    np.testing.assert_array_equal(out["tenure"], [11, 7, 1])  # days from the first purchase kept to 01-12
    rep = out.attrs["cleaning"]
    assert rep == {
        "rows in": 11,
        "missing customer": 1,
        "missing or unreadable date": 1,
        "cancelled invoice": 2,
        "non-positive quantity": 1,
        "non-positive price": 1,
        "rows kept": 5,
        "customers": 3,
        "customers with no valid rows": 1,  # D
    }
    assert out.attrs["snapshot"].startswith("2024-01-12")
    # scores by rank: R (recent = 5), F and M (more = 5); ties share a score
    np.testing.assert_array_equal(out["R"], [4, 2, 5])
    np.testing.assert_array_equal(out["F"], [5, 3, 3])
    np.testing.assert_array_equal(out["M"], [5, 4, 2])
    assert list(out["RFM"]) == ["455", "234", "532"]
    np.testing.assert_array_equal(out["score"], [14, 9, 10])


@pytest.mark.parametrize("dtype", [object, "str", "category"])
def test_a_blank_customer_id_is_a_missing_one(dtype):
    rows = [("1", "A", "2024-01-01", 2, 5.0), ("2", "", "2024-01-02", 1, 9.0), ("3", "  ", "2024-01-03", 1, 9.0),
            ("4", "B", "2024-01-04", 1, 1.0), ("5", None, "2024-01-05", 1, 9.0)]
    tx = _log(rows)
    tx["cust"] = tx["cust"].astype(dtype)
    out = rfm(tx, **COLS)
    assert list(out.index) == ["A", "B"]  # no customer "" nor "  " with the anonymous sales
    np.testing.assert_allclose(out["monetary"], [10.0, 1.0])
    rep = out.attrs["cleaning"]
    assert rep["missing customer"] == 3 and rep["customers with no valid rows"] == 0
    from fastseg import baskets
    assert list(baskets(tx, **COLS, item="inv").customers) == ["A", "B"]


def test_snapshot_amount_and_no_invoice():
    tx = pd.DataFrame({"c": [1, 1, 2], "d": pd.to_datetime(["2024-03-01", "2024-03-02", "2024-02-01"]),
                       "amt": [5.0, -1.0, 8.0]})
    out = rfm(tx, customer="c", date="d", amount="amt", snapshot="2024-03-10")
    np.testing.assert_array_equal(out["recency"], [9, 38])
    np.testing.assert_array_equal(out["frequency"], [1, 1])  # rows, no invoice column
    assert out.attrs["cleaning"]["non-positive amount"] == 1
    # a snapshot inside the log: the RFM as of that day, the rows from then on left out
    early = rfm(tx, customer="c", date="d", amount="amt", snapshot="2024-02-15")
    assert list(early.index) == [2] and early.attrs["cleaning"]["on or after the snapshot"] == 2
    np.testing.assert_array_equal(early["recency"], [14])
    assert early.attrs["cleaning"]["non-positive amount"] == 0  # the later rule never saw the refund
    with pytest.raises(ValueError, match=r"every one of the 3 rows was removed by cleaning \(on or after the "
                                         r"snapshot: 3\)"):
        rfm(tx, customer="c", date="d", amount="amt", snapshot="2024-01-01")


def test_one_customer_log():
    tx = _log([("1", "Z", "2024-05-01", 1, 2.0), ("2", "Z", "2024-05-03", 2, 2.0)])
    out = rfm(tx, **COLS)
    assert len(out) == 1
    assert out.iloc[0][["recency", "frequency", "monetary"]].tolist() == [1, 2, 6.0]
    assert out.iloc[0][["R", "F", "M"]].tolist() == [5, 5, 5]
    assert out.iloc[0]["rfm_segment"] == "Champions"


def test_ties_at_score_boundaries_share_a_score():
    # 10 customers, 6 of them tied at frequency 1: the tie spans the 1/2/3/4 boundaries
    rows = []
    for i in range(10):
        n_inv = 1 if i < 6 else i - 4
        rows += [(f"{i}-{j}", f"c{i}", "2024-01-01", 1, 1.0) for j in range(n_inv)]
    out = rfm(_log(rows), **COLS)
    f = out.loc[[f"c{i}" for i in range(6)], "F"]
    assert f.nunique() == 1 and f.iloc[0] == 2  # average rank 3.5 of 10 → quintile 2
    assert out["F"].between(1, 5).all()
    assert out.loc["c9", "F"] == 5


def test_segment_grid():
    names = rfm_segment([5, 5, 1, 1, 3, 4, 2], [5, 1, 1, 5, 3, 3, 3])
    assert list(names) == ["Champions", "New Customers", "Hibernating", "Can't Lose Them", "Need Attention",
                           "Potential Loyalists", "At Risk"]


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(customer="nope", date="day", amount="qty"), r"column\(s\) 'nope' not found .* available: 'inv', 'cust'"),
        (dict(customer="cust", date="day", price="qty"), "no column is named like the spend of a transaction log; name it with "
                                            r"amount= \(--amount\), or quantity= and price="),
        (dict(customer="cust", date="day", amount="cust"), r"'cust' is not numeric: 3 of 3 values are not numbers \(e.g. 'A'\)"),
    ],
)
def test_bad_input(kwargs, match):
    tx = _log([("1", "A", "2024-01-01", 1, 1.0)] * 3)
    with pytest.raises(ValueError, match=match):
        rfm(tx, **kwargs)


def test_every_row_removed():
    tx = _log([("C1", "A", "2024-01-01", -1, 1.0), ("2", None, "2024-01-01", 1, 1.0)])
    with pytest.raises(ValueError, match=r"every one of the 2 rows was removed by cleaning \(missing customer: 1, cancelled invoice: 1\)"):
        rfm(tx, **COLS)


def test_shipped_retail_log_has_its_dirt():
    tx = online_retail(500, seed=1)
    assert list(tx.columns) == ["InvoiceNo", "StockCode", "Description", "Quantity", "InvoiceDate",
                                "UnitPrice", "CustomerID", "Country"]
    assert 0.15 < tx["CustomerID"].isna().mean() < 0.35
    cancelled = tx["InvoiceNo"].astype(str).str.startswith("C")
    assert 0.005 < cancelled.mean() < 0.05 and (tx.loc[cancelled, "Quantity"] < 0).all()
    assert (tx["UnitPrice"] == 0).any() and (tx["UnitPrice"] < 0).any()
    assert (tx["Country"] == "United Kingdom").mean() > 0.8
    span = tx["InvoiceDate"].max() - tx["InvoiceDate"].min()
    assert pd.Timedelta(days=300) < span < pd.Timedelta(days=380)
    assert tx["Quantity"].max() > 50 * tx["Quantity"].median()  # heavy tail
    pd.testing.assert_frame_equal(tx, online_retail(500, seed=1))  # deterministic by seed
    out = rfm(tx, customer="CustomerID", date="InvoiceDate", invoice="InvoiceNo", quantity="Quantity",
              price="UnitPrice")
    assert 450 < len(out) <= 500
    assert out.attrs["cleaning"]["non-positive price"] > 0


def _european(tx):
    """The same log with its dates written day first, as a European export has them."""
    out = tx.copy()
    out["InvoiceDate"] = pd.to_datetime(tx["InvoiceDate"]).dt.strftime("%d/%m/%Y %H:%M")
    return out


RETAIL = dict(customer="CustomerID", date="InvoiceDate", invoice="InvoiceNo", quantity="Quantity", price="UnitPrice")


def test_day_first_dates_are_read_whole_even_when_the_first_day_is_ambiguous():
    import warnings

    tx = online_retail(200, seed=3).sort_values("InvoiceDate", kind="stable")
    iso = tx.assign(InvoiceDate=pd.to_datetime(tx["InvoiceDate"]).dt.strftime("%Y-%m-%d %H:%M"))
    eu = _european(tx)
    first = pd.to_datetime(eu["InvoiceDate"].iloc[0], dayfirst=True)
    assert first.day <= 12  # the case pandas alone gets wrong: its guess from the first date is month first
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # and no warning storm about guessed formats
        want, got = rfm(iso, **RETAIL), rfm(eu, **RETAIL)
    pd.testing.assert_frame_equal(got, want)
    assert got.attrs["cleaning"]["missing or unreadable date"] == 0
    # forced month first: what pandas' guess alone did, most dates past the 12th lost
    lost = rfm(eu, dayfirst=False, **RETAIL).attrs["cleaning"]["missing or unreadable date"]
    assert lost > len(tx) // 3
    pd.testing.assert_frame_equal(rfm(eu, dayfirst=True, **RETAIL), want)


def test_day_first_dates_without_leading_zeros_are_read_in_one_order():
    # "14/8/16" beside "6/8/16" (a bank's transaction export): pandas infers no format and reads
    # each date in the order that reads it, 14 August and 8 June in one column
    rng = np.random.default_rng(11)
    days = pd.Timestamp("2016-08-01") + pd.to_timedelta(rng.integers(0, 75, 997), "D")
    text = pd.Series([f"{d.day}/{d.month}/{d.year % 100:02d}" for d in days])
    assert text.iloc[0].split("/")[0] != "0"
    got = as_datetime(text, "TransactionDate")[0]
    assert (got.to_numpy() == days.to_numpy()).all()
    # the same dates month first ("8/14/16") are read month first, as before
    us = pd.Series([f"{d.month}/{d.day}/{d.year % 100:02d}" for d in days])
    assert (as_datetime(us, "TransactionDate")[0].to_numpy() == days.to_numpy()).all()
    # and RFM on them equals RFM on the dates themselves
    ids = rng.integers(0, 60, len(days))
    log = pd.DataFrame({"CustomerID": ids, "TransactionDate": text,
                        "TransactionAmount (INR)": rng.gamma(2, 50, len(days))})
    want = rfm(log.assign(TransactionDate=days))
    pd.testing.assert_frame_equal(rfm(log), want)
    # every number up to 12 tells nothing: month first, pandas' default, unless dayfirst says
    few = pd.Series(["3/4/16", "5/6/16", "1/2/16"])
    assert as_datetime(few, "d")[0].dt.month.tolist() == [3, 5, 1]
    assert as_datetime(few, "d", dayfirst=True)[0].dt.month.tolist() == [4, 6, 2]


@pytest.mark.parametrize("dayfirst", [None, True, False])
def test_dates_written_in_more_than_one_form_are_all_read(dayfirst):
    import warnings

    tx = online_retail(200, seed=5).sort_values("InvoiceDate", kind="stable")
    when = pd.to_datetime(tx["InvoiceDate"])
    midnight = (when.dt.hour == 0) | (np.arange(len(tx)) % 3 == 0)  # a third written without a time
    tx = tx.assign(InvoiceDate=when.where(~midnight, when.dt.normalize()))
    want = rfm(tx, **RETAIL)
    # an export that leaves the time off at midnight: "2010-12-01" beside "2010-12-01 08:26"
    iso = tx.assign(InvoiceDate=np.where(midnight, when.dt.strftime("%Y-%m-%d"), when.dt.strftime("%Y-%m-%d %H:%M")))
    assert iso["InvoiceDate"].iloc[0].count(":") == 0  # the case pandas alone gets wrong: the first has no time
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        got = rfm(iso, dayfirst=dayfirst, **RETAIL)  # year first: dayfirst changes nothing
    pd.testing.assert_frame_equal(got, want)
    assert got.attrs["cleaning"]["missing or unreadable date"] == 0
    if dayfirst is not False:  # and day first, "01/12/2010" beside "01/12/2010 08:26"
        eu = tx.assign(InvoiceDate=np.where(midnight, when.dt.strftime("%d/%m/%Y"), when.dt.strftime("%d/%m/%Y %H:%M")))
        pd.testing.assert_frame_equal(rfm(eu, dayfirst=dayfirst, **RETAIL), want)


def test_a_date_out_of_the_columns_order_stays_unread():
    # month first, 13/01/2024 is no date: it is not read as 13 January behind the analyst's back
    tx = _log([("1", "A", "01/02/2024", 1, 1.0), ("2", "B", "01/13/2024 10:00", 1, 1.0),
               ("3", "B", "13/01/2024", 1, 1.0)])
    out = rfm(tx, dayfirst=False, **COLS)
    assert out.attrs["cleaning"]["missing or unreadable date"] == 1 and list(out["frequency"]) == [1, 1]


def test_ambiguous_dates_are_month_first_unless_told():
    tx = _log([("1", "A", "01/02/2024", 1, 1.0), ("2", "B", "03/02/2024", 1, 1.0)])
    assert list(rfm(tx, **COLS)["recency"]) == [61, 1]  # Jan 2 and Mar 2; snapshot Mar 3 (2024 is a leap year)
    assert list(rfm(tx, dayfirst=True, **COLS)["recency"]) == [3, 1]  # Feb 1 and Feb 3; snapshot Feb 4


def test_attributes_carry_each_customers_most_frequent_value():
    tx = pd.DataFrame({
        "c": [1, 1, 1, 2, 2, 3, 4, 4, 5, 5, 5],
        "d": ["2020-01-01"] * 11,
        "q": [1, 1, 1, 1, 1, 1, -1, 1, 1, 1, -1],
        "p": [1.0] * 11,
        # 1: FR on 2 rows of 3; 2: DE (a missing value is not counted); 3: only missing;
        # 4: UK, its FR row is a return (cleaned away); 5: a tie, its earlier row says DE
        "Country": ["UK", "FR", "FR", "DE", None, None, "FR", "UK", "UK", "DE", "DE"],
        "age": [30, 30, 31, 40, 40, np.nan, 5, 6, 7, 7, 7],
    })
    tx.loc[8:9, "Country"] = ["DE", "UK"]  # UK is first in the log (row 0), DE first on customer 5's rows
    t = rfm(tx, customer="c", date="d", quantity="q", price="p", attributes=["Country", "age"])
    assert list(t.columns[-2:]) == ["Country", "age"]
    assert list(t["Country"].iloc[:2]) == ["FR", "DE"] and pd.isna(t.loc[3, "Country"])
    assert t.loc[4, "Country"] == "UK"
    # customer 5's kept rows: DE, UK (the third is a return): a tie, DE on the earlier row
    assert t.loc[5, "Country"] == "DE"
    assert list(t["age"].iloc[[0, 1, 3, 4]]) == [30, 40, 6, 7] and np.isnan(t.loc[3, "age"])
    assert rfm(tx, customer="c", date="d", quantity="q", price="p", attributes="Country")["Country"].equals(
        t["Country"])  # one name as a string


def test_attributes_match_a_reference_on_a_shipped_log():
    tx = online_retail(400, seed=3)
    tx["Channel"] = np.random.default_rng(0).choice(["web", "store", "phone"], len(tx))
    kw = dict(customer="CustomerID", date="InvoiceDate", invoice="InvoiceNo", quantity="Quantity",
              price="UnitPrice")
    t = rfm(tx, **kw, attributes=["Country", "Channel"])
    base = rfm(tx, **kw)
    pd.testing.assert_frame_equal(t[base.columns], base)  # the RFM table itself is unchanged
    # reference: the kept rows (those rfm keeps), most rows per customer, ties to the customer's earlier row
    kept = tx[tx["CustomerID"].notna() & ~tx["InvoiceNo"].astype(str).str.startswith("C")
              & (tx["Quantity"] > 0) & (tx["UnitPrice"] > 0)]
    assert len(kept) == t.attrs["cleaning"]["rows kept"]
    for col in ("Country", "Channel"):
        def mode(s):
            first = {v: i for i, v in reversed(list(enumerate(s)))}
            return max(first, key=lambda v: ((s == v).sum(), -first[v]))

        want = kept.groupby("CustomerID")[col].agg(mode)
        want.index = want.index.astype(np.int64)
        assert (t[col] == want.reindex(t.index)).all(), col


@pytest.mark.parametrize("attributes, match", [
    (["Nope"], r"column\(s\) 'Nope' not found in the transactions; available: 'c'"),
    (["monetary"], "'monetary' would clash with the result's own columns"),
    (["c"], "'c' would clash"),
])
def test_attribute_errors(attributes, match):
    tx = pd.DataFrame({"c": [1], "d": ["2020-01-01"], "q": [1], "p": [1.0], "monetary": [3]})
    with pytest.raises(ValueError, match=match):
        rfm(tx, customer="c", date="d", quantity="q", price="p", attributes=attributes)


def test_an_attribute_with_no_value_on_any_kept_row_is_missing_for_everyone():
    tx = pd.DataFrame({"c": [1, 2, 2], "d": ["2020-01-01"] * 3, "q": [1, 1, -1], "p": [1.0] * 3,
                       "Country": [None, None, "UK"]})  # UK only on a return, which cleaning drops
    t = rfm(tx, customer="c", date="d", quantity="q", price="p", attributes="Country")
    assert t["Country"].isna().all() and len(t) == 2


@pytest.mark.parametrize("amounts, spend", [
    (["£12.50", "£1,234.50", "-£2.00", "£0.99"], [12.5 + 1234.5, 0.99]),  # the refund row is dropped
    (["12.50 EUR", "EUR 1,000", "EUR -2", "0.99 EUR"], [1012.5, 0.99]),
    (["12,50 €", "1.234,50 €", "−2 €", "0,99 €"], [1247.0, 0.99]),
    (["$12.5", "$1 234,50", "-$2", "$0.99"], None),  # two conventions at once: not read as money
])
def test_amounts_written_as_money_are_read(amounts, spend):
    tx = pd.DataFrame({"cust": ["a", "a", "b", "b"], "day": ["2024-01-01", "2024-01-02", "2024-01-01", "2024-01-03"],
                       "total": amounts})
    if spend is None:
        with pytest.raises(ValueError,
                           match=r"'total' is not numeric: 4 of 4 values are not numbers \(e\.g\. '\$12\.5'\)"):
            rfm(tx, customer="cust", date="day", amount="total")
        return
    table = rfm(tx, customer="cust", date="day", amount="total")
    np.testing.assert_allclose(table.loc[["a", "b"], "monetary"].to_numpy(), spend)


def _empty(*columns):
    return pd.DataFrame(columns=list(columns))


@pytest.mark.parametrize("columns, want", [
    # UCI Online Retail, and Online Retail II (renamed columns)
    (["InvoiceNo", "StockCode", "Description", "Quantity", "InvoiceDate", "UnitPrice", "CustomerID", "Country"],
     dict(customer="CustomerID", date="InvoiceDate", invoice="InvoiceNo", quantity="Quantity", price="UnitPrice")),
    (["Invoice", "StockCode", "Description", "Quantity", "InvoiceDate", "Price", "Customer ID", "Country"],
     dict(customer="Customer ID", date="InvoiceDate", invoice="Invoice", quantity="Quantity", price="Price")),
    # a superstore order log: an amount beats quantity, the order date beats the ship date
    (["Row ID", "Order ID", "Order Date", "Ship Date", "Customer ID", "Customer Name", "Sales", "Quantity",
      "Discount", "Profit"],
     dict(customer="Customer ID", date="Order Date", invoice="Order ID", amount="Sales")),
    # order items with a price per row and no quantity: one item a row
    (["order_id", "customer_id", "order_purchase_timestamp", "price", "freight_value"],
     dict(customer="customer_id", date="order_purchase_timestamp", invoice="order_id", amount="price")),
    # no invoice column: Frequency counts rows
    (["user_id", "date", "total_amount"], dict(customer="user_id", date="date", invoice=None, amount="total_amount")),
    # Olist's order table joined to its payments and customers' lasting id
    (["order_id", "customer_unique_id", "order_purchase_timestamp", "payment_sequential", "payment_value"],
     dict(customer="customer_unique_id", date="order_purchase_timestamp", invoice="order_id", amount="payment_value")),
    # a sales order export (AdventureWorks' names), and a customer number
    (["SalesOrderNumber", "SalesOrderLineNumber", "CustomerKey", "OrderDate", "OrderQuantity", "SalesAmount",
      "TaxAmt"], dict(customer="CustomerKey", date="OrderDate", invoice="SalesOrderNumber", amount="SalesAmount")),
    (["Customer Number", "Receipt No", "Date", "Amount Paid"],
     dict(customer="Customer Number", date="Date", invoice="Receipt No", amount="Amount Paid")),
    # abbreviated: a retail log of three columns, a payments export
    (["customer_id", "trans_date", "tran_amount"],
     dict(customer="customer_id", date="trans_date", invoice=None, amount="tran_amount")),
    (["txn_id", "user_id", "txn_date", "txn_amount"],
     dict(customer="user_id", date="txn_date", invoice="txn_id", amount="txn_amount")),
    # the "sales data sample" of B2B orders: customers known by name alone
    (["ORDERNUMBER", "QUANTITYORDERED", "PRICEEACH", "ORDERLINENUMBER", "SALES", "ORDERDATE", "STATUS",
      "PRODUCTCODE", "CUSTOMERNAME", "PHONE", "CITY", "STATE", "COUNTRY", "CONTACTLASTNAME", "DEALSIZE"],
     dict(customer="CUSTOMERNAME", date="ORDERDATE", invoice="ORDERNUMBER", amount="SALES")),
    # a bank's transactions, the amount's currency in brackets; a currency after the name
    (["TransactionID", "CustomerID", "CustomerDOB", "CustAccountBalance", "TransactionDate", "TransactionTime",
      "TransactionAmount (INR)"], dict(customer="CustomerID", date="TransactionDate", invoice="TransactionID",
                                       amount="TransactionAmount (INR)")),
    (["order_id", "user_id", "order_date", "amount_usd"],
     dict(customer="user_id", date="order_date", invoice="order_id", amount="amount_usd")),
    # a database export: customers known by e-mail, dates named for the event ("_at"), an update time no purchase
    (["id", "email", "created_at", "updated_at", "total"],
     dict(customer="email", date="created_at", invoice=None, amount="total")),
    (["Order Number", "Customer Email", "Paid At", "Sales [EUR]"],
     dict(customer="Customer Email", date="Paid At", invoice="Order Number", amount="Sales [EUR]")),
])
def test_rfm_columns_are_read_off_the_usual_names(columns, want):
    from fastseg.features import guess_rfm_columns

    assert guess_rfm_columns(_empty(*columns)) == want


def _shopify_orders(n_orders=400, n_customers=90, seed=0):
    """Shopify's order export: a row per line item; the order's Name (#1001), Email and
    Created at on every row, its Total, Financial Status and Currency on its first row
    alone. Also the truth: each order's customer, status, total and time."""
    rng = np.random.default_rng(seed)
    who = rng.integers(0, n_customers, n_orders)
    created = pd.Timestamp("2024-01-01") + pd.to_timedelta(np.sort(rng.integers(0, 300 * 86400, n_orders)), "s")
    status = rng.choice(["paid", "refunded", "partially_refunded", "voided", "pending"], n_orders,
                        p=[.8, .06, .04, .05, .05])
    lines = rng.choice([1, 2, 3], n_orders, p=[.6, .3, .1])
    total = np.round(rng.uniform(10, 200, n_orders), 2)
    at = np.repeat(np.arange(n_orders), lines)
    first = np.r_[True, at[1:] != at[:-1]]
    log = pd.DataFrame({
        "Name": [f"#{1001 + o}" for o in at], "Email": [f"buyer{who[o]}@example.com" for o in at],
        "Financial Status": np.where(first, status[at], None),
        "Paid at": np.where(first & (status[at] != "pending"), created[at].strftime("%Y-%m-%d %H:%M:%S +0100"), None),
        "Fulfillment Status": np.where(first, "fulfilled", None), "Currency": np.where(first, "EUR", None),
        "Subtotal": np.where(first, total[at] - 4.9, np.nan), "Total": np.where(first, total[at], np.nan),
        "Created at": created[at].strftime("%Y-%m-%d %H:%M:%S +0100"),
        "Lineitem quantity": rng.integers(1, 4, len(at)), "Lineitem name": [f"Product {i}" for i in
                                                                           rng.integers(0, 30, len(at))],
        "Lineitem price": np.round(rng.uniform(5, 60, len(at)), 2),
        "Cancelled at": np.where(first & (status[at] == "voided"), "2024-12-01 10:00:00 +0100", None),
        "Id": np.where(first, 5_000_000_000 + at, np.nan)})
    truth = pd.DataFrame({"customer": [f"buyer{w}@example.com" for w in who], "status": status, "total": total,
                          "created": created, "name": [f"#{1001 + o}" for o in range(n_orders)]})
    return log, truth


def test_shopify_order_exports_are_read_as_they_are():
    log, truth = _shopify_orders()
    from fastseg.features import guess_rfm_columns

    assert guess_rfm_columns(log) == dict(customer="Email", date="Created at", invoice="Name", amount="Total")
    table = rfm(log)
    clean = table.attrs["cleaning"]
    # the further lines of an order carry no Total: counted within the order, not as missing amounts
    assert clean["amount on another row of its invoice"] == len(log) - len(truth)
    assert "missing or unreadable amount" not in clean
    assert table.attrs["status"]["column"] == "Financial Status"
    bought = truth[~truth["status"].isin(["refunded", "voided"])]
    assert clean["status of no sale"] == len(truth) - len(bought)
    # by hand, from the orders themselves
    by = bought.groupby("customer")
    assert table.index.name == "Email" and sorted(table.index) == sorted(by.groups)
    assert (table["frequency"] == by["name"].nunique().reindex(table.index)).all()
    assert np.allclose(table["monetary"], by["total"].sum().reindex(table.index))
    snapshot = bought["created"].max() + pd.Timedelta("1D")
    assert (table["recency"] == ((snapshot - by["created"].max()).dt.days).reindex(table.index)).all()
    # a blank amount on an invoice with none anywhere is still a missing amount
    lost = log.assign(Total=log["Total"].where(log["Name"] != "#1001"))
    assert rfm(lost).attrs["cleaning"]["missing or unreadable amount"] == 1


def test_the_command_segments_a_shopify_export_with_no_column_options(tmp_path, capsys):
    from fastseg.cli import main

    log, truth = _shopify_orders(n_orders=600, n_customers=150, seed=4)
    src, out = tmp_path / "orders_export.csv", tmp_path / "labels.csv"
    log.to_csv(src, index=False)
    assert main(["segment", str(src), "--rfm", "--k", "3", "--stability", "0", "--out", str(out)]) == 0
    err = capsys.readouterr().err
    assert "RFM columns read off their names: customer 'Email', date 'Created at', invoice 'Name', amount 'Total'" \
        in err
    assert f"{len(log) - len(truth):,} rows without an amount are further lines of an invoice whose amount is on " \
           "another row" in err
    assert "Left out as no purchase, by their Financial Status: " in err and "Monetary in EUR ('Currency')" in err
    labels = pd.read_csv(out, index_col=0)
    assert labels.index.name == "Email" and labels["segment"].nunique() == 3


def test_rfm_column_guesses_keep_what_is_given_and_name_what_is_ambiguous():
    from fastseg.features import guess_rfm_columns

    log = _empty("cust_id", "CustomerID", "InvoiceDate", "Amount", "Revenue")
    assert guess_rfm_columns(log, customer="cust_id", amount="Revenue") == dict(
        customer="cust_id", date="InvoiceDate", invoice=None, amount="Revenue")
    with pytest.raises(ValueError, match=r"several columns could be the customer \('cust_id', 'CustomerID'\); name "
                                         r"it with customer= \(--customer\)"):
        guess_rfm_columns(log)
    with pytest.raises(ValueError, match=r"several columns could be the amount \('Amount', 'Revenue'\)"):
        guess_rfm_columns(log, customer="cust_id")
    # two date-named columns: the one holding dates, then an invoice or order date
    dates = pd.DataFrame({"CustomerID": [1, 2], "Amount": [1.0, 2.0], "InvoiceDate": ["2024-01-02", "2024-02-03"],
                          "Ship Date": ["2024-01-05", "2024-02-07"], "date_note": ["late", "ok"]})
    assert guess_rfm_columns(dates)["date"] == "InvoiceDate"
    with pytest.raises(ValueError, match=r"several columns could be the date \('Paid Date', 'Ship Date'\)"):
        guess_rfm_columns(dates.rename(columns={"InvoiceDate": "Paid Date"}))


def _olist_orders():
    """Olist's orders joined to their payments and customers: ``customer_id`` new on every
    order, ``customer_unique_id`` the customer's, four dates named for the order."""
    buy = pd.to_datetime(["2017-03-01 10:00", "2017-05-02 11:30", "2017-05-03 09:00", "2017-08-09 20:15",
                          "2018-01-10 08:00"])
    return pd.DataFrame({
        "order_id": ["o1", "o2", "o3", "o4", "o5"],
        "customer_id": ["c1", "c2", "c3", "c4", "c5"],
        "customer_unique_id": ["u1", "u2", "u1", "u3", "u2"],
        "order_status": "delivered",
        "order_purchase_timestamp": buy.strftime("%Y-%m-%d %H:%M:%S"),
        "order_approved_at": (buy + pd.Timedelta("1h")).strftime("%Y-%m-%d %H:%M:%S"),
        "order_delivered_customer_date": (buy + pd.Timedelta("8D")).strftime("%Y-%m-%d %H:%M:%S").where(
            [True, True, False, True, True]),  # o3 not delivered yet
        "order_estimated_delivery_date": (buy + pd.Timedelta("20D")).strftime("%Y-%m-%d 00:00:00"),
        "payment_value": [10.0, 20.0, 30.0, 40.0, 50.0]})


def test_rfm_columns_among_like_named_ones_are_told_by_their_values():
    from fastseg.features import guess_rfm_columns

    olist = _olist_orders()
    # the id that repeats across orders is the customer; the purchase happens before the rest
    assert guess_rfm_columns(olist) == dict(customer="customer_unique_id", date="order_purchase_timestamp",
                                            invoice="order_id", amount="payment_value")
    table = rfm(olist)
    assert table.loc["u1", "frequency"] == 2 and table.loc["u2", "monetary"] == 70.0
    assert table.attrs["guessed"]["date"] == "order_purchase_timestamp"
    # an id new on every order beside another that is too: nothing to tell them by
    with pytest.raises(ValueError, match=r"several columns could be the customer \('customer_id', "
                                         r"'customer_unique_id'\)"):
        guess_rfm_columns(olist.assign(customer_unique_id=olist["customer_id"] + "x"))
    # order dates that cross (neither always first): named, not guessed
    crossed = olist.assign(order_estimated_delivery_date=olist["order_purchase_timestamp"][::-1].to_numpy())
    with pytest.raises(ValueError, match=r"several columns could be the date \('order_purchase_timestamp', "
                                         r"'order_delivered_customer_date', 'order_estimated_delivery_date'\)"):
        guess_rfm_columns(crossed)
    # one date written twice (a date and its yyyymmdd key, as AdventureWorks has): the one written as dates
    sales = pd.DataFrame({"SalesOrderNumber": ["SO1", "SO2", "SO3"], "CustomerKey": [11000, 11001, 11000],
                          "OrderDateKey": [20110101, 20110102, 20110103], "ShipDateKey": [20110108, 20110109, 20110110],
                          "OrderDate": pd.to_datetime(["2011-01-01", "2011-01-02", "2011-01-03"]),
                          "SalesAmount": [3.0, 4.0, 5.0]})
    assert guess_rfm_columns(sales)["date"] == "OrderDate"
    assert rfm(sales).loc[11000, "frequency"] == 2


def test_a_log_with_one_invoice_for_every_customer_says_why_frequency_is_one():
    olist = _olist_orders()
    table = rfm(olist, customer="customer_id")
    with pytest.raises(ValueError, match=r"^frequency is 1 for every customer: each 'customer_id' has 1 invoice "
                                         r"\('order_id'\) in the log\. If that id is new on each order .* give the "
                                         r"customer's lasting id with customer= \(--customer\), joining the table "
                                         r"that maps one to the other first \(fastseg.join_log, --join FILE\); else "
                                         r"leave frequency "
                                         r"out: features=\['recency', 'monetary'\] \(--features recency,monetary\)"):
        Segmenter(k=2, random_state=0).fit(table)
    # every customer on two invoices: no id to blame
    twice = pd.concat([olist, olist.assign(order_id=olist["order_id"] + "b")])
    with pytest.raises(ValueError, match=r"^frequency is 2 for every customer: each 'customer_id' has 2 invoices "
                                         r"\('order_id'\) in the log\. Leave frequency out: features=\['recency', "
                                         r"'monetary'\]"):
        Segmenter(k=2, random_state=0).fit(rfm(twice, customer="customer_id"))
    # the way out it names works
    seg = Segmenter(features=["recency", "monetary"], k=2, random_state=0, stability=0, rules=False).fit(table)
    assert len(seg.labels) == 5
    # a customer table of one value is still the general message
    with pytest.raises(ValueError, match=r"feature column\(s\) 'visits' hold a single value for every customer"):
        Segmenter(features=["spend", "visits"], k=2).fit(pd.DataFrame({"spend": [1.0, 2, 3, 4], "visits": 1}))


def test_rfm_without_column_names_reads_them_off_the_log_and_says_so():
    tx = online_retail(300, seed=4)
    got = rfm(tx)
    want = rfm(tx, **RETAIL)
    pd.testing.assert_frame_equal(got, want, check_like=False)
    assert got.attrs["guessed"] == RETAIL and want.attrs["guessed"] == {}
    # one role missing: that one (and the invoice) are guessed, the rest kept
    part = rfm(tx, customer="CustomerID", date="InvoiceDate", price="UnitPrice")
    assert part.attrs["guessed"] == dict(invoice="InvoiceNo", quantity="Quantity")
    pd.testing.assert_frame_equal(part, want)


def test_only_uci_style_ids_are_cancellations():
    tx = pd.DataFrame({"Order ID": ["CA-2016-152156", "CA-2016-152157", "C536379", "US-2017-1"],
                       "Customer ID": ["a", "a", "b", "b"], "Order Date": ["2024-01-01"] * 4,
                       "Sales": [10.0, 5.0, 3.0, 2.0]})
    out = rfm(tx)
    assert out.attrs["cleaning"]["cancelled invoice"] == 1
    assert list(out["frequency"]) == [2, 1] and list(out["monetary"]) == [15.0, 2.0]


@pytest.mark.parametrize("form, what", [
    (lambda d: d.dt.strftime("%Y%m%d").astype(np.int64), "yyyymmdd numbers"),
    (lambda d: d.dt.strftime("%Y%m%d").astype(float).where(d.dt.day != 7), "yyyymmdd numbers"),  # NaN among them
    (lambda d: (d.dt.normalize() - pd.Timestamp("1899-12-30")).dt.days, "Excel day numbers"),
    (lambda d: d.dt.normalize().astype("datetime64[s]").astype(np.int64), "Unix seconds"),
    (lambda d: d.dt.normalize().astype("datetime64[ms]").astype(np.int64), "Unix milliseconds"),
])
def test_dates_kept_as_numbers_are_read_as_dates_not_nanoseconds(form, what):
    tx = online_retail(200, seed=1)
    day = pd.to_datetime(tx["InvoiceDate"]).dt.normalize()
    want = rfm(tx.assign(InvoiceDate=day.where(form(day).notna())), **RETAIL)
    got = rfm(tx.assign(InvoiceDate=form(day)), **RETAIL)
    assert got.attrs["dates from"] == what and want.attrs["dates from"] is None
    pd.testing.assert_frame_equal(got[["recency", "frequency", "monetary"]], want[["recency", "frequency", "monetary"]])
    assert got["recency"].max() > 300  # a year of dates, not one moment of January 1970


def test_numbers_that_are_no_known_date_form_are_an_error():
    tx = online_retail(50, seed=1)
    with pytest.raises(ValueError, match=r"date column 'InvoiceDate' holds numbers \(0 to 6\), not dates in a form "
                                         r"fastseg reads \(yyyymmdd such as 20240131, .*convert it to dates first"):
        rfm(tx.assign(InvoiceDate=np.arange(len(tx)) % 7), **RETAIL)


def test_the_report_says_which_log_columns_rfm_used_and_which_it_guessed():
    from fastseg import Segmenter
    from fastseg.report import render

    tx = online_retail(150, seed=6)
    guessed = Segmenter(k=3, random_state=0, stability=0, rules=False).fit(rfm(tx))
    assert guessed.source["columns"] == RETAIL and guessed.source["guessed"] == RETAIL
    html = render(guessed, images=[])
    assert ("Recency, Frequency and Monetary from the transaction log&#x27;s columns: customer &#x27;CustomerID&#x27;, "
            "date &#x27;InvoiceDate&#x27;, invoice &#x27;InvoiceNo&#x27;, spend &#x27;Quantity&#x27; × "
            "&#x27;UnitPrice&#x27;. Read off their names: customer, date, invoice, quantity, price. Recency counts "
            "days to ") in html
    day = tx.assign(InvoiceDate=pd.to_datetime(tx["InvoiceDate"]).dt.strftime("%Y%m%d").astype(int))
    table = rfm(day, customer="CustomerID", date="InvoiceDate", amount="UnitPrice", snapshot="2012-01-01")
    named = Segmenter(k=3, random_state=0, stability=0, rules=False).fit(table)
    html = render(named, images=[])
    copies = table.attrs["duplicates"]["rows"]  # lines of one product on one day: equal without their times
    assert copies > 0
    assert ("date &#x27;InvoiceDate&#x27; (read from yyyymmdd numbers), no invoice column (Frequency counts rows), "
            "spend &#x27;UnitPrice&#x27;. Recency counts days to 2012-01-01. Carried per customer, each its most "
            "frequent value: Country (chosen as the columns of categories with one value per customer). "
            f"{copies:,} rows of purchases equal to an earlier row in every column, kept: a till") in html
    assert "Read off their names" not in html
    named = Segmenter(k=3, random_state=0, stability=0, rules=False).fit(
        rfm(day, customer="CustomerID", date="InvoiceDate", amount="UnitPrice", attributes=None))
    assert "Carried per customer" not in render(named, images=[])


def _log_with_columns(n_cust=200, seed=0, moved=0.0):
    """A log whose Country and tier are one per customer (but for a ``moved`` share of the
    customers of several rows, who have two), whose payment varies by row and whose
    product code has hundreds of values."""
    rng = np.random.default_rng(seed)
    cust = np.repeat(np.arange(n_cust), 5)
    country = rng.choice(["UK", "FR", "DE"], n_cust)[cust].astype(object)
    movers = rng.choice(n_cust, int(round(moved * n_cust)), replace=False)
    for c in movers:  # a second country on the customer's last row
        country[np.flatnonzero(cust == c)[-1]] = "ES"
    return pd.DataFrame({
        "c": cust, "d": pd.Timestamp("2024-01-01") + pd.to_timedelta(rng.integers(0, 300, len(cust)), "D"),
        "q": rng.integers(1, 5, len(cust)), "p": rng.gamma(2.0, 5.0, len(cust)),
        "Country": country,
        "tier_code": rng.integers(1, 4, n_cust)[cust],  # a code: whole numbers under a category word
        "member": (rng.random(n_cust) < 0.3)[cust],
        "payment": rng.choice(["card", "cash", "voucher"], len(cust)),
        "StockCode": rng.integers(10_000, 10_500, len(cust)).astype(str),
        "discount": rng.random(len(cust)),
    })


def test_auto_attributes_carry_the_columns_that_describe_a_customer():
    tx = _log_with_columns()
    t = rfm(tx, customer="c", date="d", quantity="q", price="p")
    assert t.attrs["attributes"] == {"columns": ["Country", "tier_code", "member"], "auto": True}
    explicit = rfm(tx, customer="c", date="d", quantity="q", price="p", attributes=["Country", "tier_code", "member"])
    pd.testing.assert_frame_equal(t, explicit, check_like=False)
    assert explicit.attrs["attributes"]["auto"] is False
    none = rfm(tx, customer="c", date="d", quantity="q", price="p", attributes=None)
    assert list(none.columns) == list(t.columns[:-3]) and none.attrs["attributes"]["columns"] == []
    # a column that varies within customers is still carried (as its mode) when named
    assert "payment" in rfm(tx, customer="c", date="d", quantity="q", price="p", attributes=["payment"])


@pytest.mark.parametrize("moved, carried", [(0.03, True), (0.10, False)])
def test_auto_attributes_need_one_value_for_95_percent_of_the_customers(moved, carried):
    tx = _log_with_columns(moved=moved)
    t = rfm(tx, customer="c", date="d", quantity="q", price="p")
    assert ("Country" in t.attrs["attributes"]["columns"]) == carried


def test_auto_attributes_leave_out_the_columns_rfm_uses_and_one_of_a_single_value():
    tx = _log_with_columns()
    tx["Region"] = 1  # one value: nothing to describe segments by
    t = rfm(tx, customer="c", date="d", quantity="q", price="p", invoice="Country")  # an odd invoice, but used
    assert "Country" not in t.attrs["attributes"]["columns"] and "Region" not in t.columns
    # read off the names too: the guessed roles are not attributes
    guessed = rfm(tx.rename(columns={"c": "CustomerID", "d": "InvoiceDate", "q": "Quantity", "p": "UnitPrice"}))
    assert guessed.attrs["attributes"]["columns"] == ["Country", "tier_code", "member"]


def test_dates_with_utc_offsets_that_change_in_the_year_are_read_in_their_own_clock():
    # a European log: +01:00 in winter, +02:00 in summer; pandas refuses to mix them
    text = ["2024-01-01T10:00:00+01:00", "2024-07-01T23:30:00+02:00", "2024-08-01T10:00:00+02:00",
            "2024-03-05T00:30:00+01:00", "not a date"]
    tx = pd.DataFrame({"c": [1, 1, 2, 3, 3], "d": text, "amount": [10.0, 20.0, 30.0, 40.0, 5.0]})
    got = rfm(tx, customer="c", date="d", amount="amount")
    naive = rfm(tx.assign(d=[t[:19] for t in text[:4]] + ["not a date"]), customer="c", date="d", amount="amount")
    pd.testing.assert_frame_equal(got, naive)  # each purchase on the day and hour it was made, where it was made
    assert list(got["recency"]) == [31, 1, 150] and got.attrs["cleaning"]["missing or unreadable date"] == 1
    # the same log as a time-zone-aware column: its wall-clock times, not UTC's
    aware = tx.iloc[:4].assign(d=pd.to_datetime(text[:4], utc=True).tz_convert("Europe/Paris"))
    pd.testing.assert_series_equal(rfm(aware, customer="c", date="d", amount="amount")["recency"], got["recency"])
    # a snapshot with an offset counts in its own clock too
    snap = rfm(aware, customer="c", date="d", amount="amount", snapshot="2024-09-01T00:00:00+02:00")
    assert list(snap["recency"]) == [61, 30, 179]


@pytest.mark.parametrize("text", [["2024-01-01 10:00:00Z", "2024-02-01 10:00:00"],
                                  ["2024-02-01 10:00:00", "2024-01-01 10:00:00 UTC"]])
def test_times_with_and_without_a_zone_mixed_are_all_read(text):
    got = rfm(pd.DataFrame({"c": [1, 2], "d": text, "amount": [1.0, 2.0]}), customer="c", date="d", amount="amount")
    assert got.attrs["cleaning"]["missing or unreadable date"] == 0 and sorted(got["recency"]) == [1, 32]


def test_times_with_a_zone_word_are_read_as_pandas_reads_them():
    # REES46's "2019-10-01 00:00:04 UTC", read as "...Z" (pandas' %Z path is six times slower), with blanks,
    # junk, a GMT among them and fractions of a second; a "UTC" that ends no time is left alone
    rng = np.random.default_rng(4)
    stamps = pd.Timestamp("2019-10-01") + pd.to_timedelta(rng.integers(0, 60 * 86400 * 1000, 500), "ms")
    text = pd.Series(stamps.strftime("%Y-%m-%d %H:%M:%S.%f").str[:-3] + " UTC", dtype=object)
    text[[3, 40]] = None
    text[[7]] = "not a date UTC"
    text[[9]] = "2019-10-02 10:00:00 GMT"
    got, _ = as_datetime(text, "event_time")
    want = pd.to_datetime(text, errors="coerce", format="mixed", utc=True).dt.tz_localize(None)
    pd.testing.assert_series_equal(got.astype("datetime64[ns]"), want.astype("datetime64[ns]"), check_names=False)
    assert got.isna().sum() == 3


@pytest.mark.parametrize("snapshot", ["garbage", "NaT"])
def test_a_snapshot_that_is_not_a_date_is_named(snapshot):
    tx = pd.DataFrame({"c": [1], "d": ["2024-01-01"], "amount": [1.0]})
    with pytest.raises(ValueError, match=f"snapshot '{snapshot}' is not a date; give one such as"):
        rfm(tx, customer="c", date="d", amount="amount", snapshot=snapshot)


def test_dates_as_days_counts_whole_days_and_keeps_gaps():
    from fastseg.features import dates_as_days

    df = pd.DataFrame({"a": [1, 2, 3], "joined": ["2024-01-01", None, "2024-03-01 18:00"],
                       "seen": pd.to_datetime(["2024-02-29 00:00", "2024-03-01 06:00", "2023-12-31 00:00"])})
    before = df.copy()
    out, renamed, snap = dates_as_days(df, ["joined", "seen"])
    pd.testing.assert_frame_equal(df, before)
    assert renamed == {"joined": "days since joined", "seen": "days since seen"}
    assert snap == pd.Timestamp("2024-03-02 18:00")  # the latest moment, plus one day
    assert list(out.columns) == ["a", "days since joined", "days since seen"]  # each in its column's place
    np.testing.assert_array_equal(out["days since joined"], [61, np.nan, 1])  # 61 days and 18 hours: 61
    np.testing.assert_array_equal(out["days since seen"], [2, 1, 62])
    out, _, _ = dates_as_days(df, ["joined"], snapshot="2024-03-01 18:00")
    np.testing.assert_array_equal(out["days since joined"], [60, np.nan, 0])  # the snapshot itself: 0 days


@pytest.mark.parametrize("index", ["InvoiceDate", "CustomerID", ["CustomerID", "InvoiceNo"]])
def test_a_log_indexed_by_one_of_its_columns_gives_the_same_table(index):
    tx = online_retail(300, seed=1)
    cols = dict(customer="CustomerID", date="InvoiceDate", invoice="InvoiceNo", quantity="Quantity",
                price="UnitPrice")
    want = rfm(tx, **cols)
    indexed = tx.set_index(index)
    pd.testing.assert_frame_equal(rfm(indexed, **cols), want)
    pd.testing.assert_frame_equal(rfm(indexed), want)  # the columns read off the names, the index's too
    assert indexed.index.names == ([index] if isinstance(index, str) else index)  # the caller's table untouched


def test_rfm_as_of_a_snapshot_inside_the_log_equals_the_log_cut_there():
    log = online_retail(300, seed=2)
    snap = pd.Timestamp("2011-06-30")
    cut = log[pd.to_datetime(log["InvoiceDate"]) < snap]
    as_of = rfm(log, snapshot=snap)
    by_hand = rfm(cut, snapshot=snap)
    for c in ("recency", "frequency", "monetary", "tenure", "R", "F", "M", "rfm_segment"):
        pd.testing.assert_series_equal(as_of[c], by_hand[c])
    later = int((pd.to_datetime(log["InvoiceDate"]) >= snap)[log["CustomerID"].notna()].sum())
    assert as_of.attrs["cleaning"]["on or after the snapshot"] == later > 0
    from fastseg import baskets

    assert (baskets(log, snapshot=snap).customers == as_of.index).all()  # the same customers as rfm's


def test_a_mistyped_year_at_the_end_of_the_log_is_an_error_giving_the_snapshot():
    log = online_retail(300, seed=2)
    end = pd.Timestamp(rfm(log).attrs["snapshot"]) - pd.Timedelta(days=1)  # the last purchase kept
    bad = log.copy()
    row = bad.index[bad["CustomerID"].notna()][10]
    bad.loc[row, "InvoiceDate"] = pd.Timestamp("2101-03-04")  # 2011 typed 2101
    fix = (end.normalize() + pd.Timedelta(days=1)).date()
    with pytest.raises(ValueError, match=rf"1 row of the log is dated 2101-03-04, 89 years after every other \(the "
                                         rf"rest ends {end}\): Recency would count from then\. Fix those dates, or "
                                         rf"give snapshot='{fix}' \(--snapshot {fix}\)"):
        rfm(bad)
    np.testing.assert_array_equal(rfm(bad, snapshot=str(fix))["recency"].to_numpy(),
                                  rfm(bad.drop(index=row), snapshot=str(fix))["recency"].to_numpy())
    # a log of two years' purchases, or one with a quiet year, is no typo
    t = pd.to_datetime(log["InvoiceDate"])
    two = pd.concat([log, log.assign(InvoiceDate=t + pd.DateOffset(years=2),
                                     InvoiceNo="x" + log["InvoiceNo"].astype(str))])
    assert pd.Timestamp(rfm(two).attrs["snapshot"]) > end + pd.DateOffset(years=2)
    few = log.copy()
    few.loc[few.index[few["CustomerID"].notna()][:60], "InvoiceDate"] = end + pd.Timedelta(days=500)  # 0.2%: real
    assert pd.Timestamp(rfm(few).attrs["snapshot"]) == end + pd.Timedelta(days=501)


def test_rfm_since_a_day_equals_the_log_cut_there():
    log = online_retail(300, seed=2)
    since = pd.Timestamp("2011-03-15")
    t = pd.to_datetime(log["InvoiceDate"])
    window = rfm(log, since=since)
    by_hand = rfm(log[t >= since])
    for c in ("recency", "frequency", "monetary", "tenure", "R", "F", "M", "rfm_segment"):
        pd.testing.assert_series_equal(window[c], by_hand[c])
    assert window.attrs["cleaning"]["before since"] == int((t < since)[log["CustomerID"].notna()].sum()) > 0
    assert window.attrs["since"] == "2011-03-15 00:00:00" and "since" not in by_hand.attrs
    assert window["tenure"].max() <= (pd.Timestamp(window.attrs["snapshot"]) - since).days
    # with a snapshot too: the window between them
    both = rfm(log, since=since, snapshot="2011-09-01")
    pd.testing.assert_series_equal(both["monetary"],
                                   rfm(log[(t >= since) & (t < pd.Timestamp("2011-09-01"))])["monetary"])
    from fastseg import baskets

    assert (baskets(log, since=since).customers == window.index).all()  # the same customers as rfm's
    with pytest.raises(ValueError, match="since 2011-09-01 is not before the snapshot 2011-09-01: no day is left"):
        rfm(log, since="2011-09-01", snapshot="2011-09-01")
    with pytest.raises(ValueError, match="since 'soon' is not a date; give one such as"):
        rfm(log, since="soon")


@pytest.mark.parametrize("placeholder, share", [("1900-01-01", 0.05), ("1970-01-01", 0.05), ("1899-12-30", 0.05),
                                                ("2003-07-08 10:00", 0.0005)])
def test_a_date_written_for_unknown_or_years_before_the_rest_is_an_error_giving_since(placeholder, share):
    log = online_retail(300, seed=2)
    start = pd.to_datetime(log["InvoiceDate"])[log["CustomerID"].notna()].min()
    bad = log.copy()
    purchase = (log["CustomerID"].notna() & (log["Quantity"] > 0) & (log["UnitPrice"] > 0)
                & ~log["InvoiceNo"].astype(str).str.startswith("C"))
    rows = bad.index[purchase]
    n = max(1, int(len(rows) * share))  # 5% on a placeholder day; a few typed years early (0.05%)
    bad.loc[rows[7:7 + n], "InvoiceDate"] = pd.Timestamp(placeholder)
    fix = start.normalize().date()
    unknown = " (a day written for a date not known)" if share > 0.01 else ""
    dated = str(pd.Timestamp(placeholder)).removesuffix(" 00:00:00")
    with pytest.raises(ValueError, match=rf"{n:,} rows? of the log (is|are) dated {dated}{re.escape(unknown)}, "
                                         rf"\d+ years before every other \(the rest begins {start}\): tenure would "
                                         rf"count from then.* give since='{fix}' \(--since {fix}\)"):
        rfm(bad)
    cut = rfm(bad, since=str(fix))  # the fix the error gives: those rows left out
    assert cut.attrs["cleaning"]["before since"] == n
    pd.testing.assert_series_equal(cut["tenure"], rfm(bad.drop(index=rows[7:7 + n]))["tenure"], check_names=False)
    kept = rfm(bad, since=placeholder[:10])  # ... or kept, with a since on or before them
    assert kept.attrs["cleaning"]["before since"] == 0 and kept["tenure"].max() > 365 * 7


def test_a_log_with_a_few_early_purchases_or_of_the_placeholder_era_is_no_error():
    log = online_retail(300, seed=2)
    t = pd.to_datetime(log["InvoiceDate"])
    rows = log.index[log["CustomerID"].notna()]
    few = log.copy()
    few.loc[rows[:60], "InvoiceDate"] = t.min() - pd.Timedelta(days=500)  # 0.2% of the rows: a real quiet year
    assert rfm(few)["tenure"].max() >= 500
    seventies = log.assign(InvoiceDate=t - pd.DateOffset(years=41))  # a log of 1969-70: 1970-01-01 is one of its days
    seventies.loc[rows[:3], "InvoiceDate"] = pd.Timestamp("1970-01-01")
    assert len(rfm(seventies)) == len(rfm(log))


def test_dates_no_datetime_can_hold_are_unreadable_not_wrapped_round():
    tx = pd.DataFrame({"c": [1, 2, 3, 1], "d": ["2011-01-02", "9999-12-31", "2011-03-01", "0001-01-01"],
                       "amount": [1.0, 2, 3, 4]})
    for log in (tx, tx.assign(d=pd.to_datetime(tx["d"]))):  # text, and datetimes in microseconds
        out = rfm(log, customer="c", date="d", amount="amount")
        assert list(out.index) == [1, 3] and out.attrs["cleaning"]["missing or unreadable date"] == 2
        np.testing.assert_array_equal(out["recency"], [59, 1])
        np.testing.assert_array_equal(out["tenure"], [59, 1])
    with pytest.raises(ValueError, match="snapshot '9999-12-31' is outside the years fastseg counts days in"):
        rfm(tx, customer="c", date="d", amount="amount", snapshot="9999-12-31")
    from fastseg._dates import dates_as_days

    days, _, _ = dates_as_days(pd.DataFrame({"joined": ["2024-01-01", "9999-12-31"]}), ["joined"])
    np.testing.assert_array_equal(days["days since joined"], [1, np.nan])


def test_customer_ids_read_as_numbers_in_one_piece_and_text_in_another_are_one_customer(tmp_path):
    tx = pd.DataFrame({"c": pd.Series([12346, "12346", 12347, "guest-1", 12346.0, None, " "], dtype=object),
                       "d": ["2024-01-01", "2024-01-02", "2024-01-01", "2024-01-03", "2024-01-04", "2024-01-01",
                             "2024-01-01"], "amt": [1.0, 2, 3, 4, 5, 6, 7], "item": ["a", "b", "a", "c", "a", "a", "a"]})
    out = rfm(tx, customer="c", date="d", amount="amt")
    assert list(out.index) == ["12346", "12347", "guest-1"]
    np.testing.assert_array_equal(out["frequency"], [3, 1, 1])
    np.testing.assert_allclose(out["monetary"], [8.0, 3.0, 4.0])
    assert out.attrs["cleaning"]["customers with no valid rows"] == 0
    from fastseg import baskets

    assert list(baskets(tx, customer="c", date="d", amount="amt", item="item").customers) == list(out.index)
    # as pandas reads a large CSV: its pieces' types inferred one by one, text ids only near the end
    n = 300_000
    rng = np.random.default_rng(0)
    ids = rng.integers(10_000, 10_500, n).astype(object)
    ids[-50:] = [f"guest-{i}" for i in range(50)]
    path = tmp_path / "log.csv"
    pd.DataFrame({"CustomerID": ids, "InvoiceDate": "2024-01-01", "Sales": 1.0}).to_csv(path, index=False)
    from fastseg._table_files import read_table

    log = read_table(path)
    assert pd.api.types.infer_dtype(log["CustomerID"]) == "mixed-integer"  # what makes this test a test
    assert len(rfm(log)) == len(set(map(str, ids)))


def test_unreadable_quantity_price_or_amount_is_its_own_rule():
    """A blank or '-' price is no price, not a price <= 0: counted apart, hand-checked."""
    log = pd.DataFrame({"c": [1, 1, 2, 2, 3, 3],
                        "d": ["2024-01-01", "2024-01-02", "2024-01-03", "2024-01-04", "2024-01-05", "2024-01-06"],
                        "q": ["2", "?", "1", "3", "-1", "1"],
                        "p": ["5", "4", "-", "#VALUE!", "2", "0"]})
    t = rfm(log, customer="c", date="d", quantity="q", price="p")
    clean = t.attrs["cleaning"]
    assert clean["missing or unreadable quantity"] == 1 and clean["non-positive quantity"] == 1
    assert clean["missing or unreadable price"] == 2 and clean["non-positive price"] == 1
    assert clean["rows kept"] == 1 and t["monetary"].tolist() == [10.0]
    amounts = rfm(log.assign(a=["5", "", "n/a", "3", "-2", "1"]), customer="c", date="d", amount="a")
    assert amounts.attrs["cleaning"]["missing or unreadable amount"] == 2
    assert amounts.attrs["cleaning"]["non-positive amount"] == 1
    assert "missing or unreadable price" not in rfm(log.assign(p="5"), customer="c", date="d", quantity="q",
                                                    price="p").attrs["cleaning"]
