"""Segments found on what customers buy (``Segmenter.fit(table, baskets=b)``): each
customer's basket as the row k-means clusters, while the table's features describe and
name the segments.

A row is the customer's bought-or-not vector over the fit's products scaled to unit
length, so the squared distance between two customers is 2 − 2·cosine of their baskets:
a customer of 300 lines and one of 10 with the same tastes land together, and a few
repeated products cannot dominate a row (README, "Sparse data").
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import scipy.sparse as sp

from ._profiles import numbered_repeats

__all__ = ["ItemBasis"]

NAME_ITEM_CHARS = 32  # an item's name in a segment's name is cut to this many characters


@dataclass(frozen=True)
class ItemBasis:
    """The products a segmentation clusters on: the columns of its basket rows.

    Attributes
    ----------
    items : pandas.Index
        The products of the log the segments were found on, in the order of the
        columns k-means saw (:attr:`fastseg.Baskets.items`).
    item_column : str
        The log's column of products (``StockCode``), which ``fastseg predict`` reads
        a newer log's baskets from.
    """

    items: pd.Index
    item_column: str

    @classmethod
    def of(cls, baskets):
        """The basis of :func:`fastseg.baskets`' result."""
        return cls(items=baskets.items, item_column=baskets.attrs["columns"]["item"])

    def __len__(self):
        return len(self.items)

    def matrix(self, baskets, customers):
        """The rows k-means clusters for ``customers``: CSR, one row per customer, a
        column per item of :attr:`items`, 1 where the customer bought it, each row
        scaled to unit length.

        Items ``baskets`` holds and :attr:`items` does not (products new since the fit)
        are left out, so a new customer is compared on the products the segments know;
        one who bought none of them has a row of zeros.

        Raises
        ------
        TypeError
            ``baskets`` is not a :class:`fastseg.Baskets`.
        ValueError
            A customer has no row in ``baskets``.
        """
        from .baskets import _check_baskets
        from .features import as_texts

        _check_baskets(baskets)
        pos = baskets.customers.get_indexer(pd.Index(customers))
        if (pos < 0).any():
            gone = pd.Index(customers)[pos < 0]
            raise ValueError(f"{len(gone):,} customers of the table have no row in baskets (first: "
                             f"{', '.join(map(repr, gone[:3].tolist()))}); make the table and the baskets from "
                             "the same log: fastseg.rfm(log) and fastseg.baskets(log).")
        bought = (baskets.matrix[pos] > 0).astype(np.float64).tocsr()
        # each basket column's place in the fit's, -1 if new; matched as text, since a CSV read again can
        # give a code column of numbers where the fit's log had text, or the other way round
        cols = as_texts(self.items).get_indexer(as_texts(baskets.items))
        if not (len(cols) == len(self.items) and (cols == np.arange(len(cols))).all()):
            known = np.flatnonzero(cols >= 0)
            pick = sp.csr_matrix((np.ones(len(known)), (known, cols[known])), shape=(len(cols), len(self.items)))
            bought = (bought @ pick).tocsr()
        norms = np.sqrt(np.asarray(bought.sum(axis=1)).ravel())  # bought or not: the squared norm is the count
        scale = np.divide(1.0, norms, out=np.zeros_like(norms), where=norms > 0)
        return sp.csr_matrix(sp.diags(scale) @ bought)

    def text(self):
        """"what each customer bought: 1,810 products of column 'StockCode' (bought or
        not, compared by cosine)"."""
        return (f"what each customer bought: {len(self):,} products of column {self.item_column!r} "
                "(bought or not, compared by cosine)")


def named_by_items(names, items, names_column=None):
    """Segment names from the features' (``names``) followed by the product each segment
    favours most in ``items`` (a :func:`fastseg.segment_items` table), which is what
    tells segments found on baskets apart: "high spend, frequent · buys WHITE HEART"."""
    out = {}
    for s, base in names.items():
        rows = items[items["segment"] == s]
        if len(rows):
            what = str(rows.iloc[0][names_column or "item"])
            what = what if len(what) <= NAME_ITEM_CHARS else what[:NAME_ITEM_CHARS - 1].rstrip() + "…"
            out[s] = f"{base} · buys {what}"
        else:
            out[s] = f"{base} · no product stands out"
    return numbered_repeats(out)
