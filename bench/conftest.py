"""Shared data for the CPU benchmarks (pytest-benchmark; run with `make bench`)."""

import numpy as np
import pytest

N, D = 1_000_000, 16


@pytest.fixture(scope="session")
def blobs():
    """1,000,000 × 16 float32 drawn around 32 centres: clustered, like customer features."""
    rng = np.random.default_rng(0)
    means = rng.normal(0, 4, (32, D))
    return (means[rng.integers(0, 32, N)] + rng.normal(0, 1, (N, D))).astype(np.float32)
