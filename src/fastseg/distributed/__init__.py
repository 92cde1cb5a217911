"""k-means on Dask: the same engine ops per chunk, Dask for the scheduling.

``KMeans.fit`` calls :func:`fit_dask` when X is a ``dask.array.Array`` (row-chunked) or a
dask DataFrame of numeric columns. Each Lloyd iteration is one map over the chunks (the
NumPy backend's assign + accumulate + exact distances, on the worker holding the chunk)
and one reduction of the per-chunk (sums, weights, inertia) in a fixed order, computed
once. X is persisted once. Seeding is k-means++ on a sample of 256 rows per centre,
gathered in one pass, or k-means|| (Bahmani et al. 2012) for many centres or on request
(``init="k-means||"``).

Dask is optional (``pip install fastseg[dask]``); nothing here imports it until a dask
collection arrives. The modules:

- ``_chunks``: the Lloyd, labelling and metric steps a task runs on one chunk (no Dask in them);
- ``_data``: dask input checked and persisted, and the fixed-order reduction;
- ``_placement``: the chunks spread over a ``distributed`` cluster's workers by rows;
- ``_seeding``: rows drawn by weight, k-means++ on a sample, k-means||;
- ``_estimator``: Lloyd over the chunks, and ``KMeans``'s fit, predict, transform, score;
- ``_sweep``: elbow sweeps, their metrics and the stratified silhouette sample.
"""

from ._data import DaskData, as_dask_array, is_dask_collection
from ._estimator import fit_dask, predict_dask, score_dask, transform_dask
from ._sweep import sweep_dask

__all__ = ["DaskData", "as_dask_array", "fit_dask", "is_dask_collection", "predict_dask", "score_dask",
           "sweep_dask", "transform_dask"]
