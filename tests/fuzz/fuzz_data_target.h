// The dataset-reader fuzz targets shared by the libFuzzer harnesses (fuzz_idx.cpp,
// fuzz_cifar.cpp, fuzz_image.cpp) and the corpus replays in the unit tests.
#pragma once

#include <string_view>

namespace mdlab::fuzz {

/// Reads one input as an IDX file (raw, or gzip when it starts with gzip's magic), then as
/// both files of an IDX split folder; touches every byte of what was read.
void run_idx_input(std::string_view input);

/// Splits one input at its first "\n--\n" into a CIFAR batch file and a class-names file,
/// opens them as the test split of a CIFAR-10 folder (first byte even) or a CIFAR-100 folder
/// (odd), and loads up to 64 records.
void run_cifar_input(std::string_view input);

/// Decodes one input as an image file in memory, at full size and with a 16 x 16 size hint.
void run_image_input(std::string_view input);

}  // namespace mdlab::fuzz
