// The "transfer" evaluator: for each listed dataset ([datasets.<name>] with its own classes,
// labels = "own"), linear probes on the frozen features of "<name>/train", one per learning
// rate of a grid, each trained for `steps` steps with its accuracy checked every `eval_every`
// steps; the best (learning rate, step) is kept (the paper: 15,000 steps, every 500, best on
// the test split; select_on = "val" picks on a held-out part of the training split instead
// and reports the test accuracy there).
//
// Tables (top-1 fractions in [0, 1]; a dataset that cannot be read has no value and its
// reason in the note):
//   "accuracy"  one row (the model); columns: the datasets and "mean" (the paper's layout)
//   "details"   rows: datasets; columns top1, top5, best_lr, best_step, train_samples,
//               test_samples
#pragma once

#include <mdlab/evaluator.h>
#include <mdlab/options.h>

namespace mdlab::eval {

/// Linear probes on transfer datasets.
class TransferEvaluator final : public Evaluator {
 public:
  /// Reads the options of options_schema().
  TransferEvaluator(const Options& options, Context& context);
  /// Options: datasets, learning-rate grid, steps, eval_every, selection and probe keys.
  static OptionsSchema options_schema();
  EvalResult evaluate(Backbone& encoder, EvalData& data, Context& context) override;

 private:
  Options options_;
};

}  // namespace mdlab::eval
