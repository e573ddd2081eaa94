// MDLAB_VECTOR_CLONES: compiles a hot loop twice, for the baseline x86-64 ISA (SSE2) and for
// AVX2, and picks the version at load time from the CPU (GCC function multi-versioning,
// an ifunc). The build stays portable (no -march), and the AVX2 clone doubles the vector
// width of the loops the compiler vectorises. Only "avx2" is named, never "fma" or
// "arch=x86-64-v3": contracting a * b + c into one FMA would change the float rounding the
// bit-exactness tests pin down. Other compilers and targets get the plain function.
//
// MDLAB_AVX2_DISPATCH: 1 where hand-written AVX2 kernels (__attribute__((target("avx2"))))
// can be compiled beside the portable code and chosen at run time with have_avx2().
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
namespace mdlab::augment {
/// Whether this CPU runs AVX2 (asked once).
inline bool have_avx2() {
  static const bool yes = __builtin_cpu_supports("avx2");
  return yes;
}
/// Whether this CPU runs AVX-512 with byte permutes (F, BW, VBMI; asked once).
inline bool have_avx512_vbmi() {
  static const bool yes = __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
                          __builtin_cpu_supports("avx512vbmi");
  return yes;
}
/// Whether this CPU runs AVX2 and FMA (asked once): kernels whose portable form uses std::fma.
inline bool have_avx2_fma() {
  static const bool yes = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
  return yes;
}
}  // namespace mdlab::augment
#endif
