"""Order-independent sums (fastseg._exact): exact, and the same bits for any blocking."""

import math

import numpy as np
import pytest

from fastseg._exact import (block_extremes, block_grid_sum, fsum_partials, grid_mean, make_grid, mean_splitter,
                            merge_extremes, partials, split, split_rows)
from fastseg.backend import NumPyBackend


def _wide(rng, m, d):
    """Values over a wide range of magnitudes and signs, with exact zeros."""
    v = rng.normal(size=(m, d)) * 10.0 ** rng.integers(-30, 30, size=(m, d))
    v[rng.random((m, d)) < 0.05] = 0.0
    return v


@pytest.mark.parametrize("m,d", [(1, 1), (7, 3), (1000, 4), (65537, 2)])
def test_partials_give_the_correctly_rounded_sum(rng, m, d):
    v = _wide(rng, m, d)
    got = fsum_partials(partials(v))
    want = np.array([math.fsum(v[:, j]) for j in range(d)])  # correctly rounded
    np.testing.assert_array_equal(got, want)


def test_partials_merge_in_any_order_and_blocking(rng):
    v = _wide(rng, 5000, 3)
    whole = fsum_partials(partials(v))
    for cuts in ([2500], [1, 2, 3, 4999], list(range(0, 5000, 333))):
        blocks = np.split(v[rng.permutation(len(v))], cuts)
        got = fsum_partials(np.concatenate([partials(b) for b in blocks[::-1]]))
        np.testing.assert_array_equal(got, whole)


def test_partials_of_non_finite_input_do_not_loop():
    v = np.array([[1.0], [np.nan], [2.0]])
    assert np.isnan(fsum_partials(partials(v))).all()
    assert np.isinf(fsum_partials(partials(np.array([[1.0], [np.inf]])))).all()


def _grid_sum(v, grid, blocks):
    """Σ v by grid levels, block by block (blocks given as index arrays)."""
    total = np.zeros((2,) + v.shape[1:])
    for idx in blocks:
        q = np.empty((2, len(idx)) + v.shape[1:])
        split(v[idx], grid.s1, grid.s2, q)
        total += q.sum(axis=1)
    return total


def test_grid_levels_are_exact_for_any_blocking_and_close_to_the_true_sum(rng):
    n, d = 20000, 4
    x = rng.normal(3, 2, (n, d)) * np.array([1, 1e-3, 1e3, 1e8])
    w = rng.uniform(0, 5, n)
    shift = x.mean(axis=0)
    grid = make_grid(x.max(0), x.min(0), shift, w.max(), n)
    v = (x - shift) * w[:, None]
    ref = _grid_sum(v, grid, [np.arange(n)])
    for _ in range(3):
        perm = rng.permutation(n)
        cuts = np.sort(rng.choice(n, 20, replace=False))
        got = _grid_sum(v, grid, np.split(perm, cuts))
        np.testing.assert_array_equal(got, ref)
    # adding a block and taking it out again leaves the bits unchanged
    q = np.empty((2, 500, d))
    split(v[:500], grid.s1, grid.s2, q)
    np.testing.assert_array_equal(ref + q.sum(axis=1) - q.sum(axis=1), ref)
    # the levels keep each value to ~2⁻⁵³·(8n)² of its bound: far below float64 noise here
    exact = np.array([math.fsum(v[:, j]) for j in range(d)])
    scale = np.abs(v).max(axis=0) * n
    assert np.all(np.abs(ref.sum(axis=0) - exact) <= 1e-15 * scale)


def test_grid_overflow_gives_none():
    assert make_grid(np.array([1e306]), np.array([-1e306]), np.zeros(1), 1.0, 10) is None


def test_float64_fit_has_the_same_bits_for_any_thread_count(rng):
    from fastseg._lloyd import lloyd_multi, tolerance

    X = rng.normal(size=(30011, 6)) * rng.uniform(0.1, 50, 6) + 500.0
    w = rng.uniform(0.5, 2.0, len(X))
    out = []
    for threads in (1, 2, 3, 5):  # different threads: different blocks
        be = NumPyBackend(threads)
        data = be.prepare(X, w)
        C = [X[:9] - data.shift, X[9:13] - data.shift]
        runs = lloyd_multi(be, data, C, max_iter=50, tol=tolerance(be, data, 1e-5))
        out.append((data.shift, data.mean_sq, [(r.centers, r.inertia, r.n_iter, r.labels) for r in runs]))
    for shift, mean_sq, runs in out[1:]:
        np.testing.assert_array_equal(shift, out[0][0])  # the shift moves every value: exact
        assert mean_sq == pytest.approx(out[0][1], rel=1e-14)  # feeds only tol: to rounding
        for (c, i, it, lab), (c0, i0, it0, lab0) in zip(runs, out[0][2]):
            np.testing.assert_array_equal(c, c0)
            assert (i, it) == (i0, it0)
            np.testing.assert_array_equal(lab, lab0)


def test_split_rows_equals_split(rng):
    v = rng.normal(size=(3001, 7)) * 100
    grid = make_grid(v.max(0), v.min(0), np.zeros(7), 1.0, 10**6)
    a, b = np.empty((2, 3001, 7)), np.empty((2, 3001, 7))
    split(v, grid.s1, grid.s2, a)
    split_rows(v, grid.s1, grid.s2, b, rows=64)
    np.testing.assert_array_equal(a, b)
    # what is dropped lies below the second level's grid
    assert np.all(np.abs((v - a[0]) - a[1]) <= grid.s2 * 2.0**-53)


def test_grid_mean_same_bits_for_any_blocking_and_accurate(rng):
    x = rng.normal(1e4, 3, (10007, 5)) * np.array([1, 1e-6, 1e6, 1, 1])
    n = len(x)
    col_max, col_min = merge_extremes([block_extremes(b) for b in np.array_split(x, 7)])
    np.testing.assert_array_equal(col_max, x.max(0))
    spl = mean_splitter(col_max, col_min, n)
    ref = grid_mean([block_grid_sum(x, spl)], n)
    for parts in (3, 10, 101):
        perm = x[rng.permutation(n)]
        got = grid_mean([block_grid_sum(b, spl) for b in np.array_split(perm, parts)][::-1], n)
        np.testing.assert_array_equal(got, ref)
    np.testing.assert_allclose(ref, x.mean(0), rtol=1e-8)


@pytest.mark.parametrize("unit", [True, False])
def test_exact_deltas_same_bits_by_index_adds_and_by_sparse_product(rng, monkeypatch, unit):
    from fastseg.backend import cpu

    m, k, d = 200, 7, 3
    x = rng.normal(size=(m, d)) * 1e3
    w = np.ones(m) if unit else rng.uniform(0.1, 3, m)
    grid = make_grid(x.max(0), x.min(0), np.zeros(d), float(w.max()), m, unit=unit)
    new_l = rng.integers(0, k, m).astype(np.int32)
    old_l = rng.integers(-1, k, m).astype(np.int32)
    had = old_l >= 0
    be = NumPyBackend(1)
    few = be._delta_exact(x, w, new_l, old_l, had, k, grid)  # m ≤ _FEW_MOVED: np.add.at
    monkeypatch.setattr(cpu, "_FEW_MOVED", 0)
    many = be._delta_exact(x, w, new_l, old_l, had, k, grid)  # the sparse product
    for a, b in zip(few, many):
        np.testing.assert_array_equal(a, b)
    ref = np.zeros((k, d))
    np.add.at(ref, new_l, x * w[:, None])
    np.subtract.at(ref, old_l[had], (x * w[:, None])[had])
    np.testing.assert_allclose(few[0].sum(0), ref, rtol=1e-12, atol=1e-9)
