#include "dino_loss.h"

#include <mdlab/error.h>

#include <torch/torch.h>

#include <algorithm>
#include <cmath>

namespace mdlab::dino {

double teacher_temperature(const DinoLossConfig& config, int64_t epoch) {
  const int64_t n = config.warmup_teacher_temp_epochs;
  if (epoch >= n) return config.teacher_temp;
  const int64_t i = std::max<int64_t>(epoch, 0);
  if (n == 1) return config.warmup_teacher_temp;
  if (i == n - 1) return config.teacher_temp;  // numpy sets the endpoint exactly
  // numpy.linspace: start + i * ((stop - start) / (num - 1)), in this order.
  const double step =
      (config.teacher_temp - config.warmup_teacher_temp) / static_cast<double>(n - 1);
  return static_cast<double>(i) * step + config.warmup_teacher_temp;
}

DinoLossImpl::DinoLossImpl(const DinoLossConfig& config, Collectives& collectives)
    : config_(config), collectives_(&collectives) {
  MDLAB_CHECK(config.out_dim > 0, "dino loss: out_dim {} must be positive", config.out_dim);
  MDLAB_CHECK(config.global_crops >= 1, "dino loss: global_crops {} must be at least 1",
              config.global_crops);
  MDLAB_CHECK(config.student_temp > 0 && config.teacher_temp > 0 && config.warmup_teacher_temp > 0,
              "dino loss: temperatures must be positive (student {}, teacher {}, warm-up {})",
              config.student_temp, config.teacher_temp, config.warmup_teacher_temp);
  MDLAB_CHECK(config.warmup_teacher_temp_epochs >= 0,
              "dino loss: warmup_teacher_temp_epochs {} is negative",
              config.warmup_teacher_temp_epochs);
  MDLAB_CHECK(config.center_momentum >= 0 && config.center_momentum <= 1,
              "dino loss: center_momentum {} is not in [0, 1]", config.center_momentum);
  center = register_buffer("center", torch::zeros({1, config.out_dim}));
}

torch::Tensor DinoLossImpl::forward(const torch::Tensor& student_output,
                                    const torch::Tensor& teacher_output, int64_t epoch,
                                    bool move_center) {
  const int64_t k = config_.out_dim, g = config_.global_crops;
  MDLAB_CHECK(student_output.defined() && student_output.dim() == 2 && student_output.size(1) == k,
              "dino loss: student_output must be [V*B, {}], got {}", k,
              student_output.defined() ? c10::str(student_output.sizes()) : "undefined");
  MDLAB_CHECK(teacher_output.defined() && teacher_output.dim() == 2 &&
                  teacher_output.size(1) == k && teacher_output.size(0) > 0 &&
                  teacher_output.size(0) % g == 0,
              "dino loss: teacher_output must be [{}*B, {}] with B > 0, got {}", g, k,
              teacher_output.defined() ? c10::str(teacher_output.sizes()) : "undefined");
  const int64_t batch = teacher_output.size(0) / g;
  MDLAB_CHECK(student_output.size(0) % batch == 0 && student_output.size(0) / batch > g,
              "dino loss: student_output has {} rows, not a multiple ({} crops or more) of the "
              "teacher's batch {} ",
              student_output.size(0), g + 1, batch);
  const int64_t crops = student_output.size(0) / batch;

  // Under autocast the head may hand out bf16/fp16 logits; the softmaxes over 65536
  // prototypes and the centre stay in float32 (a no-op for float32 inputs).
  const auto student = student_output.to(torch::kFloat);
  const auto teacher = teacher_output.to(torch::kFloat);

  // The same operations in the same order as the reference, so float32 results agree to
  // rounding: (t - c) / temp, softmax; s / temp, log_softmax per crop; -q * log p summed.
  const double temp = teacher_temperature(config_, epoch);
  auto student_chunks = (student / config_.student_temp).chunk(crops);
  torch::Tensor targets;
  {
    torch::NoGradGuard no_grad;
    targets = torch::softmax((teacher.detach() - center) / temp, -1);
  }
  auto teacher_chunks = targets.chunk(g);
  torch::Tensor total;
  int64_t terms = 0;
  for (int64_t iq = 0; iq < g; ++iq) {
    const auto& q = teacher_chunks[static_cast<size_t>(iq)];
    for (int64_t v = 0; v < crops; ++v) {
      if (v == iq) continue;  // the same view seen by both networks
      auto term =
          torch::sum(-q * torch::log_softmax(student_chunks[static_cast<size_t>(v)], -1), -1)
              .mean();
      total = total.defined() ? total + term : term;
      ++terms;
    }
  }
  total = total / terms;
  if (move_center) update_center(teacher);
  return total;
}

void DinoLossImpl::update_center(const torch::Tensor& teacher_output) {
  torch::NoGradGuard no_grad;
  auto sum = torch::sum(teacher_output.to(torch::kFloat), 0, /*keepdim=*/true);
  sum = collectives_->sum_raw(sum);
  const int64_t rows = teacher_output.size(0) * collectives_->world_size();
  auto batch_center = sum / rows;
  const double m = config_.center_momentum;
  // In place: the registered buffer must stay the same tensor (DINO rebinds self.center).
  center.copy_(center * m + batch_center * (1 - m));
}

}  // namespace mdlab::dino
