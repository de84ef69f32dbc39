// reduce_sum 01 shared-memory tree: each block of 256 threads loads 512 elements (adding
// pairs on the way in), halves them in shared memory with a barrier per step, and writes
// one partial sum; the host launches again over the partials until one is left. Sums are
// kept in double, so a float32 sum of 2^28 values stays within 1e-7 of the exact one.
// Slow parts: log2(256) = 8 barriers per block, idle threads in the last steps, and a
// launch per pass.

// Launch geometry: THREADS comes as a -D option from the port, which launches the kernel
// with the same number (GEOMETRIES in src/perfkit/workloads/reduce_sum.py).
#if !defined(THREADS)
#error "reduce_sum 01 needs -D THREADS (its port's launch geometry)"
#endif
static_assert(THREADS >= 2 && (THREADS & (THREADS - 1)) == 0, "a tree halves a power of two");

template <typename T>
__device__ void tree_pass(const T* __restrict__ x, double* __restrict__ partial, long long n) {
    __shared__ double buffer[THREADS];
    unsigned tid = threadIdx.x;
    long long i = (long long)blockIdx.x * (2 * THREADS) + tid;
    double value = 0.0;
    if (i < n) value = (double)x[i];
    if (i + THREADS < n) value += (double)x[i + THREADS];
    buffer[tid] = value;
    __syncthreads();
    for (unsigned half = THREADS / 2; half > 0; half >>= 1) {
        if (tid < half) buffer[tid] += buffer[tid + half];
        __syncthreads();
    }
    if (tid == 0) partial[blockIdx.x] = buffer[0];
}

extern "C" __global__ void __launch_bounds__(THREADS)
    reduce_sum_tree_f32(const float* x, double* partial, long long n) {
    tree_pass(x, partial, n);
}

extern "C" __global__ void __launch_bounds__(THREADS)
    reduce_sum_tree_f64(const double* x, double* partial, long long n) {
    tree_pass(x, partial, n);
}
