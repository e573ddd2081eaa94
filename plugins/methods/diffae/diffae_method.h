// Diffusion autoencoder training (Preechakul et al., CVPR 2022) as a Method: the experiment's
// backbone is the semantic encoder; the method owns the conditional UNet (diffae.h of the
// diffusion library) and an EMA copy of both networks, which `mdlab export-model` writes as a
// model folder for the diffae_variations generator.
//
// One view slot "image" (preset "flip", the dataset's size unless image_size says otherwise).
// The views must be in the model's pixel space [-1, 1]: mean = 0.5 and std = 0.5 per channel
// in [data.augment.*] and [data.eval] (validation batches and evaluators), checked on every
// batch.
//
// Per step: z = encoder(x0) [N, D]; with probability cond_dropout a row's code becomes zeros
// (the unconditional input of classifier-free guidance); t ~ U{0, T - 1}, noise ~ N(0, I) from
// a generator seeded by (run seed, step, rank), so a resumed run draws what the uninterrupted
// one drew; loss = mean squared error of UNet(x_t, t, z) against the target of
// prediction_type. Parameter names: backbone.*, unet.* (diffusers' UNet2DConditionModel),
// ema_backbone.*, ema_unet.*.
//
// Internal header of the diffae plugin, shared with its unit tests.
#pragma once

#include "diffae.h"

#include <mdlab/context.h>
#include <mdlab/method.h>
#include <mdlab/options.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <vector>

namespace mdlab::diffae {

/// Diffusion-autoencoder training.
class DiffaeMethod final : public mdlab::Method {
 public:
  /// The plugin constructor: options as declared by options_schema().
  DiffaeMethod(const mdlab::Options& options, mdlab::Context& context);
  /// The options the plugin accepts.
  static mdlab::OptionsSchema options_schema();
  /// One slot "image", preset "flip".
  std::vector<mdlab::ViewSlot> view_slots() const override;
  /// Keeps `backbone` as the semantic encoder; builds the UNet (stream "diffae.unet") and,
  /// with ema_decay > 0, the EMA copies (context.create_backbone() for the encoder).
  void attach(std::shared_ptr<mdlab::Backbone> backbone, mdlab::Context& context) override;
  /// The EMA encoder when ema_decay > 0 (what the generator uses), else the trained one.
  std::shared_ptr<mdlab::Backbone> encoder() const override;
  /// The denoising loss ("mse"); the code of the image as the online probe's features.
  mdlab::LossOutput compute_loss(const mdlab::Batch& batch, const mdlab::StepInfo& step) override;
  /// EMA update: decay min(ema_decay, (1 + step) / (10 + step)); buffers copied.
  void after_optimizer_step(const mdlab::StepInfo& step) override;
  /// Keeps the EMA copies in eval mode.
  void train(bool on = true) override;
  /// unet/, scheduler/ and model_index.json (the EMA UNet when there is one).
  void export_model(const std::filesystem::path& dir) override;

  /// The trained UNet (null before attach()).
  diffusion::UNet& unet() { return unet_; }
  /// The EMA UNet (null without EMA).
  diffusion::UNet& ema_unet() { return ema_unet_; }
  /// The noise schedule of training.
  const diffusion::NoiseSchedule& schedule() const { return *schedule_; }

 private:
  diffusion::DiffaeDenoiserSpec spec_;
  diffusion::DiffaeNoiseSpec noise_spec_;
  std::optional<diffusion::NoiseSchedule> schedule_;
  double cond_dropout_;
  double ema_decay_;
  uint64_t seed_;
  mdlab::Collectives* collectives_;
  std::shared_ptr<mdlab::Backbone> backbone_, ema_backbone_;
  diffusion::UNet unet_{nullptr}, ema_unet_{nullptr};
  std::vector<torch::Tensor> ema_params_, params_, ema_buffers_, buffers_;
};

}  // namespace mdlab::diffae
