#include "idx_file.h"

#include <mdlab/error.h>

#include <torch/torch.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <cstring>
#include <zlib.h>

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
  int64_t count = 1;
  for (int i = 0; i < rank; ++i) {
    std::array<unsigned char, 4> b{};
    in.read_exact(b.data(), 4, "the dimensions");
    int64_t d = (int64_t(b[0]) << 24) | (int64_t(b[1]) << 16) | (int64_t(b[2]) << 8) | b[3];
    MDLAB_CHECK(d > 0 && d < (int64_t(1) << 31), "IDX file {}: dimension {} is {}", file.string(),
                i, d);
    out.dims.push_back(d);
    count *= d;
  }
  out.data = torch::empty(out.dims, torch::kUInt8);
  in.read_exact(out.data.data_ptr(), static_cast<size_t>(count), "the data");
  MDLAB_CHECK(in.at_end(), "IDX file {} has bytes after its {} elements", file.string(), count);
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
