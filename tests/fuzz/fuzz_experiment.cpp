// libFuzzer harness for the experiment-file path: an input is an experiment file, optionally
// followed by a line "%%" and one --set argument per line. It is loaded (with an `extends`
// base beside it), overridden, validated against the real experiment schema and a catalog of
// plugins with every option type, and the resolved table written back as TOML and parsed
// again. Every input must give a result or a ConfigError / mdlab::Error: never a crash,
// a hang or an out-of-bounds read. Built and run by scripts/fuzz.sh experiment; the unit
// tests (tests/unit/config) replay corpus/experiment/ in every test run.
#include "fuzz_experiment_target.h"

#include <cstddef>
#include <cstdint>
#include <string_view>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  mdlab::fuzz::run_experiment_input(std::string_view(reinterpret_cast<const char*>(data), size));
  return 0;
}
