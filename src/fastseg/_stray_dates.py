"""A transaction log's few dates far from all the others: a mistyped year at the end
(2101 for 2011), a day written for "unknown" at the start (1900-01-01, 1970-01-01).
Either would move a whole RFM table (the default snapshot, every tenure) without a word,
so :func:`fastseg.rfm` refuses them and names the day to cut the log at instead."""

from __future__ import annotations

import numpy as np
import pandas as pd

from ._dates import _DAY_NS, _GAP_NS, _PLACEHOLDERS_NS, day_text, placeholder_days
from ._profiles import counted

_STRAY_SHARE = 0.001  # a share of the rows this small or less, a year from the rest: stray


def _last_few_apart(t):
    """The last rows of ``t`` (int64 ns), ``_STRAY_SHARE`` of them or fewer, that come
    ``fastseg._dates.STRAY_GAP_DAYS`` or more after all the rest: (the rest's last value, them sorted),
    or None."""
    n = len(t)
    if n < 2:
        return None
    above = int(n * _STRAY_SHARE)
    q = np.partition(t, n - 1 - above)[n - 1 - above]  # the rows after it are _STRAY_SHARE of them at most
    tail = np.r_[q, np.sort(t[t > q])]
    steps = np.diff(tail)
    if not len(steps) or steps.max() < _GAP_NS:
        return None
    i = int(np.argmax(steps))
    return tail[i], tail[i + 1:]


def _years(a, b):
    years = abs(b - a) / (365.25 * _DAY_NS)
    return f"{years:.0f} year{'' if round(years) == 1 else 's'}"


def _dated(stray):
    """'1 row of the log is dated 2101-03-04' (to the last of ``stray``, sorted)."""
    later = f" to {day_text(stray[-1])}" if stray[-1] != stray[0] else ""
    verb = "is" if len(stray) == 1 else "are"
    return f"{counted(len(stray), 'row')} of the log {verb} dated {day_text(stray[0])}{later}"


def refuse_stray_last_dates(t):
    """Raise when the last few dates of a log (``t``: the kept rows' dates, int64 ns) come
    a year or more after every other: the default snapshot would be that late, and every
    customer's Recency as long."""
    found = _last_few_apart(t)
    if found is None:
        return
    end, stray = found
    fix = day_text(pd.Timestamp(int(end)).normalize() + pd.Timedelta(days=1))
    raise ValueError(f"{_dated(stray)}, {_years(end, stray[0])} after every other (the rest ends {day_text(end)}): "
                     f"Recency would count from then. Fix those dates, or give snapshot={fix!r} (--snapshot {fix}) "
                     "to count from the rest's end; rows from the snapshot on are then left out.")


def refuse_stray_first_dates(t):
    """Raise when the first few dates of a log (as :func:`refuse_stray_last_dates`), or any
    on a day written for "unknown" (:data:`fastseg._dates.PLACEHOLDER_DAYS`), come a year or more before
    every other: those customers' tenure would count from then, and the Recency of one
    with no other purchase."""
    held = placeholder_days(t)
    rest = t[~held]
    if not len(rest):
        return  # every row a stray: nothing to tell them from
    found = _last_few_apart(-rest)
    start = rest.min() if found is None else -found[0]
    stray = np.sort(np.r_[t[held], [] if found is None else -found[1]].astype(np.int64))
    if not len(stray):
        return
    unknown = " (a day written for a date not known)" if np.isin(stray, _PLACEHOLDERS_NS).all() else ""
    fix = day_text(pd.Timestamp(int(start)).normalize())
    raise ValueError(f"{_dated(stray)}{unknown}, {_years(stray[-1], start)} before every other (the rest begins "
                     f"{day_text(start)}): tenure would count from then, and Recency too for a customer with no "
                     f"other purchase. Fix those dates, or give since={fix!r} (--since {fix}) to leave out the rows "
                     "before it.")
