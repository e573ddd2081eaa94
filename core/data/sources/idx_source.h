// The "idx" dataset source: MNIST and Fashion-MNIST in IDX files (see idx_file.h).
//
// Layout: <root>/train-images-idx3-ubyte[.gz] and friends, split "train" or "test"; the split
// is read into memory once, at open. Images are 1-channel, H x W as stored (28 x 28).
// Keys: "<split>/<index in the file>". Classes: Fashion-MNIST's names when the folder looks
// like Fashion-MNIST, else "0", "1", ...; a class list file replaces them.
#pragma once

#include "data_source.h"

#include <memory>

namespace mdlab {

/// Registry entry of the "idx" format.
SourceFormat idx_source_format();

/// Reads the split; throws mdlab::Error naming the file that is missing or malformed, or
/// whose count disagrees with its partner's.
std::unique_ptr<DataSource> open_idx_source(const SourceRequest& request);

}  // namespace mdlab
