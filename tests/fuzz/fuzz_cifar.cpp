// libFuzzer harness for the CIFAR-10/100 binary reader and its class-name files: every input
// is read or refused with mdlab::DataError naming the file; never a crash or an out-of-bounds
// read. Built and run by scripts/fuzz.sh cifar; tests/unit/sources replays corpus/cifar/.
#include "fuzz_data_target.h"

#include <cstddef>
#include <cstdint>
#include <string_view>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  mdlab::fuzz::run_cifar_input(std::string_view(reinterpret_cast<const char*>(data), size));
  return 0;
}
