"""Rows of a transaction log equal to an earlier one: counted, kept by default, dropped on request."""

import numpy as np
import pandas as pd
import pytest

from fastseg import baskets, rfm
from fastseg.cli import main
from fastseg.datasets import online_retail
from fastseg.features import duplicates_text

COLS = dict(customer="c", date="d", invoice="inv", quantity="q", price="p")


def small_log():
    """Customer 1's first line written twice; customer 2 buys the same item twice in one
    invoice at different quantities (no copy); customer 3's return written twice."""
    return pd.DataFrame({
        "c": [1, 1, 1, 2, 2, 3, 3, 3],
        "d": ["2024-01-01", "2024-01-01", "2024-01-05", "2024-01-02", "2024-01-02", "2024-01-03", "2024-01-04",
              "2024-01-04"],
        "inv": ["a", "a", "b", "c", "c", "d", "Ce", "Ce"],
        "item": ["x", "x", "y", "x", "x", "z", "z", "z"],
        "q": [2, 2, 1, 1, 3, 4, -1, -1],
        "p": [5.0, 5.0, 3.0, 5.0, 5.0, 2.0, 2.0, 2.0],
    })


def test_copies_are_counted_and_kept_by_default_dropped_on_request():
    log = small_log()
    kept = rfm(log, **COLS)
    assert kept.attrs["duplicates"] == {"rows": 1, "dropped": False}  # the return's copy is no purchase
    np.testing.assert_array_equal(kept["monetary"], [23.0, 20.0, 8.0])
    assert "duplicate row" not in kept.attrs["cleaning"]
    assert duplicates_text(kept.attrs["duplicates"]).startswith("1 row of purchases equal to an earlier row")
    dropped = rfm(log, **COLS, duplicates="drop")
    np.testing.assert_array_equal(dropped["monetary"], [13.0, 20.0, 8.0])
    np.testing.assert_array_equal(dropped["frequency"], kept["frequency"])  # invoices are not rows
    assert dropped.attrs["cleaning"]["duplicate row"] == 1 and dropped.attrs["cleaning"]["rows kept"] == 5
    # netting returns: the copied return line counts once
    np.testing.assert_array_equal(rfm(log, **COLS, returns="net")["monetary"], [23.0, 20.0, 4.0])
    np.testing.assert_array_equal(rfm(log, **COLS, returns="net", duplicates="drop")["monetary"], [13.0, 20.0, 6.0])
    assert duplicates_text(rfm(log.drop_duplicates(), **COLS).attrs["duplicates"]) == ""


def test_dropping_equals_pandas_drop_duplicates_on_the_shipped_log():
    log = online_retail(500, seed=3)
    dropped, by_hand = rfm(log, duplicates="drop"), rfm(log.drop_duplicates())
    for c in ("recency", "frequency", "monetary", "tenure", "R", "F", "M"):
        pd.testing.assert_series_equal(dropped[c], by_hand[c])
    kept = rfm(log)
    purchase = (log["CustomerID"].notna() & (log["Quantity"] > 0) & (log["UnitPrice"] > 0)
                & ~log["InvoiceNo"].astype(str).str.startswith("C"))
    copies = int((log.duplicated() & purchase).sum())
    assert kept.attrs["duplicates"]["rows"] == dropped.attrs["cleaning"]["duplicate row"] == copies > 0
    # the shipped log repeats about 1% of its purchases, as the UCI data does
    assert 0.002 < copies / kept.attrs["cleaning"]["rows kept"] < 0.03
    b = baskets(log, duplicates="drop")
    assert (b.customers == dropped.index).all()
    np.testing.assert_allclose(np.asarray(b.matrix.sum(axis=1)).ravel(), dropped["monetary"].to_numpy())


def test_a_cell_that_cannot_be_compared_counts_no_copy():
    log = small_log()
    log["tags"] = [["a"]] * len(log)  # lists: pandas cannot hash them
    assert rfm(log, **COLS, attributes=None).attrs["duplicates"]["rows"] == 0


@pytest.mark.parametrize("bad", ["yes", True, None])
def test_a_bad_duplicates_argument_is_named(bad):
    with pytest.raises(ValueError, match=f"duplicates must be 'keep' or 'drop'; got {bad!r}"):
        rfm(small_log(), **COLS, duplicates=bad)
    with pytest.raises(ValueError, match="duplicates must be 'keep' or 'drop'"):
        baskets(small_log(), **COLS, item="item", duplicates=bad)


def test_command_duplicates_round_trip(tmp_path, capsys, cli_result):
    log = online_retail(300, seed=2)
    path, out, model = tmp_path / "log.csv", tmp_path / "labels.csv", tmp_path / "m.pkl"
    log.to_csv(path, index=False)
    assert main(["segment", str(path), "--rfm", "--k", "3", "--out", str(out)]) == 0
    err = capsys.readouterr().err
    copies = rfm(log).attrs["duplicates"]["rows"]
    assert f"note: {copies:,} rows of purchases equal to an earlier row in every column, kept" in err
    report = tmp_path / "r.html"
    assert main(["segment", str(path), "--rfm", "--k", "3", "--duplicates", "drop", "--out", str(out), "--save",
                 str(model), "--report", str(report)]) == 0
    err = capsys.readouterr().err
    assert f"{copies:,} rows equal to an earlier row in every column left out" in err
    assert "left out (duplicates dropped)" in report.read_text(encoding="utf-8")
    labels = pd.read_csv(out)
    again = tmp_path / "again.csv"
    assert main(["predict", str(path), "--model", str(model), "--rfm", "--out", str(again)]) == 0  # the model's
    pd.testing.assert_frame_equal(pd.read_csv(again)[labels.columns], labels)
    rc, err = cli_result(["predict", str(path), "--model", str(model), "--rfm", "--duplicates", "keep", "--out",
                          str(tmp_path / "x.csv")])
    assert rc == 2 and "m.pkl's RFM was found with --duplicates drop" in err and not (tmp_path / "x.csv").exists()
    rc, err = cli_result(["segment", str(path), "--duplicates", "drop", "--features", "Quantity"])
    assert rc == 2 and "--duplicates goes with --rfm" in err


def test_predict_refuses_a_table_whose_copies_were_handled_otherwise():
    from fastseg import Segmenter

    log = online_retail(300, seed=2)
    seg = Segmenter(k=3, random_state=0, stability=0).fit(rfm(log, duplicates="drop"))
    with pytest.raises(ValueError, match=r"computed with rfm\(duplicates='keep'\), the fit's with "
                                         r"duplicates='drop'; make the table with rfm\(log, duplicates='drop'\)"):
        seg.predict(rfm(log))
    assert (seg.predict(rfm(log, duplicates="drop"))["segment"] == seg.labels["segment"]).all()
