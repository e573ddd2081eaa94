// The "folder" dataset source: images in class folders, the ImageNet layout.
//
// Layout: <root>/<split>/<class folder>/**/<image>, or <root>/<class folder>/... when the
// split is empty. Images are the files ending in .jpg .jpeg .jpe .jfif .png (any case), found
// recursively and sorted by the byte order of their path, so every run sees the same order;
// other files and hidden entries (".name") are ignored and counted. The decoder goes by the
// file's content, not its extension.
//
// Keys: the path relative to the split folder, '/' separated, without the extension
// ("n01440764/ILSVRC2012_val_00000293"); two files with the same key (a.jpg, a.png) are an
// error. Labels: index of the class in the sorted class folder names, or in the class list
// when one is given (see class_list.h; unlisted folders are ignored), then restricted to
// train_classes when set.
#pragma once

#include "data_source.h"

#include <memory>

namespace mdlab {

/// Registry entry of the "folder" format.
SourceFormat folder_source_format();

/// Scans the split; throws DataError naming the folder or file that is missing, empty
/// (on_error "error"; "skip" ignores and counts empty class folders) or ambiguous.
std::unique_ptr<DataSource> open_folder_source(const SourceRequest& request);

}  // namespace mdlab
