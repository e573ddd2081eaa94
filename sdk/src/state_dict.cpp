#include <mdlab/error.h>
#include <mdlab/state_dict.h>

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <torch/torch.h>

#include <algorithm>
#include <set>

namespace mdlab {

namespace {

void collect(const torch::nn::Module& module, const std::string& prefix,
             std::vector<std::pair<std::string, torch::Tensor>>& out) {
  // Same order as PyTorch's Module.state_dict(): own parameters, own buffers, then children.
  for (const auto& item : module.named_parameters(/*recurse=*/false))
    if (item.value().defined()) out.emplace_back(prefix + item.key(), item.value());
  for (const auto& item : module.named_buffers(/*recurse=*/false))
    if (item.value().defined()) out.emplace_back(prefix + item.key(), item.value());
  for (const auto& child : module.named_children())
    collect(*child.value(), prefix + child.key() + ".", out);
}

bool ignored(const std::string& name, const std::vector<std::string>& prefixes) {
  for (const auto& p : prefixes)
    if (name.compare(0, p.size(), p) == 0) return true;
  return false;
}

std::string shape_text(torch::IntArrayRef sizes) {
  return fmt::format("[{}]", fmt::join(sizes, ", "));
}

std::string list_text(const std::vector<std::string>& names) {
  return fmt::format("{}", fmt::join(names, ", "));
}

}  // namespace

std::vector<std::pair<std::string, torch::Tensor>> state_dict(const torch::nn::Module& module) {
  std::vector<std::pair<std::string, torch::Tensor>> raw, out;
  collect(module, "", raw);
  out.reserve(raw.size());
  for (auto& [name, t] : raw) out.emplace_back(std::move(name), t.detach());
  return out;
}

LoadReport load_state_dict(torch::nn::Module& module,
                           const std::map<std::string, torch::Tensor>& tensors,
                           const LoadOptions& options) {
  std::vector<std::pair<std::string, torch::Tensor>> targets;
  collect(module, "", targets);

  LoadReport report;
  std::vector<std::pair<torch::Tensor, torch::Tensor>> copies;  // (module, file)
  std::set<std::string> module_names;
  for (const auto& [name, target] : targets) {
    module_names.insert(name);
    if (ignored(name, options.ignore_prefixes)) {
      report.ignored.push_back(name);
      continue;
    }
    auto it = tensors.find(name);
    if (it == tensors.end()) {
      report.missing.push_back(name);
      continue;
    }
    const torch::Tensor& source = it->second;
    if (!source.defined()) {
      report.mismatched.push_back({name, "the file tensor is undefined"});
      continue;
    }
    if (source.sizes() != target.sizes()) {
      report.mismatched.push_back(
          {name, fmt::format("shape {} in the file, {} in the module", shape_text(source.sizes()),
                             shape_text(target.sizes()))});
      continue;
    }
    // Precision may change (F16 file into an F32 model); a float cannot become a counter.
    if (torch::isFloatingType(source.scalar_type()) !=
        torch::isFloatingType(target.scalar_type())) {
      report.mismatched.push_back({name, fmt::format("dtype {} in the file, {} in the module",
                                                     c10::toString(source.scalar_type()),
                                                     c10::toString(target.scalar_type()))});
      continue;
    }
    copies.emplace_back(target, source);
    report.loaded.push_back(name);
  }
  for (const auto& [name, unused] : tensors) {
    if (module_names.count(name)) continue;
    if (ignored(name, options.ignore_prefixes))
      report.ignored.push_back(name);
    else
      report.unexpected.push_back(name);
  }

  if (options.strict &&
      (!report.missing.empty() || !report.unexpected.empty() || !report.mismatched.empty())) {
    std::string message = "cannot load state dict strictly:";
    if (!report.missing.empty())
      message += fmt::format("\n  missing from the file ({}): {}", report.missing.size(),
                             list_text(report.missing));
    if (!report.unexpected.empty())
      message += fmt::format("\n  not in the module ({}): {}", report.unexpected.size(),
                             list_text(report.unexpected));
    for (const auto& m : report.mismatched) message += fmt::format("\n  {}: {}", m.name, m.reason);
    MDLAB_THROW("{}", message);
  }

  torch::NoGradGuard no_grad;
  for (auto& [target, source] : copies) target.copy_(source);
  return report;
}

}  // namespace mdlab
