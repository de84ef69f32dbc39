// matmul 01 naive: C = A @ B (float32, row-major), one thread per element of C, a dot
// product of length K each. Consecutive threads of a warp take consecutive *rows*, so
// their loads of A are K floats apart and their stores to C are N apart: every access is
// its own memory transaction. The starting point of the ladder.

extern "C" __global__ void __launch_bounds__(1024)
    matmul_naive(const float* __restrict__ A, const float* __restrict__ B,
                 float* __restrict__ C, int M, int N, int K) {
    int row = blockIdx.x * 32 + threadIdx.x;
    int col = blockIdx.y * 32 + threadIdx.y;
    if (row < M && col < N) {
        float sum = 0.0f;
        for (int i = 0; i < K; ++i) sum += A[(long long)row * K + i] * B[(long long)i * N + col];
        C[(long long)row * N + col] = sum;
    }
}
