// PNDM (diffusers' PNDMScheduler), a pseudo numerical method on the DDIM transfer formula
// (formula (9) of the PNDM paper). With skip_prk_steps (Stable Diffusion's setting) only
// pseudo linear multistep (PLMS) steps: the first step is taken twice (the second loop entry
// repeats the first timestep) to bootstrap the history, then the Adams-Bashforth combinations
// of order 2, 3 and 4 of the past model outputs. Without it, three pseudo Runge-Kutta steps
// (four model calls each, at t, t - h, t - h, t - 2h with h half a step) fill the history
// first, then 4th-order PLMS steps.
#include "scheduler.h"

#include <mdlab/error.h>

#include <torch/torch.h>

#include <cmath>
#include <deque>

namespace mdlab::diffusion {

namespace {

class PndmScheduler final : public Scheduler {
 public:
  PndmScheduler(NoiseSchedule schedule, bool skip_prk)
      : schedule_(std::move(schedule)), skip_prk_(skip_prk) {}

  void set_timesteps(int64_t steps) override {
    MDLAB_CHECK(skip_prk_ || steps >= 4,
                "PNDM with Runge-Kutta warm-up (skip_prk_steps false) needs at least 4 steps, "
                "got {}",
                steps);
    steps_ = steps;
    const auto spaced = schedule_.spaced_timesteps(steps);  // descending
    timesteps_.clear();
    prk_count_ = 0;
    if (skip_prk_) {
      // PLMS order: every timestep once, the second one repeated: [t0, t1, t1, t2, ...].
      for (size_t i = 0; i < spaced.size(); ++i) {
        timesteps_.push_back(static_cast<double>(spaced[i]));
        if (i == 1) timesteps_.push_back(static_cast<double>(spaced[i]));
      }
    } else {
      // Runge-Kutta over the four largest timesteps: for each of the first three intervals
      // t -> t', calls at t, t - h, t - h, t' (h = half the training-step stride, floored).
      const int64_t half = schedule_.num_train_timesteps / steps / 2;
      for (size_t i = 0; i < 3; ++i) {
        const auto t = static_cast<double>(spaced[i]);
        const auto mid = static_cast<double>(spaced[i + 1] + half);
        for (double v : {t, mid, mid, static_cast<double>(spaced[i + 1])}) {
          timesteps_.push_back(v);
        }
      }
      prk_count_ = timesteps_.size();
      for (size_t i = 3; i < spaced.size(); ++i)
        timesteps_.push_back(static_cast<double>(spaced[i]));
    }
    history_.clear();
    counter_ = 0;
    cur_sample_ = torch::Tensor();
    cur_output_ = torch::Tensor();
  }

  torch::Tensor step(const torch::Tensor& model_output, size_t index, const torch::Tensor& sample,
                     const NoiseFn&) override {
    MDLAB_CHECK(index < timesteps_.size(), "PNDM step {} of {}", index, timesteps_.size());
    MDLAB_CHECK(static_cast<int64_t>(index) == counter_,
                "PNDM steps must run in order: step {} after {} steps", index, counter_);
    if (static_cast<size_t>(counter_) < prk_count_) return step_prk(model_output, index, sample);
    return step_plms(model_output, index, sample);
  }

  std::string name() const override { return "pndm"; }

 private:
  // One of the four calls of a Runge-Kutta step: the estimate is the weighted sum
  // (1, 2, 2, 1) / 6 of the four outputs; each call jumps from the step's start sample.
  torch::Tensor step_prk(const torch::Tensor& model_output, size_t index,
                         const torch::Tensor& sample) {
    const int64_t half = schedule_.num_train_timesteps / steps_ / 2;
    const auto passed = static_cast<int64_t>(timesteps_[index]);
    const int64_t prev_t = passed - (counter_ % 2 == 1 ? 0 : half);
    const auto t = static_cast<int64_t>(timesteps_[static_cast<size_t>(counter_ / 4 * 4)]);
    torch::Tensor eps = model_output;
    switch (counter_ % 4) {
      case 0:
        cur_output_ = (1.0 / 6) * model_output;
        history_.push_back(model_output);
        cur_sample_ = sample;
        break;
      case 1:
      case 2: cur_output_ = cur_output_ + (1.0 / 3) * model_output; break;
      default:
        eps = cur_output_ + (1.0 / 6) * model_output;
        cur_output_ = torch::Tensor();
        break;
    }
    auto prev = previous_sample(cur_sample_, t, prev_t, eps);
    ++counter_;
    return prev;
  }

  torch::Tensor step_plms(const torch::Tensor& model_output, size_t index,
                          const torch::Tensor& sample) {
    const int64_t stride = schedule_.num_train_timesteps / steps_;
    auto t = static_cast<int64_t>(timesteps_[index]);
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
  bool skip_prk_;
  int64_t steps_ = 0;
  size_t prk_count_ = 0;
  std::deque<torch::Tensor> history_;
  int64_t counter_ = 0;
  torch::Tensor cur_sample_, cur_output_;
};

}  // namespace

std::unique_ptr<Scheduler> make_pndm_scheduler(NoiseSchedule schedule, const JsonConfig& config) {
  if (schedule.prediction_type == "sample") {
    config.fail("prediction_type", "= \"sample\" is not supported by PNDM (diffusers neither)");
  }
  const bool skip_prk = config.get<bool>("skip_prk_steps", false);
  return std::make_unique<PndmScheduler>(std::move(schedule), skip_prk);
}

}  // namespace mdlab::diffusion
