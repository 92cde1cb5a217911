"""Features that move together (``total_spend`` and ``spend_incl_tax``): k-means counts
what they share once per copy, so one behaviour outweighs the others without anyone
having chosen it. :class:`fastseg.Segmenter` names them (:attr:`Segmentation.twins`)."""

from __future__ import annotations

import numpy as np

TWIN_R = 0.95  # |correlation| at or above which two scaled features carry one thing


def twin_features(Z, features):
    """The pairs of features whose correlation over the customers is ``TWIN_R`` or more
    in size (a mirror, -0.97, counts too).

    Parameters
    ----------
    Z : ndarray of shape (n_customers, n_features), the features as k-means sees them
        (transformed and scaled)
    features : list of str

    Returns
    -------
    list of (str, str, float)
        ``(feature, feature, correlation)``, strongest first; empty when none.
    """
    if Z.shape[1] < 2 or Z.shape[0] < 3:
        return []
    with np.errstate(invalid="ignore", divide="ignore"):
        r = np.corrcoef(Z, rowvar=False)
    i, j = np.triu_indices(len(features), 1)
    found = [(features[a], features[b], float(r[a, b])) for a, b in zip(i, j) if abs(r[a, b]) >= TWIN_R]
    return sorted(found, key=lambda t: -abs(t[2]))


def twins_text(twins):
    """The sentence naming the twin features and what to do about them."""
    pairs = "; ".join(f"{a} and {b} ({r:+.2f})" for a, b, r in twins)
    return (f"Features that move together (correlation {TWIN_R} or more in size): {pairs}. k-means weighs what "
            "each pair shares twice, over the other features; keep one of each pair (features=[...], --features) "
            "unless that weight is meant.")
