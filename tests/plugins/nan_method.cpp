// A test method whose loss turns NaN at a chosen step: exercises the trainer's non-finite
// loss guard (run status `failed`, the step and the loss terms named, exit 1). Its head can
// also be declared frozen for the first epochs (the mechanism DINO's last layer uses), and its
// validation chosen (Method::validation_views: "plain", "augmented" or "none").
#include <mdlab/plugin.h>

#include <torch/torch.h>

#include <limits>
#include <string>

namespace {

class NanAtStep final : public mdlab::Method {
 public:
  NanAtStep(const mdlab::Options& options, mdlab::Context&)
      : nan_at_step_(options.get_int("nan_at_step")),
        freeze_head_epochs_(options.get_int("freeze_head_epochs")),
        validation_(options.get_string("validation")) {}

  static mdlab::OptionsSchema options_schema() {
    mdlab::OptionsSchema s;
    s.add_int("nan_at_step", 3, "Global step from which the loss is NaN").at_least(0);
    s.add_int("freeze_head_epochs", 0, "Epochs during which the head gets no update").at_least(0);
    s.add_string("validation", "plain", "How validation batches are built")
        .one_of({"plain", "augmented", "none"});
    return s;
  }

  std::vector<mdlab::ViewSlot> view_slots() const override { return {{"image", "", 0, "flip"}}; }

  void attach(std::shared_ptr<mdlab::Backbone> backbone, mdlab::Context&) override {
    backbone_ = register_module("backbone", backbone);
    head_ = register_module("head", torch::nn::Linear(backbone_->feature_dim(), 10));
  }

  std::shared_ptr<mdlab::Backbone> encoder() const override { return backbone_; }

  mdlab::ValidationViews validation_views() const override {
    if (validation_ == "none") return mdlab::ValidationViews::None;
    return validation_ == "augmented" ? mdlab::ValidationViews::Augmented
                                      : mdlab::ValidationViews::Plain;
  }

  std::vector<mdlab::ParamGroup> param_groups() override {
    mdlab::ParamGroup body{"backbone", backbone_->parameters(), true, true, 1.0, 0};
    mdlab::ParamGroup head{"head", head_->parameters(), false, false, 1.0, freeze_head_epochs_};
    return {body, head};
  }

  mdlab::LossOutput compute_loss(const mdlab::Batch& batch, const mdlab::StepInfo& step) override {
    auto logits = head_->forward(backbone_->forward(batch.views[0]));
    auto ce = torch::nn::functional::cross_entropy(logits, batch.labels);
    if (step.step >= nan_at_step_) ce = ce * std::numeric_limits<float>::quiet_NaN();
    return {ce, {{"ce", ce.detach()}}, torch::Tensor()};  // no features: no online probe
  }

 private:
  int64_t nan_at_step_;
  int64_t freeze_head_epochs_;
  std::string validation_;
  std::shared_ptr<mdlab::Backbone> backbone_;
  torch::nn::Linear head_{nullptr};
};

}  // namespace

MDLAB_PLUGIN(NanAtStep, mdlab::Method, "test-nan", "1.0.0",
             "Test method: cross-entropy that turns NaN at a given step")
