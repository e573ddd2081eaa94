#include <mdlab/error.h>
#include <mdlab/testing/test_context.h>

namespace mdlab::testing {

namespace {

// Tests have no terminal line to update.
struct SilentProgress final : ProgressReporter {
  void begin(std::string_view, int64_t) override {}
  void update(int64_t, std::string_view) override {}
  void end() override {}
};

}  // namespace

TestContext::TestContext(uint64_t seed, std::function<std::shared_ptr<Backbone>()> make_backbone)
    : seed_(seed),
      make_backbone_(std::move(make_backbone)),
      progress_(std::make_unique<SilentProgress>()),
      dir_(std::filesystem::temp_directory_path()) {}

TestContext::~TestContext() = default;

c10::Device TestContext::device() const {
  return c10::Device(c10::kCPU);
}

uint64_t TestContext::seed() const {
  return seed_;
}

at::Generator TestContext::generator(std::string_view stream) const {
  return make_cpu_generator(derive_seed(seed_, stream));
}

void TestContext::log(LogLevel level, std::string_view message) {
  if (level >= LogLevel::Warning) warnings_.emplace_back(message);
}

ProgressReporter& TestContext::progress() {
  return *progress_;
}

const std::filesystem::path& TestContext::run_dir() const {
  return dir_;
}

void TestContext::metric(std::string_view name, int64_t step, double value) {
  auto it = metrics_.find(name);
  if (it == metrics_.end()) it = metrics_.emplace(std::string(name), decltype(it->second){}).first;
  it->second.emplace_back(step, value);
}

Collectives& TestContext::collectives() {
  return collectives_ != nullptr ? *collectives_ : local_collectives();
}

std::shared_ptr<Backbone> TestContext::create_backbone() {
  return make_backbone_ ? make_backbone_() : Context::create_backbone();
}

}  // namespace mdlab::testing
