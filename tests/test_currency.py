"""Amounts in several currencies are never added up as one: a log's column of currencies
(rfm(currency=...), --currency) and amounts written with their currency ("£5" beside "$5")."""

import numpy as np
import pandas as pd
import pytest

from fastseg import Segmenter, baskets, rfm
from fastseg._amounts import amounts_as_numbers
from fastseg._currency import currency_column
from fastseg.cli import main
from fastseg.datasets import online_retail


def priced_log(seed=3):
    """The shipped log with a Currency column: France's customers pay in euros, with the
    spelling as an export may vary it (" eur", "Eur"); a few rows have none."""
    log = online_retail(300, seed=seed)
    cur = np.where(log["Country"] == "France", "EUR", "GBP").astype(object)
    french = np.flatnonzero(cur == "EUR")
    cur[french[::3]], cur[french[1::3]] = " eur", "Eur"
    cur[np.flatnonzero(cur == "GBP")[::50]] = None  # no currency: taken as the log's
    return log.assign(Currency=cur)


def test_two_currencies_without_a_choice_are_an_error_naming_them_and_the_fix():
    with pytest.raises(ValueError, match=r"the log's 'Currency' column holds 2 currencies \(GBP on [\d,]+ rows, EUR "
                                         r"on [\d,]+ rows\); Monetary would add them up as one: keep one with "
                                         r"currency='GBP' \(--currency GBP\), or convert"):
        rfm(priced_log())


def test_keeping_one_currency_equals_the_log_filtered_by_hand():
    log = priced_log()
    kept = rfm(log, currency="GBP")
    gbp = (log["Currency"].str.strip().str.upper() == "GBP").fillna(False).astype(bool)
    by_hand = rfm(log[gbp].drop(columns="Currency"))
    pd.testing.assert_frame_equal(kept[by_hand.columns], by_hand)
    # rows with a customer and a date in euros however spelled, or in no currency (which is unknown beside two)
    euros = int((log["Currency"].str.strip().str.upper() == "EUR").fillna(False)[log["CustomerID"].notna()].sum())
    blank = int((log["Currency"].isna() & log["CustomerID"].notna()).sum())
    assert kept.attrs["cleaning"]["in another currency"] == euros + blank and euros > 0 and blank > 0
    assert kept.attrs["currency"] == {"column": "Currency", "kept": "GBP", "rows": {"GBP": kept.attrs["currency"]
                                      ["rows"]["GBP"], "EUR": euros}}
    eur = rfm(log, currency=" eur ", attributes=["Country"])  # as the column writes it, case and spaces aside
    assert eur.attrs["currency"]["kept"] == "EUR"
    assert (eur["Country"] == "France").all()  # the rows kept are France's, in euros
    # in a log of one currency, a row with none is taken as in it
    one = log.assign(Currency=log["Currency"].where(log["Currency"].isna(), "GBP"))
    np.testing.assert_allclose(rfm(one, currency="GBP")["monetary"], rfm(log.drop(columns="Currency"))["monetary"])


def test_any_keeps_every_row_and_one_currency_needs_no_choice():
    log = priced_log()
    anyway = rfm(log, currency="any")
    plain = rfm(log.drop(columns="Currency"))
    np.testing.assert_allclose(anyway["monetary"], plain["monetary"])
    assert anyway.attrs["currency"]["kept"] is None and "in another currency" not in anyway.attrs["cleaning"]
    one = log.assign(Currency="GBP")
    t = rfm(one)
    assert t.attrs["currency"] == {"column": "Currency", "kept": "GBP", "rows": {"GBP": t.attrs["currency"]["rows"]
                                                                                  ["GBP"]}}
    assert "in another currency" not in t.attrs["cleaning"]
    assert "currency" not in plain.attrs


def test_bad_currency_arguments_are_named():
    log = priced_log()
    with pytest.raises(ValueError, match=r"currency='USD', but the log's 'Currency' column holds GBP, EUR; give"):
        rfm(log, currency="USD")
    with pytest.raises(ValueError, match=r"no column of the log is named like one \(Currency, currency_code, ccy\)"):
        rfm(log.drop(columns="Currency"), currency="GBP")
    with pytest.raises(ValueError, match=r"currency must be the currency whose rows to keep"):
        rfm(log, currency=3)


def test_baskets_keep_the_same_rows_so_the_customers_line_up():
    log = priced_log()
    table, b = rfm(log, currency="GBP"), baskets(log, currency="GBP")
    assert (b.customers == table.index).all()
    assert b.attrs["cleaning"]["in another currency"] == table.attrs["cleaning"]["in another currency"]
    with pytest.raises(ValueError, match=r"holds 2 currencies"):
        baskets(log)


@pytest.mark.parametrize("name, found", [("Currency", True), ("currency_code", True), ("CCY", True),
                                         ("Order Currency", True), ("CurrencyRate", False), ("Price", False)])
def test_the_currency_column_is_read_off_its_name(name, found):
    assert (currency_column(["CustomerID", name]) == name) is found


def test_predict_refuses_a_table_in_another_currency():
    log = priced_log()
    seg = Segmenter(k=3, random_state=0, stability=0).fit(rfm(log, currency="GBP"))
    assert seg.source["currency"]["kept"] == "GBP"
    assert (seg.predict(rfm(log, currency="GBP"))["segment"] == seg.labels["segment"]).all()
    with pytest.raises(ValueError, match=r"monetary is in EUR, the fit's in GBP; make the table with rfm\(log, "
                                         r"currency='GBP'\)"):
        seg.predict(rfm(log, currency="EUR"))


def test_amounts_written_in_two_currencies_are_an_error():
    two = pd.Series(["£5.00", "$3", "£1,200.00", None, "7"])
    with pytest.raises(ValueError, match=r"column 'Sales' holds amounts in 2 currencies \(£ on 2 rows, \$ on 1 "
                                         r"row\); added up they would make a total in no currency"):
        amounts_as_numbers(pd.DataFrame({"Sales": two}))
    log = pd.DataFrame({"c": ["a", "a", "b"], "d": ["2024-01-01"] * 3, "amt": ["EUR 5", "USD 3", "EUR 4"]})
    with pytest.raises(ValueError, match=r"column 'amt' holds amounts in 2 currencies \(EUR on 2 rows, USD on 1 "):
        rfm(log, customer="c", date="d", amount="amt")
    # one currency, by sign and by code ("$" may be USD), or none written: read as numbers
    same = pd.DataFrame({"a": ["$5", "USD 3", "4"], "b": ["12,50 €", "EUR 3", "1.234,00 €"]})
    out, read = amounts_as_numbers(same)
    assert read == ["a", "b"]
    np.testing.assert_allclose(out["a"], [5, 3, 4])
    np.testing.assert_allclose(out["b"], [12.5, 3, 1234])


def test_command_currency_round_trip(tmp_path, capsys, cli_result):
    log = priced_log()
    path, gbp_only = tmp_path / "log.csv", tmp_path / "gbp.csv"
    log.to_csv(path, index=False)
    log[log["Currency"].fillna("GBP") == "GBP"].drop(columns="Currency").to_csv(gbp_only, index=False)
    out = tmp_path / "labels.csv"
    rc, err = cli_result(["segment", str(path), "--rfm", "--k", "3", "--out", str(out)])
    assert rc == 2 and "holds 2 currencies" in err and "--currency GBP" in err and "Traceback" not in err
    assert not out.exists()
    model, report = tmp_path / "m.pkl", tmp_path / "r.html"
    assert main(["segment", str(path), "--rfm", "--k", "3", "--currency", "GBP", "--out", str(out), "--save",
                 str(model), "--report", str(report)]) == 0
    err = capsys.readouterr().err
    assert "Monetary in GBP ('Currency'); " in err and "rows in other currencies left out (EUR " in err
    assert "Monetary in GBP (&#x27;Currency&#x27;)" in report.read_text(encoding="utf-8")
    labels = pd.read_csv(out)
    # predict keeps the model's currency, on a log with the column and on one without
    for new in (path, gbp_only):
        again = tmp_path / "again.csv"
        assert main(["predict", str(new), "--model", str(model), "--rfm", "--out", str(again), "--quiet"]) == 0
        assert (pd.read_csv(again)["segment"] == labels["segment"]).all()
    rc, err = cli_result(["predict", str(path), "--model", str(model), "--rfm", "--currency", "EUR", "--out",
                    str(tmp_path / "x.csv")])
    assert rc == 2 and "m.pkl's Monetary is in GBP (column 'Currency')" in err and not (tmp_path / "x.csv").exists()
    rc, err = cli_result(["segment", str(path), "--currency", "GBP", "--features", "Quantity"])
    assert rc == 2 and "--currency goes with --rfm" in err
