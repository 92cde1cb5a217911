"""Array backends: the one place that knows NumPy from CuPy.

``get_backend(device)`` is called once, up front, by each public entry point; the
algorithms then talk to the returned :class:`Backend` and never ask which it is.

``device`` is ``"auto"`` (the GPU when CuPy imports and a CUDA device answers, else
the CPU), ``"cpu"``, ``"gpu"`` or ``"cuda:N"``. Importing this module never imports
CuPy.
"""

from __future__ import annotations

import re

from ._base import Backend, Dataset
from .cpu import NumPyBackend

__all__ = ["Backend", "Dataset", "NumPyBackend", "get_backend", "gpu_available"]

_CPU = None


def _cpu_backend() -> NumPyBackend:
    global _CPU
    if _CPU is None:
        _CPU = NumPyBackend()
    return _CPU


def gpu_available() -> bool:
    """True when CuPy imports and at least one CUDA device answers.

    The GPU engine is not part of this release yet, so this only reports whether
    the hardware is there; ``get_backend("auto")`` still picks the CPU.
    """
    try:
        import cupy  # noqa: F401

        return cupy.cuda.runtime.getDeviceCount() > 0
    except Exception:  # ImportError, CUDARuntimeError, missing driver: no GPU
        return False


def get_backend(device="auto") -> Backend:
    """Return the backend for ``device``.

    Parameters
    ----------
    device : {"auto", "cpu", "gpu"} or "cuda:N" or Backend
        Where the engine runs.

    Raises
    ------
    ValueError
        If ``device`` is not one of the accepted values.
    RuntimeError
        If a GPU is asked for and cannot be used.
    """
    if isinstance(device, Backend):
        return device
    if not isinstance(device, str):
        raise ValueError(
            f"The 'device' parameter must be 'auto', 'cpu', 'gpu' or 'cuda:N'; got {device!r}."
        )
    dev = device.strip().lower()
    if dev in ("auto", "cpu"):
        return _cpu_backend()
    if dev == "gpu" or re.fullmatch(r"cuda(:\d+)?", dev):
        raise RuntimeError(
            f"device={device!r}: the GPU engine is not available in this build of fastseg "
            "yet. Use device='cpu' (or 'auto')."
        )
    raise ValueError(
        f"The 'device' parameter must be 'auto', 'cpu', 'gpu' or 'cuda:N'; got {device!r}."
    )
