// Linear probes on frozen features: a linear classifier trained with AdamW or SGD on
// features [N, D] float32 with labels [N] int64, measured by top-1 / top-5 accuracy.
//
// Determinism: the initial weights (normal, std 0.01; bias 0) and the order of the samples
// in every epoch come from the seed, so a probe is reproducible on one device. Features are
// optionally normalised first: "l2" (each row to unit length) or "standardize" (per
// dimension, with the mean and std of the features the probe was first trained on).
#pragma once

#include <mdlab/context.h>
#include <mdlab/evaluator.h>

#include <torch/torch.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace mdlab::eval {

/// How a probe is trained.
struct ProbeSettings {
  std::string optimizer = "adamw";    ///< "adamw" or "sgd"
  double lr = 1e-4;                   ///< learning rate
  double weight_decay = 0.0;          ///< weight decay (decoupled for AdamW)
  double momentum = 0.9;              ///< SGD momentum
  std::string schedule = "constant";  ///< "constant" or "cosine" (to 0 over the steps)
  int64_t batch_size = 256;           ///< samples per step
  std::string feature_norm = "none";  ///< "none", "l2" or "standardize"
};

/// Top-1 and top-5 accuracy in [0, 1] (top-5 is top-min(5, classes)).
struct Accuracy {
  double top1 = 0;       ///< fraction of samples whose best class is right
  double top5 = 0;       ///< fraction whose right class is among the best five
  int64_t samples = 0;   ///< samples measured
  int64_t correct = 0;   ///< samples right at top-1
  int64_t correct5 = 0;  ///< samples right at top-5
};

/// Top-1 / top-5 of `logits` [N, C] against `labels` [N].
Accuracy accuracy(const torch::Tensor& logits, const torch::Tensor& labels);

/// A linear classifier over features of width `dim` for `classes` classes.
class LinearProbe {
 public:
  /// Throws mdlab::Error for an unknown optimizer, schedule or normalisation.
  LinearProbe(int64_t dim, int64_t classes, ProbeSettings settings, uint64_t seed,
              c10::Device device);

  /// Trains for `steps` steps over `features` / `labels` (epochs in the seeded order,
  /// continuing where the last call stopped), calling `on_step(step)` after each step (1-based,
  /// counted over all calls) when given. `total_steps` sets the cosine schedule's length.
  void train(const torch::Tensor& features, const torch::Tensor& labels, int64_t steps,
             int64_t total_steps, const std::function<void(int64_t)>& on_step = {});

  /// Accuracy on `features` / `labels`.
  Accuracy evaluate(const torch::Tensor& features, const torch::Tensor& labels);

  /// Steps trained so far.
  int64_t steps() const { return step_; }

 private:
  torch::Tensor prepare(const torch::Tensor& features);

  ProbeSettings settings_;
  c10::Device device_;
  at::Generator generator_;
  torch::Tensor weight_;  // [C, D]
  torch::Tensor bias_;    // [C]
  std::unique_ptr<torch::optim::Optimizer> optimizer_;
  torch::Tensor mean_, std_;  // "standardize" statistics
  torch::Tensor order_;       // the current epoch's order
  int64_t cursor_ = 0;        // position in order_
  int64_t epoch_ = 0;
  int64_t step_ = 0;
};

/// Steps of `epochs` passes over `n` samples at `batch_size` (the last partial batch counts).
int64_t steps_for_epochs(int64_t n, int64_t batch_size, int64_t epochs);

/// Features of `split` under an encoder other than the one EvalData::features uses (a
/// baseline): one pass over data.open(split), batches on `device`, results on the CPU.
FeatureSet extract_features(Backbone& encoder, EvalData& data, const std::string& split,
                            c10::Device device);

/// Throws mdlab::Error naming `what` when `set` is empty or its labels fall outside
/// [0, classes) (never a silent 0%).
void check_feature_set(const FeatureSet& set, const std::string& what);

}  // namespace mdlab::eval
