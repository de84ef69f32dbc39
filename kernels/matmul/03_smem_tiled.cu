// matmul 03 shared-memory tiles: a 32x32 block of C per thread block. The block copies a
// 32x32 tile of A and of B into shared memory, every thread reads its row and column from
// there, and the tiles move along K. Each element loaded from global memory is used 32
// times instead of once. Needs M, N and K to be multiples of 32.

// Launch geometry: TILE, THREADS come as -D options from the port, which launches the
// kernel with the same numbers (GEOMETRIES in src/perfkit/workloads/matmul.py).
#if !defined(TILE) || !defined(THREADS)
#error "matmul 03 needs -D TILE THREADS (its port's launch geometry)"
#endif
static_assert(THREADS == TILE * TILE, "a TILE x TILE block");

extern "C" __global__ void __launch_bounds__(THREADS)
    matmul_smem_tiled(const float* __restrict__ A, const float* __restrict__ B,
                      float* __restrict__ C, int M, int N, int K) {
    __shared__ float As[TILE][TILE];
    __shared__ float Bs[TILE][TILE + 1];
    int tx = threadIdx.x;
    int ty = threadIdx.y;
    int row = blockIdx.y * TILE + ty;
    int col = blockIdx.x * TILE + tx;
    float sum = 0.0f;
    for (int k0 = 0; k0 < K; k0 += TILE) {
        As[ty][tx] = A[(long long)row * K + k0 + tx];
        Bs[ty][tx] = B[(long long)(k0 + ty) * N + col];
        __syncthreads();
#pragma unroll
        for (int i = 0; i < TILE; ++i) sum += As[ty][i] * Bs[i][tx];
        __syncthreads();
    }
    C[(long long)row * N + col] = sum;
}
