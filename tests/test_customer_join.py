"""A customer table joined to rfm's table (join_customers, --customers): ids matched across
the types files read them as, the counts, the errors, and segments read against (or found
on) the joined columns, from fit to save to predict, in Python and on the command line."""

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import adjusted_rand_score

from fastseg import Segmentation, Segmenter, join_customers, rfm
from fastseg.cli import main
from fastseg.report import render

ROLES = dict(customer="CustomerID", date="InvoiceDate", invoice="InvoiceNo", amount="Sales")


def small_log():
    # three customers; UCI-style ids held as floats because one row has none
    return pd.DataFrame({
        "InvoiceNo": ["1", "2", "3", "4", "5", "6"],
        "CustomerID": [12346.0, 12346.0, 12347.0, 12348.0, np.nan, 12348.0],
        "InvoiceDate": pd.to_datetime(["2024-01-01", "2024-01-05", "2024-01-02", "2024-01-03", "2024-01-03",
                                       "2024-01-04"]),
        "Sales": [10.0, 20.0, 5.0, 7.0, 3.0, 8.0],
        "Country": ["UK", "UK", "France", "UK", "UK", "UK"],
    })


def test_ids_match_across_types_missing_customers_and_extra_rows_are_counted():
    t = rfm(small_log(), **ROLES)
    assert t.index.tolist() == [12346, 12347, 12348]
    # the CRM export holds the ids as text, one with spaces, one customer absent, one never in the log
    crm = pd.DataFrame({"Customer ID": ["12346", " 12348 ", "99999"], "Age": [34, 61, 25],
                        "Gender": ["F", "M", "F"], "Member": [True, False, True]})
    j = join_customers(t, crm)
    assert j.attrs["customers"] == {"on": "Customer ID", "columns": ["Age", "Gender", "Member"], "replaced": [],
                                    "matched": 2, "unmatched": 1, "extra": 1}
    pd.testing.assert_frame_equal(j[t.columns], t)  # the table's own columns untouched, in its order
    assert j.index.equals(t.index)
    # whole numbers and flags stay so beside a missing value
    assert str(j["Age"].dtype) == "Int64" and j["Age"].tolist() == [34, pd.NA, 61]
    assert str(j["Member"].dtype) == "boolean" and j["Member"].tolist() == [True, pd.NA, False]
    assert j["Gender"].tolist()[0] == "F" and pd.isna(j["Gender"].iloc[1]) and j["Gender"].iloc[2] == "M"
    # rfm's own attrs kept, the input tables untouched
    assert j.attrs["cleaning"] == t.attrs["cleaning"] and "customers" not in t.attrs
    assert list(crm.columns) == ["Customer ID", "Age", "Gender", "Member"]


@pytest.mark.parametrize("ids", [
    [12346.0, 12347.0, 12348.0],            # floats
    ["12346.0", "12347", "12348"],          # text of whole numbers
    np.array([12346, 12347, 12348], dtype=np.int32),
])
def test_whole_number_ids_of_any_type_are_one_customer(ids):
    t = rfm(small_log(), **ROLES)
    j = join_customers(t, pd.DataFrame({"CustomerID": ids, "Age": [1, 2, 3]}))
    assert j["Age"].tolist() == [1, 2, 3] and j.attrs["customers"]["unmatched"] == 0


def test_ids_of_nineteen_digits_are_not_rounded():
    big = [9_007_199_254_740_993, 9_007_199_254_740_995]  # above 2**53: as floats they would be one id
    t = pd.DataFrame({"recency": [1, 2]}, index=pd.Index(big, name="CustomerID"))
    j = join_customers(t, pd.DataFrame({"CustomerID": [str(b) for b in big[::-1]], "Age": [40, 30]}))
    assert j["Age"].tolist() == [30, 40]


def test_text_ids_match_as_written():
    tx = small_log().assign(CustomerID=["C-01", "C-01", "00123", "c-02", None, "c-02"])
    t = rfm(tx, **ROLES)
    crm = pd.DataFrame({"CustomerID": ["00123", "C-01", "C-02"], "Tier": ["gold", "silver", "bronze"]})
    j = join_customers(t, crm)
    assert j.loc["00123", "Tier"] == "gold" and j.loc["C-01", "Tier"] == "silver" and pd.isna(j.loc["c-02", "Tier"])
    assert j.attrs["customers"]["unmatched"] == 1  # "C-02" is not "c-02": ids are not guessed at


def test_the_id_column_is_found_by_name_index_or_given():
    t = rfm(small_log(), **ROLES)
    ages = [30, 40, 50]
    by_index = pd.DataFrame({"Age": ages}, index=pd.Index([12346, 12347, 12348], name="customer_id"))
    assert join_customers(t, by_index)["Age"].tolist() == ages  # "customer_id" is "CustomerID", case and _ aside
    assert join_customers(t, by_index, on="customer_id").attrs["customers"]["on"] == "customer_id"
    named = pd.DataFrame({"client": [12346, 12347, 12348], "user_id": [12346, 12347, 12348], "Age": ages})
    with pytest.raises(ValueError, match=r"which column of customers holds the customer id\?.*on= "
                                         r"\(--customers-id\); available: 'client', 'user_id', 'Age'"):
        join_customers(t, named.assign(account_id=[1, 2, 3]))  # two id-like columns: not guessed
    assert join_customers(t, named, on="client", columns=["Age"])["Age"].tolist() == ages
    with pytest.raises(ValueError, match=r"on='clent' is not a column of customers; did you mean 'client'"):
        join_customers(t, named, on="clent")


def test_a_repeated_row_is_read_once_and_a_conflicting_one_is_an_error():
    t = rfm(small_log(), **ROLES)
    crm = pd.DataFrame({"CustomerID": [12346, 12347, 12346], "Age": [30, 40, 30]})
    j = join_customers(t, crm)
    assert j["Age"].tolist() == [30, 40, pd.NA] and j.attrs["customers"]["extra"] == 0
    crm.loc[2, "Age"] = 31
    with pytest.raises(ValueError, match=r"1 id\(s\) in 'CustomerID' on rows that differ \(e\.g\. 12346 on rows "
                                         r"1, 3\); keep one row per customer"):
        join_customers(t, crm)


def test_errors_name_the_problem():
    t = rfm(small_log(), **ROLES)
    crm = pd.DataFrame({"CustomerID": [12346], "Age": [30], "recency": [3]})
    with pytest.raises(ValueError, match=r"'recency' would replace the table's own; rename"):
        join_customers(t, crm)
    with pytest.raises(ValueError, match=r"'tenure' would replace the table's own; rename"):  # rfm writes it too
        join_customers(t, crm.drop(columns="recency").assign(tenure=[999]))
    with pytest.raises(ValueError, match=r"column\(s\) 'Agee' not in customers; did you mean 'Age'"):
        join_customers(t, crm, columns=["Agee"])
    with pytest.raises(ValueError, match=r"no customer of the table is in customers' 'CustomerID': the table's ids "
                                         r"read 12346, 12347, 12348, customers' 'A-1'"):
        join_customers(t, pd.DataFrame({"CustomerID": ["A-1"], "Age": [3]}))
    with pytest.raises(ValueError, match=r"row numbers for an index; index it by the customer id"):
        join_customers(t.reset_index(), crm)
    with pytest.raises(ValueError, match=r"'CustomerID' is named as the table's customer ids, yet the ids were "
                                         r"taken from 'Age'"):
        join_customers(t, crm.drop(columns="recency"), on="Age")
    with pytest.raises(TypeError, match="customers"):
        join_customers(t, [1, 2])


def test_a_carried_attribute_takes_the_customer_tables_value_where_it_has_one():
    t = rfm(small_log(), **ROLES)
    assert t.attrs["attributes"]["columns"] == ["Country"]
    j = join_customers(t, pd.DataFrame({"CustomerID": [12347], "Country": ["Belgium"]}))
    assert j["Country"].tolist() == ["UK", "Belgium", "UK"]
    assert j.attrs["customers"]["replaced"] == ["Country"] and j.attrs["attributes"]["columns"] == []


def planted(n=400, seed=0):
    """A log whose customers are alike in R, F and M and a CRM table that splits them in two
    by age: only the joined column tells the groups apart."""
    rng = np.random.default_rng(seed)
    rows = []
    for c in range(n):  # spend drawn apart from the number of orders: R, F and M independent, no split to prefer
        orders, total = rng.integers(3, 7), rng.lognormal(5, 0.5)
        for i in range(orders):
            day = pd.Timestamp("2024-01-01") + pd.Timedelta(days=int(rng.integers(0, 300)))
            rows.append((f"{c}-{i}", c + 1000, day, float(total / orders)))
    log = pd.DataFrame(rows, columns=["InvoiceNo", "CustomerID", "InvoiceDate", "Sales"])
    old = rng.random(n) < 0.5
    crm = pd.DataFrame({"CustomerID": np.arange(n) + 1000,
                        "Age": np.where(old, rng.integers(60, 75, n), rng.integers(20, 32, n)),
                        "Region": rng.choice(["North", "South"], n)})
    return log, crm, pd.Series(old.astype(int), index=crm["CustomerID"])


def test_segmenter_describes_joined_columns_and_segments_on_those_named():
    log, crm, truth = planted()
    table = join_customers(rfm(log, **ROLES), crm)
    seg = Segmenter(k=2, random_state=0, stability=0).fit(table)
    assert seg.features == ["recency", "frequency", "monetary"]
    assert {"Age", "Region"} <= set(seg.described)  # read against, not clustered on
    assert "Age median" in seg.profiles.columns and "Region" in seg.composition
    assert adjusted_rand_score(truth.reindex(seg.labels.index), seg.labels["segment"]) < 0.1  # RFM alone: blind
    seg = Segmenter(features=["recency", "frequency", "monetary", "Age"], k=2, random_state=0, stability=0).fit(table)
    assert adjusted_rand_score(truth.reindex(seg.labels.index), seg.labels["segment"]) > 0.95
    assert seg.source["customers"]["columns"] == ["Age", "Region"]
    assert "Joined from a customer table by &#x27;CustomerID&#x27;: Age, Region (400 customers found there, 0 not)" \
        in render(seg)
    with pytest.raises(ValueError, match=r"no 'Age': the segments were found on columns of a customer table; join "
                                         r"it to the new table first, fastseg.join_customers"):
        seg.predict(rfm(log, **ROLES))
    assert seg.predict(table)["segment"].tolist() == seg.labels["segment"].tolist()


def test_shares_are_described_when_the_features_leave_them_out():
    log, crm, _ = planted(n=120)
    log["Category"] = np.where(np.arange(len(log)) % 3 == 0, "Garden", "Kitchen")
    table = join_customers(rfm(log, mix="Category", **ROLES), crm)
    seg = Segmenter(k=2, random_state=0, stability=0).fit(table)
    assert seg.features == ["recency", "frequency", "monetary", "Kitchen share", "Garden share"]
    assert seg.described == ["tenure", "Age", "Region"]
    seg = Segmenter(features=["recency", "frequency", "monetary"], k=2, random_state=0, stability=0).fit(table)
    assert seg.described == ["tenure", "Kitchen share", "Garden share", "Age", "Region"]


def test_a_customer_tables_dates_count_to_the_rfm_snapshot():
    t = rfm(small_log(), **ROLES)  # last order 2024-01-05: the snapshot, Recency's day, is 2024-01-06
    crm = pd.DataFrame({"CustomerID": [12346, 12347, 12348], "Signup": ["2023-12-01", "2023-01-06", "2024-01-06"]})
    table = join_customers(t, crm)
    seg = Segmenter(features=["recency", "frequency", "Signup"], k=2, random_state=0, stability=0).fit(table)
    days = seg.data["days since Signup"].tolist()
    assert days == [36.0, 365.0, 0.0]  # to 2024-01-06, not to the latest signup plus a day (which gave 37, 366, 1)
    assert seg.prep.snapshot == pd.Timestamp("2024-01-06") and seg.prep.snapshot_of_table
    assert "Dates read as the whole days from each to 2024-01-06, the RFM snapshot: Signup as 'days since Signup'" \
        in "\n".join(seg.summary().splitlines())
    # a new log ending later: its snapshot, as its Recency, so tenure grows with it
    later = pd.concat([small_log(), pd.DataFrame({"InvoiceNo": ["7"], "CustomerID": [12347.0],
                                                   "InvoiceDate": pd.to_datetime(["2024-01-30"]),
                                                   "Sales": [4.0], "Country": ["UK"]})], ignore_index=True)
    new = join_customers(rfm(later, **ROLES), crm)
    Z = seg.prep.apply(new)
    expected = (np.log1p([61.0, 390.0, 25.0]) - seg.prep.center[2]) / seg.prep.scale[2]
    np.testing.assert_allclose(Z[:, 2], expected)
    # a date the snapshot would count to negative days (a signup after the log ends): the latest date plus a day
    late = crm.assign(Signup=["2023-12-01", "2023-01-06", "2024-02-01"])
    seg = Segmenter(features=["recency", "Signup"], k=2, random_state=0, stability=0).fit(join_customers(t, late))
    assert seg.prep.snapshot == pd.Timestamp("2024-02-02") and not seg.prep.snapshot_of_table
    # a snapshot given wins
    seg = Segmenter(features=["recency", "Signup"], k=2, random_state=0, stability=0,
                    snapshot="2024-03-01").fit(table)
    assert seg.data["days since Signup"].tolist() == [91.0, 420.0, 55.0] and not seg.prep.snapshot_of_table


def test_cli_segment_and_predict_with_a_customer_table(tmp_path, capsys):
    log, crm, truth = planted(n=300)
    crm = crm.iloc[:-20]  # 20 customers without a CRM row
    src, ctab = tmp_path / "log.csv", tmp_path / "crm.csv"
    log.to_csv(src, index=False)
    crm.to_csv(ctab, index=False)
    model, out, pred = tmp_path / "seg.pkl", tmp_path / "labels.csv", tmp_path / "pred.csv"
    assert main(["segment", str(src), "--rfm", "--customers", str(ctab), "--features",
                 "recency,frequency,monetary,Age", "--missing", "drop", "--k", "2", "--stability", "0", "--save",
                 str(model), "--out", str(out)]) == 0
    err = capsys.readouterr().err
    assert f"Joined from {ctab} by 'CustomerID': Age, Region (280 of 300 customers found; 20 not, their columns " \
           "left empty)" in err
    labels = pd.read_csv(out, index_col=0, dtype={"Age": str})
    assert labels["Age"].dropna().str.fullmatch(r"\d+").all()  # written as 34, not 34.0
    assert labels["segment"].isna().sum() == 20
    kept = labels["segment"].notna()
    assert adjusted_rand_score(truth.reindex(labels.index[kept]), labels["segment"][kept]) > 0.95
    # predict: the model segments on Age, so it needs the customer table too
    rc = main(["predict", str(src), "--rfm", "--model", str(model), "--out", str(pred)])
    assert rc == 2 and "segments on 'Age' from a customer table: give it (or a newer one) with --customers FILE" \
        in capsys.readouterr().err and not pred.exists()
    assert main(["predict", str(src), "--rfm", "--model", str(model), "--customers", str(ctab), "--out",
                 str(pred), "-q"]) == 0
    got = pd.read_csv(pred, index_col=0)
    expected = Segmentation.load(model).predict(join_customers(rfm(pd.read_csv(src)), pd.read_csv(ctab)))
    assert got["segment"].fillna(-1).tolist() == expected["segment"].fillna(-1).tolist()


def _err(argv, capsys):
    rc = main(argv)
    return rc, capsys.readouterr().err


def test_cli_customer_table_errors_are_one_line_and_write_nothing(tmp_path, capsys):
    log, crm, _ = planted(n=60)
    src, ctab, out = tmp_path / "log.csv", tmp_path / "crm.csv", tmp_path / "labels.csv"
    log.to_csv(src, index=False)
    crm.to_csv(ctab, index=False)
    before = ctab.read_bytes()
    cases = [
        (["--customers", str(ctab)], "--customers joins a customer table to the RFM table of a transaction log: it "
                                     "goes with --rfm"),
        (["--rfm", "--customers-id", "CustomerID"], "--customers-id names the id column of the --customers table"),
        (["--rfm", "--customers", str(tmp_path / "nope.csv")], "does not exist; give the customer table's"),
        (["--rfm", "--customers", str(tmp_path)], "is a folder"),
        (["--rfm", "--customers", str(ctab), "--customers-id", "Agee"], "on='Agee' is not a column of customers; "
                                                                        "did you mean 'Age'"),
    ]
    for extra, message in cases:
        rc, err = _err(["segment", str(src), *extra, "--out", str(out), "--k", "2"], capsys)
        assert rc == 2 and message in err and len(err.strip().splitlines()) <= 3, err
        assert err.strip().splitlines()[-1].startswith("fastseg: error:")
        assert not out.exists()
    rc, err = _err(["segment", str(src), "--rfm", "--customers", str(ctab), "--out", str(ctab)], capsys)
    assert rc == 2 and "is the input file" in err and ctab.read_bytes() == before
