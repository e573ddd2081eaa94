#include "h5_support.h"

#include "run_log.h"

#include <mdlab/error.h>

#include <fmt/format.h>

#include <algorithm>
#include <cstddef>
#include <cstring>

namespace mdlab::runlog_detail {

namespace fs = std::filesystem;

H5Handle& H5Handle::operator=(H5Handle&& other) noexcept {
  if (this != &other) {
    reset();
    id_ = other.id_;
    closer_ = other.closer_;
    other.id_ = -1;
    other.closer_ = nullptr;
  }
  return *this;
}

void H5Handle::reset() noexcept {
  if (id_ >= 0 && closer_ != nullptr) {
    H5Quiet quiet;
    closer_(id_);
  }
  id_ = -1;
  closer_ = nullptr;
}

hid_t H5Handle::release() noexcept {
  hid_t id = id_;
  id_ = -1;
  closer_ = nullptr;
  return id;
}

H5Quiet::H5Quiet() {
  saved_ = H5Eget_auto2(H5E_DEFAULT, &func_, &data_) >= 0;
  H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr);
}

H5Quiet::~H5Quiet() {
  if (saved_) H5Eset_auto2(H5E_DEFAULT, func_, data_);
}

namespace {

herr_t collect_error(unsigned /*n*/, const H5E_error2_t* error, void* data) {
  auto& out = *static_cast<std::vector<std::string>*>(data);
  if (error != nullptr && error->desc != nullptr && *error->desc != '\0') {
    std::string desc = error->desc;
    // HDF5 repeats the same sentence at each layer ("unable to open file" x3).
    if (std::find(out.begin(), out.end(), desc) == out.end()) out.push_back(std::move(desc));
  }
  return 0;
}

}  // namespace

std::string h5_error_details() {
  std::vector<std::string> descs;
  H5Ewalk2(H5E_DEFAULT, H5E_WALK_DOWNWARD, collect_error, &descs);
  H5Eclear2(H5E_DEFAULT);
  if (descs.empty()) return "no details";
  std::string out;
  for (const auto& d : descs) {
    if (!out.empty()) out += " / ";
    out += d;
  }
  return out;
}

void throw_h5(const fs::path& file, std::string_view what, std::source_location where) {
  std::string details = h5_error_details();
  throw Error(fmt::format("run log {}: cannot {}: HDF5: {}", file.string(), what, details),
              where.function_name(), where.file_name(), static_cast<int>(where.line()));
}

H5Handle h5_id(hid_t id, H5Handle::Closer closer, const fs::path& file, std::string_view what,
               std::source_location where) {
  if (id < 0) throw_h5(file, what, where);
  return H5Handle(id, closer);
}

void h5_ok(herr_t status, const fs::path& file, std::string_view what, std::source_location where) {
  if (status < 0) throw_h5(file, what, where);
}

bool h5_bool(htri_t value, const fs::path& file, std::string_view what,
             std::source_location where) {
  if (value < 0) throw_h5(file, what, where);
  return value > 0;
}

bool h5_exists(hid_t loc, const std::string& path, const fs::path& file) {
  // H5Lexists only checks the last component and fails when an intermediate one is missing;
  // walk the prefixes so a missing group reads as "absent", and name a non-group in the way.
  size_t pos = 0;
  while (true) {
    const size_t slash = path.find('/', pos);
    const std::string prefix = path.substr(0, slash);
    const std::string what = fmt::format("look up {}", prefix);
    if (!h5_bool(H5Lexists(loc, prefix.c_str(), H5P_DEFAULT), file, what)) return false;
    if (slash == std::string::npos) return true;
    H5Handle obj = h5_id(H5Oopen(loc, prefix.c_str(), H5P_DEFAULT), H5Oclose, file, what);
    MDLAB_CHECK(H5Iget_type(obj.get()) == H5I_GROUP,
                "run log {}: /{} is not a group, so /{} cannot exist below it", file.string(),
                prefix, path);
    pos = slash + 1;
  }
}

H5Handle file_access_plist(const fs::path& file, bool for_writer) {
  const std::string what = "set up file access properties";
  H5Handle fapl = h5_id(H5Pcreate(H5P_FILE_ACCESS), H5Pclose, file, what);
  h5_ok(H5Pset_libver_bounds(fapl.get(), H5F_LIBVER_EARLIEST, H5F_LIBVER_V18), file, what);
  h5_ok(H5Pset_file_locking(fapl.get(), false, true), file, what);
  if (for_writer) {
    H5AC_cache_config_t config{};
    config.version = H5AC__CURR_CACHE_CONFIG_VERSION;
    h5_ok(H5Pget_mdc_config(fapl.get(), &config), file, what);
    // HDF5 1.10 accepts evictions_enabled = false only with every adaptive resize mode off.
    // The cache then grows with the file's metadata (object headers, B-tree nodes), which for
    // a run log stays in the low megabytes.
    config.evictions_enabled = false;
    config.incr_mode = H5C_incr__off;
    config.flash_incr_mode = H5C_flash_incr__off;
    config.decr_mode = H5C_decr__off;
    h5_ok(H5Pset_mdc_config(fapl.get(), &config), file, what);
  }
  return fapl;
}

void write_number_attribute(hid_t loc, const std::string& name, double value, bool integer,
                            const fs::path& file, std::string_view object) {
  const std::string what = fmt::format("write attribute {} of {}", name, object);
  if (h5_bool(H5Aexists(loc, name.c_str()), file, what))
    h5_ok(H5Adelete(loc, name.c_str()), file, what);
  H5Handle space = h5_id(H5Screate(H5S_SCALAR), H5Sclose, file, what);
  H5Handle attr = h5_id(H5Acreate2(loc, name.c_str(), integer ? H5T_STD_I64LE : H5T_IEEE_F64LE,
                                   space.get(), H5P_DEFAULT, H5P_DEFAULT),
                        H5Aclose, file, what);
  if (integer) {
    const int64_t v = static_cast<int64_t>(value);
    h5_ok(H5Awrite(attr.get(), H5T_NATIVE_INT64, &v), file, what);
  } else {
    h5_ok(H5Awrite(attr.get(), H5T_NATIVE_DOUBLE, &value), file, what);
  }
}

double read_number_attribute(hid_t loc, const std::string& name, const fs::path& file,
                             std::string_view object) {
  const std::string what = fmt::format("read attribute {} of {}", name, object);
  H5Handle attr = h5_id(H5Aopen(loc, name.c_str(), H5P_DEFAULT), H5Aclose, file, what);
  H5Handle type = h5_id(H5Aget_type(attr.get()), H5Tclose, file, what);
  const H5T_class_t cls = H5Tget_class(type.get());
  MDLAB_CHECK(cls == H5T_INTEGER || cls == H5T_FLOAT,
              "run log {}: attribute {} of {} is not a number", file.string(), name, object);
  double v = 0;
  h5_ok(H5Aread(attr.get(), H5T_NATIVE_DOUBLE, &v), file, what);
  return v;
}

void check_run_log_format(hid_t file_id, const fs::path& file) {
  const bool tagged =
      h5_bool(H5Aexists(file_id, kFormatVersionAttribute), file, "read the format version");
  MDLAB_CHECK(tagged, "{} is an HDF5 file but not an mdlab run log (no /{} attribute)",
              file.string(), kFormatVersionAttribute);
  const double version = read_number_attribute(file_id, kFormatVersionAttribute, file, "/");
  MDLAB_CHECK(version >= 1 && version <= kFormatVersion,
              "run log {} has format version {}, this build reads versions 1 to {}", file.string(),
              version, kFormatVersion);
}

H5Handle metric_memory_type(const fs::path& file) {
  const std::string what = "build the metric record type";
  H5Handle type = h5_id(H5Tcreate(H5T_COMPOUND, sizeof(MetricPoint)), H5Tclose, file, what);
  h5_ok(H5Tinsert(type.get(), "step", offsetof(MetricPoint, step), H5T_NATIVE_INT64), file, what);
  h5_ok(H5Tinsert(type.get(), "value", offsetof(MetricPoint, value), H5T_NATIVE_DOUBLE), file,
        what);
  h5_ok(H5Tinsert(type.get(), "time", offsetof(MetricPoint, time), H5T_NATIVE_DOUBLE), file, what);
  return type;
}

H5Handle metric_file_type(const fs::path& file) {
  const std::string what = "build the metric record type";
  H5Handle type = h5_id(H5Tcreate(H5T_COMPOUND, kMetricRecordBytes), H5Tclose, file, what);
  h5_ok(H5Tinsert(type.get(), "step", 0, H5T_STD_I64LE), file, what);
  h5_ok(H5Tinsert(type.get(), "value", 8, H5T_IEEE_F64LE), file, what);
  h5_ok(H5Tinsert(type.get(), "time", 16, H5T_IEEE_F64LE), file, what);
  return type;
}

void check_object_name(std::string_view kind, std::string_view name) {
  MDLAB_CHECK(!name.empty(), "run log: {} name is empty", kind);
  MDLAB_CHECK(name.front() != '/' && name.back() != '/',
              "run log: {} name '{}' must not start or end with '/'", kind, name);
  size_t pos = 0;
  while (pos <= name.size()) {
    size_t slash = name.find('/', pos);
    std::string_view part =
        name.substr(pos, slash == std::string_view::npos ? std::string_view::npos : slash - pos);
    MDLAB_CHECK(!part.empty() && part != "." && part != "..",
                "run log: {} name '{}' has an empty, '.' or '..' component", kind, name);
    if (slash == std::string_view::npos) break;
    pos = slash + 1;
  }
}

H5Handle h5_fixed_string_type(size_t size, const fs::path& file) {
  H5Handle type = h5_id(H5Tcopy(H5T_C_S1), H5Tclose, file, "create a string type");
  h5_ok(H5Tset_size(type.get(), std::max<size_t>(size, 1)), file, "size a string type");
  h5_ok(H5Tset_strpad(type.get(), H5T_STR_NULLTERM), file, "set string padding");
  h5_ok(H5Tset_cset(type.get(), H5T_CSET_UTF8), file, "set string encoding");
  return type;
}

H5Handle h5_vlen_string_type(const fs::path& file) {
  H5Handle type = h5_id(H5Tcopy(H5T_C_S1), H5Tclose, file, "create a string type");
  h5_ok(H5Tset_size(type.get(), H5T_VARIABLE), file, "make a variable-length string type");
  h5_ok(H5Tset_cset(type.get(), H5T_CSET_UTF8), file, "set string encoding");
  return type;
}

void write_string_attribute(hid_t loc, const std::string& name, std::string_view value,
                            const fs::path& file, std::string_view object) {
  const std::string what = fmt::format("write attribute {} of {}", name, object);
  std::string buffer(value);
  buffer.push_back('\0');
  H5Handle type = h5_fixed_string_type(buffer.size(), file);

  if (h5_bool(H5Aexists(loc, name.c_str()), file, what)) {
    H5Handle attr = h5_id(H5Aopen(loc, name.c_str(), H5P_DEFAULT), H5Aclose, file, what);
    H5Handle stored = h5_id(H5Aget_type(attr.get()), H5Tclose, file, what);
    H5Handle space = h5_id(H5Aget_space(attr.get()), H5Sclose, file, what);
    const bool same_shape = H5Tget_class(stored.get()) == H5T_STRING &&
                            h5_bool(H5Tis_variable_str(stored.get()), file, what) == false &&
                            H5Tget_size(stored.get()) == buffer.size() &&
                            H5Sget_simple_extent_type(space.get()) == H5S_SCALAR;
    if (same_shape) {
      h5_ok(H5Awrite(attr.get(), type.get(), buffer.data()), file, what);
      return;
    }
    attr.reset();
    h5_ok(H5Adelete(loc, name.c_str()), file, what);
  }
  H5Handle space = h5_id(H5Screate(H5S_SCALAR), H5Sclose, file, what);
  H5Handle attr =
      h5_id(H5Acreate2(loc, name.c_str(), type.get(), space.get(), H5P_DEFAULT, H5P_DEFAULT),
            H5Aclose, file, what);
  h5_ok(H5Awrite(attr.get(), type.get(), buffer.data()), file, what);
}

namespace {

// Reads `count` strings stored with type `stored` through `read` (H5Aread or H5Dread bound
// to the object), whatever their representation.
template <typename Read>
std::vector<std::string> read_strings(hid_t stored, size_t count, Read read, const fs::path& file,
                                      const std::string& what) {
  std::vector<std::string> out;
  out.reserve(count);
  H5Handle mem = h5_id(H5Tget_native_type(stored, H5T_DIR_DEFAULT), H5Tclose, file, what);
  if (h5_bool(H5Tis_variable_str(stored), file, what)) {
    std::vector<char*> ptrs(count, nullptr);
    h5_ok(read(mem.get(), static_cast<void*>(ptrs.data())), file, what);
    for (char* p : ptrs) {
      out.emplace_back(p != nullptr ? p : "");
      if (p != nullptr) H5free_memory(p);
    }
    return out;
  }
  const size_t size = H5Tget_size(stored);
  std::vector<char> buffer(size * count + 1, '\0');
  h5_ok(read(mem.get(), static_cast<void*>(buffer.data())), file, what);
  for (size_t i = 0; i < count; ++i) {
    const char* begin = buffer.data() + i * size;
    out.emplace_back(begin, strnlen(begin, size));
  }
  return out;
}

}  // namespace

std::string read_string_attribute(hid_t loc, const std::string& name, const fs::path& file,
                                  std::string_view object) {
  const std::string what = fmt::format("read attribute {} of {}", name, object);
  H5Handle attr = h5_id(H5Aopen(loc, name.c_str(), H5P_DEFAULT), H5Aclose, file, what);
  H5Handle type = h5_id(H5Aget_type(attr.get()), H5Tclose, file, what);
  H5Handle space = h5_id(H5Aget_space(attr.get()), H5Sclose, file, what);
  const hssize_t count = H5Sget_simple_extent_npoints(space.get());
  MDLAB_CHECK(count == 1, "run log {}: attribute {} of {} holds {} values, expected one",
              file.string(), name, object, count);
  auto read = [&](hid_t mem, void* buf) { return H5Aread(attr.get(), mem, buf); };
  switch (H5Tget_class(type.get())) {
    case H5T_STRING: return read_strings(type.get(), 1, read, file, what).front();
    case H5T_INTEGER: {
      int64_t v = 0;
      h5_ok(read(H5T_NATIVE_INT64, &v), file, what);
      return std::to_string(v);
    }
    case H5T_FLOAT: {
      double v = 0;
      h5_ok(read(H5T_NATIVE_DOUBLE, &v), file, what);
      return fmt::format("{}", v);
    }
    default:
      MDLAB_THROW("run log {}: attribute {} of {} is neither a string nor a number", file.string(),
                  name, object);
  }
}

void write_string_array_attribute(hid_t loc, const std::string& name,
                                  const std::vector<std::string>& values, const fs::path& file,
                                  std::string_view object) {
  const std::string what = fmt::format("write attribute {} of {}", name, object);
  H5Handle type = h5_vlen_string_type(file);
  const hsize_t dims[1] = {values.size()};
  H5Handle space = h5_id(H5Screate_simple(1, dims, nullptr), H5Sclose, file, what);
  if (h5_bool(H5Aexists(loc, name.c_str()), file, what))
    h5_ok(H5Adelete(loc, name.c_str()), file, what);
  H5Handle attr =
      h5_id(H5Acreate2(loc, name.c_str(), type.get(), space.get(), H5P_DEFAULT, H5P_DEFAULT),
            H5Aclose, file, what);
  std::vector<const char*> ptrs;
  ptrs.reserve(values.size());
  for (const auto& v : values) ptrs.push_back(v.c_str());
  if (!ptrs.empty()) h5_ok(H5Awrite(attr.get(), type.get(), ptrs.data()), file, what);
}

std::vector<std::string> read_string_array_attribute(hid_t loc, const std::string& name,
                                                     const fs::path& file,
                                                     std::string_view object) {
  const std::string what = fmt::format("read attribute {} of {}", name, object);
  H5Handle attr = h5_id(H5Aopen(loc, name.c_str(), H5P_DEFAULT), H5Aclose, file, what);
  H5Handle type = h5_id(H5Aget_type(attr.get()), H5Tclose, file, what);
  H5Handle space = h5_id(H5Aget_space(attr.get()), H5Sclose, file, what);
  MDLAB_CHECK(H5Tget_class(type.get()) == H5T_STRING,
              "run log {}: attribute {} of {} is not a string array", file.string(), name, object);
  const hssize_t count = H5Sget_simple_extent_npoints(space.get());
  if (count < 0) throw_h5(file, what);
  if (count == 0) return {};
  auto read = [&](hid_t mem, void* buf) { return H5Aread(attr.get(), mem, buf); };
  return read_strings(type.get(), static_cast<size_t>(count), read, file, what);
}

std::string read_string_dataset(hid_t loc, const std::string& name, const fs::path& file) {
  const std::string what = fmt::format("read dataset /{}", name);
  H5Handle dset = h5_id(H5Dopen2(loc, name.c_str(), H5P_DEFAULT), H5Dclose, file, what);
  H5Handle type = h5_id(H5Dget_type(dset.get()), H5Tclose, file, what);
  H5Handle space = h5_id(H5Dget_space(dset.get()), H5Sclose, file, what);
  MDLAB_CHECK(
      H5Tget_class(type.get()) == H5T_STRING && H5Sget_simple_extent_npoints(space.get()) == 1,
      "run log {}: /{} is not a single string", file.string(), name);
  auto read = [&](hid_t mem, void* buf) {
    return H5Dread(dset.get(), mem, H5S_ALL, H5S_ALL, H5P_DEFAULT, buf);
  };
  return read_strings(type.get(), 1, read, file, what).front();
}

// A link creation property list that creates missing intermediate groups, so "train/loss"
// becomes /metrics/train/loss without a separate mkdir step.
//
// Link names keep HDF5's default ASCII tag (UTF-8 bytes pass through unchanged): a UTF-8 tag
// turns a group into a "new-style" group that becomes dense (fractal heap + v2 B-tree) past 8
// links, and HDF5 1.10.8 crashes (not fails) iterating a dense group whose flush a SIGKILL
// interrupted. Old-style symbol-table groups fail cleanly instead.
H5Handle intermediate_groups_plist(const fs::path& file) {
  H5Handle lcpl = h5_id(H5Pcreate(H5P_LINK_CREATE), H5Pclose, file, "set up link creation");
  h5_ok(H5Pset_create_intermediate_group(lcpl.get(), 1), file, "set up link creation");
  return lcpl;
}

void check_table_shape(const Table& table, const std::string& rel, const fs::path& file) {
  MDLAB_CHECK(table.values.size() == table.rows.size(),
              "run log {}: table /{} has {} row labels but {} rows of values", file.string(), rel,
              table.rows.size(), table.values.size());
  for (size_t r = 0; r < table.values.size(); ++r) {
    MDLAB_CHECK(table.values[r].size() == table.columns.size(),
                "run log {}: table /{} row '{}' has {} values for {} columns", file.string(), rel,
                table.rows[r], table.values[r].size(), table.columns.size());
  }
  const bool notes =
      std::any_of(table.notes.begin(), table.notes.end(), [](auto& n) { return !n.empty(); });
  MDLAB_CHECK(!notes || table.notes.size() == table.rows.size(),
              "run log {}: table /{} has {} notes for {} rows", file.string(), rel,
              table.notes.size(), table.rows.size());
}

void write_table_dataset(hid_t loc, const std::string& rel, const Table& table,
                         const fs::path& file) {
  const std::string what = fmt::format("write table /{}", rel);
  check_table_shape(table, rel, file);
  std::vector<double> flat;
  flat.reserve(table.rows.size() * table.columns.size());
  for (const auto& row : table.values) flat.insert(flat.end(), row.begin(), row.end());
  const bool notes =
      std::any_of(table.notes.begin(), table.notes.end(), [](auto& n) { return !n.empty(); });
  const hsize_t dims[2] = {table.rows.size(), table.columns.size()};
  H5Handle space = h5_id(H5Screate_simple(2, dims, nullptr), H5Sclose, file, what);
  H5Handle lcpl = intermediate_groups_plist(file);
  H5Handle dset = h5_id(H5Dcreate2(loc, rel.c_str(), H5T_IEEE_F64LE, space.get(), lcpl.get(),
                                   H5P_DEFAULT, H5P_DEFAULT),
                        H5Dclose, file, what);
  if (!flat.empty())
    h5_ok(H5Dwrite(dset.get(), H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, flat.data()), file,
          what);
  write_string_array_attribute(dset.get(), "rows", table.rows, file, "/" + rel);
  write_string_array_attribute(dset.get(), "columns", table.columns, file, "/" + rel);
  if (notes) write_string_array_attribute(dset.get(), "notes", table.notes, file, "/" + rel);
}

namespace {

std::vector<std::string> labels_or_indices(hid_t dset, const char* attribute, size_t count,
                                           const fs::path& file, const std::string& object) {
  if (!h5_bool(H5Aexists(dset, attribute), file, "look up attribute " + std::string(attribute))) {
    std::vector<std::string> labels;
    for (size_t i = 0; i < count; ++i) labels.push_back(std::to_string(i));
    return labels;
  }
  auto labels = read_string_array_attribute(dset, attribute, file, object);
  MDLAB_CHECK(labels.size() == count, "run log {}: {} has {} {} labels for {} {}", file.string(),
              object, labels.size(), attribute, count, attribute);
  return labels;
}

}  // namespace

Table read_table_dataset(hid_t dset, const std::string& object, const fs::path& file) {
  const std::string what = "read table " + object;
  const auto shape = dataset_shape(dset, file, object);
  MDLAB_CHECK(shape.size() == 2, "run log {}: table {} is not 2-D", file.string(), object);
  Table table;
  table.rows = labels_or_indices(dset, "rows", shape[0], file, object);
  table.columns = labels_or_indices(dset, "columns", shape[1], file, object);
  if (h5_bool(H5Aexists(dset, "notes"), file, "look up attribute notes"))
    table.notes = labels_or_indices(dset, "notes", shape[0], file, object);
  std::vector<double> flat(shape[0] * shape[1]);
  if (!flat.empty())
    h5_ok(H5Dread(dset, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, flat.data()), file, what);
  for (size_t r = 0; r < shape[0]; ++r)
    table.values.emplace_back(flat.begin() + static_cast<std::ptrdiff_t>(r * shape[1]),
                              flat.begin() + static_cast<std::ptrdiff_t>((r + 1) * shape[1]));
  return table;
}

void write_string_array_dataset(hid_t loc, const std::string& rel,
                                const std::vector<std::string>& values,
                                const std::vector<hsize_t>& dims, const fs::path& file) {
  const std::string what = fmt::format("write dataset /{}", rel);
  hsize_t count = 1;
  for (hsize_t d : dims) count *= d;
  MDLAB_CHECK(count == values.size(), "run log {}: /{} has {} strings for a shape of {}",
              file.string(), rel, values.size(), count);
  H5Handle type = h5_vlen_string_type(file);
  H5Handle space = h5_id(H5Screate_simple(static_cast<int>(dims.size()), dims.data(), nullptr),
                         H5Sclose, file, what);
  H5Handle lcpl = intermediate_groups_plist(file);
  H5Handle dset = h5_id(
      H5Dcreate2(loc, rel.c_str(), type.get(), space.get(), lcpl.get(), H5P_DEFAULT, H5P_DEFAULT),
      H5Dclose, file, what);
  std::vector<const char*> ptrs;
  ptrs.reserve(values.size());
  for (const auto& v : values) ptrs.push_back(v.c_str());
  if (!ptrs.empty())
    h5_ok(H5Dwrite(dset.get(), type.get(), H5S_ALL, H5S_ALL, H5P_DEFAULT, ptrs.data()), file, what);
}

std::vector<std::string> read_string_array_dataset(hid_t loc, const std::string& rel,
                                                   const fs::path& file,
                                                   std::vector<hsize_t>& shape) {
  const std::string what = fmt::format("read dataset /{}", rel);
  H5Handle dset = h5_id(H5Dopen2(loc, rel.c_str(), H5P_DEFAULT), H5Dclose, file, what);
  H5Handle type = h5_id(H5Dget_type(dset.get()), H5Tclose, file, what);
  MDLAB_CHECK(H5Tget_class(type.get()) == H5T_STRING, "run log {}: /{} is not a string dataset",
              file.string(), rel);
  shape = dataset_shape(dset.get(), file, "/" + rel);
  size_t count = 1;
  for (hsize_t d : shape) count *= d;
  if (count == 0) return {};
  auto read = [&](hid_t mem, void* buf) {
    return H5Dread(dset.get(), mem, H5S_ALL, H5S_ALL, H5P_DEFAULT, buf);
  };
  return read_strings(type.get(), count, read, file, what);
}

namespace {

herr_t collect_hard_link(hid_t, const char* name, const H5L_info_t* info, void* data) {
  if (info->type != H5L_TYPE_HARD) return 0;  // soft and external links are not ours
  try {
    static_cast<std::vector<std::string>*>(data)->emplace_back(name);
  } catch (...) {  // never let an exception cross HDF5's C frames
    return -1;
  }
  return 0;
}

// Hard links can form cycles in files written by other tools; run logs are a few levels deep.
constexpr int kMaxGroupDepth = 32;

void walk_group(hid_t group, const std::string& path, int depth, std::vector<std::string>& out,
                std::vector<std::string>& problems, size_t prefix_size) {
  std::vector<std::string> names;
  if (H5Literate(group, H5_INDEX_NAME, H5_ITER_INC, nullptr, collect_hard_link, &names) < 0)
    problems.push_back(fmt::format("cannot list {}: HDF5: {}", path, h5_error_details()));
  for (const auto& name : names) {
    const std::string child = path + "/" + name;
    hid_t obj = H5Oopen(group, name.c_str(), H5P_DEFAULT);
    if (obj < 0) {
      problems.push_back(fmt::format("cannot open {}: HDF5: {}", child, h5_error_details()));
      continue;
    }
    H5Handle owned(obj, H5Oclose);
    const H5I_type_t type = H5Iget_type(obj);
    if (type == H5I_DATASET) {
      out.push_back(child.substr(prefix_size));
    } else if (type == H5I_GROUP && depth < kMaxGroupDepth) {
      walk_group(obj, child, depth + 1, out, problems, prefix_size);
    }
  }
}

}  // namespace

std::vector<std::string> list_datasets(hid_t group, std::string_view group_name,
                                       std::vector<std::string>& problems) {
  std::vector<std::string> out;
  const std::string root(group_name);
  walk_group(group, root, 0, out, problems, root.size() + 1);
  std::sort(out.begin(), out.end());
  return out;
}

std::vector<hsize_t> dataset_shape(hid_t dataset, const fs::path& file, std::string_view object) {
  const std::string what = fmt::format("read the shape of {}", object);
  H5Handle space = h5_id(H5Dget_space(dataset), H5Sclose, file, what);
  const int rank = H5Sget_simple_extent_ndims(space.get());
  if (rank < 0) throw_h5(file, what);
  std::vector<hsize_t> dims(static_cast<size_t>(rank));
  if (rank > 0 && H5Sget_simple_extent_dims(space.get(), dims.data(), nullptr) < 0)
    throw_h5(file, what);
  return dims;
}

}  // namespace mdlab::runlog_detail
