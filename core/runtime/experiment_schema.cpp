#include "experiment_schema.h"

#include "augment_config.h"

#include <mdlab/plugin.h>

namespace mdlab {
namespace {

// Upper bounds for options that are counts rather than sizes: every integer option has one,
// so no value reaches an allocation or a loop unchecked. Seeds up to 2^53 stay exact when
// written as TOML floats by other tools.
constexpr double kMaxSeed = 9007199254740992.0;  // 2^53
constexpr double kMaxCount = 1e12;

}  // namespace

ExperimentSchema experiment_schema() {
  ExperimentSchema schema;

  OptionsSchema experiment;
  experiment.add_string("name", "experiment", "Experiment name; runs go to output_dir/name/run-id");
  experiment.add_string("description", "", "Free text kept in the run log");
  experiment.add_int("seed", 0, "Seed of every random stream of the run").range(0, kMaxSeed);
  experiment.add_string("device", "cpu", "Device: \"cpu\", \"cuda\" or \"cuda:N\"");
  experiment.add_int("threads", 0, "LibTorch intra-op threads (0: LibTorch's default)")
      .range(0, 1024);
  experiment.add_string("output_dir", "runs",
                        "Parent folder of run directories (relative to the working directory)");
  experiment
      .add_string("backend", "auto",
                  "Process-group backend of a distributed run (docs/distributed.md): nccl "
                  "for CUDA where LibTorch has it, else gloo")
      .one_of({"auto", "gloo", "nccl"});
  experiment
      .add_float("distributed_timeout", 600,
                 "Seconds a distributed run waits for the other ranks (joining, a collective)")
      .range(1, 86400);
  schema.core.push_back({"experiment", experiment, false, "What the run is and where it runs"});

  OptionsSchema data;
  data.add_string("format", "idx",
                  "Dataset format (see `mdlab config-reference`: idx, folder, cifar)")
      .one_of({"idx", "folder", "cifar"});
  data.add_string("root", "/usr/share/datasets/fashion-mnist",
                  "Dataset folder (idx: train-images-idx3-ubyte[.gz], t10k-...; folder: "
                  "<root>/<split>/<class>/<image>; cifar: the binary batches)");
  data.add_string("train_split", "train", "Split the model trains on");
  data.add_string("test_split", "test",
                  "Split of the per-epoch validation and online probe (\"\" for none)");
  data.add_string("class_list", "",
                  "folder: file naming the classes to use, one per line (\"wnid\" or "
                  "\"folder wnid\"); other folders are ignored");
  data.add_float("fraction", 1.0, "Stratified fraction of the training split used (per class)")
      .range(1e-6, 1.0);
  data.add_float("test_fraction", 1.0, "Stratified fraction of the test split used")
      .range(1e-6, 1.0);
  data.add_int("channels", 0,
               "Channels of every view (0: as stored; 3 repeats gray, 1 converts to gray); a "
               "[data.augment.<name>] table may override it")
      .one_of_ints({0, 1, 3});
  data.add_string("on_error", "error",
                  "A corrupt or unreadable image: \"error\" stops naming the file, \"skip\" "
                  "replaces the sample and counts it")
      .one_of({"error", "skip"});
  data.add_string("mix", "real",
                  "Where views come from: real, synthetic, mixdiff (one view real, one "
                  "synthetic), mixing (real and synthetic images as one dataset), sequential "
                  "(real, then synthetic from switch_epoch)")
      .one_of({"real", "synthetic", "mixdiff", "mixing", "sequential"});
  data.add_int("switch_epoch", -1, "sequential: first synthetic epoch (-1: half the epochs)")
      .range(-1, kMaxCount);
  data.add_int_list("crop_split", {1, 6, 1, 2},
                    "Multi-crop mixdiff: [real global, real local, synthetic global, synthetic "
                    "local] crops")
      .range(0, 64);
  data.add_int("workers", -1, "Loader threads (-1: one per core; 0: on the training thread)")
      .range(-1, 1024);
  data.add_int("prefetch", 2, "Batches prepared ahead of the training step").range(1, 64);
  data.add_string("augment_on", "workers",
                  "Where training views are augmented: \"workers\" (the loader threads do every "
                  "step), or \"device\" (the threads decode and crop; flip, colour jitter, "
                  "grayscale, blur, solarize and normalisation run batched on the training "
                  "device, the same views: for GPU runs whose CPU is the bottleneck)")
      .one_of({"workers", "device"});
  schema.core.push_back({"data", data, false, "Real training and test data"});

  OptionsSchema synthetic;
  synthetic.add_string("root", "",
                       "Mirror tree of synthetic partners: the partner of key K is K.<ext> or "
                       "K_v0.<ext>, K_v1.<ext>, ...");
  synthetic.add_int("variations", 0, "Variations used per key (0: every one found)").range(0, 1000);
  synthetic
      .add_string("on_missing", "error",
                  "A sample without a partner: error (names the first keys and the count), "
                  "skip (drop the sample) or real (use the real image)")
      .one_of({"error", "skip", "real"});
  schema.core.push_back({"data.synthetic", synthetic, false,
                         "Synthetic partners of the training images (needed by the mix modes "
                         "synthetic, mixdiff, mixing and sequential)"});

  OptionsSchema generate;
  generate.add_string("out", "",
                      "Root of the mirror tree written by `mdlab generate` (\"\": [data.synthetic] "
                      "root)");
  generate.add_string_list("splits", {"train"},
                           "Splits of [data] to vary: \"train\" (train_split, after `fraction`) "
                           "and/or \"test\" (test_split)");
  generate.add_int("variations", 1, "Synthetic images per real image (K > 1: K_v0, K_v1, ...)")
      .range(1, 1000);
  generate
      .add_string("seeding", "per_image",
                  "Noise: per_image (seeded by seed, key and variation: independent of batching, "
                  "sharding and resumption) or diffusers (one generator seeded once, drawn batch "
                  "by batch, as the reference pipeline; for parity checks)")
      .one_of({"per_image", "diffusers"});
  generate
      .add_int("seed", -1,
               "Seed of the generation noise (-1: [experiment] seed, which also picks the "
               "`fraction` subset exactly as training does)")
      .range(-1, kMaxSeed);
  generate.add_string("image_format", "png", "File format of the outputs").one_of({"png", "jpg"});
  generate.add_int("jpeg_quality", 95, "Quality of jpg outputs").range(1, 100);
  generate.add_int("batch_size", 0, "Images per generator call (0: the generator's preference)")
      .range(0, 4096);
  generate.add_int("max_images", 0, "Vary only the first N images of each split (0: all)")
      .range(0, kMaxCount);
  generate
      .add_string("layout", "mirror",
                  "Output paths: mirror (<out>/<key>, what [data.synthetic] reads) or classes "
                  "(<out>/<split>/<class>/<key with / as _>: a labelled folder dataset, e.g. a "
                  "[datasets.<name>] set for probes and FID)")
      .one_of({"mirror", "classes"});
  schema.core.push_back({"generate", generate, false,
                         "`mdlab generate`: the synthetic mirror tree made by [generator]"});

  schema.core.push_back(
      {"data.augment.*", augment_schema(), false,
       "Augmentation of the view slots. The table name is a slot of the method (\"view1\", "
       "\"global0\"), a slot group (\"global\", \"local\") or \"all\"; a slot takes "
       "`all`, then its group's table, then its own, each key overriding the one before; "
       "keys not given come from the preset (by default the method's choice for the slot)."});
  schema.core.push_back({"data.eval", augment_schema(), false,
                         "Transform of the validation and evaluation images (default preset "
                         "\"eval\": Resize(size / 0.875) + CenterCrop(size))"});

  OptionsSchema datasets;
  datasets.add_string("format", "folder", "Dataset format (idx, folder, cifar)")
      .one_of({"idx", "folder", "cifar"});
  datasets.add_string("root", "", "Dataset folder (as [data] root)");
  datasets.add_string("train_split", "train",
                      "Split a probe trains on (\"\" for none: a test-only shift set)");
  datasets.add_string("test_split", "test", "Split a probe is measured on (\"\" for none)");
  datasets.add_string("class_list", "",
                      "folder: file naming the classes (\"wnid\" or \"folder wnid\" per line; "
                      "maps folders named by index, as ImageNet-V2's, to WordNet ids)");
  datasets
      .add_string("labels", "own",
                  "own: the dataset's classes (transfer); training: restricted to and "
                  "relabelled into the training classes by name (shift sets)")
      .one_of({"own", "training"});
  datasets.add_float("fraction", 1.0, "Stratified fraction of the train split used")
      .range(1e-6, 1.0);
  datasets.add_float("test_fraction", 1.0, "Stratified fraction of the test split used")
      .range(1e-6, 1.0);
  datasets.add_int("size", 0, "Side of the evaluation images (0: that of the training data)")
      .range(0, 16384);
  datasets.add_string("on_error", "error", "A corrupt image: \"error\" or \"skip\"")
      .one_of({"error", "skip"});
  schema.core.push_back(
      {"datasets.*", datasets, false,
       "Further datasets for the evaluators, by name: shift sets (labels = \"training\") and "
       "transfer sets. An evaluator reads them as splits \"<name>/train\" and \"<name>/test\", "
       "through the [data.eval] transform (Resize + CenterCrop for folders, Resize for "
       "fixed-size formats and for folders beside fixed-size training data)."});

  OptionsSchema train;
  train.add_int("epochs", 1, "Passes over the training set").range(1, 100000);
  train
      .add_int("batch_size", 256,
               "Samples per step in each process (a distributed run's effective batch is "
               "batch_size x processes)")
      .range(1, 1 << 20);
  train.add_string("optimizer", "sgd", "Optimizer").one_of({"sgd", "adamw", "lars"});
  train.add_float("lr", 0.1, "Peak learning rate (before scale_lr_by_batch)").range(0, 100);
  train.add_bool("scale_lr_by_batch", false,
                 "Use lr * effective batch / 256 as the peak rate (effective batch: batch_size "
                 "x processes)");
  train.add_float("min_lr", 0.0, "Floor of the cosine decay").range(0, 100);
  train.add_float("warmup_epochs", 0.0, "Linear warm-up length in epochs").range(0, 100000);
  train.add_float("momentum", 0.9, "SGD momentum").range(0, 1);
  train.add_float("weight_decay", 1e-4, "Weight decay (not on biases and norm parameters)")
      .range(0, 10);
  train
      .add_optional("weight_decay_end", OptionType::Float,
                    "Weight decay at the last step, reached by a cosine (DINO: 0.04 -> 0.4); "
                    "constant when absent")
      .range(0, 10);
  train.add_float("lars_eta", 0.02, "LARS trust coefficient").range(0, 10);
  train.add_bool("lars_clip_lr", false, "LARS: clip the trust ratio by the learning rate");
  train.add_float("grad_clip", 0.0, "Clip gradient norms to this (0: off)").at_least(0);
  train
      .add_string("grad_clip_mode", "global",
                  "global: the norm of all gradients together; per_parameter: each tensor's "
                  "(DINO)")
      .one_of({"global", "per_parameter"});
  train.add_int("log_every", 50, "Steps between metric records").range(1, 1000000);
  train.add_int("max_steps", 0, "Stop after this many steps in all (0: no limit)")
      .range(0, kMaxCount);
  train.add_bool("validate", true, "Evaluate the method's loss terms on the test split each epoch");
  train.add_bool("sync_batch_norm", true,
                 "Distributed runs: BatchNorm statistics over every process's batch "
                 "(SyncBatchNorm, as the SimCLR, Barlow Twins and DINO references train); "
                 "false: each process's own");
  train.add_float("flush_seconds", 5.0, "Seconds between run-log flushes").range(0.01, 3600);
  train.add_int("checkpoint_every_epochs", 1, "Checkpoint at the end of every N-th epoch")
      .range(1, 100000);
  train.add_int("checkpoint_every_steps", 0, "Also checkpoint every N steps (0: off)")
      .range(0, kMaxCount);
  train.add_int("keep_last", 2, "Number of newest checkpoints kept").range(1, 1000);
  train
      .add_int("max_skipped_steps", 0,
               "Steps with a non-finite loss skipped (no update) before the run fails; 0 fails "
               "at the first")
      .range(0, kMaxCount);
  train
      .add_string("precision", "fp32",
                  "fp32; bf16: autocast to bfloat16 (CPU or CUDA); fp16: autocast to float16 "
                  "with dynamic loss scaling (CUDA only)")
      .one_of({"fp32", "bf16", "fp16"});
  train.add_bool("online_probe", true,
                 "Train a linear probe on detached features of view 0 alongside; report its "
                 "top-1/top-5 on the test split each epoch");
  train.add_bool("probe_projector", false,
                 "Also probe the layers the method offers besides the encoder (SimCLR's and "
                 "Barlow Twins' projector), as val/probe_<layer>_top1");
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

ExperimentSchema generate_schema() {
  ExperimentSchema schema = experiment_schema();
  for (auto& section : schema.plugins) {
    if (section.path == "generator") section.required = true;
    if (section.path == "backbone" || section.path == "method") section.required = false;
  }
  return schema;
}

}  // namespace mdlab
