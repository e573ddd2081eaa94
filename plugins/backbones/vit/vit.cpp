#include "vit.h"

#include <mdlab/error.h>
#include <mdlab/safetensors.h>

#include <torch/torch.h>

#include <fmt/format.h>

#include <cmath>

namespace F = torch::nn::functional;

namespace mdlab::vit {
namespace {

// Truncated normal on [-2 std, 2 std] by inverting the normal CDF of uniform draws (what
// DINO's trunc_normal_ does), from an explicit generator so init depends only on the seed.
void trunc_normal(torch::Tensor t, double std, at::Generator& gen) {
  torch::NoGradGuard no_grad;
  const double lo = 0.5 * (1.0 + std::erf(-2.0 / std::sqrt(2.0)));
  const double hi = 0.5 * (1.0 + std::erf(2.0 / std::sqrt(2.0)));
  t.uniform_(2 * lo - 1, 2 * hi - 1, gen);
  t.erfinv_().mul_(std * std::sqrt(2.0)).clamp_(-2.0 * std, 2.0 * std);
}

// Stochastic depth: drops the whole residual branch of a sample with probability p.
torch::Tensor drop_path(const torch::Tensor& x, double p, bool training) {
  if (p == 0.0 || !training) return x;
  const double keep = 1.0 - p;
  std::vector<int64_t> shape(static_cast<size_t>(x.dim()), 1);
  shape[0] = x.size(0);
  auto mask = torch::rand(shape, x.options()).add_(keep).floor_();
  return x.div(keep) * mask;
}

}  // namespace

AttentionImpl::AttentionImpl(int64_t dim, int64_t heads_, bool qkv_bias)
    : heads(heads_), scale(1.0 / std::sqrt(static_cast<double>(dim / heads_))) {
  MDLAB_CHECK(dim % heads == 0, "vit: width {} is not divisible by {} heads", dim, heads);
  qkv = register_module("qkv", torch::nn::Linear(torch::nn::LinearOptions(dim, 3 * dim).bias(qkv_bias)));
  proj = register_module("proj", torch::nn::Linear(dim, dim));
}

torch::Tensor AttentionImpl::forward(const torch::Tensor& x, torch::Tensor* attention) {
  const int64_t n = x.size(0), t = x.size(1), c = x.size(2);
  auto qkv_ = qkv->forward(x).reshape({n, t, 3, heads, c / heads}).permute({2, 0, 3, 1, 4});
  auto q = qkv_[0], k = qkv_[1], v = qkv_[2];
  // matmul, not baddbmm with beta = 0: LibTorch 1.13's CPU baddbmm can read uninitialised
  // memory in that case.
  auto attn = torch::matmul(q, k.transpose(-2, -1)).mul_(scale).softmax(-1);
  if (attention) *attention = attn;
  auto out = torch::matmul(attn, v).transpose(1, 2).reshape({n, t, c});
  return proj->forward(out);
}

MlpImpl::MlpImpl(int64_t dim, int64_t hidden) {
  fc1 = register_module("fc1", torch::nn::Linear(dim, hidden));
  fc2 = register_module("fc2", torch::nn::Linear(hidden, dim));
}

torch::Tensor MlpImpl::forward(const torch::Tensor& x) {
  return fc2->forward(torch::gelu(fc1->forward(x)));
}

BlockImpl::BlockImpl(const ViTConfig& config, double drop_path_) : drop_path(drop_path_) {
  const auto ln = torch::nn::LayerNormOptions({config.embed_dim}).eps(1e-6);
  norm1 = register_module("norm1", torch::nn::LayerNorm(ln));
  attn = register_module("attn", Attention(config.embed_dim, config.heads, config.qkv_bias));
  norm2 = register_module("norm2", torch::nn::LayerNorm(ln));
  mlp = register_module(
      "mlp", Mlp(config.embed_dim, static_cast<int64_t>(config.embed_dim * config.mlp_ratio)));
}

torch::Tensor BlockImpl::forward(const torch::Tensor& x, torch::Tensor* attention) {
  auto y = x + vit::drop_path(attn->forward(norm1->forward(x), attention), drop_path, is_training());
  return y + vit::drop_path(mlp->forward(norm2->forward(y)), drop_path, is_training());
}

PatchEmbedImpl::PatchEmbedImpl(int64_t in_channels, int64_t dim, int64_t patch) {
  proj = register_module(
      "proj", torch::nn::Conv2d(torch::nn::Conv2dOptions(in_channels, dim, patch).stride(patch)));
}

torch::Tensor PatchEmbedImpl::forward(const torch::Tensor& x) {
  return proj->forward(x).flatten(2).transpose(1, 2);
}

ViTConfig architecture(const std::string& name, int64_t patch_size) {
  ViTConfig c;
  c.patch_size = patch_size;
  if (name == "tiny") {
    c.embed_dim = 192, c.heads = 3;
  } else if (name == "small") {
    c.embed_dim = 384, c.heads = 6;
  } else if (name == "base") {
    c.embed_dim = 768, c.heads = 12;
  } else {
    MDLAB_THROW("vit: unknown architecture '{}' (tiny, small, base)", name);
  }
  return c;
}

ViT::ViT(const ViTConfig& config, at::Generator generator) : config_(config) {
  MDLAB_CHECK(config.img_size % config.patch_size == 0,
              "vit: img_size {} is not a multiple of the patch size {}", config.img_size,
              config.patch_size);
  const int64_t grid = config.img_size / config.patch_size;
  patch_embed = register_module(
      "patch_embed", PatchEmbed(config.in_channels, config.embed_dim, config.patch_size));
  cls_token = register_parameter("cls_token", torch::zeros({1, 1, config.embed_dim}));
  pos_embed = register_parameter("pos_embed", torch::zeros({1, 1 + grid * grid, config.embed_dim}));
  blocks = register_module("blocks", torch::nn::ModuleList());
  for (int64_t i = 0; i < config.depth; ++i) {
    const double dp = config.depth > 1 ? config.drop_path_rate * i / (config.depth - 1) : 0.0;
    blocks->push_back(Block(config, dp));
  }
  norm = register_module(
      "norm", torch::nn::LayerNorm(torch::nn::LayerNormOptions({config.embed_dim}).eps(1e-6)));

  // DINO's init: truncated normal (std 0.02) for the embeddings and every Linear, zero
  // biases, LayerNorm (1, 0); the patch conv keeps PyTorch's default init, which LibTorch's
  // constructor drew from the global generator, so redraw it from ours (kaiming-uniform
  // with a = sqrt(5): bound 1/sqrt(fan_in) for the weight and the bias alike).
  torch::NoGradGuard no_grad;
  trunc_normal(pos_embed, 0.02, generator);
  trunc_normal(cls_token, 0.02, generator);
  const auto& w = patch_embed->proj->weight;
  const double bound = 1.0 / std::sqrt(static_cast<double>(w.size(1) * w.size(2) * w.size(3)));
  w.uniform_(-bound, bound, generator);
  patch_embed->proj->bias.uniform_(-bound, bound, generator);
  for (auto& module : modules(/*include_self=*/false)) {
    if (auto* linear = module->as<torch::nn::Linear>()) {
      trunc_normal(linear->weight, 0.02, generator);
      if (linear->bias.defined()) linear->bias.zero_();
    }
  }
}

namespace {

ViTConfig config_from(const mdlab::Options& o) {
  ViTConfig c = architecture(o.get_string("arch"), o.get_int("patch_size"));
  c.img_size = o.get_int("img_size");
  c.drop_path_rate = o.get_float("drop_path_rate");
  c.in_channels = o.get_int("in_channels");
  c.depth = o.get_int("depth");
  return c;
}

}  // namespace

ViT::ViT(const mdlab::Options& options, mdlab::Context& context)
    : ViT(config_from(options), context.generator("vit.init")) {
  const std::string& weights = options.get_string("weights");
  if (!weights.empty()) {
    auto report = load_weights(weights);
    context.log(mdlab::LogLevel::Info,
                fmt::format("vit: loaded {} tensors from {}", report.loaded.size(), weights));
  }
}

mdlab::OptionsSchema ViT::options_schema() {
  mdlab::OptionsSchema s;
  s.add_string("arch", "small", "Width and heads: tiny (192, 3), small (384, 6), base (768, 12)")
      .one_of({"tiny", "small", "base"});
  s.add_int("patch_size", 16, "Patch side in pixels").one_of_ints({8, 16});
  s.add_int("depth", 12, "Number of transformer blocks").range(1, 48);
  s.add_int("img_size", 224, "Input size the position embeddings are learned for (other sizes "
            "are interpolated)").range(8, 4096);
  s.add_float("drop_path_rate", 0.1, "Stochastic depth of the last block (linear over blocks)")
      .range(0.0, 0.9);
  s.add_int("in_channels", 3, "Channels of the input images").range(1, 16);
  s.add_string("weights", "",
               "Safetensors file with DINO-named weights to load strictly (head.* ignored)");
  return s;
}

torch::Tensor ViT::interpolate_pos_encoding(int64_t h, int64_t w) const {
  const int64_t n = pos_embed.size(1) - 1;
  const int64_t grid = static_cast<int64_t>(std::llround(std::sqrt(static_cast<double>(n))));
  const int64_t gh = h / config_.patch_size, gw = w / config_.patch_size;
  // DINO compares pixel sizes here (h == w), not grid sizes: 224x225 is interpolated.
  if (gh * gw == n && h == w) return pos_embed;
  const int64_t dim = pos_embed.size(2);
  auto patch_pos = pos_embed.slice(1, 1).reshape({1, grid, grid, dim}).permute({0, 3, 1, 2});
  // DINO adds 0.1 to the target grid and passes scale factors (not sizes): PyTorch then maps
  // coordinates with those factors, which shifts the samples slightly. Reproduce it exactly.
  const double sh = (static_cast<double>(gh) + 0.1) / static_cast<double>(grid);
  const double sw = (static_cast<double>(gw) + 0.1) / static_cast<double>(grid);
  patch_pos = F::interpolate(patch_pos, F::InterpolateFuncOptions()
                                            .scale_factor(std::vector<double>{sh, sw})
                                            .mode(torch::kBicubic)
                                            .align_corners(false)
                                            // PyTorch's behaviour when DINO passes None, stated
                                            // so LibTorch does not warn on every call.
                                            .recompute_scale_factor(false));
  MDLAB_CHECK(patch_pos.size(2) == gh && patch_pos.size(3) == gw,
              "vit: interpolated position grid {}x{} for an input grid {}x{}", patch_pos.size(2),
              patch_pos.size(3), gh, gw);
  patch_pos = patch_pos.permute({0, 2, 3, 1}).reshape({1, gh * gw, dim});
  return torch::cat({pos_embed.slice(1, 0, 1), patch_pos}, 1);
}

torch::Tensor ViT::prepare_tokens(const torch::Tensor& images) {
  MDLAB_CHECK(images.dim() == 4 && images.size(1) == config_.in_channels,
              "vit: expected images [N, {}, H, W], got {}", config_.in_channels,
              c10::str(images.sizes()));
  // DINO's strided conv silently drops a remainder; a size off the patch grid is almost
  // always a pipeline mistake, so it is an error here.
  MDLAB_CHECK(images.size(2) % config_.patch_size == 0 && images.size(3) % config_.patch_size == 0 &&
                  images.size(2) > 0 && images.size(3) > 0,
              "vit: input {}x{} is not a whole number of {}-pixel patches", images.size(2),
              images.size(3), config_.patch_size);
  auto x = patch_embed->forward(images.is_cuda()
                                    ? images.contiguous(at::MemoryFormat::ChannelsLast)
                                    : images);
  x = torch::cat({cls_token.expand({x.size(0), -1, -1}), x}, 1);
  return x + interpolate_pos_encoding(images.size(2), images.size(3));
}

torch::Tensor ViT::forward(const torch::Tensor& images) {
  auto x = prepare_tokens(images);
  for (auto& block : *blocks) x = block->as<Block>()->forward(x);
  return norm->forward(x).select(1, 0);
}

std::optional<torch::Tensor> ViT::last_attention(const torch::Tensor& images) {
  auto x = prepare_tokens(images);
  torch::Tensor attention;
  const size_t last = blocks->size() - 1;
  for (size_t i = 0; i < blocks->size(); ++i)
    x = blocks[i]->as<Block>()->forward(x, i == last ? &attention : nullptr);
  return attention;
}

mdlab::LoadReport ViT::load_weights(const std::filesystem::path& file) {
  auto tensors = mdlab::read_safetensors(file);
  mdlab::LoadOptions options;
  options.ignore_prefixes = {"head."};
  try {
    return mdlab::load_state_dict(*this, tensors.tensors, options);
  } catch (const mdlab::Error& e) {
    MDLAB_THROW("vit (width {}, depth {}, patch {}): weights '{}': {}", config_.embed_dim,
                config_.depth, config_.patch_size, file.string(), e.message());
  }
}

}  // namespace mdlab::vit
