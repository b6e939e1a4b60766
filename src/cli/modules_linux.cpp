#include <dlfcn.h>
#include <fmt/format.h>
#include <limits.h>
#include <unistd.h>

#include <filesystem>

#include "cli/modules.h"

namespace liaison::cli {
namespace {

// What every entry table begins with (modules.h).
struct VersionedTable {
  const char* version;
};

}  // namespace

std::expected<std::string, std::string> own_executable() {
  char executable[PATH_MAX];
  const ssize_t length = ::readlink("/proc/self/exe", executable, sizeof(executable) - 1);
  if (length <= 0) {
    return std::unexpected("cannot read /proc/self/exe");
  }
  return std::string(executable, static_cast<size_t>(length));
}

std::string module_path(const std::string& executable, std::string_view file) {
  const std::filesystem::path bin = std::filesystem::path(executable).parent_path();
  return (bin / LIAISON_MODULE_DIR_FROM_BIN / file).lexically_normal().string();
}

namespace internal {

std::expected<const void*, std::string> load_module(std::string_view file, const char* symbol) {
  auto executable = own_executable();
  if (!executable) {
    return std::unexpected(executable.error() + " to find liaison's modules");
  }
  const std::string path = module_path(*executable, file);
  void* handle = ::dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (handle == nullptr) {
    return std::unexpected(fmt::format("cannot load {}: {}", path, ::dlerror()));
  }
  using EntryFunction = const void* (*)();
  auto entry = reinterpret_cast<EntryFunction>(::dlsym(handle, symbol));
  if (entry == nullptr) {
    return std::unexpected(fmt::format("{} is not liaison's module (no {})", path, symbol));
  }
  const void* table = entry();
  const char* version = static_cast<const VersionedTable*>(table)->version;
  if (std::string_view(version) != LIAISON_VERSION) {
    return std::unexpected(
        fmt::format("{} is of liaison {}, this binary of liaison {}: reinstall liaison", path,
                    version, LIAISON_VERSION));
  }
  return table;
}

}  // namespace internal

std::expected<const DaemonModule*, std::string> load_daemon_module() {
  return load_module<DaemonModule>("liaison-daemon.so", "liaison_daemon_module");
}

std::expected<const AgentModule*, std::string> load_agent_module() {
  return load_module<AgentModule>("liaison-agent.so", "liaison_agent_module");
}

}  // namespace liaison::cli
