"""A plain rule per segment: a few thresholds on the features, in original units.

k-means segments are regions around centres; marketing tools (a CRM filter, a SQL
``WHERE``) select customers by thresholds. For each segment a shallow decision tree
separates its customers from the rest; the tree node whose conditions best match the
segment (F1 of the segment against the customers the conditions select, measured on
every customer) becomes the rule, its thresholds written with as few digits as select
the same customers. The rule comes with how much of the segment it finds and how many of
the customers it selects are in the segment, so a reader sees at once how far to trust it.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

__all__ = ["segment_rules"]

# A rule is a list of (column, op, value) conditions, all of which must hold; op is one of
# "<=", ">", ">=", written as such (ASCII, so a CSV of rules reads the same in any encoding).


def segment_rules(data, labels, *, names=None, max_conditions=3, digits=3, sample=100_000, random_state=0):
    """One threshold rule per segment, with how well it finds that segment.

    Parameters
    ----------
    data : pandas.DataFrame
        The features, one row per customer, in the units a reader knows (not scaled).
    labels : array-like of int, shape (n_customers,)
        Each customer's segment, 0 to k - 1.
    names : dict segment → str, optional
        Segment names, copied into the result.
    max_conditions : int, default=3
        Most comparisons per rule (the depth of each tree): ``31 <= recency <= 90`` is two.
    digits : int or None, default=3
        Most significant figures of a threshold on a column of decimals. Thresholds are
        written with the fewest figures that select the same customers as the tree's
        split; where that takes more than ``digits`` (many customers with close values)
        the threshold is rounded, and the scores are those of the rounded rule. None:
        always the same customers as the split. Whole-number columns get whole numbers.
    sample : int, default=100,000
        Customers of the segment, and customers outside it, each tree learns from at
        most (drawn at random); the rules are scored on every customer.
    random_state : int, default=0

    Returns
    -------
    pandas.DataFrame
        Indexed by segment: ``name`` (when ``names`` is given), ``rule`` (text, e.g.
        ``recency <= 30 and frequency >= 5``; ``everyone`` when no condition helps),
        ``query`` (the same rule for :meth:`pandas.DataFrame.query`), ``selects``
        (customers the rule selects), ``coverage`` (share of the segment's customers
        it selects) and ``precision`` (share of the customers it selects that are in
        the segment).
    """
    if not isinstance(max_conditions, (int, np.integer)) or max_conditions < 1:
        raise ValueError(f"max_conditions must be an int >= 1; got {max_conditions!r}.")
    if digits is not None and (not isinstance(digits, (int, np.integer)) or digits < 1):
        raise ValueError(f"digits must be an int >= 1 or None; got {digits!r}.")
    if not isinstance(sample, (int, np.integer)) or sample < 1:
        raise ValueError(f"sample must be an int >= 1; got {sample!r}.")
    labels = np.asarray(labels)
    if len(labels) != len(data):
        raise ValueError(f"labels has {len(labels)} entries for {len(data)} customers.")
    bad = [c for c in data.columns if not pd.api.types.is_numeric_dtype(data[c]) or pd.api.types.is_bool_dtype(data[c])]
    if bad:
        raise ValueError(f"rules are thresholds on numeric columns; {', '.join(map(repr, bad))} "
                         f"{'is' if len(bad) == 1 else 'are'} not numeric: leave {'it' if len(bad) == 1 else 'them'} out.")
    X = data.to_numpy(dtype=np.float64, na_value=np.nan)
    if not np.isfinite(X).all():
        cols = [c for j, c in enumerate(data.columns) if not np.isfinite(X[:, j]).all()]
        raise ValueError(f"column(s) {', '.join(map(repr, cols))} have missing or infinite values; rules need "
                         "every value: drop or fill those rows first.")
    whole = [bool(np.all(np.floor(X[:, j]) == X[:, j])) for j in range(X.shape[1])]
    k = int(labels.max()) + 1 if len(labels) else 0
    rng = np.random.default_rng(random_state)
    columns = list(data.columns)
    rows = []
    for s in range(k):
        inside = labels == s
        conds = _readable(X, _best_rule(X, inside, max_conditions, sample, rng), whole, digits)
        picked = _select(X, conds)
        hit = int(np.count_nonzero(picked & inside))
        named = [(columns[f], op, v) for f, op, v in conds]
        row = {"name": names[s]} if names is not None else {}
        row.update(rule=_text(named), query=_query(named), selects=int(picked.sum()),
                   coverage=hit / max(int(inside.sum()), 1), precision=hit / max(int(picked.sum()), 1))
        rows.append(row)
    return pd.DataFrame(rows, index=pd.RangeIndex(k, name="segment"))


def _best_rule(X, inside, depth, sample, rng):
    """The conditions (column, op, threshold), among those leading to each node of a tree
    fitted to ``inside``, with the highest F1 on all rows (ties: fewer conditions)."""
    from sklearn.tree import DecisionTreeClassifier

    n_in = int(inside.sum())
    if n_in in (0, len(inside)):
        return []
    pos, neg = np.flatnonzero(inside), np.flatnonzero(~inside)
    if len(pos) > sample:
        pos = rng.choice(pos, sample, replace=False)
    if len(neg) > sample:
        neg = rng.choice(neg, sample, replace=False)
    idx = np.concatenate([pos, neg])
    leaf = max(1, min(len(pos), len(neg)) // 50)  # no rule for a handful of customers
    big = float(np.finfo(np.float32).max)  # the tree works in float32: beyond its range, its largest value
    tree = DecisionTreeClassifier(max_depth=depth, min_samples_leaf=leaf, class_weight="balanced",
                                  random_state=0).fit(np.clip(X[idx], -big, big), inside[idx])
    best, best_key = [], None
    for conds in _nodes(tree.tree_):
        picked = _select(X, conds)
        f1 = 2 * np.count_nonzero(picked & inside) / (picked.sum() + n_in)
        key = (f1, -len(conds))
        if best_key is None or key > best_key:
            best, best_key = conds, key
    return best


def _nodes(t):
    """For each node of a fitted sklearn tree, the conditions that lead to it: at most one
    lower (x > lo) and one upper (x <= hi) bound per column."""
    out, stack = [], [(0, {})]
    while stack:
        i, box = stack.pop()
        out.append([(f, op, v) for f in sorted(box) for op, v in zip((">", "<="), box[f]) if not math.isinf(v)])
        left, right = t.children_left[i], t.children_right[i]
        if left < 0:
            continue
        f, thr = int(t.feature[i]), float(t.threshold[i])
        lo, hi = box.get(f, (-math.inf, math.inf))
        stack.append((left, {**box, f: (lo, min(hi, thr))}))
        stack.append((right, {**box, f: (max(lo, thr), hi)}))
    return out


def _readable(X, conds, whole, digits=None):
    """The same rule in fewer digits and conditions.

    Among the rows the other conditions select, any threshold between the values either
    side of a condition's threshold selects the same rows, so the one with the fewest
    significant digits is taken (x <= 0.5, not x <= 0.4987); a column of whole numbers gets
    whole-number bounds (x > 4.5 is x >= 5); a condition that those rows all meet is dropped.
    One condition at a time, so each step keeps the selection exactly, except where a
    decimal threshold would need more than ``digits`` significant figures (dense data):
    it is rounded to ``digits`` and the rule selects a few rows more or fewer.
    """
    conds = list(conds)
    if not _select(X, conds).any():
        return conds
    i = 0
    while i < len(conds):
        f, op, t = conds[i]
        x = X[_select(X, conds[:i] + conds[i + 1:]), f]
        below, above = x[x <= t], x[x > t]
        if (below if op == ">" else above).size == 0:
            del conds[i]  # every row the others select meets it
            continue
        below, above = float(below.max()), float(above.min())
        if not whole[f]:
            v = _shortest(below, above, digits=digits)
            conds[i] = (f, op, float(f"{t:.{digits}g}") if v is None else v)
        elif op == ">":
            conds[i] = (f, ">=", _shortest(below + 1, above + 1, whole=True))
        else:
            conds[i] = (f, "<=", _shortest(below, above, whole=True))
        i += 1
    return conds


def _shortest(lo, hi, whole=False, digits=None):
    """The number in [lo, hi) with the fewest significant digits (a whole one if ``whole``);
    None when it needs more than ``digits``."""
    top = math.floor(math.log10(max(abs(lo), abs(hi)))) + 1
    for e in range(top, top - (17 if digits is None else digits + 1), -1):
        if whole and e < 0:
            break
        t = round(math.ceil(lo / 10.0 ** e) * 10.0 ** e, max(-e, 0)) + 0.0  # + 0.0: no "-0"
        if lo <= t < hi:
            return int(t) if whole else t
    return lo if digits is None else None


def _select(X, conds):
    """Rows meeting every (column, op, value) condition."""
    picked = np.ones(len(X), dtype=bool)
    for f, op, v in conds:
        x = X[:, f]
        picked &= (x <= v) if op == "<=" else (x > v) if op == ">" else (x >= v)
    return picked


def _number(v):
    if float(v).is_integer() and abs(v) < 1e15:
        return f"{int(v):,}"
    return f"{v:,}" if 1e-4 <= abs(v) < 1e15 else repr(float(v))


def _text(conds):
    """``31 <= recency <= 90 and monetary > 1,200``: one interval per feature."""
    if not conds:
        return "everyone"
    parts, by = [], {}
    for col, op, v in conds:
        by.setdefault(col, []).append((op, v))
    for col, cs in by.items():
        lower = [(op, v) for op, v in cs if op != "<="]
        upper = [v for op, v in cs if op == "<="]
        if lower and upper:
            op, v = lower[0]
            parts.append(f"{_number(v)} {'<=' if op == '>=' else '<'} {col} <= {_number(upper[0])}")
        elif lower:
            parts.append(f"{col} {lower[0][0]} {_number(lower[0][1])}")
        else:
            parts.append(f"{col} <= {_number(upper[0])}")
    return " and ".join(parts)


def _query(conds):
    """The rule for :meth:`pandas.DataFrame.query` (column names in backticks)."""
    if not conds:
        return "index == index"  # every row
    return " and ".join(f"`{col}` {op} {int(v) if float(v).is_integer() else repr(float(v))}"
                        for col, op, v in conds)
