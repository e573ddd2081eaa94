#include "run_log.h"

#include "h5_support.h"

#include <mdlab/error.h>
#include <mdlab/evaluator.h>

#include <fmt/format.h>

#include <algorithm>
#include <cstddef>
#include <cstdio>
#include <limits>
#include <map>
#include <string>

namespace mdlab {

namespace fs = std::filesystem;
using namespace runlog_detail;
using Clock = std::chrono::steady_clock;

namespace {

// 1024 points of 24 bytes: a 24 KiB chunk, rewritten in place as it fills.
constexpr hsize_t kMetricChunkRows = 1024;
// The chunk cache only has to hold the chunk being appended to (HDF5's default is 1 MiB per
// open dataset, which adds up with dozens of metrics).
constexpr size_t kMetricChunkCacheBytes = 2 * kMetricChunkRows * kMetricRecordBytes;
constexpr const char* kStartTimeAttribute = "start_time_unix";
constexpr const char* kStatusAttribute = "status";
constexpr const char* kStatusReasonAttribute = "status_reason";

double unix_now() {
  using namespace std::chrono;
  return duration<double>(system_clock::now().time_since_epoch()).count();
}

}  // namespace

const char* run_status_name(RunStatus status) {
  switch (status) {
    case RunStatus::Running: return "running";
    case RunStatus::Completed: return "completed";
    case RunStatus::Failed: return "failed";
    case RunStatus::Interrupted: return "interrupted";
  }
  return "unknown";
}

struct RunLog::Impl {
  struct Series {
    H5Handle dataset;
    hsize_t stored = 0;                // points already in the file
    std::vector<MetricPoint> pending;  // points waiting for the next flush
  };

  fs::path path;
  // Declared before everything that lives inside the file, so it is closed last.
  H5Handle file;
  H5Handle meta;
  H5Handle metric_mem_type;
  H5Handle metric_disk_type;
  std::map<std::string, Series, std::less<>> metrics;
  double start_offset_s = 0;  // seconds between the run's start and `opened`
  Clock::time_point opened = Clock::now();
  Clock::time_point last_flush = Clock::now();
  std::chrono::milliseconds flush_interval{5000};

  double seconds_since_start() const {
    return start_offset_s + std::chrono::duration<double>(Clock::now() - opened).count();
  }

  void init_types() {
    metric_mem_type = metric_memory_type(path);
    metric_disk_type = metric_file_type(path);
  }

  Series& series(std::string_view name);
  void write_pending();
  void flush_file() { h5_ok(H5Fflush(file.get(), H5F_SCOPE_LOCAL), path, "flush the file"); }
  void flush() {
    write_pending();
    flush_file();
    last_flush = Clock::now();
  }
  void remove_for_replace(const std::string& rel, std::string_view kind);
  template <typename T>
  void write_array(std::string_view name, const std::vector<int64_t>& shape, const T* data,
                   hid_t disk_type, hid_t mem_type);
  void close();
};

RunLog::Impl::Series& RunLog::Impl::series(std::string_view name) {
  if (auto it = metrics.find(name); it != metrics.end()) return it->second;

  check_object_name("metric", name);
  H5Quiet quiet;
  const std::string rel = fmt::format("metrics/{}", name);
  const std::string object = "/" + rel;
  Series s;
  H5Handle dapl = h5_id(H5Pcreate(H5P_DATASET_ACCESS), H5Pclose, path, "set up dataset access");
  h5_ok(H5Pset_chunk_cache(dapl.get(), H5D_CHUNK_CACHE_NSLOTS_DEFAULT, kMetricChunkCacheBytes,
                           H5D_CHUNK_CACHE_W0_DEFAULT),
        path, "set up dataset access");
  if (h5_exists(file.get(), rel, path)) {
    // Resume: append after what an earlier process stored.
    s.dataset = h5_id(H5Dopen2(file.get(), rel.c_str(), dapl.get()), H5Dclose, path,
                      fmt::format("open metric {}", object));
    H5Handle type = h5_id(H5Dget_type(s.dataset.get()), H5Tclose, path,
                          fmt::format("read the type of {}", object));
    const bool is_record = H5Tget_class(type.get()) == H5T_COMPOUND &&
                           H5Tget_member_index(type.get(), "step") >= 0 &&
                           H5Tget_member_index(type.get(), "value") >= 0 &&
                           H5Tget_member_index(type.get(), "time") >= 0;
    const auto shape = dataset_shape(s.dataset.get(), path, object);
    MDLAB_CHECK(is_record && shape.size() == 1,
                "run log {}: {} exists but is not a metric series (1-D {{step, value, time}})",
                path.string(), object);
    s.stored = shape[0];
  } else {
    const std::string what = fmt::format("create metric {}", object);
    const hsize_t dims[1] = {0};
    const hsize_t max_dims[1] = {H5S_UNLIMITED};
    const hsize_t chunk[1] = {kMetricChunkRows};
    H5Handle space = h5_id(H5Screate_simple(1, dims, max_dims), H5Sclose, path, what);
    H5Handle dcpl = h5_id(H5Pcreate(H5P_DATASET_CREATE), H5Pclose, path, what);
    h5_ok(H5Pset_chunk(dcpl.get(), 1, chunk), path, what);
    H5Handle lcpl = intermediate_groups_plist(path);
    s.dataset = h5_id(H5Dcreate2(file.get(), rel.c_str(), metric_disk_type.get(), space.get(),
                                 lcpl.get(), dcpl.get(), dapl.get()),
                      H5Dclose, path, what);
  }
  return metrics.emplace(std::string(name), std::move(s)).first->second;
}

void RunLog::Impl::write_pending() {
  for (auto& [name, s] : metrics) {
    if (s.pending.empty()) continue;
    const std::string what = fmt::format("append to metric /metrics/{}", name);
    const hsize_t count[1] = {s.pending.size()};
    const hsize_t start[1] = {s.stored};
    const hsize_t new_size[1] = {s.stored + s.pending.size()};
    h5_ok(H5Dset_extent(s.dataset.get(), new_size), path, what);
    H5Handle disk_space = h5_id(H5Dget_space(s.dataset.get()), H5Sclose, path, what);
    h5_ok(H5Sselect_hyperslab(disk_space.get(), H5S_SELECT_SET, start, nullptr, count, nullptr),
          path, what);
    H5Handle mem_space = h5_id(H5Screate_simple(1, count, nullptr), H5Sclose, path, what);
    h5_ok(H5Dwrite(s.dataset.get(), metric_mem_type.get(), mem_space.get(), disk_space.get(),
                   H5P_DEFAULT, s.pending.data()),
          path, what);
    s.stored = new_size[0];
    s.pending.clear();  // keeps the capacity: the steady state allocates nothing
  }
}

void RunLog::Impl::remove_for_replace(const std::string& rel, std::string_view kind) {
  if (!h5_exists(file.get(), rel, path)) return;
  const std::string what = fmt::format("replace {} /{}", kind, rel);
  {
    H5Handle obj = h5_id(H5Oopen(file.get(), rel.c_str(), H5P_DEFAULT), H5Oclose, path, what);
    MDLAB_CHECK(H5Iget_type(obj.get()) == H5I_DATASET,
                "run log {}: cannot write {} /{}: a group of that name exists", path.string(), kind,
                rel);
  }
  h5_ok(H5Ldelete(file.get(), rel.c_str(), H5P_DEFAULT), path, what);
  // The old dataset's space is free in memory now; flushing before the new data is written
  // keeps HDF5 from reusing it for raw data while the file on disk still points at it.
  flush_file();
}

template <typename T>
void RunLog::Impl::write_array(std::string_view name, const std::vector<int64_t>& shape,
                               const T* data, hid_t disk_type, hid_t mem_type) {
  check_object_name("artifact", name);
  const std::string rel = fmt::format("artifacts/{}", name);
  const std::string what = fmt::format("write artifact /{}", rel);
  MDLAB_CHECK(shape.size() <= H5S_MAX_RANK, "run log {}: artifact {} has rank {} (at most {})",
              path.string(), name, shape.size(), H5S_MAX_RANK);
  std::vector<hsize_t> dims;
  hsize_t count = 1;
  for (int64_t d : shape) {
    MDLAB_CHECK(d >= 0, "run log {}: artifact {} has a negative dimension in its shape",
                path.string(), name);
    dims.push_back(static_cast<hsize_t>(d));
    MDLAB_CHECK(d == 0 || count <= std::numeric_limits<hsize_t>::max() / dims.back(),
                "run log {}: artifact {} is too large", path.string(), name);
    count *= dims.back();
  }
  MDLAB_CHECK(count == 0 || data != nullptr, "run log {}: artifact {} has no data", path.string(),
              name);

  remove_for_replace(rel, "artifact");
  H5Handle space =
      dims.empty() ? h5_id(H5Screate(H5S_SCALAR), H5Sclose, path, what)
                   : h5_id(H5Screate_simple(static_cast<int>(dims.size()), dims.data(), nullptr),
                           H5Sclose, path, what);
  H5Handle lcpl = intermediate_groups_plist(path);
  H5Handle dset = h5_id(H5Dcreate2(file.get(), rel.c_str(), disk_type, space.get(), lcpl.get(),
                                   H5P_DEFAULT, H5P_DEFAULT),
                        H5Dclose, path, what);
  if (count > 0)
    h5_ok(H5Dwrite(dset.get(), mem_type, H5S_ALL, H5S_ALL, H5P_DEFAULT, data), path, what);
  dset.reset();
  flush();
}

void RunLog::Impl::close() {
  flush();
  metrics.clear();
  metric_mem_type.reset();
  metric_disk_type.reset();
  meta.reset();
  h5_ok(H5Fclose(file.release()), path, "close the file");
}

RunLog::RunLog(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
RunLog::RunLog(RunLog&& other) noexcept = default;

RunLog& RunLog::operator=(RunLog&& other) noexcept {
  if (this != &other) {
    RunLog old(std::move(*this));  // flushes and closes the log this one held
    impl_ = std::move(other.impl_);
  }
  return *this;
}

RunLog::~RunLog() {
  if (!impl_) return;
  H5Quiet quiet;
  try {
    impl_->close();
  } catch (const std::exception& e) {
    // A destructor cannot throw; losing the last points silently would be worse.
    std::fprintf(stderr, "mdlab: warning: run log %s was not closed cleanly: %s\n",
                 impl_->path.c_str(), e.what());
  } catch (...) {
    std::fprintf(stderr, "mdlab: warning: run log %s was not closed cleanly\n",
                 impl_->path.c_str());
  }
  impl_.reset();
}

RunLog::Impl& RunLog::impl() const {
  MDLAB_CHECK(impl_ != nullptr, "run log: used after close() or after being moved from");
  return *impl_;
}

RunLog RunLog::create(const fs::path& file, std::string_view config_toml) {
  MDLAB_CHECK(!fs::exists(file), "run log {} already exists (RunLog::open appends to it)",
              file.string());
  const fs::path folder = file.parent_path();
  MDLAB_CHECK(folder.empty() || fs::is_directory(folder), "run log {}: folder {} does not exist",
              file.string(), folder.string());

  H5Quiet quiet;
  auto impl = std::make_unique<Impl>();
  impl->path = file;
  try {
    H5Handle fapl = file_access_plist(file, true);
    impl->file = h5_id(H5Fcreate(file.c_str(), H5F_ACC_EXCL, H5P_DEFAULT, fapl.get()), H5Fclose,
                       file, "create the file");
    const hid_t root = impl->file.get();
    write_number_attribute(root, kFormatVersionAttribute, kFormatVersion, true, file, "/");
    write_number_attribute(root, kStartTimeAttribute, unix_now(), false, file, "/");

    {
      const std::string what = "write /config";
      H5Handle type = h5_vlen_string_type(file);
      H5Handle space = h5_id(H5Screate(H5S_SCALAR), H5Sclose, file, what);
      H5Handle dset = h5_id(H5Dcreate2(root, "config", type.get(), space.get(), H5P_DEFAULT,
                                       H5P_DEFAULT, H5P_DEFAULT),
                            H5Dclose, file, what);
      const std::string text(config_toml);
      const char* ptr = text.c_str();
      h5_ok(H5Dwrite(dset.get(), type.get(), H5S_ALL, H5S_ALL, H5P_DEFAULT, &ptr), file, what);
    }
    for (const char* group : {"meta", "metrics", "eval", "artifacts"}) {
      H5Handle g = h5_id(H5Gcreate2(root, group, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT), H5Gclose,
                         file, fmt::format("create group /{}", group));
      if (std::string_view(group) == "meta") impl->meta = std::move(g);
    }
    write_string_attribute(impl->meta.get(), kStatusAttribute, run_status_name(RunStatus::Running),
                           file, "/meta");
    write_string_attribute(impl->meta.get(), kStatusReasonAttribute, "", file, "/meta");
    impl->init_types();
    impl->flush();
  } catch (...) {
    // Leave no half-made log behind: a later create() of the same run would refuse it.
    impl.reset();
    std::error_code ignored;
    fs::remove(file, ignored);
    throw;
  }
  return RunLog(std::move(impl));
}

RunLog RunLog::open(const fs::path& file) {
  MDLAB_CHECK(fs::exists(file), "run log {} does not exist", file.string());
  H5Quiet quiet;
  auto impl = std::make_unique<Impl>();
  impl->path = file;
  H5Handle fapl = file_access_plist(file, true);
  impl->file = h5_id(H5Fopen(file.c_str(), H5F_ACC_RDWR, fapl.get()), H5Fclose, file,
                     "open the file for appending (is it an HDF5 file, and writable?)");
  const hid_t root = impl->file.get();
  check_run_log_format(root, file);
  impl->meta = h5_id(H5Gopen2(root, "meta", H5P_DEFAULT), H5Gclose, file, "open group /meta");
  for (const char* group : {"metrics", "eval", "artifacts"}) {
    if (!h5_bool(H5Lexists(root, group, H5P_DEFAULT), file, fmt::format("look up /{}", group)))
      h5_id(H5Gcreate2(root, group, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT), H5Gclose, file,
            fmt::format("create group /{}", group));
  }
  // Metric times stay "seconds since the run started", across the gap of a resume.
  const double start = read_number_attribute(root, kStartTimeAttribute, file, "/");
  impl->start_offset_s = std::max(0.0, unix_now() - start);
  impl->init_types();
  return RunLog(std::move(impl));
}

void RunLog::set_meta(std::string_view key, std::string_view value) {
  Impl& d = impl();
  MDLAB_CHECK(!key.empty(), "run log {}: meta key is empty", d.path.string());
  MDLAB_CHECK(key != kStatusAttribute && key != kStatusReasonAttribute,
              "run log {}: meta key '{}' is reserved (use set_status)", d.path.string(), key);
  H5Quiet quiet;
  write_string_attribute(d.meta.get(), std::string(key), value, d.path, "/meta");
  d.flush();
}

void RunLog::add_metric(std::string_view name, int64_t step, double value) {
  Impl& d = impl();
  // The hot path: a map lookup and a push_back; HDF5 is touched only for a new metric.
  d.series(name).pending.push_back({step, value, d.seconds_since_start()});
}

void RunLog::set_status(RunStatus status, std::string_view reason) {
  Impl& d = impl();
  H5Quiet quiet;
  write_string_attribute(d.meta.get(), kStatusAttribute, run_status_name(status), d.path, "/meta");
  write_string_attribute(d.meta.get(), kStatusReasonAttribute, reason, d.path, "/meta");
  d.flush();
}

void RunLog::write_table(std::string_view evaluator, const Table& table) {
  Impl& d = impl();
  check_object_name("evaluator", evaluator);
  check_object_name("table", table.name);
  const std::string rel = fmt::format("eval/{}/{}", evaluator, table.name);
  H5Quiet quiet;
  d.remove_for_replace(rel, "table");
  write_table_dataset(d.file.get(), rel, table, d.path);
  d.flush();
}

void RunLog::write_artifact(std::string_view name, const std::vector<int64_t>& shape,
                            const float* data) {
  Impl& d = impl();
  H5Quiet quiet;
  d.write_array(name, shape, data, H5T_IEEE_F32LE, H5T_NATIVE_FLOAT);
}

void RunLog::write_artifact(std::string_view name, const std::vector<int64_t>& shape,
                            const uint8_t* data) {
  Impl& d = impl();
  H5Quiet quiet;
  d.write_array(name, shape, data, H5T_STD_U8LE, H5T_NATIVE_UINT8);
}

namespace {

// Collects the paths (relative to the file root) of every dataset below /metrics.
herr_t collect_datasets(hid_t, const char* name, const H5O_info_t* info, void* out) {
  if (info->type == H5O_TYPE_DATASET)
    static_cast<std::vector<std::string>*>(out)->push_back(std::string("metrics/") + name);
  return 0;
}

}  // namespace

void RunLog::truncate_metrics_after(int64_t step) {
  Impl& d = impl();
  for (auto& [name, s] : d.metrics)
    std::erase_if(s.pending, [step](const MetricPoint& p) { return p.step > step; });
  if (!h5_exists(d.file.get(), "metrics", d.path)) return;
  std::vector<std::string> datasets;
  {
    H5Quiet quiet;
    H5Handle group =
        h5_id(H5Gopen2(d.file.get(), "metrics", H5P_DEFAULT), H5Gclose, d.path, "open /metrics");
    h5_ok(H5Ovisit(group.get(), H5_INDEX_NAME, H5_ITER_NATIVE, collect_datasets, &datasets), d.path,
          "list the metrics");
  }
  for (const auto& rel : datasets) {
    const std::string what = fmt::format("truncate /{}", rel);
    H5Handle dataset =
        h5_id(H5Dopen2(d.file.get(), rel.c_str(), H5P_DEFAULT), H5Dclose, d.path, what);
    const auto shape = dataset_shape(dataset.get(), d.path, "/" + rel);
    std::vector<MetricPoint> points(shape.empty() ? 0 : shape[0]);
    if (!points.empty())
      h5_ok(H5Dread(dataset.get(), d.metric_mem_type.get(), H5S_ALL, H5S_ALL, H5P_DEFAULT,
                    points.data()),
            d.path, what);
    hsize_t keep = 0;
    while (keep < points.size() && points[keep].step <= step) ++keep;
    if (keep == points.size()) continue;
    const hsize_t new_size[1] = {keep};
    h5_ok(H5Dset_extent(dataset.get(), new_size), d.path, what);
    const std::string name = rel.substr(std::string("metrics/").size());
    if (auto it = d.metrics.find(name); it != d.metrics.end()) it->second.stored = keep;
  }
  d.flush();
}

void RunLog::flush() {
  H5Quiet quiet;
  impl().flush();
}

void RunLog::maybe_flush() {
  Impl& d = impl();
  if (Clock::now() - d.last_flush >= d.flush_interval) flush();
}

void RunLog::set_flush_interval(std::chrono::milliseconds interval) {
  Impl& d = impl();
  MDLAB_CHECK(interval.count() >= 0, "run log {}: flush interval must not be negative",
              d.path.string());
  d.flush_interval = interval;
}

void RunLog::close() {
  H5Quiet quiet;
  std::unique_ptr<Impl> d = std::move(impl_);
  MDLAB_CHECK(d != nullptr, "run log: close() after close() or on a moved-from RunLog");
  d->close();
}

const fs::path& RunLog::path() const {
  return impl().path;
}

}  // namespace mdlab
