"""The evidence behind ``Segmenter(transform="auto")``: log1p only where it makes a feature
more symmetric, against log1p of every non-negative feature (the default before) and no
transform, on data whose groups are known.

Each fit is ``Segmenter(k=<true k>, stability=0, random_state=0)`` on the named features,
scored by the adjusted Rand index against the known groups: the shipped mall customers at
five sizes (income and score, then with age), and scikit-learn's iris, wine and breast
cancer data (every column). RFM tables of the shipped log at three sizes show which
features "auto" takes the log1p of. Run: ``python bench/transform_choice.py`` (a few seconds).
"""

import numpy as np
import pandas as pd
from sklearn import datasets as skd
from sklearn.metrics import adjusted_rand_score

import fastseg
from fastseg import Segmenter

INCOME_SCORE = ["Annual Income (k$)", "Spending Score (1-100)"]


def _fit(df, features, k, transform):
    seg = Segmenter(features=features, k=k, transform=transform, random_state=0, stability=0).fit(df)
    return seg.labels["segment"].to_numpy(), seg.prep.logged


def rows():
    for n, seed in ((200, 0), (500, 7), (1000, 5), (2000, 0), (5000, 1)):
        df, truth = fastseg.datasets.mall_customers(n, seed=seed, return_groups=True)
        for features in (INCOME_SCORE, ["Age", *INCOME_SCORE]):
            yield f"mall {n} #{seed}, {len(features)} features", df, features, truth, 5
    for name in ("iris", "wine", "breast_cancer"):
        d = getattr(skd, f"load_{name}")()
        df = pd.DataFrame(d.data, columns=d.feature_names)
        yield f"{name.replace('_', ' ')}", df, list(df.columns), d.target, len(np.unique(d.target))


def main():
    print("| data | k | log1p under auto | ARI auto | ARI log1p (all) | ARI none |")
    print("|---|---|---|---|---|---|")
    wins = 0
    for name, df, features, truth, k in rows():
        got = {}
        for how in ("auto", "log1p", None):
            labels, logged = _fit(df, features, k, how)
            got[how] = adjusted_rand_score(truth, labels)
            if how == "auto":
                taken = ", ".join(logged) if len(logged) <= 3 else f"{len(logged)} of {len(features)}"
        wins += got["auto"] >= max(got["log1p"], got[None]) - 1e-12
        print(f"| {name} | {k} | {taken or 'none'} | {got['auto']:.3f} | {got['log1p']:.3f} | {got[None]:.3f} |")
    print(f"\nauto at least as good as both others on {wins} of 13 data sets")
    for n in (500, 2000, 8000):
        table = fastseg.rfm(fastseg.datasets.online_retail(n, seed=0))
        logged = Segmenter(k=5, random_state=0, stability=0).fit(table).prep.logged
        print(f"retail RFM, {n} customers: auto takes the log1p of {', '.join(logged)}")


if __name__ == "__main__":
    main()
