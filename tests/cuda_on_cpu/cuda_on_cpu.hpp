// Runs fastseg's CUDA kernels on the CPU, for tests on machines without a GPU.
//
// Included before a .cu file compiled as host C++20 (g++ -std=c++20 -include this).
// A launch runs the grid's blocks one after another; the threads of a block are real
// threads, so __syncthreads() and __syncwarp() are barriers with CUDA's meaning and a
// kernel that forgets one can read stale shared memory here as on a GPU. Shared memory
// is filled with 0xFF bytes (NaN for floats) before every block, so a read of an
// element no thread wrote shows up in the results.
//
// Covered: 1-D grids and blocks, dynamic shared memory named `smem_raw` (the name the
// kernels use), __syncthreads, full-warp __syncwarp, atomicAdd, min/max. Not covered:
// static __shared__ arrays, warp shuffles and votes, cooperative groups; a kernel that
// needs them must extend this file first. Timing means nothing here.

#pragma once

#include <algorithm>
#include <atomic>
#include <barrier>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <thread>
#include <type_traits>
#include <vector>

struct dim3 {
    unsigned x = 1, y = 1, z = 1;
};

namespace cuda_on_cpu {

// 48 KiB: what a block may ask for without the opt-in attribute, on every GPU since
// Kepler. A launch asking for more fails here as it would there.
constexpr std::size_t kSharedLimit = 48 * 1024;

struct BlockSync {
    std::barrier<> all;
    std::vector<std::unique_ptr<std::barrier<>>> warps;
    explicit BlockSync(unsigned threads) : all(threads) {
        for (unsigned w = 0; w * 32 < threads; ++w)
            warps.emplace_back(std::make_unique<std::barrier<>>(std::min(32u, threads - 32 * w)));
    }
};

inline dim3 grid_dim, block_dim;
inline thread_local dim3 thread_idx, block_idx;
inline std::unique_ptr<BlockSync> sync;  // replaced between blocks, never during one

inline void syncthreads() { sync->all.arrive_and_wait(); }
inline void syncwarp() { sync->warps[thread_idx.x / 32]->arrive_and_wait(); }

// Launch status codes returned to Python.
enum Status : int { kOk = 0, kBadBlock = 1, kBadGrid = 2, kTooMuchShared = 3 };

}  // namespace cuda_on_cpu

// Dynamic shared memory; the kernels declare it `extern __shared__ unsigned char smem_raw[];`.
alignas(16) inline unsigned char smem_raw[cuda_on_cpu::kSharedLimit];

#define __global__
#define __device__
#define __host__
#define __forceinline__ inline
#define __shared__
#define __launch_bounds__(...)
#define gridDim (cuda_on_cpu::grid_dim)
#define blockDim (cuda_on_cpu::block_dim)
#define threadIdx (cuda_on_cpu::thread_idx)
#define blockIdx (cuda_on_cpu::block_idx)
#define __syncthreads() cuda_on_cpu::syncthreads()
#define __syncwarp(...) cuda_on_cpu::syncwarp()

template <typename A, typename B>
inline auto min(A a, B b) {
    using C = std::common_type_t<A, B>;
    return C(b) < C(a) ? C(b) : C(a);
}

template <typename A, typename B>
inline auto max(A a, B b) {
    using C = std::common_type_t<A, B>;
    return C(a) < C(b) ? C(b) : C(a);
}

template <typename T>
inline T atomicAdd(T* address, T value) {
    return std::atomic_ref<T>(*address).fetch_add(value);
}

namespace cuda_on_cpu {

// Run `kernel` (a callable with no arguments) as a <<<grid, block, shared>>> launch.
template <typename F>
int launch(unsigned grid, unsigned block, std::size_t shared, F kernel) {
    if (block == 0 || block > 1024) return kBadBlock;
    if (grid == 0 || grid > 0x7fffffffu) return kBadGrid;
    if (shared > kSharedLimit) return kTooMuchShared;
    grid_dim = dim3{grid, 1, 1};
    block_dim = dim3{block, 1, 1};
    auto next_block = [block]() noexcept {
        sync = std::make_unique<BlockSync>(block);
        std::memset(smem_raw, 0xFF, sizeof smem_raw);
    };
    next_block();
    std::barrier<decltype(next_block)> between(block, next_block);
    std::vector<std::thread> threads;
    threads.reserve(block);
    for (unsigned t = 0; t < block; ++t) {
        threads.emplace_back([&, t] {
            thread_idx = dim3{t, 1, 1};
            for (unsigned b = 0; b < grid; ++b) {
                block_idx = dim3{b, 1, 1};
                kernel();
                // a thread that has returned counts as arrived at later barriers (sm_70+)
                sync->warps[t / 32]->arrive_and_drop();
                sync->all.arrive_and_drop();
                between.arrive_and_wait();
            }
        });
    }
    for (auto& th : threads) th.join();
    sync.reset();
    return kOk;
}

}  // namespace cuda_on_cpu
