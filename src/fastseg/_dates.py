"""Dates in every form customer tables and logs keep them (datetime, text in one or several
forms, day or month first, with UTC offsets, or numbers such as 20240131, Excel day numbers
and Unix seconds), read as naive wall-clock times; and date columns as days to a snapshot."""

from __future__ import annotations

import re
import warnings
from dataclasses import dataclass

import numpy as np
import pandas as pd

from ._amounts import _text_head
from ._profiles import DAYS_SINCE

_DATE_TEXT = r"\s*(?:\d{4}-\d{1,2}-\d{1,2}|\d{1,2}[/.\-]\d{1,2}[/.\-]\d{2,4})(?:[ T]\d{1,2}:\d{2}.*)?\s*"


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
        elif dayfirst is not None or (dayfirst := _written_day_first(when)):
            parsed, dayfirst = _text_to_datetime(when, dayfirst=bool(dayfirst)), bool(dayfirst)
        else:
            parsed, dayfirst = _text_to_datetime(when), False
            unread = int((parsed.isna() & when.notna()).sum())
            if unread:
                other = _text_to_datetime(when, dayfirst=True)
                if int((other.isna() & when.notna()).sum()) < unread:
                    parsed, dayfirst = other, True
        return _read_the_rest(parsed, when, dayfirst)


def _written_day_first(when, rows=200_000):
    """Whether a column's dates are written day first, as their values show: a first number
    past 12 ("14/8/16") in some date and a second in none. pandas reads a column whose format
    it cannot infer (days and months without a leading zero) date by date, each in the
    order that reads it, and month first where both do: "14/8/16" is 14 August and "6/8/16"
    8 June in one column. None when the values cannot tell (every number up to 12)."""
    texts = pd.Series(pd.unique(when.iloc[:rows].dropna().astype(str)))
    parts = texts.str.extract(_DAY_MONTH_YEAR).astype(float)
    first, second = (bool((parts[i] > 12).any()) for i in (0, 1))
    return True if first and not second else None


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


# a zone written as a word after the time: REES46's "2019-10-01 00:00:04 UTC"
_ZONE_WORD = re.compile(r"\d:\d\d(?::\d\d(?:[.,]\d+)?)?(\s*(?:UTC|GMT))$")


def _zone_word_as_z(when):
    """``when`` with a zone written " UTC" (or " GMT") on every one of its first dates
    written "Z" instead, where it ends a date: the same instant, and pandas reads "Z" in
    its fast ISO path but parses "UTC" (format ``%Z``) six times slower."""
    head = _text_head(when)
    if head is None or not len(head):
        return when
    found = _ZONE_WORD.search(head.iloc[0])
    if found is None or not head.str.endswith(found.group(1)).all():
        return when
    word = found.group(1)
    text = when.astype("string")
    ends = text.str.endswith(word).fillna(False).to_numpy(dtype=bool)
    return text.where(~ends, text.str.slice(0, -len(word)) + "Z")


def _worth_caching(when, rows=20_000):
    """Whether pandas should parse each distinct date once and map it to the rows (its
    ``cache``): so where dates repeat (a day's or an invoice's rows), not where most are
    distinct (an event log timed to the second), where hashing every text to find its
    date costs five times the parse. Told from the first ``rows``: pandas looks at 50."""
    head = when.iloc[:rows]
    return len(head) < 50 or head.nunique() < len(head) // 2


def _text_to_datetime(when, **how):
    """``pd.to_datetime`` of text, unreadable values NaT, as each row's own wall-clock time:
    a log written with UTC offsets that change in the year (summer time: "+01:00" in
    January, "+02:00" in July), which pandas refuses to mix, has them dropped, so a
    purchase keeps the day it was made on where it was made."""
    when = _zone_word_as_z(when)
    how.setdefault("cache", _worth_caching(when))
    try:
        with warnings.catch_warnings():  # pandas 2's notice that mixed offsets will raise: they are handled below
            warnings.filterwarnings("ignore", "In a future version of pandas, parsing datetimes with mixed",
                                    FutureWarning)
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
STRAY_GAP_DAYS = 365  # a year with no date between a few and the rest: theirs are wrong
# days written for a date not known: Excel's day 0 and 1, the Unix epoch
PLACEHOLDER_DAYS = ("1899-12-30", "1899-12-31", "1900-01-01", "1970-01-01")
_PLACEHOLDERS_NS = np.array([pd.Timestamp(d).value for d in PLACEHOLDER_DAYS], dtype=np.int64)
_GAP_NS = STRAY_GAP_DAYS * _DAY_NS


def placeholder_days(t, first=None):
    """Which of ``t`` (int64 ns, no NaT) fall on a day written for a date not known
    (:data:`PLACEHOLDER_DAYS`) a year or more before every other date of ``t``, or before
    ``first`` when given (a fitted table's first date, for new rows). A boolean mask; none
    when every date is such a day (nothing to tell them from) or one of the others' era
    (1970-01-01 in a log of 1970 is an ordinary day)."""
    held = np.isin(t, _PLACEHOLDERS_NS)
    if first is None:
        rest = t[~held]
        if not len(rest):
            return np.zeros(len(t), dtype=bool)
        first = rest.min()
    return held & (t <= first - _GAP_NS)


def unknown_days_text(unknown):
    """'144 dated 1900-01-01, a day written for a date not known' (``unknown``: ``{day: count}``)."""
    days = " and ".join(f"{n:,} dated {day}" for day, n in unknown.items())
    return f"{days}, {'a day' if len(unknown) == 1 else 'days'} written for a date not known"


def days_since_name(column):
    """The feature a date column becomes: ``"days since signup_date"``."""
    return f"{DAYS_SINCE}{column}"


def dates_as_days(df, columns, snapshot=None, dayfirst=None, *, prefer=None):
    """Date columns as the whole days from each date to a snapshot, for clustering on
    (the tenure from a sign-up date, the days since a last order).

    Parameters
    ----------
    df : pandas.DataFrame
    columns : list of str
        Columns holding dates (see :func:`as_datetime`); each is replaced, in its place,
        by a float column named ``"days since <column>"``: NaN where no date was read, and
        on a day written for a date not known (1900-01-01, 1970-01-01, Excel's 1899-12-30
        and 31) a year or more before the column's other dates.
    snapshot : date-like, optional
        The date days are counted back to. Default: the latest date in ``columns``
        plus one day, as :func:`fastseg.rfm` counts Recency; a given one must not be before a
        date in the columns.
    dayfirst : bool, optional
        Read text dates day first (see :func:`fastseg.rfm`).
    prefer : date-like, optional
        The date to count to instead, when no date in ``columns`` is after it: the RFM
        table's snapshot, so a customer table's sign-up dates count to the day Recency
        does. A date after it (a sign-up after the log ends) leaves ``snapshot`` or the
        default in charge.

    Returns
    -------
    out : pandas.DataFrame
        A new frame (``df`` is not changed).
    renamed : dict
        ``{column: "days since <column>"}``.
    snapshot : pandas.Timestamp
    """
    read = read_dates_as_days(df, columns, snapshot, dayfirst, prefer=prefer)
    return read.out, read.renamed, read.snapshot


@dataclass
class DatesRead:
    """What :func:`read_dates_as_days` read: the frame, the names, the snapshot, and per
    column the days read as not known (``{column: {day: count}}``) and the first date
    that was read (for new rows of a fitted table)."""

    out: pd.DataFrame
    renamed: dict
    snapshot: pd.Timestamp
    unknown: dict
    first: dict

    def unknown_by_feature(self):
        """``{"days since <column>": "<column>: 144 dated 1900-01-01, a day written ..."}``."""
        return {self.renamed[c]: f"{c}: {unknown_days_text(days)}" for c, days in self.unknown.items()}


def read_dates_as_days(df, columns, snapshot=None, dayfirst=None, *, prefer=None, first=None):
    """:func:`dates_as_days`, with what was read as not known (:class:`DatesRead`).
    ``first``: ``{column: date}``, a fitted table's first dates, so a new table's
    placeholder days are those a year or more before them."""
    when = {c: as_ns(as_datetime(df[c], c, dayfirst)[0]).view(np.int64) for c in columns}
    nat = np.iinfo(np.int64).min  # NaT's int64 form
    unknown, firsts = {}, {}
    for c, t in when.items():
        read = t != nat
        held = placeholder_days(t[read], None if first is None or c not in first else first[c].value)
        if held.any():
            days, counts = np.unique(t[read][held], return_counts=True)
            unknown[c] = {day_text(d): int(n) for d, n in zip(days, counts)}
            t = t.copy()
            t[np.flatnonzero(read)[held]] = nat
            when[c] = t
        if (t != nat).any():
            firsts[c] = pd.Timestamp(int(t[t != nat].min()))
    latest = max((int(t[t != nat].max()) for t in when.values() if (t != nat).any()), default=None)
    if latest is None and snapshot is None:  # (given one, as at predict, new rows may all lack a date)
        raise ValueError(f"no date could be read in {', '.join(map(repr, columns))}; check the column(s), or "
                         "leave them out of the features.")
    preferred = None if prefer is None else _snapshot_ns(prefer)[1]
    if preferred is not None and (latest is None or preferred >= latest):
        snap = preferred
    elif snapshot is None:
        snap = latest + _DAY_NS
    else:
        snap = _snapshot_ns(snapshot)[1]
        if latest is not None and snap < latest:
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
    return DatesRead(out.rename(columns=renamed), renamed, pd.Timestamp(snap), unknown, firsts)


def day_text(ts):
    """A date as a reader writes it: the day, with the time only when there is one."""
    ts = pd.Timestamp(ts)
    return str(ts.date()) if ts == ts.normalize() else str(ts)


def _snapshot_ns(value, name="snapshot"):
    """:func:`_snapshot` of ``value``, and it in nanoseconds since 1970 (an int64)."""
    ts = _snapshot(value, name)
    return ts, np.datetime64(ts.to_datetime64(), "ns").view(np.int64)


def _snapshot(value, name="snapshot"):
    """The snapshot (or another day given by ``name``) as a naive wall-clock Timestamp
    (one with a zone in its own clock)."""
    try:
        ts = pd.Timestamp(value)
    except (ValueError, TypeError, OverflowError):
        ts = None
    if ts is None or ts is pd.NaT:
        raise ValueError(f"{name} {value!r} is not a date; give one such as '2024-12-31'.")
    if not _FIRST_NS_DAY <= ts.tz_localize(None).to_datetime64() < _AFTER_NS_DAY:
        raise ValueError(f"{name} {value!r} is outside the years fastseg counts days in (1678 to 2261); give one "
                         "such as '2024-12-31'.")
    return ts.tz_localize(None) if ts.tz is not None else ts


# the days a datetime64[ns] holds whole: a date outside them (0001-01-01, 9999-12-31) stands for none
_FIRST_NS_DAY, _AFTER_NS_DAY = np.datetime64("1678-01-01"), np.datetime64("2262-04-11")


def as_ns(when):
    """A column of naive datetimes (any unit) as datetime64[ns] values, NaT for a date
    before 1678 or after 2261: a placeholder such as 9999-12-31 for "none", which a cast
    would wrap round to some date of the 19th century."""
    values = when.to_numpy()
    if values.dtype == np.dtype("datetime64[ns]"):
        return values
    inside = (values >= _FIRST_NS_DAY) & (values < _AFTER_NS_DAY)
    return np.where(inside, values, np.datetime64("NaT")).astype("datetime64[ns]")


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
    (1e14, 1e16, "Unix microseconds", dict(unit="us")),  # GA4's event_timestamp
    (1e17, 1e19, "Unix nanoseconds", dict(unit="ns")),
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
                         "seconds, milliseconds, microseconds or nanoseconds); convert it to dates first.")
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
