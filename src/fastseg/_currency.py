"""A transaction log's column of currencies (``Currency``, ``currency_code``, ``ccy``):
amounts in two currencies added up make a Monetary in no currency, so :func:`fastseg.rfm`
and :func:`fastseg.baskets` keep the rows of one, or refuse to guess which."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd

from ._log_columns import first_named
from ._profiles import counted

ANY = "any"  # currency="any": the amounts are in one currency already (converted), whatever the column says

# matched against the name in lower case without spaces, "_", "." or "-"
_CURRENCY = re.compile(r"(?:transaction|order|payment|invoice|sale|sales)?(?:currency|curr|ccy)(?:code|iso|id|name)?")


def currency_column(columns, taken=()):
    """The first of ``columns`` named like a column of currencies, not one of ``taken``
    (the RFM roles); None when there is none."""
    return first_named(columns, _CURRENCY, taken)


def listed_currencies(rows):
    """"GBP on 25,023 rows, EUR on 2,817 rows": ``rows`` ({currency: rows}), most first,
    the first four named."""
    order = sorted(rows.items(), key=lambda kv: -kv[1])
    more = f" and {len(order) - 4} more" if len(order) > 4 else ""
    return ", ".join(f"{c} on {counted(n, 'row')}" for c, n in order[:4]) + more


def check_currency_choice(currency):
    """``currency`` (None, "any" or a currency as the log writes it), checked."""
    if currency is not None and not (isinstance(currency, str) and currency.strip()):
        raise ValueError(f"currency must be the currency whose rows to keep (e.g. 'GBP'), or 'any'; got "
                         f"{currency!r}.")


def currency_rule(values, keep, column, currency):
    """Which rows of a log are in another currency than the one to keep.

    Parameters
    ----------
    values : pandas.Series
        The log's currency column.
    keep : ndarray of bool
        The rows kept by the rules before this one.
    column : str
        Its name, for the messages.
    currency : str or None
        The currency to keep (case and spaces aside), ``"any"`` (every row: amounts
        already converted to one), or None: the kept rows must be in one currency.

    Returns
    -------
    other : ndarray of bool
        Kept rows in another currency (all False but for a currency to keep). Rows with
        no currency count as in the log's where it holds one, and as in another where it
        holds several (which one is unknown).
    info : dict
        ``column``, ``kept`` (the currency of the rows kept; None for "any") and
        ``rows`` (kept rows per currency, most first).

    Raises
    ------
    ValueError
        Two currencies or more and no choice (the currencies and their rows listed, and
        how to choose), or a currency to keep that the column does not hold.
    """
    if isinstance(values.dtype, pd.CategoricalDtype):
        codes, uniques = values.cat.codes.to_numpy(), values.cat.categories
    else:
        codes, uniques = pd.factorize(values)  # a few values: normalised once each, below
    names = pd.Index(uniques).astype(str).str.strip().str.upper()
    named, at = np.unique(np.asarray(names, dtype=object), return_inverse=True)
    rows = np.bincount(at[codes[keep & (codes >= 0)]], minlength=len(named))
    order = np.argsort(-rows, kind="stable")
    held = {str(named[i]): int(rows[i]) for i in order if rows[i]}
    none = np.zeros(len(values), dtype=bool)
    info = {"column": column, "kept": None, "rows": held}
    if currency is not None and currency.strip().upper() == ANY.upper():
        return none, info
    if currency is None:
        if len(held) > 1:
            raise ValueError(f"the log's {column!r} column holds {len(held)} currencies ({listed_currencies(held)}); "
                             "Monetary "
                             f"would add them up as one: keep one with currency={next(iter(held))!r} (--currency "
                             f"{next(iter(held))}), or convert the amounts to one currency first and give "
                             "currency='any' (--currency any).")
        info["kept"] = next(iter(held), None)
        return none, info
    want = currency.strip().upper()
    if want not in held:
        raise ValueError(f"currency={currency!r}, but the log's {column!r} column holds "
                         f"{', '.join(held) or 'no currency on the rows kept'}; give one of those.")
    # a row with no currency (code -1) is in the log's one currency; beside two, in which is unknown
    mine = np.r_[np.isin(named, [want])[at], len(held) == 1]
    info["kept"] = want
    return keep & ~mine[codes], info


def currency_text(info):
    """The sentence saying which currency Monetary is in (``info``: ``attrs["currency"]``
    of :func:`fastseg.rfm`)."""
    if info["kept"] is None:
        return (f"Amounts taken as one currency, as asked (currency='any'), though {info['column']!r} names "
                f"{len(info['rows'])} currencies.")
    text = f"Monetary in {info['kept']} ({info['column']!r})"
    others = {c: n for c, n in info["rows"].items() if c != info["kept"]}
    if others:
        text += (f"; {counted(sum(others.values()), 'row')} in other currencies left out "
                 f"({', '.join(f'{c} {n:,}' for c, n in others.items())})")
    return text + "."
