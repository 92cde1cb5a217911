"""Which columns of a customer table identify rows (an id, a saved row number) or hold
categories written as numbers, and which row is a spreadsheet's totals row: what is not a
customer's feature."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd

from ._log_columns import CUSTOMER_ID_NAME

# Column names of any identifier ("id", "Customer ID", "userId", and a customer's id as
# CUSTOMER_ID_NAME has it), and "Unnamed: 0", the row number a DataFrame saved with its
# index reads back as.
_ID_NAME = re.compile(r"(?i:(?:^|.*[\s_.\-])id)$|.*[a-z0-9]I[dD]$|" + CUSTOMER_ID_NAME.pattern)
_ROW_NUMBER_NAME = re.compile(r"(?i:unnamed: ?\d+)$")


def _is_unique_integers(col):
    """Every value a distinct whole number (what an identifier column holds)."""
    if not pd.api.types.is_numeric_dtype(col) or pd.api.types.is_bool_dtype(col) or col.isna().any():
        return False
    v = col.to_numpy()
    if v.dtype.kind == "f" and not np.array_equal(v, np.round(v)):
        return False
    return col.is_unique


def _is_unique_key(col):
    """Every value a distinct whole number or a distinct text ("C-00017"), none missing."""
    if pd.api.types.is_string_dtype(col) or pd.api.types.is_object_dtype(col):
        return not col.isna().any() and col.map(type).eq(str).all() and col.is_unique
    return _is_unique_integers(col)


# The last word of a column name that says its numbers are categories (Region = 1, 2, 3,
# store_id = 17): an id shared by many customers names a group of them
_CODE_WORDS = frozenset("region channel code type category class group segment cluster status gender sex zip "
                        "zipcode postcode postal plz country state id".split())


def looks_like_code(col):
    """Whether ``col`` holds categories written as whole numbers: a numeric column whose
    name ends in a word such as region, channel, type, category, status, zip code or id
    (``Region``, ``Customer_Type``, ``zipCode``, ``store_id``), each value a whole number."""
    if not pd.api.types.is_numeric_dtype(col) or pd.api.types.is_bool_dtype(col):
        return False
    words = re.findall(r"[A-Z]?[a-z]+|[A-Z]+(?![a-z])", str(col.name))
    if not words or words[-1].lower() not in _CODE_WORDS:
        return False
    v = col.to_numpy(dtype=float, na_value=np.nan)
    v = v[np.isfinite(v)]
    return bool(len(v)) and bool(np.all(v == np.floor(v)))


def totals_row(df):
    """The label of a totals row at the end (or start) of ``df``, or None.

    A spreadsheet exported with its "Grand Total" row has one row whose numbers are the
    sums of all the others: segmented, it would be a customer a thousand times larger than
    any. A row counts as such when at least two numeric columns (identifiers aside) are
    filled in it, and each equals the sum of the other rows (within rounding: 0.5, or a
    millionth of the sum).
    """
    r = totals_row_position(df)
    return None if r is None else df.index[r]


def totals_row_position(df):
    """:func:`totals_row`, as the row's position (a label may repeat in ``df``'s index)."""
    if len(df) < 3:
        return None
    ids = identifier_columns(df)
    cols = [c for c in df.columns if c not in ids and pd.api.types.is_numeric_dtype(df[c])
            and not pd.api.types.is_bool_dtype(df[c]) and not _ID_NAME.fullmatch(str(c).strip())]
    if len(cols) < 2:
        return None
    X = df[cols].to_numpy(dtype=float, na_value=np.nan)
    total = np.nansum(X, axis=0)
    for r in (len(df) - 1, 0):
        row = X[r]
        filled = np.isfinite(row)
        if filled.sum() < 2:
            continue
        rest = total[filled] - row[filled]
        if np.all(np.abs(row[filled] - rest) <= np.maximum(0.5, 1e-6 * np.abs(rest))) and np.any(rest != 0):
            return r
    return None


def named_like_id(name):
    """Whether a column's name says it holds identifiers (``id``, ``Customer ID``, ``userId``,
    ``store_id``): codes, never amounts to cluster on, whether or not they repeat."""
    return bool(_ID_NAME.fullmatch(str(name).strip()))


def identifier_columns(df):
    """The columns of ``df`` that identify rows rather than describe customers.

    Parameters
    ----------
    df : pandas.DataFrame

    Returns
    -------
    dict
        ``{column: kind}``: ``"id"`` for a column named like an id (``CustomerID``,
        ``customer_id``, ``userId``, ...) holding a distinct whole number or text per row;
        ``"row number"`` for ``Unnamed: 0`` and the like, the index a table saved with
        ``to_csv`` reads back as.
    """
    out = {}
    for c in df.columns:
        name = str(c).strip()
        if _ROW_NUMBER_NAME.fullmatch(name) and _is_unique_integers(df[c]):
            out[c] = "row number"
        elif _ID_NAME.fullmatch(name) and _is_unique_key(df[c]):
            out[c] = "id"
    return out
