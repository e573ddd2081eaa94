#include "trainer.h"

#include "run_context.h"
#include "run_log.h"
#include "signals.h"

#include <mdlab/error.h>
#include <mdlab/safetensors.h>
#include <mdlab/state_dict.h>

#include <torch/torch.h>

#include <fmt/format.h>

#include <chrono>
#include <cmath>
#include <fstream>

namespace fs = std::filesystem;

namespace mdlab {

TrainSettings train_settings_from(const Options& o) {
  TrainSettings s;
  s.epochs = o.get_int("epochs");
  s.batch_size = o.get_int("batch_size");
  s.optimizer = o.get_string("optimizer");
  s.lr = o.get_float("lr");
  s.min_lr = o.get_float("min_lr");
  s.warmup_epochs = o.get_float("warmup_epochs");
  s.momentum = o.get_float("momentum");
  s.weight_decay = o.get_float("weight_decay");
  s.log_every = o.get_int("log_every");
  s.max_steps = o.get_int("max_steps");
  s.validate = o.get_bool("validate");
  return s;
}

double warmup_cosine(int64_t step, int64_t total, int64_t warmup, double base, double floor) {
  if (warmup > 0 && step < warmup) return base * static_cast<double>(step + 1) / warmup;
  const int64_t span = std::max<int64_t>(1, total - warmup);
  const double t = std::min(1.0, static_cast<double>(step - warmup) / span);
  return floor + 0.5 * (base - floor) * (1.0 + std::cos(M_PI * t));
}

struct Trainer::State {
  Method& method;
  const ImageSet& train;
  const ImageSet& val;
  TrainSettings settings;
  RunContext& context;
  RunLog& run_log;
  std::unique_ptr<torch::optim::Optimizer> optimizer;
  std::vector<ParamGroup> groups;
  int64_t steps_per_epoch = 0;
  int64_t total_steps = 0;
};

namespace {

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
  MDLAB_CHECK(s.optimizer == "adamw", "unknown optimizer '{}'", s.optimizer);
  std::vector<torch::optim::OptimizerParamGroup> pg;
  for (const auto& g : groups) {
    auto opts = std::make_unique<torch::optim::AdamWOptions>(s.lr);
    opts->weight_decay(g.weight_decay ? s.weight_decay : 0.0);
    pg.emplace_back(g.params, std::move(opts));
  }
  return std::make_unique<torch::optim::AdamW>(pg, torch::optim::AdamWOptions(s.lr));
}

void set_lr(torch::optim::Optimizer& opt, const std::vector<ParamGroup>& groups, double lr) {
  auto& pgs = opt.param_groups();
  for (size_t i = 0; i < pgs.size(); ++i) pgs[i].options().set_lr(lr * groups[i].lr_scale);
}

// Epoch-boundary checkpoint: written into a fresh directory, then renamed over the previous
// one, so a crash at any moment leaves either the old or the new checkpoint whole.
void save_checkpoint(const fs::path& dir, Method& method, torch::optim::Optimizer& opt,
                     int64_t next_epoch, int64_t step) {
  fs::path tmp = dir.parent_path() / (dir.filename().string() + ".tmp");
  fs::path old = dir.parent_path() / (dir.filename().string() + ".old");
  fs::remove_all(tmp);
  fs::create_directories(tmp);
  // Weights as safetensors with the reference names (backbone.*, the method's heads), so a
  // checkpoint opens in PyTorch as it is.
  write_safetensors(tmp / "model.safetensors", state_dict(method));
  torch::save(opt, (tmp / "optimizer.pt").string());
  {
    std::ofstream state(tmp / "state.toml");
    state << "next_epoch = " << next_epoch << "\nstep = " << step << "\n";
    state.flush();
    MDLAB_CHECK(state.good(), "cannot write checkpoint state in {}", tmp.string());
  }
  fs::remove_all(old);
  if (fs::exists(dir)) fs::rename(dir, old);
  fs::rename(tmp, dir);
  fs::remove_all(old);
}

bool load_checkpoint(const fs::path& dir, Method& method, torch::optim::Optimizer& opt,
                     int64_t& next_epoch, int64_t& step) {
  if (!fs::exists(dir / "state.toml")) return false;
  load_state_dict(method, read_safetensors(dir / "model.safetensors").tensors, LoadOptions{});
  torch::load(opt, (dir / "optimizer.pt").string());
  std::ifstream state(dir / "state.toml");
  std::string key, eq;
  while (state >> key >> eq) {
    int64_t v;
    state >> v;
    if (key == "next_epoch") next_epoch = v;
    if (key == "step") step = v;
  }
  return true;
}

}  // namespace

Trainer::Trainer(Method& method, const ImageSet& train, const ImageSet& val,
                 TrainSettings settings, RunContext& context, RunLog& run_log)
    : state_(new State{method, train, val, std::move(settings), context, run_log, {}, {}, 0, 0}) {
  auto& s = *state_;
  MDLAB_CHECK(train.size() >= s.settings.batch_size,
              "the training set has {} samples, fewer than one batch of {}", train.size(),
              s.settings.batch_size);
  s.steps_per_epoch = train.size() / s.settings.batch_size;
  s.total_steps = s.steps_per_epoch * s.settings.epochs;
  if (s.settings.max_steps > 0) s.total_steps = std::min(s.total_steps, s.settings.max_steps);
  s.groups = method.param_groups();
  s.optimizer = make_optimizer(s.settings, s.groups);
}

Trainer::~Trainer() = default;

TrainOutcome Trainer::run(const fs::path& checkpoint_dir) {
  auto& s = *state_;
  const auto& cfg = s.settings;
  const auto device = s.context.device();
  const int64_t n_views = static_cast<int64_t>(s.method.view_slots().size());
  TrainOutcome outcome;

  int64_t start_epoch = 0, step = 0;
  if (load_checkpoint(checkpoint_dir, s.method, *s.optimizer, start_epoch, step)) {
    s.context.log(LogLevel::Info, fmt::format("resuming from {} at epoch {} (step {})",
                                              checkpoint_dir.string(), start_epoch, step));
    s.run_log.set_meta("resumed_from_step", std::to_string(step));
  }
  const int64_t warmup = static_cast<int64_t>(std::llround(cfg.warmup_epochs * s.steps_per_epoch));

  s.context.progress().begin("train", s.total_steps);
  s.context.progress().update(step, "");
  std::vector<std::pair<std::string, torch::Tensor>> sums;  // loss terms, summed on device
  int64_t window = 0;
  double data_seconds = 0, window_seconds = 0;
  auto window_start = std::chrono::steady_clock::now();

  for (int64_t epoch = start_epoch; epoch < cfg.epochs && step < s.total_steps; ++epoch) {
    s.method.train();
    auto order = epoch_order(s.train.size(), s.context.seed(), epoch);
    for (int64_t i = 0; i < s.steps_per_epoch && step < s.total_steps; ++i) {
      if (interrupt_requested()) {
        outcome.status = TrainOutcome::Status::Interrupted;
        outcome.reason = fmt::format("signal {} at step {}", interrupt_signal(), step);
        s.context.progress().end();
        outcome.steps = step;
        return outcome;
      }
      auto t0 = std::chrono::steady_clock::now();
      auto idx = order.slice(0, i * cfg.batch_size, (i + 1) * cfg.batch_size);
      Batch batch;
      auto images = make_batch(s.train, idx, device);
      // Without the augmentation pipeline (issue 3) every slot sees the same real images.
      batch.views.assign(static_cast<size_t>(n_views), images);
      batch.labels = s.train.labels.index_select(0, idx).to(device);
      auto t1 = std::chrono::steady_clock::now();
      data_seconds += std::chrono::duration<double>(t1 - t0).count();

      StepInfo info{step, epoch, s.steps_per_epoch, s.total_steps};
      const double lr = warmup_cosine(step, s.total_steps, warmup, cfg.lr, cfg.min_lr);
      set_lr(*s.optimizer, s.groups, lr);
      s.optimizer->zero_grad();
      LossOutput out = s.method.compute_loss(batch, info);
      if (!std::isfinite(out.loss.item<double>())) {
        outcome.status = TrainOutcome::Status::Failed;
        std::string terms;
        for (auto& [name, value] : out.terms)
          terms += fmt::format(" {}={}", name, value.item<double>());
        outcome.reason = fmt::format("non-finite loss {} at step {} (epoch {}); terms:{}; last "
                                     "checkpoint: {}",
                                     out.loss.item<double>(), step, epoch,
                                     terms.empty() ? " none" : terms,
                                     fs::exists(checkpoint_dir) ? checkpoint_dir.string()
                                                                : "none");
        s.context.progress().end();
        outcome.steps = step;
        return outcome;
      }
      out.loss.backward();
      s.optimizer->step();
      s.method.after_optimizer_step(info);
      ++step;

      // Metrics stay on the device and are read every log_every steps: no host sync per step.
      if (sums.empty()) {
        sums.emplace_back("loss", out.loss.detach().clone());
        for (auto& [name, value] : out.terms) sums.emplace_back(name, value.detach().clone());
      } else {
        sums[0].second += out.loss.detach();
        for (size_t k = 0; k < out.terms.size() && k + 1 < sums.size(); ++k)
          sums[k + 1].second += out.terms[k].second.detach();
      }
      ++window;
      if (window == cfg.log_every || step == s.total_steps || i + 1 == s.steps_per_epoch) {
        auto now = std::chrono::steady_clock::now();
        window_seconds = std::chrono::duration<double>(now - window_start).count();
        std::string status;
        for (auto& [name, total] : sums) {
          double mean = total.item<double>() / window;
          s.context.metric("train/" + name, step, mean);
          if (status.empty()) status = fmt::format("{} {:.4f}", name, mean);
        }
        s.context.metric("train/lr", step, lr);
        s.context.metric("train/epoch", step, static_cast<double>(epoch));
        s.context.metric("train/images_per_second", step,
                         window * cfg.batch_size / std::max(window_seconds, 1e-9));
        s.context.metric("train/data_wait_fraction", step,
                         data_seconds / std::max(window_seconds, 1e-9));
        s.context.progress().update(step, status);
        s.run_log.maybe_flush();
        sums.clear();
        window = 0;
        data_seconds = 0;
        window_start = now;
      }
    }

    if (cfg.validate && s.val.size() > 0) {
      torch::NoGradGuard no_grad;
      s.method.eval();
      std::vector<std::pair<std::string, double>> means;
      int64_t batches = 0;
      for (int64_t b = 0; b * cfg.batch_size < s.val.size(); ++b) {
        auto idx = torch::arange(b * cfg.batch_size,
                                 std::min(s.val.size(), (b + 1) * cfg.batch_size), torch::kLong);
        Batch batch;
        batch.views.assign(static_cast<size_t>(n_views), make_batch(s.val, idx, device));
        batch.labels = s.val.labels.index_select(0, idx).to(device);
        StepInfo info{step, epoch, s.steps_per_epoch, s.total_steps};
        auto out = s.method.compute_loss(batch, info);
        const double w = static_cast<double>(idx.size(0));
        if (means.empty()) {
          means.emplace_back("loss", 0.0);
          for (auto& [name, _] : out.terms) means.emplace_back(name, 0.0);
        }
        means[0].second += out.loss.item<double>() * w;
        for (size_t k = 0; k < out.terms.size(); ++k)
          means[k + 1].second += out.terms[k].second.item<double>() * w;
        ++batches;
      }
      for (auto& [name, total] : means) {
        total /= static_cast<double>(s.val.size());
        s.context.metric("val/" + name, step, total);
      }
      outcome.validation = means;
      s.method.train();
    }
    save_checkpoint(checkpoint_dir, s.method, *s.optimizer, epoch + 1, step);
    s.run_log.flush();
  }
  s.context.progress().end();
  outcome.steps = step;
  return outcome;
}

}  // namespace mdlab
