"""Matplotlib figures. Each function returns a Figure and draws into ``ax`` when given."""

from __future__ import annotations

import functools
import textwrap

import numpy as np

from ._value_share import percent


def _draws_segmentation(fn):
    """``fn`` (a plot of a Segmentation, its first argument) checked to be given one, and
    with the figure it opened closed when it fails: an error leaves no figure behind."""
    @functools.wraps(fn)
    def plot(seg, *args, **kwargs):
        from .segmentation import Segmentation

        if not isinstance(seg, Segmentation):
            other = " (fastseg.plots.elbow draws a sweep)" if type(seg).__name__ == "SweepResult" else ""
            raise TypeError(f"{fn.__name__} draws a Segmentation (fastseg.Segmenter(...).fit(table)); got "
                            f"{type(seg).__name__}{other}.")
        import matplotlib.pyplot as plt

        before = set(plt.get_fignums())
        try:
            return fn(seg, *args, **kwargs)
        except Exception:
            for num in set(plt.get_fignums()) - before:
                plt.close(num)
            raise
    return plot


def _axes(ax, figsize=(7, 4.5)):
    import matplotlib.pyplot as plt

    if ax is None:
        fig, ax = plt.subplots(figsize=figsize, layout="constrained")
        return fig, ax
    return ax.figure, ax


def _sweep_of(result):
    """The SweepResult to draw: ``result`` itself, or a Segmentation's sweep."""
    from .sweep import SweepResult

    if isinstance(result, SweepResult):
        return result
    sw = getattr(result, "sweep", None)
    if isinstance(sw, SweepResult):
        return sw
    if hasattr(result, "sweep"):  # a Segmentation with k given: nothing was swept
        raise ValueError("this segmentation's k was given, so no sweep chose it (seg.sweep is None); fit with "
                         "k='auto', or draw fastseg.sweep(...) of the features.")
    raise TypeError(f"elbow draws a SweepResult (fastseg.sweep) or a Segmentation; got {type(result).__name__}.")


def elbow(result, ax=None, metric="auto", stability=None):
    """Inertia by k with the knee marked, the chosen k, and a second metric on the right axis.

    Parameters
    ----------
    result : SweepResult, or a Segmentation (its :attr:`~Segmentation.sweep`)
        A Segmentation marks the k it chose (with ``k="auto"`` and its stability, the
        stable pick, which may differ from the sweep's vote); a SweepResult its vote,
        :attr:`~SweepResult.best_k`, unless ``stability`` is given.
    ax : matplotlib Axes, optional
    metric : str or None, default="auto"
        A metric the sweep computed, drawn on a twin axis; "auto": silhouette where
        the sweep computed it; None for none.
    stability : pandas.DataFrame, optional
        :func:`fastseg.stability.k_stability` of ``result``: the k marked as chosen is
        then :func:`fastseg.stability.stable_pick`'s, as ``Segmenter(k="auto")``
        chooses it. Default: a Segmentation's :attr:`~Segmentation.k_stability`.

    Returns
    -------
    matplotlib.figure.Figure
    """
    chosen, title = _chosen_k(result, stability)
    result = _sweep_of(result)
    if isinstance(metric, str) and metric == "auto":
        metric = "silhouette" if "silhouette" in result.metrics else None
    if metric is not None and metric not in result.metrics:
        raise ValueError(f"metric {metric!r} was not computed by this sweep; choose one of "
                         f"{', '.join(map(repr, result.metrics)) or '(none)'}, or None for no second axis.")
    fig, ax = _axes(ax)
    ks = np.asarray(result.ks)
    inertia = np.array([result.inertia[k] for k in ks])
    ax.plot(ks, inertia, "o-", color="tab:blue", label="inertia (within-cluster sum of squares)")
    ax.set_xlabel("number of clusters k")
    ax.set_ylabel("inertia (sum of squared distances)")
    ax.set_xticks(ks if ks.size <= 25 else ks[:: max(1, ks.size // 20)])
    if chosen is not None:  # need not be the knee
        ax.axvline(chosen, color="tab:red", ls="--", lw=1, label=f"chosen: k = {chosen}")
    if result.best_k is not None and result.best_k != chosen:
        ax.axvline(result.best_k, color="grey", ls=":", lw=1, label=f"the methods' vote: k = {result.best_k}")
    if result.knee.k is not None:
        ax.plot([result.knee.k], [result.inertia[result.knee.k]], "o", ms=11, mfc="none", mec="tab:red", mew=2,
                label=f"knee: k = {result.knee.k}")
    handles, labels = ax.get_legend_handles_labels()
    if metric is not None:
        ax2 = ax.twinx()
        vals = [result.metrics[metric][k] for k in ks]
        from .sweep import metric_label

        ax2.plot(ks, vals, "s:", color="tab:green", label=metric_label(metric))
        ax2.set_ylabel(metric_label(metric))
        h2, l2 = ax2.get_legend_handles_labels()
        handles, labels = handles + h2, labels + l2
    ax.set_title(title, fontsize=10)
    ax.legend(handles, labels, loc="upper right", fontsize=8)
    ax.grid(alpha=0.3)
    return fig


def _chosen_k(result, stability):
    """The k the elbow marks as chosen, and its title: a Segmentation's k, the stable pick
    when ``stability`` is given, else the sweep's vote; why on the first line, what
    the others said on the second (one line would run past the figure)."""
    from .stability import stable_pick
    from .sweep import methods_picking

    sw = _sweep_of(result)
    if stability is None:
        stability = getattr(result, "k_stability", None)
    vote = f"best k = {sw.best_k} — {sw.best_method}" if sw.best_k is not None else "no clear best k"
    chosen = getattr(result, "k", None) if result is not sw else None
    stable = stable_pick(sw, stability)[0] if stability is not None else None
    if chosen is None:
        chosen = stable if stable is not None else sw.best_k
    if chosen == sw.best_k:
        return chosen, f"Elbow: {vote}".replace("; ", "\n", 1)

    def by(k):
        return ", ".join(methods_picking(sw.evidence, k))

    voted = f"the methods' vote: k = {sw.best_k} ({by(sw.best_k)})" if sw.best_k is not None else vote
    if chosen == stable:
        return chosen, f"Elbow: k = {chosen}, the largest pick with every segment stable ({by(chosen)})\n{voted}"
    return chosen, f"Elbow: k = {chosen} chosen\n{voted}"


def _palette(k):
    import matplotlib

    cmap = matplotlib.colormaps["tab10" if k <= 10 else "tab20"]
    return [cmap(i % cmap.N) for i in range(k)]


def _seg_label(seg, s, width=36):
    """"2: lapsed", wrapped onto lines of at most ``width`` characters, so that a long name
    (a segment found on baskets adds its product; marketing's own names) does not squeeze
    the axes beside a legend or the tick labels."""
    return textwrap.fill(f"{s}: {seg.names[s]}", width, break_long_words=False)


@_draws_segmentation
def segment_sizes(seg, ax=None):
    """Horizontal bars: customers per segment, with the share printed."""
    fig, ax = _axes(ax, (7, 0.5 * seg.k + 1.5))
    prof = seg.profiles
    colors = _palette(seg.k)
    y = np.arange(seg.k)
    ax.barh(y, prof["size"], color=colors)
    for i, (n, sh) in enumerate(zip(prof["size"], prof["share"])):
        ax.text(n, i, f" {int(n):,} ({sh:.0%})", va="center", fontsize=8)
    ax.set_yticks(y, [_seg_label(seg, s) for s in prof.index], fontsize=8)
    ax.invert_yaxis()
    ax.set_xlabel("customers")
    ax.set_ylabel("segment")
    ax.set_title("Segment sizes")
    ax.margins(x=0.25)
    return fig


def _key_features(seg, most):
    """Indices of at most ``most`` features, in their own order: each segment's furthest
    from average in turn (its first, then every segment's second, ...), so the features
    the segment names cite are drawn when there are too many to draw them all."""
    Z = np.abs(seg.centers.to_numpy())
    if Z.shape[1] <= most:
        return np.arange(Z.shape[1])
    order = np.argsort(-Z, axis=1, kind="stable")
    picked = []
    for j in order.T.ravel():  # rank by rank, segment by segment
        if j not in picked:
            picked.append(j)
            if len(picked) == most:
                break
    return np.sort(picked)


def _separating(seg, most):
    """The ``most`` features along which the segment centres spread widest, weighted by
    segment size, in the table's order."""
    if len(seg.features) <= most:
        return list(seg.features)
    between = (seg.profiles["size"].to_numpy(dtype=float)[:, None] * seg.centers.to_numpy() ** 2).sum(axis=0)
    return [seg.features[j] for j in np.sort(np.argsort(-between, kind="stable")[:most])]


def _feature_ticks(ax, features, longest):
    """Feature names under the x ticks, slanted only where they would collide (more than
    five, or one longer than ``longest`` characters), each ending under its tick."""
    names = [str(f) for f in features]
    crowded = len(names) > 5 or max(len(f) for f in names) > longest
    ax.set_xticks(np.arange(len(names)), names, rotation=30 if crowded else 0, ha="right" if crowded else "center",
                  rotation_mode="anchor" if crowded else "default")


def _shown_of(cols, shown):
    """A second title line when only some features are drawn."""
    if len(cols) == len(shown):
        return ""
    return f"\n{len(shown)} of {len(cols)} features: where each segment is furthest from average"


@_draws_segmentation
def snake_plot(seg, ax=None, max_features=20):
    """Each segment's centre across the (scaled) features: how segments differ.

    With more than ``max_features`` features, each segment's furthest from average
    are drawn (the title says how many of how many)."""
    C = seg.centers.to_numpy()
    cols = _key_features(seg, max_features)
    many = len(cols) > 8
    fig, ax = _axes(ax, (min(5 + 0.4 * len(cols), 14), 5.5 if many else 4.5))
    colors = _palette(seg.k)
    x = np.arange(len(cols))
    for s in range(seg.k):
        ax.plot(x, C[s, cols], "o-", color=colors[s], label=_seg_label(seg, s))
    ax.axhline(0, color="grey", lw=0.8)
    _feature_ticks(ax, [seg.features[j] for j in cols], longest=14)
    ax.set_xlabel("feature")
    ax.set_ylabel("segment centre (scaled units: 0 = average)")
    ax.set_title("Snake plot: segment centres by feature" + _shown_of(seg.features, cols))
    if many:  # the axes keep the width; the segment names go underneath
        ax.legend(fontsize=7, loc="upper center", bbox_to_anchor=(0.5, -0.3), ncol=2 if seg.k > 4 else 1)
    else:  # beside the axes: inside, some segment's line always runs under it
        ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0), borderaxespad=0)
    ax.grid(alpha=0.3)
    return fig


@_draws_segmentation
def importance_heatmap(seg, ax=None, max_features=12):
    """Relative importance per segment and feature: the segment's typical value over all
    customers', minus 1 (see :attr:`Segmentation.profiles`), written in each cell.

    The colour follows the ratio on a log scale, so half the typical value is as dark a
    blue as double is a red: a segment at −97% spend reads as far from average as one
    at +400%, which a linear scale would show near white. With more than
    ``max_features`` features, each segment's furthest from average are drawn (as in
    :func:`snake_plot`)."""
    import matplotlib

    M = seg.profiles[[f"{f} rel. importance" for f in seg.features]].to_numpy(dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        # -100% (a segment all zeros) is -inf, clipped below to the darkest blue; n/a stays NaN
        L = np.where(np.isnan(M), np.nan, np.log2(np.maximum(1 + M, 0)))
    shown = _key_features(seg, max_features)
    features = [seg.features[j] for j in shown]
    M, L = M[:, shown], L[:, shown]
    fig, ax = _axes(ax, (0.9 * len(features) + 4.5, 0.5 * seg.k + 1.8))
    finite = np.abs(L[np.isfinite(L)])
    lim = max(float(finite.max()) if finite.size else 0.0, 1.0)  # at least ×2 / ×½: small gaps stay pale
    L = np.where(np.isnan(L), np.nan, np.clip(L, -lim, lim))
    cmap = matplotlib.colormaps["RdBu_r"].with_extremes(bad="0.85")  # n/a: light grey
    im = ax.imshow(L, cmap=cmap, vmin=-lim, vmax=lim, aspect="auto")
    for i in range(M.shape[0]):
        for j in range(M.shape[1]):
            text = "n/a" if np.isnan(M[i, j]) else f"{M[i, j]:+,.0%}"
            dark = np.isfinite(L[i, j]) and abs(L[i, j]) > 0.6 * lim
            ax.text(j, i, text, ha="center", va="center", fontsize=8, color="white" if dark else "black")
    _feature_ticks(ax, features, longest=12)
    ax.set_yticks(np.arange(seg.k), [_seg_label(seg, s) for s in seg.profiles.index], fontsize=8)
    ax.set_xlabel("feature")
    ax.set_ylabel("segment")
    ax.set_title("Relative importance (segment vs all customers)" + _shown_of(seg.features, features))
    bar = fig.colorbar(im, ax=ax, label="typical value vs all customers'")
    top = int(np.floor(lim))
    step = max(1, int(np.ceil(top / 3)))  # at most 7 ticks
    ticks = np.arange(-top, top + 1, step)
    bar.set_ticks(ticks, labels=["0%" if t == 0 else f"{2.0 ** t - 1:+,.0%}" for t in ticks])
    return fig


def _scaled(seg):
    return seg.prep.apply(seg.data)


def _check_features(seg, feats, plot):
    """Name the features a scatter can draw when it is asked for another column."""
    other = [f for f in feats if f not in seg.features]
    if other:
        raise ValueError(f"{plot} draws the features the segments were found on "
                         f"({', '.join(map(repr, seg.features))}); got {', '.join(map(repr, other))}. "
                         "A column not clustered on is read by segment in seg.profiles or plots.composition.")


def _centres_in_plot_units(seg, feats):
    """The segment centres as the scatters draw them: the scaling undone, so in log1p
    units where the segmenter clustered in them (the k-means centre itself, not the
    segment's mean, which a long tail pulls away from where most of the segment sits)."""
    prep = seg.prep
    cols = [prep.features.index(f) for f in feats]
    return seg.centers.to_numpy()[:, cols] * prep.scale[cols] + prep.center[cols]


def _centres_in_units(seg, feats):
    """The segment centres in the features' original units (the log1p undone too)."""
    C = _centres_in_plot_units(seg, feats)
    for j, f in enumerate(feats):
        if f in seg.prep.logged:
            C[:, j] = np.expm1(C[:, j])
    return C


def _compact(v):
    """A tick label an analyst reads at a glance: 0, 5, 250, 1.5k, 20k, 3M."""
    for div, suffix in ((1e9, "G"), (1e6, "M"), (1e3, "k")):
        if abs(v) >= div:
            return f"{v / div:.3g}{suffix}"
    return f"{v:.3g}"


def _log1p_ticks(vmin, vmax):
    """Round values within [vmin, vmax] for an axis drawn in log1p units (none outside:
    a tick outside the data would stretch the axis to it). Within a decade, evenly
    spaced values; over more, 1-2-5 steps, or decades once the range spans three; below
    1, where log1p is nearly linear, only 0."""
    from matplotlib.ticker import MaxNLocator

    lo, hi = max(float(vmin), 0.0), float(vmax)
    if hi <= lo:
        return np.array([lo])
    if hi < 10 * max(lo, 1.0):
        vals = MaxNLocator(5).tick_values(lo, hi)
    else:
        steps = (1, 2, 5) if hi <= 1e3 * max(lo, 1.0) else (1,)
        vals = [0.0] + [m * 10.0 ** e for e in range(int(np.log10(hi)) + 1) for m in steps]
    return np.array([v for v in vals if lo - 1e-9 * hi <= v <= hi * (1 + 1e-9)])


def _centre_handle():
    """The legend entry for the centres' markers (drawn at the legend's marker scale)."""
    from matplotlib.lines import Line2D

    return Line2D([], [], marker="X", ls="", color="grey", mec="black", ms=5, label="segment centres")


def _in_plot_units(seg, feats, V):
    """``V``'s columns (the features ``feats``, original units) as drawn: log1p where the
    segmenter clustered in log1p units, or a long tail squeezes every other customer
    into one corner."""
    V = np.array(V, dtype=float)
    for j, f in enumerate(feats):
        if f in seg.prep.logged:
            V[:, j] = np.log1p(V[:, j])
    return V


def _feature_axes(seg, feats, V, axes):
    """Label each axis with its feature, ticks in original units (compact: 1.5k, 20k):
    round values placed at their log1p for a feature drawn in log1p units."""
    from matplotlib.ticker import FuncFormatter

    for axis, f, v in zip(axes, feats, np.asarray(V, dtype=float).T):
        if f in seg.prep.logged:
            ticks = _log1p_ticks(np.nanmin(v), np.nanmax(v)) if v.size else np.zeros(1)
            axis.set_ticks(np.log1p(ticks), [_compact(t) for t in ticks])
            axis.set_label_text(f"{f} (log scale)")
        else:
            axis.set_major_formatter(FuncFormatter(lambda t, _pos: _compact(t)))
            axis.set_label_text(f)


@_draws_segmentation
def scatter_2d(seg, x=None, y=None, ax=None, max_points=5000, random_state=0):
    """Customers on two features, or on the first two principal components of the scaled
    features when ``x``/``y`` are not given; centres marked. A feature the segmenter
    clustered in log1p units is drawn in them, ticked in original units (1k, 10k).
    Segments found on two features are drawn on those two; on one, customers are drawn
    along it in a row per segment."""
    fig, ax = _axes(ax)
    rng = np.random.default_rng(random_state)
    n = len(seg.data)
    idx = rng.choice(n, min(n, max_points), replace=False)
    lab = seg.labels["segment"].to_numpy()
    colors = _palette(seg.k)
    if (x is None or y is None) and len(seg.features) == 2:
        x, y = seg.features  # the plane itself reads better than a rotation of it
    one = (x is None or y is None) and len(seg.features) == 1
    if one:  # along the feature, a row per segment (jittered: customers of equal value stay apart)
        x = seg.features[0]
        V = seg.data[[x]].to_numpy(dtype=float)[idx]
        P = np.column_stack([_in_plot_units(seg, [x], V)[:, 0], lab[idx] + rng.uniform(-0.3, 0.3, len(idx))])
        C = np.column_stack([_centres_in_plot_units(seg, [x])[:, 0], np.arange(seg.k)])
        title = f"Customers by {x}"
    elif x is None or y is None:
        from sklearn.decomposition import PCA

        Z = _scaled(seg)
        pca = PCA(n_components=2, random_state=0).fit(Z)
        P = pca.transform(Z[idx])
        C = pca.transform(seg.centers.to_numpy())
        title = "Customers on the first two principal components"
    else:
        _check_features(seg, [x, y], "scatter_2d")
        V = seg.data[[x, y]].to_numpy(dtype=float)[idx]
        P, C = _in_plot_units(seg, [x, y], V), _centres_in_plot_units(seg, [x, y])
        title = f"Customers by {x} and {y}"
    for s in range(seg.k):
        m = lab[idx] == s
        ax.scatter(P[m, 0], P[m, 1], s=6, alpha=0.5, color=colors[s], label=_seg_label(seg, s))
    ax.scatter(C[:, 0], C[:, 1], marker="X", s=160, c=colors, edgecolors="black", linewidths=1.2)
    if one:
        ax.set_yticks(np.arange(seg.k), [str(s) for s in range(seg.k)])
        ax.set_ylabel("segment")
        ax.invert_yaxis()
        _feature_axes(seg, [x], V, (ax.xaxis,))
    elif x is None or y is None:
        ax.set_xlabel(f"principal component 1 ({pca.explained_variance_ratio_[0]:.0%} of variance)")
        ax.set_ylabel(f"principal component 2 ({pca.explained_variance_ratio_[1]:.0%} of variance)")
    else:
        _feature_axes(seg, [x, y], V, (ax.xaxis, ax.yaxis))
    ax.set_title(title + (f" ({len(idx):,} of {n:,} shown)" if len(idx) < n else ""))
    handles, _ = ax.get_legend_handles_labels()
    ax.legend(handles=handles + [_centre_handle()], fontsize=7, markerscale=2, loc="best")
    ax.grid(alpha=0.3, axis="x" if one else "both")
    return fig


@_draws_segmentation
def scatter_3d(seg, features=None, ax=None, max_points=3000, random_state=0):
    """Customers on three features, coloured by segment, centres marked. A feature the
    segmenter clustered in log1p units is drawn in them, ticked in original units.

    ``features`` default to the three that separate the segments most: those along
    which the centres spread widest, weighted by segment size (between-segment sum of
    squares in the scaled units), in the table's order. ``ax``, when given, must be a
    3-D Axes (``fig.add_subplot(projection="3d")``).
    """
    import matplotlib.pyplot as plt

    feats = list(features or _separating(seg, 3))
    if len(feats) != 3:
        raise ValueError(f"scatter_3d needs three features; got {feats}.")
    _check_features(seg, feats, "scatter_3d")
    if ax is None:
        # margins set by hand: constrained layout collapses a 3-D Axes in matplotlib 3.10 and warns
        fig = plt.figure(figsize=(7, 6))
        fig.subplots_adjust(left=0.0, right=0.94, bottom=0.02, top=0.96)
        ax = fig.add_subplot(projection="3d")
    elif not hasattr(ax, "set_zlabel"):
        raise ValueError("scatter_3d needs a 3-D Axes: fig.add_subplot(projection='3d').")
    else:
        fig = ax.figure
    rng = np.random.default_rng(random_state)
    n = len(seg.data)
    idx = rng.choice(n, min(n, max_points), replace=False)
    lab = seg.labels["segment"].to_numpy()[idx]
    V = seg.data[feats].to_numpy(dtype=float)[idx]
    P, C = _in_plot_units(seg, feats, V), _centres_in_plot_units(seg, feats)
    colors = _palette(seg.k)
    for s in range(seg.k):
        m = lab == s
        ax.scatter(P[m, 0], P[m, 1], P[m, 2], s=6, alpha=0.6, color=colors[s], label=_seg_label(seg, s))
    ax.scatter(C[:, 0], C[:, 1], C[:, 2], marker="X", s=160, c=colors, edgecolors="black", linewidths=1.2,
               depthshade=False)
    _feature_axes(seg, feats, V, (ax.xaxis, ax.yaxis, ax.zaxis))
    ax.set_title(f"Customers by {', '.join(feats)}")
    handles, _ = ax.get_legend_handles_labels()
    ax.legend(handles=handles + [_centre_handle()], fontsize=7, markerscale=2, loc="upper left")
    return fig


@_draws_segmentation
def silhouette_by_segment(seg, ax=None, sample_size=3000, random_state=0):
    """Silhouette of each customer (on a stratified sample), grouped by segment, in the
    space the segments were found in: the scaled features, or the basket rows of segments
    found on what customers bought (kept by the fit, not by ``save``)."""
    from .metrics import silhouette_values, stratified_sample

    if seg.basis is not None and seg.clustered is None:
        raise ValueError("the segments were found on what customers bought, and a saved segmentation keeps no "
                         "baskets to measure the silhouette on; draw it from the fitted segmentation.")
    fig, ax = _axes(ax)
    lab = seg.labels["segment"].to_numpy()
    idx = stratified_sample(lab, seg.k, sample_size, random_state)
    vals = silhouette_values((_scaled(seg) if seg.basis is None else seg.clustered)[idx], lab[idx])
    colors = _palette(seg.k)
    y0 = 0
    if vals is None:
        ax.text(0.5, 0.5, "silhouette needs at least 2 segments", ha="center", transform=ax.transAxes)
        return fig
    for s in range(seg.k):
        v = np.sort(vals[lab[idx] == s])
        ax.fill_betweenx(np.arange(y0, y0 + v.size), 0, v, color=colors[s], alpha=0.8, label=_seg_label(seg, s))
        y0 += v.size + 10
    ax.axvline(vals.mean(), color="red", ls="--", label=f"mean {vals.mean():.2f}")
    ax.set_xlabel("silhouette coefficient (−1 … 1; higher: better separated)")
    ax.set_ylabel(f"customers (sample of {idx.size:,}), by segment")
    ax.set_yticks([])
    ax.set_title("Silhouette by segment")
    # beside the axes: the bands fill the plot from top to bottom, so any place inside covers one
    ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0), borderaxespad=0)
    return fig


@_draws_segmentation
def composition(seg, column=None, ax=None):
    """Stacked bars: the share of each segment's customers (and of all of them, at the
    bottom) at each value of a described categorical column (``seg.composition``)."""
    import matplotlib

    if not seg.composition:
        raise ValueError("this segmentation describes no categorical column; fit with Segmenter(describe=[...]).")
    column = next(iter(seg.composition)) if column is None else column
    if column not in seg.composition:
        if column in seg.features:
            why = "is a feature: each segment's values of it are in seg.profiles and plots.snake_plot"
        elif column in seg.described:
            why = "is not described by its mix of values but by its mean and median, in seg.profiles"
        else:
            why = "is not described"
        raise ValueError(f"column {column!r} {why}; composition draws the categorical columns described: "
                         f"{', '.join(map(repr, seg.composition))}.")
    tab = seg.composition[column]
    fig, ax = _axes(ax, (8, 0.5 * (seg.k + 1) + 1.8))
    cmap = matplotlib.colormaps["tab10" if tab.shape[1] <= 10 else "tab20"]
    y = np.arange(len(tab))
    left = np.zeros(len(tab))
    for j, value in enumerate(tab.columns):
        share = tab[value].to_numpy(dtype=float)
        color = "lightgrey" if value in ("other", "(missing)") else cmap(j % cmap.N)
        ax.barh(y, share, left=left, color=color, label=str(value), edgecolor="white", linewidth=0.5)
        for i in np.flatnonzero(share >= 0.08):  # label the wide parts only
            ax.text(left[i] + share[i] / 2, i, f"{share[i]:.0%}", ha="center", va="center", fontsize=7)
        left += share
    ax.set_yticks(y, [_seg_label(seg, s) if s != "all" else "all customers" for s in tab.index], fontsize=8)
    ax.invert_yaxis()
    ax.set_xlim(0, 1)
    ax.xaxis.set_major_formatter(matplotlib.ticker.PercentFormatter(1.0))
    ax.set_xlabel(f"share of the segment's customers, by {column}")
    ax.set_ylabel("segment")
    ax.set_title(f"Who is in each segment: {column}")
    ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.0, 1.0), title=str(column), title_fontsize=8)
    return fig


@_draws_segmentation
def value_share(seg, ax=None):
    """Paired bars per segment: its share of the customers and its share of their total
    spend (``seg.value``), so the few customers who bring most of the money show."""
    import matplotlib

    if seg.value is None:
        raise ValueError("this segmentation has no value column; fit with Segmenter(value='column of spend').")
    tab = seg.value
    fig, ax = _axes(ax, (8, 0.7 * seg.k + 1.8))
    y = np.arange(seg.k)
    h = 0.38
    colors = _palette(seg.k)
    ax.barh(y - h / 2, tab["share of customers"], height=h, color="lightgrey")
    ax.barh(y + h / 2, tab["share of total"], height=h, color=colors)
    for i, (c, v) in enumerate(zip(tab["share of customers"], tab["share of total"])):
        ax.text(c, i - h / 2, f" {percent(c)}", va="center", fontsize=7)
        ax.text(v, i + h / 2, f" {percent(v)}", va="center", fontsize=7, fontweight="bold")
    ax.set_yticks(y, [_seg_label(seg, s) for s in tab.index], fontsize=8)
    ax.invert_yaxis()
    ax.set_xlim(0, min(1.0, max(tab["share of customers"].max(), tab["share of total"].max()) * 1.2))
    ax.xaxis.set_major_formatter(matplotlib.ticker.PercentFormatter(1.0))
    ax.set_xlabel(f"share of all customers (grey) and of their total {seg.value_column} (colour)")
    ax.set_ylabel("segment")
    ax.set_title(f"Where the money is: customers and {seg.value_column} by segment")
    from matplotlib.patches import Patch

    ax.legend(handles=[Patch(color="lightgrey", label="customers"),
                       Patch(color=colors[0], label=f"{seg.value_column}\n(segment's colour)")],
              fontsize=7, loc="upper left", bbox_to_anchor=(1.0, 1.0), title="share of", title_fontsize=8)
    return fig


@_draws_segmentation
def segment_items(seg, items, ax=None, top=3):
    """Horizontal bars, segment by segment: the items each buys markedly more often than
    the average customer, by how many times as often (the index of a
    :func:`fastseg.segment_items` table of ``seg``); a segment with none says so.

    Parameters
    ----------
    seg : Segmentation
    items : pandas.DataFrame
        ``fastseg.segment_items(baskets, seg)``.
    ax : matplotlib Axes, optional
    top : int, default=3
        Items drawn per segment, at most.
    """
    from matplotlib.patches import Patch

    from .baskets import check_items_table

    check_items_table(items)
    names = items.attrs.get("item names")
    colors = _palette(seg.k)
    rows = []  # (label, index or None, segment)
    for s in seg.profiles.index:
        mine = items[items["segment"] == s].head(top)
        if mine.empty:
            rows.append(("", None, s))  # a row of its own, labelled in the plot
        for _, r in mine.iterrows():
            label = str(r[names] if names else r["item"])
            rows.append((label if len(label) <= 32 else label[:31] + "…", r["index"], s))
    fig, ax = _axes(ax, (8, 0.32 * len(rows) + 1.8))
    y = np.arange(len(rows))
    for i, (label, index, s) in enumerate(rows):
        if index is None:
            ax.text(1.0, i, "  nothing stands out", va="center", fontsize=7, color="grey")
        else:
            ax.barh(i, index - 1.0, left=1.0, color=colors[s], height=0.7)
            ax.text(index, i, f" {index:.1f}×", va="center", fontsize=7)
    ax.set_yticks(y, [label for label, _, _ in rows], fontsize=7)
    ax.invert_yaxis()
    ax.axvline(1.0, color="black", lw=0.8)
    most = max([r[1] for r in rows if r[1] is not None], default=2.0)
    ax.set_xlim(0.9, most * 1.15)
    ax.set_xlabel("times as often as the average customer buys it (index; 1 = as often)")
    ax.set_ylabel("item, segment by segment")
    ax.set_title("What each segment buys more often than the average customer")
    ax.legend(handles=[Patch(color=colors[s], label=_seg_label(seg, s)) for s in seg.profiles.index], fontsize=7,
              loc="upper left", bbox_to_anchor=(1.0, 1.0), title="segment", title_fontsize=8)
    return fig
