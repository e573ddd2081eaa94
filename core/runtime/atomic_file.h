// Writes that matter go to a temporary file in the same directory, are fsync'ed, then renamed
// over the target: a reader (or a crash) sees the old content or the new, never a mix.
#pragma once

#include <filesystem>
#include <string_view>

namespace mdlab {

/// Replaces `file` with `content` atomically; throws mdlab::Error naming the file.
void write_file_atomic(const std::filesystem::path& file, std::string_view content);

}  // namespace mdlab
