"""scikit-learn's own estimator contract, run over fastseg.KMeans."""

from sklearn.utils.estimator_checks import parametrize_with_checks

from fastseg import KMeans

# Each expected failure carries its reason; at most three are allowed.
_SHUFFLED_WEIGHTS = (
    "The check shuffles the weighted rows but not the repeated ones. k-means++ "
    "draws seeds by position along the cumulative weight, so the two fits start "
    "from different seeds and may number their clusters differently; with the "
    "same row order, weights equal repetitions exactly (tests/test_kmeans_properties.py, "
    "and for sparse data tests/test_kmeans_sparse.py)."
)
EXPECTED_FAILURES = {
    "check_sample_weight_equivalence_on_dense_data": _SHUFFLED_WEIGHTS,
    "check_sample_weight_equivalence_on_sparse_data": _SHUFFLED_WEIGHTS,
}


@parametrize_with_checks(
    [KMeans(n_clusters=3, random_state=0, device="cpu")],
    expected_failed_checks=lambda est: EXPECTED_FAILURES,
)
def test_sklearn_compatible(estimator, check):
    check(estimator)
