"""RFM of a shop's event log (REES46's layout: event_time "2019-10-01 00:00:04 UTC",
event_type of view, cart, remove_from_cart and purchase, price, user_id, user_session):
``fastseg.rfm`` with every column read off its name, beside the pandas recipe analysts write
for it (keep the purchases, parse the times, group by user), in one run, from the CSV
(python bench/event_log.py).

Both read the same CSV with ``pd.read_csv`` first (timed apart); the two RFM tables are
checked equal before any time is printed. The recipe checks nothing (blank prices, a
cancelled order, a mistyped year all count) and gives no scores; it is the floor.
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time

import numpy as np
import pandas as pd

from fastseg import rfm


def make_log(n, seed=0):
    """A month of events, ~3% of them purchases, timed to the second."""
    rng = np.random.default_rng(seed)
    users = rng.integers(500_000_000, 500_000_000 + max(n // 20, 1), n)
    secs = np.sort(rng.integers(0, 31 * 86400, n))
    return pd.DataFrame({
        "event_time": (pd.Timestamp("2019-10-01") + pd.to_timedelta(secs, "s")).strftime("%Y-%m-%d %H:%M:%S UTC"),
        "event_type": rng.choice(["view", "cart", "remove_from_cart", "purchase"], n, p=[0.85, 0.08, 0.04, 0.03]),
        "product_id": rng.integers(1_000_000, 1_100_000, n),
        "price": np.round(rng.lognormal(4, 1, n), 2),
        "user_id": users,
        "user_session": [f"{u:x}-{h}" for u, h in zip(users, secs // 3600)],
    })


def recipe(df):
    """The notebook way: purchases, times parsed, per user the last day, sessions, spend."""
    buys = df[df["event_type"] == "purchase"]
    when = pd.to_datetime(buys["event_time"]).dt.tz_localize(None)
    snapshot = when.max() + pd.Timedelta(days=1)
    g = buys.assign(event_time=when).groupby("user_id")
    return pd.DataFrame({"recency": (snapshot - g["event_time"].max()).dt.days,
                         "frequency": g["user_session"].nunique(), "monetary": g["price"].sum()})


def _median(f, rounds):
    times = []
    for _ in range(rounds):
        t = time.perf_counter()
        out = f()
        times.append(time.perf_counter() - t)
    return statistics.median(times), out


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--rows", type=int, default=3_000_000)
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "events.csv")
        make_log(args.rows).to_csv(path, index=False)
        read, df = _median(lambda: pd.read_csv(path), 1)
    ours, table = _median(lambda: rfm(df), args.rounds)
    theirs, want = _median(lambda: recipe(df), args.rounds)
    got = table[["recency", "frequency", "monetary"]].sort_index()
    pd.testing.assert_frame_equal(got, want.sort_index(), check_names=False, check_dtype=False)
    print(f"{args.rows:,} events, {int((df['event_type'] == 'purchase').sum()):,} purchases, {len(table):,} buyers; "
          f"read_csv {read:.2f} s")
    print("| RFM of the event log | fastseg.rfm | pandas recipe | ratio |\n|---|---|---|---|")
    print(f"| {args.rows:,} rows (median of {args.rounds}) | {ours:.2f} s | {theirs:.2f} s | {ours / theirs:.2f} |")


if __name__ == "__main__":
    main()
