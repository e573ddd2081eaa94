// The data side of a run, built from the [data] tables of a validated experiment and the
// method's view slots: the real sources (training and test split), the stratified subset,
// the synthetic partners, the mix plan, one augmentation pipeline per slot, and the
// loaders that feed the trainer.
//
// Slot pipelines: a slot's AugmentConfig starts from the preset named by the most specific
// table that names one, else the method's ViewSlot::augment preset, else "none"; then the
// keys of [data.augment.all], [data.augment.<group>] and [data.augment.<slot>] apply in that
// order. The size defaults to the method's ViewSlot::default_size, or when that is 0 to the
// dataset's image size (fixed-size formats: idx, cifar), else to the preset's; the channels
// to [data] channels. Validation and evaluation use [data.eval] at each slot's size, without
// randomness: preset "eval" (Resize(size / 0.875) + CenterCrop) for image folders, "none"
// (the image as it is when the size is the dataset's) for fixed-size formats. Methods whose
// validation is ValidationViews::Augmented validate on their training views instead, drawn
// from a seed fixed for the run, plus slot 0's evaluation view for the probes.
#pragma once

#include "batch_augment.h"
#include "loader.h"
#include "validate.h"
#include "view_transform.h"

#include <mdlab/method.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace mdlab {

/// What the loaders need besides the experiment: run-wide values from other tables.
struct DataRunSettings {
  int64_t epochs = 1;       ///< [train] epochs (sequential mode's switch, mix plan)
  int64_t batch_size = 1;   ///< [train] batch_size
  uint64_t seed = 0;        ///< [experiment] seed
  bool pin_memory = false;  ///< page-locked batches (CUDA runs)
  int64_t rank = 0;         ///< this process's rank (its shard of every step)
  int64_t world_size = 1;   ///< processes sharing each step
  /// How validation batches are built (Method::validation_views()).
  ValidationViews validation = ValidationViews::Plain;
};

/// The built data pipeline of a run.
struct TrainingPipeline {
  std::shared_ptr<const DataSource> train_source;                ///< the training split (whole)
  std::shared_ptr<const DataSource> test_source;                 ///< the test split, or null
  std::vector<std::string> classes;                              ///< class names, index = label
  std::vector<std::unique_ptr<ViewTransform>> train_transforms;  ///< one per slot
  std::vector<std::unique_ptr<ViewTransform>> eval_transforms;   ///< one per slot
  /// Per slot with `augment_on = "device"`: the batched second half of train_transforms
  /// (empty otherwise); the trainer applies it after moving a batch to the device.
  std::vector<std::unique_ptr<BatchAugment>> train_finishers;
  std::unique_ptr<Loader> train;  ///< training batches
  /// Validation batches (no shuffle, all samples), or null. With ValidationViews::Augmented,
  /// each slot's training transform drawn from one fixed seed, then one more view: slot 0's
  /// evaluation view, for the online probes; otherwise each slot's evaluation view.
  std::unique_ptr<Loader> test;
  std::vector<std::string> summary;  ///< lines for the log and the run log
};

/// The pipeline of slot `slot` from the [data.augment.*] tables of `config`; `dataset_size`
/// (> 0) is the side used when neither the tables nor the method give one.
AugmentConfig slot_augment_config(const ValidatedConfig& config, const ViewSlot& slot,
                                  int default_channels, int dataset_size = 0);

/// The evaluation pipeline at `size` pixels (0: the preset's) from [data.eval], starting from
/// `default_preset` unless the table names one.
AugmentConfig eval_augment_config(const ValidatedConfig& config, int size, int default_channels,
                                  std::string_view default_preset = "eval");

/// Loader threads of `[data] workers` (-1: one per core).
int worker_count(const Options& data);

/// The side of the images of a fixed-size format (idx, cifar: the first sample's shorter
/// side), or 0 for formats whose images vary (folder).
int dataset_image_size(const DataSource& source, const std::string& format);

/// Throws ConfigError, located at the table, for a [data.augment.<name>] table whose name is
/// no slot, group or "all" of `slots` (listing them).
void check_augment_tables(const ValidatedConfig& config, const std::vector<ViewSlot>& slots);

/// Opens the sources and builds the loaders; throws mdlab::Error (or DataError) with the
/// file, folder or key at fault.
TrainingPipeline build_training_pipeline(const ValidatedConfig& config,
                                         const std::vector<ViewSlot>& slots,
                                         const DataRunSettings& run);

/// The source of split `split` of the [data] table (format, root, class list), restricted to
/// `train_classes` when given (shift datasets).
std::shared_ptr<const DataSource> open_data_split(const Options& data, const std::string& split,
                                                  std::vector<std::string> train_classes = {});

}  // namespace mdlab
