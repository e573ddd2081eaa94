// Internal to the run log: RAII for HDF5 identifiers, error silencing and translation into
// mdlab::Error, string attributes, and object-path checks. Not installed, not for other areas.
//
// Every failure message has the form "run log <file>: cannot <what>: HDF5: <details>", where
// the details are the distinct descriptions of HDF5's error stack (outermost first), so a
// person sees both the object and HDF5's own reason.
#pragma once

#include <mdlab/evaluator.h>

#include <hdf5.h>

#include <filesystem>
#include <source_location>
#include <string>
#include <string_view>
#include <vector>

namespace mdlab::runlog_detail {

/// Owns one HDF5 identifier and closes it with the matching H5?close function.
class H5Handle {
 public:
  /// The close function for one identifier type (H5Fclose, H5Dclose, ...).
  using Closer = herr_t (*)(hid_t);

  H5Handle() = default;
  /// Takes ownership of `id` (which must be valid).
  H5Handle(hid_t id, Closer closer) : id_(id), closer_(closer) {}
  H5Handle(H5Handle&& other) noexcept { *this = std::move(other); }
  H5Handle& operator=(H5Handle&& other) noexcept;
  H5Handle(const H5Handle&) = delete;
  H5Handle& operator=(const H5Handle&) = delete;
  ~H5Handle() { reset(); }

  /// The identifier (negative when empty).
  hid_t get() const noexcept { return id_; }
  /// Whether an identifier is held.
  explicit operator bool() const noexcept { return id_ >= 0; }
  /// Closes the identifier now; errors are ignored (closing cannot be retried anyway).
  void reset() noexcept;
  /// Gives up ownership and returns the identifier, for a close whose result matters.
  hid_t release() noexcept;

 private:
  hid_t id_ = -1;
  Closer closer_ = nullptr;
};

/// Turns off HDF5's automatic error printing while alive and restores it afterwards, so
/// expected failures (probing, a foreign file) leave stderr clean; failures become
/// mdlab::Error instead.
class H5Quiet {
 public:
  H5Quiet();
  ~H5Quiet();
  H5Quiet(const H5Quiet&) = delete;
  H5Quiet& operator=(const H5Quiet&) = delete;

 private:
  H5E_auto2_t func_ = nullptr;
  void* data_ = nullptr;
  bool saved_ = false;
};

/// The distinct descriptions on HDF5's current error stack, outermost first, joined by " / ";
/// clears the stack. Call right after the failing HDF5 call (any HDF5 call resets the stack).
std::string h5_error_details();

/// Throws mdlab::Error "run log <file>: cannot <what>: HDF5: <details>".
[[noreturn]] void throw_h5(const std::filesystem::path& file, std::string_view what,
                           std::source_location where = std::source_location::current());

/// Wraps an identifier returned by an HDF5 call, throwing when it is negative.
H5Handle h5_id(hid_t id, H5Handle::Closer closer, const std::filesystem::path& file,
               std::string_view what, std::source_location where = std::source_location::current());

/// Throws when an HDF5 status is negative.
void h5_ok(herr_t status, const std::filesystem::path& file, std::string_view what,
           std::source_location where = std::source_location::current());

/// Converts an HDF5 tri-state (negative = error) to bool, throwing on error.
bool h5_bool(htri_t value, const std::filesystem::path& file, std::string_view what,
             std::source_location where = std::source_location::current());

/// Whether `path` (relative, components separated by '/') names an object below the file
/// `loc`; false when any intermediate group is missing, mdlab::Error when one is a dataset.
bool h5_exists(hid_t loc, const std::string& path, const std::filesystem::path& file);

/// File access properties shared by writer and readers: no HDF5 file locks (readers must open
/// a live run's file; a killed writer must not leave a lock behind) and object formats no newer
/// than HDF5 1.8's, so any h5py or h5dump reads the file. For the writer also a metadata cache
/// that never evicts, so dirty metadata reaches the disk only in H5Fflush / H5Fclose.
H5Handle file_access_plist(const std::filesystem::path& file, bool for_writer);

/// Root attribute holding the file format version, and the version this build writes.
inline constexpr const char* kFormatVersionAttribute = "mdlab_run_log_version";
inline constexpr int kFormatVersion = 1;

/// Throws mdlab::Error unless the open file `file_id` is a run log of a format this build reads.
void check_run_log_format(hid_t file_id, const std::filesystem::path& file);

/// Writes a scalar numeric attribute (created or replaced); int64 when `integer`.
void write_number_attribute(hid_t loc, const std::string& name, double value, bool integer,
                            const std::filesystem::path& file, std::string_view object);

/// Reads a scalar numeric attribute converted to double.
double read_number_attribute(hid_t loc, const std::string& name, const std::filesystem::path& file,
                             std::string_view object);

/// Size of one metric record in the file: {step: int64, value: float64, time: float64}, packed.
inline constexpr size_t kMetricRecordBytes = 24;

/// The metric record as mdlab::MetricPoint lays it out in memory; HDF5 converts between this
/// and the file's packed little-endian record member by member, by name.
H5Handle metric_memory_type(const std::filesystem::path& file);

/// The metric record as stored in the file.
H5Handle metric_file_type(const std::filesystem::path& file);

/// Validates a user-chosen object name (metric, evaluator, table, artifact): non-empty, no
/// leading, trailing or doubled '/', no "." or ".." components. `kind` names it in the error.
void check_object_name(std::string_view kind, std::string_view name);

/// A fixed-length UTF-8 string type of `size` bytes (at least 1), NUL-terminated.
H5Handle h5_fixed_string_type(size_t size, const std::filesystem::path& file);

/// A variable-length UTF-8 string type.
H5Handle h5_vlen_string_type(const std::filesystem::path& file);

/// Sets the scalar fixed-length string attribute `name` of `loc` to `value`: written in place
/// when the stored size fits exactly, else deleted and recreated. Fixed-length strings are
/// stored inside the object header, so rewriting them leaks no global-heap space.
void write_string_attribute(hid_t loc, const std::string& name, std::string_view value,
                            const std::filesystem::path& file, std::string_view object);

/// Reads a scalar string attribute (fixed or variable length) or a numeric scalar, rendered.
std::string read_string_attribute(hid_t loc, const std::string& name,
                                  const std::filesystem::path& file, std::string_view object);

/// Writes a 1-D variable-length UTF-8 string array attribute.
void write_string_array_attribute(hid_t loc, const std::string& name,
                                  const std::vector<std::string>& values,
                                  const std::filesystem::path& file, std::string_view object);

/// Reads a 1-D string array attribute (fixed or variable length).
std::vector<std::string> read_string_array_attribute(hid_t loc, const std::string& name,
                                                     const std::filesystem::path& file,
                                                     std::string_view object);

/// Reads the whole (scalar or 1-element) string dataset `name` below `loc`.
std::string read_string_dataset(hid_t loc, const std::string& name,
                                const std::filesystem::path& file);

/// Relative paths of every dataset below the group `group` (named `group_name`, e.g.
/// "/metrics"), sorted. A subgroup that cannot be listed or an object that cannot be opened
/// (a writer killed in the middle of a flush) is skipped and described in `problems`.
std::vector<std::string> list_datasets(hid_t group, std::string_view group_name,
                                       std::vector<std::string>& problems);

/// A link creation property list that creates missing intermediate groups ("eval/knn/top1"
/// without separate mkdir steps).
H5Handle intermediate_groups_plist(const std::filesystem::path& file);

/// mdlab::Error naming `rel` when `table`'s labels, values and notes disagree in size.
void check_table_shape(const Table& table, const std::string& rel,
                       const std::filesystem::path& file);

/// Creates the float64 dataset `rel` below `loc` (intermediate groups created; it must not
/// exist) holding `table`: [rows, columns] with string-array attributes `rows`, `columns` and,
/// when any row has one, `notes`. mdlab::Error when the table's sizes disagree.
void write_table_dataset(hid_t loc, const std::string& rel, const Table& table,
                         const std::filesystem::path& file);

/// Reads a table written by write_table_dataset from the open dataset `dset` (`object` names
/// it in errors); row or column labels that are missing become their indices. `name` is left
/// empty.
Table read_table_dataset(hid_t dset, const std::string& object, const std::filesystem::path& file);

/// Creates the variable-length UTF-8 string dataset `rel` below `loc` (intermediate groups
/// created) of shape `dims` (row-major `values`, whose count must match).
void write_string_array_dataset(hid_t loc, const std::string& rel,
                                const std::vector<std::string>& values,
                                const std::vector<hsize_t>& dims,
                                const std::filesystem::path& file);

/// Reads the string dataset `rel` below `loc` (any rank; row-major) and its shape.
std::vector<std::string> read_string_array_dataset(hid_t loc, const std::string& rel,
                                                   const std::filesystem::path& file,
                                                   std::vector<hsize_t>& shape);

/// The extent of a dataset, one entry per dimension (empty for a scalar).
std::vector<hsize_t> dataset_shape(hid_t dataset, const std::filesystem::path& file,
                                   std::string_view object);

}  // namespace mdlab::runlog_detail
