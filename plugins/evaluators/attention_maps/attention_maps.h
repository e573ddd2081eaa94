// The "attention_maps" evaluator: for a ViT encoder, the last block's self-attention of the
// CLS token over the patches, per head, on the first images of a split, and DINO's
// thresholded masks (per head, the smallest set of patches holding `threshold` of the
// attention mass).
//
// Layout: attention [N, heads, tokens, tokens] from Backbone::last_attention (CLS first);
// the patch grid is (H / p) x (W / p), p found from the token count. Maps are up-sampled
// to the image size by repetition (nearest, as DINO's figures).
//
// Artifacts per image i: image_<i> (the input, uint8 [H, W, C]), attention_<i>_head<h>
// (uint8 [H, W], each map scaled to 0..255 by its maximum), mask_<i>_head<h> (uint8
// 0/255), attention_<i>_mean; and "attention" (float32 [N, heads, H/p, W/p], rows summing
// to each head's CLS mass on the patches).
// Table "masks": rows image_<i>; columns: each head's mask area (fraction of patches) and
// "sharpest_head", the head with the smallest mask (the most concentrated attention).
#pragma once

#include <mdlab/evaluator.h>
#include <mdlab/options.h>

#include <torch/types.h>

namespace mdlab::eval {

/// DINO's thresholded masks of CLS attention maps `attention` [N, heads, P] (any
/// non-negative weights): true for the patches, taken in decreasing order of weight, whose
/// cumulative share of their map's total reaches `threshold` (the patch crossing it included).
torch::Tensor threshold_masks(const torch::Tensor& attention, double threshold);

/// Self-attention maps of a ViT.
class AttentionMapsEvaluator final : public Evaluator {
 public:
  /// Reads the options of options_schema().
  AttentionMapsEvaluator(const Options& options, Context& context);
  /// Options: split, number of images, threshold.
  static OptionsSchema options_schema();
  EvalResult evaluate(Backbone& encoder, EvalData& data, Context& context) override;

 private:
  Options options_;
};

}  // namespace mdlab::eval
