// SampleRng: the random stream of one sample view.
//
// Every random decision of the data pipeline for a sample draws from a generator seeded by
// (run seed, epoch, sample key, view slot) — never from a shared generator — so a batch is
// the same whatever the number of worker threads and whatever order they run in.
// The generator is xoshiro256** seeded through SplitMix64: small state, fast, and its output
// is fixed forever (runs must reproduce across releases).
#pragma once

#include <cstdint>
#include <string_view>

namespace mdlab {

/// A deterministic per-sample random stream.
class SampleRng {
 public:
  /// The stream of (seed, epoch, key, slot).
  SampleRng(uint64_t seed, int64_t epoch, std::string_view key, int64_t slot);
  /// A stream from a raw 64-bit seed.
  explicit SampleRng(uint64_t seed);
  /// Next 64 random bits.
  uint64_t next();
  /// Uniform double in [0, 1).
  double uniform();
  /// Uniform double in [lo, hi).
  double uniform(double lo, double hi) { return lo + (hi - lo) * uniform(); }
  /// Uniform integer in [lo, hi] (inclusive).
  int64_t uniform_int(int64_t lo, int64_t hi);
  /// True with probability p.
  bool bernoulli(double p) { return uniform() < p; }

 private:
  uint64_t s_[4];
};

/// 64-bit hash of a key (FNV-1a), stable across platforms and releases.
uint64_t hash_key(std::string_view key);

}  // namespace mdlab
