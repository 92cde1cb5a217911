"""baskets() against hand-computed matrices, and segment_items() against the statistics
computed another way (Fisher's exact test, Benjamini–Hochberg by its definition)."""

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
from scipy.stats import fisher_exact

import fastseg
from fastseg import Segmenter, baskets, rfm, segment_items
from fastseg.baskets import Baskets, _benjamini_hochberg
from fastseg.datasets import online_retail

COLS = dict(customer="cust", date="day", invoice="inv", quantity="qty", price="price")


def _log():
    rows = [
        ("1", "A", "2024-01-01", "x", "Mug", 2, 5.0),
        ("1", "A", "2024-01-01", "y", "Tea", 1, 3.0),
        ("2", "A", "2024-01-10", "x", "Mug!", 1, 7.0),  # A buys x twice: summed; x's name is its usual one
        ("3", "B", "2024-01-05", "y", "Tea", 4, 2.5),
        ("C4", "B", "2024-01-06", "z", "Pot", -4, 2.5),  # cancelled
        ("5", None, "2024-01-07", "z", "Pot", 1, 1.0),  # missing customer
        ("6", "B", "not a date", "z", "Pot", 1, 1.0),  # unreadable date
        ("7", "B", "2024-01-08", "z", "Pot", 0, 9.0),  # non-positive quantity
        ("8", "B", "2024-01-08", "z", "Pot", 2, 0.0),  # non-positive price
        ("C9", "D", "2024-01-09", "x", "Mug", -1, 4.0),  # D has only a cancellation
        ("10", "E", "2024-01-11", None, None, 3, 1.0),  # E's only row names no item
        ("11", "E", "2024-01-11", "x", "Mug", 1, 2.0),
    ]
    return pd.DataFrame(rows, columns=["inv", "cust", "day", "item", "desc", "qty", "price"])


def test_hand_computed_matrix_cleaned_as_rfm():
    b = baskets(_log(), item="item", item_names="desc", **COLS)
    assert list(b.customers) == ["A", "B", "E"] and b.customers.name == "cust"
    assert list(b.items) == ["x", "y"]  # z is only on dropped rows
    expected = [[10.0 + 7.0, 3.0], [0.0, 10.0], [2.0, 0.0]]
    np.testing.assert_allclose(b.matrix.toarray(), expected)
    assert sp.issparse(b.matrix) and b.matrix.format == "csr"
    assert b.item_names.to_dict() == {"x": "Mug", "y": "Tea"}
    rep = b.attrs["cleaning"]
    assert rep["rows kept"] == 6 and rep["missing item"] == 1 and rep["cancelled invoice"] == 2
    assert rep["customers"] == 3 and rep["customers with no valid rows"] == 1
    assert b.attrs["columns"]["item"] == "item" and b.attrs["guessed"] == {}
    # the same customers, in the same order, as rfm's table of the log
    assert list(rfm(_log(), **COLS).index) == list(b.customers)
    assert b.buyers().to_dict() == {"x": 2, "y": 2}


def test_excluded_items_leave_the_matrix_not_the_customers():
    b = baskets(_log(), item="item", exclude=["y", "nope"], **COLS)
    assert list(b.items) == ["x"] and list(b.customers) == ["A", "B", "E"]  # B bought only y: an empty row
    np.testing.assert_allclose(b.matrix.toarray(), [[17.0], [0.0], [2.0]])
    assert b.attrs["cleaning"]["excluded items"] == 2 and b.attrs["excluded"] == ["y"]
    assert baskets(_log(), item="item", exclude="y", **COLS).shape == (3, 1)  # one value alone
    with pytest.raises(ValueError, match="that is not missing or excluded"):
        baskets(_log(), item="item", exclude=["x", "y"], **COLS)
    with pytest.raises(TypeError, match="exclude must be a list"):
        baskets(_log(), item="item", exclude=object(), **COLS)


@pytest.mark.parametrize("values, expected", [
    ("quantity", [[3.0, 1.0], [0.0, 4.0], [1.0, 0.0]]),
    ("lines", [[2.0, 1.0], [0.0, 1.0], [1.0, 0.0]]),
])
def test_quantity_and_lines(values, expected):
    b = baskets(_log(), item="item", values=values, **COLS)
    np.testing.assert_allclose(b.matrix.toarray(), expected)
    assert b.values == values and b.item_names is None


def test_amount_column_and_rows_align_with_rfm_on_the_shipped_log():
    log = online_retail(300, seed=3)
    b = baskets(log)  # every column read off its name
    assert b.attrs["guessed"]["item"] == "StockCode" and b.attrs["guessed"]["item_names"] == "Description"
    table = rfm(log)
    assert (b.customers == table.index).all()
    # the spend of each customer's row adds up to rfm's Monetary
    np.testing.assert_allclose(np.asarray(b.matrix.sum(axis=1)).ravel(), table["monetary"], rtol=1e-12)
    lines = log.assign(Amount=log["Quantity"] * log["UnitPrice"]).drop(columns=["Quantity", "UnitPrice"])
    b2 = baskets(lines)
    assert b2.attrs["columns"]["amount"] == "Amount"
    np.testing.assert_allclose(b2.matrix.toarray(), b.matrix.toarray())


def test_whole_number_product_ids_stay_whole_numbers():
    log = _log().assign(item=[101, 102, 101, 102, 103, 103, 103, 103, 103, 101, np.nan, 101])
    b = baskets(log, item="item", **COLS)
    assert list(b.items) == [101, 102] and b.items.dtype == np.int64


def test_item_guessed_by_name():
    log = _log().rename(columns={"item": "SKU", "desc": "Product Name"})
    b = baskets(log, **COLS)
    assert b.attrs["columns"]["item"] == "SKU" and b.attrs["columns"]["item_names"] == "Product Name"
    only_names = _log().drop(columns="item").rename(columns={"desc": "Product"})
    b = baskets(only_names, **COLS)  # no code: the product's name is the item
    assert b.attrs["columns"]["item"] == "Product" and b.item_names is None
    assert set(b.items) == {"Mug", "Tea", "Mug!"}


def test_bad_input_named():
    log = _log()
    with pytest.raises(ValueError, match=r"no column is named like the item.*item="):
        baskets(log.drop(columns=["item", "desc"]), **COLS)
    with pytest.raises(ValueError, match=r"several columns could be the item \('StockCode', 'SKU'\).*--item"):
        baskets(log.rename(columns={"item": "StockCode", "desc": "SKU"}), **COLS)
    with pytest.raises(ValueError, match=r"'itm' not found"):
        baskets(log, item="itm", **COLS)
    with pytest.raises(ValueError, match="values must be one of"):
        baskets(log, item="item", values="money", **COLS)
    amount = log.assign(total=log["qty"] * log["price"])
    with pytest.raises(ValueError, match="values='quantity' needs a quantity column"):
        baskets(amount, item="item", customer="cust", date="day", amount="total", values="quantity")
    with pytest.raises(ValueError, match="names an item in column 'item' that is not missing"):
        baskets(log.assign(item=None), item="item", **COLS)
    with pytest.raises(TypeError):
        baskets(log.to_numpy(), item="item", **COLS)


def _fisher_greater(b, n_seg, total_b, n):
    table = [[b, n_seg - b], [total_b - b, n - n_seg - (total_b - b)]]
    return fisher_exact(table, alternative="greater").pvalue


def _planted(seed=0, n=600, m=40, k=3):
    """Random baskets, segments at random, and items 0-2 bought far more often in segment 1."""
    rng = np.random.default_rng(seed)
    seg = rng.integers(0, k, n)
    p = np.full((n, m), 0.05)
    p[seg == 1, :3] = 0.4
    bought = rng.random((n, m)) < p
    spend = np.where(bought, rng.uniform(1, 10, (n, m)), 0.0)
    ids = pd.Index(1000 + np.arange(n), name="cust")
    b = Baskets(sp.csr_matrix(spend), ids, pd.Index([f"i{j}" for j in range(m)]), None, "spend", {})
    return b, pd.Series(seg, index=ids), bought, spend


def test_planted_items_found_with_the_exact_statistics():
    b, seg, bought, spend = _planted()
    out = segment_items(b, seg, top=10)
    assert set(out["segment"]) == {1} and set(out["item"]) == {"i0", "i1", "i2"}
    assert out.attrs["without"] == [0, 2]
    n = len(seg)
    tested_p = {}
    for s in range(3):
        members = (seg == s).to_numpy()
        for j in range(b.shape[1]):
            hits = int(bought[members, j].sum())
            share = hits / members.sum()
            if bought[:, j].sum() >= 10:  # every pair of an item bought by 10 or more is a test
                listed = hits >= 10 and share > bought[:, j].mean()
                tested_p[(s, j)] = _fisher_greater(hits, int(members.sum()), int(bought[:, j].sum()), n) if listed \
                    else 1.0
    assert out.attrs["tested"] == len(tested_p)
    keys = list(tested_p)
    p = np.array([tested_p[key] for key in keys])
    q_def = dict(zip(keys, _bh_definition(p)))
    for _, row in out.iterrows():
        j = int(row["item"][1:])
        members = (seg == 1).to_numpy()
        assert row["buyers"] == bought[members, j].sum()
        assert row["share of segment"] == pytest.approx(bought[members, j].mean())
        assert row["share of all"] == pytest.approx(bought[:, j].mean())
        assert row["index"] == pytest.approx(bought[members, j].mean() / bought[:, j].mean())
        assert row["share of spend"] == pytest.approx(spend[members, j].sum() / spend[members].sum())
        assert row["q"] == pytest.approx(q_def[(1, j)], rel=1e-9)
    assert list(out["index"]) == sorted(out["index"], reverse=True)  # by index within the segment


def test_no_standouts_when_items_do_not_depend_on_segments():
    rng = np.random.default_rng(7)
    n, m = 2000, 300
    bought = rng.random((n, m)) < rng.uniform(0.01, 0.3, m)
    ids = pd.Index(np.arange(n))
    b = Baskets(sp.csr_matrix(bought.astype(float)), ids, pd.Index(range(m)), None, "lines", {})
    out = segment_items(b, pd.Series(rng.integers(0, 5, n), index=ids))
    assert out.empty and out.attrs["without"] == [0, 1, 2, 3, 4] and out.attrs["tested"] > 500
    assert list(out.columns)[-2:] == ["share of lines", "q"]


def _bh_definition(p):
    """q_i = min over p_j >= p_i of p_j m / rank_j, capped at 1."""
    m = len(p)
    rank = np.argsort(np.argsort(p, kind="stable"), kind="stable") + 1
    return np.array([min(1.0, min(p[j] * m / rank[j] for j in range(m) if p[j] >= p[i])) for i in range(m)])


def test_benjamini_hochberg_by_its_definition():
    rng = np.random.default_rng(1)
    p = np.concatenate([rng.uniform(0, 1, 50), rng.uniform(0, 1e-4, 5), [0.5, 0.5]])
    np.testing.assert_allclose(_benjamini_hochberg(p), _bh_definition(p), rtol=1e-12)
    assert _benjamini_hochberg(np.array([])).size == 0


def test_labels_of_every_kind_and_customers_missing_on_either_side():
    b, seg, bought, _ = _planted(seed=2)
    ref = segment_items(b, seg, top=3)
    frame = pd.DataFrame({"segment": seg, "name": seg.map({0: "a", 1: "b", 2: "c"})})
    by_frame = segment_items(b, frame, top=3)
    assert list(by_frame["name"].unique()) == ["b"]
    pd.testing.assert_frame_equal(by_frame.drop(columns="name"), ref.drop(columns="name"))
    as_text = segment_items(b, seg.map({0: "a", 1: "b", 2: "c"}), top=3)  # segments named, not numbered
    assert list(as_text["segment"].unique()) == ["b"] and (as_text["buyers"].to_numpy() == ref["buyers"]).all()
    as_float = seg.astype(float)
    as_float.iloc[:5] = np.nan  # not segmented: left out
    out = segment_items(b, as_float, top=3)
    assert out.attrs["customers"] == len(seg) - 5 and out["segment"].dtype.kind == "i"
    extra = pd.concat([seg, pd.Series([1, 1], index=[1, 2])])  # labelled customers with no basket
    out = segment_items(b, extra, top=3)
    assert out.attrs["not in baskets"] == 2 and out.attrs["customers"] == len(seg) + 2
    assert (out["share of all"] < ref["share of all"].to_numpy()).all()  # two more customers, no more buyers


def test_with_a_segmentation_of_the_shipped_log():
    log = online_retail(1500, seed=4)
    b = baskets(log)
    seg = Segmenter(k=4, random_state=0, stability=0).fit(rfm(log))
    out = segment_items(b, seg)
    assert set(out["name"]) <= set(seg.names.values()) and len(out) >= 4
    assert (out["q"] <= 0.05).all() and (out["index"] > 1).all() and (out["buyers"] >= 10).all()
    assert out.groupby("segment").size().max() <= 5
    assert "Description" in out.columns
    # the matrix is k-means' input as it is: sparse rows of the same customers
    km = fastseg.KMeans(3, random_state=0, n_init=1).fit(b.matrix)
    assert km.labels_.shape == (len(seg.labels),)


def test_bad_arguments_named():
    b, seg, _, _ = _planted()
    with pytest.raises(TypeError, match="fastseg.baskets"):
        segment_items(b.matrix, seg)
    with pytest.raises(ValueError, match="top must be a whole number"):
        segment_items(b, seg, top=0)
    with pytest.raises(ValueError, match="min_buyers must be"):
        segment_items(b, seg, min_buyers=2.5)
    with pytest.raises(ValueError, match=r"fdr must be a number in \(0, 1\)"):
        segment_items(b, seg, fdr=5)
    with pytest.raises(ValueError, match="no customer of the labels"):
        segment_items(b, pd.Series([0, 1], index=["u", "v"]))
    with pytest.raises(ValueError, match="repeated customer ids"):
        segment_items(b, pd.concat([seg, seg]))
    with pytest.raises(ValueError, match="no 'segment' column"):
        segment_items(b, pd.DataFrame({"cluster": seg}))
    with pytest.raises(TypeError, match="labels must be"):
        segment_items(b, seg.to_numpy())


def test_report_section_and_lines_say_when_nothing_stands_out():
    from fastseg.report import render

    log = online_retail(600, seed=8)
    seg = Segmenter(k=3, random_state=0, stability=0).fit(rfm(log))
    items = segment_items(baskets(log), seg, top=2)
    html = render(seg, images=[], items=items)
    assert "What each segment buys" in html and "Buys more often than others:" in html
    assert html.count("×</td>") == len(items)  # one row per item that stands out
    none = segment_items(baskets(log), seg, min_buyers=10**6)  # nothing can be tested
    assert none.empty and none.attrs["without"] == [0, 1, 2]
    html = render(seg, images=[], items=none)
    assert "No item stands out for segment(s) 0, 1, 2" in html and "Buys more often" not in html


def test_report_escapes_shares_below_one_percent():
    from html.parser import HTMLParser

    from fastseg.report import render

    log = online_retail(600, seed=8)
    seg = Segmenter(k=3, random_state=0, stability=0).fit(rfm(log))
    items = segment_items(baskets(log), seg, top=5)
    assert (items["share of spend"] < 0.005).any()  # a sliver of the segment's spend: written "<1%"
    html = render(seg, images=[], items=items)
    cells = []

    class Cells(HTMLParser):
        def handle_data(self, data):
            cells.append(data)

    Cells().feed(html)
    assert "<1%" in cells and "&lt;1%" in html


def test_items_listed_on_the_shipped_log_are_the_planted_favourites():
    log, kinds, favourites = online_retail(3000, seed=11, return_kinds=True)
    assert online_retail(3000, seed=11).equals(log)  # the truth comes with the same log
    seg = Segmenter(k=5, random_state=0, stability=0).fit(rfm(log))
    items = segment_items(baskets(log), seg, top=10)
    planted = {code for codes in favourites.values() for code in codes}
    # nothing from the long-tailed background of 3,000 products: every item listed is some kind's favourite
    assert len(items) >= 2 * seg.k and set(items["item"]) <= planted
    # a segment mostly of one kind lists that kind's favourites first
    mix = pd.crosstab(seg.labels["segment"], kinds.reindex(seg.labels.index))
    for s, row in mix.iterrows():
        top_kind = row.idxmax()
        if row[top_kind] >= 0.8 * row.sum():
            assert set(items.loc[items["segment"] == s, "item"].head(3)) <= set(favourites[top_kind])
    assert (mix.max(axis=1) >= 0.8 * mix.sum(axis=1)).any()  # the check above ran at least once


@pytest.mark.parametrize("columns, want", [
    # UCI Online Retail and Online Retail II
    (["InvoiceNo", "StockCode", "Description", "Quantity", "InvoiceDate", "UnitPrice", "CustomerID", "Country"],
     ("StockCode", "Description")),
    (["Invoice", "StockCode", "Description", "Quantity", "InvoiceDate", "Price", "Customer ID", "Country"],
     ("StockCode", "Description")),
    # a superstore order log: the product's id, its name beside it (not Category, Sub-Category or Customer Name)
    (["Row ID", "Order ID", "Order Date", "Customer ID", "Customer Name", "Category", "Sub-Category", "Product ID",
      "Product Name", "Sales", "Quantity"], ("Product ID", "Product Name")),
    # order items: a product id and nothing to name it by
    (["order_id", "order_item_id", "product_id", "seller_id", "customer_id", "price"], ("product_id", None)),
    # a product named only by its name
    (["customer", "date", "Product", "amount"], ("Product", None)),
    (["user_id", "date", "sku", "item_name", "qty", "unit_price"], ("sku", "item_name")),
    # nothing named like a product
    (["user_id", "date", "total_amount", "Items"], (None, None)),
])
def test_item_columns_are_read_off_the_usual_names(columns, want):
    from fastseg._log_columns import guess_item_columns

    assert guess_item_columns(pd.DataFrame(columns=columns)) == want


def test_segments_by_what_customers_buy_recover_the_kinds_and_their_favourites():
    from sklearn.metrics import adjusted_rand_score
    from sklearn.preprocessing import normalize

    log, kinds, favourites = online_retail(3000, seed=11, return_kinds=True)
    b = baskets(log)
    X = normalize((b.matrix > 0).astype(np.float64))  # bought or not, rows of unit length: cosine k-means
    km = fastseg.KMeans(5, random_state=0, n_init=5).fit(X)
    truth = kinds.reindex(b.customers)
    assert adjusted_rand_score(truth, km.labels_) >= 0.9
    items = segment_items(b, pd.Series(km.labels_, index=b.customers), top=5)
    for s in range(5):
        kind = truth[km.labels_ == s].mode()[0]
        listed = set(items.loc[items["segment"] == s, "item"])
        assert len(listed) == 5 and listed <= set(favourites[kind])


def test_recommend_items_offers_the_segments_items_each_customer_has_not_bought():
    from fastseg import recommend_items

    b, seg, bought, _ = _planted(seed=4, n=900, m=30)
    items = segment_items(b, seg, top=10, min_buyers=5)
    rec = recommend_items(b, seg, items, top=2)
    listed = {s: list(g["item"]) for s, g in items.groupby("segment")}
    col = {name: j for j, name in enumerate(b.items)}
    expected, without = {}, 0
    for i, cust in enumerate(b.customers):
        s = seg[cust]
        free = [it for it in listed.get(s, []) if not bought[i, col[it]]][:2]
        if free:
            expected[cust] = free
        else:
            without += 1
    assert len(expected) > 100 and without > 100  # both kinds of customer are there
    got = {c: list(g.sort_values("rank")["item"]) for c, g in rec.groupby(level=0)}
    assert got == expected and rec.attrs["customers without an offer"] == without
    assert list(dict.fromkeys(rec.index)) == [c for c in b.customers if c in expected]  # the baskets' order
    assert set(rec["rank"]) <= {1, 2} and (rec["segment"] == seg.reindex(rec.index).to_numpy()).all()
    # a segment with nothing that stands out: its customers get no offer
    none = recommend_items(b, seg, items.iloc[:0], top=2)
    assert none.empty and none.attrs["customers without an offer"] == len(b.customers)


def test_recommend_items_bad_arguments_named():
    from fastseg import recommend_items

    b, seg, _, _ = _planted()
    items = segment_items(b, seg)
    with pytest.raises(ValueError, match="top must be"):
        recommend_items(b, seg, items, top=0)
    with pytest.raises(ValueError, match="lacks index"):
        recommend_items(b, seg, items.drop(columns="index"))
    # an item no one in these baskets bought (a list made on an older log) is offered to every customer
    other = items.assign(item=["new"] + list(items["item"].iloc[1:]))
    got = recommend_items(b, seg, other, top=1)
    first_segment = seg[seg == other["segment"].iloc[0]]
    assert (got.loc[got["segment"] == other["segment"].iloc[0], "item"] == "new").sum() == len(first_segment)
    with pytest.raises(TypeError, match="Baskets"):
        recommend_items(b.matrix, seg, items)


def test_segmentation_with_items_shows_renames_and_keeps_them(tmp_path):
    from fastseg import Segmentation
    from fastseg.report import render

    log = online_retail(800, seed=3)
    seg = Segmenter(k=3, random_state=0, stability=0).fit(rfm(log))
    assert seg.items is None and "Bought markedly" not in seg.summary()
    with_items = seg.with_items(baskets(log), top=4)
    pd.testing.assert_frame_equal(with_items.items, segment_items(baskets(log), seg, top=4))
    assert (with_items.labels == seg.labels).all().all()  # the segments are unchanged
    first = with_items.items.iloc[0]
    assert f"  {first['segment']}: {first['Description']} (" in with_items.summary()
    assert with_items.overview()["buys more often"].str.len().gt(0).any()
    assert "What each segment buys" in render(with_items, images=[])  # the report takes them from the segmentation
    renamed = with_items.rename({int(first["segment"]): "VIPs"})
    assert set(renamed.items.loc[renamed.items["segment"] == first["segment"], "name"]) == {"VIPs"}
    renamed.save(tmp_path / "seg.pkl")
    loaded = Segmentation.load(tmp_path / "seg.pkl")
    pd.testing.assert_frame_equal(loaded.items, renamed.items)
    assert loaded.items.attrs == renamed.items.attrs and "What each segment buys" in render(loaded, images=[])
