// reduce_sum 02 warp shuffle: the same passes as 01, but inside a warp the tree runs in
// registers (__shfl_down_sync), so a block needs one barrier instead of eight and shared
// memory holds only one value per warp.

// Launch geometry: THREADS comes as a -D option from the port, which launches the kernel
// with the same number (GEOMETRIES in src/perfkit/workloads/reduce_sum.py).
#if !defined(THREADS)
#error "reduce_sum 02 needs -D THREADS (its port's launch geometry)"
#endif
static_assert(THREADS % 32 == 0 && THREADS <= 1024,
              "whole warps, one partial a warp in one warp");
#define WARPS (THREADS / 32)

__device__ __forceinline__ double warp_sum(double value) {
    for (int offset = 16; offset > 0; offset >>= 1)
        value += __shfl_down_sync(0xffffffffu, value, offset);
    return value;
}

template <typename T>
__device__ void shuffle_pass(const T* __restrict__ x, double* __restrict__ partial,
                             long long n) {
    __shared__ double per_warp[WARPS];
    unsigned tid = threadIdx.x;
    long long i = (long long)blockIdx.x * (2 * THREADS) + tid;
    double value = 0.0;
    if (i < n) value = (double)x[i];
    if (i + THREADS < n) value += (double)x[i + THREADS];
    value = warp_sum(value);
    if ((tid & 31) == 0) per_warp[tid >> 5] = value;
    __syncthreads();
    if (tid < 32) {
        value = tid < WARPS ? per_warp[tid] : 0.0;
        value = warp_sum(value);
        if (tid == 0) partial[blockIdx.x] = value;
    }
}

extern "C" __global__ void __launch_bounds__(THREADS)
    reduce_sum_shuffle_f32(const float* x, double* partial, long long n) {
    shuffle_pass(x, partial, n);
}

extern "C" __global__ void __launch_bounds__(THREADS)
    reduce_sum_shuffle_f64(const double* x, double* partial, long long n) {
    shuffle_pass(x, partial, n);
}
