"""What a segment is, in words and figures: its short name, its profile in original
units, its mix of each described column and of the classic RFM grid, the values that
stand out in it, and figures written for a reader. Pure pandas over labels;
:mod:`fastseg.segment`, the report and the command line call these."""

from __future__ import annotations

import numpy as np
import pandas as pd

from ._column_roles import looks_like_code

# Words for the usual customer features, (high, low, far above, far below); other
# features read "high X" / "low X" / "very high X" / "very low X".
_VOCAB = {
    "recency": ("lapsed", "recent", "long lapsed", "very recent"),
    "frequency": ("frequent", "infrequent", "very frequent", "very infrequent"),
    "monetary": ("high spend", "low spend", "very high spend", "very low spend"),
    "spending score (1-100)": ("high spending score", "low spending score", "very high spending score",
                               "very low spending score"),
    "annual income (k$)": ("high income", "low income", "very high income", "very low income"),
    "age": ("older", "younger", "much older", "much younger"),
    "tenure": ("long-standing", "newer", "very long-standing", "much newer"),
}

# A segment of new customers: most first bought within this many days of the snapshot (the
# usual marketing window for "new") and its median tenure a third of all customers' or less,
# so a log of two months does not call everyone new.
NEW_DAYS = 90
_NEW_SHARE = 1 / 3

DAYS_SINCE = "days since "  # the feature a date column becomes (fastseg.features.dates_as_days)

MAX_LEVELS = 50  # more distinct values than this: not a category to describe by default
_MAX_SHOWN = 8  # values shown per column; the rest are "other"


def _describe(feature, high, strong=False):
    """The words for one feature of a segment's centre: above or below average, strongly or not."""
    words = _VOCAB.get(str(feature).lower())
    if words is None and str(feature).startswith(DAYS_SINCE):  # a date read as days: earlier or later
        date = str(feature)[len(DAYS_SINCE):]
        words = (f"earlier {date}", f"later {date}", f"much earlier {date}", f"much later {date}")
    if words is None:
        text = f"{'high' if high else 'low'} {feature}"
        return f"very {text}" if strong else text
    return words[(0 if high else 1) + (2 if strong else 0)]


def is_categorical(col):
    """A column described by the share of each value (text, category, bool, a numeric
    column of two values such as a 0/1 flag, or categories written as numbers such as
    ``Region``), not by its mean."""
    return (not pd.api.types.is_numeric_dtype(col) or pd.api.types.is_bool_dtype(col) or is_flag(col)
            or looks_like_code(col))


def is_flag(col):
    """A numeric column of exactly two values (a 0/1 flag, a 1/2 code)."""
    return pd.api.types.is_numeric_dtype(col) and col.nunique(dropna=True) == 2


def composition_table(col, seg, k):
    """Share of each segment's customers (and of all of them) at each value of ``col``."""
    values = col.astype(object).where(col.notna(), "(missing)").to_numpy()
    counts = pd.Series(values).value_counts(sort=False).sort_values(ascending=False, kind="stable")
    top = [v for v in counts.index if v != "(missing)"][:_MAX_SHOWN]  # most customers; a tie: first seen first
    keep = np.isin(values, top) | (values == "(missing)")
    values = np.where(keep, values, "other")
    tab = pd.crosstab(pd.Series(seg, name="segment"), pd.Series(values, name=str(col.name)))
    columns = top + [c for c in ("other", "(missing)") if c in tab.columns]
    tab = tab.reindex(index=range(k), columns=columns, fill_value=0)
    tab.loc["all"] = tab.sum()
    return tab.div(tab.sum(axis=1), axis=0)


def standouts(composition, sizes, s, gap=0.1, z=2.0, most=2):
    """The values over-represented in segment ``s``: "Gender: Female 70% (all 56%)", the
    largest gaps first. A value stands out when its share is ``gap`` or more above its
    share of all customers, and more than ``z`` standard errors of a random draw of the
    segment's size above it (so a segment of eight customers, 6 men, says nothing)."""
    n = sizes[s]
    found = []
    for col, tab in composition.items():
        share, base = tab.loc[s], tab.loc["all"]
        diff = (share - base).drop(["other", "(missing)"], errors="ignore")
        if not len(diff) or n == 0:
            continue
        yes = _yes(diff.index)
        v = diff.idxmax() if yes is None else yes  # a yes/no flag: its yes share, high or low
        se = np.sqrt(base[v] * (1 - base[v]) / n)
        if abs(diff[v]) >= gap and abs(diff[v]) > z * se:
            what = f"{v} {share[v]:.0%}" if yes is None else f"{share[v]:.0%} yes"
            found.append((abs(diff[v]), f"{col}: {what} (all {base[v]:.0%})"))
    return [text for _, text in sorted(found, key=lambda t: -t[0])[:most]]


def _yes(values):
    """The "yes" of a 0/1 or False/True flag's values (1 or True), else None."""
    if len(values) == 2 and set(values) == {0, 1}:  # True == 1: booleans too
        return next(v for v in values if v == 1)
    return None


def rfm_mix_table(grid, seg, k):
    """Share of each segment's customers in each classic RFM grid segment."""
    from .features import RFM_SEGMENTS

    mix = pd.crosstab(pd.Series(seg, name="segment"), pd.Series(np.asarray(grid, dtype=object), name="RFM segment"),
                      normalize="index")
    order = [name for name, _, _ in RFM_SEGMENTS if name in mix.columns]
    order += [c for c in mix.columns if c not in order]  # any name outside the grid, last
    return mix.reindex(index=range(k), columns=order, fill_value=0.0)


def segment_names(centers, threshold=0.5, strong=1.25, most=3, numbered=True):
    """A short name per segment from its centre: the features furthest from average;
    with ``numbered``, a name that repeats gets its count, "(2)"."""
    names = {}
    for s, row in centers.iterrows():
        z = row.to_numpy()
        order = np.argsort(-np.abs(z))
        parts = [
            _describe(centers.columns[j], z[j] > 0, abs(z[j]) >= strong)
            for j in order[:most]
            if abs(z[j]) >= threshold
        ]
        names[s] = ", ".join(parts) if parts else "typical"
    return numbered_repeats(names) if numbered else names


def named_new(names, tenure, seg, k):
    """``names`` ({segment: name}) with "new" first in those of new customers' segments
    (``tenure``: days from each customer's first purchase, as :func:`fastseg.rfm` writes
    it; see ``NEW_DAYS``). "new" stands for the recency and tenure words it implies:
    "infrequent, recent, low spend" becomes "new, infrequent, low spend"."""
    days = pd.Series(np.asarray(tenure, dtype=float))
    whole = days.median()
    if not np.isfinite(whole) or whole <= 0:
        return dict(names)
    implied = {*_VOCAB["recency"][1::2], *_VOCAB["tenure"][1::2]}  # recent, very recent, newer, much newer
    out = dict(names)
    for s in range(k):
        median = days[seg == s].median()
        if np.isfinite(median) and median <= NEW_DAYS and median <= _NEW_SHARE * whole:
            rest = [p for p in str(names[s]).split(", ") if p not in implied and p != "typical"]
            out[s] = ", ".join(["new", *rest])
    return out


def numbered_repeats(names):
    """``{segment: name}`` with distinct names: the second "lapsed" becomes "lapsed (2)"."""
    out, seen = {}, {}
    for s, base in names.items():
        seen[base] = seen.get(base, 0) + 1
        out[s] = base if seen[base] == 1 else f"{base} ({seen[base]})"
    return out


def typical(values, logged=False):
    """The value a segment is compared on: the mean, or for a feature clustered in log1p
    units ``expm1`` of its mean log1p (about the geometric mean), which is where the
    k-means centre sits in original units and what a few very large values cannot pull
    far."""
    return float(np.expm1(np.log1p(values).mean())) if logged else float(values.mean())


def profile_table(data, seg, k, names, logged=()):
    """Per segment: name, size, share, and each column's mean, median and relative
    importance in the table's own units: the segment's :func:`typical` value over all
    customers', minus 1 (``logged``: the columns clustered in log1p units). A column
    with values below zero, or whose typical value is zero, has no relative importance
    (NaN): a ratio to an average near zero, or to one that values on both sides of zero
    make, says nothing (data centred on zero gave -2,769% and +6,241%)."""
    base = {f: typical(data[f], f in logged) if not (data[f] < 0).any() else np.nan for f in data.columns}
    rows = []
    for s in range(k):
        part = data[seg == s]
        row = {"name": names[s], "size": len(part), "share": len(part) / len(data)}
        for f in data.columns:
            row[f"{f} mean"] = part[f].mean()
            row[f"{f} median"] = part[f].median() if part[f].notna().any() else np.nan  # pandas 2: no warning
            row[f"{f} rel. importance"] = typical(part[f], f in logged) / base[f] - 1 if base[f] > 0 else np.nan
        rows.append(row)
    out = pd.DataFrame(rows)
    out.index.name = "segment"
    return out


def readable_number(v, digits=3):
    """A figure for a reader: whole numbers from 100 up, ``digits`` significant digits
    below, and no exponent but for tiny values (4,104 and 1,370,932, not 4.1e+03 or
    1.371e+06; 26.9, 6.48, 0.273)."""
    if abs(v) >= 100:
        return f"{v:,.0f}"
    return f"{v:.{digits}g}" if abs(v) >= 1e-3 or v == 0 else f"{v:.2e}"


def counted(n, noun):
    """ "1 segment", "5 segments", "1,989 customers"."""
    return f"{n:,} {noun}{'' if n == 1 else 's'}"
