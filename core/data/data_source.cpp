#include "data_source.h"

#include "sources/cifar_source.h"
#include "sources/folder_source.h"
#include "sources/idx_source.h"

#include <fmt/format.h>

namespace fs = std::filesystem;

namespace mdlab {
namespace {

// Callers are asked to name the file in the message; a message that forgot still does, so a
// log line always says which file to look at.
std::string naming(const fs::path& file, std::string message) {
  const std::string name = file.string();
  if (name.empty() || message.find(name) != std::string::npos) return message;
  return name + ": " + message;
}

}  // namespace

DataError::DataError(fs::path file, std::string message)
    : Error(naming(file, std::move(message))), file_(std::move(file)) {}

DataError::~DataError() = default;

DataSource::~DataSource() = default;

const std::map<std::string, SourceFormat>& source_formats() {
  // Built from the factories by name, not by self-registering statics: a static library
  // drops object files nothing refers to, and their registrations with them.
  static const std::map<std::string, SourceFormat> formats = [] {
    std::map<std::string, SourceFormat> out;
    for (SourceFormat f : {folder_source_format(), idx_source_format(), cifar_source_format()}) {
      MDLAB_CHECK(out.count(f.name) == 0, "data source format '{}' registered twice", f.name);
      std::string name = f.name;
      out.emplace(std::move(name), std::move(f));
    }
    return out;
  }();
  return formats;
}

std::unique_ptr<DataSource> open_source(const SourceRequest& request) {
  const auto& formats = source_formats();
  auto it = formats.find(request.format);
  if (it == formats.end()) {
    std::string known;
    for (const auto& [name, f] : formats) known += fmt::format("\n  {}: {}", name, f.help);
    MDLAB_THROW("unknown data format '{}'; known formats:{}", request.format, known);
  }
  MDLAB_CHECK(!request.root.empty(), "data format '{}': no dataset folder (root) given",
              request.format);
  std::error_code ec;
  if (!fs::is_directory(request.root, ec)) {
    throw DataError(request.root, fmt::format("dataset folder {} {}", request.root.string(),
                                              fs::exists(request.root, ec) ? "is not a folder"
                                                                           : "does not exist"));
  }
  MDLAB_CHECK(request.on_error == "error" || request.on_error == "skip",
              "on_error must be \"error\" or \"skip\", not \"{}\"", request.on_error);
  return it->second.open(request);
}

}  // namespace mdlab
