#include "image_encode.h"

#include <mdlab/error.h>

#include <fmt/format.h>

#include <cerrno>
#include <csetjmp>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <jpeglib.h>
#include <memory>
#include <png.h>
#include <string>
#include <unistd.h>

namespace mdlab {
namespace {

struct FileCloser {
  void operator()(std::FILE* f) const {
    if (f) std::fclose(f);
  }
};

// libpng reports errors through longjmp; the message is kept for the exception.
struct PngErrorState {
  std::string message;
};

void png_error_to_state(png_structp png, png_const_charp message) {
  static_cast<PngErrorState*>(png_get_error_ptr(png))->message = message;
  png_longjmp(png, 1);
}

void png_warning_ignore(png_structp, png_const_charp) {}

// libjpeg's default error handler exits the process; this one jumps back with the message.
struct JpegError {
  jpeg_error_mgr mgr;
  std::jmp_buf jump;
  char message[JMSG_LENGTH_MAX];
};

void jpeg_error_exit(j_common_ptr info) {
  auto* err = reinterpret_cast<JpegError*>(info->err);
  (*info->err->format_message)(info, err->message);
  std::longjmp(err->jump, 1);
}

// Writes the rows of `image` with libpng to an open file; returns "" or the error.
std::string write_png_rows(std::FILE* file, const ImageU8& image) {
  PngErrorState state;
  png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, &state, png_error_to_state,
                                            png_warning_ignore);
  if (!png) return "out of memory";
  png_infop info = png_create_info_struct(png);
  if (!info) {
    png_destroy_write_struct(&png, nullptr);
    return "out of memory";
  }
  if (setjmp(png_jmpbuf(png))) {
    png_destroy_write_struct(&png, &info);
    return state.message.empty() ? "libpng error" : state.message;
  }
  png_init_io(png, file);
  png_set_IHDR(png, info, static_cast<png_uint_32>(image.width),
               static_cast<png_uint_32>(image.height), 8,
               image.channels == 3 ? PNG_COLOR_TYPE_RGB : PNG_COLOR_TYPE_GRAY, PNG_INTERLACE_NONE,
               PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
  png_write_info(png, info);
  for (int y = 0; y < image.height; ++y) png_write_row(png, const_cast<png_bytep>(image.row(y)));
  png_write_end(png, nullptr);
  png_destroy_write_struct(&png, &info);
  return {};
}

}  // namespace

void write_png_file(const std::filesystem::path& file, const ImageU8& image) {
  MDLAB_CHECK(!image.empty() && (image.channels == 1 || image.channels == 3),
              "write {}: cannot encode a {}x{} image with {} channel(s) as PNG", file.string(),
              image.height, image.width, image.channels);
  const std::filesystem::path tmp = file.string() + fmt::format(".tmp{}", ::getpid());
  std::string error;
  {
    std::unique_ptr<std::FILE, FileCloser> f(std::fopen(tmp.c_str(), "wb"));
    MDLAB_CHECK(f != nullptr, "write {}: cannot create {}: {}", file.string(), tmp.string(),
                std::strerror(errno));
    // The system's reason (ENOSPC: "No space left on device") is what the user needs.
    errno = 0;
    error = write_png_rows(f.get(), image);
    if (error.empty() && (std::fflush(f.get()) != 0 || std::ferror(f.get())))
      error = "write failed";
    if (error.empty() && std::fclose(f.release()) != 0) error = "close failed";
    if (!error.empty() && errno != 0) error += fmt::format(": {}", std::strerror(errno));
  }
  if (error.empty()) {
    std::error_code ec;
    std::filesystem::rename(tmp, file, ec);
    if (ec) error = ec.message();
  }
  if (!error.empty()) {
    std::error_code ignored;
    std::filesystem::remove(tmp, ignored);
    MDLAB_THROW("write {}: {}", file.string(), error);
  }
}

std::vector<uint8_t> encode_jpeg(const ImageU8& image, int quality) {
  MDLAB_CHECK(!image.empty() && (image.channels == 1 || image.channels == 3),
              "JPEG encode: cannot encode a {}x{} image with {} channel(s)", image.height,
              image.width, image.channels);
  MDLAB_CHECK(quality >= 1 && quality <= 100, "JPEG encode: quality {} is outside 1..100", quality);
  jpeg_compress_struct cinfo{};
  JpegError err{};
  cinfo.err = jpeg_std_error(&err.mgr);
  err.mgr.error_exit = jpeg_error_exit;
  unsigned char* buffer = nullptr;
  unsigned long size = 0;
  if (setjmp(err.jump)) {
    jpeg_destroy_compress(&cinfo);
    std::free(buffer);
    MDLAB_THROW("JPEG encode: {}", err.message);
  }
  jpeg_create_compress(&cinfo);
  jpeg_mem_dest(&cinfo, &buffer, &size);
  cinfo.image_width = static_cast<JDIMENSION>(image.width);
  cinfo.image_height = static_cast<JDIMENSION>(image.height);
  cinfo.input_components = image.channels;
  cinfo.in_color_space = image.channels == 3 ? JCS_RGB : JCS_GRAYSCALE;
  jpeg_set_defaults(&cinfo);
  jpeg_set_quality(&cinfo, quality, TRUE);
  jpeg_start_compress(&cinfo, TRUE);
  while (cinfo.next_scanline < cinfo.image_height) {
    JSAMPROW row = const_cast<JSAMPROW>(image.row(static_cast<int>(cinfo.next_scanline)));
    jpeg_write_scanlines(&cinfo, &row, 1);
  }
  jpeg_finish_compress(&cinfo);
  jpeg_destroy_compress(&cinfo);
  std::vector<uint8_t> out(buffer, buffer + size);
  std::free(buffer);
  return out;
}

}  // namespace mdlab
