"""Days written for a date not known (1900-01-01, 1970-01-01, Excel's 1899-12-30 and 31) in
a customer table's date columns: read as missing, named, never counted as a real date."""

import numpy as np
import pandas as pd
import pytest

from fastseg import Segmenter, rfm
from fastseg._dates import PLACEHOLDER_DAYS, placeholder_days
from fastseg.features import dates_as_days

FEATURES = ["spend", "orders", "signup_date"]


def customers(n=1500, placeholder="1900-01-01", share=0.03, seed=0, fmt="%Y-%m-%d"):
    """Customers who signed up from 2018 on; ``share`` of them with ``placeholder`` for a
    sign-up date. Returns the table and which rows hold the placeholder."""
    rs = np.random.default_rng(seed)
    signup = pd.Series(pd.Timestamp("2018-01-01") + pd.to_timedelta(rs.integers(0, 2000, n), unit="D"))
    held = rs.random(n) < share
    signup[held] = pd.Timestamp(placeholder)
    df = pd.DataFrame({"customer_id": np.arange(n), "signup_date": signup.dt.strftime(fmt),
                       "spend": rs.lognormal(5, 1, n), "orders": rs.poisson(4, n) + 1})
    return df, held


@pytest.mark.parametrize("day", PLACEHOLDER_DAYS)
def test_each_placeholder_day_is_read_as_missing_and_named(day):
    df, held = customers(placeholder=day)
    with pytest.raises(ValueError, match=f"signup_date: {held.sum()} dated {day}, a day written for a date not "
                                         "known.*missing='drop'"):
        Segmenter(features=FEATURES, k=3, random_state=0).fit(df)
    seg = Segmenter(features=FEATURES, k=3, missing="drop", random_state=0, stability=0).fit(df)
    assert seg.prep.unknown == {"signup_date": {day: int(held.sum())}}
    np.testing.assert_array_equal(np.sort(seg.not_segmented), np.flatnonzero(held))  # keyed by customer_id
    days = seg.data["days since signup_date"]
    assert days.max() <= 2000  # no customer counted from 1900 (45,000 days)
    assert f"signup_date: {held.sum()} dated {day}, a day written for a date not known, read as missing." \
        in seg.summary()


def test_the_days_as_a_sklearn_user_would_count_them():
    """The days left equal those counted by hand from the dates that are real."""
    df, held = customers(n=300, share=0.1)
    out, renamed, snap = dates_as_days(df, ["signup_date"])
    real = pd.to_datetime(df["signup_date"])
    expected = ((snap - real).dt.days).astype(float).where(~held)
    np.testing.assert_array_equal(out[renamed["signup_date"]].to_numpy(), expected.to_numpy())
    assert snap == real[~held].max() + pd.Timedelta(days=1)


def test_a_day_of_the_columns_own_era_is_a_date():
    """Birth dates from 1940 to 2005: 1970-01-01 is someone's birthday, kept as it is;
    1900-01-01 there is not (40 years before every other)."""
    rs = np.random.default_rng(1)
    n = 2000
    born = pd.Series(pd.Timestamp("1940-01-01") + pd.to_timedelta(rs.integers(0, 65 * 365, n), unit="D"))
    born[:5] = pd.Timestamp("1970-01-01")
    born[5:9] = pd.Timestamp("1900-01-01")
    df = pd.DataFrame({"birth_date": born, "spend": rs.lognormal(5, 1, n)})
    out, renamed, snap = dates_as_days(df, ["birth_date"])
    days = out[renamed["birth_date"]]
    assert days[:5].notna().all() and days[5:9].isna().all() and days[9:].notna().all()


def _ns(*days):
    return np.array([pd.Timestamp(d).value for d in days], dtype=np.int64)


def test_every_date_a_placeholder_or_none_close_is_read_as_it_is():
    assert not placeholder_days(_ns(*["1900-01-01"] * 4)).any()  # nothing to tell them from
    assert not placeholder_days(_ns("1970-01-01", "1970-06-01", "1970-09-01")).any()  # the log's own era
    # only a placeholder day at midnight is one: a time of day is a date someone wrote
    np.testing.assert_array_equal(placeholder_days(_ns("1970-01-01", "1975-06-01")), [True, False])
    np.testing.assert_array_equal(placeholder_days(_ns("1970-01-01 10:00", "1975-06-01")), [False, False])
    # each day on its own: 1900 is a placeholder beside 1970-01-01 of the others' era
    np.testing.assert_array_equal(placeholder_days(_ns("1900-01-01", "1970-01-01", "1970-06-01")),
                                  [True, False, False])
    # new rows: before the fitted table's first date
    np.testing.assert_array_equal(placeholder_days(_ns("1970-01-01", "1980-01-01"), first=_ns("1975-01-01")[0]),
                                  [True, False])


def test_new_customers_placeholders_are_those_before_the_fits_first_date():
    df, held = customers()
    seg = Segmenter(features=FEATURES, k=3, missing="drop", random_state=0, stability=0).fit(df)
    assert seg.prep.first == {"signup_date": pd.Timestamp(df.loc[~held, "signup_date"].min())}
    new = df[~held].head(5).copy()
    new.iloc[0, new.columns.get_loc("signup_date")] = "1900-01-01"
    new.iloc[1, new.columns.get_loc("signup_date")] = "1970-01-01"  # the new table's only other dates: 2018 on
    out = seg.predict(new)
    assert out["segment"].isna().tolist() == [True, True, False, False, False]
    strict = Segmenter(features=FEATURES, k=3, random_state=0, stability=0).fit(df[~held])
    with pytest.raises(ValueError, match=r"2 of 5 rows .*; signup_date: 1 dated 1900-01-01 and 1 dated 1970-01-01, "
                                         r"days written for a date not known; fill"):
        strict.predict(new)


def test_a_described_date_column_is_profiled_without_them():
    df, held = customers()
    seg = Segmenter(features=["spend", "orders"], describe=["signup_date"], k=3, random_state=0,
                    stability=0).fit(df)
    assert seg.prep.unknown == {"signup_date": {"1900-01-01": int(held.sum())}}
    assert (seg.profiles["days since signup_date mean"] <= 2000).all()  # 1900 would add 45,000 days


def test_cli_error_then_drop(tmp_path, cli_result, capsys):
    df, held = customers()
    src = tmp_path / "customers.csv"
    df.to_csv(src, index=False)
    out = tmp_path / "labels.csv"
    args = ["segment", str(src), "--features", ",".join(FEATURES), "--k", "3", "--out", str(out)]
    rc, err = cli_result(args)
    assert rc == 2 and "Traceback" not in err and not out.exists()
    assert f"; signup_date: {held.sum()} dated 1900-01-01, a day written for a date not known;" in err
    from fastseg.cli import main
    assert main([*args, "--missing", "drop"]) == 0
    assert f"signup_date: {held.sum()} dated 1900-01-01, a day written for a date not known, read as missing." \
        in capsys.readouterr().out
    labels = pd.read_csv(out)
    assert len(labels) == len(df) and labels["segment"].isna().sum() == held.sum()


def test_rfm_names_an_excel_day_beside_an_epoch_day_of_its_own_era():
    """A log from mid-1970 with rows on 1970-01-01 (five months before: its own era) and on
    1900-01-01: the 1900 rows are refused, as they are alone."""
    rs = np.random.default_rng(2)
    n = 4000
    when = pd.Timestamp("1970-06-01") + pd.to_timedelta(rs.integers(0, 300, n), unit="D")
    log = pd.DataFrame({"c": rs.integers(0, 300, n), "d": when, "amount": rs.lognormal(3, 1, n)})
    log.loc[:9, "d"] = pd.Timestamp("1970-01-01")
    log.loc[10:12, "d"] = pd.Timestamp("1900-01-01")
    with pytest.raises(ValueError, match="3 rows of the log are dated 1900-01-01 \\(a day written for a date not "
                                         "known\\), 70 years before every other \\(the rest begins 1970-01-01\\)"):
        rfm(log, customer="c", date="d", amount="amount")
    table = rfm(log, customer="c", date="d", amount="amount", since="1970-01-01")
    assert table.attrs["cleaning"]["before since"] == 3
