// The "cifar" dataset source: CIFAR-10 and CIFAR-100 in their binary distributions.
//
// Layout: <root> holds the .bin files itself or in the archive's folder (cifar-10-batches-bin,
// cifar-100-binary). CIFAR-10: data_batch_1.bin .. data_batch_5.bin ("train"), test_batch.bin
// ("test"); records of 1 label byte + 3072 pixel bytes. CIFAR-100: train.bin, test.bin;
// records of a coarse and a fine label byte + 3072 pixel bytes (the fine label is used).
// Pixels are stored as planes (R, G, B; 32 x 32 each, row-major); load() returns them as a
// 32 x 32 x 3 HWC RGB image. The split is read into memory once, at open.
// Keys: "<split>/<index>" in file order. Classes: batches.meta.txt (CIFAR-10) or
// fine_label_names.txt (CIFAR-100) when present, else "0", "1", ...
#pragma once

#include "data_source.h"

#include <memory>

namespace mdlab {

/// Registry entry of the "cifar" format.
SourceFormat cifar_source_format();

/// Reads the split; throws DataError naming a file that is missing, has a size that is not a
/// whole number of records, or holds a label out of range.
std::unique_ptr<DataSource> open_cifar_source(const SourceRequest& request);

}  // namespace mdlab
