// Fake training batches of any view layout, for unit tests of methods: one float32
// [N, C, S, S] tensor of standard-normal values per view slot, S the slot's default_size (or
// FakeBatchSpec::size when the slot leaves it to the dataset), and labels [N] in
// [0, num_classes). The same spec gives the same batch.
#pragma once

#include <mdlab/method.h>

#include <cstdint>
#include <vector>

namespace mdlab::testing {

/// What fake_batch() draws.
struct FakeBatchSpec {
  int64_t batch_size = 8;    ///< N
  int64_t channels = 3;      ///< C
  int64_t size = 32;         ///< side for slots whose default_size is 0
  int64_t num_classes = 10;  ///< labels are drawn in [0, num_classes)
  uint64_t seed = 0;         ///< everything derives from it
};

/// A batch for `slots` (Method::view_slots()), on the CPU.
Batch fake_batch(const std::vector<ViewSlot>& slots, const FakeBatchSpec& spec = {});

/// A batch for `method`'s own slots.
Batch fake_batch(const Method& method, const FakeBatchSpec& spec = {});

}  // namespace mdlab::testing
