// reduce_sum 03 many elements per thread: one pass. A grid sized to the device, each thread
// summing a grid-stride run of 16-byte vectors (float4, double2) into a double in a
// register, then the warp-shuffle block sum of 02 and one atomicAdd per block into the
// result (zeroed by the host before the launch). Memory traffic is the input read once;
// there are no partials and no second launch.

// Launch geometry: THREADS comes as a -D option from the port, which launches the kernel
// with the same number (GEOMETRIES in src/perfkit/workloads/reduce_sum.py).
#if !defined(THREADS)
#error "reduce_sum 03 needs -D THREADS (its port's launch geometry)"
#endif
static_assert(THREADS % 32 == 0 && THREADS <= 1024,
              "whole warps, one partial a warp in one warp");
#define WARPS (THREADS / 32)

__device__ __forceinline__ double warp_sum(double value) {
    for (int offset = 16; offset > 0; offset >>= 1)
        value += __shfl_down_sync(0xffffffffu, value, offset);
    return value;
}

__device__ __forceinline__ void block_add(double value, double* out) {
    __shared__ double per_warp[WARPS];
    unsigned tid = threadIdx.x;
    value = warp_sum(value);
    if ((tid & 31) == 0) per_warp[tid >> 5] = value;
    __syncthreads();
    if (tid < 32) {
        value = tid < WARPS ? per_warp[tid] : 0.0;
        value = warp_sum(value);
        if (tid == 0) atomicAdd(out, value);
    }
}

extern "C" __global__ void __launch_bounds__(THREADS)
    reduce_sum_multi_f32(const float* __restrict__ x, double* out, long long n) {
    long long stride = (long long)gridDim.x * THREADS;
    long long start = (long long)blockIdx.x * THREADS + threadIdx.x;
    const float4* x4 = reinterpret_cast<const float4*>(x);
    long long vectors = n / 4;
    double sum = 0.0;
    for (long long i = start; i < vectors; i += stride) {
        float4 v = x4[i];
        sum += ((double)v.x + (double)v.y) + ((double)v.z + (double)v.w);
    }
    for (long long i = vectors * 4 + start; i < n; i += stride) sum += (double)x[i];
    block_add(sum, out);
}

extern "C" __global__ void __launch_bounds__(THREADS)
    reduce_sum_multi_f64(const double* __restrict__ x, double* out, long long n) {
    long long stride = (long long)gridDim.x * THREADS;
    long long start = (long long)blockIdx.x * THREADS + threadIdx.x;
    const double2* x2 = reinterpret_cast<const double2*>(x);
    long long vectors = n / 2;
    double sum = 0.0;
    for (long long i = start; i < vectors; i += stride) {
        double2 v = x2[i];
        sum += v.x + v.y;
    }
    for (long long i = vectors * 2 + start; i < n; i += stride) sum += x[i];
    block_add(sum, out);
}
