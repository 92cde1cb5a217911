"""fastseg: GPU-accelerated k-means for customer segmentation.

Importing fastseg never imports CuPy or touches a GPU; the backend is chosen when
an estimator is fitted (``device="auto" | "cpu" | "gpu"``).
"""

from .kmeans import KMeans, kmeans_plusplus

__version__ = "0.1.0"

__all__ = ["KMeans", "kmeans_plusplus", "__version__"]
