"""Segment stability: real groups score 1, a group k-means had to cut in two scores low."""

import numpy as np
import pandas as pd
import pytest
from sklearn.datasets import make_blobs

from fastseg import KMeans, Segmenter, sweep
from fastseg.stability import (STABLE, best_jaccard, k_and_segment_stability, k_stability, segment_stability,
                               stable_pick)

CENTRES = [[0, 0], [10, 0], [0, 10]]


def _blobs(n=3_000, seed=0):
    X, _ = make_blobs(n, centers=CENTRES, cluster_std=1.0, random_state=seed)
    return X


@pytest.mark.parametrize("seed", [0, 1])
def test_separate_groups_are_stable_and_a_cut_group_is_not(seed):
    X = _blobs(seed=seed)
    three = np.asarray(KMeans(3, n_init=3, random_state=0).fit(X).labels_)
    st = segment_stability(X, three, 3, random_state=seed)
    assert (st["stability"] > 0.99).all() and (st["dissolved"] == 0).all()
    # k = 4 must cut one round blob in two, along no particular line: those halves are unstable
    four = np.asarray(KMeans(4, n_init=3, random_state=0).fit(X).labels_)
    st = segment_stability(X, four, 4, random_state=seed)
    halves = [s for s in range(4) if np.bincount(four, minlength=4)[s] < 800]
    assert len(halves) == 2
    assert (st.loc[halves, "stability"] < STABLE).all(), st
    assert st["stability"].drop(halves).min() > st.loc[halves, "stability"].max()


def test_best_jaccard_by_hand():
    rng = np.random.default_rng(0)
    for k in (1, 2, 5):
        a, b = rng.integers(0, k, 300), rng.integers(0, k, 300)
        a[a == k - 1] = 0 if k > 1 else a[a == k - 1]  # segment k-1 has no row (k > 1)
        got = best_jaccard(a, b, k)
        for s in range(k):
            A = set(np.flatnonzero(a == s))
            if not A:
                assert np.isnan(got[s])
                continue
            want = max(len(A & set(np.flatnonzero(b == c))) / len(A | set(np.flatnonzero(b == c))) for c in range(k))
            assert got[s] == pytest.approx(want)


def test_same_seed_same_answer_and_one_segment_is_stable():
    X = _blobs(1_000)
    lab = np.asarray(KMeans(4, random_state=0).fit(X).labels_)
    pd.testing.assert_frame_equal(segment_stability(X, lab, 4, random_state=5),
                                  segment_stability(X, lab, 4, random_state=5))
    one = segment_stability(X, np.zeros(len(X), dtype=int), 1, n_resamples=3)
    assert one.loc[0].tolist() == [1.0, 0.0]


def test_a_segment_in_no_resample_has_no_score_and_no_warning():
    import warnings

    from fastseg.stability import _summary

    scores = np.array([[0.9, np.nan, 0.4], [0.7, np.nan, np.nan]])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        got = _summary(scores, pd.RangeIndex(3))
    assert got["stability"].tolist()[0] == pytest.approx(0.8) and np.isnan(got.loc[1, "stability"])
    assert got.loc[2, "stability"] == pytest.approx(0.4) and got["dissolved"].tolist() == [0.0, 0.0, 1.0]


def test_a_segment_missing_from_some_resamples_scores_on_the_others():
    X = np.vstack([_blobs(400), [[50.0, 50.0]]])  # one far customer: its own segment
    lab = np.asarray(KMeans(4, n_init=3, random_state=0).fit(X).labels_)
    lone = int(lab[-1])
    assert (lab == lone).sum() == 1
    st = segment_stability(X, lab, 4, fraction=0.5, n_resamples=8, random_state=0)
    assert st.loc[lone, "stability"] == 1.0  # whenever drawn, it is found alone again


def test_a_resample_with_fewer_distinct_customers_than_k_is_scored_without_a_warning():
    import warnings

    X = np.array([[2.0]] * 8 + [[3.0]])  # a subset of 2s alone holds one segment, not two
    lab = (X[:, 0] == 3.0).astype(int)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        st = segment_stability(X, lab, 2, fraction=0.6, n_resamples=12, random_state=0)
    # the 2s are found whole with or without the 3; the 3 alone, whenever it is drawn
    assert st["stability"].tolist() == [1.0, 1.0] and st["dissolved"].tolist() == [0.0, 0.0]


@pytest.mark.parametrize("kwargs, match", [
    (dict(n_resamples=0), "n_resamples must be an int >= 1"),
    (dict(n_resamples=-1), "n_resamples must be an int >= 1"),
    (dict(max_rows=0), "max_rows must be an int >= 1"),
    (dict(n_clusters=1), r"labels must be segment numbers 0 to 0 \(n_clusters=1\); they run from 0 to 1"),
    (dict(fraction=0.0), r"fraction must be in \(0, 1\]"),
    (dict(fraction=1.5), r"fraction must be in \(0, 1\]"),
])
def test_bad_parameters(kwargs, match):
    with pytest.raises(ValueError, match=match):
        segment_stability(np.zeros((4, 1)), [0, 0, 1, 1], **{"n_clusters": 2, **kwargs})


def test_segmenter_reports_stability_and_can_skip_it():
    X = _blobs(1_500)
    df = pd.DataFrame(X, columns=["a", "b"])
    seg = Segmenter(k=4, transform=None, random_state=0).fit(df)
    assert list(seg.stability.index) == list(range(4)) and seg.params["stability"] == 10
    unstable = seg.stability.index[seg.stability["stability"] < STABLE]
    assert len(unstable) == 2
    text = seg.summary()
    assert "2 of 4 segments stable" in text
    for s in range(4):
        line = next(t for t in text.splitlines() if t.startswith(f"  {s}: {seg.names[s]} —"))
        assert ("unstable (Jaccard" in line) == (s in unstable)
    none = Segmenter(k=4, transform=None, random_state=0, stability=0).fit(df)
    assert none.stability is None and "stable" not in none.summary()
    assert (none.labels["segment"] == seg.labels["segment"]).all()  # the refits do not touch the fit
    with pytest.raises(ValueError, match="stability must be a whole number of refits >= 0"):
        Segmenter(stability=-1).fit(df)


@pytest.mark.parametrize("seed", [0, 1])
def test_k_stability_peaks_at_the_number_of_groups(seed):
    # four groups on a square: k = 2 and 3 must merge them along no particular line, k > 4 cut one
    X, _ = make_blobs(3_000, centers=[[0, 0], [10, 0], [0, 10], [10, 10]], cluster_std=1.0, random_state=seed)
    res = sweep(X, k=range(2, 8), n_init=3, random_state=seed)
    st = k_stability(X, res, random_state=seed)
    assert list(st.index) == list(range(2, 8))
    assert st.loc[4, "stability"] > 0.99 and st.loc[4, "stable_segments"] == 4
    assert (st["stability"].drop(4) < 0.9).all(), st
    assert (st["least_stable"] <= st["stability"] + 1e-12).all()
    pd.testing.assert_frame_equal(st, k_stability(X, res, random_state=seed))
    # at k = 4 every refit finds the four groups: segment_stability of that k's labels agrees
    one = segment_stability(X, res.labels[4], 4, random_state=seed, n_init=1)
    assert one["stability"].mean() == pytest.approx(st.loc[4, "stability"])


def test_with_k_auto_the_segments_stability_comes_from_the_refits_k_was_chosen_on():
    """One set of refits: the summary's count of stable segments and the k evidence agree."""
    X, _ = make_blobs(2_000, centers=[[0, 0], [6, 0], [0, 6], [6, 6], [3, 3]], cluster_std=1.2, random_state=3)
    df = pd.DataFrame(X + 20, columns=["a", "b"])
    seg = Segmenter(k_range=range(2, 8), random_state=0, stability=6).fit(df)
    k = seg.k
    Z = seg.prep.apply(df)
    table, per_k = k_and_segment_stability(Z, seg.sweep, n_resamples=6, random_state=0, device="auto")
    pd.testing.assert_frame_equal(table, seg.k_stability)
    pd.testing.assert_frame_equal(table, k_stability(Z, seg.sweep, n_resamples=6, random_state=0))
    # the sweep's numbering, renumbered by size as the segments are
    old = np.asarray(seg.sweep.labels[k])
    new = seg.labels["segment"].to_numpy()
    to_old = {s: int(np.unique(old[new == s])[0]) for s in range(k)}
    for s in range(k):
        assert seg.stability.loc[s].tolist() == per_k[k].loc[to_old[s]].tolist()
    assert seg.k_stability.loc[k, "stable_segments"] == int((seg.stability["stability"] >= STABLE).sum())
    assert seg.k_stability.loc[k, "least_stable"] == seg.stability["stability"].min()
    assert f"{seg.k_stability.loc[k, 'stable_segments']} of {k} segments stable" in seg.summary()
    # on a sample, or with k given, the segments are refitted as before
    given = Segmenter(k=k, random_state=0, stability=6).fit(df)
    pd.testing.assert_frame_equal(given.stability, segment_stability(
        given.prep.apply(df), given.labels["segment"].to_numpy(), k, n_resamples=6, n_init=3, random_state=0))
    sampled = Segmenter(k_range=range(2, 8), random_state=0, stability=6, sample=800).fit(df)
    pd.testing.assert_frame_equal(sampled.stability, segment_stability(
        sampled.prep.apply(df), sampled.labels["segment"].to_numpy(), sampled.k, n_resamples=6, n_init=3, random_state=0))


def _evidence(**picks):
    from types import SimpleNamespace

    return SimpleNamespace(evidence={"picks": picks})


def _stability(least):
    ks = sorted(least)
    return pd.DataFrame({"stability": [min(1.0, least[k] + 0.05) for k in ks],
                         "least_stable": [least[k] for k in ks]}, index=pd.Index(ks, name="k"))


def test_stable_pick_takes_the_largest_pick_whose_segments_are_all_stable():
    st = _stability({2: 0.99, 3: 0.9, 5: 0.8, 8: 0.6})
    k, why = stable_pick(_evidence(knee=5, silhouette=2, calinski_harabasz=8, davies_bouldin=5), st)
    assert k == 5  # 8 has a segment that dissolves; 5 is the most detailed stable proposal
    assert why == ("knee and Davies–Bouldin pick 5, the largest pick whose segments are all stable (least stable "
                   "0.80 in refits on subsets); silhouette picks 2 (0.99); Calinski–Harabasz picks 8 (0.60)")
    # a mean over the segments would pass 8 (0.65): every segment must be stable
    assert stable_pick(_evidence(knee=8), st)[0] is None
    k, why = stable_pick(_evidence(knee=8, silhouette=2), _stability({2: 0.7, 8: 0.74}))
    assert k is None and why == ("no method's pick has every segment stable, >= 0.75 (least stable segment: knee 8 "
                                 "(0.74), silhouette 2 (0.70))")
    assert stable_pick(_evidence(), st)[0] is None
    assert stable_pick(_evidence(knee=8), st, threshold=0.5)[0] == 8


def _five_groups_two_close():
    # five groups, two of them close: silhouette and Davies–Bouldin see 4, and the fifth group is real
    centres = [[0, 0], [10, 0], [0, 10], [10, 10], [13.5, 10]]
    X, _ = make_blobs([400, 400, 400, 300, 300], centers=centres, cluster_std=1.0, random_state=3)
    return pd.DataFrame(X, columns=["a", "b"])


def test_segmenter_chooses_k_by_the_stable_pick_else_the_vote(monkeypatch):
    df = _five_groups_two_close()
    seg = Segmenter(transform=None, k_range=range(2, 9), random_state=0).fit(df)
    st = seg.k_stability
    assert list(st.index) == list(range(2, 9)) and st["least_stable"].between(0, 1).all()
    picks = seg.sweep.evidence["picks"]
    stable = [k for k in picks.values() if st.loc[k, "least_stable"] >= STABLE]
    assert seg.k == max(stable) and "the largest pick whose segments are all stable" in seg.k_reason
    from fastseg.report import render

    assert "<th>least stable</th>" in render(seg)  # the evidence beside the sweep's table
    # without refits, or when no pick is stable, the vote decides, and says why
    plain = Segmenter(transform=None, k_range=range(2, 9), random_state=0, stability=0).fit(df)
    assert plain.k == plain.sweep.best_k and plain.k_stability is None and "methods agree" in plain.k_reason
    assert seg.k == 5 and plain.k == 4  # here the vote merges the two close groups; the stable pick keeps them
    monkeypatch.setattr("fastseg.segment.stable_pick", lambda sw, stab: (None, "no method's pick has every segment"))
    voted = Segmenter(transform=None, k_range=range(2, 9), random_state=0).fit(df)
    assert voted.k == voted.sweep.best_k and voted.k_reason.endswith("; no method's pick has every segment")


def test_the_elbow_marks_the_k_chosen_and_the_vote_apart():
    import matplotlib.pyplot as plt

    from fastseg import plots

    seg = Segmenter(transform=None, k_range=range(2, 9), random_state=0).fit(_five_groups_two_close())
    assert seg.k == 5 and seg.sweep.best_k == 4  # as in the test above

    def drawn(fig):
        ax = fig.axes[0]
        lines = {ln.get_label(): set(ln.get_xdata()) for ln in ax.lines if ln.get_label().startswith(("chosen", "the"))}
        plt.close(fig)
        return lines, ax.get_title()

    lines, title = drawn(plots.elbow(seg))  # the report's figure: the segments' k, not the vote's
    assert lines == {"chosen: k = 5": {5}, "the methods' vote: k = 4": {4}}
    first, second = title.split("\n")
    from fastseg.sweep import _METHOD_NAME

    def by(k):
        return ", ".join(_METHOD_NAME[m] for m, v in seg.sweep.evidence["picks"].items() if v == k)

    assert by(5) and first == f"Elbow: k = 5, the largest pick with every segment stable ({by(5)})"
    assert second == f"the methods' vote: k = 4 ({by(4)})"
    # the sweep alone marks its vote; given the same stability, the stable pick (fastseg sweep --stability --plot)
    assert drawn(seg.sweep.plot()) == ({"chosen: k = 4": {4}}, plots.elbow(seg.sweep).axes[0].get_title())
    assert drawn(seg.sweep.plot(stability=seg.k_stability)) == (lines, title)
    plt.close("all")
