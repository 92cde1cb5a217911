// Runs fastseg's CUDA kernels on the CPU, for tests on machines without a GPU.
//
// Included before a .cu file compiled as host C++20 (g++ -std=c++20 -include this).
// A launch runs the grid's blocks one after another. The threads of a block are fibers
// on one OS thread, run in turn: each runs until it reaches a barrier
// (__syncthreads, __syncwarp) or returns, then the next one. Barriers keep CUDA's
// meaning, so thread 0 runs as far ahead of the others as a barrier lets it: a missing
// barrier shows up as a read of shared memory nobody has written yet. Shared memory is
// filled with 0xFF bytes (NaN for floats) before every block for the same reason. A
// block whose threads wait at different barriers forever is reported (a deadlock on a
// GPU), not hung.
//
// Covered: 1-D grids and blocks, dynamic shared memory named `smem_raw` (the name the
// kernels use), __syncthreads, full-warp __syncwarp, atomicAdd, min/max, float4 and
// double2 (with a check that vector loads are aligned). Not covered:
// static __shared__ arrays, warp shuffles and votes, cooperative groups; a kernel that
// needs them must extend this file first. Timing means nothing here.

#pragma once

#include <ucontext.h>

#include <algorithm>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <functional>
#include <type_traits>
#include <vector>

struct dim3 {
    unsigned x = 1, y = 1, z = 1;
};

namespace cuda_on_cpu {

// 48 KiB: what a block may ask for without the opt-in attribute, on every GPU since
// Kepler. A launch asking for more than its kernel's limit (this, or what the kernel
// opted in to, up to an H100's 227 KiB) fails here as it would there.
constexpr std::size_t kSharedDefault = 48 * 1024;
constexpr std::size_t kSharedLimit = 227 * 1024;
constexpr std::size_t kStack = 64 * 1024;  // per thread; the kernels keep a few hundred bytes

struct Barrier {
    unsigned expected = 0, arrived = 0, generation = 0;
};

// A switch between fibers. On x86-64 a few instructions that swap the callee-saved
// registers and the stack (glibc's swapcontext also saves the signal mask, a system
// call per switch: 20x slower); elsewhere ucontext.
#if defined(__x86_64__)
extern "C" void cuda_on_cpu_switch(void** save_sp, void* load_sp);
asm(R"(
    .text
    .globl cuda_on_cpu_switch
    .hidden cuda_on_cpu_switch
    .type cuda_on_cpu_switch, @function
cuda_on_cpu_switch:
    pushq %rbp
    pushq %rbx
    pushq %r12
    pushq %r13
    pushq %r14
    pushq %r15
    movq %rsp, (%rdi)
    movq %rsi, %rsp
    popq %r15
    popq %r14
    popq %r13
    popq %r12
    popq %rbx
    popq %rbp
    ret
    .size cuda_on_cpu_switch, .-cuda_on_cpu_switch
)");

struct Context {
    void* sp = nullptr;
};

inline void context_start(Context& c, char* stack, std::size_t size, void (*entry)()) {
    auto* top = reinterpret_cast<void**>(reinterpret_cast<std::uintptr_t>(stack + size) & ~std::uintptr_t(15));
    *--top = nullptr;                         // return address of `entry` (it never returns)
    *--top = reinterpret_cast<void*>(entry);  // where the first switch's `ret` goes
    for (int r = 0; r < 6; ++r) *--top = nullptr;  // rbp rbx r12-r15
    c.sp = top;
}

inline void context_switch(Context& from, Context& to) { cuda_on_cpu_switch(&from.sp, to.sp); }
#else
struct Context {
    ucontext_t uc;
};

inline void context_start(Context& c, char* stack, std::size_t size, void (*entry)()) {
    getcontext(&c.uc);
    c.uc.uc_stack.ss_sp = stack;
    c.uc.uc_stack.ss_size = size;
    c.uc.uc_link = nullptr;
    makecontext(&c.uc, entry, 0);
}

inline void context_switch(Context& from, Context& to) { swapcontext(&from.uc, &to.uc); }
#endif

struct Fiber {
    Context ctx;
    bool done = false;
};

inline dim3 grid_dim, block_dim, thread_idx, block_idx;
inline std::vector<Fiber> fibers;
inline std::vector<char> stacks;
inline Context scheduler;
inline unsigned current = 0;
inline unsigned long long events = 0;  // arrivals and exits: progress, for deadlock detection
inline Barrier block_barrier;
inline std::vector<Barrier> warp_barriers;
inline std::function<void()> body;

inline void yield() { context_switch(fibers[current].ctx, scheduler); }

inline void arrive_and_wait(Barrier& b) {
    ++events;
    if (++b.arrived == b.expected) {  // the last to arrive releases the others
        b.arrived = 0;
        ++b.generation;
        return;
    }
    const unsigned gen = b.generation;
    while (b.generation == gen) yield();
}

inline void drop(Barrier& b) {  // a thread that returned counts as arrived (sm_70+)
    --b.expected;
    if (b.arrived > 0 && b.arrived == b.expected) {
        b.arrived = 0;
        ++b.generation;
    }
}

inline void syncthreads() { arrive_and_wait(block_barrier); }
inline void syncwarp() { arrive_and_wait(warp_barriers[thread_idx.x / 32]); }

inline void fiber_main() {
    body();
    ++events;
    drop(warp_barriers[current / 32]);
    drop(block_barrier);
    fibers[current].done = true;
    context_switch(fibers[current].ctx, scheduler);  // never resumed
}

// Launch status codes returned to Python.
enum Status : int { kOk = 0, kBadBlock = 1, kBadGrid = 2, kTooMuchShared = 3, kDeadlock = 4, kMisaligned = 5 };

// A vector load from an address that is not a multiple of its size faults on a GPU and
// works on x86: the kernels report each one through FASTSEG_CHECK_ALIGNED, and the
// launch fails.
inline bool misaligned = false;
inline void check_aligned(const void* p, std::size_t bytes) {
    if (reinterpret_cast<std::uintptr_t>(p) % bytes != 0) misaligned = true;
}

}  // namespace cuda_on_cpu

// Dynamic shared memory; the kernels declare it `extern __shared__ unsigned char smem_raw[];`.
alignas(16) inline unsigned char smem_raw[cuda_on_cpu::kSharedLimit];

#define __global__
#define __device__
#define __host__
#define __forceinline__ inline
#define __shared__
#define __launch_bounds__(...)
#define __align__(n)  // smem_raw is defined 16-byte aligned above
#define FASTSEG_CHECK_ALIGNED(p, bytes) cuda_on_cpu::check_aligned(p, bytes)

// CUDA's vector types the kernels use, with CUDA's size and alignment.
struct alignas(16) float4 {
    float x, y, z, w;
};
struct alignas(16) double2 {
    double x, y;
};
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
// `limit` is the kernel's maximum dynamic shared memory (its opt-in attribute).
template <typename F>
int launch(unsigned grid, unsigned block, std::size_t shared, std::size_t limit, F kernel) {
    if (block == 0 || block > 1024) return kBadBlock;
    if (grid == 0 || grid > 0x7fffffffu) return kBadGrid;
    if (shared > std::min(limit, kSharedLimit)) return kTooMuchShared;
    grid_dim = dim3{grid, 1, 1};
    block_dim = dim3{block, 1, 1};
    body = kernel;
    misaligned = false;
    fibers.assign(block, Fiber{});
    stacks.resize(block * kStack);
    for (unsigned b = 0; b < grid; ++b) {
        block_idx = dim3{b, 1, 1};
        std::memset(smem_raw, 0xFF, std::max(shared, kSharedDefault));  // what a block can reach
        block_barrier = Barrier{block, 0, 0};
        warp_barriers.clear();
        for (unsigned w = 0; w * 32 < block; ++w) warp_barriers.push_back(Barrier{std::min(32u, block - 32 * w), 0, 0});
        for (unsigned t = 0; t < block; ++t) {
            Fiber& f = fibers[t];
            f.done = false;
            context_start(f.ctx, stacks.data() + t * kStack, kStack, fiber_main);
        }
        for (unsigned live = block; live > 0;) {
            const unsigned long long before = events;
            live = 0;
            for (unsigned t = 0; t < block; ++t) {
                if (fibers[t].done) continue;
                current = t;
                thread_idx = dim3{t, 1, 1};
                context_switch(scheduler, fibers[t].ctx);
                live += !fibers[t].done;
            }
            if (live > 0 && events == before) return kDeadlock;  // a full turn and nobody moved
        }
    }
    body = nullptr;
    return misaligned ? kMisaligned : kOk;
}

}  // namespace cuda_on_cpu
