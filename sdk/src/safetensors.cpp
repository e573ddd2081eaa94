#include <mdlab/error.h>
#include <mdlab/safetensors.h>

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <torch/torch.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstdint>
#include <cstring>
#include <fcntl.h>
#include <limits>
#include <memory>
#include <optional>
#include <string>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#include <variant>

namespace mdlab {

// The format is little-endian and tensors are mapped without byte swapping.
static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__, "safetensors I/O assumes little-endian");

namespace {

namespace fs = std::filesystem;

// ---------------------------------------------------------------------------------------
// Dtypes
// ---------------------------------------------------------------------------------------

struct DtypeInfo {
  const char* name;
  torch::ScalarType type;
  int64_t itemsize;
  int rank;  // the Python library's order: tensors with a higher rank come first
};

// Ranks follow the order of the Rust crate's Dtype enum (BOOL < U8 < I8 < I16 < F16 < BF16 <
// I32 < F32 < F64 < I64); the writer sorts by it so files match the Python library byte for
// byte.
constexpr DtypeInfo kDtypes[] = {
    {"BOOL", torch::kBool, 1, 0},    {"U8", torch::kUInt8, 1, 1},
    {"I8", torch::kInt8, 1, 2},      {"I16", torch::kInt16, 2, 5},
    {"F16", torch::kFloat16, 2, 7},  {"BF16", torch::kBFloat16, 2, 8},
    {"I32", torch::kInt32, 4, 9},    {"F32", torch::kFloat32, 4, 11},
    {"F64", torch::kFloat64, 8, 12}, {"I64", torch::kInt64, 8, 13},
};

const DtypeInfo* dtype_by_name(std::string_view name) {
  for (const auto& d : kDtypes)
    if (name == d.name) return &d;
  return nullptr;
}

const DtypeInfo* dtype_by_type(torch::ScalarType type) {
  for (const auto& d : kDtypes)
    if (type == d.type) return &d;
  return nullptr;
}

// ---------------------------------------------------------------------------------------
// A small strict JSON parser (RFC 8259): enough for safetensors headers, and strict so that
// a damaged header is reported instead of half-read.
// ---------------------------------------------------------------------------------------

struct JsonValue;
using JsonObject = std::vector<std::pair<std::string, JsonValue>>;  // keeps file order
using JsonArray = std::vector<JsonValue>;

struct JsonNumber {
  std::string text;                 // the literal as written
  std::optional<uint64_t> natural;  // set for integers >= 0 that fit in 64 bits
};

struct JsonValue {
  std::variant<std::nullptr_t, bool, JsonNumber, std::string, JsonArray, JsonObject> v;
};

class JsonParser {
 public:
  explicit JsonParser(std::string_view text) : s_(text) {}

  // Parses the whole text as one value; on failure returns nullopt and sets error().
  std::optional<JsonValue> parse_document() {
    try {
      skip_ws();
      JsonValue value = parse_value(0);
      skip_ws();
      if (pos_ != s_.size()) fail("unexpected trailing characters after the top-level value");
      return value;
    } catch (const ParseFailure&) {
      return std::nullopt;
    }
  }

  const std::string& error() const { return error_; }

 private:
  struct ParseFailure {};
  static constexpr int kMaxDepth = 64;  // headers nest 3 deep; refuse pathological input

  [[noreturn]] void fail(std::string_view what) {
    error_ = fmt::format("{} at byte {} of the header", what, pos_);
    throw ParseFailure{};
  }

  bool at_end() const { return pos_ >= s_.size(); }
  char peek() const { return s_[pos_]; }

  void skip_ws() {
    while (!at_end() && (peek() == ' ' || peek() == '\t' || peek() == '\n' || peek() == '\r'))
      ++pos_;
  }

  void expect(char c) {
    if (at_end() || peek() != c) fail(fmt::format("expected '{}'", c));
    ++pos_;
  }

  void expect_word(std::string_view word) {
    if (s_.substr(pos_, word.size()) != word) fail("invalid literal");
    pos_ += word.size();
  }

  JsonValue parse_value(int depth) {
    if (depth > kMaxDepth) fail("nesting too deep");
    if (at_end()) fail("unexpected end of text");
    switch (peek()) {
      case '{': return JsonValue{parse_object(depth)};
      case '[': return JsonValue{parse_array(depth)};
      case '"': return JsonValue{parse_string()};
      case 't': expect_word("true"); return JsonValue{true};
      case 'f': expect_word("false"); return JsonValue{false};
      case 'n': expect_word("null"); return JsonValue{nullptr};
      default:
        if (peek() == '-' || (peek() >= '0' && peek() <= '9')) return JsonValue{parse_number()};
        fail(fmt::format("unexpected character '{}'", printable(peek())));
    }
  }

  static std::string printable(char c) {
    auto u = static_cast<unsigned char>(c);
    return u >= 0x20 && u < 0x7f ? std::string(1, c) : fmt::format("\\x{:02x}", u);
  }

  JsonObject parse_object(int depth) {
    expect('{');
    JsonObject out;
    skip_ws();
    if (!at_end() && peek() == '}') {
      ++pos_;
      return out;
    }
    while (true) {
      skip_ws();
      if (at_end() || peek() != '"') fail("expected a string key");
      size_t key_pos = pos_;
      std::string key = parse_string();
      for (const auto& [k, unused] : out) {
        if (k == key) {
          pos_ = key_pos;
          fail(fmt::format("duplicate key \"{}\"", key));
        }
      }
      skip_ws();
      expect(':');
      skip_ws();
      JsonValue value = parse_value(depth + 1);
      out.emplace_back(std::move(key), std::move(value));
      skip_ws();
      if (at_end()) fail("unterminated object");
      if (peek() == ',') {
        ++pos_;
        continue;
      }
      if (peek() == '}') {
        ++pos_;
        return out;
      }
      fail("expected ',' or '}' in object");
    }
  }

  JsonArray parse_array(int depth) {
    expect('[');
    JsonArray out;
    skip_ws();
    if (!at_end() && peek() == ']') {
      ++pos_;
      return out;
    }
    while (true) {
      skip_ws();
      out.push_back(parse_value(depth + 1));
      skip_ws();
      if (at_end()) fail("unterminated array");
      if (peek() == ',') {
        ++pos_;
        continue;
      }
      if (peek() == ']') {
        ++pos_;
        return out;
      }
      fail("expected ',' or ']' in array");
    }
  }

  unsigned parse_hex4() {
    if (pos_ + 4 > s_.size()) fail("truncated \\u escape");
    unsigned v = 0;
    for (int i = 0; i < 4; ++i) {
      char c = s_[pos_++];
      v <<= 4;
      if (c >= '0' && c <= '9')
        v |= static_cast<unsigned>(c - '0');
      else if (c >= 'a' && c <= 'f')
        v |= static_cast<unsigned>(c - 'a' + 10);
      else if (c >= 'A' && c <= 'F')
        v |= static_cast<unsigned>(c - 'A' + 10);
      else
        fail("invalid hex digit in \\u escape");
    }
    return v;
  }

  static void append_utf8(std::string& out, unsigned cp) {
    if (cp < 0x80) {
      out += static_cast<char>(cp);
    } else if (cp < 0x800) {
      out += static_cast<char>(0xC0 | (cp >> 6));
      out += static_cast<char>(0x80 | (cp & 0x3F));
    } else if (cp < 0x10000) {
      out += static_cast<char>(0xE0 | (cp >> 12));
      out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
      out += static_cast<char>(0x80 | (cp & 0x3F));
    } else {
      out += static_cast<char>(0xF0 | (cp >> 18));
      out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
      out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
      out += static_cast<char>(0x80 | (cp & 0x3F));
    }
  }

  // Length of the UTF-8 sequence starting at pos_, or 0 when it is malformed.
  size_t utf8_length() const {
    auto byte = [&](size_t i) { return static_cast<unsigned char>(s_[pos_ + i]); };
    unsigned char b0 = byte(0);
    size_t n = b0 < 0x80           ? 1
               : (b0 >> 5) == 0x6  ? 2
               : (b0 >> 4) == 0xE  ? 3
               : (b0 >> 3) == 0x1E ? 4
                                   : 0;
    if (n == 0 || pos_ + n > s_.size()) return 0;
    for (size_t i = 1; i < n; ++i)
      if ((byte(i) & 0xC0) != 0x80) return 0;
    return n;
  }

  std::string parse_string() {
    expect('"');
    std::string out;
    while (true) {
      if (at_end()) fail("unterminated string");
      char c = peek();
      if (c == '"') {
        ++pos_;
        return out;
      }
      if (static_cast<unsigned char>(c) < 0x20) fail("unescaped control character in string");
      if (c != '\\') {
        size_t n = utf8_length();
        if (n == 0) fail("invalid UTF-8 in string");
        out.append(s_.substr(pos_, n));
        pos_ += n;
        continue;
      }
      ++pos_;
      if (at_end()) fail("unterminated escape");
      char e = s_[pos_++];
      switch (e) {
        case '"': out += '"'; break;
        case '\\': out += '\\'; break;
        case '/': out += '/'; break;
        case 'b': out += '\b'; break;
        case 'f': out += '\f'; break;
        case 'n': out += '\n'; break;
        case 'r': out += '\r'; break;
        case 't': out += '\t'; break;
        case 'u': {
          unsigned cp = parse_hex4();
          if (cp >= 0xD800 && cp <= 0xDBFF) {
            // A high surrogate must be followed by an escaped low surrogate.
            if (s_.substr(pos_, 2) != "\\u") fail("lone high surrogate in \\u escape");
            pos_ += 2;
            unsigned lo = parse_hex4();
            if (lo < 0xDC00 || lo > 0xDFFF) fail("invalid low surrogate in \\u escape");
            cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
          } else if (cp >= 0xDC00 && cp <= 0xDFFF) {
            fail("lone low surrogate in \\u escape");
          }
          append_utf8(out, cp);
          break;
        }
        default: --pos_; fail(fmt::format("invalid escape '\\{}'", printable(e)));
      }
    }
  }

  JsonNumber parse_number() {
    size_t start = pos_;
    bool negative = false, integral = true;
    if (peek() == '-') {
      negative = true;
      ++pos_;
    }
    auto digits = [&] {
      size_t n = 0;
      while (!at_end() && peek() >= '0' && peek() <= '9') ++pos_, ++n;
      return n;
    };
    if (at_end() || !(peek() >= '0' && peek() <= '9')) fail("invalid number");
    if (peek() == '0') {
      ++pos_;
      if (!at_end() && peek() >= '0' && peek() <= '9') fail("leading zero in number");
    } else {
      digits();
    }
    if (!at_end() && peek() == '.') {
      integral = false;
      ++pos_;
      if (digits() == 0) fail("digit expected after '.'");
    }
    if (!at_end() && (peek() == 'e' || peek() == 'E')) {
      integral = false;
      ++pos_;
      if (!at_end() && (peek() == '+' || peek() == '-')) ++pos_;
      if (digits() == 0) fail("digit expected in exponent");
    }
    JsonNumber out{std::string(s_.substr(start, pos_ - start)), std::nullopt};
    if (integral && !negative) {
      uint64_t v = 0;
      bool overflow = false;
      for (char c : out.text) {
        auto d = static_cast<uint64_t>(c - '0');
        if (v > (std::numeric_limits<uint64_t>::max() - d) / 10) overflow = true;
        v = v * 10 + d;
      }
      if (!overflow) out.natural = v;
    }
    return out;
  }

  std::string_view s_;
  size_t pos_ = 0;
  std::string error_;
};

// ---------------------------------------------------------------------------------------
// Reading
// ---------------------------------------------------------------------------------------

[[noreturn]] void fail_file(const fs::path& path, std::string_view problem) {
  throw Error(fmt::format("safetensors file '{}': {}", path.string(), problem), "read_safetensors",
              __FILE__, __LINE__);
}

// A private (copy-on-write) read/write mapping of a whole file, unmapped when the last
// tensor using it goes away.
class Mapping {
 public:
  Mapping(void* data, size_t size) : data_(data), size_(size) {}
  ~Mapping() {
    if (data_) ::munmap(data_, size_);
  }
  Mapping(const Mapping&) = delete;
  Mapping& operator=(const Mapping&) = delete;
  const uint8_t* bytes() const { return static_cast<const uint8_t*>(data_); }
  uint8_t* mutable_bytes() { return static_cast<uint8_t*>(data_); }
  size_t size() const { return size_; }

 private:
  void* data_;
  size_t size_;
};

std::shared_ptr<Mapping> map_file(const fs::path& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) fail_file(path, fmt::format("cannot open: {}", std::strerror(errno)));
  struct stat st {};
  if (::fstat(fd, &st) != 0) {
    int err = errno;
    ::close(fd);
    fail_file(path, fmt::format("cannot stat: {}", std::strerror(err)));
  }
  if (!S_ISREG(st.st_mode)) {
    ::close(fd);
    fail_file(path, "not a regular file");
  }
  auto size = static_cast<uint64_t>(st.st_size);
  if (size < 8) {
    ::close(fd);
    fail_file(path, fmt::format("file is {} bytes, shorter than the 8-byte header length", size));
  }
  // PROT_WRITE on a MAP_PRIVATE mapping: callers may modify tensors in place; pages are then
  // copied, the file stays untouched.
  void* data = ::mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
  int err = errno;
  ::close(fd);
  if (data == MAP_FAILED) fail_file(path, fmt::format("cannot map: {}", std::strerror(err)));
  return std::make_shared<Mapping>(data, size);
}

std::string shape_text(const std::vector<int64_t>& shape) {
  return fmt::format("[{}]", fmt::join(shape, ", "));
}

struct Entry {
  std::string name;
  const DtypeInfo* dtype = nullptr;
  std::vector<int64_t> shape;
  uint64_t begin = 0, end = 0;
};

const JsonValue* find_member(const JsonObject& object, std::string_view key) {
  for (const auto& [k, v] : object)
    if (k == key) return &v;
  return nullptr;
}

// Natural numbers of a JSON array, or nullopt when it is not an array of those.
std::optional<std::vector<uint64_t>> naturals(const JsonValue& value) {
  const auto* array = std::get_if<JsonArray>(&value.v);
  if (!array) return std::nullopt;
  std::vector<uint64_t> out;
  for (const auto& item : *array) {
    const auto* number = std::get_if<JsonNumber>(&item.v);
    if (!number || !number->natural) return std::nullopt;
    out.push_back(*number->natural);
  }
  return out;
}

Entry parse_entry(const fs::path& path, const std::string& name, const JsonValue& value) {
  const auto* object = std::get_if<JsonObject>(&value.v);
  if (!object) fail_file(path, fmt::format("tensor '{}': entry is not a JSON object", name));
  Entry e;
  e.name = name;
  const JsonValue* dtype = find_member(*object, "dtype");
  const JsonValue* shape = find_member(*object, "shape");
  const JsonValue* offsets = find_member(*object, "data_offsets");
  if (!dtype) fail_file(path, fmt::format("tensor '{}': entry has no 'dtype'", name));
  if (!shape) fail_file(path, fmt::format("tensor '{}': entry has no 'shape'", name));
  if (!offsets) fail_file(path, fmt::format("tensor '{}': entry has no 'data_offsets'", name));

  const auto* dtype_name = std::get_if<std::string>(&dtype->v);
  if (!dtype_name) fail_file(path, fmt::format("tensor '{}': 'dtype' is not a string", name));
  e.dtype = dtype_by_name(*dtype_name);
  if (!e.dtype) {
    fail_file(path, fmt::format("tensor '{}': unknown dtype '{}' (supported: F64, F32, F16, "
                                "BF16, I64, I32, I16, I8, U8, BOOL)",
                                name, *dtype_name));
  }

  auto dims = naturals(*shape);
  if (!dims)
    fail_file(path,
              fmt::format("tensor '{}': 'shape' is not an array of non-negative integers", name));
  // Element count with overflow checks: a forged shape must not wrap around to a small size.
  uint64_t bytes = static_cast<uint64_t>(e.dtype->itemsize);
  bool overflow = false;
  for (uint64_t d : *dims) {
    if (d > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) overflow = true;
    e.shape.push_back(static_cast<int64_t>(d));
    if (d != 0 && bytes > std::numeric_limits<uint64_t>::max() / d) overflow = true;
    bytes *= d;
  }
  if (overflow) fail_file(path, fmt::format("tensor '{}': shape {} is too large", name, *dims));

  auto range = naturals(*offsets);
  if (!range || range->size() != 2)
    fail_file(path, fmt::format("tensor '{}': 'data_offsets' is not an array of two "
                                "non-negative integers",
                                name));
  e.begin = (*range)[0];
  e.end = (*range)[1];
  if (e.end < e.begin)
    fail_file(path, fmt::format("tensor '{}': data_offsets [{}, {}] end before they begin", name,
                                e.begin, e.end));
  if (e.end - e.begin != bytes) {
    fail_file(path, fmt::format("tensor '{}': data_offsets [{}, {}] hold {} bytes but shape {} "
                                "of {} needs {} bytes",
                                name, e.begin, e.end, e.end - e.begin, shape_text(e.shape),
                                e.dtype->name, bytes));
  }
  return e;
}

std::map<std::string, std::string> parse_metadata(const fs::path& path, const JsonValue& value) {
  const auto* object = std::get_if<JsonObject>(&value.v);
  if (!object) fail_file(path, "'__metadata__' is not a JSON object");
  std::map<std::string, std::string> out;
  for (const auto& [k, v] : *object) {
    const auto* s = std::get_if<std::string>(&v.v);
    if (!s) fail_file(path, fmt::format("'__metadata__' value of '{}' is not a string", k));
    out.emplace(k, *s);
  }
  return out;
}

}  // namespace

// ---------------------------------------------------------------------------------------

const torch::Tensor& SafetensorsFile::at(std::string_view name) const {
  auto it = tensors.find(std::string(name));
  MDLAB_CHECK(it != tensors.end(), "safetensors file '{}' has no tensor '{}'", path.string(), name);
  return it->second;
}

bool SafetensorsFile::contains(std::string_view name) const {
  return tensors.count(std::string(name)) != 0;
}

std::string safetensors_dtype_name(torch::ScalarType dtype) {
  const DtypeInfo* info = dtype_by_type(dtype);
  MDLAB_CHECK(info, "dtype {} cannot be stored in safetensors", c10::toString(dtype));
  return info->name;
}

SafetensorsFile read_safetensors(const fs::path& path) {
  auto mapping = map_file(path);
  const uint64_t file_size = mapping->size();
  uint64_t header_size = 0;
  std::memcpy(&header_size, mapping->bytes(), 8);
  if (header_size > file_size - 8) {
    fail_file(path, fmt::format("header length {} exceeds the {} bytes after the length prefix "
                                "(truncated or not a safetensors file)",
                                header_size, file_size - 8));
  }
  std::string_view header(reinterpret_cast<const char*>(mapping->bytes()) + 8, header_size);
  JsonParser parser(header);
  auto root = parser.parse_document();
  if (!root) fail_file(path, fmt::format("header is not valid JSON: {}", parser.error()));
  const auto* object = std::get_if<JsonObject>(&root->v);
  if (!object) fail_file(path, "header is not a JSON object");

  SafetensorsFile out;
  out.path = path;
  std::vector<Entry> entries;
  for (const auto& [key, value] : *object) {
    if (key == "__metadata__")
      out.metadata = parse_metadata(path, value);
    else
      entries.push_back(parse_entry(path, key, value));
  }

  const uint64_t data_offset = 8 + header_size;
  const uint64_t data_size = file_size - data_offset;
  for (const auto& e : entries) {
    if (e.end > data_size) {
      fail_file(path, fmt::format("tensor '{}': data_offsets [{}, {}] lie outside the data area "
                                  "of {} bytes",
                                  e.name, e.begin, e.end, data_size));
    }
  }

  // Overlap check in data order; empty tensors occupy no bytes and cannot overlap.
  std::vector<const Entry*> by_offset;
  for (const auto& e : entries)
    if (e.end > e.begin) by_offset.push_back(&e);
  std::sort(by_offset.begin(), by_offset.end(), [](const Entry* a, const Entry* b) {
    return a->begin != b->begin ? a->begin < b->begin : a->end < b->end;
  });
  for (size_t i = 1; i < by_offset.size(); ++i) {
    // Sorted by begin: if any two ranges overlap, some neighbouring pair does too.
    const Entry* prev = by_offset[i - 1];
    const Entry* cur = by_offset[i];
    if (cur->begin < prev->end) {
      fail_file(path, fmt::format("tensors '{}' [{}, {}] and '{}' [{}, {}] overlap", prev->name,
                                  prev->begin, prev->end, cur->name, cur->begin, cur->end));
    }
  }

  std::vector<const Entry*> ordered;
  for (const auto& e : entries) ordered.push_back(&e);
  std::stable_sort(ordered.begin(), ordered.end(),
                   [](const Entry* a, const Entry* b) { return a->begin < b->begin; });
  for (const Entry* e : ordered) {
    auto options = torch::TensorOptions().dtype(e->dtype->type).device(torch::kCPU);
    torch::Tensor t;
    uint8_t* ptr = mapping->mutable_bytes() + data_offset + e->begin;
    if (e->end == e->begin) {
      t = torch::empty(e->shape, options);
    } else if (reinterpret_cast<uintptr_t>(ptr) % static_cast<uintptr_t>(e->dtype->itemsize) == 0) {
      // Every tensor holds a reference to the mapping, which therefore outlives them all.
      t = torch::from_blob(
          ptr, e->shape, [mapping](void*) {}, options);
    } else {
      // Misaligned data (allowed by the format, rare in practice) is copied to owned memory.
      t = torch::empty(e->shape, options);
      std::memcpy(t.data_ptr(), ptr, e->end - e->begin);
    }
    if (e->dtype->type == torch::kBool) {
      // torch assumes bool bytes are 0 or 1; other values give wrong results silently.
      for (uint64_t i = 0; i < e->end - e->begin; ++i) {
        if (ptr[i] > 1)
          fail_file(path, fmt::format("tensor '{}': BOOL byte {} has value {}", e->name, i,
                                      static_cast<int>(ptr[i])));
      }
    }
    out.names.push_back(e->name);
    out.tensors.emplace(e->name, std::move(t));
  }
  return out;
}

// ---------------------------------------------------------------------------------------
// Writing
// ---------------------------------------------------------------------------------------

namespace {

[[noreturn]] void fail_write(const fs::path& path, std::string_view problem) {
  throw Error(fmt::format("cannot write safetensors file '{}': {}", path.string(), problem),
              "write_safetensors", __FILE__, __LINE__);
}

// JSON string literal as serde_json writes it: short escapes where JSON has them, \u00XX for
// other control characters, everything else (UTF-8 included) verbatim.
void append_json_string(std::string& out, std::string_view s) {
  out += '"';
  for (char c : s) {
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      case '\b': out += "\\b"; break;
      case '\f': out += "\\f"; break;
      default:
        if (static_cast<unsigned char>(c) < 0x20)
          out += fmt::format("\\u{:04x}", static_cast<int>(c));
        else
          out += c;
    }
  }
  out += '"';
}

class TempFile {
 public:
  TempFile(const fs::path& target) : target_(target) {
    static std::atomic<uint64_t> counter{0};
    fs::path dir = target.parent_path().empty() ? fs::path(".") : target.parent_path();
    path_ = dir / fmt::format(".{}.tmp-{}-{}", target.filename().string(), ::getpid(), counter++);
    fd_ = ::open(path_.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    if (fd_ < 0)
      fail_write(target_,
                 fmt::format("cannot create {}: {}", path_.string(), std::strerror(errno)));
  }
  ~TempFile() {
    if (fd_ >= 0) ::close(fd_);
    if (!committed_) ::unlink(path_.c_str());
  }
  TempFile(const TempFile&) = delete;
  TempFile& operator=(const TempFile&) = delete;

  void write(const void* data, size_t size) {
    const char* p = static_cast<const char*>(data);
    while (size > 0) {
      ssize_t n = ::write(fd_, p, size);
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) fail_write(target_, fmt::format("write failed: {}", std::strerror(errno)));
      p += n;
      size -= static_cast<size_t>(n);
    }
  }

  void commit() {
    if (::fsync(fd_) != 0)
      fail_write(target_, fmt::format("fsync failed: {}", std::strerror(errno)));
    int rc = ::close(fd_);
    fd_ = -1;
    if (rc != 0) fail_write(target_, fmt::format("close failed: {}", std::strerror(errno)));
    if (::rename(path_.c_str(), target_.c_str()) != 0)
      fail_write(target_, fmt::format("rename failed: {}", std::strerror(errno)));
    committed_ = true;
    // The rename itself is durable only once the directory is synced.
    fs::path dir = target_.parent_path().empty() ? fs::path(".") : target_.parent_path();
    int dfd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd >= 0) {
      ::fsync(dfd);
      ::close(dfd);
    }
  }

 private:
  fs::path target_;
  fs::path path_;
  int fd_ = -1;
  bool committed_ = false;
};

}  // namespace

void write_safetensors(const fs::path& path,
                       const std::vector<std::pair<std::string, torch::Tensor>>& tensors,
                       const std::map<std::string, std::string>& metadata) {
  struct Item {
    std::string name;
    const DtypeInfo* dtype;
    torch::Tensor data;  // contiguous CPU
  };
  std::vector<Item> items;
  items.reserve(tensors.size());
  for (const auto& [name, tensor] : tensors) {
    if (name.empty()) fail_write(path, "a tensor has an empty name");
    if (name == "__metadata__") fail_write(path, "'__metadata__' is reserved, not a tensor name");
    if (!tensor.defined()) fail_write(path, fmt::format("tensor '{}' is undefined", name));
    const DtypeInfo* dtype = dtype_by_type(tensor.scalar_type());
    if (!dtype)
      fail_write(path, fmt::format("tensor '{}' has dtype {}, which safetensors cannot store", name,
                                   c10::toString(tensor.scalar_type())));
    items.push_back({name, dtype, tensor.detach().to(torch::kCPU).contiguous()});
  }
  {
    std::vector<std::string_view> names;
    for (const auto& it : items) names.push_back(it.name);
    std::sort(names.begin(), names.end());
    auto dup = std::adjacent_find(names.begin(), names.end());
    if (dup != names.end()) fail_write(path, fmt::format("tensor name '{}' appears twice", *dup));
  }
  std::sort(items.begin(), items.end(), [](const Item& a, const Item& b) {
    return a.dtype->rank != b.dtype->rank ? a.dtype->rank > b.dtype->rank : a.name < b.name;
  });

  std::string header = "{";
  if (!metadata.empty()) {
    header += "\"__metadata__\":{";
    bool first = true;
    for (const auto& [k, v] : metadata) {
      if (!first) header += ',';
      first = false;
      append_json_string(header, k);
      header += ':';
      append_json_string(header, v);
    }
    header += '}';
  }
  uint64_t offset = 0;
  for (const auto& it : items) {
    if (header.size() > 1) header += ',';
    uint64_t bytes = static_cast<uint64_t>(it.data.numel()) * it.dtype->itemsize;
    append_json_string(header, it.name);
    header += fmt::format(R"(:{{"dtype":"{}","shape":[{}],"data_offsets":[{},{}]}})",
                          it.dtype->name, fmt::join(it.data.sizes(), ","), offset, offset + bytes);
    offset += bytes;
  }
  header += '}';
  // Pad so the data area starts 8-byte aligned (the length prefix is 8 bytes itself).
  header.append((8 - header.size() % 8) % 8, ' ');

  TempFile file(path);
  uint64_t header_size = header.size();
  file.write(&header_size, 8);
  file.write(header.data(), header.size());
  for (const auto& it : items) {
    size_t bytes = static_cast<size_t>(it.data.numel()) * static_cast<size_t>(it.dtype->itemsize);
    if (bytes) file.write(it.data.data_ptr(), bytes);
  }
  file.commit();
}

}  // namespace mdlab
