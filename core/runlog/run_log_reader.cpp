#include "run_log_reader.h"

#include "h5_support.h"
#include "text_table.h"

#include <mdlab/error.h>

#include <fmt/format.h>
#include <toml++/toml.h>

#include <algorithm>
#include <cmath>
#include <sstream>

namespace mdlab {

namespace fs = std::filesystem;
using namespace runlog_detail;

namespace {

H5Handle open_for_reading(const fs::path& file) {
  MDLAB_CHECK(fs::exists(file), "run log {} does not exist", file.string());
  MDLAB_CHECK(!fs::is_directory(file), "run log {} is a folder, not a file", file.string());
  H5Handle fapl = file_access_plist(file, false);
  H5Handle handle = h5_id(H5Fopen(file.c_str(), H5F_ACC_RDONLY, fapl.get()), H5Fclose, file,
                          "open the file (is it an HDF5 file?)");
  check_run_log_format(handle.get(), file);
  return handle;
}

herr_t collect_attribute_name(hid_t, const char* name, const H5A_info_t*, void* data) {
  try {
    static_cast<std::vector<std::string>*>(data)->emplace_back(name);
  } catch (...) {  // never let an exception cross HDF5's C frames
    return -1;
  }
  return 0;
}

std::vector<int64_t> to_shape(const std::vector<hsize_t>& dims) {
  return std::vector<int64_t>(dims.begin(), dims.end());
}

// Runs `read` for one object; a failure (an object a killed writer left half-written) becomes
// a line in `problems` instead of hiding the rest of the run.
template <typename Read>
void read_object(const fs::path& file, RunLogContents& out, Read read) {
  try {
    read();
  } catch (const Error& e) {
    const std::string prefix = fmt::format("run log {}: ", file.string());
    const std::string& m = e.message();
    out.problems.push_back(m.rfind(prefix, 0) == 0 ? m.substr(prefix.size()) : m);
  }
}

// The datasets below the top-level group `name` (absent: none).
std::vector<std::string> datasets_below(hid_t root, const char* name, const fs::path& file,
                                        RunLogContents& out, H5Handle& group) {
  if (!h5_exists(root, name, file)) return {};
  const std::string path = fmt::format("/{}", name);
  group = h5_id(H5Gopen2(root, name, H5P_DEFAULT), H5Gclose, file, "open group " + path);
  return list_datasets(group.get(), path, out.problems);
}

void read_metrics(hid_t root, const fs::path& file, RunLogContents& out) {
  H5Handle group;
  const auto names = datasets_below(root, "metrics", file, out, group);
  if (names.empty()) return;
  H5Handle mem_type = metric_memory_type(file);
  for (const auto& name : names) {
    read_object(file, out, [&] {
      const std::string object = "/metrics/" + name;
      const std::string what = "read metric " + object;
      H5Handle dset = h5_id(H5Dopen2(group.get(), name.c_str(), H5P_DEFAULT), H5Dclose, file, what);
      const auto shape = dataset_shape(dset.get(), file, object);
      H5Handle type = h5_id(H5Dget_type(dset.get()), H5Tclose, file, what);
      MDLAB_CHECK(shape.size() == 1 && H5Tget_class(type.get()) == H5T_COMPOUND,
                  "run log {}: {} is not a metric series (1-D {{step, value, time}})",
                  file.string(), object);
      std::vector<MetricPoint> points(shape[0]);
      if (!points.empty())
        h5_ok(H5Dread(dset.get(), mem_type.get(), H5S_ALL, H5S_ALL, H5P_DEFAULT, points.data()),
              file, what);
      out.metrics.emplace(name, std::move(points));
    });
  }
}

void read_tables(hid_t root, const fs::path& file, RunLogContents& out) {
  H5Handle group;
  for (const auto& rel : datasets_below(root, "eval", file, out, group)) {
    const size_t slash = rel.rfind('/');
    if (slash == std::string::npos) {
      // Tables live at /eval/<evaluator>/<table>; say so rather than drop it unseen.
      out.problems.push_back(
          fmt::format("/eval/{}: a dataset directly below /eval, not a "
                      "table of an evaluator (/eval/<evaluator>/<table>); "
                      "not shown",
                      rel));
      continue;
    }
    read_object(file, out, [&] {
      const std::string object = "/eval/" + rel;
      const std::string what = "read table " + object;
      H5Handle dset = h5_id(H5Dopen2(group.get(), rel.c_str(), H5P_DEFAULT), H5Dclose, file, what);
      Table table = read_table_dataset(dset.get(), object, file);
      table.name = rel.substr(slash + 1);
      out.tables[rel.substr(0, slash)].push_back(std::move(table));
    });
  }
}

ArtifactType artifact_type_of(hid_t dset, const fs::path& file, const std::string& object) {
  H5Handle type = h5_id(H5Dget_type(dset), H5Tclose, file, "read the type of " + object);
  const H5T_class_t cls = H5Tget_class(type.get());
  const size_t size = H5Tget_size(type.get());
  if (cls == H5T_FLOAT && size == 4) return ArtifactType::Float32;
  if (cls == H5T_INTEGER && size == 1 && H5Tget_sign(type.get()) == H5T_SGN_NONE)
    return ArtifactType::UInt8;
  return ArtifactType::Other;
}

void read_artifacts(hid_t root, const fs::path& file, RunLogContents& out) {
  H5Handle group;
  for (const auto& name : datasets_below(root, "artifacts", file, out, group)) {
    read_object(file, out, [&] {
      const std::string object = "/artifacts/" + name;
      H5Handle dset = h5_id(H5Dopen2(group.get(), name.c_str(), H5P_DEFAULT), H5Dclose, file,
                            "open artifact " + object);
      out.artifacts.push_back({name, artifact_type_of(dset.get(), file, object),
                               to_shape(dataset_shape(dset.get(), file, object))});
    });
  }
}

template <typename T>
std::vector<T> read_artifact(const fs::path& file, std::string_view name, ArtifactType expected,
                             hid_t mem_type) {
  H5Quiet quiet;
  H5Handle handle = open_for_reading(file);
  const std::string rel = fmt::format("artifacts/{}", name);
  const std::string object = "/" + rel;
  MDLAB_CHECK(h5_exists(handle.get(), rel, file), "run log {} has no artifact {}", file.string(),
              name);
  H5Handle dset = h5_id(H5Dopen2(handle.get(), rel.c_str(), H5P_DEFAULT), H5Dclose, file,
                        "open artifact " + object);
  const ArtifactType type = artifact_type_of(dset.get(), file, object);
  MDLAB_CHECK(type == expected, "run log {}: artifact {} holds {}, not {}", file.string(), name,
              artifact_type_name(type), artifact_type_name(expected));
  size_t count = 1;
  for (hsize_t d : dataset_shape(dset.get(), file, object)) count *= d;
  std::vector<T> data(count);
  if (count > 0)
    h5_ok(H5Dread(dset.get(), mem_type, H5S_ALL, H5S_ALL, H5P_DEFAULT, data.data()), file,
          "read artifact " + object);
  return data;
}

// --- summary rendering ---

std::string first_line(const std::string& text) {
  const size_t nl = text.find('\n');
  return nl == std::string::npos ? text : text.substr(0, nl) + " ...";
}

// A TOML value on one line, the way it would be written inline.
std::string inline_toml(const toml::node& node) {
  if (const auto* table = node.as_table()) {
    std::string out = "{";
    for (const auto& [key, value] : *table) {
      if (out.size() > 1) out += ", ";
      out += fmt::format("{} = {}", key.str(), inline_toml(value));
    }
    return out + "}";
  }
  if (const auto* array = node.as_array()) {
    std::string out = "[";
    for (const auto& element : *array) {
      if (out.size() > 1) out += ", ";
      out += inline_toml(element);
    }
    return out + "]";
  }
  if (const auto* s = node.as_string()) return fmt::format("\"{}\"", s->get());
  std::ostringstream os;
  node.visit([&](const auto& v) { os << v; });
  return os.str();
}

// A TOML scalar for display: strings without quotes.
std::string plain_toml(const toml::node& node) {
  if (const auto* s = node.as_string()) return s->get();
  return inline_toml(node);
}

// "resnet50 (width = 64, zero_init = true)": the plugin's name, then its options (in key
// order: toml++ tables do not keep the file's order).
std::string plugin_line(const toml::table& section) {
  std::string name = "(no name)";
  if (const auto* n = section.get("name")) name = plain_toml(*n);
  std::string options;
  for (const auto& [key, value] : section) {
    if (key.str() == "name") continue;
    if (!options.empty()) options += ", ";
    options += fmt::format("{} = {}", key.str(), inline_toml(value));
  }
  return options.empty() ? name : fmt::format("{} ({})", name, options);
}

std::string render_config(const std::string& text) {
  if (text.find_first_not_of(" \t\r\n") == std::string::npos) return "  (empty)\n";
  toml::table config;
  try {
    config = toml::parse(text);
  } catch (const toml::parse_error& e) {
    return fmt::format("  (not valid TOML: {})\n", e.description());
  }
  TextTable lines;
  lines.set_align(1, TextTable::Align::Left);
  auto first_of = [&](std::initializer_list<const char*> paths) -> std::string {
    for (const char* p : paths) {
      toml::node_view<toml::node> node = config.at_path(p);
      if (node && !node.is_table() && !node.is_array()) return plain_toml(*node.node());
    }
    return "";
  };
  const std::pair<const char*, std::string> scalars[] = {
      {"experiment", first_of({"experiment.name", "name", "experiment"})},
      {"seed", first_of({"seed", "experiment.seed", "train.seed", "trainer.seed"})},
      {"device", first_of({"device", "experiment.device", "train.device", "trainer.device"})},
  };
  for (const auto& [label, value] : scalars)
    if (!value.empty()) lines.add_row({label, value});
  for (const char* section : {"backbone", "method", "generator", "eval"}) {
    const toml::node* node = config.get(section);
    if (node == nullptr) continue;
    if (const auto* table = node->as_table()) {
      lines.add_row({section, plugin_line(*table)});
    } else if (const auto* array = node->as_array()) {
      for (const auto& element : *array) {
        const auto* table = element.as_table();
        lines.add_row({section, table ? plugin_line(*table)
                                      : fmt::format("(not a table: {})", inline_toml(element))});
      }
    } else {
      lines.add_row({section, fmt::format("(not a table: {})", inline_toml(*node))});
    }
  }
  if (lines.size() == 0) return "  (no experiment, seed, device or plugin sections)\n";
  return lines.render("  ");
}

std::string render_metrics(const RunLogContents& contents) {
  if (contents.metrics.empty()) return "  (none)\n";
  TextTable table({"metric", "points", "last step", "last value", "min", "max"});
  for (const auto& [name, points] : contents.metrics) {
    if (points.empty()) {
      table.add_row({name, "0"});
      continue;
    }
    double lo = NAN;
    double hi = NAN;
    for (const auto& p : points) {
      if (std::isnan(p.value)) continue;
      lo = std::isnan(lo) ? p.value : std::min(lo, p.value);
      hi = std::isnan(hi) ? p.value : std::max(hi, p.value);
    }
    table.add_row({name, std::to_string(points.size()), std::to_string(points.back().step),
                   format_value(points.back().value), format_value(lo), format_value(hi)});
  }
  return table.render("  ");
}

std::string render_tables(const RunLogContents& contents) {
  if (contents.tables.empty()) return "  (none)\n";
  std::string out;
  for (const auto& [evaluator, tables] : contents.tables) {
    for (const auto& t : tables) {
      if (!out.empty()) out += '\n';
      out += fmt::format("  {} / {}\n", evaluator, t.name);
      out += render_table(t, "    ");
    }
  }
  return out;
}

std::string render_artifacts(const RunLogContents& contents) {
  TextTable table({"artifact", "type", "shape"});
  table.set_align(2, TextTable::Align::Left);
  for (const auto& a : contents.artifacts) {
    std::string shape = "[";
    for (size_t i = 0; i < a.shape.size(); ++i)
      shape += (i ? ", " : "") + std::to_string(a.shape[i]);
    table.add_row({a.name, artifact_type_name(a.type), shape + "]"});
  }
  return table.render("  ");
}

}  // namespace

std::string render_table(const Table& t, std::string_view indent) {
  const bool notes =
      std::any_of(t.notes.begin(), t.notes.end(), [](const std::string& n) { return !n.empty(); });
  std::vector<std::string> header{""};
  header.insert(header.end(), t.columns.begin(), t.columns.end());
  if (notes) header.push_back("note");
  TextTable text(std::move(header));
  text.set_align(0, TextTable::Align::Left);
  // Values right-aligned even in a column holding "-" (no value), as stacked runs often do.
  for (size_t c = 1; c <= t.columns.size(); ++c) text.set_align(c, TextTable::Align::Right);
  if (notes) text.set_align(t.columns.size() + 1, TextTable::Align::Left);
  for (size_t r = 0; r < t.rows.size(); ++r) {
    std::vector<std::string> cells{t.rows[r]};
    for (double v : t.values[r]) cells.push_back(std::isnan(v) ? "-" : format_value(v));
    if (notes) cells.push_back(r < t.notes.size() ? t.notes[r] : "");
    text.add_row(std::move(cells));
  }
  return text.render(indent);
}

bool parse_run_status(std::string_view name, RunStatus& status) {
  for (RunStatus s :
       {RunStatus::Running, RunStatus::Completed, RunStatus::Failed, RunStatus::Interrupted}) {
    if (name == run_status_name(s)) {
      status = s;
      return true;
    }
  }
  return false;
}

const char* artifact_type_name(ArtifactType type) {
  switch (type) {
    case ArtifactType::Float32: return "float32";
    case ArtifactType::UInt8: return "uint8";
    case ArtifactType::Other: return "other";
  }
  return "other";
}

RunLogContents read_run_log(const fs::path& file) {
  H5Quiet quiet;
  H5Handle handle = open_for_reading(file);
  const hid_t root = handle.get();
  RunLogContents out;
  out.file = file;
  out.config_toml = read_string_dataset(root, "config", file);

  H5Handle meta = h5_id(H5Gopen2(root, "meta", H5P_DEFAULT), H5Gclose, file, "open group /meta");
  std::vector<std::string> names;
  if (H5Aiterate2(meta.get(), H5_INDEX_NAME, H5_ITER_INC, nullptr, collect_attribute_name, &names) <
      0)
    throw_h5(file, "list the attributes of /meta");
  bool has_status = false;
  for (const auto& name : names) {
    std::string value = read_string_attribute(meta.get(), name, file, "/meta");
    if (name == "status") {
      MDLAB_CHECK(parse_run_status(value, out.status),
                  "run log {}: /meta/status is '{}', not running, completed, failed or "
                  "interrupted",
                  file.string(), value);
      has_status = true;
    } else if (name == "status_reason") {
      out.status_reason = std::move(value);
    } else {
      out.meta.emplace(name, std::move(value));
    }
  }
  MDLAB_CHECK(has_status, "run log {} has no /meta/status attribute", file.string());

  read_metrics(root, file, out);
  read_tables(root, file, out);
  read_artifacts(root, file, out);
  return out;
}

std::vector<float> read_artifact_float32(const fs::path& file, std::string_view name) {
  return read_artifact<float>(file, name, ArtifactType::Float32, H5T_NATIVE_FLOAT);
}

std::vector<uint8_t> read_artifact_uint8(const fs::path& file, std::string_view name) {
  return read_artifact<uint8_t>(file, name, ArtifactType::UInt8, H5T_NATIVE_UINT8);
}

std::string format_value(double value) {
  if (std::isnan(value)) return "nan";
  if (std::isinf(value)) return value > 0 ? "inf" : "-inf";
  if (value == 0) return "0.0000";  // also turns -0 into 0
  const double magnitude = std::fabs(value);
  if (magnitude < 1e-3 || magnitude >= 1e6) return fmt::format("{:.4e}", value);
  return fmt::format("{:.4f}", value);
}

std::string render_run_summary(const RunLogContents& contents) {
  std::string out = "Run\n";
  {
    TextTable run;
    run.set_align(1, TextTable::Align::Left);
    run.add_row({"file", contents.file.string()});
    run.add_row({"status", run_status_name(contents.status)});
    if (!contents.status_reason.empty())
      run.add_row({"reason", first_line(contents.status_reason)});
    // The keys people look for first, then the rest alphabetically.
    static const char* const kPreferred[] = {
        "experiment", "started_at", "resumed_at", "ended_at",      "steps",        "host",
        "device",     "seed",       "git_commit", "mdlab_version", "torch_version"};
    for (const char* key : kPreferred)
      if (auto it = contents.meta.find(key); it != contents.meta.end())
        run.add_row({key, first_line(it->second)});
    for (const auto& [key, value] : contents.meta)
      if (std::find_if(std::begin(kPreferred), std::end(kPreferred),
                       [&](const char* k) { return key == k; }) == std::end(kPreferred))
        run.add_row({key, first_line(value)});
    out += run.render("  ");
  }
  out += "\nConfig\n" + render_config(contents.config_toml);
  out += "\nMetrics\n" + render_metrics(contents);
  out += "\nEvaluation\n" + render_tables(contents);
  if (!contents.artifacts.empty()) out += "\nArtifacts\n" + render_artifacts(contents);
  if (!contents.problems.empty()) {
    out += "\nDamaged (unreadable objects, left by a writer killed while flushing)\n";
    for (const auto& p : contents.problems) out += "  " + p + "\n";
  }
  return out;
}

}  // namespace mdlab
