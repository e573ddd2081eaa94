// libFuzzer harness for the diffusers JSON configs: an input is a config.json that is read as
// a UNet, VAE, CLIP vision, CLIP preprocessor and scheduler config in turn (each scheduler
// kind then prepares 1 to 50 steps and takes one step on a tiny sample). Every input must be
// accepted or refused with mdlab::Error naming the file: never a crash, a hang, an
// out-of-bounds read, or LibTorch allocating a model of absurd size (no module is built).
// Built and run by scripts/fuzz.sh json_config; tests/unit/diffusion replays
// corpus/json_config/ in every test run.
#include "fuzz_json_config_target.h"

#include <cstddef>
#include <cstdint>
#include <string_view>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  mdlab::fuzz::run_json_config_input(std::string_view(reinterpret_cast<const char*>(data), size));
  return 0;
}
