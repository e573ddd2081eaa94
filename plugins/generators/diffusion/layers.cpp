// UNet / VAE building blocks with diffusers' module names and arithmetic.
#include "layers.h"

#include <ATen/ATen.h>
#include <torch/nn/functional.h>
#include <torch/nn/modules/dropout.h>
#include <torch/version.h>

#include <algorithm>
#include <cmath>

namespace F = torch::nn::functional;

namespace mdlab::diffusion {

namespace {

// Score matrices larger than this are computed in query chunks: SD's 64x64 latent has 4096
// tokens, so one image's 8 heads would need 512 MiB of fp32 scores at once.
constexpr int64_t kMaxScoreBytes = int64_t{256} << 20;
// fp32 inference on the CPU above this many bytes of scores goes one head at a time through
// reused score and probability buffers of at most kTileScoreBytes each (attention_tiled).
constexpr int64_t kTiledFromBytes = int64_t{16} << 20;
constexpr int64_t kTileScoreBytes = int64_t{64} << 20;

torch::Tensor attention_matmul(const torch::Tensor& q, const torch::Tensor& k,
                               const torch::Tensor& v, double scale, bool upcast_softmax) {
  // (q k^T) * scale rather than baddbmm(beta=0): LibTorch 1.13's CPU baddbmm with beta=0 can
  // read its uninitialised output.
  auto scores = torch::matmul(q, k.transpose(-1, -2)).mul_(scale);
  if (upcast_softmax && scores.scalar_type() != torch::kFloat) {
    return torch::matmul(scores.to(torch::kFloat).softmax(-1).to(v.scalar_type()), v);
  }
  return torch::matmul(scores.softmax(-1), v);
}

// The CPU's memory, not its arithmetic, bounds attention over thousands of tokens: a fresh
// 256 MiB score chunk is page-faulted in, written by the q k^T product, read and rewritten by
// the softmax, read again by the product with v. Computing one head at a time into two reused
// buffers (scores, probabilities) took a [2, 8, 4096, 40] attention from 4.3-5.6 s to 0.9-1.0 s
// on the 2-core development machine (same values to 1e-7). fp32 only, and no autograd (the
// products write into the buffer and the output).
torch::Tensor attention_tiled(const torch::Tensor& q, const torch::Tensor& k,
                              const torch::Tensor& v, double scale) {
  const int64_t heads = q.size(0) * q.size(1), lq = q.size(2), lk = k.size(2), dv = v.size(3);
  const auto q3 = q.reshape({heads, lq, q.size(3)});
  const auto kt = k.reshape({heads, lk, k.size(3)}).transpose(1, 2).contiguous();
  const auto v3 = v.reshape({heads, lk, dv}).contiguous();
  auto out = torch::empty({heads, lq, dv}, q.options());
  const int64_t rows = std::clamp<int64_t>(kTileScoreBytes / (lk * 4), 1, lq);
  auto score_buffer = torch::empty({rows, lk}, q.options());
  auto prob_buffer = torch::empty({rows, lk}, q.options());
  for (int64_t h = 0; h < heads; ++h) {
    for (int64_t begin = 0; begin < lq; begin += rows) {
      const int64_t n = std::min(rows, lq - begin);
      auto scores = score_buffer.narrow(0, 0, n);
      auto probs = prob_buffer.narrow(0, 0, n);
      at::mm_out(scores, q3[h].narrow(0, begin, n), kt[h]);
      scores.mul_(scale);
      at::_softmax_out(probs, scores, 1, false);
      auto target = out[h].narrow(0, begin, n);
      at::mm_out(target, probs, v3[h]);
    }
  }
  return out.view({q.size(0), q.size(1), lq, dv});
}

// A [.., C] tensor registered as a ModuleList entry "0" (diffusers' to_out.0).
torch::nn::Linear register_out_list(torch::nn::Module& owner, torch::nn::ModuleList& list,
                                    int64_t in, int64_t out) {
  list = owner.register_module("to_out", torch::nn::ModuleList());
  torch::nn::Linear linear(torch::nn::LinearOptions(in, out).bias(true));
  list->push_back(linear);
  return linear;
}

torch::nn::GroupNorm group_norm(int64_t groups, int64_t channels, double eps) {
  return torch::nn::GroupNorm(torch::nn::GroupNormOptions(groups, channels).eps(eps).affine(true));
}

torch::nn::Conv2d conv(int64_t in, int64_t out, int64_t kernel, int64_t stride = 1,
                       int64_t padding = 0) {
  return torch::nn::Conv2d(
      torch::nn::Conv2dOptions(in, out, kernel).stride(stride).padding(padding).bias(true));
}

// [N, L, H*D] -> [N, H, L, D]
torch::Tensor split_heads(const torch::Tensor& x, int64_t heads) {
  return x.view({x.size(0), x.size(1), heads, x.size(2) / heads}).transpose(1, 2);
}

// [N, H, L, D] -> [N, L, H*D]
torch::Tensor merge_heads(const torch::Tensor& x) {
  return x.transpose(1, 2).reshape({x.size(0), x.size(2), x.size(1) * x.size(3)});
}

}  // namespace

torch::Tensor attention(const torch::Tensor& q, const torch::Tensor& k, const torch::Tensor& v,
                        double scale, bool upcast_softmax) {
#if TORCH_VERSION_MAJOR > 2 || (TORCH_VERSION_MAJOR == 2 && TORCH_VERSION_MINOR >= 1)
  // The fused kernel (flash / memory-efficient on CUDA) needs no score matrix at all. It
  // computes the softmax in fp32 internally, which also covers `upcast_softmax`.
  if (q.is_cuda()) {
    return at::scaled_dot_product_attention(q, k, v, {}, 0.0, false, scale);
  }
#endif
  const int64_t lq = q.size(2);
  const int64_t score_bytes = q.size(0) * q.size(1) * lq * k.size(2) * 4;
  const bool needs_grad =
      at::GradMode::is_enabled() && (q.requires_grad() || k.requires_grad() || v.requires_grad());
  if (q.is_cpu() && q.scalar_type() == torch::kFloat && k.scalar_type() == torch::kFloat &&
      v.scalar_type() == torch::kFloat && !needs_grad && score_bytes > kTiledFromBytes) {
    return attention_tiled(q, k, v, scale);
  }
  if (score_bytes <= kMaxScoreBytes || lq < 2) {
    return attention_matmul(q, k, v, scale, upcast_softmax);
  }
  const int64_t chunks = std::min<int64_t>(lq, (score_bytes + kMaxScoreBytes - 1) / kMaxScoreBytes);
  const int64_t chunk = (lq + chunks - 1) / chunks;
  std::vector<torch::Tensor> parts;
  for (int64_t begin = 0; begin < lq; begin += chunk) {
    parts.push_back(attention_matmul(q.narrow(2, begin, std::min(chunk, lq - begin)), k, v, scale,
                                     upcast_softmax));
  }
  return torch::cat(parts, 2);
}

ResnetBlock2DImpl::ResnetBlock2DImpl(int64_t in_channels, int64_t out_channels,
                                     int64_t temb_channels, int64_t groups, double eps,
                                     double output_scale, bool scale_shift)
    : output_scale_(output_scale), scale_shift_(scale_shift) {
  norm1 = register_module("norm1", group_norm(groups, in_channels, eps));
  conv1 = register_module("conv1", conv(in_channels, out_channels, 3, 1, 1));
  if (temb_channels > 0) {
    time_emb_proj = register_module(
        "time_emb_proj", torch::nn::Linear(temb_channels, (scale_shift ? 2 : 1) * out_channels));
  }
  norm2 = register_module("norm2", group_norm(groups, out_channels, eps));
  conv2 = register_module("conv2", conv(out_channels, out_channels, 3, 1, 1));
  if (in_channels != out_channels) {
    conv_shortcut = register_module("conv_shortcut", conv(in_channels, out_channels, 1));
  }
}

torch::Tensor ResnetBlock2DImpl::forward(const torch::Tensor& x, const torch::Tensor& temb) {
  auto h = conv1(F::silu(norm1(x)));
  if (time_emb_proj && temb.defined()) {
    auto t = time_emb_proj(F::silu(temb)).unsqueeze(-1).unsqueeze(-1);
    if (scale_shift_) {
      auto parts = t.chunk(2, 1);
      h = norm2(h) * (1 + parts[0]) + parts[1];
    } else {
      h = norm2(h + t);
    }
  } else {
    h = norm2(h);
  }
  h = conv2(F::silu(h));
  auto skip = conv_shortcut ? conv_shortcut(x) : x;
  auto out = skip + h;
  if (output_scale_ != 1.0) out = out / output_scale_;
  return out;
}

Downsample2DImpl::Downsample2DImpl(int64_t channels, int64_t padding) : padding_(padding) {
  conv = register_module("conv", mdlab::diffusion::conv(channels, channels, 3, 2, padding));
}

torch::Tensor Downsample2DImpl::forward(const torch::Tensor& x) {
  if (padding_ == 0) {
    return conv(F::pad(x, F::PadFuncOptions({0, 1, 0, 1}).mode(torch::kConstant).value(0)));
  }
  return conv(x);
}

Upsample2DImpl::Upsample2DImpl(int64_t channels) {
  conv = register_module("conv", mdlab::diffusion::conv(channels, channels, 3, 1, 1));
}

torch::Tensor Upsample2DImpl::forward(const torch::Tensor& x,
                                      std::optional<std::vector<int64_t>> size) {
  // Nearest upsampling has no bf16 kernel in older LibTorch; diffusers goes through fp32 too.
  auto in = x.scalar_type() == torch::kBFloat16 ? x.to(torch::kFloat) : x;
  std::vector<int64_t> out_size = size ? *size : std::vector<int64_t>{x.size(2) * 2, x.size(3) * 2};
  auto up = F::interpolate(in, F::InterpolateFuncOptions().size(out_size).mode(torch::kNearest));
  return conv(up.to(x.scalar_type()));
}

CrossAttentionImpl::CrossAttentionImpl(int64_t query_dim, int64_t context_dim, int64_t heads,
                                       int64_t head_dim, bool upcast)
    : heads_(heads), upcast_(upcast) {
  const int64_t inner = heads * head_dim;
  to_q = register_module("to_q",
                         torch::nn::Linear(torch::nn::LinearOptions(query_dim, inner).bias(false)));
  to_k = register_module(
      "to_k", torch::nn::Linear(torch::nn::LinearOptions(context_dim, inner).bias(false)));
  to_v = register_module(
      "to_v", torch::nn::Linear(torch::nn::LinearOptions(context_dim, inner).bias(false)));
  out_proj = register_out_list(*this, to_out, inner, query_dim);
}

torch::Tensor CrossAttentionImpl::forward(const torch::Tensor& x, const torch::Tensor& context) {
  const auto& ctx = context.defined() ? context : x;
  auto q = split_heads(to_q(x), heads_);
  auto k = split_heads(to_k(ctx), heads_);
  auto v = split_heads(to_v(ctx), heads_);
  const double scale = 1.0 / std::sqrt(static_cast<double>(q.size(-1)));
  if (upcast_) {
    auto out = attention(q.to(torch::kFloat), k.to(torch::kFloat), v.to(torch::kFloat), scale);
    return out_proj(merge_heads(out.to(x.scalar_type())));
  }
  return out_proj(merge_heads(attention(q, k, v, scale)));
}

BasicTransformerBlockImpl::BasicTransformerBlockImpl(int64_t dim, int64_t heads, int64_t head_dim,
                                                     int64_t context_dim, bool upcast) {
  auto layer_norm = [dim] {
    return torch::nn::LayerNorm(torch::nn::LayerNormOptions({dim}).eps(1e-5));
  };
  norm1 = register_module("norm1", layer_norm());
  attn1 = register_module("attn1", CrossAttention(dim, dim, heads, head_dim, upcast));
  norm2 = register_module("norm2", layer_norm());
  attn2 = register_module("attn2", CrossAttention(dim, context_dim, heads, head_dim, upcast));
  norm3 = register_module("norm3", layer_norm());
  // ff.net = [GEGLU (proj: dim -> 2 * 4 dim), Dropout, Linear (4 dim -> dim)].
  auto ff = register_module("ff", std::make_shared<torch::nn::Module>());
  auto net = ff->register_module("net", torch::nn::ModuleList());
  auto geglu = std::make_shared<torch::nn::Module>();
  geglu_proj = geglu->register_module("proj", torch::nn::Linear(dim, dim * 4 * 2));
  net->push_back(geglu);
  net->push_back(torch::nn::Dropout(0.0));
  ff_out = torch::nn::Linear(dim * 4, dim);
  net->push_back(ff_out);
}

torch::Tensor BasicTransformerBlockImpl::forward(const torch::Tensor& x,
                                                 const torch::Tensor& context) {
  auto h = attn1(norm1(x)) + x;
  h = attn2(norm2(h), context) + h;
  auto gates = geglu_proj(norm3(h)).chunk(2, -1);
  return ff_out(gates[0] * F::gelu(gates[1])) + h;
}

Transformer2DImpl::Transformer2DImpl(int64_t channels, int64_t heads, int64_t head_dim,
                                     int64_t context_dim, int64_t groups, int64_t layers,
                                     bool linear_projection, bool upcast)
    : linear_projection_(linear_projection) {
  const int64_t inner = heads * head_dim;
  norm = register_module("norm", group_norm(groups, channels, 1e-6));
  if (linear_projection) {
    proj_in_linear = register_module("proj_in", torch::nn::Linear(channels, inner));
  } else {
    proj_in_conv = register_module("proj_in", conv(channels, inner, 1));
  }
  transformer_blocks = register_module("transformer_blocks", torch::nn::ModuleList());
  for (int64_t i = 0; i < layers; ++i) {
    transformer_blocks->push_back(
        BasicTransformerBlock(inner, heads, head_dim, context_dim, upcast));
  }
  if (linear_projection) {
    proj_out_linear = register_module("proj_out", torch::nn::Linear(inner, channels));
  } else {
    proj_out_conv = register_module("proj_out", conv(inner, channels, 1));
  }
}

torch::Tensor Transformer2DImpl::forward(const torch::Tensor& x, const torch::Tensor& context) {
  const int64_t n = x.size(0), h = x.size(2), w = x.size(3);
  auto tokens = norm(x);
  if (!linear_projection_) tokens = proj_in_conv(tokens);
  const int64_t inner = tokens.size(1);
  tokens = tokens.permute({0, 2, 3, 1}).reshape({n, h * w, inner});
  if (linear_projection_) tokens = proj_in_linear(tokens);
  for (const auto& block : *transformer_blocks) {
    tokens = block->as<BasicTransformerBlockImpl>()->forward(tokens, context);
  }
  if (linear_projection_) {
    tokens = proj_out_linear(tokens);
    return tokens.reshape({n, h, w, -1}).permute({0, 3, 1, 2}).contiguous() + x;
  }
  auto map = tokens.reshape({n, h, w, inner}).permute({0, 3, 1, 2}).contiguous();
  return proj_out_conv(map) + x;
}

SpatialSelfAttentionImpl::SpatialSelfAttentionImpl(int64_t channels, int64_t groups, double eps) {
  group_norm = register_module("group_norm", mdlab::diffusion::group_norm(groups, channels, eps));
  to_q = register_module("to_q", torch::nn::Linear(channels, channels));
  to_k = register_module("to_k", torch::nn::Linear(channels, channels));
  to_v = register_module("to_v", torch::nn::Linear(channels, channels));
  out_proj = register_out_list(*this, to_out, channels, channels);
}

torch::Tensor SpatialSelfAttentionImpl::forward(const torch::Tensor& x) {
  const int64_t n = x.size(0), c = x.size(1), h = x.size(2), w = x.size(3);
  auto tokens = group_norm(x).view({n, c, h * w}).transpose(1, 2);
  // One head of width C.
  auto q = to_q(tokens).unsqueeze(1);
  auto k = to_k(tokens).unsqueeze(1);
  auto v = to_v(tokens).unsqueeze(1);
  auto out = attention(q, k, v, 1.0 / std::sqrt(static_cast<double>(c)), true).squeeze(1);
  out = out_proj(out).transpose(1, 2).reshape({n, c, h, w});
  return out + x;
}

torch::Tensor timestep_features(const torch::Tensor& timesteps, int64_t dim, bool flip_sin_to_cos,
                                double freq_shift) {
  const int64_t half = dim / 2;
  auto opts = torch::TensorOptions().dtype(torch::kFloat).device(timesteps.device());
  auto exponent = torch::arange(0, half, opts) * static_cast<float>(-std::log(10000.0));
  exponent = exponent / static_cast<float>(half - freq_shift);
  auto angles = timesteps.to(torch::kFloat).unsqueeze(1) * torch::exp(exponent).unsqueeze(0);
  auto emb = flip_sin_to_cos ? torch::cat({torch::cos(angles), torch::sin(angles)}, -1)
                             : torch::cat({torch::sin(angles), torch::cos(angles)}, -1);
  if (dim % 2 == 1) emb = F::pad(emb, F::PadFuncOptions({0, 1}));
  return emb;
}

}  // namespace mdlab::diffusion
