"""Tables and figures as files, for the command line: a table read from CSV (its
separator, decimal mark and encoding found), Parquet or Excel; outputs checked before any
work (folder, format, writer installed, not an input); everything written through a
temporary file, so nothing half-written is ever left."""

from __future__ import annotations

import csv
import os
import re
import warnings
from pathlib import Path


class FileProblem(Exception):
    """A problem with an input or output file, reported in one line (exit status 2)."""


_SEPARATORS = ",;\t|"
_DECIMAL_COMMA = re.compile(r"-?\d+,\d+")


def csv_dialect(p, sep=None, decimal=None):
    """``(sep, decimal)`` of a delimited text file: given ones kept, the rest read off its
    first lines (see :func:`csv_layout`)."""
    return csv_layout(p, sep, decimal)[:2]


_MAX_TITLE_LINES = 10  # lines above a table's header that a report export may hold


def _header_at(rows):
    """Where the header is among the first ``rows`` (lists of fields): the first with two
    or more filled fields and as many fields as at least 90% of the rows below it. Those
    above it ("Customer report Q3", "Exported 2024-10-01", "Sales, all stores", blank) are
    a title, not the table (0 when none is found)."""
    counts = [len(row) for row in rows]
    for i, row in enumerate(rows[:_MAX_TITLE_LINES + 1]):
        below = counts[i + 1:]
        if (sum(bool(f.strip()) for f in row) >= 2
                and sum(c == len(row) for c in below) >= 0.9 * len(below)):
            return i
    return 0


def csv_layout(p, sep=None, decimal=None):
    """``(sep, decimal, skip, title)`` of a delimited text file: given ones kept, the rest
    read off its first lines. ``skip`` is the number of lines above the header, ``title``
    their filled text (a report's title and export date above the table). The separator
    is the candidate (, ; tab |) that splits the header into the most fields and at least
    90% of the sampled lines from it on into as many; a decimal comma is assumed only
    beside a ';' separator (Excel's export where the comma is decimal)."""
    head = _head(p)
    text = head.decode("utf-8-sig", errors="replace").replace("\x00", "")  # Python 3.10's csv stops at a NUL
    physical = re.split(r"\r\n|\r|\n", text)[:60]  # pandas' line ends, as it counts lines for skiprows
    if len(physical) > 1 and len(head) == 1 << 16:
        physical = physical[:-1]  # cut mid-line by the sample's end
    where = [i for i, ln in enumerate(physical) if ln.strip()][:50]
    lines = [physical[i] for i in where]
    h = 0
    if sep is None:
        sep = ","
        best = 1
        for cand in _SEPARATORS:
            rows = list(csv.reader(lines, delimiter=cand))
            at = _header_at(rows)
            n = len(rows[at]) if rows else 1  # the header's fields
            counts = [len(row) for row in rows[at:]]
            if n > best and sum(c == n for c in counts) >= 0.9 * len(counts):  # a stray dirty line is allowed
                sep, best, h = cand, n, at
    else:
        h = _header_at(list(csv.reader(lines, delimiter=sep)))
    if decimal is None:
        fields = [f.strip() for row in csv.reader(lines[h + 1:], delimiter=sep) for f in row]
        decimal = "," if sep == ";" and any(_DECIMAL_COMMA.fullmatch(f) for f in fields) else "."
    title = [" ".join(f.strip() for f in row if f.strip()) for row in csv.reader(lines[:h], delimiter=sep)]
    return sep, decimal, (where[h] if h else 0), [t for t in title if t]


# UTF-8 first; then Windows' and ISO's Western encodings, which Excel's CSV exports in much
# of the world use (latin-1 reads any bytes, so it comes last)
_ENCODINGS = ("utf-8", "cp1252", "latin-1")


def _looks_binary(p):
    return b"\x00" in _head(p)


# what pandas reads a delimited text file through, by the name's last suffix
_COMPRESSED = {".gz": "gzip", ".bz2": "bz2", ".xz": "lzma", ".zip": "zip"}
# formats that are tables but not ones this command reads: named, with what to do
_OTHER_FORMATS = {".json": "JSON", ".jsonl": "JSON lines", ".ndjson": "JSON lines", ".feather": "Feather",
                  ".arrow": "Arrow", ".ods": "OpenDocument", ".numbers": "Numbers", ".pkl": "pickle",
                  ".pickle": "pickle", ".sav": "SPSS", ".dta": "Stata", ".sas7bdat": "SAS", ".xml": "XML",
                  ".html": "HTML", ".db": "database", ".sqlite": "SQLite", ".h5": "HDF5", ".hdf5": "HDF5"}


def _head(p, size=1 << 16):
    """The first ``size`` bytes of ``p``, decompressed when its name says it is."""
    how = _COMPRESSED.get(p.suffix.lower())
    if how == "zip":
        import zipfile

        with zipfile.ZipFile(p) as z:
            names = [n for n in z.namelist() if not n.endswith("/")]
            if len(names) != 1:
                raise FileProblem(f"{str(p)!r} holds {len(names)} files; a zip of one CSV file is read.")
            with z.open(names[0]) as f:
                return f.read(size)
    if how is not None:
        import importlib

        with importlib.import_module(how).open(p, "rb") as f:
            return f.read(size)
    with open(p, "rb") as f:
        return f.read(size)


def _kind(p):
    suffix = p.suffix.lower()
    if suffix in _COMPRESSED:  # transactions.csv.gz: a compressed CSV
        return "CSV"
    if suffix in (".parquet", ".pq"):
        return "Parquet"
    if suffix in (".xlsx", ".xlsm", ".xls"):
        return "Excel"
    if suffix in _OTHER_FORMATS:
        raise FileProblem(f"{str(p)!r}: fastseg does not read {_OTHER_FORMATS[suffix]} files; save the table as "
                          "CSV (also .tsv or .txt, or compressed: .gz, .bz2, .xz, .zip), Parquet or Excel (.xlsx).")
    return "CSV"


def _sheet(text):
    """A sheet by name, or by position when given as a number (default: the first)."""
    if text is None:
        return 0
    return int(text) if text.isdigit() else text


def _read_excel(p, sheet):
    """The sheet(s) of workbook ``p`` as one table: ``sheet`` a name, a position, several
    of them comma-separated, or "all"; several sheets must have the same columns (a log
    split by year) and are stacked, with a note in ``attrs["notes"]``."""
    import pandas as pd

    sheet = None if sheet is None else str(sheet)
    with pd.ExcelFile(p) as book:
        names = book.sheet_names
        if sheet is not None and sheet.strip().lower() == "all":
            wanted = names
        elif sheet in names:  # a name with a comma in it
            wanted = [sheet]
        else:
            wanted = [_sheet(part.strip()) for part in sheet.split(",")] if sheet else [0]
        for w in wanted:
            if (isinstance(w, int) and w >= len(names)) or (isinstance(w, str) and w not in names):
                raise FileProblem(f"{str(p)!r} has no sheet {w!r}; its sheets: "
                                  f"{', '.join(f'{i} {n!r}' for i, n in enumerate(names))}.")
        wanted = list(dict.fromkeys(names[w] if isinstance(w, int) else w for w in wanted))
        parts = [_without_a_footer(_below_a_title(pd.read_excel(book, sheet_name=w), w), where=f"sheet {w!r}")
                 for w in wanted]
    notes = [note for part in parts for note in part.attrs.pop("notes", ())]
    if len(parts) == 1:
        parts[0].attrs["notes"] = notes
        return parts[0]
    for w, part in zip(wanted[1:], parts[1:]):
        if list(part.columns) != list(parts[0].columns):
            raise FileProblem(f"sheet {w!r} of {str(p)!r} has other columns than sheet {wanted[0]!r} "
                              f"({', '.join(map(repr, map(str, part.columns[:8])))} against "
                              f"{', '.join(map(repr, map(str, parts[0].columns[:8])))}); give one sheet, or "
                              "sheets of the same columns.")
    df = pd.concat(parts, ignore_index=True)
    df.attrs["notes"] = notes + [f"read {len(parts)} sheets as one table: "
                                 + ", ".join(f"{w!r} ({len(part):,} rows)" for w, part in zip(wanted, parts))]
    return df


def _without_a_footer(df, keep_text=(), where="the table"):
    """``df`` less a report export's note below the table ("Report generated 2024-10-01",
    "Confidential") and empty rows: its last rows (up to 10) with no filled cell, or one
    holding text that is no number and either has a space or sits in a column of numbers
    (a customer with only an id such as "C-0017" filled is no note). Each column those
    rows made text or decimal is read again as pandas reads it without them
    (``keep_text``: the columns read as text on purpose); a note quotes the text in
    ``attrs["notes"]``. Any other table is returned unchanged."""
    import pandas as pd

    tail = df.iloc[-_MAX_TITLE_LINES:]
    filled = tail.notna().sum(axis=1).to_numpy()
    dense = [i for i, f in enumerate(filled) if f > 1]
    sparse = len(filled) - (dense[-1] + 1 if dense else 0)  # the last rows, of one filled cell at most
    body = df.iloc[:len(df) - sparse]
    n = 0
    while n < len(tail) and filled[len(tail) - 1 - n] <= 1:
        row = tail.iloc[len(tail) - 1 - n].dropna()
        if len(row):
            v, col = row.iloc[0], row.index[0]
            if not isinstance(v, str) or pd.notna(pd.to_numeric(v, errors="coerce")):
                break  # a number, or a date: a customer with one value, not a note
            if " " not in v.strip() and pd.to_numeric(body[col].dropna(), errors="coerce").isna().any():
                break  # one word among text values: an id or a name, not a note
        n += 1
    if n == 0 or n == len(df):
        return df
    notes = df.iloc[len(df) - n:]
    text = [str(v) for _, row in notes.iterrows() for v in row.dropna()]
    out = df.iloc[:len(df) - n].copy()
    out.attrs = dict(df.attrs)
    for c in out.columns:  # a column that would not be text but for the note: numbers again
        col = out[c]
        if c in keep_text or not col.notna().all():
            continue
        if col.dtype == object and notes[c].notna().any():
            conv = pd.to_numeric(col, errors="coerce")
            if conv.notna().all():
                out[c] = conv
        elif col.dtype.kind == "f" and (col == col.round()).all() and df[c].isna().any():
            out[c] = col.astype("int64")  # whole numbers made decimal by the note's empty cells
    if text:
        out.attrs["notes"] = [*df.attrs.get("notes", ()), f"{where}: the last {n} rows, below the table, are left out "
                                                         f"as a note ({'; '.join(map(repr, text))})"]
    return out


def _below_a_title(df, sheet):
    """A sheet read with its first row as the header, which holds a title above the table
    ("Customer report Q3" in A1, the table's header on row 4): the table from its real
    header on, its columns' types read again, with a note; any other sheet unchanged.
    The sign: most column names are pandas' "Unnamed: 3" for the title row's empty cells."""
    cols = [str(c) for c in df.columns]
    if len(cols) < 2 or sum(c.startswith("Unnamed:") for c in cols) < len(cols) / 2:
        return df
    filled = df.iloc[:_MAX_TITLE_LINES].notna().sum(axis=1).to_numpy()
    at = next((i for i, n in enumerate(filled) if n >= 2), None)
    if at is None:
        return df
    header = df.iloc[at]
    title = [c for c in cols if not c.startswith("Unnamed:")]
    title += [" ".join(str(v) for v in df.iloc[i] if v == v) for i in range(at) if filled[i]]
    out = df.iloc[at + 1:].reset_index(drop=True)
    out.columns = [f"Unnamed: {j}" if v != v else (str(v) if not isinstance(v, str) else v.strip())
                   for j, v in enumerate(header)]
    out = out.infer_objects()  # numbers under the title's text column were read as objects
    out.attrs["notes"] = [f"sheet {sheet!r}: the table's header is on row {at + 2}; the rows above it are "
                          f"left out as a title ({'; '.join(map(repr, title))})"]
    return out


def reads_some_columns(path):
    """Whether :func:`read_table` reads only the ``columns`` asked for from ``path`` (a CSV)."""
    try:
        return _kind(Path(path)) == "CSV"
    except FileProblem:
        return False


def read_table(path, sep=None, decimal=None, columns=None, sheet=None, rows=None):
    """A DataFrame from a CSV (separator, decimal mark and encoding found unless given;
    only ``columns`` read when the file has them all, only the first ``rows`` when
    given), Parquet or Excel file (``sheet`` by name or position). Raises
    :class:`FileProblem`, naming the file and what to do, for a missing or unreadable
    file, a missing reader, or a table without rows."""
    p = Path(path)
    if not p.exists():
        raise FileProblem(f"input file {str(p)!r} does not exist.")
    if p.is_dir():
        raise FileProblem(f"input {str(p)!r} is a folder; give a CSV, Parquet or Excel file.")
    import pandas as pd  # after the checks: a mistyped path fails at once
    kind = _kind(p)
    try:
        if kind == "Parquet":
            try:
                df = pd.read_parquet(p)
            except ImportError:
                raise FileProblem("reading Parquet needs pyarrow: pip install pyarrow (or give a CSV file).") from None
            if df.empty:
                raise FileProblem(f"{str(p)!r} holds no rows.")
            return df
        if kind == "Excel":
            if p.suffix.lower() == ".xls":
                raise FileProblem(f"{str(p)!r} is an old .xls workbook; save it as .xlsx or CSV.")
            try:
                df = _read_excel(p, sheet)
            except ImportError:
                raise FileProblem("reading Excel needs openpyxl: pip install 'fastseg[excel]' (or save the sheet "
                               "as CSV).") from None
            if df.empty:
                raise FileProblem(f"{str(p)!r} holds no rows.")
            return df
        sep, decimal, skip, title = csv_layout(p, sep, decimal)
        with warnings.catch_warnings():
            # pandas' note on a column of mixed types read in pieces: the columns used are
            # checked and converted where they are used, with errors that name them
            warnings.simplefilter("ignore", pd.errors.DtypeWarning)
            for encoding in _ENCODINGS:
                try:
                    usecols = None
                    if columns:  # only what is used (a log's free-text columns are most of its bytes)
                        header = set(pd.read_csv(p, sep=sep, nrows=0, encoding=encoding, skiprows=skip).columns)
                        # a column missing from the file: read all, the caller's error lists them
                        usecols = list(columns) if set(columns) <= header else None
                    text = _leading_zero_columns(p, sep, encoding, usecols, skip)
                    df = pd.read_csv(p, sep=sep, decimal=decimal, usecols=usecols, encoding=encoding, nrows=rows,
                                     dtype={c: str for c in text} or None, skiprows=skip)
                    break
                except UnicodeDecodeError:
                    if encoding == _ENCODINGS[-1] or _looks_binary(p):
                        raise
    except FileProblem:
        raise
    except (UnicodeDecodeError, pd.errors.ParserError, pd.errors.EmptyDataError, OSError, ValueError,
            KeyError) as e:
        first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise FileProblem(f"could not read {str(p)!r} as {kind}: {first}") from None
    if df.empty:
        raise FileProblem(f"{str(p)!r} holds no rows.")
    _note_repeated_names(p, df, sep, encoding, skip)
    df = _without_a_footer(df, keep_text=text, where=f"{str(p)!r}")
    if skip:
        df.attrs.setdefault("notes", []).insert(0, f"the table's header is on line {skip + 1}; the lines above "
                                                   f"it are left out as a title ({'; '.join(map(repr, title))})")
    return df


def _leading_zero_columns(p, sep, encoding, usecols, skip=0, head=1000):
    """The columns whose first rows hold whole numbers written with a leading zero
    (``00123``, a zip code ``02134``): ids and codes, read as text so that ``00123``
    reaches the labels as ``00123``, not ``123``, and still matches the CRM."""
    import pandas as pd

    first = pd.read_csv(p, sep=sep, usecols=usecols, encoding=encoding, nrows=head, dtype=str, skiprows=skip)
    out = []
    for c in first.columns:
        v = first[c].dropna().str.strip()
        if len(v) and v.str.fullmatch(r"\d+").all() and v.str.fullmatch(r"0\d+").any():
            out.append(c)
    return out


def _note_repeated_names(p, df, sep, encoding, skip=0):
    """pandas reads a second column named 'x' as 'x.1': say so in ``df.attrs["notes"]``,
    so a reader who meets 'x.1' in the features knows where it came from."""
    try:
        lines = re.split(r"\r\n|\r|\n", _head(p).decode(encoding, errors="replace").lstrip("\ufeff"))
        header = next(csv.reader([lines[skip]], delimiter=sep))
    except (StopIteration, IndexError):
        return
    seen, notes = {}, []
    for name in header:
        seen[name] = seen.get(name, 0) + 1
        if seen[name] == 2:
            renamed = [c for c in df.columns if str(c).startswith(f"{name}.")]
            if not renamed:  # not among the columns read
                continue
            others = "the second" if len(renamed) == 1 else "the others"
            notes.append(f"{str(p)!r} has {header.count(name)} columns named {name!r}; {others} read as "
                         f"{', '.join(map(repr, renamed))}.")
    if notes:
        df.attrs["notes"] = notes


def check_output(path, inputs, label):
    """Fail early: the folder must exist and the output must not be an input."""
    if path is None:
        return None
    out = Path(path)
    folder = out.parent if str(out.parent) else Path(".")
    if not folder.is_dir():
        raise FileProblem(f"the folder of {label} {str(out)!r} does not exist; create it or choose another path.")
    for src in inputs:
        if src is not None and Path(src).exists() and out.exists() and os.path.samefile(src, out):
            raise FileProblem(f"{label} {str(out)!r} is the input file; choose another path (the input is never overwritten).")
    return out


def distinct_outputs(**outputs):
    """Fail early when two options name the same output file (the second would overwrite the first)."""
    seen = {}
    for option, path in outputs.items():
        if path is None:
            continue
        key = os.path.normcase(os.path.realpath(path))
        if key in seen:
            raise FileProblem(f"--{seen[key]} and --{option} both name {str(path)!r}; give each its own file.")
        seen[key] = option


# Table outputs by suffix (a path without one is CSV), and the module each writer needs.
_TABLE_FORMATS = {"": "CSV", ".csv": "CSV", ".txt": "CSV", ".tsv": "TSV", ".parquet": "Parquet", ".pq": "Parquet",
                  ".xlsx": "Excel"}
_WRITER_NEEDS = {"Parquet": ("pyarrow", "pip install pyarrow"), "Excel": ("openpyxl", "pip install 'fastseg[excel]'")}
_EXCEL_ROWS = 1_048_575  # a worksheet's rows, less the header
_PLOT_FORMATS = (".png", ".svg", ".pdf", ".jpg", ".jpeg")


def check_table_output(path, inputs, label):
    """:func:`check_output` for a table: a format fastseg writes, with its writer installed."""
    import importlib.util

    out = check_output(path, inputs, label)
    if out is None:
        return None
    kind = _TABLE_FORMATS.get(out.suffix.lower())
    if kind is None:
        raise FileProblem(f"{label} {str(out)!r}: fastseg writes tables as .csv, .tsv, .parquet or .xlsx, not "
                       f"{out.suffix!r}; choose one of those.")
    module, install = _WRITER_NEEDS.get(kind, (None, None))
    if module is not None and importlib.util.find_spec(module) is None:
        raise FileProblem(f"{label} {str(out)!r}: writing {kind} needs {module}: {install} (or write .csv).")
    return out


def check_plot_output(path, inputs, label):
    """:func:`check_output` for a figure: a format matplotlib draws here."""
    out = check_output(path, inputs, label)
    if out is not None and out.suffix.lower() not in _PLOT_FORMATS:
        raise FileProblem(f"{label} {str(out)!r}: fastseg draws plots as {', '.join(_PLOT_FORMATS)}, not "
                       f"{out.suffix or 'a file without an extension'!r}; choose one of those.")
    return out


def write_table(df, path):
    """``df`` to ``path`` in the format its suffix names (see :func:`check_table_output`),
    through a temporary file: never a partial one."""
    import io

    from ._io import atomic_write_bytes, atomic_write_text

    kind = _TABLE_FORMATS[Path(path).suffix.lower()]
    if kind in ("CSV", "TSV"):
        atomic_write_text(path, df.to_csv(sep="\t" if kind == "TSV" else ","))
        return
    buf = io.BytesIO()
    if kind == "Parquet":
        df.to_parquet(buf)
    else:
        if len(df) > _EXCEL_ROWS:
            raise FileProblem(f"{len(df):,} rows do not fit an Excel sheet ({_EXCEL_ROWS:,} at most); write "
                           f"{Path(path).with_suffix('.csv')} or .parquet instead.")
        df.to_excel(buf, sheet_name="fastseg")
    atomic_write_bytes(path, buf.getvalue())


def save_figure(fig, path):
    """``fig`` to ``path`` in the format its suffix names, through a temporary file; the
    figure is closed."""
    import io

    import matplotlib.pyplot as plt

    from ._io import atomic_write_bytes

    buf = io.BytesIO()
    fig.savefig(buf, format=Path(path).suffix.lower().lstrip(".").replace("jpg", "jpeg"), dpi=100)
    plt.close(fig)
    atomic_write_bytes(path, buf.getvalue())
