// DINO (Caron et al. 2021, facebookresearch/dino main_dino.py): self-distillation with no
// labels. A student (the attached backbone + a DinoHead) sees every crop; a teacher (a second
// backbone from Context::create_backbone() + its own head, started from the student's weights,
// updated only as an EMA of the student) sees the global crops; the student matches the
// teacher's centred, sharpened outputs across crops (DinoLoss).
//
// Internal header of the dino plugin, shared with its unit tests.
// Views: slots "global0", "global1" (group "global", global_crops_size px) then "local0" ..
// (group "local", local_crops_size px), each [B, C, H, W]. Consecutive views of one size go
// through a backbone as one batch (DINO's MultiCropWrapper), so outputs are crop-major:
// [V*B, out_dim] for the student, [2*B, out_dim] for the teacher.
// Submodules: "backbone" (student), "head" (student DinoHead), "teacher_backbone",
// "teacher_head", "dino_loss" (buffer "center") — all of them checkpointed.
#pragma once

#include "dino_head.h"
#include "dino_loss.h"

#include <mdlab/context.h>
#include <mdlab/method.h>
#include <mdlab/momentum.h>
#include <mdlab/options.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace mdlab::dino {

/// The DINO method.
class Dino final : public mdlab::Method {
 public:
  /// The plugin constructor: options as declared by options_schema(); throws mdlab::Error for
  /// values the schema's inclusive ranges let through (zero temperatures, ...).
  Dino(const mdlab::Options& options, mdlab::Context& context);

  /// The options the plugin accepts.
  static mdlab::OptionsSchema options_schema();

  /// 2 global slots (presets dino_global1, dino_global2), then local_crops_number local slots
  /// (preset dino_local).
  std::vector<mdlab::ViewSlot> view_slots() const override;
  /// Keeps `backbone` as the student, builds the student head from the context's "dino.head"
  /// stream, creates the teacher backbone with context.create_backbone() and a teacher head,
  /// copies the student's parameters and buffers into them and freezes the teacher. Heads are
  /// placed on the backbone's device and dtype. The loss's centre is reduced with
  /// context.collectives() as configured at this point.
  void attach(std::shared_ptr<mdlab::Backbone> backbone, mdlab::Context& context) override;
  /// The student backbone, or the teacher's with eval_encoder = "teacher".
  std::shared_ptr<mdlab::Backbone> encoder() const override;
  /// The DINO loss of a multi-crop batch. Terms: "dino_loss", "teacher_temp" (this epoch's),
  /// "teacher_momentum" (the EMA momentum after_optimizer_step of this step uses). Features:
  /// encoder() features of view 0. The centre moves only in training mode, so a validation
  /// pass leaves the training state untouched.
  mdlab::LossOutput compute_loss(const mdlab::Batch& batch, const mdlab::StepInfo& step) override;
  /// DINO's get_params_groups over the student ("default": weights; "no_decay": biases and
  /// 1-D tensors, without weight decay or LARS adaptation) plus "last_layer" (the student
  /// head's last_layer, weight decay on, frozen for freeze_last_layer epochs). Teacher and
  /// frozen (requires_grad false) parameters are left out.
  std::vector<mdlab::ParamGroup> param_groups() override;
  /// teacher = m * teacher + (1 - m) * student over the parameters, m = cosine_momentum(
  /// momentum_teacher, step.step, step.total_steps).
  void after_optimizer_step(const mdlab::StepInfo& step) override;
  /// Sets the mode recursively, then keeps the teacher as DINO's when training: its
  /// BatchNorm layers use batch statistics (train mode) but it has no stochastic depth or
  /// dropout (the reference builds the teacher without drop_path; here it shares the
  /// student's backbone options), so every other teacher module is in eval mode.
  void train(bool on = true) override;

  /// The student head (null before attach()).
  DinoHead& head() { return head_; }
  /// The teacher head (null before attach()).
  DinoHead& teacher_head() { return teacher_head_; }
  /// The student backbone (null before attach()).
  const std::shared_ptr<mdlab::Backbone>& student_backbone() const { return backbone_; }
  /// The teacher backbone (null before attach()).
  const std::shared_ptr<mdlab::Backbone>& teacher_backbone() const { return teacher_backbone_; }
  /// The loss, with its centre.
  DinoLoss& loss() { return loss_; }
  /// Student logits [V*B, out_dim] of `views` (crop-major); `features`, when not null,
  /// receives the backbone features [V*B, D].
  torch::Tensor student_forward(const std::vector<torch::Tensor>& views,
                                torch::Tensor* features = nullptr);
  /// Teacher logits [G*B, out_dim] of the global `views`, without autograd; `features` as above.
  torch::Tensor teacher_forward(const std::vector<torch::Tensor>& views,
                                torch::Tensor* features = nullptr);

 private:
  DinoHeadConfig head_config_;
  DinoLossConfig loss_config_;
  double momentum_teacher_;
  int64_t freeze_last_layer_;
  int64_t local_crops_;
  int64_t global_size_;
  int64_t local_size_;
  bool eval_teacher_;
  std::shared_ptr<mdlab::Backbone> backbone_;
  std::shared_ptr<mdlab::Backbone> teacher_backbone_;
  DinoHead head_{nullptr};
  DinoHead teacher_head_{nullptr};
  DinoLoss loss_{nullptr};
  // Student and teacher parameters in matching order, for the EMA.
  mdlab::MomentumEncoder momentum_;  // teacher <- student
};

}  // namespace mdlab::dino
