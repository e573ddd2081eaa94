// The "fid" evaluator: quality of a synthetic image set against a real one.
//
// Reads the splits `real` and `synthetic` (EvalData images [N, C, H, W], normalised), maps
// them back to pixels in [0, 1] with EvalData::normalization (1-channel images repeated to 3),
// and runs pytorch-fid's Inception (inception_v3.h) on context.device() in batches of
// `batch_size`. Returns one table "quality" with one row "<real> vs <synthetic>" and columns
//   fid                  Frechet distance of the pool3 features (frechet.h), squared feature
//                        units; comparable with published numbers only with the FID weights
//   diversity_real       mean pairwise cosine distance (diversity.h) in [0, 2] of the real
//   diversity_synthetic  and synthetic embeddings: Inception pool3 features, or the features
//                        of the encoder under evaluation (diversity_embedding = "encoder")
//   images_real          number of images used from each split (max_images: the first ones)
//   images_synthetic
// With random Inception weights (weights = "") the row carries a note saying so. With
// features = "encoder" the distance is taken between the encoder's features of the two splits
// instead (a domain FID; the diversity columns follow diversity_embedding as before, the
// encoder's features standing in for Inception's).
#pragma once

#include "inception_v3.h"

#include <mdlab/evaluator.h>
#include <mdlab/options.h>

#include <cstdint>
#include <string>

namespace mdlab::fid {

/// FID and diversity of a synthetic split against a real one.
class FidEvaluator final : public Evaluator {
 public:
  /// Reads the options of options_schema(), builds the Inception on context.device() and
  /// loads `weights` (empty: random weights from the "fid/inception" stream, with a warning).
  FidEvaluator(const Options& options, Context& context);
  /// Options: real, synthetic, max_images, batch_size, weights, diversity_embedding.
  static OptionsSchema options_schema();
  /// The "quality" table; throws mdlab::Error naming a split with fewer than 2 images.
  EvalResult evaluate(Backbone& encoder, EvalData& data, Context& context) override;

  /// The feature extractor (exposed for tests).
  InceptionV3& inception() { return inception_; }

 private:
  struct SplitStats;
  // Images of `split` the evaluation uses (max_images applied); throws below 2.
  int64_t images_to_use(const BatchStream& stream, const std::string& split) const;
  // One pass over `stream` (split `split`, normalised by `norm`): Inception features into
  // moments (and diversity).
  SplitStats scan(BatchStream& stream, const Normalization& norm, const std::string& split,
                  Context& context);

  std::string real_, synthetic_, diversity_embedding_, features_;
  int64_t max_images_, batch_size_;
  bool random_weights_;
  InceptionV3 inception_{nullptr};
};

}  // namespace mdlab::fid
