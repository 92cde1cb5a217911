"""Segmenter: a customer table in, named and explained segments out.

DataFrame → features → (log1p, scaling) → k chosen with evidence → k-means → profiles in
original units → a short descriptive name per segment. This layer never touches CuPy:
the engine is reached through :func:`fastseg.sweep` and :class:`fastseg.KMeans`.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import scipy.sparse as sp
from sklearn.exceptions import ConvergenceWarning

from ._amounts import no_value_text, read_numbers
from ._column_roles import identifier_columns, looks_like_code, named_like_id, totals_row_position
from ._dates import DatesRead, _snapshot, looks_like_dates, read_dates_as_days
# _Prep and Segmentation are named here too: segmentations pickled before they moved load by these paths
from ._feature_pipeline import (_check_columns, _default_index, _matrix, _Prep, _text_columns, add_reasons,
                                column_text, log1p_evens_out, plain_numbers)
from ._item_basis import ItemBasis, named_by_items
from ._log_columns import CUSTOMER_ID_NAME, counts_spend
from ._outliers import outlying_segments
from ._profiles import (MAX_LEVELS, composition_table, counted, is_categorical, is_flag, named_new, numbered_repeats,
                        profile_table, rfm_mix_table, segment_names)
from ._sentinels import sentinel, sentinel_text
from ._twin_features import twin_features, twins_text
from ._value_splits import few_values_lead, value_splits
from ._validation import require_frame
from ._value_share import spend_column, value_table
from .baskets import _check_baskets, segment_items
from .features import RFM_COLUMNS
from .kmeans import KMeans
from .rules import segment_rules
from .segmentation import Segmentation, _input_lines, _left_out_text
from .stability import k_and_segment_stability, segment_stability, stable_pick
from .sweep import sweep

__all__ = ["Segmenter", "Segmentation"]

_RFM_FEATURES = ["recency", "frequency", "monetary"]


class Segmenter:
    """Segment customers: features → scaling → choice of k → k-means → named profiles.

    Parameters
    ----------
    features : list of str, optional
        Feature columns. Default: recency, frequency, monetary when present (a table
        from :func:`fastseg.rfm`; recency and frequency for ``rfm(monetary=False)``),
        with the spend shares of ``rfm(mix=...)`` where it
        made them (those some customer has, the rest left out as "one value"), else
        every numeric column but identifiers, row numbers, dates kept as numbers,
        columns of two values and categories written
        as numbers (``Region``, ``Customer_Type``: see
        :func:`fastseg.features.looks_like_code`). Once scaled, a 0/1 flag
        ("responded") sits at two points far apart and k-means splits the customers on
        it alone, so flags and codes are described by segment instead (``describe``).
        A date column named here (``signup_date``) is clustered on as the whole days
        from each date to ``snapshot``, the feature ``"days since signup_date"``
        (:func:`fastseg.features.dates_as_days`); dates are never taken by default.
    transform : {"auto", "log1p", None}, default="auto"
        "auto": log1p on each feature whose values are all >= 0 and which log1p makes
        more symmetric (a smaller skewness in size): spend, counts and recency, with
        their long right tails, not an evenly spread score or age, where it would
        squeeze the high values together and pull the low ones apart. "log1p": on every
        feature whose values are all >= 0. Features with negative values pass
        unchanged; :attr:`Segmentation.prep` ``.logged`` lists the features that got it.
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
        stable each segment is (:attr:`Segmentation.stability`); 0 skips them. With
        k="auto" they also weigh in on k: one sweep of every k per refit
        (:attr:`Segmentation.k_stability`), and k is the largest that a method of the
        sweep picks whose segments are all stable (:func:`fastseg.stability.stable_pick`),
        else the methods' vote (:attr:`SweepResult.best_k`; also with 0).
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
        e-mails) and, when ``features`` are given or the table is :func:`fastseg.rfm`'s
        (with a customer table's ``Age`` from :func:`fastseg.join_customers`), the
        other numeric columns, leaving out identifiers and the columns
        :func:`fastseg.rfm` derives. With ``features=None``, a column named here is left
        out of the features the segmenter chooses (``describe=["Kidhome"]``: describe a
        count of children instead of letting its few values split the customers, see
        :attr:`Segmentation.value_splits`); with ``features`` given, naming one of them
        is an error.
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
        ``features`` or ``describe``. Default: in a table from :func:`fastseg.rfm` (a
        customer table joined by :func:`fastseg.join_customers`), its snapshot, the day
        Recency counts to, unless a date is after it; else the latest date among them
        plus one day, as :func:`fastseg.rfm` counts Recency. :meth:`Segmentation.predict`
        counts to the same date unless given another (to a new RFM table's own snapshot,
        when the fit counted to its table's).
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
    missing : {"error", "drop"}, default="error"
        A customer with a missing or infinite feature value: an error that names the
        columns, or "drop": left out of the segments, listed in the labels without one
        (:attr:`Segmentation.not_segmented`); :meth:`Segmentation.predict` does the same
        with new customers.
    codes : bool, default=True
        Read the numbers a table writes for a value not known as missing: a feature's
        largest value when it is 99, 999, 9999, ... held by two customers or more and at
        least twice every other (an Age of 999), or its smallest when it is -1, -9, -99,
        ... and no other is negative (an income of -1); see
        :func:`fastseg._sentinels.sentinel`. Clustered on, those customers take a
        segment of their own and the others' groups merge. ``missing`` then decides, and
        the summary names them; :meth:`Segmentation.predict` reads a new customer's such
        number beyond the fitted range the same way. False keeps them as numbers. (The
        columns :func:`fastseg.rfm` computes hold no codes; dates have their own, see
        :func:`fastseg.features.dates_as_days`.)
    """

    def __init__(self, features=None, transform="auto", scale="standard", k="auto", k_range=range(2, 11),
                 n_init=3, device="auto", random_state=None, progress=None, describe="auto", missing="error",
                 stability=10, rules=True, sample=None, value="auto", snapshot=None,
                 dayfirst=None, clip=None, codes=True):
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
        self.codes = codes

    def _check(self):
        if self.transform not in ("auto", "log1p", None):
            raise ValueError(f"transform must be 'auto', 'log1p' or None; got {self.transform!r}.")
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
        if not isinstance(self.codes, (bool, np.bool_)):
            raise ValueError(f"codes must be True (read 999, -1 written for a value not known as missing) or False; "
                             f"got {self.codes!r}.")
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
        from_rfm = "rfm_segment" in df.columns
        if from_rfm:  # rfm's own columns: the features, their scores, the grid (rfm_mix)
            skip |= set(RFM_COLUMNS)
            if self._explicit() is None:  # the shares are the features, but for a flat one: nothing to describe
                skip |= set((df.attrs.get("mix") or {}).get("columns", ()))
        out = []
        for c in df.columns:
            col = df[c]
            if c in skip or looks_like_dates(col):  # a date: named in describe=, profiled as days since
                continue
            if is_categorical(col):
                levels = col.nunique(dropna=True)
                if 2 <= levels <= min(MAX_LEVELS, len(col) / 5):  # a category, not free text
                    out.append(c)
            elif self._explicit() is not None or from_rfm:  # from_rfm: a customer table's Age, joined
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
        """The date columns named in ``features`` or ``describe`` read as days to the
        snapshot (:class:`DatesRead`: ``df`` itself, no names and no snapshot without dates)."""
        named = dict.fromkeys([*(self._explicit() or ()), *(self._named_described() or ())])
        dated = [c for c in named if c in df.columns and looks_like_dates(df[c])]
        if not dated:
            return DatesRead(df, {}, None, {}, {})
        prefer = df.attrs.get("snapshot") if self.snapshot is None else None  # an RFM table's: Recency's day
        return read_dates_as_days(df, dated, self.snapshot, self.dayfirst, prefer=prefer)

    def _features(self, df, renamed):
        """The feature columns, and ``{column: why}`` of the columns a default choice left
        out (``renamed``: the date columns read as days, by their new names)."""
        explicit = self._explicit()
        if explicit is not None:
            return [renamed.get(f, f) for f in explicit], {}
        rfm = _rfm_features(df)
        if rfm:
            shares = [c for c in (df.attrs.get("mix") or {}).get("columns", ()) if c in df.columns]
            flat = [c for c in shares if not df[c].min() < df[c].max()]  # a kind no customer bought here
            return [*rfm, *(c for c in shares if c not in flat)], dict.fromkeys(flat, "one value")
        ids = identifier_columns(df)
        described = set(self._named_described() or ())  # named to describe: not clustered on as well
        num, left = [], {}
        for c in df.columns:
            if c in described:
                continue
            if c in ids:
                left[c] = "an identifier" if ids[c] == "id" else "a row number"
            elif named_like_id(c):  # an id that repeats (or has gaps): still a code, not an amount
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
        df, read_as_numbers, marks = read_numbers(df)
        dates = self._dates_as_days(df)
        df = dates.out
        df, features, left_out, prep, Z, ok = self._prepare(df, dates, marks)
        if not explain:
            return features, prep, Z
        dropped_in = ", ".join(map(str, _missing_in(df, features))) if not ok.all() else ""
        lines = _input_lines(features, left_out, read_as_numbers, int((~ok).sum()), dropped_in, totals, prep)
        twins = twin_features(Z, features)
        return features, prep, Z, lines + ([twins_text(twins)] if twins else [])

    def _prepare(self, df, dates, marks=None):
        """``df`` with the numbers written for a value not known read as missing
        (:func:`fastseg._sentinels.sentinel`), :meth:`prepare`, the columns a default choice
        of features left out, and which rows Z holds (all, or with missing="drop" those
        without a missing value); ``dates`` as :meth:`_dates_as_days` gives them, ``marks``
        the cells of text for no value :func:`read_numbers` read as missing."""
        if len(df) < 2:
            raise ValueError(f"need at least 2 customers to segment; the table has {len(df)}.")
        renamed, snapshot = dates.renamed, dates.snapshot
        features, left_out = self._features(df, renamed)
        coded = [f for f in features if f not in renamed.values() and f not in _COMPUTED] if self.codes else []
        df, codes = _codes_as_missing(df, coded)
        marks = {f: m for f, m in (marks or {}).items() if f in features}
        unknown = dates.unknown_by_feature()
        add_reasons(unknown, [*((f, no_value_text(f, m)) for f, m in marks.items()),
                              *((f, sentinel_text(f, *c)) for f, c in codes.items())])
        X, ok = _matrix(df, features, drop_missing=self.missing == "drop", unknown=unknown)
        span = {f: (X[:, j].min(), X[:, j].max()) for j, f in enumerate(features) if f in coded} or None
        if len(X) < 2:
            raise ValueError(f"need at least 2 customers to segment; {len(X)} of {len(df)} have no missing value.")
        const = [f for j, f in enumerate(features) if np.ptp(X[:, j]) == 0]
        if const:
            raise ValueError(_single_value_text(const, df))
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
        if self.transform is not None:
            for j, f in enumerate(features):
                if X[:, j].min() >= 0 and (self.transform == "log1p" or log1p_evens_out(X[:, j])):
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
        of_table = (snapshot is not None and self.snapshot is None and df.attrs.get("snapshot") is not None
                    and pd.Timestamp(df.attrs["snapshot"]) == snapshot)
        prep = _Prep(features, logged, center, scale, self.missing, dates=renamed or None, snapshot=snapshot,
                     dayfirst=self.dayfirst, clip=self.clip, bounds=bounds, capped=capped, snapshot_of_table=of_table,
                     unknown=dates.unknown or None, first=dates.first or None, codes=codes or None,
                     span=span, marks=marks or None)
        return df, features, left_out, prep, (X - center) / scale, ok

    def fit(self, df, baskets=None):
        """Segment the customers of ``df`` (one row per customer; the index is the id).

        Each segment is named from its centre by the features furthest from average
        ("very frequent, very high spend, very recent"). In a table from
        :func:`fastseg.rfm`, a segment of new customers (median ``tenure`` of at most
        90 days and a third of all customers' or less) is named "new" first, the word
        standing for "recent" ("new, infrequent, low spend").

        With ``baskets`` (:func:`fastseg.baskets` of the log ``df`` came from, as
        :func:`fastseg.rfm`), the segments are found on what each customer bought
        instead of on the features: bought-or-not rows over the products, scaled to unit
        length, so k-means compares customers by the cosine of their baskets. The
        features then describe the segments (profiles, the names read off them) and each
        name adds the product the segment favours most ("· buys WHITE HEART"); the items
        that stand out are in :attr:`Segmentation.items`. No rules are found (a segment
        of tastes is no threshold on R, F and M) and ``clip`` does not apply.

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
        if baskets is not None:
            _check_baskets(baskets)
            if self.clip is not None:
                raise ValueError("clip caps the features before they are clustered; with baskets the segments are "
                                 "found on what customers bought, so leave clip out.")
            if isinstance(self.device, str) and self.device not in ("auto", "cpu"):
                raise ValueError(f"device={self.device!r}: baskets are sparse rows, which the CPU engine runs; give "
                                 "device='cpu' or 'auto'.")
        df, totals = _without_totals_row(df, "Segmenter.fit's table")
        df, id_column = self._keyed(df)
        df, read_as_numbers, marks = read_numbers(df)  # a spreadsheet's "£1,234.50" column: numbers, not text
        dates = self._dates_as_days(df)
        df, renamed = dates.out, dates.renamed
        df, features, left_out, prep, Z, ok = self._prepare(df, dates, marks)
        not_segmented = df.index[~ok] if self.missing == "drop" else None
        gaps = []  # the features with a missing value, when missing="drop" left customers out
        if not ok.all():
            gaps = _missing_in(df, features)
            df = df[ok]
        if id_column is not None and self.features is None:
            left_out = {id_column: "an identifier", **left_out}
        twins = twin_features(Z, features) if baskets is None else []  # (with baskets they only describe)
        described = self._described(df, features, renamed)  # before the sweep: a wrong column fails at once
        if self.codes:  # a described Age of 999 is no age either: profiled without it
            df, more = _codes_as_missing(df, [c for c in described if c not in renamed.values() and c not in _COMPUTED
                                              and not is_categorical(df[c])])
            prep.codes = {**(prep.codes or {}), **more} or None
        prep.marks = {**(prep.marks or {}), **{c: marks[c] for c in described if c in marks}} or None
        value_column = self._value_column(df)
        basis = described_by = None
        if baskets is not None:  # found on the baskets; Z, the scaled features, describes the segments
            basis, described_by = ItemBasis.of(baskets), Z
            Z = basis.matrix(baskets, df.index)

        sw = k_stab = None
        refits = {}  # with k="auto": each k's segments' stability, from the refits k was chosen on
        seed = self.random_state if isinstance(self.random_state, (int, np.integer)) else 0
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
            if self.stability and len(ks) > 1:  # the evidence that finds k most often (bench/k_choice.py)
                k_stab, refits = k_and_segment_stability(Z, sw, n_resamples=self.stability, random_state=seed,
                                                         device=self.device)
                stable_k, why = stable_pick(sw, k_stab)
                if stable_k is not None:
                    k, reason = stable_k, f"k chosen automatically: {why}"
                else:
                    reason += f"; {why}"
            if sampled:  # the chosen k, refined on every customer from the sample's centres
                reason += f"; chosen on a sample of {self.sample:,} customers"
                model = KMeans(k, init=np.asarray(sw.centers[k]), n_init=1, device=self.device).fit(Z)
            else:
                model = sw.kmeans(k)
            if sampled or not np.array_equal(np.asarray(model.labels_), np.asarray(sw.labels[k])):
                refits = {}  # other segments than those the refits were compared with: refit them below
        else:
            k = int(self.k)
            if k > len(df):
                raise ValueError(f"k={k} segments but only {len(df)} customers; lower k to {len(df)} or fewer.")
            with warnings.catch_warnings():  # fewer distinct customers than k: the error below says it
                warnings.simplefilter("ignore", ConvergenceWarning)
                model = KMeans(k, n_init=max(self.n_init, 1), random_state=self.random_state,
                               device=self.device).fit(Z)
            if (np.bincount(np.asarray(model.labels_), minlength=k).min() == 0
                    and (distinct := _distinct_rows(Z)) < k):
                what = "baskets" if basis is not None else "combinations of the features' values"
                fix = "" if basis is not None else ", or add features that tell the customers apart"
                raise ValueError(f"k={k} segments but the customers take only {distinct} distinct {what}, so a "
                                 f"segment would be empty; lower k to {distinct} or fewer{fix}.")
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
        outlying = (outlying_segments(data.to_numpy(), seg, k, features)
                    if self.clip is None and k > 1 and basis is None else {})
        if basis is None:
            centers = pd.DataFrame(model.cluster_centers_, columns=features)
        else:  # where each segment's customers sit in the scaled features, which its name is read off
            centers = pd.DataFrame(described_by, columns=features).groupby(seg).mean().reindex(range(k))
        centers.index.name = "segment"
        names = segment_names(centers, numbered=False)
        if "tenure" in df.columns and "rfm_segment" in df.columns:  # rfm's: days since each first purchase
            names = named_new(names, df["tenure"].to_numpy(dtype=float, na_value=np.nan), seg, k)
        names = numbered_repeats(names) if basis is None else names
        items = None
        if basis is not None:
            items = segment_items(baskets, pd.Series(seg, index=df.index))
            names = named_by_items(names, items, items.attrs["item names"])
            items["name"] = items["segment"].map(names)
        numeric = [c for c in described if not is_categorical(df[c])]
        extra = pd.DataFrame({c: df[c].to_numpy(dtype=float, na_value=np.nan) for c in numeric}, index=df.index)
        profiles = profile_table(data.join(extra) if numeric else data, seg, k, names, logged=prep.logged)
        composition = {c: composition_table(df[c], seg, k) for c in described if c not in numeric}
        labels = pd.DataFrame({"segment": seg, "name": [names[s] for s in seg]}, index=df.index)
        rfm_mix = rfm_mix_table(df["rfm_segment"], seg, k) if "rfm_segment" in df.columns else None
        rules = segment_rules(data, seg, names=names, random_state=seed) if self.rules and basis is None else None
        value = None if value_column is None else value_table(df[value_column], seg, k, names)
        splits = value_splits(data, seg, k) if basis is None else []
        lead = few_values_lead(data, model.cluster_centers_, profiles["size"].to_numpy()) if basis is None else None
        if k in refits:  # the refits k was chosen on, the segments numbered by size
            stability = refits[k].iloc[order].set_axis(pd.RangeIndex(k, name="segment"))
        elif self.stability:
            stability = segment_stability(Z, seg, k, n_resamples=self.stability, n_init=max(self.n_init, 1),
                                          random_state=seed, device=self.device)
        else:
            stability = None
        return Segmentation(
            labels=labels, k=k, sweep=sw, k_reason=reason, profiles=profiles, names=names, centers=centers,
            features=features, data=data, model=model, prep=prep,
            params=dict(transform=self.transform, scale=self.scale, k=self.k, n_init=self.n_init,
                        missing=self.missing, missing_in=gaps, stability=self.stability, sample=self.sample,
                        clip=self.clip, codes=self.codes),
            cleaning=df.attrs.get("cleaning"), source={k: df.attrs[k] for k in _SOURCE_ATTRS if k in df.attrs} or None,
            id_column=id_column, left_out=left_out, rfm_mix=rfm_mix, distance_q99=q99, composition=composition,
            described=described, not_segmented=not_segmented, rules=rules, stability=stability,
            read_as_numbers=read_as_numbers, value=value, value_column=value_column, totals_row=totals,
            outlying=outlying, k_stability=k_stab, items=items, basis=basis, twins=twins,
            value_splits=splits, few_values_lead=lead, fitted_names=dict(names), clustered=Z if basis is not None else None,
        )


# what rfm() says of the log it read
_SOURCE_ATTRS = ("columns", "guessed", "dates from", "snapshot", "since", "attributes", "mix", "customers", "returns",
                 "currency", "duplicates", "status", "joined")


def _distinct_rows(Z):
    """How many distinct rows ``Z`` (dense, or a SciPy sparse matrix) has."""
    if sp.issparse(Z):
        Z = sp.csr_matrix(Z, copy=True)
        Z.sort_indices()  # on the copy: the caller's matrix keeps its order
        rows = {(Z.indices[a:b].tobytes(), Z.data[a:b].tobytes()) for a, b in zip(Z.indptr[:-1], Z.indptr[1:])}
        return len(rows)
    return len(np.unique(Z, axis=0))


def _unique_index(df):
    """``df``, checked to give each customer an index label of its own: the labels are
    keyed by it, one row per customer."""
    ix = df.index
    if ix.is_unique:
        return df
    counts = ix.value_counts()
    rep = counts[counts > 1]
    label = rep.index[0]
    example = f"{repr(label) if isinstance(label, str) else label} on {rep.iloc[0]} rows"
    if _default_index(df):  # row numbers, as pd.concat leaves them, and no id column to key by instead
        raise ValueError(f"the table's index repeats row numbers ({counted(len(rep), 'number')} on several rows, "
                         f"e.g. {example}; pd.concat without ignore_index=True leaves them so) and no column is a "
                         "customer id to key the labels by: pass df.reset_index(drop=True), or "
                         "df.set_index(<id column>) to key them by the ids.")
    raise ValueError(f"the table's index ({ix.name or 'unnamed'}) repeats {counted(len(rep), 'label')} "
                     f"(e.g. {example}); the labels are keyed by it, one row per customer: drop the repeats, "
                     "or use rfm for a transaction log.")


def _without_totals_row(df, what):
    """``df`` (checked to be a DataFrame, named ``what`` if not; its columns named by
    text) less a spreadsheet's totals row (:func:`fastseg.features.totals_row`), and
    its label or None."""
    df = _text_columns(df, what)
    r = totals_row_position(df)
    if r is None:
        return df, None
    return (df.iloc[:r] if r else df.iloc[1:]), df.index[r]  # a slice: row numbers stay a RangeIndex in pandas 2 too


def _codes_as_missing(df, features):
    """``df`` with each feature's code for a value not known (999, -1: :func:`sentinel`)
    read as NaN, and ``{feature: (code, rows, the others' bound)}``."""
    codes = {}
    for f in features:
        if f not in df.columns or not plain_numbers(df[f]):
            continue
        x = df[f].to_numpy(dtype=np.float64, na_value=np.nan)
        code = sentinel(x)
        if code is not None:
            rest = x[np.isfinite(x) & (x != code)]
            codes[f] = (code, int((x == code).sum()), rest.max() if code > 0 else rest.min())
    if codes:
        df = df.copy(deep=False)
        for f, (code, _, _) in codes.items():
            df[f] = df[f].where(df[f] != code)
    return df, codes


_COMPUTED = (*RFM_COLUMNS, "tenure")  # the columns fastseg.rfm computes hold no codes


def _missing_in(df, features):
    """The features with a missing or infinite value in ``df``."""
    return [f for f in features if not np.isfinite(df[f].to_numpy(dtype=float, na_value=np.nan)).all()]


def _rfm_features(df):
    """recency, frequency and monetary for a table with the three; recency and frequency
    for one :func:`fastseg.rfm` made without a spend (``monetary=False``: its
    ``attrs["columns"]`` name no amount, quantity or price); else []."""
    if all(f in df.columns for f in _RFM_FEATURES):
        return list(_RFM_FEATURES)
    columns = df.attrs.get("columns") or {}
    if {"customer", "date"} <= set(columns) and not counts_spend(columns) \
            and all(f in df.columns for f in ("recency", "frequency")):
        return ["recency", "frequency"]
    return []


def _single_value_text(const, df):
    """Why features of one value stop the fit, and the way out. A table from
    :func:`fastseg.rfm` with one Frequency for all is a log that names each customer
    on one invoice: either they all bought once, or the id is an order's (Olist's
    ``customer_id`` is new on every order)."""
    columns = df.attrs.get("columns") or {}
    if const != ["frequency"] or "customer" not in columns:
        return (f"feature column(s) {', '.join(map(repr, const))} hold a single value for every customer, so they "
                "cannot separate segments; drop them from the features.")
    cust, inv = columns["customer"], columns.get("invoice")
    n = int(df["frequency"].iloc[0])
    per = f"{counted(n, 'invoice')} ({inv!r})" if inv is not None else counted(n, "row")
    rest = [f for f in _RFM_FEATURES if f != "frequency" and f in df.columns]
    lasting = ("If that id is new on each order (Olist's customer_id is), give the customer's lasting id with "
               "customer= (--customer), joining the table that maps one to the other first (fastseg.join_log, "
               "--join FILE); else leave" if n == 1 else "Leave")
    return (f"frequency is {n} for every customer: each {cust!r} has {per} in the log. {lasting} frequency "
            f"out: features={rest} (--features {','.join(rest)}).")


def _repeated_id_text(col):
    """Why a column named like an id that does not key the rows is left out: for a
    customer's id, how many ids repeat; for another id (a store's, a region's), that its
    numbers are codes."""
    counts = col.value_counts()
    rep = counts[counts > 1]
    if not len(rep):
        return "an identifier"  # (unique, but with missing values or not whole numbers)
    if not CUSTOMER_ID_NAME.fullmatch(str(col.name).strip()) and len(rep) > len(counts) // 2:
        # most values shared (store_id): customers grouped by a code, as looks_like_code has it
        return "a code: categories as numbers"
    return (f"an identifier, repeated: {counted(len(rep), 'id')} on several rows, e.g. {rep.index[0]}; one row per "
            "customer is expected: drop the repeats, or use rfm for a transaction log")
