"""The contract every array backend fulfils.

The algorithms in ``fastseg._lloyd`` and ``fastseg._init`` are written once against
this interface; a backend supplies the array module (``xp``) for small bookkeeping
arrays (k × d centres, k counts) and the *engine ops* that touch every row of X.
Engine ops are where the time goes, so each one reads X once.

All engine ops work in *shifted* coordinates: a :class:`Dataset` carries a per-feature
shift (the data mean) that the op subtracts chunk by chunk. This keeps the
``‖x‖² − 2 x·c + ‖c‖²`` expansion accurate for data far from the origin without ever
copying X, and is why centres passed to and returned from engine ops are shifted too.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass
class Dataset:
    """Validated data resident on a backend, ready for the engine ops.

    Parameters
    ----------
    X : array of shape (n_samples, n_features)
        C-contiguous float32 or float64 data, never modified.
    weights : array of shape (n_samples,)
        Non-negative sample weights in X's dtype.
    shift : array of shape (n_features,)
        Subtracted from every row before distances are taken.
    x_sq : array of shape (n_samples,) or None
        ``‖x - shift‖²`` per row, filled in by the first op that needs it.
    centered : bool
        False when ``shift`` is zero and rows are used as they are.
    mean : float64 array of shape (n_features,)
        Unweighted column means of X (host).
    mean_sq : float
        Mean over rows of ``‖x - shift‖²``.
    grid : fastseg._exact.Grid or None
        Splitters that make Lloyd's per-cluster totals exact and order-independent
        (float64 data on the CPU); None: totals are ordinary float64 sums.
    batches : iterable or None
        GPU only: X left in host memory (``X`` is then the host array) and brought to
        the device in these batches; None: X is resident.
    """

    X: Any
    weights: Any
    shift: Any
    x_sq: Any
    centered: bool = False
    mean: Any = None
    mean_sq: float = 0.0
    grid: Any = None
    batches: Any = None

    @property
    def n_samples(self) -> int:
        return int(self.X.shape[0])

    @property
    def n_features(self) -> int:
        return int(self.X.shape[1])

    @property
    def dtype(self):
        return self.X.dtype

    @property
    def levels(self) -> int:
        """Leading length of the per-cluster totals: 2 grid levels, or 1 ordinary sum."""
        return 1 if self.grid is None else 2


def needs_centering(mean, mean_sq_norm) -> bool:
    """Whether X must be shifted by its mean for accurate distance expansions.

    The rounding error of ``‖x‖² − 2 x·c + ‖c‖²`` grows with ``‖x‖²`` while the
    distances that matter grow with the spread, ``E‖x − μ‖² = E‖x‖² − ‖μ‖²``. When
    the offset ``‖μ‖²`` is no larger than the spread, the error is at most twice
    that of centred data and the shift (a subtraction per chunk) is skipped.

    Parameters
    ----------
    mean : array of shape (n_features,)
        Column means.
    mean_sq_norm : float
        Mean of ``‖x‖²`` over the rows.
    """
    offset = float((mean.astype("float64") ** 2).sum())
    spread = mean_sq_norm - offset
    return offset > spread


class Backend:
    """Base class of the array backends; see :mod:`fastseg.backend`.

    Attributes
    ----------
    name : str
        ``"cpu"`` or ``"gpu"``.
    xp : module
        The array module (``numpy`` or ``cupy``).
    """

    name: str = "abstract"
    xp: Any = None
    #: k-means++ keeps every candidate's distance array (t × n) so that the winner's
    #: costs no further pass over X; False: ``kpp_potentials`` gets ``out=None``.
    kpp_keeps_trials: bool = True
    #: True for the engine that takes SciPy sparse matrices (:mod:`.cpu_sparse`).
    sparse: bool = False

    # -- transfers -------------------------------------------------------
    def asarray(self, a, dtype=None):
        """Return ``a`` on this backend, C-contiguous, without copying if possible."""
        raise NotImplementedError

    def to_numpy(self, a):
        """Return ``a`` as a NumPy array on the host."""
        raise NotImplementedError

    def prepare(self, X, weights, *, center: bool = True) -> Dataset:
        """Move validated data to the backend and precompute row norms.

        Parameters
        ----------
        X : ndarray of shape (n_samples, n_features)
            Validated float32/float64 data.
        weights : ndarray of shape (n_samples,)
            Validated non-negative weights.
        center : bool
            Shift by the column means (True) or by zero.
        """
        raise NotImplementedError

    def describe(self) -> str:
        """One line for people: which engine runs, and how."""
        return repr(self)

    def take_rows(self, data: Dataset, idx):
        """Rows ``idx`` (host integers) of X in shifted coordinates, on the backend."""
        return data.X[self.xp.asarray(idx)] - data.shift

    def sample_rows(self, data: Dataset, idx):
        """Rows ``idx`` for a metric's sample: :meth:`take_rows`, or rows in X's own form
        where that is cheaper (sparse rows stay sparse)."""
        return self.take_rows(data, idx)

    # -- engine ops ------------------------------------------------------
    def lloyd_step_multi(self, data: Dataset, runs, with_inertia=False):
        """One Lloyd assignment for several runs at once, reading X once.

        Every run assigns every row to its nearest centre and keeps its per-cluster
        totals; the runs share each pass over X (a k-means sweep, or ``n_init``
        restarts, advance together).

        Parameters
        ----------
        data : Dataset                                  # IN
        runs : sequence of objects with attributes
            centers : array (k_r, d), X's dtype         # IN (shifted coordinates)
            labels : int32 array (n,)                   # IN/OUT: previous labels (-1: none), replaced
            sums : float64 array (L, k_r, d)            # IN/OUT, L = ``data.levels``
                Weighted sum of the (shifted) rows carrying each label; on entry for
                the labels on entry, on exit for the new ones. A backend may update
                it from the rows that changed label, or recompute it. With a grid the
                two levels are exact (see :mod:`fastseg._exact`) and the total is
                ``sums[0] + sums[1]``.
            counts : float64 array (L, k_r)             # IN/OUT, total weight per label
        with_inertia : bool                             # IN

        Returns
        -------
        list of (n_changed, inertia) per run
            Rows whose label changed; the weighted sum of squared distances to the
            nearest centre when asked, else None.
        """
        raise NotImplementedError

    def lloyd_iteration_multi(self, data: Dataset, runs, with_inertia=False):
        """One whole Lloyd iteration for several runs: :meth:`lloyd_step_multi`, then each
        run's new centres (empty clusters relocated as scikit-learn does).

        ``runs`` also carry ``centers``, replaced by the new centres. A backend may
        override this to keep the update where the data is (the GPU: one small copy to
        the host per iteration for all runs).

        Returns
        -------
        list of (n_changed, inertia, shift) per run
            ``shift``: the squared distance the centres moved, summed over centres.
        """
        from .._lloyd import update_centers

        out = []
        for run, (n_changed, inertia) in zip(runs, self.lloyd_step_multi(data, runs, with_inertia)):
            new = update_centers(self, data, run.centers, run.labels, run.sums, run.counts)
            shift = float(self.to_numpy(((new - run.centers) ** 2).sum()))
            run.centers = new
            out.append((n_changed, inertia, shift))
        return out

    def lloyd_step(self, data: Dataset, centers, labels, sums, counts, with_inertia=False):
        """:meth:`lloyd_step_multi` for a single run; returns ``(n_changed, inertia)``."""
        from types import SimpleNamespace

        run = SimpleNamespace(centers=centers, labels=labels, sums=sums, counts=counts)
        return self.lloyd_step_multi(data, [run], with_inertia)[0]

    def finish_multi(self, data: Dataset, runs, reassign):
        """Close several runs in one pass: final labels where asked, exact inertia.

        Parameters
        ----------
        data : Dataset                                  # IN
        runs : sequence of objects with ``centers`` and ``labels``
            labels : int32 array (n,)                   # IN/OUT (replaced where reassign)
        reassign : sequence of bool                     # IN
            True: label every row by the final centres first (a run stopped by
            ``tol`` or ``max_iter`` has labels from the centres before).

        Returns
        -------
        list of float
            Weighted sum of ``‖x − c[label]‖²`` per run, from direct differences.
        """
        raise NotImplementedError

    def accumulate(self, data: Dataset, labels, k):
        """Weighted per-label sums (shifted rows) and total weights, float64.

        Parameters
        ----------
        data : Dataset                                  # IN
        labels : int32 array of shape (n,)              # IN, values in [0, k)
        k : int                                         # IN

        Returns
        -------
        sums : (k, d) float64 array; counts : (k,) float64 array
        """
        raise NotImplementedError

    def assign(self, data: Dataset, centers, labels, min_sq=None, exact=False):
        """Nearest centre of every row, without accumulation.

        Parameters
        ----------
        data : Dataset                                  # IN
        centers : array of shape (k, d)                 # IN (shifted coordinates)
        labels : int32 array of shape (n,)              # OUT
        min_sq : array of shape (n,) or None            # OUT, squared distance to it
        exact : bool                                    # IN
            Compute ``min_sq`` from direct differences rather than the expansion.
        """
        raise NotImplementedError

    def sq_dist_to_assigned(self, data: Dataset, centers, labels):
        """Exact ``‖x - c[label]‖²`` per row (direct differences, no expansion)."""
        raise NotImplementedError

    def distances(self, data: Dataset, centers):
        """Euclidean distances to every centre, shape (n, k), X's dtype."""
        raise NotImplementedError

    def kpp_add_center(self, data: Dataset, center, closest):
        """k-means++: ``closest = min(closest, ‖x - center‖²)`` in place.

        Parameters
        ----------
        data : Dataset                                  # IN
        center : array of shape (d,)                    # IN (shifted coordinates)
        closest : array of shape (n,), X's dtype        # IN/OUT

        Returns
        -------
        float
            The new potential ``Σ w · closest``.
        """
        raise NotImplementedError

    def kpp_greedy_on_device(self, data: Dataset) -> bool:
        """Whether :meth:`kpp_greedy` runs the whole seeding for ``data`` (default: no)."""
        return False

    def kpp_greedy(self, data: Dataset, n_clusters: int, first_u: float, trial_u):
        """Greedy k-means++ in one call, where :meth:`kpp_greedy_on_device` says so: the
        same centres and rows as :func:`fastseg._init.kmeans_plusplus_core`'s loop over
        the ops below, given its uniform draws (``first_u``; ``trial_u`` of shape
        (n_clusters - 1, n_local_trials)), with no round trip to the host per centre.

        Returns
        -------
        centers : array of shape (n_clusters, n_features), shifted coordinates
        indices : ndarray of shape (n_clusters,), int64
        """
        raise NotImplementedError

    def kpp_sample(self, data: Dataset, closest, targets):
        """k-means++: indices ``i`` where the running sum of ``w · closest`` passes
        each value of ``targets`` (inverse-CDF sampling), clipped to ``n - 1``."""
        raise NotImplementedError

    def kpp_potentials(self, data: Dataset, candidates, closest, out):
        """k-means++: the potential after adding each candidate.

        Parameters
        ----------
        data : Dataset                                  # IN
        candidates : array of shape (t, d)              # IN (shifted coordinates)
        closest : array of shape (n,), X's dtype        # IN
        out : array of shape (t, n), X's dtype, or None # OUT, ``min(closest, ‖x − c‖²)``
            Row ``j`` becomes the closest-distance array if candidate ``j`` wins,
            so the winner costs no further pass over X. None (backends with
            ``kpp_keeps_trials = False``): only the potentials.

        Returns
        -------
        float64 array of shape (t,)
            ``Σ w · out[j]`` for each candidate.
        """
        raise NotImplementedError
