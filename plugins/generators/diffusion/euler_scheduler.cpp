// Euler (diffusers' EulerDiscreteScheduler, no churn): the probability-flow ODE in sigma
// (sigma^2 = (1 - alpha_bar) / alpha_bar) integrated with Euler steps; the model sees the
// sample scaled by 1 / sqrt(sigma^2 + 1).
#include "scheduler.h"

#include <mdlab/error.h>

#include <torch/torch.h>

#include <algorithm>
#include <cmath>

namespace mdlab::diffusion {

namespace {

class EulerScheduler final : public Scheduler {
 public:
  explicit EulerScheduler(NoiseSchedule schedule) : schedule_(std::move(schedule)) {
    // sigma of every training step, fp32 as diffusers computes it.
    auto a = schedule_.alphas_cumprod;
    train_sigmas_ = ((1 - a) / a).pow(0.5).contiguous();
  }

  void set_timesteps(int64_t steps) override {
    const int64_t T = schedule_.num_train_timesteps;
    timesteps_.clear();
    if (schedule_.timestep_spacing == "linspace") {
      // Fractional timesteps, float32 in diffusers: the UNet sees the rounded values.
      for (double t : schedule_.linspace_timesteps(steps)) {
        timesteps_.push_back(static_cast<double>(static_cast<float>(t)));
      }
    } else {
      for (int64_t t : schedule_.spaced_timesteps(steps)) {
        timesteps_.push_back(static_cast<double>(t));
      }
    }
    // numpy.interp of the training sigmas at the (possibly fractional) timesteps, in double,
    // then float32.
    const float* s = train_sigmas_.data_ptr<float>();
    sigmas_.clear();
    for (double t : timesteps_) {
      const double clamped = std::clamp(t, 0.0, static_cast<double>(T - 1));
      const auto lo = static_cast<int64_t>(std::floor(clamped));
      const int64_t hi = std::min(lo + 1, T - 1);
      const double slope = static_cast<double>(s[hi]) - static_cast<double>(s[lo]);
      sigmas_.push_back(static_cast<float>(slope * (clamped - static_cast<double>(lo)) + s[lo]));
    }
    sigmas_.push_back(0.0f);
  }

  double init_noise_sigma() const override {
    MDLAB_CHECK(!sigmas_.empty(),
                "Euler: init_noise_sigma depends on the steps; call set_timesteps first");
    // fp32 like diffusers' tensor arithmetic, so the initial latents agree bit for bit.
    const float max_sigma = *std::max_element(sigmas_.begin(), sigmas_.end());
    if (schedule_.timestep_spacing == "linspace" || schedule_.timestep_spacing == "trailing") {
      return max_sigma;
    }
    return std::sqrt(max_sigma * max_sigma + 1.0f);
  }

  torch::Tensor scale_model_input(const torch::Tensor& sample, size_t index) const override {
    const float sigma = sigmas_.at(index);
    return sample / std::sqrt(sigma * sigma + 1.0f);
  }

  torch::Tensor step(const torch::Tensor& model_output, size_t index, const torch::Tensor& sample,
                     const NoiseFn&) override {
    MDLAB_CHECK(index + 1 < sigmas_.size(), "Euler step {} of {}", index, sigmas_.size() - 1);
    const float sigma = sigmas_[index];
    torch::Tensor x0;
    if (schedule_.prediction_type == "epsilon") {
      x0 = sample - sigma * model_output;
    } else if (schedule_.prediction_type == "v_prediction") {
      x0 = model_output * (-sigma / std::sqrt(sigma * sigma + 1.0f)) +
           sample / (sigma * sigma + 1.0f);
    } else {
      x0 = model_output;
    }
    const auto derivative = (sample - x0) / sigma;
    const float dt = sigmas_[index + 1] - sigma;
    return sample + derivative * dt;
  }

  std::string name() const override { return "euler"; }

  torch::Tensor add_noise(const torch::Tensor& x0, const torch::Tensor& noise,
                          size_t index) const override {
    MDLAB_CHECK(index + 1 < sigmas_.size(), "Euler add_noise at step {} of {}", index,
                sigmas_.size() - 1);
    return x0 + sigmas_[index] * noise;
  }

 private:
  NoiseSchedule schedule_;
  torch::Tensor train_sigmas_;
  std::vector<float> sigmas_;
};

}  // namespace

std::unique_ptr<Scheduler> make_euler_scheduler(NoiseSchedule schedule, const JsonConfig& config) {
  if (config.has("interpolation_type") &&
      config.require<std::string>("interpolation_type") != "linear") {
    config.fail("interpolation_type", "is not supported (only \"linear\")");
  }
  if (config.get<bool>("use_karras_sigmas", false)) {
    config.fail("use_karras_sigmas", "= true is not supported");
  }
  return std::make_unique<EulerScheduler>(std::move(schedule));
}

}  // namespace mdlab::diffusion
