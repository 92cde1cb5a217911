"""Every plot returns a Figure, draws into a given ax, and is labelled."""

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

from fastseg import Segmenter, plots  # noqa: E402
from fastseg.datasets import mall_customers  # noqa: E402


@pytest.fixture(scope="module")
def seg():
    df = mall_customers(200, seed=0).set_index("CustomerID")
    return Segmenter(features=["Age", "Annual Income (k$)", "Spending Score (1-100)"], random_state=0).fit(df)


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
    assert ax.get_zlabel() == "Spending Score (1-100)" and ax.get_title()
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
    with pytest.raises(ValueError, match="column 'Age' is not described; described: 'Gender'"):
        plots.composition(seg, "Age")
    bare = Segmenter(features=["Age"], k=2, describe=None, random_state=0).fit(mall_customers(50, seed=0))
    with pytest.raises(ValueError, match="describes no categorical column"):
        plots.composition(bare)
