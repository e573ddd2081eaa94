// Method: a self-supervised (or supervised) objective over views of images.
//
// A method declares its view slots (SimCLR: two; DINO: G global + L local crops); the data
// pipeline fills each slot with an augmented view whose source (real or synthetic) the
// experiment decides, so a method never knows where pixels came from. Views arrive as
// float32 [N, C, H, W] on the context's device; labels as int64 [N] (-1 when unknown).
#pragma once

#include <mdlab/backbone.h>
#include <mdlab/context.h>
#include <mdlab/export.h>

#include <torch/nn/module.h>
#include <torch/types.h>

#include <filesystem>
#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace mdlab {

/// One input slot of a method.
struct MDLAB_SDK_API ViewSlot {
  std::string name;          ///< stable name ("view1", "global0", "local3")
  std::string group;         ///< crop group ("global", "local"); "" when not multi-crop
  int64_t default_size = 0;  ///< crop side in pixels the method expects (0: dataset size)
  std::string augment;       ///< augmentation preset used when the experiment names none
};

/// A training batch: one tensor per view slot, in view_slots() order.
struct MDLAB_SDK_API Batch {
  std::vector<torch::Tensor> views;  ///< [N, C, H, W] float32 per slot
  torch::Tensor labels;              ///< [N] int64, -1 where unknown
};

/// Position of a step in the run, for schedules inside a method.
struct MDLAB_SDK_API StepInfo {
  int64_t step = 0;             ///< global step, 0-based
  int64_t epoch = 0;            ///< epoch, 0-based
  int64_t steps_per_epoch = 1;  ///< steps in one epoch
  int64_t total_steps = 1;      ///< steps in the whole run
};

/// The loss of a batch and the named terms that make it up (logged as metrics).
struct MDLAB_SDK_API LossOutput {
  torch::Tensor loss;                                        ///< scalar to minimise
  std::vector<std::pair<std::string, torch::Tensor>> terms;  ///< scalars, detached
  /// Encoder features [N, D] of view 0 when the method computed them anyway (the online
  /// probe then reuses them, detached); undefined otherwise (the trainer computes them).
  torch::Tensor features;
  /// View-0 rows [N, D_k] of the layers named by Method::probe_layers() (e.g. the projector's),
  /// for the optional online probes on them; detached by the trainer.
  std::vector<std::pair<std::string, torch::Tensor>> probe_features;
};

/// Parameters sharing optimiser treatment.
struct MDLAB_SDK_API ParamGroup {
  std::string name;                   ///< "default", "no_decay", "last_layer", ...
  std::vector<torch::Tensor> params;  ///< parameters of the group
  bool weight_decay = true;           ///< apply weight decay
  bool lars_adaptation = true;        ///< apply the LARS trust ratio
  double lr_scale = 1.0;              ///< multiplier on the scheduled learning rate
  int64_t frozen_epochs = 0;          ///< no updates during the first N epochs (DINO's last layer)
};

/// How the per-epoch validation pass builds a method's batches from the test split.
enum class ValidationViews : uint32_t {
  /// Each slot gets its training augmentation, drawn with one seed fixed for the whole run,
  /// so `val/` terms mean what the `train/` ones mean and compare across epochs. The default
  /// for methods with more than one slot.
  Augmented = 0,
  /// Every slot gets the un-augmented evaluation view. The default for one-slot methods
  /// (supervised, reconstruction), whose loss is meaningful on clean images.
  Plain = 1,
  /// No validation loss; the online probes are still measured.
  None = 2,
};

/// A training objective; owns the heads it builds on top of the backbone.
class MDLAB_SDK_API Method : public torch::nn::Module {
 public:
  ~Method() override;
  /// The view slots this method consumes, in Batch::views order.
  virtual std::vector<ViewSlot> view_slots() const = 0;
  /// Builds heads for `backbone` (registered as submodules) and keeps the backbone.
  virtual void attach(std::shared_ptr<Backbone> backbone, Context& context) = 0;
  /// The encoder whose features evaluators measure.
  virtual std::shared_ptr<Backbone> encoder() const = 0;
  /// Loss of a batch, with autograd graph.
  virtual LossOutput compute_loss(const Batch& batch, const StepInfo& step) = 0;
  /// Parameter groups; the default puts 1-D tensors (biases, norms) in a group without
  /// weight decay or LARS adaptation and everything else in "default".
  virtual std::vector<ParamGroup> param_groups();
  /// How validation batches are built (ValidationViews). Default: Augmented with more than
  /// one view slot, else Plain. Online probes always read un-augmented views.
  virtual ValidationViews validation_views() const;
  /// Called after each optimiser step (EMA teachers, centres).
  virtual void after_optimizer_step(const StepInfo& step);
  /// Layers besides the encoder that online probes may read, as (name, width), name in
  /// [a-z0-9_]; compute_loss fills LossOutput::probe_features with them. Default: none.
  virtual std::vector<std::pair<std::string, int64_t>> probe_layers() const;
  /// Writes the model this method trains besides the encoder (a generator's denoiser, its
  /// noise schedule, `model_index.json`) into the folder `dir`, for `mdlab export-model`.
  /// The host has created `dir` and written the encoder to `dir/encoder/` (config.json with
  /// the backbone plugin, its options and the input preprocessing; model.safetensors).
  /// The default throws mdlab::Error: most methods train only their encoder.
  virtual void export_model(const std::filesystem::path& dir);
};

}  // namespace mdlab
