/* fastseg CPU kernel: nearest centre of each row, vectorised across rows.
 *
 * Compiled at first use with the machine's C compiler (-O3 -march=native) and loaded
 * with ctypes by fastseg/backend/cpu_kernels.py; without a compiler the NumPy path
 * does the same job. Kernels know nothing of Python: plain pointers, sizes and a
 * documented layout. C11 with GCC/Clang vector extensions (AVX2 with -march=native on
 * x86-64, NEON on arm64, two halves on older targets).
 *
 * Why not BLAS: with the few features customer data has (d ≤ 24), a GEMM of k × d by
 * d × rows is limited by packing, not arithmetic, and the argmin afterwards is a second
 * pass over a k × rows tile. Here LANES rows sit side by side in one vector register
 * (a transposed copy of RG·LANES rows, d ≤ FASTSEG_DMAX), each centre's −2c_f is
 * broadcast, and the distances of J = 6 centres (2 for the last few) to RG vectors of
 * rows are accumulated in registers, then folded into a running minimum that keeps the first index on ties
 * (numpy's argmin rule: strict less-than, centres in increasing order). Every row's
 * arithmetic is the same whatever the row count, block or thread: results do not
 * depend on how the rows were cut.
 *
 *   X       (n, ldx)  IN   row-major rows, d ≤ FASTSEG_DMAX values used per row
 *   C2      (kp, d)   IN   −2·centres, kp even (a padding row: zeros)
 *   cn      (kp)      IN   ‖c‖² (padding: +inf, never chosen)
 *   labels  (n)       OUT  index of the nearest centre
 *   mins    (n)       OUT  ‖c‖² − 2 x·c of that centre (NULL: skipped)
 *   w       (n)       IN   row weights, read only with sums
 *   sums    (k, d)    IN/OUT  float64; when not NULL, w·x of every row is added to its
 *                     centre's row while the rows are still in L1 (a Lloyd step with no
 *                     previous labels needs no second pass over X), in row order
 *   counts  (k)       IN/OUT  float64, w added likewise (with sums)
 * Returns 0, or -1 when d or kp is outside what the kernel takes (nothing written).
 */

#include <math.h>
#include <stdint.h>

#define FASTSEG_DMAX 64 /* rows are transposed into a stack buffer of this many features */
#define J_MAIN 6        /* centres per step: 12 accumulators + 2 row vectors in registers */
#define J_TAIL 2        /* the last kp mod 6 centres, so little is padded */
#define RG 2            /* vectors of rows per step */

int fastseg_cpu_abi(void) { return 2; }
int fastseg_cpu_dmax(void) { return FASTSEG_DMAX; }
int fastseg_cpu_kpad(void) { return J_TAIL; }

/* One step: centres j0 .. j0+J-1 against the RG row vectors in xt, folded into the
 * running minimum (best, bidx). J is a constant at each call, so the loops unroll. */
#define DEFINE_STEP(NAME, T, ITYPE)                                                              \
    static inline __attribute__((always_inline)) void NAME##_step(                               \
        const NAME##_v (*xt)[RG], int64_t d, const T *C2, const T *cn, int64_t j0, const int J,  \
        NAME##_v *best, NAME##_m *bidx) {                                                        \
        NAME##_v acc[J_MAIN][RG];                                                                \
        for (int j = 0; j < J; j++)                                                              \
            for (int g = 0; g < RG; g++) acc[j][g] = (NAME##_v){0} + cn[j0 + j];                 \
        const T *c = C2 + j0 * d;                                                                \
        for (int64_t f = 0; f < d; f++)                                                          \
            for (int j = 0; j < J; j++) {                                                        \
                const T cb = c[j * d + f]; /* a scalar operand is broadcast */                   \
                for (int g = 0; g < RG; g++) acc[j][g] += xt[f][g] * cb;                         \
            }                                                                                    \
        for (int j = 0; j < J; j++) {                                                            \
            const NAME##_m id = (NAME##_m){0} + (ITYPE)(j0 + j);                                 \
            for (int g = 0; g < RG; g++) {                                                       \
                const NAME##_m lt = acc[j][g] < best[g]; /* strict: the first index wins */      \
                best[g] = (NAME##_v)(((NAME##_m)acc[j][g] & lt) | ((NAME##_m)best[g] & ~lt));    \
                bidx[g] = (id & lt) | (bidx[g] & ~lt);                                           \
            }                                                                                    \
        }                                                                                        \
    }

#define DEFINE_NEAREST(NAME, T, LANES, ITYPE)                                                    \
    typedef T NAME##_v __attribute__((vector_size(LANES * sizeof(T))));                          \
    typedef ITYPE NAME##_m __attribute__((vector_size(LANES * sizeof(T))));                      \
    DEFINE_STEP(NAME, T, ITYPE)                                                                  \
                                                                                                 \
    int NAME(const T *X, int64_t n, int64_t d, int64_t ldx, const T *C2, const T *cn, int64_t kp, \
             int32_t *labels, T *mins, const T *w, double *sums, double *counts) {               \
        if (d < 1 || d > FASTSEG_DMAX || kp < J_TAIL || kp % J_TAIL || ldx < d) return -1;       \
        NAME##_v xt[FASTSEG_DMAX][RG];                                                           \
        const int G = RG * LANES;                                                                \
        const int64_t k_main = kp - kp % J_MAIN;                                                 \
        for (int64_t i0 = 0; i0 < n; i0 += G) {                                                  \
            const int rows = n - i0 < G ? (int)(n - i0) : G;                                     \
            for (int r = 0; r < G; r++) { /* transpose; missing rows are zeros */                \
                if (r < rows) {                                                                  \
                    const T *xr = X + (i0 + r) * ldx;                                            \
                    for (int64_t f = 0; f < d; f++) xt[f][r / LANES][r % LANES] = xr[f];         \
                } else {                                                                         \
                    for (int64_t f = 0; f < d; f++) xt[f][r / LANES][r % LANES] = 0;             \
                }                                                                                \
            }                                                                                    \
            NAME##_v best[RG];                                                                   \
            NAME##_m bidx[RG];                                                                   \
            for (int g = 0; g < RG; g++) {                                                       \
                best[g] = (NAME##_v){0} + (T)INFINITY;                                           \
                bidx[g] = (NAME##_m){0};                                                         \
            }                                                                                    \
            int64_t j0 = 0;                                                                      \
            for (; j0 < k_main; j0 += J_MAIN) NAME##_step(xt, d, C2, cn, j0, J_MAIN, best, bidx); \
            for (; j0 < kp; j0 += J_TAIL) NAME##_step(xt, d, C2, cn, j0, J_TAIL, best, bidx);    \
            for (int r = 0; r < rows; r++) {                                                     \
                const int32_t lab = (int32_t)bidx[r / LANES][r % LANES];                         \
                labels[i0 + r] = lab;                                                            \
                if (mins) mins[i0 + r] = best[r / LANES][r % LANES];                             \
                if (sums) {                                                                      \
                    const T *xr = X + (i0 + r) * ldx;                                            \
                    const double wr = (double)w[i0 + r];                                         \
                    double *sr = sums + (int64_t)lab * d;                                        \
                    for (int64_t f = 0; f < d; f++) sr[f] += wr * (double)xr[f];                 \
                    counts[lab] += wr;                                                           \
                }                                                                                \
            }                                                                                    \
        }                                                                                        \
        return 0;                                                                                \
    }

DEFINE_NEAREST(nearest_f32, float, 8, int32_t)
DEFINE_NEAREST(nearest_f64, double, 4, int64_t)
