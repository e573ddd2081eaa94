// The "robustness" evaluator: one linear probe trained on the real training split, measured
// on the in-distribution test split and on a list of shift sets (splits of [datasets.<name>]
// tables with labels = "training", e.g. "imagenet-r/test"), and on corrupted versions of the
// test split made on the fly ("test@<corruption>:<severity>").
//
// Tables (accuracies are top-1 fractions in [0, 1]; a set that cannot be read becomes a row
// or cell without value and its reason in the note, never a 0):
//   "accuracy"     one row (the model); columns: the in-distribution split, each shift set,
//                  and "mean" over the shift sets (the paper's layout)
//   "corruptions"  rows: corruptions; columns: severities and "mean"
//   "summary"      one row (the model); columns corrupted (accuracy over every corrupted
//                  image), clean (the test split) and all (both pooled), as in the paper's
//                  VizWiz table
#pragma once

#include <mdlab/evaluator.h>
#include <mdlab/options.h>

namespace mdlab::eval {

/// One probe, several test sets.
class RobustnessEvaluator final : public Evaluator {
 public:
  /// Reads the options of options_schema().
  RobustnessEvaluator(const Options& options, Context& context);
  /// Options: splits, shift sets, corruptions, severities, epochs and the probe keys.
  static OptionsSchema options_schema();
  EvalResult evaluate(Backbone& encoder, EvalData& data, Context& context) override;

 private:
  Options options_;
};

}  // namespace mdlab::eval
