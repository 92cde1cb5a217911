"""Segments that are no more than a feature's few values (``Kidhome`` 0 against 1 and 2).

Scaled, a whole-number feature of a few values puts its customers in clumps far apart,
and k-means cuts between the clumps before it looks at the other features: the segments
come out as the feature's values, whatever the rest holds. :class:`fastseg.Segmenter`
names such a feature (:attr:`Segmentation.value_splits`), and such features when together
they make the segments (:attr:`Segmentation.few_values_lead`), so the analyst can describe
them instead of clustering on them."""

from __future__ import annotations

import re

import numpy as np

MAX_VALUES = 10  # a feature of more values is no clump of few
FOLLOWS = 0.95  # Goodman and Kruskal's lambda at or above which one side all but names the other
LEADS = 0.9  # share of the spread between segments at or above which features of few values make them


def _lambda(table, axis):
    """Goodman and Kruskal's lambda: the share of the errors in guessing the other side's
    most common category that knowing the category along ``axis`` removes (0 to 1).

    ``table`` is value × segment counts; ``axis=0`` is segment given value, ``axis=1``
    value given segment."""
    n = table.sum()
    base = table.sum(axis=axis).max()
    return 0.0 if n == base else float((table.max(axis=1 - axis).sum() - base) / (n - base))


def value_splits(data, seg, k):
    """The features whose few values the segments follow.

    A feature of 2 to ``MAX_VALUES`` distinct values is named when its value all but
    names the segment (each value's customers in one segment: the segments are groups of
    its values) or the segment all but names its value (each segment holds one value:
    the segments split its values further): Goodman and Kruskal's lambda ``FOLLOWS`` or
    more, which a value held by nearly every customer cannot reach by itself.

    Parameters
    ----------
    data : pandas.DataFrame
        The features clustered on, in their own units, one row per segmented customer.
    seg : ndarray of int
        Each row's segment, 0 to ``k - 1``.
    k : int

    Returns
    -------
    list of (str, dict, float)
        ``(feature, {segment: [values]}, share)``: the values each segment holds, and
        the share of the customers that the mapping is true of; empty with fewer than
        two features or segments.
    """
    if k < 2 or data.shape[1] < 2:
        return []
    found = []
    for f in few_values(data):
        x = data[f].to_numpy(dtype=float)
        values, code = np.unique(x, return_inverse=True)
        table = np.bincount(code * k + seg, minlength=len(values) * k).reshape(len(values), k)
        by_value, by_segment = _lambda(table, 0), _lambda(table, 1)
        if max(by_value, by_segment) < FOLLOWS:
            continue
        if by_value >= by_segment:  # each value to the segment most of its customers are in
            owner = table.argmax(axis=1)
            held = {s: [_plain(v) for v, o in zip(values, owner) if o == s] for s in range(k)}
            share = table.max(axis=1).sum() / len(x)
        else:  # each segment to the value most of its customers hold
            held = {s: [_plain(values[table[:, s].argmax()])] for s in range(k)}
            share = table.max(axis=0).sum() / len(x)
        found.append((str(f), {s: v for s, v in held.items() if v}, float(share)))
    return found


def _plain(v):
    """A value as the table wrote it: 2, not 2.0."""
    return int(v) if float(v).is_integer() else float(v)


def _may_have_few_values(x):
    """False when the first rows of ``x`` already hold more than ``MAX_VALUES`` values: a
    million customers' spend is not sorted whole to learn it has many."""
    return len(np.unique(x[:1000])) <= MAX_VALUES


def few_values(data):
    """The features of ``data`` with 2 to ``MAX_VALUES`` distinct values."""
    return [f for f in data.columns
            if _may_have_few_values(x := data[f].to_numpy(dtype=float)) and 2 <= len(np.unique(x)) <= MAX_VALUES]


def few_values_lead(data, centers, sizes):
    """The features of few values, when together they hold nearly all of the spread
    between the segments (``Kidhome`` and ``Teenhome``, the other features next to
    nothing), though the segments may follow no one of them alone.

    Parameters
    ----------
    data : pandas.DataFrame
        The features clustered on, in their own units, one row per segmented customer.
    centers : ndarray of shape (k, n_features)
        The segment centres where k-means put them (transformed and scaled units).
    sizes : ndarray of shape (k,)
        Customers per segment.

    Returns
    -------
    (list of str, float) or None
        The features of 2 to ``MAX_VALUES`` values and their share of the between-segment
        sum of squares, when it is ``LEADS`` or more and other features were clustered on
        too; else None.
    """
    few = few_values(data)
    if not few or len(few) == data.shape[1] or len(sizes) < 2:
        return None
    centers, sizes = np.asarray(centers, dtype=float), np.asarray(sizes, dtype=float)
    mean = sizes @ centers / sizes.sum()
    between = sizes @ (centers - mean) ** 2
    share = float(between[[list(data.columns).index(f) for f in few]].sum() / between.sum())
    return (few, share) if share >= LEADS else None


def value_splits_text(splits, lead=None):
    """The sentence naming the features of few values the segments follow (``splits``, as
    :func:`value_splits` gives them, and ``lead``, as :func:`few_values_lead`), and what
    to do about them."""
    parts = []
    for f, held, share in splits:
        each = " · ".join(f"{s}: {f} {', '.join(f'{v:g}' for v in vs)}" for s, vs in held.items())
        parts.append(f"{f} ({each}; true of {share:.0%} of customers)")
    names = [f for f, _, _ in splits]
    said = []
    if parts:
        said.append(f"The segments follow the few values of {'; '.join(parts)}.")
    if lead is not None and not set(lead[0]) <= set(names):
        few, share = lead
        said.append(f"{_listed(few)}, {'a feature' if len(few) == 1 else 'features'} of 10 values or fewer, "
                    f"{'holds' if len(few) == 1 else 'hold'} {share:.0%} of the spread between the segments' centres.")
        names += [f for f in few if f not in names]
    if not said:
        return ""
    listed = ",".join(names)
    it = "it" if len(names) == 1 else "them"
    option = f'"{listed}"' if re.search(r"[\s\"'$&|;<>()]", listed) else listed
    return (" ".join(said) + " Scaled, such a feature lies in clumps far apart, and k-means cuts between them "
            f"before it weighs the rest. To find segments in the other features, describe {it} instead of "
            f"clustering on {it} (describe={names!r}, --describe {option}; with features given, leave {it} out of "
            "those too), unless these groups are the segments meant.")


def _listed(names):
    """a, b and c."""
    return names[0] if len(names) == 1 else f"{', '.join(names[:-1])} and {names[-1]}"
