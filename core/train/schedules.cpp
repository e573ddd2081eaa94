#include "schedules.h"

#include <algorithm>
#include <cmath>

namespace mdlab {

double cosine_schedule(int64_t step, int64_t total, double start, double end) {
  if (total <= 0) return end;
  const double t = std::clamp(static_cast<double>(step) / static_cast<double>(total), 0.0, 1.0);
  return end + 0.5 * (start - end) * (1.0 + std::cos(M_PI * t));
}

double linear_then_constant(int64_t step, int64_t ramp, double start, double end) {
  if (ramp <= 0 || step >= ramp) return end;
  return start + (end - start) * static_cast<double>(step) / static_cast<double>(ramp);
}

double scaled_lr(double base, int64_t batch, bool scale_by_batch) {
  return scale_by_batch ? base * static_cast<double>(batch) / 256.0 : base;
}

}  // namespace mdlab
