// BatchNorm: batch normalisation with PyTorch's tensor names (weight, bias, running_mean,
// running_var, num_batches_tracked) whose training statistics can span every rank of a
// data-parallel run, like torch.nn.SyncBatchNorm. Backbones and heads use it instead of
// torch::nn::BatchNorm{1,2}d; the host then turns synchronisation on for the whole model with
// sync_batch_norms() (`[train] sync_batch_norm`), and a single process is unaffected.
//
// Layout: input [N, C] or [N, C, *] (C = num_features); output of the same shape. In training
// the statistics are over N and the spatial dims -- with synchronisation over those of every
// rank (counts may differ between ranks), exactly what one process would compute on the
// concatenated batch: per-rank counts, means and squared deviations are gathered and combined
// (Chan et al.), the running variance is the unbiased one. Backward all-reduces the sums of
// the output gradient and of its product with the centred input, so each rank's input
// gradient is that of the sum of every rank's loss (collectives.h); weight and bias receive
// this rank's share, which data-parallel averaging completes. Under autocast the synchronised
// path computes in fp32 and returns fp32, as LibTorch's batch_norm does.
#pragma once

#include <mdlab/collectives.h>
#include <mdlab/export.h>

#include <torch/nn/cloneable.h>
#include <torch/nn/pimpl.h>
#include <torch/types.h>

#include <cstdint>

namespace mdlab {

/// The settings of a BatchNorm layer (torch.nn.BatchNorm*d's arguments).
struct MDLAB_SDK_API BatchNormOptions {
  /// For `num_features` channels.
  /* implicit */ BatchNormOptions(int64_t num_features) : features(num_features) {}
  int64_t features;                 ///< C
  double eps = 1e-5;                ///< added to the variance
  double momentum = 0.1;            ///< running-statistics update factor
  bool affine = true;               ///< learnable weight and bias
  bool track_running_stats = true;  ///< keep running_mean / running_var for eval mode
};

/// Batch normalisation over [N, C, *] with optional cross-rank statistics.
class MDLAB_SDK_API BatchNormImpl : public torch::nn::Cloneable<BatchNormImpl> {
 public:
  /// A layer of `options` (weight 1, bias 0, running mean 0, running variance 1).
  explicit BatchNormImpl(const BatchNormOptions& options);
  /// (Re)creates the parameters and buffers.
  void reset() override;
  /// Normalised `x` (see the top of the file).
  torch::Tensor forward(const torch::Tensor& x);
  /// Statistics over the ranks of `collectives` in training (null or one rank: this
  /// process's batch only). The collectives must outlive the layer's use.
  void set_collectives(Collectives* collectives) { collectives_ = collectives; }
  /// The ranks it synchronises over (null when local).
  Collectives* collectives() const { return collectives_; }

  BatchNormOptions options;           ///< its settings
  torch::Tensor weight;               ///< [C] (affine)
  torch::Tensor bias;                 ///< [C] (affine)
  torch::Tensor running_mean;         ///< [C] (track_running_stats)
  torch::Tensor running_var;          ///< [C] (track_running_stats)
  torch::Tensor num_batches_tracked;  ///< [] int64 (track_running_stats)

 private:
  Collectives* collectives_ = nullptr;
};
TORCH_MODULE(BatchNorm);

/// Points every BatchNorm in `module` (itself and its descendants) at `collectives` (null:
/// local statistics again); returns how many layers it changed.
MDLAB_SDK_API int64_t sync_batch_norms(torch::nn::Module& module, Collectives* collectives);

}  // namespace mdlab
