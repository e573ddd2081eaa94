// UNet2DConditionModel: config validation, the down / mid / up blocks, and the forward pass
// with diffusers' skip-connection order.
#include "unet.h"

#include "layers.h"

#include <mdlab/error.h>

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <torch/nn/functional.h>

namespace F = torch::nn::functional;

namespace mdlab::diffusion {

namespace {

// An int or a list of ints, expanded to one value per down block.
std::vector<int64_t> per_block(const JsonConfig& config, std::string_view key, size_t blocks,
                               int64_t fallback, int64_t hi) {
  const Json& value = config.raw(key);
  if (value.is_null()) return std::vector<int64_t>(blocks, fallback);
  if (value.is_number()) return std::vector<int64_t>(blocks, config.get_int(key, fallback, 1, hi));
  if (value.is_array()) {
    auto list = config.get_ints(key, {}, 1, hi);
    if (list.size() != blocks) {
      config.fail(key, fmt::format("has {} entries for {} down blocks", list.size(), blocks));
    }
    return list;
  }
  config.fail(key, "must be an integer or a list of integers, not " + value.dump());
}

// Keys whose non-default values select features this implementation does not have.
void reject_unsupported(const JsonConfig& config) {
  auto must_be_null = {"addition_embed_type",   "encoder_hid_dim",     "encoder_hid_dim_type",
                       "time_cond_proj_dim",    "num_class_embeds",    "timestep_post_act",
                       "time_embedding_act_fn", "cross_attention_norm"};
  for (const char* key : must_be_null) {
    if (config.has(key))
      config.fail(key, "= " + config.raw(key).dump() + " is not supported (null only)");
  }
  auto expect_string = [&](const char* key, const char* wanted) {
    if (config.has(key) && config.require<std::string>(key) != wanted) {
      config.fail(
          key, fmt::format("= {} is not supported (only \"{}\")", config.raw(key).dump(), wanted));
    }
  };
  expect_string("act_fn", "silu");
  expect_string("time_embedding_type", "positional");
  expect_string("attention_type", "default");
  auto expect_int = [&](const char* key, int64_t wanted) {
    if (config.has(key) && config.require<int64_t>(key) != wanted) {
      config.fail(key,
                  fmt::format("= {} is not supported (only {})", config.raw(key).dump(), wanted));
    }
  };
  expect_int("conv_in_kernel", 3);
  expect_int("conv_out_kernel", 3);
  if (config.get<bool>("class_embeddings_concat", false)) {
    config.fail("class_embeddings_concat", "= true is not supported");
  }
  if (config.has("class_embed_type") &&
      config.require<std::string>("class_embed_type") != "projection") {
    config.fail("class_embed_type", "= " + config.raw("class_embed_type").dump() +
                                        " is not supported (null or \"projection\")");
  }
  if (config.get<bool>("dual_cross_attention", false)) {
    config.fail("dual_cross_attention", "= true is not supported");
  }
  if (config.get<bool>("resnet_skip_time_act", false)) {
    config.fail("resnet_skip_time_act", "= true is not supported");
  }
  if (config.get<double>("resnet_out_scale_factor", 1.0) != 1.0) {
    config.fail("resnet_out_scale_factor", "other than 1.0 is not supported");
  }
  const Json& only_cross = config.raw("only_cross_attention");
  const bool any_only_cross =
      only_cross.is_boolean() ? only_cross.get<bool>()
      : only_cross.is_array()
          ? std::any_of(only_cross.begin(), only_cross.end(),
                        [](const Json& v) { return v.is_boolean() && v.get<bool>(); })
          : false;
  if (any_only_cross) config.fail("only_cross_attention", "= true is not supported");
}

// One resolution level of the encoder path: resnets (each optionally followed by a
// transformer), then an optional stride-2 downsampler.
class DownBlockImpl : public torch::nn::Module {
 public:
  DownBlockImpl(bool cross_attention, int64_t in, int64_t out, int64_t temb, int64_t layers,
                const UNetConfig& c, size_t level, bool downsample) {
    resnets = register_module("resnets", torch::nn::ModuleList());
    if (cross_attention) attentions = register_module("attentions", torch::nn::ModuleList());
    for (int64_t i = 0; i < layers; ++i) {
      resnets->push_back(ResnetBlock2D(i == 0 ? in : out, out, temb, c.norm_num_groups, c.norm_eps,
                                       1.0, c.resnet_time_scale_shift == "scale_shift"));
      if (cross_attention) {
        attentions->push_back(Transformer2D(out, c.heads[level], out / c.heads[level],
                                            c.cross_attention_dim[level], c.norm_num_groups,
                                            c.transformer_layers[level], c.use_linear_projection,
                                            c.upcast_attention));
      }
    }
    if (downsample) {
      downsamplers = register_module("downsamplers", torch::nn::ModuleList());
      downsamplers->push_back(Downsample2D(out, c.downsample_padding));
    }
  }

  torch::Tensor forward(torch::Tensor x, const torch::Tensor& temb, const torch::Tensor& context,
                        std::vector<torch::Tensor>& skips) {
    for (size_t i = 0; i < resnets->size(); ++i) {
      x = resnets[i]->as<ResnetBlock2DImpl>()->forward(x, temb);
      if (attentions) x = attentions[i]->as<Transformer2DImpl>()->forward(x, context);
      skips.push_back(x);
    }
    if (downsamplers) {
      x = downsamplers[0]->as<Downsample2DImpl>()->forward(x);
      skips.push_back(x);
    }
    return x;
  }

 private:
  torch::nn::ModuleList resnets{nullptr}, attentions{nullptr}, downsamplers{nullptr};
};
TORCH_MODULE(DownBlock);

// One resolution level of the decoder path: each resnet first concatenates the newest skip.
class UpBlockImpl : public torch::nn::Module {
 public:
  UpBlockImpl(bool cross_attention, int64_t in, int64_t prev_out, int64_t out, int64_t temb,
              int64_t layers, const UNetConfig& c, size_t level, bool upsample) {
    resnets = register_module("resnets", torch::nn::ModuleList());
    if (cross_attention) attentions = register_module("attentions", torch::nn::ModuleList());
    for (int64_t i = 0; i < layers; ++i) {
      const int64_t skip_channels = i == layers - 1 ? in : out;
      const int64_t resnet_in = i == 0 ? prev_out : out;
      resnets->push_back(ResnetBlock2D(resnet_in + skip_channels, out, temb, c.norm_num_groups,
                                       c.norm_eps, 1.0,
                                       c.resnet_time_scale_shift == "scale_shift"));
      if (cross_attention) {
        attentions->push_back(Transformer2D(out, c.heads[level], out / c.heads[level],
                                            c.cross_attention_dim[level], c.norm_num_groups,
                                            c.transformer_layers[level], c.use_linear_projection,
                                            c.upcast_attention));
      }
    }
    if (upsample) {
      upsamplers = register_module("upsamplers", torch::nn::ModuleList());
      upsamplers->push_back(Upsample2D(out));
    }
  }

  torch::Tensor forward(torch::Tensor x, const torch::Tensor& temb, const torch::Tensor& context,
                        std::vector<torch::Tensor>& skips) {
    for (size_t i = 0; i < resnets->size(); ++i) {
      x = torch::cat({x, skips.back()}, 1);
      skips.pop_back();
      x = resnets[i]->as<ResnetBlock2DImpl>()->forward(x, temb);
      if (attentions) x = attentions[i]->as<Transformer2DImpl>()->forward(x, context);
    }
    if (upsamplers) {
      // Upsample to the next skip's size: equals 2x when the latent size divides by
      // 2^levels, and still lines up when it does not.
      std::optional<std::vector<int64_t>> size;
      if (!skips.empty()) size = std::vector<int64_t>{skips.back().size(2), skips.back().size(3)};
      x = upsamplers[0]->as<Upsample2DImpl>()->forward(x, size);
    }
    return x;
  }

 private:
  torch::nn::ModuleList resnets{nullptr}, attentions{nullptr}, upsamplers{nullptr};
};
TORCH_MODULE(UpBlock);

// UNetMidBlock2DCrossAttn: resnet, then (transformer, resnet) pairs.
class MidBlockImpl : public torch::nn::Module {
 public:
  MidBlockImpl(int64_t channels, int64_t temb, const UNetConfig& c) {
    const size_t last = c.heads.size() - 1;
    resnets = register_module("resnets", torch::nn::ModuleList());
    attentions = register_module("attentions", torch::nn::ModuleList());
    for (int i = 0; i < 2; ++i) {
      resnets->push_back(ResnetBlock2D(channels, channels, temb, c.norm_num_groups, c.norm_eps,
                                       c.mid_block_scale_factor,
                                       c.resnet_time_scale_shift == "scale_shift"));
    }
    attentions->push_back(Transformer2D(channels, c.heads[last], channels / c.heads[last],
                                        c.cross_attention_dim[last], c.norm_num_groups,
                                        c.transformer_layers[last], c.use_linear_projection,
                                        c.upcast_attention));
  }

  torch::Tensor forward(torch::Tensor x, const torch::Tensor& temb, const torch::Tensor& context) {
    x = resnets[0]->as<ResnetBlock2DImpl>()->forward(x, temb);
    x = attentions[0]->as<Transformer2DImpl>()->forward(x, context);
    return resnets[1]->as<ResnetBlock2DImpl>()->forward(x, temb);
  }

 private:
  torch::nn::ModuleList resnets{nullptr}, attentions{nullptr};
};
TORCH_MODULE(MidBlock);

}  // namespace

UNetConfig::UNetConfig(const JsonConfig& config) {
  const auto cls = config.get<std::string>("_class_name", "UNet2DConditionModel");
  if (cls != "UNet2DConditionModel") {
    config.fail("_class_name", fmt::format("= \"{}\" is not a UNet2DConditionModel", cls));
  }
  reject_unsupported(config);
  in_channels = config.get_int("in_channels", in_channels, 1, kMaxConfigChannels);
  out_channels = config.get_int("out_channels", out_channels, 1, kMaxConfigChannels);
  sample_size = config.get_int("sample_size", sample_size, 1, kMaxConfigPixels);
  down_block_types = config.get<std::vector<std::string>>(
      "down_block_types",
      {"CrossAttnDownBlock2D", "CrossAttnDownBlock2D", "CrossAttnDownBlock2D", "DownBlock2D"});
  up_block_types = config.get<std::vector<std::string>>(
      "up_block_types",
      {"UpBlock2D", "CrossAttnUpBlock2D", "CrossAttnUpBlock2D", "CrossAttnUpBlock2D"});
  mid_block_type = config.get<std::string>("mid_block_type", mid_block_type);
  block_out_channels =
      config.get_ints("block_out_channels", {320, 640, 1280, 1280}, 1, kMaxConfigChannels);
  layers_per_block = config.get_int("layers_per_block", layers_per_block, 1, kMaxConfigRepeats);
  downsample_padding = config.get_int("downsample_padding", downsample_padding, 0, 8);
  mid_block_scale_factor =
      config.get_number("mid_block_scale_factor", mid_block_scale_factor, 1e-6, 1e6);
  norm_num_groups = config.get_int("norm_num_groups", norm_num_groups, 1, kMaxConfigChannels);
  norm_eps = config.get_number("norm_eps", norm_eps, 1e-12, 1.0);
  resnet_time_scale_shift =
      config.get<std::string>("resnet_time_scale_shift", resnet_time_scale_shift);
  if (resnet_time_scale_shift != "default" && resnet_time_scale_shift != "scale_shift") {
    config.fail(
        "resnet_time_scale_shift",
        "= \"" + resnet_time_scale_shift + "\" is not supported (\"default\" or \"scale_shift\")");
  }
  use_linear_projection = config.get<bool>("use_linear_projection", use_linear_projection);
  upcast_attention = config.get<bool>("upcast_attention", upcast_attention);
  flip_sin_to_cos = config.get<bool>("flip_sin_to_cos", flip_sin_to_cos);
  freq_shift = config.get_number("freq_shift", freq_shift, -1e6, 1e6);
  center_input_sample = config.get<bool>("center_input_sample", center_input_sample);
  class_embed_type = config.get<std::string>("class_embed_type", "");
  if (!class_embed_type.empty()) {
    config.require<int64_t>("projection_class_embeddings_input_dim");
    projection_class_embeddings_input_dim =
        config.get_int("projection_class_embeddings_input_dim", 0, 1, kMaxConfigChannels);
  }

  const size_t blocks = down_block_types.size();
  for (const auto& type : down_block_types) {
    if (type != "CrossAttnDownBlock2D" && type != "DownBlock2D") {
      config.fail(
          "down_block_types",
          fmt::format("contains \"{}\"; supported: CrossAttnDownBlock2D, DownBlock2D", type));
    }
  }
  for (const auto& type : up_block_types) {
    if (type != "CrossAttnUpBlock2D" && type != "UpBlock2D") {
      config.fail("up_block_types",
                  fmt::format("contains \"{}\"; supported: CrossAttnUpBlock2D, UpBlock2D", type));
    }
  }
  if (mid_block_type != "UNetMidBlock2DCrossAttn") {
    config.fail("mid_block_type", fmt::format("= \"{}\" is not supported (only "
                                              "UNetMidBlock2DCrossAttn)",
                                              mid_block_type));
  }
  if (blocks > 8) {
    config.fail("down_block_types", fmt::format("has {} blocks; at most 8 are supported", blocks));
  }
  if (up_block_types.size() != blocks || block_out_channels.size() != blocks || blocks == 0) {
    config.fail("up_block_types",
                fmt::format("has {} entries; down_block_types has {} and block_out_channels {}",
                            up_block_types.size(), blocks, block_out_channels.size()));
  }
  for (int64_t channels : block_out_channels) {
    if (channels % norm_num_groups != 0) {
      config.fail("block_out_channels", fmt::format("entry {} does not divide into "
                                                    "norm_num_groups = {}",
                                                    channels, norm_num_groups));
    }
  }
  cross_attention_dim = per_block(config, "cross_attention_dim", blocks, 1280, kMaxConfigChannels);
  // SD 1.x configs name the head count "attention_head_dim" (a diffusers naming quirk that
  // diffusers keeps for compatibility): num_attention_heads wins when given.
  heads = config.has("num_attention_heads")
              ? per_block(config, "num_attention_heads", blocks, 8, kMaxConfigChannels)
              : per_block(config, "attention_head_dim", blocks, 8, kMaxConfigChannels);
  transformer_layers =
      per_block(config, "transformer_layers_per_block", blocks, 1, kMaxConfigRepeats);
  for (size_t i = 0; i < blocks; ++i) {
    if (heads[i] <= 0 || block_out_channels[i] % heads[i] != 0) {
      config.fail(config.has("num_attention_heads") ? "num_attention_heads" : "attention_head_dim",
                  fmt::format("gives {} heads for block {} of {} channels (must divide)", heads[i],
                              i, block_out_channels[i]));
    }
  }
}

UNetImpl::UNetImpl(const UNetConfig& config) : config_(config) {
  const auto& c = config_;
  const int64_t c0 = c.block_out_channels.front();
  const int64_t temb = c0 * 4;
  const size_t blocks = c.block_out_channels.size();
  conv_in = register_module(
      "conv_in", torch::nn::Conv2d(torch::nn::Conv2dOptions(c.in_channels, c0, 3).padding(1)));
  auto time_embedding = register_module("time_embedding", std::make_shared<torch::nn::Module>());
  time_linear_1 = time_embedding->register_module("linear_1", torch::nn::Linear(c0, temb));
  time_linear_2 = time_embedding->register_module("linear_2", torch::nn::Linear(temb, temb));
  if (c.class_embed_type == "projection") {
    auto class_embedding =
        register_module("class_embedding", std::make_shared<torch::nn::Module>());
    class_linear_1 = class_embedding->register_module(
        "linear_1", torch::nn::Linear(c.projection_class_embeddings_input_dim, temb));
    class_linear_2 = class_embedding->register_module("linear_2", torch::nn::Linear(temb, temb));
  }

  down_blocks = register_module("down_blocks", torch::nn::ModuleList());
  int64_t channels = c0;
  for (size_t i = 0; i < blocks; ++i) {
    const int64_t out = c.block_out_channels[i];
    down_blocks->push_back(DownBlock(c.down_block_types[i] == "CrossAttnDownBlock2D", channels, out,
                                     temb, c.layers_per_block, c, i, i + 1 < blocks));
    channels = out;
  }
  mid_block = register_module("mid_block", MidBlock(channels, temb, c).ptr());

  // Up block i mirrors down block (blocks - 1 - i); its per-block settings are reversed.
  UNetConfig reversed = c;
  std::reverse(reversed.heads.begin(), reversed.heads.end());
  std::reverse(reversed.cross_attention_dim.begin(), reversed.cross_attention_dim.end());
  std::reverse(reversed.transformer_layers.begin(), reversed.transformer_layers.end());
  up_blocks = register_module("up_blocks", torch::nn::ModuleList());
  int64_t prev_out = c.block_out_channels.back();
  for (size_t i = 0; i < blocks; ++i) {
    const int64_t out = c.block_out_channels[blocks - 1 - i];
    const int64_t in = c.block_out_channels[blocks - 1 - std::min(i + 1, blocks - 1)];
    up_blocks->push_back(UpBlock(c.up_block_types[i] == "CrossAttnUpBlock2D", in, prev_out, out,
                                 temb, c.layers_per_block + 1, reversed, i, i + 1 < blocks));
    prev_out = out;
  }
  conv_norm_out = register_module(
      "conv_norm_out",
      torch::nn::GroupNorm(torch::nn::GroupNormOptions(c.norm_num_groups, c0).eps(c.norm_eps)));
  conv_out = register_module(
      "conv_out", torch::nn::Conv2d(torch::nn::Conv2dOptions(c0, c.out_channels, 3).padding(1)));
}

torch::Tensor UNetImpl::forward(const torch::Tensor& sample, const torch::Tensor& timesteps,
                                const torch::Tensor& context, const torch::Tensor& class_labels) {
  MDLAB_CHECK(sample.dim() == 4 && sample.size(1) == config_.in_channels,
              "UNet: sample must be [N, {}, h, w], got {}", config_.in_channels, sample.sizes());
  MDLAB_CHECK(context.dim() == 3 && context.size(0) == sample.size(0),
              "UNet: encoder_hidden_states must be [N={}, L, C], got {}", sample.size(0),
              context.sizes());
  const auto dtype = conv_in->weight.scalar_type();
  auto t = timesteps.dim() == 0 ? timesteps.reshape({1}) : timesteps;
  t = t.to(sample.device()).expand({sample.size(0)});
  auto features = timestep_features(t, config_.block_out_channels.front(), config_.flip_sin_to_cos,
                                    config_.freq_shift);
  auto temb = time_linear_2(F::silu(time_linear_1(features.to(dtype))));
  if (class_linear_1) {
    MDLAB_CHECK(class_labels.defined() && class_labels.dim() == 2 &&
                    class_labels.size(0) == sample.size(0) &&
                    class_labels.size(1) == config_.projection_class_embeddings_input_dim,
                "UNet: class_labels must be [N={}, {}] (class_embed_type \"projection\"), got {}",
                sample.size(0), config_.projection_class_embeddings_input_dim,
                class_labels.defined() ? c10::str(class_labels.sizes()) : "none");
    temb = temb + class_linear_2(F::silu(class_linear_1(class_labels.to(dtype))));
  } else {
    MDLAB_CHECK(!class_labels.defined(),
                "UNet: class_labels given to a UNet without class_embed_type");
  }

  auto x = sample.to(dtype);
  if (config_.center_input_sample) x = 2 * x - 1.0;
  auto ctx = context.to(dtype);
  x = conv_in(x);
  std::vector<torch::Tensor> skips{x};
  for (const auto& block : *down_blocks) {
    x = block->as<DownBlockImpl>()->forward(x, temb, ctx, skips);
  }
  x = mid_block->as<MidBlockImpl>()->forward(x, temb, ctx);
  for (const auto& block : *up_blocks) {
    x = block->as<UpBlockImpl>()->forward(x, temb, ctx, skips);
  }
  return conv_out(F::silu(conv_norm_out(x)));
}

Json unet_config_json(const UNetConfig& c) {
  Json j = {{"_class_name", "UNet2DConditionModel"},
            {"in_channels", c.in_channels},
            {"out_channels", c.out_channels},
            {"sample_size", c.sample_size},
            {"down_block_types", c.down_block_types},
            {"mid_block_type", c.mid_block_type},
            {"up_block_types", c.up_block_types},
            {"block_out_channels", c.block_out_channels},
            {"layers_per_block", c.layers_per_block},
            {"downsample_padding", c.downsample_padding},
            {"mid_block_scale_factor", c.mid_block_scale_factor},
            {"norm_num_groups", c.norm_num_groups},
            {"norm_eps", c.norm_eps},
            {"resnet_time_scale_shift", c.resnet_time_scale_shift},
            {"cross_attention_dim", c.cross_attention_dim},
            // The head count under SD 1.x's name: diffusers refuses num_attention_heads.
            {"attention_head_dim", c.heads},
            {"transformer_layers_per_block", c.transformer_layers},
            {"use_linear_projection", c.use_linear_projection},
            {"upcast_attention", c.upcast_attention},
            {"flip_sin_to_cos", c.flip_sin_to_cos},
            {"freq_shift", c.freq_shift},
            {"center_input_sample", c.center_input_sample},
            {"act_fn", "silu"}};
  if (!c.class_embed_type.empty()) {
    j["class_embed_type"] = c.class_embed_type;
    j["projection_class_embeddings_input_dim"] = c.projection_class_embeddings_input_dim;
  } else {
    j["class_embed_type"] = nullptr;
  }
  return j;
}

UNet load_unet(const std::filesystem::path& dir, torch::Device device, torch::ScalarType dtype) {
  UNetConfig config(JsonConfig(dir / "config.json"));
  UNet unet(config);
  unet->to(device, dtype);
  load_component_weights(*unet, dir);
  unet->eval();
  return unet;
}

}  // namespace mdlab::diffusion
