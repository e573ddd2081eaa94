#include <mdlab/context.h>
#include <mdlab/error.h>
#include <mdlab/testing/gradient_check.h>

#include <fmt/format.h>
#include <torch/torch.h>

#include <algorithm>
#include <cmath>
#include <map>

namespace mdlab::testing {

bool GradientReport::ok() const {
  return std::isfinite(loss) && without_gradient.empty() && non_finite.empty() &&
         outside_groups.empty() && in_several_groups.empty() && frozen_in_groups.empty();
}

std::string GradientReport::describe() const {
  std::string out;
  if (!std::isfinite(loss)) out += fmt::format("loss is {}\n", loss);
  auto list = [&](const std::vector<std::string>& names, const char* what) {
    for (const auto& name : names) out += fmt::format("{}: {}\n", name, what);
  };
  list(without_gradient, "trainable, but the loss does not reach it (no gradient)");
  list(non_finite, "gradient has NaN or infinite values");
  list(outside_groups, "trainable, but in no param_groups() group (never updated)");
  list(in_several_groups, "in more than one param_groups() group (updated twice)");
  list(frozen_in_groups, "in a param_groups() group, but requires_grad is false");
  return out.empty() ? "ok" : out;
}

GradientReport check_gradients(Method& method, const Batch& batch, const StepInfo& step) {
  for (auto& p : method.parameters())
    if (p.grad().defined()) p.mutable_grad() = torch::Tensor();
  auto out = method.compute_loss(batch, step);
  MDLAB_CHECK(out.loss.defined() && out.loss.numel() == 1,
              "check_gradients: compute_loss returned {} instead of a scalar loss",
              out.loss.defined() ? c10::str(out.loss.sizes()) : "an undefined tensor");
  GradientReport report;
  report.loss = out.loss.item<double>();
  out.loss.backward();

  // Parameters are told apart by their storage: names come from named_parameters().
  std::map<const void*, int> group_count;
  for (const auto& group : method.param_groups())
    for (const auto& p : group.params) group_count[p.unsafeGetTensorImpl()] += 1;
  for (const auto& item : method.named_parameters()) {
    const auto& p = item.value();
    const auto it = group_count.find(p.unsafeGetTensorImpl());
    const int groups = it == group_count.end() ? 0 : it->second;
    if (!p.requires_grad()) {
      if (groups > 0) report.frozen_in_groups.push_back(item.key());
      continue;
    }
    if (groups == 0) report.outside_groups.push_back(item.key());
    if (groups > 1) report.in_several_groups.push_back(item.key());
    if (!p.grad().defined())
      report.without_gradient.push_back(item.key());
    else if (!torch::isfinite(p.grad()).all().item<bool>())
      report.non_finite.push_back(item.key());
  }
  return report;
}

FiniteDifferenceReport finite_difference_check(Method& method, const Batch& batch,
                                               const FiniteDifferenceSpec& spec,
                                               const StepInfo& step) {
  MDLAB_CHECK(spec.samples > 0 && spec.eps > 0,
              "finite_difference_check: samples {} and eps {} "
              "must be positive",
              spec.samples, spec.eps);
  method.to(torch::kDouble);
  Batch batch64{{}, batch.labels};
  for (const auto& v : batch.views) batch64.views.push_back(v.to(torch::kDouble));

  std::vector<std::pair<std::string, torch::Tensor>> params;
  int64_t total = 0;
  for (const auto& item : method.named_parameters())
    if (item.value().requires_grad() && item.key().rfind(spec.prefix, 0) == 0) {
      params.emplace_back(item.key(), item.value());
      total += item.value().numel();
    }
  MDLAB_CHECK(total > 0, "finite_difference_check: the method has no trainable parameters{}",
              spec.prefix.empty() ? "" : fmt::format(" named '{}...'", spec.prefix));

  for (auto& [name, p] : params)
    if (p.grad().defined()) p.mutable_grad() = torch::Tensor();
  method.compute_loss(batch64, step).loss.backward();

  auto loss_at = [&]() {
    torch::NoGradGuard no_grad;
    return method.compute_loss(batch64, step).loss.item<double>();
  };
  auto generator = make_cpu_generator(spec.seed);
  auto picks = torch::randint(total, {spec.samples}, generator, torch::kLong);
  FiniteDifferenceReport report;
  for (int64_t k = 0; k < spec.samples; ++k) {
    // Walk to the parameter holding coordinate `flat` of the concatenation.
    int64_t flat = picks[k].item<int64_t>();
    size_t which = 0;
    for (; flat >= params[which].second.numel(); ++which) flat -= params[which].second.numel();
    auto& [name, p] = params[which];
    auto coordinate = p.detach().view({-1}).narrow(0, flat, 1);
    const double analytic = p.grad().defined() ? p.grad().reshape({-1})[flat].item<double>() : 0.0;
    const double original = coordinate.item<double>();
    coordinate.fill_(original + spec.eps);
    const double up = loss_at();
    coordinate.fill_(original - spec.eps);
    const double down = loss_at();
    coordinate.fill_(original);
    const double numeric = (up - down) / (2 * spec.eps);
    const double ratio = std::abs(analytic - numeric) / (spec.atol + spec.rtol * std::abs(numeric));
    report.checked += 1;
    if (ratio >= report.worst_ratio) {
      report.worst_ratio = ratio;
      report.worst =
          fmt::format("{}[{}]: autograd {:.9g}, numeric {:.9g}", name, flat, analytic, numeric);
    }
  }
  return report;
}

}  // namespace mdlab::testing
