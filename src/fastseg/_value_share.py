"""Where the money is: each segment's share of the customers' total spend beside its
share of the customers ("13% of customers, 58% of spend"), the first figure marketing
asks of a segmentation. The spend column is ``monetary`` in a table from
:func:`fastseg.rfm`, else the one column named like spend."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd

# words of a column name (split at separators and camelCase) that say it holds money spent
_SPEND_WORDS = frozenset("monetary spend spent spending sales revenue revenues turnover amount gmv clv ltv mnt".split())
# ... and words that say it is not a total that adds up over customers
_NOT_A_TOTAL = frozenset("score rate ratio avg average mean median per pct percent share rank index count num number "
                         "freq frequency max min std last first growth change target budget potential limit "
                         "forecast predicted".split())


def _words(name):
    return [w.lower() for w in re.findall(r"[A-Z]?[a-z]+|[A-Z]+(?![a-z])|\d+", str(name))]


def looks_like_spend(name):
    """Whether a column's name says it holds each customer's money spent, a total that
    adds up over customers: ``monetary``, ``Total Spend``, ``sales``, ``revenue``,
    ``MntWines``, ``customer_ltv``; not ``Spending Score (1-100)``, ``avg_spend`` nor
    ``Revenue %``."""
    words = set(_words(name))
    return bool(words & _SPEND_WORDS) and not words & _NOT_A_TOTAL and "%" not in str(name)


def _addable(col):
    """A numeric column of amounts that add up: no values below zero, not all zero, not a flag."""
    if not pd.api.types.is_numeric_dtype(col) or pd.api.types.is_bool_dtype(col):
        return False
    v = col.to_numpy(dtype=float, na_value=np.nan)
    v = v[np.isfinite(v)]
    return bool(len(v)) and v.min() >= 0 and v.max() > 0 and len(np.unique(v)) > 2


def spend_column(df):
    """The column of ``df`` holding each customer's spend, or None.

    ``monetary`` when there is one (a table from :func:`fastseg.rfm`); else the one
    numeric column named like spend (:func:`looks_like_spend`) with no value below zero,
    a name with "total" first when several are (``total_spend`` beside ``online_spend``);
    None when none is, or several are and none says total.
    """
    if "monetary" in df.columns and _addable(df["monetary"]):
        return "monetary"
    found = [c for c in df.columns if looks_like_spend(c) and _addable(df[c])]
    if len(found) > 1:
        found = [c for c in found if "total" in _words(c)]
    return found[0] if len(found) == 1 else None


def percent(share):
    """A share for a reader: "58%", "<1%" for a sliver above zero (not "0%")."""
    return "<1%" if 0 < share < 0.005 else f"{share:.0%}"


def value_table(values, seg, k, names):
    """Per segment: its customers' share of all customers and of the total of ``values``.

    Parameters
    ----------
    values : pandas.Series
        Each customer's spend (missing values count as none).
    seg : array of int
        Each customer's segment, 0 to ``k - 1``.
    names : dict segment → name

    Returns
    -------
    pandas.DataFrame
        Indexed by segment: ``name``, ``customers``, ``share of customers``, ``total``,
        ``share of total``, ``per customer`` (the mean) and ``index`` (share of total
        over share of customers: 2 holds twice its share of the spend).

    Raises
    ------
    ValueError
        When its total is not above zero (a numeric column is checked by the caller,
        before the sweep).
    """
    v = np.nan_to_num(values.to_numpy(dtype=float, na_value=np.nan), nan=0.0, posinf=0.0, neginf=0.0)
    total = v.sum()
    if not total > 0:
        raise ValueError(f"value column {values.name!r} adds up to {total:,.6g} over the customers segmented; a "
                         "share of it needs a total above zero: name a column of amounts spent, or value=None.")
    seg = np.asarray(seg)
    count = np.bincount(seg, minlength=k).astype(float)
    summed = np.bincount(seg, weights=v, minlength=k)
    table = pd.DataFrame({
        "name": [names[s] for s in range(k)],
        "customers": count.astype(np.int64),
        "share of customers": count / count.sum(),
        "total": summed,
        "share of total": summed / total,
        "per customer": np.divide(summed, count, out=np.zeros(k), where=count > 0),
    }, index=pd.RangeIndex(k, name="segment"))
    table["index"] = np.divide(table["share of total"], table["share of customers"], out=np.zeros(k),
                               where=count > 0)
    return table
