// The experiment-file fuzz target shared by the libFuzzer harness (fuzz_experiment.cpp) and
// the corpus replay in the unit tests.
#pragma once

#include <string_view>

namespace mdlab::fuzz {

/// Loads, overrides, validates and round-trips one fuzz input (see fuzz_experiment.cpp);
/// returns normally for a valid input and for one rejected with a ConfigError / mdlab::Error.
/// Anything else (another exception, a crash) is a bug.
void run_experiment_input(std::string_view input);

}  // namespace mdlab::fuzz
