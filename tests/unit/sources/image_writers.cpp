#include "image_writers.h"

#include <cmath>
#include <csetjmp>
#include <cstdio>
#include <fstream>
#include <iterator>
#include <jpeglib.h>
#include <png.h>
#include <stdexcept>

namespace mdlab::test {
namespace {

// A test writer that fails throws; the encoders' default handlers would exit().
struct FileCloser {
  std::FILE* f;
  ~FileCloser() {
    if (f) std::fclose(f);
  }
};

std::FILE* open_for_writing(const std::filesystem::path& file) {
  std::FILE* f = std::fopen(file.c_str(), "wb");
  if (!f) throw std::runtime_error("cannot write " + file.string());
  return f;
}

void compress(const std::filesystem::path& file, int width, int height, int components,
              J_COLOR_SPACE space, const uint8_t* pixels, int quality, bool progressive) {
  FileCloser out{open_for_writing(file)};
  jpeg_compress_struct cinfo;
  jpeg_error_mgr err;
  cinfo.err = jpeg_std_error(&err);
  jpeg_create_compress(&cinfo);
  jpeg_stdio_dest(&cinfo, out.f);
  cinfo.image_width = static_cast<JDIMENSION>(width);
  cinfo.image_height = static_cast<JDIMENSION>(height);
  cinfo.input_components = components;
  cinfo.in_color_space = space;
  jpeg_set_defaults(&cinfo);
  jpeg_set_quality(&cinfo, quality, TRUE);
  if (progressive) jpeg_simple_progression(&cinfo);
  jpeg_start_compress(&cinfo, TRUE);
  const size_t stride = static_cast<size_t>(width) * components;
  while (cinfo.next_scanline < cinfo.image_height) {
    JSAMPROW row = const_cast<uint8_t*>(pixels + cinfo.next_scanline * stride);
    jpeg_write_scanlines(&cinfo, &row, 1);
  }
  jpeg_finish_compress(&cinfo);
  jpeg_destroy_compress(&cinfo);
}

}  // namespace

ImageU8 pattern_image(int width, int height, int channels) {
  ImageU8 img;
  img.resize(height, width, channels);
  for (int y = 0; y < height; ++y) {
    for (int x = 0; x < width; ++x) {
      for (int c = 0; c < channels; ++c) {
        const double v = 128 + 90 * std::sin(0.05 * x + 0.9 * c) * std::cos(0.07 * y - 0.4 * c);
        img.row(y)[x * channels + c] = static_cast<uint8_t>(std::lround(v));
      }
    }
  }
  return img;
}

void write_jpeg(const std::filesystem::path& file, const ImageU8& image, int quality,
                bool progressive) {
  compress(file, image.width, image.height, image.channels,
           image.channels == 1 ? JCS_GRAYSCALE : JCS_RGB, image.data.data(), quality, progressive);
}

void write_cmyk_jpeg(const std::filesystem::path& file, int width, int height,
                     const std::vector<uint8_t>& cmyk, int quality) {
  compress(file, width, height, 4, JCS_CMYK, cmyk.data(), quality, false);
}

PngSpec png_spec(int width, int height, int color_type, int bit_depth,
                 std::vector<uint8_t> samples) {
  PngSpec spec;
  spec.width = width;
  spec.height = height;
  spec.color_type = color_type;
  spec.bit_depth = bit_depth;
  spec.samples = std::move(samples);
  return spec;
}

void write_png(const std::filesystem::path& file, const PngSpec& spec) {
  FileCloser out{open_for_writing(file)};
  png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, nullptr, nullptr, nullptr);
  png_infop info = png_create_info_struct(png);
  if (setjmp(png_jmpbuf(png))) {
    png_destroy_write_struct(&png, &info);
    throw std::runtime_error("libpng failed to write " + file.string());
  }
  png_init_io(png, out.f);
  png_set_IHDR(png, info, static_cast<png_uint_32>(spec.width),
               static_cast<png_uint_32>(spec.height), spec.bit_depth, spec.color_type,
               spec.interlaced ? PNG_INTERLACE_ADAM7 : PNG_INTERLACE_NONE,
               PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
  std::vector<png_color> palette;
  for (size_t i = 0; i + 2 < spec.palette.size(); i += 3)
    palette.push_back({spec.palette[i], spec.palette[i + 1], spec.palette[i + 2]});
  if (!palette.empty()) png_set_PLTE(png, info, palette.data(), static_cast<int>(palette.size()));
  if (!spec.trns.empty()) {
    png_set_tRNS(png, info, spec.trns.data(), static_cast<int>(spec.trns.size()), nullptr);
  }
  png_write_info(png, info);
  const size_t stride = spec.samples.size() / static_cast<size_t>(spec.height);
  std::vector<png_bytep> rows;
  for (int y = 0; y < spec.height; ++y)
    rows.push_back(const_cast<uint8_t*>(spec.samples.data() + y * stride));
  png_write_image(png, rows.data());
  png_write_end(png, nullptr);
  png_destroy_write_struct(&png, &info);
}

void write_bytes(const std::filesystem::path& file, const std::vector<uint8_t>& bytes) {
  std::ofstream out(file, std::ios::binary);
  out.write(reinterpret_cast<const char*>(bytes.data()),
            static_cast<std::streamsize>(bytes.size()));
  if (!out) throw std::runtime_error("cannot write " + file.string());
}

void write_text(const std::filesystem::path& file, const std::string& text) {
  std::ofstream out(file);
  out << text;
  if (!out) throw std::runtime_error("cannot write " + file.string());
}

std::vector<uint8_t> read_bytes(const std::filesystem::path& file) {
  std::ifstream in(file, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

double mean_abs_diff(const ImageU8& a, const ImageU8& b) {
  if (a.height != b.height || a.width != b.width || a.channels != b.channels) return 255;
  if (a.data.empty()) return 0;
  double sum = 0;
  for (size_t i = 0; i < a.data.size(); ++i) sum += std::abs(int(a.data[i]) - int(b.data[i]));
  return sum / static_cast<double>(a.data.size());
}

void write_idx(const std::filesystem::path& file, const std::vector<int>& dims,
               const std::vector<uint8_t>& data, uint8_t type) {
  std::vector<uint8_t> bytes = {0, 0, type, static_cast<uint8_t>(dims.size())};
  for (int d : dims) {
    for (int shift : {24, 16, 8, 0}) bytes.push_back(static_cast<uint8_t>(d >> shift));
  }
  bytes.insert(bytes.end(), data.begin(), data.end());
  write_bytes(file, bytes);
}

}  // namespace mdlab::test
