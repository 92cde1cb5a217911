"""GPU engine against the NumPy backend.

Every op on fresh random data at awkward sizes, outputs poisoned before each launch;
labels identical except at (near-)ties, sums and inertia within 1e-5 relative (float32)
and 1e-12 (float64).

Each test runs twice: on a CUDA GPU through CuPy (``cuda``, skipped where none answers),
and everywhere on ``cupy_on_numpy``: the same backend code over a strict NumPy stand-in
for CuPy, with the same CUDA kernels built for the CPU (tests/cuda_on_cpu). The second
checks the backend's logic in CI; only the first says the GPU gives these results.
"""

import sys
from types import SimpleNamespace

import numpy as np
import pytest

import cuda_on_cpu
from fastseg._lloyd import combine_levels
from fastseg.backend import NumPyBackend

SIZES = [(1, 1, 1), (97, 5, 7), (1009, 13, 1), (4099, 8, 16), (20011, 1000, 4), (2053, 40, 300), (3001, 3, 2),
         (2003, 256, 16)]
TOL = {np.float32: 1e-5, np.float64: 1e-12}


@pytest.fixture(params=[pytest.param("cuda", marks=pytest.mark.gpu), "cupy_on_numpy"])
def gpu(request, monkeypatch):
    """The GPU backend (``device="gpu"`` resolves to it for the test's duration)."""
    monkeypatch.setenv("FASTSEG_EXPERIMENTAL_GPU", "1")
    if request.param == "cupy_on_numpy":
        if cuda_on_cpu.available():
            pytest.skip(cuda_on_cpu.available())
        import cupy_on_numpy

        from fastseg.backend import gpu as gpu_module

        cupy_on_numpy.configure()
        monkeypatch.setitem(sys.modules, "cupy", cupy_on_numpy)
        monkeypatch.setattr(gpu_module, "function", cupy_on_numpy.kernel_function)
    from fastseg.backend import get_backend

    return get_backend("gpu")


@pytest.fixture
def cpu():
    return NumPyBackend()


def _rows(gpu, n):
    """``n`` on a GPU; about a fifth on the CPU stand-in, whose kernels run slowly."""
    return n if gpu.xp.__name__ == "cupy" else n // 5 + 1


def _data(rng, n, k, d, dtype, offset=0.0):
    X = (rng.standard_normal((n, d)) * rng.uniform(0.5, 3.0, d) + offset).astype(dtype)
    w = rng.uniform(0.1, 2.0, n).astype(dtype)
    C = (X[rng.choice(n, k, replace=k > n)] + rng.normal(0, 0.1, (k, d))).astype(dtype)
    return X, w, C


def _near_tie_ok(lab_a, lab_b, X, C, tol):
    D = ((X[:, None, :].astype(np.float64) - C[None].astype(np.float64)) ** 2).sum(2) if len(X) * len(C) < 3e7 else None
    differ = np.flatnonzero(lab_a != lab_b)
    if differ.size == 0:
        return True
    if D is None:
        return differ.size <= 1e-4 * len(X)
    rows = differ
    return np.all(np.abs(D[rows, lab_a[rows]] - D[rows, lab_b[rows]]) <= tol * (1 + D[rows].min(axis=1)) * 100)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("n,k,d", SIZES)
@pytest.mark.parametrize("offset", [0.0, 100.0])
def test_lloyd_step_matches_numpy(gpu, cpu, rng, n, k, d, dtype, offset):
    import cupy as cp
    from types import SimpleNamespace

    X, w, C = _data(rng, n, k, d, dtype, offset)
    dc, dg = cpu.prepare(X, w), gpu.prepare(cp.asarray(X), cp.asarray(w))
    assert dc.centered == dg.centered
    rc = SimpleNamespace(centers=C - dc.shift, labels=np.full(n, -1, np.int32), sums=np.zeros((dc.levels, k, d)),
                         counts=np.zeros((dc.levels, k)))
    rg = SimpleNamespace(centers=cp.asarray(C) - dg.shift, labels=cp.full(n, -7, cp.int32),
                         sums=cp.full((dg.levels, k, d), np.nan), counts=cp.full((dg.levels, k), np.nan))
    (ch_c, in_c), = cpu.lloyd_step_multi(dc, [rc], with_inertia=True)
    (ch_g, in_g), = gpu.lloyd_step_multi(dg, [rg], with_inertia=True)
    lab_g = cp.asnumpy(rg.labels)
    assert lab_g.min() >= 0 and lab_g.max() < k
    assert _near_tie_ok(lab_g, rc.labels, X, C, TOL[dtype])
    same = np.all(lab_g == rc.labels)
    assert ch_g == n
    tol = TOL[dtype]
    if same:
        sums_c, counts_c = combine_levels(rc.sums, rc.counts)
        sums_g, counts_g = combine_levels(cp.asnumpy(rg.sums), cp.asnumpy(rg.counts))
        # absolute error relative to the size of what was added up (the shifts of the two
        # backends may differ in the last bits, which matters where a sum cancels to ~0)
        scale = max(np.abs(sums_c).max(), float(w.astype(np.float64).sum() * np.abs(X).max()))
        np.testing.assert_allclose(sums_g, sums_c, rtol=tol, atol=tol * scale)
        np.testing.assert_allclose(counts_g, counts_c, rtol=tol)
        assert in_g == pytest.approx(in_c, rel=max(tol, 1e-4 if dtype == np.float32 else tol))


def test_large_k_fuses_with_opted_in_shared_memory(gpu, rng):
    # k = 256 at d = 16: the fused step needs ~70 KB of shared memory, beyond the 48 KiB a
    # block gets by default; the backend opts the kernel in (the stand-in's launcher fails
    # a launch that did not, as CUDA does) and still gives the CPU engine's labels.
    import cupy as cp
    from types import SimpleNamespace

    n, k, d = 3001, 256, 16
    X, w, C = _data(rng, n, k, d, np.float32)
    dg = gpu.prepare(cp.asarray(X), cp.asarray(w))
    rg = SimpleNamespace(centers=cp.asarray(C) - dg.shift, labels=cp.full(n, -1, cp.int32),
                         sums=cp.zeros((dg.levels, k, d)), counts=cp.zeros((dg.levels, k)))
    if gpu.xp.__name__ != "cupy":
        import cupy_on_numpy

        cupy_on_numpy.launches().clear()
    gpu.lloyd_step_multi(dg, [rg])
    if gpu.xp.__name__ != "cupy":
        fused = [sh for name, _, _, sh in cupy_on_numpy.launches() if name.startswith("lloyd_fused")]
        assert fused and fused[0] > 48 * 1024
    ref = ((X[:, None, :].astype(np.float64) - C[None].astype(np.float64)) ** 2).sum(2).argmin(axis=1)
    assert _near_tie_ok(cp.asnumpy(rg.labels), ref, X, C, TOL[np.float32])
    counts = combine_levels(cp.asnumpy(rg.sums), cp.asnumpy(rg.counts))[1]
    np.testing.assert_allclose(counts, np.bincount(cp.asnumpy(rg.labels), weights=w.astype(np.float64),
                                                   minlength=k), rtol=1e-12)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_fit_from_same_centres_gives_cpu_labels(gpu, rng, dtype):
    import cupy as cp

    from fastseg import KMeans

    if dtype == np.float64:
        X, _, C = _data(rng, _rows(gpu, 30011), 16, 8, dtype)
    else:
        # The engines round distances differently (a GEMM on the CPU, ‖c‖² − 2x·c summed in
        # order on the GPU): in float32 a row within ~1e-6 of a tie may take either centre
        # and a fit can then drift to another optimum (1 seed in ~30 on structureless
        # data). Identical labels are asserted where labels are well defined: blobs whose
        # every row is clearly nearer one final centre (checked below).
        n, k, d = _rows(gpu, 30011), 16, 8
        centres = rng.uniform(-10, 10, (k, d))
        X = (centres[rng.integers(0, k, n)] + rng.standard_normal((n, d))).astype(dtype)
        C = (centres + rng.normal(0, 3.0, (k, d))).astype(dtype)  # one start per blob, well off its centre
    a = KMeans(16, init=C, device="cpu").fit(X)
    b = KMeans(16, init=C, device="gpu").fit(X)
    if dtype == np.float32:
        D = ((X[:, None, :].astype(np.float64) - a.cluster_centers_[None].astype(np.float64)) ** 2).sum(2)
        two = np.sort(D, axis=1)[:, :2]
        assert np.all(two[:, 1] - two[:, 0] > 1e-3 * (1 + two[:, 1]))  # no row near a tie
    np.testing.assert_array_equal(a.labels_, b.labels_)
    assert b.inertia_ == pytest.approx(a.inertia_, rel=1e-4 if dtype == np.float32 else 1e-10)
    c = KMeans(16, init=C, device="gpu").fit(cp.asarray(X))  # already on the device: used in place
    # fitted attributes follow the input: CuPy in, CuPy out (NumPy in, NumPy out above)
    assert isinstance(c.labels_, cp.ndarray) and isinstance(c.cluster_centers_, cp.ndarray)
    assert isinstance(b.labels_, np.ndarray) and isinstance(b.cluster_centers_, np.ndarray)
    np.testing.assert_array_equal(cp.asnumpy(c.labels_), a.labels_)
    assert isinstance(c.predict(cp.asarray(X)), cp.ndarray)
    np.testing.assert_array_equal(c.predict(X), a.labels_)  # host input: host output


def test_device_input_is_checked_on_the_device(gpu, rng):
    """CuPy input gets the host input's errors, found without copying it to the host."""
    import cupy as cp

    from fastseg import KMeans

    X = rng.standard_normal((50, 3))
    with pytest.raises(ValueError, match="Expected 2D array, got 1D array instead"):
        KMeans(2, device="gpu").fit(cp.asarray(X[:, 0]))
    with pytest.raises(ValueError, match=r"Found array with shape \(0, 3\); at least 1 sample"):
        KMeans(2, device="gpu").fit(cp.asarray(X[:0]))
    bad = X.copy()
    bad[7, 1], bad[30, 0] = np.nan, np.inf
    with pytest.raises(ValueError, match=r"NaN or infinity in 2 of 50 rows \(first at row 7\)"):
        KMeans(2, device="gpu").fit(cp.asarray(bad))
    km = KMeans(2, init=X[:2].round(), device="gpu").fit(cp.asarray(X.round().astype(np.int64)))
    assert km.cluster_centers_.dtype == np.float64  # integers are fitted as float64, as on the host
    with pytest.raises(ValueError, match="X has 2 features, but KMeans is expecting 3 features as input"):
        km.predict(cp.asarray(X[:, :2]))


@pytest.mark.gpu
def test_torch_tensor_on_the_gpu_is_used_in_place(rng, monkeypatch):
    # A torch CUDA tensor (``__cuda_array_interface__`` and DLPack) is fitted where it lies:
    # no copy to the host and none on the device; results come back as CuPy arrays.
    torch = pytest.importorskip("torch")
    if not torch.cuda.is_available():
        pytest.skip("torch has no CUDA device here")
    import cupy as cp

    from fastseg import KMeans
    from fastseg.backend import get_backend

    monkeypatch.setenv("FASTSEG_EXPERIMENTAL_GPU", "1")
    X, _, C = _data(rng, 20011, 8, 5, np.float32)
    t = torch.from_numpy(X).cuda()
    assert get_backend("gpu").asarray(t).data.ptr == t.data_ptr()  # a view, not a copy
    a = KMeans(8, init=C, device="gpu").fit(cp.asarray(X))
    b = KMeans(8, init=C, device="gpu").fit(t)
    assert isinstance(b.labels_, cp.ndarray)
    np.testing.assert_array_equal(cp.asnumpy(b.labels_), cp.asnumpy(a.labels_))
    np.testing.assert_array_equal(cp.asnumpy(b.cluster_centers_), cp.asnumpy(a.cluster_centers_))
    np.testing.assert_array_equal(cp.asnumpy(b.predict(t)), cp.asnumpy(a.labels_))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_sweep_runs_together_and_equals_separate_fits(gpu, rng, dtype, monkeypatch):
    # Issue #4 on the GPU: all k advance in one batch (assign_multi and accumulate_multi over
    # every run's centres), and each k's labels, iterations and inertia are those of a
    # separate fit from the same seeds. Blobs, so labels are well defined (no near-ties
    # for the two orders of summing the totals to decide differently).
    import cupy as cp

    from fastseg import KMeans, sweep

    n, d = _rows(gpu, 20011), 6
    centres = rng.uniform(-8, 8, (6, d))
    X = (centres[rng.integers(0, 6, n)] + rng.standard_normal((n, d))).astype(dtype)
    stand_in = gpu.xp.__name__ != "cupy"
    if stand_in:
        import cupy_on_numpy

        cupy_on_numpy.launches().clear()
    res = sweep(X, k=range(2, 9), n_init=2, random_state=0, metrics=("inertia",), device="gpu")
    if stand_in:
        used = {name.split("<")[0] for name, *_ in cupy_on_numpy.launches()}
        assert {"assign_multi", "accumulate_multi"} <= used
    cpu = sweep(X, k=range(2, 9), n_init=2, random_state=0, metrics=("inertia",), device="cpu")
    for k in res.ks:
        alone = KMeans(k, init=res.init_centers[k], n_init=1, device="gpu").fit(X)
        np.testing.assert_array_equal(res.labels[k], alone.labels_)
        assert res.n_iter[k] == alone.n_iter_
        assert res.inertia[k] == pytest.approx(alone.inertia_, rel=TOL[dtype])
        np.testing.assert_allclose(res.init_centers[k], cpu.init_centers[k], rtol=1e-5, atol=1e-5)
        assert res.inertia[k] == pytest.approx(cpu.inertia[k], rel=1e-4)  # and the CPU engine's answer
    assert res.best_k == cpu.best_k
    assert isinstance(res.labels[2], np.ndarray)
    # X on the device: labels and centres stay there (CuPy in, CuPy out), the same values
    dev = sweep(cp.asarray(X), k=range(2, 9), n_init=2, random_state=0, metrics=("inertia",), device="gpu")
    for k in res.ks:
        assert isinstance(dev.labels[k], cp.ndarray) and isinstance(dev.centers[k], cp.ndarray)
        np.testing.assert_array_equal(cp.asnumpy(dev.labels[k]), res.labels[k])
        np.testing.assert_array_equal(cp.asnumpy(dev.centers[k]), res.centers[k])
    km = dev.kmeans(res.best_k)
    assert isinstance(km.labels_, cp.ndarray) and isinstance(km.cluster_centers_, cp.ndarray)
    np.testing.assert_array_equal(cp.asnumpy(km.predict(cp.asarray(X))), res.labels[res.best_k])


@pytest.mark.parametrize("refine", [True, False])
def test_sampled_sweep_gives_the_cpu_engines_answer(gpu, rng, refine):
    # sweep(sample=m): the sample's rows taken on the device (X there or streamed), fitted,
    # then every row refined or labelled; the CPU engine's labels and inertia.
    import cupy as cp

    from fastseg import sweep

    n, d = _rows(gpu, 30011), 5
    centres = rng.uniform(-8, 8, (5, d))
    X = centres[rng.integers(0, 5, n)] + rng.standard_normal((n, d))
    kw = dict(k=range(2, 8), random_state=0, sample=n // 7, refine=refine, metrics=("inertia", "davies_bouldin"))
    cpu = sweep(X, device="cpu", **kw)
    for res in (sweep(X, device="gpu", **kw), sweep(cp.asarray(X), device="gpu", **kw)):
        assert res.sample["rows"] == n // 7 and res.sample["n_iter"] == cpu.sample["n_iter"]
        for k in res.ks:
            np.testing.assert_array_equal(cp.asnumpy(res.labels[k]) if isinstance(res.labels[k], cp.ndarray)
                                          else res.labels[k], cpu.labels[k])
            assert res.inertia[k] == pytest.approx(cpu.inertia[k], rel=1e-10)
            assert res.metrics["davies_bouldin"][k] == pytest.approx(cpu.metrics["davies_bouldin"][k], rel=1e-8)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("verbose", [False, True])
def test_batch_with_an_empty_cluster_relocates_it_as_the_cpu_engine(gpu, cpu, rng, dtype, verbose, capsys):
    # A run of the batch whose centre takes no row gets it relocated on the host, and its
    # centres go back into the batch's buffer before the next iteration reads it; the
    # other runs go on in the same batch. ``verbose`` computes each run's inertia on the
    # way (each run's own kernels instead of the shared ones). Blobs: no near-ties.
    from fastseg._lloyd import lloyd_multi

    n, d = _rows(gpu, 5003), 4
    centres = rng.uniform(-8, 8, (5, d))
    X = (centres[rng.integers(0, 5, n)] + rng.standard_normal((n, d))).astype(dtype)
    far = np.full((1, d), 1e3, dtype)
    inits = [X[:3].copy(), np.vstack([X[3:7], far]), X[7:13].copy(), np.vstack([far, X[13:15]])]
    out = {}
    for name, be in (("gpu", gpu), ("cpu", cpu)):
        data = be.prepare(X, np.ones(n, dtype), center=False)
        out[name] = lloyd_multi(be, data, inits, max_iter=50, tol=1e-4, verbose=verbose)
    for g, c in zip(out["gpu"], out["cpu"]):
        np.testing.assert_array_equal(gpu.to_numpy(g.labels), c.labels)
        assert g.n_iter == c.n_iter > 2
        np.testing.assert_allclose(gpu.to_numpy(g.centers), c.centers, rtol=TOL[dtype], atol=TOL[dtype])
        assert g.inertia == pytest.approx(c.inertia, rel=TOL[dtype])
    assert all(np.abs(gpu.to_numpy(r.centers)).max() < 100 for r in out["gpu"])  # the far centres moved
    if verbose:
        printed = capsys.readouterr().out
        assert printed.count("Iteration 0,") == 2 * len(inits)


def test_deterministic_centres(gpu, rng):
    from fastseg import KMeans

    X, _, _ = _data(rng, _rows(gpu, 50000), 32, 16, np.float32)
    runs = [KMeans(32, random_state=3, device="gpu").fit(X).cluster_centers_ for _ in range(3)]
    np.testing.assert_array_equal(runs[0], runs[1])
    np.testing.assert_array_equal(runs[0], runs[2])


def test_kpp_and_distances(gpu, cpu, rng):
    import cupy as cp

    X, w, C = _data(rng, 7001, 4, 6, np.float64)
    dc, dg = cpu.prepare(X, w), gpu.prepare(X, w)
    clo_c, clo_g = np.full(7001, np.inf), cp.full(7001, np.inf)
    assert gpu.kpp_add_center(dg, cp.asarray(C[0]) - dg.shift, clo_g) == pytest.approx(
        cpu.kpp_add_center(dc, C[0] - dc.shift, clo_c), rel=1e-10)
    out_c, out_g = np.empty((3, 7001)), cp.full((3, 7001), np.nan)
    np.testing.assert_allclose(gpu.kpp_potentials(dg, cp.asarray(C[1:]) - dg.shift, clo_g, out_g),
                               cpu.kpp_potentials(dc, C[1:] - dc.shift, clo_c, out_c), rtol=1e-10)
    # potentials only (what the GPU's k-means++ asks for): the fused kernel, no t × n matrix
    np.testing.assert_allclose(gpu.kpp_potentials(dg, cp.asarray(C[1:]) - dg.shift, clo_g, None),
                               cpu.kpp_potentials(dc, C[1:] - dc.shift, clo_c, out_c), rtol=1e-10)
    np.testing.assert_allclose(cp.asnumpy(gpu.distances(dg, cp.asarray(C) - dg.shift)),
                               cpu.distances(dc, C - dc.shift), rtol=1e-9, atol=1e-9)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("k, weighted", [(1, False), (2, True), (23, False), (23, True)])
def test_kpp_on_the_device_is_the_host_loop(gpu, cpu, rng, dtype, k, weighted, monkeypatch):
    # k-means++ with every step on the device (no copy to the host per centre) picks the
    # rows the loop over the engine ops picks from the same draws, and those are the CPU
    # engine's rows (blobs: no candidate potentials within rounding of each other).
    from fastseg._init import kmeans_plusplus_core

    n, d = _rows(gpu, 30011), 5
    centres = rng.uniform(-10, 10, (8, d))
    X = (centres[rng.integers(0, 8, n)] + rng.standard_normal((n, d))).astype(dtype)
    w = rng.uniform(0.2, 2.0, n).astype(dtype) if weighted else np.ones(n, dtype)
    data = gpu.prepare(X, w)
    assert gpu.kpp_greedy_on_device(data)
    on_device, rows = kmeans_plusplus_core(gpu, data, k, np.random.RandomState(7))
    with monkeypatch.context() as m:
        m.setattr(type(gpu), "kpp_greedy_on_device", lambda self, data: False)
        loop, loop_rows = kmeans_plusplus_core(gpu, data, k, np.random.RandomState(7))
    np.testing.assert_array_equal(rows, loop_rows)
    np.testing.assert_array_equal(gpu.to_numpy(on_device), gpu.to_numpy(loop))
    _, cpu_rows = kmeans_plusplus_core(cpu, cpu.prepare(X, w), k, np.random.RandomState(7))
    np.testing.assert_array_equal(rows, cpu_rows)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_dask_with_cupy_chunks_equals_in_memory_fit(gpu, rng, dtype):
    # issue #6: the same chunk functions with the GPU engine behind them
    dask = pytest.importorskip("dask")
    da = pytest.importorskip("dask.array")
    import cupy as cp

    from fastseg import KMeans, sweep

    n = _rows(gpu, 20011)
    X, w, C = _data(rng, n, 6, 8, dtype, offset=50.0)
    Xd = da.from_array(cp.asarray(X), chunks=(n // 4 - 3, 8), asarray=False)
    with dask.config.set(scheduler="synchronous"):
        a = KMeans(6, init=C, tol=0, max_iter=60).fit(Xd, sample_weight=w)
        lab = a.labels_.compute()
        dist = a.transform(Xd).compute()
        score = a.score(Xd, sample_weight=w)
        res = sweep(Xd, k=range(2, 6), random_state=0, metrics=("inertia", "calinski_harabasz", "silhouette"),
                    silhouette_sample_size=n // 5)
        # a sample gathered from the CuPy chunks, fitted on the GPU, then Lloyd over the chunks
        sampled = sweep(Xd, k=range(2, 6), random_state=0, sample=n // 10, metrics=("inertia",), device="gpu")
    b = KMeans(6, init=C, tol=0, max_iter=60, device="cpu").fit(X, sample_weight=w)
    on_cpu = sweep(X, k=range(2, 6), random_state=0, sample=n // 10, metrics=("inertia",), device="cpu")
    assert isinstance(lab, cp.ndarray)  # labels follow the chunks: CuPy in, CuPy out
    assert _near_tie_ok(cp.asnumpy(lab), b.labels_, X, C, TOL[dtype])
    tol = 1e-5 if dtype == np.float32 else 1e-10
    np.testing.assert_allclose(a.cluster_centers_, b.cluster_centers_, rtol=tol, atol=tol * 50)
    assert a.inertia_ == pytest.approx(b.inertia_, rel=tol)
    assert isinstance(dist, cp.ndarray)  # distances follow the chunks too
    exact = np.sqrt(((X.astype(np.float64)[:, None, :] - a.cluster_centers_.astype(np.float64)[None]) ** 2).sum(2))
    np.testing.assert_allclose(cp.asnumpy(dist), exact, rtol=tol * 10, atol=tol * 100)
    assert score == pytest.approx(-a.inertia_, rel=tol)  # the fit's own rows, weights and centres
    assert res.ks == [2, 3, 4, 5] and all(np.isfinite(res.inertia[k]) for k in res.ks)
    for k in res.ks:  # stratified on the host from the CuPy chunks' candidates
        assert -1 <= res.metrics["silhouette"][k] <= 1 and abs(res.silhouette_n[k] - n // 5) <= 2 * k
    assert sampled.sample["rows"] == n // 10 and sampled.sample["n_iter"] == on_cpu.sample["n_iter"]
    for k in sampled.ks:
        np.testing.assert_allclose(sampled.init_centers[k], on_cpu.init_centers[k], rtol=tol, atol=tol * 50)
        assert sampled.inertia[k] == pytest.approx(on_cpu.inertia[k], rel=tol)



def test_too_large_for_free_gpu_memory_says_what_to_do(gpu, rng, monkeypatch):
    X, w, _ = _data(rng, 1000, 2, 4, np.float32)
    monkeypatch.setattr(type(gpu), "_free_bytes", lambda self: 1 << 20)  # as if 1 MiB were free
    with pytest.raises(MemoryError, match=r"needs about .* GiB of GPU memory.*device='cpu'"):
        gpu.prepare(X, w)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_streamed_from_host_memory_equals_resident(gpu, rng, dtype):
    # issue #3: data larger than free GPU memory stays on the host (pinned in place) and
    # comes over in batches; forced here with small batches, awkward sizes
    from fastseg import KMeans, kmeans_plusplus
    from fastseg.backend.gpu import CuPyBackend

    streamed = CuPyBackend(0, stream_rows=997)
    X, w, C = _data(rng, 20011, 8, 5, dtype, offset=20.0)
    data = streamed.prepare(X, w)
    assert data.batches is not None and len(data.batches) == 21 and isinstance(data.X, np.ndarray)
    a = KMeans(8, init=C, tol=0, max_iter=40, device=streamed).fit(X, sample_weight=w)
    b = KMeans(8, init=C, tol=0, max_iter=40, device="gpu").fit(X, sample_weight=w)
    np.testing.assert_array_equal(a.labels_, b.labels_)
    assert a.n_iter_ == b.n_iter_
    tol = 1e-5 if dtype == np.float32 else 1e-12
    np.testing.assert_allclose(a.cluster_centers_, b.cluster_centers_, rtol=tol, atol=tol * 20)
    assert a.inertia_ == pytest.approx(b.inertia_, rel=tol)
    ca, ia = kmeans_plusplus(X, 16, random_state=1, device=streamed)
    cb, ib = kmeans_plusplus(X, 16, random_state=1, device="gpu")
    np.testing.assert_array_equal(ia, ib)
    np.testing.assert_allclose(a.transform(X), b.transform(X), rtol=1e-4, atol=1e-4)
    # several runs in one batch over streamed batches: each batch's labels are found at
    # their offset in every run's labels, and the changes are counted against them
    import cupy as cp

    from fastseg import sweep

    def two_steps(backend):
        dat = backend.prepare(X, w)
        runs = [SimpleNamespace(centers=cp.asarray(c) - dat.shift, labels=cp.full(len(X), -1, cp.int32),
                                sums=None, counts=None) for c in (C[:3], C, C[2:7])]
        first = backend.lloyd_step_multi(dat, runs)
        for r in runs:
            r.centers = r.centers * 0.9  # moved: some rows change label
        return first, backend.lloyd_step_multi(dat, runs), [cp.asnumpy(r.labels) for r in runs], runs

    sa_, sb_ = two_steps(streamed), two_steps(gpu)
    assert sa_[0] == sb_[0] and sa_[1] == sb_[1] and 0 < sa_[1][1][0] < len(X)
    for la, lb, ra, rb in zip(sa_[2], sb_[2], sa_[3], sb_[3]):
        np.testing.assert_array_equal(la, lb)
        np.testing.assert_allclose(cp.asnumpy(ra.sums), cp.asnumpy(rb.sums), rtol=1e-12, atol=1e-9)

    sa = sweep(X, k=range(2, 6), random_state=0, metrics=("inertia",), max_iter=200, tol=0, device=streamed)
    sb = sweep(X, k=range(2, 6), random_state=0, metrics=("inertia",), max_iter=200, tol=0, device="gpu")
    for k in sa.ks:
        assert sa.n_iter[k] == sb.n_iter[k] < 200  # strict convergence: label changes counted right
        np.testing.assert_array_equal(sa.labels[k], sb.labels[k])
        assert sa.inertia[k] == pytest.approx(sb.inertia[k], rel=tol)
    # a sampled sweep takes its rows from the host batches
    sa = sweep(X, k=range(2, 6), random_state=0, metrics=("inertia",), sample=len(X) // 3, device=streamed)
    sb = sweep(X, k=range(2, 6), random_state=0, metrics=("inertia",), sample=len(X) // 3, device="gpu")
    for k in sa.ks:
        np.testing.assert_array_equal(sa.labels[k], sb.labels[k])
        assert sa.inertia[k] == pytest.approx(sb.inertia[k], rel=tol)


def test_stand_in_has_only_the_names_cupy_has():
    """The stand-in refuses NumPy functions and array methods CuPy lacks, so the backend
    cannot come to rely on one that would fail on a GPU."""
    if cuda_on_cpu.available():
        pytest.skip(cuda_on_cpu.available())
    import cupy_on_numpy as cp

    assert {"zeros", "einsum", "bincount", "RawModule"} <= cp.CUPY_NAMES
    a = cp.zeros(3, dtype=cp.float32)
    assert float(cp.sum(a)) == 0.0 and a.astype(cp.float64).dtype == np.float64
    for name in ("errstate", "geterr", "nanquantile", "insert"):  # NumPy's, not CuPy 14.2's
        assert hasattr(np, name)
        with pytest.raises(AttributeError, match=name):
            getattr(cp, name)
    for name in ("resize", "setflags", "ctypes"):
        with pytest.raises(AttributeError, match=name):
            getattr(a, name)
