// The host's EvalData (sdk evaluator.h): the experiment's real splits, its synthetic
// partners, the [datasets.<name>] tables, the "@augment" and corruption modifiers, and a
// feature cache shared by every evaluator of a run.
//
// Images go through the data pipeline's loader with the [data.eval] transform at the
// evaluation size (the size of the method's first view slot), so evaluators see exactly the
// images validation and `mdlab embed --data` see. Features are computed on the encoder's
// device in batches and kept on the CPU (float32 [N, D]).
#pragma once

#include "validate.h"

#include <mdlab/backbone.h>
#include <mdlab/context.h>
#include <mdlab/evaluator.h>

#include <map>
#include <memory>
#include <string>
#include <vector>

namespace mdlab {

class DataSource;
class SyntheticPartners;

/// How the evaluation data is read.
struct EvalDataSettings {
  int eval_size = 0;         ///< side of the evaluation images of [data] (0: the dataset's)
  int64_t batch_size = 256;  ///< images per batch
  uint64_t seed = 0;         ///< run seed (corruption noise, augmentation draws)
};

/// EvalData over the experiment's tables; the encoder is the one under evaluation.
class CoreEvalData final : public EvalData {
 public:
  /// Reads [data], [data.synthetic], [data.eval] and [datasets.*] of `config` (kept by
  /// reference); sources are opened on first use. `encoder` and `context` must outlive this.
  CoreEvalData(const ValidatedConfig& config, Backbone& encoder, Context& context,
               EvalDataSettings settings);
  ~CoreEvalData() override;

  std::vector<std::string> splits() const override;
  std::unique_ptr<BatchStream> open(const std::string& split) override;
  std::vector<std::string> class_names(const std::string& split) override;
  Normalization normalization(const std::string& split) override;
  FeatureSet features(const std::string& split) override;

  /// Feature computations so far (cache misses), for tests and logs.
  int64_t feature_passes() const { return feature_passes_; }

 private:
  struct Split;
  struct ParsedName;
  Split& base_split(const std::string& name);
  ParsedName parse(const std::string& split) const;

  const ValidatedConfig& config_;
  Backbone& encoder_;
  Context& context_;
  EvalDataSettings settings_;
  std::map<std::string, std::unique_ptr<Split>> splits_;
  std::map<std::string, FeatureSet> cache_;
  int64_t augment_passes_ = 0;
  int64_t feature_passes_ = 0;
};

}  // namespace mdlab
