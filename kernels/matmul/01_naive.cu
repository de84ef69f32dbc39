// matmul 01 naive: C = A @ B (float32, row-major), one thread per element of C, a dot
// product of length K each. Consecutive threads of a warp take consecutive *rows*, so
// their loads of A are K floats apart and their stores to C are N apart: every access is
// its own memory transaction. The starting point of the ladder.

// Launch geometry: TILE, THREADS come as -D options from the port, which launches the
// kernel with the same numbers (GEOMETRIES in src/perfkit/workloads/matmul.py).
#if !defined(TILE) || !defined(THREADS)
#error "matmul 01 needs -D TILE THREADS (its port's launch geometry)"
#endif
static_assert(THREADS == TILE * TILE, "a TILE x TILE block");

extern "C" __global__ void __launch_bounds__(THREADS)
    matmul_naive(const float* __restrict__ A, const float* __restrict__ B,
                 float* __restrict__ C, int M, int N, int K) {
    int row = blockIdx.x * TILE + threadIdx.x;
    int col = blockIdx.y * TILE + threadIdx.y;
    if (row < M && col < N) {
        float sum = 0.0f;
        for (int i = 0; i < K; ++i) sum += A[(long long)row * K + i] * B[(long long)i * N + col];
        C[(long long)row * N + col] = sum;
    }
}
