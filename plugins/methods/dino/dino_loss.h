// DINO's loss (DINOLoss of facebookresearch/dino main_dino.py) and the schedules around it.
//
// Internal header of the dino plugin, shared with its unit tests.
// Layouts (crop-major, as DINO's MultiCropWrapper returns them): student_output [V*B, K], rows
// [v*B, (v+1)*B) are crop v (the global crops first); teacher_output [G*B, K], the G global
// crops in the same order; K = out_dim. Temperatures are plain divisors of the logits; epochs
// and steps are 0-based.
//
// loss = mean over the pairs (teacher crop iq < G, student crop v != iq) of
//        mean_b sum_k -softmax((t - center) / teacher_temp(epoch)) * log_softmax(s / student_temp)
// followed by center = m * center + (1 - m) * mean of teacher_output over all ranks' rows.
#pragma once

#include <mdlab/collectives.h>

#include <torch/nn/module.h>
#include <torch/nn/pimpl.h>
#include <torch/types.h>

#include <cstdint>
#include <vector>

namespace mdlab::dino {

/// Settings of a DinoLoss; mirrors the plugin's loss options.
struct DinoLossConfig {
  int64_t out_dim = 65536;                 ///< K, width of the head outputs
  double warmup_teacher_temp = 0.04;       ///< teacher temperature at epoch 0
  double teacher_temp = 0.04;              ///< teacher temperature after the warm-up
  int64_t warmup_teacher_temp_epochs = 0;  ///< epochs of the linear warm-up (0: none)
  double student_temp = 0.1;               ///< student temperature
  double center_momentum = 0.9;            ///< EMA momentum of the centre
  int64_t global_crops = 2;                ///< G, crops the teacher sees
};

/// Teacher temperature of `epoch`: np.linspace(warmup, final, warmup_epochs)[epoch] during the
/// warm-up (numpy's arithmetic, so values equal DINO's schedule), `final` afterwards.
double teacher_temperature(const DinoLossConfig& config, int64_t epoch);

/// The cross-entropy between centred, sharpened teacher outputs and student outputs, with the
/// centre as a buffer ("center" [1, K] float32, zeros at start) so it is checkpointed.
class DinoLossImpl : public torch::nn::Module {
 public:
  /// A loss with a zero centre; `collectives` reduces the centre's batch mean across ranks
  /// and must outlive the loss.
  explicit DinoLossImpl(const DinoLossConfig& config,
                        Collectives& collectives = local_collectives());
  /// Loss (scalar float32) of `student_output` [V*B, K] against `teacher_output` [G*B, K] at
  /// `epoch`; then, when `move_center`, moves the centre towards the teacher batch mean (the
  /// teacher outputs never receive gradients). Throws mdlab::Error on inconsistent shapes.
  torch::Tensor forward(const torch::Tensor& student_output, const torch::Tensor& teacher_output,
                        int64_t epoch, bool move_center = true);
  /// center = m * center + (1 - m) * (sum over all ranks' rows of `teacher_output`) /
  /// (rows * world_size), without autograd.
  void update_center(const torch::Tensor& teacher_output);
  /// Replaces the collectives (the host may configure a distributed run's after building the
  /// loss); `collectives` must outlive the loss.
  void set_collectives(Collectives& collectives) { collectives_ = &collectives; }
  /// The settings the loss was built with.
  const DinoLossConfig& config() const { return config_; }

  torch::Tensor center;  ///< [1, K] float32, the running teacher mean

 private:
  DinoLossConfig config_;
  Collectives* collectives_;
};
TORCH_MODULE(DinoLoss);

}  // namespace mdlab::dino
