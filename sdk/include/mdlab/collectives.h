// Collectives: the cross-process operations a method's loss needs in a data-parallel run
// (SimCLR's negatives from every rank, Barlow Twins' summed cross-correlation, DINO's centre),
// behind one interface so a method never depends on the transport. A single process uses
// local_collectives(), where every operation is the identity; the host provides a c10d
// (Gloo/NCCL) implementation in distributed runs (Context::collectives()).
//
// Layouts: all_gather concatenates along dim 0 the equally shaped tensors of every rank, in
// rank order ([B, ...] per rank -> [world_size * B, ...]); all_reduce_sum returns a tensor of
// the input's shape.
//
// Gradients (all_gather, all_reduce_sum): every rank's loss may depend on every rank's
// inputs, so the gradient reaching a rank's input is the sum over ranks of the gradients of
// their losses. Each rank's gradients are thus those of the SUM of the ranks' losses;
// data-parallel training averages parameter gradients over ranks, which gives those of the
// mean loss — the loss one process computes on the whole global batch.
#pragma once

#include <mdlab/export.h>

#include <torch/types.h>

#include <cstdint>

namespace mdlab {

/// Cross-process collectives of a run.
class MDLAB_SDK_API Collectives {
 public:
  virtual ~Collectives();
  /// This process's rank in [0, world_size()).
  virtual int64_t rank() const = 0;
  /// Number of processes.
  virtual int64_t world_size() const = 0;
  /// All-gather without autograd: dim-0 concatenation of every rank's `x`, in rank order.
  virtual torch::Tensor gather_raw(const torch::Tensor& x) = 0;
  /// All-reduce without autograd: the element-wise sum of every rank's `x`.
  virtual torch::Tensor sum_raw(const torch::Tensor& x) = 0;
};

/// Autograd-correct all-gather (see the header comment for the gradients).
MDLAB_SDK_API torch::Tensor all_gather(Collectives& collectives, const torch::Tensor& x);

/// Autograd-correct all-reduce sum (see the header comment for the gradients).
MDLAB_SDK_API torch::Tensor all_reduce_sum(Collectives& collectives, const torch::Tensor& x);

/// The collectives of a single process: rank 0 of 1, every operation the identity.
MDLAB_SDK_API Collectives& local_collectives();

}  // namespace mdlab
