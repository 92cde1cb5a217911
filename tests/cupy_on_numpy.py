"""A stand-in for CuPy made of NumPy, so the GPU backend's Python code runs without a GPU.

Together with :mod:`cuda_on_cpu` (the CUDA kernels built for the CPU) it lets tests drive
:class:`fastseg.backend.gpu.CuPyBackend` end to end: every engine op, whole fits and
sweeps, streaming from host memory, the out-of-memory paths. It is strict where CuPy is
strict, so mistakes that would only show on a GPU show here:

* a device array refuses implicit conversion to NumPy (``np.asarray(a)`` raises
  TypeError, as CuPy's does); ``.get()`` and :func:`asnumpy` are the ways out;
* a host NumPy array given to a device function, operator, assignment or kernel is a
  TypeError (CuPy does not move data implicitly); ``asarray`` copies host data over;
* reductions return 0-d device arrays, not Python scalars;
* only names CuPy has exist (``cupy_names.txt``, read off CuPy 14.2): a NumPy function or
  array method that CuPy lacks is an AttributeError here too;
* device memory is counted: allocations beyond the configured total raise
  :class:`OutOfMemoryError`, ``memGetInfo`` reports what is left, and the peak is kept
  for memory-budget tests.

Timing means nothing here, and CuPy's own kernels (cuBLAS, reductions) are NumPy's: their
rounding differs from the GPU's within the usual float tolerance.
"""

from __future__ import annotations

import contextlib
import operator
import types
import weakref

import pathlib

import numpy as np

import cuda_on_cpu
from fastseg.backend.kernels import expression


class OutOfMemoryError(MemoryError):
    """What ``cupy.cuda.memory.OutOfMemoryError`` is to CuPy."""

    def __init__(self, size, total):
        super().__init__(f"Out of memory allocating {size:,} bytes (allocated so far: {total:,} bytes).")


class _Memory:
    """Bytes held by live device arrays, their peak, and the device's total."""

    def __init__(self):
        self.total = 80 * 2**30
        self.live = 0
        self.peak = 0
        self._held = {}  # id of a NumPy array that owns device memory → its bytes

    def alloc(self, a):
        """Count ``a`` once if it owns its memory (views and repeats cost nothing)."""
        if a.base is not None or a.nbytes == 0 or id(a) in self._held:
            return
        if self.live + a.nbytes > self.total:
            raise OutOfMemoryError(a.nbytes, self.live)
        self.live += a.nbytes
        self.peak = max(self.peak, self.live)
        self._held[id(a)] = a.nbytes
        for hook in _hooks:
            hook.malloc_postprocess(device_id=0, size=a.nbytes, mem_size=a.nbytes, mem_ptr=id(a), pmem_id=id(a))
        weakref.finalize(a, self._free, id(a))

    def _free(self, key):
        nbytes = self._held.pop(key)
        self.live -= nbytes
        for hook in _hooks:
            hook.free_postprocess(device_id=0, mem_size=nbytes, mem_ptr=key, pmem_id=key)

    @contextlib.contextmanager
    def measure(self):
        """Yield a dict whose ``"peak"`` becomes the extra bytes held at most inside the block."""
        out = {}
        base, self.peak = self.live, self.live
        try:
            yield out
        finally:
            out["peak"] = self.peak - base


def _cupy_names():
    """CuPy's public names, top level and ``ndarray``'s, from ``cupy_names.txt``."""
    names, section = {}, None
    for line in (pathlib.Path(__file__).parent / "cupy_names.txt").read_text().splitlines():
        if line.startswith("["):
            section = names.setdefault(line.strip("[]"), set())
        elif line and not line.startswith("#"):
            section.update(line.split())
    return names["cupy"], names["cupy.ndarray"]


CUPY_NAMES, NDARRAY_NAMES = _cupy_names()

_hooks = []  # active MemoryHooks
memory = _Memory()
to_host = {"copies": 0}  # device → host copies (``get``, ``asnumpy``), for tests to count
# array operations issued from Python (functions, methods, operators, indexing, kernel
# launches): each costs CuPy microseconds of host time, so tests count them per iteration
array_ops = {"count": 0}
_host_registered = set()


def _wrap(r):
    if isinstance(r, ndarray):
        return r
    if isinstance(r, np.ndarray):
        memory.alloc(r)
        return ndarray(r)
    if isinstance(r, np.generic):
        return _wrap(np.asarray(r))
    if isinstance(r, tuple):
        return tuple(_wrap(x) for x in r)
    if isinstance(r, list):
        return [_wrap(x) for x in r]
    return r


def _unwrap(x, where="a device function", allow_host=False):
    if isinstance(x, ndarray):
        return x._a
    if isinstance(x, np.ndarray) and not allow_host:
        raise TypeError(f"Unsupported type {type(x)}: a host NumPy array given to {where} (CuPy does not "
                        "move data implicitly; use cupy.asarray)")
    if isinstance(x, (tuple, list)):
        return type(x)(_unwrap(v, where, allow_host) for v in x)
    if isinstance(x, dict):
        return {k: _unwrap(v, where, allow_host) for k, v in x.items()}
    return x


class _DeviceFn:
    """A NumPy function (or ufunc, with its methods such as ``.at``) taking device arrays."""

    def __init__(self, fn, name):
        self._fn, self.__name__ = fn, name

    def __call__(self, *args, **kwargs):
        array_ops["count"] += 1
        where = f"cupy.{self.__name__}"
        return _wrap(self._fn(*_unwrap(args, where), **_unwrap(kwargs, where)))

    def __getattr__(self, attr):
        return _DeviceFn(getattr(self._fn, attr), f"{self.__name__}.{attr}")



class ndarray:  # noqa: N801 - CuPy's name
    """A device array: a NumPy array behind CuPy's stricter interface."""

    # libraries that special-case CuPy by the module of the array type (Dask's dispatch)
    # treat these arrays as CuPy's
    __module__ = "cupy"

    __slots__ = ("_a", "__weakref__")
    __array_ufunc__ = None  # NumPy operators hand over to ours, which refuse host arrays

    def __init__(self, a):
        self._a = a

    def __array__(self, *args, **kwargs):
        raise TypeError("Implicit conversion to a NumPy array is not allowed. Please use `.get()` to construct a "
                        "NumPy array explicitly.")

    @property
    def __cuda_array_interface__(self):
        return {"shape": self._a.shape, "typestr": self._a.dtype.str, "data": (self._a.ctypes.data, False),
                "strides": None if self._a.flags.c_contiguous else self._a.strides, "version": 3}

    @property
    def device(self):
        return _Device(0)

    @property
    def data(self):
        """CuPy's ``MemoryPointer``: here ``ptr`` is the host address the emulated kernels use."""
        from types import SimpleNamespace

        return SimpleNamespace(ptr=self._a.ctypes.data)

    def get(self, stream=None, out=None):
        to_host["copies"] += 1
        return self._a.copy()

    def set(self, arr, stream=None):
        if isinstance(arr, ndarray) or not isinstance(arr, np.ndarray):
            raise TypeError("ndarray.set takes a host NumPy array")
        if arr.shape != self._a.shape:
            raise ValueError(f"Shape mismatch. Old shape: {self._a.shape}, new shape: {arr.shape}")
        self._a[...] = arr

    def __getattr__(self, name):
        if name in ("ctypes", "tofile", "__array_interface__") or not (name.startswith("_") or name in NDARRAY_NAMES):
            raise AttributeError(f"cupy.ndarray has no attribute {name!r} (NumPy's only)")
        attr = getattr(self._a, name)
        if callable(attr):
            return _DeviceFn(attr, f"ndarray.{name}")
        return _wrap(attr) if isinstance(attr, np.ndarray) else attr

    def __getitem__(self, key):
        array_ops["count"] += 1
        return _wrap(self._a[_unwrap(key, "indexing", allow_host=True)])

    def __setitem__(self, key, value):
        array_ops["count"] += 1
        self._a[_unwrap(key, "indexing", allow_host=True)] = _unwrap(value, "ndarray.__setitem__")

    def __len__(self):
        return len(self._a)

    def __iter__(self):
        return (_wrap(self._a[i]) for i in range(len(self._a)))

    def __float__(self):  # each of these reads a value back: a copy to the host, as in CuPy
        to_host["copies"] += 1
        return float(self._a)

    def __int__(self):
        to_host["copies"] += 1
        return int(self._a)

    def __bool__(self):
        to_host["copies"] += 1
        return bool(self._a)

    def __repr__(self):
        return f"fake-cupy {self._a!r}"


def _binary(op, reflected=False):
    def method(self, other):
        array_ops["count"] += 1
        o = _unwrap(other, f"operator {op.__name__}")
        return _wrap(op(o, self._a) if reflected else op(self._a, o))

    return method


def _inplace(op):
    def method(self, other):
        array_ops["count"] += 1
        op(self._a, _unwrap(other, f"operator {op.__name__}"))
        return self

    return method


for _name in ("add", "sub", "mul", "truediv", "floordiv", "mod", "pow", "matmul", "and", "or", "xor",
              "lshift", "rshift"):
    _op = getattr(operator, _name + "_" if _name in ("and", "or") else _name)
    setattr(ndarray, f"__{_name}__", _binary(_op))
    setattr(ndarray, f"__r{_name}__", _binary(_op, reflected=True))
    setattr(ndarray, f"__i{_name}__", _inplace(getattr(operator, f"i{_name}")))
for _name in ("lt", "le", "gt", "ge", "eq", "ne"):
    setattr(ndarray, f"__{_name}__", _binary(getattr(operator, _name)))
for _name in ("neg", "pos", "abs", "invert"):
    setattr(ndarray, f"__{_name}__", (lambda op: lambda self: _wrap(op(self._a)))(getattr(operator, _name)))
ndarray.__hash__ = None


# -- creation and transfer -------------------------------------------------------
def asarray(a, dtype=None, order=None):
    if isinstance(a, ndarray):
        return a if dtype is None or np.dtype(dtype) == a.dtype else _wrap(a._a.astype(dtype))
    if hasattr(a, "__cuda_array_interface__"):
        raise TypeError("this stand-in only knows its own device arrays")
    return _wrap(np.array(a, dtype=dtype, order=order or "K", copy=True))  # a host → device copy


array = asarray


def ascontiguousarray(a, dtype=None):
    a = asarray(a, dtype=dtype)
    return a if a._a.flags.c_contiguous else _wrap(np.ascontiguousarray(a._a))


def asnumpy(a, stream=None):
    return a.get() if isinstance(a, ndarray) else np.asarray(a)  # get() counts the copy


def from_dlpack(x):
    return _wrap(np.from_dlpack(x).copy())


class _Pool:
    def free_bytes(self):
        return 0

    def free_all_blocks(self):
        pass

    def total_bytes(self):
        return memory.live

    def used_bytes(self):
        return memory.live


_POOL = _Pool()


def get_default_memory_pool():
    return _POOL


# -- cupy.cuda ----------------------------------------------------------------------
class _Device:
    def __init__(self, device=None):
        self.id = 0 if device is None else int(device)
        if self.id >= _config["devices"]:
            raise RuntimeError(f"cudaErrorInvalidDevice: invalid device ordinal {self.id}")

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False

    def synchronize(self):
        pass


class _Event:
    def record(self, stream=None):
        pass

    def synchronize(self):
        pass


class _MemoryHook:
    """``cupy.cuda.MemoryHook``: subclasses get ``malloc_postprocess``/``free_postprocess``
    calls (keyword arguments, as CuPy's) while used as a context manager."""

    name = "hook"

    def malloc_postprocess(self, **kwargs):
        pass

    def free_postprocess(self, **kwargs):
        pass

    def __enter__(self):
        _hooks.append(self)
        return self

    def __exit__(self, *exc):
        _hooks.remove(self)
        return False


class _Stream:
    def __init__(self, null=False, non_blocking=False, ptds=False):
        pass

    def record(self, event=None):
        return _Event()

    def wait_event(self, event):
        if not isinstance(event, _Event):
            raise TypeError("wait_event takes an Event")

    def synchronize(self):
        pass


def _host_register(ptr, size, flags):
    if ptr in _host_registered:
        raise RuntimeError("cudaErrorHostMemoryAlreadyRegistered")
    _host_registered.add(ptr)


def _host_unregister(ptr):
    _host_registered.discard(ptr)


_config = {"shared": 48 * 1024, "shared_optin": 227 * 1024, "shared_sm": 228 * 1024, "sms": 132, "devices": 1}

cuda = types.SimpleNamespace(
    Device=_Device,
    Stream=_Stream,
    Event=_Event,
    MemoryHook=_MemoryHook,
    get_elapsed_time=lambda start, stop: 1.0,  # milliseconds; meaningless here
    get_current_stream=lambda: _Stream(),
    memory=types.SimpleNamespace(OutOfMemoryError=OutOfMemoryError),
    runtime=types.SimpleNamespace(
        getDeviceCount=lambda: _config["devices"],
        getDeviceProperties=lambda i: {"sharedMemPerBlock": _config["shared"],
                                       "sharedMemPerBlockOptin": _config["shared_optin"],
                                       "sharedMemPerMultiprocessor": _config["shared_sm"],
                                       "multiProcessorCount": _config["sms"], "name": b"cupy_on_numpy"},
        memGetInfo=lambda: (memory.total - memory.live, memory.total),
        hostRegister=_host_register,
        hostUnregister=_host_unregister,
    ),
)


def configure(*, total_bytes=80 * 2**30, shared=48 * 1024, sms=132, devices=1):
    """Set the pretend device: memory, shared memory per block, multiprocessors."""
    memory.total = int(total_bytes)
    _config.update(shared=int(shared), sms=int(sms), devices=int(devices))


def __getattr__(name):
    """Everything else CuPy has: NumPy's function of that name, made strict about host arrays."""
    if not (name.startswith("_") or name in CUPY_NAMES):
        raise AttributeError(f"module 'cupy' has no attribute {name!r} (NumPy's only)")
    attr = getattr(np, name)
    if isinstance(attr, type) or not callable(attr):
        return attr  # dtypes, constants
    return _DeviceFn(attr, name)


# -- kernels --------------------------------------------------------------------------
_MODULES = {}


def kernel_function(name, kernel, dtype=None, width=None):
    """Stand-in for :func:`fastseg.backend.kernels.function`: the kernel built for the CPU,
    taking device arrays (a host array given to a kernel is a TypeError, as in CuPy)."""
    if name not in _MODULES:
        _MODULES[name] = cuda_on_cpu.Module(name)
    return _Kernel(_MODULES[name].get_function(expression(kernel, dtype, width)))


class _Kernel:
    """A ``cupy.RawKernel`` stand-in: called with device arrays; its opt-in shared-memory
    limit is the emulated kernel's."""

    def __init__(self, fn):
        self._fn = fn

    def __call__(self, grid, block, args, *, shared_mem=0):
        array_ops["count"] += 1
        self._fn(grid, block, tuple(_unwrap(a, f"kernel {self._fn.expr}") for a in args), shared_mem=shared_mem)

    @property
    def max_dynamic_shared_size_bytes(self):
        return self._fn.max_dynamic_shared_size_bytes

    @max_dynamic_shared_size_bytes.setter
    def max_dynamic_shared_size_bytes(self, value):
        self._fn.max_dynamic_shared_size_bytes = value


def launches(name="kmeans.cu"):
    """``(kernel, grid, block, shared_mem)`` of every launch so far (cleared by the caller)."""
    return _MODULES[name].launches if name in _MODULES else []
