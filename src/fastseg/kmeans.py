"""KMeans estimator and k-means++ seeding with scikit-learn's API."""

from __future__ import annotations

import warnings

import numpy as np
import scipy.sparse as sp
from sklearn.base import (
    BaseEstimator,
    ClassNamePrefixFeaturesOutMixin,
    ClusterMixin,
    TransformerMixin,
)
from sklearn.exceptions import ConvergenceWarning
from sklearn.utils import check_random_state
from sklearn.utils.validation import check_is_fitted, validate_data

from ._init import kmeans_plusplus_core, random_rows_core
from ._lloyd import lloyd_multi, tolerance
from ._validation import (
    InvalidParameterError,
    check_finite_rows,
    check_dask_only_init,
    check_int,
    check_options,
    check_real,
    check_sample_weight,
    reject_non_numeric_columns,
)
from .backend import get_backend

_ALGORITHMS = ("lloyd", "elkan")


def _validate_device_X(X, estimator, reset):
    """:func:`_validate_X` for arrays already on a GPU: checked there, never copied to the host."""
    import cupy as cp

    X = cp.asarray(X)
    if X.ndim != 2:
        raise ValueError(f"Expected 2D array, got {X.ndim}D array instead; reshape your data.")
    if X.shape[0] < 1 or X.shape[1] < 1:
        raise ValueError(f"Found array with shape {X.shape}; at least 1 sample and 1 feature are required.")
    if X.dtype not in (cp.float32, cp.float64):
        X = X.astype(cp.float64)
    X = cp.ascontiguousarray(X)
    if estimator is not None:
        if reset:
            estimator.n_features_in_ = X.shape[1]
            if hasattr(estimator, "feature_names_in_"):
                del estimator.feature_names_in_
        elif X.shape[1] != estimator.n_features_in_:
            raise ValueError(
                f"X has {X.shape[1]} features, but {type(estimator).__name__} is expecting "
                f"{estimator.n_features_in_} features as input."
            )
    # One reduction, no n × d temporary; rows are counted only when it is not finite
    # (a huge but finite X may overflow the sum, which only costs the row check).
    if bool(cp.isfinite(X.sum(dtype=cp.float64))):
        return X
    bad = int((~cp.isfinite(X).all(axis=1)).sum())
    if bad:
        first = int(cp.flatnonzero(~cp.isfinite(X).all(axis=1))[0])
        raise ValueError(
            f"Input X contains NaN or infinity in {bad} of {X.shape[0]} rows (first at row {first}). "
            "Drop or impute those rows before fitting."
        )
    return X


def _validate_X(X, estimator=None, reset=True, check_finite=True):
    """2-D float32/float64 C-contiguous array (or CSR matrix, from any SciPy sparse
    format) with finite values; never a copy if avoidable.

    ``check_finite=False`` leaves the NaN/inf check to the caller (``fit`` reads it off
    the backend's first pass over X instead of making one more).
    """
    if hasattr(X, "__cuda_array_interface__"):
        return _validate_device_X(X, estimator, reset)
    reject_non_numeric_columns(X)
    kwargs = dict(
        accept_sparse="csr",
        dtype=[np.float64, np.float32],
        order="C",
        copy=False,
        ensure_all_finite=False,
    )
    if estimator is not None:
        X = validate_data(estimator, X, reset=reset, **kwargs)
    else:
        from sklearn.utils import check_array

        X = check_array(X, **kwargs)
    if check_finite:
        check_finite_rows(X)
    return X


def backend_for(device, X):
    """The backend for ``device`` and validated ``X``: SciPy sparse data takes the
    CPU's sparse engine (see :func:`fastseg.backend.get_backend`)."""
    return get_backend(device, sparse=sp.issparse(X))


def kmeans_plusplus(
    X,
    n_clusters,
    *,
    sample_weight=None,
    x_squared_norms=None,
    random_state=None,
    n_local_trials=None,
    device="auto",
):
    """Greedy k-means++ seeding, as ``sklearn.cluster.kmeans_plusplus``.

    Parameters
    ----------
    X : array-like or SciPy sparse matrix of shape (n_samples, n_features)
        The data to pick seeds from.
    n_clusters : int
        Number of centres, ``1 <= n_clusters <= n_samples``.
    sample_weight : array-like of shape (n_samples,), default=None
        Weights; a row is drawn with probability proportional to ``w · D(x)²``.
    x_squared_norms : ignored
        Accepted for scikit-learn compatibility; fastseg computes the norms of the
        centred rows itself, which is more accurate.
    random_state : int, RandomState instance or None, default=None
        Seed of the candidate draws.
    n_local_trials : int, default=None
        Candidates tried per centre; ``2 + int(ln(n_clusters))`` when None.
    device : {"auto", "cpu", "gpu"}, default="auto"
        Where to run.

    Returns
    -------
    centers : ndarray of shape (n_clusters, n_features)
    indices : ndarray of shape (n_clusters,)
        Row of X each centre was taken from.
    """
    X = _validate_X(X)
    n = X.shape[0]
    check_int("kmeans_plusplus", "n_clusters", n_clusters, 1)
    if n < n_clusters:
        raise ValueError(f"n_samples={n} should be >= n_clusters={n_clusters}.")
    if n_local_trials is not None:
        check_int("kmeans_plusplus", "n_local_trials", n_local_trials, 1)
    w = check_sample_weight(sample_weight, n, X.dtype)
    backend = backend_for(device, X)
    data = backend.prepare(X, w)
    centers, indices = kmeans_plusplus_core(
        backend, data, n_clusters, check_random_state(random_state), n_local_trials
    )
    centers = backend.to_numpy(centers + data.shift)
    return centers, indices


def _follows_device(X, backend):
    """True when results should stay on the GPU: X is a GPU array and the GPU engine ran."""
    return backend.name == "gpu" and hasattr(X, "__cuda_array_interface__")


class KMeans(ClassNamePrefixFeaturesOutMixin, TransformerMixin, ClusterMixin, BaseEstimator):
    """K-means clustering with scikit-learn's API, on the CPU or a GPU.

    A drop-in replacement for :class:`sklearn.cluster.KMeans`: same parameters,
    defaults, fitted attributes and methods, plus ``device``.

    Parameters
    ----------
    n_clusters : int, default=8
        Number of clusters.
    init : {"k-means++", "random", "k-means||"}, callable or array-like of shape (n_clusters, n_features), default="k-means++"
        Seeding: greedy k-means++, distinct rows drawn by weight, a callable
        ``init(X, n_clusters, random_state=...)`` returning centres, or the centres.
        On Dask input "k-means++" runs on 256 random rows per centre (gathered in one
        pass; k-means|| beyond 1,024 centres) and "k-means||" (Dask input only) runs
        k-means|| over every chunk: a few more passes, often lower inertia on data with
        many separate groups.
    n_init : "auto" or int, default="auto"
        Seedings tried; the run with the lowest inertia is kept. "auto" is 1 for
        k-means++, k-means|| and explicit centres, 10 for "random" and a callable (as in
        scikit-learn). Explicit centres always run once.
    max_iter : int, default=300
        Lloyd iterations per run at most.
    tol : float, default=1e-4
        Stop when the squared centre shift is at most ``tol`` times the mean
        per-feature variance of X (or when no label changes).
    verbose : int, default=0
        Print the inertia at each iteration.
    random_state : int, RandomState instance or None, default=None
        Seed of the seeding.
    copy_x : bool, default=True
        Accepted for compatibility. fastseg neither copies nor modifies X: it
        centres each chunk on the fly, so both values behave the same.
    algorithm : {"lloyd", "elkan"}, default="lloyd"
        Accepted for compatibility; both run Lloyd's algorithm (Elkan's is an exact
        acceleration of it, with the same result).
    device : {"auto", "cpu", "gpu"} or "cuda:N", default="auto"
        Where the engine runs; "auto" picks the GPU when one answers.

    Attributes
    ----------
    cluster_centers_ : ndarray of shape (n_clusters, n_features)
    labels_ : ndarray of shape (n_samples,), int32
    inertia_ : float
        Weighted sum of squared distances of samples to their closest centre.
    n_iter_ : int
        Iterations of the best run.
    n_features_in_ : int
    feature_names_in_ : ndarray of shape (n_features_in_,)
        Only when X had string column names.

    Examples
    --------
    >>> import numpy as np
    >>> from fastseg import KMeans
    >>> X = np.array([[1, 2], [1, 4], [1, 0], [10, 2], [10, 4], [10, 0]])
    >>> km = KMeans(n_clusters=2, random_state=0).fit(X)
    >>> sorted(km.cluster_centers_[:, 0].tolist())
    [1.0, 10.0]
    """

    def __init__(
        self,
        n_clusters=8,
        *,
        init="k-means++",
        n_init="auto",
        max_iter=300,
        tol=1e-4,
        verbose=0,
        random_state=None,
        copy_x=True,
        algorithm="lloyd",
        device="auto",
    ):
        self.n_clusters = n_clusters
        self.init = init
        self.n_init = n_init
        self.max_iter = max_iter
        self.tol = tol
        self.verbose = verbose
        self.random_state = random_state
        self.copy_x = copy_x
        self.algorithm = algorithm
        self.device = device

    # -- validation ----------------------------------------------------------
    def _check_params(self, X, on_dask=False):
        name = type(self).__name__
        check_int(name, "n_clusters", self.n_clusters, 1)
        check_int(name, "max_iter", self.max_iter, 1)
        check_real(name, "tol", self.tol, 0.0)
        if not (isinstance(self.verbose, (bool, np.integer, int)) and self.verbose >= 0):
            raise InvalidParameterError(
                f"The 'verbose' parameter of {name} must be an int >= 0 or a bool. "
                f"Got {self.verbose!r} instead."
            )
        if not isinstance(self.copy_x, (bool, np.bool_)):
            raise InvalidParameterError(
                f"The 'copy_x' parameter of {name} must be a bool. Got {self.copy_x!r} instead."
            )
        check_options(name, "algorithm", self.algorithm, _ALGORITHMS)
        if X.shape[0] < self.n_clusters:
            raise ValueError(f"n_samples={X.shape[0]} should be >= n_clusters={self.n_clusters}.")

        init = self.init
        if isinstance(init, str):
            check_dask_only_init(name, init, on_dask)
            check_options(name, "init", init, ("k-means++", "random", "k-means||") if on_dask else ("k-means++", "random"))
        elif not callable(init):
            init = np.asarray(init)
            if init.ndim != 2 or init.shape != (self.n_clusters, X.shape[1]):
                raise ValueError(
                    f"The shape of the initial centers {init.shape} does not match "
                    f"(n_clusters, n_features) = ({self.n_clusters}, {X.shape[1]})."
                )
            if init.dtype.kind not in "biuf" or not np.isfinite(init).all():
                raise ValueError("The initial centers (init) must be finite numbers.")

        if self.n_init == "auto":
            n_init = 10 if callable(init) or (isinstance(init, str) and init == "random") else 1  # as scikit-learn
        else:
            n_init = check_int(name, "n_init", self.n_init, 1)
        if not isinstance(init, str) and not callable(init) and n_init != 1:  # as scikit-learn: arrays only
            warnings.warn(
                "Explicit initial center position passed: performing only one init in "
                f"{name} instead of n_init={n_init}.",
                RuntimeWarning,
                stacklevel=3,
            )
            n_init = 1
        return init, n_init

    # -- fitting ---------------------------------------------------------------
    def _seed(self, backend, data, X, init, random_state):
        k = self.n_clusters
        if isinstance(init, str) and init == "k-means++":
            return kmeans_plusplus_core(backend, data, k, random_state)[0]
        if isinstance(init, str) and init == "random":
            return random_rows_core(backend, data, k, random_state)[0]
        if callable(init):
            centers = np.asarray(init(X, k, random_state=random_state))
            if centers.shape != (k, X.shape[1]):
                raise ValueError(
                    f"The init callable returned centers of shape {centers.shape}; "
                    f"expected (n_clusters, n_features) = ({k}, {X.shape[1]})."
                )
        else:
            centers = init
        centers = backend.asarray(centers, dtype=X.dtype)
        return centers - data.shift

    def fit(self, X, y=None, sample_weight=None):
        """Compute k-means clustering.

        Parameters
        ----------
        X : array-like or SciPy sparse matrix of shape (n_samples, n_features)
            Training data; float32 stays float32, anything else becomes float64. Sparse
            data runs on the CPU's sparse engine, never densified.
        y : Ignored
        sample_weight : array-like of shape (n_samples,), default=None
            Non-negative weights used in seeding, updates and inertia. With dask X, also a
            dask array or Series (for example a column of the same DataFrame), kept lazy.

        Returns
        -------
        self : KMeans
        """
        from .distributed import is_dask_collection

        if is_dask_collection(X):
            return self._fit_dask(X, sample_weight)
        on_host = not hasattr(X, "__cuda_array_interface__")
        X = _validate_X(X, self, reset=True, check_finite=not on_host)
        init, n_init = self._check_params(X)
        w = check_sample_weight(sample_weight, X.shape[0], X.dtype)
        random_state = check_random_state(self.random_state)
        backend = backend_for(self.device, X)
        data = backend.prepare(X, w)
        if on_host and not (np.isfinite(data.mean_sq) and np.isfinite(data.mean).all()):
            check_finite_rows(X)  # NaN/inf reach the moments: now count the rows
        tol = tolerance(backend, data, self.tol)

        # The n_init restarts advance together: one read of X per iteration for all.
        seeds = [self._seed(backend, data, X, init, random_state) for _ in range(n_init)]
        if self.verbose:
            print("Initialization complete")
        runs = lloyd_multi(
            backend, data, seeds, max_iter=self.max_iter, tol=tol, verbose=bool(self.verbose)
        )
        best = min(runs, key=lambda r: r.inertia)  # first of equals, as a sequential loop
        labels, inertia, centers, n_iter = best.labels, best.inertia, best.centers, best.n_iter

        host_centers = backend.to_numpy(centers + data.shift).astype(X.dtype, copy=False)
        host_labels = backend.to_numpy(labels)
        # fitted attributes follow the input: NumPy in, NumPy out; GPU arrays in, CuPy out
        on_device = _follows_device(X, backend)
        self.cluster_centers_ = backend.asarray(host_centers) if on_device else host_centers
        self.labels_ = labels if on_device else host_labels
        self.inertia_ = inertia
        self.n_iter_ = n_iter
        self._n_features_out = host_centers.shape[0]
        distinct = int(np.count_nonzero(np.bincount(host_labels, minlength=self.n_clusters)))
        if distinct < self.n_clusters:
            warnings.warn(
                f"Number of distinct clusters ({distinct}) found smaller than "
                f"n_clusters ({self.n_clusters}). Possibly due to duplicate points in X.",
                ConvergenceWarning,
                stacklevel=2,
            )
        return self

    def _fit_dask(self, X, sample_weight):
        from .distributed import as_dask_array, fit_dask

        names = getattr(X, "columns", None)
        Xd = as_dask_array(X)
        init, n_init = self._check_params(Xd, on_dask=True)
        if hasattr(self, "feature_names_in_"):
            del self.feature_names_in_
        fit_dask(self, Xd, sample_weight, init, n_init, check_random_state(self.random_state))
        if names is not None:
            self.feature_names_in_ = np.asarray(list(names), dtype=object)
        return self

    # -- using a fitted model -------------------------------------------------
    def _prepared(self, X, sample_weight=None):
        check_is_fitted(self)
        X = _validate_X(X, self, reset=False)
        w = check_sample_weight(sample_weight, X.shape[0], X.dtype)
        backend = backend_for(self.device, X)
        data = backend.prepare(X, w, center=True)
        fitted = self.cluster_centers_
        if backend.name == "cpu" and hasattr(fitted, "__cuda_array_interface__"):
            fitted = fitted.get()  # fitted on a GPU, used on the host
        centers = backend.asarray(fitted, dtype=X.dtype) - data.shift
        return backend, data, centers

    def predict(self, X):
        """Index of the closest centre for each row of X.

        Returns
        -------
        labels : ndarray of shape (n_samples,), int32 (a lazy dask array for dask input)
        """
        from .distributed import is_dask_collection, predict_dask

        if is_dask_collection(X):
            check_is_fitted(self)
            return predict_dask(self, X)
        backend, data, centers = self._prepared(X)
        labels = backend.xp.empty(data.n_samples, dtype=backend.xp.int32)
        backend.assign(data, centers, labels)
        return labels if _follows_device(X, backend) else backend.to_numpy(labels)

    def transform(self, X):
        """Euclidean distance of each row of X to every centre.

        Returns
        -------
        ndarray of shape (n_samples, n_clusters), X's float dtype (a lazy dask array,
        chunked as X's rows, for dask input)
        """
        from .distributed import is_dask_collection, transform_dask

        if is_dask_collection(X):
            check_is_fitted(self)
            return transform_dask(self, X)
        backend, data, centers = self._prepared(X)
        D = backend.distances(data, centers)
        return D if _follows_device(X, backend) else backend.to_numpy(D)

    def score(self, X, y=None, sample_weight=None):
        """Opposite of the weighted inertia of X against the fitted centres.

        Returns
        -------
        float (for dask input computed in one pass over the chunks; ``sample_weight`` may
        then be a dask array or Series)
        """
        from .distributed import is_dask_collection, score_dask

        if is_dask_collection(X):
            check_is_fitted(self)
            return score_dask(self, X, sample_weight)
        backend, data, centers = self._prepared(X, sample_weight)
        xp = backend.xp
        labels = xp.empty(data.n_samples, dtype=xp.int32)
        backend.assign(data, centers, labels)
        exact = backend.sq_dist_to_assigned(data, centers, labels)
        return -float(backend.to_numpy(xp.dot(exact.astype(xp.float64), data.weights.astype(xp.float64))))

    def fit_predict(self, X, y=None, sample_weight=None):
        """Fit and return ``labels_``."""
        return self.fit(X, sample_weight=sample_weight).labels_

    def fit_transform(self, X, y=None, sample_weight=None):
        """Fit and return the distances of X to the centres."""
        return self.fit(X, sample_weight=sample_weight).transform(X)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.transformer_tags.preserves_dtype = ["float64", "float32"]
        tags.input_tags.sparse = True
        return tags
