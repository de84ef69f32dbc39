// vector_add 01 naive: one thread per element, a grid that covers the vector once.
// The baseline: every load and store is coalesced already, but each thread does one
// element, so a large vector needs millions of short-lived threads and the index math and
// launch of each block are paid per element.

// Launch geometry: THREADS comes as a -D option from the port, which launches the kernel
// with the same number (GEOMETRIES in src/perfkit/workloads/vector_add.py).
#if !defined(THREADS)
#error "vector_add 01 needs -D THREADS (its port's launch geometry)"
#endif

template <typename T>
__device__ void axpy_naive(const T* __restrict__ x, const T* __restrict__ y, T* __restrict__ z,
                           T a, long long n) {
    long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x;
    if (i < n) z[i] = a * x[i] + y[i];
}

extern "C" __global__ void __launch_bounds__(THREADS)
    vector_add_naive_f32(const float* x, const float* y, float* z, float a, long long n) {
    axpy_naive(x, y, z, a, n);
}

extern "C" __global__ void __launch_bounds__(THREADS)
    vector_add_naive_f64(const double* x, const double* y, double* z, double a, long long n) {
    axpy_naive(x, y, z, a, n);
}
