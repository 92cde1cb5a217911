"""The fastseg command line: demo output, segment/sweep, and one-line errors (exit 2)."""

import base64
import io
import os
import re
import subprocess
import sys
from html.parser import HTMLParser

import matplotlib.image as mpimg
import numpy as np
import pandas as pd
import pytest

from fastseg import rfm
from fastseg.cli import build_parser, cmd_segment, main
from fastseg.datasets import mall_customers, online_retail


class _Collect(HTMLParser):
    def __init__(self):
        super().__init__()
        self.images, self.tags, self.text = [], [], []

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        if tag == "img":
            self.images.append(dict(attrs)["src"])

    def handle_data(self, data):
        self.text.append(data)


def test_demo_writes_report_labels_and_plots(tmp_path, capsys):
    out = tmp_path / "demo"
    assert main(["demo", "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "report.html" in printed and str(out.resolve()) in printed
    html = (out / "report.html").read_text()
    p = _Collect()
    p.feed(html)
    assert {"html", "table", "img", "h1"} <= set(p.tags)
    text = " ".join(p.text)
    for section in ("Segments", "Data", "Cleaning", "The number of segments", "Profiles", "Who is in each segment",
                    "A rule for each segment", "Pictures"):
        assert section in text
    # each method under the name an analyst reads, not its key, in the picks and the table
    assert "Calinski–Harabasz: k = " in text and "Davies–Bouldin ↓" in text and "lower is better" in text
    assert not {"calinski_harabasz", "davies_bouldin", "n_iter"} & set(text.split())
    assert len(p.images) >= 6
    for src in p.images:
        assert src.startswith("data:image/png;base64,")
        img = mpimg.imread(io.BytesIO(base64.b64decode(src.split(",", 1)[1])), format="png")
        assert img.ndim == 3 and img.shape[0] > 100 and img.shape[1] > 100
    labels = pd.read_csv(out / "labels.csv")
    assert labels["CustomerID"].is_unique
    assert len(labels) == labels["CustomerID"].nunique() > 1000
    assert {"segment", "name", "recency", "frequency", "monetary", "rfm_segment", "Country"} <= set(labels.columns)
    for png in ("elbow.png", "sizes.png", "scatter.png", "snake.png", "importance.png", "composition.png"):
        assert mpimg.imread(out / png).shape[0] > 100
    rules = pd.read_csv(out / "rules.csv", index_col="segment")
    assert list(rules.index) == sorted(labels["segment"].unique())
    assert list(rules.columns) == ["name", "rule", "query", "selects", "coverage", "precision"]
    for s, row in rules.iterrows():  # each rule, run on the labels file, selects what it says
        picked = labels.query(row["query"])
        assert len(picked) == row["selects"]
        assert (picked["segment"] == s).mean() == pytest.approx(row["precision"])
        assert row["rule"] in printed
    segments = pd.read_csv(out / "segments.csv", index_col="segment")  # one row per segment, from the labels
    assert list(segments.index) == list(rules.index) and "segments.csv" in printed
    counted = labels.groupby("segment").agg(customers=("CustomerID", "size"), spend=("monetary", "sum"),
                                            recency=("recency", "median"))
    assert (segments["customers"] == counted["customers"]).all()
    np.testing.assert_allclose(segments["share of monetary"], counted["spend"] / counted["spend"].sum())
    np.testing.assert_allclose(segments["recency median"], counted["recency"])
    assert (segments["rule"] == rules["rule"]).all() and segments["stability"].between(0, 1).all()
    assert "Where the money is" in text and "value.png" in os.listdir(out)
    # what each segment buys: the items file, the report's section and the printed lines agree
    items = pd.read_csv(out / "items.csv")
    assert set(items["segment"]) == set(rules.index) and (items["q"] <= 0.05).all() and (items["index"] > 1).all()
    assert "What each segment buys" in text and "items.csv" in printed
    for s, first in items.groupby("segment").head(1).set_index("segment")["Description"].items():
        assert f"{s}: {first} (" in printed and first in text
        assert segments.loc[s, "buys more often"].startswith(f"{first} (")
    # a next offer per customer: products of its segment's list it has not bought yet, at most 3
    offers = pd.read_csv(out / "offers.csv")
    assert "offers.csv" in printed and offers["rank"].between(1, 3).all()
    assert set(offers["CustomerID"]) <= set(labels["CustomerID"]) and offers["CustomerID"].nunique() > 1000
    seg_of = labels.set_index("CustomerID")["segment"]
    assert (offers["segment"].to_numpy() == seg_of.reindex(offers["CustomerID"]).to_numpy()).all()
    # each figure is drawn once: the files are the report's images, byte for byte
    embedded = {base64.b64decode(src.split(",", 1)[1]) for src in p.images}
    saved = {f.read_bytes() for f in out.glob("*.png")}
    assert saved == embedded and len(saved) == len(p.images)
    assert not [f for f in os.listdir(out) if f.endswith(".tmp")]


def test_segment_features_and_rfm(tmp_path, capsys):
    mall = tmp_path / "mall.csv"
    mall_customers(200, seed=0).to_csv(mall, index=False)
    labels = tmp_path / "labels.csv"
    rc = main(["segment", str(mall), "--id", "CustomerID", "--features",
               "Annual Income (k$),Spending Score (1-100)", "--transform", "none", "--k", "5",
               "--out", str(labels), "--quiet"])
    assert rc == 0 and capsys.readouterr().out == ""
    got = pd.read_csv(labels)
    assert len(got) == 200 and got["segment"].nunique() == 5

    tx = tmp_path / "tx.csv"
    online_retail(300, seed=2).to_csv(tx, index=False)
    report = tmp_path / "r.html"
    rc = main(["segment", str(tx), "--rfm", "--customer", "CustomerID", "--date", "InvoiceDate", "--invoice",
               "InvoiceNo", "--quantity", "Quantity", "--price", "UnitPrice", "--out", str(labels),
               "--report", str(report)])
    assert rc == 0
    assert "segments" in capsys.readouterr().out
    assert report.stat().st_size > 10_000
    assert pd.read_csv(labels)["CustomerID"].is_unique


def test_an_empty_parquet_file_is_named_as_such(tmp_path, capsys):
    empty = tmp_path / "empty.parquet"
    pd.DataFrame({"spend": pd.Series([], dtype=float), "visits": pd.Series([], dtype=int)}).to_parquet(empty)
    assert main(["segment", str(empty), "--out", str(tmp_path / "o.csv")]) == 2
    assert f"{str(empty)!r} holds no rows." in capsys.readouterr().err and not (tmp_path / "o.csv").exists()


def test_q_is_short_for_quiet_and_counts_read_as_english(tmp_path, capsys):
    table = tmp_path / "t.csv"
    pd.DataFrame({"spend": [1.0, 2.0, 3.0, 2.5, 1.5, 500.0], "visits": [1, 2, 1, 2, 1, 40]}).to_csv(table, index=False)
    assert main(["segment", str(table), "--k", "2", "--transform", "none", "--out", str(tmp_path / "a.csv"), "-q"]) == 0
    assert capsys.readouterr().out == ""
    assert main(["segment", str(table), "--k", "2", "--transform", "none", "--out", str(tmp_path / "b.csv")]) == 0
    printed = capsys.readouterr().out
    assert "— 1 customer (" in printed and "1 customers" not in printed


def test_sweep_command(tmp_path, capsys):
    mall = tmp_path / "mall.csv"
    mall_customers(200, seed=1).to_csv(mall, index=False)
    png, csv = tmp_path / "elbow.png", tmp_path / "sweep.csv"
    rc = main(["sweep", str(mall), "--features", "Annual Income (k$),Spending Score (1-100)", "--transform",
               "none", "--k-range", "2-8", "--plot", str(png), "--out", str(csv)])
    assert rc == 0
    printed = capsys.readouterr().out
    assert "best k = 5" in printed
    # the printed table has a reader's headers; the file keeps the keys
    header = next(line for line in printed.splitlines() if "inertia" in line).split()
    assert header == ["inertia", "iterations", "Calinski–Harabasz", "↑", "Davies–Bouldin", "↓", "silhouette", "↑",
                      "silhouette", "on"]
    assert mpimg.imread(png).shape[0] > 100
    got = pd.read_csv(csv)
    assert list(got["k"]) == list(range(2, 9))
    assert {"n_iter", "calinski_harabasz", "davies_bouldin", "silhouette_n"} <= set(got.columns)


@pytest.mark.parametrize("n_init", [1, 2])
def test_sweep_command_shows_the_evidence_segment_uses(tmp_path, capsys, n_init):
    from fastseg import Segmenter

    df = mall_customers(200, seed=3)
    mall, csv = tmp_path / "mall.csv", tmp_path / "sweep.csv"
    df.to_csv(mall, index=False)
    assert main(["sweep", str(mall), "--k-range", "2-7", "--n-init", str(n_init), "--out", str(csv),
                 "--seed", "5", "--quiet"]) == 0
    got = pd.read_csv(csv)
    seg = Segmenter(k_range=range(2, 8), n_init=n_init, random_state=5).fit(df)
    want = seg.sweep.to_frame()
    np.testing.assert_allclose(got["inertia"], want["inertia"], rtol=1e-12)
    assert main(["segment", str(mall), "--k-range", "2-7", "--n-init", str(n_init), "--seed", "5", "--quiet",
                 "--out", str(tmp_path / "l.csv")]) == 0
    labels = pd.read_csv(tmp_path / "l.csv", index_col="CustomerID")
    np.testing.assert_array_equal(labels["segment"], seg.labels["segment"])


def _err(args, capsys):
    """Exit status and stderr of the command, argparse's own usage errors included."""
    try:
        rc = main(args)
    except SystemExit as e:
        rc = e.code
    return rc, capsys.readouterr().err


@pytest.mark.parametrize(
    "setup, args, match",
    [
        (None, ["segment", "{d}/missing.csv"], "input file '.*missing.csv' does not exist"),
        ("binary", ["segment", "{d}/bad.csv"], "could not read '.*bad.csv' as CSV"),
        ("mall", ["segment", "{d}/mall.csv", "--features", "Age,Nope"],
         r"column\(s\) 'Nope' not found; available: 'CustomerID', 'Gender', 'Age'"),
        ("mall", ["segment", "{d}/mall.csv", "--features", "Gender"], "'Gender' are not numeric"),
        ("flat", ["segment", "{d}/mall.csv", "--features", "Age,flat"], "'flat' hold a single value"),
        ("tx", ["segment", "{d}/tx.csv", "--rfm", "--customer", "CustomerID", "--date", "InvoiceDate",
                "--amount", "Quantity"], "every one of the 3 rows was removed by cleaning"),
        ("mall", ["segment", "{d}/mall.csv", "--out", "{d}/no/such/dir/labels.csv"],
         "the folder of --out '.*' does not exist"),
        ("mall", ["segment", "{d}/mall.csv", "--out", "{d}/mall.csv"], "is the input file"),
        ("mall", ["segment", "{d}/mall.csv", "--rfm"], r"no column is named like the date or the spend of a "
         r"transaction log; name it with date= \(--date\); amount= \(--amount\), or quantity= and price= "
         r"\(--quantity, --price\). Columns: 'CustomerID', 'Gender'"),
        ("mall", ["segment", "{d}/mall.csv", "--rfm", "--customer", "CustomerID", "--date", "Age"],
         "no column is named like the spend of a transaction log"),
        ("mall", ["segment", "{d}/mall.csv", "--id", "Nope"],
         r"--id column 'Nope' not found; available: 'CustomerID', 'Gender'"),
        ("mall", ["segment", "{d}/mall.csv", "--id", "Gender"],
         "--id column 'Gender' has repeated values; one row per customer is expected"),
        ("mall", ["demo", "--out", "{d}/mall.csv"], "--out '.*mall.csv' exists and is not a folder"),
        ("mall", ["segment", "{d}/mall.csv", "--plots", "{d}/mall.csv"], "--plots '.*mall.csv' exists and is not a"),
        ("mall", ["segment", "{d}/mall.csv", "--plots", "{d}/no/figs"], "the folder '.*no' does not exist; create it "
                                                                         "or choose another --plots"),
        (None, ["demo", "--out", "{d}/no/such/demo"], "the folder '.*no/such' does not exist; create it"),
        (None, ["bench", "--n", "5", "--k", "10"], "--k 10 is more clusters than --n 5 rows"),
        (None, ["bench", "--n", "8", "--k", "2", "--k-range", "2-9"], "--k-range goes to 9 clusters, more than --n 8"),
    ],
)
def test_errors_are_one_line_exit_2_and_leave_nothing(tmp_path, capsys, setup, args, match):
    if setup in ("mall", "flat"):
        df = mall_customers(50, seed=0)
        if setup == "flat":
            df["flat"] = 7
        df.to_csv(tmp_path / "mall.csv", index=False)
    elif setup == "binary":
        (tmp_path / "bad.csv").write_bytes(bytes(range(256)) * 40)
    elif setup == "tx":
        pd.DataFrame({"CustomerID": [1, 2, None], "InvoiceDate": ["2024-01-01"] * 3,
                      "Quantity": [-1, 0, 5]}).to_csv(tmp_path / "tx.csv", index=False)
    before = {p: p.read_bytes() for p in tmp_path.iterdir() if p.is_file()}
    rc, err = _err([a.format(d=tmp_path) for a in args], capsys)
    assert rc == 2
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("fastseg: error: "), err
    assert "Traceback" not in err
    import re

    assert re.search(match, lines[0]), lines[0]
    after = {p: p.read_bytes() for p in tmp_path.iterdir() if p.is_file()}
    assert after == before  # nothing written, input untouched


def test_console_script_help_and_usage_errors():
    exe = [sys.executable, "-m", "fastseg.cli"]
    out = subprocess.run(exe + ["segment", "--help"], capture_output=True, text=True)
    assert out.returncode == 0 and "examples:" in out.stdout and "--rfm" in out.stdout
    bad = subprocess.run(exe + ["segment", "x.csv", "--k", "zero"], capture_output=True, text=True)
    assert bad.returncode == 2 and "expected 'auto' or a number of segments" in bad.stderr


def test_bench_command(capsys):
    assert main(["bench", "--n", "20000", "--k", "4", "--k-range", "2-5"]) == 0
    out = capsys.readouterr().out
    assert "ratio fastseg/scikit-learn" in out
    assert "engine: CPU engine" in out and "compiled kernel" in out
    assert "sparse data: CPU engine for sparse (CSR) data" in out
    m = re.search(r"Elbow sweep k = 2\.\.5 .*\n.*a fit per k +([\d.]+) s\n +fastseg\.sweep +([\d.]+) s\n"
                  r" +ratio fastseg/scikit-learn: ([\d.]+); inertia fastseg/scikit-learn, mean over k: ([\d.]+)", out)
    assert m, out
    loop, ours, ratio, inertia = map(float, m.groups())
    assert ratio == pytest.approx(ours / loop, rel=0.1, abs=0.01)  # as printed, rounded
    assert 0.9 < inertia < 1.1  # both reach a local optimum of the same blobs
    assert main(["bench", "--n", "5000", "--k", "3", "--k-range", "none"]) == 0
    assert "Elbow sweep" not in capsys.readouterr().out


@pytest.mark.parametrize("opt, value, match", [("--k", "0", "expected a number >= 1; got 0"),
                                                ("--n", "many", "expected a whole number; got 'many'")])
def test_bench_options_are_checked(capsys, opt, value, match):
    with pytest.raises(SystemExit) as e:
        main(["bench", opt, value])
    assert e.value.code == 2 and match in capsys.readouterr().err


def test_bench_says_when_the_compiled_kernel_is_off(capsys, monkeypatch):
    from fastseg import backend

    monkeypatch.setattr(backend, "_CPU", backend.NumPyBackend(1, compiled=False))
    assert main(["bench", "--n", "5000", "--k", "3", "--device", "cpu"]) == 0
    assert "compiled kernel off (compiled=False)" in capsys.readouterr().out


def test_segment_keys_labels_by_the_id_column_it_finds(tmp_path, capsys):
    mall = tmp_path / "mall.csv"
    df = mall_customers(200, seed=0)
    df.to_csv(mall, index=False)
    labels, report = tmp_path / "labels.csv", tmp_path / "r.html"
    rc = main(["segment", str(mall), "--k", "4", "--out", str(labels), "--report", str(report)])
    out = capsys.readouterr().out
    assert rc == 0
    assert "Labels keyed by CustomerID" in out and "left out: CustomerID (an identifier), Gender (not numeric)" in out
    got = pd.read_csv(labels)
    assert list(got.columns[:3]) == ["CustomerID", "segment", "name"]
    assert list(got["CustomerID"]) == list(df["CustomerID"])
    assert "CustomerID" not in got.columns[3:]  # not a feature
    assert "Customers are keyed by CustomerID." in report.read_text()


def test_segment_save_then_predict_gives_the_same_labels(tmp_path, capsys):
    mall, model = tmp_path / "mall.csv", tmp_path / "seg.pkl"
    mall_customers(200, seed=2).to_csv(mall, index=False)
    assert main(["segment", str(mall), "--k", "4", "--out", str(tmp_path / "a.csv"), "--save", str(model),
                 "--quiet"]) == 0
    assert main(["predict", str(mall), "--model", str(model), "--out", str(tmp_path / "b.csv")]) == 0
    out = capsys.readouterr().out
    assert "200 customers assigned to the 4 segments" in out
    assert "2 of 200 customers (1.0%) fit their segment worse than 99%" in out
    a, b = pd.read_csv(tmp_path / "a.csv"), pd.read_csv(tmp_path / "b.csv")
    pd.testing.assert_frame_equal(a, b)  # ids, segments, names and feature values

    tx, rfm_model = tmp_path / "tx.csv", tmp_path / "rfm.pkl"
    online_retail(300, seed=4).to_csv(tx, index=False)
    rfm_opts = ["--rfm", "--customer", "CustomerID", "--date", "InvoiceDate", "--invoice", "InvoiceNo",
                "--quantity", "Quantity", "--price", "UnitPrice", "--quiet"]
    assert main(["segment", str(tx), *rfm_opts, "--out", str(tmp_path / "c.csv"), "--save", str(rfm_model)]) == 0
    assert main(["predict", str(tx), *rfm_opts, "--model", str(rfm_model), "--out", str(tmp_path / "d.csv")]) == 0
    c, d = pd.read_csv(tmp_path / "c.csv"), pd.read_csv(tmp_path / "d.csv")
    assert list(c["CustomerID"]) == list(d["CustomerID"])
    for got in (c, d):  # the whole RFM table beside the labels, and the log's Country carried per customer
        assert list(got.columns) == ["CustomerID", "segment", "name", "recency", "frequency", "monetary", "R", "F",
                                     "M", "RFM", "score", "rfm_segment", "tenure", "Country"]
    np.testing.assert_array_equal(c["segment"], d["segment"])


def test_a_date_column_named_in_features_is_read_as_days_by_segment_sweep_and_predict(tmp_path, capsys):
    rs = np.random.default_rng(3)
    table, model = tmp_path / "customers.csv", tmp_path / "seg.pkl"
    signup = pd.Timestamp("2021-01-01") + pd.to_timedelta(rs.integers(0, 1000, 150), unit="D")
    df = mall_customers(150, seed=3).assign(signup=signup.strftime("%d/%m/%Y"))  # day first, as in Europe
    df.to_csv(table, index=False)
    opts = ["--features", "Age,signup", "--k", "3", "--snapshot", "2024-01-01", "--dayfirst"]
    assert main(["segment", str(table), *opts, "--out", str(tmp_path / "a.csv"), "--save", str(model)]) == 0
    printed = capsys.readouterr().out
    assert "Dates read as the whole days from each to 2024-01-01: signup as 'days since signup'." in printed
    a = pd.read_csv(tmp_path / "a.csv")
    assert list(a.columns[:5]) == ["CustomerID", "segment", "name", "Age", "signup"]  # the date as written
    assert (a["signup"] == df["signup"]).all()
    seg = pd.read_pickle(model)
    np.testing.assert_array_equal(seg.data["days since signup"], (pd.Timestamp("2024-01-01") - signup).days)

    assert main(["predict", str(table), "--model", str(model), "--out", str(tmp_path / "b.csv")]) == 0
    pd.testing.assert_frame_equal(a, pd.read_csv(tmp_path / "b.csv"))
    # a table of later sign-ups needs a later snapshot; with one, each customer's days are the same again
    later = df.assign(signup=(signup + pd.Timedelta(days=366)).strftime("%d/%m/%Y"))
    later.to_csv(tmp_path / "later.csv", index=False)
    code, err = _err(["predict", str(tmp_path / "later.csv"), "--model", str(model), "--out",
                      str(tmp_path / "c.csv")], capsys)
    assert code == 2 and "snapshot 2024-01-01 is before the latest date" in err and not (tmp_path / "c.csv").exists()
    assert main(["predict", str(tmp_path / "later.csv"), "--model", str(model), "--snapshot", "2025-01-01",
                 "--out", str(tmp_path / "c.csv")]) == 0
    np.testing.assert_array_equal(pd.read_csv(tmp_path / "c.csv")["segment"], a["segment"])

    assert main(["sweep", str(table), *opts[:2], "--snapshot", "2024-01-01", "--dayfirst", "--k-range", "2-4"]) == 0
    assert "signup as 'days since signup'" in capsys.readouterr().err  # the input notes, as _say writes them


@pytest.mark.parametrize(
    "model, args, match",
    [
        ("missing", [], r"--model '.*nope.pkl' does not exist; write one with fastseg segment"),
        ("not a model", [], r"could not read '.*bad.pkl' as a fastseg segmentation \(UnpicklingError\)"),
        ("good", ["--rfm"], "no column is named like the date or the spend"),
        ("good", ["--out", "{d}/other.csv"], "column\\(s\\) 'Age', 'Annual Income \\(k\\$\\)'.* not found"),
        ("good", ["--out", "{d}/other.csv"], "available: 'a', 'b'"),
        ("good", ["--out", "{d}/mall.csv"], "is the input file"),
    ],
)
def test_predict_errors_are_one_line_and_write_nothing(tmp_path, capsys, model, args, match):
    mall = tmp_path / "mall.csv"
    mall_customers(60, seed=0).to_csv(mall, index=False)
    inp = mall
    if model == "good":
        path = tmp_path / "seg.pkl"
        assert main(["segment", str(mall), "--k", "3", "--save", str(path), "--quiet"]) == 0
        if "other.csv" in " ".join(args):
            inp = tmp_path / "in.csv"
            pd.DataFrame({"a": [1, 2], "b": [3, 4]}).to_csv(inp, index=False)
    elif model == "missing":
        path = tmp_path / "nope.pkl"
    else:
        path = tmp_path / "bad.pkl"
        path.write_bytes(b"not a pickle at all")
    before = {p: p.read_bytes() for p in tmp_path.iterdir() if p.is_file()}
    rc, err = _err(["predict", str(inp), "--model", str(path), *[a.format(d=tmp_path) for a in args]], capsys)
    assert rc == 2
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("fastseg: error: "), err
    assert re.search(match, lines[0]), lines[0]
    after = {p: p.read_bytes() for p in tmp_path.iterdir() if p.is_file()}
    assert after == before


@pytest.mark.parametrize("write", [
    dict(sep=";"), dict(sep="\t"), dict(sep="|"), dict(sep=";", decimal=","), dict(encoding="utf-8-sig"),
])
def test_csv_separator_and_decimal_mark_are_read_off_the_file(tmp_path, write):
    df = mall_customers(120, seed=5)
    df["Annual Income (k$)"] = df["Annual Income (k$)"] + 0.25  # decimals, so a decimal comma shows
    df.to_csv(tmp_path / "plain.csv", index=False)
    df.to_csv(tmp_path / "other.csv", index=False, **write)
    for name in ("plain", "other"):
        assert main(["segment", str(tmp_path / f"{name}.csv"), "--k", "4", "--quiet",
                     "--out", str(tmp_path / f"{name}-labels.csv")]) == 0
    pd.testing.assert_frame_equal(pd.read_csv(tmp_path / "plain-labels.csv"),
                                  pd.read_csv(tmp_path / "other-labels.csv"))


@pytest.mark.parametrize("suffix", [".csv.gz", ".csv.bz2", ".csv.xz", ".zip"])
def test_compressed_csv_is_read_like_the_plain_file(tmp_path, suffix):
    """The separator and decimal mark are read off the decompressed text: before, a
    gzipped ';' file was sniffed from its compressed bytes and read as one column."""
    df = mall_customers(120, seed=5)
    df["Annual Income (k$)"] = df["Annual Income (k$)"] + 0.25
    df.to_csv(tmp_path / "plain.csv", index=False)
    df.to_csv(tmp_path / f"other{suffix}", index=False, sep=";", decimal=",")
    for name in ("plain.csv", f"other{suffix}"):
        assert main(["segment", str(tmp_path / name), "--k", "4", "--quiet",
                     "--out", str(tmp_path / f"{name}-labels.csv")]) == 0
    pd.testing.assert_frame_equal(pd.read_csv(tmp_path / "plain.csv-labels.csv"),
                                  pd.read_csv(tmp_path / f"other{suffix}-labels.csv"))


def test_other_table_formats_and_a_zip_of_many_files_are_named(tmp_path, capsys):
    import zipfile

    df = mall_customers(30, seed=5)
    df.to_json(tmp_path / "t.json")
    rc, err = _err(["segment", str(tmp_path / "t.json")], capsys)
    assert rc == 2 and "fastseg does not read JSON files; save the table as CSV" in err  # was "holds no rows"
    with zipfile.ZipFile(tmp_path / "two.zip", "w") as z:
        z.writestr("a.csv", df.to_csv(index=False))
        z.writestr("b.csv", df.to_csv(index=False))
    rc, err = _err(["segment", str(tmp_path / "two.zip")], capsys)
    assert rc == 2 and "holds 2 files; a zip of one CSV file is read" in err


def test_repeated_column_names_are_noted(tmp_path, capsys):
    (tmp_path / "dup.csv").write_text("id,x,x,y\n" + "".join(f"{i},{i % 5},{i % 3},{i % 7}\n" for i in range(40)))
    assert main(["segment", str(tmp_path / "dup.csv"), "--k", "2", "--stability", "0"]) == 0
    err = capsys.readouterr().err
    assert "note: " in err and "has 2 columns named 'x'; the second read as 'x.1'." in err
    assert main(["segment", str(tmp_path / "dup.csv"), "--k", "2", "--stability", "0", "--quiet"]) == 0
    assert "note:" not in capsys.readouterr().err


def test_sniffing_keeps_quoted_commas_and_can_be_overridden(tmp_path):
    from fastseg._table_files import csv_dialect

    tx = online_retail(50, seed=1)
    tx["Description"] = tx["Description"].astype(str)
    tx.loc[tx.index[:3], "Description"] = "MUG, RED; LARGE|SET"  # every candidate inside a quoted field
    tx.to_csv(tmp_path / "tx.csv", index=False)
    assert csv_dialect(tmp_path / "tx.csv") == (",", ".")
    # a ';' file whose commas are not decimals: stated by hand
    (tmp_path / "odd.csv").write_text("id;a;b\n1;2,5;x\n2;3,5;y\n")
    assert csv_dialect(tmp_path / "odd.csv") == (";", ",")
    assert csv_dialect(tmp_path / "odd.csv", decimal=".") == (";", ".")
    assert csv_dialect(tmp_path / "odd.csv", sep=",", decimal=".") == (",", ".")
    # a stray line with a field too many does not hide the separator
    rows = ["id;a;b"] + [f"{i};{i}.5;x" for i in range(30)]
    rows[7] += ";extra"
    (tmp_path / "dirty.csv").write_text("\n".join(rows) + "\n")
    assert csv_dialect(tmp_path / "dirty.csv") == (";", ".")
    one = tmp_path / "one.csv"
    one.write_text("x\n1\n2\n")
    assert csv_dialect(one) == (",", ".")


@pytest.mark.parametrize("value, ok", [("tab", "\t"), ("\\t", "\t"), (";", ";"), (";;", None), ("", None)])
def test_sep_option(value, ok, capsys):
    from fastseg.cli import build_parser

    if ok is None:
        with pytest.raises(SystemExit):
            build_parser().parse_args(["segment", "x.csv", "--sep", value])
        assert "expected one character" in capsys.readouterr().err
    else:
        assert build_parser().parse_args(["segment", "x.csv", "--sep", value]).sep == ok


def test_rfm_reads_only_the_columns_it_uses_and_names_a_missing_one(tmp_path, capsys, monkeypatch):
    tx = online_retail(200, seed=6)
    codes = np.array(tx["StockCode"].astype(object).to_numpy())
    codes[::2] = 12345  # mixed types, as in UCI's StockCode: a column rfm does not read at all
    tx["StockCode"] = pd.Series(codes, index=tx.index, dtype=object)
    path = tmp_path / "tx.csv"
    tx.to_csv(path, index=False)
    import pandas

    seen = []
    real = pandas.read_csv
    monkeypatch.setattr(pandas, "read_csv", lambda *a, **k: seen.append(k.get("usecols")) or real(*a, **k))
    rfm_opts = ["--rfm", "--customer", "CustomerID", "--date", "InvoiceDate", "--invoice", "InvoiceNo",
                "--quantity", "Quantity", "--price", "UnitPrice"]
    assert main(["segment", str(path), *rfm_opts, "--k", "3", "--quiet", "--item", "none"]) == 0
    # the columns used, and Country: its first rows say it may describe customers (not StockCode)
    assert seen[-1] == ["CustomerID", "InvoiceDate", "InvoiceNo", "Quantity", "UnitPrice", "Country"]
    assert "Warning" not in capsys.readouterr().err
    # what each segment buys (the default) reads the item and its names too, codes of mixed types as they are
    assert main(["segment", str(path), *rfm_opts, "--k", "3", "--quiet", "--items", str(tmp_path / "i.csv")]) == 0
    assert seen[-1] == ["CustomerID", "InvoiceDate", "InvoiceNo", "Quantity", "UnitPrice", "Country", "StockCode",
                        "Description"]
    assert "Warning" not in capsys.readouterr().err
    items = pd.read_csv(tmp_path / "i.csv")
    assert len(items) >= 3 and items["segment"].between(0, 2).all() and (items["q"] <= 0.05).all()
    rc, err = _err(["segment", str(path), *rfm_opts[:2], "Nope", *rfm_opts[3:]], capsys)
    assert rc == 2 and "'Nope'" in err and "'Description'" in err  # every column of the file listed


def _titled_csv(path, df, title, sep=",", decimal=".", padded=False):
    """``df`` as a report export writes it: title lines, a blank line, then the table; with
    ``padded`` each title line filled out with separators to the table's width, as Excel does."""
    pad = sep * (len(df.columns) - 1) if padded else ""
    head = "".join(f"{line}{pad}\n" for line in [*title, ""])
    path.write_text(head + df.to_csv(index=False, sep=sep, decimal=decimal), encoding="utf-8")


@pytest.mark.parametrize("sep, decimal, padded", [(",", ".", False), (",", ".", True), (";", ",", True),
                                                  ("\t", ".", False)])
def test_title_lines_above_a_csv_table_are_left_out_and_named(tmp_path, capsys, sep, decimal, padded):
    mall = mall_customers(150, seed=4).assign(**{"Annual Income (k$)": lambda d: d["Annual Income (k$)"] + 0.5})
    plain, titled = tmp_path / "plain.csv", tmp_path / "titled.csv"
    mall.to_csv(plain, index=False)
    _titled_csv(titled, mall, ["Customer report Q3 2024", "Exported 2024-10-01 by CRM"], sep, decimal, padded)
    outs = []
    for src in (plain, titled):
        out = tmp_path / f"{src.stem}-labels.csv"
        assert main(["segment", str(src), "--k", "4", "--out", str(out), "--stability", "0"]) == 0
        outs.append(pd.read_csv(out))
    pd.testing.assert_frame_equal(outs[0], outs[1])  # the same table read, the same segments
    err = capsys.readouterr().err
    assert ("note: the table's header is on line 4; the lines above it are left out as a title "
            "('Customer report Q3 2024'; 'Exported 2024-10-01 by CRM')") in err
    from fastseg._table_files import csv_dialect

    assert csv_dialect(titled) == (sep, decimal)


def test_title_lines_above_a_transaction_log_are_left_out(tmp_path, capsys):
    tx = online_retail(150, seed=8)
    plain, titled = tmp_path / "plain.csv", tmp_path / "titled.csv"
    tx.to_csv(plain, index=False)
    _titled_csv(titled, tx, ["Sales lines, all stores"], padded=True)  # a comma inside the title: quoted by none
    rfm_opts = ["--rfm", "--customer", "CustomerID", "--date", "InvoiceDate", "--invoice", "InvoiceNo",
                "--quantity", "Quantity", "--price", "UnitPrice", "--k", "3", "--stability", "0"]
    outs = []
    for src in (plain, titled):  # named columns: only they are read, under the header found
        out = tmp_path / f"{src.stem}-labels.csv"
        assert main(["segment", str(src), *rfm_opts, "--out", str(out), "--quiet"]) == 0
        outs.append(pd.read_csv(out))
    pd.testing.assert_frame_equal(outs[0], outs[1])


@pytest.mark.parametrize("padded", [False, True])
def test_a_note_below_a_csv_table_is_left_out_and_named(tmp_path, capsys, padded):
    mall = mall_customers(150, seed=4)
    plain, noted = tmp_path / "plain.csv", tmp_path / "noted.csv"
    mall.to_csv(plain, index=False)
    pad = "," * (len(mall.columns) - 1) if padded else ""
    noted.write_text(mall.to_csv(index=False) + f"{pad}\nReport generated 2024-10-01 by CRM{pad}\nConfidential{pad}\n")
    outs = []
    for src in (plain, noted):
        out = tmp_path / f"{src.stem}-labels.csv"
        assert main(["segment", str(src), "--k", "4", "--out", str(out), "--stability", "0"]) == 0
        outs.append(pd.read_csv(out, dtype=str))  # as written: 34, not 34.0
    pd.testing.assert_frame_equal(outs[0], outs[1])
    blank = 1 if padded else 0  # the padded blank line is a row of empty cells; the bare one pandas skips
    assert (f"the last {2 + blank} rows, below the table, are left out as a note ('Report generated 2024-10-01 by "
            "CRM'; 'Confidential')") in capsys.readouterr().err
    # the same below a transaction log, of which only the columns RFM uses are read
    tx = online_retail(150, seed=8)
    tx.to_csv(plain, index=False)
    noted.write_text(tx.to_csv(index=False) + "Source: till system export\n")
    rfm_opts = ["--rfm", "--customer", "CustomerID", "--date", "InvoiceDate", "--invoice", "InvoiceNo",
                "--quantity", "Quantity", "--price", "UnitPrice", "--k", "3", "--stability", "0", "--quiet"]
    for src in (plain, noted):
        assert main(["segment", str(src), *rfm_opts, "--out", str(tmp_path / f"{src.stem}-rfm.csv")]) == 0
    pd.testing.assert_frame_equal(pd.read_csv(tmp_path / "plain-rfm.csv"), pd.read_csv(tmp_path / "noted-rfm.csv"))


@pytest.mark.parametrize("last", ["C-0150,,,,", "150,,,,"])
def test_a_last_customer_with_one_value_is_no_note(tmp_path, capsys, last):
    mall = mall_customers(150, seed=4).assign(CustomerID=lambda d: [f"C-{i:04d}" for i in d["CustomerID"]])
    if last[0].isdigit():
        mall["CustomerID"] = range(1, 151)
    path = tmp_path / "t.csv"
    path.write_text(mall.iloc[:149].to_csv(index=False) + last + "\n")
    code, err = _err(["segment", str(path), "--k", "4"], capsys)
    assert code == 2 and "1 of 150 rows have missing or infinite values" in err and "note" not in err


def test_title_rows_above_an_excel_table_are_left_out_and_named(tmp_path, capsys):
    pytest.importorskip("openpyxl")
    mall = mall_customers(150, seed=4)
    book, plain = tmp_path / "report.xlsx", tmp_path / "plain.csv"
    mall.to_csv(plain, index=False)
    with pd.ExcelWriter(book) as w:
        for sheet in ("Q3", "Q4"):
            pd.DataFrame([["Customer report " + sheet], ["Exported 2024-10-01"]]).to_excel(
                w, sheet_name=sheet, index=False, header=False)
            part = mall.iloc[:75] if sheet == "Q3" else mall.iloc[75:]
            part.to_excel(w, sheet_name=sheet, index=False, startrow=3)
            pd.DataFrame([["Source: CRM, all regions"]]).to_excel(w, sheet_name=sheet, index=False, header=False,
                                                                   startrow=3 + 1 + len(part) + 1)
    outs = []
    for src, args in ((plain, []), (book, ["--sheet", "all"])):
        out = tmp_path / f"{src.stem}-labels.csv"
        assert main(["segment", str(src), *args, "--k", "4", "--out", str(out), "--stability", "0"]) == 0
        outs.append(pd.read_csv(out))
    pd.testing.assert_frame_equal(outs[0], outs[1])  # numbers read as numbers again, ids as ids
    err = capsys.readouterr().err
    for sheet in ("Q3", "Q4"):
        assert (f"note: sheet '{sheet}': the table's header is on row 4; the rows above it are left out as a title "
                f"('Customer report {sheet}'; 'Exported 2024-10-01')") in err
        assert (f"note: sheet '{sheet}': the last 2 rows, below the table, are left out as a note ('Source: CRM, all "
                "regions')") in err  # a blank row, then the note
    assert "note: read 2 sheets as one table: 'Q3' (75 rows), 'Q4' (75 rows)" in err


@pytest.mark.parametrize("encoding, sep", [("cp1252", ","), ("latin-1", ";"), ("utf-8", ",")])
def test_csv_from_windows_and_latin1_exports_are_read(tmp_path, encoding, sep):
    df = mall_customers(80, seed=7)
    df["City"] = ["Zürich", "Malmö", "São Paulo", "Kraków"[:2]] * 20  # letters outside ASCII
    if encoding == "cp1252":
        df["City"] = df["City"] + " €"  # cp1252 only
    df.to_csv(tmp_path / "in.csv", index=False, encoding=encoding, sep=sep)
    assert main(["segment", str(tmp_path / "in.csv"), "--k", "3", "--quiet", "--out", str(tmp_path / "l.csv")]) == 0
    got = pd.read_csv(tmp_path / "l.csv")
    assert len(got) == 80 and list(got["CustomerID"]) == list(df["CustomerID"])


def test_excel_sheets_of_the_same_columns_are_read_as_one_table(tmp_path, capsys):
    pytest.importorskip("openpyxl")
    tx = online_retail(120, seed=5)
    half = len(tx) // 2
    book, flat = tmp_path / "online_retail_II.xlsx", tmp_path / "tx.csv"
    with pd.ExcelWriter(book) as w:
        tx.iloc[:half].to_excel(w, sheet_name="Year 2009-2010", index=False)
        tx.iloc[half:].to_excel(w, sheet_name="Year 2010-2011", index=False)
        pd.DataFrame({"x": [1, 2, 3]}).to_excel(w, sheet_name="Notes, misc", index=False)
    tx.to_csv(flat, index=False)
    outs = []
    for src, args in ((book, ["--sheet", "all"]), (book, ["--sheet", "0,Year 2010-2011"]), (flat, [])):
        if args == ["--sheet", "all"]:
            rc, err = _err(["segment", str(src), *args, "--rfm"], capsys)  # the notes sheet differs
            assert rc == 2 and "sheet 'Notes, misc'" in err
            continue
        out = tmp_path / f"l{len(outs)}.csv"
        assert main(["segment", str(src), *args, "--rfm", "--k", "3", "--out", str(out)]) == 0
        outs.append(pd.read_csv(out))
        if src == book:
            assert (f"note: read 2 sheets as one table: 'Year 2009-2010' ({half:,} rows), 'Year 2010-2011' "
                    f"({len(tx) - half:,} rows)") in capsys.readouterr().err
    pd.testing.assert_frame_equal(outs[0], outs[1])
    # a sheet whose name has a comma is still one sheet
    assert main(["segment", str(book), "--sheet", "Notes, misc", "--k", "1", "--quiet", "--stability", "0"]) == 0


def test_excel_workbooks_are_read_by_sheet(tmp_path, capsys):
    pytest.importorskip("openpyxl")
    mall = mall_customers(90, seed=8)
    book = tmp_path / "customers.xlsx"
    with pd.ExcelWriter(book) as w:
        pd.DataFrame({"note": ["a cover sheet", "of two lines"]}).to_excel(w, sheet_name="About", index=False)
        mall.to_excel(w, sheet_name="Customers", index=False)
    mall.to_csv(tmp_path / "same.csv", index=False)
    for args in (["--sheet", "Customers"], ["--sheet", "1"]):
        assert main(["segment", str(book), *args, "--k", "3", "--quiet", "--out", str(tmp_path / "x.csv")]) == 0
        assert main(["segment", str(tmp_path / "same.csv"), "--k", "3", "--quiet", "--out",
                     str(tmp_path / "c.csv")]) == 0
        pd.testing.assert_frame_equal(pd.read_csv(tmp_path / "x.csv"), pd.read_csv(tmp_path / "c.csv"))
    # the first sheet by default: here a cover sheet, so the error names its columns
    rc, err = _err(["segment", str(book)], capsys)
    assert rc == 2 and "no numeric column" in err and "note" in err
    rc, err = _err(["segment", str(book), "--sheet", "Nope"], capsys)
    assert rc == 2 and re.search(r"customers.xlsx' has no sheet 'Nope'; its sheets: 0 'About', 1 'Customers'\.",
                                 err)
    rc, err = _err(["segment", str(book), "--sheet", "5"], capsys)
    assert rc == 2 and "has no sheet 5; its sheets: 0 'About'" in err
    rc, err = _err(["segment", str(book), "--sheet", "all"], capsys)
    assert rc == 2 and re.search(r"sheet 'Customers' of '.*customers.xlsx' has other columns than sheet 'About' "
                                 r"\('CustomerID', 'Gender', .* against 'note'\); give one sheet", err)
    (tmp_path / "old.xls").write_bytes(b"\xd0\xcf\x11\xe0")
    rc, err = _err(["segment", str(tmp_path / "old.xls")], capsys)
    assert rc == 2 and "save it as .xlsx or CSV" in err


def test_excel_without_openpyxl_says_what_to_install(tmp_path, capsys, monkeypatch):
    pytest.importorskip("openpyxl")
    mall_customers(20, seed=0).to_excel(tmp_path / "b.xlsx", index=False)
    monkeypatch.setitem(sys.modules, "openpyxl", None)  # as if not installed: importing it fails
    rc, err = _err(["segment", str(tmp_path / "b.xlsx")], capsys)
    assert rc == 2 and "pip install 'fastseg[excel]'" in err


def test_a_transaction_log_without_rfm_gets_told_what_to_add(tmp_path, capsys):
    tx = tmp_path / "tx.csv"
    online_retail(100, seed=9).to_csv(tx, index=False)
    for cmd in ("segment", "sweep"):
        rc, err = _err([cmd, str(tx)], capsys)
        assert rc == 2 and "looks like a transaction log" in err
        assert ("Add --rfm (it takes, by their names, customer 'CustomerID', date 'InvoiceDate', invoice 'InvoiceNo', "
                "quantity 'Quantity', price 'UnitPrice'); or pass --features") in err
    # the rows as they are, when asked for
    assert main(["segment", str(tx), "--features", "Quantity,UnitPrice", "--k", "2", "--quiet"]) == 0
    # a model made from RFM, given the log without --rfm
    model = tmp_path / "m.pkl"
    assert main(["segment", str(tx), "--rfm", "--customer", "CustomerID", "--date", "InvoiceDate",
                 "--amount", "UnitPrice", "--k", "2", "--save", str(model), "--quiet"]) == 0
    rc, err = _err(["predict", str(tx), "--model", str(model)], capsys)
    assert rc == 2 and "looks like a transaction log" in err and "--features" not in err
    # one row per customer: no hint (the mall table has CustomerID but no repeats or dates)
    mall = tmp_path / "mall.csv"
    mall_customers(50, seed=0).to_csv(mall, index=False)
    assert main(["segment", str(mall), "--k", "2", "--quiet"]) == 0


def test_parquet_input_gives_the_csv_labels(tmp_path):
    pytest.importorskip("pyarrow")
    df = mall_customers(70, seed=12)
    df.to_parquet(tmp_path / "in.parquet", index=False)
    df.to_csv(tmp_path / "in.csv", index=False)
    for name in ("in.parquet", "in.csv"):
        assert main(["segment", str(tmp_path / name), "--k", "3", "--quiet", "--out",
                     str(tmp_path / f"{name}.labels.csv")]) == 0
    pd.testing.assert_frame_equal(pd.read_csv(tmp_path / "in.parquet.labels.csv"),
                                  pd.read_csv(tmp_path / "in.csv.labels.csv"))


def test_rfm_log_in_cp1252_with_accented_column_names(tmp_path):
    tx = online_retail(80, seed=13).rename(
        columns={"UnitPrice": "Preis (€)", "Quantity": "Menge", "InvoiceDate": "Datum"})
    tx.to_csv(tmp_path / "tx.csv", index=False, encoding="cp1252", sep=";", decimal=",")
    assert main(["segment", str(tmp_path / "tx.csv"), "--rfm", "--customer", "CustomerID", "--date", "Datum",
                 "--invoice", "InvoiceNo", "--quantity", "Menge", "--price", "Preis (€)", "--k", "2", "--quiet",
                 "--out", str(tmp_path / "l.csv")]) == 0
    from fastseg import rfm

    got = pd.read_csv(tmp_path / "l.csv")
    want = rfm(tx, customer="CustomerID", date="Datum", invoice="InvoiceNo", quantity="Menge", price="Preis (€)")
    assert list(got["CustomerID"]) == list(want.index)
    np.testing.assert_allclose(got["monetary"], want["monetary"], rtol=1e-9)


def test_describe_and_attributes_reach_the_labels_summary_and_report(tmp_path, capsys):
    df = mall_customers(200, seed=0)
    mall, labels, rep = tmp_path / "mall.csv", tmp_path / "labels.csv", tmp_path / "r.html"
    df.to_csv(mall, index=False)
    assert main(["segment", str(mall), "--features", "Annual Income (k$),Spending Score (1-100)", "--k", "5",
                 "--out", str(labels), "--report", str(rep)]) == 0
    out = capsys.readouterr().out
    assert "Described by segment, not clustered on: Gender, Age." in out
    got = pd.read_csv(labels, index_col="CustomerID")
    assert {"Gender", "Age"} <= set(got.columns)
    assert (got["Gender"] == df.set_index("CustomerID")["Gender"]).all()
    p = _Collect()
    p.feed(rep.read_text())
    assert "Who is in each segment" in " ".join(p.text)
    assert main(["segment", str(mall), "--describe", "none", "--k", "3", "--out", str(labels), "--quiet"]) == 0
    assert "Gender" not in pd.read_csv(labels).columns

    tx = tmp_path / "tx.csv"
    log = online_retail(300, seed=1)
    log["Channel"] = np.random.default_rng(0).choice(["web", "store"], len(log))
    log.to_csv(tx, index=False)
    rfm_args = ["--rfm", "--customer", "CustomerID", "--date", "InvoiceDate", "--invoice", "InvoiceNo",
                "--quantity", "Quantity", "--price", "UnitPrice"]
    assert main(["segment", str(tx), *rfm_args, "--attributes", "Country,Channel", "--k", "3", "--out",
                 str(labels), "--quiet"]) == 0
    got = pd.read_csv(labels)
    assert {"Country", "Channel", "rfm_segment"} <= set(got.columns)
    assert set(got["Channel"]) == {"web", "store"}
    # by default the log's columns of one value per customer are carried (Country), not those of a purchase
    assert main(["segment", str(tx), *rfm_args, "--k", "3", "--out", str(labels), "--stability", "0"]) == 0
    out, err = capsys.readouterr()
    assert "Carried per customer from the log, to describe the segments by: Country (" in err
    assert "Described by segment, not clustered on: tenure, Country." in out
    got = pd.read_csv(labels)
    assert "Country" in got.columns and "Channel" not in got.columns
    assert main(["segment", str(tx), *rfm_args, "--attributes", "none", "--k", "3", "--out", str(labels),
                 "--stability", "0"]) == 0
    assert "Carried" not in capsys.readouterr().err and "Country" not in pd.read_csv(labels).columns


@pytest.mark.parametrize("args, match", [
    (["--attributes", "Country"], "--attributes goes with --rfm"),
    (["--describe", "Nope"], r"column\(s\) 'Nope' not found; available: 'CustomerID', 'Gender'"),
    (["--describe", "Age", "--features", "Age,Gender"], "'Gender' are not numeric"),
    (["--describe", ","], "give column names separated by commas"),
])
def test_describe_and_attributes_errors(tmp_path, capsys, args, match):
    mall = tmp_path / "mall.csv"
    mall_customers(100, seed=0).to_csv(mall, index=False)
    rc, err = _err(["segment", str(mall), "--out", str(tmp_path / "l.csv"), *args], capsys)
    assert rc == 2 and re.search(match, err), err
    assert not (tmp_path / "l.csv").exists()


@pytest.mark.parametrize("suffix, read", [
    (".csv", lambda p: pd.read_csv(p, index_col=0)),
    (".tsv", lambda p: pd.read_csv(p, sep="\t", index_col=0)),
    (".parquet", pd.read_parquet),
    (".xlsx", lambda p: pd.read_excel(p, index_col=0)),
])
def test_labels_and_sweep_tables_are_written_in_the_format_their_suffix_names(tmp_path, suffix, read):
    pytest.importorskip({".parquet": "pyarrow", ".xlsx": "openpyxl"}.get(suffix, "pandas"))
    mall = tmp_path / "mall.csv"
    mall_customers(120, seed=0).to_csv(mall, index=False)
    out, ref = tmp_path / f"labels{suffix}", tmp_path / "ref.csv"
    assert main(["segment", str(mall), "--k", "3", "--out", str(out), "--quiet"]) == 0
    assert main(["segment", str(mall), "--k", "3", "--out", str(ref), "--quiet"]) == 0
    got, want = read(out), pd.read_csv(ref, index_col=0)
    assert got.index.name == want.index.name == "CustomerID"
    pd.testing.assert_frame_equal(got, want, check_dtype=False)
    per_k = tmp_path / f"sweep{suffix}"
    assert main(["sweep", str(mall), "--k-range", "2-4", "--out", str(per_k), "--quiet"]) == 0
    assert list(read(per_k).index) == [2, 3, 4]  # the frame's index is k


@pytest.mark.parametrize("fmt, magic", [("png", b"\x89PNG"), ("svg", b"<?xml"), ("pdf", b"%PDF"),
                                        ("jpg", b"\xff\xd8")])
def test_sweep_plot_is_drawn_in_the_format_its_suffix_names(tmp_path, fmt, magic):
    mall = tmp_path / "mall.csv"
    mall_customers(120, seed=0).to_csv(mall, index=False)
    plot = tmp_path / f"elbow.{fmt}"
    assert main(["sweep", str(mall), "--k-range", "2-4", "--plot", str(plot), "--quiet"]) == 0
    assert plot.read_bytes().startswith(magic)


@pytest.mark.parametrize("args, match", [
    (["segment", "{mall}", "--out", "{d}/labels.json"], r"fastseg writes tables as .csv, .tsv, .parquet or "
                                                          r".xlsx, not '.json'"),
    (["sweep", "{mall}", "--plot", "{d}/elbow.gif"], r"fastseg draws plots as .png, .svg, .pdf, .jpg, .jpeg, not "
                                                     r"'.gif'"),
    (["sweep", "{mall}", "--plot", "{d}/elbow"], "not 'a file without an extension'"),
    (["segment", "{mall}", "--report", "{d}/report.pdf"], r"the report is one HTML file; name it .html"),
    (["segment", "{mall}", "--out", "{d}/labels.xlsx"], r"writing Excel needs openpyxl: pip install "
                                                          r"'fastseg\[excel\]' \(or write .csv\)"),
])
def test_output_formats_are_checked_before_any_work(tmp_path, capsys, monkeypatch, args, match):
    import importlib.util

    import fastseg.segment

    mall = tmp_path / "mall.csv"
    mall_customers(60, seed=0).to_csv(mall, index=False)
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "openpyxl" else real(name, *a))
    monkeypatch.setattr(fastseg.segment.Segmenter, "fit", lambda *a, **k: pytest.fail("fitted before the check"))
    rc, err = _err([a.format(mall=mall, d=tmp_path) for a in args], capsys)
    assert rc == 2 and re.search(match, err), err
    assert sorted(os.listdir(tmp_path)) == ["mall.csv"]


def test_more_customers_than_an_excel_sheet_holds_is_a_clear_error(tmp_path, monkeypatch):
    from fastseg import _table_files

    pytest.importorskip("openpyxl")
    monkeypatch.setattr(_table_files, "_EXCEL_ROWS", 50)
    with pytest.raises(_table_files.FileProblem,
                       match=r"60 rows do not fit an Excel sheet \(50 at most\); write .*labels.csv"):
        _table_files.write_table(pd.DataFrame({"a": range(60)}), tmp_path / "labels.xlsx")
    assert os.listdir(tmp_path) == []


def test_missing_drop_lists_every_customer_and_predict_counts_the_gaps(tmp_path, capsys):
    df = mall_customers(150, seed=2)
    df.loc[[5, 77], "Age"] = np.nan
    mall, labels, model = tmp_path / "mall.csv", tmp_path / "labels.csv", tmp_path / "seg.pkl"
    df.to_csv(mall, index=False)
    rc, err = _err(["segment", str(mall), "--k", "3", "--out", str(labels)], capsys)
    assert rc == 2 and "2 of 150 rows have missing or infinite values in 'Age'" in err and "--missing drop" in err
    assert not labels.exists()
    assert main(["segment", str(mall), "--k", "3", "--missing", "drop", "--out", str(labels), "--save", str(model),
                 "--quiet"]) == 0
    got = pd.read_csv(labels, index_col="CustomerID")
    assert list(got.index) == list(df["CustomerID"])  # every customer, in the input's order
    assert got["segment"].isna().sum() == 2 and got["segment"].iloc[[5, 77]].isna().all()
    assert (got["name"].iloc[[5, 77]] == "not segmented: missing values").all()
    assert got["Age"].iloc[[5, 77]].isna().all() and got["Age"].notna().sum() == 148
    assert main(["predict", str(mall), "--model", str(model)]) == 0
    assert "not segmented (a missing feature value): 2 customers (1.3%)" in capsys.readouterr().out
    assert main(["sweep", str(mall), "--k-range", "2-4", "--missing", "drop", "--quiet"]) == 0


def test_predict_transitions_table_and_the_largest_moves(tmp_path, capsys):
    from fastseg import Segmentation

    df = mall_customers(300, seed=0)
    jan, feb, model, moves = (tmp_path / n for n in ("jan.csv", "feb.csv", "seg.pkl", "moves.xlsx"))
    df.to_csv(jan, index=False)
    later = df.iloc[30:].copy()
    later["Spending Score (1-100)"] = (later["Spending Score (1-100)"] * 0.6).round()
    later.to_csv(feb, index=False)
    assert main(["segment", str(jan), "--k", "5", "--save", str(model), "--quiet"]) == 0
    pytest.importorskip("openpyxl")
    assert main(["predict", str(feb), "--model", str(model), "--transitions", str(moves)]) == 0
    out = capsys.readouterr().out
    seg = Segmentation.load(model)
    want = seg.transitions(seg.predict(later.reset_index(drop=True)))
    got = pd.read_excel(moves, index_col=0)
    assert got.index.name == "segment at fit time"
    assert list(got.index) == [f"{s}: {seg.names[s]}" for s in range(5)] + ["new"]
    np.testing.assert_array_equal(got.to_numpy(), want.to_numpy())
    both = want.iloc[:5, :5].to_numpy()
    assert f"270 customers in both tables; {both.trace() / 270:.1%} stayed in their segment." in out
    i, j = np.unravel_index(np.argmax(both - np.diag(np.diag(both))), both.shape)
    assert f"  {both[i, j]:,} moved {i}: {seg.names[i]} → {j}: {seg.names[j]}" in out  # the largest move first
    assert "0 new customers; 30 customers of the fit not in this table." in out
    rc, err = _err(["predict", str(feb), "--model", str(model), "--transitions", str(tmp_path / "m.json")], capsys)
    assert rc == 2 and "--transitions" in err and "not '.json'" in err


def test_predict_transitions_refused_before_anything_is_written(tmp_path, capsys):
    df = mall_customers(80, seed=1)
    jan, feb, model = tmp_path / "jan.csv", tmp_path / "feb.csv", tmp_path / "seg.pkl"
    df.to_csv(jan, index=False)
    df.drop(columns="CustomerID").to_csv(feb, index=False)  # no ids: rows are numbered
    assert main(["segment", str(jan), "--k", "3", "--save", str(model), "--quiet"]) == 0
    rc, err = _err(["predict", str(feb), "--model", str(model), "--out", str(tmp_path / "l.csv"),
                    "--transitions", str(tmp_path / "t.csv")], capsys)
    assert rc == 2 and "the labels are keyed differently" in err
    assert sorted(os.listdir(tmp_path)) == ["feb.csv", "jan.csv", "seg.pkl"]


def test_segment_writes_rules_in_the_format_asked(tmp_path, capsys):
    mall = tmp_path / "mall.csv"
    mall_customers(200, seed=0).to_csv(mall, index=False)
    rules = tmp_path / "rules.xlsx"
    assert main(["segment", str(mall), "--features", "Annual Income (k$),Spending Score (1-100)", "--k", "5",
                 "--rules", str(rules)]) == 0
    assert f"rules:  {rules}" in capsys.readouterr().out
    got = pd.read_excel(rules, index_col=0)
    assert len(got) == 5 and (got["coverage"] > 0.8).all()
    assert "Annual Income (k$)" in " ".join(got["rule"])
    rc, err = _err(["segment", str(mall), "--k", "5", "--rules", str(tmp_path / "rules.json")], capsys)
    assert rc == 2 and "--rules" in err and ".json" in err
    rc, err = _err(["segment", str(mall), "--k", "5", "--rules", str(mall)], capsys)
    assert rc == 2 and "is the input file" in err


def test_segment_stability_option(tmp_path, capsys):
    mall = tmp_path / "mall.csv"
    mall_customers(200, seed=0).to_csv(mall, index=False)
    rep = tmp_path / "r.html"
    assert main(["segment", str(mall), "--k", "5", "--stability", "4", "--report", str(rep)]) == 0
    assert "segments stable: found again when k-means is refitted on 4 subsets" in capsys.readouterr().out
    assert "Stability: each segment's mean best Jaccard" in rep.read_text()
    assert main(["segment", str(mall), "--k", "5", "--stability", "0"]) == 0
    assert "stable" not in capsys.readouterr().out
    with pytest.raises(SystemExit) as e:
        main(["segment", str(mall), "--stability", "-2"])
    assert e.value.code == 2 and "expected a number >= 0; got -2" in capsys.readouterr().err


def test_sweep_stability_option(tmp_path, capsys):
    mall = tmp_path / "mall.csv"
    mall_customers(200, seed=0).to_csv(mall, index=False)
    out = tmp_path / "sweep.csv"
    assert main(["sweep", str(mall), "--k-range", "2-6", "--stability", "3", "--transform", "log1p", "--out",
                 str(out)]) == 0
    printed = capsys.readouterr().out
    got = pd.read_csv(out, index_col="k")
    assert {"stability", "least_stable", "stable_segments"} <= set(got.columns)
    assert got["stability"].between(0, 1).all() and list(got.index) == [2, 3, 4, 5, 6]
    # the k the stability evidence picks is the one segment --k auto chooses with as many refits
    picked = re.search(r"with stability, k = (\d+): .* picks? \1, the largest pick whose segments are all stable",
                       printed)
    assert picked, printed
    seg = cmd_segment(build_parser().parse_args(["segment", str(mall), "--k-range", "2-6", "--stability", "3",
                                                 "--transform", "log1p", "-q"]))
    assert seg.k == int(picked.group(1)) and seg.k_stability.round(12).equals(got[list(seg.k_stability)].round(12))
    assert main(["sweep", str(mall), "--k-range", "2-4", "--out", str(out), "--quiet"]) == 0
    assert "stability" not in pd.read_csv(out).columns


@pytest.mark.parametrize("args", [
    ["--out", "{d}/a.csv", "--rules", "{d}/a.csv"],
    ["--report", "{d}/r.html", "--save", "{d}/./r.html"],
])
def test_two_outputs_naming_one_file_stop_before_any_work(tmp_path, capsys, args):
    mall = tmp_path / "mall.csv"
    mall_customers(100, seed=0).to_csv(mall, index=False)
    rc, err = _err(["segment", str(mall), "--k", "3", *[a.format(d=tmp_path) for a in args]], capsys)
    assert rc == 2 and "both name" in err and "give each its own file" in err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["mall.csv"]


def test_predict_outputs_naming_one_file(tmp_path, capsys):
    mall, model = tmp_path / "mall.csv", tmp_path / "seg.pkl"
    mall_customers(100, seed=0).to_csv(mall, index=False)
    assert main(["segment", str(mall), "--k", "3", "--save", str(model), "--quiet", "--stability", "0"]) == 0
    rc, err = _err(["predict", str(mall), "--model", str(model), "--out", str(tmp_path / "x.csv"),
                    "--transitions", str(tmp_path / "x.csv")], capsys)
    assert rc == 2 and "--out and --transitions both name" in err
    assert not (tmp_path / "x.csv").exists()


def test_sweep_sample_options(tmp_path, capsys):
    """--sample fits on a sample and refines on every customer (--no-refine: labels only);
    the per-k table is sweep(sample=...)'s on the same prepared features."""
    from fastseg import Segmenter, sweep

    df = mall_customers(600, seed=2)
    mall, out = tmp_path / "mall.csv", tmp_path / "sweep.csv"
    df.to_csv(mall, index=False)
    _, _, Z = Segmenter().prepare(df)
    for extra, refined in (([], True), (["--no-refine"], False)):
        assert main(["sweep", str(mall), "--k-range", "2-7", "--n-init", "1", "--sample", "150", "--out", str(out),
                     *extra]) == 0
        printed = capsys.readouterr().out
        assert "fitted on a sample of 150 of 600 customers" in printed
        assert ("refined on every customer" in printed) == refined
        want = sweep(Z, k=range(2, 8), random_state=0, sample=150, refine=refined)
        np.testing.assert_allclose(pd.read_csv(out)["inertia"], [want.inertia[k] for k in range(2, 8)], rtol=1e-12)


@pytest.mark.parametrize("args, match", [
    (["--no-refine"], "--no-refine goes with --sample N"),
    (["--sample", "5", "--k-range", "2-8"], r"--sample 5 is fewer customers than the largest k \(8\)"),
    (["--sample", "0"], "expected a number >= 1; got 0"),
])
def test_sweep_sample_errors(tmp_path, capsys, args, match):
    mall = tmp_path / "mall.csv"
    mall_customers(100, seed=0).to_csv(mall, index=False)
    rc, err = _err(["sweep", str(mall), "--out", str(tmp_path / "s.csv"), *args], capsys)
    assert rc == 2 and re.search(match, err), err
    assert not (tmp_path / "s.csv").exists()


def test_segment_sample_option(tmp_path, capsys):
    from fastseg import Segmenter

    df = mall_customers(800, seed=4)
    mall, out = tmp_path / "mall.csv", tmp_path / "labels.csv"
    df.to_csv(mall, index=False)
    assert main(["segment", str(mall), "--sample", "300", "--out", str(out), "--stability", "0"]) == 0
    assert "chosen on a sample of 300 customers" in capsys.readouterr().out
    want = Segmenter(random_state=0, sample=300, stability=0).fit(df)
    got = pd.read_csv(out, index_col="CustomerID")
    np.testing.assert_array_equal(got["segment"], want.labels["segment"])
    rc, err = _err(["segment", str(mall), "--sample", "8", "--out", str(tmp_path / "x.csv")], capsys)
    assert rc == 2 and "--sample 8 is fewer customers than the largest k (10) of --k-range" in err
    assert not (tmp_path / "x.csv").exists()


def test_report_figures_read_without_exponents():
    import fastseg
    from fastseg._profiles import readable_number as _readable
    from fastseg.report import render

    assert [_readable(v) for v in (4104.2, 1_370_931.7, 26.94, 6.483, 0.2734, 0.0, -56012.0)] == \
        ["4,104", "1,370,932", "26.9", "6.48", "0.273", "0", "-56,012"]
    tx = online_retail(300, seed=2)
    table = fastseg.rfm(tx, customer="CustomerID", date="InvoiceDate", invoice="InvoiceNo", quantity="Quantity",
                        price="UnitPrice")
    seg = fastseg.Segmenter(k=3, random_state=0, stability=0).fit(table)
    html = render(seg, images=[])
    body = html[html.index("<h2>Segments</h2>"):]
    assert not re.search(r"\d\.?\d*e[+-]\d\d", body), re.findall(r".{40}\de[+-]\d\d.{10}", body)
    assert re.search(r"monetary median [\d,.]+ \(mean [\d,.]+, [+-][\d,]+% vs all\)", body)
    assert re.search(r"<td>[+-][\d,]+%</td>", body)  # relative importance
    share = seg.profiles.loc[0, "share"]
    assert f"<td>{share:.1%}</td>" in body


def test_segment_writes_the_reports_figures_as_png_files(tmp_path, capsys):
    mall = tmp_path / "mall.csv"
    mall_customers(120, seed=2).to_csv(mall, index=False)
    figs = tmp_path / "figs"
    assert main(["segment", str(mall), "--k", "4", "--plots", str(figs), "--report", str(tmp_path / "r.html")]) == 0
    printed = capsys.readouterr().out
    names = sorted(p.name for p in figs.iterdir())
    assert names == sorted(["sizes.png", "snake.png", "importance.png", "scatter.png", "scatter3d.png",
                            "composition.png", "silhouette.png"])  # k given: no elbow
    for name in names:
        assert mpimg.imread(figs / name).shape[0] > 100
    assert f"plots:  {figs}/ (" in printed
    html = (tmp_path / "r.html").read_text()
    assert html.count("data:image/png;base64,") == len(names)  # the same figures, drawn once


def test_report_says_which_features_were_logged():
    import fastseg
    from fastseg.report import render

    df = mall_customers(80, seed=3)
    df["Balance"] = np.linspace(-50, 50, len(df))  # negative values: kept in its own units
    seg = fastseg.Segmenter(features=["Age", "Balance"], k=2, random_state=0, stability=0).fit(df)
    assert seg.prep.logged == ["Age"]
    assert "Transform: log1p of Age (Balance kept as is: negative values); scaling: standard." in render(seg, images=[])
    plain = fastseg.Segmenter(features=["Age"], k=2, transform=None, random_state=0, stability=0).fit(df)
    assert "Transform: none; scaling: standard." in render(plain, images=[])


def test_name_option_renames_segments_in_the_labels_and_the_saved_model(tmp_path, capsys):
    df = mall_customers(150, seed=4)
    df.to_csv(tmp_path / "in.csv", index=False)
    base = ["segment", str(tmp_path / "in.csv"), "--k", "3", "--stability", "0"]
    assert main([*base, "--out", str(tmp_path / "a.csv")]) == 0
    first = pd.read_csv(tmp_path / "a.csv")
    capsys.readouterr()
    assert main([*base, "--out", str(tmp_path / "b.csv"), "--save", str(tmp_path / "m.pkl"),
                 "--name", "0=VIPs", "--name", "2=Window shoppers"]) == 0
    assert re.search(r"  0: VIPs \(.+\) — ", capsys.readouterr().out)
    got = pd.read_csv(tmp_path / "b.csv")
    assert (got["segment"] == first["segment"]).all()
    assert set(got.loc[got["segment"] == 0, "name"]) == {"VIPs"}
    assert set(got.loc[got["segment"] == 2, "name"]) == {"Window shoppers"}
    assert (got.loc[got["segment"] == 1, "name"] == first.loc[first["segment"] == 1, "name"]).all()
    assert main(["predict", str(tmp_path / "in.csv"), "--model", str(tmp_path / "m.pkl"), "--out",
                 str(tmp_path / "p.csv"), "--name", "VIPs=Best"]) == 0  # renamed again, by its saved name
    pred = pd.read_csv(tmp_path / "p.csv")
    assert set(pred.loc[pred["segment"] == 0, "name"]) == {"Best"}
    assert set(pred.loc[pred["segment"] == 2, "name"]) == {"Window shoppers"}
    rc, err = _err([*base, "--name", "7=X"], capsys)
    assert rc == 2 and "no segment 7 to rename: name one by its number, 0 to 2" in err
    rc, err = _err([*base, "--name", "VIPs"], capsys)
    assert rc == 2 and "expected SEGMENT=NAME" in err


def test_report_profiles_of_many_features_run_down_the_page():
    """Three figures per feature: ten features made a table 33 columns wide. Past four,
    a row per figure and a column per segment."""
    import fastseg
    from fastseg.report import render

    rng = np.random.default_rng(0)
    X = np.exp(rng.normal(size=(400, 10)) + np.repeat(rng.normal(scale=1.5, size=(4, 10)), 100, axis=0))
    seg = fastseg.Segmenter(k=4, random_state=0, stability=0, rules=False).fit(
        pd.DataFrame(X, columns=[f"c{i}" for i in range(10)]))
    html = render(seg, images=[])
    part = html[html.index("<h2>Profiles"):]
    table = part[part.index("<table>"):part.index("</table>")]
    head = re.findall(r"<th>([^<]*)</th>", table[:table.index("</thead>")])
    assert head == ["segment", "0", "1", "2", "3"]
    assert table.count("<tr>") == 1 + 2 + 3 * 10  # header; size, share; mean, median, importance per feature
    row = re.search(r"<th>c3 rel\. importance</th>((?:<td>[^<]*</td>){4})", table).group(1)
    want = [f"{v:+,.0%}" for v in seg.profiles["c3 rel. importance"]]
    assert re.findall(r"<td>([^<]*)</td>", row) == want
    assert re.search(r"<th>share</th><td>\d+\.\d%</td>", table)
    few = render(fastseg.Segmenter(k=3, random_state=0, stability=0, rules=False).fit(
        pd.DataFrame(X[:, :3], columns=["a", "b", "c"])), images=[])
    few = few[few.index("<h2>Profiles"):]
    assert "<th>a rel. importance</th>" in few[:few.index("</thead>")]  # a row per segment, as before


def test_rfm_without_column_options_reads_them_off_the_names(tmp_path, capsys):
    tx = tmp_path / "tx.csv"
    online_retail(150, seed=2).to_csv(tx, index=False)
    guessed, named = tmp_path / "guessed.csv", tmp_path / "named.csv"
    assert main(["segment", str(tx), "--rfm", "--k", "3", "--out", str(guessed)]) == 0
    out = capsys.readouterr().err
    assert ("RFM columns read off their names: customer 'CustomerID', date 'InvoiceDate', invoice 'InvoiceNo', "
            "quantity 'Quantity', price 'UnitPrice' (set with --customer") in out
    assert main(["segment", str(tx), "--rfm", "--customer", "CustomerID", "--date", "InvoiceDate", "--invoice",
                 "InvoiceNo", "--quantity", "Quantity", "--price", "UnitPrice", "--k", "3", "--out", str(named)]) == 0
    assert "read off their names" not in capsys.readouterr().err
    pd.testing.assert_frame_equal(pd.read_csv(guessed), pd.read_csv(named))


def test_sweep_says_which_columns_it_used_and_which_customers_it_left_out(tmp_path, capsys):
    df = mall_customers(150, seed=3).assign(Responded=lambda d: d["CustomerID"] % 2)
    df.loc[df.index[:4], "Age"] = np.nan
    src = tmp_path / "mall.csv"
    df.to_csv(src, index=False)
    assert main(["sweep", str(src), "--missing", "drop", "--k-range", "2-4", "--stability", "0"]) == 0
    err = capsys.readouterr().err
    assert ("Features: Age, Annual Income (k$), Spending Score (1-100); left out: CustomerID (an identifier), "
            "Gender (not numeric), Responded (a flag: two values)") in err
    assert "4 customers not segmented: a missing or infinite value in Age (missing='drop')." in err
    assert main(["sweep", str(src), "--missing", "drop", "--k-range", "2-4", "--stability", "0", "--quiet"]) == 0
    assert capsys.readouterr().err == ""


def test_rfm_says_how_it_read_dates_kept_as_numbers(tmp_path, capsys):
    tx = online_retail(80, seed=3)
    tx["InvoiceDate"] = pd.to_datetime(tx["InvoiceDate"]).dt.strftime("%Y%m%d").astype(int)
    src = tmp_path / "tx.csv"
    tx.to_csv(src, index=False)
    assert main(["segment", str(src), "--rfm", "--k", "2", "--stability", "0"]) == 0
    assert "customers (dates read from yyyymmdd numbers)" in capsys.readouterr().err


def test_ids_and_codes_written_with_leading_zeros_keep_them(tmp_path, capsys):
    rng = np.random.default_rng(0)
    n = 60
    ids = [f"{i:05d}" for i in rng.choice(99_999, n, replace=False)]
    ids[0] = "00042"
    df = pd.DataFrame({"CustomerID": ids, "zip": rng.choice(["02134", "10001", "02139"], n),
                       "Kidhome": rng.integers(0, 2, n), "Age": rng.integers(20, 70, n),
                       "Income": rng.gamma(5.0, 9000.0, n).round(2), "Share": rng.random(n).round(3)})
    df.loc[3, "zip"] = None  # written NA: a missing zip, the others still codes with zeros
    path, labels = tmp_path / "customers.csv", tmp_path / "labels.csv"
    df.to_csv(path, index=False, na_rep="NA")
    assert main(["segment", str(path), "--k", "3", "--stability", "0", "--out", str(labels)]) == 0
    out = capsys.readouterr().out
    got = pd.read_csv(labels, dtype={"CustomerID": str})
    assert list(got["CustomerID"]) == ids  # "00042", as in the file, so it still matches the CRM
    assert "Labels keyed by CustomerID" in out
    # the zip code is a category to describe, not a number to cluster on; 0/1 and decimals stay numbers
    assert "zip (not numeric)" in out and "Described by segment, not clustered on: zip, Kidhome." in out
    assert "Features: Age, Income, Share;" in out


def test_a_spreadsheet_export_with_a_totals_row(tmp_path, capsys):
    df = mall_customers(120, seed=0)
    tot = df.drop(columns=["CustomerID", "Gender"]).sum()
    export = pd.concat([df, pd.DataFrame([{"CustomerID": "Total", **tot}])], ignore_index=True)
    path, labels = tmp_path / "export.csv", tmp_path / "labels.csv"
    export.to_csv(path, index=False)
    assert main(["segment", str(path), "--k", "3", "--stability", "0", "--out", str(labels)]) == 0
    assert "Row 120 left out: a totals row" in capsys.readouterr().out
    got = pd.read_csv(labels)
    assert len(got) == 120 and "Total" not in set(got["CustomerID"].astype(str))
    # predict on the same export leaves it out too, and gives each customer the segment fit gave
    model, again = tmp_path / "seg.pkl", tmp_path / "again.csv"
    assert main(["segment", str(path), "--k", "3", "--stability", "0", "--save", str(model), "--quiet"]) == 0
    assert main(["predict", str(path), "--model", str(model), "--out", str(again)]) == 0
    assert "Row 120 left out: a totals row" in capsys.readouterr().err
    pd.testing.assert_frame_equal(pd.read_csv(again), got)


def test_clip_caps_the_features_and_a_bad_share_is_a_usage_error(tmp_path, capsys):
    from fastseg import Segmenter

    df = mall_customers(200, seed=3)
    whales = df.iloc[:2].assign(CustomerID=[9000, 9001], **{"Annual Income (k$)": [3000, 3100]})
    table = pd.concat([df, whales], ignore_index=True)
    mall = tmp_path / "mall.csv"
    table.to_csv(mall, index=False)
    assert main(["segment", str(mall), "--k", "5", "--clip", "1%", "--seed", "5", "--stability", "0",
                 "--out", str(tmp_path / "l.csv")]) == 0
    out = capsys.readouterr().out
    assert "Each feature capped at its 1st and 99th percentiles before scaling (clip=0.01)" in out
    labels = pd.read_csv(tmp_path / "l.csv", index_col="CustomerID")
    want = Segmenter(k=5, random_state=5, stability=0, clip=0.01).fit(table)
    np.testing.assert_array_equal(labels["segment"], want.labels["segment"])
    assert main(["sweep", str(mall), "--k-range", "2-4", "--clip", "0.01"]) == 0
    assert "capped at its 1st and 99th percentiles" in capsys.readouterr().err
    for bad in ("0.5", "0", "much"):
        rc, err = _err(["segment", str(mall), "--clip", bad], capsys)
        assert rc == 2 and "argument --clip: expected a share" in err


def test_segment_items_options(tmp_path, capsys):
    tx = online_retail(400, seed=5)
    path = tmp_path / "tx.csv"
    tx.rename(columns={"StockCode": "sku", "Description": "label"}).to_csv(path, index=False)
    items = tmp_path / "items.csv"
    # named columns
    rc = main(["segment", str(path), "--rfm", "--k", "3", "--stability", "0", "--item", "sku", "--item-names",
               "label", "--items", str(items)])
    assert rc == 0
    got = pd.read_csv(items)
    assert {"segment", "name", "item", "label", "buyers", "share of segment", "share of all", "index", "q"} <= set(
        got.columns)
    assert "Bought markedly more often" in capsys.readouterr().out
    offers = tmp_path / "offers.csv"
    assert main(["segment", str(path), "--rfm", "--k", "3", "--stability", "0", "--item", "sku", "--item-names",
                 "label", "--offers", str(offers), "-q"]) == 0
    got = pd.read_csv(offers)
    assert {"CustomerID", "segment", "rank", "item", "label", "index"} <= set(got.columns) and len(got)
    # 'sku' is named like an item: read off its name, and said so
    items.unlink()
    assert main(["segment", str(path), "--rfm", "--k", "3", "--stability", "0", "--items", str(items)]) == 0
    assert "from item 'sku'" in capsys.readouterr().err and items.exists()
    # --item none: no items, no line
    assert main(["segment", str(path), "--rfm", "--k", "3", "--stability", "0", "--item", "none"]) == 0
    assert "Bought markedly" not in capsys.readouterr().out


def test_segment_items_bad_options_stop_before_any_output(tmp_path, capsys):
    tx = online_retail(300, seed=5)
    path = tmp_path / "tx.csv"
    tx.to_csv(path, index=False)
    out, items = tmp_path / "labels.csv", tmp_path / "items.csv"
    rc, err = _err(["segment", str(path), "--rfm", "--item", "Product", "--out", str(out)], capsys)
    assert rc == 2 and "'Product' not found" in err and "'StockCode'" in err
    rc, err = _err(["segment", str(path), "--items", str(items), "--features", "Quantity"], capsys)
    assert rc == 2 and "goes with --rfm" in err
    rc, err = _err(["segment", str(path), "--rfm", "--item", "none", "--offers", str(items)], capsys)
    assert rc == 2 and "--offers" in err and "goes with --rfm" in err
    rc, err = _err(["segment", str(path), "--item", "StockCode", "--features", "Quantity"], capsys)
    assert rc == 2 and "--item and --item-names" in err and "--rfm" in err
    bare = tmp_path / "bare.csv"
    tx.drop(columns=["StockCode", "Description"]).to_csv(bare, index=False)
    rc, err = _err(["segment", str(bare), "--rfm", "--items", str(items), "--out", str(out)], capsys)
    assert rc == 2 and "--items: no column of the log is named like the item" in err
    assert not out.exists() and not items.exists() and not list(tmp_path.glob("*.tmp"))
    # without --items, a log with no item column is segmented as before
    assert main(["segment", str(bare), "--rfm", "--k", "3", "--stability", "0", "--out", str(out), "-q"]) == 0
    assert out.exists()


def test_segment_items_two_product_columns_noted_not_fatal(tmp_path, capsys):
    tx = online_retail(300, seed=5)
    path = tmp_path / "tx.csv"
    tx.assign(SKU=tx["StockCode"]).to_csv(path, index=False)
    assert main(["segment", str(path), "--rfm", "--k", "3", "--stability", "0"]) == 0
    captured = capsys.readouterr()
    assert "several columns could be the item ('StockCode', 'SKU')" in captured.err and "--item" in captured.err
    assert "Bought markedly" not in captured.out
    assert main(["segment", str(path), "--rfm", "--k", "3", "--stability", "0", "--item", "SKU"]) == 0
    assert "Bought markedly" in capsys.readouterr().out


def test_predict_offers_a_saved_segmentations_products_to_a_newer_log(tmp_path, capsys):
    jan, feb = tmp_path / "jan.csv", tmp_path / "feb.csv"
    online_retail(600, seed=1).to_csv(jan, index=False)
    online_retail(600, seed=2).to_csv(feb, index=False)
    model, offers = tmp_path / "seg.pkl", tmp_path / "offers.csv"
    assert main(["segment", str(jan), "--rfm", "--k", "3", "--stability", "0", "--save", str(model), "-q"]) == 0
    from fastseg import Segmentation, baskets, recommend_items, rfm

    seg = Segmentation.load(model)
    assert seg.items is not None and len(seg.items)
    assert main(["predict", str(feb), "--rfm", "--model", str(model), "--offers", str(offers)]) == 0
    assert f"offers: {offers}" in capsys.readouterr().out
    got = pd.read_csv(offers)
    # the saved lists, offered to February's customers by their predicted segments and February's purchases
    from fastseg._table_files import read_table

    log = read_table(feb)  # as the command reads it
    expected = recommend_items(baskets(log), seg.predict(rfm(log)), seg.items)
    assert len(got) == len(expected) > 100
    assert list(got["CustomerID"]) == list(expected.index) and list(got["item"].astype(str)) == list(
        expected["item"].astype(str))
    # a model without products, or a table without --rfm, is told what to do
    bare = tmp_path / "bare.pkl"
    assert main(["segment", str(jan), "--rfm", "--k", "3", "--stability", "0", "--item", "none", "--save", str(bare),
                 "-q"]) == 0
    rc, err = _err(["predict", str(feb), "--rfm", "--model", str(bare), "--offers", str(offers)], capsys)
    assert rc == 2 and "holds no products to offer" in err
    rc, err = _err(["predict", str(feb), "--model", str(model), "--offers", str(offers)], capsys)
    assert rc == 2 and "go with --rfm" in err


def test_segment_exclude_items(tmp_path, capsys):
    tx = online_retail(400, seed=5)
    path, items = tmp_path / "tx.csv", tmp_path / "items.csv"
    tx.to_csv(path, index=False)
    assert main(["segment", str(path), "--rfm", "--k", "3", "--stability", "0", "--items", str(items)]) == 0
    first = pd.read_csv(items, dtype={"item": str})["item"].iloc[0]
    capsys.readouterr()
    assert main(["segment", str(path), "--rfm", "--k", "3", "--stability", "0", "--items", str(items),
                 "--exclude-items", f"{first},POST"]) == 0
    assert "'POST' not found in column 'StockCode'" in capsys.readouterr().err
    assert first not in set(pd.read_csv(items, dtype={"item": str})["item"])


def test_snapshot_inside_the_log_and_a_mistyped_year(tmp_path, capsys):
    log = online_retail(300, seed=2)
    path = tmp_path / "tx.csv"
    log.to_csv(path, index=False)
    out = tmp_path / "labels.csv"
    # the RFM as of a day inside the log, with what each segment buys read over the same rows
    assert main(["segment", str(path), "--rfm", "--k", "3", "--snapshot", "2011-06-30", "--out", str(out),
                 "--items", str(tmp_path / "items.csv")]) == 0
    labels = pd.read_csv(out)
    assert len(labels) == len(rfm(log, snapshot="2011-06-30")) < len(rfm(log))
    capsys.readouterr()
    bad = log.copy()
    bad.loc[bad.index[bad["CustomerID"].notna()][3], "InvoiceDate"] = pd.Timestamp("2101-01-05")
    bad.to_csv(path, index=False)
    out.unlink()
    rc, err = _err(["segment", str(path), "--rfm", "--k", "3", "--out", str(out)], capsys)
    assert rc == 2 and "1 row of the log is dated 2101-01-05" in err and "--snapshot 2011-12-" in err
    assert "Traceback" not in err and not out.exists()


def test_since_a_day_and_dates_written_for_unknown(tmp_path, capsys):
    log = online_retail(300, seed=2)
    path = tmp_path / "tx.csv"
    log.to_csv(path, index=False)
    out, report = tmp_path / "labels.csv", tmp_path / "r.html"
    # the purchases from a day on, with what each segment buys read over the same rows
    assert main(["segment", str(path), "--rfm", "--k", "3", "--since", "2011-06-01", "--out", str(out),
                 "--items", str(tmp_path / "items.csv"), "--report", str(report)]) == 0
    labels = pd.read_csv(out)
    assert len(labels) == len(rfm(log, since="2011-06-01")) < len(rfm(log))
    assert "Purchases are counted from 2011-06-01 on." in report.read_text()
    capsys.readouterr()
    bad = log.copy()
    bad.loc[bad.index[bad["CustomerID"].notna()][:40], "InvoiceDate"] = pd.Timestamp("1900-01-01")
    bad.to_csv(path, index=False)
    out.unlink()
    rc, err = _err(["segment", str(path), "--rfm", "--k", "3", "--out", str(out)], capsys)
    assert rc == 2 and "dated 1900-01-01 (a day written for a date not known)" in err and "--since 2010-12-01" in err
    assert "Traceback" not in err and not out.exists()
    assert main(["segment", str(path), "--rfm", "--k", "3", "--since", "2010-12-01", "--out", str(out)]) == 0
    rc, err = _err(["segment", str(path), "--features", "Quantity,UnitPrice", "--since", "2010-12-01"], capsys)
    assert rc == 2 and "--since goes with --rfm" in err
