"""Segmentation: what :meth:`fastseg.Segmenter.fit` returns. Labels, profiles, names,
rules and the evidence for k; new customers segmented by :meth:`Segmentation.predict`;
the summary, save and load.
"""

from __future__ import annotations

import pickle
from dataclasses import MISSING, dataclass, field, fields, replace

import numpy as np
import pandas as pd

from ._feature_pipeline import _default_index, _Prep, _text_columns
from ._outliers import outlying_text
from ._profiles import counted, segment_names, standouts
from ._twin_features import twins_text
from ._value_splits import value_splits_text
from ._value_share import percent
from ._version import __version__ as _version
from .features import RFM_ACTIONS
from .kmeans import KMeans
from .stability import STABLE
from .sweep import SweepResult

__all__ = ["Segmentation"]


_NOT_SEGMENTED = "not segmented: missing values"
NO_KNOWN_ITEM = "not segmented: no product the segments know"


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
        the ``snapshot`` Recency counts from, the ``attributes`` carried per customer,
        the ``mix`` of spend shares and the ``customers`` table joined
        (:func:`fastseg.join_customers`), when there are.
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
        :func:`fastseg.stability.segment_stability`. With k="auto" (and no ``sample``) the
        scores come from the refits k was chosen on (:attr:`k_stability`, one restart per
        k), so the two agree; with a given k, or on a sample, the segments are refitted
        with ``n_init`` restarts. None with ``Segmenter(stability=0)``.
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
    twins : list of (str, str, float)
        The pairs of features that move together, correlation 0.95 or more in size as
        k-means sees them (``total_spend`` and ``spend_incl_tax``): what each pair shares
        weighs twice. :meth:`summary` and the report name them; empty when none.
    value_splits : list of (str, dict, float)
        The features of a few values (2 to 10: ``Kidhome`` 0, 1, 2) that the segments
        follow, as ``(feature, {segment: [values]}, share)``: each value's customers in
        one segment, or each segment's in one value, for all but a few customers. Scaled,
        such a feature lies in clumps far apart and k-means cuts between them first;
        :meth:`summary` and the report say so and how to describe it instead. Empty
        when none (and with baskets).
    few_values_lead : (list of str, float) or None
        The features of 2 to 10 values and their share of the spread between the segment
        centres (the between-segment sum of squares, as k-means sees the features), if
        0.9 or more while other features were clustered on too (``Kidhome`` and
        ``Teenhome`` together, though the segments follow no one of them alone); else
        None. The summary names them when :attr:`value_splits` has not already.
    items : pandas.DataFrame or None
        What each segment buys markedly more often than the average customer: the
        :func:`fastseg.segment_items` table of the log the segments came from, set by
        :meth:`with_items`. The summary, :meth:`overview` and the report show it, and
        :meth:`save` keeps it, so ``fastseg predict --offers`` can offer its products to
        the customers of a newer log. None until :meth:`with_items`.
    k_stability : pandas.DataFrame or None
        With k="auto": the stability of every k of the sweep
        (:func:`fastseg.stability.k_stability`), the evidence k was chosen on
        (:func:`fastseg.stability.stable_pick`). None with a given k or ``stability=0``.
    basis : ItemBasis or None
        For segments found on what customers bought (``Segmenter.fit(table,
        baskets=b)``): the products the baskets were read over. :meth:`predict` and
        :meth:`distances` then need the new log's baskets. None: found on the features.
    fitted_names : dict or None
        The names given at fit time, which :attr:`descriptions` keeps after
        :meth:`rename` (None in segmentations saved before they were kept: read off
        :attr:`centers` again).
    clustered : scipy.sparse.csr_matrix or None
        With a :attr:`basis`: the rows k-means clustered (for the silhouette plot); not
        kept by :meth:`save`.
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
    twins: list = field(default_factory=list)
    value_splits: list = field(default_factory=list)
    few_values_lead: tuple | None = None
    items: pd.DataFrame | None = None
    k_stability: pd.DataFrame | None = None
    basis: object = None
    fitted_names: dict | None = None
    clustered: object = None

    def __getstate__(self):
        return {**self.__dict__, "clustered": None}  # a million customers' baskets: rebuilt from the log

    def __setstate__(self, state):
        # a segmentation saved by an older fastseg lacks the newer fields: their defaults
        for f in fields(self):
            if f.name not in state:
                state[f.name] = f.default_factory() if f.default_factory is not MISSING else f.default
        self.__dict__.update(state)

    def __repr__(self):
        return (f"Segmentation({len(self.labels):,} customers, {counted(self.k, 'segment')}, "
                f"features={self.features!r})")

    def predict(self, new_df, snapshot=None, baskets=None):
        """Segment of each row of a new customer table with the same feature columns.

        Parameters
        ----------
        new_df : pandas.DataFrame
        snapshot : date-like, optional
            For features read from date columns: the date their days are counted to.
            Default: the fit's (``prep.snapshot``), so "days since signup_date" means
            what it meant when the segments were found; a later table with later dates
            needs a later one.
        baskets : fastseg.Baskets, optional
            For segments found on what customers bought (:attr:`basis`), required:
            :func:`fastseg.baskets` of the log ``new_df`` came from. Products new
            since the fit are left out of the comparison.

        Returns
        -------
        pandas.DataFrame with ``segment`` and ``name``, indexed like ``new_df``, or by
        :attr:`id_column` when the fit was keyed by it, ``new_df`` has that column and
        plain row numbers for its index. When the segmentation was fitted with missing="drop", a row
        with a missing feature value gets no segment (``<NA>``) and the name
        "not segmented: missing values"; otherwise such a row is an error. With a
        :attr:`basis`, a customer who bought none of the products the segments were
        found on has no taste to compare: no segment, and the name "not segmented: no
        product the segments know".
        """
        new_df = self._checked(new_df, "Segmentation.predict's table", baskets)
        Z, ok, why = self._rows(new_df, snapshot, baskets)
        if ok.all():
            seg = self.model.predict(Z)
            return pd.DataFrame({"segment": seg, "name": [self.names[s] for s in seg]}, index=self._index(new_df))
        seg = pd.array(np.zeros(len(ok), dtype=np.int64), dtype="Int64")
        if ok.any():  # (none may be: a batch of new customers who all lack a value)
            seg[ok] = np.asarray(self.model.predict(Z), dtype=np.int64)
        seg[~ok] = pd.NA
        names = why.astype(object)
        names[ok] = [self.names[s] for s in seg[ok]]
        return pd.DataFrame({"segment": seg, "name": names}, index=self._index(new_df))

    def distances(self, new_df, snapshot=None, baskets=None):
        """Each customer's distance to the nearest segment centre, in the scaled feature
        space the segments were found in (standard deviations with scale="standard").

        Compared with :attr:`distance_q99` it tells how well new customers fit segments
        made from older ones: about 1% lie beyond it while the customers stay alike.

        Returns
        -------
        pandas.Series, indexed like :meth:`predict`'s result (NaN for a row with a
        missing feature value, with missing="drop"). ``snapshot`` and ``baskets`` as in
        :meth:`predict`; with a :attr:`basis` the distances are between basket rows.
        """
        new_df = self._checked(new_df, "Segmentation.distances' table", baskets)
        Z, ok, _ = self._rows(new_df, snapshot, baskets)
        d = np.full(len(ok), np.nan)
        if ok.any():
            d[ok] = np.asarray(self.model.transform(Z)).min(axis=1)
        return pd.Series(d, index=self._index(new_df), name="distance")

    def _rows(self, new_df, snapshot, baskets):
        """The rows the model assigns for ``new_df`` (its scaled features, or with a
        :attr:`basis` its customers' baskets), which customers have them, and for those
        who do not, why (the name they get)."""
        Z, ok = self.prep.apply(new_df, with_mask=True, snapshot=snapshot)
        why = np.where(ok, "", _NOT_SEGMENTED)
        if self.basis is not None:
            Z = self.basis.matrix(baskets, self._index(new_df)[ok])
            known = np.diff(Z.indptr) > 0
            if not known.all():
                at = np.flatnonzero(ok)[~known]
                ok, why = ok.copy(), why.astype(object)
                ok[at], why[at] = False, NO_KNOWN_ITEM
                Z = Z[known]
        return Z, ok, why

    def _checked(self, new_df, what, baskets=None):
        """``new_df`` with its columns named by text; a table from :func:`fastseg.rfm`
        without the share columns of the fit's ``mix``, or with its returns, currency or
        repeated rows handled otherwise, is told how to make it; with a :attr:`basis`,
        ``baskets`` is required."""
        if self.basis is not None and baskets is None:
            raise ValueError(f"the segments were found on what customers bought ({self.basis.text()}); give the new "
                             "log's baskets too: baskets=fastseg.baskets(log) (fastseg predict: --rfm with the log).")
        new_df = _text_columns(new_df, what)
        mix = (self.source or {}).get("mix")
        gone = [c for c in (mix or {}).get("columns", ()) if c in self.features and c not in new_df.columns]
        if gone:
            raise ValueError(f"the table has no {', '.join(map(repr, gone))}: the segments were found on shares of "
                             f"spend by {mix['column']!r}; make the table with rfm(log, mix={mix['column']!r}, "
                             f"mix_values=seg.source['mix']['values']) so its columns are the fit's.")
        if "cleaning" in new_df.attrs and "monetary" in self.features and self.source is not None:  # an rfm table
            from .features import rfm_choice

            for arg in ("returns", "duplicates"):
                fit, now = (rfm_choice(d, arg) for d in (self.source, new_df.attrs))
                if fit is not None and now is not None and fit != now:
                    raise ValueError(f"the table's monetary was computed with rfm({arg}={now!r}), the fit's with "
                                     f"{arg}={fit!r}; make the table with rfm(log, {arg}={fit!r}) so monetary means "
                                     "what it meant at the fit.")
            fit, now = ((d.get("currency") or {}).get("kept") for d in (self.source, new_df.attrs))
            if fit is not None and now is not None and fit != now:
                column = self.source["currency"]["column"]
                raise ValueError(f"the table's monetary is in {now}, the fit's in {fit}; make the table with "
                                 f"rfm(log, currency={fit!r}) so monetary is in the fit's currency ({column!r}).")
        joined = (self.source or {}).get("customers")
        gone = [c for c in (joined or {}).get("columns", ()) if c in self.features and c not in new_df.columns]
        if gone:
            raise ValueError(f"the table has no {', '.join(map(repr, gone))}: the segments were found on columns of a "
                             "customer table; join it to the new table first, fastseg.join_customers(table, "
                             "customers) (fastseg predict: --customers FILE).")
        return new_df

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
        return dict(self.fitted_names) if self.fitted_names is not None else segment_names(self.centers)

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
        items = None if self.items is None else self.items.assign(name=self.items["segment"].map(new))
        return replace(self, names=new, labels=labels, profiles=profiles, rules=rules, value=value, items=items)

    def with_items(self, baskets, *, top=5, min_buyers=10, fdr=0.05):
        """This segmentation with what each segment buys: :attr:`items`.

        Parameters
        ----------
        baskets : fastseg.Baskets
            :func:`fastseg.baskets` of the transaction log the segmented table came from
            (keyed by the same customer ids).
        top, min_buyers, fdr
            As for :func:`fastseg.segment_items`.

        Returns
        -------
        Segmentation
            A copy with :attr:`items` set; the segments are unchanged.
        """
        from .baskets import segment_items

        return replace(self, items=segment_items(baskets, self, top=top, min_buyers=min_buyers, fdr=fdr))

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
            :attr:`stability` the ``stability``; with :attr:`items`, ``buys more often``
            (the first three items, with their index).
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
        if self.items is not None:
            from .baskets import standout_text

            out["buys more often"] = [standout_text(self.items, s) for s in out.index]
        return out

    def _feature_warnings(self):
        """The sentences on features that weigh more than meant (twins, features of few
        values the segments follow), for the summary and the report."""
        lines = [twins_text(self.twins)] if self.twins else []
        if self.value_splits or self.few_values_lead:
            lines.append(value_splits_text(self.value_splits, self.few_values_lead))
        return lines

    def summary(self):
        """A few lines of text: k, why, and each segment's name and size."""
        lines = [f"{len(self.labels):,} customers in {counted(self.k, 'segment')} ({self.k_reason})."]
        if self.id_column is not None:
            lines.append(f"Labels keyed by {self.id_column}, the table's identifier column.")
        if self.basis is not None:
            lines.append(f"Segments found on {self.basis.text()}; {', '.join(map(str, self.features))} describe "
                         "and name them.")
        lines += _input_lines(self.features, self.left_out, self.read_as_numbers, *self._gaps(), self.totals_row,
                              self.prep)
        lines += self._feature_warnings()
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
                if "tenure median" in self.profiles.columns:  # new customers apart from old ones
                    line += f", median tenure {counted(round(self.profiles.loc[s, 'tenure median']), 'day')}"
            line += "".join(f"; {text}" for text in standouts(self.composition, self.profiles["size"], s))
            lines.append(line)
        if self.outlying:
            lines.append(outlying_text(self.outlying, self.profiles["size"]))
        if self.rules is not None and self.k > 1:
            lines.append("A rule to select each segment from the table (share of the segment it selects, "
                         "share of those selected in it):")
            lines += [f"  {s}: {row['rule']} — {row['coverage']:.0%} of it, {row['precision']:.0%} precise"
                      for s, row in self.rules.iterrows()]
        if self.items is not None:
            from .baskets import standout_text

            lines.append("Bought markedly more often than by the average customer (index: how many times as often):")
            lines += [f"  {s}: {standout_text(self.items, s) or 'nothing stands out'}" for s in self.profiles.index]
        return "\n".join(lines)


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
    if prep is not None and prep.missing_text():
        lines.append(prep.missing_text())
    if prep is not None and prep.bounds is not None:
        lines.append(prep.clip_text())
    if left_out:
        lines.append(f"Features: {', '.join(map(str, features))}; left out: {_left_out_text(left_out)} "
                     "(choose with features=[...] or --features).")
    if n_dropped:
        lines.append(f"{n_dropped:,} customers not segmented: a missing or infinite value in {dropped_in} "
                     "(missing='drop').")
    return lines


def _left_out_text(left):
    text = ", ".join(f"{c} ({why})" for c, why in left.items())
    if "dates" in left.values():  # a date column is one name away from a feature: say how
        text += "; a date column named as a feature is clustered on as the days since each date"
    return text
