"""The ``fastseg`` command line.

    fastseg demo                      shipped data → report, labels and plots in ./fastseg-demo/
    fastseg segment customers.csv --features age,income,score --k auto --out labels.csv --report r.html
    fastseg segment tx.csv --rfm --customer CustomerID --date InvoiceDate --invoice InvoiceNo \\
                           --quantity Quantity --price UnitPrice --out labels.csv
    fastseg sweep customers.csv --features age,income,score --k-range 2-15 --plot elbow.png
    fastseg segment jan.csv --save seg.pkl && fastseg predict feb.csv --model seg.pkl --out feb.csv
    fastseg bench                     fastseg vs scikit-learn on this machine

Errors are one line on stderr with exit status 2; no output file is left half-written,
and the input is never overwritten.
"""

from __future__ import annotations

import argparse
import re
import sys
import time
from pathlib import Path

from . import _cli_options as opt
from ._cli_items import add_item_options
from ._table_files import (FileProblem, check_output, check_plot_output, check_table_output, distinct_outputs,
                           read_table, reads_some_columns, save_figure, write_table)

EXIT_USAGE = 2


class CLIError(Exception):
    """An error to report in one line (exit status 2)."""


def _say(args, msg):
    if not getattr(args, "quiet", False):
        print(msg, file=sys.stderr)


class _Progress:
    """A one-line progress bar on stderr (only on a terminal, never with --quiet)."""

    def __init__(self, args, label):
        self.on = not getattr(args, "quiet", False) and sys.stderr.isatty()
        self.label = label
        self.t0 = time.perf_counter()

    def __call__(self, info):
        if not self.on:
            return
        done, total = info["converged"], info["total"]
        width = 24
        fill = int(width * done / max(total, 1))
        stage = f" ({info['stage']})" if "stage" in info else ""
        sys.stderr.write(
            f"\r{self.label}{stage} [{'#' * fill}{'.' * (width - fill)}] {done}/{total} runs converged, "
            f"iteration {info['iteration']}, {time.perf_counter() - self.t0:.1f} s"
        )
        sys.stderr.flush()

    def close(self):
        if self.on:
            sys.stderr.write("\n")


def _renamed(seg, args):
    return seg.rename(dict(args.name)) if args.name else seg


MIX_COVERED = 0.5  # below this share of the spend in the named kinds, --mix was likely given products


def _mix_text(mix):
    """What --mix made, and a hint when its named kinds hold little of the spend."""
    text = f"Shares of spend by {mix['column']}: {', '.join(map(str, mix['columns']))}"
    if mix["covered"] < MIX_COVERED:
        text += (f"\nnote: the {len(mix['values'])} kinds named hold {mix['covered']:.0%} of the spend "
                 f"({mix['kinds']:,} kinds in {mix['column']}); --mix is for a column of a few kinds (a category, "
                 "a department); for what each segment buys product by product, see --items")
    return text


# options of a transaction log's RFM: (option, what it reads of the log, what a customer table does instead)
_RFM_ONLY = (
    ("returns", "the returns in a transaction log", "a customer table's spend is segmented as it is."),
    ("currency", "the currency column of a transaction log", "a customer table's spend is segmented as it is."),
    ("duplicates", "the repeated rows of a transaction log",
     "drop a customer table's repeated rows before segmenting it."),
    ("status", "a transaction log's column of order status", "leave out a customer table's rows by filtering "
     "the table."),
    ("since", "the first day of a transaction log's purchases to count",
     "leave out a customer table's rows by filtering the table."),
    ("mix", "a column of a transaction log, e.g. Category", "a customer table's share columns are named with "
     "--features."),
)


def _prepare_customers(args, with_log=False, mix_values=None):
    """The customer table to segment: RFM from transactions, or the table as it is; with
    ``with_log`` also the transaction log (None without --rfm). ``mix_values``: the
    kinds of ``args.mix`` a saved segmentation has share columns for."""
    attributes = args.attributes
    if isinstance(attributes, list) and not args.rfm:
        raise CLIError("--attributes goes with --rfm (columns of a transaction log carried per customer); a "
                       "customer table's own columns are described by segment as they are (see --describe).")
    for option, what, instead in _RFM_ONLY:
        if getattr(args, option) is not None and not args.rfm:
            raise CLIError(f"--{option} goes with --rfm ({what}); {instead}")
    if (args.customers or args.customers_id) and not args.rfm:
        raise CLIError("--customers joins a customer table to the RFM table of a transaction log: it goes with --rfm "
                       "(a customer table given as INPUT is segmented as it is).")
    if args.join and not args.rfm:
        raise CLIError("--join joins a table to the rows of a transaction log before its RFM: it goes with --rfm (a "
                       "customer table's own columns are joined with --customers, after it).")
    for file, _ in args.join or ():
        if not Path(file).is_file():
            what = "is a folder" if Path(file).is_dir() else "does not exist"
            raise CLIError(f"--join {file!r} {what}; give a CSV, Parquet or Excel file, and the column to join by "
                           "after a ':' where the two tables' names differ (--join payments.csv:order_id).")
    if args.customers_id and not args.customers:
        raise CLIError("--customers-id names the id column of the --customers table: give --customers FILE too.")
    if args.customers and not Path(args.customers).is_file():
        what = "is a folder" if Path(args.customers).is_dir() else "does not exist"
        raise CLIError(f"--customers {args.customers!r} {what}; give the customer table's CSV, Parquet or Excel "
                       "file.")
    from ._log_columns import needs_guess

    # only the columns used (a log's free text is most of its bytes), unless some are to be guessed
    roles = dict(customer=args.customer, date=args.date, invoice=args.invoice, amount=args.amount,
                 quantity=args.quantity, price=args.price)
    wanted = []
    if args.rfm and not needs_guess(**roles, spend=opt.monetary_option(args)) and not args.join:
        wanted = [*roles.values(), *(attributes if isinstance(attributes, list) else ()), args.mix]
        head = None
        if (attributes == "auto" or getattr(args, "item", None) == "auto") and reads_some_columns(args.input):
            head = read_table(args.input, args.sep, args.decimal, rows=100_000)
        if attributes == "auto" and head is not None:  # + those its first rows say may describe
            from .features import attribute_candidates

            wanted += attribute_candidates(head, [r for r in roles.values() if r])
        from ._cli_items import wanted_item_columns

        wanted += wanted_item_columns(args, head, roles.values())
        if reads_some_columns(args.input):  # rfm checks the amounts are in one currency
            from ._currency import currency_column

            header = head.columns if head is not None else read_table(args.input, args.sep, args.decimal,
                                                                      rows=1).columns
            wanted.append(currency_column(header, roles.values()))
            if getattr(args, "status", None) is None:  # rfm leaves out the rows of no sale by their status
                from ._order_status import status_column

                wanted.append(status_column(header, roles.values()))
            elif args.status.lower() != "none" and (args.status in header or not getattr(args, "status_of_model",
                                                                                            False)):
                wanted.append(args.status)
    df = read_table(args.input, args.sep, args.decimal, columns=list(dict.fromkeys(c for c in wanted if c)),
                     sheet=args.sheet)
    for note in df.attrs.pop("notes", ()):
        _say(args, f"note: {note}")
    if args.join:
        df = _joined_log(args, df)
    if args.rfm:
        from ._currency import currency_column
        from .features import rfm

        if getattr(args, "currency_of_model", False) and currency_column(df.columns, roles.values()) is None:
            args.currency = None  # predict on a log with no column of currencies: taken as in the model's
        if getattr(args, "status_of_model", False) and args.status not in df.columns:
            args.status = "none"  # predict on a log with no status: every row a purchase
        table = rfm(df, customer=args.customer, date=args.date, invoice=args.invoice, amount=args.amount,
                    quantity=args.quantity, price=args.price, snapshot=args.snapshot, since=args.since,
                    dayfirst=True if args.dayfirst else None, attributes=attributes, mix=args.mix,
                    mix_values=mix_values, returns=args.returns or "drop", currency=args.currency,
                    duplicates=args.duplicates or "keep", status=opt.status_option(args),
                    monetary=opt.monetary_option(args))
        if table.attrs["guessed"]:
            _say(args, f"RFM columns read off their names: {_roles(table.attrs['guessed'])} (set with "
                       "--customer, --date, --invoice, --amount or --quantity and --price)")
        carried = table.attrs["attributes"]
        if carried["auto"] and carried["columns"]:
            _say(args, f"Carried per customer from the log, to describe the segments by: "
                       f"{', '.join(map(str, carried['columns']))} (one value per customer; set with --attributes, "
                       "or --attributes none)")
        if args.mix is not None:
            _say(args, _mix_text(table.attrs["mix"]))
        if "returns" in table.attrs:
            from .features import returns_text

            _say(args, returns_text(table.attrs["returns"]))
        if "currency" in table.attrs:
            from ._currency import currency_text

            _say(args, currency_text(table.attrs["currency"]))
        if table.attrs["status"] and table.attrs["status"]["dropped"]:
            from ._order_status import status_text

            _say(args, status_text(table.attrs["status"]).rstrip(".")
                 + " (set with --status COLUMN, or --status none).")
        elsewhere = table.attrs["cleaning"].get("amount on another row of its invoice")
        if elsewhere:
            _say(args, f"{elsewhere:,} rows without an amount are further lines of an invoice whose amount is on "
                       "another row (an order's total on its first line): counted within it.")
        if table.attrs["duplicates"]["rows"]:
            from .features import duplicates_text

            _say(args, ("note: " if not table.attrs["duplicates"]["dropped"] else "") +
                 duplicates_text(table.attrs["duplicates"]))
        if args.customers:
            table = _joined(args, table)
        clean = table.attrs["cleaning"]
        dates = f" (dates read from {table.attrs['dates from']})" if table.attrs["dates from"] else ""
        _say(args, f"RFM: {clean['rows in']:,} rows → {clean['rows kept']:,} kept → "
                   f"{clean['customers']:,} customers{dates}")
        return (table, df) if with_log else table
    if "features" in args and not args.features and not args.id and (hint := _transaction_log_hint(df, True)):
        raise CLIError(hint)  # segment, sweep: the features would be the log's columns
    if args.id:
        if args.id not in df.columns:
            from ._validation import did_you_mean

            hint = did_you_mean([args.id], df.columns) or ";"
            raise CLIError(f"--id column {args.id!r} not found{hint} available: {', '.join(map(repr, df.columns))}.")
        if df[args.id].duplicated().any():
            raise CLIError(f"--id column {args.id!r} has repeated values; one row per customer is expected.")
        df = df.set_index(args.id)
    return (df, None) if with_log else df


def _joined_log(args, log):
    """``log`` with the --join tables joined to its rows, in order, each said on stderr."""
    from .log_join import join_log, join_text

    for file, column in args.join:
        table = read_table(file)
        for note in table.attrs.pop("notes", ()):
            _say(args, f"note ({file}): {note}")
        try:
            log = join_log(log, table, on=column, name=Path(file).name)
        except ValueError as e:
            raise CLIError(f"--join {file!r}: {e}") from None
        _say(args, join_text(log.attrs["joined"][-1]))
    return log


def _joined(args, table):
    """``table`` with the --customers table's columns joined by the customer id, said on stderr."""
    from .customer_join import join_customers

    customers = read_table(args.customers)
    for note in customers.attrs.pop("notes", ()):
        _say(args, f"note ({args.customers}): {note}")
    try:
        table = join_customers(table, customers, on=args.customers_id)
    except ValueError as e:
        raise CLIError(f"--customers {args.customers!r}: {e}") from None
    j = table.attrs["customers"]
    missing = f"; {j['unmatched']:,} not, their columns left empty" if j["unmatched"] else ""
    _say(args, f"Joined from {args.customers} by {j['on']!r}: {', '.join(map(str, j['columns']))} "
               f"({j['matched']:,} of {j['matched'] + j['unmatched']:,} customers found{missing})")
    return table


def _transaction_log_hint(df, features_option):
    """What to do when a table given without --rfm looks like a transaction log: several
    rows per customer id and a date column (None when it does not)."""
    from ._log_columns import CUSTOMER_ID_NAME, guess_rfm_columns
    from ._profiles import counted

    cust = next((c for c in df.columns if CUSTOMER_ID_NAME.fullmatch(str(c).strip())), None)
    date = next((c for c in df.columns if re.search(r"(?i)date|time", str(c))), None)
    if cust is None or date is None:
        return None
    ids = df[cust].dropna()
    if not ids.duplicated().any():
        return None
    try:
        roles = _roles(guess_rfm_columns(df))
        how = f"Add --rfm (it takes, by their names, {roles})"
    except ValueError:
        how = f"Add --rfm --customer {cust!r} --date {date!r} and --amount COLUMN (or --quantity and --price)"
    return (f"the table has several rows per {cust} ({len(ids):,} rows, {counted(ids.nunique(), 'customer')}) and a "
            f"date column: it looks like a transaction log. {how}"
            + ("; or pass --features to segment its rows as they are." if features_option else "."))


def _roles(columns):
    """"customer 'Customer ID', date 'InvoiceDate', ..." for the columns rfm is to use."""
    return ", ".join(f"{role} {col!r}" for role, col in columns.items() if col is not None)


def cmd_segment(args):
    inputs = [args.input, args.customers, *opt.join_files(args)]  # never overwritten
    out = check_table_output(args.out, inputs, "--out")
    rep = check_output(args.report, inputs, "--report")
    if rep is not None and rep.suffix.lower() not in (".html", ".htm"):
        raise CLIError(f"--report {str(rep)!r}: the report is one HTML file; name it .html (a browser opens it, "
                       "and prints it to PDF).")
    if args.k == "auto":
        _check_sample(args)
    save = check_output(args.save, inputs, "--save")
    rules = check_table_output(args.rules, inputs, "--rules")
    segments = check_table_output(args.segments, inputs, "--segments")
    items_out = check_table_output(args.items, inputs, "--items")
    offers_out = check_table_output(args.offers, inputs, "--offers")
    if not args.rfm and (args.item not in ("auto", "none") or args.item_names):
        raise CLIError("--item and --item-names name columns of a transaction log: they go with --rfm.")
    for option, path in (("--items", items_out), ("--offers", offers_out)):
        if path is not None and (not args.rfm or args.item == "none"):
            raise CLIError(f"{option} is read off what each segment buys, from a transaction log: it goes with "
                           "--rfm (and an --item column, read off its name by default).")
    by_items = args.by == "items"
    if by_items and (not args.rfm or args.item == "none"):
        raise CLIError("--by items finds the segments on what each customer bought, from a transaction log: it goes "
                       "with --rfm (and an --item column, read off its name by default).")
    if by_items and rules is not None:
        raise CLIError("--rules writes threshold rules on the features, and with --by items the segments are found "
                       "on what customers bought, not on thresholds; leave --rules out.")
    if by_items and args.clip is not None:
        raise CLIError("--clip caps the features before they are clustered; with --by items the segments are found "
                       "on what customers bought, so leave --clip out.")
    distinct_outputs(out=out, report=rep, save=save, rules=rules, segments=segments, items=items_out,
                     offers=offers_out)
    plots_dir = _output_folder(args.plots, "--plots")
    df, log = _prepare_customers(args, with_log=True)
    from ._cli_items import log_baskets

    needed_by = [option for option, path in (("--by items", by_items), ("--items", items_out),
                                             ("--offers", offers_out)) if path]
    basket = log_baskets(args, log, lambda msg: _say(args, msg), needed_by)
    del log
    from .report import rendered_figures, report  # after the checks: scikit-learn and matplotlib take seconds
    from .segment import Segmenter

    prog = _Progress(args, "sweep")
    seg = Segmenter(features=opt.features(args.features), transform=args.transform, scale=args.scale, k=args.k,
                    k_range=args.k_range, n_init=args.n_init, device=args.device, random_state=args.seed,
                    progress=prog, describe=args.describe, missing=args.missing, stability=args.stability,
                    sample=args.sample, value=args.value, clip=args.clip, codes=args.codes, **_date_options(args)
                    ).fit(df, baskets=basket if by_items else None)
    prog.close()
    seg = _renamed(seg, args)
    if seg.totals_row is not None:  # a spreadsheet's totals row: no customer, not in the labels
        df = df.drop(index=seg.totals_row)
    labels = _with_features(_every_customer(seg, df), df, _label_columns(args, df, seg))
    if basket is not None:
        from ._cli_items import OFFER_CANDIDATES

        seg = seg.with_items(basket, top=OFFER_CANDIDATES)
    if out is not None:
        write_table(labels, out)
    images = rendered_figures(seg) if plots_dir is not None else None  # drawn once for both
    if rep is not None:
        report(seg, rep, images=images)
    if plots_dir is not None:
        from ._io import atomic_write_bytes

        plots_dir.mkdir(exist_ok=True)
        for name, _, png in images:
            atomic_write_bytes(plots_dir / f"{name}.png", png)
    if save is not None:
        seg.save(save)
    if rules is not None:
        write_table(seg.rules, rules)
    if segments is not None:
        write_table(seg.overview(), segments)
    if items_out is not None:
        write_table(seg.items.set_index("segment"), items_out)
    if offers_out is not None:
        from .baskets import recommend_items

        write_table(recommend_items(basket, seg, seg.items), offers_out)
    if not args.quiet:
        print(seg.summary())
        if out is not None:
            print(f"labels: {out}")
        if rep is not None:
            print(f"report: {rep}")
        if plots_dir is not None:
            print(f"plots:  {plots_dir}/ ({', '.join(f'{name}.png' for name, _, _ in images)})")
        if save is not None:
            print(f"model:  {save} (fastseg predict NEW.csv --model {save})")
        if rules is not None:
            print(f"rules:  {rules}")
        if segments is not None:
            print(f"segments: {segments}")
        if items_out is not None:
            print(f"items:  {items_out}")
        if offers_out is not None:
            print(f"offers: {offers_out}")
    return seg


def _every_customer(seg, df):
    """``seg.labels`` with a row for each row of ``df``, in its order: the customers left out
    for a missing value (--missing drop) without a segment."""
    if seg.not_segmented is None or not len(seg.not_segmented):
        return seg.labels
    from .segmentation import _NOT_SEGMENTED

    full = seg.labels.reindex(seg._index(df))
    full["segment"] = full["segment"].astype("Int64")
    full["name"] = full["name"].fillna(_NOT_SEGMENTED)
    return full


def _label_columns(args, df, seg):
    """Columns written beside the labels: the features and the columns described by segment;
    with --rfm every column of the RFM table (R/F/M values, scores, the classic grid
    segment, the --attributes), as marketing uses them."""
    if args.rfm:
        return list(df.columns)
    source = {new: old for old, new in (seg.prep.dates or {}).items()}  # a date column as it was in the input
    return [c for c in dict.fromkeys(source.get(c, c) for c in [*seg.features, *seg.described]) if c in df.columns]


def _date_options(args, *leave):
    """``snapshot`` and ``dayfirst`` for date columns named as features: with --rfm they
    are the log's, used up by fastseg.rfm."""
    if args.rfm:
        return {}
    given = {"snapshot": args.snapshot, "dayfirst": True if args.dayfirst else None}
    return {k: v for k, v in given.items() if k not in leave}


def _with_features(labels, df, features):
    """``labels`` (one row per row of ``df``, in order, maybe keyed by an id column) with
    the customers' feature values beside them, as they were in the input."""
    import pandas as pd

    return labels.join(pd.DataFrame({f: df[f].array for f in features}, index=labels.index))  # Int64 stays


def _load_model(path):
    """The Segmentation saved at ``path``, or a one-line error saying what is wrong."""
    import pickle

    p = Path(path)
    if not p.is_file():
        what = "is a folder" if p.is_dir() else "does not exist"
        raise CLIError(f"--model {str(p)!r} {what}; write one with fastseg segment INPUT --save {str(p)!r}.")
    from .segmentation import Segmentation

    try:
        return Segmentation.load(p)
    except (pickle.UnpicklingError, EOFError, AttributeError, ImportError, IndexError, TypeError, ValueError) as e:
        raise CLIError(f"could not read {str(p)!r} as a fastseg segmentation ({type(e).__name__}); "
                       "write one with fastseg segment INPUT --save PATH.") from None


def cmd_predict(args):
    inputs = [args.input, args.model, args.customers, *opt.join_files(args)]  # never overwritten
    out = check_table_output(args.out, inputs, "--out")
    moves = check_table_output(args.transitions, inputs, "--transitions")
    offers = check_table_output(args.offers, inputs, "--offers")
    if not args.rfm and (args.item not in ("auto", "none") or args.item_names or offers is not None):
        raise CLIError("--offers, --item and --item-names read what a transaction log's customers bought: they go "
                       "with --rfm.")
    if offers is not None and args.item == "none":
        raise CLIError("--offers needs the products the new log's customers bought: drop --item none.")
    distinct_outputs(out=out, transitions=moves, offers=offers)
    seg = _renamed(_load_model(args.model), args)
    if offers is not None and getattr(seg, "items", None) is None:
        raise CLIError(f"{args.model} holds no products to offer: segment a transaction log with --rfm and a "
                       "product column (--item), then --save, and predict with that model.")
    if args.mix is not None:
        raise CLIError("predict takes --mix from the model (the kinds it was segmented by); leave it out.")
    basis = getattr(seg, "basis", None)
    if basis is not None:  # found on what customers bought: the new log's baskets, over the model's item column
        if not args.rfm or args.item == "none":
            raise CLIError(f"{args.model}'s segments were found on what customers bought: predict from a transaction "
                           "log with --rfm (and its item column).")
        args.by = "items"
        if args.item == "auto":
            args.item = basis.item_column
    joined = [c for c in ((seg.source or {}).get("customers") or {}).get("columns", ()) if c in seg.features]
    if joined and args.rfm and not args.customers:
        raise CLIError(f"{args.model} segments on {', '.join(map(repr, joined))} from a customer table: give it (or a "
                       "newer one) with --customers FILE.")
    if args.rfm and not args.join:
        _check_joined_columns(args, seg)
    mix = (seg.source or {}).get("mix") if args.rfm else None
    args.mix = mix and mix["column"]
    from .features import rfm_choice

    for option, what in (("returns", "Monetary"), ("duplicates", "RFM")):  # computed as at the fit
        fitted, given = rfm_choice(seg.source or {}, option) or "keep", getattr(args, option)
        if args.rfm and given not in (None, fitted):
            raise CLIError(f"--{option} {given}: {args.model}'s {what} was found with --{option} {fitted}, and "
                           f"predict computes it the same way; leave --{option} out.")
        setattr(args, option, fitted if args.rfm else None)
    if args.rfm:
        _spend_as_fitted(args, seg)
    if args.rfm and "status" in (seg.source or {}):  # the rows of no sale left out as at the fit
        fitted = (seg.source["status"] or {}).get("column")
        given = opt.status_option(args)
        if given != "auto" and given != fitted:
            how = f"--status {fitted}" if fitted is not None else "no status rule (--status none)"
            raise CLIError(f"--status {args.status}: {args.model}'s RFM was found with {how}, and predict computes it "
                           "the same way; leave --status out.")
        args.status, args.status_of_model = ("none" if fitted is None else fitted), True
    fitted_currency = (seg.source or {}).get("currency")
    if args.rfm and fitted_currency:  # the new log's rows in the currency the model's Monetary is in
        fitted = fitted_currency["kept"] or "any"
        if args.currency is not None and args.currency.strip().upper() != fitted.upper():
            raise CLIError(f"--currency {args.currency}: {args.model}'s Monetary is in {fitted} (column "
                           f"{fitted_currency['column']!r}), and predict keeps the same rows; leave --currency out.")
        args.currency, args.currency_of_model = fitted, True
    df, log = _prepare_customers(args, with_log=True, mix_values=mix and mix["values"])
    from ._cli_items import log_baskets

    needed_by = [option for option, wanted in (("the model", basis is not None), ("--offers", offers is not None))
                 if wanted]
    basket = log_baskets(args, log, lambda msg: _say(args, msg), needed_by)
    del log
    if not args.rfm and not set(seg.features) <= set(df.columns) and (hint := _transaction_log_hint(df, False)):
        raise CLIError(hint)
    if not args.rfm:  # as segment leaves a spreadsheet's totals row out, so does predict
        from .segment import _without_totals_row
        from .segmentation import totals_row_text

        df, total = _without_totals_row(df, "the input table")
        if total is not None:
            _say(args, totals_row_text(total))
    given = _date_options(args, "dayfirst")  # the text dates are read as at fit time
    if basis is not None:
        given["baskets"] = basket
    labels = _with_features(seg.predict(df, **given), df, _label_columns(args, df, seg))
    table = seg.transitions(labels) if moves is not None else None  # before writing: it may refuse the ids
    far = None  # None in segmentations saved before distance_q99 existed
    if not args.quiet and seg.distance_q99 is not None:
        far = int((seg.distances(df, **given) > seg.distance_q99).sum())
    if out is not None:
        write_table(labels, out)
    if table is not None:
        named = table.rename(index=_segment_label(seg), columns=_segment_label(seg))
        named.index.name, named.columns.name = "segment at fit time", "segment now"
        write_table(named, moves)
    if offers is not None:
        from .baskets import recommend_items

        write_table(recommend_items(basket, labels, seg.items), offers)
    if not args.quiet:
        sizes = labels["segment"].value_counts().reindex(range(seg.k), fill_value=0)
        from ._profiles import counted  # here: the module imports pandas

        print(f"{len(labels):,} customers assigned to the {counted(seg.k, 'segment')} of {args.model}:")
        for s_, n in sizes.items():
            print(f"  {s_}: {seg.titled(s_)} — {counted(n, 'customer')} ({n / max(len(labels), 1):.1%})")
        if labels["segment"].isna().any():
            from .segmentation import _NOT_SEGMENTED

            for name, n in labels.loc[labels["segment"].isna(), "name"].value_counts().items():
                why = "a missing feature value" if name == _NOT_SEGMENTED else name.removeprefix("not segmented: ")
                print(f"  not segmented ({why}): {n:,} customers ({n / len(labels):.1%})")
        if far is not None:
            print(f"{far:,} of {len(labels):,} customers ({far / max(len(labels), 1):.1%}) fit their segment "
                  "worse than 99% of the customers it was made from (about 1% while customers stay alike; "
                  "re-fit when this grows).")
        if table is not None:
            _print_transitions(seg, table)
        if out is not None:
            print(f"labels: {out}")
        if moves is not None:
            print(f"transitions: {moves}")
        if offers is not None:
            print(f"offers: {offers}")
    return labels


def _spend_as_fitted(args, seg):
    """predict's RFM with a Monetary as the model's has one or not (``rfm(monetary=False)``,
    --amount none): taken from the model, and an error for an option that says otherwise."""
    columns = (seg.source or {}).get("columns") or {}
    if "customer" not in columns:
        return  # a model from before the columns were kept, or not from a log
    from ._log_columns import counts_spend

    fitted = counts_spend(columns)
    if fitted and not opt.monetary_option(args):
        raise CLIError(f"--amount none: {args.model}'s segments were found on Monetary too, from the spend column "
                       f"{columns.get('amount') or columns.get('quantity')!r}; give the log with its spend and leave "
                       "--amount out.")
    if not fitted:
        given = [f"--{o} {getattr(args, o)}" for o in ("amount", "quantity", "price") if getattr(args, o)]
        if given:
            raise CLIError(f"{' '.join(given)}: {args.model}'s segments were found on Recency and Frequency alone "
                           "(--amount none), and predict computes them the same way; leave it out.")
        args.amount, args.monetary = None, False


def _segment_label(seg):
    return lambda s: s if isinstance(s, str) else f"{s}: {seg.names[s]}"


def _print_transitions(seg, table):
    """Who stayed, and the largest moves between segments, in a few lines."""
    k = seg.k
    both = table.iloc[:k, :k].to_numpy()
    seen = int(both.sum())
    if seen:
        print(f"{seen:,} customers in both tables; {int(both.trace()) / seen:.1%} stayed in their segment.")
    moves = sorted(((int(both[i, j]), i, j) for i in range(k) for j in range(k) if i != j and both[i, j]),
                   reverse=True)[:3]
    for n, i, j in moves:
        print(f"  {n:,} moved {i}: {seg.names[i]} → {j}: {seg.names[j]} ({n / both[i].sum():.0%} of {i})")
    print(f"  {int(table.loc['new'].sum()):,} new customers; {int(table['gone'].sum()):,} customers of the fit not in this table.")


def _check_joined_columns(args, seg):
    """Refuse a log without the columns the fit's RFM read from tables joined to its log
    (--join), naming those tables, unless the log given has them (joined beforehand)."""
    src = seg.source or {}
    used = set((src.get("columns") or {}).values())
    joins = [j for j in src.get("joined") or () if used & set(j["columns"])]
    if not joins:
        return
    header = set(read_table(args.input, args.sep, args.decimal, rows=1, sheet=args.sheet).columns)
    missing = [c for j in joins for c in j["columns"] if c in used and c not in header]
    if missing:
        tables = " and ".join(f"{j['table']} (by {j['on']!r})" for j in src["joined"])
        raise CLIError(f"{args.model}'s RFM read {', '.join(map(repr, missing))} from tables joined to its log: "
                       f"{tables}; give the newer ones with --join FILE, one each, in that order.")


def _check_sample(args):
    """--sample must hold at least the largest k tried."""
    if args.sample is not None and args.sample < max(args.k_range):
        raise CLIError(f"--sample {args.sample} is fewer customers than the largest k ({max(args.k_range)}) of "
                       "--k-range; raise --sample or lower --k-range.")


def cmd_sweep(args):
    if args.no_refine and args.sample is None:
        raise CLIError("--no-refine goes with --sample N; add --sample or drop --no-refine.")
    _check_sample(args)
    out = check_table_output(args.out, [args.input, args.customers, *opt.join_files(args)], "--out")
    plot = check_plot_output(args.plot, [args.input, args.customers, *opt.join_files(args)], "--plot")
    df = _prepare_customers(args)
    from .segment import Segmenter  # after the checks, as in cmd_segment
    from ._profiles import readable_number
    from .sweep import readable_columns, sweep

    _, _, Z, lines = Segmenter(features=opt.features(args.features), transform=args.transform, scale=args.scale,
                               missing=args.missing, clip=args.clip, codes=args.codes,
                               **_date_options(args)).prepare(df, explain=True)
    for line in lines:
        _say(args, line)
    prog = _Progress(args, "sweep")
    res = sweep(Z, k=[k for k in args.k_range if k <= len(Z)] or args.k_range, n_init=args.n_init,
                random_state=args.seed, device=args.device, progress=prog, sample=args.sample,
                refine=not args.no_refine)
    prog.close()
    frame = res.to_frame()
    if args.stability:
        from .stability import k_stability

        stab = k_stability(Z, res, n_resamples=args.stability, random_state=args.seed, device=args.device)
        frame = frame.join(stab)
    if out is not None:
        write_table(frame, out)
    if plot is not None:
        save_figure(res.plot(stability=stab if args.stability else None), plot)
    if not args.quiet:
        import pandas as pd

        with pd.option_context("display.width", 120, "display.max_columns", 20):
            print(readable_columns(frame.drop(columns=["seconds"])).to_string(
                float_format=lambda v: readable_number(v, 4)))
            print("(↑ higher is better, ↓ lower is better)")
        print(f"best k = {res.best_k}: {res.best_method}; knee: {res.knee.reason}")
        if res.sample is not None:
            how = ("then refined on every customer" if res.sample["refined"]
                   else "every customer labelled by those centres (not refined)")
            print(f"fitted on a sample of {res.sample['rows']:,} of {len(Z):,} customers, {how}")
        if args.stability:
            from .stability import stable_pick

            k, why = stable_pick(res, stab)
            if k is not None:
                print(f"with stability, k = {k}: {why}. fastseg segment --k auto chooses it (stability over "
                      f"{args.stability} refits on subsets of the customers, 0.75 or more: stable)")
            else:
                print(f"with stability: {why}; fastseg segment --k auto keeps best k")
    return res


def _output_folder(path, option):
    """Fail early: a folder to write into, made later if only it is missing (its parent
    must exist)."""
    if path is None:
        return None
    folder = Path(path)
    if folder.exists() and not folder.is_dir():
        raise CLIError(f"{option} {str(folder)!r} exists and is not a folder.")
    if not folder.parent.is_dir():
        raise CLIError(f"the folder {str(folder.parent)!r} does not exist; create it or choose another {option}.")
    return folder


def cmd_demo(args):
    from . import datasets
    from ._cli_items import OFFER_CANDIDATES
    from ._io import atomic_write_bytes
    from .baskets import baskets, recommend_items
    from .features import rfm
    from .report import rendered_figures, report
    from .segment import Segmenter

    outdir = _output_folder(args.out, "--out")
    t0 = time.perf_counter()
    tx = datasets.online_retail(args.customers, seed=args.seed)
    _say(args, f"demo data: {len(tx):,} transaction lines of {args.customers:,} customers (UCI Online Retail schema)")
    roles = dict(customer="CustomerID", date="InvoiceDate", invoice="InvoiceNo", quantity="Quantity", price="UnitPrice")
    table = rfm(tx, **roles, attributes=["Country"])
    prog = _Progress(args, "sweep")
    seg = Segmenter(random_state=args.seed, device=args.device, progress=prog).fit(table)
    prog.close()
    basket = baskets(tx, **roles, item="StockCode", item_names="Description")
    seg = seg.with_items(basket, top=OFFER_CANDIDATES)
    offers = recommend_items(basket, seg, seg.items)
    outdir.mkdir(exist_ok=True)
    write_table(seg.labels.join(table), outdir / "labels.csv")
    write_table(seg.rules, outdir / "rules.csv")
    write_table(seg.overview(), outdir / "segments.csv")
    write_table(seg.items.set_index("segment"), outdir / "items.csv")
    write_table(offers, outdir / "offers.csv")
    images = rendered_figures(seg)  # drawn once: embedded in the report and saved beside it
    report(seg, outdir / "report.html", title="fastseg demo: RFM segments of an online retailer", images=images)
    for name, _, png in images:
        atomic_write_bytes(outdir / f"{name}.png", png)
    if not args.quiet:
        print(seg.summary())
        print(f"\nwritten in {time.perf_counter() - t0:.1f} s to {outdir.resolve()}/:")
        print("  report.html   open it in a browser")
        print("  labels.csv    one row per customer: segment, name, R/F/M values and scores, country")
        print("  segments.csv  one row per segment: name, size, share of the spend, medians, RFM grid and the usual "
              "play, rule, stability, what it buys more often")
        print("  rules.csv     a threshold rule per segment, with its coverage and precision")
        print("  items.csv     the products each segment buys markedly more often than the average customer")
        print("  offers.csv    per customer, up to 3 of its segment's products it has not bought yet: a next offer")
        print("  *.png         the report's figures")
    return seg


def cmd_bench(args):
    if args.k > args.n:
        raise CLIError(f"--k {args.k} is more clusters than --n {args.n} rows; lower --k or raise --n.")
    if args.k_range is not None and max(args.k_range) > args.n:
        raise CLIError(f"--k-range goes to {max(args.k_range)} clusters, more than --n {args.n} rows; lower it "
                       "or raise --n.")
    import numpy as np
    from sklearn import cluster as skc

    from .kmeans import KMeans

    rng = np.random.default_rng(0)
    means = rng.normal(0, 4, (16, args.d))
    X = (means[rng.integers(0, 16, args.n)] + rng.normal(0, 1, (args.n, args.d))).astype(np.float32)
    init = X[rng.choice(args.n, args.k, replace=False)]
    rows = []
    for name, make in (("scikit-learn", lambda: skc.KMeans(args.k, init=init, n_init=1, max_iter=20, tol=0)),
                       ("fastseg", lambda: KMeans(args.k, init=init, max_iter=20, tol=0, device=args.device))):
        make().fit(X[:max(1000, args.k)])  # warm-up
        ts = []
        for _ in range(3):
            t = time.perf_counter()
            km = make().fit(X)
            ts.append((time.perf_counter() - t) / km.n_iter_)
        rows.append((name, float(np.median(ts)) * 1e3))
    from .backend import get_backend

    engine = get_backend(args.device)
    print("engine:", engine.describe())
    if engine.name == "cpu":  # sparse matrices run on the CPU whatever the device
        print("sparse data:", get_backend(args.device, sparse=True).describe())
    print(f"Lloyd iteration, n={args.n:,} d={args.d} k={args.k} float32, median of 3 fits:")
    for name, ms in rows:
        print(f"  {name:13s} {ms:8.2f} ms")
    print(f"  ratio fastseg/scikit-learn: {rows[1][1] / rows[0][1]:.2f}")
    if args.k_range is not None:
        _bench_sweep(X, args.k_range, args.device)


def _bench_sweep(X, ks, device):
    """The elbow an analyst runs: one fastseg sweep against a loop of scikit-learn fits
    (as yellowbrick's KElbowVisualizer does it), each to convergence from its own
    k-means++ seeds; seconds, their ratio, and the inertia each reached."""
    import numpy as np
    from sklearn import cluster as skc

    from .sweep import sweep

    ks = sorted(set(ks))
    sweep(X[:max(1000, ks[-1])], k=ks, random_state=0, metrics=("inertia",), device=device)  # warm-up
    t = time.perf_counter()
    res = sweep(X, k=ks, random_state=0, metrics=("inertia",), device=device)
    ours = time.perf_counter() - t
    t = time.perf_counter()
    theirs = [skc.KMeans(k, n_init=1, random_state=0).fit(X).inertia_ for k in ks]
    loop = time.perf_counter() - t
    rel = np.mean([res.inertia[k] / v for k, v in zip(ks, theirs)])
    print(f"Elbow sweep k = {ks[0]}..{ks[-1]} (one run per k, k-means++ seeds, to convergence):")
    print(f"  scikit-learn, a fit per k  {loop:8.3f} s")
    print(f"  fastseg.sweep              {ours:8.3f} s")
    print(f"  ratio fastseg/scikit-learn: {ours / loop:.2f}; inertia fastseg/scikit-learn, mean over k: {rel:.4f}")


def build_parser():
    ap = argparse.ArgumentParser(
        prog="fastseg",
        description="Customer segmentation with k-means: RFM, the evidence for k, named segments, a report.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=__doc__.split("\n\n")[1],
    )
    from ._version import __version__

    ap.add_argument("--version", action="version", version=f"fastseg {__version__}")
    sub = ap.add_subparsers(dest="command", required=True, metavar="COMMAND")

    d = sub.add_parser("demo", help="segment the shipped sample data; write a report, labels and plots",
                       description="Segment the shipped online-retail sample: RFM → segments → report.")
    d.add_argument("--out", default="fastseg-demo", help="output folder (default: ./fastseg-demo)")
    d.add_argument("--customers", type=opt.positive, default=2000, help="customers in the sample (default: 2000)")
    d.add_argument("--device", default="auto", help="auto, cpu or gpu (default: auto)")
    d.add_argument("--seed", type=int, default=0, help="seed of the sample and of the fits (default: 0)")
    d.add_argument("-q", "--quiet", action="store_true", help="print nothing but errors")
    d.set_defaults(func=cmd_demo)

    s = sub.add_parser("segment", help="segment customers; write labels (CSV) and a report (HTML)",
                       formatter_class=argparse.RawDescriptionHelpFormatter,
                       epilog="examples:\n"
                              "  fastseg segment mall.csv --features Age,Income,Score --k 5 --out labels.csv\n"
                              "  fastseg segment tx.csv --rfm --customer CustomerID --date InvoiceDate \\\n"
                              "      --invoice InvoiceNo --quantity Quantity --price UnitPrice --report r.html\n"
                              "  fastseg segment online_retail_II.xlsx --rfm   # columns read off their names\n"
                              "  fastseg segment tx.csv --rfm --items items.csv  # + what each segment buys more\n"
                              "  fastseg segment tx.csv --rfm --mix Category  # + share of spend per category\n"
                              "  fastseg segment tx.csv --rfm --snapshot 2011-06-30  # the RFM as of that day\n"
                              "  fastseg segment tx.csv --rfm --since 2011-01-01  # the purchases from that day on\n"
                              "  fastseg segment tx.csv --rfm --currency GBP  # a log in several currencies\n"
                              "  fastseg segment tx.csv --rfm --by items  # segments of tastes: on what was bought\n"
                              "  fastseg segment tx.csv --rfm --customers crm.csv  # + the CRM's Age, Gender, ... "
                              "per segment\n"
                              "  fastseg segment customers.csv --rules rules.xlsx   # a threshold rule per segment")
    opt.add_table_options(s)
    s.add_argument("--k", type=opt.k, default="auto", help="number of segments, or auto (default)")
    s.add_argument("--k-range", type=opt.k_range, default=list(range(2, 11)), help="k tried by auto (default 2-10)")
    s.add_argument("--out", help="labels to write (.csv, .tsv, .parquet or .xlsx): id, segment, name, the "
                   "features and the described columns (with --rfm: R/F/M values, scores, RFM grid segment)")
    s.add_argument("--report", help="HTML report to write")
    s.add_argument("--plots", metavar="DIR", help="folder to write the report's figures into as PNG files (elbow, "
                   "sizes, snake, scatter, ...; made if missing)")
    s.add_argument("--save", help="file to keep the fitted segmentation in, for fastseg predict")
    s.add_argument("--stability", type=opt.count, default=10,
                   help="refits on subsets of the customers that measure how stable each segment is; 0 skips "
                        "them (default: 10)")
    s.add_argument("--sample", type=opt.positive, default=None,
                   help="with --k auto: choose k by a sweep fitted on this many random customers (every customer "
                        "labelled and counted), then fit that k on all of them: much faster on a large table "
                        "(default: every customer)")
    s.add_argument("--rules", help="table to write (.csv, .tsv, .parquet or .xlsx) of a threshold rule per segment "
                   "(e.g. 'recency <= 30 and frequency >= 5', and as a pandas query) with its coverage and precision")
    s.add_argument("--segments", help="table to write (.csv, .tsv, .parquet or .xlsx) of one row per segment: "
                   "name, description, customers, share of the spend, feature medians, RFM grid, what stands "
                   "out, rule, stability, and with --rfm what it buys more often")
    s.add_argument("--describe", type=opt.columns_or_auto, default="auto",
                   help="comma-separated columns, not clustered on, to describe each segment by (its mix of "
                        "values, or mean); 'none' for none (default: categorical columns with 2-50 values, "
                        "and with --features the other numeric columns)")
    s.add_argument("--value", type=opt.value, default="auto",
                   help="column of each customer's spend, added up per segment: each segment's share of the "
                        "customers beside its share of the money; 'none' to skip (default: monetary with --rfm, "
                        "else the one column named like spend, e.g. total_spend, Sales, Revenue)")
    s.add_argument("--name", type=opt.segment_name, action="append", metavar="SEGMENT=NAME",
                   help=opt.NAME_HELP + "; kept with --save")
    add_item_options(s)
    s.set_defaults(func=cmd_segment)

    r = sub.add_parser("predict", help="assign new customers to the segments of a saved segmentation",
                       formatter_class=argparse.RawDescriptionHelpFormatter,
                       description="Score a customer table (or, with --rfm, a transaction log) with a "
                                   "segmentation written by fastseg segment --save: the same features, "
                                   "transform and scaling, each customer's nearest segment.",
                       epilog="example:\n"
                              "  fastseg segment jan.csv --k auto --save seg.pkl\n"
                              "  fastseg predict feb.csv --model seg.pkl --out feb-labels.csv\n"
                              "  fastseg predict feb.csv --model seg.pkl --transitions moves.csv\n"
                              "  fastseg segment jan-log.csv --rfm --save seg.pkl   # products kept with the model\n"
                              "  fastseg predict feb-log.csv --rfm --model seg.pkl --offers offers.csv\n\n"
                              "The model file is a pickle: only use files you trust.")
    opt.add_input_options(r)
    r.add_argument("--model", required=True, help="segmentation file written by fastseg segment --save")
    r.add_argument("--out", help="labels to write, .csv, .tsv, .parquet or .xlsx (default: print the segment "
                   "sizes only)")
    r.add_argument("--transitions", help="table to write (.csv, .tsv, .parquet or .xlsx) of how customers moved "
                   "between segments since the fit: counts, segment at fit time × segment now, with new and "
                   "gone customers; the largest moves are printed")
    r.add_argument("--name", type=opt.segment_name, action="append", metavar="SEGMENT=NAME", help=opt.NAME_HELP)
    add_item_options(r, segment=False)
    r.set_defaults(func=cmd_predict)

    w = sub.add_parser("sweep", help="fit every k of a range and print the evidence for k",
                       formatter_class=argparse.RawDescriptionHelpFormatter,
                       epilog="examples:\n  fastseg sweep mall.csv --features Income,Score --k-range 2-12 --plot elbow.png\n"
                              "  fastseg sweep customers.parquet --k-range 2-20 --sample 200000 --no-refine")
    opt.add_table_options(w)
    w.add_argument("--k-range", type=opt.k_range, default=list(range(2, 11)), help="k to fit (default 2-10)")
    w.add_argument("--out", help="per-k results to write (.csv, .tsv, .parquet or .xlsx)")
    w.add_argument("--plot", help="elbow plot to draw (.png, .svg, .pdf or .jpg)")
    w.add_argument("--stability", type=opt.count, default=0,
                   help="also refit every k on this many subsets of the customers and report how stable its "
                        "segments are (columns stability, least_stable, stable_segments; default: 0, skip)")
    w.add_argument("--sample", type=opt.positive, default=None,
                   help="seed and fit every k on this many random customers first, then go on from there on "
                        "all of them: fewer passes over a large table (default: every customer)")
    w.add_argument("--no-refine", action="store_true",
                   help="with --sample: only label every customer by the sample's centres (one pass, fastest; "
                        "the centres are the sample's)")
    w.set_defaults(func=cmd_sweep)

    b = sub.add_parser("bench", help="time fastseg against scikit-learn on this machine",
                       description="Lloyd iterations of fastseg and scikit-learn from the same centres on "
                                   "the same float32 blobs, ms per iteration (median of 3 fits of 20 "
                                   "iterations) and their ratio; then an elbow sweep over --k-range: one "
                                   "fastseg.sweep against a scikit-learn fit per k, seconds and inertia.")
    b.add_argument("--n", type=opt.positive, default=200_000, help="rows (default: 200,000)")
    b.add_argument("--d", type=opt.positive, default=16, help="features (default: 16)")
    b.add_argument("--k", type=opt.positive, default=16, help="clusters (default: 16)")
    b.add_argument("--device", default="auto", help="auto, cpu or gpu (default: auto)")
    b.add_argument("--k-range", type=opt.none_or_k_range, default=range(2, 11),
                   help="k of the elbow sweep, e.g. 2-10 (the default), or 'none' to skip it")
    b.set_defaults(func=cmd_bench)
    return ap


def main(argv=None):
    """Entry point of the ``fastseg`` console script; returns the exit status."""
    ap = build_parser()
    args = ap.parse_args(argv)
    try:
        args.func(args)
    except (CLIError, FileProblem) as e:
        print(f"fastseg: error: {e}", file=sys.stderr)
        return EXIT_USAGE
    except (ValueError, TypeError, KeyError, FileNotFoundError, PermissionError, RuntimeError) as e:
        msg = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        print(f"fastseg: error: {msg}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print("fastseg: interrupted", file=sys.stderr)
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
