"""fastseg: GPU-accelerated k-means for customer segmentation.

Importing fastseg never imports CuPy or touches a GPU; the backend is chosen when
an estimator is fitted (``device="auto" | "cpu" | "gpu"``).
"""

from ._version import __version__
from .kmeans import KMeans, kmeans_plusplus
from .sweep import SweepResult, sweep
from .features import rfm
from .segment import Segmentation, Segmenter
from .report import report
from . import datasets

__all__ = [
    "KMeans",
    "Segmentation",
    "Segmenter",
    "SweepResult",
    "datasets",
    "kmeans_plusplus",
    "report",
    "rfm",
    "sweep",
    "__version__",
]
