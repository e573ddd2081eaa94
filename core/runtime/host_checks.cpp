#include "host_checks.h"

#include <mdlab/version.h>

#include <torch/torch.h>

#include <fmt/format.h>

#include <dlfcn.h>

#include <filesystem>
#include <optional>

namespace mdlab {

std::string loaded_blas_library() {
  // LibTorch links libblas.so.3 and libopenblas.so.0 both; its BLAS calls go wherever the
  // global symbol lookup finds sgemm_, which is what this asks the dynamic linker.
  void* symbol = ::dlsym(RTLD_DEFAULT, "sgemm_");
  Dl_info info{};
  if (symbol == nullptr || ::dladdr(symbol, &info) == 0 || info.dli_fname == nullptr) return "";
  std::error_code ec;
  auto real = std::filesystem::canonical(info.dli_fname, ec);
  return ec ? std::string(info.dli_fname) : real.string();
}

std::optional<std::string> reference_blas_warning() {
  const std::string blas = loaded_blas_library();
  // Debian installs the Netlib reference BLAS under .../blas/; optimised ones live under
  // openblas-*/, blis-*/ or atlas/.
  if (blas.find("/blas/libblas.so") == std::string::npos) return std::nullopt;
  return fmt::format(
      "LibTorch is using the reference BLAS ({}), about 10x slower than OpenBLAS for matrix "
      "work. Install libopenblas0-pthread and select it: update-alternatives --set "
      "libblas.so.3-x86_64-linux-gnu /usr/lib/x86_64-linux-gnu/openblas-pthread/libblas.so.3 "
      "(scripts/install-deps.sh does both)",
      blas);
}

std::string device_problem(const std::string& device) {
  std::optional<c10::Device> parsed;
  try {
    parsed = c10::Device(device);
  } catch (const std::exception&) {
    return fmt::format("'{}' is not a device (use \"cpu\", \"cuda\" or \"cuda:N\")", device);
  }
  if (parsed->is_cpu()) return "";
  if (!parsed->is_cuda())
    return fmt::format("device '{}' is not supported (use \"cpu\", \"cuda\" or \"cuda:N\")",
                       device);
  if (!sdk_torch_has_cuda() || !torch::cuda::is_available()) {
    if (!sdk_torch_has_cuda())
      return fmt::format(
          "device '{}' requested, but this mdlab is built against a CPU-only LibTorch ({}); "
          "rebuild with -DTorch_DIR=<a CUDA LibTorch>/share/cmake/Torch, or use device = \"cpu\"",
          device, sdk_torch_version());
    return fmt::format("device '{}' requested, but no CUDA GPU is visible to this process",
                       device);
  }
  const auto count = static_cast<int64_t>(torch::cuda::device_count());
  if (parsed->has_index() && parsed->index() >= count)
    return fmt::format("device '{}' requested, but only {} CUDA device(s) are visible", device,
                       count);
  return "";
}

}  // namespace mdlab
