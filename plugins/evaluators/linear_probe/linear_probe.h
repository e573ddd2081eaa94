// The "linear_probe" evaluator: the paper's offline linear evaluation. A linear classifier
// is trained on features of the real training split (computed once and cached, or recomputed
// under training augmentation every epoch with augment = true) and measured by top-1 / top-5
// on the test split.
//
// Table "accuracy": one row (the model), columns top1, top5 (fractions in [0, 1]),
// train_top1, epochs, steps.
#pragma once

#include <mdlab/evaluator.h>
#include <mdlab/options.h>

namespace mdlab::eval {

/// Linear probe on frozen features.
class LinearProbeEvaluator final : public Evaluator {
 public:
  /// Reads the options of options_schema().
  LinearProbeEvaluator(const Options& options, Context& context);
  /// Options: splits, epochs/steps, augmentation and the probe keys (probe_options.h).
  static OptionsSchema options_schema();
  EvalResult evaluate(Backbone& encoder, EvalData& data, Context& context) override;

 private:
  Options options_;
};

}  // namespace mdlab::eval
