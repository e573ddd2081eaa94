#include "idx_file.h"

#include <mdlab/error.h>

#include <torch/torch.h>

#include <zlib.h>

#include <array>
#include <cstring>

namespace mdlab {
namespace {

// gzread reads raw files transparently too, so one path serves both encodings.
class GzReader {
 public:
  explicit GzReader(const std::filesystem::path& file) : file_(file) {
    handle_ = gzopen(file.c_str(), "rb");
    MDLAB_CHECK(handle_ != nullptr, "cannot open IDX file {}: {}", file.string(),
                std::strerror(errno));
    gzbuffer(handle_, 1 << 20);
  }
  ~GzReader() {
    if (handle_) gzclose(handle_);
  }
  GzReader(const GzReader&) = delete;
  GzReader& operator=(const GzReader&) = delete;

  void read_exact(void* out, size_t bytes, const char* what) {
    auto* p = static_cast<unsigned char*>(out);
    size_t done = 0;
    while (done < bytes) {
      unsigned chunk = static_cast<unsigned>(std::min<size_t>(bytes - done, 1u << 30));
      int got = gzread(handle_, p + done, chunk);
      if (got <= 0) {
        int code = 0;
        const char* msg = gzerror(handle_, &code);
        MDLAB_THROW("IDX file {} is truncated or corrupt while reading {}: got {} of {} bytes{}{}",
                    file_.string(), what, done, bytes, code != Z_OK ? ": " : "",
                    code != Z_OK ? msg : "");
      }
      done += static_cast<size_t>(got);
    }
  }

  bool at_end() {
    unsigned char c;
    return gzread(handle_, &c, 1) == 0;
  }

 private:
  std::filesystem::path file_;
  gzFile handle_ = nullptr;
};

}  // namespace

IdxArray read_idx(const std::filesystem::path& file) {
  GzReader in(file);
  std::array<unsigned char, 4> magic{};
  in.read_exact(magic.data(), 4, "the magic number");
  MDLAB_CHECK(magic[0] == 0 && magic[1] == 0, "{} is not an IDX file (bad magic {:02x}{:02x})",
              file.string(), magic[0], magic[1]);
  MDLAB_CHECK(magic[2] == 0x08, "IDX file {} holds type 0x{:02x}; only unsigned bytes (0x08) are "
              "supported", file.string(), magic[2]);
  const int rank = magic[3];
  MDLAB_CHECK(rank >= 1 && rank <= 4, "IDX file {} has rank {}, expected 1 to 4", file.string(),
              rank);
  IdxArray out;
  int64_t count = 1;
  for (int i = 0; i < rank; ++i) {
    std::array<unsigned char, 4> b{};
    in.read_exact(b.data(), 4, "the dimensions");
    int64_t d = (int64_t(b[0]) << 24) | (int64_t(b[1]) << 16) | (int64_t(b[2]) << 8) | b[3];
    MDLAB_CHECK(d > 0 && d < (int64_t(1) << 31), "IDX file {}: dimension {} is {}",
                file.string(), i, d);
    out.dims.push_back(d);
    count *= d;
  }
  out.data = torch::empty(out.dims, torch::kUInt8);
  in.read_exact(out.data.data_ptr(), static_cast<size_t>(count), "the data");
  MDLAB_CHECK(in.at_end(), "IDX file {} has bytes after its {} elements", file.string(), count);
  return out;
}

}  // namespace mdlab
