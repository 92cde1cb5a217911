"""CuPy engine: raw CUDA kernels for assignment and accumulation, cuBLAS for the rest.

Status: written and compiled (CI runs nvcc over the kernels) but not yet validated on a
GPU; ``get_backend("gpu")`` only returns it when ``FASTSEG_EXPERIMENTAL_GPU=1`` is set,
until tests/test_gpu.py and bench/gpu_check.sh have passed on hardware.

Design, first version (correctness and determinism first, speed next):

* nearest centres at the FMA rate: rows of up to 32 features are held in registers, a few
  per thread, so each centre value read from shared memory (four at a time) feeds
  several multiply-adds; kernels are instantiated per padded width (``reg_width``);
* a Lloyd step in one read of X: ``lloyd_fused`` (threads label their rows against
  centre tiles in shared memory; each block stages its rows and adds them to float64
  totals in shared memory in a fixed order; label changes counted on the device), then
  ``reduce_partials`` adds the blocks in order — the same centres run after run. A block
  may use up to half a multiprocessor's shared memory (opted in beyond the default 48 KiB):
  more groups of totals walk the rows in parallel, and larger k fuses at all;
* where that does not fit (more than 32 features, or k · (d + 1) float64 totals beyond
  that shared memory): ``assign_nearest`` then ``accumulate_partitions`` (warp per partition,
  lane per dimension, float64 partials, no atomics), two reads of X;
* several runs at once (a sweep's k and restarts): ``assign_multi`` labels every row for
  every run against the runs' centres concatenated (rows in registers, centres staged in
  tiles, each run's argmin kept as the walk crosses its centres), then ``accumulate_multi``
  adds every run's totals in shared memory, a group of threads per run: two reads of X
  per iteration for all runs, where a kernel per run would read it once per run. Used
  while the runs' float64 totals fit in a block's shared memory (k = 2..32 at d = 16 does);
  otherwise each run takes its own kernels;
* the end of an iteration, for every run at once, is one kernel (``finish_iteration``:
  the blocks' totals added in order, the new centres, the packet the host reads) and one
  small copy to the host. Every CuPy call costs microseconds of host time, as much as a
  whole iteration's kernels at small k, so an iteration of resident X makes five or six
  calls whatever the number of runs: the buffers and each run's views of them are kept
  while the batch is unchanged (``_BatchPlan``);
* k-means++: ``kpp_potentials`` (one thread per row, direct differences, per-block
  float64 totals summed in a fixed order) gives every candidate's potential in one pass
  and updates the closest distances after the choice; the inverse-CDF draw runs on the
  device in two levels (``kpp_segment_totals``, ``kpp_search``), and so does the whole
  greedy loop (``kpp_greedy``): nothing crosses to the host until the rows drawn, at
  the end;
* distances (``transform``): a cuBLAS product and CuPy element-wise ops.
"""

from __future__ import annotations

import functools
import weakref

import numpy as np

from ._base import Backend, Dataset, needs_centering
from .kernels import function, reg_width, rows_per_thread

_THREADS = 256
_PARTIAL_BUDGET = 64 * 2**20  # bytes of float64 partial sums per accumulation
_PIECE_BYTES = 128 * 2**20  # bytes of per-row temporaries an op makes at a time
_SHARED_SPARE = 1024  # bytes of a block's shared memory left to the compiler and runtime
_KPP_GROUP = 8  # candidates per sweep of kpp_potentials: kKppGroup in kernels/kmeans.cu
_KPP_SAMPLE_THREADS = 256  # threads of kpp_segment_totals and kpp_search (a segment: their rows)
_KPP_MAX_SEGMENTS = 2048  # segments kpp_search's first thread walks at most
_FUSED_BLOCKS_PER_SM = 2  # lloyd_fused blocks a multiprocessor's shared memory must hold
_MIN_STAGE, _MAX_STAGE = 64, 1024  # rows accumulate_multi stages at a time


def fused_shared_budget(props):
    """Shared memory a ``lloyd_fused`` block may use on a device (its properties, as
    ``cupy.cuda.runtime.getDeviceProperties`` gives them).

    More shared memory gives the step more groups of float64 totals (rows walked in
    parallel) and lets larger k fuse at all (k = 256 at d = 16 needs ~70 KB). Past the
    48 KiB every GPU gives a block, a kernel must opt in; the budget stops at what lets
    two blocks share a multiprocessor, since their registers allow about two anyway.
    """
    default = int(props.get("sharedMemPerBlock", 48 * 1024))
    optin = int(props.get("sharedMemPerBlockOptin", default))
    per_sm = int(props.get("sharedMemPerMultiprocessor", optin))
    return max(default, min(optin, per_sm // _FUSED_BLOCKS_PER_SM))


def row_blocks(n, sms):
    """Blocks of a one-thread-per-row, grid-stride kernel: enough for every row, at most
    32 per multiprocessor (more only adds launch overhead)."""
    return int(min(max(1, -(-int(n) // _THREADS)), int(sms) * 32))


def assign_launch(n, k, d, itemsize, shared_per_block, sms):
    """``(blocks, threads, tile_k, shared_bytes, width)`` of an ``assign_nearest`` launch.

    Rows of up to 32 features are held in registers at ``width`` = d rounded up to a
    multiple of 4, several per thread (:func:`~fastseg.backend.kernels.rows_per_thread`);
    wider ones use width 0. Centres are staged ``tile_k`` at a time, as many as fit in a
    block's shared memory (each takes ``stride + 1`` values: the padded row and its squared
    norm, stride = width, or d at width 0).
    """
    width = reg_width(d)
    stride = width or int(d)
    per_centre = (stride + 1) * int(itemsize)
    room = int(shared_per_block) - _SHARED_SPARE
    if per_centre > room:
        raise ValueError(f"{d} features are too many for the GPU engine: one centre ({per_centre} bytes) must fit "
                         f"in a block's {room} bytes of shared memory. Use device='cpu', or reduce the features "
                         f"(e.g. PCA) first.")
    tile_k = max(1, min(int(k), room // per_centre))
    rows = rows_per_thread(itemsize, width)
    return row_blocks(-(-int(n) // rows), sms), _THREADS, tile_k, tile_k * per_centre, width


def kpp_launch(n, t, sms):
    """``(blocks, threads, shared_bytes)`` of a ``kpp_potentials`` launch for t candidates."""
    return row_blocks(n, sms), _THREADS, _THREADS * min(int(t), _KPP_GROUP) * 8


def kpp_sample_launch(n):
    """(rows per thread, segments) of ``kpp_segment_totals`` and ``kpp_search``: a
    segment is a block's rows, at least 8 per thread, and there are at most
    ``_KPP_MAX_SEGMENTS`` of them (a target's segment is found by walking their totals)."""
    n = max(1, int(n))
    per_thread = max(8, -(-n // (_KPP_SAMPLE_THREADS * _KPP_MAX_SEGMENTS)))
    return per_thread, -(-n // (_KPP_SAMPLE_THREADS * per_thread))


def fused_launch(n, k, d, itemsize, shared_per_block, sms):
    """``(blocks, threads, tile_k, groups, shared_bytes, width)`` of a ``lloyd_fused``
    launch, or None where it does not fit (more than 32 features, or one group's float64
    totals and the staging area beyond a block's shared memory): then assignment and
    accumulation run as two kernels. The layout mirrors the kernel's comment."""
    d, k, item = int(d), int(k), int(itemsize)
    width = reg_width(d)
    if width == 0:
        return None
    threads = _THREADS
    room = int(shared_per_block) - _SHARED_SPARE
    stage = threads * (d + 1) * item + threads * 4 + 8  # rows, weights, labels, alignment
    per_centre, per_group = (width + 1) * item, k * (d + 1) * 8
    if stage + per_centre + per_group > room:
        return None
    if stage + k * per_centre + per_group <= room:  # every centre in one tile
        tile_k = k
        groups = int(min(threads // d, (room - stage - k * per_centre) // per_group))
    else:
        tile_k, groups = (room - stage - per_group) // per_centre, 1
    head = tile_k * per_centre + threads * (d + 1) * item + threads * 4
    shared = -(-head // 8) * 8 + groups * per_group
    blocks = max(1, min(row_blocks(n, sms), _PARTIAL_BUDGET // per_group, int(n)))
    return blocks, threads, int(tile_k), groups, int(shared), width


def multi_launch(n, K, runs, d, itemsize, shared_per_block, sms):
    """Geometry of a step of several runs at once (``assign_multi``, then
    ``accumulate_multi``), or None where it does not fit: rows wider than 32 features, or
    the runs' float64 totals (all K centres) and a stage of at least ``_MIN_STAGE`` rows
    beyond a block's shared memory. Then each run takes its own kernels.

    Returns ``((blocks, threads, tile_k, shared, width), (blocks, threads, stage, groups,
    shared))``; the layouts mirror the kernels' comments.
    """
    n, K, runs, d, item = int(n), int(K), int(runs), int(d), int(itemsize)
    width = reg_width(d)
    if width == 0:
        return None
    threads = _THREADS
    room = int(shared_per_block) - _SHARED_SPARE
    per_centre = (width + 1) * item
    tile_k = min(K, (room - 4 * runs) // per_centre)
    totals = K * (d + 1) * 8
    per_row = (d + 1) * item + 4 * runs  # a staged row, its weight and every run's label of it
    stage = min(_MAX_STAGE, (room - totals) // per_row)
    if tile_k < 1 or stage < _MIN_STAGE:
        return None
    blocks_a = row_blocks(-(-n // rows_per_thread(item, width)), sms)
    assign = (blocks_a, threads, int(tile_k), int(tile_k * per_centre + 4 * runs), width)
    blocks_b = max(1, min(row_blocks(n, sms), _PARTIAL_BUDGET // totals, int(sms) * _FUSED_BLOCKS_PER_SM * 2, n))
    groups = min(threads // d, runs)
    accumulate = (blocks_b, threads, int(stage), int(groups), int(totals + stage * per_row))
    return assign, accumulate


def accumulate_launch(n, k, d):
    """``(parts, blocks, threads)`` of an ``accumulate_partitions`` launch: one warp per
    contiguous partition of the rows, as many partitions as the partial-sum budget allows
    (at most 4096, at most one per row)."""
    parts = int(max(1, min(4096, _PARTIAL_BUDGET // max(1, 8 * int(k) * (int(d) + 1)), int(n))))
    warps_per_block = 4
    return parts, -(-parts // warps_per_block), 32 * warps_per_block


def unit_weights(cp, n, dtype):
    """Weights of 1 for n rows in one element of memory: a broadcast view, which the
    kernels get as a null pointer (:func:`weights_arg`). Unweighted fits, the usual
    case, then keep no weight array (4 or 8 bytes per row)."""
    return cp.broadcast_to(cp.ones(1, dtype=dtype), (n,))


def weights_arg(w):
    """A kernel's weights argument: the array, or a null pointer for :func:`unit_weights`
    (their stride is 0, which no array of real weights has here)."""
    return np.uint64(0) if w.ndim == 1 and w.strides[0] == 0 else w


def memory_needed(n, d, itemsize, x_on_device):
    """Bytes of GPU memory a fit needs: X when it must be copied over, the per-row work
    arrays (labels, ‖x‖², distances, k-means++'s closest distances) and the partial sums."""
    x_bytes = 0 if x_on_device else n * d * itemsize
    return x_bytes + n * (4 + 3 * itemsize) + _PARTIAL_BUDGET


_ADVICE = ("Fit on the CPU (device='cpu'), spread the rows over several GPUs with a dask array of "
           "CuPy chunks (fastseg[dask], dask_cuda), use float32 instead of float64, or free GPU "
           "memory held by other work.")


def out_of_memory_message(device_id, need, free, what="the data"):
    """What ran out, how much was needed, and what to do instead."""
    gib = 2.0**30
    return (f"GPU {device_id}: {what} needs about {need / gib:.2f} GiB of GPU memory but only "
            f"{free / gib:.2f} GiB are free. {_ADVICE}")


def _oom_guard(method):
    """Turn a CUDA out-of-memory inside an engine op into a MemoryError that says what to do."""

    @functools.wraps(method)
    def guarded(self, *args, **kwargs):
        try:
            return method(self, *args, **kwargs)
        except self.xp.cuda.memory.OutOfMemoryError as e:
            raise MemoryError(f"GPU {self.device_id} ran out of memory in {method.__name__} ({e}); "
                              f"{self._free_bytes() / 2**30:.2f} GiB free now. {_ADVICE}") from None

    return guarded


class CuPyBackend(Backend):
    """Engine ops on one CUDA device.

    Parameters
    ----------
    device_id : int
    stream_rows : int or None
        Keep host data in host memory and bring it over in batches of this many rows
        (None: only when it does not fit in free GPU memory, in batches sized to fit).
    """

    name = "gpu"
    kpp_keeps_trials = False  # t × n candidate distances cost more GPU memory than a pass

    def __init__(self, device_id=0, *, stream_rows=None):
        import cupy

        self.stream_rows = None if stream_rows is None else int(stream_rows)

        self.xp = cupy
        self.device_id = int(device_id)
        self._dev = cupy.cuda.Device(self.device_id)
        props = cupy.cuda.runtime.getDeviceProperties(self.device_id)
        self._smem = int(props.get("sharedMemPerBlock", 48 * 1024))
        self._smem_fused = fused_shared_budget(props)
        self._opted_in = set()  # (kernel, dtype, width) of the kernels given _smem_fused
        self._sms = int(props.get("multiProcessorCount", 80))
        self._plan = None  # the _BatchPlan of the last batch of Lloyd runs

    def __repr__(self):
        return f"CuPyBackend(device_id={self.device_id})"

    # -- transfers -------------------------------------------------------
    def asarray(self, a, dtype=None):
        cp = self.xp
        with self._dev:
            if hasattr(a, "__cuda_array_interface__") or isinstance(a, cp.ndarray):
                out = cp.asarray(a, dtype=dtype)
            elif hasattr(a, "__dlpack__") and not isinstance(a, np.ndarray):
                out = cp.from_dlpack(a)
                if dtype is not None:
                    out = out.astype(dtype, copy=False)
            else:
                out = cp.asarray(np.asarray(a), dtype=dtype)
            return cp.ascontiguousarray(out)

    def to_numpy(self, a):
        cp = self.xp
        if isinstance(a, cp.ndarray):
            return cp.asnumpy(a)
        return np.asarray(a)

    def _free_bytes(self):
        """Free device memory plus what CuPy's pool holds unused."""
        with self._dev:
            return int(self.xp.cuda.runtime.memGetInfo()[0] + self.xp.get_default_memory_pool().free_bytes())

    @_oom_guard
    def prepare(self, X, weights, *, center=True) -> Dataset:
        cp = self.xp
        with self._dev:
            n, d = X.shape
            dtype = np.dtype(X.dtype)
            on_device = hasattr(X, "__cuda_array_interface__")
            need = memory_needed(n, d, dtype.itemsize, on_device)
            free = self._free_bytes()
            batches = None
            if not on_device and (self.stream_rows is not None or need > free):
                # X stays in host memory, pinned in place, and comes over in batches
                rest = memory_needed(n, d, dtype.itemsize, True)
                rows = self.stream_rows or max(1, min(n, int((free - rest) // 3 // (d * dtype.itemsize))))
                if rest + 2 * rows * d * dtype.itemsize > free:
                    raise MemoryError(out_of_memory_message(
                        self.device_id, rest + 2 * rows * d * dtype.itemsize, free,
                        what=f"a fit on {n:,} x {d} {dtype.name} (per-row arrays and two batches of X)"))
                Xd = np.ascontiguousarray(X)
                batches = _HostBatches(cp, Xd, rows)
            elif need > free:  # say so now, not as a crash halfway through the fit
                raise MemoryError(out_of_memory_message(self.device_id, need, free,
                                                        what=f"a fit on {n:,} x {d} {dtype.name}"))
            else:
                Xd = self.asarray(X)
            # unweighted (every weight 1, checked where the weights are): no array at all
            w = unit_weights(cp, n, Xd.dtype) if n > 1 and bool((weights == 1).all()) else \
                self.asarray(weights, dtype=Xd.dtype)
            data = Dataset(X=Xd, weights=w, shift=cp.zeros(d, dtype=Xd.dtype), x_sq=None, batches=batches)
            col, sq = self._moments(data)
            data.mean, data.mean_sq = col / n, sq / n
            if center and needs_centering(data.mean, data.mean_sq):
                data.shift = cp.asarray(data.mean, dtype=Xd.dtype)
                data.centered = True
                data.mean_sq = self._moments(data)[1] / n
            return data

    def take_rows(self, data, idx):
        cp = self.xp
        with self._dev:
            if data.batches is not None:  # X on the host: gather there, ship the few rows
                return cp.asarray(data.X[np.asarray(idx)]) - data.shift
            return data.X[cp.asarray(idx)] - data.shift

    def _pieces(self, data, per_row=None):
        """``(start, stop, rows)`` covering X in order, ``rows`` on the device.

        Resident X comes as views, streamed X as batches copied from pinned host memory
        (valid until the next piece is asked for). ``per_row``: the temporaries the caller
        makes per row, in rows of X; pieces are then cut to 256 MiB of them. None: whole
        batches (kernels that allocate nothing per row).
        """
        whole = data.batches if data.batches is not None else [(0, data.n_samples, data.X)]
        limit = None
        if per_row is not None:
            limit = max(1, _PIECE_BYTES // max(1, data.n_features * data.dtype.itemsize * per_row))
        for s0, e0, Xb in whole:
            if limit is None:
                yield s0, e0, Xb
                continue
            for a in range(0, e0 - s0, limit):
                b = min(a + limit, e0 - s0)
                yield s0 + a, s0 + b, Xb[a:b]

    def _moments(self, data):
        """Column sums and the total of squares of the shifted rows, float64, by pieces."""
        cp = self.xp
        col = cp.zeros(data.n_features, dtype=cp.float64)
        sq = cp.zeros((), dtype=cp.float64)
        for _, _, Xp in self._pieces(data, per_row=2):
            xc = (Xp - data.shift).astype(cp.float64)
            col += xc.sum(axis=0)
            sq += (xc * xc).sum()
        return cp.asnumpy(col), float(sq.get())

    def _x_sq(self, data):
        cp = self.xp
        if data.x_sq is None:
            xs = cp.empty(data.n_samples, dtype=data.dtype)
            for s, e, Xp in self._pieces(data, per_row=1):
                xc = Xp - data.shift
                xs[s:e] = cp.einsum("ij,ij->i", xc, xc)
            data.x_sq = xs
        return data.x_sq

    def _weighted_sum(self, data, values):
        """``Σ w · values`` in float64, a piece at a time (no float64 copy of the whole
        arrays); ``values`` of shape (n,) or (t, n) gives a scalar or t sums."""
        cp = self.xp
        lead = values.shape[:-1]
        total = cp.zeros(lead, dtype=cp.float64)
        width = int(np.prod(lead, dtype=np.int64)) if lead else 1
        step = max(1, _PIECE_BYTES // (16 * max(1, width)))  # two float64 copies per value
        for a in range(0, data.n_samples, step):
            b = min(a + step, data.n_samples)
            total += values[..., a:b].astype(cp.float64) @ data.weights[a:b].astype(cp.float64)
        return total

    # -- kernels (on one piece of X: rows s:e) ------------------------------
    def _centres(self, data, centers):
        """Centres (k, d) contiguous in X's dtype and their squared norms, by a kernel that
        sums each row in order, so a centre's norm is the same alone or among other runs'."""
        cp = self.xp
        C = cp.ascontiguousarray(centers, dtype=data.dtype)
        cn = cp.empty(C.shape[0], dtype=C.dtype)
        k = int(C.shape[0])
        function("kmeans.cu", "row_norms", data.dtype)((row_blocks(k, self._sms),), (_THREADS,),
                                                      (C, np.int64(k), np.int32(data.n_features), cn))
        return C, cn

    def _opt_in(self, kern, key, shared):
        """Raise a kernel's dynamic shared memory limit to ``_smem_fused`` before a launch
        asks for more than the default (once per kernel: the limit is the kernel's)."""
        if shared > self._smem and key not in self._opted_in:
            kern.max_dynamic_shared_size_bytes = self._smem_fused
            self._opted_in.add(key)

    def _assign(self, data, Xp, C, cn, labels, min_d=None, changed=None):
        """Nearest centre of the rows ``Xp``; ``labels``/``min_d`` are their slices."""
        k, d = C.shape
        n = int(Xp.shape[0])
        blocks, threads, tile_k, shared, width = assign_launch(n, k, d, data.dtype.itemsize, self._smem, self._sms)
        null = np.uint64(0)  # a null pointer, passed as an 8-byte value
        function("kmeans.cu", "assign_nearest", data.dtype, width)(
            (blocks,), (threads,),
            (Xp, data.shift, C, cn, np.int64(n), np.int32(d), np.int32(k), np.int32(tile_k), labels,
             min_d if min_d is not None else null, changed if changed is not None else null),
            shared_mem=shared,
        )

    def _accumulate(self, data, Xp, weights, labels, k):
        """The weighted per-label sums of the rows ``Xp``: partial totals (parts, k, d) and
        (parts, k), float64, for :class:`_Totals` or :meth:`_add_partials` to add up."""
        cp = self.xp
        n, d = int(Xp.shape[0]), data.n_features
        parts, blocks, threads = accumulate_launch(n, k, d)
        ps = cp.empty((parts, k, d), dtype=cp.float64)
        pw = cp.empty((parts, k), dtype=cp.float64)
        function("kmeans.cu", "accumulate_partitions", data.dtype)(
            (blocks,), (threads,),
            (Xp, data.shift, weights_arg(weights), labels, np.int64(n), np.int32(d), np.int32(k), np.int32(parts),
             ps, pw),
        )
        return ps, pw

    def _fused(self, data, Xp, weights, C, cn, labels, changed):
        """Labels of the rows ``Xp`` and their partial totals in one read (``lloyd_fused``);
        None when the kernel does not fit this k and d (nothing done)."""
        cp = self.xp
        k, d = C.shape
        n = int(Xp.shape[0])
        geo = fused_launch(n, k, d, data.dtype.itemsize, self._smem_fused, self._sms)
        if geo is None:
            return None
        blocks, threads, tile_k, groups, shared, width = geo
        ps = cp.empty((blocks, k, d), dtype=cp.float64)
        pw = cp.empty((blocks, k), dtype=cp.float64)
        kern = function("kmeans.cu", "lloyd_fused", data.dtype, width)
        self._opt_in(kern, ("lloyd_fused", data.dtype, width), shared)
        kern(
            (blocks,), (threads,),
            (Xp, data.shift, weights_arg(weights), C, cn, np.int64(n), np.int32(d), np.int32(k), np.int32(tile_k),
             np.int32(groups), labels, changed, ps, pw),
            shared_mem=shared,
        )
        return ps, pw

    def _add_partials(self, partial, dst):
        """``dst += partial.sum(axis=0)``, the blocks added in order (reduce_partials)."""
        dst += self._reduce(partial)

    def _reduce(self, partial):
        """``partial.sum(axis=0)``, the blocks added in order from 0.0 (reduce_partials)."""
        cp = self.xp
        out = cp.empty(partial.shape[1:], dtype=cp.float64)
        m = out.size
        function("kmeans.cu", "reduce_partials")((-(-m // _THREADS),), (_THREADS,),
                                                 (partial, np.int32(partial.shape[0]), np.int64(m), out))
        return out

    def _sq_dist(self, data, Xp, C, labels, out):
        n = int(Xp.shape[0])
        blocks = row_blocks(n, self._sms)
        function("kmeans.cu", "sq_dist_assigned", data.dtype)(
            (blocks,), (_THREADS,),
            (Xp, data.shift, C, labels, np.int64(n), np.int32(data.n_features), out),
        )

    def _multi(self, data, Xp, weights, C, cn, d_off, ptrs, changed, plan):
        """Every run's labels of the rows ``Xp`` and their partial totals (two kernels, two
        reads of the rows for all runs together): (blocks, K, d) and (blocks, K). ``d_off``
        the runs' centre offsets, ``ptrs`` each run's labels of these rows (device)."""
        cp = self.xp
        (ba, ta, tile_k, sha, width), (bb, tb, stage, groups, shb) = plan
        n, d, runs = int(Xp.shape[0]), data.n_features, len(d_off) - 1
        K = int(C.shape[0])
        kern = function("kmeans.cu", "assign_multi", data.dtype, width)
        self._opt_in(kern, ("assign_multi", data.dtype, width), sha)
        kern((ba,), (ta,), (Xp, data.shift, C, cn, d_off, np.int32(runs), np.int64(n), np.int32(d),
                            np.int32(tile_k), ptrs, changed), shared_mem=sha)
        ps = cp.empty((bb, K, d), dtype=cp.float64)
        pw = cp.empty((bb, K), dtype=cp.float64)
        kern = function("kmeans.cu", "accumulate_multi", data.dtype)
        self._opt_in(kern, ("accumulate_multi", data.dtype, None), shb)
        kern((bb,), (tb,), (Xp, data.shift, weights_arg(weights), d_off, np.int32(runs), np.int64(n), np.int32(d),
                            np.int32(stage), np.int32(groups), ptrs, ps, pw), shared_mem=shb)
        return ps, pw

    # -- engine ops ------------------------------------------------------
    def _batch(self, data, runs):
        """The runs' centres concatenated (K, d) in X's dtype, their squared norms, and the
        offsets of each run's centres (host int32, runs + 1)."""
        cp = self.xp
        off = _offsets(runs)
        cs = [r.centers for r in runs]
        C, cn = self._centres(data, cs[0] if len(cs) == 1 else cp.concatenate(cs))
        return C, cn, off

    def _step(self, data, runs, C, cn, off, changed, with_inertia, plan=None):
        """Assignment and totals for every run from the centres ``C`` (K, d), their norms
        ``cn`` and offsets ``off`` (see :meth:`_batch`); each run's label changes are added
        to ``changed`` (uint64, (runs,)). Returns each run's inertia (float64 0-d, or None)
        and the :class:`_Totals` of all runs. ``plan`` (a :class:`_BatchPlan`) supplies the
        offsets and label pointers on the device instead of copying them over.

        Several runs share two reads of X (``assign_multi``, ``accumulate_multi``) where
        their totals fit in shared memory; otherwise each run's kernels take each piece of
        X in turn (one read per run, from the device; streamed X still comes over once)."""
        cp = self.xp
        K, d, R = int(off[-1]), data.n_features, len(runs)
        totals = _Totals(self, K, d)
        geometry = functools.partial(multi_launch, K=K, runs=R, d=d, itemsize=data.dtype.itemsize,
                                     shared_per_block=self._smem_fused, sms=self._sms)
        together = R > 1 and not with_inertia and geometry(data.n_samples) is not None
        x_sq = self._x_sq(data) if with_inertia else None
        min_d = [cp.empty(data.n_samples, dtype=data.dtype) if with_inertia else None for _ in runs]
        if together and plan is None:
            d_off = cp.asarray(off)
            # run r's labels of rows s:e start at its labels' address + 4 s
            base = np.array([r.labels.data.ptr for r in runs], dtype=np.uint64)
        for s, e, Xp in self._pieces(data):
            # rows s:e of a per-row array (no view made for the whole of it: CuPy's views
            # cost host time, and an iteration of resident X makes none)
            rows = (lambda v: v) if (s, e) == (0, data.n_samples) else (lambda v: v[s:e])
            if together:
                if plan is None:
                    ptrs = cp.asarray(base + np.uint64(4 * s))
                else:
                    d_off, ptrs = plan.d_off, plan.pointers(s)
                totals.add(*self._multi(data, Xp, rows(data.weights), C, cn, d_off, ptrs, changed, geometry(e - s)),
                           0, K)
                continue
            for j, r in enumerate(runs):
                a, b = int(off[j]), int(off[j + 1])
                Cj, cnj, ch = (C, cn, changed) if R == 1 else (C[a:b], cn[a:b], changed[j:j + 1])
                if min_d[j] is None:
                    fused = self._fused(data, Xp, rows(data.weights), Cj, cnj, rows(r.labels), ch)
                    if fused is not None:
                        totals.add(*fused, a, b)
                        continue
                self._assign(data, Xp, Cj, cnj, rows(r.labels), None if min_d[j] is None else rows(min_d[j]), ch)
                totals.add(*self._accumulate(data, Xp, rows(data.weights), rows(r.labels), b - a), a, b)
        inertia = []
        for j in range(R):
            if with_inertia:
                min_d[j] += x_sq
                cp.maximum(min_d[j], 0, out=min_d[j])
                inertia.append(self._weighted_sum(data, min_d[j]))
            else:
                inertia.append(None)
        return inertia, totals

    @staticmethod
    def _keep_totals(runs, sums, counts, off):
        """Each run's totals, as views of the batch's (recomputed, not incremental: the
        contract allows both)."""
        for j, r in enumerate(runs):
            a, b = int(off[j]), int(off[j + 1])
            r.sums, r.counts = sums[None, a:b], counts[None, a:b]

    @_oom_guard
    def lloyd_step_multi(self, data, runs, with_inertia=False):
        cp = self.xp
        with self._dev:
            C, cn, off = self._batch(data, runs)
            changed = cp.zeros(len(runs), dtype=cp.uint64)
            inertia, totals = self._step(data, runs, C, cn, off, changed, with_inertia)
            self._keep_totals(runs, *totals.reduced(), off)
            ch = changed.get()
            return [(int(c), None if i is None else float(i.get())) for c, i in zip(ch, inertia)]

    def _plan_for(self, data, runs):
        """The :class:`_BatchPlan` of these runs: the last one where the batch is unchanged."""
        plan = self._plan
        if plan is None or not plan.serves(data, runs):
            plan = self._plan = _BatchPlan(self.xp, data, runs)
        return plan

    @_oom_guard
    def lloyd_iteration_multi(self, data, runs, with_inertia=False):
        """:meth:`Backend.lloyd_iteration_multi` with the centre update on the device, for
        all runs at once: the step's kernels, then ``finish_iteration`` (totals, new centres
        and the host packet in one launch), then one small copy to the host with the label
        changes, the counts and the centres before and after, where each run's shift is
        summed as the CPU engine sums it. Buffers and each run's views of them are kept
        while the batch is unchanged (:class:`_BatchPlan`). A run with an empty cluster
        (rare) takes the host update, which relocates it exactly as the CPU engine does."""
        from .._lloyd import update_centers

        cp = self.xp
        with self._dev:
            plan = self._plan_for(data, runs)
            C, cn = plan.current(runs), plan.cn
            k_all = np.int64(plan.K)
            function("kmeans.cu", "row_norms", data.dtype)((row_blocks(plan.K, self._sms),), (_THREADS,),
                                                          (C, k_all, np.int32(plan.d), cn))
            inertia, totals = self._step(data, runs, C, cn, plan.off, plan.changed, with_inertia, plan)
            ps, pw = totals.partials()
            nxt = 1 - plan.cur
            R, K, d = len(runs), plan.K, plan.d
            function("kmeans.cu", "finish_iteration", data.dtype)(
                (row_blocks(K * d, self._sms),), (_THREADS,),
                (ps, pw, np.int32(ps.shape[0]), C, plan.changed, np.int32(R), k_all, np.int32(d), plan.sums,
                 plan.counts, plan.C[nxt], plan.packet))
            plan.cur = nxt
            packet = cp.concatenate([plan.packet, cp.stack(inertia)]) if with_inertia else plan.packet
            host = packet.get()  # the iteration's one copy to the host
            h_changed, h_counts = host[:R], host[R:R + K]
            h_old = host[R + K:R + K + K * d].astype(data.dtype).reshape(K, d)
            h_new = host[R + K + K * d:R + K + 2 * K * d].astype(data.dtype).reshape(K, d)
            h_inertia = host[R + K + 2 * K * d:]
            moved = (h_new - h_old) ** 2  # each run's rows summed alone below, as the CPU engine sums them
            off = plan.off
            empty = np.minimum.reduceat(h_counts, off[:-1]) <= 0
            out = []
            for j, r in enumerate(runs):
                a, b = int(off[j]), int(off[j + 1])
                r.sums, r.counts = plan.sum_views[j], plan.count_views[j]
                if empty[j]:
                    r.centers = update_centers(self, data, C[a:b], r.labels, r.sums, r.counts)
                    shift = float(((self.to_numpy(r.centers) - h_old[a:b]) ** 2).sum())
                else:
                    r.centers = plan.centre_views[nxt][j]
                    shift = float(moved[a:b].sum())
                out.append((int(h_changed[j]), float(h_inertia[j]) if with_inertia else None, shift))
            return out

    @_oom_guard
    def finish_multi(self, data, runs, reassign):
        cp = self.xp
        self._plan = None  # the batch is over: its buffers live on only in the runs' views
        with self._dev:
            cents = [self._centres(data, r.centers) for r in runs]
            totals = [cp.zeros((), dtype=cp.float64) for _ in runs]
            d2 = None
            for s, e, Xp in self._pieces(data, per_row=1):  # d2 and two float64 copies per row
                if d2 is None or d2.shape[0] < e - s:
                    d2 = cp.empty(e - s, dtype=data.dtype)  # one piece's distances, reused
                w64 = data.weights[s:e].astype(cp.float64)
                for j, (r, again) in enumerate(zip(runs, reassign)):
                    C, cn = cents[j]
                    if again:
                        self._assign(data, Xp, C, cn, r.labels[s:e])
                    self._sq_dist(data, Xp, C, r.labels[s:e], d2[: e - s])
                    totals[j] += d2[: e - s].astype(cp.float64) @ w64
            return [float(v) for v in cp.stack(totals).get()]  # one copy for every run

    @_oom_guard
    def accumulate(self, data, labels, k):
        cp = self.xp
        with self._dev:
            labels = self.asarray(labels, dtype=np.int32)
            sums, counts = cp.zeros((int(k), data.n_features)), cp.zeros(int(k))
            for s, e, Xp in self._pieces(data):
                ps, pw = self._accumulate(data, Xp, data.weights[s:e], labels[s:e], int(k))
                self._add_partials(ps, sums)  # partitions, then pieces, in order: the same sums run after run
                self._add_partials(pw, counts)
            return sums, counts

    @_oom_guard
    def assign(self, data, centers, labels, min_sq=None, exact=False):
        cp = self.xp
        with self._dev:
            C, cn = self._centres(data, centers)
            for s, e, Xp in self._pieces(data):
                if min_sq is None:
                    self._assign(data, Xp, C, cn, labels[s:e])
                elif exact:
                    self._assign(data, Xp, C, cn, labels[s:e])
                    self._sq_dist(data, Xp, C, labels[s:e], min_sq[s:e])
                else:
                    self._assign(data, Xp, C, cn, labels[s:e], min_sq[s:e])
            if min_sq is not None and not exact:
                min_sq += self._x_sq(data)
                cp.maximum(min_sq, 0, out=min_sq)

    @_oom_guard
    def sq_dist_to_assigned(self, data, centers, labels):
        cp = self.xp
        with self._dev:
            out = cp.empty(data.n_samples, dtype=data.dtype)
            C, _ = self._centres(data, centers)
            labels = self.asarray(labels, dtype=np.int32)
            for s, e, Xp in self._pieces(data):
                self._sq_dist(data, Xp, C, labels[s:e], out[s:e])
            return out

    @_oom_guard
    def distances(self, data, centers):
        cp = self.xp
        with self._dev:
            C, cn = self._centres(data, centers)
            x_sq = self._x_sq(data)
            out = cp.empty((data.n_samples, C.shape[0]), dtype=data.dtype)
            for s, e, Xp in self._pieces(data, per_row=max(1, C.shape[0] // max(1, data.n_features))):
                D = (Xp - data.shift) @ C.T
                D *= -2
                D += cn
                D += x_sq[s:e, None]
                cp.maximum(D, 0, out=D)
                cp.sqrt(D, out=out[s:e])
            return out

    def _kpp(self, data, cand, closest, store):
        """Potentials ``Σ w · min(closest, ‖x − c_j‖²)`` of the candidate rows ``cand``
        (t, d), float64 on the device, by the ``kpp_potentials`` kernel; ``store``
        (t = 1): ``closest`` becomes the minimum too."""
        cp = self.xp
        t, d = int(cand.shape[0]), data.n_features
        pots = None
        kern = function("kmeans.cu", "kpp_potentials", data.dtype)
        for s, e, Xp in self._pieces(data):
            n = e - s
            blocks, threads, shared = kpp_launch(n, t, self._sms)
            partial = cp.empty((blocks, t), dtype=cp.float64)
            kern((blocks,), (threads,),
                 (Xp, data.shift, cand, np.int32(t), weights_arg(data.weights[s:e]), np.int64(n), np.int32(d),
                  closest[s:e],
                  np.int32(1 if store else 0), partial), shared_mem=shared)
            # blocks, then pieces, in order: the same potentials every run
            if pots is None:
                pots = self._reduce(partial)
            else:
                self._add_partials(partial, pots)
        return pots

    @_oom_guard
    def kpp_add_center(self, data, center, closest):
        cp = self.xp
        with self._dev:
            c = cp.ascontiguousarray(cp.asarray(center, dtype=data.dtype).reshape(1, -1))
            return float(self._kpp(data, c, closest, store=True)[0].get())

    def _sample(self, data, closest, targets):
        """Rows drawn for ``targets`` (device float64): inverse CDF in two levels on the
        device (kpp_segment_totals, kpp_search), no float64 array of n; device int64."""
        cp = self.xp
        n = data.n_samples
        per_thread, segments = kpp_sample_launch(n)
        w = weights_arg(data.weights)
        seg = cp.empty(segments, dtype=cp.float64)
        function("kmeans.cu", "kpp_segment_totals", data.dtype)(
            (segments,), (_KPP_SAMPLE_THREADS,), (closest, w, np.int64(n), np.int32(per_thread), seg),
            shared_mem=_KPP_SAMPLE_THREADS * 8)
        out = cp.empty(targets.size, dtype=cp.int64)
        function("kmeans.cu", "kpp_search", data.dtype)(
            (int(targets.size),), (_KPP_SAMPLE_THREADS,),
            (closest, w, np.int64(n), np.int32(per_thread), seg, np.int64(segments), targets, out),
            shared_mem=_KPP_SAMPLE_THREADS * 16 + 16)
        return out

    @_oom_guard
    def kpp_sample(self, data, closest, targets):
        cp = self.xp
        with self._dev:
            targets = cp.asarray(np.ascontiguousarray(targets, dtype=np.float64).reshape(-1))
            return self._sample(data, closest, targets).get()

    def kpp_greedy_on_device(self, data):
        return data.batches is None  # streamed X: candidate rows are gathered on the host

    @_oom_guard
    def kpp_greedy(self, data, n_clusters, first_u, trial_u):
        """:meth:`Backend.kpp_greedy`: every step of the loop stays on the device (targets
        scaled by the potential there, the best candidate taken by ``argmin``), so the
        host only queues work and the GPU never waits for it between centres. Each value
        is formed as the host loop forms it, so the centres and rows are its own."""
        cp = self.xp
        with self._dev:
            n, d, k = data.n_samples, data.n_features, int(n_clusters)
            centers = cp.empty((k, d), dtype=data.dtype)
            rows = cp.empty(k, dtype=cp.int64)
            closest = cp.ones(n, dtype=data.dtype)
            total = cp.sum(data.weights, dtype=cp.float64)
            rows[:1] = self._sample(data, closest, (total * np.float64(first_u)).reshape(1))
            centers[:1] = data.X[rows[:1]] - data.shift
            closest.fill(np.inf)
            potential = self._kpp(data, centers[:1], closest, store=True)
            trial_u = cp.asarray(np.ascontiguousarray(trial_u, dtype=np.float64))
            for c in range(1, k):
                cand_rows = self._sample(data, closest, trial_u[c - 1] * potential)
                cand = data.X[cand_rows] - data.shift
                best = cp.argmin(self._kpp(data, cand, closest, store=False))  # the first of equal ones
                rows[c] = cand_rows[best]
                centers[c] = cand[best]
                potential = self._kpp(data, centers[c:c + 1], closest, store=True)
            return centers, rows.get()

    @_oom_guard
    def kpp_potentials(self, data, candidates, closest, out):
        cp = self.xp
        with self._dev:
            cand = cp.ascontiguousarray(candidates, dtype=data.dtype)
            if out is None:  # potentials only: one fused pass, no ‖x‖², no t × n matrix
                return cp.asnumpy(self._kpp(data, cand, closest, store=False))
            cn = cp.einsum("ij,ij->i", cand, cand)
            x_sq = self._x_sq(data)
            pots = cp.zeros(cand.shape[0], dtype=cp.float64)
            for s, e, Xp in self._pieces(data, per_row=max(1, 2 * cand.shape[0])):
                D = cand @ (Xp - data.shift).T  # (t, rows)
                D *= -2
                D += cn[:, None]
                D += x_sq[None, s:e]
                cp.maximum(D, 0, out=D)
                cp.minimum(D, closest[None, s:e], out=D)
                pots += D.astype(cp.float64) @ data.weights[s:e].astype(cp.float64)
                out[:, s:e] = D
            return cp.asnumpy(pots)


def _ref(obj):
    """A weak reference to ``obj``, or a strong one where it takes none (SimpleNamespace)."""
    try:
        return weakref.ref(obj)
    except TypeError:
        return lambda: obj


def _offsets(runs):
    """Where each run's centres start in the batch's concatenation (host int32, runs + 1)."""
    off = np.zeros(len(runs) + 1, dtype=np.int32)
    np.cumsum([int(r.centers.shape[0]) for r in runs], out=off[1:])
    return off


class _Totals:
    """A step's per-cluster totals (K, d) and (K,), float64, added in a fixed order:
    each contribution's per-block partials by reduce_partials, contributions in the
    order they come, so the totals are the same run after run.

    A step whose only contribution covers every centre (X resident, one kernel pass for
    the batch) keeps it unreduced: ``finish_iteration`` adds its blocks itself, in the
    same order from 0.0, which gives the same bits with three launches fewer."""

    def __init__(self, backend, K, d):
        self._backend, self._K, self._d = backend, K, d
        self._pending = None  # (partial sums, partial counts) not yet added
        self._sums = self._counts = None

    def add(self, ps, pw, a, b):
        """Partials (blocks, b − a, d) and (blocks, b − a) of centres a:b."""
        if self._sums is None and self._pending is None and (a, b) == (0, self._K):
            self._pending = (ps, pw)
            return
        self._materialise()
        self._backend._add_partials(ps, self._sums[a:b])
        self._backend._add_partials(pw, self._counts[a:b])

    def _materialise(self):
        if self._sums is None:
            cp = self._backend.xp
            self._sums, self._counts = cp.zeros((self._K, self._d)), cp.zeros(self._K)
        if self._pending is not None:
            ps, pw = self._pending
            self._pending = None
            self._backend._add_partials(ps, self._sums)
            self._backend._add_partials(pw, self._counts)

    def partials(self):
        """(parts, K, d) and (parts, K) whose parts, added in order from 0.0, are the totals."""
        if self._pending is not None:
            return self._pending
        self._materialise()
        return self._sums[None], self._counts[None]

    def reduced(self):
        """The totals (K, d) and (K,)."""
        if self._pending is not None:
            ps, pw = self._pending
            return self._backend._reduce(ps), self._backend._reduce(pw)
        self._materialise()
        return self._sums, self._counts


class _BatchPlan:
    """What a batch of Lloyd runs reuses between iterations while none joins or leaves.

    On the device: the runs' centre offsets, each piece's pointers to the runs' labels,
    a label-change counter per run (``finish_iteration`` zeroes it after reading it), the
    totals and the packet for the host that ``finish_iteration`` writes, and the centres
    in two buffers: an iteration reads one and writes the other. Each run's views of them
    are made once, so an iteration costs no per-run array operations. A run's centres
    replaced from outside (an empty cluster relocated on the host) are copied back into
    the buffer before the next iteration reads it.
    """

    def __init__(self, cp, data, runs):
        self._cp = cp
        self._data = _ref(data)
        self._runs = [_ref(r) for r in runs]
        self._label_ptrs = np.array([r.labels.data.ptr for r in runs], dtype=np.uint64)
        self.off = _offsets(runs)
        self.K, self.d = int(self.off[-1]), data.n_features
        R, K, d = len(runs), self.K, self.d
        self.d_off = cp.asarray(self.off)
        self._pointers = {}
        self.changed = cp.zeros(R, dtype=cp.uint64)
        self.C = [cp.empty((K, d), dtype=data.dtype) for _ in range(2)]
        self.cn = cp.empty(K, dtype=data.dtype)
        self.sums, self.counts = cp.empty((K, d)), cp.empty(K)
        self.packet = cp.empty(R + K + 2 * K * d)
        spans = [(int(a), int(b)) for a, b in zip(self.off[:-1], self.off[1:])]
        self.centre_views = [[C[a:b] for a, b in spans] for C in self.C]
        self.sum_views = [self.sums[None, a:b] for a, b in spans]
        self.count_views = [self.counts[None, a:b] for a, b in spans]
        self.cur = None  # which of self.C holds the runs' centres (None: neither yet)

    def serves(self, data, runs):
        """Whether this plan is for exactly these runs (in this order) on ``data``."""
        return (self._data() is data and len(runs) == len(self._runs)
                and all(ref() is r for ref, r in zip(self._runs, runs))
                and all(int(p) == r.labels.data.ptr for p, r in zip(self._label_ptrs, runs)))

    def pointers(self, s):
        """Each run's labels of rows s: (device uint64: run r's labels' address + 4 s)."""
        if s not in self._pointers:
            self._pointers[s] = self._cp.asarray(self._label_ptrs + np.uint64(4 * s))
        return self._pointers[s]

    def current(self, runs):
        """The buffer holding every run's current centres (K, d)."""
        if self.cur is None:
            self.cur = 0
            self._cp.concatenate([r.centers for r in runs], out=self.C[0])
            return self.C[0]
        C, views = self.C[self.cur], self.centre_views[self.cur]
        for j, r in enumerate(runs):
            if r.centers is not views[j]:
                views[j][...] = r.centers
                r.centers = views[j]
        return C


class _HostBatches:
    """Rows of a host array brought to the GPU in batches, the next copy overlapping the
    work on the current one (two device buffers, a copy stream, events).

    The host array is pinned in place (``cudaHostRegister``) so that copies are
    asynchronous and run at full bus speed; where the system refuses, copies are staged
    the ordinary way. Iterating yields ``(start, stop, rows_on_device)``; a batch's
    buffer is reused only after the work queued on it has finished.
    """

    def __init__(self, cp, X, rows):
        import weakref

        self.cp, self.X, self.rows = cp, X, int(rows)
        n, d = X.shape
        self.bounds = [(s, min(s + self.rows, n)) for s in range(0, n, self.rows)]
        self.bufs = [cp.empty((min(self.rows, n), d), dtype=X.dtype) for _ in range(2)]
        self.copy_stream = cp.cuda.Stream(non_blocking=True)
        self.done = [None, None]  # compute finished with buffer i
        self.pinned = False
        if X.nbytes:
            try:
                cp.cuda.runtime.hostRegister(X.ctypes.data, X.nbytes, 0)
                self.pinned = True
                weakref.finalize(self, cp.cuda.runtime.hostUnregister, X.ctypes.data)
            except Exception:  # noqa: BLE001 - e.g. memory the driver cannot lock: copy unpinned
                self.pinned = False

    def __len__(self):
        return len(self.bounds)

    def _start(self, i):
        s, e = self.bounds[i]
        buf = self.bufs[i % 2]
        if self.done[i % 2] is not None:
            self.copy_stream.wait_event(self.done[i % 2])
        buf[: e - s].set(self.X[s:e], stream=self.copy_stream)
        return self.copy_stream.record()

    def __iter__(self):
        cp = self.cp
        if not self.bounds:
            return
        ready = self._start(0)
        for i, (s, e) in enumerate(self.bounds):
            compute = cp.cuda.get_current_stream()
            compute.wait_event(ready)
            if i + 1 < len(self.bounds):
                ready = self._start(i + 1)
            try:
                yield s, e, self.bufs[i % 2][: e - s]
            finally:  # also when the caller stops early: the buffer is in use until here
                self.done[i % 2] = compute.record()
