#include "subset.h"

#include "sample_rng.h"

#include <mdlab/context.h>
#include <mdlab/error.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <numeric>
#include <utility>

namespace mdlab {

std::vector<int64_t> stratified_subset_indices(const DataSource& source, double fraction,
                                               uint64_t seed) {
  MDLAB_CHECK(fraction > 0.0 && fraction <= 1.0, "subset: fraction must be in (0, 1], got {}",
              fraction);
  const int64_t n = source.size();
  std::vector<int64_t> all(static_cast<size_t>(n));
  std::iota(all.begin(), all.end(), int64_t{0});
  if (fraction == 1.0) return all;

  std::map<int64_t, std::vector<int64_t>> by_class;
  for (int64_t i = 0; i < n; ++i) by_class[source.label(i)].push_back(i);

  const uint64_t subset_seed = derive_seed(seed, "data.subset");
  std::vector<int64_t> chosen;
  std::vector<std::pair<uint64_t, int64_t>> ranked;
  for (const auto& [label, members] : by_class) {
    const auto count = static_cast<int64_t>(members.size());
    const int64_t keep =
        std::clamp<int64_t>(std::llround(fraction * static_cast<double>(count)), 1, count);
    ranked.clear();
    for (int64_t i : members)
      ranked.emplace_back(SampleRng(subset_seed, 0, source.key(i), 0).next(), i);
    // Ties (equal hashes) fall back to the index: still deterministic.
    std::partial_sort(ranked.begin(), ranked.begin() + keep, ranked.end());
    for (int64_t j = 0; j < keep; ++j) chosen.push_back(ranked[j].second);
  }
  std::sort(chosen.begin(), chosen.end());
  return chosen;
}

}  // namespace mdlab
