// vector_add 02 grid-stride: a grid sized to the device (a few blocks per multiprocessor),
// each thread walking the vector in steps of the whole grid. Fewer blocks to schedule, and
// each thread keeps several independent loads in flight across loop iterations.

// Launch geometry: THREADS comes as a -D option from the port, which launches the kernel
// with the same number (GEOMETRIES in src/perfkit/workloads/vector_add.py).
#if !defined(THREADS)
#error "vector_add 02 needs -D THREADS (its port's launch geometry)"
#endif

template <typename T>
__device__ void axpy_grid_stride(const T* __restrict__ x, const T* __restrict__ y,
                                 T* __restrict__ z, T a, long long n) {
    long long stride = (long long)gridDim.x * blockDim.x;
    for (long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x; i < n; i += stride) {
        z[i] = a * x[i] + y[i];
    }
}

extern "C" __global__ void __launch_bounds__(THREADS)
    vector_add_grid_stride_f32(const float* x, const float* y, float* z, float a,
                               long long n) {
    axpy_grid_stride(x, y, z, a, n);
}

extern "C" __global__ void __launch_bounds__(THREADS)
    vector_add_grid_stride_f64(const double* x, const double* y, double* z, double a,
                               long long n) {
    axpy_grid_stride(x, y, z, a, n);
}
