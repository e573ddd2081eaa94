#include "trainer.h"

#include "atomic_file.h"
#include "batch_augment.h"
#include "error_text.h"
#include "gradient_reducer.h"
#include "lars.h"
#include "mixed_precision.h"
#include "process_group.h"
#include "run_context.h"
#include "run_log.h"
#include "schedules.h"
#include "signals.h"

#include <mdlab/error.h>
#include <mdlab/safetensors.h>
#include <mdlab/state_dict.h>

#include <ATen/CPUGeneratorImpl.h>
#include <fmt/format.h>
#include <toml++/toml.h>
#include <torch/torch.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <fstream>
#include <mutex>
#include <set>
#include <sstream>

namespace fs = std::filesystem;

namespace mdlab {

TrainSettings train_settings_from(const Options& o, int64_t world_size) {
  TrainSettings s;
  s.epochs = o.get_int("epochs");
  s.batch_size = o.get_int("batch_size");
  s.optimizer = o.get_string("optimizer");
  s.lr = scaled_lr(o.get_float("lr"), s.batch_size * world_size, o.get_bool("scale_lr_by_batch"));
  s.min_lr = o.get_float("min_lr");
  s.warmup_epochs = o.get_float("warmup_epochs");
  s.momentum = o.get_float("momentum");
  s.weight_decay = o.get_float("weight_decay");
  s.weight_decay_end = o.has("weight_decay_end") ? o.get_float("weight_decay_end") : -1.0;
  s.lars_eta = o.get_float("lars_eta");
  s.lars_clip_lr = o.get_bool("lars_clip_lr");
  s.grad_clip = o.get_float("grad_clip");
  s.grad_clip_per_parameter = o.get_string("grad_clip_mode") == "per_parameter";
  s.online_probe = o.get_bool("online_probe");
  s.probe_projector = o.get_bool("probe_projector");
  s.max_skipped_steps = o.get_int("max_skipped_steps");
  s.precision = o.get_string("precision");
  s.probe_lr = o.get_float("probe_lr");
  s.probe_weight_decay = o.get_float("probe_weight_decay");
  s.log_every = o.get_int("log_every");
  s.max_steps = o.get_int("max_steps");
  s.validate = o.get_bool("validate");
  s.sync_batch_norm = o.get_bool("sync_batch_norm");
  s.checkpoint_every_epochs = o.get_int("checkpoint_every_epochs");
  s.checkpoint_every_steps = o.get_int("checkpoint_every_steps");
  s.keep_last = o.get_int("keep_last");
  return s;
}

fs::path latest_checkpoint(const fs::path& checkpoints) {
  const fs::path pointer = checkpoints / "latest";
  std::error_code ec;
  if (!fs::exists(pointer, ec)) return {};
  std::ifstream in(pointer, std::ios::binary);
  std::string text(64, '\0');
  in.read(text.data(), static_cast<std::streamsize>(text.size()));
  text.resize(static_cast<size_t>(in.gcount()));
  while (!text.empty() && (text.back() == '\n' || text.back() == ' ')) text.pop_back();
  // Only a step folder of this run: a pointer to anything else ("../../..") was followed, and
  // the checkpoints written after it overwrote what it pointed at.
  const bool step_name =
      text.size() == 14 && text.starts_with("step-") &&
      std::all_of(text.begin() + 5, text.end(), [](char c) { return c >= '0' && c <= '9'; });
  MDLAB_CHECK(step_name,
              "{} does not name a checkpoint folder of this run (expected step-NNNNNNNNN, got {} "
              "bytes{}): the run's checkpoints are damaged; restore the file from a backup or "
              "write the name of an intact step folder into it",
              pointer.string(), text.size(),
              text.size() <= 40 && std::all_of(text.begin(), text.end(),
                                               [](char c) { return c >= ' ' && c <= '~'; })
                  ? fmt::format(" \"{}\"", text)
                  : "");
  const fs::path dir = checkpoints / text;
  for (const char* file :
       {"state.toml", "state.safetensors", "model.safetensors", "optimizer.pt"}) {
    MDLAB_CHECK(fs::is_regular_file(dir / file, ec),
                "{} names {}, which {}: the checkpoint is damaged or was removed", pointer.string(),
                dir.string(),
                fs::is_directory(dir, ec) ? fmt::format("lacks {}", file) : "does not exist");
  }
  return dir;
}

std::optional<fs::path> resume_checkpoint(const fs::path& checkpoints,
                                          std::optional<int64_t> recorded_step) {
  const fs::path dir = latest_checkpoint(checkpoints);
  std::error_code ec;
  if (dir.empty()) {
    MDLAB_CHECK(!recorded_step,
                "the run log records a checkpoint at step {} but {} is missing: refusing to "
                "train again from step 0 over the run (restore the checkpoints folder, or "
                "start a new run)",
                recorded_step.value_or(0), (checkpoints / "latest").string());
    if (fs::is_directory(checkpoints, ec)) {
      for (const auto& entry : fs::directory_iterator(checkpoints, ec)) {
        const std::string name = entry.path().filename().string();
        MDLAB_CHECK(!name.starts_with("step-") || name.ends_with(".tmp"),
                    "{} holds {} but no `latest` pointer: refusing to train again from step 0 "
                    "(write the name of the newest intact step folder into {})",
                    checkpoints.string(), name, (checkpoints / "latest").string());
      }
    }
    return std::nullopt;
  }
  const int64_t step = std::stoll(dir.filename().string().substr(5));
  MDLAB_CHECK(!recorded_step || step >= *recorded_step,
              "{} points at step {} but the run log records a later checkpoint at step {}: "
              "refusing to rewind the run (restore the newer checkpoint folder)",
              (checkpoints / "latest").string(), step, *recorded_step);
  return dir;
}

double warmup_cosine(int64_t step, int64_t total, int64_t warmup, double base, double floor) {
  if (warmup > 0 && step < warmup) return base * static_cast<double>(step + 1) / warmup;
  const int64_t span = std::max<int64_t>(1, total - warmup);
  const double t = std::min(1.0, static_cast<double>(step - warmup) / span);
  return floor + 0.5 * (base - floor) * (1.0 + std::cos(M_PI * t));
}

struct Trainer::State {
  Method& method;
  Loader& train;
  Loader* val;
  TrainSettings settings;
  RunContext& context;
  RunLog* run_log;  // null: this rank does not write
  std::unique_ptr<torch::optim::Optimizer> optimizer{};
  std::vector<ParamGroup> groups{};
  int64_t steps_per_epoch = 0;
  int64_t total_steps = 0;
  // Online linear probes (FFCV-SSL / the paper's code): linear classifiers on detached
  // features of view 0 — "backbone" (the encoder's) and, with probe_projector, the layers the
  // method lists in probe_layers() — trained alongside with one AdamW (their losses are
  // independent, so one optimiser over all is the same as one each), measured each epoch.
  std::shared_ptr<torch::nn::Module> probes{};
  std::vector<std::pair<std::string, torch::nn::Linear>> probe_list{};
  std::unique_ptr<torch::optim::AdamW> probe_optimizer{};
  std::set<std::string> probe_warned{};
  std::vector<const BatchAugment*> finishers{};  // per slot; null for finished views
  LossScaler scaler{};                           // fp16 only
  ProcessGroup* group = nullptr;                 // data-parallel runs
  std::unique_ptr<GradientReducer> reducer{};    // the method's gradients
  std::unique_ptr<GradientReducer> probe_reducer{};
};

namespace {

// The metric prefix of a probe: "probe" for the encoder's, "probe_<layer>" for the others.
std::string probe_prefix(const std::string& name) {
  return name == "backbone" ? std::string("probe") : "probe_" + name;
}

// The features probe `name` reads from a loss output (undefined when absent).
torch::Tensor probe_input(const LossOutput& out, const std::string& name) {
  if (name == "backbone") return out.features;
  for (const auto& [layer, features] : out.probe_features)
    if (layer == name) return features;
  return {};
}

std::unique_ptr<torch::optim::Optimizer> make_optimizer(const TrainSettings& s,
                                                        const std::vector<ParamGroup>& groups) {
  if (s.optimizer == "sgd") {
    std::vector<torch::optim::OptimizerParamGroup> pg;
    for (const auto& g : groups) {
      auto opts = std::make_unique<torch::optim::SGDOptions>(s.lr);
      opts->momentum(s.momentum).weight_decay(g.weight_decay ? s.weight_decay : 0.0);
      pg.emplace_back(g.params, std::move(opts));
    }
    return std::make_unique<torch::optim::SGD>(pg, torch::optim::SGDOptions(s.lr));
  }
  if (s.optimizer == "lars") {
    std::vector<torch::optim::OptimizerParamGroup> pg;
    for (const auto& g : groups) {
      auto opts = std::make_unique<LarsOptions>(s.lr);
      opts->momentum(s.momentum)
          .weight_decay(g.weight_decay ? s.weight_decay : 0.0)
          .eta(s.lars_eta)
          .clip_lr(s.lars_clip_lr)
          .adapt(g.lars_adaptation);
      pg.emplace_back(g.params, std::move(opts));
    }
    return std::make_unique<Lars>(pg, LarsOptions(s.lr));
  }
  MDLAB_CHECK(s.optimizer == "adamw", "unknown optimizer '{}'", s.optimizer);
  std::vector<torch::optim::OptimizerParamGroup> pg;
  for (const auto& g : groups) {
    auto opts = std::make_unique<torch::optim::AdamWOptions>(s.lr);
    opts->weight_decay(g.weight_decay ? s.weight_decay : 0.0);
    pg.emplace_back(g.params, std::move(opts));
  }
  return std::make_unique<torch::optim::AdamW>(pg, torch::optim::AdamWOptions(s.lr));
}

// Scheduled values go into every group: the learning rate (times the group's scale) and the
// weight decay of the groups that decay.
void set_schedule(torch::optim::Optimizer& opt, const std::vector<ParamGroup>& groups, double lr,
                  double wd) {
  auto& pgs = opt.param_groups();
  for (size_t i = 0; i < pgs.size(); ++i) {
    auto& o = pgs[i].options();
    o.set_lr(lr * groups[i].lr_scale);
    const double decay = groups[i].weight_decay ? wd : 0.0;
    if (auto* sgd = dynamic_cast<torch::optim::SGDOptions*>(&o)) sgd->weight_decay(decay);
    if (auto* adamw = dynamic_cast<torch::optim::AdamWOptions*>(&o)) adamw->weight_decay(decay);
    if (auto* lars = dynamic_cast<LarsOptions*>(&o)) lars->weight_decay(decay);
  }
}

// Where a run stands; what a checkpoint restores besides weights and optimizer state.
struct Position {
  int64_t epoch = 0;                                        // epoch in progress
  int64_t batch = 0;                                        // next batch of that epoch
  int64_t step = 0;                                         // global steps done
  bool validated = false;                                   // the epoch's validation pass is done
  int64_t window = 0;                                       // steps in the partial metric window
  std::vector<std::pair<std::string, torch::Tensor>> sums;  // its partial sums
  double loss_scale = 65536.0;                              // fp16 loss scaler state
  int64_t scale_tracker = 0;
  int64_t world_size = 1;  // processes of the run (the data order depends on it)
};

// A double as TOML keeps it a float ("65536.0"), exactly (shortest round-trip digits).
std::string toml_float_text(double v) {
  std::string text = fmt::format("{}", v);
  if (text.find_first_of(".eE") == std::string::npos) text += ".0";
  return text;
}

// The first line of `text` (LibTorch's messages go on with C++ frames).
std::string first_line(std::string_view text) {
  return std::string(text.substr(0, text.find('\n')));
}

std::string checkpoint_name(int64_t step) {
  return fmt::format("step-{:09d}", step);
}

// Writes a checkpoint into a temporary folder, renames it into place, then points
// `latest` at it (atomically): a crash or a full disk at any moment leaves the previous
// checkpoint usable.
void save_checkpoint(const fs::path& root, Method& method, torch::optim::Optimizer& opt,
                     const Position& pos, int64_t keep_last,
                     const std::shared_ptr<torch::nn::Module>& probe,
                     torch::optim::Optimizer* probe_opt) {
  fs::create_directories(root);
  const std::string name = checkpoint_name(pos.step);
  const fs::path dir = root / name;
  const fs::path tmp = root / (name + ".tmp");
  try {
    fs::remove_all(tmp);
    fs::create_directories(tmp);
    // Weights as safetensors with the reference names (backbone.*, the method's heads), so a
    // checkpoint opens in PyTorch as it is.
    write_safetensors(tmp / "model.safetensors", state_dict(method));
    // Optimizer state is serialised in memory and written by us: LibTorch's file writer
    // aborts the process (an exception from a destructor) when the disk fills up.
    auto write_archive = [&](const torch::optim::Optimizer& o, const fs::path& file) {
      std::ostringstream bytes;
      torch::save(o, bytes);
      write_file_atomic(file, bytes.str());
    };
    write_archive(opt, tmp / "optimizer.pt");
    if (probe) {
      write_safetensors(tmp / "probe.safetensors", state_dict(*probe));
      write_archive(*probe_opt, tmp / "probe_optimizer.pt");
    }
    std::vector<std::pair<std::string, torch::Tensor>> state{
        {"torch_cpu_rng", [] {
           at::Generator generator = at::detail::getDefaultCPUGenerator();
           std::lock_guard<std::mutex> lock(generator.mutex());
           return generator.get_state();
         }()}};
    for (const auto& [metric, sum] : pos.sums) state.emplace_back("window/" + metric, sum.cpu());
    write_safetensors(tmp / "state.safetensors", state);
    write_file_atomic(
        tmp / "state.toml",
        fmt::format("epoch = {}\nbatch = {}\nstep = {}\nvalidated = {}\n"
                    "loss_scale = {}\nscale_tracker = {}\nworld_size = {}\n"
                    "window = {}\nwindow_metrics = [{}]\n",
                    pos.epoch, pos.batch, pos.step, pos.validated, toml_float_text(pos.loss_scale),
                    pos.scale_tracker, pos.world_size, pos.window, [&] {
                      std::string names;
                      for (const auto& [m, _] : pos.sums)
                        names += (names.empty() ? "\"" : ", \"") + m + "\"";
                      return names;
                    }()));
  } catch (const std::exception& error) {
    std::error_code ignored;
    fs::remove_all(tmp, ignored);  // give the space back; the previous checkpoint stays
    const fs::path previous = latest_checkpoint(root);
    MDLAB_THROW(
        "checkpoint at step {} could not be written to {}: {}; the previous checkpoint "
        "({}) is intact",
        pos.step, dir.string(), error_text(error), previous.empty() ? "none" : previous.string());
  }
  fs::remove_all(dir);
  fs::rename(tmp, dir);
  write_file_atomic(root / "latest", name + "\n");
  // Keep the newest `keep_last` checkpoints.
  std::vector<fs::path> all;
  for (const auto& entry : fs::directory_iterator(root))
    if (entry.is_directory() && entry.path().filename().string().starts_with("step-") &&
        entry.path().extension() != ".tmp")
      all.push_back(entry.path());
  std::sort(all.begin(), all.end());
  for (size_t i = 0; i + static_cast<size_t>(keep_last) < all.size(); ++i) fs::remove_all(all[i]);
}

bool load_checkpoint(const fs::path& root, Method& method, torch::optim::Optimizer& opt,
                     Position& pos, torch::Device device,
                     const std::shared_ptr<torch::nn::Module>& probe,
                     torch::optim::Optimizer* probe_opt) {
  const fs::path dir = latest_checkpoint(root);
  if (dir.empty()) return false;
  try {
    load_state_dict(method, read_safetensors(dir / "model.safetensors").tensors, LoadOptions{});
    torch::load(opt, (dir / "optimizer.pt").string());
    if (probe) {
      // A probe silently re-initialised would report accuracies of another training.
      MDLAB_CHECK(
          fs::exists(dir / "probe.safetensors"),
          "{} has no probe.safetensors, but this run trains an online probe: the checkpoint "
          "was written with train.online_probe = false (resume with --set "
          "train.online_probe=false)",
          dir.string());
      load_state_dict(*probe, read_safetensors(dir / "probe.safetensors").tensors, LoadOptions{});
      torch::load(*probe_opt, (dir / "probe_optimizer.pt").string());
    }
    auto toml = toml::parse_file((dir / "state.toml").string());
    pos.epoch = toml["epoch"].value_or(int64_t{0});
    pos.batch = toml["batch"].value_or(int64_t{0});
    pos.step = toml["step"].value_or(int64_t{-1});
    const int64_t named = std::stoll(dir.filename().string().substr(5));
    MDLAB_CHECK(pos.step == named && pos.epoch >= 0 && pos.batch >= 0,
                "{}: step = {} (epoch {}, batch {}) does not match the folder's step {}",
                (dir / "state.toml").string(), pos.step, pos.epoch, pos.batch, named);
    pos.validated = toml["validated"].value_or(false);
    pos.window = toml["window"].value_or(int64_t{0});
    pos.loss_scale = toml["loss_scale"].value_or(65536.0);
    pos.scale_tracker = toml["scale_tracker"].value_or(int64_t{0});
    // The step's batch is split over the processes: another count reads other data.
    const int64_t written_by = toml["world_size"].value_or(int64_t{1});
    MDLAB_CHECK(written_by == pos.world_size,
                "the checkpoint was written by a run of {} process(es) and this run has {}: "
                "resume with the same count (mdlab run --resume RUN_DIR --nproc {}), since "
                "each step's batch is split over the processes",
                written_by, pos.world_size, written_by);
    auto state = read_safetensors(dir / "state.safetensors");
    at::Generator generator = at::detail::getDefaultCPUGenerator();
    std::lock_guard<std::mutex> lock(generator.mutex());
    generator.set_state(state.at("torch_cpu_rng").clone());
    pos.sums.clear();
    if (auto* names = toml["window_metrics"].as_array()) {
      for (const auto& n : *names) {
        const std::string metric = n.value_or(std::string());
        pos.sums.emplace_back(metric, state.at("window/" + metric).clone().to(device));
      }
    }
  } catch (const Error& e) {
    MDLAB_THROW("cannot resume from {}: {}", dir.string(), e.message());
  } catch (const std::exception& e) {
    // LibTorch's archive reader and toml++ name neither the checkpoint nor the file.
    MDLAB_THROW(
        "cannot resume from {}: a file of the checkpoint is damaged or truncated "
        "(optimizer.pt, probe_optimizer.pt or state.toml): {}",
        dir.string(), first_line(e.what()));
  }
  return true;
}

// True when `flag` holds on any rank (every rank must call it at the same point).
bool on_any_rank(ProcessGroup* group, bool flag) {
  if (group == nullptr) return flag;
  return group->sum_raw(torch::full({1}, flag ? 1 : 0, torch::kLong)).item<int64_t>() > 0;
}

// Rank 0's parameters and buffers on every rank.
void broadcast_state(ProcessGroup& group, torch::nn::Module& module) {
  torch::NoGradGuard no_grad;
  std::vector<torch::Tensor> tensors = module.parameters();
  for (auto& buffer : module.buffers()) tensors.push_back(buffer);
  group.broadcast(tensors, 0);
}

// The distinct parameters of `groups` that train (frozen-by-flag ones included: their
// gradients are dropped after the reduction).
std::vector<torch::Tensor> trained_parameters(const std::vector<ParamGroup>& groups) {
  std::vector<torch::Tensor> params;
  std::set<const void*> seen;
  for (const auto& g : groups)
    for (const auto& p : g.params)
      if (p.requires_grad() && seen.insert(p.unsafeGetTensorImpl()).second) params.push_back(p);
  return params;
}

}  // namespace

Trainer::Trainer(Method& method, Loader& train, Loader* val, int64_t num_classes,
                 TrainSettings settings, RunContext& context, RunLog* run_log)
    : state_(new State{method, train, val, std::move(settings), context, run_log}) {
  auto& s = *state_;
  s.steps_per_epoch = train.steps_per_epoch();
  s.total_steps = s.steps_per_epoch * s.settings.epochs;
  if (s.settings.max_steps > 0) s.total_steps = std::min(s.total_steps, s.settings.max_steps);
  s.groups = method.param_groups();
  s.optimizer = make_optimizer(s.settings, s.groups);
  if (s.settings.online_probe && num_classes > 1) {
    auto encoder = method.encoder();
    MDLAB_CHECK(encoder != nullptr, "the method returns no encoder for the online probe");
    std::vector<std::pair<std::string, int64_t>> layers{{"backbone", encoder->feature_dim()}};
    if (s.settings.probe_projector)
      for (const auto& layer : method.probe_layers()) layers.push_back(layer);
    s.probes = std::make_shared<torch::nn::Module>("OnlineProbes");
    for (const auto& [name, dim] : layers) {
      auto probe = s.probes->register_module(name, torch::nn::Linear(dim, num_classes));
      // Initialised from their own streams: probes never shift the method's random numbers.
      torch::NoGradGuard no_grad;
      auto gen = context.generator(name == "backbone" ? "probe.init" : "probe.init." + name);
      const double bound = 1.0 / std::sqrt(static_cast<double>(dim));
      probe->weight.uniform_(-bound, bound, gen);
      probe->bias.uniform_(-bound, bound, gen);
      s.probe_list.emplace_back(name, probe);
    }
    s.probes->to(context.device());
    s.probe_optimizer = std::make_unique<torch::optim::AdamW>(
        s.probes->parameters(), torch::optim::AdamWOptions(s.settings.probe_lr)
                                    .weight_decay(s.settings.probe_weight_decay));
  }
}

Trainer::~Trainer() = default;

void Trainer::set_view_finishers(std::vector<const BatchAugment*> finishers) {
  state_->finishers = std::move(finishers);
}

void Trainer::set_process_group(ProcessGroup* group) {
  state_->group = group != nullptr && group->world_size() > 1 ? group : nullptr;
}

TrainOutcome Trainer::run(const fs::path& checkpoints) {
  auto& s = *state_;
  const auto& cfg = s.settings;
  const auto device = s.context.device();
  TrainOutcome outcome;
  // Batches land on the device asynchronously when the loader pins them.
  auto to_device = [&](LoaderBatch& in, Batch& batch) {
    batch.views.clear();
    for (size_t v = 0; v < in.views.size(); ++v) {
      torch::Tensor view = in.views[v].to(device, /*non_blocking=*/true);
      if (v < in.view_params.size() && in.view_params[v].defined()) {
        // A deferred slot: finish its crops here, batched, on the device.
        MDLAB_CHECK(v < s.finishers.size() && s.finishers[v] != nullptr,
                    "trainer: view {} of the batch is a deferred crop but no finisher was set", v);
        view = (*s.finishers[v])(view, in.view_params[v]);
      }
      batch.views.push_back(view);
    }
    batch.labels = in.labels.to(device, /*non_blocking=*/true);
  };

  Position pos;
  ProcessGroup* group = s.group;
  const bool writer = s.run_log != nullptr;
  pos.world_size = group ? group->world_size() : 1;
  if (load_checkpoint(checkpoints, s.method, *s.optimizer, pos, device, s.probes,
                      s.probe_optimizer.get())) {
    s.context.log(LogLevel::Info, fmt::format("resuming from {} at epoch {}, batch {} (step {})",
                                              latest_checkpoint(checkpoints).string(), pos.epoch,
                                              pos.batch, pos.step));
    // What the interrupted process logged after its checkpoint is recomputed identically.
    if (writer) {
      s.run_log->truncate_metrics_after(pos.step);
      s.run_log->set_meta("resumed_from_step", std::to_string(pos.step));
    }
  } else if (writer) {
    // A run resumed before its first checkpoint restarts at step 0: the points the killed
    // process logged are dropped, not kept beside the new ones.
    s.run_log->truncate_metrics_after(-1);
  }
  if (group) {
    broadcast_state(*group, s.method);
    if (s.probes) broadcast_state(*group, *s.probes);
    if (!s.reducer)
      s.reducer = std::make_unique<GradientReducer>(trained_parameters(s.groups), *group);
    if (s.probes && !s.probe_reducer)
      s.probe_reducer = std::make_unique<GradientReducer>(s.probes->parameters(), *group);
  }
  const int64_t warmup = static_cast<int64_t>(std::llround(cfg.warmup_epochs * s.steps_per_epoch));
  // The run log is flushed first: every point up to the checkpoint's step is then on disk,
  // and a resume recomputes exactly the points after it.
  s.scaler.restore(pos.loss_scale, pos.scale_tracker);
  auto checkpoint = [&] {
    pos.loss_scale = s.scaler.current();
    pos.scale_tracker = s.scaler.growth_tracker();
    if (!writer) return;  // rank 0 writes the run's checkpoints
    s.run_log->flush();
    save_checkpoint(checkpoints, s.method, *s.optimizer, pos, cfg.keep_last, s.probes,
                    s.probe_optimizer.get());
    // A resume then knows a checkpoint existed, and refuses to retrain if it has gone.
    s.run_log->set_meta("checkpoint_step", std::to_string(pos.step));
  };
  auto stop = [&](TrainOutcome::Status status, std::string reason) {
    s.context.progress().end();
    outcome.status = status;
    outcome.reason = std::move(reason);
    outcome.steps = pos.step;
    return outcome;
  };

  s.context.progress().begin("train", s.total_steps);
  s.context.progress().update(pos.step, "");
  double data_seconds = 0;
  double sync_seconds = 0;  // waiting for gradient all-reduces (distributed)
  int64_t skipped = 0;      // non-finite steps skipped in this process
  auto window_start = std::chrono::steady_clock::now();

  for (; pos.epoch < cfg.epochs && (pos.step < s.total_steps || !pos.validated); ++pos.epoch) {
    s.method.train();
    s.train.start_epoch(pos.epoch, pos.batch);
    for (; pos.batch < s.steps_per_epoch && pos.step < s.total_steps; ++pos.batch) {
      if (on_any_rank(group, interrupt_requested())) {
        checkpoint();
        return stop(TrainOutcome::Status::Interrupted,
                    interrupt_requested()
                        ? fmt::format("signal {} at step {}", interrupt_signal(), pos.step)
                        : fmt::format("another rank was signalled at step {}", pos.step));
      }
      auto t0 = std::chrono::steady_clock::now();
      LoaderBatch loaded;
      MDLAB_CHECK(s.train.next(loaded), "loader: epoch {} ended at batch {} of {}", pos.epoch,
                  pos.batch, s.steps_per_epoch);
      Batch batch;
      to_device(loaded, batch);
      data_seconds += std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();

      StepInfo info{pos.step, pos.epoch, s.steps_per_epoch, s.total_steps};
      const double lr = warmup_cosine(pos.step, s.total_steps, warmup, cfg.lr, cfg.min_lr);
      const double wd =
          cfg.weight_decay_end < 0
              ? cfg.weight_decay
              : cosine_schedule(pos.step, s.total_steps, cfg.weight_decay, cfg.weight_decay_end);
      set_schedule(*s.optimizer, s.groups, lr, wd);
      s.optimizer->zero_grad();
      LossOutput out;
      {
        AutocastGuard autocast(device, precision_dtype(cfg.precision), cfg.precision != "fp32");
        out = s.method.compute_loss(batch, info);
      }
      const bool finite_here = std::isfinite(out.loss.item<double>());
      if (on_any_rank(group, !finite_here)) {
        std::string terms;
        for (auto& [name, value] : out.terms)
          terms += fmt::format(" {}={}", name, value.item<double>());
        const std::string what =
            finite_here ? fmt::format("non-finite loss on another rank at step {} (epoch {})",
                                      pos.step, pos.epoch)
                        : fmt::format("non-finite loss {} at step {} (epoch {}); terms:{}",
                                      out.loss.item<double>(), pos.step, pos.epoch,
                                      terms.empty() ? " none" : terms);
        if (skipped < cfg.max_skipped_steps) {
          // Skip policy: no update from this batch; the step still counts, so schedules and
          // the data order stay those of the run.
          ++skipped;
          s.context.log(LogLevel::Warning, fmt::format("{}; step skipped ({} of at most {})", what,
                                                       skipped, cfg.max_skipped_steps));
          s.context.metric("train/skipped_steps", pos.step + 1, static_cast<double>(skipped));
          s.optimizer->zero_grad();
          ++pos.step;
          continue;
        }
        const fs::path last = latest_checkpoint(checkpoints);
        return stop(
            TrainOutcome::Status::Failed,
            fmt::format(
                "{}{}; last checkpoint: {}", what,
                cfg.max_skipped_steps > 0 ? fmt::format(" after {} skipped steps", skipped) : "",
                last.empty() ? "none" : last.string()));
      }
      std::vector<torch::Tensor> params;
      for (const auto& g : s.groups) params.insert(params.end(), g.params.begin(), g.params.end());
      bool apply_update = true;
      if (s.reducer) s.reducer->begin();
      // The wait for the gradient all-reduce after backward (what overlapping did not hide).
      auto finish_reduction = [&] {
        const auto r0 = std::chrono::steady_clock::now();
        s.reducer->finish();
        sync_seconds +=
            std::chrono::duration<double>(std::chrono::steady_clock::now() - r0).count();
      };
      if (cfg.precision == "fp16") {
        s.scaler.scale(out.loss).backward();
        if (s.reducer) finish_reduction();
        // Overflowing fp16 gradients skip the update and shrink the scale (GradScaler).
        apply_update = s.scaler.unscale_and_update(params);
      } else {
        out.loss.backward();
        if (s.reducer) finish_reduction();
      }
      if (apply_update && cfg.grad_clip > 0) {
        if (cfg.grad_clip_per_parameter) {
          // DINO's clip_gradients: each tensor's gradient norm clipped on its own.
          torch::NoGradGuard no_grad;
          for (auto& p : params) {
            if (!p.grad().defined()) continue;
            auto coef = (cfg.grad_clip / (p.grad().norm() + 1e-6)).clamp_max(1.0);
            p.mutable_grad().mul_(coef);
          }
        } else {
          torch::nn::utils::clip_grad_norm_(params, cfg.grad_clip);
        }
      }
      // Frozen groups (DINO's last layer in its first epoch) get no update: dropping their
      // gradients makes every optimizer skip them, momentum and weight decay included.
      for (const auto& g : s.groups)
        if (pos.epoch < g.frozen_epochs)
          for (const auto& p : g.params)
            const_cast<torch::Tensor&>(p).mutable_grad() = torch::Tensor();
      if (apply_update) s.optimizer->step();
      s.method.after_optimizer_step(info);
      if (s.probes) {
        torch::Tensor probe_loss;
        for (auto& [name, probe] : s.probe_list) {
          const torch::Tensor features = probe_input(out, name);
          if (!features.defined()) {
            if (s.probe_warned.insert(name).second)
              s.context.log(LogLevel::Warning,
                            fmt::format("online probe '{}' skipped: the method returns no such "
                                        "features (LossOutput::{})",
                                        name, name == "backbone" ? "features" : "probe_features"));
            continue;
          }
          auto logits = probe->forward(features.detach().to(torch::kFloat));
          auto loss = torch::nn::functional::cross_entropy(
              logits, batch.labels,
              torch::nn::functional::CrossEntropyFuncOptions().ignore_index(-1));
          probe_loss = probe_loss.defined() ? probe_loss + loss : loss;
          torch::NoGradGuard no_grad;
          auto known = batch.labels.ge(0);
          auto correct = logits.argmax(1).eq(batch.labels).logical_and(known).sum();
          const std::string prefix = probe_prefix(name);
          out.terms.emplace_back(prefix + "_loss", loss.detach());
          out.terms.emplace_back(
              prefix + "_accuracy",
              correct.to(torch::kDouble) / known.sum().clamp_min(1).to(torch::kDouble));
        }
        if (probe_loss.defined()) {
          s.probe_optimizer->zero_grad();
          if (s.probe_reducer) s.probe_reducer->begin();
          probe_loss.backward();
          if (s.probe_reducer) s.probe_reducer->finish();
          s.probe_optimizer->step();
        }
      }
      ++pos.step;

      // Metrics stay on the device and are read every log_every steps: no host sync per step.
      if (pos.sums.empty()) {
        pos.sums.emplace_back("loss", out.loss.detach().clone());
        for (auto& [name, value] : out.terms) pos.sums.emplace_back(name, value.detach().clone());
      } else {
        pos.sums[0].second += out.loss.detach();
        for (size_t k = 0; k < out.terms.size() && k + 1 < pos.sums.size(); ++k)
          pos.sums[k + 1].second += out.terms[k].second.detach();
      }
      ++pos.window;
      // Window boundaries depend only on the step, so a resumed run logs the same points.
      if (pos.step % cfg.log_every == 0 || pos.step == s.total_steps ||
          pos.batch + 1 == s.steps_per_epoch) {
        auto now = std::chrono::steady_clock::now();
        const double seconds = std::chrono::duration<double>(now - window_start).count();
        double images = static_cast<double>(pos.window * batch.labels.size(0));
        double data_fraction = std::min(1.0, data_seconds / std::max(seconds, 1e-9));
        double sync_fraction = std::min(1.0, sync_seconds / std::max(seconds, 1e-9));
        std::vector<double> means;
        for (auto& [name, total] : pos.sums) means.push_back(total.item<double>() / pos.window);
        if (group) {
          // Means over the ranks; images over all of them; the data wait averaged.
          std::vector<double> local = means;
          local.push_back(images);
          local.push_back(data_fraction);
          local.push_back(sync_fraction);
          auto summed = group->sum_raw(torch::tensor(local, torch::kDouble));
          const double w = static_cast<double>(group->world_size());
          for (size_t k = 0; k < means.size(); ++k)
            means[k] = summed[static_cast<int64_t>(k)].item<double>() / w;
          images = summed[static_cast<int64_t>(means.size())].item<double>();
          data_fraction = summed[static_cast<int64_t>(means.size() + 1)].item<double>() / w;
          sync_fraction = summed[static_cast<int64_t>(means.size() + 2)].item<double>() / w;
        }
        std::string status;
        for (size_t k = 0; k < pos.sums.size(); ++k) {
          const auto& name = pos.sums[k].first;
          s.context.metric("train/" + name, pos.step, means[k]);
          if (status.empty()) status = fmt::format("{} {:.4f}", name, means[k]);
        }
        s.context.metric("train/lr", pos.step, lr);
        s.context.metric("train/wd", pos.step, wd);
        if (cfg.precision == "fp16")
          s.context.metric("train/loss_scale", pos.step, s.scaler.current());
        s.context.metric("train/epoch", pos.step, static_cast<double>(pos.epoch));
        s.context.metric("train/images_per_second", pos.step, images / std::max(seconds, 1e-9));
        s.context.metric("train/data_wait_fraction", pos.step, data_fraction);
        if (group) s.context.metric("train/gradient_sync_fraction", pos.step, sync_fraction);
        s.context.progress().update(pos.step, status);
        if (writer) s.run_log->maybe_flush();
        pos.sums.clear();
        pos.window = 0;
        data_seconds = 0;
        sync_seconds = 0;
        window_start = now;
      }
      // A step checkpoint on an epoch's last batch is left to the epoch-end one, which also
      // covers the validation pass (two checkpoints of one step would disagree on it).
      const bool epoch_end = pos.batch + 1 == s.steps_per_epoch || pos.step == s.total_steps;
      if (cfg.checkpoint_every_steps > 0 && pos.step % cfg.checkpoint_every_steps == 0 &&
          !epoch_end) {
        pos.batch += 1;  // the position after this step
        checkpoint();
        pos.batch -= 1;
      }
    }

    const ValidationViews val_mode = s.method.validation_views();
    if (!pos.validated && cfg.validate && s.val && s.val->num_samples() > 0 &&
        (val_mode != ValidationViews::None || !s.probe_list.empty())) {
      torch::NoGradGuard no_grad;
      s.method.eval();
      // Loss terms, when the method has them, then each probe's top-1 and top-5 hits.
      std::vector<std::pair<std::string, double>> means;
      size_t probe_slot = 0;      // index of the first probe metric in `means`
      bool probe_layers = false;  // a probe reads a layer other than the encoder
      for (const auto& [name, probe] : s.probe_list) probe_layers |= name != "backbone";
      const size_t slot_count = s.method.view_slots().size();
      double seen = 0;
      s.val->start_epoch(0);  // one fixed draw of every augmented view, each epoch the same
      LoaderBatch loaded;
      while (s.val->next(loaded)) {
        Batch batch;
        to_device(loaded, batch);
        // Probes read un-augmented views: with augmented validation the loader appends one.
        torch::Tensor plain = batch.views[0];
        if (val_mode == ValidationViews::Augmented) {
          MDLAB_CHECK(batch.views.size() == slot_count + 1,
                      "trainer: augmented validation needs the method's {} views plus a plain "
                      "one, the validation loader gives {} (build it with "
                      "DataRunSettings::validation = Method::validation_views())",
                      slot_count, batch.views.size());
          plain = batch.views.back();
          batch.views.pop_back();
        }
        StepInfo info{pos.step, pos.epoch, s.steps_per_epoch, s.total_steps};
        LossOutput out;
        if (val_mode != ValidationViews::None) out = s.method.compute_loss(batch, info);
        LossOutput plain_out;  // the method's outputs on plain views, for the probes
        if (val_mode == ValidationViews::Plain) {
          plain_out = out;
        } else if (probe_layers) {
          Batch plain_batch{std::vector<torch::Tensor>(batch.views.size(), plain), batch.labels};
          plain_out = s.method.compute_loss(plain_batch, info);
        }
        const double w = static_cast<double>(batch.labels.size(0));
        seen += w;
        if (means.empty()) {
          if (val_mode != ValidationViews::None) {
            means.emplace_back("loss", 0.0);
            for (auto& [name, _] : out.terms) means.emplace_back(name, 0.0);
          }
          probe_slot = means.size();
          for (const auto& [name, probe] : s.probe_list) {
            means.emplace_back(probe_prefix(name) + "_top1", 0.0);
            means.emplace_back(probe_prefix(name) + "_top5", 0.0);
          }
        }
        for (size_t p = 0; p < s.probe_list.size(); ++p) {
          auto& [name, probe] = s.probe_list[p];
          torch::Tensor features = probe_input(plain_out, name);
          if (!features.defined() && name == "backbone")
            features = s.method.encoder()->forward(plain);
          if (!features.defined()) continue;
          auto logits = probe->forward(features.to(torch::kFloat));
          const int64_t k = std::min<int64_t>(5, logits.size(1));
          auto top = std::get<1>(logits.topk(k, 1));
          auto hit = top.eq(batch.labels.unsqueeze(1));
          means[probe_slot + 2 * p].second += hit.select(1, 0).sum().item<double>();
          means[probe_slot + 2 * p + 1].second += hit.any(1).sum().item<double>();
        }
        if (val_mode != ValidationViews::None) {
          means[0].second += out.loss.item<double>() * w;
          for (size_t k = 0; k < out.terms.size(); ++k)
            means[k + 1].second += out.terms[k].second.item<double>() * w;
        }
      }
      if (s.probes) s.probes->eval();
      if (group && !means.empty()) {
        // Each rank validated its shard: sums and counts over all of them.
        std::vector<double> local{seen};
        for (auto& [name, total] : means) local.push_back(total);
        auto summed = group->sum_raw(torch::tensor(local, torch::kDouble));
        seen = summed[0].item<double>();
        for (size_t k = 0; k < means.size(); ++k)
          means[k].second = summed[static_cast<int64_t>(k + 1)].item<double>();
      }
      for (auto& [name, total] : means) {
        total /= std::max(seen, 1.0);
        s.context.metric("val/" + name, pos.step, total);
      }
      outcome.validation = means;
      s.method.train();
      if (s.probes) s.probes->train();
    }
    pos.validated = true;
    const bool last_epoch = pos.epoch + 1 >= cfg.epochs || pos.step >= s.total_steps;
    if ((pos.epoch + 1) % cfg.checkpoint_every_epochs == 0 || last_epoch) checkpoint();
    if (writer) s.run_log->flush();
    // The next epoch starts at its first batch, not yet validated.
    pos.batch = 0;
    pos.validated = false;
    if (last_epoch) {
      ++pos.epoch;
      break;
    }
  }
  return stop(TrainOutcome::Status::Completed, "");
}

}  // namespace mdlab
