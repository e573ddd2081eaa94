// DDIM (diffusers' DDIMScheduler): predicted x0 and the deterministic direction to x_{t-1},
// plus eta-scaled fresh noise (eta = 0: deterministic).
#include "scheduler.h"

#include <mdlab/error.h>

#include <torch/torch.h>

#include <cmath>

namespace mdlab::diffusion {

namespace {

class DdimScheduler final : public Scheduler {
 public:
  DdimScheduler(NoiseSchedule schedule, double eta) : schedule_(std::move(schedule)), eta_(eta) {}

  void set_timesteps(int64_t steps) override {
    steps_ = steps;
    timesteps_.clear();
    for (int64_t t : schedule_.spaced_timesteps(steps))
      timesteps_.push_back(static_cast<double>(t));
  }

  torch::Tensor step(const torch::Tensor& model_output, size_t index, const torch::Tensor& sample,
                     const NoiseFn& noise) override {
    MDLAB_CHECK(index < timesteps_.size(), "DDIM step {} of {}", index, timesteps_.size());
    const int64_t t = static_cast<int64_t>(timesteps_[index]);
    const int64_t prev_t = t - schedule_.num_train_timesteps / steps_;
    const float a = schedule_.alpha_cumprod(t);
    const float a_prev = schedule_.alpha_cumprod(prev_t);
    const float b = 1.0f - a;
    torch::Tensor x0, eps;
    if (schedule_.prediction_type == "epsilon") {
      x0 = (sample - std::sqrt(b) * model_output) / std::sqrt(a);
      eps = model_output;
    } else if (schedule_.prediction_type == "sample") {
      x0 = model_output;
      eps = (sample - std::sqrt(a) * x0) / std::sqrt(b);
    } else {  // v_prediction
      x0 = std::sqrt(a) * sample - std::sqrt(b) * model_output;
      eps = std::sqrt(a) * model_output + std::sqrt(b) * sample;
    }
    if (schedule_.clip_sample) {
      x0 = x0.clamp(-schedule_.clip_sample_range, schedule_.clip_sample_range);
    }
    const float b_prev = 1.0f - a_prev;
    const float variance = (b_prev / b) * (1.0f - a / a_prev);
    const float std_dev = static_cast<float>(eta_) * std::sqrt(variance);
    const auto direction = std::sqrt(1.0f - a_prev - std_dev * std_dev) * eps;
    auto prev = std::sqrt(a_prev) * x0 + direction;
    if (eta_ > 0) {
      MDLAB_CHECK(noise, "DDIM with eta > 0 needs a noise source");
      prev = prev + std_dev * noise(model_output.sizes()).to(prev.options());
    }
    return prev;
  }

  std::string name() const override { return "ddim"; }

  torch::Tensor add_noise(const torch::Tensor& x0, const torch::Tensor& noise,
                          size_t index) const override {
    MDLAB_CHECK(index < timesteps_.size(), "DDIM add_noise at step {} of {}", index,
                timesteps_.size());
    const float a = schedule_.alpha_cumprod(static_cast<int64_t>(timesteps_[index]));
    return std::sqrt(a) * x0 + std::sqrt(1.0f - a) * noise;
  }

 private:
  NoiseSchedule schedule_;
  double eta_;
  int64_t steps_ = 0;
};

}  // namespace

std::unique_ptr<Scheduler> make_ddim_scheduler(NoiseSchedule schedule, const JsonConfig& config,
                                               const SchedulerOptions& options) {
  if (config.get<bool>("rescale_betas_zero_snr", false)) {
    config.fail("rescale_betas_zero_snr", "= true is not supported");
  }
  MDLAB_CHECK(options.eta >= 0 && options.eta <= 1, "DDIM eta must be in [0, 1], got {}",
              options.eta);
  return std::make_unique<DdimScheduler>(std::move(schedule), options.eta);
}

}  // namespace mdlab::diffusion
