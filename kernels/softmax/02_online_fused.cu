// softmax 02 fused online: one block per row, each element read once and written once.
// A row of up to 256 x 8 elements is held in registers (8 a thread, loaded coalesced);
// each thread finds its local max and sum of exp(x - local max), and the block combines
// the (max, sum) pairs with warp shuffles: m = max(m1, m2), s = s1 e^(m1-m) + s2 e^(m2-m)
// (the "online softmax" of Milakov and Gimelshein). Longer rows stream through the same
// online update and read the row a second time for the output (from L2).

// Launch geometry: THREADS, PER_THREAD come as -D options from the port, which launches the
// kernel with the same numbers (GEOMETRIES in src/perfkit/workloads/softmax.py).
#if !defined(THREADS) || !defined(PER_THREAD)
#error "softmax 02 needs -D THREADS PER_THREAD (its port's launch geometry)"
#endif
static_assert(THREADS % 32 == 0 && THREADS <= 1024,
              "whole warps, one partial a warp in one warp");
static_assert(PER_THREAD >= 1, "a row piece a thread");
#define WARPS (THREADS / 32)

__device__ __forceinline__ float exp_of(float v) { return expf(v); }
__device__ __forceinline__ double exp_of(double v) { return exp(v); }
// NVRTC has no <math.h>: no INFINITY macro, so the infinities and max come from intrinsics.
__device__ __forceinline__ float max_of(float a, float b) { return fmaxf(a, b); }
__device__ __forceinline__ double max_of(double a, double b) { return fmax(a, b); }
template <typename T>
__device__ __forceinline__ T lowest();
template <>
__device__ __forceinline__ float lowest<float>() { return __int_as_float(0xff800000); }
template <>
__device__ __forceinline__ double lowest<double>() {
    return __longlong_as_double((long long)0xfff0000000000000ull);
}

template <typename T>
__device__ __forceinline__ void combine(T& m, T& s, T m2, T s2) {
    T top = max_of(m, m2);
    // Guard the empty pair (m = -inf, s = 0): exp(-inf - -inf) would be NaN.
    T a = s == T(0) ? T(0) : s * exp_of(m - top);
    T b = s2 == T(0) ? T(0) : s2 * exp_of(m2 - top);
    m = top;
    s = a + b;
}

template <typename T>
__device__ void block_combine(T& m, T& s) {
    __shared__ T ms[WARPS];
    __shared__ T ss[WARPS];
    for (int offset = 16; offset > 0; offset >>= 1) {
        T m2 = __shfl_xor_sync(0xffffffffu, m, offset);
        T s2 = __shfl_xor_sync(0xffffffffu, s, offset);
        combine(m, s, m2, s2);
    }
    unsigned warp = threadIdx.x >> 5;
    if ((threadIdx.x & 31) == 0) {
        ms[warp] = m;
        ss[warp] = s;
    }
    __syncthreads();
    m = ms[0];
    s = ss[0];
    for (int w = 1; w < WARPS; ++w) combine(m, s, ms[w], ss[w]);
}

template <typename T>
__device__ void online_fused(const T* __restrict__ x, T* __restrict__ out, int cols) {
    const T* row = x + (long long)blockIdx.x * cols;
    T* row_out = out + (long long)blockIdx.x * cols;
    T m = lowest<T>();
    T s = 0;
    if (cols <= THREADS * PER_THREAD) {
        T v[PER_THREAD];
#pragma unroll
        for (int i = 0; i < PER_THREAD; ++i) {
            int c = threadIdx.x + i * THREADS;
            v[i] = c < cols ? row[c] : lowest<T>();
            m = max_of(m, v[i]);
        }
#pragma unroll
        for (int i = 0; i < PER_THREAD; ++i) {
            if (threadIdx.x + i * THREADS < cols) s += exp_of(v[i] - m);
        }
        block_combine(m, s);
        T scale = T(1) / s;
#pragma unroll
        for (int i = 0; i < PER_THREAD; ++i) {
            int c = threadIdx.x + i * THREADS;
            if (c < cols) row_out[c] = exp_of(v[i] - m) * scale;
        }
        return;
    }
    for (int c = threadIdx.x; c < cols; c += THREADS) combine(m, s, row[c], T(1));
    block_combine(m, s);
    T scale = T(1) / s;
    for (int c = threadIdx.x; c < cols; c += THREADS) row_out[c] = exp_of(row[c] - m) * scale;
}

extern "C" __global__ void __launch_bounds__(THREADS)
    softmax_online_fused_f32(const float* x, float* out, int cols) {
    online_fused(x, out, cols);
}

extern "C" __global__ void __launch_bounds__(THREADS)
    softmax_online_fused_f64(const double* x, double* out, int cols) {
    online_fused(x, out, cols);
}
