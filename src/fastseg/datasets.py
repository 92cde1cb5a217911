"""Sample data that ships with fastseg: deterministic by seed, no network needed.

``online_retail`` generates a transaction log in the schema of the UCI Online Retail data
set, with its dirt; ``mall_customers`` a customer table in the schema of the well-known
"Mall Customers" data, with its five groups. Both take a size, so they scale to millions
of customers for benchmarks.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

__all__ = ["online_retail", "mall_customers"]

_START = np.datetime64("2010-12-01T08:00")
_DAYS = 373  # 2010-12-01 .. 2011-12-09, as the UCI data
_COUNTRIES = [
    "Germany", "France", "EIRE", "Spain", "Netherlands", "Belgium", "Switzerland", "Portugal",
    "Australia", "Norway", "Italy", "Channel Islands", "Finland", "Cyprus", "Sweden", "Denmark",
]
_WORDS = [
    "WHITE", "HANGING", "HEART", "T-LIGHT", "HOLDER", "REGENCY", "CAKESTAND", "JUMBO", "BAG", "RED",
    "RETROSPOT", "PARTY", "BUNTING", "LUNCH", "BOX", "VINTAGE", "SPACEBOY", "CHRISTMAS", "GLASS",
    "LANTERN", "SET", "OF", "3", "6", "PINK", "BLUE", "PAPER", "CHAIN", "KIT", "WOODEN", "FRAME",
    "ALARM", "CLOCK", "BAKELIKE", "TEA", "CUP", "SAUCER", "DOORMAT", "UNION", "JACK", "NATURAL",
]
# Latent behaviour of customers: share, invoices (mean), lines per invoice, spend scale,
# days since last purchase (mean), active span (days).
_TYPES = {
    "champion": (0.12, 15.0, 22, 2.0, 8, 360),
    "loyal": (0.22, 7.0, 18, 1.2, 25, 300),
    "new": (0.14, 1.6, 12, 1.0, 20, 30),
    "at_risk": (0.20, 4.0, 15, 1.0, 160, 200),
    "occasional": (0.32, 1.8, 10, 0.7, 220, 120),
}


def online_retail(n_customers=2000, *, n_rows=None, seed=0, return_kinds=False):
    """A transaction log in the UCI Online Retail schema, with its real dirt.

    Columns: InvoiceNo, StockCode, Description, Quantity, InvoiceDate, UnitPrice,
    CustomerID, Country — one row per invoice line, a year of dates
    (2010-12-01 to 2011-12-09).

    Dirt, as in the real data: cancelled invoices (number prefixed "C", negative
    quantities, about 2% of invoices); about a quarter of rows without CustomerID (NaN);
    zero unit prices and a few negative ones ("Adjust bad debt"); heavy-tailed
    quantities and spend; a dominant home country (United Kingdom, ~90%); lines equal to
    an earlier one in every column (about 1% of those with a customer at the default
    size; fewer with fewer lines per invoice). Each kind of
    customer (champion, loyal, new, at risk, occasional) buys from a catalogue of 3,000
    products with a long-tailed popularity (1 / (rank + 10)), a quarter of its lines from 25 favourites of
    its own, so what a segment buys can be told apart.

    Parameters
    ----------
    n_customers : int, default=2000
        Customers with an ID. Rows grow with it: about 115 a customer with the default
        mix (the UCI data has 124), guests' rows included.
    n_rows : int, optional
        About how many rows in all: lines per invoice are scaled to fit (at least one
        line per invoice, so at least about 8 rows per customer).
    seed : int, default=0
    return_kinds : bool, default=False
        Also return the truth behind the log: each customer's kind (a Series indexed by
        CustomerID) and each kind's favourite products (a dict kind → list of
        StockCodes).

    Returns
    -------
    pandas.DataFrame, or (DataFrame, Series, dict) with ``return_kinds``
    """
    if not isinstance(n_customers, (int, np.integer)) or n_customers < 1:
        raise ValueError(f"n_customers must be an int >= 1; got {n_customers!r}.")
    rng = np.random.default_rng(seed)
    names = list(_TYPES)
    share = np.array([_TYPES[t][0] for t in names])
    kind = rng.choice(len(names), n_customers, p=share / share.sum())
    par = np.array([_TYPES[t][1:] for t in names])[kind]  # (n, 5)
    inv_mean, lines_mean, spend, recency_mean, span = par.T
    n_inv = 1 + rng.poisson(np.maximum(inv_mean - 1, 0))
    last = np.clip(recency_mean * rng.lognormal(0, 0.45, n_customers), 0, _DAYS - 1)
    first = np.clip(last + rng.uniform(0.3, 1.0, n_customers) * span, last, _DAYS - 1)
    countries = ["United Kingdom"] + _COUNTRIES  # code 0 is the home country
    country = np.where(rng.random(n_customers) < 0.9, 0, rng.integers(1, len(countries), n_customers))
    cust_ids = 12346 + np.arange(n_customers)

    # invoices of identified customers; the last one lands on the customer's last day
    inv_cust = np.repeat(np.arange(n_customers), n_inv)
    pos = np.arange(inv_cust.size) - np.repeat(np.cumsum(n_inv) - n_inv, n_inv)
    is_last = pos == np.repeat(n_inv - 1, n_inv)
    days_ago = np.where(is_last, last[inv_cust], rng.uniform(last[inv_cust], first[inv_cust]))
    # guests: invoices without a CustomerID make about a quarter of all rows
    n_guest_inv = max(1, int(inv_cust.size * 0.30))
    n_all = inv_cust.size + n_guest_inv
    days_ago = np.concatenate([days_ago, rng.uniform(0, _DAYS - 1, n_guest_inv)])
    lam = np.concatenate([lines_mean[inv_cust], np.full(n_guest_inv, 22.0)]) - 1
    if n_rows is not None:
        lam = lam * max(0.0, (n_rows - n_all) / lam.sum())
    inv_lines = 1 + rng.poisson(lam)
    inv_spend = np.concatenate([spend[inv_cust], np.full(n_guest_inv, 0.8)])
    inv_cid = np.concatenate([cust_ids[inv_cust].astype(float), np.full(n_guest_inv, np.nan)])
    inv_country = np.concatenate([country[inv_cust], np.zeros(n_guest_inv, dtype=country.dtype)])
    minutes = (_DAYS - 1 - days_ago) * 1440 + rng.integers(0, 600, n_all)
    order = np.argsort(minutes, kind="stable")  # invoice numbers rise with time
    inv_no = np.empty(n_all, dtype=np.int64)
    inv_no[order] = 536365 + np.arange(n_all)
    cancelled = rng.random(n_all) < 0.02

    # a few "Adjust bad debt" invoices with negative prices, as in the real log
    n_adj = max(1, int(inv_lines.sum()) // 100_000)
    adj_minutes = np.full(n_adj, (_DAYS - 140) * 1440)

    # lines, written invoice by invoice in time order (a log, as the UCI file)
    n_items = 3000
    inv_of_line = np.repeat(order, inv_lines[order])
    n_rows = inv_of_line.size
    # popularity falls off as 1 / (rank + 10): the best seller about 1.6% of lines, the top
    # 25 a fifth, so one invoice seldom lists an item twice (a steeper Zipf made a third
    # of all lines one product, and a line in six a copy of another)
    weight = 1.0 / (np.arange(n_items) + 11.0)
    item = np.random.default_rng([seed, 2]).choice(n_items, n_rows, p=weight / weight.sum())
    # Each kind of customer has favourite products (a wholesaler's bulk lines, a gift
    # shopper's seasonal ones) that a quarter of its lines come from; drawn from a stream
    # of their own, so every other draw of the log is as it was.
    taste = np.random.default_rng([seed, 1])
    favourites = taste.choice(np.arange(20, n_items), size=(len(names), 25), replace=False)
    ident = inv_of_line < inv_cust.size
    line_kind = kind[inv_cust[inv_of_line[ident]]]
    fav = taste.random(line_kind.size) < 0.25
    item[np.flatnonzero(ident)[fav]] = favourites[line_kind[fav], taste.integers(0, 25, int(fav.sum()))]
    item_price = np.round(np.exp(rng.normal(0.8, 0.9, n_items)), 2)
    price = item_price[item] * inv_spend[inv_of_line]
    price = np.round(np.maximum(price, 0.01), 2)
    price[rng.random(n_rows) < 0.004] = 0.0  # free samples / data-entry errors
    qty = np.minimum(rng.zipf(1.9, n_rows), 12_000) * np.where(rng.random(n_rows) < 0.3, 6, 1)
    qty = np.where(cancelled[inv_of_line], -qty, qty)
    # the adjustments go where their date falls
    at = np.searchsorted(minutes[inv_of_line], adj_minutes[0])
    ins = lambda a, v: np.insert(a, at, v)  # noqa: E731
    inv_code = ins(inv_of_line, n_all + np.arange(n_adj))
    item = ins(item, np.full(n_adj, n_items))
    qty = ins(qty, np.ones(n_adj, dtype=qty.dtype))
    price = ins(price, -np.round(rng.uniform(1000, 12000, n_adj), 2))
    line_minutes = ins(minutes[inv_of_line], adj_minutes)
    cid = ins(inv_cid[inv_of_line], np.full(n_adj, np.nan))
    ctry = ins(inv_country[inv_of_line], np.zeros(n_adj, dtype=inv_country.dtype))

    # Text columns are categoricals built from codes: millions of rows stay cheap.
    inv_str = pd.Index(inv_no).astype(str)
    inv_names = pd.Index(np.where(cancelled, "C" + inv_str, inv_str)).append(
        pd.Index([f"A{563185 + i}" for i in range(n_adj)])
    )
    stock_codes = pd.Index([f"{20000 + 37 * i % 70000}" for i in range(n_items)] + ["B"])
    words = np.array(_WORDS)
    desc = pd.Index(
        [" ".join(words[(i * p + q) % len(words)] for p, q in ((3, 1), (7, 5), (11, 9))) + f" {i}" for i in range(n_items)]
        + ["Adjust bad debt"]
    )
    log = pd.DataFrame(
        {
            "InvoiceNo": pd.Categorical.from_codes(inv_code, categories=inv_names),
            "StockCode": pd.Categorical.from_codes(item, categories=stock_codes),
            "Description": pd.Categorical.from_codes(item, categories=desc),
            "Quantity": qty.astype(np.int64),
            "InvoiceDate": _START + line_minutes.astype("timedelta64[m]"),
            "UnitPrice": price,
            "CustomerID": cid,
            "Country": pd.Categorical.from_codes(ctry, categories=pd.Index(countries)),
        }
    )
    if not return_kinds:
        return log
    kinds = pd.Series(np.array(names)[kind], index=pd.Index(cust_ids, name="CustomerID"), name="kind")
    return log, kinds, {t: list(stock_codes[favourites[i]]) for i, t in enumerate(names)}


# Five groups of the Mall Customers data: share, income mean/sd (k$), score mean/sd, age mean/sd
_MALL = [
    ("careful", 0.115, 26, 7, 20, 8, 45, 12),  # low income, low spending
    ("careless", 0.11, 25, 7, 79, 8, 25, 5),  # low income, high spending
    ("standard", 0.405, 55, 8, 50, 6, 42, 15),  # middle income, middle spending
    ("frugal", 0.175, 88, 12, 17, 8, 41, 11),  # high income, low spending
    ("target", 0.195, 86, 12, 82, 8, 33, 4),  # high income, high spending
]


def mall_customers(n=200, *, seed=0, return_groups=False):
    """A customer table in the schema of the Mall Customers data, with its five groups.

    Columns: CustomerID, Gender, Age, Annual Income (k$), Spending Score (1-100). The
    five groups analysts know from that data (income × spending: low/low, low/high,
    middle/middle, high/low, high/high) come from a generator, so their truth is known.

    Parameters
    ----------
    n : int, default=200
    seed : int, default=0
    return_groups : bool, default=False
        Also return each customer's group name (a pandas Series aligned with the rows).

    Returns
    -------
    pandas.DataFrame, or (DataFrame, Series) with ``return_groups``
    """
    if not isinstance(n, (int, np.integer)) or n < 5:
        raise ValueError(f"n must be an int >= 5; got {n!r}.")
    rng = np.random.default_rng(seed)
    share = np.array([g[1] for g in _MALL])
    group = rng.choice(len(_MALL), n, p=share / share.sum())
    g = np.array([g[2:] for g in _MALL], dtype=float)[group]
    income = np.clip(np.round(rng.normal(g[:, 0], g[:, 1])), 15, 140).astype(int)
    score = np.clip(np.round(rng.normal(g[:, 2], g[:, 3])), 1, 100).astype(int)
    age = np.clip(np.round(rng.normal(g[:, 4], g[:, 5])), 18, 70).astype(int)
    df = pd.DataFrame(
        {
            "CustomerID": np.arange(1, n + 1),
            "Gender": np.where(rng.random(n) < 0.56, "Female", "Male"),
            "Age": age,
            "Annual Income (k$)": income,
            "Spending Score (1-100)": score,
        }
    )
    if return_groups:
        return df, pd.Series(np.array([m[0] for m in _MALL])[group], name="group")
    return df
