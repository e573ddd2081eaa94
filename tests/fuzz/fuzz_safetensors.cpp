// libFuzzer harness for the SDK's safetensors reader: any byte string must either load (and
// every tensor's bytes must lie inside the mapping) or raise mdlab::Error — never crash, hang
// or read out of bounds. Built and run by `scripts/fuzz.sh safetensors` (clang, ASan, UBSan);
// tests/unit/safetensors replays corpus/safetensors/ in every test run.
#include <mdlab/error.h>
#include <mdlab/safetensors.h>

#include <cstdint>
#include <string>
#include <sys/mman.h>
#include <unistd.h>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  // The reader maps a path; a memfd is a regular file that lives in memory.
  static const int fd = ::memfd_create("safetensors-fuzz", 0);
  static const std::string path = "/proc/self/fd/" + std::to_string(fd);
  if (::ftruncate(fd, 0) != 0) return 0;
  if (size > 0 && ::pwrite(fd, data, size, 0) != static_cast<ssize_t>(size)) return 0;
  try {
    auto file = mdlab::read_safetensors(path);
    uint64_t checksum = 0;
    for (const auto& [name, tensor] : file.tensors) {
      const auto* bytes = static_cast<const uint8_t*>(tensor.data_ptr());
      for (size_t i = 0; i < tensor.nbytes(); ++i) checksum += bytes[i];  // ASan checks bounds
    }
    volatile uint64_t sink = checksum;
    (void)sink;
  } catch (const mdlab::Error&) {
    // A clear error is the expected outcome for malformed input.
  }
  return 0;
}
