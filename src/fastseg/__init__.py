"""fastseg: GPU-accelerated k-means for customer segmentation.

Importing fastseg never imports CuPy or touches a GPU; the backend is chosen when
an estimator is fitted (``device="auto" | "cpu" | "gpu"``).
"""

from .kmeans import KMeans, kmeans_plusplus
from .sweep import SweepResult, sweep

__version__ = "0.1.0"

__all__ = ["KMeans", "SweepResult", "kmeans_plusplus", "sweep", "__version__"]
