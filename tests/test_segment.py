"""Segmenter on the shipped data: known groups found, named profiles that differ."""

import warnings

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import adjusted_rand_score

from fastseg import Segmentation, Segmenter, rfm
from fastseg.datasets import mall_customers, online_retail
from fastseg.segment import column_text

MALL_FEATURES = ["Annual Income (k$)", "Spending Score (1-100)"]


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_mall_five_known_groups(seed):
    df, truth = mall_customers(200, seed=seed, return_groups=True)
    seg = Segmenter(features=MALL_FEATURES, transform=None, random_state=0).fit(df.set_index("CustomerID"))
    assert seg.k == 5
    assert adjusted_rand_score(truth, seg.labels["segment"]) >= 0.9
    names = set(seg.names.values())
    assert {"high income, high spending score", "low income, high spending score"} <= {
        n.replace("very ", "") for n in names
    } or len(names) == 5


def _retail_rfm():
    tx = online_retail(2000, seed=0)  # the demo's data
    return rfm(tx, customer="CustomerID", date="InvoiceDate", invoice="InvoiceNo", quantity="Quantity",
               price="UnitPrice")


def test_retail_named_segments_whose_profiles_differ():
    table = _retail_rfm()
    seg = Segmenter(random_state=0).fit(table)
    assert seg.features == ["recency", "frequency", "monetary"]
    assert 2 <= seg.k <= 10
    assert len(set(seg.names.values())) == seg.k  # distinct names
    prof = seg.profiles
    assert prof["size"].sum() == len(table) and prof["share"].sum() == pytest.approx(1.0)
    assert list(prof["size"]) == sorted(prof["size"], reverse=True)  # segment 0 is the largest
    # profiles differ: every pair of segments differs by > 25% in some feature's median
    med = prof[[f"{f} median" for f in seg.features]].to_numpy()
    for i in range(seg.k):
        for j in range(i + 1, seg.k):
            assert np.max(np.abs(med[i] - med[j]) / (np.abs(med).max(axis=0) + 1e-9)) > 0.05
    # names follow the profiles: the segment named "very recent..." has the lowest recency
    best = prof["monetary mean"].idxmax()
    assert "high spend" in seg.names[best]
    # labels keyed by customer id, one row per customer
    assert seg.labels.index.equals(table.index)
    assert seg.cleaning and seg.cleaning["rows in"] > seg.cleaning["rows kept"]


def test_relative_importance_and_profiles_in_original_units():
    table = _retail_rfm()
    seg = Segmenter(k=4, random_state=0).fit(table)
    for s in range(4):
        part = table[seg.labels["segment"] == s]
        assert seg.profiles.loc[s, "monetary mean"] == pytest.approx(part["monetary"].mean())
        assert seg.profiles.loc[s, "recency median"] == pytest.approx(part["recency"].median())
        # clustered in log1p units: compared where the centre sits, expm1 of the mean log1p
        typical = np.expm1(np.log1p(part["frequency"]).mean())
        assert seg.profiles.loc[s, "frequency rel. importance"] == pytest.approx(
            typical / np.expm1(np.log1p(table["frequency"]).mean()) - 1)
    plain = Segmenter(k=4, transform=None, random_state=0, stability=0, rules=False).fit(table)
    for s in range(4):  # kept as is: the classic segment mean over population mean, minus 1
        part = table[plain.labels["segment"] == s]
        assert plain.profiles.loc[s, "monetary rel. importance"] == pytest.approx(
            part["monetary"].mean() / table["monetary"].mean() - 1)


def test_relative_importance_agrees_with_the_names():
    """A segment named "high spend" never reads below average spend. With spend's mean
    pulled up by the largest customers (the shipped retail data), the mean ratio put the
    demo's "frequent, high spend, recent" segment at -4% spend; the typical value (where
    the log1p centre sits) puts every named feature on the side its name says."""
    table = _retail_rfm()
    seg = Segmenter(k=5, random_state=0, stability=0, rules=False).fit(table)
    z = seg.centers
    checked = 0
    for s in range(seg.k):
        for f in seg.features:
            if abs(z.loc[s, f]) >= 0.5:  # the names read features this far from average
                rel = seg.profiles.loc[s, f"{f} rel. importance"]
                assert np.sign(rel) == np.sign(z.loc[s, f]), (s, f, rel, z.loc[s, f], seg.names[s])
                checked += 1
    assert checked >= seg.k
    mean_ratio = seg.profiles["monetary mean"] / table["monetary"].mean() - 1
    # the data this guards: a segment whose centre is high spend but whose mean is below average
    named_high = [s for s in range(seg.k) if "high spend" in seg.names[s] and "very" not in seg.names[s]]
    assert any(mean_ratio[s] < 0.25 for s in named_high)


def test_predict_save_load(tmp_path):
    df, _ = mall_customers(300, seed=4, return_groups=True)
    seg = Segmenter(features=MALL_FEATURES + ["Age"], scale="robust", k=5, random_state=0).fit(df)
    again = seg.predict(df)
    np.testing.assert_array_equal(again["segment"], seg.labels["segment"])
    path = tmp_path / "seg.pkl"
    seg.save(path)
    back = Segmentation.load(path)
    np.testing.assert_array_equal(back.predict(df.iloc[:17])["segment"], seg.labels["segment"][:17])
    assert back.names == seg.names
    with pytest.raises(ValueError, match="not found"):
        seg.predict(df.drop(columns=["Age"]))


@pytest.mark.parametrize(
    "make, kwargs, match",
    [
        (lambda d: d, dict(features=["nope"]), r"column\(s\) 'nope' not found; available: 'CustomerID', 'Gender'"),
        (lambda d: d, dict(features=["Gender"]),
         "'Gender' are not numeric, and k-means needs numbers: leave them out .*described by its mix"),
        (lambda d: d.assign(flat=3.0), dict(features=["Age", "flat"]), "'flat' hold a single value"),
        (lambda d: d.assign(Age=d["Age"].where(d.index > 4)), dict(features=["Age"]),
         r"5 of 200 rows have missing or infinite values in 'Age'"),
        (lambda d: d.iloc[:1], dict(), "at least 2 customers"),
        (lambda d: d, dict(k=0), "k must be 'auto' or an int >= 1"),
        (lambda d: d, dict(scale="minmax"), "scale must be"),
    ],
)
def test_bad_tables(make, kwargs, match):
    df = mall_customers(200, seed=0)
    with pytest.raises(ValueError, match=match):
        Segmenter(**kwargs).fit(make(df))


@pytest.mark.parametrize("name", ["id", "ID", "customer_id", "Customer ID", "CustomerID", "userId", "customerid",
                                  "cust-id"])
def test_identifier_columns_are_left_out_and_key_the_labels(name):
    df = mall_customers(200, seed=0).rename(columns={"CustomerID": name})
    seg = Segmenter(random_state=0).fit(df)
    assert name not in seg.features and "Gender" not in seg.features
    assert seg.features == ["Age", "Annual Income (k$)", "Spending Score (1-100)"]
    assert seg.id_column == name
    assert seg.left_out == {name: "an identifier", "Gender": "not numeric"}
    assert seg.labels.index.name == name
    np.testing.assert_array_equal(seg.labels.index, df[name])
    # the same as keying the table by hand
    by_hand = Segmenter(random_state=0).fit(df.set_index(name))
    assert by_hand.id_column is None and by_hand.left_out == {"Gender": "not numeric"}
    np.testing.assert_array_equal(by_hand.labels["segment"], seg.labels["segment"])
    # predict keys a new table the same way
    got = seg.predict(df.iloc[:7])
    assert got.index.name == name and list(got.index) == list(df[name][:7])
    np.testing.assert_array_equal(got["segment"], seg.labels["segment"][:7])
    text = seg.summary()
    assert f"Labels keyed by {name}" in text and f"left out: {name} (an identifier), Gender (not numeric)" in text


@pytest.mark.parametrize("name", ["paid", "valid", "Grid", "visits"])
def test_columns_not_named_like_ids_stay_features(name):
    df = mall_customers(200, seed=0).drop(columns=["CustomerID"])
    df[name] = np.arange(200) * 3 + 1  # distinct whole numbers, but not named like an id
    seg = Segmenter(k=3, random_state=0).fit(df)
    assert name in seg.features and seg.id_column is None
    assert seg.labels.index.equals(df.index)


def test_an_id_column_with_repeats_is_a_code_and_no_key():
    df = mall_customers(200, seed=0)
    df["store_id"] = np.arange(200) % 7  # a code shared by many customers, not their identity
    seg = Segmenter(k=3, random_state=0).fit(df)
    assert "store_id" not in seg.features and seg.id_column == "CustomerID"
    assert seg.left_out["store_id"] == "a code: categories as numbers"
    assert "store_id" in seg.described  # its 7 stores: each segment's mix of them


def test_row_number_column_of_a_saved_index_is_left_out(tmp_path):
    import pandas as pd

    df = mall_customers(200, seed=0).drop(columns=["CustomerID"])
    df.to_csv(tmp_path / "m.csv")  # the index comes back as "Unnamed: 0"
    back = pd.read_csv(tmp_path / "m.csv")
    seg = Segmenter(k=4, random_state=0).fit(back)
    assert seg.left_out == {"Unnamed: 0": "a row number", "Gender": "not numeric"}
    assert seg.id_column is None  # row numbers are not customers' ids: the labels keep the row index
    assert "Unnamed: 0" not in seg.features


def test_key_only_from_a_plain_index_and_a_single_id():
    df = mall_customers(200, seed=0)
    two = df.assign(account_id=df["CustomerID"] + 1000)
    seg = Segmenter(k=3, random_state=0).fit(two)
    assert seg.id_column is None  # which one is the customer? neither is guessed
    assert {"CustomerID", "account_id"} <= set(seg.left_out) and seg.labels.index.equals(two.index)
    shuffled = df.sample(frac=1.0, random_state=0)  # an index of its own: kept
    seg = Segmenter(k=3, random_state=0).fit(shuffled)
    assert seg.id_column is None and seg.labels.index.equals(shuffled.index)
    # explicit features: keyed all the same, nothing reported as left out
    seg = Segmenter(features=MALL_FEATURES, k=3, random_state=0).fit(df)
    assert seg.id_column == "CustomerID" and seg.left_out == {}
    # an id chosen as a feature is the caller's call: not a key
    seg = Segmenter(features=MALL_FEATURES + ["CustomerID"], k=3, random_state=0).fit(df)
    assert seg.id_column is None and "CustomerID" in seg.features


def test_a_table_from_concat_is_keyed_by_its_id_column_and_a_repeated_index_is_an_error():
    df = mall_customers(200, seed=0)
    more = mall_customers(40, seed=1).assign(CustomerID=lambda t: t["CustomerID"] + 1000)
    both = pd.concat([df, more])  # index 0..199 then 0..39 again
    seg = Segmenter(features=MALL_FEATURES, k=5, random_state=0).fit(both)
    ref = Segmenter(features=MALL_FEATURES, k=5, random_state=0).fit(both.reset_index(drop=True))
    assert seg.id_column == "CustomerID" and seg.labels.index.equals(ref.labels.index)
    np.testing.assert_array_equal(seg.labels["segment"], ref.labels["segment"])
    assert seg.predict(both).index.equals(pd.Index(both["CustomerID"]))
    assert len(seg.profiles) == 5 and seg.profiles["size"].sum() == 240
    with pytest.raises(ValueError, match=r"the table's index repeats row numbers \(40 numbers on several rows, "
                                         r"e\.g\. 0 on 2 rows; pd\.concat .* no column is a customer id .* "
                                         r"df\.reset_index\(drop=True\)"):
        Segmenter(features=MALL_FEATURES, k=5).fit(both.drop(columns="CustomerID"))
    with pytest.raises(ValueError, match=r"the table's index \(Gender\) repeats 2 labels \(e\.g\. 'Female' on "
                                         r"\d+ rows\); .* one row per customer"):
        Segmenter(features=MALL_FEATURES, k=5).fit(df.set_index("Gender"))


def test_a_totals_row_is_left_out_by_position_whatever_the_index_repeats():
    df = mall_customers(60, seed=2)[["Annual Income (k$)", "Spending Score (1-100)"]]
    total = df.sum().to_frame().T
    table = pd.concat([df, total.set_axis([59])]).set_axis(["a"] * 61).rename_axis("region")
    prep_rows = Segmenter(k=3).prepare(table)[2].shape[0]
    assert prep_rows == 60  # only the last row went, not every row labelled "a"


def test_no_feature_left_says_what_was_left_out():
    df = mall_customers(50, seed=0)[["CustomerID", "Gender"]]
    with pytest.raises(ValueError, match=r"no numeric column to segment on \(left out: Gender \(not numeric\)\); "
                                         r"name the columns to cluster on with features=\[\.\.\.\] \(--features\)\."):
        Segmenter().fit(df)


def test_names_read_naturally_and_repr_is_short():
    import pandas as pd

    from fastseg._profiles import segment_names

    centers = pd.DataFrame([[-2.0, 0.0], [0.7, 0.0], [0.0, -1.5], [0.1, 0.2]], columns=["Age", "Recency"])
    assert segment_names(centers) == {0: "much younger", 1: "older", 2: "very recent", 3: "typical"}
    seg = Segmenter(features=MALL_FEATURES, k=5, random_state=0).fit(mall_customers(200, seed=0))
    assert repr(seg) == ("Segmentation(200 customers, 5 segments, "
                         "features=['Annual Income (k$)', 'Spending Score (1-100)'])")


def test_segmentations_pickled_before_the_classes_moved_find_them_by_their_old_paths():
    import fastseg._feature_pipeline
    import fastseg.segment
    import fastseg.segmentation

    # a pickle names a class by module and name: fastseg.segment held both until 2026-11-24
    assert fastseg.segment.Segmentation is fastseg.segmentation.Segmentation
    assert fastseg.segment._Prep is fastseg._feature_pipeline._Prep


def test_a_segmentation_saved_before_the_id_fields_still_loads_and_predicts(tmp_path):
    import pickle

    seg = Segmenter(features=MALL_FEATURES, k=3, random_state=0).fit(mall_customers(100, seed=0))
    state = dict(seg.__dict__)
    for newer in ("id_column", "left_out", "rfm_mix", "distance_q99", "composition", "described", "outlying"):
        # what an older fastseg did not pickle
        del state[newer]
    prep = type(seg.prep).__new__(type(seg.prep))
    prep.__dict__.update({f: v for f, v in seg.prep.__dict__.items() if f not in ("clip", "bounds", "capped")})
    state["prep"] = prep
    old = Segmentation.__new__(Segmentation)
    old.__dict__.update(state)
    path = tmp_path / "old.pkl"
    path.write_bytes(pickle.dumps(old))
    back = Segmentation.load(path)
    df = mall_customers(100, seed=0)
    np.testing.assert_array_equal(back.predict(df)["segment"], seg.labels["segment"])
    assert back.predict(df).index.equals(df.index)  # not keyed: that fit was not
    assert "customers in 3 segments" in back.summary()
    assert back.distance_q99 is None and back.rfm_mix is None
    assert back.composition == {} and back.described == [] and back.outlying == {}
    from fastseg.report import render

    assert "<h2>Profiles</h2>" in render(back, images=[])  # the report of an old segmentation


def test_rfm_mix_reads_segments_against_the_classic_grid(tmp_path):
    from fastseg import report
    from fastseg.features import RFM_SEGMENTS

    table = _retail_rfm()
    seg = Segmenter(k=4, random_state=0).fit(table)
    mix = seg.rfm_mix
    assert list(mix.index) == [0, 1, 2, 3]
    grid_order = [n for n, _, _ in RFM_SEGMENTS]
    assert list(mix.columns) == [n for n in grid_order if n in set(table["rfm_segment"])]
    np.testing.assert_allclose(mix.sum(axis=1), 1.0)
    for s in range(4):  # by hand: the share of segment s's customers in each grid segment
        mine = table["rfm_segment"][seg.labels["segment"].to_numpy() == s]
        for name in mix.columns:
            assert mix.loc[s, name] == pytest.approx((mine == name).mean())
        top = mine.value_counts().idxmax()
        assert f"{s}: {seg.names[s]}" in seg.summary() and f"mostly {top}" in seg.summary()
    path = tmp_path / "r.html"
    report(seg, path)
    assert "Against the classic RFM grid" in path.read_text()
    plain = Segmenter(features=MALL_FEATURES, k=3, random_state=0).fit(mall_customers(100, seed=0))
    assert plain.rfm_mix is None and "RFM grid" not in plain.summary()
    report(plain, path)
    assert "Against the classic RFM grid" not in path.read_text()


def test_identifier_column_names():
    import pandas as pd

    from fastseg.features import identifier_columns

    ids = ["id", "ID", "Id", "customer_id", "Customer ID", "CustomerID", "customerId", "userID", "customerid",
           "CUSTOMERID", "cust-id", "Grid ID", " member_id "]
    not_ids = ["paid", "Paid", "PAID", "valid", "fluid", "Invalid", "Age", "idle", "ident", "grid", "SKUID"]
    df = pd.DataFrame({name: np.arange(5) + 10 for name in ids + not_ids})
    df["Unnamed: 0"] = np.arange(5)
    df["order_id"] = [1, 1, 2, 3, 4]  # repeats: a code, not an identity
    df["ratio_id"] = [0.5, 1.5, 2.5, 3.5, 4.5]  # not whole numbers
    df["score_id"] = [1, 2, None, 4, 5]  # a missing value
    df["client_id"] = ["C-1", "C-2", "C-3", "C-4", "C-5"]  # distinct texts: an identity too
    df["segment_id"] = ["a", "b", "a", "c", "d"]  # repeated text: a code
    df["member id"] = ["x", "y", None, "z", "w"]  # a missing text
    df["account_id"] = ["1", 2, "3", "4", "5"]  # text and numbers mixed: not one kind of key
    assert identifier_columns(df) == {**{n: "id" for n in ids}, "Unnamed: 0": "row number", "client_id": "id"}


def test_a_text_customer_id_keys_the_labels():
    rng = np.random.default_rng(3)
    df = pd.DataFrame({"customer_id": [f"C-{i:05d}" for i in range(90)], "spend": rng.gamma(2, 100, 90),
                       "visits": rng.poisson(4, 90)})
    seg = Segmenter(k=3, random_state=0).fit(df)
    assert seg.id_column == "customer_id" and seg.labels.index.name == "customer_id"
    assert list(seg.labels.index[:2]) == ["C-00000", "C-00001"] and seg.features == ["spend", "visits"]
    assert seg.left_out == {"customer_id": "an identifier"}
    new = df.iloc[[5, 2]].reset_index(drop=True)  # a table as read from a file: a plain row index
    assert list(seg.predict(new).index) == ["C-00005", "C-00002"]


def test_distances_tell_how_well_new_customers_fit():
    df = mall_customers(300, seed=11)
    seg = Segmenter(features=MALL_FEATURES, k=5, random_state=0).fit(df)
    d = seg.distances(df)
    assert d.index.equals(seg.labels.index) and d.name == "distance"
    # by hand: the scaled rows against the centres
    Z = seg.prep.apply(df)
    C = seg.model.cluster_centers_
    np.testing.assert_allclose(d, np.sqrt(((Z[:, None, :] - C[None]) ** 2).sum(-1)).min(axis=1), rtol=1e-10)
    # the fitted customers: 1% lie beyond the 99th percentile, by its definition
    assert (d > seg.distance_q99).mean() <= 0.01 + 1e-12 and (d >= seg.distance_q99).mean() >= 0.01
    # customers unlike the fitted ones (incomes tripled) fit far worse
    drifted = df.assign(**{"Annual Income (k$)": df["Annual Income (k$)"] * 3})
    assert (seg.distances(drifted) > seg.distance_q99).mean() > 0.3


def _mall_with_text_columns(n=200, seed=0):
    df = mall_customers(n, seed=seed)
    rng = np.random.default_rng(seed)
    df["Name"] = [f"customer {i}" for i in range(n)]  # free text: one value per customer
    df["City"] = rng.choice([f"city {i}" for i in range(12)], n)  # 12 values: 8 shown, then "other"
    df["Member"] = rng.random(n) < 0.3
    df.loc[::17, "City"] = None
    return df


def test_describe_auto_profiles_categorical_columns_by_segment():
    df = _mall_with_text_columns()
    seg = Segmenter(k=4, random_state=0).fit(df)
    assert seg.described == ["Gender", "City", "Member"]  # not the id, not free text, not the features
    assert set(seg.composition) == {"Gender", "City", "Member"}
    lab = seg.labels["segment"].to_numpy()
    gender = seg.composition["Gender"]
    assert list(gender.index) == [0, 1, 2, 3, "all"]
    for s in range(4):  # by hand
        part = df["Gender"].to_numpy()[lab == s]
        for v in ("Female", "Male"):
            assert gender.loc[s, v] == pytest.approx(np.mean(part == v))
    assert gender.loc["all", "Female"] == pytest.approx(np.mean(df["Gender"] == "Female"))
    city = seg.composition["City"]
    first_seen = list(dict.fromkeys(df["City"].dropna()))
    top8 = sorted(first_seen, key=lambda c: (-(df["City"] == c).sum(), first_seen.index(c)))[:8]
    assert list(city.columns) == list(top8) + ["other", "(missing)"]
    np.testing.assert_allclose(city.sum(axis=1), 1.0)
    assert city.loc["all", "(missing)"] == pytest.approx(df["City"].isna().mean())
    assert city.loc["all", "other"] == pytest.approx((~df["City"].isin(top8) & df["City"].notna()).mean())
    assert list(seg.composition["Member"].columns) == [False, True]
    assert "Described by segment, not clustered on: Gender, City, Member." in seg.summary()
    assert Segmenter(k=4, random_state=0, describe=None).fit(df).composition == {}


def test_a_value_that_stands_out_is_named_in_the_summary_and_chance_is_not():
    rng = np.random.default_rng(1)
    n = 600
    grp = rng.integers(0, 3, n)
    df = pd.DataFrame({"spend": rng.normal(0, 1, n) + 8 * grp, "visits": rng.normal(0, 1, n) + 8 * grp})
    # channel: segment of grp 2 mostly "app"; elsewhere a coin toss between web and store
    df["channel"] = np.where((grp == 2) & (rng.random(n) < 0.9), "app", rng.choice(["web", "store"], n))
    df["coin"] = rng.choice(["heads", "tails"], n)  # independent of everything: never stands out
    seg = Segmenter(k=3, transform=None, random_state=0).fit(df)
    s_app = int(pd.Series(seg.labels["segment"].to_numpy()[grp == 2]).mode()[0])
    text = seg.summary()
    line = next(t for t in text.splitlines() if t.startswith(f"  {s_app}:"))
    share = seg.composition["channel"].loc[s_app, "app"]
    assert share > 0.85 and f"channel: app {share:.0%} (all " in line
    assert "coin:" not in text

    from fastseg._profiles import standouts

    tab = pd.DataFrame({"M": [0.75, 0.46], "F": [0.25, 0.54]}, index=[0, "all"])
    assert standouts({"g": tab}, {0: 8}, 0) == []  # 6 of 8: within chance
    assert standouts({"g": tab}, {0: 200}, 0) == ["g: M 75% (all 46%)"]
    # a yes/no flag reads as its yes share, above or below all customers'
    for yes, no in ((1, 0), (True, False)):
        low = pd.DataFrame({no: [0.81, 0.6], yes: [0.19, 0.4]}, index=[0, "all"])
        assert standouts({"Responded": low}, {0: 200}, 0) == ["Responded: 19% yes (all 40%)"]
        assert standouts({"Responded": low}, {0: 8}, 0) == []  # 1.5 of 8 against 3.2: within chance
    high = pd.DataFrame({1: [0.73, 0.4], 2: [0.27, 0.6]}, index=[0, "all"])  # a 1/2 code is no flag
    assert standouts({"Channel": high}, {0: 200}, 0) == ["Channel: 1 73% (all 40%)"]


def test_describe_explicit_columns_numeric_ones_join_the_profiles():
    df = mall_customers(200, seed=0)
    seg = Segmenter(features=MALL_FEATURES, k=5, random_state=0).fit(df)
    assert seg.described == ["Gender", "Age"]  # with features given, the other numeric column too
    lab = seg.labels["segment"].to_numpy()
    for s in range(5):
        assert seg.profiles.loc[s, "Age mean"] == pytest.approx(df["Age"].to_numpy()[lab == s].mean())
        assert seg.profiles.loc[s, "Age median"] == pytest.approx(np.median(df["Age"].to_numpy()[lab == s]))
    only = Segmenter(features=MALL_FEATURES, k=5, random_state=0, describe=["Age"]).fit(df)
    assert only.described == ["Age"] and only.composition == {}
    np.testing.assert_array_equal(only.labels["segment"], seg.labels["segment"])  # describing changes no label
    # features chosen by the segmenter: a numeric column named to describe is taken out of them
    auto = Segmenter(k=5, random_state=0, stability=0, describe=["Age"]).fit(df)
    assert auto.features == MALL_FEATURES and auto.described == ["Age"] and "Age" not in auto.left_out
    np.testing.assert_array_equal(auto.labels["segment"], seg.labels["segment"])


@pytest.mark.parametrize("features, describe, match", [
    (None, ["Nope"], r"column\(s\) 'Nope' not found; available: 'CustomerID', 'Gender'"),
    (["Age", "Annual Income (k$)"], ["Age"], r"column\(s\) 'Age' are features already"),
    (None, 3, "describe must be 'auto', a list of columns or None"),
])
def test_describe_errors_come_before_the_sweep(features, describe, match, monkeypatch):
    import fastseg.segment as segment

    def no_sweep(*a, **k):
        raise AssertionError("swept before checking describe")

    monkeypatch.setattr(segment, "sweep", no_sweep)
    with pytest.raises(ValueError, match=match):
        Segmenter(features=features, describe=describe).fit(mall_customers(100, seed=0))


def test_rfm_tenure_is_described_and_each_segments_median_is_in_the_summary():
    table = rfm(online_retail(800, seed=0))
    assert (table["tenure"] >= table["recency"]).all()  # the first purchase is no later than the last
    seg = Segmenter(k=3, random_state=0, stability=0).fit(table)
    assert "tenure" not in seg.features and "tenure" in seg.described
    median = table["tenure"].groupby(seg.labels["segment"]).median()
    lines = seg.summary().splitlines()
    for s in range(3):
        line = next(x for x in lines if x.startswith(f"  {s}: "))
        n = round(median[s])
        assert "; RFM grid: mostly " in line and f", median tenure {n:,} day{'' if n == 1 else 's'}" in line


def test_named_new_marks_segments_of_new_customers_by_their_median_tenure():
    from fastseg._profiles import NEW_DAYS, named_new

    names = {0: "infrequent, recent, low spend", 1: "lapsed", 2: "very recent", 3: "frequent, high spend"}
    seg = np.repeat([0, 1, 2, 3], 5)
    tenure = np.r_[[10, 20, 30, 200, 300], [250] * 5, [300] * 5, [40, 50, 60, 70, 80]]
    out = named_new(names, tenure, seg, 4)
    # 0: median 30 of all 250: new, and "recent" said by "new"; 3: median 60, new though no word said recent
    assert out == {0: "new, infrequent, low spend", 1: "lapsed", 2: "very recent", 3: "new, frequent, high spend"}
    # a median over a third of all customers' is not new, however short: a log of two months
    assert named_new(names, np.r_[tenure[:5], [40] * 15], seg, 4) == names
    # nor one past NEW_DAYS, however far below the others
    assert named_new(names, np.where(seg == 0, NEW_DAYS + 1, 10 * NEW_DAYS), seg, 4) == names
    assert named_new({0: "typical", 1: "x"}, np.r_[[5] * 5, [900] * 6], np.r_[[0] * 5, [1] * 6], 2)[0] == "new"


def test_a_segment_of_new_customers_from_rfm_is_named_new_and_keeps_the_name():
    table = rfm(online_retail(seed=0))
    seg = Segmenter(k=5, random_state=0, stability=0).fit(table)  # the k the demo chooses
    median = table["tenure"].groupby(seg.labels["segment"]).median()
    new = [s for s in range(seg.k) if seg.names[s].startswith("new")]
    assert new and new == [s for s in range(seg.k) if median[s] <= 90 and median[s] <= table["tenure"].median() / 3]
    assert all("recent" not in seg.names[s].split(", ") for s in new)
    untimed = Segmenter(k=5, random_state=0, stability=0).fit(table.drop(columns="tenure"))
    assert untimed.names[new[0]] != seg.names[new[0]]
    renamed = seg.rename({new[0]: "Welcome"})
    assert renamed.titled(new[0]) == f"Welcome ({seg.names[new[0]]})"  # the description keeps "new"
    assert (seg.predict(table)["name"] == seg.labels["name"]).all()


def test_rfm_attributes_are_described_and_rfm_columns_are_not():
    tx = online_retail(800, seed=0)
    table = rfm(tx, customer="CustomerID", date="InvoiceDate", invoice="InvoiceNo", quantity="Quantity",
                price="UnitPrice", attributes=["Country"])
    seg = Segmenter(k=3, random_state=0).fit(table)
    # tenure and Country described; not rfm_segment (that is rfm_mix), R/F/M, RFM, score
    assert seg.described == ["tenure", "Country"]
    assert seg.composition["Country"].columns[0] == "United Kingdom"


def test_missing_drop_segments_the_other_customers_as_if_the_gaps_were_not_there():
    df = mall_customers(200, seed=4)
    gaps = [3, 10, 50, 199]
    holed = df.astype({"Spending Score (1-100)": float})
    holed.loc[gaps[:3], "Age"] = np.nan
    holed.loc[gaps[3], "Spending Score (1-100)"] = np.inf
    with pytest.raises(ValueError, match=r"4 of 200 rows have missing or infinite values in 'Age', 'Spending "
                                         r"Score \(1-100\)'; fill or drop them first, or .* missing='drop'"):
        Segmenter(k=4, random_state=0).fit(holed)
    seg = Segmenter(k=4, random_state=0, missing="drop").fit(holed)
    ref = Segmenter(k=4, random_state=0).fit(df.drop(index=gaps).reset_index(drop=True))
    np.testing.assert_array_equal(seg.labels["segment"], ref.labels["segment"])
    assert seg.labels.index.equals(ref.labels.index)
    assert list(seg.not_segmented) == list(df["CustomerID"].iloc[gaps])
    assert "4 customers not segmented: a missing or infinite value in Age, Spending Score (1-100)" in seg.summary()
    from fastseg.report import render

    assert "4 customers were not segmented: a missing or infinite value in Age" in render(seg, images=[])
    pred = seg.predict(holed)
    assert str(pred["segment"].dtype) == "Int64" and len(pred) == 200
    assert pred["segment"].isna().sum() == 4 and pred["segment"].iloc[gaps].isna().all()
    assert (pred["name"].iloc[gaps] == "not segmented: missing values").all()
    np.testing.assert_array_equal(pred["segment"].dropna().to_numpy(dtype=int), seg.labels["segment"])
    dist = seg.distances(holed)
    assert dist.iloc[gaps].isna().all() and dist.notna().sum() == 196
    with pytest.raises(ValueError, match=r"4 of 200 rows have missing or infinite values in 'Age', 'Spending "
                                         r"Score \(1-100\)'; fill or drop them first. A segmentation fitted with "
                                         r"missing='drop' \(--missing drop\) leaves such customers unsegmented"):
        ref.predict(holed)  # fitted with missing="error": so is its predict (which has no missing= of its own)
    with pytest.raises(ValueError, match="missing must be 'error' or 'drop'; got 'mean'"):
        Segmenter(missing="mean").fit(df)
    allgone = df.copy()  # every row misses one of the features, no feature misses every row
    allgone.loc[::2, "Age"] = np.nan
    allgone.loc[1::2, "Annual Income (k$)"] = np.nan
    with pytest.raises(ValueError, match="200 of 200 rows .* every row; fill them first"):
        Segmenter(missing="drop").fit(allgone)


def test_transitions_count_every_customer_once_by_hand():
    df = mall_customers(200, seed=6)
    df.loc[7, "Age"] = np.nan
    seg = Segmenter(k=4, random_state=0, missing="drop").fit(df)
    rng = np.random.default_rng(0)
    later = df.drop(index=range(150, 170)).copy()  # 20 gone
    later["Spending Score (1-100)"] = (later["Spending Score (1-100)"] * rng.uniform(0.5, 1.5, len(later))).round()
    newcomers = mall_customers(15, seed=9).assign(CustomerID=lambda d: d["CustomerID"] + 10_000)
    later = pd.concat([later, newcomers], ignore_index=True)
    later.loc[3, "Age"] = np.nan  # not segmented now
    now = seg.predict(later)
    t = seg.transitions(now)
    assert list(t.index) == [0, 1, 2, 3, "not segmented", "new"]
    assert list(t.columns) == [0, 1, 2, 3, "gone", "not segmented"]
    assert int(t.to_numpy().sum()) == 200 + 15  # each customer once
    before = seg.labels["segment"]
    for i in range(4):
        for j in range(4):
            ids = before.index[before == i].intersection(now.index[now["segment"].eq(j).fillna(False)])
            assert t.loc[i, j] == len(ids)
        assert t.loc[i, "gone"] == len(before.index[before == i].difference(now.index))
    assert t.loc["new"].sum() == 15 and t.loc["new", "gone"] == 0
    assert t.loc["not segmented"].sum() == 1  # customer 8 (row 7): left out at fit, present later
    assert t.loc["not segmented", "not segmented"] == 1  # ... still without Age
    assert t["not segmented"].sum() == 2  # and row 3, now without Age
    assert t.loc[before[before.index[3]], "not segmented"] == 1
    assert seg.transitions(now["segment"]).equals(t)
    with pytest.raises(ValueError, match=r"no customer of the new labels is among the 200 customers of the fit: "
                                         r"both must be keyed by the same customer id \(the fit's labels by "
                                         r"CustomerID, the new ones by CustomerID\)"):
        seg.transitions(now.set_axis(pd.RangeIndex(10**6, 10**6 + len(now), name="CustomerID")))
    # row numbers that happen to equal customer ids must not be matched with them
    with pytest.raises(ValueError, match=r"the labels are keyed differently: .*the fit.s labels by CustomerID, "
                                         r"the new ones by the row number"):
        seg.transitions(seg.predict(later.iloc[5:]))


@pytest.mark.parametrize("seed", [0, 1])
def test_k_chosen_on_a_sample_finds_the_mall_groups_and_fits_every_customer(seed):
    """sample=: k from a sweep fitted on a sample (every customer labelled and counted),
    then the chosen k fitted on every customer from the sample's centres."""
    from fastseg import KMeans

    df, truth = mall_customers(3000, seed=seed, return_groups=True)
    df = df.set_index("CustomerID")
    seg = Segmenter(features=MALL_FEATURES, transform=None, random_state=0, sample=400, stability=0,
                    rules=False).fit(df)
    assert seg.k == 5 and "chosen on a sample of 400 customers" in seg.k_reason
    assert seg.sweep.sample == dict(rows=400, refined=False, n_iter=seg.sweep.sample["n_iter"])
    assert adjusted_rand_score(truth, seg.labels["segment"]) >= 0.9
    # the final model is a Lloyd fit on every customer from the sample's centres for that k
    Z = seg.prep.apply(df)
    alone = KMeans(5, init=np.asarray(seg.sweep.centers[5]), n_init=1, device="cpu").fit(Z)
    assert adjusted_rand_score(alone.labels_, seg.labels["segment"]) == 1.0
    assert seg.model.inertia_ == pytest.approx(alone.inertia_, rel=1e-12)
    assert seg.model.inertia_ <= seg.sweep.inertia[5] * (1 + 1e-12)  # refining never raises it
    # a sample as large as the table is no sample
    whole = Segmenter(features=MALL_FEATURES, transform=None, random_state=0, sample=3000, stability=0,
                      rules=False).fit(df)
    plain = Segmenter(features=MALL_FEATURES, transform=None, random_state=0, stability=0, rules=False).fit(df)
    assert whole.sweep.sample is None and "sample" not in whole.k_reason
    pd.testing.assert_frame_equal(whole.labels, plain.labels)


@pytest.mark.parametrize("sample, match", [(0, "sample must be a number of customers >= 1"),
                                           (2.5, "sample must be a number"),
                                           (5, r"sample=5 customers is fewer than the largest k \(10\)")])
def test_sample_errors(sample, match):
    df = mall_customers(200, seed=0)
    with pytest.raises(ValueError, match=match):
        Segmenter(features=MALL_FEATURES, sample=sample).fit(df)


def test_a_table_that_is_not_a_dataframe_is_named_with_the_way_to_make_one():
    import dask.dataframe as dd

    from fastseg import rfm

    df = mall_customers(50, seed=0)
    cases = [(dd.from_pandas(df, npartitions=2), r"got a dask DataFrame\. .*pass df\.compute\(\)"),
             (df["Age"], r"got a Series: pass series\.to_frame\(\)"),
             (df[MALL_FEATURES].to_numpy(), r"got ndarray: wrap it as pd\.DataFrame\(X, columns="),
             ([[1, 2]], r"got list\.")]
    for obj, match in cases:
        with pytest.raises(TypeError, match=r"^Segmenter\.fit's table must be a pandas DataFrame; " + match):
            Segmenter(k=2).fit(obj)
    seg = Segmenter(features=MALL_FEATURES, k=2, random_state=0).fit(df)
    with pytest.raises(TypeError, match=r"^Segmentation\.predict's table must be a pandas DataFrame; got ndarray"):
        seg.predict(df[MALL_FEATURES].to_numpy())
    with pytest.raises(TypeError, match=r"^Segmentation\.distances' table must be a pandas DataFrame; got a Series"):
        seg.distances(df["Age"])
    with pytest.raises(TypeError, match=r"^rfm's transactions must be a pandas DataFrame; got a dask DataFrame"):
        rfm(dd.from_pandas(df, npartitions=1), customer="CustomerID", date="Age", amount="Age")


def test_errors_name_the_problem_and_the_fix(tmp_path):
    import pickle

    df = mall_customers(60, seed=3)
    seg = Segmenter(features=MALL_FEATURES, transform="log1p", k=3, random_state=0).fit(df)
    bad = df.copy()
    bad.loc[bad.index[4], "Annual Income (k$)"] = -5
    with pytest.raises(ValueError, match=r"column 'Annual Income \(k\$\)' has negative values, but the segments "
                                         r"were found on its log1p .*refit with transform=None"):
        seg.predict(bad)
    twice = seg.labels.iloc[[0, 0, 1]]
    with pytest.raises(ValueError, match="the new labels repeat customer ids; give one row per customer"):
        seg.transitions(twice)
    other = tmp_path / "other.pkl"
    other.write_bytes(pickle.dumps({"not": "a segmentation"}))
    with pytest.raises(ValueError, match="other.pkl does not hold a fastseg Segmentation"):
        Segmentation.load(other)
    with pytest.raises(ValueError, match=r"transform must be 'auto', 'log1p' or None; got 'log'"):
        Segmenter(features=MALL_FEATURES, transform="log").fit(df)
    with pytest.raises(ValueError, match=r"k_range \[70, 71\] has no k <= the 60 customers; give a k_range that "
                                         r"starts at 60 or below"):
        Segmenter(features=MALL_FEATURES, k_range=range(70, 72)).fit(df)
    with pytest.raises(ValueError, match="k=61 segments but only 60 customers; lower k to 60 or fewer"):
        Segmenter(features=MALL_FEATURES, k=61).fit(df)
    # more segments than distinct customers: an error, not an empty segment and a warning
    dup = pd.DataFrame({"a": [1.0, 1, 2, 2, 1, 3, 3, 1], "b": [5.0, 5, 6, 6, 5, 9, 9, 5]})
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(ValueError, match=r"k=4 segments but the customers take only 3 distinct combinations of "
                                             r"the features' values, so a segment would be empty; lower k to 3"):
            Segmenter(k=4, stability=0).fit(dup)
        assert Segmenter(k=3, stability=0, random_state=0).fit(dup).profiles["size"].tolist() == [4, 2, 2]


def test_without_transform_or_scaling_the_centres_are_the_segments_means():
    df = mall_customers(120, seed=4)
    seg = Segmenter(features=MALL_FEATURES, transform=None, scale=None, k=4, random_state=0).fit(df)
    assert seg.prep.logged == [] and np.all(seg.prep.center == 0) and np.all(seg.prep.scale == 1)
    for s in range(4):
        part = df.set_index("CustomerID").loc[seg.labels.index[seg.labels["segment"] == s], MALL_FEATURES]
        np.testing.assert_allclose(seg.centers.loc[s].to_numpy(), part.mean().to_numpy(), rtol=1e-9)


def test_default_features_leave_out_columns_with_nothing_to_separate_and_say_so():
    df = mall_customers(80, seed=5).assign(empty=np.nan, flat=2.0)
    seg = Segmenter(k=3, random_state=0).fit(df)
    assert "empty" not in seg.features and "flat" not in seg.features
    assert seg.left_out["empty"] == "no values" and seg.left_out["flat"] == "one value"
    assert "empty (no values)" in seg.summary() and "flat (one value)" in seg.summary()
    with pytest.raises(ValueError, match=r"feature column\(s\) 'empty' hold no values \(every one missing or "
                                         r"infinite\); leave them out of the features"):
        Segmenter(features=["Age", "empty"], k=3, missing="drop").fit(df)


def test_default_features_describe_two_valued_columns_instead_of_splitting_on_them():
    df, truth = mall_customers(400, seed=6, return_groups=True)
    rng = np.random.default_rng(6)
    df["Responded"] = rng.integers(0, 2, len(df))  # a 0/1 flag independent of the groups
    df["Channel"] = rng.choice([1, 2], len(df))  # a numeric code of two values
    df["Kids"] = rng.integers(0, 3, len(df))  # three values: still a feature
    flagged = Segmenter(features=[*MALL_FEATURES, "Responded"], k=5, random_state=0).fit(df)
    # why: scaled, the flag sits at two points far apart, and k-means splits on it first (here two of the five
    # segments hold one value of it, and the groups come back at an adjusted Rand of 0.57 instead of 0.97)
    purity = pd.crosstab(flagged.labels["segment"], df["Responded"].to_numpy(), normalize="index").max(axis=1)
    assert (purity == 1).sum() >= 2 and adjusted_rand_score(truth, flagged.labels["segment"]) < 0.6
    seg = Segmenter(k=5, random_state=0, describe="auto").fit(df.drop(columns=["Kids", "Age"]))
    assert seg.features == MALL_FEATURES
    assert seg.left_out["Responded"] == seg.left_out["Channel"] == "a flag: two values"
    assert "Responded (a flag: two values)" in seg.summary()
    assert adjusted_rand_score(truth, seg.labels["segment"]) >= 0.9
    assert seg.described == ["Gender", "Responded", "Channel"]
    resp = seg.composition["Responded"]
    lab = seg.labels["segment"].to_numpy()
    for s in range(5):
        assert resp.loc[s, 1] == pytest.approx(np.mean(df["Responded"].to_numpy()[lab == s] == 1))
    assert "Kids" in Segmenter(k=5, random_state=0).fit(df).features


def test_default_features_describe_categories_written_as_numbers():
    """The UCI wholesale customers' layout: Channel (1/2) and Region (1/2/3) are
    categories; the six spend columns are what to segment on."""
    rng = np.random.default_rng(8)
    n = 440
    spend = ["Fresh", "Milk", "Grocery", "Frozen", "Detergents_Paper", "Delicassen"]
    group = rng.integers(0, 2, n)
    df = pd.DataFrame({"Channel": group + 1, "Region": rng.choice([1, 2, 3], n, p=[0.2, 0.1, 0.7])})
    for j, c in enumerate(spend):
        df[c] = np.round(rng.lognormal(8 + 2 * (j % 2) * group, 0.6))  # channel 2 spends more on three
    seg = Segmenter(k=2, random_state=0).fit(df)
    assert seg.features == spend
    assert seg.left_out == {"Channel": "a flag: two values", "Region": "a code: categories as numbers"}
    assert seg.described == ["Channel", "Region"]
    lab = seg.labels["segment"].to_numpy()
    region = seg.composition["Region"]
    assert set(region.columns) == {1, 2, 3}
    for s in range(2):
        assert region.loc[s, 3] == pytest.approx(np.mean(df["Region"].to_numpy()[lab == s] == 3))
    assert adjusted_rand_score(group, lab) > 0.9  # the channels, found from spend alone
    # a whole-number column with another name is an amount, and a code with fractions is not a code
    other = df.assign(Store=rng.integers(1, 4, n), Region=df["Region"] + 0.5)
    seg = Segmenter(k=2, random_state=0).fit(other)
    assert "Store" in seg.features and "Region" in seg.features


def test_default_features_leave_out_dates_kept_as_numbers():
    df = mall_customers(120, seed=7)
    days = pd.Timestamp("2024-01-01") + pd.to_timedelta(np.arange(len(df)) * 3, unit="D")
    df["signup_date"] = days.strftime("%Y%m%d").astype(int)  # 20240101, ...
    df["last_order_time"] = days.astype("datetime64[s]").astype(np.int64)  # Unix seconds
    df["date_count"] = np.arange(len(df)) % 7  # named like a date, but small counts: a feature
    df["time_on_site"] = 10_000 + np.arange(len(df)) * 50  # seconds: Excel's day range, but a duration
    seg = Segmenter(k=3, random_state=0).fit(df)
    assert seg.left_out["signup_date"] == seg.left_out["last_order_time"] == "dates"
    assert {"date_count", "time_on_site"} <= set(seg.features) and "signup_date" not in seg.features


def test_one_segment_reads_as_one():
    seg = Segmenter(features=MALL_FEATURES, k=1, random_state=0).fit(mall_customers(40, seed=1))
    assert seg.summary().startswith("40 customers in 1 segment (k given).")
    assert "40 customers, 1 segment, " in repr(seg)


def test_a_mistyped_column_gets_the_near_one_suggested():
    from fastseg._validation import did_you_mean

    cols = ["CustomerID", "Annual Income (k$)", "Spending Score (1-100)", "Age ", "Gender"]
    assert did_you_mean(["age"], cols) == "; did you mean 'Age ' for 'age'?"
    assert did_you_mean(["customer_id", "Gendr"], cols) == \
        "; did you mean 'CustomerID' for 'customer_id', 'Gender' for 'Gendr'?"
    assert did_you_mean(["annual income"], cols) == "; did you mean 'Annual Income (k$)' for 'annual income'?"
    assert did_you_mean(["Nope", "Age "], cols) == ""  # too far from every column: no guess; present: none needed
    df = mall_customers(30, seed=0)
    with pytest.raises(ValueError, match=r"column\(s\) 'spending score \(1-100\)' not found; did you mean "
                                         r"'Spending Score \(1-100\)' for 'spending score \(1-100\)'\? available: "):
        Segmenter(features=["Age", "spending score (1-100)"]).fit(df)
    with pytest.raises(ValueError, match=r"column\(s\) 'Nope' not found; available: 'CustomerID'"):
        Segmenter(features=["Nope"]).fit(df)
    tx = pd.DataFrame({"Customer": [1, 2], "Date": ["2024-01-01", "2024-01-02"], "Amount": [3.0, 4.0]})
    with pytest.raises(ValueError, match=r"'customer' not found in the transactions; did you mean 'Customer' for "
                                         r"'customer'\? available: 'Customer', 'Date', 'Amount'"):
        rfm(tx, customer="customer", date="Date", amount="Amount")


def test_percentages_written_as_text_are_read_as_fractions():
    df = mall_customers(300, seed=4)
    share = df["Spending Score (1-100)"] / 100
    as_numbers = df.assign(share=share).drop(columns=["Spending Score (1-100)"])
    ref = Segmenter(k=5, random_state=0, stability=0).fit(as_numbers)
    for fmt in (lambda v: f"{v:.0%}", lambda v: f"{100 * v:.1f} %".replace(".", ",")):
        table = as_numbers.assign(share=_as_money_text(share, fmt))
        seg = Segmenter(k=5, random_state=0, stability=0).fit(table)
        assert seg.read_as_numbers == ["share"] and "share" in seg.features
        np.testing.assert_array_equal(seg.labels["segment"], ref.labels["segment"])
        np.testing.assert_allclose(seg.profiles["share mean"], ref.profiles["share mean"], rtol=1e-12)
    # one value without its % sign: a column of mixed text, left as it is
    mixed = as_numbers.assign(share=_as_money_text(share, lambda v: f"{v:.0%}"))
    mixed.loc[3, "share"] = "35"
    assert "share" not in Segmenter(k=5, random_state=0, stability=0).fit(mixed).read_as_numbers


def _as_money_text(values, fmt):
    return pd.Series([fmt(v) for v in values], dtype=object)


def test_amounts_written_as_text_are_read_as_numbers_at_fit_and_predict():
    """A spreadsheet's currency column saved as CSV ("£1,234.50", "1.234,50 €") is the
    spend, not text to leave out: the segments are those of the numbers themselves."""
    df = mall_customers(300, seed=3)
    income = df["Annual Income (k$)"] * 1000.5
    as_numbers = df.assign(income=income).drop(columns=["Annual Income (k$)"])
    as_text = as_numbers.assign(income=_as_money_text(income, lambda v: f"£{v:,.2f}"))
    european = as_numbers.assign(income=_as_money_text(
        income, lambda v: f"{v:,.2f} €".replace(",", " ").replace(".", ",")))
    ref = Segmenter(k=5, random_state=0, stability=0).fit(as_numbers)
    for table in (as_text, european):
        seg = Segmenter(k=5, random_state=0, stability=0).fit(table)
        assert "income" in seg.features and seg.read_as_numbers == ["income"]
        np.testing.assert_array_equal(seg.labels["segment"], ref.labels["segment"])
        np.testing.assert_allclose(seg.profiles["income mean"], ref.profiles["income mean"])
        assert ("Read as numbers (amounts and percentages written as text, such as '£1,234.50' or '35%'): "
                "income.") in seg.summary()
        assert table["income"].dtype == object  # the caller's table keeps its text
        from fastseg.report import render

        assert "Read as numbers (amounts and percentages written as text): income." in render(seg, images=[])
        np.testing.assert_array_equal(seg.predict(table.iloc[:40])["segment"], ref.labels["segment"][:40])
    # plain digits kept as text (a code, a zip, a phone number) and codes that are not
    # currencies stay text
    coded = as_numbers.assign(zip=[f"{i:05d}" for i in range(300)],
                              code=[f"ABC{i % 7}" for i in range(300)],
                              phone=[f"555 {i:03d} {i * 7 % 1000:03d}" for i in range(300)],
                              dotted=[f"555.{i:03d}.{i * 7 % 1000:03d}" for i in range(300)])
    seg = Segmenter(k=5, random_state=0, stability=0).fit(coded)
    assert seg.read_as_numbers == [] and not {"zip", "code", "phone", "dotted"} & set(seg.features)
    coded = as_numbers.assign(income=_as_money_text(income, lambda v: f"EUR {v:,.2f}"))  # a code, no sign
    assert Segmenter(k=5, random_state=0, stability=0).fit(coded).read_as_numbers == ["income"]
    # one value that is not an amount: the column stays text and the error shows it
    bad = as_text.copy()
    bad.loc[7, "income"] = "see notes"
    with pytest.raises(ValueError, match="'income' are not numeric"):
        Segmenter(features=["income", "Age"], k=3).fit(bad)
    # ... but text written for no value is a missing amount (tests/test_no_value_text.py)
    bad.loc[7, "income"] = "n/a"
    with pytest.raises(ValueError, match="1 of 300 rows .* in 'income'; income: 1 'n/a', text written for no value"):
        Segmenter(features=["income", "Age"], k=3).fit(bad)


def _dated_customers(n=300, seed=0):
    """Mall customers with a sign-up date (datetime), a last order (text) and a first order
    kept as yyyymmdd numbers; the whole days from each to 2024-12-01 alongside."""
    rs = np.random.default_rng(seed)
    df = mall_customers(n, seed=seed)
    signup = pd.Timestamp("2020-01-01") + pd.to_timedelta(rs.integers(0, 1700, n), unit="D")
    last = pd.Timestamp("2024-01-01") + pd.to_timedelta(rs.integers(0, 330, n), unit="D")
    first = signup + pd.to_timedelta(rs.integers(0, 30, n), unit="D")
    df = df.assign(signup=signup, last_order=last.strftime("%Y-%m-%d"),
                   first_order_date=first.strftime("%Y%m%d").astype(np.int64))
    snap = pd.Timestamp("2024-12-01")
    days = pd.DataFrame({c: (snap - pd.to_datetime(when)).days.astype(float)
                         for c, when in [("signup", signup), ("last_order", last), ("first_order_date", first)]})
    return df, days


def test_date_columns_are_left_out_by_default_and_say_how_to_use_them():
    df, _ = _dated_customers(120, seed=2)
    seg = Segmenter(k=3, random_state=0, stability=0).fit(df)
    assert seg.left_out["signup"] == seg.left_out["last_order"] == seg.left_out["first_order_date"] == "dates"
    assert seg.left_out["Gender"] == "not numeric"
    # nor described: a date's yyyymmdd number has no mean worth showing
    assert not {"signup", "last_order", "first_order_date"} & set(seg.described)
    assert not {"signup", "last_order", "first_order_date"} & set(
        Segmenter(features=["Age"], k=3, random_state=0, stability=0).fit(df).described)
    assert "a date column named as a feature is clustered on as the days since each date" in seg.summary()
    assert seg.prep.dates is None and "Dates read" not in seg.summary()


@pytest.mark.parametrize("col", ["signup", "last_order", "first_order_date"])  # datetime, text, yyyymmdd numbers
def test_a_named_date_column_is_clustered_on_as_days_to_the_snapshot(col):
    df, days = _dated_customers()
    before = df.copy()
    seg = Segmenter(features=["Age", col], k=4, random_state=0, stability=0, snapshot="2024-12-01").fit(df)
    pd.testing.assert_frame_equal(df, before)  # the caller's table is not changed
    new = f"days since {col}"
    assert seg.features == ["Age", new] and seg.prep.dates == {col: new}
    np.testing.assert_array_equal(seg.data[new].to_numpy(), days[col].to_numpy())
    # the same segments as clustering on the days computed by hand
    by_hand = df.drop(columns=col).assign(**{new: days[col].to_numpy()})
    ref = Segmenter(features=["Age", new], k=4, random_state=0, stability=0).fit(by_hand)
    np.testing.assert_array_equal(seg.labels["segment"].to_numpy(), ref.labels["segment"].to_numpy())
    assert seg.names == ref.names and any(f"{col}" in name for name in seg.names.values())
    assert f"Dates read as the whole days from each to 2024-12-01: {col} as '{new}'." in seg.summary()
    # predict counts to the fit's snapshot: the same table, the same segments
    np.testing.assert_array_equal(seg.predict(df)["segment"].to_numpy(), seg.labels["segment"].to_numpy())


def test_the_default_snapshot_is_the_day_after_the_latest_date_of_every_date_feature():
    df, days = _dated_customers(200, seed=3)
    seg = Segmenter(features=["signup", "last_order"], k=3, random_state=0, stability=0).fit(df)
    latest = max(df["signup"].max(), pd.to_datetime(df["last_order"]).max())
    assert seg.prep.snapshot == latest + pd.Timedelta(days=1)
    from fastseg.report import render

    day = seg.prep.snapshot.date()
    assert (f"Dates read as the whole days from each to {day}: signup as &#x27;days since signup&#x27;, last_order "
            "as &#x27;days since last_order&#x27;.") in render(seg, images=[])
    shift = (pd.Timestamp("2024-12-01") - seg.prep.snapshot).days
    np.testing.assert_array_equal(seg.data["days since signup"].to_numpy(), days["signup"].to_numpy() - shift)
    assert seg.data["days since last_order"].min() == 1  # the latest order: one day before the snapshot


def test_a_segmentation_on_a_date_feature_draws_every_figure_and_writes_its_report(tmp_path):
    # the figures re-scale Segmentation.data, which holds the days, not the dates
    from fastseg import report
    from fastseg.report import figures

    df, _ = _dated_customers(150, seed=7)
    seg = Segmenter(features=["Age", "Annual Income (k$)", "last_order"], k=3, random_state=0, stability=0).fit(df)
    drawn = figures(seg)
    assert {"scatter", "scatter3d", "silhouette", "snake"} <= {name for name, _, _ in drawn}
    report(seg, tmp_path / "r.html")
    assert (tmp_path / "r.html").stat().st_size > 10_000
    # the days already counted are used as they are, the same scaled features as the fit's
    np.testing.assert_array_equal(seg.prep.apply(seg.data), seg.prep.apply(df))
    np.testing.assert_array_equal(seg.predict(seg.data)["segment"].to_numpy(), seg.labels["segment"].to_numpy())


def test_segment_names_read_dates_as_earlier_or_later():
    df, _ = _dated_customers(400, seed=4)
    seg = Segmenter(features=["signup"], transform=None, k=2, random_state=0, stability=0).fit(df)
    names = set(seg.names.values())
    assert any(n.startswith(("earlier signup", "much earlier signup")) for n in names)
    assert any(n.startswith(("later signup", "much later signup")) for n in names)
    early = next(s for s, n in seg.names.items() if "earlier" in n)
    assert (seg.profiles.loc[early, "days since signup median"]
            > seg.profiles.drop(index=early)["days since signup median"].max())


def test_predict_with_later_dates_needs_a_later_snapshot(tmp_path):
    df, days = _dated_customers(200, seed=5)
    seg = Segmenter(features=["Age", "signup"], k=3, random_state=0, stability=0, snapshot="2024-12-01").fit(df)
    later = df.assign(signup=df["signup"] + pd.Timedelta(days=400))
    with pytest.raises(ValueError, match=r"snapshot 2024-12-01 is before the latest date in the date column\(s\) "
                                         r"\(20\d\d-\d\d-\d\d\): .*give a snapshot on or after it"):
        seg.predict(later)
    # a year later, counted to a snapshot a year later: the same days, the same segments
    moved = seg.predict(later, snapshot="2026-01-05")
    np.testing.assert_array_equal(moved["segment"].to_numpy(), seg.labels["segment"].to_numpy())
    np.testing.assert_allclose(seg.distances(later, snapshot="2026-01-05"), seg.distances(df))
    # saved and loaded, the date reading travels with the segmentation
    seg.save(tmp_path / "seg.pkl")
    back = Segmentation.load(tmp_path / "seg.pkl")
    assert back.prep.dates == {"signup": "days since signup"} and back.prep.snapshot == pd.Timestamp("2024-12-01")
    np.testing.assert_array_equal(back.predict(df)["segment"].to_numpy(), seg.labels["segment"].to_numpy())
    with pytest.raises(ValueError, match=r"column\(s\) 'signup' not found"):
        seg.predict(df.drop(columns="signup"))


def test_a_described_date_column_is_profiled_in_days():
    df, days = _dated_customers(200, seed=6)
    seg = Segmenter(features=["Age", "Annual Income (k$)"], describe=["signup"], k=3, random_state=0,
                    stability=0, snapshot="2024-12-01").fit(df)
    assert seg.described == ["days since signup"] and "days since signup" not in seg.composition
    # predict needs the features only: a new table without the described date, or with later ones, is scored
    np.testing.assert_array_equal(seg.predict(df.drop(columns="signup"))["segment"], seg.labels["segment"])
    later = df.assign(signup=df["signup"] + pd.Timedelta(days=900))
    np.testing.assert_array_equal(seg.predict(later)["segment"], seg.labels["segment"])
    for s in range(3):
        part = days["signup"].to_numpy()[seg.labels["segment"].to_numpy() == s]
        assert seg.profiles.loc[s, "days since signup median"] == np.median(part)


@pytest.mark.parametrize("kwargs, table, match", [
    (dict(snapshot="2024-01-01"), None, r"snapshot 2024-01-01 is before the latest date"),
    (dict(snapshot="soon"), None, r"snapshot 'soon' is not a date"),
    ({}, "clash", r"column\(s\) 'days since signup' exist already"),
    ({}, "no dates", r"no date could be read in 'signup'"),
    ({}, "gaps", r"3 of 200 rows have missing or infinite values in 'days since signup'"),
])
def test_date_feature_errors_name_the_fix(kwargs, table, match):
    df, _ = _dated_customers(200, seed=7)
    if table == "clash":
        df["days since signup"] = 1.0
    elif table == "no dates":
        df["signup"] = pd.NaT
    elif table == "gaps":
        df.loc[[3, 50, 70], "signup"] = pd.NaT
    with pytest.raises(ValueError, match=match):
        Segmenter(features=["Age", "signup"], k=3, stability=0, **kwargs).fit(df)


def test_missing_dates_with_missing_drop_leave_those_customers_out():
    df, _ = _dated_customers(200, seed=8)
    df.loc[[3, 50, 70], "last_order"] = None
    seg = Segmenter(features=["Age", "last_order"], k=3, random_state=0, stability=0, missing="drop").fit(df)
    assert list(seg.not_segmented) == df.loc[[3, 50, 70], "CustomerID"].tolist() and len(seg.labels) == 197
    assert seg.predict(df)["segment"].isna().sum() == 3


def test_rename_gives_marketings_names_everywhere_and_changes_no_segment(tmp_path):
    from fastseg.report import render

    df = mall_customers(200, seed=0)
    seg = Segmenter(k=5, random_state=0, stability=0).fit(df)
    old = dict(seg.names)
    r = seg.rename({0: "VIPs", old[3]: "  Bargain hunters "})  # by number, by current name; trimmed
    assert r.names == {**old, 0: "VIPs", 3: "Bargain hunters"}
    assert seg.names == old and seg.labels["name"].isin(old.values()).all()  # the original is untouched
    np.testing.assert_array_equal(r.labels["segment"], seg.labels["segment"])
    assert (r.labels["name"] == r.labels["segment"].map(r.names)).all()
    assert r.profiles["name"].tolist() == [r.names[s] for s in range(5)]
    assert r.rules["name"].tolist() == [r.names[s] for s in range(5)]
    # the description read off the centre stays beside marketing's name
    assert r.descriptions == old and r.titled(1) == old[1]
    assert f"  0: VIPs ({old[0]}) — " in r.summary() and f"  3: Bargain hunters ({old[3]}) — " in r.summary()
    html = render(r, images=[])
    assert f"<strong>VIPs</strong> ({old[0]})" in html and "Bargain hunters" in html
    pred = r.predict(df.iloc[:50])
    assert (pred["name"] == pred["segment"].map(r.names)).all()
    r.save(tmp_path / "seg.pkl")
    assert Segmentation.load(tmp_path / "seg.pkl").names == r.names
    for bad, match in [({5: "x"}, r"no segment 5 to rename: name one by its number, 0 to 4, or by its current name"),
                       ({"nope": "x"}, "no segment 'nope'"), ({True: "x"}, "no segment True"),
                       ({1: "  "}, "segment 1's new name must be non-empty text"),
                       ({1: "VIPs"}, "two segments would be called 'VIPs'"), ([(1, "x")], "takes a dict")]:
        with pytest.raises(ValueError, match=match):
            r.rename(bad)
    assert r.rename({0: old[0]}).names[0] == old[0]  # and back


@pytest.mark.parametrize("as_text", [False, True])
def test_a_customer_id_that_repeats_is_no_feature_and_the_summary_says_so(as_text):
    df = mall_customers(200, seed=0)
    df = pd.concat([df, df.iloc[[5, 9, 9]]], ignore_index=True)  # an export that repeated some customers
    if as_text:
        df["CustomerID"] = "C" + df["CustomerID"].astype(str)
    seg = Segmenter(k=5, random_state=0, stability=0).fit(df)
    assert "CustomerID" not in seg.features and seg.id_column is None
    assert seg.left_out["CustomerID"].startswith("an identifier, repeated: 2 ids on several rows, e.g. ")
    assert "one row per customer is expected" in seg.summary()
    # the segments are those of the table without the id: it took no part
    ref = Segmenter(k=5, random_state=0, stability=0).fit(df.drop(columns="CustomerID"))
    np.testing.assert_array_equal(seg.labels["segment"], ref.labels["segment"])


@pytest.mark.parametrize("name, repeats, why", [
    ("id", [5, 9], "an identifier, repeated: 2 ids on several rows"),  # a plain "id": the customer's, repeated
    ("userId", [3], "an identifier, repeated: 1 id on several rows"),
    ("store_id", None, "a code: categories as numbers"),  # most customers share a store
])
def test_any_column_named_like_an_id_stays_out_of_the_default_features(name, repeats, why):
    df = mall_customers(200, seed=1).drop(columns="CustomerID")
    if repeats is None:
        df.insert(0, name, np.arange(len(df)) % 7 + 100)
    else:
        df = pd.concat([df, df.iloc[repeats]], ignore_index=True)
        df.insert(0, name, [*range(1, len(df) - len(repeats) + 1), *(np.array(repeats) + 1)])
    seg = Segmenter(k=5, random_state=0, stability=0).fit(df)
    assert name not in seg.features and seg.id_column is None
    assert seg.left_out[name].startswith(why)
    ref = Segmenter(k=5, random_state=0, stability=0).fit(df.drop(columns=name))
    np.testing.assert_array_equal(seg.labels["segment"], ref.labels["segment"])
    # named, it is clustered on like any number
    assert name in Segmenter(features=[name, "Age"], k=2, random_state=0, stability=0).fit(df).features


def _with_totals_row(df, where="last", label="Grand Total"):
    tot = df.drop(columns=["CustomerID", "Gender"]).sum()
    row = pd.DataFrame([{"Gender": label, **tot}])
    return pd.concat([df, row] if where == "last" else [row, df], ignore_index=True)


def test_totals_row_is_found_at_either_end_and_nowhere_else():
    from fastseg.features import totals_row

    df = mall_customers(200, seed=0)
    assert totals_row(df) is None
    assert totals_row(_with_totals_row(df)) == 200 and totals_row(_with_totals_row(df, "first")) == 0
    rounded = _with_totals_row(df.assign(Age=df["Age"] + 0.3))
    rounded.loc[200, "Age"] = round(rounded.loc[200, "Age"])  # an export that rounded its totals
    assert totals_row(rounded) == 200
    off = _with_totals_row(df)
    off.loc[200, "Age"] += 5  # one number is not the sum: a customer, however large
    assert totals_row(off) is None
    assert totals_row(_with_totals_row(df)[["Gender", "Age"]]) is None  # one numeric column says too little


def test_a_spreadsheets_totals_row_is_left_out_and_said():
    df = mall_customers(200, seed=0)
    seg = Segmenter(k=5, random_state=0, stability=0).fit(_with_totals_row(df))
    ref = Segmenter(k=5, random_state=0, stability=0).fit(df)
    assert seg.totals_row == 200 and ref.totals_row is None
    assert seg.id_column == "CustomerID" and seg.labels.index.equals(ref.labels.index)  # keyed once the row is out
    pd.testing.assert_frame_equal(seg.labels, ref.labels)
    assert "Row 200 left out: a totals row" in seg.summary() and "totals row" not in ref.summary()
    lines = Segmenter().prepare(_with_totals_row(df), explain=True)[3]
    assert lines[0].startswith("Row 200 left out: a totals row")


def test_numbers_kept_as_objects_are_read_as_numbers():
    """A database's NUMERIC column reads into pandas as decimal.Decimal objects."""
    from decimal import Decimal

    df = mall_customers(120, seed=8)
    income = "Annual Income (k$)"
    db = df.assign(**{income: [Decimal(str(v)) + Decimal("0.25") for v in df[income]]})
    db["Age"] = db["Age"].astype(object).where(db.index != 5, None)  # objects, one missing
    assert db[income].dtype == object and db["Age"].dtype == object
    ref = df.assign(**{income: df[income] + 0.25}).astype({"Age": float})
    ref.loc[5, "Age"] = np.nan
    seg = Segmenter(k=4, random_state=0, stability=0, missing="drop").fit(db)
    want = Segmenter(k=4, random_state=0, stability=0, missing="drop").fit(ref)
    assert seg.features == want.features == ["Age", income, "Spending Score (1-100)"]
    np.testing.assert_array_equal(seg.labels["segment"], want.labels["segment"])
    assert seg.read_as_numbers == []  # numbers already: nothing to say about them
    np.testing.assert_array_equal(seg.predict(db)["segment"].to_numpy(dtype=float, na_value=np.nan),
                                  want.predict(ref)["segment"].to_numpy(dtype=float, na_value=np.nan))


def test_repeated_column_names_are_named():
    df = mall_customers(60, seed=0)
    twice = pd.concat([df, df[["Age"]]], axis=1)
    msg = "has repeated column names \\('Age'\\); every column is read by its name: rename or drop the repeats first"
    with pytest.raises(ValueError, match="Segmenter.fit's table " + msg):
        Segmenter(k=3).fit(twice)
    seg = Segmenter(k=3, random_state=0, stability=0).fit(df)
    with pytest.raises(ValueError, match="Segmentation.predict's table " + msg):
        seg.predict(twice)
    log = online_retail(50, seed=0)
    with pytest.raises(ValueError, match="rfm's transactions has repeated column names \\('Quantity'\\)"):
        rfm(pd.concat([log, log[["Quantity"]]], axis=1))


def _mall_with_whales(n_whales=3):
    """The mall table and ``n_whales`` customers of it with an income 30 times anyone's."""
    df = mall_customers(200, seed=0)
    whales = df.iloc[:n_whales].assign(CustomerID=9000 + np.arange(n_whales),
                                       **{"Annual Income (k$)": 2000 + 10 * np.arange(n_whales)})
    return df, pd.concat([df, whales], ignore_index=True)


def test_a_few_extreme_customers_are_named_and_clip_folds_them_into_the_segments():
    df, whales = _mall_with_whales()
    plain = Segmenter(features=MALL_FEATURES, transform=None, k=5, random_state=0, stability=0)
    clean = plain.fit(df)
    seg = plain.fit(whales)  # the whales take a segment, two true groups merge
    tail = seg.labels["segment"].iloc[-3:]
    assert tail.nunique() == 1 and (seg.labels["segment"] == tail.iloc[0]).sum() == 3
    assert seg.outlying == {tail.iloc[0]: ["Annual Income (k$)"]} and clean.outlying == {}
    assert (f"Segment {tail.iloc[0]} (3 customers, beyond the 1st or 99th percentile of Annual Income (k$)): a few "
            "extreme customers with a segment of their own. clip=0.02 (--clip 0.02) caps each feature at its 2nd and "
            "98th percentiles") in seg.summary()
    # the clip the summary suggests: the five groups found as without the whales, who join the richest
    capped = Segmenter(features=MALL_FEATURES, transform=None, k=5, random_state=0, stability=0, clip=0.02)
    fit = capped.fit(whales)
    assert adjusted_rand_score(clean.labels["segment"], fit.labels["segment"].iloc[:200]) == 1.0
    assert fit.outlying == {} and "clip=0.02 (--clip" not in fit.summary()
    income = df["Annual Income (k$)"].to_numpy(dtype=float)
    lo, hi = np.quantile(np.r_[income, 2000, 2010, 2020], [0.02, 0.98])
    np.testing.assert_allclose(fit.prep.bounds[:, 0], [lo, hi])
    assert (f"Each feature capped at its 2nd and 98th percentiles before scaling (clip=0.02): Annual Income (k$) "
            f"{lo:,.0f} to {hi:,.0f}") in fit.summary()
    # profiles keep the values as they are; predict caps new customers where the fit did
    assert fit.data["Annual Income (k$)"].max() == 2020
    richest = fit.labels["segment"].iloc[-1]
    assert (fit.predict(whales)["segment"] == fit.labels["segment"]).all()
    new = whales.iloc[[-1]].assign(**{"Annual Income (k$)": 10 ** 6})
    at_cap = whales.iloc[[-1]].assign(**{"Annual Income (k$)": hi})
    assert fit.predict(new)["segment"].iloc[0] == fit.predict(at_cap)["segment"].iloc[0] == richest
    assert fit.distances(new).iloc[0] == pytest.approx(fit.distances(at_cap).iloc[0], rel=1e-12)
    from fastseg.report import render

    assert "Each feature capped at its 2nd and 98th percentiles" in render(fit, images=[])
    assert "a few extreme customers with a segment of their own" in render(seg, images=[])


def test_clip_is_a_share_below_one_half_and_never_flattens_a_feature():
    df = mall_customers(100, seed=0)
    for bad in (0, 0.5, -0.1, True, "1%"):
        with pytest.raises(ValueError, match=r"clip must be a share of the customers above 0 and below 0\.5"):
            Segmenter(features=MALL_FEATURES, k=3, clip=bad).fit(df)
    mostly = df.assign(visits=np.r_[np.zeros(97), 1, 2, 3])
    with pytest.raises(ValueError, match=r"clip=0\.05 caps feature column\(s\) 'visits' to a single value.*lower "
                                         r"clip, or drop the column"):
        Segmenter(features=MALL_FEATURES + ["visits"], k=3, clip=0.05).fit(mostly)
    Segmenter(features=MALL_FEATURES + ["visits"], k=3, clip=0.01, stability=0).fit(mostly)


@pytest.mark.parametrize("q, text", [(0.01, "1st and 99th"), (0.02, "2nd and 98th"), (0.03, "3rd and 97th"),
                                     (0.025, "2.5th and 97.5th"), (0.11, "11th and 89th"), (0.21, "21st and 79th")])
def test_percentiles_are_written_as_an_analyst_says_them(q, text):
    from fastseg._feature_pipeline import _percentiles_text

    assert _percentiles_text(q) == f"{text} percentiles"


def test_a_pivot_or_groupby_table_is_segmented_by_text_names_of_its_columns():
    from fastseg.report import render

    rng = np.random.default_rng(5)
    tx = pd.DataFrame({"CustomerID": rng.integers(1, 300, 4000), "Year": rng.choice([2023, 2024], 4000),
                       "Sales": rng.gamma(2, 30, 4000), "Qty": rng.integers(1, 5, 4000)})
    by_year = tx.pivot_table(index="CustomerID", columns="Year", values="Sales", aggfunc="sum", fill_value=0)
    both = tx.groupby("CustomerID").agg({"Sales": ["sum", "mean"], "Qty": ["sum", "max"]})
    for table, features, value, text in [
        (by_year, [2023, 2024], 2024, ["2023", "2024"]),
        (both, [("Sales", "sum"), ("Qty", "sum")], ("Sales", "sum"), ["Sales sum", "Qty sum"]),
    ]:
        seg = Segmenter(features=features, value=value, k=3, random_state=0, stability=0).fit(table)
        assert seg.features == text and seg.value_column == column_text(value)
        flat = table.set_axis([column_text(c) for c in table.columns], axis=1)
        ref = Segmenter(features=text, value=column_text(value), k=3, random_state=0, stability=0).fit(flat)
        np.testing.assert_array_equal(seg.labels["segment"], ref.labels["segment"])
        assert (seg.predict(table)["segment"] == seg.labels["segment"]).all()  # the table as it came
        assert seg.distances(table).index.equals(seg.labels.index)
        page = render(seg, images=[])
        assert all(f in page for f in text)
    seg = Segmenter(k=3, random_state=0, stability=0, describe=[("Qty", "max")]).fit(both)
    assert seg.described == ["Qty max"] and "Qty max" not in seg.features
    clash = both.set_axis(pd.MultiIndex.from_tuples([("a", ""), ("a", ""), ("b", "x"), ("c", "y")]), axis=1)
    with pytest.raises(ValueError, match=r"Segmenter\.fit's table has repeated column names \('a'\)"):
        Segmenter().fit(clash)
