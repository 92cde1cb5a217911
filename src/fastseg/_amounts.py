"""Amounts and percentages written as text ("£1,234.50", "12,50 €", "35%"), read as the
numbers a spreadsheet holds: the money columns of exported tables and transaction logs."""

from __future__ import annotations

from decimal import Decimal
from numbers import Real

import numpy as np
import pandas as pd

# Money as spreadsheets export it: a currency sign or code around the number ("£12.50",
# "-$5", "12.50 EUR"), thousands grouped by commas ("1,234.50") or, with a decimal comma,
# by dots or spaces ("1.234,50", "1 234,50")
_LEADING_CURRENCY = r"^\s*(-?)\s*(?:[A-Z]{3}\s*)?[£$€¥₹]?\s*"
_TRAILING_CURRENCY = r"\s*[£$€¥₹]?\s*(?:[A-Z]{3})?\s*$"
_PLAIN = r"-?\d+(?:\.\d+)?"
_GROUPED_POINT = r"-?\d{1,3}(?:,\d{3})+(?:\.\d+)?"
_GROUPED_COMMA = r"-?\d{1,3}(?:[.\s\u00a0\u202f]\d{3})*(?:,\d+)?"


def _money_to_numbers(s, name=None):
    """Text amounts as numbers, where every filled one reads as money in one convention
    (decimal point, or decimal comma); else None. With ``name`` (the column's), amounts
    in two currencies or more are an error (see :func:`_one_currency`)."""
    if name is not None:
        _one_currency(s, name)
    t = (s.astype("string").str.replace("\u2212", "-", regex=False)  # the typographic minus
         .str.replace(_LEADING_CURRENCY, r"\1", regex=True).str.replace(_TRAILING_CURRENCY, "", regex=True))
    filled = t.notna() & (t != "")
    v = t[filled]
    if not len(v):
        return None
    if v.str.fullmatch(f"{_PLAIN}|{_GROUPED_POINT}").all():
        out = t.str.replace(",", "", regex=False)
    elif v.str.fullmatch(_GROUPED_COMMA).all():
        out = t.str.replace(r"[.\s\u00a0\u202f]", "", regex=True).str.replace(",", ".", regex=False)
    else:
        return None
    return pd.to_numeric(out.where(filled), errors="coerce")


# Three capital letters read as a currency only when they are one (the table-wide reading
# below must not turn a code such as "ABC123" into 123)
_CURRENCY_CODES = frozenset(
    "USD EUR GBP JPY CNY CHF CAD AUD NZD SEK NOK DKK PLN CZK HUF RON BGN ISK TRY RUB UAH ILS AED SAR INR PKR "
    "BRL MXN ARS CLP COP PEN ZAR EGP NGN KES SGD HKD KRW TWD THB MYR IDR PHP VND".split())
# what makes an amount text: a currency sign or code, a comma between digits (grouping or a
# decimal comma), or a non-breaking space grouping digits; not plain spaces or dots between
# digit groups, which phone numbers ("555 123 456") have too
_MONEY_MARK = r"[£$€¥₹]|(?<![A-Za-z])[A-Z]{3}(?![A-Za-z])|\d,\d|\d[\u00a0\u202f]\d{3}"


# which currencies a sign may stand for: "$5" beside "CAD 5" is one currency, beside "£5" two
_SIGNS = {"£": {"GBP"}, "€": {"EUR"}, "₹": {"INR"}, "¥": {"JPY", "CNY"},
          "$": {"USD", "CAD", "AUD", "NZD", "SGD", "HKD", "MXN", "ARS", "CLP", "COP", "TWD"}}
_CURRENCY_MARK = r"([£$€¥₹]|(?<![A-Za-z])[A-Z]{3}(?![A-Za-z]))"


def _one_currency(s, name):
    """Raise when the text amounts of column ``name`` carry two currencies or more ("£5"
    beside "$5", "EUR 3" beside "USD 3"): added up, they would make a total in no
    currency. A sign goes with a code it may stand for ("$" with "USD" or "CAD");
    amounts with no sign or code go with any."""
    values = s.dropna()
    values = values[values.map(type) == str] if values.dtype == object else values
    counts = values.astype("string").str.extract(_CURRENCY_MARK, expand=False).value_counts()
    codes = [c for c in counts.index if c in _CURRENCY_CODES]
    named = {c: int(counts[c]) for c in codes}
    for sign, meant in _SIGNS.items():
        if sign in counts.index:
            known = [c for c in codes if c in meant]
            if len(known) == 1:
                named[known[0]] += int(counts[sign])
            else:  # no code it stands for; or two ("$" beside USD and CAD), and which it is cannot be told
                named[sign] = int(counts[sign])
    if len(named) < 2:
        return
    from ._currency import listed_currencies

    raise ValueError(f"column {name!r} holds amounts in {len(named)} currencies ({listed_currencies(named)}); added "
                     "up they would make a total in no currency: convert them to one currency first, or keep the "
                     "rows of one.")


_PERCENT = r"\s*-?[\d.,\s\u00a0\u202f]*\d\s*%\s*"


def _percent_to_numbers(s):
    """Text percentages ("35%", "3,5 %") as fractions, where every filled one is one; else None."""
    t = s.astype("string")
    filled = t.notna() & (t.str.strip() != "")
    if not t[filled].str.fullmatch(_PERCENT).all():
        return None
    values = _money_to_numbers(t.str.replace("%", "", regex=False))
    return None if values is None else values / 100


def _text_head(col):
    """The first filled values of a text column, as strings; None for any other column."""
    if not (pd.api.types.is_object_dtype(col) or pd.api.types.is_string_dtype(col)):
        return None
    return col.iloc[:5000].dropna().head(1000).astype("string")


def holds_numbers(col):
    """Whether every filled value of an object column is a real number (not True/False):
    what a database's NUMERIC column reads as (``decimal.Decimal``), or numbers stored as
    objects."""
    def numbers(values):
        return all(isinstance(v, (Real, Decimal)) and not isinstance(v, (bool, np.bool_)) for v in values)

    head = col.iloc[:1000].dropna()  # text columns stop here, at no cost
    return bool(len(head)) and numbers(head) and numbers(col.dropna())


# text a cell holds for "no value": dashes, question marks, words, a spreadsheet's errors
# (pandas reads "", "NA", "N/A", "NULL", "nan" as missing already, but not these)
_NO_VALUE = (r"(?i)\s*(?:-+|[\u2013\u2014\u2212]|\?+|\.|n/?a|n\.a\.?|#n/?a|nan|none|null|nil|missing|unknown|"
             r"not known|not available|undefined|\(blank\)|#div/0!|#value!|#ref!|#num!|#name\?|#null!)?\s*")
# digits a table keeps as text for a reason of its own: an id or zip with a leading zero
_LEADING_ZERO = r"\s*-?0\d+\s*"


def amounts_as_numbers(df, columns=None):
    """``df`` with its text columns of money and percentages read as numbers, and the
    names of those columns.

    A column is read when every filled value is an amount in one convention
    (:func:`fastseg.rfm`'s reading: "£1,234.50", "12,50 €", "EUR 3", "1,234") and at least one
    carries what makes it text (a currency sign or code, a comma between digits, digits
    grouped by a non-breaking space): a spreadsheet's currency column saved as CSV. A
    column whose every filled value is a percentage ("35%", "3,5 %") is read as the
    fraction (0.35, 0.035), as the spreadsheet holds it. A column of numbers that is
    text only for cells written for no value ("-", "?", "unknown", "#DIV/0!") is read
    too, those cells missing. Plain digits kept as text (a code, a zip) and phone numbers
    ("555 123 456") stay text. ``df`` itself is left as it is. Numbers kept in an object
    column (``decimal.Decimal`` from a database) are read as the numbers they are, and
    not listed.

    Parameters
    ----------
    df : pandas.DataFrame
    columns : list, optional
        The columns to consider; all by default.

    Returns
    -------
    (pandas.DataFrame, list)
    """
    out, read, _ = read_numbers(df, columns)
    return out, read


def read_numbers(df, columns=None):
    """:func:`amounts_as_numbers`, and ``{column: {text: count}}`` of the cells read as
    no value."""
    out, read, marks = df, [], {}
    for c in df.columns if columns is None else columns:
        col = df[c]
        if pd.api.types.is_object_dtype(col) and holds_numbers(col):  # Decimal from a database, say
            if out is df:
                out = df.copy(deep=False)
            out[c] = pd.to_numeric(col).to_numpy(dtype=float, na_value=np.nan)
            continue
        head = _text_head(col)
        if head is None or not len(head):
            continue
        head = head[~head.str.fullmatch(_NO_VALUE)]
        if not len(head):
            continue  # (no number to read among the first values)
        plain = False
        if head.str.fullmatch(_PERCENT).all():  # "35%", "3,5 %": a share, read as 0.35, 0.035
            convert = _percent_to_numbers
        elif head.str.fullmatch(_PLAIN).all() and not head.str.fullmatch(_LEADING_ZERO).any():
            convert, plain = None, True  # numbers, text only for the cells of no value
        else:
            if not head.str.contains(_MONEY_MARK, regex=True).any():
                continue
            codes = head.str.findall(r"[A-Z]{3}").explode().dropna()
            if not set(codes) <= _CURRENCY_CODES or _money_to_numbers(head) is None:
                continue
            convert = lambda s: _money_to_numbers(s, name=c)  # noqa: E731
        if plain:  # the distinct values parse fast; only those that do not are matched as text
            distinct = pd.Series(col.dropna().unique())
            odd = distinct[pd.to_numeric(distinct, errors="coerce").isna()].astype("string")
            if not len(odd) or not odd.str.fullmatch(_NO_VALUE).all():
                continue  # digits kept as text on purpose (read so by the file's reader), or a note among them
            blank = col.isin(odd.astype(object).tolist())
            values = pd.to_numeric(col.where(~blank), errors="coerce")
            said = col[blank].astype("string")
        else:
            text = col.astype("string")
            blank = text.str.fullmatch(_NO_VALUE).fillna(False).to_numpy(dtype=bool)
            filled = col.where(~blank) if blank.any() else col
            values = convert(filled)
            if values is None or bool((values.isna() & filled.notna()).any()):
                continue
            said = text[blank & col.notna().to_numpy()]
        if out is df:
            out = df.copy(deep=False)  # the caller's table keeps its text
        out[c] = values.to_numpy(dtype=float, na_value=np.nan)
        read.append(c)
        said = said.str.strip()
        if len(said):
            marks[c] = {str(t) if t else "(spaces)": int(n) for t, n in said.value_counts().items()}
    return out, read, marks


def no_value_text(column, said):
    """"Age: 1 '?', text written for no value" (``said``: ``{text: count}``)."""
    cells = " and ".join(f"{n:,} {t!r}" for t, n in said.items())
    return f"{column}: {cells}, text written for no value"


def _numeric(df, col):
    """A column of numbers as float64, NaN where missing; text amounts with a currency sign
    or thousands separators are read as money (see ``_money_to_numbers``)."""
    s = df[col]
    if pd.api.types.is_numeric_dtype(s):
        return s.to_numpy(dtype=float, na_value=np.nan)
    conv = pd.to_numeric(s, errors="coerce")
    bad = int(conv.isna().sum() - s.isna().sum())
    if bad:
        money = _money_to_numbers(s, name=col)
        if money is not None:
            conv, bad = money, int(money.isna().sum() - s.isna().sum())
    if bad > len(s) // 2:
        example = s[conv.isna() & s.notna()].iloc[0]
        raise ValueError(f"column {col!r} is not numeric: {bad} of {len(s)} values are not numbers "
                         f"(e.g. {str(example)!r}).")
    return conv.to_numpy(dtype=float, na_value=np.nan)
