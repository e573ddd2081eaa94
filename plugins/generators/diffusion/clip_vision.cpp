// CLIP vision transformer with projection, operation for operation as transformers 4.33 runs
// it (queries scaled before the product, pre-norm layers, post-norm on the class token).
#include "clip_vision.h"

#include <mdlab/error.h>

#include <fmt/format.h>
#include <torch/nn/functional.h>
#include <torch/torch.h>

#include <cmath>

namespace F = torch::nn::functional;

namespace mdlab::diffusion {

namespace {

torch::nn::LayerNorm layer_norm(int64_t dim, double eps) {
  return torch::nn::LayerNorm(torch::nn::LayerNormOptions({dim}).eps(eps));
}

// CLIPEncoderLayer: x + attn(ln1(x)), then x + mlp(ln2(x)).
class ClipLayerImpl : public torch::nn::Module {
 public:
  explicit ClipLayerImpl(const ClipVisionConfig& c)
      : heads_(c.num_attention_heads), quick_gelu_(c.hidden_act == "quick_gelu") {
    const int64_t d = c.hidden_size;
    auto attn = register_module("self_attn", std::make_shared<torch::nn::Module>());
    q_proj = attn->register_module("q_proj", torch::nn::Linear(d, d));
    k_proj = attn->register_module("k_proj", torch::nn::Linear(d, d));
    v_proj = attn->register_module("v_proj", torch::nn::Linear(d, d));
    out_proj = attn->register_module("out_proj", torch::nn::Linear(d, d));
    layer_norm1 = register_module("layer_norm1", layer_norm(d, c.layer_norm_eps));
    auto mlp = register_module("mlp", std::make_shared<torch::nn::Module>());
    fc1 = mlp->register_module("fc1", torch::nn::Linear(d, c.intermediate_size));
    fc2 = mlp->register_module("fc2", torch::nn::Linear(c.intermediate_size, d));
    layer_norm2 = register_module("layer_norm2", layer_norm(d, c.layer_norm_eps));
  }

  torch::Tensor forward(const torch::Tensor& x) {
    const int64_t n = x.size(0), t = x.size(1), d = x.size(2), hd = d / heads_;
    auto h = layer_norm1(x);
    auto heads = [&](const torch::Tensor& y) { return y.view({n, t, heads_, hd}).transpose(1, 2); };
    auto q = heads(q_proj(h) * (1.0 / std::sqrt(static_cast<double>(hd))));
    auto k = heads(k_proj(h));
    auto v = heads(v_proj(h));
    auto weights = torch::matmul(q, k.transpose(-1, -2)).softmax(-1);
    auto attn = torch::matmul(weights, v).transpose(1, 2).reshape({n, t, d});
    auto y = x + out_proj(attn);
    auto m = fc1(layer_norm2(y));
    m = quick_gelu_ ? m * torch::sigmoid(1.702 * m) : F::gelu(m);
    return y + fc2(m);
  }

 private:
  torch::nn::Linear q_proj{nullptr}, k_proj{nullptr}, v_proj{nullptr}, out_proj{nullptr};
  torch::nn::Linear fc1{nullptr}, fc2{nullptr};
  torch::nn::LayerNorm layer_norm1{nullptr}, layer_norm2{nullptr};
  int64_t heads_;
  bool quick_gelu_;
};
TORCH_MODULE(ClipLayer);

}  // namespace

ClipVisionConfig::ClipVisionConfig(const JsonConfig& file) {
  // A full CLIPConfig nests the vision settings.
  const JsonConfig c = file.has("vision_config") && file.raw("vision_config").is_object()
                           ? JsonConfig(file.raw("vision_config"), file.path())
                           : file;
  hidden_size = c.get_int("hidden_size", hidden_size, 1, kMaxConfigChannels);
  intermediate_size = c.get_int("intermediate_size", intermediate_size, 1, 4 * kMaxConfigChannels);
  num_hidden_layers = c.get_int("num_hidden_layers", num_hidden_layers, 1, kMaxConfigRepeats);
  num_attention_heads =
      c.get_int("num_attention_heads", num_attention_heads, 1, kMaxConfigChannels);
  image_size = c.get_int("image_size", image_size, 1, kMaxConfigPixels);
  patch_size = c.get_int("patch_size", patch_size, 1, kMaxConfigPixels);
  projection_dim = c.get_int("projection_dim", projection_dim, 1, kMaxConfigChannels);
  num_channels = c.get_int("num_channels", num_channels, 1, 4);
  layer_norm_eps = c.get_number("layer_norm_eps", layer_norm_eps, 1e-12, 1.0);
  hidden_act = c.get<std::string>("hidden_act", hidden_act);
  if (hidden_act != "quick_gelu" && hidden_act != "gelu") {
    c.fail("hidden_act", fmt::format("= \"{}\" is not supported (quick_gelu, gelu)", hidden_act));
  }
  if (num_attention_heads <= 0 || hidden_size % num_attention_heads != 0) {
    c.fail("num_attention_heads",
           fmt::format("= {} does not divide hidden_size = {}", num_attention_heads, hidden_size));
  }
  if (patch_size <= 0 || image_size % patch_size != 0) {
    c.fail("patch_size",
           fmt::format("= {} does not divide image_size = {}", patch_size, image_size));
  }
}

ClipVisionModelImpl::ClipVisionModelImpl(const ClipVisionConfig& config) : config_(config) {
  const int64_t d = config_.hidden_size;
  const int64_t positions =
      (config_.image_size / config_.patch_size) * (config_.image_size / config_.patch_size) + 1;
  auto vision = register_module("vision_model", std::make_shared<torch::nn::Module>());
  auto embeddings = vision->register_module("embeddings", std::make_shared<torch::nn::Module>());
  class_embedding = embeddings->register_parameter("class_embedding", torch::randn({d}));
  patch_embedding = embeddings->register_module(
      "patch_embedding",
      torch::nn::Conv2d(torch::nn::Conv2dOptions(config_.num_channels, d, config_.patch_size)
                            .stride(config_.patch_size)
                            .bias(false)));
  position_embedding =
      embeddings->register_module("position_embedding", torch::nn::Embedding(positions, d));
  pre_layrnorm = vision->register_module("pre_layrnorm", layer_norm(d, config_.layer_norm_eps));
  auto encoder = vision->register_module("encoder", std::make_shared<torch::nn::Module>());
  layers = encoder->register_module("layers", torch::nn::ModuleList());
  for (int64_t i = 0; i < config_.num_hidden_layers; ++i) layers->push_back(ClipLayer(config_));
  post_layernorm = vision->register_module("post_layernorm", layer_norm(d, config_.layer_norm_eps));
  visual_projection = register_module(
      "visual_projection",
      torch::nn::Linear(torch::nn::LinearOptions(d, config_.projection_dim).bias(false)));
}

ClipVisionOutput ClipVisionModelImpl::forward(const torch::Tensor& pixel_values,
                                              bool all_hidden_states) {
  const auto& c = config_;
  MDLAB_CHECK(pixel_values.dim() == 4 && pixel_values.size(1) == c.num_channels &&
                  pixel_values.size(2) == c.image_size && pixel_values.size(3) == c.image_size,
              "CLIP vision: pixel_values must be [N, {}, {}, {}], got [{}]", c.num_channels,
              c.image_size, c.image_size, fmt::join(pixel_values.sizes(), ", "));
  const auto dtype = patch_embedding->weight.scalar_type();
  const int64_t n = pixel_values.size(0);
  auto patches = patch_embedding(pixel_values.to(dtype)).flatten(2).transpose(1, 2);
  auto cls = class_embedding.view({1, 1, -1}).expand({n, 1, c.hidden_size});
  auto x = torch::cat({cls, patches}, 1) + position_embedding->weight.unsqueeze(0);
  x = pre_layrnorm(x);
  ClipVisionOutput out;
  if (all_hidden_states) out.hidden_states.push_back(x);
  for (const auto& layer : *layers) {
    x = layer->as<ClipLayerImpl>()->forward(x);
    if (all_hidden_states) out.hidden_states.push_back(x);
  }
  out.last_hidden_state = x;
  out.pooler_output = post_layernorm(x.select(1, 0));
  out.image_embeds = visual_projection(out.pooler_output);
  return out;
}

torch::Tensor ClipVisionModelImpl::project_tokens(const torch::Tensor& hidden_states) {
  return visual_projection(post_layernorm(hidden_states));
}

std::shared_ptr<ClipVisionModelImpl> load_clip_vision(const std::filesystem::path& dir,
                                                      torch::Device device,
                                                      torch::ScalarType dtype) {
  ClipVisionConfig config(JsonConfig(dir / "config.json"));
  auto model = std::make_shared<ClipVisionModelImpl>(config);
  model->to(device, dtype);
  // transformers keeps a position_ids buffer in some versions' files; it is arange(T).
  load_component_weights(*model, dir, [](const std::string& name) {
    return name.size() >= 12 && name.compare(name.size() - 12, 12, "position_ids") == 0
               ? std::string()
               : name;
  });
  model->eval();
  return model;
}

}  // namespace mdlab::diffusion
