"""What each segment buys, on the command line (``segment --rfm``, ``predict --rfm``):
the product options, the columns of the log they need read, and its
:func:`fastseg.baskets`."""

from __future__ import annotations

from ._cli_options import monetary_option, status_option

_SKIP = ("auto", "none")
_TABLE = "table to write (.csv, .tsv, .parquet or .xlsx) of "
OFFER_CANDIDATES = 20  # items kept per segment (--items, --save) that offers are drawn from, best first


def add_item_options(p, segment=True):
    """--item, --item-names and --offers, and on the segment command (``segment``) --items."""
    g = p.add_argument_group("What each segment buys (with --rfm)")
    does = ("the report lists the items each segment buys markedly more often than the average customer"
            if segment else "what each customer bought, which --offers does not offer again")
    g.add_argument("--item", default="auto", metavar="COLUMN",
                   help=f"column of the log naming what was bought: {does}; 'none' to skip (default: the column "
                        "named like a product code or name, e.g. StockCode, SKU, Product, if there is one)")
    g.add_argument("--item-names", metavar="COLUMN",
                   help="column of readable names for the items (default: one named like a description, e.g. "
                        "Description, beside a product code)")
    if segment:
        g.add_argument("--by", choices=("features", "items"), default="features",
                       help="what the segments are found on: the features (default), or the items each customer "
                            "bought (bought or not, compared by cosine: segments of tastes), the features then "
                            "describing and naming them; fastseg predict reads the new log's items the same way")
        g.add_argument("--exclude-items", metavar="CODES",
                       help="comma-separated values of the item column that are no product to offer, left out of "
                            "what each segment buys (the UCI log's POST,DOT,M,BANK CHARGES,AMAZONFEE); their spend "
                            "still counts in RFM")
    source = ("" if segment else " (the products of the segmentation's log, kept with --save; a customer of "
              "the new log who bought them all gets none)")
    g.add_argument("--offers", metavar="FILE",
                   help=f"{_TABLE}up to 3 products per customer that its segment buys markedly more often and it "
                        f"has not bought yet, best first: a next offer per customer for a campaign{source}")
    if segment:
        g.add_argument("--items", metavar="FILE",
                       help=f"{_TABLE}the items that stand out per segment (up to {OFFER_CANDIDATES}, best first; the "
                            "report shows 5): buyers, share of the segment and of all customers, index, share of "
                            "its spend, q")


def wants_items(args):
    """Whether the command reads what was bought: segment --rfm does unless --item none;
    predict --rfm for --offers, or for a model whose segments were found on the items
    (``args.by == "items"``, set by predict from the model)."""
    if not getattr(args, "rfm", False) or getattr(args, "item", "none") == "none":
        return False
    return args.command == "segment" or args.offers is not None or getattr(args, "by", None) == "items"


def wanted_item_columns(args, head, taken):
    """The columns of the log the item options need read: those named, or with --item
    auto those ``head`` (the log's first rows, or None when not read) names like items."""
    if not wants_items(args):
        return []
    item, names = args.item, args.item_names
    named = [c for c in (item, names) if c is not None and c not in _SKIP]
    if item != "auto" or head is None:
        return named
    from ._log_columns import guess_item_columns

    try:
        return [c for c in guess_item_columns(head, taken, None, names) if c is not None]
    except ValueError:
        return named  # several candidates: log_baskets says so


def log_baskets(args, log, say, needed_by=()):
    """The :func:`fastseg.baskets` of the log, or None (no --rfm, --item none, or --item
    auto and no column named like an item; when several are, ``say`` tells how to name
    one). Read before the fit, so a wrong --item stops the command at once. ``needed_by``:
    the output options given that need it, an error when there is none."""
    b = _log_baskets(args, log, say)
    if b is None and needed_by:
        from .cli import CLIError

        raise CLIError(f"{needed_by[0]}: no column of the log is named like the item bought (StockCode, SKU, "
                       "Product, Description ...); name it with --item.")
    return b


def _log_baskets(args, log, say):
    if log is None or not wants_items(args):
        return None
    from ._log_columns import guess_item_columns
    from .baskets import baskets

    roles = {r: getattr(args, r) for r in ("customer", "date", "invoice", "amount", "quantity", "price")}
    item, names = args.item, args.item_names
    if item == "auto":
        try:  # the RFM columns, even guessed ones, are never named like a product
            item, names = guess_item_columns(log, [c for c in roles.values() if c], None, names)
        except ValueError as e:  # several columns could be the item
            say(f"note: {e} Then the report shows what each segment buys.")
            return None
        if item is None:
            return None
        guessed = [f"item {item!r}"] + ([f"item names {names!r}"] if names and not args.item_names else [])
        say(f"What each segment buys, from {', '.join(guessed)} (set with --item and --item-names, or --item none)")
    given = getattr(args, "exclude_items", None)
    exclude = [v.strip() for v in given.split(",") if v.strip()] if given else None
    spent = monetary_option(args)  # without a spend (--amount none), an item's count of purchases
    b = baskets(log, **roles, item=item, item_names=names, exclude=exclude, dayfirst=True if args.dayfirst else None,
                currency=getattr(args, "currency", None), snapshot=getattr(args, "snapshot", None),
                since=getattr(args, "since", None), duplicates=getattr(args, "duplicates", None) or "keep",
                status=status_option(args), monetary=spent, values="spend" if spent else "lines")
    if exclude and len(b.attrs["excluded"]) < len(exclude):
        missing = [v for v in exclude if v not in set(map(str, b.attrs["excluded"]))]
        say(f"note: --exclude-items {', '.join(map(repr, missing))} not found in column {b.attrs['columns']['item']!r}")
    return b
