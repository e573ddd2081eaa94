// The JSON-config fuzz target shared by the libFuzzer harness (fuzz_json_config.cpp) and the
// corpus replay in the unit tests.
#pragma once

#include <string_view>

namespace mdlab::fuzz {

/// Reads one fuzz input as every kind of diffusers config (see fuzz_json_config.cpp); returns
/// normally for configs accepted or refused with mdlab::Error. Anything else is a bug.
void run_json_config_input(std::string_view input);

}  // namespace mdlab::fuzz
