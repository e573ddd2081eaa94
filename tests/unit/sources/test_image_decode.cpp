// The image decoder: JPEG (color, gray, progressive, CMYK, DCT scaling) and PNG (every color
// type the datasets use) against what the tests encoded, and every kind of bad file turning
// into a DataError that names the file.
#include "fixtures.h"
#include "image_decode.h"
#include "image_writers.h"

#include <catch2/catch.hpp>

#include <filesystem>
#include <png.h>
#include <random>
#include <thread>
#include <unistd.h>
#include <zlib.h>

namespace fs = std::filesystem;

namespace {

using mdlab::DataError;
using mdlab::decode_image_file;
using mdlab::DecodeHint;
using mdlab::ImageU8;
using namespace mdlab::test;

ImageU8 decode(const fs::path& file, DecodeHint hint = {}) {
  ImageU8 out;
  decode_image_file(file, out, hint);
  return out;
}

// 8-bit samples of a w x h image with `channels` channels: every value distinct-ish.
std::vector<uint8_t> ramp(int w, int h, int channels, int seed = 0) {
  std::vector<uint8_t> v(static_cast<size_t>(w) * h * channels);
  for (size_t i = 0; i < v.size(); ++i) v[i] = static_cast<uint8_t>((i * 37 + seed * 11) % 256);
  return v;
}

ImageU8 image_of(int w, int h, int c, std::vector<uint8_t> data) {
  ImageU8 img;
  img.resize(h, w, c);
  img.data = std::move(data);
  return img;
}

}  // namespace

TEST_CASE("image decode: JPEG color, gray, progressive, scaled, CMYK") {
  SECTION("JPEG color and gray decode close to what was encoded") {
    const fs::path dir = temp_dir("decode-jpeg");
    const ImageU8 rgb = pattern_image(64, 48, 3);
    const ImageU8 gray = pattern_image(64, 48, 1);
    write_jpeg(dir / "rgb.jpg", rgb);
    write_jpeg(dir / "gray.jpg", gray);
    write_jpeg(dir / "progressive.jpg", rgb, 95, true);

    const ImageU8 a = decode(dir / "rgb.jpg");
    CHECK(a.height == 48);
    CHECK(a.width == 64);
    CHECK(a.channels == 3);
    CHECK(mean_abs_diff(a, rgb) < 3.0);

    const ImageU8 g = decode(dir / "gray.jpg");
    CHECK(g.channels == 1);
    CHECK(mean_abs_diff(g, gray) < 3.0);

    CHECK(mean_abs_diff(decode(dir / "progressive.jpg"), rgb) < 3.0);
  }

  SECTION("trailing bytes are tolerated, a missing EOI marker is not") {
    // libjpeg reads ahead of the last MCU, so a file cut by just its 2-byte EOI marker
    // already reaches the end of the data: it counts as truncated.
    const fs::path dir = temp_dir("decode-eoi");
    const ImageU8 rgb = pattern_image(40, 24, 3);
    write_jpeg(dir / "full.jpg", rgb);
    std::vector<uint8_t> bytes = read_bytes(dir / "full.jpg");
    REQUIRE(bytes[bytes.size() - 2] == 0xff);
    REQUIRE(bytes[bytes.size() - 1] == 0xd9);
    write_bytes(dir / "no_eoi.jpg", {bytes.begin(), bytes.end() - 2});
    bytes.insert(bytes.end(), {'j', 'u', 'n', 'k'});
    write_bytes(dir / "trailing.jpg", bytes);
    CHECK(mean_abs_diff(decode(dir / "trailing.jpg"), rgb) < 3.0);
    ImageU8 out;
    CHECK_THROWS_AS(decode_image_file(dir / "no_eoi.jpg", out), DataError);
  }

  SECTION("JPEG DCT scaling keeps both sides at or above the hint") {
    const fs::path dir = temp_dir("decode-scale");
    const ImageU8 big = pattern_image(400, 300, 3);
    write_jpeg(dir / "big.jpg", big);
    write_jpeg(dir / "odd.jpg", pattern_image(401, 301, 3));
    auto size_of = [](const ImageU8& img) { return std::make_pair(img.width, img.height); };

    CHECK(size_of(decode(dir / "big.jpg")) == std::make_pair(400, 300));             // no hint
    CHECK(size_of(decode(dir / "big.jpg", {100, 70})) == std::make_pair(100, 75));   // 1/4
    CHECK(size_of(decode(dir / "big.jpg", {100, 76})) == std::make_pair(200, 150));  // 1/2
    CHECK(size_of(decode(dir / "big.jpg", {50, 38})) == std::make_pair(50, 38));     // 1/8, ceil
    CHECK(size_of(decode(dir / "big.jpg", {401, 10})) == std::make_pair(400, 300));  // too big
    CHECK(size_of(decode(dir / "big.jpg", {0, 10})) == std::make_pair(400, 300));    // 0 = full
    CHECK(size_of(decode(dir / "odd.jpg", {100, 70})) == std::make_pair(101, 76));   // ceil(/4)

    // The scaled image is the picture, smaller: compare with a 4x4 box average.
    const ImageU8 quarter = decode(dir / "big.jpg", {100, 70});
    ImageU8 box;
    box.resize(75, 100, 3);
    for (int y = 0; y < 75; ++y)
      for (int x = 0; x < 100; ++x)
        for (int c = 0; c < 3; ++c) {
          int sum = 0;
          for (int dy = 0; dy < 4; ++dy)
            for (int dx = 0; dx < 4; ++dx) sum += big.row(4 * y + dy)[(4 * x + dx) * 3 + c];
          box.row(y)[x * 3 + c] = static_cast<uint8_t>((sum + 8) / 16);
        }
    CHECK(mean_abs_diff(quarter, box) < 3.0);
  }

  SECTION("CMYK JPEG with an Adobe marker is converted like PIL's convert(\"RGB\")") {
    const fs::path dir = temp_dir("decode-cmyk");
    const int w = 32, h = 24;
    std::vector<uint8_t> cmyk(static_cast<size_t>(w) * h * 4);
    ImageU8 expected;
    expected.resize(h, w, 3);
    for (int y = 0; y < h; ++y)
      for (int x = 0; x < w; ++x) {
        // Stored inverted (Photoshop): ink = 255 - stored. Smooth, so JPEG keeps it.
        const int ink[4] = {x * 4, y * 5, 60, (x + y) * 2};
        for (int c = 0; c < 4; ++c) cmyk[(y * w + x) * 4 + c] = static_cast<uint8_t>(255 - ink[c]);
        for (int c = 0; c < 3; ++c) {
          const double v = (255.0 - ink[c]) * (255.0 - ink[3]) / 255.0;
          expected.row(y)[x * 3 + c] = static_cast<uint8_t>(std::lround(v));
        }
      }
    write_cmyk_jpeg(dir / "cmyk.jpg", w, h, cmyk);
    const ImageU8 got = decode(dir / "cmyk.jpg");
    CHECK(got.channels == 3);
    CHECK(mean_abs_diff(got, expected) < 3.0);
  }
}

TEST_CASE("image decode: PNG color types, magic bytes, memory, threads") {
  SECTION("PNG color types decode exactly, alpha dropped") {
    const fs::path dir = temp_dir("decode-png");
    const int w = 13, h = 7;  // odd sizes: no accidental alignment

    PngSpec rgb = png_spec(w, h, PNG_COLOR_TYPE_RGB, 8, ramp(w, h, 3));
    write_png(dir / "rgb.png", rgb);
    CHECK(mean_abs_diff(decode(dir / "rgb.png"), image_of(w, h, 3, rgb.samples)) == 0);

    PngSpec interlaced = rgb;
    interlaced.interlaced = true;
    write_png(dir / "interlaced.png", interlaced);
    CHECK(mean_abs_diff(decode(dir / "interlaced.png"), image_of(w, h, 3, rgb.samples)) == 0);

    PngSpec gray = png_spec(w, h, PNG_COLOR_TYPE_GRAY, 8, ramp(w, h, 1));
    write_png(dir / "gray.png", gray);
    const ImageU8 g = decode(dir / "gray.png");
    CHECK(g.channels == 1);
    CHECK(mean_abs_diff(g, image_of(w, h, 1, gray.samples)) == 0);

    // Gray + alpha: the gray samples, alpha gone (not composited).
    PngSpec gray_alpha = png_spec(w, h, PNG_COLOR_TYPE_GRAY_ALPHA, 8, ramp(w, h, 2, 3));
    write_png(dir / "gray_alpha.png", gray_alpha);
    std::vector<uint8_t> gray_part;
    for (size_t i = 0; i < gray_alpha.samples.size(); i += 2)
      gray_part.push_back(gray_alpha.samples[i]);
    CHECK(mean_abs_diff(decode(dir / "gray_alpha.png"), image_of(w, h, 1, gray_part)) == 0);

    // RGBA: the RGB samples.
    PngSpec rgba = png_spec(w, h, PNG_COLOR_TYPE_RGB_ALPHA, 8, ramp(w, h, 4, 5));
    write_png(dir / "rgba.png", rgba);
    std::vector<uint8_t> rgb_part;
    for (size_t i = 0; i < rgba.samples.size(); i += 4)
      rgb_part.insert(rgb_part.end(), rgba.samples.begin() + i, rgba.samples.begin() + i + 3);
    CHECK(mean_abs_diff(decode(dir / "rgba.png"), image_of(w, h, 3, rgb_part)) == 0);

    // Palette with tRNS: the palette colors.
    PngSpec pal = png_spec(w, h, PNG_COLOR_TYPE_PALETTE, 8, {});
    for (int i = 0; i < 16; ++i) {
      pal.palette.insert(pal.palette.end(),
                         {uint8_t(i * 16), uint8_t(255 - i * 9), uint8_t(i * 7)});
      pal.trns.push_back(static_cast<uint8_t>(i * 17));
    }
    std::vector<uint8_t> pal_rgb;
    for (int i = 0; i < w * h; ++i) {
      const uint8_t idx = static_cast<uint8_t>((i * 5) % 16);
      pal.samples.push_back(idx);
      pal_rgb.insert(pal_rgb.end(), pal.palette.begin() + idx * 3,
                     pal.palette.begin() + idx * 3 + 3);
    }
    write_png(dir / "palette.png", pal);
    CHECK(mean_abs_diff(decode(dir / "palette.png"), image_of(w, h, 3, pal_rgb)) == 0);

    // 16-bit RGB: the high byte of each big-endian sample.
    PngSpec deep = png_spec(w, h, PNG_COLOR_TYPE_RGB, 16, ramp(w, h, 6, 7));
    write_png(dir / "deep.png", deep);
    std::vector<uint8_t> high;
    for (size_t i = 0; i < deep.samples.size(); i += 2) high.push_back(deep.samples[i]);
    CHECK(mean_abs_diff(decode(dir / "deep.png"), image_of(w, h, 3, high)) == 0);

    // 1-bit gray: 0 and 1 become 0 and 255.
    PngSpec bits = png_spec(16, 2, PNG_COLOR_TYPE_GRAY, 1, {0xA5, 0x0F, 0xFF, 0x00});
    write_png(dir / "bits.png", bits);
    const ImageU8 b = decode(dir / "bits.png");
    REQUIRE(b.channels == 1);
    CHECK(b.row(0)[0] == 255);
    CHECK(b.row(0)[1] == 0);
    CHECK(b.row(0)[15] == 255);
    CHECK(b.row(1)[0] == 255);
    CHECK(b.row(1)[8] == 0);
  }

  SECTION("the format comes from the magic bytes, and memory decoding matches files") {
    const fs::path dir = temp_dir("decode-magic");
    PngSpec rgb = png_spec(5, 4, PNG_COLOR_TYPE_RGB, 8, ramp(5, 4, 3));
    write_png(dir / "really_png.JPEG", rgb);
    CHECK(mean_abs_diff(decode(dir / "really_png.JPEG"), image_of(5, 4, 3, rgb.samples)) == 0);

    write_jpeg(dir / "a.jpg", pattern_image(20, 10, 3));
    const std::vector<uint8_t> bytes = read_bytes(dir / "a.jpg");
    ImageU8 from_memory;
    mdlab::decode_image_memory(bytes.data(), bytes.size(), "in-memory.jpg", from_memory);
    CHECK(mean_abs_diff(from_memory, decode(dir / "a.jpg")) == 0);
  }

  SECTION("decoding from many threads at once gives the single-thread result") {
    const fs::path dir = temp_dir("decode-threads");
    write_jpeg(dir / "a.jpg", pattern_image(120, 80, 3));
    write_png(dir / "b.png", png_spec(30, 20, PNG_COLOR_TYPE_RGB, 8, ramp(30, 20, 3)));
    write_text(dir / "bad.jpg", "nope");
    const ImageU8 a = decode(dir / "a.jpg");
    const ImageU8 b = decode(dir / "b.png");
    std::vector<int> mismatches(4, 0);
    std::vector<std::thread> threads;
    for (int t = 0; t < 4; ++t) {
      threads.emplace_back([&, t] {
        ImageU8 out;
        for (int i = 0; i < 25; ++i) {
          decode_image_file(dir / "a.jpg", out);
          mismatches[t] += out.data != a.data;
          decode_image_file(dir / "b.png", out);
          mismatches[t] += out.data != b.data;
          try {
            decode_image_file(dir / "bad.jpg", out);
            ++mismatches[t];
          } catch (const DataError&) {
          }
        }
      });
    }
    for (auto& th : threads) th.join();
    CHECK(mismatches == std::vector<int>(4, 0));
  }
}

TEST_CASE("bad image files throw a DataError naming the file") {
  const fs::path dir = temp_dir("decode-bad");
  write_jpeg(dir / "good.jpg", pattern_image(64, 64, 3));
  const std::vector<uint8_t> jpeg = read_bytes(dir / "good.jpg");
  PngSpec rgb = png_spec(32, 32, PNG_COLOR_TYPE_RGB, 8, ramp(32, 32, 3));
  write_png(dir / "good.png", rgb);
  const std::vector<uint8_t> png = read_bytes(dir / "good.png");
  ImageU8 out;

  SECTION("truncated JPEG") {
    const fs::path f = dir / "truncated.jpg";
    write_bytes(f, {jpeg.begin(), jpeg.begin() + jpeg.size() / 2});
    CHECK_THAT(data_error([&] { decode_image_file(f, out); }, f),
               Catch::Contains("Premature end of JPEG file"));
  }
  SECTION("truncated JPEG, scaled decode") {
    const fs::path f = dir / "truncated_scaled.jpg";
    write_bytes(f, {jpeg.begin(), jpeg.begin() + jpeg.size() * 3 / 4});
    data_error([&] { decode_image_file(f, out, {8, 8}); }, f);
  }
  SECTION("corrupt JPEG: the magic, then noise") {
    const fs::path f = dir / "noise.jpg";
    std::vector<uint8_t> bytes = {0xff, 0xd8, 0xff, 0xe0};
    std::mt19937 rng(7);
    for (int i = 0; i < 500; ++i) bytes.push_back(static_cast<uint8_t>(rng()));
    write_bytes(f, bytes);
    data_error([&] { decode_image_file(f, out); }, f);
  }
  SECTION("random bytes named .jpg") {
    const fs::path f = dir / "random.jpg";
    std::vector<uint8_t> bytes = {0x12};
    std::mt19937 rng(3);
    for (int i = 0; i < 300; ++i) bytes.push_back(static_cast<uint8_t>(rng()));
    write_bytes(f, bytes);
    CHECK_THAT(data_error([&] { decode_image_file(f, out); }, f), Catch::Contains("not an image"));
  }
  SECTION("truncated PNG") {
    const fs::path f = dir / "truncated.png";
    write_bytes(f, {png.begin(), png.begin() + png.size() / 2});
    CHECK_THAT(data_error([&] { decode_image_file(f, out); }, f), Catch::Contains("PNG"));
  }
  SECTION("PNG with a damaged IDAT checksum") {
    const fs::path f = dir / "crc.png";
    std::vector<uint8_t> bad = png;
    bad[bad.size() - 20] ^= 0x55;  // inside the IDAT data or its CRC, before IEND
    write_bytes(f, bad);
    data_error([&] { decode_image_file(f, out); }, f);
  }
  SECTION("headers claiming more pixels than the file holds are refused before allocating") {
    // The JPEG's SOF0 frame says 60000 x 60000 (3.4 GB of coefficients for 1 kB of data).
    std::vector<uint8_t> big = jpeg;
    size_t sof = 0;
    while (sof + 8 < big.size() && !(big[sof] == 0xff && big[sof + 1] == 0xc0)) ++sof;
    REQUIRE(sof + 8 < big.size());
    for (size_t at : {sof + 5, sof + 7}) {  // height, then width, big-endian
      big[at] = 0xea;
      big[at + 1] = 0x60;
    }
    const fs::path f = dir / "huge_header.jpg";
    write_bytes(f, big);
    CHECK_THAT(data_error(
                   [&] {
                     decode_image_file(f, out, {16, 16});
                   },
                   f),
               Catch::Contains("60000x60000") && Catch::Contains("corrupt header"));
    // The PNG's IHDR says 20000 x 20000 (1.2 GB of rows from 100 bytes), its CRC made valid.
    std::vector<uint8_t> wide = png;
    for (size_t at : {16, 20}) {
      wide[at] = 0;
      wide[at + 1] = 0;
      wide[at + 2] = 0x4e;
      wide[at + 3] = 0x20;
    }
    const uint32_t crc = static_cast<uint32_t>(crc32(0, wide.data() + 12, 17));
    for (int i = 0; i < 4; ++i) wide[29 + i] = static_cast<uint8_t>(crc >> (24 - 8 * i));
    const fs::path g = dir / "huge_header.png";
    write_bytes(g, wide);
    CHECK_THAT(data_error([&] { decode_image_file(g, out); }, g),
               Catch::Contains("20000x20000") && Catch::Contains("corrupt header"));
  }
  SECTION("empty file") {
    const fs::path f = dir / "empty.png";
    write_bytes(f, {});
    CHECK_THAT(data_error([&] { decode_image_file(f, out); }, f), Catch::Contains("empty"));
  }
  SECTION("a .png that is text") {
    const fs::path f = dir / "text.png";
    write_text(f, "<html><body>404 not found</body></html>\n");
    CHECK_THAT(data_error([&] { decode_image_file(f, out); }, f), Catch::Contains("not an image"));
  }
  SECTION("a GIF is named as such") {
    const fs::path f = dir / "anim.jpg";
    write_text(f, "GIF89a\x01\x00\x01\x00");
    CHECK_THAT(data_error([&] { decode_image_file(f, out); }, f), Catch::Contains("GIF"));
  }
  SECTION("missing file and folder") {
    const fs::path f = dir / "missing.jpg";
    CHECK_THAT(data_error([&] { decode_image_file(f, out); }, f), Catch::Contains("No such file"));
    data_error([&] { decode_image_file(dir, out); }, dir);
  }
  SECTION("unreadable file") {
    const fs::path f = dir / "locked.jpg";
    write_bytes(f, jpeg);
    fs::permissions(f, fs::perms::none);
    if (::geteuid() == 0) {
      WARN("running as root, which can read a mode-000 file: unreadable-file check skipped");
    } else {
      CHECK_THAT(data_error([&] { decode_image_file(f, out); }, f),
                 Catch::Contains("ermission denied"));
    }
    fs::permissions(f, fs::perms::owner_all);
  }
}
