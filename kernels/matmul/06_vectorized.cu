// matmul 06 vectorised: 05's tiling with 16-byte memory instructions. Tiles of A and B are
// loaded from global memory as float4; A is stored transposed in shared memory, so a
// thread's 8 values of A for one step of K are contiguous like its 8 values of B, and both
// are read with 128-bit shared loads; C is written as float4. Needs M and N multiples of
// 128, K of 8.

// Launch geometry: BM, BN, BK, TM, TN, THREADS come as -D options from the port, which
// launches the kernel with the same numbers (GEOMETRIES in
// src/perfkit/workloads/matmul.py).
#if !defined(BM) || !defined(BN) || !defined(BK) || !defined(TM) || !defined(TN) || \
    !defined(THREADS)
#error "matmul 06 needs -D BM BN BK TM TN THREADS (its port's launch geometry)"
#endif
static_assert(THREADS == (BM * BN) / (TM * TN),
              "one thread per TM x TN piece of the BM x BN tile");
static_assert(BM % TM == 0 && BN % TN == 0, "the pieces tile the block's tile");
static_assert(TM % 4 == 0 && TN % 4 == 0 && BK % 4 == 0, "float4 loads and stores");
static_assert(BM * BK == 4 * THREADS && BK * BN == 4 * THREADS,
              "one float4 of each tile loaded a thread");

extern "C" __global__ void __launch_bounds__(THREADS)
    matmul_vectorized(const float* __restrict__ A, const float* __restrict__ B,
                      float* __restrict__ C, int M, int N, int K) {
    __shared__ __align__(16) float As[BK * BM];  // transposed: As[k][m]
    __shared__ __align__(16) float Bs[BK * BN];
    const int threadCol = threadIdx.x % (BN / TN);
    const int threadRow = threadIdx.x / (BN / TN);
    const int innerRowA = threadIdx.x / (BK / 4);
    const int innerColA = threadIdx.x % (BK / 4);
    const int innerRowB = threadIdx.x / (BN / 4);
    const int innerColB = threadIdx.x % (BN / 4);
    A += (long long)blockIdx.y * BM * K;
    B += blockIdx.x * BN;
    C += (long long)blockIdx.y * BM * N + blockIdx.x * BN;
    float results[TM * TN] = {0.0f};
    float regM[TM];
    float regN[TN];
    for (int k0 = 0; k0 < K; k0 += BK) {
        float4 a = reinterpret_cast<const float4*>(&A[(long long)innerRowA * K + innerColA * 4])[0];
        As[(innerColA * 4 + 0) * BM + innerRowA] = a.x;
        As[(innerColA * 4 + 1) * BM + innerRowA] = a.y;
        As[(innerColA * 4 + 2) * BM + innerRowA] = a.z;
        As[(innerColA * 4 + 3) * BM + innerRowA] = a.w;
        reinterpret_cast<float4*>(&Bs[innerRowB * BN + innerColB * 4])[0] =
            reinterpret_cast<const float4*>(&B[(long long)innerRowB * N + innerColB * 4])[0];
        __syncthreads();
        A += BK;
        B += (long long)BK * N;
#pragma unroll
        for (int dot = 0; dot < BK; ++dot) {
#pragma unroll
            for (int i = 0; i < TM; i += 4) {
                float4 m = reinterpret_cast<const float4*>(&As[dot * BM + threadRow * TM + i])[0];
                regM[i] = m.x;
                regM[i + 1] = m.y;
                regM[i + 2] = m.z;
                regM[i + 3] = m.w;
            }
#pragma unroll
            for (int j = 0; j < TN; j += 4) {
                float4 n = reinterpret_cast<const float4*>(&Bs[dot * BN + threadCol * TN + j])[0];
                regN[j] = n.x;
                regN[j + 1] = n.y;
                regN[j + 2] = n.z;
                regN[j + 3] = n.w;
            }
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
        for (int j = 0; j < TN; j += 4) {
            float4 out = make_float4(results[i * TN + j], results[i * TN + j + 1],
                                     results[i * TN + j + 2], results[i * TN + j + 3]);
            reinterpret_cast<float4*>(&C[(long long)(threadRow * TM + i) * N + threadCol * TN + j])[0] = out;
        }
}
