"""A table joined to a transaction log's rows before RFM: public data sets keep an order's
parts in several files. Olist's orders hold no amount (its payments and items do) and a
customer id new on every order (its customers table maps it to the lasting one); the
log RFM reads is their join, by the column each pair shares."""

from __future__ import annotations

import numpy as np
import pandas as pd

from .customer_join import _examples, _plain_value
from ._validation import _normalised, did_you_mean, listed_columns, require_frame

__all__ = ["join_log", "check_joined_roles", "join_text"]

_KEY = "__fastseg_join_key__"


def join_log(log, table, *, on=None, name="table"):
    """``log`` with the columns of ``table`` beside its rows, matched by the column both hold.

    Two kinds of table are joined, told apart by how often each holds a key:

    - a lookup, one row per key (Olist's customers: ``customer_id`` → ``customer_unique_id``,
      city, state): the log keeps its rows, each gains the table's values for its key;
    - the parts of a log row, several rows per key (an order's payments or items, by
      ``order_id``, where the log has one row per order): each log row becomes one row per
      part, so the parts' amounts add up to the order's. The log's own columns are then
      repeated on every part: :func:`fastseg.rfm` refuses to sum one of them (see
      :func:`check_joined_roles`).

    Keys match across the types each file read them as (``12346``, ``12346.0`` and the
    text ``"12346"`` are one key; text matches as written, spaces around it aside). A log
    row whose key the table lacks is kept, the table's columns left empty there (an order
    with no payment: rfm drops it as one with no amount), and counted.

    Parameters
    ----------
    log : pandas.DataFrame
        The transaction log, or a join so far.
    table : pandas.DataFrame
        The table to join.
    on : str, optional
        The column both hold the key in. Default: the one column named alike in both
        (case, spaces and ``_`` aside the names must be equal).
    name : str
        What to call ``table`` in messages and ``attrs`` (its file name, in the command
        line).

    Returns
    -------
    pandas.DataFrame
        ``log``'s columns then ``table``'s new ones; its rows in ``log``'s order (each
        repeated once per part for a table of parts). A column ``log`` already has is
        kept as the log's. ``attrs``: ``log``'s, and ``"joined"``: the list of joins so
        far, each a dict of ``table`` (the name), ``on`` (the column, or the log's and
        the table's as "a/b" where their names differ), ``key`` (the log's), ``columns`` (those added),
        ``same`` (those ``log`` already had, left out), ``parts`` (True for a table of
        parts), ``repeated`` (the log's columns a table of parts repeated), ``rows in``,
        ``rows out`` and ``unmatched`` (log rows whose key the table lacks).

    Raises
    ------
    ValueError
        No shared column or several (name one with ``on=``), ``on`` not in both, a
        table with no column to add, no key in common (examples of each side's keys are
        given), or a key on several rows of both: every row of one would pair with every
        row of the other and count each amount several times.
    """
    require_frame(log, "join_log's log")
    require_frame(table, f"join_log's {name}")
    left_on, right_on = _shared_column(log, table, on, name)
    same = [c for c in table.columns if c != right_on and c in log.columns]
    new = [c for c in table.columns if c != right_on and c not in log.columns]
    if not new:
        raise ValueError(f"{name} has no column the log lacks but {right_on!r}"
                         + (f" (its {listed_columns(same)} the log has already)" if same else "")
                         + "; nothing to join.")
    lk, rk = _key_pair(log[left_on], table[right_on])
    body = table[new].reset_index(drop=True)[rk.notna().to_numpy()]
    keys = rk[rk.notna()]
    parts = bool(keys.duplicated().any())
    if parts and lk[lk.notna()].duplicated().any():
        first = ~body.assign(**{_KEY: keys.to_numpy()}).duplicated().to_numpy()  # a row repeated whole: read once
        n_log, n_table = lk.value_counts(), keys[first].value_counts()
        both = n_log[n_log > 1].index.intersection(n_table[n_table > 1].index)
        if len(both):
            raise ValueError(_many_to_many(both[0], n_log, n_table, right_on, name))
        if n_table.max() == 1:  # a lookup after all
            body, keys, parts = body[first], keys[first], False
    if parts:  # each log row once per part of its key, in the log's order
        left = pd.DataFrame({_KEY: lk.to_numpy(), "_left": np.arange(len(log))})
        right = pd.DataFrame({_KEY: keys.to_numpy(), "_right": np.arange(len(keys))})
        at = left.merge(right, on=_KEY, how="left", sort=False)
        rows, pos = at["_left"].to_numpy(), at["_right"].fillna(-1).to_numpy(dtype=np.int64)
    else:
        rows, pos = np.arange(len(log)), _positions(keys, lk)
    seen = np.zeros(len(log), dtype=bool)
    seen[rows[pos >= 0]] = True
    unmatched = int(len(log) - seen.sum())
    if len(log) and unmatched == len(log):
        raise ValueError(f"no row of the log has its key in {name}: the log's {left_on!r} reads "
                         f"{_examples(log[left_on])}, {name}'s {right_on!r} {_examples(table[right_on])}; join by "
                         "another column (on=, --join FILE:COLUMN), or make the two alike first.")
    added = body.reset_index(drop=True).reindex(pos)
    for c in new:  # whole numbers and flags stay so beside an empty value (Int64, not float)
        if body[c].dtype.kind in "iub" and added[c].dtype != body[c].dtype:
            added[c] = added[c].astype("boolean" if body[c].dtype.kind == "b" else "Int64")
    out = pd.concat([(log.iloc[rows] if parts else log).reset_index(drop=True), added.reset_index(drop=True)],
                    axis=1)
    on_text = right_on if left_on == right_on else f"{left_on}/{right_on}"
    repeated = [c for c in log.columns if c != left_on] if parts else []
    out.attrs = {**log.attrs, "joined": [*log.attrs.get("joined", ()), {
        "table": name, "on": on_text, "key": left_on, "columns": new, "same": same, "parts": parts,
        "repeated": repeated,
        "rows in": int(len(log)), "rows out": int(len(out)), "unmatched": unmatched}]}
    return out


def check_joined_roles(joined, roles):
    """Refuse what a table of parts (see :func:`join_log`) would count several times:
    the spend (or, for :func:`fastseg.baskets`, the item) read from a column of the log it
    repeated on every part, or Frequency counted in rows. ``joined``: the log's
    ``attrs["joined"]``; ``roles``: the columns used, by role."""
    for j in joined or ():
        if not j["parts"]:
            continue
        for role in ("amount", "quantity", "price", "item"):
            col = roles.get(role)
            if col is not None and col in j["repeated"]:
                what = "each purchase" if role == "item" else "it"
                raise ValueError(f"the {role} column {col!r} is the log's own, repeated on each of {j['table']}'s "
                                 f"rows per {j['on']!r}: summed, {what} would count several times. Take the "
                                 f"{role} from {j['table']} ({role}=, --{role} COLUMN), or join a table of one row "
                                 f"per {j['on']!r}.")
        if roles.get("invoice") is None:
            key = j["key"]
            raise ValueError(f"{j['table']} has several rows per {key!r} and the log no invoice column: Frequency "
                             f"would count {j['table']}'s rows; give invoice={key!r} (--invoice {key}).")


def join_text(j):
    """What one join did, in a line (``j``: one of :func:`join_log`'s ``attrs["joined"]``)."""
    how = (f"several rows per {j['on']!r}: {j['rows in']:,} rows became {j['rows out']:,}" if j["parts"]
           else f"one row per {j['on']!r}")
    text = f"Joined {j['table']} by {j['on']!r}: {', '.join(map(str, j['columns']))} ({how}"
    if j["unmatched"]:
        text += f"; {j['unmatched']:,} of {j['rows in']:,} log rows without a match, these columns empty there"
    if j["same"]:
        text += f"; the log's own {', '.join(map(repr, j['same']))} kept"
    return text + ")"


def _positions(keys, lk):
    """For each of ``lk`` the position of its key in ``keys`` (distinct), -1 where none:
    one factorisation of both, faster than an index lookup on text."""
    codes, _ = pd.factorize(pd.concat([keys, lk], ignore_index=True))
    at = np.full(int(codes.max(initial=-1)) + 1, -1, dtype=np.int64)
    at[codes[:len(keys)]] = np.arange(len(keys))
    own = codes[len(keys):]
    return np.where(own >= 0, at[own], -1)


def _shared_column(log, table, on, name):
    """The key's column in ``log`` and in ``table``: ``on``, or the one column named alike."""
    if on is not None:
        pair = [_named(log.columns, on), _named(table.columns, on)]
        for col, cols, where in zip(pair, (log.columns, table.columns), ("the log", name)):
            if col is None:
                raise ValueError(f"join column {on!r} is not in {where}{did_you_mean([on], cols) or ';'} available: "
                                 f"{listed_columns(cols)}.")
        return tuple(pair)
    shared = [(c, _named(table.columns, c)) for c in log.columns]
    shared = [(a, b) for a, b in shared if b is not None]
    if len(shared) == 1:
        return shared[0]
    if not shared:
        raise ValueError(f"the log and {name} have no column named alike to join by; name it with on= "
                         f"(--join FILE:COLUMN); the log has {listed_columns(log.columns)}, {name} "
                         f"{listed_columns(table.columns)}.")
    raise ValueError(f"the log and {name} share several columns ({', '.join(repr(a) for a, _ in shared)}); name the "
                     "one that holds the key with on= (--join FILE:COLUMN).")


def _named(columns, name):
    """The column of ``columns`` named ``name``, exactly or else case, spaces and ``_`` aside."""
    if name in columns:
        return name
    alike = [c for c in columns if _normalised(c) == _normalised(name)]
    return alike[0] if len(alike) == 1 else None


def _key_pair(a, b):
    """The keys of two columns as Series of one type, so equal ids match: numbers when
    both sides hold them (text of digits on one side counts), else text, stripped. The
    rule of :func:`fastseg.customer_join._keys`, kept in typed arrays: a log's millions of
    keys as objects made the join 2.5 times slower."""
    a, b = a.reset_index(drop=True), b.reset_index(drop=True)
    a, b = _as_number_if_digits(a, b), _as_number_if_digits(b, a)
    if _is_number(a) and _is_number(b):
        va, vb = (s.to_numpy(dtype=float, na_value=np.nan) for s in (a, b))
        whole = all(np.array_equal(v[np.isfinite(v)], np.round(v[np.isfinite(v)])) for v in (va, vb))
        if whole and all(pd.api.types.is_integer_dtype(s) for s in (a, b)):
            return a.astype("Int64"), b.astype("Int64")  # as they are: an id of 19 digits is no float
        if whole:
            return tuple(pd.Series(np.where(np.isfinite(v), v, np.nan)).astype("Int64") for v in (va, vb))
        return pd.Series(va), pd.Series(vb)
    return _as_key_text(a), _as_key_text(b)


def _is_number(s):
    return pd.api.types.is_numeric_dtype(s) and not pd.api.types.is_bool_dtype(s)


def _as_number_if_digits(s, other):
    """``s`` read as numbers when it is text, ``other`` numbers, and every key of ``s`` one."""
    if _is_number(s) or not _is_number(other):
        return s
    text = s.astype("string").str.strip().replace("", pd.NA)
    parsed = pd.to_numeric(text, errors="coerce")
    return parsed if (parsed.notna() | text.isna()).all() else s


def _as_key_text(s):
    if _is_number(s):
        v = s.to_numpy(dtype=float, na_value=np.nan)
        if np.array_equal(v[np.isfinite(v)], np.round(v[np.isfinite(v)])):
            s = s.astype("Int64") if pd.api.types.is_integer_dtype(s) else pd.Series(v).astype("Int64")
    return s.astype("string").str.strip().replace("", pd.NA)


def _many_to_many(key, n_log, n_table, on, name):
    """Why a key on several rows of both sides cannot be joined, with an example."""
    return (f"both the log and {name} have several rows per {on!r} (e.g. {_plain_value(key)!r}: {int(n_log[key]):,} rows of "
            f"the log, {int(n_table[key]):,} of {name}): joined, each row of one would pair with each of the other and "
            f"every amount would count several times. Make {name} one row per {on!r} first (sum its amounts), or join "
            "it by another column (on=, --join FILE:COLUMN).")
