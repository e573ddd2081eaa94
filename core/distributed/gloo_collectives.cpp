#include "gloo_collectives.h"

#include <mdlab/error.h>

#include <torch/csrc/distributed/c10d/FileStore.hpp>
#include <torch/csrc/distributed/c10d/ProcessGroupGloo.hpp>

#include <vector>

namespace mdlab {

struct GlooCollectives::Impl {
  c10::intrusive_ptr<c10d::ProcessGroupGloo> group;
};

GlooCollectives::GlooCollectives(const std::string& store_file, int64_t rank, int64_t world_size,
                                 const std::string& hostname, std::chrono::milliseconds timeout)
    : impl_(std::make_unique<Impl>()), rank_(rank), world_size_(world_size) {
  MDLAB_CHECK(world_size >= 1 && rank >= 0 && rank < world_size,
              "distributed: rank {} is not in [0, world_size {})", rank, world_size);
  try {
    auto store = c10::make_intrusive<c10d::FileStore>(store_file, static_cast<int>(world_size));
    store->setTimeout(timeout);
    auto options = c10d::ProcessGroupGloo::Options::create();
    options->timeout = timeout;
    options->devices.push_back(c10d::ProcessGroupGloo::createDeviceForHostname(hostname));
    impl_->group = c10::make_intrusive<c10d::ProcessGroupGloo>(
        store, static_cast<int>(rank), static_cast<int>(world_size), options);
  } catch (const std::exception& e) {
    MDLAB_THROW("distributed: rank {} of {} could not join the Gloo group at {} ({}): {}", rank,
                world_size, store_file, hostname, e.what());
  }
}

GlooCollectives::~GlooCollectives() = default;

// Gloo works on host memory: device tensors make a round trip through the CPU (the tensors
// of losses are small; a CUDA run at scale would use NCCL).
torch::Tensor GlooCollectives::gather_raw(const torch::Tensor& x) {
  std::vector<at::Tensor> input{x.to(torch::kCPU).contiguous()};
  std::vector<std::vector<at::Tensor>> output(1);
  for (int64_t r = 0; r < world_size_; ++r) output[0].push_back(torch::empty_like(input[0]));
  impl_->group->allgather(output, input)->wait();
  return torch::cat(output[0]).to(x.device());
}

torch::Tensor GlooCollectives::sum_raw(const torch::Tensor& x) {
  std::vector<at::Tensor> tensors{x.to(torch::kCPU).contiguous().clone()};
  impl_->group->allreduce(tensors)->wait();
  return tensors[0].to(x.device());
}

}  // namespace mdlab
