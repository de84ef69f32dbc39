// matmul 05 2D register blocking: a 128x128 block of C per 256 threads, each thread an 8x8
// sub-block. Per step of K a thread loads 8 values of A and 8 of B from shared memory into
// registers and does 64 multiply-adds with them (an outer product): 4 shared loads per 16
// multiply-adds instead of about 18 in 04. Needs M and N multiples of 128, K of 8.

// Launch geometry: BM, BN, BK, TM, TN, THREADS come as -D options from the port, which
// launches the kernel with the same numbers (GEOMETRIES in
// src/perfkit/workloads/matmul.py).
#if !defined(BM) || !defined(BN) || !defined(BK) || !defined(TM) || !defined(TN) || \
    !defined(THREADS)
#error "matmul 05 needs -D BM BN BK TM TN THREADS (its port's launch geometry)"
#endif
static_assert(THREADS == (BM * BN) / (TM * TN),
              "one thread per TM x TN piece of the BM x BN tile");
static_assert(BM % TM == 0 && BN % TN == 0, "the pieces tile the block's tile");
static_assert(THREADS % BK == 0 && BM % (THREADS / BK) == 0,
              "whole rows of A's tile a load step");
static_assert(THREADS % BN == 0 && BK % (THREADS / BN) == 0,
              "whole rows of B's tile a load step");

extern "C" __global__ void __launch_bounds__(THREADS)
    matmul_2d_blocktiling(const float* __restrict__ A, const float* __restrict__ B,
                          float* __restrict__ C, int M, int N, int K) {
    __shared__ float As[BM * BK];
    __shared__ float Bs[BK * BN];
    const int threadCol = threadIdx.x % (BN / TN);
    const int threadRow = threadIdx.x / (BN / TN);
    const int innerRowA = threadIdx.x / BK;
    const int innerColA = threadIdx.x % BK;
    const int strideA = THREADS / BK;
    const int innerRowB = threadIdx.x / BN;
    const int innerColB = threadIdx.x % BN;
    const int strideB = THREADS / BN;
    A += (long long)blockIdx.y * BM * K;
    B += blockIdx.x * BN;
    C += (long long)blockIdx.y * BM * N + blockIdx.x * BN;
    float results[TM * TN] = {0.0f};
    float regM[TM];
    float regN[TN];
    for (int k0 = 0; k0 < K; k0 += BK) {
#pragma unroll
        for (int offset = 0; offset < BM; offset += strideA)
            As[(innerRowA + offset) * BK + innerColA] =
                A[(long long)(innerRowA + offset) * K + innerColA];
#pragma unroll
        for (int offset = 0; offset < BK; offset += strideB)
            Bs[(innerRowB + offset) * BN + innerColB] =
                B[(long long)(innerRowB + offset) * N + innerColB];
        __syncthreads();
        A += BK;
        B += (long long)BK * N;
#pragma unroll
        for (int dot = 0; dot < BK; ++dot) {
#pragma unroll
            for (int i = 0; i < TM; ++i) regM[i] = As[(threadRow * TM + i) * BK + dot];
#pragma unroll
            for (int j = 0; j < TN; ++j) regN[j] = Bs[dot * BN + threadCol * TN + j];
#pragma unroll
            for (int i = 0; i < TM; ++i)
#pragma unroll
                for (int j = 0; j < TN; ++j) results[i * TN + j] += regM[i] * regN[j];
        }
        __syncthreads();
    }
#pragma unroll
    for (int i = 0; i < TM; ++i)
#pragma unroll
        for (int j = 0; j < TN; ++j)
            C[(long long)(threadRow * TM + i) * N + threadCol * TN + j] = results[i * TN + j];
}
