// A small, fast backbone for unit tests of methods, so a plugin's tests need no backbone
// plugin: Conv2d(C, 16, 3, stride 2, padding 1, no bias) -> BatchNorm2d -> ReLU -> global
// average pool -> Linear(16, D). Input [N, C, H, W] (any H, W >= 1), output [N, D]. Weights
// drawn from a generator seeded with `seed`: two calls with one seed build equal networks (a
// teacher created by Context::create_backbone() before the method copies the student).
#pragma once

#include <mdlab/backbone.h>

#include <cstdint>
#include <memory>

namespace mdlab::testing {

/// A new tiny backbone reading `channels`-channel images, with `feature_dim` features.
std::shared_ptr<Backbone> tiny_backbone(int64_t channels = 3, int64_t feature_dim = 32,
                                        uint64_t seed = 0);

}  // namespace mdlab::testing
