// Schedules evaluated per step (SSL reference code updates lr, weight decay and EMA momentum
// every iteration, not every epoch). `step` is 0-based; `total` is the number of steps.
#pragma once

#include <cstdint>

namespace mdlab {

/// Cosine from `start` (step 0) to `end` (step total), as DINO's cosine_scheduler.
double cosine_schedule(int64_t step, int64_t total, double start, double end);

/// Linear from `start` to `end` over `ramp` steps, then constant `end` (DINO's teacher
/// temperature warm-up).
double linear_then_constant(int64_t step, int64_t ramp, double start, double end);

/// The learning-rate rule `base * batch / 256` (Goyal et al.), or `base` when not scaling.
double scaled_lr(double base, int64_t batch, bool scale_by_batch);

}  // namespace mdlab
