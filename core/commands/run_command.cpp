#include "run_command.h"

#include "atomic_file.h"
#include "error_text.h"
#include "evaluation.h"
#include "exit_codes.h"
#include "experiment.h"
#include "host_checks.h"
#include "launch_environment.h"
#include "local_launcher.h"
#include "process_group.h"
#include "progress.h"
#include "run_context.h"
#include "run_log.h"
#include "run_log_reader.h"
#include "run_provenance.h"
#include "signals.h"
#include "trainer.h"
#include "training_data.h"

#include <mdlab/batch_norm.h>
#include <mdlab/error.h>
#include <mdlab/evaluator.h>

#include <fmt/chrono.h>
#include <fmt/format.h>
#include <fmt/ranges.h>
#include <torch/torch.h>

#include <charconv>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <optional>

namespace fs = std::filesystem;

namespace mdlab {

std::string now_text(const char* format) {
  return fmt::format(
      fmt::runtime(format),
      fmt::localtime(std::chrono::system_clock::to_time_t(std::chrono::system_clock::now())));
}

namespace {

fs::path new_run_dir(const fs::path& parent) {
  const std::string stamp = now_text("{:%Y%m%d-%H%M%S}");
  fs::path dir = parent / stamp;
  for (int i = 1; fs::exists(dir); ++i) dir = parent / fmt::format("{}-{}", stamp, i);
  return dir;
}

// Progress of the ranks that do not report (all but rank 0).
class SilentProgress final : public ProgressReporter {
 public:
  void begin(std::string_view, int64_t) override {}
  void update(int64_t, std::string_view) override {}
  void end() override {}
};

// `mdlab run --nproc N`: the ranks as local processes; the run log of rank 0 then names the
// rank that failed first.
int launch_run(const RunRequest& request, const fs::path& experiment_file, const fs::path& run_dir,
               bool resume) {
  std::vector<std::string> args{"run", experiment_file.string(), "--out", run_dir.string()};
  for (const auto& set : request.sets) args.insert(args.end(), {"--set", set});
  if (resume) args.push_back("--resume");
  for (auto& a : plugin_path_args(request.plugin_paths)) args.push_back(std::move(a));
  std::fprintf(stderr, "mdlab: starting %lld processes for %s\n",
               static_cast<long long>(request.nproc), run_dir.string().c_str());
  const LaunchResult result = launch_local(request.nproc, args);
  if (result.failed_rank && *result.failed_rank != 0 && fs::exists(run_dir / "run.h5")) {
    const std::string reason = fmt::format("rank {} of {} failed first ({})", *result.failed_rank,
                                           request.nproc, result.reason);
    try {
      std::string previous;
      const auto before = read_run_log(run_dir / "run.h5");
      if (auto it = before.meta.find("status_reason"); it != before.meta.end())
        previous = it->second;
      RunLog log = RunLog::open(run_dir / "run.h5");
      log.set_status(RunStatus::Failed,
                     previous.empty() ? reason : fmt::format("{}; rank 0: {}", reason, previous));
      log.set_meta("failed_rank", std::to_string(*result.failed_rank));
      log.flush();
    } catch (const std::exception& e) {
      std::fprintf(stderr, "mdlab: warning: could not record the failed rank in %s: %s\n",
                   (run_dir / "run.h5").string().c_str(), e.what());
    }
  }
  if (result.failed_rank) {
    std::fprintf(stderr, "mdlab: error: rank %lld failed (%s); the other ranks were stopped\n",
                 static_cast<long long>(*result.failed_rank), result.reason.c_str());
  }
  return result.status;
}

}  // namespace

std::vector<std::string> plugin_path_args(const std::vector<std::string>& plugin_paths) {
  std::vector<std::string> args;
  for (const auto& p : plugin_paths) args.insert(args.end(), {"--plugin-path", p});
  return args;
}

int run_experiment(const RunRequest& request, const PluginRegistry& registry) {
  fs::path experiment_file = request.experiment;
  std::optional<fs::path> run_dir = request.out;
  if (fs::is_directory(request.experiment)) {
    // `mdlab run --resume RUN_DIR`: the run's own resolved config is the experiment.
    MDLAB_CHECK(request.resume, "{} is a directory; to continue a run use --resume",
                request.experiment.string());
    run_dir = request.experiment;
    experiment_file = request.experiment / "config.toml";
    MDLAB_CHECK(fs::exists(experiment_file), "{} is not a run directory (no config.toml)",
                request.experiment.string());
  }
  Experiment exp = load_experiment_checked(experiment_file, request.sets, registry);
  check_data_paths(exp);
  // Every rank of a job started by torchrun or srun must agree on the run directory: a
  // timestamp each process picks for itself would not.
  MDLAB_CHECK(run_dir || !launch_environment(std::getenv),
              "this process is one rank of a distributed job (RANK / WORLD_SIZE or SLURM_NTASKS "
              "are set): give every rank the same --out RUN_DIR");
  if (!run_dir) {
    const Options& e = exp.config.find("experiment")->options;
    run_dir = new_run_dir(fs::path(e.get_string("output_dir")) / e.get_string("name"));
  }
  if (request.nproc > 1) {
    MDLAB_CHECK(!launched_by_mdlab() && !launch_environment(std::getenv),
                "--nproc starts the processes itself; under torchrun or srun, which start "
                "them, leave it out");
    MDLAB_CHECK(request.resume || !fs::exists(*run_dir / "run.h5"),
                "{} already holds a run; pass --resume to continue it or choose another --out",
                run_dir->string());
    return launch_run(request, experiment_file, *run_dir, request.resume);
  }
  return run_checked_experiment(exp, *run_dir, request.resume, registry);
}

int run_checked_experiment(const Experiment& exp, const fs::path& run_dir, bool resume,
                           const PluginRegistry& registry) {
  const Options& e = exp.config.find("experiment")->options;
  const Options& train = exp.config.find("train")->options;
  const uint64_t seed = static_cast<uint64_t>(e.get_int("seed"));
  // A distributed run: this process is one rank. Rank 0 writes the run directory; rank R
  // keeps its own log and run log in ranks/rank-R/ (for its status and errors).
  const std::optional<LaunchEnvironment> launch = launch_environment(std::getenv);
  const int64_t rank = launch ? launch->rank : 0;
  const fs::path log_dir = rank == 0 ? run_dir : run_dir / "ranks" / fmt::format("rank-{}", rank);
  c10::Device device(e.get_string("device"));
  if (launch && device.is_cuda() && !device.has_index())
    device = c10::Device(c10::kCUDA, static_cast<c10::DeviceIndex>(launch->local_rank));
  std::unique_ptr<ProcessGroup> group;
  if (launch) {
    std::string backend = e.get_string("backend");
    if (backend == "auto") {
      const auto have = available_backends();
      backend = device.is_cuda() && std::find(have.begin(), have.end(), "nccl") != have.end()
                    ? "nccl"
                    : "gloo";
    }
    group = ProcessGroup::join(
        *launch, backend,
        std::chrono::milliseconds(static_cast<int64_t>(e.get_float("distributed_timeout") * 1000)));
  }
  const bool resuming = resume && fs::exists(log_dir / "run.h5");
  // Each rank judges only its own run log. Rank 0 creates run_dir/run.h5 as soon as the group
  // is up, so another rank that looked there could find it and take a fresh run for an old one
  // (a startup race); a directory that really holds an earlier run is refused by rank 0 (and,
  // under `--nproc`, by the launcher before any rank starts).
  MDLAB_CHECK(resume || !fs::exists(log_dir / "run.h5"),
              "{} already holds a run; pass --resume to continue it or choose another --out",
              run_dir.string());
  if (resuming) {
    // Checked before the run log is touched: a resume that cannot continue where the run
    // stopped fails here and changes nothing.
    std::optional<int64_t> recorded;
    const auto previous = read_run_log(log_dir / "run.h5");
    if (auto it = previous.meta.find("checkpoint_step"); it != previous.meta.end()) {
      int64_t step = -1;
      const auto [end, ec] =
          std::from_chars(it->second.data(), it->second.data() + it->second.size(), step);
      MDLAB_CHECK(ec == std::errc() && end == it->second.data() + it->second.size() && step >= 0,
                  "{}: meta checkpoint_step = \"{}\" is not a step number",
                  (log_dir / "run.h5").string(), it->second);
      recorded = step;
    }
    if (!resume_checkpoint(run_dir / "checkpoints", recorded)) {
      std::fprintf(stderr,
                   "mdlab: warning: %s completed no checkpoint before it stopped: training "
                   "restarts at step 0 (the points it logged are dropped)\n",
                   run_dir.string().c_str());
    }
  }
  fs::create_directories(log_dir);
  if (!resuming && rank == 0) write_file_atomic(run_dir / "config.toml", exp.text);

  install_interrupt_handlers();
  RunLog run_log =
      resuming ? RunLog::open(log_dir / "run.h5") : RunLog::create(log_dir / "run.h5", exp.text);
  run_log.set_flush_interval(
      std::chrono::milliseconds(static_cast<int64_t>(train.get_float("flush_seconds") * 1000)));
  ConsoleProgress console;
  SilentProgress silent;
  RunContext context(device, seed, log_dir, &run_log,
                     rank == 0 ? static_cast<ProgressReporter&>(console) : silent,
                     rank == 0 ? LogLevel::Info : LogLevel::Warning);
  if (group) {
    context.set_collectives(*group);
    run_log.set_meta("world_size", std::to_string(group->world_size()));
    run_log.set_meta("rank", std::to_string(rank));
    run_log.set_meta("distributed_backend", group->backend());
    if (rank == 0)
      context.log(LogLevel::Info,
                  fmt::format("distributed: {} processes ({}, {} backend, rendezvous {}:{})",
                              group->world_size(), launch->source, group->backend(),
                              launch->master_addr, launch->port));
  }
  context.log(LogLevel::Info, fmt::format("{} run {} -> {}", resuming ? "resuming" : "starting",
                                          exp.file.string(), run_dir.string()));
  if (auto warning = reference_blas_warning()) context.log(LogLevel::Warning, *warning);

  run_log.set_status(RunStatus::Running);
  record_provenance(run_log, registry, e.get_string("device"), seed);
  run_log.set_meta("experiment", e.get_string("name"));
  run_log.set_meta("experiment_file", fs::absolute(exp.file).string());
  run_log.set_meta(resuming ? "resumed_at" : "started_at", now_text("{:%Y-%m-%dT%H:%M:%S}"));

  try {
    if (int64_t threads = e.get_int("threads"); threads > 0)
      torch::set_num_threads(static_cast<int>(threads));
    run_log.set_meta("threads", std::to_string(torch::get_num_threads()));
    torch::manual_seed(derive_seed(seed, "torch/global"));

    auto method = build_method(exp, registry, context);
    const int64_t world = group ? group->world_size() : 1;
    if (group && train.get_bool("sync_batch_norm")) {
      const int64_t layers = sync_batch_norms(*method, group.get());
      if (rank == 0 && layers > 0)
        context.log(LogLevel::Info,
                    fmt::format("distributed: {} BatchNorm layer(s) use the statistics of all {} "
                                "processes",
                                layers, world));
    }

    const TrainSettings settings = train_settings_from(train, world);
    DataRunSettings data_run;
    data_run.epochs = settings.epochs;
    data_run.batch_size = settings.batch_size;
    data_run.seed = seed;
    data_run.pin_memory = context.device().is_cuda();
    data_run.rank = rank;
    data_run.world_size = world;
    data_run.validation = method->validation_views();
    TrainingPipeline pipeline = build_training_pipeline(exp.config, method->view_slots(), data_run);
    for (const auto& line : pipeline.summary) context.log(LogLevel::Info, "data: " + line);
    run_log.set_meta("data", fmt::format("{}", fmt::join(pipeline.summary, "\n")));
    if (!pipeline.train_finishers.empty() && !context.device().is_cuda())
      context.log(LogLevel::Warning,
                  "[data] augment_on = \"device\" on a CPU run: the training thread finishes "
                  "every view with LibTorch's CPU kernels, far slower than the loader threads "
                  "(docs/data.md measured 8 against 1,446 SimCLR images/s); use \"workers\"");

    Trainer trainer(*method, *pipeline.train, pipeline.test.get(),
                    static_cast<int64_t>(pipeline.classes.size()), settings, context,
                    rank == 0 ? &run_log : nullptr);
    trainer.set_process_group(group.get());
    std::vector<const BatchAugment*> finishers;
    for (const auto& f : pipeline.train_finishers) finishers.push_back(f.get());
    trainer.set_view_finishers(std::move(finishers));
    TrainOutcome outcome = trainer.run(run_dir / "checkpoints");

    if (!outcome.validation.empty()) {
      Table table{"final", {"test"}, {}, {{}}, {}};
      for (auto& [name, value] : outcome.validation) {
        table.columns.push_back(name);
        table.values[0].push_back(value);
      }
      run_log.write_table("validation", table);
    }
    run_log.set_meta("steps", std::to_string(outcome.steps));
    // What the data pipeline dropped or replaced in this process (a resumed run counts anew).
    const LoaderStats data_stats = pipeline.train->stats();
    run_log.set_meta("data/dropped_missing_partners",
                     std::to_string(data_stats.dropped_missing_partners));
    run_log.set_meta("data/skipped_samples", std::to_string(data_stats.skipped_samples));
    run_log.set_meta("data/real_fallback_views", std::to_string(data_stats.real_fallback_views));
    if (!data_stats.bad_files.empty())
      run_log.set_meta("data/bad_files", fmt::format("{}", fmt::join(data_stats.bad_files, "\n")));
    if (data_stats.skipped_samples > 0 || data_stats.real_fallback_views > 0)
      context.log(LogLevel::Warning,
                  fmt::format("data: {} sample(s) replaced after decode errors, {} synthetic "
                              "view(s) taken from the real image",
                              data_stats.skipped_samples, data_stats.real_fallback_views));
    run_log.set_meta("ended_at", now_text("{:%Y-%m-%dT%H:%M:%S}"));
    switch (outcome.status) {
      case TrainOutcome::Status::Completed:
        if (rank == 0 && !exp.config.find_all("eval").empty()) {
          // The frozen encoder of the last step; a failure here fails the run, whose
          // checkpoint stays for `mdlab eval --checkpoint`.
          auto encoder = method->encoder();
          run_evaluations(exp, registry, *encoder, evaluation_size(exp, method->view_slots()),
                          context, run_log);
        }
        run_log.set_status(RunStatus::Completed);
        run_log.flush();
        context.log(LogLevel::Info, fmt::format("completed {} steps; run log {}", outcome.steps,
                                                (run_dir / "run.h5").string()));
        return kExitOk;
      case TrainOutcome::Status::Interrupted:
        run_log.set_status(RunStatus::Interrupted, outcome.reason);
        run_log.flush();
        context.log(LogLevel::Warning,
                    fmt::format("interrupted ({}); resume with: mdlab run --resume {}",
                                outcome.reason, run_dir.string()));
        return kExitInterrupted;
      case TrainOutcome::Status::Failed:
        run_log.set_status(RunStatus::Failed, outcome.reason);
        run_log.flush();
        context.log(LogLevel::Error, "run failed: " + outcome.reason);
        return kExitFailure;
    }
  } catch (const std::exception& error) {
    // Recording the failure may itself fail (a full disk): report that too, but keep the
    // original error as the one the user sees.
    try {
      run_log.set_meta("ended_at", now_text("{:%Y-%m-%dT%H:%M:%S}"));
      run_log.set_status(RunStatus::Failed, error_text(error));
      run_log.flush();
    } catch (const std::exception& also) {
      context.log(LogLevel::Error,
                  fmt::format("could not record the failure in the run log: {}", also.what()));
    }
    throw;
  }
  return kExitFailure;
}

}  // namespace mdlab
