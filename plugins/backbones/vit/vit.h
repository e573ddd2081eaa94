// Vision Transformer as in DINO's vision_transformer.py: patch embedding (a strided conv),
// class token, learned position embeddings interpolated to the input size (bicubic, DINO's
// scale-factor rule, so 96 px local crops and non-square inputs work), pre-norm blocks
// with drop-path, final LayerNorm; forward() returns the class token after the norm [N, D].
//
// Internal header of the vit plugin, shared with its unit tests. Submodules carry DINO's
// names (cls_token, pos_embed, patch_embed.proj, blocks.N.{norm1,attn.qkv,attn.proj,norm2,
// mlp.fc1,mlp.fc2}, norm), so the state dict is DINO's (minus a classifier `head`).
// Layouts: images [N, C, H, W] float32 with H, W multiples of the patch size (an error
// otherwise; DINO silently drops the remainder); tokens [N, 1 + (H/p)*(W/p), D];
// attention [N, heads, tokens, tokens].
#pragma once

#include <mdlab/backbone.h>
#include <mdlab/context.h>
#include <mdlab/options.h>
#include <mdlab/state_dict.h>

#include <ATen/core/Generator.h>
#include <torch/nn/modules/container/modulelist.h>
#include <torch/nn/modules/conv.h>
#include <torch/nn/modules/linear.h>
#include <torch/nn/modules/normalization.h>

#include <cstdint>
#include <filesystem>

namespace mdlab::vit {

/// Shape of a ViT; mirrors the plugin's options.
struct ViTConfig {
  int64_t embed_dim = 384;      ///< token width D (tiny 192, small 384, base 768)
  int64_t depth = 12;           ///< number of blocks
  int64_t heads = 6;            ///< attention heads (tiny 3, small 6, base 12)
  int64_t patch_size = 16;      ///< patch side in pixels (16 or 8)
  int64_t img_size = 224;       ///< size the position embeddings are learned for
  double mlp_ratio = 4.0;       ///< MLP hidden width / D
  bool qkv_bias = true;         ///< bias on the qkv projection
  double drop_path_rate = 0.0;  ///< stochastic depth, linearly increasing over blocks
  int64_t in_channels = 3;      ///< channels of the input images
};

/// Multi-head self-attention with a fused qkv projection.
class AttentionImpl : public torch::nn::Module {
 public:
  /// Attention over `dim`-wide tokens with `heads` heads.
  AttentionImpl(int64_t dim, int64_t heads, bool qkv_bias);
  /// Output tokens [N, T, D]; when `attention` is not null it receives the softmax [N, H, T, T].
  torch::Tensor forward(const torch::Tensor& x, torch::Tensor* attention = nullptr);

  torch::nn::Linear qkv{nullptr}, proj{nullptr};
  int64_t heads;
  double scale;
};
TORCH_MODULE(Attention);

/// Two-layer MLP with exact (erf) GELU.
class MlpImpl : public torch::nn::Module {
 public:
  /// dim -> hidden -> dim.
  MlpImpl(int64_t dim, int64_t hidden);
  /// fc2(gelu(fc1(x))).
  torch::Tensor forward(const torch::Tensor& x);

  torch::nn::Linear fc1{nullptr}, fc2{nullptr};
};
TORCH_MODULE(Mlp);

/// Pre-norm transformer block: x + dp(attn(norm1(x))), then x + dp(mlp(norm2(x))).
class BlockImpl : public torch::nn::Module {
 public:
  /// A block with drop-path probability `drop_path`.
  BlockImpl(const ViTConfig& config, double drop_path);
  /// The block's output; `attention` as in AttentionImpl::forward.
  torch::Tensor forward(const torch::Tensor& x, torch::Tensor* attention = nullptr);

  torch::nn::LayerNorm norm1{nullptr}, norm2{nullptr};
  Attention attn{nullptr};
  Mlp mlp{nullptr};
  double drop_path;
};
TORCH_MODULE(Block);

/// Image to patch tokens: a conv with kernel = stride = patch size.
class PatchEmbedImpl : public torch::nn::Module {
 public:
  /// Patches of `patch` pixels, `in_channels` in, `dim` out.
  PatchEmbedImpl(int64_t in_channels, int64_t dim, int64_t patch);
  /// Tokens [N, (H/p)*(W/p), D].
  torch::Tensor forward(const torch::Tensor& x);

  torch::nn::Conv2d proj{nullptr};
};
TORCH_MODULE(PatchEmbed);

/// The backbone.
class ViT final : public mdlab::Backbone {
 public:
  /// A randomly initialised network (DINO's init: truncated normal std 0.02) from `generator`.
  ViT(const ViTConfig& config, at::Generator generator);
  /// The plugin constructor: options as declared by options_schema(); initialises from the
  /// context's "vit.init" stream, then loads `weights` when given.
  ViT(const mdlab::Options& options, mdlab::Context& context);

  /// The options the plugin accepts.
  static mdlab::OptionsSchema options_schema();

  /// Class token after the final norm [N, D].
  torch::Tensor forward(const torch::Tensor& images) override;
  /// D.
  int64_t feature_dim() const override { return config_.embed_dim; }
  /// Softmax attention of the last block [N, heads, T, T].
  std::optional<torch::Tensor> last_attention(const torch::Tensor& images) override;
  /// Position embeddings for an input of h x w pixels [1, 1 + (h/p)*(w/p), D].
  torch::Tensor interpolate_pos_encoding(int64_t h, int64_t w) const;
  /// Loads DINO-named weights strictly (ignoring a classifier `head.*`), any float dtype.
  mdlab::LoadReport load_weights(const std::filesystem::path& file);
  /// The configuration.
  const ViTConfig& config() const { return config_; }

  PatchEmbed patch_embed{nullptr};
  torch::Tensor cls_token, pos_embed;
  torch::nn::ModuleList blocks{nullptr};
  torch::nn::LayerNorm norm{nullptr};

 private:
  torch::Tensor prepare_tokens(const torch::Tensor& images);
  ViTConfig config_;
};

/// The configuration of a named architecture ("tiny", "small", "base").
ViTConfig architecture(const std::string& name, int64_t patch_size);

}  // namespace mdlab::vit
