#include "experiment_schema.h"

#include <mdlab/plugin.h>

namespace mdlab {

ExperimentSchema experiment_schema() {
  ExperimentSchema schema;

  OptionsSchema experiment;
  experiment.add_string("name", "experiment",
                        "Experiment name; runs go to output_dir/name/run-id");
  experiment.add_string("description", "", "Free text kept in the run log");
  experiment.add_int("seed", 0, "Seed of every random stream of the run").at_least(0);
  experiment.add_string("device", "cpu", "Device: \"cpu\", \"cuda\" or \"cuda:N\"");
  experiment.add_int("threads", 0, "LibTorch intra-op threads (0: LibTorch's default)")
      .range(0, 1024);
  experiment.add_string("output_dir", "runs",
                        "Parent folder of run directories (relative to the working directory)");
  schema.core.push_back({"experiment", experiment, false, "What the run is and where it runs"});

  OptionsSchema data;
  data.add_string("format", "idx", "Dataset format").one_of({"idx"});
  data.add_string("root", "/usr/share/datasets/fashion-mnist",
                  "Dataset folder (IDX: train-images-idx3-ubyte[.gz], t10k-...)");
  data.add_float("fraction", 1.0, "Stratified fraction of the training split used (per class)")
      .range(1e-6, 1.0);
  data.add_float("test_fraction", 1.0, "Stratified fraction of the test split used")
      .range(1e-6, 1.0);
  data.add_int("channels", 0, "Channels fed to the backbone (0: as stored; 3 repeats gray)")
      .one_of_ints({0, 1, 3});
  schema.core.push_back({"data", data, false, "Real training and test data"});

  OptionsSchema train;
  train.add_int("epochs", 1, "Passes over the training set").range(1, 100000);
  train.add_int("batch_size", 256, "Samples per step").range(1, 1 << 20);
  train.add_string("optimizer", "sgd", "Optimizer").one_of({"sgd", "adamw", "lars"});
  train.add_float("lr", 0.1, "Peak learning rate (before scale_lr_by_batch)").range(0, 100);
  train.add_bool("scale_lr_by_batch", false, "Use lr * batch_size / 256 as the peak rate");
  train.add_float("min_lr", 0.0, "Floor of the cosine decay").range(0, 100);
  train.add_float("warmup_epochs", 0.0, "Linear warm-up length in epochs").range(0, 100000);
  train.add_float("momentum", 0.9, "SGD momentum").range(0, 1);
  train.add_float("weight_decay", 1e-4, "Weight decay (not on biases and norm parameters)")
      .range(0, 10);
  train.add_optional("weight_decay_end", OptionType::Float,
                     "Weight decay at the last step, reached by a cosine (DINO: 0.04 -> 0.4); "
                     "constant when absent")
      .range(0, 10);
  train.add_float("lars_eta", 0.02, "LARS trust coefficient").range(0, 10);
  train.add_bool("lars_clip_lr", false, "LARS: clip the trust ratio by the learning rate");
  train.add_float("grad_clip", 0.0, "Clip gradient norms to this (0: off)").at_least(0);
  train.add_string("grad_clip_mode", "global",
                   "global: the norm of all gradients together; per_parameter: each tensor's "
                   "(DINO)")
      .one_of({"global", "per_parameter"});
  train.add_int("log_every", 50, "Steps between metric records").range(1, 1000000);
  train.add_int("max_steps", 0, "Stop after this many steps in all (0: no limit)").at_least(0);
  train.add_bool("validate", true, "Evaluate the method's loss terms on the test split each epoch");
  train.add_float("flush_seconds", 5.0, "Seconds between run-log flushes").range(0.01, 3600);
  train.add_int("checkpoint_every_epochs", 1, "Checkpoint at the end of every N-th epoch")
      .range(1, 100000);
  train.add_int("checkpoint_every_steps", 0, "Also checkpoint every N steps (0: off)")
      .at_least(0);
  train.add_int("keep_last", 2, "Number of newest checkpoints kept").range(1, 1000);
  train.add_int("max_skipped_steps", 0,
                "Steps with a non-finite loss skipped (no update) before the run fails; 0 fails "
                "at the first")
      .at_least(0);
  train.add_string("precision", "fp32",
                   "fp32; bf16: autocast to bfloat16 (CPU or CUDA); fp16: autocast to float16 "
                   "with dynamic loss scaling (CUDA only)")
      .one_of({"fp32", "bf16", "fp16"});
  train.add_bool("online_probe", true,
                 "Train a linear probe on detached features of view 0 alongside; report its "
                 "top-1/top-5 on the test split each epoch");
  train.add_float("probe_lr", 1e-4, "Learning rate of the online probe (AdamW)").range(0, 10);
  train.add_float("probe_weight_decay", 0.0, "Weight decay of the online probe").range(0, 10);
  schema.core.push_back({"train", train, false, "The training loop"});

  schema.plugins.push_back({"backbone", MDLAB_PLUGIN_BACKBONE, false, true,
                            "The encoder (`name` picks a backbone plugin)"});
  schema.plugins.push_back({"method", MDLAB_PLUGIN_METHOD, false, true,
                            "The training objective (`name` picks a method plugin)"});
  schema.plugins.push_back({"generator", MDLAB_PLUGIN_GENERATOR, false, false,
                            "The image-variation model used by `mdlab generate`"});
  schema.plugins.push_back({"eval", MDLAB_PLUGIN_EVALUATOR, true, false,
                            "Evaluations run after training, one [[eval]] table each"});
  return schema;
}

}  // namespace mdlab
