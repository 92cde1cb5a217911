"""Numbers written for a value not known (an Age of 999, an income of -1) in a customer
table: read as missing and named, at the fit and for new customers."""

import numpy as np
import pandas as pd
import pytest

from fastseg import Segmenter
from fastseg._sentinels import new_codes, sentinel
from fastseg.datasets import mall_customers

INCOME = "Annual Income (k$)"


@pytest.mark.parametrize("values, code", [
    ([20, 35, 95, 999, 999], 999.0),  # Age 999 where the rest end at 95
    ([20, 35, 95, 999], None),  # one row: may be a real value
    ([1, 50, 100, 99, 99], None),  # Spending Score 99 of 1 to 100: not the largest
    ([1, 40, 49, 99, 99], 99.0),  # 99 children, the rest at most 49
    ([1, 50, 60, 99, 99], None),  # 99 where the rest reach 60: less than twice them
    ([15.5, 0.0, 70.25, -1.0, -1.0, np.nan], -1.0),  # income -1 where every other is 0 or more
    ([-5, 3, 7, -1, -1], None),  # a column with negative values of its own
    ([3000, 6000, 9999, 9999], None),  # 9999 that the rest come near
    ([3000, 4000, 9999, 9999, np.inf], 9999.0),
    ([999, 999, 999], None),  # every row: nothing to tell them from
])
def test_sentinel(values, code):
    assert sentinel(np.array(values, dtype=float)) == code


def test_new_codes_against_the_fitted_range():
    x = np.array([999, 70, 150, -1, 99, np.nan])
    np.testing.assert_array_equal(new_codes(x, lo=18, hi=70), [True, False, False, True, False, False])
    np.testing.assert_array_equal(new_codes(x, lo=-3, hi=400), [True, False, False, False, False, False])
    assert not new_codes(x, lo=0, hi=500)[0]  # 999 within twice the fitted range: a value


def coded_mall(code=999, column="Age", share=0.025, n=2000):
    """The mall table with ``share`` of its customers holding ``code`` in ``column``."""
    df = mall_customers(n)
    rows = np.random.default_rng(0).choice(n, size=int(n * share), replace=False)
    coded = df.copy()
    coded.loc[coded.index[rows], column] = code
    return df, coded, rows


def test_codes_read_as_missing_give_the_segments_of_the_rows_without_them():
    """Clustered on, 50 customers of Age 999 took a segment ("much older") and two known
    groups merged; read as missing, the segments are those of the table without them."""
    _, coded, rows = coded_mall()
    with pytest.raises(ValueError, match=r"50 of 2000 rows have missing or infinite values in 'Age'; Age: 50 hold "
                                         r"999, a number written for a value not known \(every other Age is 70 or "
                                         r"less; codes=False, --keep-codes, keeps it as a number\); fill or drop "
                                         r"them first.*missing='drop'"):
        Segmenter(random_state=0, stability=0).fit(coded)
    seg = Segmenter(random_state=0, stability=0, missing="drop").fit(coded)
    alone = Segmenter(random_state=0, stability=0).fit(coded.drop(coded.index[rows]).reset_index(drop=True))
    assert seg.k == alone.k
    pd.testing.assert_frame_equal(seg.labels, alone.labels)
    np.testing.assert_allclose(seg.model.cluster_centers_, alone.model.cluster_centers_)
    np.testing.assert_array_equal(np.sort(seg.not_segmented), np.sort(coded["CustomerID"].to_numpy()[rows]))
    assert seg.prep.codes == {"Age": (999.0, 50, 70.0)}
    assert "Read as missing: Age: 50 hold 999, a number written for a value not known (every other Age is 70 or " \
        "less; codes=False, --keep-codes, keeps it as a number)." in seg.summary()
    kept = Segmenter(random_state=0, stability=0, codes=False).fit(coded)  # as before: 999 is an age
    assert kept.prep.codes is None and kept.prep.span is None and len(kept.labels) == len(coded)
    assert any(s == len(rows) for s in kept.profiles["size"])  # ... and those customers a segment of their own
    with pytest.raises(ValueError, match="codes must be True .* or False; got 'yes'"):
        Segmenter(codes="yes").fit(coded)


def test_a_negative_code_in_a_float_column():
    _, coded, rows = coded_mall(code=-1.0, column=INCOME)
    seg = Segmenter(features=[INCOME, "Spending Score (1-100)"], transform=None, random_state=0, stability=0,
                    missing="drop").fit(coded)
    assert seg.prep.codes[INCOME][:2] == (-1.0, len(rows))
    assert seg.profiles[f"{INCOME} mean"].min() > 0


def test_new_customers_codes_read_by_the_fitted_range():
    df, coded, rows = coded_mall()
    clean = Segmenter(random_state=0, stability=0).fit(df)  # no code at the fit: its range is the evidence
    new = df.iloc[:4].copy()
    new.iloc[0, new.columns.get_loc("Age")] = 999
    new.iloc[1, new.columns.get_loc(INCOME)] = -1
    lo, hi = df["Age"].min(), df["Age"].max()
    with pytest.raises(ValueError, match=rf"2 of 4 rows .*; Age: 1 holds 999, a number written for a value not "
                                         rf"known \(the fitted customers' Age runs from {lo} to {hi}\); Annual "
                                         r"Income \(k\$\): 1 holds -1, .*; fill or drop them first"):
        clean.predict(new)
    dropping = Segmenter(random_state=0, stability=0, missing="drop").fit(coded)
    out = dropping.predict(new)
    assert out["segment"].isna().tolist() == [True, True, False, False]
    assert out["name"].iloc[0] == "not segmented: missing values"
    every = dropping.predict(coded.iloc[rows[:3]])  # a batch of only such customers: none segmented, no error
    assert every["segment"].isna().all() and dropping.distances(coded.iloc[rows[:3]]).isna().all()


def test_rfm_columns_hold_no_codes():
    """Recency, frequency and monetary are computed, never typed: 999 days is a Recency."""
    rs = np.random.default_rng(3)
    n = 500
    table = pd.DataFrame({"recency": rs.integers(1, 400, n).astype(float), "frequency": rs.integers(1, 20, n),
                          "monetary": rs.lognormal(4, 1, n)})
    table.loc[:2, "recency"] = 999
    seg = Segmenter(k=3, random_state=0, stability=0).fit(table)
    assert seg.prep.codes is None and len(seg.labels) == n


def test_cli_names_the_code(tmp_path, cli_result, capsys):
    _, coded, rows = coded_mall()
    src = tmp_path / "mall.csv"
    coded.to_csv(src, index=False)
    out = tmp_path / "labels.csv"
    rc, err = cli_result(["segment", str(src), "--out", str(out)])
    assert rc == 2 and "Traceback" not in err and not out.exists()
    assert "Age: 50 hold 999, a number written for a value not known" in err
    from fastseg.cli import main
    assert main(["segment", str(src), "--out", str(out), "--missing", "drop", "--k", "5"]) == 0
    assert "Read as missing: Age: 50 hold 999" in capsys.readouterr().out
    assert pd.read_csv(out)["segment"].isna().sum() == len(rows)
    assert main(["segment", str(src), "--out", str(out), "--keep-codes", "--k", "5"]) == 0
    assert pd.read_csv(out)["segment"].notna().all()


def test_a_described_column_is_profiled_without_its_code():
    _, coded, rows = coded_mall()
    seg = Segmenter(features=[INCOME, "Spending Score (1-100)"], transform=None, describe=["Age"], random_state=0,
                    stability=0).fit(coded)
    assert len(seg.labels) == len(coded)  # a described column's missing value leaves no customer out
    assert seg.prep.codes == {"Age": (999.0, len(rows), 70.0)}
    assert seg.profiles["Age mean"].max() <= 70
    assert "Read as missing: Age: 50 hold 999" in seg.summary()
