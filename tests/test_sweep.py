"""Sweeps: an optimisation, not an approximation; metrics; knee; choice of k."""

import numpy as np
import pandas as pd
import pytest
from sklearn import cluster as skc
from sklearn.datasets import load_digits, load_iris, load_wine, make_blobs
from sklearn.metrics import calinski_harabasz_score, davies_bouldin_score, silhouette_score
from sklearn.preprocessing import StandardScaler

import fastseg
from fastseg import KMeans, sweep
from fastseg.metrics import score_labels, stratified_sample
from fastseg.sweep import find_knee, sample_indices

LOADERS = {"iris": load_iris, "wine": load_wine, "digits": load_digits}


def _std(name):
    return StandardScaler().fit_transform(LOADERS[name]().data)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("n_init", [1, 2])
def test_each_k_equals_a_separate_fit_from_the_same_seeds(dtype, n_init):
    X = _std("wine").astype(dtype)
    res = sweep(X, k=range(2, 9), n_init=n_init, random_state=0, metrics=("inertia",), device="cpu")
    for k in res.ks:
        alone = KMeans(k, init=res.init_centers[k], n_init=1, device="cpu").fit(X)
        np.testing.assert_array_equal(res.labels[k], alone.labels_)
        assert res.inertia[k] == pytest.approx(alone.inertia_, rel=1e-12 if dtype == np.float64 else 1e-6)
        assert res.n_iter[k] == alone.n_iter_
        np.testing.assert_allclose(res.centers[k], alone.cluster_centers_, rtol=1e-6, atol=1e-6)


def test_seeds_are_prefixes_of_one_kmeanspp_sequence():
    X = _std("iris")
    res = sweep(X, k=[2, 4, 7], random_state=3, metrics=(), device="cpu")
    np.testing.assert_allclose(res.init_centers[4][:2], res.init_centers[2])
    np.testing.assert_allclose(res.init_centers[7][:4], res.init_centers[4])
    full, _ = fastseg.kmeans_plusplus(X, 7, random_state=3)
    np.testing.assert_allclose(res.init_centers[7], full, atol=1e-12)


def test_independent_seeds_and_random_init():
    X = _std("iris")
    a = sweep(X, k=[3, 5], random_state=1, independent_seeds=True, metrics=(), device="cpu")
    assert not np.allclose(a.init_centers[5][:3], a.init_centers[3])
    b = sweep(X, k=[3, 5], init="random", n_init=3, random_state=1, metrics=(), device="cpu")
    for k in b.ks:
        alone = KMeans(k, init=b.init_centers[k], device="cpu").fit(X)
        assert b.inertia[k] == pytest.approx(alone.inertia_, rel=1e-12)


@pytest.mark.parametrize("name", list(LOADERS))
def test_per_k_inertia_matches_sklearn_from_same_seeds(name):
    X = _std(name)
    res = sweep(X, k=range(2, 11), random_state=0, metrics=("inertia",), device="cpu")
    for k in res.ks:
        ref = skc.KMeans(k, init=res.init_centers[k], n_init=1).fit(X)
        assert res.inertia[k] == pytest.approx(ref.inertia_, rel=1e-6)
        np.testing.assert_array_equal(res.labels[k], ref.labels_)


@pytest.mark.parametrize("seed", [7, 11, 12])
def test_blobs_best_k_is_six(seed):
    X, _ = make_blobs(n_samples=3000, centers=6, n_features=4, cluster_std=1.0, random_state=seed)
    res = sweep(X, k=range(2, 13), random_state=0, device="cpu")
    assert res.best_k == 6
    assert len(res.evidence["agree"]) >= 3
    names = {"knee": "knee", "silhouette": "silhouette", "calinski_harabasz": "Calinski–Harabasz",
             "davies_bouldin": "Davies–Bouldin"}  # the analyst's names in the text, not the keys
    assert res.best_method.startswith(f"{len(res.evidence['agree'])} of {len(res.evidence['picks'])} methods agree "
                                      f"({', '.join(names[m] for m in res.evidence['agree'])})")


def test_the_methods_that_disagree_say_which_k_they_chose():
    from fastseg.sweep import Knee, choose_k

    ks = [2, 3, 4, 5]
    metrics = {"silhouette": {2: 0.5, 3: 0.4, 4: 0.3, 5: 0.45}, "calinski_harabasz": {2: 9.0, 3: 8, 4: 7, 5: 8.5},
               "davies_bouldin": {2: 0.7, 3: 0.9, 4: 0.95, 5: 0.8}}
    best, method, ev = choose_k(ks, None, metrics, Knee(5, "farthest below the chord", 0.4))
    assert best == 2 and ev["agree"] == ["silhouette", "calinski_harabasz", "davies_bouldin"]
    assert method == ("3 of 4 methods agree (silhouette, Calinski–Harabasz, Davies–Bouldin); "
                      "the knee says k = 5")
    metrics["davies_bouldin"] = {2: 0.9, 3: 0.6, 4: 0.95, 5: 0.8}
    best, method, _ = choose_k(ks, None, metrics, Knee(5, "farthest below the chord", 0.4))
    assert best == 2 and method == ("2 of 4 methods agree (silhouette, Calinski–Harabasz); the knee says k = 5, "
                                    "Davies–Bouldin says k = 3")
    best, method, _ = choose_k(ks, None, {"silhouette": metrics["silhouette"]}, Knee(2, "", 0.4))
    assert best == 2 and method == "2 of 2 methods agree (knee, silhouette)"
    best, method, _ = choose_k(ks, None, {"davies_bouldin": metrics["davies_bouldin"]}, Knee(None, "no knee", 0))
    assert best == 3 and method == "Davies–Bouldin, the only method with an answer"  # not "1 of 1 methods agree"


def test_kneedle_finds_the_kink():
    ks = np.arange(2, 13)
    curve = np.r_[np.linspace(100, 20, 4), np.linspace(1.0, 0.5, 7)]  # kink at k = 6
    knee = find_knee(ks, curve)
    assert knee.k == 6 and knee.strength > 0.5


def test_well_separated_blobs_vote_over_kneedle():
    # Kneedle alone puts this knee at 5 (the last drop is small once normalised); the
    # metrics outvote it and best_k is the true 6, with the evidence showing both.
    X, _ = make_blobs(n_samples=3000, centers=6, n_features=4, cluster_std=0.3, center_box=(-20, 20),
                      random_state=1)
    res = sweep(X, k=range(2, 13), random_state=0, device="cpu")
    assert res.best_k == 6
    assert res.evidence["picks"]["silhouette"] == 6


@pytest.mark.parametrize("name", list(LOADERS))
def test_metrics_equal_sklearn_on_real_data(name):
    X = _std(name)
    res = sweep(X, k=[2, 4, 7], random_state=0, silhouette_sample_size=10_000, device="cpu")
    for k in res.ks:
        lab = res.labels[k]
        assert res.metrics["calinski_harabasz"][k] == pytest.approx(calinski_harabasz_score(X, lab), rel=1e-6)
        assert res.metrics["davies_bouldin"][k] == pytest.approx(davies_bouldin_score(X, lab), rel=1e-6)
        assert res.metrics["silhouette"][k] == pytest.approx(silhouette_score(X, lab), rel=1e-6)
        assert res.silhouette_n[k] == len(X)


def test_score_labels_float32_and_weights():
    X = _std("wine").astype(np.float32)
    lab = KMeans(4, random_state=0).fit(X).labels_
    r = score_labels(X, lab, silhouette_sample_size=10_000)
    X64 = X.astype(np.float64)
    assert r["calinski_harabasz"] == pytest.approx(calinski_harabasz_score(X64, lab), rel=1e-5)
    assert r["silhouette"] == pytest.approx(silhouette_score(X64, lab), rel=1e-5)
    # integer weights act as repeated rows
    w = np.random.default_rng(0).integers(1, 3, len(X))
    rw = score_labels(X64, lab, sample_weight=w, silhouette_sample_size=10_000)
    Xr, lr = np.repeat(X64, w, axis=0), np.repeat(lab, w)
    assert rw["calinski_harabasz"] == pytest.approx(calinski_harabasz_score(Xr, lr), rel=1e-9)
    assert rw["davies_bouldin"] == pytest.approx(davies_bouldin_score(Xr, lr), rel=1e-9)


def test_sampled_silhouette_is_stratified_and_close():
    X, _ = make_blobs(n_samples=20_000, centers=[[0, 0], [6, 0], [0, 6]], cluster_std=[1.0, 1.0, 1.0],
                      random_state=0)
    X = np.vstack([X, np.random.default_rng(0).normal([20, 20], 1.0, (300, 2))])  # a small cluster
    lab = KMeans(4, random_state=0).fit(X).labels_
    idx = stratified_sample(lab, 4, 2000, random_state=0)
    share = np.bincount(lab[idx], minlength=4) / len(idx)
    np.testing.assert_allclose(share, np.bincount(lab, minlength=4) / len(lab), atol=0.01)
    r = score_labels(X, lab, silhouette_sample_size=2000)
    assert abs(r["silhouette_n"] - 2000) <= 4
    exact = silhouette_score(X, lab)
    assert abs(r["silhouette"] - exact) < 0.02


def test_no_knee_on_a_straight_line():
    knee = find_knee(range(2, 12), np.linspace(100, 10, 10))
    assert knee.k is None and "chord" in knee.reason
    assert find_knee([2, 3], [5, 1]).k is None
    assert find_knee(range(2, 8), [3.0] * 6).reason == "the curve is flat"


def test_structureless_data_sweeps_without_warnings(recwarn):
    X = np.random.default_rng(0).uniform(size=(500, 2))
    res = sweep(X, k=range(2, 9), random_state=0, device="cpu")
    assert set(res.evidence["picks"]) == {"knee", "silhouette", "calinski_harabasz", "davies_bouldin"}
    assert res.best_k in res.evidence["picks"].values()
    assert len(recwarn) == 0


def test_no_method_can_choose_reports_why():
    X = np.random.default_rng(0).normal(size=(50, 2))
    res = sweep(X, k=[3], random_state=0, metrics=("inertia",), device="cpu")
    assert res.best_k is None and "at least 3 values of k" in res.best_method


def test_progress_and_frame_and_kmeans_and_plot(tmp_path):
    X = _std("wine")
    calls = []
    res = sweep(pd.DataFrame(X, columns=[f"f{i}" for i in range(X.shape[1])]), k=range(2, 6),
                random_state=0, progress=calls.append, device="cpu")
    assert calls and calls[-1]["active"] == 0 and calls[-1]["converged"] == calls[-1]["total"] == 4
    assert [c["iteration"] for c in calls] == list(range(1, len(calls) + 1))
    df = res.to_frame()
    assert list(df.index) == [2, 3, 4, 5]
    assert {"inertia", "n_iter", "seconds", "silhouette", "calinski_harabasz", "davies_bouldin"} <= set(df.columns)
    km = res.kmeans(4)
    np.testing.assert_array_equal(km.predict(pd.DataFrame(X, columns=[f"f{i}" for i in range(X.shape[1])])),
                                  res.labels[4])
    with pytest.raises(ValueError, match="k=9 was not swept"):
        res.kmeans(9)
    import matplotlib

    matplotlib.use("Agg")
    fig = res.plot()
    fig.savefig(tmp_path / "elbow.png")
    assert (tmp_path / "elbow.png").stat().st_size > 5000
    ax = fig.axes[0]
    assert ax.get_xlabel() and ax.get_ylabel() and ax.get_title()


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"k": []}, "empty"),
        ({"k": [0, 2]}, ">= 1"),
        ({"k": "abc"}, "iterable of ints"),
        ({"k": [2, 500]}, "n_samples=178 should be >= the largest k=500"),
        ({"metrics": ("inertia", "gap")}, r"Unknown metric\(s\) \['gap'\]"),
        ({"n_init": 0}, "'n_init' parameter of sweep"),
        ({"init": "kmeans"}, "'init' parameter of sweep"),
        ({"progress": 3}, "callable"),
        ({"sample": 0}, "'sample' parameter of sweep"),
        ({"k": [2, 30], "sample": 20}, r"sample' parameter of sweep \(20 rows\) must be at least the largest k \(30\)"),
        ({"sample": 50, "refine": "no"}, "'refine' parameter of sweep must be True or False"),
    ],
)
def test_sweep_errors(kwargs, match):
    with pytest.raises(ValueError, match=match):
        sweep(_std("wine"), **kwargs)


def _blobs(n=6000, seed=0, dtype=np.float64):
    X, _ = make_blobs(n, n_features=5, centers=7, cluster_std=1.5, random_state=seed)
    return X.astype(dtype)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_sampled_sweep_refined_equals_a_separate_fit_from_its_seeds(dtype):
    """refine=True: each k is a Lloyd fit on every row, from the sample's centres."""
    X = _blobs(dtype=dtype)
    told = []
    res = sweep(X, k=range(2, 10), n_init=2, random_state=0, sample=500, metrics=("inertia",), device="cpu",
                progress=told.append)
    assert res.sample["rows"] == 500 and res.sample["refined"]
    stages = [t["stage"] for t in told]
    assert stages == sorted(stages, reverse=True) and set(stages) == {"sample", "every row"}
    assert told[stages.index("every row") - 1]["total"] == 16 and told[-1]["total"] == 8  # restarts, then best
    for k in res.ks:
        alone = KMeans(k, init=res.init_centers[k], n_init=1, device="cpu").fit(X)
        np.testing.assert_array_equal(res.labels[k], alone.labels_)
        assert res.inertia[k] == pytest.approx(alone.inertia_, rel=1e-12 if dtype == np.float64 else 1e-6)
        assert res.n_iter[k] == alone.n_iter_
        assert res.labels[k].shape == (len(X),)


def _sample_rows(n, m, seed, w=None):
    """The rows sweep(sample=m, random_state=seed) draws (among those of positive weight),
    and the generator after the draw."""
    rs = np.random.RandomState(seed)
    pool = np.arange(n) if w is None else np.flatnonzero(w > 0)
    return pool[sample_indices(rs, len(pool), m)], rs


@pytest.mark.parametrize("weighted", [None, "positive", "some zero"])
def test_sampled_sweep_unrefined_is_the_samples_sweep_labelling_every_row(weighted):
    """refine=False: the centres are those of a sweep of the sample itself (weights travel
    with their rows; rows of zero weight are never drawn); labels, inertia and metrics
    count every row."""
    X = _blobs(seed=1)
    w = np.random.default_rng(5).uniform(0.2, 3.0, len(X)) if weighted else None
    if weighted == "some zero":
        w[np.random.default_rng(6).random(len(X)) < 0.6] = 0.0
    res = sweep(X, k=[3, 5, 8], random_state=4, sample=700, refine=False, sample_weight=w,
                metrics=("inertia", "calinski_harabasz"), device="cpu")
    idx, rs = _sample_rows(len(X), 700, 4, w)
    if w is not None:
        assert np.all(w[idx] > 0)
    alone = sweep(X[idx], k=[3, 5, 8], random_state=rs, sample_weight=None if w is None else w[idx],
                  metrics=("inertia",), device="cpu")
    assert res.sample == dict(rows=700, refined=False, n_iter=alone.n_iter)
    for k in res.ks:
        np.testing.assert_allclose(res.centers[k], alone.centers[k], rtol=1e-9, atol=1e-9)
        d2 = ((X[:, None, :] - res.centers[k][None]) ** 2).sum(-1)
        np.testing.assert_array_equal(res.labels[k], d2.argmin(1))
        ww = np.ones(len(X)) if w is None else w
        assert res.inertia[k] == pytest.approx(float((d2.min(1) * ww).sum()), rel=1e-10)
        if weighted is None:
            assert res.metrics["calinski_harabasz"][k] == pytest.approx(
                calinski_harabasz_score(X, res.labels[k]), rel=1e-6)


def test_sample_of_every_row_or_more_is_no_sample():
    X = _blobs(n=400)
    plain = sweep(X, k=range(2, 6), random_state=2, metrics=("inertia",), device="cpu")
    for m in (400, 10_000):
        res = sweep(X, k=range(2, 6), random_state=2, sample=m, metrics=("inertia",), device="cpu")
        assert res.sample is None
        assert res.inertia == plain.inertia
        for k in res.ks:
            np.testing.assert_array_equal(res.labels[k], plain.labels[k])


def test_sample_larger_than_the_rows_of_positive_weight_takes_them_all():
    """Zero-weight rows add nothing to a fit: with fewer rows of positive weight than the
    sample, the sample is all of them (the result is then the whole-data fit's); with fewer
    than the largest k, no sample is drawn."""
    X = _blobs(n=3000, seed=2)
    w = np.zeros(len(X))
    w[np.random.default_rng(0).choice(len(X), 40, replace=False)] = 1.0
    res = sweep(X, k=range(2, 6), random_state=1, sample=500, refine=False, sample_weight=w,
                metrics=("inertia",), device="cpu")
    assert res.sample["rows"] == 40
    for k in res.ks:  # the positive rows' own fit, from the same seeds
        alone = KMeans(k, init=res.init_centers[k], device="cpu").fit(X[w > 0])
        np.testing.assert_allclose(res.centers[k], alone.cluster_centers_, rtol=1e-12, atol=1e-12)
        assert res.inertia[k] == pytest.approx(alone.inertia_, rel=1e-12)
    few = np.zeros(len(X))
    few[:3] = 1.0
    res = sweep(X, k=range(2, 6), random_state=1, sample=500, sample_weight=few, metrics=("inertia",), device="cpu")
    assert res.sample is None


@pytest.mark.parametrize("seed", [7, 11, 12])
def test_sampled_sweep_finds_the_same_k_at_a_fraction_of_the_passes(seed):
    """On clear blobs a sample of 1,000 of 20,000 rows picks the same k; refined, the
    full-data fits need fewer iterations than from whole-data seeds, and land as low."""
    X, _ = make_blobs(20_000, n_features=4, centers=6, cluster_std=1.0, random_state=seed)
    full = sweep(X, k=range(2, 11), random_state=0, device="cpu")
    quick = sweep(X, k=range(2, 11), random_state=0, sample=1000, refine=False, device="cpu")
    refined = sweep(X, k=range(2, 11), random_state=0, sample=1000, device="cpu")
    assert full.best_k == quick.best_k == refined.best_k == 6
    assert sum(refined.n_iter.values()) < sum(full.n_iter.values())
    assert refined.inertia[6] == pytest.approx(full.inertia[6], rel=1e-3)
    assert quick.inertia[6] <= 1.01 * full.inertia[6]
    assert quick.silhouette_n[6] > 1000  # scored on every row's label, not on the sample's


@pytest.mark.parametrize("n, m", [(10, 3), (10, 8), (7, 7), (1000, 1)])
def test_sample_indices_are_distinct_sorted_and_uniform(n, m):
    rs = np.random.RandomState(0)
    counts = np.zeros(n)
    trials = 4000
    for _ in range(trials):
        idx = sample_indices(rs, n, m)
        assert len(idx) == m and len(np.unique(idx)) == m
        assert np.all(np.diff(idx) > 0) and idx[0] >= 0 and idx[-1] < n
        counts[idx] += 1
    # every row equally likely: m / n of the draws, within 5 binomial standard deviations
    p = m / n
    assert np.all(np.abs(counts / trials - p) <= 5 * np.sqrt(p * (1 - p) / trials) + 1e-12)


def test_sample_indices_cost_the_sample_not_the_rows():
    """A permutation of all rows would need terabytes here."""
    idx = sample_indices(np.random.RandomState(1), 10**12, 5000)
    assert len(np.unique(idx)) == 5000 and idx.max() < 10**12


def test_degenerate_labellings_follow_scikit_learns_conventions():
    from sklearn import metrics as skm

    # every cluster a single repeated point: no within-cluster spread at all
    X = np.repeat(np.array([[0.0, 0.0], [3.0, 1.0], [-2.0, 5.0]]), [4, 3, 5], axis=0)
    lab = np.repeat([0, 1, 2], [4, 3, 5])
    r = score_labels(X, lab, device="cpu")
    assert r["calinski_harabasz"] == skm.calinski_harabasz_score(X, lab) == 1.0
    assert r["davies_bouldin"] == skm.davies_bouldin_score(X, lab) == 0.0
    assert r["silhouette"] == pytest.approx(skm.silhouette_score(X, lab)) and r["silhouette"] == pytest.approx(1.0)
    # one cluster: scikit-learn refuses; fastseg says NaN (a sweep goes on to the other k)
    one = score_labels(X, np.zeros(len(X), dtype=int), device="cpu")
    assert np.isnan(one["calinski_harabasz"]) and np.isnan(one["davies_bouldin"]) and np.isnan(one["silhouette"])
    # a label with no rows is no cluster: the same scores as the labels renumbered
    gap = score_labels(X, np.where(lab == 2, 5, lab), device="cpu")
    for m in ("calinski_harabasz", "davies_bouldin", "silhouette"):
        assert gap[m] == pytest.approx(r[m])
    with pytest.raises(ValueError, match="labels must be 12 integers, one per row of X; got shape \\(11,\\)"):
        score_labels(X, lab[:11], device="cpu")
    with pytest.raises(ValueError, match="labels must be >= 0"):
        score_labels(X, lab - 1, device="cpu")
