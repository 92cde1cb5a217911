"""Chunks spread over the workers by rows: the plan, and a fit on a lopsided cluster."""

import numpy as np
import pytest

from fastseg.distributed._placement import spread_plan


def _loads(rows, target, threads):
    load = dict.fromkeys(threads, 0)
    for r, t in zip(rows, target):
        load[t] += r
    return load


def test_all_chunks_on_one_worker_are_halved():
    target = spread_plan([100] * 4, [{"a"}] * 4, {"a": 1, "b": 1})
    assert target == ["a", "a", "b", "b"]  # the first stay, the surplus moves


def test_five_chunks_split_three_two():
    target = spread_plan([100] * 5, [{"a"}] * 5, {"a": 1, "b": 1})
    assert sorted(_loads([100] * 5, target, {"a": 1, "b": 1}).values()) == [200, 300]
    assert target[:3] == ["a"] * 3


def test_a_balanced_layout_moves_nothing():
    holders = [{"a"}, {"b"}, {"c"}, {"a"}, {"b"}, {"c"}]
    assert spread_plan([7, 5, 6, 6, 7, 5], holders, {"a": 1, "b": 1, "c": 1}) == ["a", "b", "c", "a", "b", "c"]


def test_more_workers_than_chunks_moves_none_that_has_a_worker_to_itself():
    threads = {w: 1 for w in "abcdefgh"}
    assert spread_plan([100, 100, 100], [{"c"}, {"f"}, {"a"}], threads) == ["c", "f", "a"]
    target = spread_plan([100, 100, 100], [{"c"}, {"c"}, {"c"}], threads)
    assert target[0] == "c" and len(set(target)) == 3


def test_rows_follow_threads():
    rows = [100] * 6
    load = _loads(rows, spread_plan(rows, [{"b"}] * 6, {"a": 2, "b": 1}), {"a": 2, "b": 1})
    assert load == {"a": 400, "b": 200}


def test_a_replicated_chunk_goes_to_its_least_loaded_holder():
    target = spread_plan([100, 100], [{"a"}, {"a", "b"}], {"a": 1, "b": 1})
    assert target == ["a", "b"]


def test_holders_outside_the_cluster_count_as_none():
    target = spread_plan([100, 100], [{"gone"}, {"gone"}], {"a": 1, "b": 1})
    assert sorted(target) == ["a", "b"]


def test_uneven_chunks_within_one_chunk_of_the_share():
    rng = np.random.default_rng(0)
    for _ in range(200):
        threads = {w: int(t) for w, t in zip("abcde", rng.integers(1, 4, rng.integers(1, 6)))}
        rows = [int(r) for r in rng.integers(1, 1000, rng.integers(1, 30))]
        holders = [set(rng.choice(list(threads) + ["gone"], rng.integers(0, 3))) for _ in rows]
        target = spread_plan(rows, holders, threads)
        assert len(target) == len(rows) and set(target) <= set(threads)
        share = sum(rows) / sum(threads.values())
        load = _loads(rows, target, threads)
        assert max(load[w] / threads[w] for w in threads) <= share + max(rows)


def test_no_workers_or_no_chunks():
    assert spread_plan([], [], {"a": 1}) == []
    assert spread_plan([1], [{"a"}], {}) == []


def test_fit_on_chunks_all_on_one_worker_runs_on_both():
    """Data persisted on one worker: every pass spreads over both, same result as in memory.
    (Work stealing off: it would move some small tasks anyway, and blur what is tested.)"""
    distributed = pytest.importorskip("distributed")
    da = pytest.importorskip("dask.array")
    import dask
    from fastseg import KMeans

    rng = np.random.default_rng(4)
    X = rng.normal(size=(40_000, 5)) + rng.integers(0, 4, (40_000, 1)) * 3.0
    init = X[:8]
    reference = KMeans(8, init=init, max_iter=30, tol=0, device="cpu").fit(X)
    with dask.config.set({"distributed.scheduler.work-stealing": False}), \
            distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                     dashboard_address=":0") as cluster, distributed.Client(cluster) as client:
        first = sorted(client.nthreads())[0]
        Xd = client.persist(da.from_array(X, chunks=5_000), workers=[first])
        distributed.wait(Xd)
        assert set(w for ws in client.who_has(Xd).values() for w in ws) == {first}
        with distributed.get_task_stream() as ts:
            km = KMeans(8, init=init, max_iter=30, tol=0).fit(Xd)
        ran = [t["worker"] for t in ts.data if "_chunk_stats_multi" in str(t["key"])]
        per = {w: ran.count(w) for w in set(ran)}
        assert len(per) == 2 and max(per.values()) == min(per.values()), per
        np.testing.assert_array_equal(km.cluster_centers_, reference.cluster_centers_)
        assert km.inertia_ == reference.inertia_ and km.n_iter_ == reference.n_iter_
        np.testing.assert_array_equal(km.labels_.compute(), reference.labels_)
