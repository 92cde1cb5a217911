"""One self-contained HTML report of a segmentation (images embedded)."""

from __future__ import annotations

import base64
import html
import io
from datetime import datetime

import numpy as np
import pandas as pd

from ._dates import day_text
from ._io import atomic_write_text
from ._log_columns import counts_spend
from ._profiles import counted, readable_number
from ._value_share import percent
from ._version import __version__
from .baskets import standout_text


def _png(draw, dpi):
    """The PNG bytes of the Figure ``draw()`` makes; every figure it opened is closed after,
    also when it fails, so a report that stops on an error leaves none behind."""
    import matplotlib.pyplot as plt

    before = set(plt.get_fignums())
    try:
        buf = io.BytesIO()
        draw().savefig(buf, format="png", dpi=dpi)
        return buf.getvalue()
    finally:
        for num in set(plt.get_fignums()) - before:
            plt.close(num)


def rendered_figures(seg, dpi=100, items=None):
    """:func:`figures` drawn once as PNG files' bytes: (name, caption, png) triples, for
    the report and for files beside it (drawing is most of a report's time). Each figure
    is closed once saved, before the next is drawn. ``items`` as for :func:`figures`."""
    return [(name, caption, _png(draw, dpi)) for name, caption, draw in _figure_makers(seg, items)]


def figures(seg, items=None):
    """The report's figures, as (name, caption, Figure) triples (also what ``fastseg demo``
    saves); ``items``, a :func:`fastseg.segment_items` table of ``seg`` (default
    ``seg.items``), adds its bars."""
    return [(name, caption, draw()) for name, caption, draw in _figure_makers(seg, items)]


def _figure_makers(seg, items=None):
    """(name, caption, a function drawing the Figure) for each of the report's figures."""
    from . import plots

    items = seg.items if items is None else items
    out = []
    if seg.sweep is not None:
        out.append(("elbow", "Choosing k: elbow and silhouette", lambda: plots.elbow(seg)))
    out.append(("sizes", "Segment sizes", lambda: plots.segment_sizes(seg)))
    if seg.value is not None:
        out.append(("value", f"Where the money is: customers and {seg.value_column}", lambda: plots.value_share(seg)))
    out.append(("snake", "How segments differ", lambda: plots.snake_plot(seg)))
    rel = seg.profiles[[f"{f} rel. importance" for f in seg.features]]
    if rel.notna().any().any():  # none where every feature takes values below zero
        out.append(("importance", "Relative importance", lambda: plots.importance_heatmap(seg)))
    scatter = "Customers in two dimensions" if len(seg.features) > 1 else f"Customers by {seg.features[0]}"
    out.append(("scatter", scatter, lambda: plots.scatter_2d(seg)))
    if len(seg.features) >= 3:
        out.append(("scatter3d", "Customers in three dimensions", lambda: plots.scatter_3d(seg)))
    for j, col in enumerate(seg.composition):
        out.append((f"composition{j + 1}" if j else "composition", f"Who is in each segment: {col}",
                    lambda col=col: plots.composition(seg, col)))
    if items is not None and len(items):
        out.append(("items", "What each segment buys more often", lambda: plots.segment_items(seg, items)))
    if seg.k >= 2 and (seg.basis is None or seg.clustered is not None):  # a loaded one keeps no baskets
        out.append(("silhouette", "Silhouette by segment", lambda: plots.silhouette_by_segment(seg)))
    return out


def _table(df, floatfmt="{:,.2f}", formats=None, by_row=False):
    """An HTML table of ``df``: floats by ``floatfmt`` (a format string or a function),
    or by ``formats[column]`` where given (``formats[row]`` with ``by_row``)."""
    formats = formats or {}

    def fmt(v, how):
        if isinstance(v, (float, np.floating)):
            return "" if np.isnan(v) else html.escape(how(v) if callable(how) else how.format(v))  # "<1%"
        if isinstance(v, (int, np.integer)):
            return f"{v:,}"
        return html.escape(str(v))

    hows = [formats.get(c, floatfmt) for c in df.columns]
    head = "".join(f"<th>{html.escape(str(c))}</th>" for c in [df.index.name or ""] + list(df.columns))
    rows = "".join(
        "<tr>" + f"<th>{html.escape(str(i))}</th>"
        + "".join(f"<td>{fmt(v, formats.get(i, floatfmt) if by_row else h)}</td>" for v, h in zip(row, hows))
        + "</tr>"
        for i, row in zip(df.index, df.itertuples(index=False))
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{rows}</tbody></table>"


_CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Helvetica,Arial,sans-serif;margin:2em auto;max-width:1100px;
color:#222;line-height:1.45;padding:0 1em}
h1{font-size:1.6em;margin-bottom:.2em} h2{font-size:1.25em;margin-top:1.8em;border-bottom:1px solid #ddd}
table{border-collapse:collapse;font-size:.85em;margin:.6em 0} th,td{border:1px solid #ddd;padding:.25em .5em;
text-align:right} thead th{background:#f3f3f3} tbody th{text-align:left;background:#fafafa}
.muted{color:#666} figure{margin:1em 0} img{max-width:100%;border:1px solid #eee}
.seg{margin:.4em 0} .seg b{display:inline-block;min-width:2em}
"""


def _value_section(seg):
    """Where the money is: each segment's share of the customers and of their spend."""
    tab = seg.value
    col = html.escape(str(seg.value_column))
    top = tab["share of total"].idxmax()
    lead = (f"Segment {top} ({html.escape(str(tab.loc[top, 'name']))}), {tab.loc[top, 'share of customers']:.1%} "
            f"of the customers, holds {percent(tab.loc[top, 'share of total'])} of their total {col} "
            f"({readable_number(tab['total'].sum())}).")
    shown = tab[["name", "customers", "share of customers", "total", "share of total", "per customer", "index"]]
    return (f"<h2>Where the money is</h2><p>{lead} Index: share of the {col} over share of the customers; "
            "above 1 a segment brings more than its number, below 1 less.</p>"
            + _table(shown, formats={"share of customers": percent, "share of total": percent,
                                     "total": readable_number, "per customer": readable_number,
                                     "index": "{:.2f}"}))


SHOWN_ITEMS = 5  # items per segment in the report's table


def _items_section(items):
    """What each segment buys: the first items that stand out for each segment, in one table."""
    a = items.attrs
    parts = [f"<h2>What each segment buys</h2><p>Items a segment's customers buy markedly more often than the "
             f"average customer: bought by at least {a['min_buyers']} of them, a larger share than of all customers, "
             f"and still so at a false discovery rate of {a['fdr']:.0%} over the {a['tested']:,} (segment, item) "
             f"pairs tested (a one-sided hypergeometric test, Benjamini–Hochberg). Index: share of the segment "
             f"that bought it over share of all customers (2.0: twice as often); the last share is the item's "
             f"part of the segment's {html.escape(a['values'])}. The first {SHOWN_ITEMS} of each segment's list.</p>"]
    if a["without"]:
        parts.append(f"<p>No item stands out for segment(s) {', '.join(map(str, a['without']))}: they buy what "
                     "everyone buys.</p>")
    if len(items):
        shown = items.groupby("segment", sort=False).head(SHOWN_ITEMS).drop(columns="q").set_index("segment")
        parts.append(_table(shown, formats={c: percent for c in shown.columns if str(c).startswith("share of")}
                            | {"index": "{:.1f}×"}))
    return "".join(parts)


def render(seg, title="Customer segmentation", images=None, items=None):
    """The report as an HTML string; ``images``: :func:`rendered_figures` of ``seg``
    when already drawn (else they are drawn here); ``items``: a
    :func:`fastseg.segment_items` table of ``seg`` (default: ``seg.items``)."""
    items = seg.items if items is None else items
    n = len(seg.labels)
    parts = [f"<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'><title>{html.escape(title)}</title>"
             f"<style>{_CSS}</style></head><body>"]
    parts.append(f"<h1>{html.escape(title)}</h1><p class='muted'>fastseg {__version__} · "
                 f"{datetime.now():%Y-%m-%d %H:%M} · {n:,} customers · {counted(seg.k, 'segment')}</p>")

    parts.append("<h2>Segments</h2>")
    if seg.basis is not None:
        parts.append(f"<p>Found on {html.escape(seg.basis.text())}: segments of tastes. "
                     f"{html.escape(', '.join(map(str, seg.features)))} describe them, and each name adds the product "
                     "the segment favours most.</p>")
    from .stability import STABLE

    stable = seg.stability is not None and seg.k > 1
    if stable:
        parts.append(f"<p>Stability: each segment's mean best Jaccard similarity with a cluster of k-means "
                     f"refitted on {seg.params.get('stability')} subsets of the customers (80%, at most 100,000). "
                     f"{STABLE} or more: a stable segment; lower: k-means had to cut somewhere, and new data may "
                     "cut it differently.</p>")
    descriptions = seg.descriptions
    for s, row in seg.profiles.iterrows():
        note = ""
        if stable:
            v = seg.stability.loc[s, "stability"]
            note = f" Stability {v:.2f}{'' if v >= STABLE else ' (unstable)'}."
        own = descriptions[s]
        title = f"<strong>{html.escape(row['name'])}</strong>" + (
            "" if row["name"] == own else f" ({html.escape(own)})")
        money = "" if seg.value is None else (
            f", {percent(seg.value.loc[s, 'share of total'])} of {html.escape(str(seg.value_column))}")
        buys = "" if items is None or not (text := standout_text(items, s)) else (
            f" Buys more often than others: {html.escape(text)}.")
        parts.append(f"<div class='seg'><b>{s}</b> {title} — "
                     f"{counted(int(row['size']), 'customer')} ({row['share']:.1%}{money}). " + _sentence(seg, s) + note
                     + buys + _action(seg, s) + "</div>")
    if seg.outlying:
        from ._outliers import outlying_text

        parts.append(f"<p>{html.escape(outlying_text(seg.outlying, seg.profiles['size']))}</p>")
    if seg.value is not None:
        parts.append(_value_section(seg))

    parts.append("<h2>Data</h2>")
    summ = seg.data.describe().T[["mean", "std", "min", "25%", "50%", "75%", "max"]]
    summ.index.name = "feature"
    found = "" if seg.basis is None else f"Segments found on {html.escape(seg.basis.text())}, described by the features. "
    parts.append(f"<p>{found}{n:,} customers, features: {', '.join(map(html.escape, seg.features))}. "
                 f"Transform: {html.escape(_transform_text(seg))}; "
                 f"scaling: {html.escape(str(seg.params.get('scale')))}.{_columns_note(seg)}</p>" + _table(summ))
    if seg.cleaning:
        c = pd.DataFrame({"rows": pd.Series(seg.cleaning)})
        c.index.name = "cleaning"
        parts.append(f"<h2>Cleaning</h2>{_source_text(seg)}<p>Rules applied in this order; each row counts the rows "
                     "it removed.</p>" + _table(c))

    parts.append("<h2>The number of segments</h2>")
    parts.append(f"<p>{html.escape(seg.k_reason)}.</p>")
    if seg.sweep is not None:
        sw = seg.sweep
        from .sweep import _METHOD_NAME, readable_columns

        picks = ", ".join(f"{_METHOD_NAME.get(m, m)}: k = {v}" for m, v in sw.evidence.get("picks", {}).items())
        parts.append(f"<p>Each method's pick — {html.escape(picks)}. Knee: {html.escape(sw.knee.reason)}.</p>")
        frame = sw.to_frame().drop(columns=["seconds"])
        stab = getattr(seg, "k_stability", None)  # None in segmentations saved before it existed
        note = ""
        if stab is not None:
            frame = frame.join(stab)
            note = (" Stability: the segments' mean Jaccard similarity with the clusters of refits on subsets of "
                    "the customers (0.75 or more: stable); least stable: its lowest segment's.")
        parts.append(f"<p class='muted'>↑ higher is better, ↓ lower is better.{note}</p>"
                     + _table(readable_columns(frame), floatfmt=lambda v: readable_number(v, 4)))

    parts.append("<h2>Profiles</h2><p>Mean and median of each feature in original units; relative importance "
                 "is the segment's typical value over all customers', minus 1. Typical is the mean, or for a "
                 "feature clustered in log1p units the value the k-means centre sits on (expm1 of the mean "
                 "log1p, about the geometric mean), so a few customers who spend a hundred times more do not "
                 "put a segment of high spenders below average. A feature with values below zero has none "
                 "(blank): a ratio to an average near zero says nothing.</p>")
    parts.append(_profiles_table(seg))

    if seg.rfm_mix is not None:
        mix = seg.rfm_mix.copy()
        mix.insert(0, "name", [seg.names[s] for s in mix.index])
        parts.append("<h2>Against the classic RFM grid</h2><p>Share of each segment's customers in each "
                     "RFM grid segment (from the R and F scores), to read the clusters against names "
                     "marketing already uses.</p>" + _table(mix, floatfmt="{:.0%}"))

    if seg.composition:
        parts.append("<h2>Who is in each segment</h2><p>Columns not clustered on, by segment: the share of "
                     "each segment's customers at each value, and of all customers in the last row.</p>")
        for col, tab in seg.composition.items():
            named = tab.copy()
            named.insert(0, "name", [seg.names.get(s, "all customers") for s in named.index])
            parts.append(f"<h3>{html.escape(str(col))}</h3>" + _table(named, floatfmt="{:.0%}"))

    if items is not None:
        parts.append(_items_section(items))

    if seg.rules is not None and seg.k > 1:
        parts.append("<h2>A rule for each segment</h2><p>A few thresholds on the features, in original units, "
                     "that select each segment's customers from the table: for a CRM filter or a SQL "
                     "<code>WHERE</code>. Coverage is the share of the segment the rule selects, precision the "
                     "share of the selected customers in the segment; where they are low the segment is not "
                     "a box in these features, and the labels file targets it exactly.</p>")
        parts.append(_table(seg.rules[["name", "rule", "selects", "coverage", "precision"]], floatfmt="{:.0%}"))

    parts.append("<h2>Pictures</h2>")
    for _, caption, png in rendered_figures(seg, items=items) if images is None else images:
        data = base64.b64encode(png).decode("ascii")
        parts.append(f"<figure><img alt='{html.escape(caption)}' src='data:image/png;base64,{data}'>"
                     f"<figcaption>{html.escape(caption)}</figcaption></figure>")
    parts.append("</body></html>")
    return "\n".join(parts)


def _profiles_table(seg, wide=4):
    """The profiles as HTML: a row per segment, or with more than ``wide`` columns
    profiled (three figures each) a row per figure and a column per segment, so the
    table grows down rather than off the page."""
    shares = {c: "{:+,.0%}" for c in seg.profiles.columns if str(c).endswith(" rel. importance")}
    formats = {"share": "{:.1%}", **shares}
    if (len(seg.profiles.columns) - 3) / 3 <= wide:
        return _table(seg.profiles, floatfmt=readable_number, formats=formats)
    flipped = seg.profiles.drop(columns=["name"]).astype(float).T
    flipped.index.name = "segment"
    return ("<p class='muted'>A column per segment (names above).</p>"
            + _table(flipped, floatfmt=readable_number, formats=formats, by_row=True))


def _action(seg, s):
    """What marketing usually does with the RFM grid segment most of segment ``s``'s
    customers are in (a sentence), or "" without an RFM grid."""
    from .features import RFM_ACTIONS

    if seg.rfm_mix is None:
        return ""
    top = seg.rfm_mix.loc[s].idxmax()
    action = RFM_ACTIONS.get(top)
    if action is None:
        return ""
    return (f"<br><span class='muted'>Mostly {html.escape(top)} on the RFM grid "
            f"({seg.rfm_mix.loc[s, top]:.0%}); the usual play: {html.escape(action)}.</span>")


def _columns_note(seg):
    """Which column keys the labels and which columns the default choice of features left out."""
    note = ""
    if seg.id_column is not None:
        note += f" Customers are keyed by {html.escape(str(seg.id_column))}."
    n, cols = seg._gaps()
    if n:
        note += f" {n:,} customers were not segmented: a missing or infinite value in {html.escape(cols)}."
    if seg.read_as_numbers:
        note += (" Read as numbers (amounts and percentages written as text): "
                 + html.escape(", ".join(map(str, seg.read_as_numbers))) + ".")
    if seg.prep.dates:
        note += " " + html.escape(seg.prep.dates_text())
    if seg.prep.missing_text():
        note += " " + html.escape(seg.prep.missing_text())
    for line in seg._feature_warnings():
        note += " " + html.escape(line)
    if seg.prep.bounds is not None:
        note += " " + html.escape(seg.prep.clip_text())
    if seg.left_out:
        note += " Left out of the features: " + html.escape(
            ", ".join(f"{c} ({why})" for c, why in seg.left_out.items())) + "."
    return note


def _source_text(seg):
    """Which columns of the transaction log RFM was computed from, and how (a paragraph)."""
    src = seg.source or {}
    if not src.get("columns"):
        return ""
    cols = src["columns"]
    spent = counts_spend(cols)  # none: rfm(monetary=False)
    spend = f"{cols['amount']!r}" if "amount" in cols else f"{cols.get('quantity')!r} × {cols.get('price')!r}"
    dates = f" (read from {src['dates from']})" if src.get("dates from") else ""
    text = (("Recency, Frequency and Monetary" if spent else "Recency and Frequency (no spend: no Monetary)")
            + f" from the transaction log's columns: customer {cols['customer']!r}, date {cols['date']!r}{dates}"
            + (f", invoice {cols['invoice']!r}" if cols.get("invoice") else ", no invoice column (Frequency counts "
               "rows)")
            + (f", spend {spend}." if spent else "."))
    if src.get("joined"):
        tables = [f"{j['table']} by {j['on']!r} ({'several rows' if j['parts'] else 'one row'} per key)"
                  for j in src["joined"]]
        text += f" The log's rows were first joined to {' and then '.join(tables)}."
    if src.get("guessed"):
        text += f" Read off their names: {', '.join(map(str, src['guessed']))}."
    if src.get("snapshot"):
        snap = pd.Timestamp(src["snapshot"])
        text += f" Recency counts days to {snap:%Y-%m-%d}{f' {snap:%H:%M}' if snap != snap.normalize() else ''}."
    if src.get("since"):
        text += f" Purchases are counted from {day_text(src['since'])} on."
    carried = (src.get("attributes") or {}).get("columns")
    if carried:
        how = (" (chosen as the columns of categories with one value per customer)"
               if src["attributes"].get("auto") else "")
        text += f" Carried per customer, each its most frequent value: {', '.join(map(str, carried))}{how}."
    if src.get("returns"):
        from .features import returns_text

        text += " " + returns_text(src["returns"])
    if src.get("currency"):
        from ._currency import currency_text

        text += " " + currency_text(src["currency"])
    if (src.get("status") or {}).get("dropped"):
        from ._order_status import status_text

        text += " " + status_text(src["status"])
    if (src.get("duplicates") or {}).get("rows"):
        from .features import duplicates_text

        text += " " + duplicates_text(src["duplicates"])
    shares = [c for c in (src.get("mix") or {}).get("columns", ()) if c in seg.features]
    if shares:
        text += (f" Each customer's share of spend by {src['mix']['column']!r} was segmented on beside R, F and M: "
                 f"{', '.join(map(str, shares))}.")
    return f"<p>{html.escape(text)}</p>" + _joined_text(src)


def _joined_text(src):
    """The customer table joined by :func:`fastseg.join_customers` (a paragraph, or "")."""
    joined = src.get("customers")
    if not joined:
        return ""
    text = (f"Joined from a customer table by {joined['on']!r}: {', '.join(map(str, joined['columns']))} "
            f"({joined['matched']:,} customers found there, {joined['unmatched']:,} not).")
    return f"<p>{html.escape(text)}</p>"


def _transform_text(seg):
    """Which features were clustered in log1p units, and why the others kept theirs: the
    reader should know which did."""
    if seg.params.get("transform") not in ("auto", "log1p"):
        return "none"
    logged = [f for f in seg.features if f in seg.prep.logged]
    kept = [f for f in seg.features if f not in seg.prep.logged]
    negative = [f for f in kept if seg.data[f].min() < 0]
    even = [f for f in kept if f not in negative]
    text = f"log1p of {', '.join(map(str, logged))}" if logged else "log1p of none"
    why = [f"{', '.join(map(str, cols))} kept as is: {reason}" for cols, reason in
           ((even, "not made more symmetric by log1p"), (negative, "negative values")) if cols]
    return text + (f" ({'; '.join(why)})" if why else "")


def _sentence(seg, s):
    bits = []
    for f in seg.features:
        mean = seg.profiles.loc[s, f"{f} mean"]
        rel = seg.profiles.loc[s, f"{f} rel. importance"]
        median = seg.profiles.loc[s, f"{f} median"]
        vs = "" if np.isnan(rel) else f", {rel:+,.0%} vs all"
        bits.append(f"{html.escape(str(f))} median {readable_number(median)} (mean {readable_number(mean)}{vs})")
    return "; ".join(bits) + "."


def report(segmentation, path, title="Customer segmentation", images=None, items=None):
    """Write one self-contained HTML report (images embedded) of ``segmentation``.

    Sections: segments and their descriptions, data summary, cleaning summary (for RFM
    input), the evidence for k, profiles, the classic RFM grid (for RFM input), the
    described columns, what each segment buys (with items), a threshold rule per
    segment, pictures. Written atomically: a failure leaves no partial file. ``images``:
    :func:`rendered_figures` of ``segmentation`` when the caller has drawn them already
    (``fastseg demo`` also saves them as files). ``items``: the
    :func:`fastseg.segment_items` table of ``segmentation`` and the log's baskets
    (default: ``segmentation.items``, see :meth:`fastseg.Segmentation.with_items`).

    Returns
    -------
    pathlib.Path
    """
    from pathlib import Path

    atomic_write_text(path, render(segmentation, title=title, images=images, items=items))
    return Path(path)
