// The device that device-dependent tests run on: MDLAB_TEST_DEVICE ("cuda", "cuda:1") on a
// CUDA build with a GPU, else the CPU. CI has no GPU; scripts/gpu-check.sh sets the variable
// and runs the cases tagged [device] of each test executable.
#pragma once

#include <torch/types.h>

#include <optional>

namespace mdlab::test {

/// The device named by MDLAB_TEST_DEVICE, else the CPU. Tests that compare a device result
/// with the CPU's run on the CPU twice without the variable (still checking the code path).
torch::Device test_device();

/// The CUDA device named by MDLAB_TEST_DEVICE, or nullopt after a loud "SKIPPED:" line when
/// the variable names none (CTest then reports the case as skipped). Throws when it names
/// CUDA but this build or process has no CUDA device: asked-for GPU tests never pass quietly.
std::optional<torch::Device> cuda_test_device();

}  // namespace mdlab::test
