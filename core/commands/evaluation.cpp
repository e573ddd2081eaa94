#include "evaluation.h"

#include "atomic_file.h"
#include "error_text.h"
#include "eval_data.h"
#include "exit_codes.h"
#include "image_encode.h"
#include "progress.h"
#include "run_command.h"
#include "run_context.h"
#include "run_log.h"
#include "run_log_reader.h"
#include "run_provenance.h"
#include "trainer.h"
#include "training_data.h"

#include <mdlab/error.h>
#include <mdlab/evaluator.h>
#include <mdlab/safetensors.h>
#include <mdlab/state_dict.h>

#include <fmt/format.h>
#include <torch/torch.h>

#include <cstring>
#include <map>

namespace fs = std::filesystem;

namespace mdlab {
namespace {

// An image artifact: uint8 [H, W] or [H, W, 3].
bool is_image(const torch::Tensor& t) {
  return t.scalar_type() == torch::kUInt8 &&
         (t.dim() == 2 || (t.dim() == 3 && (t.size(2) == 1 || t.size(2) == 3)));
}

void write_artifact(const Artifact& a, const std::string& group, RunContext& context,
                    RunLog& run_log) {
  MDLAB_CHECK(!a.name.empty() && a.data.defined(),
              "evaluator '{}' returned an unnamed or empty "
              "artifact",
              group);
  const torch::Tensor data = a.data.contiguous().cpu();
  std::vector<int64_t> shape(data.sizes().begin(), data.sizes().end());
  const std::string name = fmt::format("eval/{}/{}", group, a.name);
  if (data.scalar_type() == torch::kUInt8) {
    run_log.write_artifact(name, shape, data.data_ptr<uint8_t>());
  } else {
    const torch::Tensor f = data.to(torch::kFloat);
    run_log.write_artifact(name, shape, f.data_ptr<float>());
  }
  if (is_image(data) && !context.run_dir().empty()) {
    ImageU8 img;
    img.resize(static_cast<int>(data.size(0)), static_cast<int>(data.size(1)),
               data.dim() == 3 ? static_cast<int>(data.size(2)) : 1);
    std::memcpy(img.data.data(), data.data_ptr<uint8_t>(), img.data.size());
    const fs::path dir = context.run_dir() / "eval" / group;
    fs::create_directories(dir);
    write_png_file(dir / (a.name + ".png"), img);
  }
}

}  // namespace

int evaluation_size(const Experiment& experiment, const std::vector<ViewSlot>& slots) {
  const SectionValues* eval = experiment.config.find("data.eval");
  if (eval && eval->present && eval->options.has("size") &&
      experiment.table.at_path("data.eval.size").node())
    return static_cast<int>(eval->options.get_int("size"));
  if (!slots.empty()) {
    const Options& data = experiment.config.find("data")->options;
    const int channels = static_cast<int>(data.get_int("channels"));
    auto source = open_data_split(data, data.get_string("train_split"));
    const int natural = dataset_image_size(*source, data.get_string("format"));
    return slot_augment_config(experiment.config, slots[0], channels, natural).size;
  }
  return 0;
}

size_t run_evaluations(const Experiment& experiment, const PluginRegistry& registry,
                       Backbone& encoder, int eval_size, RunContext& context, RunLog& run_log) {
  const auto entries = experiment.config.find_all("eval");
  if (entries.empty()) return 0;
  const Options& e = experiment.config.find("experiment")->options;
  const std::string model = e.get_string("name");

  encoder.eval();
  torch::NoGradGuard no_grad;
  EvalDataSettings settings;
  settings.eval_size = eval_size;
  settings.seed = static_cast<uint64_t>(e.get_int("seed"));
  const SectionValues* train = experiment.config.find("train");
  settings.batch_size = train ? train->options.get_int("batch_size") : 256;
  CoreEvalData data(experiment.config, encoder, context, settings);

  std::map<std::string, int> uses;
  size_t written = 0;
  for (const SectionValues* entry : entries) {
    const int n = ++uses[entry->plugin];
    const std::string group = n == 1 ? entry->plugin : fmt::format("{}_{}", entry->plugin, n);
    context.log(LogLevel::Info, fmt::format("eval {}: {}", entry->path, entry->plugin));
    EvalResult result;
    try {
      auto evaluator = registry.create_evaluator(entry->plugin, entry->options, context);
      result = evaluator->evaluate(encoder, data, context);
    } catch (const Error& error) {
      MDLAB_THROW("[{}] (evaluator '{}'): {}", entry->path, entry->plugin, error.message());
    }
    for (Table& table : result.tables) {
      for (auto& row : table.rows)
        if (row.empty()) row = model;
      run_log.write_table(group, table);
      context.log(LogLevel::Info,
                  fmt::format("{} / {}\n{}", group, table.name, render_table(table, "  ")));
      ++written;
    }
    for (const Artifact& a : result.artifacts) write_artifact(a, group, context, run_log);
  }
  run_log.flush();
  return written;
}

int eval_command(const EvalRequest& request, const PluginRegistry& registry) {
  MDLAB_CHECK(request.checkpoint.has_value() != request.weights.has_value(),
              "give exactly one of --checkpoint RUN_DIR and --weights FILE");
  fs::path experiment_file;
  if (request.experiment) {
    experiment_file = *request.experiment;
  } else {
    MDLAB_CHECK(request.checkpoint, "with --weights, name the experiment file (EXP.toml)");
    experiment_file = *request.checkpoint / "config.toml";
  }
  Experiment exp = load_experiment_checked(experiment_file, request.sets, registry);
  check_data_paths(exp, DataPathUse{/*synthetic=*/false, /*datasets=*/true});
  MDLAB_CHECK(!exp.config.find_all("eval").empty(),
              "{} has no [[eval]] entries: nothing to evaluate", experiment_file.string());
  const Options& e = exp.config.find("experiment")->options;

  fs::path run_dir;
  std::optional<RunLog> run_log;
  if (request.checkpoint) {
    run_dir = *request.checkpoint;
    MDLAB_CHECK(fs::exists(run_dir / "run.h5") && fs::exists(run_dir / "config.toml"),
                "{} is not a run directory (no run.h5 and config.toml)", run_dir.string());
    run_log.emplace(RunLog::open(run_dir / "run.h5"));
  } else {
    run_dir = request.out ? *request.out
                          : fs::path(e.get_string("output_dir")) / e.get_string("name") /
                                (now_text("{:%Y%m%d-%H%M%S}") + "-eval");
    MDLAB_CHECK(!fs::exists(run_dir / "run.h5"), "{} already holds a run log; choose another --out",
                run_dir.string());
    fs::create_directories(run_dir);
    write_file_atomic(run_dir / "config.toml", exp.text);
    run_log.emplace(RunLog::create(run_dir / "run.h5", exp.text));
    record_provenance(*run_log, registry, e.get_string("device"),
                      static_cast<uint64_t>(e.get_int("seed")));
    run_log->set_meta("experiment_file", fs::absolute(experiment_file).string());
    run_log->set_meta("weights", fs::absolute(*request.weights).string());
    run_log->set_status(RunStatus::Running);
  }
  ConsoleProgress progress;
  RunContext context(c10::Device(e.get_string("device")), static_cast<uint64_t>(e.get_int("seed")),
                     run_dir, &*run_log, progress);

  std::shared_ptr<Method> method;
  std::shared_ptr<Backbone> encoder;
  int eval_size = 0;
  if (request.checkpoint) {
    // The model is the run's own (its config), whatever the evaluations' file says.
    Experiment trained = load_experiment_checked(run_dir / "config.toml", {}, registry);
    const fs::path weights = latest_checkpoint(run_dir / "checkpoints") / "model.safetensors";
    MDLAB_CHECK(fs::exists(weights), "run {} has no checkpoint ({} is missing)", run_dir.string(),
                weights.string());
    method = build_method(trained, registry, context);
    load_state_dict(*method, read_safetensors(weights).tensors);
    encoder = method->encoder();
    eval_size = evaluation_size(exp, method->view_slots());
    context.log(LogLevel::Info,
                fmt::format("evaluating {} ({})", run_dir.string(), weights.string()));
  } else {
    const auto* b = exp.config.find("backbone");
    context.set_backbone_factory([&registry, &context, plugin = b->plugin, options = b->options] {
      auto backbone = registry.create_backbone(plugin, options, context);
      backbone->to(context.device());
      return backbone;
    });
    encoder = registry.create_backbone(b->plugin, b->options, context);
    LoadOptions load;
    load.ignore_prefixes = {"fc.", "head."};
    try {
      load_state_dict(*encoder, read_safetensors(*request.weights).tensors, load);
    } catch (const Error& error) {
      MDLAB_THROW("backbone '{}': weights {}: {}", b->plugin, request.weights->string(),
                  error.message());
    }
    encoder->to(context.device());
    eval_size = evaluation_size(exp, {});
  }
  try {
    const size_t tables = run_evaluations(exp, registry, *encoder, eval_size, context, *run_log);
    if (request.weights) run_log->set_status(RunStatus::Completed);
    run_log->flush();
    context.log(LogLevel::Info,
                fmt::format("wrote {} table(s) to {}", tables, (run_dir / "run.h5").string()));
  } catch (const std::exception& error) {
    if (request.weights) {
      run_log->set_status(RunStatus::Failed, error_text(error));
      run_log->flush();
    }
    throw;
  }
  return kExitOk;
}

}  // namespace mdlab
