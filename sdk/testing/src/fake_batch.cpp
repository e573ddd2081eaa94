#include <mdlab/context.h>
#include <mdlab/error.h>
#include <mdlab/testing/fake_batch.h>

#include <torch/torch.h>

#include <string>

namespace mdlab::testing {

Batch fake_batch(const std::vector<ViewSlot>& slots, const FakeBatchSpec& spec) {
  MDLAB_CHECK(!slots.empty(), "fake_batch: no view slots");
  MDLAB_CHECK(spec.batch_size > 0 && spec.channels > 0 && spec.size > 0 && spec.num_classes > 0,
              "fake_batch: batch_size {}, channels {}, size {} and num_classes {} must be positive",
              spec.batch_size, spec.channels, spec.size, spec.num_classes);
  Batch batch;
  for (const auto& slot : slots) {
    // One stream per slot name: adding a slot leaves the others' pixels as they were.
    auto generator = make_cpu_generator(derive_seed(spec.seed, "fake_batch/" + slot.name));
    const int64_t side = slot.default_size > 0 ? slot.default_size : spec.size;
    batch.views.push_back(
        torch::randn({spec.batch_size, spec.channels, side, side}, generator, torch::kFloat));
  }
  auto generator = make_cpu_generator(derive_seed(spec.seed, "fake_batch/labels"));
  batch.labels = torch::randint(spec.num_classes, {spec.batch_size}, generator, torch::kLong);
  return batch;
}

Batch fake_batch(const Method& method, const FakeBatchSpec& spec) {
  return fake_batch(method.view_slots(), spec);
}

}  // namespace mdlab::testing
