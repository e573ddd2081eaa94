#include "fuzz_data_target.h"

#include "data_source.h"
#include "fuzz_support.h"
#include "idx_file.h"
#include "image.h"
#include "image_decode.h"
#include "sources/cifar_source.h"

#include <mdlab/error.h>

#include <algorithm>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <stdexcept>
#include <string>

namespace mdlab::fuzz {
namespace {

namespace fs = std::filesystem;

void write_file(const fs::path& file, std::string_view bytes) {
  std::ofstream out(file, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

// Sums bytes so that the sanitizers see every one of them read.
uint64_t touch(const uint8_t* data, size_t size) {
  uint64_t sum = 0;
  for (size_t i = 0; i < size; ++i) sum += data[i];
  return sum;
}

volatile uint64_t sink = 0;

}  // namespace

void run_idx_input(std::string_view input) {
  static const ScratchDir scratch("idx");
  const fs::path& dir = scratch.path;
  const fs::path file = dir / "input-idx";
  write_file(file, input);
  refused_or_ok([&] {
    const IdxArray a = read_idx(file);
    sink = sink + touch(a.data.data_ptr<uint8_t>(), static_cast<size_t>(a.data.numel()));
  });
  // The split reader's rank and count checks: the same bytes as images and labels.
  write_file(dir / "train-images-idx3-ubyte", input);
  write_file(dir / "train-labels-idx1-ubyte", input);
  refused_or_ok([&] { read_idx_split(dir, "train"); });
}

void run_cifar_input(std::string_view input) {
  static const ScratchDir scratch("cifar");
  const fs::path& dir = scratch.path;
  for (const char* name :
       {"test.bin", "test_batch.bin", "fine_label_names.txt", "batches.meta.txt"})
    fs::remove(dir / name);
  const bool cifar100 = !input.empty() && (static_cast<unsigned char>(input[0]) & 1) != 0;
  const size_t cut = input.find("\n--\n");
  const std::string_view batch = input.substr(0, cut);
  write_file(dir / (cifar100 ? "test.bin" : "test_batch.bin"), batch);
  if (cut != std::string_view::npos) {
    write_file(dir / (cifar100 ? "fine_label_names.txt" : "batches.meta.txt"),
               input.substr(cut + 4));
  }
  refused_or_ok([&] {
    SourceRequest request;
    request.format = "cifar";
    request.root = dir;
    request.split = "test";
    auto source = open_cifar_source(request);
    ImageU8 image;
    for (int64_t i = 0; i < std::min<int64_t>(source->size(), 64); ++i) {
      source->load(i, image);
      sink = sink + touch(image.data.data(), image.data.size()) +
             static_cast<uint64_t>(source->label(i)) + source->key(i).size();
    }
    for (const auto& name : source->classes()) sink = sink + name.size();
  });
}

void run_image_input(std::string_view input) {
  const auto* data = reinterpret_cast<const uint8_t*>(input.data());
  ImageU8 image;
  for (const DecodeHint hint : {DecodeHint{}, DecodeHint{16, 16}}) {
    refused_or_ok([&] {
      decode_image_memory(data, input.size(), "fuzz-input", image, hint);
      if (image.data.size() != static_cast<size_t>(image.height) * image.width * image.channels) {
        throw std::logic_error("decoded buffer size disagrees with the image's shape");
      }
      sink = sink + touch(image.data.data(), image.data.size());
    });
  }
}

}  // namespace mdlab::fuzz
