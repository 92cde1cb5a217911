"""The CUDA kernels' logic, run on the CPU (tests/cuda_on_cpu), against NumPy.

No GPU needed: each kernel is compiled as host C++ and launched with the geometry the
GPU backend computes (``fastseg.backend.gpu.assign_launch`` and friends), for an H100's
limits and for deliberately cramped ones (little shared memory: centres in many tiles;
one multiprocessor: many grid-stride rounds per thread). Outputs are poisoned before
each launch. What this cannot show, tests/test_gpu.py shows on a GPU: the same kernels
through CuPy, and their speed.
"""

import numpy as np
import pytest

import cuda_on_cpu
from fastseg.backend.gpu import (
    _THREADS,
    accumulate_launch,
    assign_launch,
    fused_launch,
    fused_shared_budget,
    kpp_launch,
    multi_launch,
    row_blocks,
)
from fastseg.backend.kernels import REG_WIDTHS, expression, reg_width, rows_per_thread

if cuda_on_cpu.available() is not None:
    pytest.skip(cuda_on_cpu.available(), allow_module_level=True)

SIZES = [(1, 1, 1), (97, 5, 7), (1009, 13, 1), (4099, 8, 16), (20011, 1000, 4), (2053, 40, 300), (3001, 3, 33),
         (257, 64, 32)]
# (shared memory per block, multiprocessors): an H100, and a cramped device
GEOMETRY = {"h100": (48 * 1024, 132), "cramped": (4 * 1024, 1)}
ACCURACY = {np.float32: 1e-5, np.float64: 1e-12}
CTYPE = {np.float32: "float", np.float64: "double"}


@pytest.fixture(scope="module")
def kmeans_cu(tmp_path_factory):
    return cuda_on_cpu.Module("kmeans.cu", cache_dir=tmp_path_factory.getbasetemp())


def _case(rng, n, k, d, dtype, offset):
    X = (rng.standard_normal((n, d)) * rng.uniform(0.5, 3.0, d) + offset).astype(dtype)
    shift = X.mean(axis=0).astype(dtype) if offset else np.zeros(d, dtype)
    C = (X[rng.choice(n, k, replace=k > n)] - shift + rng.normal(0, 0.1, (k, d))).astype(dtype)
    return X, shift, C


def _sq_dists64(X, shift, C):
    """Squared distances in float64 from the shifted rows as the kernel forms them (in X's dtype)."""
    xs = (X - shift).astype(np.float64)
    return ((xs[:, None, :] - C[None].astype(np.float64)) ** 2).sum(axis=2)


def _run_assign(kmeans_cu, X, shift, C, labels, geometry, with_min=True, changed0=5, width=None):
    """assign_nearest at the backend's geometry, or at a chosen ``width`` (0: the path for
    rows too wide for registers, whatever d)."""
    dtype = X.dtype.type
    n, d = X.shape
    k = C.shape[0]
    smem, sms = GEOMETRY[geometry]
    blocks, threads, tile_k, shared, auto = assign_launch(n, k, d, X.dtype.itemsize, smem, sms)
    if width is not None and width != auto:
        stride = width or d
        tile_k = max(1, min(k, (smem - 1024) // ((stride + 1) * X.itemsize)))
        shared = tile_k * (stride + 1) * X.itemsize
        blocks = row_blocks(-(-n // rows_per_thread(X.itemsize, width)), sms)
    width = auto if width is None else width
    cn = np.einsum("ij,ij->i", C, C)
    min_d = np.full(n, np.nan, dtype) if with_min else None
    changed = np.array([changed0], np.uint64)
    kmeans_cu.get_function(expression("assign_nearest", dtype, width))(
        (blocks,), (threads,),
        (X, shift, C, cn, np.int64(n), np.int32(d), np.int32(k), np.int32(tile_k), labels,
         min_d if with_min else np.uint64(0), changed),
        shared_mem=shared,
    )
    return labels, min_d, int(changed[0]) - changed0, tile_k


@pytest.mark.parametrize("geometry", list(GEOMETRY))
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("n,k,d", SIZES)
def test_assign_nearest(kmeans_cu, rng, n, k, d, dtype, geometry):
    X, shift, C = _case(rng, n, k, d, dtype, offset=50.0 if d % 2 else 0.0)
    before = rng.integers(-1, k, n).astype(np.int32)
    labels, min_d, changed, tile_k = _run_assign(kmeans_cu, X, shift, C, before.copy(), geometry)
    if geometry == "cramped" and k * (d + 1) * X.itemsize > 3 * 1024:
        assert tile_k < k  # the case really is tiled

    D = _sq_dists64(X, shift, C)
    ref = D.argmin(axis=1)
    assert labels.min() >= 0 and labels.max() < k
    differ = np.flatnonzero(labels != ref)
    # a different label only at a near-tie: both centres equally close within rounding
    scale = D.min(axis=1) + (((X - shift).astype(np.float64)) ** 2).sum(axis=1) + 1.0
    gap = D[differ, labels[differ]] - D[differ, ref[differ]]
    assert np.all(gap <= 50 * ACCURACY[dtype] * scale[differ]), (differ.size, gap.max() if gap.size else 0)
    assert differ.size <= max(1, n // 1000)

    # min_d is ‖c‖² − 2 x·c of the chosen centre: ‖x − c‖² − ‖x‖²
    xs = ((X - shift).astype(np.float64) ** 2).sum(axis=1)
    expect = D[np.arange(n), labels] - xs
    assert np.all(np.isfinite(min_d))
    np.testing.assert_allclose(min_d, expect, rtol=0, atol=20 * ACCURACY[dtype] * scale.max())
    assert changed == int((before != labels).sum())


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_assign_nearest_ties_go_to_the_first_centre(kmeans_cu, dtype):
    X = np.zeros((300, 3), dtype)
    C = np.array([[1, 0, 0], [0, 1, 0], [1, 0, 0], [0, 0, 1]], dtype)  # all at distance 1
    labels, _, changed, _ = _run_assign(kmeans_cu, X, np.zeros(3, dtype), C, np.full(300, 2, np.int32), "cramped",
                                        with_min=False)
    assert np.all(labels == 0) and changed == 300


def test_assign_nearest_counts_only_changes(kmeans_cu, rng):
    X, shift, C = _case(rng, 5000, 16, 6, np.float32, 0.0)
    labels, _, changed, _ = _run_assign(kmeans_cu, X, shift, C, np.full(5000, -1, np.int32), "h100")
    again, _, changed2, _ = _run_assign(kmeans_cu, X, shift, C, labels.copy(), "h100", with_min=False)
    assert changed == 5000 and changed2 == 0 and np.array_equal(again, labels)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("d", [2, 5, 12, 13, 19, 24, 26, 31])
def test_register_rows_give_the_wide_paths_bits(kmeans_cu, rng, d, dtype):
    # Rows held in registers, zero-padded to the width and several per thread, must give
    # exactly what one row per thread read from memory gives: padding adds nothing.
    # n is not a multiple of the rows a block takes in a round, and the cramped geometry
    # makes every thread go round the grid many times with centres in several tiles.
    width = reg_width(d)
    rows = rows_per_thread(np.dtype(dtype).itemsize, width)
    n, k = 3 * _THREADS * rows + 37, 23
    X, shift, C = _case(rng, n, k, d, dtype, offset=20.0)
    before = rng.integers(-1, k, n).astype(np.int32)
    for geometry in GEOMETRY:
        reg = _run_assign(kmeans_cu, X, shift, C, before.copy(), geometry, width=width)
        wide = _run_assign(kmeans_cu, X, shift, C, before.copy(), geometry, width=0)
        assert np.array_equal(reg[0], wide[0]) and np.array_equal(reg[1], wide[1]) and reg[2] == wide[2]
    assert width in REG_WIDTHS and (rows > 1 or dtype is np.float64)  # float32 rows really are blocked


def _run_accumulate(kmeans_cu, X, shift, w, labels, k):
    n, d = X.shape
    parts, blocks, threads = accumulate_launch(n, k, d)
    ps = np.full((parts, k, d), np.nan)
    pw = np.full((parts, k), np.nan)
    kmeans_cu.get_function(f"accumulate_partitions<{CTYPE[X.dtype.type]}>")(
        (blocks,), (threads,),
        (X, shift, w, labels, np.int64(n), np.int32(d), np.int32(k), np.int32(parts), ps, pw),
    )
    red = kmeans_cu.get_function("reduce_partials")
    out = []
    for src in (ps, pw):
        m = src[0].size
        dst = np.full(src.shape[1:], np.nan)
        red((-(-m // _THREADS),), (_THREADS,), (src, np.int32(parts), np.int64(m), dst))
        # the documented order: partitions added one after another
        seq = np.zeros(src.shape[1:])
        for p in range(parts):
            seq += src[p]
        assert np.array_equal(dst, seq)
        out.append(dst)
    return out[0], out[1], parts


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("n,k,d", SIZES)
def test_accumulate_partitions(kmeans_cu, rng, n, k, d, dtype):
    X, shift, _ = _case(rng, n, k, d, dtype, offset=20.0 if d % 2 else 0.0)
    w = rng.uniform(0.1, 2.0, n).astype(dtype)
    labels = rng.integers(0, k, n).astype(np.int32)
    if k > 2:
        labels[labels == 1] = 0  # an empty cluster
    sums, counts, parts = _run_accumulate(kmeans_cu, X, shift, w, labels, k)
    assert parts >= 1

    xs = (X - shift).astype(np.float64)  # the kernel shifts in X's dtype, sums in float64
    ref_s = np.zeros((k, d))
    np.add.at(ref_s, labels, w.astype(np.float64)[:, None] * xs)
    ref_c = np.bincount(labels, weights=w.astype(np.float64), minlength=k)
    mag = np.zeros((k, d))
    np.add.at(mag, labels, np.abs(w.astype(np.float64)[:, None] * xs))
    assert np.all(np.abs(sums - ref_s) <= 1e-12 * (mag + 1e-300))
    np.testing.assert_allclose(counts, ref_c, rtol=1e-12)
    if k > 2:
        assert counts[1] == 0 and np.all(sums[1] == 0)

    # the same bits on a second run: no atomics, a fixed order
    sums2, counts2, _ = _run_accumulate(kmeans_cu, X, shift, w, labels, k)
    assert np.array_equal(sums, sums2) and np.array_equal(counts, counts2)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("n,k,d", SIZES)
def test_sq_dist_assigned(kmeans_cu, rng, n, k, d, dtype):
    X, shift, C = _case(rng, n, k, d, dtype, offset=30.0)
    labels = rng.integers(0, k, n).astype(np.int32)
    out = np.full(n, np.nan, dtype)
    kmeans_cu.get_function(f"sq_dist_assigned<{CTYPE[dtype]}>")(
        (row_blocks(n, 1),), (_THREADS,), (X, shift, C, labels, np.int64(n), np.int32(d), out)
    )
    ref = _sq_dists64(X, shift, C)[np.arange(n), labels]
    np.testing.assert_allclose(out, ref, rtol=10 * d * ACCURACY[dtype])


def test_launch_geometry_stays_within_cuda_limits():
    for n in (1, 255, 256, 257, 10**7, 10**8):
        for k in (1, 64, 1000):
            for d in (1, 16, 300):
                for item in (4, 8):
                    for smem, sms in GEOMETRY.values():
                        blocks, threads, tile_k, shared, width = assign_launch(n, k, d, item, smem, sms)
                        assert 1 <= blocks <= 2**31 - 1 and threads <= 1024
                        assert 1 <= tile_k <= k and shared <= smem - 1024
                        assert width == 0 or d <= width <= 32 and width % 4 == 0
                        rows = rows_per_thread(item, width)
                        assert blocks * threads * rows >= min(n, sms * 32 * threads)  # every row is reached
                    parts, blocks, threads = accumulate_launch(n, k, d)
                    assert 1 <= parts <= min(n, 4096) and blocks * threads >= 32 * parts
                    assert parts * k * (d + 1) * 8 <= max(64 * 2**20, k * (d + 1) * 8)


def test_launch_constants_match_the_kernel_source():
    import re

    from fastseg.backend import gpu
    from fastseg.backend.kernels import kernel_dir

    src = (kernel_dir() / "kmeans.cu").read_text()
    assert int(re.search(r"kKppGroup = (\d+)", src).group(1)) == gpu._KPP_GROUP


def test_too_many_features_for_shared_memory_is_a_clear_error():
    with pytest.raises(ValueError, match="too many for the GPU engine"):
        assign_launch(100, 8, 10_000, 8, 48 * 1024, 132)


def test_emulator_rejects_what_cuda_would(kmeans_cu):
    f = kmeans_cu.get_function("sq_dist_assigned<float>")
    X = np.zeros((4, 2), np.float32)
    good = (X, np.zeros(2, np.float32), X, np.zeros(4, np.int32), np.int64(4), np.int32(2), np.zeros(4, np.float32))
    f((1,), (32,), good)
    with pytest.raises(cuda_on_cpu.LaunchError, match="expected float32, got float64"):
        f((1,), (32,), (X.astype(np.float64),) + good[1:])
    with pytest.raises(cuda_on_cpu.LaunchError, match="NumPy int32 scalar"):
        f((1,), (32,), good[:5] + (2,) + good[6:])
    with pytest.raises(cuda_on_cpu.LaunchError, match="not C-contiguous"):
        f((1,), (32,), (np.zeros((4, 4), np.float32)[:, :2],) + good[1:])
    with pytest.raises(cuda_on_cpu.LaunchError, match="block size"):
        f((1,), (2048,), good)
    with pytest.raises(cuda_on_cpu.LaunchError, match="48 KiB unless"):
        f((1,), (32,), good, shared_mem=64 * 1024)
    with pytest.raises(cuda_on_cpu.LaunchError, match="takes 7 arguments"):
        f((1,), (32,), good[:6])


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("n,t,d", [(1, 1, 1), (97, 3, 7), (4099, 10, 16), (20011, 8, 4), (2053, 9, 300)])
@pytest.mark.parametrize("geometry", list(GEOMETRY))
def test_kpp_potentials(kmeans_cu, rng, n, t, d, dtype, geometry):
    X, shift, cand = _case(rng, n, t, d, dtype, offset=40.0 if d % 2 else 0.0)
    w = rng.uniform(0.0, 2.0, n).astype(dtype)
    D = _sq_dists64(X, shift, cand)  # (n, t)
    closest = (D.min(axis=1) * rng.uniform(0.5, 2.0, n)).astype(dtype)  # some rows keep theirs
    blocks, threads, shared = kpp_launch(n, t, GEOMETRY[geometry][1])
    f = kmeans_cu.get_function(f"kpp_potentials<{CTYPE[dtype]}>")
    red = kmeans_cu.get_function("reduce_partials")

    def potentials(C, clo, store):
        partial = np.full((blocks, C.shape[0]), np.nan)
        f((blocks,), (threads,), (X, shift, C, np.int32(C.shape[0]), w, np.int64(n), np.int32(d), clo,
                                  np.int32(store), partial), shared_mem=shared)
        out = np.full(C.shape[0], np.nan)
        red((1,), (_THREADS,), (partial, np.int32(blocks), np.int64(C.shape[0]), out))
        return out

    before = closest.copy()
    pots = potentials(cand, closest, 0)
    assert np.array_equal(closest, before)  # read only without store
    ref = (np.minimum(before[:, None].astype(np.float64), D) * w[:, None]).sum(axis=0)
    np.testing.assert_allclose(pots, ref, rtol=10 * d * ACCURACY[dtype])
    assert np.array_equal(pots, potentials(cand, closest, 0))  # the same bits again

    best = int(np.argmin(pots))
    pot = potentials(np.ascontiguousarray(cand[best:best + 1]), closest, 1)
    np.testing.assert_allclose(closest, np.minimum(before, D[:, best]), rtol=10 * d * ACCURACY[dtype])
    np.testing.assert_allclose(pot[0], ref[best], rtol=10 * d * ACCURACY[dtype])


FUSED_SIZES = [(1, 1, 1), (97, 5, 7), (1009, 13, 1), (4099, 8, 16), (20011, 60, 4), (3001, 3, 32), (5003, 40, 16),
               (3001, 1000, 1), (3001, 256, 16)]
# An H100's shared memory per block (by default; opted in, as the backend does: half a
# multiprocessor's); one multiprocessor (few blocks: many rounds each); less shared
# memory (centres in tiles).
H100_PROPS = {"sharedMemPerBlock": 48 * 1024, "sharedMemPerBlockOptin": 227 * 1024,
              "sharedMemPerMultiprocessor": 228 * 1024, "multiProcessorCount": 132}
FUSED_GEOMETRY = {"h100": (48 * 1024, 132), "h100_optin": (fused_shared_budget(H100_PROPS), 132),
                  "one_sm": (48 * 1024, 1), "small_smem": (24 * 1024, 4)}


def _fused_kernel(kmeans_cu, dtype, width, shared):
    f = kmeans_cu.get_function(expression("lloyd_fused", dtype, width))
    if shared > 48 * 1024:
        f.max_dynamic_shared_size_bytes = shared  # the opt-in the backend makes
    return f


@pytest.mark.parametrize("geometry", list(FUSED_GEOMETRY))
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("n,k,d", FUSED_SIZES)
def test_lloyd_fused(kmeans_cu, rng, n, k, d, dtype, geometry):
    X, shift, C = _case(rng, n, k, d, dtype, offset=50.0 if d % 2 else 0.0)
    w = rng.uniform(0.1, 2.0, n).astype(dtype)
    smem, sms = FUSED_GEOMETRY[geometry]
    geo = fused_launch(n, k, d, X.itemsize, smem, sms)
    if geo is None:
        pytest.skip("the fused kernel does not fit this k, d and shared memory (two kernels run instead)")
    blocks, threads, tile_k, groups, shared, width = geo
    if (n, k, d, geometry) == (3001, 1000, 1, "small_smem"):
        assert tile_k < k  # the case really is tiled
    cn = np.einsum("ij,ij->i", C, C)
    before = rng.integers(-1, k, n).astype(np.int32)

    def run():
        labels, changed = before.copy(), np.array([3], np.uint64)
        ps, pw = np.full((blocks, k, d), np.nan), np.full((blocks, k), np.nan)
        _fused_kernel(kmeans_cu, dtype, width, shared)(
            (blocks,), (threads,),
            (X, shift, w, C, cn, np.int64(n), np.int32(d), np.int32(k), np.int32(tile_k), np.int32(groups),
             labels, changed, ps, pw), shared_mem=shared)
        sums, counts = np.zeros((k, d)), np.zeros(k)
        for p in range(blocks):  # reduce_partials' order
            sums += ps[p]
            counts += pw[p]
        return labels, int(changed[0]) - 3, sums, counts

    labels, changed, sums, counts = run()
    D = _sq_dists64(X, shift, C)
    ref = D.argmin(axis=1)
    differ = np.flatnonzero(labels != ref)
    scale = D.min(axis=1) + (((X - shift).astype(np.float64)) ** 2).sum(axis=1) + 1.0
    assert np.all(D[differ, labels[differ]] - D[differ, ref[differ]] <= 50 * ACCURACY[dtype] * scale[differ])
    assert changed == int((before != labels).sum())

    xs = (X - shift).astype(np.float64)
    ref_s = np.zeros((k, d))
    np.add.at(ref_s, labels, w.astype(np.float64)[:, None] * xs)
    mag = np.zeros((k, d))
    np.add.at(mag, labels, np.abs(w.astype(np.float64)[:, None] * xs))
    assert np.all(np.abs(sums - ref_s) <= 1e-12 * (mag + 1e-300))
    np.testing.assert_allclose(counts, np.bincount(labels, weights=w.astype(np.float64), minlength=k), rtol=1e-12)

    again = run()  # the same bits: no float atomics, fixed order
    assert np.array_equal(again[0], labels) and np.array_equal(again[2], sums) and np.array_equal(again[3], counts)


@pytest.mark.parametrize("budget", [48 * 1024, fused_shared_budget(H100_PROPS)])
def test_fused_launch_fits_shared_memory(budget):
    for k in (1, 8, 64, 256):
        for d in (1, 16, 32, 33):
            for item in (4, 8):
                geo = fused_launch(10**7, k, d, item, budget, 132)
                if d > 32:
                    assert geo is None
                    continue
                if geo is not None:
                    blocks, threads, tile_k, groups, shared, width = geo
                    assert width == reg_width(d) and width >= d
                    assert shared <= budget - 1024 and 1 <= tile_k <= k and groups * d <= threads and groups >= 1
                    assert blocks * k * (d + 1) * 8 <= 64 * 2**20
    assert fused_launch(10**7, 8, 16, 4, budget, 132) is not None  # the common case is fused


def test_opting_in_to_shared_memory_fuses_more():
    # On an H100 the backend lets a block use half a multiprocessor's shared memory: k = 64
    # at d = 16 gets several groups of totals (rows walked in parallel) instead of 2, and
    # k = 256 fuses at all, where 48 KiB holds neither.
    budget = fused_shared_budget(H100_PROPS)
    assert budget == 114 * 1024
    assert fused_launch(10**7, 64, 16, 4, 48 * 1024, 132)[3] == 2
    assert fused_launch(10**7, 64, 16, 4, budget, 132)[3] >= 8
    assert fused_launch(10**7, 256, 16, 4, 48 * 1024, 132) is None
    blocks, threads, tile_k, groups, shared, width = fused_launch(10**7, 256, 16, 4, budget, 132)
    assert tile_k == 256 and groups >= 2 and 48 * 1024 < shared <= budget - 1024
    # an older GPU without the opt-in properties keeps the default
    assert fused_shared_budget({"sharedMemPerBlock": 48 * 1024}) == 48 * 1024


def test_emulator_enforces_the_shared_memory_opt_in(kmeans_cu):
    f = kmeans_cu.get_function(expression("lloyd_fused", np.float32, 4))
    n, k, d = 10, 2, 1
    X, w = np.ones((n, d), np.float32), np.ones(n, np.float32)
    args = (X, np.zeros(d, np.float32), w, np.zeros((k, d), np.float32), np.zeros(k, np.float32), np.int64(n),
            np.int32(d), np.int32(k), np.int32(k), np.int32(1), np.zeros(n, np.int32), np.zeros(1, np.uint64),
            np.zeros((1, k, d)), np.zeros((1, k)))
    f.max_dynamic_shared_size_bytes = 48 * 1024  # the default (other tests opt this kernel in)
    with pytest.raises(cuda_on_cpu.LaunchError, match="kernel's limit"):
        f((1,), (32,), args, shared_mem=64 * 1024)
    f.max_dynamic_shared_size_bytes = 64 * 1024
    again = kmeans_cu.get_function(expression("lloyd_fused", np.float32, 4))
    assert again.max_dynamic_shared_size_bytes == 64 * 1024  # the attribute is the kernel's, not the handle's
    again((1,), (32,), args, shared_mem=64 * 1024)
    assert args[-2].sum() == n  # it ran: every row counted
    with pytest.raises(cuda_on_cpu.LaunchError, match="opt in to"):
        f.max_dynamic_shared_size_bytes = 228 * 1024
    f.max_dynamic_shared_size_bytes = 48 * 1024


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_null_weights_mean_every_weight_one(kmeans_cu, rng, dtype):
    # Unweighted GPU fits keep no weight array: the kernels get a null pointer and must
    # give the bits that an array of ones gives.
    n, k, d = 4099, 8, 16
    X, shift, C = _case(rng, n, k, d, dtype, offset=30.0)
    ones, null = np.ones(n, dtype), np.uint64(0)
    labels = rng.integers(0, k, n).astype(np.int32)
    a, b = (_run_accumulate(kmeans_cu, X, shift, w, labels, k) for w in (ones, null))
    assert np.array_equal(a[0], b[0]) and np.array_equal(a[1], b[1])
    assert a[1].sum() == n  # really weights of one, not zeros

    blocks, threads, shared = kpp_launch(n, 3, 132)
    closest = np.full(n, np.inf, dtype)
    pots = []
    for w in (ones, null):
        partial = np.full((blocks, 3), np.nan)
        kmeans_cu.get_function(f"kpp_potentials<{CTYPE[dtype]}>")(
            (blocks,), (threads,), (X, shift, C[:3].copy(), np.int32(3), w, np.int64(n), np.int32(d), closest,
                                    np.int32(0), partial), shared_mem=shared)
        pots.append(partial)
    assert np.array_equal(pots[0], pots[1]) and np.isfinite(pots[0]).all()

    blocks, threads, tile_k, groups, shared, width = fused_launch(n, k, d, X.itemsize, 48 * 1024, 132)
    cn = np.einsum("ij,ij->i", C, C)
    runs = []
    for w in (ones, null):
        lab, changed = labels.copy(), np.zeros(1, np.uint64)
        ps, pw = np.full((blocks, k, d), np.nan), np.full((blocks, k), np.nan)
        kmeans_cu.get_function(expression("lloyd_fused", dtype, width))(
            (blocks,), (threads,), (X, shift, w, C, cn, np.int64(n), np.int32(d), np.int32(k), np.int32(tile_k),
                                    np.int32(groups), lab, changed, ps, pw), shared_mem=shared)
        runs.append((lab, ps, pw))
    assert all(np.array_equal(p, q) for p, q in zip(*runs))
    assert runs[1][2].sum() == n


# Several runs in one step: (row count, each run's k, d)
MULTI_SIZES = [(1, [1, 2], 3), (97, [2, 3], 7), (4099, [2, 3, 4, 5, 6, 7, 8], 16), (3001, [5, 1, 7], 1),
               (2003, list(range(2, 22)), 4), (1009, [40, 3], 32), (4099, [8, 8, 8], 12)]
MULTI_GEOMETRY = {"h100_optin": (fused_shared_budget(H100_PROPS), 132, None), "one_sm": (48 * 1024, 1, None),
                  "tiled": (48 * 1024, 4, 7)}  # tile_k = 7: run boundaries inside and across tiles


def _multi_kernels(kmeans_cu, dtype, width, sha, shb):
    a = kmeans_cu.get_function(expression("assign_multi", dtype, width))
    b = kmeans_cu.get_function(expression("accumulate_multi", dtype))
    for f, shared in ((a, sha), (b, shb)):
        if shared > 48 * 1024:
            f.max_dynamic_shared_size_bytes = shared  # the opt-in the backend makes
    return a, b


@pytest.mark.parametrize("geometry", list(MULTI_GEOMETRY))
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("n,ks,d", MULTI_SIZES)
def test_multi_run_step(kmeans_cu, rng, n, ks, d, dtype, geometry):
    # Every run gets the labels assign_nearest gives it alone (the same bits), its label
    # changes counted, and its totals to 1e-12 in a fixed order.
    X = (rng.standard_normal((n, d)) * rng.uniform(0.5, 3.0, d)).astype(dtype)
    shift = np.zeros(d, dtype)
    Cs = [(X[rng.choice(n, k, replace=k > n)] + rng.normal(0, 0.1, (k, d))).astype(dtype) for k in ks]
    C = np.concatenate(Cs)
    cn = np.einsum("ij,ij->i", C, C)
    off = np.concatenate([[0], np.cumsum(ks)]).astype(np.int32)
    K, runs = int(off[-1]), len(ks)
    w = rng.uniform(0.1, 2.0, n).astype(dtype)
    smem, sms, tile = MULTI_GEOMETRY[geometry]
    geo = multi_launch(n, K, runs, d, X.itemsize, smem, sms)
    assert geo is not None
    (ba, ta, tile_k, sha, width), (bb, tb, stage, groups, shb) = geo
    if tile is not None:
        tile_k, sha = tile, tile * (width + 1) * X.itemsize + 4 * runs
    if geometry == "one_sm":
        assert bb == 1 or stage < n  # many rows per block: several stages
    before = [rng.integers(-1, k, n).astype(np.int32) for k in ks]
    assign, accumulate = _multi_kernels(kmeans_cu, dtype, width, sha, shb)

    def run():
        labels = [b.copy() for b in before]
        ptrs = np.array([lab.ctypes.data for lab in labels], np.uint64)
        changed = np.arange(3, 3 + runs, dtype=np.uint64)
        assign((ba,), (ta,), (X, shift, C, cn, off, np.int32(runs), np.int64(n), np.int32(d), np.int32(tile_k), ptrs,
                              changed), shared_mem=sha)
        ps, pw = np.full((bb, K, d), np.nan), np.full((bb, K), np.nan)
        accumulate((bb,), (tb,), (X, shift, w, off, np.int32(runs), np.int64(n), np.int32(d), np.int32(stage),
                                  np.int32(groups), ptrs, ps, pw), shared_mem=shb)
        sums, counts = np.zeros((K, d)), np.zeros(K)
        for p in range(bb):  # reduce_partials' order
            sums += ps[p]
            counts += pw[p]
        return labels, changed - np.arange(3, 3 + runs, dtype=np.uint64), sums, counts

    labels, changed, sums, counts = run()
    xs = (X - shift).astype(np.float64)
    w64 = w.astype(np.float64)
    for r, k in enumerate(ks):
        alone, _, n_changed, _ = _run_assign(kmeans_cu, X, shift, Cs[r], before[r].copy(), "h100", with_min=False,
                                             width=width)
        assert np.array_equal(labels[r], alone), r
        assert int(changed[r]) == n_changed == int((before[r] != alone).sum())
        a, b = off[r], off[r + 1]
        ref_s, mag = np.zeros((k, d)), np.zeros((k, d))
        np.add.at(ref_s, labels[r], w64[:, None] * xs)
        np.add.at(mag, labels[r], np.abs(w64[:, None] * xs))
        assert np.all(np.abs(sums[a:b] - ref_s) <= 1e-12 * (mag + 1e-300)), r
        np.testing.assert_allclose(counts[a:b], np.bincount(labels[r], weights=w64, minlength=k), rtol=1e-12)

    again = run()  # the same bits: no float atomics, fixed order
    assert all(np.array_equal(x, y) for x, y in zip(again[0], labels))
    assert np.array_equal(again[2], sums) and np.array_equal(again[3], counts)


def test_multi_launch_fits_shared_memory():
    budget = fused_shared_budget(H100_PROPS)
    # a sweep k = 2..32 at d = 16 (527 centres, 31 runs) runs together on an H100
    ks = list(range(2, 33))
    (ba, ta, tile_k, sha, width), (bb, tb, stage, groups, shb) = multi_launch(10**7, sum(ks), len(ks), 16, 4,
                                                                             budget, 132)
    assert tile_k == sum(ks) and sha <= budget - 1024 and shb <= budget - 1024
    assert stage >= 64 and groups == 16 and groups * 16 <= tb and bb * sum(ks) * 17 * 8 <= 64 * 2**20
    assert multi_launch(10**7, 40, 2, 33, 4, budget, 132) is None  # rows too wide for registers
    assert multi_launch(10**7, 5000, 50, 16, 4, budget, 132) is None  # totals beyond shared memory


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("parts, ks, d", [(1, (1,), 1), (7, (3, 5, 2), 4), (33, (40,), 17), (2, (2, 9, 1, 6), 300)])
@pytest.mark.parametrize("geometry", sorted(GEOMETRY))
def test_finish_iteration(kmeans_cu, rng, dtype, parts, ks, d, geometry):
    # The end of a batched Lloyd iteration in one launch: the parts added in order from
    # 0.0 (reduce_partials' order, so the totals' bits are those of the separate ops it
    # replaces), means in T, empty clusters keeping their centre, the packet for the
    # host, and each run's change counter read and reset.
    K, R = sum(ks), len(ks)
    ps = rng.standard_normal((parts, K, d)) * 10
    pw = rng.uniform(0.5, 3.0, (parts, K))
    empty = rng.random(K) < 0.3
    pw[:, empty] = 0.0
    ps[:, empty] = 0.0
    C = rng.standard_normal((K, d)).astype(dtype)
    changed = rng.integers(0, 10**6, R).astype(np.uint64)
    want_changed = changed.astype(np.float64)
    sums = np.zeros((K, d))
    counts = np.zeros(K)
    for p in range(parts):  # reduce_partials' order, then added to zeros as the backend did
        sums += ps[p]
        counts += pw[p]
    means = np.where(counts[:, None] > 0, sums / np.where(counts > 0, counts, 1.0)[:, None], C).astype(dtype)
    out_sums, out_counts = np.full((K, d), np.nan), np.full(K, np.nan)
    out_C, packet = np.full((K, d), np.nan, dtype), np.full(R + K + 2 * K * d, np.nan)
    _, sms = GEOMETRY[geometry]
    kmeans_cu.get_function(expression("finish_iteration", dtype))(
        (row_blocks(K * d, sms),), (_THREADS,),
        (ps, pw, np.int32(parts), C, changed, np.int32(R), np.int64(K), np.int32(d), out_sums, out_counts, out_C,
         packet))
    np.testing.assert_array_equal(out_sums, sums)
    np.testing.assert_array_equal(out_counts, counts)
    np.testing.assert_array_equal(out_C, means)
    np.testing.assert_array_equal(out_C[empty], C[empty])
    np.testing.assert_array_equal(packet, np.concatenate([want_changed, counts, C.astype(np.float64).ravel(),
                                                          means.astype(np.float64).ravel()]))
    np.testing.assert_array_equal(changed, 0)


def _kpp_sample_reference(closest, w, targets, per_thread, threads):
    """kpp_segment_totals + kpp_search in NumPy, sum for sum in the kernels' order."""
    n = closest.size
    v = closest.astype(np.float64) * (1.0 if w is None else w.astype(np.float64))
    seg_len = threads * per_thread
    segments = -(-n // seg_len)

    def thread_sums(s):
        out = []
        for j in range(threads):
            acc = 0.0
            for x in v[min(n, s * seg_len + j * per_thread):min(n, s * seg_len + (j + 1) * per_thread)]:
                acc += x
            out.append(acc)
        return out

    totals = []
    for s in range(segments):
        acc = 0.0
        for x in thread_sums(s):
            acc += x
        totals.append(acc)
    rows = []
    for t in targets:
        acc, s = 0.0, 0
        while s < segments and not acc + totals[s] > t:
            acc += totals[s]
            s += 1
        if s == segments:
            rows.append(n - 1)
            continue
        left, before, row = t - acc, 0.0, min(n, (s + 1) * seg_len) - 1
        for j, part in enumerate(thread_sums(s)):
            run = before
            lo = min(n, s * seg_len + j * per_thread)
            hit = next((i for i in range(lo, min(n, lo + per_thread)) if (run := run + v[i]) > left), None)
            if hit is not None:
                row = hit
                break
            before += part
        rows.append(row)
    return np.array(rows, dtype=np.int64)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("n, weighted", [(1, False), (257, True), (6007, False), (6007, True)])
@pytest.mark.parametrize("threads, per_thread", [(256, 8), (32, 3)])
def test_kpp_sample(kmeans_cu, rng, dtype, n, weighted, threads, per_thread):
    # k-means++'s inverse-CDF draw on the device against the same sums in NumPy, and
    # against a plain cumulative sum where no target is within rounding of a row's edge.
    closest = rng.uniform(0, 2, n).astype(dtype)
    closest[rng.random(n) < 0.2] = 0  # rows that are centres already: never drawn
    w = rng.uniform(0.5, 2, n).astype(dtype) if weighted else None
    if weighted:
        w[rng.random(n) < 0.1] = 0  # weight 0: never drawn
    v = closest.astype(np.float64) * (1.0 if w is None else w.astype(np.float64))
    cdf = np.cumsum(v)
    total = cdf[-1]
    targets = np.concatenate([rng.uniform(0, total, 40), [0.0, total * 0.999999, total, total * 2],
                              cdf[rng.integers(0, n, 5)]])  # on an edge: the next row with weight
    segments = -(-n // (threads * per_thread))
    seg = np.full(segments, np.nan)
    out = np.full(targets.size, -7, np.int64)
    wp = np.uint64(0) if w is None else w
    kmeans_cu.get_function(expression("kpp_segment_totals", dtype))(
        (segments,), (threads,), (closest, wp, np.int64(n), np.int32(per_thread), seg), shared_mem=threads * 8)
    kmeans_cu.get_function(expression("kpp_search", dtype))(
        (targets.size,), (threads,),
        (closest, wp, np.int64(n), np.int32(per_thread), seg, np.int64(segments), targets, out),
        shared_mem=threads * 16 + 16)
    want = _kpp_sample_reference(closest, w, targets, per_thread, threads)
    np.testing.assert_array_equal(out, want)
    plain = np.minimum(np.searchsorted(cdf, targets, side="right"), n - 1)
    clear = np.array([np.all(np.abs(cdf - t) > 1e-9 * total) for t in targets])
    np.testing.assert_array_equal(out[clear], plain[clear])
    assert np.all(v[out[targets < total]] > 0) or n == 1  # a row of no weight is never drawn
