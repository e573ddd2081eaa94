// The "folder" source and the registry: keys, labels and order over a tree the test writes,
// class lists (one and two columns), train_classes restriction, and the errors of broken
// trees (empty class folder, duplicate key, missing folders, unknown format).
#include "data_source.h"
#include "fixtures.h"
#include "image_writers.h"

#include <mdlab/error.h>

#include <catch2/catch.hpp>

#include <filesystem>
#include <png.h>

namespace fs = std::filesystem;

namespace {

using mdlab::DataError;
using mdlab::DataSource;
using mdlab::ImageU8;
using mdlab::SourceRequest;
using namespace mdlab::test;

// A tiny PNG whose first pixel is `tag`, so a test can tell which file load() read.
void put_png(const fs::path& file, uint8_t tag) {
  fs::create_directories(file.parent_path());
  PngSpec spec = png_spec(4, 3, PNG_COLOR_TYPE_GRAY, 8, std::vector<uint8_t>(12, 9));
  spec.samples[0] = tag;
  write_png(file, spec);
}

void put_jpeg(const fs::path& file) {
  fs::create_directories(file.parent_path());
  write_jpeg(file, pattern_image(8, 6, 3), 90);
}

std::unique_ptr<DataSource> open_folder(const fs::path& root, const std::string& split,
                                        SourceRequest extra = {}) {
  extra.format = "folder";
  extra.root = root;
  extra.split = split;
  return mdlab::open_source(extra);
}

std::vector<std::string> keys_of(const DataSource& s) {
  std::vector<std::string> keys;
  for (int64_t i = 0; i < s.size(); ++i) keys.push_back(s.key(i));
  return keys;
}

std::vector<int64_t> labels_of(const DataSource& s) {
  std::vector<int64_t> labels;
  for (int64_t i = 0; i < s.size(); ++i) labels.push_back(s.label(i));
  return labels;
}

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

using Strings = std::vector<std::string>;
using Labels = std::vector<int64_t>;

}  // namespace

TEST_CASE("folder source: keys, labels, order, recursion, loading") {
  SECTION("keys, labels, byte order, recursion, other files ignored") {
    const fs::path root = temp_dir("folder-basic");
    const fs::path val = root / "val";
    put_png(val / "dog" / "b.png", 1);
    put_png(val / "dog" / "B2.PNG", 2);  // upper case sorts first, extension in any case
    put_jpeg(val / "dog" / "a.JPEG");
    put_png(val / "cat" / "z.png", 3);
    put_png(val / "cat" / "deep" / "er" / "x.png", 4);  // recursion
    put_jpeg(val / "cat" / "m.jpg");
    write_text(val / "cat" / "notes.txt", "not an image");
    write_text(val / "cat" / ".hidden.png", "junk");
    write_text(val / "README", "a stray file at the top");

    auto s = open_folder(root, "val");
    CHECK(s->classes() == Strings{"cat", "dog"});
    CHECK(keys_of(*s) == Strings{"cat/deep/er/x", "cat/m", "cat/z", "dog/B2", "dog/a", "dog/b"});
    CHECK(labels_of(*s) == Labels{0, 0, 0, 1, 1, 1});
    CHECK_THAT(s->describe(), Catch::Contains("folder " + root.string() +
                                              " split val: 6 images, "
                                              "2 classes"));
    CHECK_THAT(s->describe(), Catch::Contains("3 other files ignored"));

    ImageU8 img;
    s->load(0, img);
    CHECK(img.channels == 1);
    CHECK(img.data[0] == 4);  // cat/deep/er/x.png
    s->load(3, img);
    CHECK(img.data[0] == 2);  // dog/B2.PNG
    s->load(4, img);
    CHECK(img.channels == 3);  // dog/a.JPEG

    // A second scan gives the same order.
    CHECK(keys_of(*open_folder(root, "val")) == keys_of(*s));
  }

  SECTION("an empty split holds the class folders in the root") {
    const fs::path root = temp_dir("folder-nosplit");
    put_png(root / "b" / "1.png", 1);
    put_png(root / "a" / "1.png", 2);
    auto s = open_folder(root, "");
    CHECK(keys_of(*s) == Strings{"a/1", "b/1"});
    CHECK(s->classes() == Strings{"a", "b"});
  }

  SECTION("a corrupt image fails at load() naming the file") {
    const fs::path root = temp_dir("folder-corrupt");
    fs::create_directories(root / "train" / "c");
    write_text(root / "train" / "x", "");
    write_text(root / "train" / "c" / "broken.jpg", "this is not a JPEG");
    auto s = open_folder(root, "train");
    REQUIRE(s->size() == 1);
    ImageU8 img;
    data_error([&] { s->load(0, img); }, root / "train" / "c" / "broken.jpg");
  }
}

TEST_CASE("folder source and registry: broken trees and requests") {
  SECTION("empty class folder is an error, or skipped and counted") {
    const fs::path root = temp_dir("folder-empty");
    put_png(root / "train" / "a" / "1.png", 1);
    fs::create_directories(root / "train" / "b" / "sub");
    write_text(root / "train" / "b" / "sub" / "labels.csv", "1,2\n");
    put_png(root / "train" / "c" / "1.png", 1);

    const std::string msg = data_error([&] { open_folder(root, "train"); }, root / "train" / "b");
    CHECK_THAT(msg, Catch::Contains("no images"));

    SourceRequest skip;
    skip.on_error = "skip";
    auto s = open_folder(root, "train", skip);
    CHECK(s->classes() == Strings{"a", "b", "c"});  // the class stays: labels keep their meaning
    CHECK(labels_of(*s) == Labels{0, 2});
    CHECK_THAT(s->describe(), Catch::Contains("1 empty or missing class folder skipped"));
  }

  SECTION("two files with one key are an error naming both") {
    const fs::path root = temp_dir("folder-dup");
    put_png(root / "train" / "a" / "img.png", 1);
    put_jpeg(root / "train" / "a" / "img.jpg");
    put_png(root / "train" / "a" / "img.k.png", 1);  // sorts between them, another key
    const std::string msg =
        data_error([&] { open_folder(root, "train"); }, root / "train" / "a" / "img.jpg");
    CHECK_THAT(msg, Catch::Contains((root / "train" / "a" / "img.png").string()));
    CHECK_THAT(msg, Catch::Contains("a/img"));
  }

  SECTION("registry: formats, unknown format, missing folders") {
    const auto& formats = mdlab::source_formats();
    REQUIRE(formats.size() == 3);
    for (const char* name : {"folder", "idx", "cifar"}) {
      REQUIRE(formats.count(name) == 1);
      CHECK(formats.at(name).name == name);
      CHECK(!formats.at(name).help.empty());
      CHECK(formats.at(name).open);
    }
    SourceRequest req;
    req.format = "webdataset";
    req.root = temp_dir("registry");
    const std::string msg = error_of([&] { mdlab::open_source(req); });
    CHECK_THAT(msg, Catch::Contains("webdataset"));
    CHECK_THAT(msg,
               Catch::Contains("folder") && Catch::Contains("idx") && Catch::Contains("cifar"));

    const fs::path missing = req.root / "nowhere";
    data_error([&] { open_folder(missing, "train"); }, missing);
    data_error([&] { open_folder(req.root, "train"); }, req.root / "train");

    req.format = "folder";
    req.on_error = "ignore";
    CHECK_THAT(error_of([&] { mdlab::open_source(req); }), Catch::Contains("skip"));
  }
}

TEST_CASE("folder source: class lists and train_classes") {
  SECTION("a two-column class list maps folders to class names") {
    // ImageNet-V2 layout: folders "0", "1", ... standing for wnids.
    const fs::path root = temp_dir("folder-classlist");
    put_png(root / "v2" / "0" / "a.png", 1);
    put_png(root / "v2" / "1" / "b.png", 2);
    put_png(root / "v2" / "1" / "c.png", 3);
    put_png(root / "v2" / "7" / "d.png", 4);  // not in the list: ignored
    write_text(root / "classes.txt", "# folder wnid\n1 n01443537\n\n0 n01440764   # tench\n");
    SourceRequest req;
    req.class_list = root / "classes.txt";
    auto s = open_folder(root, "v2", req);
    CHECK(s->classes() == Strings{"n01443537", "n01440764"});  // file order
    CHECK(keys_of(*s) == Strings{"1/b", "1/c", "0/a"});
    CHECK(labels_of(*s) == Labels{0, 0, 1});
    CHECK_THAT(s->describe(), Catch::Contains("1 folder not in the class list"));

    SECTION("one column: the folder is the class") {
      write_text(root / "one.txt", "7\n0\n");
      req.class_list = root / "one.txt";
      auto one = open_folder(root, "v2", req);
      CHECK(one->classes() == Strings{"7", "0"});
      CHECK(keys_of(*one) == Strings{"7/d", "0/a"});
      CHECK(labels_of(*one) == Labels{0, 1});
    }
    SECTION("folder<TAB>name: names with spaces") {
      write_text(root / "tab.txt", "1\tn0144 3537 two words\n0 \t  spaced name \n");
      req.class_list = root / "tab.txt";
      auto tab = open_folder(root, "v2", req);
      CHECK(tab->classes() == Strings{"n0144 3537 two words", "spaced name"});
      CHECK(labels_of(*tab) == Labels{0, 0, 1});
      write_text(root / "badtab.txt", "0 x\tname\n");
      req.class_list = root / "badtab.txt";
      CHECK_THAT(data_error([&] { open_folder(root, "v2", req); }, root / "badtab.txt"),
                 Catch::Contains("folder<TAB>name"));
    }
    SECTION("a listed folder that does not exist") {
      write_text(root / "more.txt", "0 n01440764\n5 n01484850\n");
      req.class_list = root / "more.txt";
      data_error([&] { open_folder(root, "v2", req); }, root / "v2" / "5");
      req.on_error = "skip";
      CHECK(open_folder(root, "v2", req)->classes() == Strings{"n01440764", "n01484850"});
    }
    SECTION("bad class lists name the file") {
      write_text(root / "three.txt", "0 n01440764 extra\n");
      req.class_list = root / "three.txt";
      CHECK_THAT(data_error([&] { open_folder(root, "v2", req); }, root / "three.txt"),
                 Catch::Contains("line 1"));
      write_text(root / "twice.txt", "0 n01440764\n1 n01440764\n");
      req.class_list = root / "twice.txt";
      CHECK_THAT(data_error([&] { open_folder(root, "v2", req); }, root / "twice.txt"),
                 Catch::Contains("n01440764"));
      req.class_list = root / "absent.txt";
      data_error([&] { open_folder(root, "v2", req); }, root / "absent.txt");
    }
  }

  SECTION("train_classes restricts and relabels") {
    const fs::path root = temp_dir("folder-train-classes");
    put_png(root / "test" / "cat" / "1.png", 1);
    put_png(root / "test" / "dog" / "1.png", 2);
    put_png(root / "test" / "fish" / "1.png", 3);
    fs::create_directories(root / "test" / "zebra");  // empty, but dropped before scanning
    SourceRequest req;
    req.train_classes = {"dog", "bird", "cat"};
    auto s = open_folder(root, "test", req);
    CHECK(s->classes() == req.train_classes);
    CHECK(keys_of(*s) == Strings{"cat/1", "dog/1"});
    CHECK(labels_of(*s) == Labels{2, 0});
    CHECK_THAT(s->describe(), Catch::Contains("2 classes outside train_classes"));

    req.train_classes = {"car", "truck"};
    const std::string msg = error_of([&] { open_folder(root, "test", req); });
    CHECK_THAT(msg, Catch::Contains("shares no class"));
    CHECK_THAT(msg, Catch::Contains("cat"));
    CHECK_THAT(msg, Catch::Contains("truck"));
  }
}
