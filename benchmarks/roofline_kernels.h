// Roofline microkernels: an FMA-throughput loop and a streaming read loop per
// ISA. Each ISA's kernels live in their own file compiled with only that ISA's
// flags (roofline__avx2.cpp, roofline__avx512.cpp; SSE2 is baseline x86-64 and
// lives in roofline.cpp). This header declares plain functions and constants
// only -- nothing inline -- so no function is compiled twice under different
// flags. Call a kernel only when simdrnn_detected_isa() reports its ISA.
#pragma once

#include <cstdint>

namespace simdrnn_bench {

// Independent accumulator chains in the peak loops: enough to cover FMA latency
// (4-5 cycles) times the FMA ports (2) of current x86 cores, within the
// register file (32 zmm; 16 ymm/xmm, two of them hold the operands).
constexpr int kFmaChainsAvx512 = 16;
constexpr int kFmaChainsAvx2 = 12;
constexpr int kMulAddChainsSse2 = 6;  // 6 mul chains + 6 add chains

// FLOPs per iteration of each peak loop.
constexpr double kFlopsPerIterAvx512 = kFmaChainsAvx512 * 16 * 2.0;
constexpr double kFlopsPerIterAvx2 = kFmaChainsAvx2 * 8 * 2.0;
constexpr double kFlopsPerIterSse2 = kMulAddChainsSse2 * 4 * 2.0;

// Dot-product peaks for reduced-precision weights, counted as 2 FLOPs per
// multiply-add like the FMA peaks: vdpbf16ps (16 lanes x 2 pairs), vpdpbusd
// (16 or 8 lanes x 4 byte products). The functions carry their own target
// attribute; call one only when simdrnn reports the ISA level that has it.
constexpr int kDotChains = 12;
constexpr double kFlopsPerIterBf16DotAvx512 = kDotChains * 16 * 2 * 2.0;
constexpr double kFlopsPerIterInt8DotAvx512 = kDotChains * 16 * 4 * 2.0;
constexpr double kFlopsPerIterInt8DotAvx2 = kDotChains * 8 * 4 * 2.0;
float bf16_dot_peak_avx512(int64_t iterations);
float int8_dot_peak_avx512(int64_t iterations);
float int8_dot_peak_avx2(int64_t iterations);

// Runs `iterations` rounds of one vector FMA (SSE2: one mul and one add) on
// every chain. Returns a value derived from all chains, so the compiler keeps
// the work.
float fma_peak_avx512(int64_t iterations);
float fma_peak_avx2(int64_t iterations);
float mul_add_peak_sse2(int64_t iterations);

// Reads floats [0, count) of `src` `passes` times with aligned vector loads
// feeding 8 independent integer adds (latency 1, so the loads are the limit).
// `src` 64-byte aligned, `count` a multiple of kReadBlockFloats. Returns the
// sum so the loads are kept.
constexpr int64_t kReadBlockFloats = 128;  // 512 bytes: 8 zmm, 2 x 8 ymm, 4 x 8 xmm
uint32_t read_avx512(const float* src, int64_t count, int64_t passes);
uint32_t read_avx2(const float* src, int64_t count, int64_t passes);
uint32_t read_sse2(const float* src, int64_t count, int64_t passes);

// As read_*, over `streams` (1..8) equal contiguous parts of [0, count) read
// side by side, one block of each in turn: several hardware-prefetch streams
// in flight, as the GEMM's row-of-two-panels walk and its tiles have.
// `count` a multiple of streams * kReadBlockFloats.
uint32_t read_streams_avx512(const float* src, int64_t count, int64_t passes, int streams);
uint32_t read_streams_avx2(const float* src, int64_t count, int64_t passes, int streams);

}  // namespace simdrnn_bench
