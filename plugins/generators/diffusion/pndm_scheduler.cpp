// PNDM with PLMS steps only (diffusers' PNDMScheduler with skip_prk_steps, the default of
// Stable Diffusion): a pseudo linear multistep method. The first step is taken twice (the
// second loop entry repeats the first timestep) to bootstrap the history; then the
// Adams-Bashforth combinations of order 2, 3 and 4 of the past model outputs.
#include "scheduler.h"

#include <mdlab/error.h>

#include <torch/torch.h>

#include <cmath>
#include <deque>

namespace mdlab::diffusion {

namespace {

class PndmScheduler final : public Scheduler {
 public:
  explicit PndmScheduler(NoiseSchedule schedule) : schedule_(std::move(schedule)) {}

  void set_timesteps(int64_t steps) override {
    steps_ = steps;
    auto spaced = schedule_.spaced_timesteps(steps);  // descending
    // PLMS order: every timestep once, the second one repeated: [t0, t1, t1, t2, ...].
    timesteps_.clear();
    for (size_t i = 0; i < spaced.size(); ++i) {
      timesteps_.push_back(static_cast<double>(spaced[i]));
      if (i == 1) timesteps_.push_back(static_cast<double>(spaced[i]));
    }
    history_.clear();
    counter_ = 0;
    cur_sample_ = torch::Tensor();
  }

  torch::Tensor step(const torch::Tensor& model_output, size_t index, const torch::Tensor& sample,
                     const NoiseFn&) override {
    MDLAB_CHECK(index < timesteps_.size(), "PNDM step {} of {}", index, timesteps_.size());
    const int64_t stride = schedule_.num_train_timesteps / steps_;
    int64_t t = static_cast<int64_t>(timesteps_[index]);
    int64_t prev_t = t - stride;
    if (counter_ != 1) {
      if (history_.size() > 3) history_.pop_front();
      history_.push_back(model_output);
    } else {
      // The repeated entry: redo the first step from t with the averaged output.
      prev_t = t;
      t = t + stride;
    }
    torch::Tensor eps;
    torch::Tensor x = sample;
    const size_t n = history_.size();
    if (n == 1 && counter_ == 0) {
      eps = model_output;
      cur_sample_ = sample;
    } else if (n == 1 && counter_ == 1) {
      eps = (model_output + history_.back()) / 2;
      x = cur_sample_;
      cur_sample_ = torch::Tensor();
    } else if (n == 2) {
      eps = (3 * history_[1] - history_[0]) / 2;
    } else if (n == 3) {
      eps = (23 * history_[2] - 16 * history_[1] + 5 * history_[0]) / 12;
    } else {
      eps = (1.0 / 24) * (55 * history_[3] - 59 * history_[2] + 37 * history_[1] - 9 * history_[0]);
    }
    auto prev = previous_sample(x, t, prev_t, eps);
    ++counter_;
    return prev;
  }

  std::string name() const override { return "pndm"; }

 private:
  // Formula (9) of the PNDM paper, in fp32 as diffusers evaluates it.
  torch::Tensor previous_sample(const torch::Tensor& sample, int64_t t, int64_t prev_t,
                                torch::Tensor model_output) const {
    const float a = schedule_.alpha_cumprod(t);
    const float a_prev = schedule_.alpha_cumprod(prev_t);
    const float b = 1.0f - a;
    const float b_prev = 1.0f - a_prev;
    if (schedule_.prediction_type == "v_prediction") {
      model_output = std::sqrt(a) * model_output + std::sqrt(b) * sample;
    }
    const float sample_coeff = std::sqrt(a_prev / a);
    const float denom = a * std::sqrt(b_prev) + std::sqrt(a * b * a_prev);
    return sample_coeff * sample - (a_prev - a) * model_output / denom;
  }

  NoiseSchedule schedule_;
  int64_t steps_ = 0;
  std::deque<torch::Tensor> history_;
  int64_t counter_ = 0;
  torch::Tensor cur_sample_;
};

}  // namespace

std::unique_ptr<Scheduler> make_pndm_scheduler(NoiseSchedule schedule, const JsonConfig& config) {
  if (!config.get<bool>("skip_prk_steps", false)) {
    config.fail("skip_prk_steps",
                "= false (Runge-Kutta warm-up steps) is not supported; set it "
                "to true (Stable Diffusion's setting: PLMS steps only)");
  }
  if (schedule.prediction_type == "sample") {
    config.fail("prediction_type", "= \"sample\" is not supported by PNDM (diffusers neither)");
  }
  return std::make_unique<PndmScheduler>(std::move(schedule));
}

}  // namespace mdlab::diffusion
