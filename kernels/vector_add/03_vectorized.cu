// vector_add 03 vectorised: grid-stride over 16-byte vectors (float4, double2), so each
// load and store instruction moves 16 bytes instead of 4 or 8: fewer instructions per byte
// and fuller memory transactions. The arrays must be 16-byte aligned (device allocations
// are); the last n % width elements are done one by one.

// Launch geometry: THREADS comes as a -D option from the port, which launches the kernel
// with the same number (GEOMETRIES in src/perfkit/workloads/vector_add.py).
#if !defined(THREADS)
#error "vector_add 03 needs -D THREADS (its port's launch geometry)"
#endif

extern "C" __global__ void __launch_bounds__(THREADS)
    vector_add_vectorized_f32(const float* __restrict__ x, const float* __restrict__ y,
                              float* __restrict__ z, float a, long long n) {
    long long stride = (long long)gridDim.x * blockDim.x;
    long long start = (long long)blockIdx.x * blockDim.x + threadIdx.x;
    long long vectors = n / 4;
    const float4* x4 = reinterpret_cast<const float4*>(x);
    const float4* y4 = reinterpret_cast<const float4*>(y);
    float4* z4 = reinterpret_cast<float4*>(z);
    for (long long i = start; i < vectors; i += stride) {
        float4 xv = x4[i];
        float4 yv = y4[i];
        z4[i] = make_float4(a * xv.x + yv.x, a * xv.y + yv.y, a * xv.z + yv.z, a * xv.w + yv.w);
    }
    for (long long i = vectors * 4 + start; i < n; i += stride) z[i] = a * x[i] + y[i];
}

extern "C" __global__ void __launch_bounds__(THREADS)
    vector_add_vectorized_f64(const double* __restrict__ x, const double* __restrict__ y,
                              double* __restrict__ z, double a, long long n) {
    long long stride = (long long)gridDim.x * blockDim.x;
    long long start = (long long)blockIdx.x * blockDim.x + threadIdx.x;
    long long vectors = n / 2;
    const double2* x2 = reinterpret_cast<const double2*>(x);
    const double2* y2 = reinterpret_cast<const double2*>(y);
    double2* z2 = reinterpret_cast<double2*>(z);
    for (long long i = start; i < vectors; i += stride) {
        double2 xv = x2[i];
        double2 yv = y2[i];
        z2[i] = make_double2(a * xv.x + yv.x, a * xv.y + yv.y);
    }
    for (long long i = vectors * 2 + start; i < n; i += stride) z[i] = a * x[i] + y[i];
}
