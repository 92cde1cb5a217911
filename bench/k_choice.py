"""How often each way of choosing k finds the known number of groups.

The evidence behind ``fastseg.sweep``'s ``best_k`` (the vote of the knee, silhouette,
Calinski–Harabasz and Davies–Bouldin, ties to the knee), set beside each method alone
and the gap statistic (Tibshirani et al., 2001: uniform references in the box of the
principal components, the first k within one standard error of the next) and the most
stable k (``fastseg sweep --stability 10``: the highest mean segment stability over 10
refits on 80% subsets, :func:`fastseg.stability.k_stability`), on data whose number of
groups is known:

* 48 make_blobs draws: 3 to 8 groups of unequal sizes, 2 to 8 dimensions, 500 to
  10,000 rows, spreads from well apart to overlapping, one in three stretched by a
  random linear map;
* scikit-learn's iris (3), wine (3), breast cancer (2) and digits (10, k up to 15);
  the mall customers' income and score (5); RFM of the shipped online-retail log
  (5 kinds of customer) at 2,000 and 20,000 customers, two seeds each.

Every matrix is standardised; each sweep runs k = 2..10 with n_init=3.

    python bench/k_choice.py           # about a minute on 2 cores
"""

from __future__ import annotations

import warnings

import numpy as np
from sklearn import datasets as skd
from sklearn.preprocessing import StandardScaler

from fastseg import datasets, rfm
from fastseg.stability import k_stability
from fastseg.sweep import sweep

BEST = {"silhouette": max, "calinski_harabasz": max, "davies_bouldin": min}
ROLES = dict(customer="CustomerID", date="InvoiceDate", invoice="InvoiceNo", quantity="Quantity", price="UnitPrice")


def gap_statistic(X, ks, inertia, n_refs=10):
    """Tibshirani's choice: the smallest k with gap(k) >= gap(k+1) - s(k+1); ``inertia``:
    the sweep of X's, by k."""
    logw = np.log([inertia[k] for k in ks])
    Xc = X - X.mean(0)
    _, _, vt = np.linalg.svd(Xc, full_matrices=False)
    P = Xc @ vt.T
    rng = np.random.default_rng(0)
    ref = np.array([np.log(list(sweep(rng.uniform(P.min(0), P.max(0), P.shape) @ vt, k=ks, random_state=b,
                                      metrics=("inertia",)).inertia.values())) for b in range(n_refs)])
    gap, s = ref.mean(0) - logw, ref.std(0) * np.sqrt(1 + 1 / n_refs)
    return next((ks[i] for i in range(len(ks) - 1) if gap[i] >= gap[i + 1] - s[i + 1]), ks[-1])


def cases():
    """(name, matrix, true k, k range) for every data set of the comparison."""
    rng = np.random.default_rng(12345)
    for i in range(48):
        k, d = int(rng.integers(3, 9)), int(rng.choice([2, 3, 5, 8]))
        n = int(rng.choice([500, 2000, 10000]))
        sizes = np.maximum((rng.dirichlet(np.full(k, 3.0)) * n).astype(int), 10)
        std = float(rng.uniform(0.6, 1.6))
        X, _ = skd.make_blobs(n_samples=list(sizes), n_features=d, cluster_std=std, center_box=(-8, 8),
                              random_state=int(rng.integers(1 << 30)))
        if i % 3 == 2:  # stretched: clusters no longer round
            X = X @ rng.normal(size=(d, d))
        yield f"blobs {i}", X, k, range(2, 11)
    yield "iris", skd.load_iris().data, 3, range(2, 11)
    yield "wine", skd.load_wine().data, 3, range(2, 11)
    yield "breast cancer", skd.load_breast_cancer().data, 2, range(2, 11)
    yield "digits", skd.load_digits().data, 10, range(2, 16)
    yield "mall (income, score)", datasets.mall_customers()[["Annual Income (k$)", "Spending Score (1-100)"]], 5, \
        range(2, 11)
    for n in (2000, 20000):
        for seed in (0, 1):
            t = rfm(datasets.online_retail(n, seed=seed), **ROLES)
            yield f"retail RFM {n} #{seed}", np.log1p(t[["recency", "frequency", "monetary"]].to_numpy(float)), 5, \
                range(2, 11)


def main():
    warnings.simplefilter("ignore")
    methods = ["vote (best_k)", "knee", *BEST, "gap", "most stable"]
    hits = {g: {m: [0, 0] for m in methods} for g in ("blobs", "real")}
    counts = {"blobs": 0, "real": 0}
    print(f"{'data':24s} {'true':>4s} " + " ".join(f"{m[:12]:>12s}" for m in methods))
    for name, X, k_true, ks in cases():
        X = StandardScaler().fit_transform(np.asarray(X, dtype=float))
        sw = sweep(X, k=list(ks), n_init=3, random_state=0)
        picks = {"vote (best_k)": sw.best_k, "knee": sw.knee.k, "gap": gap_statistic(X, list(ks), sw.inertia)}
        picks.update({m: f(sw.metrics[m], key=sw.metrics[m].get) for m, f in BEST.items()})
        picks["most stable"] = int(k_stability(X, sw, n_resamples=10, random_state=0)["stability"].idxmax())
        group = "blobs" if name.startswith("blobs") else "real"
        counts[group] += 1
        for m in methods:
            k = picks[m]
            hits[group][m][0] += k == k_true
            hits[group][m][1] += k is not None and abs(k - k_true) <= 1
        print(f"{name:24s} {k_true:4d} " + " ".join(f"{str(picks[m]):>12s}" for m in methods), flush=True)
    print("\nfound the true k (exactly / within one):")
    for g, n in counts.items():
        print(f"{g + f' ({n})':24s} {'':4s} " + " ".join(f"{f'{a}/{b}':>12s}" for a, b in hits[g].values()))


if __name__ == "__main__":
    main()
