// GradientReducer: data-parallel gradient averaging overlapped with the backward pass, the
// work of PyTorch's DistributedDataParallel reducer done with the SDK's process group.
//
// The parameters are cut into buckets of about `bucket_bytes` in reverse registration order
// (the order backward produces their gradients). A hook on each parameter copies its
// gradient into its bucket's flat buffer as soon as autograd has it; a full bucket starts
// its all-reduce at once, while backward goes on. Buckets start strictly in index order, so
// every rank issues the same sequence of collectives whatever the timing. finish() starts
// what is left (a parameter without a gradient on this rank counts as zeros), waits, divides
// by the world size and writes the averages into the parameters' .grad. A parameter that had
// no gradient on any rank keeps none, so optimizers skip it as in a single process.
//
// Use: begin() before backward, finish() after it, every step on every rank.
#pragma once

#include "process_group.h"

#include <torch/types.h>

#include <cstdint>
#include <memory>
#include <vector>

namespace mdlab {

/// Averages the gradients of `params` over the ranks of a process group.
class GradientReducer {
 public:
  /// Hooks `params` (leaf tensors that require grad; the same list, in the same order, on
  /// every rank).
  GradientReducer(std::vector<torch::Tensor> params, ProcessGroup& group,
                  int64_t bucket_bytes = int64_t{25} << 20);
  ~GradientReducer();
  GradientReducer(const GradientReducer&) = delete;
  GradientReducer& operator=(const GradientReducer&) = delete;

  /// Arms the hooks for one backward pass.
  void begin();
  /// Completes the reduction and writes the averaged gradients (see the top of the file).
  void finish();
  /// Number of buckets (for logs and tests).
  size_t bucket_count() const;

 private:
  struct State;
  std::shared_ptr<State> state_;  // shared with the hooks, which may outlive a moved reducer
};

}  // namespace mdlab
