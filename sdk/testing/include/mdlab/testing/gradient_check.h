// Gradient checks for methods under test.
//
// check_gradients(): one compute_loss + backward, then which trainable parameters the loss
// reached, whether every gradient is finite, and whether param_groups() covers each
// trainable parameter exactly once (a parameter in no group is never updated; in two, twice).
//
// finite_difference_check(): the autograd gradient of the loss against central differences
// on sampled parameter coordinates, in float64 (the method and batch are converted; the
// method stays float64). compute_loss must then be a pure function of the parameters and the
// batch: no dropout, no state updated inside it (DINO's centre), the same BatchNorm mode.
#pragma once

#include <mdlab/method.h>

#include <cstdint>
#include <string>
#include <vector>

namespace mdlab::testing {

/// What check_gradients() found.
struct GradientReport {
  double loss = 0;                             ///< the loss value
  std::vector<std::string> without_gradient;   ///< trainable parameters the loss did not reach
  std::vector<std::string> non_finite;         ///< parameters with NaN or infinite gradients
  std::vector<std::string> outside_groups;     ///< trainable, but in no param_groups() group
  std::vector<std::string> in_several_groups;  ///< in more than one group
  std::vector<std::string> frozen_in_groups;   ///< in a group, but requires_grad is false
  /// True when the loss is finite and every list is empty.
  bool ok() const;
  /// Every finding on its own line ("ok" when there is none), for a test's failure message.
  std::string describe() const;
};

/// Zeroes the gradients, runs compute_loss(batch, step) and backward, and reports.
GradientReport check_gradients(Method& method, const Batch& batch, const StepInfo& step = {});

/// What finite_difference_check() found.
struct FiniteDifferenceReport {
  int64_t checked = 0;  ///< coordinates compared
  double worst_ratio =
      0;              ///< max over coordinates of |autograd - numeric| / (atol + rtol |numeric|)
  std::string worst;  ///< "name[index]: autograd a, numeric n" of the worst coordinate
  /// True when every coordinate agreed within the tolerances (worst_ratio <= 1).
  bool ok() const { return checked > 0 && worst_ratio <= 1.0; }
};

/// How finite_difference_check() samples and compares.
struct FiniteDifferenceSpec {
  int64_t samples = 24;  ///< parameter coordinates, drawn uniformly over all trainable ones
  double eps = 1e-6;     ///< step of the central difference
  double atol = 1e-6;    ///< absolute tolerance
  double rtol = 1e-4;    ///< relative tolerance
  uint64_t seed = 0;     ///< coordinate draw
  std::string prefix;    ///< only parameters whose name starts with it ("projector.")
};

/// Autograd against central differences of compute_loss(batch, step) (see above).
FiniteDifferenceReport finite_difference_check(Method& method, const Batch& batch,
                                               const FiniteDifferenceSpec& spec = {},
                                               const StepInfo& step = {});

}  // namespace mdlab::testing
