#include "image_decode.h"

#include <fmt/format.h>

#include <algorithm>
#include <cerrno>
#include <csetjmp>
#include <cstdio>
#include <cstring>
#include <fcntl.h>
#include <string>
#include <sys/stat.h>
#include <system_error>
#include <unistd.h>
#include <vector>

// After <cstdio>: jpeglib.h uses FILE and size_t without declaring them.
#include <jerror.h>
#include <jpeglib.h>
#include <png.h>

namespace fs = std::filesystem;

namespace mdlab {
namespace {

// Decoded images larger than this are refused: ImageU8 indexes with int, and a dataset image
// this large is far more likely a corrupt header than a photograph.
constexpr uint64_t kMaxImageBytes = uint64_t(1) << 31;
// The per-thread read buffer keeps its memory between files, except after an unusually large
// one, so one huge file does not pin its size in every worker for the rest of the run.
constexpr size_t kKeepBufferBytes = size_t(64) << 20;
// The most a deflate stream expands (258-byte matches coded in 2 bits each, plus headers).
constexpr uint64_t kMaxDeflateRatio = 1032;
// Room for a decoder's message (libjpeg's JMSG_LENGTH_MAX is 200).
constexpr size_t kWhySize = 256;

[[noreturn]] void fail(const fs::path& file, const std::string& what) {
  throw DataError(file, fmt::format("image {}: {}", file.string(), what));
}

// ---------------------------------------------------------------------------------------
// JPEG. libjpeg reports errors through callbacks that must not return; they longjmp back to
// run_jpeg, which only holds trivially destructible locals across the setjmp, and the C++
// exception is thrown after the jump has landed.

struct JpegErrorManager {
  jpeg_error_mgr pub;  // first member: libjpeg hands back a pointer to it
  std::jmp_buf jump;
  char message[JMSG_LENGTH_MAX];
};

[[noreturn]] void jpeg_fail(j_common_ptr cinfo) {
  auto* err = reinterpret_cast<JpegErrorManager*>(cinfo->err);
  (*cinfo->err->format_message)(cinfo, err->message);
  std::longjmp(err->jump, 1);
}

void jpeg_message(j_common_ptr cinfo, int level) {
  if (level >= 0) return;  // trace messages
  // At the end of the data libjpeg warns, inserts a fake EOI and fills the rest of the image
  // with grey; a truncated file must fail instead of training on a half-grey picture. Other
  // warnings (extraneous bytes before a marker, ...) leave the pixels intact, as in PIL.
  if (cinfo->err->msg_code == JWRN_JPEG_EOF) jpeg_fail(cinfo);
  ++cinfo->err->num_warnings;
}

// Pillow's cmyk2rgb, so CMYK JPEGs come out as they do through PIL's convert("RGB").
inline uint8_t cmyk_channel(int c, int k) {
  const int nk = 255 - k;
  const int t = c * nk + 128;
  const int v = nk - (((t >> 8) + t) >> 8);
  return static_cast<uint8_t>(v < 0 ? 0 : (v > 255 ? 255 : v));
}

// Decodes into `out`; false with the reason in `why` (kWhySize bytes) on failure.
bool run_jpeg(const uint8_t* data, size_t size, const DecodeHint& hint, ImageU8& out, char* why) {
  jpeg_decompress_struct cinfo;
  JpegErrorManager err;
  cinfo.err = jpeg_std_error(&err.pub);
  err.pub.error_exit = jpeg_fail;
  err.pub.emit_message = jpeg_message;
  if (setjmp(err.jump)) {
    std::snprintf(why, kWhySize, "%s", err.message);
    jpeg_destroy_decompress(&cinfo);
    return false;
  }
  jpeg_create_decompress(&cinfo);
  // libjpeg's own buffers (a progressive file keeps every coefficient of the image) within the
  // limit of the decoded image: a bigger need fails instead of allocating it.
  cinfo.mem->max_memory_to_use = static_cast<long>(kMaxImageBytes);
  jpeg_mem_src(&cinfo, data, static_cast<unsigned long>(size));
  jpeg_read_header(&cinfo, TRUE);
  // Each 8x8 block of a Huffman-coded component costs at least one bit (its DC code), so the
  // header's size is checked against the file's before anything of that size exists: a
  // corrupt header claiming 20000 x 65000 pixels in 500 bytes is refused, not allocated.
  if (!cinfo.arith_code && cinfo.num_components > 0) {
    const uint64_t blocks =
        uint64_t(cinfo.comp_info[0].width_in_blocks) * cinfo.comp_info[0].height_in_blocks;
    if (uint64_t(size) * 8 < blocks) {
      std::snprintf(why, kWhySize,
                    "JPEG header says %ux%u pixels (%llu blocks of 8x8), more than its %zu bytes "
                    "can hold: truncated, or a corrupt header",
                    cinfo.image_width, cinfo.image_height, static_cast<unsigned long long>(blocks),
                    size);
      jpeg_destroy_decompress(&cinfo);
      return false;
    }
  }

  int channels = 3;
  bool cmyk = false;
  switch (cinfo.jpeg_color_space) {
    case JCS_GRAYSCALE:
      cinfo.out_color_space = JCS_GRAYSCALE;
      channels = 1;
      break;
    case JCS_CMYK:
    case JCS_YCCK:  // libjpeg turns YCCK into CMYK; RGB is ours to compute
      cinfo.out_color_space = JCS_CMYK;
      cmyk = true;
      break;
    case JCS_YCbCr:
    case JCS_RGB: cinfo.out_color_space = JCS_RGB; break;
    default:
      std::snprintf(why, kWhySize, "JPEG with an unsupported color space (%d components)",
                    cinfo.num_components);
      jpeg_destroy_decompress(&cinfo);
      return false;
  }

  // A zero field means "full size" (the loader merges hints that way), so only a hint with
  // both sides set allows scaling. Output sides are ceil(side / denom), as libjpeg computes.
  if (hint.min_width > 0 && hint.min_height > 0) {
    for (unsigned denom : {8u, 4u, 2u}) {
      const unsigned w = (cinfo.image_width + denom - 1) / denom;
      const unsigned h = (cinfo.image_height + denom - 1) / denom;
      if (w >= static_cast<unsigned>(hint.min_width) &&
          h >= static_cast<unsigned>(hint.min_height)) {
        cinfo.scale_num = 1;
        cinfo.scale_denom = denom;
        break;
      }
    }
  }
  // The output size before jpeg_start_decompress, which allocates for it.
  jpeg_calc_output_dimensions(&cinfo);
  const uint64_t bytes = uint64_t(cinfo.output_width) * cinfo.output_height * channels;
  if (bytes == 0 || bytes >= kMaxImageBytes) {
    std::snprintf(why, kWhySize, "JPEG of %ux%u is too large to decode", cinfo.output_width,
                  cinfo.output_height);
    jpeg_destroy_decompress(&cinfo);
    return false;
  }
  jpeg_start_decompress(&cinfo);
  out.resize(static_cast<int>(cinfo.output_height), static_cast<int>(cinfo.output_width), channels);
  // The CMYK staging row lives in libjpeg's pool, freed by jpeg_destroy even after a jump.
  JSAMPARRAY staging = cmyk ? (*cinfo.mem->alloc_sarray)(reinterpret_cast<j_common_ptr>(&cinfo),
                                                         JPOOL_IMAGE, cinfo.output_width * 4, 1)
                            : nullptr;
  // Photoshop writes Adobe-marked CMYK inverted (PIL's "CMYK;I" raw mode).
  const bool inverted = cinfo.saw_Adobe_marker;
  while (cinfo.output_scanline < cinfo.output_height) {
    const int y = static_cast<int>(cinfo.output_scanline);
    JSAMPROW row = cmyk ? staging[0] : out.row(y);
    jpeg_read_scanlines(&cinfo, &row, 1);
    if (cmyk) {
      uint8_t* dst = out.row(y);
      for (JDIMENSION x = 0; x < cinfo.output_width; ++x) {
        const uint8_t* p = row + 4 * x;
        int c = p[0], m = p[1], ye = p[2], k = p[3];
        if (inverted) c = 255 - c, m = 255 - m, ye = 255 - ye, k = 255 - k;
        dst[3 * x] = cmyk_channel(c, k);
        dst[3 * x + 1] = cmyk_channel(m, k);
        dst[3 * x + 2] = cmyk_channel(ye, k);
      }
    }
  }
  // No jpeg_finish_decompress: every pixel is decoded, and missing data has already surfaced
  // as JWRN_JPEG_EOF (the entropy decoder reads ahead; progressive files are read whole by
  // jpeg_start_decompress).
  jpeg_destroy_decompress(&cinfo);
  return true;
}

// ---------------------------------------------------------------------------------------
// PNG: the same setjmp discipline as JPEG, through libpng's png_jmpbuf.

struct PngInput {
  const uint8_t* data;
  size_t size;
  size_t pos;
  char message[kWhySize];
};

[[noreturn]] void png_fail(png_structp png, png_const_charp msg) {
  auto* in = static_cast<PngInput*>(png_get_error_ptr(png));
  std::snprintf(in->message, kWhySize, "%s", msg);
  png_longjmp(png, 1);
}

// libpng warns about harmless things (odd sRGB profiles, unknown chunks); the pixels are fine.
void png_warn(png_structp, png_const_charp) {}

void png_read_memory(png_structp png, png_bytep out, size_t n) {
  auto* in = static_cast<PngInput*>(png_get_io_ptr(png));
  if (in->size - in->pos < n) png_error(png, "PNG data is truncated");
  std::memcpy(out, in->data + in->pos, n);
  in->pos += n;
}

bool run_png(const uint8_t* data, size_t size, ImageU8& out, std::vector<png_bytep>& rows,
             char* why) {
  PngInput in{data, size, 0, {}};
  png_structp png = png_create_read_struct(PNG_LIBPNG_VER_STRING, &in, png_fail, png_warn);
  png_infop info = png ? png_create_info_struct(png) : nullptr;
  if (!info) {
    png_destroy_read_struct(&png, nullptr, nullptr);
    std::snprintf(why, kWhySize, "cannot allocate a PNG decoder");
    return false;
  }
  if (setjmp(png_jmpbuf(png))) {
    png_destroy_read_struct(&png, &info, nullptr);
    std::snprintf(why, kWhySize, "%s", in.message);
    return false;
  }
  png_set_read_fn(png, &in, png_read_memory);
  png_read_info(png, info);
  png_uint_32 width = 0, height = 0;
  int bit_depth = 0, color_type = 0;
  png_get_IHDR(png, info, &width, &height, &bit_depth, &color_type, nullptr, nullptr, nullptr);
  const size_t file_row_bytes = png_get_rowbytes(png, info);  // as stored, before transforms
  if (bit_depth == 16) png_set_strip_16(png);
  if (color_type == PNG_COLOR_TYPE_PALETTE) png_set_palette_to_rgb(png);
  if (color_type == PNG_COLOR_TYPE_GRAY && bit_depth < 8) png_set_expand_gray_1_2_4_to_8(png);
  // Alpha (a channel, or tRNS that palette expansion turns into one) is dropped, not
  // composited: what PIL's convert("RGB") / convert("L") do.
  png_set_strip_alpha(png);
  png_set_interlace_handling(png);
  png_read_update_info(png, info);
  const int channels = png_get_channels(png, info);
  if (png_get_bit_depth(png, info) != 8 || (channels != 1 && channels != 3)) {
    png_destroy_read_struct(&png, &info, nullptr);
    std::snprintf(why, kWhySize, "PNG layout not supported (color type %d, bit depth %d)",
                  color_type, bit_depth);
    return false;
  }
  const uint64_t bytes = uint64_t(width) * height * channels;
  if (bytes >= kMaxImageBytes) {
    png_destroy_read_struct(&png, &info, nullptr);
    std::snprintf(why, kWhySize, "PNG of %ux%u is too large to decode", width, height);
    return false;
  }
  // Deflate expands at most about 1032-fold, and every row holds a filter byte and its
  // samples: a header claiming more than the file can hold is refused before allocating.
  const uint64_t stored = uint64_t(height) * (1 + uint64_t(file_row_bytes));
  if (stored > uint64_t(size) * kMaxDeflateRatio) {
    png_destroy_read_struct(&png, &info, nullptr);
    std::snprintf(why, kWhySize,
                  "PNG header says %ux%u pixels (%llu bytes of rows), more than its %zu bytes "
                  "can hold: truncated, or a corrupt header",
                  width, height, static_cast<unsigned long long>(stored), size);
    return false;
  }
  out.resize(static_cast<int>(height), static_cast<int>(width), channels);
  rows.resize(height);
  for (png_uint_32 y = 0; y < height; ++y) rows[y] = out.row(static_cast<int>(y));
  png_read_image(png, rows.data());
  // No png_read_end: the pixels are complete; chunks after IDAT carry nothing we use.
  png_destroy_read_struct(&png, &info, nullptr);
  return true;
}

// ---------------------------------------------------------------------------------------

bool starts_with(const uint8_t* data, size_t size, const char* magic, size_t n, size_t offset = 0) {
  return size >= offset + n && std::memcmp(data + offset, magic, n) == 0;
}

// A name for the formats people meet in image folders, so the error says what the file is.
std::string unsupported_format(const uint8_t* data, size_t size) {
  if (starts_with(data, size, "GIF8", 4)) return "is a GIF image";
  if (starts_with(data, size, "BM", 2)) return "is a BMP image";
  if (starts_with(data, size, "RIFF", 4) && starts_with(data, size, "WEBP", 4, 8))
    return "is a WebP image";
  if (starts_with(data, size, "II*\0", 4) || starts_with(data, size, "MM\0*", 4))
    return "is a TIFF image";
  if (starts_with(data, size, "ftyp", 4, 4)) return "is an ISO media (HEIF/AVIF) image";
  std::string head;
  for (size_t i = 0; i < std::min<size_t>(size, 8); ++i)
    head += fmt::format("{}{:02x}", i ? " " : "", data[i]);
  return fmt::format("is not an image (starts with bytes {})", head);
}

// Reads the whole file with as few read() calls as the kernel allows (one, normally).
void read_whole_file(const fs::path& file, std::vector<uint8_t>& buf) {
  const int fd = ::open(file.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    fail(file, "cannot open: " + std::error_code(errno, std::generic_category()).message());
  }
  struct Closer {
    int fd;
    ~Closer() { ::close(fd); }
  } closer{fd};
  struct stat st {};
  if (::fstat(fd, &st) != 0)
    fail(file, "cannot stat: " + std::error_code(errno, std::generic_category()).message());
  if (S_ISDIR(st.st_mode)) fail(file, "is a directory, not an image file");
  if (st.st_size == 0) fail(file, "is empty (0 bytes)");
  buf.resize(static_cast<size_t>(st.st_size));
  size_t done = 0;
  while (done < buf.size()) {
    const ssize_t got = ::read(fd, buf.data() + done, buf.size() - done);
    if (got < 0) {
      if (errno == EINTR) continue;
      fail(file, "cannot read: " + std::error_code(errno, std::generic_category()).message());
    }
    if (got == 0) break;  // shrank while we read: decode what is there, the decoder judges
    done += static_cast<size_t>(got);
  }
  buf.resize(done);
}

}  // namespace

void decode_image_memory(const uint8_t* data, size_t size, const fs::path& name_for_errors,
                         ImageU8& out, const DecodeHint& hint) {
  if (size == 0) fail(name_for_errors, "is empty (0 bytes)");
  char why[kWhySize] = {};
  if (starts_with(data, size, "\xff\xd8\xff", 3)) {
    if (!run_jpeg(data, size, hint, out, why))
      fail(name_for_errors, fmt::format("bad JPEG: {}", why));
    return;
  }
  if (starts_with(data, size, "\x89PNG\r\n\x1a\n", 8)) {
    std::vector<png_bytep> rows;
    if (!run_png(data, size, out, rows, why))
      fail(name_for_errors, fmt::format("bad PNG: {}", why));
    return;
  }
  fail(name_for_errors,
       unsupported_format(data, size) + "; only JPEG and PNG files can be decoded");
}

void decode_image_file(const fs::path& file, ImageU8& out, const DecodeHint& hint) {
  thread_local std::vector<uint8_t> buffer;
  struct Trim {
    ~Trim() {
      if (buffer.capacity() > kKeepBufferBytes) std::vector<uint8_t>().swap(buffer);
    }
  } trim;
  read_whole_file(file, buffer);
  decode_image_memory(buffer.data(), buffer.size(), file, out, hint);
}

}  // namespace mdlab
