// softmax 01 three passes: one block per row; the row is read three times from global
// memory (its max, the sum of exp(x - max), then the output) with a shared-memory block
// reduction after each of the first two. Three reads and one write per element: at best
// half of the memory roof.

// Launch geometry: THREADS comes as a -D option from the port, which launches the kernel
// with the same number (GEOMETRIES in src/perfkit/workloads/softmax.py).
#if !defined(THREADS)
#error "softmax 01 needs -D THREADS (its port's launch geometry)"
#endif
static_assert(THREADS >= 2 && (THREADS & (THREADS - 1)) == 0, "a tree halves a power of two");

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

template <typename T, bool IS_MAX>
__device__ T block_reduce(T value, T* buffer) {
    unsigned tid = threadIdx.x;
    buffer[tid] = value;
    __syncthreads();
    for (unsigned half = THREADS / 2; half > 0; half >>= 1) {
        if (tid < half)
            buffer[tid] = IS_MAX ? max_of(buffer[tid], buffer[tid + half])
                                 : buffer[tid] + buffer[tid + half];
        __syncthreads();
    }
    T result = buffer[0];
    __syncthreads();  // the buffer is reused by the next reduction
    return result;
}

template <typename T>
__device__ void three_pass(const T* __restrict__ x, T* __restrict__ out, int cols) {
    __shared__ T buffer[THREADS];
    const T* row = x + (long long)blockIdx.x * cols;
    T* row_out = out + (long long)blockIdx.x * cols;
    T top = lowest<T>();
    for (int c = threadIdx.x; c < cols; c += THREADS) top = max_of(top, row[c]);
    top = block_reduce<T, true>(top, buffer);
    T total = 0;
    for (int c = threadIdx.x; c < cols; c += THREADS) total += exp_of(row[c] - top);
    total = block_reduce<T, false>(total, buffer);
    T scale = T(1) / total;
    for (int c = threadIdx.x; c < cols; c += THREADS) row_out[c] = exp_of(row[c] - top) * scale;
}

extern "C" __global__ void __launch_bounds__(THREADS)
    softmax_three_pass_f32(const float* x, float* out, int cols) {
    three_pass(x, out, cols);
}

extern "C" __global__ void __launch_bounds__(THREADS)
    softmax_three_pass_f64(const double* x, double* out, int cols) {
    three_pass(x, out, cols);
}
