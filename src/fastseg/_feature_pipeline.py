"""The feature pipeline of a segmentation: from a customer table to the matrix k-means
sees, fitted once (:class:`_Prep`) and applied again to new customers; and the checks of
the table it reads (column names as text, an index that keys customers, numeric features).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from ._amounts import no_value_text, read_numbers
from ._dates import day_text, read_dates_as_days, unknown_days_text
from ._profiles import counted, readable_number
from ._sentinels import new_codes, new_codes_text, sentinel_text
from ._validation import did_you_mean, require_frame


def _default_index(df):
    """Whether ``df``'s index holds no key of the caller's: the plain row numbers
    ``read_csv`` gives, or unnamed whole numbers that repeat, as ``pd.concat`` leaves them.
    An index of the caller's own (named, or unique, as filtering or sampling leaves it)
    keys the labels, so ``df.join(seg.labels)`` works."""
    ix = df.index
    if isinstance(ix, pd.RangeIndex):
        return ix.start == 0 and ix.step == 1
    return (not isinstance(ix, pd.MultiIndex) and ix.name is None and pd.api.types.is_integer_dtype(ix.dtype)
            and not ix.is_unique)


@dataclass
class _Prep:
    """The fitted feature pipeline: which columns, which got log1p, scaling, and the date
    columns read as days to ``snapshot``."""

    features: list
    logged: list
    center: np.ndarray
    scale: np.ndarray
    missing: str = "error"  # the defaults: also the values for pipelines pickled before these options
    dates: dict | None = None  # {date column: its feature, "days since <column>"}
    snapshot: pd.Timestamp | None = None
    dayfirst: bool | None = None
    clip: float | None = None  # Segmenter(clip=...): each feature capped at these quantiles of the fit ...
    bounds: np.ndarray | None = None  # ... (2, n_features): the caps, in the features' own units
    capped: int = 0  # how many of the fitted customers had a value capped
    snapshot_of_table: bool = False  # snapshot is the RFM table's (Recency's day): predict takes a new table's
    unknown: dict | None = None  # {date column: {day: count}} read as not known (1900-01-01, ...) at fit
    first: dict | None = None  # {date column: its first date known}: new rows' placeholder days are before it
    codes: dict | None = None  # {feature: (code, rows, the others' bound)}: 999, -1 read as missing at fit
    span: dict | None = None  # {feature: (min, max)} of those that may hold a code: new rows' codes lie beyond
    marks: dict | None = None  # {column: {text: count}}: cells of text for no value ("-", "?") read as missing

    def clip_text(self):
        """The sentence saying where the features were capped, and for how many customers."""
        caps = ", ".join(f"{f} {readable_number(lo)} to {readable_number(hi)}"
                         for f, lo, hi in zip(self.features, *self.bounds))
        return (f"Each feature capped at its {_percentiles_text(self.clip)} before scaling (clip={self.clip:g}): "
                f"{caps}; {counted(self.capped, 'customer')} with a value capped.")

    def missing_text(self):
        """The sentence naming the values read as missing (an Age of 999 or of "?"), or ""."""
        said = [*(no_value_text(f, m) for f, m in (self.marks or {}).items()),
                *(sentinel_text(f, *c) for f, c in (self.codes or {}).items())]
        return f"Read as missing: {'; '.join(said)}." if said else ""

    def dates_text(self):
        """The sentence saying which date columns were read as days, and to which date."""
        to = f"{day_text(self.snapshot)}, the RFM snapshot" if self.snapshot_of_table else day_text(self.snapshot)
        unknown = "".join(f" {c}: {unknown_days_text(days)}, read as missing."
                          for c, days in (self.unknown or {}).items())
        return (f"Dates read as the whole days from each to {to}: "
                + ", ".join(f"{old} as '{new}'" for old, new in self.dates.items()) + "." + unknown)

    def apply(self, df, with_mask=False, snapshot=None):
        """The scaled features of ``df``'s rows; with ``with_mask`` also which rows they are
        (with missing="drop", rows with a missing feature are left out). Date columns
        count their days to ``snapshot``, by default the fit's, so a feature means what
        it meant when the segments were found; when the fit counted to its RFM table's
        snapshot, to a new RFM table's own snapshot, as its Recency does. A table that
        already holds a date's days (``"days since signup_date"``, as
        :attr:`Segmentation.data` does) is used as it is."""
        dated = [old for old, new in (self.dates or {}).items()  # not those described, nor days already counted
                 if new in self.features and not (new in df.columns and old not in df.columns)]
        if dated:
            source = {new: old for old, new in self.dates.items()}
            _check_columns(df, [source.get(f, f) for f in self.features])  # names the table's own columns
            prefer = df.attrs.get("snapshot") if snapshot is None and self.snapshot_of_table else None
            read = read_dates_as_days(df, dated, self.snapshot if snapshot is None else snapshot, self.dayfirst,
                                      prefer=prefer, first=self.first)
            df, unknown = read.out, read.unknown_by_feature()
        else:
            unknown = {}
        df, _, marks = read_numbers(df, [f for f in self.features if f in df.columns])
        found = {}
        if self.span:  # 999 for an age not known, in new rows too
            df, found = _new_codes_as_missing(df, self.span)
        add_reasons(unknown, [*((f, no_value_text(f, m)) for f, m in marks.items()), *found.items()])
        X, ok = _matrix(df, self.features, drop_missing=self.missing == "drop", fitted=True, unknown=unknown)
        for f in self.logged:
            if (X[:, self.features.index(f)] < 0).any():
                raise ValueError(f"column {f!r} has negative values, but the segments were found on its log1p "
                                 "(all its values were >= 0 at fit time); check the column, or refit with "
                                 "transform=None.")
        if self.bounds is not None:  # new customers capped where the fitted ones were
            X = np.clip(X, *self.bounds)
        for j, f in enumerate(self.features):
            if f in self.logged:
                X[:, j] = np.log1p(X[:, j])
        Z = (X - self.center) / self.scale
        return (Z, ok) if with_mask else Z


def _skew(x):
    """Sample skewness (the third standardised moment; 0 for a column of one value)."""
    d = x - x.mean()
    m2 = np.mean(d * d)
    return 0.0 if m2 == 0 else float(np.mean(d * d * d) / m2**1.5)


def log1p_evens_out(x):
    """Whether log1p makes the non-negative column ``x`` more symmetric (its skewness
    smaller in size): true of a long right tail (spend, counts, recency), not of an
    evenly spread score, age or count of days, which log1p would bend into a tail the
    other way and a cluster of the smallest values."""
    return abs(_skew(np.log1p(x))) < abs(_skew(x))


def add_reasons(unknown, reasons):
    """Add ``(feature, why)`` pairs to ``unknown`` (``{feature: why}``), a feature's
    reasons joined by "; "."""
    for f, text in reasons:
        unknown[f] = f"{unknown[f]}; {text}" if f in unknown else text


def _new_codes_as_missing(df, span):
    """``df`` with new customers' codes for a value not known (:func:`new_codes`; ``span``:
    ``{feature: (min, max)}`` at the fit) read as NaN, and ``{feature: why}``."""
    found = {}
    for f, (lo, hi) in span.items():
        if f not in df.columns or not plain_numbers(df[f]):
            continue  # (the checks of _matrix name these)
        x = df[f].to_numpy(dtype=np.float64, na_value=np.nan)
        held = new_codes(x, lo, hi)
        if held.any():
            if not found:
                df = df.copy(deep=False)
            df[f] = df[f].where(~held)
            found[f] = new_codes_text(f, x[held], lo, hi)
    return df, found


def _percentiles_text(q):
    """``0.01`` → "1st and 99th percentiles"; ``0.025`` → "2.5th and 97.5th percentiles"."""
    def nth(p):
        p = round(p, 6)
        text = f"{p:g}"
        if p != int(p):
            return text + "th"
        p = int(p)
        return text + ("th" if 10 <= p % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(p % 10, "th"))
    return f"{nth(100 * q)} and {nth(100 - 100 * q)} percentiles"


def _check_columns(df, features):
    missing = [f for f in features if f not in df.columns]
    if missing:
        hint = did_you_mean(missing, df.columns) or ";"
        raise ValueError(f"column(s) {', '.join(map(repr, missing))} not found{hint} available: "
                         f"{', '.join(map(repr, map(str, df.columns)))}.")


def plain_numbers(col):
    """Whether ``col`` holds numbers k-means can take (not text, not True/False)."""
    return pd.api.types.is_numeric_dtype(col) and not pd.api.types.is_bool_dtype(col)


def _matrix(df, features, drop_missing=False, fitted=False, unknown=None):
    """The features of ``df`` as a float64 matrix (an own copy), and which rows it holds:
    every row, or with ``drop_missing`` those without a missing or infinite value.
    ``fitted``: the rows are new customers for a fitted segmentation (its errors say so).
    ``unknown``: ``{feature: why}``, the values read as missing (placeholder dates, codes
    such as 999, text for no value), which the error for missing values names."""
    _check_columns(df, features)
    bad = [f for f in features if not plain_numbers(df[f])]
    if bad:
        raise ValueError(
            f"feature column(s) {', '.join(map(repr, bad))} are not numeric, and k-means needs numbers: leave "
            "them out of the features, and each segment is described by its mix of them instead (describe=, "
            "--describe), or encode them as numbers first."
        )
    X = np.array(df[features].to_numpy(dtype=np.float64, na_value=np.nan), dtype=np.float64)  # own copy
    ok = np.isfinite(X).all(axis=1)
    empty = [f for j, f in enumerate(features) if not np.isfinite(X[:, j]).any()]
    if empty and not (fitted and drop_missing):  # new rows may all lack one: they are not segmented
        raise ValueError(f"feature column(s) {', '.join(map(repr, empty))} hold no values (every one missing or "
                         "infinite); leave them out of the features.")
    if not ok.all():
        cols = ", ".join(repr(f) for j, f in enumerate(features) if not np.isfinite(X[:, j]).all())
        bad = f"{int((~ok).sum())} of {len(X)} rows have missing or infinite values in {cols}"
        why = "".join(f"; {text}" for f, text in (unknown or {}).items() if f in features)
        if not drop_missing:  # at predict, missing= is the fit's choice: predict follows it
            fix = (". A segmentation fitted with missing='drop' (--missing drop) leaves such customers unsegmented "
                   "instead." if fitted else ", or leave those customers out of the segments with missing='drop' "
                   "(--missing drop).")
            raise ValueError(f"{bad}{why}; fill or drop them first{fix}")
        if not ok.any() and not fitted:
            raise ValueError(f"{bad}: every row; fill them first.")
        X = X[ok]
    return X, ok


def column_text(label):
    """A column label as fastseg names the column: text as it is, a pivot's 2023 as
    "2023", a groupby's ``("Sales", "sum")`` as "Sales sum"."""
    if isinstance(label, str):
        return label
    if isinstance(label, tuple):
        return " ".join(str(part) for part in label if str(part) != "")
    return str(label)


def _text_columns(df, what):
    """``df`` (checked to be a DataFrame, named ``what`` if not) with every column named by
    text (:func:`column_text`), so a feature prints, and is found again at predict, by
    one name."""
    if isinstance(df, pd.DataFrame) and (isinstance(df.columns, pd.MultiIndex)
                                         or not all(isinstance(c, str) for c in df.columns)):
        df = df.set_axis([column_text(c) for c in df.columns], axis=1)
    require_frame(df, what)  # after: ("a", "") and "a" are both "a", named as repeats
    return df
