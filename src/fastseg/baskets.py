"""What customers buy: a customer × item matrix read from a transaction log (SciPy
sparse, rows in :func:`fastseg.rfm`'s order), and the items that set each segment apart
from the average customer.

Which items a segment buys markedly more often than the rest is an over-representation
test per (segment, item): hypergeometric, as in enrichment analysis, with the
Benjamini–Hochberg false discovery rate over every pair tested, so among thousands of
products the few a segment really favours stand out and chance does not.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import scipy.sparse as sp

from ._currency import check_currency_choice
from ._dates import _snapshot_ns
from ._log_columns import guess_item_columns
from ._validation import listed_columns, require_frame
from .features import (_check_monetary, _index_as_columns, _mixed, _numeric, _per_customer_mode, _require,
                       _status_column, as_texts, check_duplicates_choice, clean_log, customer_codes, log_roles,
                       whole_numbers_as_ints)
from .log_join import check_joined_roles

__all__ = ["Baskets", "baskets", "segment_items", "recommend_items"]

VALUES = ("spend", "quantity", "lines")


@dataclass(frozen=True)
class Baskets:
    """What each customer bought: the result of :func:`baskets`.

    Attributes
    ----------
    matrix : scipy.sparse.csr_matrix of float64, shape (n_customers, n_items)
        Per customer and item the total :attr:`values` over the kept rows of the log;
        zero where the customer never bought the item. Rows are the customers of
        :func:`fastseg.rfm` on the same log, in its order, so ``rfm(log).index``
        labels them too; ``fastseg.KMeans`` fits it as it is (sparse).
    customers : pandas.Index
        The customer ids of the rows (named as the customer column).
    items : pandas.Index
        The item of each column, in order of first appearance in the log.
    item_names : pandas.Series or None
        Per item (indexed by :attr:`items`) its most frequent name in the names column
        (``Description``), when there is one.
    values : str
        What the matrix holds: "spend", "quantity" or "lines" (rows of the log).
    attrs : dict
        ``cleaning`` (rows each rule of :func:`fastseg.rfm` removed, and ``missing item``:
        kept rows without an item), ``columns`` (by role) and ``guessed`` (those read off
        their names).
    """

    matrix: sp.csr_matrix
    customers: pd.Index
    items: pd.Index
    item_names: pd.Series | None
    values: str
    attrs: dict

    @property
    def shape(self):
        return self.matrix.shape

    def buyers(self):
        """Per item how many customers bought it (a Series indexed by :attr:`items`)."""
        return pd.Series(np.bincount(self.matrix.indices, minlength=self.shape[1]), index=self.items, name="buyers")

    def __repr__(self):
        n, m = self.shape
        return (f"Baskets({n:,} customers × {m:,} items, {self.matrix.nnz:,} customer-item pairs, "
                f"values={self.values!r})")


def baskets(transactions, *, customer=None, date=None, invoice=None, amount=None, quantity=None, price=None,
            item=None, item_names=None, values="spend", exclude=None, dayfirst=None, currency=None, snapshot=None,
            since=None, duplicates="keep", status="auto", monetary=True):
    """Each customer's purchases per item, from a transaction log: a sparse matrix.

    The log is cleaned by :func:`fastseg.rfm`'s rules (missing customer, missing or
    unreadable date, before since, on or after the snapshot, another currency,
    cancelled invoice, status of no sale or not a purchase event, non-positive quantity, price or amount, and with
    ``duplicates="drop"`` duplicate row), so the rows are the same customers as
    ``rfm``'s, in the same order, and a segmentation of the RFM table lines up with them.

    Parameters
    ----------
    transactions : pandas.DataFrame
        One row per transaction line.
    customer, date, invoice, amount, quantity, price : str, optional
        The log's columns, as for :func:`fastseg.rfm` (read off their names when not
        given).
    item : str, optional
        The column of what was bought. By default read off its name: a product's code
        (``StockCode``, ``SKU``, ``ProductID``, ``item_id``) or, without one, its name
        (``Product``, ``Description``).
    item_names : str, optional
        A column of readable names for the items (``Description`` beside ``StockCode``),
        read off its name by default; each item gets its most frequent one.
    values : {"spend", "quantity", "lines"}, default="spend"
        What the matrix adds up: the spend (as rfm's Monetary), the quantity, or the
        rows of the log.
    exclude : list, optional
        Values of the item column that are no product to offer, left out of the matrix
        (its rows still count for the customers): the UCI log's ``POST`` (postage),
        ``DOT``, ``M`` (manual), ``BANK CHARGES``, ``AMAZONFEE``. The cleaning report
        counts their rows (``excluded items``); ``attrs["excluded"]`` lists those found.
    dayfirst : bool, optional
        How dates written as text are read, as for :func:`fastseg.rfm`.
    currency : str, optional
        The currency whose rows to keep, or "any", for a log with a column of
        currencies, as for :func:`fastseg.rfm` (give the two the same).
    snapshot : date-like, optional
        The rows dated at or after it are left out, as :func:`fastseg.rfm` leaves them
        out of the RFM as of that day (give the two the same).
    since : date-like, optional
        The rows dated before it are left out, as :func:`fastseg.rfm` leaves them out
        (give the two the same).
    duplicates : {"keep", "drop"}, default="keep"
        Whether rows equal to an earlier one are left out, as for :func:`fastseg.rfm`
        (give the two the same).
    status : "auto", str or None, default="auto"
        The column of order status whose rows of no sale (canceled, refunded ...) are
        left out, or of a shop's events whose rows of a purchase are kept, as for
        :func:`fastseg.rfm` (give the two the same).
    monetary : bool, default=True
        False: the log has no spend, as for ``rfm(monetary=False)`` (give the two the
        same): no spend column is looked for and no spend rule applies; ``values`` is
        then "lines".

    Returns
    -------
    Baskets

    Raises
    ------
    ValueError
        Missing columns (the available ones are listed), no column named like an item,
        an unknown ``values``, or every row removed by cleaning.

    Examples
    --------
    >>> from fastseg import baskets, datasets, rfm
    >>> log = datasets.online_retail(200)
    >>> b = baskets(log)  # StockCode, Description and the RFM columns read off their names
    >>> bool((b.customers == rfm(log).index).all())
    True
    """
    require_frame(transactions, "baskets' transactions")
    joined = transactions.attrs.get("joined")
    if values not in VALUES:
        raise ValueError(f"values must be one of {', '.join(map(repr, VALUES))}; got {values!r}.")
    transactions = _index_as_columns(transactions)
    _check_monetary(monetary, dict(amount=amount, quantity=quantity, price=price), "drop")
    if not monetary and values != "lines":
        raise ValueError(f"values={values!r} adds up the {values}, and monetary=False reads no spend; give "
                         "values='lines' (each item's count of purchases).")
    given, guessed = log_roles(transactions, dict(customer=customer, date=date, invoice=invoice, amount=amount,
                                                  quantity=quantity, price=price), spend=monetary)
    _require(transactions, [item, item_names])
    found = guess_item_columns(transactions, given.values(), item, item_names)
    if found[0] is None:
        raise ValueError("no column is named like the item bought (StockCode, SKU, ProductID, Product, "
                         "Description ...); name it with item= (--item). Columns: "
                         f"{listed_columns(transactions.columns)}.")
    guessed.update({role: col for role, col, was in zip(("item", "item_names"), found, (item, item_names))
                    if col is not None and was is None})
    item, item_names = found
    check_joined_roles(joined, {**given, "item": item})
    if values == "quantity" and given["quantity"] is None:
        raise ValueError(f"values='quantity' needs a quantity column, and the spend is read from the amount "
                         f"column {given['amount']!r}; give quantity= and price=, or values='spend'.")
    _require(transactions, [*given.values(), item, item_names])
    check_currency_choice(currency)
    check_duplicates_choice(duplicates)
    before = None if snapshot is None else _snapshot_ns(snapshot)[1]
    after = None if since is None else _snapshot_ns(since, "since")[1]
    status = _status_column(transactions, status, [*given.values(), item, item_names])
    keep, spend, _, report, _, _, money, _, _ = clean_log(transactions, dayfirst, **given, currency=currency,
                                                          before=before, after=after, duplicates=duplicates,
                                                          status=status)
    codes, uniques = customer_codes(transactions[given["customer"]], keep, report)
    icodes, items = _item_codes(transactions[item][keep])
    report["missing item"] = int((icodes < 0).sum())
    excluded = []
    if exclude is not None:
        listed = _as_list(exclude, "exclude")
        ids = pd.Index(np.asarray(items))
        out = ids.isin(listed) | ids.astype(str).isin([str(v) for v in listed])  # 85123 given as "85123"
        excluded = list(ids[out])
        report["excluded items"] = int(out[icodes[icodes >= 0]].sum())
        # the kept items numbered again from 0; an excluded or missing one (code -1, the last entry) is -1
        icodes = np.append(np.where(out, -1, np.cumsum(~out) - 1), -1)[icodes]
        items = items[~out]
    bought = icodes >= 0
    if not bought.any():
        raise ValueError(f"no kept row of the log names an item in column {item!r} that is not missing"
                         + (" or excluded" if excluded else "") + ".")
    if values == "spend":
        v = spend[keep]
    elif values == "quantity":
        v = _numeric(transactions, given["quantity"])[keep]
    else:
        v = np.ones(int(keep.sum()))
    n_items = len(items)
    matrix = sp.csr_matrix((np.asarray(v, dtype=np.float64)[bought], (codes[bought], icodes[bought])),
                           shape=(len(uniques), n_items))  # duplicate (customer, item) pairs are summed
    items = pd.Index(whole_numbers_as_ints(np.asarray(items)), name=item)
    names = None
    if item_names is not None:
        picked, _ = _per_customer_mode(transactions[item_names][keep][bought], icodes[bought], n_items)
        names = pd.Series(picked, index=items, name=item_names)
    return Baskets(
        matrix=matrix,
        customers=pd.Index(uniques, name=given["customer"]),
        items=items,
        item_names=names,
        values=values,
        attrs={"cleaning": report,
               "columns": {r: c for r, c in {**given, "item": item, "item_names": item_names}.items() if c is not None},
               "guessed": guessed, "excluded": excluded, **({"currency": money} if money else {})},
    )


def _item_codes(col):
    """Each row's item as a code (-1 where missing) and the items, with one spelling per
    item. pandas reads a large CSV in pieces and infers each piece's types, so a code
    column of numbers and letters (the UCI log's ``85123A`` beside ``22423``) can hold
    22423 in one piece and "22423" in another: two items to ``factorize``. The items of
    such a mixed column are read as text, whole numbers without a decimal point (on the
    distinct values, not every row); a column of one type is left as it is."""
    codes, items = pd.factorize(col)
    if not _mixed(items):
        return codes, items
    merged, items = pd.factorize(as_texts(items))
    return np.append(merged, -1)[codes], items  # a missing item (-1) stays -1


def _as_list(values, what):
    """A list of the values given: one value (text or a number) or several."""
    if isinstance(values, (str, bytes, int, float, np.integer, np.floating)):
        return [values]
    try:
        return list(values)
    except TypeError:
        raise TypeError(f"{what} must be a list of values; got {type(values).__name__}.") from None


def _check_baskets(baskets):
    if not isinstance(baskets, Baskets):
        raise TypeError(f"baskets must be what fastseg.baskets(log) returns; got {type(baskets).__name__} (a "
                        "fastseg.Baskets is needed).")


def _check_count(value, what):
    if not isinstance(value, (int, np.integer)) or isinstance(value, bool) or value < 1:
        raise ValueError(f"{what} must be a whole number >= 1; got {value!r}.")


def check_items_table(items):
    """Raise unless ``items`` has the columns of a :func:`segment_items` table."""
    missing = {"segment", "item", "index"} - set(getattr(items, "columns", ()))
    if missing:
        raise ValueError(f"items must be a fastseg.segment_items table; it lacks {', '.join(sorted(missing))}.")


def segment_items(baskets, labels, *, top=5, min_buyers=10, fdr=0.05):
    """The items each segment buys markedly more often than the average customer.

    For each segment and item, the share of the segment's customers who bought it is
    set against the share of all customers who did. An item stands out for a segment
    when at least ``min_buyers`` of its customers bought it, a larger share than of all
    customers, and a one-sided hypergeometric test (the chance that as many of a random
    set of that many customers bought it) keeps it at a false discovery rate of ``fdr``
    over every (segment, item) pair tested (Benjamini–Hochberg): the pairs of every
    item that ``min_buyers`` customers or more bought. Of those that stand out, the
    ``top`` with the highest ``index`` are listed per segment.

    Parameters
    ----------
    baskets : Baskets
        From :func:`baskets` on the log the segments came from.
    labels : Segmentation, pandas.DataFrame or pandas.Series
        A :class:`fastseg.Segmentation` (its labels and segment names), a DataFrame with
        a ``segment`` column (and ``name``), or a Series of segments, indexed by the
        customer ids of the baskets. Customers without a segment (NaN) are left out;
        labelled customers with no row in the baskets count as having bought nothing.
    top : int, default=5
        Items listed per segment, at most.
    min_buyers : int, default=10
        Customers who bought an item, at least: in all, for its pairs to be tested, and in
        the segment, for it to be listed (a share of a handful of customers says little).
    fdr : float, default=0.05
        The false discovery rate the items that stand out are held to, in (0, 1).

    Returns
    -------
    pandas.DataFrame
        One row per (segment, item) that stands out, segments in order, each
        segment's items by ``index``: ``segment``, ``name``, ``item``, the item's name
        (when the baskets have them), ``buyers`` (customers of the segment who bought
        it), ``share of segment`` (of its customers), ``share of all`` (of all
        labelled customers), ``index`` (share of segment over share of all: 2.0 buys it
        twice as often), ``share of <values>`` (the item's share of the segment's
        spend, quantity or lines) and ``q`` (the false discovery rate at which it
        stands out). ``attrs``: ``without`` (segments with no item that stands out),
        ``tested`` (pairs tested), ``customers``, ``not in baskets`` (labelled customers
        with no row in them), ``item names`` (the column of names, or None) and the
        thresholds.
    """
    from scipy.stats import hypergeom

    _check_baskets(baskets)
    _check_count(top, "top")
    _check_count(min_buyers, "min_buyers")
    if not isinstance(fdr, (int, float, np.floating)) or not 0 < fdr < 1:
        raise ValueError(f"fdr must be a number in (0, 1), such as 0.05; got {fdr!r}.")
    seg, names = _segments(labels)
    if not seg.index.is_unique:
        raise ValueError("labels has repeated customer ids; one row per customer is expected.")
    segments = np.sort(seg.unique())
    code = np.searchsorted(segments, seg.to_numpy())
    pos = seg.index.get_indexer(baskets.customers)
    inside = pos >= 0
    if not inside.any():
        raise ValueError(f"no customer of the labels is among the {baskets.shape[0]:,} customers of the baskets "
                         f"(ids such as {list(seg.index[:3])} against {list(baskets.customers[:3])}): are both "
                         "from the same log, keyed by the same customer id?")
    k, n = len(segments), len(seg)
    rows = baskets.matrix[np.flatnonzero(inside)]
    members = sp.csr_matrix((np.ones(rows.shape[0]), (code[pos[inside]], np.arange(rows.shape[0]))),
                            shape=(k, rows.shape[0]))
    bought = rows.copy()
    bought.data = (bought.data != 0).astype(np.float64)
    buyers = np.rint((members @ bought).toarray()).astype(np.int64)  # (k, items)
    amounts = (members @ rows).toarray()
    size = np.bincount(code, minlength=k)
    everyone = buyers.sum(axis=0)
    share_seg = buyers / size[:, None]
    share_all = everyone / n
    with np.errstate(divide="ignore", invalid="ignore"):
        index = share_seg / share_all
    # Every pair of an item with min_buyers buyers or more is a test: which are is known
    # before looking at the segments (it leaves the false discovery rate as it is). Only
    # the pairs that could be listed get their p-value; the rest count as 1, which can
    # only make fewer items stand out.
    tested = np.broadcast_to(everyone >= min_buyers, buyers.shape)
    listed = tested & (buyers >= min_buyers) & (index > 1)
    p = np.ones(buyers.shape)
    s_idx, i_idx = np.nonzero(listed)
    p[s_idx, i_idx] = hypergeom.sf(buyers[s_idx, i_idx] - 1, n, everyone[i_idx], size[s_idx])
    q = np.ones(buyers.shape)
    q[tested] = _benjamini_hochberg(p[tested])
    hit = q[s_idx, i_idx] <= fdr
    s_idx, i_idx = s_idx[hit], i_idx[hit]
    q = q[s_idx, i_idx]
    order = np.lexsort((-buyers[s_idx, i_idx], -index[s_idx, i_idx], s_idx))
    s_idx, i_idx, q = s_idx[order], i_idx[order], q[order]
    rank = np.arange(len(s_idx)) - np.searchsorted(s_idx, s_idx)
    keep = rank < top
    s_idx, i_idx, q = s_idx[keep], i_idx[keep], q[keep]
    totals = amounts.sum(axis=1)
    out = pd.DataFrame({"segment": segments[s_idx], "name": [names.get(s, str(s)) for s in segments[s_idx]],
                        "item": baskets.items[i_idx]})
    if baskets.item_names is not None:
        out[baskets.item_names.name] = baskets.item_names.to_numpy()[i_idx]
    out["buyers"] = buyers[s_idx, i_idx]
    out["share of segment"] = share_seg[s_idx, i_idx]
    out["share of all"] = share_all[i_idx]
    out["index"] = index[s_idx, i_idx]
    with np.errstate(divide="ignore", invalid="ignore"):
        out[f"share of {baskets.values}"] = amounts[s_idx, i_idx] / totals[s_idx]
    out["q"] = q
    listed_segments = set(out["segment"])
    out.attrs = {"without": [s for s in segments.tolist() if s not in listed_segments],
                 "tested": int(tested.sum()), "customers": n, "not in baskets": int(n - inside.sum()),
                 "min_buyers": min_buyers, "fdr": fdr, "top": top, "values": baskets.values,
                 "item names": None if baskets.item_names is None else baskets.item_names.name}
    return out


def recommend_items(baskets, labels, items, top=3):
    """For each customer, the items its segment buys markedly more often that it has not
    bought yet: a next offer per customer, for a campaign.

    Parameters
    ----------
    baskets : Baskets
        The customers' purchases (:func:`baskets`).
    labels : Segmentation, pandas.DataFrame or pandas.Series
        The segments, as for :func:`segment_items`.
    items : pandas.DataFrame
        :func:`segment_items` of these baskets and labels, or of those the segments were
        found on (a saved segmentation's :attr:`~fastseg.Segmentation.items`, offered
        to the customers of a newer log: an item no one in ``baskets`` bought is offered
        to all). Its order (each segment's items by index) is the order of preference.
        Ask it for more items per segment (``top=``) to have more to offer customers who
        bought the first ones.
    top : int, default=3
        Items offered per customer, at most.

    Returns
    -------
    pandas.DataFrame
        One row per (customer, offer), indexed by customer id, customers in the
        baskets' order: ``segment``, ``rank`` (1 first), ``item``, the item's name (when
        the baskets have them) and ``index`` (how many times as often the segment buys
        it). Labelled customers of the baskets with nothing to offer (their segment has
        no item that stands out, or they bought every one) have no row;
        ``attrs["customers without an offer"]`` counts them.
    """
    _check_baskets(baskets)
    _check_count(top, "top")
    check_items_table(items)
    column = baskets.items.get_indexer(items["item"])  # -1: nobody in these baskets bought it
    seg, _ = _segments(labels)
    pos = seg.index.get_indexer(baskets.customers)
    names = items.attrs.get("item names")
    labelled = np.flatnonzero(pos >= 0)
    segment_of = seg.to_numpy()[pos[labelled]]
    listed = items["segment"].to_numpy()
    parts, offered = [], np.zeros(baskets.shape[0], dtype=bool)
    for s in pd.unique(listed):
        at = np.flatnonzero(listed == s)  # the segment's items, best first
        rows = labelled[segment_of == s]
        free = np.ones((len(rows), len(at)), dtype=bool)  # (customers, a few items): not bought yet
        held = column[at] >= 0
        free[:, held] = baskets.matrix[rows][:, column[at][held]].toarray() == 0
        rank = np.cumsum(free, axis=1)
        r, c = np.nonzero(free & (rank <= top))
        offered[rows[r]] = True
        part = pd.DataFrame({"segment": s, "rank": rank[r, c], "item": items["item"].to_numpy()[at[c]]},
                            index=pd.Index(baskets.customers[rows[r]], name=baskets.customers.name))
        if names:
            part[names] = items[names].to_numpy()[at[c]]
        part["index"] = items["index"].to_numpy()[at[c]]
        parts.append(part.assign(_row=rows[r]))
    columns = ["segment", "rank", "item", *([names] if names else []), "index"]
    out = pd.concat(parts) if parts else pd.DataFrame({c: [] for c in [*columns, "_row"]})
    out = out.sort_values(["_row", "rank"], kind="stable").drop(columns="_row")
    out.attrs = {"customers without an offer": int(((pos >= 0) & ~offered).sum()), "top": top}
    return out


def standout_text(items, segment, most=3):
    """"WHITE HEART (3.1×), PARTY BUNTING (2.7×)": the first ``most`` items that stand out
    for ``segment`` in a :func:`segment_items` table, by name where it has names, with
    their index; "" when none does."""
    rows = items[items["segment"] == segment].head(most)
    what = rows[items.attrs.get("item names") or "item"]
    return ", ".join(f"{w} ({i:.1f}×)" for w, i in zip(what.astype(str), rows["index"]))


def _segments(labels):
    """The segment of each labelled customer (a Series, NaN dropped, whole numbers as
    ints) and the segment names."""
    from .segmentation import Segmentation

    names = {}
    if isinstance(labels, Segmentation):
        names = dict(labels.names)
        labels = labels.labels
    if isinstance(labels, pd.DataFrame):
        if "segment" not in labels.columns:
            raise ValueError(f"labels has no 'segment' column; columns: {', '.join(map(repr, labels.columns))}.")
        if "name" in labels.columns and not names:
            named = labels[["segment", "name"]].dropna().drop_duplicates("segment")
            names = dict(zip(named["segment"], named["name"]))
        labels = labels["segment"]
    if not isinstance(labels, pd.Series):
        raise TypeError(f"labels must be a fastseg.Segmentation, a DataFrame with a 'segment' column or a Series of "
                        f"segments indexed by customer id; got {type(labels).__name__}.")
    seg = labels.dropna()
    if not len(seg):
        raise ValueError("labels has no customer with a segment.")
    if pd.api.types.is_integer_dtype(seg.dtype) or (
            pd.api.types.is_float_dtype(seg.dtype) and np.all(np.mod(seg.to_numpy(), 1) == 0)):
        seg = seg.astype(np.int64)
    elif not pd.api.types.is_numeric_dtype(seg.dtype):
        seg = seg.astype(str)
    return seg, names


def _benjamini_hochberg(p):
    """Benjamini–Hochberg adjusted p-values (q-values) of ``p``, in its order (SciPy's
    ``false_discovery_control`` needs SciPy 1.11; 1.10 is supported)."""
    m = len(p)
    if m == 0:
        return np.asarray(p, dtype=float)
    order = np.argsort(p, kind="stable")
    scaled = p[order] * m / np.arange(1, m + 1)
    q = np.minimum.accumulate(scaled[::-1])[::-1]
    out = np.empty(m)
    out[order] = np.minimum(q, 1.0)
    return out
