"""fastseg's CPU engine and scikit-learn, timed side by side in one run.

Each group holds the same task for both libraries on the same data, threads and
initial centres; pytest-benchmark prints them together. ``bench/cpu_compare.py``
runs the same tasks interleaved and prints the ratios that bench/RESULTS.md quotes.
"""

import numpy as np
import pytest
from sklearn import cluster as skc

import fastseg

ITERS = 20


def _lloyd(lib, X, init):
    k = len(init)
    if lib == "sklearn":
        return skc.KMeans(k, init=init, n_init=1, max_iter=ITERS, tol=0).fit(X)
    return fastseg.KMeans(k, init=init, n_init=1, max_iter=ITERS, tol=0, device="cpu").fit(X)


@pytest.mark.parametrize("lib", ["sklearn", "fastseg"])
@pytest.mark.parametrize("k", [8, 64])
def test_lloyd_20_iterations(benchmark, blobs, lib, k):
    benchmark.group = f"lloyd k={k} (20 iterations, n=1e6, d=16)"
    init = blobs[np.random.default_rng(k).choice(len(blobs), k, replace=False)]
    km = benchmark.pedantic(_lloyd, args=(lib, blobs, init), rounds=3, warmup_rounds=1)
    benchmark.extra_info["ms_per_iteration"] = benchmark.stats["median"] * 1e3 / km.n_iter_
    benchmark.extra_info["inertia"] = km.inertia_


@pytest.mark.parametrize("lib", ["sklearn", "fastseg"])
def test_kmeans_plusplus_k64(benchmark, blobs, lib):
    benchmark.group = "k-means++ seeding k=64 (n=1e6, d=16)"
    seed = skc.kmeans_plusplus if lib == "sklearn" else fastseg.kmeans_plusplus
    centers, _ = benchmark.pedantic(seed, args=(blobs, 64), kwargs={"random_state": 0}, rounds=3)
    assert centers.shape == (64, 16)
