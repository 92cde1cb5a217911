/* fastseg CPU kernels: nearest centre of each row, and k-means++ candidate potentials,
 * vectorised across rows.
 *
 * Compiled at first use with the machine's C compiler (-O3 -march=native) and loaded
 * with ctypes by fastseg/backend/cpu_kernels.py; without a compiler the NumPy path
 * does the same job. Kernels know nothing of Python: plain pointers, sizes and a
 * documented layout. C11 with GCC/Clang vector extensions (AVX2 with -march=native on
 * x86-64, NEON on arm64, two halves on older targets).
 *
 * Why not BLAS: with the few features customer data has (a handful; the engine calls
 * this up to 32 or 48, see _kernel_pays in backend/cpu.py), a GEMM of k × d by d × rows
 * is limited by packing, not arithmetic, and the argmin afterwards is a second pass over
 * a k × rows tile. Here LANES rows sit side by side in one vector register (a transposed
 * copy of RG·LANES rows, d ≤ FASTSEG_DMAX), each centre's −2c_f is broadcast, and the
 * distances of J = 6 centres (2 for the last few) to RG vectors of rows are accumulated
 * in registers, then folded into a running minimum that keeps the first index on ties
 * (numpy's argmin rule: strict less-than, centres in increasing order). Every row's
 * arithmetic is the same whatever the row count, block or thread: labels do not depend
 * on how the rows were cut.
 *
 *   X       (n, ldx)  IN   row-major rows, d ≤ FASTSEG_DMAX values used per row
 *   C2      (kp, d)   IN   −2·centres, kp even (a padding row: zeros)
 *   cn      (kp)      IN   ‖c‖² (padding: +inf, never chosen)
 *   k                 IN   the number of real centres (≤ kp): labels are below it
 *   labels  (n)       OUT  index of the nearest centre; with sums, IN as well: the
 *                     previous labels (−1: none yet)
 *   mins    (n)       OUT  ‖c‖² − 2 x·c of that centre (NULL: skipped)
 *   w       (n)       IN   row weights, read only with sums
 *   sums    (k, d)    IN/OUT  float64 per-centre totals of w·x, or NULL. Given, a row whose
 *                     label changes moves from its old centre's total (if it had one) to
 *                     its new one, while it is still in L1: Lloyd's incremental update,
 *                     with no second pass over X; rows in order, so the result is fixed
 *   counts  (k)       IN/OUT  float64, w moved likewise (with sums)
 *   changed (1)       IN/OUT  with sums: the number of rows whose label changed, added
 *   s1, s2  (d)       IN   or NULL. Given (exact totals of unit-weight rows, fastseg._exact):
 *                     sums is (2, k, d) and counts (2, k), and a moving row adds its two
 *                     grid levels hi = (x + s1) − s1, lo = ((x − hi) + s2) − s2 instead of
 *                     x, and 1 to its level-0 count (w is not read). These are additions only, so
 *                     no contraction into FMAs can change them: the levels are those
 *                     fastseg._exact.split gives, and their sums are exact in any order.
 *
 * potentials: for t k-means++ candidates (C2, cn as above, kp ≥ t), each row's
 * min(closest, ‖x − c‖²) (the same formula: x_sq + ‖c‖² − 2 x·c, clamped at 0), and
 * per candidate the float64 sums of those times w, kept in LANES partial sums.
 *   x_sq    (n)       IN   ‖x‖² of every row
 *   closest (n)       IN   the distance to the nearest chosen centre so far
 *   out     (t, ldo)  OUT  row j: the candidate j's new closest distances
 *   lanes   (t, LANES) IN/OUT  float64, the weighted sums added, row r to lane r mod LANES
 *                     (LANES = 8 for float, 4 for double: fastseg_cpu_lanes_*)
 *
 * Both return 0, or -1 when d, k or kp is outside what the kernel takes (nothing written).
 */

#include <math.h>
#include <stdint.h>

#define FASTSEG_DMAX 64 /* rows are transposed into a stack buffer of this many features */
#define J_MAIN 6        /* centres per step: 12 accumulators + 2 row vectors in registers */
#define J_TAIL 2        /* the last kp mod 6 centres, so little is padded */
#define RG 2            /* vectors of rows per step */

int fastseg_cpu_abi(void) { return 6; }
int fastseg_cpu_dmax(void) { return FASTSEG_DMAX; }
int fastseg_cpu_kpad(void) { return J_TAIL; }
int fastseg_cpu_lanes_f32(void) { return 8; }
int fastseg_cpu_lanes_f64(void) { return 4; }

/* Shared by both kernels, per element type: the transposed copy of a group of rows, and
 * one step of J centres' ‖c‖² − 2 x·c against it (J is a constant at each call, so the
 * loops unroll and the accumulators stay in registers). */
#define DEFINE_COMMON(NAME, T, LANES, ITYPE)                                                     \
    typedef T NAME##_v __attribute__((vector_size(LANES * sizeof(T))));                          \
    typedef ITYPE NAME##_m __attribute__((vector_size(LANES * sizeof(T))));                      \
    typedef T NAME##_vu __attribute__((vector_size(LANES * sizeof(T)), aligned(sizeof(T))));     \
    typedef double NAME##_du __attribute__((vector_size(LANES * sizeof(double)), aligned(8)));   \
    typedef int32_t NAME##_lu __attribute__((vector_size(LANES * sizeof(int32_t)), aligned(4))); \
                                                                                                 \
    static inline int NAME##_load(NAME##_v (*xt)[RG], const T *X, int64_t n, int64_t d,          \
                                  int64_t ldx, int64_t i0) {                                     \
        const int G = RG * LANES;                                                                \
        const int rows = n - i0 < G ? (int)(n - i0) : G;                                         \
        if (rows == G) { /* column by column: each xt vector written whole */                \
            for (int64_t f = 0; f < d; f++)                                                      \
                for (int g = 0; g < RG; g++) {                                                   \
                    NAME##_v v;                                                                  \
                    for (int l = 0; l < LANES; l++) v[l] = X[(i0 + g * LANES + l) * ldx + f];    \
                    xt[f][g] = v;                                                                \
                }                                                                                \
            return rows;                                                                         \
        }                                                                                        \
        for (int r = 0; r < G; r++) { /* transpose; missing rows are zeros */                    \
            if (r < rows) {                                                                      \
                const T *xr = X + (i0 + r) * ldx;                                                \
                for (int64_t f = 0; f < d; f++) xt[f][r / LANES][r % LANES] = xr[f];             \
            } else {                                                                             \
                for (int64_t f = 0; f < d; f++) xt[f][r / LANES][r % LANES] = 0;                 \
            }                                                                                    \
        }                                                                                        \
        return rows;                                                                             \
    }                                                                                            \
                                                                                                 \
    static inline __attribute__((always_inline)) void NAME##_dist(                               \
        const NAME##_v (*xt)[RG], int64_t d, const T *C2, const T *cn, int64_t j0, const int J,  \
        NAME##_v (*acc)[RG]) {                                                                   \
        for (int j = 0; j < J; j++)                                                              \
            for (int g = 0; g < RG; g++) acc[j][g] = (NAME##_v){0} + cn[j0 + j];                 \
        const T *c = C2 + j0 * d;                                                                \
        for (int64_t f = 0; f < d; f++)                                                          \
            for (int j = 0; j < J; j++) {                                                        \
                const T cb = c[j * d + f]; /* a scalar operand is broadcast */                   \
                for (int g = 0; g < RG; g++) acc[j][g] += xt[f][g] * cb;                         \
            }                                                                                    \
    }                                                                                            \
                                                                                                 \
    static inline int NAME##_bad(int64_t d, int64_t kp, int64_t ldx) {                           \
        return d < 1 || d > FASTSEG_DMAX || kp < J_TAIL || kp % J_TAIL || ldx < d;               \
    }

/* Nearest: each step folded into a running minimum (best, bidx); strict less-than, so
 * the first index wins ties. */
#define DEFINE_NEAREST(NAME, P, T, LANES, ITYPE)                                                 \
    /* row i leaves centre `from` (none when −1) for centre `to`; returns 1 */                   \
    static inline int NAME##_move(const T *X, int64_t d, int64_t ldx, const T *w, double *sums,  \
                                  double *counts, const double *s1, const double *s2, int64_t k, \
                                  int64_t i, int32_t from, int32_t to) {                         \
        const T *xr = X + i * ldx;                                                               \
        if (s1) { /* exact: the row's two grid levels, unit weight */                           \
            const int64_t lv = k * d;                                                            \
            double *st = sums + (int64_t)to * d;                                                 \
            double *sf = (from >= 0 && from < k) ? sums + (int64_t)from * d : 0;                 \
            for (int64_t f = 0; f < d; f++) {                                                    \
                const double v = (double)xr[f];                                                  \
                const double hi = (v + s1[f]) - s1[f];                                           \
                const double lo = ((v - hi) + s2[f]) - s2[f];                                    \
                st[f] += hi;                                                                     \
                st[lv + f] += lo;                                                                \
                if (sf) {                                                                        \
                    sf[f] -= hi;                                                                 \
                    sf[lv + f] -= lo;                                                            \
                }                                                                                \
            }                                                                                    \
            counts[to] += 1.0;                                                                   \
            if (sf) counts[from] -= 1.0;                                                         \
            return 1;                                                                            \
        }                                                                                        \
        const double wr = (double)w[i];                                                          \
        double *st = sums + (int64_t)to * d;                                                     \
        for (int64_t f = 0; f < d; f++) st[f] += wr * (double)xr[f];                             \
        counts[to] += wr;                                                                        \
        if (from >= 0 && from < k) { /* any other value: no previous centre */                  \
            double *sf = sums + (int64_t)from * d;                                               \
            for (int64_t f = 0; f < d; f++) sf[f] -= wr * (double)xr[f];                         \
            counts[from] -= wr;                                                                  \
        }                                                                                        \
        return 1;                                                                                \
    }                                                                                            \
                                                                                                 \
    static inline __attribute__((always_inline)) void NAME##_step(                               \
        const P##_v (*xt)[RG], int64_t d, const T *C2, const T *cn, int64_t j0, const int J,     \
        P##_v *best, P##_m *bidx) {                                                              \
        P##_v acc[J_MAIN][RG];                                                                   \
        P##_dist(xt, d, C2, cn, j0, J, acc);                                                     \
        for (int j = 0; j < J; j++) {                                                            \
            const P##_m id = (P##_m){0} + (ITYPE)(j0 + j);                                       \
            for (int g = 0; g < RG; g++) {                                                       \
                const P##_m lt = acc[j][g] < best[g];                                            \
                best[g] = (P##_v)(((P##_m)acc[j][g] & lt) | ((P##_m)best[g] & ~lt));             \
                bidx[g] = (id & lt) | (bidx[g] & ~lt);                                           \
            }                                                                                    \
        }                                                                                        \
    }                                                                                            \
                                                                                                 \
    int NAME(const T *X, int64_t n, int64_t d, int64_t ldx, const T *C2, const T *cn, int64_t kp, \
             int64_t k, int32_t *labels, T *mins, const T *w, double *sums, double *counts,      \
             int64_t *changed, const double *s1, const double *s2) {                             \
        if (P##_bad(d, kp, ldx) || k < 1 || k > kp) return -1;                                   \
        int64_t moved = 0;                                                                       \
        P##_v xt[FASTSEG_DMAX][RG];                                                              \
        const int64_t k_main = kp - kp % J_MAIN;                                                 \
        for (int64_t i0 = 0; i0 < n; i0 += RG * LANES) {                                         \
            const int rows = P##_load(xt, X, n, d, ldx, i0);                                     \
            P##_v best[RG];                                                                      \
            P##_m bidx[RG];                                                                      \
            for (int g = 0; g < RG; g++) {                                                       \
                best[g] = (P##_v){0} + (T)INFINITY;                                              \
                bidx[g] = (P##_m){0};                                                            \
            }                                                                                    \
            int64_t j0 = 0;                                                                      \
            for (; j0 < k_main; j0 += J_MAIN) NAME##_step(xt, d, C2, cn, j0, J_MAIN, best, bidx); \
            for (; j0 < kp; j0 += J_TAIL) NAME##_step(xt, d, C2, cn, j0, J_TAIL, best, bidx);    \
            if (rows == RG * LANES) { /* whole vectors out; rows that moved one by one */        \
                for (int g = 0; g < RG; g++) {                                                   \
                    const P##_lu lab = __builtin_convertvector(bidx[g], P##_lu);                 \
                    int32_t *lp = labels + i0 + g * LANES;                                       \
                    if (sums) {                                                                  \
                        const P##_lu old = *(const P##_lu *)lp;                                  \
                        for (int l = 0; l < LANES; l++)                                          \
                            if (lab[l] != old[l])                                                \
                                moved += NAME##_move(X, d, ldx, w, sums, counts, s1, s2, k,     \
                                                     i0 + g * LANES + l, old[l], lab[l]);        \
                    }                                                                            \
                    *(P##_lu *)lp = lab;                                                         \
                    if (mins) *(P##_vu *)(mins + i0 + g * LANES) = best[g];                      \
                }                                                                                \
                continue;                                                                        \
            }                                                                                    \
            for (int r = 0; r < rows; r++) {                                                     \
                const int32_t lab = (int32_t)bidx[r / LANES][r % LANES];                         \
                if (sums && labels[i0 + r] != lab)                                               \
                    moved += NAME##_move(X, d, ldx, w, sums, counts, s1, s2, k, i0 + r, labels[i0 + r], \
                                         lab);                                                   \
                labels[i0 + r] = lab;                                                            \
                if (mins) mins[i0 + r] = best[r / LANES][r % LANES];                             \
            }                                                                                    \
        }                                                                                        \
        if (sums) *changed += moved;                                                             \
        return 0;                                                                                \
    }

/* Potentials: each step's distances become min(closest, x_sq + acc) (clamped at 0),
 * stored for the caller and, times the weights, added to LANES float64 partial sums per
 * candidate (row r of the data to lane r mod LANES; the caller adds the lanes). */
#define DEFINE_POTENTIALS(NAME, P, T, LANES)                                                     \
    static inline __attribute__((always_inline)) void NAME##_step(                               \
        const P##_v (*xt)[RG], int64_t d, const T *C2, const T *cn, int64_t j0, const int J,     \
        int64_t t, const T *x_sq, const T *closest, const T *w, int64_t i0, int rows, T *out,    \
        int64_t ldo, double *lanes) {                                                            \
        P##_v acc[J_MAIN][RG];                                                                   \
        P##_dist(xt, d, C2, cn, j0, J, acc);                                                     \
        for (int j = 0; j < J && j0 + j < t; j++) {                                              \
            T *o = out + (j0 + j) * ldo + i0;                                                    \
            double *ln = lanes + (j0 + j) * LANES;                                               \
            if (rows == RG * LANES) {                                                            \
                P##_du tot = *(const P##_du *)ln;                                                \
                for (int g = 0; g < RG; g++) {                                                   \
                    P##_v v = acc[j][g] + *(const P##_vu *)(x_sq + i0 + g * LANES);              \
                    v = (P##_v)((P##_m)v & (P##_m)(v > 0)); /* max(v, 0); −ε from rounding */    \
                    const P##_v c = *(const P##_vu *)(closest + i0 + g * LANES);                 \
                    const P##_m lt = c < v;                                                      \
                    v = (P##_v)(((P##_m)c & lt) | ((P##_m)v & ~lt));                             \
                    *(P##_vu *)(o + g * LANES) = v;                                              \
                    tot += __builtin_convertvector(v, P##_du) *                                  \
                           __builtin_convertvector(*(const P##_vu *)(w + i0 + g * LANES), P##_du); \
                }                                                                                \
                *(P##_du *)ln = tot;                                                             \
            } else {                                                                             \
                for (int r = 0; r < rows; r++) {                                                 \
                    T v = acc[j][r / LANES][r % LANES] + x_sq[i0 + r];                           \
                    v = v > 0 ? v : 0;                                                           \
                    v = closest[i0 + r] < v ? closest[i0 + r] : v;                               \
                    o[r] = v;                                                                    \
                    ln[r % LANES] += (double)v * (double)w[i0 + r];                              \
                }                                                                                \
            }                                                                                    \
        }                                                                                        \
    }                                                                                            \
                                                                                                 \
    int NAME(const T *X, int64_t n, int64_t d, int64_t ldx, const T *C2, const T *cn, int64_t kp, \
             int64_t t, const T *x_sq, const T *closest, const T *w, T *out, int64_t ldo,        \
             double *lanes) {                                                                    \
        if (P##_bad(d, kp, ldx) || t > kp || ldo < n) return -1;                                 \
        P##_v xt[FASTSEG_DMAX][RG];                                                              \
        const int64_t k_main = kp - kp % J_MAIN;                                                 \
        for (int64_t i0 = 0; i0 < n; i0 += RG * LANES) {                                         \
            const int rows = P##_load(xt, X, n, d, ldx, i0);                                     \
            int64_t j0 = 0;                                                                      \
            for (; j0 < k_main; j0 += J_MAIN)                                                    \
                NAME##_step(xt, d, C2, cn, j0, J_MAIN, t, x_sq, closest, w, i0, rows, out, ldo, lanes); \
            for (; j0 < kp; j0 += J_TAIL)                                                        \
                NAME##_step(xt, d, C2, cn, j0, J_TAIL, t, x_sq, closest, w, i0, rows, out, ldo, lanes); \
        }                                                                                        \
        return 0;                                                                                \
    }

DEFINE_COMMON(f32, float, 8, int32_t)
DEFINE_COMMON(f64, double, 4, int64_t)
DEFINE_NEAREST(nearest_f32, f32, float, 8, int32_t)
DEFINE_NEAREST(nearest_f64, f64, double, 4, int64_t)
DEFINE_POTENTIALS(potentials_f32, f32, float, 8)
DEFINE_POTENTIALS(potentials_f64, f64, double, 4)
