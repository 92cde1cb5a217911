"""A customer table (a CRM export: age, gender, city, signup date) joined to the RFM table
of a transaction log, by the customer id, so segments found on behaviour are read
against who the customers are, or found on both."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd

from ._column_roles import identifier_columns
from ._log_columns import CUSTOMER_ID_NAME
from ._validation import _normalised, did_you_mean, listed_columns, require_frame

__all__ = ["join_customers"]

_WHOLE = re.compile(r"\s*[+-]?\d+(?:\.0*)?\s*")


def join_customers(table, customers, *, on=None, columns=None):
    """``table`` (one row per customer, indexed by customer id, as :func:`fastseg.rfm`
    returns it) with the columns of ``customers`` (one row per customer) beside it.

    Ids match whatever type each table read them as: ``12346``, ``12346.0`` (a log's ids
    held as floats because some rows have none, as in the UCI log) and the text
    ``"12346"`` are one customer; text ids (``"C-017"``, ``"00123"``) match as written,
    spaces around them aside. Customers of ``table`` without a row in ``customers`` get
    missing values; rows of ``customers`` with no customer in ``table`` (none bought in
    the log's period) are left out. Both are counted in ``attrs["customers"]``.

    Parameters
    ----------
    table : pandas.DataFrame
        Indexed by customer id.
    customers : pandas.DataFrame
        One row per customer. A row repeated whole is read once.
    on : str, optional
        The column of ``customers`` holding the id. Default: the one named as
        ``table``'s index (``CustomerID``; case, spaces and ``_`` aside), else
        ``customers``' index when so named, else its one column named like a customer
        id, else its one identifier column (named like an id, a distinct value a row).
    columns : list of str, optional
        The columns of ``customers`` to join; default all but ``on``.

    Returns
    -------
    pandas.DataFrame
        ``table``'s rows in its order, with the joined columns after its own. A column
        of ``table`` that ``customers`` also has (``Country`` carried from the log) takes
        the customer table's values, the customer's own record, where it has one. ``attrs``: ``table``'s,
        and ``"customers"``: ``on``, ``columns`` (those joined), ``replaced`` (those of
        ``table`` replaced), ``matched`` (customers of ``table`` found in ``customers``),
        ``unmatched`` (not found) and ``extra`` (rows of ``customers`` not in ``table``).
        :class:`fastseg.Segmenter` describes each segment by the joined columns; name a
        numeric one in ``features=`` to segment on it too.

    Raises
    ------
    ValueError
        ``on`` or a column that is not there (the available ones are listed), no id
        column to be found, an id on two rows that differ, a column that would replace
        one of rfm's own, or no customer of ``table`` in ``customers`` (with examples of
        the ids of each, which tell a mismatch of formats).
    """
    require_frame(table, "join_customers' table")
    require_frame(customers, "join_customers' customers")
    key = table.index.name
    if key is None and isinstance(table.index, pd.RangeIndex):
        raise ValueError("join_customers' table has row numbers for an index; index it by the customer id "
                         "(table.set_index('CustomerID')), as fastseg.rfm returns it.")
    on = _id_column(customers, key, on)
    ids = customers.index.to_series(index=range(len(customers))) if on is None else customers[on].reset_index(drop=True)
    name = customers.index.name if on is None else on
    body = customers.reset_index(drop=True)
    columns = _joined_columns(body, on, columns, table)
    body = body[columns]
    keys = _keys(ids, like=table.index)
    found = keys.notna().to_numpy()
    body, keys = body[found], keys[found]
    twice = keys.duplicated(keep=False).to_numpy()
    if twice.any():  # a row repeated whole is one customer; two different rows are a question only the user can answer
        rows = body[twice].assign(_key=keys[twice].to_numpy()).drop_duplicates()
        clash = rows["_key"][rows["_key"].duplicated()].unique()
        if len(clash):
            example = ids[found][twice][keys[twice].to_numpy() == clash[0]]
            rows_text = ", ".join(str(i + 1) for i in example.index[:3])
            raise ValueError(f"customers has {len(clash):,} id(s) in {name!r} on rows that differ (e.g. "
                             f"{_plain_value(example.iloc[0])!r} on rows {rows_text}); keep one row per customer (the "
                             "latest record, say) and join again.")
        first = ~keys.duplicated().to_numpy()
        body, keys = body[first], keys[first]
    at = pd.Index(keys.to_numpy()).get_indexer(_keys(table.index, like=ids).to_numpy())
    matched = int((at >= 0).sum())
    if matched == 0 and len(table):
        raise ValueError(f"no customer of the table is in customers' {name!r}: the table's ids read "
                         f"{_examples(table.index)}, customers' {_examples(ids)}; give the id column with on= "
                         "(--customers-id) or make the two alike first.")
    joined = body.reset_index(drop=True).reindex(at).set_axis(table.index)  # -1: a row of missing values
    for c in columns:  # whole numbers and flags stay so beside a missing value (Age 70, not 70.0, in the labels)
        if body[c].dtype.kind in "iub" and joined[c].dtype != body[c].dtype:
            joined[c] = joined[c].astype("boolean" if body[c].dtype.kind == "b" else "Int64")
    replaced = [c for c in columns if c in table.columns]
    for c in replaced:  # the customer's own record where it has one, else what the log said
        joined[c] = joined[c].where(joined[c].notna(), table[c])
    out = pd.concat([table.drop(columns=replaced), joined], axis=1)
    out.attrs = dict(table.attrs)
    if replaced and "attributes" in out.attrs:  # carried from the log, now the customer table's
        carried = out.attrs["attributes"]
        out.attrs["attributes"] = {**carried, "columns": [c for c in carried["columns"] if c not in replaced]}
    out.attrs["customers"] = {"on": name, "columns": list(columns), "replaced": replaced, "matched": matched,
                              "unmatched": int(len(table) - matched), "extra": int(len(keys) - matched)}
    return out


def _id_column(customers, key, on):
    """The column of ``customers`` with the ids (None: its index), as :func:`join_customers` says."""
    if on is not None:
        if on not in customers.columns:
            if on == customers.index.name:
                return None
            raise ValueError(f"on={on!r} is not a column of customers{did_you_mean([on], customers.columns) or ';'} "
                             f"available: {listed_columns(customers.columns)}.")
        return on
    if key is not None:
        same = [c for c in customers.columns if _normalised(c) == _normalised(key)]
        if len(same) == 1:
            return same[0]
        if customers.index.name is not None and _normalised(customers.index.name) == _normalised(key):
            return None
    named = [c for c in customers.columns if CUSTOMER_ID_NAME.fullmatch(str(c).strip())]
    if len(named) == 1:
        return named[0]
    ids = [c for c, kind in identifier_columns(customers).items() if kind == "id"]
    if len(ids) == 1:
        return ids[0]
    raise ValueError(f"which column of customers holds the customer id? None is named {key!r} or like a customer "
                     f"id alone; give it with on= (--customers-id); available: {listed_columns(customers.columns)}.")


def _joined_columns(body, on, columns, table):
    if columns is None:
        columns = [c for c in body.columns if c != on]
    else:
        columns = [columns] if isinstance(columns, str) else list(columns)
        gone = [c for c in columns if c not in body.columns]
        if gone:
            raise ValueError(f"column(s) {', '.join(map(repr, gone))} not in customers"
                             f"{did_you_mean(gone, body.columns) or ';'} available: {listed_columns(body.columns)}.")
    from .features import _OWN_COLUMNS

    mix = (table.attrs.get("mix") or {}).get("columns", [])
    if table.index.name is not None and table.index.name in columns:
        raise ValueError(f"customers' column {table.index.name!r} is named as the table's customer ids, yet the ids "
                         f"were taken from {on!r}; if it holds the ids, name it with on= (--customers-id), or leave "
                         "that out.")
    own = [c for c in columns if c in _OWN_COLUMNS or c in mix]
    if own:
        raise ValueError(f"customers' column(s) {', '.join(map(repr, own))} would replace the table's own; rename "
                         "them (in Python, or leave them out with columns=[...]).")
    if not columns:
        raise ValueError("customers has no column to join but its ids.")
    return list(dict.fromkeys(columns))


def _keys(ids, like):
    """``ids`` as keys that match across types: whole numbers (ints, whole floats, and text
    of digits when ``like``, the other side's ids, are numbers) as int64, text stripped;
    missing ids as NaN."""
    s = pd.Series(ids).reset_index(drop=True)
    other_numeric = pd.api.types.is_numeric_dtype(like) and not pd.api.types.is_bool_dtype(like)
    if pd.api.types.is_integer_dtype(s):  # as they are: an id of 19 digits is no float
        return s.astype("Int64").astype(object).where(s.notna().to_numpy(), np.nan)
    if pd.api.types.is_numeric_dtype(s) and not pd.api.types.is_bool_dtype(s):
        v = s.to_numpy(dtype=float, na_value=np.nan)
        whole = np.isfinite(v) & (v == np.round(v))
        if whole[np.isfinite(v)].all():
            return pd.Series(np.where(whole, v, np.nan)).astype("Int64").astype(object).where(whole, np.nan)
        return pd.Series(v).where(np.isfinite(v), np.nan)
    text = s.astype("string").str.strip()
    if other_numeric:  # "12346" (or " 12346.0") read as text on this side only
        digits = text.str.fullmatch(_WHOLE.pattern).fillna(False).to_numpy(dtype=bool)
        out = text.astype(object)
        out[digits] = [int(t.split(".")[0]) for t in text[digits]]
        return out.where(text.notna().to_numpy(), np.nan)
    return text.astype(object).where(text.notna().to_numpy(), np.nan)


def _examples(ids):
    v = pd.Series(ids).dropna().unique()[:3]
    return ", ".join(repr(_plain_value(x)) for x in v) or "nothing"


def _plain_value(x):
    return x.item() if isinstance(x, np.generic) else x
