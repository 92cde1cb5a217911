"""RFM and end-to-end segmentation on a 10-million-row transaction log (CPU).

    python bench/rfm_e2e.py                 # 10,000,000 rows, 1,000,000 customers
    python bench/rfm_e2e.py --rows 1000000 --customers 100000

Times (1) fastseg.rfm on the in-memory log (target <= 15 s on the 2-core machine),
fastseg.baskets and fastseg.segment_items on it (what each segment buys), and
(2) `fastseg segment LOG.csv --rfm ...` as a subprocess, from reading the CSV to writing
labels, the items table and the report (target <= 60 s), printing the engine's share;
then the same with ``--by items`` (segments found on what each customer bought).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from datetime import date

import fastseg
from fastseg.datasets import online_retail


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rows", type=int, default=10_000_000)
    ap.add_argument("--customers", type=int, default=1_000_000)
    ap.add_argument("--keep", help="folder to keep the CSV and outputs in")
    args = ap.parse_args(argv)

    t = time.perf_counter()
    tx = online_retail(args.customers, n_rows=args.rows, seed=0)
    t_gen = time.perf_counter() - t
    cols = dict(customer="CustomerID", date="InvoiceDate", invoice="InvoiceNo", quantity="Quantity",
                price="UnitPrice")
    fastseg.rfm(tx.iloc[:10000], **cols)
    t = time.perf_counter()
    table = fastseg.rfm(tx, **cols)
    t_rfm = time.perf_counter() - t

    folder = args.keep or tempfile.mkdtemp(prefix="fastseg-e2e-")
    csv = os.path.join(folder, "transactions.csv")
    t = time.perf_counter()
    tx.to_csv(csv, index=False)
    t_write = time.perf_counter() - t
    cmd = [sys.executable, "-m", "fastseg.cli", "segment", csv, "--rfm", "--customer", "CustomerID", "--date",
           "InvoiceDate", "--invoice", "InvoiceNo", "--quantity", "Quantity", "--price", "UnitPrice",
           "--out", os.path.join(folder, "labels.csv"), "--report", os.path.join(folder, "report.html"),
           "--items", os.path.join(folder, "items.csv"), "--device", "cpu"]
    t = time.perf_counter()
    done = subprocess.run(cmd, capture_output=True, text=True)
    t_e2e = time.perf_counter() - t
    if done.returncode:
        print(done.stderr)
        raise SystemExit(done.returncode)
    by_items = [*cmd, "--by", "items"]  # segments of tastes, found on the baskets
    by_items[by_items.index("--out") + 1] = os.path.join(folder, "labels-by-items.csv")
    by_items[by_items.index("--report") + 1] = os.path.join(folder, "report-by-items.html")
    by_items[by_items.index("--items") + 1] = os.path.join(folder, "items-by-items.csv")
    t = time.perf_counter()
    done = subprocess.run(by_items, capture_output=True, text=True)
    t_e2e_items = time.perf_counter() - t
    if done.returncode:
        print(done.stderr)
        raise SystemExit(done.returncode)
    t = time.perf_counter()
    seg = fastseg.Segmenter(random_state=0, device="cpu").fit(table)
    t_seg = time.perf_counter() - t
    t = time.perf_counter()
    b = fastseg.baskets(tx, **cols, item="StockCode", item_names="Description")
    t_baskets = time.perf_counter() - t
    t = time.perf_counter()
    items = fastseg.segment_items(b, seg)
    t_items = time.perf_counter() - t
    t = time.perf_counter()
    seg_items = fastseg.Segmenter(random_state=0, device="cpu").fit(table, baskets=b)
    t_seg_items = time.perf_counter() - t

    print(f"# {date.today()} · {os.cpu_count()} cores · {args.rows:,} rows, {len(table):,} customers with valid rows")
    print("| step | seconds | target |")
    print("|---|---|---|")
    print(f"| generate the log (not timed against a target) | {t_gen:.1f} | |")
    print(f"| fastseg.rfm on the in-memory log | {t_rfm:.1f} | <= 15 |")
    print(f"| write the CSV (setup, not timed against a target) | {t_write:.1f} | |")
    print(f"| `fastseg segment --rfm` end to end (read CSV → labels + report) | {t_e2e:.1f} | <= 60 |")
    print(f"| of which the segmentation (Segmenter.fit, in-process) | {t_seg:.1f} | |")
    print(f"| fastseg.baskets on the in-memory log ({b.shape[1]:,} items, {b.matrix.nnz:,} pairs) | {t_baskets:.1f} | |")
    print(f"| fastseg.segment_items ({len(items)} items stand out) | {t_items:.2f} | |")
    print(f"| `fastseg segment --rfm --by items` end to end (segments found on the baskets) | {t_e2e_items:.1f} | |")
    print(f"| of which the segmentation (Segmenter.fit(table, baskets=b), in-process) | {t_seg_items:.1f} | |")
    print(f"k = {seg.k} ({seg.k_reason})")
    print(f"by items: k = {seg_items.k} ({seg_items.k_reason})")


if __name__ == "__main__":
    main()
