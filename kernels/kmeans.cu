// fastseg k-means kernels: fused assignment and deterministic per-cluster accumulation.
//
// Compiled at run time by cupy.RawModule (templates fetched through name_expressions,
// float and double); CI compiles them with nvcc so a syntax error cannot land.
// Kernels know nothing of Python: plain pointers, sizes and a documented layout.
//
// Layout: X is row-major (n, d); centres C row-major (k, d), in the same shifted
// coordinates as X's rows after subtracting `shift` (see below); labels int32.
// Row weights w (n) may be nullptr: every weight is 1 (unweighted data needs no array).

#ifndef FASTSEG_KMEANS_CU
#define FASTSEG_KMEANS_CU

// A hook for the CPU emulation of these kernels (tests/cuda_on_cpu), which checks that
// every vector load is aligned; nothing on a GPU.
#ifndef FASTSEG_CHECK_ALIGNED
#define FASTSEG_CHECK_ALIGNED(p, bytes)
#endif

// Row i's weight: w[i], or 1 without weights.
template <typename T>
__device__ __forceinline__ T row_weight(const T* __restrict__ w, long long i) {
    return w != nullptr ? w[i] : T(1);
}

// Rows held in registers.
//
// A row of d <= 32 features is kept in registers, zero-padded to the width D (d rounded
// up to a multiple of 4; the kernels' template argument), and each thread holds R such
// rows. The zeros add exactly nothing to a dot product (fma(x, 0, s) == s), so the
// padding changes no result. R rows per thread is what makes the distance loop run at
// the FMA rate: every centre value read from shared memory (four at a time) feeds R
// multiply-adds instead of one. R keeps the rows within 64 32-bit registers.
template <typename T, int D>
__host__ __device__ constexpr int rows_per_thread() {
    return D * (int)sizeof(T) / 4 <= 16 ? 4 : (D * (int)sizeof(T) / 4 <= 32 ? 2 : 1);
}

// Four consecutive values from a 16-byte-aligned address (shared memory): one vector load
// for float, two for double.
__device__ __forceinline__ void load4(const float* p, float (&v)[4]) {
    FASTSEG_CHECK_ALIGNED(p, 16);
    const float4 q = *reinterpret_cast<const float4*>(p);
    v[0] = q.x; v[1] = q.y; v[2] = q.z; v[3] = q.w;
}

__device__ __forceinline__ void load4(const double* p, double (&v)[4]) {
    FASTSEG_CHECK_ALIGNED(p, 16);
    const double2 a = reinterpret_cast<const double2*>(p)[0];
    const double2 b = reinterpret_cast<const double2*>(p)[1];
    v[0] = a.x; v[1] = a.y; v[2] = b.x; v[3] = b.y;
}

// The thread's R rows, shifted and zero-padded to D, into registers; a row past `hi`
// is all zeros and inactive. Row m of the thread is first + m * blockDim.x.
template <typename T, int D, int R>
__device__ __forceinline__ bool load_rows(const T* __restrict__ X, const T* __restrict__ shift, long long first,
                                          long long hi, int d, T (&xr)[R][D], bool (&active)[R]) {
    bool any = false;
#pragma unroll
    for (int m = 0; m < R; ++m) {
        const long long i = first + (long long)m * blockDim.x;
        active[m] = i < hi;
        any |= active[m];
        const T* x = X + (active[m] ? i : 0) * (long long)d;
#pragma unroll
        for (int j = 0; j < D; ++j) xr[m][j] = (active[m] && j < d) ? x[j] - shift[j] : T(0);
    }
    return any;
}

// x·c for each of the thread's R rows and one staged centre row cc (16-byte aligned, stride
// D), summed over j in order: four centre values per vector load, each used R times.
template <typename T, int D, int R>
__device__ __forceinline__ void dot_rows(const T (&xr)[R][D], const T* cc, T (&dot)[R]) {
#pragma unroll
    for (int m = 0; m < R; ++m) dot[m] = T(0);
#pragma unroll
    for (int j = 0; j < D; j += 4) {
        T v[4];
        load4(cc + j, v);
#pragma unroll
        for (int m = 0; m < R; ++m) {
            dot[m] += xr[m][j] * v[0];
            dot[m] += xr[m][j + 1] * v[1];
            dot[m] += xr[m][j + 2] * v[2];
            dot[m] += xr[m][j + 3] * v[3];
        }
    }
}

// Centres c0 .. c0 + tk - 1 and their squared norms into shared memory, every thread of
// the block helping: row stride D, zero-padded, so every centre row is 16-byte aligned.
template <typename T, int D>
__device__ __forceinline__ void stage_centres(const T* __restrict__ C, const T* __restrict__ cnorm, int c0, int tk,
                                              int d, T* sC, T* sN) {
    for (int e = threadIdx.x; e < tk * D; e += blockDim.x) {
        const int c = e / D, j = e % D;
        sC[e] = j < d ? C[(size_t)(c0 + c) * d + j] : T(0);
    }
    for (int e = threadIdx.x; e < tk; e += blockDim.x) sN[e] = cnorm[c0 + e];
}

// One staged centre (row cc, squared norm nc, label `index`) against the thread's R rows:
// it becomes a row's nearest where ‖c‖² − 2 x·c is lower (ties keep the earlier centre).
template <typename T, int D, int R>
__device__ __forceinline__ void closer_rows(const T (&xr)[R][D], const T* cc, T nc, int index, int (&best_c)[R],
                                            T (&best)[R]) {
    T dot[R];
    dot_rows<T, D, R>(xr, cc, dot);
#pragma unroll
    for (int m = 0; m < R; ++m) {
        const T dist = nc - T(2) * dot[m];
        if (best_c[m] < 0 || dist < best[m]) {
            best[m] = dist;
            best_c[m] = index;
        }
    }
}

// The nearest of the k centres to each of the thread's R rows (in registers), ties to
// the lowest index (numpy's argmin).
//
// The whole block calls this together (it holds barriers): centres and their squared
// norms are staged tile_k at a time in sC (row stride D, zero-padded, so every centre
// row is 16-byte aligned) and sN, every thread helping; a thread with no active row only
// helps. The distance compared is ‖c‖² − 2 x·c (‖x‖² is the same for every centre), the
// dot product summed over j in order; it comes back in best[m], the index in best_c[m].
template <typename T, int D, int R>
__device__ __forceinline__ void nearest_rows(const T (&xr)[R][D], bool any, const T* __restrict__ C,
                                             const T* __restrict__ cnorm, int d, int k, int tile_k, T* sC, T* sN,
                                             int (&best_c)[R], T (&best)[R]) {
#pragma unroll
    for (int m = 0; m < R; ++m) {
        best_c[m] = -1;
        best[m] = T(0);
    }
    for (int c0 = 0; c0 < k; c0 += tile_k) {
        const int tk = min(tile_k, k - c0);
        __syncthreads();  // the previous tile is no longer read
        stage_centres<T, D>(C, cnorm, c0, tk, d, sC, sN);
        __syncthreads();
        if (!any) continue;
        for (int c = 0; c < tk; ++c) {
            closer_rows<T, D, R>(xr, sC + (size_t)c * D, sN[c], c0 + c, best_c, best);
        }
    }
}

// The nearest centre of one wide row (d > 32), read from memory for every centre: the
// same comparison as nearest_rows, centres staged with row stride d.
template <typename T>
__device__ __forceinline__ int nearest_wide(const T* x, const T* __restrict__ shift, bool active,
                                            const T* __restrict__ C, const T* __restrict__ cnorm, int d, int k,
                                            int tile_k, T* sC, T* sN, T& best) {
    int best_c = -1;
    best = T(0);
    for (int c0 = 0; c0 < k; c0 += tile_k) {
        const int tk = min(tile_k, k - c0);
        __syncthreads();
        for (int e = threadIdx.x; e < tk * d; e += blockDim.x) sC[e] = C[(size_t)c0 * d + e];
        for (int e = threadIdx.x; e < tk; e += blockDim.x) sN[e] = cnorm[c0 + e];
        __syncthreads();
        if (!active) continue;
        for (int c = 0; c < tk; ++c) {
            const T* cc = sC + (size_t)c * d;
            T dot = T(0);
            for (int j = 0; j < d; ++j) dot += (x[j] - shift[j]) * cc[j];
            const T dist = sN[c] - T(2) * dot;
            if (best_c < 0 || dist < best) {
                best = dist;
                best_c = c0 + c;
            }
        }
    }
    return best_c;
}

// Nearest centre of every row.
//
// D > 0 (d <= D <= 32, D a multiple of 4): each thread holds R = rows_per_thread<T, D>()
// rows in registers (see above); a block covers blockDim.x * R rows a round, grid-stride.
// D = 0: any d, one row per thread, read from memory for every centre. Centres and their
// squared norms are staged in shared memory one tile of `tile_k` centres at a time, so
// any k·d fits; no n×k matrix is formed. The distance compared is ‖c‖² − 2 x·c (‖x‖² is
// the same for every centre); ties go to the lowest index, as numpy's argmin.
//
//   X        (n, d)  IN
//   shift    (d)     IN   subtracted from every row (zeros when the data is not shifted)
//   C        (k, d)  IN
//   cnorm    (k)     IN   ‖c‖²
//   labels   (n)     IN/OUT  previous labels in, nearest centre out
//   min_d    (n)     OUT  ‖c‖² − 2 x·c of the nearest centre (nullptr: skipped)
//   changed  (1)     IN/OUT  incremented by the number of rows whose label changed
//                          (nullptr: skipped); an integer, so its value is exact
// Shared memory: tile_k * (S + 1) * sizeof(T) bytes, S = D (or d where D = 0).
template <typename T, int D>
__global__ void assign_nearest(const T* __restrict__ X, const T* __restrict__ shift,
                               const T* __restrict__ C, const T* __restrict__ cnorm,
                               long long n, int d, int k, int tile_k,
                               int* __restrict__ labels, T* __restrict__ min_d,
                               unsigned long long* __restrict__ changed) {
    extern __shared__ __align__(16) unsigned char smem_raw[];
    T* sC = reinterpret_cast<T*>(smem_raw);                 // tile_k * S
    T* sN = sC + (size_t)tile_k * (D > 0 ? D : d);          // tile_k
    unsigned long long my_changes = 0;

    if constexpr (D == 0) {
        const long long stride = (long long)gridDim.x * blockDim.x;
        // Every thread of the block runs the same number of rounds, so that
        // __syncthreads() is reached by all of them.
        const long long first = (long long)blockIdx.x * blockDim.x + threadIdx.x;
        const long long rounds = (n + stride - 1) / stride;
        for (long long r = 0; r < rounds; ++r) {
            const long long i = first + r * stride;
            const bool active = i < n;
            const T* x = X + (active ? i : 0) * (long long)d;
            T best;
            const int best_c = nearest_wide(x, shift, active, C, cnorm, d, k, tile_k, sC, sN, best);
            if (active) {
                if (labels[i] != best_c) ++my_changes;
                labels[i] = best_c;
                if (min_d != nullptr) min_d[i] = best;
            }
        }
    } else {
        constexpr int R = rows_per_thread<T, D>();
        const long long span = (long long)blockDim.x * R;  // rows of a block in one round
        const long long stride = (long long)gridDim.x * span;
        const long long rounds = (n + stride - 1) / stride;
        for (long long r = 0; r < rounds; ++r) {
            const long long first = r * stride + (long long)blockIdx.x * span + threadIdx.x;
            T xr[R][D];
            bool active[R];
            const bool any = load_rows<T, D, R>(X, shift, first, n, d, xr, active);
            int best_c[R];
            T best[R];
            nearest_rows<T, D, R>(xr, any, C, cnorm, d, k, tile_k, sC, sN, best_c, best);
#pragma unroll
            for (int m = 0; m < R; ++m) {
                if (!active[m]) continue;
                const long long i = first + (long long)m * blockDim.x;
                if (labels[i] != best_c[m]) ++my_changes;
                labels[i] = best_c[m];
                if (min_d != nullptr) min_d[i] = best[m];
            }
        }
    }
    if (changed != nullptr && my_changes) atomicAdd(changed, my_changes);
}

// Per-cluster weighted sums and weights, deterministic.
//
// Rows are split into `parts` contiguous partitions; warp p walks partition p row by
// row, in order, each lane owning dimensions lane, lane + 32, ... of the partial sums
// partial_sums[p] (k, d) and lane 0 the weights partial_w[p] (k). No atomics: every
// float is added in a fixed order, so the result is the same run after run.
// Partials are accumulated in double whatever T is; reduce_partials adds them up.
//
//   X (n, d), shift (d), w (n) or nullptr, labels (n)  IN
//   partial_sums (parts, k, d) double       OUT (zeroed here)
//   partial_w    (parts, k)    double       OUT (zeroed here)
// Launch with parts warps in all (e.g. blocks of 128 threads = 4 warps).
template <typename T>
__global__ void accumulate_partitions(const T* __restrict__ X, const T* __restrict__ shift,
                                      const T* __restrict__ w, const int* __restrict__ labels,
                                      long long n, int d, int k, int parts,
                                      double* __restrict__ partial_sums, double* __restrict__ partial_w) {
    const int lane = threadIdx.x & 31;
    const int p = (int)(((long long)blockIdx.x * blockDim.x + threadIdx.x) >> 5);
    if (p >= parts) return;
    double* S = partial_sums + (size_t)p * k * d;
    double* W = partial_w + (size_t)p * k;
    for (long long e = lane; e < (long long)k * d; e += 32) S[e] = 0.0;
    for (int e = lane; e < k; e += 32) W[e] = 0.0;
    __syncwarp();
    const long long per = (n + parts - 1) / parts;
    const long long lo = (long long)p * per;
    const long long hi = min(n, lo + per);
    for (long long i = lo; i < hi; ++i) {
        const int c = labels[i];
        const double wi = (double)row_weight(w, i);
        const T* x = X + i * (long long)d;
        for (int j = lane; j < d; j += 32) S[(size_t)c * d + j] += wi * (double)(x[j] - shift[j]);
        if (lane == 0) W[c] += wi;
        __syncwarp();
    }
}

// Sum the partitions' partials in partition order: one thread per output element.
//
//   partial (parts, m) double IN;  out (m) double OUT
__global__ void reduce_partials(const double* __restrict__ partial, int parts, long long m,
                                double* __restrict__ out) {
    const long long e = (long long)blockIdx.x * blockDim.x + threadIdx.x;
    if (e >= m) return;
    double s = 0.0;
    for (int p = 0; p < parts; ++p) s += partial[(size_t)p * m + e];
    out[e] = s;
}

// The end of a Lloyd iteration for a batch of runs (K centres in all), in one launch
// instead of a dozen small ones: the totals (the parts added in order, as
// reduce_partials adds them), each cluster's mean in T (an empty cluster keeps its
// centre), and the one packet the host reads, in double:
//   [label changes (runs) | counts (K) | old centres (K·d) | new centres (K·d)].
// Each run's label-change counter is read into the packet and reset to 0 for the next
// iteration. One thread per centre coordinate.
//
//   partial_sums (parts, K, d), partial_w (parts, K) double, C (K, d)  IN
//   changed (runs)                                       IN, OUT (zeroed)
//   sums (K, d), counts (K) double, C_new (K, d), packet  OUT
template <typename T>
__global__ void finish_iteration(const double* __restrict__ partial_sums, const double* __restrict__ partial_w,
                                 int parts, const T* __restrict__ C, unsigned long long* __restrict__ changed,
                                 int runs, long long K, int d, double* __restrict__ sums,
                                 double* __restrict__ counts, T* __restrict__ C_new, double* __restrict__ packet) {
    const long long m = K * d;
    const long long stride = (long long)gridDim.x * blockDim.x;
    for (long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x; i < m; i += stride) {
        const long long c = i / d;
        double s = 0.0, w = 0.0;
        for (int p = 0; p < parts; ++p) s += partial_sums[(size_t)p * m + i];
        for (int p = 0; p < parts; ++p) w += partial_w[(size_t)p * K + c];
        const T old = C[i];
        const T mean = w > 0.0 ? T(s / w) : old;
        sums[i] = s;
        C_new[i] = mean;
        packet[runs + K + i] = double(old);
        packet[runs + K + m + i] = double(mean);
        if (i == c * d) {
            counts[c] = w;
            packet[runs + c] = w;
        }
        if (i < runs) {
            packet[i] = double(changed[i]);
            changed[i] = 0ull;
        }
    }
}

// Squared norm of every centre, summed over the features in order: a centre's norm does
// not depend on which other centres are computed with it (one run, or many concatenated).
//
//   C (k, d)  IN;  out (k)  OUT
template <typename T>
__global__ void row_norms(const T* __restrict__ C, long long k, int d, T* __restrict__ out) {
    const long long stride = (long long)gridDim.x * blockDim.x;
    for (long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x; i < k; i += stride) {
        const T* c = C + i * (long long)d;
        T s = T(0);
        for (int j = 0; j < d; ++j) s += c[j] * c[j];
        out[i] = s;
    }
}

// Exact squared distance of every row to its assigned centre (direct differences).
//
//   X (n, d), shift (d), C (k, d), labels (n)  IN;  out (n)  OUT
template <typename T>
__global__ void sq_dist_assigned(const T* __restrict__ X, const T* __restrict__ shift,
                                 const T* __restrict__ C, const int* __restrict__ labels,
                                 long long n, int d, T* __restrict__ out) {
    const long long stride = (long long)gridDim.x * blockDim.x;
    for (long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x; i < n; i += stride) {
        const T* x = X + i * (long long)d;
        const T* c = C + (size_t)labels[i] * d;
        T s = T(0);
        for (int j = 0; j < d; ++j) {
            const T diff = (x[j] - shift[j]) - c[j];
            s += diff * diff;
        }
        out[i] = s;
    }
}

// k-means++ sampling by inverse CDF in two levels, with no float64 array of n rows:
// kpp_segment_totals adds v_i = closest_i · w_i (in double) over each segment of rows,
// then kpp_search finds, for each target, the segment whose running end first exceeds
// it and the row inside that segment whose running sum first exceeds what is left
// (numpy's searchsorted with side="right": a row with v_i = 0, a centre already or of
// weight 0, is never drawn). A segment is blockDim.x · per_thread consecutive rows, a
// thread sums per_thread of them in order, and a thread's sums are added in thread
// order, so the same targets give the same rows run after run.
//
//   closest (n), w (n) or nullptr  IN;  seg_totals (segments) double  OUT
// Launch with segments blocks and shared memory blockDim.x * 8 bytes.

template <typename T>
__device__ __forceinline__ double kpp_mass(const T* __restrict__ closest, const T* __restrict__ w, long long i) {
    return double(closest[i]) * (w ? double(w[i]) : 1.0);
}

template <typename T>
__device__ __forceinline__ double kpp_rows_sum(const T* __restrict__ closest, const T* __restrict__ w,
                                               long long lo, long long hi) {
    double s = 0.0;
    for (long long i = lo; i < hi; ++i) s += kpp_mass(closest, w, i);
    return s;
}

template <typename T>
__global__ void kpp_segment_totals(const T* __restrict__ closest, const T* __restrict__ w, long long n,
                                   int per_thread, double* __restrict__ seg_totals) {
    extern __shared__ __align__(16) unsigned char smem_raw[];
    double* part = reinterpret_cast<double*>(smem_raw);  // blockDim.x
    const long long lo = ((long long)blockIdx.x * blockDim.x + threadIdx.x) * per_thread;
    part[threadIdx.x] = kpp_rows_sum(closest, w, min(n, lo), min(n, lo + per_thread));
    __syncthreads();
    if (threadIdx.x == 0) {
        double total = 0.0;
        for (int j = 0; j < (int)blockDim.x; ++j) total += part[j];
        seg_totals[blockIdx.x] = total;
    }
}

// One block per target (see kpp_segment_totals); out[b] is the row drawn for targets[b],
// the segment's last row where rounding leaves the target at or past its end, and
// row n - 1 past the last segment.
//
//   closest (n), w (n) or nullptr, seg_totals (segments), targets (t)  IN
//   out (t) long long  OUT
// Launch with t blocks and shared memory blockDim.x * 16 + 16 bytes.
template <typename T>
__global__ void kpp_search(const T* __restrict__ closest, const T* __restrict__ w, long long n, int per_thread,
                           const double* __restrict__ seg_totals, long long segments,
                           const double* __restrict__ targets, long long* __restrict__ out) {
    extern __shared__ __align__(16) unsigned char smem_raw[];
    double* part = reinterpret_cast<double*>(smem_raw);   // blockDim.x
    long long* first = reinterpret_cast<long long*>(part + blockDim.x);  // blockDim.x
    long long& seg = first[blockDim.x];
    double& left = part[2 * blockDim.x + 1];
    if (threadIdx.x == 0) {
        const double t = targets[blockIdx.x];
        double acc = 0.0;
        long long s = 0;
        for (; s < segments; ++s) {
            const double end = acc + seg_totals[s];
            if (end > t) break;
            acc = end;
        }
        seg = s;
        left = t - acc;
    }
    __syncthreads();
    if (seg >= segments) {
        if (threadIdx.x == 0) out[blockIdx.x] = n - 1;
        return;
    }
    const long long seg_lo = seg * blockDim.x * per_thread;
    const long long lo = min(n, seg_lo + (long long)threadIdx.x * per_thread);
    const long long hi = min(n, lo + per_thread);
    part[threadIdx.x] = kpp_rows_sum(closest, w, lo, hi);
    __syncthreads();
    if (threadIdx.x == 0) {  // each thread's running sum before its rows, in thread order
        double acc = 0.0;
        for (int j = 0; j < (int)blockDim.x; ++j) {
            const double x = part[j];
            part[j] = acc;
            acc += x;
        }
    }
    __syncthreads();
    double run = part[threadIdx.x];
    long long hit = -1;
    for (long long i = lo; i < hi; ++i) {
        run += kpp_mass(closest, w, i);
        if (run > left) {
            hit = i;
            break;
        }
    }
    first[threadIdx.x] = hit;
    __syncthreads();
    if (threadIdx.x == 0) {
        long long row = min(n, seg_lo + (long long)blockDim.x * per_thread) - 1;
        for (int j = 0; j < (int)blockDim.x; ++j) {
            if (first[j] >= 0) {
                row = first[j];
                break;
            }
        }
        out[blockIdx.x] = row;
    }
}

// k-means++: the potential after adding each of t candidate centres, in one pass.
//
// One thread per row (grid-stride): for every candidate j, m = min(closest[i], ‖x − c_j‖²)
// from direct differences, and w[i] · m is added to the thread's float64 total for j.
// The block then sums its threads' totals in thread order (shared memory, no atomics),
// so partial[block][j] and the potentials reduce_partials makes of them are the same
// run after run. With store != 0 (t must be 1) the thread also writes m back to
// closest[i]: the update after a centre is chosen, and its new potential, in one pass.
// No ‖x‖² array and no t × n matrix are needed.
//
//   X (n, d), shift (d), cand (t, d), w (n) or nullptr   IN
//   closest (n)                               IN (OUT with store)
//   partial (gridDim.x, t) double             OUT
// Launch with blockDim.x a multiple of 32, at most 256, and
// shared memory blockDim.x * min(t, kKppGroup) * 8 bytes.
constexpr int kKppGroup = 8;  // candidates per sweep over the rows

template <typename T>
__global__ void kpp_potentials(const T* __restrict__ X, const T* __restrict__ shift, const T* __restrict__ cand,
                               int t, const T* __restrict__ w, long long n, int d, T* closest, int store,
                               double* __restrict__ partial) {
    extern __shared__ __align__(16) unsigned char smem_raw[];
    double* sAcc = reinterpret_cast<double*>(smem_raw);  // blockDim.x * group
    const long long stride = (long long)gridDim.x * blockDim.x;
    for (int j0 = 0; j0 < t; j0 += kKppGroup) {
        const int g = min(kKppGroup, t - j0);
        double acc[kKppGroup];
#pragma unroll
        for (int j = 0; j < kKppGroup; ++j) acc[j] = 0.0;
        for (long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x; i < n; i += stride) {
            const T* x = X + i * (long long)d;
            const T old = closest[i];
            const double wi = (double)row_weight(w, i);
#pragma unroll
            for (int j = 0; j < kKppGroup; ++j) {
                if (j < g) {
                    const T* c = cand + (size_t)(j0 + j) * d;
                    T s = T(0);
                    for (int e = 0; e < d; ++e) {
                        const T diff = (x[e] - shift[e]) - c[e];
                        s += diff * diff;
                    }
                    const T m = s < old ? s : old;
                    acc[j] += wi * (double)m;
                    if (store) closest[i] = m;
                }
            }
        }
        __syncthreads();  // sAcc is free again (previous group summed)
        for (int j = 0; j < g; ++j) sAcc[(size_t)j * blockDim.x + threadIdx.x] = acc[j];
        __syncthreads();
        if ((int)threadIdx.x < g) {
            const double* a = sAcc + (size_t)threadIdx.x * blockDim.x;
            double s = 0.0;
            for (unsigned r = 0; r < blockDim.x; ++r) s += a[r];
            partial[(size_t)blockIdx.x * t + j0 + threadIdx.x] = s;
        }
    }
}

// One Lloyd step in one read of X: nearest centre of every row and the per-cluster
// weighted sums and weights of the new labels, deterministic.
//
// Block b owns the contiguous rows [b·per, min(n, (b+1)·per)), per = ceil(n / gridDim.x),
// and walks them in rounds of blockDim.x · R rows (R = rows_per_thread<T, D>(): thread t
// holds rows t, t + blockDim.x, ... of the round in registers, as assign_nearest does).
// After labelling, the round is accumulated blockDim.x rows at a time: those shifted
// rows, weights and labels are staged in shared memory and `groups` groups of d threads
// add them to group-private float64 totals: group g takes a contiguous share of the
// staged rows in order, lane j of the group owns feature j, so no two threads touch the
// same total. At the end the groups' totals are added in group order into
// partial_sums[b] and partial_w[b]; reduce_partials adds the blocks in order. No atomics
// on floats: the same totals run after run. Label changes are counted as in
// assign_nearest.
//
//   X (n, d), shift (d), w (n) or nullptr, C (k, d), cnorm (k)   IN
//   labels (n)                                        IN/OUT
//   changed (1)                                       IN/OUT (nullptr: skipped)
//   partial_sums (gridDim.x, k, d), partial_w (gridDim.x, k) double   OUT
// Requires d <= D <= 32 (D a multiple of 4) and groups * d <= blockDim.x.
// Shared memory (bytes), in this order:
//   tile_k * (D + 1) * sizeof(T)            centres (row stride D) and norms
//   blockDim.x * (d + 1) * sizeof(T)        the staged rows and weights
//   blockDim.x * sizeof(int)                their labels
//   groups * k * (d + 1) * sizeof(double)   the groups' totals (8-byte aligned)
template <typename T, int D>
__global__ void lloyd_fused(const T* __restrict__ X, const T* __restrict__ shift, const T* __restrict__ w,
                            const T* __restrict__ C, const T* __restrict__ cnorm, long long n, int d, int k,
                            int tile_k, int groups, int* __restrict__ labels,
                            unsigned long long* __restrict__ changed, double* __restrict__ partial_sums,
                            double* __restrict__ partial_w) {
    static_assert(D > 0 && D % 4 == 0 && D <= 32, "lloyd_fused holds rows in registers: 4 <= D <= 32");
    constexpr int R = rows_per_thread<T, D>();
    extern __shared__ __align__(16) unsigned char smem_raw[];
    T* sC = reinterpret_cast<T*>(smem_raw);                        // tile_k * D
    T* sN = sC + (size_t)tile_k * D;                               // tile_k
    T* sX = sN + tile_k;                                           // blockDim.x * d
    T* sW = sX + (size_t)blockDim.x * d;                           // blockDim.x
    int* sL = reinterpret_cast<int*>(sW + blockDim.x);             // blockDim.x
    size_t off = (size_t)(reinterpret_cast<unsigned char*>(sL + blockDim.x) - smem_raw);
    off = (off + 7) & ~(size_t)7;
    double* sAcc = reinterpret_cast<double*>(smem_raw + off);      // groups * k * (d + 1)

    const size_t per_group = (size_t)k * (d + 1);
    for (size_t e = threadIdx.x; e < (size_t)groups * per_group; e += blockDim.x) sAcc[e] = 0.0;

    const long long per = (n + gridDim.x - 1) / gridDim.x;
    const long long lo = (long long)blockIdx.x * per;
    const long long hi = min(n, lo + per);
    const long long span = (long long)blockDim.x * R;
    unsigned long long my_changes = 0;
    const int g = threadIdx.x / d;
    const int j = threadIdx.x % d;

    for (long long base = lo; base < hi; base += span) {   // the same count for every thread
        T xr[R][D];
        bool active[R];
        const bool any = load_rows<T, D, R>(X, shift, base + threadIdx.x, hi, d, xr, active);
        int best_c[R];
        T best[R];
        nearest_rows<T, D, R>(xr, any, C, cnorm, d, k, tile_k, sC, sN, best_c, best);
#pragma unroll
        for (int m = 0; m < R; ++m) {
            const long long sub = base + (long long)m * blockDim.x;
            if (sub >= hi) break;  // the same for the whole block
            const int rows = (int)min((long long)blockDim.x, hi - sub);
            if (m > 0) __syncthreads();  // the previous staged rows are no longer read
            if (active[m]) {
                const long long i = sub + threadIdx.x;
                if (labels[i] != best_c[m]) ++my_changes;
                labels[i] = best_c[m];
#pragma unroll
                for (int e = 0; e < D; ++e)
                    if (e < d) sX[(size_t)threadIdx.x * d + e] = xr[m][e];
                sW[threadIdx.x] = row_weight(w, i);
                sL[threadIdx.x] = best_c[m];
            }
            __syncthreads();
            if (g < groups) {
                const int share = (rows + groups - 1) / groups;
                const int r0 = g * share;
                const int r1 = min(rows, r0 + share);
                double* acc = sAcc + (size_t)g * per_group;
                // The next row is read before this one's totals are stored: the compiler
                // cannot tell the staged rows from the totals (one shared array), so
                // without this every row would wait for the store before it.
                int c = r0 < r1 ? sL[r0] : 0;
                double wr = r0 < r1 ? (double)sW[r0] : 0.0;
                double xv = r0 < r1 ? (double)sX[(size_t)r0 * d + j] : 0.0;
                for (int r = r0; r < r1; ++r) {
                    const bool more = r + 1 < r1;
                    const int c_next = more ? sL[r + 1] : 0;
                    const double w_next = more ? (double)sW[r + 1] : 0.0;
                    const double x_next = more ? (double)sX[(size_t)(r + 1) * d + j] : 0.0;
                    acc[(size_t)c * d + j] += wr * xv;
                    if (j == 0) acc[(size_t)k * d + c] += wr;
                    c = c_next;
                    wr = w_next;
                    xv = x_next;
                }
            }
        }
        // no barrier here: the next round reaches the tile barrier before it stages
    }
    __syncthreads();  // a block with no rows zeroed its totals just above
    // the groups' totals, in group order, into this block's partials
    for (size_t e = threadIdx.x; e < per_group; e += blockDim.x) {
        double s = 0.0;
        for (int q = 0; q < groups; ++q) s += sAcc[(size_t)q * per_group + e];
        if (e < (size_t)k * d)
            partial_sums[(size_t)blockIdx.x * k * d + e] = s;
        else
            partial_w[(size_t)blockIdx.x * k + (e - (size_t)k * d)] = s;
    }
    if (changed != nullptr && my_changes) atomicAdd(changed, my_changes);
}

// Several Lloyd runs at once (a sweep over k, restarts): their centre sets concatenated,
// run r owning centres off[r] .. off[r + 1] - 1 (off has runs + 1 entries, off[0] = 0,
// off[runs] = K). One step is two kernels and two reads of X for every run together,
// where one run per kernel would read X once per run: assign_multi labels every row for
// every run, accumulate_multi adds every run's totals. labels[r] points to run r's labels.

// One run's labels of the thread's R rows (row m is first + m * blockDim.x), its label
// changes added to *changes (shared memory); best_c is reset for the next run.
template <int R>
__device__ __forceinline__ void store_labels(int* lab, long long first, const bool (&active)[R], int (&best_c)[R],
                                             unsigned* changes) {
    unsigned mine = 0;
#pragma unroll
    for (int m = 0; m < R; ++m) {
        if (active[m]) {
            const long long i = first + (long long)m * blockDim.x;
            if (lab[i] != best_c[m]) ++mine;
            lab[i] = best_c[m];
        }
        best_c[m] = -1;
    }
    if (mine) atomicAdd(changes, mine);
}

// Nearest centre of every row for every run, ties to the lowest index within the run.
//
// As assign_nearest's register path (D > 0): each thread holds R rows in registers and
// the block stages the concatenated centres tile_k at a time; a thread walks the centres
// in order, keeping the nearest of the current run, and writes that run's labels when
// the run's last centre has been compared. Distances are computed exactly as in
// nearest_rows, so each run gets the labels assign_nearest gives it alone.
//
//   X (n, d), shift (d), C (K, d), cnorm (K), off (runs + 1)   IN
//   labels (runs pointers to n int)                           IN/OUT
//   changed (runs)                                            IN/OUT  += each run's label changes
// Shared memory: tile_k * (D + 1) * sizeof(T) + runs * 4 bytes.
template <typename T, int D>
__global__ void assign_multi(const T* __restrict__ X, const T* __restrict__ shift, const T* __restrict__ C,
                             const T* __restrict__ cnorm, const int* __restrict__ off, int runs, long long n,
                             int d, int tile_k, int* const* __restrict__ labels,
                             unsigned long long* __restrict__ changed) {
    static_assert(D > 0 && D % 4 == 0 && D <= 32, "assign_multi holds rows in registers: 4 <= D <= 32");
    constexpr int R = rows_per_thread<T, D>();
    extern __shared__ __align__(16) unsigned char smem_raw[];
    T* sC = reinterpret_cast<T*>(smem_raw);                          // tile_k * D
    T* sN = sC + (size_t)tile_k * D;                                 // tile_k
    unsigned* sChanged = reinterpret_cast<unsigned*>(sN + tile_k);   // runs
    for (int r = threadIdx.x; r < runs; r += blockDim.x) sChanged[r] = 0u;
    const int K = off[runs];
    const long long span = (long long)blockDim.x * R;
    const long long stride = (long long)gridDim.x * span;
    const long long rounds = (n + stride - 1) / stride;
    for (long long q = 0; q < rounds; ++q) {  // the same count for every thread (barriers)
        const long long first = q * stride + (long long)blockIdx.x * span + threadIdx.x;
        T xr[R][D];
        bool active[R];
        const bool any = load_rows<T, D, R>(X, shift, first, n, d, xr, active);
        int best_c[R];
        T best[R];
#pragma unroll
        for (int m = 0; m < R; ++m) {
            best_c[m] = -1;
            best[m] = T(0);
        }
        int r = 0, lo = 0, end = off[1];  // the current run and its centres [lo, end)
        for (int c0 = 0; c0 < K; c0 += tile_k) {
            const int tk = min(tile_k, K - c0);
            __syncthreads();  // the previous tile is no longer read (and sChanged is zeroed)
            stage_centres<T, D>(C, cnorm, c0, tk, d, sC, sN);
            __syncthreads();
            for (int c = 0; c < tk; ++c) {
                while (c0 + c == end) {  // run r is complete: its labels (the same branch block-wide)
                    store_labels<R>(labels[r], first, active, best_c, &sChanged[r]);
                    ++r;
                    lo = end;
                    end = off[r + 1];
                }
                if (!any) continue;
                closer_rows<T, D, R>(xr, sC + (size_t)c * D, sN[c], c0 + c - lo, best_c, best);
            }
        }
        store_labels<R>(labels[r], first, active, best_c, &sChanged[r]);  // the last run
    }
    __syncthreads();
    for (int r = threadIdx.x; r < runs; r += blockDim.x)
        if (sChanged[r]) atomicAdd(&changed[r], (unsigned long long)sChanged[r]);
}

// Every run's per-cluster weighted sums and weights, deterministic, in one read of X.
//
// Block b owns the contiguous rows [b·per, min(n, (b+1)·per)), per = ceil(n / gridDim.x),
// and walks them `stage` rows at a time: the rows (shifted), their weights and every
// run's labels of them are staged in shared memory; then groups of d threads add them to
// the block's float64 totals, group g taking runs g, g + groups, ... and lane j of a
// group feature j. Each run's totals are held once and touched by one group, which adds
// the rows in row order; the block's totals go to partial_sums[b] / partial_w[b] (the
// runs' centres concatenated, as C), which reduce_partials adds up in block order. No
// atomics on floats: the same totals run after run.
//
//   X (n, d), shift (d), w (n) or nullptr, off (runs + 1), labels (runs pointers)   IN
//   partial_sums (gridDim.x, K, d), partial_w (gridDim.x, K) double                OUT
// Requires 1 <= groups and groups * d <= blockDim.x.
// Shared memory (bytes), in this order:
//   K * (d + 1) * 8                       the totals (sums, then weights)
//   stage * (d + 1) * sizeof(T)           the staged rows and weights
//   runs * stage * 4                      their labels, run by run
template <typename T>
__global__ void accumulate_multi(const T* __restrict__ X, const T* __restrict__ shift, const T* __restrict__ w,
                                 const int* __restrict__ off, int runs, long long n, int d, int stage, int groups,
                                 const int* const* __restrict__ labels, double* __restrict__ partial_sums,
                                 double* __restrict__ partial_w) {
    extern __shared__ __align__(16) unsigned char smem_raw[];
    const int K = off[runs];
    double* sAcc = reinterpret_cast<double*>(smem_raw);      // K * d sums, then K weights
    T* sX = reinterpret_cast<T*>(sAcc + (size_t)K * (d + 1)); // stage * d
    T* sW = sX + (size_t)stage * d;                           // stage
    int* sL = reinterpret_cast<int*>(sW + stage);             // runs * stage
    for (size_t e = threadIdx.x; e < (size_t)K * (d + 1); e += blockDim.x) sAcc[e] = 0.0;

    const long long per = (n + gridDim.x - 1) / gridDim.x;
    const long long lo = (long long)blockIdx.x * per;
    const long long hi = min(n, lo + per);
    const int g = threadIdx.x / d;
    const int j = threadIdx.x % d;
    for (long long base = lo; base < hi; base += stage) {  // the same count for every thread
        const int rows = (int)min((long long)stage, hi - base);
        __syncthreads();  // the previous rows are no longer read (and the totals are zeroed)
        const T* xb = X + base * (long long)d;
        for (int e = threadIdx.x; e < rows * d; e += blockDim.x) sX[e] = xb[e] - shift[e % d];
        for (int e = threadIdx.x; e < rows; e += blockDim.x) sW[e] = row_weight(w, base + e);
        for (int e = threadIdx.x; e < runs * rows; e += blockDim.x) {
            const int r = e / rows, q = e % rows;
            sL[(size_t)r * stage + q] = labels[r][base + q];
        }
        __syncthreads();
        if (g >= groups) continue;
        for (int r = g; r < runs; r += groups) {
            const int c0 = off[r];
            double* S = sAcc + (size_t)c0 * d;
            double* W = sAcc + (size_t)K * d + c0;
            const int* L = sL + (size_t)r * stage;
            // the next row read before this one's total is stored (see lloyd_fused)
            int c = L[0];
            double wr = (double)sW[0];
            double xv = (double)sX[j];
            for (int q = 0; q < rows; ++q) {
                const bool more = q + 1 < rows;
                const int c_next = more ? L[q + 1] : 0;
                const double w_next = more ? (double)sW[q + 1] : 0.0;
                const double x_next = more ? (double)sX[(size_t)(q + 1) * d + j] : 0.0;
                S[(size_t)c * d + j] += wr * xv;
                if (j == 0) W[c] += wr;
                c = c_next;
                wr = w_next;
                xv = x_next;
            }
        }
    }
    __syncthreads();
    for (size_t e = threadIdx.x; e < (size_t)K * (d + 1); e += blockDim.x) {
        if (e < (size_t)K * d)
            partial_sums[(size_t)blockIdx.x * K * d + e] = sAcc[e];
        else
            partial_w[(size_t)blockIdx.x * K + (e - (size_t)K * d)] = sAcc[e];
    }
}

#endif  // FASTSEG_KMEANS_CU
