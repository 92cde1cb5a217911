"""Which columns of a transaction log hold the customer, the date, the invoice and the
spend, read off their names (``Customer ID``, ``InvoiceDate``, ``order_id``, ``Sales``,
``Quantity`` × ``UnitPrice``), so :func:`fastseg.rfm` and ``fastseg segment --rfm`` need
no column options for a log named as logs usually are."""

from __future__ import annotations

import re

import numpy as np

from ._validation import listed_columns

# CustomerID, customer_unique_id (Olist), CustomerKey (AdventureWorks), Customer Number, client_no,
# visitorid (Retail Rocket's events), user_pseudo_id (GA4's export)
CUSTOMER_ID_NAME = re.compile(r"(?i:(?:customer|client|user|member|account|cust|visitor|shopper|buyer)[\s_.\-]?"
                              r"(?:(?:unique|pseudo)[\s_.\-]?)?"
                              r"(?:id|key|no|nr|number|code))")

# matched against the name in lower case without spaces, "_", "." or "-"
# a customer known by name, where no column holds an id (CUSTOMERNAME in the "sales data sample" of B2B orders)
_CUSTOMER_NAME = re.compile(r"(?:customer|client|buyer)(?:name|fullname)?|(?:company|account)name")
# a customer known by e-mail, where no column holds an id (Shopify's order export: Email)
_CUSTOMER_EMAIL = re.compile(r"(?:customer|client|buyer|user|contact|billing)?e?mail(?:address)?")
_INVOICE = re.compile(r"(?:ecommerce)?(?:sales?)?(?:invoice|order|transaction|trans|txn|receipt|basket|bill|ticket)"
                      r"(?:no|nr|num|number|id|code)?")
# a currency after the name: amount_usd, SalesEUR (a unit in brackets is dropped before: "Amount (INR)")
_CURRENCY_SUFFIX = r"(?:usd|eur|gbp|inr|brl|jpy|cny|rmb|aud|cad|chf|sek|nok|dkk|pln|mxn|zar|try|krw|idr|sgd|hkd|nzd)?"
_AMOUNT = re.compile(r"(?:ecommerce)?(?:total|line|net|gross|order|purchase|transaction|trans|tran|txn|sales?|payment)?"
                     r"(?:amount|revenue|sales|spend|spent|turnover|total|value)(?:paid)?" + _CURRENCY_SUFFIX)
_QUANTITY = re.compile(r"quantity|qty|units|unitssold|items|numitems|quantityordered")
_PRICE = re.compile(r"(?:unit|item|sale|sales)?price(?:each|perunit)?")
# what was bought: a product's code, else its name (description)
_ITEM_CODE = re.compile(r"(?:stock|product|item|article|sku|part)(?:code|id|no|nr|num|number)|sku|asin|upc|ean|gtin")
_ITEM_NAME = re.compile(r"(?:product|item|article)(?:name|description|desc|title)?|description|desc")
# named for a date, or for an event and "at" (Shopify's "Created at", a database's created_at, paid_at)
_DATE = re.compile(r".*(?:date|time|timestamp).*|(?:created|ordered|purchased|placed|paid|processed|fulfilled|"
                   r"cancel+ed|completed|shipped|delivered|closed|refunded)at")
_PREFERRED_DATE = re.compile(r".*(?:invoice|order|transaction|purchase|sale).*|(?:created|placed)at")
# a shop's log of events (view, cart, purchase): REES46's event_type, Retail Rocket's event, Taobao's behavior_type,
# GA4's event_name
EVENT_NAME = re.compile(r"(?:event|action|activity|interaction|behaviou?r)(?:type|name|kind)?")
# a visit to the shop: in a log of events, its purchases are one order
_SESSION = re.compile(r"(?:user|customer|visit)?session(?:id|key)?|visit(?:id)?")
# Shopify's order export names each order in "Name": #1001, #1002 ...
_ORDER_NAME = re.compile(r"#\s?\w[\w-]*")


_UNIT = re.compile(r"\s*(?:\([^()]*\)|\[[^\[\]]*\])\s*$")  # "TransactionAmount (INR)", "Sales [EUR]"


def _key(name):
    return re.sub(r"[\s_.\-]", "", _UNIT.sub("", str(name))).lower()


def first_named(columns, pattern, taken=()):
    """The first of ``columns`` whose name, in lower case without spaces, "_", "." or
    "-", ``pattern`` matches whole, not one of ``taken`` (the RFM roles); None when none
    does."""
    return next((c for c in columns if c not in taken and pattern.fullmatch(_key(c))), None)


def _only(found, role, arg=None):
    """The one column in ``found`` (None when it is empty); several is an error naming
    them and ``arg`` (default ``role``), the argument to set."""
    if len(found) > 1:
        arg = arg or role
        raise ValueError(f"several columns could be the {role} ({', '.join(map(repr, found))}); name it with "
                         f"{arg}= (--{arg.replace('_', '-')}).")
    return found[0] if found else None


def _one(df, role, pattern, taken, arg=None):
    """The one column whose name matches ``pattern`` (None when none does; see :func:`_only`)."""
    return _only([c for c in df.columns if c not in taken and pattern.fullmatch(_key(c))], role, arg)


_SAMPLE_ROWS = 200_000  # rows the tie-breaks between like-named columns read


def _customer(df, taken, invoice):
    """The customer column: named like a customer's id, else like a customer's name
    (``Customer``, ``CUSTOMERNAME``). Between several, one that repeats across invoices
    beats one that is new on every invoice: Olist's order table names the customer anew
    on each order (``customer_id``) beside the lasting ``customer_unique_id``."""
    found = [c for c in df.columns if c not in taken and CUSTOMER_ID_NAME.fullmatch(_key(c))]
    if not found:
        return _one(df, "customer", _CUSTOMER_EMAIL, taken) or _one(df, "customer", _CUSTOMER_NAME, taken)
    if len(found) > 1 and invoice is not None and len(df):
        head = df.head(_SAMPLE_ROWS)
        lasting = [c for c in found if (head.groupby(c, sort=False)[invoice].nunique() > 1).any()]
        if 0 < len(lasting) < len(found):
            found = lasting
    return _only(found, "customer")


def _first_of_dates(df, found):
    """Among date columns all named for the purchase (``order_purchase_timestamp``,
    ``order_delivered_customer_date``, ``order_estimated_delivery_date``), the one no
    later than each other on 99% of the rows where both are known: the purchase comes
    before what follows it. Columns that agree on every row (``OrderDate`` beside
    ``OrderDateKey`` = 20110101) are one date: the first written as dates is taken.
    ``found`` unchanged when no one column is first."""
    import pandas as pd  # here: the command line reads names off this module before it loads pandas

    from ._dates import as_datetime

    head = df.head(_SAMPLE_ROWS // 10)  # parsing dates is the slow part
    days = {}
    for c in found:
        try:
            days[c] = as_datetime(head[c], c)[0].to_numpy(dtype="datetime64[ns]")
        except (TypeError, ValueError):
            return found

    def share(a, b, same):
        known = ~(np.isnat(days[a]) | np.isnat(days[b]))
        if not known.any():
            return 0.0
        x, y = days[a][known], days[b][known]
        return float(np.mean(x == y if same else x <= y))

    first = [c for c in found if all(share(c, o, False) >= 0.99 for o in found if o != c)]
    if len(first) > 1 and all(share(first[0], o, True) == 1.0 for o in first[1:]):
        # one date: the column written as dates before one of numbers (OrderDate, not OrderDateKey)
        first = sorted(first, key=lambda c: pd.api.types.is_numeric_dtype(df[c]))[:1]
    return first if len(first) == 1 else found


def _date(df, taken):
    """The date column: named like one and, where the table has rows, holding dates; an
    invoice or order date before others (a ship date, a birth date); between several such,
    the first to happen (:func:`_first_of_dates`)."""
    from ._dates import looks_like_dates

    found = [c for c in df.columns if c not in taken and _DATE.fullmatch(_key(c))]
    if len(df):
        found = [c for c in found if looks_like_dates(df[c])] or found
    if len(found) > 1:  # "TransactionTime" beside "TransactionDate" is its time of day; GA4's event_timestamp
        keys = {_key(c) for c in found}  # beside its event_date, the same moment in UTC
        found = [c for c in found if not ("time" in _key(c) and re.sub("time(?:stamp)?", "date", _key(c)) in keys)]
    if len(found) > 1:
        found = [c for c in found if _PREFERRED_DATE.fullmatch(_key(c))] or found
        if len(found) > 1 and len(df) and all(_PREFERRED_DATE.fullmatch(_key(c)) for c in found):
            found = _first_of_dates(df, found)
    return _only(found, "date")


def _order_name(df, taken):
    """A column named "Name" whose values are order names (``#1001``), as Shopify's order
    export names its orders; None when there is none."""
    for c in df.columns:
        if c not in taken and _key(c) in ("name", "ordername"):
            head = df[c].head(1000).dropna().astype(str)
            if len(head) and head.str.fullmatch(_ORDER_NAME.pattern).all():
                return c
    return None


def counts_spend(columns):
    """Whether the RFM columns by role ``columns`` (an RFM table's ``attrs["columns"]``)
    name a spend: False for ``rfm(monetary=False)``, Recency and Frequency alone."""
    return bool({"amount", "quantity", "price"} & set(columns))


def _session(df, taken):
    """In a log of events (a column named like ``event_type``), the column of sessions
    (``user_session``, ``session_id``): a session's purchases are one order; None
    elsewhere."""
    if first_named(df.columns, EVENT_NAME, taken) is None:
        return None
    return _one(df, "invoice", _SESSION, taken)


def needs_guess(customer=None, date=None, amount=None, quantity=None, price=None, spend=True, **_):
    """Whether a role rfm cannot do without (customer, date, and with ``spend`` the spend)
    is not given."""
    return customer is None or date is None or (spend and amount is None and (quantity is None or price is None))


def guess_rfm_columns(df, spend=True, **given):
    """The :func:`fastseg.rfm` column arguments for a transaction log, read off its names.

    Roles already ``given`` (not None) are kept, and their columns are not guessed for
    another role. The customer is the column named like an id of a customer, client,
    user, member or account (``CustomerID``, ``customer_id``, ``Customer ID``,
    ``CustomerKey``, ``customer_unique_id``; between several, one that repeats across
    invoices), else an e-mail (``Email``), else a customer's name; the date a column named
    with "date" or "time", or for an event and "at" (``created_at``, Shopify's ``Created
    at``), that holds dates (an invoice or order date before others, and among those the
    first to happen); the invoice ``Invoice``, ``InvoiceNo``, ``order_id``,
    ``SalesOrderNumber``, ``TransactionID`` ..., or a ``Name`` of order names (``#1001``),
    or in a log of events (``event_type``) its sessions (``user_session``);
    the spend an amount column (``Amount``, ``Sales``, ``Revenue``, ``TotalAmount``,
    ``LineTotal``, ``payment_value`` ...), else ``quantity`` × ``price``
    (``Quantity``/``Qty`` and ``Price``/``UnitPrice``), else a price alone (one item a
    row).

    Parameters
    ----------
    df : pandas.DataFrame
        The log, or its first rows (dates are told by their values where there are any).
    spend : bool, default=True
        False: the spend is not looked for (a log without one: ``rfm(monetary=False)``).
    **given : str or None
        ``customer``, ``date``, ``invoice``, ``amount``, ``quantity``, ``price``.

    Returns
    -------
    dict
        ``customer``, ``date``, ``invoice`` (None when no column is named like one:
        Frequency then counts rows), and ``amount`` or ``quantity`` and ``price``.

    Raises
    ------
    ValueError
        When no column, or more than one, could be the customer, the date or the spend:
        the message names the candidates and the argument to set.
    """
    out = {role: given.get(role) for role in ("customer", "date", "invoice", "amount", "quantity", "price")}
    taken = {c for c in out.values() if c is not None}

    def fill(role, find):
        if out[role] is None:
            out[role] = find()
            if out[role] is not None:
                taken.add(out[role])

    fill("invoice", lambda: _one(df, "invoice", _INVOICE, taken) or _order_name(df, taken) or _session(df, taken))
    fill("customer", lambda: _customer(df, taken, out["invoice"]))
    fill("date", lambda: _date(df, taken))
    if spend and out["amount"] is None and (out["quantity"] is None or out["price"] is None):
        parts = {role: out[role] for role in ("quantity", "price")}
        out["amount"] = _one(df, "amount", _AMOUNT, taken) if not any(parts.values()) else None
        if out["amount"] is None:
            fill("quantity", lambda: _one(df, "quantity", _QUANTITY, taken))
            fill("price", lambda: _one(df, "price", _PRICE, taken))
            if out["quantity"] is None and out["price"] is not None and parts["price"] is None:
                out["amount"], out["price"] = out["price"], None  # a price per row: one item a row
    shown = listed_columns(df.columns)
    missing = [role for role in ("customer", "date") if out[role] is None]
    if spend and out["amount"] is None and (out["quantity"] is None or out["price"] is None):
        missing.append("spend")
    if missing:
        how = {"customer": "customer= (--customer)", "date": "date= (--date)",
               "spend": "amount= (--amount), or quantity= and price= (--quantity, --price)"}
        apart = (" Where the amounts are in another file (an order's payments or items, as Olist keeps them), join "
                 "it to the log first (fastseg.join_log, --join FILE); where the log has no spend at all (a log of "
                 "visits or events), give monetary=False (--amount none) for Recency and Frequency alone."
                 if "spend" in missing else "")
        raise ValueError(f"no column is named like the {' or the '.join(missing)} of a transaction log; name it "
                         f"with {'; '.join(how[m] for m in missing)}. Columns: {shown}.{apart}")
    if out["amount"] is not None:
        out["quantity"] = out["price"] = None
    return {role: col for role, col in out.items() if col is not None or role == "invoice"}


def guess_item_columns(df, taken=(), item=None, names=None):
    """The column naming what each row of a log bought, read off its name, and the
    column of readable names for it.

    The item is a product's code (``StockCode``, ``SKU``, ``ProductID``, ``item_id``)
    or, without one, its name (``Product``, ``Description``, ``item_name``); the names
    column is a name column beside a code. Columns in ``taken`` (the RFM roles) are
    not considered; a given ``item`` or ``names`` is kept.

    Returns
    -------
    (item, names) : str or None each
        None when no column is named like one.

    Raises
    ------
    ValueError
        When several columns could be the item (or its names): it names them and the
        argument to set.
    """
    taken = {c for c in taken if c is not None} | {c for c in (item, names) if c is not None}
    if item is None:
        item = _one(df, "item", _ITEM_CODE, taken)
        if item is not None:
            taken.add(item)
    if names is None and (item is None or _ITEM_CODE.fullmatch(_key(item))):
        names = _one(df, "item names", _ITEM_NAME, taken, arg="item_names")
    if item is None:
        item, names = names, None
    return item, names
