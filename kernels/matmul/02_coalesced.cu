// matmul 02 coalesced: the same dot products as 01, but consecutive threads of a warp take
// consecutive *columns*: their loads of B and stores to C touch one contiguous 128-byte
// line, and their loads of A are one broadcast address. Same arithmetic, far fewer memory
// transactions.

// Launch geometry: TILE, THREADS come as -D options from the port, which launches the
// kernel with the same numbers (GEOMETRIES in src/perfkit/workloads/matmul.py).
#if !defined(TILE) || !defined(THREADS)
#error "matmul 02 needs -D TILE THREADS (its port's launch geometry)"
#endif
static_assert(THREADS == TILE * TILE, "a TILE x TILE block");

extern "C" __global__ void __launch_bounds__(THREADS)
    matmul_coalesced(const float* __restrict__ A, const float* __restrict__ B,
                     float* __restrict__ C, int M, int N, int K) {
    int col = blockIdx.x * TILE + threadIdx.x;
    int row = blockIdx.y * TILE + threadIdx.y;
    if (row < M && col < N) {
        float sum = 0.0f;
        for (int i = 0; i < K; ++i) sum += A[(long long)row * K + i] * B[(long long)i * N + col];
        C[(long long)row * N + col] = sum;
    }
}
