"""Customer features: RFM from a transaction log, and which columns identify customers."""

from __future__ import annotations

import re
import warnings

import numpy as np
import pandas as pd

from ._profiles import DAYS_SINCE, MAX_LEVELS
from ._log_columns import CUSTOMER_ID_NAME, guess_rfm_columns, needs_guess
from ._validation import did_you_mean, require_frame
from ._value_share import looks_like_spend, spend_column

__all__ = ["rfm", "rfm_segment", "RFM_SEGMENTS", "RFM_ACTIONS", "identifier_columns", "guess_rfm_columns", "looks_like_code",
           "amounts_as_numbers", "looks_like_dates", "looks_like_spend", "spend_column", "totals_row", "dates_as_days"]

# The usual RFM segment grid, on (R score, F score). First match wins.
RFM_SEGMENTS = [
    ("Champions", (5, 5), (4, 5)),
    ("Loyal", (3, 4), (4, 5)),
    ("Potential Loyalists", (4, 5), (2, 3)),
    ("New Customers", (5, 5), (1, 1)),
    ("Promising", (4, 4), (1, 1)),
    ("Need Attention", (3, 3), (3, 3)),
    ("About to Sleep", (3, 3), (1, 2)),
    ("Can't Lose Them", (1, 2), (5, 5)),
    ("At Risk", (1, 2), (3, 4)),
    ("Hibernating", (1, 2), (1, 2)),
]

# What marketing usually does with each grid segment: a starting point for a campaign
# brief, shown beside a cluster whose customers mostly fall in that segment.
RFM_ACTIONS = {
    "Champions": "keep them close: early access, loyalty rewards, ask for reviews and referrals; discounts "
                 "are not what brings them back",
    "Loyal": "sell up and across: higher-value lines, bundles, a place in the loyalty programme",
    "Potential Loyalists": "build the habit: recommendations from what they bought, a loyalty sign-up, a "
                           "reason to come back soon",
    "New Customers": "welcome them: onboarding, help with a first use, an offer on the second purchase",
    "Promising": "show them the range: best sellers, a sample or trial, a modest offer to buy again",
    "Need Attention": "re-engage before they slip: a time-limited offer on what they buy most",
    "About to Sleep": "reconnect: popular products, useful content, a small incentive to return",
    "Can't Lose Them": "win them back in person: direct contact, a strong offer, ask what changed; they "
                       "were among the best",
    "At Risk": "win them back: personal reminders, renewals, offers on what they used to buy",
    "Hibernating": "reactivate cheaply: occasional broad offers and new products; little spend per customer",
}

# The columns rfm() derives; a table that has them all came from it.
RFM_COLUMNS = ("recency", "frequency", "monetary", "R", "F", "M", "RFM", "score", "rfm_segment")


def rfm_segment(r, f):
    """Name of the RFM segment for R and F scores (1–5 each), element-wise.

    Parameters
    ----------
    r, f : array-like of int

    Returns
    -------
    ndarray of str
    """
    r = np.asarray(r)
    f = np.asarray(f)
    out = np.full(r.shape, "Others", dtype=object)
    done = np.zeros(r.shape, dtype=bool)
    for name, (r_lo, r_hi), (f_lo, f_hi) in RFM_SEGMENTS:
        hit = ~done & (r >= r_lo) & (r <= r_hi) & (f >= f_lo) & (f <= f_hi)
        out[hit] = name
        done |= hit
    return out


def _score(values, higher_is_better=True):
    """1–5 by rank (quintiles of the average rank): ties share a score, never crash."""
    v = pd.Series(np.asarray(values, dtype=float))
    pct = v.rank(method="average", pct=True, ascending=higher_is_better).to_numpy()
    return np.clip(np.ceil(5 * pct - 1e-9), 1, 5).astype(np.int8)


def _require(df, cols):
    missing = [c for c in cols if c is not None and c not in df.columns]
    if missing:
        shown = ", ".join(repr(str(c)) for c in df.columns[:30])
        raise ValueError(
            f"column(s) {', '.join(repr(str(c)) for c in missing)} not found in the transactions"
            f"{did_you_mean(missing, df.columns) or ';'} "
            f"available: {shown}{' ...' if len(df.columns) > 30 else ''}."
        )


# Money as spreadsheets export it: a currency sign or code around the number ("£12.50",
# "-$5", "12.50 EUR"), thousands grouped by commas ("1,234.50") or, with a decimal comma,
# by dots or spaces ("1.234,50", "1 234,50")
_LEADING_CURRENCY = r"^\s*(-?)\s*(?:[A-Z]{3}\s*)?[£$€¥₹]?\s*"
_TRAILING_CURRENCY = r"\s*[£$€¥₹]?\s*(?:[A-Z]{3})?\s*$"
_PLAIN = r"-?\d+(?:\.\d+)?"
_GROUPED_POINT = r"-?\d{1,3}(?:,\d{3})+(?:\.\d+)?"
_GROUPED_COMMA = r"-?\d{1,3}(?:[.\s\u00a0\u202f]\d{3})*(?:,\d+)?"


def _money_to_numbers(s):
    """Text amounts as numbers, where every filled one reads as money in one convention
    (decimal point, or decimal comma); else None."""
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
_DATE_TEXT = r"\s*(?:\d{4}-\d{1,2}-\d{1,2}|\d{1,2}[/.\-]\d{1,2}[/.\-]\d{2,4})(?:[ T]\d{1,2}:\d{2}.*)?\s*"


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


def amounts_as_numbers(df, columns=None):
    """``df`` with its text columns of money and percentages read as numbers, and the
    names of those columns.

    A column is read when every filled value is an amount in one convention
    (:func:`rfm`'s reading: "£1,234.50", "12,50 €", "EUR 3", "1,234") and at least one
    carries what makes it text (a currency sign or code, a comma between digits, digits
    grouped by a non-breaking space): a spreadsheet's currency column saved as CSV. A
    column whose every filled value is a percentage ("35%", "3,5 %") is read as the
    fraction (0.35, 0.035), as the spreadsheet holds it. Plain digits kept as text (a
    code, a zip) and phone numbers ("555 123 456") stay text. ``df`` itself is left as
    it is.

    Parameters
    ----------
    df : pandas.DataFrame
    columns : list, optional
        The columns to consider; all by default.

    Returns
    -------
    (pandas.DataFrame, list)
    """
    out, read = df, []
    for c in df.columns if columns is None else columns:
        col = df[c]
        head = _text_head(col)
        if head is None or not len(head):
            continue
        if head.str.fullmatch(_PERCENT).all():  # "35%", "3,5 %": a share, read as 0.35, 0.035
            values = _percent_to_numbers(col)
        else:
            if not head.str.contains(_MONEY_MARK, regex=True).any():
                continue
            codes = head.str.findall(r"[A-Z]{3}").explode().dropna()
            if not set(codes) <= _CURRENCY_CODES or _money_to_numbers(head) is None:
                continue
            values = _money_to_numbers(col)
        if values is None or bool((values.isna() & col.notna()).any()):
            continue
        if out is df:
            out = df.copy(deep=False)  # the caller's table keeps its text
        out[c] = values.to_numpy(dtype=float, na_value=np.nan)
        read.append(c)
    return out, read


def looks_like_dates(col):
    """Whether ``col`` holds dates: a datetime column, text such as "2024-03-01" or
    "01/03/2024 10:15" in every filled value among its first rows, or numbers in a form
    dates are kept in under a name with "date" (20240131, 45322, 1706659200) or "time"
    (Unix seconds or milliseconds only)."""
    if pd.api.types.is_datetime64_any_dtype(col):
        return True
    if pd.api.types.is_numeric_dtype(col) and not pd.api.types.is_bool_dtype(col):
        name = str(col.name).lower()
        if "date" not in name and "time" not in name:
            return False
        v = col.to_numpy(dtype=float, na_value=np.nan)
        v = v[np.isfinite(v)]
        form = _numeric_date_form(v) if len(v) else None
        # "time" alone: a timestamp, not a duration such as time_on_site = 12,000 seconds
        return form is not None and ("date" in name or form[0].startswith("Unix"))
    head = _text_head(col)
    return head is not None and bool(len(head)) and bool(head.str.fullmatch(_DATE_TEXT).all())


def _numeric(df, col):
    """A column of numbers as float64, NaN where missing; text amounts with a currency sign
    or thousands separators are read as money (see ``_money_to_numbers``)."""
    s = df[col]
    if pd.api.types.is_numeric_dtype(s):
        return s.to_numpy(dtype=float, na_value=np.nan)
    conv = pd.to_numeric(s, errors="coerce")
    bad = int(conv.isna().sum() - s.isna().sum())
    if bad:
        money = _money_to_numbers(s)
        if money is not None:
            conv, bad = money, int(money.isna().sum() - s.isna().sum())
    if bad > len(s) // 2:
        example = s[conv.isna() & s.notna()].iloc[0]
        raise ValueError(f"column {col!r} is not numeric: {bad} of {len(s)} values are not numbers "
                         f"(e.g. {str(example)!r}).")
    return conv.to_numpy(dtype=float, na_value=np.nan)


def _parse_dates(when, dayfirst):
    """Dates of a column of text: month first (pandas' default) unless day first reads more
    of them. pandas guesses one format from the first date, so a day-first log whose first
    day is <= 12 would otherwise lose every row with a day past 12 as unreadable. Year-first
    dates (2024-03-05) are read year, month, day whatever ``dayfirst`` says: pandas would
    read them year, day, month."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # pandas' format-guess notes: the choice is made here
        head = _text_head(when)
        if head is not None and len(head) and re.match(_YEAR_FIRST, head.iloc[0]):
            # pandas reads the whole column in the form it guesses from the first date, and
            # with dayfirst guesses year, day, month: year first is read as it is written
            parsed, dayfirst = _text_to_datetime(when), bool(dayfirst)
        elif dayfirst is not None:
            parsed, dayfirst = _text_to_datetime(when, dayfirst=bool(dayfirst)), bool(dayfirst)
        else:
            parsed, dayfirst = _text_to_datetime(when), False
            unread = int((parsed.isna() & when.notna()).sum())
            if unread:
                other = _text_to_datetime(when, dayfirst=True)
                if int((other.isna() & when.notna()).sum()) < unread:
                    parsed, dayfirst = other, True
        return _read_the_rest(parsed, when, dayfirst)


_YEAR_FIRST = r"^\s*\d{4}[/.\-]\d{1,2}[/.\-]\d{1,2}(?!\d)"  # 2024-03-05: never ambiguous
_DAY_MONTH_YEAR = r"^\s*(\d{1,2})[/.\-](\d{1,2})[/.\-]\d{2,4}(?!\d)"  # 05/03/2024, 5.3.24: the two first numbers


def _read_the_rest(parsed, when, dayfirst):
    """``parsed`` with the dates its one format could not read parsed each on its own:
    pandas reads a column in the format of its first date, so "2024-01-05" first leaves
    every "2024-03-01 18:00" after it unread. Each distinct unread text is parsed once
    (pandas' per-value parsing is slow, and a log's dates repeat)."""
    unread = parsed.isna() & when.notna()
    if not unread.any():
        return parsed
    texts = pd.Series(pd.unique(when[unread].astype(str)))
    bare = texts.str.replace(_OFFSET, r"\1", regex=True)  # offsets dropped as _text_to_datetime drops them
    year_first = bare.str.match(_YEAR_FIRST).to_numpy()
    read = pd.Series(pd.NaT, index=texts.index, dtype="datetime64[ns]")
    try:
        for which, first in ((year_first, False), (~year_first, dayfirst)):  # year first: never day first
            if which.any():
                read[which] = pd.to_datetime(bare[which], errors="coerce", format="mixed", dayfirst=first)
    except (ValueError, TypeError):  # zones pandas will not mix even so: leave those unread
        return parsed
    # dateutil swaps day and month where the order asked for reads no date ("13/01/2024" month
    # first): such a text is not in the column's order, so it stays unread
    parts = texts.str.extract(_DAY_MONTH_YEAR).astype(float)
    month = parts[1] if dayfirst else parts[0]
    read = read.where(month.isna().to_numpy() | (month <= 12).to_numpy())
    read = pd.Series(wall_time(read).to_numpy(), index=texts.to_numpy())
    if read.isna().all():  # text that is no date ("n/a", "unknown"): nothing to add
        return parsed
    out = parsed.copy()
    out[unread] = when[unread].astype(str).map(read).to_numpy()
    return out


# a time's UTC offset or zone at the end of a date: "10:00:00+02:00", "10:00Z", "10:00 UTC"
_OFFSET = r"^(.*\d:\d\d(?::\d\d(?:[.,]\d+)?)?)\s*(?:Z|UTC|GMT|[+-]\d\d(?::?\d\d)?)\s*$"


def _text_to_datetime(when, **how):
    """``pd.to_datetime`` of text, unreadable values NaT, as each row's own wall-clock time:
    a log written with UTC offsets that change in the year (summer time: "+01:00" in
    January, "+02:00" in July), which pandas refuses to mix, has them dropped, so a
    purchase keeps the day it was made on where it was made."""
    try:
        parsed = pd.to_datetime(when, errors="coerce", **how)
    except ValueError as e:  # "Mixed timezones detected"
        if "timezone" not in str(e).lower():
            raise
        parsed = None
    if parsed is not None and parsed.dtype == object:  # older pandas: mixed offsets as an object column
        parsed = None
    if parsed is not None:
        unread = parsed.isna() & when.notna()
        if not unread.any():
            return wall_time(parsed)
        # times with and without an offset, mixed, leave one kind unread: look for offsets among
        # the unread and the first rows (not in every row: a log's few bad dates are common)
        some = pd.concat([when[unread].iloc[:1000], when.iloc[:1000]]).dropna().astype("string")
        if not some.str.fullmatch(_OFFSET).any():
            return wall_time(parsed)
    text = when.astype("string").str.replace(_OFFSET, r"\1", regex=True)
    stripped = pd.to_datetime(text, errors="coerce", **how)
    if parsed is not None and stripped.isna().sum() >= parsed.isna().sum():
        return wall_time(parsed)
    return wall_time(stripped)


def as_datetime(col, name, dayfirst=None):
    """A column of dates in any form fastseg reads (datetime, text, or numbers such as
    20240131, Excel day numbers, Unix seconds) as naive wall-clock datetimes, NaT where
    missing or unreadable; and how numbers were read (None for other columns)."""
    if pd.api.types.is_numeric_dtype(col) and not pd.api.types.is_bool_dtype(col):
        return _numeric_dates(col, name)
    if not pd.api.types.is_datetime64_any_dtype(col):
        return _parse_dates(col, dayfirst), None
    return wall_time(col), None


_DAY_NS = 86_400 * 10**9


def days_since_name(column):
    """The feature a date column becomes: ``"days since signup_date"``."""
    return f"{DAYS_SINCE}{column}"


def dates_as_days(df, columns, snapshot=None, dayfirst=None):
    """Date columns as the whole days from each date to a snapshot, for clustering on
    (the tenure from a sign-up date, the days since a last order).

    Parameters
    ----------
    df : pandas.DataFrame
    columns : list of str
        Columns holding dates (see :func:`as_datetime`); each is replaced, in its place,
        by a float column named ``"days since <column>"`` (NaN where no date was read).
    snapshot : date-like, optional
        The date days are counted back to. Default: the latest date in ``columns``
        plus one day, as :func:`rfm` counts Recency; a given one must not be before a
        date in the columns.
    dayfirst : bool, optional
        Read text dates day first (see :func:`rfm`).

    Returns
    -------
    out : pandas.DataFrame
        A new frame (``df`` is not changed).
    renamed : dict
        ``{column: "days since <column>"}``.
    snapshot : pandas.Timestamp
    """
    when = {c: as_datetime(df[c], c, dayfirst)[0].to_numpy(dtype="datetime64[ns]").view(np.int64) for c in columns}
    nat = np.iinfo(np.int64).min  # NaT's int64 form
    read = [t[t != nat] for t in when.values()]
    latest = max((int(t.max()) for t in read if len(t)), default=None)
    if latest is None:
        raise ValueError(f"no date could be read in {', '.join(map(repr, columns))}; check the column(s), or "
                         "leave them out of the features.")
    if snapshot is None:
        snap = latest + _DAY_NS
    else:
        snap = _snapshot_ns(snapshot)[1]
        if snap < latest:
            raise ValueError(f"snapshot {day_text(snap)} is before the latest date in the date column(s) "
                             f"({day_text(latest)}): days since would be negative; give a snapshot on or after "
                             "it (snapshot=, --snapshot).")
    renamed = {c: days_since_name(c) for c in columns}
    clash = [n for n in renamed.values() if n in df.columns]
    if clash:
        raise ValueError(f"column(s) {', '.join(map(repr, clash))} exist already, and a date column would become "
                         "them; rename one first.")
    out = df.copy(deep=False)
    for c, t in when.items():
        out[c] = np.where(t == nat, np.nan, ((snap - t) // _DAY_NS).astype(np.float64))
    return out.rename(columns=renamed), renamed, pd.Timestamp(snap)


def day_text(ts):
    """A date as a reader writes it: the day, with the time only when there is one."""
    ts = pd.Timestamp(ts)
    return str(ts.date()) if ts == ts.normalize() else str(ts)


def _snapshot_ns(value):
    """:func:`_snapshot` of ``value``, and it in nanoseconds since 1970 (an int64)."""
    ts = _snapshot(value)
    return ts, np.datetime64(ts.to_datetime64(), "ns").view(np.int64)


def _snapshot(value):
    """The snapshot as a naive wall-clock Timestamp (one with a zone in its own clock)."""
    try:
        ts = pd.Timestamp(value)
    except (ValueError, TypeError):
        raise ValueError(f"snapshot {value!r} is not a date; give one such as '2024-12-31'.") from None
    if ts is pd.NaT:
        raise ValueError(f"snapshot {value!r} is not a date; give one such as '2024-12-31'.")
    return ts.tz_localize(None) if ts.tz is not None else ts


def wall_time(when):
    """A datetime column as naive wall-clock times: one with a time zone in that zone's own
    clock (a purchase at 00:30 in Paris is on that day, not the day before in UTC)."""
    return when.dt.tz_localize(None) if getattr(when.dtype, "tz", None) is not None else when


# Dates kept as numbers, told apart by their range: (low, high, what they are, how to read them)
_NUMERIC_DATES = (
    (19000101, 21001231, "yyyymmdd numbers", dict(format="%Y%m%d")),
    (1e4, 1e5, "Excel day numbers", dict(unit="D", origin="1899-12-30")),  # 1927 to 2173
    (1e8, 1e10, "Unix seconds", dict(unit="s")),  # 1973 to 2286
    (1e11, 1e13, "Unix milliseconds", dict(unit="ms")),
)


def _numeric_dates(when, name):
    """Dates of a numeric column (20240131, 45322, 1706659200), and what they were read
    as. pandas would read any number as nanoseconds since 1970, every date a moment in
    January 1970, so a number that is none of the known forms is an error."""
    v = when.to_numpy(dtype=float, na_value=np.nan)
    filled = np.isfinite(v)
    if not filled.any():
        return pd.Series(pd.NaT, index=when.index, dtype="datetime64[ns]"), None
    form = _numeric_date_form(v[filled])
    if form is None:
        raise ValueError(f"date column {name!r} holds numbers ({np.min(v[filled]):g} to {np.max(v[filled]):g}), "
                         "not dates in a form fastseg reads (yyyymmdd such as 20240131, Excel day numbers, Unix "
                         "seconds or milliseconds); convert it to dates first.")
    what, how = form
    if what == "yyyymmdd numbers":
        text = pd.Series(np.where(filled, v, 0).astype(np.int64).astype(str), index=when.index).where(filled)
        return pd.to_datetime(text, errors="coerce", **how), what
    return pd.to_datetime(pd.Series(v, index=when.index), errors="coerce", **how), what


def _numeric_date_form(f):
    """The known form ((what, how to read), see ``_NUMERIC_DATES``) of finite numbers ``f``, or None."""
    lo, hi = f.min(), f.max()
    for low, high, what, how in _NUMERIC_DATES:
        if low <= lo and hi <= high and (what != "yyyymmdd numbers" or np.all(f == np.floor(f))):
            return what, how
    return None


def _cancellation(ids):
    """Which invoice ids (str Series or Index) are UCI cancellations: "C" then a digit."""
    out = np.array(ids.str.startswith("C"), dtype=bool)  # fast, and few rows are
    if out.any():
        out[out] = np.array(ids[out].str.match(r"C\d"), dtype=bool)
    return out


def rfm(transactions, *, customer=None, date=None, invoice=None, amount=None, quantity=None, price=None, snapshot=None,
        dayfirst=None, attributes="auto"):
    """Recency, Frequency and Monetary value per customer, with scores and segments.

    Cleaning, in this order, each rule counting the rows it drops (the report is in
    ``result.attrs["cleaning"]``):

    1. ``missing customer`` — no customer id;
    2. ``missing or unreadable date``;
    3. ``cancelled invoice`` — invoice id of "C" and digits (UCI convention: C536379;
       an order id such as "CA-2016-152156" is not one);
    4. ``non-positive quantity`` / ``non-positive price`` (or ``non-positive amount``),
       which also removes returns and adjustments.

    Parameters
    ----------
    transactions : pandas.DataFrame
        One row per transaction line.
    customer, date : str, optional
        Columns holding the customer id and the date (parsed if not datetime).
    invoice : str, optional
        Invoice id column: Frequency counts distinct invoices; without it, rows.
    amount : str, optional
        Spend per row. Otherwise give ``quantity`` and ``price``: spend is their product.

        When the customer, the date or the spend is not given, the missing ones and
        the invoice are read off the column names (:func:`guess_rfm_columns`:
        ``Customer ID``, ``InvoiceDate``, ``Invoice``, ``Quantity`` × ``Price``, ...);
        ``result.attrs["guessed"]`` says which. Give all three and nothing is guessed.
    snapshot : date-like, optional
        The day Recency is measured from; default the last date + 1 day.
    dayfirst : bool, optional
        How dates given as text are read: ``True`` 23/11/2010, ``False`` 11/23/2010.
        By default month first, unless reading them day first leaves fewer dates
        unreadable (a log whose dates are all ambiguous, every day <= 12, is read month
        first: say ``dayfirst=True`` for those). Year-first dates (2010-11-23) are
        never ambiguous and are read as such either way. Dates written in more than
        one form (2010-11-23 beside 2010-11-23 10:15) are all read, each in the
        column's order.
    attributes : "auto", list of str or None, default="auto"
        Columns of the log that describe the customer rather than the purchase
        (``Country``, a store, a channel), carried into the result: per customer the
        value on most of its kept rows (a tie goes to the value on its earlier row;
        missing values are not counted). :class:`fastseg.Segmenter` then shows
        how each segment is made up of them. "auto": every column not used for RFM
        that holds text, categories, True/False or codes (``Region``, see
        :func:`looks_like_code`), with 2 to 50 values, and one value per customer
        for at least 95% of the customers with two rows or more
        (:data:`ATTRIBUTE_CONSTANCY`): ``Country`` is carried, a product's
        ``StockCode`` or ``Description`` is not. ``attrs["attributes"]`` says which.
        None: none.

    Returns
    -------
    pandas.DataFrame
        Indexed by customer: ``recency`` (days), ``frequency``, ``monetary``, the
        1–5 scores ``R``, ``F``, ``M`` (by rank; 5 is best: recent, frequent, big
        spender), ``RFM`` (e.g. "545"), ``score`` (R + F + M), ``rfm_segment`` (the usual RFM
        grid names), then the ``attributes``. ``attrs``: ``cleaning`` (rows each rule
        removed), ``columns`` (the columns used, by role), ``guessed`` (those read off
        their names), ``dates from`` (how numeric dates were read, or None),
        ``snapshot`` and ``attributes`` (the columns carried, and whether "auto" chose
        them).

    Raises
    ------
    ValueError
        Missing columns (the available ones are listed), non-numeric amounts, or
        every row removed by cleaning.
    """
    require_frame(transactions, "rfm's transactions")
    given = dict(customer=customer, date=date, invoice=invoice, amount=amount, quantity=quantity, price=price)
    guessed = {}
    if needs_guess(**given):
        _require(transactions, [c for c in given.values() if c is not None])
        columns = guess_rfm_columns(transactions, **given)
        guessed = {role: col for role, col in columns.items() if col is not None and given[role] is None}
        given.update(columns)
        customer, date, invoice, amount, quantity, price = given.values()
    auto = isinstance(attributes, str) and attributes == "auto"
    if auto:
        attributes = attribute_candidates(transactions, [customer, date, invoice, amount, quantity, price])
    else:
        attributes = [attributes] if isinstance(attributes, str) else list(attributes or ())
    _require(transactions, [customer, date, invoice, amount, quantity, price, *attributes])
    clash = [a for a in attributes if a in RFM_COLUMNS or a == customer]
    if clash:
        raise ValueError(f"attribute column(s) {', '.join(map(repr, clash))} would clash with the result's own "
                         f"columns ({', '.join(RFM_COLUMNS)}) or its index; rename them first.")
    df = transactions
    n_in = len(df)
    report = {"rows in": n_in}
    keep = np.ones(n_in, dtype=bool)

    cust = df[customer]
    missing = cust.isna().to_numpy()
    report["missing customer"] = int(missing.sum())
    keep &= ~missing

    when, dates_from = as_datetime(df[date], date, dayfirst)  # dates_from: how a numeric date column was read
    when_ns = when.to_numpy(dtype="datetime64[ns]")
    bad_date = keep & np.isnat(when_ns)
    report["missing or unreadable date"] = int(bad_date.sum())
    keep &= ~bad_date

    if invoice is not None:
        inv = df[invoice]
        if isinstance(inv.dtype, pd.CategoricalDtype):
            cancelled_cat = _cancellation(inv.cat.categories.astype(str))
            codes = inv.cat.codes.to_numpy()
            cancelled = (codes >= 0) & cancelled_cat[np.maximum(codes, 0)]
        else:
            cancelled = _cancellation(inv.astype(str))
        dropped = keep & cancelled
        report["cancelled invoice"] = int(dropped.sum())
        keep &= ~cancelled

    if amount is not None:
        spend = _numeric(df, amount)
        bad = keep & ~(spend > 0)
        report["non-positive amount"] = int(bad.sum())
        keep &= ~bad
    else:
        q = _numeric(df, quantity)
        p = _numeric(df, price)
        bad_q = keep & ~(q > 0)
        report["non-positive quantity"] = int(bad_q.sum())
        keep &= ~bad_q
        bad_p = keep & ~(p > 0)
        report["non-positive price"] = int(bad_p.sum())
        keep &= ~bad_p
        spend = q * p

    n_keep = int(keep.sum())
    report["rows kept"] = n_keep
    if n_keep == 0:
        rules = ", ".join(f"{k}: {v}" for k, v in report.items() if k not in ("rows in", "rows kept") and v)
        raise ValueError(f"every one of the {n_in} rows was removed by cleaning ({rules}); nothing to segment.")

    codes, uniques = pd.factorize(cust[keep], sort=True)
    if uniques.dtype.kind == "f" and np.all(np.mod(uniques, 1) == 0):
        uniques = uniques.astype(np.int64)  # ids stored as floats because of NaN (UCI)
    n_cust = len(uniques)
    report["customers"] = n_cust
    all_customers = pd.unique(cust[~missing]) if report["missing customer"] < n_in else []
    report["customers with no valid rows"] = int(len(all_customers) - n_cust)
    t = when_ns[keep].view(np.int64)
    last = pd.Series(t).groupby(codes).max().to_numpy()
    if snapshot is None:
        snap = np.int64(t.max()) + np.int64(_DAY_NS)
    else:
        snapshot, snap = _snapshot_ns(snapshot)
        if snap <= t.max():
            raise ValueError(
                f"snapshot {snapshot} is not after the last transaction "
                f"({pd.Timestamp(t.max())}); give a later snapshot or leave it out."
            )
    recency = (snap - last) // _DAY_NS
    if invoice is not None:
        inv_codes, _ = pd.factorize(df[invoice][keep])
        pairs = pd.unique(codes.astype(np.int64) * (int(inv_codes.max()) + 1) + inv_codes)
        frequency = np.bincount(pairs // (int(inv_codes.max()) + 1), minlength=n_cust)
    else:
        frequency = np.bincount(codes, minlength=n_cust)
    monetary = np.bincount(codes, weights=spend[keep], minlength=n_cust)

    out = pd.DataFrame(
        {"recency": recency.astype(np.int64), "frequency": frequency.astype(np.int64), "monetary": monetary},
        index=pd.Index(uniques, name=customer),
    )
    out["R"] = _score(-out["recency"].to_numpy())
    out["F"] = _score(out["frequency"].to_numpy())
    out["M"] = _score(out["monetary"].to_numpy())
    out["RFM"] = out["R"].astype(str) + out["F"].astype(str) + out["M"].astype(str)
    out["score"] = (out["R"].astype(int) + out["F"] + out["M"]).astype(int)
    out["rfm_segment"] = rfm_segment(out["R"].to_numpy(), out["F"].to_numpy())
    carried = []
    for a in dict.fromkeys(attributes):
        values, constancy = _per_customer_mode(df[a][keep], codes, n_cust)
        if auto and not (constancy >= ATTRIBUTE_CONSTANCY and 2 <= pd.Series(values).nunique() <= MAX_LEVELS):
            continue  # varies within customers (a purchase's, not a customer's), or not a category
        out[a] = values
        carried.append(a)
    out.attrs["attributes"] = {"columns": carried, "auto": auto}
    out.attrs["cleaning"] = report
    spend = dict(amount=amount) if amount is not None else dict(quantity=quantity, price=price)
    used = dict(customer=customer, date=date, invoice=invoice, **spend)
    out.attrs["columns"] = {role: col for role, col in used.items() if col is not None}
    out.attrs["guessed"] = guessed
    out.attrs["dates from"] = dates_from
    out.attrs["snapshot"] = str(pd.Timestamp(snap))
    return out


ATTRIBUTE_CONSTANCY = 0.95  # share of customers (of two rows or more) with one value: a customer's attribute


def attribute_candidates(df, used, head=100_000):
    """The columns of a transaction log :func:`rfm` may carry per customer with
    ``attributes="auto"``: not in ``used`` (the RFM roles) nor named like a result
    column, holding text, categories, True/False or codes (:func:`looks_like_code`),
    with at most 50 values in the first ``head`` rows (a product's code or description
    has more). Whether each is one value per customer is left to :func:`rfm`."""
    out = []
    for c in df.columns:
        if c in used or c in RFM_COLUMNS:
            continue
        col = df[c]
        if pd.api.types.is_datetime64_any_dtype(col):
            continue
        if pd.api.types.is_numeric_dtype(col) and not (pd.api.types.is_bool_dtype(col) or looks_like_code(col)):
            continue
        if 1 <= col.iloc[:head].nunique(dropna=True) <= MAX_LEVELS:
            out.append(c)
    return out


def _per_customer_mode(values, codes, n_cust):
    """Each customer's most frequent value of ``values`` (rows of customers ``codes``); a tie
    goes to the value on the customer's earlier row, a customer with only missing values
    gets a missing one. Also the share of the customers with values on two rows or more
    whose values are all one (1.0 when there are none)."""
    vcodes, uniques = pd.factorize(values)  # in order of appearance; -1 for missing
    ok = vcodes >= 0
    if not ok.any():
        return np.full(n_cust, np.nan), 1.0
    c, v = codes[ok].astype(np.int64), vcodes[ok]
    # one pass finds the customers of more than one value (a customer attribute has few);
    # only their rows are sorted for the mode
    pick = np.full(n_cust, -1, dtype=np.int64)
    pick[c] = v  # some row's value per customer (which one does not matter here)
    mixed = np.zeros(n_cust, dtype=bool)
    mixed[c[v != pick[c]]] = True
    several = np.bincount(c, minlength=n_cust) >= 2
    constancy = float(1.0 - mixed[several].mean()) if several.any() else 1.0
    rows = mixed[c]
    if rows.any():
        nv = len(uniques)
        keys, first, counts = np.unique(c[rows] * nv + v[rows], return_index=True, return_counts=True)
        cust, val = keys // nv, keys % nv
        order = np.lexsort((first, -counts, cust))  # per customer: most rows, then the earliest
        head = order[np.r_[True, cust[order][1:] != cust[order][:-1]]]
        pick[cust[head]] = val[head]
    return pd.Series(uniques).take(np.maximum(pick, 0)).reset_index(drop=True).where(pick >= 0).to_numpy(), constancy


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


# The last word of a column name that says its numbers are categories (Region = 1, 2, 3)
_CODE_WORDS = frozenset("region channel code type category class group segment cluster status gender sex zip "
                        "zipcode postcode postal plz country state".split())


def looks_like_code(col):
    """Whether ``col`` holds categories written as whole numbers: a numeric column whose
    name ends in a word such as region, channel, type, category, status or zip code
    (``Region``, ``Customer_Type``, ``zipCode``), each value a whole number."""
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
            return df.index[r]
    return None


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
