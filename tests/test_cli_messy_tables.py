"""The command line on messy tables drawn at random: every run ends in labels (exit 0) or in
one line naming the problem (exit 2), never a traceback, a warning or a half-written file.

Drawing such tables found a date feature that broke the report, PCA asked of one feature,
and warnings from refits on subsets with fewer distinct customers than k.
"""

import warnings

import numpy as np
import pandas as pd
import pytest

from fastseg.cli import main

KINDS = ["int", "float", "money", "percent", "text", "date", "date text", "flag", "empty", "one value",
         "numbers and n/a", "id", "code", "negative", "heavy tail", "infinite"]


def _column(kind, rng, n):
    if kind == "int":
        return rng.integers(0, 100, n)
    if kind == "float":
        return rng.normal(50, 20, n)
    if kind == "money":
        return [f"${v:,.2f}" for v in rng.lognormal(5, 2, n)]
    if kind == "percent":
        return [f"{v:.0f}%" for v in rng.uniform(0, 100, n)]
    if kind == "text":
        return rng.choice(["a", "b", "c", "d"], n)
    if kind == "date":
        return pd.Timestamp("2024-01-01") + pd.to_timedelta(rng.integers(0, 365, n), unit="D")
    if kind == "date text":
        return [f"{d}/{m}/2024" for d, m in zip(rng.integers(1, 29, n), rng.integers(1, 13, n))]
    if kind == "flag":
        return rng.random(n) > 0.5
    if kind == "empty":
        return np.full(n, np.nan)
    if kind == "one value":
        return np.full(n, 7.0)
    if kind == "numbers and n/a":
        return [str(v) if rng.random() > 0.2 else "n/a" for v in rng.integers(0, 9, n)]
    if kind == "id":
        return np.arange(n) + 1000
    if kind == "code":
        return rng.integers(1, 4, n)
    if kind == "negative":
        return rng.normal(-5, 3, n)
    if kind == "heavy tail":
        return rng.lognormal(20, 5, n)
    v = rng.normal(0, 1, n)
    v[rng.random(n) < 0.1] = np.inf
    return v


def _messy(seed, tmp_path):
    """A table of random columns (kinds, names, gaps, size and file type drawn from ``seed``)
    and a ``fastseg segment`` or ``fastseg sweep`` command on it."""
    rng = np.random.default_rng(seed)
    n = int(rng.choice([2, 3, 5, 11, 50, 300]))
    cols = {}
    for j in range(int(rng.integers(1, 6))):
        name = str(rng.choice([f"c{j}", f"Col {j}", f"spend{j}", f"date{j}", "CustomerID", f"ü{j}", "id"]))
        cols[name if name not in cols else f"{name}_{j}"] = _column(str(rng.choice(KINDS)), rng, n)
    df = pd.DataFrame(cols)
    if rng.random() < 0.3:
        df = df.mask(rng.random(df.shape) < 0.2)
    path = tmp_path / f"t{seed}.{rng.choice(['csv', 'csv', 'parquet', 'xlsx'])}"
    if path.suffix == ".csv":
        df.to_csv(path, index=bool(rng.random() < 0.3), sep=str(rng.choice([",", ";"])))
    elif path.suffix == ".parquet":
        df.to_parquet(path)
    else:
        df.to_excel(path, index=False)
    out = tmp_path / f"o{seed}.csv"
    command = str(rng.choice(["segment", "segment", "sweep"]))
    args = [command, str(path), "--out", str(out), "-q"]
    if rng.random() < 0.5:
        args += ["--k", str(int(rng.integers(1, 6)))] if command == "segment" else ["--k-range", "2-5"]
    if rng.random() < 0.4:
        args += ["--features", ",".join(rng.choice(list(df.columns), size=min(2, df.shape[1]), replace=False))]
    if rng.random() < 0.2:
        args += ["--missing", "drop"]
    if command == "segment" and rng.random() < 0.25:
        args += ["--report", str(tmp_path / f"r{seed}.html")]
    return args, out


@pytest.mark.parametrize("seed", range(150))
def test_a_messy_table_gives_labels_or_one_line_naming_the_problem(seed, tmp_path, capsys):
    args, out = _messy(seed, tmp_path)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a warning on the user's terminal is a finding too
        rc = main(args)
    err = capsys.readouterr().err
    assert rc in (0, 2), (args, err)
    if rc == 0:
        assert out.exists() and err == ""
    else:
        lines = err.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("fastseg: error: "), (args, err)
        assert not out.exists()
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp") or p.name.startswith(".")]
