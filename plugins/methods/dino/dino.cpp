#include "dino.h"

#include <mdlab/batch_norm.h>
#include <mdlab/error.h>
#include <mdlab/momentum.h>

#include <fmt/format.h>
#include <torch/torch.h>

#include <string_view>

namespace mdlab::dino {
namespace {

constexpr int64_t kGlobalCrops = 2;  // DINO's teacher chunks its output in two

// Features [V*B, D] of `views` [B, C, H, W] each: runs of consecutive views with one shape
// go through the backbone as one batch (DINO's MultiCropWrapper groups by resolution), which
// keeps the output crop-major and lets the backbone see each resolution once.
torch::Tensor multi_crop_features(mdlab::Backbone& backbone,
                                  const std::vector<torch::Tensor>& views) {
  std::vector<torch::Tensor> outputs;
  size_t start = 0;
  while (start < views.size()) {
    size_t end = start + 1;
    while (end < views.size() && views[end].sizes().slice(1) == views[start].sizes().slice(1))
      ++end;
    if (end - start == 1) {
      outputs.push_back(backbone.forward(views[start]));
    } else {
      std::vector<torch::Tensor> run(views.begin() + static_cast<std::ptrdiff_t>(start),
                                     views.begin() + static_cast<std::ptrdiff_t>(end));
      outputs.push_back(backbone.forward(torch::cat(run)));
    }
    start = end;
  }
  return outputs.size() == 1 ? outputs.front() : torch::cat(outputs);
}

bool is_batch_norm(const torch::nn::Module& m) {
  return dynamic_cast<const mdlab::BatchNormImpl*>(&m) != nullptr ||
         dynamic_cast<const torch::nn::BatchNorm1dImpl*>(&m) != nullptr ||
         dynamic_cast<const torch::nn::BatchNorm2dImpl*>(&m) != nullptr ||
         dynamic_cast<const torch::nn::BatchNorm3dImpl*>(&m) != nullptr;
}

}  // namespace

Dino::Dino(const mdlab::Options& options, mdlab::Context& context)
    : momentum_teacher_(options.get_float("momentum_teacher")),
      freeze_last_layer_(options.get_int("freeze_last_layer")),
      local_crops_(options.get_int("local_crops_number")),
      global_size_(options.get_int("global_crops_size")),
      local_size_(options.get_int("local_crops_size")),
      eval_teacher_(options.get_string("eval_encoder") == "teacher") {
  head_config_.out_dim = options.get_int("out_dim");
  head_config_.hidden_dim = options.get_int("hidden_dim");
  head_config_.bottleneck_dim = options.get_int("bottleneck_dim");
  head_config_.nlayers = options.get_int("nlayers");
  head_config_.use_bn = options.get_bool("use_bn_in_head");
  head_config_.norm_last_layer = options.get_bool("norm_last_layer");
  loss_config_.out_dim = head_config_.out_dim;
  loss_config_.warmup_teacher_temp = options.get_float("warmup_teacher_temp");
  loss_config_.teacher_temp = options.get_float("teacher_temp");
  loss_config_.warmup_teacher_temp_epochs = options.get_int("warmup_teacher_temp_epochs");
  loss_config_.student_temp = options.get_float("student_temp");
  loss_config_.center_momentum = options.get_float("center_momentum");
  loss_config_.global_crops = kGlobalCrops;

  // The schema's ranges are inclusive; these values would divide by zero or stall.
  for (const char* name : {"student_temp", "teacher_temp", "warmup_teacher_temp"})
    MDLAB_CHECK(options.get_float(name) > 0.0, "dino: {} {} must be positive", name,
                options.get_float(name));
  MDLAB_CHECK(
      head_config_.out_dim >= 1 && head_config_.hidden_dim >= 1 && head_config_.bottleneck_dim >= 1,
      "dino: out_dim {}, hidden_dim {} and bottleneck_dim {} must be positive",
      head_config_.out_dim, head_config_.hidden_dim, head_config_.bottleneck_dim);
  MDLAB_CHECK(head_config_.nlayers >= 1, "dino: nlayers {} is below 1", head_config_.nlayers);
  MDLAB_CHECK(momentum_teacher_ >= 0.0 && momentum_teacher_ <= 1.0,
              "dino: momentum_teacher {} is not in [0, 1]", momentum_teacher_);
  MDLAB_CHECK(loss_config_.center_momentum >= 0.0 && loss_config_.center_momentum <= 1.0,
              "dino: center_momentum {} is not in [0, 1]", loss_config_.center_momentum);
  MDLAB_CHECK(loss_config_.warmup_teacher_temp_epochs >= 0,
              "dino: warmup_teacher_temp_epochs {} is negative",
              loss_config_.warmup_teacher_temp_epochs);
  MDLAB_CHECK(freeze_last_layer_ >= 0, "dino: freeze_last_layer {} is negative",
              freeze_last_layer_);
  MDLAB_CHECK(local_crops_ >= 0, "dino: local_crops_number {} is negative", local_crops_);
  MDLAB_CHECK(global_size_ >= 1 && local_size_ >= 1,
              "dino: global_crops_size {} and local_crops_size {} must be positive", global_size_,
              local_size_);
  loss_ = register_module("dino_loss", DinoLoss(loss_config_, context.collectives()));
}

mdlab::OptionsSchema Dino::options_schema() {
  mdlab::OptionsSchema s;
  s.add_int("out_dim", 65536, "Prototypes K of the head's weight-normalised last layer")
      .range(1, 1 << 24);
  s.add_int("hidden_dim", 2048, "Width of the head's hidden MLP layers").range(1, 65536);
  s.add_int("bottleneck_dim", 256, "Width of the head's bottleneck before L2 normalisation")
      .range(1, 65536);
  s.add_int("nlayers", 3, "Linear layers in the head's MLP (1: one Linear to the bottleneck)")
      .range(1, 16);
  s.add_bool("use_bn_in_head", false, "BatchNorm1d after each hidden Linear of the head");
  s.add_bool("norm_last_layer", true,
             "Keep the last layer's row norms fixed at 1 (weight_g not trained); false trains "
             "them (less stable, DINO's choice for ViT-B)");
  s.add_float("warmup_teacher_temp", 0.04,
              "Teacher temperature at epoch 0, raised linearly to teacher_temp (> 0)")
      .range(0.0, 100.0);
  s.add_float("teacher_temp", 0.04,
              "Teacher temperature after the warm-up (> 0; DINO: above 0.07 tends to be unstable)")
      .range(0.0, 100.0);
  s.add_int("warmup_teacher_temp_epochs", 0,
            "Epochs of the linear teacher-temperature warm-up (0: teacher_temp from the start)")
      .range(0, 1000000);
  s.add_float("student_temp", 0.1, "Student temperature (> 0)").range(0.0, 100.0);
  s.add_float("center_momentum", 0.9,
              "EMA momentum of the centre subtracted from the teacher outputs, in [0, 1]")
      .range(0.0, 1.0);
  s.add_float("momentum_teacher", 0.996,
              "Teacher EMA momentum at step 0, raised to 1 by a per-step cosine schedule")
      .range(0.0, 1.0);
  s.add_int("freeze_last_layer", 1,
            "Epochs during which the head's last layer gets no update (the group's "
            "frozen_epochs)")
      .range(0, 1000000);
  s.add_int("local_crops_number", 8, "Local crops per image (slots local0 ...; 0: none)")
      .range(0, 64);
  s.add_int("global_crops_size", 224, "Side in pixels of the 2 global crops").range(1, 8192);
  s.add_int("local_crops_size", 96, "Side in pixels of the local crops").range(1, 8192);
  s.add_string("eval_encoder", "student",
               "Backbone that evaluators, export and the online probe use (DINO's own "
               "evaluation reads the teacher)")
      .one_of({"student", "teacher"});
  return s;
}

std::vector<mdlab::ViewSlot> Dino::view_slots() const {
  std::vector<mdlab::ViewSlot> slots = {{"global0", "global", global_size_, "dino_global1"},
                                        {"global1", "global", global_size_, "dino_global2"}};
  for (int64_t i = 0; i < local_crops_; ++i)
    slots.push_back({fmt::format("local{}", i), "local", local_size_, "dino_local"});
  return slots;
}

void Dino::attach(std::shared_ptr<mdlab::Backbone> backbone, mdlab::Context& context) {
  MDLAB_CHECK(backbone != nullptr, "dino: attach() needs a backbone");
  MDLAB_CHECK(!backbone_, "dino: attach() called twice");
  const int64_t dim = backbone->feature_dim();
  MDLAB_CHECK(dim > 0, "dino: backbone reports feature_dim {}", dim);
  auto teacher = mdlab::create_twin_backbone(context, *backbone, "dino teacher");

  backbone_ = register_module("backbone", std::move(backbone));
  head_config_.in_dim = dim;
  auto generator = context.generator("dino.head");
  head_ = register_module("head", DinoHead(head_config_, generator));
  teacher_backbone_ = register_module("teacher_backbone", std::move(teacher));
  // Overwritten from the student below; its own stream keeps the student head's draws fixed.
  auto teacher_generator = context.generator("dino.teacher_head");
  teacher_head_ = register_module("teacher_head", DinoHead(head_config_, teacher_generator));

  // Everything goes where the student backbone lives (the host may have moved it already).
  auto params = backbone_->parameters();
  if (!params.empty()) {
    const auto device = params.front().device();
    const auto dtype = params.front().scalar_type();
    head_->to(device, dtype);
    teacher_backbone_->to(device, dtype);
    teacher_head_->to(device, dtype);
    loss_->to(device);  // the centre stays float32
  } else {
    head_->to(context.device());
    teacher_backbone_->to(context.device());
    teacher_head_->to(context.device());
    loss_->to(context.device());
  }

  // The run's collectives as configured by now (the host may set them after construction).
  loss_->set_collectives(context.collectives());

  // The teacher starts as the student and then only follows its EMA (no gradient reaches it).
  momentum_.follow(*backbone_, *teacher_backbone_, "dino teacher backbone");
  momentum_.follow(*head_, *teacher_head_, "dino teacher head");
  train(is_training());
}

std::shared_ptr<mdlab::Backbone> Dino::encoder() const {
  return eval_teacher_ ? teacher_backbone_ : backbone_;
}

void Dino::train(bool on) {
  mdlab::Method::train(on);
  if (!on || !teacher_backbone_) return;
  teacher_backbone_->eval();
  for (const auto& m : teacher_backbone_->modules(/*include_self=*/false))
    if (is_batch_norm(*m)) m->train(true);
}

torch::Tensor Dino::student_forward(const std::vector<torch::Tensor>& views,
                                    torch::Tensor* features) {
  MDLAB_CHECK(backbone_ && head_, "dino: used before attach()");
  auto f = multi_crop_features(*backbone_, views);
  if (features) *features = f;
  return head_->forward(f);
}

torch::Tensor Dino::teacher_forward(const std::vector<torch::Tensor>& views,
                                    torch::Tensor* features) {
  MDLAB_CHECK(teacher_backbone_ && teacher_head_, "dino: used before attach()");
  torch::NoGradGuard no_grad;
  auto f = multi_crop_features(*teacher_backbone_, views);
  if (features) *features = f;
  return teacher_head_->forward(f);
}

mdlab::LossOutput Dino::compute_loss(const mdlab::Batch& batch, const mdlab::StepInfo& step) {
  MDLAB_CHECK(backbone_, "dino: compute_loss() before attach()");
  const size_t expected = static_cast<size_t>(kGlobalCrops + local_crops_);
  MDLAB_CHECK(batch.views.size() == expected,
              "dino: expected {} views (2 global + {} local crops), got {}", expected, local_crops_,
              batch.views.size());
  int64_t n = -1;
  for (size_t i = 0; i < batch.views.size(); ++i) {
    const auto& v = batch.views[i];
    MDLAB_CHECK(v.defined() && v.dim() == 4 && v.size(0) > 0,
                "dino: view {} must be a non-empty [N, C, H, W] batch, got {}", i,
                v.defined() ? c10::str(v.sizes()) : "undefined");
    if (n < 0) n = v.size(0);
    MDLAB_CHECK(v.size(0) == n, "dino: view {} has {} images, view 0 has {}", i, v.size(0), n);
  }

  torch::Tensor student_features, teacher_features;
  auto student_out = student_forward(batch.views, &student_features);
  auto teacher_out = teacher_forward({batch.views[0], batch.views[1]}, &teacher_features);
  auto loss = loss_->forward(student_out, teacher_out, step.epoch, is_training());

  const auto scalar = [&](double value) { return torch::full({}, value, loss.options()); };
  mdlab::LossOutput out;
  out.loss = loss;
  out.terms = {{"dino_loss", loss.detach()},
               {"teacher_temp", scalar(teacher_temperature(loss_config_, step.epoch))},
               {"teacher_momentum",
                scalar(mdlab::cosine_momentum(momentum_teacher_, step.step, step.total_steps))}};
  out.features = (eval_teacher_ ? teacher_features : student_features).slice(0, 0, n);
  return out;
}

std::vector<mdlab::ParamGroup> Dino::param_groups() {
  mdlab::ParamGroup decay{"default", {}, true, true, 1.0, 0};
  mdlab::ParamGroup no_decay{"no_decay", {}, false, false, 1.0, 0};
  // The last layer is 2-D (weight_v [K, d], weight_g [K, 1]): regularised as in DINO, and
  // held still in the first epochs (cancel_gradients_last_layer).
  mdlab::ParamGroup last{"last_layer", {}, true, true, 1.0, freeze_last_layer_};
  auto starts_with = [](const std::string& s, std::string_view prefix) {
    return s.compare(0, prefix.size(), prefix) == 0;
  };
  for (const auto& item : named_parameters()) {
    const auto& name = item.key();
    const auto& p = item.value();
    if (!p.requires_grad() || starts_with(name, "teacher_")) continue;
    if (starts_with(name, "head.last_layer."))
      last.params.push_back(p);
    else if (p.dim() <= 1 || (name.size() >= 5 && name.compare(name.size() - 5, 5, ".bias") == 0))
      no_decay.params.push_back(p);
    else
      decay.params.push_back(p);
  }
  std::vector<mdlab::ParamGroup> groups;
  for (auto* g : {&decay, &no_decay, &last})
    if (!g->params.empty()) groups.push_back(std::move(*g));
  return groups;
}

void Dino::after_optimizer_step(const mdlab::StepInfo& step) {
  if (momentum_.empty()) return;
  momentum_.update(mdlab::cosine_momentum(momentum_teacher_, step.step, step.total_steps));
}

}  // namespace mdlab::dino
