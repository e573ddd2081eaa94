// Stratified subsets of a real DataSource ("fraction" of the training data).
//
// Indices are positions in the source, returned ascending. The subset of a class keeps the
// samples whose keys rank lowest under a seeded hash, so it depends only on (seed, keys of
// the class, fraction): not on the source's order, nor on the other classes, and a smaller
// fraction is always contained in a larger one (25% ⊂ 50% ⊂ 100% with one seed). Synthetic
// partners follow by key, so nothing else has to be subset.
#pragma once

#include "data_source.h"

#include <cstdint>
#include <vector>

namespace mdlab {

/// Indices (ascending) of `fraction` of each class of `source`: round(fraction * n_class)
/// samples, at least one per non-empty class; unknown labels (-1) form their own stratum.
/// fraction must be in (0, 1]; 1 returns every index. Throws mdlab::Error otherwise.
std::vector<int64_t> stratified_subset_indices(const DataSource& source, double fraction,
                                               uint64_t seed);

}  // namespace mdlab
