// Diffusion autoencoders: the denoiser's config, the training noise, the encoder folder and
// the variation pipeline (see diffae.h).
#include "diffae.h"

#include "image_fit.h"

#include <mdlab/error.h>
#include <mdlab/state_dict.h>

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <torch/torch.h>

namespace mdlab::diffusion {

UNetConfig diffae_unet_config(const DiffaeDenoiserSpec& spec) {
  const size_t levels = spec.block_out_channels.size();
  MDLAB_CHECK(levels >= 1, "diffae: block_out_channels is empty");
  MDLAB_CHECK(spec.attention.size() == levels,
              "diffae: attention has {} entries for {} levels (block_out_channels {})",
              spec.attention.size(), levels, spec.block_out_channels);
  MDLAB_CHECK(spec.channels == 1 || spec.channels == 3, "diffae: channels must be 1 or 3, got {}",
              spec.channels);
  MDLAB_CHECK(spec.code_dim > 0, "diffae: code width {} must be positive", spec.code_dim);
  for (int64_t c : spec.block_out_channels) {
    MDLAB_CHECK(c > 0 && c % spec.norm_num_groups == 0 && c % spec.heads == 0,
                "diffae: block_out_channels entry {} must divide into norm_num_groups = {} and "
                "heads = {}",
                c, spec.norm_num_groups, spec.heads);
  }
  UNetConfig c;
  c.in_channels = c.out_channels = spec.channels;
  c.sample_size = spec.image_size;
  c.block_out_channels = spec.block_out_channels;
  c.layers_per_block = spec.layers_per_block;
  c.norm_num_groups = spec.norm_num_groups;
  c.resnet_time_scale_shift = spec.resnet_time_scale_shift;
  c.down_block_types.clear();
  c.up_block_types.clear();
  for (size_t i = 0; i < levels; ++i) {
    c.down_block_types.push_back(spec.attention[i] ? "CrossAttnDownBlock2D" : "DownBlock2D");
    // Up block i mirrors down block levels - 1 - i.
    c.up_block_types.push_back(spec.attention[levels - 1 - i] ? "CrossAttnUpBlock2D" : "UpBlock2D");
  }
  c.cross_attention_dim.assign(levels, spec.code_dim);
  c.heads.assign(levels, spec.heads);
  c.transformer_layers.assign(levels, 1);
  c.class_embed_type = "projection";
  c.projection_class_embeddings_input_dim = spec.code_dim;
  return c;
}

Json diffae_scheduler_json(const DiffaeNoiseSpec& spec) {
  // clip_sample keeps DDIM's predicted x0 in the data's [-1, 1] range.
  return Json{{"_class_name", "DDIMScheduler"},
              {"num_train_timesteps", spec.num_train_timesteps},
              {"beta_schedule", spec.beta_schedule},
              {"beta_start", spec.beta_start},
              {"beta_end", spec.beta_end},
              {"prediction_type", spec.prediction_type},
              {"clip_sample", true},
              {"clip_sample_range", 1.0},
              {"set_alpha_to_one", true},
              {"steps_offset", 0},
              {"timestep_spacing", "trailing"}};
}

NoisedSample add_training_noise(const NoiseSchedule& schedule, const torch::Tensor& x0,
                                const torch::Tensor& noise, const torch::Tensor& timesteps) {
  MDLAB_CHECK(
      x0.sizes() == noise.sizes() && timesteps.dim() == 1 && timesteps.size(0) == x0.size(0),
      "diffae: x0 {}, noise {} and timesteps {} do not fit", x0.sizes(), noise.sizes(),
      timesteps.sizes());
  std::vector<int64_t> shape(static_cast<size_t>(x0.dim()), 1);
  shape[0] = x0.size(0);
  const auto a = schedule.alphas_cumprod.to(x0.device()).index_select(0, timesteps).view(shape);
  const auto sa = a.sqrt().to(x0.scalar_type()), s1a = (1 - a).sqrt().to(x0.scalar_type());
  NoisedSample out;
  out.noisy = sa * x0 + s1a * noise;
  if (schedule.prediction_type == "epsilon") {
    out.target = noise;
  } else if (schedule.prediction_type == "v_prediction") {
    out.target = sa * noise - s1a * x0;
  } else {
    out.target = x0;
  }
  return out;
}

EncoderConfig EncoderConfig::read(const JsonConfig& config) {
  EncoderConfig c;
  c.plugin = config.require<std::string>("plugin");
  c.options = options_from_json(config, "options");
  c.channels = config.require<int64_t>("channels");
  if (c.channels != 1 && c.channels != 3) config.fail("channels", "must be 1 or 3");
  c.image_size = config.require<int64_t>("image_size");
  if (c.image_size < 1 || c.image_size > 4096) config.fail("image_size", "must be in [1, 4096]");
  c.feature_dim = config.require<int64_t>("feature_dim");
  if (c.feature_dim < 1) config.fail("feature_dim", "must be positive");
  c.mean = config.require<std::vector<double>>("mean");
  c.stddev = config.require<std::vector<double>>("std");
  auto check_size = [&](const std::vector<double>& v, const char* key) {
    if (v.size() != 1 && static_cast<int64_t>(v.size()) != c.channels) {
      config.fail(key, fmt::format("has {} values for {} channels", v.size(), c.channels));
    }
  };
  check_size(c.mean, "mean");
  check_size(c.stddev, "std");
  for (double s : c.stddev) {
    if (!(s > 0)) config.fail("std", "values must be positive");
  }
  return c;
}

Json EncoderConfig::to_json() const {
  return Json{{"_class_name", "mdlab.Backbone"},
              {"plugin", plugin},
              {"options", options_to_json(options)},
              {"channels", channels},
              {"image_size", image_size},
              {"feature_dim", feature_dim},
              {"mean", mean},
              {"std", stddev}};
}

Json options_to_json(const Options& options) {
  Json out = Json::object();
  for (const auto& [key, value] : options.values()) {
    std::visit([&, k = key](const auto& v) { out[k] = v; }, value);
  }
  return out;
}

Options options_from_json(const JsonConfig& config, std::string_view key) {
  const Json& table = config.raw(key);
  if (!table.is_object()) config.fail(key, "must be an object of option values");
  Options out;
  for (const auto& [name, v] : table.items()) {
    auto bad = [&] {
      config.fail(key, fmt::format("entry \"{}\" = {} is not an option value", name, v.dump()));
    };
    if (v.is_boolean()) {
      out.set(name, v.get<bool>());
    } else if (v.is_number_integer()) {
      out.set(name, v.get<int64_t>());
    } else if (v.is_number_float()) {
      out.set(name, v.get<double>());
    } else if (v.is_string()) {
      out.set(name, v.get<std::string>());
    } else if (v.is_array()) {
      bool ints = true, numbers = true, strings = true;
      for (const auto& item : v) {
        ints = ints && item.is_number_integer();
        numbers = numbers && item.is_number();
        strings = strings && item.is_string();
      }
      if (ints) {
        out.set(name, v.get<std::vector<int64_t>>());
      } else if (numbers) {
        out.set(name, v.get<std::vector<double>>());
      } else if (strings) {
        out.set(name, v.get<std::vector<std::string>>());
      } else {
        bad();
      }
    } else {
      bad();
    }
  }
  return out;
}

namespace {

void check_folder_class(const ModelFolder& folder) {
  MDLAB_CHECK(folder.pipeline_class() == kDiffaePipelineClass,
              "{}: model_index.json names the pipeline class \"{}\"; the diffae_variations "
              "generator reads {} folders (written by `mdlab export-model` from a diffae run)",
              (folder.root() / "model_index.json").string(), folder.pipeline_class(),
              kDiffaePipelineClass);
}

// One channel value or one per channel, as a [1, C, 1, 1] tensor.
torch::Tensor per_channel(const std::vector<double>& v, int64_t channels) {
  auto t = torch::tensor(v, torch::kFloat);
  if (t.size(0) == 1) t = t.expand({channels});
  return t.view({1, channels, 1, 1});
}

}  // namespace

EncoderConfig DiffaePipeline::encoder_config(const std::filesystem::path& root) {
  ModelFolder folder(root);
  check_folder_class(folder);
  return EncoderConfig::read(folder.component_config("encoder", "config.json"));
}

DiffaePipeline::DiffaePipeline(const std::filesystem::path& root, std::shared_ptr<Backbone> encoder,
                               const DiffaeSettings& settings)
    : settings_(settings), encoder_(std::move(encoder)) {
  MDLAB_CHECK(!(settings_.device.is_cpu() && settings_.dtype == torch::kHalf),
              "dtype fp16 needs a CUDA device; use fp32 or bf16 on the CPU");
  MDLAB_CHECK(settings_.steps >= 1, "steps must be at least 1, got {}", settings_.steps);
  MDLAB_CHECK(encoder_ != nullptr, "diffae: no encoder");
  ModelFolder folder(root);
  check_folder_class(folder);
  const JsonConfig encoder_json = folder.component_config("encoder", "config.json");
  encoder_config_ = EncoderConfig::read(encoder_json);
  MDLAB_CHECK(encoder_->feature_dim() == encoder_config_.feature_dim,
              "{}: feature_dim = {} but the '{}' backbone built from these options has features "
              "of width {}",
              encoder_json.path().string(), encoder_config_.feature_dim, encoder_config_.plugin,
              encoder_->feature_dim());
  const JsonConfig unet_json = folder.component_config("unet", "config.json");
  unet_ = load_unet(folder.component("unet"), settings_.device, settings_.dtype);
  const auto& u = unet_->config();
  if (u.class_embed_type != "projection" ||
      u.projection_class_embeddings_input_dim != encoder_config_.feature_dim) {
    unet_json.fail("projection_class_embeddings_input_dim",
                   fmt::format("must equal the encoder's feature_dim {} (class_embed_type "
                               "\"projection\")",
                               encoder_config_.feature_dim));
  }
  for (int64_t d : u.cross_attention_dim) {
    if (d != encoder_config_.feature_dim) {
      unet_json.fail("cross_attention_dim",
                     fmt::format("= {} but the encoder's codes have width {}", d,
                                 encoder_config_.feature_dim));
    }
  }
  if (u.in_channels != encoder_config_.channels || u.out_channels != encoder_config_.channels) {
    unet_json.fail("in_channels",
                   fmt::format("= {} (out_channels {}) but the images have {} "
                               "channels (encoder/config.json)",
                               u.in_channels, u.out_channels, encoder_config_.channels));
  }
  SchedulerOptions scheduler_options;
  scheduler_options.eta = settings_.eta;
  scheduler_ = make_scheduler(folder.component_config("scheduler", "scheduler_config.json"),
                              settings_.scheduler, scheduler_options);
  first_step_ = first_step_for_strength(settings_.steps, settings_.strength);
  if (first_step_ > 0) {
    // Fails now, not at the first batch, for a scheduler that cannot start part-way.
    scheduler_->set_timesteps(settings_.steps);
    scheduler_->add_noise(torch::zeros({1}), torch::zeros({1}), first_step_);
  }
  encoder_->to(settings_.device, settings_.dtype);
  encoder_->eval();
}

torch::Tensor DiffaePipeline::preprocess(const std::vector<torch::Tensor>& images) const {
  const int64_t size = encoder_config_.image_size;
  std::vector<torch::Tensor> out;
  out.reserve(images.size());
  for (const auto& image : images) {
    MDLAB_CHECK(image.dim() == 3 && image.size(0) == 3 && image.scalar_type() == torch::kUInt8,
                "images must be uint8 [3, H, W] RGB, got {} {}", c10::toString(image.scalar_type()),
                image.sizes());
    torch::Tensor x = image;
    if (encoder_config_.channels == 1) {
      // PIL's convert("L"), as the data pipeline makes gray images.
      auto rgb = image.to(torch::kInt32);
      x = torch::div(rgb[0] * 19595 + rgb[1] * 38470 + rgb[2] * 7471 + 0x8000, 65536, "floor")
              .unsqueeze(0);
    }
    out.push_back(fit_image(x.to(torch::kFloat), size, size) / 255.0);
  }
  return torch::stack(out);
}

torch::Tensor DiffaePipeline::encode(const torch::Tensor& unit_images) {
  torch::NoGradGuard no_grad;
  const int64_t c = encoder_config_.channels;
  auto x =
      (unit_images - per_channel(encoder_config_.mean, c)) / per_channel(encoder_config_.stddev, c);
  return encoder_->forward(x.to(settings_.device, settings_.dtype)).to(torch::kFloat);
}

torch::Tensor DiffaePipeline::sample(const torch::Tensor& codes, BatchNoise& noise,
                                     const torch::Tensor& sources,
                                     const std::function<void(const StepRecord&)>& observe) {
  const int64_t n = codes.size(0), s = encoder_config_.image_size;
  const auto drawn = noise.draw({n, encoder_config_.channels, s, s});
  scheduler_->set_timesteps(settings_.steps);
  const auto start = start_sample(*scheduler_, drawn, sources, first_step_);
  const Conditioning cond{codes.unsqueeze(1), codes};
  const auto zeros = torch::zeros_like(codes);
  const Conditioning uncond{zeros.unsqueeze(1), zeros};
  const SamplingSettings run{settings_.guidance_scale, settings_.steps, settings_.dtype,
                             settings_.device, first_step_};
  return guided_denoise(*unet_, *scheduler_, cond, uncond, start, noise, run, observe);
}

torch::Tensor DiffaePipeline::to_uint8(const torch::Tensor& samples) {
  // NaN would become 0 in uint8: a black image recorded as generated.
  MDLAB_CHECK(torch::isfinite(samples).all().item<bool>(),
              "the denoised images hold NaN or infinite values: the model's weights or config "
              "are degenerate (or fp16 overflowed; try dtype = \"fp32\" or \"bf16\")");
  auto unit = (samples.to(torch::kFloat) / 2 + 0.5).clamp(0, 1);
  auto bytes = (unit * 255).round().to(torch::kUInt8).cpu();
  return bytes.size(1) == 1 ? bytes.expand({-1, 3, -1, -1}).contiguous() : bytes;
}

torch::Tensor DiffaePipeline::generate(const std::vector<torch::Tensor>& images,
                                       const NoiseSource& noise) {
  const auto n = static_cast<int64_t>(images.size());
  MDLAB_CHECK(n > 0, "generate() needs at least one image");
  BatchNoise batch_noise(noise, n);
  const auto unit = preprocess(images);
  const auto codes = encode(unit);
  return to_uint8(sample(codes, batch_noise, first_step_ > 0 ? unit * 2 - 1 : torch::Tensor()));
}

}  // namespace mdlab::diffusion
