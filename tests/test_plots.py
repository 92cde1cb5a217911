"""Every plot returns a Figure, draws into a given ax, and is labelled."""

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402

from fastseg import Segmenter, plots  # noqa: E402
from fastseg.datasets import mall_customers  # noqa: E402


@pytest.fixture(scope="module")
def seg():
    df = mall_customers(200, seed=0).set_index("CustomerID")
    return Segmenter(features=["Age", "Annual Income (k$)", "Spending Score (1-100)"], transform="log1p",
                     random_state=0).fit(df)  # every feature in log1p units: the axes drawn in them


PLOTS = {
    "elbow": lambda s, ax: plots.elbow(s.sweep, ax=ax),
    "sizes": lambda s, ax: plots.segment_sizes(s, ax=ax),
    "snake": lambda s, ax: plots.snake_plot(s, ax=ax),
    "importance": lambda s, ax: plots.importance_heatmap(s, ax=ax),
    "scatter_pca": lambda s, ax: plots.scatter_2d(s, ax=ax),
    "scatter_xy": lambda s, ax: plots.scatter_2d(s, "Annual Income (k$)", "Spending Score (1-100)", ax=ax),
    "silhouette": lambda s, ax: plots.silhouette_by_segment(s, ax=ax),
    "composition": lambda s, ax: plots.composition(s, "Gender", ax=ax),
}


@pytest.mark.parametrize("name", list(PLOTS))
def test_plot_returns_figure_draws_into_ax_and_is_labelled(seg, name):
    fig = PLOTS[name](seg, None)
    ax = fig.axes[0]
    assert ax.get_title() and ax.get_xlabel() and ax.get_ylabel()
    assert ax.get_legend() is not None or name in ("importance", "sizes")
    plt.close(fig)
    fig2, ax2 = plt.subplots()
    assert PLOTS[name](seg, ax2) is fig2
    plt.close(fig2)


def test_scatter_3d(seg):
    fig = plots.scatter_3d(seg)
    ax = fig.axes[0]
    assert ax.get_zlabel() == "Spending Score (1-100) (log scale)" and ax.get_title()  # log1p asked for
    plt.close(fig)
    fig2 = plt.figure()
    ax3 = fig2.add_subplot(projection="3d")
    assert plots.scatter_3d(seg, ax=ax3) is fig2
    with pytest.raises(ValueError, match="3-D Axes"):
        plots.scatter_3d(seg, ax=plt.subplots()[1])
    plt.close("all")


def test_composition_bars_are_the_shares_and_bad_columns_are_named(seg):
    fig = plots.composition(seg)  # the first described column
    ax = fig.axes[0]
    tab = seg.composition["Gender"]
    widths = np.array([p.get_width() for p in ax.patches]).reshape(tab.shape[1], tab.shape[0])
    np.testing.assert_allclose(widths.T, tab.to_numpy())
    assert ax.get_yticklabels()[-1].get_text() == "all customers"
    plt.close(fig)
    with pytest.raises(ValueError, match=r"column 'Age' is a feature: each segment's values of it are in "
                                         r"seg\.profiles and plots\.snake_plot; composition draws the categorical "
                                         r"columns described: 'Gender'"):
        plots.composition(seg, "Age")
    with pytest.raises(ValueError, match="column 'Nope' is not described; composition draws .*: 'Gender'"):
        plots.composition(seg, "Nope")
    two = Segmenter(features=["Annual Income (k$)", "Spending Score (1-100)"], k=3, random_state=0,
                    stability=0).fit(mall_customers(100, seed=0))
    assert "Age" in two.described
    with pytest.raises(ValueError, match="column 'Age' is not described by its mix of values but by its mean and "
                                         "median, in seg.profiles"):
        plots.composition(two, "Age")
    bare = Segmenter(features=["Age"], k=2, describe=None, random_state=0).fit(mall_customers(50, seed=0))
    with pytest.raises(ValueError, match="describes no categorical column"):
        plots.composition(bare)


def _tick_values(axis):
    """The original-unit values an axis's tick labels name ("1.5k" → 1500)."""
    scale = {"k": 1e3, "M": 1e6, "G": 1e9}
    out = []
    for t in axis.get_ticklabels():
        txt = t.get_text()
        out.append(float(txt[:-1]) * scale[txt[-1]] if txt[-1] in scale else float(txt))
    return np.array(out)


@pytest.mark.parametrize("transform", ["log1p", None])
def test_feature_scatters_draw_centres_where_kmeans_put_them_and_tick_in_original_units(transform):
    from fastseg import datasets, rfm

    tx = datasets.online_retail(300, seed=1)
    table = rfm(tx, customer="CustomerID", date="InvoiceDate", invoice="InvoiceNo", quantity="Quantity",
                price="UnitPrice")
    s = Segmenter(transform=transform, k=4, random_state=0).fit(table)
    feats = ["recency", "frequency", "monetary"]
    C = plots._centres_in_units(s, feats)
    # the centres in original units are the k-means centres: the pipeline maps them back
    np.testing.assert_allclose(s.prep.apply(pd.DataFrame(C, columns=feats)), s.centers[feats].to_numpy(),
                               atol=1e-9)
    if transform is None:  # no log: a converged centre is its segment's mean
        np.testing.assert_allclose(C, s.profiles[[f"{f} mean" for f in feats]].to_numpy(), rtol=1e-9)
    fig = plots.scatter_2d(s, "frequency", "monetary")
    ax = fig.axes[0]
    drawn = ax.collections[-1].get_offsets()  # the centres' markers, drawn last
    expect = np.log1p(C[:, 1:]) if transform else C[:, 1:]
    np.testing.assert_allclose(np.asarray(drawn), expect, rtol=1e-12)
    for axis, f in ((ax.xaxis, "frequency"), (ax.yaxis, "monetary")):
        v = s.data[f].to_numpy(dtype=float)
        assert axis.get_label_text() == (f"{f} (log scale)" if transform else f)
        if transform:  # ticks at the log1p of the round values their labels name, within the data
            vals = _tick_values(axis)
            assert vals.size >= 2 and v.min() <= vals.min() and vals.max() <= v.max()
            np.testing.assert_allclose(axis.get_ticklocs(), np.log1p(vals), rtol=1e-3)
    plt.close("all")


@pytest.mark.parametrize("lo,hi", [(0, 1), (0, 7), (1, 25), (18, 70), (30, 4e5), (0, 373), (0.5, 0.6), (2, 2)])
def test_log1p_ticks_are_round_values_inside_the_range(lo, hi):
    t = plots._log1p_ticks(lo, hi)
    assert t.size >= 1 and (t >= lo).all() and (t <= hi).all()
    assert np.all(np.diff(t) > 0)
    if hi >= 2 * max(lo, 1):
        assert t.size >= 2
    labels = [plots._compact(v) for v in t]
    assert len(set(labels)) == len(labels) and all(len(x) <= 4 for x in labels)


def test_elbow_takes_a_segmentation_and_names_a_metric_the_sweep_lacks(seg):
    import fastseg

    before = plt.get_fignums()
    fig = plots.elbow(seg)  # its sweep
    assert [ln.get_label() for ln in fig.axes[1].lines] == ["silhouette (higher is better)"]  # "auto": silhouette where computed
    plt.close(fig)
    fig = plots.elbow(seg, metric="davies_bouldin")
    assert [ln.get_label() for ln in fig.axes[1].lines] == ["Davies–Bouldin (lower is better)"]
    plt.close(fig)
    X = np.asarray(seg.prep.apply(seg.data))
    bare = fastseg.sweep(X, k=range(2, 5), metrics=("inertia",), random_state=0)
    fig = bare.plot()  # nothing but inertia: no second axis
    assert len(fig.axes) == 1
    plt.close(fig)
    with pytest.raises(ValueError, match=r"metric 'calinski' was not computed by this sweep; choose one of "
                                         r"'calinski_harabasz', 'davies_bouldin', 'silhouette', or None"):
        plots.elbow(seg, metric="calinski")
    given = Segmenter(features=["Age", "Annual Income (k$)"], k=3, random_state=0, stability=0).fit(
        mall_customers(100, seed=0))
    with pytest.raises(ValueError, match=r"k was given, so no sweep chose it \(seg\.sweep is None\); fit with "
                                         r"k='auto'"):
        plots.elbow(given)
    with pytest.raises(TypeError, match="elbow draws a SweepResult .* got dict"):
        plots.elbow({})
    assert plt.get_fignums() == before  # no figure left open by an error


def test_elbow_marks_the_chosen_k_and_the_knee_apart(seg):
    import dataclasses

    res = seg.sweep
    other = next(k for k in res.ks if k != res.knee.k)
    moved = dataclasses.replace(res, best_k=other, best_method="2 of 4 methods agree (x, y); the knee says k = 9")
    fig = plots.elbow(moved)
    ax = fig.axes[0]
    chosen = [ln for ln in ax.lines if ln.get_label() == f"chosen: k = {other}"]
    knee = [ln for ln in ax.lines if ln.get_label() == f"knee: k = {res.knee.k}"]
    assert len(chosen) == 1 and set(chosen[0].get_xdata()) == {other}
    assert len(knee) == 1 and list(knee[0].get_xdata()) == [res.knee.k]
    assert ax.get_title().endswith("agree (x, y)\nthe knee says k = 9")  # the dissent on its own line
    plt.close(fig)


def test_scatters_name_the_features_they_can_draw(seg):
    with pytest.raises(ValueError, match=r"scatter_2d draws the features the segments were found on \('Age', "
                                         r"'Annual Income \(k\$\)', 'Spending Score \(1-100\)'\); got 'Nope'"):
        plots.scatter_2d(seg, "Nope", "Age")
    with pytest.raises(ValueError, match=r"scatter_3d draws the features .*; got 'Gender'"):
        plots.scatter_3d(seg, ["Age", "Gender", "Annual Income (k$)"])
    plt.close("all")


def test_importance_colours_are_symmetric_in_the_ratio(seg):
    """Half the typical value is as dark a blue as double is a red (a linear scale drew
    -97% spend near white beside +400%); a cell with no ratio is grey and says n/a."""
    import copy

    fake = copy.copy(seg)
    prof = seg.profiles.copy()
    cols = [f"{f} rel. importance" for f in seg.features]
    values = np.array([-0.5, 1.0, np.nan] + [0.0] * (prof.shape[0] * len(cols) - 3))
    prof[cols] = values.reshape(prof.shape[0], len(cols))
    fake.profiles = prof
    fig = plots.importance_heatmap(fake)
    ax = fig.axes[0]
    shown = ax.images[0].get_array()
    assert shown[0, 0] == pytest.approx(-shown[0, 1]) and shown[0, 1] == pytest.approx(1.0)  # log2 of 0.5 and 2
    assert np.ma.is_masked(shown[0, 2])
    texts = [t.get_text() for t in ax.texts]
    assert texts[:3] == ["-50%", "+100%", "n/a"]
    ticks = [t.get_text() for t in fig.axes[1].get_yticklabels()]
    assert "+100%" in ticks and "-50%" in ticks and "0%" in ticks
    plt.close(fig)


@pytest.fixture(scope="module")
def wide():
    """40 features (spend in 40 categories, say): too many to draw one by one."""
    rng = np.random.default_rng(0)
    n, d = 800, 40
    X = np.exp(rng.normal(size=(n, d)) + np.repeat(rng.normal(scale=1.5, size=(4, d)), n // 4, axis=0))
    df = pd.DataFrame(X, columns=[f"category_{i}" for i in range(d)])
    return Segmenter(k=4, random_state=0, stability=0, rules=False).fit(df)


def test_many_features_draw_each_segments_most_distinctive(wide):
    z = wide.centers.abs()
    firsts = {z.loc[s].idxmax() for s in range(wide.k)}  # the feature each name starts with
    for draw, most in ((plots.snake_plot, 20), (plots.importance_heatmap, 12)):
        fig = draw(wide)
        ax = fig.axes[0]
        ticks = [t.get_text() for t in ax.get_xticklabels()]
        assert len(ticks) == most and firsts <= set(ticks), (draw.__name__, ticks)
        assert ticks == sorted(ticks, key=lambda c: int(c.split("_")[1]))  # in the table's order
        assert f"{most} of 40 features" in ax.get_title()
        assert fig.get_size_inches()[0] <= 16  # was 67 inches wide for the heatmap
        plt.close(fig)
    fig = plots.snake_plot(wide, max_features=50)
    assert len(fig.axes[0].get_xticklabels()) == 40 and "of 40" not in fig.axes[0].get_title()
    plt.close(fig)


def test_no_relative_importance_for_features_below_zero():
    """A ratio to an average near zero says nothing: data centred on zero gave -2,769% and
    +6,241%. Such a feature reads n/a, and a report whose features are all like it has no
    heatmap."""
    from fastseg.report import figures

    rng = np.random.default_rng(1)
    df = pd.DataFrame(rng.normal(size=(300, 3)) + np.repeat(rng.normal(scale=3, size=(3, 3)), 100, axis=0),
                      columns=["a", "b", "c"])
    df["d"] = rng.lognormal(size=300)
    seg = Segmenter(k=3, random_state=0, stability=0, rules=False).fit(df)
    rel = seg.profiles[[f"{f} rel. importance" for f in seg.features]]
    assert rel[["a rel. importance", "b rel. importance", "c rel. importance"]].isna().all().all()
    assert rel["d rel. importance"].notna().all()
    assert "importance" in [name for name, _, fig in figures(seg)]
    plt.close("all")
    neg = Segmenter(k=3, features=["a", "b", "c"], random_state=0, stability=0, rules=False).fit(df)
    assert "importance" not in [name for name, _, _ in figures(neg)]
    plt.close("all")


def test_a_report_leaves_no_figure_open_even_when_a_figure_fails(tmp_path, monkeypatch):
    from fastseg import report
    from fastseg.report import rendered_figures

    seg = Segmenter(k=3, random_state=0, stability=0).fit(mall_customers(200, seed=0))
    plt.close("all")
    drawn = rendered_figures(seg)
    assert len(drawn) >= 6 and all(png.startswith(b"\x89PNG") for _, _, png in drawn)
    assert plt.get_fignums() == []

    def broken(seg, **kw):
        plt.subplots()
        raise ValueError("drawing failed")

    monkeypatch.setattr(plots, "scatter_2d", broken)
    with pytest.raises(ValueError, match="drawing failed"):
        report(seg, tmp_path / "r.html")
    assert plt.get_fignums() == [] and not list(tmp_path.iterdir())


def test_scatter_3d_defaults_to_the_features_that_separate_the_segments(wide):
    C = wide.centers.to_numpy()
    between = (wide.profiles["size"].to_numpy()[:, None] * C ** 2).sum(axis=0)
    want = [wide.features[j] for j in sorted(np.argsort(-between)[:3])]
    fig = plots.scatter_3d(wide)
    ax = fig.axes[0]
    got = [ax.get_xlabel(), ax.get_ylabel(), ax.get_zlabel()]
    assert [g.replace(" (log scale)", "") for g in got] == want and want != wide.features[:3]
    plt.close(fig)


def test_scatter_2d_draws_one_or_two_features_themselves():
    """PCA needs two features, and on two it only rotates the plane: segments found on
    one feature are drawn along it, a row per segment; on two, on those two."""
    df = mall_customers(200, seed=0)
    one = Segmenter(features=["Annual Income (k$)"], transform="log1p", k=3, random_state=0, stability=0).fit(df)
    fig = plots.scatter_2d(one)
    ax = fig.axes[0]
    assert ax.get_title() == "Customers by Annual Income (k$)" and ax.get_ylabel() == "segment"
    assert ax.get_xlabel().startswith("Annual Income (k$)") and ax.get_legend() is not None
    # each segment's customers in its own row, at their own values (log1p units, as clustered)
    for s in range(one.k):
        pts = ax.collections[s].get_offsets()
        members = np.log1p(df.loc[one.labels["segment"].to_numpy() == s, "Annual Income (k$)"].to_numpy())
        assert np.all(np.abs(pts[:, 1] - s) <= 0.3) and sorted(pts[:, 0]) == pytest.approx(sorted(members))
    plt.close(fig)
    two = Segmenter(features=["Age", "Spending Score (1-100)"], transform=None, k=3, random_state=0,
                    stability=0).fit(df)
    fig = plots.scatter_2d(two)
    assert fig.axes[0].get_title() == "Customers by Age and Spending Score (1-100)"
    plt.close(fig)


@pytest.mark.parametrize("name", ["segment_sizes", "snake_plot", "importance_heatmap", "scatter_2d", "scatter_3d",
                                  "silhouette_by_segment", "composition", "value_share"])
def test_a_plot_of_a_segmentation_given_something_else_says_what_it_draws(seg, name):
    with pytest.raises(TypeError, match=rf"{name} draws a Segmentation \(fastseg\.Segmenter\(\.\.\.\)\.fit\(table\)\); "
                                        r"got SweepResult \(fastseg\.plots\.elbow draws a sweep\)"):
        getattr(plots, name)(seg.sweep)


def test_a_plot_that_fails_leaves_no_figure_open(seg, monkeypatch):
    before = plt.get_fignums()

    def broken(k):  # fails once the figure is open
        raise RuntimeError("palette")

    monkeypatch.setattr(plots, "_palette", broken)
    with pytest.raises(RuntimeError, match="palette"):
        plots.segment_sizes(seg)
    assert plt.get_fignums() == before
    fig, ax = plt.subplots()  # the caller's own figure stays open
    with pytest.raises(RuntimeError, match="palette"):
        plots.segment_sizes(seg, ax=ax)
    assert fig.number in plt.get_fignums()
    plt.close(fig)


def test_segment_items_bars_are_the_index_and_a_segment_without_items_says_so():
    from fastseg import baskets, rfm, segment_items
    from fastseg.datasets import online_retail

    log = online_retail(800, seed=3)
    seg = Segmenter(k=3, random_state=0, stability=0).fit(rfm(log))
    items = segment_items(baskets(log), seg, top=5)
    fig = plots.segment_items(seg, items, top=2)
    ax = fig.axes[0]
    assert ax.get_title() and ax.get_xlabel() and ax.get_ylabel() and ax.get_legend() is not None
    drawn = items.groupby("segment").head(2)
    widths = [p.get_width() for p in ax.patches]
    np.testing.assert_allclose(widths, drawn["index"] - 1.0)  # bars from 1 (as often) to the index
    labels = [t.get_text() for t in ax.get_yticklabels() if t.get_text()]
    assert labels == [d if len(d) <= 32 else d[:31] + "…" for d in drawn["Description"].astype(str)]
    plt.close(fig)
    fewer = items[items["segment"] != 1]
    fewer.attrs = items.attrs
    fig = plots.segment_items(seg, fewer)
    assert any(t.get_text().strip() == "nothing stands out" for t in fig.axes[0].texts)
    plt.close(fig)
    before = plt.get_fignums()
    with pytest.raises(ValueError, match="lacks index"):
        plots.segment_items(seg, items.drop(columns="index"))
    assert plt.get_fignums() == before
