#include "plugin_registry.h"

#include <mdlab/error.h>
#include <mdlab/plugin_checks.h>
#include <mdlab/version.h>

#include <boost/dll/shared_library.hpp>
#include <fmt/format.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <elf.h>
#include <fstream>
#include <mutex>
#include <unistd.h>

namespace fs = std::filesystem;

namespace mdlab {
namespace {

constexpr std::string_view kPrefix = "mdlab_plugin_";
constexpr std::string_view kSuffix = ".so";

bool is_candidate(const fs::path& file) {
  const std::string name = file.filename().string();
  return name.size() > kPrefix.size() + kSuffix.size() && name.starts_with(kPrefix) &&
         name.ends_with(kSuffix);
}

// Libraries live until exit, whatever happens to the registry that loaded them.
void keep_loaded_forever(std::shared_ptr<boost::dll::shared_library> library) {
  static std::mutex mutex;
  static auto* keep = new std::vector<std::shared_ptr<boost::dll::shared_library>>();
  std::lock_guard lock(mutex);
  keep->push_back(std::move(library));
}

// Why `file` cannot be a loadable shared object of this machine, or "" when its ELF headers
// are sound. Checked before dlopen: a file cut short (an interrupted copy) would otherwise be
// mapped, and the first touch of a segment past its end kills the process with SIGBUS.
std::string elf_problem(const fs::path& file) {
  std::error_code ec;
  const auto size = fs::file_size(file, ec);
  if (ec) return "cannot read its size: " + ec.message();
  std::ifstream in(file, std::ios::binary);
  Elf64_Ehdr header{};
  in.read(reinterpret_cast<char*>(&header), sizeof header);
  if (in.gcount() < 4) return "file is too short to be a shared object";
  if (std::memcmp(header.e_ident, ELFMAG, SELFMAG) != 0) return "file is not an ELF shared object";
  if (static_cast<size_t>(in.gcount()) < sizeof header)
    return fmt::format("truncated ELF file ({} bytes, shorter than its header)", size);
  if (header.e_ident[EI_CLASS] != ELFCLASS64 || header.e_ident[EI_DATA] != ELFDATA2LSB)
    return "not a 64-bit little-endian ELF file";
#if defined(__x86_64__)
  constexpr uint16_t kMachine = EM_X86_64;
#elif defined(__aarch64__)
  constexpr uint16_t kMachine = EM_AARCH64;
#else
  constexpr uint16_t kMachine = 0;
#endif
  if (kMachine != 0 && header.e_machine != kMachine)
    return fmt::format("built for another machine (ELF e_machine {}, this one {})",
                       header.e_machine, kMachine);
  if (header.e_type != ET_DYN) return "an ELF file but not a shared object";
  auto past_end = [&](uint64_t offset, uint64_t bytes) {
    return offset > size || bytes > size - offset;
  };
  if (header.e_phentsize != sizeof(Elf64_Phdr) ||
      past_end(header.e_phoff, uint64_t{header.e_phnum} * sizeof(Elf64_Phdr)))
    return fmt::format(
        "truncated or damaged ELF file ({} bytes): the program headers lie past "
        "its end",
        size);
  if (header.e_shnum != 0 &&
      past_end(header.e_shoff, uint64_t{header.e_shnum} * header.e_shentsize))
    return fmt::format(
        "truncated ELF file ({} bytes): the section headers lie past its end "
        "(an interrupted copy? copy or rebuild it again)",
        size);
  in.seekg(static_cast<std::streamoff>(header.e_phoff));
  for (uint16_t i = 0; i < header.e_phnum; ++i) {
    Elf64_Phdr segment{};
    in.read(reinterpret_cast<char*>(&segment), sizeof segment);
    if (!in) return fmt::format("truncated ELF file ({} bytes)", size);
    if (segment.p_type == PT_LOAD && past_end(segment.p_offset, segment.p_filesz))
      return fmt::format(
          "truncated ELF file ({} bytes; a loadable segment ends at byte {}): an "
          "interrupted copy? copy or rebuild it again",
          size, segment.p_offset + segment.p_filesz);
  }
  return "";
}

}  // namespace

fs::path executable_dir() {
  std::error_code ec;
  fs::path exe = fs::read_symlink("/proc/self/exe", ec);
  return ec ? fs::path() : exe.parent_path();
}

std::vector<fs::path> default_plugin_dirs(const std::vector<fs::path>& extra) {
  std::vector<fs::path> dirs;
  fs::path exe_dir = executable_dir();
  if (!exe_dir.empty()) dirs.push_back(exe_dir.parent_path() / "lib" / "mdlab" / "plugins");
  if (const char* env = std::getenv("MDLAB_PLUGIN_PATH")) {
    std::string_view rest = env;
    while (!rest.empty()) {
      auto colon = rest.find(':');
      auto item = rest.substr(0, colon);
      if (!item.empty()) dirs.emplace_back(std::string(item));
      if (colon == std::string_view::npos) break;
      rest.remove_prefix(colon + 1);
    }
  }
  dirs.insert(dirs.end(), extra.begin(), extra.end());
  return dirs;
}

PluginRegistry::PluginRegistry() = default;
PluginRegistry::~PluginRegistry() = default;
PluginRegistry::PluginRegistry(PluginRegistry&&) noexcept = default;
PluginRegistry& PluginRegistry::operator=(PluginRegistry&&) noexcept = default;

void PluginRegistry::refuse(const fs::path& file, std::string message) {
  problems_.push_back({file, std::move(message)});
}

void PluginRegistry::load_directories(const std::vector<fs::path>& dirs) {
  for (const auto& dir : dirs) {
    std::error_code ec;
    if (!fs::is_directory(dir, ec)) continue;
    std::vector<fs::path> files;
    for (const auto& entry : fs::directory_iterator(dir, ec))
      if (is_candidate(entry.path())) files.push_back(entry.path());
    // Directory order is arbitrary; sorting makes "the first one found" reproducible.
    std::sort(files.begin(), files.end());
    for (const auto& f : files) load_file(f);
  }
}

bool PluginRegistry::load_file(const fs::path& file) {
  std::error_code ec;
  fs::path canonical = fs::weakly_canonical(file, ec);
  if (ec) canonical = file;
  if (std::find(seen_files_.begin(), seen_files_.end(), canonical) != seen_files_.end())
    return true;  // the same file reached through two search entries
  seen_files_.push_back(canonical);

  if (std::string why = elf_problem(file); !why.empty()) {
    refuse(file, fmt::format("cannot load {}: {}", file.string(), why));
    return false;
  }
  auto library = std::make_shared<boost::dll::shared_library>();
  try {
    // RTLD_NOW: unresolved symbols surface here, as a refusal, not later as a crash.
    library->load(file, boost::dll::load_mode::rtld_now | boost::dll::load_mode::rtld_local);
  } catch (const std::exception& e) {
    refuse(file, fmt::format("cannot load {}: {}", file.string(), e.what()));
    return false;
  }

  // 1. The C handshake, before any C++ symbol of the plugin is touched.
  if (!library->has(MDLAB_PLUGIN_INFO_SYMBOL)) {
    refuse(file, fmt::format("{} is not an mdlab plugin: it does not export the handshake "
                             "symbol '{}' (was it built with MDLAB_PLUGIN(...)?)",
                             file.string(), MDLAB_PLUGIN_INFO_SYMBOL));
    keep_loaded_forever(library);  // its static initialisers ran; never unload
    return false;
  }
  auto get_info = library->get<const mdlab_plugin_info*()>(MDLAB_PLUGIN_INFO_SYMBOL);
  const mdlab_plugin_info* info = get_info();
  keep_loaded_forever(library);
  if (info == nullptr) {
    refuse(file, fmt::format("{}: handshake '{}' returned no information", file.string(),
                             MDLAB_PLUGIN_INFO_SYMBOL));
    return false;
  }
  if (std::string why = handshake_problem(*info); !why.empty()) {
    refuse(file, fmt::format("{}: {}", file.string(), why));
    return false;
  }
  const std::string name = info->name;
  const std::string torch_version = info->torch_version;
  if (const LoadedPlugin* first = find_any(name)) {
    refuse(file, fmt::format("duplicate plugin name '{}': {} and {} both provide it; keeping "
                             "the first, refusing the second",
                             name, first->file.string(), file.string()));
    return false;
  }

  // 2. Only now the C++ side: the factory alias.
  if (!library->has(MDLAB_PLUGIN_FACTORY_ALIAS)) {
    refuse(file, fmt::format("{}: plugin '{}' passed the handshake but lacks the factory alias "
                             "'{}'",
                             file.string(), name, MDLAB_PLUGIN_FACTORY_ALIAS));
    return false;
  }
  const PluginFactory* factory =
      library->get_alias<const PluginFactory* const>(MDLAB_PLUGIN_FACTORY_ALIAS);
  if (factory == nullptr) {
    refuse(file, fmt::format("{}: plugin '{}' has a null factory", file.string(), name));
    return false;
  }

  auto plugin = std::make_unique<LoadedPlugin>();
  plugin->file = file;
  plugin->kind = info->kind;
  plugin->name = name;
  plugin->version = info->version ? info->version : "";
  plugin->summary = info->summary ? info->summary : "";
  plugin->torch_version = torch_version;
  plugin->compiler = info->compiler ? info->compiler : "";
  plugin->abi_major = info->abi_major;
  plugin->api_minor = info->api_minor;
  plugin->factory = factory;
  plugin->library = std::move(library);
  plugins_.push_back(std::move(plugin));
  return true;
}

std::vector<const LoadedPlugin*> PluginRegistry::all() const {
  std::vector<const LoadedPlugin*> out;
  for (const auto& p : plugins_) out.push_back(p.get());
  std::sort(out.begin(), out.end(), [](const LoadedPlugin* a, const LoadedPlugin* b) {
    return std::tie(a->kind, a->name) < std::tie(b->kind, b->name);
  });
  return out;
}

std::vector<const LoadedPlugin*> PluginRegistry::of_kind(uint32_t kind) const {
  std::vector<const LoadedPlugin*> out;
  for (const auto* p : all())
    if (p->kind == kind) out.push_back(p);
  return out;
}

const LoadedPlugin* PluginRegistry::find(uint32_t kind, std::string_view name) const {
  for (const auto& p : plugins_)
    if (p->kind == kind && p->name == name) return p.get();
  return nullptr;
}

const LoadedPlugin* PluginRegistry::find_any(std::string_view name) const {
  for (const auto& p : plugins_)
    if (p->name == name) return p.get();
  return nullptr;
}

const LoadedPlugin& PluginRegistry::require(uint32_t kind, std::string_view name) const {
  if (const LoadedPlugin* p = find(kind, name)) return *p;
  std::vector<std::string> names;
  for (const auto* p : of_kind(kind)) names.push_back(p->name);
  std::string available;
  for (const auto& n : names) available += (available.empty() ? "" : ", ") + n;
  MDLAB_THROW("no {} plugin named '{}' (available: {})", plugin_kind_name(kind), name,
              available.empty() ? "none" : available);
}

std::shared_ptr<Backbone> PluginRegistry::create_backbone(std::string_view name,
                                                          const Options& options,
                                                          Context& context) const {
  const auto& p = require(MDLAB_PLUGIN_BACKBONE, name);
  return static_cast<const BackboneFactory*>(p.factory)->create(options, context);
}

Options PluginRegistry::complete_options(uint32_t kind, std::string_view name,
                                         const Options& given) const {
  const auto& p = require(kind, name);
  return mdlab::complete_options(p.factory->options_schema(), given,
                                 fmt::format("{} '{}'", plugin_kind_name(kind), name));
}

std::shared_ptr<Method> PluginRegistry::create_method(std::string_view name, const Options& options,
                                                      Context& context) const {
  const auto& p = require(MDLAB_PLUGIN_METHOD, name);
  return static_cast<const MethodFactory*>(p.factory)->create(options, context);
}

std::shared_ptr<Generator> PluginRegistry::create_generator(std::string_view name,
                                                            const Options& options,
                                                            Context& context) const {
  const auto& p = require(MDLAB_PLUGIN_GENERATOR, name);
  return static_cast<const GeneratorFactory*>(p.factory)->create(options, context);
}

std::shared_ptr<Evaluator> PluginRegistry::create_evaluator(std::string_view name,
                                                            const Options& options,
                                                            Context& context) const {
  const auto& p = require(MDLAB_PLUGIN_EVALUATOR, name);
  return static_cast<const EvaluatorFactory*>(p.factory)->create(options, context);
}

}  // namespace mdlab
