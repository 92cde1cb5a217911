"""Numbers written for a value not known: an Age of 999, an income of -1. Clustered on, the
customers holding one take a segment of their own ("much older") and the others' groups
merge; :class:`fastseg.Segmenter` reads them as missing and names them."""

from __future__ import annotations

import numpy as np

from ._profiles import readable_number

# the codes surveys and CRM exports write for "not known" (SPSS's and SAS's habits)
HIGH_CODES = (99, 999, 9_999, 99_999, 999_999, 9_999_999)
LOW_CODES = (-1, -9, -99, -999, -9_999, -99_999)
_MIN_ROWS = 2  # one customer with 9999 may be a real one; several with it are a code


def sentinel(values):
    """The code ``values`` (a float array; NaN and inf ignored) holds for a value not
    known, or None.

    A code is the column's largest value when it is one of :data:`HIGH_CODES`, held by
    two rows or more, and at least twice every other value (Age 999 where the rest end
    at 95; not Spending Score 99 of 1 to 100); or its smallest when it is one of
    :data:`LOW_CODES`, held by two rows or more, and every other value is 0 or more
    (an income of -1)."""
    x = values[np.isfinite(values)]
    if len(x) <= _MIN_ROWS:
        return None
    hi, lo = x.max(), x.min()
    if hi in HIGH_CODES:
        rest = x[x != hi]
        if (x == hi).sum() >= _MIN_ROWS and len(rest) and rest.max() * 2 <= hi:
            return float(hi)
    if lo in LOW_CODES:
        rest = x[x != lo]
        if (x == lo).sum() >= _MIN_ROWS and len(rest) and rest.min() >= 0:
            return float(lo)
    return None


def new_codes(x, lo, hi):
    """Which of new customers' values ``x`` are codes for a value not known, for a feature
    whose fitted values (codes left out) ran from ``lo`` to ``hi``: one of
    :data:`HIGH_CODES` at least twice ``hi``, or one of :data:`LOW_CODES` below a feature
    that was never negative. A single row counts: the fit's range is the evidence."""
    high = np.isin(x, HIGH_CODES) & (x >= max(2 * hi, hi))
    return high | (np.isin(x, LOW_CODES) & (lo >= 0))


def sentinel_text(column, code, rows, rest):
    """'Age: 50 hold 999, a number written for a value not known (every other Age is 95 or
    less)'; ``rest``: the others' largest value (smallest, for a negative code)."""
    bound = f"{readable_number(rest)} or {'less' if code > 0 else 'more'}"
    return (f"{column}: {_held(rows, code)}, a number written for a value not known (every other {column} "
            f"is {bound}; codes=False, --keep-codes, keeps it as a number)")


def new_codes_text(column, values, lo, hi):
    """'Age: 2 hold 999, a number written for a value not known (the fitted customers' Age
    runs from 18 to 70)'; ``values``: the codes new rows hold."""
    codes, counts = np.unique(values, return_counts=True)
    held = " and ".join(_held(n, v) for v, n in zip(codes, counts))
    what = "a number" if len(codes) == 1 else "numbers"
    return (f"{column}: {held}, {what} written for a value not known (the fitted customers' {column} runs from "
            f"{readable_number(lo)} to {readable_number(hi)})")


def _held(rows, code):
    return f"{rows:,} {'holds' if rows == 1 else 'hold'} {readable_number(code)}"
