// MDLAB_VECTOR_CLONES: compiles a hot loop twice, for the baseline x86-64 ISA (SSE2) and for
// AVX2, and picks the version at load time from the CPU (GCC function multi-versioning,
// an ifunc). The build stays portable (no -march), and the AVX2 clone doubles the vector
// width of the loops the compiler vectorises. Only "avx2" is named, never "fma" or
// "arch=x86-64-v3": contracting a * b + c into one FMA would change the float rounding the
// bit-exactness tests pin down. Other compilers and targets get the plain function.
//
// MDLAB_AVX2_DISPATCH: 1 where hand-written AVX2 kernels (__attribute__((target("avx2"))))
// can be compiled beside the portable code and chosen at run time with have_avx2().
//
// The environment variable MDLAB_MAX_ISA (baseline | avx2 | avx512; default: whatever the
// CPU runs) caps the hand-written kernels, so that every path runs and is tested on one
// machine (tests/unit/augment registers the suite once per level) and paths can be timed
// against each other. All paths give the same bytes.
#pragma once

#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__) && defined(__linux__)
#include <immintrin.h>
#define MDLAB_VECTOR_CLONES __attribute__((target_clones("avx2", "default")))
#define MDLAB_AVX2_DISPATCH 1
#else
#define MDLAB_VECTOR_CLONES
#define MDLAB_AVX2_DISPATCH 0
#endif

#if MDLAB_AVX2_DISPATCH
#include <cstdio>
#include <cstdlib>
#include <cstring>

namespace mdlab::augment {
/// Levels of hand-written kernels, in order.
enum class KernelIsa { kBaseline = 0, kAvx2 = 1, kAvx512 = 2 };

/// The highest level MDLAB_MAX_ISA allows (read once; unset: kAvx512). An unknown value is
/// reported on stderr and ignored.
inline KernelIsa max_kernel_isa() {
  static const KernelIsa level = [] {
    const char* v = std::getenv("MDLAB_MAX_ISA");
    if (v == nullptr || *v == '\0' || std::strcmp(v, "avx512") == 0) return KernelIsa::kAvx512;
    if (std::strcmp(v, "avx2") == 0) return KernelIsa::kAvx2;
    if (std::strcmp(v, "baseline") == 0) return KernelIsa::kBaseline;
    std::fprintf(stderr, "mdlab: MDLAB_MAX_ISA=%s is not baseline, avx2 or avx512; ignoring it\n",
                 v);
    return KernelIsa::kAvx512;
  }();
  return level;
}

/// Whether the AVX2 kernels may run: the CPU has AVX2 and MDLAB_MAX_ISA allows it.
inline bool have_avx2() {
  static const bool yes = max_kernel_isa() >= KernelIsa::kAvx2 && __builtin_cpu_supports("avx2");
  return yes;
}
/// Whether the AVX-512 kernels with byte permutes may run (F, BW, VBMI; MDLAB_MAX_ISA).
inline bool have_avx512_vbmi() {
  static const bool yes = max_kernel_isa() >= KernelIsa::kAvx512 &&
                          __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
                          __builtin_cpu_supports("avx512vbmi");
  return yes;
}
/// Whether the AVX-512 VNNI kernels (vpdpwssd on 256-bit vectors) may run (F, VL, VNNI;
/// MDLAB_MAX_ISA).
inline bool have_avx512_vnni() {
  static const bool yes = max_kernel_isa() >= KernelIsa::kAvx512 && have_avx2() &&
                          __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512vl") &&
                          __builtin_cpu_supports("avx512vnni");
  return yes;
}
/// Whether the AVX2 + FMA kernels may run (kernels whose portable form uses std::fma).
inline bool have_avx2_fma() {
  static const bool yes = have_avx2() && __builtin_cpu_supports("fma");
  return yes;
}
}  // namespace mdlab::augment
#endif
