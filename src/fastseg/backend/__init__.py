"""Array backends: the one place that knows NumPy from CuPy.

``get_backend(device)`` is called once, up front, by each public entry point; the
algorithms then talk to the returned :class:`Backend` and never ask which it is.

``device`` is ``"auto"`` (the GPU when CuPy imports and a CUDA device answers, else
the CPU), ``"cpu"``, ``"gpu"`` or ``"cuda:N"``. Importing this module never imports
CuPy.
"""

from __future__ import annotations

import os
import re

from ._base import Backend, Dataset
from .cpu import NumPyBackend

__all__ = ["Backend", "Dataset", "NumPyBackend", "get_backend", "gpu_available"]

_CPU = None
_SPARSE = None


def _cpu_backend() -> NumPyBackend:
    global _CPU
    if _CPU is None:
        _CPU = NumPyBackend()
    return _CPU


def _sparse_backend():
    global _SPARSE
    if _SPARSE is None:
        from .cpu_sparse import SparseBackend

        _SPARSE = SparseBackend()
    return _SPARSE


def gpu_available() -> bool:
    """True when CuPy imports and at least one CUDA device answers."""
    try:
        import cupy  # noqa: F401

        return cupy.cuda.runtime.getDeviceCount() > 0
    except Exception:  # ImportError, CUDARuntimeError, missing driver: no GPU
        return False


def get_backend(device="auto", *, sparse=False) -> Backend:
    """Return the backend for ``device``.

    Parameters
    ----------
    device : {"auto", "cpu", "gpu"} or "cuda:N" or Backend
        Where the engine runs.
    sparse : bool
        The data is a SciPy sparse matrix: the CPU's sparse engine runs it ("auto" and
        "cpu"); a GPU is an error that says how to proceed.

    Raises
    ------
    ValueError
        If ``device`` is not one of the accepted values.
    RuntimeError
        If a GPU is asked for and cannot be used.
    """
    if isinstance(device, Backend):
        if not sparse or getattr(device, "sparse", False):
            return device
        if isinstance(device, NumPyBackend):  # the same threads, on the sparse ops
            from .cpu_sparse import SparseBackend

            return SparseBackend(device.n_threads)
        device = device.name  # a GPU backend: the error below
    if not isinstance(device, str):
        raise ValueError(
            f"The 'device' parameter must be 'auto', 'cpu', 'gpu' or 'cuda:N'; got {device!r}."
        )
    dev = device.strip().lower()
    if dev in ("auto", "cpu"):
        return _sparse_backend() if sparse else _cpu_backend()
    if dev == "gpu" or re.fullmatch(r"cuda(:\d+)?", dev):
        if sparse:
            raise ValueError(
                f"device={device!r}: sparse input (a SciPy sparse matrix) runs on the CPU engine only. "
                "Pass device='cpu' or 'auto', or densify it with X.toarray() to run on the GPU."
            )
        # The CuPy engine is written and its kernels compile in CI, but it has not yet
        # passed its tests on a GPU: it is opt-in until it has.
        if os.environ.get("FASTSEG_EXPERIMENTAL_GPU") != "1":
            raise RuntimeError(
                f"device={device!r}: the GPU engine is not validated yet in this build of fastseg. "
                "Use device='cpu' (or 'auto'), or set FASTSEG_EXPERIMENTAL_GPU=1 to try it."
            )
        if not gpu_available():
            raise RuntimeError(
                f"device={device!r}: no CUDA GPU answered (CuPy missing or no device). Install "
                "fastseg[cuda12] or fastseg[cuda13] on a machine with an NVIDIA GPU, or use device='cpu'."
            )
        from .gpu import CuPyBackend

        return CuPyBackend(int(dev.split(":")[1]) if ":" in dev else 0)
    raise ValueError(
        f"The 'device' parameter must be 'auto', 'cpu', 'gpu' or 'cuda:N'; got {device!r}."
    )
