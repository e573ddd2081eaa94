#include "test_device.h"

#include <torch/cuda.h>

#include <cstdio>
#include <cstdlib>
#include <stdexcept>
#include <string>

namespace mdlab::test {

torch::Device test_device() {
  const char* name = std::getenv("MDLAB_TEST_DEVICE");
  return torch::Device(name != nullptr && *name != '\0' ? name : "cpu");
}

std::optional<torch::Device> cuda_test_device() {
  const torch::Device device = test_device();
  if (!device.is_cuda()) {
    std::fprintf(stdout,
                 "SKIPPED: a CUDA case (set MDLAB_TEST_DEVICE=cuda on a CUDA build with a GPU "
                 "to run it)\n");
    std::fflush(stdout);
    return std::nullopt;
  }
  if (!torch::cuda::is_available() ||
      device.index() >= static_cast<int>(torch::cuda::device_count()))
    throw std::runtime_error("MDLAB_TEST_DEVICE=" + device.str() + " but this process sees " +
                             std::to_string(torch::cuda::device_count()) + " CUDA device(s)");
  return device;
}

}  // namespace mdlab::test
