/* fastseg CPU kernel for sparse rows (CSR): the nearest centre of each row for several
 * centre sets at once (a sweep's k values, or n_init restarts), and each set's
 * per-centre totals, in one pass over the rows.
 *
 * Compiled at first use with the machine's C compiler and loaded with ctypes by
 * fastseg/backend/cpu_kernels.py (which releases the GIL, so the engine's threads run it
 * side by side); without a compiler fastseg/backend/cpu_sparse.py does the same job with
 * SciPy products. Kernels know nothing of Python: plain pointers, sizes and this layout.
 *
 * Why: SciPy multiplies a CSR block by the centres quickly, but its sparse × sparse
 * product for the per-centre totals costs several times the distances (a symbolic pass,
 * then a numeric one, then a densify). Here a row's stored values are read once for
 * the dot products with every centre of every set and once more, while still in L1, to
 * add them to the totals of the centre each set chose.
 *
 * A stored value v at feature j adds v·CT[j, :] to the row's K dot products (a
 * contiguous run of K centres, so the loop vectorises), in float64 whatever T is.
 * Each set then takes the first minimum of ‖c‖² − 2 x·c over its own centres (numpy's
 * argmin rule: strict less-than, centres in increasing order).
 *
 *   indptr  (m + 1)   IN   int64 starts of the rows in indices and vals (any first value)
 *   indices (nnz)     IN   int32 feature of each stored value, < d
 *   vals    (nnz)     IN   stored values, type T
 *   m, d              IN   rows and features
 *   CT      (d, K)    IN   every set's centres, transposed, type T
 *   cn      (K)       IN   float64 ‖c‖²
 *   off     (R + 1)   IN   int64: set r owns centres off[r] .. off[r + 1] − 1
 *   labels  (R)       IN/OUT  pointers to int32 (m): the previous labels on the way in
 *                     (−1: none), the nearest centre of the set (0-based) on the way out
 *   w       (m)       IN   row weights, type T (read with sums or inertia)
 *   x_sq    (m)       IN   float64 ‖x‖², or NULL (then inertia and mins are skipped)
 *   inertia (R)       IN/OUT  float64, Σ w · max(x_sq + min, 0) added per set, or NULL
 *   mins    (m)       OUT  float64 max(x_sq + min, 0) of set 0, or NULL
 *   sums    (K, d)    IN/OUT  float64 totals of w·x per centre, added (NULL: skipped)
 *   counts  (K)       IN/OUT  float64 total w per centre (with sums)
 *   changed (R)       IN/OUT  int64 rows whose label changed, added
 *   dots    (K)       scratch float64
 *
 * Rows are taken in order and every row's arithmetic is its own: labels do not depend
 * on how the rows were cut, and the totals of one call are a fixed-order sum.
 * Returns 0.
 *
 * sparse_moments: each row's ‖x‖² (x_sq, OUT, float64) and the column totals of the
 * stored values (colsum (d), IN/OUT, float64, added to).
 *
 * sparse_dist: the exact ‖x − c‖² of each row to the centre it is labelled with, from
 * direct differences: ‖c‖² plus, over the row's stored values, (x_j − c_j)² − c_j²
 * (features the row does not store contribute c_j², already in ‖c‖²).
 *   C       (k, d)    IN   centres, row-major, type T
 *   cn      (k)       IN   float64 ‖c‖²
 *   labels  (m)       IN   int32, < k
 *   out     (m)       OUT  float64, clamped at 0
 */

#include <stdint.h>

int fastseg_sparse_abi(void) { return 2; }

#define DEFINE_SPARSE_LLOYD(NAME, T)                                                             \
    int NAME(const int64_t *indptr, const int32_t *indices, const T *vals, int64_t m, int64_t d, \
             const T *CT, const double *cn, int64_t K, const int64_t *off, int64_t R,            \
             int32_t **labels, const T *w, const double *x_sq, double *inertia, double *mins,    \
             double *sums, double *counts, int64_t *changed, double *dots) {                     \
        for (int64_t i = 0; i < m; i++) {                                                        \
            const int64_t a = indptr[i], b = indptr[i + 1];                                      \
            for (int64_t c = 0; c < K; c++) dots[c] = 0.0;                                       \
            for (int64_t p = a; p < b; p++) {                                                    \
                const double v = (double)vals[p];                                                \
                const T *row = CT + (int64_t)indices[p] * K;                                     \
                for (int64_t c = 0; c < K; c++) dots[c] += v * (double)row[c];                   \
            }                                                                                    \
            const double wi = (sums || inertia) ? (double)w[i] : 0.0;                            \
            for (int64_t r = 0; r < R; r++) {                                                    \
                const int64_t lo = off[r], hi = off[r + 1];                                      \
                int64_t best = lo;                                                               \
                double bv = cn[lo] - 2.0 * dots[lo];                                             \
                for (int64_t c = lo + 1; c < hi; c++) {                                          \
                    const double dv = cn[c] - 2.0 * dots[c];                                     \
                    if (dv < bv) { bv = dv; best = c; }                                          \
                }                                                                                \
                const int32_t lab = (int32_t)(best - lo);                                        \
                if (labels[r][i] != lab) changed[r]++;                                           \
                labels[r][i] = lab;                                                              \
                if (x_sq) {                                                                      \
                    double e = x_sq[i] + bv;                                                     \
                    e = e > 0.0 ? e : 0.0;                                                       \
                    if (inertia) inertia[r] += wi * e;                                           \
                    if (mins && r == 0) mins[i] = e;                                             \
                }                                                                                \
                if (sums) {                                                                      \
                    double *tot = sums + best * d;                                               \
                    for (int64_t p = a; p < b; p++) tot[indices[p]] += wi * (double)vals[p];     \
                    counts[best] += wi;                                                          \
                }                                                                                \
            }                                                                                    \
        }                                                                                        \
        return 0;                                                                                \
    }

DEFINE_SPARSE_LLOYD(sparse_lloyd_f32, float)
DEFINE_SPARSE_LLOYD(sparse_lloyd_f64, double)

#define DEFINE_SPARSE_ROWS(MOMENTS, DIST, T)                                                     \
    int MOMENTS(const int64_t *indptr, const int32_t *indices, const T *vals, int64_t m,         \
                double *x_sq, double *colsum) {                                                  \
        for (int64_t i = 0; i < m; i++) {                                                        \
            double acc = 0.0;                                                                    \
            for (int64_t p = indptr[i]; p < indptr[i + 1]; p++) {                                \
                const double v = (double)vals[p];                                                \
                acc += v * v;                                                                    \
                colsum[indices[p]] += v;                                                         \
            }                                                                                    \
            x_sq[i] = acc;                                                                       \
        }                                                                                        \
        return 0;                                                                                \
    }                                                                                            \
                                                                                                 \
    int DIST(const int64_t *indptr, const int32_t *indices, const T *vals, int64_t m, int64_t d, \
             const T *C, const double *cn, const int32_t *labels, double *out) {                 \
        for (int64_t i = 0; i < m; i++) {                                                        \
            const T *c = C + (int64_t)labels[i] * d;                                             \
            double acc = cn[labels[i]];                                                          \
            for (int64_t p = indptr[i]; p < indptr[i + 1]; p++) {                                \
                const double cj = (double)c[indices[p]], diff = (double)vals[p] - cj;            \
                acc += diff * diff - cj * cj;                                                    \
            }                                                                                    \
            out[i] = acc > 0.0 ? acc : 0.0;                                                      \
        }                                                                                        \
        return 0;                                                                                \
    }

DEFINE_SPARSE_ROWS(sparse_moments_f32, sparse_dist_f32, float)
DEFINE_SPARSE_ROWS(sparse_moments_f64, sparse_dist_f64, double)
