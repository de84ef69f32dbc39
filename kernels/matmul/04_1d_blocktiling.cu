// matmul 04 1D register blocking: a 64x64 block of C per 512 threads, each thread
// computing 8 elements of one column (TM = 8). The B value a thread needs is loaded from
// shared memory once and reused for 8 products held in registers, so shared-memory loads
// per multiply-add drop from 2 to about 1.1. Tiles of K are 8 deep. Needs M and N multiples
// of 64 and K a multiple of 8.

// Launch geometry: BM, BN, BK, TM, THREADS come as -D options from the port, which launches
// the kernel with the same numbers (GEOMETRIES in src/perfkit/workloads/matmul.py).
#if !defined(BM) || !defined(BN) || !defined(BK) || !defined(TM) || !defined(THREADS)
#error "matmul 04 needs -D BM BN BK TM THREADS (its port's launch geometry)"
#endif
static_assert(THREADS == (BM * BN) / TM,
              "one thread per TM elements of a column of the BM x BN tile");
static_assert(BM % TM == 0, "TM divides BM");
static_assert(BM * BK == THREADS && BK * BN == THREADS,
              "one element of each tile loaded a thread");

extern "C" __global__ void __launch_bounds__(THREADS)
    matmul_1d_blocktiling(const float* __restrict__ A, const float* __restrict__ B,
                          float* __restrict__ C, int M, int N, int K) {
    __shared__ float As[BM * BK];
    __shared__ float Bs[BK * BN];
    const int threadCol = threadIdx.x % BN;
    const int threadRow = threadIdx.x / BN;
    const int innerColA = threadIdx.x % BK;
    const int innerRowA = threadIdx.x / BK;
    const int innerColB = threadIdx.x % BN;
    const int innerRowB = threadIdx.x / BN;
    A += (long long)blockIdx.y * BM * K;
    B += blockIdx.x * BN;
    C += (long long)blockIdx.y * BM * N + blockIdx.x * BN;
    float results[TM] = {0.0f};
    for (int k0 = 0; k0 < K; k0 += BK) {
        As[innerRowA * BK + innerColA] = A[(long long)innerRowA * K + innerColA];
        Bs[innerRowB * BN + innerColB] = B[(long long)innerRowB * N + innerColB];
        __syncthreads();
        A += BK;
        B += (long long)BK * N;
#pragma unroll
        for (int dot = 0; dot < BK; ++dot) {
            float b = Bs[dot * BN + threadCol];
#pragma unroll
            for (int i = 0; i < TM; ++i) results[i] += As[(threadRow * TM + i) * BK + dot] * b;
        }
        __syncthreads();
    }
#pragma unroll
    for (int i = 0; i < TM; ++i) C[(long long)(threadRow * TM + i) * N + threadCol] = results[i];
}
