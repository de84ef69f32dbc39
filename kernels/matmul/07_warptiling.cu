// matmul 07 warp tiling: 06 with one more level of the hierarchy. A 128x128 block of C per
// 128 threads (4 warps), each warp owning a 64x64 tile, each thread an 8x4 piece of four
// 64x16 warp sub-tiles (128 results in registers). A warp's threads then read neighbouring
// shared-memory words (fewer bank conflicts), and the 16-deep K tiles halve the barriers
// per multiply-add. Needs M and N multiples of 128, K of 16.

// Launch geometry: BM, BN, BK, WM, WN, WNITER, TM, TN, THREADS come as -D options from the
// port, which launches the kernel with the same numbers (GEOMETRIES in
// src/perfkit/workloads/matmul.py).
#if !defined(BM) || !defined(BN) || !defined(BK) || !defined(WM) || !defined(WN) || \
    !defined(WNITER) || !defined(TM) || !defined(TN) || !defined(THREADS)
#error "matmul 07 needs -D BM BN BK WM WN WNITER TM TN THREADS (its port's launch geometry)"
#endif
#define WMITER ((WM * WN) / (32 * TM * TN * WNITER))
#define WSUBM (WM / WMITER)
#define WSUBN (WN / WNITER)
static_assert(THREADS == 32 * (BM / WM) * (BN / WN),
              "a warp per WM x WN tile of the BM x BN tile");
static_assert(BM % WM == 0 && BN % WN == 0, "the warp tiles tile the block's tile");
static_assert(TN == 4, "a thread stores its TN results of a row as one float4");
static_assert((WM * WN) % (32 * TM * TN * WNITER) == 0, "whole sub-tiles a warp");
static_assert(WM % WMITER == 0 && WN % WNITER == 0, "sub-tiles split the warp tile");
static_assert((WSUBM / TM) * (WSUBN / TN) == 32 && WSUBN % TN == 0 && WSUBM % TM == 0,
              "a warp's 32 threads cover a WSUBM x WSUBN sub-tile");
static_assert(BK % 4 == 0 && BM % ((THREADS * 4) / BK) == 0,
              "whole float4 rows of A's tile a load step");
static_assert(THREADS % (BN / 4) == 0 && BK % (THREADS / (BN / 4)) == 0,
              "whole float4 rows of B's tile a load step");

extern "C" __global__ void __launch_bounds__(THREADS)
    matmul_warptiling(const float* __restrict__ A, const float* __restrict__ B,
                      float* __restrict__ C, int M, int N, int K) {
    __shared__ __align__(16) float As[BK * BM];  // transposed: As[k][m]
    __shared__ __align__(16) float Bs[BK * BN];
    const int warp = threadIdx.x / 32;
    const int warpCol = warp % (BN / WN);
    const int warpRow = warp / (BN / WN);
    const int lane = threadIdx.x % 32;
    const int threadColInWarp = lane % (WSUBN / TN);
    const int threadRowInWarp = lane / (WSUBN / TN);
    const int innerRowA = threadIdx.x / (BK / 4);
    const int innerColA = threadIdx.x % (BK / 4);
    const int strideA = (THREADS * 4) / BK;
    const int innerRowB = threadIdx.x / (BN / 4);
    const int innerColB = threadIdx.x % (BN / 4);
    const int strideB = THREADS / (BN / 4);
    A += (long long)blockIdx.y * BM * K;
    B += blockIdx.x * BN;
    C += (long long)(blockIdx.y * BM + warpRow * WM) * N + blockIdx.x * BN + warpCol * WN;
    float results[WMITER * TM * WNITER * TN] = {0.0f};
    float regM[WMITER * TM];
    float regN[WNITER * TN];
    for (int k0 = 0; k0 < K; k0 += BK) {
#pragma unroll
        for (int offset = 0; offset < BM; offset += strideA) {
            float4 a = reinterpret_cast<const float4*>(
                &A[(long long)(innerRowA + offset) * K + innerColA * 4])[0];
            As[(innerColA * 4 + 0) * BM + innerRowA + offset] = a.x;
            As[(innerColA * 4 + 1) * BM + innerRowA + offset] = a.y;
            As[(innerColA * 4 + 2) * BM + innerRowA + offset] = a.z;
            As[(innerColA * 4 + 3) * BM + innerRowA + offset] = a.w;
        }
#pragma unroll
        for (int offset = 0; offset < BK; offset += strideB)
            reinterpret_cast<float4*>(&Bs[(innerRowB + offset) * BN + innerColB * 4])[0] =
                reinterpret_cast<const float4*>(
                    &B[(long long)(innerRowB + offset) * N + innerColB * 4])[0];
        __syncthreads();
        A += BK;
        B += (long long)BK * N;
#pragma unroll
        for (int dot = 0; dot < BK; ++dot) {
#pragma unroll
            for (int wm = 0; wm < WMITER; ++wm)
#pragma unroll
                for (int i = 0; i < TM; ++i)
                    regM[wm * TM + i] =
                        As[dot * BM + warpRow * WM + wm * WSUBM + threadRowInWarp * TM + i];
#pragma unroll
            for (int wn = 0; wn < WNITER; ++wn)
#pragma unroll
                for (int j = 0; j < TN; ++j)
                    regN[wn * TN + j] =
                        Bs[dot * BN + warpCol * WN + wn * WSUBN + threadColInWarp * TN + j];
#pragma unroll
            for (int wm = 0; wm < WMITER; ++wm)
#pragma unroll
                for (int wn = 0; wn < WNITER; ++wn)
#pragma unroll
                    for (int i = 0; i < TM; ++i)
#pragma unroll
                        for (int j = 0; j < TN; ++j)
                            results[(wm * TM + i) * (WNITER * TN) + wn * TN + j] +=
                                regM[wm * TM + i] * regN[wn * TN + j];
        }
        __syncthreads();
    }
#pragma unroll
    for (int wm = 0; wm < WMITER; ++wm)
#pragma unroll
        for (int wn = 0; wn < WNITER; ++wn)
#pragma unroll
            for (int i = 0; i < TM; ++i) {
                const int r = wm * WSUBM + threadRowInWarp * TM + i;
                const int c = wn * WSUBN + threadColInWarp * TN;
                const float* v = &results[(wm * TM + i) * (WNITER * TN) + wn * TN];
                reinterpret_cast<float4*>(&C[(long long)r * N + c])[0] =
                    make_float4(v[0], v[1], v[2], v[3]);
            }
}
