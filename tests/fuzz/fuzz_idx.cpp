// libFuzzer harness for the IDX reader (raw and gzip files, the split reader's checks): every
// input is read or refused with mdlab::Error naming the file; never a crash, an out-of-bounds
// read, or an allocation the file's size does not back. Built and run by scripts/fuzz.sh idx;
// tests/unit/sources replays corpus/idx/ in every test run.
#include "fuzz_data_target.h"

#include <cstddef>
#include <cstdint>
#include <string_view>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  mdlab::fuzz::run_idx_input(std::string_view(reinterpret_cast<const char*>(data), size));
  return 0;
}
