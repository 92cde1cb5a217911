"""Customer features: RFM from a transaction log, and the columns of a log that describe
its customers. The readers of dates, text amounts and identifier columns it builds on live
in ``_dates``, ``_amounts`` and ``_column_roles``; their public functions are here too."""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
import pandas as pd

from ._amounts import _numeric, amounts_as_numbers
from ._column_roles import identifier_columns, looks_like_code, totals_row
from ._currency import check_currency_choice, currency_column, currency_rule
from ._dates import _DAY_NS, _snapshot_ns, as_datetime, as_ns, dates_as_days, day_text, looks_like_dates
from ._log_columns import guess_rfm_columns, needs_guess
from .log_join import check_joined_roles
from ._order_status import is_status_column, read_status, status_column, status_rule
from ._profiles import MAX_LEVELS, counted, readable_number
from ._stray_dates import refuse_stray_first_dates, refuse_stray_last_dates
from ._validation import did_you_mean, listed_columns, require_frame
from ._value_share import looks_like_spend, spend_column

__all__ = ["rfm", "rfm_segment", "RFM_SEGMENTS", "RFM_ACTIONS", "identifier_columns", "guess_rfm_columns",
           "looks_like_code", "amounts_as_numbers", "looks_like_dates", "looks_like_spend", "spend_column", "totals_row",
           "dates_as_days"]

# The usual RFM segment grid, on (R score, F score). First match wins.
RFM_SEGMENTS = [
    ("Champions", (5, 5), (4, 5)),
    ("Loyal", (3, 4), (4, 5)),
    ("Potential Loyalists", (4, 5), (2, 3)),
    ("New Customers", (5, 5), (1, 1)),
    ("Promising", (4, 4), (1, 1)),
    ("Need Attention", (3, 3), (3, 3)),
    ("About to Sleep", (3, 3), (1, 2)),
    ("Can't Lose Them", (1, 2), (5, 5)),
    ("At Risk", (1, 2), (3, 4)),
    ("Hibernating", (1, 2), (1, 2)),
]

# What marketing usually does with each grid segment: a starting point for a campaign
# brief, shown beside a cluster whose customers mostly fall in that segment.
RFM_ACTIONS = {
    "Champions": "keep them close: early access, loyalty rewards, ask for reviews and referrals; discounts "
                 "are not what brings them back",
    "Loyal": "sell up and across: higher-value lines, bundles, a place in the loyalty programme",
    "Potential Loyalists": "build the habit: recommendations from what they bought, a loyalty sign-up, a "
                           "reason to come back soon",
    "New Customers": "welcome them: onboarding, help with a first use, an offer on the second purchase",
    "Promising": "show them the range: best sellers, a sample or trial, a modest offer to buy again",
    "Need Attention": "re-engage before they slip: a time-limited offer on what they buy most",
    "About to Sleep": "reconnect: popular products, useful content, a small incentive to return",
    "Can't Lose Them": "win them back in person: direct contact, a strong offer, ask what changed; they "
                       "were among the best",
    "At Risk": "win them back: personal reminders, renewals, offers on what they used to buy",
    "Hibernating": "reactivate cheaply: occasional broad offers and new products; little spend per customer",
}

# The columns rfm() derives; a table that has them all came from it.
RFM_COLUMNS = ("recency", "frequency", "monetary", "R", "F", "M", "RFM", "score", "rfm_segment")
_OWN_COLUMNS = (*RFM_COLUMNS, "tenure")  # every column rfm writes before the attributes


def rfm_segment(r, f):
    """Name of the RFM segment for R and F scores (1–5 each), element-wise.

    Parameters
    ----------
    r, f : array-like of int

    Returns
    -------
    ndarray of str
    """
    r = np.asarray(r)
    f = np.asarray(f)
    out = np.full(r.shape, "Others", dtype=object)
    done = np.zeros(r.shape, dtype=bool)
    for name, (r_lo, r_hi), (f_lo, f_hi) in RFM_SEGMENTS:
        hit = ~done & (r >= r_lo) & (r <= r_hi) & (f >= f_lo) & (f <= f_hi)
        out[hit] = name
        done |= hit
    return out


def _score(values, higher_is_better=True):
    """1–5 by rank (quintiles of the average rank): ties share a score, never crash."""
    v = pd.Series(np.asarray(values, dtype=float))
    pct = v.rank(method="average", pct=True, ascending=higher_is_better).to_numpy()
    return np.clip(np.ceil(5 * pct - 1e-9), 1, 5).astype(np.int8)


def _require(df, cols):
    missing = [c for c in cols if c is not None and c not in df.columns]
    if missing:
        raise ValueError(
            f"column(s) {', '.join(repr(str(c)) for c in missing)} not found in the transactions"
            f"{did_you_mean(missing, df.columns) or ';'} "
            f"available: {listed_columns(df.columns)}."
        )


def no_customer(ids):
    """Which rows of a customer id column name no customer: missing, or text that is
    empty or only spaces (an export that wrote a blank for an anonymous sale)."""
    out = ids.isna().to_numpy()
    if isinstance(ids.dtype, pd.CategoricalDtype):
        blank = np.asarray(ids.cat.categories.astype(str).str.strip() == "", dtype=bool)
        if blank.any():
            codes = ids.cat.codes.to_numpy()
            out = out | ((codes >= 0) & blank[np.maximum(codes, 0)])
    elif pd.api.types.is_string_dtype(ids) or pd.api.types.is_object_dtype(ids):
        try:
            blank = ids.str.strip().eq("")  # missing and non-text values (ids as numbers) give False
        except AttributeError:  # an object column without one text value
            return out
        out = out | np.asarray(blank.fillna(False), dtype=bool)
    return out


def _cancellation(ids):
    """Which invoice ids (str Series or Index) are UCI cancellations: "C" then a digit."""
    out = np.array(ids.str.startswith("C"), dtype=bool)  # fast, and few rows are
    if out.any():
        out[out] = np.array(ids[out].str.match(r"C\d"), dtype=bool)
    return out


def _index_as_columns(df):
    """``df`` with its named index levels as columns too (a log indexed by its dates,
    ``set_index("InvoiceDate")``, or by its customers), so rfm finds them by name as it
    finds a column; a level named as a column already is left where it is."""
    names = [n for n in df.index.names if n is not None and n not in df.columns]
    if not names or len(set(names)) < len(names):
        return df
    return df.reset_index(level=names)


def rfm(transactions, *, customer=None, date=None, invoice=None, amount=None, quantity=None, price=None, snapshot=None,
        dayfirst=None, attributes="auto", mix=None, mix_values=None, returns="drop", currency=None, since=None,
        duplicates="keep", status="auto", monetary=True):
    """Recency, Frequency and Monetary value per customer, with scores and segments.

    Cleaning, in this order, each rule counting the rows it drops (the report is in
    ``result.attrs["cleaning"]``):

    0. ``not a purchase event`` — in a shop's log of events (see ``status``), the
       views, carts and other events that are not a purchase: no transactions, so
       before any other rule (and their dates are never read);
    1. ``missing customer`` — no customer id (missing, or blank text);
    2. ``missing or unreadable date`` (a date before 1678 or after 2261, a placeholder
       such as 9999-12-31, is none);
    3. ``before since`` and ``on or after the snapshot`` — with ``since``, and with a
       ``snapshot`` inside the log;
    4. ``in another currency`` — with ``currency`` given and a column of currencies
       (see ``currency``);
    5. ``cancelled invoice`` — invoice id of "C" and digits (UCI convention: C536379;
       an order id such as "CA-2016-152156" is not one);
    6. ``status of no sale`` — with a column of order status (see ``status``), rows
       whose status says the sale did not happen: canceled, cancelled, unavailable,
       failed, declined, rejected, voided, refunded, returned, chargeback, abandoned (a
       partial refund or return is kept);
    7. ``missing or unreadable quantity`` / ``price`` (or ``amount``; only when there
       are such rows: a blank cell, or text such as "-" or "#VALUE!"; a blank amount on
       a row whose invoice has an amount on another row counts as ``amount on another
       row of its invoice``: Shopify's order export gives the order's Total on its
       first line alone), then
       ``non-positive quantity`` / ``non-positive price`` (or ``non-positive amount``),
       which also removes returns and adjustments;
    8. ``duplicate row`` — with ``duplicates="drop"``.

    Parameters
    ----------
    transactions : pandas.DataFrame
        One row per transaction line. A named index level (a log indexed by its dates)
        is read as a column of that name.
    customer, date : str, optional
        Columns holding the customer id and the date (parsed if not datetime).
    invoice : str, optional
        Invoice id column: Frequency counts distinct invoices; without it, rows.
    amount : str, optional
        Spend per row. Otherwise give ``quantity`` and ``price``: spend is their product.

        When the customer, the date or the spend is not given, the missing ones and
        the invoice are read off the column names (:func:`guess_rfm_columns`:
        ``Customer ID``, ``InvoiceDate``, ``Invoice``, ``Quantity`` × ``Price``, ...);
        ``result.attrs["guessed"]`` says which. Give all three and nothing is guessed.
    monetary : bool, default=True
        False: the log has no spend (Taobao's or Retail Rocket's events, a gym's
        visits): Recency and Frequency alone, no spend column is looked for and no
        spend rule applies (nor the currency rule: no amounts are added up); the result
        has no ``monetary`` or ``M``, and ``RFM`` and ``score`` are made of R and F.
        ``amount``, ``quantity``, ``price``, ``mix``, ``currency`` and ``returns="net"``
        need a spend, so they cannot be given with it.
    snapshot : date-like, optional
        The day Recency is measured from; default the last date + 1 day. A snapshot
        inside the log gives the RFM as of that day: the rows dated at or after it are
        dropped (the rule ``on or after the snapshot``), as for a model checked against
        what the customers did next. Without it, a log whose last few rows (0.1% or
        fewer) come a year or more after every other, a mistyped year, is an error that
        gives the snapshot to use instead.
    since : date-like, optional
        The first day of the purchases to count: rows dated before it are dropped (the
        rule ``before since``), for the RFM of a window (the last 12 months) or to leave
        out dates that cannot be right. Without it, a log whose first few rows (0.1% or
        fewer), or any on a day written for a date not known (1900-01-01, 1970-01-01,
        Excel's 1899-12-30), come a year or more before every other is an error that
        gives the ``since`` to use; ``since`` set to the first of them keeps them.
    dayfirst : bool, optional
        How dates given as text are read: ``True`` 23/11/2010, ``False`` 11/23/2010.
        By default month first, unless reading them day first leaves fewer dates
        unreadable (a log whose dates are all ambiguous, every day <= 12, is read month
        first: say ``dayfirst=True`` for those). Year-first dates (2010-11-23) are
        never ambiguous and are read as such either way. Dates written in more than
        one form (2010-11-23 beside 2010-11-23 10:15) are all read, each in the
        column's order.
    attributes : "auto", list of str or None, default="auto"
        Columns of the log that describe the customer rather than the purchase
        (``Country``, a store, a channel), carried into the result: per customer the
        value on most of its kept rows (a tie goes to the value on its earlier row;
        missing values are not counted). :class:`fastseg.Segmenter` then shows
        how each segment is made up of them. "auto": every column not used for RFM
        that holds text, categories, True/False or codes (``Region``, see
        :func:`looks_like_code`), with 2 to 50 values, and one value per customer
        for at least 95% of the customers with two rows or more
        (:data:`ATTRIBUTE_CONSTANCY`): ``Country`` is carried, a product's
        ``StockCode`` or ``Description`` is not. ``attrs["attributes"]`` says which.
        None: none.
    mix : str, optional
        A column of the log that sorts purchases into a few kinds (a product category,
        a department, a channel): per customer the share of its spend in each of the
        :data:`MIX_TOP` kinds with the most spend over all customers, as columns
        ``"<kind> share"`` (``"<column> <kind> share"`` for numbers), and the rest of
        its spend (other kinds, a missing kind) in ``"other share"`` when any customer
        has some. :class:`fastseg.Segmenter` then segments on them beside R, F and M,
        so segments differ by what customers buy as well as by how recently, often
        and much. ``attrs["mix"]`` holds ``column``, ``values``, ``columns``, ``kinds``
        (how many the column holds) and ``covered`` (the share of all spend in the
        named kinds: low for a column of products, which ``baskets`` is for).
    mix_values : list, optional
        The kinds to give columns to, instead of the most spent on; the rest go to
        ``"other share"``, always written. To segment a newer log by a saved
        segmentation, pass the ``values`` of its ``source["mix"]``, so the columns match.
    returns : {"drop", "net"}, default="drop"
        What the rows of goods sent back do. "drop": nothing; cleaning drops them
        with the cancellations and non-positive quantities, so a purchase later
        cancelled still counts in full. "net": their value (a negative quantity at
        a positive price, or a negative amount, on a row with a customer and a date,
        cancelled invoice or not) is taken off the customer's ``monetary``, floored at
        0 for a customer who sent back more than the log shows bought (an order from
        before the log began). Recency, Frequency, the ``mix`` shares and
        :func:`fastseg.baskets` still count purchases only. ``attrs["returns"]``
        says how many rows and how much were netted, and for how many customers.
    currency : str, optional
        For a log with a column of currencies (named like ``Currency``,
        ``currency_code``, ``ccy``, read off its name): the currency whose rows to keep
        ("GBP", as the column writes it, case and spaces aside); the rows in others are
        dropped by the rule ``in another currency``, as are rows with no currency in a
        log of several (in one, they are taken as in it). Without it, a column holding two currencies or more on the
        rows with a customer and a date is an error, since Monetary would add pounds
        to euros; "any" keeps every row, for amounts already converted to one
        currency. ``attrs["currency"]``: the ``column``, the currency ``kept`` (None for
        "any") and the ``rows`` in each. (Amounts written with their currency, "£5"
        beside "$5", are an error whatever this says: convert them first.)
    duplicates : {"keep", "drop"}, default="keep"
        What rows equal to an earlier one in every column of the log do (pandas'
        ``duplicated``): "keep" counts them in ``attrs["duplicates"]`` and leaves them
        in, since a till may list one item twice; "drop" leaves them out, by the rule
        ``duplicate row``, for a log exported twice over or joined to a table that
        repeated its lines (their spend would count twice in Monetary).
    status : "auto", str or None, default="auto"
        The column of order status whose rows saying the sale did not happen are
        dropped (Olist's ``order_status`` of "canceled" or "unavailable"). "auto": the
        column named like one (``Status``, ``order_status``, ``payment_status``, ``Financial Status``;
        ``State`` is not), if any, else a shop's column of events (``event_type``,
        ``event``, ``behavior_type`` holding view, cart, purchase ...: then only the
        rows of a purchase event are kept, by the rule ``not a purchase event``); None:
        no such rule. ``attrs["status"]``: its ``column``, its ``kind`` ("status" or
        "event") and the rows ``dropped`` by each value (with events, the events
        ``kept`` as purchases), or None without one.

    Returns
    -------
    pandas.DataFrame
        Indexed by customer: ``recency`` (days), ``frequency``, ``monetary``, the
        1–5 scores ``R``, ``F``, ``M`` (by rank; 5 is best: recent, frequent, big
        spender), ``RFM`` (e.g. "545"), ``score`` (R + F + M), ``rfm_segment`` (the usual RFM
        grid names), ``tenure`` (days from the first purchase to the snapshot: how long
        a customer has bought; :class:`fastseg.Segmenter` describes segments by it, new
        customers from old, without clustering on it), then the ``attributes``.
        ``attrs``: ``cleaning`` (rows each rule removed), ``columns`` (the columns used,
        by role), ``guessed`` (those read off their names), ``dates from`` (how numeric
        dates were read, or None), ``snapshot`` (and ``since`` when given) and
        ``attributes`` (the columns carried, and whether "auto" chose them); with ``mix``
        the ``mix``, and with
        ``returns="net"`` the ``returns``; with a column of currencies the ``currency``;
        ``duplicates``: the ``rows`` of purchases equal to an earlier row and whether they
        were ``dropped``; ``status`` (see above).

    Raises
    ------
    ValueError
        Missing columns (the available ones are listed), non-numeric amounts, amounts
        in two currencies or more (see ``currency``), or every row removed by cleaning.
    """
    require_frame(transactions, "rfm's transactions")
    joined = transactions.attrs.get("joined")
    transactions = _index_as_columns(transactions)
    _check_monetary(monetary, dict(amount=amount, quantity=quantity, price=price, mix=mix, currency=currency), returns)
    given, guessed = log_roles(transactions, dict(customer=customer, date=date, invoice=invoice, amount=amount,
                                                  quantity=quantity, price=price), spend=monetary)
    check_joined_roles(joined, given)
    customer, date, invoice, amount, quantity, price = given.values()
    status = _status_column(transactions, status, [customer, date, invoice, amount, quantity, price, mix])
    auto = isinstance(attributes, str) and attributes == "auto"
    if auto:
        attributes = attribute_candidates(transactions, [customer, date, invoice, amount, quantity, price, mix, status])
    else:
        attributes = [attributes] if isinstance(attributes, str) else list(attributes or ())
    _require(transactions, [customer, date, invoice, amount, quantity, price, *attributes, mix])
    roles = {customer, date, invoice, amount, quantity, price} - {None}
    if mix is not None and mix in roles:
        raise ValueError(f"mix column {mix!r} is already used for RFM; name a column of kinds of purchase "
                         "(a product category, a department) instead.")
    if mix is None and mix_values is not None:
        raise ValueError("mix_values names kinds of the mix column: give mix=<column> too.")
    clash = [a for a in attributes if a in _OWN_COLUMNS or a == customer]
    if clash:
        raise ValueError(f"attribute column(s) {', '.join(map(repr, clash))} would clash with the result's own "
                         f"columns ({', '.join(_OWN_COLUMNS)}) or its index; rename them first.")
    if not (isinstance(returns, str) and returns in ("drop", "net")):
        raise ValueError(f"returns must be 'drop' or 'net'; got {returns!r}.")
    check_duplicates_choice(duplicates)
    df = transactions
    check_currency_choice(currency)
    if snapshot is not None:
        snapshot, snap = _snapshot_ns(snapshot)
    since, after = (None, None) if since is None else _snapshot_ns(since, "since")
    keep, spend, when_ns, report, dates_from, returned, money, repeated, voided = clean_log(
        df, dayfirst, **given, returns=returns == "net", currency=currency, before=None if snapshot is None else snap,
        after=after, duplicates=duplicates, status=status)
    codes, uniques = customer_codes(df[customer], keep, report)
    n_cust = len(uniques)
    t = when_ns[keep].view(np.int64)
    by_customer = pd.Series(t).groupby(codes)
    last, first = by_customer.max().to_numpy(), by_customer.min().to_numpy()
    if since is None:
        refuse_stray_first_dates(t)
    if snapshot is None:
        refuse_stray_last_dates(t)
        snap = np.int64(t.max()) + np.int64(_DAY_NS)
    recency = (snap - last) // _DAY_NS
    if invoice is not None:
        inv_codes, _ = pd.factorize(df[invoice][keep])
        pairs = pd.unique(codes.astype(np.int64) * (int(inv_codes.max()) + 1) + inv_codes)
        frequency = np.bincount(pairs // (int(inv_codes.max()) + 1), minlength=n_cust)
    else:
        frequency = np.bincount(codes, minlength=n_cust)
    out = pd.DataFrame({"recency": recency.astype(np.int64), "frequency": frequency.astype(np.int64)},
                       index=pd.Index(uniques, name=customer))
    if monetary:
        out["monetary"] = np.bincount(codes, weights=spend[keep], minlength=n_cust)
        if returned is not None:
            out["monetary"], net = _net_of_returns(out["monetary"].to_numpy(), df[customer][returned],
                                                   -spend[returned], uniques)
    out["R"] = _score(-out["recency"].to_numpy())
    out["F"] = _score(out["frequency"].to_numpy())
    out["RFM"] = out["R"].astype(str) + out["F"].astype(str)
    out["score"] = out["R"].astype(int) + out["F"]
    if monetary:
        out.insert(out.columns.get_loc("RFM"), "M", _score(out["monetary"].to_numpy()))
        out["RFM"] += out["M"].astype(str)
        out["score"] += out["M"]
    out["score"] = out["score"].astype(int)
    out["rfm_segment"] = rfm_segment(out["R"].to_numpy(), out["F"].to_numpy())
    out["tenure"] = ((snap - first) // _DAY_NS).astype(np.int64)  # described by segment, not clustered on
    carried = []
    for a in dict.fromkeys(attributes):
        values, constancy = _per_customer_mode(df[a][keep], codes, n_cust)
        if auto and not (constancy >= ATTRIBUTE_CONSTANCY and 2 <= pd.Series(values).nunique() <= MAX_LEVELS):
            continue  # varies within customers (a purchase's, not a customer's), or not a category
        out[a] = values
        carried.append(a)
    out.attrs["attributes"] = {"columns": carried, "auto": auto}
    if mix is not None:
        shares, out.attrs["mix"] = spend_shares(df[mix][keep], mix, codes, spend[keep], n_cust, mix_values)
        clash = [c for c in shares.columns if c in out.columns]
        if clash:
            raise ValueError(f"the shares of mix column {mix!r} would be named {', '.join(map(repr, clash))}, a "
                             "column the result already has; rename the attribute or the kind first.")
        for c in shares.columns:
            out[c] = shares[c].to_numpy()
    out.attrs["cleaning"] = report
    spend = dict(amount=amount) if amount is not None else dict(quantity=quantity, price=price)
    used = dict(customer=customer, date=date, invoice=invoice, **(spend if monetary else {}))
    out.attrs["columns"] = {role: col for role, col in used.items() if col is not None}
    out.attrs["guessed"] = guessed
    out.attrs["dates from"] = dates_from
    out.attrs["snapshot"] = str(pd.Timestamp(snap))
    if since is not None:
        out.attrs["since"] = str(since)
    if returned is not None:
        out.attrs["returns"] = net
    if money is not None:
        out.attrs["currency"] = money
    out.attrs["duplicates"] = {"rows": repeated, "dropped": duplicates == "drop"}
    out.attrs["status"] = voided
    if joined:
        out.attrs["joined"] = [{k: j[k] for k in ("table", "on", "columns", "parts")} for j in joined]
    return out


def _check_monetary(monetary, spent, returns):
    """A named error for a ``monetary`` other than True or False, and for arguments that
    need a spend (``spent``: amount, quantity, price, mix, currency) given with False."""
    if not isinstance(monetary, (bool, np.bool_)):
        raise ValueError(f"monetary must be True or False; got {monetary!r}.")
    if monetary:
        return
    given = [f"{k}={v!r}" for k, v in spent.items() if v is not None]
    if isinstance(returns, str) and returns == "net":
        given.append("returns='net'")
    if given:
        raise ValueError(f"monetary=False (--amount none) reads no spend, but {', '.join(given)} needs one; leave "
                         f"{'it' if len(given) == 1 else 'them'} out, or drop monetary=False.")


def _status_column(log, status, roles):
    """The column of order status rfm's rule reads: ``status`` given (checked), the one
    named like it for "auto", or None."""
    if isinstance(status, str) and status == "auto":
        found = status_column(log.columns, {r for r in roles if r is not None})
        return found if found is not None and is_status_column(log[found], found) else None
    if status is not None:
        _require(log, [status])
        if status in roles:
            raise ValueError(f"status column {status!r} is already used for RFM; name the column of order status "
                             "(canceled, delivered ...), or status=None.")
    return status


def returns_text(net):
    """The sentence saying what ``rfm(returns="net")`` took off the customers' spend
    (``net``: its ``attrs["returns"]``)."""
    text = (f"Returns netted off Monetary: {counted(net['rows'], 'row')} worth {readable_number(net['value'])} "
            f"from {counted(net['customers'], 'customer')}")
    if net["above purchases"]:
        text += f" ({net['above purchases']:,} sent back more than the log shows bought: Monetary 0)"
    if net["rows of customers without purchases"]:
        text += (f"; {counted(net['rows of customers without purchases'], 'row')} of customers with no purchase "
                 "left out")
    return text + "."


def _net_of_returns(monetary, who, value, customers):
    """``monetary`` less the ``value`` of the returns of customers ``who`` (those among
    ``customers``, the rows of ``monetary``), floored at 0; and the account of it."""
    ids = pd.Index(customers)
    if ids.dtype == object and ids.inferred_type == "string" and pd.api.types.infer_dtype(who) != "string":
        who = as_texts(who)  # ids of mixed types, read as text (customer_codes)
    rows = ids.get_indexer(pd.Index(whole_numbers_as_ints(pd.Index(who)) if ids.dtype.kind == "i" else who))
    known = rows >= 0  # a return of a customer with no purchase kept: no row to take it from
    back = np.bincount(rows[known], weights=value[known], minlength=len(monetary))
    net = monetary - back
    return np.maximum(net, 0.0), {
        "mode": "net", "rows": int(known.sum()), "value": float(value[known].sum()),
        "customers": int((back > 0).sum()), "above purchases": int((net < 0).sum()),
        "rows of customers without purchases": int((~known).sum())}


MIX_TOP = 8  # kinds of purchase given a share column each: more would outweigh R, F and M


def spend_shares(kinds, column, codes, spend, n_customers, values=None):
    """Per customer (``codes``: 0..n_customers-1 per row) the share of its ``spend`` in
    each of the :data:`MIX_TOP` kinds of ``kinds`` with the most spend (or in each of
    ``values``), and in the rest as ``"other share"`` (always with ``values``, else when
    any row falls there). Returns the shares (a DataFrame of one row per customer) and
    ``{"column", "values", "columns", "kinds", "covered"}``: how many kinds the column
    holds, and the share of all the spend in the named ones."""
    codes = np.asarray(codes, dtype=np.int64)
    kind_codes, uniques = pd.factorize(kinds, use_na_sentinel=True)
    if values is None:
        spent = np.bincount(kind_codes[kind_codes >= 0], weights=spend[kind_codes >= 0], minlength=len(uniques))
        top = np.argsort(-spent, kind="stable")[:MIX_TOP]
        chosen = [uniques[i] for i in top if spent[i] > 0]
    else:
        chosen = list(dict.fromkeys(values))
        if not chosen:
            raise ValueError("mix_values is empty; give the kinds to make share columns for, or leave it out.")
    slot = np.full(len(uniques) + 1, len(chosen), dtype=np.int64)  # last slot: other (and missing, code -1)
    where = pd.Index(uniques).get_indexer(pd.Index(chosen))
    slot[where[where >= 0]] = np.flatnonzero(where >= 0)
    cell = codes * (len(chosen) + 1) + slot[kind_codes]
    sums = np.bincount(cell, weights=spend, minlength=n_customers * (len(chosen) + 1)).reshape(n_customers, -1)
    shares = sums / sums.sum(axis=1, keepdims=True)
    names = [f"{v} share" if isinstance(v, str) else f"{column} {v} share" for v in chosen]
    if values is not None or shares[:, -1].any():
        names.append("other share")
    else:
        shares = shares[:, :-1]
    if len(set(names)) < len(names):
        raise ValueError(f"two kinds of mix column {column!r} would share a column name ({names}); give "
                         "mix_values without repeats.")
    frame = pd.DataFrame(shares, columns=names)
    return frame, {"column": column, "values": [v.item() if isinstance(v, np.generic) else v for v in chosen],
                   "columns": names, "kinds": len(uniques),
                   "covered": float(sums[:, :len(chosen)].sum() / sums.sum())}  # kept spend is > 0


def log_roles(transactions, given, spend=True):
    """The columns :func:`rfm` uses, by role (``given`` ones kept, the rest read off their
    names when a role it cannot do without is missing; the spend only with ``spend``),
    and those it guessed."""
    guessed = {}
    if needs_guess(**given, spend=spend):
        _require(transactions, [c for c in given.values() if c is not None])
        columns = guess_rfm_columns(transactions, spend=spend, **given)
        guessed = {role: col for role, col in columns.items() if col is not None and given[role] is None}
        given = {**given, **columns}
    return given, guessed


class Cleaned(NamedTuple):
    """What :func:`clean_log` found in a log, per row where an array."""

    keep: np.ndarray  # the rows every rule kept: the purchases
    spend: np.ndarray  # quantity × price (or the amount), of every row
    when_ns: np.ndarray  # the dates, datetime64[ns]
    report: dict  # rows each rule dropped
    dates_from: str | None  # how numeric dates were read
    returned: np.ndarray | None  # with returns: the returns among the dropped rows
    currency: dict | None  # with a column of currencies: which one the rows kept are in (see _currency)
    duplicates: int  # rows kept (or, with duplicates="drop", dropped) that repeat an earlier row exactly
    status: dict | None  # with a column of order status: its name and the rows dropped by status (see _order_status)


def clean_log(df, dayfirst, *, customer, date, invoice, amount, quantity, price, returns=False, currency=None,
              before=None, after=None, duplicates="keep", status=None):
    """The cleaning rules of :func:`rfm`, in its order (a :class:`Cleaned`): which rows
    are kept, the spend per row, the dates (ns), the report of rows each rule dropped and
    how numeric dates were read; with ``returns`` also which dropped rows are returns (a
    customer, a date, a negative quantity at a positive price, or a negative amount);
    with a column of currencies in ``df``, the rows in another than ``currency`` dropped
    (:func:`fastseg._currency.currency_rule`); with ``before`` (a snapshot, ns), the rows
    dated at or after it dropped, and with ``after`` (since, ns) those before it; with a
    ``status`` column (as :func:`_status_column` finds it), the rows whose status says the
    sale did not happen dropped (:func:`fastseg._order_status.status_rule`); the rows equal to an
    earlier one counted, and with ``duplicates="drop"`` dropped. Raises when every row is
    dropped."""
    n_in = len(df)
    report = {"rows in": n_in}
    keep = np.ones(n_in, dtype=bool)
    voided = None
    read = read_status(df[status], status) if status is not None else None
    if read is not None and read[2]:  # a shop's events: a view is no transaction, so this rule comes first
        void, voided = status_rule(df[status], keep, status, read)
        report["not a purchase event"] = int(void.sum())
        keep &= ~void

    missing = no_customer(df[customer])
    report["missing customer"] = int(missing.sum())
    keep &= ~missing

    when_ns, dates_from = _dates_of(df[date], keep, date, dayfirst)  # dates_from: how numeric dates were read
    bad_date = keep & np.isnat(when_ns)
    report["missing or unreadable date"] = int(bad_date.sum())
    keep &= ~bad_date
    if after is not None and before is not None and after >= before:
        raise ValueError(f"since {day_text(after)} is not before the snapshot {day_text(before)}: no day is left "
                         "between them to count purchases in; give a since before the snapshot.")
    if after is not None:  # a window: what came before it is left out
        early = keep & (when_ns.view(np.int64) < after)
        report["before since"] = int(early.sum())
        keep &= ~early
    if before is not None:  # RFM as of a day inside the log: what came later is not known yet
        late = keep & (when_ns.view(np.int64) >= before)
        report["on or after the snapshot"] = int(late.sum())
        keep &= ~late

    spent = amount is not None or quantity is not None or price is not None  # none: rfm(monetary=False)
    column = currency_column(df.columns, {customer, date, invoice, amount, quantity, price}) if spent else None
    money = None
    if column is not None:
        other, money = currency_rule(df[column], keep, column, currency)
        if money["kept"] is not None and len(money["rows"]) > 1:
            report["in another currency"] = int(other.sum())
        keep &= ~other
    elif currency is not None:
        raise ValueError(f"currency={currency!r} keeps the rows of one currency, but no column of the log is named "
                         "like one (Currency, currency_code, ccy); rename it, or leave currency out.")

    if invoice is not None:
        inv = df[invoice]
        if isinstance(inv.dtype, pd.CategoricalDtype):
            cancelled_cat = _cancellation(inv.cat.categories.astype(str))
            codes = inv.cat.codes.to_numpy()
            cancelled = (codes >= 0) & cancelled_cat[np.maximum(codes, 0)]
        else:
            cancelled = _cancellation(inv.astype(str))
        dropped = keep & cancelled
        report["cancelled invoice"] = int(dropped.sum())
        keep &= ~cancelled
    if read is not None and not read[2]:
        void, voided = status_rule(df[status], keep, status, read)
        report["status of no sale"] = int(void.sum())
        keep &= ~void

    def drop_bad(values, what):
        """Leave out the kept rows without a readable ``what`` (a rule only when some are
        so), then those of ``what`` <= 0."""
        nonlocal keep
        unread = keep & np.isnan(values)
        if unread.any() and what == "amount" and invoice is not None:
            # an order's total on its first row only, its other lines blank (Shopify's export): not missing
            elsewhere = unread & _amount_elsewhere(df[invoice], values)
            if elsewhere.any():
                report["amount on another row of its invoice"] = int(elsewhere.sum())
                keep &= ~elsewhere
                unread &= ~elsewhere
        if unread.any():  # blank, or text such as "-" or "#VALUE!": no value, not a value <= 0
            report[f"missing or unreadable {what}"] = int(unread.sum())
            keep &= ~unread
        bad = keep & ~(values > 0)
        report[f"non-positive {what}"] = int(bad.sum())
        keep &= ~bad

    if amount is not None:
        spend = _numeric(df, amount)
        drop_bad(spend, "amount")
    elif quantity is None and price is None:  # a log without spend (rfm's monetary=False): no rule on it
        spend = np.zeros(n_in)
    else:
        q = _numeric(df, quantity)
        p = _numeric(df, price)
        drop_bad(q, "quantity")
        drop_bad(p, "price")
        spend = q * p

    repeated = _repeated_rows(df, keep, when_ns, spend)
    if duplicates == "drop":
        report["duplicate row"] = int(repeated.sum())
        keep &= ~repeated
    n_keep = int(keep.sum())
    report["rows kept"] = n_keep
    if n_keep == 0:
        rules = ", ".join(f"{k}: {v}" for k, v in report.items() if k not in ("rows in", "rows kept") and v)
        raise ValueError(f"every one of the {n_in} rows was removed by cleaning ({rules}); nothing to segment.")
    returned = None
    if returns:  # goods sent back: a negative quantity at its price (a negative price is an adjustment)
        back = spend < 0 if amount is not None else (q < 0) & (p > 0)
        returned = back & ~missing & ~np.isnat(when_ns)
        if duplicates == "drop":
            returned &= ~_repeated_rows(df, returned, when_ns, spend)
    return Cleaned(keep, spend, when_ns, report, dates_from, returned, money, int(repeated.sum()), voided)


def _dates_of(col, keep, name, dayfirst):
    """The dates of ``col`` (datetime64[ns], :func:`as_datetime`) and how numeric ones were
    read; where the rules so far kept under half the rows (an event log's purchases among
    its views), only those rows' dates are read, the rest NaT: they are never looked at."""
    if keep.all() or keep.sum() >= len(keep) // 2:
        when, how = as_datetime(col, name, dayfirst)
        return as_ns(when), how
    when, how = as_datetime(col[keep], name, dayfirst)
    out = np.full(len(col), np.datetime64("NaT", "ns"))
    out[keep] = as_ns(when)
    return out, how


def _amount_elsewhere(invoices, values):
    """Which rows belong to an invoice with a readable amount on some row (boolean mask)."""
    codes = pd.factorize(invoices)[0]
    has = np.zeros(int(codes.max(initial=-1)) + 1, dtype=bool)
    has[codes[(codes >= 0) & ~np.isnan(values)]] = True
    return (codes >= 0) & has[np.maximum(codes, 0)]


def rfm_choice(attrs, argument):
    """How an RFM table was made as to ``argument``, "returns" or "duplicates", read off
    its ``attrs`` (or a segmentation's ``source``): "net"/"drop", "keep"/"drop"; None for
    the duplicates of a table from before they were counted."""
    if argument == "returns":
        return "net" if attrs.get("returns") else "drop"
    dropped = (attrs.get("duplicates") or {}).get("dropped")
    return None if dropped is None else ("drop" if dropped else "keep")


def check_duplicates_choice(duplicates):
    """A named error for a ``duplicates`` argument other than "keep" or "drop"."""
    if not (isinstance(duplicates, str) and duplicates in ("keep", "drop")):
        raise ValueError(f"duplicates must be 'keep' or 'drop'; got {duplicates!r}.")


def _repeated_rows(df, rows, when_ns, spend):
    """Which of the ``rows`` (a mask) of ``df`` are equal to an earlier one of them in
    every column (none where a cell cannot be compared, a list). The cleaning rules read
    a row's own values, so a row's copies are among ``rows`` when it is."""
    rows = np.flatnonzero(rows)
    # only rows whose date and spend recur can be copies: one hash of two numbers finds
    # them, and pandas compares those few in full (on every row it took 4 s in 10 million)
    spend = np.asarray(spend, dtype=np.float64)[rows]
    mixed = when_ns.view(np.int64)[rows] * np.int64(1_000_003) + spend.view(np.int64)  # wraps round: a hash
    maybe = rows[pd.Series(mixed).duplicated(keep=False).to_numpy()]
    out = np.zeros(len(df), dtype=bool)
    if len(maybe):
        try:
            out[maybe] = df.iloc[maybe].duplicated().to_numpy()
        except TypeError:
            pass
    return out


def duplicates_text(dup):
    """The sentence saying how many rows repeat an earlier one and what was done
    (``dup``: :func:`rfm`'s ``attrs["duplicates"]``), or "" for none."""
    if not dup or not dup["rows"]:
        return ""
    rows = counted(dup["rows"], "row")
    if dup["dropped"]:
        return f"{rows} equal to an earlier row in every column left out (duplicates dropped)."
    return (f"{rows} of purchases equal to an earlier row in every column, kept: a till may list an item twice, "
            "but a log exported twice over counts its spend twice (drop them with duplicates='drop', "
            "--duplicates drop).")


def whole_numbers_as_ints(ids):
    """``ids`` (an array or Index) as int64 when they are floats that are all whole numbers:
    ids stored as floats because some rows have none (the UCI log's CustomerID)."""
    if ids.dtype.kind == "f" and np.all(np.mod(ids, 1) == 0):
        return ids.astype(np.int64)
    return ids


def as_texts(values):
    """Ids or item codes as text, one spelling each: 22423, 22423.0 and "22423" are all
    "22423"."""
    return pd.Index([_as_text(v) for v in values])


def _as_text(v):
    if isinstance(v, (float, np.floating)) and float(v).is_integer():
        v = int(v)
    return str(v)


def _mixed(values):
    """Whether ``values`` (the distinct ones) mix numbers and text: a CSV read in pieces
    whose types pandas infers piece by piece holds 12346 in one and "12346" in another."""
    return values.dtype == object and pd.api.types.infer_dtype(values, skipna=True).startswith("mixed")


def customer_codes(cust, keep, report):
    """Each kept row's customer as a code into the sorted customer ids (whole-number ids
    stored as floats because of missing ones, as in the UCI log, made ints again; ids of
    mixed types, as text, one spelling each); adds the customer counts to ``report``."""
    codes, uniques = pd.factorize(cust[keep], sort=True)
    if _mixed(uniques):  # one customer, not two, whichever piece of the file it was read in
        merged, uniques = pd.factorize(as_texts(uniques), sort=True)
        codes = merged[codes]
    uniques = whole_numbers_as_ints(uniques)
    report["customers"] = len(uniques)
    missing = report["missing customer"]
    all_customers = pd.Series(pd.unique(cust[cust.notna().to_numpy()]) if missing < len(cust) else [])
    if _mixed(all_customers):
        all_customers = pd.Series(as_texts(all_customers).unique())
    blank = no_customer(all_customers).sum()  # (each blank spelling once: a few values, not every row)
    report["customers with no valid rows"] = int(len(all_customers) - blank - len(uniques))
    return codes, uniques


ATTRIBUTE_CONSTANCY = 0.95  # share of customers (of two rows or more) with one value: a customer's attribute


def attribute_candidates(df, used, head=100_000):
    """The columns of a transaction log :func:`rfm` may carry per customer with
    ``attributes="auto"``: not in ``used`` (the RFM roles) nor named like a result
    column, holding text, categories, True/False or codes (:func:`looks_like_code`),
    with at most 50 values in the first ``head`` rows (a product's code or description
    has more). Whether each is one value per customer is left to :func:`rfm`."""
    out = []
    for c in df.columns:
        if c in used or c in _OWN_COLUMNS:
            continue
        col = df[c]
        if pd.api.types.is_datetime64_any_dtype(col):
            continue
        if pd.api.types.is_numeric_dtype(col) and not (pd.api.types.is_bool_dtype(col) or looks_like_code(col)):
            continue
        if 1 <= col.iloc[:head].nunique(dropna=True) <= MAX_LEVELS:
            out.append(c)
    return out


def _per_customer_mode(values, codes, n_cust):
    """Each customer's most frequent value of ``values`` (rows of customers ``codes``); a tie
    goes to the value on the customer's earlier row, a customer with only missing values
    gets a missing one. Also the share of the customers with values on two rows or more
    whose values are all one (1.0 when there are none)."""
    vcodes, uniques = pd.factorize(values)  # in order of appearance; -1 for missing
    ok = vcodes >= 0
    if not ok.any():
        return np.full(n_cust, np.nan), 1.0
    c, v = codes[ok].astype(np.int64), vcodes[ok]
    # one pass finds the customers of more than one value (a customer attribute has few);
    # only their rows are sorted for the mode
    pick = np.full(n_cust, -1, dtype=np.int64)
    pick[c] = v  # some row's value per customer (which one does not matter here)
    mixed = np.zeros(n_cust, dtype=bool)
    mixed[c[v != pick[c]]] = True
    several = np.bincount(c, minlength=n_cust) >= 2
    constancy = float(1.0 - mixed[several].mean()) if several.any() else 1.0
    rows = mixed[c]
    if rows.any():
        nv = len(uniques)
        keys, first, counts = np.unique(c[rows] * nv + v[rows], return_index=True, return_counts=True)
        cust, val = keys // nv, keys % nv
        order = np.lexsort((first, -counts, cust))  # per customer: most rows, then the earliest
        head = order[np.r_[True, cust[order][1:] != cust[order][:-1]]]
        pick[cust[head]] = val[head]
    return pd.Series(uniques).take(np.maximum(pick, 0)).reset_index(drop=True).where(pick >= 0).to_numpy(), constancy
