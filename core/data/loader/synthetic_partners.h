// SyntheticPartners: the synthetic variations of a real DataSource's samples, found by key in
// a mirror tree.
//
// Layout of the mirror tree: the partner of real sample key K is `<root>/K.<ext>` and/or the
// variations `<root>/K_v0.<ext>`, `<root>/K_v1.<ext>`, ... with any image extension (case
// ignored). The candidates of a key are, in this order, the plain file (when present) and the
// `_vN` files by increasing N; `variations = K > 0` keeps the first K of them. The tree is
// scanned once, when the object is built: training never stats a file.
//
// Which candidate a sample uses in an epoch is a pure function of (seed, epoch, key), so a
// run reproduces whatever the thread count, and a resumed run picks what an uninterrupted run
// would have picked.
#pragma once

#include "data_source.h"
#include "image.h"

#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace mdlab {

/// What to do with a real sample whose synthetic partner is missing.
enum class MissingPartnerPolicy {
  kError,  ///< refuse to train: mdlab::Error naming the first missing keys and the count
  kSkip,   ///< drop the sample from training (count reported)
  kReal,   ///< use the real image for the sample's synthetic views (count reported)
};

/// Parses "error", "skip" or "real"; throws mdlab::Error listing the choices otherwise.
MissingPartnerPolicy parse_missing_partner_policy(std::string_view name);

/// The TOML name of `policy`.
std::string_view missing_partner_policy_name(MissingPartnerPolicy policy);

/// Decodes an image file into `out` (1 or 3 channels as stored) honouring the hint; throws
/// DataError naming the file when it is corrupt or unreadable. Must be thread-safe.
using DecodeFn = std::function<void(const std::filesystem::path&, ImageU8&, const DecodeHint&)>;

/// How partners are found and chosen.
struct SyntheticOptions {
  std::filesystem::path root;  ///< mirror tree
  int variations = 0;          ///< candidates used per key; 0 = every one found
  MissingPartnerPolicy on_missing = MissingPartnerPolicy::kError;  ///< missing partners
  uint64_t seed = 0;  ///< run seed: picks the candidate of each (epoch, key)
  /// Real indices (ascending) that will be used, e.g. a `fraction` subset: only their
  /// partners must exist under kError. Empty: every sample.
  std::vector<int64_t> used;
};

/// The synthetic partners of one real source, indexed like it.
class SyntheticPartners {
 public:
  /// Scans `options.root` once and matches every key of `real`; throws mdlab::Error when the
  /// root is not a folder, when a key has two plain files or two files for one variation
  /// (ambiguous), or when partners are missing under MissingPartnerPolicy::kError.
  SyntheticPartners(std::shared_ptr<const DataSource> real, SyntheticOptions options,
                    DecodeFn decode);

  /// Number of samples (that of the real source).
  int64_t size() const { return real_->size(); }
  /// Key of sample `i` (that of the real sample).
  const std::string& key(int64_t i) const { return real_->key(i); }
  /// The real source.
  const DataSource& real() const { return *real_; }
  /// The options it was built with.
  const SyntheticOptions& options() const { return options_; }

  /// True when sample `i` has at least one partner file.
  bool has_partner(int64_t i) const { return first_[i + 1] > first_[i]; }
  /// Number of candidate files of sample `i` (0 when missing).
  int candidates(int64_t i) const { return static_cast<int>(first_[i + 1] - first_[i]); }
  /// Real indices without a partner, ascending.
  const std::vector<int64_t>& missing() const { return missing_; }
  /// Number of samples without a partner.
  int64_t missing_count() const { return static_cast<int64_t>(missing_.size()); }
  /// Samples that have a partner but fewer than `options().variations` candidates.
  int64_t short_count() const { return short_count_; }
  /// Largest number of candidates of any key.
  int max_candidates() const { return max_candidates_; }

  /// The candidate (0-based) sample `i` uses in `epoch`; throws mdlab::Error when missing.
  int variation(int64_t i, int64_t epoch) const;
  /// The file sample `i` uses in `epoch`; throws mdlab::Error when missing.
  std::filesystem::path partner_file(int64_t i, int64_t epoch) const;
  /// Candidate `v` of sample `i`.
  std::filesystem::path candidate_file(int64_t i, int v) const;

  /// Decodes the partner of sample `i` for `epoch` into `out`. A missing partner under
  /// MissingPartnerPolicy::kReal loads the real image instead; under the other policies it
  /// throws mdlab::Error. Decode failures throw DataError naming the file. Thread-safe.
  void load_partner(int64_t i, int64_t epoch, ImageU8& out, const DecodeHint& hint = {}) const;

  /// One line for logs: root, samples, partners found, missing and policy, candidates.
  std::string describe() const;

 private:
  std::shared_ptr<const DataSource> real_;
  SyntheticOptions options_;
  DecodeFn decode_;
  uint64_t variation_seed_ = 0;
  // Candidate files of all samples as one character pool (relative paths, '/'-separated):
  // sample i owns candidates [first_[i], first_[i+1]), candidate c is the text
  // [offsets_[c], offsets_[c+1]) of pool_. A million keys cost tens of MB, not hundreds.
  std::vector<int64_t> first_;
  std::vector<int64_t> offsets_;
  std::string pool_;
  std::vector<int64_t> missing_;
  int64_t short_count_ = 0;
  int max_candidates_ = 0;
};

}  // namespace mdlab
