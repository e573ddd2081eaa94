#include "diffae_method.h"

#include <mdlab/collectives.h>
#include <mdlab/error.h>
#include <mdlab/safetensors.h>
#include <mdlab/state_dict.h>
#include <mdlab/version.h>

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <torch/torch.h>

#include <fstream>

namespace fs = std::filesystem;

namespace mdlab::diffae {

namespace {

void write_json(const fs::path& path, const diffusion::Json& json) {
  std::ofstream out(path);
  out << json.dump(2) << "\n";
  MDLAB_CHECK(out.good(), "{}: cannot write", path.string());
}

// Copies `src` into `dst` (same architecture, same order of tensors), without autograd.
void copy_tensors(const std::vector<torch::Tensor>& src, const std::vector<torch::Tensor>& dst) {
  torch::NoGradGuard no_grad;
  for (size_t i = 0; i < src.size(); ++i) dst[i].copy_(src[i]);
}

}  // namespace

DiffaeMethod::DiffaeMethod(const mdlab::Options& options, mdlab::Context& context)
    : cond_dropout_(options.get_float("cond_dropout")),
      ema_decay_(options.get_float("ema_decay")),
      seed_(context.seed()),
      collectives_(&context.collectives()) {
  spec_.channels = options.get_int("channels");
  spec_.image_size = options.get_int("image_size");
  spec_.block_out_channels = options.get_int_list("block_out_channels");
  spec_.attention = options.get_int_list("attention");
  spec_.layers_per_block = options.get_int("layers_per_block");
  spec_.heads = options.get_int("heads");
  spec_.norm_num_groups = options.get_int("norm_num_groups");
  spec_.resnet_time_scale_shift = options.get_string("resnet_time_scale_shift");
  noise_spec_.num_train_timesteps = options.get_int("num_train_timesteps");
  noise_spec_.beta_schedule = options.get_string("beta_schedule");
  noise_spec_.beta_start = options.get_float("beta_start");
  noise_spec_.beta_end = options.get_float("beta_end");
  noise_spec_.prediction_type = options.get_string("prediction_type");
  MDLAB_CHECK(noise_spec_.beta_start < noise_spec_.beta_end,
              "diffae: beta_start {} must be below beta_end {}", noise_spec_.beta_start,
              noise_spec_.beta_end);
  schedule_.emplace(diffusion::JsonConfig(diffusion::diffae_scheduler_json(noise_spec_),
                                          "[method] diffae noise schedule"),
                    "ddim");
  // Checks the shape options before any training (the code width is known at attach()).
  spec_.code_dim = 1;
  diffusion::diffae_unet_config(spec_);
}

mdlab::OptionsSchema DiffaeMethod::options_schema() {
  mdlab::OptionsSchema s;
  s.add_int("channels", 3,
            "Image channels the model makes: 1 (gray) or 3 (RGB); must equal [data] channels")
      .one_of_ints({1, 3});
  s.add_int("image_size", 32,
            "Side of the training images and of the variations in pixels (the view size)")
      .range(8, 1024);
  s.add_int_list("block_out_channels", {64, 128, 256},
                 "UNet channels per resolution level (each level halves the size)")
      .range(8, 4096);
  s.add_int_list("attention", {0, 1, 1},
                 "Per level, 1: self- and cross-attention blocks after each ResNet block")
      .range(0, 1);
  s.add_int("layers_per_block", 1, "ResNet blocks per down level (one more per up level)")
      .range(1, 8);
  s.add_int("heads", 4, "Attention heads (must divide every level's channels)").range(1, 64);
  s.add_int("norm_num_groups", 32, "GroupNorm groups (must divide every level's channels)")
      .range(1, 256);
  s.add_string("resnet_time_scale_shift", "default",
               "How the code and time step reach each ResNet block: added to its features "
               "(\"default\") or as the scale and shift of its second GroupNorm "
               "(\"scale_shift\", the diffusion autoencoder's adaptive GroupNorm)")
      .one_of({"default", "scale_shift"});
  s.add_int("num_train_timesteps", 1000, "Diffusion steps T of training").range(2, 100000);
  s.add_string("beta_schedule", "linear", "Noise schedule (diffusers' names)")
      .one_of({"linear", "scaled_linear", "squaredcos_cap_v2"});
  s.add_float("beta_start", 1e-4, "First beta of the linear schedules").range(1e-8, 0.5);
  s.add_float("beta_end", 0.02, "Last beta of the linear schedules").range(1e-8, 0.999);
  s.add_string("prediction_type", "epsilon",
               "What the UNet predicts: the noise, v (Salimans & Ho) or the clean image")
      .one_of({"epsilon", "v_prediction", "sample"});
  s.add_float("cond_dropout", 0.1,
              "Probability of training a row with the zero code, which classifier-free "
              "guidance uses as the unconditional input")
      .range(0.0, 1.0);
  s.add_float("ema_decay", 0.999,
              "EMA of encoder and UNet weights exported for generation (0: no EMA); warmed up "
              "as min(decay, (1 + step) / (10 + step))")
      .range(0.0, 0.999999);
  return s;
}

std::vector<mdlab::ViewSlot> DiffaeMethod::view_slots() const {
  return {{"image", "", spec_.image_size, "flip"}};
}

void DiffaeMethod::attach(std::shared_ptr<mdlab::Backbone> backbone, mdlab::Context& context) {
  MDLAB_CHECK(backbone != nullptr, "diffae: attach() needs a backbone");
  MDLAB_CHECK(!backbone_, "diffae: attach() called twice");
  backbone_ = register_module("backbone", std::move(backbone));
  spec_.code_dim = backbone_->feature_dim();
  const auto config = diffusion::diffae_unet_config(spec_);
  const auto device = context.device();
  {
    // The UNet's initial weights from the method's own stream, not the global generator.
    auto generator = context.generator("diffae.unet");
    unet_ = diffusion::UNet(config);
    torch::NoGradGuard no_grad;
    for (auto& item : unet_->named_parameters()) {
      auto& p = item.value();
      if (p.dim() > 1) {
        // PyTorch's default bound for Linear and Conv weights, 1 / sqrt(fan_in).
        const double bound = 1.0 / std::sqrt(static_cast<double>(p[0].numel()));
        p.copy_(torch::rand(p.sizes(), generator) * (2 * bound) - bound);
      } else if (item.key().size() >= 4 &&
                 item.key().compare(item.key().size() - 4, 4, "bias") == 0) {
        p.zero_();  // norm weights keep their constant 1
      }
    }
  }
  unet_ = register_module("unet", unet_);
  unet_->to(device);
  if (ema_decay_ > 0) {
    ema_backbone_ = context.create_backbone();
    MDLAB_CHECK(ema_backbone_ != nullptr && ema_backbone_ != backbone_ &&
                    ema_backbone_->feature_dim() == backbone_->feature_dim(),
                "diffae: context.create_backbone() must return a new backbone of the same "
                "architecture for the EMA encoder");
    ema_backbone_ = register_module("ema_backbone", ema_backbone_);
    ema_unet_ = register_module("ema_unet", diffusion::UNet(config));
    ema_backbone_->to(device);
    ema_unet_->to(device);
    auto track = [&](torch::nn::Module& model, torch::nn::Module& ema) {
      auto src = model.parameters(), dst = ema.parameters();
      MDLAB_CHECK(src.size() == dst.size(), "diffae: EMA copy has {} parameters, the model {}",
                  dst.size(), src.size());
      copy_tensors(src, dst);
      for (auto& p : dst) p.set_requires_grad(false);
      params_.insert(params_.end(), src.begin(), src.end());
      ema_params_.insert(ema_params_.end(), dst.begin(), dst.end());
      auto bs = model.buffers(), bd = ema.buffers();
      MDLAB_CHECK(bs.size() == bd.size(), "diffae: EMA copy has {} buffers, the model {}",
                  bd.size(), bs.size());
      copy_tensors(bs, bd);
      buffers_.insert(buffers_.end(), bs.begin(), bs.end());
      ema_buffers_.insert(ema_buffers_.end(), bd.begin(), bd.end());
    };
    track(*backbone_, *ema_backbone_);
    track(*unet_, *ema_unet_);
    ema_backbone_->eval();
    ema_unet_->eval();
  }
  context.log(
      mdlab::LogLevel::Info,
      fmt::format(
          "diffae: UNet {} levels {} (attention {}), code width {}, {} "
          "parameters; {} schedule, T = {}, {} prediction",
          spec_.block_out_channels.size(), spec_.block_out_channels, spec_.attention,
          spec_.code_dim,
          [&] {
            int64_t n = 0;
            for (const auto& p : unet_->parameters()) n += p.numel();
            return n;
          }(),
          noise_spec_.beta_schedule, noise_spec_.num_train_timesteps, noise_spec_.prediction_type));
}

std::shared_ptr<mdlab::Backbone> DiffaeMethod::encoder() const {
  return ema_backbone_ ? ema_backbone_ : backbone_;
}

void DiffaeMethod::train(bool on) {
  mdlab::Method::train(on);
  if (ema_backbone_) ema_backbone_->eval();
  if (ema_unet_) ema_unet_->eval();
}

mdlab::LossOutput DiffaeMethod::compute_loss(const mdlab::Batch& batch,
                                             const mdlab::StepInfo& step) {
  MDLAB_CHECK(unet_, "diffae: used before attach()");
  MDLAB_CHECK(batch.views.size() == 1, "diffae: expects one view, got {}", batch.views.size());
  const auto& x0 = batch.views[0];
  MDLAB_CHECK(x0.dim() == 4 && x0.size(1) == spec_.channels,
              "diffae: images are [N, {}, H, W] (channels = {}), got {}; set [method] channels "
              "to [data] channels",
              spec_.channels, spec_.channels, x0.sizes());
  {
    const auto lo = x0.min().item<double>(), hi = x0.max().item<double>();
    MDLAB_CHECK(
        lo >= -1.0 - 1e-4 && hi <= 1.0 + 1e-4,
        "diffae: views range over [{:.3f}, {:.3f}]; the model's pixel space is [-1, 1]: "
        "set mean = [0.5] and std = [0.5] (one per channel) in [data.augment.all] (training) "
        "and [data.eval] (validation, evaluation)",
        lo, hi);
  }
  const int64_t n = x0.size(0);
  const auto device = x0.device();
  auto generator = mdlab::make_cpu_generator(mdlab::derive_seed(
      seed_, fmt::format("diffae.step.{}.rank.{}", step.step, collectives_->rank())));
  const auto timesteps =
      torch::randint(0, noise_spec_.num_train_timesteps, {n}, generator, torch::kLong);
  const auto noise = torch::randn(x0.sizes(), generator, torch::kFloat);
  const auto keep = (torch::rand({n, 1}, generator) >= cond_dropout_).to(torch::kFloat);

  auto z = backbone_->forward(x0);
  auto code = z * keep.to(device, z.scalar_type());
  auto t = timesteps.to(device);
  auto noised =
      diffusion::add_training_noise(*schedule_, x0, noise.to(device, x0.scalar_type()), t);
  auto prediction = unet_->forward(noised.noisy, t.to(torch::kFloat), code.unsqueeze(1), code);
  auto mse = torch::mse_loss(prediction.to(torch::kFloat), noised.target.to(torch::kFloat));
  mdlab::LossOutput out;
  out.loss = mse;
  out.terms = {{"mse", mse.detach()}};
  out.features = z.detach();
  return out;
}

void DiffaeMethod::after_optimizer_step(const mdlab::StepInfo& step) {
  if (ema_params_.empty()) return;
  const double s = static_cast<double>(step.step);
  const double d = std::min(ema_decay_, (1.0 + s) / (10.0 + s));
  torch::NoGradGuard no_grad;
  torch::_foreach_mul_(ema_params_, d);
  torch::_foreach_add_(ema_params_, params_, 1.0 - d);
  copy_tensors(buffers_, ema_buffers_);
}

void DiffaeMethod::export_model(const fs::path& dir) {
  MDLAB_CHECK(unet_, "diffae: export_model() before attach()");
  const auto& unet = ema_unet_ ? ema_unet_ : unet_;
  fs::create_directories(dir / "unet");
  fs::create_directories(dir / "scheduler");
  write_json(dir / "unet" / "config.json", diffusion::unet_config_json(unet->config()));
  std::vector<std::pair<std::string, torch::Tensor>> tensors;
  for (auto& [name, t] : mdlab::state_dict(*unet)) tensors.emplace_back(name, t.cpu());
  mdlab::write_safetensors(dir / "unet" / "diffusion_pytorch_model.safetensors", tensors,
                           {{"format", "pt"}});
  write_json(dir / "scheduler" / "scheduler_config.json",
             diffusion::diffae_scheduler_json(noise_spec_));
  write_json(dir / "model_index.json",
             diffusion::Json{{"_class_name", diffusion::kDiffaePipelineClass},
                             {"_mdlab_version", mdlab::sdk_version()},
                             {"encoder", {"mdlab", "Backbone"}},
                             {"unet", {"diffusers", "UNet2DConditionModel"}},
                             {"scheduler", {"diffusers", "DDIMScheduler"}},
                             {"cond_dropout", cond_dropout_},
                             {"ema_decay", ema_decay_},
                             {"ema", static_cast<bool>(ema_unet_)}});
}

}  // namespace mdlab::diffae
