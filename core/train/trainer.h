// The training loop: epochs x steps of a Method over the loader's batches, with a warm-up + cosine
// learning-rate schedule, periodic metrics (loss terms, lr, images/s, data-wait fraction),
// a validation pass per epoch, checkpoints, a non-finite-loss guard, and SIGINT/SIGTERM
// handled between steps.
//
// Resume is exact: a checkpoint holds the weights (safetensors, reference names), the
// optimizer state, LibTorch's CPU generator, the position (epoch, batch in epoch, global
// step) and the partial metric window; the loader's batches are a function of (seed, epoch,
// step), so it restarts at the checkpoint's batch.
// A run resumed from any checkpoint, after SIGINT, SIGTERM or SIGKILL, produces the same
// weights and metrics as an uninterrupted one (bit-identical on CPU with a fixed thread
// count); metric points logged after the checkpoint by the interrupted process are dropped.
//
// Data parallelism (set_process_group): every rank runs this loop on its shard of each step's
// global batch (the loader's sharding). Parameters and buffers are broadcast from rank 0 at
// the start; gradients are averaged by a GradientReducer overlapped with backward (the online
// probes' by a second one); the decisions that end or skip a step (a signal, a non-finite
// loss) are agreed by all ranks, so none waits in a collective another has left; window
// metrics and validation means are reduced over the ranks; rank 0 alone writes the run log
// and checkpoints (the others get a null run log), and every rank resumes from them.
//
// Checkpoint layout: <run>/checkpoints/step-<global step, 9 digits>/{model.safetensors,
// optimizer.pt, state.safetensors, state.toml}, and <run>/checkpoints/latest naming the
// newest; each is written to a temporary folder and renamed, so a crash (or a full disk)
// leaves the previous checkpoint intact.
#pragma once

#include "loader.h"

#include <mdlab/method.h>
#include <mdlab/options.h>

#include <filesystem>
#include <memory>
#include <optional>
#include <string>

namespace mdlab {

class BatchAugment;
class ProcessGroup;
class RunContext;
class RunLog;

/// Settings of the [train] table.
struct TrainSettings {
  int64_t epochs = 1;             ///< passes over the training set
  int64_t batch_size = 256;       ///< samples per step (the last partial batch is dropped)
  std::string optimizer = "sgd";  ///< "sgd", "adamw" or "lars"
  double lr = 0.1;                ///< peak learning rate
  double min_lr = 0.0;            ///< floor of the cosine decay
  double warmup_epochs = 0.0;     ///< linear warm-up length, in epochs
  double momentum = 0.9;          ///< SGD momentum
  double weight_decay = 1e-4;     ///< decoupled for AdamW, L2 for SGD/LARS; 0 on no-decay groups
  double weight_decay_end = -1;   ///< cosine target of the weight decay (< 0: constant)
  double lars_eta = 0.02;         ///< LARS trust coefficient
  bool lars_clip_lr = false;      ///< LARS trust ratio clipped by the learning rate
  double grad_clip = 0;           ///< gradient-norm clip (0: off)
  bool grad_clip_per_parameter =
      false;                       ///< clip each tensor's norm (DINO) instead of the global one
  int64_t max_skipped_steps = 0;   ///< non-finite steps skipped before failing (0: fail at once)
  std::string precision = "fp32";  ///< "fp32", "bf16" (autocast) or "fp16" (CUDA, loss scaling)
  bool online_probe = true;        ///< train a linear probe on detached features alongside
  bool probe_projector = false;    ///< also probe the method's probe_layers() (projector)
  double probe_lr = 1e-4;          ///< the probe's AdamW learning rate
  double probe_weight_decay = 0;   ///< the probe's AdamW weight decay
  int64_t log_every = 50;          ///< steps between metric reads
  int64_t max_steps = 0;           ///< stop after this many steps in total (0: no limit)
  bool validate = true;            ///< run the method's loss on the test split each epoch
  bool sync_batch_norm = true;     ///< distributed: BatchNorm statistics over every rank
  int64_t checkpoint_every_epochs = 1;  ///< checkpoint at the end of every N-th epoch
  int64_t checkpoint_every_steps = 0;   ///< also every N global steps (0: off)
  int64_t keep_last = 2;                ///< checkpoints kept (the newest ones)
};

/// Reads TrainSettings from validated [train] options; `world_size` processes share each
/// step (scale_lr_by_batch then uses the effective batch, batch_size * world_size).
TrainSettings train_settings_from(const Options& options, int64_t world_size = 1);

/// How a training run ended.
struct TrainOutcome {
  enum class Status { Completed, Failed, Interrupted } status = Status::Completed;
  std::string reason;                                      ///< why it failed or stopped
  int64_t steps = 0;                                       ///< global steps done
  std::vector<std::pair<std::string, double>> validation;  ///< last validation means
};

/// Runs a Method's training.
class Trainer {
 public:
  /// `train` feeds the steps (its batch size is the step's); `val` (may be null) the
  /// per-epoch validation and the online probe's test; `num_classes` sizes the probe.
  /// `run_log` is null on the ranks that do not write (all but rank 0).
  Trainer(Method& method, Loader& train, Loader* val, int64_t num_classes, TrainSettings settings,
          RunContext& context, RunLog* run_log);
  ~Trainer();
  /// The batched second halves of deferred training slots (TrainingPipeline::train_finishers),
  /// in slot order; borrowed, they must outlive the trainer.
  void set_view_finishers(std::vector<const BatchAugment*> finishers);
  /// Trains data-parallel over `group` (must outlive run(); null: one process).
  void set_process_group(ProcessGroup* group);
  /// Trains from the newest checkpoint under `checkpoints` if there is one, else from scratch.
  TrainOutcome run(const std::filesystem::path& checkpoints);

 private:
  struct State;
  std::unique_ptr<State> state_;
};

/// The newest checkpoint folder under `checkpoints` (named by its `latest` file), or an
/// empty path when there is no `latest`. Throws mdlab::Error naming the file when `latest`
/// names anything but a step folder of `checkpoints` (step-NNNNNNNNN) or that folder lacks a
/// file of a checkpoint.
std::filesystem::path latest_checkpoint(const std::filesystem::path& checkpoints);

/// Where a resumed run continues: latest_checkpoint(checkpoints), or nullopt when the run
/// never completed a checkpoint (it then restarts at step 0). `recorded_step` is the last
/// checkpoint the run log records (its meta `checkpoint_step`). Throws, so that nothing is
/// retrained over, when the log records a checkpoint that `latest` no longer names, when step
/// folders exist without `latest`, or when `latest` points before the recorded step.
std::optional<std::filesystem::path> resume_checkpoint(const std::filesystem::path& checkpoints,
                                                       std::optional<int64_t> recorded_step);

/// Learning rate at `step` of `total` with `warmup` warm-up steps: linear from 0 to
/// `base`, then cosine to `floor`.
double warmup_cosine(int64_t step, int64_t total, int64_t warmup, double base, double floor);

}  // namespace mdlab
