// Building blocks shared by the UNet and the VAE, registered under diffusers' module names so
// their state dicts equal diffusers' (`resnets.0.norm1.weight`, `attentions.0.to_q.weight`, ...).
//
// Layouts: feature maps are [N, C, H, W]; token sequences are [N, L, C]; time embeddings
// [N, T]. All modules work in the dtype of their parameters (fp32, fp16 or bf16).
#pragma once

#include <torch/nn/module.h>
#include <torch/nn/modules/container/modulelist.h>
#include <torch/nn/modules/conv.h>
#include <torch/nn/modules/linear.h>
#include <torch/nn/modules/normalization.h>
#include <torch/types.h>

#include <optional>

namespace mdlab::diffusion {

/// softmax(q k^T * scale) v for q [N, H, Lq, D], k and v [N, H, Lk, D] -> [N, H, Lq, D].
/// On CUDA uses scaled_dot_product_attention where LibTorch has it (2.1+). On the CPU, fp32
/// inference with over 16 MiB of scores goes one head at a time through reused score and
/// probability buffers of at most 64 MiB each; otherwise matmul + softmax, in query chunks that
/// bound the score matrix to ~256 MiB. `upcast_softmax` computes the softmax in fp32 (diffusers'
/// VAE).
torch::Tensor attention(const torch::Tensor& q, const torch::Tensor& k, const torch::Tensor& v,
                        double scale, bool upcast_softmax = false);

/// diffusers' ResnetBlock2D: GroupNorm, SiLU, conv, time conditioning, GroupNorm, SiLU, conv,
/// + (1x1-projected) input, / output_scale. Time conditioning "default" adds the projected
/// time embedding before the second GroupNorm; "scale_shift" projects it to 2 x out channels
/// (scale, shift) and applies norm2(h) * (1 + scale) + shift, the adaptive GroupNorm that lets a
/// conditioning code modulate features instead of only biasing them.
class ResnetBlock2DImpl : public torch::nn::Module {
 public:
  /// `temb_channels` 0: no time embedding (the VAE).
  ResnetBlock2DImpl(int64_t in_channels, int64_t out_channels, int64_t temb_channels,
                    int64_t groups, double eps, double output_scale = 1.0,
                    bool scale_shift = false);
  /// x [N, in, H, W], temb [N, temb_channels] (undefined when temb_channels is 0).
  torch::Tensor forward(const torch::Tensor& x, const torch::Tensor& temb = {});

 private:
  torch::nn::GroupNorm norm1{nullptr}, norm2{nullptr};
  torch::nn::Conv2d conv1{nullptr}, conv2{nullptr}, conv_shortcut{nullptr};
  torch::nn::Linear time_emb_proj{nullptr};
  double output_scale_;
  bool scale_shift_;
};
TORCH_MODULE(ResnetBlock2D);

/// diffusers' Downsample2D with a conv: stride-2 3x3 conv; `padding` 0 pads right and bottom
/// by one first (the VAE encoder), 1 pads all sides (the UNet).
class Downsample2DImpl : public torch::nn::Module {
 public:
  /// A conv of `channels` -> `channels`.
  Downsample2DImpl(int64_t channels, int64_t padding);
  /// [N, C, H, W] -> [N, C, ceil(H/2), ceil(W/2)].
  torch::Tensor forward(const torch::Tensor& x);

 private:
  torch::nn::Conv2d conv{nullptr};
  int64_t padding_;
};
TORCH_MODULE(Downsample2D);

/// diffusers' Upsample2D with a conv: nearest-neighbour upsampling, then a 3x3 conv.
class Upsample2DImpl : public torch::nn::Module {
 public:
  /// A conv of `channels` -> `channels`.
  explicit Upsample2DImpl(int64_t channels);
  /// [N, C, H, W] -> [N, C, size] (size: {2H, 2W} when not given).
  torch::Tensor forward(const torch::Tensor& x, std::optional<std::vector<int64_t>> size = {});

 private:
  torch::nn::Conv2d conv{nullptr};
};
TORCH_MODULE(Upsample2D);

/// diffusers' Attention as the UNet's transformer blocks use it: to_q, to_k, to_v (no bias),
/// to_out.0 (with bias), `heads` heads of `head_dim`.
class CrossAttentionImpl : public torch::nn::Module {
 public:
  /// Queries of width `query_dim`, keys and values of width `context_dim`.
  CrossAttentionImpl(int64_t query_dim, int64_t context_dim, int64_t heads, int64_t head_dim,
                     bool upcast);
  /// x [N, L, query_dim], context [N, Lc, context_dim] (undefined: self-attention).
  torch::Tensor forward(const torch::Tensor& x, const torch::Tensor& context = {});

 private:
  torch::nn::Linear to_q{nullptr}, to_k{nullptr}, to_v{nullptr};
  torch::nn::ModuleList to_out{nullptr};
  torch::nn::Linear out_proj{nullptr};
  int64_t heads_;
  bool upcast_;
};
TORCH_MODULE(CrossAttention);

/// diffusers' BasicTransformerBlock (layer norms): self-attention, cross-attention, GEGLU
/// feed-forward, each pre-normed and residual.
class BasicTransformerBlockImpl : public torch::nn::Module {
 public:
  /// Width `dim` = heads * head_dim; context of width `context_dim`.
  BasicTransformerBlockImpl(int64_t dim, int64_t heads, int64_t head_dim, int64_t context_dim,
                            bool upcast);
  /// x [N, L, dim], context [N, Lc, context_dim].
  torch::Tensor forward(const torch::Tensor& x, const torch::Tensor& context);

 private:
  torch::nn::LayerNorm norm1{nullptr}, norm2{nullptr}, norm3{nullptr};
  CrossAttention attn1{nullptr}, attn2{nullptr};
  // Registered under ff.net.0.proj and ff.net.2 (net.1 is diffusers' parameterless dropout).
  torch::nn::Linear geglu_proj{nullptr}, ff_out{nullptr};
};
TORCH_MODULE(BasicTransformerBlock);

/// diffusers' Transformer2DModel over a feature map: GroupNorm (eps 1e-6), 1x1 conv (or linear)
/// in, transformer blocks on the H*W tokens, 1x1 conv (or linear) out, residual.
class Transformer2DImpl : public torch::nn::Module {
 public:
  /// `channels` in and out, `heads` x `head_dim` inside, `layers` transformer blocks.
  Transformer2DImpl(int64_t channels, int64_t heads, int64_t head_dim, int64_t context_dim,
                    int64_t groups, int64_t layers, bool linear_projection, bool upcast);
  /// x [N, C, H, W], context [N, Lc, context_dim].
  torch::Tensor forward(const torch::Tensor& x, const torch::Tensor& context);

 private:
  torch::nn::GroupNorm norm{nullptr};
  torch::nn::Conv2d proj_in_conv{nullptr}, proj_out_conv{nullptr};
  torch::nn::Linear proj_in_linear{nullptr}, proj_out_linear{nullptr};
  torch::nn::ModuleList transformer_blocks{nullptr};
  bool linear_projection_;
};
TORCH_MODULE(Transformer2D);

/// The VAE's single-head spatial self-attention (diffusers' Attention with a group norm and a
/// residual, biases on q/k/v, softmax in fp32).
class SpatialSelfAttentionImpl : public torch::nn::Module {
 public:
  /// Over `channels` channels, GroupNorm of `groups` groups and `eps`.
  SpatialSelfAttentionImpl(int64_t channels, int64_t groups, double eps);
  /// [N, C, H, W] -> [N, C, H, W].
  torch::Tensor forward(const torch::Tensor& x);

 private:
  torch::nn::GroupNorm group_norm{nullptr};
  torch::nn::Linear to_q{nullptr}, to_k{nullptr}, to_v{nullptr};
  torch::nn::ModuleList to_out{nullptr};
  torch::nn::Linear out_proj{nullptr};
};
TORCH_MODULE(SpatialSelfAttention);

/// Sinusoidal timestep features [N, dim] of `timesteps` [N] (diffusers'
/// get_timestep_embedding, fp32; max period 10000).
torch::Tensor timestep_features(const torch::Tensor& timesteps, int64_t dim, bool flip_sin_to_cos,
                                double freq_shift);

}  // namespace mdlab::diffusion
