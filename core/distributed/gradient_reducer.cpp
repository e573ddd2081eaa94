#include "gradient_reducer.h"

#include <mdlab/error.h>

#include <torch/torch.h>

#include <mutex>

namespace mdlab {

struct GradientReducer::State {
  struct Bucket {
    std::vector<size_t> params;   // indices into State::params
    std::vector<int64_t> offset;  // element offset of each in `flat`
    torch::Tensor flat;           // the reduction buffer
    size_t pending = 0;           // gradients still missing this step
    bool launched = false;
    PendingCollective work;
  };
  ProcessGroup& group;
  std::vector<torch::Tensor> params;
  std::vector<size_t> bucket_of;  // per parameter
  std::vector<size_t> slot_of;    // its position in the bucket
  std::vector<Bucket> buckets;
  std::vector<uint8_t> has_grad;  // per parameter, this step
  size_t next_launch = 0;
  bool armed = false;
  std::mutex mutex;

  explicit State(ProcessGroup& g) : group(g) {}

  // Starts every bucket that is complete, in index order (the lock is held).
  void launch_ready() {
    while (next_launch < buckets.size() && buckets[next_launch].pending == 0) {
      auto& bucket = buckets[next_launch];
      bucket.work = group.sum_in_place_async(bucket.flat);
      bucket.launched = true;
      ++next_launch;
    }
  }

  void on_gradient(size_t index, const torch::Tensor& grad) {
    std::lock_guard<std::mutex> lock(mutex);
    if (!armed) return;  // a backward pass outside begin()/finish() (the probes, validation)
    auto& bucket = buckets[bucket_of[index]];
    MDLAB_CHECK(!bucket.launched && !has_grad[index],
                "distributed: a parameter received a second gradient in one backward pass "
                "after its bucket started reducing");
    const auto& p = params[index];
    bucket.flat.narrow(0, bucket.offset[slot_of[index]], p.numel())
        .copy_(grad.detach().reshape({-1}), /*non_blocking=*/false);
    has_grad[index] = 1;
    --bucket.pending;
    launch_ready();
  }
};

GradientReducer::GradientReducer(std::vector<torch::Tensor> params, ProcessGroup& group,
                                 int64_t bucket_bytes)
    : state_(std::make_shared<State>(group)) {
  auto& s = *state_;
  s.params = std::move(params);
  s.bucket_of.resize(s.params.size());
  s.slot_of.resize(s.params.size());
  s.has_grad.assign(s.params.size(), 0);
  // Reverse order: the last layers' gradients come first in backward.
  int64_t bytes = 0;
  for (size_t k = s.params.size(); k-- > 0;) {
    const auto& p = s.params[k];
    MDLAB_CHECK(p.is_leaf() && p.requires_grad(),
                "distributed: parameter {} of the reducer is not a leaf that requires grad", k);
    const int64_t size = p.numel() * static_cast<int64_t>(p.element_size());
    const bool same_kind =
        !s.buckets.empty() && !s.buckets.back().params.empty() &&
        s.params[s.buckets.back().params.front()].scalar_type() == p.scalar_type() &&
        s.params[s.buckets.back().params.front()].device() == p.device();
    if (s.buckets.empty() || !same_kind || bytes >= bucket_bytes) {
      s.buckets.emplace_back();
      bytes = 0;
    }
    auto& bucket = s.buckets.back();
    s.bucket_of[k] = s.buckets.size() - 1;
    s.slot_of[k] = bucket.params.size();
    bucket.offset.push_back(
        bucket.params.empty() ? 0 : bucket.offset.back() + s.params[bucket.params.back()].numel());
    bucket.params.push_back(k);
    bytes += size;
  }
  const bool host = group.backend() == "gloo";
  for (auto& bucket : s.buckets) {
    const auto& first = s.params[bucket.params.front()];
    const int64_t total = bucket.offset.back() + s.params[bucket.params.back()].numel();
    bucket.flat = torch::zeros(
        {total}, first.options().device(host ? torch::kCPU : first.device()).requires_grad(false));
  }
  std::weak_ptr<State> weak = state_;
  for (size_t k = 0; k < s.params.size(); ++k) {
    s.params[k].register_hook([weak, k](torch::Tensor grad) {
      if (auto state = weak.lock()) state->on_gradient(k, grad);
      return torch::Tensor();  // the gradient itself is left as it is
    });
  }
}

GradientReducer::~GradientReducer() = default;

size_t GradientReducer::bucket_count() const {
  return state_->buckets.size();
}

void GradientReducer::begin() {
  auto& s = *state_;
  std::lock_guard<std::mutex> lock(s.mutex);
  for (auto& bucket : s.buckets) {
    bucket.pending = bucket.params.size();
    bucket.launched = false;
  }
  std::fill(s.has_grad.begin(), s.has_grad.end(), 0);
  s.next_launch = 0;
  s.armed = true;
}

void GradientReducer::finish() {
  auto& s = *state_;
  torch::NoGradGuard no_grad;
  {
    std::lock_guard<std::mutex> lock(s.mutex);
    MDLAB_CHECK(s.armed, "distributed: GradientReducer::finish() without begin()");
    s.armed = false;
    // Gradients this rank never produced are zeros in the sum.
    for (auto& bucket : s.buckets) {
      if (bucket.launched || bucket.pending == 0) continue;
      for (size_t slot = 0; slot < bucket.params.size(); ++slot) {
        const size_t k = bucket.params[slot];
        if (!s.has_grad[k]) bucket.flat.narrow(0, bucket.offset[slot], s.params[k].numel()).zero_();
      }
      bucket.pending = 0;
    }
    s.launch_ready();
  }
  // Which parameters had a gradient anywhere.
  auto had =
      torch::tensor(std::vector<int64_t>(s.has_grad.begin(), s.has_grad.end()), torch::kLong);
  had = s.group.sum_raw(had).cpu();
  const auto anywhere = had.accessor<int64_t, 1>();
  const double scale = 1.0 / static_cast<double>(s.group.world_size());
  for (auto& bucket : s.buckets) {
    bucket.work.wait();
    bucket.flat.mul_(scale);
    for (size_t slot = 0; slot < bucket.params.size(); ++slot) {
      const size_t k = bucket.params[slot];
      auto& p = s.params[k];
      if (anywhere[static_cast<int64_t>(k)] == 0) continue;
      auto average = bucket.flat.narrow(0, bucket.offset[slot], p.numel()).view(p.sizes());
      if (p.grad().defined()) {
        p.mutable_grad().copy_(average);
      } else {
        p.mutable_grad() = average.to(p.device()).clone();
      }
    }
  }
}

}  // namespace mdlab
