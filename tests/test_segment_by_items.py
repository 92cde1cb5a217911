"""Segments found on what customers buy: Segmenter.fit(table, baskets=b), its predict,
save and report, and ``fastseg segment --by items`` / ``fastseg predict`` on such a model."""

import pickle

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
from sklearn.metrics import adjusted_rand_score
from sklearn.preprocessing import normalize

import fastseg
from fastseg import Segmenter, baskets, rfm
from fastseg.cli import main
from fastseg.datasets import online_retail
from fastseg.segmentation import NO_KNOWN_ITEM, Segmentation
from fastseg.stability import segment_stability

COLS = dict(customer="cust", date="day", invoice="inv", quantity="qty", price="price")


@pytest.fixture(scope="module")
def shipped():
    log, kinds, favourites = online_retail(3000, seed=11, return_kinds=True)
    return log, kinds, favourites, rfm(log), baskets(log)


@pytest.fixture(scope="module")
def fitted(shipped):
    log, _, _, table, b = shipped
    return Segmenter(k=5, random_state=0, n_init=5, stability=3).fit(table, baskets=b)


def _same_partition(a, b):
    """Whether two labelings group the rows the same way (numbers may differ)."""
    pairs = set(zip(np.asarray(a).tolist(), np.asarray(b).tolist()))
    return len(pairs) == len(set(np.asarray(a).tolist())) == len(set(np.asarray(b).tolist()))


def test_the_segments_are_cosine_kmeans_of_the_baskets(shipped, fitted):
    log, kinds, favourites, table, b = shipped
    X = normalize((b.matrix > 0).astype(np.float64))
    km = fastseg.KMeans(5, random_state=0, n_init=5).fit(X)
    assert _same_partition(km.labels_, fitted.labels["segment"])
    assert adjusted_rand_score(kinds.reindex(b.customers), fitted.labels["segment"]) >= 0.9
    # the clustered rows are the bought-or-not baskets at unit length, in the table's order
    assert sp.issparse(fitted.clustered)
    np.testing.assert_allclose(fitted.clustered.toarray(), X.toarray())
    assert fitted.rules is None and fitted.outlying == {}
    assert fitted.basis.item_column == "StockCode" and len(fitted.basis) == b.shape[1]


def test_the_features_describe_and_name_the_segments(shipped, fitted):
    table = shipped[3]
    Z = fitted.prep.apply(table)
    seg = fitted.labels["segment"].to_numpy()
    means = pd.DataFrame(Z, columns=fitted.features).groupby(seg).mean()
    np.testing.assert_allclose(fitted.centers.to_numpy(), means.to_numpy())
    medians = table[fitted.features].groupby(seg).median()
    np.testing.assert_allclose(fitted.profiles[[f"{f} median" for f in fitted.features]].to_numpy(),
                               medians.to_numpy())
    items = fitted.items
    words = fastseg._profiles.named_new(fastseg._profiles.segment_names(fitted.centers, numbered=False),
                                        table["tenure"], seg, fitted.k)  # "new" for a segment of new customers
    for s in range(fitted.k):  # each name: the features' words, then the product the segment favours most
        top = items.loc[items["segment"] == s, "Description"].iloc[0]
        assert fitted.names[s].endswith(f" · buys {top}"), fitted.names[s]
        assert fitted.names[s].split(" · ")[0] == words[s]
    assert len(set(fitted.names.values())) == fitted.k
    assert fitted.descriptions == fitted.names
    renamed = fitted.rename({0: "Gift shoppers"})
    assert renamed.descriptions[0] == fitted.names[0] and renamed.titled(0).startswith("Gift shoppers (")
    text = fitted.summary()
    assert "Segments found on what each customer bought: " in text and "'StockCode'" in text
    assert "A rule to select" not in text


def test_predict_on_the_fit_log_gives_the_fit_labels_and_the_distances(shipped, fitted):
    table, b = shipped[3], shipped[4]
    pred = fitted.predict(table, baskets=b)
    assert (pred["segment"].to_numpy() == fitted.labels["segment"].to_numpy()).all()
    d = fitted.distances(table, baskets=b)
    X = fitted.clustered.toarray()
    own = fitted.model.cluster_centers_[fitted.labels["segment"].to_numpy()]
    np.testing.assert_allclose(d.to_numpy(), np.sqrt(((X - own) ** 2).sum(axis=1)), rtol=1e-6, atol=1e-9)
    with pytest.raises(ValueError, match=r"found on what customers bought .*baskets=fastseg.baskets\(log\)"):
        fitted.predict(table)


def _small_log():
    rows = []
    for c in range(12):  # two tastes: customers 0-5 buy mugs, 6-11 buy tea; every one buys "bag"
        own = ["mug1", "mug2", "mug3"] if c < 6 else ["tea1", "tea2", "tea3"]
        for j, item in enumerate(own[: 2 + c % 2] + ["bag"]):
            rows.append((f"i{c}-{j}", f"c{c}", f"2024-01-{1 + c:02d}", item, 1 + j, 2.0 + c))
    return pd.DataFrame(rows, columns=["inv", "cust", "day", "item", "qty", "price"])


def test_new_products_are_left_out_and_a_customer_with_no_known_one_is_not_segmented():
    log = _small_log()
    seg = Segmenter(k=2, random_state=0, stability=0).fit(rfm(log, **COLS), baskets=baskets(log, item="item", **COLS))
    mugs, tea = seg.labels.loc["c0", "segment"], seg.labels.loc["c6", "segment"]
    assert mugs != tea and (seg.labels.loc[[f"c{c}" for c in range(6)], "segment"] == mugs).all()
    assert (seg.labels.loc[[f"c{c}" for c in range(6, 12)], "segment"] == tea).all()
    new = pd.DataFrame([("n1", "x", "2024-02-01", "mug1", 1, 3.0), ("n2", "x", "2024-02-01", "toaster", 1, 3.0),
                        ("n3", "y", "2024-02-02", "toaster", 1, 9.0), ("n4", "z", "2024-02-03", "tea2", 2, 1.0)],
                       columns=log.columns)
    nb = baskets(new, item="item", **COLS)
    row = seg.basis.matrix(nb, ["x", "y", "z"])  # the fit's columns; a new product is no column
    assert row.shape == (3, len(seg.basis))
    x = row.toarray()[0]
    assert x[list(seg.basis.items).index("mug1")] == 1.0 and x.sum() == 1.0  # toaster left out, unit length
    assert row[1].nnz == 0
    pred = seg.predict(rfm(new, **COLS), baskets=nb)
    assert pred.loc["x", "segment"] == mugs and pred.loc["z", "segment"] == tea
    assert pd.isna(pred.loc["y", "segment"]) and pred.loc["y", "name"] == NO_KNOWN_ITEM
    assert np.isnan(seg.distances(rfm(new, **COLS), baskets=nb)["y"])
    with pytest.raises(ValueError, match="1 customers of the table have no row in baskets"):
        seg.predict(rfm(new, **COLS), baskets=baskets(new[new["cust"] != "z"], item="item", **COLS))


def test_codes_read_as_numbers_in_one_piece_and_text_in_another_are_one_item():
    log = _small_log()
    log["item"] = log["item"].replace({"mug1": 22423, "tea1": "85123A"}).astype(object)
    log.loc[log.index[::2], "item"] = log.loc[log.index[::2], "item"].map(
        lambda v: str(v) if isinstance(v, int) else v)  # 22423 in some rows, "22423" in others
    b = baskets(log, item="item", **COLS)
    assert list(b.items).count("22423") == 1 and 22423 not in list(b.items)
    assert b.shape[1] == log["item"].astype(str).nunique()
    # the basis matches a newer log whose codes were read as whole numbers (floats with a gap)
    seg = Segmenter(k=2, random_state=0, stability=0).fit(rfm(log, **COLS), baskets=b)
    new = pd.DataFrame({"inv": ["a", "b"], "cust": ["p", "q"], "day": ["2024-03-01"] * 2, "item": [22423.0, np.nan],
                        "qty": [1, 1], "price": [2.0, 2.0]})
    row = seg.basis.matrix(baskets(new, item="item", **COLS), ["p"])
    assert row.nnz == 1 and row.indices[0] == list(b.items).index("22423")


def test_sparse_stability_equals_the_dense_copys(fitted):
    X = fitted.clustered[:600]
    lab = fitted.labels["segment"].to_numpy()[:600]
    a = segment_stability(X, lab, 5, n_resamples=3, random_state=4, device="cpu")
    b = segment_stability(X.toarray(), lab, 5, n_resamples=3, random_state=4, device="cpu")
    pd.testing.assert_frame_equal(a, b)


def test_k_auto_on_baskets_sweeps_and_weighs_stability(shipped):
    table, b = shipped[3], shipped[4]
    seg = Segmenter(k_range=range(2, 7), random_state=0, stability=2, sample=1500).fit(table, baskets=b)
    assert seg.sweep is not None and set(seg.sweep.ks) == set(range(2, 7)) and seg.k_stability is not None
    assert seg.k in seg.sweep.ks and "chosen on a sample of 1,500 customers" in seg.k_reason
    assert len(seg.labels) == len(table)


def test_bad_arguments_named(shipped):
    table, b = shipped[3], shipped[4]
    with pytest.raises(TypeError, match=r"baskets must be what fastseg.baskets\(log\) returns; got csr_matrix"):
        Segmenter(k=3).fit(table, baskets=b.matrix)
    with pytest.raises(ValueError, match="leave clip out"):
        Segmenter(k=3, clip=0.01).fit(table, baskets=b)
    with pytest.raises(ValueError, match="device='gpu': baskets are sparse rows, which the CPU engine runs"):
        Segmenter(k=3, device="gpu").fit(table, baskets=b)
    with pytest.raises(ValueError, match=r"have no row in baskets .*fastseg.rfm\(log\) and fastseg.baskets\(log\)"):
        Segmenter(k=3, stability=0).fit(table.rename(index=lambda c: f"x{c}"), baskets=b)


def test_save_load_predicts_and_the_report_draws_the_baskets_silhouette(shipped, fitted, tmp_path):
    table, b = shipped[3], shipped[4]
    path = tmp_path / "seg.pkl"
    fitted.save(path)
    assert pickle.loads(path.read_bytes()).clustered is None  # the baskets are not kept
    back = Segmentation.load(path)
    assert back.clustered is None and back.basis.item_column == "StockCode"
    assert (back.predict(table, baskets=b)["segment"].to_numpy() == fitted.labels["segment"].to_numpy()).all()
    with pytest.raises(ValueError, match="keeps no baskets"):
        fastseg.plots.silhouette_by_segment(back)
    from fastseg.report import _figure_makers

    assert "silhouette" not in [name for name, _, _ in _figure_makers(back)]
    assert "silhouette" in [name for name, _, _ in _figure_makers(fitted)]
    fig = fastseg.plots.silhouette_by_segment(fitted)  # on the baskets: the mean is the sample's silhouette there
    from fastseg.metrics import silhouette_values, stratified_sample

    lab = fitted.labels["segment"].to_numpy()
    idx = stratified_sample(lab, fitted.k, 3000, 0)
    mean = silhouette_values(fitted.clustered[idx], lab[idx]).mean()
    assert any(f"mean {mean:.2f}" == t.get_text() for t in fig.axes[0].get_legend().get_texts())
    out = tmp_path / "r.html"
    fastseg.report(fitted, out)
    assert "Segments found on what each customer bought" in out.read_text()


def test_cli_segment_by_items_and_predict_from_its_model(tmp_path, capsys):
    log = online_retail(1500, seed=3)
    log.to_csv(tmp_path / "tx.csv", index=False)
    day = pd.to_datetime(log["InvoiceDate"])
    log[day < day.quantile(0.8)].to_csv(tmp_path / "early.csv", index=False)
    rc = main(["segment", str(tmp_path / "early.csv"), "--rfm", "--by", "items", "--k", "4", "--stability", "0",
               "--out", str(tmp_path / "labels.csv"), "--save", str(tmp_path / "m.pkl"), "--items",
               str(tmp_path / "items.csv")])
    assert rc == 0
    text = capsys.readouterr().out
    assert "Segments found on what each customer bought" in text and " · buys " in text
    labels = pd.read_csv(tmp_path / "labels.csv")
    seg = Segmentation.load(tmp_path / "m.pkl")
    assert labels["name"].isin(list(seg.names.values())).all() and labels["segment"].nunique() == 4
    rc = main(["predict", str(tmp_path / "tx.csv"), "--rfm", "--model", str(tmp_path / "m.pkl"),
               "--out", str(tmp_path / "pred.csv")])
    assert rc == 0
    pred = pd.read_csv(tmp_path / "pred.csv").set_index("CustomerID")
    # the whole log's baskets hold each early customer's, and more: most keep their segment
    kept = pred["segment"].reindex(labels["CustomerID"]).to_numpy() == labels["segment"].to_numpy()
    assert kept.mean() >= 0.8
    with_python = seg.predict(rfm(log), baskets=baskets(log))
    assert (with_python["segment"].reindex(pred.index).to_numpy() == pred["segment"].to_numpy()).all()


@pytest.mark.parametrize("args, message", [
    (["--by", "items"], "--by items finds the segments on what each customer bought"),
    (["--rfm", "--by", "items", "--item", "none"], "--by items finds the segments"),
    (["--rfm", "--by", "items", "--rules", "RULES"], "leave --rules out"),
    (["--rfm", "--by", "items", "--clip", "0.01"], "leave --clip out"),
])
def test_cli_bad_combinations_named(tmp_path, capsys, args, message):
    online_retail(200, seed=1).to_csv(tmp_path / "tx.csv", index=False)
    args = [str(tmp_path / "r.csv") if a == "RULES" else a for a in args]
    assert main(["segment", str(tmp_path / "tx.csv"), "--out", str(tmp_path / "o.csv"), *args]) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err
    assert not (tmp_path / "o.csv").exists()


def test_cli_predict_from_a_model_on_items_needs_the_log(tmp_path, capsys):
    log = online_retail(400, seed=2)
    log.to_csv(tmp_path / "tx.csv", index=False)
    assert main(["segment", str(tmp_path / "tx.csv"), "--rfm", "--by", "items", "--k", "3", "--stability", "0",
                 "--save", str(tmp_path / "m.pkl"), "-q"]) == 0
    rfm(log).to_csv(tmp_path / "table.csv")
    assert main(["predict", str(tmp_path / "table.csv"), "--model", str(tmp_path / "m.pkl"),
                 "--out", str(tmp_path / "p.csv")]) == 2
    assert "predict from a transaction log with --rfm" in capsys.readouterr().err
    assert not (tmp_path / "p.csv").exists()


def test_long_names_are_wrapped_in_legends_and_ticks(fitted):
    fig = fastseg.plots.snake_plot(fitted)
    texts = [t.get_text() for t in fig.axes[0].get_legend().get_texts()]
    assert [" ".join(t.split("\n")) for t in texts] == [f"{s}: {fitted.names[s]}" for s in range(fitted.k)]
    assert max(len(line) for t in texts for line in t.split("\n")) <= 36
    assert any("\n" in t for t in texts)  # the names with a product are longer than a line
    ticks = [t.get_text() for t in fastseg.plots.segment_sizes(fitted).axes[0].get_yticklabels()]
    assert ticks == texts


def test_more_segments_than_distinct_baskets_is_named():
    log = _small_log()  # four distinct baskets: two or three mugs, two or three teas, each with "bag"
    with pytest.raises(ValueError, match="take only 4 distinct baskets, so a segment would be empty; lower k to 4"):
        Segmenter(k=5, stability=0, random_state=0).fit(rfm(log, **COLS), baskets=baskets(log, item="item", **COLS))
