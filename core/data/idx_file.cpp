#include "idx_file.h"

#include <mdlab/error.h>

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <torch/torch.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <cstring>
#include <memory>
#include <system_error>
#include <zlib.h>

namespace mdlab {
namespace {

// 2^36 bytes (64 GiB): far above any IDX dataset, far below what int64 and size_t overflow at.
constexpr int64_t kMaxIdxElements = int64_t{1} << 36;

// gzread reads raw files transparently too, so one path serves both encodings.
class GzReader {
 public:
  explicit GzReader(const std::filesystem::path& file) : file_(file) {
    handle_ = gzopen(file.c_str(), "rb");
    MDLAB_CHECK(handle_ != nullptr, "cannot open IDX file {}: {}", file.string(),
                std::strerror(errno));
    // A large buffer speeds up big files; small ones do not need 3 MiB of zlib buffers.
    std::error_code ec;
    file_bytes_ = std::filesystem::file_size(file, ec);
    if (ec) file_bytes_ = 0;
    gzbuffer(handle_, file_bytes_ == 0 ? 1u << 20
                                       : static_cast<unsigned>(
                                             std::clamp<uintmax_t>(file_bytes_, 8192, 1 << 20)));
  }
  ~GzReader() {
    if (handle_) gzclose(handle_);
  }
  GzReader(const GzReader&) = delete;
  GzReader& operator=(const GzReader&) = delete;

  // Reads up to `bytes`; fewer only at the end of the data. Throws on a gzip error.
  size_t read_some(void* out, size_t bytes) {
    auto* p = static_cast<unsigned char*>(out);
    size_t done = 0;
    while (done < bytes) {
      unsigned chunk = static_cast<unsigned>(std::min<size_t>(bytes - done, 1u << 30));
      int got = gzread(handle_, p + done, chunk);
      if (got < 0 || (got == 0 && !gzeof(handle_))) {
        int code = 0;
        const char* msg = gzerror(handle_, &code);
        MDLAB_THROW("IDX file {} is corrupt after {} bytes of data: {}", file_.string(), done,
                    code != Z_OK ? msg : "read error");
      }
      if (got == 0) break;
      done += static_cast<size_t>(got);
    }
    return done;
  }

  void read_exact(void* out, size_t bytes, const char* what) {
    const size_t got = read_some(out, bytes);
    MDLAB_CHECK(got == bytes, "IDX file {} is truncated while reading {}: got {} of {} bytes",
                file_.string(), what, got, bytes);
  }

  // True for a file that is not gzip-compressed (known after the first read).
  bool raw() { return gzdirect(handle_) == 1; }

  // The file's size in bytes; 0 when it could not be told.
  uintmax_t file_bytes() const { return file_bytes_; }

  bool at_end() {
    unsigned char c;
    return gzread(handle_, &c, 1) == 0;
  }

 private:
  std::filesystem::path file_;
  gzFile handle_ = nullptr;
  uintmax_t file_bytes_ = 0;
};

// Raw or ".gz": the Debian package ships gzip, torchvision's raw/ folders hold both.
std::filesystem::path find_idx(const std::filesystem::path& root, const std::string& stem) {
  for (const char* ext : {".gz", ""}) {
    std::filesystem::path p = root / (stem + ext);
    if (std::filesystem::exists(p)) return p;
  }
  MDLAB_THROW("IDX dataset {}: neither {} nor {}.gz exists", root.string(), stem, stem);
}

}  // namespace

IdxArray read_idx(const std::filesystem::path& file) {
  GzReader in(file);
  std::array<unsigned char, 4> magic{};
  in.read_exact(magic.data(), 4, "the magic number");
  MDLAB_CHECK(magic[0] == 0 && magic[1] == 0, "{} is not an IDX file (bad magic {:02x}{:02x})",
              file.string(), magic[0], magic[1]);
  MDLAB_CHECK(magic[2] == 0x08,
              "IDX file {} holds type 0x{:02x}; only unsigned bytes (0x08) are "
              "supported",
              file.string(), magic[2]);
  const int rank = magic[3];
  MDLAB_CHECK(rank >= 1 && rank <= 4, "IDX file {} has rank {}, expected 1 to 4", file.string(),
              rank);
  IdxArray out;
  const size_t header_bytes = 4 + 4 * static_cast<size_t>(rank);
  // The element count is checked before anything is allocated: four dimensions below 2^31
  // multiply past int64, and a header can claim terabytes that the file does not hold.
  int64_t count = 1;
  for (int i = 0; i < rank; ++i) {
    std::array<unsigned char, 4> b{};
    in.read_exact(b.data(), 4, "the dimensions");
    int64_t d = (int64_t(b[0]) << 24) | (int64_t(b[1]) << 16) | (int64_t(b[2]) << 8) | b[3];
    MDLAB_CHECK(d > 0 && d < (int64_t(1) << 31), "IDX file {}: dimension {} is {}", file.string(),
                i, d);
    out.dims.push_back(d);
    MDLAB_CHECK(!__builtin_mul_overflow(count, d, &count) && count <= kMaxIdxElements,
                "IDX file {}: dimensions {} make more than {} elements, the most an IDX file "
                "may hold",
                file.string(), fmt::join(out.dims, " x "), kMaxIdxElements);
  }
  const uintmax_t file_bytes = in.file_bytes();
  if (in.raw() && file_bytes > 0) {
    MDLAB_CHECK(file_bytes == header_bytes + static_cast<uintmax_t>(count),
                "IDX file {}: its header says {} = {} elements of 1 byte after {} header bytes "
                "({} bytes in all), but the file holds {} bytes",
                file.string(), fmt::join(out.dims, " x "), count, header_bytes,
                header_bytes + static_cast<uintmax_t>(count), file_bytes);
  }
  // A gzip file's size is known only by reading it: the buffer grows with the data that
  // arrives, so a header that lies about its size fails as truncated, not at the allocator.
  auto buffer = std::make_unique<std::vector<uint8_t>>();
  size_t done = 0;
  const auto total = static_cast<size_t>(count);
  while (done < total) {
    const size_t chunk = std::min(total - done, std::max<size_t>(done, size_t{1} << 20));
    buffer->resize(done + chunk);
    const size_t got = in.read_some(buffer->data() + done, chunk);
    done += got;
    MDLAB_CHECK(got == chunk,
                "IDX file {} is truncated: its header says {} = {} bytes of data, the file "
                "ends after {}",
                file.string(), fmt::join(out.dims, " x "), total, done);
  }
  MDLAB_CHECK(in.at_end(), "IDX file {} has bytes after its {} elements", file.string(), count);
  auto* owned = buffer.release();
  out.data = torch::from_blob(
      owned->data(), out.dims, [owned](void*) { delete owned; }, torch::kUInt8);
  return out;
}

IdxSplit read_idx_split(const std::filesystem::path& root, const std::string& split) {
  MDLAB_CHECK(split == "train" || split == "test",
              "IDX datasets have splits 'train' and 'test', not '{}'", split);
  const std::string prefix = split == "train" ? "train" : "t10k";
  IdxSplit out;
  out.images_file = find_idx(root, prefix + "-images-idx3-ubyte");
  out.labels_file = find_idx(root, prefix + "-labels-idx1-ubyte");
  out.images = read_idx(out.images_file);
  out.labels = read_idx(out.labels_file);
  MDLAB_CHECK(out.images.dims.size() == 3, "IDX images {} have rank {}, expected 3 [N, H, W]",
              out.images_file.string(), out.images.dims.size());
  MDLAB_CHECK(out.labels.dims.size() == 1, "IDX labels {} have rank {}, expected 1 [N]",
              out.labels_file.string(), out.labels.dims.size());
  MDLAB_CHECK(out.labels.dims[0] == out.images.dims[0],
              "IDX dataset {}: {} holds {} images but {} holds {} labels", root.string(),
              out.images_file.string(), out.images.dims[0], out.labels_file.string(),
              out.labels.dims[0]);
  return out;
}

bool looks_like_fashion_mnist(const std::filesystem::path& root) {
  for (const auto& part : std::filesystem::absolute(root)) {
    std::string name = part.string();
    std::transform(name.begin(), name.end(), name.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    if (name.find("fashion") != std::string::npos) return true;
  }
  return false;
}

const std::vector<std::string>& fashion_mnist_classes() {
  static const std::vector<std::string> names = {"T-shirt/top", "Trouser",   "Pullover", "Dress",
                                                 "Coat",        "Sandal",    "Shirt",    "Sneaker",
                                                 "Bag",         "Ankle boot"};
  return names;
}

}  // namespace mdlab
