// The "idx" and "cifar" sources: Debian's Fashion-MNIST against the raw IDX arrays, tiny IDX and
// CIFAR-10/100 files the test writes (keys, labels, CHW -> HWC, class names), and the errors
// of malformed files.
#include "data_source.h"
#include "fixtures.h"
#include "idx_file.h"
#include "image_writers.h"

#include <mdlab/error.h>

#include <catch2/catch.hpp>
#include <torch/torch.h>

#include <cstdio>
#include <filesystem>
#include <zlib.h>

namespace fs = std::filesystem;

namespace {

using mdlab::DataError;
using mdlab::DataSource;
using mdlab::ImageU8;
using mdlab::SourceRequest;
using namespace mdlab::test;
using Strings = std::vector<std::string>;

std::unique_ptr<DataSource> open(const std::string& format, const fs::path& root,
                                 const std::string& split, SourceRequest extra = {}) {
  extra.format = format;
  extra.root = root;
  extra.split = split;
  return mdlab::open_source(extra);
}

// The message of the mdlab::Error `f` throws (DataError included).
template <class F>
std::string error_of(F&& f) {
  try {
    f();
  } catch (const mdlab::Error& e) {
    return e.what();
  }
  FAIL("expected an mdlab::Error");
  return {};
}

// Three 2x3 images whose pixel j of image i is 10 * i + j; labels as given.
void write_tiny_idx(const fs::path& dir, const std::string& prefix,
                    const std::vector<uint8_t>& labels) {
  fs::create_directories(dir);
  std::vector<uint8_t> pixels;
  for (size_t i = 0; i < labels.size(); ++i)
    for (int j = 0; j < 6; ++j) pixels.push_back(static_cast<uint8_t>(10 * i + j));
  write_idx(dir / (prefix + "-images-idx3-ubyte"), {static_cast<int>(labels.size()), 2, 3}, pixels);
  write_idx(dir / (prefix + "-labels-idx1-ubyte"), {static_cast<int>(labels.size())}, labels);
}

// `n` CIFAR records: label bytes `head(i)`, then planes where R = i, G = pixel % 251,
// B = 255 - i.
std::vector<uint8_t> cifar_records(int n, int first, std::vector<uint8_t> (*head)(int)) {
  std::vector<uint8_t> out;
  for (int i = first; i < first + n; ++i) {
    auto h = head(i);
    out.insert(out.end(), h.begin(), h.end());
    for (int p = 0; p < 1024; ++p) out.push_back(static_cast<uint8_t>(i));
    for (int p = 0; p < 1024; ++p) out.push_back(static_cast<uint8_t>(p % 251));
    for (int p = 0; p < 1024; ++p) out.push_back(static_cast<uint8_t>(255 - i));
  }
  return out;
}

std::vector<uint8_t> head10(int i) {
  return {static_cast<uint8_t>(i % 10)};
}
std::vector<uint8_t> head100(int i) {
  return {static_cast<uint8_t>(i % 20), static_cast<uint8_t>((i * 7) % 100)};
}

// CIFAR-10 binary files in `dir`: 2 records per training batch, 3 in the test batch.
void write_cifar10(const fs::path& dir) {
  fs::create_directories(dir);
  for (int b = 1; b <= 5; ++b)
    write_bytes(dir / ("data_batch_" + std::to_string(b) + ".bin"),
                cifar_records(2, 2 * (b - 1), head10));
  write_bytes(dir / "test_batch.bin", cifar_records(3, 0, head10));
}

void check_planes_to_hwc(const ImageU8& img, int record) {
  REQUIRE(img.height == 32);
  REQUIRE(img.width == 32);
  REQUIRE(img.channels == 3);
  for (int p : {0, 1, 33, 500, 1023}) {
    const uint8_t* px = img.row(p / 32) + (p % 32) * 3;
    CHECK(px[0] == record);
    CHECK(px[1] == p % 251);
    CHECK(px[2] == 255 - record);
  }
}

}  // namespace

TEST_CASE("idx source over Debian's Fashion-MNIST matches the raw IDX arrays") {
  const fs::path root = "/usr/share/datasets/fashion-mnist";
  if (!fs::exists(root / "t10k-images-idx3-ubyte.gz")) {
    std::printf("SKIPPED: %s not installed (Debian package dataset-fashion-mnist)\n", root.c_str());
    return;
  }
  auto train = open("idx", root, "train");
  CHECK(train->size() == 60000);
  auto test = open("idx", root, "test");
  CHECK(test->size() == 10000);
  CHECK(test->classes().size() == 10);
  CHECK(test->classes()[0] == "T-shirt/top");
  CHECK(test->classes()[9] == "Ankle boot");
  CHECK(test->key(17) == "test/17");

  const mdlab::IdxSplit raw = mdlab::read_idx_split(root, "test");
  CHECK(test->label(0) == raw.labels.data[0].item<int64_t>());
  CHECK(test->label(9999) == raw.labels.data[9999].item<int64_t>());
  ImageU8 img;
  test->load(0, img);
  REQUIRE(img.channels == 1);
  REQUIRE(img.height == 28);
  REQUIRE(img.width == 28);
  auto expected = raw.images.data[0].contiguous();
  CHECK(std::equal(img.data.begin(), img.data.end(), expected.data_ptr<uint8_t>()));
}

TEST_CASE("idx source: tiny files, class names, errors") {
  SECTION("keys, labels, pixels, class names, train_classes") {
    const fs::path dir = temp_dir("idx") / "digits";
    write_tiny_idx(dir, "train", {3, 1, 3});
    write_tiny_idx(dir, "t10k", {0, 2});
    auto s = open("idx", dir, "train");
    REQUIRE(s->size() == 3);
    CHECK(s->key(2) == "train/2");
    CHECK(s->label(0) == 3);
    CHECK(s->label(1) == 1);
    CHECK(s->classes() == Strings{"0", "1", "2", "3", "4", "5", "6", "7", "8", "9"});
    ImageU8 img;
    s->load(1, img);
    CHECK(img.height == 2);
    CHECK(img.width == 3);
    CHECK(img.channels == 1);
    CHECK(img.data == std::vector<uint8_t>{10, 11, 12, 13, 14, 15});
    CHECK(open("idx", dir, "test")->size() == 2);
    CHECK_THAT(s->describe(), Catch::Contains("3 images"));

    SourceRequest req;
    req.train_classes = {"3", "7"};
    auto r = open("idx", dir, "train", req);
    REQUIRE(r->size() == 2);
    CHECK(r->key(1) == "train/2");  // keys keep the index in the file
    CHECK(r->label(1) == 0);
    r->load(1, img);
    CHECK(img.data[0] == 20);

    const fs::path fashion = temp_dir("idx") / "Fashion-tiny";
    write_tiny_idx(fashion, "train", {9});
    CHECK(open("idx", fashion, "train")->classes()[9] == "Ankle boot");
  }

  SECTION("malformed files are errors naming the file") {
    const fs::path dir = temp_dir("idx-bad");
    write_tiny_idx(dir, "train", {1, 2, 3});

    SECTION("wrong magic") {
      write_bytes(dir / "train-labels-idx1-ubyte", {0x1f, 0x00, 0x08, 0x01, 0, 0, 0, 3, 1, 2, 3});
      CHECK_THAT(
          error_of([&] { open("idx", dir, "train"); }),
          Catch::Contains((dir / "train-labels-idx1-ubyte").string()) && Catch::Contains("magic"));
    }
    SECTION("images and labels disagree") {
      write_idx(dir / "train-labels-idx1-ubyte", {2}, {1, 2});
      const std::string msg = error_of([&] { open("idx", dir, "train"); });
      CHECK_THAT(msg, Catch::Contains((dir / "train-labels-idx1-ubyte").string()));
      CHECK_THAT(msg, Catch::Contains((dir / "train-images-idx3-ubyte").string()));
    }
    SECTION("sizes the header claims are checked before anything is allocated") {
      // Raw: the file's size must be the header's; 4 x 2^31 - 1 overflowed int64 before.
      const fs::path raw = dir / "raw-idx";
      write_bytes(raw, {0, 0, 0x08, 3, 0x7f, 0xff, 0xff, 0xff, 0x7f, 0xff, 0xff, 0xff, 0, 0, 0, 9,
                        1, 2, 3});
      CHECK_THAT(error_of([&] { mdlab::read_idx(raw); }), Catch::Contains(raw.string()) &&
                                                              Catch::Contains("more than") &&
                                                              Catch::Contains("elements"));
      write_bytes(raw, {0, 0, 0x08, 2, 0, 0x10, 0, 0, 0, 0, 0x10, 0, 1, 2, 3});
      CHECK_THAT(error_of([&] { mdlab::read_idx(raw); }),
                 Catch::Contains(raw.string()) && Catch::Contains("1048576 x 4096") &&
                     Catch::Contains("the file holds 15 bytes"));
      write_bytes(raw, {0, 0, 0x08, 1, 0, 0, 0, 4, 1, 2, 3});
      CHECK_THAT(error_of([&] { mdlab::read_idx(raw); }),
                 Catch::Contains("the file holds 11 bytes"));
      // gzip: the size is known only by reading, so a 4 GiB claim fails as truncated.
      const fs::path gz = dir / "claims.gz";
      {
        gzFile out = gzopen(gz.c_str(), "wb");
        REQUIRE(out != nullptr);
        const unsigned char header[] = {0, 0, 0x08, 2, 0, 1, 0, 0, 0, 0, 0x40, 0, 7, 7, 7};
        gzwrite(out, header, sizeof header);
        gzclose(out);
      }
      CHECK_THAT(error_of([&] { mdlab::read_idx(gz); }),
                 Catch::Contains(gz.string()) && Catch::Contains("truncated") &&
                     Catch::Contains("65536 x 16384") && Catch::Contains("ends after 3"));
    }
    SECTION("missing split files") {
      CHECK_THAT(error_of([&] { open("idx", dir, "test"); }),
                 Catch::Contains("t10k-images-idx3-ubyte"));
      CHECK_THAT(error_of([&] { open("idx", dir, "val"); }), Catch::Contains("val"));
    }
  }
}

TEST_CASE("cifar source: CIFAR-10, CIFAR-100, errors") {
  SECTION("CIFAR-10 batches, names, CHW to HWC") {
    const fs::path root = temp_dir("cifar10");
    const fs::path dir = root / "cifar-10-batches-bin";  // the archive's folder
    write_cifar10(dir);
    auto train = open("cifar", root, "train");
    REQUIRE(train->size() == 10);
    CHECK(train->key(7) == "train/7");
    CHECK(train->label(7) == 7);
    CHECK(train->classes() == Strings{"0", "1", "2", "3", "4", "5", "6", "7", "8", "9"});
    ImageU8 img;
    train->load(7, img);
    check_planes_to_hwc(img, 7);
    CHECK_THAT(train->describe(), Catch::Contains("CIFAR-10"));

    write_text(dir / "batches.meta.txt",
               "airplane\nautomobile\nbird\ncat\ndeer\ndog\nfrog\nhorse\nship\ntruck\n\n");
    auto test = open("cifar", dir, "test");  // root holding the files itself
    REQUIRE(test->size() == 3);
    CHECK(test->classes()[9] == "truck");
    test->load(2, img);
    check_planes_to_hwc(img, 2);

    SourceRequest req;
    req.train_classes = {"truck", "bird"};
    auto r = open("cifar", root, "train", req);
    REQUIRE(r->size() == 2);  // records 2 and 9
    CHECK(r->key(0) == "train/2");
    CHECK(r->label(0) == 1);
    CHECK(r->label(1) == 0);
  }

  SECTION("CIFAR-100 uses the fine label") {
    const fs::path root = temp_dir("cifar100");
    const fs::path dir = root / "cifar-100-binary";
    fs::create_directories(dir);
    write_bytes(dir / "train.bin", cifar_records(4, 0, head100));
    write_bytes(dir / "test.bin", cifar_records(2, 0, head100));
    auto train = open("cifar", root, "train");
    REQUIRE(train->size() == 4);
    CHECK(train->label(3) == 21);
    CHECK(train->classes().size() == 100);
    ImageU8 img;
    train->load(3, img);
    check_planes_to_hwc(img, 3);

    std::string names;
    for (int i = 0; i < 100; ++i) names += "fine" + std::to_string(i) + "\n";
    write_text(dir / "fine_label_names.txt", names);
    CHECK(open("cifar", root, "test")->classes()[21] == "fine21");
  }

  SECTION("malformed files are errors naming the file") {
    const fs::path dir = temp_dir("cifar-bad");
    write_cifar10(dir);

    SECTION("size not a whole number of records") {
      std::vector<uint8_t> bytes = cifar_records(2, 0, head10);
      bytes.resize(bytes.size() - 5);
      write_bytes(dir / "data_batch_3.bin", bytes);
      const std::string msg = error_of([&] { open("cifar", dir, "train"); });
      CHECK_THAT(msg, Catch::Contains((dir / "data_batch_3.bin").string()));
      CHECK_THAT(msg, Catch::Contains("6141") && Catch::Contains("3073"));
    }
    SECTION("CIFAR-100 record size") {
      const fs::path c100 = temp_dir("cifar-bad-100");
      write_bytes(c100 / "train.bin", cifar_records(2, 0, head10));  // 3073-byte records
      const std::string msg = error_of([&] { open("cifar", c100, "train"); });
      CHECK_THAT(msg, Catch::Contains((c100 / "train.bin").string()) && Catch::Contains("3074"));
    }
    SECTION("a missing batch") {
      fs::remove(dir / "data_batch_4.bin");
      CHECK_THAT(error_of([&] { open("cifar", dir, "train"); }),
                 Catch::Contains((dir / "data_batch_4.bin").string()));
    }
    SECTION("a label out of range") {
      std::vector<uint8_t> bytes = cifar_records(2, 0, head10);
      bytes[3073] = 10;
      write_bytes(dir / "test_batch.bin", bytes);
      CHECK_THAT(error_of([&] { open("cifar", dir, "test"); }),
                 Catch::Contains((dir / "test_batch.bin").string()) && Catch::Contains("label 10"));
    }
    SECTION("not a CIFAR folder") {
      const fs::path empty = temp_dir("cifar-none");
      CHECK_THAT(error_of([&] { open("cifar", empty, "train"); }), Catch::Contains(empty.string()));
    }
  }
}
