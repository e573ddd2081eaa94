// libFuzzer harness for the image decoders (JPEG through libjpeg-turbo, PNG through libpng,
// told apart by magic bytes): every input decodes to a consistent buffer or is refused with
// mdlab::DataError; never a crash, an out-of-bounds access, or a huge allocation for a small
// file. Built and run by scripts/fuzz.sh image; tests/unit/sources replays corpus/image/.
#include "fuzz_data_target.h"

#include <cstddef>
#include <cstdint>
#include <string_view>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  mdlab::fuzz::run_image_input(std::string_view(reinterpret_cast<const char*>(data), size));
  return 0;
}
