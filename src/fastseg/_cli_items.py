"""``fastseg segment --rfm``'s view of what each segment buys: the item options, the
columns of the log they need read, and the :func:`fastseg.segment_items` table."""

from __future__ import annotations

_SKIP = ("auto", "none")


def add_item_options(p):
    """--item, --item-names and --items on the segment command."""
    g = p.add_argument_group("What each segment buys (with --rfm)")
    g.add_argument("--item", default="auto", metavar="COLUMN",
                   help="column of the log naming what was bought: the report lists the items each segment buys "
                        "markedly more often than the average customer; 'none' to skip (default: the column "
                        "named like a product code or name, e.g. StockCode, SKU, Product, if there is one)")
    g.add_argument("--item-names", metavar="COLUMN", help="column of readable names for the items (default: one named like a "
                   "description, e.g. Description, beside a product code)")
    g.add_argument("--offers", metavar="FILE", help="table to write (.csv, .tsv, .parquet or .xlsx) of up to 3 "
                   "products per customer that its segment buys markedly more often and it has not bought yet, best "
                   "first: a next offer per customer for a campaign")
    g.add_argument("--items", metavar="FILE", help="table to write (.csv, .tsv, .parquet or .xlsx) of the items that stand out per "
                   "segment: buyers, share of the segment and of all customers, index, share of its spend, q")


def wanted_item_columns(args, head, taken):
    """The columns of the log the item options need read: those named, or with --item
    auto those ``head`` (the log's first rows, or None when not read) names like items."""
    item, names = getattr(args, "item", "none"), getattr(args, "item_names", None)
    if not args.rfm or item == "none":
        return []
    named = [c for c in (item, names) if c is not None and c not in _SKIP]
    if item != "auto" or head is None:
        return named
    from ._log_columns import guess_item_columns

    try:
        return [c for c in guess_item_columns(head, taken, None, names) if c is not None]
    except ValueError:
        return named  # several candidates: items_by_segment says so


def log_baskets(args, log, say):
    """The :func:`fastseg.baskets` of the log, or None (no --rfm, --item none, or --item
    auto and no column named like an item; when several are, ``say`` tells how to name
    one). Read before the fit, so a wrong --item stops the command at once."""
    item = getattr(args, "item", "none")
    if log is None or item == "none":
        return None
    from ._log_columns import guess_item_columns
    from .baskets import baskets

    roles = {r: getattr(args, r) for r in ("customer", "date", "invoice", "amount", "quantity", "price")}
    names = args.item_names
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
    return baskets(log, **roles, item=item, item_names=names, dayfirst=True if args.dayfirst else None)


OFFER_CANDIDATES = 20  # items per segment offers are drawn from, most distinctive first
