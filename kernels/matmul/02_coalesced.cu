// matmul 02 coalesced: the same dot products as 01, but consecutive threads of a warp take
// consecutive *columns*: their loads of B and stores to C touch one contiguous 128-byte
// line, and their loads of A are one broadcast address. Same arithmetic, far fewer memory
// transactions.

extern "C" __global__ void __launch_bounds__(1024)
    matmul_coalesced(const float* __restrict__ A, const float* __restrict__ B,
                     float* __restrict__ C, int M, int N, int K) {
    int col = blockIdx.x * 32 + threadIdx.x;
    int row = blockIdx.y * 32 + threadIdx.y;
    if (row < M && col < N) {
        float sum = 0.0f;
        for (int i = 0; i < K; ++i) sum += A[(long long)row * K + i] * B[(long long)i * N + col];
        C[(long long)row * N + col] = sum;
    }
}
