// AutoencoderKL: encoder and decoder towers with diffusers' names and arithmetic.
#include "vae.h"

#include "layers.h"

#include <mdlab/error.h>

#include <fmt/format.h>
#include <torch/nn/functional.h>
#include <torch/nn/modules/container/modulelist.h>
#include <torch/nn/modules/normalization.h>

namespace F = torch::nn::functional;

namespace mdlab::diffusion {

namespace {

// The VAE's resnets and attention use eps 1e-6 (fixed in diffusers' Encoder/Decoder).
constexpr double kEps = 1e-6;

torch::nn::Conv2d conv3(int64_t in, int64_t out) {
  return torch::nn::Conv2d(torch::nn::Conv2dOptions(in, out, 3).padding(1));
}

torch::nn::GroupNorm norm(int64_t groups, int64_t channels) {
  return torch::nn::GroupNorm(torch::nn::GroupNormOptions(groups, channels).eps(kEps));
}

// UNetMidBlock2D without time embedding: resnet, self-attention, resnet.
class VaeMidBlockImpl : public torch::nn::Module {
 public:
  VaeMidBlockImpl(int64_t channels, int64_t groups) {
    resnets = register_module("resnets", torch::nn::ModuleList());
    attentions = register_module("attentions", torch::nn::ModuleList());
    resnets->push_back(ResnetBlock2D(channels, channels, 0, groups, kEps));
    attentions->push_back(SpatialSelfAttention(channels, groups, kEps));
    resnets->push_back(ResnetBlock2D(channels, channels, 0, groups, kEps));
  }
  torch::Tensor forward(torch::Tensor x) {
    x = resnets[0]->as<ResnetBlock2DImpl>()->forward(x);
    x = attentions[0]->as<SpatialSelfAttentionImpl>()->forward(x);
    return resnets[1]->as<ResnetBlock2DImpl>()->forward(x);
  }

 private:
  torch::nn::ModuleList resnets{nullptr}, attentions{nullptr};
};
TORCH_MODULE(VaeMidBlock);

// DownEncoderBlock2D / UpDecoderBlock2D: resnets, then an optional resampler.
class VaeLevelImpl : public torch::nn::Module {
 public:
  VaeLevelImpl(int64_t in, int64_t out, int64_t layers, int64_t groups, int resample) {
    resnets = register_module("resnets", torch::nn::ModuleList());
    for (int64_t i = 0; i < layers; ++i) {
      resnets->push_back(ResnetBlock2D(i == 0 ? in : out, out, 0, groups, kEps));
    }
    if (resample < 0) {
      auto list = register_module("downsamplers", torch::nn::ModuleList());
      down = Downsample2D(out, 0);
      list->push_back(down);
    } else if (resample > 0) {
      auto list = register_module("upsamplers", torch::nn::ModuleList());
      up = Upsample2D(out);
      list->push_back(up);
    }
  }
  torch::Tensor forward(torch::Tensor x) {
    for (const auto& resnet : *resnets) x = resnet->as<ResnetBlock2DImpl>()->forward(x);
    if (down) x = down(x);
    if (up) x = up(x);
    return x;
  }

 private:
  torch::nn::ModuleList resnets{nullptr};
  Downsample2D down{nullptr};
  Upsample2D up{nullptr};
};
TORCH_MODULE(VaeLevel);

class EncoderImpl : public torch::nn::Module {
 public:
  explicit EncoderImpl(const VaeConfig& c) {
    const auto& ch = c.block_out_channels;
    conv_in = register_module("conv_in", conv3(c.in_channels, ch.front()));
    down_blocks = register_module("down_blocks", torch::nn::ModuleList());
    int64_t in = ch.front();
    for (size_t i = 0; i < ch.size(); ++i) {
      const bool last = i + 1 == ch.size();
      down_blocks->push_back(
          VaeLevel(in, ch[i], c.layers_per_block, c.norm_num_groups, last ? 0 : -1));
      in = ch[i];
    }
    mid_block = register_module("mid_block", VaeMidBlock(ch.back(), c.norm_num_groups));
    conv_norm_out = register_module("conv_norm_out", norm(c.norm_num_groups, ch.back()));
    conv_out = register_module("conv_out", conv3(ch.back(), 2 * c.latent_channels));
  }
  torch::Tensor forward(torch::Tensor x) {
    x = conv_in(x);
    for (const auto& block : *down_blocks) x = block->as<VaeLevelImpl>()->forward(x);
    x = mid_block(x);
    return conv_out(F::silu(conv_norm_out(x)));
  }

 private:
  torch::nn::Conv2d conv_in{nullptr}, conv_out{nullptr};
  torch::nn::ModuleList down_blocks{nullptr};
  VaeMidBlock mid_block{nullptr};
  torch::nn::GroupNorm conv_norm_out{nullptr};
};
TORCH_MODULE(Encoder);

class DecoderImpl : public torch::nn::Module {
 public:
  explicit DecoderImpl(const VaeConfig& c) {
    const auto& ch = c.block_out_channels;
    conv_in = register_module("conv_in", conv3(c.latent_channels, ch.back()));
    mid_block = register_module("mid_block", VaeMidBlock(ch.back(), c.norm_num_groups));
    up_blocks = register_module("up_blocks", torch::nn::ModuleList());
    int64_t in = ch.back();
    for (size_t i = 0; i < ch.size(); ++i) {
      const int64_t out = ch[ch.size() - 1 - i];
      const bool last = i + 1 == ch.size();
      up_blocks->push_back(
          VaeLevel(in, out, c.layers_per_block + 1, c.norm_num_groups, last ? 0 : 1));
      in = out;
    }
    conv_norm_out = register_module("conv_norm_out", norm(c.norm_num_groups, ch.front()));
    conv_out = register_module("conv_out", conv3(ch.front(), c.out_channels));
  }
  torch::Tensor forward(torch::Tensor z) {
    auto x = mid_block(conv_in(z));
    for (const auto& block : *up_blocks) x = block->as<VaeLevelImpl>()->forward(x);
    return conv_out(F::silu(conv_norm_out(x)));
  }

 private:
  torch::nn::Conv2d conv_in{nullptr}, conv_out{nullptr};
  torch::nn::ModuleList up_blocks{nullptr};
  VaeMidBlock mid_block{nullptr};
  torch::nn::GroupNorm conv_norm_out{nullptr};
};
TORCH_MODULE(Decoder);

}  // namespace

VaeConfig::VaeConfig(const JsonConfig& config) {
  const auto cls = config.get<std::string>("_class_name", "AutoencoderKL");
  if (cls != "AutoencoderKL") {
    config.fail("_class_name", fmt::format("= \"{}\" is not an AutoencoderKL", cls));
  }
  in_channels = config.get_int("in_channels", in_channels, 1, kMaxConfigChannels);
  out_channels = config.get_int("out_channels", out_channels, 1, kMaxConfigChannels);
  latent_channels = config.get_int("latent_channels", latent_channels, 1, kMaxConfigChannels);
  block_out_channels = config.get_ints("block_out_channels", {64}, 1, kMaxConfigChannels);
  layers_per_block = config.get_int("layers_per_block", layers_per_block, 1, kMaxConfigRepeats);
  norm_num_groups = config.get_int("norm_num_groups", norm_num_groups, 1, kMaxConfigChannels);
  // 0 would decode every latent to the same (black) image; SD uses 0.18215.
  scaling_factor = config.get_number("scaling_factor", scaling_factor, 1e-6, 1e6);
  force_upcast = config.get<bool>("force_upcast", force_upcast);
  if (config.has("act_fn") && config.require<std::string>("act_fn") != "silu") {
    config.fail("act_fn", "= " + config.raw("act_fn").dump() + " is not supported (only \"silu\")");
  }
  const size_t levels = block_out_channels.size();
  if (levels == 0 || levels > 8) {
    config.fail("block_out_channels", fmt::format("has {} levels; 1 to 8 are supported", levels));
  }
  auto check_types = [&](const char* key, const char* wanted) {
    auto types =
        config.get<std::vector<std::string>>(key, std::vector<std::string>(levels, wanted));
    if (types.size() != levels) {
      config.fail(key,
                  fmt::format("has {} entries for {} block_out_channels", types.size(), levels));
    }
    for (const auto& type : types) {
      if (type != wanted)
        config.fail(key, fmt::format("contains \"{}\"; supported: {}", type, wanted));
    }
  };
  check_types("down_block_types", "DownEncoderBlock2D");
  check_types("up_block_types", "UpDecoderBlock2D");
  for (int64_t channels : block_out_channels) {
    if (channels % norm_num_groups != 0) {
      config.fail("block_out_channels", fmt::format("entry {} does not divide into "
                                                    "norm_num_groups = {}",
                                                    channels, norm_num_groups));
    }
  }
}

VaeImpl::VaeImpl(const VaeConfig& config) : config_(config) {
  encoder = register_module("encoder", Encoder(config_).ptr());
  decoder = register_module("decoder", Decoder(config_).ptr());
  const int64_t z = config_.latent_channels;
  quant_conv = register_module("quant_conv", torch::nn::Conv2d(2 * z, 2 * z, 1));
  post_quant_conv = register_module("post_quant_conv", torch::nn::Conv2d(z, z, 1));
}

std::pair<torch::Tensor, torch::Tensor> VaeImpl::encode(const torch::Tensor& images) {
  const auto dtype = quant_conv->weight.scalar_type();
  auto moments = quant_conv(encoder->as<EncoderImpl>()->forward(images.to(dtype)));
  auto parts = moments.chunk(2, 1);
  return {parts[0], parts[1].clamp(-30.0, 20.0)};
}

torch::Tensor VaeImpl::decode(const torch::Tensor& latents) {
  const auto dtype = post_quant_conv->weight.scalar_type();
  return decoder->as<DecoderImpl>()->forward(post_quant_conv(latents.to(dtype)));
}

std::string vae_current_name(const std::string& name) {
  static const std::pair<const char*, const char*> renames[] = {{".query.", ".to_q."},
                                                                {".key.", ".to_k."},
                                                                {".value.", ".to_v."},
                                                                {".proj_attn.", ".to_out.0."}};
  for (const auto& [old_part, new_part] : renames) {
    const auto at = name.find(old_part);
    if (at != std::string::npos && name.find(".attentions.") != std::string::npos) {
      return name.substr(0, at) + new_part + name.substr(at + std::strlen(old_part));
    }
  }
  return name;
}

Vae load_vae(const std::filesystem::path& dir, torch::Device device, torch::ScalarType dtype) {
  VaeConfig config(JsonConfig(dir / "config.json"));
  Vae vae(config);
  vae->to(device, dtype);
  load_component_weights(*vae, dir, vae_current_name);
  vae->eval();
  return vae;
}

}  // namespace mdlab::diffusion
