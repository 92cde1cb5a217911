"""The ``fastseg`` command's options: the types that turn an option's text into its value
(or an argparse error saying what was expected), and the options the table-reading
commands share."""

from __future__ import annotations

import argparse


def k_range(text):
    try:
        if "-" in text:
            lo, hi = (int(v) for v in text.split("-", 1))
            ks = range(lo, hi + 1)
        else:
            ks = [int(v) for v in text.split(",")]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a range like 2-10 or a list like 2,4,8; got {text!r}") from None
    if not ks or min(ks) < 1:
        raise argparse.ArgumentTypeError(f"k values must be >= 1; got {text!r}")
    return list(ks)


def none_or_k_range(text):
    return None if text.strip().lower() == "none" else k_range(text)


def k(text):
    return "auto" if text == "auto" else positive(text, "'auto' or a number of segments")


def positive(text, what="a whole number", least=1):
    """A whole number >= ``least`` (``_`` and ``,`` as digit separators allowed)."""
    try:
        v = int(text.replace("_", "").replace(",", ""))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected {what}; got {text!r}") from None
    if v < least:
        raise argparse.ArgumentTypeError(f"expected a number >= {least}; got {v}")
    return v


def count(text):
    """A whole number >= 0."""
    return positive(text, least=0)


def separator(text):
    text = {"tab": "\t", "\\t": "\t"}.get(text, text)
    if len(text) != 1:
        raise argparse.ArgumentTypeError(f"expected one character (or 'tab'), got {text!r}")
    return text


def share(text):
    """A share of the customers above 0 and below 0.5, written 0.01 or 1%."""
    t = text.strip()
    try:
        v = float(t[:-1]) / 100 if t.endswith("%") else float(t)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a share of the customers such as 0.01 or 1%; "
                                         f"got {text!r}") from None
    if not 0 < v < 0.5:
        raise argparse.ArgumentTypeError(f"expected a share above 0 and below 0.5 (0.01 caps at the 1st and 99th "
                                         f"percentiles); got {text!r}")
    return v


def none_or(text):
    return None if text.lower() == "none" else text


def segment_name(text):
    """``3=VIPs`` → (3, "VIPs"); a segment may also be named by its current name."""
    key, eq, name = text.partition("=")
    if not eq or not key.strip() or not name.strip():
        raise argparse.ArgumentTypeError(f"expected SEGMENT=NAME, e.g. 0=VIPs or \"3=New customers\"; got {text!r}")
    key = key.strip()
    return (int(key) if key.isdigit() else key), name.strip()


NAME_HELP = ("name a segment for marketing, e.g. --name 0=VIPs --name \"3=New customers\" (by its number or "
              "its current name; repeatable): the labels, rules, report and summary use it")


def columns_or_auto(text):
    """--describe, --attributes: column names separated by commas, 'auto' or 'none' (None)."""
    if text.strip().lower() == "none":
        return None
    if text.strip().lower() == "auto":
        return "auto"
    cols = features(text)
    if not cols:
        raise argparse.ArgumentTypeError("give column names separated by commas, 'auto' or 'none'")
    return cols


def value(text):
    text = text.strip()
    return None if text.lower() == "none" else "auto" if text.lower() == "auto" else text


class AmountAction(argparse.Action):
    """--amount COLUMN, or 'none' for a log with no spend: ``amount`` None and ``monetary``
    False (rfm's ``monetary=False``, Recency and Frequency alone)."""

    def __call__(self, parser, namespace, values, option_string=None):
        none = values.strip().lower() == "none"
        setattr(namespace, self.dest, None if none else values)
        namespace.monetary = not none


def monetary_option(args):
    """rfm's ``monetary``: False after --amount none."""
    return getattr(args, "monetary", True)


def status_option(args):
    """rfm's and baskets' ``status`` for --status: "auto" when not given, None for 'none'."""
    given = getattr(args, "status", None)
    return "auto" if given is None else None if given.strip().lower() == "none" else given


def join_spec(text):
    """--join FILE[:COLUMN] as ``(file, column or None)``: the whole text when it is a file
    (a path may hold ':'), else split at its last ':' when that leaves one."""
    from pathlib import Path

    if not Path(text).is_file() and ":" in text:
        file, column = text.rsplit(":", 1)
        if Path(file).is_file() and column.strip():
            return file, column.strip()
    return text, None


def join_files(args):
    """The files --join names (inputs, never to be overwritten)."""
    return [file for file, _ in getattr(args, "join", None) or ()]


def features(text):
    return [f.strip() for f in text.split(",") if f.strip()] if text else None


def add_table_options(p):
    add_input_options(p)
    p.add_argument("--features", help="comma-separated feature columns; a date column is clustered on as the "
                   "days since each date, to --snapshot (default: R/F/M with --rfm, else every numeric column but "
                   "identifiers)")
    p.add_argument("--transform", type=none_or, default="auto", choices=["auto", "log1p", None],
                   help="auto (default): log1p on the non-negative features it makes more symmetric (spend, "
                        "counts, recency: long right tails), not on an evenly spread score or age; log1p: on every "
                        "non-negative feature; none")
    p.add_argument("--scale", type=none_or, default="standard", choices=["standard", "robust", None],
                   help="feature scaling (default: standard)")
    p.add_argument("--device", default="auto", help="auto, cpu or gpu (default: auto)")
    p.add_argument("--seed", type=int, default=0, help="random seed (default: 0)")
    p.add_argument("--missing", choices=["error", "drop"], default="error",
                   help="a customer with a missing feature value: stop with an error (default), or leave "
                        "the customer out of the segments (drop; listed in the labels without a segment)")
    p.add_argument("--keep-codes", dest="codes", action="store_false",
                   help="keep the numbers written for a value not known (an Age of 999, an income of -1) as "
                        "numbers; by default they are read as missing, and --missing decides")
    p.add_argument("--n-init", type=positive, default=3,
                   help="k-means restarts per k, the best kept (default: 3, as Segmenter)")
    p.add_argument("--clip", type=share, metavar="SHARE",
                   help="cap each feature at its SHARE and 1-SHARE quantiles before scaling (0.01 or 1%%: the 1st "
                        "and 99th percentiles), so a few extreme customers join the nearest segment instead of "
                        "taking one of their own; predict caps at the same values (default: no cap)")


def add_input_options(p):
    """The input table: a customer table, or a transaction log with --rfm."""
    p.add_argument("input", help="CSV, Parquet or Excel (.xlsx) file: one row per customer (or per transaction "
                   "with --rfm)")
    p.add_argument("--id", help="customer id column (default: the one column named like an id, e.g. "
                   "CustomerID, with a distinct whole number per row; else the row number)")
    p.add_argument("-q", "--quiet", action="store_true", help="print nothing but errors")
    p.add_argument("--sep", type=separator, help="CSV field separator (default: read off the file's first "
                   "lines among , ; tab |)")
    p.add_argument("--decimal", choices=[".", ","], help="CSV decimal mark (default: '.', or ',' in a "
                   "';'-separated file whose numbers use it)")
    p.add_argument("--sheet", help="Excel sheet, by name or position from 0 (default: the first); several "
                   "comma-separated, or all, are stacked into one table when their columns are the same (a log "
                   "kept a sheet per year)")
    g = p.add_argument_group("RFM from a transaction log")
    g.add_argument("--rfm", action="store_true", help="compute Recency/Frequency/Monetary per customer first; "
                   "column options left out are read off the names (CustomerID, InvoiceDate, InvoiceNo, "
                   "Quantity, UnitPrice, Sales, ...) and printed")
    g.add_argument("--customer", help="customer id column")
    g.add_argument("--date", help="transaction date column")
    g.add_argument("--invoice", help="invoice id column (Frequency = distinct invoices)")
    g.add_argument("--amount", action=AmountAction,
                   help="spend column, or give --quantity and --price; 'none' for a log with no spend (views and "
                        "purchases without prices, visits): Recency and Frequency alone")
    g.add_argument("--quantity", help="quantity column")
    g.add_argument("--price", help="unit price column")
    g.add_argument("--snapshot", help="date Recency is measured from (default: last date + 1 day; one inside "
                   "the log gives the RFM as of that day, the rows from it on left out); without "
                   "--rfm, the date the days since each date of a date column named in --features are counted to")
    g.add_argument("--since", help="with --rfm, the first day of the purchases to count: the rows before it are "
                   "left out (the RFM of a window, e.g. the last 12 months, or a log whose first rows are dated "
                   "1900-01-01 for a date not known)")
    g.add_argument("--attributes", type=columns_or_auto, default="auto",
                   help="comma-separated columns of the log that describe the customer (e.g. Country), carried "
                        "per customer (its most frequent value) and described by segment; 'none' for none "
                        "(default: the columns of text, categories or codes with 2-50 values, one per customer)")
    g.add_argument("--mix", metavar="COLUMN",
                   help="a column of the log that sorts purchases into a few kinds (e.g. Category): segment on "
                        "each customer's share of spend in its 8 most spent-on kinds (and the rest) beside R, F "
                        "and M (predict: taken from the model)")
    g.add_argument("--returns", choices=("drop", "net"), default=None,
                   help="goods sent back (negative quantities, cancelled invoices): 'drop' them (default) or "
                        "'net' their value off each customer's Monetary (predict: taken from the model)")
    g.add_argument("--currency", metavar="CODE",
                   help="for a log with a column of currencies (Currency, currency_code, ccy): keep the rows in "
                        "this one (e.g. GBP), or 'any' for amounts already converted to one; a log in several and "
                        "no --currency is an error (predict: taken from the model)")
    g.add_argument("--duplicates", choices=("keep", "drop"), default=None,
                   help="rows equal to an earlier row in every column read: 'keep' them (default; a till may list "
                        "an item twice) or 'drop' them (a log exported twice over) (predict: taken from the model)")
    g.add_argument("--status", metavar="COLUMN",
                   help="the log's column of order status: its rows of no sale (canceled, unavailable, failed, "
                        "refunded, returned ...) are left out; or of a shop's events (view, cart, purchase): only "
                        "its purchases are kept; 'none' for no such rule (default: the column named like Status or "
                        "order_status, else like event_type holding such events, if any; predict: taken from the "
                        "model)")
    g.add_argument("--join", metavar="FILE[:COLUMN]", type=join_spec, action="append",
                   help="a table joined to the log's rows before RFM by the column both have (or COLUMN), for a "
                        "log kept in several files: an order's payments or items by order_id (where the amounts "
                        "are), a table of each per-order customer id's lasting one (Olist's customers); repeat it "
                        "for several, joined in order (predict: the newer tables)")
    g.add_argument("--customers", metavar="FILE",
                   help="a table of one row per customer (a CRM export: age, gender, city), joined to the RFM table "
                        "by the customer id: its columns describe the segments, and those named in --features are "
                        "clustered on beside R, F and M (predict: the same table, or a newer one)")
    g.add_argument("--customers-id", metavar="COLUMN",
                   help="the --customers table's id column (default: the one named as the log's customer column, "
                        "else the one named like a customer id)")
    g.add_argument("--dayfirst", action="store_true",
                   help="read dates as day/month (default: month/day, unless day/month reads more of them)")
