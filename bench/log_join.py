"""What joining a table to a transaction log's rows costs: ``fastseg.join_log`` against a
plain ``DataFrame.merge`` of the same tables, in one run (python bench/log_join.py).

The merge is the floor, not a peer: it checks nothing (a key on several rows of both sides
pairs every row with every row; keys of different types do not match).
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np
import pandas as pd

from fastseg import join_log


def _median(f, rounds):
    f()
    times = []
    for _ in range(rounds):
        t = time.perf_counter()
        f()
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--rows", type=int, default=2_000_000, help="rows of the log (orders)")
    ap.add_argument("--customers", type=int, default=200_000)
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args()
    rng = np.random.default_rng(0)
    n, nc = args.rows, args.customers
    orders = pd.DataFrame({"order_id": np.arange(n) * 7 + 3, "customer_id": rng.integers(0, nc, n).astype(str),
                           "date": pd.Timestamp("2023-01-01") + pd.to_timedelta(rng.integers(0, 365 * 86400, n), "s")})
    customers = pd.DataFrame({"customer_id": np.arange(nc).astype(str),
                              "customer_unique_id": rng.integers(0, nc // 2, nc),
                              "state": rng.choice(["SP", "RJ", "MG"], nc)})
    parts = rng.integers(1, 3, n)
    payments = pd.DataFrame({"order_id": np.repeat(orders["order_id"].to_numpy(), parts),
                             "payment_value": rng.gamma(2.0, 20.0, parts.sum())})
    print("| join | join_log | pandas merge |\n|---|---|---|")
    for what, table, key in ((f"lookup: {n:,}-row log × {nc:,} customers, text ids", customers, "customer_id"),
                             (f"parts: {n:,}-row log × {len(payments):,} payments, int ids", payments, "order_id")):
        ours = _median(lambda: join_log(orders, table), args.rounds)
        theirs = _median(lambda: orders.merge(table, on=key, how="left"), args.rounds)
        print(f"| {what} | {ours:.2f} s | {theirs:.2f} s |")


if __name__ == "__main__":
    main()
