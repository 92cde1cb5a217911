"""Segments of a few extreme customers: found, named, and the ``clip`` that folds them
into the others (``Segmenter(clip=...)``)."""

from __future__ import annotations

import math

import numpy as np

from ._feature_pipeline import _percentiles_text
from ._profiles import counted


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
