"""Returns netted off Monetary (rfm(returns="net")): hand-computed tables, a pandas
reference on the shipped log, predict keeping the fit's choice, the command's --returns."""

import numpy as np
import pandas as pd
import pytest

from fastseg import Segmentation, Segmenter, rfm
from fastseg.cli import main
from fastseg.datasets import online_retail

COLS = dict(customer="cust", date="day", invoice="inv", quantity="qty", price="price")


def hand_log():
    return pd.DataFrame([
        ("1", "A", "2024-01-01", 2, 5.0),  # A buys 10
        ("C2", "A", "2024-01-02", -1, 5.0),  # ... and cancels 5 of it: A nets 5
        ("3", "B", "2024-01-03", 1, 4.0),  # B buys 4
        ("4", "B", "2024-01-04", -3, 4.0),  # ... and returns 12 (no "C" invoice): B nets -8, floored at 0
        ("C5", "Z", "2024-01-05", -1, 9.0),  # Z only returns: no customer
        ("6", "A", "2024-01-06", 1, -3.0),  # a negative price: an adjustment, not a return
        ("C7", None, "2024-01-06", -1, 3.0),  # a return of no customer
        ("C8", "A", "not a date", -1, 100.0),  # a return without a date
    ], columns=["inv", "cust", "day", "qty", "price"])


@pytest.mark.parametrize("ids", ["text", "category", "float"])
def test_returns_net_hand_computed(ids):
    tx = hand_log()
    if ids == "category":
        tx["cust"] = tx["cust"].astype("category")
    elif ids == "float":  # as the UCI log keeps its ids, with missing ones
        tx["cust"] = tx["cust"].map({"A": 17.0, "B": 18.0, "Z": 19.0})
    dropped = rfm(tx, **COLS)
    net = rfm(tx, **COLS, returns="net")
    np.testing.assert_allclose(dropped["monetary"], [10.0, 4.0])
    np.testing.assert_allclose(net["monetary"], [5.0, 0.0])
    for c in ("recency", "frequency"):  # purchases only
        np.testing.assert_array_equal(net[c], dropped[c])
    assert list(net.index) == list(dropped.index) and len(net) == 2
    assert net.attrs["cleaning"] == dropped.attrs["cleaning"]  # the rules drop the same rows
    assert net.attrs["returns"] == {"mode": "net", "rows": 2, "value": 17.0, "customers": 2, "above purchases": 1,
                                    "rows of customers without purchases": 1}
    assert "returns" not in dropped.attrs
    np.testing.assert_array_equal(net["M"], [5, 3])  # scores by the netted spend


def test_returns_net_with_an_amount_column():
    tx = pd.DataFrame({"cust": ["A", "A", "B", "B"], "day": ["2024-01-01", "2024-01-02", "2024-01-01", "2024-01-03"],
                       "amt": [50.0, -20.0, 30.0, 0.0]})
    net = rfm(tx, customer="cust", date="day", amount="amt", returns="net")
    np.testing.assert_allclose(net["monetary"], [30.0, 30.0])
    assert net.attrs["returns"]["rows"] == 1


def test_returns_net_matches_a_pandas_reference_on_the_shipped_log():
    log = online_retail(800, seed=4)
    net = rfm(log, returns="net")
    gross = rfm(log)
    when = pd.to_datetime(log["InvoiceDate"], errors="coerce")
    back = log[log["CustomerID"].notna() & when.notna() & (log["Quantity"] < 0) & (log["UnitPrice"] > 0)]
    sent = (-back["Quantity"] * back["UnitPrice"]).groupby(back["CustomerID"].astype(np.int64)).sum()
    ref = (gross["monetary"] - sent.reindex(gross.index, fill_value=0.0)).clip(lower=0)
    np.testing.assert_allclose(net["monetary"], ref, rtol=1e-12, atol=1e-9)
    assert net.attrs["returns"]["customers"] == int(sent.index.isin(gross.index).sum()) > 0
    assert (net["monetary"] < gross["monetary"]).sum() > 0


@pytest.mark.parametrize("bad", ["netted", None, True])
def test_a_bad_returns_argument_is_named(bad):
    with pytest.raises(ValueError, match=r"returns must be 'drop' or 'net'; got"):
        rfm(hand_log(), **COLS, returns=bad)


def test_predict_takes_a_table_whose_returns_were_handled_as_at_the_fit(tmp_path):
    log = online_retail(600, seed=5)
    net, dropped = rfm(log, returns="net"), rfm(log)
    for fit, other, want in ((net, dropped, "'net'"), (dropped, net, "'drop'")):
        seg = Segmenter(k=3, random_state=0, stability=0).fit(fit)
        seg.save(tmp_path / "seg.pkl")
        back = Segmentation.load(tmp_path / "seg.pkl")
        assert back.predict(fit)["segment"].tolist() == seg.labels["segment"].tolist()
        with pytest.raises(ValueError, match=rf"make the table with rfm\(log, returns={want}\)"):
            back.predict(other)


def _err(argv, capsys):
    rc = main(argv)
    return rc, capsys.readouterr().err


def test_cli_returns_net_segments_reports_and_predicts_the_same_way(tmp_path, capsys):
    log = online_retail(600, seed=6)
    when = pd.to_datetime(log["InvoiceDate"])
    first, later = tmp_path / "h1.csv", tmp_path / "h2.csv"
    log[when < "2011-06-01"].to_csv(first, index=False)
    log[when >= "2011-06-01"].to_csv(later, index=False)
    model, out, report, pred = (tmp_path / n for n in ("seg.pkl", "l.csv", "r.html", "p.csv"))
    assert main(["segment", str(first), "--rfm", "--returns", "net", "--k", "3", "--stability", "0", "--item",
                 "none", "--save", str(model), "--out", str(out), "--report", str(report)]) == 0
    err = capsys.readouterr().err
    assert "Returns netted off Monetary: " in err
    labels = pd.read_csv(out, index_col=0)
    np.testing.assert_allclose(labels["monetary"], rfm(pd.read_csv(first), returns="net")["monetary"])
    assert "Returns netted off Monetary: " in report.read_text()
    assert main(["predict", str(later), "--rfm", "--model", str(model), "--out", str(pred)]) == 0
    assert "Returns netted off Monetary: " in capsys.readouterr().err
    got = pd.read_csv(pred, index_col=0)
    expected = Segmentation.load(model).predict(rfm(pd.read_csv(later), returns="net"))
    assert got["segment"].tolist() == expected["segment"].tolist()
    # the model decides; a contrary --returns, or --returns on a customer table, is a one-line error
    rc, err = _err(["predict", str(later), "--rfm", "--model", str(model), "--returns", "drop", "--out",
                    str(tmp_path / "no.csv")], capsys)
    assert rc == 2 and "Monetary was found with --returns net" in err and "Traceback" not in err
    rc, err = _err(["segment", str(out), "--returns", "net", "--out", str(tmp_path / "no.csv")], capsys)
    assert rc == 2 and "--returns goes with --rfm" in err
    assert not (tmp_path / "no.csv").exists()


def test_returns_of_customers_whose_ids_mix_numbers_and_text_are_netted():
    # a CSV read in pieces: 17 as a number in one, "17" as text in another
    tx = hand_log()
    tx["cust"] = pd.Series([17, "17", "B", "B", "Z", 17.0, None, 17], dtype=object)
    net = rfm(tx, **COLS, returns="net")
    assert list(net.index) == ["17", "B"]
    np.testing.assert_allclose(net["monetary"], [5.0, 0.0])
