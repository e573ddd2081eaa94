#include "synthetic_partners.h"

#include "sample_rng.h"

#include <mdlab/context.h>
#include <mdlab/error.h>

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <iterator>
#include <system_error>
#include <unordered_map>
#include <utility>

namespace mdlab {
namespace {

// Extensions a decoder may be asked to read; anything else in the mirror tree (metadata,
// logs, prompts) is ignored rather than treated as a partner.
constexpr std::array<std::string_view, 11> kImageExtensions = {
    ".jpg", ".jpeg", ".png", ".ppm", ".pgm", ".pnm", ".bmp", ".webp", ".tif", ".tiff", ".gif"};
constexpr int kMaxListedKeys = 5;
// Variation numbers beyond this are surely not ours (and would overflow an int).
constexpr size_t kMaxVariationDigits = 6;

std::string lower(std::string s) {
  for (auto& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

bool is_image_extension(const std::string& ext) {
  const std::string e = lower(ext);
  return std::find(kImageExtensions.begin(), kImageExtensions.end(), e) != kImageExtensions.end();
}

// Splits "<base>_v<digits>" into (base, number); false when `stem` is not a variation name.
bool parse_variation(std::string_view stem, std::string_view& base, int& number) {
  const size_t at = stem.rfind("_v");
  if (at == std::string_view::npos || at == 0) return false;
  const std::string_view digits = stem.substr(at + 2);
  if (digits.empty() || digits.size() > kMaxVariationDigits) return false;
  if (!std::all_of(digits.begin(), digits.end(), [](char c) { return c >= '0' && c <= '9'; }))
    return false;
  base = stem.substr(0, at);
  if (base.back() == '/') return false;  // "dir/_v0" has no key
  number = std::stoi(std::string(digits));
  return true;
}

[[noreturn]] void throw_ambiguous(const std::filesystem::path& root, const std::string& key,
                                  const std::string& a, const std::string& b) {
  MDLAB_THROW(
      "synthetic partners: key '{}' has two files for the same partner under '{}': '{}' and "
      "'{}'; keep one",
      key, root.string(), std::min(a, b), std::max(a, b));
}

struct Variation {
  int number;
  std::string file;
};

// Everything one scan of the mirror tree finds, by stem (relative path without extension).
struct TreeIndex {
  std::unordered_map<std::string, std::string> plain;                  // stem -> file
  std::unordered_map<std::string, std::vector<Variation>> variations;  // key -> files
};

TreeIndex scan_tree(const std::filesystem::path& root) {
  namespace fs = std::filesystem;
  TreeIndex index;
  std::error_code ec;
  fs::recursive_directory_iterator it(root,
                                      fs::directory_options::follow_directory_symlink |
                                          fs::directory_options::skip_permission_denied,
                                      ec);
  MDLAB_CHECK(!ec, "synthetic partners: cannot read '{}': {}", root.string(), ec.message());
  // Checked after every step: a folder that vanishes mid-scan is an error, not a short list.
  const auto advance = [&] {
    it.increment(ec);
    MDLAB_CHECK(!ec, "synthetic partners: cannot read '{}': {}", root.string(), ec.message());
  };
  for (const fs::recursive_directory_iterator end; it != end; advance()) {
    std::error_code type_ec;
    if (!it->is_regular_file(type_ec)) continue;
    const fs::path& path = it->path();
    const std::string ext = path.extension().string();
    if (!is_image_extension(ext)) continue;
    std::string file = path.lexically_relative(root).generic_string();
    std::string stem = file.substr(0, file.size() - ext.size());
    std::string_view base;
    int number = 0;
    if (parse_variation(stem, base, number))
      index.variations[std::string(base)].push_back({number, file});
    auto [slot, inserted] = index.plain.try_emplace(std::move(stem), file);
    if (!inserted) throw_ambiguous(root, slot->first, slot->second, file);
  }
  for (auto& [key, list] : index.variations) {
    std::sort(list.begin(), list.end(), [](const Variation& a, const Variation& b) {
      return a.number != b.number ? a.number < b.number : a.file < b.file;
    });
    for (size_t j = 1; j < list.size(); ++j)
      if (list[j].number == list[j - 1].number)
        throw_ambiguous(root, key, list[j - 1].file, list[j].file);
  }
  return index;
}

}  // namespace

MissingPartnerPolicy parse_missing_partner_policy(std::string_view name) {
  if (name == "error") return MissingPartnerPolicy::kError;
  if (name == "skip") return MissingPartnerPolicy::kSkip;
  if (name == "real") return MissingPartnerPolicy::kReal;
  MDLAB_THROW("unknown missing-partner policy '{}' (choices: error, skip, real)", name);
}

std::string_view missing_partner_policy_name(MissingPartnerPolicy policy) {
  switch (policy) {
    case MissingPartnerPolicy::kError: return "error";
    case MissingPartnerPolicy::kSkip: return "skip";
    case MissingPartnerPolicy::kReal: return "real";
  }
  return "?";
}

SyntheticPartners::SyntheticPartners(std::shared_ptr<const DataSource> real,
                                     SyntheticOptions options, DecodeFn decode)
    : real_(std::move(real)), options_(std::move(options)), decode_(std::move(decode)) {
  MDLAB_CHECK(real_ != nullptr, "synthetic partners: no real data source");
  MDLAB_CHECK(static_cast<bool>(decode_), "synthetic partners: no decode function");
  MDLAB_CHECK(options_.variations >= 0, "synthetic partners: variations must be >= 0, got {}",
              options_.variations);
  std::error_code ec;
  MDLAB_CHECK(std::filesystem::is_directory(options_.root, ec),
              "synthetic partners: the mirror root '{}' is not a folder", options_.root.string());
  // Its own stream, so the choice of variation is independent of every augmentation draw.
  variation_seed_ = derive_seed(options_.seed, "data.synthetic.variation");

  const TreeIndex index = scan_tree(options_.root);
  const int64_t n = real_->size();
  first_.assign(1, 0);
  first_.reserve(static_cast<size_t>(n) + 1);
  offsets_.assign(1, 0);
  auto add = [&](const std::string& file) {
    pool_ += file;
    offsets_.push_back(static_cast<int64_t>(pool_.size()));
  };
  for (int64_t i = 0; i < n; ++i) {
    const std::string& key = real_->key(i);
    int count = 0;
    const auto keep = [&] { return options_.variations == 0 || count < options_.variations; };
    if (auto p = index.plain.find(key); p != index.plain.end()) {
      add(p->second);
      ++count;
    }
    if (auto v = index.variations.find(key); v != index.variations.end()) {
      for (const auto& variation : v->second) {
        if (!keep()) break;
        add(variation.file);
        ++count;
      }
    }
    first_.push_back(static_cast<int64_t>(offsets_.size()) - 1);
    if (count == 0) missing_.push_back(i);
    if (count > 0 && count < options_.variations) ++short_count_;
    max_candidates_ = std::max(max_candidates_, count);
  }

  // Only the samples the run uses need partners (a `fraction` subset's mirror holds just
  // those).
  std::vector<int64_t> missing_used;
  if (options_.used.empty()) {
    missing_used = missing_;
  } else {
    std::set_intersection(missing_.begin(), missing_.end(), options_.used.begin(),
                          options_.used.end(), std::back_inserter(missing_used));
  }
  const int64_t used = options_.used.empty() ? n : static_cast<int64_t>(options_.used.size());
  if (!missing_used.empty() && options_.on_missing == MissingPartnerPolicy::kError) {
    std::string listed;
    for (size_t j = 0; j < missing_used.size() && j < kMaxListedKeys; ++j)
      listed += fmt::format("{}'{}'", j ? ", " : "", real_->key(missing_used[j]));
    if (missing_used.size() > kMaxListedKeys) listed += ", ...";
    MDLAB_THROW(
        "synthetic partners: {} of {} samples have no partner under '{}' (looked for "
        "<key>.<image extension> and <key>_v<N>.<image extension>); first missing keys: {}; "
        "set on_missing = \"skip\" or \"real\" to train anyway",
        missing_used.size(), used, options_.root.string(), listed);
  }
}

int SyntheticPartners::variation(int64_t i, int64_t epoch) const {
  MDLAB_CHECK(i >= 0 && i < size(), "synthetic partners: index {} out of range [0, {})", i, size());
  const int count = candidates(i);
  MDLAB_CHECK(count > 0, "synthetic partners: sample '{}' has no partner under '{}'", key(i),
              options_.root.string());
  if (count == 1) return 0;
  SampleRng rng(variation_seed_, epoch, key(i), 0);
  return static_cast<int>(rng.uniform_int(0, count - 1));
}

std::filesystem::path SyntheticPartners::candidate_file(int64_t i, int v) const {
  MDLAB_CHECK(i >= 0 && i < size() && v >= 0 && v < candidates(i),
              "synthetic partners: no candidate {} for sample {}", v, i);
  const int64_t c = first_[i] + v;
  return options_.root / std::string_view(pool_).substr(offsets_[c], offsets_[c + 1] - offsets_[c]);
}

std::filesystem::path SyntheticPartners::partner_file(int64_t i, int64_t epoch) const {
  return candidate_file(i, variation(i, epoch));
}

void SyntheticPartners::load_partner(int64_t i, int64_t epoch, ImageU8& out,
                                     const DecodeHint& hint) const {
  MDLAB_CHECK(i >= 0 && i < size(), "synthetic partners: index {} out of range [0, {})", i, size());
  if (!has_partner(i) && options_.on_missing == MissingPartnerPolicy::kReal) {
    real_->load(i, out, hint);
    return;
  }
  decode_(partner_file(i, epoch), out, hint);
}

std::string SyntheticPartners::describe() const {
  std::string text = fmt::format(
      "synthetic '{}': {} samples, {} with partners, {} missing (on_missing = {}), up to {} "
      "candidate(s) per key",
      options_.root.string(), size(), size() - missing_count(), missing_count(),
      missing_partner_policy_name(options_.on_missing), max_candidates_);
  if (options_.variations > 0)
    text += fmt::format(", {} key(s) with fewer than {}", short_count_, options_.variations);
  return text;
}

}  // namespace mdlab
