"""A transaction log's column of order status (``order_status``, ``Status``,
``payment_status``): rows whose status says the sale did not happen (canceled,
unavailable, failed, refunded, returned) are no purchase, so :func:`fastseg.rfm` and
:func:`fastseg.baskets` leave them out, as they do an invoice numbered "C536379"."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd

from ._log_columns import first_named
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


def status_column(columns, taken=()):
    """The first of ``columns`` named like a column of order status, not one of ``taken``
    (the RFM roles); None when there is none."""
    return first_named(columns, _STATUS, taken)


def voids_sale(value):
    """Whether a status ``value`` says the sale did not happen (case aside; a partial
    refund or return does not)."""
    text = str(value).replace("_", " ")  # Shopify's "partially_refunded", a "payment_failed"
    return bool(_VOID.search(text)) and not _PARTIAL.search(text)


def status_rule(values, keep, column):
    """Which of the ``keep`` rows (the rules before this one kept them) have a status in
    ``values``, the log's column ``column``, saying the sale did not happen; and the account
    of it: ``{"column": column, "dropped": {status as written: rows}}``, most first."""
    codes, uniques = pd.factorize(values)  # a status column holds a handful of values: test each once
    voided = np.array([voids_sale(u) for u in uniques] + [False], dtype=bool)  # last: a missing status
    void = keep & voided[codes]
    counts = np.bincount(codes[void], minlength=len(uniques)) if void.any() else np.zeros(len(uniques), int)
    order = np.argsort(-counts, kind="stable")
    dropped = {str(uniques[i]): int(counts[i]) for i in order if counts[i]}
    return void, {"column": column, "dropped": dropped}


def status_text(info):
    """"Left out as no purchase, by their order_status: canceled on 625 rows, unavailable on
    609 rows." for ``info`` (:func:`status_rule`'s), or "" when no row was."""
    if not info["dropped"]:
        return ""
    listed = ", ".join(f"{v} on {counted(n, 'row')}" for v, n in list(info["dropped"].items())[:4])
    more = f" and {len(info['dropped']) - 4} more" if len(info["dropped"]) > 4 else ""
    return f"Left out as no purchase, by their {info['column']}: {listed}{more}."
