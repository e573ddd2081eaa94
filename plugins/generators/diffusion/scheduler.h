// Noise schedulers of the diffusers library, read from a scheduler_config.json: the training
// noise schedule (betas, alphas_cumprod) and the sampling step of PNDM (PLMS), DDIM and Euler.
//
// Layouts: samples and model outputs are float tensors [N, C, h, w] (any device); timesteps
// are in the training schedule's units (0 .. num_train_timesteps - 1). Arithmetic follows
// diffusers 0.21 operation by operation in fp32, so trajectories agree to rounding.
#pragma once

#include "model_folder.h"

#include <torch/types.h>

#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace mdlab::diffusion {

/// Fresh standard normal noise of `shape` (on the sample's device): per-image streams live
/// behind it, so a stochastic step never couples the images of a batch.
using NoiseFn = std::function<torch::Tensor(torch::IntArrayRef shape)>;

/// Sampler settings that are not in scheduler_config.json.
struct SchedulerOptions {
  double eta = 0.0;  ///< DDIM: 0 deterministic, 1 DDPM-like
};

/// The settings of scheduler_config.json shared by every scheduler. A key the file lacks takes
/// the default of the scheduler class that will run (diffusers 0.21 `from_config` semantics:
/// PNDM set_alpha_to_one false; DDIM set_alpha_to_one true and clip_sample true; Euler
/// timestep_spacing "linspace"), so swapping the scheduler of a folder behaves as in diffusers.
struct NoiseSchedule {
  int64_t num_train_timesteps = 1000;        ///< training steps
  std::string timestep_spacing = "leading";  ///< leading | trailing | linspace
  int64_t steps_offset = 0;                  ///< added to leading timesteps (SD: 1)
  std::string prediction_type = "epsilon";   ///< epsilon | v_prediction | sample
  bool set_alpha_to_one = false;             ///< alpha of the step after t = 0 is 1
  bool clip_sample = false;                  ///< clamp the predicted x0 (DDIM)
  double clip_sample_range = 1.0;            ///< its bound
  torch::Tensor betas;                       ///< [T] float32
  torch::Tensor alphas_cumprod;              ///< [T] float32
  float final_alpha_cumprod = 1.0f;          ///< 1 or alphas_cumprod[0]

  /// Reads and validates the config (beta_schedule linear | scaled_linear |
  /// squaredcos_cap_v2, or trained_betas) with the defaults of scheduler `kind` ("pndm" |
  /// "ddim" | "euler"; "" = the config's _class_name); names the file and key on error.
  explicit NoiseSchedule(const JsonConfig& config, std::string_view kind = "");
  /// alphas_cumprod[t] for t >= 0, final_alpha_cumprod for t < 0.
  float alpha_cumprod(int64_t t) const;
  /// The sampling timesteps of `steps` steps under timestep_spacing, descending (numpy's
  /// rounding of diffusers' formulas; "trailing" always gives `steps` of them, where diffusers
  /// sometimes appends a spurious -1).
  std::vector<int64_t> spaced_timesteps(int64_t steps) const;
  /// numpy.linspace(0, T - 1, steps), descending and unrounded (Euler's "linspace" timesteps).
  std::vector<double> linspace_timesteps(int64_t steps) const;
};

/// The scheduler kind ("pndm" | "ddim" | "euler") of `kind`, or of the config's _class_name
/// when `kind` is empty; throws naming the file and key for classes not implemented here.
std::string resolve_scheduler_kind(const JsonConfig& config, std::string_view kind);

/// A sampler. Not thread-safe: it keeps per-run state (PNDM's history).
class Scheduler {
 public:
  virtual ~Scheduler();
  /// Prepares `steps` sampling steps and clears all state.
  virtual void set_timesteps(int64_t steps) = 0;
  /// The timesteps given to the model, in loop order (PNDM: steps + 1 of them, steps + 9 with
  /// Runge-Kutta warm-up; Euler with "linspace" spacing: fractional).
  const std::vector<double>& timesteps() const { return timesteps_; }
  /// Scale of the initial noise: 1 for PNDM and DDIM; for Euler it depends on the steps, so
  /// call set_timesteps first (as diffusers' pipelines do), otherwise it throws.
  virtual double init_noise_sigma() const { return 1.0; }
  /// The model input for `sample` at loop step `index` (identity for PNDM and DDIM).
  virtual torch::Tensor scale_model_input(const torch::Tensor& sample, size_t index) const {
    return sample;
  }
  /// The sample of the next loop step from the model's output at loop step `index`.
  virtual torch::Tensor step(const torch::Tensor& model_output, size_t index,
                             const torch::Tensor& sample, const NoiseFn& noise) = 0;
  /// "pndm", "ddim" or "euler".
  virtual std::string name() const = 0;
  /// Clean `x0` noised to the level the loop expects at loop step `index` (diffusers'
  /// add_noise, as its img2img pipelines start part-way): sqrt(a_t) x0 + sqrt(1 - a_t) noise
  /// for DDIM, x0 + sigma_t noise for Euler. PNDM's multistep history cannot start part-way:
  /// it throws.
  virtual torch::Tensor add_noise(const torch::Tensor& x0, const torch::Tensor& noise,
                                  size_t index) const;

 protected:
  std::vector<double> timesteps_;
};

/// The scheduler `kind` ("" = the config's _class_name; "pndm" | "ddim" | "euler") with the
/// config's noise schedule; throws naming the file for unknown classes or unsupported options.
std::unique_ptr<Scheduler> make_scheduler(const JsonConfig& config, std::string_view kind,
                                          const SchedulerOptions& options);

/// PNDM: with skip_prk_steps PLMS steps only (Stable Diffusion's setting), otherwise three
/// Runge-Kutta warm-up steps (4 model calls each) first; then linear multistep of order <= 4.
std::unique_ptr<Scheduler> make_pndm_scheduler(NoiseSchedule schedule, const JsonConfig& config);
/// DDIM with `options.eta`.
std::unique_ptr<Scheduler> make_ddim_scheduler(NoiseSchedule schedule, const JsonConfig& config,
                                               const SchedulerOptions& options);
/// Euler (diffusers' EulerDiscreteScheduler without churn: deterministic).
std::unique_ptr<Scheduler> make_euler_scheduler(NoiseSchedule schedule, const JsonConfig& config);

}  // namespace mdlab::diffusion
