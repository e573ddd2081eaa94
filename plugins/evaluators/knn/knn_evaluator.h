// The "knn" evaluator: weighted k-NN classification of the test split's features by the
// training split's (knn.h; k = 200 and temperature 0.1 by default, as in DINO and lightly).
//
// Table "accuracy": one row (the model), columns top1@k and top5@k for each k (fractions in
// [0, 1]).
#pragma once

#include <mdlab/evaluator.h>
#include <mdlab/options.h>

namespace mdlab::eval {

/// Weighted k-NN on frozen features.
class KnnEvaluator final : public Evaluator {
 public:
  /// Reads the options of options_schema().
  KnnEvaluator(const Options& options, Context& context);
  /// Options: splits, k (one or several), temperature.
  static OptionsSchema options_schema();
  EvalResult evaluate(Backbone& encoder, EvalData& data, Context& context) override;

 private:
  Options options_;
};

}  // namespace mdlab::eval
