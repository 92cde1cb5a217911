"""Order-independent sums: the same bits whatever the blocks, threads or Dask chunks.

A floating-point sum depends on the order of its terms, so a fit whose totals are summed
block by block would change in its last bits with the thread count, the block size or
the Dask chunking. Float64 fits avoid that by summing only numbers that add exactly.

Both tools here rest on the splitting step of Rump, Ogita and Oishi's AccSum (SIAM J.
Sci. Comput. 31(1), 2008): for a power of two ``σ ≥ |v|``, ``q = (σ + v) − σ`` is computed
exactly, is a multiple of ``σ·2⁻⁵³`` and leaves an exact remainder ``v − q``; any sum of up to
``σ / (2·max|v|)`` such multiples is exact, whatever its order.

- Two fixed levels (:func:`splitters`, :func:`split`), their splitters set from bounds known
  before the pass (the data's column extremes): Lloyd's per-cluster totals (:class:`Grid`)
  and the data's moments (:func:`level_sums`). Each value keeps its bits down to about
  ``2⁻⁵³·(8n)²`` of its column's bound, and since every addition and removal is exact,
  totals updated incrementally (rows that changed label) hold the same bits as totals
  summed afresh, in any order.
- :func:`partials` and :func:`fsum_partials` (as many levels as the values need, no bound
  needed): exact sums of the final inertia; blocks give a few partials, merged by
  concatenation and rounded once, correctly, by :func:`math.fsum`.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np

_HALF_ULP = 2.0**-53


def _pow2_at_least(a):
    """Elementwise the smallest power of two ≥ ``a`` (1 where ``a`` is 0)."""
    a = np.asarray(a, dtype=np.float64)
    mant, exp = np.frexp(a)
    return np.where(a > 0, np.where(mant == 0.5, a, np.ldexp(1.0, exp)), 1.0)


class Grid(NamedTuple):
    """Two-level splitters for exact, order-independent totals of Lloyd's sums.

    s1, s2 : (d,) float64 splitters for the weighted, shifted rows ``w·(x − shift)``;
    w1, w2 : float splitters for the weights;
    unit : every weight is 1 (the rows need no multiplying).
    """

    s1: np.ndarray
    s2: np.ndarray
    w1: float
    w2: float
    unit: bool = False


def splitters(bound, n):
    """Two-level splitters for sums of up to ``2n`` values bounded by ``bound``.

    Parameters
    ----------
    bound : float array            # IN, ≥ |value| (per column, say)
    n : int                        # IN, number of rows

    Returns
    -------
    (s1, s2) float64 arrays shaped like ``bound``, or None when they would overflow.
    """
    # headroom: every partial total (at most 2n terms while labels move) stays below
    # σ/2, and the bound absorbs the rounding of the computed values it bounds
    reach = 2.0 ** math.ceil(math.log2(8 * n + 8))
    with np.errstate(over="ignore", invalid="ignore"):
        s1 = reach * _pow2_at_least(np.asarray(bound, dtype=np.float64) * (1 + 2.0**-40))
        s2 = reach * s1 * _HALF_ULP
    if not np.isfinite(s1).all():
        return None
    return s1, s2


def make_grid(col_max, col_min, shift, w_max, n, unit=False):
    """The grid of Lloyd's totals for data whose columns lie in ``[col_min, col_max]``.

    Parameters
    ----------
    col_max, col_min : (d,) float arrays      # IN, exact column extremes of X
    shift : (d,) float array                  # IN, subtracted from each row
    w_max : float                             # IN, largest sample weight
    n : int                                   # IN, number of rows
    unit : bool                               # IN, every weight is 1

    Returns
    -------
    Grid, or None when the splitters would overflow (values near the float64 limit):
    such data is then summed the ordinary way.
    """
    reach = shifted_reach(col_max, col_min, shift)
    rows = splitters(reach * float(w_max), n)
    wts = splitters(np.float64(w_max), n)
    if rows is None or wts is None:
        return None
    return Grid(rows[0], rows[1], float(wts[0]), float(wts[1]), bool(unit))


def shifted_reach(col_max, col_min, shift):
    """Largest ``|x − shift|`` per column, from the column extremes."""
    col_max, col_min, shift = (np.asarray(a, dtype=np.float64) for a in (col_max, col_min, shift))
    return np.maximum(np.abs(col_max - shift), np.abs(col_min - shift))


def split(v, s1, s2, out):
    """Write the two grid levels of ``v`` into ``out[0]`` and ``out[1]``.

    v : float64 array IN; s1, s2 : splitters broadcasting against v IN;
    out : pair of float64 arrays shaped like v OUT (not aliasing v). The levels are
    multiples of ``s1·2⁻⁵³`` and ``s2·2⁻⁵³``; what lies below the second is dropped
    (a rounding that depends on the value alone).
    """
    hi, lo = out[0], out[1]
    np.add(v, s1, out=hi)
    hi -= s1
    np.subtract(v, hi, out=lo)
    lo += s2
    lo -= s2
    return out


def split_rows(v, s1, s2, out, rows=1024, tiles=None):
    """:func:`split` of the rows of ``v`` (m, d) against per-column splitters (d,).

    The splitters are tiled to whole row blocks: broadcasting a (d,) row would run
    numpy's inner loop d elements at a time, several times slower for small d.
    ``tiles``: the splitters already tiled to ``rows`` rows (callers that split often
    keep them).
    """
    m = v.shape[0]
    if tiles is not None:
        t1, t2 = tiles
        rows = t1.shape[0]
    else:
        rows = max(1, min(rows, m))
        t1, t2 = np.tile(s1, (rows, 1)), np.tile(s2, (rows, 1))
    for a in range(0, m, rows):
        b = min(a + rows, m)
        split(v[a:b], t1[: b - a], t2[: b - a], (out[0][a:b], out[1][a:b]))
    return out


def partials(v):
    """Exact column sums of ``v`` as a few float64 rows: their exact sum is ``v.sum(0)``.

    Parameters
    ----------
    v : (m, d) float64 array      # IN, not modified

    Returns
    -------
    (levels, d) float64 array. Partials of several blocks concatenate;
    :func:`fsum_partials` rounds them. Input with NaN, inf or values past about 1e302
    gives its ordinary sum instead (one row, not exact).
    """
    r = np.array(v, dtype=np.float64)
    m = r.shape[0]
    reach = 2.0 ** math.ceil(math.log2(2 * m + 2))
    out = []
    q = np.empty_like(r)
    while m:
        top = np.maximum(np.max(r, axis=0), -np.min(r, axis=0))
        if not top.any():
            break
        # a fresh splitter per level, from the largest remainder left
        with np.errstate(over="ignore", invalid="ignore"):
            sigma = np.where(top > 0, reach * _pow2_at_least(top), 0.0)
        if not (np.isfinite(top).all() and np.isfinite(sigma).all()):  # NaN, inf, near overflow
            return np.sum(v, axis=0, dtype=np.float64)[None]
        np.add(r, sigma, out=q)
        q -= sigma
        r -= q
        out.append(q.sum(axis=0))
    return np.array(out).reshape((len(out),) + r.shape[1:]) if out else np.zeros((0,) + r.shape[1:])


def fsum_partials(parts):
    """Round exact partials (concatenated along axis 0) to the nearest float64, per column."""
    parts = np.asarray(parts, dtype=np.float64)
    if parts.ndim == 1:
        return math.fsum(parts.tolist())
    if parts.shape[0] == 0:
        return np.zeros(parts.shape[1:])
    return np.array([math.fsum(col) for col in parts.reshape(parts.shape[0], -1).T.tolist()]).reshape(
        parts.shape[1:])


# -- a shift that does not depend on the blocks -------------------------------------


def block_extremes(x):
    """Column maxima and minima of one block, float64 (exact, so any merge order agrees)."""
    x = np.asarray(x)
    m, d = x.shape
    g = max(1, min(m, 256 // max(d, 1)))  # rows side by side: numpy's inner loop runs g·d long
    body = (m // g) * g
    if x.flags.c_contiguous and body:
        wide = x[:body].reshape(m // g, g * d)
        hi = wide.max(axis=0).reshape(g, d).max(axis=0)
        lo = wide.min(axis=0).reshape(g, d).min(axis=0)
        if body < m:
            hi, lo = np.maximum(hi, x[body:].max(axis=0)), np.minimum(lo, x[body:].min(axis=0))
    else:
        hi, lo = x.max(axis=0), x.min(axis=0)
    return hi.astype(np.float64), lo.astype(np.float64)


def merge_extremes(parts):
    """Column maxima and minima over every block's :func:`block_extremes`."""
    parts = list(parts)
    return np.max([p[0] for p in parts], axis=0), np.min([p[1] for p in parts], axis=0)


def mean_splitter(col_max, col_min, n):
    """One-level splitter for the column sums behind :func:`grid_mean`, or None (non-finite
    or huge data)."""
    spl = splitters(shifted_reach(col_max, col_min, np.zeros(np.shape(col_max))), n)
    return None if spl is None else spl[0]


def block_grid_sum(x, s, rows=1024):
    """Exact column sum of one block's values on the one-level grid of splitter ``s``
    (each value rounded to a multiple of ``s·2⁻⁵³``), a few rows at a time (see
    :func:`split_rows`)."""
    m, d = x.shape
    total = np.zeros(d)
    rows = max(1, min(rows, m))
    q = np.empty((rows, d))
    t = np.tile(s, (rows, 1))
    for a in range(0, m, rows):
        b = min(a + rows, m)
        qb = q[: b - a]
        np.add(x[a:b], t[: b - a], out=qb)
        qb -= t[: b - a]
        total += qb.sum(axis=0)
    return total


def grid_mean(parts, n):
    """Column means from every block's :func:`block_grid_sum`: the same bits for any
    blocking, within ``s·2⁻⁵³`` (about ``2⁻²⁹`` of the column's reach at n = 10⁶) of the mean."""
    return sum(parts) / n
