#include "run_context.h"

#include "plugin_registry.h"
#include "run_log.h"

#include <fmt/chrono.h>
#include <fmt/format.h>

#include <chrono>

namespace mdlab {
namespace {

const char* level_name(LogLevel level) {
  switch (level) {
    case LogLevel::Debug: return "debug";
    case LogLevel::Info: return "info";
    case LogLevel::Warning: return "warning";
    case LogLevel::Error: return "error";
  }
  return "?";
}

}  // namespace

RunContext::RunContext(c10::Device device, uint64_t seed, std::filesystem::path run_dir,
                       RunLog* run_log, ProgressReporter& progress, LogLevel min_level)
    : device_(device),
      seed_(seed),
      run_dir_(std::move(run_dir)),
      run_log_(run_log),
      progress_(progress),
      min_level_(min_level) {
  if (!run_dir_.empty()) log_file_ = std::fopen((run_dir_ / "log.txt").c_str(), "a");
}

RunContext::~RunContext() {
  if (log_file_) std::fclose(log_file_);
}

at::Generator RunContext::generator(std::string_view stream) const {
  return make_cpu_generator(derive_seed(seed_, stream));
}

void RunContext::log(LogLevel level, std::string_view message) {
  std::lock_guard lock(mutex_);
  if (level >= min_level_) {
    std::fprintf(stderr, "mdlab: %s%.*s\n",
                 level >= LogLevel::Warning ? fmt::format("{}: ", level_name(level)).c_str() : "",
                 static_cast<int>(message.size()), message.data());
  }
  if (log_file_) {
    auto now = std::chrono::system_clock::now();
    std::fprintf(log_file_, "%s %s %.*s\n",
                 fmt::format("{:%Y-%m-%dT%H:%M:%S}",
                             fmt::localtime(std::chrono::system_clock::to_time_t(now)))
                     .c_str(),
                 level_name(level), static_cast<int>(message.size()), message.data());
    std::fflush(log_file_);
  }
}

void RunContext::metric(std::string_view name, int64_t step, double value) {
  if (run_log_) run_log_->add_metric(name, step, value);
}

std::shared_ptr<Backbone> RunContext::create_backbone() {
  if (!backbone_factory_) return Context::create_backbone();
  return backbone_factory_();
}

std::shared_ptr<Backbone> RunContext::create_plugin_backbone(std::string_view plugin,
                                                             const Options& options) {
  if (registry_ == nullptr) return Context::create_plugin_backbone(plugin, options);
  auto backbone = registry_->create_backbone(
      plugin, registry_->complete_options(MDLAB_PLUGIN_BACKBONE, plugin, options), *this);
  backbone->to(device_);
  return backbone;
}

}  // namespace mdlab
