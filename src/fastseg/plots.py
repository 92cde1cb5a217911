"""Matplotlib figures. Each function returns a Figure and draws into ``ax`` when given."""

from __future__ import annotations

import numpy as np

_METRIC_LABEL = {
    "silhouette": "silhouette (higher is better)",
    "calinski_harabasz": "Calinski–Harabasz (higher is better)",
    "davies_bouldin": "Davies–Bouldin (lower is better)",
}


def _axes(ax, figsize=(7, 4.5)):
    import matplotlib.pyplot as plt

    if ax is None:
        fig, ax = plt.subplots(figsize=figsize, layout="constrained")
        return fig, ax
    return ax.figure, ax


def elbow(result, ax=None, metric="silhouette"):
    """Inertia by k with the knee marked, and a second metric on the right axis.

    Parameters
    ----------
    result : SweepResult
    ax : matplotlib Axes, optional
    metric : str or None
        A metric the sweep computed, drawn on a twin axis; None for none.

    Returns
    -------
    matplotlib.figure.Figure
    """
    fig, ax = _axes(ax)
    ks = np.asarray(result.ks)
    inertia = np.array([result.inertia[k] for k in ks])
    ax.plot(ks, inertia, "o-", color="tab:blue", label="inertia (within-cluster sum of squares)")
    ax.set_xlabel("number of clusters k")
    ax.set_ylabel("inertia (sum of squared distances)")
    ax.set_xticks(ks if ks.size <= 25 else ks[:: max(1, ks.size // 20)])
    if result.knee.k is not None:
        ax.axvline(result.knee.k, color="tab:red", ls="--", lw=1)
        ax.plot([result.knee.k], [result.inertia[result.knee.k]], "o", ms=11, mfc="none", mec="tab:red", mew=2,
                label=f"knee: k = {result.knee.k}")
    handles, labels = ax.get_legend_handles_labels()
    if metric and metric in result.metrics:
        ax2 = ax.twinx()
        vals = [result.metrics[metric][k] for k in ks]
        ax2.plot(ks, vals, "s:", color="tab:green", label=_METRIC_LABEL.get(metric, metric))
        ax2.set_ylabel(_METRIC_LABEL.get(metric, metric))
        h2, l2 = ax2.get_legend_handles_labels()
        handles, labels = handles + h2, labels + l2
    best = f"best k = {result.best_k}" if result.best_k is not None else "no clear best k"
    ax.set_title(f"Elbow: {best} — {result.best_method}", fontsize=10)
    ax.legend(handles, labels, loc="upper right", fontsize=8)
    ax.grid(alpha=0.3)
    return fig
