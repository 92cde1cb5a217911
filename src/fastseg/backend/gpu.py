"""CuPy engine: raw CUDA kernels for assignment and accumulation, cuBLAS for the rest.

Status: written and compiled (CI runs nvcc over the kernels) but not yet validated on a
GPU; ``get_backend("gpu")`` only returns it when ``FASTSEG_EXPERIMENTAL_GPU=1`` is set,
until tests/test_gpu.py and bench/gpu_check.sh have passed on hardware.

Design, first version (correctness and determinism first, speed next):

* assignment: ``assign_nearest`` (one thread per row, centre tiles in shared memory,
  label changes counted on the device);
* update: ``accumulate_partitions`` (warp per partition, lane per dimension, float64
  partials, no atomics) then ``reduce_partials`` in fixed order — the same centres run
  after run;
* k-means++ and distances: cuBLAS products and CuPy element-wise ops, only scalars and
  the few candidate indices cross to the host.
"""

from __future__ import annotations

import functools

import numpy as np

from ._base import Backend, Dataset, needs_centering
from .kernels import function

_THREADS = 256
_PARTIAL_BUDGET = 64 * 2**20  # bytes of float64 partial sums per accumulation


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
    """

    name = "gpu"

    def __init__(self, device_id=0):
        import cupy

        self.xp = cupy
        self.device_id = int(device_id)
        self._dev = cupy.cuda.Device(self.device_id)
        props = cupy.cuda.runtime.getDeviceProperties(self.device_id)
        self._smem = int(props.get("sharedMemPerBlock", 48 * 1024))
        self._sms = int(props.get("multiProcessorCount", 80))

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
            itemsize = np.dtype(X.dtype).itemsize
            need = memory_needed(n, d, itemsize, hasattr(X, "__cuda_array_interface__"))
            free = self._free_bytes()
            if need > free:  # say so now, not as a crash halfway through the fit
                raise MemoryError(out_of_memory_message(self.device_id, need, free,
                                                        what=f"a fit on {n:,} x {d} {np.dtype(X.dtype).name}"))
            Xd = self.asarray(X)
            w = self.asarray(weights, dtype=Xd.dtype)
            n, d = Xd.shape
            data = Dataset(X=Xd, weights=w, shift=cp.zeros(d, dtype=Xd.dtype), x_sq=None)
            col, sq = self._moments(data)
            data.mean, data.mean_sq = col / n, sq / n
            if center and needs_centering(data.mean, data.mean_sq):
                data.shift = cp.asarray(data.mean, dtype=Xd.dtype)
                data.centered = True
                data.mean_sq = self._moments(data)[1] / n
            return data

    def _moments(self, data):
        """Column sums and the total of squares of the shifted rows, float64, by chunks."""
        cp = self.xp
        col = cp.zeros(data.n_features, dtype=cp.float64)
        sq = cp.zeros((), dtype=cp.float64)
        for s, e in self._chunks(data, per_row=2):
            xc = (data.X[s:e] - data.shift).astype(cp.float64)
            col += xc.sum(axis=0)
            sq += (xc * xc).sum()
        return cp.asnumpy(col), float(sq.get())

    def _x_sq(self, data):
        cp = self.xp
        if data.x_sq is None:
            xs = cp.empty(data.n_samples, dtype=data.dtype)
            for s, e in self._chunks(data):
                xc = data.X[s:e] - data.shift
                xs[s:e] = cp.einsum("ij,ij->i", xc, xc)
            data.x_sq = xs
        return data.x_sq

    def _chunks(self, data, per_row=1):
        rows = max(1, (256 * 2**20) // max(1, data.n_features * data.dtype.itemsize * per_row))
        return [(s, min(s + rows, data.n_samples)) for s in range(0, data.n_samples, rows)]

    # -- kernels ---------------------------------------------------------
    def _assign(self, data, centers, labels, min_d=None, changed=None):
        cp = self.xp
        C = cp.ascontiguousarray(centers, dtype=data.dtype)
        k, d = C.shape
        cn = cp.einsum("ij,ij->i", C, C)
        item = data.dtype.itemsize
        tile_k = max(1, min(k, (self._smem - 1024) // ((d + 1) * item)))
        n = data.n_samples
        blocks = int(min(max(1, -(-n // _THREADS)), self._sms * 32))
        kern = function("kmeans.cu", "assign_nearest", data.dtype)
        null = np.uint64(0)  # a null pointer, passed as an 8-byte value
        kern(
            (blocks,), (_THREADS,),
            (data.X, data.shift, C, cn, np.int64(n), np.int32(d), np.int32(k), np.int32(tile_k), labels,
             min_d if min_d is not None else null, changed if changed is not None else null),
            shared_mem=int(tile_k * (d + 1) * item),
        )

    def _accumulate(self, data, labels, k):
        cp = self.xp
        n, d = data.n_samples, data.n_features
        parts = int(max(1, min(4096, _PARTIAL_BUDGET // max(1, 8 * k * (d + 1)), n)))
        ps = cp.empty((parts, k, d), dtype=cp.float64)
        pw = cp.empty((parts, k), dtype=cp.float64)
        warps_per_block = 4
        blocks = -(-parts // warps_per_block)
        function("kmeans.cu", "accumulate_partitions", data.dtype)(
            (blocks,), (32 * warps_per_block,),
            (data.X, data.shift, data.weights, labels, np.int64(n), np.int32(d), np.int32(k), np.int32(parts),
             ps, pw),
        )
        sums = cp.empty((k, d), dtype=cp.float64)
        counts = cp.empty(k, dtype=cp.float64)
        red = function("kmeans.cu", "reduce_partials")
        for src, dst in ((ps, sums), (pw, counts)):
            m = dst.size
            red((-(-m // _THREADS),), (_THREADS,), (src, np.int32(parts), np.int64(m), dst))
        return sums, counts

    # -- engine ops ------------------------------------------------------
    @_oom_guard
    def lloyd_step_multi(self, data, runs, with_inertia=False):
        cp = self.xp
        out = []
        with self._dev:
            x_sq = self._x_sq(data) if with_inertia else None
            for r in runs:
                changed = cp.zeros(1, dtype=cp.uint64)
                min_d = cp.empty(data.n_samples, dtype=data.dtype) if with_inertia else None
                self._assign(data, r.centers, r.labels, min_d, changed)
                sums, counts = self._accumulate(data, r.labels, r.centers.shape[0])
                r.sums[...] = sums  # recomputed, not incremental: the contract allows both
                r.counts[...] = counts
                inertia = None
                if with_inertia:
                    inertia = float(cp.dot(cp.maximum(min_d + x_sq, 0).astype(cp.float64),
                                           data.weights.astype(cp.float64)).get())
                out.append((int(changed.get()[0]), inertia))  # one small copy per run and iteration
        return out

    @_oom_guard
    def finish_multi(self, data, runs, reassign):
        cp = self.xp
        res = []
        with self._dev:
            w64 = data.weights.astype(cp.float64)
            for r, again in zip(runs, reassign):
                if again:
                    self._assign(data, r.centers, r.labels)
                d2 = self.sq_dist_to_assigned(data, r.centers, r.labels)
                res.append(float(cp.dot(d2.astype(cp.float64), w64).get()))
        return res

    @_oom_guard
    def accumulate(self, data, labels, k):
        with self._dev:
            return self._accumulate(data, self.asarray(labels, dtype=np.int32), int(k))

    @_oom_guard
    def assign(self, data, centers, labels, min_sq=None, exact=False):
        cp = self.xp
        with self._dev:
            if min_sq is None:
                self._assign(data, centers, labels)
            elif exact:
                self._assign(data, centers, labels)
                min_sq[...] = self.sq_dist_to_assigned(data, centers, labels)
            else:
                self._assign(data, centers, labels, min_sq)
                min_sq += self._x_sq(data)
                cp.maximum(min_sq, 0, out=min_sq)

    @_oom_guard
    def sq_dist_to_assigned(self, data, centers, labels):
        cp = self.xp
        with self._dev:
            out = cp.empty(data.n_samples, dtype=data.dtype)
            C = cp.ascontiguousarray(centers, dtype=data.dtype)
            n = data.n_samples
            blocks = int(min(max(1, -(-n // _THREADS)), self._sms * 32))
            function("kmeans.cu", "sq_dist_assigned", data.dtype)(
                (blocks,), (_THREADS,),
                (data.X, data.shift, C, self.asarray(labels, dtype=np.int32), np.int64(n),
                 np.int32(data.n_features), out),
            )
            return out

    @_oom_guard
    def distances(self, data, centers):
        cp = self.xp
        with self._dev:
            C = cp.ascontiguousarray(centers, dtype=data.dtype)
            cn = cp.einsum("ij,ij->i", C, C)
            x_sq = self._x_sq(data)
            out = cp.empty((data.n_samples, C.shape[0]), dtype=data.dtype)
            for s, e in self._chunks(data, per_row=max(1, C.shape[0] // max(1, data.n_features))):
                D = (data.X[s:e] - data.shift) @ C.T
                D *= -2
                D += cn
                D += x_sq[s:e, None]
                cp.maximum(D, 0, out=D)
                cp.sqrt(D, out=out[s:e])
            return out

    @_oom_guard
    def kpp_add_center(self, data, center, closest):
        cp = self.xp
        with self._dev:
            c = cp.asarray(center, dtype=data.dtype)
            d = self._x_sq(data) + (c @ c) - 2 * ((data.X - data.shift) @ c)
            cp.maximum(d, 0, out=d)
            cp.minimum(closest, d, out=closest)
            return float(cp.dot(closest.astype(cp.float64), data.weights.astype(cp.float64)).get())

    @_oom_guard
    def kpp_sample(self, data, closest, targets):
        cp = self.xp
        with self._dev:
            cdf = cp.cumsum(closest.astype(cp.float64) * data.weights, dtype=cp.float64)
            idx = cp.searchsorted(cdf, cp.asarray(np.asarray(targets, dtype=np.float64)), side="right")
            return cp.asnumpy(cp.minimum(idx, data.n_samples - 1))

    @_oom_guard
    def kpp_potentials(self, data, candidates, closest, out):
        cp = self.xp
        with self._dev:
            cand = cp.ascontiguousarray(candidates, dtype=data.dtype)
            cn = cp.einsum("ij,ij->i", cand, cand)
            x_sq = self._x_sq(data)
            for s, e in self._chunks(data, per_row=max(1, cand.shape[0])):
                D = cand @ (data.X[s:e] - data.shift).T  # (t, rows)
                D *= -2
                D += cn[:, None]
                D += x_sq[None, s:e]
                cp.maximum(D, 0, out=D)
                cp.minimum(D, closest[None, s:e], out=out[:, s:e])
            return cp.asnumpy(out.astype(cp.float64) @ data.weights.astype(cp.float64))
