"""Segmenter: a customer table in, named and explained segments out.

DataFrame → features → (log1p, scaling) → k chosen with evidence → k-means → profiles in
original units → a short descriptive name per segment. This layer never touches CuPy:
the engine is reached through :func:`fastseg.sweep` and :class:`fastseg.KMeans`.
"""

from __future__ import annotations

import math
import pickle
import warnings
from dataclasses import MISSING, dataclass, field, fields, replace

import numpy as np
import pandas as pd
from sklearn.exceptions import ConvergenceWarning

from ._validation import did_you_mean, require_frame
from ._version import __version__ as _version
from ._profiles import (MAX_LEVELS, composition_table, counted, is_categorical, is_flag, profile_table,
                        readable_number, rfm_mix_table, segment_names, standouts)
from ._log_columns import CUSTOMER_ID_NAME
from ._amounts import amounts_as_numbers
from ._column_roles import identifier_columns, looks_like_code, totals_row_position
from ._dates import _snapshot, dates_as_days, day_text, looks_like_dates
from .features import RFM_ACTIONS, RFM_COLUMNS
from .kmeans import KMeans
from .rules import segment_rules
from .stability import STABLE, segment_stability
from ._value_share import percent, spend_column, value_table
from .sweep import SweepResult, sweep

__all__ = ["Segmenter", "Segmentation"]

_RFM_FEATURES = ["recency", "frequency", "monetary"]

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

    def clip_text(self):
        """The sentence saying where the features were capped, and for how many customers."""
        caps = ", ".join(f"{f} {readable_number(lo)} to {readable_number(hi)}"
                         for f, lo, hi in zip(self.features, *self.bounds))
        return (f"Each feature capped at its {_percentiles_text(self.clip)} before scaling (clip={self.clip:g}): "
                f"{caps}; {counted(self.capped, 'customer')} with a value capped.")

    def dates_text(self):
        """The sentence saying which date columns were read as days, and to which date."""
        return (f"Dates read as the whole days from each to {day_text(self.snapshot)}: "
                + ", ".join(f"{old} as '{new}'" for old, new in self.dates.items()) + ".")

    def apply(self, df, with_mask=False, snapshot=None):
        """The scaled features of ``df``'s rows; with ``with_mask`` also which rows they are
        (with missing="drop", rows with a missing feature are left out). Date columns
        count their days to ``snapshot``, by default the fit's, so a feature means what
        it meant when the segments were found. A table that already holds a date's days
        (``"days since signup_date"``, as :attr:`Segmentation.data` does) is used as it is."""
        dated = [old for old, new in (self.dates or {}).items()  # not those described, nor days already counted
                 if new in self.features and not (new in df.columns and old not in df.columns)]
        if dated:
            source = {new: old for old, new in self.dates.items()}
            _check_columns(df, [source.get(f, f) for f in self.features])  # names the table's own columns
            df, _, _ = dates_as_days(df, dated, self.snapshot if snapshot is None else snapshot, self.dayfirst)
        df, _ = amounts_as_numbers(df, [f for f in self.features if f in df.columns])
        X, ok = _matrix(df, self.features, drop_missing=self.missing == "drop", fitted=True)
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


OUTLYING_Q = 0.01  # a segment most of whose customers lie beyond these percentiles of a feature is outlying


def outlying_segments(X, seg, k, features):
    """The segments most of whose customers lie beyond the 1st or 99th percentile of a
    feature: a few extreme customers that took a segment of their own.

    Parameters
    ----------
    X : ndarray of shape (n_customers, n_features), the features in their own units
    seg : ndarray of int, each customer's segment
    k : int
    features : list of str

    Returns
    -------
    dict
        ``{segment: [features]}`` for each such segment; empty when there is none.
    """
    lo, hi = np.quantile(X, [OUTLYING_Q, 1 - OUTLYING_Q], axis=0)
    beyond = (X < lo) | (X > hi)
    out = {}
    for s in range(k):
        share = beyond[seg == s].mean(axis=0)
        feats = [f for f, v in zip(features, share) if v > 0.5]
        if feats:
            out[s] = feats
    return out


def suggested_clip(outlying, sizes):
    """The ``clip`` that caps the customers of the outlying segments: their share of all
    customers, with a margin, in whole percent (at least 1%, below 50%)."""
    share = sum(int(sizes[s]) for s in outlying) / float(np.sum(sizes))
    return min(max(1, math.ceil(120 * share)), 49) / 100


def outlying_text(outlying, sizes):
    """The sentence naming the outlying segments and how to let them join the others."""
    parts = [f"{s} ({counted(int(sizes[s]), 'customer')}, beyond the 1st or 99th percentile of "
             f"{', '.join(map(str, feats))})" for s, feats in outlying.items()]
    q = suggested_clip(outlying, sizes)
    return (f"Segment{'s' if len(parts) > 1 else ''} {'; '.join(parts)}: a few extreme customers with a segment of "
            f"their own. clip={q:g} (--clip {q:g}) caps each feature at its {_percentiles_text(q)} before "
            "scaling, so they join the nearest segment.")


def _check_columns(df, features):
    missing = [f for f in features if f not in df.columns]
    if missing:
        hint = did_you_mean(missing, df.columns) or ";"
        raise ValueError(f"column(s) {', '.join(map(repr, missing))} not found{hint} available: "
                         f"{', '.join(map(repr, map(str, df.columns)))}.")


def _matrix(df, features, drop_missing=False, fitted=False):
    """The features of ``df`` as a float64 matrix (an own copy), and which rows it holds:
    every row, or with ``drop_missing`` those without a missing or infinite value.
    ``fitted``: the rows are new customers for a fitted segmentation (its errors say so)."""
    _check_columns(df, features)
    bad = [f for f in features if not (pd.api.types.is_numeric_dtype(df[f]) and not pd.api.types.is_bool_dtype(df[f]))]
    if bad:
        raise ValueError(
            f"feature column(s) {', '.join(map(repr, bad))} are not numeric, and k-means needs numbers: leave "
            "them out of the features, and each segment is described by its mix of them instead (describe=, "
            "--describe), or encode them as numbers first."
        )
    X = np.array(df[features].to_numpy(dtype=np.float64, na_value=np.nan), dtype=np.float64)  # own copy
    ok = np.isfinite(X).all(axis=1)
    empty = [f for j, f in enumerate(features) if not np.isfinite(X[:, j]).any()]
    if empty:
        raise ValueError(f"feature column(s) {', '.join(map(repr, empty))} hold no values (every one missing or "
                         "infinite); leave them out of the features.")
    if not ok.all():
        cols = ", ".join(repr(f) for j, f in enumerate(features) if not np.isfinite(X[:, j]).all())
        bad = f"{int((~ok).sum())} of {len(X)} rows have missing or infinite values in {cols}"
        if not drop_missing:  # at predict, missing= is the fit's choice: predict follows it
            fix = (". A segmentation fitted with missing='drop' (--missing drop) leaves such customers unsegmented "
                   "instead." if fitted else ", or leave those customers out of the segments with missing='drop' "
                   "(--missing drop).")
            raise ValueError(f"{bad}; fill or drop them first{fix}")
        if not ok.any():
            raise ValueError(f"{bad}: every row; fill them first.")
        X = X[ok]
    return X, ok


@dataclass(repr=False)
class Segmentation:
    """The result of :meth:`Segmenter.fit`.

    Attributes
    ----------
    labels : pandas.DataFrame
        One row per customer (indexed by the customer id): ``segment`` (int) and
        ``name``.
    k : int
    sweep : SweepResult or None
        The evidence behind k when k was chosen automatically.
    k_reason : str
    profiles : pandas.DataFrame
        One row per segment: name, size, share, and per feature the mean and the
        median in original units and the relative importance: the segment's typical
        value over all customers', minus 1. Typical is the mean, or for a feature
        clustered in log1p units ``expm1`` of the mean log1p (about the geometric mean),
        where the k-means centre sits: so a segment named "high spend" never reads below
        average because a few customers spend a hundred times more. NaN for a feature
        with values below zero (a ratio to an average near zero says nothing).
    names : dict segment → name
    centers : pandas.DataFrame
        Segment centres in the scaled feature space (standard deviations from the mean
        when scale="standard"): what the names are read from.
    features : list of str
    data : pandas.DataFrame
        The features of the customers that were segmented (original units).
    cleaning : dict or None
        The cleaning report when the table came from :func:`fastseg.rfm`.
    source : dict or None
        For a table from :func:`fastseg.rfm`: the log's ``columns`` by role, those
        ``guessed`` from their names, how numeric dates were read (``dates from``),
        the ``snapshot`` Recency counts from and the ``attributes`` carried per customer.
    id_column : str or None
        The identifier column the labels are keyed by, when the table had plain row
        numbers for its index (or the repeated ones ``pd.concat`` leaves) and one
        column named like an id with a distinct whole number per row (``CustomerID``,
        ``customer_id``, ...).
    left_out : dict or None
        Columns not used as features by default, each with the reason ("an
        identifier", "a row number", "dates", "not numeric", "no values", "one value").
    read_as_numbers : list of str
        Text columns read as numbers because every value is an amount written as text
        ("£1,234.50", "1.234,50 €", "1,234": a spreadsheet's currency column saved as
        CSV); :meth:`predict` reads them the same way.
    rfm_mix : pandas.DataFrame or None
        When the table came from :func:`fastseg.rfm` (it has ``rfm_segment``): per
        segment (rows) the share of its customers in each classic RFM grid segment
        (columns, in the grid's order), so the clusters can be read against the
        names marketing already uses.
    composition : dict
        For each categorical column described (see ``Segmenter(describe=...)``): a
        DataFrame of the share of each segment's customers (rows, then ``"all"``) at each
        of the column's values (columns: the most common values, then ``"other"`` and
        ``"(missing)"`` where there are such customers).
    not_segmented : pandas.Index or None
        With ``Segmenter(missing="drop")``: the customers left out of the segments for
        a missing or infinite feature value (not in :attr:`labels`).
    described : list of str
        The columns described besides the features: categorical ones in
        :attr:`composition`, numeric ones as mean, median and relative importance in
        :attr:`profiles`.
    distance_q99 : float or None
        The 99th percentile of the fitted customers' distances to their segment centre
        (in the scaled feature space): new customers beyond it fit the segments worse
        than 99% of those the segmentation was made from (see :meth:`distances`).
    rules : pandas.DataFrame or None
        Per segment a rule of at most three thresholds on the features, in original
        units (``recency <= 30 and frequency >= 5``), that selects its customers from the
        table, with ``query`` (the rule for :meth:`pandas.DataFrame.query`), ``selects``,
        ``coverage`` (share of the segment the rule selects) and ``precision`` (share of
        the selected customers in the segment); see :func:`fastseg.rules.segment_rules`.
    stability : pandas.DataFrame or None
        Per segment, how reliably k-means finds it again when refitted on other subsets
        of the customers: ``stability`` (mean best Jaccard similarity, 0.75 or more is
        stable) and ``dissolved`` (share of refits where it was not found); see
        :func:`fastseg.stability.segment_stability`. None with ``Segmenter(stability=0)``.
    value : pandas.DataFrame or None
        Where the money is: per segment ``name``, ``customers``, ``share of
        customers``, the ``total`` of :attr:`value_column` over its customers, its
        ``share of total``, ``per customer`` (the mean) and ``index`` (share of total
        over share of customers: 2.0 holds twice its share). None when no column of
        spend was found or named (``Segmenter(value=...)``).
    value_column : str or None
        The column of each customer's spend that :attr:`value` adds up.
    totals_row : label or None
        The index label of the row left out as a spreadsheet's totals row (its numbers
        the sums of the other rows; :func:`fastseg.features.totals_row`), or None.
    outlying : dict
        ``{segment: [features]}``: the segments most of whose customers lie beyond the
        1st or 99th percentile of those features, a few extreme customers with a segment
        of their own (:meth:`summary` says so, and how ``clip`` folds them in); empty
        when there is none, and always with ``Segmenter(clip=...)``.
    """

    labels: pd.DataFrame
    k: int
    sweep: SweepResult | None
    k_reason: str
    profiles: pd.DataFrame
    names: dict
    centers: pd.DataFrame
    features: list
    data: pd.DataFrame
    model: KMeans
    prep: _Prep
    params: dict = field(default_factory=dict)
    cleaning: dict | None = None
    version: str = _version
    id_column: str | None = None
    left_out: dict | None = None
    rfm_mix: pd.DataFrame | None = None
    distance_q99: float | None = None
    composition: dict = field(default_factory=dict)
    described: list = field(default_factory=list)
    not_segmented: pd.Index | None = None
    rules: pd.DataFrame | None = None
    stability: pd.DataFrame | None = None
    read_as_numbers: list = field(default_factory=list)
    source: dict | None = None
    value: pd.DataFrame | None = None
    value_column: str | None = None
    totals_row: object = None
    outlying: dict = field(default_factory=dict)

    def __setstate__(self, state):
        # a segmentation saved by an older fastseg lacks the newer fields: their defaults
        for f in fields(self):
            if f.name not in state:
                state[f.name] = f.default_factory() if f.default_factory is not MISSING else f.default
        self.__dict__.update(state)

    def __repr__(self):
        return (f"Segmentation({len(self.labels):,} customers, {counted(self.k, 'segment')}, "
                f"features={self.features!r})")

    def predict(self, new_df, snapshot=None):
        """Segment of each row of a new customer table with the same feature columns.

        Parameters
        ----------
        new_df : pandas.DataFrame
        snapshot : date-like, optional
            For features read from date columns: the date their days are counted to.
            Default: the fit's (``prep.snapshot``), so "days since signup_date" means
            what it meant when the segments were found; a later table with later dates
            needs a later one.

        Returns
        -------
        pandas.DataFrame with ``segment`` and ``name``, indexed like ``new_df``, or by
        :attr:`id_column` when the fit was keyed by it, ``new_df`` has that column and
        plain row numbers for its index. When the segmentation was fitted with missing="drop", a row
        with a missing feature value gets no segment (``<NA>``) and the name
        "not segmented: missing values"; otherwise such a row is an error.
        """
        new_df = _text_columns(new_df, "Segmentation.predict's table")
        Z, ok = self.prep.apply(new_df, with_mask=True, snapshot=snapshot)
        if ok.all():
            seg = self.model.predict(Z)
            return pd.DataFrame({"segment": seg, "name": [self.names[s] for s in seg]}, index=self._index(new_df))
        seg = pd.array(np.zeros(len(ok), dtype=np.int64), dtype="Int64")
        seg[ok] = np.asarray(self.model.predict(Z), dtype=np.int64)
        seg[~ok] = pd.NA
        names = np.full(len(ok), _NOT_SEGMENTED, dtype=object)
        names[ok] = [self.names[s] for s in seg[ok]]
        return pd.DataFrame({"segment": seg, "name": names}, index=self._index(new_df))

    def distances(self, new_df, snapshot=None):
        """Each customer's distance to the nearest segment centre, in the scaled feature
        space the segments were found in (standard deviations with scale="standard").

        Compared with :attr:`distance_q99` it tells how well new customers fit segments
        made from older ones: about 1% lie beyond it while the customers stay alike.

        Returns
        -------
        pandas.Series, indexed like :meth:`predict`'s result (NaN for a row with a
        missing feature value, with missing="drop"). ``snapshot`` as in :meth:`predict`.
        """
        new_df = _text_columns(new_df, "Segmentation.distances' table")
        Z, ok = self.prep.apply(new_df, with_mask=True, snapshot=snapshot)
        d = np.full(len(ok), np.nan)
        d[ok] = np.asarray(self.model.transform(Z)).min(axis=1)
        return pd.Series(d, index=self._index(new_df), name="distance")

    def transitions(self, new_labels):
        """How customers moved between segments from the fitted table to a newer one.

        Parameters
        ----------
        new_labels : pandas.DataFrame or pandas.Series
            :meth:`predict` of the newer table (or its ``segment`` column), indexed by
            the same customer ids as :attr:`labels`.

        Returns
        -------
        pandas.DataFrame
            Customer counts: rows the segment at fit time (then ``"not segmented"`` for
            the customers ``missing="drop"`` left out, and ``"new"`` for customers only in
            the newer table), columns the segment now (then ``"gone"``: customers only at
            fit time, and ``"not segmented"``: rows given no segment). The
            ``"not segmented"`` row and column appear when they hold anyone. Row and
            column labels are the segment numbers; :attr:`names` gives their names.

        Raises
        ------
        ValueError
            When no customer is in both: the tables are not keyed by the same ids.
        """
        after = new_labels["segment"] if isinstance(new_labels, pd.DataFrame) else pd.Series(new_labels)
        before = self.labels["segment"].astype(object)
        if self.not_segmented is not None and len(self.not_segmented):
            before = pd.concat([before, pd.Series("not segmented", index=self.not_segmented, dtype=object)])
        if not after.index.is_unique:
            raise ValueError("the new labels repeat customer ids; give one row per customer.")
        then, now = (ix.name or "the row number" for ix in (self.labels.index, after.index))
        if then != now:
            why = "the labels are keyed differently"
        elif not before.index.intersection(after.index).size:
            why = f"no customer of the new labels is among the {len(before):,} customers of the fit"
        else:
            why = None
        if why:
            raise ValueError(f"{why}: both must be keyed by the same customer id (the fit's labels by {then}, "
                             f"the new ones by {now}).")
        ids = before.index.union(after.index, sort=False)
        b = before.reindex(ids).where(ids.isin(before.index), "new")
        a = after.reindex(ids).astype(object)
        a = a.where(a.notna(), "not segmented").where(ids.isin(after.index), "gone")
        table = pd.crosstab(pd.Series(b.to_numpy(), name="from"), pd.Series(a.to_numpy(), name="to"))
        rows = [*range(self.k), "not segmented", "new"]
        cols = [*range(self.k), "gone", "not segmented"]
        table = table.reindex(index=rows, columns=cols, fill_value=0)
        if not table.loc["not segmented"].any():
            table = table.drop(index="not segmented")
        if not table["not segmented"].any():
            table = table.drop(columns="not segmented")
        return table

    def _index(self, new_df):
        # keyed as at fit time (the class default None covers segmentations saved before)
        if self.id_column is not None and self.id_column in new_df.columns and _default_index(new_df):
            return pd.Index(new_df[self.id_column], name=self.id_column)
        return new_df.index

    @property
    def descriptions(self):
        """Each segment's name as read off its centre ("very frequent, very high spend"),
        whatever :meth:`rename` has called it since."""
        return segment_names(self.centers)

    def titled(self, s):
        """Segment ``s``'s name, with its description in brackets when it was renamed:
        "VIPs (very frequent, very high spend)"."""
        own = self.descriptions[s]
        return self.names[s] if self.names[s] == own else f"{self.names[s]} ({own})"

    def rename(self, names):
        """This segmentation with segments renamed: the names marketing gives them.

        Parameters
        ----------
        names : dict
            ``{segment: new name}``, each segment by its number or its current name;
            segments not named keep theirs.

        Returns
        -------
        Segmentation
            A copy whose names, labels, profiles, rules, summary, report and
            predictions (:meth:`predict`, and after :meth:`save` ``fastseg predict``)
            carry the new names. The segments themselves are unchanged.
        """
        if not isinstance(names, dict):
            raise ValueError(f"rename takes a dict {{segment: new name}}; got {type(names).__name__}.")
        by_name = {v: s for s, v in self.names.items()}
        new = dict(self.names)
        for key, value in names.items():
            if isinstance(key, str) and key in by_name:
                s = by_name[key]
            elif isinstance(key, (int, np.integer)) and not isinstance(key, bool) and 0 <= key < self.k:
                s = int(key)
            else:
                raise ValueError(f"no segment {key!r} to rename: name one by its number, 0 to {self.k - 1}, or by "
                                 f"its current name ({', '.join(map(repr, self.names.values()))}).")
            if not isinstance(value, str) or not value.strip():
                raise ValueError(f"segment {s}'s new name must be non-empty text; got {value!r}.")
            new[s] = value.strip()
        repeated = sorted({v for v in new.values() if list(new.values()).count(v) > 1})
        if repeated:
            raise ValueError(f"two segments would be called {repeated[0]!r}; give each a name of its own.")
        labels = self.labels.assign(name=self.labels["segment"].map(new))
        profiles = self.profiles.assign(name=[new[s] for s in self.profiles.index])
        rules = None if self.rules is None else self.rules.assign(name=[new[s] for s in self.rules.index])
        value = None if self.value is None else self.value.assign(name=[new[s] for s in self.value.index])
        return replace(self, names=new, labels=labels, profiles=profiles, rules=rules, value=value)

    def save(self, path):
        """Write this segmentation to ``path`` (a pickle; load it with :meth:`load`)."""
        from ._io import atomic_write_bytes

        atomic_write_bytes(path, pickle.dumps(self, protocol=pickle.HIGHEST_PROTOCOL))

    @staticmethod
    def load(path):
        """Read a segmentation written by :meth:`save` (only load files you trust)."""
        with open(path, "rb") as f:
            obj = pickle.load(f)
        if not isinstance(obj, Segmentation):
            raise ValueError(f"{path} does not hold a fastseg Segmentation.")
        return obj

    def _gaps(self):
        """How many customers missing="drop" left out (0 when none) and the columns, as text."""
        if self.not_segmented is None or not len(self.not_segmented):
            return 0, ""
        return len(self.not_segmented), ", ".join(map(str, self.params.get("missing_in", self.features)))

    def overview(self):
        """One row per segment, everything marketing needs of it on one line: for a slide,
        a spreadsheet (``fastseg segment --segments FILE``) or a CRM.

        Returns
        -------
        pandas.DataFrame
            Indexed by segment: ``name``, ``description`` (read off its centre, as
            :attr:`descriptions`), ``customers``, ``share``; with :attr:`value` the
            ``share of <value column>`` and ``<value column> per customer``; each
            feature's median in original units; with :attr:`rfm_mix` the ``RFM grid``
            segment most of its customers are in ("Champions (88%)") and the
            ``suggested action`` marketing usually takes with that grid segment
            (:data:`fastseg.features.RFM_ACTIONS`); ``stands out``
            (the described values over-represented in it, as in :meth:`summary`); with
            :attr:`rules` the ``rule``, its ``coverage`` and ``precision``; with
            :attr:`stability` the ``stability``.
        """
        prof = self.profiles
        out = pd.DataFrame({"name": prof["name"], "description": [self.descriptions[s] for s in prof.index],
                            "customers": prof["size"].astype(np.int64), "share": prof["share"]}, index=prof.index)
        if self.value is not None:
            out[f"share of {self.value_column}"] = self.value["share of total"]
            out[f"{self.value_column} per customer"] = self.value["per customer"]
        for f in self.features:
            out[f"{f} median"] = prof[f"{f} median"]
        if self.rfm_mix is not None:
            top = self.rfm_mix.idxmax(axis=1)
            out["RFM grid"] = [f"{top[s]} ({self.rfm_mix.loc[s, top[s]]:.0%})" for s in out.index]
            out["suggested action"] = [RFM_ACTIONS.get(top[s], "") for s in out.index]
        out["stands out"] = ["; ".join(standouts(self.composition, prof["size"], s)) for s in out.index]
        if self.rules is not None:
            out[["rule", "coverage", "precision"]] = self.rules[["rule", "coverage", "precision"]]
        if self.stability is not None:
            out["stability"] = self.stability["stability"]
        return out

    def summary(self):
        """A few lines of text: k, why, and each segment's name and size."""
        lines = [f"{len(self.labels):,} customers in {counted(self.k, 'segment')} ({self.k_reason})."]
        if self.id_column is not None:
            lines.append(f"Labels keyed by {self.id_column}, the table's identifier column.")
        lines += _input_lines(self.features, self.left_out, self.read_as_numbers, *self._gaps(), self.totals_row,
                              self.prep)
        if self.described:
            lines.append(f"Described by segment, not clustered on: {', '.join(map(str, self.described))}.")
        if self.stability is not None and self.k > 1:
            stable = int((self.stability["stability"] >= STABLE).sum())
            lines.append(f"{stable} of {self.k} segments stable: found again when k-means is refitted on "
                         f"{self.params.get('stability', '')} subsets of the customers (mean Jaccard >= {STABLE}).")
        for s, row in self.profiles.iterrows():
            line = f"  {s}: {self.titled(s)} — {counted(int(row['size']), 'customer')} ({row['share']:.1%})"
            if self.value is not None:
                line += f", {percent(self.value.loc[s, 'share of total'])} of {self.value_column}"
            if self.stability is not None and self.k > 1 and self.stability.loc[s, "stability"] < STABLE:
                line += (f"; unstable (Jaccard {self.stability.loc[s, 'stability']:.2f}, not found in "
                         f"{self.stability.loc[s, 'dissolved']:.0%} of refits)")
            if self.rfm_mix is not None:
                top = self.rfm_mix.loc[s].idxmax()
                line += f"; RFM grid: mostly {top} ({self.rfm_mix.loc[s, top]:.0%})"
            line += "".join(f"; {text}" for text in standouts(self.composition, self.profiles["size"], s))
            lines.append(line)
        if self.outlying:
            lines.append(outlying_text(self.outlying, self.profiles["size"]))
        if self.rules is not None and self.k > 1:
            lines.append("A rule to select each segment from the table (share of the segment it selects, "
                         "share of those selected in it):")
            lines += [f"  {s}: {row['rule']} — {row['coverage']:.0%} of it, {row['precision']:.0%} precise"
                      for s, row in self.rules.iterrows()]
        return "\n".join(lines)


class Segmenter:
    """Segment customers: features → scaling → choice of k → k-means → named profiles.

    Parameters
    ----------
    features : list of str, optional
        Feature columns. Default: recency, frequency, monetary when present (a table
        from :func:`fastseg.rfm`), else every numeric column but identifiers, row
        numbers, dates kept as numbers, columns of two values and categories written
        as numbers (``Region``, ``Customer_Type``: see
        :func:`fastseg.features.looks_like_code`). Once scaled, a 0/1 flag
        ("responded") sits at two points far apart and k-means splits the customers on
        it alone, so flags and codes are described by segment instead (``describe``).
        A date column named here (``signup_date``) is clustered on as the whole days
        from each date to ``snapshot``, the feature ``"days since signup_date"``
        (:func:`fastseg.features.dates_as_days`); dates are never taken by default.
    transform : {"log1p", None}, default="log1p"
        log1p on every feature whose values are all >= 0 (spend and counts are
        heavy-tailed); features with negative values pass unchanged.
    scale : {"standard", "robust", None}, default="standard"
        Centre and scale each feature (mean/standard deviation, or median/IQR).
    k : "auto" or int, default="auto"
        Number of segments; "auto" sweeps ``k_range`` and takes the k that most of
        the knee, silhouette, Calinski–Harabasz and Davies–Bouldin agree on.
    k_range : iterable of int, default=range(2, 11)
    n_init : int, default=3
        k-means restarts per k.
    device : {"auto", "cpu", "gpu"}, default="auto"
    random_state : int or None, default=None
    progress : callable, optional
        Passed to :func:`fastseg.sweep`.
    stability : int, default=10
        Refits on subsets of the customers (80%, at most 100,000) that measure how
        stable each segment is (:attr:`Segmentation.stability`); 0 skips them.
    rules : bool, default=True
        Find a threshold rule per segment (:attr:`Segmentation.rules`).
    sample : int or None, default=None
        With k="auto" on a large table: choose k by a sweep fitted on this many random
        customers (every customer labelled and counted, :func:`fastseg.sweep` with
        ``refine=False``), then fit the chosen k on every customer from the sample's
        centres. None: the sweep fits every k on every customer.
    describe : "auto", list of str or None, default="auto"
        Columns that are not features but say who the customers of each segment are,
        profiled without taking part in the clustering: a categorical column (gender,
        country, channel) by the share of each segment at each value
        (:attr:`Segmentation.composition`, and the values that stand out in the
        summary), a numeric one by its mean, median and relative importance in the
        profiles. "auto" takes every categorical column (numeric ones of two values
        included) with 2 to 50 values and at
        least five customers per value on average (so not free text, names or
        e-mails) and, when ``features`` are given, the other numeric columns, leaving
        out identifiers and the columns :func:`fastseg.rfm` derives.
    value : "auto", str or None, default="auto"
        The column of each customer's spend, added up per segment into
        :attr:`Segmentation.value` ("13% of customers, 58% of monetary"); a feature or
        any other numeric column of the table. "auto": ``monetary`` in a table from
        :func:`fastseg.rfm`, else the one column named like spend with no value below
        zero (``total_spend``, ``Sales``, ``Revenue``; not ``Spending Score (1-100)``
        nor ``avg_spend``: see :func:`fastseg.features.looks_like_spend`), else none.
        None: no value shares.
    snapshot : date-like, optional
        The date the days since each date are counted to, for date columns named in
        ``features`` or ``describe``. Default: the latest date among them plus one
        day, as :func:`fastseg.rfm` counts Recency. :meth:`Segmentation.predict`
        counts to the same date unless given another.
    dayfirst : bool, optional
        Read those columns' text dates day first ("05/03/2024" is 5 March). Default:
        month first, unless day first reads more of them.
    clip : float, optional
        Cap each feature at its ``clip`` and ``1 - clip`` quantiles over the customers
        (0.01: the 1st and 99th percentiles) before the transform and scaling, so a few
        extreme customers join the nearest segment instead of taking one of their own
        or squeezing every other customer together. :meth:`Segmentation.predict` caps
        new customers at the same values; profiles and rules keep the values as they
        are. Default: no cap (the summary names a segment of such customers).
    """

    def __init__(self, features=None, transform="log1p", scale="standard", k="auto", k_range=range(2, 11),
                 n_init=3, device="auto", random_state=None, progress=None, describe="auto", missing="error",
                 stability=10, rules=True, sample=None, value="auto", snapshot=None,
                 dayfirst=None, clip=None):
        self.features = features
        self.transform = transform
        self.scale = scale
        self.k = k
        self.k_range = k_range
        self.n_init = n_init
        self.device = device
        self.random_state = random_state
        self.progress = progress
        self.describe = describe
        self.missing = missing
        self.stability = stability
        self.rules = rules
        self.sample = sample
        self.value = value
        self.snapshot = snapshot
        self.dayfirst = dayfirst
        self.clip = clip

    def _check(self):
        if self.transform not in ("log1p", None):
            raise ValueError(f"transform must be 'log1p' or None; got {self.transform!r}.")
        if self.scale not in ("standard", "robust", None):
            raise ValueError(f"scale must be 'standard', 'robust' or None; got {self.scale!r}.")
        if not (self.k == "auto" or (isinstance(self.k, (int, np.integer)) and self.k >= 1)):
            raise ValueError(f"k must be 'auto' or an int >= 1; got {self.k!r}.")
        if not isinstance(self.stability, (int, np.integer)) or isinstance(self.stability, bool) or self.stability < 0:
            raise ValueError(f"stability must be a whole number of refits >= 0 (0 skips them); got {self.stability!r}.")
        if not isinstance(self.rules, (bool, np.bool_)):
            raise ValueError(f"rules must be True or False; got {self.rules!r}.")
        if self.sample is not None and (not isinstance(self.sample, (int, np.integer)) or isinstance(self.sample, bool)
                                        or self.sample < 1):
            raise ValueError(f"sample must be a number of customers >= 1, or None for all; got {self.sample!r}.")
        if self.missing not in ("error", "drop"):
            raise ValueError(f"missing must be 'error' or 'drop'; got {self.missing!r}.")
        if not (self.describe is None or isinstance(self.describe, (str, list, tuple))):
            raise ValueError(f"describe must be 'auto', a list of columns or None; got {self.describe!r}.")
        if not (self.value is None or isinstance(self.value, (str, int, tuple))) or isinstance(self.value, bool):
            raise ValueError(f"value must be 'auto', a column name or None; got {self.value!r}.")
        if self.snapshot is not None:
            _snapshot(self.snapshot)  # a named error for a snapshot that is not a date
        if self.clip is not None and (isinstance(self.clip, (bool, np.bool_)) or not isinstance(self.clip, (int, float))
                                      or not 0 < self.clip < 0.5):
            raise ValueError(f"clip must be a share of the customers above 0 and below 0.5 (0.01 caps each feature "
                             f"at its 1st and 99th percentiles), or None for no cap; got {self.clip!r}.")

    def _described(self, df, features, renamed):
        """The columns to describe each segment by besides its features (``renamed``:
        the date columns read as days, by their new names)."""
        if self.describe is None:
            return []
        cols = self._named_described()
        if cols is not None:
            cols = [renamed.get(c, c) for c in cols]
            _check_columns(df, cols)
            both = [c for c in cols if c in features]
            if both:
                raise ValueError(f"column(s) {', '.join(map(repr, both))} are features already; describe=[...] "
                                 "takes the columns that are not.")
            return list(dict.fromkeys(cols))
        skip = set(features) | set(identifier_columns(df))
        if "rfm_segment" in df.columns:  # rfm's own columns: the features, their scores, the grid (rfm_mix)
            skip |= set(RFM_COLUMNS)
        out = []
        for c in df.columns:
            col = df[c]
            if c in skip or looks_like_dates(col):  # a date: named in describe=, profiled as days since
                continue
            if is_categorical(col):
                levels = col.nunique(dropna=True)
                if 2 <= levels <= min(MAX_LEVELS, len(col) / 5):  # a category, not free text
                    out.append(c)
            elif self._explicit() is not None:
                out.append(c)
        return out

    def _named_value(self):
        """The value column given by name, as a list (empty for "auto" or None)."""
        return [] if self.value is None or self.value == "auto" else [column_text(self.value)]

    def _value_column(self, df):
        """The column :attr:`Segmentation.value` adds up, or None; a named one checked."""
        if self.value is None:
            return None
        if not self._named_value():
            return spend_column(df)
        name, = self._named_value()
        _check_columns(df, [name])
        col = df[name]
        if not pd.api.types.is_numeric_dtype(col) or pd.api.types.is_bool_dtype(col):
            raise ValueError(f"value column {name!r} is not numeric ({col.dtype}); name a column of amounts "
                             "spent (value=..., --value), or None to skip the value shares.")
        return name

    def _explicit(self):
        if self.features is None:
            return None
        return [self.features] if isinstance(self.features, str) else [column_text(f) for f in self.features]

    def _named_described(self):
        """The columns ``describe`` names, or None ("auto", None, or a bad value :meth:`_check` names)."""
        if isinstance(self.describe, (list, tuple)):
            return [column_text(c) for c in self.describe]
        return [self.describe] if isinstance(self.describe, str) and self.describe != "auto" else None

    def _dates_as_days(self, df):
        """``df`` with the date columns named in ``features`` or ``describe`` read as days
        to the snapshot, ``{column: new name}`` and the snapshot (None without dates)."""
        named = dict.fromkeys([*(self._explicit() or ()), *(self._named_described() or ())])
        dated = [c for c in named if c in df.columns and looks_like_dates(df[c])]
        if not dated:
            return df, {}, None
        return dates_as_days(df, dated, self.snapshot, self.dayfirst)

    def _features(self, df, renamed):
        """The feature columns, and ``{column: why}`` of the columns a default choice left
        out (``renamed``: the date columns read as days, by their new names)."""
        explicit = self._explicit()
        if explicit is not None:
            return [renamed.get(f, f) for f in explicit], {}
        if all(f in df.columns for f in _RFM_FEATURES):
            return list(_RFM_FEATURES), {}
        ids = identifier_columns(df)
        num, left = [], {}
        for c in df.columns:
            if c in ids:
                left[c] = "an identifier" if ids[c] == "id" else "a row number"
            elif CUSTOMER_ID_NAME.fullmatch(str(c).strip()):  # a customer's id, repeated: still no amount
                left[c] = _repeated_id_text(df[c])
            elif not pd.api.types.is_numeric_dtype(df[c]) or pd.api.types.is_bool_dtype(df[c]):
                left[c] = "dates" if looks_like_dates(df[c]) else "not numeric"
            elif not df[c].min() < df[c].max():  # nothing to separate customers by (NaN is no value)
                left[c] = "no values" if df[c].isna().all() else "one value"
            elif looks_like_dates(df[c]):  # a date kept as a number (20240131): not an amount to cluster on
                left[c] = "dates"
            elif is_flag(df[c]):  # scaled, a 0/1 column splits the customers by itself: describe it instead
                left[c] = "a flag: two values"
            elif looks_like_code(df[c]):  # Region = 1, 2, 3: categories, not amounts
                left[c] = "a code: categories as numbers"
            else:
                num.append(c)
        if not num:
            why = f" (left out: {_left_out_text(left)})" if left else ""
            raise ValueError(f"the table has no numeric column to segment on{why}; name the columns to cluster on "
                             "with features=[...] (--features).")
        return num, left

    def _keyed(self, df):
        """``df`` indexed by its identifier column, and that column's name, when its index is
        row numbers (:func:`_default_index`) and exactly one column is named like an id and
        holds a distinct whole number per row; else ``df`` unchanged and None. Raises when
        the index the labels would be keyed by repeats a label."""
        require_frame(df, "Segmenter.fit's table")
        if not _default_index(df):
            return _unique_index(df), None
        chosen = self._explicit() or ()
        # before keying: the message lists every column of the table
        _check_columns(df, [*chosen, *(self._named_described() or ()), *self._named_value()])
        ids = [c for c, kind in identifier_columns(df).items() if kind == "id" and c not in chosen]
        if len(ids) != 1:
            return _unique_index(df), None
        key = df[ids[0]]
        if key.dtype.kind == "f":  # whole numbers held as floats (a NaN elsewhere made them so): ids, not 17.0
            df = df.assign(**{ids[0]: key.astype(np.int64)})
        return df.set_index(ids[0]), ids[0]

    def prepare(self, df, explain=False):
        """Validate ``df`` and build the feature matrix the clustering sees.

        Parameters
        ----------
        df : pandas.DataFrame
        explain : bool, default=False
            Also return lines of text, as :meth:`Segmentation.summary` has them, on
            the columns read as numbers, the features a default choice took and left
            out (and why), and the customers ``missing="drop"`` left out.

        Returns
        -------
        features : list of str
        prep : the fitted transform (applied again by ``Segmentation.predict``)
        Z : ndarray of shape (n_customers, n_features), transformed and scaled
        lines : list of str, with ``explain=True``
        """
        self._check()
        df, totals = _without_totals_row(df, "Segmenter.prepare's table")
        df, read_as_numbers = amounts_as_numbers(df)
        df, renamed, snapshot = self._dates_as_days(df)
        features, left_out, prep, Z, ok = self._prepare(df, renamed, snapshot)
        if not explain:
            return features, prep, Z
        dropped_in = ", ".join(map(str, _missing_in(df, features))) if not ok.all() else ""
        return features, prep, Z, _input_lines(features, left_out, read_as_numbers, int((~ok).sum()), dropped_in,
                                               totals, prep)

    def _prepare(self, df, renamed, snapshot):
        """:meth:`prepare`, the columns a default choice of features left out, and which
        rows Z holds (all, or with missing="drop" those without a missing value);
        ``renamed`` and ``snapshot`` as :meth:`_dates_as_days` gives them."""
        if len(df) < 2:
            raise ValueError(f"need at least 2 customers to segment; the table has {len(df)}.")
        features, left_out = self._features(df, renamed)
        X, ok = _matrix(df, features, drop_missing=self.missing == "drop")
        if len(X) < 2:
            raise ValueError(f"need at least 2 customers to segment; {len(X)} of {len(df)} have no missing value.")
        const = [f for j, f in enumerate(features) if np.ptp(X[:, j]) == 0]
        if const:
            raise ValueError(
                f"feature column(s) {', '.join(map(repr, const))} hold a single value for every customer, "
                "so they cannot separate segments; drop them from the features."
            )
        bounds, capped = None, 0
        if self.clip is not None:
            bounds = np.quantile(X, [self.clip, 1 - self.clip], axis=0)
            capped = int(((X < bounds[0]) | (X > bounds[1])).any(axis=1).sum())
            X = np.clip(X, *bounds)
            flat = [f for j, f in enumerate(features) if bounds[0, j] == bounds[1, j]]
            if flat:
                raise ValueError(f"clip={self.clip:g} caps feature column(s) {', '.join(map(repr, flat))} to a "
                                 "single value: more than all but a share of clip of the customers hold one value; "
                                 "lower clip, or drop the column from the features.")
        logged = []
        if self.transform == "log1p":
            for j, f in enumerate(features):
                if X[:, j].min() >= 0:
                    X[:, j] = np.log1p(X[:, j])
                    logged.append(f)
        if self.scale == "standard":
            center, scale = X.mean(axis=0), X.std(axis=0)
        elif self.scale == "robust":
            q1, med, q3 = np.percentile(X, [25, 50, 75], axis=0)
            center, scale = med, q3 - q1
            scale = np.where(scale > 0, scale, X.std(axis=0))
        else:
            center, scale = np.zeros(X.shape[1]), np.ones(X.shape[1])
        scale = np.where(scale > 0, scale, 1.0)
        prep = _Prep(features, logged, center, scale, self.missing, dates=renamed or None, snapshot=snapshot,
                     dayfirst=self.dayfirst, clip=self.clip, bounds=bounds, capped=capped)
        return features, left_out, prep, (X - center) / scale, ok

    def fit(self, df):
        """Segment the customers of ``df`` (one row per customer; the index is the id).

        When the index is the plain row number (or the repeated row numbers of
        ``pd.concat``) and one column is named like an id and holds a distinct whole
        number per row (``CustomerID``, ``customer_id``, ...), the labels are keyed by
        that column. An index that would key them and repeats a label is an error.
        With ``features=None``, identifier and row-number columns are left out of the
        features, as are non-numeric ones; :attr:`Segmentation.left_out` and
        :meth:`Segmentation.summary` say which.

        Returns
        -------
        Segmentation
        """
        self._check()
        df, totals = _without_totals_row(df, "Segmenter.fit's table")
        df, id_column = self._keyed(df)
        df, read_as_numbers = amounts_as_numbers(df)  # a spreadsheet's "£1,234.50" column: numbers, not text
        df, renamed, snapshot = self._dates_as_days(df)
        features, left_out, prep, Z, ok = self._prepare(df, renamed, snapshot)
        not_segmented = df.index[~ok] if self.missing == "drop" else None
        gaps = []  # the features with a missing value, when missing="drop" left customers out
        if not ok.all():
            gaps = _missing_in(df, features)
            df = df[ok]
        if id_column is not None and self.features is None:
            left_out = {id_column: "an identifier", **left_out}
        described = self._described(df, features, renamed)  # before the sweep: a wrong column fails at once
        value_column = self._value_column(df)

        sw = None
        if self.k == "auto":
            ks = [k for k in self.k_range if k <= len(df)]
            if not ks:
                raise ValueError(f"k_range {list(self.k_range)} has no k <= the {len(df)} customers; give a k_range "
                                 f"that starts at {len(df)} or below.")
            sampled = self.sample is not None and self.sample < len(df)
            if sampled and self.sample < ks[-1]:
                raise ValueError(f"sample={self.sample} customers is fewer than the largest k ({ks[-1]}) of k_range; "
                                 "raise sample or lower k_range.")
            sw = sweep(Z, k=ks, n_init=self.n_init, random_state=self.random_state, device=self.device,
                       progress=self.progress, sample=self.sample if sampled else None, refine=False)
            k = sw.best_k
            if k is None:
                sil = sw.metrics.get("silhouette", {})
                k = max(sil, key=sil.get) if sil else ks[0]
                reason = f"no method agreed ({sw.best_method}); fell back to k = {k}"
            else:
                reason = f"k chosen automatically: {sw.best_method}"
            if sampled:  # the chosen k, refined on every customer from the sample's centres
                reason += f"; chosen on a sample of {self.sample:,} customers"
                model = KMeans(k, init=np.asarray(sw.centers[k]), n_init=1, device=self.device).fit(Z)
            else:
                model = sw.kmeans(k)
        else:
            k = int(self.k)
            if k > len(df):
                raise ValueError(f"k={k} segments but only {len(df)} customers; lower k to {len(df)} or fewer.")
            with warnings.catch_warnings():  # fewer distinct customers than k: the error below says it
                warnings.simplefilter("ignore", ConvergenceWarning)
                model = KMeans(k, n_init=max(self.n_init, 1), random_state=self.random_state,
                               device=self.device).fit(Z)
            if (np.bincount(np.asarray(model.labels_), minlength=k).min() == 0
                    and (distinct := len(np.unique(Z, axis=0))) < k):
                raise ValueError(f"k={k} segments but the customers take only {distinct} distinct combinations of "
                                 f"the features' values, so a segment would be empty; lower k to {distinct} or "
                                 "fewer, or add features that tell the customers apart.")
            reason = "k given"
        seg = np.asarray(model.labels_)
        # order segments by size (0 = largest): stable numbering across runs
        order = np.argsort(-np.bincount(seg, minlength=k), kind="stable")
        remap = np.empty(k, dtype=np.int64)
        remap[order] = np.arange(k)
        seg = remap[seg]
        model.cluster_centers_ = model.cluster_centers_[order]
        model.labels_ = seg.astype(np.int32)
        q99 = float(np.quantile(np.asarray(model.transform(Z)).min(axis=1), 0.99))

        data = pd.DataFrame(df[features].to_numpy(dtype=float), columns=features, index=df.index)
        outlying = outlying_segments(data.to_numpy(), seg, k, features) if self.clip is None and k > 1 else {}
        centers = pd.DataFrame(model.cluster_centers_, columns=features)
        centers.index.name = "segment"
        names = segment_names(centers)
        numeric = [c for c in described if not is_categorical(df[c])]
        extra = pd.DataFrame({c: df[c].to_numpy(dtype=float, na_value=np.nan) for c in numeric}, index=df.index)
        profiles = profile_table(data.join(extra) if numeric else data, seg, k, names, logged=prep.logged)
        composition = {c: composition_table(df[c], seg, k) for c in described if c not in numeric}
        labels = pd.DataFrame({"segment": seg, "name": [names[s] for s in seg]}, index=df.index)
        rfm_mix = rfm_mix_table(df["rfm_segment"], seg, k) if "rfm_segment" in df.columns else None
        seed = self.random_state if isinstance(self.random_state, (int, np.integer)) else 0
        rules = segment_rules(data, seg, names=names, random_state=seed) if self.rules else None
        value = None if value_column is None else value_table(df[value_column], seg, k, names)
        stability = (segment_stability(Z, seg, k, n_resamples=self.stability, n_init=max(self.n_init, 1),
                                       random_state=seed, device=self.device) if self.stability else None)
        return Segmentation(
            labels=labels, k=k, sweep=sw, k_reason=reason, profiles=profiles, names=names, centers=centers,
            features=features, data=data, model=model, prep=prep,
            params=dict(transform=self.transform, scale=self.scale, k=self.k, n_init=self.n_init,
                        missing=self.missing, missing_in=gaps, stability=self.stability, sample=self.sample,
                        clip=self.clip),
            cleaning=df.attrs.get("cleaning"), source={k: df.attrs[k] for k in _SOURCE_ATTRS if k in df.attrs} or None,
            id_column=id_column, left_out=left_out, rfm_mix=rfm_mix, distance_q99=q99, composition=composition,
            described=described, not_segmented=not_segmented, rules=rules, stability=stability,
            read_as_numbers=read_as_numbers, value=value, value_column=value_column, totals_row=totals,
            outlying=outlying,
        )


_NOT_SEGMENTED = "not segmented: missing values"
_SOURCE_ATTRS = ("columns", "guessed", "dates from", "snapshot", "attributes")  # what rfm() says of the log it read


def _unique_index(df):
    """``df``, checked to give each customer an index label of its own: the labels are
    keyed by it, one row per customer."""
    ix = df.index
    if ix.is_unique:
        return df
    counts = ix.value_counts()
    rep = counts[counts > 1]
    label = rep.index[0]
    example = f"{label!r} on {rep.iloc[0]} rows" if isinstance(label, str) else f"{label} on {rep.iloc[0]} rows"
    if _default_index(df):  # row numbers, as pd.concat leaves them, and no id column to key by instead
        raise ValueError(f"the table's index repeats row numbers ({counted(len(rep), 'number')} on several rows, "
                         f"e.g. {example}; pd.concat without ignore_index=True leaves them so) and no column is a "
                         "customer id to key the labels by: pass df.reset_index(drop=True), or "
                         "df.set_index(<id column>) to key them by the ids.")
    raise ValueError(f"the table's index ({ix.name or 'unnamed'}) repeats {counted(len(rep), 'label')} "
                     f"(e.g. {example}); the labels are keyed by it, one row per customer: drop the repeats, "
                     "or use rfm for a transaction log.")


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


def _without_totals_row(df, what):
    """``df`` (checked to be a DataFrame, named ``what`` if not; its columns named by
    text) less a spreadsheet's totals row (:func:`fastseg.features.totals_row`), and
    its label or None."""
    df = _text_columns(df, what)
    r = totals_row_position(df)
    return (df, None) if r is None else (df.iloc[np.arange(len(df)) != r], df.index[r])


def totals_row_text(label):
    """The line that says a spreadsheet's totals row was left out."""
    return f"Row {label} left out: a totals row, each of its numbers the sum of the other rows'."


def _input_lines(features, left_out, read_as_numbers, n_dropped, dropped_in, totals=None, prep=None):
    """What the clustering was given: a totals row left out, columns read as numbers, date
    columns read as days, the features when a default choice left some out, and the
    customers missing="drop" left out."""
    lines = []
    if totals is not None:
        lines.append(totals_row_text(totals))
    if read_as_numbers:
        lines.append("Read as numbers (amounts and percentages written as text, such as '£1,234.50' or '35%'): "
                     f"{', '.join(map(str, read_as_numbers))}.")
    if prep is not None and prep.dates:
        lines.append(prep.dates_text())
    if prep is not None and prep.bounds is not None:
        lines.append(prep.clip_text())
    if left_out:
        lines.append(f"Features: {', '.join(map(str, features))}; left out: {_left_out_text(left_out)} "
                     "(choose with features=[...] or --features).")
    if n_dropped:
        lines.append(f"{n_dropped:,} customers not segmented: a missing or infinite value in {dropped_in} "
                     "(missing='drop').")
    return lines


def _missing_in(df, features):
    """The features with a missing or infinite value in ``df``."""
    return [f for f in features if not np.isfinite(df[f].to_numpy(dtype=float, na_value=np.nan)).all()]


def _repeated_id_text(col):
    """Why a customer id column that repeats is left out, with how many ids repeat."""
    counts = col.value_counts()
    rep = counts[counts > 1]
    if not len(rep):
        return "an identifier"  # (unique, but with missing values or not whole numbers)
    return (f"an identifier, repeated: {counted(len(rep), 'id')} on several rows, e.g. {rep.index[0]}; one row per "
            "customer is expected: drop the repeats, or use rfm for a transaction log")


def _left_out_text(left):
    text = ", ".join(f"{c} ({why})" for c, why in left.items())
    if "dates" in left.values():  # a date column is one name away from a feature: say how
        text += "; a date column named as a feature is clustered on as the days since each date"
    return text
