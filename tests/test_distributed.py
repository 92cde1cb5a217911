"""k-means on Dask: equal to the in-memory fit, one compute per iteration, k-means||."""

import numpy as np
import pytest

dask = pytest.importorskip("dask")
da = pytest.importorskip("dask.array")

from dask.callbacks import Callback  # noqa: E402

from fastseg import KMeans  # noqa: E402
from fastseg.distributed import DaskData  # noqa: E402


def _blobs(n=12011, d=5, dtype=np.float64, seed=0):
    rng = np.random.default_rng(seed)
    centres = rng.normal(0, 6, (6, d))
    return (centres[rng.integers(0, 6, n)] + rng.normal(0, 1, (n, d))).astype(dtype)


@pytest.fixture(scope="module")
def cluster_client():
    distributed = pytest.importorskip("distributed")
    cluster = distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=":0")
    client = distributed.Client(cluster)
    yield client
    client.close()
    cluster.close()


def _assert_same_fit(a, b, dtype):
    assert a.n_iter_ == b.n_iter_
    if dtype == np.float64:  # exact totals: the same bits whatever the chunking
        np.testing.assert_array_equal(a.cluster_centers_, b.cluster_centers_)
        assert a.inertia_ == b.inertia_
    else:
        np.testing.assert_allclose(a.cluster_centers_, b.cluster_centers_, rtol=1e-6, atol=1e-6)
        assert a.inertia_ == pytest.approx(b.inertia_, rel=1e-6)
    np.testing.assert_array_equal(np.asarray(a.labels_.compute()), b.labels_)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("scheduler", ["synchronous", "threads"])
def test_local_schedulers_equal_in_memory_fit(scheduler, dtype):
    X = _blobs(dtype=dtype)
    init = X[:6]
    with dask.config.set(scheduler=scheduler):
        a = KMeans(6, init=init, tol=0).fit(da.from_array(X, chunks=2500))
    b = KMeans(6, init=init, tol=0, device="cpu").fit(X)
    _assert_same_fit(a, b, dtype)
    assert isinstance(a.labels_, da.Array) and isinstance(a.cluster_centers_, np.ndarray)


@pytest.mark.parametrize("chunks", [(12011,), (1, 4000, 8010), (997,) * 12 + (47,)])
def test_float64_fit_bit_exact_for_any_chunking(chunks):
    # Far from the origin (the data is shifted by its exact mean), weighted, with a tol
    # that stops the fit early: every total must still have the in-memory fit's bits.
    X = _blobs(seed=3) + 1e4
    w = np.random.default_rng(3).uniform(0.2, 3.0, len(X))
    init = X[100:106]
    with dask.config.set(scheduler="threads"):
        a = KMeans(6, init=init, tol=1e-6).fit(da.from_array(X, chunks=(chunks, 5)), sample_weight=w)
    b = KMeans(6, init=init, tol=1e-6, device="cpu").fit(X, sample_weight=w)
    _assert_same_fit(a, b, np.float64)


def test_local_cluster_processes_equal_in_memory_fit(cluster_client):
    X = _blobs(seed=1)
    init = X[10:16]
    a = KMeans(6, init=init).fit(da.from_array(X, chunks=3000))
    b = KMeans(6, init=init, device="cpu").fit(X)
    _assert_same_fit(a, b, np.float64)
    pred = a.predict(da.from_array(X, chunks=4000))
    assert isinstance(pred, da.Array)
    np.testing.assert_array_equal(pred.compute(), b.labels_)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_transform_is_lazy_and_score_one_pass(dtype):
    """transform gives a dask array of distances chunked as X's rows; score is the
    in-memory score; both check the number of features."""
    X = (_blobs(n=7001, seed=8) + 1e3).astype(dtype)  # off the origin: the shift matters in float32
    w = np.random.default_rng(8).uniform(0.5, 2, len(X))
    Xd = da.from_array(X, chunks=2000)
    with dask.config.set(scheduler="synchronous"):
        km = KMeans(6, random_state=0).fit(Xd)
        D = km.transform(Xd)
        assert isinstance(D, da.Array) and D.chunks == (Xd.chunks[0], (6,)) and D.dtype == dtype
        D = D.compute()
        score = km.score(Xd, sample_weight=da.from_array(w, chunks=1500))
        assert isinstance(km.fit_transform(Xd), da.Array)
        with pytest.raises(ValueError, match="X has 4 features, but KMeans is expecting 5"):
            km.transform(Xd[:, :4])
        with pytest.raises(ValueError, match="X has 4 features, but KMeans is expecting 5"):
            km.score(Xd[:, :4])
    C = km.cluster_centers_.astype(np.float64)
    exact = np.sqrt(((X.astype(np.float64)[:, None, :] - C[None]) ** 2).sum(axis=2))
    tol = dict(rtol=1e-10, atol=1e-9) if dtype == np.float64 else dict(rtol=1e-4, atol=2e-3)
    np.testing.assert_allclose(D, exact, **tol)
    mem = KMeans(6, init=km.cluster_centers_, max_iter=1, device="cpu").fit(X)
    mem.cluster_centers_ = km.cluster_centers_
    assert score == pytest.approx(mem.score(X, sample_weight=w), rel=1e-12 if dtype == np.float64 else 1e-5)
    assert score == pytest.approx(-(exact.min(axis=1) ** 2) @ w, rel=1e-9 if dtype == np.float64 else 1e-4)


def test_new_rows_with_nan_raise_as_in_memory_when_computed():
    X = _blobs(n=5000, seed=9)
    with dask.config.set(scheduler="synchronous"):
        km = KMeans(6, random_state=0).fit(da.from_array(X, chunks=1500))
        bad = X.copy()
        bad[3001, 2] = np.nan
        bad[3500, 0] = np.inf
        Xd = da.from_array(bad, chunks=1500)
        msg = r"NaN or infinity in 2 rows of the chunk starting at row 3000 \(first at row 3001\)"
        for lazy in (km.predict(Xd), km.transform(Xd)):  # lazy: the error comes with the values
            with pytest.raises(ValueError, match=msg):
                lazy.compute()
        with pytest.raises(ValueError, match=msg):
            km.score(Xd)
        np.testing.assert_array_equal(km.predict(Xd[:3000]).compute(), km.labels_[:3000].compute())


def test_weights_and_dataframe_input():
    dd = pytest.importorskip("dask.dataframe")
    import pandas as pd

    X = _blobs(n=5003)
    w = np.random.default_rng(2).uniform(0.5, 2, len(X))
    init = X[:6]
    with dask.config.set(scheduler="synchronous"):
        ddf = dd.from_pandas(pd.DataFrame(X, columns=list("abcde")), npartitions=3)
        a = KMeans(6, init=init).fit(ddf, sample_weight=w)
    b = KMeans(6, init=init, device="cpu").fit(X, sample_weight=w)
    assert a.inertia_ == b.inertia_
    np.testing.assert_array_equal(a.cluster_centers_, b.cluster_centers_)
    assert list(a.feature_names_in_) == list("abcde")


def test_weights_from_a_column_of_the_same_dask_dataframe():
    """A dask Series of weights is used as a dask array, chunked as X, never gathered into
    one NumPy array on the driver: the fit and the sweep are the ones NumPy weights give."""
    from unittest import mock

    dd = pytest.importorskip("dask.dataframe")
    import pandas as pd

    from fastseg import sweep

    X = _blobs(n=4001, seed=6)
    df = pd.DataFrame(X, columns=list("abcde")).assign(w=np.random.default_rng(6).uniform(0.5, 2, len(X)))
    ddf = dd.from_pandas(df, npartitions=4)
    gathered = mock.patch.object(type(ddf["w"]), "__array__", side_effect=AssertionError("gathered"))
    with dask.config.set(scheduler="synchronous"):
        with gathered:
            a = KMeans(6, init=X[:6]).fit(ddf[list("abcde")], sample_weight=ddf["w"])
        b = KMeans(6, init=X[:6]).fit(ddf[list("abcde")], sample_weight=df["w"].to_numpy())
        s = sweep(ddf[list("abcde")], k=range(2, 5), sample_weight=ddf["w"], random_state=0)
        t = sweep(ddf[list("abcde")], k=range(2, 5), sample_weight=df["w"].to_numpy(), random_state=0)
    assert a.inertia_ == b.inertia_
    np.testing.assert_array_equal(a.cluster_centers_, b.cluster_centers_)
    assert s.inertia == t.inertia


@pytest.mark.parametrize("init", ["k-means||", "k-means++"])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_seeding_at_scale_within_2_percent(seed, init):
    """k-means||, and k-means++ on a sample, end within 2% of in-memory k-means++."""
    X = _blobs(n=20000, seed=seed)
    with dask.config.set(scheduler="threads"):
        a = KMeans(6, init=init, random_state=seed).fit(da.from_array(X, chunks=4000))
    b = KMeans(6, random_state=seed, device="cpu").fit(X)
    assert a.inertia_ <= 1.02 * b.inertia_


@pytest.mark.parametrize("zero_weights", [False, True])
def test_kmeans_plusplus_on_dask_is_greedy_kmeanspp_on_a_sample_in_one_compute(zero_weights):
    """256 rows per centre (of positive weight) drawn at random and gathered in one compute,
    then the in-memory greedy k-means++ on them; k-means|| needs a compute per round."""
    from fastseg.distributed import _seeding as fd
    from fastseg import kmeans_plusplus
    from fastseg.sweep import sample_indices

    X = _blobs(n=20011, seed=4)
    w = np.random.default_rng(1).uniform(0.5, 2.0, len(X))
    if zero_weights:
        w[::3] = 0.0
    with dask.config.set(scheduler="sync"):
        data = DaskData(da.from_array(X, chunks=3000), w)
        with _Count() as c:
            C = fd.seeds_from_sample(data, 5, np.random.RandomState(9))
        with _Count() as c_par:
            fd._kmeans_parallel(data, 5, np.random.RandomState(9))
    assert c.n == 1 + zero_weights  # + one to count each chunk's rows of positive weight
    assert c_par.n >= 5
    rs = np.random.RandomState(9)
    pool = np.flatnonzero(w > 0)
    idx = pool[sample_indices(rs, len(pool), 256 * 5)]
    expected, _ = kmeans_plusplus(X[idx], 5, sample_weight=w[idx], random_state=rs, device="cpu")
    np.testing.assert_array_equal(C + data.shift, expected)


def test_kmeans_parallel_is_for_dask_input_only():
    from fastseg import sweep

    X = _blobs(n=300)
    with pytest.raises(ValueError, match=r"'k-means\|\|', which seeds Dask input only .*use 'k-means\+\+'"):
        KMeans(3, init="k-means||").fit(X)
    with pytest.raises(ValueError, match=r"'k-means\|\|', which seeds Dask input only"):
        sweep(X, k=[2, 3], init="k-means||")


class _Count(Callback):
    def __init__(self):
        super().__init__()
        self.n = 0

    def _start(self, dsk):
        self.n += 1


def test_exactly_one_compute_per_iteration():
    X = _blobs()
    counts = {}
    for iters in (3, 7):
        c = _Count()
        with dask.config.set(scheduler="synchronous"), c:
            KMeans(6, init=X[:6], max_iter=iters, tol=0).fit(da.from_array(X, chunks=2000))
        counts[iters] = c.n
    assert counts[7] - counts[3] == 4


def test_graph_grows_linearly_with_chunks():
    X = _blobs(n=16000)
    sizes = []
    ns = (8, 16, 32, 64)
    for chunks in ns:
        data = DaskData(da.from_array(X, chunks=16000 // chunks), None)
        g = data.iteration_graph([X[:6]])
        sizes.append(len({key for p in g.parts for key in dict(p.__dask_graph__())}))
    # per added chunk: its own tasks plus a share of the combining tree (an eighth, an
    # eighth of that, ...): the same increment at every size, up to the tree's rounding
    per_chunk = [(b - a) / (c2 - c1) for a, b, c1, c2 in zip(sizes, sizes[1:], ns, ns[1:])]
    assert all(b <= a * 1.01 for a, b in zip(per_chunk, per_chunk[1:]))  # never growing
    assert max(per_chunk) <= 6


def test_errors():
    X = _blobs(n=100)
    with pytest.raises(ValueError, match="n_samples=100 should be >= n_clusters=200"):
        KMeans(200).fit(da.from_array(X, chunks=30))
    Xn = X.copy()
    Xn[5, 1] = np.nan
    with pytest.raises(ValueError, match="NaN or infinity in 1 of 100 rows"):
        KMeans(3).fit(da.from_array(Xn, chunks=30))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_chunk_moments_block_by_block(monkeypatch, dtype):
    from fastseg.distributed import _chunks as fd

    monkeypatch.setattr(fd, "_MOMENT_ROWS", 7)  # many blocks and a ragged last one
    X = (_blobs(n=101) * 1e3).astype(dtype)
    shift = X.mean(axis=0)
    col, sq, n, bad, ext = fd._moments(X, shift)
    ref = X.astype(np.float64) - shift
    np.testing.assert_allclose(col, ref.sum(axis=0), rtol=1e-10, atol=1e-6)
    assert sq == pytest.approx(float((ref * ref).sum()), rel=1e-12)
    assert (n, bad) == (101, 0)
    np.testing.assert_array_equal(ext[0][0], X.max(axis=0))
    np.testing.assert_array_equal(ext[0][1], X.min(axis=0))
    assert fd._moments(X, shift, extremes=False)[4] == []
    X[50, 2], X[99, 0], X[99, 1] = np.inf, -np.inf, np.nan  # one in a middle block, two in one row
    assert fd._moments(X)[3] == 2
    big = np.full((10, 2), np.finfo(np.float64).max / 4)  # sums overflow, yet every value is finite
    assert fd._moments(big)[3] == 0


def test_missing_dask_gives_an_install_hint(monkeypatch):
    import sys

    from fastseg.distributed import _data as distributed

    monkeypatch.setitem(sys.modules, "dask", None)
    with pytest.raises(ImportError, match=r"pip install 'fastseg\[dask\]'"):
        distributed._require_dask()


def test_sweep_on_dask_equals_separate_fits_and_finds_six():
    from sklearn.datasets import make_blobs

    from fastseg import sweep

    X, _ = make_blobs(n_samples=6000, centers=6, n_features=4, cluster_std=1.0, random_state=7)
    calls = []
    with dask.config.set(scheduler="threads"):
        res = sweep(da.from_array(X, chunks=1500), k=range(2, 10), random_state=0, progress=calls.append)
    assert res.best_k == 6
    assert calls[-1]["active"] == 0
    for k in res.ks:
        alone = KMeans(k, init=res.init_centers[k], device="cpu").fit(X)
        assert res.inertia[k] == alone.inertia_  # float64: exact totals, bit for bit
        assert res.n_iter[k] == alone.n_iter_
        np.testing.assert_array_equal(res.labels[k].compute(), alone.labels_)
    # prefix-consistent seeds
    np.testing.assert_allclose(res.init_centers[5], res.init_centers[9][:5])
    from sklearn.metrics import calinski_harabasz_score, davies_bouldin_score

    lab = res.labels[6].compute()
    assert res.metrics["calinski_harabasz"][6] == pytest.approx(calinski_harabasz_score(X, lab), rel=1e-9)
    assert res.metrics["davies_bouldin"][6] == pytest.approx(davies_bouldin_score(X, lab), rel=1e-9)


def test_worker_killed_mid_fit_does_not_change_the_result():
    import os
    import signal
    import threading
    import time

    distributed = pytest.importorskip("distributed")
    rng = np.random.default_rng(5)
    X = rng.uniform(size=(120_000, 6))  # no structure: Lloyd keeps moving for all 40 iterations
    init = X[:12]
    reference = KMeans(12, init=init, max_iter=40, tol=0, device="cpu").fit(X)
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  dashboard_address=":0") as cluster, distributed.Client(cluster) as client:
        Xd = da.from_array(X, chunks=15_000)  # the graph can rebuild any lost chunk
        out = {}

        def fit():
            out["km"] = KMeans(12, init=init, max_iter=40, tol=0).fit(Xd)

        def chunk_states():  # on a worker: how many chunk states its Lloyd steps left there
            from fastseg.distributed._chunks import _STATES

            return os.getpid(), len(_STATES)

        t = threading.Thread(target=fit)
        t.start()
        # the kill lands once Lloyd runs on the workers, however fast this machine is today
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            held = [pid for pid, n in client.run(chunk_states).values() if n]
            if held or not t.is_alive():
                break
            time.sleep(0.01)
        alive_at_kill = t.is_alive()
        os.kill(held[0] if held else next(iter(client.run(os.getpid).values())), signal.SIGKILL)
        t.join(timeout=300)
        assert alive_at_kill, "the fit ended before a worker could be killed; make it longer"
    km = out["km"]
    assert km.n_iter_ == reference.n_iter_ == 40
    np.testing.assert_array_equal(km.cluster_centers_, reference.cluster_centers_)
    assert km.inertia_ == reference.inertia_


def test_empty_cluster_relocated_as_in_memory():
    X = _blobs(n=3000)
    init = np.vstack([X[:3], np.full((1, X.shape[1]), 1e3)])  # the last centre owns nothing
    with dask.config.set(scheduler="synchronous"):
        a = KMeans(4, init=init).fit(da.from_array(X, chunks=1000))
    b = KMeans(4, init=init, device="cpu").fit(X)
    _assert_same_fit(a, b, np.float64)


def _counting_states(monkeypatch):
    """Wrap the chunk-state store: count the states found, optionally losing some."""
    from fastseg.distributed import _chunks as fd

    seen = {"hit": 0, "miss": 0}
    take = fd._STATES.take

    def counting_take(token, key, _take=take):
        st = _take(token, key)
        seen["hit" if st is not None else "miss"] += 1
        return st

    monkeypatch.setattr(fd._STATES, "take", counting_take)
    return fd, seen


def test_chunks_continue_from_their_labels_and_release_them(monkeypatch):
    fd, seen = _counting_states(monkeypatch)
    X = _blobs(dtype=np.float32)
    init = X[:6]
    with dask.config.set(scheduler="threads"):
        Xd = da.from_array(X, chunks=3000)
        a = KMeans(6, init=init, max_iter=6, tol=0).fit(Xd)
    # from the second step on, every step (and the inertia pass) finds its chunk's state
    n = Xd.numblocks[0]
    assert a.n_iter_ == 6
    assert seen == {"hit": n * 5 + n, "miss": n}
    assert len(fd._STATES) == 0  # the pass after the last step released them all
    b = KMeans(6, init=init, max_iter=6, tol=0, device="cpu").fit(X)
    _assert_same_fit(a, b, np.float32)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_a_step_from_stale_labels_gives_the_fresh_totals(dtype):
    from fastseg.distributed import _chunks as fd

    X = _blobs(n=4001, dtype=dtype)
    w = np.random.default_rng(1).uniform(0.5, 2, len(X)).astype(dtype)
    C1, C2 = X[:6].copy(), X[50:56].copy()
    shift, grid = np.zeros(X.shape[1]), None
    if dtype == np.float64:
        data = DaskData(da.from_array(X, chunks=4001), da.from_array(w, chunks=4001))
        shift, grid = data.shift, data.grid
    fresh = fd._chunk_stats(X, w, C2, shift, False, grid)
    fd._chunk_stats(X, w, C1, shift, False, grid, "t", 0)  # leaves labels for C1 behind
    again = fd._chunk_stats(X, w, C2, shift, False, grid, "t", 0)  # moves the rows that change
    fd._STATES.take("t", (0, 0))
    if dtype == np.float64:  # exact totals: the same bits
        np.testing.assert_array_equal(again[0], fresh[0])
        np.testing.assert_array_equal(again[1], fresh[1])
    else:
        np.testing.assert_allclose(again[0], fresh[0], rtol=1e-9)
        np.testing.assert_allclose(again[1], fresh[1], rtol=1e-9)


def test_lost_states_do_not_change_a_float64_fit(monkeypatch):
    # Every other state lookup comes back empty, as after a lost worker or a task run on
    # another one: those chunks recompute their totals, and the result keeps its bits.
    from fastseg.distributed import _chunks as fd

    take = fd._STATES.take
    calls = {"n": 0}

    def forgetful(token, key):
        calls["n"] += 1
        st = take(token, key)
        return None if calls["n"] % 2 else st

    monkeypatch.setattr(fd._STATES, "take", forgetful)
    X = _blobs(seed=4) + 50
    init = X[200:206]
    with dask.config.set(scheduler="threads"):
        a = KMeans(6, init=init, tol=0).fit(da.from_array(X, chunks=((1001,) * 11 + (1000,), 5)))
    b = KMeans(6, init=init, tol=0, device="cpu").fit(X)
    _assert_same_fit(a, b, np.float64)


def test_the_state_store_keeps_only_the_last_few_fits():
    from fastseg.distributed._chunks import _ChunkStates

    store = _ChunkStates(max_fits=2)
    for t in "abc":
        store.put(t, (0, 0), t)
    assert store.take("a", (0, 0)) is None  # the oldest fit was let go
    assert store.take("c", (0, 0)) == "c" and store.take("c", (0, 0)) is None  # taken out
    assert len(store) == 1


@pytest.mark.parametrize("refine", [True, False])
def test_sampled_sweep_on_dask_equals_the_in_memory_sampled_sweep(refine):
    """sample=m on Dask: the same rows (and weights) gathered from uneven chunks, the same
    fit on them, then Lloyd over the chunks (refine) or one labelling pass; the result is
    the in-memory sampled sweep's, bit for bit in float64."""
    from fastseg import sweep

    X = _blobs(n=9001, seed=3)
    w = np.random.default_rng(2).uniform(0.5, 2.0, len(X))
    w[np.random.default_rng(3).random(len(X)) < 0.3] = 0.0  # never drawn
    w[2000] = 0.0  # the one-row chunk: none of its rows can be drawn
    Xd = da.from_array(X, chunks=((2000, 1, 4000, 3000), 5))
    wd = da.from_array(w, chunks=((2000, 1, 4000, 3000),))
    kwargs = dict(k=range(2, 9), n_init=2, random_state=5, sample=600, refine=refine,
                  metrics=("inertia", "calinski_harabasz"), device="cpu")
    told = []
    with dask.config.set(scheduler="sync"):
        res = sweep(Xd, sample_weight=wd, progress=told.append, **kwargs)
    ref = sweep(X, sample_weight=w, **kwargs)
    assert res.sample == ref.sample and res.sample["rows"] == 600 and res.sample["refined"] == refine
    assert res.n_iter == ref.n_iter and res.inertia == ref.inertia
    for k in res.ks:
        np.testing.assert_array_equal(res.init_centers[k], ref.init_centers[k])
        np.testing.assert_array_equal(res.centers[k], ref.centers[k])
        np.testing.assert_array_equal(res.labels[k].compute(), ref.labels[k])
        assert res.metrics["calinski_harabasz"][k] == pytest.approx(ref.metrics["calinski_harabasz"][k], rel=1e-9)
    stages = [t["stage"] for t in told]
    assert stages[0] == "sample" and ("every row" in stages) == refine
    if refine:  # each k went on over every row from the sample's centres
        for k in (3, 6):
            alone = KMeans(k, init=res.init_centers[k], device="cpu").fit(X, sample_weight=w)
            assert res.inertia[k] == alone.inertia_ and res.n_iter[k] == alone.n_iter_


def test_sampled_sweep_on_a_cluster_finds_the_blobs(cluster_client):
    from fastseg import sweep

    X = _blobs(n=20_000, d=4, seed=8).astype(np.float32)
    res = sweep(da.from_array(X, chunks=5000), k=range(2, 10), random_state=0, sample=2000, refine=False)
    ref = sweep(X, k=range(2, 10), random_state=0, sample=2000, refine=False)
    assert res.best_k == ref.best_k == 6
    for k in res.ks:
        np.testing.assert_allclose(res.centers[k], ref.centers[k], rtol=1e-6, atol=1e-6)
        assert res.inertia[k] == pytest.approx(ref.inertia[k], rel=1e-6)


def test_sweep_with_inertia_only_skips_the_totals_pass_and_releases_every_state():
    """Without Calinski-Harabasz or Davies-Bouldin the pass for cluster means is not
    needed: one compute fewer, the same inertia, and no chunk state left behind."""
    from fastseg.distributed import _chunks as fd
    from fastseg import sweep

    X = _blobs(n=5003, seed=4)
    Xd = da.from_array(X, chunks=1300)

    runs = {}
    for metrics in (("inertia",), ("inertia", "calinski_harabasz", "davies_bouldin")):
        with dask.config.set(scheduler="sync"), _Count() as c:
            runs[metrics] = (sweep(Xd, k=range(2, 7), random_state=1, metrics=metrics), c.n)
        assert len(fd._STATES) == 0
    (lean, n_lean), (full, n_full) = runs.values()
    assert lean.inertia == full.inertia and lean.n_iter == full.n_iter
    assert n_lean == n_full - 1
    assert set(lean.metrics) == set() and set(full.metrics) == {"calinski_harabasz", "davies_bouldin"}


def test_weighted_rows_draw_by_weight_without_replacement_in_one_compute():
    """init="random" and k-means||'s first centre on Dask: rows drawn by weight without
    replacement (successive sampling), one compute, rows of zero weight only when needed."""
    from fastseg.distributed._seeding import weighted_rows

    X = np.arange(12, dtype=np.float64).reshape(6, 2)  # row i is (2i, 2i + 1)
    w = np.array([1.0, 2.0, 0.0, 3.0, 4.0, 0.0])
    with dask.config.set(scheduler="sync"):
        data = DaskData(da.from_array(X, chunks=((2, 1, 3), 2)), da.from_array(w, chunks=((2, 1, 3),)))
        with _Count() as c:
            weighted_rows(data, 2, np.random.RandomState(0))
        assert c.n == 1
        trials = 1500
        hits = np.zeros(6)
        rs = np.random.RandomState(1)
        for _ in range(trials):
            rows = weighted_rows(data, 2, rs) + data.shift
            picked = (rows[:, 0] / 2).round().astype(int)
            assert len(set(picked)) == 2
            hits[picked] += 1
        everything = (weighted_rows(data, 6, rs) + data.shift)[:, 0] / 2
    assert sorted(everything.round().astype(int)) == list(range(6))  # zero-weight rows last, when needed
    p = w / w.sum()
    inclusion = p + np.array([sum(p[j] * p[i] / (1 - p[j]) for j in range(6) if j != i) for i in range(6)])
    sd = np.sqrt(inclusion * (1 - inclusion) / trials)
    assert hits[[2, 5]].sum() == 0
    assert np.all(np.abs(hits / trials - inclusion) <= 5 * sd + 1e-12), (hits / trials, inclusion)


def test_random_init_on_dask_seeds_from_rows_of_positive_weight():
    from fastseg import sweep

    X = _blobs(n=4001, seed=6)
    w = np.where(np.arange(len(X)) % 2 == 0, 1.5, 0.0)
    Xd, wd = da.from_array(X, chunks=900), da.from_array(w, chunks=900)
    rows = {tuple(r) for r in X[w > 0]}
    with dask.config.set(scheduler="sync"):
        km = KMeans(6, init="random", n_init=1, max_iter=1, random_state=0).fit(Xd, sample_weight=wd)
        res = sweep(Xd, k=[3, 5], init="random", sample_weight=wd, random_state=0, metrics=("inertia",))
    assert km.cluster_centers_.shape == (6, 5)
    for k in res.ks:
        assert all(tuple(r) in rows for r in res.init_centers[k])
        assert len({tuple(r) for r in res.init_centers[k]}) == k


def test_restarts_on_dask_advance_together_and_equal_the_in_memory_fit():
    """n_init restarts share each pass over the chunks (one compute per iteration for all,
    as many computes as one restart), and the best is the in-memory fit's, bit for bit."""
    X = _blobs(n=8009, seed=7)
    w = np.random.default_rng(8).uniform(0.5, 2.0, len(X))

    def init(data, k, random_state):  # the same seeds in memory and on Dask
        return X[np.sort(random_state.choice(len(X), k, replace=False))]

    counts = {}
    for n_init in (1, 3):
        with dask.config.set(scheduler="sync"), _Count() as c:
            a = KMeans(6, init=init, n_init=n_init, max_iter=8, tol=0, random_state=2).fit(
                da.from_array(X, chunks=2500), sample_weight=w)
        counts[n_init] = c.n
        b = KMeans(6, init=init, n_init=n_init, max_iter=8, tol=0, random_state=2, device="cpu").fit(
            X, sample_weight=w)
        _assert_same_fit(a, b, np.float64)
    assert counts[3] == counts[1]


def test_silhouette_exact_on_small_data_as_scikit_learn():
    """n <= silhouette_sample_size: every row, float64, scikit-learn's score for each k."""
    from sklearn.metrics import silhouette_score

    from fastseg import sweep

    X = _blobs(n=3001, seed=10)
    with dask.config.set(scheduler="synchronous"):
        res = sweep(da.from_array(X, chunks=700), k=range(2, 8), random_state=0,
                    metrics=("inertia", "silhouette"))
        for k in res.ks:
            lab = np.asarray(res.labels[k].compute())
            assert res.metrics["silhouette"][k] == pytest.approx(silhouette_score(X, lab), rel=1e-9)
            assert res.silhouette_n[k] == len(X)


def test_silhouette_sample_stratified_by_cluster_as_in_memory():
    """The sample holds, of each cluster, the in-memory stratum size of rows: those with the
    smallest keys over all chunks (a uniform draw without replacement within the cluster),
    a tiny cluster's two rows included; the score is near the exact one."""
    from sklearn.metrics import silhouette_score

    from fastseg.distributed import _chunks, _sweep
    from fastseg.metrics import stratum_sizes

    rng = np.random.default_rng(11)
    X = np.vstack([rng.normal(0, 1, (9000, 3)), rng.normal(8, 1, (3000, 3)), [[40.0, 40, 40]] * 3])
    X = X[rng.permutation(len(X))]
    C = np.array([[0.0, 0, 0], [8, 8, 8], [40, 40, 40]])
    chunks = np.split(X, [2500, 2501, 7000, 11000])  # uneven, one of a single row
    seed, size = 5, 600
    rate = min(1.0, _sweep._SILHOUETTE_OVERDRAW * size / len(X))
    parts = [_chunks._chunk_spread_multi(x, np.ones(len(x)), [C], None, np.zeros(3), False, None, q, (seed, rate))
             for q, x in enumerate(chunks)]
    spreads, picked = _chunks._fold(_chunks._add_spread, *parts)
    counts = spreads[0][3]
    idx = _sweep._stratified(picked, 0, counts, size)
    # the same draw from every row at once
    keys = np.concatenate([np.random.default_rng([seed, q]).random(len(x)) for q, x in enumerate(chunks)])
    lab = np.argmin(((X[:, None, :] - C[None]) ** 2).sum(axis=2), axis=1)
    np.testing.assert_array_equal(counts, np.bincount(lab, minlength=3))
    take = stratum_sizes(counts, size)
    assert take[2] == 2 and take.sum() == len(idx)  # the tiny cluster's floor of two
    want = np.concatenate([np.sort(keys[lab == c])[:t] for c, t in enumerate(take)])
    np.testing.assert_array_equal(np.sort(picked[2][idx]), np.sort(want))
    np.testing.assert_array_equal(np.bincount(picked[3][0][idx], minlength=3), take)

    with dask.config.set(scheduler="synchronous"):
        from fastseg import sweep

        res = sweep(da.from_array(X, chunks=2500), k=[3], random_state=0, metrics=("silhouette",),
                    silhouette_sample_size=size)
    full = silhouette_score(X, np.asarray(res.labels[3].compute()))
    assert res.metrics["silhouette"][3] == pytest.approx(full, abs=0.02)
