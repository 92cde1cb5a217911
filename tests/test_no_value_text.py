"""Cells of text written for no value ("-", "?", "unknown", a spreadsheet's "#DIV/0!") in a
column of numbers: the column is read as numbers, those cells missing and named. Before,
one "?" made Age text, and it was left out of the features as "not numeric"."""

import numpy as np
import pandas as pd
import pytest

from fastseg import Segmenter
from fastseg.datasets import mall_customers
from fastseg.features import amounts_as_numbers

INCOME = "Annual Income (k$)"
MALL = ["Age", INCOME, "Spending Score (1-100)"]


def marked_mall(n=600, seed=0):
    """The mall table with text for no value in Age and Annual Income: the table and the
    rows that hold it."""
    df = mall_customers(n, seed=seed)
    marked = df.astype({"Age": object, INCOME: object})
    marked.loc[[3, 40], "Age"] = ["?", " "]
    marked.loc[[7, 9, 500], INCOME] = ["-", "unknown", "#DIV/0!"]
    return df, marked, [3, 7, 9, 40, 500]


@pytest.mark.parametrize("text", ["-", "--", "\u2014", "?", ".", "n.a.", "N/A ", "#N/A", "none", "NULL", "Unknown",
                                  "not available", "missing", "#DIV/0!", "#VALUE!", "#REF!", "#NAME?", "(blank)", "  "])
def test_each_text_for_no_value(text):
    df = pd.DataFrame({"x": ["1", text, "2.5", "-3"]})
    out, read = amounts_as_numbers(df)
    assert read == ["x"]
    np.testing.assert_array_equal(out["x"], [1.0, np.nan, 2.5, -3.0])


@pytest.mark.parametrize("column", [
    ["00123", "00456", "-"],  # an id or zip with leading zeros, kept as text on purpose
    ["12", "13", "14"],  # digits as text without a cell of no value: read so on purpose
    ["M", "F", "-"],  # text
    ["12", "see notes", "-"],  # a note among the numbers: not a number, not a blank
    ["x", "-", "?"],  # nothing but blanks and a word
])
def test_text_columns_stay_text(column):
    out, read = amounts_as_numbers(pd.DataFrame({"x": column}))
    assert read == [] and out["x"].tolist() == column


def test_money_and_percentages_with_blanks():
    df = pd.DataFrame({"spend": ["£1,200", "-", "£3.50", None, "#DIV/0!"],
                       "share": ["35%", "?", "3,5 %", None, "1%"]})
    out, read = amounts_as_numbers(df)
    assert read == ["spend", "share"]
    np.testing.assert_allclose(out["spend"], [1200, np.nan, 3.5, np.nan, np.nan])
    np.testing.assert_allclose(out["share"], [0.35, np.nan, 0.035, np.nan, 0.01])


def test_segments_of_the_rows_with_values():
    """With missing="drop" the segments are those of the table without the blank rows,
    every feature kept; the default names each blank in its error."""
    df, marked, rows = marked_mall()
    with pytest.raises(ValueError, match=r"5 of 600 rows have missing or infinite values in 'Age', 'Annual Income "
                                         r"\(k\$\)'; Age: 1 '\?' and 1 '\(spaces\)', text written for no value; "
                                         r"Annual Income \(k\$\): 1 '-' and 1 'unknown' and 1 '#DIV/0!', text written "
                                         "for no value; fill or drop them first"):
        Segmenter(random_state=0, stability=0).fit(marked)
    seg = Segmenter(random_state=0, stability=0, missing="drop").fit(marked)
    assert seg.features == MALL and seg.read_as_numbers == ["Age", INCOME]
    alone = Segmenter(random_state=0, stability=0).fit(df.drop(index=rows).reset_index(drop=True))
    pd.testing.assert_frame_equal(seg.labels, alone.labels)
    assert sorted(seg.not_segmented) == sorted(df.loc[rows, "CustomerID"])
    assert seg.prep.marks == {"Age": {"?": 1, "(spaces)": 1}, INCOME: {"-": 1, "unknown": 1, "#DIV/0!": 1}}
    assert "Read as missing: Age: 1 '?' and 1 '(spaces)', text written for no value; Annual Income (k$): 1 '-' and " \
        "1 'unknown' and 1 '#DIV/0!', text written for no value." in seg.summary()
    from fastseg.report import render

    assert "text written for no value" in render(seg, images=[])
    assert marked["Age"].dtype == object and marked.loc[3, "Age"] == "?"  # the caller's table is left as it was


def test_predict_reads_them_as_the_fit_did():
    df, marked, rows = marked_mall()
    seg = Segmenter(random_state=0, stability=0, missing="drop").fit(marked)
    new = marked.iloc[[0, 3, 7, 8]]
    out = seg.predict(new)
    assert out["segment"].isna().tolist() == [False, True, True, False]
    strict = Segmenter(random_state=0, stability=0).fit(df)
    with pytest.raises(ValueError, match=r"2 of 4 rows .*; Age: 1 '\?', text written for no value; Annual Income "
                                         r"\(k\$\): 1 '-', text written for no value; fill or drop them first"):
        strict.predict(new)


def test_a_blank_beside_a_code_in_one_column():
    """'?' and 999 in one Age column: both read as missing, both named."""
    df = mall_customers(600)
    marked = df.astype({"Age": object})
    marked.loc[[1, 2], "Age"] = 999
    marked.loc[5, "Age"] = "?"
    with pytest.raises(ValueError, match=r"3 of 600 rows .*; Age: 1 '\?', text written for no value; Age: 2 hold "
                                         "999, a number written for a value not known"):
        Segmenter(random_state=0, stability=0).fit(marked)


def test_cli(tmp_path, cli_result, capsys):
    _, marked, rows = marked_mall()
    src = tmp_path / "mall.csv"
    marked.to_csv(src, index=False)
    out = tmp_path / "labels.csv"
    rc, err = cli_result(["segment", str(src), "--out", str(out), "--k", "5"])
    assert rc == 2 and "Traceback" not in err and not out.exists() and "'unknown'" in err
    from fastseg.cli import main

    assert main(["segment", str(src), "--out", str(out), "--k", "5", "--missing", "drop"]) == 0
    said = capsys.readouterr().out
    assert "Read as missing: Age: 1 '?'" in said and "Age (not numeric)" not in said
    assert pd.read_csv(out)["segment"].isna().sum() == len(rows)


def test_numbers_and_text_in_one_object_column():
    """A spreadsheet's column as read from Excel: numbers as numbers, a '-' as text."""
    out, read = amounts_as_numbers(pd.DataFrame({"x": [35, 41.5, "-", None, 12]}, dtype=object))
    assert read == ["x"]
    np.testing.assert_array_equal(out["x"], [35.0, 41.5, np.nan, np.nan, 12.0])
