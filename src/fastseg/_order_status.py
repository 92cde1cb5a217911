"""A transaction log's column of order status (``order_status``, ``Status``,
``payment_status``): rows whose status says the sale did not happen (canceled,
unavailable, failed, refunded, returned) are no purchase, so :func:`fastseg.rfm` and
:func:`fastseg.baskets` leave them out, as they do an invoice numbered "C536379".

A shop's event log (``event_type``: view, cart, purchase; Taobao's ``behavior_type``: pv,
cart, fav, buy; Retail Rocket's ``event``: view, addtocart, transaction) is read the other
way round: only its rows of a purchase event are purchases, the views and carts are not."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd

from ._log_columns import EVENT_NAME, first_named
from ._profiles import counted

# matched against the name in lower case without spaces, "_", "." or "-"; a bare "state"
# is left alone: in a sales log it is a US state
_STATUS = re.compile(r"(?:order|transaction|payment|financial|invoice|sales?|purchase|delivery|shipping|shipment)?"
                     r"status")
# a sale that did not happen, or was taken back: Olist's "canceled" and "unavailable",
# a shop's "Cancelled", "Refunded", "Returned", a payment's "Failed", "Declined", "Voided"
_VOID = re.compile(r"(?i)\b(?:cancel+(?:ed|led|lation)?|void(?:ed)?|fail(?:ed|ure)?|declined|rejected|refunded|"
                   r"returned|unavailable|charge ?back|abandoned)\b")
# "partially refunded": the rest of the sale stands
_PARTIAL = re.compile(r"(?i)\bpartial(?:ly)?\b")

# matched whole against an event in lower case, "_" and "-" as spaces: REES46's "purchase", Taobao's "buy",
# Retail Rocket's "transaction", GA4's "purchase" and "in_app_purchase", Segment's "Order Completed"
_PURCHASE_EVENT = re.compile(r"(?:(?:ecommerce|in app|online|web|app|store) )?purchase[ds]?|buy|bought|transaction|"
                             r"order|sale|conversion|"
                             r"(?:order|purchase|checkout|payment|transaction) "
                             r"(?:completed?|placed|made|succeeded|success(?:ful)?|confirmed)|"
                             r"(?:completed?|successful|confirmed|placed) "
                             r"(?:order|purchase|checkout|transaction|payment)")
# events of browsing, not buying: they tell an event log from a column of order status
_BROWSE_EVENT = re.compile(r"(?:(?:page|product|item|screen) )?views?|pv|page ?view|impression|click|search|fav|"
                           r"favou?rite|like|(?:add(?:ed)? ?to ?|remove(?:d)? ?from ?)?(?:cart|basket|wish ?list)|"
                           r"session start|begin checkout|first visit|login|sign ?up|"
                           r"(?:products?|cart|page|item|promotion) (?:viewed|added|removed|clicked|searched|shared)|"
                           r"checkout started")  # Segment's spec: "Product Viewed", "Checkout Started"
_SAMPLE_ROWS = 200_000  # rows read to tell an event log's column by its values


def status_column(columns, taken=()):
    """The first of ``columns`` named like a column of order status, else like a column of
    events (``event_type``, ``event``, ``behavior_type``, ``action``), not one of ``taken``
    (the RFM roles); None when there is none."""
    return first_named(columns, _STATUS, taken) or first_named(columns, EVENT_NAME, taken)


def _event(value):
    return " ".join(str(value).lower().replace("_", " ").replace("-", " ").split())


def _events(uniques, column):
    """Whether the values ``uniques`` of ``column`` are a shop's events: named like events
    and holding a purchase or browsing event, or holding both (under any name)."""
    words = [_event(u) for u in uniques]
    buys = any(_PURCHASE_EVENT.fullmatch(w) for w in words)
    browses = any(_BROWSE_EVENT.fullmatch(w) for w in words)
    return (buys and browses) or ((buys or browses) and first_named([column], EVENT_NAME) is not None)


def is_status_column(values, column):
    """Whether ``column`` (its ``values``) can be the status rule's: a column named like
    order status, or holding a shop's events (:func:`_events`, from its first rows)."""
    if first_named([column], _STATUS):
        return True
    return _events(pd.unique(values.head(_SAMPLE_ROWS).dropna()), column)


def voids_sale(value):
    """Whether a status ``value`` says the sale did not happen (case aside; a partial
    refund or return does not)."""
    text = str(value).replace("_", " ")  # Shopify's "partially_refunded", a "payment_failed"
    return bool(_VOID.search(text)) and not _PARTIAL.search(text)


def read_status(values, column):
    """``values`` (the log's column ``column``) factorized, and whether they are a shop's
    events (:func:`_events`): what :func:`status_rule` reads, to be read once."""
    codes, uniques = pd.factorize(values)  # a status column holds a handful of values: test each once
    return codes, uniques, _events(uniques, column)


def status_rule(values, keep, column, read=None):
    """Which of the ``keep`` rows (the rules before this one kept them) have a status in
    ``values``, the log's column ``column``, saying the sale did not happen; and the account
    of it: ``{"column": column, "dropped": {status as written: rows}, "kind": "status"}``,
    most first.

    A column of a shop's events (:func:`_events`) is read the other way round: the rows
    left out are those of any event but a purchase (and of none); the account's ``kind``
    is "event" and ``kept`` lists the events taken as purchases. ``read``:
    :func:`read_status` of ``values``, where it was read already.

    Raises
    ------
    ValueError
        When a column of events holds no purchase event: its values are listed.
    """
    codes, uniques, events = read if read is not None else read_status(values, column)
    if events:
        bought = np.array([bool(_PURCHASE_EVENT.fullmatch(_event(u))) for u in uniques] + [False], dtype=bool)
        if not bought.any():
            raise ValueError(f"the log's column of events {column!r} holds no purchase ({_few(uniques)}), so no row "
                             "is a sale; give a log with its purchases, or status=None (--status none) to count "
                             "every row as one.")
        voided = ~bought  # a missing event too: not known to be a purchase
    else:
        voided = np.array([voids_sale(u) for u in uniques] + [False], dtype=bool)  # last: a missing status
    codes = np.where(codes < 0, len(uniques), codes)  # a missing value: the last
    void = keep & voided[codes]
    counts = np.bincount(codes[void], minlength=len(uniques) + 1)
    order = np.argsort(-counts, kind="stable")
    names = [str(u) for u in uniques] + ["(none)"]
    dropped = {names[i]: int(counts[i]) for i in order if counts[i]}
    info = {"column": column, "dropped": dropped, "kind": "event" if events else "status"}
    if events:
        info["kept"] = [str(u) for u, b in zip(uniques, bought) if b]
    return void, info


def _few(values, n=6):
    """The first ``n`` of ``values``, "a, b and 3 more"; "no value" for none."""
    shown = ", ".join(map(str, values[:n]))
    return shown + (f" and {len(values) - n} more" if len(values) > n else "") if len(values) else "no value"


def status_text(info):
    """"Left out as no purchase, by their order_status: canceled on 625 rows, unavailable on
    609 rows." for ``info`` (:func:`status_rule`'s), or "" when no row was."""
    if not info["dropped"]:
        return ""
    listed = _few([f"{v} on {counted(n, 'row')}" for v, n in info["dropped"].items()], 4)
    if info.get("kind") == "event":
        return f"Only purchase events counted ({', '.join(info['kept'])}), by their {info['column']}: left out " \
               f"{listed}."
    return f"Left out as no purchase, by their {info['column']}: {listed}."
